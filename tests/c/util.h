/*
 * util.h: keel-specific helpers for the C tests, on top of harness.h.
 *
 * Status checks that print the status name and keel_errmsg() on mismatch, checks of a key's
 * value that report the caller's line, whole-file helpers (read, write, copy, compare) for
 * recovery tests that damage files on purpose, a small deterministic PRNG (xorshift64*),
 * and a directory listing used to prove that no temporary file was left behind.
 */
#ifndef KEEL_TEST_UTIL_H
#define KEEL_TEST_UTIL_H

#include "harness.h"
#include <sys/uio.h> /* internal.h uses struct iovec without including it */

#include "store/store.h"
#include "keel.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>

static H_UNUSED const char *st_name(keel_status st) {
    switch (st) {
    case KEEL_OK: return "KEEL_OK";
    case KEEL_NOTFOUND: return "KEEL_NOTFOUND";
    case KEEL_EINVAL: return "KEEL_EINVAL";
    case KEEL_ENOMEM: return "KEEL_ENOMEM";
    case KEEL_EIO: return "KEEL_EIO";
    case KEEL_ENOSPC: return "KEEL_ENOSPC";
    case KEEL_ENOENT: return "KEEL_ENOENT";
    case KEEL_EEXIST: return "KEEL_EEXIST";
    case KEEL_EFORMAT: return "KEEL_EFORMAT";
    case KEEL_EVERSION: return "KEEL_EVERSION";
    case KEEL_ECORRUPT: return "KEEL_ECORRUPT";
    case KEEL_ELOCKED: return "KEEL_ELOCKED";
    case KEEL_ECLOSED: return "KEEL_ECLOSED";
    case KEEL_EREADONLY: return "KEEL_EREADONLY";
    case KEEL_EKEYSIZE: return "KEEL_EKEYSIZE";
    case KEEL_ERANGE: return "KEEL_ERANGE";
    case KEEL_EABORTED: return "KEEL_EABORTED";
    case KEEL_EBUSY: return "KEEL_EBUSY";
    case KEEL_EACCES: return "KEEL_EACCES";
    case KEEL_ENOTABLE: return "KEEL_ENOTABLE";
    case KEEL_ETABLEEXISTS: return "KEEL_ETABLEEXISTS";
    case KEEL_ESYNTAX: return "KEEL_ESYNTAX";
    case KEEL_EVALIDATION: return "KEEL_EVALIDATION";
    case KEEL_ECONDITION: return "KEEL_ECONDITION";
    case KEEL_ECANCELED: return "KEEL_ECANCELED";
    case KEEL_EDUPLICATE: return "KEEL_EDUPLICATE";
    }
    return "(unknown status)";
}

/* Check that `expr` returns status `want`; on mismatch print both names and the detail. */
#define CHECK_ST(expr, want)                                                          \
    do {                                                                              \
        keel_status h_got_ = (expr);                                                  \
        keel_status h_want_ = (want);                                                 \
        if (h_got_ != h_want_)                                                        \
            h_fail(__FILE__, __LINE__, "%s: got %s (%d), want %s (%d); errmsg \"%s\"", #expr, \
                   st_name(h_got_), (int)h_got_, st_name(h_want_), (int)h_want_,      \
                   keel_errmsg());                                                    \
    } while (0)

#define CHECK_OK(expr) CHECK_ST(expr, KEEL_OK)

/* Like CHECK_ST, but returns from the (void) test on mismatch. */
#define REQUIRE_ST(expr, want)                                                        \
    do {                                                                              \
        keel_status h_got_ = (expr);                                                  \
        keel_status h_want_ = (want);                                                 \
        if (h_got_ != h_want_) {                                                      \
            h_fail(__FILE__, __LINE__, "%s: got %s (%d), want %s (%d); errmsg \"%s\" " \
                   "(test stops here)", #expr, st_name(h_got_), (int)h_got_,          \
                   st_name(h_want_), (int)h_want_, keel_errmsg());                    \
            return;                                                                   \
        }                                                                             \
    } while (0)

#define REQUIRE_OK(expr) REQUIRE_ST(expr, KEEL_OK)

/* After an error status: the thread's detail line must be non-empty. */
#define CHECK_ERRMSG()                                                                \
    do {                                                                              \
        const char *h_e_ = keel_errmsg();                                             \
        if (!h_e_ || !*h_e_) h_fail(__FILE__, __LINE__, "keel_errmsg() is empty after an error"); \
    } while (0)

