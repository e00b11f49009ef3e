/*
 * write.c: every way of appending: put, batch put, delete, batch delete, rename, copy,
 * move, and the group append they all share (streams use it too).
 *
 * An append lays out its entries after s->end, writes them with one call (staged into one
 * buffer when small, gathered with pwritev when large), fsyncs per the sync mode, and only
 * then publishes the new end and index slots under the index write lock. If any step
 * fails, the file is cut back to s->end and nothing is published, so a failed write
 * leaves no trace and readers never see a half-written entry. The caller holds the write
 * lock for the whole append.
 */
#include "store/store.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#define STAGE_LIMIT (1u << 20)

static const uint8_t zeros[4096];

typedef struct planned {
    keel_place place;
    uint64_t prev_end;
    uint8_t trailer[KEEL_TRAILER_SIZE];
} planned;

static keel_status grow_wbuf(keel_store *s, size_t need) {
    if (need <= s->wcap) return KEEL_OK;
    size_t cap = s->wcap ? s->wcap : 4096;
    while (cap < need) cap *= 2;
    uint8_t *b = realloc(s->wbuf, cap);
    if (!b) return keel__fail(KEEL_ENOMEM, "write buffer of %zu bytes", cap);
    s->wbuf = b;
    s->wcap = cap;
    return KEEL_OK;
}

/* Cut anything written past the committed end, after a failure. */
static void roll_back(keel_store *s) { (void)keel__os_ftruncate(s->fd, s->end); }

static keel_status write_planned(keel_store *s, const keel_append_item *items, const planned *pl,
                                 size_t n, uint64_t new_end) {
    uint64_t total = new_end - s->end;
    int err = 0;
    if (n == 1 && items[0].src_fd >= 0) {
        /* A staged stream: padding, then a kernel-side copy, then key and trailer. */
        const keel_place *p = &pl[0].place;
        uint64_t pad = p->value_start - s->end;
        if (pad) err = keel__os_pwrite_all(s->fd, zeros, (size_t)pad, s->end);
        if (!err)
            err = keel__os_copy_range(items[0].src_fd, 0, s->fd, p->value_start, items[0].value_len);
        if (!err) {
            struct iovec iov[3] = {
                {(void *)items[0].key, items[0].key_len},
                {(void *)zeros, (size_t)(p->trailer_start - p->key_start - items[0].key_len)},
                {(void *)pl[0].trailer, KEEL_TRAILER_SIZE}};
            err = keel__os_pwritev_all(s->fd, iov, 3, p->key_start);
        }
    } else if (total <= STAGE_LIMIT) {
        keel_status st = grow_wbuf(s, (size_t)total);
        if (st != KEEL_OK) return st;
        uint8_t *b = s->wbuf;
        for (size_t i = 0; i < n; i++) {
            const keel_place *p = &pl[i].place;
            const keel_append_item *it = &items[i];
            uint64_t base = s->end;
            memset(b + (pl[i].prev_end - base), 0, (size_t)(p->value_start - pl[i].prev_end));
            if (it->parts) {
                uint8_t *dst = b + (p->value_start - base);
                for (size_t j = 0; j < it->nparts; j++) {
                    if (it->parts[j].len) memcpy(dst, it->parts[j].data, it->parts[j].len);
                    dst += it->parts[j].len;
                }
            } else if (it->value_len) {
                memcpy(b + (p->value_start - base), it->value, (size_t)it->value_len);
            }
            if (it->key_len) memcpy(b + (p->key_start - base), it->key, it->key_len);
            uint64_t kend = p->key_start + it->key_len;
            memset(b + (kend - base), 0, (size_t)(p->trailer_start - kend));
            memcpy(b + (p->trailer_start - base), pl[i].trailer, KEEL_TRAILER_SIZE);
        }
        err = keel__os_pwrite_all(s->fd, b, (size_t)total, s->end);
    } else {
        /* At most 5 buffers per entry plus its parts; the sum is bounded before it could
         * wrap, so the allocation below is never smaller than what is written into it. */
        size_t cap = n > INT_MAX / 5 ? (size_t)INT_MAX + 1 : n * 5;
        for (size_t i = 0; i < n && cap <= INT_MAX; i++)
            cap = items[i].nparts > INT_MAX - cap ? (size_t)INT_MAX + 1 : cap + items[i].nparts;
        if (cap > INT_MAX)
            return keel__fail(KEEL_ERANGE, "more than %d buffers in one write", INT_MAX);
        struct iovec *iov = malloc(cap * sizeof *iov);
        if (!iov) return keel__fail(KEEL_ENOMEM, "iovec array for %zu entries", n);
        int c = 0;
        for (size_t i = 0; i < n; i++) {
            const keel_place *p = &pl[i].place;
            const keel_append_item *it = &items[i];
            uint64_t pad = p->value_start - pl[i].prev_end;
            if (pad) iov[c++] = (struct iovec){(void *)zeros, (size_t)pad};
            if (it->parts) {
                for (size_t j = 0; j < it->nparts; j++)
                    if (it->parts[j].len)
                        iov[c++] = (struct iovec){(void *)it->parts[j].data, it->parts[j].len};
            } else if (it->value_len) {
                iov[c++] = (struct iovec){(void *)it->value, (size_t)it->value_len};
            }
            if (it->key_len) iov[c++] = (struct iovec){(void *)it->key, it->key_len};
            uint64_t pad2 = p->trailer_start - p->key_start - it->key_len;
            if (pad2) iov[c++] = (struct iovec){(void *)zeros, (size_t)pad2};
            iov[c++] = (struct iovec){(void *)pl[i].trailer, KEEL_TRAILER_SIZE};
        }
        err = keel__os_pwritev_all(s->fd, iov, c, s->end);
        free(iov);
    }
    if (err) return keel__fail_errno(err, "appending %llu bytes at offset %llu of %s",
                                     (unsigned long long)total, (unsigned long long)s->end, s->path);
    return KEEL_OK;
}

