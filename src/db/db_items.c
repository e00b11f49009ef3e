/*
 * db_items.c: item operations: put, get, delete and update (with conditions and
 * ReturnValues), atomic batches, and the KeystoneDB default table.
 *
 * Every write goes through db_write.c: prepared completely before the store's writer lock
 * is taken (the item checked against DynamoDB's rules, its key against the table's schema,
 * its expressions parsed), then under the lock its current item read, its condition
 * checked and its new item computed, and everything appended as one atomic group through
 * the store's append path, whose publish hook (db.c) keeps the ordered index and the
 * counts current. Nothing is written when any step fails. This file only shapes requests
 * and results, walks a table a batch at a time for the reaper and the vector backfill
 * (kdb_walk_batch), and makes a get's store key from the live table under cat_lock
 * (table_key: no copy of the table on the read path). keel_db_get_item_attrs takes the key
 * by value (no CBOR map to write and read back, as the Python layer's get_item needs); a
 * key in the common form goes straight to the store key (kdb_item_key_attrs), any other is
 * encoded as the map it stands for and takes keel_db_get_item's path, so both calls give
 * the same results and errors.
 */
#include "db/db_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- single items ------------------------------------------------------------------------ */

static keel_status check_rv(const keel_db_write_opts *o, bool update) {
    if (o->return_values < KEEL_DB_RETURN_NONE || o->return_values > KEEL_DB_RETURN_UPDATED_NEW)
        return keel__fail(KEEL_EVALIDATION, "Return values set to invalid value");
    if (!update && o->return_values != KEEL_DB_RETURN_NONE &&
        o->return_values != KEEL_DB_RETURN_ALL_OLD)
        return keel__fail(KEEL_EVALIDATION, "ReturnValues can only be ALL_OLD or NONE");
    return KEEL_OK;
}

/* One conditional write from start to end: prepare, run, results. */
static keel_status write_one(keel_db *db, kdb_wkind kind, const char *table, const void *item,
                             size_t len, const char *update, const keel_db_write_opts *opts,
                             keel_db_buf *out) {
    if (out) out->data = NULL, out->len = 0;
    if (!db) return keel__fail(KEEL_EINVAL, "database handle is NULL");
    keel_db_write_opts o = KEEL_DB_WRITE_OPTS_INIT;
    if (opts) o = *opts;
    keel_status st = check_rv(&o, kind == KDB_W_UPDATE);
    if (st != KEEL_OK) return st;
    kdb_write *w = kdb_write_alloc();
    if (!w) return keel__fail(KEEL_ENOMEM, "a write");
    w->rv = o.return_values;
    w->rv_on_fail = o.return_old_on_condition_failure != 0;
    st = kdb_write_prepare(db, w, kind, table, item, len, update, o.condition, o.names,
                           o.names_len, o.values, o.values_len);
    if (st == KEEL_OK) st = kdb_writes_run(db, w, 1);
    if ((st == KEEL_OK || st == KEEL_ECONDITION) && out) {
        char detail[256] = "";  /* the failed condition's message, kept across the result */
        if (st != KEEL_OK) snprintf(detail, sizeof detail, "%s", keel_errmsg());
        keel_status rst = kdb_write_result(w, out);
        if (rst != KEEL_OK) st = rst;
        else if (st != KEEL_OK) keel__fail(st, "%s", detail);
    }
    kdb_write_free(w);
    free(w);
    return st;
}

keel_status keel_db_put_item(keel_db *db, const char *table, const void *item, size_t item_len) {
    return write_one(db, KDB_W_PUT, table, item, item_len, NULL, NULL, NULL);
}

keel_status keel_db_put_item_ex(keel_db *db, const char *table, const void *item,
                                size_t item_len, const keel_db_write_opts *opts,
                                keel_db_buf *out) {
    return write_one(db, KDB_W_PUT, table, item, item_len, NULL, opts, out);
}

/* kdb_table_get (db.c) and kdb_item_key(key_only) in one, for a get: the store key of the
 * key of the table named `name`, and the table's TTL attribute in ttl_out ("" when TTL is
 * off), made from the live table under cat_lock (pure computation: no other lock, no
 * allocation). A get needs nothing else of the table, and copying all of it (1.1 KB of
 * names and counts) was a sixth of the library's part of a get. Same results and errors.
 * The key is the CBOR map key[0..len) or, when attrs is not NULL, the attributes given by
 * value; those not in the common form set *general and nothing else (the caller encodes
 * them as a map and comes back). */
