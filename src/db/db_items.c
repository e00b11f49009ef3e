/*
 * db_items.c: item operations: put, get, delete, atomic batches, and the KeystoneDB
 * default table.
 *
 * Every write is prepared completely before the store's writer lock is taken: the item is
 * checked against DynamoDB's rules (item.c), its key attributes against the table's schema,
 * its store key made (key.c) and its stored form encoded. Under the writer lock the tables
 * named by the keys are checked to still exist (a concurrent delete_table could otherwise
 * leave an orphan), then everything is appended as one atomic group through the store's
 * append path, whose publish hook (db.c) keeps the ordered index and the counts current.
 * Nothing is written when any step fails.
 */
#include "db/db_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- keys -------------------------------------------------------------------------------- */

/* Count the attributes of a key map and check it names only the schema's keys. */
static keel_status check_key_only(const kdb_table *t, const uint8_t *key, size_t len) {
    kdb_val m, v;
    if (!kdb_item_open(key, len, &m))
        return keel__fail(KEEL_EVALIDATION, "the key must be a map of attribute names to values");
    kdb_iter it;
    kdb_iter_init(&it, &m);
    const uint8_t *name;
    size_t nlen;
    int r;
    while ((r = kdb_iter_next(&it, &name, &nlen, &v)) == 1) {
        bool is_pk = nlen == strlen(t->pk) && memcmp(name, t->pk, nlen) == 0;
        bool is_sk = t->skt && nlen == strlen(t->sk) && memcmp(name, t->sk, nlen) == 0;
        if (!is_pk && !is_sk)
            return keel__fail(KEEL_EVALIDATION, "The provided key element does not match the "
                              "schema: '%.*s' is not a key attribute of table %s",
                              (int)(nlen > 255 ? 255 : nlen), (const char *)name, t->name);
    }
    if (r < 0) return keel__fail(KEEL_EVALIDATION, "the key is not a valid item encoding");
    return KEEL_OK;
}

/* DynamoDB's message for a key attribute of the wrong type, naming the attribute. */
static keel_status check_key_type(const char *name, keel_db_keytype want, const kdb_val *v) {
    kdb_type w = want == KEEL_DB_KEY_S ? KDB_S : want == KEEL_DB_KEY_N ? KDB_N : KDB_B;
    if (v->type == w) return KEEL_OK;
    return keel__fail(KEEL_EVALIDATION, "One or more parameter values were invalid: Type mismatch "
                      "for key %s expected: %s actual: %s", name, kdb_type_name(w),
                      kdb_type_name(v->type));
}

/* The store key of an item (or of a key map) of table `t`. */
keel_status kdb_item_key(const kdb_table *t, const uint8_t *item, size_t len, bool key_only,
                         kdb_key *out) {
    if (key_only) {
        size_t size;
        keel_status st = kdb_item_check(item, len, &size);
        if (st == KEEL_OK) st = check_key_only(t, item, len);
        if (st != KEEL_OK) return st;
    }
    kdb_val pk, sk;
    if (!kdb_item_attr(item, len, t->pk, strlen(t->pk), &pk))
        return keel__fail(KEEL_EVALIDATION, "One or more parameter values were invalid: Missing "
                          "the key %s in the %s", t->pk, key_only ? "key" : "item");
    if (t->skt && !kdb_item_attr(item, len, t->sk, strlen(t->sk), &sk))
        return keel__fail(KEEL_EVALIDATION, "One or more parameter values were invalid: Missing "
                          "the key %s in the %s", t->sk, key_only ? "key" : "item");
    keel_status st = check_key_type(t->pk, t->pkt, &pk);
    if (st == KEEL_OK && t->skt) st = check_key_type(t->sk, t->skt, &sk);
    if (st != KEEL_OK) return st;
    return kdb_key_make(t->id, t->pkt, &pk, t->skt, t->skt ? &sk : NULL, out);
}

/* ---- the write path ---------------------------------------------------------------------- */

/* A write ready to append: its key and its stored value (NULL for a delete). */
typedef struct prepared {
    kdb_key key;
    kdb_buf value;
    bool is_delete;
} prepared;

static void prepared_free(prepared *p, size_t n) {
    for (size_t i = 0; i < n; i++) kdb_buf_free(&p[i].value);
    free(p);
}

static keel_status prepare_put(const kdb_table *t, const void *item, size_t len, prepared *out) {
    if (!item) return keel__fail(KEEL_EINVAL, "item is NULL");
    size_t size;
    keel_status st = kdb_item_check(item, len, &size);
    if (st == KEEL_OK) st = kdb_item_key(t, item, len, false, &out->key);
    if (st == KEEL_OK) st = kdb_item_store_form(item, len, &out->value);
    out->is_delete = false;
    return st;
}

