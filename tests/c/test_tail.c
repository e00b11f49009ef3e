/*
 * test_tail.c: what recovery does with the tail of a store (issue 16, defects 3 and 4).
 *
 * Files are edited the way a power loss or a bit flip leaves them: a bit flipped in the
 * newest synced entry, an entry cut short, a batch whose commit entry reached the disk
 * while a page in its middle reads as zeros, and damage just below the last append that
 * does not look like a torn write. Every case checks that the open keeps every intact
 * older entry, that whatever it cuts is saved byte for byte in the side file it names,
 * and that keel_recovery_info says what was found. keel_repair cuts what an open refuses.
 * The checks that need the report are under KEEL_HAS_RECOVERY_INFO, so that the rest of
 * this file also runs against the library before those calls existed (and fails there).
 */
#include "util.h"

/* The one "<name>.recovered-*" file in the test directory, or "" (and a failure if more
 * than one). */
static void find_saved(const char *name, char *out, size_t cap) {
    out[0] = 0;
    DIR *d = opendir(h_dir);
    if (!d) return;
    struct dirent *de;
    char prefix[256];
    snprintf(prefix, sizeof prefix, "%s.recovered-", name);
    int n = 0;
    while ((de = readdir(d)) != NULL)
        if (strncmp(de->d_name, prefix, strlen(prefix)) == 0) {
            snprintf(out, cap, "%s/%s", h_dir, de->d_name);
            n++;
        }
    closedir(d);
    CHECKF(n <= 1, "%d saved tails of %s", n, name);
}

/* The bytes [from, to) of `orig` were cut from `path` and saved beside it. */
static void check_saved(const char *path, const char *name, const uint8_t *orig, uint64_t from,
                        uint64_t to) {
    CHECK_EQ(file_size(path), (long long)from);
    char saved[4400];
    find_saved(name, saved, sizeof saved);
    CHECKF(saved[0] != 0, "no side file keeps the %llu bytes cut from %s",
           (unsigned long long)(to - from), name);
    if (saved[0]) CHECK(file_equals(saved, orig + from, (size_t)(to - from)));
}

static void check_report(keel_store *s, int kind, uint64_t valid_end, uint64_t cut_bytes, int cut) {
#ifdef KEEL_HAS_RECOVERY_INFO
    keel_recovery r;
    REQUIRE_OK(keel_recovery_info(s, &r));
    CHECKF((int)r.kind == kind, "kind %d, want %d (%s)", (int)r.kind, kind, r.detail);
    CHECK_EQ(r.valid_end, valid_end);
    CHECK_EQ(r.cut_bytes, cut_bytes);
    CHECK_EQ(r.cut, cut);
    if (cut) {
        REQUIRE(r.saved_path != NULL);
        CHECK(strstr(r.detail, r.saved_path) != NULL);
        CHECK(file_size(r.saved_path) == (long long)cut_bytes);
    } else {
        CHECK(r.saved_path == NULL);
    }
    CHECK(kind == 0 ? r.detail[0] == 0 : r.detail[0] != 0);
#else
    (void)s, (void)kind, (void)valid_end, (void)cut_bytes, (void)cut;
#endif
}

enum { NONE = 0, TORN = 1, GROUP = 2, CHECKSUM = 3, BROKEN_GROUP = 4, REPAIRED = 5 };

static keel_status open_sync(const char *p, keel_open_mode mode, uint32_t align, keel_store **s) {
    keel_options o = KEEL_OPTIONS_INIT;
    o.mode = mode;
    o.sync = KEEL_SYNC_DATA;
    o.alignment = align;
    return keel_open(p, &o, s);
}

