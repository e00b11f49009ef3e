/*
 * test_db_vector.c: vector indexes and exact vector search (src/db/vector.c, vec_search.c,
 * vec_kernels*.c).
 *
 * The kernels themselves are tested by test_vec_kernels.c. Searches are compared with a
 * brute-force model in double precision: for random items (some without the vector or with
 * another length), three indexes (COSINE, EUCLIDEAN, DOT_PRODUCT) over the same attribute,
 * single and batch searches, one thread and several, with and without filters; each
 * returned score must equal the model's score of that item and the sequence of scores the
 * model's best k. Adversarial data: all vectors equal (ties), zero vectors under cosine,
 * dimension 1 and 4096. Consistency: after puts, updates, deletes, TTL expiry and reaping,
 * reopen (the candidate lists are rebuilt), compaction, dropping the index and the table,
 * and a crash cut at every 7th byte of the last write. Bad input is KEEL_EVALIDATION.
 */
#include "db_util.h"
#include "db/db_internal.h"
#include "db/vec_kernels.h"

#include <math.h>
#include <stdlib.h>

static const keel_db_schema schema = {"p", KEEL_DB_KEY_S, NULL, KEEL_DB_KEY_NONE};

/* ---- the model ------------------------------------------------------------------------------- */

#define MAXN 600

typedef struct model {
    size_t dims;
    bool alive[MAXN], has[MAXN];    /* has: a vector of the index's dimensions */
    int g[MAXN];
    float *v;                       /* MAXN rows of dims */
} model;

static float rnd(rng *r) { return (float)((double)rng_below(r, 2000001) / 1e6 - 1.0); }

/* {"p": "i<id>", "g": g, "v": vector of n floats (or absent when n == 0)} */
static uint8_t *make_item(int id, int g, const float *v, size_t n, size_t *len) {
    kdb_buf b = {0};
    char p[32];
    snprintf(p, sizeof p, "i%d", id);
    kdb_enc_map(&b, n ? 3 : 2);
    kdb_enc_text(&b, "p", 1);
    kdb_enc_text(&b, p, strlen(p));
    kdb_enc_text(&b, "g", 1);
    kdb_enc_uint(&b, (uint64_t)g);
    if (n) {
        kdb_enc_text(&b, "v", 1);
        kdb_enc_tag(&b, KDB_TAG_F32LE);
        kdb_enc_bytes(&b, v, n * 4);
    }
    *len = b.len;
    return b.p;
}

static keel_status put(keel_db *db, model *m, int id, int g, const float *v, size_t n) {
    size_t len;
    uint8_t *it = make_item(id, g, v, n, &len);
    keel_status st = keel_db_put_item(db, "tbl", it, len);
    free(it);
    if (st == KEEL_OK) {
        m->alive[id] = true;
        m->has[id] = n == m->dims;
        m->g[id] = g;
        if (n == m->dims) memcpy(m->v + (size_t)id * m->dims, v, n * 4);
    }
    return st;
}

static keel_status del(keel_db *db, model *m, int id) {
    char k[64];
    snprintf(k, sizeof k, "{\"p\": \"i%d\"}", id);
    size_t len;
    uint8_t *key = cbdup(k, &len);
    keel_status st = keel_db_delete_item(db, "tbl", key, len);
    free(key);
    if (st == KEEL_OK) m->alive[id] = false;
    return st;
}

static double ref_score(keel_db_distance d, const float *q, const float *x, size_t n) {
    double dot = 0, qq = 0, xx = 0, l2 = 0;
    for (size_t i = 0; i < n; i++) {
        dot += (double)q[i] * x[i];
        qq += (double)q[i] * q[i];
        xx += (double)x[i] * x[i];
        l2 += ((double)q[i] - x[i]) * ((double)q[i] - x[i]);
    }
    if (d == KEEL_DB_COSINE) return xx > 0 ? 1 - dot / sqrt(qq * xx) : 1;
    if (d == KEEL_DB_EUCLIDEAN) return sqrt(l2);
    return dot;
}

static bool close_to(double a, double b) { return fabs(a - b) <= 2e-4 + 2e-4 * fabs(b); }

