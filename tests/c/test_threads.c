/*
 * test_threads.c: one store handle shared by many threads.
 *
 * 8 readers and 2 writers run for about 2 seconds. Each key belongs to one writer, which
 * writes versions 1, 2, 3... of it (single puts, batches and streamed commits); a value
 * encodes its key, its version and a CRC of its payload, so a reader can tell a torn or
 * misplaced value from a real one. Readers check that every value they see is one that was
 * written for that key, that versions never go backwards for a reader, and that every put
 * that had returned before the lookup began is visible ("readers see every committed
 * write"). Views taken early (and by readers along the way) must stay valid and unchanged
 * while the file grows by tens of MiB and after keel_compact. A second test compacts
 * repeatedly while the readers and a writer keep going.
 */
#include "util.h"

#include <pthread.h>

#define NK 1000
#define NVOL 100 /* keys NK-NVOL..NK-1 are also deleted now and then */
#define NREADERS 8
#define WRITER_BUDGET ((uint64_t)48 << 20)

static _Atomic uint64_t committed[NK]; /* newest version whose put has returned */
static _Atomic uint64_t started[NK];   /* newest version a writer has begun to write */
static atomic_int stop_flag;
static atomic_int compactions_done;

static size_t tkey(int i, char *k) { return (size_t)snprintf(k, 16, "th%04d", i); }

static size_t tval_len(int i, uint64_t ver) { return 16 + (size_t)(((uint64_t)i * 131 + ver * 71) % 3000); }

static size_t tval(int i, uint64_t ver, uint8_t *buf) {
    size_t len = tval_len(i, ver);
    uint32_t id = (uint32_t)i;
    memcpy(buf, &id, 4);
    memcpy(buf + 8, &ver, 8);
    pattern_fill((uint64_t)i << 32 ^ ver, buf + 16, len - 16);
    uint32_t crc = keel_crc32c(0, buf + 16, len - 16);
    memcpy(buf + 4, &crc, 4);
    return len;
}

/* The version encoded in a value of key i, or 0 if the value is not one we wrote. */
static uint64_t tval_check(int i, const uint8_t *p, size_t len) {
    if (len < 16) return 0;
    uint32_t id, crc;
    uint64_t ver;
    memcpy(&id, p, 4);
    memcpy(&crc, p + 4, 4);
    memcpy(&ver, p + 8, 8);
    if (id != (uint32_t)i || ver == 0 || len != tval_len(i, ver)) return 0;
    if (keel_crc32c(0, p + 16, len - 16) != crc) return 0;
    return ver;
}

typedef struct reader_ctx {
    keel_store *s;
    int id;
    uint64_t reads, found;
    int errors;
} reader_ctx;

#define KEPT 64

