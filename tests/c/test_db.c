/*
 * test_db.c: the Database face through its public API (keel_db.h).
 *
 * File kinds (a database refuses to open as a DataStore and the other way round, both left
 * untouched), tables (create, describe, list, delete, bad names and schemas), items (put,
 * get, delete, replace, key validation; key maps in every encoding a caller may send, read
 * fast or through the general path alike), atomic batches (all or nothing, duplicates
 * refused), the KeystoneDB default table, queries (every sort-key operator, both
 * directions, limits and resuming, filters, projections) against a sorted model, scans and
 * parallel segments (every item exactly once), reopen, compaction, in-memory databases,
 * and crash recovery: the file cut at every byte of its last batch reopens with the batch
 * all there or absent. Items are built with the library's own CBOR encoder (db.h).
 */
#include "util.h"

#include "db/db.h"

#include <stdlib.h>

/* ---- building items ------------------------------------------------------------------- */

/* {"pk": S pk, "sk": N sk, "v": N v, "tag": S tag} */
static kdb_buf item_psv(const char *pk, int64_t sk, int64_t v, const char *tag) {
    kdb_buf b = {0};
    kdb_enc_map(&b, 4);
    kdb_enc_text(&b, "pk", 2);
    kdb_enc_text(&b, pk, strlen(pk));
    kdb_enc_text(&b, "sk", 2);
    kdb_enc_i64(&b, sk);
    kdb_enc_text(&b, "v", 1);
    kdb_enc_i64(&b, v);
    kdb_enc_text(&b, "tag", 3);
    kdb_enc_text(&b, tag, strlen(tag));
    return b;
}

static kdb_buf key_ps(const char *pk, int64_t sk) {
    kdb_buf b = {0};
    kdb_enc_map(&b, 2);
    kdb_enc_text(&b, "pk", 2);
    kdb_enc_text(&b, pk, strlen(pk));
    kdb_enc_text(&b, "sk", 2);
    kdb_enc_i64(&b, sk);
    return b;
}

static kdb_buf values1(const char *name, const char *s) {
    kdb_buf b = {0};
    kdb_enc_map(&b, 1);
    kdb_enc_text(&b, name, strlen(name));
    kdb_enc_text(&b, s, strlen(s));
    return b;
}

/* The N attribute `name` of an item, as an integer (-1 when absent). */
static int64_t item_int(keel_view item, const char *name) {
    kdb_val v;
    kdb_num n;
    int64_t x;
    if (!kdb_item_attr(item.data, item.len, name, strlen(name), &v) || v.type != KDB_N ||
        kdb_val_num(&v, &n) != KEEL_OK || !kdb_num_to_i64(&n, &x))
        return -1;
    return x;
}

static keel_status open_db(const char *name, keel_open_mode mode, keel_db **out) {
    keel_db_options o = KEEL_DB_OPTIONS_INIT;
    o.mode = mode;
    return keel_db_open(h_path(name), &o, out);
}

static const keel_db_schema ps_schema = {"pk", KEEL_DB_KEY_S, "sk", KEEL_DB_KEY_N};

static keel_status put_psv(keel_db *db, const char *t, const char *pk, int64_t sk, int64_t v) {
    kdb_buf b = item_psv(pk, sk, v, v % 2 ? "odd" : "even");
    keel_status st = keel_db_put_item(db, t, b.p, b.len);
    kdb_buf_free(&b);
    return st;
}

/* ---- file kinds ------------------------------------------------------------------------- */

static void test_kinds_refuse_each_other(void) {
    keel_db *db;
    REQUIRE_OK(open_db("d.keel", KEEL_OPEN_CREATE, &db));
    REQUIRE_OK(keel_db_create_table(db, "events", &ps_schema));
    CHECK_OK(put_psv(db, "events", "a", 1, 10));
    keel_db_free(db);
    size_t before_len;
    uint8_t *before = read_file(h_path("d.keel"), &before_len);
    REQUIRE(before != NULL);
    keel_store *s;
    CHECK_ST(keel_open(h_path("d.keel"), NULL, &s), KEEL_EFORMAT);
    CHECK(strstr(keel_errmsg(), "database") != NULL);
    CHECK(file_equals(h_path("d.keel"), before, before_len));
    free(before);

    REQUIRE_OK(keel_open(h_path("s.keel"), NULL, &s));
    CHECK_OK(put_s(s, "k", "v"));
    keel_free(s);
    before = read_file(h_path("s.keel"), &before_len);
    CHECK_ST(open_db("s.keel", KEEL_OPEN_CREATE, &db), KEEL_EFORMAT);
    CHECK(file_equals(h_path("s.keel"), before, before_len));
    free(before);

    CHECK_ST(open_db("missing.keel", KEEL_OPEN_EXISTING, &db), KEEL_ENOENT);
    CHECK_ST(open_db("d.keel", KEEL_OPEN_NEW, &db), KEEL_EEXIST);
}

/* ---- tables ----------------------------------------------------------------------------- */

