/*
 * test_db_vector_gaps.c: the vector indexes' semantics at the edges, on the C API.
 *
 * Writes (src/db/vec_write.c): a put and an update of an indexed attribute store an L of N
 * of the index's dimensions as a float32 vector (and the index finds it); a wrong length, a
 * non-number, a number outside float32's range, a value that is not a list are
 * KEEL_EVALIDATION with DynamoDB's wording; an update checks only what it changes (an item
 * stored before the index, with a vector of another length, stays updatable); REMOVE takes
 * the item out of the index; creating an index stores the lists of its length already there
 * as vectors (and leaves other values alone). Checkpoints (src/db/vec_hnsw_ckpt.c): dropping a vector index
 * or deleting its table leaves no live checkpoint chunk (the tombstones are in the drop's
 * own group), and compaction drops chunks no index owns. The SearchSchema's element types
 * (HASH, INLINE_FILTER) are stored and survive reopen and compaction.
 */
#include "db_util.h"
#include "db/db_internal.h"
#include "db/vec_hnsw.h"

#include <stdlib.h>

static const keel_db_schema schema = {"p", KEEL_DB_KEY_S, NULL, KEEL_DB_KEY_NONE};

static keel_db_vector_index_def def3(const char *name) {
    keel_db_vector_index_def d = {name, "v", 3, KEEL_DB_EUCLIDEAN, KEEL_DB_PROJECT_ALL,
                                  NULL, 0, NULL, 0, 0, 0, NULL};
    return d;
}

static keel_status put(keel_db *db, const char *notation) {
    size_t len;
    const uint8_t *it = cb(notation, &len);
    return keel_db_put_item(db, "tbl", it, len);
}

static keel_status update(keel_db *db, const char *pk, const char *expr, const char *values) {
    char key[64];
    snprintf(key, sizeof key, "{\"p\": \"%s\"}", pk);
    size_t klen, vlen = 0;
    uint8_t *k = cbdup(key, &klen), *v = values ? cbdup(values, &vlen) : NULL;
    keel_db_write_opts o = KEEL_DB_WRITE_OPTS_INIT;
    o.values = v, o.values_len = vlen;
    keel_status st = keel_db_update_item(db, "tbl", k, klen, expr, &o, NULL);
    free(k);
    free(v);
    return st;
}

/* The stored attribute v of item pk: its type and, for a vector, its elements. */
static kdb_type stored_v(keel_db *db, const char *pk, float *out) {
    char key[64];
    snprintf(key, sizeof key, "{\"p\": \"%s\"}", pk);
    size_t klen;
    const uint8_t *k = cb(key, &klen);
    keel_view it;
    kdb_val v;
    if (keel_db_get_item(db, "tbl", k, klen, &it) != KEEL_OK ||
        !kdb_item_attr(it.data, it.len, "v", 1, &v))
        return 0;
    if (v.type == KDB_V && out) memcpy(out, v.data, v.size);
    return v.type;
}

static size_t found(keel_db *db, const char *index, float x, float y, float z) {
    float q[3] = {x, y, z};
    keel_db_hit h[10];
    size_t n = 0;
    if (keel_db_search(db, "tbl", index, q, 3, 10, NULL, h, &n) != KEEL_OK) return SIZE_MAX;
    keel_db_hits_free(h, n);
    return n;
}

