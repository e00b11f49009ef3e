/*
 * vec_search.c: exact vector search (keel_db_search, keel_db_search_batch) over a vector
 * index's candidate list (vector.c).
 *
 * A search holds the store's index lock for reading from start to end: the candidate list,
 * the mapping's base and the items cannot change under it (the hook needs the lock for
 * writing). Each candidate's vector is read in place from the mapping through the kernels
 * kdb_vec_best() chose for this CPU. Every distance is turned into a key where smaller is
 * better (COSINE 1 - cos, EUCLIDEAN the squared distance, DOT_PRODUCT the negated dot), so
 * one bounded max-heap of k (key, slot) pairs per query keeps the best k; ties go to the
 * lower slot, so the result does not depend on how the scan was split. The filter and TTL
 * are checked only for a candidate that would enter the heap (they do not change its key),
 * which keeps filtered searches at the cost of the scan. Large scans are split into pieces
 * of the scan order that the threads take until none is left, one heap set per thread,
 * merged at the end.
 *
 * The batch form takes the candidates in cache-sized chunks and, for each chunk, every block
 * of KDB_VEC_BLOCK queries with the dotn kernel (each vector loaded once per block, and from
 * memory once per batch), deriving every distance from the dots and the norms:
 * |q - x|^2 = |q|^2 + |x|^2 - 2 q.x (clamped at 0).
 */
#include "db/db_internal.h"
#include "db/vec_hnsw.h"
#include "db/vec_kernels.h"

#ifdef KEEL_HAVE_BLAS
#include <cblas.h>
#endif
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define THREAD_MIN_FLOATS (1u << 21)  /* a scan of at least 8 MB (times queries) may split */
#define MAX_THREADS 16

typedef kdb_vres hent;  /* (key, slot): shared with the approximate path (vec_hnsw.c) */

typedef struct heap {
    hent *v;
    size_t n, k;
} heap;

static bool worse(hent a, hent b) { return a.key > b.key || (a.key == b.key && a.slot > b.slot); }

static bool heap_wants(const heap *h, float key, uint32_t slot) {
    return h->n < h->k || worse(h->v[0], (hent){key, slot});
}

static void heap_push(heap *h, hent e) {
    if (h->n < h->k) {
        size_t i = h->n++;
        while (i > 0) {
            size_t p = (i - 1) / 2;
            if (!worse(e, h->v[p])) break;
            h->v[i] = h->v[p];
            i = p;
        }
        h->v[i] = e;
        return;
    }
    if (!worse(h->v[0], e)) return;
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && worse(h->v[c + 1], h->v[c])) c++;
        if (!worse(h->v[c], e)) break;
        h->v[i] = h->v[c];
        i = c;
    }
    h->v[i] = e;
}

static int hent_cmp(const void *a, const void *b) {
    hent x = *(const hent *)a, y = *(const hent *)b;
    return worse(x, y) ? 1 : worse(y, x) ? -1 : 0;
}

/* ---- the scan order ------------------------------------------------------------------------ */

/* The candidate list is in the order the ordered index (hash order) and the hook filled it,
 * which is random in the file: scanning it so made every vector a random access into a new
 * page, and a single query ran at 0.4 of the memory bandwidth. Scanning by payload offset
 * reads the file front to back, which the hardware prefetchers follow. The order is cached
 * per index and rebuilt only when a slot moved (x->moves); appended slots (new items, at
 * the end of the log) extend it. Every reader that finds it stale rebuilds it under
 * ord_lock; no writer can change the list meanwhile (readers hold the index lock), so
 * readers agree on it. Out of memory: NULL, and the scan goes in slot order. */
static pthread_mutex_t ord_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct opair {
    uint64_t pay;
    uint32_t slot;
} opair;

/* LSD radix sort of n pairs by pay, 11 bits a pass, as many passes as the largest offset
 * needs; tmp has room for n. Returns the array that holds the result. */