static keel_status table_key(keel_db *db, const char *name, const uint8_t *key, size_t len,
                             const keel_db_key_attr *attrs, size_t nattrs, bool *general,
                             kdb_key *out, char ttl_out[256]) {
    if (!db) return keel__fail(KEEL_EINVAL, "database handle is NULL");
    if (!name) return keel__fail(KEEL_EINVAL, "table name is NULL");
    pthread_rwlock_rdlock(&db->cat_lock);
    const kdb_table *t = NULL;
    for (size_t i = 0; i < db->ntables; i++) {
        if (strcmp(db->tables[i].name, name) == 0) {
            t = &db->tables[i];
            break;
        }
    }
    keel_status st = KEEL_ENOTABLE;
    if (t) {
        if (!attrs) st = kdb_item_key(t, key, len, true, out);
        else if (!kdb_item_key_attrs(t, attrs, nattrs, out, &st)) {
            *general = true;
            st = KEEL_OK;
        }
        if (t->ttl[0]) memcpy(ttl_out, t->ttl, strlen(t->ttl) + 1);
        else ttl_out[0] = '\0';
    }
    pthread_rwlock_unlock(&db->cat_lock);
    return t ? st : keel__fail(KEEL_ENOTABLE, "no table named '%.255s'", name);
}

/* The item at store key k, unless it has expired (TTL): then it is gone for readers. */
static keel_status get_at(keel_db *db, const kdb_key *k, const char *ttl, keel_view *item_out) {
    keel_status st = keel__get_intact(db->s, k->b, k->len, item_out);
    if (st != KEEL_OK) return st;
    if (ttl[0] && kdb_expired(ttl, kdb_now(db), item_out->data, item_out->len)) {
        item_out->data = NULL;
        item_out->len = 0;
        return keel__fail(KEEL_NOTFOUND, "the item has expired");
    }
    return KEEL_OK;
}

keel_status keel_db_get_item(keel_db *db, const char *table, const void *key, size_t key_len,
                             keel_view *item_out) {
    if (!item_out) return keel__fail(KEEL_EINVAL, "keel_db_get_item: item_out is NULL");
    if (!key) return keel__fail(KEEL_EINVAL, "key is NULL");
    kdb_key k;
    char ttl[256];
    keel_status st = table_key(db, table, key, key_len, NULL, 0, NULL, &k, ttl);
    if (st != KEEL_OK) return st;
    return get_at(db, &k, ttl, item_out);
}

/* The key map a key given by value stands for, as CBOR (keel_db_get_item_attrs' general
 * path: every check and message of keel_db_get_item). */
static keel_status attrs_map(const keel_db_key_attr *a, size_t n, kdb_buf *out) {
    kdb_enc_map(out, n);
    for (size_t i = 0; i < n; i++) {
        kdb_enc_text(out, a[i].name, a[i].name_len);
        switch (a[i].type) {
        case KEEL_DB_KEY_S: kdb_enc_text(out, a[i].data, a[i].len); break;
        case KEEL_DB_KEY_B: kdb_enc_bytes(out, a[i].data, a[i].len); break;
        default: kdb_enc_i64(out, a[i].n); break;
        }
    }
    return out->failed ? keel__fail(KEEL_ENOMEM, "a key of %zu attributes", n) : KEEL_OK;
}

keel_status keel_db_get_item_attrs(keel_db *db, const char *table, const keel_db_key_attr *attrs,
                                   size_t count, keel_view *item_out) {
    if (!item_out) return keel__fail(KEEL_EINVAL, "keel_db_get_item_attrs: item_out is NULL");
    if (!attrs && count) return keel__fail(KEEL_EINVAL, "keel_db_get_item_attrs: attrs is NULL");
    static const keel_db_key_attr none;  /* count 0: the empty map */
    for (size_t i = 0; i < count; i++) {
        const keel_db_key_attr *a = &attrs[i];
        if (!a->name && a->name_len)
            return keel__fail(KEEL_EINVAL, "keel_db_get_item_attrs: attrs[%zu].name is NULL", i);
        if (a->type != KEEL_DB_KEY_S && a->type != KEEL_DB_KEY_N && a->type != KEEL_DB_KEY_B)
            return keel__fail(KEEL_EINVAL, "keel_db_get_item_attrs: attrs[%zu] has invalid "
                              "type %d (S, N or B)", i, (int)a->type);
        if (a->type != KEEL_DB_KEY_N && !a->data && a->len)
            return keel__fail(KEEL_EINVAL, "keel_db_get_item_attrs: attrs[%zu].data is NULL", i);
    }
    kdb_key k;
    char ttl[256];
    bool general = false;
    keel_status st = table_key(db, table, NULL, 0, attrs ? attrs : &none, count, &general, &k,
                               ttl);
    if (st == KEEL_OK && general) {
        kdb_buf map = {0};
        st = attrs_map(attrs, count, &map);
        if (st == KEEL_OK) st = table_key(db, table, map.p, map.len, NULL, 0, NULL, &k, ttl);
        kdb_buf_free(&map);
    }
    if (st != KEEL_OK) return st;
    return get_at(db, &k, ttl, item_out);
}

