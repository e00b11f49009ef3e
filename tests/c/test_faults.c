/*
 * test_faults.c: I/O failures injected through src/os.c (keel__fault_inject).
 *
 * Every kind of write (put, overwrite, empty value, large value, batch, delete, batch
 * delete, rename, stream commit, put_stream, copy and move between stores) runs against a
 * known store while the (skip+1)-th next write or fsync fails with EIO, ENOSPC, or a short
 * write followed by ENOSPC. A failed call must return the matching status (KEEL_EIO or
 * KEEL_ENOSPC) with a detail naming the errno, leave the store readable with exactly the
 * data committed before, leave the file byte-identical (a partly written entry is cut off),
 * accept writes again once the fault is cleared, and reopen with exactly the committed data.
 * Compaction under write/fsync/rename faults keeps the old file intact and leaves no
 * temporary file; creating, opening and growing the mapping under faults fail cleanly.
 * Fault injection is process-global, so these tests are single-threaded.
 */
#include "util.h"

#define NBASE 10

static void base_key(int i, char *k) { snprintf(k, 16, "base%d", i); }
static size_t base_val(int i, uint8_t *buf) {
    size_t len = (size_t)(50 + i * 30);
    pattern_fill((uint64_t)i + 500, buf, len);
    return len;
}

/* Build the base store file and return its bytes. */
static uint8_t *make_base(const char *p, size_t *len_out) {
    keel_store *s;
    if (open_opts(p, KEEL_OPEN_NEW, 64, KEEL_SYNC_DATA, 0, &s) != KEEL_OK) return NULL;
    uint8_t v[400];
    char k[16];
    for (int i = 0; i < NBASE; i++) {
        base_key(i, k);
        size_t len = base_val(i, v);
        if (keel_put(s, k, strlen(k), v, len) != KEEL_OK) return NULL;
    }
    keel_free(s);
    return read_file(p, len_out);
}

/* The base keys are all there with their values (skip: -1 or a key not to check). */
static void check_base_at(int line, keel_store *s, int skip1, int skip2) {
    uint8_t v[400];
    char k[16];
    for (int i = 0; i < NBASE; i++) {
        if (i == skip1 || i == skip2) continue;
        base_key(i, k);
        size_t len = base_val(i, v);
        check_value_at(__FILE__, line, s, k, strlen(k), v, len);
    }
}
#define CHECK_BASE(s) check_base_at(__LINE__, s, -1, -1)

typedef enum op_kind {
    OP_PUT_NEW,
    OP_PUT_OVERWRITE,
    OP_PUT_EMPTY,
    OP_PUT_LARGE,
    OP_BATCH,
    OP_DELETE,
    OP_DELETE_BATCH,
    OP_RENAME,
    OP_STREAM_COMMIT,
    OP_PUT_STREAM,
    OP_PUTV_SMALL,
    OP_PUTV_LARGE,
    OP_COUNT
} op_kind;

static const char *const op_names[] = { "put", "overwrite", "empty put", "3 MiB put", "batch",
                                        "delete", "delete batch", "rename", "stream commit",
                                        "put_stream", "putv", "2 MiB putv" };

typedef struct fault_spec {
    keel_os_op op;
    keel_fault_kind kind;
    keel_status want;
    const char *name;
    int err; /* the errno whose text the detail should carry */
} fault_spec;

static const fault_spec faults[] = {
    { KEEL_OS_WRITE, KEEL_FAULT_EIO, KEEL_EIO, "write EIO", EIO },
    { KEEL_OS_WRITE, KEEL_FAULT_ENOSPC, KEEL_ENOSPC, "write ENOSPC", ENOSPC },
    { KEEL_OS_WRITE, KEEL_FAULT_SHORT, KEEL_ENOSPC, "short write", ENOSPC },
    { KEEL_OS_SYNC, KEEL_FAULT_EIO, KEEL_EIO, "fsync EIO", EIO },
    { KEEL_OS_SYNC, KEEL_FAULT_ENOSPC, KEEL_ENOSPC, "fsync ENOSPC", ENOSPC },
};

