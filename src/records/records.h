/*
 * records.h: what the files of src/records/ share (never installed).
 *
 * The record-file face (Riegeli, as Disky writes it). It stands on base/ only (errors,
 * system calls); nothing below it includes this header.
 *
 * format.c  hashing, varints, block and chunk headers, Riegeli's placement formulas, the
 *           signature, simple-chunk encode/decode, the ArrayRecord protobuf messages
 * writer.c  keel_rec_writer
 * chunk_read.c  reading one chunk: header, data (one preadv), a whole simple chunk, the
 *           ArrayRecord postscript, the append point; shared by the reader and append
 * reader.c  keel_rec_reader, counting, statistics
 * mt.c      the sharded multi-threaded writer and reader used by Python
 *
 * Positions are physical file offsets (block headers included). "Content" bytes of a chunk
 * are its 40-byte header and its data, which block headers interrupt at every multiple of
 * 64 KiB. A position is a possible chunk boundary when it is a block boundary or lies at
 * least 25 bytes into a block (never inside or right after a block header).
 */
#ifndef KEEL_SRC_RECORDS_H
#define KEEL_SRC_RECORDS_H

#include "base/base.h"
#include "keel_records.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <sys/uio.h>

#define REC_B ((uint64_t)KEEL_REC_BLOCK_SIZE)
#define REC_BH 24u
#define REC_USABLE (REC_B - REC_BH)
#define REC_CH 40u
#define REC_SIG_SIZE 64u

#define REC_CHUNK_SIGNATURE 's'
#define REC_CHUNK_METADATA 'm'
#define REC_CHUNK_PADDING 'p'
#define REC_CHUNK_SIMPLE 'r'
#define REC_CHUNK_TRANSPOSED 't'

#define REC_COMP_NONE 0
#define REC_COMP_BROTLI 'b'
#define REC_COMP_ZSTD 'z'
#define REC_COMP_SNAPPY 's'

#define REC_MAX_NUM_RECORDS ((UINT64_C(1) << 56) - 1)
#define REC_AR_MAGIC UINT64_C(0x71930e704fdae05e)

/* Little-endian store (format.c has one too, but the records files do not depend on the
 * store's format code). */
static inline void keel__rec_st64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- hashing and varints ------------------------------------------------------------ */

uint64_t keel__rec_hash(const void *p, size_t n);

/* Canonical LEB128; returns the bytes written (at most 10). */
static inline size_t keel__rec_put_varint(uint8_t *p, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}
static inline size_t keel__rec_varint_len(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) { v >>= 7; n++; }
    return n;
}
/* Decode a varint64 from [*p, end). Accepts non-shortest forms (Disky writes 127 as
 * FF 00) as Riegeli's reader does; rejects more than 10 bytes and overflow. */
bool keel__rec_get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v);

/* writer.c: KEEL_EINVAL (with detail) unless the compression, its level (none for
 * uncompressed output) and the sync mode are valid. */
keel_status keel__rec_check_writer_options(const keel_rec_writer_options *o);

/* ---- placement (Riegeli's formulas) -------------------------------------------------- */

static inline uint64_t keel__rec_overhead_blocks(uint64_t pos, uint64_t size) {
    return (size + (pos + REC_USABLE - 1) % REC_B) / REC_USABLE;
}
static inline uint64_t keel__rec_add_with_overhead(uint64_t pos, uint64_t size) {
    return pos + size + keel__rec_overhead_blocks(pos, size) * REC_BH;
}
static inline bool keel__rec_possible_boundary(uint64_t pos) {
    uint64_t r = pos % REC_B;
    return r == 0 || r > REC_BH;
}
static inline uint64_t keel__rec_round_up_boundary(uint64_t pos) {
    uint64_t r = pos % REC_B;
    return (r == 0 || r > REC_BH) ? pos : pos - r + REC_BH + 1;
}
/* Where the chunk beginning at `begin` ends (and the next one begins). */
static inline uint64_t keel__rec_chunk_end(uint64_t begin, uint64_t data_size,
                                           uint64_t num_records) {
    uint64_t a = keel__rec_add_with_overhead(begin, REC_CH + data_size);
    uint64_t b = keel__rec_round_up_boundary(begin + num_records);
    return a > b ? a : b;
}

/* ---- headers ------------------------------------------------------------------------- */

typedef struct rec_chunk_header {
    uint64_t header_hash;
    uint64_t data_size;
    uint64_t data_hash;
    uint8_t type;
    uint64_t num_records;
    uint64_t decoded_size;
} rec_chunk_header;

void keel__rec_block_header_encode(uint64_t prev, uint64_t next, uint8_t out[REC_BH]);
/* Hash and the value constraints of the format. */
bool keel__rec_block_header_decode(const uint8_t in[REC_BH], uint64_t *prev, uint64_t *next);

/* Sets h->header_hash. */
void keel__rec_chunk_header_encode(rec_chunk_header *h, uint8_t out[REC_CH]);
/* Returns false when the header hash does not match. */
bool keel__rec_chunk_header_decode(const uint8_t in[REC_CH], rec_chunk_header *h);

/* The 64 bytes every Riegeli/records file starts with. */
extern const uint8_t keel__rec_signature[REC_SIG_SIZE];

/* ---- chunks -------------------------------------------------------------------------- */

