/*
 * records_mt.c: the sharded multi-threaded writer and reader (Disky's MultiThreadedWriter
 * and MultiThreadedReader), with POSIX threads.
 *
 * Writer. Records are copied into per-shard batches in the caller's thread (round robin over
 * the open shards, so every shard gets records); a full batch (256 KiB or 512 records) goes
 * on a FIFO that the worker threads drain, each batch written under its shard's mutex.
 * `pending` counts records accepted and not yet written: callers wait while it reaches
 * task_queue_capacity (back-pressure). A shard whose record bytes reach
 * max_bytes_per_writer is closed and, with auto-sharding, replaced by the next free
 * {prefix}_{N}; without, it is retired and its later records go to another shard.
 *
 * Reader. Worker threads claim shard paths in order and read them whole, pushing decoded
 * chunks (retained, zero copy) on a queue bounded by record bytes. The consumer takes
 * records one by one from the head chunk. An error of one shard is queued at its place as
 * an error item and returned once.
 *
 * Locking: one mutex per object guards its queue and counters; shard writers have their own
 * mutex so workers write different shards in parallel. Nothing is called back with a lock
 * held.
 */
#include "records/records.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BATCH_BYTES (256u << 10)
#define BATCH_RECORDS 512u

/* ---- writer ---------------------------------------------------------------------------------- */

typedef struct mt_batch {
    struct mt_batch *next;
    uint32_t slot;
    uint32_t n;
    size_t len;
    size_t cap;
    uint8_t *buf;               /* n records: varint length then bytes */
} mt_batch;

typedef struct mt_slot {
    pthread_mutex_t mu;
    keel_rec_writer *w;         /* NULL when retired */
    uint64_t bytes;
    bool busy;
    mt_batch *fill;             /* batch being filled (under the writer's mutex) */
} mt_slot;

struct keel_rec_mtwriter {
    keel_rec_mtwriter_options o;
    char *dir, *prefix;
    pthread_mutex_t mu;
    pthread_cond_t work, room, idle;
    mt_batch *head, *tail;
    uint64_t pending;           /* records accepted, not yet written */
    uint32_t writing;           /* batches being written */
    uint64_t rr;
    uint64_t next_n;            /* next shard number to try */
    mt_slot *slots;
    uint32_t nslots;
    pthread_t *threads;
    uint32_t nthreads;
    uint32_t batch_records;     /* a batch is queued at this many records */
    bool stop;
    keel_status err;
    char errmsg[512];
    uint64_t fork_gen;          /* base/fork.c: the worker threads are gone in a child */
};

/* The sharded writer and reader in a child forked after they were opened: their worker
 * threads did not survive the fork, and a lock a worker held stays held. Every call
 * refuses; close leaks the child's copy instead of waiting for threads that do not exist. */
static keel_status refuse_forked(const char *what) {
    return keel__fail(KEEL_ELOCKED, "this %s was opened before fork(): its worker threads do "
                      "not exist in the child; open a new one in the child", what);
}

static void mt_set_err(keel_rec_mtwriter *w, keel_status st) {
    /* under w->mu */
    if (!w->err) {
        w->err = st;
        snprintf(w->errmsg, sizeof w->errmsg, "%s", keel_errmsg());
    }
}

/* Open the next free shard file. Under w->mu (numbering) — the open itself is quick. */
static keel_status mt_new_shard(keel_rec_mtwriter *w, keel_rec_writer **out) {
    char path[4200];
    for (;;) {
        snprintf(path, sizeof path, "%s/%s_%llu", w->dir, w->prefix,
                 (unsigned long long)w->next_n++);
        if (!w->o.append) break;
        struct stat sb;
        if (stat(path, &sb) != 0) break;
    }
    keel_rec_writer_options wo = w->o.writer;
    wo.append = 0;
    wo.array_record_group_size = 0;
    return keel_rec_writer_open(path, &wo, out);
}

