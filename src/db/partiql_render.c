/*
 * partiql_render.c: a PartiQL tree (db/partiql.h) -> DynamoDB expression text.
 *
 * Every attribute name becomes a fresh "#n<i>" and every value a fresh ":v<i>" in a
 * kdb_pqgen, so the text never holds a reserved word or a quoted name, and every
 * placeholder in the maps is used exactly once by the text it was rendered into (the
 * expression layer's unused-placeholder check passes by construction). Conditions are
 * parenthesized where DynamoDB's precedence (NOT > AND > OR) would differ from the tree.
 * PartiQL forms that DynamoDB's expressions cannot say are refused here with
 * KEEL_EVALIDATION naming their position; recursion follows the tree, whose nesting the
 * parser bounded. The WHERE clause's top-level conjuncts (which SELECT plans and the
 * writes take keys from, rendering the rest) and key maps are read and made here too.
 */
#include "db/partiql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put_str(kdb_buf *b, const char *s) { kdb_buf_put(b, s, strlen(s)); }

char *kdb_pq_text_dup(const kdb_buf *b) {
    char *s = malloc(b->len + 1);
    if (s) {
        if (b->len) memcpy(s, b->p, b->len);
        s[b->len] = 0;
    }
    return s;
}

void kdb_pq_render_name(kdb_pqgen *g, const char *name, size_t len, kdb_buf *text) {
    char ph[16];
    int n = snprintf(ph, sizeof ph, "#n%u", g->n_names++);
    kdb_enc_text(&g->names, ph, (size_t)n);
    kdb_enc_text(&g->names, name, len);
    kdb_buf_put(text, ph, (size_t)n);
}

void kdb_pq_render_value(kdb_pqgen *g, const uint8_t *cbor, size_t len, kdb_buf *text) {
    char ph[16];
    int n = snprintf(ph, sizeof ph, ":v%u", g->n_values++);
    kdb_enc_text(&g->values, ph, (size_t)n);
    kdb_buf_put(&g->values, cbor, len);
    kdb_buf_put(text, ph, (size_t)n);
}

void kdb_pq_gen_maps(const kdb_pqgen *g, kdb_buf *names, kdb_buf *values) {
    names->len = values->len = 0;
    if (g->n_names) {
        kdb_enc_map(names, g->n_names);
        kdb_buf_put(names, g->names.p, g->names.len);
        if (g->names.failed) names->failed = true;
    }
    if (g->n_values) {
        kdb_enc_map(values, g->n_values);
        kdb_buf_put(values, g->values.p, g->values.len);
        if (g->values.failed) values->failed = true;
    }
}

void kdb_pqgen_free(kdb_pqgen *g) {
    kdb_buf_free(&g->names);
    kdb_buf_free(&g->values);
    memset(g, 0, sizeof *g);
}

bool kdb_pq_simple_path(const kdb_pq *q, uint32_t id, const char **name, size_t *len) {
    const kdb_pqnode *n = &q->nodes[id];
    if (n->kind != KDB_PQN_PATH || n->n != 1 || q->pels[n->first].len == UINT32_MAX) return false;
    *name = (const char *)q->strs.p + q->pels[n->first].off;
    *len = q->pels[n->first].len;
    return true;
}

static keel_status refuse(const kdb_pqnode *n, const char *what) {
    return keel__fail(KEEL_EVALIDATION, "%s (position %u)", what, n->pos);
}

static bool is_cond(const kdb_pqnode *n) {
    return n->kind == KDB_PQN_CMP || n->kind == KDB_PQN_BETWEEN || n->kind == KDB_PQN_IN ||
           n->kind == KDB_PQN_AND || n->kind == KDB_PQN_OR || n->kind == KDB_PQN_NOT ||
           n->kind == KDB_PQN_IS || (n->kind == KDB_PQN_FUNC && n->op != KDB_PQF_SIZE &&
                                     n->op != KDB_PQF_LIST_APPEND && n->op != KDB_PQF_SET_ADD &&
                                     n->op != KDB_PQF_SET_DELETE);
}

static keel_status render_path(const kdb_pq *q, const kdb_pqnode *n, kdb_pqgen *g, kdb_buf *t) {
    for (uint32_t k = 0; k < n->n; k++) {
        const kdb_pqpel *pel = &q->pels[n->first + k];
        if (pel->len == UINT32_MAX) {
            char ix[24];
            int w = snprintf(ix, sizeof ix, "[%u]", pel->index);
            kdb_buf_put(t, ix, (size_t)w);
            continue;
        }
        if (k) put_str(t, ".");
        kdb_pq_render_name(g, (const char *)q->strs.p + pel->off, pel->len, t);
    }
    return KEEL_OK;
}

