/*
 * db_index.c: secondary indexes (global and local, DynamoDB's projections) and TTL.
 *
 * An index has its own table id, given from the catalog's next_id like a table's, and is
 * described inside its table's catalog entry (the "indexes" array; FORMAT.md). Each item
 * in the index is one store entry keyed
 *
 *   [index id][hash of the index partition key][index partition key][index sort key]
 *   [the item's table key without its table id]
 *
 * with the index sort key written self-delimiting (kdb_key_append_isk), so index keys
 * sort by index partition, index sort key, then table key, and are unique per item even
 * though index keys are not. The entry's value is the item's projection. So a Query on an
 * index is a key range like a table's, and the ordered index, the publish hook (counts),
 * compaction and recovery treat index entries like items.
 *
 * Invariants. (1) An index entry and its item are written in one atomic group: the write
 * path (db_write.c) asks kdb_index_entries for every write's index entries, given the old
 * and the new item, under the writer lock, and appends them with the item's entry.
 * (2) An index holds exactly the items that have its key attributes with its key types
 * (sparse). (3) Index definitions change only under the writer lock, so a write sees one
 * set of indexes from its evaluation to its append. (4) A "creating" index (added after
 * its table) is maintained by writes but not readable; backfill() builds the entries of
 * the items already there in atomic batches under the writer lock (idempotent: an entry
 * is a function of the current item), then clears the mark; a crash in between leaves the
 * mark, and the next writable open restarts the backfill.
 *
 * TTL: a table's TTL attribute lives in its catalog entry. An item whose TTL attribute is
 * a number <= now (kdb_now: the injectable clock) is expired: readers skip it, writers see
 * it as absent, and the reaper (keel_db_reap_expired) deletes it and its index entries in
 * atomic batches, re-checking expiry under the writer lock.
 */
#include "db/db_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- clock and expiry ----------------------------------------------------------------------- */

/* The clock may be set while other threads read it: both fields are accessed atomically
 * (a reader may pair a new function with the old context only if a caller changes both
 * at once; keeldb always passes the same context). */
void keel_db_set_clock(keel_db *db, keel_db_clock_fn fn, void *ctx) {
    if (!db) return;
    __atomic_store_n(&db->clock_ctx, ctx, __ATOMIC_RELEASE);
    __atomic_store_n(&db->clock, fn, __ATOMIC_RELEASE);
}

int64_t kdb_now(const keel_db *db) {
    keel_db_clock_fn fn = __atomic_load_n(&db->clock, __ATOMIC_ACQUIRE);
    return fn ? fn(__atomic_load_n(&db->clock_ctx, __ATOMIC_ACQUIRE)) : (int64_t)time(NULL);
}

bool kdb_expired(const char *ttl, int64_t now, const uint8_t *item, size_t len) {
    if (!ttl[0] || !item) return false;
    kdb_val v;
    kdb_num x, n;
    if (!kdb_item_attr(item, len, ttl, strlen(ttl), &v) || v.type != KDB_N ||
        kdb_val_num(&v, &x) != KEEL_OK)
        return false;
    kdb_num_from_i64(now, &n);
    return kdb_num_cmp(&x, &n) <= 0;
}

/* ---- the indexes array ---------------------------------------------------------------------- */

kdb_index *kdb_index_by_id(keel_db *db, uint32_t id) {
    for (size_t i = 0; i < db->nindexes; i++)
        if (db->indexes[i].id == id) return &db->indexes[i];
    return NULL;
}

kdb_index *kdb_index_find(keel_db *db, uint32_t owner, const char *name) {
    for (size_t i = 0; i < db->nindexes; i++)
        if (db->indexes[i].owner == owner && strcmp(db->indexes[i].name, name) == 0)
            return &db->indexes[i];
    return NULL;
}

size_t kdb_index_count(const keel_db *db, uint32_t owner) {
    size_t n = 0;
    for (size_t i = 0; i < db->nindexes; i++) n += db->indexes[i].owner == owner;
    return n;
}

void kdb_indexes_clear(keel_db *db) {
    for (size_t i = 0; i < db->nindexes; i++) free(db->indexes[i].include);
    db->nindexes = 0;
}

