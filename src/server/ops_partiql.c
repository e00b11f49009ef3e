/*
 * ops_partiql.c: ExecuteStatement and BatchExecuteStatement on the engine's PartiQL
 * (keel_db_execute, keel_db_batch_execute in keel_db.h).
 *
 * Parameters (a JSON array of AttributeValues) become the CBOR array the engine binds to
 * `?`. A SELECT's items are converted as they are read; a write answers its RETURNING item
 * (or no item) in Items. A SELECT answers a page: it stops at the Limit (items evaluated)
 * or once 1 MB of items is in the response, and then answers NextToken (token.c: the
 * engine's resume position, sealed) and LastEvaluatedKey; the NextToken sent back with the
 * same statement and parameters continues after the last item. A token that was altered,
 * made for another statement or by another process is "Given NextToken is not valid".
 * Errors: KEEL_EDUPLICATE is DuplicateItemException, KEEL_ECONDITION
 * ConditionalCheckFailedException, a syntax error DynamoDB's "Statement wasn't well
 * formed" ValidationException. BatchExecuteStatement answers one Responses entry per
 * statement, {"Item"} or {"Error": {"Code", "Message"}} with DynamoDB's
 * BatchStatementError codes. ExecuteTransaction (keel_db_execute_transaction) runs 1..100
 * statements as one transaction: reads answer Responses [{Item}] (an empty entry for an
 * absent item), writes an empty response; a canceled one is TransactionCanceledException
 * with a reason per statement, as TransactWriteItems; ClientRequestToken makes it
 * idempotent for 10 minutes (idempotency.c).
 */
#include "server/server.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_STATEMENT 8192u

/* Parameters of a statement as a CBOR array in `out` (left empty when absent). */
static bool params_cbor(ksrv_req *r, json_t *obj, kdb_buf *out, bool *present) {
    json_t *p = NULL;
    *present = false;
    if (!ksrv_get_arr(r, obj, "Parameters", false, &p)) return false;
    if (!p) return true;
    if (json_array_size(p) == 0)
        return ksrv_fail(r, "ValidationException", "1 validation error detected: Value '[]' at "
                         "'parameters' failed to satisfy constraint: Member must have length "
                         "greater than or equal to 1");
    kdb_enc_array(out, json_array_size(p));
    for (size_t i = 0; i < json_array_size(p); i++) {
        keel_status st = kdb_json_to_value(json_array_get(p, i), out);
        if (st != KEEL_OK) return ksrv_fail_status(r, st, NULL);
    }
    if (out->failed) return ksrv_fail(r, "InternalServerError", "out of memory");
    *present = true;
    return true;
}

static bool statement_text(ksrv_req *r, json_t *obj, const char **out) {
    if (!ksrv_get_str(r, obj, "Statement", true, out)) return false;
    size_t n = strlen(*out);
    if (n < 1 || n > MAX_STATEMENT)
        return ksrv_fail(r, "ValidationException", "1 validation error detected: Value at "
                         "'statement' failed to satisfy constraint: Member must have length "
                         "%s", n < 1 ? "greater than or equal to 1"
                                     : "less than or equal to 8192");
    return true;
}

/* Whether a statement is a write (not a SELECT). */
static bool stmts_write(const char *s) {
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
    return strncasecmp(s, "SELECT", 6) != 0;
}

/* The error of a failed statement. */
static bool statement_failed(ksrv_req *r, keel_status st) {
    if (st == KEEL_EDUPLICATE)
        return ksrv_fail(r, "DuplicateItemException", "Duplicate primary key exists in table");
    if (st == KEEL_ESYNTAX)
        return ksrv_fail(r, "ValidationException", "Statement wasn't well formed, can't be "
                         "processed: %s", keel_errmsg());
    return ksrv_fail_status(r, st, NULL);
}

#define PAGE_BYTES (1024u * 1024u)     /* DynamoDB's 1 MB page */

/* NextToken and LastEvaluatedKey when the result has more. */
static bool page_end(ksrv_req *r, keel_db_result *res, const char *stmt, const kdb_buf *p) {
    keel_db_buf pos = {0};
    keel_view last;
    keel_status st = keel_db_result_position(res, &pos, &last);
    if (st == KEEL_NOTFOUND) return true;
    if (st != KEEL_OK) return statement_failed(r, st);
    char *tok = ksrv_token_seal(pos.data, pos.len, stmt, p->p, p->len);
    keel_db_buf_free(&pos);
    if (!tok) return ksrv_fail(r, "InternalServerError", "out of memory");
    json_object_set_new(r->out, "NextToken", json_string(tok));
    free(tok);
    if (last.len) {
        json_t *k = ksrv_item_json(r, last.data, last.len);
        if (!k) return false;
        json_object_set_new(r->out, "LastEvaluatedKey", k);
    }
    return true;
}