keel_status keel__append_group(keel_store *s, keel_append_item *items, size_t n) {
    if (n == 0) return KEEL_OK;
    if (n > SIZE_MAX / sizeof(planned))
        return keel__fail(KEEL_ENOMEM, "planning a batch of %zu entries", n);
    planned one, *pl = n == 1 ? &one : malloc(n * sizeof *pl);
    if (!pl) return keel__fail(KEEL_ENOMEM, "planning a batch of %zu entries", n);
    keel_status st = KEEL_OK;
    uint64_t pos = s->end;
    for (size_t i = 0; i < n; i++) {
        keel_append_item *it = &items[i];
        if (!keel__place(pos, it->value_len, it->key_len, s->align, &pl[i].place)) {
            st = keel__fail(KEEL_ERANGE, "entry of %llu bytes does not fit in a file",
                            (unsigned long long)it->value_len);
            goto out;
        }
        keel_trailer t = {it->hash, pos, it->value_len, it->key_len,
                          (uint16_t)(it->flags | (i + 1 < n ? KEEL_FLAG_GROUP_MORE : 0)),
                          KEEL_TRAILER_MAGIC, s->file_tag, 0};
        uint32_t vcrc = 0;
        if (it->src_fd >= 0 || it->crc_known) {
            vcrc = it->src_crc;
        } else if (it->parts) {
            for (size_t j = 0; j < it->nparts; j++)
                if (it->parts[j].len) vcrc = keel_crc32c(vcrc, it->parts[j].data, it->parts[j].len);
        } else {
            vcrc = keel_crc32c(0, it->value, it->value_len);
        }
        t.crc = 0;
        keel__trailer_encode(&t, NULL, NULL, pl[i].trailer);
        uint32_t crc = keel_crc32c(keel_crc32c(vcrc, it->key, it->key_len), pl[i].trailer, 36);
        keel__st32(pl[i].trailer + 36, crc);
        pl[i].prev_end = pos;
        pos = pl[i].place.end;
    }
    uint64_t new_end = pos;

    keel_map *m = s->map;
    if (new_end > m->reserved) {
        st = keel__map_new(s->fd, new_end, &m);
        if (st != KEEL_OK) goto out;
    }
    st = write_planned(s, items, pl, n, new_end);
    if (st == KEEL_OK && s->sync != KEEL_SYNC_NONE) {
        int err = s->sync == KEEL_SYNC_FULL ? keel__os_fsync(s->fd) : keel__os_fdatasync(s->fd);
        if (err) st = keel__fail_errno(err, "fsync of %s", s->path);
    }
    if (st != KEEL_OK) {
        roll_back(s);
        if (m != s->map) {
            pthread_rwlock_wrlock(&s->index_lock);
            keel__map_retire(s, m);
            pthread_rwlock_unlock(&s->index_lock);
        }
        goto out;
    }

    pthread_rwlock_wrlock(&s->index_lock);
    if (m != s->map) {
        keel__map_retire(s, s->map);
        s->map = m;
    }
    for (size_t i = 0; i < n; i++) {
        const keel_place *p = &pl[i].place;
        bool tomb = items[i].flags & KEEL_FLAG_TOMBSTONE;
        keel_hit old;
        st = keel__index_set(s, items[i].hash, items[i].key, items[i].key_len, p->trailer_start,
                             tomb, &old);
        if (st != KEEL_OK) break;  /* out of memory: the file is fine, the index is behind */
        if (old.slot && !old.dead) s->live_bytes -= keel__entry_span(s, old.trailer_start);
        if (!tomb) s->live_bytes += p->end - pl[i].prev_end;
        items[i].trailer_out = p->trailer_start;
        items[i].replaced_live = old.slot && !old.dead;
        items[i].replaced_trailer = items[i].replaced_live ? old.trailer_start : 0;
    }
    s->entries += n;
    s->end = new_end;
    if (st == KEEL_OK && s->hook.on_publish) s->hook.on_publish(s->hook.ctx, s, items, n);
    pthread_rwlock_unlock(&s->index_lock);
out:
    if (pl != &one) free(pl);
    return st;
}

