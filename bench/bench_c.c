/*
 * bench_c.c: keel against LMDB on the same workload, in the same run.
 *
 * The workload is the one of LevelDB's db_bench and of the LMDB author's comparisons:
 * N keys of 16 random bytes, values of 100 random bytes, all from a fixed-seed splitmix64
 * stream, so every run on every machine stores the same bytes. Each repetition runs, for
 * keel and then for LMDB:
 *   put        one key per call (keel_put, KEEL_SYNC_NONE) / one write txn per key
 *   batch put  keel_put_batch of 1000 / one write txn per 1000 keys
 *   open       keel_open of the populated file / mdb_env_open + the first txn
 *   get        every key once, in a random order: keel_get (zero-copy) summing the value's
 *              bytes / mdb_get in one read txn summing the bytes
 *   get copy   keel_get_copy into a buffer / mdb_get + memcpy, summing the buffer
 *   iterate    keel_iter_new + keel_iter_next / an LMDB cursor, summing key and value bytes
 * and the median of the repetitions is printed side by side with the ratio.
 *
 * Durability: neither engine calls fsync in these workloads (keel KEEL_SYNC_NONE, LMDB
 * MDB_NOSYNC: its commit still writes the pages, the same work keel's pwrite does).
 * The page cache is warm: the files were just written and the page cache is not dropped
 * (that needs root); before the read workloads one untimed scan faults the mapping in, for
 * both engines. Sums are checked against the expected totals, so a lookup that returned
 * the wrong bytes fails the run instead of flattering it.
 *
 * --open-sizes 1000000,10000000 also times keel_open (one pass over the trailers plus the
 * index build) of stores of those sizes; --open-only skips the comparison.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "keel.h"

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <lmdb.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define KEY_LEN 16u
#define VAL_LEN 100u
#define BATCH 1000u
#define SEED 0x6b65656c62656e63ull /* "keelbenc" */
#define MAX_REPS 101
#define MAX_OPEN_SIZES 16

/* ---- small helpers -------------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void fill_random(uint64_t *state, uint8_t *p, size_t len) {
    while (len >= 8) {
        uint64_t r = splitmix64(state);
        memcpy(p, &r, 8);
        p += 8;
        len -= 8;
    }
    if (len) {
        uint64_t r = splitmix64(state);
        memcpy(p, &r, len);
    }
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Sum of the bytes: the "use the value" step of every read workload. */
static inline uint64_t touch(const uint8_t *p, size_t len) {
    uint64_t s = 0;
    for (size_t i = 0; i < len; i++) s += p[i];
    return s;
}

static volatile uint64_t g_sink;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("bench_c: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(3);
}

static void kcheck(keel_status st, const char *what) {
    if (st != KEEL_OK)
        die("%s: %s (%d): %s", what, keel_strerror(st), (int)st, keel_errmsg());
}

