/*
 * test_db_expr.c: the expression engine (src/db/expr_lex.c, expr_parse.c, expr_eval.c).
 *
 * Items, value maps and name maps are written in the notation of db_notation.h and
 * encoded with the kdb_enc_* encoders. Then tables of cases: conditions with their truth
 * value against a fixed item, projections with their expected result, key conditions with
 * what they extract, and expressions that must fail with a given status and message.
 */
#include "harness.h"
#include "util.h"

#include "db/db.h"
#include "db_notation.h"

/* ---- shared fixtures ------------------------------------------------------------------------ */

static const char *const ITEM =
    "{\"pk\": \"p1\", \"sk\": 5, \"s\": \"hello world\", \"n\": 42, \"neg\": -1.5,"
    " \"bin\": b\"abc\", \"t\": true, \"f\": false, \"nul\": null, \"e\": \"\","
    " \"l\": [1, \"two\", [3, 4], {\"x\": 5}], \"m\": {\"a\": 1, \"b\": {\"c\": \"deep\"}, \"lst\": [10, 20, 30]},"
    " \"ss\": <\"red\", \"green\">, \"ns\": <1, 2.5, 300>, \"bs\": <b\"ab\", b\"cd\">,"
    " \"u\": \"h\xc3\xa9\", \"u4\": \"\xc3\xa9\xf0\x9d\x84\x9e\", \"name\": \"reserved\", \"a.b\": \"dotted\", \"big\": 1e30, \"el\": [], \"em\": {}}";

static const char *const VALUES =
    "{\":one\": 1, \":two\": 2, \":42\": 42, \":42f\": 42.0, \":s\": \"hello world\", \":hel\": \"hel\","
    " \":wor\": \"wor\", \":p1\": \"p1\", \":b\": b\"ab\", \":bc\": b\"bc\", \":t\": true, \":f\": false,"
    " \":nul\": null, \":red\": \"red\", \":blue\": \"blue\", \":n25\": 2.5, \":ab\": b\"ab\","
    " \":two_s\": \"two\", \":l34\": [3, 4], \":mx\": {\"x\": 5}, \":ss\": <\"green\", \"red\">,"
    " \":e\": \"\", \":zz\": b\"zz\", \":neg\": -1.5, \":big\": 1000000000000000000000000000000, \":11\": 11,"
    " \":five\": 5, \":three\": 3, \":ten\": 10,"
    " \":S\": \"S\", \":N\": \"N\", \":B\": \"B\", \":BOOL\": \"BOOL\", \":NULL\": \"NULL\", \":L\": \"L\","
    " \":M\": \"M\", \":SS\": \"SS\", \":NS\": \"NS\", \":BS\": \"BS\", \":X\": \"X\", \":lower\": \"s\"}";

static const char *const NAMES =
    "{\"#name\": \"name\", \"#dot\": \"a.b\", \"#m\": \"m\", \"#a\": \"a\", \"#missing\": \"zzz\"}";

typedef struct fixture {
    kdb_buf item, values, names;
} fixture;

static void fixture_init(fixture *f) {
    memset(f, 0, sizeof *f);
    cbor(ITEM, &f->item);
    cbor(VALUES, &f->values);
    cbor(NAMES, &f->names);
}

static void fixture_free(fixture *f) {
    kdb_buf_free(&f->item);
    kdb_buf_free(&f->values);
    kdb_buf_free(&f->names);
}

static keel_status parse(const fixture *f, kdb_expr_kind kind, const char *text, kdb_subst *s,
                         kdb_expr **out) {
    keel_status st = kdb_subst_init(s, f->names.p, f->names.len, f->values.p, f->values.len);
    if (st != KEEL_OK) return st;
    return kdb_expr_parse(kind, text, strlen(text), s, out);
}

/* ---- conditions ----------------------------------------------------------------------------- */

typedef struct cond_case {
    const char *expr;
    int want;
} cond_case;

