/*
 * test_basic.c: every public read and write operation on a healthy store, one behaviour per
 * test.
 *
 * put/get/get_many/get_copy/read_at/exists/count, empty and single-0x00 values, the empty key
 * and the largest key, bad arguments (NULL handles and pointers -> KEEL_EINVAL, oversize keys
 * -> KEEL_EKEYSIZE), use after close (KEEL_ECLOSED), read-only stores (KEEL_EREADONLY, file
 * untouched) and error details. Opening (modes, empty files, bad options, the header bytes,
 * alignments) is in test_open.c; batches, rename/copy/move, iteration, stats, persistence and
 * the golden files are in test_ops.c.
 */
#include "util.h"

/* ---- reading and writing ------------------------------------------------------------- */

static void test_put_get(void) {
    keel_store *s;
    REQUIRE_OK(open_mode(h_path("a.keel"), KEEL_OPEN_CREATE, &s));
    CHECK_EQ(count_of(s), 0);
    CHECK_OK(put_s(s, "alpha", "first value"));
    CHECK_OK(put_s(s, "beta", "second"));
    CHECK_VALUE_S(s, "alpha", "first value");
    CHECK_VALUE_S(s, "beta", "second");
    CHECK_EQ(count_of(s), 2);

    keel_view v = { (const uint8_t *)"sentinel", 8 };
    CHECK_ST(keel_get(s, "gamma", 5, &v), KEEL_NOTFOUND);
    CHECK(v.len == 8 && memcmp(v.data, "sentinel", 8) == 0); /* untouched */
    CHECK_ST(keel_exists(s, "gamma", 5), KEEL_NOTFOUND);
    CHECK_ST(keel_exists(s, "alph", 4), KEEL_NOTFOUND);
    CHECK_ST(keel_exists(s, "alphaa", 6), KEEL_NOTFOUND);

    /* Overwrite: the newest value wins, count unchanged, the old view still valid. */
    keel_view old;
    REQUIRE_OK(keel_get(s, "alpha", 5, &old));
    CHECK_OK(put_s(s, "alpha", "replacement value that is longer"));
    CHECK_VALUE_S(s, "alpha", "replacement value that is longer");
    CHECK_EQ(count_of(s), 2);
    CHECK(old.len == 11 && memcmp(old.data, "first value", 11) == 0);

    /* get_copy */
    char buf[64];
    size_t len = 999;
    CHECK_OK(keel_get_copy(s, "beta", 4, buf, sizeof buf, &len));
    CHECK_EQ(len, 6);
    CHECK_MEM(buf, "second", 6);
    len = 999;
    CHECK_OK(keel_get_copy(s, "beta", 4, buf, 6, &len)); /* exact fit */
    CHECK_EQ(len, 6);
    memset(buf, 'Z', sizeof buf);
    len = 999;
    CHECK_ST(keel_get_copy(s, "beta", 4, buf, 5, &len), KEEL_ERANGE);
    CHECK_ERRMSG();
    CHECK(buf[0] == 'Z' && buf[4] == 'Z');            /* nothing copied */
    CHECKF(len == 6 || len == 999, "len_out after ERANGE: %zu", len);
    len = 999;
    CHECK_ST(keel_get_copy(s, "nope", 4, buf, sizeof buf, &len), KEEL_NOTFOUND);
    CHECK_ST(keel_get_copy(s, "beta", 4, buf, sizeof buf, NULL), KEEL_EINVAL);
    CHECK_ST(keel_get_copy(s, "beta", 4, NULL, 10, &len), KEEL_EINVAL);

    /* get_entry */
    keel_entry e;
    REQUIRE_OK(keel_get_entry(s, "alpha", 5, &e));
    CHECK_EQ(e.key.len, 5);
    CHECK_MEM(e.key.data, "alpha", 5);
    CHECK_EQ(e.value.len, 32);
    CHECK_EQ(e.key_hash, keel_hash("alpha", 5));
    CHECK_EQ(e.flags, 0);
    CHECK_EQ(e.value_offset % 64, 0);
    CHECK(e.entry_offset <= e.value_offset);
    CHECK_EQ(e.entry_end % 8, 0);
    CHECK(e.entry_end >= e.value_offset + 32 + 5 + 40);
    CHECK_EQ(e.entry_end, fsize_of(s)); /* the newest entry */
    keel_view gv;
    CHECK_OK(keel_get(s, "alpha", 5, &gv));
    CHECK(gv.data == e.value.data);
    CHECK_OK(keel_entry_verify(s, &e));
    CHECK_ST(keel_get_entry(s, "zzz", 3, &e), KEEL_NOTFOUND);
    keel_free(s);
}

