/*
 * test_damage.c: what open and verify do with foreign and damaged files.
 *
 * Foreign files (random bytes, text, a PNG header, a mangled magic) give KEEL_EFORMAT in
 * every mode and stay byte-identical; a damaged header gives KEEL_ECORRUPT, a newer major
 * version KEEL_EVERSION. Bit flips in old entries are found by keel_verify and
 * keel_entry_verify; a broken chain fails the open; a damaged key hash is found. Torn files
 * (cuts at every byte, garbage tails) are in test_recovery.c.
 */
#include "util.h"

/* ---- foreign files ---------------------------------------------------------------------- */

static void expect_refused(const char *p, const uint8_t *data, size_t len, keel_status want,
                           const char *what) {
    static const keel_open_mode modes[] = { KEEL_OPEN_READONLY, KEEL_OPEN_EXISTING,
                                            KEEL_OPEN_CREATE };
    static const char *const mode_names[] = { "read-only", "existing", "create" };
    for (size_t m = 0; m < 3; m++) {
        REQUIRE(write_file(p, data, len) == 0);
        struct stat before;
        REQUIRE(stat(p, &before) == 0);
        keel_store *s = (keel_store *)(uintptr_t)0x1;
        keel_status st = open_mode(p, modes[m], &s);
        CHECKF(st == want, "%s, %s open: got %s, want %s", what, mode_names[m], st_name(st),
               st_name(want));
        if (st == KEEL_OK) keel_free(s);
        else CHECK(s == (keel_store *)(uintptr_t)0x1);
        if (st < 0) CHECK_ERRMSG();
        CHECKF(file_equals(p, data, len), "%s, %s open: the file changed", what, mode_names[m]);
        struct stat after;
        CHECK(stat(p, &after) == 0 && after.st_ino == before.st_ino &&
              after.st_mtim.tv_sec == before.st_mtim.tv_sec &&
              after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);
        char names[1024];
        CHECKF(dir_entries(names, sizeof names) == 1, "%s, %s open: directory holds: %s", what,
               mode_names[m], names);
    }
    keel_store *s;
    keel_status st = open_mode(p, KEEL_OPEN_NEW, &s);
    CHECKF(st == KEEL_EEXIST, "%s, new open: got %s", what, st_name(st));
    if (st == KEEL_OK) keel_free(s);
    CHECK(file_equals(p, data, len));
}

static void test_foreign_files(void) {
    const char *p = h_path("foreign");
    rng r = rng_seed(99);
    uint8_t buf[8192];

    rng_fill(&r, buf, 4096);
    buf[0] = 0x42;
    expect_refused(p, buf, 4096, KEEL_EFORMAT, "random bytes");

    char text[2000] = "";
    for (int i = 0; i < 40; i++) strcat(text, "hello world, this is not a store\n");
    expect_refused(p, (const uint8_t *)text, strlen(text), KEEL_EFORMAT, "a text file");

    static const uint8_t png[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13,
                                   'I', 'H', 'D', 'R', 0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0,
                                   0x1f, 0x15, 0xc4, 0x89, 0, 0, 0, 0, 'I', 'E', 'N', 'D',
                                   0xae, 0x42, 0x60, 0x82 };
    expect_refused(p, png, sizeof png, KEEL_EFORMAT, "a PNG file");
    memset(buf, 0, sizeof buf);
    memcpy(buf, png, sizeof png);
    expect_refused(p, buf, 8192, KEEL_EFORMAT, "a PNG header padded to 8 KiB");

    expect_refused(p, (const uint8_t *)"abc", 3, KEEL_EFORMAT, "three bytes");

    /* Real keel stores with a damaged magic. */
    const char *sp = h_path("real.keel");
    keel_store *s;
    REQUIRE_OK(open_mode(sp, KEEL_OPEN_NEW, &s));
    REQUIRE_OK(put_s(s, "k", "v"));
    keel_free(s);
    size_t n;
    uint8_t *real = read_file(sp, &n);
    REQUIRE(real && n > 64 && n < sizeof buf);
    REQUIRE(unlink(sp) == 0);
    memcpy(buf, real, n);
    buf[0] = 'X';
    expect_refused(p, buf, n, KEEL_EFORMAT, "a store whose magic's first byte changed");
    memcpy(buf, real, n);
    buf[7] ^= 0x20;
    expect_refused(p, buf, n, KEEL_EFORMAT, "a store whose magic's last byte changed");
    /* Text-mode mangling: "\r\n" became "\n". */
    memcpy(buf, real, 5);
    memcpy(buf + 5, real + 6, n - 6);
    expect_refused(p, buf, n - 1, KEEL_EFORMAT, "a store with CRLF turned to LF");
    free(real);
}

