/*
 * db.c: a database handle: opening the store, the table catalog, and the ordered index
 * kept in step with the store (db_tables.c adds the table-level operations on top).
 *
 * A database is a store file of kind KEEL_FILE_KIND_DB. Every item is one store entry,
 * keyed by its store key (key.c) and valued by its CBOR item in stored form (item.c).
 * The catalog lives in the same file: one entry per table under table id 0
 * (KDB_TABLE_CATALOG), plus a record of the next table id; creating or deleting a table
 * is one atomic append, so the catalog and the items always agree after a crash. A table's
 * catalog entry also holds its TTL attribute and its secondary indexes (db_index.c), whose
 * entries have table ids of their own and are counted and ordered like items.
 *
 * Point reads go through the store's hash index. Range reads (Query, Scan) go through the
 * ordered index (order.c), built at open from the store's index and then kept current by
 * the store's publish hook, which runs under the store's index lock held for writing: a
 * reader holding that lock (keel__reader_enter) sees the hash index, the ordered index
 * and the table counts of one and the same moment.
 *
 * Locks, in order: the store's write_lock (every writer, catalog changes included), the
 * store's index_lock, then db->cat_lock (the tables array, read by every call that names
 * a table; never held while taking another lock). The hook runs with write_lock and
 * index_lock held; it takes cat_lock for writing around the table counts it changes,
 * because kdb_table_get copies whole tables (counts included) under cat_lock alone.
 */
#include "db/db_internal.h"
#include "db/vec_hnsw.h"
#include "db/partiql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the ordered index's view of the file ---------------------------------------------- */

const uint8_t *kdb_key_at(const void *ctx, uint64_t off, size_t *len_out) {
    const keel_store *s = ctx;
    keel_snap_entry e;
    keel__entry_at(s->map->base, s->align, off, &e);
    *len_out = e.klen;
    return s->map->base + e.voff + e.vlen;
}

kdb_keysrc kdb_db_keysrc(const keel_db *db) {
    kdb_keysrc src = {kdb_key_at, db->s};
    return src;
}

