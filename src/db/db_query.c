/*
 * db_query.c: Query and Scan cursors over the ordered index.
 *
 * A query is a range of store keys inside one partition (key.c makes a partition one
 * contiguous range and orders its items by sort key); a scan is the range of a whole table,
 * or of a slice of its partition-hash space for a parallel segment. Every expression of the
 * request (key condition, filter, projection) is parsed, and its placeholders checked,
 * before the first item is read; a query's filter may not name the keys it queries by.
 *
 * A cursor holds no lock between calls. Each refill takes the store's index lock for
 * reading, re-seeks just past the last key it evaluated, and collects up to BATCH items
 * that pass the filter, so writers are never held up for longer than one batch and a long
 * scan sees each item as it is at the moment its batch is read (read-committed, as
 * DynamoDB). Item views point into the mapping; committed bytes never change and retired
 * mappings stay mapped until close, so they, and the remembered position, outlive the lock.
 *
 * A cursor over a secondary index (q->index) walks the index's entries (db_index.c) the
 * same way: c->t then describes the index (its id and key schema) and c->base the table.
 * Index sort keys are stored self-delimiting, so its bounds are prefixes: "sk = v" is
 * every key that starts with the encoding of v. With TTL, an expired item is skipped as
 * if absent (an index entry's item is looked up by its table key: a projection may lack
 * the TTL attribute).
 */
#include "db/db_internal.h"
#include "db/expr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 64

typedef struct bound {
    kdb_key k;              /* the key bytes (len 0: unbounded) */
    bool incl;
} bound;

struct keel_db_cursor {
    keel_db *db;
    kdb_table t;                /* the table, or for an index query its index's keys */
    kdb_table base;             /* the table */
    kdb_index ix;               /* the index (include list not copied) */
    bool is_index;
    char ttl[256];              /* the table's TTL attribute, "" none */
    bool forward;
    uint8_t *names, *values;    /* owned copies: kdb_val in the expressions point here */
    kdb_subst subst;
    kdb_expr *filter, *projection;
    bound lo, hi;
    const uint8_t *pos;         /* last key evaluated (in the mapping), or start key */
    size_t pos_len;
    uint8_t *start;             /* owned copy of the start key's bytes */
    uint64_t limit, scanned, returned;
    bool done, limited;
    const uint8_t *last_item;   /* the last item evaluated, for last_key */
    size_t last_item_len;
    struct {
        const uint8_t *p;
        size_t len;
    } batch[BATCH];
    size_t bn, bi;
    kdb_buf out;                /* the projected item, or the last key map */
    const uint8_t *cur_item;    /* the whole item cursor_next returned last, for _current */
    size_t cur_item_len;
    kdb_buf cur_key;            /* its key map */
};

static int keycmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn) {
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an > bn) - (an < bn);
}

static void *dup_bytes(const void *p, size_t n) {
    void *d = malloc(n ? n : 1);
    if (d && n) memcpy(d, p, n);
    return d;
}

void keel_db_cursor_free(keel_db_cursor *c) {
    if (!c) return;
    kdb_expr_free(c->filter);
    kdb_expr_free(c->projection);
    free(c->names);
    free(c->values);
    free(c->start);
    kdb_buf_free(&c->out);
    kdb_buf_free(&c->cur_key);
    free(c);
}

/* The smallest key greater than every key starting with k[0..len): k with its trailing
 * 0xFF bytes dropped and its last byte incremented. False when there is none. */