/* ---- argument checks ---------------------------------------------------------------- */

static keel_status check_value(const void *value, size_t value_len) {
    if (!value && value_len)
        return keel__fail(KEEL_EINVAL, "value is NULL with length %zu", value_len);
    return KEEL_OK;
}

static keel_append_item put_item(const void *key, size_t key_len, const void *value,
                                 size_t value_len) {
    return (keel_append_item){.key = key ? key : "", .key_len = (uint32_t)key_len,
                              .value = value ? value : "", .value_len = value_len, .src_fd = -1,
                              .hash = keel_hash(key, key_len)};
}

static keel_append_item tomb_item(const void *key, size_t key_len, uint64_t hash) {
    return (keel_append_item){.key = key ? key : "", .key_len = (uint32_t)key_len, .value = "",
                              .flags = KEEL_FLAG_TOMBSTONE, .src_fd = -1, .hash = hash};
}

/* ---- the public writes -------------------------------------------------------------- */

keel_status keel_put(keel_store *s, const void *key, size_t key_len, const void *value,
                     size_t value_len) {
    keel_status st = keel__check_key(key, key_len);
    if (st == KEEL_OK) st = check_value(value, value_len);
    if (st != KEEL_OK) return st;
    keel_append_item it = put_item(key, key_len, value, value_len);
    st = keel__writer_enter(s);
    if (st != KEEL_OK) return st;
    st = keel__append_group(s, &it, 1);
    keel__writer_leave(s);
    return st;
}

