/*
 * keel.h: the whole public C API of keel, an embedded single-file key/value store.
 *
 * A keel store is one file holding a header and a chain of append-only entries. Each
 * entry carries its value (starting on an alignment boundary, 64 bytes by default, so a
 * value can be read in place as a typed array), its key bytes, and a trailer that links
 * back to the previous entry and holds a CRC32C over all of it. An in-memory XXH3 index
 * maps keys to their newest entry; values are read zero-copy through a read-only mapping
 * of the file. docs/FORMAT.md describes the bytes.
 *
 * Conventions
 *   - Every function returns a keel_status. KEEL_OK (0) is success, KEEL_NOTFOUND (1) is an
 *     outcome, not a failure; negative values are errors. After an error, keel_errmsg()
 *     returns a detail line for the calling thread ("entry at offset 81920: checksum
 *     mismatch"). Status values never change once released.
 *   - The handle comes first, inputs next, outputs last (named *_out, written only on
 *     success). Inputs are borrowed for the duration of the call.
 *   - A caller's mistake (NULL handle, NULL pointer with a non-zero length, a closed
 *     store, a key longer than KEEL_MAX_KEY) returns KEEL_EINVAL, KEEL_ECLOSED or
 *     KEEL_EKEYSIZE; the library never aborts on bad input.
 *
 * Threads
 *   One keel_store may be shared by any number of threads. Writers (put, delete, batch,
 *   stream commit, rename, compaction, sync) are serialized by one mutex. Readers take a
 *   read lock on the index for the duration of a lookup only; they never wait for a
 *   writer's I/O (file writes and fsync happen before the writer publishes) and they see
 *   every write whose call has returned. keel_close must not race with other calls on the
 *   same handle.
 *
 * Lifetimes
 *   Committed bytes never move or change. A keel_view returned by a get or an iterator
 *   points into a mapping of the file and stays valid until keel_close(), even after the
 *   file grows or is compacted: retired mappings are kept until close.
 *
 * Processes
 *   A writable open takes an exclusive advisory lock (flock) on the file; a second
 *   writable open, in this process or another, fails with KEEL_ELOCKED. Once locked, it
 *   checks that the path still names the locked file (another writer may have compacted,
 *   renaming a new file over the path, and closed in between) and starts over if not.
 *   Temporary files beside the store ("<path>.new-*", "<path>.compact-*") are locked by
 *   their creator while in use; a writable open removes only those nobody holds (left by
 *   a crash). Two processes creating the same store: one creates it, the other opens it
 *   or gets KEEL_ELOCKED. Read-only opens take no lock and may call keel_refresh() to see
 *   entries appended since.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef KEEL_H
#define KEEL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(KEEL_BUILDING) && defined(__GNUC__)
#define KEEL_API __attribute__((visibility("default")))
#else
#define KEEL_API
#endif

#define KEEL_VERSION_STRING "0.1.0"

/* On-disk format written by this library (docs/FORMAT.md). Files of a newer major
 * version are refused with KEEL_EVERSION. */
#define KEEL_FORMAT_MAJOR 1
#define KEEL_FORMAT_MINOR 0

/* Largest key, in bytes. Keys may be empty. */
#define KEEL_MAX_KEY 65535u

