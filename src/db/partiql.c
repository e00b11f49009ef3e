/*
 * partiql.c: PartiQL statements planned and run (keel_db_execute, keel_db_batch_execute).
 *
 * A parsed statement (partiql_parse.c) is planned against its table's key schema:
 *
 *   SELECT  the WHERE clause's top-level conjuncts are searched for `pk = v` or
 *           `pk IN (v, ...)`; with one, and a `sk = v` (or no sort key), the plan is point
 *           gets; with one and some other sort-key conjunct (<, <=, >, >=, BETWEEN,
 *           BEGINS_WITH), or none, it is one Query per partition key value, that conjunct
 *           its key condition; without one it is a Scan. The conjuncts not used as keys are
 *           the filter. Partition key values of the wrong type can match nothing and are
 *           dropped (so `pk = 1` on an S key reads nothing, as DynamoDB answers).
 *   INSERT, UPDATE, DELETE  compiled to one conditional write (partiql_write.c) and run
 *           through keel_db_put_item_ex, keel_db_update_item or keel_db_delete_item_ex (an
 *           INSERT's failed condition is KEEL_EDUPLICATE).
 *
 * A kept statement that names one item by its whole key with `?` parameters (SELECT *
 * FROM t WHERE pk = ? AND sk = ?: kdb_pq_cached_point) is a point get at once (point_get):
 * its parameters are checked as the parser would, the store key made from them, and the
 * result is the GET plan plan_select would make, without copying the kept parse, filling
 * it, or planning. Anything else (another table schema, a parameter of another type than
 * the key's, a malformed one, a resume) takes the general way, which also words errors.
 *
 * Every expression goes through partiql_render.c to DynamoDB expression text with fresh
 * placeholders, and from there through the one expression parser: this file never
 * evaluates a condition itself except by kdb_expr_eval on a plan that parser built.
 * A result owns copies of everything it uses (texts, maps, keys); item views point into
 * the mapping or into the result's own buffer.
 */
#include "db/db_internal.h"
#include "db/partiql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct keel_db_result {
    keel_db *db;
    keel_db_plan plan;
    kdb_table t;
    uint64_t limit, scanned, returned;
    kdb_buf keys;               /* GET: the key maps; QUERY: the partition key values */
    size_t *offs;               /* where each starts in `keys` (n + 1 entries) */
    kdb_buf skeys;              /* GET: the store key of each key map, made when planned */
    size_t *soffs;              /* where each starts in `skeys` (n + 1 entries) */
    size_t n, i;
    kdb_expr *filter, *proj;    /* GET */
    kdb_buf out;                /* GET: the projected item */
    char *kc, *ftext, *ptext;   /* QUERY, SCAN: expression texts (NULL: none) */
    kdb_buf names, common;      /* QUERY, SCAN: the names map; the values' pairs */
    uint32_t n_common;
    kdb_buf values;             /* the values map of the current cursor */
    bool forward;
    keel_db_cursor *cur;
    uint64_t cur_scanned;       /* scanned by finished cursors */
    keel_db_buf ret;            /* WRITE: the RETURNING item */
    kdb_buf lim_key;            /* QUERY, SCAN: where the limit stopped the last cursor */
    size_t lim_i;               /* ... and that cursor's partition */
    kdb_buf resume_key;         /* resuming: the first cursor starts after this key */
};

void keel_db_result_free(keel_db_result *r) {
    if (!r) return;
    kdb_buf_free(&r->keys);
    free(r->offs);
    kdb_buf_free(&r->skeys);
    free(r->soffs);
    kdb_expr_free(r->filter);
    kdb_expr_free(r->proj);
    kdb_buf_free(&r->out);
    free(r->kc);
    free(r->ftext);
    free(r->ptext);
    kdb_buf_free(&r->names);
    kdb_buf_free(&r->common);
    kdb_buf_free(&r->values);
    keel_db_cursor_free(r->cur);
    keel_db_buf_free(&r->ret);
    kdb_buf_free(&r->lim_key);
    kdb_buf_free(&r->resume_key);
    free(r);
}

static keel_status oom(void) { return keel__fail(KEEL_ENOMEM, "running a PartiQL statement"); }

/* ---- the WHERE clause's conjuncts ------------------------------------------------------ */

