/*
 * reader.c: keel_rec_reader (sequential and random access), counting and stats.
 *
 * The reader keeps `pos`, the position of the next chunk to read. A chunk is read in two
 * steps: its 40-byte header (at most 64 physical bytes, at most one block header inside),
 * then its data with one preadv that sends block headers to a side buffer and the data
 * bytes, contiguous, into the chunk's buffer. Every block header met is checked against
 * the chunk it interrupts (previous_chunk and next_chunk must point at its begin and end).
 * Records are then views into the chunk (uncompressed) or into its decompressed values.
 *
 * Damage handling: under KEEL_REC_ERROR the first problem is sticky (the same error is
 * returned again); under KEEL_REC_RECOVER a chunk whose header is intact but whose data is
 * bad is skipped to its end; a bad chunk header or a bad block header makes the reader look
 * at the next block boundaries for a valid block header, which says where a chunk begins.
 * Every skip is recorded as a region. A file that ends inside a chunk (a crashed writer)
 * is "truncated": the complete chunks before it are read normally.
 *
 * The index for len/seek/get is built on demand by walking chunk headers only, or, under
 * the error strategy, read from an ArrayRecord footer that holds together (no walk; each
 * chunk's header is still checked when the chunk is loaded). The footer (found through its
 * postscript in the last 64 KiB block) also marks where the records end: the footer chunk
 * is never returned as records.
 *
 * Reading one chunk (its header, its data with one preadv, the ArrayRecord postscript) is
 * chunk_read.c's; this file is the reader's state machine over those calls.
 */
#include "records/records.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

typedef struct rec_ix {
    uint64_t begin, first, n;
} rec_ix;

struct keel_rec_reader {
    int fd;
    uint64_t size;
    uint64_t data_end;          /* records end here: ArrayRecord footer or file size */
    keel_rec_reader_options o;

    uint64_t pos;               /* next chunk to read */
    uint64_t next_index;        /* index of the first record of the chunk at pos */
    keel_rec_chunk *cur;        /* current chunk (may be NULL) */
    uint64_t cur_i;             /* next record within cur */
    keel_rec_chunk *rnd;        /* chunk cached by _get */
    keel_status err;            /* sticky error (error strategy) */
    char errmsg[512];

    keel_rec_skipped *skips;
    size_t nskips, skips_cap;
    uint64_t skipped_bytes;

    rec_ix *ix;
    size_t nix;
    uint64_t total;
    bool ix_built;

    rec_scratch scratch;        /* buffers of keel__rec_read_data */
};

keel_status keel_rec_reader_open(const char *path, const keel_rec_reader_options *opts,
                                 keel_rec_reader **out) {
    keel__clear_error();
    if (!path || !out) return keel__fail(KEEL_EINVAL, "keel_rec_reader_open: NULL argument");
    keel_rec_reader_options o = KEEL_REC_READER_OPTIONS_INIT;
    if (opts) o = *opts;
    if (o.corruption != KEEL_REC_ERROR && o.corruption != KEEL_REC_RECOVER)
        return keel__fail(KEEL_EINVAL, "unknown corruption strategy %d", (int)o.corruption);
    keel_rec_reader *r = calloc(1, sizeof *r);
    if (!r) return keel__fail(KEEL_ENOMEM, "allocating a record reader");
    r->o = o;
    keel_status st;
    int e = keel__os_open(path, O_RDONLY, 0, &r->fd);
    if (e) {
        free(r);
        return keel__fail_errno(e, "opening %s", path);
    }
    if ((st = keel__os_regular(r->fd, path)) != KEEL_OK) goto fail;
    if ((e = keel__os_fsize(r->fd, &r->size)) != 0) {
        st = keel__fail_errno(e, "stat %s", path);
        goto fail;
    }
    r->data_end = r->size;
    r->pos = REC_SIG_SIZE;
    if (r->size > 0) {
        uint8_t sig[REC_SIG_SIZE];
        size_t got = 0;
        if ((e = keel__os_pread_all(r->fd, sig, REC_SIG_SIZE, 0, &got)) != 0) {
            st = keel__fail_errno(e, "reading %s", path);
            goto fail;
        }
        if (got < REC_SIG_SIZE || memcmp(sig, keel__rec_signature, REC_SIG_SIZE) != 0) {
            bool prefix = memcmp(sig, keel__rec_signature, got < 8 ? got : 8) == 0;
            if (!prefix || o.corruption == KEEL_REC_ERROR) {
                st = keel__fail(prefix ? KEEL_ECORRUPT : KEEL_EFORMAT,
                                "%s: %s at offset 0", path,
                                prefix ? "damaged or truncated file signature"
                                       : "not a Riegeli/records file (bad signature)");
                goto fail;
            }
            /* Recover: a damaged signature costs nothing but itself. */
        }
        uint64_t footer = 0;
        st = keel__rec_find_ar_footer(r->fd, r->size, &footer);
        if (st == KEEL_OK) r->data_end = footer;
        else if (st != KEEL_NOTFOUND) goto fail;
        if (r->size < REC_SIG_SIZE) r->pos = 0;
    } else {
        r->pos = 0;
    }
    keel__clear_error();
    *out = r;
    return KEEL_OK;
fail:
    keel__os_close(r->fd);
    free(r);
    return st;
}