/* Write a store image with a changed header and check every open mode refuses it. */
static void header_case(uint8_t *hdr_copy, size_t n, const char *what, keel_status want) {
    const char *p = h_path("hdr.keel");
    expect_refused(p, hdr_copy, n, want, what);
    unlink(p);
}

static void test_damaged_header(void) {
    const char *sp = h_path("real.keel");
    keel_store *s;
    REQUIRE_OK(open_mode(sp, KEEL_OPEN_NEW, &s));
    for (int i = 0; i < 10; i++) {
        char k[8];
        snprintf(k, sizeof k, "h%d", i);
        REQUIRE_OK(put_s(s, k, k));
    }
    keel_free(s);
    size_t n;
    uint8_t *real = read_file(sp, &n);
    REQUIRE(real != NULL && n > 64);
    REQUIRE(unlink(sp) == 0);
    uint8_t *b = malloc(n);
    REQUIRE(b != NULL);

    /* Any bit of bytes 8..63 flipped without fixing the CRC: corrupt. */
    for (int byte = 8; byte < 64; byte += 5) {
        memcpy(b, real, n);
        b[byte] ^= (uint8_t)(1u << (byte % 8));
        char what[64];
        snprintf(what, sizeof what, "header byte %d flipped", byte);
        header_case(b, n, what, KEEL_ECORRUPT);
    }

    /* A newer major version with a valid CRC: refused as such. */
    memcpy(b, real, n);
    keel__st16(b + 8, 2);
    keel__st32(b + 60, keel_crc32c(0, b, 60));
    header_case(b, n, "major version 2", KEEL_EVERSION);
    memcpy(b, real, n);
    keel__st16(b + 8, 0xffff);
    keel__st32(b + 60, keel_crc32c(0, b, 60));
    header_case(b, n, "major version 65535", KEEL_EVERSION);

    /* An alignment beyond 4096 with a valid CRC: a bad field. */
    memcpy(b, real, n);
    b[12] = 13;
    keel__st32(b + 60, keel_crc32c(0, b, 60));
    header_case(b, n, "align_log2 13", KEEL_ECORRUPT);

    /* A newer minor version of our major: accepted, data readable. */
    memcpy(b, real, n);
    keel__st16(b + 10, 7);
    keel__st32(b + 60, keel_crc32c(0, b, 60));
    const char *p = h_path("minor.keel");
    REQUIRE(write_file(p, b, n) == 0);
    REQUIRE_OK(open_mode(p, KEEL_OPEN_READONLY, &s));
    CHECK_VALUE_S(s, "h3", "h3");
    CHECK_EQ(count_of(s), 10);
    keel_stats stt;
    CHECK_OK(keel_stat(s, &stt));
    CHECK_EQ(stt.format_minor, 7);
    keel_free(s);
    CHECK(file_equals(p, b, n));
    free(b);
    free(real);
}

/* ---- damage inside the file ------------------------------------------------------------- */

#define BF_N 50
#define BF_VLEN 500

