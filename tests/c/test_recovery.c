/*
 * test_recovery.c: what open does with torn files.
 *
 * A store is built with a known history (single puts, deletes, an atomic batch, a rename,
 * a batch delete) and the file offset where each operation committed. The file is then cut
 * at EVERY byte offset of its last operations and reopened read-only (must see exactly the
 * operations committed before the cut, batches all-or-nothing, and leave the file
 * byte-identical) and writable (same state, the torn tail cut off, new writes work and
 * survive a reopen). A file shorter than the header is refused and left as it is. Tails of
 * zeros, random bytes, half an entry, an entry of another store and a duplicated entry never
 * hide earlier entries. Foreign and damaged files are in test_damage.c.
 */
#include "util.h"

#define NK 12

typedef struct model {
    int len[NK]; /* -1: absent */
    uint8_t val[NK][160];
} model;

static void rkey(int i, char *k) { snprintf(k, 8, "r%d", i); }

static void model_put(model *m, int i, const void *v, size_t len) {
    m->len[i] = (int)len;
    if (len) memcpy(m->val[i], v, len);
}

/* Check that the store holds exactly the model; returns the number of mismatches. */
static int model_check_at(const char *file, int line, keel_store *s, const model *m,
                          uint64_t extra) {
    int before = h_failures();
    uint64_t live = extra;
    for (int i = 0; i < NK; i++) {
        char k[8];
        rkey(i, k);
        if (m->len[i] < 0) {
            check_value_at(file, line, s, k, strlen(k), NULL, 0);
        } else {
            live++;
            check_value_at(file, line, s, k, strlen(k), m->val[i], (size_t)m->len[i]);
        }
    }
    uint64_t c = count_of(s);
    if (c != live) h_fail(file, line, "count %llu, model %llu", (unsigned long long)c,
                          (unsigned long long)live);
    return h_failures() - before;
}
#define MODEL_CHECK(s, m) model_check_at(__FILE__, __LINE__, s, m, 0)
/* The model plus `extra` keys outside it. */
#define MODEL_CHECK_PLUS(s, m, extra) model_check_at(__FILE__, __LINE__, s, m, extra)

#define MAX_OPS 16

typedef struct history {
    int nops;             /* ops[0] is the state after the prefix */
    uint64_t end[MAX_OPS];
    model state[MAX_OPS];
} history;

static void record(history *h, keel_store *s, const model *m) {
    h->end[h->nops] = fsize_of(s);
    h->state[h->nops] = *m;
    h->nops++;
}

