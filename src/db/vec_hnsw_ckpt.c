/*
 * vec_hnsw_ckpt.c: the vector graphs' checkpoints inside the database file, and handing
 * graphs across a reload (docs/FORMAT.md "vector graph checkpoint").
 *
 * A checkpoint is derived data written through the store's append path like any entry:
 * its chunks (at most CHUNK bytes each) are entries under the reserved table id
 * KDB_TABLE_VGRAPH, keyed (table id 2, owner table id, chunk number, index name), and one
 * checkpoint is one atomic group (the new chunks plus tombstones for the old checkpoint's
 * extra chunks), so a crash leaves the previous checkpoint or the new one, never a mix.
 * The first chunk starts with a header: magic, version, chunk count, total length, the
 * store position it covers, and an XXH3 checksum of the whole (the checksum field as zeros). The body
 * holds the index's parameters, every id's key and vector hash, and the graph's links.
 *
 * Version 2 (VERSION below) changed the DOT_PRODUCT graph; a version 1 checkpoint of
 * another distance loads as before, one of DOT_PRODUCT is rebuilt.
 *
 * Loading trusts nothing: a wrong magic, version, count, length, checksum, parameter or
 * any malformed byte discards the checkpoint and the graph is built again from the items
 * on the first approximate search. A loaded graph is then caught up by vector hashes
 * (kdb_hnsw_sync): ids whose items changed or went since the checkpoint are re-inserted or
 * deleted, so a stale checkpoint costs only the changed items, and a damaged one costs a
 * rebuild, never a wrong result. When more than a quarter of the ids changed, the loaded
 * graph is discarded too (a fresh build is then cheaper and better).
 *
 * When: at keel_db_close and before keel_db_compact, for each graph that changed since its
 * last checkpoint (an in-memory database never writes one). Compaction copies the live
 * checkpoint like any entry; it stays valid because nothing in it depends on offsets.
 *
 * Reclaiming: dropping a vector index or deleting its table puts tombstones for its
 * checkpoint's chunks (kdb_hnsw_tombstones) in the same atomic group as the catalog change,
 * so no crash leaves a checkpoint whose index is gone (a re-created index of the same name
 * and table would otherwise load it). keel_db_compact first tombstones any chunk that no
 * live index owns (kdb_hnsw_drop_orphans: files written before this rule, or a chunk past
 * its checkpoint's count), so the compacted file holds only live checkpoints.
 */
#include "db/vec_hnsw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK (4u << 20)
_Static_assert(KDB_CKPT_KEY_MAX == 12 + 255, "a chunk key: 12 bytes and the index name");
#define HEADER 40
/* 2: a DOT_PRODUCT graph is an angular graph over (x / |x|, |x|) (vec_hnsw.c), so its
 * deleted points' saved vectors have dims + 1 floats. Version 1 still loads for COSINE and
 * EUCLIDEAN, whose graphs did not change; a version 1 DOT_PRODUCT graph (hnswlib's
 * inner-product graph over the vectors as stored) is never loaded: it is rebuilt. */
#define VERSION 2u
static const char magic[8] = {'K', 'E', 'E', 'L', 'H', 'N', 'S', 'W'};

typedef struct kdb_ckpt_note {
    uint32_t owner, chunk;
    char name[256];
    uint64_t tr;
} kdb_ckpt_note;

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }

static void put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

