/*
 * test_db_powerloss.c: the power-loss simulator (powerloss.h), and I/O faults, run on the
 * Database face.
 *
 * One workload runs once with os.c recording, under KEEL_SYNC_DATA, through most of what
 * changes a database file: table creation with an index, single puts, updates of a
 * counter, a transaction, batches, deletes, a second table with a global index backfilled
 * later, TTL and the reaper, a vector index with its HNSW graph (checkpointed at
 * compaction and close, loaded at open), compaction, close and reopen, a table and an
 * index dropped. After every acknowledged operation the workload takes a fingerprint of
 * the whole database as a reader sees it: every table's items, counts and TTL attribute,
 * every secondary index read in full, every vector index's exact and approximate answers
 * to a fixed query (the graph is forced below its usual 5,000-item threshold).
 *
 * Then every crash point of the log is replayed into disk states a power loss could leave
 * (powerloss.h), and for each state:
 *   - the file opens read-only and verifies (an index still being backfilled included);
 *   - it opens writable (recovery, finishing a backfill) and verifies, and its fingerprint
 *     is the one after the acknowledged operations or after the one in flight: nothing
 *     acknowledged is lost, a transaction or batch is all or nothing, indexes agree with
 *     their tables, a graph checkpoint that is stale, torn or missing changes no answer;
 *   - closed (which checkpoints the graphs of the recovered state) and opened again, the
 *     fingerprint is the same.
 * KEEL_POWERLOSS_STATES (default 4 here) and KEEL_POWERLOSS_SEED as in test_powerloss.c.
 *
 * test_database_faults runs the same workload with os.c's fault injection instead: each
 * operation in turn under a failing write or sync. It found UpdateTable's backfill, after a
 * failed batch, leaving its index "creating" with no way to finish it but a reopen (a
 * retry was "Duplicate index name").
 */
#include "powerloss.h"

#include "db_util.h"
#include "keel_db.h"

#include <limits.h>
#include <stdarg.h>

