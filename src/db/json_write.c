/*
 * json_write.c: an item (CBOR) written straight to DynamoDB JSON text, for the server's hot
 * read path (GetItem), without building a jansson tree first.
 *
 * The text is byte for byte what json_dumps(kdb_json_from_item(item), JSON_COMPACT) gives
 * (tests/c/test_server_ops.c compares the two on many items): members in stored order,
 * "," and ":" separators, strings escaped as jansson escapes them ('"', '\\', the C
 * escapes \b \f \n \r \t, other control characters as \u00XX in upper-case hex, nothing
 * else), numbers in DynamoDB's normalized text, binaries in base64, vectors as a list of
 * N, each the shortest decimal of its float32. Anything the jansson path would refuse or
 * that this writer does not handle in the same way (invalid UTF-8, a name twice in a map,
 * a map of more than 32 pairs, which it would have to check for duplicates at more cost,
 * nesting past DynamoDB's 32 levels, a malformed value) returns false with `out` restored:
 * the caller then takes the jansson path, which gives the result or the error.
 */
#include "db/json.h"
#include "base/base.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH (KEEL_DB_MAX_DEPTH + 1u)
#define MAX_PAIRS 32u

/* Strict UTF-8 (as jansson checks it): no overlong forms, no surrogates, <= U+10FFFF. */
static bool utf8_ok(const uint8_t *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) k = 1, cp = c & 0x1F;
        else if (c >= 0xE0 && c <= 0xEF) k = 2, cp = c & 0x0F;
        else if (c >= 0xF0 && c <= 0xF4) k = 3, cp = c & 0x07;
        else return false;
        if (i + k >= n) return false;
        for (size_t j = 1; j <= k; j++) {
            if ((p[i + j] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (p[i + j] & 0x3F);
        }
        if ((k == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (k == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return false;
        i += k + 1;
    }
    return true;
}

static void put(kdb_buf *b, const char *s) { kdb_buf_put(b, s, strlen(s)); }

/* A JSON string, escaped as jansson escapes it (input already UTF-8 checked). */
static void put_string(kdb_buf *b, const uint8_t *p, size_t n) {
    kdb_buf_put(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        if (i > run) kdb_buf_put(b, p + run, i - run);
        run = i + 1;
        char esc[8];
        switch (c) {
        case '"': put(b, "\\\""); break;
        case '\\': put(b, "\\\\"); break;
        case '\b': put(b, "\\b"); break;
        case '\f': put(b, "\\f"); break;
        case '\n': put(b, "\\n"); break;
        case '\r': put(b, "\\r"); break;
        case '\t': put(b, "\\t"); break;
        default:
            snprintf(esc, sizeof esc, "\\u%04X", (unsigned)c);
            put(b, esc);
        }
    }
    if (n > run) kdb_buf_put(b, p + run, n - run);
    kdb_buf_put(b, "\"", 1);
}

static bool put_num(kdb_buf *b, const kdb_val *v) {
    kdb_num x;
    char buf[KDB_NUM_STR_MAX];
    if (kdb_val_num(v, &x) != KEEL_OK) return false;
    size_t n = kdb_num_format(&x, buf, sizeof buf);
    kdb_buf_put(b, "\"", 1);
    kdb_buf_put(b, buf, n);
    kdb_buf_put(b, "\"", 1);
    return true;
}

static bool put_b64(kdb_buf *b, const uint8_t *p, size_t n) {
    size_t cap = (n + 2) / 3 * 4 + 1;
    char *s = malloc(cap);
    if (!s) return false;
    size_t k = kdb_base64_encode(p, n, s);
    kdb_buf_put(b, "\"", 1);
    kdb_buf_put(b, s, k);
    kdb_buf_put(b, "\"", 1);
    free(s);
    return true;
}

static bool put_vector(kdb_buf *b, const kdb_val *v) {
    put(b, "{\"L\":[");
    for (uint64_t i = 0; i < v->count; i++) {
        if ((i + 1) * 4 > v->size) return false;
        uint32_t bits = keel__ld32(v->data + 4 * i);
        float f;
        memcpy(&f, &bits, sizeof f);
        if (!isfinite(f)) return false;
        char text[32];
        kdb_f32_text(f, text, sizeof text);     /* the shortest text that reads back as f */
        kdb_num x;
        char buf[KDB_NUM_STR_MAX];
        if (kdb_num_parse(text, strlen(text), &x) != KEEL_OK) return false;
        size_t n = kdb_num_format(&x, buf, sizeof buf);
        put(b, i ? ",{\"N\":\"" : "{\"N\":\"");
        kdb_buf_put(b, buf, n);
        put(b, "\"}");
    }
    put(b, "]}");
    return true;
}

static bool put_value(kdb_buf *b, const kdb_val *v, unsigned depth);

/* The members of an L (elem 0) or a set (elem: the members' type) as a JSON array. */
static bool put_list(kdb_buf *b, const kdb_val *v, kdb_type elem, unsigned depth) {
    kdb_iter it;
    kdb_val e;
    int r, i = 0;
    kdb_buf_put(b, "[", 1);
    kdb_iter_init(&it, v);
    while ((r = kdb_iter_next(&it, NULL, NULL, &e)) == 1) {
        if (i++) kdb_buf_put(b, ",", 1);
        bool ok;
        if (elem == 0) ok = put_value(b, &e, depth + 1);
        else if (e.type != elem) ok = false;
        else if (elem == KDB_S) {
            ok = utf8_ok(e.data, e.size);
            if (ok) put_string(b, e.data, e.size);
        } else if (elem == KDB_N) ok = put_num(b, &e);
        else ok = put_b64(b, e.data, e.size);
        if (!ok) return false;
    }
    kdb_buf_put(b, "]", 1);
    return r == 0;
}

static bool put_map(kdb_buf *b, const kdb_val *v, unsigned depth) {
    if (v->count > MAX_PAIRS) return false;
    const uint8_t *names[MAX_PAIRS];
    size_t lens[MAX_PAIRS], n = 0;
    kdb_iter it;
    kdb_val e;
    const uint8_t *name;
    size_t nlen;
    int r;
    kdb_buf_put(b, "{", 1);
    kdb_iter_init(&it, v);
    while ((r = kdb_iter_next(&it, &name, &nlen, &e)) == 1) {
        if (n == MAX_PAIRS || !utf8_ok(name, nlen)) return false;
        for (size_t i = 0; i < n; i++)
            if (lens[i] == nlen && memcmp(names[i], name, nlen) == 0) return false;
        names[n] = name;
        lens[n] = nlen;
        if (n++) kdb_buf_put(b, ",", 1);
        put_string(b, name ? name : (const uint8_t *)"", nlen);
        kdb_buf_put(b, ":", 1);
        if (!put_value(b, &e, depth + 1)) return false;
    }
    kdb_buf_put(b, "}", 1);
    return r == 0;
}

static bool put_value(kdb_buf *b, const kdb_val *v, unsigned depth) {
    switch (v->type) {
    case KDB_S:
        if (!utf8_ok(v->data, v->size)) return false;
        put(b, "{\"S\":");
        put_string(b, v->data ? v->data : (const uint8_t *)"", v->size);
        break;
    case KDB_N:
        put(b, "{\"N\":");
        if (!put_num(b, v)) return false;
        break;
    case KDB_B:
        put(b, "{\"B\":");
        if (!put_b64(b, v->data, v->size)) return false;
        break;
    case KDB_BOOL:
        put(b, v->b ? "{\"BOOL\":true" : "{\"BOOL\":false");
        break;
    case KDB_NULL:
        put(b, "{\"NULL\":true");
        break;
    case KDB_V:
        return put_vector(b, v);
    default:
        if (depth >= MAX_DEPTH) return false;
        switch (v->type) {
        case KDB_L: put(b, "{\"L\":"); if (!put_list(b, v, 0, depth)) return false; break;
        case KDB_M: put(b, "{\"M\":"); if (!put_map(b, v, depth)) return false; break;
        case KDB_SS: put(b, "{\"SS\":"); if (!put_list(b, v, KDB_S, depth)) return false; break;
        case KDB_NS: put(b, "{\"NS\":"); if (!put_list(b, v, KDB_N, depth)) return false; break;
        case KDB_BS: put(b, "{\"BS\":"); if (!put_list(b, v, KDB_B, depth)) return false; break;
        default: return false;
        }
    }
    kdb_buf_put(b, "}", 1);
    return true;
}

bool kdb_json_write_item(const uint8_t *item, size_t len, kdb_buf *out) {
    size_t start = out->len;
    kdb_val v;
    bool ok = item && kdb_item_open(item, len, &v) && v.len == len && put_map(out, &v, 0) &&
              !out->failed;
    if (!ok) {
        out->len = start;
        out->failed = false;
    }
    return ok;
}