static keel_status prepare_delete(const kdb_table *t, const void *key, size_t len,
                                  prepared *out) {
    if (!key) return keel__fail(KEEL_EINVAL, "key is NULL");
    out->is_delete = true;
    return kdb_item_key(t, key, len, true, &out->key);
}

static int cmp_prepared(const void *a, const void *b) {
    const kdb_key *x = &(*(const prepared *const *)a)->key, *y = &(*(const prepared *const *)b)->key;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->b, y->b, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Append the prepared writes as one group. Deletes of absent items are dropped (DynamoDB's
 * delete of a missing item succeeds and changes nothing). */
static keel_status append_prepared(keel_db *db, prepared *p, size_t n) {
    keel_append_item one, *items = n == 1 ? &one : calloc(n, sizeof *items);
    if (!items) return keel__fail(KEEL_ENOMEM, "a batch of %zu writes", n);
    keel_status st = keel__writer_enter(db->s);
    if (st != KEEL_OK) goto out;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t table;
        kdb_key_table(p[i].key.b, p[i].key.len, &table);
        if (!kdb_table_by_id(db, table)) {
            st = keel__fail(KEEL_ENOTABLE, "the table was deleted");
            goto leave;
        }
        uint64_t h = keel_hash(p[i].key.b, p[i].key.len);
        if (p[i].is_delete) {
            keel_hit hit;
            if (!keel__index_find(db->s, h, p[i].key.b, p[i].key.len, &hit) || hit.dead) continue;
        }
        items[m++] = (keel_append_item){
            .key = p[i].key.b, .key_len = (uint32_t)p[i].key.len,
            .value = p[i].is_delete ? NULL : p[i].value.p,
            .value_len = p[i].is_delete ? 0 : p[i].value.len,
            .flags = p[i].is_delete ? KEEL_FLAG_TOMBSTONE : 0, .src_fd = -1, .hash = h};
    }
    st = keel__append_group(db->s, items, m);
leave:
    keel__writer_leave(db->s);
out:
    if (items != &one) free(items);
    return st;
}

/* ---- single items ------------------------------------------------------------------------ */

keel_status keel_db_put_item(keel_db *db, const char *table, const void *item, size_t item_len) {
    kdb_table t;
    keel_status st = kdb_table_get(db, table, &t);
    if (st != KEEL_OK) return st;
    prepared p = {0};
    st = prepare_put(&t, item, item_len, &p);
    if (st == KEEL_OK) st = append_prepared(db, &p, 1);
    kdb_buf_free(&p.value);
    return st;
}

keel_status keel_db_get_item(keel_db *db, const char *table, const void *key, size_t key_len,
                             keel_view *item_out) {
    if (!item_out) return keel__fail(KEEL_EINVAL, "keel_db_get_item: item_out is NULL");
    if (!key) return keel__fail(KEEL_EINVAL, "key is NULL");
    kdb_table t;
    keel_status st = kdb_table_get(db, table, &t);
    if (st != KEEL_OK) return st;
    kdb_key k;
    if ((st = kdb_item_key(&t, key, key_len, true, &k)) != KEEL_OK) return st;
    return keel_get(db->s, k.b, k.len, item_out);
}

keel_status keel_db_delete_item(keel_db *db, const char *table, const void *key, size_t key_len) {
    kdb_table t;
    keel_status st = kdb_table_get(db, table, &t);
    if (st != KEEL_OK) return st;
    prepared p = {0};
    st = prepare_delete(&t, key, key_len, &p);
    if (st == KEEL_OK) st = append_prepared(db, &p, 1);
    return st;
}

/* Two writes to one item are refused, as DynamoDB does. Sorting pointers keeps the caller's
 * order for the append. */
static keel_status check_duplicates(prepared *p, size_t n) {
    if (n < 2) return KEEL_OK;
    prepared **sorted = malloc(n * sizeof *sorted);
    if (!sorted) return keel__fail(KEEL_ENOMEM, "a batch of %zu writes", n);
    keel_status st = KEEL_OK;
    for (size_t i = 0; i < n; i++) sorted[i] = &p[i];
    qsort(sorted, n, sizeof *sorted, cmp_prepared);
    for (size_t i = 1; i < n && st == KEEL_OK; i++)
        if (cmp_prepared(&sorted[i - 1], &sorted[i]) == 0)
            st = keel__fail(KEEL_EVALIDATION, "Provided list of item keys contains duplicates");
    free(sorted);
    return st;
}

