/*
 * test_db_items.c: items and keys of the Database face (src/db: item.c, key.c), tested
 * directly through src/db/db.h, with the CBOR notation of db_util.h.
 *
 * Items: valid/invalid tables with DynamoDB's sizes and the messages (attribute path and
 * problem), nesting 32/33, 400 KB, names of 65535 bytes, duplicate names; access and
 * iteration (padding skipped); the stored form for vectors of many sizes and offsets
 * (64-byte aligned payloads, idempotent, equal to the input); deep equality and ordering;
 * mutated items through every decoder. Keys: S, B and N sort key order ("9" < "10",
 * negatives, decimals, prefixes, UTF-8 bytes), random N keys, partition contiguity with
 * prefix and 0x00 partition keys, limits and messages, KeystoneDB's default table.
 */
#include "db_util.h"

/* ---- items ---------------------------------------------------------------------------- */

static void test_item_valid(void) {
    static const struct { const char *item; size_t size; } ok[] = {
        { "{\"shirt-color\": \"R\", \"shirt-size\": \"M\"}", 23 },
        { "{\"a\": 1}", 3 },
        { "{\"n\": d\"123.45\"}", 5 },
        { "{\"n\": 0}", 2 },
        { "{\"l\": [1, \"ab\"]}", 10 },
        { "{\"m\": {\"x\": true}}", 7 },
        { "{\"ss\": <\"a\", \"bc\">}", 5 },
        { "{\"ns\": <1, d\"1.5\", f2.5, t4([-1, 17])>}", 2 + 2 + 2 + 2 + 2 },
        { "{\"bs\": <h\"00\", h\"0102\", h\"\">}", 5 },
        { "{\"ss\": <\"\", \"a\">}", 3 },
        { "{\"v\": v(1, 2, 3)}", 13 },
        { "{\"b\": h\"\", \"s\": \"\", \"nul\": null}", 6 },
        { "{}", 0 },
        { "{\"e\": [], \"f\": {}}", 8 },
        { "{\"\\xc3\\xa9\": \"\\xc3\\xbc\\xf0\\x9f\\x98\\x80\"}", 8 },
        { "{0: h\"0000\", \"a\": 1, 7: h\"\"}", 3 },
        { "{\"big\": t2(h\"0100000000000000000000\")}", 3 + 14 }, /* 2^80: 25 digits */
        { "{\"neg\": -18446744073709551616}", 0 }, /* strtoll clamps: just valid */
        { "{\"f\": f-0.0, \"h\": t85(h\"0000803f\")}", 0 },
    };
    for (size_t i = 0; i < H_COUNT(ok); i++) {
        size_t len, size = 12345;
        uint8_t *p = cbdup(ok[i].item, &len);
        keel_status st = kdb_item_check(p, len, &size);
        CHECKF(st == KEEL_OK, "%s: %s", ok[i].item, keel_errmsg());
        if (ok[i].size) CHECKF(size == ok[i].size, "%s: size %zu, want %zu", ok[i].item, size, ok[i].size);
        /* every truncation is refused */
        for (size_t t = 0; t < len; t++) CHECK(kdb_item_check(p, t, NULL) == KEEL_EVALIDATION);
        free(p);
    }
}

static void test_item_invalid(void) {
    static const struct { const char *item, *msg; } tab[] = {
        { "[1]", "must be a CBOR map" },
        { "\"x\"", "must be a CBOR map" },
        { "{1: \"x\"}", "padding entry's value must be a byte string" },
        { "{h\"61\": 1}", "attribute names must be text strings" },
        { "{\"a\": undef}", "attribute a: undefined" },
        { "{\"a\": <>}", "attribute a: empty sets" },
        { "{\"a\": <[1]>}", "attribute a: a set must be" },
        { "{\"a\": <\"x\", 1>}", "attribute a: string set contains an element of type N" },
        { "{\"a\": <1, \"x\">}", "attribute a: number set contains an element of type S" },
        { "{\"tags\": <\"x\", \"y\", \"x\">}", "attribute tags: string set contains duplicates" },
        { "{\"n\": <1, d\"1.0\", 2>}", "attribute n: number set contains duplicates" },
        { "{\"n\": <1, 2, f1.0>}", "number set contains duplicates" },
        { "{\"n\": <d\"1e3\", 1000>}", "number set contains duplicates" },
        { "{\"b\": <h\"01\", h\"01\">}", "attribute b: binary set contains duplicates" },
        { "{\"a\": \"\\xff\"}", "attribute a: string is not valid UTF-8" },
        { "{\"a\": \"\\xed\\xa0\\x80\"}", "not valid UTF-8" },
        { "{\"a\": \"\\xc0\\x80\"}", "not valid UTF-8" },
        { "{\"a\": <\"\\xe2\\x82\">}", "string set contains invalid UTF-8" },
        { "{\"\\xc0\\x80\": 1}", "attribute name is not valid UTF-8" },
        { "{\"\": 1}", "empty attribute name" },
        { "{\"a\": 1, \"a\": 2}", "duplicate attribute names" },
        { "{\"m\": {\"x\": 1, \"y\": 3, \"x\": 2}}", "attribute m: duplicate attribute names" },
        { "{\"n\": t4([200, 1])}", "attribute n: Number overflow" },
        { "{\"n\": t4([-200, 1])}", "attribute n: Number underflow" },
        { "{\"n\": t2(h\"03a0c92075c0dbf3b8acbc5f96ce3f0ad3\")}", "attribute n: Attempting to store more than 38" },
        { "{\"n\": f1e300}", "attribute n: Number overflow" },
        { "{\"f\": fNaN}", "attribute f: NaN" },
        { "{\"f\": f-inf}", "attribute f: NaN" },
        { "{\"v\": t85(h\"0000c07f\")}", "attribute v: a vector must be" },
        { "{\"v\": t85(h\"000000\")}", "a vector must be" },
        { "{\"v\": t85(h\"\")}", "a vector must be" },
        { "{\"v\": t85(\"abcd\")}", "a vector must be" },
        { "{\"m\": {0: h\"00\", \"a\": 1}}", "attribute m: padding entries are allowed only at the top" },
        { "{\"l\": [[1, <\"a\", \"a\">]]}", "attribute l[0][1]: string set contains duplicates" },
        { "{\"l\": [1, {\"k\": [undef]}]}", "attribute l[1].k[0]: undefined" },
        { "{\"t\": t999(1)}", "attribute t: CBOR tag 999 is not an item type" },
        { "{\"t\": t4(\"x\")}", "malformed number" },
        { "x\"a000\"", "1 bytes after the item" },
        { "x\"bf ff\"", "not well-formed" },
        { "x\"a1 61 61 5f 41 00 ff\"", "not well-formed" },
    };
    for (size_t i = 0; i < H_COUNT(tab); i++) {
        size_t len;
        uint8_t *p = cbdup(tab[i].item, &len);
        keel_status st = kdb_item_check(p, len, NULL);
        CHECKF(st == KEEL_EVALIDATION, "%s accepted (%d)", tab[i].item, st);
        CHECKF(strstr(keel_errmsg(), tab[i].msg) != NULL, "%s: \"%s\", want \"%s\"", tab[i].item,
               keel_errmsg(), tab[i].msg);
        free(p);
    }
    CHECK_ST(kdb_item_check(NULL, 0, NULL), KEEL_EVALIDATION);
}

