/*
 * order.c: the ordered index, an in-memory B+tree of 16-byte entries {prefix, off}.
 *
 * Entries are ordered by full store key. The tree never copies a key: an entry holds the
 * key's first 8 bytes (big-endian, so integer order is memcmp order) and the offset through
 * which kdb_keysrc.key_at finds the whole key in the mapping. A comparison looks at the
 * prefixes first and reads the mapping only when they are equal; a probe key given as bytes
 * is compared the same way (its first 8 bytes loaded big-endian, zero-padded if shorter,
 * which keeps the order exact).
 *
 * Shape. Leaves hold up to LEAF_CAP entries, packed and sorted, doubly linked for iteration
 * both ways; a leaf in the tree is never empty. Inner nodes hold up to INNER_CAP children
 * and n-1 separators; separator i is the smallest entry of child i+1's subtree, exactly (same
 * key and offset), so key_at is only ever called for offsets of entries that are in the tree
 * (or were passed to kdb_order_build/put and are still there). Inserts keep that: a new key
 * descends right of every separator <= it, so it is never the new minimum of a right subtree;
 * splits promote the new right node's minimum; a remove or a replace of a subtree's minimum
 * rewrites the one separator equal to it (the lowest ancestor reached through a child index
 * > 0). A search descends to child #(separators <= key).
 *
 * Changes. put splits a full node into halves (so nodes made by splits are at least half
 * full); every node it may need is allocated before the tree is touched, so KEEL_ENOMEM
 * leaves it unchanged. remove never allocates: an empty leaf is unlinked and dropped from its
 * parent, recursively, and a root with one child is replaced by that child; a leaf under
 * LEAF_CAP/4 merges with a sibling under the same parent when both fit in 3/4 of a leaf
 * (hysteresis against split/merge churn). Inner nodes are never merged. Worst case after
 * adversarial removes: one live entry per bottom inner node (a 2 KiB leaf and a 1.5 KiB
 * inner node, about 3.6 KiB per entry); kdb_order_build (run at open) packs the tree again. Positions are
 * invalidated by any change; the caller holds the lock (no internal synchronization).
 *
 * Build. kdb_order_sort is an LSD radix sort on the prefix (16 bits a pass, passes whose
 * digit is constant skipped), then each run of equal prefixes is sorted on cached keys by
 * the 8 bytes after the run's common prefix (see sort_run). kdb_order_build fills leaves to
 * 80 % (spread evenly) and inner nodes fully. 80 % rather than 100 %: a full leaf splits
 * into two half-full ones on its first insert, so a tree built full and then grown by 20 %
 * of random puts holds 27.4 B/entry; built at 80 % it holds 20.6 B/entry and then 19.2 (few
 * leaves split). Leaves of 64, 128 and 256 entries, and inner nodes of 32 to 256 children,
 * measured alike for speed (within the machine's noise): 128 and 64 it is, in the middle.
 *
 * Measured: release build, 2 vCPU Intel Xeon KVM guest, shared (load average 5-10 during
 * the runs), 2026-12-05, thread CPU time, `tests/c/test_db_order --bench 1000000`: 1M keys
 * of 24 bytes (table, hash, partition key, sort key) in a 26 MB arena.
 *                      sort    build  B/entry  seek    put (+20 %)  remove
 *   unique prefixes    18-32   3-4    20.6     ~600    ~450         ~450     (ms / ns)
 *   1k partitions      50-63   5      20.6     ~1400   ~1600        ~1600
 * A seek costs one cache miss per level (4 levels at 1M) plus one key fetch; in a partition
 * of 1k items, whose prefixes are all equal, it takes ~10 key fetches from the mapping. The
 * fetch of the probe key itself (~40 ns) is not included.
 */
#include "db/db.h"

#include <stdlib.h>
#include <string.h>

