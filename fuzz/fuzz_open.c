/*
 * fuzz_open.c: libFuzzer target for the one input surface that takes untrusted bytes, a
 * store file. The input is written to a file and opened as a keel store.
 *
 * For every input:
 *   1. read-only open (twice: normal index, and with test_hash_mask forcing collisions).
 *      It must never modify the file. When it succeeds, every read call is exercised:
 *      stat, count, iteration (next and at), get, get_copy, read_at, exists, get_entry,
 *      entry_verify, verify. Both opens must see the same live entries.
 *   2. writable open. A failure with EFORMAT, EVERSION or ECORRUPT must leave the file
 *      byte-for-byte untouched; a success may only cut a torn tail (the file becomes a
 *      prefix of the input), must keep the cut bytes in the side file its recovery report
 *      names, and must see what the read-only open saw.
 *   3. put, batch put and delete on the recovered store, close, reopen read-only: the
 *      writes must be there and the count must add up.
 *   4. writable reopen and compaction: the live entries (in file order) are unchanged and
 *      the compacted file verifies.
 * Any broken promise aborts, so libFuzzer reports it like a crash; AddressSanitizer,
 * UndefinedBehaviorSanitizer and LeakSanitizer catch the rest. A file descriptor left open
 * or a stray file left in the work directory (a compaction temporary; recovery's side
 * files are meant to stay) also aborts.
 *
 * In libFuzzer builds a custom mutator repairs checksums after mutating, so the fuzzer
 * gets past the CRCs into the structure behind them (see fix_checksums).
 *
 * The work directory is under /dev/shm when available (fsync costs nothing there), else
 * $TMPDIR or /tmp; each input gets its own, removed when the input is done.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "keel.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char g_dir[512];
static char g_path[600];

#define CHECK(cond, ...)                                                                      \
    do {                                                                                      \
        if (!(cond)) fail_check(#cond, __LINE__, __VA_ARGS__);                                \
    } while (0)

/* A promise about the stored data that holds only for an intact file. keel_open reads
 * the checksums of the last group only (docs/FORMAT.md), so damage inside older entries
 * (a flipped bit in a stored key hash, say) is found by keel_verify, not by open; on such
 * a file lookups may legitimately disagree with iteration. These checks run when
 * keel_verify says the store is intact, or always with KEEL_FUZZ_STRICT=1 in the
 * environment. Memory safety, leaks and the file-untouched promises are checked always. */
#define CHECK_DATA(intact, cond, ...)                                                         \
    do {                                                                                      \
        if ((intact) || g_strict) CHECK(cond, __VA_ARGS__);                                   \
    } while (0)

static bool g_strict;

static void fail_check(const char *cond, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));
static void fail_check(const char *cond, int line, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "\nfuzz_open.c:%d: broken promise: %s\n  ", line, cond);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n  keel_errmsg: %s\n", keel_errmsg());
    abort();
}