static uint32_t ld32be(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint64_t kdb_ld64be(const uint8_t *p) {
    return (uint64_t)ld32be(p) << 32 | ld32be(p + 4);
}

/* The table of id `id` in the tables array, or NULL. Callers hold cat_lock or write_lock. */
kdb_table *kdb_table_by_id(keel_db *db, uint32_t id) {
    if (id == KDB_TABLE_KV) return &db->kv;
    for (size_t i = 0; i < db->ntables; i++)
        if (db->tables[i].id == id) return &db->tables[i];
    return NULL;
}

/* ---- catalog records -------------------------------------------------------------------- */

/* Catalog keys: [u32 0][0x01][table name] for a table, [u32 0][0x00]"next_id" for the
 * counter of table ids (never reused, so entries of a deleted table can never be taken
 * for a new table's). */
static size_t catalog_key(const char *name, uint8_t *out) {
    size_t n = strlen(name);
    memset(out, 0, 4);
    out[4] = 1;
    memcpy(out + 5, name, n);
    return 5 + n;
}

static const uint8_t next_id_key[] = {0, 0, 0, 0, 0, 'n', 'e', 'x', 't', '_', 'i', 'd'};

static void catalog_value(keel_db *db, const kdb_table *t, uint32_t skip_index, kdb_buf *b) {
    kdb_enc_map(b, (t->skt ? 6 : 4) + kdb_catalog_extra_pairs(db, t));
    kdb_enc_text(b, "id", 2);
    kdb_enc_uint(b, t->id);
    kdb_enc_text(b, "created", 7);
    kdb_enc_uint(b, t->created);
    kdb_enc_text(b, "pk", 2);
    kdb_enc_text(b, t->pk, strlen(t->pk));
    kdb_enc_text(b, "pkt", 3);
    kdb_enc_text(b, (const char *)&t->pkt, 1);
    if (t->skt) {
        kdb_enc_text(b, "sk", 2);
        kdb_enc_text(b, t->sk, strlen(t->sk));
        kdb_enc_text(b, "skt", 3);
        kdb_enc_text(b, (const char *)&t->skt, 1);
    }
    kdb_catalog_encode_extra(db, t, skip_index, b);
}

void kdb_catalog_entry(keel_db *db, const kdb_table *t, uint32_t skip_index, uint8_t *ckey,
                       size_t *cklen, kdb_buf *val) {
    *cklen = catalog_key(t->name, ckey);
    catalog_value(db, t, skip_index, val);
}

keel_status kdb_catalog_write(keel_db *db, const kdb_table *t, uint32_t next_id) {
    return kdb_catalog_write_with(db, t, next_id, NULL, 0);
}

keel_status kdb_catalog_write_with(keel_db *db, const kdb_table *t, uint32_t next_id,
                                   const keel_append_item *extra, size_t nextra) {
    uint8_t ckey[5 + KEEL_DB_MAX_TABLE_NAME];
    size_t cklen;
    kdb_buf val = {0}, next = {0};
    kdb_catalog_entry(db, t, 0, ckey, &cklen, &val);
    if (next_id) kdb_enc_uint(&next, next_id);
    keel_status st;
    if (val.failed || next.failed) {
        st = keel__fail(KEEL_ENOMEM, "catalog entry");
    } else {
        keel_append_item two[2] = {
            {.key = ckey, .key_len = (uint32_t)cklen, .value = val.p, .value_len = val.len,
             .src_fd = -1, .hash = keel_hash(ckey, cklen)},
            {.key = next_id_key, .key_len = sizeof next_id_key, .value = next.p,
             .value_len = next.len, .src_fd = -1, .hash = keel_hash(next_id_key, sizeof next_id_key)},
        };
        size_t n = next_id ? 2 : 1;
        keel_append_item *items = two;
        if (nextra && !(items = malloc((n + nextra) * sizeof *items))) {
            st = keel__fail(KEEL_ENOMEM, "catalog entry");
        } else {
            if (nextra) {
                memcpy(items, two, n * sizeof *items);
                memcpy(items + n, extra, nextra * sizeof *items);
            }
            st = keel__append_group(db->s, items, n + nextra);
            if (items != two) free(items);
        }
    }
    kdb_buf_free(&val);
    kdb_buf_free(&next);
    return st;
}

static bool keytype_of(const kdb_val *v, keel_db_keytype *out) {
    if (v->type != KDB_S || v->size != 1) return false;
    uint8_t c = v->data[0];
    if (c != 'S' && c != 'N' && c != 'B') return false;
    *out = (keel_db_keytype)c;
    return true;
}

/* Decode one catalog entry (untrusted bytes from the file). */
static keel_status catalog_parse(const uint8_t *key, size_t klen, const uint8_t *val,
                                 size_t vlen, kdb_table *t) {
    memset(t, 0, sizeof *t);
    size_t nlen = klen - 5;
    /* The name comes back to callers as a C string (and to Python as str). */
    if (nlen == 0 || nlen > KEEL_DB_MAX_TABLE_NAME || memchr(key + 5, 0, nlen) ||
        !kdb_utf8_valid(key + 5, nlen))
        goto bad;
    memcpy(t->name, key + 5, nlen);
    kdb_val m, v;
    if (!kdb_item_open(val, vlen, &m)) goto bad;
    int64_t id;
    kdb_num num;
    if (!kdb_item_attr(val, vlen, "id", 2, &v) || v.type != KDB_N ||
        kdb_val_num(&v, &num) != KEEL_OK || !kdb_num_to_i64(&num, &id) || id < KDB_TABLE_FIRST ||
        id > (int64_t)KDB_TABLE_LAST)
        goto bad;
    t->id = (uint32_t)id;
    if (kdb_item_attr(val, vlen, "created", 7, &v) && v.type == KDB_N &&
        kdb_val_num(&v, &num) == KEEL_OK && kdb_num_to_i64(&num, &id) && id >= 0)
        t->created = (uint64_t)id;
    if (!kdb_item_attr(val, vlen, "pk", 2, &v) || !kdb_catalog_text(&v, t->pk, sizeof t->pk))
        goto bad;
    if (!kdb_item_attr(val, vlen, "pkt", 3, &v) || !keytype_of(&v, &t->pkt)) goto bad;
    if (kdb_item_attr(val, vlen, "sk", 2, &v)) {
        if (!kdb_catalog_text(&v, t->sk, sizeof t->sk)) goto bad;
        if (!kdb_item_attr(val, vlen, "skt", 3, &v) || !keytype_of(&v, &t->skt)) goto bad;
    }
    return KEEL_OK;
bad:
    return keel__fail(KEEL_ECORRUPT, "catalog entry of table '%.*s' is malformed", (int)nlen,
                      (const char *)key + 5);
}

keel_status kdb_tables_add(keel_db *db, const kdb_table *t) {
    if (db->ntables == db->cap) {
        size_t cap = db->cap ? db->cap * 2 : 8;
        kdb_table *v = realloc(db->tables, cap * sizeof *v);
        if (!v) return keel__fail(KEEL_ENOMEM, "table catalog");
        db->tables = v;
        db->cap = cap;
    }
    /* Kept sorted by name, so list_tables is in order. */
    size_t i = db->ntables;
    while (i > 0 && strcmp(db->tables[i - 1].name, t->name) > 0) {
        db->tables[i] = db->tables[i - 1];
        i--;
    }
    db->tables[i] = *t;
    db->ntables++;
    return KEEL_OK;
}

void kdb_tables_remove(keel_db *db, uint32_t id) {
    for (size_t i = 0; i < db->ntables; i++) {
        if (db->tables[i].id == id) {
            memmove(&db->tables[i], &db->tables[i + 1],
                    (db->ntables - i - 1) * sizeof db->tables[0]);
            db->ntables--;
            return;
        }
    }
}

/* ---- building the ordered index ----------------------------------------------------------- */

/* The counts of table or index `id`, false when there is none. */
static bool counts_of(keel_db *db, uint32_t id, uint64_t **items, uint64_t **bytes) {
    kdb_table *t = kdb_table_by_id(db, id);
    if (t) {
        *items = &t->items, *bytes = &t->bytes;
        return true;
    }
    kdb_index *x = kdb_index_by_id(db, id);
    if (!x) return false;
    *items = &x->items, *bytes = &x->bytes;
    return true;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Every table and index of the catalog has an id of its own: a damaged catalog that gave two
 * of them one id would mix their entries (and their writes) silently. */
static keel_status check_ids(keel_db *db) {
    size_t n = db->ntables + db->nindexes;
    if (n < 2) return KEEL_OK;
    uint32_t *ids = malloc(n * sizeof *ids);
    if (!ids) return keel__fail(KEEL_ENOMEM, "catalog of %zu tables and indexes", n);
    for (size_t i = 0; i < db->ntables; i++) ids[i] = db->tables[i].id;
    for (size_t i = 0; i < db->nindexes; i++) ids[db->ntables + i] = db->indexes[i].id;
    qsort(ids, n, sizeof *ids, cmp_u32);
    keel_status st = KEEL_OK;
    for (size_t i = 1; i < n && st == KEEL_OK; i++)
        if (ids[i] == ids[i - 1])
            st = keel__fail(KEEL_ECORRUPT, "catalog: two tables or indexes have the id %u",
                            ids[i]);
    free(ids);
    return st;
}

/* Rebuild the catalog, the table counts and the ordered index from the store's index.
 * Called at open (single-threaded) and from the reload hook (index lock held). */
static keel_status rebuild(keel_db *db) {
    keel_store *s = db->s;
    uint64_t *tr = NULL;
    size_t n = 0;
    kdb_oent *v = NULL;
    keel_status st = keel__snapshot_trailers(s, &tr, &n);
    if (st != KEEL_OK) return st;
    v = malloc((n ? n : 1) * sizeof *v);
    if (!v) {
        free(tr);
        return keel__fail(KEEL_ENOMEM, "ordered index of %zu items", n);
    }
    const uint8_t *base = s->map->base;
    db->ntables = 0;
    kdb_indexes_clear(db);
    kdb_vec_clear(db);
    db->next_id = KDB_TABLE_FIRST;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        keel_snap_entry e;
        keel__entry_at(base, s->align, tr[i], &e);
        const uint8_t *key = base + e.voff + e.vlen, *val = base + e.voff;
        uint32_t table;
        if (!kdb_key_table(key, e.klen, &table)) {
            st = keel__fail(KEEL_ECORRUPT, "entry at offset %llu: a key of %u bytes is not a "
                            "database key", (unsigned long long)tr[i], e.klen);
            goto out;
        }
        if (table == KDB_TABLE_VGRAPH) {   /* a vector graph checkpoint (vec_hnsw_ckpt.c) */
            kdb_hnsw_note_chunk(db, key, e.klen, tr[i]);
            continue;
        }
        if (table != KDB_TABLE_CATALOG) {
            v[k++] = (kdb_oent){kdb_ld64be(key), tr[i]};
            continue;
        }
        if (e.klen == sizeof next_id_key && memcmp(key, next_id_key, e.klen) == 0) {
            kdb_val nv;
            kdb_num num;
            int64_t id;
            if (kdb_val_decode(val, e.vlen, &nv) && nv.type == KDB_N &&
                kdb_val_num(&nv, &num) == KEEL_OK && kdb_num_to_i64(&num, &id) &&
                id > (int64_t)db->next_id && id <= (int64_t)UINT32_MAX)
                db->next_id = (uint32_t)id;
        } else if (e.klen > 5 && key[4] == 1) {
            kdb_table t;
            if ((st = catalog_parse(key, e.klen, val, e.vlen, &t)) != KEEL_OK) goto out;
            if ((st = kdb_catalog_parse_extra(db, &t, val, e.vlen)) != KEEL_OK) goto out;
            if ((st = kdb_tables_add(db, &t)) != KEEL_OK) goto out;
            if (t.id >= db->next_id) db->next_id = t.id + 1;
        }
    }
    if ((st = check_ids(db)) != KEEL_OK) goto out;
    kdb_keysrc src = kdb_db_keysrc(db);
    if ((st = kdb_order_sort(v, k, &src)) != KEEL_OK) goto out;
    memset(&db->kv, 0, sizeof db->kv);
    db->kv.id = KDB_TABLE_KV;
    db->kv.pkt = KEEL_DB_KEY_B;
    db->kv.skt = KEEL_DB_KEY_B;
    for (size_t i = 0; i < db->ntables; i++) db->tables[i].items = db->tables[i].bytes = 0;
    for (size_t i = 0; i < db->nindexes; i++) db->indexes[i].items = db->indexes[i].bytes = 0;
    /* Entries of tables that are not in the catalog cannot exist (a table's items and its
     * catalog entry are written and deleted in one atomic group); skip them if they do. */
    size_t w = 0;
    for (size_t i = 0; i < k; i++) {
        uint64_t *items, *bytes;
        if (!counts_of(db, (uint32_t)(v[i].prefix >> 32), &items, &bytes)) continue;
        ++*items;
        *bytes += keel__entry_span(s, v[i].off);
        v[w++] = v[i];
    }
    bool vec_ok = kdb_vec_rebuild(db, v, w);
    st = kdb_order_build(db->order, v, w);
    atomic_store(&db->order_stale, st != KEEL_OK || !vec_ok);
out:
    free(v);
    free(tr);
    return st;
}

/* ---- the store's hook ------------------------------------------------------------------- */

static void on_publish(void *ctx, keel_store *s, const keel_append_item *items, size_t n) {
    keel_db *db = ctx;
    kdb_keysrc src = kdb_db_keysrc(db);
    /* The counts live in tables[], which kdb_table_get copies under cat_lock alone. */
    pthread_rwlock_wrlock(&db->cat_lock);
    for (size_t i = 0; i < n; i++) {
        const keel_append_item *it = &items[i];
        uint32_t table;
        if (!kdb_key_table(it->key, it->key_len, &table) || table == KDB_TABLE_CATALOG) continue;
        uint64_t *nitems, *nbytes;
        if (!counts_of(db, table, &nitems, &nbytes)) continue;  /* being created or deleted */
        if (db->nvix) kdb_vec_publish(db, table, it);
        if (it->replaced_live) {
            --*nitems;
            *nbytes -= keel__entry_span(s, it->replaced_trailer);
        }
        if (it->flags & KEEL_FLAG_TOMBSTONE) {
            if (it->replaced_live) kdb_order_remove(db->order, it->key, it->key_len, &src);
            continue;
        }
        ++*nitems;
        *nbytes += keel__entry_span(s, it->trailer_out);
        /* Out of memory leaves the ordered index behind the store; the next range read
         * rebuilds it (kdb_db_fresh_order). */
        if (kdb_order_put(db->order, it->key, it->key_len, it->trailer_out, &src) != KEEL_OK)
            atomic_store(&db->order_stale, true);
    }
    pthread_rwlock_unlock(&db->cat_lock);
}

static void on_reload(void *ctx, keel_store *s) {
    (void)s;
    keel_db *db = ctx;
    pthread_rwlock_wrlock(&db->cat_lock);
    if (rebuild(db) != KEEL_OK) atomic_store(&db->order_stale, true);
    pthread_rwlock_unlock(&db->cat_lock);
}

keel_status kdb_db_fresh_order_locked(keel_db *db) {
    if (!atomic_load(&db->order_stale)) return KEEL_OK;
    pthread_rwlock_wrlock(&db->s->index_lock);
    if (atomic_load(&db->order_stale)) on_reload(db, db->s);
    bool stale = atomic_load(&db->order_stale);
    pthread_rwlock_unlock(&db->s->index_lock);
    return stale ? keel__fail(KEEL_ENOMEM, "rebuilding the ordered index") : KEEL_OK;
}

keel_status kdb_db_fresh_order(keel_db *db) {
    if (!atomic_load(&db->order_stale)) return KEEL_OK;
    pthread_mutex_lock(&db->s->write_lock);
    keel_status st = kdb_db_fresh_order_locked(db);
    pthread_mutex_unlock(&db->s->write_lock);
    return st;
}

/* ---- ranges of the ordered index ---------------------------------------------------------- */

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Position on the first entry of table `id` after `after` (NULL: from the start). */
static bool range_seek(keel_db *db, uint32_t id, const uint8_t *after, size_t after_len,
                       kdb_opos *pos) {
    kdb_keysrc src = kdb_db_keysrc(db);
    uint8_t lo[8] = {0};
    put_be32(lo, id);
    if (!after) return kdb_order_seek(db->order, lo, sizeof lo, &src, pos);
    if (!kdb_order_seek(db->order, after, after_len, &src, pos)) return false;
    size_t klen;
    const uint8_t *k = kdb_key_at(db->s, kdb_order_get(pos).off, &klen);
    if (klen == after_len && memcmp(k, after, klen) == 0) return kdb_order_next(db->order, pos);
    return true;
}

keel_status kdb_collect_range(keel_db *db, uint32_t id, keel_append_item **items, size_t *n,
                              size_t *cap) {
    kdb_opos pos;
    bool more = range_seek(db, id, NULL, 0, &pos);
    while (more) {
        kdb_oent e = kdb_order_get(&pos);
        if ((uint32_t)(e.prefix >> 32) != id) break;
        if (*n == *cap) {
            size_t c = *cap ? *cap * 2 : 64;
            keel_append_item *v = realloc(*items, c * sizeof *v);
            if (!v) return keel__fail(KEEL_ENOMEM, "collecting %zu entries", *n);
            *items = v;
            *cap = c;
        }
        size_t klen;
        const uint8_t *key = kdb_key_at(db->s, e.off, &klen);
        (*items)[(*n)++] = (keel_append_item){.key = key, .key_len = (uint32_t)klen,
                                              .flags = KEEL_FLAG_TOMBSTONE, .src_fd = -1,
                                              .hash = keel_hash(key, klen)};
        more = kdb_order_next(db->order, &pos);
    }
    return KEEL_OK;
}

/* ---- open and close --------------------------------------------------------------------- */

keel_status kdb_db_open_path(const char *path, const keel_db_options *opts, bool memory,
                             keel_db **db_out) {
    keel_db_options o = KEEL_DB_OPTIONS_INIT;
    if (opts) o = *opts;
    if (!db_out) return keel__fail(KEEL_EINVAL, "keel_db_open: db_out is NULL");
    keel_options so = KEEL_OPTIONS_INIT;
    so.mode = o.mode;
    so.sync = o.sync;
    so.alignment = 64;  /* vectors are 64-byte aligned inside items */
    keel_db *db = calloc(1, sizeof *db);
    if (!db) return keel__fail(KEEL_ENOMEM, "allocating a database handle");
    pthread_rwlock_init(&db->cat_lock, NULL);
    pthread_mutex_init(&db->graph_mu, NULL);
    db->pqcache = kdb_pqcache_new();
    db->exprcache = kdb_exprcache_new();
    db->memory = memory;
    keel_status st = kdb_order_new(&db->order);
    if (st == KEEL_OK) st = keel__open_kind(path, &so, KEEL_FILE_KIND_DB, &db->s);
    if (st == KEEL_OK) st = rebuild(db);
    if (st != KEEL_OK) {  /* a damaged catalog fails after some indexes were read */
        keel_db_free(db);
        return st;
    }
    db->s->hook = (keel_store_hook){on_publish, on_reload, db};
    *db_out = db;
    return KEEL_OK;
}

keel_status keel_db_close(keel_db *db) {
    if (!db) return keel__fail(KEEL_EINVAL, "database handle is NULL");
    /* Vector graphs that changed are checkpointed first (derived data: a failure here
     * costs the next open a rebuild, not the close). */
    if (!db->memory && !db->s->read_only && keel__writer_enter(db->s) == KEEL_OK) {
        kdb_hnsw_checkpoint_all(db);
        keel__writer_leave(db->s);
    }
    return keel_close(db->s);
}

void keel_db_free(keel_db *db) {
    if (!db) return;
    keel_free(db->s);
    kdb_order_free(db->order);
    free(db->tables);
    kdb_indexes_clear(db);
    free(db->indexes);
    kdb_vec_clear(db);
    if (db->ext && db->ext_free) db->ext_free(db->ext);
    kdb_hnsw_pool_free(db);
    kdb_pqcache_free(db->pqcache);
    kdb_exprcache_free(db->exprcache);
    pthread_rwlock_destroy(&db->cat_lock);
    pthread_mutex_destroy(&db->graph_mu);
    free(db);
}

void *kdb_db_ext(const keel_db *db) { return db->ext; }

void kdb_db_set_ext(keel_db *db, void *p, void (*free_fn)(void *)) {
    db->ext = p;
    db->ext_free = free_fn;
}

keel_status keel_db_sync(keel_db *db) {
    if (!db) return keel__fail(KEEL_EINVAL, "database handle is NULL");
    return keel_sync(db->s);
}

keel_status keel_db_stat(keel_db *db, keel_stats *stats_out) {
    if (!db) return keel__fail(KEEL_EINVAL, "database handle is NULL");
    return keel_stat(db->s, stats_out);
}

/* ---- tables ------------------------------------------------------------------------------ */

keel_status kdb_check_name(const char *what, const char *name) {
    if (!name) return keel__fail(KEEL_EINVAL, "%s is NULL", what);
    size_t n = strlen(name);
    if (n < 3 || n > KEEL_DB_MAX_TABLE_NAME)
        return keel__fail(KEEL_EVALIDATION, "%s '%.255s' must be 3 to 255 characters long",
                          what, name);
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return keel__fail(KEEL_EVALIDATION, "%s '%s' may hold only [a-zA-Z0-9_.-]", what,
                              name);
    }
    return KEEL_OK;
}