static void put64(uint8_t *p, uint64_t v) {
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

static void buf32(kdb_buf *b, uint32_t v) {
    uint8_t t[4];
    put32(t, v);
    kdb_buf_put(b, t, 4);
}

static void buf64(kdb_buf *b, uint64_t v) {
    uint8_t t[8];
    put64(t, v);
    kdb_buf_put(b, t, 8);
}

static size_t chunk_key(const kdb_vindex *x, uint32_t chunk, uint8_t *k) {
    size_t n = strlen(x->name);
    memset(k, 0, 4);
    k[3] = KDB_TABLE_VGRAPH;
    k[4] = (uint8_t)(x->owner >> 24), k[5] = (uint8_t)(x->owner >> 16);
    k[6] = (uint8_t)(x->owner >> 8), k[7] = (uint8_t)x->owner;
    k[8] = (uint8_t)(chunk >> 24), k[9] = (uint8_t)(chunk >> 16);
    k[10] = (uint8_t)(chunk >> 8), k[11] = (uint8_t)chunk;
    memcpy(k + 12, x->name, n);
    return 12 + n;
}

void kdb_hnsw_note_chunk(keel_db *db, const uint8_t *key, size_t klen, uint64_t tr) {
    if (klen < 13 || klen > 12 + 255 || memchr(key + 12, 0, klen - 12)) return;  /* not ours */
    if (db->nnotes == db->notecap) {
        size_t cap = db->notecap ? db->notecap * 2 : 16;
        kdb_ckpt_note *v = realloc(db->notes, cap * sizeof *v);
        if (!v) return;  /* the checkpoint is not found: the graph is built instead */
        db->notes = v, db->notecap = cap;
    }
    kdb_ckpt_note *n = &db->notes[db->nnotes++];
    n->owner = be32(key + 4), n->chunk = be32(key + 8), n->tr = tr;
    memcpy(n->name, key + 12, klen - 12);
    n->name[klen - 12] = 0;
}

/* The value of the noted chunk `chunk` of x, or NULL. */
static const uint8_t *chunk_val(keel_db *db, const kdb_vindex *x, uint32_t chunk, size_t *len) {
    for (size_t i = 0; i < db->nnotes; i++) {
        const kdb_ckpt_note *n = &db->notes[i];
        if (n->owner != x->owner || n->chunk != chunk || strcmp(n->name, x->name) != 0) continue;
        keel_snap_entry e;
        keel__entry_at(db->s->map->base, db->s->align, n->tr, &e);
        *len = e.vlen;
        return db->s->map->base + e.voff;
    }
    return NULL;
}

static uint32_t chunks_noted(keel_db *db, const kdb_vindex *x) {
    uint32_t n = 0;
    for (size_t i = 0; i < db->nnotes; i++)
        if (db->notes[i].owner == x->owner && strcmp(db->notes[i].name, x->name) == 0 &&
            db->notes[i].chunk >= n)
            n = db->notes[i].chunk + 1;
    return n;
}

/* The graph of x from its checkpoint, without vectors yet, or NULL (none or unusable). */
static kdb_graph *load(keel_db *db, kdb_vindex *x) {
    size_t len0;
    const uint8_t *c0 = chunk_val(db, x, 0, &len0);
    if (!c0 || len0 < HEADER || memcmp(c0, magic, 8) != 0) return NULL;
    uint32_t version = le32(c0 + 8);
    if (version != VERSION && (version != 1 || x->dist == KEEL_DB_DOT_PRODUCT)) return NULL;
    uint32_t nchunks = le32(c0 + 12);
    uint64_t total = le64(c0 + 16), sum = le64(c0 + 32);
    if (nchunks < 1 || total < HEADER + 20 || total > (uint64_t)nchunks * CHUNK) return NULL;
    uint8_t *blob = malloc(total);
    if (!blob) return NULL;
    uint64_t at = 0;
    for (uint32_t c = 0; c < nchunks; c++) {
        size_t len;
        const uint8_t *v = c ? chunk_val(db, x, c, &len) : (len = len0, c0);
        if (!v || len > total - at) {
            free(blob);
            return NULL;
        }
        memcpy(blob + at, v, len);
        at += len;
    }
    kdb_graph *g = NULL;
    const uint8_t *p = blob + HEADER, *e = blob + total;
    memset(blob + 32, 0, 8);    /* the checksum covers every byte, itself as zeros */
    if (at != total || keel_hash(blob, total) != sum) goto bad;
    if (le32(p) != x->dims || le32(p + 4) != (uint32_t)x->dist || le32(p + 8) != x->m ||
        le32(p + 12) != x->efc)
        goto bad;
    uint32_t nid = le32(p + 16);
    p += 20;
    if (nid > (uint64_t)(e - p) / 12 || !(g = kdb_hnsw_graph_new(x))) goto bad;
    uint64_t empty = keel_hash("", 0);
    for (uint32_t id = 0; id < nid; id++) {
        if (e - p < 12) goto bad;
        uint32_t kl = le32(p);
        uint64_t vh = le64(p + 4);
        p += 12;
        if ((kl && kl < 8) || kl > KEEL_MAX_KEY || (size_t)(e - p) < kl) goto bad;
        /* Ids come out in order (no free ones yet); a free id gets the empty key, which no
         * item has, and is released below. */
        if (kdb_hnsw_id_new(g, p, kl, kl ? keel_hash(p, kl) : empty) != id) goto bad;
        g->vhash[id] = vh;
        p += kl;
    }
    if (e - p < 8 || le64(p) != (uint64_t)(e - p - 8)) goto bad;
    int kind;
    keel__hnsw_fn fn;
    kdb_hnsw_kind(x, &kind, &fn);
    g->h = keel__hnsw_load(kdb_hnsw_graph_dims(x->dist, x->dims), kind, fn, x->m, x->efc, nid,
                           p + 8, (size_t)(e - p - 8));
    if (!g->h) goto bad;
    for (uint32_t id = 0; id < nid; id++) {
        uint32_t kl;
        memcpy(&kl, g->key[id], 4);
        if (kl) continue;
        if (g->vhash[id]) keel__hnsw_remove(g->h, id);  /* deleted, not yet drained */
        g->vhash[id] = 0;
        g->flags[id] = 0;
        /* release: the empty key leaves the map, the id goes on the free list */
        if (!kdb_hnsw_id_release(g, id)) goto bad;
    }
    free(blob);
    g->state = KEEL_DB_GRAPH_LOADED;
    return g;
bad:
    kdb_hnsw_graph_free(g);
    free(blob);
    return NULL;
}

void kdb_hnsw_detach(keel_db *db, kdb_vindex *x) {
    if (!x->g) return;
    kdb_graph **v = realloc(db->gpool, (db->ngpool + 1) * sizeof *v);
    if (!v) {
        kdb_hnsw_graph_free(x->g);
    } else {
        db->gpool = v;
        db->gpool[db->ngpool++] = x->g;
    }
    x->g = NULL;
}

void kdb_hnsw_pool_free(keel_db *db) {
    for (size_t i = 0; i < db->ngpool; i++) kdb_hnsw_graph_free(db->gpool[i]);
    free(db->gpool);
    db->gpool = NULL;
    db->ngpool = 0;
    free(db->notes);
    db->notes = NULL;
    db->nnotes = db->notecap = 0;
}

void kdb_hnsw_attach_all(keel_db *db) {
    for (size_t i = 0; i < db->nvix; i++) {
        kdb_vindex *x = db->vix[i];
        x->ckpt_chunks = chunks_noted(db, x);
        for (size_t j = 0; j < db->ngpool && !x->g; j++) {
            kdb_graph *g = db->gpool[j];
            if (g->owner == x->owner && strcmp(g->name, x->name) == 0 && g->dims == x->dims &&
                g->dist == x->dist && g->m == x->m && g->efc == x->efc) {
                x->g = g;
                db->gpool[j] = db->gpool[--db->ngpool];
            }
        }
        if (x->g) {
            kdb_hnsw_sync(db, x, x->g, false);
            continue;
        }
        if (!x->ckpt_chunks) continue;
        kdb_graph *g = load(db, x);
        if (!g) {
            db->graph_rejected++;
            continue;
        }
        if (!kdb_hnsw_sync(db, x, g, true) || g->mismatched * 4 > g->live) {
            kdb_hnsw_graph_free(g);
            db->graph_rejected++;
            continue;
        }
        g->saved_version = g->version;
        x->g = g;
    }
    kdb_hnsw_pool_free(db);
}

static keel_status write_one(keel_db *db, kdb_vindex *x) {
    kdb_graph *g = x->g;
    if (!g || !g->h || g->broken || g->version == g->saved_version) return KEEL_OK;
    /* For writing: items deleted since the last drain are marked deleted first, so every
     * point the graph routes through without an item has its vector in the checkpoint. */
    pthread_rwlock_wrlock(&g->lock);
    for (uint32_t id = 0; id < g->nid; id++)
        if (!g->key[id] && g->vhash[id]) keel__hnsw_remove(g->h, id), g->vhash[id] = 0;
    uint64_t version = g->version;
    char *gb = NULL;
    size_t glen = 0;
    kdb_buf b = {0};
    keel_status st = KEEL_OK;
    if (keel__hnsw_save(g->h, &gb, &glen) != 0) {
        st = keel__fail(KEEL_ENOMEM, "vector graph '%s': %s", x->name, keel__hnsw_error());
    } else {
        uint8_t head[HEADER] = {0};
        kdb_buf_put(&b, head, HEADER);
        buf32(&b, x->dims), buf32(&b, (uint32_t)x->dist), buf32(&b, x->m), buf32(&b, x->efc);
        buf32(&b, g->nid);
        for (uint32_t id = 0; id < g->nid; id++) {
            uint32_t kl = 0;
            if (g->key[id]) memcpy(&kl, g->key[id], 4);
            buf32(&b, kl);
            buf64(&b, g->vhash[id]);
            if (kl) kdb_buf_put(&b, g->key[id] + 4, kl);
        }
        buf64(&b, glen);
        kdb_buf_put(&b, gb, glen);
        if (b.failed) st = keel__fail(KEEL_ENOMEM, "vector graph checkpoint of '%s'", x->name);
    }
    pthread_rwlock_unlock(&g->lock);
    free(gb);
    uint32_t nchunks = (uint32_t)((b.len + CHUNK - 1) / CHUNK);
    uint32_t nitems = nchunks > x->ckpt_chunks ? nchunks : x->ckpt_chunks;
    keel_append_item *items = NULL;
    uint8_t *keys = NULL;
    if (st == KEEL_OK) {
        memcpy(b.p, magic, 8);
        put32(b.p + 8, VERSION);
        put32(b.p + 12, nchunks);
        put64(b.p + 16, b.len);
        put64(b.p + 24, db->s->end);
        put64(b.p + 32, 0);
        put64(b.p + 32, keel_hash(b.p, b.len));
        items = calloc(nitems, sizeof *items);
        keys = malloc((size_t)nitems * KDB_CKPT_KEY_MAX);
        if (!items || !keys) st = keel__fail(KEEL_ENOMEM, "vector graph checkpoint");
    }
    for (uint32_t c = 0; st == KEEL_OK && c < nitems; c++) {
        uint8_t *k = keys + (size_t)c * KDB_CKPT_KEY_MAX;
        size_t kl = chunk_key(x, c, k);
        items[c] = (keel_append_item){.key = k, .key_len = (uint32_t)kl, .src_fd = -1,
                                      .hash = keel_hash(k, kl)};
        if (c < nchunks) {
            items[c].value = b.p + (size_t)c * CHUNK;
            items[c].value_len = c + 1 < nchunks ? CHUNK : b.len - (size_t)c * CHUNK;
        } else {
            items[c].flags = KEEL_FLAG_TOMBSTONE;
        }
    }
    if (st == KEEL_OK) st = keel__append_group(db->s, items, nitems);
    if (st == KEEL_OK) {
        g->saved_version = version;
        x->ckpt_chunks = nchunks;
        g->checkpoints++;
    }
    free(items);
    free(keys);
    kdb_buf_free(&b);
    return st;
}

keel_status kdb_hnsw_checkpoint_all(keel_db *db) {
    if (db->memory || db->s->read_only) return KEEL_OK;
    keel_status st = KEEL_OK;
    for (size_t i = 0; i < db->nvix; i++) {
        keel_status s2 = write_one(db, db->vix[i]);
        if (st == KEEL_OK) st = s2;
    }
    return st;
}

keel_status kdb_hnsw_tombstones(keel_db *db, uint32_t owner, const char *name,
                                kdb_tombs *out) {
    out->items = NULL, out->keys = NULL, out->n = 0;
    if (db->memory) return KEEL_OK;     /* an in-memory database never writes one */
    size_t total = 0;
    for (size_t i = 0; i < db->nvix; i++) {
        const kdb_vindex *x = db->vix[i];
        if (x->owner == owner && (!name || strcmp(x->name, name) == 0)) total += x->ckpt_chunks;
    }
    if (!total) return KEEL_OK;
    out->items = calloc(total, sizeof *out->items);
    out->keys = malloc(total * KDB_CKPT_KEY_MAX);
    if (!out->items || !out->keys) {
        kdb_tombs_free(out);
        return keel__fail(KEEL_ENOMEM, "tombstones for %zu vector graph checkpoint chunks", total);
    }
    for (size_t i = 0; i < db->nvix; i++) {
        const kdb_vindex *x = db->vix[i];
        if (x->owner != owner || (name && strcmp(x->name, name) != 0)) continue;
        for (uint32_t c = 0; c < x->ckpt_chunks; c++, out->n++) {
            uint8_t *k = out->keys + out->n * KDB_CKPT_KEY_MAX;
            size_t kl = chunk_key(x, c, k);
            out->items[out->n] = (keel_append_item){.key = k, .key_len = (uint32_t)kl,
                                                    .src_fd = -1, .flags = KEEL_FLAG_TOMBSTONE,
                                                    .hash = keel_hash(k, kl)};
        }
    }
    return KEEL_OK;
}

void kdb_tombs_free(kdb_tombs *t) {
    free(t->items);
    free(t->keys);
    t->items = NULL, t->keys = NULL, t->n = 0;
}

/* Is the live entry with this table-2 key a chunk of a live index's current checkpoint? */
static bool chunk_wanted(const keel_db *db, const uint8_t *key, size_t klen) {
    if (klen < 13 || klen > KDB_CKPT_KEY_MAX) return false;
    uint32_t owner = be32(key + 4), chunk = be32(key + 8);
    for (size_t i = 0; i < db->nvix; i++) {
        const kdb_vindex *x = db->vix[i];
        if (x->owner == owner && strlen(x->name) == klen - 12 &&
            memcmp(x->name, key + 12, klen - 12) == 0)
            return chunk < x->ckpt_chunks;
    }
    return false;
}

keel_status kdb_hnsw_drop_orphans(keel_db *db, size_t *dropped) {
    *dropped = 0;
    if (db->memory || db->s->read_only) return KEEL_OK;
    uint64_t *tr = NULL;
    size_t n = 0;
    keel_status st = keel__snapshot_trailers(db->s, &tr, &n);
    if (st != KEEL_OK) return st;
    const uint8_t *base = db->s->map->base;
    keel_append_item *items = NULL;
    size_t m = 0, cap = 0;
    for (size_t i = 0; i < n && st == KEEL_OK; i++) {
        keel_snap_entry e;
        keel__entry_at(base, db->s->align, tr[i], &e);
        const uint8_t *key = base + e.voff + e.vlen;
        if (e.klen < 4 || key[0] || key[1] || key[2] || key[3] != KDB_TABLE_VGRAPH ||
            chunk_wanted(db, key, e.klen))
            continue;
        if (m == cap) {
            size_t nc = cap ? cap * 2 : 16;
            keel_append_item *v = realloc(items, nc * sizeof *v);
            if (!v) {
                st = keel__fail(KEEL_ENOMEM, "tombstones for orphaned vector graph chunks");
                break;
            }
            items = v, cap = nc;
        }
        /* The key is read from the mapping, where committed bytes never change. */
        items[m++] = (keel_append_item){.key = key, .key_len = e.klen, .src_fd = -1,
                                        .flags = KEEL_FLAG_TOMBSTONE,
                                        .hash = keel_hash(key, e.klen)};
    }
    if (st == KEEL_OK && m) st = keel__append_group(db->s, items, m);
    if (st == KEEL_OK) *dropped = m;
    free(items);
    free(tr);
    return st;
}