static void test_item_limits(void) {
    /* nesting: 32 levels of maps or lists below the item are allowed, 33 are not */
    for (int kind = 0; kind < 2; kind++) {
        for (int depth = 30; depth <= 34; depth++) {
            char s[512];
            size_t k = 0;
            k += (size_t)sprintf(s + k, "{\"a\": ");
            for (int i = 0; i < depth; i++) k += (size_t)sprintf(s + k, kind ? "[" : "{\"a\": ");
            k += (size_t)sprintf(s + k, "1");
            for (int i = 0; i < depth; i++) k += (size_t)sprintf(s + k, kind ? "]" : "}");
            sprintf(s + k, "}");
            /* innermost container holds 1, so `depth` containers and a value at depth+1 */
            size_t len;
            uint8_t *p = cbdup(s, &len);
            keel_status st = kdb_item_check(p, len, NULL);
            if (depth <= 32) CHECKF(st == KEEL_OK, "depth %d: %s", depth, keel_errmsg());
            else CHECKF(st == KEEL_EVALIDATION && strstr(keel_errmsg(), "deeper than 32"),
                        "depth %d: %s", depth, keel_errmsg());
            free(p);
        }
    }
    /* 400 KB */
    size_t n = KEEL_DB_MAX_ITEM;
    char *big = malloc(n + 1);
    REQUIRE(big);
    memset(big, 'x', n);
    kdb_buf b = { 0 };
    for (size_t sz = n - 2; sz <= n; sz++) {
        b.len = 0;
        kdb_enc_map(&b, 1);
        kdb_enc_text(&b, "a", 1);
        kdb_enc_text(&b, big, sz);
        size_t size = 0;
        keel_status st = kdb_item_check(b.p, b.len, &size);
        if (sz + 1 <= KEEL_DB_MAX_ITEM) CHECK(st == KEEL_OK && size == sz + 1);
        else CHECK(st == KEEL_EVALIDATION && strstr(keel_errmsg(), "maximum allowed size"));
    }
    /* long names: 65535 ok, 65536 not */
    for (size_t nl = 65535; nl <= 65536; nl++) {
        b.len = 0;
        kdb_enc_map(&b, 1);
        kdb_enc_text(&b, big, nl);
        kdb_enc_null(&b);
        keel_status st = kdb_item_check(b.p, b.len, NULL);
        CHECK(nl <= 65535 ? st == KEEL_OK : st == KEEL_EVALIDATION);
    }
    /* many attributes with one duplicate far apart (the sorted path) */
    b.len = 0;
    kdb_enc_map(&b, 3001);
    for (int i = 0; i <= 3000; i++) {
        char name[16];
        int l = snprintf(name, sizeof name, "k%d", i == 3000 ? 17 : i);
        kdb_enc_text(&b, name, (size_t)l);
        kdb_enc_i64(&b, i);
    }
    CHECK_ST(kdb_item_check(b.p, b.len, NULL), KEEL_EVALIDATION);
    CHECK(strstr(keel_errmsg(), "duplicate attribute names"));
    kdb_buf_free(&b);
    free(big);
}

