/*
 * db_internal.h: the database handle, shared by db.c (open, catalog, tables),
 * db_write.c (the write path), db_items.c (item operations), db_tx.c (transactions) and
 * db_query.c (cursors) and db_index.c (secondary indexes, TTL). Never installed.
 */
#ifndef KEEL_SRC_DB_INTERNAL_H
#define KEEL_SRC_DB_INTERNAL_H

#include "db/db.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* A table as the catalog describes it, with counts kept by the store's publish hook. */
typedef struct kdb_table {
    char name[KEEL_DB_MAX_TABLE_NAME + 1];
    uint32_t id;
    char pk[256], sk[256];          /* key attribute names; sk "" when there is none */
    keel_db_keytype pkt, skt;       /* skt KEEL_DB_KEY_NONE when there is no sort key */
    uint64_t created;
    uint64_t items, bytes;          /* live items and their entries' bytes */
    char ttl[256];                  /* the TTL attribute, "" when TTL is disabled */
} kdb_table;

/* A secondary index: its own table id (entries keyed as db_index.c says), owned by the
 * table `owner`. Changed only under the store's write_lock (and cat_lock for readers). */
typedef struct kdb_index {
    char name[256];
    uint32_t id, owner;
    bool local, creating;           /* creating: being backfilled, not readable */
    char pk[256], sk[256];
    keel_db_keytype pkt, skt;
    keel_db_projection proj;
    char *include;                  /* INCLUDE: ninclude NUL-terminated names, owned */
    size_t include_len, ninclude;
    uint64_t items, bytes;
} kdb_index;

struct keel_db {
    keel_store *s;
    kdb_order *order;               /* every item of every table; under s->index_lock */
    atomic_bool order_stale;        /* an allocation failed in the hook: rebuild first */
    pthread_rwlock_t cat_lock;      /* tables[] for readers (see db.c for the lock order) */
    kdb_table *tables;              /* sorted by name */
    size_t ntables, cap;
    uint32_t next_id;               /* the next table id (ids are never reused) */
    kdb_table kv;                   /* the KeystoneDB default table (id KDB_TABLE_KV) */
    bool memory;                    /* an anonymous in-memory file */
    kdb_index *indexes;             /* every table's secondary indexes, in creation order */
    size_t nindexes, icap;
    keel_db_clock_fn clock;         /* TTL's clock; NULL: time() */
    void *clock_ctx;
    struct kdb_pqcache *pqcache;    /* parsed PartiQL statements (partiql_cache.c); NULL: none */
    struct kdb_exprcache *exprcache; /* parsed conditions and updates (expr_cache.c); NULL: none */
    struct kdb_vindex **vix;        /* vector indexes (vector.c); under s->index_lock */
    size_t nvix;
    void *ext;                      /* state of a layer above (the DynamoDB handler's token */
    void (*ext_free)(void *);       /* cache), freed with the handle; set once by that layer */
    pthread_mutex_t graph_mu;       /* creating a vector graph (vec_hnsw.c) */
    struct kdb_graph **gpool;       /* graphs set aside across a reload (vec_hnsw_ckpt.c) */
    size_t ngpool;
    struct kdb_ckpt_note *notes;    /* checkpoint chunks met by the last rebuild */
    size_t nnotes, notecap;
    uint64_t graph_rejected;        /* checkpoints found unusable since open */
};

/* The store key of the entry whose trailer is at `off` (ctx: the store; lock held). */
const uint8_t *kdb_key_at(const void *ctx, uint64_t off, size_t *len_out);
kdb_keysrc kdb_db_keysrc(const keel_db *db);
uint64_t kdb_ld64be(const uint8_t *p);
/* A copy of the table named `name`; KEEL_ENOTABLE when absent. */
keel_status kdb_table_get(keel_db *db, const char *name, kdb_table *out);
/* The table with id `id` (write_lock or cat_lock held), or NULL. */
kdb_table *kdb_table_by_id(keel_db *db, uint32_t id);
/* The store key of an item of table `t`, or of a key map (key_only: checked to hold only
 * the schema's key attributes). KEEL_EVALIDATION with DynamoDB's message otherwise. */
