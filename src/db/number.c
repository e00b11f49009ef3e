/*
 * number.c: DynamoDB numbers, exact. Parsing and normalization, comparison, the plain
 * decimal text form, addition and subtraction, conversions from CBOR integers, bignums and
 * doubles, and the order-preserving key encoding. Nothing here goes through a double except
 * kdb_num_from_double, whose input already is one.
 *
 * Representation (db.h): value = sign * 0.d[0]d[1]...d[n-1] * 10^exp, digits 0..9 with
 * d[0] != 0 and d[n-1] != 0, 1 <= n <= 38, KDB_NUM_EXP_MIN <= exp <= KDB_NUM_EXP_MAX; zero
 * is sign 0, n 0, exp 0. Every constructor goes through normalize(), so a kdb_num that
 * left this file with KEEL_OK satisfies these invariants and equal values have equal
 * representations ("1e3", "1000", "1000.0" and 1000.0).
 *
 * Key encoding (kdb_num_key_encode), designed so that memcmp order is numeric order and
 * the encoding is self-delimiting (no encoding is a prefix of another, so a key may
 * follow it):
 *   zero      0x80                                       (1 byte)
 *   positive  0xC0, E, P[0..k), 0x00
 *   negative  0x40, 255 - E, 100 - p[0..k), 0xFF
 * E = exp + 129 (exp in -129..126 fills 0..255 exactly). The mantissa digits, padded with
 * one 0 to an even count, form base-100 pairs p in 0..99; a positive stores p + 1 (1..100)
 * and ends with 0x00, below any pair byte, so 0.12 < 0.123 (a prefix sorts first); a
 * negative stores 100 - p (1..100, reversed) and ends with 0xFF, above any pair byte, so
 * -0.12 > -0.123. Sign bytes order negatives < zero < positives; within a sign, a larger
 * exponent means a larger magnitude because d[0] != 0. Longest: 1 + 1 + 19 + 1 = 22 bytes
 * (KDB_NUM_KEY_MAX). Decoding accepts only canonical encodings (first pair >= 10, last
 * digit non-zero), so decode(encode(x)) == x and every accepted encoding re-encodes to
 * itself.
 */
#include "db/db.h"
#include "base/base.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG_DIGITS "Attempting to store more than 38 significant digits in a Number"
#define MSG_OVERFLOW \
    "Number overflow. Attempting to store a number with magnitude larger than supported range"
#define MSG_UNDERFLOW \
    "Number underflow. Attempting to store a number with magnitude smaller than supported range"

static void set_zero(kdb_num *x) {
    memset(x, 0, sizeof *x);
}

/* Normalize value = sign * 0.D[0..m) * 10^e (D digit values 0..9, any leading or trailing
 * zeros, e anything an int64 holds) into *out. */
static keel_status normalize(int sign, const uint8_t *D, size_t m, int64_t e, kdb_num *out) {
    size_t lo = 0, hi = m;
    while (lo < hi && D[lo] == 0) lo++;
    while (hi > lo && D[hi - 1] == 0) hi--;
    if (lo == hi || sign == 0) {
        set_zero(out);
        return KEEL_OK;
    }
    if (hi - lo > KDB_NUM_DIGITS) return keel__fail(KEEL_EVALIDATION, MSG_DIGITS);
    e -= (int64_t)lo;
    if (e > KDB_NUM_EXP_MAX) return keel__fail(KEEL_EVALIDATION, MSG_OVERFLOW);
    if (e < KDB_NUM_EXP_MIN) return keel__fail(KEEL_EVALIDATION, MSG_UNDERFLOW);
    kdb_num r;
    memset(&r, 0, sizeof r);
    r.sign = (int8_t)(sign < 0 ? -1 : 1);
    r.n = (uint8_t)(hi - lo);
    r.exp = (int16_t)e;
    memcpy(r.d, D + lo, hi - lo);
    *out = r;
    return KEEL_OK;
}

