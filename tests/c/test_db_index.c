/*
 * test_db_index.c: secondary indexes and TTL through the public API.
 *
 * The invariant checked after every step (check_indexes): every index holds exactly the
 * table's items that have its key attributes with its key types, each as its projection
 * (ALL, KEYS_ONLY, INCLUDE), and a Query of the index by each partition returns them in
 * sort-key order. It is checked after random puts, updates, deletes, batches and
 * transactions (some failing), after a backfill (also cut by crashes at many points, which
 * the next open finishes), and after a crash cut at every byte of a write that moves an
 * item between index partitions (item and index entries all or nothing). TTL: a moving
 * injected clock; expired items vanish from get, query, scan, index queries and
 * transact_get at once, and the reaper deletes them with their index entries. Threads:
 * writers racing a backfill and readers of the index (small enough for TSan).
 * Items are written in db_util.h's CBOR notation.
 */
#include "db_util.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>

/* Table "t": p (S) and k (N). Indexes: byg (g S, s N, ALL), gonly (g S, KEYS_ONLY),
 * byl (local: p, l N, INCLUDE x). */
static const keel_db_schema schema = {"p", KEEL_DB_KEY_S, "k", KEEL_DB_KEY_N};
static const char *const incl[] = {"x"};
static const keel_db_index_def defs[] = {
    {"byg", 0, "g", KEEL_DB_KEY_S, "s", KEEL_DB_KEY_N, KEEL_DB_PROJECT_ALL, NULL, 0},
    {"gonly", 0, "g", KEEL_DB_KEY_S, NULL, KEEL_DB_KEY_NONE, KEEL_DB_PROJECT_KEYS_ONLY, NULL, 0},
    {"byl", 1, "p", KEEL_DB_KEY_S, "l", KEEL_DB_KEY_N, KEEL_DB_PROJECT_INCLUDE, incl, 1},
};
#define NDEFS 3

/* Attributes each index projects beyond its keys (NULL: all). */
static const char *const keys_byg[] = {NULL};
static const char *const keys_gonly[] = {"p", "k", "g", NULL};
static const char *const keys_byl[] = {"p", "k", "l", "x", NULL};

/* db_util.h's encoder has one static buffer: threads take turns. */
static pthread_mutex_t cb_mu = PTHREAD_MUTEX_INITIALIZER;
static uint8_t *cbdup_ts(const char *s, size_t *len) {
    pthread_mutex_lock(&cb_mu);
    uint8_t *p = cbdup(s, len);
    pthread_mutex_unlock(&cb_mu);
    return p;
}

static uint8_t *enc(size_t *len, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return cbdup_ts(buf, len);
}

typedef struct items {
    uint8_t **p;
    size_t *len, n;
} items;

static void items_free(items *v) {
    for (size_t i = 0; i < v->n; i++) free(v->p[i]);
    free(v->p);
    free(v->len);
    memset(v, 0, sizeof *v);
}

static keel_status collect(keel_db *db, keel_db_cursor *c, items *out) {
    keel_view v;
    keel_status st;
    memset(out, 0, sizeof *out);
    while ((st = keel_db_cursor_next(c, &v)) == KEEL_OK) {
        out->p = realloc(out->p, (out->n + 1) * sizeof *out->p);
        out->len = realloc(out->len, (out->n + 1) * sizeof *out->len);
        out->p[out->n] = malloc(v.len);
        memcpy(out->p[out->n], v.data, v.len);
        out->len[out->n++] = v.len;
    }
    (void)db;
    keel_db_cursor_free(c);
    return st == KEEL_NOTFOUND ? KEEL_OK : st;
}

static keel_status scan(keel_db *db, const char *index, items *out) {
    keel_db_query q = KEEL_DB_QUERY_INIT;
    q.index = index;
    keel_db_cursor *c;
    keel_status st = keel_db_scan_start(db, "tbl", &q, &c);
    return st == KEEL_OK ? collect(db, c, out) : st;
}

static keel_status query(keel_db *db, const char *index, const char *kc, const char *values,
                         items *out) {
    keel_db_query q = KEEL_DB_QUERY_INIT;
    size_t vl;
    uint8_t *vals = cbdup_ts(values, &vl);
    q.index = index;
    q.key_condition = kc;
    q.values = vals;
    q.values_len = vl;
    keel_db_cursor *c;
    keel_status st = keel_db_query_start(db, "tbl", &q, &c);
    if (st == KEEL_OK) st = collect(db, c, out);
    free(vals);
    return st;
}

static bool attr(const uint8_t *p, size_t len, const char *name, kdb_val *v) {
    return kdb_item_attr(p, len, name, strlen(name), v);
}

static size_t attr_count(const uint8_t *p, size_t len) {
    kdb_val m, v;
    kdb_item_open(p, len, &m);
    kdb_iter it;
    kdb_iter_init(&it, &m);
    const uint8_t *n;
    size_t nl, k = 0;
    while (kdb_iter_next(&it, &n, &nl, &v) == 1) k++;
    return k;
}