typedef struct ps_ctx {
    uint64_t left, pos;
} ps_ctx;

static long long ps_read(void *ctx, void *buf, size_t cap) {
    ps_ctx *c = ctx;
    size_t n = cap < c->left ? cap : (size_t)c->left;
    if (n > 30000) n = 30000;
    pattern_fill(c->pos + 1, buf, n);
    c->pos += n;
    c->left -= n;
    return (long long)n;
}

static uint8_t large[3 << 20];

/* Run `op`; the fault is armed just before the call that commits. */
static keel_status run_op(keel_store *s, op_kind op, const fault_spec *f, unsigned skip) {
    keel_status st;
    switch (op) {
    case OP_PUT_NEW:
        keel__fault_inject(f->op, skip, f->kind, false);
        return keel_put(s, "new", 3, large, 300);
    case OP_PUT_OVERWRITE:
        keel__fault_inject(f->op, skip, f->kind, false);
        return keel_put(s, "base3", 5, "changed", 7);
    case OP_PUT_EMPTY:
        keel__fault_inject(f->op, skip, f->kind, false);
        return keel_put(s, "ev", 2, NULL, 0);
    case OP_PUT_LARGE:
        keel__fault_inject(f->op, skip, f->kind, false);
        return keel_put(s, "large", 5, large, sizeof large);
    case OP_BATCH: {
        keel_kv items[3] = { { "nb1", 3, "1", 1 }, { "base4", 5, large, 5000 }, { "nb2", 3, "2", 1 } };
        keel__fault_inject(f->op, skip, f->kind, false);
        return keel_put_batch(s, items, 3);
    }
    case OP_DELETE:
        keel__fault_inject(f->op, skip, f->kind, false);
        return keel_delete(s, "base5", 5);
    case OP_DELETE_BATCH: {
        keel_view keys[2] = { { (const uint8_t *)"base6", 5 }, { (const uint8_t *)"base7", 5 } };
        keel__fault_inject(f->op, skip, f->kind, false);
        return keel_delete_batch(s, keys, 2, NULL);
    }
    case OP_RENAME:
        keel__fault_inject(f->op, skip, f->kind, false);
        return keel_rename(s, "base8", 5, "renamed", 7);
    case OP_STREAM_COMMIT: {
        keel_stream *stm;
        st = keel_stream_begin(s, &stm);
        if (st != KEEL_OK) return st;
        for (int j = 0; j < 10 && st == KEEL_OK; j++) st = keel_stream_write(stm, large + j * 10000, 10000);
        if (st != KEEL_OK) {
            keel_stream_abort(stm);
            return st;
        }
        keel__fault_inject(f->op, skip, f->kind, false);
        return keel_stream_commit(stm, "streamed", 8);
    }
    case OP_PUT_STREAM: {
        ps_ctx c = { 200000, 0 };
        keel__fault_inject(f->op, skip, f->kind, false);
        return keel_put_stream(s, "ps", 2, ps_read, &c);
    }
    case OP_PUTV_SMALL: {
        keel_view parts[3] = { { large, 100 }, { NULL, 0 }, { large + 100, 200 } };
        keel__fault_inject(f->op, skip, f->kind, false);
        return keel_putv(s, "pv", 2, parts, 3);
    }
    case OP_PUTV_LARGE: {
        keel_view parts[2] = { { large, 1 << 20 }, { large + (1 << 20), 1 << 20 } };
        keel__fault_inject(f->op, skip, f->kind, false);
        return keel_putv(s, "pvl", 3, parts, 2);
    }
    case OP_COUNT: break;
    }
    return KEEL_EINVAL;
}