static void test_item_access(void) {
    size_t len;
    uint8_t *p = cbdup("{\"a\": 1, 0: h\"00\", \"bb\": \"xy\", \"l\": [1, [2], \"z\"], "
                       "\"s\": <h\"01\", h\"02\">, \"m\": {\"q\": null}}", &len);
    kdb_val v, e;
    CHECK(kdb_item_open(p, len, &v) && v.type == KDB_M && v.count == 6 && v.len == len);
    CHECK(kdb_item_attr(p, len, "bb", 2, &v) && v.type == KDB_S && v.size == 2 &&
          memcmp(v.data, "xy", 2) == 0);
    CHECK(!kdb_item_attr(p, len, "b", 1, &v));
    CHECK(!kdb_item_attr(p, len, "", 0, &v));
    REQUIRE(kdb_item_attr(p, len, "l", 1, &v) && v.type == KDB_L && v.count == 3);
    kdb_iter it;
    kdb_iter_init(&it, &v);
    const uint8_t *name = (const uint8_t *)"junk";
    size_t nl = 99;
    CHECK(kdb_iter_next(&it, &name, &nl, &e) == 1 && e.type == KDB_N && name == NULL && nl == 0);
    CHECK(kdb_iter_next(&it, NULL, NULL, &e) == 1 && e.type == KDB_L && e.count == 1);
    CHECK(kdb_iter_next(&it, NULL, NULL, &e) == 1 && e.type == KDB_S);
    CHECK(kdb_iter_next(&it, NULL, NULL, &e) == 0);
    REQUIRE(kdb_item_attr(p, len, "s", 1, &v) && v.type == KDB_BS && v.count == 2);
    CHECK(strcmp(kdb_type_name(v.type), "BS") == 0);
    /* iterate the map: padding skipped */
    REQUIRE(kdb_item_open(p, len, &v));
    kdb_iter_init(&it, &v);
    int n = 0, r;
    while ((r = kdb_iter_next(&it, &name, &nl, &e)) == 1) n++;
    CHECK(r == 0 && n == 5);
    /* iterating a scalar: nothing */
    REQUIRE(kdb_item_attr(p, len, "a", 1, &v));
    kdb_iter_init(&it, &v);
    CHECK(kdb_iter_next(&it, NULL, NULL, &e) == 0);
    kdb_num x;
    CHECK_OK(kdb_val_num(&v, &x));
    CHECK(strcmp(fmt(&x), "1") == 0);
    REQUIRE(kdb_item_attr(p, len, "bb", 2, &v));
    CHECK_ST(kdb_val_num(&v, &x), KEEL_EVALIDATION);
    CHECK(!kdb_item_open(p, 0, &v));
    CHECK(!kdb_item_open((const uint8_t *)"\x81\x01", 2, &v));
    free(p);
    static const kdb_type all[] = { KDB_S, KDB_N, KDB_B, KDB_BOOL, KDB_NULL, KDB_L, KDB_M,
                                    KDB_SS, KDB_NS, KDB_BS, KDB_V };
    static const char *const names[] = { "S", "N", "B", "BOOL", "NULL", "L", "M", "SS", "NS",
                                         "BS", "V" };
    for (size_t i = 0; i < H_COUNT(all); i++) CHECK(strcmp(kdb_type_name(all[i]), names[i]) == 0);
}

static void test_item_store_form(void) {
    kdb_buf in = { 0 }, out = { 0 }, again = { 0 };
    float f[80];
    for (int i = 0; i < 80; i++) f[i] = (float)i * 0.5f - 3;
    char filler[300];
    memset(filler, 'f', sizeof filler);
    for (int dims = 1; dims <= 70; dims += (dims < 10 ? 1 : 7)) {
        for (size_t pre = 0; pre < 140; pre += 1 + pre / 8) {
            in.len = 0;
            kdb_enc_map(&in, 4);
            kdb_enc_text(&in, "fill", 4);
            kdb_enc_text(&in, filler, pre);
            kdb_enc_text(&in, "vec", 3);
            kdb_enc_tag(&in, KDB_TAG_F32LE);
            uint8_t raw[320];
            for (int i = 0; i < dims; i++) {
                uint32_t u;
                memcpy(&u, &f[i], 4);
                keel__st32(raw + 4 * i, u);
            }
            kdb_enc_bytes(&in, raw, 4 * (size_t)dims);
            kdb_enc_text(&in, "n", 1);
            kdb_enc_uint(&in, 5);
            kdb_enc_text(&in, "w", 1); /* a second vector right after */
            kdb_enc_tag(&in, KDB_TAG_F32LE);
            kdb_enc_bytes(&in, raw, 4);
            size_t size_in = 0, size_out = 0;
            REQUIRE_OK(kdb_item_check(in.p, in.len, &size_in));
            REQUIRE_OK(kdb_item_store_form(in.p, in.len, &out));
            CHECK_OK(kdb_item_check(out.p, out.len, &size_out));
            CHECK(size_in == size_out);
            kdb_val v, w, a, b2;
            REQUIRE(kdb_item_attr(out.p, out.len, "vec", 3, &v) && v.type == KDB_V);
            REQUIRE(kdb_item_attr(out.p, out.len, "w", 1, &w) && w.type == KDB_V);
            CHECKF((size_t)(v.data - out.p) % 64 == 0, "dims %d pre %zu: offset %zu", dims, pre,
                   (size_t)(v.data - out.p));
            CHECK((size_t)(w.data - out.p) % 64 == 0);
            CHECK(v.count == (uint64_t)dims && memcmp(v.data, raw, 4 * (size_t)dims) == 0);
            REQUIRE(kdb_item_open(in.p, in.len, &a) && kdb_item_open(out.p, out.len, &b2));
            CHECK(kdb_val_equal(&a, &b2) && kdb_val_equal(&b2, &a));
            CHECK(b2.count == 6); /* 4 attributes + 2 padding pairs */
            CHECK(out.len <= in.len + 2 * 66);
            REQUIRE_OK(kdb_item_store_form(out.p, out.len, &again));
            CHECK(again.len == out.len && memcmp(again.p, out.p, out.len) == 0);
            if (h_failures() > 5) break;
        }
    }
    /* no vectors: the same bytes */
    size_t len;
    const uint8_t *p = cb("{\"a\": 1, \"b\": [v(1)]}", &len);
    CHECK_OK(kdb_item_store_form(p, len, &out));
    CHECK(out.len == len && memcmp(out.p, p, len) == 0);
    p = cb("[1]", &len);
    CHECK_ST(kdb_item_store_form(p, len, &out), KEEL_EVALIDATION);
    kdb_buf_free(&in);
    kdb_buf_free(&out);
    kdb_buf_free(&again);
}

