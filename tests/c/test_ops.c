/*
 * test_ops.c: the multi-key operations on a healthy store, and what persists.
 *
 * Batch puts and deletes (all or nothing), delete, rename/copy/move within and between
 * stores, iteration (snapshots, keel_iter_at split over threads), statistics and the
 * reclaimable estimate, persistence across reopen, relative paths, and files built by hand
 * from docs/FORMAT.md (golden.h) against the golden file tests/data/format-1.0.keel.
 * Single-key operations and bad arguments are in test_basic.c.
 */
#include "util.h"
#include "golden.h"

#include <pthread.h>

#ifndef KEEL_TEST_DATA_DIR
#define KEEL_TEST_DATA_DIR "tests/data"
#endif

/* ---- batches ------------------------------------------------------------------------- */

static void test_put_batch(void) {
    keel_store *s;
    const char *p = h_path("a.keel");
    REQUIRE_OK(open_mode(p, KEEL_OPEN_CREATE, &s));
    CHECK_OK(keel_put_batch(s, NULL, 0));
    CHECK_EQ(fsize_of(s), 64);

    keel_kv items[5] = {
        { "one", 3, "1", 1 },
        { "two", 3, "22", 2 },
        { "one", 3, "111", 3 }, /* repeated: ends with its last value */
        { "empty", 5, NULL, 0 },
        { "", 0, "\0", 1 },
    };
    CHECK_OK(keel_put_batch(s, items, 5));
    CHECK_VALUE_S(s, "one", "111");
    CHECK_VALUE_S(s, "two", "22");
    CHECK_VALUE(s, "empty", 5, "", 0);
    CHECK_VALUE(s, "", 0, "\0", 1);
    CHECK_EQ(count_of(s), 4);

    /* In the file, every entry of the group but the last carries GROUP_MORE. */
    keel_entry e;
    uint64_t end = fsize_of(s);
    int commit_points = 0, found = 0;
    const char *keys[] = { "one", "two", "empty", "" };
    for (int i = 0; i < 4; i++) {
        if (keel_get_entry(s, keys[i], strlen(keys[i]), &e) != KEEL_OK) continue;
        found++;
        if (e.entry_end == end) {
            commit_points++;
            CHECK_EQ(e.flags & KEEL_FLAG_GROUP_MORE, 0);
        } else {
            CHECK_EQ(e.flags & KEEL_FLAG_GROUP_MORE, KEEL_FLAG_GROUP_MORE);
        }
        CHECK_OK(keel_entry_verify(s, &e));
    }
    CHECK_EQ(found, 4);
    CHECK_EQ(commit_points, 1);

    /* A batch of one, and a large batch. */
    keel_kv single = { "solo", 4, "s", 1 };
    CHECK_OK(keel_put_batch(s, &single, 1));
    CHECK_OK(keel_get_entry(s, "solo", 4, &e));
    CHECK_EQ(e.flags, 0);
    enum { N = 5000 };
    keel_kv *many = calloc(N, sizeof *many);
    char (*kb)[16] = calloc(N, 16);
    REQUIRE(many && kb);
    for (int i = 0; i < N; i++) {
        snprintf(kb[i], 16, "m%05d", i);
        many[i].key = kb[i];
        many[i].key_len = strlen(kb[i]);
        many[i].value = kb[i];
        many[i].value_len = (size_t)(i % 7);
    }
    CHECK_OK(keel_put_batch(s, many, N));
    CHECK_EQ(count_of(s), 5 + N);
    keel_free(s);
    REQUIRE_OK(open_mode(p, KEEL_OPEN_READONLY, &s));
    CHECK_EQ(count_of(s), 5 + N);
    for (int i = 0; i < N; i += 97) CHECK_VALUE(s, kb[i], strlen(kb[i]), kb[i], (size_t)(i % 7));
    CHECK_VALUE_S(s, "one", "111");
    CHECK_OK(keel_verify(s, NULL));
    keel_free(s);
    free(many);
    free(kb);
}

