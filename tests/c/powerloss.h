/*
 * powerloss.h: a power-loss simulator for any face of keel (header-only, for C tests).
 *
 * In the spirit of ALICE and CrashMonkey: a workload runs once for real with os.c's
 * recording mode on (keel__os_record_start), so that every file creation, write (with its
 * bytes), truncate, sync, rename, link, unlink and directory sync is logged, and the
 * workload notes each operation it saw acknowledged with pl_ack(n) ("n operations have
 * returned"). pl_run() then replays the log into a model of a file system and, at every
 * point between two logged calls (a crash point), builds disk states a power loss could
 * leave there, writes each into a directory and hands it to the test's checker.
 *
 * The model, per crash point:
 *   - a file's content as of its last sync is there; of the writes and truncates since,
 *     each write is split at 4 KiB page boundaries and each piece independently reaches
 *     the disk, is lost, or is torn (only a prefix of whole 512-byte sectors arrives);
 *     truncates apply in order; the file's size either follows every write or stops at
 *     the last byte that arrived; bytes that never arrived read as zeros;
 *   - directory operations (creation, rename, link, unlink) since the last directory sync
 *     reach the disk in order: any prefix of them survives;
 *   - two extreme states are always included: everything issued arrived, and nothing
 *     since the last syncs did.
 * Only files directly inside the workload's directory are modelled (the same names appear
 * in the state directory). Files the workload did not create while recording are taken
 * as they were when first opened, durable.
 *
 * Bounded and seeded: PL_STATES (env KEEL_POWERLOSS_STATES) random states per crash point,
 * seed from env KEEL_POWERLOSS_SEED; a longer run is the same test with a larger count.
 * The Database face reuses this file as is: test_db_powerloss.c records its workload and
 * checks each state with a fingerprint of the whole database.
 */
#ifndef KEEL_TEST_POWERLOSS_H
#define KEEL_TEST_POWERLOSS_H

#include "util.h"

#include <sys/stat.h>

#include "base/base.h"

typedef struct pl_buf {
    uint8_t *p;
    size_t len, cap;
} pl_buf;

static void pl_buf_reserve(pl_buf *b, size_t n) {
    if (n <= b->cap) return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < n) cap *= 2;
    b->p = realloc(b->p, cap);
    if (!b->p) abort();
    b->cap = cap;
}

static void pl_buf_set_len(pl_buf *b, size_t n) {
    pl_buf_reserve(b, n);
    if (n > b->len) memset(b->p + b->len, 0, n - b->len);
    b->len = n;
}

static void pl_buf_write(pl_buf *b, uint64_t off, const uint8_t *d, size_t n) {
    if (off + n > b->len) pl_buf_set_len(b, (size_t)(off + n));
    memcpy(b->p + off, d, n);
}

static void pl_buf_copy(pl_buf *dst, const pl_buf *src) {
    pl_buf_reserve(dst, src->len);
    if (src->len) memcpy(dst->p, src->p, src->len);
    dst->len = src->len;
}

typedef struct pl_file {
    uint32_t id;
    pl_buf cur, dur;         /* everything issued; as of the last sync */
    size_t *pend;            /* indices of writes and truncates since the last sync */
    size_t npend, cappend;
} pl_file;

typedef struct pl_dirent {
    char name[256];
    uint32_t id;
} pl_dirent;

typedef struct pl_dir {
    pl_dirent *v;
    size_t n, cap;
} pl_dir;

typedef struct pl_model {
    const keel_os_event *ev;
    size_t nev;
    const char *workdir;
    pl_file *files;
    size_t nfiles, capfiles;
    pl_dir cur, dur;
    size_t *dpend;           /* directory operations since the last directory sync */
    size_t ndpend, capdpend;
} pl_model;

static void pl_push(size_t **v, size_t *n, size_t *cap, size_t x) {
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *v = realloc(*v, *cap * sizeof **v);
        if (!*v) abort();
    }
    (*v)[(*n)++] = x;
}

static pl_file *pl_file_get(pl_model *m, uint32_t id) {
    for (size_t i = 0; i < m->nfiles; i++)
        if (m->files[i].id == id) return &m->files[i];
    if (m->nfiles == m->capfiles) {
        m->capfiles = m->capfiles ? m->capfiles * 2 : 16;
        m->files = realloc(m->files, m->capfiles * sizeof *m->files);
        if (!m->files) abort();
    }
    pl_file *f = &m->files[m->nfiles++];
    memset(f, 0, sizeof *f);
    f->id = id;
    return f;
}

