/*
 * test_db_values.c: the Database face's value layer (src/db: number.c, cbor.c, item.c,
 * key.c) tested directly through src/db/db.h.
 *
 * Numbers: a parse/normalize table (DynamoDB's normalization cases, the 38-digit limit,
 * range edges), format, comparison, conversions, and the order-preserving key encoding
 * checked on thousands of random numbers (memcmp order == kdb_num_cmp order, decode of
 * encode is the identity, equal values spelled differently encode identically);
 * add/subtract against __int128 on small operands and by algebraic identities on large.
 * CBOR: encoder/decoder round trips, every truncation of valid values, indefinite lengths,
 * huge declared lengths, 10,000 levels of nesting. Items: valid/invalid tables with their
 * messages, DynamoDB sizes, vector padding for many sizes, equality and ordering. Keys:
 * S/B/N sort key order, partition contiguity, limits.
 */
#include "util.h"

#include "db/db.h"

#include <math.h>

/* ---- numbers ------------------------------------------------------------------------ */

static kdb_num num(const char *s) {
    kdb_num x;
    keel_status st = kdb_num_parse(s, strlen(s), &x);
    if (st != KEEL_OK) {
        h_fail(__FILE__, __LINE__, "num(\"%s\"): %s", s, keel_errmsg());
        memset(&x, 0, sizeof x);
    }
    return x;
}

static const char *fmt(const kdb_num *x) {
    static _Thread_local char bufs[8][KDB_NUM_STR_MAX];
    static _Thread_local unsigned next;
    char *b = bufs[next++ % 8];
    kdb_num_format(x, b, KDB_NUM_STR_MAX);
    return b;
}

static bool num_same(const kdb_num *a, const kdb_num *b) {
    return a->sign == b->sign && a->n == b->n && a->exp == b->exp &&
           memcmp(a->d, b->d, a->n) == 0;
}

static void test_num_parse(void) {
    static const struct { const char *in, *out; } ok[] = {
        { "007", "7" }, { "+3", "3" }, { "1.10", "1.1" }, { "1e3", "1000" },
        { "1e-3", "0.001" }, { "-0", "0" }, { "0e5", "0" }, { ".5", "0.5" }, { "5.", "5" },
        { "0", "0" }, { "-0.000", "0" }, { "00.0100", "0.01" }, { "1E+2", "100" },
        { "-12.5e-1", "-1.25" }, { "123456789012345678901234567890.12345678", 
          "123456789012345678901234567890.12345678" },
        { "1e125", "1" "0000000000" "0000000000" "0000000000" "0000000000" "0000000000"
                   "0000000000" "0000000000" "0000000000" "0000000000" "0000000000"
                   "0000000000" "0000000000" "00000" },
        { "1e-130", "0." "0000000000" "0000000000" "0000000000" "0000000000" "0000000000"
                    "0000000000" "0000000000" "0000000000" "0000000000" "0000000000"
                    "0000000000" "0000000000" "000000000" "1" },
        { "9.9999999999999999999999999999999999999E+125", NULL },
        { "-9.9999999999999999999999999999999999999E+125", NULL },
        { "10000000000000000000000000000000000000000000000000", "1" "0000000000" "0000000000"
          "0000000000" "0000000000" "000000000" },
        { "12345678901234567890123456789012345678", "12345678901234567890123456789012345678" },
        { "1234567890123456789012345678901234567800000", "1234567890123456789012345678901234567800000" },
        { "0.00000000000000000000000000000000000000000012345678901234567890123456789012345678",
          "0.00000000000000000000000000000000000000000012345678901234567890123456789012345678" },
        { "1e00000000000000000000000000000000000000000000000000000000000002", "100" },
        { "0e999999999999999999999", "0" },
    };
    for (size_t i = 0; i < H_COUNT(ok); i++) {
        kdb_num x;
        keel_status st = kdb_num_parse(ok[i].in, strlen(ok[i].in), &x);
        CHECKF(st == KEEL_OK, "%s: %s", ok[i].in, keel_errmsg());
        if (st != KEEL_OK) continue;
        CHECK_OK(kdb_num_check(&x));
        if (ok[i].out) CHECKF(strcmp(fmt(&x), ok[i].out) == 0, "%s -> %s", ok[i].in, fmt(&x));
        kdb_num y = num(fmt(&x));
        CHECKF(num_same(&x, &y), "reparse of %s", fmt(&x));
    }
    static const struct { const char *in, *msg; } bad[] = {
        { "", "numeric" }, { "abc", "numeric" }, { "-", "numeric" }, { ".", "numeric" },
        { "1e", "numeric" }, { "1e+", "numeric" }, { "e5", "numeric" }, { "1.2.3", "numeric" },
        { " 1", "numeric" }, { "1 ", "numeric" }, { "NaN", "numeric" }, { "Infinity", "numeric" },
        { "0x10", "numeric" }, { "++1", "numeric" }, { "1e5.5", "numeric" },
        { "123456789012345678901234567890123456789", "38 significant" },
        { "1.23456789012345678901234567890123456789", "38 significant" },
        { "1000000000000000000000000000000000000001", "38 significant" },
        { "1e126", "overflow" }, { "-1e126", "overflow" }, { "1e-131", "underflow" },
        { "9.99e-131", "underflow" }, { "-1e-131", "underflow" }, { "1e99999999999999", "overflow" },
        { "1e-99999999999999", "underflow" },
    };
    for (size_t i = 0; i < H_COUNT(bad); i++) {
        kdb_num x;
        keel_status st = kdb_num_parse(bad[i].in, strlen(bad[i].in), &x);
        CHECKF(st == KEEL_EVALIDATION, "\"%s\" accepted as %s", bad[i].in, fmt(&x));
        CHECKF(st == KEEL_OK || strstr(keel_errmsg(), bad[i].msg), "\"%s\": %s", bad[i].in,
               keel_errmsg());
    }
    /* Not NUL-terminated: the length rules. */
    kdb_num x;
    CHECK_OK(kdb_num_parse("123", 2, &x));
    CHECK(strcmp(fmt(&x), "12") == 0);
    CHECK_ST(kdb_num_parse(NULL, 0, &x), KEEL_EVALIDATION);
}