keel_status kdb_item_key(const kdb_table *t, const uint8_t *item, size_t len, bool key_only,
                         kdb_key *out);
/* kdb_item_key of a key given by value, in the common form only (db_write.c): false for
 * any other key, which the caller encodes as a map for kdb_item_key; else *st. */
bool kdb_item_key_attrs(const kdb_table *t, const keel_db_key_attr *a, size_t n, kdb_key *out,
                        keel_status *st);
/* Rebuild the ordered index if the hook could not keep it current. _locked: the caller
 * holds the store's write_lock. */
keel_status kdb_db_fresh_order(keel_db *db);
/* keel_db_query_start, with `key_filter` allowing a filter that names the key attributes:
 * DynamoDB refuses that in a Query's FilterExpression, but a PartiQL WHERE clause compiles
 * the key conditions it cannot use as bounds (`sk IN (...)`, `sk <> ?`) into the filter. */
keel_status kdb_query_start(keel_db *db, const char *table, const keel_db_query *q,
                            bool key_filter, keel_db_cursor **cursor_out);
/* Open the store and rebuild the catalog and the ordered index (db_tables.c adds the
 * rest of keel_db_open). */
keel_status kdb_db_open_path(const char *path, const keel_db_options *opts, bool memory,
                             keel_db **db_out);
/* Add a table to / remove one from db->tables (cat_lock held for writing). */
keel_status kdb_tables_add(keel_db *db, const kdb_table *t);
void kdb_tables_remove(keel_db *db, uint32_t id);
keel_status kdb_db_fresh_order_locked(keel_db *db);
/* Write table `t`'s catalog entry (with its indexes and TTL) and, when next_id > 0, the
 * next id record, as one atomic group. write_lock held. */
keel_status kdb_catalog_write(keel_db *db, const kdb_table *t, uint32_t next_id);
/* The same with `nextra` more entries in its atomic group (a dropped index's tombstones). */
keel_status kdb_catalog_write_with(keel_db *db, const kdb_table *t, uint32_t next_id,
                                   const keel_append_item *extra, size_t nextra);
/* Table t's catalog entry (key into ckey, at least 5 + KEEL_DB_MAX_TABLE_NAME bytes; value
 * into val), leaving out index `skip_index` (0: none). */
void kdb_catalog_entry(keel_db *db, const kdb_table *t, uint32_t skip_index, uint8_t *ckey,
                       size_t *cklen, kdb_buf *val);
/* A table or index name: 3..255 characters of [A-Za-z0-9_.-]. */
keel_status kdb_check_name(const char *what, const char *name);
keel_status kdb_check_key_def(const char *what, const char *name, keel_db_keytype type);

/* ---- db_index.c: secondary indexes and TTL -------------------------------------------- */

kdb_index *kdb_index_by_id(keel_db *db, uint32_t id);
/* The index `name` of table `owner`, or NULL (cat_lock or write_lock held). */
kdb_index *kdb_index_find(keel_db *db, uint32_t owner, const char *name);
size_t kdb_index_count(const keel_db *db, uint32_t owner);
void kdb_indexes_clear(keel_db *db);
/* Append x (its include list is taken over) / remove index `id`. cat_lock held for
 * writing (or single-threaded). */
keel_status kdb_indexes_add(keel_db *db, kdb_index *x);
void kdb_indexes_remove(keel_db *db, uint32_t id);
/* db_index_ops.c: check and add the n index definitions of a new table t, with ids
 * first_id.. (write_lock held; all or none). Remove every index of `owner`. */
keel_status kdb_indexes_define(keel_db *db, const kdb_table *t, const keel_db_index_def *defs,
                               size_t n, uint32_t first_id);
void kdb_indexes_drop_owner(keel_db *db, uint32_t owner);
/* Catalog: the "indexes" array of table `t` (encoded into b), and its decoding. */
size_t kdb_catalog_extra_pairs(keel_db *db, const kdb_table *t);
void kdb_catalog_encode_extra(keel_db *db, const kdb_table *t, uint32_t skip_index,
                              kdb_buf *b);
