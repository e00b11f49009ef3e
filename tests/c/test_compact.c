/*
 * test_compact.c: keel_compact.
 *
 * After a history of overwrites, deletes, batches, renames, empty and 0x00 values,
 * compaction keeps every live key's latest value byte-identical and nothing else, in the
 * same (file) order, values still aligned for every alignment; the file shrinks to about
 * its live bytes and the reclaimable estimate drops to ~0; views taken before stay valid
 * and unchanged; the handle keeps reading and writing, and still holds the writer lock
 * (another writable open gets KEEL_ELOCKED); no temporary file is left, a stale
 * "<path>.compact-XXXX" file is removed by the next writable open and never reused (even
 * as a symlink to a victim file); a read-only handle picks the new file up with
 * keel_refresh; the progress callback reports sane numbers, may read the store, and gets
 * KEEL_EBUSY if it tries to write from inside the compaction.
 */
#include "util.h"

#define NK 400

static size_t ckey(int i, char *k) { return (size_t)snprintf(k, 16, "ck%03d", i); }

typedef struct cmodel {
    int len[NK]; /* -1 absent */
    uint8_t *val[NK];
} cmodel;

static void cm_free(cmodel *m) {
    for (int i = 0; i < NK; i++) free(m->val[i]);
}

static void cm_put(keel_store *s, cmodel *m, int i, uint64_t seed, size_t len) {
    char k[16];
    size_t kl = ckey(i, k);
    free(m->val[i]);
    m->val[i] = malloc(len + 1);
    pattern_fill(seed, m->val[i], len);
    if (len == 1) m->val[i][0] = 0;
    m->len[i] = (int)len;
    CHECK_OK(keel_put(s, k, kl, m->val[i], len));
}

static void cm_check_at(int line, keel_store *s, const cmodel *m, uint32_t align) {
    char k[16];
    uint64_t live = 0;
    int before = h_failures();
    for (int i = 0; i < NK && h_failures() - before < 10; i++) {
        size_t kl = ckey(i, k);
        if (m->len[i] < 0) {
            check_value_at(__FILE__, line, s, k, kl, NULL, 0);
            continue;
        }
        live++;
        check_value_at(__FILE__, line, s, k, kl, m->val[i], (size_t)m->len[i]);
        keel_view v;
        if (m->len[i] > 0 && keel_get(s, k, kl, &v) == KEEL_OK && (uintptr_t)v.data % align != 0)
            h_fail(__FILE__, line, "key %d: value not aligned to %u", i, align);
    }
    uint64_t c = count_of(s);
    if (c != live) h_fail(__FILE__, line, "count %llu, want %llu", (unsigned long long)c,
                          (unsigned long long)live);
}
#define CM_CHECK(s, m, a) cm_check_at(__LINE__, s, m, a)

/* A store with a messy history; returns the model. */
static void build(keel_store *s, cmodel *m) {
    rng r = rng_seed(11);
    for (int i = 0; i < NK; i++) m->len[i] = -1, m->val[i] = NULL;
    for (int i = 0; i < NK; i++) cm_put(s, m, i, (uint64_t)i, (size_t)rng_below(&r, 700));
    for (int round = 0; round < 3; round++)
        for (int i = round; i < NK; i += 3) cm_put(s, m, i, 1000u * (unsigned)round + (unsigned)i, (size_t)rng_below(&r, 2000));
    for (int i = 0; i < NK; i += 7) {
        char k[16];
        size_t kl = ckey(i, k);
        CHECK_OK(keel_delete(s, k, kl));
        m->len[i] = -1;
    }
    cm_put(s, m, 7, 1, 0);  /* empty (7 was deleted) */
    cm_put(s, m, 8, 2, 1);  /* single 0x00 */
    cm_put(s, m, 9, 3, 0);
    /* a batch and a rename */
    char k1[16], k2[16];
    size_t l1 = ckey(10, k1), l2 = ckey(11, k2);
    keel_kv kv[2] = { { k1, l1, "batch-a", 7 }, { k2, l2, "batch-b", 7 } };
    CHECK_OK(keel_put_batch(s, kv, 2));
    free(m->val[10]);
    free(m->val[11]);
    m->val[10] = (uint8_t *)strdup("batch-a");
    m->val[11] = (uint8_t *)strdup("batch-b");
    m->len[10] = m->len[11] = 7;
    size_t l3 = ckey(12, k1);
    size_t l4 = ckey(NK - 1, k2);
    CHECK_OK(keel_rename(s, k1, l3, k2, l4));
    free(m->val[NK - 1]);
    m->val[NK - 1] = m->val[12];
    m->len[NK - 1] = m->len[12];
    m->val[12] = NULL;
    m->len[12] = -1;
}