/* kdb_item_check_plain says "plain" exactly when the stored form is the item's own bytes
 * (writers then store the bytes without kdb_item_store_form). */
static void check_plain_agrees(const uint8_t *p, size_t len, bool want) {
    kdb_buf out = { 0 };
    bool plain = !want;
    size_t size = 0, size2 = 0;
    REQUIRE_OK(kdb_item_check_plain(p, len, &size, &plain));
    REQUIRE_OK(kdb_item_check(p, len, &size2));
    CHECK(size == size2);
    REQUIRE_OK(kdb_item_store_form(p, len, &out));
    bool same = out.len == len && memcmp(out.p, p, len) == 0;
    CHECKF(plain == want && same == want, "plain %d, same bytes %d, expected %d", plain, same,
           want);
    kdb_buf_free(&out);
}

static void test_item_check_plain(void) {
    size_t len;
    const uint8_t *p = cb("{\"a\": 1, \"b\": [v(1)], \"m\": {\"v\": v(1)}}", &len);
    check_plain_agrees(p, len, true);   /* a nested vector gets no padding */
    kdb_buf in = { 0 }, out = { 0 };
    for (uint64_t n = 20; n <= 300; n += 70) {  /* heads of 1, 2 and 3 bytes */
        in.len = 0;
        kdb_enc_map(&in, n);
        for (uint64_t i = 0; i < n; i++) {
            char name[16];
            int k = snprintf(name, sizeof name, "a%llu", (unsigned long long)i);
            kdb_enc_text(&in, name, (size_t)k);
            kdb_enc_uint(&in, i);
        }
        check_plain_agrees(in.p, in.len, true);
    }
    /* a map head longer than needed: the stored form rewrites it */
    const uint8_t long_head[] = {0xb8, 0x01, 0x61, 'a', 0x01};
    check_plain_agrees(long_head, sizeof long_head, false);
    const uint8_t long_head2[] = {0xb9, 0x00, 0x01, 0x61, 'a', 0x01};
    check_plain_agrees(long_head2, sizeof long_head2, false);
    /* a top-level vector, and a stored form with its padding pair */
    in.len = 0;
    kdb_enc_map(&in, 2);
    kdb_enc_text(&in, "a", 1);
    kdb_enc_uint(&in, 1);
    kdb_enc_text(&in, "v", 1);
    kdb_enc_tag(&in, KDB_TAG_F32LE);
    const uint8_t one[4] = {0, 0, 0x80, 0x3f};
    kdb_enc_bytes(&in, one, 4);
    check_plain_agrees(in.p, in.len, false);
    REQUIRE_OK(kdb_item_store_form(in.p, in.len, &out));
    bool plain = true;
    REQUIRE_OK(kdb_item_check_plain(out.p, out.len, NULL, &plain));
    CHECK(!plain);  /* its stored form is itself, but it has a vector: the slow path */
    /* a padding pair without a vector: dropped by the stored form */
    const uint8_t padded[] = {0xa2, 0x00, 0x43, 0, 0, 0, 0x61, 'a', 0x01};
    check_plain_agrees(padded, sizeof padded, false);
    kdb_buf_free(&in);
    kdb_buf_free(&out);
}

static bool eq_notation(const char *a, const char *b) {
    size_t la, lb;
    uint8_t *pa = cbdup(a, &la), *pb = cbdup(b, &lb);
    kdb_val va, vb;
    bool ok = kdb_val_decode(pa, la, &va) && kdb_val_decode(pb, lb, &vb);
    bool eq = ok && kdb_val_equal(&va, &vb);
    bool eq2 = ok && kdb_val_equal(&vb, &va);
    if (eq != eq2) h_fail(__FILE__, __LINE__, "equality not symmetric: %s, %s", a, b);
    free(pa);
    free(pb);
    return eq;
}

static int cmp_notation(const char *a, const char *b) {
    size_t la, lb;
    uint8_t *pa = cbdup(a, &la), *pb = cbdup(b, &lb);
    kdb_val va, vb;
    int c = 3;
    if (kdb_val_decode(pa, la, &va) && kdb_val_decode(pb, lb, &vb)) c = kdb_val_compare(&va, &vb);
    free(pa);
    free(pb);
    return c;
}

