/*
 * test_stream.c: streamed writes (keel_stream_begin/write/commit/abort, keel_put_stream).
 *
 * A value assembled from chunks of every size lands byte-identical under its key; an
 * empty stream stores an empty value; a 100 MiB value generated deterministically is
 * streamed in odd-sized chunks and read back through keel_read_at, keel_get and
 * keel_get_copy-free checksums (memory stays low); 20 MiB through keel_stream_write as
 * well. A reader callback that fails midway gives KEEL_EABORTED and leaves no trace (file
 * size, entry count, live count and old value unchanged), as does keel_stream_abort and a
 * commit with a bad key. Streams do not hold the store: other writes and reads proceed
 * between stream calls, several streams can be open at once, and no descriptor leaks.
 * keel_putv stores a value given as many buffers, small or past IOV_MAX.
 */
#include "util.h"

/* A deterministic byte source: the value of (seed) is pattern_byte(seed, i); chunks of
 * varying sizes, optionally failing after `fail_at` bytes. */
typedef struct src {
    uint64_t seed, total, pos;
    uint64_t fail_at; /* UINT64_MAX: never */
    uint32_t crc;
    unsigned calls;
    keel_store *peek;  /* when set, the callback reads from the store meanwhile */
    int peek_errors;
} src;

static long long src_read(void *ctx, void *buf, size_t cap) {
    src *s = ctx;
    s->calls++;
    if (s->peek) {
        keel_view v;
        if (keel_get(s->peek, "other", 5, &v) != KEEL_OK || v.len != 5) s->peek_errors++;
    }
    if (s->pos >= s->fail_at) return -1;
    uint64_t left = s->total - s->pos;
    /* vary the chunk: 1 byte, a prime, up to 1 MiB + 7 */
    size_t want = (size_t)((s->calls * 2654435761u) % ((1u << 20) + 8));
    if (s->calls % 17 == 0) want = 1;
    if (want == 0) want = 4093;
    if (want > cap) want = cap;
    if (want > left) want = (size_t)left;
    if (s->fail_at != UINT64_MAX && s->pos + want > s->fail_at) want = (size_t)(s->fail_at - s->pos);
    uint8_t *p = buf;
    for (size_t i = 0; i < want; i++) p[i] = pattern_byte(s->seed, s->pos + i);
    s->crc = keel_crc32c(s->crc, p, want);
    s->pos += want;
    return (long long)want;
}

/* CRC32C of (seed)'s first n bytes, computed in chunks. */
static uint32_t pattern_crc(uint64_t seed, uint64_t n) {
    static uint8_t buf[1 << 16];
    uint32_t crc = 0;
    for (uint64_t off = 0; off < n; off += sizeof buf) {
        size_t c = n - off < sizeof buf ? (size_t)(n - off) : sizeof buf;
        for (size_t i = 0; i < c; i++) buf[i] = pattern_byte(seed, off + i);
        crc = keel_crc32c(crc, buf, c);
    }
    return crc;
}

typedef struct snapshot {
    uint64_t size, entries, live;
    long long fsize;
} snapshot;

static snapshot snap(keel_store *s, const char *p) {
    keel_stats st;
    memset(&st, 0, sizeof st);
    keel_stat(s, &st);
    snapshot r = { st.file_size, st.entries, st.live_keys, file_size(p) };
    return r;
}

#define CHECK_SNAP_EQ(a, b)                     \
    do {                                        \
        CHECK_EQ((a).size, (b).size);           \
        CHECK_EQ((a).entries, (b).entries);     \
        CHECK_EQ((a).live, (b).live);           \
        CHECK_EQ((a).fsize, (b).fsize);         \
    } while (0)