static void test_tables(void) {
    keel_db *db;
    REQUIRE_OK(open_db("t.keel", KEEL_OPEN_CREATE, &db));
    CHECK_OK(keel_db_create_table(db, "users", &(keel_db_schema){"id", KEEL_DB_KEY_S, NULL, 0}));
    CHECK_OK(keel_db_create_table(db, "events", &ps_schema));
    CHECK_ST(keel_db_create_table(db, "events", &ps_schema), KEEL_ETABLEEXISTS);
    CHECK_ST(keel_db_create_table(db, "ab", &ps_schema), KEEL_EVALIDATION);
    CHECK_ST(keel_db_create_table(db, "bad name", &ps_schema), KEEL_EVALIDATION);
    CHECK_ST(keel_db_create_table(db, "x-y", &(keel_db_schema){"id", 'Q', NULL, 0}),
             KEEL_EVALIDATION);
    CHECK_ST(keel_db_create_table(db, "x-y", &(keel_db_schema){"id", KEEL_DB_KEY_S, "id",
                                                                KEEL_DB_KEY_N}),
             KEEL_EVALIDATION);
    CHECK_ST(keel_db_create_table(db, "x-y", NULL), KEEL_EINVAL);
    char *names;
    size_t n;
    REQUIRE_OK(keel_db_list_tables(db, &names, &n));
    CHECK(n == 2 && strcmp(names, "events") == 0 && strcmp(names + 7, "users") == 0);
    free(names);
    keel_db_table_info info;
    REQUIRE_OK(keel_db_describe_table(db, "events", &info));
    CHECK(strcmp(info.pk_name, "pk") == 0 && info.pk_type == KEEL_DB_KEY_S);
    CHECK(strcmp(info.sk_name, "sk") == 0 && info.sk_type == KEEL_DB_KEY_N);
    CHECK(info.items == 0);
    CHECK_ST(keel_db_describe_table(db, "nope", &info), KEEL_ENOTABLE);
    for (int i = 0; i < 50; i++) CHECK_OK(put_psv(db, "events", "p", i, i));
    REQUIRE_OK(keel_db_describe_table(db, "events", &info));
    CHECK(info.items == 50 && info.bytes > 0);
    keel_db_free(db);

    /* The catalog and counts persist; deleting a table deletes its items. */
    REQUIRE_OK(open_db("t.keel", KEEL_OPEN_EXISTING, &db));
    REQUIRE_OK(keel_db_describe_table(db, "events", &info));
    CHECK(info.items == 50);
    CHECK_OK(keel_db_delete_table(db, "events"));
    CHECK_ST(keel_db_delete_table(db, "events"), KEEL_ENOTABLE);
    CHECK_ST(put_psv(db, "events", "p", 1, 1), KEEL_ENOTABLE);
    CHECK_OK(keel_db_create_table(db, "events", &ps_schema));
    uint64_t count = 99;
    CHECK_OK(keel_db_count(db, "events", &count));
    CHECK(count == 0);
    keel_db_free(db);
    REQUIRE_OK(open_db("t.keel", KEEL_OPEN_EXISTING, &db));
    CHECK_OK(keel_db_count(db, "events", &count));
    CHECK(count == 0);
    REQUIRE_OK(keel_db_list_tables(db, &names, &n));
    CHECK(n == 2);
    free(names);
    keel_db_free(db);
}

/* ---- items ------------------------------------------------------------------------------ */

static void test_items(void) {
    keel_db *db;
    REQUIRE_OK(open_db("i.keel", KEEL_OPEN_CREATE, &db));
    REQUIRE_OK(keel_db_create_table(db, "events", &ps_schema));
    CHECK_OK(put_psv(db, "events", "a", 1, 10));
    CHECK_OK(put_psv(db, "events", "a", 1, 11));  /* replaces */
    kdb_buf k = key_ps("a", 1);
    keel_view v;
    REQUIRE_OK(keel_db_get_item(db, "events", k.p, k.len, &v));
    CHECK(item_int(v, "v") == 11);
    uint64_t count;
    CHECK_OK(keel_db_count(db, "events", &count));
    CHECK(count == 1);
    CHECK_OK(keel_db_delete_item(db, "events", k.p, k.len));
    CHECK_ST(keel_db_get_item(db, "events", k.p, k.len, &v), KEEL_NOTFOUND);
    CHECK_OK(keel_db_delete_item(db, "events", k.p, k.len));  /* absent: fine */
    CHECK_OK(keel_db_count(db, "events", &count));
    CHECK(count == 0);
    kdb_buf_free(&k);

    /* Missing key attribute, wrong key type, a key with extra attributes. */
    kdb_buf b = {0};
    kdb_enc_map(&b, 1);
    kdb_enc_text(&b, "pk", 2);
    kdb_enc_text(&b, "a", 1);
    CHECK_ST(keel_db_put_item(db, "events", b.p, b.len), KEEL_EVALIDATION);
    CHECK(strstr(keel_errmsg(), "sk") != NULL);
    kdb_buf_free(&b);
    kdb_enc_map(&b, 2);
    kdb_enc_text(&b, "pk", 2);
    kdb_enc_i64(&b, 5);
    kdb_enc_text(&b, "sk", 2);
    kdb_enc_i64(&b, 5);
    CHECK_ST(keel_db_put_item(db, "events", b.p, b.len), KEEL_EVALIDATION);
    kdb_buf_free(&b);
    b = item_psv("a", 1, 1, "x");
    CHECK_ST(keel_db_get_item(db, "events", b.p, b.len, &v), KEEL_EVALIDATION);
    kdb_buf_free(&b);
    static const uint8_t garbage[] = {0xff, 0x00, 0x12};
    CHECK_ST(keel_db_put_item(db, "events", garbage, sizeof garbage), KEEL_EVALIDATION);
    CHECK_ST(keel_db_put_item(db, "events", NULL, 0), KEEL_EINVAL);
    CHECK_ST(keel_db_put_item(db, "nope", garbage, sizeof garbage), KEEL_ENOTABLE);
    CHECK_OK(keel_db_count(db, "events", &count));
    CHECK(count == 0);
    keel_db_free(db);
}

