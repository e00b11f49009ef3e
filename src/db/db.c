/*
 * db.c: a database handle: open, the table catalog, and the ordered index kept in step
 * with the store.
 *
 * A database is a store file of kind KEEL_FILE_KIND_DB. Every item is one store entry,
 * keyed by its store key (key.c) and valued by its CBOR item in stored form (item.c).
 * The catalog lives in the same file: one entry per table under table id 0
 * (KDB_TABLE_CATALOG), plus a record of the next table id; creating or deleting a table
 * is one atomic append, so the catalog and the items always agree after a crash.
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

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

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

static void catalog_value(const kdb_table *t, kdb_buf *b) {
    kdb_enc_map(b, t->skt ? 6 : 4);
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
}

static bool keytype_of(const kdb_val *v, keel_db_keytype *out) {
    if (v->type != KDB_S || v->size != 1) return false;
    uint8_t c = v->data[0];
    if (c != 'S' && c != 'N' && c != 'B') return false;
    *out = (keel_db_keytype)c;
    return true;
}

static bool copy_text(const kdb_val *v, char *out, size_t cap) {
    if (v->type != KDB_S || v->size == 0 || v->size >= cap) return false;
    memcpy(out, v->data, v->size);
    out[v->size] = '\0';
    return memchr(out, '\0', v->size) == NULL;
}

/* Decode one catalog entry (untrusted bytes from the file). */
static keel_status catalog_parse(const uint8_t *key, size_t klen, const uint8_t *val,
                                 size_t vlen, kdb_table *t) {
    memset(t, 0, sizeof *t);
    size_t nlen = klen - 5;
    if (nlen == 0 || nlen > KEEL_DB_MAX_TABLE_NAME) goto bad;
    memcpy(t->name, key + 5, nlen);
    kdb_val m, v;
    if (!kdb_item_open(val, vlen, &m)) goto bad;
    int64_t id;
    kdb_num num;
    if (!kdb_item_attr(val, vlen, "id", 2, &v) || v.type != KDB_N ||
        kdb_val_num(&v, &num) != KEEL_OK || !kdb_num_to_i64(&num, &id) || id < KDB_TABLE_FIRST ||
        id > (int64_t)UINT32_MAX)
        goto bad;
    t->id = (uint32_t)id;
    if (kdb_item_attr(val, vlen, "created", 7, &v) && v.type == KDB_N &&
        kdb_val_num(&v, &num) == KEEL_OK && kdb_num_to_i64(&num, &id) && id >= 0)
        t->created = (uint64_t)id;
    if (!kdb_item_attr(val, vlen, "pk", 2, &v) || !copy_text(&v, t->pk, sizeof t->pk)) goto bad;
    if (!kdb_item_attr(val, vlen, "pkt", 3, &v) || !keytype_of(&v, &t->pkt)) goto bad;
    if (kdb_item_attr(val, vlen, "sk", 2, &v)) {
        if (!copy_text(&v, t->sk, sizeof t->sk)) goto bad;
        if (!kdb_item_attr(val, vlen, "skt", 3, &v) || !keytype_of(&v, &t->skt)) goto bad;
    }
    return KEEL_OK;
bad:
    return keel__fail(KEEL_ECORRUPT, "catalog entry of table '%.*s' is malformed", (int)nlen,
                      (const char *)key + 5);
}