static void test_bit_flips_found_by_verify(void) {
    const char *p = h_path("bf.keel"), *cp = h_path("flipped.keel");
    keel_store *s;
    REQUIRE_OK(open_mode(p, KEEL_OPEN_NEW, &s));
    static keel_entry ent[BF_N];
    uint8_t v[BF_VLEN];
    char k[8];
    for (int i = 0; i < BF_N; i++) {
        snprintf(k, sizeof k, "bf%02d", i);
        pattern_fill((uint64_t)i, v, BF_VLEN);
        REQUIRE_OK(keel_put(s, k, 4, v, BF_VLEN));
    }
    REQUIRE_OK(put_s(s, "last", "entry"));
    keel_entry last;
    REQUIRE_OK(keel_get_entry(s, "last", 4, &last));
    for (int i = 0; i < BF_N; i++) {
        snprintf(k, sizeof k, "bf%02d", i);
        REQUIRE_OK(keel_get_entry(s, k, 4, &ent[i]));
    }
    keel_verify_report rep;
    CHECK_OK(keel_verify(s, &rep));
    CHECK_EQ(rep.entries_checked, BF_N + 1);
    CHECK_EQ(rep.bad_entries, 0);
    CHECK_EQ(rep.first_bad_offset, 0);
    /* ent[] offsets are copied out; views are not used after close. */
    keel_free(s);
    size_t n;
    uint8_t *orig = read_file(p, &n);
    REQUIRE(orig != NULL);
    uint8_t *b = malloc(n);
    REQUIRE(b != NULL);

    rng r = rng_seed(2024);
    for (int trial = 0; trial < 40; trial++) {
        memcpy(b, orig, n);
        int i = (int)rng_below(&r, BF_N);
        /* where: value bytes, key bytes, or the trailer's crc field */
        int where = trial % 4 == 3 ? 2 : trial % 4 == 2 ? 1 : 0;
        uint64_t off;
        if (where == 0) off = ent[i].value_offset + rng_below(&r, BF_VLEN);
        else if (where == 1) off = ent[i].value_offset + BF_VLEN + rng_below(&r, 4);
        else off = ent[i].entry_end - 4 + rng_below(&r, 4);
        b[off] ^= (uint8_t)(1u << rng_below(&r, 8));
        REQUIRE(write_file(cp, b, n) == 0);
        int fails_before = h_failures();

        keel_status st = open_mode(cp, trial % 2 ? KEEL_OPEN_EXISTING : KEEL_OPEN_READONLY, &s);
        CHECKF(st == KEEL_OK, "flip at %llu: open %s", (unsigned long long)off, st_name(st));
        if (st != KEEL_OK) continue;
        CHECK_VALUE_S(s, "last", "entry");
        memset(&rep, 0xff, sizeof rep);
        CHECK_ST(keel_verify(s, &rep), KEEL_ECORRUPT);
        CHECK_ERRMSG();
        CHECK_EQ(rep.entries_checked, BF_N + 1);
        CHECK_EQ(rep.bad_entries, 1);
        CHECK_EQ(rep.first_bad_offset, ent[i].entry_end);
        if (where == 0) {
            /* The damaged entry is still found through its key; entry_verify sees it. */
            keel_entry e;
            snprintf(k, sizeof k, "bf%02d", i);
            CHECK_OK(keel_get_entry(s, k, 4, &e));
            CHECK_ST(keel_entry_verify(s, &e), KEEL_ECORRUPT);
            CHECK_ERRMSG();
            int other = (i + 1) % BF_N;
            snprintf(k, sizeof k, "bf%02d", other);
            CHECK_OK(keel_get_entry(s, k, 4, &e));
            CHECK_OK(keel_entry_verify(s, &e));
        }
        keel_free(s);
        CHECKF(file_equals(cp, b, n), "flip at %llu: open changed the file", (unsigned long long)off);
        if (h_failures() != fails_before)
            fprintf(stderr, "  (trial %d: bit flip at offset %llu in entry %d, %s)\n", trial,
                    (unsigned long long)off, i, where == 0 ? "value" : where == 1 ? "key" : "crc");
    }

    /* Two damaged entries: both counted; the offset is the newer one's end. */
    memcpy(b, orig, n);
    b[ent[5].value_offset + 10] ^= 0x10;
    b[ent[40].value_offset + 100] ^= 0x01;
    REQUIRE(write_file(cp, b, n) == 0);
    REQUIRE_OK(open_mode(cp, KEEL_OPEN_READONLY, &s));
    CHECK_ST(keel_verify(s, &rep), KEEL_ECORRUPT);
    CHECK_EQ(rep.bad_entries, 2);
    CHECK_EQ(rep.first_bad_offset, ent[40].entry_end);
    CHECK_ST(keel_verify(s, NULL), KEEL_ECORRUPT);
    keel_free(s);

    /* The last entry damaged: it is a torn tail, cut by a writable open. */
    memcpy(b, orig, n);
    REQUIRE(last.entry_end == n);
    b[last.value_offset + 2] ^= 0x04; /* inside the value of "last" */
    REQUIRE(write_file(cp, b, n) == 0);
    REQUIRE_OK(open_mode(cp, KEEL_OPEN_READONLY, &s));
    CHECK_ABSENT(s, "last", 4);
    CHECK_EQ(count_of(s), BF_N);
    CHECK_OK(keel_verify(s, NULL));
    keel_free(s);
    CHECK(file_equals(cp, b, n));
    REQUIRE_OK(open_mode(cp, KEEL_OPEN_EXISTING, &s));
    CHECK_ABSENT(s, "last", 4);
    CHECK_EQ(file_size(cp), (long long)ent[BF_N - 1].entry_end);
    keel_free(s);
    free(b);
    free(orig);
}