static void test_writes_store_vectors(void) {
    keel_db *db = NULL;
    REQUIRE_OK(keel_db_open_memory(NULL, &db));
    REQUIRE_OK(keel_db_create_table(db, "tbl", &schema));
    REQUIRE_OK(put(db, "{\"p\": \"old\", \"v\": [1, 2]}"));    /* before the index: stored */
    REQUIRE_OK(put(db, "{\"p\": \"early\", \"v\": [7, 8, 9]}"));
    REQUIRE_OK(put(db, "{\"p\": \"odd\", \"v\": [7, \"x\", 9]}"));
    CHECK_EQ(stored_v(db, "early", NULL), KDB_L);
    keel_db_vector_index_def d = def3("vix");
    REQUIRE_OK(keel_db_create_vector_index(db, "tbl", &d));
    /* the index's backfill stores a list of its length as a vector, and leaves the rest */
    CHECK_EQ(stored_v(db, "early", NULL), KDB_V);
    CHECK_EQ(stored_v(db, "odd", NULL), KDB_L);
    CHECK_EQ(stored_v(db, "old", NULL), KDB_L);
    CHECK_EQ(found(db, "vix", 0, 0, 0), 1);
    size_t ekl;
    const uint8_t *ek = cb("{\"p\": \"early\"}", &ekl);
    REQUIRE_OK(keel_db_delete_item(db, "tbl", ek, ekl));
    CHECK_EQ(found(db, "vix", 0, 0, 0), 0);
    /* a put of an L of N: stored as a float32 vector, indexed */
    CHECK_OK(put(db, "{\"p\": \"a\", \"v\": [1, d\"2.5\", -3]}"));
    float f[3] = {0};
    CHECK_EQ(stored_v(db, "a", f), KDB_V);
    CHECK(f[0] == 1.0f && f[1] == 2.5f && f[2] == -3.0f);
    /* an update's SET: the same */
    CHECK_OK(update(db, "b", "SET v = :v", "{\":v\": [4, 5, 6]}"));
    CHECK_EQ(stored_v(db, "b", f), KDB_V);
    CHECK(f[0] == 4.0f && f[2] == 6.0f);
    CHECK_OK(update(db, "b", "SET v[1] = :x", "{\":x\": d\"0.5\"}"));  /* as a list */
    CHECK_EQ(stored_v(db, "b", f), KDB_V);
    CHECK(f[0] == 4.0f && f[1] == 0.5f && f[2] == 6.0f);
    CHECK_ST(update(db, "b", "REMOVE v[0]", NULL), KEEL_EVALIDATION);
    CHECK(strstr(keel_errmsg(), "Expected: 3, Actual: 2") != NULL);
    CHECK_EQ(found(db, "vix", 0, 0, 0), 2);
    /* refusals, and nothing written */
    CHECK_ST(put(db, "{\"p\": \"c\", \"v\": [1, 2]}"), KEEL_EVALIDATION);
    CHECK(strstr(keel_errmsg(), "Invalid size for parameter v, Expected: 3, Actual: 2") != NULL);
    CHECK(strstr(keel_errmsg(), "dimensions of vector index vix") != NULL);
    CHECK_ST(update(db, "c", "SET v = :v", "{\":v\": [1, \"x\", 3]}"), KEEL_EVALIDATION);
    CHECK(strstr(keel_errmsg(), "v[1], Expected: 32-bit floating point number, Actual: S") != NULL);
    CHECK_ST(update(db, "c", "SET v = :v", "{\":v\": [d\"1e39\", 0, 0]}"), KEEL_EVALIDATION);
    CHECK(strstr(keel_errmsg(), "outside the float32 range") != NULL);
    CHECK_ST(put(db, "{\"p\": \"c\", \"v\": \"text\"}"), KEEL_EVALIDATION);
    CHECK(strstr(keel_errmsg(), "Expected: L, Actual: S. IndexName: vix") != NULL);
    CHECK_EQ(stored_v(db, "c", NULL), 0);
    CHECK_EQ(found(db, "vix", 0, 0, 0), 2);
    /* float32's largest finite value is in range; beyond it is not */
    CHECK_OK(put(db, "{\"p\": \"c\", \"v\": [d\"3.4028235e38\", d\"-3.4028235e38\", d\"1e-50\"]}"));
    CHECK_EQ(stored_v(db, "c", f), KDB_V);
    CHECK(f[0] == 3.4028234663852886e38f && f[2] == 0.0f);
    size_t ckl;
    const uint8_t *ck = cb("{\"p\": \"c\"}", &ckl);
    CHECK_OK(keel_db_delete_item(db, "tbl", ck, ckl));
    /* an update that does not change v leaves the old, other-length list alone */
    CHECK_OK(update(db, "old", "SET g = :g", "{\":g\": 1}"));
    CHECK_EQ(stored_v(db, "old", NULL), KDB_L);
    CHECK_OK(update(db, "old", "SET v = :v", "{\":v\": [1, 2]}"));    /* the same value */
    CHECK_ST(update(db, "old", "SET v = :v", "{\":v\": [1, 3]}"), KEEL_EVALIDATION);
    /* REMOVE takes the item out of the index */
    CHECK_OK(update(db, "a", "REMOVE v", NULL));
    CHECK_EQ(found(db, "vix", 0, 0, 0), 1);
    /* a transaction's put and update are converted too */
    keel_db_tx_write tx[2];
    memset(tx, 0, sizeof tx);
    size_t l0, l1, l2;
    uint8_t *i0 = cbdup("{\"p\": \"t0\", \"v\": [1, 1, 1]}", &l0);
    uint8_t *k1 = cbdup("{\"p\": \"t1\"}", &l1), *v1 = cbdup("{\":v\": [2, 2, 2]}", &l2);
    tx[0].kind = KEEL_DB_TX_PUT, tx[0].table = "tbl", tx[0].item = i0, tx[0].item_len = l0;
    tx[1].kind = KEEL_DB_TX_UPDATE, tx[1].table = "tbl", tx[1].item = k1, tx[1].item_len = l1;
    tx[1].update = "SET v = :v", tx[1].values = v1, tx[1].values_len = l2;
    CHECK_OK(keel_db_transact_write(db, tx, 2, NULL));
    CHECK_EQ(stored_v(db, "t0", NULL), KDB_V);
    CHECK_EQ(stored_v(db, "t1", NULL), KDB_V);
    CHECK_EQ(found(db, "vix", 0, 0, 0), 3);
    free(i0);
    free(k1);
    free(v1);
    keel_db_free(db);
}

