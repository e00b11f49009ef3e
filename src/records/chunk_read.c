/*
 * chunk_read.c: reading one chunk of a record file, for the reader (reader.c) and for
 * append (writer.c): its header (keel__rec_read_header: at most 64 physical bytes, with
 * the block header inside checked against the chunk), its data (keel__rec_read_data: one
 * preadv that sends the block headers it crosses to a side buffer and the data bytes,
 * contiguous, into the chunk's buffer; every block header and the data hash checked), a
 * whole simple chunk decoded (keel__rec_load_simple), and ArrayRecord's postscript at the
 * end of a file (keel__rec_find_ar_footer), and where append may continue after a crashed
 * or damaged tail (keel__rec_find_append_point).
 *
 * Nothing here recovers from damage: every problem is KEEL_ECORRUPT with the offset in the
 * detail, and the caller decides (error or recover). Files are read with pread/preadv
 * directly (record files are not keel stores; os.c's fault injection covers pread through
 * keel__os_pread_all for the header reads).
 */
#include "records/records.h"

#include <errno.h>
#include <stdbool.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

static int preadv_all(int fd, struct iovec *iov, size_t cnt, uint64_t off, size_t *got_out) {
    size_t got = 0, i = 0;
    while (i < cnt) {
        int n = cnt - i > IOV_MAX ? IOV_MAX : (int)(cnt - i);
        ssize_t r;
        do r = preadv(fd, iov + i, n, (off_t)off);
        while (r < 0 && errno == EINTR);
        if (r < 0) return errno;
        if (r == 0) break;
        size_t done = (size_t)r;
        got += done;
        off += done;
        while (i < cnt && done >= iov[i].iov_len) {
            done -= iov[i].iov_len;
            i++;
        }
        if (i < cnt && done) {
            iov[i].iov_base = (uint8_t *)iov[i].iov_base + done;
            iov[i].iov_len -= done;
        }
    }
    *got_out = got;
    return 0;
}

keel_status keel__rec_read_header(int fd, uint64_t size, uint64_t c, rec_chunk_header *h,
                                  uint64_t *end_out, int *short_out) {
    unsigned long long cc = (unsigned long long)c;
    *short_out = 0;
    if (!keel__rec_possible_boundary(c))
        return keel__fail(KEEL_ECORRUPT, "offset %llu: not a possible chunk boundary", cc);
    uint64_t span = keel__rec_add_with_overhead(c, REC_CH) - c;
    if (c > size || span > size - c) {
        *short_out = 1;
        return KEEL_OK;
    }
    uint8_t buf[REC_CH + REC_BH], content[REC_CH];
    size_t got = 0;
    int e = keel__os_pread_all(fd, buf, (size_t)span, c, &got);
    if (e) return keel__fail_errno(e, "reading chunk header at offset %llu", cc);
    if (got < span) {
        *short_out = 1;
        return KEEL_OK;
    }
    const uint8_t *bh = NULL;
    uint64_t bpos = 0;
    if (c % REC_B == 0) {
        bh = buf;
        bpos = c;
        memcpy(content, buf + REC_BH, REC_CH);
    } else if (span > REC_CH) {
        size_t first = (size_t)(REC_B - c % REC_B);
        memcpy(content, buf, first);
        bh = buf + first;
        bpos = c + first;
        memcpy(content + first, buf + first + REC_BH, REC_CH - first);
    } else {
        memcpy(content, buf, REC_CH);
    }
    uint64_t prev = 0, next = 0;
    if (bh && (!keel__rec_block_header_decode(bh, &prev, &next) || prev != bpos - c))
        return keel__fail(KEEL_ECORRUPT, "block header at offset %llu: %s",
                          (unsigned long long)bpos,
                          keel__rec_block_header_decode(bh, &prev, &next)
                              ? "does not match the chunk at its offset"
                              : "hash mismatch or invalid values");
    if (!keel__rec_chunk_header_decode(content, h))
        return keel__fail(KEEL_ECORRUPT, "chunk header at offset %llu: hash mismatch", cc);
    if (h->data_size > (UINT64_C(1) << 60))
        return keel__fail(KEEL_ECORRUPT, "chunk header at offset %llu: data size %llu", cc,
                          (unsigned long long)h->data_size);
    uint64_t end = keel__rec_chunk_end(c, h->data_size, h->num_records);
    if (bh && next != end - bpos)
        return keel__fail(KEEL_ECORRUPT, "block header at offset %llu: next_chunk %llu does not "
                          "match the chunk at %llu", (unsigned long long)bpos,
                          (unsigned long long)next, cc);
    *end_out = end;
    return KEEL_OK;
}