keel_status kdb_check_key_def(const char *what, const char *name, keel_db_keytype type) {
    if (!name) return keel__fail(KEEL_EVALIDATION, "%s: attribute name is missing", what);
    size_t n = strlen(name);
    if (n == 0 || n > 255)
        return keel__fail(KEEL_EVALIDATION, "%s: attribute name must be 1 to 255 bytes", what);
    if (type != KEEL_DB_KEY_S && type != KEEL_DB_KEY_N && type != KEEL_DB_KEY_B)
        return keel__fail(KEEL_EVALIDATION, "%s '%s': type must be S, N or B", what, name);
    return KEEL_OK;
}

/* Copy the table named `name` (under cat_lock). KEEL_ENOTABLE when absent. Every item
 * operation starts here, so the message is formatted only on the miss (formatting it on
 * every call was a third of a get's time in the library). */
keel_status kdb_table_get(keel_db *db, const char *name, kdb_table *out) {
    if (!db) return keel__fail(KEEL_EINVAL, "database handle is NULL");
    if (!name) return keel__fail(KEEL_EINVAL, "table name is NULL");
    pthread_rwlock_rdlock(&db->cat_lock);
    bool found = false;
    for (size_t i = 0; i < db->ntables; i++) {
        if (strcmp(db->tables[i].name, name) == 0) {
            *out = db->tables[i];
            found = true;
            break;
        }
    }
    pthread_rwlock_unlock(&db->cat_lock);
    return found ? KEEL_OK : keel__fail(KEEL_ENOTABLE, "no table named '%.255s'", name);
}