static int cmp_asc(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int id_of(const keel_db_hit *h) {
    kdb_val v;
    if (!kdb_item_attr(h->item.data, h->item.len, "p", 1, &v) || v.type != KDB_S) return -1;
    return atoi((const char *)v.data + 1);
}

/* Check hits[0..n) for query q against the model (gfilter >= 0: only items with g). */
static void check_hits(const model *m, keel_db_distance d, const float *q, uint32_t k, int gfilter,
                       const keel_db_hit *hits, size_t n, const char *what) {
    double ref[MAXN];
    size_t nref = 0;
    for (int i = 0; i < MAXN; i++)
        if (m->alive[i] && m->has[i] && (gfilter < 0 || m->g[i] == gfilter)) {
            double s = ref_score(d, q, m->v + (size_t)i * m->dims, m->dims);
            ref[nref++] = d == KEEL_DB_DOT_PRODUCT ? -s : s;
        }
    qsort(ref, nref, sizeof *ref, cmp_asc);
    size_t want = nref < k ? nref : k;
    CHECKF(n == want, "%s: %zu hits, expected %zu", what, n, want);
    for (size_t i = 0; i < n && i < want; i++) {
        int id = id_of(&hits[i]);
        CHECKF(id >= 0 && id < MAXN && m->alive[id] && m->has[id], "%s: hit %zu id %d", what, i,
               id);
        if (id < 0 || id >= MAXN) continue;
        CHECKF(gfilter < 0 || m->g[id] == gfilter, "%s: hit %zu fails the filter", what, i);
        double own = ref_score(d, q, m->v + (size_t)id * m->dims, m->dims);
        double r = d == KEEL_DB_DOT_PRODUCT ? -ref[i] : ref[i];
        CHECKF(close_to(hits[i].score, own), "%s: hit %zu score %g, its own %g", what, i,
               hits[i].score, own);
        CHECKF(close_to(hits[i].score, r), "%s: hit %zu score %g, rank %zu of the model %g", what,
               i, hits[i].score, i, r);
        CHECKF(hits[i].vector.len == m->dims * 4 &&
                   memcmp(hits[i].vector.data, m->v + (size_t)id * m->dims, m->dims * 4) == 0,
               "%s: hit %zu vector view", what, i);
        CHECK(((uintptr_t)hits[i].vector.data & 63) == 0);
    }
}

static const char *const dnames[] = {"cos", "euc", "dot"};

static void create_indexes(keel_db *db, size_t dims) {
    for (int d = 0; d < 3; d++) {
        keel_db_vector_index_def def = {dnames[d], "v", (uint32_t)dims, (keel_db_distance)d,
                                        KEEL_DB_PROJECT_ALL, NULL, 0, NULL, 0, 0, 0, NULL};
        REQUIRE_OK(keel_db_create_vector_index(db, "tbl", &def));
    }
}

/* Search every index with nq random queries, single and batch, threads 1 and 3. */
static void check_all(keel_db *db, const model *m, rng *r, size_t nq, int gfilter) {
    size_t dims = m->dims;
    float *q = malloc(nq * dims * 4);
    for (size_t i = 0; i < nq * dims; i++) q[i] = rnd(r);
    uint32_t k = 1 + (uint32_t)rng_below(r, 12);
    keel_db_hit *hits = calloc(nq * k, sizeof *hits);
    size_t *counts = calloc(nq, sizeof *counts);
    uint8_t vals[16];
    keel_db_search_opts o = KEEL_DB_SEARCH_OPTS_INIT;
    if (gfilter >= 0) {
        kdb_buf b = {.p = NULL};
        kdb_enc_map(&b, 1);
        kdb_enc_text(&b, ":g", 2);
        kdb_enc_uint(&b, (uint64_t)gfilter);
        memcpy(vals, b.p, b.len);
        o.filter = "g = :g";
        o.values = vals;
        o.values_len = b.len;
        kdb_buf_free(&b);
    }
    for (int d = 0; d < 3; d++) {
        for (uint32_t th = 1; th <= 3; th += 2) {
            o.threads = th;
            for (size_t j = 0; j < nq; j++) {
                size_t n;
                CHECK_OK(keel_db_search(db, "tbl", dnames[d], q + j * dims, dims, k, &o, hits, &n));
                check_hits(m, (keel_db_distance)d, q + j * dims, k, gfilter, hits, n, dnames[d]);
                keel_db_hits_free(hits, n);
            }
            /* the batch through OpenBLAS (when built with it) and through the kernels */
            int was = kdb_vec_blas(-1);
            for (int blas = was; blas >= 0; blas--) {
                kdb_vec_blas(blas);
                CHECK_OK(keel_db_search_batch(db, "tbl", dnames[d], q, nq, dims, k, &o, hits,
                                              counts));
                kdb_vec_blas(was);
                for (size_t j = 0; j < nq; j++)
                    check_hits(m, (keel_db_distance)d, q + j * dims, k, gfilter, hits + j * k,
                               counts[j], blas ? "batch blas" : "batch");
                keel_db_hits_free(hits, nq * k);
            }
        }
    }
    free(q);
    free(hits);
    free(counts);
}

static keel_db *fresh(const char *name, model *m, size_t dims) {
    keel_db_options o = KEEL_DB_OPTIONS_INIT;
    keel_db *db = NULL;
    if (keel_db_open(h_path(name), &o, &db) != KEEL_OK) return NULL;
    if (keel_db_create_table(db, "tbl", &schema) != KEEL_OK) return NULL;
    memset(m, 0, sizeof *m);
    m->dims = dims;
    m->v = calloc(MAXN * dims, 4);
    return db;
}

/* ---- tests ----------------------------------------------------------------------------------- */

static void test_random_search(void) {
    model m;
    keel_db *db = fresh("r.keel", &m, 19);
    REQUIRE(db != NULL);
    rng r = rng_seed(11);
    float v[40];
    for (int i = 0; i < 400; i++) {
        for (size_t j = 0; j < 40; j++) v[j] = rnd(&r);
        size_t n = rng_below(&r, 10) == 0 ? (rng_below(&r, 2) ? 0 : 20) : m.dims;
        REQUIRE_OK(put(db, &m, i, (int)rng_below(&r, 4), v, n));
    }
    create_indexes(db, m.dims);   /* backfilled from the items */
    check_all(db, &m, &r, 6, -1);
    check_all(db, &m, &r, 5, 2);
    /* writes after the index: new, replaced (vector changed, removed), refused (wrong
     * length), deleted */
    for (int i = 0; i < 300; i++) {
        int id = (int)rng_below(&r, MAXN);
        if (rng_below(&r, 4) == 0) {
            keel_status st = del(db, &m, id);
            CHECK(st == KEEL_OK || st == KEEL_NOTFOUND);
            continue;
        }
        for (size_t j = 0; j < 40; j++) v[j] = rnd(&r);
        size_t n = rng_below(&r, 8) == 0 ? (rng_below(&r, 2) ? 0 : 3) : m.dims;
        if (n == 3) {   /* a vector of another length than the indexes' is refused */
            CHECK_EQ(put(db, &m, id, (int)rng_below(&r, 4), v, n), KEEL_EVALIDATION);
            CHECK(strstr(keel_errmsg(), "Expected: 19, Actual: 3") != NULL);
            continue;
        }
        REQUIRE_OK(put(db, &m, id, (int)rng_below(&r, 4), v, n));
    }
    check_all(db, &m, &r, 5, -1);
    check_all(db, &m, &r, 3, 1);
    /* the catalog and the candidate lists after reopen and after compaction */
    keel_db_free(db);
    keel_db_options o = KEEL_DB_OPTIONS_INIT;
    REQUIRE_OK(keel_db_open(h_path("r.keel"), &o, &db));
    check_all(db, &m, &r, 3, -1);
    REQUIRE_OK(keel_db_compact(db, NULL, NULL));
    check_all(db, &m, &r, 3, 0);
    keel_db_vector_index_info info[4];
    size_t n;
    REQUIRE_OK(keel_db_list_vector_indexes(db, "tbl", info, 4, &n));
    CHECK_EQ(n, 3);
    size_t live = 0;
    for (int i = 0; i < MAXN; i++) live += m.alive[i] && m.has[i];
    for (size_t i = 0; i < n && i < 4; i++) CHECK_EQ(info[i].items, live);
    /* drop one index; the others stay, also after reopen */
    CHECK_OK(keel_db_drop_vector_index(db, "tbl", "euc"));
    CHECK_ST(keel_db_drop_vector_index(db, "tbl", "euc"), KEEL_EVALIDATION);
    keel_db_free(db);
    REQUIRE_OK(keel_db_open(h_path("r.keel"), &o, &db));
    REQUIRE_OK(keel_db_list_vector_indexes(db, "tbl", info, 4, &n));
    CHECK_EQ(n, 2);
    keel_db_hit hits[3];
    float q[19] = {1};
    CHECK_ST(keel_db_search(db, "tbl", "euc", q, 19, 3, NULL, hits, &n), KEEL_EVALIDATION);
    CHECK_OK(keel_db_search(db, "tbl", "cos", q, 19, 3, NULL, hits, &n));
    CHECK_EQ(n, 3);
    /* a whole item: also in place (hit.stored), the same bytes, the vector inside it */
    for (size_t i = 0; i < n; i++) {
        CHECK(hits[i].stored.data != NULL && hits[i].stored.len == hits[i].item.len);
        CHECK(memcmp(hits[i].stored.data, hits[i].item.data, hits[i].item.len) == 0);
        CHECK(hits[i].vector.data > hits[i].stored.data &&
              hits[i].vector.data + hits[i].vector.len <= hits[i].stored.data + hits[i].stored.len);
    }
    keel_db_hits_free(hits, n);
    /* a projection: a copy only */
    keel_db_search_opts po = KEEL_DB_SEARCH_OPTS_INIT;
    po.projection = "p";
    CHECK_OK(keel_db_search(db, "tbl", "cos", q, 19, 3, &po, hits, &n));
    CHECK_EQ(n, 3);
    for (size_t i = 0; i < n; i++) CHECK(hits[i].stored.data == NULL && hits[i].stored.len == 0);
    keel_db_hits_free(hits, n);
    /* deleting the table takes its vector indexes */
    CHECK_OK(keel_db_delete_table(db, "tbl"));
    CHECK_OK(keel_db_create_table(db, "tbl", &schema));
    CHECK_ST(keel_db_search(db, "tbl", "cos", q, 19, 3, NULL, hits, &n), KEEL_EVALIDATION);
    keel_db_free(db);
    free(m.v);
}

/* The scan order (vec_search.c) is cached per index and extended or rebuilt as the list
 * changes: searches between every few writes must see each change, whether the writes only
 * append (the order is extended), replace or delete (it is rebuilt), or compaction moves
 * every vector. */
static void test_scan_order(void) {
    model m;
    keel_db *db = fresh("o.keel", &m, 21);
    REQUIRE(db != NULL);
    rng r = rng_seed(23);
    float v[40];
    /* Most backfilled (slots in key-hash order, not file order), then appends. */
    for (int i = 0; i < 240 && !h_failures(); i++) {
        if (i == 180) create_indexes(db, m.dims);
        for (size_t j = 0; j < 40; j++) v[j] = rnd(&r);
        REQUIRE_OK(put(db, &m, i, (int)rng_below(&r, 4), v, m.dims));
        if (i > 180 && i % 20 == 19) check_all(db, &m, &r, 1, -1);
    }
    for (int i = 0; i < 200 && !h_failures(); i++) {
        int id = (int)rng_below(&r, 260);
        if (rng_below(&r, 3) != 0) {
            keel_status st = del(db, &m, id);
            CHECK(st == KEEL_OK || st == KEEL_NOTFOUND);
        } else {
            for (size_t j = 0; j < 40; j++) v[j] = rnd(&r);
            REQUIRE_OK(put(db, &m, id, (int)rng_below(&r, 4), v, m.dims));
        }
        if (i % 10 == 9) check_all(db, &m, &r, 1, i % 20 == 9 ? -1 : 3);
    }
    REQUIRE_OK(keel_db_compact(db, NULL, NULL));
    check_all(db, &m, &r, 2, -1);
    for (int i = 300; i < 330; i++) {
        for (size_t j = 0; j < 40; j++) v[j] = rnd(&r);
        REQUIRE_OK(put(db, &m, i, 1, v, m.dims));
    }
    check_all(db, &m, &r, 2, -1);
    keel_db_free(db);
    free(m.v);
}

static void test_adversarial(void) {
    model m;
    keel_db *db = fresh("a.keel", &m, 1);
    REQUIRE(db != NULL);
    create_indexes(db, 1);
    float one = 2.0f, zero = 0.0f;
    for (int i = 0; i < 30; i++) REQUIRE_OK(put(db, &m, i, 0, i < 10 ? &zero : &one, 1));
    keel_db_hit hits[20];
    size_t n;
    float q = 3.0f;
    /* ties: 20 equal vectors, k 5: five of them, all with the same score */
    CHECK_OK(keel_db_search(db, "tbl", "euc", &q, 1, 5, NULL, hits, &n));
    CHECK_EQ(n, 5);
    for (size_t i = 0; i < n; i++) CHECK(close_to(hits[i].score, 1.0));
    keel_db_hits_free(hits, n);
    /* zero vectors under cosine score 1; the equal ones 0 */
    CHECK_OK(keel_db_search(db, "tbl", "cos", &q, 1, 20, NULL, hits, &n));
    CHECK_EQ(n, 20);
    for (size_t i = 0; i < n; i++) CHECK(close_to(hits[i].score, i < 20 ? 0.0 : 1.0));
    keel_db_hits_free(hits, n);
    q = -1.0f;
    CHECK_OK(keel_db_search(db, "tbl", "cos", &q, 1, 20, NULL, hits, &n));
    CHECK(n == 20 && close_to(hits[0].score, 1.0) && close_to(hits[19].score, 2.0));
    keel_db_hits_free(hits, n);
    CHECK_OK(keel_db_search(db, "tbl", "dot", &q, 1, 12, NULL, hits, &n));
    CHECK(n == 12 && close_to(hits[0].score, 0.0) && close_to(hits[11].score, -2.0));
    keel_db_hits_free(hits, n);
    /* bad input */
    CHECK_ST(keel_db_search(db, "tbl", "cos", &zero, 1, 5, NULL, hits, &n), KEEL_EVALIDATION);
    float two[2] = {1, 1}, nan = NAN, inf = INFINITY;
    CHECK_ST(keel_db_search(db, "tbl", "cos", two, 2, 5, NULL, hits, &n), KEEL_EVALIDATION);
    CHECK(strstr(keel_errmsg(), "dimensions") != NULL);
    CHECK_ST(keel_db_search(db, "tbl", "euc", &nan, 1, 5, NULL, hits, &n), KEEL_EVALIDATION);
    CHECK_ST(keel_db_search(db, "tbl", "euc", &inf, 1, 5, NULL, hits, &n), KEEL_EVALIDATION);
    CHECK_ST(keel_db_search(db, "tbl", "euc", &q, 1, 0, NULL, hits, &n), KEEL_EVALIDATION);
    CHECK_ST(keel_db_search(db, "tbl", "euc", &q, 1, 101, NULL, hits, &n), KEEL_EVALIDATION);
    CHECK(strstr(keel_errmsg(), "TopK") != NULL);
    CHECK_ST(keel_db_search(db, "tbl", "nope", &q, 1, 5, NULL, hits, &n), KEEL_EVALIDATION);
    CHECK_ST(keel_db_search(db, "nope", "l2", &q, 1, 5, NULL, hits, &n), KEEL_ENOTABLE);
    keel_db_search_opts o = KEEL_DB_SEARCH_OPTS_INIT;
    o.filter = "g = ";
    CHECK_ST(keel_db_search(db, "tbl", "euc", &q, 1, 5, &o, hits, &n), KEEL_ESYNTAX);
    /* definitions */
    keel_db_vector_index_def def = {"big", "w", 4097, KEEL_DB_COSINE, KEEL_DB_PROJECT_ALL,
                                    NULL, 0, NULL, 0, 0, 0, NULL};
    CHECK_ST(keel_db_create_vector_index(db, "tbl", &def), KEEL_EVALIDATION);
    def.dimensions = 0;
    CHECK_ST(keel_db_create_vector_index(db, "tbl", &def), KEEL_EVALIDATION);
    def.dimensions = 3, def.attribute = "p";
    CHECK_ST(keel_db_create_vector_index(db, "tbl", &def), KEEL_EVALIDATION);
    def.attribute = "w", def.name = "cos";
    CHECK_ST(keel_db_create_vector_index(db, "tbl", &def), KEEL_EVALIDATION);
    def.name = "x";
    CHECK_ST(keel_db_create_vector_index(db, "tbl", &def), KEEL_EVALIDATION);
    keel_db_free(db);
    free(m.v);

    /* dimension 4096, with a KEYS_ONLY projection and a projection expression */
    db = fresh("b.keel", &m, 4096);
    REQUIRE(db != NULL);
    create_indexes(db, 4096);
    keel_db_vector_index_def ko = {"keys", "v", 4096, KEEL_DB_EUCLIDEAN, KEEL_DB_PROJECT_KEYS_ONLY,
                                   NULL, 0, NULL, 0, 0, 0, NULL};
    REQUIRE_OK(keel_db_create_vector_index(db, "tbl", &ko));
    rng r = rng_seed(3);
    float *v = malloc(4096 * 4);
    for (int i = 0; i < 20; i++) {
        for (size_t j = 0; j < 4096; j++) v[j] = rnd(&r);
        REQUIRE_OK(put(db, &m, i, i % 2, v, 4096));
    }
    check_all(db, &m, &r, 2, -1);
    CHECK_OK(keel_db_search(db, "tbl", "keys", v, 4096, 3, NULL, hits, &n));
    CHECK(n == 3 && close_to(hits[0].score, 0.0) && id_of(&hits[0]) == 19);
    kdb_val x;
    CHECK(!kdb_item_attr(hits[0].item.data, hits[0].item.len, "g", 1, &x));
    keel_db_hits_free(hits, n);
    o.filter = NULL;
    o.projection = "g";
    CHECK_OK(keel_db_search(db, "tbl", "euc", v, 4096, 3, &o, hits, &n));
    CHECK(n == 3 && kdb_item_attr(hits[0].item.data, hits[0].item.len, "g", 1, &x) &&
          !kdb_item_attr(hits[0].item.data, hits[0].item.len, "p", 1, &x));
    keel_db_hits_free(hits, n);
    free(v);
    keel_db_free(db);
    free(m.v);
}

static int64_t fake_now;
static int64_t fake_clock(void *ctx) {
    (void)ctx;
    return fake_now;
}

static void test_ttl_and_crash(void) {
    model m;
    keel_db *db = fresh("t.keel", &m, 4);
    REQUIRE(db != NULL);
    create_indexes(db, 4);
    keel_db_set_clock(db, fake_clock, NULL);
    fake_now = 1000;
    CHECK_OK(keel_db_update_ttl(db, "tbl", "g"));   /* g is the expiry time */
    rng r = rng_seed(5);
    float v[4];
    for (int i = 0; i < 50; i++) {
        for (int j = 0; j < 4; j++) v[j] = rnd(&r);
        REQUIRE_OK(put(db, &m, i, i < 20 ? 500 : 5000, v, 4));
    }
    for (int i = 0; i < 20; i++) m.alive[i] = false;   /* expired */
    check_all(db, &m, &r, 2, -1);
    uint64_t reaped = 0;
    CHECK_OK(keel_db_reap_expired(db, "tbl", 0, &reaped));
    CHECK_EQ(reaped, 20);
    check_all(db, &m, &r, 2, -1);
    REQUIRE_OK(keel_db_sync(db));
    long long before = file_size(h_path("t.keel"));
    for (int j = 0; j < 4; j++) v[j] = rnd(&r);
    model older = m;
    older.v = malloc(MAXN * 4 * 4);
    memcpy(older.v, m.v, MAXN * 4 * 4);
    REQUIRE_OK(put(db, &m, 30, 5000, v, 4));   /* replaces item 30's vector */
    keel_db_free(db);
    size_t full_len;
    uint8_t *full = read_file(h_path("t.keel"), &full_len);
    REQUIRE(full != NULL);
    keel_db_options o = KEEL_DB_OPTIONS_INIT;
    for (size_t cut = (size_t)before; cut <= full_len && !h_failures(); cut += 7) {
        REQUIRE(write_file(h_path("y.keel"), full, cut) == 0);
        REQUIRE_OK(keel_db_open(h_path("y.keel"), &o, &db));
        keel_db_set_clock(db, fake_clock, NULL);
        check_all(db, cut == full_len ? &m : &older, &r, 1, -1);
        keel_db_free(db);
    }
    free(full);
    free(older.v);
    free(m.v);
}

int main(int argc, char **argv) {
    static const h_test tests[] = {
        H_TEST(test_random_search),
        H_TEST(test_scan_order),
        H_TEST(test_adversarial),
        H_TEST(test_ttl_and_crash),
    };
    return h_main(argc, argv, tests, H_COUNT(tests));
}