#ifndef KDB_ORDER_LEAF_CAP
#define KDB_ORDER_LEAF_CAP 128
#endif
#define LEAF_CAP KDB_ORDER_LEAF_CAP
#ifndef KDB_ORDER_INNER_CAP
#define KDB_ORDER_INNER_CAP 64
#endif
#define INNER_CAP KDB_ORDER_INNER_CAP
#ifndef KDB_ORDER_BUILD_FILL_PCT
#define KDB_ORDER_BUILD_FILL_PCT 80
#endif
#define BUILD_FILL (LEAF_CAP * KDB_ORDER_BUILD_FILL_PCT / 100) /* entries per built leaf */
_Static_assert(LEAF_CAP >= 2 && INNER_CAP >= 3, "node sizes too small to split");
_Static_assert(BUILD_FILL >= 1 && BUILD_FILL <= LEAF_CAP, "build fill out of range");
#define MAX_HEIGHT 24 /* inner levels; INNER_CAP/2-ary at worst: far beyond any n */

typedef struct leaf {
    struct leaf *prev, *next;
    uint32_t n;
    kdb_oent e[LEAF_CAP];
} leaf;

typedef struct inner {
    uint32_t n; /* children */
    kdb_oent sep[INNER_CAP - 1];
    void *child[INNER_CAP];
} inner;

struct kdb_order {
    void *root;      /* a leaf when height == 0; NULL when empty */
    unsigned height; /* inner levels above the leaves */
    leaf *head, *tail;
    size_t count, leaves, inners;
};

/* One step of a descent: the inner node and the child index taken. path[0] is the root. */
typedef struct step {
    inner *node;
    unsigned idx;
} step;

/* A probe: the key's bytes and its prefix. */
typedef struct probe {
    uint64_t prefix;
    const uint8_t *key;
    size_t len;
} probe;

/* ---- allocation, with a testing hook ----------------------------------------------- */

static long fault_skip = -1;

void kdb_order_fault_inject(long skip) { fault_skip = skip; }

static void *node_alloc(size_t size) {
    if (fault_skip >= 0 && fault_skip-- == 0) return NULL;
    return malloc(size);
}

/* ---- comparisons -------------------------------------------------------------------- */

static uint64_t load_prefix(const uint8_t *key, size_t len) {
    uint64_t v = 0;
    for (size_t i = 0; i < 8; i++) v = v << 8 | (i < len ? key[i] : 0);
    return v;
}

static int cmp_bytes(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen) {
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c) return c;
    return (alen > blen) - (alen < blen);
}

/* Order of entry `e` against probe `p`: <0, 0, >0. */
static inline int cmp_ent(const kdb_oent *e, const probe *p, const kdb_keysrc *src) {
    if (e->prefix != p->prefix) return e->prefix < p->prefix ? -1 : 1;
    size_t len;
    const uint8_t *k = src->key_at(src->ctx, e->off, &len);
    return cmp_bytes(k, len, p->key, p->len);
}

