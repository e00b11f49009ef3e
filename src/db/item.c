/*
 * item.c: item values. Decoding one CBOR value into its DynamoDB type (lazily: a kdb_val
 * points into the caller's bytes), iteration over maps, lists and sets, attribute lookup,
 * the stored form (vector padding), deep equality and ordering. The full validation of an
 * item from a caller (DynamoDB's rules, limits and size: kdb_item_check) is item_check.c's.
 *
 * Type mapping (include/keel_db.h, docs/FORMAT.md): text -> S, bytes -> B, integers, tags
 * 2/3 (bignum), tag 4 (decimal fraction [exponent, mantissa]) and finite floats -> N, true
 * and false -> BOOL, null -> NULL, array -> L, map -> M, tag 258 around a non-empty array
 * -> SS/NS/BS by the first element's type, tag 85 around a byte string of 4*dims bytes
 * (dims >= 1, every float32 finite) -> V. Anything else (undefined, other tags, a set of
 * lists) is not an item value.
 *
 * kdb_val_decode checks the structure of one value and finds its end (kdb_cbor_skip,
 * depth-bounded); it does not walk into containers' element types, check UTF-8 or number
 * ranges: kdb_item_check does, once, when an item comes from a caller. The M count is the
 * map head's count: it includes padding pairs, which only stored top-level maps hold.
 *
 * Padding (stored form): before each top-level vector, one pair key = uint 0 (0x00), value
 * = byte string 0x58 LL followed by LL zero bytes, so a pair is 3 + LL bytes, 3..66. Its
 * size is chosen so that the vector's payload starts at a multiple of 64 from the item's
 * first byte: a needed pad of 3..63 bytes is used as is, 0, 1 or 2 become 64, 65 or 66.
 * Every top-level vector gets exactly one pair, so the map's count (attributes + vectors)
 * and therefore its head length are known before anything is placed. Readers skip any
 * pair whose key is an unsigned integer and whose value is a byte string; kdb_item_check
 * accepts such pairs only at the top level, and kdb_item_store_form drops them before
 * placing its own, so storing a stored item again gives the same bytes.
 *
 * DynamoDB's size (kdb_item_check): for each attribute, the UTF-8 length of its name plus
 * its value's size: S and B their length; N (significant digits + 1) / 2 + 1; BOOL and
 * NULL 1; L and M 3 + per element 1 + its size (+ its name's length in an M); sets the sum
 * of their elements' sizes; V (keel's) its payload, 4 bytes per dimension.
 *
 * Vectors read as lists. DynamoDB has no vector type: to it a vector is the L of N it was
 * written as. So element i of a vector (kdb_vec_elem) is an N value, the shortest decimal
 * that reads back as its float32 (kdb_f32_text: what the DynamoDB API prints), encoded into
 * the caller's buffer, and a vector equals a list of those numbers (kdb_val_equal).
 *
 * Nesting: a top-level attribute's value is at level 1; an L or M at level 32 is the
 * deepest allowed (its elements are at level 33 and must not be containers).
 */
#include "db/db.h"
#include "base/base.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SKIP_DEPTH (KEEL_DB_MAX_DEPTH + 1)

/* ---- decoding -------------------------------------------------------------------------- */

