/*
 * test_process.c: several processes on one store file (fork).
 *
 * While the parent holds the store open for writing, a child's writable open fails with
 * KEEL_ELOCKED (and so does a second writable open in the same process); once the parent
 * closes, the child can open it. A read-only open in a child works, and keel_refresh shows
 * the entries the parent appended afterwards, and the result of a compaction. A writer
 * killed with SIGKILL releases its lock, and every put that returned before the kill is in
 * the file (the page cache survives a process crash). Children report through their exit
 * status; pipes keep parent and child in step.
 */
#include "util.h"
#include "keel_records.h"

#include <signal.h>
#include <sys/wait.h>

/* Child exit codes. */
enum { CHILD_OK = 0, CHILD_FAIL = 1 };

static int wait_child(pid_t pid) {
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) return -1;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return 100 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static int pipe_wait(int fd) {
    char c;
    return read(fd, &c, 1) == 1 ? c : -1;
}

static void pipe_post(int fd, char c) {
    ssize_t w = write(fd, &c, 1);
    (void)w;
}

static void test_second_writer_locked(void) {
    const char *p = h_path("p.keel");
    keel_store *s;
    REQUIRE_OK(open_mode(p, KEEL_OPEN_NEW, &s));
    REQUIRE_OK(put_s(s, "k", "v"));

    /* Same process, second handle. */
    keel_store *s2;
    CHECK_ST(open_mode(p, KEEL_OPEN_EXISTING, &s2), KEEL_ELOCKED);
    CHECK_ERRMSG();
    CHECK_ST(open_mode(p, KEEL_OPEN_CREATE, &s2), KEEL_ELOCKED);
    /* Read-only opens are fine. */
    REQUIRE_OK(open_mode(p, KEEL_OPEN_READONLY, &s2));
    CHECK_VALUE_S(s2, "k", "v");
    keel_free(s2);

    fflush(NULL);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        keel_store *c;
        keel_status st = open_mode(p, KEEL_OPEN_EXISTING, &c);
        if (st != KEEL_ELOCKED) _exit(10 + (st < 0 ? -st : st));
        if (!keel_errmsg()[0]) _exit(2);
        st = open_mode(p, KEEL_OPEN_READONLY, &c);
        if (st != KEEL_OK) _exit(3);
        keel_view v;
        if (keel_get(c, "k", 1, &v) != KEEL_OK || v.len != 1 || v.data[0] != 'v') _exit(4);
        keel_free(c);
        _exit(CHILD_OK);
    }
    int rc = wait_child(pid);
    CHECKF(rc == CHILD_OK, "child exit %d (10+n: writable open returned -n instead of ELOCKED)", rc);
    CHECK_VALUE_S(s, "k", "v");
    CHECK_OK(put_s(s, "k2", "v2"));

    /* After the parent closes, a child may open it for writing. */
    keel_free(s);
    fflush(NULL);
    pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        keel_store *c;
        if (open_mode(p, KEEL_OPEN_EXISTING, &c) != KEEL_OK) _exit(1);
        if (put_s(c, "from-child", "hello") != KEEL_OK) _exit(2);
        keel_free(c);
        _exit(CHILD_OK);
    }
    rc = wait_child(pid);
    CHECK_EQ(rc, CHILD_OK);
    REQUIRE_OK(open_mode(p, KEEL_OPEN_EXISTING, &s));
    CHECK_VALUE_S(s, "from-child", "hello");
    CHECK_VALUE_S(s, "k2", "v2");
    keel_free(s);
}