static opair *radix_sort(opair *a, opair *tmp, size_t n, uint64_t max) {
    for (unsigned shift = 0; shift < 64 && (max >> shift) != 0; shift += 11) {
        size_t cnt[2048] = {0};
        for (size_t i = 0; i < n; i++) cnt[(a[i].pay >> shift) & 2047]++;
        size_t sum = 0;
        for (size_t b = 0; b < 2048; b++) {
            size_t c = cnt[b];
            cnt[b] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++) tmp[cnt[(a[i].pay >> shift) & 2047]++] = a[i];
        opair *t = a;
        a = tmp, tmp = t;
    }
    return a;
}

static bool ord_reserve(kdb_vindex *x, size_t n) {
    if (n <= x->ord_cap) return true;
    size_t cap = x->ord_cap ? x->ord_cap : 256;
    while (cap < n) cap *= 2;
    uint32_t *o = realloc(x->ord, cap * sizeof *o);
    if (!o) return false;
    x->ord = o;
    uint64_t *op = realloc(x->ord_pay, cap * sizeof *op);
    if (!op) return false;
    x->ord_pay = op, x->ord_cap = cap;
    return true;
}

static bool ord_rebuild(kdb_vindex *x) {
    size_t n = x->n;
    opair *a = malloc(2 * n * sizeof *a + 1);
    if (!a || !ord_reserve(x, n)) {
        free(a);
        return false;
    }
    uint64_t max = 0;
    for (size_t i = 0; i < n; i++) {
        a[i] = (opair){x->pay[i], (uint32_t)i};
        if (x->pay[i] > max) max = x->pay[i];
    }
    opair *r = radix_sort(a, a + n, n, max);
    for (size_t i = 0; i < n; i++) x->ord[i] = r[i].slot, x->ord_pay[i] = r[i].pay;
    free(a);
    x->ord_n = n;
    x->ord_moves = x->moves;
    return true;
}

/* The slots of x by payload offset (x->n of them), or NULL. Index lock held for reading. */
static const uint32_t *scan_order(kdb_vindex *x) {
    pthread_mutex_lock(&ord_lock);
    bool ok = true;
    if (x->ord_moves != x->moves || x->ord_n > x->n || !x->ord) {
        ok = ord_rebuild(x);
    } else if (x->ord_n < x->n) {
        /* Only appends since: they extend the order if their offsets keep rising. */
        ok = ord_reserve(x, x->n);
        uint64_t last = x->ord_n ? x->pay[x->ord[x->ord_n - 1]] : 0;
        for (size_t s = x->ord_n; ok && s < x->n; s++) {
            if (x->pay[s] < last) {
                ok = ord_rebuild(x);
                break;
            }
            x->ord[s] = (uint32_t)s;
            x->ord_pay[s] = last = x->pay[s];
            x->ord_n = s + 1;
        }
    }
    const uint32_t *o = ok && x->n ? x->ord : NULL;
    pthread_mutex_unlock(&ord_lock);
    return o;
}

/* ---- the scan ------------------------------------------------------------------------------ */

typedef struct scan {
    keel_db *db;
    const kdb_vindex *x;
    const uint32_t *ord;        /* the scan order (NULL: slot order) */
    const uint64_t *ord_pay;    /* the payload offsets in that order (with ord) */
    const kdb_vec_kernels *kn;
    const float *q;             /* nq rows of d */
    const float *qq;            /* their squared norms */
    size_t nq, d;
    const kdb_expr *filter;
    const char *ttl;
    int64_t now;
    _Atomic uint64_t *damaged;  /* the trailer of a damaged item the filter met (0: none) */
    size_t lo, hi;              /* the piece of the scan order being scanned */
    atomic_size_t *next;        /* the next piece's start, shared by the threads */
    size_t piece;               /* candidates a piece */
    heap *heaps;                /* nq heaps */
} scan;

/* Does the item whose trailer is at `tr` pass the TTL and the filter? An item whose bytes
 * do not decode is not passed, and its trailer is kept in sc->damaged (the first one met):
 * the search then fails with KEEL_ECORRUPT instead of answering without it. */