static void mcheck(int rc, const char *what) {
    if (rc != MDB_SUCCESS) die("%s: %s", what, mdb_strerror(rc));
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n) {
    double tmp[MAX_REPS];
    memcpy(tmp, v, (size_t)n * sizeof *v);
    qsort(tmp, (size_t)n, sizeof *tmp, cmp_double);
    return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

static uint64_t file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* ---- the work directory: created by us (removed whole at exit) or given (only our
 * files are removed) ---------------------------------------------------------------- */

static char g_dir[4096];
static bool g_dir_ours;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void cleanup(void) {
    if (g_dir_ours && g_dir[0]) nftw(g_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void path_in_dir(char *out, size_t cap, const char *name) {
    if ((size_t)snprintf(out, cap, "%s/%s", g_dir, name) >= cap) die("path too long");
}

/* Remove a keel file or an LMDB file and its "-lock" companion. */
static void remove_store(const char *path) {
    char lock[4300];
    unlink(path);
    snprintf(lock, sizeof lock, "%s-lock", path);
    unlink(lock);
}

/* ---- the data set ---------------------------------------------------------------------- */

typedef struct dataset {
    size_t n;
    uint8_t *keys;      /* n * KEY_LEN */
    uint8_t *vals;      /* n * VAL_LEN */
    uint32_t *order;    /* a random permutation of 0..n-1, for the gets */
    keel_kv *kv;        /* keel's view of the pairs, for the batches */
    uint64_t key_sum;   /* sum of all key bytes */
    uint64_t val_sum;   /* sum of all value bytes */
} dataset;

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) die("out of memory (%zu bytes)", n);
    return p;
}

static void dataset_make(dataset *d, size_t n) {
    uint64_t st = SEED;
    d->n = n;
    d->keys = xmalloc(n * KEY_LEN);
    d->vals = xmalloc(n * VAL_LEN);
    d->order = xmalloc(n * sizeof *d->order);
    d->kv = xmalloc(n * sizeof *d->kv);
    fill_random(&st, d->keys, n * KEY_LEN);
    fill_random(&st, d->vals, n * VAL_LEN);
    d->key_sum = touch(d->keys, n * KEY_LEN);
    d->val_sum = touch(d->vals, n * VAL_LEN);
    for (size_t i = 0; i < n; i++) {
        d->order[i] = (uint32_t)i;
        d->kv[i] = (keel_kv){d->keys + i * KEY_LEN, KEY_LEN, d->vals + i * VAL_LEN, VAL_LEN};
    }
    for (size_t i = n; i > 1; i--) { /* Fisher-Yates */
        size_t j = (size_t)(splitmix64(&st) % i);
        uint32_t t = d->order[i - 1];
        d->order[i - 1] = d->order[j];
        d->order[j] = t;
    }
}

static void dataset_free(dataset *d) {
    free(d->keys);
    free(d->vals);
    free(d->order);
    free(d->kv);
}

static const uint8_t *key_at(const dataset *d, size_t i) { return d->keys + i * KEY_LEN; }
static const uint8_t *val_at(const dataset *d, size_t i) { return d->vals + i * VAL_LEN; }

/* ---- keel workloads -------------------------------------------------------------------- */

static keel_store *keel_open_path(const char *path, keel_open_mode mode) {
    keel_options o = KEEL_OPTIONS_INIT;
    keel_store *s = NULL;
    o.mode = mode;
    o.sync = KEEL_SYNC_NONE;
    kcheck(keel_open(path, &o, &s), "keel_open");
    return s;
}

static double keel_put_single(const dataset *d, const char *path) {
    remove_store(path);
    keel_store *s = keel_open_path(path, KEEL_OPEN_NEW);
    double t0 = now();
    for (size_t i = 0; i < d->n; i++)
        kcheck(keel_put(s, key_at(d, i), KEY_LEN, val_at(d, i), VAL_LEN), "keel_put");
    double t = now() - t0;
    kcheck(keel_close(s), "keel_close");
    keel_free(s);
    return t;
}

static double keel_put_batched(const dataset *d, const char *path) {
    remove_store(path);
    keel_store *s = keel_open_path(path, KEEL_OPEN_NEW);
    double t0 = now();
    for (size_t i = 0; i < d->n; i += BATCH) {
        size_t m = d->n - i < BATCH ? d->n - i : BATCH;
        kcheck(keel_put_batch(s, d->kv + i, m), "keel_put_batch");
    }
    double t = now() - t0;
    kcheck(keel_close(s), "keel_close");
    keel_free(s);
    return t;
}

static double keel_time_open(const char *path, keel_store **out) {
    double t0 = now();
    keel_store *s = keel_open_path(path, KEEL_OPEN_EXISTING);
    double t = now() - t0;
    *out = s;
    return t;
}

static void keel_check_count(keel_store *s, uint64_t want) {
    uint64_t c = 0;
    kcheck(keel_count(s, &c), "keel_count");
    if (c != want) die("keel_count: %" PRIu64 " live keys, expected %" PRIu64, c, want);
}

static double keel_iterate(keel_store *s, const dataset *d) {
    double t0 = now();
    keel_iter *it = NULL;
    keel_view k, v;
    keel_status st;
    uint64_t sum = 0, count = 0;
    kcheck(keel_iter_new(s, &it), "keel_iter_new");
    while ((st = keel_iter_next(it, &k, &v)) == KEEL_OK) {
        sum += touch(k.data, k.len) + touch(v.data, v.len);
        count++;
    }
    keel_iter_free(it);
    double t = now() - t0;
    if (st != KEEL_NOTFOUND) kcheck(st, "keel_iter_next");
    if (count != d->n || sum != d->key_sum + d->val_sum)
        die("keel iteration: %" PRIu64 " entries, sum %" PRIu64 "; expected %zu, %" PRIu64, count,
            sum, d->n, d->key_sum + d->val_sum);
    g_sink += sum;
    return t;
}

static double keel_get_view(keel_store *s, const dataset *d) {
    uint64_t sum = 0;
    double t0 = now();
    for (size_t i = 0; i < d->n; i++) {
        keel_view v;
        kcheck(keel_get(s, key_at(d, d->order[i]), KEY_LEN, &v), "keel_get");
        sum += touch(v.data, v.len);
    }
    double t = now() - t0;
    if (sum != d->val_sum) die("keel_get: value sum %" PRIu64 ", expected %" PRIu64, sum, d->val_sum);
    g_sink += sum;
    return t;
}

static double keel_get_copied(keel_store *s, const dataset *d) {
    uint64_t sum = 0;
    uint8_t buf[256];
    double t0 = now();
    for (size_t i = 0; i < d->n; i++) {
        size_t len = 0;
        kcheck(keel_get_copy(s, key_at(d, d->order[i]), KEY_LEN, buf, sizeof buf, &len),
               "keel_get_copy");
        sum += touch(buf, len);
    }
    double t = now() - t0;
    if (sum != d->val_sum)
        die("keel_get_copy: value sum %" PRIu64 ", expected %" PRIu64, sum, d->val_sum);
    g_sink += sum;
    return t;
}

/* ---- LMDB workloads -------------------------------------------------------------------- */

typedef struct lmdb_db {
    MDB_env *env;
    MDB_dbi dbi;
} lmdb_db;

static size_t lmdb_mapsize(size_t n) {
    /* Address space only (the file grows as pages are written): generous for a B-tree of
     * 124-byte nodes built in random order, plus the free pages of per-key txns. */
    size_t sz = n * 1024u + ((size_t)256 << 20);
    return sz;
}

static void lmdb_open(lmdb_db *l, const char *path, size_t n) {
    mcheck(mdb_env_create(&l->env), "mdb_env_create");
    mcheck(mdb_env_set_mapsize(l->env, lmdb_mapsize(n)), "mdb_env_set_mapsize");
    mcheck(mdb_env_open(l->env, path, MDB_NOSUBDIR | MDB_NOSYNC, 0644), "mdb_env_open");
    MDB_txn *txn;
    mcheck(mdb_txn_begin(l->env, NULL, MDB_RDONLY, &txn), "mdb_txn_begin");
    mcheck(mdb_dbi_open(txn, NULL, 0, &l->dbi), "mdb_dbi_open");
    mcheck(mdb_txn_commit(txn), "mdb_txn_commit");
}

static void lmdb_close(lmdb_db *l) {
    mdb_env_close(l->env);
    l->env = NULL;
}

static double lmdb_put_single(const dataset *d, const char *path) {
    lmdb_db l;
    remove_store(path);
    lmdb_open(&l, path, d->n);
    double t0 = now();
    for (size_t i = 0; i < d->n; i++) {
        MDB_txn *txn;
        MDB_val k = {KEY_LEN, (void *)key_at(d, i)}, v = {VAL_LEN, (void *)val_at(d, i)};
        mcheck(mdb_txn_begin(l.env, NULL, 0, &txn), "mdb_txn_begin");
        mcheck(mdb_put(txn, l.dbi, &k, &v, 0), "mdb_put");
        mcheck(mdb_txn_commit(txn), "mdb_txn_commit");
    }
    double t = now() - t0;
    lmdb_close(&l);
    return t;
}

static double lmdb_put_batched(const dataset *d, const char *path) {
    lmdb_db l;
    remove_store(path);
    lmdb_open(&l, path, d->n);
    double t0 = now();
    for (size_t i = 0; i < d->n; i += BATCH) {
        size_t m = d->n - i < BATCH ? d->n - i : BATCH;
        MDB_txn *txn;
        mcheck(mdb_txn_begin(l.env, NULL, 0, &txn), "mdb_txn_begin");
        for (size_t j = i; j < i + m; j++) {
            MDB_val k = {KEY_LEN, (void *)key_at(d, j)}, v = {VAL_LEN, (void *)val_at(d, j)};
            mcheck(mdb_put(txn, l.dbi, &k, &v, 0), "mdb_put");
        }
        mcheck(mdb_txn_commit(txn), "mdb_txn_commit");
    }
    double t = now() - t0;
    lmdb_close(&l);
    return t;
}

static double lmdb_time_open(const char *path, size_t n, lmdb_db *out) {
    double t0 = now();
    lmdb_open(out, path, n);
    return now() - t0;
}

static double lmdb_iterate(lmdb_db *l, const dataset *d) {
    double t0 = now();
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k, v;
    uint64_t sum = 0, count = 0;
    int rc;
    mcheck(mdb_txn_begin(l->env, NULL, MDB_RDONLY, &txn), "mdb_txn_begin");
    mcheck(mdb_cursor_open(txn, l->dbi, &c), "mdb_cursor_open");
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        sum += touch(k.mv_data, k.mv_size) + touch(v.mv_data, v.mv_size);
        count++;
    }
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    double t = now() - t0;
    if (rc != MDB_NOTFOUND) mcheck(rc, "mdb_cursor_get");
    if (count != d->n || sum != d->key_sum + d->val_sum)
        die("lmdb iteration: %" PRIu64 " entries, sum %" PRIu64 "; expected %zu, %" PRIu64, count,
            sum, d->n, d->key_sum + d->val_sum);
    g_sink += sum;
    return t;
}