static void cleanup_dir(bool remove_dir) {
    DIR *d = opendir(g_dir);
    if (d) {
        struct dirent *e;
        char p[1200];
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            snprintf(p, sizeof p, "%s/%s", g_dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    if (remove_dir) rmdir(g_dir);
}

static void at_exit_cleanup(void) {
    if (g_dir[0]) cleanup_dir(true);
}

/* Each input gets a fresh directory, removed when the input is done: libFuzzer leaves with
 * _Exit (no atexit) when its time is up, and a crash leaves the crashing input's file. */
static void setup(void) {
    if (g_dir[0]) return;
    const char *base = "/dev/shm";
    if (access(base, W_OK) != 0) {
        base = getenv("TMPDIR");
        if (!base || !*base) base = "/tmp";
    }
    snprintf(g_dir, sizeof g_dir, "%s/keel-fuzz-XXXXXX", base);
    if (!mkdtemp(g_dir)) {
        fprintf(stderr, "fuzz_open: mkdtemp %s: %s\n", g_dir, strerror(errno));
        abort();
    }
    snprintf(g_path, sizeof g_path, "%s/store.keel", g_dir);
    static bool once;
    if (!once) {
        once = true;
        const char *strict = getenv("KEEL_FUZZ_STRICT");
        g_strict = strict && *strict && strcmp(strict, "0") != 0;
        atexit(at_exit_cleanup);
    }
}

static void teardown(void) {
    cleanup_dir(true);
    g_dir[0] = 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    return 0;
}

/* ---- files ----------------------------------------------------------------------------- */

static void write_file(const char *path, const uint8_t *data, size_t size) {
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) abort();
    size_t done = 0;
    while (done < size) {
        ssize_t w = write(fd, data + done, size - done);
        if (w <= 0) abort();
        done += (size_t)w;
    }
    close(fd);
}

/* The file's bytes (malloc'd; *len_out = 0 and NULL when absent or empty). */
static uint8_t *read_file(const char *path, size_t *len_out) {
    *len_out = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size == 0) {
        close(fd);
        return NULL;
    }
    uint8_t *buf = malloc((size_t)st.st_size);
    if (!buf) abort();
    size_t done = 0;
    while (done < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + done, (size_t)st.st_size - done);
        if (r <= 0) break;
        done += (size_t)r;
    }
    close(fd);
    *len_out = done;
    return buf;
}

static bool file_equals(const char *path, const uint8_t *data, size_t size) {
    size_t len;
    uint8_t *b = read_file(path, &len);
    bool eq = len == size && (size == 0 || memcmp(b, data, size) == 0);
    free(b);
    return eq;
}

static bool file_is_prefix_of(const char *path, const uint8_t *data, size_t size) {
    size_t len;
    uint8_t *b = read_file(path, &len);
    bool ok = len <= size && (len == 0 || memcmp(b, data, len) == 0);
    free(b);
    return ok;
}

/* Lowest free descriptor number: if a call leaks a descriptor it usually moves. */
static int lowest_free_fd(void) {
    int fd = dup(0);
    if (fd >= 0) close(fd);
    return fd;
}

/* ---- exercising an open store ---------------------------------------------------------- */

typedef struct summary {
    uint64_t count;     /* keel_count */
    uint64_t entries;   /* iterated */
    uint32_t digest;    /* CRC32C over (key_len, key, value_len, value) in iteration order */
    bool intact;        /* keel_verify found no damage */
    bool have_first;
    uint8_t first_key[64];
    size_t first_key_len;
} summary;

static const uint8_t probe_key[] = "fuzz-probe-key";
static const uint8_t probe_val[] = "fuzz-probe-value";

static uint32_t digest_add(uint32_t crc, keel_view k, keel_view v) {
    uint64_t kl = k.len, vl = v.len;
    crc = keel_crc32c(crc, &kl, sizeof kl);
    crc = keel_crc32c(crc, k.data, k.len);
    crc = keel_crc32c(crc, &vl, sizeof vl);
    return keel_crc32c(crc, v.data, v.len);
}

