/*
 * expr_eval.c: parsed expressions (db/expr.h) applied to encoded items.
 *
 * Everything here reads the item's CBOR where it lies: a document path is resolved by
 * walking maps and lists with kdb_iter (padding entries skipped), values are compared with
 * kdb_val_equal / kdb_val_compare, and a projection copies the selected values' encodings
 * byte for byte into the output. No other representation of an item is ever built.
 *
 * Cost: a map's attributes that a path does not name are stepped over (kdb_iter_skip:
 * checked like a decode, but a vector's payload is not read), and a projection is written
 * in one pass (each map or list head inserted once its entries are written). Decoding a
 * vector scans its payload for non-finite values, and before this a projection decoded
 * every attribute twice (a counting pass, then a writing one): a vector search returning
 * 768-dimension vectors paid two 3 KB scans per hit even for projection "p".
 *
 * DynamoDB's semantics kept here:
 *   - a path that does not resolve (missing attribute, name on a non-map, index on a
 *     non-list or past its end) makes every comparison false except "<>", which is true
 *     (a missing value equals nothing); attribute_exists false, attribute_not_exists true;
 *   - "=" and "<>" compare any two values deeply (different types are unequal); "<", "<=",
 *     ">", ">=" and BETWEEN only N with N, S with S (UTF-8 bytes), B with B, else false;
 *   - size() is the length of an S in UTF-16 code units (as DynamoDB counts), the byte
 *     length of a B, the element count of a set, L or M (and the dimensions of a vector);
 *     on other types there is no size and the comparison is false;
 *   - contains(path, v): substring of an S or B, element of a set, element of a list
 *     (deep equality); begins_with on S or B only;
 *   - a projection keeps the item's attributes in item order; nested paths give nested
 *     maps, list indexes give lists of the selected elements in index order; a path
 *     missing from the item is simply absent (and so is a map or list left empty);
 *   - a float32 vector (keel's V) is the list of numbers DynamoDB knows it as: v[i] is
 *     the N its element stands for (kdb_vec_elem: the shortest decimal that reads back as
 *     the float32, encoded as a CBOR float64 in a buffer of the caller's), so comparisons,
 *     IN, contains(), attribute_exists(v[i]) and projections of v[i] see it, v equals a
 *     list of those numbers, and attribute_type(v, "L") holds.
 * A malformed item (possible only with bytes that never passed kdb_item_check) reads as
 * if the damaged part were missing: evaluation never fails and never reads outside
 * item[0..len). A value that does not decode anywhere before the value sought is reported
 * (damaged, or a projection's KEEL_ECORRUPT), except a non-finite float32 inside a vector
 * the expression does not name: that payload is not read.
 */
#include "db/expr.h"

#include <stdlib.h>
#include <string.h>

/* ---- paths ---------------------------------------------------------------------------------- */

/* Set when a lookup met bytes that do not decode (a damaged stored item); kdb_expr_eval
 * clears it first and reports it, so that a damaged item is not taken for one that lacks
 * the attribute (a filter would drop it silently, a condition would see it absent). */
static _Thread_local bool damaged;

/* Other attributes are stepped over, not decoded (a vector's payload is not read). */
static bool child_named(const kdb_val *m, const uint8_t *name, size_t len, kdb_val *out) {
    if (m->type != KDB_M) return false;
    kdb_iter it;
    kdb_iter_init(&it, m);
    const uint8_t *n;
    size_t nl;
    int r;
    while ((r = kdb_iter_key(&it, &n, &nl)) == 1) {
        if (nl == len && memcmp(n, name, len) == 0) {
            if ((r = kdb_iter_value(&it, out)) == 1) return true;
            break;
        }
        if ((r = kdb_iter_skip(&it)) != 1) break;
    }
    if (r < 0) damaged = true;
    return false;
}

