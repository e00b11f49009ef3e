/*
 * test_db_json.c: DynamoDB JSON <-> CBOR items (src/db/json.c), through both its internal
 * jansson API (src/db/json.h) and the public text API (keel_db_json_to_cbor /
 * keel_db_json_from_cbor in keel_db.h).
 *
 * Round trips of every type (S, N, B, BOOL, NULL, L, M, SS, NS, BS, and vectors, which
 * come out as an L of N); exact numbers (38 digits, the range edges, 1e125 printed as a 1
 * and 125 zeros, DynamoDB's normalization) including numbers that other writers stored as
 * floats, bignums and decimal fractions; base64 (RFC 4648 vectors, every byte value,
 * every length, and the texts a strict decoder must refuse); malformed AttributeValues
 * with DynamoDB's messages; ExpressionAttributeValues/Names; and CBOR from disk that is
 * damaged (every truncation, garbage, invalid UTF-8, duplicate names), which must be an
 * error and never a crash.
 */
#include "util.h"

#include "db/db.h"
#include "db/json.h"
#include "keel_db.h"

#include <math.h>

/* ---- helpers ---------------------------------------------------------------------------- */

/* JSON text -> CBOR (public API) -> kdb_item_check -> JSON text; the result is malloc'd
 * (NULL after a failure, which is reported). */
static char *roundtrip_at(const char *file, int line, keel_db_json_kind kind, const char *in) {
    uint8_t *cbor = NULL;
    size_t clen = 0;
    keel_status st = keel_db_json_to_cbor(kind, in, strlen(in), &cbor, &clen);
    if (st != KEEL_OK) {
        h_fail(file, line, "to_cbor(%s): %s: %s", in, st_name(st), keel_errmsg());
        return NULL;
    }
    if (kind == KEEL_DB_JSON_ITEM) {
        size_t size;
        st = kdb_item_check(cbor, clen, &size);
        if (st != KEEL_OK) h_fail(file, line, "kdb_item_check(%s): %s", in, keel_errmsg());
    }
    char *out = NULL;
    size_t olen = 0;
    st = keel_db_json_from_cbor(kind, cbor, clen, &out, &olen);
    free(cbor);
    if (st != KEEL_OK) {
        h_fail(file, line, "from_cbor(%s): %s: %s", in, st_name(st), keel_errmsg());
        return NULL;
    }
    if (strlen(out) != olen) h_fail(file, line, "length %zu != strlen %zu", olen, strlen(out));
    return out;
}

static void check_rt_at(const char *file, int line, keel_db_json_kind kind, const char *in,
                        const char *want) {
    char *out = roundtrip_at(file, line, kind, in);
    if (!out) return;
    if (strcmp(out, want ? want : in) != 0)
        h_fail(file, line, "round trip of %s\n      got  %s\n      want %s", in, out,
               want ? want : in);
    free(out);
}

/* The item `in` must come back exactly as `want` (NULL: as `in`). */
#define CHECK_RT(in, want) check_rt_at(__FILE__, __LINE__, KEEL_DB_JSON_ITEM, in, want)
#define CHECK_RT_KIND(kind, in, want) check_rt_at(__FILE__, __LINE__, kind, in, want)

/* `in` must be refused with KEEL_EVALIDATION and a message containing `msg`. */
static void check_bad_at(const char *file, int line, keel_db_json_kind kind, const char *in,
                         const char *msg) {
    uint8_t *cbor = (uint8_t *)"untouched";
    size_t clen = 12345;
    keel_status st = keel_db_json_to_cbor(kind, in, strlen(in), &cbor, &clen);
    if (st != KEEL_EVALIDATION) {
        h_fail(file, line, "to_cbor(%s): got %s, want KEEL_EVALIDATION", in, st_name(st));
        if (st == KEEL_OK) free(cbor);
        return;
    }
    if (clen != 12345 || strcmp((char *)cbor, "untouched") != 0)
        h_fail(file, line, "to_cbor(%s) wrote its outputs on failure", in);
    if (msg && !strstr(keel_errmsg(), msg))
        h_fail(file, line, "to_cbor(%s): message \"%s\" lacks \"%s\"", in, keel_errmsg(), msg);
}

#define CHECK_BAD(in, msg) check_bad_at(__FILE__, __LINE__, KEEL_DB_JSON_ITEM, in, msg)
#define CHECK_BAD_KIND(kind, in, msg) check_bad_at(__FILE__, __LINE__, kind, in, msg)

/* CBOR bytes -> JSON text (public API), or NULL with the status in *st. */
static char *from_cbor(keel_db_json_kind kind, const kdb_buf *b, keel_status *st) {
    char *out = NULL;
    *st = keel_db_json_from_cbor(kind, b->p, b->len, &out, NULL);
    return *st == KEEL_OK ? out : NULL;
}

static void check_from_at(const char *file, int line, const kdb_buf *b, const char *want) {
    keel_status st;
    if (b->failed) {
        h_fail(file, line, "encoder ran out of memory");
        return;
    }
    char *out = from_cbor(KEEL_DB_JSON_ITEM, b, &st);
    if (!out) {
        h_fail(file, line, "from_cbor: %s: %s", st_name(st), keel_errmsg());
        return;
    }
    if (strcmp(out, want) != 0)
        h_fail(file, line, "from_cbor\n      got  %s\n      want %s", out, want);
    free(out);
}

#define CHECK_FROM(b, want) check_from_at(__FILE__, __LINE__, b, want)