typedef enum keel_status {
    KEEL_OK = 0,
    KEEL_NOTFOUND = 1,      /* the key is absent or deleted (an outcome, not an error) */
    KEEL_EINVAL = -1,       /* bad argument: NULL handle or pointer, bad option, same key */
    KEEL_ENOMEM = -2,       /* out of memory or address space */
    KEEL_EIO = -3,          /* an I/O call failed (the detail names the call and errno) */
    KEEL_ENOSPC = -4,       /* no space left on the device */
    KEEL_ENOENT = -5,       /* the file does not exist (KEEL_OPEN_EXISTING, KEEL_OPEN_READONLY) */
    KEEL_EEXIST = -6,       /* the file exists (KEEL_OPEN_NEW) */
    KEEL_EFORMAT = -7,      /* the file is not a keel store; it was left untouched */
    KEEL_EVERSION = -8,     /* the file is a keel store of a newer major format version */
    KEEL_ECORRUPT = -9,     /* the file is damaged beyond a torn tail; see the detail */
    KEEL_ELOCKED = -10,     /* another writer holds the file's lock */
    KEEL_ECLOSED = -11,     /* the store was closed */
    KEEL_EREADONLY = -12,   /* a write on a store opened read-only */
    KEEL_EKEYSIZE = -13,    /* key longer than KEEL_MAX_KEY */
    KEEL_ERANGE = -14,      /* a caller's buffer is too small, or an offset is past the end */
    KEEL_EABORTED = -15,    /* a stream's reader callback reported failure */
    KEEL_EBUSY = -16,       /* the operation conflicts with one in progress on this thread */
    KEEL_EACCES = -17,      /* permission denied by the operating system */
    /* The Database face (keel_db.h) */
    KEEL_ENOTABLE = -32,    /* no table of that name */
    KEEL_ETABLEEXISTS = -33,/* a table of that name exists */
    KEEL_ESYNTAX = -34,     /* a malformed expression; the detail names the position */
    KEEL_EVALIDATION = -35, /* a request DynamoDB would refuse (types, keys, sizes, numbers) */
    KEEL_ECONDITION = -36,  /* a write's condition was false: "The conditional request failed" */
    KEEL_ECANCELED = -37,   /* a transaction was canceled; the reasons say which action failed */
    KEEL_EDUPLICATE = -38   /* PartiQL INSERT of an item that exists (DynamoDB's DuplicateItem) */
} keel_status;

/* Static text for a status ("not found", "not a keel store", ...). Never NULL. */
KEEL_API const char *keel_strerror(keel_status status);

/* This thread's detail line for the last error returned by a keel_ call. The text stays
 * valid until the next keel_ call on this thread. Never NULL ("" when there is none). */
KEEL_API const char *keel_errmsg(void);

/* The library's version, KEEL_VERSION_STRING at build time. */
KEEL_API const char *keel_version(void);

/* XXH3-64 (seed 0) of `key`: the key hash stored in every entry. */
KEEL_API uint64_t keel_hash(const void *key, size_t key_len);

/* CRC32C (Castagnoli, as in iSCSI and ext4) of `data`, continuing from `crc` (0 to start). */
KEEL_API uint32_t keel_crc32c(uint32_t crc, const void *data, size_t len);

/* ---------------------------------------------------------------------------------------
 * Opening and closing
 */

typedef struct keel_store keel_store;

/* Borrowed bytes. For views returned by the library, `data` points into the mapping and
 * stays valid until the store is closed. An empty value has len 0 and a non-NULL data. */
typedef struct keel_view {
    const uint8_t *data;
    size_t len;
} keel_view;

typedef enum keel_open_mode {
    KEEL_OPEN_CREATE = 0,   /* open read-write, create the file if it does not exist */
    KEEL_OPEN_EXISTING = 1, /* open read-write; KEEL_ENOENT if the file does not exist */
    KEEL_OPEN_READONLY = 2, /* open read-only; never modifies the file, takes no lock */
    KEEL_OPEN_NEW = 3       /* create; KEEL_EEXIST if the file exists */
} keel_open_mode;

typedef enum keel_sync_mode {
    KEEL_SYNC_NONE = 0,     /* writes are handed to the OS; a crash of the machine may lose
                             * the last writes (never earlier ones, never a torn entry) */
    KEEL_SYNC_DATA = 1,     /* fdatasync before each write call returns; a batch costs one */
    KEEL_SYNC_FULL = 2      /* fsync (data and metadata) before each write call returns */
} keel_sync_mode;

/* Options for keel_open. Fields are only ever appended. Pass NULL for the defaults. */
typedef struct keel_options {
    keel_open_mode mode;    /* default KEEL_OPEN_CREATE */
    keel_sync_mode sync;    /* default KEEL_SYNC_NONE */
    uint32_t alignment;     /* value alignment in bytes for a new file: a power of two from
                             * 1 to 4096; 0 means 64. An existing file keeps its own. */
    uint64_t test_hash_mask;/* testing only: when non-zero, the in-memory index uses
                             * (hash & mask), forcing collisions between distinct keys.
                             * The file is unaffected. */
} keel_options;