static void *reader_run(void *arg) {
    reader_ctx *c = arg;
    rng r = rng_seed(1000 + (uint64_t)c->id);
    static _Thread_local uint64_t last_seen[NK];
    memset(last_seen, 0, sizeof last_seen);
    keel_view kept[KEPT];
    uint32_t kept_crc[KEPT];
    int kept_n = 0;
    char k[16];
    while (!atomic_load(&stop_flag)) {
        int i = (int)rng_below(&r, NK);
        size_t kl = tkey(i, k);
        uint64_t must = atomic_load(&committed[i]);
        keel_view v;
        keel_status st = keel_get(c->s, k, kl, &v);
        uint64_t upper = atomic_load(&started[i]);
        c->reads++;
        if (st == KEEL_NOTFOUND) {
            if (i < NK - NVOL && must > 0) {
                if (c->errors++ < 5)
                    h_fail(__FILE__, __LINE__, "reader %d: key %d not found, version %llu committed",
                           c->id, i, (unsigned long long)must);
            }
            continue;
        }
        if (st != KEEL_OK) {
            if (c->errors++ < 5) h_fail(__FILE__, __LINE__, "reader %d: get %s", c->id, st_name(st));
            continue;
        }
        c->found++;
        uint64_t ver = tval_check(i, v.data, v.len);
        if (ver == 0 || ver > upper) {
            if (c->errors++ < 5)
                h_fail(__FILE__, __LINE__, "reader %d: key %d: a value never written (len %zu, "
                       "version %llu, newest started %llu)", c->id, i, v.len,
                       (unsigned long long)ver, (unsigned long long)upper);
            continue;
        }
        if (i < NK - NVOL && (ver < must || ver < last_seen[i])) {
            if (c->errors++ < 5)
                h_fail(__FILE__, __LINE__, "reader %d: key %d: version %llu, but %llu committed "
                       "and %llu seen before", c->id, i, (unsigned long long)ver,
                       (unsigned long long)must, (unsigned long long)last_seen[i]);
        }
        if (ver > last_seen[i]) last_seen[i] = ver;
        /* Keep some views and recheck them later: they must never change. */
        if ((c->reads & 15) == 0) {
            int slot = kept_n < KEPT ? kept_n++ : (int)rng_below(&r, KEPT);
            kept[slot] = v;
            kept_crc[slot] = keel_crc32c(0, v.data, v.len);
        }
        if ((c->reads & 255) == 0) {
            for (int j = 0; j < kept_n; j++)
                if (keel_crc32c(0, kept[j].data, kept[j].len) != kept_crc[j] && c->errors++ < 5)
                    h_fail(__FILE__, __LINE__, "reader %d: a kept view changed", c->id);
        }
        /* Reader 0 also scans through an iterator now and then. */
        if (c->id == 0 && (c->reads & 4095) == 0) {
            keel_iter *it;
            if (keel_iter_new(c->s, &it) == KEEL_OK) {
                keel_view kv, vv;
                while (keel_iter_next(it, &kv, &vv) == KEEL_OK) {
                    int ki = -1;
                    if (kv.len == 6 && memcmp(kv.data, "th", 2) == 0)
                        ki = atoi((const char[5]){ (char)kv.data[2], (char)kv.data[3],
                                                   (char)kv.data[4], (char)kv.data[5], 0 });
                    if (ki < 0 || ki >= NK || tval_check(ki, vv.data, vv.len) == 0) {
                        if (c->errors++ < 5)
                            h_fail(__FILE__, __LINE__, "reader 0: iterator gave a bad entry");
                        break;
                    }
                }
                keel_iter_free(it);
            } else if (c->errors++ < 5) {
                h_fail(__FILE__, __LINE__, "keel_iter_new: %s", keel_errmsg());
            }
        }
    }
    for (int j = 0; j < kept_n; j++)
        if (keel_crc32c(0, kept[j].data, kept[j].len) != kept_crc[j] && c->errors++ < 5)
            h_fail(__FILE__, __LINE__, "reader %d: a kept view changed", c->id);
    return NULL;
}

typedef struct writer_ctx {
    keel_store *s;
    int id, nwriters;
    uint64_t bytes, ops;
    int errors;
    int use_streams;
} writer_ctx;

static int writer_owns(const writer_ctx *c, int i) { return i % c->nwriters == c->id; }

static void *writer_run(void *arg) {
    writer_ctx *c = arg;
    rng r = rng_seed(77 + (uint64_t)c->id);
    uint8_t *buf = malloc(16 * 3100);
    char keys[16][16];
    if (!buf) return NULL;
    while (!atomic_load(&stop_flag) && c->bytes < WRITER_BUDGET) {
        int i;
        do i = (int)rng_below(&r, NK);
        while (!writer_owns(c, i));
        uint64_t roll = rng_below(&r, 100);
        keel_status st;
        if (i >= NK - NVOL && roll < 30) {
            st = keel_delete(c->s, keys[0], tkey(i, keys[0]));
            if (st != KEEL_OK && st != KEEL_NOTFOUND && c->errors++ < 5)
                h_fail(__FILE__, __LINE__, "writer %d: delete %s", c->id, st_name(st));
            c->ops++;
            continue;
        }
        if (roll < 10) {
            /* a batch of up to 16 distinct own keys */
            keel_kv items[16];
            int idx[16], n = 0;
            for (int j = i; j < NK && n < 16; j += c->nwriters) {
                if (!writer_owns(c, j)) continue;
                uint64_t ver = atomic_load(&started[j]) + 1;
                atomic_store(&started[j], ver);
                idx[n] = j;
                items[n].key = keys[n];
                items[n].key_len = tkey(j, keys[n]);
                items[n].value = buf + (size_t)n * 3100;
                items[n].value_len = tval(j, ver, buf + (size_t)n * 3100);
                c->bytes += items[n].value_len;
                n++;
            }
            st = keel_put_batch(c->s, items, (size_t)n);
            if (st != KEEL_OK) {
                if (c->errors++ < 5) h_fail(__FILE__, __LINE__, "writer %d: batch %s", c->id, st_name(st));
                continue;
            }
            for (int j = 0; j < n; j++) atomic_store(&committed[idx[j]], atomic_load(&started[idx[j]]));
        } else {
            uint64_t ver = atomic_load(&started[i]) + 1;
            atomic_store(&started[i], ver);
            size_t len = tval(i, ver, buf);
            size_t kl = tkey(i, keys[0]);
            if (c->use_streams && roll < 20) {
                keel_stream *stm = NULL;
                st = keel_stream_begin(c->s, &stm);
                if (st == KEEL_OK) {
                    size_t half = len / 2;
                    st = keel_stream_write(stm, buf, half);
                    if (st == KEEL_OK) st = keel_stream_write(stm, buf + half, len - half);
                    if (st == KEEL_OK) st = keel_stream_commit(stm, keys[0], kl);
                    else keel_stream_abort(stm);
                }
            } else {
                st = keel_put(c->s, keys[0], kl, buf, len);
            }
            if (st != KEEL_OK) {
                if (c->errors++ < 5) h_fail(__FILE__, __LINE__, "writer %d: put %s", c->id, st_name(st));
                continue;
            }
            atomic_store(&committed[i], ver);
            c->bytes += len;
        }
        c->ops++;
    }
    free(buf);
    return NULL;
}

