/*
 * vec_hnsw.c: approximate vector search: one HNSW graph (hnswlib, through hnsw.cc) per
 * vector index, its item ids, and its checkpoint inside the database file
 * (vec_hnsw_ckpt.c). vec_search.c hands a search here when the caller asked for one
 * (opts.ef > 0) and falls back to its exact scan when this file says so.
 *
 * Ids. The graph's labels are dense per-index item ids. Each id owns a copy of its item's
 * store key (keys survive compaction; trailer and payload offsets do not) and the current
 * trailer and payload offsets of the item; a hash map finds an id by key. vhash[id] is the
 * 64-bit hash (XXH3, keel_hash) of the vector the graph holds for the id, 0 when the graph
 * holds none (never added, or marked deleted). The one invariant every path keeps:
 *     vhash[id] != 0  <=>  label id is live in the graph with a vector hashing to vhash[id]
 * so "is the graph right about this item" is `vhash[id] == hash(current vector)`, whatever
 * happened in between (updates, crashes, compaction, a checkpoint written long ago).
 *
 * Updates. The store's publish hook (vector.c -> kdb_hnsw_note, index lock held for
 * writing) only moves ids: a new item gets an id, a deleted one gives its id back, and
 * either way the id goes on the dirty list. The next approximate search drains the list
 * under the graph's own lock held for writing (add, relink or mark deleted), so a write
 * never pays an HNSW insertion under the store's write lock and a bulk load builds its
 * graph in one pass. A search holds the index lock
 * for reading (items, offsets and ids cannot move) and the graph lock for reading.
 *
 * Lifetime. A graph exists only once used: the first approximate search builds it from the
 * candidate list (state BUILT), or open loads it from a checkpoint (LOADED) and catches up
 * by hashes. A reload (compaction) detaches the graphs before the catalog is re-parsed
 * (kdb_hnsw_detach) and re-attaches them after (kdb_hnsw_sync), re-deriving every id's
 * offsets from its key: compaction never rebuilds a graph.
 *
 * DOT_PRODUCT. Inner product is not a metric (a point need not be its own nearest
 * neighbour), and hnswlib's inner-product graph, built by it, routes poorly when norms
 * differ: recall@10 0.85 at ef 128 on the tests' clustered data. The textbook fix, an L2
 * graph over vectors lifted to (x, sqrt(R^2 - |x|^2)) with R the largest norm, measured
 * worse still below ef 256 on that data (0.70 at ef 128) and needs R raised, with every
 * point rewritten, whenever a longer vector arrives. So the graph is built by angle and
 * searched by inner product (KEEL_HNSW_MIPS, hnsw.h): each point is (x / |x|, |x|), two
 * points are compared as COSINE compares them (a metric on directions, which HNSW builds
 * well), and a query's distance to a point is -q.x exactly. Each point carries its own
 * norm, so nothing depends on the others' and no write ever forces a rebuild. Measured
 * recall@10 on the same data: 0.99 at ef 128 (docs/ARCHITECTURE.md).
 *
 * Scores are never the graph's: every returned item's key is recomputed from the stored
 * vector with the exact path's kernels and formulas, so a score is the same number either
 * way, and results are ordered (key, slot) like the exact path.
 */
#include "db/db_internal.h"
#include "db/hnsw.h"
#include "db/vec_hnsw.h"
#include "db/vec_kernels.h"

#include <float.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


/* Below this many items an approximate search scans exactly instead (see ARCHITECTURE.md:
 * under ~5k items one SIMD scan costs about what the graph walk costs at ef 64, and it is
 * exact and needs no graph). KEEL_DB_HNSW_MIN_ITEMS overrides it (tests). */
size_t kdb_hnsw_min_items(void) {
    static atomic_size_t v = 0;
    size_t n = atomic_load(&v);
    if (n) return n - 1;
    const char *e = getenv("KEEL_DB_HNSW_MIN_ITEMS");
    n = e && *e ? strtoull(e, NULL, 10) : 5000;
    atomic_store(&v, n + 1);
    return n;
}

/* ---- the key -> id map ---------------------------------------------------------------------- */

static size_t kslot(const kdb_graph *g, uint64_t h) {
    return (size_t)((h * 0x9E3779B97F4A7C15ull) >> 20) & (g->hcap - 1);
}

static bool key_eq(const uint8_t *stored, const void *key, size_t len) {
    uint32_t l;
    memcpy(&l, stored, 4);
    return l == len && memcmp(stored + 4, key, len) == 0;
}