/* Is the item in index d (its key attributes present with their types)? */
static bool in_index(const keel_db_index_def *d, const uint8_t *p, size_t len) {
    kdb_val v;
    if (!attr(p, len, d->pk_name, &v) || v.type != (d->pk_type == 'S' ? KDB_S : KDB_N))
        return false;
    if (d->sk_name && (!attr(p, len, d->sk_name, &v) || v.type != (d->sk_type == 'S' ? KDB_S : KDB_N)))
        return false;
    return true;
}

/* Is `e` the projection of `item` listing `keys` (NULL first: the whole item)? */
static bool is_projection(const uint8_t *e, size_t elen, const uint8_t *item, size_t ilen,
                          const char *const *keys) {
    kdb_val a, b;
    if (!keys[0]) {
        return kdb_item_open(e, elen, &a) && kdb_item_open(item, ilen, &b) && kdb_val_equal(&a, &b);
    }
    size_t want = 0;
    for (size_t i = 0; keys[i]; i++) {
        bool hi = attr(item, ilen, keys[i], &b), he = attr(e, elen, keys[i], &a);
        if (hi != he || (hi && !kdb_val_equal(&a, &b))) return false;
        want += hi;
    }
    return attr_count(e, elen) == want;
}

static const uint8_t *get(keel_db *db, const uint8_t *item, size_t len, size_t *out_len) {
    kdb_val p, k;
    if (!attr(item, len, "p", &p) || !attr(item, len, "k", &k)) return NULL;
    kdb_buf key = {0};
    kdb_enc_map(&key, 2);
    kdb_enc_text(&key, "p", 1);
    kdb_buf_put(&key, p.p, p.len);
    kdb_enc_text(&key, "k", 1);
    kdb_buf_put(&key, k.p, k.len);
    keel_view v;
    keel_status st = keel_db_get_item(db, "tbl", key.p, key.len, &v);
    kdb_buf_free(&key);
    if (st != KEEL_OK) return NULL;
    *out_len = v.len;
    return v.data;
}

/* The invariant: each index is exactly the projections of the items that belong in it,
 * and a query per partition returns them in order. */
static void check_indexes(keel_db *db, size_t ndefs) {
    items all;
    REQUIRE_OK(scan(db, NULL, &all));
    const char *const *keys[] = {keys_byg, keys_gonly, keys_byl};
    for (size_t d = 0; d < ndefs; d++) {
        items ix;
        REQUIRE_OK(scan(db, defs[d].name, &ix));
        size_t want = 0;
        for (size_t i = 0; i < all.n; i++) want += in_index(&defs[d], all.p[i], all.len[i]);
        CHECKF(ix.n == want, "index %s: %zu entries, %zu items belong", defs[d].name, ix.n, want);
        for (size_t i = 0; i < ix.n; i++) {
            size_t ilen = 0;
            const uint8_t *item = get(db, ix.p[i], ix.len[i], &ilen);
            CHECKF(item && in_index(&defs[d], item, ilen) &&
                       is_projection(ix.p[i], ix.len[i], item, ilen, keys[d]),
                   "index %s: entry %zu is not an item's projection", defs[d].name, i);
        }
        items_free(&ix);
    }
    /* Queries of byg: each partition, in s order, and every item of it. */
    static const char *const gs[] = {"a", "b", "c"};
    for (size_t g = 0; g < 3 && ndefs > 0; g++) {
        char vals[64];
        snprintf(vals, sizeof vals, "{\":g\": \"%s\"}", gs[g]);
        items r;
        REQUIRE_OK(query(db, "byg", "g = :g", vals, &r));
        size_t want = 0;
        for (size_t i = 0; i < all.n; i++) {
            kdb_val v;
            want += in_index(&defs[0], all.p[i], all.len[i]) && attr(all.p[i], all.len[i], "g", &v) &&
                    v.size == 1 && v.data[0] == gs[g][0];
        }
        CHECKF(r.n == want, "query byg g=%s: %zu items, want %zu", gs[g], r.n, want);
        for (size_t i = 1; i < r.n; i++) {
            kdb_val a, b;
            attr(r.p[i - 1], r.len[i - 1], "s", &a);
            attr(r.p[i], r.len[i], "s", &b);
            CHECKF(kdb_val_compare(&a, &b) <= 0, "query byg g=%s: out of order at %zu", gs[g], i);
        }
        items_free(&r);
    }
    items_free(&all);
}

static keel_db *mem_db(void) {
    keel_db *db = NULL;
    if (keel_db_open_memory(NULL, &db) != KEEL_OK) return NULL;
    if (keel_db_create_table_ex(db, "tbl", &schema, defs, NDEFS) != KEEL_OK) {
        keel_db_free(db);
        return NULL;
    }
    return db;
}

/* A random item: p in q0..q2, k in 0..9, g a/b/c or missing or a number (the wrong type:
 * refused once byg exists), s, l, x sometimes. */
