/*
 * test_open.c: opening a store, one behaviour per test.
 *
 * Open modes (create / existing / read-only / new, empty 0-byte files, bad options), the
 * header bytes of a new file, and every alignment from 1 to 4096 (and invalid ones). The
 * operations on an open store are in test_basic.c and test_ops.c.
 */
#include "util.h"

static const uint8_t MAGIC[8] = { 0x89, 'K', 'E', 'E', 'L', '\r', '\n', 0x1a };

/* ---- open modes ---------------------------------------------------------------------- */

static void test_open_modes(void) {
    keel_store *s = NULL;
    const char *p = h_path("a.keel");

    CHECK_ST(open_mode(p, KEEL_OPEN_EXISTING, &s), KEEL_ENOENT);
    CHECK_ERRMSG();
    CHECK(s == NULL);
    CHECK(!file_exists(p));
    CHECK_ST(open_mode(p, KEEL_OPEN_READONLY, &s), KEEL_ENOENT);
    CHECK(!file_exists(p));

    REQUIRE_OK(open_mode(p, KEEL_OPEN_NEW, &s));
    REQUIRE(s != NULL);
    CHECK(file_size(p) >= 64);
    CHECK_OK(put_s(s, "k", "v"));
    CHECK_OK(keel_close(s));
    keel_free(s);
    s = NULL;

    keel_store *s2 = NULL;
    CHECK_ST(open_mode(p, KEEL_OPEN_NEW, &s2), KEEL_EEXIST);
    CHECK_ERRMSG();
    CHECK(s2 == NULL);

    REQUIRE_OK(open_mode(p, KEEL_OPEN_EXISTING, &s));
    CHECK_VALUE_S(s, "k", "v");
    keel_free(s);

    REQUIRE_OK(open_mode(p, KEEL_OPEN_CREATE, &s));
    CHECK_VALUE_S(s, "k", "v");
    keel_free(s);

    REQUIRE_OK(open_mode(p, KEEL_OPEN_READONLY, &s));
    CHECK_VALUE_S(s, "k", "v");
    keel_stats st;
    CHECK_OK(keel_stat(s, &st));
    CHECK_EQ(st.read_only, 1);
    keel_free(s);

    /* NULL options: create with defaults. */
    const char *p2 = h_path("b.keel");
    REQUIRE_OK(keel_open(p2, NULL, &s));
    CHECK_OK(keel_stat(s, &st));
    CHECK_EQ(st.alignment, 64);
    CHECK_EQ(st.read_only, 0);
    CHECK_EQ(st.sync, KEEL_SYNC_NONE);
    CHECK_EQ(st.format_major, KEEL_FORMAT_MAJOR);
    CHECK_EQ(st.format_minor, KEEL_FORMAT_MINOR);
    CHECK_EQ(st.live_keys, 0);
    CHECK_EQ(st.entries, 0);
    CHECK_EQ(st.file_size, 64);
    keel_free(s);

    /* The file does not exist and its directory neither. */
    CHECK(open_mode(h_path("nodir/c.keel"), KEEL_OPEN_CREATE, &s) < 0);
    CHECK_ERRMSG();
}

static void test_open_empty_file(void) {
    keel_store *s = NULL;
    const char *p = h_path("empty.keel");
    REQUIRE(write_file(p, "", 0) == 0);

    /* Read-only never modifies: an empty file is not a store it can use. */
    keel_status st = open_mode(p, KEEL_OPEN_READONLY, &s);
    CHECKF(st < 0, "read-only open of a 0-byte file returned %s", st_name(st));
    if (st == KEEL_OK) keel_free(s);
    s = NULL;
    CHECK_EQ(file_size(p), 0);

    CHECK_ST(open_mode(p, KEEL_OPEN_NEW, &s), KEEL_EEXIST);
    CHECK_EQ(file_size(p), 0);

    /* Writable modes initialise it in place. */
    REQUIRE_OK(open_mode(p, KEEL_OPEN_EXISTING, &s));
    CHECK_EQ(file_size(p), 64);
    CHECK_OK(put_s(s, "x", "1"));
    keel_free(s);
    REQUIRE_OK(open_mode(p, KEEL_OPEN_READONLY, &s));
    CHECK_VALUE_S(s, "x", "1");
    keel_free(s);

    const char *p2 = h_path("empty2.keel");
    REQUIRE(write_file(p2, "", 0) == 0);
    REQUIRE_OK(open_opts(p2, KEEL_OPEN_CREATE, 256, KEEL_SYNC_NONE, 0, &s));
    keel_stats stt;
    CHECK_OK(keel_stat(s, &stt));
    CHECK_EQ(stt.alignment, 256);
    keel_free(s);
}

