/*
 * info.c: what a store reports about itself (count, size, stats), sync, and verify.
 *
 * Readers take the index lock only long enough to copy counters or to snapshot (map, end);
 * verify then walks that snapshot unlocked, which is safe because committed bytes never
 * change and retired mappings live until close.
 */
#include "store/store.h"

#include <stdio.h>
#include <string.h>

keel_status keel_count(keel_store *s, uint64_t *count_out) {
    if (!count_out) return keel__fail(KEEL_EINVAL, "keel_count: count_out is NULL");
    keel_status st = keel__reader_enter(s);
    if (st != KEEL_OK) return st;
    *count_out = s->index.live;
    keel__reader_leave(s);
    return KEEL_OK;
}

keel_status keel_file_size(keel_store *s, uint64_t *size_out) {
    if (!size_out) return keel__fail(KEEL_EINVAL, "keel_file_size: size_out is NULL");
    keel_status st = keel__reader_enter(s);
    if (st != KEEL_OK) return st;
    *size_out = s->end;
    keel__reader_leave(s);
    return KEEL_OK;
}

keel_status keel_stat(keel_store *s, keel_stats *out) {
    if (!out) return keel__fail(KEEL_EINVAL, "keel_stat: stats_out is NULL");
    keel_status st = keel__reader_enter(s);
    if (st != KEEL_OK) return st;
    memset(out, 0, sizeof *out);
    out->file_size = s->end;
    out->entries = s->entries;
    out->live_keys = s->index.live;
    out->live_bytes = s->live_bytes;
    uint64_t data = s->end - KEEL_HEADER_SIZE;
    out->reclaimable_bytes = data > s->live_bytes ? data - s->live_bytes : 0;
    out->alignment = s->align;
    out->format_major = s->format_major;
    out->format_minor = s->format_minor;
    out->read_only = s->read_only;
    out->sync = s->sync;
    keel__reader_leave(s);
    return KEEL_OK;
}

keel_status keel_sync(keel_store *s) {
    keel_status st = keel__writer_enter(s);
    if (st == KEEL_EREADONLY) return KEEL_OK;
    if (st != KEEL_OK) return st;
    int err = keel__os_fdatasync(s->fd);
    if (err) st = keel__fail_errno(err, "fdatasync of %s", s->path);
    keel__writer_leave(s);
    return st;
}

typedef struct verify_ctx {
    const uint8_t *base;
    keel_verify_report r;
    char first[256];
} verify_ctx;

static keel_status verify_one(keel_store *s, const keel_trailer *t, const keel_place *p, void *ctx) {
    (void)s;
    verify_ctx *v = ctx;
    v->r.entries_checked++;
    const uint8_t *key = v->base + p->key_start;
    uint32_t crc = keel__entry_crc(v->base + p->value_start, t->value_len, key, t->key_len,
                                   v->base + p->trailer_start);
    const char *what = NULL;
    if (crc != t->crc) what = "checksum mismatch";
    else if (keel_hash(key, t->key_len) != t->key_hash) what = "key hash mismatch";
    if (what) {
        if (v->r.bad_entries++ == 0) {
            v->r.first_bad_offset = p->end;
            snprintf(v->first, sizeof v->first, "entry at offset %llu (value at %llu): %s",
                     (unsigned long long)t->prev_end, (unsigned long long)p->value_start, what);
        }
    }
    return KEEL_OK;
}

keel_status keel_verify(keel_store *s, keel_verify_report *report_out) {
    keel_status st = keel__reader_enter(s);
    if (st != KEEL_OK) return st;
    /* Committed bytes never change and retired maps live until close, so the walk can run
     * without the lock on this snapshot of (map, end). */
    verify_ctx v;
    memset(&v, 0, sizeof v);
    v.base = s->map->base;
    uint64_t end = s->end;
    uint32_t align = s->align, tag = s->file_tag;  /* of this generation of the file */
    keel__reader_leave(s);
    st = keel__walk(s, v.base, end, KEEL_HEADER_SIZE, align, tag, verify_one, &v);
    if (report_out) *report_out = v.r;
    if (st != KEEL_OK) return st;
    if (v.r.bad_entries)
        return keel__fail(KEEL_ECORRUPT, "%s: %llu of %llu entries are damaged; newest: %s", s->path,
                          (unsigned long long)v.r.bad_entries,
                          (unsigned long long)v.r.entries_checked, v.first);
    return KEEL_OK;
}