static const cond_case COND[] = {
    /* comparators on every comparable type */
    {"n = :42", 1}, {"n = :42f", 1}, {"n <> :42", 0}, {"n < :42", 0}, {"n <= :42", 1},
    {"n > :42", 0}, {"n >= :42", 1}, {":42 = n", 1}, {":one < n", 1}, {"neg < :one", 1},
    {"neg = :neg", 1}, {"big = :big", 1}, {"big > :42", 1},
    {"s = :s", 1}, {"s > :hel", 1}, {"s < :wor", 1}, {"s <> :hel", 1},
    {"bin > :b", 1}, {"bin < :bc", 1}, {"bin <> :bc", 1},
    {"t = :t", 1}, {"f = :f", 1}, {"t = :f", 0}, {"nul = :nul", 1}, {"t <> :f", 1},
    /* type mismatches: "=" false, ordering false (not an error: the path's type is unknown) */
    {"n = :s", 0}, {"n <> :s", 1}, {"s < :42", 0}, {"s >= :42", 0}, {"t > :42", 0},
    {"n = :42 AND s = :s", 1},
    /* deep equality of lists, maps and sets (set order does not matter) */
    {"l[2] = :l34", 1}, {"l[3] = :mx", 1}, {"ss = :ss", 1}, {"l[2] <> :l34", 0},
    /* path against path */
    {"n = n", 1}, {"m.a = l[0]", 1}, {"m.a < m.lst[0]", 1}, {"sk = m.lst[0]", 0},
    /* missing paths: comparisons false except <>; two missing paths are not equal */
    {"zzz = :one", 0}, {"zzz <> :one", 1}, {"zzz < :one", 0}, {"zzz = zzz", 0},
    {"zzz <> yyy", 1}, {"zzz BETWEEN :one AND :two", 0}, {"zzz IN (:one, :two)", 0},
    {"m.zzz = :one", 0}, {"n.x = :one", 0}, {"l[9] = :one", 0}, {"m[0] = :one", 0},
    {"l.x = :one", 0}, {"l[0][0] = :one", 0},
    /* BETWEEN, IN */
    {"n BETWEEN :one AND :42", 1}, {"n BETWEEN :42 AND :42", 1}, {"n BETWEEN :one AND :two", 0},
    {"s BETWEEN :hel AND :wor", 1}, {"s BETWEEN :one AND :two", 0},
    {"sk BETWEEN :three AND :ten", 1},
    {"n IN (:one, :42)", 1}, {"n IN (:one)", 0}, {"s IN (:hel, :s)", 1}, {"l[2] IN (:l34)", 1},
    {"n IN (:s, :42f)", 1},
    /* nested paths and list indexes */
    {"m.b.c = :s", 0}, {"m.lst[1] = :two", 0}, {"m.lst[2] > :ten", 1}, {"l[1] = :two_s", 1},
    {"l[3].x = :five", 1}, {"l[2][1] > :three", 1}, {"#m.#a = :one", 1}, {"#name = :one", 0},
    {"#dot = :one", 0}, {"#missing = :one", 0}, {"attribute_exists(#dot)", 1},
    {"attribute_exists(a.b)", 0},
    /* functions */
    {"attribute_exists(n)", 1}, {"attribute_exists(zzz)", 0}, {"attribute_exists(nul)", 1},
    {"attribute_not_exists(zzz)", 1}, {"attribute_not_exists(n)", 0},
    {"attribute_exists(m.b.c)", 1}, {"attribute_exists(l[3].x)", 1}, {"attribute_exists(l[4])", 0},
    {"attribute_type(s, :S)", 1}, {"attribute_type(n, :N)", 1}, {"attribute_type(bin, :B)", 1},
    {"attribute_type(t, :BOOL)", 1}, {"attribute_type(nul, :NULL)", 1},
    {"attribute_type(l, :L)", 1}, {"attribute_type(m, :M)", 1}, {"attribute_type(ss, :SS)", 1},
    {"attribute_type(ns, :NS)", 1}, {"attribute_type(bs, :BS)", 1}, {"attribute_type(s, :N)", 0},
    {"attribute_type(zzz, :S)", 0}, {"attribute_type(ss, :L)", 0},
    {"begins_with(s, :hel)", 1}, {"begins_with(s, :wor)", 0}, {"begins_with(s, :e)", 1},
    {"begins_with(bin, :b)", 1}, {"begins_with(bin, :bc)", 0}, {"begins_with(n, :hel)", 0},
    {"begins_with(s, :b)", 0}, {"begins_with(zzz, :hel)", 0}, {"begins_with(s, s)", 1},
    {"contains(s, :wor)", 1}, {"contains(s, :red)", 0}, {"contains(s, :e)", 1},
    {"contains(bin, :bc)", 1}, {"contains(bin, :zz)", 0},
    {"contains(ss, :red)", 1}, {"contains(ss, :blue)", 0}, {"contains(ns, :n25)", 1},
    {"contains(ns, :two)", 0}, {"contains(bs, :ab)", 1}, {"contains(l, :two_s)", 1},
    {"contains(l, :l34)", 1}, {"contains(l, :mx)", 1}, {"contains(l, :one)", 1},
    {"contains(l, :two)", 0}, {"contains(m, :one)", 0}, {"contains(n, :42)", 0},
    {"contains(zzz, :one)", 0}, {"contains(ss, s)", 0},
    /* size(): UTF-16 code units of S (DynamoDB's count), bytes of B, elements of sets,
     * lists and maps */
    {"size(s) = :11", 1}, {"size(u) = :two", 1}, {"size(u4) = :three", 1},
    {"size(bin) = :three", 1},
    {"size(e) = :one", 0}, {"size(l) = :ten", 0}, {"size(l) < :five", 1},
    {"size(m) = :three", 1}, {"size(ss) = :two", 1}, {"size(ns) = :three", 1},
    {"size(el) < :one", 1}, {"size(em) <= :one", 1}, {"size(n) = :two", 0},
    {"size(n) <> :two", 1}, {"size(zzz) < :one", 0}, {"size(t) >= :one", 0},
    {"size(m.lst) BETWEEN :two AND :three", 1}, {"size(s) IN (:11)", 1},
    {"size(s) > size(m)", 1}, {":three = size(m)", 1},
    /* logic, precedence (NOT > AND > OR), parentheses, case-insensitive keywords */
    {"n = :one OR n = :42", 1}, {"n = :one AND n = :42", 0}, {"NOT n = :one", 1},
    {"NOT NOT n = :one", 0}, {"n = :one OR n = :42 AND s = :hel", 0},
    {"(n = :one OR n = :42) AND s = :hel", 0}, {"n = :42 OR n = :one AND s = :hel", 1},
    {"NOT n = :42 OR s = :s", 1}, {"NOT (n = :42 OR s = :s)", 0},
    {"NOT n = :42 AND s = :s", 0}, {"n = :one AND s = :s OR t = :t", 1},
    {"n = :42 and s = :s", 1}, {"n = :one oR n = :42", 1}, {"not n = :one", 1},
    {"n between :one And :42", 1}, {"n In (:42)", 1}, {"((((n = :42))))", 1},
    {"(n = :42) AND (((s = :s)))", 1}, {"n=:42 AND(s=:s)", 1}, {"\tn\n=\r:42  ", 1},
    {"attribute_exists(n) AND NOT attribute_exists(zzz) AND (size(s) > :one OR zzz = :one)", 1},
};

static void test_conditions(void) {
    fixture f;
    fixture_init(&f);
    for (size_t i = 0; i < H_COUNT(COND); i++) {
        kdb_subst s;
        kdb_expr *e = NULL;
        keel_status st = parse(&f, KDB_EXPR_CONDITION, COND[i].expr, &s, &e);
        CHECKF(st == KEEL_OK, "%s: %s: %s", COND[i].expr, st_name(st), keel_errmsg());
        if (st != KEEL_OK) continue;
        int got = kdb_expr_eval(e, f.item.p, f.item.len);
        CHECKF(got == COND[i].want, "%s: got %d, want %d", COND[i].expr, got, COND[i].want);
        /* No item at all: every path is missing. */
        int none = kdb_expr_eval(e, NULL, 0);
        CHECK(none == 0 || none == 1);
        kdb_expr_free(e);
    }
    fixture_free(&f);
}

/* Without an item, attribute_not_exists holds and comparisons (but <>) fail: the
 * put-if-absent pattern. */
static void test_no_item(void) {
    fixture f;
    fixture_init(&f);
    static const cond_case cases[] = {
        {"attribute_not_exists(pk)", 1}, {"attribute_exists(pk)", 0}, {"n = :42", 0},
        {"n <> :42", 1}, {"NOT n = :42", 1}, {"size(s) > :one", 0},
    };
    for (size_t i = 0; i < H_COUNT(cases); i++) {
        kdb_subst s;
        kdb_expr *e = NULL;
        REQUIRE_OK(parse(&f, KDB_EXPR_CONDITION, cases[i].expr, &s, &e));
        CHECKF(kdb_expr_eval(e, NULL, 0) == cases[i].want, "%s", cases[i].expr);
        /* An item that is not a map can only come from a damaged file: reported (-1), not
         * taken for "no item" (which made attribute_not_exists hold on it). */
        uint8_t not_a_map[] = {0x01};
        CHECKF(kdb_expr_eval(e, not_a_map, 1) == -1, "%s (not a map)", cases[i].expr);
        kdb_expr_free(e);
    }
    fixture_free(&f);
}