static bool value_of_type(const kdb_pq *q, uint32_t id, keel_db_keytype t, kdb_val *out) {
    const kdb_pqval *v = &q->vals[q->nodes[id].first];
    kdb_val tmp;
    if (!out) out = &tmp;
    if (!kdb_val_decode(q->vbuf.p + v->off, v->len, out)) return false;
    return (t == KEEL_DB_KEY_S && out->type == KDB_S) || (t == KEEL_DB_KEY_N && out->type == KDB_N) ||
           (t == KEEL_DB_KEY_B && out->type == KDB_B);
}

/* A sort-key conjunct usable in a key condition (its values of the key's type). */
static bool sk_range(const kdb_pq *q, uint32_t id, const kdb_table *t) {
    const kdb_pqnode *n = &q->nodes[id];
    const uint32_t *k = kdb_pq_kids(q, n);
    if (n->kind == KDB_PQN_CMP && n->op != KDB_PQC_NE) {
        uint32_t v = kdb_pq_names_attr(q, k[0], t->sk) ? k[1] : kdb_pq_names_attr(q, k[1], t->sk) ? k[0]
                                                                                   : UINT32_MAX;
        return v != UINT32_MAX && kdb_pq_is_value(q, v) && value_of_type(q, v, t->skt, NULL);
    }
    if (n->kind == KDB_PQN_BETWEEN)
        return kdb_pq_names_attr(q, k[0], t->sk) && kdb_pq_is_value(q, k[1]) && kdb_pq_is_value(q, k[2]) &&
               value_of_type(q, k[1], t->skt, NULL) && value_of_type(q, k[2], t->skt, NULL);
    if (n->kind == KDB_PQN_FUNC && n->op == KDB_PQF_BEGINS)
        return t->skt != KEEL_DB_KEY_N && kdb_pq_names_attr(q, k[0], t->sk) && kdb_pq_is_value(q, k[1]) &&
               value_of_type(q, k[1], t->skt, NULL);
    return false;
}

/* ---- SELECT ------------------------------------------------------------------------------ */

static keel_status add_key(keel_db_result *r, size_t start) {
    size_t *o = realloc(r->offs, (r->n + 2) * sizeof *o);
    if (!o) return oom();
    r->offs = o;
    o[r->n] = start;
    o[++r->n] = r->keys.len;
    return r->keys.failed ? oom() : KEEL_OK;
}