/* Build the store at `p` and fill `h`. The tail holds every kind of write. */
static int build_history(const char *p, uint32_t align, history *h) {
    keel_store *s;
    if (open_opts(p, KEEL_OPEN_NEW, align, KEEL_SYNC_NONE, 0, &s) != KEEL_OK) return -1;
    static model m;
    memset(&m, 0, sizeof m);
    for (int i = 0; i < NK; i++) m.len[i] = -1;
    h->nops = 0;
    uint8_t v[160];
    char k[8], k2[8];
    int err = 0;
    /* prefix: every key, some overwritten */
    for (int j = 0; j < 20; j++) {
        int i = j % NK;
        size_t len = (size_t)(10 + j * 7);
        pattern_fill((uint64_t)j, v, len);
        rkey(i, k);
        err |= keel_put(s, k, strlen(k), v, len) != KEEL_OK;
        model_put(&m, i, v, len);
    }
    record(h, s, &m);
    /* 1: single put */
    pattern_fill(100, v, 100);
    rkey(3, k);
    err |= keel_put(s, k, strlen(k), v, 100) != KEEL_OK;
    model_put(&m, 3, v, 100);
    record(h, s, &m);
    /* 2: delete */
    rkey(4, k);
    err |= keel_delete(s, k, strlen(k)) != KEEL_OK;
    m.len[4] = -1;
    record(h, s, &m);
    /* 3: batch of four, one key twice, an empty value */
    uint8_t b1[40], b2[90], b3[33];
    pattern_fill(201, b1, sizeof b1);
    pattern_fill(202, b2, sizeof b2);
    pattern_fill(203, b3, sizeof b3);
    keel_kv items[4] = {
        { "r5", 2, b1, sizeof b1 },
        { "r6", 2, b2, sizeof b2 },
        { "r7", 2, NULL, 0 },
        { "r5", 2, b3, sizeof b3 },
    };
    err |= keel_put_batch(s, items, 4) != KEEL_OK;
    model_put(&m, 6, b2, sizeof b2);
    model_put(&m, 7, NULL, 0);
    model_put(&m, 5, b3, sizeof b3);
    record(h, s, &m);
    /* 4: a single 0x00 byte */
    err |= keel_put(s, "r8", 2, "\0", 1) != KEEL_OK;
    model_put(&m, 8, "\0", 1);
    record(h, s, &m);
    /* 5: rename (entry + tombstone) */
    rkey(9, k);
    rkey(10, k2);
    err |= keel_rename(s, k, strlen(k), k2, strlen(k2)) != KEEL_OK;
    m.len[10] = m.len[9];
    memcpy(m.val[10], m.val[9], sizeof m.val[9]);
    m.len[9] = -1;
    record(h, s, &m);
    /* 6: single put */
    pattern_fill(300, v, 70);
    err |= keel_put(s, "r11", 3, v, 70) != KEEL_OK;
    model_put(&m, 11, v, 70);
    record(h, s, &m);
    /* 7: batch delete of two */
    keel_view dk[2] = { { (const uint8_t *)"r0", 2 }, { (const uint8_t *)"r1", 2 } };
    size_t deleted = 0;
    err |= keel_delete_batch(s, dk, 2, &deleted) != KEEL_OK || deleted != 2;
    m.len[0] = m.len[1] = -1;
    record(h, s, &m);
    /* 8: empty value */
    err |= keel_put(s, "r2", 2, NULL, 0) != KEEL_OK;
    model_put(&m, 2, NULL, 0);
    record(h, s, &m);
    err |= keel_close(s) != KEEL_OK;
    keel_free(s);
    if (err) return -1;
    if (file_size(p) != (long long)h->end[h->nops - 1]) return -2;
    return 0;
}

static void cut_every_offset(uint32_t align) {
    const char *p = h_path("orig.keel"), *cp = h_path("cut.keel");
    static history h;
    int rc = build_history(p, align, &h);
    REQUIRE(rc == 0);
    size_t full_len;
    uint8_t *full = read_file(p, &full_len);
    REQUIRE(full != NULL);
    for (int j = 1; j < h.nops; j++) REQUIRE(h.end[j] > h.end[j - 1]);

    int cuts = 0;
    for (uint64_t c = h.end[0]; c <= full_len; c++) {
        int j = 0;
        while (j + 1 < h.nops && h.end[j + 1] <= c) j++;
        const model *want = &h.state[j];
        int fails_before = h_failures();
        REQUIRE(write_file(cp, full, (size_t)c) == 0);
        cuts++;

        /* read-only: exact committed state, nothing written */
        keel_store *s;
        keel_status st = open_mode(cp, KEEL_OPEN_READONLY, &s);
        CHECKF(st == KEEL_OK, "cut at %llu: read-only open %s (%s)", (unsigned long long)c,
               st_name(st), keel_errmsg());
        if (st == KEEL_OK) {
            MODEL_CHECK(s, want);
            keel_stats stt;
            CHECK_OK(keel_stat(s, &stt));
            CHECK_EQ(stt.file_size, h.end[j]);
            keel_free(s);
        }
        CHECKF(file_equals(cp, full, (size_t)c), "cut at %llu: read-only open changed the file",
               (unsigned long long)c);

        /* writable: same state, tail cut, and new writes persist */
        st = open_mode(cp, KEEL_OPEN_EXISTING, &s);
        CHECKF(st == KEEL_OK, "cut at %llu: writable open %s (%s)", (unsigned long long)c,
               st_name(st), keel_errmsg());
        if (st == KEEL_OK) {
            MODEL_CHECK(s, want);
            CHECK_EQ(file_size(cp), (long long)h.end[j]);
            CHECK_EQ(fsize_of(s), h.end[j]);
            CHECK_OK(keel_put(s, "after", 5, "cut", 3));
            keel_free(s);
            CHECKF(file_has_prefix(cp, full, (size_t)h.end[j]),
                   "cut at %llu: committed bytes changed", (unsigned long long)c);
            st = open_mode(cp, KEEL_OPEN_READONLY, &s);
            CHECK_EQ(st, KEEL_OK);
            if (st == KEEL_OK) {
                MODEL_CHECK_PLUS(s, want, 1);
                CHECK_VALUE_S(s, "after", "cut");
                CHECK_OK(keel_verify(s, NULL));
                keel_free(s);
            }
        }
        if (h_failures() != fails_before) {
            fprintf(stderr, "  (cut at offset %llu of %zu, expecting the state after op %d "
                    "ending at %llu)\n", (unsigned long long)c, full_len, j,
                    (unsigned long long)h.end[j]);
            if (h_failures() > 40) break;
        }
    }
    printf("  alignment %u: %d cut points checked (%llu..%zu)\n", align, cuts,
           (unsigned long long)h.end[0], full_len);
    free(full);
}