/* First index in the leaf whose entry is >= p. */
static unsigned leaf_lower(const leaf *l, const probe *p, const kdb_keysrc *src) {
    unsigned lo = 0, hi = l->n;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (cmp_ent(&l->e[mid], p, src) < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* The child to descend into: the number of separators <= p. */
static unsigned inner_child(const inner *in, const probe *p, const kdb_keysrc *src) {
    unsigned lo = 0, hi = in->n - 1;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (cmp_ent(&in->sep[mid], p, src) <= 0) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* Descend to the leaf where p belongs, recording the path (may be NULL). */
static leaf *descend(const kdb_order *o, const probe *p, const kdb_keysrc *src, step *path) {
    void *n = o->root;
    for (unsigned d = 0; d < o->height; d++) {
        inner *in = n;
        unsigned i = inner_child(in, p, src);
        if (path) path[d] = (step){in, i};
        n = in->child[i];
    }
    return n;
}

static probe make_probe(const uint8_t *key, size_t len) {
    return (probe){load_prefix(key, len), key, len};
}

/* The subtree minimum at the bottom of `path` became `e`: rewrite the separator equal to
 * the old minimum, held by the lowest ancestor reached through a child index > 0. */
static void fix_sep(step *path, unsigned depth, kdb_oent e) {
    while (depth-- > 0) {
        if (path[depth].idx > 0) {
            path[depth].node->sep[path[depth].idx - 1] = e;
            return;
        }
    }
}

/* ---- lifetime, counts --------------------------------------------------------------- */

keel_status kdb_order_new(kdb_order **out) {
    kdb_order *o = calloc(1, sizeof *o);
    if (!o) return keel__fail(KEEL_ENOMEM, "ordered index: %zu bytes", sizeof *o);
    *out = o;
    return KEEL_OK;
}

static void free_inners(void *n, unsigned height) {
    if (height == 0) return; /* leaves are freed through their list */
    inner *in = n;
    for (unsigned i = 0; i < in->n; i++) free_inners(in->child[i], height - 1);
    free(in);
}

static void free_tree(void *root, unsigned height, leaf *head) {
    if (root) free_inners(root, height);
    while (head) {
        leaf *next = head->next;
        free(head);
        head = next;
    }
}

void kdb_order_free(kdb_order *o) {
    if (!o) return;
    free_tree(o->root, o->height, o->head);
    free(o);
}

size_t kdb_order_count(const kdb_order *o) { return o->count; }

size_t kdb_order_memory(const kdb_order *o) {
    return sizeof *o + o->leaves * sizeof(leaf) + o->inners * sizeof(inner);
}

/* ---- bulk build --------------------------------------------------------------------- */

keel_status kdb_order_build(kdb_order *o, const kdb_oent *sorted, size_t n) {
    for (size_t i = 1; i < n; i++)
        if (sorted[i - 1].prefix > sorted[i].prefix)
            return keel__fail(KEEL_EINVAL, "ordered index: entry %zu out of order", i);
    kdb_order t = {0};
    void **level = NULL;
    kdb_oent *mins = NULL;
    if (n == 0) goto done;

    /* Leaves: nl of them, n/nl or n/nl+1 entries each, so none is tiny. */
    size_t nl = (n + BUILD_FILL - 1) / BUILD_FILL;
    level = malloc(nl * sizeof *level);
    mins = malloc(nl * sizeof *mins);
    if (!level || !mins) goto oom;
    size_t at = 0;
    for (size_t i = 0; i < nl; i++) {
        leaf *l = node_alloc(sizeof *l);
        if (!l) goto oom;
        size_t k = n / nl + (i < n % nl);
        memcpy(l->e, sorted + at, k * sizeof *sorted);
        l->n = (uint32_t)k;
        l->next = NULL;
        l->prev = t.tail;
        if (t.tail) t.tail->next = l;
        else t.head = l;
        t.tail = l;
        t.leaves++;
        mins[i] = sorted[at];
        level[i] = l;
        at += k;
    }
    t.count = n;
    t.root = level[0];

    /* Inner levels, bottom up, in place over level[] and mins[]. */
    size_t width = nl;
    while (width > 1) {
        if (t.height == MAX_HEIGHT) goto oom; /* unreachable: INNER_CAP^24 children */
        size_t np = (width + INNER_CAP - 1) / INNER_CAP;
        size_t c = 0;
        for (size_t i = 0; i < np; i++) {
            inner *in = node_alloc(sizeof *in);
            if (!in) {
                /* level[i..np) still hold the unparented nodes: free them too. */
                for (size_t j = c; j < width; j++) free_inners(level[j], t.height);
                for (size_t j = 0; j < i; j++) free_inners(level[j], t.height + 1);
                t.root = NULL;
                goto oom;
            }
            size_t k = width / np + (i < width % np);
            in->n = (uint32_t)k;
            for (size_t j = 0; j < k; j++) {
                in->child[j] = level[c + j];
                if (j > 0) in->sep[j - 1] = mins[c + j];
            }
            kdb_oent m = mins[c];
            level[i] = in;
            mins[i] = m;
            c += k;
            t.inners++;
        }
        width = np;
        t.height++;
        t.root = level[0];
    }
done:
    free(level);
    free(mins);
    free_tree(o->root, o->height, o->head);
    *o = t;
    return KEEL_OK;
oom:
    /* Inner nodes were freed above (or none exist); the leaves are all on the list. */
    free(level);
    free(mins);
    free_tree(NULL, 0, t.head);
    return keel__fail(KEEL_ENOMEM, "ordered index: building %zu entries", n);
}

/* ---- sort --------------------------------------------------------------------------- */

/* A run of equal prefixes is sorted on cached keys: each key is fetched once (the fetches
 * are independent, so the CPU overlaps their cache misses), the run's common prefix length
 * L is found, and each key gets a sort word: its 8 bytes at L, big-endian and zero-padded.
 * Records compare by sort word and only on a tie by the whole key. Keys of one partition
 * share their partition key, so the word after the first 8 bytes would not discriminate;
 * the word after the common prefix usually does. Records are radix-sorted on the word's
 * highest varying bytes; ties are merge-sorted by whole key (O(g log g), cache-resident). */
typedef struct srec {
    uint64_t word;
    uint32_t i; /* index in the run */
} srec;

typedef struct srun {
    const uint8_t **key;
    size_t *len;
} srun;

static int cmp_rec(const srec *a, const srec *b, const srun *r) {
    if (a->word != b->word) return a->word < b->word ? -1 : 1;
    return cmp_bytes(r->key[a->i], r->len[a->i], r->key[b->i], r->len[b->i]);
}

/* Insertion sort by (word, key): short runs, and groups of equal words. */
static void rec_isort(srec *v, size_t n, const srun *r) {
    for (size_t i = 1; i < n; i++) {
        srec x = v[i];
        size_t j = i;
        while (j > 0 && cmp_rec(&v[j - 1], &x, r) > 0) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

/* Merge sort by (word, key), for large groups of equal words. */
static void rec_msort(srec *v, srec *tmp, size_t n, const srun *r) {
    if (n <= 32) {
        rec_isort(v, n, r);
        return;
    }
    size_t h = n / 2;
    rec_msort(v, tmp, h, r);
    rec_msort(v + h, tmp, n - h, r);
    if (cmp_rec(&v[h - 1], &v[h], r) <= 0) return; /* already in order */
    memcpy(tmp, v, h * sizeof *v);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) v[k++] = cmp_rec(&v[j], &tmp[i], r) < 0 ? v[j++] : tmp[i++];
    while (i < h) v[k++] = tmp[i++];
}

/* Radix sort by word on its two highest bytes that vary in this run (two passes of LSD;
 * a run of 1k random words is then almost sorted into groups of one), then each group of
 * equal high bytes by (word, key): insertion for small groups, merge sort for large ones. */
static void rec_sort(srec *v, srec *tmp, size_t n, const srun *r) {
    if (n <= 32) {
        rec_isort(v, n, r);
        return;
    }
    size_t count[8][256];
    memset(count, 0, sizeof count);
    for (size_t i = 0; i < n; i++)
        for (int d = 0; d < 8; d++) count[d][(v[i].word >> (8 * d)) & 0xff]++;
    int top[2], nt = 0;
    for (int d = 7; d >= 0 && nt < 2; d--)
        if (count[d][(v[0].word >> (8 * d)) & 0xff] != n) top[nt++] = d;
    srec *a = v, *b = tmp;
    for (int t = nt; t-- > 0;) {
        int d = top[t];
        size_t *c = count[d];
        size_t sum = 0;
        for (int k = 0; k < 256; k++) {
            size_t x = c[k];
            c[k] = sum;
            sum += x;
        }
        for (size_t i = 0; i < n; i++) b[c[(a[i].word >> (8 * d)) & 0xff]++] = a[i];
        srec *x = a;
        a = b;
        b = x;
    }
    if (a != v) memcpy(v, a, n * sizeof *v);
    /* Words agree above the lower sorted byte (constant bytes agree everywhere). */
    uint64_t mask = nt == 0 ? 0 : ~(uint64_t)0 << (8 * top[nt - 1]);
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && (v[j].word & mask) == (v[i].word & mask);) j++;
        if (j - i > 32) rec_msort(v + i, tmp, j - i, r);
        else if (j - i > 1) rec_isort(v + i, j - i, r);
    }
}

static uint64_t load_be64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* Sort v[0..n) (equal prefixes) by full key; scratch has room for n of everything. */
static void sort_run(kdb_oent *v, size_t n, const kdb_keysrc *src, srun *r, srec *rec,
                     srec *rtmp, kdb_oent *ecopy) {
    for (size_t j = 0; j < n; j++) {
        r->key[j] = src->key_at(src->ctx, v[j].off, &r->len[j]);
        __builtin_prefetch(r->key[j]); /* overlap the misses on the key bytes */
    }
    size_t lcp = r->len[0];
    const uint8_t *k0 = r->key[0];
    for (size_t j = 1; j < n && lcp > 0; j++) {
        size_t m = r->len[j] < lcp ? r->len[j] : lcp, c = 0;
        const uint8_t *kj = r->key[j];
        while (c + 8 <= m && load_be64(kj + c) == load_be64(k0 + c)) c += 8;
        while (c < m && kj[c] == k0[c]) c++;
        lcp = c;
    }
    for (size_t j = 0; j < n; j++) {
        uint64_t w = 0;
        if (lcp + 8 <= r->len[j]) {
            w = load_be64(r->key[j] + lcp);
        } else {
            for (size_t b = lcp; b < lcp + 8; b++)
                w = w << 8 | (b < r->len[j] ? r->key[j][b] : 0);
        }
        rec[j] = (srec){w, (uint32_t)j};
    }
    rec_sort(rec, rtmp, n, r);
    memcpy(ecopy, v, n * sizeof *v);
    for (size_t j = 0; j < n; j++) v[j] = ecopy[rec[j].i];
}

keel_status kdb_order_sort(kdb_oent *v, size_t n, const kdb_keysrc *src) {
    if (n < 2) return KEEL_OK;
    if (n > UINT32_MAX) return keel__fail(KEEL_EINVAL, "ordered index: %zu entries", n);
    kdb_oent *tmp = malloc(n * sizeof *tmp);
    size_t *count = malloc(4 * 65536 * sizeof *count);
    if (!tmp || !count) {
        free(tmp);
        free(count);
        return keel__fail(KEEL_ENOMEM, "ordered index: sorting %zu entries", n);
    }
    /* One read for all four histograms; a pass whose digit is the same everywhere (the
     * table id's high bits, say) is skipped. */
    memset(count, 0, 4 * 65536 * sizeof *count);
    for (size_t i = 0; i < n; i++) {
        uint64_t p = v[i].prefix;
        for (int d = 0; d < 4; d++) count[d * 65536 + ((p >> (16 * d)) & 0xffff)]++;
    }
    kdb_oent *a = v, *b = tmp;
    for (int d = 0; d < 4; d++) {
        size_t *c = count + d * 65536;
        if (c[(a[0].prefix >> (16 * d)) & 0xffff] == n) continue;
        size_t sum = 0;
        for (size_t k = 0; k < 65536; k++) {
            size_t x = c[k];
            c[k] = sum;
            sum += x;
        }
        for (size_t i = 0; i < n; i++) b[c[(a[i].prefix >> (16 * d)) & 0xffff]++] = a[i];
        kdb_oent *t = a;
        a = b;
        b = t;
    }
    if (a != v) memcpy(v, a, n * sizeof *v);
    free(count);
    free(tmp);

    /* Runs of equal prefixes, by full key, with scratch for the longest run. */
    size_t longest = 1;
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && v[j].prefix == v[i].prefix;) j++;
        if (j - i > longest) longest = j - i;
    }
    if (longest == 1) return KEEL_OK;
    srun r = {malloc(longest * sizeof *r.key), malloc(longest * sizeof *r.len)};
    srec *rec = malloc(2 * longest * sizeof *rec);
    kdb_oent *ecopy = malloc(longest * sizeof *ecopy);
    keel_status st = KEEL_OK;
    if (!r.key || !r.len || !rec || !ecopy) {
        st = keel__fail(KEEL_ENOMEM, "ordered index: sorting runs of %zu keys", longest);
    } else {
        for (size_t i = 0, j; i < n; i = j) {
            for (j = i + 1; j < n && v[j].prefix == v[i].prefix;) j++;
            if (j - i > 1) sort_run(v + i, j - i, src, &r, rec, rec + longest, ecopy);
        }
    }
    free(r.key);
    free(r.len);
    free(rec);
    free(ecopy);
    return st;
}

