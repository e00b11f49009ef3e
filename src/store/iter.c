/*
 * iter.c: snapshots of the live entries, for iteration and compaction.
 *
 * A snapshot copies the trailer offset of every live slot under the index lock and sorts
 * them, so a scan reads the file front to back; each entry is decoded from its trailer
 * when it is visited, touching trailer, key and value together. Later writes do not touch
 * the snapshot; its views point into the mapping current at snapshot time, which stays
 * mapped until close. keel_iter_at reads only immutable data, so threads can share one
 * iterator and split it by index range.
 */
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

struct keel_iter {
    keel_store *s;
    const uint8_t *base;    /* the mapping current at snapshot time (kept until close) */
    uint32_t align;
    uint64_t *trailers;     /* sorted trailer offsets of the live entries */
    size_t n, pos;
};

/* LSD radix sort on the 48-bit offset, 16 bits a pass: linear, where qsort of millions of
 * entries would dominate the scan itself. */
static int cmp_offset(const void *x, const void *y) {
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return (a > b) - (a < b);
}

static keel_status sort_by_offset(uint64_t *a, size_t n) {
    if (n < 2) return KEEL_OK;
    if (n < 16384) {  /* the radix passes' fixed cost would dominate a small snapshot */
        qsort(a, n, sizeof *a, cmp_offset);
        return KEEL_OK;
    }
    uint64_t *tmp = malloc(n * sizeof *tmp);
    size_t *count = malloc(65536 * sizeof *count);
    if (!tmp || !count) {
        free(tmp);
        free(count);
        return keel__fail(KEEL_ENOMEM, "sorting %zu entries", n);
    }
    uint64_t *src = a, *dst = tmp;
    for (int shift = 0; shift < 48; shift += 16) {
        memset(count, 0, 65536 * sizeof *count);
        for (size_t i = 0; i < n; i++) count[(src[i] >> shift) & 0xffff]++;
        size_t sum = 0;
        for (size_t b = 0; b < 65536; b++) {
            size_t c = count[b];
            count[b] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++) dst[count[(src[i] >> shift) & 0xffff]++] = src[i];
        uint64_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != a) memcpy(a, src, n * sizeof *a);  /* three passes end in tmp */
    free(tmp);
    free(count);
    return KEEL_OK;
}

keel_status keel__snapshot_trailers(const keel_store *s, uint64_t **out, size_t *n_out) {
    const keel_index *ix = &s->index;
    size_t n = (size_t)ix->live;
    uint64_t *t = malloc((n ? n : 1) * sizeof *t);
    if (!t) return keel__fail(KEEL_ENOMEM, "snapshot of %zu entries", n);
    size_t k = 0;
    for (uint64_t i = 0; i <= ix->mask; i++) {
        uint64_t v = ix->slots[i];
        if (v != 0 && !(v & KEEL_SLOT_DEAD_BIT)) t[k++] = (v & KEEL_SLOT_OFF_MASK) << 3;
    }
    keel_status st = sort_by_offset(t, k);
    if (st != KEEL_OK) {
        free(t);
        return st;
    }
    *out = t;
    *n_out = k;
    return KEEL_OK;
}

keel_status keel_iter_new(keel_store *s, keel_iter **iter_out) {
    if (!iter_out) return keel__fail(KEEL_EINVAL, "keel_iter_new: iter_out is NULL");
    keel_iter *it = calloc(1, sizeof *it);
    if (!it) return keel__fail(KEEL_ENOMEM, "allocating an iterator");
    keel_status st = keel__reader_enter(s);
    if (st != KEEL_OK) {
        free(it);
        return st;
    }
    st = keel__snapshot_trailers(s, &it->trailers, &it->n);
    it->base = s->map->base;
    it->align = s->align;
    keel__reader_leave(s);
    if (st != KEEL_OK) {
        free(it);
        return st;
    }
    it->s = s;
    *iter_out = it;
    return KEEL_OK;
}

size_t keel_iter_len(const keel_iter *it) { return it ? it->n : 0; }

keel_status keel_iter_at(const keel_iter *it, size_t i, keel_view *key_out, keel_view *value_out) {
    if (!it) return keel__fail(KEEL_EINVAL, "iterator is NULL");
    if (it->s->closed) return keel__fail(KEEL_ECLOSED, "store %s is closed", it->s->path);
    if (i >= it->n) return keel__fail(KEEL_ERANGE, "entry %zu of a snapshot of %zu", i, it->n);
    keel_snap_entry e;
    keel__entry_at(it->base, it->align, it->trailers[i], &e);
    if (value_out) *value_out = (keel_view){it->base + e.voff, (size_t)e.vlen};
    if (key_out) *key_out = (keel_view){it->base + e.voff + e.vlen, e.klen};
    return KEEL_OK;
}

keel_status keel_iter_next(keel_iter *it, keel_view *key_out, keel_view *value_out) {
    if (!it) return keel__fail(KEEL_EINVAL, "iterator is NULL");
    if (it->pos >= it->n) return KEEL_NOTFOUND;
    keel_status st = keel_iter_at(it, it->pos, key_out, value_out);
    if (st == KEEL_OK) it->pos++;
    return st;
}

void keel_iter_free(keel_iter *it) {
    if (!it) return;
    free(it->trailers);
    free(it);
}