static void test_truncate_every_offset_align64(void) { cut_every_offset(64); }
static void test_truncate_every_offset_align1(void) { cut_every_offset(1); }
static void test_truncate_every_offset_align8(void) { cut_every_offset(8); }

/* A file shorter than the header. 0 bytes is a new store for writable opens; anything
 * between 1 and 63 bytes is refused in every mode and left as it is. */
static void test_truncated_header(void) {
    const char *p = h_path("orig.keel"), *cp = h_path("cut.keel");
    keel_store *s;
    REQUIRE_OK(open_mode(p, KEEL_OPEN_NEW, &s));
    REQUIRE_OK(put_s(s, "a", "b"));
    keel_free(s);
    size_t n;
    uint8_t *full = read_file(p, &n);
    REQUIRE(full != NULL);
    for (size_t c = 1; c < 64; c++) {
        static const keel_open_mode modes[] = { KEEL_OPEN_READONLY, KEEL_OPEN_EXISTING,
                                                KEEL_OPEN_CREATE };
        for (size_t m = 0; m < 3; m++) {
            REQUIRE(write_file(cp, full, c) == 0);
            keel_status st = open_mode(cp, modes[m], &s);
            CHECKF(st < 0, "header cut at %zu, mode %d: %s", c, (int)modes[m], st_name(st));
            if (st == KEEL_OK) keel_free(s);
            if (st < 0) CHECK_ERRMSG();
            CHECKF(file_equals(cp, full, c), "header cut at %zu, mode %d: file changed", c,
                   (int)modes[m]);
        }
    }
    /* Exactly the header: a valid empty store. */
    REQUIRE(write_file(cp, full, 64) == 0);
    REQUIRE_OK(open_mode(cp, KEEL_OPEN_READONLY, &s));
    CHECK_EQ(count_of(s), 0);
    CHECK_ABSENT(s, "a", 1);
    keel_free(s);
    CHECK(file_equals(cp, full, 64));
    free(full);
}

/* ---- tails ------------------------------------------------------------------------------ */

typedef enum tail_kind {
    TAIL_ZEROS,
    TAIL_ZEROS_ODD,
    TAIL_ZEROS_BIG,
    TAIL_RANDOM,
    TAIL_RANDOM_SHORT,
    TAIL_HALF_ENTRY,
    TAIL_FOREIGN_ENTRY,
    TAIL_DUPLICATE_ENTRY,
    TAIL_HALF_BATCH,
    TAIL_KIND_COUNT
} tail_kind;