/* A tagged value (t is its tag head) into v: numbers, sets, vectors; false otherwise. */
static bool decode_tagged(const uint8_t *p, size_t len, const kdb_head *t, kdb_val *v,
                          bool scan_vector) {
    size_t hl = t->head_len;
    kdb_head h;
    if (!kdb_cbor_head(p + hl, len - hl, &h)) return false;
    switch (t->v.u) {
    case KDB_TAG_POS_BIGNUM:
    case KDB_TAG_NEG_BIGNUM:
        if (h.kind != KDB_C_BYTES) return false;
        v->type = KDB_N;
        v->len = hl + h.head_len;
        return true;
    case KDB_TAG_DECIMAL: {
        if (h.kind != KDB_C_ARRAY || h.v.u != 2) return false;
        size_t pos = hl + h.head_len;
        kdb_head e, m;
        if (!kdb_cbor_head(p + pos, len - pos, &e)) return false;
        if (e.kind != KDB_C_UINT && e.kind != KDB_C_NEGINT) return false;
        pos += e.head_len;
        if (!kdb_cbor_head(p + pos, len - pos, &m)) return false;
        pos += m.head_len;
        if (m.kind == KDB_C_TAG && (m.v.u == KDB_TAG_POS_BIGNUM || m.v.u == KDB_TAG_NEG_BIGNUM)) {
            kdb_head mb;
            if (!kdb_cbor_head(p + pos, len - pos, &mb) || mb.kind != KDB_C_BYTES) return false;
            pos += mb.head_len;
        } else if (m.kind != KDB_C_UINT && m.kind != KDB_C_NEGINT) {
            return false;
        }
        v->type = KDB_N;
        v->len = pos;
        return true;
    }
    case KDB_TAG_SET: {
        if (h.kind != KDB_C_ARRAY || h.v.u == 0) return false;
        /* depth 2: a decimal fraction element is an array inside the set's array */
        size_t n = kdb_cbor_skip(p + hl, len - hl, 2);
        if (n == 0) return false;
        kdb_val first;
        if (!kdb_val_decode(p + hl + h.head_len, len - hl - h.head_len, &first)) return false;
        switch (first.type) {
        case KDB_S: v->type = KDB_SS; break;
        case KDB_N: v->type = KDB_NS; break;
        case KDB_B: v->type = KDB_BS; break;
        default: return false;
        }
        v->len = hl + n;
        v->count = h.v.u;
        v->body = p + hl + h.head_len;
        v->body_len = n - h.head_len;
        return true;
    }
    case KDB_TAG_F32LE: {
        if (h.kind != KDB_C_BYTES || h.size == 0 || h.size % 4 != 0) return false;
        /* Branch-free so that it vectorizes: every filter and result that names the
         * vector decodes it, and vector searches do that for each hit. */
        if (scan_vector) {
            uint32_t nonfinite = 0;
            for (size_t i = 0; i < h.size; i += 4)
                nonfinite |= (keel__ld32(h.data + i) & 0x7F800000u) == 0x7F800000u;
            if (nonfinite) return false;
        }
        v->type = KDB_V;
        v->len = hl + h.head_len;
        v->data = h.data;
        v->size = h.size;
        v->count = h.size / 4;
        return true;
    }
    default:
        return false;
    }
}

/* kdb_val_decode; without scan_vector a vector's payload is not read (kdb_iter_skip). */
static bool decode_value(const uint8_t *p, size_t len, kdb_val *out, bool scan_vector) {
    kdb_head h;
    if (!kdb_cbor_head(p, len, &h)) return false;
    kdb_val v;
    memset(&v, 0, sizeof v);
    v.p = p;
    v.len = h.head_len;
    switch (h.kind) {
    case KDB_C_TEXT:
    case KDB_C_BYTES:
        v.type = h.kind == KDB_C_TEXT ? KDB_S : KDB_B;
        v.data = h.data;
        v.size = h.size;
        break;
    case KDB_C_FLOAT:
        if (!isfinite(h.v.f)) return false;
        v.type = KDB_N;
        break;
    case KDB_C_UINT:
    case KDB_C_NEGINT:
        v.type = KDB_N;
        break;
    case KDB_C_TRUE:
    case KDB_C_FALSE:
        v.type = KDB_BOOL;
        v.b = h.kind == KDB_C_TRUE;
        break;
    case KDB_C_NULL:
        v.type = KDB_NULL;
        break;
    case KDB_C_ARRAY:
    case KDB_C_MAP: {
        size_t n = kdb_cbor_skip(p, len, SKIP_DEPTH);
        if (n == 0) return false;
        v.type = h.kind == KDB_C_ARRAY ? KDB_L : KDB_M;
        v.len = n;
        v.count = h.v.u;
        v.body = p + h.head_len;
        v.body_len = n - h.head_len;
        break;
    }
    case KDB_C_TAG:
        if (!decode_tagged(p, len, &h, &v, scan_vector)) return false;
        break;
    default:
        return false;
    }
    *out = v;
    return true;
}

bool kdb_val_decode(const uint8_t *p, size_t len, kdb_val *out) {
    return decode_value(p, len, out, true);
}