keel_status keel_db_delete_item(keel_db *db, const char *table, const void *key, size_t key_len) {
    return write_one(db, KDB_W_DELETE, table, key, key_len, NULL, NULL, NULL);
}

keel_status keel_db_delete_item_ex(keel_db *db, const char *table, const void *key,
                                   size_t key_len, const keel_db_write_opts *opts,
                                   keel_db_buf *out) {
    return write_one(db, KDB_W_DELETE, table, key, key_len, NULL, opts, out);
}

keel_status keel_db_update_item(keel_db *db, const char *table, const void *key, size_t key_len,
                                const char *update, const keel_db_write_opts *opts,
                                keel_db_buf *out) {
    return write_one(db, KDB_W_UPDATE, table, key, key_len, update, opts, out);
}

static void free_writes(kdb_write *w, size_t n) {
    for (size_t i = 0; i < n; i++) kdb_write_free(&w[i]);
    free(w);
}

keel_status keel_db_batch_write(keel_db *db, const keel_db_write *writes, size_t n) {
    if (!db) return keel__fail(KEEL_EINVAL, "database handle is NULL");
    if (n == 0) return KEEL_OK;
    if (!writes) return keel__fail(KEEL_EINVAL, "keel_db_batch_write: writes is NULL");
    if (n > SIZE_MAX / sizeof(kdb_write))  /* no caller holds that many: a wrong count */
        return keel__fail(KEEL_EINVAL, "keel_db_batch_write: %zu writes", n);
    kdb_write *w = kdb_writes_alloc(n);
    if (!w) return keel__fail(KEEL_ENOMEM, "a batch of %zu writes", n);
    keel_status st = KEEL_OK;
    for (size_t i = 0; i < n && st == KEEL_OK; i++) {
        st = kdb_write_prepare(db, &w[i], writes[i].is_delete ? KDB_W_DELETE : KDB_W_PUT,
                               writes[i].table, writes[i].item, writes[i].item_len, NULL, NULL,
                               NULL, 0, NULL, 0);
        if (st != KEEL_OK) {
            char detail[400];
            snprintf(detail, sizeof detail, "%s", keel_errmsg());
            st = keel__fail(st, "batch write %zu of %zu: %s", i + 1, n, detail);
        }
    }
    if (st == KEEL_OK)
        st = kdb_writes_distinct(w, n, "Provided list of item keys contains duplicates");
    if (st == KEEL_OK) st = kdb_writes_run(db, w, n);
    free_writes(w, n);
    return st;
}

/* ---- the default table -------------------------------------------------------------------- */

keel_status keel_db_kv_put(keel_db *db, const void *pk, size_t pk_len, const void *sk,
                           size_t sk_len, const void *item, size_t item_len) {
    if (!db) return keel__fail(KEEL_EINVAL, "database handle is NULL");
    kdb_write *w = kdb_write_alloc();
    if (!w) return keel__fail(KEEL_ENOMEM, "a write");
    keel_status st = kdb_key_make_kv(pk, pk_len, sk, sk_len, &w->key);
    if (st == KEEL_OK)
        st = kdb_write_prepare(db, w, KDB_W_PUT, kdb_kv_table, item, item_len, NULL, NULL,
                               NULL, 0, NULL, 0);
    if (st == KEEL_OK) st = kdb_writes_run(db, w, 1);
    free_writes(w, 1);
    return st;
}