static bool successor(kdb_key *k) {
    while (k->len > 0 && k->b[k->len - 1] == 0xFF) k->len--;
    if (k->len == 0) return false;
    k->b[k->len - 1]++;
    return true;
}

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Everything both kinds of cursor share: the table, the copies, the expressions. */
static keel_status cursor_new(keel_db *db, const char *table, const keel_db_query *q,
                              keel_db_cursor **out) {
    if (!db) return keel__fail(KEEL_EINVAL, "database handle is NULL");
    if (!q || !out) return keel__fail(KEEL_EINVAL, "query and cursor_out are required");
    keel_db_cursor *c = calloc(1, sizeof *c);
    if (!c) return keel__fail(KEEL_ENOMEM, "allocating a cursor");
    c->db = db;
    c->forward = q->forward != 0;
    c->limit = q->limit;
    keel_status st = kdb_table_get(db, table, &c->t);
    if (st == KEEL_OK) {
        c->base = c->t;
        memcpy(c->ttl, c->t.ttl, sizeof c->ttl);
    }
    if (st == KEEL_OK && q->index) {
        pthread_rwlock_rdlock(&db->cat_lock);
        const kdb_index *x = kdb_index_find(db, c->t.id, q->index);
        if (x) {
            c->ix = *x;
            c->ix.include = NULL;
        }
        pthread_rwlock_unlock(&db->cat_lock);
        if (!x)
            st = keel__fail(KEEL_EVALIDATION, "The table does not have the specified index: "
                            "%.255s", q->index);
        else if (c->ix.creating)
            st = keel__fail(KEEL_EVALIDATION, "Cannot read from backfilling global secondary "
                            "index: %s", c->ix.name);
        c->is_index = true;
        c->t.id = c->ix.id;
        memcpy(c->t.pk, c->ix.pk, sizeof c->t.pk);
        memcpy(c->t.sk, c->ix.sk, sizeof c->t.sk);
        c->t.pkt = c->ix.pkt;
        c->t.skt = c->ix.skt;
    }
    if (st == KEEL_OK && ((q->names && !(c->names = dup_bytes(q->names, q->names_len))) ||
                          (q->values && !(c->values = dup_bytes(q->values, q->values_len)))))
        st = keel__fail(KEEL_ENOMEM, "copying the expression attributes");
    if (st == KEEL_OK)
        st = kdb_subst_init(&c->subst, c->names, c->names ? q->names_len : 0, c->values,
                            c->values ? q->values_len : 0);
    if (st == KEEL_OK && q->filter)
        st = kdb_expr_role(kdb_expr_parse(KDB_EXPR_CONDITION, q->filter, strlen(q->filter),
                                          &c->subst, &c->filter), "FilterExpression");
    if (st == KEEL_OK && q->projection)
        st = kdb_expr_role(kdb_expr_parse(KDB_EXPR_PROJECTION, q->projection,
                                          strlen(q->projection), &c->subst, &c->projection),
                           "ProjectionExpression");
    if (st != KEEL_OK) {
        keel_db_cursor_free(c);
        return st;
    }
    *out = c;
    return KEEL_OK;
}

/* The exclusive start key, if any, becomes the remembered position. */
static keel_status cursor_start_key(keel_db_cursor *c, const keel_db_query *q) {
    if (!q->start_key) return KEEL_OK;
    kdb_key k;
    keel_status st;
    if (c->is_index) {
        /* The table's and the index's key attributes: the entry's full key. */
        kdb_key tk;
        size_t size;
        st = kdb_item_check(q->start_key, q->start_key_len, &size);
        if (st == KEEL_OK) st = kdb_item_key(&c->base, q->start_key, q->start_key_len, false, &tk);
        if (st == KEEL_OK && kdb_index_key(&c->ix, &tk, q->start_key, q->start_key_len, &k,
                                           &st) == 0)
            st = keel__fail(KEEL_EVALIDATION, "the index's key attributes are missing");
    } else {
        st = kdb_item_key(&c->t, q->start_key, q->start_key_len, true, &k);
    }
    if (st != KEEL_OK) {
        char detail[400];
        snprintf(detail, sizeof detail, "%s", keel_errmsg());
        return keel__fail(st, "The provided starting key is invalid: %s", detail);
    }
    if (!(c->start = dup_bytes(k.b, k.len))) return keel__fail(KEEL_ENOMEM, "start key");
    c->pos = c->start;
    c->pos_len = k.len;
    return KEEL_OK;
}

/* A key condition's BETWEEN whose bounds are the wrong way round, in DynamoDB's words. */
static keel_status between_reversed(const kdb_keycond *kc) {
    char lo[256], hi[256];
    kdb_expr_value_text(&kc->sk1, lo, sizeof lo);
    kdb_expr_value_text(&kc->sk2, hi, sizeof hi);
    return keel__fail(KEEL_EVALIDATION, "Invalid KeyConditionExpression: The BETWEEN operator "
                      "requires upper bound to be greater than or equal to lower bound; lower "
                      "bound operand: %s, upper bound operand: %s", lo, hi);
}

