/*
 * vec_ops.c: creating, dropping and listing vector indexes (keel_db.h "vector search").
 *
 * A definition is checked, then, under the writer lock, added to db->vix and backfilled
 * (the candidate list filled from the table's entries in the ordered index) under the index
 * lock held for writing, then written to the table's catalog entry in one atomic append; a
 * failed append takes it out again, so memory and file agree. Then the items that hold the
 * attribute as a list of the index's length are stored again as vectors (revector_lists).
 * Dropping is the reverse: out of db->vix, then the catalog entry without it, with
 * tombstones for its graph's checkpoint in the same atomic group. vector.c holds the
 * lists themselves.
 */
#include "db/db_internal.h"
#include "db/vec_hnsw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static keel_status copy_names(const char *what, const char *const *names, size_t n, char **out,
                              size_t *len_out) {
    kdb_buf b = {0};
    for (size_t i = 0; i < n; i++) {
        size_t l = names && names[i] ? strlen(names[i]) : 0;
        if (l == 0 || l > 255) {
            kdb_buf_free(&b);
            return keel__fail(KEEL_EVALIDATION, "%s %zu: a name of 1 to 255 bytes", what, i);
        }
        kdb_buf_put(&b, names[i], l + 1);
    }
    if (b.failed) return keel__fail(KEEL_ENOMEM, "a vector index definition");
    *out = (char *)b.p, *len_out = b.len;
    return KEEL_OK;
}

static keel_status check_def(const keel_db_vector_index_def *d) {
    keel_status st = kdb_check_name("vector index name", d->name);
    if (st != KEEL_OK) return st;
    if (!d->attribute || !d->attribute[0] || strlen(d->attribute) > 255)
        return keel__fail(KEEL_EVALIDATION, "vector index '%s': the vector attribute must be a "
                          "name of 1 to 255 bytes", d->name);
    if (d->dimensions < 1 || d->dimensions > KEEL_DB_MAX_DIMENSIONS)
        return keel__fail(KEEL_EVALIDATION, "vector index '%s': dimensions %u (1 to %u)", d->name,
                          d->dimensions, KEEL_DB_MAX_DIMENSIONS);
    if ((unsigned)d->distance > KEEL_DB_DOT_PRODUCT)
        return keel__fail(KEEL_EVALIDATION, "vector index '%s': unknown distance function",
                          d->name);
    if ((unsigned)d->projection > KEEL_DB_PROJECT_INCLUDE)
        return keel__fail(KEEL_EVALIDATION, "vector index '%s': unknown projection", d->name);
    if (d->m && (d->m < 2 || d->m > KEEL_DB_HNSW_MAX_M))
        return keel__fail(KEEL_EVALIDATION, "vector index '%s': M %u (2 to %u)", d->name, d->m,
                          KEEL_DB_HNSW_MAX_M);
    if (d->ef_construction > KEEL_DB_MAX_EF)
        return keel__fail(KEEL_EVALIDATION, "vector index '%s': ef_construction %u (1 to %u)",
                          d->name, d->ef_construction, KEEL_DB_MAX_EF);
    /* The SearchSchema: each attribute once, at most one HASH element. */
    size_t nhash = 0;
    for (size_t i = 0; i < d->nfilter; i++) {
        const char *a = d->filter_attributes ? d->filter_attributes[i] : NULL;
        for (size_t j = 0; a && j < i; j++)
            if (d->filter_attributes[j] && strcmp(d->filter_attributes[j], a) == 0)
                return keel__fail(KEEL_EVALIDATION, "One or more parameter values were invalid: "
                                  "vector index %s names the SearchSchema attribute %.255s twice",
                                  d->name, a);
        if (!d->filter_kinds) continue;
        if ((unsigned)d->filter_kinds[i] > KEEL_DB_HASH)
            return keel__fail(KEEL_EVALIDATION, "vector index '%s': filter attribute %zu has an "
                              "unknown kind %d", d->name, i, (int)d->filter_kinds[i]);
        nhash += d->filter_kinds[i] == KEEL_DB_HASH;
    }
    if (nhash > 1)
        return keel__fail(KEEL_EVALIDATION, "One or more parameter values were invalid: vector "
                          "index %s has %zu SearchSchema elements of type HASH; at most one is "
                          "allowed", d->name, nhash);
    return KEEL_OK;
}

/* After an index on `attr` (dims elements) of table `id` is created: the items written
 * before it whose attribute is a list of dims elements (DynamoDB's form of a vector) are
 * stored again with it as a float32 vector, so that the index holds them as DynamoDB's
 * backfill would. Like the reaper: keys found under the reader lock, REVECTOR_BATCH at a
 * time, each rewritten through the write path, which converts the item as it is then (a
 * concurrent write is never undone; an item the rule refuses, as a list with a string in
 * it, is left alone, out of the index). A crash between batches leaves the rest as lists,
 * out of the index, until they are written again. */
#define REVECTOR_BATCH 256

/* kdb_walk_batch's choice for the backfill: the attribute is a list of dims elements. */
typedef struct revector_ctx {
    const char *attr;
    size_t alen;
    uint32_t dims;
} revector_ctx;