static void add_skip(keel_rec_reader *r, uint64_t begin, uint64_t end, const char *why) {
    if (end <= begin) return;
    /* A header walk (count, len, stat) and the sequential reader may meet the same damage:
     * record each region once. */
    for (size_t i = 0; i < r->nskips && i < r->skips_cap; i++)
        if (r->skips[i].begin == begin) return;
    r->skipped_bytes += end - begin;
    if (r->nskips == r->skips_cap) {
        size_t n = r->skips_cap ? r->skips_cap * 2 : 8;
        keel_rec_skipped *s = realloc(r->skips, n * sizeof *s);
        if (!s) { r->nskips++; return; }   /* counted, details lost */
        r->skips = s;
        r->skips_cap = n;
    }
    if (r->nskips < r->skips_cap) {
        keel_rec_skipped *s = &r->skips[r->nskips];
        s->begin = begin;
        s->end = end;
        snprintf(s->reason, sizeof s->reason, "%s", why);
    }
    r->nskips++;
}

/* Recover: find where reading can continue after damage in the chunk at `c`, looking at
 * block boundaries from `from` (a multiple of 64 KiB). */
static uint64_t resync(keel_rec_reader *r, uint64_t c, uint64_t from) {
    for (uint64_t b = from; b < r->size; b += REC_B) {
        uint8_t bh[REC_BH];
        size_t got = 0;
        uint64_t prev, next;
        if (keel__os_pread_all(r->fd, bh, REC_BH, b, &got) != 0 || got < REC_BH) break;
        if (!keel__rec_block_header_decode(bh, &prev, &next) || prev > b) continue;
        if (prev == 0) return b;
        uint64_t cand = b - prev;
        if (cand > c && keel__rec_possible_boundary(cand)) return cand;
        if (b + next > b && b + next < r->size) return b + next;
        return r->size;
    }
    return r->size;
}

/* Handle damage found in the chunk at `c`. Error strategy: remember and return the error.
 * Recover: move pos past the damage (to `skip_to`, or by resynchronising when it is 0). */
static keel_status damage(keel_rec_reader *r, keel_status st, uint64_t c, uint64_t skip_to,
                          uint64_t bad_block) {
    if (st != KEEL_ECORRUPT || r->o.corruption == KEEL_REC_ERROR) {
        if (st == KEEL_ECORRUPT || st == KEEL_EFORMAT) {
            r->err = st;
            snprintf(r->errmsg, sizeof r->errmsg, "%s", keel_errmsg());
        }
        return st;
    }
    char why[160];
    snprintf(why, sizeof why, "%s", keel_errmsg());
    uint64_t to;
    if (skip_to) to = skip_to;
    else if (bad_block) to = resync(r, c, bad_block + REC_B);
    else to = resync(r, c, (c / REC_B + 1) * REC_B);
    /* A valid block header at bad_block itself may name a chunk start after c. */
    if (bad_block && !skip_to) {
        uint8_t bh[REC_BH];
        size_t got = 0;
        uint64_t prev, next;
        if (keel__os_pread_all(r->fd, bh, REC_BH, bad_block, &got) == 0 && got == REC_BH &&
            keel__rec_block_header_decode(bh, &prev, &next) && prev <= bad_block) {
            uint64_t cand = prev == 0 ? bad_block : bad_block - prev;
            if (cand > c && keel__rec_possible_boundary(cand)) to = cand;
            else if (bad_block + next < r->size) to = bad_block + next;
        }
    }
    if (to <= c) to = r->size;
    add_skip(r, c, to, why);
    r->pos = to;
    keel__clear_error();
    return KEEL_OK;
}