static void exercise(keel_store *s, summary *sum) {
    memset(sum, 0, sizeof *sum);
    keel_verify_report rep;
    keel_status rc = keel_verify(s, &rep);
    CHECK(rc == KEEL_OK || rc == KEEL_ECORRUPT, "verify: %d", (int)rc);
    CHECK((rc == KEEL_OK) == (rep.bad_entries == 0), "verify status %d with %llu bad entries",
          (int)rc, (unsigned long long)rep.bad_entries);
    const bool intact = sum->intact = rc == KEEL_OK;

    keel_stats st;
    uint64_t fsize = 0;
    CHECK(keel_stat(s, &st) == KEEL_OK, "keel_stat failed on an open store");
    CHECK(keel_file_size(s, &fsize) == KEEL_OK, "keel_file_size failed");
    CHECK(fsize == st.file_size, "file_size %llu != stat.file_size %llu",
          (unsigned long long)fsize, (unsigned long long)st.file_size);
    CHECK(keel_count(s, &sum->count) == KEEL_OK, "keel_count failed");
    CHECK(sum->count == st.live_keys, "count %llu != stat.live_keys %llu",
          (unsigned long long)sum->count, (unsigned long long)st.live_keys);
    CHECK(st.alignment >= 1 && st.alignment <= 4096 && (st.alignment & (st.alignment - 1)) == 0,
          "alignment %u", st.alignment);

    keel_iter *it = NULL;
    CHECK(keel_iter_new(s, &it) == KEEL_OK, "keel_iter_new failed");
    size_t len = keel_iter_len(it);
    CHECK(len == sum->count, "iter_len %zu != count %llu", len, (unsigned long long)sum->count);

    keel_view k, v;
    size_t i = 0;
    while ((rc = keel_iter_next(it, &k, &v)) == KEEL_OK) {
        CHECK(i < len, "iter_next returned more than iter_len (%zu) entries", len);
        CHECK(k.data != NULL && v.data != NULL, "NULL data in an iterated view");
        keel_view k2, v2;
        CHECK(keel_iter_at(it, i, &k2, &v2) == KEEL_OK, "iter_at(%zu) failed", i);
        CHECK(k2.len == k.len && v2.len == v.len && !memcmp(k2.data, k.data, k.len) &&
                  !memcmp(v2.data, v.data, v.len),
              "iter_at(%zu) differs from iter_next", i);
        sum->digest = digest_add(sum->digest, k, v);
        if (v.len)
            CHECK(((uintptr_t)v.data & (st.alignment - 1)) == 0,
                  "value of entry %zu not aligned to %u", i, st.alignment);
        if (i == 0 && k.len <= sizeof sum->first_key) {
            sum->have_first = true;
            sum->first_key_len = k.len;
            memcpy(sum->first_key, k.data, k.len);
        }
        if (i < 32) {
            /* The iterated value is the live one: every lookup path must agree. */
            keel_view g = {NULL, 0};
            rc = keel_get(s, k.data, k.len, &g);
            CHECK_DATA(intact, rc == KEEL_OK, "get of iterated key %zu: %d", i, (int)rc);
            CHECK_DATA(intact, rc != KEEL_OK || (g.len == v.len && !memcmp(g.data, v.data, v.len)),
                       "get of iterated key %zu returned other bytes", i);
            rc = keel_exists(s, k.data, k.len);
            CHECK_DATA(intact, rc == KEEL_OK, "exists of iterated key %zu: %d", i, (int)rc);

            uint8_t buf[64];
            size_t got = 0;
            rc = keel_get_copy(s, k.data, k.len, buf, sizeof buf, &got);
            if (v.len <= sizeof buf)
                CHECK_DATA(intact, rc == KEEL_OK && got == v.len && !memcmp(buf, v.data, v.len),
                           "get_copy of key %zu: status %d, len %zu of %zu", i, (int)rc, got,
                           v.len);
            else
                CHECK_DATA(intact, rc == KEEL_ERANGE, "get_copy into a small buffer: %d", (int)rc);

            size_t n = 0, want = v.len > 1 ? (v.len - 1 < 8 ? v.len - 1 : 8) : 0;
            rc = keel_read_at(s, k.data, k.len, 1, buf, 8, &n);
            CHECK_DATA(intact, rc == KEEL_OK && n == want && !memcmp(buf, v.data + 1, n),
                       "read_at(1) of key %zu: status %d, %zu bytes", i, (int)rc, n);
            rc = keel_read_at(s, k.data, k.len, UINT64_MAX, buf, 8, &n);
            CHECK_DATA(intact, rc == KEEL_OK && n == 0, "read_at past the end: %d", (int)rc);

            keel_entry e;
            rc = keel_get_entry(s, k.data, k.len, &e);
            CHECK_DATA(intact, rc == KEEL_OK, "get_entry of key %zu: %d", i, (int)rc);
            if (rc == KEEL_OK) {
                CHECK(e.entry_end <= st.file_size && e.entry_offset < e.entry_end &&
                          e.value_offset >= e.entry_offset &&
                          e.value_offset + e.value.len <= e.entry_end,
                      "get_entry of key %zu: offsets outside the file", i);
                CHECK_DATA(intact, e.value.len == v.len && e.key.len == k.len,
                           "get_entry of key %zu: other lengths than the iterator's", i);
                rc = keel_entry_verify(s, &e);
                CHECK(rc == KEEL_OK || rc == KEEL_ECORRUPT, "entry_verify: %d", (int)rc);
            }
        }
        i++;
    }
    CHECK(rc == KEEL_NOTFOUND, "iter_next ended with %d", (int)rc);
    CHECK(i == len, "iterated %zu of %zu entries", i, len);
    CHECK(keel_iter_at(it, len, &k, &v) == KEEL_ERANGE, "iter_at past the end");
    keel_iter_free(it);
    sum->entries = i;

    /* Lookups of keys that are very likely absent; the answer is not checked, only that
     * they do not crash. */
    keel_view g;
    (void)keel_get(s, "", 0, &g);
    (void)keel_get(s, "\xff\xfe", 2, &g);
}