/* Write one batch to its shard (or another open one). Called without w->mu. */
static keel_status mt_write_batch(keel_rec_mtwriter *w, mt_batch *b) {
    keel_status st = KEEL_OK;
    uint32_t s = b->slot;
    const uint8_t *p = b->buf, *end = b->buf + b->len;
    uint32_t left = b->n;
    while (left > 0 && !st) {
        mt_slot *sl = &w->slots[s];
        pthread_mutex_lock(&sl->mu);
        if (!sl->w) {
            pthread_mutex_unlock(&sl->mu);
            /* Retired: any open shard will do. */
            uint32_t t;
            pthread_mutex_lock(&w->mu);
            for (t = 0; t < w->nslots && !w->slots[(s + 1 + t) % w->nslots].w; t++) {}
            pthread_mutex_unlock(&w->mu);
            if (t == w->nslots) {
                st = keel__fail(KEEL_ERANGE, "every shard writer reached max_bytes_per_writer "
                                "(%llu) and auto-sharding is off",
                                (unsigned long long)w->o.max_bytes_per_writer);
                break;
            }
            s = (s + 1 + t) % w->nslots;
            continue;
        }
        sl->busy = true;
        while (left > 0 && sl->w) {
            uint64_t len;
            keel__rec_get_varint(&p, end, &len);
            st = keel_rec_writer_write(sl->w, p, (size_t)len);
            if (st) break;
            p += len;
            left--;
            sl->bytes += len;
            if (w->o.max_bytes_per_writer && sl->bytes >= w->o.max_bytes_per_writer) {
                st = keel_rec_writer_close(sl->w);
                sl->w = NULL;
                sl->bytes = 0;
                if (st) break;
                if (w->o.auto_sharding) {
                    pthread_mutex_lock(&w->mu);
                    st = mt_new_shard(w, &sl->w);
                    pthread_mutex_unlock(&w->mu);
                    if (st) break;
                }
            }
        }
        sl->busy = false;
        pthread_mutex_unlock(&sl->mu);
    }
    return st;
}

static void *mt_writer_main(void *arg) {
    keel_rec_mtwriter *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->head && !w->stop) pthread_cond_wait(&w->work, &w->mu);
        if (!w->head) break;
        mt_batch *b = w->head;
        w->head = b->next;
        if (!w->head) w->tail = NULL;
        w->writing++;
        pthread_mutex_unlock(&w->mu);
        keel_status st = w->err ? KEEL_OK : mt_write_batch(w, b);
        pthread_mutex_lock(&w->mu);
        if (st) mt_set_err(w, st);
        w->pending -= b->n;
        w->writing--;
        pthread_cond_broadcast(&w->room);
        if (!w->head && !w->writing) pthread_cond_broadcast(&w->idle);
        free(b->buf);
        free(b);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Queue slot s's filling batch. Under w->mu. */
static void mt_enqueue_fill(keel_rec_mtwriter *w, mt_slot *sl) {
    mt_batch *b = sl->fill;
    if (!b || b->n == 0) return;
    sl->fill = NULL;
    b->next = NULL;
    if (w->tail) w->tail->next = b;
    else w->head = b;
    w->tail = b;
    pthread_cond_signal(&w->work);
}

static char *dupstr(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static void mt_writer_free(keel_rec_mtwriter *w) {
    for (uint32_t i = 0; i < w->nslots; i++) {
        if (w->slots[i].fill) {
            free(w->slots[i].fill->buf);
            free(w->slots[i].fill);
        }
        pthread_mutex_destroy(&w->slots[i].mu);
    }
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->work);
    pthread_cond_destroy(&w->room);
    pthread_cond_destroy(&w->idle);
    free(w->slots);
    free(w->threads);
    free(w->dir);
    free(w->prefix);
    free(w);
}