static double lmdb_get_view(lmdb_db *l, const dataset *d, bool copy) {
    uint64_t sum = 0;
    uint8_t buf[256];
    MDB_txn *txn;
    double t0 = now();
    mcheck(mdb_txn_begin(l->env, NULL, MDB_RDONLY, &txn), "mdb_txn_begin");
    for (size_t i = 0; i < d->n; i++) {
        MDB_val k = {KEY_LEN, (void *)key_at(d, d->order[i])}, v;
        mcheck(mdb_get(txn, l->dbi, &k, &v), "mdb_get");
        if (copy) {
            if (v.mv_size > sizeof buf) die("mdb_get: value of %zu bytes", v.mv_size);
            memcpy(buf, v.mv_data, v.mv_size);
            sum += touch(buf, v.mv_size);
        } else {
            sum += touch(v.mv_data, v.mv_size);
        }
    }
    mdb_txn_abort(txn);
    double t = now() - t0;
    if (sum != d->val_sum) die("mdb_get: value sum %" PRIu64 ", expected %" PRIu64, sum, d->val_sum);
    g_sink += sum;
    return t;
}

/* ---- the report ------------------------------------------------------------------------ */

enum { W_PUT, W_BATCH, W_GET, W_GET_COPY, W_ITER, W_OPEN, W_COUNT };