/* ---- projections ---------------------------------------------------------------------------- */

typedef struct proj_case {
    const char *expr;
    const char *want;   /* the notation of the expected map */
} proj_case;

static const proj_case PROJ[] = {
    {"n", "{\"n\": 42}"},
    {"n, s", "{\"s\": \"hello world\", \"n\": 42}"},            /* item order, not request order */
    {"s, n", "{\"s\": \"hello world\", \"n\": 42}"},
    {"zzz", "{}"},
    {"n, zzz", "{\"n\": 42}"},
    {"m.a", "{\"m\": {\"a\": 1}}"},
    {"m.b.c, m.a", "{\"m\": {\"a\": 1, \"b\": {\"c\": \"deep\"}}}"},
    {"m.zzz", "{}"},
    {"m.lst[2], m.lst[0]", "{\"m\": {\"lst\": [10, 30]}}"},
    {"l[3].x, l[1]", "{\"l\": [\"two\", {\"x\": 5}]}"},
    {"l[2][1]", "{\"l\": [[4]]}"},
    {"l[9]", "{}"},
    {"l.x", "{}"},
    {"m[0]", "{}"},
    {"#name, #dot", "{\"name\": \"reserved\", \"a.b\": \"dotted\"}"},
    {"#m.#a", "{\"m\": {\"a\": 1}}"},
    {"ss, el, em", "{\"ss\": <\"red\", \"green\">, \"el\": [], \"em\": {}}"},
    {"l[3]", "{\"l\": [{\"x\": 5}]}"},
};

static void test_projections(void) {
    fixture f;
    fixture_init(&f);
    kdb_buf out = {0}, want = {0};
    for (size_t i = 0; i < H_COUNT(PROJ); i++) {
        kdb_subst s;
        kdb_expr *e = NULL;
        keel_status st = parse(&f, KDB_EXPR_PROJECTION, PROJ[i].expr, &s, &e);
        CHECKF(st == KEEL_OK, "%s: %s: %s", PROJ[i].expr, st_name(st), keel_errmsg());
        if (st != KEEL_OK) continue;
        CHECK_OK(kdb_expr_project(e, f.item.p, f.item.len, &out));
        cbor(PROJ[i].want, &want);
        CHECKF(out.len == want.len && memcmp(out.p, want.p, want.len) == 0,
               "%s: projection differs (%zu bytes, want %zu)", PROJ[i].expr, out.len, want.len);
        /* The result is a valid item. */
        size_t size;
        CHECKF(kdb_item_check(out.p, out.len, &size) == KEEL_OK, "%s: %s", PROJ[i].expr,
               keel_errmsg());
        /* No item: an empty map. */
        CHECK_OK(kdb_expr_project(e, NULL, 0, &out));
        CHECK(out.len == 1 && out.p[0] == 0xa0);
        kdb_expr_free(e);
    }
    kdb_buf_free(&out);
    kdb_buf_free(&want);
    fixture_free(&f);
}

/* A stored item holds padding pairs before its vectors; paths and projections skip them. */
static void test_stored_form(void) {
    fixture f;
    fixture_init(&f);
    kdb_buf item = {0}, stored = {0}, out = {0}, want = {0};
    float dims[4] = {1.0f, 2.0f, 3.0f, 4.0f};
    kdb_enc_map(&item, 3);
    kdb_enc_text(&item, "n", 1);
    kdb_enc_uint(&item, 42);
    kdb_enc_text(&item, "v", 1);
    kdb_enc_tag(&item, KDB_TAG_F32LE);
    kdb_enc_bytes(&item, dims, sizeof dims);
    kdb_enc_text(&item, "s", 1);
    kdb_enc_text(&item, "hello world", 11);
    REQUIRE(!item.failed);
    REQUIRE_OK(kdb_item_store_form(item.p, item.len, &stored));
    CHECK(stored.len > item.len); /* a padding pair was added */
    static const cond_case cases[] = {
        {"n = :42", 1}, {"s = :s", 1}, {"attribute_exists(v)", 1}, {"size(v) = :three", 0},
        {"attribute_type(v, :L)", 1}, {"attribute_type(v, :B)", 0}, {"size(s) = :11", 1},
    };
    for (size_t i = 0; i < H_COUNT(cases); i++) {
        kdb_subst s;
        kdb_expr *e = NULL;
        REQUIRE_OK(parse(&f, KDB_EXPR_CONDITION, cases[i].expr, &s, &e));
        CHECKF(kdb_expr_eval(e, stored.p, stored.len) == cases[i].want, "%s", cases[i].expr);
        CHECKF(kdb_expr_eval(e, item.p, item.len) == cases[i].want, "%s (unpadded)",
               cases[i].expr);
        kdb_expr_free(e);
    }
    kdb_subst s;
    kdb_expr *e = NULL;
    REQUIRE_OK(parse(&f, KDB_EXPR_PROJECTION, "s, n", &s, &e));
    CHECK_OK(kdb_expr_project(e, stored.p, stored.len, &out));
    cbor("{\"n\": 42, \"s\": \"hello world\"}", &want);
    CHECK(out.len == want.len && memcmp(out.p, want.p, want.len) == 0);
    kdb_expr_free(e);
    REQUIRE_OK(parse(&f, KDB_EXPR_PROJECTION, "v", &s, &e));
    CHECK_OK(kdb_expr_project(e, stored.p, stored.len, &out));
    /* {"v": the vector's own bytes}: one pair, no padding */
    CHECK(out.len == 1 + 2 + 2 + 1 + sizeof dims); /* map, "v", tag 85, bytes head */
    CHECK(out.p[0] == 0xa1);
    kdb_expr_free(e);
    kdb_buf_free(&item);
    kdb_buf_free(&stored);
    kdb_buf_free(&out);
    kdb_buf_free(&want);
    fixture_free(&f);
}

/* ---- key conditions ------------------------------------------------------------------------- */

typedef struct key_case {
    const char *expr;
    kdb_skop op;
    const char *pk, *sk1, *sk2;   /* expected values (notation), NULL when absent */
} key_case;