/* The name of `path` when it lies directly in the workload's directory, else NULL. */
static const char *pl_name_of(const pl_model *m, const char *path) {
    size_t wl = strlen(m->workdir);
    if (!path || strncmp(path, m->workdir, wl) != 0 || path[wl] != '/') return NULL;
    const char *name = path + wl + 1;
    return strchr(name, '/') || strlen(name) >= 256 ? NULL : name;
}

static uint32_t pl_dir_get(const pl_dir *d, const char *name) {
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->v[i].name, name) == 0) return d->v[i].id;
    return 0;
}

static void pl_dir_del(pl_dir *d, const char *name) {
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->v[i].name, name) == 0) {
            d->v[i] = d->v[--d->n];
            return;
        }
}

static void pl_dir_set(pl_dir *d, const char *name, uint32_t id) {
    pl_dir_del(d, name);
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 16;
        d->v = realloc(d->v, d->cap * sizeof *d->v);
        if (!d->v) abort();
    }
    snprintf(d->v[d->n].name, sizeof d->v[d->n].name, "%s", name);
    d->v[d->n++].id = id;
}

static void pl_dir_copy(pl_dir *dst, const pl_dir *src) {
    dst->n = 0;
    for (size_t i = 0; i < src->n; i++) pl_dir_set(dst, src->v[i].name, src->v[i].id);
}

/* Apply a directory operation to `d`; false when the event is not one of ours. */
static bool pl_dir_apply(const pl_model *m, pl_dir *d, const keel_os_event *e) {
    const char *a = pl_name_of(m, e->path), *b = pl_name_of(m, e->path2);
    switch (e->kind) {
    case KEEL_EV_CREATE:
        if (!a) return false;
        pl_dir_set(d, a, e->file);
        return true;
    case KEEL_EV_RENAME:
    case KEEL_EV_LINK: {
        if (!a || !b) return false;
        uint32_t id = pl_dir_get(d, a);
        if (!id) return true;  /* its creation did not survive: nothing to move */
        if (e->kind == KEEL_EV_RENAME) pl_dir_del(d, a);
        pl_dir_set(d, b, id);
        return true;
    }
    case KEEL_EV_UNLINK:
        if (!a) return false;
        pl_dir_del(d, a);
        return true;
    default:
        return false;
    }
}

static void pl_apply(pl_model *m, size_t i) {
    const keel_os_event *e = &m->ev[i];
    pl_file *f;
    switch (e->kind) {
    case KEEL_EV_CREATE:
        f = pl_file_get(m, e->file);
        f->cur.len = f->dur.len = 0;
        f->npend = 0;
        /* fallthrough */
    case KEEL_EV_RENAME:
    case KEEL_EV_LINK:
    case KEEL_EV_UNLINK:
        if (pl_dir_apply(m, &m->cur, e)) pl_push(&m->dpend, &m->ndpend, &m->capdpend, i);
        break;
    case KEEL_EV_WRITE:
        f = pl_file_get(m, e->file);
        pl_buf_write(&f->cur, e->off, e->data, (size_t)e->len);
        pl_push(&f->pend, &f->npend, &f->cappend, i);
        break;
    case KEEL_EV_TRUNCATE:
        f = pl_file_get(m, e->file);
        pl_buf_set_len(&f->cur, (size_t)e->off);
        pl_push(&f->pend, &f->npend, &f->cappend, i);
        break;
    case KEEL_EV_SYNC:
        f = pl_file_get(m, e->file);
        pl_buf_copy(&f->dur, &f->cur);
        f->npend = 0;
        break;
    case KEEL_EV_DIRSYNC:
        if (pl_name_of(m, e->path)) {
            pl_dir_copy(&m->dur, &m->cur);
            m->ndpend = 0;
        }
        break;
    case KEEL_EV_MARK:
        break;
    }
}

/* mode: 0 random, 1 everything issued arrived, 2 nothing since the last sync did. */
static void pl_file_state(const pl_model *m, const pl_file *f, int mode, rng *r, pl_buf *out) {
    if (mode == 1) {
        pl_buf_copy(out, &f->cur);
        return;
    }
    pl_buf_copy(out, &f->dur);
    if (mode == 2) return;
    bool size_follows = rng_below(r, 2) == 0;
    unsigned keep_pct = (unsigned)rng_below(r, 101);  /* how lucky this power loss is */
    for (size_t k = 0; k < f->npend; k++) {
        const keel_os_event *e = &m->ev[f->pend[k]];
        if (e->kind == KEEL_EV_TRUNCATE) {
            pl_buf_set_len(out, (size_t)e->off);
            continue;
        }
        uint64_t end = e->off + e->len;
        if (size_follows && end > out->len) pl_buf_set_len(out, (size_t)end);
        for (uint64_t p = e->off; p < end;) {
            uint64_t q = (p | 4095) + 1;
            if (q > end) q = end;
            uint64_t take = 0;
            unsigned roll = (unsigned)rng_below(r, 100);
            if (roll < keep_pct) take = q - p;
            else if (roll < keep_pct + (100 - keep_pct) / 3) {
                uint64_t page = p & ~(uint64_t)4095;   /* torn: whole sectors from the page start */
                uint64_t cut = page + 512 * rng_below(r, 8);
                take = cut > p ? (cut < q ? cut - p : q - p) : 0;
            }
            if (take) pl_buf_write(out, p, e->data + (p - e->off), (size_t)take);
            p = q;
        }
    }
}