static bool pick_list(const uint8_t *item, size_t len, void *ctx) {
    const revector_ctx *c = ctx;
    kdb_val v;
    return kdb_item_attr(item, len, c->attr, c->alen, &v) && v.type == KDB_L &&
           v.count == c->dims;
}

static keel_status revector_lists(keel_db *db, uint32_t id, const char *attr, uint32_t dims) {
    kdb_write *w = kdb_writes_alloc(REVECTOR_BATCH);
    kdb_walk *wk = calloc(1, sizeof *wk);
    keel_status st = w && wk ? KEEL_OK : keel__fail(KEEL_ENOMEM, "vector index backfill");
    if (wk) wk->id = id;
    revector_ctx c = {attr, strlen(attr), dims};
    while (st == KEEL_OK && !wk->done) {
        if ((st = kdb_db_fresh_order(db)) != KEEL_OK) break;
        if ((st = keel__reader_enter(db->s)) != KEEL_OK) break;
        size_t nw = kdb_walk_batch(db, wk, SIZE_MAX, REVECTOR_BATCH, pick_list, &c, w);
        keel__reader_leave(db->s);
        for (size_t i = 0; i < nw; i++) {
            w[i].kind = KDB_W_UPDATE;
            w[i].table = id;
            w[i].revector = true;
        }
        if (nw) st = kdb_writes_run(db, w, nw);
        for (size_t i = 0; i < nw; i++) kdb_write_free(&w[i]);
        if (st == KEEL_ENOTABLE) {
            keel__clear_error();    /* the table was deleted meanwhile: nothing to do */
            st = KEEL_OK;
            break;
        }
    }
    free(w);
    free(wk);
    return st;
}

keel_status keel_db_create_vector_index(keel_db *db, const char *table,
                                        const keel_db_vector_index_def *def) {
    if (!db || !table || !def)
        return keel__fail(KEEL_EINVAL, "keel_db_create_vector_index: NULL argument");
    keel_status st = check_def(def);
    if (st != KEEL_OK) return st;
    kdb_vindex *x = calloc(1, sizeof *x);
    if (!x) return keel__fail(KEEL_ENOMEM, "a vector index");
    snprintf(x->name, sizeof x->name, "%s", def->name);
    snprintf(x->attr, sizeof x->attr, "%s", def->attribute);
    x->dims = def->dimensions;
    x->dist = def->distance;
    x->proj = def->projection;
    x->m = def->m ? def->m : KEEL_DB_HNSW_M;
    x->efc = def->ef_construction ? def->ef_construction : KEEL_DB_HNSW_EF_CONSTRUCTION;
    x->ninclude = def->projection == KEEL_DB_PROJECT_INCLUDE ? def->ninclude : 0;
    x->nfilters = def->nfilter;
    for (size_t i = 0; def->filter_kinds && i < def->nfilter; i++)
        if (def->filter_kinds[i] == KEEL_DB_HASH)
            snprintf(x->hash, sizeof x->hash, "%s", def->filter_attributes[i]);
    if ((st = copy_names("include", def->include, x->ninclude, &x->include, &x->include_len)) !=
            KEEL_OK ||
        (st = copy_names("filter attribute", def->filter_attributes, x->nfilters, &x->filters,
                         &x->filters_len)) != KEEL_OK) {
        kdb_vec_free(x);
        return st;
    }
    if ((st = keel__writer_enter(db->s)) != KEEL_OK) {
        kdb_vec_free(x);
        return st;
    }
    kdb_table *t = NULL, copy;
    if ((st = kdb_table_get(db, table, &copy)) == KEEL_OK) t = kdb_table_by_id(db, copy.id);
    if (st != KEEL_OK || !t) {
        if (st == KEEL_OK) st = keel__fail(KEEL_ENOTABLE, "no table named '%.255s'", table);
        goto fail;
    }
    x->owner = t->id;
    if (kdb_vec_find(db, t->id, x->name) || kdb_index_find(db, t->id, x->name)) {
        st = keel__fail(KEEL_EVALIDATION, "table '%s' already has an index named '%s'", t->name,
                        x->name);
        goto fail;
    }
    if (kdb_vec_count(db, t->id) >= KEEL_DB_MAX_VECTOR_INDEXES) {
        st = keel__fail(KEEL_EVALIDATION, "table '%s' has %u vector indexes, the limit", t->name,
                        KEEL_DB_MAX_VECTOR_INDEXES);
        goto fail;
    }
    bool is_key = strcmp(x->attr, t->pk) == 0 || (t->skt && strcmp(x->attr, t->sk) == 0);
    for (size_t i = 0; i < db->nindexes && !is_key; i++) {
        const kdb_index *ix = &db->indexes[i];
        is_key = ix->owner == t->id &&
                 (strcmp(x->attr, ix->pk) == 0 || (ix->skt && strcmp(x->attr, ix->sk) == 0));
    }
    if (is_key) {
        st = keel__fail(KEEL_EVALIDATION, "vector index '%s': the vector attribute '%s' is a key "
                        "of the table or of an index", x->name, x->attr);
        goto fail;
    }
    if ((st = kdb_db_fresh_order_locked(db)) != KEEL_OK) goto fail;
    /* Backfill under the index lock: the writer lock keeps the ordered index and the items
     * still, and the hook (which needs the writer lock too) cannot run meanwhile. */
    pthread_rwlock_wrlock(&db->s->index_lock);
    st = kdb_vec_add(db, x);
    if (st == KEEL_OK) {
        kdb_keysrc src = kdb_db_keysrc(db);
        uint8_t lo[8] = {0};
        lo[0] = (uint8_t)(t->id >> 24), lo[1] = (uint8_t)(t->id >> 16);
        lo[2] = (uint8_t)(t->id >> 8), lo[3] = (uint8_t)t->id;
        kdb_opos pos;
        for (bool more = kdb_order_seek(db->order, lo, sizeof lo, &src, &pos); more;
             more = kdb_order_next(db->order, &pos)) {
            kdb_oent e = kdb_order_get(&pos);
            if ((uint32_t)(e.prefix >> 32) != t->id) break;
            if (!kdb_vec_track(db, x, e.off)) {
                st = keel__fail(KEEL_ENOMEM, "vector index '%s': %zu candidates", x->name, x->n);
                break;
            }
        }
        if (st != KEEL_OK) kdb_vec_take(db, x);
    }
    pthread_rwlock_unlock(&db->s->index_lock);
    if (st != KEEL_OK) goto fail;
    if ((st = kdb_catalog_write(db, t, 0)) != KEEL_OK) {
        pthread_rwlock_wrlock(&db->s->index_lock);
        kdb_vec_take(db, x);
        pthread_rwlock_unlock(&db->s->index_lock);
        goto fail;
    }
    uint32_t id = t->id, dims = x->dims;
    char attr[256];
    memcpy(attr, x->attr, sizeof attr);
    keel__writer_leave(db->s);
    /* The index exists from here on; its lists become vectors after it (the writer lock
     * is taken batch by batch, so other writers are not held up for the whole table). */
    return revector_lists(db, id, attr, dims);
fail:
    keel__writer_leave(db->s);
    kdb_vec_free(x);
    return st;
}