keel_status keel_db_describe_table(keel_db *db, const char *name, keel_db_table_info *info_out) {
    if (!info_out) return keel__fail(KEEL_EINVAL, "keel_db_describe_table: info_out is NULL");
    kdb_table t;
    keel_status st = kdb_table_get(db, name, &t);
    if (st != KEEL_OK) return st;
    if ((st = keel__reader_enter(db->s)) != KEEL_OK) return st;
    pthread_rwlock_rdlock(&db->cat_lock);
    kdb_table *live = kdb_table_by_id(db, t.id);
    if (live) t = *live;
    pthread_rwlock_unlock(&db->cat_lock);
    keel__reader_leave(db->s);
    if (!live) return keel__fail(KEEL_ENOTABLE, "no table named '%.255s'", name);
    memset(info_out, 0, sizeof *info_out);
    snprintf(info_out->name, sizeof info_out->name, "%s", t.name);
    snprintf(info_out->pk_name, sizeof info_out->pk_name, "%s", t.pk);
    snprintf(info_out->sk_name, sizeof info_out->sk_name, "%s", t.sk);
    info_out->pk_type = t.pkt;
    info_out->sk_type = t.skt;
    info_out->items = t.items;
    info_out->bytes = t.bytes;
    info_out->created = t.created;
    return KEEL_OK;
}