static void test_num_convert(void) {
    kdb_num x;
    kdb_num_from_u64(0, &x);
    CHECK(x.sign == 0 && strcmp(fmt(&x), "0") == 0);
    kdb_num_from_u64(UINT64_MAX, &x);
    CHECK(strcmp(fmt(&x), "18446744073709551615") == 0);
    kdb_num_from_u64(1000, &x);
    CHECK(x.n == 1 && x.exp == 4);
    kdb_num_from_i64(INT64_MIN, &x);
    CHECK(strcmp(fmt(&x), "-9223372036854775808") == 0);
    kdb_num_from_i64(-42, &x);
    CHECK(strcmp(fmt(&x), "-42") == 0);
    kdb_num_from_neg_u64(0, &x);
    CHECK(strcmp(fmt(&x), "-1") == 0);
    kdb_num_from_neg_u64(9, &x);
    CHECK(strcmp(fmt(&x), "-10") == 0);
    kdb_num_from_neg_u64(UINT64_MAX, &x);
    CHECK(strcmp(fmt(&x), "-18446744073709551616") == 0);
    int64_t v;
    CHECK(kdb_num_to_i64(&x, &v) == false);
    kdb_num_from_i64(INT64_MIN, &x);
    CHECK(kdb_num_to_i64(&x, &v) && v == INT64_MIN);
    kdb_num_from_i64(INT64_MAX, &x);
    CHECK(kdb_num_to_i64(&x, &v) && v == INT64_MAX);
    x = num("9223372036854775808");
    CHECK(!kdb_num_to_i64(&x, &v));
    x = num("1.5");
    CHECK(!kdb_num_to_i64(&x, &v));
    x = num("1e18");
    CHECK(kdb_num_to_i64(&x, &v) && v == 1000000000000000000LL);
    x = num("0");
    CHECK(kdb_num_to_i64(&x, &v) && v == 0);

    uint8_t mag[60];
    memset(mag, 0xFF, 16);
    /* 2^128 - 1 = 340282366920938463463374607431768211455: 39 significant digits */
    CHECK_ST(kdb_num_from_bignum(false, mag, 16, &x), KEEL_EVALIDATION);
    mag[15] = 0; /* 2^128 - 256 = ...211200: 37 significant digits */
    CHECK_OK(kdb_num_from_bignum(false, mag, 16, &x));
    CHECK(strcmp(fmt(&x), "340282366920938463463374607431768211200") == 0);
    memset(mag, 0, sizeof mag);
    mag[0] = 0x01; /* 2^64 */
    CHECK_OK(kdb_num_from_bignum(false, mag, 9, &x));
    CHECK(strcmp(fmt(&x), "18446744073709551616") == 0);
    CHECK_OK(kdb_num_from_bignum(true, mag, 9, &x)); /* -1 - 2^64 */
    CHECK(strcmp(fmt(&x), "-18446744073709551617") == 0);
    CHECK_OK(kdb_num_from_bignum(false, mag, 0, &x));
    CHECK(x.sign == 0);
    CHECK_OK(kdb_num_from_bignum(true, mag, 0, &x)); /* -1 - 0 */
    CHECK(strcmp(fmt(&x), "-1") == 0);
    /* 10^50 = 1 significant digit but 21 bytes */
    {
        uint8_t L[64] = { 0 };
        size_t k = 1;
        L[0] = 1; /* little-endian base 256 */
        for (int i = 0; i < 50; i++) {
            unsigned c = 0;
            for (size_t j = 0; j < k; j++) {
                unsigned t = L[j] * 10u + c;
                L[j] = (uint8_t)t;
                c = t >> 8;
            }
            if (c) L[k++] = (uint8_t)c;
        }
        uint8_t B[64];
        for (size_t j = 0; j < k; j++) B[j] = L[k - 1 - j];
        CHECK_OK(kdb_num_from_bignum(false, B, k, &x));
        CHECK(x.n == 1 && x.exp == 51);
    }
    memset(mag, 0xFF, 60);
    CHECK_ST(kdb_num_from_bignum(false, mag, 60, &x), KEEL_EVALIDATION);
    /* leading zero bytes are skipped */
    uint8_t lead[70] = { 0 };
    lead[69] = 7;
    CHECK_OK(kdb_num_from_bignum(false, lead, 70, &x));
    CHECK(strcmp(fmt(&x), "7") == 0);

    static const struct { double d; const char *s; } dbl[] = {
        { 0.1, "0.1" }, { 1.0, "1" }, { -2.5, "-2.5" }, { 1.0 / 3, "0.3333333333333333" },
        { 9007199254740993.0, "9007199254740992" }, { 1e22, "10000000000000000000000" },
        { 123.456, "123.456" }, { 5e-100, NULL }, { 0.30000000000000004, "0.30000000000000004" },
        { -0.0, "0" }, { 1e125, NULL }, { 1.7976931348623157e125, NULL },
    };
    for (size_t i = 0; i < H_COUNT(dbl); i++) {
        CHECKF(kdb_num_from_double(dbl[i].d, &x) == KEEL_OK, "%.17g: %s", dbl[i].d, keel_errmsg());
        if (dbl[i].s) CHECKF(strcmp(fmt(&x), dbl[i].s) == 0, "%.17g -> %s", dbl[i].d, fmt(&x));
        CHECKF(strtod(fmt(&x), NULL) == dbl[i].d, "%.17g -> %s", dbl[i].d, fmt(&x));
    }
    CHECK_ST(kdb_num_from_double(NAN, &x), KEEL_EVALIDATION);
    CHECK_ST(kdb_num_from_double(INFINITY, &x), KEEL_EVALIDATION);
    CHECK_ST(kdb_num_from_double(-INFINITY, &x), KEEL_EVALIDATION);
    CHECK_ST(kdb_num_from_double(1e300, &x), KEEL_EVALIDATION);
    CHECK_ST(kdb_num_from_double(5e-324, &x), KEEL_EVALIDATION);
    rng r = rng_seed(7);
    for (int i = 0; i < 20000; i++) {
        uint64_t bits = rng_next(&r);
        double d;
        memcpy(&d, &bits, sizeof d);
        if (!isfinite(d)) continue;
        keel_status st = kdb_num_from_double(d, &x);
        if (fabs(d) >= 1e-130 && fabs(d) < 9.99e125) {
            CHECKF(st == KEEL_OK, "%.17g: %s", d, keel_errmsg());
            CHECKF(st != KEEL_OK || strtod(fmt(&x), NULL) == d, "%.17g -> %s", d, fmt(&x));
            CHECK(x.n <= 17);
        } else if (d != 0 && (fabs(d) < 1e-131 || fabs(d) > 1e126)) {
            CHECK_ST(st, KEEL_EVALIDATION);
        }
        if (h_failures() > 10) break;
    }
    /* scale10 */
    x = num("1.5");
    CHECK_OK(kdb_num_scale10(&x, 3));
    CHECK(strcmp(fmt(&x), "1500") == 0);
    CHECK_OK(kdb_num_scale10(&x, -5));
    CHECK(strcmp(fmt(&x), "0.015") == 0);
    CHECK_ST(kdb_num_scale10(&x, 200), KEEL_EVALIDATION);
    CHECK_ST(kdb_num_scale10(&x, INT64_MIN), KEEL_EVALIDATION);
    x = num("0");
    CHECK_OK(kdb_num_scale10(&x, INT64_MAX));
    x = num("1");
    x.exp = 127;
    CHECK_ST(kdb_num_check(&x), KEEL_EVALIDATION);
}

