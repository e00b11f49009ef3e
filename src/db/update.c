/*
 * update.c: UpdateExpressions (SET, REMOVE, ADD, DELETE) applied to an encoded item.
 *
 * An update runs in two phases, because DynamoDB evaluates every action against the item
 * as it was before the update (SET a = b, b = a swaps):
 *
 *   1. Each action becomes an outcome: "set this path to this value" or "remove this
 *      path" (or nothing, for a DELETE on a missing set). Operands are read from the old
 *      item; computed values (sums, list_append, set union and difference) are encoded
 *      into buffers this update owns.
 *   2. The outcomes are applied to a tree that mirrors the item only along the paths the
 *      update touches: a node is either RAW (a value's encoding, untouched, wherever it
 *      lies) or an expanded MAP or LIST whose children are nodes. Everything off those
 *      paths is copied byte for byte when the tree is encoded: a run of untouched
 *      children that lay side by side in the item is one copy of their bytes (names
 *      included).
 *
 * The item's top level is expanded first, in the one walk that checks its pairs (its head
 * alone opens it; a pair that does not decode makes the item malformed, as a whole-item
 * walk would find), and phase 1 finds every path's first element among those children
 * instead of walking the item again per operand. The result's check is learned on the
 * way (kdb_update_info): for top-level actions, the values written are all that is new.
 * A sum of two integers that fit in 64 bits (a counter) is added and encoded directly, in
 * the bytes kdb_enc_num would write; anything else goes through exact decimal arithmetic.
 *
 * List semantics (DynamoDB's): indexes name elements of the list as it was; REMOVE marks
 * elements, so later ones shift down; SET past the end appends, several such SETs in index
 * order. The parser has already refused overlapping paths, so no two outcomes touch one
 * node, and a removed node is never descended into.
 *
 * Invariants: the tree's depth is at most a path's length (KEEL_DB_MAX_DEPTH), so the
 * recursive encoder and destructor are bounded; names point into the item or the
 * expression, which outlive the update; the result is a CBOR map that the caller checks
 * (kdb_item_check: size, nesting) before storing it.
 */
#include "db/expr.h"

#include <stdlib.h>
#include <string.h>

static const char invalid_path[] =
    "The document path provided in the update expression is invalid for update";
static const char bad_type[] = "An operand in the update expression has an incorrect data type";

/* ---- the tree ---------------------------------------------------------------------------- */

enum { UN_RAW = 0, UN_MAP, UN_LIST };

typedef struct unode {
    uint8_t kind;
    bool removed;
    bool appended;          /* a list element SET past the end of the old list */
    const uint8_t *pair;    /* an untouched old child: where its encoding starts in the item
                             * (a map's: at its name); NULL for a new or replaced one */
    const uint8_t *name;    /* as a map child */
    uint32_t name_len;
    uint32_t index;         /* as an appended list child: the index asked for */
    kdb_val v;              /* RAW */
    struct unode *kids;     /* MAP, LIST: old children first (lists: at their old index) */
    uint32_t n, cap, old_n;
} unode;

#define SMALL_VALS 8        /* computed integers kept in the context, not allocated */

typedef struct uctx {
    const kdb_expr *e;
    const unode *top;       /* the old item's expanded top level (operands are read here) */
    uint8_t **owned;        /* encodings of computed values */
    size_t n_owned, cap_owned;
    uint8_t small[SMALL_VALS][9];   /* encodings of integer sums (one CBOR head each) */
    uint32_t n_small;
} uctx;

static void unode_free(unode *n) {
    for (uint32_t i = 0; i < n->n; i++) unode_free(&n->kids[i]);
    free(n->kids);
    n->kids = NULL;
    n->n = n->cap = n->old_n = 0;
}