/* Get a chunk object to load into: the current one when nobody else holds it. */
static keel_rec_chunk *fresh_chunk(keel_rec_chunk **slot) {
    keel_rec_chunk *ch = *slot;
    if (ch && atomic_load_explicit(&ch->refs, memory_order_acquire) == 1) {
        ch->n = 0;
        return ch;
    }
    keel_rec_chunk_release(ch);
    *slot = keel__rec_chunk_new();
    return *slot;
}

/* Load the next chunk with records into r->cur. KEEL_NOTFOUND at the end. */
static keel_status advance(keel_rec_reader *r) {
    if (r->err) return keel__fail(r->err, "%s", r->errmsg);
    for (;;) {
        uint64_t c = r->pos;
        if (c >= r->data_end) return KEEL_NOTFOUND;
        if (c < REC_SIG_SIZE) {     /* a signature cut short (recover) */
            add_skip(r, c, r->size, "truncated file signature");
            r->pos = r->data_end = r->size;
            return KEEL_NOTFOUND;
        }
        rec_chunk_header h;
        uint64_t end = 0;
        int is_short;
        keel_status st = keel__rec_read_header(r->fd, r->size, c, &h, &end, &is_short);
        if (st == KEEL_ECORRUPT) {
            if ((st = damage(r, st, c, 0, 0)) != KEEL_OK) return st;
            continue;
        }
        if (st) return st;
        if (is_short || end > r->size) {
            st = keel__fail(KEEL_ECORRUPT, "chunk at offset %llu is truncated (the file ends at "
                            "%llu)", (unsigned long long)c, (unsigned long long)r->size);
            if ((st = damage(r, st, c, r->size, 0)) != KEEL_OK) return st;
            continue;
        }
        switch (h.type) {
        case REC_CHUNK_SIMPLE: break;
        case REC_CHUNK_SIGNATURE:
        case REC_CHUNK_PADDING:
        case REC_CHUNK_METADATA:
            r->pos = end;
            continue;
        case REC_CHUNK_TRANSPOSED:
            st = keel__fail(KEEL_EFORMAT, "chunk at offset %llu is a transposed chunk: not "
                            "supported (write the file without transpose)",
                            (unsigned long long)c);
            return damage(r, st, c, 0, 0);
        default:
            st = keel__fail(KEEL_ECORRUPT, "chunk at offset %llu: unknown chunk type 0x%02x",
                            (unsigned long long)c, h.type);
            if ((st = damage(r, st, c, end, 0)) != KEEL_OK) return st;
            continue;
        }
        if (h.num_records == 0) {
            r->pos = end;
            continue;
        }
        keel_rec_chunk *ch = fresh_chunk(&r->cur);
        if (!ch) return keel__fail(KEEL_ENOMEM, "allocating a chunk");
        uint64_t bad;
        st = keel__rec_read_data(r->fd, &r->scratch, c, &h, end, ch, &bad);
        if (!st) st = keel__rec_decode_simple(ch, &h, c);
        if (st) {
            ch->n = 0;
            uint64_t skip_to = bad ? 0 : end;
            if (!bad) r->next_index += h.num_records;
            if ((st = damage(r, st, c, skip_to, bad)) != KEEL_OK) return st;
            continue;
        }
        ch->first_index = r->next_index;
        r->next_index += ch->n;
        r->cur_i = 0;
        r->pos = end;
        return KEEL_OK;
    }
}