/* Bounds of an index query inside partition p: an index sort key is followed by the table
 * key, so "sk op v" compares prefixes: [E(v), succ(E(v))) holds every entry with v. */
static keel_status index_bounds(keel_db_cursor *c, const kdb_keycond *kc, const kdb_key *p) {
    kdb_key *a = malloc(2 * sizeof *a), *b = a + 1;
    if (!a) return keel__fail(KEEL_ENOMEM, "query bounds");
    keel_status st = KEEL_OK;
    *a = *p;
    c->lo.k = *p;
    c->lo.incl = true;
    c->hi.k = *p;
    c->hi.incl = false;
    if (kc->op != KDB_SK_ANY)
        st = kdb_key_append_isk(a, c->t.skt, &kc->sk1, true, kc->op != KDB_SK_BEGINS);
    if (st != KEEL_OK) goto out;
    *b = *a;
    bool b_succ = successor(b);  /* every key starting with E(v) is below it */
    switch (kc->op) {
    case KDB_SK_ANY:
        if (!successor(&c->hi.k)) c->hi.k.len = 0;
        break;
    case KDB_SK_EQ:
    case KDB_SK_BEGINS:
        c->lo.k = *a;
        c->hi.k = *b;
        if (!b_succ) c->hi.k.len = 0;
        break;
    case KDB_SK_LT:
        c->hi.k = *a;
        break;
    case KDB_SK_LE:
        c->hi.k = *b;
        if (!b_succ) c->hi.k.len = 0;
        break;
    case KDB_SK_GT:
    case KDB_SK_GE:
        c->lo.k = kc->op == KDB_SK_GT ? *b : *a;
        if (!successor(&c->hi.k)) c->hi.k.len = 0;
        break;
    case KDB_SK_BETWEEN:
        *b = *p;
        st = kdb_key_append_isk(b, c->t.skt, &kc->sk2, true, true);
        if (st == KEEL_OK && keycmp(a->b, a->len, b->b, b->len) > 0)
            st = between_reversed(kc);
        c->lo.k = *a;
        c->hi.k = *b;
        if (!successor(&c->hi.k)) c->hi.k.len = 0;
        break;
    }
out:
    free(a);
    return st;
}

/* An empty S or B value in a key condition: DynamoDB's message naming the attribute (the
 * key encoder, which knows no names, would say "partition key"). */
static keel_status keycond_not_empty(const keel_db_cursor *c, const kdb_keycond *kc) {
    const kdb_val *v[3] = {&kc->pk, kc->op != KDB_SK_ANY ? &kc->sk1 : NULL,
                           kc->op == KDB_SK_BETWEEN ? &kc->sk2 : NULL};
    for (int i = 0; i < 3; i++)
        if (v[i] && (v[i]->type == KDB_S || v[i]->type == KDB_B) && v[i]->size == 0)
            return keel__fail(KEEL_EVALIDATION, "One or more parameter values are not valid. "
                              "The AttributeValue for a key attribute cannot contain an empty "
                              "%s value. Key: %s", v[i]->type == KDB_S ? "string" : "binary",
                              i == 0 ? c->t.pk : c->t.sk);
    return KEEL_OK;
}

/* A query's filter may not name the key attributes it queries by (the table's, or the
 * index's when querying one), as DynamoDB requires; a scan's filter may. */
static keel_status filter_spares_keys(const keel_db_cursor *c) {
    const kdb_expr *e = c->filter;
    for (uint32_t i = 0; e && i < e->n_nodes; i++) {
        if (e->nodes[i].kind != KDB_EN_PATH) continue;
        const kdb_epel *first = &e->pels[e->nodes[i].first];
        const char *keys[2] = {c->t.pk, c->t.skt ? c->t.sk : ""};
        for (int k = 0; k < 2; k++)
            if (first->name && keys[k][0] && strlen(keys[k]) == first->len &&
                memcmp(keys[k], first->name, first->len) == 0)
                return keel__fail(KEEL_EVALIDATION, "Filter Expression can only contain "
                                  "non-primary key attributes: Primary key attribute: %s",
                                  keys[k]);
    }
    return KEEL_OK;
}