static void reset_versions(void) {
    for (int i = 0; i < NK; i++) {
        atomic_store(&committed[i], 0);
        atomic_store(&started[i], 0);
    }
    atomic_store(&stop_flag, 0);
    atomic_store(&compactions_done, 0);
}

/* Version 1 of every key. */
static int populate(keel_store *s) {
    uint8_t buf[3100];
    char k[16];
    for (int i = 0; i < NK; i++) {
        atomic_store(&started[i], 1);
        size_t len = tval(i, 1, buf);
        if (keel_put(s, k, tkey(i, k), buf, len) != KEEL_OK) return -1;
        atomic_store(&committed[i], 1);
    }
    return 0;
}

/* Final state: every key holds exactly its last committed version. */
static void check_final(keel_store *s) {
    char k[16];
    int bad = 0;
    for (int i = 0; i < NK && bad < 5; i++) {
        size_t kl = tkey(i, k);
        uint64_t ver = atomic_load(&committed[i]);
        keel_view v;
        keel_status st = keel_get(s, k, kl, &v);
        if (i >= NK - NVOL && st == KEEL_NOTFOUND) continue;
        if (st != KEEL_OK) {
            bad++;
            h_fail(__FILE__, __LINE__, "final: key %d: %s", i, st_name(st));
            continue;
        }
        uint64_t got = tval_check(i, v.data, v.len);
        if (i >= NK - NVOL ? got == 0 : got != ver) {
            bad++;
            h_fail(__FILE__, __LINE__, "final: key %d holds version %llu, last committed %llu", i,
                   (unsigned long long)got, (unsigned long long)ver);
        }
    }
}

typedef struct early_view {
    keel_view v;
    uint8_t *copy;
} early_view;

static void run_threads(keel_store *s, double seconds, int compact_loop, int nwriters) {
    pthread_t rt[NREADERS], wt[2];
    reader_ctx rc[NREADERS];
    writer_ctx wc[2];
    for (int t = 0; t < NREADERS; t++) {
        rc[t] = (reader_ctx){ s, t, 0, 0, 0 };
        if (pthread_create(&rt[t], NULL, reader_run, &rc[t]) != 0) {
            h_fail(__FILE__, __LINE__, "pthread_create");
            return;
        }
    }
    for (int t = 0; t < nwriters; t++) {
        wc[t] = (writer_ctx){ s, t, nwriters, 0, 0, 0, t == nwriters - 1 };
        if (pthread_create(&wt[t], NULL, writer_run, &wc[t]) != 0) {
            h_fail(__FILE__, __LINE__, "pthread_create");
            return;
        }
    }
    double t0 = h_now();
    while (h_now() - t0 < seconds) {
        if (compact_loop) {
            keel_status st = keel_compact(s, NULL, NULL);
            if (st != KEEL_OK) h_fail(__FILE__, __LINE__, "keel_compact: %s (%s)", st_name(st), keel_errmsg());
            atomic_fetch_add(&compactions_done, 1);
            usleep(100 * 1000);
        } else {
            usleep(20 * 1000);
        }
    }
    atomic_store(&stop_flag, 1);
    uint64_t reads = 0, wops = 0, wbytes = 0;
    for (int t = 0; t < NREADERS; t++) {
        pthread_join(rt[t], NULL);
        reads += rc[t].reads;
        CHECK(rc[t].reads > 0);
        CHECK_EQ(rc[t].errors, 0);
    }
    for (int t = 0; t < nwriters; t++) {
        pthread_join(wt[t], NULL);
        wops += wc[t].ops;
        wbytes += wc[t].bytes;
        CHECK(wc[t].ops > 0);
        CHECK_EQ(wc[t].errors, 0);
    }
    printf("  %llu reads, %llu write ops, %.1f MiB written, %d compactions\n",
           (unsigned long long)reads, (unsigned long long)wops, (double)wbytes / (1 << 20),
           atomic_load(&compactions_done));
}