static bool pass_tr(const void *ctx, uint64_t tr) {
    const scan *sc = ctx;
    keel_store *s = sc->db->s;
    keel_snap_entry e;
    keel__entry_at(s->map->base, s->align, tr, &e);
    const uint8_t *item = s->map->base + e.voff;
    if (sc->ttl[0] && kdb_expired(sc->ttl, sc->now, item, e.vlen)) return false;
    if (!sc->filter) return true;
    int r = kdb_expr_eval(sc->filter, item, e.vlen);
    if (r < 0) {
        uint64_t none = 0;
        atomic_compare_exchange_strong(sc->damaged, &none, tr);
    }
    return r == 1;
}

/* Does the candidate in `slot` pass the TTL and the filter? */
static bool accept(const scan *sc, size_t slot) {
    if (!sc->filter && !sc->ttl[0]) return true;
    return pass_tr(sc, sc->x->tr[slot]);
}

/* KEEL_ECORRUPT naming the table and the store key of the damaged item at trailer tr. */
static keel_status damaged_item(keel_db *db, const kdb_table *t, uint64_t tr) {
    keel_snap_entry e;
    keel__entry_at(db->s->map->base, db->s->align, tr, &e);
    const uint8_t *key = db->s->map->base + e.voff + e.vlen;
    char hex[2 * 24 + 4];
    size_t n = e.klen < 24 ? e.klen : 24;
    for (size_t i = 0; i < n; i++) snprintf(hex + 2 * i, 3, "%02x", key[i]);
    if (n < e.klen) memcpy(hex + 2 * n, "...", 4);
    return keel__fail(KEEL_ECORRUPT, "vector search of table '%s': the filter met a malformed "
                      "stored item (key %s, value at offset %llu)", t->name, hex,
                      (unsigned long long)e.voff);
}

static float cos_key(float dot, float qq, float xx) {
    if (!(xx > 0)) return 1.0f;
    float k = 1.0f - dot / sqrtf(qq * xx);
    return k < 0 ? 0 : k > 2 ? 2 : k;
}

/* The key (smaller is better) of a stored vector with squared norm xx for a query with
 * squared norm qq, from their dot product. */
static inline float key_of(keel_db_distance dist, float dot, float qq, float xx) {
    switch (dist) {
    case KEEL_DB_COSINE: return cos_key(dot, qq, xx);
    case KEEL_DB_EUCLIDEAN: {
        float key = qq + xx - 2 * dot;
        return key < 0 ? 0 : key;
    }
    default: return -dot;
    }
}

static void offer(const scan *sc, heap *h, float key, size_t slot, int *ok) {
    if (!heap_wants(h, key, (uint32_t)slot)) return;
    if (*ok < 0) *ok = accept(sc, slot);
    if (*ok) heap_push(h, (hent){key, (uint32_t)slot});
}

#ifdef KEEL_HAVE_BLAS
/* The batch through sgemm: a chunk of candidates is copied into a packed matrix (the
 * stored vectors are not evenly spaced in the file) with their squared norms, multiplied by
 * a block of queries (dots = Q . X^T), and every product turned into a key and offered to
 * its query's heap. Copying costs one read of the chunk per batch, the product nq reads
 * of it from cache. false: out of memory (the caller uses the kernels instead). */
#define BLAS_CHUNK 1024     /* candidates per product */
#define BLAS_QBLOCK 1024    /* queries per product */

/* row[i] = the key of dot row[i] (for a query of squared norm qq and a vector of squared
 * norm xx[i]), one distance per loop so that the compiler vectorizes it: the top-k pass
 * after sgemm was a quarter of a batch at 128 dimensions. */
static void keys_of(keel_db_distance dist, float *restrict row, float qq,
                    const float *restrict xx, size_t m) {
    switch (dist) {
    case KEEL_DB_COSINE:
        for (size_t i = 0; i < m; i++) row[i] = cos_key(row[i], qq, xx[i]);
        break;
    case KEEL_DB_EUCLIDEAN:
        for (size_t i = 0; i < m; i++) {
            float key = qq + xx[i] - 2 * row[i];
            row[i] = key < 0 ? 0 : key;
        }
        break;
    default:
        for (size_t i = 0; i < m; i++) row[i] = -row[i];
        break;
    }
}

