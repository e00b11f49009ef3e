/*
 * db_tx.c: TransactWriteItems and TransactGetItems.
 *
 * A write transaction is a request of the write path (db_write.c) like a batch, with
 * conditions: every action is prepared outside the lock (a malformed action refuses the
 * whole request, as DynamoDB's ValidationException does, before any item is read), then
 * kdb_writes_run evaluates every condition and every update against the current items and
 * appends all the entries as one atomic group, or nothing. When some action fails, the
 * transaction is canceled (KEEL_ECANCELED) and each action gets its reason, in DynamoDB's
 * words: "None", "ConditionalCheckFailed" (with the current item when asked) or
 * "ValidationError" (an update that cannot apply to this item).
 *
 * A read transaction takes the store's read lock once and looks every key up under it:
 * a writer publishes a whole group under the index lock held for writing, so the gets see
 * each transaction entirely or not at all. The views found stay valid after the lock is
 * released (committed bytes never change), so copies and projections are made outside it.
 */
#include "db/db_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void reason_set(keel_db_tx_reason *r, keel_db_reason_code code, const char *msg) {
    static const char *const names[] = {"None", "ConditionalCheckFailed", "ValidationError"};
    r->code = code;
    r->code_name = names[code];
    if (msg && msg[0])
        snprintf(r->message, sizeof r->message, "%s", msg);
    else
        r->message[0] = '\0';  /* every action of every transaction: no formatting */
}

void keel_db_tx_reasons_free(keel_db_tx_reason *reasons, size_t n) {
    if (!reasons) return;
    for (size_t i = 0; i < n; i++) {
        keel_db_buf_free(&reasons[i].item);
        reason_set(&reasons[i], KEEL_DB_REASON_NONE, NULL);
    }
}

static keel_status prepare_all(keel_db *db, const keel_db_tx_write *a, kdb_write *w, size_t n) {
    for (size_t i = 0; i < n; i++) {
        keel_status st;
        if (a[i].kind < KEEL_DB_TX_PUT || a[i].kind > KEEL_DB_TX_CHECK) {
            st = keel__fail(KEEL_EINVAL, "unknown action kind %d", (int)a[i].kind);
        } else {
            w[i].rv_on_fail = a[i].return_old_on_condition_failure != 0;
            st = kdb_write_prepare(db, &w[i], (kdb_wkind)a[i].kind, a[i].table, a[i].item,
                                   a[i].item_len, a[i].kind == KEEL_DB_TX_UPDATE ? a[i].update
                                                                                : NULL,
                                   a[i].condition, a[i].names, a[i].names_len, a[i].values,
                                   a[i].values_len);
        }
        if (st != KEEL_OK) {
            char detail[400];
            snprintf(detail, sizeof detail, "%s", keel_errmsg());
            return keel__fail(st, "transaction action %zu of %zu: %s", i + 1, n, detail);
        }
    }
    return kdb_writes_distinct(w, n, "Transaction request cannot include multiple operations "
                               "on one item");
}

keel_status keel_db_transact_write(keel_db *db, const keel_db_tx_write *actions, size_t n,
                                   keel_db_tx_reason *reasons_out) {
    /* An n out of range is refused below without touching reasons_out: a huge n would
     * make the clearing run past the caller's array (n * size even wraps). */
    if (reasons_out && n <= KEEL_DB_MAX_TRANSACT) {
        memset(reasons_out, 0, n * sizeof *reasons_out);
        for (size_t i = 0; i < n; i++) reason_set(&reasons_out[i], KEEL_DB_REASON_NONE, NULL);
    }
    if (!db) return keel__fail(KEEL_EINVAL, "database handle is NULL");
    if (n == 0 || n > KEEL_DB_MAX_TRANSACT)
        return keel__fail(KEEL_EVALIDATION, "1 validation error detected: Value at "
                          "'transactItems' failed to satisfy constraint: Member must have "
                          "length between 1 and %u (it has %zu)", KEEL_DB_MAX_TRANSACT, n);
    if (!actions) return keel__fail(KEEL_EINVAL, "keel_db_transact_write: actions is NULL");
    kdb_write *w = kdb_writes_alloc(n);
    if (!w) return keel__fail(KEEL_ENOMEM, "a transaction of %zu actions", n);
    keel_status st = prepare_all(db, actions, w, n);
    if (st == KEEL_OK) st = kdb_writes_run(db, w, n);
    size_t failed = 0;
    if (st != KEEL_OK && st != KEEL_ENOTABLE) {
        for (size_t i = 0; i < n; i++) failed += w[i].st != KEEL_OK;
    }
    if (failed) {
        /* DynamoDB's message lists the codes in order. */
        char codes[1200];
        size_t at = 0;
        codes[0] = '\0';
        for (size_t i = 0; i < n && at < sizeof codes; i++) {
            const char *c = w[i].st == KEEL_OK ? "None"
                            : w[i].st == KEEL_ECONDITION ? "ConditionalCheckFailed"
                                                         : "ValidationError";
            int k = snprintf(codes + at, sizeof codes - at, "%s%s", i ? ", " : "", c);
            if (k < 0) break;
            at += (size_t)k;
        }
        for (size_t i = 0; reasons_out && i < n; i++) {
            if (w[i].st == KEEL_OK) continue;
            if (w[i].st == KEEL_ECONDITION) {
                reason_set(&reasons_out[i], KEEL_DB_REASON_CONDITION_FAILED, w[i].msg);
                if (kdb_write_result(&w[i], &reasons_out[i].item) != KEEL_OK)
                    reasons_out[i].item.data = NULL, reasons_out[i].item.len = 0;
            } else {
                reason_set(&reasons_out[i], KEEL_DB_REASON_VALIDATION, w[i].msg);
            }
        }
        st = keel__fail(KEEL_ECANCELED, "Transaction cancelled, please refer cancellation "
                        "reasons for specific reasons [%s]", codes);
    }
    for (size_t i = 0; i < n; i++) kdb_write_free(&w[i]);
    free(w);
    return st;
}

