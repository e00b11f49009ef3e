/*
 * db_index_ops.c: the operations on indexes and TTL: index definitions checked (at table
 * creation and UpdateTable), a global index added and backfilled, an index dropped,
 * UpdateTimeToLive, the reaper of expired items, and per-table statistics.
 *
 * Every change of definitions happens under the store's writer lock and is one atomic
 * append: the table's catalog entry (with its indexes and TTL attribute) rewritten,
 * together with the next-id record when an index takes an id, or with a tombstone for
 * every entry of a dropped index. The in-memory arrays change after the append succeeds,
 * under cat_lock. The backfill and the reaper work in batches, each one writer-lock hold
 * and one atomic group, so writers interleave; both re-read what they act on under the
 * lock (an index entry is a function of the current item; a reaped item must still be
 * expired), so they never undo a concurrent write.
 */
#include "db/db_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACKFILL_BATCH 256
#define REAP_BATCH 128
#define REAP_SCAN 4096

/* ---- definitions ---------------------------------------------------------------------------- */

static bool same_name(const char *a, const char *b) { return a && b && a[0] && strcmp(a, b) == 0; }

/* An attribute used as a key by the table or another index must have one type. */
static keel_status type_agrees(keel_db *db, const kdb_table *t, const char *name,
                               keel_db_keytype type) {
    keel_db_keytype other = KEEL_DB_KEY_NONE;
    if (same_name(t->pk, name)) other = t->pkt;
    if (same_name(t->sk, name)) other = t->skt;
    for (size_t i = 0; i < db->nindexes; i++) {
        const kdb_index *x = &db->indexes[i];
        if (x->owner != t->id) continue;
        if (same_name(x->pk, name)) other = x->pkt;
        if (same_name(x->sk, name)) other = x->skt;
    }
    if (other && other != type)
        return keel__fail(KEEL_EVALIDATION, "One or more parameter values were invalid: "
                          "attribute '%s' is defined as both %c and %c", name, (char)other,
                          (char)type);
    return KEEL_OK;
}