/* Keys of the live entries in iteration (file) order, as a malloc'd array of indices. */
static int *order_of(keel_store *s, size_t *n_out) {
    keel_iter *it;
    if (keel_iter_new(s, &it) != KEEL_OK) return NULL;
    size_t n = keel_iter_len(it);
    int *o = calloc(n + 1, sizeof *o);
    keel_view k, v;
    size_t j = 0;
    while (o && j < n && keel_iter_next(it, &k, &v) == KEEL_OK) {
        char tmp[16] = { 0 };
        memcpy(tmp, k.data, k.len < 15 ? k.len : 15);
        o[j++] = atoi(tmp + 2);
    }
    keel_iter_free(it);
    *n_out = j;
    return o;
}

static void compact_with_alignment(uint32_t align) {
    const char *p = h_path("c.keel");
    keel_store *s;
    REQUIRE_OK(open_opts(p, KEEL_OPEN_NEW, align, KEEL_SYNC_NONE, 0, &s));
    static cmodel m;
    build(s, &m);
    CM_CHECK(s, &m, align);
    keel_stats before, after;
    CHECK_OK(keel_stat(s, &before));
    size_t n1, n2;
    int *ord1 = order_of(s, &n1);
    REQUIRE(ord1 != NULL);
    /* Views taken before compaction, with copies of their bytes. */
    keel_view early[NK];
    for (int i = 0; i < NK; i++) {
        char k[16];
        if (keel_get(s, k, ckey(i, k), &early[i]) != KEEL_OK) early[i].data = NULL;
    }
    uint8_t header_before[64];
    {
        size_t n;
        uint8_t *b = read_file(p, &n);
        REQUIRE(b != NULL);
        memcpy(header_before, b, 64);
        free(b);
    }

    CHECK_OK(keel_compact(s, NULL, NULL));
    CM_CHECK(s, &m, align);
    CHECK_OK(keel_stat(s, &after));
    CHECK_EQ(after.alignment, align);
    CHECK_EQ(after.live_keys, before.live_keys);
    CHECK_EQ(after.entries, after.live_keys);
    CHECK(after.file_size < before.file_size);
    CHECK_EQ(after.file_size, (uint64_t)file_size(p));
    CHECKF(after.reclaimable_bytes <= (uint64_t)after.live_keys * (align > 8 ? align : 8),
           "reclaimable %llu after compaction", (unsigned long long)after.reclaimable_bytes);
    /* The file is about its live bytes: header + live entries + alignment padding. */
    CHECK(after.file_size <= 64 + after.live_bytes + (uint64_t)after.live_keys * align);
    CHECK_OK(keel_verify(s, NULL));
    /* Same order. */
    int *ord2 = order_of(s, &n2);
    REQUIRE(ord2 != NULL);
    CHECK_EQ(n1, n2);
    if (n1 == n2) CHECK(memcmp(ord1, ord2, n1 * sizeof *ord1) == 0);
    free(ord1);
    free(ord2);
    /* Early views unchanged. */
    for (int i = 0; i < NK; i++) {
        if (!early[i].data || m.len[i] < 0) continue;
        CHECK(early[i].len == (size_t)m.len[i] && memcmp(early[i].data, m.val[i], early[i].len) == 0);
    }
    /* A fresh header: same magic and alignment, new file tag. */
    {
        size_t n;
        uint8_t *b = read_file(p, &n);
        REQUIRE(b != NULL);
        CHECK_MEM(b, header_before, 8);
        CHECK_EQ(b[12], header_before[12]);
        CHECK(memcmp(b + 16, header_before + 16, 4) != 0);
        free(b);
    }
    char names[1024];
    CHECKF(dir_entries(names, sizeof names) == 1, "files after compaction: %s", names);

    /* Still the writer. */
    keel_store *other;
    CHECK_ST(open_mode(p, KEEL_OPEN_EXISTING, &other), KEEL_ELOCKED);
    CHECK_ERRMSG();
    /* Reads and writes go on. */
    cm_put(s, &m, 0, 555, 999);
    cm_put(s, &m, 1, 556, 0);
    char k[16];
    size_t kl = ckey(2, k);
    if (m.len[2] >= 0) CHECK_OK(keel_delete(s, k, kl));
    m.len[2] = -1;
    CM_CHECK(s, &m, align);
    /* Compact again (and again with nothing to reclaim). */
    CHECK_OK(keel_compact(s, NULL, NULL));
    CHECK_OK(keel_compact(s, NULL, NULL));
    CM_CHECK(s, &m, align);
    keel_free(s);
    REQUIRE_OK(open_mode(p, KEEL_OPEN_READONLY, &s));
    CM_CHECK(s, &m, align);
    CHECK_OK(keel_verify(s, NULL));
    keel_free(s);
    cm_free(&m);
    memset(&m, 0, sizeof m);
}

