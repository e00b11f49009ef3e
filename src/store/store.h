/*
 * store.h: the shapes shared by the files of src/store/ (never installed).
 *
 * The DataStore face, one file per concern: format.c (header and trailer codecs, placement
 * arithmetic), index.c (the open-addressing key index and its sorted snapshots), map.c
 * (read-only mappings that never move), files.c (creating store files, sweeping stale
 * ones), handle.c (the lock guards and key checks), open.c (open, recovery, close,
 * refresh), info.c (stat, sync, verify), write.c (appends), read.c (lookups), stream.c
 * (staged streamed values), iter.c (iterators) and compact.c. They stand on base/ (errors,
 * system calls, hashing); the faces above (records, db) may use this header, never the
 * other way round. Calls between these files go one way: compaction and open use files.c
 * and index.c; neither calls the other.
 *
 * Invariants every file relies on:
 *   - s->end is the committed end of the data; every byte below it belongs to a complete,
 *     structurally valid entry chain and never changes while the store is open.
 *   - Bytes at or past s->end are private to the writer holding s->write_lock.
 *   - The index and s->map/s->end are published together under s->index_lock (write);
 *     readers hold it (read) while they probe and form a view.
 */
#ifndef KEEL_STORE_H
#define KEEL_STORE_H

#include "base/base.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define KEEL_HEADER_SIZE 64u
#define KEEL_TRAILER_SIZE 40u
#define KEEL_TRAILER_MAGIC 0x546Bu
#define KEEL_FLAG_TOMBSTONE 0x1u
#define KEEL_FLAG_GROUP_MORE 0x2u
#define KEEL_FLAGS_KNOWN (KEEL_FLAG_TOMBSTONE | KEEL_FLAG_GROUP_MORE)
#define KEEL_MAX_ALIGN_LOG2 12u

/* ---- format.c ------------------------------------------------------------------------ */

/* Header byte 13: what the file holds. A store opened as the wrong kind is refused with
 * KEEL_EFORMAT and left untouched. */
#define KEEL_FILE_KIND_STORE 0u   /* a DataStore (keel.h) */
#define KEEL_FILE_KIND_DB 1u      /* a Database (keel_db.h) */
#define KEEL_FILE_KIND_MAX 1u

typedef struct keel_header {
    uint16_t major, minor;
    uint8_t align_log2;
    uint8_t kind;       /* KEEL_FILE_KIND_* */
    uint32_t file_tag;
    uint64_t created;
} keel_header;

typedef struct keel_trailer {
    uint64_t key_hash;
    uint64_t prev_end;
    uint64_t value_len;
    uint32_t key_len;
    uint16_t flags;
    uint16_t magic;
    uint32_t file_tag;
    uint32_t crc;
} keel_trailer;

/* Where an entry's parts lie, computed from prev_end and the lengths. */
typedef struct keel_place {
    uint64_t value_start, key_start, trailer_start, end;
} keel_place;

void keel__header_encode(const keel_header *h, uint8_t out[KEEL_HEADER_SIZE]);
/* KEEL_EFORMAT (bad magic), KEEL_ECORRUPT (bad CRC or field), KEEL_EVERSION. */
keel_status keel__header_decode(const uint8_t in[KEEL_HEADER_SIZE], keel_header *h);

void keel__trailer_decode(const uint8_t in[KEEL_TRAILER_SIZE], keel_trailer *t);
/* Encode a trailer for (value, key) and compute its CRC; t->crc is set. */
void keel__trailer_encode(keel_trailer *t, const void *value, const void *key,
                          uint8_t out[KEEL_TRAILER_SIZE]);
/* CRC of an entry's value, key and encoded trailer bytes 0..36. */
uint32_t keel__entry_crc(const void *value, uint64_t value_len, const void *key,
                         uint32_t key_len, const uint8_t trailer[KEEL_TRAILER_SIZE]);

static inline uint64_t keel__round_up(uint64_t x, uint64_t a) { return (x + a - 1) & ~(a - 1); }

/* Placement of an entry after prev_end. Returns false on arithmetic overflow. */
bool keel__place(uint64_t prev_end, uint64_t value_len, uint32_t key_len, uint32_t align,
                 keel_place *out);

/* Structural check of a trailer assumed to end at `end` (file offset). */
bool keel__trailer_valid(const keel_trailer *t, uint64_t end, uint32_t align, uint32_t file_tag,
                         keel_place *place_out);