/* Check def against table t and the indexes db already has for it; fill *x. */
static keel_status check_def(keel_db *db, const kdb_table *t, const keel_db_index_def *def,
                             kdb_index *x) {
    memset(x, 0, sizeof *x);
    keel_status st = kdb_check_name("index name", def->name);
    if (st == KEEL_OK) st = kdb_check_key_def("index partition key", def->pk_name, def->pk_type);
    if (st == KEEL_OK && (def->sk_name || def->sk_type))
        st = kdb_check_key_def("index sort key", def->sk_name, def->sk_type);
    if (st != KEEL_OK) return st;
    if (kdb_index_find(db, t->id, def->name))
        return keel__fail(KEEL_EVALIDATION, "One or more parameter values were invalid: "
                          "Duplicate index name: %s", def->name);
    if (def->sk_name && strcmp(def->sk_name, def->pk_name) == 0)
        return keel__fail(KEEL_EVALIDATION, "index %s: the partition key and the sort key are "
                          "both '%s'", def->name, def->pk_name);
    size_t nl = 0, ng = 0, ninc = 0;
    for (size_t i = 0; i < db->nindexes; i++) {
        const kdb_index *o = &db->indexes[i];
        if (o->owner != t->id) continue;
        o->local ? nl++ : ng++;
        ninc += o->ninclude;
    }
    if (def->local) {
        if (!t->skt)
            return keel__fail(KEEL_EVALIDATION, "One or more parameter values were invalid: "
                              "Table KeySchema does not have a range key, which is required "
                              "when specifying a LocalSecondaryIndex");
        if (strcmp(def->pk_name, t->pk) != 0 || def->pk_type != t->pkt || !def->sk_name)
            return keel__fail(KEEL_EVALIDATION, "One or more parameter values were invalid: "
                              "Index KeySchema of local index %s must have the table's hash "
                              "key and a range key", def->name);
        if (nl >= KEEL_DB_MAX_LSI)
            return keel__fail(KEEL_EVALIDATION, "One or more parameter values were invalid: "
                              "Number of LocalSecondaryIndexes exceeds per-table limit of %u",
                              KEEL_DB_MAX_LSI);
    } else if (ng >= KEEL_DB_MAX_GSI) {
        return keel__fail(KEEL_EVALIDATION, "One or more parameter values were invalid: "
                          "Number of GlobalSecondaryIndexes exceeds per-table limit of %u",
                          KEEL_DB_MAX_GSI);
    }
    if ((st = type_agrees(db, t, def->pk_name, def->pk_type)) != KEEL_OK) return st;
    if (def->sk_name && (st = type_agrees(db, t, def->sk_name, def->sk_type)) != KEEL_OK)
        return st;
    if (def->projection < KEEL_DB_PROJECT_ALL || def->projection > KEEL_DB_PROJECT_INCLUDE)
        return keel__fail(KEEL_EVALIDATION, "index %s: unknown projection type %d", def->name,
                          (int)def->projection);
    if ((def->projection == KEEL_DB_PROJECT_INCLUDE) != (def->ninclude > 0))
        return keel__fail(KEEL_EVALIDATION, "One or more parameter values were invalid: "
                          "NonKeyAttributes must be given with ProjectionType INCLUDE, and only "
                          "then (index %s)", def->name);
    if (ninc + def->ninclude > KEEL_DB_MAX_INCLUDE)
        return keel__fail(KEEL_EVALIDATION, "One or more parameter values were invalid: "
                          "ProjectedAttributes exceeds the limit of %u", KEEL_DB_MAX_INCLUDE);
    size_t total = 0;
    for (size_t i = 0; i < def->ninclude; i++) {
        size_t n = def->include && def->include[i] ? strlen(def->include[i]) : 0;
        if (n == 0 || n > 255)
            return keel__fail(KEEL_EVALIDATION, "index %s: a NonKeyAttributes name must be 1 "
                              "to 255 bytes", def->name);
        total += n + 1;
    }
    if (total > sizeof ((keel_db_index_info *)0)->include)
        return keel__fail(KEEL_EVALIDATION, "index %s: NonKeyAttributes names total over %zu "
                          "bytes", def->name, sizeof ((keel_db_index_info *)0)->include);
    snprintf(x->name, sizeof x->name, "%s", def->name);
    snprintf(x->pk, sizeof x->pk, "%s", def->pk_name);
    x->pkt = def->pk_type;
    if (def->sk_name) {
        snprintf(x->sk, sizeof x->sk, "%s", def->sk_name);
        x->skt = def->sk_type;
    }
    x->local = def->local != 0;
    x->owner = t->id;
    x->proj = def->projection;
    if (def->ninclude) {
        if (!(x->include = malloc(total))) return keel__fail(KEEL_ENOMEM, "an index");
        for (size_t i = 0; i < def->ninclude; i++) {
            size_t n = strlen(def->include[i]) + 1;
            memcpy(x->include + x->include_len, def->include[i], n);
            x->include_len += n;
        }
        x->ninclude = def->ninclude;
    }
    return KEEL_OK;
}

keel_status kdb_indexes_define(keel_db *db, const kdb_table *t, const keel_db_index_def *defs,
                               size_t n, uint32_t first_id) {
    if (n && !defs) return keel__fail(KEEL_EINVAL, "index definitions are NULL");
    keel_status st = KEEL_OK;
    for (size_t i = 0; i < n && st == KEEL_OK; i++) {
        kdb_index x;
        if ((st = check_def(db, t, &defs[i], &x)) != KEEL_OK) break;
        x.id = first_id + (uint32_t)i;
        pthread_rwlock_wrlock(&db->cat_lock);
        st = kdb_indexes_add(db, &x);
        pthread_rwlock_unlock(&db->cat_lock);
        free(x.include);
    }
    if (st != KEEL_OK) kdb_indexes_drop_owner(db, t->id);
    return st;
}

void kdb_indexes_drop_owner(keel_db *db, uint32_t owner) {
    pthread_rwlock_wrlock(&db->cat_lock);
    for (size_t i = db->nindexes; i-- > 0;)
        if (db->indexes[i].owner == owner) kdb_indexes_remove(db, db->indexes[i].id);
    pthread_rwlock_unlock(&db->cat_lock);
}

/* The live table named `name` (write_lock held: the array changes only under it). */
static kdb_table *live_table(keel_db *db, const char *name) {
    for (size_t i = 0; i < db->ntables; i++)
        if (strcmp(db->tables[i].name, name) == 0) return &db->tables[i];
    return NULL;
}

/* ---- backfill --------------------------------------------------------------------------------- */

/* One batch: the index entries of up to BACKFILL_BATCH items after *last (write_lock
 * held, order fresh). *done when the table's range is over. */
