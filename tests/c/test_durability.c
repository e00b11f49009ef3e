/*
 * test_durability.c: the sync modes and keel_sync.
 *
 * Every write kind works in KEEL_SYNC_NONE, KEEL_SYNC_DATA and KEEL_SYNC_FULL and the data
 * is there after reopening; keel_stat reports the mode. Fault injection on KEEL_OS_SYNC
 * shows who calls fsync: nobody on a SYNC_NONE write, exactly one call per write call in
 * the DATA and FULL modes (a batch of many entries costs one, a rename one, a stream commit
 * one), and keel_sync always does. A sync mode is a property of the handle: the same file
 * reopened in another mode behaves in that mode.
 */
#include "util.h"

static long long one_chunk(void *ctx, void *buf, size_t cap) {
    int *done = ctx;
    if (*done || cap < 5) return 0;
    memcpy(buf, "chunk", 5);
    *done = 1;
    return 5;
}

/* Perform one write of each kind; returns the number that failed. */
static int write_each_kind(keel_store *s, int round) {
    int failed = 0;
    char k[32];
    snprintf(k, sizeof k, "put%d", round);
    failed += keel_put(s, k, strlen(k), "v", 1) != KEEL_OK;
    keel_kv items[50];
    char keys[50][32];
    for (int i = 0; i < 50; i++) {
        snprintf(keys[i], sizeof keys[i], "batch%d-%d", round, i);
        items[i] = (keel_kv){ keys[i], strlen(keys[i]), "b", 1 };
    }
    failed += keel_put_batch(s, items, 50) != KEEL_OK;
    snprintf(k, sizeof k, "batch%d-0", round);
    failed += keel_delete(s, k, strlen(k)) != KEEL_OK;
    keel_view dk[2] = { { (const uint8_t *)keys[1], strlen(keys[1]) },
                        { (const uint8_t *)keys[2], strlen(keys[2]) } };
    failed += keel_delete_batch(s, dk, 2, NULL) != KEEL_OK;
    char k2[32];
    snprintf(k2, sizeof k2, "renamed%d", round);
    failed += keel_rename(s, keys[3], strlen(keys[3]), k2, strlen(k2)) != KEEL_OK;
    keel_stream *st;
    if (keel_stream_begin(s, &st) == KEEL_OK) {
        keel_stream_write(st, "streamed", 8);
        snprintf(k, sizeof k, "stream%d", round);
        failed += keel_stream_commit(st, k, strlen(k)) != KEEL_OK;
    } else {
        failed++;
    }
    int done = 0;
    snprintf(k, sizeof k, "ps%d", round);
    failed += keel_put_stream(s, k, strlen(k), one_chunk, &done) != KEEL_OK;
    return failed;
}

static void check_round(keel_store *s, int round) {
    char k[32];
    snprintf(k, sizeof k, "put%d", round);
    CHECK_VALUE_S(s, k, "v");
    snprintf(k, sizeof k, "batch%d-49", round);
    CHECK_VALUE_S(s, k, "b");
    snprintf(k, sizeof k, "batch%d-0", round);
    CHECK_ABSENT(s, k, strlen(k));
    snprintf(k, sizeof k, "batch%d-2", round);
    CHECK_ABSENT(s, k, strlen(k));
    snprintf(k, sizeof k, "renamed%d", round);
    CHECK_VALUE_S(s, k, "b");
    snprintf(k, sizeof k, "stream%d", round);
    CHECK_VALUE_S(s, k, "streamed");
    snprintf(k, sizeof k, "ps%d", round);
    CHECK_VALUE_S(s, k, "chunk");
}

#define KINDS 7 /* write calls made by write_each_kind */

static void test_modes_work(void) {
    const char *p = h_path("d.keel");
    static const keel_sync_mode modes[] = { KEEL_SYNC_NONE, KEEL_SYNC_DATA, KEEL_SYNC_FULL };
    for (int m = 0; m < 3; m++) {
        keel_store *s;
        REQUIRE_OK(open_opts(p, KEEL_OPEN_CREATE, 0, modes[m], 0, &s));
        keel_stats st;
        CHECK_OK(keel_stat(s, &st));
        CHECK_EQ(st.sync, modes[m]);
        CHECK_EQ(write_each_kind(s, m), 0);
        CHECK_OK(keel_sync(s));
        CHECK_OK(keel_compact(s, NULL, NULL));
        check_round(s, m);
        keel_free(s);
        REQUIRE_OK(open_mode(p, KEEL_OPEN_READONLY, &s));
        for (int r = 0; r <= m; r++) check_round(s, r);
        CHECK_EQ(count_of(s), (uint64_t)(m + 1) * (1 + 50 - 3 + 2));
        keel_free(s);
    }
}

/* How many sync calls a write makes, found with fault injection: arm the fault at skip k,
 * and see whether the call fails. */
