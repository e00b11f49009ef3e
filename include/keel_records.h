/*
 * keel_records.h: record files in the Riegeli/records container (the format Disky, Pisky,
 * Riegeli and ArrayRecord share), written and read by keel's C core.
 *
 * A record file is a sequence of byte strings ("records"). On disk it is a Riegeli/records
 * file: 64 KiB blocks, each starting with a 24-byte block header; a 64-byte file signature;
 * then chunks, each a 40-byte chunk header and its data, protected by HighwayHash-64 with
 * Riegeli's key. Records live in simple chunks ('r'); docs/RECORDS.md has the bytes.
 *
 *   - Writing: uncompressed (the default; byte-compatible with Disky and Riegeli), zstd or
 *     Brotli in Riegeli's standard form. Optionally ArrayRecord's footer and postscript, so
 *     that `array_record`'s reader opens our files with random access.
 *   - Reading: simple chunks of any of those compressions; padding, metadata and signature
 *     chunks are skipped; transposed chunks fail with KEEL_EFORMAT ("not supported"). An
 *     ArrayRecord footer is recognised and never returned as records.
 *   - Corruption: KEEL_REC_ERROR stops at the first damage with KEEL_ECORRUPT and a detail
 *     naming the offset; KEEL_REC_RECOVER skips the damaged chunk (or resynchronises at the
 *     next valid block header) and records what it skipped (keel_rec_reader_skipped).
 *   - Random access: record indices (0-based, in file order) and numeric record positions
 *     (Riegeli's: chunk_begin + index within the chunk). The index is built by walking
 *     chunk headers only, never chunk data, or read from an ArrayRecord footer.
 *
 * Conventions are keel.h's: every function returns a keel_status, keel_errmsg() gives this
 * thread's detail line, outputs are last and written only on success, a caller's mistake
 * returns KEEL_EINVAL. KEEL_NOTFOUND means "end of the records" from _next.
 *
 * Threads: a writer or a reader is used by one thread at a time (callers lock). Chunks
 * (keel_rec_chunk) are reference-counted atomically and may be retained and released from
 * any thread.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef KEEL_RECORDS_H
#define KEEL_RECORDS_H

#include "keel.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KEEL_REC_BLOCK_SIZE 65536u
#define KEEL_REC_DEFAULT_CHUNK_SIZE (1u << 20)
#define KEEL_REC_DEFAULT_GROUP_SIZE 65536u

typedef enum keel_rec_compression {
    KEEL_REC_UNCOMPRESSED = 0,
    KEEL_REC_ZSTD = 1,      /* Riegeli's 'z': level 0 means 3 */
    KEEL_REC_BROTLI = 2     /* Riegeli's 'b': level 0 means 6 (Riegeli's default) */
} keel_rec_compression;

typedef enum keel_rec_corruption {
    KEEL_REC_ERROR = 0,     /* stop at the first damage: KEEL_ECORRUPT naming the offset */
    KEEL_REC_RECOVER = 1    /* skip what is damaged, keep reading, record what was skipped */
} keel_rec_corruption;

/* ---------------------------------------------------------------------------------------
 * Writing
 */

typedef struct keel_rec_writer keel_rec_writer;