keel_status kdb_num_parse(const char *s, size_t len, kdb_num *out) {
    /* Significant digits are kept up to a bound well past 38 (then only counted), so a
     * long run of digits cannot overflow anything and still reports "more than 38". */
    uint8_t D[KDB_NUM_DIGITS + 2];
    size_t m = 0;            /* digits stored in D (leading zeros skipped) */
    int64_t point = 0;       /* decimal exponent of the value 0.D: digits before the point */
    size_t extra = 0;        /* non-zero digits beyond D's capacity */
    bool any = false, started = false;
    int sign = 1;
    size_t i = 0;
    if (!s) return keel__fail(KEEL_EVALIDATION, "The parameter cannot be converted to a numeric value");
    if (i < len && (s[i] == '+' || s[i] == '-')) sign = s[i++] == '-' ? -1 : 1;
    bool seen_point = false;
    for (; i < len; i++) {
        char c = s[i];
        if (c == '.') {
            if (seen_point) break;
            seen_point = true;
            continue;
        }
        if (c < '0' || c > '9') break;
        any = true;
        uint8_t v = (uint8_t)(c - '0');
        if (!started && v == 0) {
            if (seen_point) point--;
            continue;
        }
        started = true;
        if (!seen_point) point++;
        if (m < sizeof D) D[m++] = v;
        else if (v != 0) extra++; /* zeros past D only move the point, tracked above */
    }
    if (any && i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        int esign = 1;
        if (i < len && (s[i] == '+' || s[i] == '-')) esign = s[i++] == '-' ? -1 : 1;
        if (i >= len) any = false;
        int64_t ev = 0;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
            if (ev < 100000000) ev = ev * 10 + (s[i] - '0');
        point += esign * ev;
    }
    if (!any || i != len)
        return keel__fail(KEEL_EVALIDATION,
                          "The parameter cannot be converted to a numeric value: %.*s",
                          (int)(len > 64 ? 64 : len), s);
    if (!started) {
        set_zero(out);
        return KEEL_OK;
    }
    if (extra) return keel__fail(KEEL_EVALIDATION, MSG_DIGITS);
    return normalize(sign, D, m, point, out);
}

/* Decimal digits of v into D (most significant first); returns the count (0 for v == 0). */
static size_t u64_digits(uint64_t v, uint8_t D[20]) {
    uint8_t tmp[20];
    size_t k = 0;
    while (v) {
        tmp[k++] = (uint8_t)(v % 10);
        v /= 10;
    }
    for (size_t i = 0; i < k; i++) D[i] = tmp[k - 1 - i];
    return k;
}

void kdb_num_from_u64(uint64_t v, kdb_num *out) {
    uint8_t D[20] = { 0 };
    size_t k = u64_digits(v, D);
    (void)normalize(1, D, k, (int64_t)k, out); /* <= 20 digits, exp <= 20: cannot fail */
}

void kdb_num_from_i64(int64_t v, kdb_num *out) {
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    kdb_num_from_u64(mag, out);
    if (v < 0) out->sign = -1;
}

void kdb_num_from_neg_u64(uint64_t v, kdb_num *out) {
    uint8_t D[21];
    D[0] = 0;
    size_t k = u64_digits(v, D + 1) + 1; /* a leading 0 room for the carry */
    /* magnitude v + 1 */
    size_t j = k;
    while (j > 0) {
        j--;
        if (D[j] == 9) {
            D[j] = 0;
        } else {
            D[j]++;
            break;
        }
    }
    if (k == 1) D[0] = 1; /* v == 0: magnitude 1 */
    (void)normalize(-1, D, k, (int64_t)k, out);
}

keel_status kdb_num_from_bignum(bool negative, const uint8_t *mag, size_t len, kdb_num *out) {
    while (len && mag[0] == 0) {
        mag++;
        len--;
    }
    /* 9.99..9e125 < 2^419: more than 53 bytes is out of range whatever follows. */
    if (len > 53) return keel__fail(KEEL_EVALIDATION, MSG_OVERFLOW);
    /* Little-endian decimal digits of the magnitude (negative bignums: -1 - mag). */
    uint8_t L[140];
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned carry = mag[i];
        for (size_t j = 0; j < k; j++) {
            unsigned t = L[j] * 256u + carry;
            L[j] = (uint8_t)(t % 10);
            carry = t / 10;
        }
        while (carry) {
            L[k++] = (uint8_t)(carry % 10);
            carry /= 10;
        }
    }
    if (negative) { /* add one */
        size_t j = 0;
        for (; j < k && L[j] == 9; j++) L[j] = 0;
        if (j == k) L[k++] = 1;
        else L[j]++;
    }
    uint8_t D[140];
    for (size_t i = 0; i < k; i++) D[i] = L[k - 1 - i];
    return normalize(negative ? -1 : 1, D, k, (int64_t)k, out);
}