keel_status keel__rec_read_data(int fd, rec_scratch *s, uint64_t c, const rec_chunk_header *h,
                                uint64_t end, keel_rec_chunk *ch, uint64_t *bad_block_out) {
    unsigned long long cc = (unsigned long long)c;
    *bad_block_out = 0;
    keel_status st = keel__rec_chunk_reserve_raw(ch, (size_t)h->data_size);
    if (st) return st;
    uint64_t p = keel__rec_add_with_overhead(c, REC_CH);
    uint64_t nblocks = (end - c) / REC_B + 2;
    size_t niov = (size_t)nblocks * 2 + 2;
    if (niov > s->iov_cap) {
        struct iovec *v = realloc(s->iov, niov * sizeof *v);
        if (!v) return keel__fail(KEEL_ENOMEM, "allocating iovecs");
        s->iov = v;
        s->iov_cap = niov;
    }
    if ((st = keel__rec_grow(&s->bh, &s->bh_cap, (size_t)nblocks * REC_BH)) != KEEL_OK) return st;
    size_t k = 0, nb = 0;
    uint64_t left = h->data_size, start = p, bfirst = 0;
    uint8_t *dst = ch->raw;
    while (left > 0) {
        if (p % REC_B == 0) {
            if (nb == 0) bfirst = p;
            s->iov[k].iov_base = s->bh + nb++ * REC_BH;
            s->iov[k++].iov_len = REC_BH;
            p += REC_BH;
        }
        uint64_t room = REC_B - p % REC_B;
        uint64_t n = left < room ? left : room;
        s->iov[k].iov_base = dst;
        s->iov[k++].iov_len = (size_t)n;
        dst += n;
        left -= n;
        p += n;
    }
    size_t got = 0;
    int e = preadv_all(fd, s->iov, k, start, &got);
    if (e) return keel__fail_errno(e, "reading chunk at offset %llu", cc);
    if (got < p - start)
        return keel__fail(KEEL_ECORRUPT, "chunk at offset %llu is truncated", cc);
    for (size_t i = 0; i < nb; i++) {
        uint64_t b = bfirst + i * REC_B, prev, next;
        const uint8_t *bh = s->bh + i * REC_BH;
        if (!keel__rec_block_header_decode(bh, &prev, &next)) {
            *bad_block_out = b;
            return keel__fail(KEEL_ECORRUPT, "block header at offset %llu: hash mismatch or "
                              "invalid values (in chunk at %llu)", (unsigned long long)b, cc);
        }
        if (prev != b - c || next != end - b) {
            *bad_block_out = b;
            return keel__fail(KEEL_ECORRUPT, "block header at offset %llu does not match the "
                              "chunk at %llu", (unsigned long long)b, cc);
        }
    }
    if (keel__rec_hash(ch->raw, (size_t)h->data_size) != h->data_hash)
        return keel__fail(KEEL_ECORRUPT, "chunk at offset %llu: data hash mismatch", cc);
    return KEEL_OK;
}

keel_status keel__rec_check_chunk_data(int fd, uint64_t c, const rec_chunk_header *h,
                                       uint64_t end) {
    rec_scratch s = {0};
    keel_rec_chunk *ch = keel__rec_chunk_new();
    if (!ch) return keel__fail(KEEL_ENOMEM, "allocating a chunk");
    uint64_t bad;
    keel_status st = keel__rec_read_data(fd, &s, c, h, end, ch, &bad);
    keel__rec_scratch_free(&s);
    keel_rec_chunk_release(ch);
    return st;
}

void keel__rec_scratch_free(rec_scratch *s) {
    free(s->iov);
    free(s->bh);
    s->iov = NULL;
    s->bh = NULL;
    s->iov_cap = s->bh_cap = 0;
}

/* ---- ArrayRecord footer ------------------------------------------------------------------- */

