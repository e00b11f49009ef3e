/*
 * test_powerloss.c: the power-loss simulator (powerloss.h) run on the DataStore and on
 * record files.
 *
 * Each workload runs once with os.c recording, noting every acknowledged operation; then
 * every crash point of its log is checked with random disk states (and the two extreme
 * ones). The invariants, for every state:
 *   - the file opens (read-only, then writable): nothing recovery should handle fails;
 *   - DataStore: the contents equal the model after the acknowledged operations, or after
 *     the one in progress (every operation ran under KEEL_SYNC_DATA, so what returned is
 *     durable; a batch, rename or delete batch shows all of its effects or none);
 *   - whatever recovery cut is in the side file it names, byte for byte, and the report
 *     accounts for every byte past the kept end; a store reopened after recovery reports
 *     nothing and takes new writes;
 *   - record files: the records of every acknowledged flush or close come first, in order,
 *     and the rest are records the workload wrote, in order; appending then works, and the
 *     default (error) reader reads everything to the appended record without an error.
 * KEEL_POWERLOSS_STATES (default 6) sets the random states per crash point,
 * KEEL_POWERLOSS_SEED the seed; e.g. KEEL_POWERLOSS_STATES=300 for a long run.
 * KEEL_POWERLOSS_KEEP=FILE copies a DataStore state that fails to open there, to look at.
 */
#include "powerloss.h"

#include "keel_records.h"

/* ---- the DataStore --------------------------------------------------------------------- */

#define DS_KEYS 16
#define DS_MAX_OPS 32

typedef struct ds_val {
    bool present;
    uint64_t seed;
    uint32_t len;
} ds_val;

typedef struct ds_work {
    const char *name;            /* store file name */
    uint32_t align;
    ds_val model[DS_MAX_OPS + 1][DS_KEYS];  /* model[n]: after n acknowledged operations */
    unsigned nops;
    keel_store *s;
    size_t checked;
} ds_work;

static void ds_key(int k, char *out) { snprintf(out, 16, "k%d", k); }

/* Note an acknowledged operation: the model carries over, then `edit` changes it. */
static ds_val *ds_ack(ds_work *w) {
    w->nops++;
    if (w->nops > DS_MAX_OPS) abort();  /* the workload outgrew the model */
    memcpy(w->model[w->nops], w->model[w->nops - 1], sizeof w->model[0]);
    return w->model[w->nops];
}

static uint8_t *ds_value(uint64_t seed, uint32_t len) {
    uint8_t *v = malloc(len ? len : 1);
    if (v) pattern_fill(seed, v, len);
    return v;
}

/* Does the store hold exactly model[j]? */
static bool ds_matches(keel_store *s, const ds_val *m) {
    uint64_t n = 0, want = 0;
    if (keel_count(s, &n) != KEEL_OK) return false;
    for (int k = 0; k < DS_KEYS; k++) {
        char key[16];
        ds_key(k, key);
        keel_view v;
        keel_status st = keel_get(s, key, strlen(key), &v);
        if (!m[k].present) {
            if (st != KEEL_NOTFOUND) return false;
            continue;
        }
        want++;
        if (st != KEEL_OK || v.len != m[k].len) return false;
        uint8_t *e = ds_value(m[k].seed, m[k].len);
        bool eq = e && memcmp(e, v.data, v.len) == 0;
        free(e);
        if (!eq) return false;
    }
    return n == want;
}

/* Which model the store matches among those allowed at this crash point, or -1. */
static int ds_which(ds_work *w, keel_store *s, uint64_t acked) {
    for (uint64_t j = acked; j <= acked + 1 && j <= w->nops; j++)
        if (ds_matches(s, w->model[j])) return (int)j;
    return -1;
}