/* ---- put ---------------------------------------------------------------------------- */

/* Insert `e` at `pos` of a leaf with room. */
static void leaf_insert(leaf *l, unsigned pos, kdb_oent e) {
    memmove(&l->e[pos + 1], &l->e[pos], (l->n - pos) * sizeof e);
    l->e[pos] = e;
    l->n++;
}

/* Insert (sep, child) into a node with room, child at index `ci` (>= 1). */
static void inner_insert(inner *in, unsigned ci, kdb_oent sep, void *child) {
    memmove(&in->child[ci + 1], &in->child[ci], (in->n - ci) * sizeof child);
    memmove(&in->sep[ci], &in->sep[ci - 1], (in->n - ci) * sizeof sep);
    in->child[ci] = child;
    in->sep[ci - 1] = sep;
    in->n++;
}

keel_status kdb_order_put(kdb_order *o, const uint8_t *key, size_t len, uint64_t off,
                          const kdb_keysrc *src) {
    probe p = make_probe(key, len);
    kdb_oent e = {p.prefix, off};
    if (!o->root) {
        leaf *l = node_alloc(sizeof *l);
        if (!l) return keel__fail(KEEL_ENOMEM, "ordered index: new leaf");
        l->prev = l->next = NULL;
        l->n = 1;
        l->e[0] = e;
        o->root = o->head = o->tail = l;
        o->leaves = o->count = 1;
        return KEEL_OK;
    }
    step path[MAX_HEIGHT];
    leaf *l = descend(o, &p, src, path);
    unsigned pos = leaf_lower(l, &p, src);
    if (pos < l->n && cmp_ent(&l->e[pos], &p, src) == 0) {
        l->e[pos].off = off;
        if (pos == 0) fix_sep(path, o->height, l->e[0]);
        return KEEL_OK;
    }
    if (l->n < LEAF_CAP) {
        leaf_insert(l, pos, e);
        o->count++;
        return KEEL_OK;
    }

    /* Splits: allocate every node first, so that a failure changes nothing. */
    unsigned d = o->height;
    while (d > 0 && path[d - 1].node->n == INNER_CAP) d--;
    unsigned ninner = o->height - d + (d == 0); /* split inners, plus a new root */
    if (d == 0 && o->height == MAX_HEIGHT)
        return keel__fail(KEEL_ENOMEM, "ordered index: height limit");
    leaf *nl = node_alloc(sizeof *nl);
    inner *fresh[MAX_HEIGHT + 1];
    unsigned got = 0;
    if (nl)
        for (; got < ninner; got++)
            if (!(fresh[got] = node_alloc(sizeof(inner)))) break;
    if (!nl || got < ninner) {
        free(nl);
        while (got > 0) free(fresh[--got]);
        return keel__fail(KEEL_ENOMEM, "ordered index: splitting a leaf");
    }

    /* Split the leaf into halves and insert into the half where pos falls. */
    unsigned h = LEAF_CAP / 2;
    nl->n = LEAF_CAP - h;
    memcpy(nl->e, &l->e[h], nl->n * sizeof e);
    l->n = h;
    if (pos <= h) leaf_insert(l, pos, e);
    else leaf_insert(nl, pos - h, e);
    nl->prev = l;
    nl->next = l->next;
    if (l->next) l->next->prev = nl;
    else o->tail = nl;
    l->next = nl;
    o->leaves++;
    o->count++;

    /* Push (separator, new node) up the path, splitting full inner nodes. */
    kdb_oent up = nl->e[0];
    void *right = nl;
    for (unsigned dd = o->height; dd-- > 0;) {
        inner *in = path[dd].node;
        unsigned ci = path[dd].idx + 1;
        if (in->n < INNER_CAP) {
            inner_insert(in, ci, up, right);
            return KEEL_OK;
        }
        /* Full: lay out the INNER_CAP+1 children and INNER_CAP separators, then split. */
        void *ch[INNER_CAP + 1];
        kdb_oent sp[INNER_CAP];
        memcpy(ch, in->child, ci * sizeof *ch);
        ch[ci] = right;
        memcpy(ch + ci + 1, in->child + ci, (INNER_CAP - ci) * sizeof *ch);
        memcpy(sp, in->sep, (ci - 1) * sizeof *sp);
        sp[ci - 1] = up;
        memcpy(sp + ci, in->sep + ci - 1, (INNER_CAP - ci) * sizeof *sp);
        inner *rn = fresh[--got];
        unsigned lc = (INNER_CAP + 1) / 2, rc = INNER_CAP + 1 - lc;
        in->n = lc;
        memcpy(in->child, ch, lc * sizeof *ch);
        memcpy(in->sep, sp, (lc - 1) * sizeof *sp);
        rn->n = rc;
        memcpy(rn->child, ch + lc, rc * sizeof *ch);
        memcpy(rn->sep, sp + lc, (rc - 1) * sizeof *sp);
        o->inners++;
        up = sp[lc - 1];
        right = rn;
    }
    /* The root split: a new root above it. */
    inner *r = fresh[--got];
    r->n = 2;
    r->child[0] = o->root;
    r->child[1] = right;
    r->sep[0] = up;
    o->root = r;
    o->height++;
    o->inners++;
    return KEEL_OK;
}

