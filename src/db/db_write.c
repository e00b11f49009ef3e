/*
 * db_write.c: the write path every item write takes: put, delete, update, batch writes,
 * transactions and the default table's writes.
 *
 * A request is a list of kdb_write. Outside any lock, kdb_write_prepare checks what can be
 * checked alone: the item against DynamoDB's rules, the key against the schema, the
 * expressions (parsed once, with every name and value used), and a put's stored form.
 * (kdb_item_key, the store key of an item or a key map, lives here for every reader too.)
 * Then kdb_writes_run takes the store's writer lock and, in one critical section:
 *
 *   1. checks each write's table still exists (a concurrent delete_table could otherwise
 *      leave orphans);
 *   2. for each write (eval_write): finds its current item through the hash index (the
 *      writer lock keeps the index still: only writers change it), evaluates its
 *      condition against that item, and computes its new item (an update applies its
 *      expression to the current item, or to the key map when there is none);
 *   3. if every write passed, turns each into store entries (entries_for_write: the one
 *      place that knows which entries a write needs, given its old and new item) and
 *      appends them all as one atomic group.
 *
 * So a condition and the write it guards can never be separated by another writer, and a
 * request is all or nothing both in memory and after a crash. Results (ReturnValues) are
 * formed after the lock is released: the old item is a view into the mapping, whose
 * committed bytes never change and which is never unmapped before close.
 */
#include "db/db_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- keys -------------------------------------------------------------------------------- */

/* Count the attributes of a key map and check it names only the schema's keys. */
static keel_status check_key_only(const kdb_table *t, const uint8_t *key, size_t len) {
    kdb_val m, v;
    if (!kdb_item_open(key, len, &m))
        return keel__fail(KEEL_EVALIDATION, "the key must be a map of attribute names to values");
    kdb_iter it;
    kdb_iter_init(&it, &m);
    const uint8_t *name;
    size_t nlen;
    int r;
    while ((r = kdb_iter_next(&it, &name, &nlen, &v)) == 1) {
        bool is_pk = nlen == strlen(t->pk) && memcmp(name, t->pk, nlen) == 0;
        bool is_sk = t->skt && nlen == strlen(t->sk) && memcmp(name, t->sk, nlen) == 0;
        if (!is_pk && !is_sk)
            return keel__fail(KEEL_EVALIDATION, "The provided key element does not match the "
                              "schema: '%.*s' is not a key attribute of table %s",
                              (int)(nlen > 255 ? 255 : nlen), (const char *)name, t->name);
    }
    if (r < 0) return keel__fail(KEEL_EVALIDATION, "the key is not a valid item encoding");
    return KEEL_OK;
}

/* DynamoDB's messages for a key attribute of the wrong type or an empty S/B one, naming the
 * attribute. A Key parameter (`key_only`: GetItem, DeleteItem, UpdateItem, ...) of the wrong
 * type is DynamoDB's "The provided key element does not match the schema" (keel's detail
 * after it); an item's is its "Type mismatch for key". */
static keel_status check_key_type(const char *name, keel_db_keytype want, const kdb_val *v,
                                  bool key_only) {
    kdb_type w = want == KEEL_DB_KEY_S ? KDB_S : want == KEEL_DB_KEY_N ? KDB_N : KDB_B;
    if (v->type != w)
        return keel__fail(KEEL_EVALIDATION, "%sType mismatch for key %s expected: %s actual: %s",
                          key_only ? "The provided key element does not match the schema: "
                                   : "One or more parameter values were invalid: ",
                          name, kdb_type_name(w), kdb_type_name(v->type));
    if (w != KDB_N && v->size == 0)
        return keel__fail(KEEL_EVALIDATION, "One or more parameter values are not valid. The "
                          "AttributeValue for a key attribute cannot contain an empty %s value. "
                          "Key: %s", w == KDB_S ? "string" : "binary", name);
    return KEEL_OK;
}