static keel_status tables_add(keel_db *db, const kdb_table *t) {
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

/* ---- building the ordered index ----------------------------------------------------------- */

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
            if ((st = tables_add(db, &t)) != KEEL_OK) goto out;
            if (t.id >= db->next_id) db->next_id = t.id + 1;
        }
    }
    kdb_keysrc src = kdb_db_keysrc(db);
    if ((st = kdb_order_sort(v, k, &src)) != KEEL_OK) goto out;
    memset(&db->kv, 0, sizeof db->kv);
    db->kv.id = KDB_TABLE_KV;
    db->kv.pkt = KEEL_DB_KEY_B;
    db->kv.skt = KEEL_DB_KEY_B;
    for (size_t i = 0; i < db->ntables; i++) db->tables[i].items = db->tables[i].bytes = 0;
    /* Entries of tables that are not in the catalog cannot exist (a table's items and its
     * catalog entry are written and deleted in one atomic group); skip them if they do. */
    size_t w = 0;
    for (size_t i = 0; i < k; i++) {
        kdb_table *t = kdb_table_by_id(db, (uint32_t)(v[i].prefix >> 32));
        if (!t) continue;
        t->items++;
        t->bytes += keel__entry_span(s, v[i].off);
        v[w++] = v[i];
    }
    st = kdb_order_build(db->order, v, w);
    atomic_store(&db->order_stale, st != KEEL_OK);
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
        kdb_table *t = kdb_table_by_id(db, table);
        if (!t) continue;  /* the table is being deleted in this very group */
        if (it->replaced_live) {
            t->items--;
            t->bytes -= keel__entry_span(s, it->replaced_trailer);
        }
        if (it->flags & KEEL_FLAG_TOMBSTONE) {
            if (it->replaced_live) kdb_order_remove(db->order, it->key, it->key_len, &src);
            continue;
        }
        t->items++;
        t->bytes += keel__entry_span(s, it->trailer_out);
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

/* ---- open and close --------------------------------------------------------------------- */

static keel_status db_open_path(const char *path, const keel_db_options *opts, bool memory,
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
    db->memory = memory;
    keel_status st = kdb_order_new(&db->order);
    if (st == KEEL_OK) st = keel__open_kind(path, &so, KEEL_FILE_KIND_DB, &db->s);
    if (st == KEEL_OK) st = rebuild(db);
    if (st != KEEL_OK) {
        if (db->s) keel_free(db->s);
        kdb_order_free(db->order);
        free(db->tables);
        pthread_rwlock_destroy(&db->cat_lock);
        free(db);
        return st;
    }
    db->s->hook = (keel_store_hook){on_publish, on_reload, db};
    *db_out = db;
    return KEEL_OK;
}

keel_status keel_db_open(const char *path, const keel_db_options *opts, keel_db **db_out) {
    if (!path) return keel__fail(KEEL_EINVAL, "keel_db_open: path is NULL");
    return db_open_path(path, opts, false, db_out);
}

keel_status keel_db_open_memory(const keel_db_options *opts, keel_db **db_out) {
    keel_db_options o = KEEL_DB_OPTIONS_INIT;
    if (opts) o = *opts;
    if (o.mode == KEEL_OPEN_READONLY || o.mode == KEEL_OPEN_EXISTING)
        return keel__fail(KEEL_EINVAL, "an in-memory database is always new: open mode %d",
                          (int)o.mode);
    int fd = memfd_create("keel-db", MFD_CLOEXEC);
    if (fd < 0) return keel__fail_errno(errno, "memfd_create");
    /* The store opens the anonymous file by its /proc name (a second descriptor of the
     * same file), so every code path is the one a file on disk takes. */
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    o.mode = KEEL_OPEN_CREATE;
    keel_status st = db_open_path(path, &o, true, db_out);
    close(fd);
    return st;
}

keel_status keel_db_close(keel_db *db) {
    if (!db) return keel__fail(KEEL_EINVAL, "database handle is NULL");
    return keel_close(db->s);
}

void keel_db_free(keel_db *db) {
    if (!db) return;
    keel_free(db->s);
    kdb_order_free(db->order);
    free(db->tables);
    pthread_rwlock_destroy(&db->cat_lock);
    free(db);
}

keel_status keel_db_sync(keel_db *db) {
    if (!db) return keel__fail(KEEL_EINVAL, "database handle is NULL");
    return keel_sync(db->s);
}

keel_status keel_db_compact(keel_db *db, keel_progress_fn progress, void *ctx) {
    if (!db) return keel__fail(KEEL_EINVAL, "database handle is NULL");
    if (db->memory)
        return keel__fail(KEEL_EINVAL, "an in-memory database has no file to compact into");
    return keel_compact(db->s, progress, ctx);
}

