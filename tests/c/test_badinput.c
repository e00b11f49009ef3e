/*
 * test_badinput.c: the C API against integer mistakes (issue 16, item 8).
 *
 * The audit of every public entry point looked for counts whose size computation could
 * wrap, caller structs whose numbers are used to form addresses, values silently cut to
 * fit, and 0 taken as "default" where a caller could mean 0. What it found is tested here:
 * batch counts so large that n * item size wraps (refused before anything is read or
 * allocated), a keel_entry whose offsets do not describe an entry, too many worker
 * threads (refused, no longer silently cut to 1024), the new recovery calls' bad
 * arguments, and the documented zero defaults that remain (alignment 0 is 64, chunk_size
 * 0 is 1 MiB: a store cannot have alignment 0 nor a chunk 0 bytes, so no caller means 0).
 */
#include "util.h"

#include "keel_records.h"

static void test_batch_counts_that_wrap(void) {
    keel_store *s;
    REQUIRE_OK(open_mode(h_path("w.keel"), KEEL_OPEN_CREATE, &s));
    keel_kv one = {"k", 1, "v", 1};
    /* n * sizeof(item) wraps to a small number: before the fix, a tiny allocation was
     * filled with n items. The call must refuse without reading past `one`. */
    size_t n = SIZE_MAX / sizeof(keel_append_item) + 2;
    CHECK_ST(keel_put_batch(s, &one, n), KEEL_EINVAL);
    CHECK_ERRMSG();
    keel_view key = {(const uint8_t *)"k", 1};
    size_t deleted = 7;
    CHECK_ST(keel_delete_batch(s, &key, n, &deleted), KEEL_EINVAL);
    CHECK(deleted == 7);
    CHECK_ST(keel_put_batch(s, &one, SIZE_MAX), KEEL_EINVAL);
    CHECK_OK(keel_put_batch(s, &one, 1));
    CHECK_VALUE_S(s, "k", "v");
    keel_free(s);
}

static void test_entry_verify_with_forged_numbers(void) {
    keel_store *s;
    REQUIRE_OK(open_mode(h_path("e.keel"), KEEL_OPEN_CREATE, &s));
    REQUIRE_OK(put_s(s, "key", "value"));
    keel_entry e;
    REQUIRE_OK(keel_get_entry(s, "key", 3, &e));
    CHECK_OK(keel_entry_verify(s, &e));
    keel_entry bad = e;
    bad.entry_end = bad.value_offset;  /* end - 40 - value_offset would wrap */
    CHECK_ST(keel_entry_verify(s, &bad), KEEL_EINVAL);
    bad = e;
    bad.value_offset = UINT64_MAX;
    CHECK_ST(keel_entry_verify(s, &bad), KEEL_EINVAL);
    bad = e;
    bad.key.len = (size_t)KEEL_MAX_KEY + 1;
    CHECK_ST(keel_entry_verify(s, &bad), KEEL_EINVAL);
    bad = e;
    bad.value.data = NULL;
    CHECK_ST(keel_entry_verify(s, &bad), KEEL_EINVAL);
    keel_free(s);
}

static void test_recovery_calls_bad_arguments(void) {
    keel_store *s;
    keel_recovery r;
    CHECK_ST(keel_recovery_info(NULL, &r), KEEL_EINVAL);
    REQUIRE_OK(open_mode(h_path("r.keel"), KEEL_OPEN_CREATE, &s));
    CHECK_ST(keel_recovery_info(s, NULL), KEEL_EINVAL);
    CHECK_OK(keel_recovery_info(s, &r));
    CHECK(r.kind == KEEL_RECOVERY_NONE && r.cut_bytes == 0 && r.detail && !r.detail[0]);
    keel_free(s);
    CHECK_ST(keel_repair(NULL, NULL, &s), KEEL_EINVAL);
    CHECK_ST(keel_repair(h_path("r.keel"), NULL, NULL), KEEL_EINVAL);
    CHECK_ST(keel_repair(h_path("absent.keel"), NULL, &s), KEEL_ENOENT);
    CHECK(!file_exists(h_path("absent.keel")));
    CHECK_ST(keel_rec_writer_recovery(NULL, &r), KEEL_EINVAL);
}

static void test_worker_threads_not_cut(void) {
    keel_rec_mtwriter_options o;
    memset(&o, 0, sizeof o);
    o.dir = h_dir;
    o.worker_threads = 5000;
    keel_rec_mtwriter *w = NULL;
    CHECK_ST(keel_rec_mtwriter_open(&o, &w), KEEL_EINVAL);
    CHECK(strstr(keel_errmsg(), "worker_threads") != NULL);
    o.worker_threads = 2;
    REQUIRE_OK(keel_rec_mtwriter_open(&o, &w));
    CHECK_OK(keel_rec_mtwriter_close(w));
    keel_rec_mtreader_options ro;
    memset(&ro, 0, sizeof ro);
    const char *paths[1] = {h_path("x")};
    ro.paths = paths;
    ro.npaths = SIZE_MAX;
    keel_rec_mtreader *r = NULL;
    CHECK_ST(keel_rec_mtreader_open(&ro, &r), KEEL_EINVAL);
}

/* The zero defaults that remain are documented and cannot hide a meant 0. */
static void test_documented_zero_defaults(void) {
    keel_options o = KEEL_OPTIONS_INIT;
    o.alignment = 0;
    keel_store *s;
    REQUIRE_OK(keel_open(h_path("z.keel"), &o, &s));
    keel_stats st;
    REQUIRE_OK(keel_stat(s, &st));
    CHECK_EQ(st.alignment, 64);
    keel_free(s);
    o.mode = KEEL_OPEN_NEW;
    o.alignment = 3;
    CHECK_ST(keel_open(h_path("y.keel"), &o, &s), KEEL_EINVAL);
    o.alignment = UINT32_MAX;
    CHECK_ST(keel_open(h_path("y.keel"), &o, &s), KEEL_EINVAL);
    CHECK(!file_exists(h_path("y.keel")));
}

int main(int argc, char **argv) {
    static const h_test tests[] = {
        H_TEST(test_batch_counts_that_wrap),
        H_TEST(test_entry_verify_with_forged_numbers),
        H_TEST(test_recovery_calls_bad_arguments),
        H_TEST(test_worker_threads_not_cut),
        H_TEST(test_documented_zero_defaults),
    };
    return h_main(argc, argv, tests, H_COUNT(tests));
}