/* A key map in its common form: as many pairs as the schema has keys, text names that are
 * the schema's (each once), values that are strings (S, B) or CBOR integers (N), and
 * nothing after. Read head by head, without kdb_item_open's walk of the map and the
 * iterator's full decode of each value (together two thirds of a get's key handling).
 * Those forms decode to the same pk and sk as the general path below, which takes every
 * other key (floats, bignums, decimals, long names, a wrong count, an unknown or repeated
 * name, anything malformed) and so produces every error message. */
static bool key_fast(const kdb_table *t, const uint8_t *p, size_t len, kdb_val *pk,
                     kdb_val *sk) {
    size_t want = t->skt ? 2 : 1;
    if (len < 1 || p[0] != 0xA0 + want) return false;
    size_t pos = 1;
    bool have_pk = false, have_sk = false;
    for (size_t i = 0; i < want; i++) {
        kdb_head h;
        if (!kdb_cbor_head(p + pos, len - pos, &h) || h.kind != KDB_C_TEXT) return false;
        const uint8_t *name = h.data;
        size_t nlen = h.size;
        pos += h.head_len;
        bool is_pk = !have_pk && nlen < sizeof t->pk && t->pk[nlen] == '\0' &&
                     memcmp(name, t->pk, nlen) == 0;
        bool is_sk = !is_pk && !have_sk && t->skt && nlen < sizeof t->sk &&
                     t->sk[nlen] == '\0' && memcmp(name, t->sk, nlen) == 0;
        if (!is_pk && !is_sk) return false;
        if (!kdb_cbor_head(p + pos, len - pos, &h)) return false;
        kdb_val v;
        memset(&v, 0, sizeof v);
        switch (h.kind) {
        case KDB_C_TEXT:
        case KDB_C_BYTES:
            v.type = h.kind == KDB_C_TEXT ? KDB_S : KDB_B;
            v.data = h.data;
            v.size = h.size;
            break;
        case KDB_C_UINT:
        case KDB_C_NEGINT:
            v.type = KDB_N;
            break;
        default:
            return false;
        }
        v.p = p + pos;
        v.len = h.head_len;
        pos += h.head_len;
        if (is_pk) {
            *pk = v;
            have_pk = true;
        } else {
            *sk = v;
            have_sk = true;
        }
    }
    return pos == len;
}

/* key_fast for a key given by value (keel_db_get_item_attrs): the same common form (as
 * many attributes as the schema has keys, the schema's names each once, S/B bytes or an N
 * integer), so the same keys take it, and the same checks; an N value's number is made
 * from the integer directly (kdb_key_make_nums), as kdb_val_num makes it from the CBOR
 * integer the map would hold. False, nothing made, for any other key: the caller encodes
 * it as a map for kdb_item_key, which gives every error message. */
bool kdb_item_key_attrs(const kdb_table *t, const keel_db_key_attr *a, size_t n, kdb_key *out,
                        keel_status *st) {
    size_t want = t->skt ? 2 : 1;
    if (n != want) return false;
    kdb_val v[2];
    kdb_num num[2];
    bool have_pk = false, have_sk = false;
    int pk_at = 0, sk_at = 0;
    for (size_t i = 0; i < n; i++) {
        size_t nlen = a[i].name_len;
        if (!a[i].name) return false;
        bool is_pk = !have_pk && nlen < sizeof t->pk && t->pk[nlen] == '\0' &&
                     memcmp(a[i].name, t->pk, nlen) == 0;
        bool is_sk = !is_pk && !have_sk && t->skt && nlen < sizeof t->sk &&
                     t->sk[nlen] == '\0' && memcmp(a[i].name, t->sk, nlen) == 0;
        if (!is_pk && !is_sk) return false;
        /* Only what check_key_type and kdb_key_make_nums read: type, and data/size (S, B). */
        switch (a[i].type) {
        case KEEL_DB_KEY_S:
        case KEEL_DB_KEY_B:
            if (!a[i].data && a[i].len) return false;
            v[i].type = a[i].type == KEEL_DB_KEY_S ? KDB_S : KDB_B;
            v[i].data = a[i].data;
            v[i].size = a[i].len;
            break;
        case KEEL_DB_KEY_N:
            v[i].type = KDB_N;
            v[i].p = NULL;
            v[i].len = 0;
            kdb_num_from_i64(a[i].n, &num[i]);
            break;
        default:
            return false;
        }
        if (is_pk) {
            pk_at = (int)i;
            have_pk = true;
        } else {
            sk_at = (int)i;
            have_sk = true;
        }
    }
    *st = check_key_type(t->pk, t->pkt, &v[pk_at], true);
    if (*st == KEEL_OK && t->skt) *st = check_key_type(t->sk, t->skt, &v[sk_at], true);
    if (*st == KEEL_OK)
        *st = kdb_key_make_nums(t->id, t->pkt, &v[pk_at], &num[pk_at], t->skt,
                                t->skt ? &v[sk_at] : NULL, &num[sk_at], out);
    return true;
}

