/*
 * vec_write.c: the vector attributes of an item being written, brought into the form the
 * table's vector indexes read, on every write path (put, update, batch, transaction,
 * PartiQL, the DynamoDB handler): kdb_writes_run calls kdb_vec_conform under the writer
 * lock for each new item of a table that has vector indexes.
 *
 * DynamoDB's rule (reference/dynamodb.md 1.8: it has no vector type, a vector is an L of
 * N): the indexed attribute of a vector index, when the item has it, must be a list of
 * exactly `dims` numbers, each in float32's range; anything else refuses the write with
 * a ValidationException naming the attribute and the index. keel stores such a list as a
 * float32 vector (CBOR tag 85, docs/FORMAT.md), so that the index finds it and searches read
 * it in place; a float32 vector given as one (numpy, keeldb.Vector) must have the index's
 * dimensions too. An update checks only the attributes it changed (an attribute whose
 * encoding is byte-identical to the stored item's is left alone, as DynamoDB validates what
 * a write changes), so an item stored before this rule stays updatable.
 *
 * To an update expression a stored vector is what DynamoDB shows, a list of numbers: an
 * update that cannot apply to the stored form (`SET v[1] = :x`, `list_append(v, :l)`) is
 * applied again to the item with its indexed vectors as lists (kdb_vec_as_lists: each
 * element the shortest decimal that reads back as its float32), and the result is checked
 * and converted like any write.
 */
#include "db/db_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CONVERT KEEL_DB_MAX_VECTOR_INDEXES

static const char *type_token(kdb_type t) {
    static const char *const names[] = {"?", "S", "N", "B", "BOOL", "NULL", "L", "M",
                                        "SS", "NS", "BS", "L"};
    return (unsigned)t < sizeof names / sizeof *names ? names[t] : "?";
}

/* The float32 value (nearest) of the number v into *out; KEEL_EVALIDATION when it is
 * outside float32's range. */
static keel_status to_f32(const kdb_vindex *x, size_t i, const kdb_val *v, float *out) {
    kdb_num num;
    char text[KDB_NUM_STR_MAX];
    if (kdb_val_num(v, &num) != KEEL_OK)
        return keel__fail(KEEL_ECORRUPT, "a number of vector attribute %s is malformed", x->attr);
    kdb_num_format(&num, text, sizeof text);
    float f = strtof(text, NULL);   /* overflow: infinity; underflow: 0 or a subnormal */
    if (!isfinite(f))
        return keel__fail(KEEL_EVALIDATION, "One or more parameter values were invalid: Invalid "
                          "value for parameter %s[%zu]: the number %.60s is outside the float32 "
                          "range [-3.4028235E38, 3.4028235E38]. IndexName: %s", x->attr, i,
                          text, x->name);
    *out = f == 0 ? 0.0f : f;   /* -0 is stored as 0, as DynamoDB reads it back */
    return KEEL_OK;
}

/* Check the value v of x's attribute; *convert true when it is an L to store as a vector. */
static keel_status check_value(const kdb_vindex *x, const kdb_val *v, bool *convert) {
    *convert = false;
    if (v->type == KDB_V) {
        if (v->count == x->dims) return KEEL_OK;
        return keel__fail(KEEL_EVALIDATION, "One or more parameter values were invalid: Invalid "
                          "size for parameter %s, Expected: %u, Actual: %llu (the dimensions of "
                          "vector index %s)", x->attr, x->dims, (unsigned long long)v->count,
                          x->name);
    }
    if (v->type != KDB_L)
        return keel__fail(KEEL_EVALIDATION, "One or more parameter values were invalid: Invalid "
                          "type for parameter %s, Expected: L, Actual: %s. IndexName: %s",
                          x->attr, type_token(v->type), x->name);
    if (v->count != x->dims)
        return keel__fail(KEEL_EVALIDATION, "One or more parameter values were invalid: Invalid "
                          "size for parameter %s, Expected: %u, Actual: %llu (the dimensions of "
                          "vector index %s)", x->attr, x->dims, (unsigned long long)v->count,
                          x->name);
    kdb_iter it;
    kdb_iter_init(&it, v);
    kdb_val e;
    int r;
    size_t i = 0;
    while ((r = kdb_iter_next(&it, NULL, NULL, &e)) == 1) {
        if (e.type != KDB_N)
            return keel__fail(KEEL_EVALIDATION, "One or more parameter values were invalid: "
                              "Invalid type for parameter %s[%zu], Expected: 32-bit floating "
                              "point number, Actual: %s. IndexName: %s", x->attr, i,
                              type_token(e.type), x->name);
        float f;
        keel_status st = to_f32(x, i, &e, &f);
        if (st != KEEL_OK) return st;
        i++;
    }
    if (r < 0) return keel__fail(KEEL_EVALIDATION, "vector attribute %s: malformed list", x->attr);
    *convert = true;
    return KEEL_OK;
}