static void test_stream_small(void) {
    const char *p = h_path("s.keel");
    keel_store *s;
    REQUIRE_OK(open_opts(p, KEEL_OPEN_CREATE, 128, KEEL_SYNC_NONE, 0, &s));
    keel_stream *st;
    REQUIRE_OK(keel_stream_begin(s, &st));
    CHECK_OK(keel_stream_write(st, "hello", 5));
    CHECK_OK(keel_stream_write(st, NULL, 0));
    CHECK_OK(keel_stream_write(st, ", ", 2));
    CHECK_OK(keel_stream_write(st, "world", 5));
    CHECK_OK(keel_stream_commit(st, "greeting", 8));
    CHECK_VALUE_S(s, "greeting", "hello, world");
    keel_view v;
    CHECK_OK(keel_get(s, "greeting", 8, &v));
    CHECK_EQ((uintptr_t)v.data % 128, 0);

    /* Empty stream: empty value. */
    REQUIRE_OK(keel_stream_begin(s, &st));
    CHECK_OK(keel_stream_commit(st, "empty", 5));
    CHECK_VALUE(s, "empty", 5, "", 0);
    /* Zero bytes and a 0x00 byte. */
    REQUIRE_OK(keel_stream_begin(s, &st));
    CHECK_OK(keel_stream_write(st, "\0", 1));
    CHECK_OK(keel_stream_commit(st, "zero", 4));
    CHECK_VALUE(s, "zero", 4, "\0", 1);
    /* Overwrite through a stream; empty key. */
    REQUIRE_OK(keel_stream_begin(s, &st));
    CHECK_OK(keel_stream_write(st, "again", 5));
    CHECK_OK(keel_stream_commit(st, "greeting", 8));
    CHECK_VALUE_S(s, "greeting", "again");
    REQUIRE_OK(keel_stream_begin(s, &st));
    CHECK_OK(keel_stream_write(st, "ek", 2));
    CHECK_OK(keel_stream_commit(st, NULL, 0));
    CHECK_VALUE(s, "", 0, "ek", 2);
    CHECK_EQ(count_of(s), 4);

    /* Bad arguments. */
    REQUIRE_OK(keel_stream_begin(s, &st));
    CHECK_ST(keel_stream_write(st, NULL, 3), KEEL_EINVAL);
    CHECK_OK(keel_stream_write(st, "ok", 2));
    snapshot a = snap(s, p);
    uint8_t *big = calloc(1, KEEL_MAX_KEY + 1);
    REQUIRE(big != NULL);
    CHECK_ST(keel_stream_commit(st, big, KEEL_MAX_KEY + 1), KEEL_EKEYSIZE); /* frees st */
    free(big);
    snapshot b = snap(s, p);
    CHECK_SNAP_EQ(a, b);

    /* keel_put_stream with a callback returning 0 at once: empty value. */
    src z = { 1, 0, 0, UINT64_MAX, 0, 0, NULL, 0 };
    CHECK_OK(keel_put_stream(s, "ps-empty", 8, src_read, &z));
    CHECK_VALUE(s, "ps-empty", 8, "", 0);
    keel_free(s);

    REQUIRE_OK(open_mode(p, KEEL_OPEN_READONLY, &s));
    CHECK_VALUE_S(s, "greeting", "again");
    CHECK_VALUE(s, "zero", 4, "\0", 1);
    CHECK_VALUE(s, "", 0, "ek", 2);
    CHECK_OK(keel_verify(s, NULL));
    keel_free(s);
}