static bool scan_blas(scan *sc) {
    const kdb_vindex *x = sc->x;
    const uint8_t *base = sc->db->s->map->base;
    size_t d = sc->d, nq = sc->nq;
    size_t qb = nq < BLAS_QBLOCK ? nq : BLAS_QBLOCK;
    float *xs = malloc(BLAS_CHUNK * d * sizeof *xs), *xx = malloc(BLAS_CHUNK * sizeof *xx);
    float *dots = malloc(qb * BLAS_CHUNK * sizeof *dots);
    uint32_t *slots = malloc(BLAS_CHUNK * sizeof *slots);
    bool ok = xs && xx && dots && slots;
    for (size_t c = sc->lo; ok && c < sc->hi; c += BLAS_CHUNK) {
        size_t m = sc->hi - c < BLAS_CHUNK ? sc->hi - c : BLAS_CHUNK;
        for (size_t i = 0; i < m; i++) {
            size_t slot = sc->ord ? sc->ord[c + i] : c + i;
            const float *v =
                (const float *)(const void *)(base + (sc->ord ? sc->ord_pay[c + i] : x->pay[slot]));
            memcpy(xs + i * d, v, d * sizeof *v);
            xx[i] = sc->kn->dot(v, v, d);
            slots[i] = (uint32_t)slot;
        }
        for (size_t b = 0; b < nq; b += qb) {
            size_t nb = nq - b < qb ? nq - b : qb;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, (int)m, (int)d, 1.0f,
                        sc->q + b * d, (int)d, xs, (int)d, 0.0f, dots, (int)m);
            for (size_t j = 0; j < nb; j++) {
                heap *h = &sc->heaps[b + j];
                float *row = dots + j * m;
                keys_of(x->dist, row, sc->qq[b + j], xx, m);
                for (size_t i = 0; i < m; i++) {
                    if (h->n == h->k && row[i] > h->v[0].key) continue;
                    int acc = -1;
                    offer(sc, h, row[i], slots[i], &acc);
                }
            }
        }
    }
    free(xs);
    free(xx);
    free(dots);
    free(slots);
    return ok;
}
#endif

static atomic_bool blas_on = true;

int kdb_vec_blas(int on) {
#ifdef KEEL_HAVE_BLAS
    if (on >= 0) atomic_store(&blas_on, on != 0);
    return atomic_load(&blas_on);
#else
    (void)on;
    (void)blas_on;
    return 0;
#endif
}