keel_status keel_db_stat(keel_db *db, keel_stats *stats_out) {
    if (!db) return keel__fail(KEEL_EINVAL, "database handle is NULL");
    return keel_stat(db->s, stats_out);
}

/* ---- tables ------------------------------------------------------------------------------ */

static keel_status check_table_name(const char *name) {
    if (!name) return keel__fail(KEEL_EINVAL, "table name is NULL");
    size_t n = strlen(name);
    if (n < 3 || n > KEEL_DB_MAX_TABLE_NAME)
        return keel__fail(KEEL_EVALIDATION, "table name '%.255s' must be 3 to 255 characters long",
                          name);
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return keel__fail(KEEL_EVALIDATION, "table name '%s' may hold only [a-zA-Z0-9_.-]",
                              name);
    }
    return KEEL_OK;
}

static keel_status check_key_def(const char *what, const char *name, keel_db_keytype type) {
    if (!name) return keel__fail(KEEL_EVALIDATION, "%s: attribute name is missing", what);
    size_t n = strlen(name);
    if (n == 0 || n > 255)
        return keel__fail(KEEL_EVALIDATION, "%s: attribute name must be 1 to 255 bytes", what);
    if (type != KEEL_DB_KEY_S && type != KEEL_DB_KEY_N && type != KEEL_DB_KEY_B)
        return keel__fail(KEEL_EVALIDATION, "%s '%s': type must be S, N or B", what, name);
    return KEEL_OK;
}

/* Copy the table named `name` (under cat_lock). KEEL_ENOTABLE when absent. */
keel_status kdb_table_get(keel_db *db, const char *name, kdb_table *out) {
    if (!db) return keel__fail(KEEL_EINVAL, "database handle is NULL");
    if (!name) return keel__fail(KEEL_EINVAL, "table name is NULL");
    pthread_rwlock_rdlock(&db->cat_lock);
    keel_status st = keel__fail(KEEL_ENOTABLE, "no table named '%.255s'", name);
    for (size_t i = 0; i < db->ntables; i++) {
        if (strcmp(db->tables[i].name, name) == 0) {
            *out = db->tables[i];
            st = KEEL_OK;
            break;
        }
    }
    pthread_rwlock_unlock(&db->cat_lock);
    return st;
}

keel_status keel_db_create_table(keel_db *db, const char *name, const keel_db_schema *schema) {
    if (!db || !schema) return keel__fail(KEEL_EINVAL, "keel_db_create_table: NULL argument");
    keel_status st = check_table_name(name);
    if (st == KEEL_OK) st = check_key_def("partition key", schema->pk_name, schema->pk_type);
    if (st == KEEL_OK && (schema->sk_name || schema->sk_type != KEEL_DB_KEY_NONE)) {
        st = check_key_def("sort key", schema->sk_name, schema->sk_type);
        if (st == KEEL_OK && strcmp(schema->sk_name, schema->pk_name) == 0)
            st = keel__fail(KEEL_EVALIDATION, "the partition key and the sort key are both '%s'",
                            schema->pk_name);
    }
    if (st != KEEL_OK) return st;
    kdb_table t;
    memset(&t, 0, sizeof t);
    snprintf(t.name, sizeof t.name, "%s", name);
    snprintf(t.pk, sizeof t.pk, "%s", schema->pk_name);
    t.pkt = schema->pk_type;
    if (schema->sk_name) {
        snprintf(t.sk, sizeof t.sk, "%s", schema->sk_name);
        t.skt = schema->sk_type;
    }
    t.created = (uint64_t)time(NULL);

    if ((st = keel__writer_enter(db->s)) != KEEL_OK) return st;
    kdb_table old;
    if (kdb_table_get(db, name, &old) == KEEL_OK) {
        st = keel__fail(KEEL_ETABLEEXISTS, "table '%s' already exists", name);
        goto out;
    }
    keel__clear_error();
    t.id = db->next_id;
    uint8_t ckey[5 + KEEL_DB_MAX_TABLE_NAME];
    size_t cklen = catalog_key(name, ckey);
    kdb_buf val = {0}, next = {0};
    catalog_value(&t, &val);
    kdb_enc_uint(&next, (uint64_t)t.id + 1);
    if (val.failed || next.failed) {
        st = keel__fail(KEEL_ENOMEM, "catalog entry");
    } else {
        keel_append_item items[2] = {
            {.key = ckey, .key_len = (uint32_t)cklen, .value = val.p, .value_len = val.len,
             .src_fd = -1, .hash = keel_hash(ckey, cklen)},
            {.key = next_id_key, .key_len = sizeof next_id_key, .value = next.p,
             .value_len = next.len, .src_fd = -1, .hash = keel_hash(next_id_key, sizeof next_id_key)},
        };
        st = keel__append_group(db->s, items, 2);
    }
    if (st == KEEL_OK) {
        pthread_rwlock_wrlock(&db->cat_lock);
        st = tables_add(db, &t);
        if (st == KEEL_OK) db->next_id = t.id + 1;
        pthread_rwlock_unlock(&db->cat_lock);
    }
    kdb_buf_free(&val);
    kdb_buf_free(&next);
out:
    keel__writer_leave(db->s);
    return st;
}