keel_status kdb_indexes_add(keel_db *db, kdb_index *x) {
    if (db->nindexes == db->icap) {
        size_t cap = db->icap ? db->icap * 2 : 8;
        kdb_index *v = realloc(db->indexes, cap * sizeof *v);
        if (!v) return keel__fail(KEEL_ENOMEM, "index catalog");
        db->indexes = v;
        db->icap = cap;
    }
    db->indexes[db->nindexes++] = *x;
    x->include = NULL;
    return KEEL_OK;
}

void kdb_indexes_remove(keel_db *db, uint32_t id) {
    for (size_t i = 0; i < db->nindexes; i++) {
        if (db->indexes[i].id != id) continue;
        free(db->indexes[i].include);
        memmove(&db->indexes[i], &db->indexes[i + 1],
                (db->nindexes - i - 1) * sizeof db->indexes[0]);
        db->nindexes--;
        return;
    }
}

/* ---- catalog -------------------------------------------------------------------------------- */

static const char *const proj_names[] = {"ALL", "KEYS_ONLY", "INCLUDE"};

size_t kdb_catalog_extra_pairs(keel_db *db, const kdb_table *t) {
    return (t->ttl[0] != 0) + (kdb_index_count(db, t->id) > 0) + kdb_vec_pairs(db, t);
}

static void enc_str(kdb_buf *b, const char *s) { kdb_enc_text(b, s, strlen(s)); }

void kdb_catalog_encode_extra(keel_db *db, const kdb_table *t, uint32_t skip_index,
                              kdb_buf *b) {
    if (t->ttl[0]) {
        enc_str(b, "ttl");
        enc_str(b, t->ttl);
    }
    kdb_vec_encode(db, t, b);
    size_t n = kdb_index_count(db, t->id);
    if (!n) return;
    enc_str(b, "indexes");
    size_t skip = skip_index && kdb_index_by_id(db, skip_index) ? 1 : 0;
    kdb_enc_array(b, n - skip);
    for (size_t i = 0; i < db->nindexes; i++) {
        const kdb_index *x = &db->indexes[i];
        if (x->owner != t->id || x->id == skip_index) continue;
        kdb_enc_map(b, 6 + (x->skt ? 2 : 0) + (x->proj == KEEL_DB_PROJECT_INCLUDE) +
                           x->creating);
        enc_str(b, "name");
        enc_str(b, x->name);
        enc_str(b, "id");
        kdb_enc_uint(b, x->id);
        enc_str(b, "local");
        kdb_enc_bool(b, x->local);
        enc_str(b, "pk");
        enc_str(b, x->pk);
        enc_str(b, "pkt");
        kdb_enc_text(b, (const char *)&x->pkt, 1);
        if (x->skt) {
            enc_str(b, "sk");
            enc_str(b, x->sk);
            enc_str(b, "skt");
            kdb_enc_text(b, (const char *)&x->skt, 1);
        }
        enc_str(b, "proj");
        enc_str(b, proj_names[x->proj]);
        if (x->proj == KEEL_DB_PROJECT_INCLUDE) {
            enc_str(b, "include");
            kdb_enc_array(b, x->ninclude);
            for (const char *p = x->include, *e = p + x->include_len; p < e; p += strlen(p) + 1)
                enc_str(b, p);
        }
        if (x->creating) {
            enc_str(b, "creating");
            kdb_enc_bool(b, true);
        }
    }
}

static bool text_of(const uint8_t *m, size_t len, const char *name, char *out, size_t cap) {
    kdb_val v;
    return kdb_item_attr(m, len, name, strlen(name), &v) && kdb_catalog_text(&v, out, cap);
}

static bool keytype_at(const uint8_t *m, size_t len, const char *name, keel_db_keytype *out) {
    char c[2];
    if (!text_of(m, len, name, c, sizeof c) || (c[0] != 'S' && c[0] != 'N' && c[0] != 'B'))
        return false;
    *out = (keel_db_keytype)c[0];
    return true;
}