/* Defect 3: a bit flip in the newest synced, acknowledged entry used to be cut silently. */
static void test_flip_in_newest_entry_is_saved_and_reported(void) {
    const char *p = h_path("f.keel");
    keel_store *s;
    REQUIRE_OK(open_sync(p, KEEL_OPEN_NEW, 64, &s));
    REQUIRE_OK(put_s(s, "a", "first"));
    REQUIRE_OK(put_s(s, "b", "second"));
    uint64_t b_end = fsize_of(s);
    REQUIRE_OK(put_s(s, "c", "third, synced and acknowledged"));
    keel_entry e;
    REQUIRE_OK(keel_get_entry(s, "c", 1, &e));
    uint64_t flip = e.value_offset + 3, end = e.entry_end;
    keel_free(s);
    size_t n;
    uint8_t *orig = read_file(p, &n);
    REQUIRE(orig && n == end);
    orig[flip] ^= 0x10;
    REQUIRE(write_file(p, orig, n) == 0);

    /* Read-only: nothing cut, nothing saved, but reported. */
    REQUIRE_OK(open_mode(p, KEEL_OPEN_READONLY, &s));
    CHECK_ABSENT(s, "c", 1);
    check_report(s, CHECKSUM, b_end, end - b_end, 0);
    keel_free(s);
    CHECK(file_equals(p, orig, n));

    REQUIRE_OK(open_mode(p, KEEL_OPEN_EXISTING, &s));
    CHECK_VALUE_S(s, "a", "first");
    CHECK_VALUE_S(s, "b", "second");
    CHECK_ABSENT(s, "c", 1);
    check_report(s, CHECKSUM, b_end, end - b_end, 1);
    keel_free(s);
    check_saved(p, "f.keel", orig, b_end, end);

    /* The next open finds nothing to recover. */
    REQUIRE_OK(open_mode(p, KEEL_OPEN_EXISTING, &s));
    check_report(s, NONE, b_end, 0, 0);
    keel_free(s);
    free(orig);
}

/* A torn write (the entry is incomplete) is told from a complete entry failing its
 * checksum. */
static void test_torn_write_is_not_a_checksum_failure(void) {
    const char *p = h_path("t.keel");
    keel_store *s;
    REQUIRE_OK(open_sync(p, KEEL_OPEN_NEW, 64, &s));
    REQUIRE_OK(put_s(s, "a", "first"));
    uint64_t a_end = fsize_of(s);
    REQUIRE_OK(put_s(s, "b", "an entry that will be torn in two"));
    uint64_t b_end = fsize_of(s);
    keel_free(s);
    size_t n;
    uint8_t *orig = read_file(p, &n);
    REQUIRE(orig && n == b_end);
    uint64_t half = a_end + (b_end - a_end) / 2;
    REQUIRE(truncate(p, (off_t)half) == 0);
    REQUIRE_OK(open_mode(p, KEEL_OPEN_EXISTING, &s));
    CHECK_VALUE_S(s, "a", "first");
    CHECK_ABSENT(s, "b", 1);
    check_report(s, TORN, a_end, half - a_end, 1);
    keel_free(s);
    check_saved(p, "t.keel", orig, a_end, half);
    free(orig);
}

/* Defect 4: a batch whose commit entry reached the disk but whose middle page reads as
 * zeros made the open fail with "broken chain". Alignment 4096 puts each value on its own
 * page and each key and trailer at the start of the next, so one zeroed page holds exactly
 * the middle entry's trailer. */
static void test_batch_torn_in_its_middle(void) {
    const char *p = h_path("b.keel");
    keel_store *s;
    REQUIRE_OK(open_sync(p, KEEL_OPEN_NEW, 4096, &s));
    REQUIRE_OK(put_s(s, "before", "kept"));
    uint64_t before_end = fsize_of(s);
    static uint8_t v[3][4096];
    keel_kv kv[3];
    for (int i = 0; i < 3; i++) {
        memset(v[i], 'x' + i, sizeof v[i]);
        static const char *keys[] = {"k0", "k1", "k2"};
        kv[i] = (keel_kv){keys[i], 2, v[i], sizeof v[i]};
    }
    REQUIRE_OK(keel_put_batch(s, kv, 3));
    keel_entry mid, last;
    REQUIRE_OK(keel_get_entry(s, "k1", 2, &mid));
    REQUIRE_OK(keel_get_entry(s, "k2", 2, &last));
    uint64_t mid_page = (mid.entry_end - 1) & ~(uint64_t)4095, end = last.entry_end;
    REQUIRE(mid_page + 4096 <= last.value_offset);  /* the page holds nothing of k2 */
    keel_free(s);
    size_t n;
    uint8_t *orig = read_file(p, &n);
    REQUIRE(orig && n == end);
    uint8_t *b = malloc(n);
    REQUIRE(b);
    memcpy(b, orig, n);
    memset(b + mid_page, 0, 4096);
    REQUIRE(write_file(p, b, n) == 0);

    keel_status st = open_mode(p, KEEL_OPEN_EXISTING, &s);
    CHECKF(st == KEEL_OK, "open: %s: %s", st_name(st), keel_errmsg());
    if (st == KEEL_OK) {
        CHECK_VALUE_S(s, "before", "kept");
        CHECK_ABSENT(s, "k0", 2);  /* all or nothing */
        CHECK_ABSENT(s, "k1", 2);
        CHECK_ABSENT(s, "k2", 2);
        check_report(s, BROKEN_GROUP, before_end, end - before_end, 1);
        CHECK_OK(keel_verify(s, NULL));
        keel_free(s);
        check_saved(p, "b.keel", b, before_end, end);
    }
    free(b);
    free(orig);
}