static unode *add_kid(unode *n) {
    if (n->n == n->cap) {
        uint32_t cap = n->cap ? n->cap * 2 : 4;
        unode *k = realloc(n->kids, cap * sizeof *k);
        if (!k) return NULL;
        n->kids = k;
        n->cap = cap;
    }
    unode *k = &n->kids[n->n++];
    memset(k, 0, sizeof *k);
    return k;
}

/* Make a RAW map or list an expanded node; false (and unchanged) for other types. */
static keel_status expand(unode *n, bool *ok) {
    *ok = true;
    if (n->kind != UN_RAW) return KEEL_OK;
    if (n->v.type != KDB_M && n->v.type != KDB_L) {
        *ok = false;
        return KEEL_OK;
    }
    kdb_val v = n->v;
    n->kind = v.type == KDB_M ? UN_MAP : UN_LIST;
    if (v.count > 0 && v.count <= 4096 && v.count <= v.body_len) {  /* room for all at once */
        n->kids = malloc((size_t)(v.count + 1) * sizeof *n->kids);
        if (!n->kids) return keel__fail(KEEL_ENOMEM, "update: out of memory");
        n->cap = (uint32_t)v.count + 1;
    }
    kdb_iter it;
    kdb_iter_init(&it, &v);
    const uint8_t *name;
    size_t len;
    kdb_val kid;
    int r;
    for (;;) {
        const uint8_t *at = it.p;
        uint64_t left = it.left;
        if ((r = kdb_iter_next(&it, &name, &len, &kid)) != 1) break;
        unode *k = add_kid(n);
        if (!k) return keel__fail(KEEL_ENOMEM, "update: out of memory");
        k->v = kid;
        /* The pair starts where the iterator stood, unless it skipped padding first. */
        k->pair = left - it.left == 1 ? at : NULL;
        if (n->kind == UN_MAP) {
            k->name = name;
            k->name_len = (uint32_t)len;
        }
    }
    if (r < 0) return keel__fail(KEEL_EVALIDATION, "update: the item is malformed");
    n->old_n = n->n;
    return KEEL_OK;
}

/* The child of an expanded node that `pel` names (an old one for a list), or NULL. */
static unode *child(unode *n, const kdb_epel *pel) {
    if (pel->name) {
        if (n->kind != UN_MAP) return NULL;
        for (uint32_t i = 0; i < n->n; i++)
            if (!n->kids[i].removed && n->kids[i].name_len == pel->len &&
                memcmp(n->kids[i].name, pel->name, pel->len) == 0)
                return &n->kids[i];
        return NULL;
    }
    if (n->kind != UN_LIST || pel->index >= n->old_n) return NULL;
    return n->kids[pel->index].removed ? NULL : &n->kids[pel->index];
}

/* The expanded node holding the last element of `path`: every element before it must
 * exist, and the holder must be a map (last element a name) or a list (an index). */
static keel_status holder(unode *root, const kdb_expr *e, const kdb_enode *path, unode **out) {
    unode *n = root;
    for (uint32_t k = 0;; k++) {
        bool ok;
        keel_status st = expand(n, &ok);
        if (st != KEEL_OK) return st;
        const kdb_epel *pel = &e->pels[path->first + k];
        if (!ok || (pel->name ? n->kind != UN_MAP : n->kind != UN_LIST))
            return keel__fail(KEEL_EVALIDATION, "%s", invalid_path);
        if (k + 1 == path->n) break;
        if (!(n = child(n, pel))) return keel__fail(KEEL_EVALIDATION, "%s", invalid_path);
    }
    *out = n;
    return KEEL_OK;
}

static keel_status tree_set(unode *root, const kdb_expr *e, const kdb_enode *path,
                            const kdb_val *v) {
    unode *h;
    keel_status st = holder(root, e, path, &h);
    if (st != KEEL_OK) return st;
    const kdb_epel *pel = &e->pels[path->first + path->n - 1];
    unode *k = child(h, pel);
    if (k) {
        unode_free(k);
        k->kind = UN_RAW;
        k->pair = NULL;
    } else {
        if (!(k = add_kid(h))) return keel__fail(KEEL_ENOMEM, "update: out of memory");
        if (pel->name) {
            k->name = pel->name;
            k->name_len = pel->len;
        } else {
            k->appended = true;
            k->index = pel->index;
        }
    }
    k->v = *v;
    return KEEL_OK;
}

