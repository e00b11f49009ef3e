/*
 * test_db_tx.c: transactions through the public API, and the write path under threads,
 * I/O faults and crashes.
 *
 * Every action kind across two tables, cancellation reasons in DynamoDB's words (with the
 * item where asked), requests refused whole, the 100-action limit, TransactGetItems.
 * Threads: conditional puts racing on each key (exactly one wins), and transfers between
 * two items (ADD with a condition, in transactions) against ADD writers and
 * TransactGetItems readers: no lost update, no partial view. A failed write of the
 * transaction's group (EIO, a short write) publishes nothing; the file cut at every byte
 * of a transaction's append reopens with the transaction whole or absent.
 *
 * The racing tests are small enough to run under ThreadSanitizer too:
 *   meson setup build-tsan -Dbuildtype=debug -Dpython=disabled -Db_sanitize=thread \
 *       -Db_lundef=false && ninja -C build-tsan tests/c/test_db_tx && \
 *   build-tsan/tests/c/test_db_tx test_race_conditional_put test_tx_concurrent
 */
#include "db_logic.h"

#include "base/base.h"

#include <pthread.h>

/* ---- transactions ------------------------------------------------------------------------- */

static keel_db_tx_write txa(keel_db_tx_kind kind, const char *table, const enc *item,
                            const char *update, const char *condition, const enc *values) {
    keel_db_tx_write a = KEEL_DB_TX_WRITE_INIT;
    a.kind = kind;
    a.table = table;
    a.item = item->p;
    a.item_len = item->len;
    a.update = update;
    a.condition = condition;
    if (values) {
        a.values = values->p;
        a.values_len = values->len;
    }
    return a;
}