/* keel_get_many: present, absent, empty and bad keys in one call, more keys than one lock
 * hold covers, the same key twice, n == 0, NULL arrays, a closed store. */
static void test_get_many(void) {
    keel_store *s;
    REQUIRE_OK(open_mode(h_path("m.keel"), KEEL_OPEN_CREATE, &s));
    enum { N = 300 };
    static char kb[N][16], vb[N][32];
    keel_kv items[N];
    for (int i = 0; i < N; i++) {
        int kl = snprintf(kb[i], sizeof kb[i], "key%d", i);
        int vl = snprintf(vb[i], sizeof vb[i], "value of %d", i);
        items[i] = (keel_kv){ kb[i], (size_t)kl, vb[i], (size_t)(i % 10 == 0 ? 0 : vl) };
    }
    CHECK_OK(keel_put_batch(s, items, N));
    CHECK_OK(keel_delete(s, "key7", 4));
    /* 300 present keys interleaved with absent ones, plus the empty key, twice key5. */
    enum { M = 2 * N + 2 };
    static char ab[N][16];
    keel_view keys[M], vals[M];
    keel_status st[M];
    for (int i = 0; i < N; i++) {
        keys[2 * i] = (keel_view){ (const uint8_t *)kb[i], strlen(kb[i]) };
        int al = snprintf(ab[i], sizeof ab[i], "nokey%d", i);
        keys[2 * i + 1] = (keel_view){ (const uint8_t *)ab[i], (size_t)al };
    }
    keys[M - 2] = (keel_view){ NULL, 0 };
    keys[M - 1] = (keel_view){ (const uint8_t *)"key5", 4 };
    CHECK_OK(keel_get_many(s, keys, M, vals, st));
    for (int i = 0; i < N; i++) {
        if (i == 7) {
            CHECK_EQ(st[2 * i], KEEL_NOTFOUND);
        } else {
            CHECK_EQ(st[2 * i], KEEL_OK);
            CHECK_EQ(vals[2 * i].len, items[i].value_len);
            CHECK_MEM(vals[2 * i].data, vb[i], items[i].value_len);
            if (items[i].value_len) CHECK_EQ((uintptr_t)vals[2 * i].data % 64, 0);
        }
        CHECK_EQ(st[2 * i + 1], KEEL_NOTFOUND);
    }
    CHECK_EQ(st[M - 2], KEEL_NOTFOUND);
    CHECK_EQ(st[M - 1], KEEL_OK);
    CHECK_MEM(vals[M - 1].data, "value of 5", 10);

    /* A bad key: the call reports it, every other key is still answered. */
    keys[3] = (keel_view){ NULL, 5 };
    CHECK_ST(keel_get_many(s, keys, M, vals, st), KEEL_EINVAL);
    CHECK_ERRMSG();
    CHECK_EQ(st[3], KEEL_EINVAL);
    CHECK_EQ(st[2], KEEL_OK);
    CHECK_EQ(st[M - 1], KEEL_OK);

    CHECK_OK(keel_get_many(s, NULL, 0, NULL, NULL));
    CHECK_ST(keel_get_many(s, keys, 2, NULL, st), KEEL_EINVAL);
    CHECK_ST(keel_get_many(NULL, keys, 2, vals, st), KEEL_EINVAL);
    CHECK_OK(keel_close(s));
    CHECK_ST(keel_get_many(s, keys, 2, vals, st), KEEL_ECLOSED);
    keel_free(s);
}

