/*
 * expr_bind.c: the checks of a parse that depend on ExpressionAttributeValues, and a kept
 * parse bound to new values (kdb_expr_bind), so that a write repeated with the same
 * expression text and names but other values (a counter's "SET n = n + :d" with a new
 * :d each time) is not lexed and parsed again (expr_cache.c).
 *
 * The parser (expr_parse.c) records every check whose outcome depends on a value, in the
 * order it makes it, and makes it through kdb_expr_check: a placeholder's lookup (REF),
 * the operand types an update action, a function or an ordering takes, BETWEEN's bounds,
 * attribute_type's type name. Nothing else a parse decides depends on the values: the
 * tree's shape, paths and names come from the text and the names map alone. So for the
 * same kind, text and names, a fresh parse with other values would build the same tree
 * and fail at the first recorded check that the new values fail, with that check's words
 * (every check that is not recorded passed before and passes again). kdb_expr_bind runs
 * the recorded checks in order on the new values and so refuses exactly what the parser
 * would, word for word, and otherwise gives the parse's tree with the new values.
 *
 * A bound copy is one allocation: the kdb_expr, its vals, a copy of the values map they
 * point into, and its own nodes when a check writes one (attribute_type's type); the rest
 * (nodes otherwise, kids, paths, actions, checks, the text and names) is the parse's,
 * read-only, kept alive by the reference the copy holds (kdb_expr.base). kdb_expr_free
 * lives here too, as the one function that knows both forms (the parser and the cache
 * call this file, never the other way round).
 */
#include "db/expr.h"
#include "db/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kdb_expr_value_text(const kdb_val *v, char *buf, size_t cap) {
    char tmp[KDB_NUM_STR_MAX > 172 ? KDB_NUM_STR_MAX : 172];
    const char *text = tmp;
    size_t n = 0;
    kdb_num x;
    if (v->type == KDB_N && kdb_val_num(v, &x) == KEEL_OK) {
        n = kdb_num_format(&x, tmp, sizeof tmp);
    } else if (v->type == KDB_S) {
        text = (const char *)v->data;
        n = v->size > 128 ? 128 : v->size;
    } else if (v->type == KDB_B) {
        n = kdb_base64_encode(v->data, v->size > 96 ? 96 : v->size, tmp);
    }
    snprintf(buf, cap, "AttributeValue: {%s:%.*s}", kdb_type_name(v->type), (int)n, text);
}

static keel_status bad_operand(const char *op, kdb_type t) {
    bool add = strcmp(op, "ADD") == 0;
    if (add || strcmp(op, "DELETE") == 0) {   /* DynamoDB's words for these two */
        const char *name = t == KDB_S ? "STRING" : t == KDB_N ? "NUMBER" : t == KDB_B ? "BINARY"
                         : t == KDB_BOOL ? "BOOLEAN" : t == KDB_NULL ? "NULL" : t == KDB_M ? "MAP"
                         : t == KDB_L ? "LIST" : kdb_type_name(t);
        return keel__fail(KEEL_EVALIDATION, "Incorrect operand type for operator or function; "
                          "operator: %s, operand type: %s, typeSet: ALLOWED_FOR_%s_OPERAND", op,
                          name, op);
    }
    return keel__fail(KEEL_EVALIDATION, "Incorrect operand type for operator or function; "
                      "operator or function: %s, operand type: %s", op, kdb_type_name(t));
}

keel_status kdb_expr_check(kdb_expr *e, const kdb_echeck *c, const char *text,
                           const uint8_t *values, size_t values_len, uint64_t *values_used) {
    if (c->kind == KDB_CHK_REF) {   /* c->a: a val index */
        uint32_t idx;
        kdb_val found;
        if (!kdb_expr_map_find(values, values_len, text + c->pos, c->len, &idx, &found))
            return keel__fail(KEEL_EVALIDATION, "An expression attribute value used in "
                              "expression is not defined; attribute value: %.*s", (int)c->len,
                              text + c->pos);
        if (idx < 64 && values_used) *values_used |= (uint64_t)1 << idx;
        e->vals[c->a] = found;
        return KEEL_OK;
    }
    const kdb_enode *n = &e->nodes[c->a];  /* the others: c->a a node */
    const kdb_val *v = n->kind == KDB_EN_VALUE ? &e->vals[n->first] : NULL;
    switch ((kdb_echeck_kind)c->kind) {
    case KDB_CHK_REF: break;
    case KDB_CHK_OPERAND: {
        if (!v) return KEEL_OK;
        kdb_type t = v->type;
        if (((c->flags & 1) && t == KDB_N) ||
            ((c->flags & 2) && (t == KDB_SS || t == KDB_NS || t == KDB_BS)) ||
            ((c->flags & 4) && t == KDB_L))
            return KEEL_OK;
        return bad_operand(c->op, t);
    }
    case KDB_CHK_ORDER:
        if (!v || v->type == KDB_N || v->type == KDB_S || v->type == KDB_B) return KEEL_OK;
        return bad_operand(c->op, v->type);
    case KDB_CHK_BETWEEN: {
        const kdb_val *a = &e->vals[e->nodes[c->a].first], *b = &e->vals[e->nodes[c->b].first];
        int cmp = kdb_val_compare(a, b);
        char ta[256], tb[256];
        if (cmp == 2 || cmp > 0) {
            kdb_expr_value_text(a, ta, sizeof ta);
            kdb_expr_value_text(b, tb, sizeof tb);
        }
        if (cmp == 2)
            return keel__fail(KEEL_EVALIDATION, "The BETWEEN operator requires same data "
                              "type for lower and upper bounds; lower bound operand: %s, upper "
                              "bound operand: %s", ta, tb);
        if (cmp > 0)
            return keel__fail(KEEL_EVALIDATION, "The BETWEEN operator requires upper bound "
                              "to be greater than or equal to lower bound; lower bound operand: "
                              "%s, upper bound operand: %s", ta, tb);
        return KEEL_OK;
    }
    case KDB_CHK_BEGINS:
        if (!v || v->type == KDB_S || v->type == KDB_B) return KEEL_OK;
        return bad_operand("begins_with", v->type);
    case KDB_CHK_TYPE: {
        if (!v) return keel__fail(KEEL_EINVAL, "kdb_expr_check: attribute_type without a value");
        if (v->type != KDB_S) return bad_operand("attribute_type", v->type);
        static const kdb_type types[] = {KDB_S, KDB_SS, KDB_N, KDB_NS, KDB_B, KDB_BS,
                                         KDB_BOOL, KDB_NULL, KDB_L, KDB_M};
        uint8_t op = 0;
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
            const char *nm = kdb_type_name(types[i]);
            if (strlen(nm) == v->size && memcmp(nm, v->data, v->size) == 0) op = (uint8_t)types[i];
        }
        if (!op)
            return keel__fail(KEEL_EVALIDATION, "Invalid attribute type name found; type: %.*s, "
                              "valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}",
                              (int)(v->size > 64 ? 64 : v->size), (const char *)v->data);
        e->nodes[c->b].op = op;
        return KEEL_OK;
    }
    }
    return keel__fail(KEEL_EINVAL, "kdb_expr_check: unknown check %u", c->kind);
}

