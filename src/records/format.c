/*
 * records_format.c: the byte-level pieces of the Riegeli/records container.
 *
 * HighwayHash-64 with Riegeli's key, canonical varints, the 24-byte block header and the
 * 40-byte chunk header codecs, the fixed 64-byte signature, simple-chunk decoding with the
 * three compressions (none, zstd, Brotli; each compressed block is prefixed with its
 * decompressed size as a varint64), and the few protobuf messages of ArrayRecord's footer.
 *
 * Everything read here comes from disk and is untrusted: lengths are compared with the
 * bytes remaining before any pointer is formed, integers are read with explicit
 * little-endian loads, and a decoder's allocation never exceeds what the (hash-checked)
 * header and the codec's own frame both promise.
 */
#include "records/records.h"

#include <brotli/decode.h>
#include <brotli/encode.h>
#include <highwayhash/c_bindings.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

/* "Riegeli/records\n" as two little-endian words, twice. */
static const uint64_t rec_key[4] = {
    UINT64_C(0x2f696c6567656952), UINT64_C(0x0a7364726f636572),
    UINT64_C(0x2f696c6567656952), UINT64_C(0x0a7364726f636572),
};

uint64_t keel__rec_hash(const void *p, size_t n) {
    static const char empty[1] = {0};
    return HighwayHash64(rec_key, n ? (const char *)p : empty, (uint64_t)n);
}

uint64_t keel_rec_hash(const void *data, size_t len) {
    return keel__rec_hash(data, data ? len : 0);
}

bool keel__rec_get_varint(const uint8_t **pp, const uint8_t *end, uint64_t *v) {
    const uint8_t *p = *pp;
    uint64_t x = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (p >= end) return false;
        uint8_t b = *p++;
        if (shift == 63 && (b & 0x7e)) return false;     /* overflow past 64 bits */
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *pp = p;
            *v = x;
            return true;
        }
    }
    return false;
}

void keel__rec_block_header_encode(uint64_t prev, uint64_t next, uint8_t out[REC_BH]) {
    keel__rec_st64(out + 8, prev);
    keel__rec_st64(out + 16, next);
    keel__rec_st64(out, keel__rec_hash(out + 8, 16));
}

bool keel__rec_block_header_decode(const uint8_t in[REC_BH], uint64_t *prev, uint64_t *next) {
    if (keel__ld64(in) != keel__rec_hash(in + 8, 16)) return false;
    uint64_t p = keel__ld64(in + 8), n = keel__ld64(in + 16);
    if (p % REC_B >= REC_USABLE || n == 0 || (n - 1) % REC_B < REC_BH) return false;
    *prev = p;
    *next = n;
    return true;
}

void keel__rec_chunk_header_encode(rec_chunk_header *h, uint8_t out[REC_CH]) {
    keel__rec_st64(out + 8, h->data_size);
    keel__rec_st64(out + 16, h->data_hash);
    keel__rec_st64(out + 24, (h->num_records << 8) | h->type);
    keel__rec_st64(out + 32, h->decoded_size);
    h->header_hash = keel__rec_hash(out + 8, 32);
    keel__rec_st64(out, h->header_hash);
}

bool keel__rec_chunk_header_decode(const uint8_t in[REC_CH], rec_chunk_header *h) {
    h->header_hash = keel__ld64(in);
    h->data_size = keel__ld64(in + 8);
    h->data_hash = keel__ld64(in + 16);
    uint64_t tn = keel__ld64(in + 24);
    h->type = (uint8_t)tn;
    h->num_records = tn >> 8;
    h->decoded_size = keel__ld64(in + 32);
    return h->header_hash == keel__rec_hash(in + 8, 32);
}

/* Block header {prev 0, next 64} then the 's' chunk header with empty data. Verified
 * byte for byte against files written by array_record (tests/c/test_records.c). */
const uint8_t keel__rec_signature[REC_SIG_SIZE] = {
    0x83, 0xaf, 0x70, 0xd1, 0x0d, 0x88, 0x4a, 0x3f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x91, 0xba, 0xc2, 0x3c, 0x92, 0x87,
    0xe1, 0xa9, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xe1, 0x9f, 0x13, 0xc0, 0xe9,
    0xb1, 0xc3, 0x72, 0x73, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00,
};

/* ---- buffers and chunks ---------------------------------------------------------------- */

keel_status keel__rec_grow(uint8_t **buf, size_t *cap, size_t need) {
    if (need <= *cap) return KEEL_OK;
    size_t n = *cap ? *cap : 4096;
    while (n < need) {
        if (n > SIZE_MAX / 2) { n = need; break; }
        n *= 2;
    }
    uint8_t *p = realloc(*buf, n);
    if (!p) return keel__fail(KEEL_ENOMEM, "allocating %zu bytes", n);
    *buf = p;
    *cap = n;
    return KEEL_OK;
}

