/*
 * iter.c: iterators over a snapshot of the live entries.
 *
 * A snapshot (keel__snapshot_trailers, index.c) copies the trailer offset of every live
 * slot under the index lock, sorted, so a scan reads the file front to back; each entry is decoded from its trailer
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