static keel_status plan_select(keel_db_result *r, const kdb_pq *q) {
    const kdb_table *t = &r->t;
    kdb_pqconj c;
    kdb_pq_conjuncts(q, &c);
    bool *used = calloc(c.n + 1, sizeof *used);
    if (!used) return oom();
    uint32_t pk_i = UINT32_MAX, sk_i = UINT32_MAX;
    for (uint32_t i = 0; i < c.n && pk_i == UINT32_MAX; i++) {
        const kdb_pqnode *n = &q->nodes[c.ids[i]];
        bool in = n->kind == KDB_PQN_IN && kdb_pq_names_attr(q, q->kids[n->first], t->pk);
        for (uint32_t k = 1; in && k < n->n; k++) in = kdb_pq_is_value(q, q->kids[n->first + k]);
        if (in || kdb_pq_eq_value(q, c.ids[i], t->pk) != UINT32_MAX) pk_i = i;
    }
    if (pk_i != UINT32_MAX && t->skt) {
        for (uint32_t i = 0; i < c.n && sk_i == UINT32_MAX; i++)
            if (i != pk_i && kdb_pq_eq_value(q, c.ids[i], t->sk) != UINT32_MAX &&
                value_of_type(q, kdb_pq_eq_value(q, c.ids[i], t->sk), t->skt, NULL))
                sk_i = i;
        for (uint32_t i = 0; i < c.n && sk_i == UINT32_MAX; i++)
            if (i != pk_i && sk_range(q, c.ids[i], t)) sk_i = i;
    }
    bool point = pk_i != UINT32_MAX &&
                 (!t->skt || (sk_i != UINT32_MAX && kdb_pq_eq_value(q, c.ids[sk_i], t->sk) != UINT32_MAX));
    r->plan = pk_i == UINT32_MAX ? KEEL_DB_PLAN_SCAN : point ? KEEL_DB_PLAN_GET : KEEL_DB_PLAN_QUERY;
    if (pk_i != UINT32_MAX) used[pk_i] = true;
    if (sk_i != UINT32_MAX && r->plan != KEEL_DB_PLAN_SCAN) used[sk_i] = true;

    keel_status st = KEEL_OK;
    if (q->order && r->plan == KEEL_DB_PLAN_SCAN)
        st = keel__fail(KEEL_EVALIDATION, "ORDER BY needs a WHERE clause with an equality on "
                        "the partition key %s", t->pk);
    else if (q->order && !kdb_pq_names_attr(q, q->order_path, t->sk) && !kdb_pq_names_attr(q, q->order_path, t->pk))
        st = keel__fail(KEEL_EVALIDATION, "ORDER BY can only name a key attribute of %s", t->name);
    r->forward = q->order >= 0;

    /* The partition key values (of the key's type), each as the key or as a value. */
    const kdb_val *skv = NULL;
    kdb_val skval;
    if (st == KEEL_OK && r->plan == KEEL_DB_PLAN_GET && t->skt) {
        uint32_t v = kdb_pq_eq_value(q, c.ids[sk_i], t->sk);
        if (value_of_type(q, v, t->skt, &skval)) skv = &skval;
    }
    if (st == KEEL_OK && pk_i != UINT32_MAX) {
        const kdb_pqnode *n = &q->nodes[c.ids[pk_i]];
        uint32_t first = n->kind == KDB_PQN_IN ? 1 : 0;
        uint32_t last = n->kind == KDB_PQN_IN ? n->n : 1;
        for (uint32_t k = first; k < last && st == KEEL_OK; k++) {
            uint32_t v = n->kind == KDB_PQN_IN ? q->kids[n->first + k] : kdb_pq_eq_value(q, c.ids[pk_i], t->pk);
            kdb_val pv;
            if (!value_of_type(q, v, t->pkt, &pv)) continue;
            size_t start = r->keys.len;
            if (r->plan == KEEL_DB_PLAN_GET) {
                kdb_pq_enc_key(&r->keys, t, pv.p, pv.len, skv ? skv->p : NULL, skv ? skv->len : 0);
                kdb_key key;
                if (!r->keys.failed &&
                    (st = kdb_item_key(t, r->keys.p + start, r->keys.len - start, true, &key)) != KEEL_OK)
                    break;
                size_t *so = r->keys.failed ? NULL : realloc(r->soffs, (r->n + 2) * sizeof *so);
                if (!so) {
                    st = oom();
                    break;
                }
                r->soffs = so;
                so[r->n] = r->skeys.len;
                kdb_buf_put(&r->skeys, key.b, key.len);
                so[r->n + 1] = r->skeys.len;
                if (r->skeys.failed) {
                    st = oom();
                    break;
                }
            } else {
                kdb_key key; /* a partition key the query can encode (its length) */
                if ((st = kdb_key_make(t->id, t->pkt, &pv, KEEL_DB_KEY_NONE, NULL, &key)) != KEEL_OK)
                    break;
                kdb_buf_put(&r->keys, pv.p, pv.len);
            }
            st = add_key(r, start);
        }
    }

    /* Expressions: key condition (QUERY), filter, projection, in one set of placeholders. */
    kdb_pqgen g = {0};
    kdb_buf kc = {0}, ft = {0}, pt = {0}, values = {0};
    size_t sk_at = 0;           /* where the sort-key condition starts in kc */
    if (st == KEEL_OK && r->plan == KEEL_DB_PLAN_QUERY) {
        kdb_pq_render_name(&g, t->pk, strlen(t->pk), &kc);
        kdb_buf_put(&kc, " = :pk", 6);
        if (sk_i != UINT32_MAX) {
            kdb_buf_put(&kc, " AND ", 5);
            sk_at = kc.len;
            st = kdb_pq_render(q, c.ids[sk_i], &g, &kc);
        }
    }
    if (st == KEEL_OK) st = kdb_pq_render_rest(q, &c, used, &g, &ft);
    for (uint32_t i = 0; st == KEEL_OK && i < q->n_proj; i++) {
        if (i) kdb_buf_put(&pt, ", ", 2);
        st = kdb_pq_render(q, q->proj[i], &g, &pt);
    }
    if (st == KEEL_OK) {
        kdb_pq_gen_maps(&g, &r->names, &values);
        if (r->names.failed || values.failed || g.names.failed || g.values.failed || kc.failed ||
            pt.failed)
            st = oom();
    }
    /* Every name, value and expression is checked now, whatever the plan, so that nothing
     * the statement says fails later, at a read (a query's cursors parse their own copies;
     * the sort-key condition is checked here as a condition). */
    kdb_subst s;
    if (st == KEEL_OK)
        st = kdb_subst_init(&s, r->names.len ? r->names.p : NULL, r->names.len,
                            values.len ? values.p : NULL, values.len);
    if (st == KEEL_OK && ft.len)
        st = kdb_expr_parse(KDB_EXPR_CONDITION, (const char *)ft.p, ft.len, &s, &r->filter);
    if (st == KEEL_OK && pt.len)
        st = kdb_expr_parse(KDB_EXPR_PROJECTION, (const char *)pt.p, pt.len, &s, &r->proj);
    if (st == KEEL_OK && sk_at) {
        kdb_expr *skx = NULL;
        st = kdb_expr_parse(KDB_EXPR_CONDITION, (const char *)kc.p + sk_at, kc.len - sk_at, &s,
                            &skx);
        kdb_expr_free(skx);
    }
    if (st == KEEL_OK && pt.len && !(r->ptext = kdb_pq_text_dup(&pt))) st = oom();
    if (st == KEEL_OK && r->plan != KEEL_DB_PLAN_GET) {
        if ((kc.len && !(r->kc = kdb_pq_text_dup(&kc))) || (ft.len && !(r->ftext = kdb_pq_text_dup(&ft))))
            st = oom();
        kdb_buf_put(&r->common, g.values.p, g.values.len);
        r->n_common = g.n_values;
        if (r->common.failed) st = oom();
        if (r->plan == KEEL_DB_PLAN_SCAN) r->n = 1;
    }
    kdb_buf_free(&kc);
    kdb_buf_free(&ft);
    kdb_buf_free(&pt);
    kdb_buf_free(&values);
    kdb_pqgen_free(&g);
    free(used);
    return st;
}