keel_status keel_db_query_start(keel_db *db, const char *table, const keel_db_query *q,
                                keel_db_cursor **cursor_out) {
    return kdb_query_start(db, table, q, false, cursor_out);
}

keel_status kdb_query_start(keel_db *db, const char *table, const keel_db_query *q,
                            bool key_filter, keel_db_cursor **cursor_out) {
    if (!cursor_out) return keel__fail(KEEL_EINVAL, "keel_db_query_start: cursor_out is NULL");
    keel_db_cursor *c = NULL;
    keel_status st = cursor_new(db, table, q, &c);
    if (st != KEEL_OK) return st;
    kdb_expr *kc_expr = NULL;
    kdb_keycond kc;
    if (!q->key_condition)
        st = keel__fail(KEEL_EVALIDATION, "a query needs a key condition expression");
    if (st == KEEL_OK)
        st = kdb_expr_role(kdb_expr_parse(KDB_EXPR_KEY_CONDITION, q->key_condition,
                                          strlen(q->key_condition), &c->subst, &kc_expr),
                           "KeyConditionExpression");
    if (st == KEEL_OK)
        st = kdb_expr_keycond(kc_expr, c->t.pk, c->t.pkt, c->t.skt ? c->t.sk : NULL, c->t.skt,
                              &kc);
    if (st == KEEL_OK) st = kdb_subst_check_unused(&c->subst);
    if (st == KEEL_OK && !key_filter) st = filter_spares_keys(c);
    if (st == KEEL_OK) st = keycond_not_empty(c, &kc);
    /* Bounds inside the partition P: see db.h for the key layout. */
    kdb_key p;
    if (st == KEEL_OK) st = kdb_key_make(c->t.id, c->t.pkt, &kc.pk, KEEL_DB_KEY_NONE, NULL, &p);
    if (st == KEEL_OK && c->is_index) st = index_bounds(c, &kc, &p);
    else if (st == KEEL_OK) {
        c->lo.k = p;
        c->lo.incl = true;
        c->hi.k = p;
        c->hi.incl = false;
        kdb_key a = p, b = p;
        switch (kc.op) {
        case KDB_SK_ANY:
            if (!successor(&c->hi.k)) c->hi.k.len = 0;
            break;
        case KDB_SK_EQ:
            st = kdb_key_append_sk(&a, c->t.skt, &kc.sk1);
            c->lo.k = c->hi.k = a;
            c->hi.incl = true;
            break;
        case KDB_SK_LT:
        case KDB_SK_LE:
            st = kdb_key_append_sk(&a, c->t.skt, &kc.sk1);
            c->hi.k = a;
            c->hi.incl = kc.op == KDB_SK_LE;
            break;
        case KDB_SK_GT:
        case KDB_SK_GE:
            st = kdb_key_append_sk(&a, c->t.skt, &kc.sk1);
            c->lo.k = a;
            c->lo.incl = kc.op == KDB_SK_GE;
            if (!successor(&c->hi.k)) c->hi.k.len = 0;
            break;
        case KDB_SK_BETWEEN:
            st = kdb_key_append_sk(&a, c->t.skt, &kc.sk1);
            if (st == KEEL_OK) st = kdb_key_append_sk(&b, c->t.skt, &kc.sk2);
            if (st == KEEL_OK && keycmp(a.b, a.len, b.b, b.len) > 0)
                st = between_reversed(&kc);
            c->lo.k = a;
            c->hi.k = b;
            c->hi.incl = true;
            break;
        case KDB_SK_BEGINS:
            st = kdb_key_append_sk(&a, c->t.skt, &kc.sk1);
            c->lo.k = a;
            c->hi.k = a;
            if (!successor(&c->hi.k)) c->hi.k.len = 0;
            break;
        }
    }
    kdb_expr_free(kc_expr);
    if (st == KEEL_OK) st = cursor_start_key(c, q);
    if (st == KEEL_OK && c->pos &&
        (keycmp(c->pos, c->pos_len, p.b, p.len) < 0 ||
         (!c->is_index && (c->pos_len < p.len || memcmp(c->pos, p.b, p.len) != 0))))
        st = keel__fail(KEEL_EVALIDATION, "The provided starting key is outside query "
                        "boundaries based on provided conditions");
    /* In its partition, a table query's start key must meet the sort key condition, as a
     * LastEvaluatedKey always does (DynamoDB refuses others). */
    if (st == KEEL_OK && c->pos && !c->is_index) {
        int lo = keycmp(c->pos, c->pos_len, c->lo.k.b, c->lo.k.len);
        int hi = c->hi.k.len ? keycmp(c->pos, c->pos_len, c->hi.k.b, c->hi.k.len) : -1;
        if (lo < 0 || (lo == 0 && !c->lo.incl) || hi > 0 || (hi == 0 && !c->hi.incl))
            st = keel__fail(KEEL_EVALIDATION, "The provided starting key does not match the "
                            "range key predicate");
    }
    if (st != KEEL_OK) {
        keel_db_cursor_free(c);
        return st;
    }
    *cursor_out = c;
    return KEEL_OK;
}

