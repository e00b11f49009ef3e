/*
 * ops_tx.c: TransactWriteItems and TransactGetItems on keel_db_transact_write/_get.
 *
 * Every action is parsed into the engine's action struct (its own names and values, its
 * key or item as CBOR) before the engine is called, so a malformed action refuses the
 * whole request with a ValidationException and nothing is read. A canceled transaction is
 * TransactionCanceledException with one CancellationReasons entry per action, in order
 * ({"Code":"None"} for the fine ones; Item when ReturnValuesOnConditionCheckFailure=ALL_OLD).
 * ClientRequestToken makes TransactWriteItems idempotent for 10 minutes (idempotency.c).
 */
#include "server/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct action {
    kdb_buf item;
    ksrv_exprs e;
} action;

static void actions_free(action *a, size_t n) {
    for (size_t i = 0; a && i < n; i++) {
        kdb_buf_free(&a[i].item);
        ksrv_exprs_free(&a[i].e);
    }
    free(a);
}

static bool tx_items(ksrv_req *r, json_t **out) {
    json_t *items = NULL;
    if (!ksrv_get_arr(r, r->in, "TransactItems", true, &items)) return false;
    size_t n = json_array_size(items);
    if (n < 1 || n > KEEL_DB_MAX_TRANSACT)
        return ksrv_fail(r, "ValidationException", "1 validation error detected: Value at "
                         "'transactItems' failed to satisfy constraint: Member must have length "
                         "%s", n < 1 ? "greater than or equal to 1" : "less than or equal to 100");
    *out = items;
    return true;
}

static bool parse_write(ksrv_req *r, json_t *ti, keel_db_tx_write *w, action *a) {
    static const struct { const char *name; keel_db_tx_kind kind; const char *obj; } kinds[] = {
        {"Put", KEEL_DB_TX_PUT, "Item"}, {"Update", KEEL_DB_TX_UPDATE, "Key"},
        {"Delete", KEEL_DB_TX_DELETE, "Key"}, {"ConditionCheck", KEEL_DB_TX_CHECK, "Key"}};
    static const char *const rvf[] = {"ALL_OLD", "NONE", NULL};
    if (!json_is_object(ti))
        return ksrv_fail(r, "SerializationException", "TransactItems elements must be objects");
    json_t *spec = NULL;
    size_t found = 0;
    for (size_t k = 0; k < 4; k++) {
        json_t *s = NULL;
        if (!ksrv_get_obj(r, ti, kinds[k].name, false, &s)) return false;
        if (!s) continue;
        found++;
        spec = s;
        w->kind = kinds[k].kind;
    }
    if (found != 1)
        return ksrv_fail(r, "ValidationException", "TransactItems can only contain one of "
                         "Check, Put, Update or Delete");
    const char *obj_name = kinds[w->kind - 1].obj, *rv;
    json_t *m = NULL;
    if (!ksrv_legacy_updates(r, spec) || !ksrv_table_name(r, spec, &w->table) ||
        !ksrv_get_obj(r, spec, obj_name, true, &m) ||
        !ksrv_get_str(r, spec, "ConditionExpression", false, &w->condition) ||
        !ksrv_get_str(r, spec, "UpdateExpression", false, &w->update) ||
        !ksrv_get_enum(r, spec, "ReturnValuesOnConditionCheckFailure", rvf, "NONE", &rv) ||
        !(w->kind == KEEL_DB_TX_PUT ? ksrv_put_cbor(r, w->table, m, &a->item)
                                    : ksrv_item_cbor(r, m, &a->item)) ||
        !ksrv_exprs_get(r, spec, &a->e))
        return false;
    if (w->kind == KEEL_DB_TX_CHECK && !w->condition)
        return ksrv_fail(r, "ValidationException", "1 validation error detected: Value null at "
                         "'transactItems.member.conditionCheck.conditionExpression' failed to "
                         "satisfy constraint: Member must not be null");
    if (w->kind == KEEL_DB_TX_UPDATE && !w->update)
        return ksrv_fail(r, "ValidationException", "1 validation error detected: Value null at "
                         "'transactItems.member.update.updateExpression' failed to satisfy "
                         "constraint: Member must not be null");
    w->item = a->item.p;
    w->item_len = a->item.len;
    if (a->e.has_names) {
        w->names = a->e.names.p;
        w->names_len = a->e.names.len;
    }
    if (a->e.has_values) {
        w->values = a->e.values.p;
        w->values_len = a->e.values.len;
    }
    w->return_old_on_condition_failure = strcmp(rv, "ALL_OLD") == 0;
    return true;
}

/* TransactionCanceledException from the engine's reasons. */
bool ksrv_tx_canceled(ksrv_req *r, keel_db_tx_reason *reasons, size_t n) {
    json_t *arr = json_array();
    char codes[900] = "";
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "Code", json_string(reasons[i].code_name));
        if (reasons[i].code != KEEL_DB_REASON_NONE) {
            json_t *m = json_string(reasons[i].message);
            json_object_set_new(o, "Message", m ? m : json_string("invalid"));
        }
        if (reasons[i].item.data) {
            json_t *it = ksrv_item_json(r, reasons[i].item.data, reasons[i].item.len);
            if (it) json_object_set_new(o, "Item", it);
        }
        json_array_append_new(arr, o);
        int k = snprintf(codes + used, sizeof codes - used, "%s%s", i ? ", " : "",
                         reasons[i].code_name);
        if (k > 0 && (size_t)k < sizeof codes - used) used += (size_t)k;
    }
    r->extra = json_object();
    json_object_set_new(r->extra, "CancellationReasons", arr);
    return ksrv_fail(r, "TransactionCanceledException", "Transaction cancelled, please refer "
                     "cancellation reasons for specific reasons [%s]", codes);
}

