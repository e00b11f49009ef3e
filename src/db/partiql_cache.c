/*
 * partiql_cache.c: parsed PartiQL statements kept by their text, so that a statement run
 * again with new `?` parameters is not lexed and parsed again (kdb_pq_parse_cached).
 *
 * What is cached is the parse only (kdb_pq), never a plan: a parse depends on the text and
 * the parameters alone, not on the catalog, so no table change can make an entry stale and
 * nothing needs invalidating; keel_db_execute plans every run against the current table.
 *
 * An entry is a template: the parse of its text with the parameters of its first run, with
 * each value that is exactly one `?` marked by its parameter's number (kdb_pqval.param).
 * Statements whose `?` markers sit inside a literal ({'a': ?}, [?]) are not cached. A run
 * that finds its text copies the template and rebuilds its values buffer from the
 * template's literals and the new parameters, after checking those exactly as the parser
 * does (a valid CBOR value each; an item-valid value where the parser checks one). Any
 * difference (another parameter count, a parameter that fails a check, a malformed array)
 * falls back to a full parse, so that every error is the parser's own, word for word.
 *
 * An entry also says whether its statement names one item by its key with `?` parameters
 * (kdb_pqpoint, found once when kept): keel_db_execute then reads that item without the
 * template's copy, the parameters' fill or a plan (partiql.c, point_get), falling back to
 * all of them whenever anything differs from the plain case.
 *
 * Invariants: at most KDB_PQ_CACHE entries (least recently used evicted); entries are only
 * read, copied, added or evicted under `lock`, and a caller only ever gets a deep copy, so
 * an eviction never frees what a running statement uses.
 */
#include "db/db_internal.h"
#include "db/partiql.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define KDB_PQ_CACHE 64u

typedef struct pq_entry {
    uint64_t hash, used;
    char *text;             /* owned, NUL-terminated */
    size_t len;
    uint32_t nparams;
    bool is_point;
    kdb_pqpoint point;
    kdb_pq q;
} pq_entry;

struct kdb_pqcache {
    pthread_mutex_t lock;
    pq_entry e[KDB_PQ_CACHE];
    uint32_t n;
    uint64_t clock;
};

kdb_pqcache *kdb_pqcache_new(void) {
    kdb_pqcache *c = calloc(1, sizeof *c);
    if (c) pthread_mutex_init(&c->lock, NULL);
    return c;
}