static uint8_t *rand_item(rng *r, size_t *len) {
    char buf[512];
    int n = snprintf(buf, sizeof buf, "{\"p\": \"q%d\", \"k\": %d", (int)rng_below(r, 3),
                     (int)rng_below(r, 10));
    uint64_t g = rng_below(r, 5);
    if (g < 3) n += snprintf(buf + n, sizeof buf - (size_t)n, ", \"g\": \"%c\"", (char)('a' + g));
    else if (g == 3) n += snprintf(buf + n, sizeof buf - (size_t)n, ", \"g\": 7");
    if (rng_below(r, 4)) n += snprintf(buf + n, sizeof buf - (size_t)n, ", \"s\": %d", (int)rng_below(r, 5));
    if (rng_below(r, 2)) n += snprintf(buf + n, sizeof buf - (size_t)n, ", \"l\": %d", (int)rng_below(r, 5));
    if (rng_below(r, 2)) n += snprintf(buf + n, sizeof buf - (size_t)n, ", \"x\": \"v%d\"", (int)rng_below(r, 9));
    if (rng_below(r, 3) == 0) n += snprintf(buf + n, sizeof buf - (size_t)n, ", \"y\": [1, 2]");
    snprintf(buf + n, sizeof buf - (size_t)n, "}");
    return cbdup_ts(buf, len);
}

static uint8_t *rand_key(rng *r, size_t *len) {
    return enc(len, "{\"p\": \"q%d\", \"k\": %d}", (int)rng_below(r, 3), (int)rng_below(r, 10));
}

/* A write's outcome: done, or refused because g (byg's key) is a number once byg exists. */
static bool done_or_mismatch(keel_status st) {
    return st == KEEL_OK ||
           (st == KEEL_EVALIDATION && strstr(keel_errmsg(), "Type mismatch for Index Key g"));
}

static void random_step(keel_db *db, rng *r) {
    size_t len, len2;
    uint8_t *a = NULL, *b = NULL;
    switch (rng_below(r, 6)) {
    case 0:
    case 1:
        a = rand_item(r, &len);
        CHECK(done_or_mismatch(keel_db_put_item(db, "tbl", a, len)));
        break;
    case 2:
        a = rand_key(r, &len);
        CHECK_OK(keel_db_delete_item(db, "tbl", a, len));
        break;
    case 3: {
        static const char *const ups[] = {"SET g = :g", "REMOVE g", "SET s = :n", "REMOVE s, l",
                                          "SET l = :n, x = :g", "SET g = :n"};
        size_t u = rng_below(r, 6), vl;
        a = rand_key(r, &len);
        uint8_t *vals = u == 1 || u == 3 ? NULL
                        : u == 0         ? enc(&vl, "{\":g\": \"%c\"}", (char)('a' + rng_below(r, 3)))
                        : u == 4         ? enc(&vl, "{\":n\": %d, \":g\": \"z\"}", (int)rng_below(r, 5))
                                         : enc(&vl, "{\":n\": %d}", (int)rng_below(r, 5));
        keel_db_write_opts o = KEEL_DB_WRITE_OPTS_INIT;
        o.values = vals;
        o.values_len = vals ? vl : 0;
        CHECK(done_or_mismatch(keel_db_update_item(db, "tbl", a, len, ups[u], &o, NULL)));
        free(vals);
        break;
    }
    case 4: {
        a = rand_item(r, &len);
        b = rand_key(r, &len2);
        keel_db_write w[2] = {{"tbl", a, len, 0}, {"tbl", b, len2, 1}};
        keel_status st = keel_db_batch_write(db, w, 2);
        CHECK(st == KEEL_OK || st == KEEL_EVALIDATION);  /* the same item twice */
        break;
    }
    case 5: {
        a = rand_item(r, &len);
        b = rand_key(r, &len2);
        keel_db_tx_write tx[2] = {KEEL_DB_TX_WRITE_INIT, KEEL_DB_TX_WRITE_INIT};
        tx[0].kind = KEEL_DB_TX_PUT, tx[0].table = "tbl", tx[0].item = a, tx[0].item_len = len;
        tx[1].kind = KEEL_DB_TX_UPDATE, tx[1].table = "tbl", tx[1].item = b, tx[1].item_len = len2;
        tx[1].update = "SET g = :g";
        tx[1].condition = "attribute_exists(p)";  /* sometimes fails: nothing is written */
        size_t vl;
        uint8_t *vals = enc(&vl, "{\":g\": \"%c\"}", (char)('a' + rng_below(r, 3)));
        tx[1].values = vals, tx[1].values_len = vl;
        keel_status st = keel_db_transact_write(db, tx, 2, NULL);
        CHECK(st == KEEL_OK || st == KEEL_ECANCELED || st == KEEL_EVALIDATION);
        free(vals);
        break;
    }
    }
    free(a);
    free(b);
}

/* ---- tests ------------------------------------------------------------------------------------ */