static const char *const tail_names[] = { "zeros", "13 zeros", "1 MiB of zeros", "random",
                                          "5 random bytes", "half an entry",
                                          "an entry of another store",
                                          "a duplicate of the last entry",
                                          "all of a batch but its last entry" };

static void test_garbage_tails(void) {
    const char *p = h_path("base.keel"), *cp = h_path("tail.keel"), *op = h_path("other.keel");
    keel_store *s;
    REQUIRE_OK(open_mode(p, KEEL_OPEN_NEW, &s));
    uint8_t v[300];
    for (int i = 0; i < 30; i++) {
        char k[8];
        snprintf(k, sizeof k, "t%d", i);
        pattern_fill((uint64_t)i, v, (size_t)(i * 9));
        REQUIRE_OK(keel_put(s, k, strlen(k), v, (size_t)(i * 9)));
    }
    REQUIRE_OK(keel_delete(s, "t3", 2));
    keel_entry last;
    REQUIRE_OK(keel_get_entry(s, "t29", 3, &last));
    keel_free(s);
    size_t base_len;
    uint8_t *base = read_file(p, &base_len);
    REQUIRE(base != NULL);

    /* Bytes of one more entry (and of a batch) appended to this store, and of an entry
     * of another store placed at the same offset. */
    REQUIRE(write_file(cp, base, base_len) == 0);
    REQUIRE_OK(open_mode(cp, KEEL_OPEN_EXISTING, &s));
    pattern_fill(999, v, 300);
    REQUIRE_OK(keel_put(s, "extra", 5, v, 300));
    keel_free(s);
    size_t ext_len;
    uint8_t *ext = read_file(cp, &ext_len);
    REQUIRE(ext && ext_len > base_len);
    REQUIRE(write_file(cp, base, base_len) == 0);
    REQUIRE_OK(open_mode(cp, KEEL_OPEN_EXISTING, &s));
    keel_kv items[3] = { { "b1", 2, v, 100 }, { "b2", 2, v, 200 }, { "b3", 2, v, 50 } };
    REQUIRE_OK(keel_put_batch(s, items, 3));
    keel_entry b3;
    REQUIRE_OK(keel_get_entry(s, "b3", 2, &b3));
    uint64_t b3_start = b3.entry_offset;
    keel_free(s);
    size_t bat_len;
    uint8_t *bat = read_file(cp, &bat_len);
    REQUIRE(bat && b3_start > base_len);
    /* Another store with the same history up to here, so offsets line up; only its
     * file_tag differs. */
    REQUIRE(write_file(op, "", 0) == 0);
    REQUIRE_OK(open_mode(op, KEEL_OPEN_EXISTING, &s));
    for (int i = 0; i < 30; i++) {
        char k[8];
        snprintf(k, sizeof k, "t%d", i);
        pattern_fill((uint64_t)i, v, (size_t)(i * 9));
        REQUIRE_OK(keel_put(s, k, strlen(k), v, (size_t)(i * 9)));
    }
    REQUIRE_OK(keel_delete(s, "t3", 2));
    pattern_fill(999, v, 300);
    REQUIRE_OK(keel_put(s, "extra", 5, v, 300));
    keel_free(s);
    size_t oth_len;
    uint8_t *oth = read_file(op, &oth_len);
    REQUIRE(oth && oth_len == ext_len);

    rng r = rng_seed(7);
    for (int kind = 0; kind < TAIL_KIND_COUNT; kind++) {
        size_t tlen = 0;
        uint8_t *tail = NULL;
        switch ((tail_kind)kind) {
        case TAIL_ZEROS: tlen = 4096; tail = calloc(1, tlen); break;
        case TAIL_ZEROS_ODD: tlen = 13; tail = calloc(1, tlen); break;
        case TAIL_ZEROS_BIG: tlen = 1 << 20; tail = calloc(1, tlen); break;
        case TAIL_RANDOM:
            tlen = 1000;
            tail = malloc(tlen);
            rng_fill(&r, tail, tlen);
            break;
        case TAIL_RANDOM_SHORT:
            tlen = 5;
            tail = malloc(tlen);
            rng_fill(&r, tail, tlen);
            break;
        case TAIL_HALF_ENTRY:
            tlen = (ext_len - base_len) / 2;
            tail = malloc(tlen);
            memcpy(tail, ext + base_len, tlen);
            break;
        case TAIL_FOREIGN_ENTRY:
            tlen = oth_len - base_len;
            tail = malloc(tlen);
            memcpy(tail, oth + base_len, tlen);
            break;
        case TAIL_DUPLICATE_ENTRY: /* the tombstone of t3, which follows t29 */
            tlen = base_len - (size_t)last.entry_end;
            tail = malloc(tlen);
            memcpy(tail, base + last.entry_end, tlen);
            break;
        case TAIL_HALF_BATCH:
            tlen = (size_t)(b3_start - base_len);
            tail = malloc(tlen);
            memcpy(tail, bat + base_len, tlen);
            break;
        case TAIL_KIND_COUNT: break;
        }
        REQUIRE(tail != NULL);
        size_t all_len = base_len + tlen;
        uint8_t *all = malloc(all_len);
        REQUIRE(all != NULL);
        memcpy(all, base, base_len);
        memcpy(all + base_len, tail, tlen);
        REQUIRE(write_file(cp, all, all_len) == 0);
        int fails_before = h_failures();

        for (int mode = 0; mode < 2; mode++) {
            keel_status st = open_mode(cp, mode ? KEEL_OPEN_EXISTING : KEEL_OPEN_READONLY, &s);
            CHECKF(st == KEEL_OK, "tail of %s, %s open: %s (%s)", tail_names[kind],
                   mode ? "writable" : "read-only", st_name(st), keel_errmsg());
            if (st != KEEL_OK) continue;
            for (int i = 0; i < 30; i++) {
                char k[8];
                snprintf(k, sizeof k, "t%d", i);
                pattern_fill((uint64_t)i, v, (size_t)(i * 9));
                if (i == 3) CHECK_ABSENT(s, k, strlen(k));
                else CHECK_VALUE(s, k, strlen(k), v, (size_t)(i * 9));
            }
            CHECK_ABSENT(s, "extra", 5);
            CHECK_ABSENT(s, "b1", 2);
            CHECK_ABSENT(s, "b2", 2);
            CHECK_EQ(count_of(s), 29);
            CHECK_EQ(fsize_of(s), base_len);
            if (mode == 0) {
                keel_free(s);
                CHECKF(file_equals(cp, all, all_len), "tail of %s: read-only open changed the file",
                       tail_names[kind]);
            } else {
                CHECK_EQ(file_size(cp), (long long)base_len);
                CHECK_OK(put_s(s, "new", "value"));
                keel_free(s);
                REQUIRE_OK(open_mode(cp, KEEL_OPEN_READONLY, &s));
                CHECK_VALUE_S(s, "new", "value");
                CHECK_EQ(count_of(s), 30);
                CHECK_OK(keel_verify(s, NULL));
                keel_free(s);
            }
        }
        if (h_failures() != fails_before)
            fprintf(stderr, "  (failures above: tail of %s)\n", tail_names[kind]);
        free(all);
        free(tail);
    }
    free(base);
    free(ext);
    free(bat);
    free(oth);
}

int main(int argc, char **argv) {
    static const h_test tests[] = {
        H_TEST(test_truncate_every_offset_align64),
        H_TEST(test_truncate_every_offset_align1),
        H_TEST(test_truncate_every_offset_align8),
        H_TEST(test_truncated_header),
        H_TEST(test_garbage_tails),
    };
    return h_main(argc, argv, tests, H_COUNT(tests));
}