static void test_transact_write(void) {
    keel_db *db = mem_db();
    REQUIRE(db != NULL);
    static const keel_db_schema ps = {"p", KEEL_DB_KEY_S, "s", KEEL_DB_KEY_N};
    REQUIRE_OK(keel_db_create_table(db, "tb2", &ps));
    CHECK_OK(put(db, "{\"pk\": \"a\", \"n\": 1}"));
    CHECK_OK(put(db, "{\"pk\": \"d\", \"n\": 4}"));
    CHECK_OK(put(db, "{\"pk\": \"c\", \"n\": 3, \"s\": \"str\"}"));
    enc ka = E("{\"pk\": \"a\"}"), kb = E("{\"pk\": \"b\"}"), kc = E("{\"pk\": \"c\"}"),
        kd = E("{\"pk\": \"d\"}"), iu = E("{\"p\": \"x\", \"s\": 1, \"v\": true}"),
        ib = E("{\"pk\": \"b\", \"n\": 2}"), one = E("{\":one\": 1}"), three = E("{\":n\": 3}");
    keel_db_tx_reason r[5];

    /* Every kind, across two tables: all land. */
    keel_db_tx_write ok[5] = {
        txa(KEEL_DB_TX_UPDATE, "tbl", &ka, "ADD n :one", "n = :one", &one),
        txa(KEEL_DB_TX_PUT, "tbl", &ib, NULL, "attribute_not_exists(pk)", NULL),
        txa(KEEL_DB_TX_CHECK, "tbl", &kc, NULL, "n = :n", &three),
        txa(KEEL_DB_TX_DELETE, "tbl", &kd, NULL, NULL, NULL),
        txa(KEEL_DB_TX_PUT, "tb2", &iu, NULL, NULL, NULL),
    };
    CHECK_OK(keel_db_transact_write(db, ok, 5, r));
    for (int i = 0; i < 5; i++) CHECK(r[i].code == KEEL_DB_REASON_NONE && strcmp(r[i].code_name, "None") == 0);
    CHECK(item_is(db, "a", "{\"pk\": \"a\", \"n\": 2}"));
    CHECK(item_is(db, "b", "{\"pk\": \"b\", \"n\": 2}"));
    CHECK(item_is(db, "d", NULL));
    uint64_t count;
    CHECK_OK(keel_db_count(db, "tb2", &count));
    CHECK(count == 1);

    /* The same again: the update's and the put's conditions fail now; nothing is written.
     * One reason per action, in order; the item only where asked. */
    ok[1].return_old_on_condition_failure = 1;
    CHECK_ST(keel_db_transact_write(db, ok, 5, r), KEEL_ECANCELED);
    CHECK(strstr(keel_errmsg(), "[ConditionalCheckFailed, ConditionalCheckFailed, None, None, "
                 "None]") != NULL);
    CHECK(r[0].code == KEEL_DB_REASON_CONDITION_FAILED && r[0].item.data == NULL);
    CHECK(strcmp(r[0].code_name, "ConditionalCheckFailed") == 0);
    CHECK(strcmp(r[0].message, "The conditional request failed") == 0);
    CHECK(r[1].code == KEEL_DB_REASON_CONDITION_FAILED);
    CHECK(same(r[1].item.data, r[1].item.len, "{\"pk\": \"b\", \"n\": 2}"));
    for (int i = 2; i < 5; i++) CHECK(r[i].code == KEEL_DB_REASON_NONE && r[i].message[0] == 0);
    keel_db_tx_reasons_free(r, 5);
    CHECK(r[1].item.data == NULL);
    CHECK(item_is(db, "a", "{\"pk\": \"a\", \"n\": 2}"));
    CHECK_OK(keel_db_count(db, "tb2", &count));
    CHECK(count == 1);

    /* An update that cannot apply to its item: ValidationError; nothing written. */
    keel_db_tx_write bad[2] = {
        txa(KEEL_DB_TX_UPDATE, "tbl", &ka, "ADD n :one", NULL, &one),
        txa(KEEL_DB_TX_UPDATE, "tbl", &kc, "SET n = s + :one", NULL, &one),
    };
    CHECK_ST(keel_db_transact_write(db, bad, 2, r), KEEL_ECANCELED);
    CHECK(r[0].code == KEEL_DB_REASON_NONE);
    CHECK(r[1].code == KEEL_DB_REASON_VALIDATION && strcmp(r[1].code_name, "ValidationError") == 0);
    CHECK(strstr(r[1].message, "incorrect data type") != NULL);
    keel_db_tx_reasons_free(r, 2);
    CHECK(item_is(db, "a", "{\"pk\": \"a\", \"n\": 2}"));
    /* A single canceled action is still KEEL_ECANCELED; reasons may be NULL. */
    CHECK_ST(keel_db_transact_write(db, bad + 1, 1, NULL), KEEL_ECANCELED);

    /* Refused whole: two actions on one item, a check without a condition, a bad
     * expression, a bad key, a missing table, no actions, too many. */
    keel_db_tx_write dup[2] = {
        txa(KEEL_DB_TX_UPDATE, "tbl", &ka, "ADD n :one", NULL, &one),
        txa(KEEL_DB_TX_DELETE, "tbl", &ka, NULL, NULL, NULL),
    };
    CHECK_ST(keel_db_transact_write(db, dup, 2, r), KEEL_EVALIDATION);
    CHECK(strstr(keel_errmsg(), "Transaction request cannot include multiple operations on one "
                 "item") != NULL);
    keel_db_tx_write nocond = txa(KEEL_DB_TX_CHECK, "tbl", &ka, NULL, NULL, NULL);
    CHECK_ST(keel_db_transact_write(db, &nocond, 1, r), KEEL_EVALIDATION);
    keel_db_tx_write syn = txa(KEEL_DB_TX_UPDATE, "tbl", &ka, "SET = 1", NULL, NULL);
    CHECK_ST(keel_db_transact_write(db, &syn, 1, r), KEEL_ESYNTAX);
    CHECK(strstr(keel_errmsg(), "action 1 of 1") != NULL);
    keel_db_tx_write keyupd = txa(KEEL_DB_TX_UPDATE, "tbl", &ka, "SET pk = :one", NULL, &one);
    CHECK_ST(keel_db_transact_write(db, &keyupd, 1, r), KEEL_EVALIDATION);
    keel_db_tx_write badkey = txa(KEEL_DB_TX_DELETE, "tb2", &ka, NULL, NULL, NULL);
    CHECK_ST(keel_db_transact_write(db, &badkey, 1, r), KEEL_EVALIDATION);
    keel_db_tx_write notable = txa(KEEL_DB_TX_DELETE, "zzz", &ka, NULL, NULL, NULL);
    CHECK_ST(keel_db_transact_write(db, &notable, 1, r), KEEL_ENOTABLE);
    CHECK_ST(keel_db_transact_write(db, ok, 0, NULL), KEEL_EVALIDATION);
    CHECK_ST(keel_db_transact_write(db, NULL, 1, NULL), KEEL_EINVAL);
    keel_db_tx_write *many = calloc(101, sizeof *many);
    REQUIRE(many != NULL);
    CHECK_ST(keel_db_transact_write(db, many, 101, NULL), KEEL_EVALIDATION);

    /* 100 actions is the limit, and works. */
    enc keys[100];
    for (int i = 0; i < 100; i++) {
        char n[64];
        snprintf(n, sizeof n, "{\"pk\": \"many%d\", \"i\": %d}", i, i);
        keys[i] = E(n);
        many[i] = txa(KEEL_DB_TX_PUT, "tbl", &keys[i], NULL, "attribute_not_exists(pk)", NULL);
    }
    CHECK_OK(keel_db_transact_write(db, many, 100, NULL));
    CHECK(item_is(db, "many99", "{\"pk\": \"many99\", \"i\": 99}"));
    for (int i = 0; i < 100; i++) free(keys[i].p);
    free(many);

    enc *all[] = {&ka, &kb, &kc, &kd, &iu, &ib, &one, &three};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]->p);
    keel_db_free(db);
}

