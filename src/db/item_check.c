/*
 * item_check.c: kdb_item_check, the full validation of an item that comes from a caller:
 * DynamoDB's rules (types, non-empty sets without duplicates, UTF-8 names and strings,
 * numbers in range with at most 38 digits, nesting at most 32 levels, padding pairs only at
 * the top level) and the item's size by DynamoDB's measure (see item.c's header for the
 * measure and the type mapping). A failure names the path of the offending value.
 *
 * kdb_val_decode (item.c) checks only the structure of a value; everything it leaves out
 * is checked here, once per item from a caller: stored items are not checked again.
 */
#include "db/db.h"
#include "base/base.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The path of the value being checked, kept as segments and formatted only for a
 * message (formatting every name on the way would cost more than the check itself). */
typedef struct seg {
    const uint8_t *name;    /* NULL: a list index */
    size_t len;
    uint64_t idx;
} seg;

#define PATH_SEGS 40        /* deeper paths (only in malformed input) are cut with "..." */

typedef struct chk {
    seg s[PATH_SEGS];
    unsigned depth;
    uint64_t top_attrs;     /* the item's attributes, padding pairs not counted */
    bool top_vector;        /* one of them is a vector */
} chk;

static keel_status bad(const chk *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static keel_status bad(const chk *c, const char *fmt, ...) {
    char msg[400], path[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->depth == 0) return keel__fail(KEEL_EVALIDATION, "item: %s", msg);
    size_t k = 0;
    path[0] = 0;
    unsigned n = c->depth < PATH_SEGS ? c->depth : PATH_SEGS;
    for (unsigned i = 0; i < n && k < sizeof path - 80; i++) {
        const seg *g = &c->s[i];
        int w;
        if (g->name)
            w = snprintf(path + k, sizeof path - k, "%s%.*s%s", i ? "." : "",
                         (int)(g->len > 64 ? 64 : g->len), (const char *)g->name,
                         g->len > 64 ? "..." : "");
        else
            w = snprintf(path + k, sizeof path - k, "[%llu]", (unsigned long long)g->idx);
        if (w > 0) k += (size_t)w;
    }
    if (k >= sizeof path - 80 || c->depth > PATH_SEGS) snprintf(path + k, sizeof path - k, "...");
    return keel__fail(KEEL_EVALIDATION, "attribute %s: %s", path, msg);
}

/* Enter ".name" or "[i]"; pop() leaves it. */
static unsigned push_name(chk *c, const uint8_t *name, size_t n) {
    if (c->depth < PATH_SEGS) {
        c->s[c->depth].name = name;
        c->s[c->depth].len = n;
    }
    return c->depth++;
}

static unsigned push_index(chk *c, uint64_t i) {
    if (c->depth < PATH_SEGS) {
        c->s[c->depth].name = NULL;
        c->s[c->depth].idx = i;
    }
    return c->depth++;
}

static void pop(chk *c, unsigned old) { c->depth = old; }

typedef struct span {
    const uint8_t *p;
    size_t n;
} span;

static int span_cmp(const void *a, const void *b) {
    const span *x = a, *y = b;
    size_t m = x->n < y->n ? x->n : y->n;
    int c = m ? memcmp(x->p, y->p, m) : 0;
    if (c) return c;
    return x->n < y->n ? -1 : x->n > y->n;
}

static int num_qcmp(const void *a, const void *b) { return kdb_num_cmp(a, b); }

/* Any two equal among v[0..n)? Sorts v when n is large. */
static bool spans_dup(span *v, size_t n) {
    if (n <= 16) {
        for (size_t i = 1; i < n; i++)
            for (size_t j = 0; j < i; j++)
                if (v[i].n == v[j].n && memcmp(v[i].p, v[j].p, v[i].n) == 0) return true;
        return false;
    }
    qsort(v, n, sizeof *v, span_cmp);
    for (size_t i = 1; i < n; i++)
        if (span_cmp(&v[i - 1], &v[i]) == 0) return true;
    return false;
}

static uint64_t num_size(const kdb_num *x) { return (uint64_t)(x->n + 1) / 2 + 1; }

/* Why kdb_val_decode refused the value at p (for the message; the path names it). */
static keel_status why_bad_value(chk *c, const uint8_t *p, size_t len) {
    kdb_head h, in;
    if (!kdb_cbor_head(p, len, &h)) return bad(c, "not well-formed CBOR");
    if (h.kind == KDB_C_UNDEFINED) return bad(c, "undefined is not an item value");
    if (h.kind == KDB_C_FLOAT) return bad(c, "NaN and Infinity are not valid numbers");
    if (h.kind == KDB_C_TAG) {
        bool has = kdb_cbor_head(p + h.head_len, len - h.head_len, &in);
        if (h.v.u == KDB_TAG_SET && has && in.kind == KDB_C_ARRAY && in.v.u == 0)
            return bad(c, "empty sets are not allowed");
        if (h.v.u == KDB_TAG_SET)
            return bad(c, "a set must be a non-empty array of strings, numbers or binary values");
        if (h.v.u == KDB_TAG_F32LE)
            return bad(c, "a vector must be a byte string of 4 * dims bytes (dims >= 1) of "
                          "finite float32 values");
        if (h.v.u <= KDB_TAG_DECIMAL && h.v.u >= KDB_TAG_POS_BIGNUM) return bad(c, "malformed number");
        return bad(c, "CBOR tag %llu is not an item type", (unsigned long long)h.v.u);
    }
    return bad(c, "not well-formed CBOR, or nested deeper than 32 levels");
}

/* Why the map pair at p was refused. */
static keel_status why_bad_pair(chk *c, const uint8_t *p, size_t len) {
    kdb_head k;
    if (!kdb_cbor_head(p, len, &k)) return bad(c, "not well-formed CBOR");
    if (k.kind == KDB_C_UINT) return bad(c, "a padding entry's value must be a byte string");
    if (k.kind != KDB_C_TEXT) return bad(c, "attribute names must be text strings");
    unsigned old = push_name(c, k.data, k.size);
    keel_status st = why_bad_value(c, p + k.head_len, len - k.head_len);
    pop(c, old);
    return st;
}

static keel_status check_val(chk *c, const kdb_val *v, unsigned level, uint64_t *size);

static keel_status check_map(chk *c, const kdb_val *v, unsigned level, uint64_t *size,
                             bool top) {
    /* count is bounded by the bytes of the map (kdb_cbor_skip checked it) */
    span small[16];
    span *names = small;
    if (v->count > 16) {
        names = malloc((size_t)v->count * sizeof *names);
        if (!names) return keel__fail(KEEL_ENOMEM, "checking an item of %llu attributes",
                                      (unsigned long long)v->count);
    }
    size_t k = 0;
    keel_status st = KEEL_OK;
    kdb_iter it;
    kdb_iter_init(&it, v);
    const uint8_t *name;
    size_t nlen;
    kdb_val e;
    int r;
    while ((r = kdb_iter_next(&it, &name, &nlen, &e)) == 1) {
        if (nlen == 0) {
            st = bad(c, "empty attribute name");
            goto done;
        }
        if (nlen > 65535) {
            st = bad(c, "attribute name of %zu bytes (the limit is 65535)", nlen);
            goto done;
        }
        if (!kdb_utf8_valid(name, nlen)) {
            st = bad(c, "attribute name is not valid UTF-8");
            goto done;
        }
        names[k].p = name;
        names[k].n = nlen;
        k++;
        if (top && e.type == KDB_V) c->top_vector = true;
        unsigned old = push_name(c, name, nlen);
        uint64_t es = 0;
        st = check_val(c, &e, level + 1, &es);
        pop(c, old);
        if (st != KEEL_OK) goto done;
        *size += nlen + es + (top ? 0 : 1);
    }
    if (r < 0) {
        st = why_bad_pair(c, it.p, (size_t)(it.end - it.p));
        goto done;
    }
    if (!top && k != v->count) {
        st = bad(c, "padding entries are allowed only at the top level of an item");
        goto done;
    }
    if (spans_dup(names, k)) {
        st = bad(c, "duplicate attribute names");
        goto done;
    }
    if (top) c->top_attrs = k;
    if (!top) *size += 3;
done:
    if (names != small) free(names);
    return st;
}

static keel_status check_set(chk *c, const kdb_val *v, uint64_t *size) {
    kdb_type want = v->type == KDB_SS ? KDB_S : v->type == KDB_NS ? KDB_N : KDB_B;
    const char *what = v->type == KDB_SS ? "string" : v->type == KDB_NS ? "number" : "binary";
    size_t n = (size_t)v->count;
    span small_sp[16];
    kdb_num small_nums[16];
    span *sp = NULL;
    kdb_num *nums = NULL;
    if (want == KDB_N) nums = n <= 16 ? small_nums : malloc(n * sizeof *nums);
    else sp = n <= 16 ? small_sp : malloc(n * sizeof *sp);
    if (!nums && !sp) return keel__fail(KEEL_ENOMEM, "checking a set of %zu elements", n);
    keel_status st = KEEL_OK;
    kdb_iter it;
    kdb_iter_init(&it, v);
    kdb_val e;
    size_t k = 0;
    int r;
    while ((r = kdb_iter_next(&it, NULL, NULL, &e)) == 1) {
        if (e.type != want) {
            st = bad(c, "%s set contains an element of type %s", what, kdb_type_name(e.type));
            goto done;
        }
        if (want == KDB_N) {
            if (kdb_val_num(&e, &nums[k]) != KEEL_OK) {
                char msg[200];
                snprintf(msg, sizeof msg, "%s", keel_errmsg());
                st = bad(c, "%s", msg);
                goto done;
            }
            *size += num_size(&nums[k]);
        } else {
            if (want == KDB_S && !kdb_utf8_valid(e.data, e.size)) {
                st = bad(c, "string set contains invalid UTF-8");
                goto done;
            }
            sp[k].p = e.data;
            sp[k].n = e.size;
            *size += e.size;
        }
        k++;
    }
    if (r < 0) {
        st = bad(c, "malformed %s set", what);
        goto done;
    }
    bool dup = false;
    if (want == KDB_N && k <= 16) {
        for (size_t i = 1; i < k && !dup; i++)
            for (size_t j = 0; j < i && !dup; j++) dup = kdb_num_cmp(&nums[i], &nums[j]) == 0;
    } else if (want == KDB_N) {
        qsort(nums, k, sizeof *nums, num_qcmp);
        for (size_t i = 1; i < k && !dup; i++) dup = kdb_num_cmp(&nums[i - 1], &nums[i]) == 0;
    } else {
        dup = spans_dup(sp, k);
    }
    if (dup) st = bad(c, "%s set contains duplicates", what);
done:
    if (sp != small_sp) free(sp);
    if (nums != small_nums) free(nums);
    return st;
}

static keel_status check_val(chk *c, const kdb_val *v, unsigned level, uint64_t *size) {
    switch (v->type) {
    case KDB_S:
        if (!kdb_utf8_valid(v->data, v->size)) return bad(c, "string is not valid UTF-8");
        *size += v->size;
        return KEEL_OK;
    case KDB_B:
        *size += v->size;
        return KEEL_OK;
    case KDB_N: {
        kdb_num x;
        if (kdb_val_num(v, &x) != KEEL_OK) {
            char msg[200];
            snprintf(msg, sizeof msg, "%s", keel_errmsg());
            return bad(c, "%s", msg);
        }
        *size += num_size(&x);
        return KEEL_OK;
    }
    case KDB_BOOL:
    case KDB_NULL:
        *size += 1;
        return KEEL_OK;
    case KDB_V:
        *size += v->size;
        return KEEL_OK;
    case KDB_SS:
    case KDB_NS:
    case KDB_BS:
        return check_set(c, v, size);
    case KDB_L: {
        if (level > KEEL_DB_MAX_DEPTH) return bad(c, "nested deeper than 32 levels");
        kdb_iter it;
        kdb_iter_init(&it, v);
        kdb_val e;
        uint64_t i = 0;
        int r;
        while ((r = kdb_iter_next(&it, NULL, NULL, &e)) == 1) {
            unsigned old = push_index(c, i++);
            keel_status st = check_val(c, &e, level + 1, size);
            pop(c, old);
            if (st != KEEL_OK) return st;
            *size += 1;
        }
        if (r < 0) {
            unsigned old = push_index(c, i);
            keel_status st = why_bad_value(c, it.p, (size_t)(it.end - it.p));
            pop(c, old);
            return st;
        }
        *size += 3;
        return KEEL_OK;
    }
    case KDB_M:
        if (level > KEEL_DB_MAX_DEPTH) return bad(c, "nested deeper than 32 levels");
        return check_map(c, v, level, size, false);
    }
    return bad(c, "unknown type");
}

keel_status kdb_val_check(const kdb_val *v) {
    chk c;
    c.depth = 0;
    uint64_t size = 0;
    keel_status st = check_val(&c, v, 1, &size);   /* an attribute's level, as in a map */
    if (st != KEEL_OK) return st;
    if (size + 1 > KEEL_DB_MAX_ITEM)                /* + the name "v" */
        return keel__fail(KEEL_EVALIDATION, "Item size has exceeded the maximum allowed size "
                          "(%llu bytes, the limit is %u)", (unsigned long long)(size + 1),
                          KEEL_DB_MAX_ITEM);
    return KEEL_OK;
}

/* The length of the shortest CBOR head for argument n. */
static size_t head_len(uint64_t n) {
    return n < 24 ? 1 : n <= 0xff ? 2 : n <= 0xffff ? 3 : n <= 0xffffffffu ? 5 : 9;
}

keel_status kdb_item_check_plain(const uint8_t *item, size_t len, size_t *size_out,
                                 bool *plain_out) {
    chk c;
    c.depth = 0;
    c.top_attrs = 0;
    c.top_vector = false;
    if (plain_out) *plain_out = false;
    if (!item || len == 0) return keel__fail(KEEL_EVALIDATION, "item: empty");
    kdb_head h;
    if (!kdb_cbor_head(item, len, &h)) return bad(&c, "not well-formed CBOR");
    if (h.kind != KDB_C_MAP) return bad(&c, "an item must be a CBOR map");
    kdb_val m;
    if (!kdb_item_open(item, len, &m)) {
        if (kdb_cbor_skip(item, len, 100000) != 0) return bad(&c, "nested deeper than 32 levels");
        return bad(&c, "not well-formed CBOR (or a value that is not an item value)");
    }
    if (m.len != len) return bad(&c, "%zu bytes after the item's map", len - m.len);
    uint64_t size = 0;
    keel_status st = check_map(&c, &m, 0, &size, true);
    if (st != KEEL_OK) return st;
    if (size > KEEL_DB_MAX_ITEM)
        return keel__fail(KEEL_EVALIDATION, "Item size has exceeded the maximum allowed size "
                          "(%llu bytes, the limit is %u)", (unsigned long long)size,
                          KEEL_DB_MAX_ITEM);
    if (size_out) *size_out = (size_t)size;
    /* kdb_item_store_form would write these very bytes: no padding pair to drop, no vector
     * to pad, and the head it writes (the shortest for the count). */
    if (plain_out)
        *plain_out = !c.top_vector && c.top_attrs == m.count && h.head_len == head_len(m.count);
    return KEEL_OK;
}

keel_status kdb_item_check(const uint8_t *item, size_t len, size_t *size_out) {
    return kdb_item_check_plain(item, len, size_out, NULL);
}