/* Live checkpoint chunk entries (table id 2) in db's file. */
static size_t live_chunks(keel_db *db) {
    uint64_t *tr = NULL;
    size_t n = 0, c = 0;
    if (keel__snapshot_trailers(db->s, &tr, &n) != KEEL_OK) return SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        keel_snap_entry e;
        keel__entry_at(db->s->map->base, db->s->align, tr[i], &e);
        const uint8_t *k = db->s->map->base + e.voff + e.vlen;
        c += e.klen >= 4 && memcmp(k, "\0\0\0\x02", 4) == 0;
    }
    free(tr);
    return c;
}

static keel_db *open_db(void) {
    keel_db_options o = KEEL_DB_OPTIONS_INIT;
    keel_db *db = NULL;
    return keel_db_open(h_path("g.keel"), &o, &db) == KEEL_OK ? db : NULL;
}

/* Table "tbl" with indexes vix and vix2 over 40 items, their graphs built and checkpointed,
 * into *out (reopened). */
static void with_checkpoints(keel_db **out) {
    remove(h_path("g.keel"));
    keel_db *db = open_db();
    *out = NULL;
    REQUIRE(db != NULL);
    REQUIRE_OK(keel_db_create_table(db, "tbl", &schema));
    keel_db_vector_index_def d = def3("vix"), d2 = def3("vix2");
    REQUIRE_OK(keel_db_create_vector_index(db, "tbl", &d));
    REQUIRE_OK(keel_db_create_vector_index(db, "tbl", &d2));
    rng r = rng_seed(3);
    for (int i = 0; i < 40; i++) {
        char item[128];
        snprintf(item, sizeof item, "{\"p\": \"i%d\", \"v\": [%d, %d, %d]}", i,
                 (int)rng_below(&r, 100), (int)rng_below(&r, 100), (int)rng_below(&r, 100));
        REQUIRE_OK(put(db, item));
    }
    float q[3] = {1, 2, 3};
    keel_db_hit h[5];
    size_t n;
    keel_db_search_opts so = KEEL_DB_SEARCH_OPTS_INIT;
    so.ef = 16;
    REQUIRE_OK(keel_db_search(db, "tbl", "vix", q, 3, 5, &so, h, &n));
    keel_db_hits_free(h, n);
    REQUIRE_OK(keel_db_search(db, "tbl", "vix2", q, 3, 5, &so, h, &n));
    keel_db_hits_free(h, n);
    REQUIRE_OK(keel_db_close(db));
    keel_db_free(db);
    REQUIRE((db = open_db()) != NULL);
    CHECK_EQ(live_chunks(db), 2);
    *out = db;
}