static void test_transact_get(void) {
    keel_db *db = mem_db();
    REQUIRE(db != NULL);
    CHECK_OK(put(db, "{\"pk\": \"a\", \"n\": 1, \"m\": {\"x\": 1, \"y\": 2}}"));
    enc ka = E("{\"pk\": \"a\"}"), kb = E("{\"pk\": \"b\"}"), names = E("{\"#m\": \"m\"}");
    keel_db_tx_get g[3] = {
        {"tbl", ka.p, ka.len, NULL, NULL, 0},
        {"tbl", kb.p, kb.len, NULL, NULL, 0},
        {"tbl", ka.p, ka.len, "#m.y, n", names.p, names.len},
    };
    keel_db_buf out[3];
    CHECK_OK(keel_db_transact_get(db, g, 3, out));
    CHECK(same(out[0].data, out[0].len, "{\"pk\": \"a\", \"n\": 1, \"m\": {\"x\": 1, \"y\": 2}}"));
    CHECK(out[1].data == NULL && out[1].len == 0);
    CHECK(same(out[2].data, out[2].len, "{\"n\": 1, \"m\": {\"y\": 2}}"));
    for (int i = 0; i < 3; i++) keel_db_buf_free(&out[i]);
    g[1].table = "nope";
    CHECK_ST(keel_db_transact_get(db, g, 3, out), KEEL_ENOTABLE);
    for (int i = 0; i < 3; i++) CHECK(out[i].data == NULL);
    g[1].table = "tbl";
    g[2].names = NULL;
    CHECK_ST(keel_db_transact_get(db, g, 3, out), KEEL_EVALIDATION);
    CHECK_ST(keel_db_transact_get(db, g, 0, out), KEEL_EVALIDATION);
    free(ka.p);
    free(kb.p);
    free(names.p);
    keel_db_free(db);
}

/* ---- threads ------------------------------------------------------------------------------ */

#define RACE_THREADS 4
#define RACE_KEYS 200

typedef struct race {
    keel_db *db;
    atomic_int wins[RACE_KEYS];
    atomic_int errors;
} race;