/* A broken chain before the tail is corruption: the open fails and changes nothing. */
static void test_broken_chain(void) {
    const char *p = h_path("chain.keel"), *cp = h_path("broken.keel");
    keel_store *s;
    REQUIRE_OK(open_mode(p, KEEL_OPEN_NEW, &s));
    keel_entry e10, e11;
    for (int i = 0; i < 20; i++) {
        char k[8];
        snprintf(k, sizeof k, "c%d", i);
        REQUIRE_OK(keel_put(s, k, strlen(k), k, strlen(k)));
    }
    REQUIRE_OK(keel_get_entry(s, "c10", 3, &e10));
    REQUIRE_OK(keel_get_entry(s, "c11", 3, &e11));
    uint64_t e10_end = e10.entry_end, e11_off = e11.entry_offset;
    keel_free(s);
    size_t n;
    uint8_t *orig = read_file(p, &n);
    REQUIRE(orig != NULL);
    uint8_t *b = malloc(n);
    REQUIRE(b != NULL);

    struct {
        const char *what;
        uint64_t off;
        uint8_t mask;
    } cases[] = {
        { "trailer magic", e10_end - 40 + 30, 0x01 },
        { "trailer prev_end", e10_end - 40 + 8, 0x08 },
        { "trailer value_len", e10_end - 40 + 16, 0x40 },
        { "trailer key_len", e10_end - 40 + 24, 0x40 },
        { "trailer flags", e10_end - 40 + 28, 0x80 },
        { "trailer file_tag", e10_end - 40 + 32, 0x01 },
    };
    for (size_t c = 0; c < H_COUNT(cases); c++) {
        memcpy(b, orig, n);
        b[cases[c].off] ^= cases[c].mask;
        for (int mode = 0; mode < 2; mode++) {
            REQUIRE(write_file(cp, b, n) == 0);
            keel_status st = open_mode(cp, mode ? KEEL_OPEN_EXISTING : KEEL_OPEN_READONLY, &s);
            CHECKF(st == KEEL_ECORRUPT, "%s damaged, %s open: %s", cases[c].what,
                   mode ? "writable" : "read-only", st_name(st));
            if (st == KEEL_OK) keel_free(s);
            else CHECK_ERRMSG();
            CHECKF(file_equals(cp, b, n), "%s damaged: the file changed", cases[c].what);
        }
    }
    /* A zeroed block in the middle: entry c10's trailer and c11's start. */
    memcpy(b, orig, n);
    REQUIRE(e11_off >= e10_end);
    memset(b + e10_end - 40, 0, (size_t)(e11_off - e10_end) + 48);
    REQUIRE(write_file(cp, b, n) == 0);
    CHECK_ST(open_mode(cp, KEEL_OPEN_EXISTING, &s), KEEL_ECORRUPT);
    CHECK(file_equals(cp, b, n));
    free(b);
    free(orig);
}

/* A bit flip in the stored key hash of the newest version of a key (a field open does not
 * check against a CRC) must neither resurrect the older version nor make the key
 * unreachable: the index hashes the key bytes. verify reports the damage and compaction
 * refuses it. */
static void test_damaged_key_hash(void) {
    const char *p = h_path("hash.keel");
    keel_store *s;
    REQUIRE_OK(open_mode(p, KEEL_OPEN_NEW, &s));
    REQUIRE_OK(keel_put(s, "alpha", 5, "first", 5));
    REQUIRE_OK(keel_put(s, "beta", 4, "b", 1));
    REQUIRE_OK(keel_put(s, "alpha", 5, "overwritten", 11));
    REQUIRE_OK(keel_put(s, "gamma", 5, "g", 1));
    keel_entry e;
    REQUIRE_OK(keel_get_entry(s, "alpha", 5, &e));
    uint64_t hash_off = e.entry_end - 40;
    keel_free(s);
    size_t n;
    uint8_t *b = read_file(p, &n);
    REQUIRE(b != NULL);
    b[hash_off + 2] ^= 0x10;
    REQUIRE(write_file(p, b, n) == 0);
    free(b);

    for (int mode = 0; mode < 2; mode++) {
        REQUIRE_OK(open_mode(p, mode ? KEEL_OPEN_EXISTING : KEEL_OPEN_READONLY, &s));
        keel_view v;
        CHECK_ST(keel_get(s, "alpha", 5, &v), KEEL_OK);
        CHECK(v.len == 11 && memcmp(v.data, "overwritten", 11) == 0);
        uint64_t count = 0;
        CHECK_OK(keel_count(s, &count));
        CHECK_EQ(count, 3);
        keel_iter *it;
        REQUIRE_OK(keel_iter_new(s, &it));
        CHECK_EQ(keel_iter_len(it), 3);
        keel_iter_free(it);
        keel_verify_report r;
        CHECK_ST(keel_verify(s, &r), KEEL_ECORRUPT);
        CHECK_EQ(r.bad_entries, 1);
        if (mode) {
            /* The flip also breaks that entry's CRC: compaction refuses to launder it into
             * a fresh checksum and leaves the store as it was. */
            CHECK_ST(keel_compact(s, NULL, NULL), KEEL_ECORRUPT);
            CHECK_ERRMSG();
            CHECK_ST(keel_get(s, "alpha", 5, &v), KEEL_OK);
            CHECK(v.len == 11 && memcmp(v.data, "overwritten", 11) == 0);
        }
        keel_free(s);
    }
}

int main(int argc, char **argv) {
    static const h_test tests[] = {
        H_TEST(test_foreign_files),
        H_TEST(test_damaged_header),
        H_TEST(test_bit_flips_found_by_verify),
        H_TEST(test_broken_chain),
        H_TEST(test_damaged_key_hash),
    };
    return h_main(argc, argv, tests, H_COUNT(tests));
}