static void test_delete(void) {
    keel_store *s;
    const char *p = h_path("a.keel");
    REQUIRE_OK(open_mode(p, KEEL_OPEN_CREATE, &s));
    CHECK_OK(put_s(s, "a", "1"));
    CHECK_OK(put_s(s, "b", "2"));
    CHECK_OK(keel_delete(s, "a", 1));
    CHECK_ABSENT(s, "a", 1);
    CHECK_EQ(count_of(s), 1);
    keel_entry e;
    CHECK_ST(keel_get_entry(s, "a", 1, &e), KEEL_NOTFOUND);

    /* Deleting an absent key writes nothing. */
    uint64_t size = fsize_of(s);
    CHECK_ST(keel_delete(s, "a", 1), KEEL_NOTFOUND);
    CHECK_ST(keel_delete(s, "never", 5), KEEL_NOTFOUND);
    CHECK_EQ(fsize_of(s), size);
    CHECK_EQ(file_size(p), (long long)size);

    /* Resurrect. */
    CHECK_OK(put_s(s, "a", "3"));
    CHECK_VALUE_S(s, "a", "3");
    CHECK_OK(keel_delete(s, "a", 1));
    keel_free(s);
    REQUIRE_OK(open_mode(p, KEEL_OPEN_EXISTING, &s));
    CHECK_ABSENT(s, "a", 1);
    CHECK_VALUE_S(s, "b", "2");
    CHECK_EQ(count_of(s), 1);
    keel_stats stt;
    CHECK_OK(keel_stat(s, &stt));
    CHECK_EQ(stt.entries, 5); /* a, b, tombstone, a, tombstone */
    keel_free(s);
}

static void test_delete_batch(void) {
    keel_store *s;
    const char *p = h_path("a.keel");
    REQUIRE_OK(open_mode(p, KEEL_OPEN_CREATE, &s));
    for (int i = 0; i < 10; i++) {
        char k[8];
        snprintf(k, sizeof k, "k%d", i);
        CHECK_OK(put_s(s, k, k));
    }
    keel_view keys[5] = {
        { (const uint8_t *)"k1", 2 }, { (const uint8_t *)"absent", 6 }, { (const uint8_t *)"k3", 2 },
        { (const uint8_t *)"k3", 2 }, /* a repeated key is deleted once */
        { (const uint8_t *)"k9", 2 },
    };
    size_t deleted = 99;
    CHECK_OK(keel_delete_batch(s, keys, 5, &deleted));
    CHECK_EQ(deleted, 3);
    CHECK_ABSENT(s, "k1", 2);
    CHECK_ABSENT(s, "k3", 2);
    CHECK_ABSENT(s, "k9", 2);
    CHECK_VALUE_S(s, "k2", "k2");
    CHECK_EQ(count_of(s), 7);

    /* Nothing present: nothing written. */
    uint64_t size = fsize_of(s);
    deleted = 99;
    CHECK_OK(keel_delete_batch(s, keys, 5, &deleted));
    CHECK_EQ(deleted, 0);
    CHECK_EQ(fsize_of(s), size);
    CHECK_OK(keel_delete_batch(s, NULL, 0, &deleted));
    CHECK_EQ(deleted, 0);
    CHECK_OK(keel_delete_batch(s, keys, 0, NULL));
    keel_view k0 = { (const uint8_t *)"k0", 2 };
    CHECK_OK(keel_delete_batch(s, &k0, 1, NULL));
    CHECK_ABSENT(s, "k0", 2);
    keel_free(s);

    REQUIRE_OK(open_mode(p, KEEL_OPEN_READONLY, &s));
    CHECK_EQ(count_of(s), 6);
    CHECK_ABSENT(s, "k3", 2);
    CHECK_VALUE_S(s, "k8", "k8");
    keel_free(s);
}

/* ---- rename, copy, move -------------------------------------------------------------- */