static keel_status backfill_batch(keel_db *db, const kdb_index *x, const kdb_table *t,
                                  kdb_key *last, bool *started, bool *done) {
    keel_append_item *items = calloc(BACKFILL_BATCH, sizeof *items);
    kdb_buf *bufs = calloc(2 * BACKFILL_BATCH, sizeof *bufs);
    kdb_key *tk = malloc(2 * sizeof *tk), *ik = tk + 1;
    keel_status st = KEEL_OK;
    size_t m = 0, seen = 0;
    if (!items || !bufs || !tk) {
        st = keel__fail(KEEL_ENOMEM, "an index backfill batch");
        goto out;
    }
    kdb_keysrc src = kdb_db_keysrc(db);
    kdb_opos pos;
    bool more;
    if (*started) {
        more = kdb_order_seek(db->order, last->b, last->len, &src, &pos);
        size_t klen;
        const uint8_t *k = more ? kdb_key_at(db->s, kdb_order_get(&pos).off, &klen) : NULL;
        if (k && klen == last->len && memcmp(k, last->b, klen) == 0)
            more = kdb_order_next(db->order, &pos);
    } else {
        uint8_t lo[8] = {(uint8_t)(t->id >> 24), (uint8_t)(t->id >> 16), (uint8_t)(t->id >> 8),
                         (uint8_t)t->id, 0, 0, 0, 0};
        more = kdb_order_seek(db->order, lo, sizeof lo, &src, &pos);
    }
    while (more && seen < BACKFILL_BATCH) {
        kdb_oent e = kdb_order_get(&pos);
        if ((uint32_t)(e.prefix >> 32) != t->id) {
            more = false;
            break;
        }
        keel_snap_entry se;
        keel__entry_at(db->s->map->base, db->s->align, e.off, &se);
        const uint8_t *item = db->s->map->base + se.voff;
        size_t klen;
        const uint8_t *key = kdb_key_at(db->s, e.off, &klen);
        memcpy(tk->b, key, klen);
        tk->len = klen;
        keel_status kst;
        /* An item whose index key is invalid (an empty string) stays out, as in DynamoDB. */
        if (kdb_index_key(x, tk, item, se.vlen, ik, &kst) == 1) {
            kdb_buf_put(&bufs[2 * m], ik->b, ik->len);
            const uint8_t *val = item;
            size_t vlen = se.vlen;
            if (x->proj != KEEL_DB_PROJECT_ALL) {
                if ((st = kdb_index_project(x, t, item, se.vlen, &bufs[2 * m + 1])) != KEEL_OK)
                    goto out;
                val = bufs[2 * m + 1].p, vlen = bufs[2 * m + 1].len;
            }
            if (bufs[2 * m].failed) {
                st = keel__fail(KEEL_ENOMEM, "an index key");
                goto out;
            }
            items[m] = (keel_append_item){.key = bufs[2 * m].p, .key_len = (uint32_t)ik->len,
                                          .value = val, .value_len = vlen, .src_fd = -1,
                                          .hash = keel_hash(bufs[2 * m].p, ik->len)};
            m++;
        }
        *last = *tk;
        *started = true;
        seen++;
        more = kdb_order_next(db->order, &pos);
    }
    *done = !more;
    if (m) st = keel__append_group(db->s, items, m);
out:
    for (size_t i = 0; bufs && i < 2 * BACKFILL_BATCH; i++) kdb_buf_free(&bufs[i]);
    free(bufs);
    free(items);
    free(tk);
    return st;
}

/* Build index `id`'s entries from its table's items, then clear its "creating" mark. */
static keel_status backfill(keel_db *db, uint32_t id) {
    kdb_key *last = malloc(sizeof *last);
    if (!last) return keel__fail(KEEL_ENOMEM, "an index backfill");
    bool started = false, done = false;
    keel_status st = KEEL_OK;
    while (st == KEEL_OK) {
        if ((st = keel__writer_enter(db->s)) != KEEL_OK) break;
        kdb_index *x = kdb_index_by_id(db, id);
        kdb_table *t = x ? kdb_table_by_id(db, x->owner) : NULL;
        if (!x || !t) st = keel__fail(KEEL_ENOTABLE, "the index was dropped while it was built");
        if (st == KEEL_OK) st = kdb_db_fresh_order_locked(db);
        if (st == KEEL_OK && !done) st = backfill_batch(db, x, t, last, &started, &done);
        if (st == KEEL_OK && done) {
            pthread_rwlock_wrlock(&db->cat_lock);
            x->creating = false;
            pthread_rwlock_unlock(&db->cat_lock);
            if ((st = kdb_catalog_write(db, t, 0)) != KEEL_OK) {
                pthread_rwlock_wrlock(&db->cat_lock);
                x->creating = true;
                pthread_rwlock_unlock(&db->cat_lock);
            }
            keel__writer_leave(db->s);
            break;
        }
        keel__writer_leave(db->s);
    }
    free(last);
    return st;
}

