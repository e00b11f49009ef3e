/*
 * vector.c: vector indexes (keel_db.h "vector search"): their definitions in the catalog,
 * their in-memory candidate lists. vec_ops.c creates and drops them, vec_search.c searches
 * them. This file calls nothing of db.c (which calls it from the hook and the rebuild).
 *
 * A definition lives in its table's catalog entry, under "vindexes" (docs/FORMAT.md), so
 * it is written and removed atomically with the rest of the table's catalog entry and a
 * crash leaves either the old or the new catalog. The candidate list is derived: for each
 * item of the table whose attribute is a float32 vector of the index's dimensions, the
 * trailer offset of its entry and the offset of its payload in the mapping. A search walks
 * this flat array, never the B+tree. It is built at open and after a reload (compaction) from
 * the ordered index's entries (kdb_vec_rebuild), then kept current by the store's publish
 * hook (kdb_vec_publish), which runs under the index lock held for writing: a replaced or
 * deleted entry leaves the list by its trailer (a hash map from trailer to slot; the last
 * slot moves into the hole), a new entry joins it. Searches hold the index lock for reading,
 * so they see every list as of one moment. Out of memory in the hook leaves the ordered
 * index stale (db.c rebuilds it and, through kdb_vec_rebuild, the lists) rather than a list
 * that silently lacks an item.
 *
 * Invariants: every slot's trailer is in the hash map with that slot; tr[] holds no
 * duplicates; every candidate's payload is dims * 4 bytes inside the mapping.
 */
#include "db/db_internal.h"
#include "db/vec_hnsw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const dist_names[] = {"COSINE", "EUCLIDEAN", "DOT_PRODUCT"};
static const char *const proj_names[] = {"ALL", "KEYS_ONLY", "INCLUDE"};

/* ---- the candidate lists ------------------------------------------------------------------ */

static size_t hslot(const kdb_vindex *x, uint64_t tr) {
    uint64_t h = tr * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 17) & (x->hcap - 1);
}

static bool hgrow(kdb_vindex *x) {
    size_t cap = x->hcap ? x->hcap * 2 : 64;
    uint64_t *k = calloc(cap, sizeof *k);
    uint32_t *v = malloc(cap * sizeof *v);
    if (!k || !v) {
        free(k);
        free(v);
        return false;
    }
    uint64_t *ok = x->hkey;
    uint32_t *ov = x->hval;
    size_t ocap = x->hcap;
    x->hkey = k, x->hval = v, x->hcap = cap;
    for (size_t i = 0; i < ocap; i++) {
        if (!ok[i]) continue;
        size_t j = hslot(x, ok[i]);
        while (k[j]) j = (j + 1) & (cap - 1);
        k[j] = ok[i], v[j] = ov[i];
    }
    free(ok);
    free(ov);
    return true;
}

static size_t hfind(const kdb_vindex *x, uint64_t tr) {
    if (!x->hcap) return SIZE_MAX;
    for (size_t j = hslot(x, tr);; j = (j + 1) & (x->hcap - 1)) {
        if (!x->hkey[j]) return SIZE_MAX;
        if (x->hkey[j] == tr) return j;
    }
}

/* Remove map slot j, shifting later members of its probe chain back (no tombstones). */
static void hdel(kdb_vindex *x, size_t j) {
    size_t m = x->hcap - 1;
    x->hkey[j] = 0;
    for (size_t i = (j + 1) & m; x->hkey[i]; i = (i + 1) & m) {
        size_t home = hslot(x, x->hkey[i]);
        /* Move i to j when its home is not in the cyclic range (j, i]. */
        if ((i > j && (home <= j || home > i)) || (i < j && home <= j && home > i)) {
            x->hkey[j] = x->hkey[i], x->hval[j] = x->hval[i];
            x->hkey[i] = 0;
            j = i;
        }
    }
}

static bool cand_add(kdb_vindex *x, uint64_t tr, uint64_t pay) {
    if ((x->n + 1) * 2 > x->hcap && !hgrow(x)) return false;
    if (x->n == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 256;
        uint64_t *a = realloc(x->tr, cap * sizeof *a);
        if (!a) return false;
        x->tr = a;
        uint64_t *b = realloc(x->pay, cap * sizeof *b);
        if (!b) return false;
        x->pay = b;
        x->cap = cap;
    }
    size_t j = hslot(x, tr);
    while (x->hkey[j]) j = (j + 1) & (x->hcap - 1);
    x->hkey[j] = tr, x->hval[j] = (uint32_t)x->n;
    x->tr[x->n] = tr, x->pay[x->n] = pay;
    x->n++;
    return true;
}