static void test_key_conditions(void) {
    fixture f;
    fixture_init(&f);
    static const key_case ok[] = {
        {"pk = :p1", KDB_SK_ANY, "\"p1\"", NULL, NULL},
        {":p1 = pk", KDB_SK_ANY, "\"p1\"", NULL, NULL},
        {"pk = :p1 AND sk = :five", KDB_SK_EQ, "\"p1\"", "5", NULL},
        {"pk = :p1 AND sk < :five", KDB_SK_LT, "\"p1\"", "5", NULL},
        {"pk = :p1 AND sk <= :five", KDB_SK_LE, "\"p1\"", "5", NULL},
        {"pk = :p1 AND sk > :five", KDB_SK_GT, "\"p1\"", "5", NULL},
        {"pk = :p1 AND sk >= :five", KDB_SK_GE, "\"p1\"", "5", NULL},
        {"pk = :p1 AND :five < sk", KDB_SK_GT, "\"p1\"", "5", NULL},
        {"pk = :p1 AND :five >= sk", KDB_SK_LE, "\"p1\"", "5", NULL},
        {"sk BETWEEN :one AND :ten AND pk = :p1", KDB_SK_BETWEEN, "\"p1\"", "1", "10"},
        {"(pk = :p1) and (sk between :one and :ten)", KDB_SK_BETWEEN, "\"p1\"", "1", "10"},
    };
    kdb_buf want = {0};
    for (size_t i = 0; i < H_COUNT(ok); i++) {
        kdb_subst s;
        kdb_expr *e = NULL;
        kdb_keycond kc;
        keel_status st = parse(&f, KDB_EXPR_KEY_CONDITION, ok[i].expr, &s, &e);
        CHECKF(st == KEEL_OK, "%s: %s", ok[i].expr, keel_errmsg());
        if (st != KEEL_OK) continue;
        st = kdb_expr_keycond(e, "pk", KEEL_DB_KEY_S, "sk", KEEL_DB_KEY_N, &kc);
        CHECKF(st == KEEL_OK, "%s: %s", ok[i].expr, keel_errmsg());
        if (st == KEEL_OK) {
            CHECKF(kc.op == ok[i].op, "%s: op %d", ok[i].expr, (int)kc.op);
            cbor(ok[i].pk, &want);
            CHECK(kc.pk.len == want.len && memcmp(kc.pk.p, want.p, want.len) == 0);
            if (ok[i].sk1) {
                cbor(ok[i].sk1, &want);
                CHECK(kc.sk1.len == want.len && memcmp(kc.sk1.p, want.p, want.len) == 0);
            }
            if (ok[i].sk2) {
                cbor(ok[i].sk2, &want);
                CHECK(kc.sk2.len == want.len && memcmp(kc.sk2.p, want.p, want.len) == 0);
            }
        }
        kdb_expr_free(e);
    }
    /* begins_with on an S sort key; a table without a sort key. */
    {
        kdb_subst s;
        kdb_expr *e = NULL;
        kdb_keycond kc;
        REQUIRE_OK(parse(&f, KDB_EXPR_KEY_CONDITION, "pk = :p1 AND begins_with(sk, :hel)", &s, &e));
        CHECK_OK(kdb_expr_keycond(e, "pk", KEEL_DB_KEY_S, "sk", KEEL_DB_KEY_S, &kc));
        CHECK(kc.op == KDB_SK_BEGINS && kc.sk1.type == KDB_S && kc.sk1.size == 3);
        CHECK_ST(kdb_expr_keycond(e, "pk", KEEL_DB_KEY_S, "sk", KEEL_DB_KEY_N, &kc),
                 KEEL_EVALIDATION);
        CHECK_ST(kdb_expr_keycond(e, "pk", KEEL_DB_KEY_S, NULL, KEEL_DB_KEY_NONE, &kc),
                 KEEL_EVALIDATION);
        kdb_expr_free(e);
        REQUIRE_OK(parse(&f, KDB_EXPR_KEY_CONDITION, "pk = :p1", &s, &e));
        CHECK_OK(kdb_expr_keycond(e, "pk", KEEL_DB_KEY_S, NULL, KEEL_DB_KEY_NONE, &kc));
        CHECK(kc.op == KDB_SK_ANY);
        kdb_expr_free(e);
    }
    /* Every invalid shape: with the schema pk S, sk N. */
    static const struct {
        const char *expr;
        const char *msg;
    } bad[] = {
        {"sk = :five", "missed key schema element: pk"},
        {"pk = :p1 AND n = :one", "missed key schema element: sk"},
        {"n = :one", "missed key schema element: pk"},
        {"pk < :p1", "not supported"},
        {"pk = :p1 AND pk = :p1", "one condition per key"},
        {"pk = :p1 AND sk > :one AND sk < :ten", "one condition per key"},
        {"pk = :p1 AND (sk > :one AND sk < :ten)", "one condition per key"},
        {"pk = :one", "does not match schema type"},
        {"pk = :p1 AND sk = :hel", "does not match schema type"},
        {"pk = :p1 AND sk BETWEEN :one AND :p1", "same data type"},
        {"pk = :p1 AND begins_with(sk, :hel)", "does not match schema type"},
        {"pk = sk", "not supported"},
        {"pk = :p1 AND m.a = :one", "not supported"},
        {"pk = :p1 AND l[0] = :one", "not supported"},
        {"pk = :p1 AND size(sk) = :one", "KeyConditionExpression: size"},
        {"#a = :p1", "missed key schema element: pk"},
    };
    for (size_t i = 0; i < H_COUNT(bad); i++) {
        kdb_subst s;
        kdb_expr *e = NULL;
        kdb_keycond kc;
        keel_status st = parse(&f, KDB_EXPR_KEY_CONDITION, bad[i].expr, &s, &e);
        if (st == KEEL_OK) {
            st = kdb_expr_keycond(e, "pk", KEEL_DB_KEY_S, "sk", KEEL_DB_KEY_N, &kc);
            kdb_expr_free(e);
        }
        CHECKF(st == KEEL_EVALIDATION && strstr(keel_errmsg(), bad[i].msg), "%s: %s: %s",
               bad[i].expr, st_name(st), keel_errmsg());
    }
    /* Operators a key condition never allows are refused by the parser. */
    static const char *const refused[] = {
        "pk = :p1 OR sk = :one", "NOT pk = :p1", "pk = :p1 AND sk <> :one",
        "pk IN (:p1)", "pk = :p1 AND attribute_exists(sk)", "pk = :p1 AND contains(sk, :one)",
    };
    for (size_t i = 0; i < H_COUNT(refused); i++) {
        kdb_subst s;
        kdb_expr *e = NULL;
        keel_status st = parse(&f, KDB_EXPR_KEY_CONDITION, refused[i], &s, &e);
        CHECKF(st == KEEL_EVALIDATION && strstr(keel_errmsg(), "KeyConditionExpression"),
               "%s: %s: %s", refused[i], st_name(st), keel_errmsg());
        kdb_expr_free(e);
    }
    kdb_buf_free(&want);
    fixture_free(&f);
}