keel_status kdb_index_resume(keel_db *db) {
    keel_status st = KEEL_OK;
    for (size_t i = 0; i < db->nindexes && st == KEEL_OK; i++)
        if (db->indexes[i].creating) st = backfill(db, db->indexes[i].id);
    return st;
}

/* ---- UpdateTable ------------------------------------------------------------------------------ */

static keel_status drop_index(keel_db *db, const char *table, const char *name) {
    keel_status st = keel__writer_enter(db->s);
    if (st != KEEL_OK) return st;
    kdb_table *t = live_table(db, table);
    kdb_index *x = t ? kdb_index_find(db, t->id, name) : NULL;
    keel_append_item *items = NULL;
    size_t n = 0, cap = 0;
    kdb_buf val = {0};
    if (!t) st = keel__fail(KEEL_ENOTABLE, "no table named '%.255s'", table);
    else if (!x) st = keel__fail(KEEL_EVALIDATION, "Requested resource not found: index %.255s "
                                 "of table %s", name, table);
    if (st == KEEL_OK) st = kdb_db_fresh_order_locked(db);
    if (st == KEEL_OK) st = kdb_collect_range(db, x->id, &items, &n, &cap);
    if (st == KEEL_OK && n == cap) {
        keel_append_item *v = realloc(items, (cap + 1) * sizeof *v);
        if (!v) st = keel__fail(KEEL_ENOMEM, "dropping an index");
        else items = v;
    }
    if (st == KEEL_OK) {
        uint8_t ckey[5 + KEEL_DB_MAX_TABLE_NAME];
        size_t cklen;
        kdb_catalog_entry(db, t, x->id, ckey, &cklen, &val);
        if (val.failed) st = keel__fail(KEEL_ENOMEM, "catalog entry");
        items[n++] = (keel_append_item){.key = ckey, .key_len = (uint32_t)cklen, .value = val.p,
                                        .value_len = val.len, .src_fd = -1,
                                        .hash = keel_hash(ckey, cklen)};
        if (st == KEEL_OK) st = keel__append_group(db->s, items, n);
    }
    if (st == KEEL_OK) {
        pthread_rwlock_wrlock(&db->cat_lock);
        kdb_indexes_remove(db, x->id);
        pthread_rwlock_unlock(&db->cat_lock);
    }
    kdb_buf_free(&val);
    free(items);
    keel__writer_leave(db->s);
    return st;
}

/* Is `x` (an index still being created) what `def` asks for? */
static bool same_def(const kdb_index *x, const keel_db_index_def *def) {
    if (x->local != (def->local != 0) || strcmp(x->pk, def->pk_name) != 0 ||
        x->pkt != def->pk_type || strcmp(x->sk, def->sk_name ? def->sk_name : "") != 0 ||
        x->skt != (def->sk_name ? def->sk_type : KEEL_DB_KEY_NONE) ||
        x->proj != def->projection || x->ninclude != def->ninclude)
        return false;
    const char *inc = x->include;
    for (size_t i = 0; i < def->ninclude; i++, inc += strlen(inc) + 1)
        if (!inc || !def->include || !def->include[i] || strcmp(inc, def->include[i]) != 0)
            return false;
    return true;
}

