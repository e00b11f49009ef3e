/*
 * simd.c: SIMD R Drive files, read-only: the walk that finds every entry, and the import
 * into a keel store (include/keel_migrate.h; the format is in docs/FORMAT.md).
 *
 * The file has no header, no keys and no index; upstream finds its end by walking the
 * chain of `prev_offset`s backwards from candidate ends, checking structure only, so a tail
 * of zeros can pass for an entry. This walk goes forwards instead, from offset 0, where
 * the first entry must begin: for the entry that begins at tail T it looks for the first
 * metadata whose prev_offset is T and whose CRC-32 matches the payload before it. Invariants:
 *   - every entry returned is complete and its CRC-32 matched: a torn tail (bytes after the
 *     last complete entry, of any content) is reported, never returned;
 *   - a metadata whose prev_offset is T but whose CRC-32 fails, with no matching one
 *     after it, is damage: KEEL_ECORRUPT naming its offset, never silently dropped data;
 *   - offsets are checked against the length before any load (untrusted bytes);
 *   - the source is opened O_RDONLY and mapped PROT_READ: it cannot be modified.
 * Alignment: payloads start after zero pre-pad to 1 (before upstream 0.14), 16 (0.14) or
 * 64 bytes (0.15 on). Unless told, the walk keeps every alignment that explains the
 * entries so far (the CRC covers the payload only, so a wrong pre-pad fails it) and
 * settles on the first entry where they differ.
 *
 * The import keeps, per key hash, the newest entry (the last in file order), skips
 * deletes, and writes the rest in file order with keel_put_batch, straight from the
 * mapping (no copy).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "migrate/migrate.h"
#include "base/base.h"

#include <fcntl.h>
#include <isa-l/crc.h>
#include <stdlib.h>
#include <string.h>

#define META 20u
#define ALIGN_1 1u
#define ALIGN_16 2u
#define ALIGN_64 4u

/* CRC-32 as zlib computes it (ISA-L's gzip CRC is that one). */
static uint32_t simd_crc32(const uint8_t *p, uint64_t n) {
    uint32_t c = 0;
    while (n) {
        uint64_t chunk = n > (1u << 30) ? (1u << 30) : n;
        c = crc32_gzip_refl(c, p, chunk);
        p += chunk;
        n -= chunk;
    }
    return c;
}

static uint64_t prepad(uint64_t t, uint32_t a) { return (a - (t % a)) % a; }

static uint32_t align_of_bit(unsigned bit) { return bit == ALIGN_1 ? 1 : bit == ALIGN_16 ? 16 : 64; }

/* Is there a tombstone at tail t? (byte 0x00, then metadata with prev_offset t) */
static int tombstone_at(const uint8_t *d, uint64_t len, uint64_t t) {
    if (len - t < 1 + META || d[t] != 0) return 0;
    const uint8_t *m = d + t + 1;
    return keel__ld64(m + 8) == t && keel__ld32(m + 16) == simd_crc32(d + t, 1);
}