bool ksrv_execute_statement(ksrv_req *r) {
    const char *stmt, *token = NULL;
    long long limit = 0;
    bool has_limit, consistent = false, has_params;
    int cap;
    if (!statement_text(r, r->in, &stmt) ||
        !ksrv_get_str(r, r->in, "NextToken", false, &token) ||
        !ksrv_get_int(r, r->in, "Limit", &limit, &has_limit) ||
        !ksrv_get_bool(r, r->in, "ConsistentRead", &consistent) ||
        !ksrv_capacity_mode(r, r->in, &cap))
        return false;
    if (has_limit && limit < 1)
        return ksrv_fail(r, "ValidationException", "1 validation error detected: Value '%lld' at "
                         "'limit' failed to satisfy constraint: Member must have value greater "
                         "than or equal to 1", limit);
    kdb_buf p = {0};
    if (!params_cbor(r, r->in, &p, &has_params)) {
        kdb_buf_free(&p);
        return false;
    }
    uint8_t *pos = NULL;
    size_t pos_len = 0;
    if (token && !ksrv_token_open(token, stmt, p.p, p.len, &pos, &pos_len)) {
        kdb_buf_free(&p);
        return ksrv_fail(r, "ValidationException", "Given NextToken is not valid");
    }
    keel_db_execute_opts o = KEEL_DB_EXECUTE_OPTS_INIT;
    o.limit = has_limit ? (uint64_t)limit : 0;
    o.resume = pos;
    o.resume_len = pos_len;
    keel_db_result *res = NULL;
    keel_status st = keel_db_execute(r->db, stmt, has_params ? p.p : NULL,
                                     has_params ? p.len : 0, &o, &res);
    free(pos);
    if (st != KEEL_OK) {
        kdb_buf_free(&p);
        if (token && st == KEEL_EVALIDATION)
            return ksrv_fail(r, "ValidationException", "Given NextToken is not valid: %s",
                             keel_errmsg());
        return statement_failed(r, st);
    }
    json_t *items = json_array();
    size_t bytes = 0;
    bool ok = true;
    keel_view v;
    while (ok && bytes < PAGE_BYTES && (st = keel_db_result_next(res, &v)) == KEEL_OK) {
        json_t *j = ksrv_item_json(r, v.data, v.len);
        bytes += v.len;
        if (!j) ok = false;
        else json_array_append_new(items, j);
    }
    if (ok && st != KEEL_NOTFOUND && st != KEEL_OK) ok = statement_failed(r, st);
    bool write = keel_db_result_plan(res) == KEEL_DB_PLAN_WRITE;
    if (ok && !write) ok = page_end(r, res, stmt, &p);
    keel_db_result_free(res);
    kdb_buf_free(&p);
    if (ok) {
        json_object_set_new(r->out, "Items", items);
        if (cap)
            json_object_set_new(r->out, "ConsumedCapacity",
                                ksrv_capacity(cap, "", write ? ksrv_write_units(bytes)
                                                             : ksrv_read_units(bytes, consistent),
                                              !write));
    } else {
        json_decref(items);
    }
    return ok;
}

/* DynamoDB's BatchStatementError code for a keel status. */
static const char *batch_code(keel_status st) {
    switch (st) {
    case KEEL_ECONDITION: return "ConditionalCheckFailed";
    case KEEL_EDUPLICATE: return "DuplicateItem";
    case KEEL_ENOTABLE: return "ResourceNotFound";
    case KEEL_EVALIDATION:
    case KEEL_ESYNTAX:
    case KEEL_EKEYSIZE:
    case KEEL_EINVAL: return "ValidationError";
    default: return "InternalServerError";
    }
}

bool ksrv_batch_execute_statement(ksrv_req *r) {
    json_t *list = NULL;
    int cap;
    if (!ksrv_get_arr(r, r->in, "Statements", true, &list) ||
        !ksrv_capacity_mode(r, r->in, &cap))
        return false;
    size_t n = json_array_size(list);
    if (n < 1 || n > KEEL_DB_MAX_BATCH_STATEMENTS)
        return ksrv_fail(r, "ValidationException", "1 validation error detected: Value at "
                         "'statements' failed to satisfy constraint: Member must have length "
                         "%s", n < 1 ? "greater than or equal to 1" : "less than or equal to 25");
    keel_db_statement *stmts = calloc(n, sizeof *stmts);
    kdb_buf *params = calloc(n, sizeof *params);
    keel_db_batch_response *resp = calloc(n, sizeof *resp);
    bool ok = stmts && params && resp;
    if (!ok) ksrv_fail(r, "InternalServerError", "out of memory");
    for (size_t i = 0; ok && i < n; i++) {
        json_t *s = json_array_get(list, i);
        bool has;
        if (!json_is_object(s)) {
            ok = ksrv_fail(r, "SerializationException", "Statements elements must be objects");
            break;
        }
        ok = statement_text(r, s, &stmts[i].statement) && params_cbor(r, s, &params[i], &has);
        if (ok && has) {
            stmts[i].params = params[i].p;
            stmts[i].params_len = params[i].len;
        }
    }
    if (ok) {
        keel_status st = keel_db_batch_execute(r->db, stmts, n, resp);
        if (st != KEEL_OK) {
            ok = statement_failed(r, st);
        } else {
            json_t *out = json_array();
            for (size_t i = 0; i < n; i++) {
                json_t *o = json_object();
                if (resp[i].status == KEEL_OK) {
                    if (resp[i].item.data) {
                        json_t *j = ksrv_item_json(r, resp[i].item.data, resp[i].item.len);
                        if (j) json_object_set_new(o, "Item", j);
                    }
                } else {
                    json_t *m = json_string(resp[i].message);
                    json_object_set_new(o, "Error",
                                        json_pack("{s:s, s:o}", "Code", batch_code(resp[i].status),
                                                  "Message", m ? m : json_string("error")));
                }
                json_array_append_new(out, o);
            }
            json_object_set_new(r->out, "Responses", out);
            keel_db_batch_responses_free(resp, n);
        }
    }
    for (size_t i = 0; params && i < n; i++) kdb_buf_free(&params[i]);
    free(params);
    free(resp);
    free(stmts);
    return ok;
}