/* A random valid number; some tiny or huge, some with few digits, some negative. */
static kdb_num rand_num(rng *r) {
    kdb_num x;
    memset(&x, 0, sizeof x);
    uint64_t k = rng_below(r, 100);
    if (k < 3) return x;
    x.sign = (int8_t)(rng_below(r, 2) ? 1 : -1);
    x.n = (uint8_t)(k < 40 ? 1 + rng_below(r, 3) : 1 + rng_below(r, KDB_NUM_DIGITS));
    if (k < 20) x.exp = (int16_t)(KDB_NUM_EXP_MIN + (int)rng_below(r, 4));
    else if (k < 30) x.exp = (int16_t)(KDB_NUM_EXP_MAX - (int)rng_below(r, 4));
    else if (k < 70) x.exp = (int16_t)((int)rng_below(r, 9) - 4);
    else x.exp = (int16_t)(KDB_NUM_EXP_MIN + (int)rng_below(r, KDB_NUM_EXP_MAX - KDB_NUM_EXP_MIN + 1));
    for (int i = 0; i < x.n; i++) x.d[i] = (uint8_t)rng_below(r, rng_below(r, 2) ? 10 : 2);
    if (x.d[0] == 0) x.d[0] = 1;
    if (x.d[x.n - 1] == 0) x.d[x.n - 1] = 9;
    return x;
}