static keel_status tree_remove(unode *root, const kdb_expr *e, const kdb_enode *path) {
    unode *h;
    keel_status st = holder(root, e, path, &h);
    if (st != KEEL_OK) return st;
    unode *k = child(h, &e->pels[path->first + path->n - 1]);
    if (k) k->removed = true;   /* absent: nothing to remove, as DynamoDB */
    return KEEL_OK;
}

static int cmp_appended(const void *a, const void *b) {
    uint32_t x = ((const unode *)a)->index, y = ((const unode *)b)->index;
    return (x > y) - (x < y);
}

static void encode(unode *n, kdb_buf *out) {
    if (n->kind == UN_RAW) {
        kdb_buf_put(out, n->v.p, n->v.len);
        return;
    }
    const uint8_t *run = NULL, *run_end = NULL;   /* untouched children side by side */
    uint64_t count = 0;
    for (uint32_t i = 0; i < n->n; i++) count += !n->kids[i].removed;
    if (n->kind == UN_MAP) {
        kdb_enc_map(out, count);
    } else {
        kdb_enc_array(out, count);
        /* Appended elements go after the old ones, in the order of the indexes asked for. */
        qsort(n->kids + n->old_n, n->n - n->old_n, sizeof *n->kids, cmp_appended);
    }
    for (uint32_t i = 0; i < n->n; i++) {
        unode *k = &n->kids[i];
        if (k->removed) continue;
        if (k->kind == UN_RAW && k->pair) {
            if (!run || k->pair != run_end) {
                if (run) kdb_buf_put(out, run, (size_t)(run_end - run));
                run = k->pair;
            }
            run_end = k->v.p + k->v.len;
            continue;
        }
        if (run) kdb_buf_put(out, run, (size_t)(run_end - run));
        run = NULL;
        if (n->kind == UN_MAP) kdb_enc_text(out, (const char *)k->name, k->name_len);
        encode(k, out);
    }
    if (run) kdb_buf_put(out, run, (size_t)(run_end - run));
}

/* ---- values ------------------------------------------------------------------------------ */

/* Keep a computed encoding; v decodes it. */
static keel_status keep(uctx *c, kdb_buf *b, kdb_val *v) {
    if (b->failed) {
        kdb_buf_free(b);
        return keel__fail(KEEL_ENOMEM, "update: out of memory");
    }
    if (c->n_owned == c->cap_owned) {
        size_t cap = c->cap_owned ? c->cap_owned * 2 : 8;
        uint8_t **o = realloc(c->owned, cap * sizeof *o);
        if (!o) {
            kdb_buf_free(b);
            return keel__fail(KEEL_ENOMEM, "update: out of memory");
        }
        c->owned = o;
        c->cap_owned = cap;
    }
    c->owned[c->n_owned++] = b->p;
    if (!kdb_val_decode(b->p, b->len, v))
        return keel__fail(KEEL_EVALIDATION, "update: computed an invalid value");
    return KEEL_OK;
}

/* A CBOR integer head (major type 0 or 1, any argument width) as a signed value. */
static bool small_int(const kdb_val *v, __int128 *out) {
    kdb_head h;
    if (!kdb_cbor_head(v->p, v->len, &h)) return false;
    if (h.kind == KDB_C_UINT) *out = (__int128)h.v.u;
    else if (h.kind == KDB_C_NEGINT) *out = -1 - (__int128)h.v.u;
    else return false;
    return true;
}

/* x ± y for two CBOR integers whose result is one too (|r| < 2^64): its encoding, the
 * shortest head kdb_enc_num writes for it, in c->small. False: not that case. */