/* Options for keel_rec_writer_open. Fields are only ever appended; NULL means defaults. */
typedef struct keel_rec_writer_options {
    keel_rec_compression compression;   /* default KEEL_REC_UNCOMPRESSED */
    int level;                          /* compression level; 0 = the codec's default:
                                         * zstd -131072..22, brotli 0..11; uncompressed
                                         * output takes none (non-zero: KEEL_EINVAL), as
                                         * Riegeli's options ('uncompressed' has no
                                         * level) and Disky (only Zstd(level) has one) */
    uint64_t chunk_size;                /* a chunk is written once its records hold this many
                                         * (uncompressed) bytes; 0 = 1 MiB (Disky's) */
    int append;                         /* non-zero: append to an existing file (created if
                                         * absent); see keel_rec_writer_open */
    uint32_t array_record_group_size;   /* non-zero: write ArrayRecord's footer at close;
                                         * every chunk then holds exactly this many records
                                         * (the last one fewer) and chunk_size is ignored */
    keel_sync_mode sync;                /* KEEL_SYNC_DATA/FULL: fdatasync/fsync at flush and
                                         * close; default none */
    int background;                     /* non-zero: a background thread writes each full
                                         * chunk while the next one fills (two chunk buffers).
                                         * A failed background write is reported by the next
                                         * call that ends a chunk, by flush or by close, and
                                         * the file is cut back to the last complete chunk */
} keel_rec_writer_options;

#define KEEL_REC_WRITER_OPTIONS_INIT { KEEL_REC_UNCOMPRESSED, 0, 0, 0, 0, KEEL_SYNC_NONE, 0 }

/* Create (truncate) the file at `path` and write the 64-byte signature, or with `append`
 * open an existing record file and continue it. Appending first cuts what a crashed
 * writer left unfinished or damaged at the end (saving it beside the file first; see
 * keel_rec_writer_recovery) and an ArrayRecord footer (rewritten at close if the option
 * is set again). An empty (0-byte) file gets a signature.
 * KEEL_EFORMAT: the existing file is not a Riegeli/records file (left untouched).
 * On success *out owns the writer until keel_rec_writer_close(). */
KEEL_API keel_status keel_rec_writer_open(const char *path, const keel_rec_writer_options *opts,
                                          keel_rec_writer **out);

/* What an append open (options.append) found after the last intact chunk and cut: an
 * unfinished chunk (KEEL_RECOVERY_TORN) or a complete chunk whose data or block headers
 * are damaged, as a power loss leaves a chunk whose header reached the disk but whose
 * data did not (KEEL_RECOVERY_CHECKSUM). Appending never writes after a damaged chunk,
 * which would hide the new records from a reader that stops at the damage. The data of
 * the chunks in the last 4 MiB of the file is checked (all of a smaller file). The cut
 * bytes are first saved in "<path>.recovered-<offset>-XXXXXX" (keel.h, keel_recovery);
 * if that fails the open fails and the file is unchanged. kind is KEEL_RECOVERY_NONE when
 * nothing was cut. Strings stay valid until the writer is closed. */
KEEL_API keel_status keel_rec_writer_recovery(const keel_rec_writer *w,
                                              keel_recovery *report_out);

/* Add one record (`len` bytes, may be 0; `data` may be NULL when len is 0). The bytes are
 * copied; the chunk is written when it reaches the chunk size. */
KEEL_API keel_status keel_rec_writer_write(keel_rec_writer *w, const void *data, size_t len);

/* End the current chunk (if it has records) and hand it to the OS, with fdatasync/fsync per
 * the sync option. Each flush with pending records makes a chunk boundary, as in Disky.
 * With the ArrayRecord option only complete groups are written (group boundaries are
 * fixed by the format); the rest is written at close. */
KEEL_API keel_status keel_rec_writer_flush(keel_rec_writer *w);

/* Numeric position (Riegeli's RecordPosition.numeric) the next record will have. */
KEEL_API uint64_t keel_rec_writer_pos(const keel_rec_writer *w);

/* Records accepted so far (by this writer, not counting an appended-to file's) and their
 * total uncompressed size. */
KEEL_API void keel_rec_writer_counts(const keel_rec_writer *w, uint64_t *records_out,
                                     uint64_t *bytes_out);

/* Non-zero when writing a record of `len` bytes now would write a chunk (I/O): callers
 * that hold a lock others wait on (Python's GIL) release it only then. */
KEEL_API int keel_rec_writer_would_flush(const keel_rec_writer *w, size_t len);