void kdb_pqcache_free(kdb_pqcache *c) {
    if (!c) return;
    for (uint32_t i = 0; i < c->n; i++) {
        free(c->e[i].text);
        kdb_pq_free(&c->e[i].q);
    }
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static void *dup_n(const void *p, size_t n, size_t size, bool *ok) {
    if (!n) return NULL;
    void *d = malloc(n * size);
    if (!d) *ok = false;
    else memcpy(d, p, n * size);
    return d;
}

/* A deep copy of `src` in `dst`, or false (dst freed) when out of memory. */
static bool pq_copy(kdb_pq *dst, const kdb_pq *src) {
    bool ok = true;
    *dst = *src;
    dst->proj = dup_n(src->proj, src->n_proj, sizeof *src->proj, &ok);
    dst->acts = dup_n(src->acts, src->n_acts, sizeof *src->acts, &ok);
    dst->nodes = dup_n(src->nodes, src->n_nodes, sizeof *src->nodes, &ok);
    dst->kids = dup_n(src->kids, src->n_kids, sizeof *src->kids, &ok);
    dst->pels = dup_n(src->pels, src->n_pels, sizeof *src->pels, &ok);
    dst->vals = dup_n(src->vals, src->n_vals, sizeof *src->vals, &ok);
    dst->cap_nodes = dst->n_nodes, dst->cap_kids = dst->n_kids;
    dst->cap_pels = dst->n_pels, dst->cap_vals = dst->n_vals;
    memset(&dst->strs, 0, sizeof dst->strs);
    memset(&dst->vbuf, 0, sizeof dst->vbuf);
    kdb_buf_put(&dst->strs, src->strs.p, src->strs.len);
    kdb_buf_put(&dst->vbuf, src->vbuf.p, src->vbuf.len);
    if (!ok || dst->strs.failed || dst->vbuf.failed) {
        kdb_pq_free(dst);
        return false;
    }
    return true;
}

/* The parameters of the array `params` as the template's values: true when they pass the
 * parser's checks and q->vbuf/vals now hold them. */
static bool fill_params(kdb_pq *q, uint32_t nparams, const uint8_t *params, size_t params_len) {
    uint64_t given = 0;
    if (params && params_len) {
        kdb_head h;
        if (!kdb_cbor_head(params, params_len, &h) || h.kind != KDB_C_ARRAY) return false;
        given = h.v.u;
        params += h.head_len;
        params_len -= h.head_len;
    }
    if (given != nparams) return false;
    size_t small[2 * 16], *span = nparams <= 16 ? small : malloc(2 * nparams * sizeof *span);
    if (!span) return false;
    const uint8_t *base = params;        /* span[2i], span[2i+1]: parameter i's bytes */
    for (uint32_t i = 0; i < nparams; i++) {
        size_t n = kdb_cbor_skip(params, params_len, KEEL_DB_MAX_DEPTH + 2);
        kdb_val v;
        if (n == 0 || !kdb_val_decode(params, n, &v)) {
            if (span != small) free(span);
            return false;
        }
        span[2 * i] = (size_t)(params - base), span[2 * i + 1] = n;
        params += n, params_len -= n;
    }
    bool good = true;
    kdb_buf vb = {0};
    for (uint32_t i = 0; i < q->n_vals; i++) {
        kdb_pqval *v = &q->vals[i];
        size_t off = vb.len;
        if (v->param) {
            const uint8_t *p = base + span[2 * (v->param - 1)];
            size_t n = span[2 * (v->param - 1) + 1];
            if (v->check) {     /* what the parser checks: {"v": value} as an item */
                kdb_val pv;
                good = good && kdb_val_decode(p, n, &pv) && kdb_val_check(&pv) == KEEL_OK;
            }
            kdb_buf_put(&vb, p, n);
        } else {
            kdb_buf_put(&vb, q->vbuf.p + v->off, v->len);
        }
        v->off = off;
        v->len = vb.len - off;
    }
    if (span != small) free(span);
    if (!good || vb.failed) {
        kdb_buf_free(&vb);
        return false;
    }
    kdb_buf_free(&q->vbuf);
    q->vbuf = vb;
    return true;
}

static pq_entry *find(kdb_pqcache *c, uint64_t h, const char *text, size_t len) {
    for (uint32_t i = 0; i < c->n; i++)
        if (c->e[i].hash == h && c->e[i].len == len && memcmp(c->e[i].text, text, len) == 0)
            return &c->e[i];
    return NULL;
}

/* One conjunct `name = ?` (either side) into slot i of `pt`. */
static bool point_conjunct(const kdb_pq *q, uint32_t id, kdb_pqpoint *pt, uint32_t i) {
    const kdb_pqnode *n = &q->nodes[id];
    if (n->kind != KDB_PQN_CMP || n->op != KDB_PQC_EQ) return false;
    const uint32_t *k = kdb_pq_kids(q, n);
    uint32_t path = kdb_pq_is_value(q, k[1]) ? k[0] : k[1], value = path == k[0] ? k[1] : k[0];
    const char *name;
    size_t len;
    if (!kdb_pq_is_value(q, value) || !kdb_pq_simple_path(q, path, &name, &len) || len == 0 ||
        len >= sizeof pt->attr[i] || memchr(name, 0, len))
        return false;
    const kdb_pqval *v = kdb_pq_val(q, value);
    if (!v->param) return false;
    memcpy(pt->attr[i], name, len);
    pt->attr[i][len] = 0;
    pt->param[i] = v->param;
    pt->check[i] = v->check;
    return true;
}

/* Whether `q` has kdb_pqpoint's shape, into *pt. */
static bool point_shape(const kdb_pq *q, kdb_pqpoint *pt) {
    memset(pt, 0, sizeof *pt);
    if (q->kind != KDB_PQ_SELECT || !q->star || q->n_proj || q->order || q->index[0] ||
        !q->has_where)
        return false;
    kdb_pqconj c;
    kdb_pq_conjuncts(q, &c);
    if (c.n < 1 || c.n > 2 || q->n_params != c.n) return false;
    for (uint32_t i = 0; i < c.n; i++)
        if (!point_conjunct(q, c.ids[i], pt, i)) return false;
    if (c.n == 2 && (strcmp(pt->attr[0], pt->attr[1]) == 0 || pt->param[0] == pt->param[1]))
        return false;
    memcpy(pt->table, q->table, sizeof pt->table);
    pt->n = c.n;
    return true;
}

bool kdb_pq_cached_point(keel_db *db, const char *text, size_t len, kdb_pqpoint *out) {
    kdb_pqcache *c = db->pqcache;
    if (!c || len > KDB_PQ_MAX_LEN) return false;
    uint64_t h = keel_hash(text, len);
    pthread_mutex_lock(&c->lock);
    pq_entry *e = find(c, h, text, len);
    bool ok = e && e->is_point;
    if (ok) {
        e->used = ++c->clock;
        *out = e->point;
    }
    pthread_mutex_unlock(&c->lock);
    return ok;
}

/* Keep a copy of the fresh parse `q` of `text` (best effort: out of memory keeps none). */
static void remember(kdb_pqcache *c, uint64_t h, const char *text, size_t len, const kdb_pq *q) {
    uint32_t nparams = 0;
    for (uint32_t i = 0; i < q->n_vals; i++) nparams += q->vals[i].param != 0;
    if (nparams != q->n_params) return;  /* a `?` inside a literal: not a template */
    char *t = malloc(len + 1);
    if (!t) return;
    memcpy(t, text, len);
    t[len] = 0;
    pthread_mutex_lock(&c->lock);
    pq_entry *e = find(c, h, text, len);
    if (e) {                             /* another thread got there first */
        pthread_mutex_unlock(&c->lock);
        free(t);
        return;
    }
    if (c->n < KDB_PQ_CACHE) {
        e = &c->e[c->n++];
    } else {
        e = &c->e[0];
        for (uint32_t i = 1; i < c->n; i++)
            if (c->e[i].used < e->used) e = &c->e[i];
        free(e->text);
        kdb_pq_free(&e->q);
    }
    if (pq_copy(&e->q, q)) {
        e->hash = h, e->text = t, e->len = len, e->nparams = nparams, e->used = ++c->clock;
        e->is_point = point_shape(q, &e->point);
    } else {
        free(t);
        *e = c->e[--c->n];               /* drop the slot */
    }
    pthread_mutex_unlock(&c->lock);
}

keel_status kdb_pq_parse_cached(keel_db *db, const char *text, size_t len, const uint8_t *params,
                                size_t params_len, kdb_pq *q) {
    kdb_pqcache *c = db->pqcache;
    if (!c || len > KDB_PQ_MAX_LEN) return kdb_pq_parse(text, len, params, params_len, q);
    uint64_t h = keel_hash(text, len);
    pthread_mutex_lock(&c->lock);
    pq_entry *e = find(c, h, text, len);
    bool copied = false;
    uint32_t nparams = 0;
    if (e) {
        e->used = ++c->clock;
        nparams = e->nparams;
        copied = pq_copy(q, &e->q);
    }
    pthread_mutex_unlock(&c->lock);
    if (copied) {
        if (fill_params(q, nparams, params, params_len)) return KEEL_OK;
        kdb_pq_free(q);                  /* the parser says what is wrong */
    }
    keel_status st = kdb_pq_parse(text, len, params, params_len, q);
    if (st == KEEL_OK && !e) remember(c, h, text, len, q);
    return st;
}