struct keel_rec_chunk {
    atomic_size_t refs;
    uint8_t *raw;           /* chunk data as on disk, block headers removed */
    size_t raw_cap;
    uint8_t *dec;           /* decompressed values (compressed chunks) */
    size_t dec_cap;
    uint64_t *offs;         /* n + 1 record offsets into `values` */
    size_t offs_cap;
    const uint8_t *values;
    uint64_t n;
    uint64_t begin;         /* chunk position */
    uint64_t first_index;
};

keel_rec_chunk *keel__rec_chunk_new(void);
/* Make sure raw holds `n` bytes. */
keel_status keel__rec_chunk_reserve_raw(keel_rec_chunk *c, size_t n);

/* Decode simple chunk data c->raw[0..h->data_size) into values/offsets. Errors are
 * KEEL_ECORRUPT or KEEL_EFORMAT (unsupported compression), detail naming `begin`. */
keel_status keel__rec_decode_simple(keel_rec_chunk *c, const rec_chunk_header *h,
                                    uint64_t begin);

/* Compress `n` bytes with Riegeli's block form (varint decompressed size, then the codec's
 * stream) appended to *buf at *len (grown as needed). */
keel_status keel__rec_compress_block(int comp, int level, const uint8_t *src, size_t n,
                                     uint8_t **buf, size_t *cap, size_t *len);

/* ---- ArrayRecord --------------------------------------------------------------------- */

/* Encode RiegeliPostscript{footer_offset, magic}; returns its length (<= 32). */
size_t keel__rec_ar_postscript(uint8_t *out, uint64_t footer_offset);
/* Parse a RiegeliPostscript; false when it is not one. */
bool keel__rec_ar_parse_postscript(const uint8_t *p, size_t n, uint64_t *footer_offset);
/* Encode ArrayRecordFooter{chunk_offset, decoded_data_size, num_records}; <= 33 bytes. */
size_t keel__rec_ar_footer_entry(uint8_t *out, uint64_t chunk_offset, uint64_t decoded,
                                 uint64_t num_records);
/* Parse RiegeliFooterMetadata and return its group size (from writer_options, default
 * 65536 when absent) and num_records; false when it is not one. */
bool keel__rec_ar_parse_metadata(const uint8_t *p, size_t n, uint64_t *group_size,
                                 uint64_t *num_records);

/* Parse one ArrayRecordFooter entry (a record of the footer chunk after the metadata);
 * false when it is malformed or lacks chunk_offset or num_records. */
bool keel__rec_ar_parse_footer_entry(const uint8_t *p, size_t n, uint64_t *chunk_offset,
                                     uint64_t *decoded, uint64_t *num_records);

/* ---- reading one chunk (chunk_read.c) ---------------------------------------------------- */

/* Buffers keel__rec_read_data reuses from call to call: iovecs and the block headers a
 * chunk's data crosses. Zero-initialised; keel__rec_scratch_free releases them. */
typedef struct rec_scratch {
    struct iovec *iov;
    size_t iov_cap;
    uint8_t *bh;
    size_t bh_cap;
} rec_scratch;

void keel__rec_scratch_free(rec_scratch *s);

/* Read and check the header of the chunk at `c` in a file of `size` bytes. KEEL_OK with
 * *short_out set when the file ends before the header does; KEEL_ECORRUPT for a bad chunk
 * header or a block header inside it that does not match; *end_out is where the chunk
 * ends (possibly past `size`). */
keel_status keel__rec_read_header(int fd, uint64_t size, uint64_t c, rec_chunk_header *h,
                                  uint64_t *end_out, int *short_out);
/* Read the data of the chunk at `c` (header `h`, ending at `end`, within the file) and
 * check the block headers it crosses and its data hash: KEEL_OK, or KEEL_ECORRUPT with the
 * offset in the detail. Used by append, which must not write after a damaged chunk. */
keel_status keel__rec_check_chunk_data(int fd, uint64_t c, const rec_chunk_header *h,
                                       uint64_t end);
/* KEEL_OK and the footer chunk's offset when the file ends with ArrayRecord's postscript;
 * KEEL_NOTFOUND when it does not. */
keel_status keel__rec_find_ar_footer(int fd, uint64_t size, uint64_t *footer_out);
/* Read the data of the chunk at `c` (header `h`, ending at `end` <= file size) into
 * ch->raw, checking the block headers it crosses and the data hash. *bad_block_out gets
 * the position of a bad block header (0 when the problem is elsewhere). */
keel_status keel__rec_read_data(int fd, rec_scratch *s, uint64_t c, const rec_chunk_header *h,
                                uint64_t end, keel_rec_chunk *ch, uint64_t *bad_block_out);
/* Where appending to a file of `size` bytes continues: the end of its last complete chunk
 * whose data is intact (chunks near the end are read whole); *damaged_out 1 when the cut
 * starts at a damaged chunk, *footer_out 1 when it is an ArrayRecord footer. */
keel_status keel__rec_find_append_point(int fd, uint64_t size, uint64_t *out, int *damaged_out,
                                        int *footer_out);
/* Read header and data of a simple chunk at `c` and decode it (no recovery). */
keel_status keel__rec_load_simple(int fd, uint64_t size, uint64_t c, keel_rec_chunk *ch,
                                  rec_chunk_header *h_out);

/* The reader's next chunk with records, retained for the caller (records_mt.c). */
keel_status keel__rec_reader_next_chunk(keel_rec_reader *r, keel_rec_chunk **out);

/* ---- small growable buffer ----------------------------------------------------------- */

keel_status keel__rec_grow(uint8_t **buf, size_t *cap, size_t need);

#endif /* KEEL_SRC_RECORDS_H */