keel_status keel_db_delete_table(keel_db *db, const char *name) {
    kdb_table t;
    keel_status st = kdb_table_get(db, name, &t);
    if (st != KEEL_OK) return st;
    if ((st = keel__writer_enter(db->s)) != KEEL_OK) return st;
    if ((st = kdb_table_get(db, name, &t)) != KEEL_OK) goto out;
    if ((st = kdb_db_fresh_order_locked(db)) != KEEL_OK) goto out;
    /* One tombstone per item and one for the catalog entry, as one atomic group. The
     * writer lock keeps the ordered index still while the keys are collected; the keys
     * themselves are read from the mapping, where committed bytes never change. */
    size_t cap = (size_t)t.items + 1, n = 0;
    keel_append_item *items = calloc(cap, sizeof *items);
    if (!items) {
        st = keel__fail(KEEL_ENOMEM, "deleting %llu items", (unsigned long long)t.items);
        goto out;
    }
    kdb_keysrc src = kdb_db_keysrc(db);
    uint8_t lo[8] = {0};
    lo[0] = (uint8_t)(t.id >> 24), lo[1] = (uint8_t)(t.id >> 16), lo[2] = (uint8_t)(t.id >> 8),
    lo[3] = (uint8_t)t.id;
    kdb_opos pos;
    bool more = kdb_order_seek(db->order, lo, sizeof lo, &src, &pos);
    while (more && n + 1 < cap) {
        kdb_oent e = kdb_order_get(&pos);
        if ((uint32_t)(e.prefix >> 32) != t.id) break;
        size_t klen;
        const uint8_t *key = kdb_key_at(db->s, e.off, &klen);
        items[n++] = (keel_append_item){.key = key, .key_len = (uint32_t)klen,
                                        .flags = KEEL_FLAG_TOMBSTONE, .src_fd = -1,
                                        .hash = keel_hash(key, klen)};
        more = kdb_order_next(db->order, &pos);
    }
    uint8_t ckey[5 + KEEL_DB_MAX_TABLE_NAME];
    size_t cklen = catalog_key(name, ckey);
    items[n++] = (keel_append_item){.key = ckey, .key_len = (uint32_t)cklen,
                                    .flags = KEEL_FLAG_TOMBSTONE, .src_fd = -1,
                                    .hash = keel_hash(ckey, cklen)};
    st = keel__append_group(db->s, items, n);
    free(items);
    if (st == KEEL_OK) {
        pthread_rwlock_wrlock(&db->cat_lock);
        for (size_t i = 0; i < db->ntables; i++) {
            if (db->tables[i].id == t.id) {
                memmove(&db->tables[i], &db->tables[i + 1],
                        (db->ntables - i - 1) * sizeof db->tables[0]);
                db->ntables--;
                break;
            }
        }
        pthread_rwlock_unlock(&db->cat_lock);
    }
out:
    keel__writer_leave(db->s);
    return st;
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
        } else if (table != KDB_TABLE_CATALOG) {
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