/* After a successful op: its effect is there. */
static void check_applied(keel_store *s, op_kind op) {
    switch (op) {
    case OP_PUT_NEW: CHECK_VALUE(s, "new", 3, large, 300); break;
    case OP_PUT_OVERWRITE: CHECK_VALUE_S(s, "base3", "changed"); break;
    case OP_PUT_EMPTY: CHECK_VALUE(s, "ev", 2, "", 0); break;
    case OP_PUT_LARGE: CHECK_VALUE(s, "large", 5, large, sizeof large); break;
    case OP_BATCH:
        CHECK_VALUE_S(s, "nb1", "1");
        CHECK_VALUE(s, "base4", 5, large, 5000);
        break;
    case OP_DELETE: CHECK_ABSENT(s, "base5", 5); break;
    case OP_DELETE_BATCH: CHECK_ABSENT(s, "base7", 5); break;
    case OP_RENAME: CHECK_ABSENT(s, "base8", 5); break;
    case OP_STREAM_COMMIT: CHECK_VALUE(s, "streamed", 8, large, 100000); break;
    case OP_PUT_STREAM: CHECK_OK(keel_exists(s, "ps", 2)); break;
    case OP_PUTV_SMALL: CHECK_VALUE(s, "pv", 2, large, 300); break;
    case OP_PUTV_LARGE: CHECK_VALUE(s, "pvl", 3, large, 2 << 20); break;
    case OP_COUNT: break;
    }
}

/* After a failed op: nothing of it is visible. */
static void check_not_applied(keel_store *s, op_kind op, uint64_t extra) {
    CHECK_BASE(s);
    CHECK_ABSENT(s, "new", 3);
    CHECK_ABSENT(s, "ev", 2);
    CHECK_ABSENT(s, "large", 5);
    CHECK_ABSENT(s, "nb1", 3);
    CHECK_ABSENT(s, "nb2", 3);
    CHECK_ABSENT(s, "renamed", 7);
    CHECK_ABSENT(s, "streamed", 8);
    CHECK_ABSENT(s, "ps", 2);
    CHECK_ABSENT(s, "pv", 2);
    CHECK_ABSENT(s, "pvl", 3);
    CHECK_EQ(count_of(s), NBASE + extra);
    (void)op;
}

static void test_write_faults(void) {
    const char *bp = h_path("base.keel"), *p = h_path("s.keel");
    size_t base_len;
    uint8_t *base = make_base(bp, &base_len);
    REQUIRE(base != NULL);
    pattern_fill(31337, large, sizeof large);
    int cases = 0, failures_seen = 0;

    for (size_t fi = 0; fi < H_COUNT(faults); fi++) {
        const fault_spec *f = &faults[fi];
        for (int op = 0; op < OP_COUNT; op++) {
            for (unsigned skip = 0; skip < 6; skip++) {
                REQUIRE(write_file(p, base, base_len) == 0);
                keel_store *s;
                REQUIRE_OK(open_opts(p, KEEL_OPEN_EXISTING, 0, KEEL_SYNC_DATA, 0, &s));
                int fails_before = h_failures();
                keel_status st = run_op(s, (op_kind)op, f, skip);
                char msg[512];
                snprintf(msg, sizeof msg, "%s", keel_errmsg());
                keel__fault_clear();
                cases++;
                if (st == KEEL_OK) {
                    /* The fault came after this operation's last call of that kind. */
                    check_applied(s, (op_kind)op);
                    keel_free(s);
                    break;
                }
                failures_seen++;
                CHECKF(st == f->want, "got %s, want %s", st_name(st), st_name(f->want));
                CHECKF(msg[0] != 0, "empty keel_errmsg");
                CHECKF(strstr(msg, strerror(f->err)) != NULL, "detail \"%s\" lacks \"%s\"", msg,
                       strerror(f->err));
                check_not_applied(s, (op_kind)op, 0);
                CHECK_EQ(fsize_of(s), base_len);
                CHECKF(file_equals(p, base, base_len), "file differs after the failed call "
                       "(size %lld, was %zu)", file_size(p), base_len);
                CHECK_OK(keel_verify(s, NULL));
                /* Writable again once the fault is cleared. */
                CHECK_OK(put_s(s, "post", "fault"));
                CHECK_VALUE_S(s, "post", "fault");
                keel_free(s);
                /* Reopened: exactly the committed data. */
                REQUIRE_OK(open_mode(p, KEEL_OPEN_READONLY, &s));
                check_not_applied(s, (op_kind)op, 1);
                CHECK_VALUE_S(s, "post", "fault");
                keel_free(s);
                if (h_failures() != fails_before)
                    fprintf(stderr, "  (above: %s during %s, skip %u; returned %s \"%s\")\n",
                            f->name, op_names[op], skip, st_name(st), msg);
                if (h_failures() > 60) {
                    free(base);
                    return;
                }
            }
        }
    }
    printf("  %d fault cases, %d calls failed as injected\n", cases, failures_seen);
    CHECK(failures_seen >= (int)(H_COUNT(faults) * OP_COUNT));
    free(base);
}