static void scan_piece(scan *sc) {
    const kdb_vindex *x = sc->x;
    const uint8_t *base = sc->db->s->map->base;
    const kdb_vec_kernels *kn = sc->kn;
    const uint32_t *ord = sc->ord;
    const uint64_t *opay = sc->ord_pay;
    size_t d = sc->d;
    if (sc->nq == 1) {
        const float *q = sc->q;
        float qq = sc->qq[0];
        for (size_t i = sc->lo; i < sc->hi; i++) {
            size_t slot = ord ? ord[i] : i;
            const float *v = (const float *)(const void *)(base + (ord ? opay[i] : x->pay[i]));
            float key, dot, xx;
            switch (x->dist) {
            case KEEL_DB_COSINE:
                kn->dot_norm(q, v, d, &dot, &xx);
                key = cos_key(dot, qq, xx);
                break;
            case KEEL_DB_EUCLIDEAN: key = kn->l2sq(q, v, d); break;
            default: key = -kn->dot(q, v, d); break;
            }
            int ok = -1;
            offer(sc, &sc->heaps[0], key, slot, &ok);
        }
        return;
    }
#ifdef KEEL_HAVE_BLAS
    if (kdb_vec_blas(-1) && scan_blas(sc)) return;
#endif
    /* Tiles: a chunk of candidates small enough to stay in cache (about 256 KB) meets every
     * block of queries before the next chunk is read, so memory is read once per batch. */
    size_t chunk = (256u << 10) / (d * 4);
    if (chunk < 16) chunk = 16;
    for (size_t c = sc->lo; c < sc->hi; c += chunk) {
        for (size_t b = 0; b < sc->nq; b += KDB_VEC_BLOCK) {
            const float *qs[KDB_VEC_BLOCK];
            size_t nb = sc->nq - b < KDB_VEC_BLOCK ? sc->nq - b : KDB_VEC_BLOCK;
            for (size_t j = 0; j < KDB_VEC_BLOCK; j++) qs[j] = sc->q + (b + (j < nb ? j : 0)) * d;
            size_t end = sc->hi - c < chunk ? sc->hi : c + chunk;
            for (size_t i = c; i < end; i++) {
                size_t slot = ord ? ord[i] : i;
                const float *v = (const float *)(const void *)(base + (ord ? opay[i] : x->pay[i]));
                float dots[KDB_VEC_BLOCK], xx;
                kn->dotn(qs, v, d, dots, &xx);
                int ok = -1;
                for (size_t j = 0; j < nb; j++)
                    offer(sc, &sc->heaps[b + j], key_of(x->dist, dots[j], sc->qq[b + j], xx),
                          slot, &ok);
            }
        }
    }
    return;
}

/* A thread of the scan: it takes pieces of the scan order until none is left, so a thread
 * the system delays (a busy machine) leaves its share to the others instead of holding up
 * the search; one thread takes the whole order as one piece. */
static void *scan_run(void *arg) {
    scan *sc = arg;
    size_t n = sc->x->n;
    for (;;) {
        size_t lo = atomic_fetch_add(sc->next, sc->piece);
        if (lo >= n) break;
        sc->lo = lo;
        sc->hi = n - lo < sc->piece ? n : lo + sc->piece;
        scan_piece(sc);
    }
    return NULL;
}

static float score_of(keel_db_distance dist, float key) {
    return dist == KEEL_DB_EUCLIDEAN ? sqrtf(key) : dist == KEEL_DB_DOT_PRODUCT ? -key : key;
}

static inline uint32_t fbits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static keel_status check_queries(const kdb_vindex *x, const float *q, size_t nq, size_t dims,
                                 float *qq) {
    if (dims != x->dims)
        return keel__fail(KEEL_EVALIDATION, "the query vector has %zu dimensions; vector index "
                          "'%s' has %u", dims, x->name, x->dims);
    /* Once per query in front of every search, so branch-free over four independent sums
     * (it vectorizes; the serial loop took 1.7 us of a 768-dimension approximate search).
     * The norm stays a double sum: it enters the batch key |q|^2 - 2 q.x + |x|^2. */
    for (size_t j = 0; j < nq; j++) {
        const float *v = q + j * dims;
        double s[4] = {0, 0, 0, 0};
        uint32_t nonfinite = 0;
        size_t i = 0;
        for (; i + 4 <= dims; i += 4)
            for (size_t l = 0; l < 4; l++) {
                nonfinite |= (fbits(v[i + l]) & 0x7F800000u) == 0x7F800000u;
                s[l] += (double)v[i + l] * v[i + l];
            }
        for (; i < dims; i++) {
            nonfinite |= (fbits(v[i]) & 0x7F800000u) == 0x7F800000u;
            s[0] += (double)v[i] * v[i];
        }
        for (i = 0; nonfinite && i < dims; i++)
            if (!isfinite(v[i]))
                return keel__fail(KEEL_EVALIDATION, "query %zu, element %zu: the number is not "
                                  "a finite float32", j, i);
        double n = (s[0] + s[1]) + (s[2] + s[3]);
        if (x->dist == KEEL_DB_COSINE && n == 0)
            return keel__fail(KEEL_EVALIDATION, "query %zu: a zero vector has no cosine distance",
                              j);
        qq[j] = (float)n;
    }
    return KEEL_OK;
}