keel_status keel_rec_mtwriter_open(const keel_rec_mtwriter_options *opts,
                                   keel_rec_mtwriter **out) {
    keel__clear_error();
    if (!opts || !opts->dir || !out) return keel__fail(KEEL_EINVAL, "keel_rec_mtwriter_open: NULL");
    keel_status st0 = keel__rec_check_writer_options(&opts->writer);
    if (st0 != KEEL_OK) return st0;
    keel_rec_mtwriter *w = calloc(1, sizeof *w);
    if (!w) return keel__fail(KEEL_ENOMEM, "allocating a writer");
    w->fork_gen = keel__fork_gen_open();
    w->o = *opts;
    if (!w->o.num_shards) w->o.num_shards = 2;
    if (!w->o.task_queue_capacity) w->o.task_queue_capacity = 2000;
    if (!w->o.worker_threads) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        w->o.worker_threads = n > 0 ? (uint32_t)n : 1;
    }
    if (w->o.worker_threads > 1024) {
        /* Not silently cut down: a caller asking for more threads made a mistake. */
        uint32_t n = w->o.worker_threads;
        free(w);
        return keel__fail(KEEL_EINVAL, "keel_rec_mtwriter_open: worker_threads %u is more than "
                          "1024", n);
    }
    /* Small enough that the queue's capacity holds a few batches per shard. */
    uint64_t per = w->o.task_queue_capacity / (4 * (uint64_t)w->o.num_shards);
    w->batch_records = per < 1 ? 1 : per > BATCH_RECORDS ? BATCH_RECORDS : (uint32_t)per;
    w->dir = dupstr(opts->dir);
    w->prefix = dupstr(opts->prefix ? opts->prefix : "shard");
    w->slots = calloc(w->o.num_shards, sizeof *w->slots);
    w->threads = calloc(w->o.worker_threads, sizeof *w->threads);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->work, NULL);
    pthread_cond_init(&w->room, NULL);
    pthread_cond_init(&w->idle, NULL);
    keel_status st = KEEL_OK;
    if (!w->dir || !w->prefix || !w->slots || !w->threads) {
        st = keel__fail(KEEL_ENOMEM, "allocating a writer");
        goto fail;
    }
    if (strchr(w->prefix, '/')) {
        st = keel__fail(KEEL_EINVAL, "shard prefix %s contains '/'", w->prefix);
        goto fail;
    }
    if (mkdir(w->dir, 0777) != 0 && errno != EEXIST) {
        st = keel__fail_errno(errno, "creating directory %s", w->dir);
        goto fail;
    }
    for (uint32_t i = 0; i < w->o.num_shards; i++) {
        pthread_mutex_init(&w->slots[i].mu, NULL);
        w->nslots++;
        if ((st = mt_new_shard(w, &w->slots[i].w)) != KEEL_OK) goto fail;
    }
    for (uint32_t i = 0; i < w->o.worker_threads; i++) {
        int e = pthread_create(&w->threads[i], NULL, mt_writer_main, w);
        if (e) {
            st = keel__fail_errno(e, "starting worker thread");
            goto fail;
        }
        w->nthreads++;
    }
    *out = w;
    return KEEL_OK;
fail:
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_broadcast(&w->work);
    pthread_mutex_unlock(&w->mu);
    for (uint32_t i = 0; i < w->nthreads; i++) pthread_join(w->threads[i], NULL);
    for (uint32_t i = 0; i < w->nslots; i++) keel_rec_writer_close(w->slots[i].w);
    mt_writer_free(w);
    return st;
}

keel_status keel_rec_mtwriter_write(keel_rec_mtwriter *w, const void *data, size_t len) {
    if (!w || (!data && len)) return keel__fail(KEEL_EINVAL, "keel_rec_mtwriter_write: NULL");
    if (keel__forked_since(w->fork_gen)) return refuse_forked("sharded writer");
    pthread_mutex_lock(&w->mu);
    if (!w->err && !w->stop && w->pending >= w->o.task_queue_capacity) {
        /* Full: hand partial batches to the workers too, or nobody would make room. */
        for (uint32_t i = 0; i < w->nslots; i++) mt_enqueue_fill(w, &w->slots[i]);
        while (!w->err && !w->stop && w->pending >= w->o.task_queue_capacity)
            pthread_cond_wait(&w->room, &w->mu);
    }
    if (w->err || w->stop) {
        keel_status st = w->err ? keel__fail(w->err, "%s", w->errmsg)
                                : keel__fail(KEEL_ECLOSED, "the writer is closed");
        pthread_mutex_unlock(&w->mu);
        return st;
    }
    uint32_t s = (uint32_t)(w->rr++ % w->nslots);
    mt_slot *sl = &w->slots[s];
    mt_batch *b = sl->fill;
    keel_status st = KEEL_OK;
    if (!b) {
        b = calloc(1, sizeof *b);
        if (!b) st = keel__fail(KEEL_ENOMEM, "allocating a batch");
        else {
            b->slot = s;
            sl->fill = b;
        }
    }
    if (!st) st = keel__rec_grow(&b->buf, &b->cap, b->len + 10 + len);
    if (st) {
        pthread_mutex_unlock(&w->mu);
        return st;
    }
    b->len += keel__rec_put_varint(b->buf + b->len, len);
    if (len) memcpy(b->buf + b->len, data, len);
    b->len += len;
    b->n++;
    w->pending++;
    if (b->len >= BATCH_BYTES || b->n >= w->batch_records) mt_enqueue_fill(w, sl);
    pthread_mutex_unlock(&w->mu);
    return KEEL_OK;
}