/* Sticky faults: every write fails until cleared; reads keep working throughout. */
static void test_sticky_faults(void) {
    const char *bp = h_path("base.keel"), *p = h_path("s.keel");
    size_t base_len;
    uint8_t *base = make_base(bp, &base_len);
    REQUIRE(base != NULL);
    REQUIRE(write_file(p, base, base_len) == 0);
    keel_store *s;
    REQUIRE_OK(open_opts(p, KEEL_OPEN_EXISTING, 0, KEEL_SYNC_FULL, 0, &s));
    for (int kind = 0; kind < 2; kind++) {
        keel__fault_inject(kind ? KEEL_OS_SYNC : KEEL_OS_WRITE, 0, KEEL_FAULT_EIO, true);
        for (int j = 0; j < 20; j++) {
            char k[16];
            snprintf(k, sizeof k, "sticky%d", j);
            CHECK_ST(keel_put(s, k, strlen(k), "v", 1), KEEL_EIO);
            CHECK_ERRMSG();
            CHECK_ST(keel_delete(s, "base1", 5), KEEL_EIO);
            CHECK_BASE(s);
        }
        keel__fault_clear();
        CHECK_EQ(fsize_of(s), base_len);
        CHECK(file_equals(p, base, base_len));
    }
    CHECK_OK(put_s(s, "after", "sticky"));
    keel_free(s);
    REQUIRE_OK(open_mode(p, KEEL_OPEN_READONLY, &s));
    CHECK_BASE(s);
    CHECK_VALUE_S(s, "after", "sticky");
    CHECK_EQ(count_of(s), NBASE + 1);
    keel_free(s);
    free(base);
}

/* SYNC_NONE never calls fsync on a write; keel_sync does and reports its failure. */
static void test_sync_fault_with_sync_none(void) {
    const char *p = h_path("s.keel");
    keel_store *s;
    REQUIRE_OK(open_opts(p, KEEL_OPEN_NEW, 0, KEEL_SYNC_NONE, 0, &s));
    keel__fault_inject(KEEL_OS_SYNC, 0, KEEL_FAULT_EIO, true);
    CHECK_OK(put_s(s, "a", "1"));
    keel_kv kv[2] = { { "b", 1, "2", 1 }, { "c", 1, "3", 1 } };
    CHECK_OK(keel_put_batch(s, kv, 2));
    CHECK_OK(keel_delete(s, "c", 1));
    CHECK_ST(keel_sync(s), KEEL_EIO);
    CHECK_ERRMSG();
    keel__fault_clear();
    CHECK_OK(keel_sync(s));
    CHECK_VALUE_S(s, "a", "1");
    CHECK_VALUE_S(s, "b", "2");
    keel_free(s);
}

/* Copy and move between stores when the destination's write fails or the source's delete
 * fails: never lost, and the source keeps it unless the copy is safe. */