keel_rec_chunk *keel__rec_chunk_new(void) {
    keel_rec_chunk *c = calloc(1, sizeof *c);
    if (c) atomic_init(&c->refs, 1);
    return c;
}

keel_status keel__rec_chunk_reserve_raw(keel_rec_chunk *c, size_t n) {
    return keel__rec_grow(&c->raw, &c->raw_cap, n ? n : 1);
}

void keel_rec_chunk_retain(keel_rec_chunk *c) {
    if (c) atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

void keel_rec_chunk_release(keel_rec_chunk *c) {
    if (!c) return;
    if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1) return;
    free(c->raw);
    free(c->dec);
    free(c->offs);
    free(c);
}

/* Decompress one block whose decompressed size must lie in [min, max] (bounds the
 * hash-checked chunk header gives: what corrupt input can make us allocate). */
static keel_status decompress_block(int comp, const uint8_t *p, size_t n, uint8_t **buf,
                                    size_t *cap, uint64_t *len_out, uint64_t begin,
                                    const char *what, uint64_t min, uint64_t max) {
    const uint8_t *q = p, *end = p + n;
    uint64_t dlen;
    if (!keel__rec_get_varint(&q, end, &dlen))
        return keel__fail(KEEL_ECORRUPT, "chunk at offset %llu: bad %s size varint",
                          (unsigned long long)begin, what);
    size_t clen = (size_t)(end - q);
    if (dlen < min || dlen > max || dlen > SIZE_MAX / 2 ||
        (comp == REC_COMP_ZSTD && ZSTD_getFrameContentSize(q, clen) != ZSTD_CONTENTSIZE_UNKNOWN &&
         ZSTD_getFrameContentSize(q, clen) != dlen))
        return keel__fail(KEEL_ECORRUPT, "chunk at offset %llu: implausible %s size %llu",
                          (unsigned long long)begin, what, (unsigned long long)dlen);
    keel_status st = keel__rec_grow(buf, cap, dlen ? (size_t)dlen : 1);
    if (st) return st;
    if (comp == REC_COMP_ZSTD) {
        size_t r = ZSTD_decompress(*buf, (size_t)dlen, q, clen);
        if (ZSTD_isError(r) || r != dlen)
            return keel__fail(KEEL_ECORRUPT, "chunk at offset %llu: zstd %s: %s",
                              (unsigned long long)begin, what,
                              ZSTD_isError(r) ? ZSTD_getErrorName(r) : "size mismatch");
    } else {
        size_t out = (size_t)dlen;
        if (BrotliDecoderDecompress(clen, q, &out, *buf) != BROTLI_DECODER_RESULT_SUCCESS ||
            out != dlen)
            return keel__fail(KEEL_ECORRUPT, "chunk at offset %llu: brotli %s does not decode",
                              (unsigned long long)begin, what);
    }
    *len_out = dlen;
    return KEEL_OK;
}