static int sgn(int v) { return (v > 0) - (v < 0); }

static int key_cmp(const kdb_num *a, const kdb_num *b) {
    uint8_t ka[KDB_NUM_KEY_MAX + 4], kb[KDB_NUM_KEY_MAX + 4];
    size_t la = kdb_num_key_encode(a, ka), lb = kdb_num_key_encode(b, kb);
    int c = memcmp(ka, kb, la < lb ? la : lb);
    if (c == 0) c = la < lb ? -1 : la > lb;
    return sgn(c);
}

static int cmp_nums(const void *a, const void *b) { return kdb_num_cmp(a, b); }

static void test_num_key_order(void) {
    rng r = rng_seed(11);
    enum { N = 4000 };
    kdb_num *v = malloc(N * sizeof *v);
    REQUIRE(v);
    for (int i = 0; i < N; i++) {
        v[i] = rand_num(&r);
        REQUIRE_OK(kdb_num_check(&v[i]));
        uint8_t k[KDB_NUM_KEY_MAX + 1];
        size_t len = kdb_num_key_encode(&v[i], k);
        CHECK(len >= 1 && len <= KDB_NUM_KEY_MAX);
        kdb_num back;
        size_t used = 0;
        CHECK(kdb_num_key_decode(k, len, &back, &used) && used == len && num_same(&back, &v[i]));
        /* followed by more bytes: still self-delimiting */
        k[len] = 0x55;
        CHECK(kdb_num_key_decode(k, len + 1, &back, &used) && used == len);
        /* truncated: malformed */
        for (size_t t = 0; t < len; t++) CHECK(!kdb_num_key_decode(k, t, &back, &used));
        /* text round trip */
        kdb_num y = num(fmt(&v[i]));
        CHECKF(num_same(&y, &v[i]), "%s", fmt(&v[i]));
        if (h_failures() > 10) break;
    }
    qsort(v, N, sizeof *v, cmp_nums);
    for (int i = 0; i + 1 < N; i++)
        CHECKF(key_cmp(&v[i], &v[i + 1]) == sgn(kdb_num_cmp(&v[i], &v[i + 1])), "%s vs %s",
               fmt(&v[i]), fmt(&v[i + 1]));
    for (int i = 0; i < 300000 && h_failures() < 10; i++) {
        const kdb_num *a = &v[rng_below(&r, N)], *b = &v[rng_below(&r, N)];
        CHECKF(key_cmp(a, b) == sgn(kdb_num_cmp(a, b)), "%s vs %s", fmt(a), fmt(b));
    }
    free(v);
    /* hand-picked neighbours */
    static const char *const asc[] = {
        "-9.9999999999999999999999999999999999999e125", "-1e125", "-100", "-10", "-9.5", "-9",
        "-1.01", "-1", "-0.99", "-0.123", "-0.12", "-1e-130", "0", "1e-130", "1.1e-130",
        "0.12", "0.123", "0.99", "1", "1.01", "9", "9.5", "10", "100", "1e125",
        "9.9999999999999999999999999999999999999e125",
    };
    for (size_t i = 0; i + 1 < H_COUNT(asc); i++) {
        kdb_num a = num(asc[i]), b = num(asc[i + 1]);
        CHECKF(kdb_num_cmp(&a, &b) < 0 && key_cmp(&a, &b) < 0, "%s < %s", asc[i], asc[i + 1]);
    }
    /* equal values in different spellings encode identically */
    static const char *const same[][3] = {
        { "1e3", "1000", "1000.000" }, { "0.5", ".5", "5e-1" }, { "-0", "0e9", "0.000" },
        { "-12.50", "-1.25e1", "-0012.5" },
    };
    for (size_t i = 0; i < H_COUNT(same); i++) {
        uint8_t k0[KDB_NUM_KEY_MAX], k1[KDB_NUM_KEY_MAX];
        kdb_num a = num(same[i][0]);
        size_t l0 = kdb_num_key_encode(&a, k0);
        for (int j = 1; j < 3; j++) {
            kdb_num b = num(same[i][j]);
            size_t l1 = kdb_num_key_encode(&b, k1);
            CHECK(l0 == l1 && memcmp(k0, k1, l0) == 0 && kdb_num_cmp(&a, &b) == 0);
        }
    }
    /* malformed encodings */
    static const struct { uint8_t b[6]; size_t n; } badk[] = {
        { { 0x00 }, 1 }, { { 0xC0 }, 1 }, { { 0xC0, 0x80, 0x00 }, 3 },       /* no digits */
        { { 0xC0, 0x80, 0x05, 0x00 }, 4 },                                    /* leading 0 */
        { { 0xC0, 0x80, 0x0B, 0x01, 0x00 }, 5 },                              /* trailing 00 */
        { { 0xC0, 0x80, 0x65, 0x00 }, 4 },                                    /* pair 100 */
        { { 0x40, 0x80, 0x64, 0xFF }, 4 },                                    /* leading 0 */
        { { 0x40, 0x80, 0x00, 0xFF }, 4 },
    };
    for (size_t i = 0; i < H_COUNT(badk); i++) {
        kdb_num x;
        size_t used;
        CHECKF(!kdb_num_key_decode(badk[i].b, badk[i].n, &x, &used), "bad key %zu", i);
    }
    /* 20 pairs (40 digits) is too long */
    uint8_t longk[24] = { 0xC0, 0x80 };
    for (int i = 2; i < 22; i++) longk[i] = 12;
    longk[22] = 0;
    kdb_num x;
    size_t used;
    CHECK(!kdb_num_key_decode(longk, 23, &x, &used));
    longk[21] = 0;
    CHECK(kdb_num_key_decode(longk, 22, &x, &used) && x.n == 38 && used == 22);
}