/* A string of `n` copies of `c` after `prefix` and before `suffix`. */
static char *repeat(const char *prefix, char c, size_t n, const char *suffix) {
    size_t a = strlen(prefix), z = strlen(suffix);
    char *s = malloc(a + n + z + 1);
    if (!s) abort();
    memcpy(s, prefix, a);
    memset(s + a, c, n);
    memcpy(s + a + n, suffix, z + 1);
    return s;
}

/* ---- base64 ----------------------------------------------------------------------------- */

static void test_base64_vectors(void) {
    /* RFC 4648 section 10. */
    static const struct { const char *raw, *b64; } v[] = {
        {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char enc[16];
        uint8_t dec[16];
        size_t n = strlen(v[i].raw), dn = 99;
        CHECK_EQ(kdb_base64_encode((const uint8_t *)v[i].raw, n, enc), strlen(v[i].b64));
        CHECKF(strcmp(enc, v[i].b64) == 0, "encode(%s) = %s", v[i].raw, enc);
        CHECKF(kdb_base64_decode(v[i].b64, strlen(v[i].b64), dec, &dn), "decode(%s)", v[i].b64);
        CHECK_EQ(dn, n);
        CHECK_MEM(dec, v[i].raw, n);
    }
    /* Every byte value, and every length up to 200 of pseudo-random bytes. */
    uint8_t raw[256], dec[256];
    char enc[400];
    for (int i = 0; i < 256; i++) raw[i] = (uint8_t)i;
    size_t el = kdb_base64_encode(raw, 256, enc), dn = 0;
    CHECK(kdb_base64_decode(enc, el, dec, &dn));
    CHECK_EQ(dn, 256);
    CHECK_MEM(dec, raw, 256);
    rng r = rng_seed(7);
    for (size_t n = 0; n <= 200; n++) {
        rng_fill(&r, raw, n);
        el = kdb_base64_encode(raw, n, enc);
        CHECK_EQ(el, (n + 2) / 3 * 4);
        CHECK(kdb_base64_decode(enc, el, dec, &dn));
        CHECK_EQ(dn, n);
        CHECK_MEM(dec, raw, n);
    }
}

static void test_base64_strict(void) {
    static const char *const bad[] = {
        "Zg", "Zg=", "Z", "Zm9vY", "Zg==Zg==", "Zg=a", "Z===", "====", "=AAA", "A=AA",
        " Zg==", "Zg== ", "Zg==\n", "Zm9v\nYg==", "Z-8_", "Zm8*", "Zh==", "Zm9=", "Zg=\0",
        "Zm8=====",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t dec[16];
        size_t dn;
        CHECKF(!kdb_base64_decode(bad[i], strlen(bad[i]), dec, &dn), "accepted \"%s\"", bad[i]);
    }
    /* Through an item: the message names the attribute. */
    CHECK_BAD("{\"b\": {\"B\": \"Zh==\"}}", "Invalid base64");
    CHECK_BAD("{\"b\": {\"B\": \"Zh==\"}}", "attribute b");
    CHECK_BAD("{\"b\": {\"M\": {\"c\": {\"BS\": [\"Zg==\", \"Zg\"]}}}}", "attribute b.c[1]");
    CHECK_BAD("{\"b\": {\"B\": 5}}", "B must be a JSON string");
    /* The empty string is the empty byte string. */
    CHECK_RT("{\"b\": {\"B\": \"\"}}", NULL);
}

/* ---- round trips ------------------------------------------------------------------------ */

static void test_roundtrip_types(void) {
    CHECK_RT("{\"s\": {\"S\": \"hello\"}}", NULL);
    CHECK_RT("{\"s\": {\"S\": \"\"}}", NULL);
    CHECK_RT("{\"s\": {\"S\": \"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}}", NULL);
    CHECK_RT("{\"s\": {\"S\": \"quote \\\" backslash \\\\ tab \\t nl \\n\"}}", NULL);
    CHECK_RT("{\"n\": {\"N\": \"42\"}}", NULL);
    CHECK_RT("{\"n\": {\"N\": \"-17.25\"}}", NULL);
    CHECK_RT("{\"b\": {\"B\": \"AAEC/w==\"}}", NULL);
    CHECK_RT("{\"t\": {\"BOOL\": true}, \"f\": {\"BOOL\": false}}", NULL);
    CHECK_RT("{\"z\": {\"NULL\": true}}", NULL);
    CHECK_RT("{\"l\": {\"L\": []}}", NULL);
    CHECK_RT("{\"m\": {\"M\": {}}}", NULL);
    CHECK_RT("{\"l\": {\"L\": [{\"S\": \"a\"}, {\"N\": \"1\"}, {\"L\": [{\"NULL\": true}]}, "
             "{\"M\": {\"x\": {\"BOOL\": false}}}]}}", NULL);
    CHECK_RT("{\"ss\": {\"SS\": [\"b\", \"a\", \"\"]}}", NULL);
    CHECK_RT("{\"ns\": {\"NS\": [\"3\", \"-1\", \"0.5\"]}}", NULL);
    CHECK_RT("{\"bs\": {\"BS\": [\"AA==\", \"AQ==\", \"\"]}}", NULL);
    /* Attribute order is kept; names may hold any UTF-8, and are never AttributeValues. */
    CHECK_RT("{\"z\": {\"S\": \"1\"}, \"a\": {\"S\": \"2\"}, \"S\": {\"S\": \"3\"}, "
             "\"\xc3\xa9t\xc3\xa9\": {\"S\": \"4\"}}", NULL);
    /* A key map and an empty item are maps too. */
    CHECK_RT("{}", NULL);
    /* One AttributeValue on its own. */
    CHECK_RT_KIND(KEEL_DB_JSON_VALUE, "{\"N\": \"1e3\"}", "{\"N\": \"1000\"}");
    CHECK_RT_KIND(KEEL_DB_JSON_VALUE, "{\"M\": {\"a\": {\"SS\": [\"x\"]}}}", NULL);
    CHECK_RT_KIND(KEEL_DB_JSON_VALUE, "{\"NULL\": true}", NULL);

    /* U+0000 inside a string is data: it prints escaped. */
    kdb_buf b = {NULL, 0, 0, false};
    kdb_enc_map(&b, 1);
    kdb_enc_text(&b, "s", 1);
    kdb_enc_text(&b, "a\0b", 3);
    CHECK_FROM(&b, "{\"s\": {\"S\": \"a\\u0000b\"}}");
    kdb_buf_free(&b);
    /* ... and reads back in, in values and in names. */
    CHECK_RT("{\"s\": {\"S\": \"a\\u0000b\"}, \"x\": {\"SS\": [\"\\u0000\", \"\"]}}", NULL);
    /* jansson cannot hold U+0000 in a name: such a name is refused on input (it still
     * prints, escaped). */
    CHECK_BAD("{\"x\\u0000y\": {\"S\": \"a\"}}", "NUL byte in object key");
    kdb_enc_map(&b, 1);
    kdb_enc_text(&b, "x\0y", 3);
    kdb_enc_null(&b);
    CHECK_FROM(&b, "{\"x\\u0000y\": {\"NULL\": true}}");
    kdb_buf_free(&b);
}

/* An item whose attribute "d" is `levels` nested L's around `inner`. */
static char *nested_lists(int levels, const char *inner) {
    char *s = malloc((size_t)levels * 16 + strlen(inner) + 64);
    if (!s) abort();
    size_t k = (size_t)sprintf(s, "{\"d\": ");
    for (int i = 0; i < levels; i++) k += (size_t)sprintf(s + k, "{\"L\": [");
    k += (size_t)sprintf(s + k, "%s", inner);
    for (int i = 0; i < levels; i++) k += (size_t)sprintf(s + k, "]}");
    sprintf(s + k, "}");
    return s;
}

/* Deep structures: DynamoDB's 32 levels go through (as kdb_item_check counts them: the
 * attribute's value is level 1); one more is refused; much deeper is refused, not a
 * crash. */
static void test_roundtrip_deep(void) {
    char *in = nested_lists(32, "{\"S\": \"deep\"}");
    CHECK_RT(in, NULL);
    free(in);
    in = nested_lists(33, "{\"S\": \"deep\"}");
    CHECK_BAD(in, "Nesting Levels have exceeded supported limits");
    free(in);
    in = nested_lists(31, "{\"SS\": [\"a\"]}");
    CHECK_RT(in, NULL);
    free(in);
    in = nested_lists(32, "{\"SS\": [\"a\"]}");
    CHECK_BAD(in, "Nesting Levels have exceeded supported limits");
    free(in);
    size_t k;

    /* 1000 levels: refused by json.c itself, whatever kdb_item_check would say. */
    size_t depth = 1000;
    char *deep = malloc(depth * 16 + 64);
    REQUIRE(deep);
    k = (size_t)sprintf(deep, "{\"d\": ");
    for (size_t i = 0; i < depth; i++) k += (size_t)sprintf(deep + k, "{\"M\": {\"x\": ");
    k += (size_t)sprintf(deep + k, "{\"NULL\": true}");
    for (size_t i = 0; i < depth; i++) k += (size_t)sprintf(deep + k, "}}");
    k += (size_t)sprintf(deep + k, "}");
    CHECK_BAD(deep, "Nesting Levels have exceeded supported limits");
    free(deep);

    /* And from CBOR: 1000 nested arrays inside an item. */
    kdb_buf b = {NULL, 0, 0, false};
    kdb_enc_map(&b, 1);
    kdb_enc_text(&b, "d", 1);
    for (int i = 0; i < 1000; i++) kdb_enc_array(&b, 1);
    kdb_enc_null(&b);
    keel_status st;
    char *out = from_cbor(KEEL_DB_JSON_ITEM, &b, &st);
    CHECK(out == NULL);
    CHECK_ST(st, KEEL_EVALIDATION);
    free(out);
    kdb_buf_free(&b);
}

/* ---- numbers ---------------------------------------------------------------------------- */

static void test_numbers_exact(void) {
    static const struct { const char *in, *out; } v[] = {
        /* DynamoDB's normalization (alternator test_number.py) */
        {"007", "7"}, {"+3", "3"}, {"1.10", "1.1"}, {"1e3", "1000"}, {"1e-3", "0.001"},
        {"-0", "0"}, {"0e5", "0"}, {".5", "0.5"}, {"5.", "5"}, {"1E+2", "100"},
        {"-12.5e-1", "-1.25"}, {"0.000", "0"},
        /* 38 significant digits survive exactly, in any position */
        {"12345678901234567890123456789012345678", "12345678901234567890123456789012345678"},
        {"-1.2345678901234567890123456789012345678", "-1.2345678901234567890123456789012345678"},
        {"0.00000000000000000000000000000000000000000012345678901234567890123456789012345678",
         "0.00000000000000000000000000000000000000000012345678901234567890123456789012345678"},
        {"99999999999999999999999999999999999999", "99999999999999999999999999999999999999"},
        /* beyond 64 bits (bignums inside) */
        {"18446744073709551616", "18446744073709551616"},
        {"-18446744073709551617", "-18446744073709551617"},
        {"9223372036854775807", "9223372036854775807"},
        {"-9223372036854775808", "-9223372036854775808"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char in[256], want[256];
        snprintf(in, sizeof in, "{\"n\": {\"N\": \"%s\"}}", v[i].in);
        snprintf(want, sizeof want, "{\"n\": {\"N\": \"%s\"}}", v[i].out);
        CHECK_RT(in, want);
    }
    /* 1e125 comes back as a 1 and 125 zeros; 1e-130 as 0. and 129 zeros and a 1. */
    char *want = repeat("{\"n\": {\"N\": \"1", '0', 125, "\"}}");
    CHECK_RT("{\"n\": {\"N\": \"1e125\"}}", want);
    free(want);
    want = repeat("{\"n\": {\"N\": \"0.", '0', 129, "1\"}}");
    CHECK_RT("{\"n\": {\"N\": \"1E-130\"}}", want);
    free(want);
    want = repeat("{\"n\": {\"N\": \"-99999999999999999999999999999999999999", '0', 88, "\"}}");
    CHECK_RT("{\"n\": {\"N\": \"-9.9999999999999999999999999999999999999E+125\"}}", want);
    free(want);

    /* Refused, with DynamoDB's messages. */
    CHECK_BAD("{\"n\": {\"N\": \"123456789012345678901234567890123456789\"}}",
              "Attempting to store more than 38 significant digits in a Number");
    CHECK_BAD("{\"n\": {\"N\": \"1e126\"}}", "Number overflow");
    CHECK_BAD("{\"n\": {\"N\": \"-1e-131\"}}", "Number underflow");
    CHECK_BAD("{\"n\": {\"N\": \"b\"}}", "The parameter cannot be converted to a numeric value");
    CHECK_BAD("{\"n\": {\"N\": \"\"}}", "The parameter cannot be converted to a numeric value");
    CHECK_BAD("{\"n\": {\"N\": \"1e\"}}", "numeric value");
    CHECK_BAD("{\"n\": {\"N\": \" 1\"}}", "numeric value");
    CHECK_BAD("{\"n\": {\"N\": \"NaN\"}}", "numeric value");
    CHECK_BAD("{\"n\": {\"N\": \"Infinity\"}}", "numeric value");
    CHECK_BAD("{\"n\": {\"N\": \"0x10\"}}", "numeric value");
    CHECK_BAD("{\"n\": {\"N\": 5}}", "N must be a JSON string");
    CHECK_BAD("{\"n\": {\"N\": 5}}", "attribute n");
    CHECK_BAD("{\"n\": {\"NS\": [\"1\", \"x\"]}}", "numeric value: x");
}

/* Numbers that another writer (Python floats, Decimal, big ints) stored in the other CBOR
 * forms all come out in the same normalized text. */
static void test_numbers_other_forms(void) {
    kdb_buf b = {NULL, 0, 0, false};
    kdb_enc_map(&b, 7);
    kdb_enc_text(&b, "f", 1);
    kdb_enc_double(&b, 0.1);            /* the shortest text that reads back: 0.1 */
    kdb_enc_text(&b, "g", 1);
    kdb_enc_double(&b, 1.0);            /* a float that is integral prints as an integer */
    kdb_enc_text(&b, "h", 1);
    kdb_enc_double(&b, -0.0);           /* DynamoDB has no negative zero */
    kdb_enc_text(&b, "i", 1);
    kdb_enc_double(&b, 1e300 * 1e-200); /* 1e100 */
    kdb_enc_text(&b, "d", 1);
    kdb_enc_tag(&b, KDB_TAG_DECIMAL);   /* 4([-2, 12345]) = 123.45 */
    kdb_enc_array(&b, 2);
    kdb_enc_i64(&b, -2);
    kdb_enc_i64(&b, 12345);
    kdb_enc_text(&b, "p", 1);
    kdb_enc_tag(&b, KDB_TAG_POS_BIGNUM); /* 2(h'010000000000000000') = 2^64 */
    kdb_enc_bytes(&b, "\x01\0\0\0\0\0\0\0\0", 9);
    kdb_enc_text(&b, "q", 1);
    kdb_enc_tag(&b, KDB_TAG_NEG_BIGNUM); /* 3(h'010000000000000000') = -1 - 2^64 */
    kdb_enc_bytes(&b, "\x01\0\0\0\0\0\0\0\0", 9);
    CHECK_FROM(&b, "{\"f\": {\"N\": \"0.1\"}, \"g\": {\"N\": \"1\"}, \"h\": {\"N\": \"0\"}, "
                   "\"i\": {\"N\": \"1" "0000000000" "0000000000" "0000000000" "0000000000"
                   "0000000000" "0000000000" "0000000000" "0000000000" "0000000000"
                   "0000000000\"}, \"d\": {\"N\": \"123.45\"}, "
                   "\"p\": {\"N\": \"18446744073709551616\"}, "
                   "\"q\": {\"N\": \"-18446744073709551617\"}}");
    kdb_buf_free(&b);

    /* JSON -> CBOR picks the smallest exact form, and the value survives any number of
     * round trips unchanged. */
    static const char *const texts[] = {"0", "1", "-1", "255", "65536", "-4294967297",
                                        "3.14159", "1e-130", "123456789012345678901234567.5"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        char in[128];
        snprintf(in, sizeof in, "{\"N\": \"%s\"}", texts[i]);
        json_error_t err;
        json_t *j = json_loads(in, 0, &err);
        REQUIRE(j);
        kdb_buf v = {NULL, 0, 0, false};
        CHECK_OK(kdb_json_to_value(j, &v));
        kdb_val val;
        kdb_num x, y;
        REQUIRE(kdb_val_decode(v.p, v.len, &val));
        CHECK_EQ(val.len, v.len);
        CHECK_EQ(val.type, KDB_N);
        CHECK_OK(kdb_val_num(&val, &x));
        CHECK_OK(kdb_num_parse(texts[i], strlen(texts[i]), &y));
        CHECK(kdb_num_cmp(&x, &y) == 0);
        json_t *back = NULL;
        CHECK_OK(kdb_json_from_value(v.p, v.len, &back));
        kdb_buf v2 = {NULL, 0, 0, false};
        if (back) CHECK_OK(kdb_json_to_value(back, &v2));
        CHECK_EQ(v2.len, v.len);
        CHECK_MEM(v2.p, v.p, v.len);
        json_decref(back);
        json_decref(j);
        kdb_buf_free(&v);
        kdb_buf_free(&v2);
    }
}

/* ---- sets ------------------------------------------------------------------------------- */

static void test_sets(void) {
    CHECK_BAD("{\"s\": {\"SS\": []}}",
              "One or more parameter values were invalid: An string set  may not be empty");
    CHECK_BAD("{\"s\": {\"NS\": []}}",
              "One or more parameter values were invalid: An number set  may not be empty");
    CHECK_BAD("{\"s\": {\"BS\": []}}",
              "One or more parameter values were invalid: Binary sets should not be empty");
    CHECK_BAD("{\"s\": {\"SS\": [\"a\", \"a\"]}}",
              "One or more parameter values were invalid: Input collection [a, a] contains "
              "duplicates.");
    CHECK_BAD("{\"s\": {\"BS\": [\"Yg==\", \"Yg==\"]}}",
              "Input collection [Yg==, Yg==]of type BS contains duplicates.");
    CHECK_BAD("{\"s\": {\"NS\": [\"1\", \"1\"]}}", "Input collection contains duplicates");
    /* Numbers are compared as numbers: 1, 1.0 and 1e0 are one member. */
    CHECK_BAD("{\"s\": {\"NS\": [\"1\", \"2\", \"1.0\"]}}", "contains duplicates");
    CHECK_BAD("{\"s\": {\"NS\": [\"100\", \"1e2\"]}}", "contains duplicates");
    /* Not duplicates: distinct members, strings that differ only in case or length. */
    CHECK_RT("{\"s\": {\"SS\": [\"a\", \"A\", \"aa\"]}}", NULL);
    CHECK_RT("{\"s\": {\"NS\": [\"1\", \"1.0000000000000000000000000000000000001\"]}}", NULL);
    /* Many members: the check is not quadratic (50,000 members). */
    size_t n = 50000;
    char *big = malloc(n * 12 + 64);
    REQUIRE(big);
    size_t k = (size_t)sprintf(big, "{\"s\": {\"NS\": [");
    for (size_t i = 0; i < n; i++) k += (size_t)sprintf(big + k, "%s\"%zu\"", i ? ", " : "", i);
    sprintf(big + k, "]}}");
    double t0 = h_now();
    uint8_t *cbor;
    size_t clen;
    CHECK_OK(keel_db_json_to_cbor(KEEL_DB_JSON_ITEM, big, strlen(big), &cbor, &clen));
    if (!h_failures()) free(cbor);
    CHECK(h_now() - t0 < 5.0);
    free(big);
    /* Wrong shapes. */
    CHECK_BAD("{\"s\": {\"SS\": \"a\"}}", "SS must be an array of strings");
    CHECK_BAD("{\"s\": {\"SS\": [1]}}", "SS members must be strings");
    CHECK_BAD("{\"s\": {\"NS\": [1]}}", "NS members must be strings");
    CHECK_BAD("{\"s\": {\"BS\": [\"%%%%\"]}}", "Invalid base64");
}

/* ---- malformed AttributeValues ---------------------------------------------------------- */

static void test_malformed(void) {
    const char *empty = "Supplied AttributeValue is empty, must contain exactly one of the "
                        "supported datatypes";
    CHECK_BAD("{\"a\": {}}", empty);
    CHECK_BAD("{\"a\": {\"X\": \"1\"}}", empty);
    CHECK_BAD("{\"a\": {\"s\": \"lowercase\"}}", empty);
    CHECK_BAD("{\"a\": {\"S\": \"a\", \"N\": \"1\"}}",
              "Supplied AttributeValue has more than one datatypes set, must contain exactly "
              "one of the supported datatypes");
    CHECK_BAD("{\"a\": {\"NULL\": false}}",
              "One or more parameter values were invalid: Null attribute value types must have "
              "the value of true");
    CHECK_BAD("{\"a\": {\"NULL\": \"yes\"}}", "Null attribute value types must have the value of true");
    CHECK_BAD("{\"a\": \"text\"}", "must be a JSON object");
    CHECK_BAD("{\"a\": null}", "must be a JSON object");
    CHECK_BAD("{\"a\": [1]}", "must be a JSON object");
    CHECK_BAD("{\"a\": {\"S\": 1}}", "S must be a JSON string");
    CHECK_BAD("{\"a\": {\"S\": null}}", "S must be a JSON string");
    CHECK_BAD("{\"a\": {\"BOOL\": \"true\"}}", "BOOL must be true or false");
    CHECK_BAD("{\"a\": {\"L\": {}}}", "L must be a JSON array");
    CHECK_BAD("{\"a\": {\"M\": []}}", "M must be a JSON object");
    CHECK_BAD("{\"a\": {\"L\": [{\"S\": \"ok\"}, {}]}}", empty);
    CHECK_BAD("{\"a\": {\"M\": {\"b\": {\"L\": [{\"S\": 5}]}}}}", "attribute a.b[0]");
    /* Long names are cut in the message, at every depth. */
    for (size_t len = 1; len < 260; len += 37) {
        char *in = repeat("{\"", 'n', len, "\": {\"M\": {\"");
        char *in2 = repeat(in, 'm', 300 - len, "\": {\"L\": [{\"N\": 5}]}}}}");
        CHECK_BAD(in2, "N must be a JSON string");
        CHECK(strlen(keel_errmsg()) < 400);
        free(in);
        free(in2);
    }
    /* The item itself. */
    CHECK_BAD("[]", "An item must be a JSON object");
    CHECK_BAD("\"x\"", "An item must be a JSON object");
    CHECK_BAD("42", "An item must be a JSON object");
    CHECK_BAD_KIND(KEEL_DB_JSON_VALUE, "[]", "must be a JSON object");
    /* Not JSON at all, or not only one JSON value. */
    CHECK_BAD("", "malformed JSON");
    CHECK_BAD("{", "malformed JSON");
    CHECK_BAD("{\"a\": {\"S\": \"x\"}} {}", "malformed JSON");
    CHECK_BAD("{\"a\": {\"S\": \"x\"},}", "malformed JSON");
    CHECK_BAD("{'a': {'S': 'x'}}", "malformed JSON");
    CHECK_BAD("{\"a\": {\"S\": \"\xff\"}}", "malformed JSON");          /* not UTF-8 */
    /* A name given twice would drop a value without a word: refused. */
    CHECK_BAD("{\"a\": {\"S\": \"x\"}, \"a\": {\"S\": \"y\"}}", "duplicate");
    CHECK_BAD("{\"a\": {\"M\": {\"b\": {\"S\": \"x\"}, \"b\": {\"S\": \"y\"}}}}", "duplicate");
    /* Arguments. */
    uint8_t *out;
    size_t n;
    CHECK_ST(keel_db_json_to_cbor(KEEL_DB_JSON_ITEM, NULL, 0, &out, &n), KEEL_EINVAL);
    CHECK_ST(keel_db_json_to_cbor(KEEL_DB_JSON_ITEM, "{}", 2, NULL, &n), KEEL_EINVAL);
    CHECK_ST(keel_db_json_to_cbor((keel_db_json_kind)99, "{}", 2, &out, &n), KEEL_EINVAL);
    char *s;
    CHECK_ST(keel_db_json_from_cbor(KEEL_DB_JSON_ITEM, NULL, 0, &s, NULL), KEEL_EINVAL);
    CHECK_ST(keel_db_json_from_cbor((keel_db_json_kind)99, "\xa0", 1, &s, NULL), KEEL_EINVAL);
}

/* On failure the internal API leaves the buffer as it was. */
static void test_buffer_restored(void) {
    kdb_buf b = {NULL, 0, 0, false};
    kdb_buf_put(&b, "prefix", 6);
    json_error_t err;
    json_t *j = json_loads("{\"a\": {\"S\": \"x\"}, \"b\": {\"L\": [{\"N\": \"1\"}, {\"N\": \"x\"}]}}",
                           0, &err);
    REQUIRE(j);
    CHECK_ST(kdb_json_to_item(j, &b), KEEL_EVALIDATION);
    CHECK_EQ(b.len, 6);
    CHECK_MEM(b.p, "prefix", 6);
    json_decref(j);
    /* And on success it appends. */
    j = json_loads("{\"S\": \"x\"}", 0, &err);
    REQUIRE(j);
    CHECK_OK(kdb_json_to_value(j, &b));
    CHECK_EQ(b.len, 6 + 2);
    CHECK_MEM(b.p + 6, "\x61x", 2);
    json_decref(j);
    kdb_buf_free(&b);
}

/* ---- vectors and padding ---------------------------------------------------------------- */

static void enc_vector(kdb_buf *b, const float *f, size_t n) {
    uint8_t raw[64];
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &f[i], 4);
        keel__st32(raw + 4 * i, bits);
    }
    kdb_enc_tag(b, KDB_TAG_F32LE);
    kdb_enc_bytes(b, raw, 4 * n);
}