#define KEEL_OPTIONS_INIT { KEEL_OPEN_CREATE, KEEL_SYNC_NONE, 64, 0 }

/* Open or create the store at `path`.
 * On success *store_out owns the store until keel_free(). Opening recovers from a crash:
 * it finds the last entry whose chain and checksum are intact and, unless read-only,
 * saves the bytes after it in a side file and cuts them (fsyncing the cut); see
 * keel_recovery_info(). An incomplete or damaged last atomic batch is cut whole.
 * An existing empty (0-byte) file is initialised as a new store in the writable modes.
 * KEEL_EFORMAT: not a keel store (left byte-for-byte untouched). KEEL_EVERSION: newer
 * major format. KEEL_ECORRUPT: damage before the last append (left untouched; keel_verify
 * and the detail say where; keel_repair cuts it). KEEL_ELOCKED: another writer has it
 * open. */
KEEL_API keel_status keel_open(const char *path, const keel_options *opts, keel_store **store_out);

/* Close the file and release the mappings; every view from this store becomes invalid.
 * The handle stays allocated in a closed state: later calls return KEEL_ECLOSED. Closing
 * twice is KEEL_OK. Release the handle with keel_free(). */
KEEL_API keel_status keel_close(keel_store *s);

/* Close (if open) and free the handle. NULL is a no-op. */
KEEL_API void keel_free(keel_store *s);

/* ---------------------------------------------------------------------------------------
 * Writing. Every write appends; nothing written is changed in place. With
 * KEEL_SYNC_DATA/FULL the data is on stable storage when the call returns. On any error
 * the store is unchanged: a partly written entry is cut off the file before returning.
 */

/* Store `value` under `key`, replacing any previous value. Any value is legal, including
 * an empty one and a single 0x00 byte. */
KEEL_API keel_status keel_put(keel_store *s, const void *key, size_t key_len,
                              const void *value, size_t value_len);

/* Store the concatenation of `parts` (n >= 0 buffers) under `key` as one value, written
 * with one gathered write: nothing is copied into a staging buffer first, which makes this
 * the cheapest way to store a value that arrives in pieces and fits in memory (a header
 * and a body, or a stream's chunks). The buffers are only read during the call. A part
 * with len 0 may have data NULL. Same atomicity and durability as keel_put. */
KEEL_API keel_status keel_putv(keel_store *s, const void *key, size_t key_len,
                               const keel_view *parts, size_t nparts);

typedef struct keel_kv {
    const void *key;
    size_t key_len;
    const void *value;
    size_t value_len;
} keel_kv;

/* Store `n` pairs atomically: one write, one fsync (with a sync mode); after a crash either
 * all of them or none are present, and concurrent readers see all or none. A key repeated
 * in the batch ends with its last value. Every item is validated before anything is
 * written. n == 0 is KEEL_OK. */
KEEL_API keel_status keel_put_batch(keel_store *s, const keel_kv *items, size_t n);

/* Delete `key` by appending a tombstone. KEEL_NOTFOUND (nothing written) if absent. */
KEEL_API keel_status keel_delete(keel_store *s, const void *key, size_t key_len);

/* Delete the present keys among `keys` atomically (one append). Absent keys are skipped;
 * *deleted_out (may be NULL) receives how many were deleted. */
KEEL_API keel_status keel_delete_batch(keel_store *s, const keel_view *keys, size_t n,
                                       size_t *deleted_out);

/* Rename `old_key` to `new_key` as one atomic append (new entry plus tombstone). The value
 * is copied within the file. KEEL_NOTFOUND if old_key is absent; KEEL_EINVAL if the keys
 * are equal. An existing new_key is replaced. */
KEEL_API keel_status keel_rename(keel_store *s, const void *old_key, size_t old_len,
                                 const void *new_key, size_t new_len);

/* Copy the value of `key` in `src` to `dst_key` in `dst` (which may be `src`). */
KEEL_API keel_status keel_copy(keel_store *src, const void *key, size_t key_len,
                               keel_store *dst, const void *dst_key, size_t dst_key_len);