/* Flush, write the ArrayRecord footer if asked, close the file and free the writer, even
 * when an error is returned (the error is the first one met). NULL is a no-op. */
KEEL_API keel_status keel_rec_writer_close(keel_rec_writer *w);

/* ---------------------------------------------------------------------------------------
 * Reading
 */

typedef struct keel_rec_reader keel_rec_reader;

/* A decoded chunk: records point into it. Reference-counted; the reader holds one reference
 * to its current chunk and drops it when it moves on. Retain a chunk to keep the records
 * of a keel_rec_record valid after the next reader call or after the reader is closed. */
typedef struct keel_rec_chunk keel_rec_chunk;

typedef struct keel_rec_record {
    const uint8_t *data;        /* valid while `chunk` is referenced */
    size_t len;
    keel_rec_chunk *chunk;      /* borrowed: retain it to keep `data` */
    uint64_t index;             /* record index in the file (0-based) */
    uint64_t pos;               /* numeric record position: chunk_begin + index in chunk */
} keel_rec_record;

KEEL_API void keel_rec_chunk_retain(keel_rec_chunk *c);
KEEL_API void keel_rec_chunk_release(keel_rec_chunk *c);   /* NULL is a no-op */

typedef struct keel_rec_reader_options {
    keel_rec_corruption corruption;     /* default KEEL_REC_ERROR */
} keel_rec_reader_options;

#define KEEL_REC_READER_OPTIONS_INIT { KEEL_REC_ERROR }

/* Open `path` for reading and check its signature (KEEL_EFORMAT when it is not a Riegeli
 * records file; a 0-byte file is a valid empty file). The reader sees the file as it
 * was at open: bytes appended later are not read. */
KEEL_API keel_status keel_rec_reader_open(const char *path, const keel_rec_reader_options *opts,
                                          keel_rec_reader **out);

/* The next record in file order. KEEL_NOTFOUND at the end. On KEEL_OK *out's data stays
 * valid until the next call on this reader that moves to another chunk (or longer, with
 * keel_rec_chunk_retain). KEEL_ECORRUPT (error strategy) names the offset; the reader then
 * stays at the damage and repeats the error. A file that ends inside a chunk (a crashed
 * writer's tail) gives its complete chunks' records first, then KEEL_ECORRUPT
 * ("truncated") under the error strategy or a skipped region and the end under recover. */
KEEL_API keel_status keel_rec_reader_next(keel_rec_reader *r, keel_rec_record *out);

/* Records left in the current chunk: while non-zero, _next does no I/O. */
KEEL_API uint64_t keel_rec_reader_buffered(const keel_rec_reader *r);

/* The number of records in the file, by walking chunk headers (built once, then cached);
 * under the error strategy a file with an ArrayRecord footer that holds together (see
 * keel_rec_reader_chunks) is indexed from the footer instead, without the walk, and a
 * damaged chunk header is then found when the chunk is read (KEEL_ECORRUPT).
 * Under the recover strategy damaged headers are skipped; chunk data is never read, so a
 * chunk with damaged data still counts here. */
KEEL_API keel_status keel_rec_reader_len(keel_rec_reader *r, uint64_t *count_out);

/* Move so that the next _next returns the record with index `index` (== len: the end).
 * KEEL_ERANGE past the end. */
KEEL_API keel_status keel_rec_reader_seek(keel_rec_reader *r, uint64_t index);

/* Move to numeric record position `pos` (Riegeli's seek_numeric): the first record whose
 * position is >= pos. */
KEEL_API keel_status keel_rec_reader_seek_pos(keel_rec_reader *r, uint64_t pos);

/* The index of the record the next _next returns. */
KEEL_API uint64_t keel_rec_reader_tell(const keel_rec_reader *r);

/* Record `index` without moving the sequential position (same lifetime rule as _next).
 * KEEL_ERANGE past the end. */
KEEL_API keel_status keel_rec_reader_get(keel_rec_reader *r, uint64_t index,
                                         keel_rec_record *out);

