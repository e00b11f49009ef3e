/*
 * writer.c: keel_rec_writer, which appends records to a Riegeli/records file.
 *
 * Records collect in memory: their sizes as varints in `sizes`, their bytes in `vbuf` after
 * a headroom. When the values reach the chunk size (or on flush/close) the chunk is
 * encoded and written with one pwritev: the 40-byte chunk header, then the data, with a
 * 24-byte block header inserted at every multiple of 64 KiB. An uncompressed chunk's data
 * is [0][varint sizes_size][sizes][values]; the prefix is copied into the headroom in front
 * of the values so the data is contiguous (HighwayHash has no streaming C interface)
 * without moving the values. A compressed chunk is [type][varint n][sizes block][values
 * block], each block being varint(decompressed size) + the codec's output (Riegeli's form).
 *
 * Invariants:
 *   - w->pos is the file's end and a possible chunk boundary; everything below it is
 *     complete chunks. Chunks end exactly where Riegeli's formula says (AddWithOverhead,
 *     since a simple chunk has more data bytes than records), so no padding is written.
 *   - After a failed write the writer is poisoned (w->err): every later call returns the
 *     first error, and close truncates the file back to the last complete chunk.
 *   - With the ArrayRecord option every chunk but the last holds exactly group_size records;
 *     close writes the footer chunk, a padding chunk to the next block boundary, the
 *     postscript chunk (3 copies) and a padding chunk filling that last block, exactly as
 *     array_record does, so its reader finds the postscript at file_size - 64 KiB.
 */
#include "records/records.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

typedef struct ar_entry {
    uint64_t offset, decoded, num_records;
} ar_entry;

/* The buffers one chunk is encoded in and written from. With background writes there are
 * two: the writer fills one while the thread writes the other. */
typedef struct rec_set {
    uint8_t *vbuf;              /* headroom, then values */
    size_t vcap, head;
    uint8_t *cbuf;              /* compressed chunk data */
    size_t ccap;
    struct iovec *iov;
    size_t iov_cap;
    uint8_t *bh;                /* block headers of the chunk */
    size_t bh_cap;
    uint8_t hdr[REC_CH];        /* chunk header */
} rec_set;

/* The background writer: at most one chunk in flight, described by iov/niov/off/end. */
typedef struct rec_bg {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool started, busy, stop;
    const struct iovec *iov;
    int niov;
    uint64_t off, end;
    int err;                    /* errno of the first failed write, sticky */
    uint64_t err_off;
    uint64_t written;           /* end of the last chunk completely written */
} rec_bg;

struct keel_rec_writer {
    int fd;
    keel_rec_writer_options o;
    int comp;                   /* REC_COMP_* */
    uint64_t pos;               /* end of the file once the chunks handed over are written */
    keel_status err;            /* first write error, sticky */

    rec_set set[2];
    rec_set *b;                 /* the set being filled */
    size_t vlen;
    uint8_t *sizes;
    size_t scap, slen;
    uint64_t nrec;              /* records in the pending chunk */

    uint8_t *sbuf;              /* compression scratch for the sizes */
    size_t scap2;

    rec_bg bg;

    ar_entry *ar;
    size_t ar_n, ar_cap;

    uint64_t total_records, total_bytes;

    keel_recovery rec;          /* what an append open cut; saved_path and detail malloc'd */
    uint64_t fork_gen;          /* base/fork.c: in a forked child the file is the parent's */
    long owner_pid;
};

/* A writer used in a child forked after it was opened: its pending chunk, its file's end
 * and its background thread are the parent's, so it writes nothing. */
static keel_status refuse_forked(const keel_rec_writer *w) {
    return keel__fail(KEEL_ELOCKED, "this record writer was opened by process %ld before "
                      "fork(): a forked child cannot write through it (the file and the "
                      "pending records are the parent's); open a writer on another file in "
                      "the child", w->owner_pid);
}

static keel_status add_ar(keel_rec_writer *w, uint64_t begin, uint64_t decoded, uint64_t n);

/* ---- writing one chunk ------------------------------------------------------------------- */

/* Lay out a chunk of `type` whose data is `data[0..size)` at w->pos in w->b's iovecs
 * (header, data, padding, with a block header at every 64 KiB boundary). Sets *niov and
 * *end. */