/* The item of slot `slot`, projected as the request or the index says, into hit->item;
 * hit->stored is the stored item in place when hit->item is all of it. */
static keel_status make_hit(keel_db *db, const kdb_vindex *x, const kdb_table *t,
                            const kdb_expr *proj, hent e, keel_db_hit *hit) {
    keel_store *s = db->s;
    keel_snap_entry se;
    keel__entry_at(s->map->base, s->align, x->tr[e.slot], &se);
    const uint8_t *item = s->map->base + se.voff;
    if (!keel__entry_intact(s->map->base, s->align, x->tr[e.slot]))
        return keel__entry_damaged(se.voff);
    kdb_buf b = {0};
    keel_status st = KEEL_OK;
    hit->stored.data = NULL;
    hit->stored.len = 0;
    if (proj) {
        st = kdb_expr_project(proj, item, se.vlen, &b);
    } else if (x->proj == KEEL_DB_PROJECT_ALL) {
        kdb_buf_put(&b, item, se.vlen);
        hit->stored.data = item;
        hit->stored.len = se.vlen;
    } else {
        kdb_index ix;
        memset(&ix, 0, sizeof ix);
        memcpy(ix.pk, t->pk, sizeof ix.pk);
        memcpy(ix.sk, t->sk, sizeof ix.sk);
        ix.pkt = t->pkt, ix.skt = t->skt, ix.proj = x->proj;
        ix.include = x->include, ix.include_len = x->include_len, ix.ninclude = x->ninclude;
        st = kdb_index_project(&ix, t, item, se.vlen, &b);
    }
    if (st == KEEL_OK && b.failed) st = keel__fail(KEEL_ENOMEM, "a search result");
    if (st != KEEL_OK) {
        kdb_buf_free(&b);
        memset(hit, 0, sizeof *hit);
        return st;
    }
    hit->item.data = b.p;
    hit->item.len = b.len;
    hit->score = score_of(x->dist, e.key);
    hit->vector.data = s->map->base + x->pay[e.slot];
    hit->vector.len = (size_t)x->dims * 4;
    return KEEL_OK;
}

static size_t thread_count(const kdb_vindex *x, size_t nq, uint32_t asked) {
    if (nq > 1 && kdb_vec_blas(-1)) return 1;   /* sgemm runs on OpenBLAS's own threads */
    if (asked) return asked > MAX_THREADS ? MAX_THREADS : asked;
    double work = (double)x->n * x->dims * (double)nq;
    if (work < THREAD_MIN_FLOATS) return 1;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t n = cpus > 1 ? (size_t)cpus : 1;
    if (n > MAX_THREADS) n = MAX_THREADS;
    while (n > 1 && x->n / n < 1024) n--;
    return n;
}

/* Scan x for the nq queries into per-query heaps (nq * k entries at `out`), then sort
 * each: counts[j] results for query j. Lock held. */
static keel_status run(scan *proto, uint32_t k, size_t nthreads, hent *out, size_t *counts) {
    size_t nq = proto->nq, n = proto->x->n;
    scan sc[MAX_THREADS];
    pthread_t th[MAX_THREADS];
    bool started[MAX_THREADS] = {false};
    hent *store = malloc(nthreads * nq * k * sizeof *store + 1);
    heap *heaps = malloc(nthreads * nq * sizeof *heaps + 1);
    if (!store || !heaps) {
        free(store);
        free(heaps);
        return keel__fail(KEEL_ENOMEM, "search heaps for %zu queries", nq);
    }
    atomic_size_t next = 0;
    /* Pieces of about 1 MB of vectors (small enough to balance, large enough to stream),
     * and at least four a thread. */
    size_t piece = (1u << 20) / (proto->d * 4), even = (n + 4 * nthreads - 1) / (4 * nthreads);
    if (even < piece) piece = even;
    if (nthreads == 1 || piece < 1) piece = n ? n : 1;
    for (size_t t = 0; t < nthreads; t++) {
        sc[t] = *proto;
        sc[t].next = &next;
        sc[t].piece = piece;
        sc[t].heaps = heaps + t * nq;
        for (size_t j = 0; j < nq; j++)
            sc[t].heaps[j] = (heap){store + (t * nq + j) * k, 0, k};
    }
    for (size_t t = 1; t < nthreads; t++)
        started[t] = pthread_create(&th[t], NULL, scan_run, &sc[t]) == 0;
    scan_run(&sc[0]);
    for (size_t t = 1; t < nthreads; t++) {
        if (started[t]) pthread_join(th[t], NULL);
        else scan_run(&sc[t]);
    }
    for (size_t j = 0; j < nq; j++) {
        heap h = {out + j * k, 0, k};
        for (size_t t = 0; t < nthreads; t++)
            for (size_t i = 0; i < heaps[t * nq + j].n; i++) heap_push(&h, heaps[t * nq + j].v[i]);
        qsort(h.v, h.n, sizeof *h.v, hent_cmp);
        counts[j] = h.n;
    }
    free(store);
    free(heaps);
    return KEEL_OK;
}