static bool f32_round_trips(float f, int prec, char *buf, size_t cap, int *len) {
    *len = snprintf(buf, cap, "%.*g", prec, (double)f);
    return strtof(buf, NULL) == f;
}

size_t kdb_f32_text(float f, char *buf, size_t cap) {
    /* Nine significant digits always read back as the same float32; fewer often do. The
     * shortest is found by bisection (3-4 conversions instead of up to 9: filters on
     * vector elements pay this per item), which is exact because "p digits read back" is
     * monotone in p: rounding f to p + 1 digits lands no farther from f than rounding to
     * p did, and the values that read back as f form an interval symmetric about f, ties
     * included (round-half-even treats both ends alike). Except at a power of two, where
     * the interval below is half as wide as above: there the digits go up one by one. */
    uint32_t bits;
    memcpy(&bits, &f, 4);
    int len = 0;
    if ((bits & 0x007FFFFFu) == 0 && (bits & 0x7F800000u) != 0) {
        for (int prec = 1; prec <= 9; prec++)
            if (f32_round_trips(f, prec, buf, cap, &len)) break;
        return len > 0 ? (size_t)len : 0;
    }
    int lo = 1, hi = 9, at = 0;     /* hi always reads back; buf holds `at` digits */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        at = mid;
        if (f32_round_trips(f, mid, buf, cap, &len)) hi = mid;
        else lo = mid + 1;
    }
    if (at != hi) len = snprintf(buf, cap, "%.*g", hi, (double)f);
    return len > 0 ? (size_t)len : 0;
}