/* ---- errors --------------------------------------------------------------------------------- */

typedef struct err_case {
    kdb_expr_kind kind;
    const char *expr;
    keel_status st;
    const char *msg;   /* a substring of the detail */
} err_case;

#define C KDB_EXPR_CONDITION
#define P KDB_EXPR_PROJECTION
#define U KDB_EXPR_UPDATE
static const err_case ERRS[] = {
    /* syntax errors name the 0-based byte offset of the offending token */
    {C, "n =", KEEL_ESYNTAX, "position 3: unexpected end of expression"},
    {C, "n = :42 AND", KEEL_ESYNTAX, "position 11: unexpected end"},
    {C, "n :42", KEEL_ESYNTAX, "position 2: unexpected token ':42'; expected a comparison"},
    {C, "n = = :42", KEEL_ESYNTAX, "position 4: unexpected token '='"},
    {C, "(n = :42", KEEL_ESYNTAX, "position 8: unexpected end of expression; expected ')'"},
    {C, "n = :42)", KEEL_ESYNTAX, "position 7: unexpected token ')'"},
    {C, "n = :42 s = :s", KEEL_ESYNTAX, "position 8: unexpected token 's'"},
    {C, "n == :42", KEEL_ESYNTAX, "position 3: unexpected token '='"},
    {C, "n != :42", KEEL_ESYNTAX, "position 2: unexpected token '!'"},
    {C, "n = :42 && s = :s", KEEL_ESYNTAX, "position 8: unexpected token '&'"},
    {C, "n = \"x\"", KEEL_ESYNTAX, "position 4"},
    {C, "n = 5", KEEL_ESYNTAX, "position 4: unexpected token '5'"},
    {C, "n = :", KEEL_ESYNTAX, "position 5: unexpected end"},
    {C, "# = :42", KEEL_ESYNTAX, "position 1"},
    {C, "m. = :42", KEEL_ESYNTAX, "position 3"},
    {C, "l[] = :42", KEEL_ESYNTAX, "position 2: unexpected token ']'; expected a list index"},
    {C, "l[x] = :42", KEEL_ESYNTAX, "position 2: unexpected token 'x'"},
    {C, "l[1 = :42", KEEL_ESYNTAX, "position 4: unexpected token '='; expected ']'"},
    {C, "n BETWEEN :one :two", KEEL_ESYNTAX, "position 15: unexpected token ':two'; expected AND"},
    {C, "n IN :one", KEEL_ESYNTAX, "position 5"},
    {C, "n IN ()", KEEL_ESYNTAX, "position 6"},
    {C, "n IN (:one,)", KEEL_ESYNTAX, "position 11"},
    {C, "NOT", KEEL_ESYNTAX, "position 3: unexpected end"},
    {C, "n = :42 AND AND s = :s", KEEL_ESYNTAX, "position 12: unexpected token 'AND'"},
    {C, "_type = :42", KEEL_ESYNTAX, "position 0: unexpected token '_type'"},
    {C, "m._a = :42", KEEL_ESYNTAX, "position 2: unexpected token '_a'"},
    {C, "9a = :42", KEEL_ESYNTAX, "position 0: unexpected token '9'"},
    {C, "AND = :42", KEEL_ESYNTAX, "position 0: unexpected token 'AND'"},
    {C, "n = NOT", KEEL_ESYNTAX, "position 4"},
    {C, "()", KEEL_ESYNTAX, "position 1"},
    {C, "attribute_exists(n", KEEL_ESYNTAX, "position 18: unexpected end"},
    {C, "begins_with(s :hel)", KEEL_ESYNTAX, "position 14: unexpected token ':hel'; expected ','"},
    {C, "n = :42 \xc3\xa9", KEEL_ESYNTAX, "position 8: unexpected token '\\xc3'"},
    {C, "begins_with(s, :hel) = :t", KEEL_ESYNTAX, "position 21"},
    {P, "n,", KEEL_ESYNTAX, "position 2: unexpected end"},
    {P, "n s", KEEL_ESYNTAX, "position 2"},
    {P, ":42", KEEL_ESYNTAX, "position 0"},
    {P, "size(n)", KEEL_EVALIDATION, "reserved keyword: size"},
    /* validation */
    {C, "", KEEL_EVALIDATION, "can not be empty"},
    {C, "   ", KEEL_EVALIDATION, "can not be empty"},
    {C, "name = :one", KEEL_EVALIDATION, "Attribute name is a reserved keyword; reserved keyword: name"},
    {C, "m.Size = :one", KEEL_EVALIDATION, "reserved keyword: Size"},
    {P, "n, status", KEEL_EVALIDATION, "reserved keyword: status"},
    {C, "n = :nope", KEEL_EVALIDATION, "An expression attribute value used in expression is not defined; attribute value: :nope"},
    {C, "#nope = :one", KEEL_EVALIDATION, "An expression attribute name used in the document path is not defined; attribute name: #nope"},
    {C, "n = :42 AND Size(s) = :one", KEEL_EVALIDATION, "Invalid function name; function: Size"},
    {C, "ATTRIBUTE_EXISTS(n)", KEEL_EVALIDATION, "Invalid function name; function: ATTRIBUTE_EXISTS"},
    {C, "nope(n)", KEEL_EVALIDATION, "Invalid function name; function: nope"},
    {C, "size(s)", KEEL_EVALIDATION, "not allowed to be used this way in an expression; function: size"},
    {C, "n = attribute_exists(s)", KEEL_EVALIDATION, "function: attribute_exists"},
    {C, "if_not_exists(n, :one) = :one", KEEL_EVALIDATION, "function: if_not_exists"},
    {C, "attribute_exists(:one)", KEEL_EVALIDATION, "requires a document path; operator or function: attribute_exists"},
    {C, "size(:s) = :one", KEEL_EVALIDATION, "requires a document path; operator or function: size"},
    /* a value first is allowed (as DynamoDB), but it must be a string or binary */
    {C, "begins_with(:one, s)", KEEL_EVALIDATION, "begins_with, operand type: N"},
    {C, "attribute_type(s, :X)", KEEL_EVALIDATION, "Invalid attribute type name found; type: X, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}"},
    {C, "attribute_type(s, :lower)", KEEL_EVALIDATION, "type: s,"},
    {C, "attribute_type(s, :one)", KEEL_EVALIDATION, "operand type: N"},
    {C, "attribute_type(s, s)", KEEL_EVALIDATION, "attribute_type"},
    {C, "begins_with(s, :one)", KEEL_EVALIDATION, "begins_with, operand type: N"},
    {C, "n < :t", KEEL_EVALIDATION, "operator or function: <, operand type: BOOL"},
    {C, "n BETWEEN :l34 AND :one", KEEL_EVALIDATION, "BETWEEN, operand type: L"},
    {C, "n BETWEEN :two AND :one", KEEL_EVALIDATION, "upper bound to be greater than or equal"},
    {C, "n BETWEEN :one AND :s", KEEL_EVALIDATION, "same data type"},
    {P, "m, m.a", KEEL_EVALIDATION, "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [m], path two: [m, a]"},
    {P, "m.a, m", KEEL_EVALIDATION, "path one: [m, a], path two: [m]"},
    {P, "n, n", KEEL_EVALIDATION, "overlap"},
    {P, "l[1].x, l[1]", KEEL_EVALIDATION, "path one: [l, [1], x], path two: [l, [1]]"},
    {P, "m.a, m[0]", KEEL_EVALIDATION, "Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [m, a], path two: [m, [0]]"},
    {P, "#m.a, m.a", KEEL_EVALIDATION, "overlap"},
    {C, "l[2147483648] = :one", KEEL_EVALIDATION, "List index is too large"},
    {U, "SET n = :one SET s = :s", KEEL_EVALIDATION, "The \"SET\" section can only be used once"},
    {U, "SET m = :one REMOVE m.a", KEEL_EVALIDATION, "overlap"},
    {U, "SET n = size(s)", KEEL_EVALIDATION, "function: size"},
    {U, "", KEEL_EVALIDATION, "can not be empty"},
    {U, "n = :one", KEEL_ESYNTAX, "position 0: unexpected token 'n'; expected SET, REMOVE, ADD or DELETE"},
    {U, "SET n :one", KEEL_ESYNTAX, "position 6: unexpected token ':one'; expected '='"},
    {U, "ADD n n", KEEL_ESYNTAX, "position 6"},
    {U, "REMOVE n = :one", KEEL_ESYNTAX, "position 9: unexpected token '='; expected ','"},
    {U, "SET n = n + :s", KEEL_EVALIDATION, "operator or function: +, operand type: S"},
    {U, "SET n = :l34 - n", KEEL_EVALIDATION, "operator or function: -, operand type: L"},
    {U, "ADD n :s", KEEL_EVALIDATION, "operator: ADD, operand type: STRING, typeSet: ALLOWED_FOR_ADD_OPERAND"},
    {U, "DELETE ss :one", KEEL_EVALIDATION, "operator: DELETE, operand type: NUMBER, "
                                         "typeSet: ALLOWED_FOR_DELETE_OPERAND"},
    {U, "SET l = list_append(l, :one)", KEEL_EVALIDATION, "list_append, operand type: N"},
    {U, "SET n = if_not_exists(:one, n)", KEEL_EVALIDATION, "requires a document path"},
    {U, "SET n = if_not_exists(n, :one) + :one + :one", KEEL_ESYNTAX, "position 38: unexpected token '+'; expected ','"},
};
#undef C
#undef P
#undef U