keel_status keel_rec_reader_next(keel_rec_reader *r, keel_rec_record *out) {
    if (!r || !out) return keel__fail(KEEL_EINVAL, "keel_rec_reader_next: NULL argument");
    if (!r->cur || r->cur_i >= r->cur->n) {
        keel_status st = advance(r);
        if (st) return st;
    }
    keel_rec_chunk *ch = r->cur;
    uint64_t i = r->cur_i++;
    out->data = ch->values + ch->offs[i];
    out->len = (size_t)(ch->offs[i + 1] - ch->offs[i]);
    out->chunk = ch;
    out->index = ch->first_index + i;
    out->pos = ch->begin + i;
    return KEEL_OK;
}

uint64_t keel_rec_reader_buffered(const keel_rec_reader *r) {
    return r && r->cur ? r->cur->n - r->cur_i : 0;
}

/* Walk chunk headers from `start` to `stop`, calling `fn` for every chunk. Damage is
 * handled like the reader does (error or recover), without reading data. */
typedef keel_status (*walk_fn)(keel_rec_reader *r, uint64_t c, const rec_chunk_header *h,
                               uint64_t end, void *ctx);
static keel_status walk(keel_rec_reader *r, walk_fn fn, void *ctx) {
    uint64_t saved_pos = r->pos;
    r->pos = r->size >= REC_SIG_SIZE ? REC_SIG_SIZE : r->size;
    keel_status st = KEEL_OK;
    while (r->pos < r->data_end) {
        uint64_t c = r->pos;
        rec_chunk_header h;
        uint64_t end = 0;
        int is_short;
        st = keel__rec_read_header(r->fd, r->size, c, &h, &end, &is_short);
        if (st == KEEL_OK && (is_short || end > r->size)) {
            st = keel__fail(KEEL_ECORRUPT, "chunk at offset %llu is truncated (the file ends at "
                            "%llu)", (unsigned long long)c, (unsigned long long)r->size);
            if (r->o.corruption == KEEL_REC_ERROR) break;
            add_skip(r, c, r->size, "truncated chunk");
            st = KEEL_OK;
            break;
        }
        if (st == KEEL_ECORRUPT && r->o.corruption == KEEL_REC_RECOVER) {
            r->pos = resync(r, c, (c / REC_B + 1) * REC_B);
            add_skip(r, c, r->pos, "damaged chunk header");
            st = KEEL_OK;
            continue;
        }
        if (st) break;
        if ((st = fn(r, c, &h, end, ctx)) != KEEL_OK) break;
        r->pos = end;
    }
    r->pos = saved_pos;
    return st;
}

static keel_status ix_fn(keel_rec_reader *r, uint64_t c, const rec_chunk_header *h,
                         uint64_t end, void *ctx) {
    (void)end;
    (void)ctx;
    if (h->type == REC_CHUNK_TRANSPOSED)
        return keel__fail(KEEL_EFORMAT, "chunk at offset %llu is a transposed chunk: not "
                          "supported", (unsigned long long)c);
    if (h->type != REC_CHUNK_SIMPLE || h->num_records == 0) return KEEL_OK;
    if (r->nix % 256 == 0) {
        rec_ix *n = realloc(r->ix, (r->nix + 256) * sizeof *n);
        if (!n) return keel__fail(KEEL_ENOMEM, "allocating the chunk index");
        r->ix = n;
    }
    r->ix[r->nix++] = (rec_ix){c, r->total, h->num_records};
    r->total += h->num_records;
    return KEEL_OK;
}

static keel_status index_from_footer(keel_rec_reader *r);

static keel_status build_index(keel_rec_reader *r) {
    if (r->ix_built) return KEEL_OK;
    r->nix = 0;
    r->total = 0;
    /* An ArrayRecord footer lists every chunk: no walk (under "error"; "recover" walks,
     * because only the walk finds and records damaged headers). Loading a chunk still
     * checks its header and its record count against the index. */
    keel_status st = KEEL_NOTFOUND;
    if (r->o.corruption == KEEL_REC_ERROR) st = index_from_footer(r);
    if (st == KEEL_OK) {
        r->ix_built = true;
        return KEEL_OK;
    }
    if (st != KEEL_NOTFOUND) return st;
    st = walk(r, ix_fn, NULL);
    if (st) return st;
    r->ix_built = true;
    return KEEL_OK;
}