static keel_status parse_index(keel_db *db, const kdb_table *t, const kdb_val *m) {
    kdb_index x;
    memset(&x, 0, sizeof x);
    x.owner = t->id;
    const uint8_t *p = m->p;
    size_t len = m->len;
    kdb_val v;
    kdb_num num;
    int64_t id;
    char proj[16];
    if (!text_of(p, len, "name", x.name, sizeof x.name) || !text_of(p, len, "pk", x.pk, sizeof x.pk) ||
        !keytype_at(p, len, "pkt", &x.pkt) || !text_of(p, len, "proj", proj, sizeof proj) ||
        !kdb_item_attr(p, len, "id", 2, &v) || v.type != KDB_N || kdb_val_num(&v, &num) != KEEL_OK ||
        !kdb_num_to_i64(&num, &id) || id < KDB_TABLE_FIRST || id > (int64_t)KDB_TABLE_LAST)
        goto bad;
    x.id = (uint32_t)id;
    if (text_of(p, len, "sk", x.sk, sizeof x.sk) && !keytype_at(p, len, "skt", &x.skt)) goto bad;
    x.local = kdb_item_attr(p, len, "local", 5, &v) && v.type == KDB_BOOL && v.b;
    x.creating = kdb_item_attr(p, len, "creating", 8, &v) && v.type == KDB_BOOL && v.b;
    for (int i = 0; i < 3; i++)
        if (strcmp(proj, proj_names[i]) == 0) x.proj = (keel_db_projection)i, proj[0] = 0;
    if (proj[0]) goto bad;
    if (x.proj == KEEL_DB_PROJECT_INCLUDE) {
        if (!kdb_item_attr(p, len, "include", 7, &v) || v.type != KDB_L) goto bad;
        kdb_iter it;
        kdb_val e;
        kdb_iter_init(&it, &v);
        x.include = malloc(v.len + 1);
        if (!x.include) return keel__fail(KEEL_ENOMEM, "index catalog");
        int r;
        while ((r = kdb_iter_next(&it, NULL, NULL, &e)) == 1) {
            if (e.type != KDB_S || e.size == 0 || e.size > 255 || memchr(e.data, 0, e.size) ||
                !kdb_utf8_valid(e.data, e.size)) {
                free(x.include);
                goto bad;
            }
            memcpy(x.include + x.include_len, e.data, e.size);
            x.include_len += e.size;
            x.include[x.include_len++] = '\0';
            x.ninclude++;
        }
        if (r < 0) {
            free(x.include);
            goto bad;
        }
    }
    if (id >= db->next_id) db->next_id = (uint32_t)id + 1;
    return kdb_indexes_add(db, &x);
bad:
    return keel__fail(KEEL_ECORRUPT, "catalog entry of table '%s': a malformed index", t->name);
}

keel_status kdb_catalog_parse_extra(keel_db *db, kdb_table *t, const uint8_t *val, size_t len) {
    kdb_val v, e;
    if (kdb_item_attr(val, len, "ttl", 3, &v) && !text_of(val, len, "ttl", t->ttl, sizeof t->ttl))
        return keel__fail(KEEL_ECORRUPT, "catalog entry of table '%s': a malformed ttl", t->name);
    keel_status vst = kdb_vec_parse(db, t, val, len);
    if (vst != KEEL_OK) return vst;
    if (!kdb_item_attr(val, len, "indexes", 7, &v)) return KEEL_OK;
    if (v.type != KDB_L)
        return keel__fail(KEEL_ECORRUPT, "catalog entry of table '%s': indexes", t->name);
    kdb_iter it;
    kdb_iter_init(&it, &v);
    int r;
    while ((r = kdb_iter_next(&it, NULL, NULL, &e)) == 1) {
        if (e.type != KDB_M)
            return keel__fail(KEEL_ECORRUPT, "catalog entry of table '%s': indexes", t->name);
        keel_status st = parse_index(db, t, &e);
        if (st != KEEL_OK) return st;
    }
    return r < 0 ? keel__fail(KEEL_ECORRUPT, "catalog entry of table '%s': indexes", t->name)
                 : KEEL_OK;
}

/* ---- index entries -------------------------------------------------------------------------- */

static kdb_type type_of(keel_db_keytype t) {
    return t == KEEL_DB_KEY_S ? KDB_S : t == KEEL_DB_KEY_N ? KDB_N : KDB_B;
}

