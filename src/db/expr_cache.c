/*
 * expr_cache.c: parsed condition and update expressions kept by their text, so that a
 * write repeated with the same ConditionExpression or UpdateExpression text and the same
 * ExpressionAttributeNames (a counter's "SET n = n + :d", a put's
 * "attribute_not_exists(pk)") is not lexed and parsed again, whatever its
 * ExpressionAttributeValues (kdb_expr_parse_cached, used by kdb_write_prepare).
 *
 * An entry is keyed by the kind, the text and the bytes of the names map: the tree, the
 * paths and every check that does not involve a value depend on those alone (never on the
 * catalog or the item), so no entry can go stale and nothing needs invalidating. It holds
 * the parse of its first successful request, values included. A request whose values map
 * is byte for byte that one shares the parse as it is; any other values are bound to it
 * (kdb_expr_bind, expr_bind.c): the parser's value-dependent checks run again, in the
 * parser's order, on the new values, so a value of the wrong type, an undefined
 * :placeholder or a bad attribute_type name fails with the parser's own message, also
 * after a cached success. What the table adds (kdb_update_check against its key names) is
 * checked by the caller on every write, hit or miss. Only successful parses are kept: a
 * failing expression is parsed again each time and fails with the parser's own message.
 * The placeholders a request used (the kdb_subst bits kdb_subst_check_unused reads): the
 * names' are the entry's (same names, same parse), the values' those of the shared parse
 * or of the binding.
 *
 * Sharing: a cached kdb_expr is read-only (evaluation and update application take it as
 * const) and reference counted (kdb_expr.refs, atomic): the cache holds one reference and
 * every write using it (directly or through a bound copy) one more; kdb_expr_free drops
 * one and frees at the last. An expression that was never cached has refs 0 and one
 * owner, as before; so has a bound copy.
 *
 * Invariants: at most KDB_EXPR_CACHE entries (least recently used evicted); entries are
 * read, added or evicted only under `lock`; texts and names longer than
 * KDB_EXPR_CACHE_MAX bytes in all are not cached (a hit's comparison and the memory kept
 * would grow with the request).
 */
#include "db/db_internal.h"
#include "db/expr.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define KDB_EXPR_CACHE 64u
#define KDB_EXPR_CACHE_MAX 2048u

typedef struct ex_entry {
    uint64_t hash, used;
    kdb_expr_kind kind;
    size_t len, names_len, values_len;
    uint64_t names_used, values_used;   /* the placeholders this parse used */
    kdb_expr *e;                        /* one reference, the cache's */
} ex_entry;

struct kdb_exprcache {
    pthread_mutex_t lock;
    ex_entry e[KDB_EXPR_CACHE];
    uint32_t n;
    uint64_t clock;
};

kdb_exprcache *kdb_exprcache_new(void) {
    kdb_exprcache *c = calloc(1, sizeof *c);
    if (c) pthread_mutex_init(&c->lock, NULL);
    return c;
}

void kdb_exprcache_free(kdb_exprcache *c) {
    if (!c) return;
    for (uint32_t i = 0; i < c->n; i++) kdb_expr_free(c->e[i].e);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* FNV-1a over the kind, the text and the names (the lengths are compared on a match). */
static uint64_t mix(uint64_t h, const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static bool same(const ex_entry *x, uint64_t h, kdb_expr_kind kind, const char *text, size_t len,
                 const kdb_subst *s) {
    if (x->hash != h || x->kind != kind || x->len != len || x->names_len != s->names_len)
        return false;
    const uint8_t *b = x->e->blob;      /* text, names, values: what the parser copied */
    return memcmp(b, text, len) == 0 &&
           (!s->names_len || memcmp(b + len, s->names, s->names_len) == 0);
}

/* The request's values are the entry's parse's, byte for byte. */
static bool same_values(const ex_entry *x, const kdb_subst *s) {
    return x->values_len == s->values_len &&
           (!s->values_len ||
            memcmp(x->e->blob + x->len + x->names_len, s->values, s->values_len) == 0);
}

static ex_entry *find(kdb_exprcache *c, uint64_t h, kdb_expr_kind kind, const char *text,
                      size_t len, const kdb_subst *s) {
    for (uint32_t i = 0; i < c->n; i++)
        if (same(&c->e[i], h, kind, text, len, s)) return &c->e[i];
    return NULL;
}

/* Keep `e` (a fresh parse, refs 0, owned by the caller) as shared: refs becomes 2. */
static void remember(kdb_exprcache *c, uint64_t h, kdb_expr_kind kind, size_t len,
                     const kdb_subst *mine, kdb_expr *e) {
    pthread_mutex_lock(&c->lock);
    if (find(c, h, kind, (const char *)e->blob, len, mine)) {   /* another thread was first */
        pthread_mutex_unlock(&c->lock);
        return;
    }
    ex_entry *x;
    if (c->n < KDB_EXPR_CACHE) {
        x = &c->e[c->n++];
    } else {
        x = &c->e[0];
        for (uint32_t i = 1; i < c->n; i++)
            if (c->e[i].used < x->used) x = &c->e[i];
        kdb_expr_free(x->e);
    }
    atomic_store_explicit(&e->refs, 2u, memory_order_relaxed);  /* published by the unlock */
    x->hash = h, x->used = ++c->clock, x->kind = kind;
    x->len = len, x->names_len = mine->names_len, x->values_len = mine->values_len;
    x->names_used = mine->names_used, x->values_used = mine->values_used;
    x->e = e;
    pthread_mutex_unlock(&c->lock);
}

keel_status kdb_expr_parse_cached(keel_db *db, kdb_expr_kind kind, const char *text,
                                  kdb_subst *s, kdb_expr **out) {
    size_t len = strlen(text);
    kdb_exprcache *c = db->exprcache;
    if (!c || len + s->names_len > KDB_EXPR_CACHE_MAX)
        return kdb_expr_parse(kind, text, len, s, out);
    uint64_t h = mix(0xcbf29ce484222325ull ^ (uint64_t)kind, text, len);
    h = mix(h, s->names, s->names_len);
    pthread_mutex_lock(&c->lock);
    ex_entry *x = find(c, h, kind, text, len, s);
    if (x) {
        x->used = ++c->clock;
        kdb_expr *e = x->e;
        atomic_fetch_add_explicit(&e->refs, 1u, memory_order_relaxed);  /* ours now */
        bool same_vals = same_values(x, s);
        uint64_t names_used = x->names_used, values_used = x->values_used;
        pthread_mutex_unlock(&c->lock);
        s->names_used |= names_used;
        if (same_vals) {
            s->values_used |= values_used;
            *out = e;
            return KEEL_OK;
        }
        uint64_t used = 0;
        keel_status st = kdb_expr_bind(e, s->values, s->values_len, &used, out);
        s->values_used |= used;
        return st;
    }
    pthread_mutex_unlock(&c->lock);
    /* Parse against a copy with no marks, to learn which placeholders this text uses. */
    kdb_subst mine = *s;
    mine.names_used = mine.values_used = 0;
    keel_status st = kdb_expr_parse(kind, text, len, &mine, out);
    s->names_used |= mine.names_used;
    s->values_used |= mine.values_used;
    if (st == KEEL_OK) remember(c, h, kind, len, &mine, *out);
    return st;
}