keel_status keel_db_drop_vector_index(keel_db *db, const char *table, const char *name) {
    if (!db || !table || !name)
        return keel__fail(KEEL_EINVAL, "keel_db_drop_vector_index: NULL argument");
    keel_status st = keel__writer_enter(db->s);
    if (st != KEEL_OK) return st;
    kdb_table copy;
    kdb_table *t = NULL;
    kdb_vindex *x = NULL;
    if ((st = kdb_table_get(db, table, &copy)) != KEEL_OK) goto out;
    t = kdb_table_by_id(db, copy.id);
    if (!t || !(x = kdb_vec_find(db, t->id, name))) {
        st = keel__fail(KEEL_EVALIDATION, "table '%s' has no vector index named '%.255s'", table,
                        name);
        goto out;
    }
    /* Its checkpoint's chunks are tombstoned in the catalog entry's group: a crash leaves
     * the index with its checkpoint, or neither. */
    kdb_tombs tombs;
    if ((st = kdb_hnsw_tombstones(db, t->id, x->name, &tombs)) != KEEL_OK) goto out;
    pthread_rwlock_wrlock(&db->s->index_lock);
    kdb_vec_take(db, x);
    pthread_rwlock_unlock(&db->s->index_lock);
    if ((st = kdb_catalog_write_with(db, t, 0, tombs.items, tombs.n)) != KEEL_OK) {
        pthread_rwlock_wrlock(&db->s->index_lock);
        keel_status st2 = kdb_vec_add(db, x);
        pthread_rwlock_unlock(&db->s->index_lock);
        if (st2 != KEEL_OK) kdb_vec_free(x);
    } else {
        kdb_vec_free(x);
    }
    kdb_tombs_free(&tombs);
out:
    keel__writer_leave(db->s);
    return st;
}

keel_status keel_db_list_vector_indexes(keel_db *db, const char *table,
                                        keel_db_vector_index_info *out, size_t cap,
                                        size_t *n_out) {
    if (!db || !table || !n_out || (cap && !out))
        return keel__fail(KEEL_EINVAL, "keel_db_list_vector_indexes: NULL argument");
    kdb_table t;
    keel_status st = kdb_table_get(db, table, &t);
    if (st != KEEL_OK) return st;
    if ((st = keel__reader_enter(db->s)) != KEEL_OK) return st;
    size_t n = 0;
    for (size_t i = 0; i < db->nvix; i++) {
        const kdb_vindex *x = db->vix[i];
        if (x->owner != t.id) continue;
        if (n < cap) {
            keel_db_vector_index_info *o = &out[n];
            memset(o, 0, sizeof *o);
            memcpy(o->name, x->name, sizeof o->name);
            memcpy(o->attribute, x->attr, sizeof o->attribute);
            o->dimensions = x->dims;
            o->distance = x->dist;
            o->projection = x->proj;
            o->items = x->n;
            kdb_hnsw_info(x, o);
        }
        n++;
    }
    keel__reader_leave(db->s);
    *n_out = n;
    return KEEL_OK;
}