bool ksrv_transact_write(ksrv_req *r) {
    json_t *items = NULL;
    const char *token = NULL;
    int cap;
    bool replayed = false;
    if (!tx_items(r, &items) || !ksrv_idem_token(r, &token) ||
        !ksrv_capacity_mode(r, r->in, &cap) || !ksrv_metrics_mode(r, r->in))
        return false;
    size_t n = json_array_size(items);
    keel_db_tx_write *w = calloc(n, sizeof *w);
    action *a = calloc(n, sizeof *a);
    keel_db_tx_reason *reasons = calloc(n, sizeof *reasons);
    bool ok = w && a && reasons;
    if (!ok) ksrv_fail(r, "InternalServerError", "out of memory");
    for (size_t i = 0; ok && i < n; i++) {
        w[i] = (keel_db_tx_write)KEEL_DB_TX_WRITE_INIT;
        ok = parse_write(r, json_array_get(items, i), &w[i], &a[i]);
    }
    bool taken = false;
    if (ok && token) {
        ok = ksrv_idem_enter(r, "TransactWriteItems", token, &replayed);
        taken = ok && !replayed;
    }
    if (ok && !replayed) {
        keel_status st = keel_db_transact_write(r->db, w, n, reasons);
        if (st == KEEL_ECANCELED) ok = ksrv_tx_canceled(r, reasons, n);
        else if (st != KEEL_OK) ok = ksrv_fail_status(r, st, NULL);
        keel_db_tx_reasons_free(reasons, n);
    }
    if (ok && cap && !replayed) {
        json_t *caps = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(caps, ksrv_capacity(cap, w[i].table,
                                                      2 * ksrv_write_units(w[i].item_len), false));
        json_object_set_new(r->out, "ConsumedCapacity", caps);
    }
    if (taken) ksrv_idem_end(r->db, token, ok, r->out);
    free(reasons);
    actions_free(a, n);
    free(w);
    return ok;
}

bool ksrv_transact_get(ksrv_req *r) {
    json_t *items = NULL;
    int cap;
    if (!tx_items(r, &items) || !ksrv_capacity_mode(r, r->in, &cap)) return false;
    size_t n = json_array_size(items);
    keel_db_tx_get *g = calloc(n, sizeof *g);
    action *a = calloc(n, sizeof *a);
    keel_db_buf *res = calloc(n, sizeof *res);
    bool ok = g && a && res;
    if (!ok) ksrv_fail(r, "InternalServerError", "out of memory");
    for (size_t i = 0; ok && i < n; i++) {
        json_t *ti = json_array_get(items, i), *spec = NULL, *key = NULL;
        if (!json_is_object(ti)) {
            ok = ksrv_fail(r, "SerializationException", "TransactItems elements must be objects");
            break;
        }
        ok = ksrv_get_obj(r, ti, "Get", true, &spec) && ksrv_table_name(r, spec, &g[i].table) &&
             ksrv_get_obj(r, spec, "Key", true, &key) &&
             ksrv_legacy_projection(r, spec) &&
             ksrv_get_str(r, spec, "ProjectionExpression", false, &g[i].projection) &&
             ksrv_item_cbor(r, key, &a[i].item) && ksrv_exprs_get(r, spec, &a[i].e);
        if (!ok) break;
        g[i].key = a[i].item.p;
        g[i].key_len = a[i].item.len;
        if (a[i].e.has_names) {
            g[i].names = a[i].e.names.p;
            g[i].names_len = a[i].e.names.len;
        }
    }
    if (ok) {
        keel_status st = keel_db_transact_get(r->db, g, n, res);
        if (st != KEEL_OK) ok = ksrv_fail_status(r, st, NULL);
    }
    json_t *out = ok ? json_array() : NULL, *caps = ok && cap ? json_array() : NULL;
    for (size_t i = 0; ok && i < n; i++) {
        json_t *o = json_object();
        if (res[i].data) {
            json_t *it = ksrv_item_json(r, res[i].data, res[i].len);
            if (!it) ok = false;
            else json_object_set_new(o, "Item", it);
        }
        json_array_append_new(out, o);
        if (caps)
            json_array_append_new(caps, ksrv_capacity(cap, g[i].table,
                                                      2 * ksrv_read_units(res[i].len, true),
                                                      true));
    }
    if (ok) {
        json_object_set_new(r->out, "Responses", out);
        if (caps) json_object_set_new(r->out, "ConsumedCapacity", caps);
    } else {
        json_decref(out);
        json_decref(caps);
    }
    for (size_t i = 0; res && i < n; i++) keel_db_buf_free(&res[i]);
    free(res);
    actions_free(a, n);
    free(g);
    return ok;
}