static keel_status create_index(keel_db *db, const char *table, const keel_db_index_def *def) {
    if (def->local)
        return keel__fail(KEEL_EVALIDATION, "One or more parameter values were invalid: local "
                          "secondary indexes can only be created with their table");
    keel_status st = keel__writer_enter(db->s);
    if (st != KEEL_OK) return st;
    kdb_table *t = live_table(db, table);
    uint32_t id = db->next_id;
    kdb_index x;
    memset(&x, 0, sizeof x);
    if (!t) st = keel__fail(KEEL_ENOTABLE, "no table named '%.255s'", table);
    /* A backfill that failed (a full disk, an I/O error) leaves its index "creating", as a
     * crash does; a writable open restarts it, and so does asking again for the same
     * index. Without this, the retry was "Duplicate index name" and the index stayed
     * unreadable until the database was reopened. */
    kdb_index *old = t && def->name ? kdb_index_find(db, t->id, def->name) : NULL;
    if (st == KEEL_OK && old && old->creating) {
        uint32_t old_id = old->id;
        bool same = same_def(old, def);
        keel__writer_leave(db->s);
        if (!same)
            return keel__fail(KEEL_EVALIDATION, "One or more parameter values were invalid: "
                              "index %s is still being created, with another definition (an "
                              "earlier backfill failed); drop it first", def->name);
        return backfill(db, old_id);
    }
    if (st == KEEL_OK && id > KDB_TABLE_LAST)
        st = keel__fail(KEEL_EVALIDATION, "no index ids are left in this database");
    if (st == KEEL_OK) st = check_def(db, t, def, &x);
    if (st == KEEL_OK) {
        x.id = id;
        x.creating = true;
        pthread_rwlock_wrlock(&db->cat_lock);
        st = kdb_indexes_add(db, &x);
        pthread_rwlock_unlock(&db->cat_lock);
    }
    free(x.include);
    if (st == KEEL_OK) {
        if ((st = kdb_catalog_write(db, t, id + 1)) == KEEL_OK) {
            db->next_id = id + 1;
        } else {
            pthread_rwlock_wrlock(&db->cat_lock);
            kdb_indexes_remove(db, id);
            pthread_rwlock_unlock(&db->cat_lock);
        }
    }
    keel__writer_leave(db->s);
    return st == KEEL_OK ? backfill(db, id) : st;
}

keel_status keel_db_update_table(keel_db *db, const char *table, const keel_db_table_update *u) {
    if (!db || !table || !u) return keel__fail(KEEL_EINVAL, "keel_db_update_table: NULL argument");
    if ((u->create_index != NULL) == (u->delete_index != NULL))
        return keel__fail(KEEL_EVALIDATION, "UpdateTable takes one index update: create or "
                          "delete");
    return u->create_index ? create_index(db, table, u->create_index)
                           : drop_index(db, table, u->delete_index);
}

/* ---- TTL ---------------------------------------------------------------------------------------- */

keel_status keel_db_update_ttl(keel_db *db, const char *table, const char *attribute) {
    if (!db || !table) return keel__fail(KEEL_EINVAL, "keel_db_update_ttl: NULL argument");
    if (attribute && (attribute[0] == '\0' || strlen(attribute) > 255))
        return keel__fail(KEEL_EVALIDATION, "TimeToLiveSpecification: the attribute name must "
                          "be 1 to 255 bytes");
    keel_status st = keel__writer_enter(db->s);
    if (st != KEEL_OK) return st;
    kdb_table *t = live_table(db, table);
    if (!t) {
        st = keel__fail(KEEL_ENOTABLE, "no table named '%.255s'", table);
    } else {
        kdb_table next = *t;
        snprintf(next.ttl, sizeof next.ttl, "%s", attribute ? attribute : "");
        if ((st = kdb_catalog_write(db, &next, 0)) == KEEL_OK) {
            pthread_rwlock_wrlock(&db->cat_lock);
            memcpy(t->ttl, next.ttl, sizeof t->ttl);
            pthread_rwlock_unlock(&db->cat_lock);
        }
    }
    keel__writer_leave(db->s);
    return st;
}

/* kdb_walk_batch's choice for the reaper: the item has expired. */
typedef struct reap_ctx {
    char ttl[256];
    int64_t now;
} reap_ctx;

static bool pick_expired(const uint8_t *item, size_t len, void *ctx) {
    const reap_ctx *c = ctx;
    return kdb_expired(c->ttl, c->now, item, len);
}

/* Reap table `id`: find expired items under the read lock, delete them through the write
 * path (which re-checks expiry under the writer lock), batch after batch. */