/* ---- TransactGetItems --------------------------------------------------------------------- */

typedef struct tx_get {
    kdb_key key;
    kdb_expr *projection;
    char ttl[256];          /* the table's TTL attribute ("" none) */
    uint64_t hash;
    const uint8_t *item;    /* view found under the lock, or NULL */
    size_t len;
} tx_get;

static keel_status prepare_get(keel_db *db, const keel_db_tx_get *g, tx_get *out) {
    if (!g->key) return keel__fail(KEEL_EINVAL, "key is NULL");
    kdb_table t;
    keel_status st = kdb_table_get(db, g->table, &t);
    if (st == KEEL_OK) st = kdb_item_key(&t, g->key, g->key_len, true, &out->key);
    memcpy(out->ttl, t.ttl, sizeof out->ttl);
    if (st != KEEL_OK) return st;
    out->hash = keel_hash(out->key.b, out->key.len);
    kdb_subst s;
    if ((st = kdb_subst_init(&s, g->names, g->names_len, NULL, 0)) != KEEL_OK) return st;
    if (g->projection &&
        (st = kdb_expr_role(kdb_expr_parse(KDB_EXPR_PROJECTION, g->projection,
                                           strlen(g->projection), &s, &out->projection),
                            "ProjectionExpression")) != KEEL_OK)
        return st;
    return kdb_subst_check_unused(&s);
}

keel_status keel_db_transact_get(keel_db *db, const keel_db_tx_get *gets, size_t n,
                                 keel_db_buf *items_out) {
    if (!items_out) return keel__fail(KEEL_EINVAL, "keel_db_transact_get: items_out is NULL");
    if (n <= KEEL_DB_MAX_TRANSACT) memset(items_out, 0, n * sizeof *items_out);
    if (!db) return keel__fail(KEEL_EINVAL, "database handle is NULL");
    if (n == 0 || n > KEEL_DB_MAX_TRANSACT)
        return keel__fail(KEEL_EVALIDATION, "1 validation error detected: Value at "
                          "'transactItems' failed to satisfy constraint: Member must have "
                          "length between 1 and %u (it has %zu)", KEEL_DB_MAX_TRANSACT, n);
    if (!gets) return keel__fail(KEEL_EINVAL, "keel_db_transact_get: gets is NULL");
    tx_get *g = calloc(n, sizeof *g);
    if (!g) return keel__fail(KEEL_ENOMEM, "a transaction of %zu gets", n);
    keel_status st = KEEL_OK;
    for (size_t i = 0; i < n && st == KEEL_OK; i++) {
        if ((st = prepare_get(db, &gets[i], &g[i])) != KEEL_OK) {
            char detail[400];
            snprintf(detail, sizeof detail, "%s", keel_errmsg());
            st = keel__fail(st, "transaction get %zu of %zu: %s", i + 1, n, detail);
        }
    }
    if (st == KEEL_OK) {
        /* Tables are checked by prepare_get: a concurrent delete_table leaves tombstones,
         * which this snapshot then sees as absent items, as DynamoDB would. */
        int64_t now = kdb_now(db);
        if ((st = keel__reader_enter(db->s)) == KEEL_OK) {
            for (size_t i = 0; i < n; i++) {
                keel_hit hit;
                if (keel__index_find(db->s, g[i].hash, g[i].key.b, g[i].key.len, &hit) &&
                    !hit.dead) {
                    if (!keel__entry_intact(db->s->map->base, db->s->align, hit.trailer_start)) {
                        char prefix[64];
                        snprintf(prefix, sizeof prefix, "transaction get %zu of %zu: ", i + 1, n);
                        st = keel__fail_prefix(keel__entry_damaged(hit.value_start), prefix);
                        break;
                    }
                    g[i].item = keel__at(db->s, hit.value_start);
                    g[i].len = (size_t)hit.value_len;
                    if (kdb_expired(g[i].ttl, now, g[i].item, g[i].len)) g[i].item = NULL;
                }
            }
            keel__reader_leave(db->s);
        }
    }
    for (size_t i = 0; i < n && st == KEEL_OK; i++) {
        if (!g[i].item) continue;
        if (g[i].projection) {
            kdb_buf b = {0};
            st = kdb_expr_project(g[i].projection, g[i].item, g[i].len, &b);
            items_out[i].data = b.p;
            items_out[i].len = b.len;
        } else {
            items_out[i].data = malloc(g[i].len);
            if (!items_out[i].data) {
                st = keel__fail(KEEL_ENOMEM, "a result of %zu bytes", g[i].len);
            } else {
                memcpy(items_out[i].data, g[i].item, g[i].len);
                items_out[i].len = g[i].len;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (st != KEEL_OK) keel_db_buf_free(&items_out[i]);
        kdb_expr_free(g[i].projection);
    }
    free(g);
    return st;
}