typedef void (*pl_check_fn)(void *ctx, const char *dir, uint64_t acked, size_t point,
                            const char *state);

typedef struct pl_stats {
    size_t points, states;
} pl_stats;

static H_UNUSED unsigned pl_states_per_point(unsigned dflt) {
    const char *e = getenv("KEEL_POWERLOSS_STATES");
    return e && atoi(e) > 0 ? (unsigned)atoi(e) : dflt;
}

static H_UNUSED void pl_ack(uint64_t n) { keel__os_record_mark(n); }

static void pl_clear_dir(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *de;
    char p[4400];
    while (d && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        unlink(p);
    }
    if (d) closedir(d);
}

/* Replay the recorded log (recording is stopped) and check every crash point of it with
 * `states` random disk states plus the two extremes. `workdir` is the directory the
 * workload used; `statedir` is created and filled for each state. */
static H_UNUSED __attribute__((noinline)) pl_stats pl_run(const char *workdir, const char *statedir, unsigned states,
                                uint64_t seed, pl_check_fn check, void *ctx) {
    keel__os_record_stop();
    pl_model m;
    memset(&m, 0, sizeof m);
    m.workdir = workdir;
    m.ev = keel__os_record_log(&m.nev);
    mkdir(statedir, 0755);
    const char *es = getenv("KEEL_POWERLOSS_SEED");
    if (es) seed = strtoull(es, NULL, 0);
    rng r = rng_seed(seed);
    pl_stats stats = {0, 0};
    pl_dir d = {0};
    pl_buf content = {0};
    uint64_t acked = 0;
    char what[200], path[4400];
    for (size_t i = 0; i <= m.nev; i++) {
        if (i > 0) {
            pl_apply(&m, i - 1);
            if (m.ev[i - 1].kind == KEEL_EV_MARK) {
                acked = m.ev[i - 1].off;
                continue;  /* not a change: no new crash point */
            }
        }
        stats.points++;
        for (unsigned sidx = 0; sidx < states + 2; sidx++) {
            int mode = sidx == 0 ? 1 : sidx == 1 ? 2 : 0;
            size_t keep_dir = mode == 1 ? m.ndpend : mode == 2 ? 0 : (size_t)rng_below(&r, m.ndpend + 1);
            pl_dir_copy(&d, &m.dur);
            for (size_t k = 0; k < keep_dir; k++) pl_dir_apply(&m, &d, &m.ev[m.dpend[k]]);
            pl_clear_dir(statedir);
            for (size_t k = 0; k < d.n; k++) {
                pl_file *f = pl_file_get(&m, d.v[k].id);
                pl_file_state(&m, f, mode, &r, &content);
                snprintf(path, sizeof path, "%s/%s", statedir, d.v[k].name);
                if (write_file(path, content.p ? content.p : (const uint8_t *)"", content.len) != 0)
                    h_fail(__FILE__, __LINE__, "writing %s", path);
            }
            snprintf(what, sizeof what, "crash after event %zu of %zu (%s), state %u, %zu of %zu "
                     "directory operations kept", i, m.nev, mode == 1 ? "all arrived" :
                     mode == 2 ? "nothing unsynced arrived" : "random", sidx, keep_dir, m.ndpend);
            check(ctx, statedir, acked, i, what);
            stats.states++;
        }
        if (h_failures() > 20) break;  /* enough to diagnose */
    }
    pl_clear_dir(statedir);
    for (size_t i = 0; i < m.nfiles; i++) {
        free(m.files[i].cur.p);
        free(m.files[i].dur.p);
        free(m.files[i].pend);
    }
    free(m.files);
    free(m.cur.v);
    free(m.dur.v);
    free(m.dpend);
    free(d.v);
    free(content.p);
    keel__os_record_free();
    return stats;
}

#endif /* KEEL_TEST_POWERLOSS_H */