bool ksrv_execute_transaction(ksrv_req *r) {
    static const char *const rvf[] = {"ALL_OLD", "NONE", NULL};
    json_t *list = NULL;
    const char *token = NULL;
    int cap;
    if (!ksrv_get_arr(r, r->in, "TransactStatements", true, &list) ||
        !ksrv_idem_token(r, &token) || !ksrv_capacity_mode(r, r->in, &cap))
        return false;
    size_t n = json_array_size(list);
    if (n < 1 || n > KEEL_DB_MAX_TRANSACT)
        return ksrv_fail(r, "ValidationException", "1 validation error detected: Value at "
                         "'transactStatements' failed to satisfy constraint: Member must have "
                         "length %s", n < 1 ? "greater than or equal to 1"
                                            : "less than or equal to 100");
    keel_db_tx_statement *stmts = calloc(n, sizeof *stmts);
    kdb_buf *params = calloc(n, sizeof *params);
    keel_db_buf *items = calloc(n, sizeof *items);
    keel_db_tx_reason *reasons = calloc(n, sizeof *reasons);
    bool ok = stmts && params && items && reasons, replayed = false, taken = false;
    if (!ok) ksrv_fail(r, "InternalServerError", "out of memory");
    for (size_t i = 0; ok && i < n; i++) {
        json_t *s = json_array_get(list, i);
        bool has;
        const char *rv;
        if (!json_is_object(s)) {
            ok = ksrv_fail(r, "SerializationException", "TransactStatements elements must be "
                           "objects");
            break;
        }
        ok = statement_text(r, s, &stmts[i].statement) && params_cbor(r, s, &params[i], &has) &&
             ksrv_get_enum(r, s, "ReturnValuesOnConditionCheckFailure", rvf, "NONE", &rv);
        if (ok && has) {
            stmts[i].params = params[i].p;
            stmts[i].params_len = params[i].len;
        }
        if (ok) stmts[i].return_old_on_condition_failure = strcmp(rv, "ALL_OLD") == 0;
    }
    if (ok && token) {
        ok = ksrv_idem_enter(r, "ExecuteTransaction", token, &replayed);
        taken = ok && !replayed;
    }
    bool read = false;
    if (ok && !replayed) {
        keel_status st = keel_db_execute_transaction(r->db, stmts, n, items, reasons);
        if (st == KEEL_ECANCELED) ok = ksrv_tx_canceled(r, reasons, n);
        else if (st != KEEL_OK) ok = statement_failed(r, st);
        keel_db_tx_reasons_free(reasons, n);
        read = st == KEEL_OK && !stmts_write(stmts[0].statement);
    }
    double units = 0;
    if (ok && read) {
        json_t *out = json_array();
        for (size_t i = 0; ok && i < n; i++) {
            json_t *o = json_object();
            if (items[i].data) {
                json_t *it = ksrv_item_json(r, items[i].data, items[i].len);
                if (!it) ok = false;
                else json_object_set_new(o, "Item", it);
            }
            units += 2 * ksrv_read_units(items[i].len, true);
            json_array_append_new(out, o);
        }
        if (ok) json_object_set_new(r->out, "Responses", out);
        else json_decref(out);
    } else if (ok && !replayed) {
        for (size_t i = 0; i < n; i++) units += 2 * ksrv_write_units(params[i].len + 64);
    }
    if (ok && cap && !replayed) {
        json_t *caps = json_array();
        json_array_append_new(caps, ksrv_capacity(cap, "", units, read));
        json_object_set_new(r->out, "ConsumedCapacity", caps);
    }
    if (taken) ksrv_idem_end(r->db, token, ok, r->out);
    for (size_t i = 0; items && i < n; i++) keel_db_buf_free(&items[i]);
    for (size_t i = 0; params && i < n; i++) kdb_buf_free(&params[i]);
    free(reasons);
    free(items);
    free(params);
    free(stmts);
    return ok;
}