static bool int_op(uctx *c, const kdb_val *a, const kdb_val *b, bool minus, kdb_val *out) {
    __int128 x, y;
    if (c->n_small == SMALL_VALS || !small_int(a, &x) || !small_int(b, &y)) return false;
    __int128 r = minus ? x - y : x + y;     /* |x|, |y| <= 2^64: no overflow */
    if (r > (__int128)UINT64_MAX || r < -1 - (__int128)UINT64_MAX) return false;
    uint64_t arg = r >= 0 ? (uint64_t)r : (uint64_t)(-1 - r);
    uint8_t *q = c->small[c->n_small++];
    uint8_t mt = r >= 0 ? 0x00 : 0x20;
    size_t n;
    if (arg < 24) {
        q[0] = (uint8_t)(mt | arg);
        n = 1;
    } else {
        unsigned bytes = arg <= 0xffu ? 1 : arg <= 0xffffu ? 2 : arg <= 0xffffffffu ? 4 : 8;
        q[0] = (uint8_t)(mt | (bytes == 1 ? 24 : bytes == 2 ? 25 : bytes == 4 ? 26 : 27));
        for (unsigned i = 0; i < bytes; i++) q[1 + i] = (uint8_t)(arg >> (8 * (bytes - 1 - i)));
        n = 1 + bytes;
    }
    memset(out, 0, sizeof *out);
    out->type = KDB_N;
    out->p = q;
    out->len = n;
    return true;
}

static keel_status num_op(uctx *c, const kdb_val *a, const kdb_val *b, bool minus, kdb_val *out) {
    if (a->type != KDB_N || b->type != KDB_N)
        return keel__fail(KEEL_EVALIDATION, "%s", bad_type);
    if (int_op(c, a, b, minus, out)) return KEEL_OK;
    kdb_num x, y, r;
    keel_status st = kdb_val_num(a, &x);
    if (st == KEEL_OK) st = kdb_val_num(b, &y);
    if (st == KEEL_OK) st = minus ? kdb_num_sub(&x, &y, &r) : kdb_num_add(&x, &y, &r);
    if (st != KEEL_OK) return st;
    kdb_buf buf = {0};
    kdb_enc_num(&buf, &r);
    return keep(c, &buf, out);
}

static bool set_has(const kdb_val *set, const kdb_val *x) {
    kdb_iter it;
    kdb_val y;
    kdb_iter_init(&it, set);
    while (kdb_iter_next(&it, NULL, NULL, &y) == 1)
        if (kdb_val_equal(&y, x)) return true;
    return false;
}

/* a ∪ b (union) or a − b (difference) of two sets of one type. *empty: nothing is left. */
static keel_status set_op(uctx *c, const kdb_val *a, const kdb_val *b, bool difference,
                          kdb_val *out, bool *empty) {
    kdb_buf elems = {0};
    uint64_t count = 0;
    kdb_iter it;
    kdb_val x;
    kdb_iter_init(&it, a);
    while (kdb_iter_next(&it, NULL, NULL, &x) == 1) {
        if (difference && set_has(b, &x)) continue;
        kdb_buf_put(&elems, x.p, x.len);
        count++;
    }
    if (!difference) {
        kdb_iter_init(&it, b);
        while (kdb_iter_next(&it, NULL, NULL, &x) == 1) {
            if (set_has(a, &x)) continue;
            kdb_buf_put(&elems, x.p, x.len);
            count++;
        }
    }
    *empty = count == 0;
    if (*empty || elems.failed) {
        bool failed = elems.failed;
        kdb_buf_free(&elems);
        return failed ? keel__fail(KEEL_ENOMEM, "update: out of memory") : KEEL_OK;
    }
    kdb_buf buf = {0};
    kdb_enc_tag(&buf, KDB_TAG_SET);
    kdb_enc_array(&buf, count);
    kdb_buf_put(&buf, elems.p, elems.len);
    kdb_buf_free(&elems);
    return keep(c, &buf, out);
}