static void cand_remove(kdb_vindex *x, uint64_t tr) {
    size_t j = hfind(x, tr);
    if (j == SIZE_MAX) return;
    size_t slot = x->hval[j];
    hdel(x, j);
    x->moves++;
    size_t last = --x->n;
    if (slot != last) {
        x->tr[slot] = x->tr[last], x->pay[slot] = x->pay[last];
        size_t mj = hfind(x, x->tr[slot]);
        if (mj != SIZE_MAX) x->hval[mj] = (uint32_t)slot;
    }
}

static void cand_reset(kdb_vindex *x) {
    x->n = 0;
    x->moves++;
    if (x->hkey) memset(x->hkey, 0, x->hcap * sizeof *x->hkey);
}

void kdb_vec_free(kdb_vindex *x) {
    if (!x) return;
    free(x->include);
    free(x->filters);
    free(x->tr);
    free(x->pay);
    free(x->hkey);
    free(x->hval);
    kdb_hnsw_graph_free(x->g);
    free(x->ord);
    free(x->ord_pay);
    free(x);
}

size_t kdb_vec_slot(const kdb_vindex *x, uint64_t tr) {
    size_t j = hfind(x, tr);
    return j == SIZE_MAX ? SIZE_MAX : x->hval[j];
}

/* The payload offset of the vector of the entry at trailer `tr`, if it has one of x's
 * dimensions. */
static bool vector_of(keel_db *db, const kdb_vindex *x, uint64_t tr, uint64_t *pay) {
    keel_store *s = db->s;
    keel_snap_entry e;
    keel__entry_at(s->map->base, s->align, tr, &e);
    const uint8_t *item = s->map->base + e.voff;
    kdb_val v;
    if (!kdb_item_attr(item, e.vlen, x->attr, strlen(x->attr), &v) || v.type != KDB_V ||
        v.count != x->dims || v.size != (size_t)x->dims * 4)
        return false;
    *pay = (uint64_t)(v.data - s->map->base);
    return true;
}

/* Add the entry at trailer `tr` to x if it holds a vector of x's dimensions: false only
 * when out of memory. */
bool kdb_vec_track(keel_db *db, kdb_vindex *x, uint64_t tr) {
    uint64_t pay;
    return !vector_of(db, x, tr, &pay) || cand_add(x, tr, pay);
}

void kdb_vec_publish(keel_db *db, uint32_t table, const keel_append_item *it) {
    for (size_t i = 0; i < db->nvix; i++) {
        kdb_vindex *x = db->vix[i];
        if (x->owner != table) continue;
        if (it->replaced_live) cand_remove(x, it->replaced_trailer);
        uint64_t pay = 0;
        if (!(it->flags & KEEL_FLAG_TOMBSTONE) && vector_of(db, x, it->trailer_out, &pay) &&
            !cand_add(x, it->trailer_out, pay))
            atomic_store(&db->order_stale, true);   /* the rebuild fills the lists again */
        if (x->g) kdb_hnsw_note(x, it, pay);    /* the approximate search's graph */
    }
}

bool kdb_vec_rebuild(keel_db *db, const kdb_oent *v, size_t n) {
    bool ok = true;
    for (size_t i = 0; i < db->nvix; i++) cand_reset(db->vix[i]);
    for (size_t k = 0; k < n && db->nvix; k++) {
        uint32_t table = (uint32_t)(v[k].prefix >> 32);
        for (size_t i = 0; i < db->nvix; i++)
            if (db->vix[i]->owner == table && !kdb_vec_track(db, db->vix[i], v[k].off)) ok = false;
    }
    /* The graphs: handed back across a reload, or loaded from their checkpoints. */
    if (ok) kdb_hnsw_attach_all(db);
    else kdb_hnsw_pool_free(db);
    return ok;
}

kdb_vindex *kdb_vec_find(const keel_db *db, uint32_t owner, const char *name) {
    for (size_t i = 0; i < db->nvix; i++)
        if (db->vix[i]->owner == owner && strcmp(db->vix[i]->name, name) == 0) return db->vix[i];
    return NULL;
}

keel_status kdb_vec_add(keel_db *db, kdb_vindex *x) {
    kdb_vindex **v = realloc(db->vix, (db->nvix + 1) * sizeof *v);
    if (!v) return keel__fail(KEEL_ENOMEM, "a vector index");
    db->vix = v;
    db->vix[db->nvix++] = x;
    return KEEL_OK;
}