keel_status keel_rec_mtwriter_flush(keel_rec_mtwriter *w) {
    if (!w) return keel__fail(KEEL_EINVAL, "keel_rec_mtwriter_flush: NULL");
    if (keel__forked_since(w->fork_gen)) return refuse_forked("sharded writer");
    pthread_mutex_lock(&w->mu);
    for (uint32_t i = 0; i < w->nslots; i++) mt_enqueue_fill(w, &w->slots[i]);
    while (w->head || w->writing) pthread_cond_wait(&w->idle, &w->mu);
    keel_status st = w->err ? keel__fail(w->err, "%s", w->errmsg) : KEEL_OK;
    pthread_mutex_unlock(&w->mu);
    if (st) return st;
    for (uint32_t i = 0; i < w->nslots; i++) {
        mt_slot *sl = &w->slots[i];
        pthread_mutex_lock(&sl->mu);
        if (sl->w && !st) st = keel_rec_writer_flush(sl->w);
        pthread_mutex_unlock(&sl->mu);
    }
    if (st) {
        pthread_mutex_lock(&w->mu);
        mt_set_err(w, st);
        pthread_mutex_unlock(&w->mu);
    }
    return st;
}

uint64_t keel_rec_mtwriter_pending(keel_rec_mtwriter *w) {
    if (!w || keel__forked_since(w->fork_gen)) return 0;
    pthread_mutex_lock(&w->mu);
    uint64_t n = w->pending;
    pthread_mutex_unlock(&w->mu);
    return n;
}

uint64_t keel_rec_mtwriter_available(keel_rec_mtwriter *w) {
    if (!w || keel__forked_since(w->fork_gen)) return 0;
    uint64_t n = 0;
    for (uint32_t i = 0; i < w->nslots; i++) {
        /* A racy snapshot by design: a count for monitoring. */
        if (pthread_mutex_trylock(&w->slots[i].mu) == 0) {
            if (w->slots[i].w) n++;
            pthread_mutex_unlock(&w->slots[i].mu);
        }
    }
    return n;
}

keel_status keel_rec_mtwriter_close(keel_rec_mtwriter *w) {
    if (!w || keel__forked_since(w->fork_gen)) return KEEL_OK;
    keel_status st = keel_rec_mtwriter_flush(w);
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_broadcast(&w->work);
    pthread_cond_broadcast(&w->room);
    pthread_mutex_unlock(&w->mu);
    for (uint32_t i = 0; i < w->nthreads; i++) pthread_join(w->threads[i], NULL);
    for (uint32_t i = 0; i < w->nslots; i++) {
        keel_status s2 = keel_rec_writer_close(w->slots[i].w);
        w->slots[i].w = NULL;
        if (s2 && !st) st = s2;
    }
    /* Batches left by an error. */
    while (w->head) {
        mt_batch *b = w->head;
        w->head = b->next;
        free(b->buf);
        free(b);
    }
    char msg[512];
    snprintf(msg, sizeof msg, "%s", keel_errmsg());
    mt_writer_free(w);
    if (st) keel__fail(st, "%s", msg);
    return st;
}

/* ---- reader ------------------------------------------------------------------------------------ */

typedef struct mt_item {
    struct mt_item *next;
    keel_rec_chunk *chunk;      /* NULL: an error item */
    uint64_t i;
    uint64_t bytes;             /* record bytes not yet consumed */
    keel_status st;
    char msg[256];
} mt_item;

struct keel_rec_mtreader {
    keel_rec_mtreader_options o;
    char **paths;
    size_t npaths, next_path;
    pthread_mutex_t mu;
    pthread_cond_t avail, room;
    mt_item *head, *tail;
    mt_item *done;              /* consumed head item, released at the next call */
    uint64_t qrecords, qbytes;
    uint32_t running;           /* workers not yet finished */
    pthread_t *threads;
    uint32_t nthreads;
    bool stop;
    uint64_t fork_gen;
};