static void test_stream_abort_no_trace(void) {
    const char *p = h_path("s.keel");
    keel_store *s;
    REQUIRE_OK(open_mode(p, KEEL_OPEN_CREATE, &s));
    REQUIRE_OK(put_s(s, "victim", "old value"));
    REQUIRE_OK(put_s(s, "other", "other"));
    int fds0 = open_fd_count();
    snapshot a = snap(s, p);

    /* keel_stream_abort after writing 3 MiB (enough to spill to a temporary file). */
    keel_stream *st;
    REQUIRE_OK(keel_stream_begin(s, &st));
    static uint8_t chunk[1 << 20];
    for (int i = 0; i < 3; i++) {
        pattern_fill((uint64_t)i, chunk, sizeof chunk);
        CHECK_OK(keel_stream_write(st, chunk, sizeof chunk));
    }
    keel_stream_abort(st);
    snapshot b = snap(s, p);
    CHECK_SNAP_EQ(a, b);
    CHECK_VALUE_S(s, "victim", "old value");

    /* The reader fails midway, at several points: EABORTED, no trace. */
    static const uint64_t fail_points[] = { 0, 1, 5000, 1 << 20, (3 << 20) + 17 };
    for (size_t f = 0; f < H_COUNT(fail_points); f++) {
        src c = { 42, 8 << 20, 0, fail_points[f], 0, 0, NULL, 0 };
        CHECK_ST(keel_put_stream(s, "victim", 6, src_read, &c), KEEL_EABORTED);
        CHECK_ERRMSG();
        CHECK_ST(keel_put_stream(s, "newkey", 6, src_read, &(src){ 42, 8 << 20, 0, fail_points[f], 0, 0, NULL, 0 }),
                 KEEL_EABORTED);
        b = snap(s, p);
        CHECK_SNAP_EQ(a, b);
        CHECK_VALUE_S(s, "victim", "old value");
        CHECK_ABSENT(s, "newkey", 6);
    }
    /* Many streams begun and aborted: no descriptor or temporary file left. */
    for (int i = 0; i < 50; i++) {
        REQUIRE_OK(keel_stream_begin(s, &st));
        CHECK_OK(keel_stream_write(st, chunk, sizeof chunk));
        CHECK_OK(keel_stream_write(st, chunk, sizeof chunk));
        keel_stream_abort(st);
    }
    CHECK_EQ(open_fd_count(), fds0);
    char names[1024];
    CHECKF(dir_entries(names, sizeof names) == 1, "files: %s", names);
    keel_free(s);

    /* After reopening, still no trace. */
    REQUIRE_OK(open_mode(p, KEEL_OPEN_READONLY, &s));
    CHECK_VALUE_S(s, "victim", "old value");
    CHECK_ABSENT(s, "newkey", 6);
    CHECK_EQ(count_of(s), 2);
    keel_stats st2;
    CHECK_OK(keel_stat(s, &st2));
    CHECK_EQ(st2.entries, 2);
    keel_free(s);
}

#define BIG ((uint64_t)100 << 20)