static uint32_t map_find(const kdb_graph *g, const void *key, size_t len, uint64_t h) {
    if (!g->hcap) return KDB_NOID;
    for (size_t j = kslot(g, h);; j = (j + 1) & (g->hcap - 1)) {
        uint32_t v = g->hid[j];
        if (!v) return KDB_NOID;
        if (g->hh[j] == h && key_eq(g->key[v - 1], key, len)) return v - 1;
    }
}

static bool map_grow(kdb_graph *g) {
    size_t cap = g->hcap ? g->hcap * 2 : 1024;
    uint32_t *id = calloc(cap, sizeof *id);
    uint64_t *hh = malloc(cap * sizeof *hh);
    if (!id || !hh) {
        free(id);
        free(hh);
        return false;
    }
    uint32_t *oid = g->hid;
    uint64_t *ohh = g->hh;
    size_t ocap = g->hcap;
    g->hid = id, g->hh = hh, g->hcap = cap;
    for (size_t i = 0; i < ocap; i++) {
        if (!oid[i]) continue;
        size_t j = kslot(g, ohh[i]);
        while (id[j]) j = (j + 1) & (cap - 1);
        id[j] = oid[i], hh[j] = ohh[i];
    }
    free(oid);
    free(ohh);
    return true;
}

static void map_del(kdb_graph *g, uint32_t idv, uint64_t h) {
    size_t m = g->hcap - 1, j = kslot(g, h);
    while (g->hid[j] != idv + 1) j = (j + 1) & m;
    g->hid[j] = 0;
    for (size_t i = (j + 1) & m; g->hid[i]; i = (i + 1) & m) {
        size_t home = kslot(g, g->hh[i]);
        if ((i > j && (home <= j || home > i)) || (i < j && home <= j && home > i)) {
            g->hid[j] = g->hid[i], g->hh[j] = g->hh[i];
            g->hid[i] = 0;
            j = i;
        }
    }
}

static bool mark_dirty(kdb_graph *g, uint32_t id) {
    if (g->flags[id] & 1) return true;
    if (g->ndirty == g->dirtycap) {
        size_t cap = g->dirtycap ? g->dirtycap * 2 : 256;
        uint32_t *d = realloc(g->dirty, cap * sizeof *d);
        if (!d) return false;
        g->dirty = d, g->dirtycap = cap;
    }
    g->dirty[g->ndirty++] = id;
    g->flags[id] |= 1;
    return true;
}

/* Room for id `id` in the per-id arrays. */
static bool ids_room(kdb_graph *g, uint32_t id) {
    if (id < g->idcap) return true;
    size_t cap = g->idcap ? g->idcap * 2 : 1024;
    while (cap <= id) cap *= 2;
    uint8_t **k = realloc(g->key, cap * sizeof *k);
    if (!k) return false;
    g->key = k;
    uint64_t *tr = realloc(g->tr, cap * sizeof *tr);
    if (!tr) return false;
    g->tr = tr;
    uint64_t *pay = realloc(g->pay, cap * sizeof *pay);
    if (!pay) return false;
    g->pay = pay;
    uint64_t *vh = realloc(g->vhash, cap * sizeof *vh);
    if (!vh) return false;
    g->vhash = vh;
    uint8_t *f = realloc(g->flags, cap);
    if (!f) return false;
    g->flags = f;
    for (size_t i = g->idcap; i < cap; i++) g->key[i] = NULL, g->vhash[i] = 0, g->flags[i] = 0;
    g->idcap = (uint32_t)cap;
    return true;
}

/* Give `key` an id (a free one first), owning a copy of the key. */
uint32_t kdb_hnsw_id_new(kdb_graph *g, const void *key, size_t len, uint64_t h) {
    if ((g->live + 1) * 2 > g->hcap && !map_grow(g)) return KDB_NOID;
    uint32_t id = g->nfree ? g->freeids[g->nfree - 1] : g->nid;
    if (!ids_room(g, id)) return KDB_NOID;
    uint8_t *k = malloc(4 + len);
    if (!k) return KDB_NOID;
    uint32_t l = (uint32_t)len;
    memcpy(k, &l, 4);
    memcpy(k + 4, key, len);
    if (g->nfree) g->nfree--;
    else g->nid++;
    g->key[id] = k;
    size_t j = kslot(g, h);
    while (g->hid[j]) j = (j + 1) & (g->hcap - 1);
    g->hid[j] = id + 1, g->hh[j] = h;
    g->live++;
    return id;
}