/* Start the cursor for partition value i (QUERY) or the scan. */
static keel_status start_cursor(keel_db_result *r) {
    keel_db_query qq = KEEL_DB_QUERY_INIT;
    r->values.len = 0;
    r->values.failed = false;
    uint32_t nv = r->n_common + (r->plan == KEEL_DB_PLAN_QUERY);
    if (nv) {
        kdb_enc_map(&r->values, nv);
        kdb_buf_put(&r->values, r->common.p, r->common.len);
        if (r->plan == KEEL_DB_PLAN_QUERY) {
            kdb_enc_text(&r->values, ":pk", 3);
            kdb_buf_put(&r->values, r->keys.p + r->offs[r->i], r->offs[r->i + 1] - r->offs[r->i]);
        }
        if (r->values.failed) return oom();
        qq.values = r->values.p;
        qq.values_len = r->values.len;
    }
    if (r->names.len) {
        qq.names = r->names.p;
        qq.names_len = r->names.len;
    }
    qq.key_condition = r->kc;
    qq.filter = r->ftext;
    qq.projection = r->ptext;
    qq.forward = r->forward;
    qq.limit = r->limit ? r->limit - r->scanned : 0;
    if (r->resume_key.len) {
        qq.start_key = r->resume_key.p;
        qq.start_key_len = r->resume_key.len;
    }
    r->i++;
    keel_status st = r->plan == KEEL_DB_PLAN_QUERY
                         ? kdb_query_start(r->db, r->t.name, &qq, true, &r->cur)
                         : keel_db_scan_start(r->db, r->t.name, &qq, &r->cur);
    r->resume_key.len = 0;      /* only the first cursor resumes */
    return st;
}