static void test_rename(void) {
    keel_store *s;
    const char *p = h_path("a.keel");
    REQUIRE_OK(open_opts(p, KEEL_OPEN_CREATE, 256, KEEL_SYNC_NONE, 0, &s));
    uint8_t val[3000];
    pattern_fill(11, val, sizeof val);
    CHECK_OK(keel_put(s, "old", 3, val, sizeof val));
    CHECK_OK(put_s(s, "other", "o"));
    CHECK_OK(keel_rename(s, "old", 3, "new", 3));
    CHECK_ABSENT(s, "old", 3);
    CHECK_VALUE(s, "new", 3, val, sizeof val);
    keel_view v;
    CHECK_OK(keel_get(s, "new", 3, &v));
    CHECK_EQ((uintptr_t)v.data % 256, 0);
    CHECK_EQ(count_of(s), 2);

    /* One atomic group: the new entry carries GROUP_MORE, the tombstone closes it. */
    keel_entry e;
    CHECK_OK(keel_get_entry(s, "new", 3, &e));
    CHECK_EQ(e.flags & KEEL_FLAG_GROUP_MORE, KEEL_FLAG_GROUP_MORE);
    CHECK(e.entry_end < fsize_of(s));
    CHECK_OK(keel_entry_verify(s, &e));

    uint64_t size = fsize_of(s);
    CHECK_ST(keel_rename(s, "old", 3, "x", 1), KEEL_NOTFOUND);
    CHECK_ST(keel_rename(s, "new", 3, "new", 3), KEEL_EINVAL);
    CHECK_ERRMSG();
    CHECK_EQ(fsize_of(s), size);

    /* Onto an existing key: replaced. */
    CHECK_OK(keel_rename(s, "other", 5, "new", 3));
    CHECK_VALUE_S(s, "new", "o");
    CHECK_ABSENT(s, "other", 5);
    CHECK_EQ(count_of(s), 1);
    /* Empty value and empty key. */
    CHECK_OK(keel_put(s, "e", 1, NULL, 0));
    CHECK_OK(keel_rename(s, "e", 1, "", 0));
    CHECK_VALUE(s, "", 0, "", 0);
    CHECK_OK(keel_rename(s, "", 0, "e2", 2));
    CHECK_VALUE(s, "e2", 2, "", 0);
    CHECK_ABSENT(s, "", 0);
    keel_free(s);
    REQUIRE_OK(open_mode(p, KEEL_OPEN_READONLY, &s));
    CHECK_VALUE_S(s, "new", "o");
    CHECK_VALUE(s, "e2", 2, "", 0);
    CHECK_ABSENT(s, "old", 3);
    CHECK_EQ(count_of(s), 2);
    CHECK_OK(keel_verify(s, NULL));
    keel_free(s);
}

static void test_copy_move(void) {
    keel_store *a, *b;
    const char *pa = h_path("a.keel"), *pb = h_path("b.keel");
    REQUIRE_OK(open_opts(pa, KEEL_OPEN_CREATE, 64, KEEL_SYNC_NONE, 0, &a));
    REQUIRE_OK(open_opts(pb, KEEL_OPEN_CREATE, 4096, KEEL_SYNC_DATA, 0, &b));
    uint8_t val[10000];
    pattern_fill(5, val, sizeof val);
    CHECK_OK(keel_put(a, "v", 1, val, sizeof val));
    CHECK_OK(keel_put(a, "z", 1, "\0", 1));

    /* copy within a store */
    CHECK_OK(keel_copy(a, "v", 1, a, "v2", 2));
    CHECK_VALUE(a, "v", 1, val, sizeof val);
    CHECK_VALUE(a, "v2", 2, val, sizeof val);
    /* copy between stores, into a store of another alignment */
    CHECK_OK(keel_copy(a, "v", 1, b, "bv", 2));
    CHECK_VALUE(b, "bv", 2, val, sizeof val);
    keel_view view;
    CHECK_OK(keel_get(b, "bv", 2, &view));
    CHECK_EQ((uintptr_t)view.data % 4096, 0);
    CHECK_ST(keel_copy(a, "missing", 7, b, "m", 1), KEEL_NOTFOUND);
    CHECK_ABSENT(b, "m", 1);

    /* move between stores: gone from a, present in b */
    CHECK_OK(keel_move(a, "z", 1, b, "bz", 2));
    CHECK_ABSENT(a, "z", 1);
    CHECK_VALUE(b, "bz", 2, "\0", 1);
    CHECK_ST(keel_move(a, "z", 1, b, "bz2", 3), KEEL_NOTFOUND);
    CHECK_ABSENT(b, "bz2", 3);
    /* move within a store is a rename */
    CHECK_OK(keel_move(a, "v2", 2, a, "v3", 2));
    CHECK_ABSENT(a, "v2", 2);
    CHECK_VALUE(a, "v3", 2, val, sizeof val);
    CHECK_EQ(count_of(a), 2);
    CHECK_EQ(count_of(b), 2);
    keel_free(a);
    keel_free(b);
    REQUIRE_OK(open_mode(pa, KEEL_OPEN_READONLY, &a));
    REQUIRE_OK(open_mode(pb, KEEL_OPEN_READONLY, &b));
    CHECK_VALUE(a, "v", 1, val, sizeof val);
    CHECK_VALUE(a, "v3", 2, val, sizeof val);
    CHECK_ABSENT(a, "z", 1);
    CHECK_VALUE(b, "bv", 2, val, sizeof val);
    CHECK_VALUE(b, "bz", 2, "\0", 1);
    CHECK_OK(keel_verify(a, NULL));
    CHECK_OK(keel_verify(b, NULL));
    keel_free(a);
    keel_free(b);
}