static void *race_main(void *arg) {
    race *r = arg;
    keel_db_write_opts o = KEEL_DB_WRITE_OPTS_INIT;
    o.condition = "attribute_not_exists(pk)";
    for (int k = 0; k < RACE_KEYS; k++) {
        kdb_buf b = {0};
        char pk[32];
        snprintf(pk, sizeof pk, "key%d", k);
        kdb_enc_map(&b, 2);
        kdb_enc_text(&b, "pk", 2);
        kdb_enc_text(&b, pk, strlen(pk));
        kdb_enc_text(&b, "by", 2);
        kdb_enc_uint(&b, (uint64_t)(uintptr_t)pthread_self() & 0xffff);
        keel_status st = keel_db_put_item_ex(r->db, "tbl", b.p, b.len, &o, NULL);
        if (st == KEEL_OK) atomic_fetch_add(&r->wins[k], 1);
        else if (st != KEEL_ECONDITION) atomic_fetch_add(&r->errors, 1);
        kdb_buf_free(&b);
    }
    return NULL;
}

static void test_race_conditional_put(void) {
    race *r = calloc(1, sizeof *r);
    REQUIRE(r != NULL);
    r->db = mem_db();
    REQUIRE(r->db != NULL);
    pthread_t th[RACE_THREADS];
    for (int i = 0; i < RACE_THREADS; i++) REQUIRE(pthread_create(&th[i], NULL, race_main, r) == 0);
    for (int i = 0; i < RACE_THREADS; i++) pthread_join(th[i], NULL);
    CHECK(atomic_load(&r->errors) == 0);
    for (int k = 0; k < RACE_KEYS; k++)
        CHECKF(atomic_load(&r->wins[k]) == 1, "key %d: %d winners", k, atomic_load(&r->wins[k]));
    uint64_t count;
    CHECK_OK(keel_db_count(r->db, "tbl", &count));
    CHECK(count == RACE_KEYS);
    keel_db_free(r->db);
    free(r);
}

/* Transfers between "a" and "b" (their sum never changes) that also count themselves in
 * "n", against plain ADD writers on "c" and TransactGetItems readers that must never see
 * half a transfer. */
#define TX_ROUNDS 300

typedef struct txrun {
    keel_db *db;
    enc ka, kb, kc, kn, vals, v1;   /* encoded before the threads start (cb() is not
                                     * thread-safe) */
    atomic_int transfers, adds, stop, bad_views, errors;
} txrun;

static void *tx_writer(void *arg) {
    txrun *t = arg;
    const enc *ka = &t->ka, *kb = &t->kb, *kn = &t->kn, *vals = &t->vals, *v1 = &t->v1;
    for (int i = 0; i < TX_ROUNDS; i++) {
        bool ab = i % 2;
        keel_db_tx_write a[3] = {
            txa(KEEL_DB_TX_UPDATE, "tbl", ab ? ka : kb, "ADD v :mone", "v >= :one", vals),
            txa(KEEL_DB_TX_UPDATE, "tbl", ab ? kb : ka, "ADD v :one", NULL, v1),
            txa(KEEL_DB_TX_UPDATE, "tbl", kn, "ADD v :one", NULL, v1),
        };
        keel_status st = keel_db_transact_write(t->db, a, 3, NULL);
        if (st == KEEL_OK) atomic_fetch_add(&t->transfers, 1);
        else if (st != KEEL_ECANCELED) atomic_fetch_add(&t->errors, 1);
    }
    return NULL;
}

static void *add_writer(void *arg) {
    txrun *t = arg;
    keel_db_write_opts o = KEEL_DB_WRITE_OPTS_INIT;
    o.values = t->v1.p;
    o.values_len = t->v1.len;
    for (int i = 0; i < TX_ROUNDS; i++) {
        if (keel_db_update_item(t->db, "tbl", t->kc.p, t->kc.len, "ADD v :one", &o, NULL) == KEEL_OK)
            atomic_fetch_add(&t->adds, 1);
        else
            atomic_fetch_add(&t->errors, 1);
    }
    return NULL;
}

static int64_t v_of(const keel_db_buf *b) {
    kdb_val v;
    kdb_num n;
    int64_t x;
    if (!b->data || !kdb_item_attr(b->data, b->len, "v", 1, &v) || v.type != KDB_N ||
        kdb_val_num(&v, &n) != KEEL_OK || !kdb_num_to_i64(&n, &x))
        return -1000000;
    return x;
}