keel_status keel__rec_decode_simple(keel_rec_chunk *c, const rec_chunk_header *h,
                                    uint64_t begin) {
    const uint8_t *p = c->raw, *end = c->raw + h->data_size;
    unsigned long long b = (unsigned long long)begin;
    if (h->data_size < 1) return keel__fail(KEEL_ECORRUPT, "chunk at offset %llu: empty", b);
    int comp = *p++;
    uint64_t sizes_size;
    if (!keel__rec_get_varint(&p, end, &sizes_size) || sizes_size > (uint64_t)(end - p))
        return keel__fail(KEEL_ECORRUPT, "chunk at offset %llu: bad sizes length", b);
    if (h->num_records > (uint64_t)(SIZE_MAX / sizeof(uint64_t)) - 1)
        return keel__fail(KEEL_ECORRUPT, "chunk at offset %llu: too many records", b);
    const uint8_t *sizes, *sizes_end, *values;
    uint64_t values_len;
    uint8_t *sbuf = NULL;
    size_t scap = 0;
    keel_status st = KEEL_OK;
    if (comp == REC_COMP_NONE) {
        sizes = p;
        sizes_end = p + sizes_size;
        values = sizes_end;
        values_len = (uint64_t)(end - values);
    } else if (comp == REC_COMP_ZSTD || comp == REC_COMP_BROTLI) {
        uint64_t slen;
        uint64_t smax = h->num_records > UINT64_MAX / 10 ? UINT64_MAX : h->num_records * 10;
        st = decompress_block(comp, p, (size_t)sizes_size, &sbuf, &scap, &slen, begin, "sizes",
                              h->num_records, smax);
        if (st) goto fail;
        sizes = sbuf;
        sizes_end = sbuf + slen;
        p += sizes_size;
        st = decompress_block(comp, p, (size_t)(end - p), &c->dec, &c->dec_cap, &values_len,
                              begin, "values", h->decoded_size, h->decoded_size);
        if (st) goto fail;
        values = c->dec;
    } else {
        return keel__fail(KEEL_EFORMAT, "chunk at offset %llu: compression type 0x%02x%s is not "
                          "supported", b, comp, comp == REC_COMP_SNAPPY ? " (snappy)" : "");
    }
    if (values_len != h->decoded_size) {
        st = keel__fail(KEEL_ECORRUPT, "chunk at offset %llu: values hold %llu bytes, header "
                        "says %llu", b, (unsigned long long)values_len,
                        (unsigned long long)h->decoded_size);
        goto fail;
    }
    /* Each record has at least one size byte: a bound on num_records before allocating. */
    if (h->num_records > (uint64_t)(sizes_end - sizes)) {
        st = keel__fail(KEEL_ECORRUPT, "chunk at offset %llu: %llu records but %llu size bytes",
                        b, (unsigned long long)h->num_records,
                        (unsigned long long)(sizes_end - sizes));
        goto fail;
    }
    size_t need = ((size_t)h->num_records + 1) * sizeof(uint64_t);
    if (need > c->offs_cap) {
        uint64_t *o = realloc(c->offs, need);
        if (!o) { st = keel__fail(KEEL_ENOMEM, "allocating record offsets"); goto fail; }
        c->offs = o;
        c->offs_cap = need;
    }
    uint64_t off = 0;
    const uint8_t *q = sizes;
    c->offs[0] = 0;
    for (uint64_t i = 0; i < h->num_records; i++) {
        uint64_t sz;
        if (!keel__rec_get_varint(&q, sizes_end, &sz) || sz > values_len - off) {
            st = keel__fail(KEEL_ECORRUPT, "chunk at offset %llu: record %llu: bad size", b,
                            (unsigned long long)i);
            goto fail;
        }
        off += sz;
        c->offs[i + 1] = off;
    }
    if (q != sizes_end || off != values_len) {
        st = keel__fail(KEEL_ECORRUPT, "chunk at offset %llu: sizes do not cover the values", b);
        goto fail;
    }
    c->values = values;
    c->n = h->num_records;
    c->begin = begin;
    free(sbuf);
    return KEEL_OK;
fail:
    free(sbuf);
    return st;
}

keel_status keel__rec_compress_block(int comp, int level, const uint8_t *src, size_t n,
                                     uint8_t **buf, size_t *cap, size_t *len) {
    size_t bound = comp == REC_COMP_ZSTD ? ZSTD_compressBound(n)
                                         : BrotliEncoderMaxCompressedSize(n);
    if (bound == 0) bound = n + 1024;
    keel_status st = keel__rec_grow(buf, cap, *len + 10 + bound);
    if (st) return st;
    uint8_t *p = *buf + *len;
    size_t h = keel__rec_put_varint(p, n);
    if (comp == REC_COMP_ZSTD) {
        size_t r = ZSTD_compress(p + h, bound, src, n, level ? level : 3);
        if (ZSTD_isError(r))
            return keel__fail(KEEL_EIO, "zstd compression failed: %s", ZSTD_getErrorName(r));
        *len += h + r;
    } else {
        size_t out = bound;
        if (!BrotliEncoderCompress(level ? level : 6, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_GENERIC,
                                   n, src, &out, p + h))
            return keel__fail(KEEL_EIO, "brotli compression failed");
        *len += h + out;
    }
    return KEEL_OK;
}

/* ---- ArrayRecord's messages (protobuf, only the fields we need) -------------------------- */

static size_t pb_varint_field(uint8_t *out, unsigned field, uint64_t v) {
    out[0] = (uint8_t)(field << 3);
    return 1 + keel__rec_put_varint(out + 1, v);
}

size_t keel__rec_ar_postscript(uint8_t *out, uint64_t footer_offset) {
    size_t n = pb_varint_field(out, 1, footer_offset);
    return n + pb_varint_field(out + n, 2, REC_AR_MAGIC);
}

size_t keel__rec_ar_footer_entry(uint8_t *out, uint64_t chunk_offset, uint64_t decoded,
                                 uint64_t num_records) {
    size_t n = pb_varint_field(out, 1, chunk_offset);
    n += pb_varint_field(out + n, 2, decoded);
    return n + pb_varint_field(out + n, 3, num_records);
}

/* Walk a message; calls back per field. Returns false on malformed input. */
typedef bool (*pb_field_fn)(unsigned field, int wire, uint64_t v, const uint8_t *p, size_t n,
                            void *ctx);