/* ---- iteration ----------------------------------------------------------------------- */

#define ITER_N 3000

static void iter_key(int i, char *k) { snprintf(k, 16, "it%05d", i); }

/* The value of key i at version ver: 8 bytes of (i, ver) plus a pattern. */
static size_t iter_val(int i, int ver, uint8_t *buf) {
    size_t len = 8 + (size_t)((i * 37 + ver * 11) % 200);
    uint32_t a = (uint32_t)i, b = (uint32_t)ver;
    memcpy(buf, &a, 4);
    memcpy(buf + 4, &b, 4);
    pattern_fill((uint64_t)i << 8 | (uint64_t)ver, buf + 8, len - 8);
    return len;
}

static int iter_key_index(keel_view k) {
    if (k.len != 7 || memcmp(k.data, "it", 2) != 0) return -1;
    int i = 0;
    for (int j = 2; j < 7; j++) {
        if (k.data[j] < '0' || k.data[j] > '9') return -1;
        i = i * 10 + (k.data[j] - '0');
    }
    return i < ITER_N ? i : -1;
}

typedef struct iter_shard {
    const keel_iter *it;
    size_t lo, hi;
    int *seen; /* per key: how many times seen (atomic adds) */
    const int *version;
    int errors;
} iter_shard;

static void *iter_shard_run(void *arg) {
    iter_shard *sh = arg;
    uint8_t buf[256];
    for (size_t i = sh->lo; i < sh->hi; i++) {
        keel_view k, v;
        if (keel_iter_at(sh->it, i, &k, &v) != KEEL_OK) {
            sh->errors++;
            continue;
        }
        int ki = iter_key_index(k);
        if (ki < 0) {
            sh->errors++;
            continue;
        }
        __atomic_add_fetch(&sh->seen[ki], 1, __ATOMIC_RELAXED);
        size_t len = iter_val(ki, sh->version[ki], buf);
        if (v.len != len || memcmp(v.data, buf, len) != 0) sh->errors++;
    }
    return NULL;
}