/* What the recover strategy skipped so far: regions and their total size in bytes. The
 * last region's [begin, end) and reason are given when the pointers are non-NULL. */
typedef struct keel_rec_skipped {
    uint64_t begin, end;
    char reason[160];
} keel_rec_skipped;
KEEL_API uint64_t keel_rec_reader_skipped(const keel_rec_reader *r, uint64_t *bytes_out);
/* Region `i` (0 <= i < count) of the skipped regions; KEEL_ERANGE otherwise. */
KEEL_API keel_status keel_rec_reader_skipped_region(const keel_rec_reader *r, uint64_t i,
                                                    keel_rec_skipped *out);

/* Close the file and free the reader. Chunks retained by the caller stay valid. */
KEEL_API void keel_rec_reader_close(keel_rec_reader *r);

/* Count the records of `path` by walking chunk headers only (no chunk data is read). */
KEEL_API keel_status keel_rec_count(const char *path, const keel_rec_reader_options *opts,
                                    uint64_t *count_out);

/* Per-file statistics for `keel records FILE`. With `verify` every chunk's data is read,
 * its hash checked and decoded (corrupt chunks counted, not fatal). */
typedef struct keel_rec_stat {
    uint64_t file_size;
    uint64_t records;
    uint64_t record_bytes;          /* decoded sizes of record chunks */
    uint64_t chunks;                /* all chunks, signature included */
    uint64_t record_chunks;         /* 'r' chunks holding records (not ArrayRecord footer) */
    uint64_t padding_chunks, metadata_chunks, transposed_chunks, other_chunks;
    uint64_t uncompressed_chunks, zstd_chunks, brotli_chunks, snappy_chunks;
    uint64_t chunk_data_bytes;      /* on-disk data bytes of record chunks */
    uint64_t skipped_bytes, skipped_regions;
    uint64_t corrupt_chunks;        /* verify: chunks whose data failed */
    int array_record;               /* an ArrayRecord footer was found */
    uint64_t array_record_group_size;
} keel_rec_stat;
KEEL_API keel_status keel_rec_stat_file(const char *path, const keel_rec_reader_options *opts,
                                        int verify, keel_rec_stat *out);

/* One chunk of records, for planning parallel reads (record ranges that start and end at
 * chunk boundaries decode each chunk once). */
typedef struct keel_rec_chunk_info {
    uint64_t offset;            /* file offset of the chunk (its numeric position base) */
    uint64_t first_index;       /* index of its first record in the file */
    uint64_t num_records;       /* records in it (> 0) */
    uint64_t decoded_size;      /* bytes of its records, uncompressed (as its header or the
                                 * ArrayRecord footer says) */
} keel_rec_chunk_info;

/* The chunks that hold records, in file order. With an ArrayRecord footer that holds
 * together (offsets increasing inside the data, counts adding up to the footer's total)
 * the list comes from the footer alone: one read of the footer chunk, none of the data.
 * Otherwise chunk headers are walked as for keel_rec_reader_len (damage handled per the
 * reader's strategy). Writes the first `cap` entries to `out` (NULL when cap is 0) and the
 * number of chunks to *count_out: call with cap 0 to size the array. *from_footer_out (may
 * be NULL) is set to 1 when the footer was used. Does not move the reader. */
KEEL_API keel_status keel_rec_reader_chunks(keel_rec_reader *r, keel_rec_chunk_info *out,
                                            size_t cap, size_t *count_out,
                                            int *from_footer_out);

/* ---------------------------------------------------------------------------------------
 * Sharded, multi-threaded writing and reading (Disky's MultiThreadedWriter/Reader)
 */

typedef struct keel_rec_mtwriter keel_rec_mtwriter;