keel_status keel_rec_reader_len(keel_rec_reader *r, uint64_t *count_out) {
    if (!r || !count_out) return keel__fail(KEEL_EINVAL, "keel_rec_reader_len: NULL argument");
    keel_status st = build_index(r);
    if (st) return st;
    *count_out = r->total;
    return KEEL_OK;
}

/* Index of the chunk holding record `index` (index < total). */
static size_t find_chunk(const keel_rec_reader *r, uint64_t index) {
    size_t lo = 0, hi = r->nix;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->ix[mid].first <= index) lo = mid;
        else hi = mid;
    }
    return lo;
}

/* Load the chunk of index entry `k` into *slot. */
static keel_status load_ix(keel_rec_reader *r, size_t k, keel_rec_chunk **slot) {
    keel_rec_chunk *ch = fresh_chunk(slot);
    if (!ch) return keel__fail(KEEL_ENOMEM, "allocating a chunk");
    rec_chunk_header h;
    uint64_t end, bad;
    int is_short;
    uint64_t c = r->ix[k].begin;
    keel_status st = keel__rec_read_header(r->fd, r->size, c, &h, &end, &is_short);
    if (!st && (is_short || end > r->size))
        st = keel__fail(KEEL_ECORRUPT, "chunk at offset %llu is truncated", (unsigned long long)c);
    if (!st) st = keel__rec_read_data(r->fd, &r->scratch, c, &h, end, ch, &bad);
    if (!st) st = keel__rec_decode_simple(ch, &h, c);
    if (!st && ch->n != r->ix[k].n)
        st = keel__fail(KEEL_ECORRUPT, "chunk at offset %llu changed", (unsigned long long)c);
    if (st) {
        ch->n = 0;
        return st;
    }
    ch->first_index = r->ix[k].first;
    return KEEL_OK;
}

keel_status keel_rec_reader_seek(keel_rec_reader *r, uint64_t index) {
    if (!r) return keel__fail(KEEL_EINVAL, "keel_rec_reader_seek: NULL reader");
    keel_status st = build_index(r);
    if (st) return st;
    if (index > r->total)
        return keel__fail(KEEL_ERANGE, "record %llu is past the end (%llu records)",
                          (unsigned long long)index, (unsigned long long)r->total);
    r->err = KEEL_OK;
    if (index == r->total) {
        if (r->cur) r->cur->n = r->cur_i = 0;
        if (r->cur && atomic_load(&r->cur->refs) != 1) {
            keel_rec_chunk_release(r->cur);
            r->cur = NULL;
        }
        r->pos = r->data_end;
        r->next_index = r->total;
        return KEEL_OK;
    }
    size_t k = find_chunk(r, index);
    if (!(r->cur && r->cur->n && r->cur->begin == r->ix[k].begin)) {
        if ((st = load_ix(r, k, &r->cur)) != KEEL_OK) return st;
    }
    rec_chunk_header h;
    uint64_t end;
    int is_short;
    if ((st = keel__rec_read_header(r->fd, r->size, r->ix[k].begin, &h, &end, &is_short)))
        return st;
    r->cur_i = index - r->ix[k].first;
    r->pos = end;
    r->next_index = r->ix[k].first + r->ix[k].n;
    return KEEL_OK;
}

keel_status keel_rec_reader_seek_pos(keel_rec_reader *r, uint64_t pos) {
    if (!r) return keel__fail(KEEL_EINVAL, "keel_rec_reader_seek_pos: NULL reader");
    keel_status st = build_index(r);
    if (st) return st;
    /* The last chunk beginning at or before pos. */
    size_t lo = 0, hi = r->nix;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->ix[mid].begin <= pos) lo = mid + 1;
        else hi = mid;
    }
    if (lo == 0) return keel_rec_reader_seek(r, 0);
    const rec_ix *x = &r->ix[lo - 1];
    uint64_t within = pos - x->begin;
    return keel_rec_reader_seek(r, within < x->n ? x->first + within : x->first + x->n);
}

