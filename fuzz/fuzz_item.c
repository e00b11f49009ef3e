/*
 * fuzz_item.c: libFuzzer target for the Database face's value decoders (src/db: cbor.c,
 * item.c, number.c), the surface that takes item bytes from callers and from disk.
 *
 * Every input goes through all of them:
 *   1. kdb_cbor_head and kdb_cbor_head_libcbor agree at every offset (same acceptance,
 *      kind, value, payload and length);
 *   2. kdb_item_check; for an accepted item: kdb_item_store_form succeeds, its output is
 *      accepted with the same DynamoDB size, equals the input (kdb_val_equal), puts every
 *      top-level vector's payload 64-byte aligned, and storing it again changes nothing;
 *   3. kdb_val_decode and a recursive kdb_iter walk (kdb_val_num, equality, ordering) of
 *      whatever decodes, accepted item or not; the value's length never exceeds the input;
 *   4. kdb_num_parse of the bytes as text: an accepted number formats, re-parses and
 *      key-encodes to itself; kdb_num_key_decode of the bytes: an accepted encoding
 *      re-encodes to the same bytes;
 *   5. a key given by value (keel_db_get_item_attrs' kdb_item_key_attrs), read from the
 *      bytes: when it takes the key, kdb_item_key on the same key as a CBOR map gives the
 *      same status, message and store key.
 * Broken promises abort; ASan/UBSan catch the rest. The target includes src/db/db.h (as
 * the C tests do): these decoders have no public entry point of their own.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "db/db.h"
#include "db/db_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    return 0;
}

#define PROMISE(c)                                                                  \
    do {                                                                            \
        if (!(c)) {                                                                 \
            fprintf(stderr, "broken promise: %s (%s:%d) [%s]\n", #c, __FILE__, __LINE__, \
                    keel_errmsg());                                                 \
            abort();                                                                \
        }                                                                           \
    } while (0)

static bool same_head(const kdb_head *a, const kdb_head *b) {
    if (a->kind != b->kind || a->head_len != b->head_len || a->data != b->data ||
        a->size != b->size)
        return false;
    if (a->kind == KDB_C_FLOAT) return a->v.f == b->v.f || (isnan(a->v.f) && isnan(b->v.f));
    return a->v.u == b->v.u;
}

static bool same_num(const kdb_num *a, const kdb_num *b) {
    return a->sign == b->sign && a->n == b->n && a->exp == b->exp &&
           memcmp(a->d, b->d, a->n) == 0;
}

static void walk(const kdb_val *v, const uint8_t *end, int depth) {
    PROMISE(v->p + v->len <= end);
    kdb_num x;
    if (v->type == KDB_N && kdb_val_num(v, &x) == KEEL_OK) PROMISE(kdb_num_check(&x) == KEEL_OK);
    (void)kdb_val_compare(v, v);
    if (depth > (int)KEEL_DB_MAX_DEPTH + 2) return;
    kdb_iter it;
    kdb_iter_init(&it, v);
    kdb_val e;
    const uint8_t *name;
    size_t nl;
    while (kdb_iter_next(&it, &name, &nl, &e) == 1) {
        PROMISE(e.p >= v->p && e.p + e.len <= v->p + v->len);
        walk(&e, end, depth + 1);
    }
}

static void check_item(const uint8_t *data, size_t size) {
    size_t dsize;
    if (kdb_item_check(data, size, &dsize) != KEEL_OK) return;
    kdb_val a, b, va, vb;
    PROMISE(kdb_item_open(data, size, &a));
    PROMISE(kdb_val_equal(&a, &a));
    kdb_buf out = { 0 }, again = { 0 };
    PROMISE(kdb_item_store_form(data, size, &out) == KEEL_OK);
    size_t dsize2;
    PROMISE(kdb_item_check(out.p, out.len, &dsize2) == KEEL_OK && dsize2 == dsize);
    PROMISE(kdb_item_open(out.p, out.len, &b));
    PROMISE(kdb_val_equal(&a, &b) && kdb_val_equal(&b, &a));
    kdb_iter it;
    kdb_iter_init(&it, &b);
    const uint8_t *name;
    size_t nl;
    while (kdb_iter_next(&it, &name, &nl, &vb) == 1) {
        if (vb.type == KDB_V) PROMISE((size_t)(vb.data - out.p) % 64 == 0);
        PROMISE(kdb_item_attr(data, size, (const char *)name, nl, &va));
        PROMISE(kdb_val_equal(&va, &vb));
    }
    PROMISE(kdb_item_store_form(out.p, out.len, &again) == KEEL_OK);
    PROMISE(again.len == out.len && memcmp(again.p, out.p, out.len) == 0);
    kdb_buf_free(&out);
    kdb_buf_free(&again);
}

/* Promise 5. The first byte picks the schema (key types, a sort key or not) and the count
 * (0..3); each attribute then takes a byte for its name (the partition or sort key's,
 * a prefix or an extension of one, another, empty) and type (S, N, B, or an invalid one),
 * and 8 bytes for an N value or a length byte and that many bytes for S and B. */