keel_status keel__simd_walk(const uint8_t *d, uint64_t len, uint32_t alignment,
                            keel_simd_entry **entries, uint64_t *n_out, keel_simd_info *info) {
    unsigned cand;
    switch (alignment) {
    case 0: cand = ALIGN_1 | ALIGN_16 | ALIGN_64; break;
    case 1: cand = ALIGN_1; break;
    case 16: cand = ALIGN_16; break;
    case 64: cand = ALIGN_64; break;
    default: return keel__fail(KEEL_EINVAL, "alignment must be 1, 16, 64 or 0, not %u", alignment);
    }
    keel_simd_entry *v = NULL;
    uint64_t n = 0, cap = 0, t = 0;
    keel_status st = KEEL_OK;
    for (;;) {
        keel_simd_entry e;
        memset(&e, 0, sizeof e);
        uint64_t meta_at = 0;
        if (tombstone_at(d, len, t)) {
            e.tombstone = 1;
            e.offset = t;
            e.value.data = d + t;
            e.value.len = 1;
            meta_at = t + 1;
        } else {
            /* The first metadata after the smallest possible payload whose prev_offset is t
             * and whose CRC-32 matches the payload under a remaining alignment. */
            uint64_t damaged_at = UINT64_MAX;
            unsigned found = 0;
            /* Per alignment: the payload start and the CRC-32 of [start, upto), extended as
             * m grows, so a long run of bytes that look like metadata costs no more than
             * one pass over them. */
            uint64_t start[3], upto[3];
            uint32_t run[3];
            for (unsigned b = 0; b < 3; b++) {
                start[b] = t + prepad(t, align_of_bit(1u << b));
                upto[b] = start[b];
                run[b] = 0;
            }
            for (uint64_t m = t + 1; len >= META && m <= len - META && !found; m++) {
                if (keel__ld64(d + m + 8) != t) continue;
                uint32_t crc = keel__ld32(d + m + 16);
                for (unsigned b = 0; b < 3; b++) {
                    if (!(cand & (1u << b)) || start[b] >= m) continue;
                    run[b] = crc32_gzip_refl(run[b], d + upto[b], m - upto[b]);
                    upto[b] = m;
                    if (run[b] == crc) {
                        found |= 1u << b;
                        meta_at = m;
                    }
                }
                if (!found && damaged_at == UINT64_MAX) damaged_at = m;
            }
            if (!found) {
                if (damaged_at != UINT64_MAX) {
                    st = keel__fail(KEEL_ECORRUPT,
                                    "entry at offset %llu (metadata at %llu): CRC-32 of the "
                                    "payload does not match",
                                    (unsigned long long)t, (unsigned long long)damaged_at);
                    goto fail;
                }
                break;  /* no entry begins at t: the torn tail, if any, starts here */
            }
            /* Alignments that gave the same CRC-valid range all stay candidates; keep the
             * first (smallest pre-pad) range, which they agree on. */
            cand &= found;
            for (unsigned b = 0; b < 3; b++) {
                if (!(found & (1u << b))) continue;
                e.offset = start[b];
                e.value.data = d + start[b];
                e.value.len = (size_t)(meta_at - start[b]);
                break;
            }
        }
        e.key_hash = keel__ld64(d + meta_at);
        e.checksum = keel__ld32(d + meta_at + 16);
        if (n == cap) {
            uint64_t nc = cap ? cap * 2 : 64;
            keel_simd_entry *nv = realloc(v, (size_t)nc * sizeof *v);
            if (!nv) {
                st = keel__fail(KEEL_ENOMEM, "out of memory for %llu entries",
                                (unsigned long long)nc);
                goto fail;
            }
            v = nv;
            cap = nc;
        }
        v[n++] = e;
        t = meta_at + META;
    }
    info->file_size = len;
    info->valid_size = t;
    info->torn_bytes = len - t;
    info->entries = n;
    /* The smallest alignment still possible: when every entry began aligned all agree. */
    info->alignment = n == 0 ? alignment
                             : (cand == (ALIGN_1 | ALIGN_16 | ALIGN_64) && alignment == 0)
                                   ? 0
                                   : align_of_bit(cand & ALIGN_64   ? ALIGN_64
                                                  : cand & ALIGN_16 ? ALIGN_16
                                                                    : ALIGN_1);
    *entries = v;
    *n_out = n;
    return KEEL_OK;
fail:
    free(v);
    return st;
}

struct keel_simd_file {
    int fd;
    uint8_t *map;
    uint64_t len;
    keel_simd_entry *entries;
    keel_simd_info info;
};

keel_status keel_simd_open(const char *path, uint32_t alignment, keel_simd_file **out) {
    if (!path || !out) return keel__fail(KEEL_EINVAL, "keel_simd_open: NULL argument");
    *out = NULL;
    keel_simd_file *f = calloc(1, sizeof *f);
    if (!f) return keel__fail(KEEL_ENOMEM, "out of memory");
    f->fd = -1;
    keel_status st;
    int err = keel__os_open(path, O_RDONLY | O_CLOEXEC, 0, &f->fd);
    if (err) {
        st = keel__fail_errno(err, "cannot open %s", path);
        goto fail;
    }
    if ((st = keel__os_regular(f->fd, path)) != KEEL_OK) goto fail;
    if ((err = keel__os_fsize(f->fd, &f->len)) != 0) {
        st = keel__fail_errno(err, "cannot stat %s", path);
        goto fail;
    }
    if (f->len && (err = keel__os_mmap_ro(f->fd, f->len, (void **)&f->map)) != 0) {
        st = keel__fail_errno(err, "cannot map %s", path);
        goto fail;
    }
    uint64_t n;
    st = keel__simd_walk(f->map, f->len, alignment, &f->entries, &n, &f->info);
    if (st) goto fail;
    *out = f;
    return KEEL_OK;
fail:
    keel_simd_close(f);
    return st;
}

void keel_simd_stat(const keel_simd_file *f, keel_simd_info *out) {
    if (f && out) *out = f->info;
}

keel_status keel_simd_entry_at(const keel_simd_file *f, uint64_t i, keel_simd_entry *out) {
    if (!f || !out) return keel__fail(KEEL_EINVAL, "keel_simd_entry_at: NULL argument");
    if (i >= f->info.entries)
        return keel__fail(KEEL_ERANGE, "entry %llu of %llu", (unsigned long long)i,
                          (unsigned long long)f->info.entries);
    *out = f->entries[i];
    return KEEL_OK;
}

void keel_simd_close(keel_simd_file *f) {
    if (!f) return;
    if (f->map) keel__os_munmap(f->map, f->len);
    if (f->fd >= 0) keel__os_close(f->fd);
    free(f->entries);
    free(f);
}

/* ---- import ---------------------------------------------------------------------------- */

/* Open addressing from a 64-bit hash to an index (UINT64_MAX: empty). */
typedef struct {
    uint64_t *hash;
    uint64_t *val;
    uint64_t mask;
} hmap;