static void test_iteration(void) {
    keel_store *s;
    REQUIRE_OK(open_mode(h_path("a.keel"), KEEL_OPEN_CREATE, &s));
    static int version[ITER_N], seen[ITER_N];
    static uint8_t buf[256];
    char k[16];
    for (int i = 0; i < ITER_N; i++) {
        iter_key(i, k);
        version[i] = 0;
        size_t len = iter_val(i, 0, buf);
        CHECK_OK(keel_put(s, k, 7, buf, len));
    }
    int live = ITER_N;
    for (int i = 0; i < ITER_N; i += 3) { /* overwrite a third */
        iter_key(i, k);
        version[i] = 1;
        size_t len = iter_val(i, 1, buf);
        CHECK_OK(keel_put(s, k, 7, buf, len));
    }
    for (int i = 1; i < ITER_N; i += 5) { /* delete a fifth */
        iter_key(i, k);
        version[i] = -1;
        CHECK_OK(keel_delete(s, k, 7));
        live--;
    }
    CHECK_EQ(count_of(s), live);

    keel_iter *it;
    REQUIRE_OK(keel_iter_new(s, &it));
    size_t n = keel_iter_len(it);
    CHECK_EQ(n, live);

    /* Sequential: each live key once, with its latest value, in file order. */
    memset(seen, 0, sizeof seen);
    keel_view kv, vv;
    size_t got = 0;
    const uint8_t *prev = NULL;
    while (keel_iter_next(it, &kv, &vv) == KEEL_OK) {
        got++;
        int ki = iter_key_index(kv);
        if (ki < 0) {
            CHECK(ki >= 0);
            continue;
        }
        seen[ki]++;
        CHECK(version[ki] >= 0);
        if (version[ki] >= 0) {
            size_t len = iter_val(ki, version[ki], buf);
            CHECK(vv.len == len && memcmp(vv.data, buf, len) == 0);
        }
        CHECK(prev == NULL || vv.data > prev); /* file order */
        prev = vv.data;
    }
    CHECK_EQ(got, n);
    CHECK_ST(keel_iter_next(it, &kv, &vv), KEEL_NOTFOUND);
    for (int i = 0; i < ITER_N; i++) CHECK_EQ(seen[i], version[i] >= 0 ? 1 : 0);
    CHECK_ST(keel_iter_at(it, n, &kv, &vv), KEEL_ERANGE);
    CHECK_ST(keel_iter_at(it, (size_t)-1, &kv, &vv), KEEL_ERANGE);

    /* The snapshot ignores later writes. */
    for (int i = 0; i < 50; i++) {
        iter_key(i, k);
        CHECK_OK(keel_put(s, k, 7, "later", 5));
    }
    CHECK_OK(put_s(s, "brand-new", "x"));

    /* Split over 4 threads with keel_iter_at. */
    memset(seen, 0, sizeof seen);
    enum { T = 4 };
    pthread_t th[T];
    iter_shard sh[T];
    for (int t = 0; t < T; t++) {
        sh[t] = (iter_shard){ it, (size_t)t * n / T, (size_t)(t + 1) * n / T, seen, version, 0 };
        REQUIRE(pthread_create(&th[t], NULL, iter_shard_run, &sh[t]) == 0);
    }
    for (int t = 0; t < T; t++) {
        pthread_join(th[t], NULL);
        CHECK_EQ(sh[t].errors, 0);
    }
    for (int i = 0; i < ITER_N; i++) CHECK_EQ(seen[i], version[i] >= 0 ? 1 : 0);
    keel_iter_free(it);

    /* A new iterator sees the new state. */
    REQUIRE_OK(keel_iter_new(s, &it));
    CHECK_EQ(keel_iter_len(it), count_of(s));
    keel_iter_free(it);

    /* An empty store iterates nothing. */
    keel_store *e;
    REQUIRE_OK(open_mode(h_path("e.keel"), KEEL_OPEN_CREATE, &e));
    REQUIRE_OK(keel_iter_new(e, &it));
    CHECK_EQ(keel_iter_len(it), 0);
    CHECK_ST(keel_iter_next(it, &kv, &vv), KEEL_NOTFOUND);
    CHECK_ST(keel_iter_at(it, 0, &kv, &vv), KEEL_ERANGE);
    keel_iter_free(it);
    keel_free(e);
    keel_iter_free(NULL);
    keel_free(s);
}

/* ---- stats ----------------------------------------------------------------------------- */