static keel_status open_store(keel_open_mode mode, uint64_t mask, keel_store **out) {
    keel_options o = KEEL_OPTIONS_INIT;
    o.mode = mode;
    o.test_hash_mask = mask;
    *out = NULL;
    keel_status st = keel_open(g_path, &o, out);
    if (st != KEEL_OK) CHECK(*out == NULL, "failed open (%d) wrote *store_out", (int)st);
    return st;
}

static bool same_summary(const summary *a, const summary *b) {
    return a->count == b->count && a->entries == b->entries && a->digest == b->digest;
}

/* ---- structure-aware mutation (libFuzzer builds only) ---------------------------------- */

#ifdef KEEL_FUZZ_LIBFUZZER
/* Checksums stop a byte-level mutator at the door: a mutated header or last entry fails
 * its CRC and the open goes no further. So after libFuzzer's own mutation, three times in
 * four the checksums are recomputed: the header CRC, and the CRC of every entry found by
 * walking trailers back from the end as open does (docs/FORMAT.md); every other time of
 * those the stored key hash and file tag are made to agree with the key and header too,
 * so the mutated file is "intact" and every data promise is checked on it. */
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);

static uint64_t ld(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static void st(uint8_t *p, uint64_t v, int n) {
    for (int i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void fix_checksums(uint8_t *d, size_t size, bool fix_hash) {
    static const uint8_t magic[8] = {0x89, 'K', 'E', 'E', 'L', '\r', '\n', 0x1a};
    if (size < 64 || memcmp(d, magic, 8) != 0) return;
    const uint64_t align = (uint64_t)1 << (d[12] <= 12 ? d[12] : 6);
    uint64_t e = size & ~(uint64_t)7;
    for (int steps = 0; e >= 64 + 40 && steps < 4096; steps++) {
        uint8_t *t = d + e - 40;
        uint64_t prev = ld(t + 8, 8), vlen = ld(t + 16, 8), klen = ld(t + 24, 4);
        if (ld(t + 30, 2) == 0x546B && prev >= 64 && prev < e && prev % 8 == 0 && vlen < e &&
            klen <= 65535) {
            uint64_t vs = vlen ? (prev + align - 1) & ~(align - 1) : prev;
            uint64_t ks = vs + vlen, ts = (ks + klen + 7) & ~(uint64_t)7;
            if (ts + 40 == e) {
                if (fix_hash) {
                    st(t, keel_hash(d + ks, (size_t)klen), 8);
                    memcpy(t + 32, d + 16, 4);
                }
                uint32_t c = keel_crc32c(0, d + vs, (size_t)vlen);
                c = keel_crc32c(c, d + ks, (size_t)klen);
                st(t + 36, keel_crc32c(c, t, 36), 4);
                e = prev;
                continue;
            }
        }
        e -= 8;
    }
    st(d + 60, keel_crc32c(0, d, 60), 4);
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed) {
    size = LLVMFuzzerMutate(data, size, max_size);
    if (seed % 4 != 0) fix_checksums(data, size, seed % 2 == 0);
    return size;
}
#endif

/* ---- the target ------------------------------------------------------------------------ */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setup();
    int fd0 = lowest_free_fd();
    write_file(g_path, data, size);

    /* 1. Read-only opens. */
    keel_store *s;
    summary ro, ro_col, rw;
    bool ro_ok = false;
    keel_status st = open_store(KEEL_OPEN_READONLY, 0, &s);
    if (st == KEEL_OK) {
        ro_ok = true;
        exercise(s, &ro);
        CHECK(keel_close(s) == KEEL_OK, "close");
        CHECK(keel_close(s) == KEEL_OK, "second close");
        keel_view v;
        CHECK(keel_get(s, "a", 1, &v) == KEEL_ECLOSED, "get after close");
        keel_free(s);

        if (open_store(KEEL_OPEN_READONLY, 0x3, &s) == KEEL_OK) {
            exercise(s, &ro_col);
            keel_free(s);
            CHECK_DATA(ro.intact, same_summary(&ro, &ro_col),
                  "forced hash collisions changed the live set: %llu vs %llu keys",
                  (unsigned long long)ro.count, (unsigned long long)ro_col.count);
        }
    }
    CHECK(file_equals(g_path, data, size), "read-only open (status %d) modified the file",
          (int)st);

    /* 2. Writable open. */
    st = open_store(KEEL_OPEN_EXISTING, 0, &s);
    if (st != KEEL_OK) {
        if (st == KEEL_EFORMAT || st == KEEL_EVERSION || st == KEEL_ECORRUPT)
            CHECK(file_equals(g_path, data, size), "failed open (%d) modified the file", (int)st);
        goto done;
    }
    if (size > 0) {
        CHECK(file_is_prefix_of(g_path, data, size),
              "writable open did more than cut a torn tail");
        /* Whatever it cut is accounted for and kept, byte for byte, in the side file. */
        keel_recovery r;
        CHECK(keel_recovery_info(s, &r) == KEEL_OK, "keel_recovery_info");
        CHECK(r.valid_end + r.cut_bytes == size, "recovery report %llu + %llu bytes, file %zu",
              (unsigned long long)r.valid_end, (unsigned long long)r.cut_bytes, size);
        if (r.cut_bytes)
            CHECK(r.cut && r.saved_path && r.valid_end <= size &&
                      file_equals(r.saved_path, data + r.valid_end, size - (size_t)r.valid_end),
                  "the %llu bytes cut are not in the side file",
                  (unsigned long long)r.cut_bytes);
    }
    exercise(s, &rw);
    if (ro_ok)
        CHECK(same_summary(&ro, &rw),
              "read-only and writable opens disagree: %llu vs %llu keys, digest %08x vs %08x",
              (unsigned long long)ro.count, (unsigned long long)rw.count, ro.digest, rw.digest);

    /* A second writer must be refused while this one holds the lock. */
    keel_store *s2;
    CHECK(open_store(KEEL_OPEN_EXISTING, 0, &s2) == KEEL_ELOCKED, "second writer not locked out");

    /* 3. Writes, close, reopen. */
    keel_status rc;
    bool probe_existed = keel_exists(s, probe_key, sizeof probe_key) == KEEL_OK;
    bool first_deleted = false;
    CHECK(keel_put(s, probe_key, sizeof probe_key, probe_val, sizeof probe_val) == KEEL_OK,
          "put on a recovered store");
    keel_kv kv[2] = {{"b1", 2, "", 0}, {"b2", 2, "\0", 1}};
    bool b1 = keel_exists(s, "b1", 2) == KEEL_OK, b2 = keel_exists(s, "b2", 2) == KEEL_OK;
    CHECK(keel_put_batch(s, kv, 2) == KEEL_OK, "batch put on a recovered store");
    uint64_t want = rw.count + !probe_existed + !b1 + !b2;
    if (rw.have_first &&
        !(rw.first_key_len == sizeof probe_key && !memcmp(rw.first_key, probe_key, sizeof probe_key)) &&
        !(rw.first_key_len == 2 && (!memcmp(rw.first_key, "b1", 2) || !memcmp(rw.first_key, "b2", 2)))) {
        rc = keel_delete(s, rw.first_key, rw.first_key_len);
        CHECK(rc == KEEL_OK || rc == KEEL_NOTFOUND, "delete: %d", (int)rc);
        CHECK_DATA(rw.intact, rc == KEEL_OK, "delete of an iterated key: %d", (int)rc);
        first_deleted = rc == KEEL_OK;
        want--;
    }
    uint64_t c = 0;
    CHECK_DATA(rw.intact, keel_count(s, &c) == KEEL_OK && c == want,
               "count %llu after writes, expected %llu",
          (unsigned long long)c, (unsigned long long)want);
    CHECK(keel_close(s) == KEEL_OK, "close after writes");
    keel_free(s);

    CHECK(open_store(KEEL_OPEN_READONLY, 0, &s) == KEEL_OK, "reopen after writes failed");
    keel_view v;
    CHECK(keel_get(s, probe_key, sizeof probe_key, &v) == KEEL_OK && v.len == sizeof probe_val &&
              !memcmp(v.data, probe_val, v.len),
          "probe value lost after reopen");
    CHECK(keel_get(s, "b1", 2, &v) == KEEL_OK && v.len == 0, "empty value lost");
    CHECK(keel_get(s, "b2", 2, &v) == KEEL_OK && v.len == 1 && v.data[0] == 0, "0x00 value lost");
    if (first_deleted)
        CHECK_DATA(rw.intact, keel_get(s, rw.first_key, rw.first_key_len, &v) == KEEL_NOTFOUND,
              "deleted key back after reopen");
    CHECK_DATA(rw.intact, keel_count(s, &c) == KEEL_OK && c == want,
               "count %llu after reopen, expected %llu",
          (unsigned long long)c, (unsigned long long)want);
    summary after;
    exercise(s, &after);
    keel_free(s);

    /* 4. Compaction keeps the live entries, in file order, and the result verifies. */
    CHECK(open_store(KEEL_OPEN_EXISTING, 0, &s) == KEEL_OK, "writable reopen failed");
    st = keel_compact(s, NULL, NULL);
    CHECK(st == KEEL_OK || st == KEEL_ECORRUPT, "compact: %d", (int)st);
    if (st == KEEL_OK) {
        summary comp, comp2;
        exercise(s, &comp);
        CHECK_DATA(after.intact, same_summary(&after, &comp),
                   "compaction changed the live entries");
        /* A store with damage that compaction does not look for (a stored key hash that
         * disagrees with its key, under a valid CRC) may stay damaged. */
        CHECK_DATA(after.intact, comp.intact, "compacted store does not verify");
        keel_free(s);
        CHECK(open_store(KEEL_OPEN_READONLY, 0, &s) == KEEL_OK, "reopen after compaction");
        exercise(s, &comp2);
        CHECK(same_summary(&comp, &comp2), "compacted file reopens differently");
    }
    keel_free(s);

done:
    unlink(g_path);
    {
        /* Nothing else may be left behind (compaction temporaries, header temporaries)
         * but the copies of what recovery cut, which are meant to stay. */
        DIR *d = opendir(g_dir);
        struct dirent *e;
        const char *stray = NULL;
        char name[256];
        while (d && (e = readdir(d)) != NULL) {
            if (strncmp(e->d_name, "store.keel.recovered-", 21) == 0) continue;
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                snprintf(name, sizeof name, "%s", e->d_name);
                stray = name;
                break;
            }
        }
        if (d) closedir(d);
        CHECK(stray == NULL, "file left in the work directory: %s", stray);
    }
    CHECK(lowest_free_fd() == fd0, "file descriptor leaked (lowest free %d, was %d)",
          lowest_free_fd(), fd0);
    teardown();
    return 0;
}
