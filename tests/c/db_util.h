/*
 * db_util.h: helpers for the tests of the Database face (src/db), on top of util.h.
 *
 * Numbers: num("1.5") parses or fails the test, fmt() formats into rotating buffers,
 * num_same() compares representations, rand_num() draws valid numbers (tiny, huge, short,
 * long, negative, zero). CBOR: a tiny notation for test tables, so an item reads like
 *   {"a": 1, "tags": <"x", "y">, "v": v(1, 2.5), "n": d"1e3", "raw": x"a0"}
 *   "text" (\xHH escapes)   h"0a0b" bytes   x"bf" raw bytes   123 -5 integers
 *   d"1.5e3" kdb_enc_num   f1.5 double   true false null undef
 *   [a, b] array   {k: v} map (any keys)   <a, b> set (tag 258)   v(1, 2.5) float32 vector
 *   t4(x) any tag around one value
 * cb() encodes into a static buffer, cbdup() into a malloc'd copy, val_of() decodes a
 * copy into a kdb_val. Single-threaded, like the tests that use them.
 */
#ifndef KEEL_TEST_DB_UTIL_H
#define KEEL_TEST_DB_UTIL_H

#include "util.h"

#include "db/db.h"

#include <math.h>

static H_UNUSED kdb_num num(const char *s) {
    kdb_num x;
    keel_status st = kdb_num_parse(s, strlen(s), &x);
    if (st != KEEL_OK) {
        h_fail(__FILE__, __LINE__, "num(\"%s\"): %s", s, keel_errmsg());
        memset(&x, 0, sizeof x);
    }
    return x;
}

static H_UNUSED const char *fmt(const kdb_num *x) {
    static _Thread_local char bufs[8][KDB_NUM_STR_MAX];
    static _Thread_local unsigned next;
    char *b = bufs[next++ % 8];
    kdb_num_format(x, b, KDB_NUM_STR_MAX);
    return b;
}

static H_UNUSED bool num_same(const kdb_num *a, const kdb_num *b) {
    return a->sign == b->sign && a->n == b->n && a->exp == b->exp &&
           memcmp(a->d, b->d, a->n) == 0;
}