static keel_status render(const kdb_pq *q, uint32_t id, kdb_pqgen *g, kdb_buf *t, bool cond);

/* A child condition of AND (wrapped when an OR) or NOT (wrapped when AND or OR). */
static keel_status render_child(const kdb_pq *q, uint32_t id, kdb_pqgen *g, kdb_buf *t,
                                bool wrap_and) {
    const kdb_pqnode *n = &q->nodes[id];
    bool wrap = n->kind == KDB_PQN_OR || (wrap_and && n->kind == KDB_PQN_AND);
    if (wrap) put_str(t, "(");
    keel_status st = render(q, id, g, t, true);
    if (wrap) put_str(t, ")");
    return st;
}

static keel_status render_func(const kdb_pq *q, const kdb_pqnode *n, kdb_pqgen *g, kdb_buf *t,
                               bool cond) {
    static const char *const names[] = {"", "begins_with", "contains", "attribute_type", "size",
                                        "list_append", "set_add", "set_delete"};
    const uint32_t *kid = kdb_pq_kids(q, n);
    keel_status st;
    if (n->op == KDB_PQF_SET_ADD || n->op == KDB_PQF_SET_DELETE)
        return refuse(n, "SET_ADD and SET_DELETE can only be the whole value of a SET action on "
                      "the path of their first argument");
    if (n->op == KDB_PQF_LIST_APPEND && cond)
        return refuse(n, "LIST_APPEND is allowed only in a SET action");
    if (n->op != KDB_PQF_LIST_APPEND && q->nodes[kid[0]].kind != KDB_PQN_PATH)
        return refuse(n, "The first argument of this function must be an attribute path");
    put_str(t, names[n->op]);
    put_str(t, "(");
    for (uint32_t i = 0; i < n->n; i++) {
        if (i) put_str(t, ", ");
        if ((st = render(q, kid[i], g, t, false)) != KEEL_OK) return st;
    }
    put_str(t, ")");
    return KEEL_OK;
}

static keel_status render(const kdb_pq *q, uint32_t id, kdb_pqgen *g, kdb_buf *t, bool cond) {
    const kdb_pqnode *n = &q->nodes[id];
    const uint32_t *kid = kdb_pq_kids(q, n);
    keel_status st;
    if (cond && !is_cond(n)) return refuse(n, "A condition is expected here");
    if (!cond && is_cond(n)) return refuse(n, "A value is expected here, not a condition");
    switch (n->kind) {
    case KDB_PQN_PATH:
        return render_path(q, n, g, t);
    case KDB_PQN_VALUE: {
        const kdb_pqval *v = &q->vals[n->first];
        kdb_pq_render_value(g, q->vbuf.p + v->off, v->len, t);
        return KEEL_OK;
    }
    case KDB_PQN_CMP: {
        static const char *const ops[] = {" = ", " <> ", " < ", " <= ", " > ", " >= "};
        if ((st = render(q, kid[0], g, t, false)) != KEEL_OK) return st;
        put_str(t, ops[n->op]);
        return render(q, kid[1], g, t, false);
    }
    case KDB_PQN_BETWEEN:
        if ((st = render(q, kid[0], g, t, false)) != KEEL_OK) return st;
        put_str(t, " BETWEEN ");
        if ((st = render(q, kid[1], g, t, false)) != KEEL_OK) return st;
        put_str(t, " AND ");
        return render(q, kid[2], g, t, false);
    case KDB_PQN_IN:
        if ((st = render(q, kid[0], g, t, false)) != KEEL_OK) return st;
        put_str(t, " IN (");
        for (uint32_t i = 1; i < n->n; i++) {
            if (i > 1) put_str(t, ", ");
            if ((st = render(q, kid[i], g, t, false)) != KEEL_OK) return st;
        }
        put_str(t, ")");
        return KEEL_OK;
    case KDB_PQN_AND:
    case KDB_PQN_OR:
        for (uint32_t i = 0; i < n->n; i++) {
            if (i) put_str(t, n->kind == KDB_PQN_AND ? " AND " : " OR ");
            if ((st = render_child(q, kid[i], g, t, false)) != KEEL_OK) return st;
        }
        return KEEL_OK;
    case KDB_PQN_NOT:
        put_str(t, "NOT ");
        return render_child(q, kid[0], g, t, true);
    case KDB_PQN_IS: {
        if (q->nodes[kid[0]].kind != KDB_PQN_PATH)
            return refuse(n, "IS MISSING and IS NULL apply to an attribute path");
        bool missing = n->op == KDB_PQIS_MISSING || n->op == KDB_PQIS_NOT_MISSING;
        if (n->op == KDB_PQIS_NOT_NULL) put_str(t, "NOT ");
        put_str(t, n->op == KDB_PQIS_MISSING ? "attribute_not_exists(" :
                   n->op == KDB_PQIS_NOT_MISSING ? "attribute_exists(" : "attribute_type(");
        if ((st = render_path(q, &q->nodes[kid[0]], g, t)) != KEEL_OK) return st;
        if (!missing) {
            static const uint8_t null_text[] = {0x64, 'N', 'U', 'L', 'L'};
            put_str(t, ", ");
            kdb_pq_render_value(g, null_text, sizeof null_text, t);
        }
        put_str(t, ")");
        return KEEL_OK;
    }
    case KDB_PQN_FUNC:
        return render_func(q, n, g, t, cond);
    case KDB_PQN_ARITH:
        return refuse(n, "Arithmetic is allowed only in a SET action");
    default:
        return refuse(n, "Unsupported expression");
    }
}