static keel_status next_get(keel_db_result *r, keel_view *item_out) {
    while (r->i < r->n) {
        if (r->limit && r->scanned >= r->limit) return KEEL_NOTFOUND;
        const uint8_t *key = r->keys.p + r->offs[r->i];
        size_t len = r->offs[r->i + 1] - r->offs[r->i];
        size_t k = r->i++;
        keel_view v;
        /* The store key made when planning serves while the table is the one planned for
         * (ids are never reused, and a table's schema never changes); otherwise the key
         * map goes through keel_db_get_item as a caller's would. */
        kdb_table t;
        keel_status st = kdb_table_get(r->db, r->t.name, &t);
        if (st == KEEL_OK && t.id == r->t.id && r->soffs) {
            st = keel__get_intact(r->db->s, r->skeys.p + r->soffs[k],
                                  r->soffs[k + 1] - r->soffs[k], &v);
            if (st == KEEL_OK && t.ttl[0] && kdb_expired(t.ttl, kdb_now(r->db), v.data, v.len))
                st = keel__fail(KEEL_NOTFOUND, "the item has expired");
        } else if (st == KEEL_OK) {
            st = keel_db_get_item(r->db, r->t.name, key, len, &v);
        }
        if (st == KEEL_NOTFOUND) continue;
        if (st != KEEL_OK) return st;
        r->scanned++;
        int pass = r->filter ? kdb_expr_eval(r->filter, v.data, v.len) : 1;
        if (pass < 0) return keel__fail(KEEL_ECORRUPT, "WHERE: the stored item is malformed");
        if (pass != 1) continue;
        if (r->proj) {
            if ((st = kdb_expr_project(r->proj, v.data, v.len, &r->out)) != KEEL_OK) return st;
            v.data = r->out.p;
            v.len = r->out.len;
        }
        *item_out = v;
        return KEEL_OK;
    }
    return KEEL_NOTFOUND;
}

static keel_status next_cursor(keel_db_result *r, keel_view *item_out) {
    for (;;) {
        if (!r->cur) {
            if (r->i >= r->n || (r->limit && r->scanned >= r->limit)) return KEEL_NOTFOUND;
            keel_status st = start_cursor(r);
            if (st != KEEL_OK) return st;
        }
        keel_status st = keel_db_cursor_next(r->cur, item_out);
        uint64_t sc;
        keel_db_cursor_counts(r->cur, &sc, NULL);
        r->scanned = r->cur_scanned + sc;
        if (st != KEEL_NOTFOUND) return st;
        r->cur_scanned = r->scanned;
        keel_view lk;
        r->lim_key.len = 0;
        if (r->limit && r->scanned >= r->limit &&
            keel_db_cursor_last_key(r->cur, &lk) == KEEL_OK) {
            kdb_buf_put(&r->lim_key, lk.data, lk.len);
            r->lim_i = r->i - 1;
            if (r->lim_key.failed) return oom();
        }
        keel_db_cursor_free(r->cur);
        r->cur = NULL;
    }
}

keel_status keel_db_result_next(keel_db_result *r, keel_view *item_out) {
    if (!r || !item_out) return keel__fail(KEEL_EINVAL, "keel_db_result_next: NULL argument");
    keel_status st;
    switch (r->plan) {
    case KEEL_DB_PLAN_GET: st = next_get(r, item_out); break;
    case KEEL_DB_PLAN_QUERY:
    case KEEL_DB_PLAN_SCAN: st = next_cursor(r, item_out); break;
    default:
        if (r->i || !r->ret.data) return KEEL_NOTFOUND;
        r->i = 1;
        item_out->data = r->ret.data;
        item_out->len = r->ret.len;
        st = KEEL_OK;
    }
    if (st == KEEL_OK) r->returned++;
    return st;
}

void keel_db_result_counts(const keel_db_result *r, uint64_t *scanned_out, uint64_t *returned_out) {
    if (scanned_out) *scanned_out = r ? r->scanned : 0;
    if (returned_out) *returned_out = r ? r->returned : 0;
}

keel_db_plan keel_db_result_plan(const keel_db_result *r) { return r ? r->plan : (keel_db_plan)0; }

/* A position is 8 bytes (big-endian) of the partition or key index to continue at, then,
 * for a cursor stopped inside it, the key map to continue after. */