keel_status kdb_catalog_parse_extra(keel_db *db, kdb_table *t, const uint8_t *val, size_t len);
/* Finish backfills a crash interrupted (writable open). */
keel_status kdb_index_resume(keel_db *db);
/* The index entry key of `item` (whose table key is tkey) in index x: 1 made, 0 the item
 * is not in the index (sparse), or a failure status (negative) with keel__fail detail. */
int kdb_index_key(const kdb_index *x, const kdb_key *tkey, const uint8_t *item, size_t len,
                  kdb_key *out, keel_status *st);
/* The projection (KEYS_ONLY or INCLUDE) of `item` of table t in index x, in stored form. */
keel_status kdb_index_project(const kdb_index *x, const kdb_table *t, const uint8_t *item,
                              size_t len, kdb_buf *out);
int64_t kdb_now(const keel_db *db);
/* Is `item` expired under TTL attribute `ttl` ("" : never) at `now`? */
bool kdb_expired(const char *ttl, int64_t now, const uint8_t *item, size_t len);
/* Append the entries tombstoning every entry of table or index `id` (write_lock held,
 * ordered index fresh) to *items (grown as needed). */
keel_status kdb_collect_range(keel_db *db, uint32_t id, keel_append_item **items, size_t *n,
                              size_t *cap);

/* ---- db_write.c: the write path ---------------------------------------------------------- */

typedef enum kdb_wkind {
    KDB_W_PUT = 1, KDB_W_UPDATE, KDB_W_DELETE, KDB_W_CHECK  /* as keel_db_tx_kind */
} kdb_wkind;

/* One write of a request. kdb_write_prepare fills the first part outside any lock;
 * kdb_writes_run fills the outcome under the writer lock. */
typedef struct kdb_write {
    kdb_wkind kind;
    uint32_t table;             /* table id, re-checked under the lock */
    char pk[256], sk[256];      /* the table's key names (sk "" when none) */
    const uint8_t *keymap;      /* UPDATE: the caller's key map (borrowed for the call) */
    size_t keymap_len;
    kdb_expr *cond, *update;    /* owned; NULL when absent */
    keel_db_return rv;
    bool rv_on_fail;
    kdb_buf value;              /* the new item's stored form: PUT prepared, UPDATE computed */
    /* outcome */
    uint64_t hash;
    const uint8_t *old;         /* the current item, a view into the mapping, or NULL */
    size_t old_len;
    const uint8_t *prev;        /* the stored item even if expired (its index entries go) */
    size_t prev_len;
    bool reap;                  /* a reaper's delete: only if the item is still expired */
    bool revector;              /* an UPDATE (no expression) that only stores the current
                                 * item's vector lists as vectors (vec_ops.c backfill) */
    bool unchanged;             /* an UPDATE without actions of an existing item */
    keel_status st;             /* KEEL_OK, KEEL_ECONDITION or the evaluation's error */
    char msg[256];              /* its detail */
    kdb_key key;                /* last: large (room for index keys), never zeroed whole */
} kdb_write;

/* A walk over one table's items in key order that resumes where it stopped, for work done
 * a batch at a time through the write path, the reader lock let go between batches (the
 * TTL reaper, a vector index's backfill; db_items.c). Start it zeroed with its table id. */
typedef struct kdb_walk {
    uint32_t id;
    bool started;   /* `last` is the key of the last item visited */
    bool done;      /* the table's last item was visited */
    kdb_key last;
} kdb_walk;

/* Under the store's reader lock, the ordered index fresh: visit up to `scan` more items of
 * the table and put the keys of those `pick` chooses, at most `cap`, into w[0..] (each
 * zeroed but for its key; the caller sets kind, table and flags). Returns how many. */
size_t kdb_walk_batch(keel_db *db, kdb_walk *wk, size_t scan, size_t cap,
                      bool (*pick)(const uint8_t *item, size_t len, void *ctx), void *ctx,
                      kdb_write *w);

/* n writes, each zeroed but for its key's bytes (kdb_writes_alloc; kdb_write_alloc for
 * one). Clearing the 11 KB key buffers would cost more than the rest: calloc of a batch of
 * 100 writes cleared 1.1 MB, 11,600 instructions a write, and 120 KB for a 10-action
 * transaction, 18 % of its instructions. NULL when out of memory or n is 0. */
