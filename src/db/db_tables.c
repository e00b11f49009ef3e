/*
 * db_tables.c: the operations that change a database's set of tables: open (which
 * finishes an index backfill a crash interrupted), compaction (which reaps expired items
 * first, so that their space is reclaimed), table creation with its secondary indexes, and
 * table deletion with its indexes' entries.
 *
 * Each is one critical section under the store's writer lock and one atomic append: a new
 * table's catalog entry (its indexes and TTL inside) with the next-id record; a deleted
 * table's catalog tombstone with a tombstone for every item, every index entry and every
 * chunk of its vector graphs' checkpoints. The in-memory catalog (db->tables, db->indexes)
 * changes after the append succeeds, under cat_lock, so readers never see a table the file
 * does not have. Compaction first tombstones checkpoint chunks no vector index owns.
 */
#include "db/db_internal.h"
#include "db/vec_hnsw.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* Open, then backfill again (from the start) any index a crash left "creating". */
static keel_status open_and_resume(const char *path, const keel_db_options *opts, bool memory,
                                   keel_db **db_out) {
    keel_status st = kdb_db_open_path(path, opts, memory, db_out);
    if (st != KEEL_OK) return st;
    if ((!opts || opts->mode != KEEL_OPEN_READONLY) &&
        (st = kdb_index_resume(*db_out)) != KEEL_OK) {
        keel_db_free(*db_out);
        *db_out = NULL;
    }
    return st;
}

keel_status keel_db_open(const char *path, const keel_db_options *opts, keel_db **db_out) {
    if (!path) return keel__fail(KEEL_EINVAL, "keel_db_open: path is NULL");
    return open_and_resume(path, opts, false, db_out);
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
    keel_status st = open_and_resume(path, &o, true, db_out);
    close(fd);
    return st;
}

keel_status keel_db_compact(keel_db *db, keel_progress_fn progress, void *ctx) {
    if (!db) return keel__fail(KEEL_EINVAL, "database handle is NULL");
    if (db->memory)
        return keel__fail(KEEL_EINVAL, "an in-memory database has no file to compact into");
    /* Expired items are reaped first, so that compaction reclaims their space. */
    keel_status st = keel_db_reap_expired(db, NULL, 0, NULL);
    if (st != KEEL_OK && st != KEEL_EREADONLY) return st;
    /* Changed vector graphs are checkpointed first, so the compacted file carries their
     * newest checkpoint and the space of the older ones is reclaimed now. */
    if (st == KEEL_OK && keel__writer_enter(db->s) == KEEL_OK) {
        kdb_hnsw_checkpoint_all(db);
        /* Checkpoint chunks no live index owns (a file written before drops tombstoned
         * them) are tombstoned, so compaction does not copy them. */
        size_t dropped;
        st = kdb_hnsw_drop_orphans(db, &dropped);
        keel__writer_leave(db->s);
        if (st != KEEL_OK) return st;
    }
    return keel_compact(db->s, progress, ctx);
}

keel_status keel_db_create_table(keel_db *db, const char *name, const keel_db_schema *schema) {
    return keel_db_create_table_ex(db, name, schema, NULL, 0);
}

keel_status keel_db_create_table_ex(keel_db *db, const char *name, const keel_db_schema *schema,
                                    const keel_db_index_def *indexes, size_t nindexes) {
    if (!db || !schema) return keel__fail(KEEL_EINVAL, "keel_db_create_table: NULL argument");
    if (nindexes > KEEL_DB_MAX_LSI + KEEL_DB_MAX_GSI)
        return keel__fail(KEEL_EVALIDATION, "%zu indexes (at most %u local and %u global)",
                          nindexes, KEEL_DB_MAX_LSI, KEEL_DB_MAX_GSI);
    keel_status st = kdb_check_name("table name", name);
    if (st == KEEL_OK) st = kdb_check_key_def("partition key", schema->pk_name, schema->pk_type);
    if (st == KEEL_OK && (schema->sk_name || schema->sk_type != KEEL_DB_KEY_NONE)) {
        st = kdb_check_key_def("sort key", schema->sk_name, schema->sk_type);
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
    if (db->next_id > KDB_TABLE_LAST - nindexes) {
        st = keel__fail(KEEL_EVALIDATION, "no table ids are left in this database (next id %u)",
                        db->next_id);
        goto out;
    }
    t.id = db->next_id;
    /* The indexes take the ids after the table's; all are in the one catalog entry. */
    uint32_t next = t.id + 1 + (uint32_t)nindexes;
    if ((st = kdb_indexes_define(db, &t, indexes, nindexes, t.id + 1)) != KEEL_OK) goto out;
    st = kdb_catalog_write(db, &t, next);
    if (st == KEEL_OK) {
        pthread_rwlock_wrlock(&db->cat_lock);
        st = kdb_tables_add(db, &t);
        if (st == KEEL_OK) db->next_id = next;
        pthread_rwlock_unlock(&db->cat_lock);
    }
    if (st != KEEL_OK) kdb_indexes_drop_owner(db, t.id);
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
    /* One tombstone per item, per index entry and one for the catalog entry, as one
     * atomic group. The writer lock keeps the ordered index still while the keys are
     * collected; the keys themselves are read from the mapping, where committed bytes
     * never change. */
    size_t cap = 0, n = 0;
    keel_append_item *items = NULL;
    st = kdb_collect_range(db, t.id, &items, &n, &cap);
    for (size_t i = 0; i < db->nindexes && st == KEEL_OK; i++)
        if (db->indexes[i].owner == t.id)
            st = kdb_collect_range(db, db->indexes[i].id, &items, &n, &cap);
    /* ... and one for each chunk of its vector graphs' checkpoints (vec_hnsw_ckpt.c). */
    kdb_tombs tombs = {0};
    if (st == KEEL_OK) st = kdb_hnsw_tombstones(db, t.id, NULL, &tombs);
    if (st == KEEL_OK && n + tombs.n + 1 > cap) {
        keel_append_item *v = realloc(items, (n + tombs.n + 1) * sizeof *v);
        if (!v) st = keel__fail(KEEL_ENOMEM, "deleting %llu items", (unsigned long long)t.items);
        else items = v;
    }
    if (st != KEEL_OK) {
        free(items);
        kdb_tombs_free(&tombs);
        goto out;
    }
    if (tombs.n) memcpy(items + n, tombs.items, tombs.n * sizeof *items);
    n += tombs.n;
    uint8_t ckey[5 + KEEL_DB_MAX_TABLE_NAME];
    size_t cklen;
    kdb_buf unused = {0};
    kdb_catalog_entry(db, &t, 0, ckey, &cklen, &unused);
    kdb_buf_free(&unused);
    items[n++] = (keel_append_item){.key = ckey, .key_len = (uint32_t)cklen,
                                    .flags = KEEL_FLAG_TOMBSTONE, .src_fd = -1,
                                    .hash = keel_hash(ckey, cklen)};
    st = keel__append_group(db->s, items, n);
    free(items);
    kdb_tombs_free(&tombs);
    if (st == KEEL_OK) {
        pthread_rwlock_wrlock(&db->cat_lock);
        kdb_tables_remove(db, t.id);
        pthread_rwlock_unlock(&db->cat_lock);
        kdb_indexes_drop_owner(db, t.id);
        pthread_rwlock_wrlock(&db->s->index_lock);
        kdb_vec_drop_owner(db, t.id);
        pthread_rwlock_unlock(&db->s->index_lock);
    }
out:
    keel__writer_leave(db->s);
    return st;
}