static void test_vectors(void) {
    float f[] = {0.1f, 1.0f, -2.5f, 3.40282347e38f, 1.4e-45f, 0.0f, 16777217.0f, 1e-7f};
    kdb_buf b = {NULL, 0, 0, false};
    kdb_enc_map(&b, 2);
    kdb_enc_text(&b, "pk", 2);
    kdb_enc_text(&b, "a", 1);
    kdb_enc_text(&b, "v", 1);
    enc_vector(&b, f, sizeof f / sizeof f[0]);
    size_t size;
    CHECK_OK(kdb_item_check(b.p, b.len, &size));
    /* Each element is the shortest decimal that reads back as the same float32. */
    const char *want = "{\"pk\": {\"S\": \"a\"}, \"v\": {\"L\": [{\"N\": \"0.1\"}, {\"N\": \"1\"}, "
                       "{\"N\": \"-2.5\"}, {\"N\": \"340282350000000000000000000000000000000\"}, "
                       "{\"N\": \"0.000000000000000000000000000000000000000000001\"}, "
                       "{\"N\": \"0\"}, {\"N\": \"16777216\"}, {\"N\": \"0.0000001\"}]}}";
    CHECK_FROM(&b, want);

    /* The stored form (with a padding pair before the vector) reads the same. */
    kdb_buf stored = {NULL, 0, 0, false};
    CHECK_OK(kdb_item_store_form(b.p, b.len, &stored));
    CHECK(stored.len > b.len);
    CHECK_FROM(&stored, want);
    kdb_buf_free(&stored);

    /* JSON in never makes a vector: the L of N stays an L (of exact numbers). */
    char *out = roundtrip_at(__FILE__, __LINE__, KEEL_DB_JSON_ITEM, want);
    if (out) CHECK(strcmp(out, want) == 0);
    free(out);
    uint8_t *cbor;
    size_t clen;
    CHECK_OK(keel_db_json_to_cbor(KEEL_DB_JSON_ITEM, want, strlen(want), &cbor, &clen));
    if (!h_failures()) {
        kdb_val v;
        CHECK(kdb_item_attr(cbor, clen, "v", 1, &v));
        CHECK_EQ(v.type, KDB_L);
        free(cbor);
    }
    kdb_buf_free(&b);

    /* Every float32 bit pattern of a sample reads back exactly from its text. */
    rng r = rng_seed(11);
    for (int i = 0; i < 20000; i++) {
        uint32_t bits = (uint32_t)rng_next(&r);
        float x;
        memcpy(&x, &bits, 4);
        if (!isfinite(x)) continue;
        kdb_buf one = {NULL, 0, 0, false};
        kdb_enc_map(&one, 1);
        kdb_enc_text(&one, "v", 1);
        enc_vector(&one, &x, 1);
        keel_status st;
        char *js = from_cbor(KEEL_DB_JSON_ITEM, &one, &st);
        kdb_buf_free(&one);
        if (!js) {
            CHECKF(0, "bits %08x: %s", bits, keel_errmsg());
            break;
        }
        const char *q = strstr(js, "{\"N\": \"");
        CHECK(q != NULL);
        if (q) {
            float back = strtof(q + 7, NULL);
            CHECKF(back == x || (x == 0 && back == 0), "bits %08x: %s", bits, js);
        }
        free(js);
        if (h_failures() > 5) break;
    }
}