/* Take x out of db->vix (not freed). */
void kdb_vec_take(keel_db *db, kdb_vindex *x) {
    for (size_t i = 0; i < db->nvix; i++)
        if (db->vix[i] == x) {
            memmove(&db->vix[i], &db->vix[i + 1], (db->nvix - i - 1) * sizeof *db->vix);
            db->nvix--;
            return;
        }
}

void kdb_vec_clear(keel_db *db) {
    for (size_t i = 0; i < db->nvix; i++) {
        kdb_hnsw_detach(db, db->vix[i]);    /* kept for kdb_vec_rebuild to hand back */
        kdb_vec_free(db->vix[i]);
    }
    free(db->vix);
    db->vix = NULL;
    db->nvix = 0;
}

void kdb_vec_drop_owner(keel_db *db, uint32_t owner) {
    size_t w = 0;
    for (size_t i = 0; i < db->nvix; i++) {
        if (db->vix[i]->owner == owner) kdb_vec_free(db->vix[i]);
        else db->vix[w++] = db->vix[i];
    }
    db->nvix = w;
}

/* ---- catalog ------------------------------------------------------------------------------ */

size_t kdb_vec_count(const keel_db *db, uint32_t owner) {
    size_t n = 0;
    for (size_t i = 0; i < db->nvix; i++) n += db->vix[i]->owner == owner;
    return n;
}

size_t kdb_vec_pairs(const keel_db *db, const kdb_table *t) {
    return kdb_vec_count(db, t->id) > 0;
}

static void enc_str(kdb_buf *b, const char *s) { kdb_enc_text(b, s, strlen(s)); }

static void enc_names(kdb_buf *b, const char *p, size_t len, size_t n) {
    kdb_enc_array(b, n);
    for (const char *e = p + len; p && p < e; p += strlen(p) + 1) enc_str(b, p);
}

void kdb_vec_encode(const keel_db *db, const kdb_table *t, kdb_buf *b) {
    size_t n = kdb_vec_count(db, t->id);
    if (!n) return;
    enc_str(b, "vindexes");
    kdb_enc_array(b, n);
    for (size_t i = 0; i < db->nvix; i++) {
        const kdb_vindex *x = db->vix[i];
        if (x->owner != t->id) continue;
        bool hp = x->m != KEEL_DB_HNSW_M || x->efc != KEEL_DB_HNSW_EF_CONSTRUCTION;
        kdb_enc_map(b, 5 + (x->proj == KEEL_DB_PROJECT_INCLUDE) + (x->nfilters > 0) + 2 * hp +
                           (x->hash[0] != 0));
        enc_str(b, "name");
        enc_str(b, x->name);
        enc_str(b, "attr");
        enc_str(b, x->attr);
        enc_str(b, "dims");
        kdb_enc_uint(b, x->dims);
        enc_str(b, "dist");
        enc_str(b, dist_names[x->dist]);
        enc_str(b, "proj");
        enc_str(b, proj_names[x->proj]);
        if (x->proj == KEEL_DB_PROJECT_INCLUDE) {
            enc_str(b, "include");
            enc_names(b, x->include, x->include_len, x->ninclude);
        }
        if (x->nfilters) {
            enc_str(b, "filters");
            enc_names(b, x->filters, x->filters_len, x->nfilters);
        }
        if (x->hash[0]) {   /* only with a HASH element: older catalogs stay as they were */
            enc_str(b, "hash");
            enc_str(b, x->hash);
        }
        if (hp) {   /* only when not the defaults: older catalogs stay as they were */
            enc_str(b, "m");
            kdb_enc_uint(b, x->m);
            enc_str(b, "efc");
            kdb_enc_uint(b, x->efc);
        }
    }
}

static bool text_attr(const kdb_val *m, const char *name, char *out, size_t cap) {
    kdb_val v;
    return kdb_item_attr(m->p, m->len, name, strlen(name), &v) && kdb_catalog_text(&v, out, cap);
}