static keel_status reap_table(keel_db *db, uint32_t id, uint64_t max, uint64_t *n) {
    kdb_write *w = kdb_writes_alloc(REAP_BATCH);
    kdb_walk *wk = calloc(1, sizeof *wk);
    keel_status st = w && wk ? KEEL_OK : keel__fail(KEEL_ENOMEM, "reaping");
    if (wk) wk->id = id;
    while (st == KEEL_OK && !wk->done && (!max || *n < max)) {
        if ((st = kdb_db_fresh_order(db)) != KEEL_OK) break;
        if ((st = keel__reader_enter(db->s)) != KEEL_OK) break;
        reap_ctx c;
        pthread_rwlock_rdlock(&db->cat_lock);
        kdb_table *t = kdb_table_by_id(db, id);
        if (t) memcpy(c.ttl, t->ttl, sizeof c.ttl);
        pthread_rwlock_unlock(&db->cat_lock);
        if (!t || !c.ttl[0]) {
            keel__reader_leave(db->s);
            break;
        }
        c.now = kdb_now(db);
        uint64_t room = max ? max - *n : UINT64_MAX;
        size_t nw = kdb_walk_batch(db, wk, REAP_SCAN, room < REAP_BATCH ? room : REAP_BATCH,
                                   pick_expired, &c, w);
        keel__reader_leave(db->s);
        if (!nw) continue;
        for (size_t i = 0; i < nw; i++) {
            w[i].kind = KDB_W_DELETE;
            w[i].table = id;
            w[i].reap = true;
        }
        if ((st = kdb_writes_run(db, w, nw)) != KEEL_OK) {
            if (st == KEEL_ENOTABLE) {  /* deleted meanwhile: nothing left to reap */
                keel__clear_error();
                st = KEEL_OK;
            }
            break;
        }
        for (size_t i = 0; i < nw; i++) *n += w[i].prev != NULL;
    }
    free(w);
    free(wk);
    return st;
}

keel_status keel_db_reap_expired(keel_db *db, const char *table, uint64_t max,
                                 uint64_t *reaped_out) {
    uint64_t n = 0;
    if (reaped_out) *reaped_out = 0;
    if (!db) return keel__fail(KEEL_EINVAL, "database handle is NULL");
    keel_status st = KEEL_OK;
    if (table) {
        kdb_table t;
        if ((st = kdb_table_get(db, table, &t)) == KEEL_OK) st = reap_table(db, t.id, max, &n);
    } else {
        /* Every table with TTL; ids are collected first (the array may change). */
        pthread_rwlock_rdlock(&db->cat_lock);
        size_t nt = db->ntables;
        uint32_t *ids = malloc((nt ? nt : 1) * sizeof *ids);
        size_t k = 0;
        for (size_t i = 0; ids && i < nt; i++)
            if (db->tables[i].ttl[0]) ids[k++] = db->tables[i].id;
        pthread_rwlock_unlock(&db->cat_lock);
        if (!ids) return keel__fail(KEEL_ENOMEM, "reaping");
        for (size_t i = 0; i < k && st == KEEL_OK && (!max || n < max); i++)
            st = reap_table(db, ids[i], max, &n);
        free(ids);
    }
    if (reaped_out) *reaped_out = n;
    return st;
}

/* ---- statistics --------------------------------------------------------------------------------- */

keel_status keel_db_get_stats(keel_db *db, const char *table, keel_db_table_stats *out) {
    if (!out) return keel__fail(KEEL_EINVAL, "keel_db_get_stats: out is NULL");
    kdb_table t;
    keel_status st = kdb_table_get(db, table, &t);
    if (st != KEEL_OK) return st;
    memset(out, 0, sizeof *out);
    if ((st = keel__reader_enter(db->s)) != KEEL_OK) return st;
    pthread_rwlock_rdlock(&db->cat_lock);
    kdb_table *live = kdb_table_by_id(db, t.id);
    if (live) {
        out->items = live->items;
        out->bytes = live->bytes;
        memcpy(out->ttl_attribute, live->ttl, sizeof out->ttl_attribute);
        for (int local = 1; local >= 0; local--) {
            for (size_t i = 0; i < db->nindexes; i++) {
                const kdb_index *x = &db->indexes[i];
                if (x->owner != t.id || x->local != (local == 1)) continue;
                keel_db_index_info *o = &out->indexes[out->nindexes++];
                memcpy(o->name, x->name, sizeof o->name);
                memcpy(o->pk_name, x->pk, sizeof o->pk_name);
                memcpy(o->sk_name, x->sk, sizeof o->sk_name);
                o->pk_type = x->pkt;
                o->sk_type = x->skt;
                o->local = x->local;
                o->creating = x->creating;
                o->projection = x->proj;
                if (x->include_len) memcpy(o->include, x->include, x->include_len);
                o->ninclude = x->ninclude;
                o->items = x->items;
                o->bytes = x->bytes;
            }
        }
    }
    pthread_rwlock_unlock(&db->cat_lock);
    keel__reader_leave(db->s);
    return live ? KEEL_OK : keel__fail(KEEL_ENOTABLE, "no table named '%.255s'", table);
}