static void test_item_equal(void) {
    static const struct { const char *a, *b; bool eq; } tab[] = {
        { "{\"a\": 1, \"b\": 2}", "{\"b\": 2, \"a\": 1}", true },
        { "1", "f1.0", true }, { "1", "d\"1.000\"", true }, { "1", "2", false },
        { "t4([2, 1])", "100", true }, { "t2(h\"0100\")", "256", true },
        { "<\"a\", \"b\">", "<\"b\", \"a\">", true }, { "<\"a\">", "<\"a\", \"b\">", false },
        { "<1, 2>", "<f2.0, d\"1\">", true }, { "<1, 2>", "<1, 3>", false },
        { "<h\"01\">", "<h\"01\">", true }, { "<\"a\">", "<h\"61\">", false },
        { "[1, 2]", "[2, 1]", false }, { "[1, 2]", "[f1, f2]", true }, { "[1]", "[1, 1]", false },
        { "\"a\"", "h\"61\"", false }, { "\"a\"", "\"a\"", true }, { "\"\"", "\"\"", true },
        { "{\"a\": [1, {\"b\": <\"x\">}]}", "{\"a\": [f1.0, {\"b\": <\"x\">}]}", true },
        { "{\"a\": [1, {\"b\": <\"x\">}]}", "{\"a\": [1, {\"b\": <\"y\">}]}", false },
        { "{}", "{0: h\"00\"}", true }, { "{\"a\": 1}", "{0: h\"0000\", \"a\": 1}", true },
        { "{\"a\": 1}", "{\"a\": 1, \"b\": 2}", false }, { "{\"a\": 1}", "{\"b\": 1}", false },
        { "v(1, 2)", "v(1, 2)", true }, { "v(1, 2)", "v(1, 3)", false }, { "v(0)", "v(-0)", true },
        { "v(1)", "v(1, 1)", false }, { "null", "null", true }, { "true", "false", false },
        { "true", "true", true }, { "[]", "{}", false }, { "{}", "{}", true }, { "[]", "[]", true },
        { "-1", "d\"-1\"", true }, { "-18446744073709551616", "-18446744073709551616", true },
    };
    for (size_t i = 0; i < H_COUNT(tab); i++)
        CHECKF(eq_notation(tab[i].a, tab[i].b) == tab[i].eq, "%s == %s should be %d", tab[i].a,
               tab[i].b, tab[i].eq);
    static const struct { const char *a, *b; int c; } ord[] = {
        { "9", "10", -1 }, { "10", "9", 1 }, { "-1", "d\"0.5\"", -1 }, { "1", "f1.0", 0 },
        { "\"a\"", "\"b\"", -1 }, { "\"a\"", "\"ab\"", -1 }, { "\"b\"", "\"ab\"", 1 },
        { "\"\"", "\"\"", 0 }, { "\"z\"", "\"\\xc2\\xbf\"", -1 }, { "\"a\"", "\"A\"", 1 },
        { "h\"00\"", "h\"0000\"", -1 }, { "h\"ff\"", "h\"00ff\"", 1 },
        { "1", "\"1\"", 2 }, { "true", "true", 2 }, { "[1]", "[1]", 2 }, { "null", "null", 2 },
        { "\"a\"", "h\"61\"", 2 },
    };
    for (size_t i = 0; i < H_COUNT(ord); i++)
        CHECKF(cmp_notation(ord[i].a, ord[i].b) == ord[i].c, "compare(%s, %s) = %d, want %d",
               ord[i].a, ord[i].b, cmp_notation(ord[i].a, ord[i].b), ord[i].c);
}

/* Arbitrary bytes through every decoder: nothing may crash or read out of bounds (ASan). */
static void walk(const kdb_val *v, int depth) {
    kdb_num x;
    if (v->type == KDB_N) (void)kdb_val_num(v, &x);
    if (depth > 40) return;
    kdb_iter it;
    kdb_iter_init(&it, v);
    kdb_val e;
    const uint8_t *n;
    size_t nl;
    while (kdb_iter_next(&it, &n, &nl, &e) == 1) {
        walk(&e, depth + 1);
        (void)kdb_val_equal(&e, &e);
        (void)kdb_val_compare(&e, v);
    }
}

static void test_item_mutations(void) {
    size_t len;
    uint8_t *base = cbdup("{\"a\": 1, \"bb\": \"xy\", \"l\": [1, [2, d\"1.5\"], \"z\"], "
                          "\"s\": <h\"01\", h\"02\">, \"ns\": <1, t4([-3, 5]), t2(h\"0102\")>, "
                          "\"m\": {\"q\": null, \"r\": {\"t\": [true]}}, \"v\": v(1, 2, 3), "
                          "\"ss\": <\"p\", \"q\">, \"f\": f2.5}", &len);
    REQUIRE(base);
    REQUIRE_OK(kdb_item_check(base, len, NULL));
    uint8_t *m = malloc(len + 16);
    REQUIRE(m);
    kdb_buf out = { 0 };
    rng r = rng_seed(21);
    kdb_val orig;
    REQUIRE(kdb_item_open(base, len, &orig));
    for (int i = 0; i < 15000; i++) {
        memcpy(m, base, len);
        size_t n = len;
        int flips = 1 + (int)rng_below(&r, 3);
        for (int f = 0; f < flips; f++) {
            size_t at = rng_below(&r, n);
            switch (rng_below(&r, 3)) {
            case 0: m[at] = (uint8_t)rng_next(&r); break;
            case 1: m[at] ^= (uint8_t)(1u << rng_below(&r, 8)); break;
            default: n = at + 1; break;
            }
        }
        /* a tight copy so ASan sees any read past the end */
        uint8_t *t = malloc(n);
        REQUIRE(t);
        memcpy(t, m, n);
        size_t size;
        keel_status st = kdb_item_check(t, n, &size);
        CHECK(st == KEEL_OK || st == KEEL_EVALIDATION);
        keel_status sf = kdb_item_store_form(t, n, &out);
        if (st == KEEL_OK) {
            CHECK_OK(sf);
            size_t size2;
            CHECK_OK(kdb_item_check(out.p, out.len, &size2));
            CHECK(size2 == size);
        }
        kdb_val v;
        if (kdb_val_decode(t, n, &v)) {
            CHECK(v.len <= n);
            walk(&v, 0);
            (void)kdb_val_equal(&v, &orig);
        }
        kdb_num x;
        (void)kdb_num_parse((const char *)t, n, &x);
        size_t used;
        if (kdb_num_key_decode(t, n, &x, &used)) {
            uint8_t k[KDB_NUM_KEY_MAX];
            CHECK(kdb_num_key_encode(&x, k) == used && memcmp(k, t, used) == 0);
        }
        free(t);
        if (h_failures() > 10) break;
    }
    kdb_buf_free(&out);
    free(m);
    free(base);
}

