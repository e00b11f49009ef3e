/*
 * compact.c: rewriting the store with only its live entries.
 *
 * Under the write lock (writers wait; readers carry on with the old index and mapping),
 * the live entries are copied in file order into "<path>.compact-XXXXXX", a new file with
 * a fresh header: each value byte-identical and re-aligned, each old checksum verified on
 * the way (a damaged entry stops the compaction rather than being laundered into a fresh
 * checksum). The new file (locked from its creation on: files.c) is fsynced, renamed over
 * the store and the directory fsynced; only then are the new fd, mapping and index
 * published. The old mapping is retired, not unmapped, so earlier views stay valid. On any
 * failure before the rename the temporary file is removed and the store is as it was.
 */
#include "store/store.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OUT_BUF (1u << 20)

typedef struct out {
    int fd;
    uint8_t *buf;
    size_t len;
    uint64_t pos;   /* file offset of buf[0] */
} out;

static int out_flush(out *o) {
    if (!o->len) return 0;
    int err = keel__os_pwrite_all(o->fd, o->buf, o->len, o->pos);
    o->pos += o->len;
    o->len = 0;
    return err;
}

static int out_put(out *o, const void *p, uint64_t n) {
    static const uint8_t zeros[4096];
    if (n >= OUT_BUF / 4 && p) {  /* large values go straight from the mapping */
        int err = out_flush(o);
        if (err) return err;
        err = keel__os_pwrite_all(o->fd, p, (size_t)n, o->pos);
        o->pos += n;
        return err;
    }
    while (n > 0) {
        size_t c = OUT_BUF - o->len;
        if (c > n) c = (size_t)n;
        if (!p && c > sizeof zeros) c = sizeof zeros;
        memcpy(o->buf + o->len, p ? p : zeros, c);
        o->len += c;
        if (p) p = (const uint8_t *)p + c;
        n -= c;
        if (o->len == OUT_BUF) {
            int err = out_flush(o);
            if (err) return err;
        }
    }
    return 0;
}

keel_status keel_compact(keel_store *s, keel_progress_fn progress, void *ctx) {
    keel_status st = keel__writer_enter(s);
    if (st != KEEL_OK) return st;
    uint64_t *tr = NULL;  /* live trailers in file order */
    size_t n = 0;
    char *tmp = NULL;
    int fd = -1, err = 0;
    uint32_t tag;
    keel_index nx = {0};
    keel_map *m = NULL;
    out o = {.fd = -1};
    bool renamed = false;

    st = keel__snapshot_trailers(s, &tr, &n);  /* the writer may read the index unlocked */
    if (st != KEEL_OK) goto fail;
    uint64_t total = s->live_bytes, done = 0;  /* progress in bytes of live entries */
    st = keel__write_new_file(s->path, ".compact-", s->align, s->kind, &tmp, &fd, &tag);
    if (st != KEEL_OK) goto fail;
    struct stat osb;  /* the compacted file keeps the store's permissions */
    if (fstat(s->fd, &osb) == 0) (void)fchmod(fd, osb.st_mode & 07777);
    st = keel__index_init(&nx, n);
    o.buf = malloc(OUT_BUF);
    if (st == KEEL_OK && !o.buf) st = keel__fail(KEEL_ENOMEM, "compaction buffer");
    if (st != KEEL_OK) goto fail;
    o.fd = fd;
    o.pos = KEEL_HEADER_SIZE;

    const uint8_t *base = s->map->base;
    uint64_t pos = KEEL_HEADER_SIZE;
    for (size_t i = 0; i < n; i++) {
        keel_snap_entry e;
        keel__entry_at(base, s->align, tr[i], &e);
        const uint8_t *val = base + e.voff, *key = val + e.vlen, *otr = base + tr[i];
        keel_trailer t;
        keel__trailer_decode(otr, &t);
        uint32_t vcrc = keel_crc32c(0, val, e.vlen);
        uint32_t kcrc = keel_crc32c(vcrc, key, e.klen);
        if (keel_crc32c(kcrc, otr, 36) != t.crc) {
            st = keel__fail(KEEL_ECORRUPT,
                            "entry at offset %llu: checksum mismatch; compaction stopped, the store "
                            "is unchanged", (unsigned long long)t.prev_end);
            goto fail;
        }
        keel_place p;
        keel__place(pos, e.vlen, e.klen, s->align, &p);
        /* A fresh hash from the key bytes: the old one is covered by the CRC, but a file
         * crafted or damaged with a consistent wrong hash must not be copied forward. */
        uint64_t kh = keel_hash(key, e.klen);
        keel_trailer nt = {kh, pos, e.vlen, e.klen, 0, KEEL_TRAILER_MAGIC, tag, 0};
        uint8_t ntr[KEEL_TRAILER_SIZE];
        keel__trailer_encode(&nt, NULL, NULL, ntr);
        keel__st32(ntr + 36, keel_crc32c(kcrc, ntr, 36));
        if ((err = out_put(&o, NULL, p.value_start - pos)) || (err = out_put(&o, val, e.vlen)) ||
            (err = out_put(&o, key, e.klen)) ||
            (err = out_put(&o, NULL, p.trailer_start - p.key_start - e.klen)) ||
            (err = out_put(&o, ntr, KEEL_TRAILER_SIZE)))
            break;
        keel__index_insert_unique(&nx, keel__index_hash(kh, s->test_hash_mask), p.trailer_start);
        pos = p.end;
        done += keel__entry_span(s, tr[i]);
        if (progress && ((i & 1023) == 0 || i + 1 == n)) progress(ctx, done, total);
    }
    if (!err) err = out_flush(&o);
    if (!err) err = keel__os_fdatasync(fd);
    if (err) {
        st = keel__fail_errno(err, "writing the compacted copy %s", tmp);
        goto fail;
    }
    st = keel__map_new(fd, pos, &m);
    if (st != KEEL_OK) goto fail;
    if ((err = keel__os_rename(tmp, s->path)) != 0) {
        st = keel__fail_errno(err, "renaming %s over %s", tmp, s->path);
        goto fail;
    }
    renamed = true;
    if ((err = keel__os_fsync_dir_of(s->path)) != 0) {
        /* The rename happened; the new file is complete and fsynced. Report, but go on
         * using it: the old inode is no longer the store. */
        st = keel__fail_errno(err, "fsync of the directory of %s after compaction", s->path);
    }

    struct stat sb;
    int old_fd = s->fd;
    pthread_rwlock_wrlock(&s->index_lock);
    keel__map_retire(s, s->map);
    s->map = m;
    keel__index_free(&s->index);
    s->index = nx;
    s->fd = fd;
    s->end = pos;
    s->entries = n;
    s->live_bytes = pos - KEEL_HEADER_SIZE;
    s->file_tag = tag;
    if (fstat(fd, &sb) == 0) {
        s->inode = (uint64_t)sb.st_ino;
        s->device = (uint64_t)sb.st_dev;
    }
    if (s->hook.on_reload) s->hook.on_reload(s->hook.ctx, s);
    pthread_rwlock_unlock(&s->index_lock);
    keel__os_close(old_fd);
    free(o.buf);
    free(tr);
    free(tmp);
    keel__writer_leave(s);
    return st;

fail:
    if (m) {
        pthread_rwlock_wrlock(&s->index_lock);
        keel__map_retire(s, m);
        pthread_rwlock_unlock(&s->index_lock);
    }
    if (fd >= 0) keel__os_close(fd);
    if (tmp && !renamed) keel__os_unlink(tmp);
    keel__index_free(&nx);
    free(o.buf);
    free(tmp);
    free(tr);
    keel__writer_leave(s);
    return st;
}