static bool pb_walk(const uint8_t *p, size_t n, pb_field_fn fn, void *ctx) {
    const uint8_t *end = p + n;
    while (p < end) {
        uint64_t key, v = 0;
        if (!keel__rec_get_varint(&p, end, &key)) return false;
        unsigned field = (unsigned)(key >> 3);
        int wire = (int)(key & 7);
        const uint8_t *sub = NULL;
        size_t subn = 0;
        switch (wire) {
        case 0:
            if (!keel__rec_get_varint(&p, end, &v)) return false;
            break;
        case 1:
            if (end - p < 8) return false;
            v = keel__ld64(p);
            p += 8;
            break;
        case 2:
            if (!keel__rec_get_varint(&p, end, &v) || v > (uint64_t)(end - p)) return false;
            sub = p;
            subn = (size_t)v;
            p += v;
            break;
        case 5:
            if (end - p < 4) return false;
            v = keel__ld32(p);
            p += 4;
            break;
        default: return false;
        }
        if (fn && !fn(field, wire, v, sub, subn, ctx)) return false;
    }
    return true;
}

typedef struct { uint64_t off; bool has_off, has_magic; } ps_ctx;
static bool ps_field(unsigned f, int wire, uint64_t v, const uint8_t *p, size_t n, void *vc) {
    (void)p; (void)n;
    ps_ctx *c = vc;
    if (f == 1 && wire == 0) { c->off = v; c->has_off = true; }
    if (f == 2 && wire == 0) c->has_magic = v == REC_AR_MAGIC;
    return true;
}

bool keel__rec_ar_parse_postscript(const uint8_t *p, size_t n, uint64_t *footer_offset) {
    ps_ctx c = {0, false, false};
    if (!pb_walk(p, n, ps_field, &c) || !c.has_off || !c.has_magic) return false;
    *footer_offset = c.off;
    return true;
}

typedef struct { uint64_t group, nrec; bool has_ar; } md_ctx;

/* writer_options is "group_size:N,transpose:false,..."; find group_size. */
static void parse_group(const uint8_t *p, size_t n, uint64_t *group) {
    static const char key[] = "group_size:";
    size_t kl = sizeof key - 1;
    for (size_t i = 0; i + kl <= n; i++) {
        if ((i == 0 || p[i - 1] == ',') && memcmp(p + i, key, kl) == 0) {
            uint64_t g = 0;
            size_t j = i + kl;
            while (j < n && p[j] >= '0' && p[j] <= '9' && g < (UINT64_C(1) << 40))
                g = g * 10 + (uint64_t)(p[j++] - '0');
            if (g) *group = g;
            return;
        }
    }
}

static bool arm_field(unsigned f, int wire, uint64_t v, const uint8_t *p, size_t n, void *vc) {
    md_ctx *c = vc;
    if (f == 3 && wire == 0) c->nrec = v;
    if (f == 4 && wire == 2) parse_group(p, n, &c->group);
    return true;
}

static bool md_field(unsigned f, int wire, uint64_t v, const uint8_t *p, size_t n, void *vc) {
    (void)v;
    md_ctx *c = vc;
    if (f == 1 && wire == 2) {
        c->has_ar = true;
        return pb_walk(p, n, arm_field, c);
    }
    return true;
}

bool keel__rec_ar_parse_metadata(const uint8_t *p, size_t n, uint64_t *group_size,
                                 uint64_t *num_records) {
    md_ctx c = {KEEL_REC_DEFAULT_GROUP_SIZE, 0, false};
    if (!pb_walk(p, n, md_field, &c) || !c.has_ar) return false;
    *group_size = c.group;
    *num_records = c.nrec;
    return true;
}

typedef struct { uint64_t off, dec, nrec; unsigned seen; } fe_ctx;
static bool fe_field(unsigned f, int wire, uint64_t v, const uint8_t *p, size_t n, void *vc) {
    (void)p; (void)n;
    fe_ctx *c = vc;
    if (wire != 0 || f < 1 || f > 3) return true;
    if (f == 1) c->off = v;
    else if (f == 2) c->dec = v;
    else c->nrec = v;
    c->seen |= 1u << f;
    return true;
}

bool keel__rec_ar_parse_footer_entry(const uint8_t *p, size_t n, uint64_t *chunk_offset,
                                     uint64_t *decoded, uint64_t *num_records) {
    fe_ctx c = {0, 0, 0, 0};
    /* chunk_offset and num_records are required; decoded_data_size may be absent (0). */
    if (!pb_walk(p, n, fe_field, &c) || !(c.seen & 2u) || !(c.seen & 8u)) return false;
    *chunk_offset = c.off;
    *decoded = c.dec;
    *num_records = c.nrec;
    return true;
}