static void test_errors(void) {
    fixture f;
    fixture_init(&f);
    for (size_t i = 0; i < H_COUNT(ERRS); i++) {
        kdb_subst s;
        kdb_expr *e = NULL;
        keel_status st = parse(&f, ERRS[i].kind, ERRS[i].expr, &s, &e);
        CHECKF(st == ERRS[i].st && strstr(keel_errmsg(), ERRS[i].msg), "[%zu] \"%s\": got %s \"%s\"",
               i, ERRS[i].expr, st_name(st), keel_errmsg());
        CHECK(st != KEEL_OK || e != NULL);
        kdb_expr_free(e);
    }
    fixture_free(&f);
}

/* size() is an operand: "size(a) = :n" parses in an update's SET too (it is not allowed
 * there in DynamoDB, so it is a syntax-level refusal above); updates parse in full. */
static void test_updates_parse(void) {
    fixture f;
    fixture_init(&f);
    static const char *const ok[] = {
        "SET n = :one", "set n = n + :one, s = :s", "SET n = :one - n",
        "SET l = list_append(l, :l34)", "SET l = list_append(:l34, l)",
        "SET n = if_not_exists(n, :one)", "SET n = if_not_exists(n, :one) + :two",
        "REMOVE zzz, m.a, l[1]", "ADD n :one, ss :ss", "DELETE ss :ss",
        "SET n = :one REMOVE s ADD ns :one DELETE ss :ss", "delete ss :ss set n = :one",
        "SET #m.#a = :one, #name = :s",
    };
    for (size_t i = 0; i < H_COUNT(ok); i++) {
        kdb_subst s;
        kdb_expr *e = NULL;
        keel_status st = parse(&f, KDB_EXPR_UPDATE, ok[i], &s, &e);
        CHECKF(st == KEEL_OK, "%s: %s", ok[i], keel_errmsg());
        kdb_expr_free(e);
    }
    fixture_free(&f);
}

/* ---- placeholders --------------------------------------------------------------------------- */

