/*
 * stream.c: values written in chunks and committed under a key at the end.
 *
 * Chunks are staged privately: in memory up to STREAM_MEM_LIMIT, then in an unlinked
 * temporary file in the store's directory (same filesystem, so the commit is a kernel-side
 * copy_file_range). No store lock is held between calls, which is what lets a Python
 * reader callback run, and other threads use the store, while a stream is open. The CRC
 * of the value is accumulated as chunks arrive. Commit appends one entry through the
 * shared group append; abort and every failure leave the store untouched.
 */
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

#define STREAM_MEM_LIMIT (1u << 20)

struct keel_stream {
    keel_store *s;
    uint8_t *mem;
    size_t mem_len, mem_cap;
    int fd;             /* staging file once spilled, else -1 */
    uint64_t len;
    uint32_t crc;
    keel_status failed; /* a write that failed poisons the stream */
};

keel_status keel_stream_begin(keel_store *s, keel_stream **stream_out) {
    if (!s || !stream_out) return keel__fail(KEEL_EINVAL, "keel_stream_begin: NULL argument");
    if (s->closed) return keel__fail(KEEL_ECLOSED, "store %s is closed", s->path);
    if (s->read_only) return keel__fail(KEEL_EREADONLY, "store %s was opened read-only", s->path);
    keel_stream *st = calloc(1, sizeof *st);
    if (!st) return keel__fail(KEEL_ENOMEM, "allocating a stream");
    st->s = s;
    st->fd = -1;
    *stream_out = st;
    return KEEL_OK;
}

static keel_status spill(keel_stream *st) {
    int err = keel__os_tmpfile_in_dir_of(st->s->path, &st->fd);
    if (err) return keel__fail_errno(err, "creating a staging file beside %s", st->s->path);
    err = keel__os_pwrite_all(st->fd, st->mem, st->mem_len, 0);
    if (err) return keel__fail_errno(err, "writing to the staging file");
    free(st->mem);
    st->mem = NULL;
    st->mem_len = st->mem_cap = 0;
    return KEEL_OK;
}

keel_status keel_stream_write(keel_stream *st, const void *data, size_t len) {
    if (!st) return keel__fail(KEEL_EINVAL, "stream is NULL");
    if (!data && len) return keel__fail(KEEL_EINVAL, "stream data is NULL with length %zu", len);
    if (st->failed) return keel__fail(st->failed, "stream already failed");
    if (len == 0) return KEEL_OK;
    keel_status rc = KEEL_OK;
    if (st->fd < 0 && st->mem_len + len <= STREAM_MEM_LIMIT) {
        if (st->mem_len + len > st->mem_cap) {
            size_t cap = st->mem_cap ? st->mem_cap : 256 * 1024;
            while (cap < st->mem_len + len) cap *= 2;
            uint8_t *m = realloc(st->mem, cap);
            if (!m) {
                rc = keel__fail(KEEL_ENOMEM, "stream buffer of %zu bytes", cap);
                goto out;
            }
            st->mem = m;
            st->mem_cap = cap;
        }
        memcpy(st->mem + st->mem_len, data, len);
        st->mem_len += len;
    } else {
        if (st->fd < 0 && (rc = spill(st)) != KEEL_OK) goto out;
        int err = keel__os_pwrite_all(st->fd, data, len, st->len);
        if (err) {
            rc = keel__fail_errno(err, "writing to the staging file");
            goto out;
        }
    }
    st->crc = keel_crc32c(st->crc, data, len);
    st->len += len;
out:
    if (rc != KEEL_OK) st->failed = rc;
    return rc;
}

static void stream_free(keel_stream *st) {
    if (st->fd >= 0) keel__os_close(st->fd);
    free(st->mem);
    free(st);
}

void keel_stream_abort(keel_stream *st) {
    if (st) stream_free(st);
}

keel_status keel_stream_commit(keel_stream *st, const void *key, size_t key_len) {
    if (!st) return keel__fail(KEEL_EINVAL, "stream is NULL");
    keel_status rc = st->failed ? keel__fail(st->failed, "stream failed earlier; not committed")
                                : keel__check_key(key, key_len);
    keel_store *s = st->s;
    if (rc == KEEL_OK) rc = keel__writer_enter(s);
    if (rc == KEEL_OK) {
        keel_append_item it = {.key = key ? key : "", .key_len = (uint32_t)key_len,
                               .value = st->fd >= 0 ? NULL : st->mem ? st->mem : (void *)"",
                               .value_len = st->len, .src_fd = st->fd, .src_crc = st->crc,
                               .hash = keel_hash(key, key_len), .crc_known = true};
        rc = keel__append_group(s, &it, 1);
        keel__writer_leave(s);
    }
    stream_free(st);
    return rc;
}

keel_status keel_put_stream(keel_store *s, const void *key, size_t key_len, keel_read_fn read,
                            void *ctx) {
    if (!read) return keel__fail(KEEL_EINVAL, "keel_put_stream: read callback is NULL");
    keel_status rc = keel__check_key(key, key_len);
    if (rc != KEEL_OK) return rc;
    keel_stream *st;
    rc = keel_stream_begin(s, &st);
    if (rc != KEEL_OK) return rc;
    size_t cap = 1u << 16;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        keel_stream_abort(st);
        return keel__fail(KEEL_ENOMEM, "stream read buffer");
    }
    for (;;) {
        long long n = read(ctx, buf, cap);
        if (n < 0) {
            rc = keel__fail(KEEL_EABORTED, "the reader callback returned %lld; nothing was written", n);
            break;
        }
        if (n == 0) break;
        if ((unsigned long long)n > cap) {
            rc = keel__fail(KEEL_EINVAL, "the reader callback returned %lld, more than the %zu asked",
                            n, cap);
            break;
        }
        rc = keel_stream_write(st, buf, (size_t)n);
        if (rc != KEEL_OK) break;
    }
    free(buf);
    if (rc != KEEL_OK) {
        keel_stream_abort(st);
        return rc;
    }
    return keel_stream_commit(st, key, key_len);
}