keel_status keel_db_list_tables(keel_db *db, char **names_out, size_t *count_out) {
    if (!db || !names_out || !count_out)
        return keel__fail(KEEL_EINVAL, "keel_db_list_tables: NULL argument");
    keel_status st = keel__reader_enter(db->s);  /* refuses a closed database */
    if (st != KEEL_OK) return st;
    keel__reader_leave(db->s);
    pthread_rwlock_rdlock(&db->cat_lock);
    size_t total = 1;
    for (size_t i = 0; i < db->ntables; i++) total += strlen(db->tables[i].name) + 1;
    char *buf = malloc(total), *p = buf;
    if (buf) {
        for (size_t i = 0; i < db->ntables; i++) {
            size_t n = strlen(db->tables[i].name) + 1;
            memcpy(p, db->tables[i].name, n);
            p += n;
        }
        *p = '\0';
        *count_out = db->ntables;
    }
    pthread_rwlock_unlock(&db->cat_lock);
    if (!buf) return keel__fail(KEEL_ENOMEM, "table list");
    *names_out = buf;
    return KEEL_OK;
}

keel_status keel_db_count(keel_db *db, const char *table, uint64_t *count_out) {
    if (!count_out) return keel__fail(KEEL_EINVAL, "keel_db_count: count_out is NULL");
    keel_db_table_info info;
    keel_status st = keel_db_describe_table(db, table, &info);
    if (st == KEEL_OK) *count_out = info.items;
    return st;
}

