/*
 * partiql_write.c: PartiQL's INSERT, UPDATE and DELETE compiled to the write DynamoDB's API
 * would make (kdb_pq_compile_write), for keel_db_execute (partiql.c) and transactions
 * (partiql_tx.c):
 *
 *   INSERT  a put of the item conditioned on attribute_not_exists(pk);
 *   UPDATE  the SET/REMOVE clauses as an UpdateExpression (SET_ADD and SET_DELETE as ADD
 *           and DELETE), conditioned on attribute_exists(pk) AND (the rest of WHERE);
 *   DELETE  conditioned on attribute_not_exists(pk) OR (the rest of WHERE), so an absent
 *           item is a success and a present one must pass the rest.
 *
 * The key comes from WHERE's equalities on every key attribute (refused without them);
 * every other conjunct, path and value is rendered (partiql_render.c) to expression text
 * with fresh placeholders, so the one expression parser checks it when the write runs.
 * The compiled write owns copies of everything (texts, maps, key): it outlives the parse.
 */
#include "db/partiql.h"

#include <stdlib.h>
#include <string.h>

static keel_status oom(void) { return keel__fail(KEEL_ENOMEM, "running a PartiQL statement"); }

/* The key of an UPDATE or DELETE: equalities on every key attribute, marked used. */
static keel_status write_key(const kdb_table *t, const kdb_pq *q, const kdb_pqconj *c, bool *used,
                             kdb_buf *key) {
    uint32_t pv = UINT32_MAX, sv = UINT32_MAX;
    for (uint32_t i = 0; i < c->n; i++) {
        uint32_t v;
        if (pv == UINT32_MAX && (v = kdb_pq_eq_value(q, c->ids[i], t->pk)) != UINT32_MAX) {
            pv = v;
            used[i] = true;
        } else if (t->skt && sv == UINT32_MAX && (v = kdb_pq_eq_value(q, c->ids[i], t->sk)) != UINT32_MAX) {
            sv = v;
            used[i] = true;
        }
    }
    if (pv == UINT32_MAX || (t->skt && sv == UINT32_MAX))
        return keel__fail(KEEL_EVALIDATION, "Where clause does not contain a mandatory equality "
                          "on all key attributes");
    const kdb_pqval *p = kdb_pq_val(q, pv), *s = sv != UINT32_MAX ? kdb_pq_val(q, sv) : NULL;
    kdb_pq_enc_key(key, t, q->vbuf.p + p->off, p->len, s ? q->vbuf.p + s->off : NULL, s ? s->len : 0);
    return key->failed ? oom() : KEEL_OK;
}

static bool same_path(const kdb_pq *q, uint32_t a, uint32_t b) {
    const kdb_pqnode *x = &q->nodes[a], *y = &q->nodes[b];
    if (x->kind != KDB_PQN_PATH || y->kind != KDB_PQN_PATH || x->n != y->n) return false;
    for (uint32_t k = 0; k < x->n; k++) {
        const kdb_pqpel *m = &q->pels[x->first + k], *n = &q->pels[y->first + k];
        if (m->len != n->len) return false;
        if (m->len == UINT32_MAX ? m->index != n->index
                                 : memcmp(q->strs.p + m->off, q->strs.p + n->off, m->len) != 0)
            return false;
    }
    return true;
}

/* SET/REMOVE actions as an UpdateExpression: SET ..., REMOVE ..., ADD/DELETE for SET_ADD
 * and SET_DELETE. */