static void *tx_reader(void *arg) {
    txrun *t = arg;
    keel_db_tx_get g[2] = {{"tbl", t->ka.p, t->ka.len, NULL, NULL, 0},
                           {"tbl", t->kb.p, t->kb.len, NULL, NULL, 0}};
    while (!atomic_load(&t->stop)) {
        keel_db_buf out[2];
        if (keel_db_transact_get(t->db, g, 2, out) != KEEL_OK) {
            atomic_fetch_add(&t->errors, 1);
            break;
        }
        if (v_of(&out[0]) + v_of(&out[1]) != 10) atomic_fetch_add(&t->bad_views, 1);
        keel_db_buf_free(&out[0]);
        keel_db_buf_free(&out[1]);
    }
    return NULL;
}

static void test_tx_concurrent(void) {
    txrun *t = calloc(1, sizeof *t);
    REQUIRE(t != NULL);
    t->db = mem_db();
    REQUIRE(t->db != NULL);
    CHECK_OK(put(t->db, "{\"pk\": \"a\", \"v\": 5}"));
    CHECK_OK(put(t->db, "{\"pk\": \"b\", \"v\": 5}"));
    t->ka = E("{\"pk\": \"a\"}"), t->kb = E("{\"pk\": \"b\"}"), t->kc = E("{\"pk\": \"c\"}"),
    t->kn = E("{\"pk\": \"n\"}"), t->vals = E("{\":one\": 1, \":mone\": -1}"),
    t->v1 = E("{\":one\": 1}");
    pthread_t w[2], a, rd;
    REQUIRE(pthread_create(&rd, NULL, tx_reader, t) == 0);
    for (int i = 0; i < 2; i++) REQUIRE(pthread_create(&w[i], NULL, tx_writer, t) == 0);
    REQUIRE(pthread_create(&a, NULL, add_writer, t) == 0);
    for (int i = 0; i < 2; i++) pthread_join(w[i], NULL);
    pthread_join(a, NULL);
    atomic_store(&t->stop, 1);
    pthread_join(rd, NULL);
    CHECK(atomic_load(&t->errors) == 0);
    CHECK(atomic_load(&t->bad_views) == 0);
    CHECK(atomic_load(&t->transfers) > 0);
    keel_db_tx_get g[4] = {{"tbl", t->kn.p, t->kn.len, NULL, NULL, 0},
                           {"tbl", t->kc.p, t->kc.len, NULL, NULL, 0},
                           {"tbl", t->ka.p, t->ka.len, NULL, NULL, 0},
                           {"tbl", t->kb.p, t->kb.len, NULL, NULL, 0}};
    keel_db_buf out[4];
    CHECK_OK(keel_db_transact_get(t->db, g, 4, out));
    CHECKF(v_of(&out[0]) == atomic_load(&t->transfers), "n = %lld, transfers %d",
           (long long)v_of(&out[0]), atomic_load(&t->transfers));
    CHECK(v_of(&out[1]) == TX_ROUNDS);
    CHECK(v_of(&out[2]) + v_of(&out[3]) == 10);
    for (int i = 0; i < 4; i++) keel_db_buf_free(&out[i]);
    free(t->ka.p), free(t->kb.p), free(t->kc.p), free(t->kn.p), free(t->vals.p), free(t->v1.p);
    keel_db_free(t->db);
    free(t);
}

/* ---- crash: a transaction's append cut at every byte -------------------------------------- */