/* ---- index.c ------------------------------------------------------------------------- */

/* The index is two parallel arrays. The hot one, probed by every lookup, has one 8-byte
 * slot per position: an 18-bit tag (the top bits of the key's hash), a dead bit, and the
 * offset of the entry's trailer divided by 8 (45 bits: files up to 256 TiB). 0 is an empty
 * slot (no trailer starts below the header). The trailer gives everything else: the value's
 * place and length and the key, which sits right before it. The cold array holds each
 * slot's full hash, read only when the table is resized. At a million keys the hot array is
 * 16 MiB, so probes mostly hit the CPU cache instead of memory.
 * A dead slot is a deleted key: during the backward build it hides older versions; at run
 * time it is a probe tombstone, reused when the key returns and dropped at the next resize. */
#define KEEL_SLOT_OFF_BITS 45
#define KEEL_SLOT_OFF_MASK ((UINT64_C(1) << KEEL_SLOT_OFF_BITS) - 1)
#define KEEL_SLOT_DEAD_BIT (UINT64_C(1) << KEEL_SLOT_OFF_BITS)
#define KEEL_SLOT_TAG_SHIFT 46

typedef struct keel_index {
    uint64_t *slots;    /* hot: tag | dead | trailer offset / 8 */
    uint64_t *hashes;   /* cold: the full hash of each occupied slot */
    uint64_t mask;      /* capacity - 1; capacity is a power of two */
    uint64_t used;      /* occupied slots, dead ones included */
    uint64_t live;      /* slots that are not dead */
    size_t mapped;      /* bytes mmap'd for each array (0: they came from calloc) */
} keel_index;

/* A slot decoded through its trailer. */
typedef struct keel_hit {
    uint64_t *slot;     /* NULL: not found */
    uint64_t trailer_start;
    uint64_t value_start, value_len, key_start;
    uint32_t key_len;
    bool dead;
} keel_hit;

keel_status keel__index_init(keel_index *ix, uint64_t expected);
void keel__index_free(keel_index *ix);
/* Hash used for the slot (with the test mask applied, never 0). */
static inline uint64_t keel__index_hash(uint64_t h, uint64_t mask) {
    if (mask) h &= mask;
    return h ? h : 1;
}

/* ---- map.c --------------------------------------------------------------------------- */

/* A read-only shared mapping of the file, reserved larger than the file so appends show
 * up in it without a remap. Retired maps are kept until close so views stay valid. */
typedef struct keel_map {
    uint8_t *base;
    uint64_t reserved;  /* bytes of address space mapped */
    struct keel_map *next_retired;
} keel_map;

/* ---- the store ------------------------------------------------------------------------ */

/* A face built on the store (the Database) keeps structures derived from the index. The
 * store tells it, under s->index_lock held for writing, of every change it publishes:
 * on_publish after an append (items[i].trailer_out and .replaced_live are set), on_reload
 * after the whole index was replaced (compaction, refresh of a replaced file). */
struct keel_append_item;
typedef struct keel_store_hook {
    void (*on_publish)(void *ctx, keel_store *s, const struct keel_append_item *items, size_t n);
    void (*on_reload)(void *ctx, keel_store *s);
    void *ctx;
} keel_store_hook;

struct keel_store {
    char *path;
    int fd;
    bool read_only;
    bool closed;
    keel_sync_mode sync;
    uint32_t align;
    uint32_t file_tag;
    uint16_t format_major, format_minor;
    uint64_t test_hash_mask;
    uint64_t inode, device;         /* of the open file, for refresh */
    uint8_t kind;                   /* KEEL_FILE_KIND_* of the file */
    keel_store_hook hook;           /* the face above, told of every publish (db/) */

    pthread_mutex_t write_lock;     /* serializes writers */
    pthread_rwlock_t index_lock;    /* guards index, map, end, counters */
    atomic_uintptr_t writer_thread; /* owner of write_lock, to report re-entry (EBUSY) */

    keel_index index;
    keel_map *map;                  /* current mapping; covers [0, end) */
    keel_map *retired;              /* older mappings, unmapped at close */
    uint64_t end;                   /* committed end of data */
    uint64_t entries;               /* entries in the file (all kinds) */
    uint64_t live_bytes;            /* sum of live entries' sizes, padding included */