static inline kdb_write *kdb_writes_alloc(size_t n) {
    if (n == 0 || n > SIZE_MAX / sizeof(kdb_write)) return NULL;
    kdb_write *w = malloc(n * sizeof *w);
    for (size_t i = 0; w && i < n; i++) {
        memset(&w[i], 0, offsetof(kdb_write, key));
        w[i].key.len = w[i].key.part_len = 0;
    }
    return w;
}

/* expr_cache.c: parsed conditions and updates kept by (kind, text, names, values); NULL
 * from _new when out of memory (then nothing is cached). kdb_expr_parse_cached parses
 * `text` as kdb_expr_parse does, or hands out a shared, read-only parse of the same inputs
 * (free it with kdb_expr_free either way), marking the placeholders it uses in `s`. */
typedef struct kdb_exprcache kdb_exprcache;
kdb_exprcache *kdb_exprcache_new(void);
void kdb_exprcache_free(kdb_exprcache *c);
keel_status kdb_expr_parse_cached(keel_db *db, kdb_expr_kind kind, const char *text,
                                  kdb_subst *s, kdb_expr **out);

/* The `table` kdb_write_prepare takes for the default (KeystoneDB) table, whose callers
 * make w->key themselves. A caller's NULL table is refused: before it was the marker, and a
 * public write with a NULL table stored an entry with an empty key that no open accepts. */
extern const char kdb_kv_table[];

static inline kdb_write *kdb_write_alloc(void) { return kdb_writes_alloc(1); }

/* Prepare a write of `kind` on `table` (kdb_kv_table for the default table, with `key`
 * already made): check the item or key, parse the expressions with one substitution map and
 * refuse unused names and values. `item`: the item (PUT) or the key map. */
keel_status kdb_write_prepare(keel_db *db, kdb_write *w, kdb_wkind kind, const char *table,
                              const void *item, size_t item_len, const char *update,
                              const char *condition, const void *names, size_t names_len,
                              const void *values, size_t values_len);
void kdb_write_free(kdb_write *w);
/* KEEL_EVALIDATION when two writes name one item (`dup_msg`: DynamoDB's message). */
keel_status kdb_writes_distinct(kdb_write *w, size_t n, const char *dup_msg);
/* Under the writer lock: for each write, its current item, its condition, its new item;
 * then, if every write passed, all their entries as one atomic group. A single write
 * that fails returns its own status; several return KEEL_ECANCELED with each w[i].st set. */
keel_status kdb_writes_run(keel_db *db, kdb_write *w, size_t n);
/* The index entries of a write given its old item (w->prev) and its new item (`now`, NULL
 * for a delete): for each index of its table, a tombstone for the old entry whose key
 * changes or goes, and the new entry. items[] has room for 2 per index; bufs[] for 3 per
 * index (keys and projections; the caller frees them after the append). Returns how many
 * items it wrote; *st != KEEL_OK when an index key is invalid (DynamoDB refuses the
 * write). write_lock held. */
size_t kdb_index_entries(keel_db *db, const kdb_table *t, const kdb_write *w, const uint8_t *now,
                         size_t now_len, keel_append_item *items, kdb_buf *bufs,
                         keel_status *st);
/* What w->rv asks for after a successful run, or the current item after a failed
 * condition when w->rv_on_fail. `out` is reset first. */
keel_status kdb_write_result(const kdb_write *w, keel_db_buf *out);

/* ---- vector.c: vector indexes (vec_ops.c creates, vec_search.c searches them) ------------ */

/* A vector index and its candidate list: the trailer offsets of the table's items that
 * hold a vector of the index's dimensions, with their payloads' offsets in the mapping.
 * Definitions and lists change only under the store's index_lock held for writing (the
 * publish hook, or a writer creating/dropping an index); searches hold it for reading. */