static void test_read_at(void) {
    keel_store *s;
    REQUIRE_OK(open_mode(h_path("a.keel"), KEEL_OPEN_CREATE, &s));
    uint8_t val[10000];
    pattern_fill(7, val, sizeof val);
    REQUIRE_OK(keel_put(s, "big", 3, val, sizeof val));
    uint8_t buf[4096];
    size_t n = 0;
    CHECK_OK(keel_read_at(s, "big", 3, 0, buf, 100, &n));
    CHECK_EQ(n, 100);
    CHECK_MEM(buf, val, 100);
    CHECK_OK(keel_read_at(s, "big", 3, 9000, buf, sizeof buf, &n));
    CHECK_EQ(n, 1000);
    CHECK_MEM(buf, val + 9000, 1000);
    /* Reassemble in odd-sized chunks. */
    uint8_t back[10000];
    uint64_t off = 0;
    while (off < sizeof back) {
        n = 0;
        keel_status st = keel_read_at(s, "big", 3, off, back + off, 777, &n);
        if (st != KEEL_OK || n == 0) {
            CHECKF(0, "read_at at %llu: %s n=%zu", (unsigned long long)off, st_name(st), n);
            break;
        }
        off += n;
    }
    CHECK_MEM(back, val, sizeof val);
    n = 55;
    CHECK_OK(keel_read_at(s, "big", 3, 10000, buf, sizeof buf, &n));
    CHECK_EQ(n, 0);
    n = 55;
    keel_status st = keel_read_at(s, "big", 3, 20000, buf, sizeof buf, &n);
    CHECKF((st == KEEL_OK && n == 0) || st == KEEL_ERANGE, "past the end: %s n=%zu", st_name(st), n);
    st = keel_read_at(s, "big", 3, UINT64_MAX, buf, sizeof buf, &n);
    CHECKF((st == KEEL_OK && n == 0) || st == KEEL_ERANGE, "offset max: %s n=%zu", st_name(st), n);
    CHECK_OK(keel_read_at(s, "big", 3, 5, buf, 0, &n)); /* cap 0 */
    CHECK_EQ(n, 0);
    CHECK_ST(keel_read_at(s, "small", 5, 0, buf, sizeof buf, &n), KEEL_NOTFOUND);
    CHECK_ST(keel_read_at(s, "big", 3, 0, NULL, 10, &n), KEEL_EINVAL);
    CHECK_ST(keel_read_at(s, "big", 3, 0, buf, 10, NULL), KEEL_EINVAL);
    keel_free(s);
}

static void test_empty_and_zero_values(void) {
    keel_store *s;
    const char *p = h_path("a.keel");
    REQUIRE_OK(open_mode(p, KEEL_OPEN_CREATE, &s));
    CHECK_OK(keel_put(s, "empty", 5, NULL, 0));
    CHECK_OK(keel_put(s, "empty2", 6, "", 0));
    CHECK_OK(keel_put(s, "zero", 4, "\0", 1));
    CHECK_OK(keel_put(s, "", 0, "empty key", 9));

    for (int round = 0; round < 2; round++) {
        keel_view v = { NULL, 99 };
        CHECK_OK(keel_get(s, "empty", 5, &v));
        CHECK_EQ(v.len, 0);
        CHECK(v.data != NULL);
        CHECK_OK(keel_get(s, "empty2", 6, &v));
        CHECK_EQ(v.len, 0);
        CHECK(v.data != NULL);
        CHECK_OK(keel_exists(s, "empty", 5));
        CHECK_OK(keel_get(s, "zero", 4, &v));
        CHECK_EQ(v.len, 1);
        CHECK(v.data && v.data[0] == 0);
        CHECK_VALUE(s, "", 0, "empty key", 9);
        CHECK_VALUE(s, NULL, 0, "empty key", 9); /* NULL with length 0 is fine */
        size_t len = 99;
        char c = 'x';
        CHECK_OK(keel_get_copy(s, "empty", 5, &c, 0, &len));
        CHECK_EQ(len, 0);
        CHECK_OK(keel_get_copy(s, "empty", 5, NULL, 0, &len));
        CHECK_OK(keel_get_copy(s, "zero", 4, &c, 1, &len));
        CHECK_EQ(len, 1);
        CHECK_EQ(c, 0);
        size_t n = 9;
        CHECK_OK(keel_read_at(s, "empty", 5, 0, &c, 1, &n));
        CHECK_EQ(n, 0);
        CHECK_EQ(count_of(s), 4);
        keel_entry e;
        CHECK_OK(keel_get_entry(s, "empty", 5, &e));
        CHECK_EQ(e.flags & KEEL_FLAG_TOMBSTONE, 0);
        CHECK_OK(keel_entry_verify(s, &e));

        keel_free(s);
        REQUIRE_OK(open_mode(p, round ? KEEL_OPEN_READONLY : KEEL_OPEN_EXISTING, &s));
    }

    /* Deleting an empty value is different from holding one. */
    keel_free(s);
    REQUIRE_OK(open_mode(p, KEEL_OPEN_EXISTING, &s));
    CHECK_OK(keel_delete(s, "empty", 5));
    CHECK_ABSENT(s, "empty", 5);
    CHECK_OK(keel_delete(s, "", 0));
    CHECK_ABSENT(s, "", 0);
    CHECK_EQ(count_of(s), 2);
    CHECK_OK(keel_put(s, "", 0, NULL, 0));
    CHECK_VALUE(s, "", 0, "", 0);
    keel_free(s);
    REQUIRE_OK(open_mode(p, KEEL_OPEN_READONLY, &s));
    CHECK_ABSENT(s, "empty", 5);
    CHECK_VALUE(s, "", 0, "", 0);
    CHECK_VALUE(s, "zero", 4, "\0", 1);
    CHECK_EQ(count_of(s), 3);
    CHECK_OK(keel_verify(s, NULL));
    keel_free(s);
}