static void check_key_attrs(const uint8_t *p, size_t size) {
    if (size < 1) return;
    static const keel_db_keytype types[] = {KEEL_DB_KEY_S, KEEL_DB_KEY_N, KEEL_DB_KEY_B};
    static const char *const names[] = {"pk", "sk", "p", "skk", "", "q"};
    kdb_table t;
    memset(&t, 0, sizeof t);
    t.id = 16;
    strcpy(t.pk, "pk");
    t.pkt = types[p[0] % 3];
    if ((p[0] / 3) % 2) {
        strcpy(t.sk, "sk");
        t.skt = types[(p[0] / 6) % 3];
    }
    size_t n = (p[0] >> 5) % 4, at = 1;
    keel_db_key_attr a[3];
    for (size_t i = 0; i < n; i++) {
        if (at >= size) return;
        unsigned b = p[at++];
        a[i].name = names[b % 6];
        a[i].name_len = strlen(a[i].name);
        unsigned ty = (b / 6) % 4;
        a[i].type = ty < 3 ? types[ty] : (keel_db_keytype)'X';
        a[i].data = NULL;
        a[i].len = 0;
        a[i].n = 0;
        if (a[i].type == KEEL_DB_KEY_N) {
            if (size - at < 8) return;
            uint64_t u = 0;
            for (int j = 0; j < 8; j++) u = u << 8 | p[at + j];
            a[i].n = (int64_t)u;
            at += 8;
        } else {
            if (at >= size) return;
            size_t len = p[at++];
            if (len > size - at) return;
            a[i].data = p + at;
            a[i].len = len;
            at += len;
        }
    }
    kdb_key k1, k2;
    keel_status s1;
    if (!kdb_item_key_attrs(&t, a, n, &k1, &s1)) return;
    char m1[512];
    snprintf(m1, sizeof m1, "%s", keel_errmsg());
    kdb_buf map = {0};
    kdb_enc_map(&map, n);
    for (size_t i = 0; i < n; i++) {
        kdb_enc_text(&map, a[i].name, a[i].name_len);
        PROMISE(a[i].type != (keel_db_keytype)'X');  /* the fast path refuses those */
        if (a[i].type == KEEL_DB_KEY_S) kdb_enc_text(&map, a[i].data, a[i].len);
        else if (a[i].type == KEEL_DB_KEY_B) kdb_enc_bytes(&map, a[i].data, a[i].len);
        else kdb_enc_i64(&map, a[i].n);
    }
    PROMISE(!map.failed);
    keel_status s2 = kdb_item_key(&t, map.p, map.len, true, &k2);
    PROMISE(s1 == s2);
    if (s1 == KEEL_OK) PROMISE(k1.len == k2.len && memcmp(k1.b, k2.b, k1.len) == 0 &&
                               k1.part_len == k2.part_len);
    else PROMISE(strcmp(m1, keel_errmsg()) == 0);
    kdb_buf_free(&map);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* a tight copy: reading one byte past it is an ASan report */
    uint8_t *p = malloc(size ? size : 1);
    if (!p) return 0;
    if (size) memcpy(p, data, size);

    for (size_t at = 0; at < size; at++) {
        kdb_head h1, h2;
        bool r1 = kdb_cbor_head(p + at, size - at, &h1);
        bool r2 = kdb_cbor_head_libcbor(p + at, size - at, &h2);
        PROMISE(r1 == r2);
        if (r1) PROMISE(same_head(&h1, &h2) && h1.head_len <= size - at);
    }
    size_t n = kdb_cbor_skip(p, size, KEEL_DB_MAX_DEPTH + 1);
    PROMISE(n <= size);
    if (n) PROMISE(kdb_cbor_skip(p, size, 100000) == n);

    check_item(p, size);
    check_key_attrs(p, size);

    kdb_val v;
    if (kdb_val_decode(p, size, &v)) {
        PROMISE(v.len <= size && v.len > 0);
        walk(&v, p + size, 0);
    }

    kdb_num x, y;
    if (kdb_num_parse((const char *)p, size, &x) == KEEL_OK) {
        char buf[KDB_NUM_STR_MAX];
        size_t l = kdb_num_format(&x, buf, sizeof buf);
        PROMISE(kdb_num_parse(buf, l, &y) == KEEL_OK && same_num(&x, &y));
        uint8_t k[KDB_NUM_KEY_MAX];
        size_t kl = kdb_num_key_encode(&x, k), used;
        PROMISE(kdb_num_key_decode(k, kl, &y, &used) && used == kl && same_num(&x, &y));
        kdb_buf e = { 0 };
        kdb_enc_num(&e, &x);
        kdb_val ev;
        PROMISE(!e.failed && kdb_val_decode(e.p, e.len, &ev) && ev.type == KDB_N);
        PROMISE(kdb_val_num(&ev, &y) == KEEL_OK && same_num(&x, &y));
        kdb_buf_free(&e);
    }
    size_t used;
    if (kdb_num_key_decode(p, size, &x, &used)) {
        uint8_t k[KDB_NUM_KEY_MAX];
        PROMISE(used <= size && kdb_num_key_encode(&x, k) == used && memcmp(k, p, used) == 0);
    }
    free(p);
    return 0;
}