uint64_t keel_rec_reader_tell(const keel_rec_reader *r) {
    if (!r) return 0;
    if (r->cur && r->cur_i < r->cur->n) return r->cur->first_index + r->cur_i;
    return r->next_index;
}

keel_status keel_rec_reader_get(keel_rec_reader *r, uint64_t index, keel_rec_record *out) {
    if (!r || !out) return keel__fail(KEEL_EINVAL, "keel_rec_reader_get: NULL argument");
    keel_status st = build_index(r);
    if (st) return st;
    if (index >= r->total)
        return keel__fail(KEEL_ERANGE, "record %llu is past the end (%llu records)",
                          (unsigned long long)index, (unsigned long long)r->total);
    size_t k = find_chunk(r, index);
    keel_rec_chunk *ch;
    if (r->cur && r->cur->n && r->cur->begin == r->ix[k].begin) {
        ch = r->cur;
    } else {
        if (!(r->rnd && r->rnd->n && r->rnd->begin == r->ix[k].begin)) {
            if ((st = load_ix(r, k, &r->rnd)) != KEEL_OK) return st;
        }
        ch = r->rnd;
    }
    uint64_t i = index - r->ix[k].first;
    out->data = ch->values + ch->offs[i];
    out->len = (size_t)(ch->offs[i + 1] - ch->offs[i]);
    out->chunk = ch;
    out->index = index;
    out->pos = ch->begin + i;
    return KEEL_OK;
}

uint64_t keel_rec_reader_skipped(const keel_rec_reader *r, uint64_t *bytes_out) {
    if (bytes_out) *bytes_out = r ? r->skipped_bytes : 0;
    return r ? r->nskips : 0;
}

keel_status keel_rec_reader_skipped_region(const keel_rec_reader *r, uint64_t i,
                                           keel_rec_skipped *out) {
    if (!r || !out) return keel__fail(KEEL_EINVAL, "keel_rec_reader_skipped_region: NULL");
    if (i >= r->nskips || i >= r->skips_cap)
        return keel__fail(KEEL_ERANGE, "no skipped region %llu", (unsigned long long)i);
    *out = r->skips[i];
    return KEEL_OK;
}

void keel_rec_reader_close(keel_rec_reader *r) {
    if (!r) return;
    keel__os_close(r->fd);
    keel_rec_chunk_release(r->cur);
    keel_rec_chunk_release(r->rnd);
    free(r->skips);
    free(r->ix);
    keel__rec_scratch_free(&r->scratch);
    free(r);
}

keel_status keel_rec_count(const char *path, const keel_rec_reader_options *opts,
                           uint64_t *count_out) {
    if (!count_out) return keel__fail(KEEL_EINVAL, "keel_rec_count: NULL argument");
    keel_rec_reader *r;
    keel_status st = keel_rec_reader_open(path, opts, &r);
    if (st) return st;
    uint64_t n = 0;
    st = keel_rec_reader_len(r, &n);
    keel_rec_reader_close(r);
    if (!st) *count_out = n;
    return st;
}

/* ---- statistics ------------------------------------------------------------------------------ */

typedef struct stat_ctx {
    keel_rec_stat *s;
    int verify;
    keel_rec_chunk *ch;
} stat_ctx;