/* Copy, then delete `key` from `src`. Within one store this is keel_rename (atomic).
 * Between two stores the copy is made durable (fdatasync of dst, whatever its sync mode)
 * before the delete, so a crash or a power loss in between leaves the value in both, never
 * in neither. */
KEEL_API keel_status keel_move(keel_store *src, const void *key, size_t key_len,
                               keel_store *dst, const void *dst_key, size_t dst_key_len);

/* ---------------------------------------------------------------------------------------
 * Streamed writes: a value assembled from chunks, committed under a key at the end.
 * The chunks are staged privately (memory, then an unlinked temporary file beside the
 * store), so no store lock is held between calls and other threads keep reading and
 * writing. Nothing reaches the store before keel_stream_commit; an abort or a failed
 * commit leaves no trace in it.
 */

typedef struct keel_stream keel_stream;

KEEL_API keel_status keel_stream_begin(keel_store *s, keel_stream **stream_out);
KEEL_API keel_status keel_stream_write(keel_stream *st, const void *data, size_t len);

/* Append the staged value under `key`. Frees `st` whatever the outcome. */
KEEL_API keel_status keel_stream_commit(keel_stream *st, const void *key, size_t key_len);

/* Discard the staged value and free `st`. NULL is a no-op. */
KEEL_API void keel_stream_abort(keel_stream *st);

/* Reader callback for keel_put_stream: copy up to `cap` bytes into `buf` and return how
 * many (0 at the end of the value), or a negative number to abort the stream. */
typedef long long (*keel_read_fn)(void *ctx, void *buf, size_t cap);

/* Stream a value from `read` into `key`. A negative return from `read` aborts with
 * KEEL_EABORTED and leaves the store unchanged. */
KEEL_API keel_status keel_put_stream(keel_store *s, const void *key, size_t key_len,
                                     keel_read_fn read, void *ctx);

/* ---------------------------------------------------------------------------------------
 * Reading
 */

/* Look `key` up. On KEEL_OK *value_out points into the mapping (zero-copy; valid until
 * close) and its data is aligned to the store's alignment. KEEL_NOTFOUND when absent. */
KEEL_API keel_status keel_get(keel_store *s, const void *key, size_t key_len,
                              keel_view *value_out);

/* Look up `n` keys at once: values_out[i] and status_out[i] (KEEL_OK or KEEL_NOTFOUND, or
 * the key's validation error) for keys[i]. The lookups are interleaved so that their cache
 * misses overlap, which makes a batch of random keys several times faster than one
 * keel_get per key. Views as for keel_get. Returns KEEL_OK, or the first per-key error
 * (with its detail message) after filling every slot; an unusable handle or NULL array
 * fails the whole call. */
KEEL_API keel_status keel_get_many(keel_store *s, const keel_view *keys, size_t n,
                                   keel_view *values_out, keel_status *status_out);

/* Copy the value of `key` into `buf`. *len_out (required) receives the value's full length.
 * KEEL_ERANGE (nothing copied) if cap is smaller than that. */
KEEL_API keel_status keel_get_copy(keel_store *s, const void *key, size_t key_len,
                                   void *buf, size_t cap, size_t *len_out);

/* Copy up to `cap` bytes of the value of `key`, starting at byte `offset` of the value,
 * into `buf`; *n_out receives the count (0 at or past the end). For streaming reads. */
KEEL_API keel_status keel_read_at(keel_store *s, const void *key, size_t key_len,
                                  uint64_t offset, void *buf, size_t cap, size_t *n_out);

/* KEEL_OK if `key` is present, KEEL_NOTFOUND if not. */
KEEL_API keel_status keel_exists(keel_store *s, const void *key, size_t key_len);

/* Everything known about one entry. Views point into the mapping (valid until close). */
typedef struct keel_entry {
    keel_view key;
    keel_view value;
    uint64_t key_hash;      /* XXH3-64 of the key, as stored */
    uint32_t checksum;      /* CRC32C stored in the trailer */
    uint32_t flags;         /* on-disk flags (docs/FORMAT.md) */
    uint64_t value_offset;  /* file offset of the value's first byte */
    uint64_t entry_offset;  /* file offset where the entry begins (before its padding) */
    uint64_t entry_end;     /* file offset one past the entry's trailer */
} keel_entry;