static const char *const w_name[W_COUNT] = {
    "put (1 key per call / txn)",
    "batch put (1000 per batch / txn)",
    "random get (zero-copy, sum bytes)",
    "random get (copy to buffer)",
    "iterate all (sum key+value)",
    "open populated store",
};
static const char *const w_id[W_COUNT] = {"put", "batch_put", "get", "get_copy", "iterate",
                                          "open"};

typedef struct results {
    double keel[W_COUNT][MAX_REPS];
    double lmdb[W_COUNT][MAX_REPS];
    uint64_t keel_size, lmdb_size_single, lmdb_size_batch;
    uint64_t keel_stat_size, keel_stat_entries;
} results;

typedef struct open_result {
    uint64_t entries, file_size;
    double rw_s, ro_s, build_s;
} open_result;

static void machine_line(char *cpu, size_t cap) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    snprintf(cpu, cap, "unknown CPU");
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *p = strchr(line, ':');
            if (p) {
                p++;
                while (*p == ' ' || *p == '\t') p++;
                p[strcspn(p, "\n")] = 0;
                snprintf(cpu, cap, "%s", p);
            }
            break;
        }
    }
    fclose(f);
}

static void fmt_rate(char *out, size_t cap, double ops_per_s) {
    /* 1234567.8 -> "1,234,568" */
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%.0f", ops_per_s);
    size_t len = strlen(tmp), o = 0;
    for (size_t i = 0; i < len && o + 2 < cap; i++) {
        out[o++] = tmp[i];
        if ((len - i - 1) % 3 == 0 && i + 1 < len) out[o++] = ',';
    }
    out[o] = 0;
}

/* ---- main ------------------------------------------------------------------------------ */

static void usage(FILE *f) {
    fputs("usage: bench_c [--n N] [--reps R] [--dir D] [--json FILE]\n"
          "               [--open-sizes N1,N2,...] [--open-only]\n"
          "  --n N           keys (default 1000000): 16-byte keys, 100-byte values\n"
          "  --reps R        repetitions; the median is reported (default 3)\n"
          "  --dir D         work directory (default: a fresh temporary directory, removed)\n"
          "  --json FILE     also write the results as JSON\n"
          "  --open-sizes L  also time keel_open of stores of these sizes (e.g. 1000000,10000000)\n"
          "  --open-only     only the --open-sizes measurement\n",
          f);
}