static void ds_check(void *ctx, const char *dir, uint64_t acked, size_t point, const char *state) {
    ds_work *w = ctx;
    (void)point;
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, w->name);
    w->checked++;
    if (!file_exists(path)) {
        CHECKF(acked == 0, "%s: the store is gone after %llu acknowledged operations", state,
               (unsigned long long)acked);
        return;
    }
    size_t n = 0;
    uint8_t *orig = read_file(path, &n);
    REQUIRE(orig != NULL);
    keel_store *s;
    keel_status st = open_mode(path, KEEL_OPEN_READONLY, &s);
    CHECKF(st == KEEL_OK, "%s: read-only open: %s: %s", state, st_name(st), keel_errmsg());
    if (st != KEEL_OK && getenv("KEEL_POWERLOSS_KEEP")) write_file(getenv("KEEL_POWERLOSS_KEEP"), orig, n);
    int ro_j = -1;
    if (st == KEEL_OK) {
        ro_j = ds_which(w, s, acked);
        CHECKF(ro_j >= 0, "%s: read-only open shows neither the state after %llu operations "
               "nor the next", state, (unsigned long long)acked);
        keel_free(s);
    }
    keel_options o = KEEL_OPTIONS_INIT;
    o.mode = KEEL_OPEN_EXISTING;   /* KEEL_SYNC_NONE: the checker needs no durability */
    st = keel_open(path, &o, &s);
    CHECKF(st == KEEL_OK, "%s: writable open: %s: %s", state, st_name(st), keel_errmsg());
    if (st != KEEL_OK) {
        free(orig);
        return;
    }
    int j = ds_which(w, s, acked);
    CHECKF(j >= 0 && (ro_j < 0 || j == ro_j), "%s: writable open shows state %d (read-only %d), "
           "want %llu or the next", state, j, ro_j, (unsigned long long)acked);
    keel_recovery r;
    CHECK_OK(keel_recovery_info(s, &r));
    CHECKF(r.valid_end + r.cut_bytes == n, "%s: report %llu + %llu bytes, file %zu", state,
           (unsigned long long)r.valid_end, (unsigned long long)r.cut_bytes, n);
    if (r.cut_bytes) {
        CHECKF(r.cut && r.saved_path && r.kind != KEEL_RECOVERY_NONE, "%s: cut not saved", state);
        if (r.saved_path && r.valid_end <= n)
            CHECKF(file_equals(r.saved_path, orig + r.valid_end, (size_t)(n - r.valid_end)),
                   "%s: %s does not hold the cut bytes", state, r.saved_path);
    } else {
        CHECK(r.kind == KEEL_RECOVERY_NONE && !r.cut && !r.saved_path);
    }
    CHECK_OK(put_s(s, "after", "crash"));
    keel_free(s);
    st = open_mode(path, KEEL_OPEN_READONLY, &s);
    CHECKF(st == KEEL_OK, "%s: reopen: %s", state, st_name(st));
    if (st == KEEL_OK) {
        CHECK_VALUE_S(s, "after", "crash");
        CHECK_OK(keel_recovery_info(s, &r));
        CHECK(r.kind == KEEL_RECOVERY_NONE);
        keel_free(s);
    }
    free(orig);
}

static void ds_put(ds_work *w, int k, uint64_t seed, uint32_t len) {
    char key[16];
    ds_key(k, key);
    uint8_t *v = ds_value(seed, len);
    REQUIRE(v != NULL);
    keel_status st = keel_put(w->s, key, strlen(key), v, len);
    free(v);
    REQUIRE_OK(st);
    ds_val *m = ds_ack(w);
    m[k] = (ds_val){true, seed, len};
    pl_ack(w->nops);
}

static void ds_batch(ds_work *w, const int *ks, const uint32_t *lens, size_t n, uint64_t seed) {
    keel_kv kv[8];
    char keys[8][16];
    uint8_t *vals[8];
    for (size_t i = 0; i < n; i++) {
        ds_key(ks[i], keys[i]);
        vals[i] = ds_value(seed + i, lens[i]);
        kv[i] = (keel_kv){keys[i], strlen(keys[i]), vals[i], lens[i]};
    }
    keel_status st = keel_put_batch(w->s, kv, n);
    for (size_t i = 0; i < n; i++) free(vals[i]);
    REQUIRE_OK(st);
    ds_val *m = ds_ack(w);
    for (size_t i = 0; i < n; i++) m[ks[i]] = (ds_val){true, seed + i, lens[i]};
    pl_ack(w->nops);
}

static void ds_del(ds_work *w, int k) {
    char key[16];
    ds_key(k, key);
    REQUIRE_OK(keel_delete(w->s, key, strlen(key)));
    ds_ack(w)[k].present = false;
    pl_ack(w->nops);
}