keel_status keel_db_scan_start(keel_db *db, const char *table, const keel_db_query *q,
                               keel_db_cursor **cursor_out) {
    if (!cursor_out) return keel__fail(KEEL_EINVAL, "keel_db_scan_start: cursor_out is NULL");
    keel_db_cursor *c = NULL;
    keel_status st = cursor_new(db, table, q, &c);
    if (st != KEEL_OK) return st;
    c->forward = true;
    uint32_t total = q->total_segments ? q->total_segments : 1, seg = q->segment;
    if (q->key_condition)
        st = keel__fail(KEEL_EVALIDATION, "a scan takes no key condition expression");
    else if (total > 1000000)
        st = keel__fail(KEEL_EVALIDATION, "TotalSegments %u is over the limit of 1000000", total);
    else if (seg >= total)
        st = keel__fail(KEEL_EVALIDATION, "Segment %u must be less than TotalSegments %u", seg,
                        total);
    if (st == KEEL_OK) st = kdb_subst_check_unused(&c->subst);
    if (st == KEEL_OK) {
        /* Segment `seg` is the slice [seg, seg+1) * 2^32 / total of the partition hashes. */
        uint64_t lo_h = ((uint64_t)seg << 32) / total, hi_h = ((uint64_t)(seg + 1) << 32) / total;
        c->lo.k.len = c->hi.k.len = 8;
        c->lo.incl = true;
        put_be32(c->lo.k.b, c->t.id);
        put_be32(c->lo.k.b + 4, (uint32_t)lo_h);
        if (hi_h >> 32) {
            put_be32(c->hi.k.b, c->t.id + 1);
            put_be32(c->hi.k.b + 4, 0);
        } else {
            put_be32(c->hi.k.b, c->t.id);
            put_be32(c->hi.k.b + 4, (uint32_t)hi_h);
        }
        st = cursor_start_key(c, q);
        /* the start key's partition hash must fall in the segment */
        if (st == KEEL_OK && c->start && q->total_segments &&
            (keycmp(c->start, c->pos_len, c->lo.k.b, c->lo.k.len) < 0 ||
             keycmp(c->start, c->pos_len, c->hi.k.b, c->hi.k.len) >= 0))
            st = keel__fail(KEEL_EVALIDATION, "The provided Exclusive start key does not map to "
                            "the provided segment");
    }
    if (st != KEEL_OK) {
        keel_db_cursor_free(c);
        return st;
    }
    *cursor_out = c;
    return KEEL_OK;
}

/* Is `key` on the far side of the bound the cursor walks towards? */
static bool past_end(const keel_db_cursor *c, const uint8_t *key, size_t len) {
    const bound *b = c->forward ? &c->hi : &c->lo;
    if (b->k.len == 0) return false;
    int r = keycmp(key, len, b->k.b, b->k.len);
    if (c->forward) return b->incl ? r > 0 : r >= 0;
    return b->incl ? r < 0 : r <= 0;
}