bool kdb_hnsw_id_release(kdb_graph *g, uint32_t id) {
    uint32_t l;
    memcpy(&l, g->key[id], 4);
    map_del(g, id, keel_hash(g->key[id] + 4, l));
    free(g->key[id]);
    g->key[id] = NULL;
    g->live--;
    if (g->nfree == g->freecap) {
        size_t cap = g->freecap ? g->freecap * 2 : 256;
        uint32_t *f = realloc(g->freeids, cap * sizeof *f);
        if (!f) return false;
        g->freeids = f, g->freecap = cap;
    }
    g->freeids[g->nfree++] = id;
    return true;
}

/* ---- graphs ------------------------------------------------------------------------------- */

static float dot_fn(const float *a, const float *b, size_t d) { return kdb_vec_best()->dot(a, b, d); }
static float l2_fn(const float *a, const float *b, size_t d) { return kdb_vec_best()->l2sq(a, b, d); }

void kdb_hnsw_kind(const kdb_vindex *x, int *kind, keel__hnsw_fn *fn) {
    /* The kernels are chosen once per process; resolve them now so the graph calls them
     * directly (the wrappers above are only a fallback for a NULL table). */
    const kdb_vec_kernels *kn = kdb_vec_best();
    if (x->dist == KEEL_DB_EUCLIDEAN) *kind = KEEL_HNSW_L2, *fn = kn->l2sq ? kn->l2sq : l2_fn;
    else *kind = x->dist == KEEL_DB_DOT_PRODUCT ? KEEL_HNSW_MIPS : KEEL_HNSW_IP,
         *fn = kn->dot ? kn->dot : dot_fn;
}

uint32_t kdb_hnsw_graph_dims(keel_db_distance dist, uint32_t dims) {
    return dims + (dist == KEEL_DB_DOT_PRODUCT);
}

kdb_graph *kdb_hnsw_graph_new(const kdb_vindex *x) {
    kdb_graph *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    pthread_rwlock_init(&g->lock, NULL);
    g->owner = x->owner;
    memcpy(g->name, x->name, sizeof g->name);
    g->dims = x->dims, g->dist = x->dist, g->m = x->m, g->efc = x->efc;
    return g;
}

void kdb_hnsw_graph_free(kdb_graph *g) {
    if (!g) return;
    keel__hnsw_free(g->h);
    for (uint32_t i = 0; i < g->nid; i++) free(g->key[i]);
    free(g->key);
    free(g->tr);
    free(g->pay);
    free(g->vhash);
    free(g->flags);
    free(g->hid);
    free(g->hh);
    free(g->freeids);
    free(g->dirty);
    pthread_rwlock_destroy(&g->lock);
    free(g);
}

/* The vector to give the graph (buf: room for kdb_hnsw_graph_dims floats): as stored for
 * EUCLIDEAN; normalized for COSINE (a zero vector stays zero: its distance 1 - 0 is the
 * exact path's score for it); normalized and followed by its norm for DOT_PRODUCT (a zero
 * vector is all zeros: its distance to any query is -0, its score). */
static const float *graph_vec(const kdb_graph *g, const float *v, float *buf) {
    if (g->dist == KEEL_DB_EUCLIDEAN) return v;
    double n = 0;
    for (uint32_t i = 0; i < g->dims; i++) n += (double)v[i] * v[i];
    double len = sqrt(n);
    float s = n > 0 ? (float)(1.0 / len) : 0.0f;
    for (uint32_t i = 0; i < g->dims; i++) buf[i] = v[i] * s;
    if (g->dist == KEEL_DB_DOT_PRODUCT) buf[g->dims] = len < FLT_MAX ? (float)len : FLT_MAX;
    return buf;
}

/* A query as the graph takes it: normalized for COSINE, (q, -1) for DOT_PRODUCT (the -1
 * tells hnsw.cc's distance a query from a point), as it is for EUCLIDEAN. */
static const float *graph_query(const kdb_graph *g, const float *q, float *buf) {
    if (g->dist != KEEL_DB_DOT_PRODUCT) return graph_vec(g, q, buf);
    memcpy(buf, q, (size_t)g->dims * sizeof *buf);
    buf[g->dims] = -1.0f;
    return buf;
}