/* An integer head as a number (uint, negint) or a bignum tag followed by its bytes. */
static keel_status int_num(const uint8_t *p, size_t len, kdb_num *out) {
    kdb_head h;
    if (!kdb_cbor_head(p, len, &h)) return keel__fail(KEEL_EVALIDATION, "malformed number");
    if (h.kind == KDB_C_UINT) {
        kdb_num_from_u64(h.v.u, out);
        return KEEL_OK;
    }
    if (h.kind == KDB_C_NEGINT) {
        kdb_num_from_neg_u64(h.v.u, out);
        return KEEL_OK;
    }
    if (h.kind == KDB_C_TAG && (h.v.u == KDB_TAG_POS_BIGNUM || h.v.u == KDB_TAG_NEG_BIGNUM)) {
        kdb_head b;
        if (!kdb_cbor_head(p + h.head_len, len - h.head_len, &b) || b.kind != KDB_C_BYTES)
            return keel__fail(KEEL_EVALIDATION, "malformed bignum");
        return kdb_num_from_bignum(h.v.u == KDB_TAG_NEG_BIGNUM, b.data, b.size, out);
    }
    return keel__fail(KEEL_EVALIDATION, "malformed number");
}

keel_status kdb_val_num(const kdb_val *v, kdb_num *out) {
    if (v->type != KDB_N) return keel__fail(KEEL_EVALIDATION, "not a number");
    kdb_head h;
    if (!kdb_cbor_head(v->p, v->len, &h)) return keel__fail(KEEL_EVALIDATION, "malformed number");
    if (h.kind == KDB_C_UINT) {  /* as int_num would, without reading the head again */
        kdb_num_from_u64(h.v.u, out);
        return KEEL_OK;
    }
    if (h.kind == KDB_C_NEGINT) {
        kdb_num_from_neg_u64(h.v.u, out);
        return KEEL_OK;
    }
    if (h.kind == KDB_C_FLOAT) return kdb_num_from_double(h.v.f, out);
    if (h.kind != KDB_C_TAG || h.v.u != KDB_TAG_DECIMAL) return int_num(v->p, v->len, out);
    /* 4([e, m]): decode_tagged checked the shape */
    size_t pos = h.head_len;
    kdb_head a, e;
    if (!kdb_cbor_head(v->p + pos, v->len - pos, &a)) return keel__fail(KEEL_EVALIDATION, "malformed decimal");
    pos += a.head_len;
    if (!kdb_cbor_head(v->p + pos, v->len - pos, &e)) return keel__fail(KEEL_EVALIDATION, "malformed decimal");
    pos += e.head_len;
    int64_t ex;
    if (e.kind == KDB_C_UINT) ex = e.v.u > 1000000 ? 1000000 : (int64_t)e.v.u;
    else if (e.kind == KDB_C_NEGINT) ex = e.v.u > 1000000 ? -1000000 : -1 - (int64_t)e.v.u;
    else return keel__fail(KEEL_EVALIDATION, "malformed decimal");
    keel_status st = int_num(v->p + pos, v->len - pos, out);
    if (st != KEEL_OK) return st;
    return kdb_num_scale10(out, ex);
}

const char *kdb_type_name(kdb_type t) {
    switch (t) {
    case KDB_S: return "S";
    case KDB_N: return "N";
    case KDB_B: return "B";
    case KDB_BOOL: return "BOOL";
    case KDB_NULL: return "NULL";
    case KDB_L: return "L";
    case KDB_M: return "M";
    case KDB_SS: return "SS";
    case KDB_NS: return "NS";
    case KDB_BS: return "BS";
    case KDB_V: return "V";
    }
    return "?";
}

/* ---- iteration ------------------------------------------------------------------------- */

void kdb_iter_init(kdb_iter *it, const kdb_val *c) {
    memset(it, 0, sizeof *it);
    switch (c->type) {
    case KDB_L:
    case KDB_M:
    case KDB_SS:
    case KDB_NS:
    case KDB_BS:
        it->p = c->body;
        it->end = c->body + c->body_len;
        it->left = c->count;
        it->map = c->type == KDB_M;
        break;
    default:
        break;
    }
}

/* Is the pair at p a padding pair? Sets *len_out to its length. -1 malformed. */
static int padding_pair(const uint8_t *p, size_t rem, const kdb_head *k, size_t *len_out) {
    if (k->kind != KDB_C_UINT) return 0;
    kdb_head v;
    if (!kdb_cbor_head(p + k->head_len, rem - k->head_len, &v) || v.kind != KDB_C_BYTES) return -1;
    *len_out = k->head_len + v.head_len;
    return 1;
}

/* A map iterator's next attribute key, past any padding pairs: 1 with *k its head (it->p
 * still at the key), 0 when no pair is left, -1 on malformed bytes or a key that is not
 * text. */