int kdb_index_key(const kdb_index *x, const kdb_key *tkey, const uint8_t *item, size_t len,
                  kdb_key *out, keel_status *st) {
    kdb_val pk, sk;
    if (!kdb_item_attr(item, len, x->pk, strlen(x->pk), &pk) || pk.type != type_of(x->pkt))
        return 0;
    if (x->skt && (!kdb_item_attr(item, len, x->sk, strlen(x->sk), &sk) ||
                   sk.type != type_of(x->skt)))
        return 0;
    if ((*st = kdb_key_make(x->id, x->pkt, &pk, KEEL_DB_KEY_NONE, NULL, out)) != KEEL_OK)
        return -1;
    if (x->skt && (*st = kdb_key_append_isk(out, x->skt, &sk, false, true)) != KEEL_OK)
        return -1;
    memcpy(out->b + out->len, tkey->b + 4, tkey->len - 4);
    out->len += tkey->len - 4;
    return 1;
}

static bool name_is(const uint8_t *n, size_t len, const char *s) {
    return s[0] && strlen(s) == len && memcmp(n, s, len) == 0;
}

static bool projected(const kdb_index *x, const kdb_table *t, const uint8_t *n, size_t len) {
    if (name_is(n, len, t->pk) || name_is(n, len, t->sk) || name_is(n, len, x->pk) ||
        name_is(n, len, x->sk))
        return true;
    if (x->proj != KEEL_DB_PROJECT_INCLUDE) return false;
    for (const char *p = x->include, *e = p + x->include_len; p < e; p += strlen(p) + 1)
        if (name_is(n, len, p)) return true;
    return false;
}

/* The projection of `item` (KEYS_ONLY or INCLUDE) in stored form. */
keel_status kdb_index_project(const kdb_index *x, const kdb_table *t, const uint8_t *item,
                              size_t len, kdb_buf *out) {
    kdb_val m, v;
    if (!kdb_item_open(item, len, &m)) return keel__fail(KEEL_ECORRUPT, "an item is not a map");
    kdb_buf tmp = {0};
    for (int pass = 0; pass < 2; pass++) {
        kdb_iter it;
        kdb_iter_init(&it, &m);
        const uint8_t *n;
        size_t nl, count = 0;
        while (kdb_iter_next(&it, &n, &nl, &v) == 1) {
            if (!projected(x, t, n, nl)) continue;
            count++;
            if (pass) {
                kdb_enc_text(&tmp, (const char *)n, nl);
                kdb_buf_put(&tmp, v.p, v.len);
            }
        }
        if (!pass) kdb_enc_map(&tmp, count);
    }
    keel_status st = tmp.failed ? keel__fail(KEEL_ENOMEM, "an index projection")
                                : kdb_item_store_form(tmp.p, tmp.len, out);
    kdb_buf_free(&tmp);
    return st;
}

static keel_append_item entry(const kdb_buf *key, const uint8_t *val, size_t vlen) {
    return (keel_append_item){.key = key->p, .key_len = (uint32_t)key->len, .value = val,
                              .value_len = vlen, .src_fd = -1, .hash = keel_hash(key->p, key->len),
                              .flags = val ? 0 : KEEL_FLAG_TOMBSTONE};
}

static void buf_set(kdb_buf *b, const kdb_key *k) {
    b->len = 0;
    b->failed = false;
    kdb_buf_put(b, k->b, k->len);
}

/* Does the old item's entry (key ok) equal the new one (key nk, value val)? `tmp` holds
 * the old projection. */
static bool same_entry(const kdb_index *x, const kdb_table *t, const kdb_key *ok,
                       const kdb_key *nk, const uint8_t *old, size_t old_len,
                       const uint8_t *val, size_t vlen, kdb_buf *tmp) {
    if (ok->len != nk->len || memcmp(ok->b, nk->b, ok->len) != 0) return false;
    if (x->proj == KEEL_DB_PROJECT_ALL)
        return old_len == vlen && memcmp(old, val, vlen) == 0;
    bool same = kdb_index_project(x, t, old, old_len, tmp) == KEEL_OK && tmp->len == vlen &&
                memcmp(tmp->p, val, vlen) == 0;
    keel__clear_error();
    tmp->len = 0;
    return same;
}