/* ---- remove ------------------------------------------------------------------------- */

static void leaf_unlink(kdb_order *o, leaf *l) {
    if (l->prev) l->prev->next = l->next;
    else o->head = l->next;
    if (l->next) l->next->prev = l->prev;
    else o->tail = l->prev;
    free(l);
    o->leaves--;
}

/* Drop child `ci` (and its separator) from an inner node. */
static void inner_drop(inner *in, unsigned ci) {
    memmove(&in->child[ci], &in->child[ci + 1], (in->n - ci - 1) * sizeof in->child[0]);
    if (ci > 0) memmove(&in->sep[ci - 1], &in->sep[ci], (in->n - ci - 1) * sizeof in->sep[0]);
    else if (in->n > 1) memmove(&in->sep[0], &in->sep[1], (in->n - 2) * sizeof in->sep[0]);
    in->n--;
}

bool kdb_order_remove(kdb_order *o, const uint8_t *key, size_t len, const kdb_keysrc *src) {
    if (!o->root) return false;
    probe p = make_probe(key, len);
    step path[MAX_HEIGHT];
    leaf *l = descend(o, &p, src, path);
    unsigned pos = leaf_lower(l, &p, src);
    if (pos == l->n || cmp_ent(&l->e[pos], &p, src) != 0) return false;
    memmove(&l->e[pos], &l->e[pos + 1], (l->n - pos - 1) * sizeof l->e[0]);
    l->n--;
    o->count--;

    if (l->n > 0) {
        if (pos == 0) fix_sep(path, o->height, l->e[0]);
        if (l->n < LEAF_CAP / 4 && o->height > 0) {
            /* Merge with a sibling under the same parent when both fit in 3/4 of a leaf. */
            inner *par = path[o->height - 1].node;
            unsigned ci = path[o->height - 1].idx;
            leaf *a = NULL, *b = NULL;
            if (ci + 1 < par->n && l->n + ((leaf *)par->child[ci + 1])->n <= LEAF_CAP * 3 / 4) {
                a = l;
                b = par->child[ci + 1];
                ci++;
            } else if (ci > 0 && l->n + ((leaf *)par->child[ci - 1])->n <= LEAF_CAP * 3 / 4) {
                a = par->child[ci - 1];
                b = l;
            }
            if (a) {
                memcpy(&a->e[a->n], b->e, b->n * sizeof b->e[0]);
                a->n += b->n;
                leaf_unlink(o, b);
                inner_drop(par, ci); /* ci > 0: the parent's minimum is unchanged */
            }
        }
    } else {
        /* Drop the empty leaf, and every ancestor it leaves empty. */
        leaf_unlink(o, l);
        unsigned d = o->height;
        while (d > 0) {
            inner *in = path[d - 1].node;
            unsigned ci = path[d - 1].idx;
            if (in->n > 1) {
                kdb_oent newmin = in->sep[0];
                inner_drop(in, ci);
                if (ci == 0) fix_sep(path, d - 1, newmin);
                break;
            }
            free(in);
            o->inners--;
            d--;
        }
        if (d == 0) { /* the tree is empty */
            o->root = NULL;
            o->height = 0;
            return true;
        }
    }
    while (o->height > 0 && ((inner *)o->root)->n == 1) {
        inner *r = o->root;
        o->root = r->child[0];
        free(r);
        o->inners--;
        o->height--;
    }
    return true;
}