static void ds_del_batch(ds_work *w, int a, int b) {
    char ka[16], kb[16];
    ds_key(a, ka);
    ds_key(b, kb);
    keel_view keys[2] = {{(const uint8_t *)ka, strlen(ka)}, {(const uint8_t *)kb, strlen(kb)}};
    size_t deleted = 0;
    REQUIRE_OK(keel_delete_batch(w->s, keys, 2, &deleted));
    ds_val *m = ds_ack(w);
    m[a].present = m[b].present = false;
    pl_ack(w->nops);
}

static void ds_rename(ds_work *w, int from, int to) {
    char a[16], b[16];
    ds_key(from, a);
    ds_key(to, b);
    REQUIRE_OK(keel_rename(w->s, a, strlen(a), b, strlen(b)));
    ds_val *m = ds_ack(w);
    m[to] = m[from];
    m[from].present = false;
    pl_ack(w->nops);
}

static void ds_stream(ds_work *w, int k, uint64_t seed, uint32_t len) {
    uint8_t *v = ds_value(seed, len);
    REQUIRE(v != NULL);
    keel_stream *st;
    REQUIRE_OK(keel_stream_begin(w->s, &st));
    for (uint32_t off = 0; off < len; off += 10000) {
        uint32_t c = len - off < 10000 ? len - off : 10000;
        REQUIRE_OK(keel_stream_write(st, v + off, c));
    }
    char key[16];
    ds_key(k, key);
    keel_status s2 = keel_stream_commit(st, key, strlen(key));
    free(v);
    REQUIRE_OK(s2);
    ds_ack(w)[k] = (ds_val){true, seed, len};
    pl_ack(w->nops);
}

static void ds_same(ds_work *w) {  /* an operation that changes no content */
    ds_ack(w);
    pl_ack(w->nops);
}

static void ds_open(ds_work *w, const char *path, keel_open_mode mode) {
    keel_options o = KEEL_OPTIONS_INIT;
    o.mode = mode;
    o.sync = KEEL_SYNC_DATA;
    o.alignment = w->align;
    REQUIRE_OK(keel_open(path, &o, &w->s));
    ds_same(w);
}

static void ds_report(const char *what, pl_stats st, double t0, size_t checked) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    printf("  %s: %zu crash points, %zu disk states checked (%zu), %.2f s\n", what, st.points,
           st.states, checked, (double)ts.tv_sec + ts.tv_nsec / 1e9 - t0);
}

static double pl_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Single writes, batches, deletes, a streamed value, a rename, compaction, close and
 * reopen, all under KEEL_SYNC_DATA. */
static void store_workload(uint32_t align, uint64_t seed) {
    static ds_work w;
    memset(&w, 0, sizeof w);
    w.name = "s.keel";
    w.align = align;
    char wd[4400], sd[4400];
    snprintf(wd, sizeof wd, "%s/work", h_dir);
    snprintf(sd, sizeof sd, "%s/state", h_dir);
    REQUIRE(mkdir(wd, 0755) == 0);
    char path[4500];
    snprintf(path, sizeof path, "%s/%s", wd, w.name);
    double t0 = pl_now();

    keel__os_record_start();
    ds_open(&w, path, KEEL_OPEN_NEW);
    ds_put(&w, 0, 1, 10);
    ds_put(&w, 1, 2, 5000);
    ds_batch(&w, (int[]){2, 3, 4}, (uint32_t[]){3000, 3000, 100}, 3, 10);
    ds_put(&w, 0, 3, 7000);
    ds_del(&w, 1);
    ds_stream(&w, 5, 4, 40000);
    ds_rename(&w, 2, 6);
    ds_del_batch(&w, 3, 4);
    REQUIRE_OK(keel_compact(w.s, NULL, NULL));
    ds_same(&w);
    ds_put(&w, 7, 5, 2000);
    ds_batch(&w, (int[]){8, 0}, (uint32_t[]){9000, 50}, 2, 20);
    REQUIRE_OK(keel_close(w.s));
    keel_free(w.s);
    ds_same(&w);
    ds_open(&w, path, KEEL_OPEN_EXISTING);
    ds_put(&w, 9, 6, 100);
    REQUIRE_OK(keel_compact(w.s, NULL, NULL));
    ds_same(&w);
    ds_put(&w, 10, 7, 300);
    REQUIRE_OK(keel_close(w.s));
    keel_free(w.s);
    ds_same(&w);

    pl_stats st = pl_run(wd, sd, pl_states_per_point(6), seed, ds_check, &w);
    char what[64];
    snprintf(what, sizeof what, "DataStore, alignment %u", align);
    ds_report(what, st, t0, w.checked);
    CHECK(st.points > 40);
}