/* ---- keys ----------------------------------------------------------------------------- */

static int key_memcmp(const kdb_key *a, const kdb_key *b) {
    size_t m = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->b, b->b, m);
    if (c == 0) c = a->len < b->len ? -1 : a->len > b->len;
    return sgn(c);
}

/* Sort keys of one partition, in ascending DynamoDB order (equal neighbours marked '='). */
static void check_sk_order(keel_db_keytype t, const char *const *asc, size_t n) {
    uint8_t *keep_pk;
    kdb_val pk = val_of("\"device-1\"", &keep_pk);
    kdb_key prev, cur;
    bool have = false;
    for (size_t i = 0; i < n; i++) {
        bool eq = asc[i][0] == '=';
        uint8_t *keep;
        kdb_val sk = val_of(asc[i] + (eq ? 1 : 0), &keep);
        keel_status st = kdb_key_make(KDB_TABLE_FIRST, KEEL_DB_KEY_S, &pk, t, &sk, &cur);
        CHECKF(st == KEEL_OK, "%s: %s", asc[i], keel_errmsg());
        if (have) {
            CHECK(cur.part_len == prev.part_len && memcmp(cur.b, prev.b, cur.part_len) == 0);
            CHECKF(key_memcmp(&prev, &cur) == (eq ? 0 : -1), "%s after %s", asc[i], asc[i - 1]);
        }
        /* append_sk on the partition prefix gives the same key */
        kdb_key k2 = cur;
        memset(k2.b + k2.part_len, 0xEE, 16);
        CHECK_OK(kdb_key_append_sk(&k2, t, &sk));
        CHECK(k2.len == cur.len && memcmp(k2.b, cur.b, cur.len) == 0);
        prev = cur;
        have = true;
        free(keep);
    }
    free(keep_pk);
}

static void test_key_order(void) {
    static const char *const s_asc[] = {
        "\"A\"", "\"Z\"", "\"a\"", "\"a\\x00\"", "\"a\\x01\"", "\"ab\"", "\"abc\"", "\"b\"",
        "\"z\"", "\"\\x7f\"", "\"\\xc2\\xbf\"", "\"\\xc3\\xa9\"", "\"\\xe2\\x82\\xac\"",
        "\"\\xf0\\x9f\\x98\\x80\"",
    };
    check_sk_order(KEEL_DB_KEY_S, s_asc, H_COUNT(s_asc));
    static const char *const n_asc[] = {
        "d\"-9.9999999999999999999999999999999999999e125\"", "-10000000000", "d\"-1e3\"", "=-1000",
        "=f-1000.0", "-10", "-9", "d\"-1.5\"", "-1", "d\"-0.001\"", "d\"-1e-130\"", "0", "=d\"-0\"",
        "=f-0.0", "d\"1e-130\"", "d\"0.001\"", "d\"0.5\"", "1", "=f1.0", "=d\"1.000\"", "d\"1.5\"",
        "9", "10", "=t4([1, 1])", "100", "d\"1e3\"", "=1000", "18446744073709551615",
        "t2(h\"010000000000000000\")", "d\"1e125\"", "d\"9.9999999999999999999999999999999999999e125\"",
    };
    check_sk_order(KEEL_DB_KEY_N, n_asc, H_COUNT(n_asc));
    static const char *const b_asc[] = {
        "h\"00\"", "h\"0000\"", "h\"0001\"", "h\"01\"", "h\"0100\"", "h\"7f\"", "h\"80\"", "h\"ff\"",
        "h\"ff00\"", "h\"ffff\"",
    };
    check_sk_order(KEEL_DB_KEY_B, b_asc, H_COUNT(b_asc));

    /* random N sort keys: memcmp of store keys == numeric order */
    rng r = rng_seed(33);
    uint8_t *keep_pk;
    kdb_val pk = val_of("h\"0001\"", &keep_pk);
    kdb_buf b = { 0 };
    for (int i = 0; i < 20000 && h_failures() < 10; i++) {
        kdb_num x = rand_num(&r), y = rand_num(&r);
        if (rng_below(&r, 4) == 0) y = x;
        kdb_key kx, ky;
        b.len = 0;
        kdb_enc_num(&b, &x);
        size_t lx = b.len;
        kdb_enc_num(&b, &y);
        kdb_val vx, vy;
        REQUIRE(kdb_val_decode(b.p, lx, &vx) && kdb_val_decode(b.p + lx, b.len - lx, &vy));
        REQUIRE_OK(kdb_key_make(KDB_TABLE_FIRST, KEEL_DB_KEY_B, &pk, KEEL_DB_KEY_N, &vx, &kx));
        REQUIRE_OK(kdb_key_make(KDB_TABLE_FIRST, KEEL_DB_KEY_B, &pk, KEEL_DB_KEY_N, &vy, &ky));
        CHECKF(key_memcmp(&kx, &ky) == sgn(kdb_num_cmp(&x, &y)), "%s vs %s", fmt(&x), fmt(&y));
        CHECK(kdb_val_compare(&vx, &vy) == sgn(kdb_num_cmp(&x, &y)));
    }
    kdb_buf_free(&b);
    free(keep_pk);
}

typedef struct kent {
    kdb_key k;
    int pk, sk;
} kent;