/* Open with explicit options. */
static H_UNUSED keel_status open_opts(const char *path, keel_open_mode mode, uint32_t align,
                                      keel_sync_mode sync, uint64_t mask, keel_store **out) {
    keel_options o = KEEL_OPTIONS_INIT;
    o.mode = mode;
    o.alignment = align;
    o.sync = sync;
    o.test_hash_mask = mask;
    return keel_open(path, &o, out);
}

static H_UNUSED keel_status open_mode(const char *path, keel_open_mode mode, keel_store **out) {
    return open_opts(path, mode, 0, KEEL_SYNC_NONE, 0, out);
}

/* Put a NUL-terminated key and value (lengths without the NUL). */
static H_UNUSED keel_status put_s(keel_store *s, const char *k, const char *v) {
    return keel_put(s, k, strlen(k), v, strlen(v));
}

/* Compare the value of `key` with (val, len); val == NULL means "must be absent". Also
 * checks keel_exists and keel_get_copy agree with keel_get. Reports the caller's line. */
static H_UNUSED void check_value_at(const char *file, int line, keel_store *s, const void *key,
                                    size_t klen, const void *val, size_t len) {
    keel_view v = { NULL, 12345 };
    keel_status st = keel_get(s, key, klen, &v);
    if (!val) {
        if (st != KEEL_NOTFOUND)
            h_fail(file, line, "key (%zu bytes, \"%.*s\") should be absent: get -> %s (%s)", klen,
                   (int)(klen > 40 ? 40 : klen), (const char *)key, st_name(st), keel_errmsg());
        if (keel_exists(s, key, klen) != KEEL_NOTFOUND)
            h_fail(file, line, "key \"%.*s\" should be absent: exists != NOTFOUND",
                   (int)(klen > 40 ? 40 : klen), (const char *)key);
        return;
    }
    if (st != KEEL_OK) {
        h_fail(file, line, "key (%zu bytes, \"%.*s\"): get -> %s (%s), want value of %zu bytes",
               klen, (int)(klen > 40 ? 40 : klen), (const char *)key, st_name(st), keel_errmsg(),
               len);
        return;
    }
    if (v.len != len || (len && memcmp(v.data, val, len) != 0) || v.data == NULL) {
        h_fail(file, line, "key \"%.*s\": value differs (len %zu, want %zu%s)",
               (int)(klen > 40 ? 40 : klen), (const char *)key, v.len, len,
               v.data ? "" : ", data NULL");
        return;
    }
    if (keel_exists(s, key, klen) != KEEL_OK)
        h_fail(file, line, "key \"%.*s\": get OK but exists != OK", (int)(klen > 40 ? 40 : klen),
               (const char *)key);
}

#define CHECK_VALUE(s, key, klen, val, len) check_value_at(__FILE__, __LINE__, s, key, klen, val, len)
static H_UNUSED void check_value_s_at(const char *file, int line, keel_store *s, const char *key,
                                      const char *val) {
    check_value_at(file, line, s, key, strlen(key), val, val ? strlen(val) : 0);
}
#define CHECK_VALUE_S(s, key, val) check_value_s_at(__FILE__, __LINE__, s, key, val)
#define CHECK_ABSENT(s, key, klen) check_value_at(__FILE__, __LINE__, s, key, klen, NULL, 0)

static H_UNUSED uint64_t count_of(keel_store *s) {
    uint64_t c = UINT64_MAX;
    if (keel_count(s, &c) != KEEL_OK) return UINT64_MAX;
    return c;
}

static H_UNUSED uint64_t fsize_of(keel_store *s) {
    uint64_t c = UINT64_MAX;
    if (keel_file_size(s, &c) != KEEL_OK) return UINT64_MAX;
    return c;
}

/* ---- files ---------------------------------------------------------------------------- */

/* Size of the file at `path`, or -1 if it does not exist. */
static H_UNUSED long long file_size(const char *path) {
    struct stat sb;
    if (stat(path, &sb) != 0) return -1;
    return (long long)sb.st_size;
}

static H_UNUSED int file_exists(const char *path) {
    struct stat sb;
    return lstat(path, &sb) == 0;
}

/* The whole file, malloc'd (plus one NUL byte); NULL if it cannot be read. */
static H_UNUSED uint8_t *read_file(const char *path, size_t *len_out) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return NULL;
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        close(fd);
        return NULL;
    }
    size_t n = (size_t)sb.st_size;
    uint8_t *b = malloc(n + 1);
    size_t got = 0;
    while (b && got < n) {
        ssize_t r = pread(fd, b + got, n - got, (off_t)got);
        if (r <= 0) {
            free(b);
            b = NULL;
            break;
        }
        got += (size_t)r;
    }
    close(fd);
    if (b) {
        b[n] = 0;
        *len_out = n;
    }
    return b;
}