static void test_store_align64(void) { store_workload(64, 64); }
static void test_store_align4096(void) { store_workload(4096, 4096); }

/* A streamed value larger than the in-memory staging limit: staged in a temporary file,
 * copied into the store at commit. */
static void test_store_big_stream(void) {
    static ds_work w;
    memset(&w, 0, sizeof w);
    w.name = "b.keel";
    w.align = 64;
    char wd[4400], sd[4400], path[4500];
    snprintf(wd, sizeof wd, "%s/work", h_dir);
    snprintf(sd, sizeof sd, "%s/state", h_dir);
    REQUIRE(mkdir(wd, 0755) == 0);
    snprintf(path, sizeof path, "%s/%s", wd, w.name);
    double t0 = pl_now();
    keel__os_record_start();
    ds_open(&w, path, KEEL_OPEN_NEW);
    ds_put(&w, 0, 1, 100);
    ds_stream(&w, 1, 2, (1u << 20) + 5000);
    ds_put(&w, 2, 3, 100);
    REQUIRE_OK(keel_close(w.s));
    keel_free(w.s);
    ds_same(&w);
    unsigned states = pl_states_per_point(6) / 3;
    pl_stats st = pl_run(wd, sd, states ? states : 1, 7, ds_check, &w);
    ds_report("DataStore, 1 MiB stream", st, t0, w.checked);
}

/* ---- record files ------------------------------------------------------------------------ */

#define RW_MAX 256

typedef struct rw_work {
    const char *name;
    unsigned durable[16];    /* records durable after n acknowledged operations */
    unsigned nops, total;
    size_t checked;
} rw_work;

static size_t rw_len(unsigned i) { return i % 7 == 3 ? 5000 + i : (i * 2654435761u) % 3000; }
static void rw_fill(uint8_t *b, unsigned i, size_t n) {
    for (size_t j = 0; j < n; j++) b[j] = (uint8_t)(i * 31 + j * 7 + 1);
}
static bool rw_is(const keel_rec_record *r, unsigned i) {
    static uint8_t buf[8000];
    size_t n = rw_len(i);
    rw_fill(buf, i, n);
    return r->len == n && memcmp(r->data, buf, n) == 0;
}

static void rw_ack(rw_work *w, unsigned durable) {
    w->nops++;
    w->durable[w->nops] = durable;
    pl_ack(w->nops);
}

static void rw_write(keel_rec_writer *wr, rw_work *w, unsigned n) {
    static uint8_t buf[8000];
    for (unsigned k = 0; k < n; k++, w->total++) {
        rw_fill(buf, w->total, rw_len(w->total));
        REQUIRE(keel_rec_writer_write(wr, buf, rw_len(w->total)) == KEEL_OK);
    }
}

static const uint8_t marker[] = "appended after the crash";