/* The list v (checked) as tag 85 around its float32 payload, little-endian. */
static void encode_vector(const kdb_vindex *x, const kdb_val *v, kdb_buf *out) {
    kdb_enc_tag(out, KDB_TAG_F32LE);
    uint8_t *le = malloc((size_t)x->dims * 4);
    if (!le) {
        out->failed = true;
        return;
    }
    kdb_iter it;
    kdb_iter_init(&it, v);
    kdb_val e;
    for (size_t i = 0; i < x->dims && kdb_iter_next(&it, NULL, NULL, &e) == 1; i++) {
        float f = 0;
        to_f32(x, i, &e, &f);
        uint32_t u;
        memcpy(&u, &f, 4);
        le[4 * i] = (uint8_t)u, le[4 * i + 1] = (uint8_t)(u >> 8);
        le[4 * i + 2] = (uint8_t)(u >> 16), le[4 * i + 3] = (uint8_t)(u >> 24);
    }
    kdb_enc_bytes(out, le, (size_t)x->dims * 4);
    free(le);
}

static bool same_value(const uint8_t *old, size_t old_len, const char *name, const kdb_val *v) {
    kdb_val o;
    return old && kdb_item_attr(old, old_len, name, strlen(name), &o) && o.len == v->len &&
           memcmp(o.p, v->p, v->len) == 0;
}

keel_status kdb_vec_conform(keel_db *db, uint32_t table, const uint8_t *item, size_t len,
                            const uint8_t *old, size_t old_len, kdb_buf *out, bool *changed) {
    *changed = false;
    const kdb_vindex *conv[MAX_CONVERT];
    size_t nconv = 0;
    for (size_t i = 0; i < db->nvix; i++) {
        const kdb_vindex *x = db->vix[i];
        kdb_val v;
        if (x->owner != table || !kdb_item_attr(item, len, x->attr, strlen(x->attr), &v) ||
            same_value(old, old_len, x->attr, &v))
            continue;
        bool convert;
        keel_status st = check_value(x, &v, &convert);
        if (st != KEEL_OK) return st;
        bool seen = false;  /* two indexes on one attribute convert it once */
        for (size_t j = 0; j < nconv; j++) seen |= strcmp(conv[j]->attr, x->attr) == 0;
        if (convert && !seen && nconv < MAX_CONVERT) conv[nconv++] = x;
    }
    if (!nconv) return KEEL_OK;
    kdb_val m, v;
    if (!kdb_item_open(item, len, &m)) return keel__fail(KEEL_EVALIDATION, "item: malformed");
    kdb_iter it;
    const uint8_t *name;
    size_t nlen;
    uint64_t pairs = 0;
    int r;
    kdb_iter_init(&it, &m);
    while ((r = kdb_iter_next(&it, &name, &nlen, &v)) == 1) pairs++;
    out->len = 0;
    out->failed = false;
    kdb_enc_map(out, pairs);
    kdb_iter_init(&it, &m);
    while ((r = kdb_iter_next(&it, &name, &nlen, &v)) == 1) {
        kdb_enc_text(out, (const char *)name, nlen);
        const kdb_vindex *x = NULL;
        for (size_t j = 0; j < nconv && !x; j++)
            if (strlen(conv[j]->attr) == nlen && memcmp(conv[j]->attr, name, nlen) == 0)
                x = conv[j];
        if (x) encode_vector(x, &v, out);
        else kdb_buf_put(out, v.p, v.len);
    }
    if (r < 0) return keel__fail(KEEL_EVALIDATION, "item: malformed map");
    if (out->failed) return keel__fail(KEEL_ENOMEM, "item: out of memory storing its vectors");
    *changed = true;
    return KEEL_OK;
}

/* The shortest decimal text that strtof reads back as f (f finite). */
static bool indexed_attr(const keel_db *db, uint32_t table, const uint8_t *name, size_t len) {
    for (size_t i = 0; i < db->nvix; i++) {
        const kdb_vindex *x = db->vix[i];
        if (x->owner == table && strlen(x->attr) == len && memcmp(x->attr, name, len) == 0)
            return true;
    }
    return false;
}

bool kdb_vec_as_lists(const keel_db *db, uint32_t table, const uint8_t *item, size_t len,
                      kdb_buf *out) {
    kdb_val m, v;
    kdb_iter it;
    const uint8_t *name;
    size_t nlen;
    uint64_t pairs = 0;
    bool any = false;
    int r;
    if (!kdb_item_open(item, len, &m)) return false;
    kdb_iter_init(&it, &m);
    while ((r = kdb_iter_next(&it, &name, &nlen, &v)) == 1) {
        pairs++;
        any |= v.type == KDB_V && indexed_attr(db, table, name, nlen);
    }
    if (r < 0 || !any) return false;
    out->len = 0;
    out->failed = false;
    kdb_enc_map(out, pairs);
    kdb_iter_init(&it, &m);
    while ((r = kdb_iter_next(&it, &name, &nlen, &v)) == 1) {
        kdb_enc_text(out, (const char *)name, nlen);
        if (v.type != KDB_V || !indexed_attr(db, table, name, nlen)) {
            kdb_buf_put(out, v.p, v.len);
            continue;
        }
        kdb_enc_array(out, v.count);
        for (uint64_t i = 0; i < v.count; i++) {
            uint32_t bits = (uint32_t)v.data[4 * i] | (uint32_t)v.data[4 * i + 1] << 8 |
                            (uint32_t)v.data[4 * i + 2] << 16 | (uint32_t)v.data[4 * i + 3] << 24;
            float f;
            memcpy(&f, &bits, 4);
            char text[32];
            kdb_num num;
            kdb_f32_text(f, text, sizeof text);
            if (kdb_num_parse(text, strlen(text), &num) != KEEL_OK) return false;
            kdb_enc_num(out, &num);
        }
    }
    return r == 0 && !out->failed;
}