static int kent_cmp(const void *a, const void *b) {
    return key_memcmp(&((const kent *)a)->k, &((const kent *)b)->k);
}

static void test_key_partitions(void) {
    /* partition keys that are prefixes of each other and hold 0x00 bytes */
    static const char *const pks[] = {
        "\"a\"", "\"a\\x00\"", "\"a\\x00b\"", "\"ab\"", "\"a\\x00\\x00\"", "\"b\"", "\"\\x00\"",
        "\"\\x00\\x01\"", "\"\\x01\"", "\"\\xff\"",
    };
    static const char *const sks[] = { "\"\\x00\"", "\"\\x01\"", "\"a\"", "\"ab\"", "\"b\"", "\"\\xff\\xff\"" };
    enum { NP = H_COUNT(pks), NS = H_COUNT(sks) };
    kent *v = malloc(NP * NS * sizeof *v);
    REQUIRE(v);
    size_t n = 0;
    for (int i = 0; i < NP; i++) {
        for (int j = 0; j < NS; j++) {
            uint8_t *kp, *ks;
            kdb_val pk = val_of(pks[i], &kp), sk = val_of(sks[j], &ks);
            REQUIRE_OK(kdb_key_make(KDB_TABLE_FIRST + 1, KEEL_DB_KEY_S, &pk, KEEL_DB_KEY_S, &sk, &v[n].k));
            /* hash: low 32 bits of XXH3-64 of the partition key's encoding, big-endian */
            uint32_t h = (uint32_t)keel_hash(v[n].k.b + 8, v[n].k.part_len - 8);
            CHECK(v[n].k.b[4] == (uint8_t)(h >> 24) && v[n].k.b[7] == (uint8_t)h);
            uint32_t tid;
            CHECK(kdb_key_table(v[n].k.b, v[n].k.len, &tid) && tid == KDB_TABLE_FIRST + 1);
            v[n].pk = i;
            v[n].sk = j;
            n++;
            free(kp);
            free(ks);
        }
    }
    qsort(v, n, sizeof *v, kent_cmp);
    /* each partition is one run, and within it the sort keys ascend */
    bool seen[NP] = { false };
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || v[i].pk != v[i - 1].pk) {
            CHECKF(!seen[v[i].pk], "partition %s is not contiguous", pks[v[i].pk]);
            seen[v[i].pk] = true;
            CHECK(v[i].sk == 0);
        } else {
            CHECK(v[i].sk == v[i - 1].sk + 1);
        }
    }
    /* no partition prefix is a prefix of another partition's keys */
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            if (v[i].pk != v[j].pk)
                CHECK(v[j].k.len < v[i].k.part_len ||
                      memcmp(v[j].k.b, v[i].k.b, v[i].k.part_len) != 0);
    free(v);

    /* numbers as partition keys: equal values, equal keys */
    uint8_t *a1, *a2, *a3;
    kdb_val n1 = val_of("d\"1e3\"", &a1), n2 = val_of("f1000.0", &a2), n3 = val_of("1001", &a3);
    kdb_key k1, k2, k3;
    CHECK_OK(kdb_key_make(20, KEEL_DB_KEY_N, &n1, KEEL_DB_KEY_NONE, NULL, &k1));
    CHECK_OK(kdb_key_make(20, KEEL_DB_KEY_N, &n2, KEEL_DB_KEY_NONE, NULL, &k2));
    CHECK_OK(kdb_key_make(20, KEEL_DB_KEY_N, &n3, KEEL_DB_KEY_NONE, NULL, &k3));
    CHECK(key_memcmp(&k1, &k2) == 0 && k1.len == k1.part_len);
    CHECK(key_memcmp(&k1, &k3) != 0);
    /* tables are separate ranges: the table id leads */
    kdb_key t1;
    CHECK_OK(kdb_key_make(21, KEEL_DB_KEY_N, &n1, KEEL_DB_KEY_NONE, NULL, &t1));
    CHECK(key_memcmp(&k1, &t1) < 0 && t1.b[3] == 21);
    free(a1);
    free(a2);
    free(a3);
}