static void test_every_write_kind(void) {
    keel_db *db = mem_db();
    REQUIRE(db != NULL);
    rng r = rng_seed(12);
    for (int i = 0; i < 300 && !h_failures(); i++) {
        random_step(db, &r);
        if (i % 10 == 0) check_indexes(db, NDEFS);
    }
    check_indexes(db, NDEFS);
    keel_db_table_stats *st = calloc(1, sizeof *st);
    CHECK_OK(keel_db_get_stats(db, "tbl", st));
    CHECK(st->nindexes == 3 && strcmp(st->indexes[0].name, "byl") == 0 && st->indexes[0].local);
    items ix;
    REQUIRE_OK(scan(db, "byg", &ix));
    CHECK(st->indexes[1].items == ix.n && (ix.n == 0 || st->indexes[1].bytes > 0));
    items_free(&ix);
    /* Drop an index: its entries go, the others stay. */
    keel_db_table_update u = {NULL, "gonly"};
    CHECK_OK(keel_db_update_table(db, "tbl", &u));
    CHECK_ST(scan(db, "gonly", &ix), KEEL_EVALIDATION);
    CHECK_OK(keel_db_get_stats(db, "tbl", st));
    CHECK(st->nindexes == 2);
    free(st);
    keel_db_free(db);
}

static void test_sparse_and_queries(void) {
    keel_db *db = mem_db();
    REQUIRE(db != NULL);
    static const char *const its[] = {
        "{\"p\": \"a\", \"k\": 1, \"g\": \"x\", \"s\": 3, \"x\": \"i\", \"y\": 1}",
        "{\"p\": \"a\", \"k\": 2, \"g\": \"x\", \"s\": 1}",
        "{\"p\": \"a\", \"k\": 3, \"g\": \"x\"}",              /* no s: not in byg */
        "{\"p\": \"a\", \"k\": 4, \"g\": 5, \"s\": 2}",        /* g of the wrong type: refused */
        "{\"p\": \"b\", \"k\": 1, \"g\": \"x\\x00\", \"s\": 2}", /* an escaped byte */
        "{\"p\": \"b\", \"k\": 2, \"g\": \"x\", \"s\": 1}",    /* s tie: table key order */
    };
    for (size_t i = 0; i < 6; i++) {
        size_t len;
        uint8_t *it = cbdup(its[i], &len);
        if (i == 3) {   /* as DynamoDB: the write is refused, nothing is written */
            CHECK_ST(keel_db_put_item(db, "tbl", it, len), KEEL_EVALIDATION);
            CHECK(strstr(keel_errmsg(), "Type mismatch for Index Key g Expected: S Actual: N "
                                        "IndexName: byg") != NULL);
        } else {
            CHECK_OK(keel_db_put_item(db, "tbl", it, len));
        }
        free(it);
    }
    items r;
    REQUIRE_OK(query(db, "byg", "g = :g", "{\":g\": \"x\"}", &r));
    CHECK(r.n == 3);
    kdb_val v;
    static const int want_k[] = {2, 2, 1};
    for (size_t i = 0; i < r.n && i < 3; i++) {
        CHECK(attr(r.p[i], r.len[i], "k", &v) && v.p[0] == (uint8_t)want_k[i]);
    }
    items_free(&r);
    REQUIRE_OK(query(db, "byg", "g = :g AND s BETWEEN :a AND :b", "{\":g\": \"x\", \":a\": 2, \":b\": 3}", &r));
    CHECK(r.n == 1);
    items_free(&r);
    REQUIRE_OK(query(db, "byg", "g = :g AND s > :a", "{\":g\": \"x\", \":a\": 1}", &r));
    CHECK(r.n == 1);
    items_free(&r);
    REQUIRE_OK(query(db, "byg", "g = :g AND s <= :a", "{\":g\": \"x\", \":a\": 1}", &r));
    CHECK(r.n == 2);
    items_free(&r);
    REQUIRE_OK(query(db, "byg", "g = :g", "{\":g\": \"x\\x00\"}", &r));
    CHECK(r.n == 1);
    items_free(&r);
    REQUIRE_OK(query(db, "byl", "p = :p AND l >= :l", "{\":p\": \"a\", \":l\": 0}", &r));
    CHECK(r.n == 0);
    items_free(&r);
    REQUIRE_OK(query(db, "gonly", "g = :g", "{\":g\": \"x\"}", &r));
    CHECK(r.n == 4);
    for (size_t i = 0; i < r.n; i++) CHECK(attr_count(r.p[i], r.len[i]) == 3);
    items_free(&r);
    /* Errors: a key condition on the table's keys, an unknown index. */
    CHECK_ST(query(db, "byg", "p = :g", "{\":g\": \"x\"}", &r), KEEL_EVALIDATION);
    CHECK_ST(query(db, "nope", "g = :g", "{\":g\": \"x\"}", &r), KEEL_EVALIDATION);
    /* Pages: limit and start key through an index. */
    keel_db_query q = KEEL_DB_QUERY_INIT;
    size_t vl;
    uint8_t *vals = cbdup("{\":g\": \"x\"}", &vl);
    q.index = "byg", q.key_condition = "g = :g", q.values = vals, q.values_len = vl, q.limit = 2;
    keel_db_cursor *c;
    REQUIRE_OK(keel_db_query_start(db, "tbl", &q, &c));
    keel_view it, lk;
    CHECK_OK(keel_db_cursor_next(c, &it));
    CHECK_OK(keel_db_cursor_next(c, &it));
    CHECK_ST(keel_db_cursor_next(c, &it), KEEL_NOTFOUND);
    REQUIRE_OK(keel_db_cursor_last_key(c, &lk));
    CHECK(attr_count(lk.data, lk.len) == 4);
    uint8_t *start = malloc(lk.len);
    memcpy(start, lk.data, lk.len);
    q.start_key = start, q.start_key_len = lk.len, q.limit = 0;
    keel_db_cursor_free(c);
    REQUIRE_OK(keel_db_query_start(db, "tbl", &q, &c));
    CHECK_OK(keel_db_cursor_next(c, &it));
    CHECK(attr(it.data, it.len, "p", &v) && v.data[0] == 'a' && attr(it.data, it.len, "k", &v) &&
          v.p[0] == 1);
    CHECK_ST(keel_db_cursor_next(c, &it), KEEL_NOTFOUND);
    keel_db_cursor_free(c);
    free(start);
    free(vals);
    check_indexes(db, NDEFS);
    keel_db_free(db);
}