static keel_status plan_chunk(keel_rec_writer *w, uint8_t type, const uint8_t *data,
                              uint64_t size, uint64_t num_records, uint64_t decoded, int *niov_out,
                              uint64_t *end_out) {
    rec_set *b = w->b;
    rec_chunk_header h = {0, size, keel__rec_hash(data, (size_t)size), type, num_records,
                          decoded};
    keel__rec_chunk_header_encode(&h, b->hdr);
    uint64_t c = w->pos;
    uint64_t end = keel__rec_chunk_end(c, size, num_records);

    uint64_t nblocks = (end - c) / REC_B + 3;
    size_t niov = (size_t)nblocks * 4 + 4;
    if (niov > INT_MAX) return keel__fail(KEEL_ERANGE, "chunk of %llu bytes", (unsigned long long)size);
    if (niov > b->iov_cap) {
        struct iovec *v = realloc(b->iov, niov * sizeof *v);
        if (!v) return keel__fail(KEEL_ENOMEM, "allocating %zu iovecs", niov);
        b->iov = v;
        b->iov_cap = niov;
    }
    keel_status st = keel__rec_grow(&b->bh, &b->bh_cap, (size_t)nblocks * REC_BH);
    if (st) return st;

    /* Walk the content [header][data], inserting block headers at boundaries. A chunk
     * with more records than bytes (compressed empty records) is then padded with zeros
     * up to Riegeli's chunk end, so that every record has its own numeric position. */
    static const uint8_t zeros[REC_B];
    const uint8_t *pieces[3] = {b->hdr, data, zeros};
    uint64_t lens[3] = {REC_CH, size, 0};
    size_t k = 0, nb = 0;
    uint64_t p = c;
    for (int piece = 0; piece < 3; piece++) {
        const uint8_t *src = pieces[piece];
        uint64_t left = lens[piece];
        if (piece == 2) left = end - p;     /* padding, block headers included */
        while (left > 0) {
            if (piece != 2 && p % REC_B == 0) {
                uint8_t *bhp = b->bh + nb++ * REC_BH;
                keel__rec_block_header_encode(p - c, end - p, bhp);
                b->iov[k].iov_base = bhp;
                b->iov[k++].iov_len = REC_BH;
                p += REC_BH;
            }
            if (piece == 2 && p % REC_B == 0) {
                if (left <= REC_BH) break;
                left -= REC_BH;
                uint8_t *bhp = b->bh + nb++ * REC_BH;
                keel__rec_block_header_encode(p - c, end - p, bhp);
                b->iov[k].iov_base = bhp;
                b->iov[k++].iov_len = REC_BH;
                p += REC_BH;
            }
            uint64_t room = REC_B - p % REC_B;
            uint64_t n = left < room ? left : room;
            b->iov[k].iov_base = (void *)(piece == 2 ? zeros : src);
            b->iov[k++].iov_len = (size_t)n;
            if (piece != 2) src += n;
            left -= n;
            p += n;
        }
    }
    if (p != end)
        return keel__fail(KEEL_EINVAL, "chunk at %llu: placement mismatch", (unsigned long long)c);
    *niov_out = (int)k;
    *end_out = end;
    return KEEL_OK;
}

/* ---- the background writer --------------------------------------------------------------- */