static void test_key_sizes(void) {
    keel_store *s;
    const char *p = h_path("a.keel");
    REQUIRE_OK(open_mode(p, KEEL_OPEN_CREATE, &s));
    uint8_t *key = malloc(KEEL_MAX_KEY + 2);
    REQUIRE(key != NULL);
    pattern_fill(3, key, KEEL_MAX_KEY + 2);

    CHECK_OK(keel_put(s, key, KEEL_MAX_KEY, "max", 3));
    CHECK_VALUE(s, key, KEEL_MAX_KEY, "max", 3);
    CHECK_ABSENT(s, key, KEEL_MAX_KEY - 1);
    CHECK_OK(keel_put(s, key, KEEL_MAX_KEY - 1, "max-1", 5));

    uint64_t size = fsize_of(s);
    keel_view v;
    size_t n;
    CHECK_ST(keel_put(s, key, KEEL_MAX_KEY + 1, "x", 1), KEEL_EKEYSIZE);
    CHECK_ERRMSG();
    CHECK_ST(keel_get(s, key, KEEL_MAX_KEY + 1, &v), KEEL_EKEYSIZE);
    CHECK_ST(keel_exists(s, key, KEEL_MAX_KEY + 1), KEEL_EKEYSIZE);
    CHECK_ST(keel_delete(s, key, KEEL_MAX_KEY + 1), KEEL_EKEYSIZE);
    CHECK_ST(keel_get_copy(s, key, KEEL_MAX_KEY + 1, &v, sizeof v, &n), KEEL_EKEYSIZE);
    CHECK_ST(keel_read_at(s, key, KEEL_MAX_KEY + 1, 0, &v, sizeof v, &n), KEEL_EKEYSIZE);
    CHECK_ST(keel_rename(s, key, KEEL_MAX_KEY, key, KEEL_MAX_KEY + 1), KEEL_EKEYSIZE);
    CHECK_ST(keel_copy(s, key, KEEL_MAX_KEY, s, key, KEEL_MAX_KEY + 1), KEEL_EKEYSIZE);
    CHECK_ST(keel_put(s, key, (size_t)1 << 40, "x", 1), KEEL_EKEYSIZE);
    keel_kv items[3] = {
        { "a", 1, "1", 1 },
        { key, KEEL_MAX_KEY + 1, "2", 1 },
        { "c", 1, "3", 1 },
    };
    CHECK_ST(keel_put_batch(s, items, 3), KEEL_EKEYSIZE);
    CHECK_ABSENT(s, "a", 1);
    keel_view keys[2] = { { key, KEEL_MAX_KEY }, { key, KEEL_MAX_KEY + 1 } };
    size_t deleted = 77;
    CHECK_ST(keel_delete_batch(s, keys, 2, &deleted), KEEL_EKEYSIZE);
    CHECK_EQ(deleted, 77);
    CHECK_VALUE(s, key, KEEL_MAX_KEY, "max", 3);
    CHECK_EQ(fsize_of(s), size);
    CHECK_EQ(file_size(p), (long long)size);
    CHECK_EQ(count_of(s), 2);

    keel_free(s);
    REQUIRE_OK(open_mode(p, KEEL_OPEN_READONLY, &s));
    CHECK_VALUE(s, key, KEEL_MAX_KEY, "max", 3);
    CHECK_VALUE(s, key, KEEL_MAX_KEY - 1, "max-1", 5);
    CHECK_OK(keel_verify(s, NULL));
    keel_iter *it;
    REQUIRE_OK(keel_iter_new(s, &it));
    CHECK_EQ(keel_iter_len(it), 2);
    keel_view k, vv;
    int seen_max = 0;
    while (keel_iter_next(it, &k, &vv) == KEEL_OK)
        if (k.len == KEEL_MAX_KEY && memcmp(k.data, key, KEEL_MAX_KEY) == 0) seen_max++;
    CHECK_EQ(seen_max, 1);
    keel_iter_free(it);
    keel_free(s);
    free(key);
}