/* A random valid number; some tiny or huge, some with few digits, some negative. */
static H_UNUSED kdb_num rand_num(rng *r) {
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

static H_UNUSED int sgn(int v) { return (v > 0) - (v < 0); }

/* ---- a tiny CBOR notation for test tables -------------------------------------------
 *   "text" (\xHH escapes)   h"0a0b" bytes   x"bf" raw bytes   123 -5 integers
 *   d"1.5e3" kdb_enc_num   f1.5 double   true false null undef
 *   [a, b] array   {k: v} map (any keys)   <a, b> set (tag 258)   v(1, 2.5) float32 vector
 *   t4(x) any tag around one value */

static const char *cb_p;

static H_UNUSED void cb_ws(void) {
    while (*cb_p == ' ' || *cb_p == ',' || *cb_p == ':' || *cb_p == '\n') cb_p++;
}

static H_UNUSED size_t cb_str(char *out) { /* after the opening quote */
    size_t n = 0;
    while (*cb_p && *cb_p != '"') {
        if (cb_p[0] == '\\' && cb_p[1] == 'x') {
            char hx[3] = { cb_p[2], cb_p[3], 0 };
            out[n++] = (char)strtol(hx, NULL, 16);
            cb_p += 4;
        } else {
            out[n++] = *cb_p++;
        }
    }
    if (*cb_p == '"') cb_p++;
    return n;
}

static H_UNUSED size_t cb_hex(uint8_t *out) {
    size_t n = 0;
    while (*cb_p && *cb_p != '"') {
        if (*cb_p == ' ') {
            cb_p++;
            continue;
        }
        char hx[3] = { cb_p[0], cb_p[1], 0 };
        out[n++] = (uint8_t)strtol(hx, NULL, 16);
        cb_p += 2;
    }
    if (*cb_p == '"') cb_p++;
    return n;
}

static H_UNUSED void cb_val(kdb_buf *b);

/* Elements up to `close` into a scratch buffer; returns their count. */
static H_UNUSED uint64_t cb_elems(kdb_buf *scratch, char close, int per) {
    uint64_t n = 0;
    cb_ws();
    while (*cb_p && *cb_p != close) {
        cb_val(scratch);
        n++;
        cb_ws();
    }
    if (*cb_p == close) cb_p++;
    return n / (uint64_t)per;
}

static H_UNUSED void cb_val(kdb_buf *b) {
    cb_ws();
    static char tmp[1 << 16];
    if (*cb_p == '"') {
        cb_p++;
        size_t n = cb_str(tmp);
        kdb_enc_text(b, tmp, n);
    } else if ((cb_p[0] == 'h' || cb_p[0] == 'x') && cb_p[1] == '"') {
        bool raw = cb_p[0] == 'x';
        cb_p += 2;
        size_t n = cb_hex((uint8_t *)tmp);
        if (raw) kdb_buf_put(b, tmp, n);
        else kdb_enc_bytes(b, tmp, n);
    } else if (cb_p[0] == 'd' && cb_p[1] == '"') {
        cb_p += 2;
        size_t n = cb_str(tmp);
        kdb_num x;
        if (kdb_num_parse(tmp, n, &x) != KEEL_OK) h_fail(__FILE__, __LINE__, "cb: bad d\"\"");
        kdb_enc_num(b, &x);
    } else if (cb_p[0] == 'f') {
        char *e;
        double d = strtod(cb_p + 1, &e);
        cb_p = e;
        kdb_enc_double(b, d);
    } else if (strncmp(cb_p, "true", 4) == 0 || strncmp(cb_p, "false", 5) == 0) {
        kdb_enc_bool(b, cb_p[0] == 't');
        cb_p += cb_p[0] == 't' ? 4 : 5;
    } else if (strncmp(cb_p, "null", 4) == 0) {
        kdb_enc_null(b);
        cb_p += 4;
    } else if (strncmp(cb_p, "undef", 5) == 0) {
        uint8_t u = 0xF7;
        kdb_buf_put(b, &u, 1);
        cb_p += 5;
    } else if (*cb_p == '-' || (*cb_p >= '0' && *cb_p <= '9')) {
        char *e;
        long long v = strtoll(cb_p, &e, 10);
        cb_p = e;
        kdb_enc_i64(b, v);
    } else if (*cb_p == '[' || *cb_p == '{' || *cb_p == '<') {
        char open = *cb_p++;
        kdb_buf sc = { 0 };
        uint64_t n = cb_elems(&sc, open == '[' ? ']' : open == '{' ? '}' : '>', open == '{' ? 2 : 1);
        if (open == '<') kdb_enc_tag(b, KDB_TAG_SET);
        if (open == '{') kdb_enc_map(b, n);
        else kdb_enc_array(b, n);
        kdb_buf_put(b, sc.p, sc.len);
        kdb_buf_free(&sc);
    } else if (cb_p[0] == 'v' && cb_p[1] == '(') {
        cb_p += 2;
        size_t n = 0;
        cb_ws();
        while (*cb_p && *cb_p != ')') {
            char *e;
            float f = strtof(cb_p, &e);
            cb_p = e;
            uint32_t u;
            memcpy(&u, &f, 4);
            keel__st32((uint8_t *)tmp + n, u);
            n += 4;
            cb_ws();
        }
        cb_p++;
        kdb_enc_tag(b, KDB_TAG_F32LE);
        kdb_enc_bytes(b, tmp, n);
    } else if (cb_p[0] == 't') {
        char *e;
        unsigned long long t = strtoull(cb_p + 1, &e, 10);
        cb_p = e + 1; /* ( */
        kdb_enc_tag(b, t);
        cb_val(b);
        cb_ws();
        if (*cb_p == ')') cb_p++;
    } else {
        h_fail(__FILE__, __LINE__, "cb: cannot parse at \"%.20s\"", cb_p);
        cb_p += strlen(cb_p);
    }
}

/* The encoding of notation `s` (static storage, reused by the next call). */
static H_UNUSED const uint8_t *cb(const char *s, size_t *len) {
    static kdb_buf b;
    b.len = 0;
    cb_p = s;
    cb_val(&b);
    *len = b.len;
    return b.p ? b.p : (const uint8_t *)"";
}

/* A copy of the encoding of notation s (malloc'd). */
static H_UNUSED uint8_t *cbdup(const char *s, size_t *len) {
    const uint8_t *p = cb(s, len);
    uint8_t *q = malloc(*len ? *len : 1);
    if (q && *len) memcpy(q, p, *len);
    return q;
}

static H_UNUSED kdb_val val_of(const char *notation, uint8_t **keep) {
    size_t len;
    *keep = cbdup(notation, &len);
    kdb_val v;
    memset(&v, 0, sizeof v);
    if (!kdb_val_decode(*keep, len, &v)) h_fail(__FILE__, __LINE__, "val_of(%s)", notation);
    return v;
}

#endif /* KEEL_TEST_DB_UTIL_H */