static void test_definitions(void) {
    keel_db *db = NULL;
    REQUIRE_OK(keel_db_open_memory(NULL, &db));
    keel_db_index_def d = defs[0];
    d.name = "ab";
    CHECK_ST(keel_db_create_table_ex(db, "tbl", &schema, &d, 1), KEEL_EVALIDATION);
    d = defs[2];
    keel_db_schema noskey = {"p", KEEL_DB_KEY_S, NULL, KEEL_DB_KEY_NONE};
    CHECK_ST(keel_db_create_table_ex(db, "tbl", &noskey, &d, 1), KEEL_EVALIDATION);
    d = defs[0];
    d.pk_name = "k", d.pk_type = KEEL_DB_KEY_S;  /* k is N in the table */
    CHECK_ST(keel_db_create_table_ex(db, "tbl", &schema, &d, 1), KEEL_EVALIDATION);
    keel_db_index_def two[2] = {defs[0], defs[0]};
    CHECK_ST(keel_db_create_table_ex(db, "tbl", &schema, two, 2), KEEL_EVALIDATION);
    keel_db_index_def many[6];
    char names[6][8];
    for (int i = 0; i < 6; i++) {
        many[i] = defs[2];
        snprintf(names[i], sizeof names[i], "lsi%d", i);
        many[i].name = names[i];
        many[i].projection = KEEL_DB_PROJECT_ALL, many[i].include = NULL, many[i].ninclude = 0;
    }
    CHECK_ST(keel_db_create_table_ex(db, "tbl", &schema, many, 6), KEEL_EVALIDATION);
    CHECK_OK(keel_db_create_table_ex(db, "tbl", &schema, many, 5));
    keel_db_table_update u = {&defs[2], NULL};
    CHECK_ST(keel_db_update_table(db, "tbl", &u), KEEL_EVALIDATION);  /* local: not later */
    char list[8];
    size_t n;
    char *tables;
    CHECK_OK(keel_db_list_tables(db, &tables, &n));
    CHECK(n == 1);
    free(tables);
    (void)list;
    CHECK_OK(keel_db_delete_table(db, "tbl"));
    CHECK_OK(keel_db_create_table(db, "tbl", &schema));
    keel_db_table_stats *st = calloc(1, sizeof *st);
    CHECK_OK(keel_db_get_stats(db, "tbl", st));
    CHECK(st->nindexes == 0);
    free(st);
    keel_db_free(db);
}

/* Items put before the indexes exist (over several backfill batches), then the indexes
 * added; writes keep them current afterwards. Reopen: definitions come from the catalog. */
static void test_backfill(void) {
    keel_db_options o = KEEL_DB_OPTIONS_INIT;
    keel_db *db;
    REQUIRE_OK(keel_db_open(h_path("b.keel"), &o, &db));
    REQUIRE_OK(keel_db_create_table(db, "tbl", &schema));
    rng r = rng_seed(7);
    for (int i = 0; i < 700; i++) {
        size_t len;
        uint8_t *it = enc(&len, "{\"p\": \"q%d\", \"k\": %d, \"g\": \"%c\", \"s\": %d%s}", i % 7, i,
                          (char)('a' + i % 3), i % 11, i % 5 == 0 ? ", \"x\": 1" : "");
        if (i % 4 == 0) it = (free(it), enc(&len, "{\"p\": \"q%d\", \"k\": %d}", i % 7, i));
        CHECK_OK(keel_db_put_item(db, "tbl", it, len));
        free(it);
    }
    for (size_t d = 0; d < 2; d++) {
        keel_db_table_update u = {&defs[d], NULL};
        CHECK_OK(keel_db_update_table(db, "tbl", &u));
    }
    check_indexes(db, 2);
    for (int i = 0; i < 100; i++) random_step(db, &r);
    check_indexes(db, 2);
    keel_db_free(db);
    REQUIRE_OK(keel_db_open(h_path("b.keel"), &o, &db));
    check_indexes(db, 2);
    keel_db_table_stats *st = calloc(1, sizeof *st);
    CHECK_OK(keel_db_get_stats(db, "tbl", st));
    CHECK(st->nindexes == 2 && !st->indexes[0].creating && st->indexes[0].items > 300);
    free(st);
    keel_db_free(db);
}