static void *bg_main(void *arg) {
    keel_rec_writer *w = arg;
    rec_bg *g = &w->bg;
    pthread_mutex_lock(&g->mu);
    for (;;) {
        while (!g->busy && !g->stop) pthread_cond_wait(&g->cv, &g->mu);
        if (!g->busy) break;    /* stop, nothing in flight */
        const struct iovec *iov = g->iov;
        int niov = g->niov;
        uint64_t off = g->off, end = g->end;
        pthread_mutex_unlock(&g->mu);
        int e = keel__os_pwritev_all(w->fd, iov, niov, off);
        pthread_mutex_lock(&g->mu);
        if (e && !g->err) {
            g->err = e;
            g->err_off = off;
        }
        if (!e) g->written = end;
        g->busy = false;
        pthread_cond_broadcast(&g->cv);
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

/* Wait until no chunk is in flight; the first background error as a status (sticky). */
static keel_status bg_wait(keel_rec_writer *w) {
    rec_bg *g = &w->bg;
    if (!g->started) return KEEL_OK;
    pthread_mutex_lock(&g->mu);
    while (g->busy) pthread_cond_wait(&g->cv, &g->mu);
    int e = g->err;
    uint64_t off = g->err_off;
    pthread_mutex_unlock(&g->mu);
    if (e && !w->err)
        w->err = keel__fail_errno(e, "writing chunk at offset %llu", (unsigned long long)off);
    return w->err;
}

static keel_status bg_start(keel_rec_writer *w) {
    rec_bg *g = &w->bg;
    if (pthread_mutex_init(&g->mu, NULL) != 0) return keel__fail(KEEL_ENOMEM, "mutex");
    if (pthread_cond_init(&g->cv, NULL) != 0) {
        pthread_mutex_destroy(&g->mu);
        return keel__fail(KEEL_ENOMEM, "condition variable");
    }
    g->written = w->pos;
    int e = pthread_create(&g->thread, NULL, bg_main, w);
    if (e) {
        pthread_cond_destroy(&g->cv);
        pthread_mutex_destroy(&g->mu);
        return keel__fail_errno(e, "starting the background writer");
    }
    g->started = true;
    return KEEL_OK;
}

static void bg_stop(keel_rec_writer *w) {
    rec_bg *g = &w->bg;
    if (!g->started) return;
    pthread_mutex_lock(&g->mu);
    g->stop = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    pthread_join(g->thread, NULL);
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    g->started = false;
}

/* The end of what is certainly in the file: everything below it is complete chunks. */
static uint64_t written_end(keel_rec_writer *w) {
    if (!w->bg.started) return w->pos;
    pthread_mutex_lock(&w->bg.mu);
    uint64_t e = w->bg.written;
    pthread_mutex_unlock(&w->bg.mu);
    return e;
}

/* Write a chunk of `type` whose data is `data[0..size)` at w->pos: now, or with `async`
 * (and the background option) by the background thread, after which the writer switches
 * to the other buffer set, so the data must live in w->b. */
static keel_status write_chunk_ex(keel_rec_writer *w, uint8_t type, const uint8_t *data,
                                  uint64_t size, uint64_t num_records, uint64_t decoded,
                                  bool async) {
    int niov = 0;
    uint64_t end = 0;
    keel_status st = bg_wait(w);  /* the other set is free, and no write is in flight */
    if (st) return st;
    if ((st = plan_chunk(w, type, data, size, num_records, decoded, &niov, &end)) != KEEL_OK)
        return st;
    if (async && w->o.background && !w->bg.started && (st = bg_start(w)) != KEEL_OK) return st;
    if (async && w->bg.started) {
        rec_bg *g = &w->bg;
        pthread_mutex_lock(&g->mu);
        g->iov = w->b->iov;
        g->niov = niov;
        g->off = w->pos;
        g->end = end;
        g->busy = true;
        pthread_cond_broadcast(&g->cv);
        pthread_mutex_unlock(&g->mu);
        w->b = w->b == &w->set[0] ? &w->set[1] : &w->set[0];
    } else {
        int e = keel__os_pwritev_all(w->fd, w->b->iov, niov, w->pos);
        if (e) return keel__fail_errno(e, "writing chunk at offset %llu", (unsigned long long)w->pos);
        if (w->bg.started) {
            pthread_mutex_lock(&w->bg.mu);
            w->bg.written = end;
            pthread_mutex_unlock(&w->bg.mu);
        }
    }
    w->pos = end;
    return KEEL_OK;
}

static keel_status write_chunk(keel_rec_writer *w, uint8_t type, const uint8_t *data,
                               uint64_t size, uint64_t num_records, uint64_t decoded) {
    return write_chunk_ex(w, type, data, size, num_records, decoded, false);
}

/* A set's value buffer, allocated on first use with `head` bytes of headroom. */
static keel_status ensure_vbuf(rec_set *b, size_t need) {
    if (!b->vbuf) {
        b->head = 4096;
        b->vcap = b->head + (need > 65536 ? need : 65536);
        b->vbuf = malloc(b->vcap);
        if (!b->vbuf) return keel__fail(KEEL_ENOMEM, "allocating chunk buffer");
        return KEEL_OK;
    }
    if (b->head + need <= b->vcap) return KEEL_OK;
    return keel__rec_grow(&b->vbuf, &b->vcap, b->head + need);
}

static void free_set(rec_set *b) {
    free(b->vbuf);
    free(b->cbuf);
    free(b->iov);
    free(b->bh);
}

/* Encode and write the pending records as one simple chunk. */
static keel_status emit_pending(keel_rec_writer *w) {
    if (w->err) return w->err;
    if (w->nrec == 0) return KEEL_OK;
    uint64_t begin = w->pos;
    keel_status st;
    const uint8_t *data;
    uint64_t size;
    if (w->comp == REC_COMP_NONE) {
        uint8_t pre[11];
        size_t pl = 0;
        pre[pl++] = REC_COMP_NONE;
        pl += keel__rec_put_varint(pre + pl, w->slen);
        size_t prefix = pl + w->slen;
        rec_set *b = w->b;
        if (prefix > b->head) {
            /* Rare: more size bytes than headroom. Move the values and keep a bigger one. */
            size_t nh = prefix * 2;
            uint8_t *nb = malloc(nh + w->vlen + 1);
            if (!nb) return w->err = keel__fail(KEEL_ENOMEM, "allocating chunk buffer");
            memcpy(nb + nh, b->vbuf + b->head, w->vlen);
            free(b->vbuf);
            b->vbuf = nb;
            b->head = nh;
            b->vcap = nh + w->vlen + 1;
        }
        uint8_t *d = b->vbuf + b->head - prefix;
        memcpy(d, pre, pl);
        memcpy(d + pl, w->sizes, w->slen);
        data = d;
        size = prefix + w->vlen;
    } else {
        size_t sl = 0;
        st = keel__rec_compress_block(w->comp, w->o.level, w->sizes, w->slen, &w->sbuf, &w->scap2,
                                      &sl);
        if (st) return w->err = st;
        size_t cl = 0;
        rec_set *b = w->b;
        st = keel__rec_grow(&b->cbuf, &b->ccap, 11 + sl);
        if (st) return w->err = st;
        b->cbuf[cl++] = (uint8_t)w->comp;
        cl += keel__rec_put_varint(b->cbuf + cl, sl);
        memcpy(b->cbuf + cl, w->sbuf, sl);
        cl += sl;
        st = keel__rec_compress_block(w->comp, w->o.level, b->vbuf + b->head, w->vlen, &b->cbuf,
                                      &b->ccap, &cl);
        if (st) return w->err = st;
        data = b->cbuf;
        size = cl;
    }
    st = write_chunk_ex(w, REC_CHUNK_SIMPLE, data, size, w->nrec, w->vlen, true);
    if (st) return w->err = st;
    if (w->o.array_record_group_size && (st = add_ar(w, begin, w->vlen, w->nrec)) != KEEL_OK)
        return w->err = st;
    w->nrec = 0;
    w->vlen = 0;
    w->slen = 0;
    return KEEL_OK;
}

static keel_status do_sync(keel_rec_writer *w) {
    int e = 0;
    if (w->o.sync == KEEL_SYNC_DATA) e = keel__os_fdatasync(w->fd);
    else if (w->o.sync == KEEL_SYNC_FULL) e = keel__os_fsync(w->fd);
    if (e) return w->err = keel__fail_errno(e, "syncing record file");
    return KEEL_OK;
}

/* ---- the tail of an existing file (where to append: chunk_read.c) ------------------------- */

static keel_status add_ar(keel_rec_writer *w, uint64_t begin, uint64_t decoded, uint64_t n) {
    if (w->ar_n == w->ar_cap) {
        size_t c = w->ar_cap ? w->ar_cap * 2 : 64;
        ar_entry *a = realloc(w->ar, c * sizeof *a);
        if (!a) return keel__fail(KEEL_ENOMEM, "allocating footer entries");
        w->ar = a;
        w->ar_cap = c;
    }
    w->ar[w->ar_n++] = (ar_entry){begin, decoded, n};
    return KEEL_OK;
}

/* Appending with the ArrayRecord option: the footer written at close must list the
 * chunks already in the file, and they must all be full groups. */
static keel_status collect_ar_chunks(keel_rec_writer *w, uint64_t at) {
    uint64_t c = REC_SIG_SIZE;
    while (c < at) {
        rec_chunk_header h;
        uint64_t end;
        int is_short = 0;
        keel_status st = keel__rec_read_header(w->fd, at, c, &h, &end, &is_short);
        if (st) return st;
        if (is_short || end > at) break;
        if (h.type == REC_CHUNK_SIMPLE && h.num_records > 0) {
            if (h.num_records != w->o.array_record_group_size)
                return keel__fail(KEEL_EINVAL, "cannot append as ArrayRecord with group size %u: "
                                  "the chunk at offset %llu holds %llu records",
                                  w->o.array_record_group_size, (unsigned long long)c,
                                  (unsigned long long)h.num_records);
            if ((st = add_ar(w, c, h.decoded_size, h.num_records)) != KEEL_OK) return st;
        }
        c = end;
    }
    return KEEL_OK;
}

static keel_status set_recovery(keel_rec_writer *w, const char *path, keel_recovery_kind kind,
                                uint64_t at, uint64_t cut, char *saved) {
    w->rec = (keel_recovery){kind, at, cut, kind == KEEL_RECOVERY_CHECKSUM ? at : 0, 1, saved,
                             NULL};
    size_t n = strlen(path) + strlen(saved) + 300;
    char *d = malloc(n);
    if (!d) return keel__fail(KEEL_ENOMEM, "recovery report");
    snprintf(d, n, "%s: appending cut %llu bytes after offset %llu, %s; they are saved in %s",
             path, (unsigned long long)cut, (unsigned long long)at,
             kind == KEEL_RECOVERY_CHECKSUM ? "a complete chunk whose data is damaged (a power "
                                              "loss or damage)"
                                            : "an unfinished chunk (a torn write)",
             saved);
    w->rec.detail = d;
    return KEEL_OK;
}

static void free_recovery(keel_rec_writer *w) {
    free((char *)w->rec.saved_path);
    free((char *)w->rec.detail);
}

/* ---- public API -------------------------------------------------------------------------- */

keel_status keel_rec_writer_recovery(const keel_rec_writer *w, keel_recovery *report_out) {
    if (!w || !report_out)
        return keel__fail(KEEL_EINVAL, "keel_rec_writer_recovery: NULL argument");
    *report_out = w->rec;
    if (!report_out->detail) report_out->detail = "";
    return KEEL_OK;
}

/* The compression, its level and the sync mode, as Riegeli's option grammar allows them:
 * `uncompressed` takes no level, `zstd` -131072..22, `brotli` 0..11 (0: the codec's default
 * here, as in keel_records.h). Shared with keel_rec_mtwriter_open, which checks its
 * writers' options up front rather than at each shard's first write. */
keel_status keel__rec_check_writer_options(const keel_rec_writer_options *o) {
    switch (o->compression) {
    case KEEL_REC_UNCOMPRESSED:
        if (o->level != 0)
            return keel__fail(KEEL_EINVAL, "compression level %d given for uncompressed "
                              "output (only zstd and brotli take a level)", o->level);
        break;
    case KEEL_REC_ZSTD:
        if (o->level < -131072 || o->level > 22)
            return keel__fail(KEEL_EINVAL, "zstd level %d out of range (-131072..22)", o->level);
        break;
    case KEEL_REC_BROTLI:
        if (o->level < 0 || o->level > 11)
            return keel__fail(KEEL_EINVAL, "brotli level %d out of range (0..11)", o->level);
        break;
    default: return keel__fail(KEEL_EINVAL, "unknown compression %d", (int)o->compression);
    }
    if (o->sync != KEEL_SYNC_NONE && o->sync != KEEL_SYNC_DATA && o->sync != KEEL_SYNC_FULL)
        return keel__fail(KEEL_EINVAL, "unknown sync mode %d", (int)o->sync);
    return KEEL_OK;
}

keel_status keel_rec_writer_open(const char *path, const keel_rec_writer_options *opts,
                                 keel_rec_writer **out) {
    keel__clear_error();
    if (!path || !out) return keel__fail(KEEL_EINVAL, "keel_rec_writer_open: NULL argument");
    keel_rec_writer_options o = KEEL_REC_WRITER_OPTIONS_INIT;
    if (opts) o = *opts;
    keel_status st0 = keel__rec_check_writer_options(&o);
    if (st0 != KEEL_OK) return st0;
    int comp = o.compression == KEEL_REC_ZSTD     ? REC_COMP_ZSTD
               : o.compression == KEEL_REC_BROTLI ? REC_COMP_BROTLI
                                                  : REC_COMP_NONE;
    if (o.chunk_size == 0) o.chunk_size = KEEL_REC_DEFAULT_CHUNK_SIZE;

    keel_rec_writer *w = calloc(1, sizeof *w);
    if (!w) return keel__fail(KEEL_ENOMEM, "allocating a record writer");
    w->fd = -1;
    w->o = o;
    w->comp = comp;
    keel_status st;
    /* No O_TRUNC: a file is only truncated when it has bytes, because truncating even an
     * empty file makes ext4 (auto_da_alloc) start writeback of the whole file in close(). */
    int e = keel__os_open(path, O_RDWR | O_CREAT, 0644, &w->fd);
    if (e) {
        st = keel__fail_errno(e, "opening %s", path);
        goto fail;
    }
    uint64_t size = 0;
    if ((e = keel__os_fsize(w->fd, &size)) != 0) {
        st = keel__fail_errno(e, "stat %s", path);
        goto fail;
    }
    bool cut = size > 0;        /* bytes to remove before writing the signature */
    if (!o.append) size = 0;
    if (size > 0) {
        uint8_t sig[REC_SIG_SIZE];
        size_t got = 0;
        e = keel__os_pread_all(w->fd, sig, REC_SIG_SIZE, 0, &got);
        if (e) { st = keel__fail_errno(e, "reading %s", path); goto fail; }
        bool unwritten = size <= REC_SIG_SIZE;  /* a signature that never reached the disk */
        for (size_t i = 0; i < got && unwritten; i++) unwritten = sig[i] == 0;
        if (unwritten) {
            got = 0;
        } else if (memcmp(sig, keel__rec_signature, got) != 0) {
            st = keel__fail(KEEL_EFORMAT, "%s is not a Riegeli/records file", path);
            goto fail;
        }
        if (got < REC_SIG_SIZE) size = 0;   /* a signature cut short: start again */
    }
    bool fresh = size == 0;
    if (size == 0) {
        if ((cut && (e = keel__os_ftruncate(w->fd, 0)) != 0) ||
            (e = keel__os_pwrite_all(w->fd, keel__rec_signature, REC_SIG_SIZE, 0)) != 0) {
            st = keel__fail_errno(e, "writing the signature of %s", path);
            goto fail;
        }
        w->pos = REC_SIG_SIZE;
    } else {
        uint64_t at = size;
        int damaged, footer;
        st = keel__rec_find_append_point(w->fd, size, &at, &damaged, &footer);
        if (st) goto fail;
        if (at < size && !footer) {
            /* Never destroy bytes silently: the cut is saved beside the file first. */
            char *saved = NULL;
            e = keel__os_save_range(w->fd, at, size - at, path, &saved);
            if (e) {
                st = keel__fail_errno(e, "%s: saving the %llu bytes after offset %llu before "
                                      "cutting them; the file was not modified", path,
                                      (unsigned long long)(size - at), (unsigned long long)at);
                goto fail;
            }
            st = set_recovery(w, path, damaged ? KEEL_RECOVERY_CHECKSUM : KEEL_RECOVERY_TORN, at,
                              size - at, saved);
            if (st) goto fail;
        }
        if (at < size && (e = keel__os_ftruncate(w->fd, at)) != 0) {
            st = keel__fail_errno(e, "cutting the unfinished tail of %s at %llu", path,
                                  (unsigned long long)at);
            goto fail;
        }
        w->pos = at;
        if (o.array_record_group_size && (st = collect_ar_chunks(w, at)) != KEEL_OK) goto fail;
    }
    w->b = &w->set[0];
    w->fork_gen = keel__fork_gen_open();
    w->owner_pid = keel__process_id();
    if ((st = ensure_vbuf(w->b, 0)) != KEEL_OK) goto fail;
    if ((st = do_sync(w)) != KEEL_OK) goto fail;
    if (fresh && o.sync != KEEL_SYNC_NONE && (e = keel__os_fsync_dir_of(path)) != 0) {
        /* The file may be new: its name must be as durable as its first bytes. */
        st = keel__fail_errno(e, "fsync of the directory of %s", path);
        goto fail;
    }
    *out = w;
    return KEEL_OK;
fail:
    if (w->fd >= 0) keel__os_close(w->fd);
    free_set(&w->set[0]);
    free_recovery(w);
    free(w);
    return st;
}

keel_status keel_rec_writer_write(keel_rec_writer *w, const void *data, size_t len) {
    if (!w || (!data && len)) return keel__fail(KEEL_EINVAL, "keel_rec_writer_write: NULL argument");
    if (keel__forked_since(w->fork_gen)) return refuse_forked(w);
    if (w->err) return w->err;
    keel_status st = ensure_vbuf(w->b, w->vlen + len);
    if (st) return st;
    st = keel__rec_grow(&w->sizes, &w->scap, w->slen + 10);
    if (st) return st;
    if (len) memcpy(w->b->vbuf + w->b->head + w->vlen, data, len);
    w->vlen += len;
    w->slen += keel__rec_put_varint(w->sizes + w->slen, len);
    w->nrec++;
    w->total_records++;
    w->total_bytes += len;
    if (w->o.array_record_group_size ? w->nrec >= w->o.array_record_group_size
                                     : (w->vlen >= w->o.chunk_size ||
                                        w->nrec >= REC_MAX_NUM_RECORDS))
        return emit_pending(w);
    return KEEL_OK;
}

keel_status keel_rec_writer_flush(keel_rec_writer *w) {
    if (!w) return keel__fail(KEEL_EINVAL, "keel_rec_writer_flush: NULL writer");
    if (keel__forked_since(w->fork_gen)) return refuse_forked(w);
    if (w->err) return w->err;
    if (!w->o.array_record_group_size) {
        keel_status st = emit_pending(w);
        if (st) return st;
    }
    keel_status st = bg_wait(w);
    if (st) return st;
    return do_sync(w);
}

int keel_rec_writer_would_flush(const keel_rec_writer *w, size_t len) {
    if (!w || w->err) return 0;
    if (w->o.array_record_group_size) return w->nrec + 1 >= w->o.array_record_group_size;
    return w->vlen + len >= w->o.chunk_size;
}

uint64_t keel_rec_writer_pos(const keel_rec_writer *w) {
    if (!w) return 0;
    /* A pending record's position is the pending chunk's begin plus its index. */
    return w->pos + w->nrec;
}

void keel_rec_writer_counts(const keel_rec_writer *w, uint64_t *records_out,
                            uint64_t *bytes_out) {
    if (records_out) *records_out = w ? w->total_records : 0;
    if (bytes_out) *bytes_out = w ? w->total_bytes : 0;
}

/* A padding chunk from w->pos to the next block boundary (or the one after, when fewer
 * than 40 bytes remain). */
static keel_status pad_to_block(keel_rec_writer *w) {
    uint64_t c = w->pos;
    if (c % REC_B == 0) return KEEL_OK;
    uint64_t room = REC_B - c % REC_B;
    uint64_t data = room >= REC_CH ? room - REC_CH : room + REC_USABLE - REC_CH;
    uint8_t *z = calloc(1, (size_t)data + 1);
    if (!z) return keel__fail(KEEL_ENOMEM, "allocating padding");
    keel_status st = write_chunk(w, REC_CHUNK_PADDING, z, data, 0, 0);
    free(z);
    return st;
}

static keel_status write_ar_footer(keel_rec_writer *w) {
    char opts[160];
    const char *cname = w->comp == REC_COMP_NONE ? "uncompressed"
                        : w->comp == REC_COMP_ZSTD ? "zstd" : "brotli";
    int ol = w->comp == REC_COMP_NONE
                 ? snprintf(opts, sizeof opts, "group_size:%u,transpose:false,"
                            "pad_to_block_boundary:false,%s,max_parallelism:1", w->o.array_record_group_size, cname)
                 : snprintf(opts, sizeof opts, "group_size:%u,transpose:false,"
                            "pad_to_block_boundary:false,%s:%d,max_parallelism:1", w->o.array_record_group_size,
                            cname, w->o.level ? w->o.level : (w->comp == REC_COMP_ZSTD ? 3 : 6));
    /* Records: RiegeliFooterMetadata, then one ArrayRecordFooter per chunk. */
    size_t n = w->ar_n + 1;
    size_t cap = 64 + (size_t)ol + w->ar_n * 33;
    uint8_t *vals = malloc(cap), *sizes = malloc(n * 10 + 11);
    if (!vals || !sizes) {
        free(vals);
        free(sizes);
        return keel__fail(KEEL_ENOMEM, "allocating the ArrayRecord footer");
    }
    uint64_t total = 0;
    for (size_t i = 0; i < w->ar_n; i++) total += w->ar[i].num_records;
    /* ArrayRecordMetadata{version 1, num_chunks, num_records, writer_options} */
    uint8_t inner[64 + 160];
    size_t il = 0;
    inner[il++] = 0x08;
    il += keel__rec_put_varint(inner + il, 1);
    inner[il++] = 0x10;
    il += keel__rec_put_varint(inner + il, w->ar_n);
    inner[il++] = 0x18;
    il += keel__rec_put_varint(inner + il, total);
    inner[il++] = 0x22;
    il += keel__rec_put_varint(inner + il, (uint64_t)ol);
    memcpy(inner + il, opts, (size_t)ol);
    il += (size_t)ol;
    size_t vl = 0, sl = 0;
    vals[vl++] = 0x0a;
    vl += keel__rec_put_varint(vals + vl, il);
    memcpy(vals + vl, inner, il);
    vl += il;
    sl += keel__rec_put_varint(sizes + sl, vl);
    for (size_t i = 0; i < w->ar_n; i++) {
        size_t el = keel__rec_ar_footer_entry(vals + vl, w->ar[i].offset, w->ar[i].decoded,
                                              w->ar[i].num_records);
        vl += el;
        sl += keel__rec_put_varint(sizes + sl, el);
    }
    /* Chunk data: [0][varint sl][sizes][values]. */
    uint8_t *data = malloc(11 + sl + vl);
    keel_status st = KEEL_OK;
    if (!data) st = keel__fail(KEEL_ENOMEM, "allocating the ArrayRecord footer");
    size_t dl = 0;
    if (!st) {
        data[dl++] = 0;
        dl += keel__rec_put_varint(data + dl, sl);
        memcpy(data + dl, sizes, sl);
        dl += sl;
        memcpy(data + dl, vals, vl);
        dl += vl;
    }
    uint64_t footer_offset = w->pos;
    if (!st) st = write_chunk(w, REC_CHUNK_SIMPLE, data, dl, n, vl);
    free(data);
    free(vals);
    free(sizes);
    if (st) return st;
    if ((st = pad_to_block(w)) != KEEL_OK) return st;
    /* Postscript: three copies of RiegeliPostscript. */
    uint8_t ps[32], pdata[128];
    size_t pl = keel__rec_ar_postscript(ps, footer_offset);
    size_t d = 0;
    pdata[d++] = 0;
    pdata[d++] = 3;
    for (int i = 0; i < 3; i++) pdata[d++] = (uint8_t)pl;
    for (int i = 0; i < 3; i++) {
        memcpy(pdata + d, ps, pl);
        d += pl;
    }
    if ((st = write_chunk(w, REC_CHUNK_SIMPLE, pdata, d, 3, 3 * pl)) != KEEL_OK) return st;
    return pad_to_block(w);
}

keel_status keel_rec_writer_close(keel_rec_writer *w) {
    if (!w) return KEEL_OK;
    bool forked = keel__forked_since(w->fork_gen);
    keel_status st = w->err;
    if (forked) {
        /* Free this process's copy only: no chunk, no footer, no cut, no thread to join
         * (threads do not survive fork). */
        (void)keel__os_close(w->fd);
        goto free_all;
    }
    if (!st) st = emit_pending(w);
    keel_status bst = bg_wait(w);
    if (!st) st = bst;
    uint64_t good = written_end(w);
    bg_stop(w);
    if (!st && w->o.array_record_group_size) {
        good = w->pos;
        st = write_ar_footer(w);
    }
    if (!st) st = do_sync(w);
    if (st) {
        /* Cut a partly written chunk (or a footer without its postscript) so the file
         * ends with complete record chunks. */
        (void)keel__os_ftruncate(w->fd, good);
    }
    int e = keel__os_close(w->fd);
    if (e && !st) st = keel__fail_errno(e, "closing record file");
free_all:
    free_set(&w->set[0]);
    free_set(&w->set[1]);
    free(w->sizes);
    free(w->sbuf);
    free(w->ar);
    free_recovery(w);
    free(w);
    return st;
}
