/*
 * harness.h: the tiny test harness shared by every C test executable.
 *
 * A test file defines `static void test_xxx(void)` functions, lists them in a table with
 * H_TEST(test_xxx), and calls h_main() from main(). Each test runs in a fresh temporary
 * directory (mkdtemp under $TMPDIR, or /tmp) that is removed afterwards; h_path("name")
 * gives an absolute path inside it. CHECK and friends record a failure with file:line and
 * keep going; REQUIRE records it and returns from the (void) test function, for
 * preconditions whose failure would make the rest of the test meaningless or crash.
 * `prog` runs every test, `prog name...` only the named ones. The last line printed is
 * exactly "N passed, N failed" (tests, not checks), and the exit status is non-zero when
 * any test failed. A per-test watchdog (alarm, H_TEST_TIMEOUT seconds, default 240) turns
 * a deadlock into a reported failure instead of a silent hang; its message names the test,
 * the time it had, and the last h_progress() line, so a test that was merely slow says how
 * far it got.
 *
 * Sizes, not timeouts, adapt to slow builds: a test states its work as
 * h_size(full, sanitized), and the sanitized size applies under ASan/TSan/MSan (5 to 20
 * times slower), so the suite passes with two busy processes beside it.
 *
 * Everything here is static and header-only: each test file is its own executable.
 */
#ifndef KEEL_TEST_HARNESS_H
#define KEEL_TEST_HARNESS_H

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define H_UNUSED __attribute__((unused))

typedef void (*h_test_fn)(void);

typedef struct h_test {
    const char *name;
    h_test_fn fn;
} h_test;

#define H_TEST(fn) { #fn, fn }
#define H_COUNT(table) (sizeof(table) / sizeof((table)[0]))

/* Failures of the current test; atomic because helper threads may CHECK too. */
static atomic_int h_fail_count;
static char h_dir[4096];
static const char *volatile h_current = "";

/* Builds with a sanitizer that slows everything down. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define H_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define H_SANITIZED 1
#endif
#endif
#ifndef H_SANITIZED
#define H_SANITIZED 0
#endif

/* The size of a test's work: `full` in a normal build, `sanitized` under a sanitizer. */
static H_UNUSED size_t h_size(size_t full, size_t sanitized) {
    return H_SANITIZED ? sanitized : full;
}

/* How far the current test got, for the watchdog's message (the latest line wins). */
static char h_progress_buf[256];
static H_UNUSED void h_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static H_UNUSED void h_progress(const char *fmt, ...) {
    char tmp[sizeof h_progress_buf];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    memcpy(h_progress_buf, tmp, sizeof tmp);
}
static unsigned h_timeout_s;

static H_UNUSED void h_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static H_UNUSED void h_fail(const char *file, int line, const char *fmt, ...) {
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* One fprintf call per line so lines from several threads do not interleave. */
    fprintf(stderr, "  FAIL %s:%d: [%s] %s\n", file, line, h_current, msg);
    atomic_fetch_add(&h_fail_count, 1);
}

/* Failures recorded so far in the current test (to stop loops that would only repeat). */
static H_UNUSED int h_failures(void) { return atomic_load(&h_fail_count); }

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) h_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                  \
    } while (0)