static void test_move_faults(void) {
    const char *pa = h_path("a.keel"), *pb = h_path("b.keel");
    for (unsigned skip = 0; skip < 4; skip++) {
        for (size_t fi = 0; fi < H_COUNT(faults); fi++) {
            unlink(pa);
            unlink(pb);
            keel_store *a, *b;
            REQUIRE_OK(open_opts(pa, KEEL_OPEN_NEW, 0, KEEL_SYNC_DATA, 0, &a));
            REQUIRE_OK(open_opts(pb, KEEL_OPEN_NEW, 0, KEEL_SYNC_DATA, 0, &b));
            REQUIRE_OK(put_s(a, "m", "moving"));
            REQUIRE_OK(put_s(a, "c", "copying"));
            keel__fault_inject(faults[fi].op, skip, faults[fi].kind, false);
            keel_status st = keel_move(a, "m", 1, b, "m2", 2);
            keel__fault_clear();
            if (st == KEEL_OK) {
                CHECK_ABSENT(a, "m", 1);
                CHECK_VALUE_S(b, "m2", "moving");
            } else {
                CHECKF(st == faults[fi].want, "move under %s skip %u: %s", faults[fi].name, skip,
                       st_name(st));
                CHECK_ERRMSG();
                int in_a = keel_exists(a, "m", 1) == KEEL_OK;
                int in_b = keel_exists(b, "m2", 2) == KEEL_OK;
                CHECKF(in_a || in_b, "move under %s skip %u: the value is in neither store",
                       faults[fi].name, skip);
                if (in_a) CHECK_VALUE_S(a, "m", "moving");
                if (in_b) CHECK_VALUE_S(b, "m2", "moving");
            }
            keel__fault_inject(faults[fi].op, skip, faults[fi].kind, false);
            st = keel_copy(a, "c", 1, b, "c2", 2);
            keel__fault_clear();
            CHECK_VALUE_S(a, "c", "copying");
            if (st == KEEL_OK) CHECK_VALUE_S(b, "c2", "copying");
            else CHECK_ABSENT(b, "c2", 2);
            keel_free(a);
            keel_free(b);
            REQUIRE_OK(open_mode(pa, KEEL_OPEN_EXISTING, &a));
            REQUIRE_OK(open_mode(pb, KEEL_OPEN_EXISTING, &b));
            CHECK(keel_exists(a, "m", 1) == KEEL_OK || keel_exists(b, "m2", 2) == KEEL_OK);
            CHECK_OK(keel_verify(a, NULL));
            CHECK_OK(keel_verify(b, NULL));
            keel_free(a);
            keel_free(b);
        }
    }
}

/* ---- compaction ------------------------------------------------------------------------- */