/* ---- ExpressionAttributeValues and Names ------------------------------------------------ */

static void test_values_and_names(void) {
    CHECK_RT_KIND(KEEL_DB_JSON_VALUES, "{\":a\": {\"S\": \"x\"}, \":n\": {\"N\": \"1.50\"}}",
                  "{\":a\": {\"S\": \"x\"}, \":n\": {\"N\": \"1.5\"}}");
    CHECK_BAD_KIND(KEEL_DB_JSON_VALUES, "{}", "ExpressionAttributeValues must not be empty");
    CHECK_BAD_KIND(KEEL_DB_JSON_VALUES, "{\"a\": {\"S\": \"x\"}}",
                   "ExpressionAttributeValues contains invalid key: Syntax error; key: \"a\"");
    CHECK_BAD_KIND(KEEL_DB_JSON_VALUES, "{\":\": {\"S\": \"x\"}}", "invalid key");
    CHECK_BAD_KIND(KEEL_DB_JSON_VALUES, "{\":v\": {\"SS\": []}}",
                   "ExpressionAttributeValues contains invalid value: One or more parameter "
                   "values were invalid: An string set  may not be empty for key :v");
    CHECK_BAD_KIND(KEEL_DB_JSON_VALUES, "[]", "must be a JSON object");
    char *longkey = repeat("{\":", 'k', 255, "\": {\"S\": \"x\"}}");
    CHECK_BAD_KIND(KEEL_DB_JSON_VALUES, longkey, "invalid key");
    free(longkey);
    longkey = repeat("{\":", 'k', 254, "\": {\"S\": \"x\"}}");
    CHECK_RT_KIND(KEEL_DB_JSON_VALUES, longkey, NULL);
    free(longkey);

    CHECK_RT_KIND(KEEL_DB_JSON_NAMES, "{\"#a\": \"attr\", \"#b\": \"caf\xc3\xa9\"}", NULL);
    CHECK_BAD_KIND(KEEL_DB_JSON_NAMES, "{}", "ExpressionAttributeNames must not be empty");
    CHECK_BAD_KIND(KEEL_DB_JSON_NAMES, "{\"a\": \"x\"}",
                   "ExpressionAttributeNames contains invalid key: Syntax error; key: \"a\"");
    CHECK_BAD_KIND(KEEL_DB_JSON_NAMES, "{\"#a\": 1}", "must be a string");
    CHECK_BAD_KIND(KEEL_DB_JSON_NAMES, "{\"#a\": \"\"}", "Empty attribute name");
    CHECK_BAD_KIND(KEEL_DB_JSON_NAMES, "{\"#a\": {\"S\": \"x\"}}", "must be a string");

    /* The maps are what kdb_subst_init takes. */
    uint8_t *names, *values;
    size_t nl, vl;
    const char *nj = "{\"#n\": \"name\"}", *vj = "{\":v\": {\"N\": \"5\"}}";
    REQUIRE_OK(keel_db_json_to_cbor(KEEL_DB_JSON_NAMES, nj, strlen(nj), &names, &nl));
    REQUIRE_OK(keel_db_json_to_cbor(KEEL_DB_JSON_VALUES, vj, strlen(vj), &values, &vl));
    kdb_subst s;
    CHECK_OK(kdb_subst_init(&s, names, nl, values, vl));
    CHECK_EQ(s.n_names, 1);
    CHECK_EQ(s.n_values, 1);
    free(names);
    free(values);
}