static keel_status stat_fn(keel_rec_reader *r, uint64_t c, const rec_chunk_header *h,
                           uint64_t end, void *vctx) {
    stat_ctx *x = vctx;
    keel_rec_stat *s = x->s;
    s->chunks++;
    switch (h->type) {
    case REC_CHUNK_PADDING: s->padding_chunks++; return KEEL_OK;
    case REC_CHUNK_METADATA: s->metadata_chunks++; return KEEL_OK;
    case REC_CHUNK_TRANSPOSED: s->transposed_chunks++; return KEEL_OK;
    case REC_CHUNK_SIMPLE: break;
    default: s->other_chunks++; return KEEL_OK;
    }
    s->record_chunks++;
    s->records += h->num_records;
    s->record_bytes += h->decoded_size;
    s->chunk_data_bytes += h->data_size;
    uint8_t comp = 0xff;
    size_t got = 0;
    /* The compression byte is the first data byte: one small read, not the data. */
    uint64_t p = keel__rec_add_with_overhead(c, REC_CH);
    if (p % REC_B == 0) p += REC_BH;
    if (h->data_size > 0) (void)keel__os_pread_all(r->fd, &comp, 1, p, &got);
    switch (comp) {
    case REC_COMP_NONE: s->uncompressed_chunks++; break;
    case REC_COMP_ZSTD: s->zstd_chunks++; break;
    case REC_COMP_BROTLI: s->brotli_chunks++; break;
    case REC_COMP_SNAPPY: s->snappy_chunks++; break;
    default: break;
    }
    if (x->verify) {
        uint64_t bad;
        keel_status st = keel__rec_read_data(r->fd, &r->scratch, c, h, end, x->ch, &bad);
        if (!st) st = keel__rec_decode_simple(x->ch, h, c);
        if (st == KEEL_ENOMEM || st == KEEL_EIO) return st;
        if (st) s->corrupt_chunks++;
        keel__clear_error();
    }
    return KEEL_OK;
}

keel_status keel_rec_stat_file(const char *path, const keel_rec_reader_options *opts,
                               int verify, keel_rec_stat *out) {
    if (!out) return keel__fail(KEEL_EINVAL, "keel_rec_stat_file: NULL argument");
    keel_rec_reader_options o = KEEL_REC_READER_OPTIONS_INIT;
    if (opts) o = *opts;
    keel_rec_reader *r;
    keel_status st = keel_rec_reader_open(path, &o, &r);
    if (st) return st;
    keel_rec_stat s;
    memset(&s, 0, sizeof s);
    s.file_size = r->size;
    if (r->size >= REC_SIG_SIZE) s.chunks = 1;     /* the signature */
    stat_ctx x = {&s, verify, keel__rec_chunk_new()};
    if (!x.ch) st = keel__fail(KEEL_ENOMEM, "allocating a chunk");
    if (!st) st = walk(r, stat_fn, &x);
    if (!st && r->data_end < r->size) {
        rec_chunk_header h;
        s.array_record = 1;
        if (keel__rec_load_simple(r->fd, r->size, r->data_end, x.ch, &h) == KEEL_OK && x.ch->n >= 1) {
            uint64_t g = 0, n = 0;
            if (keel__rec_ar_parse_metadata(x.ch->values, (size_t)x.ch->offs[1], &g, &n))
                s.array_record_group_size = g;
        }
        keel__clear_error();
    }
    keel_rec_chunk_release(x.ch);
    s.skipped_regions = r->nskips;
    s.skipped_bytes = r->skipped_bytes;
    keel_rec_reader_close(r);
    if (!st) *out = s;
    return st;
}

keel_status keel__rec_reader_next_chunk(keel_rec_reader *r, keel_rec_chunk **out) {
    /* Callers never mix this with keel_rec_reader_next: whole chunks only. */
    keel_status st = advance(r);
    if (st) return st;
    keel_rec_chunk_retain(r->cur);
    *out = r->cur;
    r->cur_i = r->cur->n;
    return KEEL_OK;
}

/* ---- chunk list for planning parallel reads ------------------------------------------------ */

typedef struct chunks_ctx {
    keel_rec_chunk_info *out;
    size_t cap, n;
    uint64_t first;
    bool grow;          /* out is ours: grow it instead of only counting past cap */
    bool nomem;
} chunks_ctx;

static void chunks_add(chunks_ctx *x, uint64_t off, uint64_t dec, uint64_t nrec) {
    if (x->n == x->cap && x->grow && !x->nomem) {
        size_t cap = x->cap ? x->cap * 2 : 256;
        keel_rec_chunk_info *o = realloc(x->out, cap * sizeof *o);
        if (o) {
            x->out = o;
            x->cap = cap;
        } else {
            x->nomem = true;
        }
    }
    if (x->n < x->cap) x->out[x->n] = (keel_rec_chunk_info){off, x->first, nrec, dec};
    x->n++;
    x->first += nrec;
}