static void test_null_arguments(void) {
    keel_store *s;
    REQUIRE_OK(open_mode(h_path("a.keel"), KEEL_OPEN_CREATE, &s));
    REQUIRE_OK(put_s(s, "k", "v"));
    keel_view v;
    keel_entry e;
    keel_stats stt;
    uint64_t u;
    size_t n;
    char buf[8];

    CHECK_ST(keel_put(NULL, "k", 1, "v", 1), KEEL_EINVAL);
    CHECK_ERRMSG();
    CHECK_ST(keel_put(s, NULL, 1, "v", 1), KEEL_EINVAL);
    CHECK_ERRMSG();
    CHECK_ST(keel_put(s, "k", 1, NULL, 1), KEEL_EINVAL);
    CHECK_ERRMSG();
    CHECK_ST(keel_get(NULL, "k", 1, &v), KEEL_EINVAL);
    CHECK_ST(keel_get(s, NULL, 1, &v), KEEL_EINVAL);
    CHECK_ST(keel_get(s, "k", 1, NULL), KEEL_EINVAL);
    CHECK_ERRMSG();
    CHECK_ST(keel_get_copy(NULL, "k", 1, buf, sizeof buf, &n), KEEL_EINVAL);
    CHECK_ST(keel_read_at(NULL, "k", 1, 0, buf, sizeof buf, &n), KEEL_EINVAL);
    CHECK_ST(keel_exists(NULL, "k", 1), KEEL_EINVAL);
    CHECK_ST(keel_exists(s, NULL, 1), KEEL_EINVAL);
    CHECK_ST(keel_delete(NULL, "k", 1), KEEL_EINVAL);
    CHECK_ST(keel_delete(s, NULL, 1), KEEL_EINVAL);
    CHECK_ST(keel_count(NULL, &u), KEEL_EINVAL);
    CHECK_ST(keel_count(s, NULL), KEEL_EINVAL);
    CHECK_ST(keel_get_entry(NULL, "k", 1, &e), KEEL_EINVAL);
    CHECK_ST(keel_get_entry(s, "k", 1, NULL), KEEL_EINVAL);
    CHECK_ST(keel_entry_verify(NULL, &e), KEEL_EINVAL);
    CHECK_ST(keel_entry_verify(s, NULL), KEEL_EINVAL);
    CHECK_ST(keel_stat(NULL, &stt), KEEL_EINVAL);
    CHECK_ST(keel_stat(s, NULL), KEEL_EINVAL);
    CHECK_ST(keel_file_size(NULL, &u), KEEL_EINVAL);
    CHECK_ST(keel_file_size(s, NULL), KEEL_EINVAL);
    CHECK_ST(keel_sync(NULL), KEEL_EINVAL);
    CHECK_ST(keel_compact(NULL, NULL, NULL), KEEL_EINVAL);
    CHECK_ST(keel_verify(NULL, NULL), KEEL_EINVAL);
    CHECK_ST(keel_refresh(NULL), KEEL_EINVAL);
    CHECK_ST(keel_close(NULL), KEEL_EINVAL);
    CHECK_ST(keel_put_batch(NULL, NULL, 0), KEEL_EINVAL);
    CHECK_ST(keel_put_batch(s, NULL, 2), KEEL_EINVAL);
    keel_kv bad[2] = { { "a", 1, "1", 1 }, { "b", 1, NULL, 5 } };
    CHECK_ST(keel_put_batch(s, bad, 2), KEEL_EINVAL);
    CHECK_ABSENT(s, "a", 1);
    keel_kv bad2[2] = { { "a", 1, "1", 1 }, { NULL, 3, "x", 1 } };
    CHECK_ST(keel_put_batch(s, bad2, 2), KEEL_EINVAL);
    CHECK_ABSENT(s, "a", 1);
    CHECK_ST(keel_delete_batch(NULL, NULL, 0, NULL), KEEL_EINVAL);
    CHECK_ST(keel_delete_batch(s, NULL, 3, NULL), KEEL_EINVAL);
    keel_view badk[2] = { { (const uint8_t *)"k", 1 }, { NULL, 4 } };
    CHECK_ST(keel_delete_batch(s, badk, 2, NULL), KEEL_EINVAL);
    CHECK_VALUE_S(s, "k", "v");
    CHECK_ST(keel_rename(NULL, "k", 1, "j", 1), KEEL_EINVAL);
    CHECK_ST(keel_rename(s, NULL, 1, "j", 1), KEEL_EINVAL);
    CHECK_ST(keel_rename(s, "k", 1, NULL, 1), KEEL_EINVAL);
    CHECK_ST(keel_copy(NULL, "k", 1, s, "j", 1), KEEL_EINVAL);
    CHECK_ST(keel_copy(s, "k", 1, NULL, "j", 1), KEEL_EINVAL);
    CHECK_ST(keel_move(s, "k", 1, NULL, "j", 1), KEEL_EINVAL);
    CHECK_ST(keel_move(NULL, "k", 1, s, "j", 1), KEEL_EINVAL);
    CHECK_VALUE_S(s, "k", "v");
    CHECK_ABSENT(s, "j", 1);
    keel_iter *it;
    CHECK_ST(keel_iter_new(NULL, &it), KEEL_EINVAL);
    CHECK_ST(keel_iter_new(s, NULL), KEEL_EINVAL);
    keel_stream *st;
    CHECK_ST(keel_stream_begin(NULL, &st), KEEL_EINVAL);
    CHECK_ST(keel_stream_begin(s, NULL), KEEL_EINVAL);
    CHECK_ST(keel_stream_write(NULL, "x", 1), KEEL_EINVAL);
    CHECK_ST(keel_stream_commit(NULL, "x", 1), KEEL_EINVAL);
    keel_stream_abort(NULL);
    CHECK_ST(keel_put_stream(s, "k", 1, NULL, NULL), KEEL_EINVAL);
    CHECK_ST(keel_put_stream(NULL, "k", 1, NULL, NULL), KEEL_EINVAL);
    keel_free(NULL);
    CHECK_EQ(count_of(s), 1);
    keel_free(s);
}