keel_status kdb_num_from_double(double v, kdb_num *out) {
    if (isnan(v) || isinf(v))
        return keel__fail(KEEL_EVALIDATION, "NaN and Infinity are not valid numbers");
    if (v == 0) {
        set_zero(out);
        return KEEL_OK;
    }
    if (fabs(v) < 9007199254740992.0 && v == (double)(int64_t)v) { /* integral, < 2^53 */
        kdb_num_from_i64((int64_t)v, out);
        return KEEL_OK;
    }
    /* Most doubles stored are short decimals (21.5, 0.1): find one as m / 10^k with
     * m < 10^15, k = 1..15, checked exactly. m and 10^k are exact doubles and IEEE division
     * rounds correctly, as strtod does, so m / 10^k == |v| says the decimal m e-k
     * round-trips; at most one value with <= 15 significant digits can (their spacing,
     * >= 1e-15 relative, exceeds a double's ulp), so it is the one %.15g below would print.
     * |v| * 10^k is off its nearest integer by < 0.2 when that decimal exists, so
     * nearbyint finds m. This skips snprintf and strtod (4,000 instructions) for them. */
    static const double p10[16] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    double a = fabs(v);
    if (a < 1e15 && a >= 1e-15) {
        for (int k = 1; k <= 15; k++) {
            double m = nearbyint(a * p10[k]);
            if (m >= 1e15) break;
            if (m / p10[k] == a) {
                uint8_t D[20];
                size_t kd = u64_digits((uint64_t)m, D);
                return normalize(v < 0 ? -1 : 1, D, kd, (int64_t)kd - k, out);
            }
        }
    }
    /* The shortest round-trip form. If some k <= 15 digit decimal round-trips, it is the
     * one %.15g prints: the double lies within half an ulp (< 1.2e-16 relative) of it, less
     * than half the spacing of 15-digit decimals, so rounding to 15 digits lands on it
     * (and %g drops the trailing zeros). Otherwise 16, else 17 digits, nearest first. */
    char buf[40];
    int len = 0;
    for (int prec = 15; prec <= 17; prec++) {
        len = snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    return kdb_num_parse(buf, (size_t)len, out);
}

keel_status kdb_num_scale10(kdb_num *x, int64_t e) {
    if (x->sign == 0) return KEEL_OK;
    if (e > 1000 || e < -1000) return keel__fail(KEEL_EVALIDATION, e > 0 ? MSG_OVERFLOW : MSG_UNDERFLOW);
    int64_t ne = (int64_t)x->exp + e;
    if (ne > KDB_NUM_EXP_MAX) return keel__fail(KEEL_EVALIDATION, MSG_OVERFLOW);
    if (ne < KDB_NUM_EXP_MIN) return keel__fail(KEEL_EVALIDATION, MSG_UNDERFLOW);
    x->exp = (int16_t)ne;
    return KEEL_OK;
}

keel_status kdb_num_check(const kdb_num *x) {
    if (x->sign == 0) {
        if (x->n != 0) return keel__fail(KEEL_EVALIDATION, "malformed number: zero with digits");
        return KEEL_OK;
    }
    if (x->n == 0 || x->n > KDB_NUM_DIGITS) return keel__fail(KEEL_EVALIDATION, MSG_DIGITS);
    if (x->exp > KDB_NUM_EXP_MAX) return keel__fail(KEEL_EVALIDATION, MSG_OVERFLOW);
    if (x->exp < KDB_NUM_EXP_MIN) return keel__fail(KEEL_EVALIDATION, MSG_UNDERFLOW);
    return KEEL_OK;
}

/* Compare magnitudes of two non-zero normalized numbers. */
static int cmp_mag(const kdb_num *a, const kdb_num *b) {
    if (a->exp != b->exp) return a->exp < b->exp ? -1 : 1;
    size_t n = a->n < b->n ? a->n : b->n;
    for (size_t i = 0; i < n; i++)
        if (a->d[i] != b->d[i]) return a->d[i] < b->d[i] ? -1 : 1;
    return a->n == b->n ? 0 : a->n < b->n ? -1 : 1;
}

int kdb_num_cmp(const kdb_num *a, const kdb_num *b) {
    if (a->sign != b->sign) return a->sign < b->sign ? -1 : 1;
    if (a->sign == 0) return 0;
    int c = cmp_mag(a, b);
    return a->sign > 0 ? c : -c;
}

size_t kdb_num_format(const kdb_num *x, char *buf, size_t cap) {
    char tmp[KDB_NUM_STR_MAX];
    size_t k = 0;
    if (x->sign == 0 || x->n == 0) {
        tmp[k++] = '0';
    } else {
        if (x->sign < 0) tmp[k++] = '-';
        int e = x->exp;
        int n = x->n;
        if (e <= 0) {
            tmp[k++] = '0';
            tmp[k++] = '.';
            for (int i = 0; i < -e; i++) tmp[k++] = '0';
            for (int i = 0; i < n; i++) tmp[k++] = (char)('0' + x->d[i]);
        } else if (e >= n) {
            for (int i = 0; i < n; i++) tmp[k++] = (char)('0' + x->d[i]);
            for (int i = n; i < e; i++) tmp[k++] = '0';
        } else {
            for (int i = 0; i < e; i++) tmp[k++] = (char)('0' + x->d[i]);
            tmp[k++] = '.';
            for (int i = e; i < n; i++) tmp[k++] = (char)('0' + x->d[i]);
        }
    }
    tmp[k] = 0;
    if (cap == 0) return 0;
    if (k >= cap) k = cap - 1;
    memcpy(buf, tmp, k);
    buf[k] = 0;
    return k;
}

/* Room for any aligned sum: exponents span 126 - (-129 - 38) = 293 digit positions. */
#define WIDE 300

static keel_status add_signed(const kdb_num *a, int bsign, const kdb_num *b, kdb_num *out) {
    if (b->sign == 0 || bsign == 0) {
        *out = *a;
        return KEEL_OK;
    }
    if (a->sign == 0) {
        *out = *b;
        out->sign = (int8_t)bsign;
        return KEEL_OK;
    }
    int hi = a->exp > b->exp ? a->exp : b->exp;
    int la = a->exp - a->n, lb = b->exp - b->n;
    int lo = la < lb ? la : lb;
    int width = hi - lo + 1; /* R[0] is a carry position worth 10^hi */
    uint8_t A[WIDE + 1], B[WIDE + 1], R[WIDE + 1];
    if (width > WIDE + 1) return keel__fail(KEEL_EVALIDATION, MSG_DIGITS); /* cannot happen */
    memset(A, 0, (size_t)width);
    memset(B, 0, (size_t)width);
    /* digit i of x has weight 10^(x->exp - 1 - i), at index hi - (x->exp - 1 - i) */
    for (int i = 0; i < a->n; i++) A[hi - a->exp + 1 + i] = a->d[i];
    for (int i = 0; i < b->n; i++) B[hi - b->exp + 1 + i] = b->d[i];
    int sign;
    if (a->sign == bsign) {
        int carry = 0;
        for (int j = width - 1; j >= 0; j--) {
            int t = A[j] + B[j] + carry;
            R[j] = (uint8_t)(t % 10);
            carry = t / 10;
        }
        sign = a->sign;
    } else {
        int c = cmp_mag(a, b);
        if (c == 0) {
            set_zero(out);
            return KEEL_OK;
        }
        const uint8_t *X = c > 0 ? A : B, *Y = c > 0 ? B : A;
        int borrow = 0;
        for (int j = width - 1; j >= 0; j--) {
            int t = X[j] - Y[j] - borrow;
            borrow = t < 0;
            R[j] = (uint8_t)(t < 0 ? t + 10 : t);
        }
        sign = c > 0 ? a->sign : bsign;
    }
    return normalize(sign, R, (size_t)width, hi + 1, out);
}

keel_status kdb_num_add(const kdb_num *a, const kdb_num *b, kdb_num *out) {
    return add_signed(a, b->sign, b, out);
}

keel_status kdb_num_sub(const kdb_num *a, const kdb_num *b, kdb_num *out) {
    return add_signed(a, -b->sign, b, out);
}

bool kdb_num_to_i64(const kdb_num *x, int64_t *out) {
    if (x->sign == 0) {
        *out = 0;
        return true;
    }
    if (x->exp < x->n || x->exp > 19) return false;
    uint64_t v = 0;
    for (int i = 0; i < x->exp; i++) {
        uint64_t dig = i < x->n ? x->d[i] : 0;
        if (v > (UINT64_MAX - dig) / 10) return false;
        v = v * 10 + dig;
    }
    if (x->sign > 0) {
        if (v > (uint64_t)INT64_MAX) return false;
        *out = (int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX + 1) return false;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    }
    return true;
}

size_t kdb_num_key_encode(const kdb_num *x, uint8_t *out) {
    if (x->sign == 0) {
        out[0] = 0x80;
        return 1;
    }
    bool neg = x->sign < 0;
    size_t k = 0;
    out[k++] = neg ? 0x40 : 0xC0;
    unsigned E = (unsigned)(x->exp + 129);
    out[k++] = (uint8_t)(neg ? 255 - E : E);
    for (int i = 0; i < x->n; i += 2) {
        unsigned p = x->d[i] * 10u + (i + 1 < x->n ? x->d[i + 1] : 0u);
        out[k++] = (uint8_t)(neg ? 100 - p : p + 1);
    }
    out[k++] = neg ? 0xFF : 0x00;
    return k;
}

bool kdb_num_key_decode(const uint8_t *p, size_t len, kdb_num *out, size_t *used) {
    if (len < 1) return false;
    if (p[0] == 0x80) {
        set_zero(out);
        *used = 1;
        return true;
    }
    if (p[0] != 0x40 && p[0] != 0xC0) return false;
    bool neg = p[0] == 0x40;
    if (len < 2) return false;
    int E = neg ? 255 - p[1] : p[1];
    kdb_num r;
    memset(&r, 0, sizeof r);
    r.sign = (int8_t)(neg ? -1 : 1);
    r.exp = (int16_t)(E - 129);
    uint8_t term = neg ? 0xFF : 0x00;
    size_t i = 2;
    int n = 0;
    for (;; i++) {
        if (i >= len) return false;
        if (p[i] == term) break;
        if (p[i] < 1 || p[i] > 100) return false;
        if (n >= KDB_NUM_DIGITS) return false;
        unsigned pair = neg ? 100u - p[i] : p[i] - 1u;
        r.d[n++] = (uint8_t)(pair / 10);
        r.d[n++] = (uint8_t)(pair % 10);
    }
    if (n == 0 || r.d[0] == 0) return false;
    if (r.d[n - 1] == 0) n--; /* the padding digit of an odd count */
    if (r.d[n - 1] == 0) return false;
    r.n = (uint8_t)n;
    *out = r;
    *used = i + 1;
    return true;
}