/* Resolve `path` in the old item: its first element among the expanded top level (in
 * phase 1 nothing has changed there yet), the rest as kdb_expr_resolve does, a vector's
 * element (kdb_vec_elem) encoded into `elem`, which must outlive *out. */
static bool resolve(const uctx *c, const kdb_enode *path, kdb_val *out, uint8_t *elem) {
    const kdb_expr *e = c->e;
    const kdb_epel *pel = &e->pels[path->first];
    if (!pel->name) return false;   /* the parser never starts a path with an index */
    const unode *top = c->top;
    for (uint32_t i = 0; i < top->n; i++) {
        const unode *k = &top->kids[i];
        if (k->name_len == pel->len && memcmp(k->name, pel->name, pel->len) == 0)
            return kdb_expr_resolve_from(e, path, 1, &k->v, out, elem);
    }
    return false;
}

/* The value at a path of the old item, when it has one: a vector's element (the number it
 * stands for) is copied into a buffer this update owns. */
static bool read_path(uctx *c, const kdb_enode *path, kdb_val *out, keel_status *st) {
    uint8_t elem[KDB_VEC_ELEM_LEN];
    *st = KEEL_OK;
    if (!resolve(c, path, out, elem)) return false;
    if (out->p == elem) {
        kdb_buf b = {0};
        kdb_buf_put(&b, elem, out->len);
        *st = keep(c, &b, out);
    }
    return true;
}

/* The value of a SET operand; recursion is bounded by the parser's nesting limit. */
static keel_status value_of(uctx *c, uint32_t id, kdb_val *out) {
    const kdb_expr *e = c->e;
    const kdb_enode *n = &e->nodes[id];
    const uint32_t *kid = e->kids + n->first;
    kdb_val a, b;
    keel_status st;
    switch (n->kind) {
    case KDB_EN_VALUE:
        *out = e->vals[n->first];
        return KEEL_OK;
    case KDB_EN_PATH:
        if (read_path(c, n, out, &st)) return st;
        return keel__fail(KEEL_EVALIDATION, "The provided expression refers to an attribute "
                          "that does not exist in the item");
    case KDB_EN_IF_NOT_EXISTS:
        if (read_path(c, &e->nodes[kid[0]], out, &st)) return st;
        return value_of(c, kid[1], out);
    case KDB_EN_PLUS:
    case KDB_EN_MINUS:
        if ((st = value_of(c, kid[0], &a)) != KEEL_OK) return st;
        if ((st = value_of(c, kid[1], &b)) != KEEL_OK) return st;
        return num_op(c, &a, &b, n->kind == KDB_EN_MINUS, out);
    case KDB_EN_LIST_APPEND: {
        if ((st = value_of(c, kid[0], &a)) != KEEL_OK) return st;
        if ((st = value_of(c, kid[1], &b)) != KEEL_OK) return st;
        if (a.type != KDB_L || b.type != KDB_L)
            return keel__fail(KEEL_EVALIDATION, "%s", bad_type);
        kdb_buf buf = {0};
        kdb_enc_array(&buf, a.count + b.count);
        if (a.count) kdb_buf_put(&buf, a.body, a.body_len);
        if (b.count) kdb_buf_put(&buf, b.body, b.body_len);
        return keep(c, &buf, out);
    }
    default:
        return keel__fail(KEEL_EVALIDATION, "update: not a value");
    }
}

/* ---- actions ----------------------------------------------------------------------------- */

enum { OUT_NONE = 0, OUT_SET, OUT_REMOVE };

typedef struct outcome {
    uint8_t what;
    kdb_val v;
} outcome;