keel_status keel_db_search_batch(keel_db *db, const char *table, const char *index,
                                 const float *queries, size_t nq, size_t dims, uint32_t k,
                                 const keel_db_search_opts *opts, keel_db_hit *hits_out,
                                 size_t *counts_out) {
    if (!db || !table || !index || !queries || !hits_out || !counts_out)
        return keel__fail(KEEL_EINVAL, "keel_db_search: NULL argument");
    if (nq == 0) return keel__fail(KEEL_EINVAL, "keel_db_search_batch: no queries");
    if (k < 1 || k > KEEL_DB_MAX_TOPK)
        return keel__fail(KEEL_EVALIDATION, "TopK %u: it must be 1 to %u", k, KEEL_DB_MAX_TOPK);
    /* No caller holds nq * k hits or nq * dims floats when those products wrap: refuse
     * before clearing the outputs (the clearing would run past them). */
    if (nq > SIZE_MAX / KEEL_DB_MAX_DIMENSIONS / sizeof(keel_db_hit))
        return keel__fail(KEEL_EINVAL, "keel_db_search_batch: %zu queries is too many", nq);
    memset(hits_out, 0, nq * k * sizeof *hits_out);
    memset(counts_out, 0, nq * sizeof *counts_out);
    if (opts && opts->ef > KEEL_DB_MAX_EF)
        return keel__fail(KEEL_EVALIDATION, "ef %u: it must be 0 (exact) to %u", opts->ef,
                          KEEL_DB_MAX_EF);
    if (dims < 1 || dims > KEEL_DB_MAX_DIMENSIONS)
        return keel__fail(KEEL_EVALIDATION, "the query vector has %zu dimensions (1 to %u)", dims,
                          KEEL_DB_MAX_DIMENSIONS);
    keel_db_search_opts o = KEEL_DB_SEARCH_OPTS_INIT;
    if (opts) o = *opts;
    kdb_table t;
    keel_status st = kdb_table_get(db, table, &t);
    if (st != KEEL_OK) return st;
    kdb_subst sub;
    kdb_expr *filter = NULL, *proj = NULL;
    float *qq = malloc(nq * sizeof *qq);
    hent *best = malloc(nq * k * sizeof *best);
    if (!qq || !best) st = keel__fail(KEEL_ENOMEM, "a search of %zu queries", nq);
    if (st == KEEL_OK)
        st = kdb_subst_init(&sub, o.names, o.names ? o.names_len : 0, o.values,
                            o.values ? o.values_len : 0);
    if (st == KEEL_OK && o.filter)
        st = kdb_expr_parse(KDB_EXPR_CONDITION, o.filter, strlen(o.filter), &sub, &filter);
    if (st == KEEL_OK && o.projection)
        st = kdb_expr_role(kdb_expr_parse(KDB_EXPR_PROJECTION, o.projection,
                                          strlen(o.projection), &sub, &proj),
                           "ProjectionExpression");
    if (st == KEEL_OK) st = kdb_subst_check_unused(&sub);
    bool locked = false;
    if (st == KEEL_OK && (st = keel__reader_enter(db->s)) == KEEL_OK) locked = true;
    kdb_vindex *x = NULL;
    if (st == KEEL_OK && !(x = kdb_vec_find(db, t.id, index)))
        st = keel__fail(KEEL_EVALIDATION, "table '%s' has no vector index named '%.255s'", t.name,
                        index);
    if (st == KEEL_OK) st = check_queries(x, queries, nq, dims, qq);
    bool done = false;
    _Atomic uint64_t damaged = 0;
    if (st == KEEL_OK && o.ef) {   /* approximate (vec_hnsw.c), unless it says scan */
        scan ctx = {.db = db, .x = x, .filter = filter, .ttl = t.ttl, .now = kdb_now(db),
                    .damaged = &damaged};
        kdb_hsearch hs = {.q = queries, .qq = qq, .nq = nq, .k = k, .ef = o.ef,
                          .filtered = filter || t.ttl[0], .pass = pass_tr,
                          .slot_of = kdb_vec_slot, .ctx = &ctx};
        st = kdb_hnsw_search(db, (kdb_vindex *)x, &hs, best, counts_out, &done);
    }
    if (st == KEEL_OK && !done) {
        const uint32_t *ord = scan_order(x);  /* x->ord_pay goes with it */
        scan proto = {.db = db, .x = x, .ord = ord, .ord_pay = ord ? x->ord_pay : NULL,
                      .kn = kdb_vec_best(),
                      .q = queries, .qq = qq, .nq = nq, .d = dims, .filter = filter,
                      .ttl = t.ttl, .now = kdb_now(db), .damaged = &damaged};
        st = run(&proto, k, thread_count(x, nq, o.threads), best, counts_out);
    }
    if (st == KEEL_OK && atomic_load(&damaged)) st = damaged_item(db, &t, atomic_load(&damaged));
    /* Each hit's trailer and payload offset: cold after an approximate search's walk. */
    for (size_t j = 0; st == KEEL_OK && o.ef && j < nq; j++)
        for (size_t i = 0; i < counts_out[j]; i++) {
            __builtin_prefetch(&x->tr[best[j * k + i].slot]);
            __builtin_prefetch(&x->pay[best[j * k + i].slot]);
        }
    for (size_t j = 0; st == KEEL_OK && j < nq; j++)
        for (size_t i = 0; st == KEEL_OK && i < counts_out[j]; i++)
            st = make_hit(db, x, &t, proj, best[j * k + i], &hits_out[j * k + i]);
    if (locked) keel__reader_leave(db->s);
    if (st != KEEL_OK) {
        keel_db_hits_free(hits_out, nq * k);
        memset(counts_out, 0, nq * sizeof *counts_out);
    }
    kdb_expr_free(filter);
    kdb_expr_free(proj);
    free(qq);
    free(best);
    return st;
}

keel_status keel_db_search(keel_db *db, const char *table, const char *index, const float *query,
                           size_t dims, uint32_t k, const keel_db_search_opts *opts,
                           keel_db_hit *hits_out, size_t *n_out) {
    if (!n_out) return keel__fail(KEEL_EINVAL, "keel_db_search: n_out is NULL");
    *n_out = 0;
    if (k < 1 || k > KEEL_DB_MAX_TOPK)
        return keel__fail(KEEL_EVALIDATION, "TopK %u: it must be 1 to %u", k, KEEL_DB_MAX_TOPK);
    return keel_db_search_batch(db, table, index, query, 1, dims, k, opts, hits_out, n_out);
}

void keel_db_hits_free(keel_db_hit *hits, size_t n) {
    if (!hits) return;
    for (size_t i = 0; i < n; i++) {
        keel_db_buf_free(&hits[i].item);
        memset(&hits[i], 0, sizeof hits[i]);
    }
}

const char *keel_db_vector_kernels(void) { return kdb_vec_best()->name; }