static int next_key(kdb_iter *it, kdb_head *k) {
    while (it->left > 0) {
        size_t rem = (size_t)(it->end - it->p);
        if (!kdb_cbor_head(it->p, rem, k)) return -1;
        size_t plen = 0;
        int pad = padding_pair(it->p, rem, k, &plen);
        if (pad < 0) return -1;
        if (!pad) return k->kind == KDB_C_TEXT ? 1 : -1;
        it->p += plen;
        it->left--;
    }
    return 0;
}

int kdb_iter_next(kdb_iter *it, const uint8_t **name_out, size_t *name_len_out, kdb_val *val) {
    if (it->left == 0) return 0;
    if (it->map) {
        kdb_head k;
        int r = next_key(it, &k);
        if (r <= 0) return r;
        /* it->p stays at the pair until its value decodes (messages point there) */
        if (!kdb_val_decode(it->p + k.head_len, (size_t)(it->end - it->p) - k.head_len, val))
            return -1;
        if (name_out) *name_out = k.data;
        if (name_len_out) *name_len_out = k.size;
        it->p += k.head_len + val->len;
        it->left--;
        return 1;
    }
    if (name_out) *name_out = NULL;
    if (name_len_out) *name_len_out = 0;
    if (!kdb_val_decode(it->p, (size_t)(it->end - it->p), val)) return -1;
    it->p += val->len;
    it->left--;
    return 1;
}

/* The two-step form (db.h): the key is read and passed, the value left for the caller. */
int kdb_iter_key(kdb_iter *it, const uint8_t **name_out, size_t *name_len_out) {
    if (!it->map) return -1;
    kdb_head k;
    int r = next_key(it, &k);
    if (r <= 0) return r;
    *name_out = k.data;
    *name_len_out = k.size;
    it->p += k.head_len;
    return 1;
}

int kdb_iter_value(kdb_iter *it, kdb_val *val) {
    if (it->left == 0 || !kdb_val_decode(it->p, (size_t)(it->end - it->p), val)) return -1;
    it->p += val->len;
    it->left--;
    return 1;
}

int kdb_iter_skip(kdb_iter *it) {
    kdb_val v;
    if (it->left == 0 || !decode_value(it->p, (size_t)(it->end - it->p), &v, false)) return -1;
    it->p += v.len;
    it->left--;
    return 1;
}

bool kdb_item_open(const uint8_t *item, size_t len, kdb_val *out) {
    if (!item) return false;
    kdb_val v;
    if (!kdb_val_decode(item, len, &v) || v.type != KDB_M) return false;
    *out = v;
    return true;
}

bool kdb_item_attr(const uint8_t *item, size_t len, const char *name, size_t name_len,
                   kdb_val *out) {
    kdb_val m;
    if (!kdb_item_open(item, len, &m)) return false;
    kdb_iter it;
    kdb_iter_init(&it, &m);
    const uint8_t *n;
    size_t nl;
    kdb_val v;
    while (kdb_iter_next(&it, &n, &nl, &v) == 1) {
        if (nl == name_len && memcmp(n, name, nl) == 0) {
            *out = v;
            return true;
        }
    }
    return false;
}

/* ---- validation ------------------------------------------------------------------------ */

bool kdb_utf8_valid(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k;
        uint32_t cp, min;
        if ((c & 0xE0) == 0xC0) k = 1, cp = c & 0x1Fu, min = 0x80;
        else if ((c & 0xF0) == 0xE0) k = 2, cp = c & 0x0Fu, min = 0x800;
        else if ((c & 0xF8) == 0xF0) k = 3, cp = c & 0x07u, min = 0x10000;
        else return false;
        if (n - i <= k) return false;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80) return false;
            cp = cp << 6 | (s[i + j] & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += k + 1;
    }
    return true;
}

bool kdb_catalog_text(const kdb_val *v, char *out, size_t cap) {
    if (v->type != KDB_S || v->size == 0 || v->size >= cap || memchr(v->data, 0, v->size) ||
        !kdb_utf8_valid(v->data, v->size))
        return false;
    memcpy(out, v->data, v->size);
    out[v->size] = '\0';
    return true;
}

/* ---- stored form ----------------------------------------------------------------------- */