    uint8_t *wbuf;                  /* writer's staging buffer for small appends */
    size_t wcap;

    /* What open (or repair) recovered; set once by open, read by keel_recovery_info. */
    bool repairing;                 /* keel_repair: cut a broken chain instead of failing */
    keel_recovery_kind rec_kind;
    uint64_t rec_valid_end, rec_cut_bytes, rec_damaged;
    bool rec_cut;
    char *rec_saved;                /* malloc'd, or NULL */
    char *rec_detail;               /* malloc'd, or NULL */
    uint64_t fork_gen;              /* base/fork.c's generation at open: a writable handle
                                     * used in a forked child refuses (handle.c) */
    long owner_pid;                 /* the process that opened it, for that message */
};

/* Lock helpers (handle.c). keel__writer_enter fails with KEEL_ECLOSED/EREADONLY/EBUSY;
 * both fail with KEEL_ELOCKED for a writable handle used in a child forked after it was
 * opened (the writer lock and the view of the file are the parent's). */
bool keel__forked_writer(const keel_store *s);
uintptr_t keel__self_id(void);
keel_status keel__writer_enter(keel_store *s);
void keel__writer_leave(keel_store *s);
keel_status keel__reader_enter(keel_store *s);
void keel__reader_leave(keel_store *s);
keel_status keel__check_key(const void *key, size_t key_len);

/* index operations (index.c); callers hold the right lock. */
/* Find the slot of `key` (live or dead). Returns false (hit->slot NULL) if none. */
bool keel__index_find(const keel_store *s, uint64_t hash, const void *key, size_t key_len,
                      keel_hit *hit);
/* Insert or replace `key` -> the entry whose trailer starts at `trailer_start` (dead for a
 * tombstone). Grows the table when needed. *old_out describes the replaced slot
 * (old_out->slot NULL if the key is new). */
keel_status keel__index_set(keel_store *s, uint64_t hash, const void *key, size_t key_len,
                            uint64_t trailer_start, bool dead, keel_hit *old_out);
/* Index build: insert only if `key` has no slot yet (older entries never replace newer). */
keel_status keel__index_add_if_absent(keel_store *s, uint64_t hash, const void *key,
                                      size_t key_len, uint64_t trailer_start, bool dead,
                                      bool *added_out);
/* Insert a key known to be absent (compaction's fresh index): no key comparison. */
void keel__index_insert_unique(keel_index *ix, uint64_t h, uint64_t trailer_start);
/* Hint that `hash` is about to be inserted or looked up. */
void keel__index_prefetch(const keel_store *s, uint64_t hash);
/* For batched lookups (read lock held for the second): start the miss on the key's first
 * slot; start the misses on the entry of its first tag match. */
void keel__index_prefetch_read(const keel_store *s, uint64_t hash);
void keel__index_prefetch_entry(const keel_store *s, uint64_t hash, size_t key_len);
/* Drop dead slots (after a build). */
keel_status keel__index_purge_dead(keel_store *s);
/* Bytes the entry whose trailer starts at `trailer_start` occupies, from its prev_end. */
uint64_t keel__entry_span(const keel_store *s, uint64_t trailer_start);
/* Decode a non-empty slot value through its trailer. */
void keel__slot_decode(const keel_store *s, uint64_t v, keel_hit *hit);

/* map.c */
/* Map `fd` with room for at least `need` bytes. */
keel_status keel__map_new(int fd, uint64_t need, keel_map **map_out);
/* Keep `m` until close (views into it stay valid). Under the index write lock. */
void keel__map_retire(keel_store *s, keel_map *m);
void keel__map_release_all(keel_store *s);
static inline const uint8_t *keel__at(const keel_store *s, uint64_t off) { return s->map->base + off; }

/* write.c: append prepared entries as one group; used by put, batch, delete, rename,
 * stream commit. */
typedef struct keel_append_item {
    const void *key;
    uint32_t key_len;
    const void *value;      /* NULL when the value comes from `src_fd` (streams) or `parts` */
    const keel_view *parts; /* non-NULL: the value is these buffers, concatenated */
    size_t nparts;
    uint64_t value_len;
    uint16_t flags;         /* KEEL_FLAG_TOMBSTONE or 0 */
    int src_fd;             /* >= 0: copy value_len bytes from src_fd at 0 */
    uint32_t src_crc;       /* with src_fd or crc_known: CRC32C of the value */
    uint64_t hash;
    bool crc_known;         /* src_crc is already computed (streams) */
    /* Set by keel__append_group when it publishes: */
    uint64_t trailer_out;   /* where the entry's trailer starts */
    bool replaced_live;     /* the key had a live entry before this one */
    uint64_t replaced_trailer; /* ... whose trailer starts here (its bytes stay in the file) */
} keel_append_item;