keel_status keel_db_result_position(keel_db_result *r, keel_db_buf *position_out,
                                    keel_view *last_key_out) {
    if (!r || !position_out) return keel__fail(KEEL_EINVAL, "keel_db_result_position: NULL");
    memset(position_out, 0, sizeof *position_out);
    if (last_key_out) memset(last_key_out, 0, sizeof *last_key_out);
    if (r->plan == KEEL_DB_PLAN_WRITE) return KEEL_NOTFOUND;
    size_t i;
    keel_view key = {0}, last = {0};
    if (r->plan == KEEL_DB_PLAN_GET) {
        if (r->i >= r->n) return KEEL_NOTFOUND;
        i = r->i;
        if (i > 0) {
            last.data = r->keys.p + r->offs[i - 1];
            last.len = r->offs[i] - r->offs[i - 1];
        }
    } else if (r->cur) {
        keel_view item;
        i = r->i - 1;
        if (keel_db_cursor_current(r->cur, &item, &key) != KEEL_OK) memset(&key, 0, sizeof key);
        last = key;
    } else if (r->lim_key.len) {
        i = r->lim_i;
        key.data = r->lim_key.p;
        key.len = r->lim_key.len;
        last = key;
    } else {
        if (r->i >= r->n) return KEEL_NOTFOUND;
        i = r->i;
    }
    uint8_t *p = malloc(8 + key.len);
    if (!p) return oom();
    for (int b = 0; b < 8; b++) p[b] = (uint8_t)((uint64_t)i >> (56 - 8 * b));
    if (key.len) memcpy(p + 8, key.data, key.len);
    position_out->data = p;
    position_out->len = 8 + key.len;
    if (last_key_out) *last_key_out = last;
    return KEEL_OK;
}

static keel_status resume(keel_db_result *r, const uint8_t *p, size_t len) {
    kdb_val m;
    if (r->plan == KEEL_DB_PLAN_WRITE)
        return keel__fail(KEEL_EVALIDATION, "a write statement cannot be resumed");
    if (len < 8) return keel__fail(KEEL_EVALIDATION, "malformed resume position");
    uint64_t i = kdb_ld64be(p);
    if (i > r->n || (len > 8 && (r->plan == KEEL_DB_PLAN_GET || i >= r->n ||
                                 !kdb_val_decode(p + 8, len - 8, &m) || m.type != KDB_M ||
                                 m.len != len - 8)))
        return keel__fail(KEEL_EVALIDATION, "malformed resume position");
    r->i = (size_t)i;
    if (len > 8) {
        kdb_buf_put(&r->resume_key, p + 8, len - 8);
        if (r->resume_key.failed) return oom();
    }
    return KEEL_OK;
}

/* ---- writes ---------------------------------------------------------------------------------- */

static keel_status run_write(keel_db_result *r, const kdb_pq *q) {
    const kdb_table *t = &r->t;
    kdb_pqw w;
    r->plan = KEEL_DB_PLAN_WRITE;
    keel_status st = kdb_pq_compile_write(t, q, &w);
    if (st != KEEL_OK) return st;
    keel_db_write_opts o = KEEL_DB_WRITE_OPTS_INIT;
    o.condition = w.cond;
    o.names = w.names.len ? w.names.p : NULL;
    o.names_len = w.names.len;
    o.values = w.values.len ? w.values.p : NULL;
    o.values_len = w.values.len;
    o.return_values = (keel_db_return)q->returning;
    switch (q->kind) {
    case KDB_PQ_INSERT:
        st = keel_db_put_item_ex(r->db, t->name, w.key.p, w.key.len, &o, &r->ret);
        if (st == KEEL_ECONDITION)
            st = keel__fail(KEEL_EDUPLICATE, "Duplicate primary key exists in table");
        break;
    case KDB_PQ_UPDATE:
        st = keel_db_update_item(r->db, t->name, w.key.p, w.key.len, w.upd, &o, &r->ret);
        break;
    default:
        st = keel_db_delete_item_ex(r->db, t->name, w.key.p, w.key.len, &o, &r->ret);
        break;
    }
    kdb_pqw_free(&w);
    return st;
}

keel_status kdb_pq_compile_get(keel_db *db, const kdb_table *t, const kdb_pq *q, kdb_buf *key,
                               char **projection, kdb_buf *names) {
    keel_db_result r = {.db = db, .t = *t};
    *projection = NULL;
    keel_status st = plan_select(&r, q);
    if (st == KEEL_OK && (r.plan != KEEL_DB_PLAN_GET || r.n != 1 || r.filter || q->order))
        st = keel__fail(KEEL_EVALIDATION, "A transaction's SELECT must name one item by its "
                        "whole primary key (equalities on the key attributes only)");
    if (st == KEEL_OK) {
        kdb_buf_put(key, r.keys.p + r.offs[0], r.offs[1] - r.offs[0]);
        if (r.names.len) kdb_buf_put(names, r.names.p, r.names.len);
        if (key->failed || names->failed) st = oom();
        if (st == KEEL_OK && r.ptext) {
            *projection = r.ptext;
            r.ptext = NULL;
        }
    }
    kdb_buf_free(&r.keys);
    free(r.offs);
    kdb_buf_free(&r.skeys);
    free(r.soffs);
    kdb_expr_free(r.filter);
    kdb_expr_free(r.proj);
    free(r.kc);
    free(r.ftext);
    free(r.ptext);
    kdb_buf_free(&r.names);
    kdb_buf_free(&r.common);
    return st;
}