static void test_open_bad_options(void) {
    keel_store *s = (keel_store *)(uintptr_t)0x1;
    keel_options o = KEEL_OPTIONS_INIT;
    const char *p = h_path("a.keel");

    CHECK_ST(keel_open(NULL, NULL, &s), KEEL_EINVAL);
    CHECK_ERRMSG();
    CHECK_ST(keel_open(p, NULL, NULL), KEEL_EINVAL);
    CHECK(!file_exists(p));

    o.mode = (keel_open_mode)7;
    CHECK_ST(keel_open(p, &o, &s), KEEL_EINVAL);
    CHECK_ERRMSG();
    o = (keel_options)KEEL_OPTIONS_INIT;
    o.sync = (keel_sync_mode)9;
    CHECK_ST(keel_open(p, &o, &s), KEEL_EINVAL);
    o = (keel_options)KEEL_OPTIONS_INIT;
    static const uint32_t bad_align[] = { 3, 5, 6, 48, 100, 8192, 65536, 0x80000000u, 4097 };
    for (size_t i = 0; i < H_COUNT(bad_align); i++) {
        o.alignment = bad_align[i];
        keel_status st = keel_open(p, &o, &s);
        CHECKF(st == KEEL_EINVAL, "alignment %u: got %s", bad_align[i], st_name(st));
        CHECK_ERRMSG();
    }
    CHECK(!file_exists(p));
    /* Output untouched on failure. */
    CHECK(s == (keel_store *)(uintptr_t)0x1);
}

/* The bytes of a new file's header are the ones FORMAT.md describes. */
static void test_header_bytes(void) {
    keel_store *s;
    const char *p = h_path("h.keel");
    REQUIRE_OK(open_opts(p, KEEL_OPEN_NEW, 512, KEEL_SYNC_NONE, 0, &s));
    keel_free(s);
    size_t n = 0;
    uint8_t *b = read_file(p, &n);
    REQUIRE(b != NULL);
    CHECK_EQ(n, 64);
    if (n >= 64) {
        CHECK_MEM(b, MAGIC, 8);
        CHECK_EQ(b[8] | b[9] << 8, 1);  /* major */
        CHECK_EQ(b[10] | b[11] << 8, 0); /* minor */
        CHECK_EQ(b[12], 9);              /* log2(512) */
        CHECK_EQ(b[13] | b[14] | b[15], 0);
        uint32_t tag = (uint32_t)b[16] | (uint32_t)b[17] << 8 | (uint32_t)b[18] << 16 |
                       (uint32_t)b[19] << 24;
        CHECK(tag != 0);
        for (int i = 20; i < 24; i++) CHECK_EQ(b[i], 0);
        for (int i = 32; i < 60; i++) CHECK_EQ(b[i], 0);
        uint64_t created = 0;
        for (int i = 7; i >= 0; i--) created = created << 8 | b[24 + i];
        uint64_t now = (uint64_t)time(NULL);
        CHECK(created + 60 >= now && created <= now + 60);
        uint32_t crc = (uint32_t)b[60] | (uint32_t)b[61] << 8 | (uint32_t)b[62] << 16 |
                       (uint32_t)b[63] << 24;
        CHECK_EQ(crc, keel_crc32c(0, b, 60));
    }
    free(b);

    /* Two new stores get different file tags (random, non-zero). */
    const char *p2 = h_path("h2.keel");
    REQUIRE_OK(open_mode(p2, KEEL_OPEN_NEW, &s));
    keel_free(s);
    uint8_t *b1 = read_file(p, &n), *b2 = read_file(p2, &n);
    REQUIRE(b1 && b2);
    CHECK(memcmp(b1 + 16, b2 + 16, 4) != 0);
    free(b1);
    free(b2);

    /* The entry layout: value on the boundary, key after it, trailer on a multiple of 8. */
    REQUIRE_OK(open_mode(p2, KEEL_OPEN_EXISTING, &s));
    CHECK_OK(keel_put(s, "key1", 4, "hello", 5));
    keel_entry e;
    REQUIRE_OK(keel_get_entry(s, "key1", 4, &e));
    CHECK_EQ(e.entry_offset, 64);
    CHECK_EQ(e.value_offset, 64);
    CHECK_EQ(e.entry_end, 64 + 16 + 40); /* round_up(5 + 4, 8) + 40 */
    CHECK_EQ(e.key_hash, 0x384d070cd5d829e2ULL);
    CHECK_EQ(e.flags, 0);
    keel_free(s);
    b = read_file(p2, &n);
    REQUIRE(b != NULL);
    CHECK_EQ(n, 64 + 16 + 40);
    if (n == 120) {
        CHECK_MEM(b + 64, "hellokey1", 9);
        for (int i = 73; i < 80; i++) CHECK_EQ(b[i], 0);
        const uint8_t *t = b + 80;
        CHECK_EQ(keel__ld64(t), 0x384d070cd5d829e2ULL);
        CHECK_EQ(keel__ld64(t + 8), 64);   /* prev_end */
        CHECK_EQ(keel__ld64(t + 16), 5);   /* value_len */
        CHECK_EQ(keel__ld32(t + 24), 4);   /* key_len */
        CHECK_EQ(keel__ld16(t + 28), 0);   /* flags */
        CHECK_EQ(keel__ld16(t + 30), 0x546B);
        CHECK_MEM(t + 32, b + 16, 4);      /* file_tag */
        uint32_t crc = keel_crc32c(0, "hello", 5);
        crc = keel_crc32c(crc, "key1", 4);
        crc = keel_crc32c(crc, t, 36);
        CHECK_EQ(keel__ld32(t + 36), crc);
        CHECK_EQ(e.checksum, crc);
    }
    free(b);
}

