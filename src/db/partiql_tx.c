/*
 * partiql_tx.c: keel_db_execute_transaction, PartiQL statements run as one transaction
 * (DynamoDB's ExecuteTransaction).
 *
 * Every statement is parsed and compiled first (partiql.c: kdb_pq_compile_write turns an
 * INSERT, UPDATE or DELETE into the conditional write keel_db_execute would make,
 * kdb_pq_compile_get a SELECT by whole key into a key and a projection), so a bad
 * statement refuses the whole transaction before anything is read. Then the writes go to
 * keel_db_transact_write as one action each (INSERT: a Put conditioned on
 * attribute_not_exists(pk); UPDATE: an Update conditioned on attribute_exists(pk) AND the
 * rest of WHERE; DELETE: a Delete with the rest of WHERE, absent items allowed), and the
 * reads to keel_db_transact_get: the engine's transactions give atomicity, isolation and
 * the one-item-per-action rule. An INSERT that fails its condition is reported as
 * DynamoDB reports it, reason "DuplicateItem".
 *
 * Invariants: the compiled buffers outlive the engine call that points into them; on
 * every path each compiled statement is freed once.
 */
#include "db/db_internal.h"
#include "db/partiql.h"

#include <stdlib.h>
#include <string.h>
#include <stdio.h>

typedef struct compiled {
    kdb_table t;
    kdb_pqw w;              /* writes */
    kdb_buf key, names;     /* reads */
    char *projection;
    bool read;
} compiled;

static void compiled_free(compiled *c) {
    kdb_pqw_free(&c->w);
    kdb_buf_free(&c->key);
    kdb_buf_free(&c->names);
    free(c->projection);
}

/* The last error again, naming the statement. */
static keel_status restate(keel_status st, size_t i, size_t n) {
    char detail[512];
    snprintf(detail, sizeof detail, "%s", keel_errmsg());
    return keel__fail(st, "transaction statement %zu of %zu: %s", i + 1, n, detail);
}

/* Parse and compile statement i. */
static keel_status compile(keel_db *db, const keel_db_tx_statement *s, size_t i, size_t n,
                           compiled *c) {
    if (!s->statement)
        return keel__fail(KEEL_EINVAL, "transaction statement %zu of %zu: NULL", i + 1, n);
    kdb_pq q;
    keel_status st = kdb_pq_parse(s->statement, strlen(s->statement), s->params, s->params_len,
                                  &q);
    if (st != KEEL_OK) return restate(st, i, n);
    st = kdb_table_get(db, q.table, &c->t);
    if (st == KEEL_OK && q.index[0])
        st = keel__fail(KEEL_EVALIDATION, "The table does not have the specified index: %s",
                        q.index);
    c->read = q.kind == KDB_PQ_SELECT;
    if (st == KEEL_OK && c->read) {
        st = kdb_pq_compile_get(db, &c->t, &q, &c->key, &c->projection, &c->names);
    } else if (st == KEEL_OK) {
        st = kdb_pq_compile_write(&c->t, &q, &c->w);
        if (st == KEEL_OK && c->w.returning)
            st = keel__fail(KEEL_EVALIDATION, "RETURNING is not supported in a transaction");
    }
    kdb_pq_free(&q);
    return st != KEEL_OK && st != KEEL_ENOMEM ? restate(st, i, n) : st;
}

static keel_status run_reads(keel_db *db, compiled *c, size_t n, keel_db_buf *items_out) {
    keel_db_tx_get *g = calloc(n, sizeof *g);
    if (!g) return keel__fail(KEEL_ENOMEM, "a transaction of %zu statements", n);
    for (size_t i = 0; i < n; i++) {
        g[i].table = c[i].t.name;
        g[i].key = c[i].key.p;
        g[i].key_len = c[i].key.len;
        g[i].projection = c[i].projection;
        if (c[i].names.len) {
            g[i].names = c[i].names.p;
            g[i].names_len = c[i].names.len;
        }
    }
    keel_status st = keel_db_transact_get(db, g, n, items_out);
    free(g);
    return st;
}

static keel_status run_writes(keel_db *db, const keel_db_tx_statement *s, compiled *c, size_t n,
                              keel_db_tx_reason *reasons_out) {
    keel_db_tx_write *w = calloc(n, sizeof *w);
    keel_db_tx_reason *own = reasons_out ? NULL : calloc(n, sizeof *own);
    keel_db_tx_reason *reasons = reasons_out ? reasons_out : own;
    if (!w || !reasons) {
        free(w);
        free(own);
        return keel__fail(KEEL_ENOMEM, "a transaction of %zu statements", n);
    }
    for (size_t i = 0; i < n; i++) {
        kdb_pqw *x = &c[i].w;
        w[i] = (keel_db_tx_write)KEEL_DB_TX_WRITE_INIT;
        w[i].kind = x->kind == KDB_PQ_INSERT   ? KEEL_DB_TX_PUT
                    : x->kind == KDB_PQ_UPDATE ? KEEL_DB_TX_UPDATE
                                               : KEEL_DB_TX_DELETE;
        w[i].table = c[i].t.name;
        w[i].item = x->key.p;
        w[i].item_len = x->key.len;
        w[i].update = x->upd;
        w[i].condition = x->cond;
        if (x->names.len) {
            w[i].names = x->names.p;
            w[i].names_len = x->names.len;
        }
        if (x->values.len) {
            w[i].values = x->values.p;
            w[i].values_len = x->values.len;
        }
        w[i].return_old_on_condition_failure = s[i].return_old_on_condition_failure;
    }
    keel_status st = keel_db_transact_write(db, w, n, reasons);
    if (st == KEEL_ECANCELED) {
        for (size_t i = 0; i < n; i++)
            if (c[i].w.kind == KDB_PQ_INSERT && reasons[i].code == KEEL_DB_REASON_CONDITION_FAILED) {
                reasons[i].code_name = "DuplicateItem";
                strcpy(reasons[i].message, "Duplicate primary key exists in table");
            }
    }
    if (own) keel_db_tx_reasons_free(own, n);
    free(own);
    free(w);
    return st;
}

keel_status keel_db_execute_transaction(keel_db *db, const keel_db_tx_statement *stmts, size_t n,
                                        keel_db_buf *items_out, keel_db_tx_reason *reasons_out) {
    if (!db || (n && !stmts))
        return keel__fail(KEEL_EINVAL, "keel_db_execute_transaction: NULL argument");
    if (n == 0 || n > KEEL_DB_MAX_TRANSACT)
        return keel__fail(KEEL_EVALIDATION, "A transaction holds 1 to %u statements, not %zu",
                          KEEL_DB_MAX_TRANSACT, n);
    compiled *c = calloc(n, sizeof *c);
    if (!c) return keel__fail(KEEL_ENOMEM, "a transaction of %zu statements", n);
    keel_status st = KEEL_OK;
    for (size_t i = 0; i < n && st == KEEL_OK; i++) {
        st = compile(db, &stmts[i], i, n, &c[i]);
        if (st == KEEL_OK && c[i].read != c[0].read)
            st = keel__fail(KEEL_EVALIDATION, "Transaction statements must all be reads or all "
                            "be writes (statement %zu of %zu)", i + 1, n);
    }
    if (st == KEEL_OK && c[0].read && !items_out)
        st = keel__fail(KEEL_EINVAL, "keel_db_execute_transaction: reads need items_out");
    if (st == KEEL_OK)
        st = c[0].read ? run_reads(db, c, n, items_out) : run_writes(db, stmts, c, n, reasons_out);
    for (size_t i = 0; i < n; i++) compiled_free(&c[i]);
    free(c);
    return st;
}