/* ---- a point get by the whole key ---------------------------------------------------------- */

/* The `?` parameters of the CBOR array params[0..len), at most 2, into v[]: false when
 * there are not exactly n of them or one is not an item value (the parser says why). */
static bool point_params(const uint8_t *params, size_t len, uint32_t n, kdb_val *v) {
    kdb_head h;
    if (!params || !kdb_cbor_head(params, len, &h) || h.kind != KDB_C_ARRAY || h.v.u != n)
        return false;
    size_t at = h.head_len;
    for (uint32_t i = 0; i < n; i++) {
        size_t k = kdb_cbor_skip(params + at, len - at, KEEL_DB_MAX_DEPTH + 2);
        if (k == 0 || !kdb_val_decode(params + at, k, &v[i])) return false;
        at += k;
    }
    return true;
}

static bool key_typed(const kdb_val *v, keel_db_keytype t) {
    return (t == KEEL_DB_KEY_S && v->type == KDB_S) || (t == KEEL_DB_KEY_N && v->type == KDB_N) ||
           (t == KEEL_DB_KEY_B && v->type == KDB_B);
}

/* The result of a kept point SELECT (see the top), or false: take the general way. */
static bool point_get(keel_db *db, const char *stmt, const void *params, size_t params_len,
                      const keel_db_execute_opts *opts, keel_db_result **out) {
    kdb_pqpoint pt;
    kdb_table t;
    kdb_val pv[2];
    if ((opts && opts->resume) || !kdb_pq_cached_point(db, stmt, strlen(stmt), &pt) ||
        kdb_table_get(db, pt.table, &t) != KEEL_OK || pt.n != (t.skt ? 2u : 1u) ||
        !point_params(params, params_len, pt.n, pv)) {
        keel__clear_error();
        return false;
    }
    int ipk = strcmp(pt.attr[0], t.pk) == 0 ? 0 : pt.n == 2 && strcmp(pt.attr[1], t.pk) == 0 ? 1 : -1;
    if (ipk < 0 || (t.skt && strcmp(pt.attr[1 - ipk], t.sk) != 0)) return false;
    const kdb_val *pk = &pv[pt.param[ipk] - 1], *sk = t.skt ? &pv[pt.param[1 - ipk] - 1] : NULL;
    for (uint32_t i = 0; i < pt.n; i++)     /* as the parser checks them */
        if (pt.check[i] && kdb_val_check(&pv[pt.param[i] - 1]) != KEEL_OK) {
            keel__clear_error();
            return false;
        }
    kdb_key key;
    if (!key_typed(pk, t.pkt) || (sk && !key_typed(sk, t.skt)) ||
        kdb_key_make(t.id, t.pkt, pk, t.skt, sk, &key) != KEEL_OK) {
        keel__clear_error();
        return false;
    }
    keel_db_result *r = calloc(1, sizeof *r);
    if (!r) return false;
    r->db = db;
    r->limit = opts ? opts->limit : 0;
    r->t = t;
    r->plan = KEEL_DB_PLAN_GET;
    r->forward = true;
    kdb_pq_enc_key(&r->keys, &t, pk->p, pk->len, sk ? sk->p : NULL, sk ? sk->len : 0);
    r->soffs = malloc(2 * sizeof *r->soffs);
    kdb_buf_put(&r->skeys, key.b, key.len);
    if (!r->soffs || r->skeys.failed || add_key(r, 0) != KEEL_OK) {
        keel_db_result_free(r);
        keel__clear_error();
        return false;
    }
    r->soffs[0] = 0;
    r->soffs[1] = key.len;
    *out = r;
    return true;
}

/* ---- the API ---------------------------------------------------------------------------------- */