static void test_placeholders(void) {
    kdb_buf names = {0}, values = {0};
    kdb_subst s;
    kdb_expr *e = NULL;
    /* Unused values and names, with DynamoDB's messages. */
    cbor("{\":a\": 1, \":b\": 2}", &values);
    cbor("{\"#n\": \"n\", \"#unused\": \"x\"}", &names);
    REQUIRE_OK(kdb_subst_init(&s, names.p, names.len, values.p, values.len));
    REQUIRE_OK(kdb_expr_parse(KDB_EXPR_CONDITION, "#n = :a", 7, &s, &e));
    kdb_expr_free(e);
    CHECK_ST(kdb_subst_check_unused(&s), KEEL_EVALIDATION);
    CHECKF(strstr(keel_errmsg(), "Value provided in ExpressionAttributeNames unused in "
                  "expressions: keys: {#unused}"), "%s", keel_errmsg());
    /* The names and values used by two expressions of one request add up. */
    REQUIRE_OK(kdb_expr_parse(KDB_EXPR_PROJECTION, "#unused", 7, &s, &e));
    kdb_expr_free(e);
    CHECK_ST(kdb_subst_check_unused(&s), KEEL_EVALIDATION);
    CHECKF(strstr(keel_errmsg(), "Value provided in ExpressionAttributeValues unused in "
                  "expressions: keys: {:b}"), "%s", keel_errmsg());
    REQUIRE_OK(kdb_expr_parse(KDB_EXPR_CONDITION, "n = :b", 6, &s, &e));
    kdb_expr_free(e);
    CHECK_OK(kdb_subst_check_unused(&s));
    /* Several unused keys are all listed. */
    REQUIRE_OK(kdb_subst_init(&s, NULL, 0, values.p, values.len));
    CHECK_ST(kdb_subst_check_unused(&s), KEEL_EVALIDATION);
    CHECKF(strstr(keel_errmsg(), "keys: {:a, :b}"), "%s", keel_errmsg());
    /* Placeholders may start with a digit or an underscore (pynamodb uses #0, #1, ...). */
    cbor("{\":_v\": 42}", &values);
    cbor("{\"#0\": \"n\", \"#_x\": \"s\"}", &names);
    REQUIRE_OK(kdb_subst_init(&s, names.p, names.len, values.p, values.len));
    REQUIRE_OK(kdb_expr_parse(KDB_EXPR_CONDITION, "#0 = :_v AND attribute_exists(#_x)", 34, &s,
                              &e));
    kdb_expr_free(e);
    CHECK_OK(kdb_subst_check_unused(&s));
    cbor("{\":a\": 1, \":b\": 2}", &values);
    /* No maps at all. */
    REQUIRE_OK(kdb_subst_init(&s, NULL, 0, NULL, 0));
    CHECK_OK(kdb_subst_check_unused(&s));
    CHECK_ST(kdb_expr_parse(KDB_EXPR_CONDITION, "n = :a", 6, &s, &e), KEEL_EVALIDATION);
    CHECK_ST(kdb_expr_parse(KDB_EXPR_CONDITION, "#n = n", 6, &s, &e), KEEL_EVALIDATION);
    CHECK_OK(kdb_expr_parse(KDB_EXPR_CONDITION, "attribute_exists(n)", 19, &s, &e));
    kdb_expr_free(e);
    CHECK_OK(kdb_expr_parse(KDB_EXPR_CONDITION, "attribute_exists(n)", 19, NULL, &e));
    kdb_expr_free(e);
    CHECK_ST(kdb_expr_parse(KDB_EXPR_CONDITION, "n = :a", 6, NULL, &e), KEEL_EVALIDATION);
    /* Malformed maps. */
    static const struct {
        const char *names, *values, *msg;
    } bad[] = {
        {"{\"n\": \"x\"}", NULL, "ExpressionAttributeNames contains invalid key: Syntax error; key: \"n\""},
        {"{\"#\": \"x\"}", NULL, "invalid key"},
        {"{\"#a-b\": \"x\"}", NULL, "invalid key"},
        {"{\":a\": \"x\"}", NULL, "invalid key"},
        {"{\"#a\": 1}", NULL, "invalid value"},
        {"{\"#a\": \"\"}", NULL, "invalid value"},
        {"{}", NULL, "ExpressionAttributeNames must not be empty"},
        {NULL, "{}", "ExpressionAttributeValues must not be empty"},
        {NULL, "{\"a\": 1}", "ExpressionAttributeValues contains invalid key: Syntax error; key: \"a\""},
        {NULL, "{\"#a\": 1}", "invalid key"},
        {NULL, "[1]", "must be a map"},
        {NULL, "{\":a\": <1, 1>}", ""},
    };
    for (size_t i = 0; i < H_COUNT(bad); i++) {
        if (bad[i].names) cbor(bad[i].names, &names);
        if (bad[i].values) cbor(bad[i].values, &values);
        keel_status st = kdb_subst_init(&s, bad[i].names ? names.p : NULL, names.len,
                                        bad[i].values ? values.p : NULL, values.len);
        CHECKF(st == KEEL_EVALIDATION && strstr(keel_errmsg(), bad[i].msg), "[%zu]: %s: %s", i,
               st_name(st), keel_errmsg());
    }
    /* Placeholders of 254 characters after the sigil are fine; 255 are not. */
    char key[300], expr[400];
    key[0] = ':';
    memset(key + 1, 'v', 254);
    key[255] = 0;
    char map[400];
    snprintf(map, sizeof map, "{\"%s\": 1}", key);
    cbor(map, &values);
    REQUIRE_OK(kdb_subst_init(&s, NULL, 0, values.p, values.len));
    snprintf(expr, sizeof expr, "n = %s", key);
    CHECK_OK(kdb_expr_parse(KDB_EXPR_CONDITION, expr, strlen(expr), &s, &e));
    kdb_expr_free(e);
    CHECK_OK(kdb_subst_check_unused(&s));
    snprintf(expr, sizeof expr, "n = %sv", key);
    CHECK_ST(kdb_expr_parse(KDB_EXPR_CONDITION, expr, strlen(expr), &s, &e), KEEL_EVALIDATION);
    snprintf(map, sizeof map, "{\"%sv\": 1}", key);
    cbor(map, &values);
    CHECK_ST(kdb_subst_init(&s, NULL, 0, values.p, values.len), KEEL_EVALIDATION);
    kdb_buf_free(&names);
    kdb_buf_free(&values);
}

/* ---- limits --------------------------------------------------------------------------------- */