/* ---- positions ---------------------------------------------------------------------- */

bool kdb_order_seek(const kdb_order *o, const uint8_t *key, size_t len, const kdb_keysrc *src,
                    kdb_opos *pos) {
    if (!o->root) return false;
    probe p = make_probe(key, len);
    leaf *l = descend(o, &p, src, NULL);
    unsigned i = leaf_lower(l, &p, src);
    if (i == l->n) {
        l = l->next;
        i = 0;
        if (!l) return false;
    }
    *pos = (kdb_opos){l, i};
    return true;
}

bool kdb_order_seek_before(const kdb_order *o, const uint8_t *key, size_t len,
                           const kdb_keysrc *src, kdb_opos *pos) {
    if (!o->root) return false;
    probe p = make_probe(key, len);
    leaf *l = descend(o, &p, src, NULL);
    unsigned i = leaf_lower(l, &p, src);
    if (i == 0) {
        l = l->prev;
        if (!l) return false;
        i = l->n;
    }
    *pos = (kdb_opos){l, i - 1};
    return true;
}

bool kdb_order_first(const kdb_order *o, kdb_opos *pos) {
    if (!o->head) return false;
    *pos = (kdb_opos){o->head, 0};
    return true;
}

bool kdb_order_last(const kdb_order *o, kdb_opos *pos) {
    if (!o->tail) return false;
    *pos = (kdb_opos){o->tail, o->tail->n - 1};
    return true;
}

bool kdb_order_next(const kdb_order *o, kdb_opos *pos) {
    (void)o;
    leaf *l = pos->leaf;
    if (pos->i + 1 < l->n) {
        pos->i++;
        return true;
    }
    if (!l->next) return false;
    *pos = (kdb_opos){l->next, 0};
    return true;
}

bool kdb_order_prev(const kdb_order *o, kdb_opos *pos) {
    (void)o;
    leaf *l = pos->leaf;
    if (pos->i > 0) {
        pos->i--;
        return true;
    }
    if (!l->prev) return false;
    *pos = (kdb_opos){l->prev, l->prev->n - 1};
    return true;
}

kdb_oent kdb_order_get(const kdb_opos *pos) { return ((const leaf *)pos->leaf)->e[pos->i]; }