static void test_stats(void) {
    keel_store *s;
    const char *p = h_path("a.keel");
    REQUIRE_OK(open_opts(p, KEEL_OPEN_CREATE, 64, KEEL_SYNC_DATA, 0, &s));
    keel_stats st;
    uint8_t val[1000];
    char k[16];
    for (int i = 0; i < 100; i++) {
        snprintf(k, sizeof k, "s%03d", i);
        pattern_fill((uint64_t)i, val, sizeof val);
        CHECK_OK(keel_put(s, k, strlen(k), val, sizeof val));
    }
    CHECK_OK(keel_stat(s, &st));
    CHECK_EQ(st.entries, 100);
    CHECK_EQ(st.live_keys, 100);
    CHECK_EQ(st.file_size, fsize_of(s));
    CHECK_EQ(st.file_size, (uint64_t)file_size(p));
    CHECK_EQ(st.sync, KEEL_SYNC_DATA);
    CHECK_EQ(st.alignment, 64);
    CHECK(st.live_bytes >= 100 * (1000 + 4 + 40));
    CHECK(st.live_bytes <= st.file_size - 64);
    CHECKF(st.reclaimable_bytes < 1000, "fresh store: reclaimable %llu",
           (unsigned long long)st.reclaimable_bytes);

    /* Overwrite every value: about the first generation becomes reclaimable. */
    for (int i = 0; i < 100; i++) {
        snprintf(k, sizeof k, "s%03d", i);
        CHECK_OK(keel_put(s, k, strlen(k), val, 500));
    }
    CHECK_OK(keel_stat(s, &st));
    CHECK_EQ(st.entries, 200);
    CHECK_EQ(st.live_keys, 100);
    CHECKF(st.reclaimable_bytes >= 100 * 1000 && st.reclaimable_bytes <= st.file_size,
           "reclaimable %llu of %llu", (unsigned long long)st.reclaimable_bytes,
           (unsigned long long)st.file_size);
    CHECK(st.live_bytes >= 100 * 500 && st.live_bytes < 100 * 1000);
    uint64_t recl1 = st.reclaimable_bytes;

    /* Deletes: fewer live keys, more reclaimable. */
    for (int i = 0; i < 50; i++) {
        snprintf(k, sizeof k, "s%03d", i);
        CHECK_OK(keel_delete(s, k, strlen(k)));
    }
    CHECK_OK(keel_stat(s, &st));
    CHECK_EQ(st.entries, 250);
    CHECK_EQ(st.live_keys, 50);
    CHECK(st.reclaimable_bytes >= recl1 + 50 * 500);
    CHECK_EQ(st.file_size, (uint64_t)file_size(p));
    keel_stats st2;
    keel_free(s);

    /* The same numbers after reopen (read-only too). */
    REQUIRE_OK(open_mode(p, KEEL_OPEN_READONLY, &s));
    CHECK_OK(keel_stat(s, &st2));
    CHECK_EQ(st2.entries, st.entries);
    CHECK_EQ(st2.live_keys, st.live_keys);
    CHECK_EQ(st2.live_bytes, st.live_bytes);
    CHECK_EQ(st2.file_size, st.file_size);
    CHECK_EQ(st2.reclaimable_bytes, st.reclaimable_bytes);
    CHECK_EQ(st2.read_only, 1);
    keel_free(s);

    REQUIRE_OK(open_mode(p, KEEL_OPEN_EXISTING, &s));
    CHECK_OK(keel_compact(s, NULL, NULL));
    CHECK_OK(keel_stat(s, &st2));
    CHECK_EQ(st2.live_keys, 50);
    CHECK_EQ(st2.entries, 50);
    CHECK(st2.reclaimable_bytes < 64 * 50);
    CHECK(st2.file_size < st.file_size);
    CHECK(st2.live_bytes >= 50 * (500 + 4 + 40) && st2.live_bytes <= st2.file_size - 64);
    keel_free(s);
}

static void test_reopen_persistence(void) {
    const char *p = h_path("a.keel");
    keel_store *s;
    REQUIRE_OK(open_mode(p, KEEL_OPEN_CREATE, &s));
    enum { N = 2000 };
    rng r = rng_seed(42);
    static uint8_t model[N][64];
    static int mlen[N]; /* -1 absent */
    for (int i = 0; i < N; i++) mlen[i] = -1;
    for (int round = 0; round < 4; round++) {
        for (int op = 0; op < 3000; op++) {
            int i = (int)rng_below(&r, N);
            char k[16];
            snprintf(k, sizeof k, "key-%d", i);
            if (rng_below(&r, 5) == 0) {
                keel_status st = keel_delete(s, k, strlen(k));
                CHECK_EQ(st, mlen[i] < 0 ? KEEL_NOTFOUND : KEEL_OK);
                mlen[i] = -1;
            } else {
                int len = (int)rng_below(&r, 65);
                rng_fill(&r, model[i], (size_t)len);
                CHECK_OK(keel_put(s, k, strlen(k), model[i], (size_t)len));
                mlen[i] = len;
            }
        }
        keel_free(s);
        REQUIRE_OK(open_mode(p, round % 2 ? KEEL_OPEN_READONLY : KEEL_OPEN_EXISTING, &s));
        uint64_t live = 0;
        for (int i = 0; i < N; i++) {
            char k[16];
            snprintf(k, sizeof k, "key-%d", i);
            if (mlen[i] < 0) {
                CHECK_ABSENT(s, k, strlen(k));
            } else {
                live++;
                CHECK_VALUE(s, k, strlen(k), model[i], (size_t)mlen[i]);
            }
        }
        CHECK_EQ(count_of(s), live);
        if (h_failures()) break;
        if (round % 2) {
            keel_free(s);
            REQUIRE_OK(open_mode(p, KEEL_OPEN_EXISTING, &s));
        }
    }
    CHECK_OK(keel_verify(s, NULL));
    keel_free(s);
}