uint64_t kdb_hnsw_vhash(const void *v, size_t len) {
    uint64_t h = keel_hash(v, len);
    return h ? h : 1;
}

/* The hook: the entry `it` of x's table was published; pay != 0 when it holds a vector of
 * x's dimensions (then it is a candidate at it->trailer_out). Index lock held for writing. */
void kdb_hnsw_note(kdb_vindex *x, const keel_append_item *it, uint64_t pay) {
    kdb_graph *g = x->g;
    if (!g || g->broken) return;
    uint32_t id = map_find(g, it->key, it->key_len, it->hash);
    bool ok = true;
    if (!pay) {
        if (id != KDB_NOID) ok = mark_dirty(g, id) && kdb_hnsw_id_release(g, id);
    } else {
        if (id == KDB_NOID) id = kdb_hnsw_id_new(g, it->key, it->key_len, it->hash);
        if (id == KDB_NOID) ok = false;
        else {
            g->tr[id] = it->trailer_out, g->pay[id] = pay;
            ok = mark_dirty(g, id);
        }
    }
    /* Out of memory: the graph can no longer be trusted; searches scan exactly until the
     * next reload or open builds it again. */
    if (!ok) g->broken = true;
}

/* ---- draining the dirty list -------------------------------------------------------------- */

typedef struct drain {
    kdb_graph *g;
    const uint8_t *base;
    const uint32_t *ids;
    size_t n;
    atomic_size_t next;
    atomic_bool failed;
} drain;

static void *drain_run(void *arg) {
    drain *d = arg;
    kdb_graph *g = d->g;
    float *buf = malloc((size_t)kdb_hnsw_graph_dims(g->dist, g->dims) * sizeof *buf);
    if (!buf) {
        atomic_store(&d->failed, true);
        return NULL;
    }
    for (;;) {
        size_t i = atomic_fetch_add(&d->next, 1);
        if (i >= d->n) break;
        uint32_t id = d->ids[i];
        const float *v = (const float *)(const void *)(d->base + g->pay[id]);
        if (keel__hnsw_add(g->h, id, graph_vec(g, v, buf)) != 0) atomic_store(&d->failed, true);
    }
    free(buf);
    return NULL;
}

#define DRAIN_MAX_THREADS 8

/* Threads for inserting n new points: one per online CPU (at most 8), none extra under
 * 2,048 points (thread start-up against a few milliseconds of work).
 * KEEL_DB_HNSW_THREADS overrides it (1: serial; benchmarks and tests). */
static size_t drain_threads(size_t n) {
    const char *e = getenv("KEEL_DB_HNSW_THREADS");
    long t = e && *e ? strtol(e, NULL, 10) : (n < 2048 ? 1 : sysconf(_SC_NPROCESSORS_ONLN));
    if (t < 1) t = 1;
    if (t > DRAIN_MAX_THREADS) t = DRAIN_MAX_THREADS;
    return (size_t)t;
}