typedef struct kdb_vindex {
    char name[256], attr[256];
    uint32_t owner, dims;
    keel_db_distance dist;
    keel_db_projection proj;
    char *include, *filters;        /* NUL-terminated names, owned */
    char hash[256];                 /* the filter attribute that is SearchSchema's HASH, or "" */
    size_t include_len, ninclude, filters_len, nfilters;
    uint64_t *tr, *pay;             /* candidates: trailer and payload offsets */
    size_t n, cap;
    uint64_t *hkey;                 /* open addressing: trailer -> slot (0: empty) */
    uint32_t *hval;
    size_t hcap;
    uint32_t m, efc;                /* HNSW parameters (vec_hnsw.c) */
    struct kdb_graph *g;            /* the approximate search's graph, or NULL */
    uint32_t ckpt_chunks;           /* chunks of its checkpoint in the file */
    uint64_t moves;                 /* bumped whenever a slot's vector leaves or changes */
    /* vec_search.c's scan order, built by a search (under its own mutex, with the index lock
     * held for reading): ord_n slots sorted by payload offset, valid while moves ==
     * ord_moves (later appends are added to its end); ord_pay[i] is pay[ord[i]], so a scan
     * reads the offsets in order instead of looking each up in pay at random. */
    uint32_t *ord;
    uint64_t *ord_pay;
    size_t ord_n, ord_cap;
    uint64_t ord_moves;
} kdb_vindex;

size_t kdb_vec_pairs(const keel_db *db, const kdb_table *t);
void kdb_vec_encode(const keel_db *db, const kdb_table *t, kdb_buf *b);
keel_status kdb_vec_parse(keel_db *db, const kdb_table *t, const uint8_t *val, size_t len);
void kdb_vec_clear(keel_db *db);
void kdb_vec_drop_owner(keel_db *db, uint32_t owner);
/* The hook's part: keep the candidate lists of table `table` in step with one entry. */
void kdb_vec_publish(keel_db *db, uint32_t table, const keel_append_item *it);
/* vec_write.c: an item about to be written to table `table` (writer lock held), its vector
 * attributes checked against the table's vector indexes (DynamoDB's ValidationException
 * for a wrong length, type or number) and each L of N an index reads converted to a
 * float32 vector: then *changed is set and *out holds the converted item (plain form).
 * Attributes byte-identical in `old` (the stored item an update starts from, or NULL)
 * are not checked. */
keel_status kdb_vec_conform(keel_db *db, uint32_t table, const uint8_t *item, size_t len,
                            const uint8_t *old, size_t old_len, kdb_buf *out, bool *changed);
/* `item` with each float32 vector at an attribute of table's vector indexes written as a
 * list of numbers (as DynamoDB shows it) into *out; false when it has none (or is
 * malformed). */
bool kdb_vec_as_lists(const keel_db *db, uint32_t table, const uint8_t *item, size_t len,
                      kdb_buf *out);
/* After a rebuild: fill every candidate list from the ordered index's entries (false: out
 * of memory, the lists are incomplete). */
bool kdb_vec_rebuild(keel_db *db, const kdb_oent *v, size_t n);
kdb_vindex *kdb_vec_find(const keel_db *db, uint32_t owner, const char *name);
/* Batch searches through OpenBLAS's sgemm (1, the default when keel was built with it) or
 * keel's blocked kernels (0): on >= 0 sets it, -1 only asks. Always 0 without OpenBLAS.
 * For the tests and benchmarks, which cover and compare both. */
int kdb_vec_blas(int on);
size_t kdb_vec_count(const keel_db *db, uint32_t owner);
/* Add x to db->vix / take it out (not freed); index_lock held for writing. */
keel_status kdb_vec_add(keel_db *db, kdb_vindex *x);
void kdb_vec_take(keel_db *db, kdb_vindex *x);
void kdb_vec_free(kdb_vindex *x);
/* Add the entry at trailer `tr` to x's list if it holds a vector of x's dimensions; false
 * only when out of memory. */
bool kdb_vec_track(keel_db *db, kdb_vindex *x, uint64_t tr);
/* The candidate slot of the entry at trailer `tr`, or SIZE_MAX. */
size_t kdb_vec_slot(const kdb_vindex *x, uint64_t tr);

#endif /* KEEL_SRC_DB_INTERNAL_H */