static void test_compact_align64(void) { compact_with_alignment(64); }
static void test_compact_align1(void) { compact_with_alignment(1); }
static void test_compact_align4096(void) { compact_with_alignment(4096); }

static void test_compact_empty_and_all_deleted(void) {
    const char *p = h_path("c.keel");
    keel_store *s;
    REQUIRE_OK(open_mode(p, KEEL_OPEN_NEW, &s));
    CHECK_OK(keel_compact(s, NULL, NULL));
    CHECK_EQ(fsize_of(s), 64);
    for (int i = 0; i < 100; i++) {
        char k[16];
        snprintf(k, sizeof k, "d%d", i);
        CHECK_OK(put_s(s, k, "value"));
        CHECK_OK(keel_delete(s, k, strlen(k)));
    }
    CHECK_OK(keel_compact(s, NULL, NULL));
    CHECK_EQ(fsize_of(s), 64);
    CHECK_EQ(file_size(p), 64);
    CHECK_EQ(count_of(s), 0);
    CHECK_OK(put_s(s, "after", "x"));
    keel_free(s);
    REQUIRE_OK(open_mode(p, KEEL_OPEN_READONLY, &s));
    CHECK_VALUE_S(s, "after", "x");
    CHECK_EQ(count_of(s), 1);
    keel_free(s);
}

/* A stale temporary file from a crashed compaction. */
static void test_stale_temp_file(void) {
    /* Own copies: h_path's rotating buffers would not survive the loop below. */
    char p[4200], stale[4200], stale2[4200], unrelated[4200], unrelated2[4200], victim[4200];
    snprintf(p, sizeof p, "%s", h_path("c.keel"));
    snprintf(stale, sizeof stale, "%s", h_path("c.keel.compact-a1b2c3"));
    snprintf(stale2, sizeof stale2, "%s", h_path("c.keel.compact-XXXXXX"));
    snprintf(unrelated, sizeof unrelated, "%s", h_path("c.keel.compactXYZ"));
    snprintf(unrelated2, sizeof unrelated2, "%s", h_path("d.keel.compact-123456"));
    snprintf(victim, sizeof victim, "%s", h_path("victim"));
    keel_store *s;
    REQUIRE_OK(open_mode(p, KEEL_OPEN_NEW, &s));
    for (int i = 0; i < 50; i++) {
        char k[16];
        snprintf(k, sizeof k, "s%d", i);
        CHECK_OK(put_s(s, k, k));
        CHECK_OK(put_s(s, k, k));
    }
    keel_free(s);
    REQUIRE(write_file(stale, "half-written compaction", 23) == 0);
    REQUIRE(write_file(stale2, "another", 7) == 0);
    /* A file that only looks similar is not ours to remove. */
    REQUIRE(write_file(unrelated, "keep", 4) == 0);
    REQUIRE(write_file(unrelated2, "keep", 4) == 0);

    /* A read-only open leaves them; a writable open removes them. */
    REQUIRE_OK(open_mode(p, KEEL_OPEN_READONLY, &s));
    keel_free(s);
    CHECK(file_exists(stale));
    REQUIRE_OK(open_mode(p, KEEL_OPEN_EXISTING, &s));
    CHECK(!file_exists(stale));
    CHECK(!file_exists(stale2));
    CHECK(file_equals(unrelated, "keep", 4));
    CHECK(file_equals(unrelated2, "keep", 4));

    /* Stale names appearing while the store is open are never reused or followed: a
     * symlink pointing at a victim file stays as it is, the victim untouched. */
    REQUIRE(write_file(victim, "precious", 8) == 0);
    char lname[64];
    static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    for (int i = 0; i < 36; i++) {
        /* some with the engine's own 6-character suffix shape */
        snprintf(lname, sizeof lname, "c.keel.compact-%c%c%c%c%c%c", digits[i], digits[i],
                 digits[i], digits[i], digits[i], digits[i]);
        REQUIRE(symlink(victim, h_path(lname)) == 0);
    }
    REQUIRE(write_file(stale, "stale again", 11) == 0);
    CHECK_OK(keel_compact(s, NULL, NULL));
    CHECK(file_equals(victim, "precious", 8));
    CHECK(file_equals(stale, "stale again", 11) || !file_exists(stale));
    for (int i = 0; i < 50; i++) {
        char k[16];
        snprintf(k, sizeof k, "s%d", i);
        CHECK_VALUE_S(s, k, k);
    }
    CHECK_EQ(count_of(s), 50);
    keel_free(s);
    struct stat sb;
    CHECK(lstat(p, &sb) == 0 && S_ISREG(sb.st_mode));
    REQUIRE_OK(open_mode(p, KEEL_OPEN_READONLY, &s));
    CHECK_EQ(count_of(s), 50);
    CHECK_OK(keel_verify(s, NULL));
    keel_free(s);
    CHECK(file_equals(victim, "precious", 8));
}