/* Position on the first entry to evaluate. Index lock held. */
static bool cursor_seek(keel_db_cursor *c, const kdb_keysrc *src, kdb_opos *pos) {
    const kdb_order *o = c->db->order;
    if (c->forward) {
        const uint8_t *k = c->pos ? c->pos : c->lo.k.b;
        size_t n = c->pos ? c->pos_len : c->lo.k.len;
        bool excl = c->pos ? true : !c->lo.incl;
        if (!kdb_order_seek(o, k, n, src, pos)) return false;
        if (excl) {
            size_t klen;
            const uint8_t *key = src->key_at(src->ctx, kdb_order_get(pos).off, &klen);
            if (keycmp(key, klen, k, n) == 0) return kdb_order_next(o, pos);
        }
        return true;
    }
    if (c->pos) return kdb_order_seek_before(o, c->pos, c->pos_len, src, pos);
    if (c->hi.k.len == 0) return kdb_order_last(o, pos);
    if (c->hi.incl && kdb_order_seek(o, c->hi.k.b, c->hi.k.len, src, pos)) {
        size_t klen;
        const uint8_t *key = src->key_at(src->ctx, kdb_order_get(pos).off, &klen);
        if (keycmp(key, klen, c->hi.k.b, c->hi.k.len) == 0) return true;
    }
    return kdb_order_seek_before(o, c->hi.k.b, c->hi.k.len, src, pos);
}

/* Is this item (or, for an index, the item of this index entry) expired? Index lock held. */
static bool expired(keel_db_cursor *c, int64_t now, const uint8_t *item, size_t len) {
    if (!c->is_index) return kdb_expired(c->ttl, now, item, len);
    kdb_key *tk = malloc(sizeof *tk);
    keel_hit hit;
    bool gone = false;
    if (tk && kdb_item_key(&c->base, item, len, false, tk) == KEEL_OK) {
        keel_store *s = c->db->s;
        if (keel__index_find(s, keel_hash(tk->b, tk->len), tk->b, tk->len, &hit) && !hit.dead)
            gone = kdb_expired(c->ttl, now, keel__at(s, hit.value_start), (size_t)hit.value_len);
    }
    free(tk);
    return gone;
}

/* Collect the next batch of items that pass the filter. */
static keel_status refill(keel_db_cursor *c) {
    keel_db *db = c->db;
    c->bn = c->bi = 0;
    keel_status st = kdb_db_fresh_order(db);
    if (st != KEEL_OK) return st;
    if ((st = keel__reader_enter(db->s)) != KEEL_OK) return st;
    keel_store *s = db->s;
    kdb_keysrc src = kdb_db_keysrc(db);
    kdb_opos pos;
    int64_t now = c->ttl[0] ? kdb_now(db) : 0;
    bool more = cursor_seek(c, &src, &pos);
    while (more && c->bn < BATCH) {
        if (c->limit && c->scanned >= c->limit) {
            c->limited = true;
            break;
        }
        kdb_oent e = kdb_order_get(&pos);
        size_t klen;
        const uint8_t *key = kdb_key_at(s, e.off, &klen);
        if (past_end(c, key, klen)) break;
        keel_snap_entry se;
        keel__entry_at(s->map->base, s->align, e.off, &se);
        const uint8_t *item = s->map->base + se.voff;
        if (!keel__entry_intact(s->map->base, s->align, e.off)) {
            st = keel__entry_damaged(se.voff);
            break;
        }
        c->pos = key;
        c->pos_len = klen;
        if (c->ttl[0] && expired(c, now, item, se.vlen)) {
            more = c->forward ? kdb_order_next(db->order, &pos) : kdb_order_prev(db->order, &pos);
            continue;
        }
        c->scanned++;
        c->last_item = item;
        c->last_item_len = se.vlen;
        int pass = c->filter ? kdb_expr_eval(c->filter, item, se.vlen) : 1;
        if (pass < 0) {
            st = keel__fail(KEEL_ECORRUPT, "filter: the stored item at offset %llu is malformed",
                            (unsigned long long)se.voff);
            break;
        }
        if (pass == 1) {
            c->batch[c->bn].p = item;
            c->batch[c->bn].len = se.vlen;
            c->bn++;
        }
        more = c->forward ? kdb_order_next(db->order, &pos) : kdb_order_prev(db->order, &pos);
    }
    if (c->limit && c->scanned >= c->limit) c->limited = true;
    if (!more || (c->bn < BATCH && !c->limited)) c->done = true;
    keel__reader_leave(s);
    return st;
}