keel_status kdb_item_store_form(const uint8_t *item, size_t len, kdb_buf *out) {
    out->len = 0;
    out->failed = false;
    kdb_val m;
    if (!kdb_item_open(item, len, &m) || m.len != len)
        return keel__fail(KEEL_EVALIDATION, "item: not a well-formed CBOR map");
    /* Pass 1: count the attributes and the vectors. */
    uint64_t attrs = 0, vectors = 0;
    kdb_iter it;
    kdb_iter_init(&it, &m);
    kdb_val v;
    int r;
    while ((r = kdb_iter_next(&it, NULL, NULL, &v)) == 1) {
        attrs++;
        if (v.type == KDB_V) vectors++;
    }
    if (r < 0) return keel__fail(KEEL_EVALIDATION, "item: malformed map");
    kdb_enc_map(out, attrs + vectors);
    /* No vector and no padding pair (the head counts every pair), under a head written as
     * ours: pass 2 would copy the bytes after the head as they are, so copy them at once
     * (most items; pass 2 is a third of this function's time). */
    if (!vectors && attrs == m.count && out->len <= len && m.body == item + out->len &&
        memcmp(out->p, item, out->len) == 0) {
        kdb_buf_put(out, m.body, len - out->len);
        return out->failed ? keel__fail(KEEL_ENOMEM, "item: out of memory building the stored "
                                        "form") : KEEL_OK;
    }
    /* Pass 2: copy each attribute's key and value bytes, a padding pair before vectors. */
    kdb_iter_init(&it, &m);
    for (;;) {
        const uint8_t *key_start = it.p;
        r = kdb_iter_next(&it, NULL, NULL, &v);
        if (r <= 0) break;
        /* The iterator may have skipped padding pairs: the key is the head just before
         * the value. Find it by decoding heads from key_start. */
        const uint8_t *k = key_start;
        for (;;) {
            kdb_head h;
            if (!kdb_cbor_head(k, (size_t)(v.p - k), &h)) return keel__fail(KEEL_EVALIDATION, "item: malformed map");
            if (k + h.head_len == v.p) break;
            k += h.head_len; /* a padding key or value */
        }
        size_t key_len = (size_t)(v.p - k);
        if (v.type == KDB_V) {
            size_t hdr = (size_t)(v.data - v.p);
            size_t at = (out->len + 3 + key_len + hdr) % 64; /* with the smallest pair */
            size_t pad = 3 + (at ? 64 - at : 0);             /* 3..66 */
            uint8_t pair[66];
            memset(pair, 0, sizeof pair);
            pair[0] = 0x00;
            pair[1] = 0x58;
            pair[2] = (uint8_t)(pad - 3);
            kdb_buf_put(out, pair, pad);
        }
        kdb_buf_put(out, k, key_len);
        kdb_buf_put(out, v.p, v.len);
    }
    if (r < 0) return keel__fail(KEEL_EVALIDATION, "item: malformed map");
    if (out->failed) return keel__fail(KEEL_ENOMEM, "item: out of memory building the stored form");
    return KEEL_OK;
}

/* ---- equality and order ---------------------------------------------------------------- */

static bool num_equal(const kdb_val *a, const kdb_val *b) {
    kdb_num x, y;
    if (kdb_val_num(a, &x) != KEEL_OK || kdb_val_num(b, &y) != KEEL_OK)
        return a->len == b->len && memcmp(a->p, b->p, a->len) == 0;
    return kdb_num_cmp(&x, &y) == 0;
}

/* Elements of container a, each found in b (sets) or at the same position (lists). */
static bool elems_in(const kdb_val *a, const kdb_val *b) {
    kdb_iter ia;
    kdb_iter_init(&ia, a);
    kdb_val x, y;
    int r;
    while ((r = kdb_iter_next(&ia, NULL, NULL, &x)) == 1) {
        kdb_iter ib;
        kdb_iter_init(&ib, b);
        bool found = false;
        int s;
        while (!found && (s = kdb_iter_next(&ib, NULL, NULL, &y)) == 1) found = kdb_val_equal(&x, &y);
        if (!found) return false;
    }
    return r == 0;
}

static bool maps_equal(const kdb_val *a, const kdb_val *b) {
    uint64_t na = 0, nb = 0;
    kdb_iter ia, ib;
    const uint8_t *n1, *n2;
    size_t l1, l2;
    kdb_val x, y;
    int r;
    kdb_iter_init(&ib, b);
    while ((r = kdb_iter_next(&ib, NULL, NULL, &y)) == 1) nb++;
    if (r < 0) return false;
    kdb_iter_init(&ia, a);
    while ((r = kdb_iter_next(&ia, &n1, &l1, &x)) == 1) {
        na++;
        kdb_iter_init(&ib, b);
        bool found = false;
        while (!found && kdb_iter_next(&ib, &n2, &l2, &y) == 1)
            if (l1 == l2 && memcmp(n1, n2, l1) == 0) found = true;
        if (!found || !kdb_val_equal(&x, &y)) return false;
    }
    return r == 0 && na == nb;
}