static void test_stream_100mib(void) {
    const char *p = h_path("s.keel");
    keel_store *s;
    REQUIRE_OK(open_mode(p, KEEL_OPEN_CREATE, &s));
    REQUIRE_OK(put_s(s, "other", "other"));
    src c = { 2024, BIG, 0, UINT64_MAX, 0, 0, s, 0 };
    double t0 = h_now();
    REQUIRE_OK(keel_put_stream(s, "big", 3, src_read, &c));
    double t1 = h_now();
    CHECK_EQ(c.pos, BIG);
    CHECK_EQ(c.peek_errors, 0); /* reads worked while the stream was being staged */
    uint32_t want = c.crc;
    CHECK_EQ(want, pattern_crc(2024, BIG));

    /* keel_get: one view over the whole value, aligned. */
    keel_view v;
    REQUIRE_OK(keel_get(s, "big", 3, &v));
    CHECK_EQ(v.len, BIG);
    CHECK_EQ((uintptr_t)v.data % 64, 0);
    CHECK_EQ(keel_crc32c(0, v.data, v.len), want);

    /* keel_read_at in odd-sized pieces. */
    static uint8_t buf[(1 << 20) + 7];
    uint32_t crc = 0;
    uint64_t off = 0;
    while (off < BIG) {
        size_t n = 0;
        keel_status st = keel_read_at(s, "big", 3, off, buf, sizeof buf, &n);
        if (st != KEEL_OK || n == 0) {
            CHECKF(0, "read_at %llu: %s, n %zu", (unsigned long long)off, st_name(st), n);
            break;
        }
        crc = keel_crc32c(crc, buf, n);
        off += n;
    }
    CHECK_EQ(off, BIG);
    CHECK_EQ(crc, want);
    /* A few random spots compared byte by byte. */
    rng r = rng_seed(5);
    for (int i = 0; i < 50; i++) {
        uint64_t o = rng_below(&r, BIG - 100);
        size_t n = 0;
        CHECK_OK(keel_read_at(s, "big", 3, o, buf, 100, &n));
        CHECK_EQ(n, 100);
        for (size_t j = 0; j < 100; j++)
            if (buf[j] != pattern_byte(2024, o + j)) {
                CHECKF(0, "byte %llu differs", (unsigned long long)(o + j));
                break;
            }
    }
    /* The tail. */
    size_t n = 0;
    CHECK_OK(keel_read_at(s, "big", 3, BIG - 10, buf, sizeof buf, &n));
    CHECK_EQ(n, 10);

    /* 20 MiB through keel_stream_write, while other writes happen in between. */
    keel_stream *st;
    REQUIRE_OK(keel_stream_begin(s, &st));
    uint32_t crc2 = 0;
    uint64_t written = 0;
    int j = 0;
    while (written < (20u << 20)) {
        size_t len = (size_t)(((unsigned)j * 7919u) % (1u << 20)) + 1;
        if (written + len > (20u << 20)) len = (size_t)((20u << 20) - written);
        for (size_t i = 0; i < len; i++) buf[i] = pattern_byte(77, written + i);
        CHECK_OK(keel_stream_write(st, buf, len));
        crc2 = keel_crc32c(crc2, buf, len);
        written += len;
        if (j % 5 == 0) {
            char k[24];
            snprintf(k, sizeof k, "between%d", j);
            CHECK_OK(put_s(s, k, "x")); /* the stream holds no lock */
        }
        j++;
    }
    CHECK_OK(keel_stream_commit(st, "big2", 4));
    REQUIRE_OK(keel_get(s, "big2", 4, &v));
    CHECK_EQ(v.len, 20u << 20);
    CHECK_EQ(keel_crc32c(0, v.data, v.len), crc2);
    CHECK_VALUE_S(s, "between0", "x");
    keel_free(s);

    /* Reopened. */
    REQUIRE_OK(open_mode(p, KEEL_OPEN_READONLY, &s));
    REQUIRE_OK(keel_get(s, "big", 3, &v));
    CHECK_EQ(v.len, BIG);
    CHECK_EQ(keel_crc32c(0, v.data, v.len), want);
    REQUIRE_OK(keel_get(s, "big2", 4, &v));
    CHECK_EQ(keel_crc32c(0, v.data, v.len), crc2);
    keel_entry e;
    CHECK_OK(keel_get_entry(s, "big", 3, &e));
    CHECK_OK(keel_entry_verify(s, &e));
    CHECK_OK(keel_verify(s, NULL));
    keel_free(s);
    printf("  100 MiB streamed in %.2f s\n", t1 - t0);
}

/* Several streams open at once on one store, committed in another order. */
static void test_concurrent_streams(void) {
    const char *p = h_path("s.keel");
    keel_store *s;
    REQUIRE_OK(open_mode(p, KEEL_OPEN_CREATE, &s));
    enum { N = 5 };
    keel_stream *st[N];
    for (int i = 0; i < N; i++) REQUIRE_OK(keel_stream_begin(s, &st[i]));
    static uint8_t buf[300000];
    for (int round = 0; round < 4; round++)
        for (int i = 0; i < N; i++) {
            size_t len = (size_t)(i + 1) * 15000;
            for (size_t b = 0; b < len; b++) buf[b] = pattern_byte((uint64_t)i, (uint64_t)round * len + b);
            CHECK_OK(keel_stream_write(st[i], buf, len));
        }
    CHECK_OK(put_s(s, "meanwhile", "yes"));
    for (int i = N - 1; i >= 0; i--) {
        char k[24];
        snprintf(k, sizeof k, "stream%d", i);
        if (i == 2) {
            keel_stream_abort(st[i]);
            continue;
        }
        CHECK_OK(keel_stream_commit(st[i], k, strlen(k)));
    }
    for (int i = 0; i < N; i++) {
        char k[16];
        snprintf(k, sizeof k, "stream%d", i);
        if (i == 2) {
            CHECK_ABSENT(s, k, strlen(k));
            continue;
        }
        size_t len = (size_t)(i + 1) * 15000 * 4;
        for (size_t b = 0; b < len; b++) buf[b] = pattern_byte((uint64_t)i, b);
        CHECK_VALUE(s, k, strlen(k), buf, len);
    }
    CHECK_VALUE_S(s, "meanwhile", "yes");
    CHECK_EQ(count_of(s), N);
    keel_free(s);
}