static void test_compact_faults(void) {
    const char *bp = h_path("base.keel"), *p = h_path("s.keel");
    keel_store *s;
    /* A store with garbage to reclaim. */
    REQUIRE_OK(open_opts(bp, KEEL_OPEN_NEW, 0, KEEL_SYNC_NONE, 0, &s));
    uint8_t v[400];
    char k[16];
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < NBASE; i++) {
            base_key(i, k);
            size_t len = base_val(i, v);
            if (round < 2) len /= 2;
            REQUIRE_OK(keel_put(s, k, strlen(k), v, len));
        }
    for (int i = 0; i < 50; i++) {
        snprintf(k, sizeof k, "gone%d", i);
        REQUIRE_OK(keel_put(s, k, strlen(k), v, 100));
        REQUIRE_OK(keel_delete(s, k, strlen(k)));
    }
    keel_free(s);
    size_t base_len;
    uint8_t *base = read_file(bp, &base_len);
    REQUIRE(base != NULL);
    REQUIRE(unlink(bp) == 0);

    struct {
        keel_os_op op;
        keel_fault_kind kind;
        const char *name;
    } cf[] = {
        { KEEL_OS_WRITE, KEEL_FAULT_EIO, "write EIO" },
        { KEEL_OS_WRITE, KEEL_FAULT_ENOSPC, "write ENOSPC" },
        { KEEL_OS_WRITE, KEEL_FAULT_SHORT, "short write" },
        { KEEL_OS_SYNC, KEEL_FAULT_EIO, "fsync EIO" },
        { KEEL_OS_RENAME, KEEL_FAULT_EIO, "rename EIO" },
        { KEEL_OS_OPEN, KEEL_FAULT_EIO, "open EIO" },
        { KEEL_OS_TRUNCATE, KEEL_FAULT_ENOSPC, "truncate ENOSPC" },
        { KEEL_OS_MMAP, KEEL_FAULT_EIO, "mmap EIO" },
    };
    static const unsigned skips[] = { 0, 1, 2, 3, 5, 10, 20, 40 };
    int failed_calls = 0;
    for (size_t c = 0; c < H_COUNT(cf); c++) {
        for (size_t si = 0; si < H_COUNT(skips); si++) {
            REQUIRE(write_file(p, base, base_len) == 0);
            REQUIRE_OK(open_opts(p, KEEL_OPEN_EXISTING, 0, KEEL_SYNC_NONE, 0, &s));
            keel_view early;
            REQUIRE_OK(keel_get(s, "base9", 5, &early));
            int fails_before = h_failures();
            keel__fault_inject(cf[c].op, skips[si], cf[c].kind, false);
            keel_status st = keel_compact(s, NULL, NULL);
            char msg[512];
            snprintf(msg, sizeof msg, "%s", keel_errmsg());
            keel__fault_clear();
            CHECK_BASE(s);
            CHECK_EQ(count_of(s), NBASE);
            size_t len = base_val(9, v);
            CHECK(early.len == len && memcmp(early.data, v, len) == 0);
            char names[1024];
            CHECKF(dir_entries(names, sizeof names) == 1, "files left: %s", names);
            if (st != KEEL_OK) {
                failed_calls++;
                CHECK(st < 0);
                CHECKF(msg[0] != 0, "empty keel_errmsg after a failed compaction");
                /* Before the rename nothing may have changed on disk. */
                if (cf[c].op == KEEL_OS_WRITE || cf[c].op == KEEL_OS_RENAME ||
                    (cf[c].op == KEEL_OS_SYNC && skips[si] == 0))
                    CHECKF(file_equals(p, base, base_len), "store file changed by a failed compaction");
            }
            /* The handle writes, and compacts, normally afterwards. */
            CHECK_OK(put_s(s, "post", "compact"));
            CHECK_OK(keel_compact(s, NULL, NULL));
            CHECK_VALUE_S(s, "post", "compact");
            CHECK_BASE(s);
            keel_free(s);
            REQUIRE_OK(open_mode(p, KEEL_OPEN_READONLY, &s));
            CHECK_BASE(s);
            CHECK_VALUE_S(s, "post", "compact");
            CHECK_EQ(count_of(s), NBASE + 1);
            CHECK_OK(keel_verify(s, NULL));
            keel_free(s);
            CHECKF(dir_entries(names, sizeof names) == 1, "files left: %s", names);
            if (h_failures() != fails_before)
                fprintf(stderr, "  (above: %s at skip %u during compaction: %s \"%s\")\n",
                        cf[c].name, skips[si], st_name(st), msg);
            if (st == KEEL_OK) break;
        }
    }
    CHECK(failed_calls >= 5);
    free(base);
}

/* ---- open and create -------------------------------------------------------------------- */