static void test_reader_process_refresh(void) {
    const char *p = h_path("p.keel");
    keel_store *s;
    REQUIRE_OK(open_mode(p, KEEL_OPEN_NEW, &s));
    for (int i = 0; i < 100; i++) {
        char k[16];
        snprintf(k, sizeof k, "a%d", i);
        REQUIRE_OK(put_s(s, k, k));
    }
    int to_child[2], to_parent[2];
    REQUIRE(pipe(to_child) == 0 && pipe(to_parent) == 0);
    fflush(NULL);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(to_child[1]);
        close(to_parent[0]);
        keel_store *c;
        if (open_mode(p, KEEL_OPEN_READONLY, &c) != KEEL_OK) _exit(1);
        uint64_t n = 0;
        if (keel_count(c, &n) != KEEL_OK || n != 100) _exit(2);
        keel_view early;
        if (keel_get(c, "a5", 2, &early) != KEEL_OK) _exit(3);
        pipe_post(to_parent[1], 'r'); /* ready */
        if (pipe_wait(to_child[0]) != 'a') _exit(4); /* parent appended */
        /* Not visible before refresh is allowed; after refresh it must be. */
        if (keel_refresh(c) != KEEL_OK) _exit(5);
        if (keel_count(c, &n) != KEEL_OK || n != 150) _exit(6);
        keel_view v;
        if (keel_get(c, "b49", 3, &v) != KEEL_OK || v.len != 3 || memcmp(v.data, "b49", 3)) _exit(7);
        if (keel_exists(c, "a0", 2) != KEEL_NOTFOUND) _exit(8); /* deleted by the parent */
        pipe_post(to_parent[1], 'r');
        if (pipe_wait(to_child[0]) != 'c') _exit(9); /* parent compacted and appended */
        if (keel_refresh(c) != KEEL_OK) _exit(10);
        if (keel_count(c, &n) != KEEL_OK || n != 151) _exit(11);
        if (keel_get(c, "after-compact", 13, &v) != KEEL_OK || v.len != 1) _exit(12);
        if (keel_get(c, "a77", 3, &v) != KEEL_OK || v.len != 3 || memcmp(v.data, "a77", 3)) _exit(13);
        if (keel_verify(c, NULL) != KEEL_OK) _exit(14);
        /* The view taken at the start is still intact. */
        if (early.len != 2 || memcmp(early.data, "a5", 2) != 0) _exit(15);
        /* Refresh with nothing new is fine. */
        if (keel_refresh(c) != KEEL_OK) _exit(16);
        keel_free(c);
        _exit(CHILD_OK);
    }
    close(to_child[0]);
    close(to_parent[1]);
    int ok = pipe_wait(to_parent[0]) == 'r';
    CHECK(ok);
    for (int i = 0; i < 50; i++) {
        char k[16];
        snprintf(k, sizeof k, "b%d", i);
        CHECK_OK(put_s(s, k, k));
    }
    CHECK_OK(keel_delete(s, "a0", 2));
    CHECK_OK(put_s(s, "a0-again", "x")); /* keeps the count at 150 */
    pipe_post(to_child[1], 'a');
    ok = pipe_wait(to_parent[0]) == 'r';
    CHECK(ok);
    CHECK_OK(keel_compact(s, NULL, NULL));
    CHECK_OK(put_s(s, "after-compact", "y"));
    pipe_post(to_child[1], 'c');
    int rc = wait_child(pid);
    CHECKF(rc == CHILD_OK, "reader child failed at step %d", rc);
    close(to_child[1]);
    close(to_parent[0]);
    keel_free(s);
}