static keel_status hmap_init(hmap *h, uint64_t n) {
    uint64_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    h->hash = malloc((size_t)cap * sizeof *h->hash);
    h->val = malloc((size_t)cap * sizeof *h->val);
    if (!h->hash || !h->val) {
        free(h->hash);
        free(h->val);
        return keel__fail(KEEL_ENOMEM, "out of memory for an index of %llu", (unsigned long long)n);
    }
    memset(h->val, 0xff, (size_t)cap * sizeof *h->val);
    h->mask = cap - 1;
    return KEEL_OK;
}

/* The slot of `hash`: holding it, or empty where it goes. */
static uint64_t hmap_slot(const hmap *h, uint64_t hash) {
    uint64_t i = (hash ^ (hash >> 29)) & h->mask;
    while (h->val[i] != UINT64_MAX && h->hash[i] != hash) i = (i + 1) & h->mask;
    return i;
}

static void hmap_free(hmap *h) {
    free(h->hash);
    free(h->val);
}

#define BATCH_ITEMS 1024
#define BATCH_BYTES ((uint64_t)64 << 20)

keel_status keel_simd_import(const char *src, keel_store *dst, const keel_simd_import_options *o,
                             keel_simd_report *out) {
    if (!src || !dst || !o || (o->nkeys && !o->keys))
        return keel__fail(KEEL_EINVAL, "keel_simd_import: NULL argument");
    keel_simd_report rep;
    memset(&rep, 0, sizeof rep);
    keel_simd_file *f = NULL;
    hmap keys = {0}, newest = {0};
    char (*names)[16 + 1] = NULL;
    uint8_t *namebuf = NULL;
    keel_status st = keel_simd_open(src, o->alignment, &f);
    if (st) return st;
    rep.src = f->info;
    uint64_t n = f->info.entries;
    if ((st = hmap_init(&keys, o->nkeys)) || (st = hmap_init(&newest, n))) goto done;
    for (size_t i = 0; i < o->nkeys; i++) {
        uint64_t h = keel_hash(o->keys[i].data, o->keys[i].len);
        uint64_t s = hmap_slot(&keys, h);
        if (keys.val[s] != UINT64_MAX) {
            const keel_view *a = &o->keys[keys.val[s]], *b = &o->keys[i];
            if (a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0))
                continue;
            st = keel__fail(KEEL_EINVAL,
                            "keys %zu and %zu have the same 64-bit hash %016llx: the file "
                            "cannot tell them apart",
                            (size_t)keys.val[s], i, (unsigned long long)h);
            goto done;
        }
        keys.hash[s] = h;
        keys.val[s] = i;
    }
    for (uint64_t i = 0; i < n; i++) {
        uint64_t s = hmap_slot(&newest, f->entries[i].key_hash);
        if (newest.val[s] != UINT64_MAX) rep.superseded++;
        newest.hash[s] = f->entries[i].key_hash;
        newest.val[s] = i;
    }
    size_t plen = o->unknown_prefix ? o->unknown_prefix_len : 0;
    names = malloc(BATCH_ITEMS * sizeof *names);
    namebuf = malloc(BATCH_ITEMS * (plen + 16) + 1);
    if (!names || !namebuf) {
        st = keel__fail(KEEL_ENOMEM, "out of memory");
        goto done;
    }
    keel_kv batch[BATCH_ITEMS];
    size_t nb = 0;
    uint64_t bbytes = 0;
    for (uint64_t i = 0; i <= n; i++) {
        if (i < n) {
            const keel_simd_entry *e = &f->entries[i];
            if (newest.val[hmap_slot(&newest, e->key_hash)] != i) continue;   /* superseded */
            if (e->tombstone) {
                rep.deleted++;
                continue;
            }
            rep.live++;
            uint64_t ks = hmap_slot(&keys, e->key_hash);
            keel_kv *kv = &batch[nb];
            if (keys.val[ks] != UINT64_MAX) {
                kv->key = o->keys[keys.val[ks]].data;
                kv->key_len = o->keys[keys.val[ks]].len;
                rep.imported++;
            } else {
                rep.unknown++;
                if (o->on_unknown) o->on_unknown(o->ctx, e->key_hash, e->offset, e->value.len);
                if (!o->unknown_prefix) continue;
                uint8_t *k = namebuf + nb * (plen + 16);
                memcpy(k, o->unknown_prefix, plen);
                static const char hex[] = "0123456789abcdef";
                for (int j = 0; j < 16; j++) k[plen + j] = (uint8_t)hex[(e->key_hash >> (60 - 4 * j)) & 15];
                kv->key = k;
                kv->key_len = plen + 16;
                rep.unknown_kept++;
            }
            kv->value = e->value.data;
            kv->value_len = e->value.len;
            nb++;
            bbytes += e->value.len;
        }
        if (nb && (i == n || nb == BATCH_ITEMS || bbytes >= BATCH_BYTES)) {
            if ((st = keel_put_batch(dst, batch, nb)) != KEEL_OK) goto done;
            nb = 0;
            bbytes = 0;
        }
    }
done:
    if (out) *out = rep;
    free(names);
    free(namebuf);
    hmap_free(&keys);
    hmap_free(&newest);
    keel_simd_close(f);
    return st;
}