static size_t parse_size(const char *s, const char *flag) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || v == 0 || v > UINT32_MAX) {
        fprintf(stderr, "bench_c: %s: expected a positive integer below 2^32, got '%s'\n", flag, s);
        exit(2);
    }
    return (size_t)v;
}

static void open_sizes_run(const size_t *sizes, int nsizes, int reps, open_result *out) {
    for (int si = 0; si < nsizes; si++) {
        size_t n = sizes[si];
        char path[4200], name[64];
        snprintf(name, sizeof name, "open-%zu.keel", n);
        path_in_dir(path, sizeof path, name);
        remove_store(path);
        /* Build with batches of generated pairs: a 10M data set need not sit in memory. */
        uint64_t st = SEED ^ n;
        uint8_t *keys = xmalloc(BATCH * KEY_LEN), *vals = xmalloc(BATCH * VAL_LEN);
        keel_kv kv[BATCH];
        double t0 = now();
        keel_store *s = keel_open_path(path, KEEL_OPEN_NEW);
        for (size_t i = 0; i < n; i += BATCH) {
            size_t m = n - i < BATCH ? n - i : BATCH;
            fill_random(&st, keys, m * KEY_LEN);
            fill_random(&st, vals, m * VAL_LEN);
            for (size_t j = 0; j < m; j++)
                kv[j] = (keel_kv){keys + j * KEY_LEN, KEY_LEN, vals + j * VAL_LEN, VAL_LEN};
            kcheck(keel_put_batch(s, kv, m), "keel_put_batch");
        }
        kcheck(keel_close(s), "keel_close");
        keel_free(s);
        out[si].build_s = now() - t0;
        free(keys);
        free(vals);

        double rw[MAX_REPS], ro[MAX_REPS];
        for (int r = 0; r < reps; r++) {
            keel_store *h;
            rw[r] = keel_time_open(path, &h);
            keel_check_count(h, n);
            keel_free(h);
            t0 = now();
            h = keel_open_path(path, KEEL_OPEN_READONLY);
            ro[r] = now() - t0;
            keel_free(h);
        }
        out[si].entries = n;
        out[si].file_size = file_size(path);
        out[si].rw_s = median(rw, reps);
        out[si].ro_s = median(ro, reps);
        remove_store(path);
        fprintf(stderr, "  open size %zu done\n", n);
    }
}