static long long zero_reader(void *ctx, void *buf, size_t cap) {
    (void)ctx;
    (void)buf;
    (void)cap;
    return 0;
}

static void test_use_after_close(void) {
    keel_store *s, *d;
    const char *p = h_path("a.keel");
    REQUIRE_OK(open_mode(p, KEEL_OPEN_CREATE, &s));
    REQUIRE_OK(open_mode(h_path("d.keel"), KEEL_OPEN_CREATE, &d));
    REQUIRE_OK(put_s(s, "k", "v"));
    REQUIRE_OK(put_s(d, "dk", "dv"));
    keel_iter *it = NULL;
    CHECK_OK(keel_iter_new(s, &it));
    CHECK_OK(keel_close(s));
    CHECK_OK(keel_close(s)); /* twice is fine */
    long long size = file_size(p);

    keel_view v;
    keel_entry e;
    keel_stats stt;
    uint64_t u;
    size_t n;
    char buf[8];
    keel_kv kv = { "a", 1, "b", 1 };
    keel_view kview = { (const uint8_t *)"k", 1 };
    CHECK_ST(keel_put(s, "k", 1, "w", 1), KEEL_ECLOSED);
    CHECK_ERRMSG();
    CHECK_ST(keel_get(s, "k", 1, &v), KEEL_ECLOSED);
    CHECK_ERRMSG();
    CHECK_ST(keel_get_copy(s, "k", 1, buf, sizeof buf, &n), KEEL_ECLOSED);
    CHECK_ST(keel_read_at(s, "k", 1, 0, buf, sizeof buf, &n), KEEL_ECLOSED);
    CHECK_ST(keel_exists(s, "k", 1), KEEL_ECLOSED);
    CHECK_ST(keel_delete(s, "k", 1), KEEL_ECLOSED);
    CHECK_ST(keel_count(s, &u), KEEL_ECLOSED);
    CHECK_ST(keel_get_entry(s, "k", 1, &e), KEEL_ECLOSED);
    CHECK_ST(keel_stat(s, &stt), KEEL_ECLOSED);
    CHECK_ST(keel_file_size(s, &u), KEEL_ECLOSED);
    CHECK_ST(keel_sync(s), KEEL_ECLOSED);
    CHECK_ST(keel_compact(s, NULL, NULL), KEEL_ECLOSED);
    CHECK_ST(keel_verify(s, NULL), KEEL_ECLOSED);
    CHECK_ST(keel_refresh(s), KEEL_ECLOSED);
    CHECK_ST(keel_put_batch(s, &kv, 1), KEEL_ECLOSED);
    CHECK_ST(keel_delete_batch(s, &kview, 1, NULL), KEEL_ECLOSED);
    CHECK_ST(keel_rename(s, "k", 1, "j", 1), KEEL_ECLOSED);
    CHECK_ST(keel_copy(s, "k", 1, d, "j", 1), KEEL_ECLOSED);
    CHECK_ST(keel_copy(d, "dk", 2, s, "j", 1), KEEL_ECLOSED);
    CHECK_ST(keel_move(d, "dk", 2, s, "j", 1), KEEL_ECLOSED);
    CHECK_VALUE_S(d, "dk", "dv"); /* the failed move did not delete it */
    keel_iter *it2;
    CHECK_ST(keel_iter_new(s, &it2), KEEL_ECLOSED);
    keel_stream *st;
    CHECK_ST(keel_stream_begin(s, &st), KEEL_ECLOSED);
    CHECK_ST(keel_put_stream(s, "k", 1, zero_reader, NULL), KEEL_ECLOSED);
    CHECK_EQ(file_size(p), size);
    keel_iter_free(it); /* freeing an iterator of a closed store is allowed */
    keel_free(s);
    keel_free(d);

    /* keel_free on an open store closes it: the lock is released. */
    REQUIRE_OK(open_mode(p, KEEL_OPEN_EXISTING, &s));
    keel_free(s);
    REQUIRE_OK(open_mode(p, KEEL_OPEN_EXISTING, &s));
    CHECK_VALUE_S(s, "k", "v");
    keel_free(s);
}

