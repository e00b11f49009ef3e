/*
 * test_db_values.c: numbers and CBOR of the Database face (src/db: number.c, cbor.c),
 * tested directly through src/db/db.h.
 *
 * Numbers: a parse/normalize table (DynamoDB's normalization cases, the 38-digit limit,
 * range edges), format, comparison, conversions, and the order-preserving key encoding
 * checked on thousands of random numbers (memcmp order == kdb_num_cmp order, decode of
 * encode is the identity, equal values spelled differently encode identically);
 * add/subtract against __int128 on small operands and by algebraic identities on large.
 * CBOR: encoder/decoder round trips, every truncation, indefinite lengths, huge declared
 * lengths, 10,000 levels of nesting, and the direct head decoder against libcbor's on
 * every initial byte, every half float and random bytes. Items and keys: test_db_items.c.
 */
#include "db_util.h"

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
            /* the reference: the first of %.1g .. %.17g that round-trips (Python's repr) */
            char ref[40];
            for (int prec = 1; prec <= 17; prec++) {
                snprintf(ref, sizeof ref, "%.*g", prec, d);
                if (strtod(ref, NULL) == d) break;
            }
            kdb_num y = num(ref);
            CHECKF(num_same(&x, &y), "%.17g -> %s, want %s", d, fmt(&x), ref);
        } else if (d != 0 && (fabs(d) < 1e-131 || fabs(d) > 1e126)) {
            CHECK_ST(st, KEEL_EVALIDATION);
        }
        if (h_failures() > 10) break;
    }
    /* Short decimals (number.c's m / 10^k path) and their neighbours one ulp away (which
     * need 16 or 17 digits), against the same reference. */
    for (int i = 0; i < 200000 && h_failures() < 10; i++) {
        uint64_t m = rng_next(&r) % (i % 3 ? 1000000ull : 1000000000000000ull);
        int k = (int)(rng_next(&r) % 22);
        char txt[64];
        snprintf(txt, sizeof txt, "%s%llue-%d", i % 2 ? "-" : "", (unsigned long long)m, k);
        double d = strtod(txt, NULL);
        if (i % 5 == 0) d = nextafter(d, i % 10 ? 1e300 : -1e300);
        if (d == 0 || !isfinite(d)) continue;
        CHECKF(kdb_num_from_double(d, &x) == KEEL_OK, "%.17g: %s", d, keel_errmsg());
        char ref[40];
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(ref, sizeof ref, "%.*g", prec, d);
            if (strtod(ref, NULL) == d) break;
        }
        kdb_num y = num(ref);
        CHECKF(num_same(&x, &y), "%.17g -> %s, want %s", d, fmt(&x), ref);
    }
    /* doubles written from short decimals come back as those decimals */
    for (int i = 0; i < 20000 && h_failures() < 10; i++) {
        char dec[64];
        int k = (int)rng_below(&r, 15); /* 1 + k <= 15 significant digits */
        uint64_t m = 1 + rng_below(&r, 999999999999999ULL);
        char digits[32];
        snprintf(digits, sizeof digits, "%015llu", (unsigned long long)m);
        digits[k] = 0;
        snprintf(dec, sizeof dec, "%s%c.%se%d", rng_below(&r, 2) ? "-" : "", '1' + (int)rng_below(&r, 9),
                 digits, (int)rng_below(&r, 500) - 250);
        double d = strtod(dec, NULL);
        if (!(fabs(d) >= 1e-130 && fabs(d) < 9.99e125)) continue;
        kdb_num want = num(dec), got;
        CHECK_OK(kdb_num_from_double(d, &got));
        /* the shortest form may be shorter than what we wrote (trailing zeros), never longer */
        CHECKF(num_same(&got, &want) || got.n < want.n, "%s -> %s", dec, fmt(&got));
        CHECKF(strtod(fmt(&got), NULL) == d, "%s -> %s", dec, fmt(&got));
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

/* ---- CBOR ---------------------------------------------------------------------------- */

static void test_cbor_heads(void) {
    kdb_buf b = { 0 };
    static const uint64_t uv[] = { 0, 1, 23, 24, 255, 256, 65535, 65536, 0xFFFFFFFFull,
                                   0x100000000ull, UINT64_MAX };
    for (size_t i = 0; i < H_COUNT(uv); i++) {
        for (int kind = 0; kind < 2; kind++) {
            b.len = 0;
            if (kind) kdb_enc_negint(&b, uv[i]);
            else kdb_enc_uint(&b, uv[i]);
            kdb_head h;
            REQUIRE(!b.failed && kdb_cbor_head(b.p, b.len, &h));
            CHECK(h.kind == (kind ? KDB_C_NEGINT : KDB_C_UINT) && h.v.u == uv[i] &&
                  h.head_len == b.len);
            for (size_t t = 0; t < b.len; t++) CHECK(!kdb_cbor_head(b.p, t, &h));
        }
    }
    b.len = 0;
    kdb_enc_i64(&b, INT64_MIN);
    kdb_head h;
    CHECK(kdb_cbor_head(b.p, b.len, &h) && h.kind == KDB_C_NEGINT && h.v.u == (uint64_t)INT64_MAX);
    static const size_t sizes[] = { 0, 1, 23, 24, 255, 256, 65535, 65536, 70000 };
    uint8_t *big = calloc(1, 70000);
    REQUIRE(big);
    for (size_t i = 0; i < H_COUNT(sizes); i++) {
        for (int kind = 0; kind < 2; kind++) {
            b.len = 0;
            if (kind) kdb_enc_text(&b, (const char *)big, sizes[i]);
            else kdb_enc_bytes(&b, big, sizes[i]);
            REQUIRE(kdb_cbor_head(b.p, b.len, &h));
            CHECK(h.kind == (kind ? KDB_C_TEXT : KDB_C_BYTES) && h.size == sizes[i] &&
                  h.head_len == b.len && h.data == b.p + b.len - sizes[i]);
            CHECK(!kdb_cbor_head(b.p, b.len - 1, &h) || b.len == 0);
            CHECK(kdb_cbor_skip(b.p, b.len, 0) == b.len);
        }
    }
    free(big);
    b.len = 0;
    kdb_enc_double(&b, 2.5);
    CHECK(kdb_cbor_head(b.p, b.len, &h) && h.kind == KDB_C_FLOAT && h.v.f == 2.5 && h.head_len == 9);
    b.len = 0;
    kdb_enc_bool(&b, true);
    kdb_enc_bool(&b, false);
    kdb_enc_null(&b);
    kdb_enc_tag(&b, 258);
    kdb_enc_array(&b, 1000);
    kdb_enc_map(&b, 5);
    size_t at = 0;
    static const kdb_cbor_kind kinds[] = { KDB_C_TRUE, KDB_C_FALSE, KDB_C_NULL, KDB_C_TAG,
                                           KDB_C_ARRAY, KDB_C_MAP };
    for (size_t i = 0; i < H_COUNT(kinds); i++) {
        REQUIRE(kdb_cbor_head(b.p + at, b.len - at, &h));
        CHECK(h.kind == kinds[i]);
        if (kinds[i] == KDB_C_TAG) CHECK(h.v.u == 258);
        if (kinds[i] == KDB_C_ARRAY) CHECK(h.v.u == 1000);
        at += h.head_len;
    }
    CHECK(at == b.len);
    kdb_buf_free(&b);
    /* half and single floats are widened */
    static const uint8_t half[] = { 0xF9, 0x3E, 0x00 }, single[] = { 0xFA, 0x3F, 0xC0, 0, 0 };
    CHECK(kdb_cbor_head(half, 3, &h) && h.kind == KDB_C_FLOAT && h.v.f == 1.5);
    CHECK(kdb_cbor_head(single, 5, &h) && h.kind == KDB_C_FLOAT && h.v.f == 1.5);
    /* refused: indefinite lengths, break, reserved and unassigned simple values */
    static const uint8_t refused[][9] = {
        { 0x5F }, { 0x7F }, { 0x9F }, { 0xBF }, { 0xFF }, { 0x1C }, { 0x1F }, { 0x3F },
        { 0xDF }, { 0xDC }, { 0xE0 }, { 0xF0 }, { 0xF8, 0x20 }, { 0xF8, 0x10 }, { 0xFC },
        { 0x5B, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF },
        { 0x7B, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF },
        { 0x59, 0x01, 0x00 },
    };
    for (size_t i = 0; i < H_COUNT(refused); i++)
        CHECKF(!kdb_cbor_head(refused[i], 9, &h), "refused[%zu] 0x%02x accepted as kind %d",
               i, refused[i][0], (int)h.kind);
    CHECK(!kdb_cbor_head(NULL, 0, &h));
    static const uint8_t undef[] = { 0xF7 };
    CHECK(kdb_cbor_head(undef, 1, &h) && h.kind == KDB_C_UNDEFINED);
    /* huge declared counts fail fast */
    static const uint8_t hugearr[] = { 0x9B, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0 };
    static const uint8_t hugemap[] = { 0xBB, 0x80, 0, 0, 0, 0, 0, 0, 0, 0 };
    CHECK(kdb_cbor_skip(hugearr, sizeof hugearr, 10) == 0);
    CHECK(kdb_cbor_skip(hugemap, sizeof hugemap, 10) == 0);
}

static void test_cbor_nesting(void) {
    enum { D = 10000 };
    uint8_t *p = malloc(2 * D + 2);
    REQUIRE(p);
    for (int i = 0; i < D; i++) p[i] = 0x81; /* [[[[...0...]]]] */
    p[D] = 0x00;
    CHECK(kdb_cbor_skip(p, D + 1, 33) == 0);
    CHECK(kdb_cbor_skip(p, D + 1, D) == D + 1);
    CHECK(kdb_cbor_skip(p, D + 1, D - 1) == 0);
    CHECK(kdb_cbor_skip(p, D, D) == 0);
    kdb_val v;
    CHECK(!kdb_val_decode(p, D + 1, &v));
    /* an item whose attribute nests 10,000 levels */
    p[0] = 0xA1;
    p[1] = 0x61;
    p[2] = 'a';
    CHECK_ST(kdb_item_check(p, D + 1, NULL), KEEL_EVALIDATION);
    CHECK(strstr(keel_errmsg(), "nested deeper than 32"));
    /* 10,000 maps */
    for (int i = 0; i < D; i++) {
        p[2 * i] = 0xA1;
        p[2 * i + 1] = 0x60 + 0; /* key "" */
    }
    p[2 * D] = 0x00;
    CHECK(kdb_cbor_skip(p, 2 * D + 1, 100) == 0);
    CHECK(kdb_cbor_skip(p, 2 * D + 1, D) == 2 * D + 1);
    CHECK_ST(kdb_item_check(p, 2 * D + 1, NULL), KEEL_EVALIDATION);
    /* 10,000 tags around one value: not nesting */
    for (int i = 0; i < D; i++) p[i] = 0xC5; /* libcbor 0.8 refuses tags 6..20 */
    p[D] = 0x01;
    CHECK(kdb_cbor_skip(p, D + 1, 0) == D + 1);
    CHECK(!kdb_val_decode(p, D + 1, &v));
    free(p);
}

static void test_cbor_numbers(void) {
    static const struct { const char *n, *hex; } tab[] = {
        { "0", "00" }, { "1000", "1903e8" }, { "-1", "20" }, { "-1000", "3903e7" },
        { "18446744073709551615", "1bffffffffffffffff" },
        { "-18446744073709551616", "3bffffffffffffffff" },
        { "18446744073709551616", "c48200c249010000000000000000" },
        { "1.5", "c482200f" }, { "-1.5", "c482202e" }, { "1e30", "c482181e01" },
        { "0.001", "c4822201" },
    };
    kdb_buf b = { 0 };
    for (size_t i = 0; i < H_COUNT(tab); i++) {
        b.len = 0;
        kdb_num x = num(tab[i].n);
        kdb_enc_num(&b, &x);
        char hex[200];
        for (size_t j = 0; j < b.len; j++) sprintf(hex + 2 * j, "%02x", b.p[j]);
        hex[2 * b.len] = 0;
        CHECKF(strcmp(hex, tab[i].hex) == 0, "%s -> %s, want %s", tab[i].n, hex, tab[i].hex);
    }
    rng r = rng_seed(5);
    for (int i = 0; i < 20000 && h_failures() < 10; i++) {
        kdb_num x = rand_num(&r), y;
        b.len = 0;
        kdb_enc_num(&b, &x);
        kdb_val v;
        REQUIRE(kdb_val_decode(b.p, b.len, &v));
        CHECK(v.type == KDB_N && v.len == b.len);
        CHECKF(kdb_val_num(&v, &y) == KEEL_OK && num_same(&x, &y), "%s: %s", fmt(&x), keel_errmsg());
        CHECK(kdb_cbor_skip(b.p, b.len, 1) == b.len);
    }
    kdb_buf_free(&b);
    /* decimal fractions and bignums from elsewhere */
    static const struct { const char *cbor, *want; } dec[] = {
        { "t4([-2, 27315])", "273.15" }, { "t4([3, t2(h\"0100\")])", "256000" },
        { "t4([-1, t3(h\"00\")])", "-0.1" }, { "t4([0, 0])", "0" }, { "t2(h\"\")", "0" },
        { "t4([-200, 1])", NULL }, { "t4([200, 1])", NULL }, { "f1e300", NULL },
        { "t4([-40, t2(h\"03a0c92075c0dbf3b8acbc5f96ce3f0ad3\")])", NULL },
    };
    for (size_t i = 0; i < H_COUNT(dec); i++) {
        size_t len;
        const uint8_t *p = cb(dec[i].cbor, &len);
        kdb_val v;
        REQUIRE(kdb_val_decode(p, len, &v));
        CHECK(v.type == KDB_N && v.len == len);
        kdb_num x;
        keel_status st = kdb_val_num(&v, &x);
        if (dec[i].want) CHECKF(st == KEEL_OK && strcmp(fmt(&x), dec[i].want) == 0, "%s: %s %s",
                                dec[i].cbor, fmt(&x), keel_errmsg());
        else CHECKF(st == KEEL_EVALIDATION, "%s", dec[i].cbor);
    }
}

/* kdb_cbor_head (direct switch) and kdb_cbor_head_libcbor agree on every input. */
static bool heads_agree(const uint8_t *p, size_t len) {
    kdb_head a, b;
    memset(&a, 0x5A, sizeof a);
    memset(&b, 0x5A, sizeof b);
    bool ra = kdb_cbor_head(p, len, &a), rb = kdb_cbor_head_libcbor(p, len, &b);
    if (ra != rb) return false;
    if (!ra) return true;
    if (a.kind != b.kind || a.head_len != b.head_len || a.data != b.data || a.size != b.size)
        return false;
    if (a.kind == KDB_C_FLOAT) return a.v.f == b.v.f || (isnan(a.v.f) && isnan(b.v.f));
    return a.v.u == b.v.u;
}

static void test_cbor_decoders_agree(void) {
    uint8_t buf[16];
    /* every initial byte with every short tail */
    for (int ib = 0; ib < 256; ib++) {
        for (size_t len = 1; len <= 10; len++) {
            buf[0] = (uint8_t)ib;
            for (size_t i = 1; i < sizeof buf; i++) buf[i] = (uint8_t)(i * 37 + (size_t)ib);
            CHECKF(heads_agree(buf, len), "initial byte 0x%02x, %zu bytes", ib, len);
            memset(buf + 1, 0, sizeof buf - 1);
            CHECKF(heads_agree(buf, len), "initial byte 0x%02x + zeros, %zu bytes", ib, len);
            memset(buf + 1, 0xFF, sizeof buf - 1);
            CHECKF(heads_agree(buf, len), "initial byte 0x%02x + 0xff, %zu bytes", ib, len);
        }
    }
    /* half floats: every value */
    for (unsigned h = 0; h < 65536; h++) {
        buf[0] = 0xF9;
        buf[1] = (uint8_t)(h >> 8);
        buf[2] = (uint8_t)h;
        CHECKF(heads_agree(buf, 3), "half 0x%04x", h);
        if (h_failures() > 10) break;
    }
    rng r = rng_seed(9);
    for (int i = 0; i < 200000 && h_failures() < 10; i++) {
        uint64_t x = rng_next(&r), y = rng_next(&r);
        memcpy(buf, &x, 8);
        memcpy(buf + 8, &y, 8);
        CHECK(heads_agree(buf, 1 + rng_below(&r, 16)));
    }
}

static const h_test tests[] = {
    H_TEST(test_num_parse),
    H_TEST(test_num_convert),
    H_TEST(test_num_key_order),
    H_TEST(test_num_arith),
    H_TEST(test_cbor_heads),
    H_TEST(test_cbor_nesting),
    H_TEST(test_cbor_numbers),
    H_TEST(test_cbor_decoders_agree),
};

int main(int argc, char **argv) { return h_main(argc, argv, tests, H_COUNT(tests)); }