static void test_limits(void) {
    fixture f;
    fixture_init(&f);
    kdb_subst s;
    kdb_expr *e = NULL;
    REQUIRE_OK(kdb_subst_init(&s, f.names.p, f.names.len, f.values.p, f.values.len));
    size_t cap = 200000;
    char *buf = malloc(cap);
    REQUIRE(buf);

    /* 4096 bytes are allowed, 4097 are not. */
    size_t n = 0;
    n += (size_t)sprintf(buf, "n = :42");
    while (n + 12 <= 4096) n += (size_t)sprintf(buf + n, " OR n = :one");
    while (n < 4096) buf[n++] = ' ';
    CHECK_OK(kdb_expr_parse(KDB_EXPR_CONDITION, buf, 4096, &s, &e));
    CHECK(e && kdb_expr_eval(e, f.item.p, f.item.len) == 1);
    kdb_expr_free(e);
    buf[4096] = ' ';
    CHECK_ST(kdb_expr_parse(KDB_EXPR_CONDITION, buf, 4097, &s, &e), KEEL_EVALIDATION);
    CHECKF(strstr(keel_errmsg(), "4097"), "%s", keel_errmsg());

    /* 100k parentheses: refused by size before any parsing, no stack overflow. */
    memset(buf, '(', 100000);
    CHECK_ST(kdb_expr_parse(KDB_EXPR_CONDITION, buf, 100000, &s, &e), KEEL_EVALIDATION);
    /* Within 4 KB, nesting is bounded too: 2000 parentheses or NOTs are refused... */
    n = 0;
    for (int i = 0; i < 2000; i++) buf[n++] = '(';
    n += (size_t)sprintf(buf + n, "n = :42");
    for (int i = 0; i < 2000; i++) buf[n++] = ')';
    CHECK_ST(kdb_expr_parse(KDB_EXPR_CONDITION, buf, n, &s, &e), KEEL_EVALIDATION);
    CHECKF(strstr(keel_errmsg(), "nested too deeply"), "%s", keel_errmsg());
    n = 0;
    for (int i = 0; i < 900; i++) n += (size_t)sprintf(buf + n, "NOT ");
    n += (size_t)sprintf(buf + n, "n = :42");
    CHECK_ST(kdb_expr_parse(KDB_EXPR_CONDITION, buf, n, &s, &e), KEEL_EVALIDATION);
    /* ...and 99 levels are fine, and evaluate. */
    n = 0;
    for (int i = 0; i < 98; i++) buf[n++] = '(';
    n += (size_t)sprintf(buf + n, "NOT n = :42");
    for (int i = 0; i < 98; i++) buf[n++] = ')';
    CHECK_OK(kdb_expr_parse(KDB_EXPR_CONDITION, buf, n, &s, &e));
    CHECK(e && kdb_expr_eval(e, f.item.p, f.item.len) == 0);
    kdb_expr_free(e);
    /* Unbalanced: 3000 '(' then nothing. */
    memset(buf, '(', 3000);
    CHECK_ST(kdb_expr_parse(KDB_EXPR_CONDITION, buf, 3000, &s, &e), KEEL_EVALIDATION);
    /* A long AND chain is one n-ary node: fine at any length within 4 KB. */
    n = (size_t)sprintf(buf, "n = :42");
    while (n + 13 <= 4096) n += (size_t)sprintf(buf + n, " AND n > :one");
    CHECK_OK(kdb_expr_parse(KDB_EXPR_CONDITION, buf, n, &s, &e));
    CHECK(e && kdb_expr_eval(e, f.item.p, f.item.len) == 1);
    kdb_expr_free(e);

    /* IN takes at most 100 operands. */
    n = (size_t)sprintf(buf, "n IN (:42");
    for (int i = 1; i < 100; i++) n += (size_t)sprintf(buf + n, ", :one");
    n += (size_t)sprintf(buf + n, ")");
    CHECK_OK(kdb_expr_parse(KDB_EXPR_CONDITION, buf, n, &s, &e));
    kdb_expr_free(e);
    n = (size_t)sprintf(buf, "n IN (:42");
    for (int i = 1; i < 101; i++) n += (size_t)sprintf(buf + n, ", :one");
    n += (size_t)sprintf(buf + n, ")");
    CHECK_ST(kdb_expr_parse(KDB_EXPR_CONDITION, buf, n, &s, &e), KEEL_EVALIDATION);
    CHECKF(strstr(keel_errmsg(), "too many operands; number of operands: 101"), "%s",
           keel_errmsg());

    /* Document paths: 32 elements are allowed, 33 are not. */
    n = (size_t)sprintf(buf, "a");
    for (int i = 1; i < 32; i++) n += (size_t)sprintf(buf + n, "[0]");
    n += (size_t)sprintf(buf + n, " = :one");
    CHECK_OK(kdb_expr_parse(KDB_EXPR_CONDITION, buf, n, &s, &e));
    CHECK(e && kdb_expr_eval(e, f.item.p, f.item.len) == 0);
    kdb_expr_free(e);
    n = (size_t)sprintf(buf, "a");
    for (int i = 1; i < 33; i++) n += (size_t)sprintf(buf + n, ".b");
    CHECK_ST(kdb_expr_parse(KDB_EXPR_PROJECTION, buf, n, &s, &e), KEEL_EVALIDATION);
    CHECKF(strstr(keel_errmsg(), "too many nesting levels; nesting levels: 33"), "%s",
           keel_errmsg());
    free(buf);
    fixture_free(&f);
}

/* Every reserved word is refused bare (in any case) and accepted through a placeholder;
 * words next to them are accepted. */
static void test_reserved_words(void) {
    static const char *const words[] = {"ABORT", "zone", "Size", "status", "name", "DATA",
                                        "value", "ttl", "Key", "year", "timestamp"};
    static const char *const fine[] = {"abort1", "zones", "sizes", "nam", "name_", "x", "ZZ",
                                       "a_b9"};
    char buf[64];
    kdb_expr *e = NULL;
    for (size_t i = 0; i < H_COUNT(words); i++) {
        snprintf(buf, sizeof buf, "attribute_exists(%s)", words[i]);
        CHECKF(kdb_expr_parse(KDB_EXPR_CONDITION, buf, strlen(buf), NULL, &e) == KEEL_EVALIDATION &&
               strstr(keel_errmsg(), words[i]), "%s", buf);
    }
    for (size_t i = 0; i < H_COUNT(fine); i++) {
        snprintf(buf, sizeof buf, "attribute_exists(%s)", fine[i]);
        CHECKF(kdb_expr_parse(KDB_EXPR_CONDITION, buf, strlen(buf), NULL, &e) == KEEL_OK, "%s: %s",
               buf, keel_errmsg());
        kdb_expr_free(e);
    }
}

int main(int argc, char **argv) {
    static const h_test tests[] = {
        H_TEST(test_conditions),     H_TEST(test_no_item),       H_TEST(test_projections),
        H_TEST(test_key_conditions), H_TEST(test_errors),        H_TEST(test_updates_parse),
        H_TEST(test_placeholders),   H_TEST(test_limits),        H_TEST(test_reserved_words),
        H_TEST(test_stored_form),
    };
    return h_main(argc, argv, tests, H_COUNT(tests));
}