keel_status keel_db_batch_write(keel_db *db, const keel_db_write *writes, size_t n) {
    if (!db) return keel__fail(KEEL_EINVAL, "database handle is NULL");
    if (n == 0) return KEEL_OK;
    if (!writes) return keel__fail(KEEL_EINVAL, "keel_db_batch_write: writes is NULL");
    prepared *p = calloc(n, sizeof *p);
    if (!p) return keel__fail(KEEL_ENOMEM, "a batch of %zu writes", n);
    keel_status st = KEEL_OK;
    for (size_t i = 0; i < n && st == KEEL_OK; i++) {
        kdb_table t;
        st = kdb_table_get(db, writes[i].table, &t);
        if (st == KEEL_OK)
            st = writes[i].is_delete ? prepare_delete(&t, writes[i].item, writes[i].item_len, &p[i])
                                     : prepare_put(&t, writes[i].item, writes[i].item_len, &p[i]);
        if (st != KEEL_OK) {
            char detail[400];
            snprintf(detail, sizeof detail, "%s", keel_errmsg());
            st = keel__fail(st, "batch write %zu of %zu: %s", i + 1, n, detail);
        }
    }
    if (st == KEEL_OK) st = check_duplicates(p, n);
    if (st == KEEL_OK) st = append_prepared(db, p, n);
    prepared_free(p, n);
    return st;
}

/* ---- the default table -------------------------------------------------------------------- */

keel_status keel_db_kv_put(keel_db *db, const void *pk, size_t pk_len, const void *sk,
                           size_t sk_len, const void *item, size_t item_len) {
    if (!db) return keel__fail(KEEL_EINVAL, "database handle is NULL");
    if (!item) return keel__fail(KEEL_EINVAL, "item is NULL");
    prepared p = {0};
    size_t size;
    keel_status st = kdb_item_check(item, item_len, &size);
    if (st == KEEL_OK) st = kdb_key_make_kv(pk, pk_len, sk, sk_len, &p.key);
    if (st == KEEL_OK) st = kdb_item_store_form(item, item_len, &p.value);
    if (st == KEEL_OK) st = append_prepared(db, &p, 1);
    kdb_buf_free(&p.value);
    return st;
}

keel_status keel_db_kv_get(keel_db *db, const void *pk, size_t pk_len, const void *sk,
                           size_t sk_len, keel_view *item_out) {
    if (!db) return keel__fail(KEEL_EINVAL, "database handle is NULL");
    if (!item_out) return keel__fail(KEEL_EINVAL, "keel_db_kv_get: item_out is NULL");
    kdb_key k;
    keel_status st = kdb_key_make_kv(pk, pk_len, sk, sk_len, &k);
    if (st != KEEL_OK) return st;
    return keel_get(db->s, k.b, k.len, item_out);
}

keel_status keel_db_kv_delete(keel_db *db, const void *pk, size_t pk_len, const void *sk,
                              size_t sk_len) {
    if (!db) return keel__fail(KEEL_EINVAL, "database handle is NULL");
    prepared p = {.is_delete = true};
    keel_status st = kdb_key_make_kv(pk, pk_len, sk, sk_len, &p.key);
    if (st == KEEL_OK) st = append_prepared(db, &p, 1);
    return st;
}

keel_status keel_db_kv_batch_write(keel_db *db, const keel_db_kv_write *writes, size_t n) {
    if (!db) return keel__fail(KEEL_EINVAL, "database handle is NULL");
    if (n == 0) return KEEL_OK;
    if (!writes) return keel__fail(KEEL_EINVAL, "keel_db_kv_batch_write: writes is NULL");
    prepared *p = calloc(n, sizeof *p);
    if (!p) return keel__fail(KEEL_ENOMEM, "a batch of %zu writes", n);
    keel_status st = KEEL_OK;
    for (size_t i = 0; i < n && st == KEEL_OK; i++) {
        const keel_db_kv_write *w = &writes[i];
        size_t size;
        p[i].is_delete = w->is_delete != 0;
        st = kdb_key_make_kv(w->pk, w->pk_len, w->sk, w->sk_len, &p[i].key);
        if (st == KEEL_OK && !w->is_delete) {
            if (!w->item) st = keel__fail(KEEL_EINVAL, "item is NULL");
            if (st == KEEL_OK) st = kdb_item_check(w->item, w->item_len, &size);
            if (st == KEEL_OK) st = kdb_item_store_form(w->item, w->item_len, &p[i].value);
        }
        if (st != KEEL_OK) {
            char detail[400];
            snprintf(detail, sizeof detail, "%s", keel_errmsg());
            st = keel__fail(st, "batch write %zu of %zu: %s", i + 1, n, detail);
        }
    }
    if (st == KEEL_OK) st = check_duplicates(p, n);
    if (st == KEEL_OK) st = append_prepared(db, p, n);
    prepared_free(p, n);
    return st;
}