static void test_create_faults(void) {
    const char *p = h_path("new.keel");
    static const keel_os_op ops[] = { KEEL_OS_OPEN, KEEL_OS_WRITE, KEEL_OS_SYNC, KEEL_OS_RENAME,
                                      KEEL_OS_MMAP, KEEL_OS_READ };
    int failed = 0;
    for (size_t o = 0; o < H_COUNT(ops); o++) {
        for (unsigned skip = 0; skip < 4; skip++) {
            unlink(p);
            keel_store *s = NULL;
            keel__fault_inject(ops[o], skip, KEEL_FAULT_EIO, false);
            keel_status st = open_opts(p, KEEL_OPEN_CREATE, 128, KEEL_SYNC_DATA, 0, &s);
            keel__fault_clear();
            char names[1024];
            if (st == KEEL_OK) {
                CHECK_OK(put_s(s, "k", "v"));
                keel_free(s);
                CHECKF(dir_entries(names, sizeof names) == 1, "op %d skip %u: files: %s",
                       (int)ops[o], skip, names);
                break;
            }
            failed++;
            CHECK_ERRMSG();
            /* Never a store file without a complete header; no temporary left behind. */
            if (file_exists(p)) {
                keel_status st2 = open_mode(p, KEEL_OPEN_READONLY, &s);
                CHECKF(st2 == KEEL_OK, "op %d skip %u: a failed create left a bad file (%s, "
                       "%lld bytes)", (int)ops[o], skip, st_name(st2), file_size(p));
                if (st2 == KEEL_OK) keel_free(s);
                CHECKF(dir_entries(names, sizeof names) == 1, "op %d skip %u: files: %s",
                       (int)ops[o], skip, names);
            } else {
                CHECKF(dir_entries(names, sizeof names) == 0, "op %d skip %u: files: %s",
                       (int)ops[o], skip, names);
            }
            /* And the next try works. */
            REQUIRE_OK(open_opts(p, KEEL_OPEN_CREATE, 128, KEEL_SYNC_DATA, 0, &s));
            CHECK_OK(put_s(s, "k", "v"));
            keel_free(s);
        }
    }
    CHECK(failed >= 3);
}

static void test_open_existing_faults(void) {
    const char *p = h_path("s.keel");
    keel_store *s;
    REQUIRE_OK(open_mode(p, KEEL_OPEN_NEW, &s));
    for (int i = 0; i < 100; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        REQUIRE_OK(put_s(s, k, k));
    }
    keel_free(s);
    /* A torn tail so that a writable open must cut it. */
    REQUIRE(append_file(p, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 23) == 0);
    size_t n;
    uint8_t *orig = read_file(p, &n);
    REQUIRE(orig != NULL);
    static const keel_os_op ops[] = { KEEL_OS_OPEN, KEEL_OS_READ, KEEL_OS_MMAP,
                                      KEEL_OS_TRUNCATE, KEEL_OS_SYNC };
    for (size_t o = 0; o < H_COUNT(ops); o++) {
        for (int mode = 0; mode < 2; mode++) {
            REQUIRE(write_file(p, orig, n) == 0);
            keel__fault_inject(ops[o], 0, KEEL_FAULT_EIO, true);
            keel_status st = open_mode(p, mode ? KEEL_OPEN_EXISTING : KEEL_OPEN_READONLY, &s);
            keel__fault_clear();
            if (st == KEEL_OK) {
                CHECK_VALUE_S(s, "k42", "k42");
                CHECK_EQ(count_of(s), 100);
                keel_free(s);
            } else {
                CHECKF(st == KEEL_EIO, "op %d: open %s", (int)ops[o], st_name(st));
                CHECK_ERRMSG();
                CHECKF(file_equals(p, orig, n) || file_size(p) == (long long)n - 23,
                       "op %d: failed open damaged the file", (int)ops[o]);
            }
            if (ops[o] == KEEL_OS_TRUNCATE && mode == 1)
                CHECKF(st != KEEL_OK, "writable open succeeded although cutting the torn tail failed");
            REQUIRE_OK(open_mode(p, KEEL_OPEN_EXISTING, &s));
            CHECK_EQ(count_of(s), 100);
            CHECK_EQ(file_size(p), (long long)n - 23);
            keel_free(s);
        }
    }
    free(orig);
}

/* Address space for a growing file. The mapping is reserved larger than the file, so a
 * new mapping is only made when the file outgrows it (past 1 GiB with the current engine):
 * grow the file past 1 GiB while every mmap fails, so the remap fails. Each failed put must
 * leave the store unchanged; once mmap works again the file grows past the old
 * reservation, and views taken before that (in the old mapping) stay valid. */