static void mt_push(keel_rec_mtreader *r, mt_item *it) {
    /* under r->mu */
    it->next = NULL;
    if (r->tail) r->tail->next = it;
    else r->head = it;
    r->tail = it;
    if (it->chunk) {
        r->qrecords += it->chunk->n;
        r->qbytes += it->bytes;
    }
    pthread_cond_signal(&r->avail);
}

static void *mt_reader_main(void *arg) {
    keel_rec_mtreader *r = arg;
    keel_rec_reader_options ro = KEEL_REC_READER_OPTIONS_INIT;
    ro.corruption = r->o.corruption;
    pthread_mutex_lock(&r->mu);
    while (!r->stop && r->next_path < r->npaths) {
        const char *path = r->paths[r->next_path++];
        pthread_mutex_unlock(&r->mu);
        keel_rec_reader *rd = NULL;
        keel_status st = keel_rec_reader_open(path, &ro, &rd);
        while (!st) {
            keel_rec_chunk *ch;
            st = keel__rec_reader_next_chunk(rd, &ch);
            if (st) break;
            mt_item *it = calloc(1, sizeof *it);
            if (!it) {
                keel_rec_chunk_release(ch);
                st = keel__fail(KEEL_ENOMEM, "allocating a queue item");
                break;
            }
            it->chunk = ch;
            it->bytes = ch->offs[ch->n];
            pthread_mutex_lock(&r->mu);
            while (!r->stop && r->head && r->qbytes + it->bytes > r->o.queue_bytes)
                pthread_cond_wait(&r->room, &r->mu);
            if (r->stop) {
                pthread_mutex_unlock(&r->mu);
                keel_rec_chunk_release(ch);
                free(it);
                st = KEEL_NOTFOUND;
                break;
            }
            mt_push(r, it);
            pthread_mutex_unlock(&r->mu);
        }
        if (st != KEEL_NOTFOUND) {
            mt_item *it = calloc(1, sizeof *it);
            if (it) {
                it->st = st;
                snprintf(it->msg, sizeof it->msg, "%s", keel_errmsg());
            }
            pthread_mutex_lock(&r->mu);
            if (it) mt_push(r, it);
            pthread_mutex_unlock(&r->mu);
        }
        keel_rec_reader_close(rd);
        pthread_mutex_lock(&r->mu);
    }
    r->running--;
    pthread_cond_broadcast(&r->avail);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

static void mt_reader_free(keel_rec_mtreader *r) {
    for (size_t i = 0; i < r->npaths; i++) free(r->paths[i]);
    free(r->paths);
    free(r->threads);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->avail);
    pthread_cond_destroy(&r->room);
    free(r);
}

keel_status keel_rec_mtreader_open(const keel_rec_mtreader_options *opts,
                                   keel_rec_mtreader **out) {
    keel__clear_error();
    if (!opts || !out || (opts->npaths && !opts->paths))
        return keel__fail(KEEL_EINVAL, "keel_rec_mtreader_open: NULL argument");
    if (opts->npaths > SIZE_MAX / sizeof(char *) - 1)  /* npaths + 1 pointers would wrap */
        return keel__fail(KEEL_EINVAL, "keel_rec_mtreader_open: %zu paths cannot exist",
                          opts->npaths);
    keel_rec_mtreader *r = calloc(1, sizeof *r);
    if (!r) return keel__fail(KEEL_ENOMEM, "allocating a reader");
    r->fork_gen = keel__fork_gen_open();
    r->o = *opts;
    if (!r->o.num_shards) r->o.num_shards = 2;
    if (!r->o.worker_threads) r->o.worker_threads = 1;
    if (!r->o.queue_bytes) r->o.queue_bytes = 8u << 20;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->avail, NULL);
    pthread_cond_init(&r->room, NULL);
    uint32_t n = r->o.worker_threads < r->o.num_shards ? r->o.worker_threads : r->o.num_shards;
    if (n > opts->npaths) n = (uint32_t)opts->npaths;
    r->paths = calloc(opts->npaths + 1, sizeof *r->paths);
    r->threads = calloc(n + 1, sizeof *r->threads);
    keel_status st = KEEL_OK;
    if (!r->paths || !r->threads) st = keel__fail(KEEL_ENOMEM, "allocating a reader");
    for (size_t i = 0; !st && i < opts->npaths; i++) {
        if (!opts->paths[i] || !(r->paths[i] = dupstr(opts->paths[i])))
            st = keel__fail(opts->paths[i] ? KEEL_ENOMEM : KEEL_EINVAL, "copying shard paths");
        else r->npaths++;
    }
    r->running = n;
    for (uint32_t i = 0; !st && i < n; i++) {
        int e = pthread_create(&r->threads[i], NULL, mt_reader_main, r);
        if (e) {
            pthread_mutex_lock(&r->mu);
            r->running -= n - i;
            pthread_mutex_unlock(&r->mu);
            st = keel__fail_errno(e, "starting worker thread");
            break;
        }
        r->nthreads++;
    }
    if (st) {
        keel_rec_mtreader_close(r);
        return st;
    }
    *out = r;
    return KEEL_OK;
}