static void test_readers_and_writers(void) {
    const char *p = h_path("t.keel");
    keel_store *s;
    reset_versions();
    REQUIRE_OK(open_mode(p, KEEL_OPEN_CREATE, &s));
    REQUIRE(populate(s) == 0);
    uint64_t size0 = fsize_of(s);

    /* Views taken before anything else happens. */
    enum { EARLY = 100 };
    early_view ev[EARLY];
    char k[16];
    for (int j = 0; j < EARLY; j++) {
        int i = j * 7;
        REQUIRE_OK(keel_get(s, k, tkey(i, k), &ev[j].v));
        ev[j].copy = malloc(ev[j].v.len);
        REQUIRE(ev[j].copy != NULL);
        memcpy(ev[j].copy, ev[j].v.data, ev[j].v.len);
    }

    run_threads(s, 2.0, 0, 2);
    /* Make sure the file grew a lot (the writers may have been slow): 40 MiB more. */
    uint8_t *big = malloc(1 << 20);
    REQUIRE(big != NULL);
    for (int j = 0; j < 40; j++) {
        pattern_fill((uint64_t)j, big, 1 << 20);
        CHECK_OK(keel_put(s, "grow", 4, big, 1 << 20));
    }
    free(big);
    CHECK_OK(keel_delete(s, "grow", 4));
    uint64_t size1 = fsize_of(s);
    printf("  file grew from %llu to %llu bytes\n", (unsigned long long)size0,
           (unsigned long long)size1);
    CHECK(size1 > size0 + (40u << 20));
    for (int j = 0; j < EARLY; j++) CHECK_MEM(ev[j].v.data, ev[j].copy, ev[j].v.len);
    check_final(s);

    CHECK_OK(keel_compact(s, NULL, NULL));
    for (int j = 0; j < EARLY; j++) CHECK_MEM(ev[j].v.data, ev[j].copy, ev[j].v.len);
    check_final(s);
    CHECK_OK(keel_verify(s, NULL));
    keel_free(s);
    for (int j = 0; j < EARLY; j++) free(ev[j].copy);

    REQUIRE_OK(open_mode(p, KEEL_OPEN_READONLY, &s));
    check_final(s);
    keel_free(s);
}

static void test_compaction_under_load(void) {
    const char *p = h_path("t.keel");
    keel_store *s;
    reset_versions();
    REQUIRE_OK(open_mode(p, KEEL_OPEN_CREATE, &s));
    REQUIRE(populate(s) == 0);
    enum { EARLY = 50 };
    early_view ev[EARLY];
    char k[16];
    for (int j = 0; j < EARLY; j++) {
        REQUIRE_OK(keel_get(s, k, tkey(j * 13, k), &ev[j].v));
        ev[j].copy = malloc(ev[j].v.len);
        REQUIRE(ev[j].copy != NULL);
        memcpy(ev[j].copy, ev[j].v.data, ev[j].v.len);
    }
    run_threads(s, 2.0, 1, 1);
    CHECK(atomic_load(&compactions_done) >= 2);
    for (int j = 0; j < EARLY; j++) CHECK_MEM(ev[j].v.data, ev[j].copy, ev[j].v.len);
    check_final(s);
    CHECK_OK(keel_verify(s, NULL));
    char names[1024];
    CHECKF(dir_entries(names, sizeof names) == 1, "directory holds: %s", names);
    keel_free(s);
    for (int j = 0; j < EARLY; j++) free(ev[j].copy);
    REQUIRE_OK(open_mode(p, KEEL_OPEN_READONLY, &s));
    check_final(s);
    keel_free(s);
}