keel_status keel_db_kv_batch_write(keel_db *db, const keel_db_kv_write *writes, size_t n) {
    if (!db) return keel__fail(KEEL_EINVAL, "database handle is NULL");
    if (n == 0) return KEEL_OK;
    if (!writes) return keel__fail(KEEL_EINVAL, "keel_db_kv_batch_write: writes is NULL");
    if (n > SIZE_MAX / sizeof(kdb_write))
        return keel__fail(KEEL_EINVAL, "keel_db_kv_batch_write: %zu writes", n);
    kdb_write *w = kdb_writes_alloc(n);
    if (!w) return keel__fail(KEEL_ENOMEM, "a batch of %zu writes", n);
    keel_status st = KEEL_OK;
    for (size_t i = 0; i < n && st == KEEL_OK; i++) {
        const keel_db_kv_write *x = &writes[i];
        st = kdb_key_make_kv(x->pk, x->pk_len, x->sk, x->sk_len, &w[i].key);
        if (st == KEEL_OK && x->is_delete) {
            w[i].kind = KDB_W_DELETE;
            w[i].table = KDB_TABLE_KV;
        } else if (st == KEEL_OK) {
            st = kdb_write_prepare(db, &w[i], KDB_W_PUT, kdb_kv_table, x->item, x->item_len,
                                   NULL, NULL, NULL, 0, NULL, 0);
        }
        if (st != KEEL_OK) {
            char detail[400];
            snprintf(detail, sizeof detail, "%s", keel_errmsg());
            st = keel__fail(st, "batch write %zu of %zu: %s", i + 1, n, detail);
        }
    }
    if (st == KEEL_OK)
        st = kdb_writes_distinct(w, n, "Provided list of item keys contains duplicates");
    if (st == KEEL_OK) st = kdb_writes_run(db, w, n);
    free_writes(w, n);
    return st;
}

keel_status keel_db_kv_get(keel_db *db, const void *pk, size_t pk_len, const void *sk,
                           size_t sk_len, keel_view *item_out) {
    if (!db) return keel__fail(KEEL_EINVAL, "database handle is NULL");
    if (!item_out) return keel__fail(KEEL_EINVAL, "keel_db_kv_get: item_out is NULL");
    kdb_key k;
    keel_status st = kdb_key_make_kv(pk, pk_len, sk, sk_len, &k);
    if (st != KEEL_OK) return st;
    return keel__get_intact(db->s, k.b, k.len, item_out);
}

keel_status keel_db_kv_delete(keel_db *db, const void *pk, size_t pk_len, const void *sk,
                              size_t sk_len) {
    if (!db) return keel__fail(KEEL_EINVAL, "database handle is NULL");
    kdb_write *w = kdb_write_alloc();
    if (!w) return keel__fail(KEEL_ENOMEM, "a write");
    w->kind = KDB_W_DELETE;
    w->table = KDB_TABLE_KV;
    keel_status st = kdb_key_make_kv(pk, pk_len, sk, sk_len, &w->key);
    if (st == KEEL_OK) st = kdb_writes_run(db, w, 1);
    free_writes(w, 1);
    return st;
}

/* ---- walking a table a batch at a time ---------------------------------------------------- */

size_t kdb_walk_batch(keel_db *db, kdb_walk *wk, size_t scan, size_t cap,
                      bool (*pick)(const uint8_t *item, size_t len, void *ctx), void *ctx,
                      kdb_write *w) {
    if (wk->done) return 0;
    kdb_keysrc src = kdb_db_keysrc(db);
    kdb_opos pos;
    uint8_t lo[8] = {(uint8_t)(wk->id >> 24), (uint8_t)(wk->id >> 16), (uint8_t)(wk->id >> 8),
                     (uint8_t)wk->id, 0, 0, 0, 0};
    bool more = wk->started ? kdb_order_seek(db->order, wk->last.b, wk->last.len, &src, &pos)
                            : kdb_order_seek(db->order, lo, sizeof lo, &src, &pos);
    size_t n = 0;
    for (size_t seen = 0; more && n < cap && seen < scan; seen++) {
        kdb_oent e = kdb_order_get(&pos);
        if ((uint32_t)(e.prefix >> 32) != wk->id) break;
        size_t klen;
        const uint8_t *key = kdb_key_at(db->s, e.off, &klen);
        keel_snap_entry se;
        keel__entry_at(db->s->map->base, db->s->align, e.off, &se);
        /* The seek lands on the last key visited when it is still there: skip it. */
        bool again = wk->started && klen == wk->last.len && memcmp(key, wk->last.b, klen) == 0;
        if (!again && pick(db->s->map->base + se.voff, se.vlen, ctx)) {
            memset(&w[n], 0, offsetof(kdb_write, key));
            w[n].key.part_len = 0;
            memcpy(w[n].key.b, key, klen);
            w[n].key.len = klen;
            n++;
        }
        memcpy(wk->last.b, key, klen);
        wk->last.len = klen;
        wk->started = true;
        more = kdb_order_next(db->order, &pos);
    }
    if (!more || (uint32_t)(kdb_order_get(&pos).prefix >> 32) != wk->id)
        wk->done = true;
    return n;
}