static bool child_at(const kdb_val *l, uint32_t index, kdb_val *out, uint8_t *elem) {
    if (l->type == KDB_V) return elem && kdb_vec_elem(l, index, elem, out);
    if (l->type != KDB_L || index >= l->count) return false;
    kdb_iter it;
    kdb_iter_init(&it, l);
    for (uint32_t i = 0;; i++) {
        int r = kdb_iter_next(&it, NULL, NULL, out);
        if (r != 1) {
            if (r < 0) damaged = true;
            return false;
        }
        if (i == index) return true;
    }
}

bool kdb_expr_resolve(const kdb_expr *e, const kdb_enode *path, const kdb_val *root,
                      kdb_val *out, uint8_t *elem) {
    return kdb_expr_resolve_from(e, path, 0, root, out, elem);
}

bool kdb_expr_resolve_from(const kdb_expr *e, const kdb_enode *path, uint32_t from,
                           const kdb_val *start, kdb_val *out, uint8_t *elem) {
    if (!start) return false;
    kdb_val v = *start;
    for (uint32_t k = from; k < path->n; k++) {
        const kdb_epel *pel = &e->pels[path->first + k];
        kdb_val next;
        /* a vector's element is a number: nothing below it, so `elem` is written once */
        if (pel->name ? !child_named(&v, pel->name, pel->len, &next)
                      : !child_at(&v, pel->index, &next, elem))
            return false;
        v = next;
    }
    *out = v;
    return true;
}

/* The item's top-level map from its head alone. kdb_item_open would first walk the whole
 * item to find its end; here each pair is checked as the iterator reaches it (a malformed
 * one ends the walk), so a lookup reads the item once, not twice. */
static bool open_root(const uint8_t *item, size_t len, kdb_val *out) {
    kdb_head h;
    if (!item || !kdb_cbor_head(item, len, &h) || h.kind != KDB_C_MAP) return false;
    memset(out, 0, sizeof *out);
    out->type = KDB_M;
    out->p = item;
    out->len = len;
    out->count = h.v.u;
    out->body = item + h.head_len;
    out->body_len = len - h.head_len;
    return true;
}

/* ---- operands ------------------------------------------------------------------------------- */

/* An operand's value; `buf` holds the encoding of a size() result or a vector element. */
typedef struct opval {
    kdb_val v;
    uint8_t buf[KDB_VEC_ELEM_LEN > 9 ? KDB_VEC_ELEM_LEN : 9];
} opval;

/* DynamoDB counts a string's size in UTF-16 code units (checked against the service by
 * others: size("\u00e9\U0001d11e") is 3): one per code point, two past U+FFFF. From UTF-8,
 * that is one per byte that starts a code point, plus one per 4-byte lead. */
static uint64_t utf16_units(const uint8_t *s, size_t n) {
    uint64_t units = 0;
    for (size_t i = 0; i < n; i++) units += (uint64_t)((s[i] & 0xC0) != 0x80) + (s[i] >= 0xF0);
    return units;
}

static bool size_of(const kdb_val *v, uint64_t *out) {
    switch (v->type) {
    case KDB_S: *out = utf16_units(v->data, v->size); return true;
    case KDB_B: *out = v->size; return true;
    case KDB_L:
    case KDB_M:
    case KDB_SS:
    case KDB_NS:
    case KDB_BS:
    case KDB_V: *out = v->count; return true;
    default: return false;
    }
}

