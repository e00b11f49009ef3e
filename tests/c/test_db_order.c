/*
 * test_db_order.c: the ordered index (src/db/order.c) against a sorted-array model.
 *
 * Keys live in a test-owned arena ([length byte][bytes] at each offset); key_at reads them
 * back, so an entry's offset is also its name here. A "universe" of distinct random keys
 * (8..64 bytes from a tiny alphabet over a few 8-byte prefixes, so many keys share their
 * prefix and many are prefixes of others) is sorted once; the model is which universe keys
 * are present and at which of their copies' offsets. Every operation (put, replace, remove,
 * seek, seek_before, first/last, steps both ways) is checked against the model as it
 * happens, and the whole tree is walked both ways every few hundred operations.
 *
 * Built twice (tests/c/meson.build): `db_order` with the real node sizes and
 * `db_order_small` with 8-entry leaves and 4-way inner nodes, so a few thousand keys make a
 * deep tree and every split, merge, cascade and root collapse happens often.
 *
 * DB_ORDER_SEED=<n> in the environment picks another random sequence (soak runs).
 * `test_db_order --bench [n]` (run it from a release build) prints the figures quoted in
 * order.c: sort + build of n entries, ns per seek, put and remove, bytes per entry.
 */
#include "harness.h"
#include "util.h"

#include "db/db.h"

/* The small build runs the same operations on a tree of tiny nodes; the real one needs
 * more keys for a tree of three levels. */
#ifdef KDB_ORDER_LEAF_CAP
#define SCALE 1
#else
#define SCALE 4
#endif

/* ---- the arena and the model -------------------------------------------------------- */

#define COPIES 3

typedef struct arena {
    uint8_t *b;
    size_t len, cap;
    uint8_t *live; /* when set: live[off] is 1 iff `off` is in the tree (or being sorted) */
} arena;

/* The test's own reads. */
static const uint8_t *raw_key(const arena *a, uint64_t off, size_t *len_out) {
    *len_out = a->b[off];
    return a->b + off + 1;
}

/* The tree's reads (kdb_keysrc.key_at). */
static const uint8_t *arena_key_at(const void *ctx, uint64_t off, size_t *len_out) {
    const arena *a = ctx;
    /* The tree may only read keys of entries it holds: separators are exact. */
    if (a->live && !a->live[off] && h_failures() < 20)
        h_fail(__FILE__, __LINE__, "key_at(%llu): not an entry of the tree",
               (unsigned long long)off);
    *len_out = a->b[off];
    return a->b + off + 1;
}

static uint64_t arena_add(arena *a, const uint8_t *k, size_t len) {
    if (a->len + len + 1 > a->cap) {
        a->cap = (a->cap ? a->cap * 2 : 4096) + len + 1;
        a->b = realloc(a->b, a->cap);
        if (!a->b) abort();
    }
    uint64_t off = a->len;
    a->b[a->len++] = (uint8_t)len;
    memcpy(a->b + a->len, k, len);
    a->len += len;
    return off;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}
static size_t rndn(size_t n) { return (size_t)(rnd() % n); }

static uint64_t be_prefix(const uint8_t *k) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | k[i];
    return v;
}