/* Key maps in every form a caller may send: the library's fast reading of the common form
 * (key_fast in db_write.c) and its general path must agree on the item found and on
 * every error. */
static void test_key_forms(void) {
    keel_db *db;
    REQUIRE_OK(open_db("kf.keel", KEEL_OPEN_CREATE, &db));
    REQUIRE_OK(keel_db_create_table(db, "events", &ps_schema));
    CHECK_OK(put_psv(db, "events", "a", 1, 10));
    CHECK_OK(put_psv(db, "events", "a", -5, 20));
    static const struct { const char *what; uint8_t b[24]; size_t n; int64_t v; } found[] = {
        {"shortest", {0xA2, 0x62, 'p', 'k', 0x61, 'a', 0x62, 's', 'k', 0x01}, 10, 10},
        {"reversed", {0xA2, 0x62, 's', 'k', 0x01, 0x62, 'p', 'k', 0x61, 'a'}, 10, 10},
        {"8-byte int", {0xA2, 0x62, 'p', 'k', 0x61, 'a', 0x62, 's', 'k', 0x1B, 0, 0, 0, 0, 0,
                        0, 0, 1}, 18, 10},
        {"long text head", {0xA2, 0x62, 'p', 'k', 0x78, 0x01, 'a', 0x62, 's', 'k', 0x01}, 11, 10},
        {"long name head", {0xA2, 0x78, 0x02, 'p', 'k', 0x61, 'a', 0x62, 's', 'k', 0x01}, 11, 10},
        {"float 1.0", {0xA2, 0x62, 'p', 'k', 0x61, 'a', 0x62, 's', 'k', 0xFB, 0x3F, 0xF0, 0, 0,
                       0, 0, 0, 0}, 18, 10},
        {"negative", {0xA2, 0x62, 'p', 'k', 0x61, 'a', 0x62, 's', 'k', 0x24}, 10, 20},
    };
    for (size_t i = 0; i < sizeof found / sizeof found[0]; i++) {
        keel_view v;
        keel_status st = keel_db_get_item(db, "events", found[i].b, found[i].n, &v);
        if (st != KEEL_OK) {
            CHECKF(0, "%s: %s", found[i].what, keel_errmsg());
            continue;
        }
        CHECKF(item_int(v, "v") == found[i].v, "%s", found[i].what);
    }
    static const struct { const char *what; uint8_t b[16]; size_t n; const char *msg; } bad[] = {
        {"trailing byte", {0xA2, 0x62, 'p', 'k', 0x61, 'a', 0x62, 's', 'k', 0x01, 0x00}, 11,
         "map"},
        {"pk twice", {0xA2, 0x62, 'p', 'k', 0x61, 'a', 0x62, 'p', 'k', 0x61, 'a'}, 11, "twice"},
        {"unknown name", {0xA2, 0x62, 'p', 'k', 0x61, 'a', 0x62, 'q', 'q', 0x01}, 10,
         "not a key attribute"},
        {"sk as text", {0xA2, 0x62, 'p', 'k', 0x61, 'a', 0x62, 's', 'k', 0x61, '1'}, 11,
         "Type mismatch for key sk"},
        {"truncated", {0xA2, 0x62, 'p', 'k', 0x61}, 5, "map"},
        {"sk missing", {0xA1, 0x62, 'p', 'k', 0x61, 'a'}, 6, "Missing the key sk"},
        {"empty pk", {0xA2, 0x62, 'p', 'k', 0x60, 0x62, 's', 'k', 0x01}, 9, "empty string"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        keel_view v;
        CHECKF(keel_db_get_item(db, "events", bad[i].b, bad[i].n, &v) == KEEL_EVALIDATION,
                  "%s", bad[i].what);
        CHECKF(strstr(keel_errmsg(), bad[i].msg) != NULL, "%s: %s", bad[i].what,
                  keel_errmsg());
    }
    keel_view v;
    CHECK_ST(keel_db_get_item(db, "nope", found[0].b, found[0].n, &v), KEEL_ENOTABLE);
    CHECK(strstr(keel_errmsg(), "nope") != NULL);
    keel_db_free(db);
}

/* keel_db_get_item_attrs: a key given by value gives what keel_db_get_item gives for the
 * same map as CBOR (status, message, item), for keys in the common form (its own fast
 * path) and for every other (its general path). */
static keel_status get_map(keel_db *db, const char *table, const keel_db_key_attr *a,
                           size_t n, keel_view *v) {
    kdb_buf b = {0};
    kdb_enc_map(&b, n);
    for (size_t i = 0; i < n; i++) {
        kdb_enc_text(&b, a[i].name, a[i].name_len);
        if (a[i].type == KEEL_DB_KEY_S) kdb_enc_text(&b, a[i].data, a[i].len);
        else if (a[i].type == KEEL_DB_KEY_B) kdb_enc_bytes(&b, a[i].data, a[i].len);
        else kdb_enc_i64(&b, a[i].n);
    }
    keel_status st = keel_db_get_item(db, table, b.p, b.len, v);
    kdb_buf_free(&b);
    return st;
}

static void test_key_attrs(void) {
    keel_db *db;
    REQUIRE_OK(open_db("ka.keel", KEEL_OPEN_CREATE, &db));
    REQUIRE_OK(keel_db_create_table(db, "events", &ps_schema));
    CHECK_OK(put_psv(db, "events", "a", 1, 10));
    CHECK_OK(put_psv(db, "events", "a", -5, 20));
    CHECK_OK(put_psv(db, "events", "a", INT64_MIN, 30));
    static char big[2100];
    memset(big, 'x', sizeof big);
    /* Values: pk text, sk number; then every kind of wrong one. */
    const keel_db_key_attr pk = {"pk", 2, KEEL_DB_KEY_S, "a", 1, 0};
    const keel_db_key_attr alts[] = {
        {"sk", 2, KEEL_DB_KEY_N, NULL, 0, 1},          /* found: v 10 */
        {"sk", 2, KEEL_DB_KEY_N, NULL, 0, -5},         /* found: v 20 */
        {"sk", 2, KEEL_DB_KEY_N, NULL, 0, INT64_MIN},  /* found: v 30 */
        {"sk", 2, KEEL_DB_KEY_N, NULL, 0, INT64_MAX},  /* absent */
        {"sk", 2, KEEL_DB_KEY_S, "1", 1, 0},           /* type mismatch */
        {"sk", 2, KEEL_DB_KEY_B, "1", 1, 0},
        {"pk", 2, KEEL_DB_KEY_S, "a", 1, 0},           /* pk twice */
        {"q", 1, KEEL_DB_KEY_N, NULL, 0, 1},           /* not a key attribute */
        {"s", 1, KEEL_DB_KEY_N, NULL, 0, 1},           /* a prefix of a key name */
        {"skk", 3, KEEL_DB_KEY_N, NULL, 0, 1},
        {"", 0, KEEL_DB_KEY_N, NULL, 0, 1},
        {big, 300, KEEL_DB_KEY_N, NULL, 0, 1},
    };
    const keel_db_key_attr pks[] = {
        pk,
        {"pk", 2, KEEL_DB_KEY_S, "", 0, 0},            /* empty */
        {"pk", 2, KEEL_DB_KEY_S, big, sizeof big, 0},  /* over 2048 bytes */
        {"pk", 2, KEEL_DB_KEY_N, NULL, 0, 7},          /* type mismatch */
        {"pk", 2, KEEL_DB_KEY_S, "a\0b", 3, 0},        /* NUL inside: absent */
    };
    size_t found = 0, cases = 0;
    for (size_t p = 0; p < sizeof pks / sizeof pks[0]; p++) {
        for (size_t a = 0; a < sizeof alts / sizeof alts[0]; a++) {
            for (int order = 0; order < 3; order++) {   /* pk first, sk first, sk alone */
                keel_db_key_attr k[2];
                size_t n = order == 2 ? 1 : 2;
                if (order == 0) k[0] = pks[p], k[1] = alts[a];
                else if (order == 1) k[0] = alts[a], k[1] = pks[p];
                else k[0] = alts[a];
                keel_view v1 = {0}, v2 = {0};
                keel_status s1 = keel_db_get_item_attrs(db, "events", k, n, &v1);
                char m1[512];
                snprintf(m1, sizeof m1, "%s", keel_errmsg());
                keel_status s2 = get_map(db, "events", k, n, &v2);
                cases++;
                CHECKF(s1 == s2, "case %zu/%zu/%d: %d vs %d", p, a, order, (int)s1, (int)s2);
                if (s1 != KEEL_OK && s1 != KEEL_NOTFOUND)
                    CHECKF(strcmp(m1, keel_errmsg()) == 0, "case %zu/%zu/%d: '%s' vs '%s'", p,
                           a, order, m1, keel_errmsg());
                if (s1 == KEEL_OK && s2 == KEEL_OK) {
                    CHECK(v1.data == v2.data && v1.len == v2.len);
                    found++;
                }
            }
        }
    }
    CHECK(found == 6 && cases == 180);
    keel_view v;
    REQUIRE_OK(keel_db_get_item_attrs(db, "events", (keel_db_key_attr[]){pk, alts[1]}, 2, &v));
    CHECK(item_int(v, "v") == 20);
    /* No attributes: the empty map's error. Bad arguments: EINVAL naming them. */
    CHECK_ST(keel_db_get_item_attrs(db, "events", NULL, 0, &v), KEEL_EVALIDATION);
    CHECK(strstr(keel_errmsg(), "Missing the key pk") != NULL);
    CHECK_ST(keel_db_get_item_attrs(db, "events", NULL, 1, &v), KEEL_EINVAL);
    CHECK_ST(keel_db_get_item_attrs(db, "events", &pk, 1, NULL), KEEL_EINVAL);
    keel_db_key_attr odd = {"sk", 2, (keel_db_keytype)'X', NULL, 0, 1};
    CHECK_ST(keel_db_get_item_attrs(db, "events", (keel_db_key_attr[]){pk, odd}, 2, &v),
             KEEL_EINVAL);
    CHECK(strstr(keel_errmsg(), "attrs[1]") != NULL);
    odd = (keel_db_key_attr){NULL, 2, KEEL_DB_KEY_N, NULL, 0, 1};
    CHECK_ST(keel_db_get_item_attrs(db, "events", (keel_db_key_attr[]){pk, odd}, 2, &v),
             KEEL_EINVAL);
    odd = (keel_db_key_attr){"sk", 2, KEEL_DB_KEY_S, NULL, 3, 0};
    CHECK_ST(keel_db_get_item_attrs(db, "events", (keel_db_key_attr[]){pk, odd}, 2, &v),
             KEEL_EINVAL);
    CHECK_ST(keel_db_get_item_attrs(db, "nope", (keel_db_key_attr[]){pk, alts[0]}, 2, &v),
             KEEL_ENOTABLE);
    CHECK(strstr(keel_errmsg(), "nope") != NULL);
    CHECK_ST(keel_db_get_item_attrs(NULL, "events", &pk, 1, &v), KEEL_EINVAL);
    keel_db_free(db);
}

static void test_batch_write(void) {
    keel_db *db;
    REQUIRE_OK(open_db("b.keel", KEEL_OPEN_CREATE, &db));
    REQUIRE_OK(keel_db_create_table(db, "events", &ps_schema));
    REQUIRE_OK(keel_db_create_table(db, "other", &ps_schema));
    kdb_buf it[4] = {item_psv("a", 1, 1, "x"), item_psv("a", 2, 2, "x"),
                     item_psv("b", 1, 3, "x"), key_ps("a", 1)};
    keel_db_write w[3] = {{"events", it[0].p, it[0].len, 0}, {"events", it[1].p, it[1].len, 0},
                          {"other", it[2].p, it[2].len, 0}};
    CHECK_OK(keel_db_batch_write(db, w, 3));
    uint64_t c1, c2;
    CHECK_OK(keel_db_count(db, "events", &c1));
    CHECK_OK(keel_db_count(db, "other", &c2));
    CHECK(c1 == 2 && c2 == 1);
    /* A duplicate key, or one bad write, and nothing at all is written. */
    keel_db_write dup[2] = {{"events", it[0].p, it[0].len, 0}, {"events", it[3].p, it[3].len, 1}};
    CHECK_ST(keel_db_batch_write(db, dup, 2), KEEL_EVALIDATION);
    kdb_buf fresh = item_psv("c", 5, 5, "x");
    keel_db_write bad[2] = {{"events", fresh.p, fresh.len, 0}, {"nope", it[2].p, it[2].len, 0}};
    CHECK_ST(keel_db_batch_write(db, bad, 2), KEEL_ENOTABLE);
    keel_db_write bad2[2] = {{"events", fresh.p, fresh.len, 0}, {"events", it[1].p, it[1].len, 1}};
    CHECK_ST(keel_db_batch_write(db, bad2, 2), KEEL_EVALIDATION);  /* an item given as a key */
    kdb_buf_free(&fresh);
    CHECK_OK(keel_db_count(db, "events", &c1));
    CHECK(c1 == 2);
    keel_db_write del[1] = {{"events", it[3].p, it[3].len, 1}};
    CHECK_OK(keel_db_batch_write(db, del, 1));
    CHECK_OK(keel_db_count(db, "events", &c1));
    CHECK(c1 == 1);
    for (int i = 0; i < 4; i++) kdb_buf_free(&it[i]);
    keel_db_free(db);
}

static void test_kv_table(void) {
    keel_db *db;
    REQUIRE_OK(open_db("kv.keel", KEEL_OPEN_CREATE, &db));
    kdb_buf a = values1("name", "alice"), b = values1("name", "bob"), c = values1("name", "c");
    CHECK_OK(keel_db_kv_put(db, "user#1", 6, NULL, 0, a.p, a.len));
    CHECK_OK(keel_db_kv_put(db, "user#1", 6, "", 0, b.p, b.len));  /* sk "" is not "no sk" */
    CHECK_OK(keel_db_kv_put(db, "user#1", 6, "x", 1, c.p, c.len));
    keel_view v;
    REQUIRE_OK(keel_db_kv_get(db, "user#1", 6, NULL, 0, &v));
    CHECK(v.len == a.len && memcmp(v.data, a.p, a.len) == 0);
    REQUIRE_OK(keel_db_kv_get(db, "user#1", 6, "", 0, &v));
    CHECK(v.len == b.len && memcmp(v.data, b.p, b.len) == 0);
    CHECK_OK(keel_db_kv_delete(db, "user#1", 6, NULL, 0));
    CHECK_ST(keel_db_kv_get(db, "user#1", 6, NULL, 0, &v), KEEL_NOTFOUND);
    CHECK_OK(keel_db_kv_get(db, "user#1", 6, "x", 1, &v));
    keel_db_free(db);
    REQUIRE_OK(open_db("kv.keel", KEEL_OPEN_EXISTING, &db));
    CHECK_OK(keel_db_kv_get(db, "user#1", 6, "", 0, &v));
    CHECK_ST(keel_db_kv_get(db, "user#1", 6, NULL, 0, &v), KEEL_NOTFOUND);
    keel_db_free(db);
    kdb_buf_free(&a);
    kdb_buf_free(&b);
    kdb_buf_free(&c);
}

/* ---- queries against a model -------------------------------------------------------------- */

#define NPART 7
#define NSK 40

/* Run `cond` with ":p" = partition, ":a"/":b" = numbers, and check the sort keys returned
 * (in order) are exactly those in [lo, hi] of 0..NSK-1 with the given step (direction). */
static void check_query(keel_db *db, const char *pk, const char *cond, int64_t a, int64_t b,
                        int forward, int lo, int hi, uint64_t limit) {
    kdb_buf vals = {0};
    kdb_enc_map(&vals, strstr(cond, ":b") ? 3 : strstr(cond, ":a") ? 2 : 1);
    kdb_enc_text(&vals, ":p", 2);
    kdb_enc_text(&vals, pk, strlen(pk));
    if (strstr(cond, ":a")) {
        kdb_enc_text(&vals, ":a", 2);
        kdb_enc_i64(&vals, a);
    }
    if (strstr(cond, ":b")) {
        kdb_enc_text(&vals, ":b", 2);
        kdb_enc_i64(&vals, b);
    }
    keel_db_query q = KEEL_DB_QUERY_INIT;
    q.key_condition = cond;
    q.values = vals.p;
    q.values_len = vals.len;
    q.forward = forward;
    q.limit = limit;
    int want = forward ? lo : hi, got = 0;
    uint8_t *resume = NULL;
    size_t resume_len = 0;
    for (int page = 0; page < 1000; page++) {
        keel_db_cursor *c;
        if (resume) {
            q.start_key = resume;
            q.start_key_len = resume_len;
        }
        keel_status st = keel_db_query_start(db, "events", &q, &c);
        CHECKF(st == KEEL_OK, "%s: %s", cond, keel_errmsg());
        if (st != KEEL_OK) break;
        keel_view v;
        while ((st = keel_db_cursor_next(c, &v)) == KEEL_OK) {
            int64_t sk = item_int(v, "sk");
            CHECKF(sk == want, "%s (a=%lld b=%lld fwd=%d limit=%llu): got sk %lld, want %d", cond,
                   (long long)a, (long long)b, forward, (unsigned long long)limit, (long long)sk,
                   want);
            want += forward ? 1 : -1;
            got++;
        }
        CHECK_ST(st, KEEL_NOTFOUND);
        free(resume);
        resume = NULL;
        keel_view lk;
        if (keel_db_cursor_last_key(c, &lk) == KEEL_OK) {
            resume = malloc(lk.len);
            memcpy(resume, lk.data, lk.len);
            resume_len = lk.len;
        }
        keel_db_cursor_free(c);
        if (!resume || h_failures()) break;
    }
    free(resume);
    int expect = hi >= lo ? hi - lo + 1 : 0;
    CHECKF(got == expect, "%s (a=%lld b=%lld fwd=%d limit=%llu): %d items, want %d", cond,
           (long long)a, (long long)b, forward, (unsigned long long)limit, got, expect);
    kdb_buf_free(&vals);
}

static void test_query(void) {
    keel_db *db;
    REQUIRE_OK(open_db("q.keel", KEEL_OPEN_CREATE, &db));
    REQUIRE_OK(keel_db_create_table(db, "events", &ps_schema));
    REQUIRE_OK(keel_db_create_table(db, "zzz-other", &ps_schema));
    char pk[16];
    rng r = rng_seed(7);
    /* Insert in random order, across partitions and a second table with the same keys. */
    int order[NPART * NSK];
    for (int i = 0; i < NPART * NSK; i++) order[i] = i;
    for (int i = NPART * NSK - 1; i > 0; i--) {
        int j = (int)rng_below(&r, (uint64_t)i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (int i = 0; i < NPART * NSK; i++) {
        snprintf(pk, sizeof pk, "part%d", order[i] / NSK);
        CHECK_OK(put_psv(db, "events", pk, order[i] % NSK, order[i]));
        CHECK_OK(put_psv(db, "zzz-other", pk, order[i] % NSK, -1));
    }
    for (int round = 0; round < 2; round++) {
        for (int p = 0; p < NPART; p++) {
            snprintf(pk, sizeof pk, "part%d", p);
            for (int fwd = 0; fwd <= 1; fwd++) {
                for (uint64_t limit = 0; limit <= 7; limit += 7) {
                    check_query(db, pk, "pk = :p", 0, 0, fwd, 0, NSK - 1, limit);
                    check_query(db, pk, "pk = :p AND sk = :a", 5, 0, fwd, 5, 5, limit);
                    check_query(db, pk, "pk = :p AND sk = :a", 99, 0, fwd, 1, 0, limit);
                    check_query(db, pk, "pk = :p AND sk < :a", 10, 0, fwd, 0, 9, limit);
                    check_query(db, pk, "pk = :p AND sk <= :a", 10, 0, fwd, 0, 10, limit);
                    check_query(db, pk, "pk = :p AND sk > :a", 30, 0, fwd, 31, NSK - 1, limit);
                    check_query(db, pk, "pk = :p AND sk >= :a", 30, 0, fwd, 30, NSK - 1, limit);
                    check_query(db, pk, "pk = :p AND sk BETWEEN :a AND :b", 3, 17, fwd, 3, 17,
                                limit);
                    check_query(db, pk, "sk BETWEEN :a AND :b AND pk = :p", -5, 2, fwd, 0, 2,
                                limit);
                }
            }
        }
        /* The same after reopening (the ordered index rebuilt from the file). */
        keel_db_free(db);
        REQUIRE_OK(open_db("q.keel", KEEL_OPEN_EXISTING, &db));
    }
    check_query(db, "nothing", "pk = :p", 0, 0, 1, 1, 0, 0);
    /* Bad key conditions are refused before any item is read. */
    keel_db_cursor *c;
    keel_db_query q = KEEL_DB_QUERY_INIT;
    kdb_buf vals = values1(":p", "part1");
    q.values = vals.p;
    q.values_len = vals.len;
    q.key_condition = "sk = :p";
    CHECK_ST(keel_db_query_start(db, "events", &q, &c), KEEL_EVALIDATION);
    q.key_condition = "pk = :p AND";
    CHECK_ST(keel_db_query_start(db, "events", &q, &c), KEEL_ESYNTAX);
    q.key_condition = "pk = :zz";
    CHECK_ST(keel_db_query_start(db, "events", &q, &c), KEEL_EVALIDATION);
    q.key_condition = "pk = :p";
    CHECK_ST(keel_db_query_start(db, "nope", &q, &c), KEEL_ENOTABLE);
    kdb_buf_free(&vals);
    keel_db_free(db);
}

static void test_filter_projection(void) {
    keel_db *db;
    REQUIRE_OK(open_db("f.keel", KEEL_OPEN_CREATE, &db));
    REQUIRE_OK(keel_db_create_table(db, "events", &ps_schema));
    for (int i = 0; i < 100; i++) CHECK_OK(put_psv(db, "events", "p", i, i));
    kdb_buf vals = {0};
    kdb_enc_map(&vals, 2);
    kdb_enc_text(&vals, ":p", 2);
    kdb_enc_text(&vals, "p", 1);
    kdb_enc_text(&vals, ":t", 2);
    kdb_enc_text(&vals, "odd", 3);
    keel_db_query q = KEEL_DB_QUERY_INIT;
    q.key_condition = "pk = :p";
    q.filter = "tag = :t";
    q.projection = "sk, v";
    q.values = vals.p;
    q.values_len = vals.len;
    q.limit = 10;
    keel_db_cursor *c;
    REQUIRE_OK(keel_db_query_start(db, "events", &q, &c));
    keel_view v;
    int n = 0;
    while (keel_db_cursor_next(c, &v) == KEEL_OK) {
        CHECK(item_int(v, "v") % 2 == 1);
        kdb_val x;
        CHECK(!kdb_item_attr(v.data, v.len, "tag", 3, &x));  /* projected away */
        n++;
    }
    uint64_t scanned, returned;
    keel_db_cursor_counts(c, &scanned, &returned);
    CHECK(n == 5 && scanned == 10 && returned == 5);
    keel_view lk;
    CHECK_OK(keel_db_cursor_last_key(c, &lk));
    CHECK(item_int(lk, "sk") == 9);
    keel_db_cursor_free(c);
    /* An unused value is refused, as DynamoDB does. */
    q.filter = NULL;
    CHECK_ST(keel_db_query_start(db, "events", &q, &c), KEEL_EVALIDATION);
    kdb_buf_free(&vals);
    keel_db_free(db);
}

/* ---- scans ---------------------------------------------------------------------------------- */

static void test_scan_segments(void) {
    keel_db *db;
    REQUIRE_OK(open_db("s.keel", KEEL_OPEN_CREATE, &db));
    REQUIRE_OK(keel_db_create_table(db, "events", &ps_schema));
    REQUIRE_OK(keel_db_create_table(db, "other", &ps_schema));
    enum { N = 600 };
    char pk[16];
    for (int i = 0; i < N; i++) {
        snprintf(pk, sizeof pk, "p%d", i % 97);
        CHECK_OK(put_psv(db, "events", pk, i, i));
        CHECK_OK(put_psv(db, "other", pk, i, i));
    }
    static const uint32_t totals[] = {1, 2, 3, 16, 1000};
    for (size_t t = 0; t < sizeof totals / sizeof totals[0]; t++) {
        unsigned char *seen = calloc(N, 1);
        for (uint32_t seg = 0; seg < totals[t]; seg++) {
            keel_db_query q = KEEL_DB_QUERY_INIT;
            q.segment = seg;
            q.total_segments = totals[t];
            q.limit = 13;
            uint8_t *resume = NULL;
            size_t resume_len = 0;
            for (;;) {
                keel_db_cursor *c;
                q.start_key = resume;
                q.start_key_len = resume_len;
                REQUIRE_OK(keel_db_scan_start(db, "events", &q, &c));
                keel_view v;
                while (keel_db_cursor_next(c, &v) == KEEL_OK) {
                    int64_t x = item_int(v, "v");
                    CHECK(x >= 0 && x < N);
                    if (x >= 0 && x < N) seen[x]++;
                }
                free(resume);
                resume = NULL;
                keel_view lk;
                if (keel_db_cursor_last_key(c, &lk) == KEEL_OK) {
                    resume = malloc(lk.len);
                    memcpy(resume, lk.data, lk.len);
                    resume_len = lk.len;
                }
                keel_db_cursor_free(c);
                if (!resume) break;
            }
        }
        for (int i = 0; i < N; i++) CHECKF(seen[i] == 1, "total %u: item %d seen %d times",
                                          totals[t], i, seen[i]);
        free(seen);
    }
    keel_db_query q = KEEL_DB_QUERY_INIT;
    keel_db_cursor *c;
    q.segment = 3;
    q.total_segments = 3;
    CHECK_ST(keel_db_scan_start(db, "events", &q, &c), KEEL_EVALIDATION);
    keel_db_free(db);
}

/* ---- maintenance: compaction, in-memory ------------------------------------------------------ */

static void test_compact_and_memory(void) {
    keel_db *db;
    REQUIRE_OK(open_db("c.keel", KEEL_OPEN_CREATE, &db));
    REQUIRE_OK(keel_db_create_table(db, "events", &ps_schema));
    for (int i = 0; i < 200; i++) CHECK_OK(put_psv(db, "events", "p", i % 50, i));
    CHECK_OK(keel_db_compact(db, NULL, NULL));
    check_query(db, "p", "pk = :p AND sk BETWEEN :a AND :b", 10, 20, 1, 10, 20, 0);
    uint64_t count;
    CHECK_OK(keel_db_count(db, "events", &count));
    CHECK(count == 50);
    keel_verify_report rep;
    CHECK_OK(keel_db_verify(db, &rep));
    keel_db_free(db);

    REQUIRE_OK(keel_db_open_memory(NULL, &db));
    REQUIRE_OK(keel_db_create_table(db, "events", &ps_schema));
    for (int i = 0; i < 50; i++) CHECK_OK(put_psv(db, "events", "p", i, i));
    check_query(db, "p", "pk = :p AND sk >= :a", 45, 0, 0, 45, 49, 2);
    keel_db_free(db);
}

/* ---- crashes ---------------------------------------------------------------------------------- */

/* Cut the file at every byte of its last batch: it reopens with the batch all there or not. */
static void test_crash_cut_batch(void) {
    keel_db *db;
    REQUIRE_OK(open_db("x.keel", KEEL_OPEN_CREATE, &db));
    REQUIRE_OK(keel_db_create_table(db, "events", &ps_schema));
    for (int i = 0; i < 5; i++) CHECK_OK(put_psv(db, "events", "p", i, i));
    keel_db_free(db);
    long long before = file_size(h_path("x.keel"));
    REQUIRE_OK(open_db("x.keel", KEEL_OPEN_EXISTING, &db));
    kdb_buf it[3] = {item_psv("p", 100, 1, "x"), item_psv("p", 101, 2, "x"),
                     item_psv("q", 1, 3, "x")};
    keel_db_write w[3] = {{"events", it[0].p, it[0].len, 0}, {"events", it[1].p, it[1].len, 0},
                          {"events", it[2].p, it[2].len, 0}};
    REQUIRE_OK(keel_db_batch_write(db, w, 3));
    keel_db_free(db);
    for (int i = 0; i < 3; i++) kdb_buf_free(&it[i]);
    size_t full_len;
    uint8_t *full = read_file(h_path("x.keel"), &full_len);
    REQUIRE(full != NULL);
    for (size_t cut = (size_t)before; cut <= full_len && !h_failures(); cut++) {
        REQUIRE(write_file(h_path("y.keel"), full, cut) == 0);
        keel_db_options o = KEEL_DB_OPTIONS_INIT;
        o.mode = KEEL_OPEN_EXISTING;
        REQUIRE_OK(keel_db_open(h_path("y.keel"), &o, &db));
        uint64_t count;
        CHECK_OK(keel_db_count(db, "events", &count));
        CHECKF(count == (cut == full_len ? 8u : 5u), "cut at %zu of %zu: %llu items", cut,
               full_len, (unsigned long long)count);
        keel_db_free(db);
    }
    free(full);
}

int main(int argc, char **argv) {
    static const h_test tests[] = {
        H_TEST(test_kinds_refuse_each_other),
        H_TEST(test_tables),
        H_TEST(test_items),
        H_TEST(test_key_forms),
        H_TEST(test_key_attrs),
        H_TEST(test_batch_write),
        H_TEST(test_kv_table),
        H_TEST(test_query),
        H_TEST(test_filter_projection),
        H_TEST(test_scan_segments),
        H_TEST(test_compact_and_memory),
        H_TEST(test_crash_cut_batch),
    };
    return h_main(argc, argv, tests, H_COUNT(tests));
}