/* Describe the live entry of `key`. KEEL_NOTFOUND when absent. */
KEEL_API keel_status keel_get_entry(keel_store *s, const void *key, size_t key_len,
                                    keel_entry *entry_out);

/* Recompute the checksum of an entry obtained from this store: KEEL_OK when it matches,
 * KEEL_ECORRUPT (with the offset in the detail) when not. */
KEEL_API keel_status keel_entry_verify(keel_store *s, const keel_entry *entry);

/* Number of live keys. */
KEEL_API keel_status keel_count(keel_store *s, uint64_t *count_out);

/* ---------------------------------------------------------------------------------------
 * Iteration over a snapshot of the live entries, in file order.
 * keel_iter_new copies the (offset, length) list of live entries at that moment; later
 * writes do not affect it. keel_iter_at is read-only and may be called from many threads
 * at once on one iterator, so a scan splits across threads by index range
 * (thread t of T takes [t*len/T, (t+1)*len/T)). keel_iter_next is for one thread.
 */

typedef struct keel_iter keel_iter;

KEEL_API keel_status keel_iter_new(keel_store *s, keel_iter **iter_out);
KEEL_API size_t keel_iter_len(const keel_iter *it);
/* Entry `i` (0 <= i < keel_iter_len) of the snapshot. KEEL_ERANGE past the end. */
KEEL_API keel_status keel_iter_at(const keel_iter *it, size_t i, keel_view *key_out,
                                  keel_view *value_out);
/* The next entry; KEEL_NOTFOUND after the last. */
KEEL_API keel_status keel_iter_next(keel_iter *it, keel_view *key_out, keel_view *value_out);
KEEL_API void keel_iter_free(keel_iter *it);

/* ---------------------------------------------------------------------------------------
 * Maintenance
 */

typedef struct keel_stats {
    uint64_t file_size;         /* bytes of committed data (header plus entries) */
    uint64_t entries;           /* entries in the file, including old versions and tombstones */
    uint64_t live_keys;
    uint64_t live_bytes;        /* bytes the live entries occupy, padding included */
    uint64_t reclaimable_bytes; /* estimate of what keel_compact would free */
    uint32_t alignment;
    uint16_t format_major;
    uint16_t format_minor;
    int read_only;
    keel_sync_mode sync;
} keel_stats;

KEEL_API keel_status keel_stat(keel_store *s, keel_stats *stats_out);

/* Committed size of the file in bytes. */
KEEL_API keel_status keel_file_size(keel_store *s, uint64_t *size_out);

/* Flush every write to stable storage (fdatasync), whatever the sync mode. */
KEEL_API keel_status keel_sync(keel_store *s);

/* Progress callback for long operations: `done` of `total` units (bytes) so far. */
typedef void (*keel_progress_fn)(void *ctx, uint64_t done, uint64_t total);

/* Rewrite the store with only the live entries, in file order, values byte-identical and
 * aligned. Crash-safe: a new temporary file (unique name) is written and fsynced, renamed
 * over the store, and the directory fsynced. The handle then works on the new file; views
 * obtained before stay valid until close. Writers wait; readers do not. `progress` may be
 * NULL. */
KEEL_API keel_status keel_compact(keel_store *s, keel_progress_fn progress, void *ctx);

typedef struct keel_verify_report {
    uint64_t entries_checked;
    uint64_t bad_entries;
    uint64_t first_bad_offset;  /* entry end offset of the newest bad entry, 0 if none */
} keel_verify_report;

/* Read every entry, checking its checksum, its key hash and the chain. KEEL_OK when all
 * are intact, KEEL_ECORRUPT otherwise (the detail names the first problem). `report`
 * may be NULL. */
KEEL_API keel_status keel_verify(keel_store *s, keel_verify_report *report_out);