static void test_drops_reclaim_checkpoints(void) {
    keel_db *db;
    with_checkpoints(&db);
    REQUIRE(db != NULL);
    CHECK_OK(keel_db_drop_vector_index(db, "tbl", "vix"));
    CHECK_EQ(live_chunks(db), 1);
    CHECK_OK(keel_db_delete_table(db, "tbl"));
    CHECK_EQ(live_chunks(db), 0);
    keel_db_free(db);
    /* an orphan (a chunk whose index is gone) is dropped by compaction */
    with_checkpoints(&db);
    REQUIRE(db != NULL);
    uint8_t key[16] = {0, 0, 0, 2, 0, 0, 1, 0, 0, 0, 0, 0, 'g', 'o', 'n', 'e'};
    keel_append_item it = {.key = key, .key_len = sizeof key, .value = (const uint8_t *)"x",
                           .value_len = 1, .src_fd = -1, .hash = keel_hash(key, sizeof key)};
    REQUIRE_OK(keel__writer_enter(db->s));
    REQUIRE_OK(keel__append_group(db->s, &it, 1));
    keel__writer_leave(db->s);
    CHECK_EQ(live_chunks(db), 3);
    CHECK_OK(keel_db_compact(db, NULL, NULL));
    CHECK_EQ(live_chunks(db), 2);
    keel_db_free(db);
    REQUIRE((db = open_db()) != NULL);
    CHECK_EQ(live_chunks(db), 2);
    keel_db_vector_index_info info[2];
    size_t n;
    float q[3] = {1, 2, 3};
    keel_db_hit h[5];
    keel_db_search_opts so = KEEL_DB_SEARCH_OPTS_INIT;
    so.ef = 16;
    CHECK_OK(keel_db_search(db, "tbl", "vix", q, 3, 5, &so, h, &n));
    keel_db_hits_free(h, n);
    CHECK_OK(keel_db_list_vector_indexes(db, "tbl", info, 2, &n));
    CHECK_EQ(info[0].graph, KEEL_DB_GRAPH_LOADED);
    keel_db_free(db);
}

/* The SearchSchema's element types are stored (HASH for at most one attribute). */
static void test_search_schema_kinds(void) {
    remove(h_path("k.keel"));
    keel_db_options o = KEEL_DB_OPTIONS_INIT;
    keel_db *db = NULL;
    REQUIRE_OK(keel_db_open(h_path("k.keel"), &o, &db));
    REQUIRE_OK(keel_db_create_table(db, "tbl", &schema));
    const char *attrs[] = {"cat", "shop", "cat"};
    keel_db_search_kind kinds[] = {KEEL_DB_INLINE_FILTER, KEEL_DB_HASH, KEEL_DB_HASH};
    keel_db_vector_index_def d = def3("vix");
    d.filter_attributes = attrs, d.nfilter = 3, d.filter_kinds = kinds;
    CHECK_ST(keel_db_create_vector_index(db, "tbl", &d), KEEL_EVALIDATION);  /* cat twice */
    CHECK(strstr(keel_errmsg(), "SearchSchema attribute cat twice") != NULL);
    const char *attrs2[] = {"cat", "shop", "size"};
    d.filter_attributes = attrs2;
    CHECK_ST(keel_db_create_vector_index(db, "tbl", &d), KEEL_EVALIDATION);  /* two HASH */
    CHECK(strstr(keel_errmsg(), "2 SearchSchema elements of type HASH") != NULL);
    kinds[2] = (keel_db_search_kind)7;
    CHECK_ST(keel_db_create_vector_index(db, "tbl", &d), KEEL_EVALIDATION);
    kinds[2] = KEEL_DB_INLINE_FILTER;
    CHECK_OK(keel_db_create_vector_index(db, "tbl", &d));
    keel_db_vector_index_def plain = def3("plain");
    plain.filter_attributes = attrs2, plain.nfilter = 2;   /* no kinds: INLINE_FILTER */
    CHECK_OK(keel_db_create_vector_index(db, "tbl", &plain));
    for (int round = 0; round < 3; round++) {   /* as created, reopened, compacted */
        char *f = NULL, *inc = NULL, hash[256];
        size_t nf, ni;
        CHECK_OK(kdb_vec_schema(db, "tbl", "vix", &f, &nf, &inc, &ni, hash));
        CHECK_EQ(nf, 3);
        CHECK(strcmp(hash, "shop") == 0);
        free(f);
        free(inc);
        CHECK_OK(kdb_vec_schema(db, "tbl", "plain", &f, &nf, &inc, &ni, hash));
        CHECK_EQ(nf, 2);
        CHECK(hash[0] == 0);
        free(f);
        free(inc);
        if (round == 0) {
            keel_db_free(db);
            REQUIRE_OK(keel_db_open(h_path("k.keel"), &o, &db));
        } else if (round == 1) {
            CHECK_OK(keel_db_compact(db, NULL, NULL));
        }
    }
    keel_db_free(db);
}

int main(int argc, char **argv) {
    setenv("KEEL_DB_HNSW_MIN_ITEMS", "10", 1);
    static const h_test tests[] = {
        H_TEST(test_writes_store_vectors),
        H_TEST(test_drops_reclaim_checkpoints),
        H_TEST(test_search_schema_kinds),
    };
    return h_main(argc, argv, tests, H_COUNT(tests));
}