static keel_status outcome_of(uctx *c, const kdb_eact *a, outcome *o) {
    const kdb_expr *e = c->e;
    const kdb_enode *path = &e->nodes[a->path];
    o->what = OUT_NONE;
    if (a->kind == KDB_ACT_SET) {
        o->what = OUT_SET;
        return value_of(c, a->value, &o->v);
    }
    if (a->kind == KDB_ACT_REMOVE) {
        o->what = OUT_REMOVE;
        return KEEL_OK;
    }
    const kdb_val *v = &e->vals[e->nodes[a->value].first];
    kdb_val cur;
    uint8_t elem[KDB_VEC_ELEM_LEN];    /* cur is used only within this call */
    bool have = resolve(c, path, &cur, elem);
    if (a->kind == KDB_ACT_ADD) {
        if (!have) {
            o->what = OUT_SET;  /* 0 + v, or the empty set ∪ v */
            o->v = *v;
            return KEEL_OK;
        }
        if (cur.type != v->type) return keel__fail(KEEL_EVALIDATION, "%s", bad_type);
        o->what = OUT_SET;
        if (v->type == KDB_N) return num_op(c, &cur, v, false, &o->v);
        bool empty;
        return set_op(c, &cur, v, false, &o->v, &empty);
    }
    /* DELETE */
    if (!have) return KEEL_OK;
    if (cur.type != v->type) return keel__fail(KEEL_EVALIDATION, "%s", bad_type);
    bool empty;
    keel_status st = set_op(c, &cur, v, true, &o->v, &empty);
    o->what = empty ? OUT_REMOVE : OUT_SET;
    return st;
}

keel_status kdb_update_check(const kdb_expr *e, const char *pk, const char *sk) {
    if (!e || e->kind != KDB_EXPR_UPDATE)
        return keel__fail(KEEL_EINVAL, "kdb_update_check: not an update expression");
    for (uint32_t i = 0; i < e->n_acts; i++) {
        const kdb_epel *first = &e->pels[e->nodes[e->acts[i].path].first];
        const char *keys[2] = {pk, sk};
        for (int k = 0; k < 2; k++)
            if (keys[k] && keys[k][0] && strlen(keys[k]) == first->len &&
                memcmp(keys[k], first->name, first->len) == 0)
                return keel__fail(KEEL_EVALIDATION, "One or more parameter values were invalid: "
                                  "Cannot update attribute %s. This attribute "
                                  "is part of the key", keys[k]);
    }
    return KEEL_OK;
}

/* DynamoDB's size of an item is at most this many times its CBOR length (a number's 1-byte
 * head can stand for 20 bytes of size; an element of a list or map adds 1), so a new item
 * this short cannot exceed KEEL_DB_MAX_ITEM. */
#define SIZE_PER_BYTE 24u

/* kdb_update_info of a result `len` bytes long, from the outcomes and the top level. */
static void learn(const kdb_expr *e, const outcome *o, const unode *top, size_t len,
                  kdb_update_info *info) {
    info->checked = info->plain = false;
    if (len > KEEL_DB_MAX_ITEM / SIZE_PER_BYTE || top->kind != UN_MAP) return;
    for (uint32_t i = 0; i < e->n_acts; i++)
        if (e->nodes[e->acts[i].path].n != 1) return;  /* a nested path: check all */
    for (uint32_t i = 0; i < e->n_acts; i++) {
        if (o[i].what != OUT_SET) continue;
        /* written by this update: checked as kdb_item_check checks an attribute */
        const kdb_epel *pel = &e->pels[e->nodes[e->acts[i].path].first];
        if (pel->len == 0 || pel->len > 65535 || !kdb_utf8_valid(pel->name, pel->len) ||
            kdb_val_check(&o[i].v) != KEEL_OK)
            return;
    }
    bool vector = false;
    for (uint32_t i = 0; i < top->n; i++)
        vector = vector || (!top->kids[i].removed && top->kids[i].v.type == KDB_V);
    info->checked = true;
    info->plain = !vector;  /* the encoder wrote the shortest head and no padding */
}

