/*
 * read.c: lookups. Each one hashes the key outside any lock, then holds the index read
 * lock only for the probe and the forming of a view (no I/O, no allocation), so readers
 * run in parallel and never wait for a writer's write or fsync. keel_get_many interleaves the
 * lookups of a batch so their cache misses overlap. Views point into the
 * current mapping, which is retired rather than unmapped when it is replaced, so they stay
 * valid until keel_close().
 */
#include "store/store.h"

#include <stdio.h>
#include <string.h>

/* Find the live slot of `key` and describe it; with `intact`, KEEL_ECORRUPT when the
 * entry fails its CRC32C (keel__entry_intact). Called with the read lock held. */
static keel_status lookup(keel_store *s, uint64_t h, const void *key, size_t key_len,
                          keel_view *value, bool intact) {
    keel_hit hit;
    if (!keel__index_find(s, h, key, key_len, &hit) || hit.dead) return KEEL_NOTFOUND;
    if (intact && !keel__entry_intact(s->map->base, s->align, hit.trailer_start))
        return keel__entry_damaged(hit.value_start);
    value->data = keel__at(s, hit.value_start);
    value->len = (size_t)hit.value_len;
    return KEEL_OK;
}

keel_status keel__entry_damaged(uint64_t value_start) {
    return keel__fail(KEEL_ECORRUPT, "the stored item at offset %llu fails its checksum: the file "
                      "is damaged (keel verify lists every damaged entry)",
                      (unsigned long long)value_start);
}

static keel_status get_view(keel_store *s, const void *key, size_t key_len, keel_view *value,
                            bool intact) {
    keel_status st = keel__check_key(key, key_len);
    if (st != KEEL_OK) return st;
    uint64_t h = keel_hash(key, key_len);
    st = keel__reader_enter(s);
    if (st != KEEL_OK) return st;
    st = lookup(s, h, key, key_len, value, intact);
    keel__reader_leave(s);
    return st;
}

keel_status keel__get_intact(keel_store *s, const void *key, size_t key_len, keel_view *value) {
    return get_view(s, key, key_len, value, true);
}

keel_status keel_get(keel_store *s, const void *key, size_t key_len, keel_view *value_out) {
    if (!value_out) return keel__fail(KEEL_EINVAL, "keel_get: value_out is NULL");
    return get_view(s, key, key_len, value_out, false);
}

keel_status keel_get_copy(keel_store *s, const void *key, size_t key_len, void *buf, size_t cap,
                          size_t *len_out) {
    if (!len_out) return keel__fail(KEEL_EINVAL, "keel_get_copy: len_out is NULL");
    if (!buf && cap) return keel__fail(KEEL_EINVAL, "keel_get_copy: buf is NULL with cap %zu", cap);
    keel_view v;
    keel_status st = get_view(s, key, key_len, &v, false);
    if (st != KEEL_OK) return st;
    *len_out = v.len;
    if (cap < v.len)
        return keel__fail(KEEL_ERANGE, "value of %zu bytes does not fit a buffer of %zu", v.len, cap);
    if (v.len) memcpy(buf, v.data, v.len);
    return KEEL_OK;
}

keel_status keel_read_at(keel_store *s, const void *key, size_t key_len, uint64_t offset, void *buf,
                         size_t cap, size_t *n_out) {
    if (!n_out) return keel__fail(KEEL_EINVAL, "keel_read_at: n_out is NULL");
    if (!buf && cap) return keel__fail(KEEL_EINVAL, "keel_read_at: buf is NULL with cap %zu", cap);
    keel_view v;
    keel_status st = get_view(s, key, key_len, &v, false);
    if (st != KEEL_OK) return st;
    size_t n = 0;
    if (offset < v.len) {
        n = v.len - (size_t)offset;
        if (n > cap) n = cap;
        memcpy(buf, v.data + offset, n);
    }
    *n_out = n;
    return KEEL_OK;
}

/* Keys per read-lock hold in keel_get_many: enough misses in flight to fill the memory
 * pipeline, short enough that a writer never waits long. */
#define MANY_GROUP 32