#define DBP_MAX_OPS 64

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static void sb_add(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(sbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    REQUIRE(n >= 0);
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + (size_t)n + 1) cap *= 2;
        b->p = realloc(b->p, cap);
        REQUIRE(b->p != NULL);
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static int64_t fixed_clock(void *ctx) {
    (void)ctx;
    return 1000000;
}

static const float QUERY[4] = {1.0f, 0.5f, 0.0f, -0.5f};

/* Items of a cursor as JSON lines. */
static keel_status fp_cursor(keel_db *db, const char *table, const char *index, sbuf *b) {
    keel_db_query q = KEEL_DB_QUERY_INIT;
    q.index = index;
    keel_db_cursor *c;
    keel_status st = keel_db_scan_start(db, table, &q, &c);
    if (st != KEEL_OK) return st;
    keel_view it;
    while ((st = keel_db_cursor_next(c, &it)) == KEEL_OK) {
        char *json;
        st = keel_db_json_from_cbor(KEEL_DB_JSON_ITEM, it.data, it.len, &json, NULL);
        if (st != KEEL_OK) break;
        sb_add(b, "  %s\n", json);
        free(json);
    }
    keel_db_cursor_free(c);
    return st == KEEL_NOTFOUND ? KEEL_OK : st;
}

static keel_status fp_search(keel_db *db, const char *table, const char *index, uint32_t ef,
                             sbuf *b) {
    keel_db_hit hits[6];
    size_t n = 0;
    keel_db_search_opts o = KEEL_DB_SEARCH_OPTS_INIT;
    o.ef = ef;
    memset(hits, 0, sizeof hits);
    keel_status st = keel_db_search(db, table, index, QUERY, 4, 6, &o, hits, &n);
    if (st != KEEL_OK) return st;
    for (size_t i = 0; i < n && st == KEEL_OK; i++) {
        char *json;
        st = keel_db_json_from_cbor(KEEL_DB_JSON_ITEM, hits[i].item.data, hits[i].item.len,
                                    &json, NULL);
        if (st != KEEL_OK) break;
        sb_add(b, "  %.6g %s\n", (double)hits[i].score, json);
        free(json);
    }
    keel_db_hits_free(hits, 6);
    return st;
}

/* Everything a reader sees of the database, as text (malloc'd), or NULL with a message. */
static char *fingerprint(keel_db *db, char *err, size_t errlen) {
    sbuf b = {0};
    char *names = NULL;
    size_t nt = 0;
    keel_db_table_stats *ts = malloc(sizeof *ts);
    if (!ts) abort();
    keel_status st = keel_db_list_tables(db, &names, &nt);
    const char *name = names;
    for (size_t t = 0; st == KEEL_OK && t < nt; t++, name += strlen(name) + 1) {
        st = keel_db_get_stats(db, name, ts);
        if (st != KEEL_OK) break;
        sb_add(&b, "table %s items %llu ttl '%s'\n", name, (unsigned long long)ts->items,
               ts->ttl_attribute);
        st = fp_cursor(db, name, NULL, &b);
        for (size_t i = 0; st == KEEL_OK && i < ts->nindexes; i++) {
            const keel_db_index_info *x = &ts->indexes[i];
            sb_add(&b, " index %s local %d creating %d items %llu\n", x->name, x->local,
                   x->creating, (unsigned long long)x->items);
            if (!x->creating) st = fp_cursor(db, name, x->name, &b);
        }
        keel_db_vector_index_info vi[4];
        size_t nv = 0;
        if (st == KEEL_OK) st = keel_db_list_vector_indexes(db, name, vi, 4, &nv);
        for (size_t i = 0; st == KEEL_OK && i < nv && i < 4; i++) {
            sb_add(&b, " vector index %s items %llu\n", vi[i].name,
                   (unsigned long long)vi[i].items);
            st = fp_search(db, name, vi[i].name, 0, &b);
            if (st == KEEL_OK) {
                sb_add(&b, " approximate\n");
                st = fp_search(db, name, vi[i].name, 16, &b);
            }
        }
    }
    free(names);
    free(ts);
    if (st != KEEL_OK) {
        snprintf(err, errlen, "%s: %s", st_name(st), keel_errmsg());
        free(b.p);
        return NULL;
    }
    if (!b.p) sb_add(&b, "%s", "");
    return b.p;
}

typedef struct dbp_work {
    const char *name;
    char *fp[DBP_MAX_OPS + 1];   /* fp[n]: the database after n acknowledged operations */
    unsigned nops;
    keel_db *db;
    size_t checked;
    /* I/O fault mode (test_database_faults): the operation numbered fault_at (counted
     * as DO() runs them) runs once with the fault armed; char *const *ref, the fault-free
     * run's fingerprints, which every acknowledged state must equal. */
    bool faults;
    unsigned fault_at, op;
    keel_os_op fault_op;
    keel_fault_kind fault_kind;
    unsigned fault_skip;
    char *before;                /* the fingerprint before the faulted operation */
    char *const *ref;
    unsigned failed;             /* faulted operations that failed (and were checked) */
} dbp_work;

/* The first line where two fingerprints differ, for the failure message. */
static void fp_diff(const char *a, const char *b, char *out, size_t len) {
    size_t line = 1;
    const char *la = a, *lb = b;
    while (*a && *a == *b) {
        if (*a == '\n') {
            line++;
            la = a + 1;
            lb = b + 1;
        }
        a++;
        b++;
    }
    snprintf(out, len, "line %zu: got '%.200s' want '%.200s'", line, la, lb);
}

static void dbp_ack(dbp_work *w) {
    REQUIRE(w->nops < DBP_MAX_OPS);
    char err[512];
    w->nops++;
    w->fp[w->nops] = w->db ? fingerprint(w->db, err, sizeof err) : strdup(w->fp[w->nops - 1]);
    if (!w->fp[w->nops]) h_fail(__FILE__, __LINE__, "fingerprint after op %u: %s", w->nops, err);
    REQUIRE(w->fp[w->nops] != NULL);
    if (w->ref)
        CHECKF(strcmp(w->fp[w->nops], w->ref[w->nops]) == 0, "fault at operation %u: after "
               "%u operations the database differs from the fault-free run", w->fault_at,
               w->nops);
    if (!w->faults) pl_ack(w->nops);
}

/* Fault mode: is this the operation to fault? Then note the state and arm the fault. */
static bool dbp_arm(dbp_work *w) {
    if (!w->faults || w->op++ != w->fault_at) return false;
    char err[512];
    w->before = fingerprint(w->db, err, sizeof err);
    CHECKF(w->before != NULL, "reading the database: %s", err);
    if (!w->before) return false;
    keel__fault_inject(w->fault_op, w->fault_skip, w->fault_kind, false);
    return true;
}

/* The faulted operation returned `st`: on a failure, the status names the fault, the
 * database is exactly as before (nothing published, nothing half done in memory), and the
 * caller runs the operation again with the fault gone. True when it succeeded (the fault
 * was never reached): do not run it again. */
static bool dbp_disarm(dbp_work *w, keel_status st, const char *what) {
    keel__fault_clear();
    if (st == KEEL_OK) {
        free(w->before);
        w->before = NULL;
        return true;
    }
    w->failed++;
    const char *msg = keel_errmsg();
    CHECKF(st == KEEL_EIO || st == KEEL_ENOSPC || (st == KEEL_ENOMEM && w->fault_op ==
           KEEL_OS_MMAP), "%s under fault %d/%d/%u: %s: %s", what,
           (int)w->fault_op, (int)w->fault_kind, w->fault_skip, st_name(st), msg);
    char err[512], why[600];
    char *now = fingerprint(w->db, err, sizeof err);
    CHECKF(now != NULL, "%s failed under a fault; then reading the database: %s", what, err);
    if (now && strstr(what, "update_table")) {
        /* The one documented trace: a global index whose backfill failed stays "creating"
         * (as after a crash) until asked for again or the next writable open. */
        char *line = strstr(now, " creating 1 ");
        if (line) {
            while (line > now && line[-1] != '\n') line--;
            char *end = strchr(line, '\n');
            if (end) memmove(line, end + 1, strlen(end + 1) + 1);
        }
    }
    if (now) {
        fp_diff(now, w->before, why, sizeof why);
        CHECKF(strcmp(now, w->before) == 0, "%s failed under fault %d/%d/%u (%s) but changed "
               "the database: %s", what, (int)w->fault_op, (int)w->fault_kind, w->fault_skip,
               msg, why);
    }
    free(now);
    free(w->before);
    w->before = NULL;
    return false;
}

/* Run `expr` (a keel_status call that can run twice: its arguments are unchanged by a
 * failure); in fault mode the chosen one runs first under the fault. */
#define DO(w, expr)                                                                        \
    do {                                                                                   \
        bool do_done_ = false;                                                             \
        if (dbp_arm(w)) do_done_ = dbp_disarm(w, (expr), #expr);                           \
        if (!do_done_) REQUIRE_OK(expr);                                                   \
    } while (0)

static int dbp_which(const dbp_work *w, const char *fp, uint64_t acked, char *why, size_t len) {
    for (uint64_t j = acked; j <= acked + 1 && j <= w->nops; j++)
        if (strcmp(fp, w->fp[j]) == 0) return (int)j;
    fp_diff(fp, w->fp[acked], why, len);
    return -1;
}

static keel_status db_open_mode(const char *path, keel_open_mode mode, keel_db **out) {
    keel_db_options o = KEEL_DB_OPTIONS_INIT;
    o.mode = mode;
    keel_status st = keel_db_open(path, &o, out);
    if (st == KEEL_OK) keel_db_set_clock(*out, fixed_clock, NULL);
    return st;
}

static void dbp_check(void *ctx, const char *dir, uint64_t acked, size_t point,
                      const char *state) {
    dbp_work *w = ctx;
    (void)point;
    char path[4400], err[512], why[600];
    snprintf(path, sizeof path, "%s/%s", dir, w->name);
    w->checked++;
    if (!file_exists(path)) {
        CHECKF(acked == 0, "%s: the database is gone after %llu acknowledged operations",
               state, (unsigned long long)acked);
        return;
    }
    keel_db *db;
    keel_status st = db_open_mode(path, KEEL_OPEN_READONLY, &db);
    CHECKF(st == KEEL_OK, "%s (after %llu): read-only open: %s: %s", state,
           (unsigned long long)acked, st_name(st), keel_errmsg());
    if (st == KEEL_OK) {
        st = keel_db_verify(db, NULL);
        CHECKF(st == KEEL_OK, "%s: read-only verify: %s: %s", state, st_name(st), keel_errmsg());
        keel_db_free(db);
    }
    st = db_open_mode(path, KEEL_OPEN_EXISTING, &db);
    CHECKF(st == KEEL_OK, "%s (after %llu): writable open: %s: %s", state,
           (unsigned long long)acked, st_name(st), keel_errmsg());
    if (st != KEEL_OK) return;
    st = keel_db_verify(db, NULL);
    CHECKF(st == KEEL_OK, "%s: verify: %s: %s", state, st_name(st), keel_errmsg());
    char *fp = fingerprint(db, err, sizeof err);
    CHECKF(fp != NULL, "%s (after %llu): reading the database: %s", state,
           (unsigned long long)acked, err);
    int j = fp ? dbp_which(w, fp, acked, why, sizeof why) : -1;
    CHECKF(!fp || j >= 0, "%s: the database is neither as after %llu operations nor the "
           "next: %s", state, (unsigned long long)acked, why);
    free(fp);
    st = keel_db_close(db);
    CHECKF(st == KEEL_OK, "%s: close: %s: %s", state, st_name(st), keel_errmsg());
    keel_db_free(db);
    st = db_open_mode(path, KEEL_OPEN_EXISTING, &db);
    CHECKF(st == KEEL_OK, "%s: reopen: %s: %s", state, st_name(st), keel_errmsg());
    if (st != KEEL_OK) return;
    fp = fingerprint(db, err, sizeof err);
    CHECKF(fp != NULL, "%s: reading the reopened database: %s", state, err);
    if (fp && j >= 0) {
        fp_diff(fp, w->fp[j], why, sizeof why);
        CHECKF(strcmp(fp, w->fp[j]) == 0, "%s: reopened after recovery, the database "
               "changed: %s", state, why);
    }
    free(fp);
    keel_db_free(db);
}

/* ---- the workload -------------------------------------------------------------------------- */

static void put(dbp_work *w, const char *table, const char *notation) {
    size_t n;
    const uint8_t *p = cb(notation, &n);
    DO(w, keel_db_put_item(w->db, table, p, n));
    dbp_ack(w);
}

static void batch(dbp_work *w, const char *table, char **items, size_t n, int is_delete) {
    keel_db_write *ws = calloc(n, sizeof *ws);
    uint8_t **bufs = calloc(n, sizeof *bufs);
    REQUIRE(ws && bufs);
    for (size_t i = 0; i < n; i++) {
        size_t len;
        bufs[i] = cbdup(items[i], &len);
        ws[i] = (keel_db_write){table, bufs[i], len, is_delete};
    }
    DO(w, keel_db_batch_write(w->db, ws, n));
    for (size_t i = 0; i < n; i++) free(bufs[i]);
    free(bufs);
    free(ws);
    dbp_ack(w);
}

static void add_counter(dbp_work *w) {
    size_t kn, vn;
    uint8_t *key = cbdup("{\"pk\": \"ctr\", \"sk\": 0}", &kn);
    const uint8_t *vals = cb("{\":one\": 1}", &vn);
    keel_db_write_opts o = KEEL_DB_WRITE_OPTS_INIT;
    o.values = vals;
    o.values_len = vn;
    DO(w, keel_db_update_item(w->db, "tab", key, kn, "ADD n :one", &o, NULL));
    free(key);
    dbp_ack(w);
}

static void make_items(char **out, size_t n, const char *fmt, size_t first) {
    for (size_t i = 0; i < n; i++) {
        out[i] = malloc(4000);
        REQUIRE(out[i] != NULL);
        snprintf(out[i], 4000, fmt, (int)(first + i), (int)((first + i) % 3),
                 (int)(first + i));
    }
}

static void free_items(char **v, size_t n) {
    for (size_t i = 0; i < n; i++) free(v[i]);
}

/* The workload, under KEEL_SYNC_DATA in `path` (a new file). */
static void workload(dbp_work *w, const char *path) {
    keel_db_options o = KEEL_DB_OPTIONS_INIT;
    o.mode = KEEL_OPEN_NEW;
    o.sync = KEEL_SYNC_DATA;
    char *items[40];
    size_t n;

    REQUIRE_OK(keel_db_open(path, &o, &w->db));
    keel_db_set_clock(w->db, fixed_clock, NULL);
    dbp_ack(w);
    keel_db_schema tab = {"pk", KEEL_DB_KEY_S, "sk", KEEL_DB_KEY_N};
    keel_db_index_def byc = {"byc", 0, "c", KEEL_DB_KEY_S, "sk", KEEL_DB_KEY_N,
                             KEEL_DB_PROJECT_ALL, NULL, 0};
    DO(w, keel_db_create_table_ex(w->db, "tab", &tab, &byc, 1));
    dbp_ack(w);
    put(w, "tab", "{\"pk\": \"ctr\", \"sk\": 0, \"n\": 0}");
    put(w, "tab", "{\"pk\": \"a\", \"sk\": 1, \"c\": \"x\"}");
    put(w, "tab", "{\"pk\": \"a\", \"sk\": 2, \"c\": \"y\", \"s\": <\"p\", \"q\">}");
    add_counter(w);
    /* a transaction: two puts, a counter update, a delete */
    {
        size_t l1, l2, l3, l4, lv;
        uint8_t *i1 = cbdup("{\"pk\": \"T\", \"sk\": 1, \"c\": \"x\"}", &l1);
        uint8_t *i2 = cbdup("{\"pk\": \"T\", \"sk\": 2, \"c\": \"z\"}", &l2);
        uint8_t *k3 = cbdup("{\"pk\": \"ctr\", \"sk\": 0}", &l3);
        uint8_t *k4 = cbdup("{\"pk\": \"a\", \"sk\": 1}", &l4);
        uint8_t *vals = cbdup("{\":one\": 1}", &lv);
        keel_db_tx_write a[4] = {KEEL_DB_TX_WRITE_INIT, KEEL_DB_TX_WRITE_INIT,
                                 KEEL_DB_TX_WRITE_INIT, KEEL_DB_TX_WRITE_INIT};
        a[0].kind = KEEL_DB_TX_PUT, a[0].table = "tab", a[0].item = i1, a[0].item_len = l1;
        a[1].kind = KEEL_DB_TX_PUT, a[1].table = "tab", a[1].item = i2, a[1].item_len = l2;
        a[2].kind = KEEL_DB_TX_UPDATE, a[2].table = "tab", a[2].item = k3, a[2].item_len = l3;
        a[2].update = "ADD n :one", a[2].values = vals, a[2].values_len = lv;
        a[3].kind = KEEL_DB_TX_DELETE, a[3].table = "tab", a[3].item = k4, a[3].item_len = l4;
        DO(w, keel_db_transact_write(w->db, a, 4, NULL));
        free(i1), free(i2), free(k3), free(k4), free(vals);
        dbp_ack(w);
    }
    n = 8;
    make_items(items, n, "{\"pk\": \"B\", \"sk\": %d, \"c\": \"c%d\", \"pad\": h\""
               "00000000000000000000000000000000000000000000000000000000000000000000000000"
               "00000000000000000000000000000000000000000000000000000000000000000000000000"
               "\", \"i\": %d}", 0);
    batch(w, "tab", items, n, 0);
    free_items(items, n);
    {
        size_t kn;
        uint8_t *key = cbdup("{\"pk\": \"a\", \"sk\": 2}", &kn);
        DO(w, keel_db_delete_item(w->db, "tab", key, kn));
        free(key);
        dbp_ack(w);
    }
    keel_db_schema us = {"id", KEEL_DB_KEY_N, NULL, KEEL_DB_KEY_NONE};
    DO(w, keel_db_create_table(w->db, "utab", &us));
    dbp_ack(w);
    n = 30;
    make_items(items, n, "{\"id\": %d, \"g\": \"g%d\", \"k\": %d}", 0);
    batch(w, "utab", items, n, 0);
    free_items(items, n);
    keel_db_index_def byg = {"byg", 0, "g", KEEL_DB_KEY_S, "id", KEEL_DB_KEY_N,
                             KEEL_DB_PROJECT_KEYS_ONLY, NULL, 0};
    keel_db_table_update up = {&byg, NULL};
    DO(w, keel_db_update_table(w->db, "utab", &up));
    dbp_ack(w);
    DO(w, keel_db_update_ttl(w->db, "tab", "exp"));
    dbp_ack(w);
    n = 3;
    make_items(items, n, "{\"pk\": \"E\", \"sk\": %d, \"c\": \"c%d\", \"exp\": %d}", 0);
    batch(w, "tab", items, n, 0);
    free_items(items, n);
    uint64_t reaped = 0;
    DO(w, keel_db_reap_expired(w->db, NULL, 0, &reaped));
    CHECK(reaped == 3);
    dbp_ack(w);
    keel_db_vector_index_def vd;
    memset(&vd, 0, sizeof vd);
    vd.name = "vidx";
    vd.attribute = "v";
    vd.dimensions = 4;
    vd.distance = KEEL_DB_EUCLIDEAN;
    DO(w, keel_db_create_vector_index(w->db, "tab", &vd));
    dbp_ack(w);
    n = 12;
    make_items(items, n, "{\"pk\": \"V\", \"sk\": %d, \"c\": \"c%d\", "
               "\"v\": v(%d, 0.25, -1, 2)}", 0);
    batch(w, "tab", items, n, 0);   /* the fingerprint's approximate search builds the graph */
    free_items(items, n);
    DO(w, keel_db_compact(w->db, NULL, NULL));  /* checkpoints the graph first */
    dbp_ack(w);
    put(w, "tab", "{\"pk\": \"V\", \"sk\": 3, \"v\": v(0.9, 0.5, 0.1, -0.4)}");
    put(w, "tab", "{\"pk\": \"W\", \"sk\": 1, \"v\": v(1, 0.5, 0, -0.5)}");
    REQUIRE_OK(keel_db_close(w->db));   /* checkpoints the changed graph */
    keel_db_free(w->db);
    w->db = NULL;
    dbp_ack(w);
    o.mode = KEEL_OPEN_EXISTING;
    REQUIRE_OK(keel_db_open(path, &o, &w->db));
    keel_db_set_clock(w->db, fixed_clock, NULL);
    dbp_ack(w);
    add_counter(w);
    DO(w, keel_db_delete_table(w->db, "utab"));
    dbp_ack(w);
    keel_db_table_update drop = {NULL, "byc"};
    DO(w, keel_db_update_table(w->db, "tab", &drop));
    dbp_ack(w);
    put(w, "tab", "{\"pk\": \"V\", \"sk\": 5, \"v\": v(-3, 1, 1, 1)}");
    DO(w, keel_db_compact(w->db, NULL, NULL));
    dbp_ack(w);
    DO(w, keel_db_drop_vector_index(w->db, "tab", "vidx"));
    dbp_ack(w);
    REQUIRE_OK(keel_db_close(w->db));
    keel_db_free(w->db);
    w->db = NULL;
    dbp_ack(w);

}

static void test_database(void) {
    static dbp_work w;
    memset(&w, 0, sizeof w);
    w.name = "d.keel";
    w.fp[0] = strdup("");
    setenv("KEEL_DB_HNSW_MIN_ITEMS", "4", 1);  /* a graph for a dozen items */
    char wd[4400], sd[4400], path[4500];
    snprintf(wd, sizeof wd, "%s/work", h_dir);
    snprintf(sd, sizeof sd, "%s/state", h_dir);
    REQUIRE(mkdir(wd, 0755) == 0);
    snprintf(path, sizeof path, "%s/%s", wd, w.name);
    struct timespec t0s;
    clock_gettime(CLOCK_MONOTONIC, &t0s);
    double t0 = (double)t0s.tv_sec + t0s.tv_nsec / 1e9;
    keel__os_record_start();
    workload(&w, path);

    if (getenv("KEEL_POWERLOSS_SHOW"))   /* what the checker compares, after each operation */
        for (unsigned i = 0; i <= w.nops; i++) printf("---- after %u\n%s", i, w.fp[i]);
    pl_stats st = pl_run(wd, sd, pl_states_per_point(4), 77, dbp_check, &w);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    printf("  Database: %u operations, %zu crash points, %zu disk states checked (%zu), "
           "%.2f s\n", w.nops, st.points, st.states, w.checked,
           (double)ts.tv_sec + ts.tv_nsec / 1e9 - t0);
    CHECK(st.points > 40);
    for (unsigned i = 0; i <= w.nops; i++) free(w.fp[i]);
}

/* The same workload with I/O faults: each operation in turn runs once while the first,
 * second or third write fails (EIO, or a short write and ENOSPC), or the first or second
 * sync, a mapping, a rename, a truncate or an open fails. A failed operation must report
 * the fault (KEEL_EIO, KEEL_ENOSPC, or KEEL_ENOMEM for a mapping) and leave the database
 * exactly as before, in memory; run again without the fault it succeeds, and from
 * there on every state equals the fault-free run's, after reopening too. */
static void test_database_faults(void) {
    static dbp_work ref, w;
    memset(&ref, 0, sizeof ref);
    ref.name = "r.keel";
    ref.fp[0] = strdup("");
    ref.faults = true;
    ref.fault_at = UINT_MAX;   /* no fault: the reference */
    setenv("KEEL_DB_HNSW_MIN_ITEMS", "4", 1);
    char path[4500];
    snprintf(path, sizeof path, "%s/%s", h_dir, ref.name);
    workload(&ref, path);
    const unsigned ndo = ref.op;
    static const struct { keel_os_op op; keel_fault_kind kind; unsigned skip; } plan[] = {
        {KEEL_OS_WRITE, KEEL_FAULT_EIO, 0}, {KEEL_OS_WRITE, KEEL_FAULT_SHORT, 0},
        {KEEL_OS_WRITE, KEEL_FAULT_ENOSPC, 1}, {KEEL_OS_WRITE, KEEL_FAULT_EIO, 2},
        {KEEL_OS_SYNC, KEEL_FAULT_EIO, 0}, {KEEL_OS_SYNC, KEEL_FAULT_EIO, 1},
        {KEEL_OS_MMAP, KEEL_FAULT_ENOSPC, 0}, {KEEL_OS_RENAME, KEEL_FAULT_EIO, 0},
        {KEEL_OS_TRUNCATE, KEEL_FAULT_EIO, 0}, {KEEL_OS_OPEN, KEEL_FAULT_EIO, 0},
    };
    unsigned runs = 0, failed = 0;
    for (unsigned at = 0; at < ndo && h_failures() < 10; at++) {
        for (size_t f = 0; f < sizeof plan / sizeof plan[0]; f++) {
            memset(&w, 0, sizeof w);
            w.name = "f.keel";
            w.fp[0] = strdup("");
            w.faults = true;
            w.fault_at = at;
            w.fault_op = plan[f].op;
            w.fault_kind = plan[f].kind;
            w.fault_skip = plan[f].skip;
            w.ref = ref.fp;
            snprintf(path, sizeof path, "%s/%s", h_dir, w.name);
            unlink(path);
            workload(&w, path);
            CHECK(w.nops == ref.nops);
            keel_db *db;
            keel_db_options o = KEEL_DB_OPTIONS_INIT;
            o.mode = KEEL_OPEN_EXISTING;
            CHECK_OK(keel_db_open(path, &o, &db));
            if (h_failures() == 0) {
                keel_db_set_clock(db, fixed_clock, NULL);
                char err[512];
                char *fp = fingerprint(db, err, sizeof err);
                CHECKF(fp && strcmp(fp, ref.fp[ref.nops]) == 0, "fault at operation %u: "
                       "reopened, the database differs from the fault-free run", at);
                CHECK_OK(keel_db_verify(db, NULL));
                free(fp);
                keel_db_free(db);
            }
            for (unsigned i = 0; i <= w.nops; i++) free(w.fp[i]);
            runs++;
            failed += w.failed;
        }
    }
    printf("  Database under I/O faults: %u operations x %zu faults, %u runs, %u faulted "
           "operations failed and were checked\n", ndo, sizeof plan / sizeof plan[0], runs,
           failed);
    CHECK(failed > ndo);
    for (unsigned i = 0; i <= ref.nops; i++) free(ref.fp[i]);
}

int main(int argc, char **argv) {
    static const h_test tests[] = {
        H_TEST(test_database),
        H_TEST(test_database_faults),
    };
    return h_main(argc, argv, tests, H_COUNT(tests));
}