static keel_status chunks_fn(keel_rec_reader *r, uint64_t c, const rec_chunk_header *h,
                             uint64_t end, void *vctx) {
    (void)r;
    (void)end;
    if (h->type == REC_CHUNK_TRANSPOSED)
        return keel__fail(KEEL_EFORMAT, "chunk at offset %llu is a transposed chunk: not "
                          "supported", (unsigned long long)c);
    if (h->type == REC_CHUNK_SIMPLE && h->num_records > 0)
        chunks_add(vctx, c, h->decoded_size, h->num_records);
    return KEEL_OK;
}

/* The chunk list from ArrayRecord's footer: its first record is RiegeliFooterMetadata, then
 * one ArrayRecordFooter per chunk. KEEL_NOTFOUND when there is no footer or it does not
 * hold together (offsets not increasing inside the data, counts that do not add up): the
 * caller then walks the headers, which checks everything the footer only claims. */
static keel_status chunks_from_footer(keel_rec_reader *r, chunks_ctx *x) {
    if (r->data_end >= r->size) return KEEL_NOTFOUND;
    keel_rec_chunk *ch = keel__rec_chunk_new();
    if (!ch) return keel__fail(KEEL_ENOMEM, "allocating a chunk");
    rec_chunk_header h;
    keel_status st = keel__rec_load_simple(r->fd, r->size, r->data_end, ch, &h);
    uint64_t group = 0, total = 0;
    if (st == KEEL_ENOMEM || st == KEEL_EIO) goto done;
    st = KEEL_NOTFOUND;
    if (ch->n < 1 || !keel__rec_ar_parse_metadata(ch->values, (size_t)ch->offs[1], &group,
                                                  &total))
        goto done;
    uint64_t prev_end = REC_SIG_SIZE;
    for (uint64_t i = 1; i < ch->n; i++) {
        uint64_t off, dec, nrec;
        if (!keel__rec_ar_parse_footer_entry(ch->values + ch->offs[i],
                                             (size_t)(ch->offs[i + 1] - ch->offs[i]), &off,
                                             &dec, &nrec) ||
            off < prev_end || off >= r->data_end || nrec > REC_MAX_NUM_RECORDS ||
            x->first + nrec < x->first)
            goto done;
        prev_end = off + REC_CH;
        if (nrec) chunks_add(x, off, dec, nrec);
    }
    if (x->first == total) st = KEEL_OK;
    if (x->nomem) st = keel__fail(KEEL_ENOMEM, "allocating the chunk list");
done:
    keel_rec_chunk_release(ch);
    if (st == KEEL_NOTFOUND) keel__clear_error();
    return st;
}

keel_status keel_rec_reader_chunks(keel_rec_reader *r, keel_rec_chunk_info *out, size_t cap,
                                   size_t *count_out, int *from_footer_out) {
    if (!r || !count_out || (cap && !out))
        return keel__fail(KEEL_EINVAL, "keel_rec_reader_chunks: NULL argument");
    chunks_ctx x = {out, cap, 0, 0, false, false};
    keel_status st = chunks_from_footer(r, &x);
    int footer = st == KEEL_OK;
    if (st == KEEL_NOTFOUND) {
        x = (chunks_ctx){out, cap, 0, 0, false, false};
        st = walk(r, chunks_fn, &x);
    }
    if (st) return st;
    *count_out = x.n;
    if (from_footer_out) *from_footer_out = footer;
    return KEEL_OK;
}

static keel_status index_from_footer(keel_rec_reader *r) {
    chunks_ctx x = {NULL, 0, 0, 0, true, false};
    keel_status st = chunks_from_footer(r, &x);
    if (st == KEEL_OK && x.n) {
        rec_ix *ix = realloc(r->ix, ((x.n + 255) / 256 * 256) * sizeof *ix);
        if (!ix) {
            st = keel__fail(KEEL_ENOMEM, "allocating the chunk index");
        } else {
            r->ix = ix;
            for (size_t i = 0; i < x.n; i++)
                ix[i] = (rec_ix){x.out[i].offset, x.out[i].first_index, x.out[i].num_records};
            r->nix = x.n;
        }
    }
    if (st == KEEL_OK) r->total = x.first;
    free(x.out);
    return st;
}