/* The store key of an item (or of a key map) of table `t`. */
keel_status kdb_item_key(const kdb_table *t, const uint8_t *item, size_t len, bool key_only,
                         kdb_key *out) {
    kdb_val pk, sk;
    if (key_only && key_fast(t, item, len, &pk, &sk)) {
        keel_status st = check_key_type(t->pk, t->pkt, &pk, true);
        if (st == KEEL_OK && t->skt) st = check_key_type(t->sk, t->skt, &sk, true);
        if (st != KEEL_OK) return st;
        return kdb_key_make(t->id, t->pkt, &pk, t->skt, t->skt ? &sk : NULL, out);
    }
    if (key_only) {
        /* A key map is small and is never stored: one pass finds its attributes and refuses
         * any other (the full item check cost most of a get). Values are checked as keys by
         * kdb_key_make below. */
        kdb_val m, v;
        if (!kdb_item_open(item, len, &m) || m.len != len)
            return keel__fail(KEEL_EVALIDATION, "the key must be a map of attribute names to values");
        bool have_pk = false, have_sk = false;
        kdb_iter it;
        kdb_iter_init(&it, &m);
        const uint8_t *name;
        size_t nlen;
        int r;
        size_t pkl = strlen(t->pk), skl = t->skt ? strlen(t->sk) : 0;
        while ((r = kdb_iter_next(&it, &name, &nlen, &v)) == 1) {
            bool is_pk = nlen == pkl && memcmp(name, t->pk, nlen) == 0;
            bool is_sk = !is_pk && t->skt && nlen == skl && memcmp(name, t->sk, nlen) == 0;
            if ((is_pk && have_pk) || (is_sk && have_sk))
                return keel__fail(KEEL_EVALIDATION, "the key names attribute '%.*s' twice",
                                  (int)(nlen > 255 ? 255 : nlen), (const char *)name);
            if (is_pk) {
                pk = v;
                have_pk = true;
            } else if (is_sk) {
                sk = v;
                have_sk = true;
            } else {
                return check_key_only(t, item, len);  /* its message names the attribute */
            }
        }
        if (r < 0) return keel__fail(KEEL_EVALIDATION, "the key is not a valid item encoding");
        if (!have_pk || (t->skt && !have_sk))
            return keel__fail(KEEL_EVALIDATION, "The provided key element does not match the "
                              "schema: Missing the key %s", have_pk ? t->sk : t->pk);
        keel_status st = check_key_type(t->pk, t->pkt, &pk, true);
        if (st == KEEL_OK && t->skt) st = check_key_type(t->sk, t->skt, &sk, true);
        if (st != KEEL_OK) return st;
        return kdb_key_make(t->id, t->pkt, &pk, t->skt, t->skt ? &sk : NULL, out);
    }
    /* One walk finds both keys (kdb_item_attr twice walked the whole item twice more, to
     * open it): the first attribute of each name, as kdb_item_attr finds. */
    bool have_pk = false, have_sk = !t->skt;
    kdb_val m, v;
    if (kdb_item_open(item, len, &m)) {
        size_t pkl = strlen(t->pk), skl = t->skt ? strlen(t->sk) : 0;
        kdb_iter it;
        kdb_iter_init(&it, &m);
        const uint8_t *name;
        size_t nlen;
        while ((!have_pk || !have_sk) && kdb_iter_next(&it, &name, &nlen, &v) == 1) {
            if (!have_pk && nlen == pkl && memcmp(name, t->pk, nlen) == 0) {
                pk = v;
                have_pk = true;
            } else if (!have_sk && nlen == skl && memcmp(name, t->sk, nlen) == 0) {
                sk = v;
                have_sk = true;
            }
        }
    }
    if (!have_pk)
        return keel__fail(KEEL_EVALIDATION, "One or more parameter values were invalid: Missing "
                          "the key %s in the %s", t->pk, key_only ? "key" : "item");
    if (!have_sk)
        return keel__fail(KEEL_EVALIDATION, "One or more parameter values were invalid: Missing "
                          "the key %s in the %s", t->sk, key_only ? "key" : "item");
    keel_status st = check_key_type(t->pk, t->pkt, &pk, key_only);
    if (st == KEEL_OK && t->skt) st = check_key_type(t->sk, t->skt, &sk, key_only);
    if (st != KEEL_OK) return st;
    return kdb_key_make(t->id, t->pkt, &pk, t->skt, t->skt ? &sk : NULL, out);
}