/* Create or replace the file at `path` with exactly these bytes. Returns 0 on success. */
static H_UNUSED int write_file(const char *path, const void *data, size_t len) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return -1;
    const uint8_t *p = data;
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, p + done, len - done);
        if (w <= 0) {
            close(fd);
            return -1;
        }
        done += (size_t)w;
    }
    return close(fd);
}

static H_UNUSED int append_file(const char *path, const void *data, size_t len) {
    int fd = open(path, O_WRONLY | O_APPEND);
    if (fd < 0) return -1;
    ssize_t w = write(fd, data, len);
    close(fd);
    return w == (ssize_t)len ? 0 : -1;
}

/* 1 when the file's bytes equal (data, len). */
static H_UNUSED int file_equals(const char *path, const void *data, size_t len) {
    size_t n = 0;
    uint8_t *b = read_file(path, &n);
    int eq = b && n == len && (len == 0 || memcmp(b, data, len) == 0);
    free(b);
    return eq;
}

/* 1 when the file starts with (data, len). */
static H_UNUSED int file_has_prefix(const char *path, const void *data, size_t len) {
    size_t n = 0;
    uint8_t *b = read_file(path, &n);
    int eq = b && n >= len && (len == 0 || memcmp(b, data, len) == 0);
    free(b);
    return eq;
}

/* Number of directory entries (other than . and ..) in the test directory; when `names` is
 * not NULL, a space-separated list of them is written there. */
static H_UNUSED int dir_entries(char *names, size_t cap) {
    DIR *d = opendir(h_dir);
    if (!d) return -1;
    int n = 0;
    if (names && cap) names[0] = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        n++;
        if (names) {
            size_t l = strlen(names);
            snprintf(names + l, cap - l, "%s%s", l ? " " : "", e->d_name);
        }
    }
    closedir(d);
    return n;
}

/* Removes the "<name>.recovered-*" files (damaged tails a writable open saved) from the test
 * directory and returns how many there were. A loop that reopens a torn file thousands of
 * times calls it each round: every open lists the directory (stale temporary files), so
 * letting the saved tails pile up makes the loop quadratic. */
static H_UNUSED int remove_recovered(const char *name) {
    DIR *d = opendir(h_dir);
    if (!d) return -1;
    char prefix[256];
    snprintf(prefix, sizeof prefix, "%s.recovered-", name);
    size_t pl = strlen(prefix);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, prefix, pl) == 0 && unlinkat(dirfd(d), e->d_name, 0) == 0) n++;
    closedir(d);
    return n;
}

/* Open file descriptors of this process (to find leaks). */
static H_UNUSED int open_fd_count(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n - 1; /* the DIR's own descriptor */
}

/* ---- deterministic data ----------------------------------------------------------------- */

typedef struct rng {
    uint64_t s;
} rng;

static H_UNUSED uint64_t rng_next(rng *r) {
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static H_UNUSED rng rng_seed(uint64_t seed) {
    rng r = { seed * 0x9E3779B97F4A7C15ULL + 0x1234567ULL };
    if (!r.s) r.s = 1;
    for (int i = 0; i < 4; i++) rng_next(&r);
    return r;
}

static H_UNUSED uint64_t rng_below(rng *r, uint64_t n) { return n ? rng_next(r) % n : 0; }

static H_UNUSED void rng_fill(rng *r, void *buf, size_t len) {
    uint8_t *p = buf;
    while (len >= 8) {
        uint64_t x = rng_next(r);
        memcpy(p, &x, 8);
        p += 8;
        len -= 8;
    }
    if (len) {
        uint64_t x = rng_next(r);
        memcpy(p, &x, len);
    }
}

/* Byte `i` of the deterministic value of (seed): cheap, position-dependent. */
static H_UNUSED uint8_t pattern_byte(uint64_t seed, uint64_t i) {
    uint64_t x = (i + 1) * 0x9E3779B97F4A7C15ULL ^ seed * 0xC2B2AE3D27D4EB4FULL;
    x ^= x >> 29;
    x *= 0xBF58476D1CE4E5B9ULL;
    x ^= x >> 32;
    return (uint8_t)x;
}

static H_UNUSED void pattern_fill(uint64_t seed, void *buf, size_t len) {
    uint8_t *p = buf;
    for (size_t i = 0; i < len; i++) p[i] = pattern_byte(seed, i);
}

#endif /* KEEL_TEST_UTIL_H */