static keel_status render_update(const kdb_pq *q, kdb_pqgen *g, kdb_buf *text) {
    static const char *const section[] = {"SET ", "REMOVE ", "ADD ", "DELETE "};
    for (int s = 0; s < 4; s++) {
        bool first = true;
        for (uint32_t i = 0; i < q->n_acts; i++) {
            const kdb_pqact *a = &q->acts[i];
            const kdb_pqnode *v = a->value != UINT32_MAX ? &q->nodes[a->value] : NULL;
            int kind = !v ? 1 : v->kind == KDB_PQN_FUNC && v->op == KDB_PQF_SET_ADD ? 2
                         : v->kind == KDB_PQN_FUNC && v->op == KDB_PQF_SET_DELETE ? 3 : 0;
            if (kind != s) continue;
            kdb_buf_put(text, first ? (text->len ? " " : "") : ", ", first ? (text->len ? 1 : 0) : 2);
            if (first) kdb_buf_put(text, section[s], strlen(section[s]));
            first = false;
            keel_status st = kdb_pq_render(q, a->path, g, text);
            if (st != KEEL_OK) return st;
            if (kind == 1) continue;
            if (kind >= 2) {
                const uint32_t *k = kdb_pq_kids(q, v);
                if (!same_path(q, k[0], a->path) || !kdb_pq_is_value(q, k[1]))
                    return keel__fail(KEEL_EVALIDATION, "%s must name the path it sets and "
                                      "give a set value (position %u)",
                                      kind == 2 ? "SET_ADD" : "SET_DELETE", v->pos);
                kdb_buf_put(text, " ", 1);
                st = kdb_pq_render(q, k[1], g, text);
            } else {
                kdb_buf_put(text, " = ", 3);
                st = kdb_pq_render(q, a->value, g, text);
            }
            if (st != KEEL_OK) return st;
        }
    }
    return text->failed ? oom() : KEEL_OK;
}

void kdb_pqw_free(kdb_pqw *w) {
    kdb_buf_free(&w->key);
    free(w->cond);
    free(w->upd);
    kdb_buf_free(&w->names);
    kdb_buf_free(&w->values);
    memset(w, 0, sizeof *w);
}

keel_status kdb_pq_compile_write(const kdb_table *t, const kdb_pq *q, kdb_pqw *w) {
    kdb_pqgen g = {0};
    kdb_buf cond = {0}, rest = {0}, upd = {0};
    kdb_pqconj c;
    memset(w, 0, sizeof *w);
    w->kind = q->kind;
    w->returning = q->returning;
    kdb_pq_conjuncts(q, &c);
    bool *used = calloc(c.n + 1, sizeof *used);
    keel_status st = used ? KEEL_OK : oom();
    if (st == KEEL_OK && q->kind == KDB_PQ_INSERT) {
        const kdb_pqval *v = kdb_pq_val(q, q->item);
        kdb_val iv;
        if (!kdb_val_decode(q->vbuf.p + v->off, v->len, &iv) || iv.type != KDB_M)
            st = keel__fail(KEEL_EVALIDATION, "INSERT needs an item: a map of attributes");
        else kdb_buf_put(&w->key, q->vbuf.p + v->off, v->len);
    }
    if (st == KEEL_OK && q->kind != KDB_PQ_INSERT) {
        st = write_key(t, q, &c, used, &w->key);
    }
    if (st == KEEL_OK && q->kind == KDB_PQ_UPDATE) st = render_update(q, &g, &upd);
    if (st == KEEL_OK && q->kind != KDB_PQ_INSERT) st = kdb_pq_render_rest(q, &c, used, &g, &rest);
    if (st == KEEL_OK) {
        bool neg = q->kind != KDB_PQ_UPDATE;
        if (q->kind == KDB_PQ_DELETE && !rest.len) {
            /* no condition */
        } else {
            kdb_buf_put(&cond, neg ? "attribute_not_exists(" : "attribute_exists(", neg ? 21 : 17);
            kdb_pq_render_name(&g, t->pk, strlen(t->pk), &cond);
            kdb_buf_put(&cond, ")", 1);
            if (rest.len) {
                kdb_buf_put(&cond, neg ? " OR (" : " AND (", neg ? 5 : 6);
                kdb_buf_put(&cond, rest.p, rest.len);
                kdb_buf_put(&cond, ")", 1);
            }
        }
        kdb_pq_gen_maps(&g, &w->names, &w->values);
        if ((cond.len && !(w->cond = kdb_pq_text_dup(&cond))) || (upd.len && !(w->upd = kdb_pq_text_dup(&upd))) ||
            w->names.failed || w->values.failed || cond.failed || w->key.failed)
            st = oom();
    }
    free(used);
    kdb_buf_free(&cond);
    kdb_buf_free(&rest);
    kdb_buf_free(&upd);
    kdb_pqgen_free(&g);
    if (st != KEEL_OK) kdb_pqw_free(w);
    return st;
}