/* ---- damaged CBOR ----------------------------------------------------------------------- */

static void test_damaged_cbor(void) {
    const char *in = "{\"pk\": {\"S\": \"a\"}, \"n\": {\"N\": \"-123.456e-7\"}, "
                     "\"l\": {\"L\": [{\"M\": {\"x\": {\"BS\": [\"AAE=\"]}}}, {\"NS\": [\"1\", \"2\"]}]}, "
                     "\"b\": {\"B\": \"AAECAw==\"}, \"t\": {\"BOOL\": true}, \"z\": {\"NULL\": true}}";
    uint8_t *cbor;
    size_t clen;
    REQUIRE_OK(keel_db_json_to_cbor(KEEL_DB_JSON_ITEM, in, strlen(in), &cbor, &clen));
    /* Every truncation is an error, never a crash or a read past the end (ASan watches:
     * each prefix is copied to a buffer of exactly its size). */
    for (size_t n = 0; n < clen; n++) {
        uint8_t *cut = malloc(n ? n : 1);
        REQUIRE(cut);
        memcpy(cut, cbor, n);
        char *s = NULL;
        keel_status st = keel_db_json_from_cbor(KEEL_DB_JSON_ITEM, cut, n, &s, NULL);
        CHECKF(st == KEEL_EVALIDATION, "prefix of %zu bytes: %s", n, st_name(st));
        if (st == KEEL_OK) free(s);
        free(cut);
    }
    /* Bytes after the item. */
    uint8_t *more = malloc(clen + 1);
    REQUIRE(more);
    memcpy(more, cbor, clen);
    more[clen] = 0xf6;
    char *s;
    CHECK_ST(keel_db_json_from_cbor(KEEL_DB_JSON_ITEM, more, clen + 1, &s, NULL), KEEL_EVALIDATION);
    free(more);
    /* Every single-byte change: an error or a valid item, nothing else (ASan/UBSan). */
    for (size_t i = 0; i < clen; i++) {
        for (int bit = 0; bit < 8; bit++) {
            cbor[i] ^= (uint8_t)(1u << bit);
            s = NULL;
            keel_status st = keel_db_json_from_cbor(KEEL_DB_JSON_ITEM, cbor, clen, &s, NULL);
            CHECK(st == KEEL_OK || st == KEEL_EVALIDATION);
            if (st == KEEL_OK) free(s);
            cbor[i] ^= (uint8_t)(1u << bit);
        }
    }
    free(cbor);

    /* Not a map; a value of no DynamoDB type; invalid UTF-8; a name twice. */
    static const struct { const char *bytes; size_t n; } bad[] = {
        {"\x80", 1},                    /* an array, not an item */
        {"\xa1\x61s\xf7", 4},           /* undefined */
        {"\xa1\x61s\xd8\x63\x00", 6},   /* an unknown tag */
        {"\xa1\x61s\x61\xff", 5},       /* text that is not UTF-8 */
        {"\xa1\x61\xff\x61x", 5},       /* a name that is not UTF-8 */
        {"\xa2\x61s\xf6\x61s\xf6", 7},  /* "s" twice */
        {"\xa1\x61s\xd9\x01\x02\x80", 7},       /* an empty set */
        {"\xa1\x61s\xd9\x01\x02\x82\x61x\x01", 10}, /* a set of mixed types */
        {"\xbf\xff", 2},                /* indefinite length */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s = NULL;
        keel_status st = keel_db_json_from_cbor(KEEL_DB_JSON_ITEM, bad[i].bytes, bad[i].n, &s,
                                                NULL);
        CHECKF(st == KEEL_EVALIDATION, "case %zu: %s (%s)", i, st_name(st), st == KEEL_OK ? s : "");
        if (st == KEEL_OK) free(s);
    }
    /* Random garbage. */
    rng r = rng_seed(3);
    uint8_t g[64];
    for (int i = 0; i < 20000; i++) {
        size_t n = rng_below(&r, sizeof g) + 1;
        rng_fill(&r, g, n);
        g[0] = (uint8_t)(0xa0 | (g[0] & 7));
        s = NULL;
        keel_status st = keel_db_json_from_cbor(KEEL_DB_JSON_ITEM, g, n, &s, NULL);
        CHECK(st == KEEL_OK || st == KEEL_EVALIDATION);
        if (st == KEEL_OK) free(s);
    }
}

static const h_test tests[] = {
    H_TEST(test_base64_vectors),
    H_TEST(test_base64_strict),
    H_TEST(test_roundtrip_types),
    H_TEST(test_roundtrip_deep),
    H_TEST(test_numbers_exact),
    H_TEST(test_numbers_other_forms),
    H_TEST(test_sets),
    H_TEST(test_malformed),
    H_TEST(test_buffer_restored),
    H_TEST(test_vectors),
    H_TEST(test_values_and_names),
    H_TEST(test_damaged_cbor),
};

int main(int argc, char **argv) { return h_main(argc, argv, tests, H_COUNT(tests)); }
