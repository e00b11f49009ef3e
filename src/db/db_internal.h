/*
 * db_internal.h: the database handle, shared by db.c (open, catalog, tables),
 * db_write.c (the write path), db_items.c (item operations), db_tx.c (transactions) and
 * db_query.c (cursors). Never installed.
 */
#ifndef KEEL_SRC_DB_INTERNAL_H
#define KEEL_SRC_DB_INTERNAL_H

#include "db/db.h"

#include <pthread.h>
#include <stdatomic.h>

/* A table as the catalog describes it, with counts kept by the store's publish hook. */
typedef struct kdb_table {
    char name[KEEL_DB_MAX_TABLE_NAME + 1];
    uint32_t id;
    char pk[256], sk[256];          /* key attribute names; sk "" when there is none */
    keel_db_keytype pkt, skt;       /* skt KEEL_DB_KEY_NONE when there is no sort key */
    uint64_t created;
    uint64_t items, bytes;          /* live items and their entries' bytes */
} kdb_table;

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
/* Rebuild the ordered index if the hook could not keep it current. _locked: the caller
 * holds the store's write_lock. */
keel_status kdb_db_fresh_order(keel_db *db);
keel_status kdb_db_fresh_order_locked(keel_db *db);

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
    kdb_key key;
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
    bool unchanged;             /* an UPDATE without actions of an existing item */
    keel_status st;             /* KEEL_OK, KEEL_ECONDITION or the evaluation's error */
    char msg[256];              /* its detail */
} kdb_write;

/* Prepare a write of `kind` on `table` (NULL for the default table, with `key` already
 * made): check the item or key, parse the expressions with one substitution map and
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
/* What w->rv asks for after a successful run, or the current item after a failed
 * condition when w->rv_on_fail. `out` is reset first. */
keel_status kdb_write_result(const kdb_write *w, keel_db_buf *out);

#endif /* KEEL_SRC_DB_INTERNAL_H */