/* Damage just below the last append that does not look like a torn page is not the last
 * append's: the open refuses and leaves the file alone, and keel_repair cuts from the last
 * intact entry below it, saving what it removes. */
static void test_repair_cuts_damage_open_refuses(void) {
    const char *p = h_path("r.keel");
    keel_store *s;
    REQUIRE_OK(open_sync(p, KEEL_OPEN_NEW, 64, &s));
    for (int i = 0; i < 6; i++) {
        char k[8];
        snprintf(k, sizeof k, "r%d", i);
        REQUIRE_OK(put_s(s, k, k));
    }
    keel_entry e3, e4;
    REQUIRE_OK(keel_get_entry(s, "r3", 2, &e3));
    REQUIRE_OK(keel_get_entry(s, "r4", 2, &e4));
    uint64_t end = fsize_of(s), e3_end = e3.entry_end, e4_end = e4.entry_end;
    keel_free(s);
    size_t n;
    uint8_t *b = read_file(p, &n);
    REQUIRE(b && n == end);
    b[e4_end - 40 + 30] ^= 0x01;  /* r4's trailer magic: r5's chain breaks right below it */
    REQUIRE(write_file(p, b, n) == 0);
    CHECK_ST(open_mode(p, KEEL_OPEN_EXISTING, &s), KEEL_ECORRUPT);
    CHECK(strstr(keel_errmsg(), "repair") != NULL);
    CHECK(file_equals(p, b, n));
#ifdef KEEL_HAS_RECOVERY_INFO
    CHECK_ST(keel_repair(p, &(keel_options){KEEL_OPEN_READONLY, 0, 0, 0}, &s), KEEL_EINVAL);
    REQUIRE_OK(keel_repair(p, NULL, &s));
    for (int i = 0; i < 4; i++) {
        char k[8];
        snprintf(k, sizeof k, "r%d", i);
        CHECK_VALUE_S(s, k, k);
    }
    CHECK_ABSENT(s, "r4", 2);
    CHECK_ABSENT(s, "r5", 2);
    check_report(s, REPAIRED, e3_end, end - e3_end, 1);
    keel_free(s);
    check_saved(p, "r.keel", b, e3_end, end);
    /* Repairing a sound store changes nothing. */
    REQUIRE_OK(keel_repair(p, NULL, &s));
    check_report(s, NONE, e3_end, 0, 0);
    keel_free(s);
    CHECK_EQ(file_size(p), (long long)e3_end);
#else
    (void)e3_end;
#endif
    free(b);
}

/* When the side file cannot be written, nothing is cut. */
static void test_no_cut_without_a_saved_copy(void) {
    const char *p = h_path("n.keel");
    keel_store *s;
    REQUIRE_OK(open_sync(p, KEEL_OPEN_NEW, 64, &s));
    REQUIRE_OK(put_s(s, "a", "1"));
    keel_free(s);
    REQUIRE(append_file(p, "torn tail", 9) == 0);
    size_t n;
    uint8_t *b = read_file(p, &n);
    REQUIRE(b);
    keel__fault_inject(KEEL_OS_SYNC, 0, KEEL_FAULT_ENOSPC, true);
    CHECK_ST(open_mode(p, KEEL_OPEN_EXISTING, &s), KEEL_ENOSPC);
    keel__fault_clear();
    CHECK(strstr(keel_errmsg(), "not modified") != NULL);
    CHECK(file_equals(p, b, n));
    char saved[4400];
    find_saved("n.keel", saved, sizeof saved);
    CHECK(saved[0] == 0);
    free(b);
}

int main(int argc, char **argv) {
    static const h_test tests[] = {
        H_TEST(test_flip_in_newest_entry_is_saved_and_reported),
        H_TEST(test_torn_write_is_not_a_checksum_failure),
        H_TEST(test_batch_torn_in_its_middle),
        H_TEST(test_repair_cuts_damage_open_refuses),
        H_TEST(test_no_cut_without_a_saved_copy),
    };
    return h_main(argc, argv, tests, H_COUNT(tests));
}