typedef struct prog_ctx {
    keel_store *s;
    uint64_t last_done, last_total;
    int calls, bad, busy_seen, get_ok;
} prog_ctx;

static void progress(void *ctx, uint64_t done, uint64_t total) {
    prog_ctx *c = ctx;
    c->calls++;
    if (done > total || done < c->last_done || (c->calls > 1 && total != c->last_total)) c->bad++;
    c->last_done = done;
    c->last_total = total;
    if (c->calls == 1) {
        /* Writing from inside the compaction is a conflict on this thread. */
        keel_status st = keel_put(c->s, "inside", 6, "x", 1);
        if (st == KEEL_EBUSY) c->busy_seen = 1;
        else h_fail(__FILE__, __LINE__, "put inside compaction progress: %s", st_name(st));
        /* Reading does not wait. */
        keel_view v;
        if (keel_get(c->s, "k5", 2, &v) == KEEL_OK && v.len == 2) c->get_ok = 1;
    }
}

static void test_progress_and_reentry(void) {
    const char *p = h_path("c.keel");
    keel_store *s;
    REQUIRE_OK(open_mode(p, KEEL_OPEN_NEW, &s));
    uint8_t v[4000];
    for (int i = 0; i < 500; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        pattern_fill((uint64_t)i, v, sizeof v);
        CHECK_OK(keel_put(s, k, strlen(k), v, sizeof v));
        CHECK_OK(put_s(s, k, k));
    }
    prog_ctx c = { s, 0, 0, 0, 0, 0, 0 };
    CHECK_OK(keel_compact(s, progress, &c));
    printf("  progress called %d times, last %llu/%llu\n", c.calls,
           (unsigned long long)c.last_done, (unsigned long long)c.last_total);
    CHECK(c.calls >= 1);
    CHECK_EQ(c.bad, 0);
    CHECK_EQ(c.last_done, c.last_total);
    CHECK(c.busy_seen);
    CHECK(c.get_ok);
    CHECK_ABSENT(s, "inside", 6);
    CHECK_EQ(count_of(s), 500);
    CHECK_VALUE_S(s, "k499", "k499");
    /* After the compaction the thread may write again. */
    CHECK_OK(put_s(s, "after", "ok"));
    keel_free(s);
}