static void test_mmap_fault_on_growth(void) {
    const char *p = h_path("s.keel");
    keel_store *s;
    REQUIRE_OK(open_mode(p, KEEL_OPEN_NEW, &s));
    REQUIRE_OK(put_s(s, "early", "view"));
    keel_view early;
    REQUIRE_OK(keel_get(s, "early", 5, &early));
    enum { CHUNK = 64 << 20, N = 18 };
    uint8_t *buf = malloc(CHUNK);
    REQUIRE(buf != NULL);
    pattern_fill(99, buf, CHUNK);
    uint32_t crc_tail = keel_crc32c(0, buf + 8, CHUNK - 8);
    keel_view first = { NULL, 0 };
    int failed = 0, done = 0;
    keel__fault_inject(KEEL_OS_MMAP, 0, KEEL_FAULT_ENOSPC, true);
    for (int attempt = 0; done < N && attempt < 2 * N; attempt++) {
        char k[16];
        snprintf(k, sizeof k, "g%d", done);
        uint64_t id = (uint64_t)done;
        memcpy(buf, &id, 8);
        uint64_t before = fsize_of(s);
        keel_status st = keel_put(s, k, strlen(k), buf, CHUNK);
        if (st == KEEL_OK) {
            if (done == 0) REQUIRE_OK(keel_get(s, k, strlen(k), &first));
            done++;
            continue;
        }
        failed++;
        CHECK(st == KEEL_ENOMEM || st == KEEL_ENOSPC || st == KEEL_EIO);
        CHECK_ERRMSG();
        CHECK_ABSENT(s, k, strlen(k));
        CHECK_EQ(fsize_of(s), before);
        CHECK_EQ(file_size(p), (long long)before);
        CHECK_VALUE_S(s, "early", "view");
        keel__fault_clear(); /* let the next attempt grow the mapping */
    }
    keel__fault_clear();
    uint64_t total = fsize_of(s);
    printf("  file grew to %.2f GiB; %d put(s) failed while mmap was failing\n",
           (double)total / (1 << 30), failed);
    CHECK_EQ(done, N);
    CHECK(total > ((uint64_t)1 << 30));
    CHECK(failed >= 1); /* the growth needed a new mapping */
    CHECK(early.len == 4 && memcmp(early.data, "view", 4) == 0);
    REQUIRE(first.data != NULL);
    uint64_t id0 = 0;
    CHECK(first.len == CHUNK && memcmp(first.data, &id0, 8) == 0);
    CHECK_EQ(keel_crc32c(0, first.data + 8, CHUNK - 8), crc_tail);
    CHECK_OK(put_s(s, "after", "growth"));
    keel_view last;
    CHECK_OK(keel_get(s, "g17", 3, &last));
    uint64_t id17 = 17;
    CHECK(last.len == CHUNK && memcmp(last.data, &id17, 8) == 0);
    CHECK_EQ(keel_crc32c(0, last.data + 8, CHUNK - 8), crc_tail);
    keel_free(s);
    REQUIRE_OK(open_mode(p, KEEL_OPEN_READONLY, &s));
    CHECK_VALUE_S(s, "after", "growth");
    CHECK_EQ(count_of(s), N + 2);
    CHECK_OK(keel_get(s, "g9", 2, &last));
    CHECK_EQ(keel_crc32c(0, last.data + 8, CHUNK - 8), crc_tail);
    keel_free(s);
    free(buf);
}

int main(int argc, char **argv) {
    static const h_test tests[] = {
        H_TEST(test_write_faults),
        H_TEST(test_sticky_faults),
        H_TEST(test_sync_fault_with_sync_none),
        H_TEST(test_move_faults),
        H_TEST(test_compact_faults),
        H_TEST(test_create_faults),
        H_TEST(test_open_existing_faults),
        H_TEST(test_mmap_fault_on_growth),
    };
    return h_main(argc, argv, tests, H_COUNT(tests));
}