/* A CBOR unsigned integer (major type 0), shortest form. */
static size_t cbor_uint(uint8_t *b, uint64_t v) {
    if (v < 24) {
        b[0] = (uint8_t)v;
        return 1;
    }
    unsigned bytes = v <= 0xff ? 1 : v <= 0xffff ? 2 : v <= 0xffffffffu ? 4 : 8;
    b[0] = (uint8_t)(bytes == 1 ? 24 : bytes == 2 ? 25 : bytes == 4 ? 26 : 27);
    for (unsigned i = 0; i < bytes; i++) b[1 + i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
    return 1 + bytes;
}

static bool operand(const kdb_expr *e, uint32_t id, const kdb_val *root, opval *out) {
    const kdb_enode *n = &e->nodes[id];
    switch (n->kind) {
    case KDB_EN_VALUE:
        out->v = e->vals[n->first];
        return true;
    case KDB_EN_PATH:
        return kdb_expr_resolve(e, n, root, &out->v, out->buf);
    case KDB_EN_SIZE: {
        kdb_val v;
        uint64_t size;
        /* a vector element is a number, which has no size: it need not be decoded */
        if (!kdb_expr_resolve(e, &e->nodes[e->kids[n->first]], root, &v, NULL) ||
            !size_of(&v, &size))
            return false;
        size_t len = cbor_uint(out->buf, size);
        return kdb_val_decode(out->buf, len, &out->v);
    }
    default:
        return false; /* update values are not operands of conditions */
    }
}

/* ---- conditions ----------------------------------------------------------------------------- */

static bool has_prefix(const kdb_val *a, const kdb_val *b) {
    return a->type == b->type && (a->type == KDB_S || a->type == KDB_B) && b->size <= a->size &&
           (b->size == 0 || memcmp(a->data, b->data, b->size) == 0);
}

static bool has_bytes(const kdb_val *a, const kdb_val *b) {
    if (b->size == 0) return true;
    if (b->size > a->size) return false;
    return memmem(a->data, a->size, b->data, b->size) != NULL;
}

static bool contains(const kdb_val *a, const kdb_val *b) {
    switch (a->type) {
    case KDB_S:
    case KDB_B:
        return b->type == a->type && has_bytes(a, b);
    case KDB_SS:
    case KDB_NS:
    case KDB_BS:
    case KDB_L: {
        kdb_iter it;
        kdb_val x;
        kdb_iter_init(&it, a);
        int r;
        while ((r = kdb_iter_next(&it, NULL, NULL, &x)) == 1)
            if (kdb_val_equal(&x, b)) return true;
        if (r < 0) damaged = true;
        return false;
    }
    case KDB_V: {
        if (b->type != KDB_N) return false;
        kdb_val x;
        uint8_t buf[KDB_VEC_ELEM_LEN];
        for (uint64_t i = 0; i < a->count; i++)
            if (kdb_vec_elem(a, i, buf, &x) && kdb_val_equal(&x, b)) return true;
        return false;
    }
    default:
        return false;
    }
}

/* A condition that holds no other condition (comparisons and functions). Kept out of
 * cond() so that the recursive frame stays small: the operands live here. */
static __attribute__((noinline)) bool leaf(const kdb_expr *e, const kdb_enode *n,
                                           const kdb_val *root) {
    const uint32_t *kid = e->kids + n->first;
    opval a, b, c;
    switch (n->kind) {
    case KDB_EN_CMP: {
        if (!operand(e, kid[0], root, &a) || !operand(e, kid[1], root, &b))
            return n->op == KDB_CMP_NE;
        if (n->op == KDB_CMP_EQ) return kdb_val_equal(&a.v, &b.v);
        if (n->op == KDB_CMP_NE) return !kdb_val_equal(&a.v, &b.v);
        int r = kdb_val_compare(&a.v, &b.v);
        if (r == 2) return false;
        switch (n->op) {
        case KDB_CMP_LT: return r < 0;
        case KDB_CMP_LE: return r <= 0;
        case KDB_CMP_GT: return r > 0;
        default: return r >= 0;
        }
    }
    case KDB_EN_BETWEEN: {
        if (!operand(e, kid[0], root, &a) || !operand(e, kid[1], root, &b) ||
            !operand(e, kid[2], root, &c))
            return false;
        int lo = kdb_val_compare(&a.v, &b.v), hi = kdb_val_compare(&a.v, &c.v);
        return lo != 2 && hi != 2 && lo >= 0 && hi <= 0;
    }
    case KDB_EN_IN:
        if (!operand(e, kid[0], root, &a)) return false;
        for (uint32_t i = 1; i < n->n; i++)
            if (operand(e, kid[i], root, &b) && kdb_val_equal(&a.v, &b.v)) return true;
        return false;
    case KDB_EN_EXISTS:
        return operand(e, kid[0], root, &a);
    case KDB_EN_NOT_EXISTS:
        return !operand(e, kid[0], root, &a);
    case KDB_EN_TYPE:  /* a vector is an L to DynamoDB */
        return operand(e, kid[0], root, &a) &&
               (a.v.type == KDB_V ? KDB_L : a.v.type) == (kdb_type)n->op;
    case KDB_EN_BEGINS:
        return operand(e, kid[0], root, &a) && operand(e, kid[1], root, &b) &&
               has_prefix(&a.v, &b.v);
    case KDB_EN_CONTAINS:
        return operand(e, kid[0], root, &a) && operand(e, kid[1], root, &b) &&
               contains(&a.v, &b.v);
    default:
        return false;
    }
}

/* Recursion depth is the nesting of NOT and parentheses, bounded by the parser. */
static bool cond(const kdb_expr *e, uint32_t id, const kdb_val *root) {
    const kdb_enode *n = &e->nodes[id];
    const uint32_t *kid = e->kids + n->first;
    switch (n->kind) {
    case KDB_EN_AND:
        for (uint32_t i = 0; i < n->n; i++)
            if (!cond(e, kid[i], root)) return false;
        return true;
    case KDB_EN_OR:
        for (uint32_t i = 0; i < n->n; i++)
            if (cond(e, kid[i], root)) return true;
        return false;
    case KDB_EN_NOT:
        return !cond(e, kid[0], root);
    default:
        return leaf(e, n, root);
    }
}

int kdb_expr_eval(const kdb_expr *e, const uint8_t *item, size_t len) {
    if (!e || (e->kind != KDB_EXPR_CONDITION && e->kind != KDB_EXPR_KEY_CONDITION)) return 0;
    kdb_val root;
    bool have = open_root(item, len, &root);
    if (item && !have) return -1;
    damaged = false;
    bool r = cond(e, e->root, have ? &root : NULL);
    return damaged ? -1 : r ? 1 : 0;
}

/* ---- projections ---------------------------------------------------------------------------- */

/* The head of a map or list of `count` entries, inserted at out[pos] before the entries
 * already written there: a projection is written in one pass over the item, so a count is
 * known only after its entries (a pass to count them first decoded every value twice). */
static void insert_head(kdb_buf *out, size_t pos, bool map, uint64_t count) {
    size_t end = out->len;
    if (map) kdb_enc_map(out, count);
    else kdb_enc_array(out, count);
    if (out->failed) return;
    size_t hl = out->len - end;
    uint8_t head[9];
    memcpy(head, out->p + end, hl);
    memmove(out->p + pos + hl, out->p + pos, end - pos);
    memcpy(out->p + pos, head, hl);
}

/* A vector's elements, as the list it stands for: the paths' element k selects from it,
 * and a path that goes on below an element (a number) selects nothing. */
static uint64_t project_vector(const kdb_expr *e, const uint32_t *ids, uint32_t n, uint32_t k,
                               const kdb_val *v, kdb_buf *out) {
    uint64_t selected = 0;
    for (uint64_t index = 0; index < v->count; index++) {
        bool whole = false;
        for (uint32_t i = 0; i < n && !whole; i++) {
            const kdb_enode *p = &e->nodes[ids[i]];
            const kdb_epel *pel = &e->pels[p->first + k];
            whole = !pel->name && pel->index == index && p->n == k + 1;
        }
        if (!whole) continue;
        uint8_t buf[KDB_VEC_ELEM_LEN];
        kdb_val x;
        if (!kdb_vec_elem(v, index, buf, &x)) continue;
        kdb_buf_put(out, x.p, x.len);
        selected++;
    }
    return selected;
}

/* The paths ids[0..n) (PATH node indexes) share their first k elements, which lead to `v`,
 * and each has more than k elements. Write to `out` the children of `v` (a map or a list)
 * their element k names, without a head (the caller inserts it: insert_head). Returns the
 * number of map pairs or list elements written. A map's children that no path names are
 * stepped over without being decoded. `scratch` has room for n entries per remaining
 * level. */
static uint64_t project_level(const kdb_expr *e, const uint32_t *ids, uint32_t n, uint32_t k,
                              const kdb_val *v, uint32_t *scratch, kdb_buf *out, bool *bad) {
    if (v->type == KDB_V) return project_vector(e, ids, n, k, v, out);
    bool map = v->type == KDB_M;
    if (!map && v->type != KDB_L) return 0;
    kdb_iter it;
    kdb_iter_init(&it, v);
    const uint8_t *name = NULL;
    size_t name_len = 0;
    kdb_val child;
    uint64_t selected = 0;
    int r;
    for (uint32_t index = 0;; index++) {
        r = map ? kdb_iter_key(&it, &name, &name_len) : kdb_iter_next(&it, NULL, NULL, &child);
        if (r != 1) break;
        /* The paths whose element k is this child; whole: one of them ends here (then it
         * is the only one: overlapping paths were refused by the parser). */
        uint32_t m = 0;
        bool whole = false;
        for (uint32_t i = 0; i < n; i++) {
            const kdb_enode *p = &e->nodes[ids[i]];
            const kdb_epel *pel = &e->pels[p->first + k];
            bool match = map ? pel->name && pel->len == name_len &&
                                   memcmp(pel->name, name, name_len) == 0
                             : !pel->name && pel->index == index;
            if (!match) continue;
            if (p->n == k + 1) whole = true;
            else scratch[m++] = ids[i];
        }
        if (map && (r = !whole && m == 0 ? kdb_iter_skip(&it) : kdb_iter_value(&it, &child)) != 1)
            break;
        if (!whole && m == 0) continue;
        size_t start = out->len;
        if (map) kdb_enc_text(out, (const char *)name, name_len);
        if (whole) {
            kdb_buf_put(out, child.p, child.len);
        } else {
            size_t pos = out->len;
            uint64_t inner = project_level(e, scratch, m, k + 1, &child, scratch + n, out, bad);
            if (inner == 0) {   /* nothing selected below: the child is left out */
                out->len = start;
                continue;
            }
            /* a map's head for an M, a list's for an L or a V selected as one */
            insert_head(out, pos, child.type == KDB_M, inner);
        }
        selected++;
    }
    /* A stored item that does not decode (a damaged file) must not project as one that
     * lacks the attributes: the caller reports it. */
    if (r < 0) *bad = true;
    return selected;
}

keel_status kdb_expr_project_paths(const kdb_expr *e, const uint32_t *ids, uint32_t n,
                                   const uint8_t *item, size_t len, kdb_buf *out) {
    out->len = 0;
    out->failed = false;
    kdb_val root;
    if (!item) {  /* no item: nothing selected */
        kdb_enc_map(out, 0);
        return out->failed ? keel__fail(KEEL_ENOMEM, "kdb_expr_project: out of memory") : KEEL_OK;
    }
    if (!open_root(item, len, &root))
        return keel__fail(KEEL_ECORRUPT, "projection: the stored item is malformed (not a map)");
    uint32_t depth = 0;
    for (uint32_t i = 0; i < n; i++)
        if (e->nodes[ids[i]].n > depth) depth = e->nodes[ids[i]].n;
    uint32_t local[256];
    size_t need = (size_t)n * (depth + 1);
    uint32_t *scratch = need <= 256 ? local : malloc(need * sizeof *scratch);
    if (!scratch) return keel__fail(KEEL_ENOMEM, "kdb_expr_project: out of memory");
    bool bad = false;
    uint64_t count = project_level(e, ids, n, 0, &root, scratch, out, &bad);
    insert_head(out, 0, true, count);
    if (scratch != local) free(scratch);
    if (bad) return keel__fail(KEEL_ECORRUPT, "projection: the stored item is malformed");
    if (out->failed) return keel__fail(KEEL_ENOMEM, "kdb_expr_project: out of memory");
    return KEEL_OK;
}

keel_status kdb_expr_project(const kdb_expr *e, const uint8_t *item, size_t len, kdb_buf *out) {
    if (!e || !out || e->kind != KDB_EXPR_PROJECTION)
        return keel__fail(KEEL_EINVAL, "kdb_expr_project: not a projection");
    return kdb_expr_project_paths(e, e->paths, e->n_paths, item, len, out);
}

/* ---- key conditions ------------------------------------------------------------------------- */

static keel_status unsupported(void) {
    return keel__fail(KEEL_EVALIDATION, "Query key condition not supported");
}

/* Why operand `id` is no key attribute: a nested path is named as such. */
static keel_status not_a_key(const kdb_expr *e, uint32_t id) {
    const kdb_enode *n = &e->nodes[id];
    if (n->kind == KDB_EN_PATH && (n->n != 1 || !e->pels[n->first].name))
        return keel__fail(KEEL_EVALIDATION, "Query key condition not supported: a key condition "
                          "cannot use nested attributes (a document path)");
    return unsupported();
}

/* The single-name path `id` as (name, len); false when it is not one. */
static bool key_name(const kdb_expr *e, uint32_t id, const uint8_t **name, uint32_t *len) {
    const kdb_enode *n = &e->nodes[id];
    if (n->kind != KDB_EN_PATH || n->n != 1 || !e->pels[n->first].name) return false;
    *name = e->pels[n->first].name;
    *len = e->pels[n->first].len;
    return true;
}

static bool same_name(const uint8_t *a, uint32_t len, const char *b) {
    return b && strlen(b) == len && memcmp(a, b, len) == 0;
}

static bool type_ok(const kdb_val *v, keel_db_keytype t) {
    return (t == KEEL_DB_KEY_S && v->type == KDB_S) || (t == KEEL_DB_KEY_N && v->type == KDB_N) ||
           (t == KEEL_DB_KEY_B && v->type == KDB_B);
}

/* One conjunct: "key op :v" (either side), "key BETWEEN :a AND :b", "begins_with(key, :v)". */
static keel_status key_term(const kdb_expr *e, uint32_t id, const uint8_t **name, uint32_t *len,
                            kdb_skop *op, const kdb_val **v1, const kdb_val **v2) {
    const kdb_enode *n = &e->nodes[id];
    const uint32_t *kid = e->kids + n->first;
    *v2 = NULL;
    if (n->kind == KDB_EN_CMP) {
        static const kdb_skop ops[] = {KDB_SK_EQ, KDB_SK_ANY, KDB_SK_LT, KDB_SK_LE, KDB_SK_GT,
                                       KDB_SK_GE};
        static const kdb_skop flipped[] = {KDB_SK_EQ, KDB_SK_ANY, KDB_SK_GT, KDB_SK_GE,
                                           KDB_SK_LT, KDB_SK_LE};
        uint32_t path = kid[0], val = kid[1];
        bool flip = false;
        if (e->nodes[path].kind == KDB_EN_VALUE) {
            path = kid[1];
            val = kid[0];
            flip = true;
        }
        if (n->op > KDB_CMP_GE || n->op == KDB_CMP_NE || e->nodes[val].kind != KDB_EN_VALUE)
            return unsupported();
        if (!key_name(e, path, name, len)) return not_a_key(e, path);
        *op = flip ? flipped[n->op] : ops[n->op];
        *v1 = &e->vals[e->nodes[val].first];
        return KEEL_OK;
    }
    if (n->kind == KDB_EN_BETWEEN || n->kind == KDB_EN_BEGINS) {
        uint32_t last = n->kind == KDB_EN_BETWEEN ? 2 : 1;
        if (!key_name(e, kid[0], name, len)) return not_a_key(e, kid[0]);
        for (uint32_t i = 1; i <= last; i++)
            if (e->nodes[kid[i]].kind != KDB_EN_VALUE) return unsupported();
        *op = n->kind == KDB_EN_BETWEEN ? KDB_SK_BETWEEN : KDB_SK_BEGINS;
        *v1 = &e->vals[e->nodes[kid[1]].first];
        if (last == 2) *v2 = &e->vals[e->nodes[kid[2]].first];
        return KEEL_OK;
    }
    return unsupported();
}

keel_status kdb_expr_keycond(const kdb_expr *e, const char *pk_name, keel_db_keytype pk_type,
                             const char *sk_name, keel_db_keytype sk_type, kdb_keycond *out) {
    if (!e || !out || !pk_name || e->kind != KDB_EXPR_KEY_CONDITION)
        return keel__fail(KEEL_EINVAL, "kdb_expr_keycond: not a key condition");
    memset(out, 0, sizeof *out);
    const kdb_enode *root = &e->nodes[e->root];
    uint32_t terms[2];
    uint32_t n_terms = 1;
    terms[0] = e->root;
    if (root->kind == KDB_EN_AND) {
        if (root->n > 2)
            return keel__fail(KEEL_EVALIDATION, "KeyConditionExpressions must only contain one "
                              "condition per key");
        n_terms = 2;
        terms[0] = e->kids[root->first];
        terms[1] = e->kids[root->first + 1];
    }
    /* Which key a missing one is: the sort key when the partition key is there. */
    bool names_pk = false;
    for (uint32_t t = 0; t < n_terms; t++) {
        const kdb_enode *n = &e->nodes[terms[t]];
        const uint8_t *name;
        uint32_t len;
        if (n->n && key_name(e, e->kids[n->first], &name, &len) && same_name(name, len, pk_name))
            names_pk = true;
        if (n->kind == KDB_EN_CMP && n->n == 2 && key_name(e, e->kids[n->first + 1], &name, &len) &&
            same_name(name, len, pk_name))
            names_pk = true;
    }
    const char *missing = names_pk && sk_name && sk_type != KEEL_DB_KEY_NONE ? sk_name : pk_name;
    bool have_pk = false, have_sk = false;
    for (uint32_t t = 0; t < n_terms; t++) {
        if (e->nodes[terms[t]].kind == KDB_EN_AND)
            return keel__fail(KEEL_EVALIDATION, "KeyConditionExpressions must only contain one "
                              "condition per key");
        const uint8_t *name = NULL;
        uint32_t len = 0;
        kdb_skop op = KDB_SK_ANY;
        const kdb_val *v1 = NULL, *v2 = NULL;
        keel_status st = key_term(e, terms[t], &name, &len, &op, &v1, &v2);
        if (st != KEEL_OK) return st;
        bool is_pk = same_name(name, len, pk_name);
        bool is_sk = !is_pk && sk_type != KEEL_DB_KEY_NONE && same_name(name, len, sk_name);
        if (!is_pk && !is_sk)
            return keel__fail(KEEL_EVALIDATION, "Query condition missed key schema element: %s",
                              missing);
        if ((is_pk && have_pk) || (is_sk && have_sk))
            return keel__fail(KEEL_EVALIDATION, "KeyConditionExpressions must only contain one "
                              "condition per key");
        keel_db_keytype want = is_pk ? pk_type : sk_type;
        if (!type_ok(v1, want) || (v2 && !type_ok(v2, want)))
            return keel__fail(KEEL_EVALIDATION, "One or more parameter values were invalid: "
                              "Condition parameter type does not match schema type");
        if (is_pk) {
            if (op != KDB_SK_EQ) return unsupported();
            out->pk = *v1;
            have_pk = true;
        } else {
            if (op == KDB_SK_BEGINS && sk_type == KEEL_DB_KEY_N)
                return keel__fail(KEEL_EVALIDATION, "Invalid KeyConditionExpression: Incorrect "
                                  "operand type for operator or function; operator or "
                                  "function: begins_with, operand type: N");
            out->op = op;
            out->sk1 = *v1;
            if (v2) out->sk2 = *v2;
            have_sk = true;
        }
    }
    if (!have_pk)
        return keel__fail(KEEL_EVALIDATION, "Query condition missed key schema element: %s",
                          pk_name);
    return KEEL_OK;
}