keel_status keel__append_group(keel_store *s, keel_append_item *items, size_t n);

/* open.c: walk the chain back from `end` to `stop`, calling `fn` for each entry newest
 * first. Used by open, refresh and verify. */
typedef keel_status (*keel_walk_fn)(keel_store *s, const keel_trailer *t, const keel_place *p,
                                    void *ctx);
keel_status keel__walk(keel_store *s, const uint8_t *base, uint64_t end, uint64_t stop,
                       uint32_t align, uint32_t file_tag, keel_walk_fn fn, void *ctx);

/* index.c: the live entries' trailer offsets in file order, copied from the index. Caller
 * holds a lock (or is the writer). */
keel_status keel__snapshot_trailers(const keel_store *s, uint64_t **out, size_t *n_out);
typedef struct keel_snap_entry {
    uint64_t voff;
    uint64_t vlen;
    uint32_t klen;
} keel_snap_entry;
/* Where the committed entry whose trailer starts at `toff` keeps its value and key. */
static inline void keel__entry_at(const uint8_t *base, uint32_t align, uint64_t toff,
                                  keel_snap_entry *e) {
    const uint8_t *tr = base + toff;
    uint64_t prev_end = keel__ld64(tr + 8);
    e->vlen = keel__ld64(tr + 16);
    e->klen = keel__ld32(tr + 24);
    e->voff = e->vlen ? keel__round_up(prev_end, align) : prev_end;
}

/* Whether the committed entry whose trailer starts at `toff` still matches its CRC32C. The
 * Database checks every item it hands out (a get, a query or scan, a search hit), so that a
 * bit flipped in the file after open is an error, never an answer; the DataStore's reads
 * stay zero-copy without it (keel_entry_verify, keel_verify). */
static inline bool keel__entry_intact(const uint8_t *base, uint32_t align, uint64_t toff) {
    keel_snap_entry e;
    keel__entry_at(base, align, toff, &e);
    const uint8_t *tr = base + toff;
    /* The key follows the value directly (FORMAT.md), so value and key are one run:
     * two CRC calls instead of keel__entry_crc's three (a get is ~10,000 instructions,
     * each call ~60 of them). */
    uint32_t c = keel_crc32c(0, base + e.voff, (size_t)e.vlen + e.klen);
    return keel_crc32c(c, tr, 36) == keel__ld32(tr + 36);
}

/* read.c: KEEL_ECORRUPT for the entry whose value starts at `value_start` and fails its
 * CRC32C, in the one message every damaged-item error of the Database gives. */
keel_status keel__entry_damaged(uint64_t value_start);
/* read.c: keel_get with the entry's CRC32C checked (keel__entry_intact): KEEL_ECORRUPT
 * (keel__entry_damaged) when it does not match. */
keel_status keel__get_intact(keel_store *s, const void *key, size_t key_len, keel_view *value_out);

/* open.c: keel_open for a file of the given KEEL_FILE_KIND_*. */
keel_status keel__open_kind(const char *path, const keel_options *opts, uint8_t kind,
                            keel_store **store_out);

/* files.c: creating store files, shared by open and compaction. */
/* A fresh 64-byte header (random file tag) for a file of `align`. */
keel_status keel__new_header_bytes(uint32_t align, uint8_t kind, uint8_t out[KEEL_HEADER_SIZE],
                                   uint32_t *tag_out);
/* Write a header into a fresh uniquely named file "<path><suffix>XXXXXX" and fsync it. */
keel_status keel__write_new_file(const char *path, const char *suffix, uint32_t align,
                                 uint8_t kind, char **tmp_out, int *fd_out, uint32_t *tag_out);
/* Create `path` atomically with a complete header. KEEL_EEXIST if it appeared meanwhile. */
keel_status keel__create_file(const char *path, uint32_t align, uint8_t kind);
/* Remove "<path>.compact-*" and "<path>.new-*" files left by a crash. */
void keel__remove_stale_files(const char *path);

#endif /* KEEL_STORE_H */