/* A read-only handle on the same file follows the writer's compaction with refresh. */
static void test_refresh_after_compaction(void) {
    const char *p = h_path("c.keel");
    keel_store *w, *r;
    REQUIRE_OK(open_mode(p, KEEL_OPEN_NEW, &w));
    for (int i = 0; i < 200; i++) {
        char k[16];
        snprintf(k, sizeof k, "r%d", i);
        CHECK_OK(put_s(w, k, "first"));
        CHECK_OK(put_s(w, k, k));
    }
    REQUIRE_OK(open_mode(p, KEEL_OPEN_READONLY, &r));
    keel_view early;
    REQUIRE_OK(keel_get(r, "r7", 2, &early));
    CHECK_OK(keel_delete(w, "r0", 2));
    CHECK_OK(keel_compact(w, NULL, NULL));
    CHECK_OK(put_s(w, "new-after-compact", "yes"));
    CHECK_OK(keel_refresh(r));
    CHECK_ABSENT(r, "r0", 2);
    CHECK_VALUE_S(r, "r7", "r7");
    CHECK_VALUE_S(r, "new-after-compact", "yes");
    CHECK_EQ(count_of(r), 200);
    CHECK(early.len == 2 && memcmp(early.data, "r7", 2) == 0);
    CHECK_OK(put_s(w, "later", "1"));
    CHECK_OK(keel_refresh(r));
    CHECK_VALUE_S(r, "later", "1");
    keel_free(w);
    keel_free(r);
}

/* An iterator and an entry description taken before a compaction describe the old file:
 * they must keep giving the old (identical) bytes, not whatever now lies at those offsets
 * in the new file. */
static void test_iterator_and_entry_across_compaction(void) {
    const char *p = h_path("c.keel");
    keel_store *s;
    REQUIRE_OK(open_mode(p, KEEL_OPEN_NEW, &s));
    uint8_t v[600];
    for (int i = 0; i < 300; i++) {
        char k[16];
        snprintf(k, sizeof k, "i%03d", i);
        pattern_fill((uint64_t)i, v, sizeof v);
        CHECK_OK(keel_put(s, k, strlen(k), v, (size_t)(i % 600)));
        if (i % 2) CHECK_OK(keel_put(s, k, strlen(k), v, (size_t)((i * 3) % 600)));
        if (i % 5 == 0) CHECK_OK(keel_delete(s, k, strlen(k)));
    }
    keel_iter *it;
    REQUIRE_OK(keel_iter_new(s, &it));
    size_t n = keel_iter_len(it);
    keel_entry e;
    REQUIRE_OK(keel_get_entry(s, "i299", 4, &e));
    CHECK_OK(keel_compact(s, NULL, NULL));
    CHECK_OK(put_s(s, "after", "compaction"));
    /* The entry from before still verifies. */
    CHECK_OK(keel_entry_verify(s, &e));
    /* The iterator still gives each live key once with its value. */
    size_t seen = 0, bad = 0;
    for (size_t j = 0; j < n; j++) {
        keel_view k, val;
        if (keel_iter_at(it, j, &k, &val) != KEEL_OK) {
            bad++;
            continue;
        }
        char tmp[16] = { 0 };
        if (k.len != 4 || k.data[0] != 'i') {
            bad++;
            continue;
        }
        memcpy(tmp, k.data + 1, 3);
        int i = atoi(tmp);
        size_t len = (size_t)(i % 2 ? (i * 3) % 600 : i % 600);
        pattern_fill((uint64_t)i, v, sizeof v);
        if (val.len != len || memcmp(val.data, v, len) != 0) bad++;
        seen++;
    }
    CHECK_EQ(seen, n);
    CHECKF(bad == 0, "%zu of %zu iterator entries wrong after compaction", bad, n);
    keel_view k, val;
    size_t m = 0;
    while (keel_iter_next(it, &k, &val) == KEEL_OK) m++;
    CHECK_EQ(m, n);
    keel_iter_free(it);
    keel_free(s);
}

int main(int argc, char **argv) {
    static const h_test tests[] = {
        H_TEST(test_compact_align64),
        H_TEST(test_compact_align1),
        H_TEST(test_compact_align4096),
        H_TEST(test_compact_empty_and_all_deleted),
        H_TEST(test_stale_temp_file),
        H_TEST(test_progress_and_reentry),
        H_TEST(test_refresh_after_compaction),
        H_TEST(test_iterator_and_entry_across_compaction),
    };
    return h_main(argc, argv, tests, H_COUNT(tests));
}