/* A writer killed mid-stream: its lock goes away and every returned put is on file. */
static void test_killed_writer(void) {
    const char *p = h_path("p.keel");
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    fflush(NULL);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        keel_store *c;
        if (open_mode(p, KEEL_OPEN_NEW, &c) != KEEL_OK) _exit(1);
        uint8_t v[3000];
        for (uint32_t i = 0;; i++) {
            char k[16];
            snprintf(k, sizeof k, "w%u", i);
            pattern_fill(i, v, sizeof v);
            if (keel_put(c, k, strlen(k), v, 100 + i % 2900) != KEEL_OK) _exit(2);
            if (write(fds[1], &i, sizeof i) != sizeof i) _exit(3);
        }
    }
    close(fds[1]);
    /* Let it write a while, then kill it. */
    uint32_t last = 0, got = 0;
    double t0 = h_now();
    while (h_now() - t0 < 0.3) {
        uint32_t i;
        if (read(fds[0], &i, sizeof i) != sizeof i) break;
        last = i;
        got++;
    }
    kill(pid, SIGKILL);
    int rc = wait_child(pid);
    CHECK_EQ(rc, 100 + SIGKILL);
    /* drain what the child reported before dying */
    uint32_t i;
    while (read(fds[0], &i, sizeof i) == sizeof i) {
        last = i;
        got++;
    }
    close(fds[0]);
    REQUIRE(got > 0);
    printf("  child committed at least %u puts before SIGKILL\n", last + 1);

    keel_store *s;
    REQUIRE_OK(open_mode(p, KEEL_OPEN_EXISTING, &s)); /* the lock died with the child */
    uint8_t v[3000];
    for (uint32_t j = 0; j <= last; j++) {
        char k[16];
        snprintf(k, sizeof k, "w%u", j);
        pattern_fill(j, v, sizeof v);
        CHECK_VALUE(s, k, strlen(k), v, 100 + j % 2900);
        if (h_failures() > 10) break;
    }
    uint64_t n = count_of(s);
    CHECK(n >= (uint64_t)last + 1 && n <= (uint64_t)last + 2);
    CHECK_OK(keel_verify(s, NULL));
    keel_free(s);
}

/* Handles opened before fork(): in the child a writable store refuses every call with
 * KEEL_ELOCKED (its lock and view are the parent's), a read-only one keeps reading, and
 * closing either releases the child's copy only. A record writer refuses to write, and
 * its close writes nothing: the parent's file ends up exactly as the parent wrote it. */
static void test_handles_across_fork(void) {
    const char *p = h_path("f.keel");
    const char *rp = h_path("f.rec");
    keel_store *s, *ro;
    REQUIRE_OK(open_mode(p, KEEL_OPEN_NEW, &s));
    REQUIRE_OK(put_s(s, "k", "v"));
    REQUIRE_OK(open_mode(p, KEEL_OPEN_READONLY, &ro));
    keel_rec_writer *w;
    REQUIRE_OK(keel_rec_writer_open(rp, NULL, &w));
    REQUIRE_OK(keel_rec_writer_write(w, "parent-0", 8));   /* pending in the chunk */

    fflush(NULL);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        keel_view v;
        if (keel_put(s, "c", 1, "x", 1) != KEEL_ELOCKED) _exit(2);
        if (!strstr(keel_errmsg(), "fork")) _exit(3);
        if (keel_get(s, "k", 1, &v) != KEEL_ELOCKED) _exit(4);
        if (keel_close(s) != KEEL_OK) _exit(5);
        keel_free(s);
        if (keel_get(ro, "k", 1, &v) != KEEL_OK || v.len != 1 || v.data[0] != 'v') _exit(6);
        keel_free(ro);
        if (keel_rec_writer_write(w, "child", 5) != KEEL_ELOCKED) _exit(7);
        if (keel_rec_writer_flush(w) != KEEL_ELOCKED) _exit(8);
        if (keel_rec_writer_close(w) != KEEL_OK) _exit(9);
        keel_store *c;    /* the parent still holds the lock */
        if (open_mode(p, KEEL_OPEN_EXISTING, &c) != KEEL_ELOCKED) _exit(10);
        _exit(CHILD_OK);
    }
    int rc = wait_child(pid);
    CHECKF(rc == CHILD_OK, "child exit %d", rc);
    /* The parent's handles work on, its writer's pending record included. */
    REQUIRE_OK(put_s(s, "p", "after"));
    CHECK_VALUE_S(s, "k", "v");
    REQUIRE_OK(keel_rec_writer_write(w, "parent-1", 8));
    CHECK_OK(keel_rec_writer_close(w));
    uint64_t n = 0;
    CHECK_OK(keel_rec_count(rp, NULL, &n));
    CHECK_EQ(n, 2);
    keel_free(ro);
    keel_free(s);
}

int main(int argc, char **argv) {
    static const h_test tests[] = {
        H_TEST(test_second_writer_locked),
        H_TEST(test_reader_process_refresh),
        H_TEST(test_killed_writer),
        H_TEST(test_handles_across_fork),
    };
    return h_main(argc, argv, tests, H_COUNT(tests));
}