/* ---------------------------------------------------------------------------------------
 * Recovery: what keel_open found past the last intact entry, and what it did with it.
 *
 * Opening a store whose writer crashed, or whose machine lost power, may find bytes after
 * the last complete, intact atomic group (docs/FORMAT.md, "Opening and recovery", says
 * exactly which). A writable open never destroys them silently: it first copies them into
 * a new file beside the store, "<path>.recovered-<offset>-XXXXXX" (fsynced, never
 * overwritten, never removed by keel), then cuts them off the store and fsyncs it. If the
 * copy cannot be made (a full disk, say) the open fails and the store is left as it was.
 * A read-only open cuts nothing and reports what a writable open would cut.
 */

/* Defined by headers that have keel_recovery_info and keel_repair (keel 0.2). */
#define KEEL_HAS_RECOVERY_INFO 1

typedef enum keel_recovery_kind {
    KEEL_RECOVERY_NONE = 0,         /* the file ends with an intact, complete group */
    KEEL_RECOVERY_TORN = 1,         /* the bytes past the valid end hold no complete entry:
                                     * a write cut short (a crash or a power loss) */
    KEEL_RECOVERY_GROUP = 2,        /* an atomic batch whose last (commit) entry is missing:
                                     * the batch was never acknowledged */
    KEEL_RECOVERY_CHECKSUM = 3,     /* an entry past the valid end is complete but fails its
                                     * checksum: damage (a bit flip) or a write of several
                                     * pages torn by a power loss; the format cannot tell
                                     * which, so such an entry may have been acknowledged */
    KEEL_RECOVERY_BROKEN_GROUP = 4, /* the last batch's commit entry is intact but an entry
                                     * inside it is not (a page that never reached the disk,
                                     * or damage inside the last append) */
    KEEL_RECOVERY_REPAIRED = 5      /* keel_repair cut a damaged tail that a plain open
                                     * refuses (KEEL_ECORRUPT) */
} keel_recovery_kind;

typedef struct keel_recovery {
    keel_recovery_kind kind;    /* the most serious thing found; NONE when nothing was */
    uint64_t valid_end;         /* where the kept data ends (the file size after a cut) */
    uint64_t cut_bytes;         /* bytes past valid_end (cut, or left by a read-only open) */
    uint64_t damaged_offset;    /* end offset of the entry whose check failed (CHECKSUM,
                                 * BROKEN_GROUP, REPAIRED), else 0 */
    int cut;                    /* 1: the bytes were removed from the store; 0: left */
    const char *saved_path;     /* the file holding the cut bytes, NULL if none */
    const char *detail;         /* one line for people ("" for NONE), naming saved_path */
} keel_recovery;

/* What the open of `s` (or keel_repair) recovered. Strings point into the handle and stay
 * valid until keel_free(); the report does not change after open (refreshes of a
 * read-only store are not recoveries: they stop at the writer's last complete group). */
KEEL_API keel_status keel_recovery_info(keel_store *s, keel_recovery *report_out);

/* Open `path` for writing and cut a damaged tail that keel_open refuses with
 * KEEL_ECORRUPT ("broken chain"): the data is kept up to the newest intact commit point
 * from which the chain of entries reaches the header unbroken and whose last group
 * checks out; everything after it is saved beside the store exactly as keel_open saves
 * a torn tail (see above), then cut. On a store keel_open accepts, it does what keel_open
 * does. `opts` as for keel_open (NULL for defaults), except that the file must exist:
 * KEEL_OPEN_CREATE is taken as KEEL_OPEN_EXISTING (KEEL_ENOENT when absent; nothing is
 * created), and KEEL_OPEN_READONLY and KEEL_OPEN_NEW are KEEL_EINVAL.
 * On KEEL_OK, *store_out is open and keel_recovery_info() says what was cut. Checksums of
 * older entries are not read (keel_verify reports those; cutting cannot mend them).
 * KEEL_ECORRUPT if the header itself is damaged. */
KEEL_API keel_status keel_repair(const char *path, const keel_options *opts,
                                 keel_store **store_out);

/* Read-only stores: pick up entries another process appended (or a compaction it made).
 * On a writable store this is a no-op. */
KEEL_API keel_status keel_refresh(keel_store *s);

#ifdef __cplusplus
}
#endif

#endif /* KEEL_H */