/* Many threads writing at once: writes are serialized, none is lost. */
typedef struct hammer_ctx {
    keel_store *s;
    int id;
    int errors;
} hammer_ctx;

static void *hammer_run(void *arg) {
    hammer_ctx *c = arg;
    char k[32], v[32];
    for (int j = 0; j < 2000; j++) {
        int kl = snprintf(k, sizeof k, "w%d-%d", c->id, j);
        int vl = snprintf(v, sizeof v, "v%d", j * c->id);
        if (keel_put(c->s, k, (size_t)kl, v, (size_t)vl) != KEEL_OK) c->errors++;
        if (j % 100 == 99) {
            keel_kv kv[2] = { { k, (size_t)kl, "b", 1 }, { "shared", 6, v, (size_t)vl } };
            if (keel_put_batch(c->s, kv, 2) != KEEL_OK) c->errors++;
            if (keel_put(c->s, k, (size_t)kl, v, (size_t)vl) != KEEL_OK) c->errors++;
        }
    }
    return NULL;
}

static void test_many_writers(void) {
    const char *p = h_path("t.keel");
    keel_store *s;
    REQUIRE_OK(open_mode(p, KEEL_OPEN_CREATE, &s));
    enum { T = 6 };
    pthread_t th[T];
    hammer_ctx hc[T];
    for (int t = 0; t < T; t++) {
        hc[t] = (hammer_ctx){ s, t + 1, 0 };
        REQUIRE(pthread_create(&th[t], NULL, hammer_run, &hc[t]) == 0);
    }
    for (int t = 0; t < T; t++) {
        pthread_join(th[t], NULL);
        CHECK_EQ(hc[t].errors, 0);
    }
    CHECK_EQ(count_of(s), T * 2000 + 1);
    keel_free(s);
    REQUIRE_OK(open_mode(p, KEEL_OPEN_READONLY, &s));
    CHECK_EQ(count_of(s), T * 2000 + 1);
    for (int t = 1; t <= T; t++)
        for (int j = 0; j < 2000; j += 37) {
            char k[32], v[32];
            snprintf(k, sizeof k, "w%d-%d", t, j);
            snprintf(v, sizeof v, "v%d", j * t);
            CHECK_VALUE_S(s, k, v);
        }
    CHECK_OK(keel_verify(s, NULL));
    keel_free(s);
}

/* A writer keeps making progress while readers hammer the index. Readers must never wait
 * for a writer's I/O, but a reader-preferring lock lets a steady stream of readers starve
 * the writer: then a put can wait for as long as readers keep coming. The writer's rate
 * under 8 busy readers must stay above 1% of its rate alone (a fair lock gives several
 * percent on a 2-core machine, where the readers alone already take most of the CPU). */
typedef struct spin_ctx {
    keel_store *s;
    uint64_t reads;
} spin_ctx;

static void *spin_reader(void *arg) {
    spin_ctx *c = arg;
    char k[16];
    unsigned i = 0;
    while (!atomic_load(&stop_flag)) {
        keel_view v;
        size_t kl = tkey((int)(i++ % NK), k);
        if (keel_get(c->s, k, kl, &v) == KEEL_OK) c->reads++;
    }
    return NULL;
}

static double timed_puts(keel_store *s, double seconds, double *max_latency) {
    char k[16];
    uint8_t val[100] = { 0 };
    uint64_t n = 0;
    double t0 = h_now(), t = t0;
    *max_latency = 0;
    while (t - t0 < seconds) {
        size_t kl = tkey((int)(n % NK), k);
        if (keel_put(s, k, kl, val, sizeof val) != KEEL_OK) return -1;
        double t2 = h_now();
        if (t2 - t > *max_latency) *max_latency = t2 - t;
        t = t2;
        n++;
    }
    return (double)n / (t - t0);
}