static void test_crash_cut_transaction(void) {
    keel_db *db;
    keel_db_options o = KEEL_DB_OPTIONS_INIT;
    REQUIRE_OK(keel_db_open(h_path("x.keel"), &o, &db));
    REQUIRE_OK(keel_db_create_table(db, "tbl", &pk_schema));
    CHECK_OK(put(db, "{\"pk\": \"a\", \"v\": 1}"));
    CHECK_OK(put(db, "{\"pk\": \"d\", \"v\": 4}"));
    keel_db_free(db);
    long long before = file_size(h_path("x.keel"));
    o.mode = KEEL_OPEN_EXISTING;
    REQUIRE_OK(keel_db_open(h_path("x.keel"), &o, &db));
    enc ka = E("{\"pk\": \"a\"}"), kd = E("{\"pk\": \"d\"}"), ib = E("{\"pk\": \"b\", \"v\": 2}"),
        one = E("{\":one\": 1}");
    keel_db_tx_write a[3] = {
        txa(KEEL_DB_TX_UPDATE, "tbl", &ka, "ADD v :one", "v = :one", &one),
        txa(KEEL_DB_TX_PUT, "tbl", &ib, NULL, NULL, NULL),
        txa(KEEL_DB_TX_DELETE, "tbl", &kd, NULL, NULL, NULL),
    };
    REQUIRE_OK(keel_db_transact_write(db, a, 3, NULL));
    keel_db_free(db);
    size_t full_len;
    uint8_t *full = read_file(h_path("x.keel"), &full_len);
    REQUIRE(full != NULL);
    for (size_t cut = (size_t)before; cut <= full_len && !h_failures(); cut++) {
        REQUIRE(write_file(h_path("y.keel"), full, cut) == 0);
        REQUIRE_OK(keel_db_open(h_path("y.keel"), &o, &db));
        bool all = item_is(db, "a", "{\"pk\": \"a\", \"v\": 2}") &&
                   item_is(db, "b", "{\"pk\": \"b\", \"v\": 2}") && item_is(db, "d", NULL);
        bool none = item_is(db, "a", "{\"pk\": \"a\", \"v\": 1}") && item_is(db, "b", NULL) &&
                    item_is(db, "d", "{\"pk\": \"d\", \"v\": 4}");
        CHECKF(cut == full_len ? all : none, "cut at %zu of %zu: all %d none %d", cut, full_len,
               all, none);
        keel_db_free(db);
    }
    free(full);
    free(ka.p), free(kd.p), free(ib.p), free(one.p);
}

static void test_tx_io_fault(void) {
    keel_db *db;
    keel_db_options o = KEEL_DB_OPTIONS_INIT;
    REQUIRE_OK(keel_db_open(h_path("f.keel"), &o, &db));
    REQUIRE_OK(keel_db_create_table(db, "tbl", &pk_schema));
    CHECK_OK(put(db, "{\"pk\": \"a\", \"v\": 1}"));
    enc ka = E("{\"pk\": \"a\"}"), ib = E("{\"pk\": \"b\", \"v\": 2}"),
        one = E("{\":one\": 1}");
    keel_db_tx_write a[2] = {
        txa(KEEL_DB_TX_UPDATE, "tbl", &ka, "ADD v :one", "v = :one", &one),
        txa(KEEL_DB_TX_PUT, "tbl", &ib, NULL, NULL, NULL),
    };
    static const keel_fault_kind kinds[] = {KEEL_FAULT_EIO, KEEL_FAULT_ENOSPC, KEEL_FAULT_SHORT};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        keel__fault_inject(KEEL_OS_WRITE, 0, kinds[k], false);
        keel_status st = keel_db_transact_write(db, a, 2, NULL);
        keel__fault_clear();
        CHECKF(st == KEEL_EIO || st == KEEL_ENOSPC, "fault %zu: %s", k, st_name(st));
        CHECK(item_is(db, "a", "{\"pk\": \"a\", \"v\": 1}"));
        CHECK(item_is(db, "b", NULL));
    }
    CHECK_OK(keel_db_transact_write(db, a, 2, NULL));
    keel_db_free(db);
    o.mode = KEEL_OPEN_EXISTING;
    REQUIRE_OK(keel_db_open(h_path("f.keel"), &o, &db));
    CHECK(item_is(db, "a", "{\"pk\": \"a\", \"v\": 2}"));
    CHECK(item_is(db, "b", "{\"pk\": \"b\", \"v\": 2}"));
    uint64_t count;
    CHECK_OK(keel_db_count(db, "tbl", &count));
    CHECK(count == 2);
    keel_db_free(db);
    free(ka.p), free(ib.p), free(one.p);
}

int main(int argc, char **argv) {
    static const h_test tests[] = {
        H_TEST(test_transact_write),
        H_TEST(test_transact_get),
        H_TEST(test_race_conditional_put),
        H_TEST(test_tx_concurrent),
        H_TEST(test_tx_io_fault),
        H_TEST(test_crash_cut_transaction),
    };
    return h_main(argc, argv, tests, H_COUNT(tests));
}
