/*
 * db_internal.h: the database handle, shared by db.c (open, catalog, tables),
 * db_items.c (item operations) and db_query.c (cursors). Never installed.
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

#endif /* KEEL_SRC_DB_INTERNAL_H */