/* Apply every pending change to the graph. Index lock held (read), graph lock (write). */
static keel_status drain_dirty(keel_db *db, kdb_graph *g) {
    if (!g->ndirty) return KEEL_OK;
    const uint8_t *base = db->s->map->base;
    if (!g->h) {
        int kind;
        keel__hnsw_fn fn;
        kdb_vindex tmp = {.dist = g->dist};
        kdb_hnsw_kind(&tmp, &kind, &fn);
        g->h = keel__hnsw_new(kdb_hnsw_graph_dims(g->dist, g->dims), kind, fn, g->m, g->efc,
                              g->nid ? g->nid : 1);
        if (!g->h) return keel__fail(KEEL_ENOMEM, "vector graph '%s': %s", g->name,
                                     keel__hnsw_error());
    }
    if (keel__hnsw_reserve(g->h, g->nid) != 0)
        return keel__fail(KEEL_ENOMEM, "vector graph '%s': %s", g->name, keel__hnsw_error());
    /* Deletions first, then the insertions (new items, and items whose vector changed). */
    size_t nadd = 0;
    for (size_t i = 0; i < g->ndirty; i++) {
        uint32_t id = g->dirty[i];
        g->flags[id] &= (uint8_t)~1;
        if (!g->key[id]) {
            if (g->vhash[id]) keel__hnsw_remove(g->h, id), g->vhash[id] = 0, g->version++;
            continue;
        }
        uint64_t hv = kdb_hnsw_vhash(base + g->pay[id], (size_t)g->dims * 4);
        if (hv == g->vhash[id]) continue;  /* only other attributes changed */
        g->vhash[id] = hv;
        g->dirty[nadd++] = id;
    }
    g->ndirty = 0;
    if (!nadd) return KEEL_OK;
    /* Serial first: ids already in the graph (relinked through hnswlib's updatePoint,
     * which is not safe in parallel) and, into an empty graph, the first point (hnswlib's
     * concurrent adds need an entry point). The rest, new labels, go in on up to
     * drain_threads() threads (hnsw.cc says why that is safe). */
    size_t nser = 0;
    bool first = keel__hnsw_count(g->h) == 0;
    for (size_t i = 0; i < nadd; i++) {
        uint32_t id = g->dirty[i];
        if (first || keel__hnsw_has(g->h, id)) {
            g->dirty[i] = g->dirty[nser];
            g->dirty[nser++] = id;
            first = false;
        }
    }
    drain d = {.g = g, .base = base, .ids = g->dirty, .n = nser};
    atomic_init(&d.next, 0);
    atomic_init(&d.failed, false);
    drain_run(&d);
    d.ids = g->dirty + nser, d.n = nadd - nser;
    atomic_store(&d.next, 0);
    size_t nth = drain_threads(d.n);
    pthread_t th[DRAIN_MAX_THREADS];
    bool started[DRAIN_MAX_THREADS] = {false};
    for (size_t t = 1; t < nth; t++) started[t] = pthread_create(&th[t], NULL, drain_run, &d) == 0;
    drain_run(&d);
    for (size_t t = 1; t < nth; t++)
        if (started[t]) pthread_join(th[t], NULL);
    g->inserts += nadd;
    g->version++;
    if (atomic_load(&d.failed)) {
        g->broken = true;
        return keel__fail(KEEL_ENOMEM, "vector graph '%s': %s", g->name, keel__hnsw_error());
    }
    return KEEL_OK;
}

/* ---- building, re-attaching, catching up -------------------------------------------------- */

/* Make g agree with x's candidate list: every candidate has an id with current offsets,
 * ids of items gone are released, and every id whose graph vector is not the item's
 * current one is dirty. With `fill` (a graph just loaded without vectors), vectors that
 * match are copied into the graph. Index lock held for writing (or single-threaded). */
bool kdb_hnsw_sync(keel_db *db, kdb_vindex *x, kdb_graph *g, bool fill) {
    keel_store *s = db->s;
    const uint8_t *base = s->map->base;
    size_t seencap = g->nid ? g->nid : 1;
    uint8_t *seen = calloc(seencap, 1);
    float *buf = malloc((size_t)kdb_hnsw_graph_dims(g->dist, g->dims) * sizeof *buf);
    bool ok = seen && buf;
    size_t mismatched = 0;
    for (size_t i = 0; ok && i < x->n; i++) {
        keel_snap_entry e;
        keel__entry_at(base, s->align, x->tr[i], &e);
        const uint8_t *key = base + e.voff + e.vlen;
        size_t klen = e.klen;
        uint64_t h = keel_hash(key, klen);
        uint32_t id = map_find(g, key, klen, h);
        if (id == KDB_NOID && (id = kdb_hnsw_id_new(g, key, klen, h)) == KDB_NOID) {
            ok = false;
            break;
        }
        if (id >= seencap) {  /* a new id past the array */
            size_t cap = g->idcap;
            uint8_t *ns = realloc(seen, cap);
            if (!ns) {
                ok = false;
                break;
            }
            memset(ns + seencap, 0, cap - seencap);
            seen = ns, seencap = cap;
        }
        seen[id] = 1;
        g->tr[id] = x->tr[i], g->pay[id] = x->pay[i];
        const uint8_t *v = s->map->base + x->pay[i];
        if (g->vhash[id] && kdb_hnsw_vhash(v, (size_t)g->dims * 4) == g->vhash[id]) {
            if (!fill ||
                keel__hnsw_set_vector(g->h, id, graph_vec(g, (const float *)(const void *)v, buf)) == 0)
                continue;
            g->vhash[id] = 0;   /* the checkpoint said "in the graph" and it is not */
        }
        mismatched += g->vhash[id] != 0;
        ok = mark_dirty(g, id);
    }
    for (uint32_t id = 0; ok && id < g->nid; id++)
        if (g->key[id] && (id >= seencap || !seen[id])) ok = mark_dirty(g, id) && kdb_hnsw_id_release(g, id);
    free(seen);
    free(buf);
    if (!ok) g->broken = true;
    g->mismatched = mismatched;
    return ok;
}