typedef struct keel_rec_mtwriter_options {
    const char *dir;                    /* created if missing */
    const char *prefix;                 /* shard files are "{dir}/{prefix}_{N}"; NULL = "shard" */
    uint32_t num_shards;                /* shards written at once; 0 = 2 */
    uint32_t worker_threads;            /* 0 = the number of CPUs; at most 1024 */
    uint64_t max_bytes_per_writer;      /* record bytes per shard before it is closed;
                                         * 0 = unlimited */
    uint64_t task_queue_capacity;       /* records accepted but not yet written before
                                         * _write blocks (back-pressure); 0 = 2000 */
    int auto_sharding;                  /* a full shard is replaced by a new file; without it
                                         * the pool shrinks and, once empty, writes fail */
    int append;                         /* keep existing {prefix}_N files: new shards take the
                                         * next free numbers (Disky's "append"); otherwise
                                         * numbering starts at 0 and existing files are
                                         * truncated */
    keel_rec_writer_options writer;     /* compression etc.; append/array_record ignored */
} keel_rec_mtwriter_options;

/* Create the first num_shards shard files (signatures written) and start the workers. */
KEEL_API keel_status keel_rec_mtwriter_open(const keel_rec_mtwriter_options *opts,
                                            keel_rec_mtwriter **out);
/* Queue a copy of the record for a shard (round robin over the open shards). Blocks while
 * task_queue_capacity records are pending. Errors met by the workers are returned by the
 * next call. Safe to call from several threads. */
KEEL_API keel_status keel_rec_mtwriter_write(keel_rec_mtwriter *w, const void *data, size_t len);
/* Wait until every queued record is written, then end each shard's chunk. */
KEEL_API keel_status keel_rec_mtwriter_flush(keel_rec_mtwriter *w);
/* Records accepted and not yet written. */
KEEL_API uint64_t keel_rec_mtwriter_pending(keel_rec_mtwriter *w);
/* Shard writers open and not busy right now. */
KEEL_API uint64_t keel_rec_mtwriter_available(keel_rec_mtwriter *w);
/* Flush, stop the workers, close every shard and free the writer (even on error). */
KEEL_API keel_status keel_rec_mtwriter_close(keel_rec_mtwriter *w);

typedef struct keel_rec_mtreader keel_rec_mtreader;

typedef struct keel_rec_mtreader_options {
    const char *const *paths;           /* the shard files, read in this order */
    size_t npaths;
    uint32_t num_shards;                /* shards open at once; 0 = 2 */
    uint32_t worker_threads;            /* 0 = 1; at most num_shards are useful */
    uint64_t queue_bytes;               /* record bytes buffered before workers wait; a
                                         * worker always queues at least one chunk; 0 = 8 MiB */
    keel_rec_corruption corruption;
} keel_rec_mtreader_options;

KEEL_API keel_status keel_rec_mtreader_open(const keel_rec_mtreader_options *opts,
                                            keel_rec_mtreader **out);
/* The next record of any shard (every record of every shard exactly once, in no defined
 * order across shards). `wait` = 0: KEEL_EBUSY instead of waiting when none is queued
 * yet. KEEL_NOTFOUND when every shard is done. out->chunk is borrowed as for
 * keel_rec_reader_next: valid until the next call unless retained. A shard's error is
 * returned once, at its place in the stream; the other shards keep going. */
KEEL_API keel_status keel_rec_mtreader_next(keel_rec_mtreader *r, int wait,
                                            keel_rec_record *out);
KEEL_API void keel_rec_mtreader_queued(keel_rec_mtreader *r, uint64_t *records_out,
                                       uint64_t *bytes_out);
/* Stop the workers and free the reader. Retained chunks stay valid. */
KEEL_API void keel_rec_mtreader_close(keel_rec_mtreader *r);

/* HighwayHash-64 with Riegeli's key ("Riegeli/records\n" twice): the hash of every header
 * and chunk data. */
KEEL_API uint64_t keel_rec_hash(const void *data, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* KEEL_RECORDS_H */