static int enum_of(const char *s, const char *const *names, int n) {
    for (int i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}

/* A list of names from the catalog (an array of non-empty texts without NUL). */
static bool names_attr(const kdb_val *m, const char *name, char **out, size_t *len_out,
                       size_t *n_out) {
    kdb_val v, e;
    if (!kdb_item_attr(m->p, m->len, name, strlen(name), &v)) return true;
    if (v.type != KDB_L) return false;
    kdb_buf b = {0};
    kdb_iter it;
    kdb_iter_init(&it, &v);
    int r;
    size_t n = 0;
    while ((r = kdb_iter_next(&it, NULL, NULL, &e)) == 1) {
        if (e.type != KDB_S || !e.size || e.size > 255 || memchr(e.data, 0, e.size) ||
            !kdb_utf8_valid(e.data, e.size))
            break;
        kdb_buf_put(&b, e.data, e.size);
        kdb_buf_put(&b, "", 1);
        n++;
    }
    if (r != 0 || b.failed) {
        kdb_buf_free(&b);
        return false;
    }
    *out = (char *)b.p, *len_out = b.len, *n_out = n;
    return true;
}

static bool is_filter(const kdb_vindex *x, const char *name) {
    for (const char *p = x->filters, *e = p + x->filters_len; p && p < e; p += strlen(p) + 1)
        if (strcmp(p, name) == 0) return true;
    return false;
}

/* An optional unsigned number of the catalog (absent: *out unchanged). */
static bool opt_uint(const kdb_val *m, const char *name, int64_t *out) {
    kdb_val v;
    kdb_num num;
    if (!kdb_item_attr(m->p, m->len, name, strlen(name), &v)) return true;
    return v.type == KDB_N && kdb_val_num(&v, &num) == KEEL_OK && kdb_num_to_i64(&num, out);
}

keel_status kdb_vec_parse(keel_db *db, const kdb_table *t, const uint8_t *val, size_t len) {
    kdb_val v, e;
    if (!kdb_item_attr(val, len, "vindexes", 8, &v)) return KEEL_OK;
    if (v.type != KDB_L) goto bad;
    kdb_iter it;
    kdb_iter_init(&it, &v);
    int r;
    while ((r = kdb_iter_next(&it, NULL, NULL, &e)) == 1) {
        char dist[32], proj[32];
        kdb_val dv;
        kdb_num num;
        int64_t dims;
        if (e.type != KDB_M) goto bad;
        kdb_vindex *x = calloc(1, sizeof *x);
        if (!x) return keel__fail(KEEL_ENOMEM, "a vector index");
        x->owner = t->id;
        int di, pi;
        if (!text_attr(&e, "name", x->name, sizeof x->name) ||
            !text_attr(&e, "attr", x->attr, sizeof x->attr) ||
            !text_attr(&e, "dist", dist, sizeof dist) ||
            !text_attr(&e, "proj", proj, sizeof proj) ||
            (di = enum_of(dist, dist_names, 3)) < 0 || (pi = enum_of(proj, proj_names, 3)) < 0 ||
            !kdb_item_attr(e.p, e.len, "dims", 4, &dv) || dv.type != KDB_N ||
            kdb_val_num(&dv, &num) != KEEL_OK || !kdb_num_to_i64(&num, &dims) || dims < 1 ||
            dims > KEEL_DB_MAX_DIMENSIONS ||
            !names_attr(&e, "include", &x->include, &x->include_len, &x->ninclude) ||
            !names_attr(&e, "filters", &x->filters, &x->filters_len, &x->nfilters) ||
            kdb_vec_find(db, t->id, x->name)) {
            kdb_vec_free(x);
            goto bad;
        }
        int64_t m = KEEL_DB_HNSW_M, efc = KEEL_DB_HNSW_EF_CONSTRUCTION;
        if (!opt_uint(&e, "m", &m) || !opt_uint(&e, "efc", &efc) || m < 2 ||
            m > KEEL_DB_HNSW_MAX_M || efc < 1 || efc > KEEL_DB_MAX_EF) {
            kdb_vec_free(x);
            goto bad;
        }
        x->m = (uint32_t)m, x->efc = (uint32_t)efc;
        /* "hash": absent (every filter INLINE_FILTER, as files written before it) or one of
         * the filter attributes. */
        kdb_val hv;
        if (kdb_item_attr(e.p, e.len, "hash", 4, &hv) &&
            (!kdb_catalog_text(&hv, x->hash, sizeof x->hash) || !is_filter(x, x->hash))) {
            kdb_vec_free(x);
            goto bad;
        }
        x->dist = (keel_db_distance)di;
        x->proj = (keel_db_projection)pi;
        x->dims = (uint32_t)dims;
        keel_status st = kdb_vec_add(db, x);
        if (st != KEEL_OK) {
            kdb_vec_free(x);
            return st;
        }
    }
    if (r == 0) return KEEL_OK;
bad:
    return keel__fail(KEEL_ECORRUPT, "catalog entry of table '%s': vindexes", t->name);
}