keel_status keel_db_execute(keel_db *db, const char *statement, const void *params,
                            size_t params_len, const keel_db_execute_opts *opts,
                            keel_db_result **result_out) {
    if (result_out) *result_out = NULL;
    if (!db || !statement || !result_out)
        return keel__fail(KEEL_EINVAL, "keel_db_execute: NULL argument");
    if (point_get(db, statement, params, params_len, opts, result_out)) return KEEL_OK;
    kdb_pq q;
    keel_status st = kdb_pq_parse_cached(db, statement, strlen(statement), params, params_len,
                                         &q);
    if (st != KEEL_OK) return st;
    keel_db_result *r = calloc(1, sizeof *r);
    if (!r) {
        kdb_pq_free(&q);
        return oom();
    }
    r->db = db;
    r->limit = opts ? opts->limit : 0;
    st = kdb_table_get(db, q.table, &r->t);
    if (st == KEEL_OK && q.index[0])
        st = keel__fail(KEEL_EVALIDATION, "The table does not have the specified index: %s",
                        q.index);
    if (st == KEEL_OK && q.kind != KDB_PQ_SELECT && opts && opts->resume)
        st = keel__fail(KEEL_EVALIDATION, "a write statement cannot be resumed");
    if (st == KEEL_OK) st = q.kind == KDB_PQ_SELECT ? plan_select(r, &q) : run_write(r, &q);
    if (st == KEEL_OK && opts && opts->resume)
        st = resume(r, opts->resume, opts->resume_len);
    kdb_pq_free(&q);
    if (st != KEEL_OK) {
        keel_db_result_free(r);
        return st;
    }
    *result_out = r;
    return KEEL_OK;
}

static bool is_select(const char *s) {
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
    return strncasecmp(s, "SELECT", 6) == 0;
}

static void respond(keel_db_batch_response *resp, keel_status st) {
    resp->status = st;
    if (st != KEEL_OK) snprintf(resp->message, sizeof resp->message, "%s", keel_errmsg());
}

keel_status keel_db_batch_execute(keel_db *db, const keel_db_statement *stmts, size_t n,
                                  keel_db_batch_response *responses) {
    if (!db || (n && (!stmts || !responses)))
        return keel__fail(KEEL_EINVAL, "keel_db_batch_execute: NULL argument");
    /* Cleared only for a valid n: a huge one would run past the caller's array. */
    for (size_t i = 0; i < n && n <= KEEL_DB_MAX_BATCH_STATEMENTS; i++)
        memset(&responses[i], 0, sizeof responses[i]);
    if (n == 0 || n > KEEL_DB_MAX_BATCH_STATEMENTS)
        return keel__fail(KEEL_EVALIDATION, "A batch holds 1 to %u statements, not %zu",
                          KEEL_DB_MAX_BATCH_STATEMENTS, n);
    bool reads = stmts[0].statement && is_select(stmts[0].statement);
    for (size_t i = 0; i < n; i++)
        if (!stmts[i].statement || is_select(stmts[i].statement) != reads)
            return keel__fail(KEEL_EVALIDATION, "Batch statements must all be reads or all be "
                              "writes (statement %zu)", i);
    for (size_t i = 0; i < n; i++) {
        keel_db_result *r = NULL;
        keel_status st = keel_db_execute(db, stmts[i].statement, stmts[i].params,
                                         stmts[i].params_len, NULL, &r);
        if (st == KEEL_OK && reads && (r->plan != KEEL_DB_PLAN_GET || r->n > 1))
            st = keel__fail(KEEL_EVALIDATION, "Batch read statements must name one item by its "
                            "whole primary key");
        keel_view v;
        keel_status nst = st == KEEL_OK ? keel_db_result_next(r, &v) : KEEL_NOTFOUND;
        if (nst == KEEL_OK) {
            responses[i].item.data = malloc(v.len ? v.len : 1);
            if (!responses[i].item.data) nst = oom();
            else memcpy(responses[i].item.data, v.data, v.len), responses[i].item.len = v.len;
        }
        if (st == KEEL_OK && nst != KEEL_OK && nst != KEEL_NOTFOUND) st = nst;
        respond(&responses[i], st);
        keel_db_result_free(r);
    }
    return KEEL_OK;
}

void keel_db_batch_responses_free(keel_db_batch_response *responses, size_t n) {
    for (size_t i = 0; responses && i < n; i++) keel_db_buf_free(&responses[i].item);
}