keel_status keel_get_many(keel_store *s, const keel_view *keys, size_t n, keel_view *values_out,
                          keel_status *status_out) {
    if (!s) return keel__fail(KEEL_EINVAL, "store handle is NULL");
    if (n && (!keys || !values_out || !status_out))
        return keel__fail(KEEL_EINVAL, "keel_get_many: NULL array with n = %zu", n);
    keel_status first_err = KEEL_OK;
    uint64_t h[MANY_GROUP];
    for (size_t base = 0; base < n; base += MANY_GROUP) {
        size_t m = n - base < MANY_GROUP ? n - base : MANY_GROUP;
        const keel_view *k = keys + base;
        keel_status *stat = status_out + base;
        keel_view *val = values_out + base;
        /* 1: hash every key and start the misses on their slots. 2: under the lock, start
         * the misses on the entries the slots point to. 3: the lookups proper, which now
         * mostly hit the cache. Misses overlap instead of following one another. */
        for (size_t i = 0; i < m; i++) {
            stat[i] = keel__check_key(k[i].data, k[i].len);
            if (stat[i] != KEEL_OK) {
                if (first_err == KEEL_OK) {
                    char detail[200];
                    snprintf(detail, sizeof detail, "%s", keel_errmsg());
                    first_err = keel__fail(stat[i], "keel_get_many: key %zu: %s", base + i, detail);
                }
                continue;
            }
            h[i] = keel_hash(k[i].data, k[i].len);
        }
        keel_status st = keel__reader_enter(s);
        if (st != KEEL_OK) return st;
        for (size_t i = 0; i < m; i++)
            if (stat[i] == KEEL_OK) keel__index_prefetch_read(s, h[i]);
        for (size_t i = 0; i < m; i++)
            if (stat[i] == KEEL_OK) keel__index_prefetch_entry(s, h[i], k[i].len);
        for (size_t i = 0; i < m; i++) {
            if (stat[i] != KEEL_OK) continue;
            stat[i] = lookup(s, h[i], k[i].data, k[i].len, &val[i], false);
            if (stat[i] != KEEL_OK) val[i] = (keel_view){NULL, 0};
        }
        keel__reader_leave(s);
    }
    return first_err;
}

keel_status keel_exists(keel_store *s, const void *key, size_t key_len) {
    keel_view v;
    return get_view(s, key, key_len, &v, false);
}

keel_status keel_get_entry(keel_store *s, const void *key, size_t key_len, keel_entry *entry_out) {
    if (!entry_out) return keel__fail(KEEL_EINVAL, "keel_get_entry: entry_out is NULL");
    keel_status st = keel__check_key(key, key_len);
    if (st != KEEL_OK) return st;
    uint64_t h = keel_hash(key, key_len);
    st = keel__reader_enter(s);
    if (st != KEEL_OK) return st;
    keel_view v;
    st = lookup(s, h, key, key_len, &v, false);
    if (st == KEEL_OK) {
        const uint8_t *base = s->map->base;
        uint64_t voff = (uint64_t)(v.data - base);
        uint64_t kstart = voff + v.len;
        uint64_t tstart = keel__round_up(kstart + key_len, 8);
        keel_trailer t;
        keel__trailer_decode(base + tstart, &t);
        keel_entry *e = entry_out;
        e->key.data = base + kstart;
        e->key.len = key_len;
        e->value = v;
        e->key_hash = t.key_hash;
        e->checksum = t.crc;
        e->flags = t.flags;
        e->value_offset = voff;
        e->entry_offset = t.prev_end;
        e->entry_end = tstart + KEEL_TRAILER_SIZE;
    }
    keel__reader_leave(s);
    return st;
}

keel_status keel_entry_verify(keel_store *s, const keel_entry *e) {
    if (!e) return keel__fail(KEEL_EINVAL, "keel_entry_verify: entry is NULL");
    keel_status st = keel__reader_enter(s);
    if (st != KEEL_OK) return st;
    bool sane = e->key.len <= KEEL_MAX_KEY && (e->value.data || !e->value.len) &&
                e->value_offset >= KEEL_HEADER_SIZE &&
                e->value_offset <= e->entry_end &&
                e->entry_end - e->value_offset >=
                    (uint64_t)e->value.len + e->key.len + KEEL_TRAILER_SIZE;
    keel__reader_leave(s);
    /* A caller's struct: its numbers must at least describe a whole entry (it may come
     * from a mapping retired by a compaction, so its offsets are not compared with s->end),
     * or the trailer's address below would be formed from garbage. */
    if (!sane || !e->value.data)
        return keel__fail(KEEL_EINVAL, "keel_entry_verify: the entry does not describe an entry "
                          "of this store (use one from keel_get_entry)");
    /* The entry's views stay valid until close; its trailer sits right before entry_end. */
    const uint8_t *trailer = e->value.data + (e->entry_end - KEEL_TRAILER_SIZE - e->value_offset);
    uint32_t crc = keel__entry_crc(e->value.data, e->value.len, e->key.data, (uint32_t)e->key.len,
                                   trailer);
    if (crc != keel__ld32(trailer + 36))
        return keel__fail(KEEL_ECORRUPT, "entry at offset %llu: checksum mismatch (stored %08x, computed %08x)",
                          (unsigned long long)e->entry_offset, keel__ld32(trailer + 36), crc);
    return KEEL_OK;
}