/* A stream begun on a store that is then closed: committing fails cleanly. */
static void test_stream_after_close(void) {
    const char *p = h_path("s.keel");
    keel_store *s;
    REQUIRE_OK(open_mode(p, KEEL_OPEN_CREATE, &s));
    keel_stream *st;
    REQUIRE_OK(keel_stream_begin(s, &st));
    CHECK_OK(keel_stream_write(st, "abc", 3));
    CHECK_OK(keel_close(s));
    CHECK_ST(keel_stream_commit(st, "k", 1), KEEL_ECLOSED);
    keel_free(s);
    REQUIRE_OK(open_mode(p, KEEL_OPEN_READONLY, &s));
    CHECK_EQ(count_of(s), 0);
    keel_free(s);
}

/* keel_putv: a value given as buffers is stored as their concatenation, through the staging
 * buffer (small) and through pwritev with more buffers than IOV_MAX (large), and survives
 * a reopen and verify; bad arguments write nothing. */
static void test_putv(void) {
    const char *p = h_path("v.keel");
    keel_store *s;
    REQUIRE_OK(open_opts(p, KEEL_OPEN_CREATE, 64, KEEL_SYNC_NONE, 0, &s));
    keel_view hello[4] = { { (const uint8_t *)"hel", 3 }, { NULL, 0 },
                           { (const uint8_t *)"lo, ", 4 }, { (const uint8_t *)"world", 5 } };
    CHECK_OK(keel_putv(s, "g", 1, hello, 4));
    CHECK_VALUE_S(s, "g", "hello, world");
    CHECK_OK(keel_putv(s, "none", 4, NULL, 0));
    CHECK_VALUE(s, "none", 4, "", 0);

    /* 3000 parts of 1 KiB (3 MiB, more buffers than one pwritev takes). */
    enum { NP = 3000, PL = 1024 };
    uint8_t *big = malloc((size_t)NP * PL);
    keel_view *parts = malloc(NP * sizeof *parts);
    REQUIRE(big != NULL && parts != NULL);
    pattern_fill(7, big, (size_t)NP * PL);
    for (size_t i = 0; i < NP; i++) parts[i] = (keel_view){ big + i * PL, PL };
    CHECK_OK(keel_putv(s, "big", 3, parts, NP));
    CHECK_VALUE(s, "big", 3, big, (size_t)NP * PL);
    keel_view v;
    CHECK_OK(keel_get(s, "big", 3, &v));
    CHECK_EQ((uintptr_t)v.data % 64, 0);

    /* Bad arguments: nothing written. */
    snapshot a = snap(s, p);
    keel_view bad[2] = { { (const uint8_t *)"x", 1 }, { NULL, 5 } };
    CHECK_ST(keel_putv(s, "bad", 3, bad, 2), KEEL_EINVAL);
    CHECK_ST(keel_putv(s, "bad", 3, NULL, 2), KEEL_EINVAL);
    CHECK_ST(keel_putv(s, NULL, 3, hello, 1), KEEL_EINVAL);
    snapshot b = snap(s, p);
    CHECK_SNAP_EQ(a, b);
    keel_free(s);

    REQUIRE_OK(open_mode(p, KEEL_OPEN_READONLY, &s));
    CHECK_VALUE_S(s, "g", "hello, world");
    CHECK_VALUE(s, "big", 3, big, (size_t)NP * PL);
    CHECK_OK(keel_verify(s, NULL));
    CHECK_ST(keel_putv(s, "ro", 2, hello, 1), KEEL_EREADONLY);
    keel_free(s);
    free(parts);
    free(big);
}

int main(int argc, char **argv) {
    static const h_test tests[] = {
        H_TEST(test_stream_small),
        H_TEST(test_stream_abort_no_trace),
        H_TEST(test_stream_100mib),
        H_TEST(test_concurrent_streams),
        H_TEST(test_stream_after_close),
        H_TEST(test_putv),
    };
    return h_main(argc, argv, tests, H_COUNT(tests));
}