/* Opening through a relative path and a path with "..": the store behaves the same. */
static void test_relative_path(void) {
    char cwd[4096];
    REQUIRE(getcwd(cwd, sizeof cwd) != NULL);
    REQUIRE(chdir(h_dir) == 0);
    keel_store *s;
    keel_status st = open_mode("rel.keel", KEEL_OPEN_CREATE, &s);
    CHECK_EQ(st, KEEL_OK);
    if (st == KEEL_OK) {
        CHECK_OK(put_s(s, "a", "b"));
        CHECK_OK(keel_compact(s, NULL, NULL));
        CHECK_VALUE_S(s, "a", "b");
        keel_free(s);
    }
    int r = chdir(cwd);
    (void)r;
    REQUIRE(mkdir(h_path("sub"), 0755) == 0);
    REQUIRE_OK(open_mode(h_path("sub/../rel.keel"), KEEL_OPEN_EXISTING, &s));
    CHECK_VALUE_S(s, "a", "b");
    keel_free(s);
    char names[512];
    CHECK_EQ(dir_entries(names, sizeof names), 2); /* rel.keel and sub */
}

/* ---- hand-made files -------------------------------------------------------------------- */

static void check_golden_contents(keel_store *s) {
    uint8_t big[300];
    for (int i = 0; i < 300; i++) big[i] = (uint8_t)(i * 7);
    CHECK_ABSENT(s, "alpha", 5);
    CHECK_VALUE_S(s, "beta", "two");
    CHECK_VALUE(s, "", 0, "empty key", 9);
    CHECK_VALUE(s, "nul", 3, "\0", 1);
    CHECK_VALUE(s, "empty", 5, "", 0);
    CHECK_VALUE_S(s, "g1", "x");
    CHECK_VALUE_S(s, "g2", "y");
    CHECK_VALUE(s, "big", 3, big, 300);
    CHECK_EQ(count_of(s), 7);
    keel_view v;
    CHECK_OK(keel_get(s, "big", 3, &v));
    CHECK_EQ((uintptr_t)v.data % 64, 0);
    /* file order of the live entries */
    static const char *const order[] = { "", "nul", "empty", "g1", "g2", "beta", "big" };
    keel_iter *it;
    if (keel_iter_new(s, &it) != KEEL_OK) {
        CHECK(0);
        return;
    }
    keel_view k;
    size_t i = 0;
    while (keel_iter_next(it, &k, &v) == KEEL_OK && i < 7) {
        CHECKF(k.len == strlen(order[i]) && memcmp(k.data, order[i], k.len) == 0,
               "entry %zu of the iteration is \"%.*s\", want \"%s\"", i, (int)k.len,
               (const char *)k.data, order[i]);
        i++;
    }
    CHECK_EQ(i, 7);
    keel_iter_free(it);
}

/* Files built by hand from docs/FORMAT.md (golden.h) open and read as documented, and
 * tests/data/format-1.0.keel, the golden file, holds exactly those bytes. */