/* Exact __int128 reference: small operands m * 10^e with |m| < 10^17, e in -8..8. */
static void small_num(rng *r, __int128 *m_out, int *e_out, kdb_num *x) {
    int64_t m = (int64_t)rng_below(r, rng_below(r, 2) ? 100000000000000000ULL : 1000);
    if (rng_below(r, 2)) m = -m;
    int e = (int)rng_below(r, 17) - 8;
    char buf[64];
    snprintf(buf, sizeof buf, "%llde%d", (long long)m, e);
    *x = num(buf);
    *m_out = m;
    *e_out = e;
}

static void fmt128(__int128 v, int e, char *buf) {
    char tmp[64];
    int k = 0;
    bool neg = v < 0;
    unsigned __int128 u = neg ? (unsigned __int128)0 - (unsigned __int128)v : (unsigned __int128)v;
    do {
        tmp[k++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u);
    int j = 0;
    if (neg) buf[j++] = '-';
    while (k) buf[j++] = tmp[--k];
    sprintf(buf + j, "e%d", e);
}

static void test_num_arith(void) {
    rng r = rng_seed(3);
    for (int i = 0; i < 50000 && h_failures() < 10; i++) {
        __int128 ma, mb;
        int ea, eb;
        kdb_num a, b, s, d;
        small_num(&r, &ma, &ea, &a);
        small_num(&r, &mb, &eb, &b);
        int e = ea < eb ? ea : eb;
        __int128 A = ma, B = mb;
        for (int k = e; k < ea; k++) A *= 10;
        for (int k = e; k < eb; k++) B *= 10;
        char ref[80];
        fmt128(A + B, e, ref);
        kdb_num want;
        keel_status wst = kdb_num_parse(ref, strlen(ref), &want);
        keel_status st = kdb_num_add(&a, &b, &s);
        CHECKF(st == wst, "%s + %s: %d vs %d", fmt(&a), fmt(&b), st, wst);
        if (st == KEEL_OK && wst == KEEL_OK)
            CHECKF(num_same(&s, &want), "%s + %s = %s, want %s", fmt(&a), fmt(&b), fmt(&s), ref);
        fmt128(A - B, e, ref);
        wst = kdb_num_parse(ref, strlen(ref), &want);
        st = kdb_num_sub(&a, &b, &d);
        CHECKF(st == wst, "%s - %s", fmt(&a), fmt(&b));
        if (st == KEEL_OK && wst == KEEL_OK)
            CHECKF(num_same(&d, &want), "%s - %s = %s, want %s", fmt(&a), fmt(&b), fmt(&d), ref);
    }
    /* large operands: identities */
    for (int i = 0; i < 50000 && h_failures() < 10; i++) {
        kdb_num a = rand_num(&r), b = rand_num(&r), s, t, z;
        CHECK_OK(kdb_num_sub(&a, &a, &z));
        CHECK(z.sign == 0);
        keel_status st = kdb_num_add(&a, &b, &s);
        kdb_num s2;
        keel_status st2 = kdb_num_add(&b, &a, &s2);
        CHECK(st == st2);
        if (st != KEEL_OK) {
            CHECK_ST(st, KEEL_EVALIDATION);
            continue;
        }
        CHECK(num_same(&s, &s2));
        if (kdb_num_sub(&s, &b, &t) == KEEL_OK)
            CHECKF(num_same(&t, &a), "(%s + %s) - b = %s", fmt(&a), fmt(&b), fmt(&t));
        st = kdb_num_sub(&a, &b, &t); /* may need too many digits even when a + b does not */
        CHECK(st == KEEL_OK || st == KEEL_EVALIDATION);
        CHECK(st != KEEL_OK || sgn(t.sign) == sgn(kdb_num_cmp(&a, &b)));
    }
    static const struct { const char *a, *b, *sum, *err; } tab[] = {
        { "1e50", "1", NULL, "38 significant" },
        { "9e125", "9e125", NULL, "overflow" },
        { "-9e125", "-9e125", NULL, "overflow" },
        { "9.9999999999999999999999999999999999999e125", "1e88", NULL, "overflow" },
        { "1.5e-130", "-1.4e-130", NULL, "underflow" },
        { "0.1", "0.2", "0.3", NULL },
        { "99999999999999999999999999999999999999", "1", "100000000000000000000000000000000000000", NULL },
        { "-5", "5", "0", NULL },
        { "1e125", "-1e125", "0", NULL },
        { "12345678901234567890123456789012345678", "0.1", NULL, "38 significant" },
        { "1e-130", "1e-130", NULL, NULL },
    };
    for (size_t i = 0; i < H_COUNT(tab); i++) {
        kdb_num a = num(tab[i].a), b = num(tab[i].b), s;
        keel_status st = kdb_num_add(&a, &b, &s);
        if (tab[i].err) {
            CHECKF(st == KEEL_EVALIDATION && strstr(keel_errmsg(), tab[i].err), "%s + %s: %s",
                   tab[i].a, tab[i].b, keel_errmsg());
        } else {
            CHECKF(st == KEEL_OK, "%s + %s: %s", tab[i].a, tab[i].b, keel_errmsg());
            if (tab[i].sum) CHECKF(strcmp(fmt(&s), tab[i].sum) == 0, "%s", fmt(&s));
        }
    }
}

static const h_test tests[] = {
    H_TEST(test_num_parse),
    H_TEST(test_num_convert),
    H_TEST(test_num_key_order),
    H_TEST(test_num_arith),
};

int main(int argc, char **argv) { return h_main(argc, argv, tests, H_COUNT(tests)); }