keel_status kdb_pq_render(const kdb_pq *q, uint32_t id, kdb_pqgen *g, kdb_buf *text) {
    const kdb_pqnode *n = &q->nodes[id];
    if (n->kind == KDB_PQN_ARITH) { /* a SET value: operand (+|-) operand */
        const uint32_t *kid = kdb_pq_kids(q, n);
        keel_status st = render(q, kid[0], g, text, false);
        if (st != KEEL_OK) return st;
        put_str(text, n->op == '+' ? " + " : " - ");
        return render(q, kid[1], g, text, false);
    }
    return render(q, id, g, text, is_cond(n));
}

/* ---- conjuncts and keys ----------------------------------------------------------------- */

void kdb_pq_conjuncts(const kdb_pq *q, kdb_pqconj *c) {
    if (!q->has_where) {
        c->n = 0;
        c->ids = NULL;
    } else if (q->nodes[q->where].kind == KDB_PQN_AND) {
        c->ids = q->kids + q->nodes[q->where].first;
        c->n = q->nodes[q->where].n;
    } else {
        c->one = q->where;
        c->ids = &c->one;
        c->n = 1;
    }
}

bool kdb_pq_names_attr(const kdb_pq *q, uint32_t id, const char *attr) {
    const char *name;
    size_t len;
    return attr && attr[0] && kdb_pq_simple_path(q, id, &name, &len) && len == strlen(attr) &&
           memcmp(name, attr, len) == 0;
}

uint32_t kdb_pq_eq_value(const kdb_pq *q, uint32_t id, const char *attr) {
    const kdb_pqnode *n = &q->nodes[id];
    if (n->kind != KDB_PQN_CMP || n->op != KDB_PQC_EQ) return UINT32_MAX;
    const uint32_t *k = kdb_pq_kids(q, n);
    if (kdb_pq_names_attr(q, k[0], attr) && kdb_pq_is_value(q, k[1])) return k[1];
    if (kdb_pq_names_attr(q, k[1], attr) && kdb_pq_is_value(q, k[0])) return k[0];
    return UINT32_MAX;
}

keel_status kdb_pq_render_rest(const kdb_pq *q, const kdb_pqconj *c, const bool *used,
                               kdb_pqgen *g, kdb_buf *text) {
    text->len = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        if (used[i]) continue;
        if (text->len) kdb_buf_put(text, " AND ", 5);
        kdb_buf_put(text, "(", 1);
        keel_status st = kdb_pq_render(q, c->ids[i], g, text);
        if (st != KEEL_OK) return st;
        kdb_buf_put(text, ")", 1);
    }
    return text->failed ? keel__fail(KEEL_ENOMEM, "running a PartiQL statement") : KEEL_OK;
}

void kdb_pq_enc_key(kdb_buf *b, const kdb_table *t, const uint8_t *pk, size_t pk_len,
                    const uint8_t *sk, size_t sk_len) {
    kdb_enc_map(b, sk ? 2 : 1);
    kdb_enc_text(b, t->pk, strlen(t->pk));
    kdb_buf_put(b, pk, pk_len);
    if (sk) {
        kdb_enc_text(b, t->sk, strlen(t->sk));
        kdb_buf_put(b, sk, sk_len);
    }
}