int main(int argc, char **argv) {
    size_t n = 1000000;
    int reps = 3;
    const char *dir = NULL, *json = NULL;
    size_t open_sizes[MAX_OPEN_SIZES];
    int nopen = 0;
    bool open_only = false;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--open-only")) {
            open_only = true;
            continue;
        }
        if (!v) {
            fprintf(stderr, "bench_c: unknown option or missing value: %s\n", a);
            usage(stderr);
            return 2;
        }
        i++;
        if (!strcmp(a, "--n")) {
            n = parse_size(v, a);
        } else if (!strcmp(a, "--reps")) {
            reps = (int)parse_size(v, a);
            if (reps > MAX_REPS) {
                fprintf(stderr, "bench_c: --reps at most %d\n", MAX_REPS);
                return 2;
            }
        } else if (!strcmp(a, "--dir")) {
            dir = v;
        } else if (!strcmp(a, "--json")) {
            json = v;
        } else if (!strcmp(a, "--open-sizes")) {
            char *copy = strdup(v), *save = NULL;
            for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                if (nopen == MAX_OPEN_SIZES) {
                    fprintf(stderr, "bench_c: at most %d open sizes\n", MAX_OPEN_SIZES);
                    return 2;
                }
                open_sizes[nopen++] = parse_size(tok, a);
            }
            free(copy);
        } else {
            fprintf(stderr, "bench_c: unknown option: %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (open_only && nopen == 0) {
        fprintf(stderr, "bench_c: --open-only needs --open-sizes\n");
        return 2;
    }

    if (dir) {
        if (snprintf(g_dir, sizeof g_dir, "%s", dir) >= (int)sizeof g_dir) die("--dir too long");
        mkdir(g_dir, 0755);
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(g_dir, sizeof g_dir, "%s/keel-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(g_dir)) die("mkdtemp %s: %s", g_dir, strerror(errno));
        g_dir_ours = true;
    }
    atexit(cleanup);

    /* Header: what ran where. */
    char cpu[256], date[64];
    struct utsname un;
    time_t tnow = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", gmtime(&tnow));
    machine_line(cpu, sizeof cpu);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (uname(&un) != 0) snprintf(un.release, sizeof un.release, "?");
    printf("keel %s vs %s\n", keel_version(), mdb_version(NULL, NULL, NULL));
    printf("machine: %s, %ld cores online, Linux %s\n", cpu, cores, un.release);
    printf("date:    %s\n", date);
    printf("work dir: %s\n", g_dir);

    static results R;
    dataset d = {0};
    char pk[4200], pkb[4200], pls[4200], plb[4200];
    path_in_dir(pk, sizeof pk, "single.keel");
    path_in_dir(pkb, sizeof pkb, "batch.keel");
    path_in_dir(pls, sizeof pls, "single.mdb");
    path_in_dir(plb, sizeof plb, "batch.mdb");

    if (!open_only) {
        printf("workload: %zu keys of %u random bytes, values of %u random bytes, seed 0x%016llx;\n"
               "          median of %d repetitions\n",
               n, KEY_LEN, VAL_LEN, (unsigned long long)SEED, reps);
        printf("config:   keel KEEL_SYNC_NONE, alignment 64; LMDB MDB_NOSYNC|MDB_NOSUBDIR (no "
               "fsync in either)\n");
        printf("cache:    warm (files just written, page cache not dropped; one untimed scan "
               "before the reads)\n\n");
        fflush(stdout);
        dataset_make(&d, n);

        for (int r = 0; r < reps; r++) {
            fprintf(stderr, "  rep %d/%d: put", r + 1, reps);
            R.keel[W_PUT][r] = keel_put_single(&d, pk);
            R.lmdb[W_PUT][r] = lmdb_put_single(&d, pls);
            R.keel_size = file_size(pk);
            R.lmdb_size_single = file_size(pls);
            remove_store(pk);
            remove_store(pls);

            fprintf(stderr, ", batch");
            R.keel[W_BATCH][r] = keel_put_batched(&d, pkb);
            R.lmdb[W_BATCH][r] = lmdb_put_batched(&d, plb);
            R.lmdb_size_batch = file_size(plb);

            fprintf(stderr, ", open");
            keel_store *s;
            lmdb_db l;
            R.keel[W_OPEN][r] = keel_time_open(pkb, &s);
            R.lmdb[W_OPEN][r] = lmdb_time_open(plb, n, &l);
            keel_check_count(s, n);
            keel_stats ks;
            kcheck(keel_stat(s, &ks), "keel_stat");
            R.keel_stat_size = ks.file_size;
            R.keel_stat_entries = ks.entries;

            /* Untimed warm-up scan: fault both mappings in. */
            keel_iterate(s, &d);
            lmdb_iterate(&l, &d);

            fprintf(stderr, ", get");
            R.keel[W_GET][r] = keel_get_view(s, &d);
            R.lmdb[W_GET][r] = lmdb_get_view(&l, &d, false);
            R.keel[W_GET_COPY][r] = keel_get_copied(s, &d);
            R.lmdb[W_GET_COPY][r] = lmdb_get_view(&l, &d, true);
            fprintf(stderr, ", iterate\n");
            R.keel[W_ITER][r] = keel_iterate(s, &d);
            R.lmdb[W_ITER][r] = lmdb_iterate(&l, &d);

            kcheck(keel_close(s), "keel_close");
            keel_free(s);
            lmdb_close(&l);
            remove_store(pkb);
            remove_store(plb);
        }

        printf("%-36s %14s %14s %10s\n", "workload", "keel ops/s", "lmdb ops/s", "keel/lmdb");
        for (int w = 0; w < W_OPEN; w++) {
            double k = (double)n / median(R.keel[w], reps), m = (double)n / median(R.lmdb[w], reps);
            char ks[32], ms[32];
            fmt_rate(ks, sizeof ks, k);
            fmt_rate(ms, sizeof ms, m);
            printf("%-36s %14s %14s %9.2fx\n", w_name[w], ks, ms, k / m);
        }
        printf("\n%-36s %14s %14s %10s\n", "", "keel", "lmdb", "keel/lmdb");
        double ko = median(R.keel[W_OPEN], reps), lo = median(R.lmdb[W_OPEN], reps);
        printf("%-36s %11.3f ms %11.3f ms %9.3gx  (a time: below 1 favours keel)\n",
               "open populated store", ko * 1e3, lo * 1e3, ko / lo);
        printf("%-36s %11.1f MB %11.1f MB %9.2fx\n", "file size after put", R.keel_size / 1e6,
               R.lmdb_size_single / 1e6, (double)R.keel_size / (double)R.lmdb_size_single);
        printf("%-36s %11.1f MB %11.1f MB %9.2fx\n", "file size after batch put",
               R.keel_stat_size / 1e6, R.lmdb_size_batch / 1e6,
               (double)R.keel_stat_size / (double)R.lmdb_size_batch);
        printf("(keel: %" PRIu64 " entries; open = keel_open of the existing file, index built;"
               " lmdb open = mdb_env_open + first txn)\n",
               R.keel_stat_entries);
        fflush(stdout);
    }

    open_result orz[MAX_OPEN_SIZES];
    if (nopen) {
        open_sizes_run(open_sizes, nopen, reps, orz);
        printf("\nkeel open time by store size (16 B keys, 100 B values; median of %d)\n", reps);
        printf("%12s %12s %14s %14s %12s %12s\n", "entries", "file MB", "open rw ms",
               "open ro ms", "ns/entry", "build s");
        for (int i = 0; i < nopen; i++)
            printf("%12" PRIu64 " %12.1f %14.1f %14.1f %12.1f %12.2f\n", orz[i].entries,
                   orz[i].file_size / 1e6, orz[i].rw_s * 1e3, orz[i].ro_s * 1e3,
                   orz[i].rw_s * 1e9 / (double)orz[i].entries, orz[i].build_s);
    }

    if (json) {
        FILE *f = fopen(json, "w");
        if (!f) die("%s: %s", json, strerror(errno));
        fprintf(f, "{\n  \"keel_version\": \"%s\",\n  \"lmdb_version\": \"%s\",\n", keel_version(),
                mdb_version(NULL, NULL, NULL));
        fprintf(f, "  \"cpu\": \"%s\",\n  \"cores\": %ld,\n  \"kernel\": \"%s\",\n", cpu, cores,
                un.release);
        fprintf(f, "  \"date\": \"%s\",\n  \"n\": %zu,\n  \"key_len\": %u,\n  \"value_len\": %u,\n",
                date, open_only ? (size_t)0 : n, KEY_LEN, VAL_LEN);
        fprintf(f, "  \"reps\": %d,\n  \"cache\": \"warm\",\n  \"workloads\": [", reps);
        if (!open_only) {
            for (int w = 0; w < W_COUNT; w++) {
                double k = median(R.keel[w], reps), m = median(R.lmdb[w], reps);
                fprintf(f,
                        "%s\n    {\"name\": \"%s\", \"keel_seconds\": %.9f, \"lmdb_seconds\": "
                        "%.9f, \"keel_ops_per_s\": %.1f, \"lmdb_ops_per_s\": %.1f, "
                        "\"ratio\": %.4f}",
                        w ? "," : "", w_id[w], k, m, w == W_OPEN ? 1.0 / k : (double)n / k,
                        w == W_OPEN ? 1.0 / m : (double)n / m, m / k);
            }
            fprintf(f, "\n  ],\n  \"file_size\": {\"keel\": %" PRIu64 ", \"lmdb_single\": %" PRIu64
                       ", \"lmdb_batch\": %" PRIu64 "},\n",
                    R.keel_stat_size, R.lmdb_size_single, R.lmdb_size_batch);
        } else {
            fprintf(f, "],\n");
        }
        fprintf(f, "  \"open_sizes\": [");
        for (int i = 0; i < nopen; i++)
            fprintf(f,
                    "%s\n    {\"entries\": %" PRIu64 ", \"file_size\": %" PRIu64
                    ", \"open_rw_seconds\": %.9f, \"open_ro_seconds\": %.9f}",
                    i ? "," : "", orz[i].entries, orz[i].file_size, orz[i].rw_s, orz[i].ro_s);
        fprintf(f, "\n  ]\n}\n");
        if (fclose(f) != 0) die("%s: write failed", json);
    }

    if (!open_only) dataset_free(&d);
    return g_sink == 42 ? 1 : 0; /* keep the sums alive */
}
