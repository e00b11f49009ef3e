/*
 * format.c: the byte layout of the store's file (docs/FORMAT.md): header and trailer codecs,
 * placement arithmetic and the structural checks recovery relies on.
 *
 * Nothing here touches a file. Decoders take bytes that came from disk and trust none of
 * them: every length is checked against the space it must fit in before any offset is
 * formed, and arithmetic that could overflow is checked. The hash and checksum themselves
 * are base/hash.c's.
 */
#include "store/store.h"

#include <string.h>

static const uint8_t header_magic[8] = {0x89, 'K', 'E', 'E', 'L', '\r', '\n', 0x1a};

void keel__header_encode(const keel_header *h, uint8_t out[KEEL_HEADER_SIZE]) {
    memset(out, 0, KEEL_HEADER_SIZE);
    memcpy(out, header_magic, 8);
    keel__st16(out + 8, h->major);
    keel__st16(out + 10, h->minor);
    out[12] = h->align_log2;
    out[13] = h->kind;
    keel__st32(out + 16, h->file_tag);
    keel__st64(out + 24, h->created);
    keel__st32(out + 60, keel_crc32c(0, out, 60));
}

keel_status keel__header_decode(const uint8_t in[KEEL_HEADER_SIZE], keel_header *h) {
    if (memcmp(in, header_magic, 8) != 0)
        return keel__fail(KEEL_EFORMAT, "bad magic number: not a keel store");
    uint32_t want = keel__ld32(in + 60), got = keel_crc32c(0, in, 60);
    if (want != got)
        return keel__fail(KEEL_ECORRUPT, "header checksum mismatch (stored %08x, computed %08x)",
                          want, got);
    h->major = keel__ld16(in + 8);
    h->minor = keel__ld16(in + 10);
    h->align_log2 = in[12];
    h->kind = in[13];
    h->file_tag = keel__ld32(in + 16);
    h->created = keel__ld64(in + 24);
    if (h->major > KEEL_FORMAT_MAJOR)
        return keel__fail(KEEL_EVERSION, "format version %u.%u is newer than this library's %u.%u",
                          h->major, h->minor, KEEL_FORMAT_MAJOR, KEEL_FORMAT_MINOR);
    if (h->major < 1)
        return keel__fail(KEEL_ECORRUPT, "header: format major version 0 is invalid");
    if (h->align_log2 > KEEL_MAX_ALIGN_LOG2)
        return keel__fail(KEEL_ECORRUPT, "header: alignment 2^%u is out of range", h->align_log2);
    if (h->file_tag == 0) return keel__fail(KEEL_ECORRUPT, "header: file tag is zero");
    if (h->kind > KEEL_FILE_KIND_MAX)
        return keel__fail(KEEL_EVERSION, "file kind %u is newer than this library knows",
                          h->kind);
    return KEEL_OK;
}

void keel__trailer_decode(const uint8_t in[KEEL_TRAILER_SIZE], keel_trailer *t) {
    t->key_hash = keel__ld64(in);
    t->prev_end = keel__ld64(in + 8);
    t->value_len = keel__ld64(in + 16);
    t->key_len = keel__ld32(in + 24);
    t->flags = keel__ld16(in + 28);
    t->magic = keel__ld16(in + 30);
    t->file_tag = keel__ld32(in + 32);
    t->crc = keel__ld32(in + 36);
}

uint32_t keel__entry_crc(const void *value, uint64_t value_len, const void *key,
                         uint32_t key_len, const uint8_t trailer[KEEL_TRAILER_SIZE]) {
    uint32_t c = keel_crc32c(0, value, (size_t)value_len);
    c = keel_crc32c(c, key, key_len);
    return keel_crc32c(c, trailer, 36);
}

void keel__trailer_encode(keel_trailer *t, const void *value, const void *key,
                          uint8_t out[KEEL_TRAILER_SIZE]) {
    keel__st64(out, t->key_hash);
    keel__st64(out + 8, t->prev_end);
    keel__st64(out + 16, t->value_len);
    keel__st32(out + 24, t->key_len);
    keel__st16(out + 28, t->flags);
    keel__st16(out + 30, KEEL_TRAILER_MAGIC);
    keel__st32(out + 32, t->file_tag);
    t->magic = KEEL_TRAILER_MAGIC;
    if (value) t->crc = keel__entry_crc(value, t->value_len, key, t->key_len, out);
    /* else the caller computed t->crc incrementally (streams, compaction) */
    keel__st32(out + 36, t->crc);
}

bool keel__place(uint64_t prev_end, uint64_t value_len, uint32_t key_len, uint32_t align,
                 keel_place *out) {
    const uint64_t limit = UINT64_C(1) << 62;   /* far beyond any file; keeps sums safe */
    if (prev_end > limit || value_len > limit) return false;
    out->value_start = value_len > 0 ? keel__round_up(prev_end, align) : prev_end;
    out->key_start = out->value_start + value_len;
    out->trailer_start = keel__round_up(out->key_start + key_len, 8);
    out->end = out->trailer_start + KEEL_TRAILER_SIZE;
    return out->end <= limit;
}

bool keel__trailer_valid(const keel_trailer *t, uint64_t end, uint32_t align, uint32_t file_tag,
                         keel_place *place_out) {
    if (t->magic != KEEL_TRAILER_MAGIC || t->file_tag != file_tag) return false;
    if (t->flags & ~KEEL_FLAGS_KNOWN) return false;
    if (t->key_len > KEEL_MAX_KEY) return false;
    if ((t->flags & KEEL_FLAG_TOMBSTONE) && t->value_len != 0) return false;
    if (t->prev_end < KEEL_HEADER_SIZE || (t->prev_end & 7) || t->prev_end >= end) return false;
    if (t->value_len > end) return false;
    keel_place p;
    if (!keel__place(t->prev_end, t->value_len, t->key_len, align, &p)) return false;
    if (p.end != end) return false;
    if (place_out) *place_out = p;
    return true;
}