keel_status keel_putv(keel_store *s, const void *key, size_t key_len, const keel_view *parts,
                      size_t nparts) {
    keel_status st = keel__check_key(key, key_len);
    if (st != KEEL_OK) return st;
    if (!parts && nparts) return keel__fail(KEEL_EINVAL, "keel_putv: parts is NULL with %zu parts", nparts);
    uint64_t total = 0;
    for (size_t i = 0; i < nparts; i++) {
        if (!parts[i].data && parts[i].len)
            return keel__fail(KEEL_EINVAL, "keel_putv: part %zu is NULL with length %zu", i,
                              parts[i].len);
        if (parts[i].len > UINT64_MAX - total)
            return keel__fail(KEEL_ERANGE, "keel_putv: the parts add up to more than 2^64 bytes");
        total += parts[i].len;
    }
    keel_append_item it = put_item(key, key_len, NULL, 0);
    it.parts = parts;
    it.nparts = nparts;
    it.value_len = total;
    st = keel__writer_enter(s);
    if (st != KEEL_OK) return st;
    st = keel__append_group(s, &it, 1);
    keel__writer_leave(s);
    return st;
}

keel_status keel_put_batch(keel_store *s, const keel_kv *items, size_t n) {
    if (!s) return keel__fail(KEEL_EINVAL, "store handle is NULL");
    if (n == 0) return s->closed ? keel__fail(KEEL_ECLOSED, "store %s is closed", s->path) : KEEL_OK;
    if (!items) return keel__fail(KEEL_EINVAL, "keel_put_batch: items is NULL");
    if (n > SIZE_MAX / sizeof(keel_append_item))  /* n * size would wrap */
        return keel__fail(KEEL_EINVAL, "keel_put_batch: %zu items cannot exist", n);
    keel_append_item *ai = malloc(n * sizeof *ai);
    if (!ai) return keel__fail(KEEL_ENOMEM, "batch of %zu items", n);
    keel_status st = KEEL_OK;
    for (size_t i = 0; i < n && st == KEEL_OK; i++) {
        st = keel__check_key(items[i].key, items[i].key_len);
        if (st == KEEL_OK) st = check_value(items[i].value, items[i].value_len);
        if (st != KEEL_OK) {
            char detail[300];
            snprintf(detail, sizeof detail, "%s", keel_errmsg());
            st = keel__fail(st, "batch item %zu: %s", i, detail);
            break;
        }
        ai[i] = put_item(items[i].key, items[i].key_len, items[i].value, items[i].value_len);
    }
    if (st == KEEL_OK) st = keel__writer_enter(s);
    if (st == KEEL_OK) {
        st = keel__append_group(s, ai, n);
        keel__writer_leave(s);
    }
    free(ai);
    return st;
}

static bool is_live(keel_store *s, uint64_t hash, const void *key, size_t key_len) {
    keel_hit hit;
    return keel__index_find(s, hash, key, key_len, &hit) && !hit.dead;
}

keel_status keel_delete(keel_store *s, const void *key, size_t key_len) {
    keel_status st = keel__check_key(key, key_len);
    if (st != KEEL_OK) return st;
    uint64_t h = keel_hash(key, key_len);
    st = keel__writer_enter(s);
    if (st != KEEL_OK) return st;
    /* The writer is the only thread that changes the index, so it may read it unlocked. */
    if (!is_live(s, h, key, key_len)) {
        st = KEEL_NOTFOUND;
    } else {
        keel_append_item it = tomb_item(key, key_len, h);
        st = keel__append_group(s, &it, 1);
    }
    keel__writer_leave(s);
    return st;
}