void kdb_expr_free(kdb_expr *e) {
    if (!e) return;
    /* A shared expression (expr_cache.c) is freed by its last owner only. */
    if (atomic_load_explicit(&e->refs, memory_order_acquire) != 0 &&
        atomic_fetch_sub_explicit(&e->refs, 1u, memory_order_acq_rel) != 1u)
        return;
    if (e->base) {          /* a bound copy: one allocation, and a reference to its parse */
        kdb_expr *base = e->base;
        free(e);
        kdb_expr_free(base);
        return;
    }
    free(e->nodes);
    free(e->kids);
    free(e->pels);
    free(e->vals);
    free(e->paths);
    free(e->acts);
    free(e->checks);
    free(e->blob);
    free(e);
}

/* Offsets in a bound copy's allocation, each aligned for what it holds. */
static size_t align16(size_t n) { return (n + 15u) & ~(size_t)15u; }

keel_status kdb_expr_bind(kdb_expr *shared, const uint8_t *values, size_t values_len,
                          uint64_t *values_used, kdb_expr **out) {
    *out = NULL;
    bool own_nodes = false;
    for (uint32_t i = 0; i < shared->n_checks; i++)
        own_nodes = own_nodes || shared->checks[i].kind == KDB_CHK_TYPE;
    size_t at_vals = align16(sizeof(kdb_expr));
    size_t at_nodes = align16(at_vals + (size_t)shared->n_vals * sizeof(kdb_val));
    size_t at_values = align16(at_nodes + (own_nodes ? shared->n_nodes * sizeof(kdb_enode) : 0));
    uint8_t *block = malloc(at_values + values_len + 1);
    if (!block) {
        kdb_expr_free(shared);
        return keel__fail(KEEL_ENOMEM, "binding an expression: out of memory");
    }
    kdb_expr *b = (kdb_expr *)(void *)block;
    /* Field by field: shared->refs changes under other threads. */
    b->kind = shared->kind;
    b->root = shared->root;
    b->nodes = shared->nodes;
    b->n_nodes = shared->n_nodes;
    b->kids = shared->kids;
    b->n_kids = shared->n_kids;
    b->pels = shared->pels;
    b->n_pels = shared->n_pels;
    b->vals = (kdb_val *)(void *)(block + at_vals);
    b->n_vals = shared->n_vals;
    b->paths = shared->paths;
    b->n_paths = shared->n_paths;
    b->acts = shared->acts;
    b->n_acts = shared->n_acts;
    b->checks = shared->checks;
    b->n_checks = shared->n_checks;
    b->blob = shared->blob;
    atomic_init(&b->refs, 0u);
    b->base = shared;
    memset(b->vals, 0, shared->n_vals * sizeof(kdb_val));
    if (own_nodes) {
        b->nodes = (kdb_enode *)(void *)(block + at_nodes);
        memcpy(b->nodes, shared->nodes, shared->n_nodes * sizeof(kdb_enode));
    }
    uint8_t *copy = values_len ? block + at_values : NULL;
    if (values_len) memcpy(copy, values, values_len);
    keel_status st = KEEL_OK;
    for (uint32_t i = 0; st == KEEL_OK && i < b->n_checks; i++)
        st = kdb_expr_check(b, &b->checks[i], (const char *)shared->blob, copy, values_len,
                            values_used);
    if (st != KEEL_OK) {
        kdb_expr_free(b);
        return st;
    }
    *out = b;
    return KEEL_OK;
}