static int syncs_of(keel_store *s, int round, int which) {
    for (unsigned skip = 0; skip < 8; skip++) {
        if (which < 2) keel__fault_inject(KEEL_OS_SYNC, skip, KEEL_FAULT_EIO, false);
        char k[32];
        keel_status st = KEEL_EINVAL;
        snprintf(k, sizeof k, "c%d-%u", round, skip);
        if (which == 0) {
            st = keel_put(s, k, strlen(k), "v", 1);
        } else if (which == 1) {
            keel_kv items[20];
            char keys[20][40];
            for (int i = 0; i < 20; i++) {
                snprintf(keys[i], sizeof keys[i], "%s-%d", k, i);
                items[i] = (keel_kv){ keys[i], strlen(keys[i]), "b", 1 };
            }
            st = keel_put_batch(s, items, 20);
        } else if (which == 2) {
            if (put_s(s, k, "r") != KEEL_OK) return -1;
            keel__fault_inject(KEEL_OS_SYNC, skip, KEEL_FAULT_EIO, false);
            st = keel_rename(s, k, strlen(k), "renamed", 7);
        } else if (which == 3) {
            keel_stream *stm;
            if (keel_stream_begin(s, &stm) != KEEL_OK) return -1;
            keel_stream_write(stm, "data", 4);
            keel__fault_inject(KEEL_OS_SYNC, skip, KEEL_FAULT_EIO, false);
            st = keel_stream_commit(stm, k, strlen(k));
        }
        keel__fault_clear();
        if (st == KEEL_OK) return (int)skip;
        if (st != KEEL_EIO) return -2;
    }
    return 99;
}

static void test_sync_counts(void) {
    const char *p = h_path("d.keel");
    static const keel_sync_mode modes[] = { KEEL_SYNC_NONE, KEEL_SYNC_DATA, KEEL_SYNC_FULL };
    static const char *const what[] = { "put", "batch of 20", "rename", "stream commit" };
    for (int m = 0; m < 3; m++) {
        unlink(p);
        keel_store *s;
        REQUIRE_OK(open_opts(p, KEEL_OPEN_NEW, 0, modes[m], 0, &s));
        for (int which = 0; which < 4; which++) {
            int n = syncs_of(s, m, which);
            int want = modes[m] == KEEL_SYNC_NONE ? 0 : 1;
            CHECKF(n == want, "mode %d, %s: %d sync calls, want %d", (int)modes[m], what[which], n, want);
        }
        /* keel_sync always syncs. */
        keel__fault_inject(KEEL_OS_SYNC, 0, KEEL_FAULT_EIO, false);
        CHECK_ST(keel_sync(s), KEEL_EIO);
        keel__fault_clear();
        CHECK_OK(keel_sync(s));
        keel_free(s);
    }
}

/* The mode belongs to the handle, not to the file. */
static void test_mode_per_handle(void) {
    const char *p = h_path("d.keel");
    keel_store *s;
    REQUIRE_OK(open_opts(p, KEEL_OPEN_NEW, 0, KEEL_SYNC_FULL, 0, &s));
    CHECK_OK(put_s(s, "a", "1"));
    keel_free(s);
    REQUIRE_OK(open_opts(p, KEEL_OPEN_EXISTING, 0, KEEL_SYNC_NONE, 0, &s));
    keel_stats st;
    CHECK_OK(keel_stat(s, &st));
    CHECK_EQ(st.sync, KEEL_SYNC_NONE);
    keel__fault_inject(KEEL_OS_SYNC, 0, KEEL_FAULT_EIO, true);
    CHECK_OK(put_s(s, "b", "2"));
    keel__fault_clear();
    keel_free(s);
    REQUIRE_OK(open_opts(p, KEEL_OPEN_EXISTING, 0, KEEL_SYNC_DATA, 0, &s));
    keel__fault_inject(KEEL_OS_SYNC, 0, KEEL_FAULT_EIO, true);
    CHECK_ST(put_s(s, "c", "3"), KEEL_EIO);
    keel__fault_clear();
    CHECK_ABSENT(s, "c", 1);
    CHECK_VALUE_S(s, "a", "1");
    CHECK_VALUE_S(s, "b", "2");
    keel_free(s);
}

/* Creating a store syncs the file and its directory: a failing sync fails the create. */
static void test_create_syncs(void) {
    const char *p = h_path("d.keel");
    keel_store *s;
    keel__fault_inject(KEEL_OS_SYNC, 0, KEEL_FAULT_EIO, true);
    keel_status st = open_opts(p, KEEL_OPEN_NEW, 0, KEEL_SYNC_NONE, 0, &s);
    keel__fault_clear();
    CHECKF(st == KEEL_EIO, "create with failing fsync: %s", st_name(st));
    if (st == KEEL_OK) keel_free(s);
    /* And after compaction's rename the directory is synced too: with the first sync
     * allowed and every later one failing, compaction cannot report success. */
    REQUIRE_OK(open_opts(p, KEEL_OPEN_CREATE, 0, KEEL_SYNC_NONE, 0, &s));
    CHECK_OK(put_s(s, "a", "1"));
    CHECK_OK(put_s(s, "a", "2"));
    keel__fault_inject(KEEL_OS_SYNC, 1, KEEL_FAULT_EIO, true);
    st = keel_compact(s, NULL, NULL);
    keel__fault_clear();
    CHECKF(st == KEEL_EIO, "compaction with a failing directory fsync: %s", st_name(st));
    CHECK_VALUE_S(s, "a", "2");
    CHECK_OK(put_s(s, "b", "3"));
    keel_free(s);
    REQUIRE_OK(open_mode(p, KEEL_OPEN_READONLY, &s));
    CHECK_VALUE_S(s, "a", "2");
    CHECK_VALUE_S(s, "b", "3");
    keel_free(s);
}

int main(int argc, char **argv) {
    static const h_test tests[] = {
        H_TEST(test_modes_work),
        H_TEST(test_sync_counts),
        H_TEST(test_mode_per_handle),
        H_TEST(test_create_syncs),
    };
    return h_main(argc, argv, tests, H_COUNT(tests));
}