static void test_readonly_rejects_writes(void) {
    keel_store *w, *s;
    const char *p = h_path("a.keel");
    REQUIRE_OK(open_mode(p, KEEL_OPEN_CREATE, &w));
    REQUIRE_OK(put_s(w, "k", "v"));
    REQUIRE_OK(put_s(w, "old", "x"));
    REQUIRE_OK(keel_delete(w, "old", 3));
    keel_free(w);
    size_t n0;
    uint8_t *before = read_file(p, &n0);
    REQUIRE(before != NULL);

    REQUIRE_OK(open_mode(p, KEEL_OPEN_READONLY, &s));
    REQUIRE_OK(open_mode(h_path("w.keel"), KEEL_OPEN_CREATE, &w));
    REQUIRE_OK(put_s(w, "wk", "wv"));
    keel_kv kv = { "a", 1, "b", 1 };
    keel_view kview = { (const uint8_t *)"k", 1 };
    CHECK_ST(keel_put(s, "k", 1, "w", 1), KEEL_EREADONLY);
    CHECK_ERRMSG();
    CHECK_ST(keel_put(s, "new", 3, "w", 1), KEEL_EREADONLY);
    CHECK_ST(keel_delete(s, "k", 1), KEEL_EREADONLY);
    CHECK_ST(keel_put_batch(s, &kv, 1), KEEL_EREADONLY);
    CHECK_ST(keel_delete_batch(s, &kview, 1, NULL), KEEL_EREADONLY);
    CHECK_ST(keel_rename(s, "k", 1, "j", 1), KEEL_EREADONLY);
    CHECK_ST(keel_copy(s, "k", 1, s, "j", 1), KEEL_EREADONLY);
    CHECK_ST(keel_copy(w, "wk", 2, s, "j", 1), KEEL_EREADONLY);
    CHECK_ST(keel_move(s, "k", 1, w, "j", 1), KEEL_EREADONLY);
    CHECK_ABSENT(w, "j", 1); /* a move that cannot delete from src must not copy */
    CHECK_ST(keel_compact(s, NULL, NULL), KEEL_EREADONLY);
    keel_stream *st = NULL;
    CHECK_ST(keel_stream_begin(s, &st), KEEL_EREADONLY);
    CHECK_ST(keel_put_stream(s, "k", 1, zero_reader, NULL), KEEL_EREADONLY);
    CHECK_ERRMSG();

    /* Reading works; copying out of a read-only store into a writable one works. */
    CHECK_VALUE_S(s, "k", "v");
    CHECK_ABSENT(s, "old", 3);
    CHECK_EQ(count_of(s), 1);
    CHECK_OK(keel_verify(s, NULL));
    CHECK_OK(keel_refresh(s));
    CHECK_OK(keel_copy(s, "k", 1, w, "copied", 6));
    CHECK_VALUE_S(w, "copied", "v");
    keel_free(s);
    keel_free(w);
    CHECK(file_equals(p, before, n0));
    free(before);
}