static int key_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl) {
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

/* A random key: one of 6 prefixes (two pairs share 7 bytes), then 0..56 bytes of {0,1,'a',
 * 0xff}. */
static size_t random_key(uint8_t *k) {
    static const uint8_t pre[6][8] = {
        {0, 0, 0, 1, 0, 0, 0, 0}, {0, 0, 0, 1, 0, 0, 0, 1}, {0, 0, 0, 1, 0x80, 1, 2, 3},
        {0, 0, 0, 2, 0xff, 0xff, 0xff, 0xfe}, {0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff},
        {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
    static const uint8_t alpha[4] = {0, 1, 'a', 0xff};
    memcpy(k, pre[rndn(6)], 8);
    size_t len = 8 + (rndn(4) == 0 ? rndn(57) : rndn(9));
    for (size_t i = 8; i < len; i++) k[i] = alpha[rndn(4)];
    return len;
}

typedef struct model {
    arena a;
    kdb_keysrc src;
    size_t k;              /* universe size */
    uint64_t (*copy)[COPIES]; /* offsets of the copies of each universe key, sorted order */
    bool *present;
    uint64_t *cur;         /* offset in the tree when present */
    size_t count;
} model;

static const uint8_t *mkey(const model *m, size_t u, size_t *len) {
    return raw_key(&m->a, m->copy[u][0], len);
}

static int cmp_u64p(const void *x, const void *y, void *ctx);
static const arena *sort_arena;
static int cmp_off(const void *x, const void *y) {
    return cmp_u64p(x, y, (void *)sort_arena);
}
static int cmp_u64p(const void *x, const void *y, void *ctx) {
    size_t al, bl;
    const uint8_t *a = raw_key(ctx, *(const uint64_t *)x, &al);
    const uint8_t *b = raw_key(ctx, *(const uint64_t *)y, &bl);
    return key_cmp(a, al, b, bl);
}

/* A universe of up to `want` distinct keys, sorted. */
static void model_init(model *m, size_t want) {
    memset(m, 0, sizeof *m);
    uint64_t *offs = malloc(want * sizeof *offs);
    uint8_t k[64];
    for (size_t i = 0; i < want; i++) offs[i] = arena_add(&m->a, k, random_key(k));
    sort_arena = &m->a;
    qsort(offs, want, sizeof *offs, cmp_off);
    size_t n = 0;
    for (size_t i = 0; i < want; i++)
        if (n == 0 || cmp_u64p(&offs[n - 1], &offs[i], &m->a) != 0) offs[n++] = offs[i];
    m->k = n;
    m->copy = malloc(n * sizeof *m->copy);
    m->present = calloc(n, 1);
    m->cur = calloc(n, sizeof *m->cur);
    for (size_t u = 0; u < n; u++) {
        size_t len;
        const uint8_t *p = raw_key(&m->a, offs[u], &len);
        memcpy(k, p, len);
        m->copy[u][0] = offs[u];
        for (int c = 1; c < COPIES; c++) m->copy[u][c] = arena_add(&m->a, k, len);
    }
    free(offs);
    m->a.live = calloc(m->a.len, 1);
    m->src = (kdb_keysrc){arena_key_at, &m->a};
}

static void model_free(model *m) {
    free(m->a.live);
    free(m->a.b);
    free(m->copy);
    free(m->present);
    free(m->cur);
}

/* live[] from the model, after a test edited present[] and cur[] itself. */
static void model_sync_live(model *m) {
    memset(m->a.live, 0, m->a.len);
    for (size_t u = 0; u < m->k; u++)
        if (m->present[u]) m->a.live[m->cur[u]] = 1;
}

/* First universe index whose key is >= (k, len). */
static size_t model_lower(const model *m, const uint8_t *k, size_t len) {
    size_t lo = 0, hi = m->k;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2, ml;
        const uint8_t *mk = mkey(m, mid, &ml);
        if (key_cmp(mk, ml, k, len) < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static size_t next_present(const model *m, size_t u) {
    while (u < m->k && !m->present[u]) u++;
    return u;
}

/* Last present index < u, or SIZE_MAX. */
static size_t prev_present(const model *m, size_t u) {
    while (u > 0) {
        if (m->present[--u]) return u;
    }
    return SIZE_MAX;
}

/* ---- checks ------------------------------------------------------------------------- */

/* The entry at pos must be universe key u with its current offset. */
static bool pos_is(const model *m, const kdb_opos *pos, size_t u) {
    kdb_oent e = kdb_order_get(pos);
    size_t len;
    const uint8_t *k = mkey(m, u, &len);
    return e.off == m->cur[u] && e.prefix == be_prefix(k);
}

/* Walk the whole tree both ways against the model. */
static void check_all(const model *m, const kdb_order *o) {
    CHECK_EQ(kdb_order_count(o), m->count);
    kdb_opos pos;
    size_t u = next_present(m, 0), seen = 0;
    bool ok = kdb_order_first(o, &pos);
    CHECK_EQ(ok, u < m->k);
    while (ok && u < m->k) {
        if (!pos_is(m, &pos, u)) {
            h_fail(__FILE__, __LINE__, "forward walk: entry %zu differs", seen);
            return;
        }
        seen++;
        ok = kdb_order_next(o, &pos);
        u = next_present(m, u + 1);
    }
    CHECK(!ok && u == m->k);
    CHECK_EQ(seen, m->count);
    u = prev_present(m, m->k);
    ok = kdb_order_last(o, &pos);
    CHECK_EQ(ok, u != SIZE_MAX);
    seen = 0;
    while (ok && u != SIZE_MAX) {
        if (!pos_is(m, &pos, u)) {
            h_fail(__FILE__, __LINE__, "backward walk: entry %zu differs", seen);
            return;
        }
        seen++;
        ok = kdb_order_prev(o, &pos);
        u = prev_present(m, u);
    }
    CHECK(!ok && u == SIZE_MAX);
    CHECK_EQ(seen, m->count);
    if (m->count) CHECK(kdb_order_memory(o) > m->count * sizeof(kdb_oent));
}

/* A probe: a universe key (present or not), or a fresh random key, or a cut one. */
static size_t random_probe(const model *m, uint8_t *k) {
    size_t r = rndn(4);
    if (r < 2) {
        size_t len;
        const uint8_t *p = mkey(m, rndn(m->k), &len);
        memcpy(k, p, len);
        if (r == 1 && len > 8) len = 8 + rndn(len - 8); /* a proper prefix of a key */
        return len;
    }
    return random_key(k);
}

/* seek and seek_before for one probe, then a few steps each way. */
static void check_seeks(const model *m, const kdb_order *o, const uint8_t *k, size_t len) {
    size_t lb = model_lower(m, k, len);
    size_t u = next_present(m, lb);
    kdb_opos pos;
    bool ok = kdb_order_seek(o, k, len, &m->src, &pos);
    CHECKF(ok == (u < m->k), "seek found %d, model %d", ok, u < m->k);
    if (ok && u < m->k) {
        CHECK(pos_is(m, &pos, u));
        size_t v = u;
        for (int s = 0; s < 3; s++) {
            bool a = kdb_order_next(o, &pos);
            v = next_present(m, v + 1);
            CHECK_EQ(a, v < m->k);
            if (!a || v >= m->k) break;
            CHECK(pos_is(m, &pos, v));
        }
    }
    u = prev_present(m, lb);
    ok = kdb_order_seek_before(o, k, len, &m->src, &pos);
    CHECKF(ok == (u != SIZE_MAX), "seek_before found %d, model %d", ok, u != SIZE_MAX);
    if (ok && u != SIZE_MAX) {
        CHECK(pos_is(m, &pos, u));
        size_t v = u;
        for (int s = 0; s < 3; s++) {
            bool a = kdb_order_prev(o, &pos);
            v = prev_present(m, v);
            CHECK_EQ(a, v != SIZE_MAX);
            if (!a || v == SIZE_MAX) break;
            CHECK(pos_is(m, &pos, v));
        }
    }
}

static void do_put(model *m, kdb_order *o, size_t u) {
    size_t len;
    const uint8_t *k = mkey(m, u, &len);
    uint64_t off = m->copy[u][rndn(COPIES)];
    CHECK_OK(kdb_order_put(o, k, len, off, &m->src));
    if (!m->present[u]) m->count++;
    else m->a.live[m->cur[u]] = 0;
    m->a.live[off] = 1;
    m->present[u] = true;
    m->cur[u] = off;
    kdb_opos pos;
    CHECK(kdb_order_seek(o, k, len, &m->src, &pos) && pos_is(m, &pos, u));
}

static void do_remove(model *m, kdb_order *o, size_t u) {
    size_t len;
    const uint8_t *k = mkey(m, u, &len);
    bool got = kdb_order_remove(o, k, len, &m->src);
    CHECK_EQ(got, m->present[u]);
    if (m->present[u]) m->count--;
    if (m->present[u]) m->a.live[m->cur[u]] = 0;
    m->present[u] = false;
}

/* `ops` random operations; puts win with probability put_pct %. */
static void random_ops(model *m, kdb_order *o, int ops, int put_pct) {
    uint8_t k[64];
    for (int i = 0; i < ops && h_failures() < 20; i++) {
        int r = (int)rndn(100);
        size_t u = rndn(m->k);
        if (r < put_pct) {
            do_put(m, o, u);
        } else if (r < 90) {
            /* remove, often of a present key (the model's next present one) */
            size_t v = next_present(m, u);
            do_remove(m, o, v < m->k && rndn(4) ? v : u);
        } else {
            size_t len = random_probe(m, k);
            check_seeks(m, o, k, len);
        }
        if (i % 250 == 0) check_all(m, o);
    }
    check_all(m, o);
}

/* ---- tests -------------------------------------------------------------------------- */

static void test_empty(void) {
    model m;
    model_init(&m, 50);
    kdb_order *o;
    REQUIRE_OK(kdb_order_new(&o));
    kdb_opos pos;
    CHECK(!kdb_order_first(o, &pos));
    CHECK(!kdb_order_last(o, &pos));
    CHECK_EQ(kdb_order_count(o), 0);
    CHECK(kdb_order_memory(o) > 0);
    size_t len;
    const uint8_t *k = mkey(&m, 3, &len);
    CHECK(!kdb_order_seek(o, k, len, &m.src, &pos));
    CHECK(!kdb_order_seek_before(o, k, len, &m.src, &pos));
    CHECK(!kdb_order_remove(o, k, len, &m.src));
    CHECK_OK(kdb_order_build(o, NULL, 0));
    CHECK_EQ(kdb_order_count(o), 0);
    /* One entry, then empty again. */
    do_put(&m, o, 3);
    check_all(&m, o);
    check_seeks(&m, o, k, len);
    do_remove(&m, o, 3);
    check_all(&m, o);
    CHECK(!kdb_order_first(o, &pos));
    kdb_order_free(o);
    kdb_order_free(NULL);
    model_free(&m);
}

static void test_random_model(void) {
    model m;
    model_init(&m, 3000 * SCALE);
    kdb_order *o;
    REQUIRE_OK(kdb_order_new(&o));
    random_ops(&m, o, 6000 * SCALE, 75); /* grow */
    random_ops(&m, o, 6000 * SCALE, 45); /* churn */
    random_ops(&m, o, 4000 * SCALE, 20); /* shrink */
    /* Empty it by removes, in random order, then grow it again. */
    for (size_t u = 0; u < m.k; u++) {
        size_t v = (u * 7919) % m.k;
        if (m.present[v]) do_remove(&m, o, v);
    }
    check_all(&m, o);
    CHECK_EQ(kdb_order_count(o), 0);
    random_ops(&m, o, 3000, 70);
    kdb_order_free(o);
    model_free(&m);
}

/* Sequential puts ascending and descending (the splits' edge cases), then removes
 * ascending, which empties leaves from the left. */
static void test_sequential(void) {
    model m;
    model_init(&m, 2500 * SCALE);
    kdb_order *o;
    REQUIRE_OK(kdb_order_new(&o));
    for (size_t u = 0; u < m.k; u += 2) do_put(&m, o, u);
    for (size_t u = m.k; u-- > 0;)
        if (u % 2) do_put(&m, o, u);
    check_all(&m, o);
    for (size_t u = 0; u < m.k; u++)
        if (u % 3) do_remove(&m, o, u);
    check_all(&m, o);
    for (size_t u = m.k; u-- > 0;) do_remove(&m, o, u);
    check_all(&m, o);
    kdb_order_free(o);
    model_free(&m);
}

/* sort + build of a random subset, then mutations on the built tree. */
static void test_build_then_mutate(void) {
    model m;
    model_init(&m, 3000 * SCALE);
    for (int round = 0; round < 4; round++) {
        kdb_order *o;
        REQUIRE_OK(kdb_order_new(&o));
        size_t n = 0;
        kdb_oent *v = malloc(m.k * sizeof *v);
        memset(m.present, 0, m.k);
        for (size_t u = 0; u < m.k; u++) {
            if (round > 0 && rndn(4) == 0) continue;
            size_t len;
            const uint8_t *k = mkey(&m, u, &len);
            m.present[u] = true;
            m.cur[u] = m.copy[u][rndn(COPIES)];
            v[n++] = (kdb_oent){be_prefix(k), m.cur[u]};
        }
        m.count = n;
        model_sync_live(&m);
        /* Shuffle, sort, build. */
        for (size_t i = n; i > 1; i--) {
            size_t j = rndn(i);
            kdb_oent t = v[i - 1];
            v[i - 1] = v[j];
            v[j] = t;
        }
        CHECK_OK(kdb_order_sort(v, n, &m.src));
        CHECK_OK(kdb_order_build(o, v, n));
        check_all(&m, o);
        uint8_t k[64];
        for (int i = 0; i < 300; i++) {
            size_t len = random_probe(&m, k);
            check_seeks(&m, o, k, len);
        }
        if (round == 3) { /* rebuild over a non-empty tree, with a smaller subset */
            size_t keep = 0;
            for (size_t i = 0; i < n; i += 3) v[keep++] = v[i];
            memset(m.present, 0, m.k);
            for (size_t i = 0; i < keep; i++)
                for (size_t u = 0; u < m.k; u++)
                    if (m.cur[u] == v[i].off) m.present[u] = true;
            m.count = keep;
            model_sync_live(&m);
            CHECK_OK(kdb_order_build(o, v, keep));
            check_all(&m, o);
        }
        random_ops(&m, o, 2500, round % 2 ? 30 : 60);
        /* Out of order input is refused and changes nothing. */
        if (n >= 2 && v[0].prefix != v[n - 1].prefix) {
            kdb_oent bad[2] = {v[n - 1], v[0]};
            CHECK_ST(kdb_order_build(o, bad, 2), KEEL_EINVAL);
            check_all(&m, o);
        }
        free(v);
        kdb_order_free(o);
    }
    model_free(&m);
}

/* kdb_order_sort on shapes the random universe rarely makes: long runs of one prefix whose
 * keys agree on many bytes after it (equal sort words), keys that differ only in trailing
 * zero bytes or length, and a run per prefix of one key each. */
static void test_sort_shapes(void) {
    arena a = {0};
    size_t n = 0, cap = 6000;
    kdb_oent *v = malloc(cap * sizeof *v);
    uint64_t *offs = malloc(cap * sizeof *offs);
    uint8_t k[64];
    for (int i = 0; i < 3000; i++) { /* one prefix: 28 shared bytes (the run's common
                                        * prefix), then 2 values, 8 shared, 2 varying */
        memset(k, 0x42, 39);
        k[28] = (uint8_t)(i % 2);
        k[37] = (uint8_t)(i * 37 % 251);
        k[38] = (uint8_t)(i / 251);
        offs[n++] = arena_add(&a, k, 39);
    }
    for (int i = 0; i < 40; i++) { /* "P", "P\0", "P\0\0", ... */
        memset(k, 0x43, 8);
        memset(k + 8, 0, (size_t)i);
        offs[n++] = arena_add(&a, k, 8 + (size_t)i);
    }
    for (int i = 0; i < 2000; i++) { /* a prefix each */
        for (int j = 0; j < 8; j++) k[j] = (uint8_t)rnd();
        offs[n++] = arena_add(&a, k, 8 + rndn(8));
    }
    for (size_t i = n; i > 1; i--) {
        size_t j = rndn(i);
        uint64_t t = offs[i - 1];
        offs[i - 1] = offs[j];
        offs[j] = t;
    }
    for (size_t i = 0; i < n; i++) v[i] = (kdb_oent){be_prefix(a.b + offs[i] + 1), offs[i]};
    kdb_keysrc src = {arena_key_at, &a};
    CHECK_OK(kdb_order_sort(v, n, &src));
    sort_arena = &a;
    qsort(offs, n, sizeof *offs, cmp_off);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += v[i].off != offs[i];
    CHECK_EQ(bad, 0);
    /* And the tree built from it finds every key. */
    kdb_order *o;
    REQUIRE_OK(kdb_order_new(&o));
    CHECK_OK(kdb_order_build(o, v, n));
    size_t missed = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const uint8_t *key = raw_key(&a, offs[i], &len);
        kdb_opos pos;
        missed += !kdb_order_seek(o, key, len, &src, &pos) || kdb_order_get(&pos).off != offs[i];
    }
    CHECK_EQ(missed, 0);
    kdb_order_free(o);
    free(v);
    free(offs);
    free(a.b);
}

/* Every allocation of a put or a build fails in turn: KEEL_ENOMEM, tree unchanged. */
static void test_oom(void) {
    model m;
    model_init(&m, 2000);
    kdb_order *o;
    REQUIRE_OK(kdb_order_new(&o));
    int failures = 0;
    for (int i = 0; i < 1500 && h_failures() == 0; i++) {
        size_t u = rndn(m.k);
        size_t len;
        const uint8_t *k = mkey(&m, u, &len);
        uint64_t off = m.copy[u][rndn(COPIES)];
        for (long skip = 0;; skip++) {
            kdb_order_fault_inject(skip);
            keel_status st = kdb_order_put(o, k, len, off, &m.src);
            kdb_order_fault_inject(-1);
            if (st == KEEL_OK) break;
            CHECK_ST(st, KEEL_ENOMEM);
            failures++;
            if (i % 50 == 0) check_all(&m, o);
        }
        if (!m.present[u]) m.count++;
        m.present[u] = true;
        m.cur[u] = off;
        model_sync_live(&m);
    }
    check_all(&m, o);
    CHECK(failures > 0);
    /* build: the old contents stay when any allocation fails. */
    size_t n = 0;
    kdb_oent *v = malloc(m.k * sizeof *v);
    for (size_t u = 0; u < m.k; u += 2) {
        size_t len;
        v[n++] = (kdb_oent){be_prefix(mkey(&m, u, &len)), m.copy[u][0]};
    }
    for (long skip = 0;; skip++) {
        kdb_order_fault_inject(skip);
        keel_status st = kdb_order_build(o, v, n);
        kdb_order_fault_inject(-1);
        if (st == KEEL_OK) break;
        CHECK_ST(st, KEEL_ENOMEM);
        if (skip % 16 == 0) check_all(&m, o);
    }
    memset(m.present, 0, m.k);
    for (size_t u = 0; u < m.k; u += 2) {
        m.present[u] = true;
        m.cur[u] = m.copy[u][0];
    }
    m.count = n;
    model_sync_live(&m);
    check_all(&m, o);
    free(v);
    kdb_order_free(o);
    model_free(&m);
}

/* ---- benchmark ---------------------------------------------------------------------- */

/* The benchmark counts this thread's CPU time, not wall time: the machine is shared, and
 * waiting for a core is not the tree's cost. */
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* n keys like the Database's: a 4-byte table id, a 4-byte partition hash (`parts`
 * partitions, 0 = every key its own), an 8-byte partition key and an 8-byte sort key.
 * Sort + build n of them (best of three), seek 1M random present keys (the cost of
 * fetching the probe key alone is measured and subtracted), put m = n/5 new keys into the
 * built tree, remove them again. */
static void bench_one(size_t n, size_t parts) {
    size_t m = n / 5, total = n + m;
    arena a = {0};
    a.cap = total * 26;
    a.b = malloc(a.cap);
    kdb_oent *v = malloc(total * sizeof *v);
    uint8_t k[24];
    for (size_t i = 0; i < total; i++) {
        uint64_t part = parts ? rnd() % parts : 0;
        uint64_t h = parts ? part * 0x9e3779b1u : rnd();
        uint64_t pre = (uint64_t)7 << 32 | (h & 0xffffffffu);
        for (int j = 0; j < 8; j++) k[j] = (uint8_t)(pre >> (56 - 8 * j));
        /* the partition key (the same in a partition), then the sort key */
        uint64_t s1 = parts ? part : rnd(), s2 = rnd();
        memcpy(k + 8, &s1, 8);
        memcpy(k + 16, &s2, 8);
        v[i] = (kdb_oent){pre, arena_add(&a, k, 24)};
    }
    kdb_keysrc src = {arena_key_at, &a};
    kdb_oent *w = malloc(n * sizeof *w);
    kdb_order *o = NULL;
    double sort_s = 1e9, build_s = 1e9;
    for (int rep = 0; rep < 3; rep++) {
        memcpy(w, v, n * sizeof *v);
        kdb_order_free(o);
        if (kdb_order_new(&o) != KEEL_OK) abort();
        double t0 = cpu_now();
        if (kdb_order_sort(w, n, &src) != KEEL_OK) abort();
        double t1 = cpu_now();
        if (kdb_order_build(o, w, n) != KEEL_OK) abort();
        double t2 = cpu_now();
        if (t1 - t0 < sort_s) sort_s = t1 - t0;
        if (t2 - t1 < build_s) build_s = t2 - t1;
    }
    free(w);
    size_t mem = kdb_order_memory(o);

    size_t probes = 1000000;
    uint64_t sink = 0, seed = rng_state;
    double t3 = cpu_now();
    for (size_t i = 0; i < probes; i++) {
        size_t len;
        const uint8_t *key = raw_key(&a, v[rnd() % n].off, &len);
        sink += key[len - 1];
    }
    double t4 = cpu_now();
    rng_state = seed;
    for (size_t i = 0; i < probes; i++) {
        size_t len;
        const uint8_t *key = raw_key(&a, v[rnd() % n].off, &len);
        kdb_opos pos;
        if (kdb_order_seek(o, key, len, &src, &pos)) sink += kdb_order_get(&pos).off;
    }
    double t5 = cpu_now();
    for (size_t i = n; i < total; i++) {
        size_t len;
        const uint8_t *key = raw_key(&a, v[i].off, &len);
        if (kdb_order_put(o, key, len, v[i].off, &src) != KEEL_OK) abort();
    }
    double t6 = cpu_now();
    size_t mem_put = kdb_order_memory(o), count_put = kdb_order_count(o);
    size_t removed = 0;
    for (size_t i = n; i < total; i++) {
        size_t len;
        const uint8_t *key = raw_key(&a, v[i].off, &len);
        removed += kdb_order_remove(o, key, len, &src);
    }
    double t7 = cpu_now();
    if (count_put != total || removed != m || kdb_order_count(o) != n) printf("  count mismatch!\n");
    printf("n=%zu, %s: sort %.1f ms + build %.1f ms, %.2f B/entry; seek %.0f ns "
           "(+%.0f ns probe fetch); put %.0f ns (%zu new keys, then %.2f B/entry); "
           "remove %.0f ns\n",
           n, parts ? "1000 partitions" : "unique prefixes", sort_s * 1e3, build_s * 1e3,
           (double)mem / (double)n, ((t5 - t4) - (t4 - t3)) * 1e9 / (double)probes,
           (t4 - t3) * 1e9 / (double)probes, (t6 - t5) * 1e9 / (double)m, m,
           (double)mem_put / (double)total, (t7 - t6) * 1e9 / (double)m);
    if (sink == 42) printf("!\n");
    kdb_order_free(o);
    free(v);
    free(a.b);
}

int main(int argc, char **argv) {
    const char *seed = getenv("DB_ORDER_SEED"); /* another random sequence, for soak runs */
    if (seed && *seed) { /* splitmix64 of the seed: never 0, never a weak state */
        uint64_t z = strtoull(seed, NULL, 0) + 0x9e3779b97f4a7c15ull;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        rng_state = (z ^ (z >> 31)) | 1;
    }
    if (argc >= 2 && strcmp(argv[1], "--bench") == 0) {
        size_t n = argc >= 3 ? (size_t)strtoull(argv[2], NULL, 10) : 1000000;
        bench_one(n, 0);
        bench_one(n, 1000);
        return 0;
    }
    static const h_test tests[] = {
        H_TEST(test_empty),
        H_TEST(test_random_model),
        H_TEST(test_sequential),
        H_TEST(test_build_then_mutate),
        H_TEST(test_sort_shapes),
        H_TEST(test_oom),
    };
    return h_main(argc, argv, tests, H_COUNT(tests));
}