static void test_handmade_files(void) {
    fbuild f = { 0 };
    fb_golden(&f);
    size_t n = 0;
    uint8_t *g = read_file(KEEL_TEST_DATA_DIR "/format-1.0.keel", &n);
    CHECKF(g != NULL, "cannot read %s", KEEL_TEST_DATA_DIR "/format-1.0.keel");
    if (g) CHECKF(n == f.len && memcmp(g, f.b, n) == 0,
                  "the golden file differs from the bytes FORMAT.md describes");
    free(g);

    const char *p = h_path("golden.keel");
    keel_store *s;
    REQUIRE(write_file(p, f.b, f.len) == 0);
    REQUIRE_OK(open_mode(p, KEEL_OPEN_READONLY, &s));
    check_golden_contents(s);
    CHECK_OK(keel_verify(s, NULL));
    keel_stats st;
    CHECK_OK(keel_stat(s, &st));
    CHECK_EQ(st.entries, 10);
    CHECK_EQ(st.file_size, f.len);
    keel_entry e;
    CHECK_OK(keel_get_entry(s, "g1", 2, &e));
    CHECK_EQ(e.flags, KEEL_FLAG_GROUP_MORE);
    keel_free(s);
    CHECK(file_equals(p, f.b, f.len));
    /* Writable: appends after it, the earlier bytes untouched. */
    REQUIRE_OK(open_mode(p, KEEL_OPEN_EXISTING, &s));
    check_golden_contents(s);
    CHECK_OK(put_s(s, "added", "later"));
    keel_free(s);
    CHECK(file_has_prefix(p, f.b, f.len));
    REQUIRE_OK(open_mode(p, KEEL_OPEN_READONLY, &s));
    CHECK_VALUE_S(s, "added", "later");
    keel_free(s);

    /* An unfinished group at the end is not there. */
    fbuild f2 = { 0 };
    fb_golden(&f2);
    fb_entry(&f2, "g3", 2, "z", 1, 2);
    fb_entry(&f2, "beta", 4, "three", 5, 2);
    REQUIRE(write_file(p, f2.b, f2.len) == 0);
    REQUIRE_OK(open_mode(p, KEEL_OPEN_READONLY, &s));
    check_golden_contents(s);
    CHECK_ABSENT(s, "g3", 2);
    CHECK_EQ(fsize_of(s), f.len);
    keel_free(s);
    REQUIRE_OK(open_mode(p, KEEL_OPEN_EXISTING, &s));
    CHECK_EQ(file_size(p), (long long)f.len);
    keel_free(s);

    /* A complete group whose first entry's checksum is bad: the whole group is cut. */
    fbuild f3 = { 0 };
    fb_golden(&f3);
    size_t g3 = f3.len;
    fb_entry(&f3, "g3", 2, "z", 1, 2);
    fb_entry(&f3, "g4", 2, "w", 1, 0);
    f3.b[(g3 + 63) / 64 * 64] ^= 1; /* the value byte of g3, on the next 64-byte boundary */
    REQUIRE(write_file(p, f3.b, f3.len) == 0);
    REQUIRE_OK(open_mode(p, KEEL_OPEN_READONLY, &s));
    CHECK_ABSENT(s, "g3", 2);
    CHECK_ABSENT(s, "g4", 2);
    check_golden_contents(s);
    keel_free(s);

    /* Alignment 1 and 4096 files made by hand. */
    for (int a = 0; a <= 12; a += 12) {
        fbuild f4 = { 0 };
        fb_header(&f4, 1, 0, (uint8_t)a, 0x01020304u, 0);
        uint8_t val[5000];
        pattern_fill(4, val, sizeof val);
        fb_entry(&f4, "k", 1, val, 3, 0);
        fb_entry(&f4, "v", 1, val, sizeof val, 0);
        REQUIRE(write_file(p, f4.b, f4.len) == 0);
        REQUIRE_OK(open_mode(p, KEEL_OPEN_READONLY, &s));
        CHECK_VALUE(s, "k", 1, val, 3);
        CHECK_VALUE(s, "v", 1, val, sizeof val);
        CHECK_OK(keel_stat(s, &st));
        CHECK_EQ(st.alignment, 1u << a);
        CHECK_OK(keel_verify(s, NULL));
        keel_free(s);
        free(f4.b);
    }
    free(f.b);
    free(f2.b);
    free(f3.b);
}

int main(int argc, char **argv) {
    static const h_test tests[] = {
        H_TEST(test_put_batch),
        H_TEST(test_delete),
        H_TEST(test_delete_batch),
        H_TEST(test_rename),
        H_TEST(test_copy_move),
        H_TEST(test_iteration),
        H_TEST(test_stats),
        H_TEST(test_reopen_persistence),
        H_TEST(test_relative_path),
        H_TEST(test_handmade_files),
    };
    return h_main(argc, argv, tests, H_COUNT(tests));
}