static void test_writer_progress_under_read_load(void) {
    keel_store *s;
    REQUIRE_OK(open_mode(h_path("t.keel"), KEEL_OPEN_CREATE, &s));
    reset_versions();
    REQUIRE(populate(s) == 0);
    double lat0, lat1;
    double solo = timed_puts(s, 0.5, &lat0);
    REQUIRE(solo > 0);
    pthread_t th[NREADERS];
    spin_ctx sc[NREADERS];
    for (int t = 0; t < NREADERS; t++) {
        sc[t] = (spin_ctx){ s, 0 };
        REQUIRE(pthread_create(&th[t], NULL, spin_reader, &sc[t]) == 0);
    }
    usleep(50 * 1000);
    double loaded = timed_puts(s, 1.0, &lat1);
    atomic_store(&stop_flag, 1);
    for (int t = 0; t < NREADERS; t++) pthread_join(th[t], NULL);
    printf("  puts/s alone %.0f (max latency %.1f ms), with %d readers %.0f (%.2f%%, max "
           "latency %.1f ms)\n", solo, lat0 * 1e3, NREADERS, loaded, 100.0 * loaded / solo,
           lat1 * 1e3);
    CHECKF(loaded >= solo * 0.01, "writer starved by readers: %.0f puts/s with %d readers, "
           "%.0f alone", loaded, NREADERS, solo);
    keel_free(s);
}

/* A read-only handle shared by reader threads while its owner refreshes it: another
 * handle in this process appends and compacts, the main thread calls keel_refresh, and
 * the readers (the usual checks; "committed" here means "refreshed after the put") never
 * see a bad value, and their kept views stay valid across refreshes and compactions. */
static void test_refresh_with_readers(void) {
    const char *p = h_path("t.keel");
    keel_store *w, *r;
    reset_versions();
    REQUIRE_OK(open_mode(p, KEEL_OPEN_CREATE, &w));
    REQUIRE(populate(w) == 0);
    REQUIRE_OK(open_mode(p, KEEL_OPEN_READONLY, &r));
    enum { T = 4 };
    pthread_t th[T];
    reader_ctx rc[T];
    for (int t = 0; t < T; t++) {
        rc[t] = (reader_ctx){ r, t + 1, 0, 0, 0 }; /* ids from 1: no iterator scans */
        REQUIRE(pthread_create(&th[t], NULL, reader_run, &rc[t]) == 0);
    }
    static uint8_t buf[3100];
    rng g = rng_seed(3);
    int refreshes = 0, compactions = 0;
    uint64_t pending_ver[NK];
    int pending[64], npending = 0;
    double t0 = h_now();
    while (h_now() - t0 < 1.5) {
        npending = 0;
        for (int j = 0; j < 20; j++) {
            int i = (int)rng_below(&g, NK - NVOL);
            uint64_t ver = atomic_load(&started[i]) + 1;
            atomic_store(&started[i], ver);
            size_t len = tval(i, ver, buf);
            char k[16];
            if (keel_put(w, k, tkey(i, k), buf, len) != KEEL_OK) {
                CHECK(0);
                break;
            }
            pending[npending++] = i;
            pending_ver[i] = ver;
        }
        if (refreshes % 10 == 9) {
            CHECK_OK(keel_compact(w, NULL, NULL));
            compactions++;
        }
        keel_status st = keel_refresh(r);
        refreshes++;
        if (st != KEEL_OK) {
            h_fail(__FILE__, __LINE__, "keel_refresh: %s (%s)", st_name(st), keel_errmsg());
            break;
        }
        for (int j = 0; j < npending; j++)
            if (atomic_load(&committed[pending[j]]) < pending_ver[pending[j]])
                atomic_store(&committed[pending[j]], pending_ver[pending[j]]);
    }
    atomic_store(&stop_flag, 1);
    for (int t = 0; t < T; t++) {
        pthread_join(th[t], NULL);
        CHECK_EQ(rc[t].errors, 0);
        CHECK(rc[t].reads > 0);
    }
    printf("  %d refreshes, %d compactions\n", refreshes, compactions);
    check_final(r);
    keel_free(r);
    keel_free(w);
}

int main(int argc, char **argv) {
    static const h_test tests[] = {
        H_TEST(test_readers_and_writers),
        H_TEST(test_compaction_under_load),
        H_TEST(test_many_writers),
        H_TEST(test_refresh_with_readers),
        H_TEST(test_writer_progress_under_read_load),
    };
    return h_main(argc, argv, tests, H_COUNT(tests));
}
