/*
 * vec_hnsw.h: approximate vector search's graphs (vec_hnsw.c) and their checkpoints in the
 * database file (vec_hnsw_ckpt.c), shared with vector.c (the hook, rebuilds), vec_search.c
 * (the dispatch) and db.c (open, close). Never installed.
 */
#ifndef KEEL_SRC_DB_VEC_HNSW_H
#define KEEL_SRC_DB_VEC_HNSW_H

#include "db/db_internal.h"
#include "db/hnsw.h"

#define KDB_NOID UINT32_MAX
#define KDB_TABLE_VGRAPH 2u     /* reserved table id: vector graph checkpoint chunks */

/* One index's graph and its item ids (see vec_hnsw.c for the invariant on vhash). Ids,
 * offsets and the dirty list change under the store's index lock held for writing; the
 * graph (h) and vhash under `lock` held for writing with the index lock held for reading. */
typedef struct kdb_graph {
    pthread_rwlock_t lock;
    keel__hnsw *h;                  /* NULL until the first drain (or a load) */
    uint32_t owner, dims, m, efc;
    char name[256];
    keel_db_distance dist;
    uint8_t **key;                  /* per id: u32 length + the store key; NULL: free */
    uint64_t *tr, *pay;             /* per id: its item's trailer and vector payload offsets */
    uint64_t *vhash;                /* per id: the hash of the graph's vector (0: none) */
    uint8_t *flags;                 /* per id: bit 0 on the dirty list */
    uint32_t nid, idcap;
    uint32_t *freeids;
    size_t nfree, freecap;
    uint32_t *dirty;
    size_t ndirty, dirtycap;
    uint32_t *hid;                  /* key map: id + 1 (0: empty slot) and the key's hash */
    uint64_t *hh;
    size_t hcap, live;
    int state;                      /* KEEL_DB_GRAPH_LOADED or _BUILT */
    bool broken;                    /* out of memory: not trusted, exact search answers */
    uint64_t version, saved_version; /* changes drained; as of the last checkpoint */
    uint64_t checkpoints;           /* checkpoints written since open */
    uint64_t inserts;               /* insertions since open */
    size_t mismatched;              /* at load: ids whose vector changed since the checkpoint */
    uint32_t ckpt_chunks;           /* chunks of this index's checkpoint in the file */
} kdb_graph;

typedef struct kdb_vres {           /* one result: exact key (smaller is better), its slot */
    float key;
    uint32_t slot;
} kdb_vres;

/* A search as vec_search.c checked it. The callbacks keep this file below vector.c and
 * db.c in the call graph (scripts/check-layers.py): it never calls them by name. */
typedef struct kdb_hsearch {
    const float *q, *qq;            /* nq rows of dims; their squared norms */
    size_t nq, k, ef;
    bool filtered;                  /* a filter or a TTL: `pass` must be asked */
    bool (*pass)(const void *ctx, uint64_t tr);   /* the item at trailer tr passes */
    size_t (*slot_of)(const kdb_vindex *x, uint64_t tr);  /* its candidate slot */
    const void *ctx;
} kdb_hsearch;

size_t kdb_hnsw_min_items(void);
kdb_graph *kdb_hnsw_graph_new(const kdb_vindex *x);
void kdb_hnsw_graph_free(kdb_graph *g);
void kdb_hnsw_kind(const kdb_vindex *x, int *kind, keel__hnsw_fn *fn);
/* The length of the graph's vectors for an index of `dims` and `dist`: DOT_PRODUCT's hold
 * one more float, the norm (vec_hnsw.c). */
uint32_t kdb_hnsw_graph_dims(keel_db_distance dist, uint32_t dims);
uint64_t kdb_hnsw_vhash(const void *v, size_t len);
uint32_t kdb_hnsw_id_new(kdb_graph *g, const void *key, size_t len, uint64_t h);
bool kdb_hnsw_id_release(kdb_graph *g, uint32_t id);
void kdb_hnsw_note(kdb_vindex *x, const keel_append_item *it, uint64_t pay);
bool kdb_hnsw_sync(keel_db *db, kdb_vindex *x, kdb_graph *g, bool fill);
/* The approximate search of a checked request. *done false (and KEEL_OK): the caller scans
 * exactly (small index, selective filter, fewer than k survived, no usable graph). Index
 * lock held for reading. */
keel_status kdb_hnsw_search(keel_db *db, kdb_vindex *x, const kdb_hsearch *a, kdb_vres *out,
                            size_t *counts, bool *done);
void kdb_hnsw_info(const kdb_vindex *x, keel_db_vector_index_info *o);

/* vec_hnsw_ckpt.c. Open: rebuild() notes each checkpoint chunk entry it meets. */
void kdb_hnsw_note_chunk(keel_db *db, const uint8_t *key, size_t klen, uint64_t tr);
/* After the candidate lists are rebuilt: give every index its graph back (a reload), or
 * load it from its checkpoint (open), and catch up. Index lock held for writing. */
void kdb_hnsw_attach_all(keel_db *db);
/* Before the catalog is re-parsed: keep the graphs aside (kdb_vec_clear). */
void kdb_hnsw_detach(keel_db *db, kdb_vindex *x);
void kdb_hnsw_pool_free(keel_db *db);
/* Write a checkpoint of every changed graph (writer lock held). */
keel_status kdb_hnsw_checkpoint_all(keel_db *db);
/* Tombstones for the checkpoint chunks of the vector indexes of table `owner` (all of
 * them, or only the one named `name`), for the caller to append in the group that drops
 * them (writer lock held). The caller frees them with kdb_tombs_free. */
#define KDB_CKPT_KEY_MAX (12 + 255)
typedef struct kdb_tombs {
    keel_append_item *items;
    uint8_t *keys;      /* n keys of KDB_CKPT_KEY_MAX bytes each, which items point into */
    size_t n;
} kdb_tombs;
keel_status kdb_hnsw_tombstones(keel_db *db, uint32_t owner, const char *name, kdb_tombs *out);
void kdb_tombs_free(kdb_tombs *t);
/* Tombstone every checkpoint chunk in the file that no live vector index owns, in one
 * atomic group; *dropped how many (writer lock held). */
keel_status kdb_hnsw_drop_orphans(keel_db *db, size_t *dropped);

#endif /* KEEL_SRC_DB_VEC_HNSW_H */