static void rw_check(void *ctx, const char *dir, uint64_t acked, size_t point, const char *state) {
    rw_work *w = ctx;
    (void)point;
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, w->name);
    w->checked++;
    if (!file_exists(path)) {
        CHECKF(acked == 0, "%s: the file is gone after %llu acknowledged operations", state,
               (unsigned long long)acked);
        return;
    }
    unsigned must = w->durable[acked];
    size_t n = 0;
    uint8_t *orig = read_file(path, &n);
    REQUIRE(orig != NULL);
    /* Recover strategy: the durable records first, then only records written, in order. */
    keel_rec_reader_options ro = {KEEL_REC_RECOVER};
    keel_rec_reader *r;
    keel_status st = keel_rec_reader_open(path, &ro, &r);
    CHECKF(st == KEEL_OK || acked == 0, "%s: reader open: %s", state, keel_errmsg());
    if (st == KEEL_OK) {
        keel_rec_record rec;
        unsigned got = 0, next = 0;
        while ((st = keel_rec_reader_next(r, &rec)) == KEEL_OK) {
            if (got < must) {
                CHECKF(rw_is(&rec, got), "%s: durable record %u differs", state, got);
                next = got + 1;
            } else {
                while (next < w->total && !rw_is(&rec, next)) next++;
                CHECKF(next < w->total, "%s: record %u is not one written", state, got);
                next++;
            }
            got++;
        }
        CHECKF(got >= must, "%s: %u records read, %u were durable", state, got, must);
        keel_rec_reader_close(r);
    }
    /* Appending works, and then the default reader reads everything without an error. */
    keel_rec_writer_options o = KEEL_REC_WRITER_OPTIONS_INIT;
    o.append = 1;   /* no sync: the checker needs no durability, and fsyncs are slow */
    keel_rec_writer *wr;
    st = keel_rec_writer_open(path, &o, &wr);
    CHECKF(st == KEEL_OK, "%s: append open: %s", state, keel_errmsg());
    if (st != KEEL_OK) {
        free(orig);
        return;
    }
    keel_recovery rep;
    CHECK(keel_rec_writer_recovery(wr, &rep) == KEEL_OK);
    if (rep.cut_bytes) {
        CHECKF(rep.saved_path && rep.valid_end + rep.cut_bytes == n, "%s: cut not accounted", state);
        if (rep.saved_path && rep.valid_end <= n)
            CHECKF(file_equals(rep.saved_path, orig + rep.valid_end, (size_t)(n - rep.valid_end)),
                   "%s: %s does not hold the cut bytes", state, rep.saved_path);
    }
    CHECK(keel_rec_writer_write(wr, marker, sizeof marker) == KEEL_OK);
    CHECK(keel_rec_writer_close(wr) == KEEL_OK);
    keel_rec_reader_options eo = {KEEL_REC_ERROR};
    st = keel_rec_reader_open(path, &eo, &r);
    CHECKF(st == KEEL_OK, "%s: reopen: %s", state, keel_errmsg());
    if (st == KEEL_OK) {
        keel_rec_record rec;
        unsigned got = 0;
        bool last_is_marker = false;
        while ((st = keel_rec_reader_next(r, &rec)) == KEEL_OK) {
            if (got < must) CHECKF(rw_is(&rec, got), "%s: after append, record %u differs", state, got);
            last_is_marker = rec.len == sizeof marker && memcmp(rec.data, marker, sizeof marker) == 0;
            got++;
        }
        CHECKF(st == KEEL_NOTFOUND, "%s: after append the reader stops with %d: %s", state,
               (int)st, keel_errmsg());
        CHECKF(got > must && last_is_marker, "%s: after append: %u records, marker %d", state,
               got, last_is_marker);
        keel_rec_reader_close(r);
    }
    free(orig);
}

/* Write and flush, close, reopen for append, write and flush, close; KEEL_SYNC_DATA. */
static void test_record_file(void) {
    static rw_work w;
    memset(&w, 0, sizeof w);
    w.name = "r.rec";
    char wd[4400], sd[4400], path[4500];
    snprintf(wd, sizeof wd, "%s/work", h_dir);
    snprintf(sd, sizeof sd, "%s/state", h_dir);
    REQUIRE(mkdir(wd, 0755) == 0);
    snprintf(path, sizeof path, "%s/%s", wd, w.name);
    double t0 = pl_now();
    keel__os_record_start();
    keel_rec_writer_options o = KEEL_REC_WRITER_OPTIONS_INIT;
    o.sync = KEEL_SYNC_DATA;
    o.chunk_size = 40000;
    keel_rec_writer *wr;
    REQUIRE(keel_rec_writer_open(path, &o, &wr) == KEEL_OK);
    rw_ack(&w, 0);
    rw_write(wr, &w, 30);
    REQUIRE(keel_rec_writer_flush(wr) == KEEL_OK);
    rw_ack(&w, w.total);
    rw_write(wr, &w, 40);          /* several chunks, across a 64 KiB block boundary */
    REQUIRE(keel_rec_writer_flush(wr) == KEEL_OK);
    rw_ack(&w, w.total);
    rw_write(wr, &w, 10);
    REQUIRE(keel_rec_writer_close(wr) == KEEL_OK);
    rw_ack(&w, w.total);
    o.append = 1;
    REQUIRE(keel_rec_writer_open(path, &o, &wr) == KEEL_OK);
    rw_ack(&w, w.total);
    rw_write(wr, &w, 25);
    REQUIRE(keel_rec_writer_flush(wr) == KEEL_OK);
    rw_ack(&w, w.total);
    rw_write(wr, &w, 5);
    REQUIRE(keel_rec_writer_close(wr) == KEEL_OK);
    rw_ack(&w, w.total);
    pl_stats st = pl_run(wd, sd, pl_states_per_point(6), 99, rw_check, &w);
    ds_report("record file", st, t0, w.checked);
    CHECK(st.points > 10);
}