/* A backfill cut by a crash at many points: the next open finishes it (from the start). */
static void test_backfill_crash(void) {
    keel_db_options o = KEEL_DB_OPTIONS_INIT;
    keel_db *db;
    REQUIRE_OK(keel_db_open(h_path("c.keel"), &o, &db));
    REQUIRE_OK(keel_db_create_table(db, "tbl", &schema));
    for (int i = 0; i < 600; i++) {
        size_t len;
        uint8_t *it = enc(&len, "{\"p\": \"q%d\", \"k\": %d, \"g\": \"%c\", \"s\": %d}", i % 7, i,
                          (char)('a' + i % 3), i % 11);
        CHECK_OK(keel_db_put_item(db, "tbl", it, len));
        free(it);
    }
    REQUIRE_OK(keel_db_sync(db));
    long long before = file_size(h_path("c.keel"));
    keel_db_table_update u = {&defs[0], NULL};
    REQUIRE_OK(keel_db_update_table(db, "tbl", &u));
    keel_db_free(db);
    size_t full_len;
    uint8_t *full = read_file(h_path("c.keel"), &full_len);
    REQUIRE(full != NULL);
    size_t step = (full_len - (size_t)before) / 23 + 1;
    for (size_t cut = (size_t)before; cut <= full_len && !h_failures(); cut += step) {
        REQUIRE(write_file(h_path("d.keel"), full, cut) == 0);
        REQUIRE_OK(keel_db_open(h_path("d.keel"), &o, &db));
        keel_db_table_stats *st = calloc(1, sizeof *st);
        CHECK_OK(keel_db_get_stats(db, "tbl", st));
        CHECK(st->items == 600);
        if (st->nindexes == 1) {
            CHECK(!st->indexes[0].creating);
            check_indexes(db, 1);
        }
        free(st);
        keel_db_free(db);
    }
    free(full);
}

/* A write that moves an item from one index partition to another, cut at every byte:
 * after reopening, the item and all its index entries are old, or all new. */
static void test_crash_cut_index_write(void) {
    keel_db_options o = KEEL_DB_OPTIONS_INIT;
    keel_db *db;
    REQUIRE_OK(keel_db_open(h_path("x.keel"), &o, &db));
    REQUIRE_OK(keel_db_create_table_ex(db, "tbl", &schema, defs, NDEFS));
    size_t len;
    uint8_t *it = cbdup("{\"p\": \"a\", \"k\": 1, \"g\": \"a\", \"s\": 1, \"l\": 1, \"x\": \"o\"}", &len);
    REQUIRE_OK(keel_db_put_item(db, "tbl", it, len));
    free(it);
    REQUIRE_OK(keel_db_sync(db));
    long long before = file_size(h_path("x.keel"));
    it = cbdup("{\"p\": \"a\", \"k\": 1, \"g\": \"b\", \"s\": 2, \"x\": \"n\"}", &len);
    REQUIRE_OK(keel_db_put_item(db, "tbl", it, len));
    free(it);
    keel_db_free(db);
    size_t full_len;
    uint8_t *full = read_file(h_path("x.keel"), &full_len);
    REQUIRE(full != NULL);
    for (size_t cut = (size_t)before; cut <= full_len && !h_failures(); cut++) {
        REQUIRE(write_file(h_path("y.keel"), full, cut) == 0);
        REQUIRE_OK(keel_db_open(h_path("y.keel"), &o, &db));
        items a, b, l;
        REQUIRE_OK(query(db, "byg", "g = :g", "{\":g\": \"a\"}", &a));
        REQUIRE_OK(query(db, "byg", "g = :g", "{\":g\": \"b\"}", &b));
        REQUIRE_OK(scan(db, "byl", &l));
        bool newer = a.n == 0 && b.n == 1 && l.n == 0, older = a.n == 1 && b.n == 0 && l.n == 1;
        CHECKF(cut == full_len ? newer : older, "cut at %zu of %zu", cut, full_len);
        check_indexes(db, NDEFS);
        items_free(&a), items_free(&b), items_free(&l);
        keel_db_free(db);
    }
    free(full);
}

/* A transaction over indexed items (a put that moves one, an update, a delete), cut at
 * every byte: after reopening, all three writes and their index entries, or none. */