/* Like CHECK, with a printf-style explanation. */
#define CHECKF(cond, ...)                                                             \
    do {                                                                              \
        if (!(cond)) {                                                                \
            char h_m_[2048];                                                           \
            snprintf(h_m_, sizeof h_m_, __VA_ARGS__);                                 \
            h_fail(__FILE__, __LINE__, "CHECK(%s): %s", #cond, h_m_);                 \
        }                                                                             \
    } while (0)

/* Integer equality; both sides are evaluated once and compared as 64-bit values. */
#define CHECK_EQ(a, b)                                                                \
    do {                                                                              \
        unsigned long long h_a_ = (unsigned long long)(a);                            \
        unsigned long long h_b_ = (unsigned long long)(b);                            \
        if (h_a_ != h_b_)                                                             \
            h_fail(__FILE__, __LINE__, "CHECK_EQ(%s, %s): %lld (0x%llx) != %lld (0x%llx)", \
                   #a, #b, (long long)h_a_, h_a_, (long long)h_b_, h_b_);              \
    } while (0)

#define CHECK_MEM(a, b, n)                                                            \
    do {                                                                              \
        size_t h_n_ = (size_t)(n);                                                    \
        if (h_n_ && memcmp((a), (b), h_n_) != 0)                                      \
            h_fail(__FILE__, __LINE__, "CHECK_MEM(%s, %s, %zu): bytes differ", #a, #b, h_n_); \
    } while (0)

#define REQUIRE(cond)                                                                 \
    do {                                                                              \
        if (!(cond)) {                                                                \
            h_fail(__FILE__, __LINE__, "REQUIRE(%s) (test stops here)", #cond);       \
            return;                                                                   \
        }                                                                             \
    } while (0)

/* An absolute path inside the current test's directory. Rotating static buffers: the
 * result stays valid for the next 15 calls only; copy it when it must live longer. */
static H_UNUSED const char *h_path(const char *name) {
    static _Thread_local char bufs[16][4200];
    static _Thread_local unsigned next;
    char *b = bufs[next++ % 16];
    snprintf(b, sizeof bufs[0], "%s/%s", h_dir, name);
    return b;
}

static H_UNUSED double h_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int h_rm_cb(const char *p, const struct stat *sb, int type, struct FTW *ftw) {
    (void)sb;
    (void)type;
    (void)ftw;
    if (remove(p) != 0) fprintf(stderr, "  warning: cannot remove %s: %s\n", p, strerror(errno));
    return 0;
}

/* Only async-signal-safe calls: write(2) of strings already formatted. */
static void h_watchdog_put(const char *str) {
    ssize_t w = write(2, str, strlen(str));
    (void)w;
}

static void h_watchdog(int sig) {
    (void)sig;
    char secs[16];
    int i = (int)sizeof secs - 1;
    secs[i] = '\0';
    unsigned t = h_timeout_s;
    do {
        secs[--i] = (char)('0' + t % 10);
        t /= 10;
    } while (t && i > 0);
    h_watchdog_put("\n  FAIL: watchdog: [");
    h_watchdog_put((const char *)h_current);
    h_watchdog_put("] did not finish in ");
    h_watchdog_put(secs + i);
    h_watchdog_put(" s (deadlock, or too slow for this machine); last progress: ");
    h_progress_buf[sizeof h_progress_buf - 1] = '\0';
    h_watchdog_put(h_progress_buf[0] ? h_progress_buf : "(none reported)");
    h_watchdog_put("\n");
    _exit(3);
}

static H_UNUSED int h_main(int argc, char **argv, const h_test *tests, size_t n) {
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp) tmp = "/tmp";
    const char *to = getenv("H_TEST_TIMEOUT");
    unsigned timeout = to && *to ? (unsigned)atoi(to) : 240;
    h_timeout_s = timeout;
    signal(SIGALRM, h_watchdog);
    /* Writes to a pipe whose reader died (process tests) must fail, not kill us. */
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);

    int passed = 0, failed = 0;
    for (int a = 1; a < argc; a++) {
        size_t i;
        for (i = 0; i < n; i++)
            if (strcmp(argv[a], tests[i].name) == 0) break;
        if (i == n) {
            fprintf(stderr, "unknown test '%s'\n", argv[a]);
            failed++;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (argc > 1) {
            int wanted = 0;
            for (int a = 1; a < argc; a++)
                if (strcmp(argv[a], tests[i].name) == 0) wanted = 1;
            if (!wanted) continue;
        }
        snprintf(h_dir, sizeof h_dir, "%s/keel-test-XXXXXX", tmp);
        if (!mkdtemp(h_dir)) {
            fprintf(stderr, "mkdtemp(%s): %s\n", h_dir, strerror(errno));
            return 2;
        }
        h_current = tests[i].name;
        h_progress_buf[0] = '\0';
        atomic_store(&h_fail_count, 0);
        printf("[ RUN  ] %s\n", tests[i].name);
        fflush(stdout);
        double t0 = h_now();
        alarm(timeout);
        tests[i].fn();
        alarm(0);
        double dt = h_now() - t0;
        int f = atomic_load(&h_fail_count);
        if (f == 0) {
            passed++;
            printf("[  OK  ] %s (%.2f s)\n", tests[i].name, dt);
        } else {
            failed++;
            printf("[ FAIL ] %s (%d failed checks, %.2f s)\n", tests[i].name, f, dt);
        }
        fflush(stdout);
        nftw(h_dir, h_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
        h_current = "";
    }
    printf("%d passed, %d failed\n", passed, failed);
    fflush(stdout);
    return failed ? 1 : 0;
}

#endif /* KEEL_TEST_HARNESS_H */