keel_status keel_db_cursor_next(keel_db_cursor *c, keel_view *item_out) {
    if (!c || !item_out) return keel__fail(KEEL_EINVAL, "keel_db_cursor_next: NULL argument");
    while (c->bi == c->bn) {
        if (c->done || c->limited) return KEEL_NOTFOUND;
        keel_status st = refill(c);
        if (st != KEEL_OK) return st;
    }
    const uint8_t *item = c->batch[c->bi].p;
    size_t len = c->batch[c->bi].len;
    c->cur_item = item;
    c->cur_item_len = len;
    c->bi++;
    c->returned++;
    if (!c->projection) {
        item_out->data = item;
        item_out->len = len;
        return KEEL_OK;
    }
    keel_status st = kdb_expr_project(c->projection, item, len, &c->out);
    if (st != KEEL_OK) return st;
    item_out->data = c->out.p;
    item_out->len = c->out.len;
    return KEEL_OK;
}

/* The key map of `item` (a stored item of the cursor's table) into `out` (reset first). */
static keel_status key_of(const keel_db_cursor *c, const uint8_t *item, size_t len, kdb_buf *out) {
    /* The table's key attributes, then (an index query) the index's others. */
    const char *names[4] = {c->base.pk, c->base.sk, c->is_index ? c->t.pk : "",
                            c->is_index ? c->t.sk : ""};
    kdb_val vals[4];
    size_t n = 0;
    for (size_t i = 0; i < 4; i++) {
        bool dup = !names[i][0];
        for (size_t j = 0; j < i && !dup; j++) dup = strcmp(names[i], names[j]) == 0;
        if (dup) {
            names[i] = "";
            continue;
        }
        if (!kdb_item_attr(item, len, names[i], strlen(names[i]), &vals[i]))
            return keel__fail(KEEL_ECORRUPT, "a stored item of table %s lacks its key attributes",
                              c->base.name);
        n++;
    }
    out->len = 0;
    out->failed = false;
    kdb_enc_map(out, n);
    for (size_t i = 0; i < 4; i++) {
        if (!names[i][0]) continue;
        kdb_enc_text(out, names[i], strlen(names[i]));
        kdb_buf_put(out, vals[i].p, vals[i].len);
    }
    if (out->failed) return keel__fail(KEEL_ENOMEM, "last evaluated key");
    return KEEL_OK;
}

keel_status keel_db_cursor_last_key(keel_db_cursor *c, keel_view *key_out) {
    if (!c || !key_out) return keel__fail(KEEL_EINVAL, "keel_db_cursor_last_key: NULL argument");
    /* Only a cursor stopped by its limit has somewhere to resume; one that ran out of items
     * has not, even when it consumed every batch. */
    if (!c->limited || !c->last_item || c->bi < c->bn) return KEEL_NOTFOUND;
    keel_status st = key_of(c, c->last_item, c->last_item_len, &c->out);
    if (st != KEEL_OK) return st;
    key_out->data = c->out.p;
    key_out->len = c->out.len;
    return KEEL_OK;
}

keel_status keel_db_cursor_current(keel_db_cursor *c, keel_view *item_out, keel_view *key_out) {
    if (!c || !item_out || !key_out)
        return keel__fail(KEEL_EINVAL, "keel_db_cursor_current: NULL argument");
    if (!c->cur_item) return KEEL_NOTFOUND;
    keel_status st = key_of(c, c->cur_item, c->cur_item_len, &c->cur_key);
    if (st != KEEL_OK) return st;
    item_out->data = c->cur_item;
    item_out->len = c->cur_item_len;
    key_out->data = c->cur_key.p;
    key_out->len = c->cur_key.len;
    return KEEL_OK;
}

void keel_db_cursor_counts(const keel_db_cursor *c, uint64_t *scanned_out, uint64_t *returned_out) {
    if (scanned_out) *scanned_out = c ? c->scanned : 0;
    if (returned_out) *returned_out = c ? c->returned : 0;
}