/* ---- search ------------------------------------------------------------------------------- */

static float cos_key(float dot, float qq, float xx) {
    if (!(xx > 0)) return 1.0f;
    float k = 1.0f - dot / sqrtf(qq * xx);
    return k < 0 ? 0 : k > 2 ? 2 : k;
}

/* The exact path's key (smaller is better) of the stored vector v for query q. */
static float exact_key(keel_db_distance dist, const float *q, float qq, const float *v,
                       size_t d) {
    const kdb_vec_kernels *kn = kdb_vec_best();
    float dot, xx;
    switch (dist) {
    case KEEL_DB_COSINE: kn->dot_norm(q, v, d, &dot, &xx); return cos_key(dot, qq, xx);
    case KEEL_DB_EUCLIDEAN: return kn->l2sq(q, v, d);
    default: return -kn->dot(q, v, d);
    }
}

static bool accept(const kdb_hsearch *a, uint64_t tr) {
    return !a->filtered || a->pass(a->ctx, tr);
}

static int res_cmp(const void *a, const void *b) {
    const kdb_vres *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return x->slot < y->slot ? -1 : x->slot > y->slot;
}

/* The share of candidates that pass the filter and TTL, from an even sample. */
static double pass_rate(const kdb_vindex *x, const kdb_hsearch *a) {
    if (!a->filtered) return 1.0;
    size_t n = x->n, sample = n < 512 ? n : 512, pass = 0;
    for (size_t i = 0; i < sample; i++) pass += accept(a, x->tr[i * n / sample]);
    return sample ? (double)pass / (double)sample : 0.0;
}

/* Get x's graph ready for a search: built and drained. Index lock held for reading; on
 * KEEL_OK the graph lock is held for reading. *use false: scan exactly instead. */
static keel_status ready(keel_db *db, kdb_vindex *x, bool *use) {
    *use = false;
    pthread_mutex_lock(&db->graph_mu);
    if (!x->g) {
        /* Writers are held off by the index lock we hold for reading; other searches by
         * graph_mu: the hook and other searchers see either no graph or a whole one. */
        kdb_graph *g = kdb_hnsw_graph_new(x);
        if (!g) {
            pthread_mutex_unlock(&db->graph_mu);
            return keel__fail(KEEL_ENOMEM, "vector graph '%s'", x->name);
        }
        g->state = KEEL_DB_GRAPH_BUILT;
        if (!kdb_hnsw_sync(db, x, g, false)) {
            kdb_hnsw_graph_free(g);
            pthread_mutex_unlock(&db->graph_mu);
            return keel__fail(KEEL_ENOMEM, "vector graph '%s': %zu items", x->name, x->n);
        }
        x->g = g;
    }
    pthread_mutex_unlock(&db->graph_mu);
    kdb_graph *g = x->g;
    for (;;) {
        pthread_rwlock_rdlock(&g->lock);
        if (g->broken) {
            pthread_rwlock_unlock(&g->lock);
            return KEEL_OK;
        }
        if (!g->ndirty) break;
        pthread_rwlock_unlock(&g->lock);
        pthread_rwlock_wrlock(&g->lock);
        keel_status st = drain_dirty(db, g);
        pthread_rwlock_unlock(&g->lock);
        if (st != KEEL_OK) return KEEL_OK;  /* broken: the exact scan answers */
    }
    *use = g->h != NULL;
    if (!*use) pthread_rwlock_unlock(&g->lock);
    return KEEL_OK;
}