static void test_crash_cut_index_transaction(void) {
    keel_db_options o = KEEL_DB_OPTIONS_INIT;
    keel_db *db;
    REQUIRE_OK(keel_db_open(h_path("tx.keel"), &o, &db));
    REQUIRE_OK(keel_db_create_table_ex(db, "tbl", &schema, defs, NDEFS));
    static const char *const before_items[] = {
        "{\"p\": \"a\", \"k\": 1, \"g\": \"a\", \"s\": 1, \"l\": 1}",
        "{\"p\": \"a\", \"k\": 2, \"g\": \"a\", \"s\": 2}",
        "{\"p\": \"a\", \"k\": 3, \"g\": \"a\", \"s\": 3, \"l\": 3, \"x\": \"i\"}",
    };
    size_t len;
    for (size_t i = 0; i < 3; i++) {
        uint8_t *it = cbdup(before_items[i], &len);
        REQUIRE_OK(keel_db_put_item(db, "tbl", it, len));
        free(it);
    }
    REQUIRE_OK(keel_db_sync(db));
    long long before = file_size(h_path("tx.keel"));
    size_t l0, l1, l2, lv;
    uint8_t *put = cbdup("{\"p\": \"a\", \"k\": 1, \"g\": \"b\", \"s\": 1}", &l0);
    uint8_t *upd = cbdup("{\"p\": \"a\", \"k\": 2}", &l1);
    uint8_t *del = cbdup("{\"p\": \"a\", \"k\": 3}", &l2);
    uint8_t *vals = cbdup("{\":l\": 5}", &lv);
    keel_db_tx_write tx[3] = {KEEL_DB_TX_WRITE_INIT, KEEL_DB_TX_WRITE_INIT, KEEL_DB_TX_WRITE_INIT};
    tx[0].kind = KEEL_DB_TX_PUT, tx[0].table = "tbl", tx[0].item = put, tx[0].item_len = l0;
    tx[1].kind = KEEL_DB_TX_UPDATE, tx[1].table = "tbl", tx[1].item = upd, tx[1].item_len = l1;
    tx[1].update = "SET l = :l", tx[1].values = vals, tx[1].values_len = lv;
    tx[2].kind = KEEL_DB_TX_DELETE, tx[2].table = "tbl", tx[2].item = del, tx[2].item_len = l2;
    REQUIRE_OK(keel_db_transact_write(db, tx, 3, NULL));
    keel_db_free(db);
    free(put), free(upd), free(del), free(vals);
    size_t full_len;
    uint8_t *full = read_file(h_path("tx.keel"), &full_len);
    REQUIRE(full != NULL);
    for (size_t cut = (size_t)before; cut <= full_len && !h_failures(); cut++) {
        REQUIRE(write_file(h_path("tx2.keel"), full, cut) == 0);
        REQUIRE_OK(keel_db_open(h_path("tx2.keel"), &o, &db));
        items a, b, l;
        REQUIRE_OK(query(db, "byg", "g = :g", "{\":g\": \"a\"}", &a));
        REQUIRE_OK(query(db, "byg", "g = :g", "{\":g\": \"b\"}", &b));
        REQUIRE_OK(scan(db, "byl", &l));
        /* before: byg a = {1,2,3}, byl = {1,3}; after: byg a = {2}, b = {1}, byl = {2} */
        bool newer = a.n == 1 && b.n == 1 && l.n == 1, older = a.n == 3 && b.n == 0 && l.n == 2;
        CHECKF(cut == full_len ? newer : older, "cut at %zu of %zu: %zu %zu %zu", cut, full_len,
               a.n, b.n, l.n);
        if (cut == full_len || cut % 8 == 0) check_indexes(db, NDEFS);
        items_free(&a), items_free(&b), items_free(&l);
        keel_db_free(db);
    }
    free(full);
}

/* ---- TTL ---------------------------------------------------------------------------------------- */

static int64_t fake_now;
static int64_t fake_clock(void *ctx) {
    (void)ctx;
    return fake_now;
}

static size_t count_of_scan(keel_db *db, const char *index) {
    items v;
    if (scan(db, index, &v) != KEEL_OK) return (size_t)-1;
    size_t n = v.n;
    items_free(&v);
    return n;
}