/* ---- preparing --------------------------------------------------------------------------- */


const char kdb_kv_table[] = "(the default table)";

/* The stored form of a checked item into out: its own bytes when `plain` (the check found
 * nothing for kdb_item_store_form to change, which would walk the item twice to find so). */
static keel_status store_form(const uint8_t *item, size_t len, bool plain, kdb_buf *out) {
    if (!plain) return kdb_item_store_form(item, len, out);
    out->len = 0;
    out->failed = false;
    kdb_buf_put(out, item, len);
    return out->failed ? keel__fail(KEEL_ENOMEM, "item: out of memory building the stored form")
                       : KEEL_OK;
}

/* A key attribute name into a write's buffer of `cap` bytes (the catalog's names fit: they
 * come from buffers of the same size). snprintf's "%s" cost 900 instructions a name, a
 * tenth of a put's library time. */
static void copy_name(char *dst, size_t cap, const char *src) {
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

keel_status kdb_write_prepare(keel_db *db, kdb_write *w, kdb_wkind kind, const char *table,
                              const void *item, size_t item_len, const char *update,
                              const char *condition, const void *names, size_t names_len,
                              const void *values, size_t values_len) {
    w->kind = kind;
    if (!table) return keel__fail(KEEL_EINVAL, "table name is NULL");
    if (!item) return keel__fail(KEEL_EINVAL, kind == KDB_W_PUT ? "item is NULL" : "key is NULL");
    keel_status st;
    bool plain = false;     /* the item's stored form is its bytes (kdb_item_check_plain) */
    if (table != kdb_kv_table) {
        kdb_table t;
        if ((st = kdb_table_get(db, table, &t)) != KEEL_OK) return st;
        w->table = t.id;
        copy_name(w->pk, sizeof w->pk, t.pk);
        copy_name(w->sk, sizeof w->sk, t.sk);
        if (kind == KDB_W_PUT) {
            size_t size;
            st = kdb_item_check_plain(item, item_len, &size, &plain);
            if (st == KEEL_OK) st = kdb_item_key(&t, item, item_len, false, &w->key);
        } else {
            st = kdb_item_key(&t, item, item_len, true, &w->key);
        }
        if (st != KEEL_OK) return st;
    } else {
        w->table = KDB_TABLE_KV;  /* the caller made w->key */
        if (kind == KDB_W_PUT) {
            size_t size;
            if ((st = kdb_item_check_plain(item, item_len, &size, &plain)) != KEEL_OK) return st;
        }
    }
    if (kind == KDB_W_PUT && (st = store_form(item, item_len, plain, &w->value)) != KEEL_OK)
        return st;
    if (kind == KDB_W_UPDATE) {
        w->keymap = item;
        w->keymap_len = item_len;
    }
    if (kind == KDB_W_CHECK && !condition)
        return keel__fail(KEEL_EVALIDATION, "ConditionCheck requires a ConditionExpression");
    if (update && kind != KDB_W_UPDATE)
        return keel__fail(KEEL_EINVAL, "an update expression given to a write that is not an "
                          "update");
    kdb_subst s;
    if ((st = kdb_subst_init(&s, names, names_len, values, values_len)) != KEEL_OK) return st;
    if (condition &&
        (st = kdb_expr_parse_cached(db, KDB_EXPR_CONDITION, condition, &s, &w->cond)) != KEEL_OK)
        return kdb_expr_role(st, "ConditionExpression");
    if (update) {
        if ((st = kdb_expr_parse_cached(db, KDB_EXPR_UPDATE, update, &s, &w->update)) != KEEL_OK)
            return kdb_expr_role(st, "UpdateExpression");
        if ((st = kdb_update_check(w->update, w->pk, w->sk)) != KEEL_OK) return st;
    }
    return kdb_subst_check_unused(&s);
}

void kdb_write_free(kdb_write *w) {
    kdb_expr_free(w->cond);
    kdb_expr_free(w->update);
    kdb_buf_free(&w->value);
    w->cond = w->update = NULL;
}

static int cmp_keys(const void *a, const void *b) {
    const kdb_key *x = &(*(const kdb_write *const *)a)->key;
    const kdb_key *y = &(*(const kdb_write *const *)b)->key;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->b, y->b, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

keel_status kdb_writes_distinct(kdb_write *w, size_t n, const char *dup_msg) {
    if (n < 2) return KEEL_OK;
    /* Sorting pointers keeps the caller's order for the append. */
    kdb_write **sorted = malloc(n * sizeof *sorted);
    if (!sorted) return keel__fail(KEEL_ENOMEM, "a request of %zu writes", n);
    for (size_t i = 0; i < n; i++) sorted[i] = &w[i];
    qsort(sorted, n, sizeof *sorted, cmp_keys);
    keel_status st = KEEL_OK;
    for (size_t i = 1; i < n && st == KEEL_OK; i++)
        if (cmp_keys(&sorted[i - 1], &sorted[i]) == 0)
            st = keel__fail(KEEL_EVALIDATION, "%s", dup_msg);
    free(sorted);
    return st;
}

/* ---- under the writer lock --------------------------------------------------------------- */

static void write_fails(kdb_write *w, keel_status st) {
    w->st = st;
    snprintf(w->msg, sizeof w->msg, "%s", keel_errmsg());
}

/* The new item of an update: its expression applied to the current item (or to the key
 * map for an absent one), checked like a caller's item, in stored form in w->value. An
 * update of an absent item that only takes away attributes creates nothing, as in
 * DynamoDB (it is still applied, so its errors are reported). */
static void compute_update(keel_db *db, kdb_write *w) {
    if (w->revector) {  /* the current item, its vector lists stored as vectors, if any */
        kdb_buf conv = {0};
        bool changed = false;
        w->unchanged = true;
        if (w->old && kdb_vec_conform(db, w->table, w->old, w->old_len, NULL, 0, &conv,
                                      &changed) == KEEL_OK && changed &&
            kdb_item_store_form(conv.p, conv.len, &w->value) == KEEL_OK)
            w->unchanged = false;
        keel__clear_error();    /* an item the rule refuses is left as it is (sparse) */
        kdb_buf_free(&conv);
        return;
    }
    const uint8_t *base = w->old ? w->old : w->keymap;
    size_t base_len = w->old ? w->old_len : w->keymap_len;
    if (!w->update && w->old) {
        w->unchanged = true;
        return;
    }
    kdb_buf next = {0};
    keel_status st;
    kdb_update_info info = {false, false};
    if (w->update) {
        st = kdb_update_apply_ex(w->update, base, base_len, &next, &info);
        kdb_buf lists = {0};
        if (st == KEEL_EVALIDATION && db->nvix &&
            kdb_vec_as_lists(db, w->table, base, base_len, &lists)) {
            /* An update that needs the stored vectors as the lists DynamoDB shows
             * (SET v[1] = :x): applied to that form; the result is converted back below. */
            next.len = 0;
            next.failed = false;
            st = kdb_update_apply_ex(w->update, lists.p, lists.len, &next, &info);
        }
        kdb_buf_free(&lists);
        if (st == KEEL_OK && !w->old && kdb_update_removes_only(w->update)) {
            kdb_buf_free(&next);
            w->unchanged = true;
            return;
        }
    } else {
        kdb_buf_put(&next, base, base_len);
        st = next.failed ? keel__fail(KEEL_ENOMEM, "update: out of memory") : KEEL_OK;
    }
    size_t size;
    bool plain = false, handled = false;
    /* The current item's untouched attributes were checked when written: check what the
     * update wrote (when it can say), else the whole new item. */
    if (st == KEEL_OK) {
        keel_status cst = KEEL_OK;
        handled = w->old && w->update && info.checked;
        if (handled) plain = info.plain;
        if (!handled) cst = kdb_item_check_plain(next.p, next.len, &size, &plain);
        if (cst != KEEL_OK) {
            char detail[200];
            snprintf(detail, sizeof detail, "%s", keel_errmsg());
            st = keel__fail(cst, "the updated item: %s", detail);
        }
    }
    kdb_buf conv = {0};
    bool changed = false;
    if (st == KEEL_OK && db->nvix)
        st = kdb_vec_conform(db, w->table, next.p, next.len, w->old, w->old_len, &conv, &changed);
    if (st == KEEL_OK)
        st = changed ? kdb_item_store_form(conv.p, conv.len, &w->value)
                     : store_form(next.p, next.len, plain, &w->value);
    kdb_buf_free(&conv);
    kdb_buf_free(&next);
    if (st != KEEL_OK) write_fails(w, st);
}

/* A put's new item: its vector attributes as the table's vector indexes want them
 * (vec_write.c), in stored form in w->value. */
static void conform_put(keel_db *db, kdb_write *w) {
    kdb_buf conv = {0};
    bool changed = false;
    keel_status st = kdb_vec_conform(db, w->table, w->value.p, w->value.len, NULL, 0, &conv,
                                     &changed);
    if (st == KEEL_OK && changed) st = kdb_item_store_form(conv.p, conv.len, &w->value);
    kdb_buf_free(&conv);
    if (st != KEEL_OK) write_fails(w, st);
}

/* Step 2 for one write: current item, condition, new item. An expired item (TTL) is
 * absent to the condition, the update and ReturnValues, but its entries (w->prev) are
 * still replaced or deleted. */
static void eval_write(keel_db *db, kdb_write *w, int64_t now) {
    w->st = KEEL_OK;
    w->msg[0] = '\0';
    w->old = w->prev = NULL;
    w->old_len = w->prev_len = 0;
    w->unchanged = false;
    w->hash = keel_hash(w->key.b, w->key.len);
    keel_hit hit;
    if (keel__index_find(db->s, w->hash, w->key.b, w->key.len, &hit) && !hit.dead) {
        /* A damaged current item (it fails its CRC32C) is not used where its content
         * decides or is returned: a condition, an update, ReturnValues, a reap. A plain
         * put or delete still replaces it, which is how it is mended. */
        if ((w->cond || w->kind == KDB_W_UPDATE || w->kind == KDB_W_CHECK || w->reap ||
             w->rv != KEEL_DB_RETURN_NONE || w->rv_on_fail) &&
            !keel__entry_intact(db->s->map->base, db->s->align, hit.trailer_start)) {
            w->st = keel__entry_damaged(hit.value_start);
            snprintf(w->msg, sizeof w->msg, "%s", keel_errmsg());
            return;
        }
        w->prev = keel__at(db->s, hit.value_start);
        w->prev_len = (size_t)hit.value_len;
        const kdb_table *t = kdb_table_by_id(db, w->table);
        bool expired = t && kdb_expired(t->ttl, now, w->prev, w->prev_len);
        if (!expired) {
            w->old = w->prev;
            w->old_len = w->prev_len;
        }
        if (w->reap && !expired) w->prev = NULL;  /* written again meanwhile: keep it */
    }
    int holds = w->cond ? kdb_expr_eval(w->cond, w->old, w->old_len) : 1;
    if (holds < 0) {
        w->st = KEEL_ECORRUPT;
        snprintf(w->msg, sizeof w->msg, "condition: the stored item is malformed");
        return;
    }
    if (!holds) {
        w->st = KEEL_ECONDITION;
        snprintf(w->msg, sizeof w->msg, "The conditional request failed");
        return;
    }
    if (w->kind == KDB_W_UPDATE) compute_update(db, w);
    if (w->kind == KDB_W_PUT && db->nvix && w->table != KDB_TABLE_KV) conform_put(db, w);
}

/* The store entries that make write `w` durable, given its stored item (w->prev, NULL
 * when absent; an expired one included) and its new item (w->value, for a put or an
 * update): the item's entry, a tombstone when a delete finds an item, or nothing (a
 * condition check, a delete of an absent item, an update that changes nothing); then
 * the entries of the table's secondary indexes (kdb_index_entries: the old entry's
 * tombstone when its index key changes or goes, the new projection). This is the one
 * place that maps a write to entries, so an item and its index entries are always in
 * one atomic group. items[] has room for 1 + 2 per index, bufs[] for 3 per index. */
static size_t entries_for_write(keel_db *db, const kdb_write *w, keel_append_item *items,
                                kdb_buf *bufs, keel_status *st) {
    *st = KEEL_OK;
    const uint8_t *now = NULL;
    size_t now_len = 0;
    switch (w->kind) {
    case KDB_W_PUT:
    case KDB_W_UPDATE:
        if (w->unchanged) return 0;
        items[0] = (keel_append_item){.key = w->key.b, .key_len = (uint32_t)w->key.len,
                                      .value = w->value.p, .value_len = w->value.len,
                                      .src_fd = -1, .hash = w->hash};
        now = w->value.p, now_len = w->value.len;
        break;
    case KDB_W_DELETE:
        if (!w->prev) return 0;  /* DynamoDB's delete of a missing item changes nothing */
        items[0] = (keel_append_item){.key = w->key.b, .key_len = (uint32_t)w->key.len,
                                      .flags = KEEL_FLAG_TOMBSTONE, .src_fd = -1,
                                      .hash = w->hash};
        break;
    case KDB_W_CHECK:
        return 0;
    }
    const kdb_table *t = kdb_table_by_id(db, w->table);
    return 1 + (t ? kdb_index_entries(db, t, w, now, now_len, items + 1, bufs, st) : 0);
}

keel_status kdb_writes_run(keel_db *db, kdb_write *w, size_t n) {
    keel_append_item one[1];
    keel_append_item *items = one;
    kdb_buf *bufs = NULL;
    size_t nbufs = 0;
    keel_status st = keel__writer_enter(db->s);
    if (st != KEEL_OK) return st;
    /* Index definitions change only under the writer lock: sized once, used throughout. */
    size_t cap = 0;
    for (size_t i = 0; i < n; i++) {
        if (!kdb_table_by_id(db, w[i].table)) {
            st = keel__fail(KEEL_ENOTABLE, "the table was deleted");
            goto leave;
        }
        size_t k = kdb_index_count(db, w[i].table);
        cap += 1 + 2 * k;
        nbufs += 3 * k;
    }
    if (cap > 1 && !(items = calloc(cap, sizeof *items))) {
        st = keel__fail(KEEL_ENOMEM, "a request of %zu writes", n);
        goto leave;
    }
    if (nbufs && !(bufs = calloc(nbufs, sizeof *bufs))) {
        st = keel__fail(KEEL_ENOMEM, "a request of %zu writes", n);
        goto leave;
    }
    int64_t now = kdb_now(db);
    size_t failed = 0;
    for (size_t i = 0; i < n; i++) {
        eval_write(db, &w[i], now);
        failed += w[i].st != KEEL_OK;
    }
    if (failed) {
        st = n == 1 ? keel__fail(w[0].st, "%s", w[0].msg)
                    : keel__fail(KEEL_ECANCELED, "%zu of %zu writes failed", failed, n);
        goto leave;
    }
    size_t m = 0, b = 0;
    for (size_t i = 0; i < n && st == KEEL_OK; i++) {
        m += entries_for_write(db, &w[i], items + m, bufs ? bufs + b : NULL, &st);
        b += 3 * kdb_index_count(db, w[i].table);
        if (st != KEEL_OK && n > 1) {
            char detail[300];
            snprintf(detail, sizeof detail, "%s", keel_errmsg());
            st = keel__fail(st, "write %zu of %zu: %s", i + 1, n, detail);
        }
    }
    if (st == KEEL_OK) st = keel__append_group(db->s, items, m);
leave:
    keel__writer_leave(db->s);
    for (size_t i = 0; i < nbufs; i++) kdb_buf_free(&bufs[i]);
    free(bufs);
    if (items != one) free(items);
    return st;
}

/* ---- results ----------------------------------------------------------------------------- */

void keel_db_buf_free(keel_db_buf *b) {
    if (!b) return;
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

static keel_status copy_out(const uint8_t *p, size_t len, keel_db_buf *out) {
    if (!p || !len) return KEEL_OK;
    out->data = malloc(len);
    if (!out->data) return keel__fail(KEEL_ENOMEM, "a result of %zu bytes", len);
    memcpy(out->data, p, len);
    out->len = len;
    return KEEL_OK;
}

/* An UPDATED_* projection: empty when it selected nothing (DynamoDB omits Attributes). */
static keel_status updated(const kdb_write *w, const uint8_t *item, size_t len,
                           keel_db_buf *out) {
    if (!w->update || !item) return KEEL_OK;
    kdb_buf b = {0};
    keel_status st = kdb_update_project(w->update, item, len, &b);
    if (st == KEEL_OK && !(b.len == 1 && b.p[0] == 0xA0)) {
        out->data = b.p;
        out->len = b.len;
        return KEEL_OK;
    }
    kdb_buf_free(&b);
    return st;
}

keel_status kdb_write_result(const kdb_write *w, keel_db_buf *out) {
    out->data = NULL;
    out->len = 0;
    if (w->st == KEEL_ECONDITION)
        return w->rv_on_fail ? copy_out(w->old, w->old_len, out) : KEEL_OK;
    if (w->st != KEEL_OK) return KEEL_OK;
    const uint8_t *now = w->unchanged ? w->old : w->value.p;
    size_t now_len = w->unchanged ? w->old_len : w->value.len;
    switch (w->rv) {
    case KEEL_DB_RETURN_NONE: return KEEL_OK;
    case KEEL_DB_RETURN_ALL_OLD: return copy_out(w->old, w->old_len, out);
    case KEEL_DB_RETURN_ALL_NEW: return copy_out(now, now_len, out);
    case KEEL_DB_RETURN_UPDATED_OLD: return updated(w, w->old, w->old_len, out);
    case KEEL_DB_RETURN_UPDATED_NEW: return updated(w, now, now_len, out);
    }
    return KEEL_OK;
}