keel_status keel_rec_mtreader_next(keel_rec_mtreader *r, int wait, keel_rec_record *out) {
    if (!r || !out) return keel__fail(KEEL_EINVAL, "keel_rec_mtreader_next: NULL argument");
    if (keel__forked_since(r->fork_gen)) return refuse_forked("sharded reader");
    pthread_mutex_lock(&r->mu);
    if (r->done) {
        /* The previous record's chunk: released now that the caller has moved on. */
        mt_item *d = r->done;
        r->done = NULL;
        keel_rec_chunk_release(d->chunk);
        free(d);
    }
    for (;;) {
        mt_item *it = r->head;
        if (it && !it->chunk) {
            r->head = it->next;
            if (!r->head) r->tail = NULL;
            pthread_mutex_unlock(&r->mu);
            keel_status st = keel__fail(it->st, "%s", it->msg);
            free(it);
            return st;
        }
        if (it) {
            keel_rec_chunk *ch = it->chunk;
            uint64_t i = it->i++;
            uint64_t len = ch->offs[i + 1] - ch->offs[i];
            out->data = ch->values + ch->offs[i];
            out->len = (size_t)len;
            out->chunk = ch;
            out->index = ch->first_index + i;
            out->pos = ch->begin + i;
            r->qrecords--;
            r->qbytes -= len;
            if (it->i == ch->n) {
                r->head = it->next;
                if (!r->head) r->tail = NULL;
                r->done = it;
                pthread_cond_broadcast(&r->room);
            }
            pthread_mutex_unlock(&r->mu);
            return KEEL_OK;
        }
        if (r->running == 0 || r->stop) {
            pthread_mutex_unlock(&r->mu);
            return KEEL_NOTFOUND;
        }
        if (!wait) {
            pthread_mutex_unlock(&r->mu);
            return KEEL_EBUSY;
        }
        pthread_cond_wait(&r->avail, &r->mu);
    }
}

void keel_rec_mtreader_queued(keel_rec_mtreader *r, uint64_t *records_out, uint64_t *bytes_out) {
    uint64_t a = 0, b = 0;
    if (r && !keel__forked_since(r->fork_gen)) {
        pthread_mutex_lock(&r->mu);
        a = r->qrecords;
        b = r->qbytes;
        pthread_mutex_unlock(&r->mu);
    }
    if (records_out) *records_out = a;
    if (bytes_out) *bytes_out = b;
}

void keel_rec_mtreader_close(keel_rec_mtreader *r) {
    if (!r || keel__forked_since(r->fork_gen)) return;
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_cond_broadcast(&r->room);
    pthread_cond_broadcast(&r->avail);
    pthread_mutex_unlock(&r->mu);
    for (uint32_t i = 0; i < r->nthreads; i++) pthread_join(r->threads[i], NULL);
    mt_item *it = r->head;
    while (it) {
        mt_item *n = it->next;
        keel_rec_chunk_release(it->chunk);
        free(it);
        it = n;
    }
    if (r->done) {
        keel_rec_chunk_release(r->done->chunk);
        free(r->done);
    }
    mt_reader_free(r);
}