keel_status keel__rec_find_ar_footer(int fd, uint64_t size, uint64_t *footer_out) {
    if (size < 2 * REC_B || size % REC_B != 0) return KEEL_NOTFOUND;
    keel_rec_chunk *ch = keel__rec_chunk_new();
    if (!ch) return keel__fail(KEEL_ENOMEM, "allocating a chunk");
    rec_chunk_header h;
    keel_status st = keel__rec_load_simple(fd, size, size - REC_B, ch, &h);
    uint64_t off;
    if (st == KEEL_OK && ch->n >= 1 &&
        keel__rec_ar_parse_postscript(ch->values, (size_t)ch->offs[1], &off) &&
        off >= REC_SIG_SIZE && off < size - REC_B) {
        *footer_out = off;
        st = KEEL_OK;
    } else if (st == KEEL_ENOMEM || st == KEEL_EIO) {
        /* keep */
    } else {
        st = KEEL_NOTFOUND;
    }
    keel_rec_chunk_release(ch);
    return st;
}

keel_status keel__rec_load_simple(int fd, uint64_t size, uint64_t c, keel_rec_chunk *ch,
                                  rec_chunk_header *h_out) {
    rec_scratch s = {0};
    uint64_t end = 0, bad = 0;
    int is_short;
    keel_status st = keel__rec_read_header(fd, size, c, h_out, &end, &is_short);
    if (!st && (is_short || end > size))
        st = keel__fail(KEEL_ECORRUPT, "chunk at offset %llu is truncated",
                        (unsigned long long)c);
    if (!st && h_out->type != REC_CHUNK_SIMPLE)
        st = keel__fail(KEEL_ECORRUPT, "chunk at offset %llu: not a simple chunk",
                        (unsigned long long)c);
    if (!st) st = keel__rec_read_data(fd, &s, c, h_out, end, ch, &bad);
    if (!st) st = keel__rec_decode_simple(ch, h_out, c);
    keel__rec_scratch_free(&s);
    return st;
}

/* ---- the tail of a file, for append ---------------------------------------------------- */

/* How far back from the end append checks chunk data: the chunks written since the last
 * sync are the ones a power loss can leave with intact headers and lost data. */
#define APPEND_CHECK_WINDOW (UINT64_C(4) << 20)

/* Where appending continues: the end of the last complete chunk whose data is intact.
 * Reads block and chunk headers near the end and the data of the chunks that begin in
 * the last APPEND_CHECK_WINDOW bytes (all of a smaller file). *damaged_out is 1 when the
 * cut starts at a complete chunk whose data (or a block header inside it) is damaged,
 * 0 when it is an unfinished chunk. *footer_out is 1 when the point is an ArrayRecord
 * footer (rewritten at close, not damage). */
keel_status keel__rec_find_append_point(int fd, uint64_t size, uint64_t *out, int *damaged_out,
                                        int *footer_out) {
    uint64_t footer = 0;
    *damaged_out = *footer_out = 0;
    keel_status st = keel__rec_find_ar_footer(fd, size, &footer);
    if (st == KEEL_OK) {
        *out = footer;      /* the footer, padding and postscript are rewritten at close */
        *footer_out = 1;
        return KEEL_OK;
    }
    if (st != KEEL_NOTFOUND) return st;
    /* An intact block header tells where a chunk begins in or after its block: take the
     * lowest one in the window (the last intact one before it when there is none). */
    uint64_t b = (size - 1) / REC_B * REC_B;
    uint64_t start = REC_SIG_SIZE;
    bool found = false;
    for (; b > 0; b -= REC_B) {
        if (found && size - b > APPEND_CHECK_WINDOW) break;
        uint8_t bh[REC_BH];
        size_t got = 0;
        int e = keel__os_pread_all(fd, bh, REC_BH, b, &got);
        if (e) return keel__fail_errno(e, "reading block header at offset %llu",
                                       (unsigned long long)b);
        uint64_t prev, next;
        if (got == REC_BH && keel__rec_block_header_decode(bh, &prev, &next) && prev <= b) {
            if (prev == 0) start = b;
            else if (b + next <= size) start = b + next;
            else start = b - prev;     /* the chunk crossing b is the unfinished one */
            if (start < REC_SIG_SIZE) start = REC_SIG_SIZE;
            found = true;
        }
    }
    if (b == 0) start = REC_SIG_SIZE;  /* the window covers the whole file */
    uint64_t c = start;
    while (c < size) {
        rec_chunk_header h;
        uint64_t end;
        int is_short = 0;
        st = keel__rec_read_header(fd, size, c, &h, &end, &is_short);
        if (st == KEEL_ECORRUPT || is_short || end > size) break;
        if (st) return st;
        st = keel__rec_check_chunk_data(fd, c, &h, end);
        if (st == KEEL_ECORRUPT) {
            *damaged_out = 1;
            break;
        }
        if (st) return st;
        c = end;
    }
    *out = c < size ? c : size;
    return KEEL_OK;
}