/* A written item whose index key attribute has another type than the index's, or is an
 * empty S or B: refused with DynamoDB's messages (an absent attribute only keeps the item
 * out of the index). */
static bool key_type_refused(const kdb_index *x, const uint8_t *item, size_t len,
                             keel_status *st) {
    const char *names[2] = {x->pk, x->sk};
    keel_db_keytype types[2] = {x->pkt, x->skt};
    for (int i = 0; i < (x->skt ? 2 : 1); i++) {
        kdb_val v;
        if (!kdb_item_attr(item, len, names[i], strlen(names[i]), &v)) continue;
        if (v.type != type_of(types[i])) {
            *st = keel__fail(KEEL_EVALIDATION, "One or more parameter values were invalid: Type "
                             "mismatch for Index Key %s Expected: %c Actual: %s IndexName: %s",
                             names[i], (char)types[i], kdb_type_name(v.type), x->name);
            return true;
        }
        if ((v.type == KDB_S || v.type == KDB_B) && v.size == 0) {
            *st = keel__fail(KEEL_EVALIDATION, "One or more parameter values are not valid. A "
                             "value specified for a secondary index key is not supported. The "
                             "AttributeValue for a key attribute cannot contain an empty %s "
                             "value. IndexName: %s, IndexKey: %s",
                             v.type == KDB_S ? "string" : "binary", x->name, names[i]);
            return true;
        }
    }
    return false;
}

/* The entries of index x for an item going from `old` to `now` (either may be NULL). */
static size_t one_index(const kdb_index *x, const kdb_table *t, const kdb_key *tkey,
                        const uint8_t *old, size_t old_len, const uint8_t *now, size_t now_len,
                        keel_append_item *items, kdb_buf *bufs, keel_status *st) {
    kdb_key *ok = malloc(2 * sizeof *ok), *nk = ok + 1;
    if (!ok) {
        *st = keel__fail(KEEL_ENOMEM, "an index key");
        return 0;
    }
    keel_status ignored;
    size_t m = 0;
    int ho = old ? kdb_index_key(x, tkey, old, old_len, ok, &ignored) : 0;
    if (now && key_type_refused(x, now, now_len, st)) goto out;
    int hn = now ? kdb_index_key(x, tkey, now, now_len, nk, st) : 0;
    if (hn < 0) goto out;
    if (ho > 0 && (hn == 0 || ok->len != nk->len || memcmp(ok->b, nk->b, ok->len) != 0)) {
        buf_set(&bufs[0], ok);
        items[m++] = entry(&bufs[0], NULL, 0);
    }
    if (hn > 0) {
        const uint8_t *val = now;
        size_t vlen = now_len;
        if (x->proj != KEEL_DB_PROJECT_ALL) {
            if ((*st = kdb_index_project(x, t, now, now_len, &bufs[2])) != KEEL_OK) goto out;
            val = bufs[2].p, vlen = bufs[2].len;
        }
        /* Same key, same projection: the entry there is already right (not so while the
         * index is being backfilled: the old item may have no entry yet). */
        if (ho > 0 && !x->creating && same_entry(x, t, ok, nk, old, old_len, val, vlen, &bufs[0]))
            goto out;
        buf_set(&bufs[1], nk);
        items[m++] = entry(&bufs[1], val, vlen);
    }
    if (bufs[0].failed || bufs[1].failed) *st = keel__fail(KEEL_ENOMEM, "an index key");
out:
    free(ok);
    return *st == KEEL_OK ? m : 0;
}

size_t kdb_index_entries(keel_db *db, const kdb_table *t, const kdb_write *w, const uint8_t *now,
                         size_t now_len, keel_append_item *items, kdb_buf *bufs,
                         keel_status *st) {
    *st = KEEL_OK;
    size_t m = 0, k = 0;
    for (size_t i = 0; t && i < db->nindexes && *st == KEEL_OK; i++) {
        const kdb_index *x = &db->indexes[i];
        if (x->owner != w->table) continue;
        m += one_index(x, t, &w->key, w->prev, w->prev_len, now, now_len, items + m,
                       bufs + 3 * k++, st);
    }
    return *st == KEEL_OK ? m : 0;
}