bool kdb_vec_elem(const kdb_val *v, uint64_t i, uint8_t buf[KDB_VEC_ELEM_LEN], kdb_val *out) {
    if (v->type != KDB_V || i >= v->count || (i + 1) * 4 > v->size) return false;
    uint32_t bits = keel__ld32(v->data + 4 * i);
    float f;
    memcpy(&f, &bits, 4);
    if (!isfinite(f)) return false;     /* kdb_val_decode refused such a vector already */
    char text[32];
    kdb_f32_text(f, text, sizeof text);
    double d = strtod(text, NULL);
    uint64_t u;
    memcpy(&u, &d, 8);
    buf[0] = 0xFB;                      /* CBOR float64, big-endian */
    for (int k = 0; k < 8; k++) buf[1 + k] = (uint8_t)(u >> (56 - 8 * k));
    return kdb_val_decode(buf, KDB_VEC_ELEM_LEN, out);
}

/* A vector against a list: as long, and each element a number equal to the vector's. */
static bool vec_list_equal(const kdb_val *vec, const kdb_val *list) {
    if (vec->count != list->count) return false;
    kdb_iter it;
    kdb_iter_init(&it, list);
    kdb_val x, y;
    uint8_t buf[KDB_VEC_ELEM_LEN];
    for (uint64_t i = 0; i < vec->count; i++)
        if (kdb_iter_next(&it, NULL, NULL, &y) != 1 || y.type != KDB_N ||
            !kdb_vec_elem(vec, i, buf, &x) || !kdb_val_equal(&x, &y))
            return false;
    return true;
}

bool kdb_val_equal(const kdb_val *a, const kdb_val *b) {
    if (a->type == KDB_V && b->type == KDB_L) return vec_list_equal(a, b);
    if (a->type == KDB_L && b->type == KDB_V) return vec_list_equal(b, a);
    if (a->type != b->type) return false;
    switch (a->type) {
    case KDB_S:
    case KDB_B:
        return a->size == b->size && (a->size == 0 || memcmp(a->data, b->data, a->size) == 0);
    case KDB_N:
        return num_equal(a, b);
    case KDB_BOOL:
        return a->b == b->b;
    case KDB_NULL:
        return true;
    case KDB_V:
        if (a->size != b->size) return false;
        for (size_t i = 0; i < a->size; i += 4) {
            uint32_t u = keel__ld32(a->data + i), w = keel__ld32(b->data + i);
            float f, g;
            memcpy(&f, &u, 4);
            memcpy(&g, &w, 4);
            if (f != g) return false;
        }
        return true;
    case KDB_L: {
        if (a->count != b->count) return false;
        kdb_iter ia, ib;
        kdb_iter_init(&ia, a);
        kdb_iter_init(&ib, b);
        kdb_val x, y;
        int r;
        while ((r = kdb_iter_next(&ia, NULL, NULL, &x)) == 1)
            if (kdb_iter_next(&ib, NULL, NULL, &y) != 1 || !kdb_val_equal(&x, &y)) return false;
        return r == 0;
    }
    case KDB_M:
        return maps_equal(a, b);
    case KDB_SS:
    case KDB_NS:
    case KDB_BS:
        /* sets hold no duplicates: same size and a within b means equal */
        return a->count == b->count && elems_in(a, b);
    }
    return false;
}

int kdb_val_compare(const kdb_val *a, const kdb_val *b) {
    if (a->type != b->type) return 2;
    if (a->type == KDB_N) {
        kdb_num x, y;
        if (kdb_val_num(a, &x) != KEEL_OK || kdb_val_num(b, &y) != KEEL_OK) return 2;
        int c = kdb_num_cmp(&x, &y);
        return (c > 0) - (c < 0);
    }
    if (a->type == KDB_S || a->type == KDB_B) {
        size_t m = a->size < b->size ? a->size : b->size;
        int c = m ? memcmp(a->data, b->data, m) : 0;
        if (c == 0) c = a->size < b->size ? -1 : a->size > b->size;
        return (c > 0) - (c < 0);
    }
    return 2;
}