/* ---- alignment ----------------------------------------------------------------------- */

static void test_alignment(void) {
    const size_t sizes[] = { 1, 3, 8, 63, 64, 65, 100, 4095, 4096, 5000 };
    for (uint32_t log2 = 0; log2 <= 12; log2++) {
        uint32_t a = 1u << log2;
        char name[32];
        snprintf(name, sizeof name, "a%u.keel", a);
        const char *p = h_path(name);
        keel_store *s;
        REQUIRE_OK(open_opts(p, KEEL_OPEN_NEW, a, KEEL_SYNC_NONE, 0, &s));
        uint8_t *val = malloc(5000);
        REQUIRE(val != NULL);
        for (size_t i = 0; i < H_COUNT(sizes); i++) {
            char key[16];
            snprintf(key, sizeof key, "k%zu", i);
            pattern_fill(i, val, sizes[i]);
            /* an odd key length in between to shift the next entry */
            CHECK_OK(keel_put(s, key, strlen(key), val, sizes[i]));
            CHECK_OK(keel_put(s, "odd", 3, val, i));
        }
        for (int pass = 0; pass < 2; pass++) {
            keel_stats stt;
            CHECK_OK(keel_stat(s, &stt));
            CHECK_EQ(stt.alignment, a);
            for (size_t i = 0; i < H_COUNT(sizes); i++) {
                char key[16];
                snprintf(key, sizeof key, "k%zu", i);
                pattern_fill(i, val, sizes[i]);
                keel_view v;
                CHECK_OK(keel_get(s, key, strlen(key), &v));
                CHECK_EQ(v.len, sizes[i]);
                CHECK_MEM(v.data, val, sizes[i]);
                CHECKF((uintptr_t)v.data % a == 0, "alignment %u: value %p", a, (void *)v.data);
                keel_entry e;
                CHECK_OK(keel_get_entry(s, key, strlen(key), &e));
                CHECK_EQ(e.value_offset % a, 0);
                CHECK_EQ(e.entry_end % 8, 0);
            }
            keel_free(s);
            /* Reopen asking for another alignment: the file keeps its own. */
            REQUIRE_OK(open_opts(p, KEEL_OPEN_EXISTING, a == 64 ? 128 : 64, KEEL_SYNC_NONE, 0, &s));
        }
        CHECK_OK(keel_verify(s, NULL));
        keel_free(s);
        size_t n;
        uint8_t *b = read_file(p, &n);
        REQUIRE(b != NULL);
        CHECK_EQ(b[12], log2);
        free(b);
        free(val);
    }
}

int main(int argc, char **argv) {
    static const h_test tests[] = {
        H_TEST(test_open_modes),
        H_TEST(test_open_empty_file),
        H_TEST(test_open_bad_options),
        H_TEST(test_header_bytes),
        H_TEST(test_alignment),
    };
    return h_main(argc, argv, tests, H_COUNT(tests));
}