bool kdb_update_removes_only(const kdb_expr *e) {
    for (uint32_t i = 0; i < e->n_acts; i++)
        if (e->acts[i].kind != KDB_ACT_REMOVE && e->acts[i].kind != KDB_ACT_DELETE) return false;
    return true;
}

keel_status kdb_update_apply(const kdb_expr *e, const uint8_t *item, size_t len, kdb_buf *out) {
    return kdb_update_apply_ex(e, item, len, out, NULL);
}

keel_status kdb_update_apply_ex(const kdb_expr *e, const uint8_t *item, size_t len, kdb_buf *out,
                                kdb_update_info *info) {
    if (info) info->checked = info->plain = false;
    if (!e || !out || e->kind != KDB_EXPR_UPDATE)
        return keel__fail(KEEL_EINVAL, "kdb_update_apply: not an update expression");
    out->len = 0;
    out->failed = false;
    if (!item) return keel__fail(KEEL_EINVAL, "kdb_update_apply: the item is NULL");
    /* The old item's top level from its head; expand() checks each pair as it goes. */
    kdb_head h;
    if (!kdb_cbor_head(item, len, &h) || h.kind != KDB_C_MAP)
        return keel__fail(KEEL_ECORRUPT, "update: the stored item is malformed (not a map)");
    unode tree = {.kind = UN_RAW};
    tree.v.type = KDB_M;
    tree.v.p = item;
    tree.v.len = len;
    tree.v.count = h.v.u;
    tree.v.body = item + h.head_len;
    tree.v.body_len = len - h.head_len;
    bool ok;
    keel_status st = expand(&tree, &ok);
    if (st == KEEL_EVALIDATION)     /* a pair that does not decode: from the file, damaged */
        st = keel__fail(KEEL_ECORRUPT, "update: the stored item is malformed (not a map)");
    uctx c = {.e = e, .top = &tree};
    outcome *o = NULL;
    if (st == KEEL_OK && !(o = calloc(e->n_acts ? e->n_acts : 1, sizeof *o)))
        st = keel__fail(KEEL_ENOMEM, "update: out of memory");
    /* Phase 1: every value from the old item. */
    for (uint32_t i = 0; st == KEEL_OK && i < e->n_acts; i++)
        st = outcome_of(&c, &e->acts[i], &o[i]);
    /* Phase 2: the outcomes applied to the tree. */
    for (uint32_t i = 0; st == KEEL_OK && i < e->n_acts; i++) {
        const kdb_enode *path = &e->nodes[e->acts[i].path];
        if (o[i].what == OUT_SET) st = tree_set(&tree, e, path, &o[i].v);
        else if (o[i].what == OUT_REMOVE) st = tree_remove(&tree, e, path);
    }
    if (st == KEEL_OK) {
        kdb_buf_reserve(out, len + 64);     /* about the new item's size: one allocation */
        encode(&tree, out);
        if (out->failed) st = keel__fail(KEEL_ENOMEM, "update: out of memory");
    }
    if (st == KEEL_OK && info) learn(e, o, &tree, out->len, info);
    unode_free(&tree);
    free(o);
    for (size_t i = 0; i < c.n_owned; i++) free(c.owned[i]);
    free(c.owned);
    return st;
}

keel_status kdb_update_project(const kdb_expr *e, const uint8_t *item, size_t len, kdb_buf *out) {
    if (!e || !out || e->kind != KDB_EXPR_UPDATE)
        return keel__fail(KEEL_EINVAL, "kdb_update_project: not an update expression");
    uint32_t local[64] = {0};
    uint32_t *ids = e->n_acts <= 64 ? local : malloc(e->n_acts * sizeof *ids);
    if (!ids) return keel__fail(KEEL_ENOMEM, "update: out of memory");
    for (uint32_t i = 0; i < e->n_acts; i++) ids[i] = e->acts[i].path;
    keel_status st = kdb_expr_project_paths(e, ids, e->n_acts, item, len, out);
    if (ids != local) free(ids);
    return st;
}