static void test_key_errors(void) {
    uint8_t *k1, *k2, *k3, *k4, *k5;
    kdb_val s = val_of("\"x\"", &k1), empty = val_of("\"\"", &k2), n = val_of("5", &k3);
    kdb_val eb = val_of("h\"\"", &k4), badn = val_of("t4([200, 1])", &k5);
    kdb_key k;
    CHECK_ST(kdb_key_make(16, KEEL_DB_KEY_N, &s, KEEL_DB_KEY_NONE, NULL, &k), KEEL_EVALIDATION);
    CHECK(strstr(keel_errmsg(), "Type mismatch for the partition key: expected N, got S"));
    CHECK_ST(kdb_key_make(16, KEEL_DB_KEY_S, &s, KEEL_DB_KEY_B, &n, &k), KEEL_EVALIDATION);
    CHECK(strstr(keel_errmsg(), "sort key"));
    CHECK_ST(kdb_key_make(16, KEEL_DB_KEY_S, &empty, KEEL_DB_KEY_NONE, NULL, &k), KEEL_EVALIDATION);
    CHECK(strstr(keel_errmsg(), "cannot contain an empty string value"));
    CHECK_ST(kdb_key_make(16, KEEL_DB_KEY_B, &eb, KEEL_DB_KEY_NONE, NULL, &k), KEEL_EVALIDATION);
    CHECK(strstr(keel_errmsg(), "empty binary value"));
    CHECK_ST(kdb_key_make(16, KEEL_DB_KEY_S, &s, KEEL_DB_KEY_S, &empty, &k), KEEL_EVALIDATION);
    CHECK_ST(kdb_key_make(16, KEEL_DB_KEY_N, &badn, KEEL_DB_KEY_NONE, NULL, &k), KEEL_EVALIDATION);
    CHECK_ST(kdb_key_make(16, KEEL_DB_KEY_S, &s, KEEL_DB_KEY_NONE, &n, &k), KEEL_EVALIDATION);
    CHECK_ST(kdb_key_make(16, KEEL_DB_KEY_S, &s, KEEL_DB_KEY_N, NULL, &k), KEEL_EVALIDATION);
    CHECK_ST(kdb_key_make(16, (keel_db_keytype)'X', &s, KEEL_DB_KEY_NONE, NULL, &k), KEEL_EVALIDATION);
    /* lengths: partition 2048, sort 1024 (worst case: every byte 0x00, escaped) */
    char *big = calloc(1, 2100);
    REQUIRE(big);
    kdb_buf b = { 0 };
    for (size_t len = 2047; len <= 2049; len++) {
        b.len = 0;
        kdb_enc_text(&b, big, len);
        kdb_val v;
        REQUIRE(kdb_val_decode(b.p, b.len, &v));
        keel_status st = kdb_key_make(16, KEEL_DB_KEY_S, &v, KEEL_DB_KEY_NONE, NULL, &k);
        CHECK(len <= 2048 ? st == KEEL_OK : st == KEEL_EVALIDATION);
        if (st == KEEL_OK) CHECK(k.len == 8 + 2 * len + 2);
        if (len > 2048) CHECK(strstr(keel_errmsg(), "2048"));
    }
    for (size_t len = 1023; len <= 1025; len++) {
        b.len = 0;
        kdb_enc_text(&b, big, 2048);
        size_t at = b.len;
        kdb_enc_bytes(&b, big, len);
        kdb_val pv, sv;
        REQUIRE(kdb_val_decode(b.p, at, &pv) && kdb_val_decode(b.p + at, b.len - at, &sv));
        keel_status st = kdb_key_make(16, KEEL_DB_KEY_S, &pv, KEEL_DB_KEY_B, &sv, &k);
        CHECK(len <= 1024 ? st == KEEL_OK : st == KEEL_EVALIDATION);
        if (st == KEEL_OK) CHECK(k.len <= KDB_KEY_MAX);
        kdb_key kb = k;
        st = kdb_key_append_sk(&kb, KEEL_DB_KEY_B, &sv);
        CHECK(len <= 1024 ? st == KEEL_OK : st == KEEL_EVALIDATION);
    }
    /* bounds may be empty */
    CHECK_OK(kdb_key_make(16, KEEL_DB_KEY_S, &s, KEEL_DB_KEY_S, &s, &k));
    CHECK_OK(kdb_key_append_sk(&k, KEEL_DB_KEY_S, &empty));
    CHECK(k.len == k.part_len);
    CHECK_ST(kdb_key_append_sk(&k, KEEL_DB_KEY_N, &s), KEEL_EVALIDATION);
    uint32_t tid;
    CHECK(!kdb_key_table(k.b, 7, &tid));
    kdb_buf_free(&b);
    free(big);
    free(k1);
    free(k2);
    free(k3);
    free(k4);
    free(k5);
}

static void test_key_kv(void) {
    kdb_key a, b, c, d, e;
    CHECK_OK(kdb_key_make_kv("p", 1, NULL, 0, &a));
    CHECK_OK(kdb_key_make_kv("p", 1, "", 0, &b));
    CHECK_OK(kdb_key_make_kv("p", 1, "\x00", 1, &c));
    CHECK_OK(kdb_key_make_kv("p", 1, "a", 1, &d));
    CHECK_OK(kdb_key_make_kv("p\x00", 2, NULL, 0, &e));
    CHECK(key_memcmp(&a, &b) < 0 && key_memcmp(&b, &c) < 0 && key_memcmp(&c, &d) < 0);
    CHECK(a.part_len == b.part_len && memcmp(a.b, b.b, a.part_len) == 0);
    CHECK(e.len < a.part_len || memcmp(e.b, a.b, a.part_len) != 0); /* "p\0" is not in "p" */
    uint32_t tid;
    CHECK(kdb_key_table(a.b, a.len, &tid) && tid == KDB_TABLE_KV);
    CHECK_OK(kdb_key_make_kv("", 0, NULL, 0, &a)); /* KeystoneDB: any bytes */
    char *big = calloc(1, 2100);
    REQUIRE(big);
    CHECK_OK(kdb_key_make_kv(big, 2048, big, 1024, &a));
    CHECK(a.len <= KDB_KEY_MAX);
    CHECK_ST(kdb_key_make_kv(big, 2049, NULL, 0, &a), KEEL_EVALIDATION);
    CHECK_ST(kdb_key_make_kv(big, 1, big, 1025, &a), KEEL_EVALIDATION);
    free(big);
}

static const h_test tests[] = {
    H_TEST(test_item_valid),
    H_TEST(test_item_invalid),
    H_TEST(test_item_limits),
    H_TEST(test_item_access),
    H_TEST(test_item_store_form),
    H_TEST(test_item_check_plain),
    H_TEST(test_item_equal),
    H_TEST(test_item_mutations),
    H_TEST(test_key_order),
    H_TEST(test_key_partitions),
    H_TEST(test_key_errors),
    H_TEST(test_key_kv),
};

int main(int argc, char **argv) { return h_main(argc, argv, tests, H_COUNT(tests)); }