keel_status keel_delete_batch(keel_store *s, const keel_view *keys, size_t n, size_t *deleted_out) {
    if (!s) return keel__fail(KEEL_EINVAL, "store handle is NULL");
    if (n && !keys) return keel__fail(KEEL_EINVAL, "keel_delete_batch: keys is NULL");
    if (n > SIZE_MAX / sizeof(keel_append_item))  /* n * size would wrap */
        return keel__fail(KEEL_EINVAL, "keel_delete_batch: %zu keys cannot exist", n);
    for (size_t i = 0; i < n; i++) {
        keel_status st = keel__check_key(keys[i].data, keys[i].len);
        if (st != KEEL_OK) return st;
    }
    keel_append_item *ai = malloc((n ? n : 1) * sizeof *ai);
    if (!ai) return keel__fail(KEEL_ENOMEM, "batch of %zu keys", n);
    keel_status st = keel__writer_enter(s);
    if (st != KEEL_OK) {
        free(ai);
        return st;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t h = keel_hash(keys[i].data, keys[i].len);
        if (!is_live(s, h, keys[i].data, keys[i].len)) continue;
        bool dup = false;  /* the same key twice in one call is deleted once */
        for (size_t j = 0; j < m && !dup; j++)
            dup = ai[j].hash == h && ai[j].key_len == keys[i].len &&
                  memcmp(ai[j].key, keys[i].data ? (const void *)keys[i].data : "", keys[i].len) == 0;
        if (!dup) ai[m++] = tomb_item(keys[i].data, keys[i].len, h);
    }
    st = keel__append_group(s, ai, m);
    keel__writer_leave(s);
    free(ai);
    if (st == KEEL_OK && deleted_out) *deleted_out = m;
    return st;
}

keel_status keel_rename(keel_store *s, const void *old_key, size_t old_len, const void *new_key,
                        size_t new_len) {
    keel_status st = keel__check_key(old_key, old_len);
    if (st == KEEL_OK) st = keel__check_key(new_key, new_len);
    if (st != KEEL_OK) return st;
    if (old_len == new_len && (old_len == 0 || memcmp(old_key, new_key, old_len) == 0))
        return keel__fail(KEEL_EINVAL, "rename: the old and new keys are the same");
    uint64_t oh = keel_hash(old_key, old_len);
    st = keel__writer_enter(s);
    if (st != KEEL_OK) return st;
    keel_hit hit;
    if (!keel__index_find(s, oh, old_key, old_len, &hit) || hit.dead) {
        st = KEEL_NOTFOUND;
    } else {
        /* The value is copied from the mapping: committed bytes stay put while we write. */
        keel_append_item it[2] = {
            put_item(new_key, new_len, keel__at(s, hit.value_start), (size_t)hit.value_len),
            tomb_item(old_key, old_len, oh)};
        st = keel__append_group(s, it, 2);
    }
    keel__writer_leave(s);
    return st;
}

keel_status keel_copy(keel_store *src, const void *key, size_t key_len, keel_store *dst,
                      const void *dst_key, size_t dst_key_len) {
    if (!src || !dst) return keel__fail(KEEL_EINVAL, "store handle is NULL");
    keel_status st = keel__check_key(dst_key, dst_key_len);
    if (st != KEEL_OK) return st;
    if (src == dst && key_len == dst_key_len && (key_len == 0 || memcmp(key, dst_key, key_len) == 0))
        return keel__fail(KEEL_EINVAL, "copy: source and destination are the same key");
    keel_view v;
    st = keel_get(src, key, key_len, &v);
    if (st != KEEL_OK) return st;
    /* v stays valid until src is closed, so no lock is held across the put. */
    return keel_put(dst, dst_key, dst_key_len, v.data, v.len);
}

keel_status keel_move(keel_store *src, const void *key, size_t key_len, keel_store *dst,
                      const void *dst_key, size_t dst_key_len) {
    if (!src || !dst) return keel__fail(KEEL_EINVAL, "store handle is NULL");
    if (src == dst) return keel_rename(src, key, key_len, dst_key, dst_key_len);
    if (src->read_only) return keel__fail(KEEL_EREADONLY, "move: source %s is read-only", src->path);
    keel_status st = keel_copy(src, key, key_len, dst, dst_key, dst_key_len);
    if (st != KEEL_OK) return st;
    /* The copy reaches the disk before the delete can: with dst under KEEL_SYNC_NONE and
     * src syncing, the delete was durable first, and a power loss left the value in
     * neither store (tests/c/test_powerloss.c, test_move_between_stores). */
    if (dst->sync == KEEL_SYNC_NONE && (st = keel_sync(dst)) != KEEL_OK) return st;
    st = keel_delete(src, key, key_len);
    return st == KEEL_NOTFOUND ? KEEL_OK : st;  /* deleted meanwhile by another thread */
}