/* ---- keel_move between two stores ------------------------------------------------------- */

/* The source syncs every write (KEEL_SYNC_DATA), the target does not (KEEL_SYNC_NONE). A
 * move's delete in the source is then durable at once; unless the copy in the target is
 * made durable first, a power loss can leave the value in neither store, though keel.h
 * promises "in both, never in neither". Each acknowledged move must find its value in the
 * target or, failing that, still in the source. */
#define MV_KEYS 4

typedef struct mv_work {
    size_t checked;
} mv_work;

static void mv_check(void *ctx, const char *dir, uint64_t acked, size_t point, const char *state) {
    mv_work *w = ctx;
    (void)point;
    w->checked++;
    char src[4400], dst[4400];
    snprintf(src, sizeof src, "%s/src.keel", dir);
    snprintf(dst, sizeof dst, "%s/dst.keel", dir);
    keel_store *a = NULL, *b = NULL;
    if (acked < 2) return;  /* acks 1 and 2: both stores open, the values put */
    CHECKF(open_mode(src, KEEL_OPEN_READONLY, &a) == KEEL_OK, "%s: source: %s", state,
           keel_errmsg());
    if (file_exists(dst))
        CHECKF(open_mode(dst, KEEL_OPEN_READONLY, &b) == KEEL_OK, "%s: target: %s", state,
               keel_errmsg());
    for (uint64_t k = 0; a && k < MV_KEYS && k + 3 <= acked; k++) {
        char key[16];
        snprintf(key, sizeof key, "m%u", (unsigned)k);
        keel_view v;
        bool in_src = keel_get(a, key, strlen(key), &v) == KEEL_OK;
        bool in_dst = b && keel_get(b, key, strlen(key), &v) == KEEL_OK;
        CHECKF(in_src || in_dst, "%s: after %llu acknowledged operations, moved key %s is in "
               "neither store", state, (unsigned long long)acked, key);
    }
    keel_free(a);
    keel_free(b);
}

static void test_move_between_stores(void) {
    static mv_work w;
    memset(&w, 0, sizeof w);
    char wd[4400], sd[4400], src[4500], dst[4500];
    snprintf(wd, sizeof wd, "%s/work", h_dir);
    snprintf(sd, sizeof sd, "%s/state", h_dir);
    REQUIRE(mkdir(wd, 0755) == 0);
    snprintf(src, sizeof src, "%s/src.keel", wd);
    snprintf(dst, sizeof dst, "%s/dst.keel", wd);
    double t0 = pl_now();
    keel__os_record_start();
    keel_store *a, *b;
    REQUIRE_OK(open_opts(src, KEEL_OPEN_NEW, 64, KEEL_SYNC_DATA, 0, &a));
    REQUIRE_OK(open_opts(dst, KEEL_OPEN_NEW, 64, KEEL_SYNC_NONE, 0, &b));
    pl_ack(1);
    for (unsigned k = 0; k < MV_KEYS; k++) {
        char key[16], val[64];
        snprintf(key, sizeof key, "m%u", k);
        snprintf(val, sizeof val, "value of %u, long enough to span a sector? no", k);
        REQUIRE_OK(put_s(a, key, val));
    }
    pl_ack(2);
    for (unsigned k = 0; k < MV_KEYS; k++) {
        char key[16];
        snprintf(key, sizeof key, "m%u", k);
        REQUIRE_OK(keel_move(a, key, strlen(key), b, key, strlen(key)));
        pl_ack(3 + k);
    }
    keel_free(b);
    keel_free(a);
    pl_stats st = pl_run(wd, sd, pl_states_per_point(6), 5, mv_check, &w);
    ds_report("keel_move, source synced, target not", st, t0, w.checked);
    CHECK(st.points > 8);
}

int main(int argc, char **argv) {
    static const h_test tests[] = {
        H_TEST(test_store_align64),
        H_TEST(test_store_align4096),
        H_TEST(test_store_big_stream),
        H_TEST(test_record_file),
        H_TEST(test_move_between_stores),
    };
    return h_main(argc, argv, tests, H_COUNT(tests));
}