keel_status keel_db_verify(keel_db *db, keel_verify_report *report_out) {
    if (!db) return keel__fail(KEEL_EINVAL, "database handle is NULL");
    keel_status st = keel_verify(db->s, report_out);
    if (st != KEEL_OK) return st;
    /* Then every live item's encoding, as a caller's item is checked before it is put. */
    if ((st = keel__reader_enter(db->s)) != KEEL_OK) return st;
    uint64_t *tr = NULL;
    size_t n = 0;
    st = keel__snapshot_trailers(db->s, &tr, &n);
    const uint8_t *base = db->s->map->base;
    uint32_t align = db->s->align;
    keel__reader_leave(db->s);
    for (size_t i = 0; st == KEEL_OK && i < n; i++) {
        keel_snap_entry e;
        keel__entry_at(base, align, tr[i], &e);
        uint32_t table;
        if (!kdb_key_table(base + e.voff + e.vlen, e.klen, &table)) {
            st = keel__fail(KEEL_ECORRUPT, "entry at offset %llu: not a database key",
                            (unsigned long long)tr[i]);
        } else if (table != KDB_TABLE_CATALOG && table != KDB_TABLE_VGRAPH) {
            size_t size;
            if (kdb_item_check(base + e.voff, e.vlen, &size) != KEEL_OK) {
                char detail[300];
                snprintf(detail, sizeof detail, "%s", keel_errmsg());
                st = keel__fail(KEEL_ECORRUPT, "item at offset %llu: %s",
                                (unsigned long long)e.voff, detail);
            }
        }
    }
    free(tr);
    return st;
}