static void test_ttl(void) {
    keel_db *db = mem_db();
    REQUIRE(db != NULL);
    keel_db_set_clock(db, fake_clock, NULL);
    fake_now = 1000;
    CHECK_OK(keel_db_update_ttl(db, "tbl", "exp"));
    for (int i = 0; i < 40; i++) {
        size_t len;
        /* exp 1010, 1020, ... for even i; odd i: no exp (never expire), or a string. */
        uint8_t *it = i % 2 == 0 ? enc(&len, "{\"p\": \"a\", \"k\": %d, \"g\": \"a\", \"s\": %d, \"exp\": %d}",
                                       i, i, 1000 + 10 * (i / 2 + 1))
                      : i % 4 == 1 ? enc(&len, "{\"p\": \"a\", \"k\": %d, \"g\": \"a\", \"s\": %d}", i, i)
                                   : enc(&len, "{\"p\": \"a\", \"k\": %d, \"g\": \"a\", \"s\": %d, \"exp\": \"1\"}", i, i);
        CHECK_OK(keel_db_put_item(db, "tbl", it, len));
        free(it);
    }
    CHECK(count_of_scan(db, NULL) == 40 && count_of_scan(db, "byg") == 40);
    fake_now = 1050;  /* exp 1010..1050: 5 expired */
    CHECK(count_of_scan(db, NULL) == 35 && count_of_scan(db, "byg") == 35 &&
          count_of_scan(db, "gonly") == 35);
    items r;
    REQUIRE_OK(query(db, "byg", "g = :g", "{\":g\": \"a\"}", &r));
    CHECK(r.n == 35);
    items_free(&r);
    REQUIRE_OK(query(db, NULL, "p = :p", "{\":p\": \"a\"}", &r));
    CHECK(r.n == 35);
    items_free(&r);
    size_t len;
    uint8_t *key = cbdup("{\"p\": \"a\", \"k\": 0}", &len);
    keel_view v;
    CHECK_ST(keel_db_get_item(db, "tbl", key, len, &v), KEEL_NOTFOUND);
    keel_db_tx_get g = {"tbl", key, len, NULL, NULL, 0};
    keel_db_buf out;
    CHECK_OK(keel_db_transact_get(db, &g, 1, &out));
    CHECK(out.data == NULL);
    /* Writers see it as absent too. */
    keel_db_write_opts o = KEEL_DB_WRITE_OPTS_INIT;
    o.condition = "attribute_not_exists(p)";
    uint8_t *again = cbdup("{\"p\": \"a\", \"k\": 0, \"g\": \"b\", \"s\": 1}", &len);
    CHECK_OK(keel_db_put_item_ex(db, "tbl", again, len, &o, NULL));
    free(again);
    CHECK(count_of_scan(db, NULL) == 36);
    check_indexes(db, NDEFS);
    /* Reap: the 4 still expired go, with their index entries. */
    keel_db_table_stats *st = calloc(1, sizeof *st);
    CHECK_OK(keel_db_get_stats(db, "tbl", st));
    CHECK(st->items == 40 && strcmp(st->ttl_attribute, "exp") == 0);
    uint64_t n = 0;
    CHECK_OK(keel_db_reap_expired(db, NULL, 0, &n));
    CHECK(n == 4);
    CHECK_OK(keel_db_get_stats(db, "tbl", st));
    CHECK(st->items == 36 && st->indexes[1].items == 36);
    fake_now = 1100;  /* 10 expired in all now (1010..1100), 5 of them reaped or rewritten */
    CHECK_OK(keel_db_reap_expired(db, "tbl", 2, &n));
    CHECK(n == 2);
    CHECK_OK(keel_db_reap_expired(db, "tbl", 0, &n));
    CHECK(n == 3);
    CHECK_OK(keel_db_get_stats(db, "tbl", st));
    CHECK(st->items == 31);
    check_indexes(db, NDEFS);
    /* Disabled: everything is visible again. */
    fake_now = 5000;
    CHECK(count_of_scan(db, NULL) == 21);
    CHECK_OK(keel_db_update_ttl(db, "tbl", NULL));
    CHECK(count_of_scan(db, NULL) == 31);
    free(st);
    free(key);
    keel_db_free(db);
}

/* ---- threads ------------------------------------------------------------------------------------ */

typedef struct racer {
    keel_db *db;
    uint64_t seed;
    int steps;
} racer;

static void *race_writer(void *arg) {
    racer *r = arg;
    rng g = rng_seed(r->seed);
    for (int i = 0; i < r->steps; i++) random_step(r->db, &g);
    return NULL;
}

/* Each index query sees whole items: every entry found has its item with those keys,
 * unless a writer moved it meanwhile (then a later read sees the new state). */
static void *race_reader(void *arg) {
    racer *r = arg;
    for (int i = 0; i < r->steps; i++) {
        items v;
        keel_status st = query(r->db, "byg", "g = :g", "{\":g\": \"a\"}", &v);
        if (st == KEEL_EVALIDATION) continue;  /* still being created */
        CHECK_OK(st);
        for (size_t k = 0; k < v.n; k++) {
            kdb_val g;
            CHECK(attr(v.p[k], v.len[k], "g", &g) && g.size == 1 && g.data[0] == 'a');
        }
        items_free(&v);
    }
    return NULL;
}

/* A global index added while writers write and readers read it: consistent afterwards. */
static void test_backfill_races_writers(void) {
    keel_db *db = NULL;
    REQUIRE_OK(keel_db_open_memory(NULL, &db));
    REQUIRE_OK(keel_db_create_table_ex(db, "tbl", &schema, &defs[2], 1));
    rng g = rng_seed(3);
    for (int i = 0; i < 200; i++) random_step(db, &g);
    racer w1 = {db, 11, 300}, w2 = {db, 12, 300}, rd = {db, 0, 100};
    pthread_t t1, t2, t3;
    REQUIRE(pthread_create(&t1, NULL, race_writer, &w1) == 0);
    REQUIRE(pthread_create(&t2, NULL, race_writer, &w2) == 0);
    REQUIRE(pthread_create(&t3, NULL, race_reader, &rd) == 0);
    keel_db_table_update u = {&defs[0], NULL};
    CHECK_OK(keel_db_update_table(db, "tbl", &u));
    keel_db_table_update u2 = {&defs[1], NULL};
    CHECK_OK(keel_db_update_table(db, "tbl", &u2));
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    pthread_join(t3, NULL);
    /* defs[2] (byl) was first, then byg and gonly: check_indexes wants defs order. */
    check_indexes(db, NDEFS);
    keel_db_free(db);
}

int main(int argc, char **argv) {
    static const h_test tests[] = {
        H_TEST(test_every_write_kind),
        H_TEST(test_sparse_and_queries),
        H_TEST(test_definitions),
        H_TEST(test_backfill),
        H_TEST(test_backfill_crash),
        H_TEST(test_crash_cut_index_write),
        H_TEST(test_crash_cut_index_transaction),
        H_TEST(test_ttl),
        H_TEST(test_backfill_races_writers),
    };
    return h_main(argc, argv, tests, H_COUNT(tests));
}