keel_status kdb_hnsw_search(keel_db *db, kdb_vindex *x, const kdb_hsearch *a, kdb_vres *out,
                            size_t *counts, bool *done) {
    *done = false;
    if (x->n < kdb_hnsw_min_items() || x->n <= a->k) return KEEL_OK;
    double rate = pass_rate(x, a);
    /* A filter that keeps few items: the exact scan (which tests the filter only on items
     * that would enter the top k) beats widening the beam until k survive. */
    if (rate * (double)x->n < 4.0 * a->k || rate < 0.02) return KEEL_OK;
    size_t ef = a->ef > a->k ? a->ef : a->k;
    if (rate < 1.0) ef = (size_t)((double)ef / rate) + 1;
    if (ef > KEEL_DB_MAX_EF) ef = KEEL_DB_MAX_EF;
    bool use;
    keel_status st = ready(db, x, &use);
    if (st != KEEL_OK || !use) return st;
    kdb_graph *g = x->g;
    /* Small beams and vectors (the common case) use the stack: no allocation per query. */
    enum { SMALL_EF = 256, SMALL_DIMS = 1024 };
    uint32_t labels_s[SMALL_EF];
    float dists_s[SMALL_EF], qn_s[SMALL_DIMS + 1];
    kdb_vres tmp_s[SMALL_EF];
    bool small = ef <= SMALL_EF && x->dims <= SMALL_DIMS;
    uint32_t *labels = small ? labels_s : malloc(ef * sizeof *labels);
    float *dists = small ? dists_s : malloc(ef * sizeof *dists);
    float *qn = small ? qn_s : malloc((size_t)kdb_hnsw_graph_dims(x->dist, x->dims) * sizeof *qn);
    kdb_vres *tmp = small ? tmp_s : malloc(ef * sizeof *tmp);
    if (!labels || !dists || !qn || !tmp) st = keel__fail(KEEL_ENOMEM, "an approximate search");
    bool short_of_k = false;
    for (size_t j = 0; st == KEEL_OK && j < a->nq && !short_of_k; j++) {
        const float *q = a->q + j * x->dims;
        long n = keel__hnsw_search(g->h, graph_query(g, q, qn), ef, labels, dists);
        if (n < 0) {
            st = keel__fail(KEEL_ENOMEM, "vector graph '%s': %s", x->name, keel__hnsw_error());
            break;
        }
        /* The graph's answers come best first by its own distance, which orders as the
         * exact key does (the same kernels; COSINE over normalized copies, DOT_PRODUCT as
         * -(q . x/|x|) |x|, up to float rounding): the first k
         * that pass are the answer, re-scored exactly and re-sorted by (key, slot). */
        /* The first k answers' bookkeeping and stored vectors are cold (the walk streamed
         * other vectors through the cache): start their loads together rather than
         * missing once per answer in turn. */
        long pf = n < (long)a->k ? n : (long)a->k;
        for (long i = 0; i < pf; i++)
            if (labels[i] < g->nid) {
                __builtin_prefetch(&g->key[labels[i]]);
                __builtin_prefetch(&g->tr[labels[i]]);
                __builtin_prefetch(&g->pay[labels[i]]);
            }
        for (long i = 0; i < pf; i++)
            if (labels[i] < g->nid) __builtin_prefetch(db->s->map->base + g->pay[labels[i]]);
        size_t m = 0;
        for (long i = 0; i < n && m < a->k; i++) {
            uint32_t id = labels[i];
            if (id >= g->nid || !g->key[id] || !accept(a, g->tr[id])) continue;
            size_t slot = a->slot_of(x, g->tr[id]);
            if (slot == SIZE_MAX) continue;
            const float *v = (const float *)(const void *)(db->s->map->base + g->pay[id]);
            tmp[m++] = (kdb_vres){exact_key(x->dist, q, a->qq[j], v, x->dims), (uint32_t)slot};
        }
        qsort(tmp, m, sizeof *tmp, res_cmp);
        if (m < a->k) short_of_k = true;  /* fewer than k survived: answer exactly */
        counts[j] = m < a->k ? m : a->k;
        memcpy(out + j * a->k, tmp, counts[j] * sizeof *tmp);
    }
    pthread_rwlock_unlock(&g->lock);
    if (!small) {
        free(labels);
        free(dists);
        free(qn);
        free(tmp);
    }
    if (st == KEEL_OK && !short_of_k) *done = true;
    return st;
}

void kdb_hnsw_info(const kdb_vindex *x, keel_db_vector_index_info *o) {
    o->m = x->m;
    o->ef_construction = x->efc;
    const kdb_graph *g = x->g;
    if (!g) return;
    pthread_rwlock_rdlock((pthread_rwlock_t *)&g->lock);
    o->graph = g->broken ? KEEL_DB_GRAPH_NONE : g->state;
    o->graph_items = g->h ? keel__hnsw_count(g->h) : 0;
    o->graph_pending = g->ndirty;
    o->graph_inserts = g->inserts;
    o->graph_bytes = g->h ? keel__hnsw_memory(g->h) : 0;
    pthread_rwlock_unlock((pthread_rwlock_t *)&g->lock);
}