static void test_errmsg_and_strerror(void) {
    const keel_status all[] = { KEEL_OK, KEEL_NOTFOUND, KEEL_EINVAL, KEEL_ENOMEM, KEEL_EIO,
                                KEEL_ENOSPC, KEEL_ENOENT, KEEL_EEXIST, KEEL_EFORMAT,
                                KEEL_EVERSION, KEEL_ECORRUPT, KEEL_ELOCKED, KEEL_ECLOSED,
                                KEEL_EREADONLY, KEEL_EKEYSIZE, KEEL_ERANGE, KEEL_EABORTED,
                                KEEL_EBUSY, KEEL_EACCES };
    for (size_t i = 0; i < H_COUNT(all); i++) {
        const char *t = keel_strerror(all[i]);
        CHECK(t != NULL && *t);
        for (size_t j = 0; j < i; j++) CHECK(strcmp(t, keel_strerror(all[j])) != 0);
    }
    CHECK(keel_strerror((keel_status)12345) != NULL);
    CHECK(keel_strerror((keel_status)-999) != NULL);
    CHECK(keel_errmsg() != NULL);
    CHECK(strcmp(keel_version(), KEEL_VERSION_STRING) == 0);

    /* The values never change once released. */
    CHECK_EQ(KEEL_EFORMAT, -7);
    CHECK_EQ(KEEL_EACCES, -17);

    /* Hash and checksum are the documented functions. */
    CHECK_EQ(keel_hash("key1", 4), 0x384d070cd5d829e2ULL);
    CHECK_EQ(keel_crc32c(0, "123456789", 9), 0xE3069283u);
    CHECK_EQ(keel_crc32c(keel_crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
    CHECK_EQ(keel_crc32c(0, NULL, 0), 0);

    /* The detail is per thread and names the problem. */
    keel_store *s;
    keel_status st = open_mode(h_path("missing.keel"), KEEL_OPEN_EXISTING, &s);
    CHECK_EQ(st, KEEL_ENOENT);
    const char *m = keel_errmsg();
    CHECK(m && *m);
    CHECK(m && strstr(m, "missing.keel") != NULL);
}

int main(int argc, char **argv) {
    static const h_test tests[] = {
        H_TEST(test_put_get),
        H_TEST(test_get_many),
        H_TEST(test_read_at),
        H_TEST(test_empty_and_zero_values),
        H_TEST(test_key_sizes),
        H_TEST(test_null_arguments),
        H_TEST(test_use_after_close),
        H_TEST(test_readonly_rejects_writes),
        H_TEST(test_errmsg_and_strerror),
    };
    return h_main(argc, argv, tests, H_COUNT(tests));
}
