/*
 * ops_item.c: PutItem, GetItem, DeleteItem, UpdateItem, BatchGetItem, BatchWriteItem.
 *
 * Single-item writes go through keel_db_put_item_ex / _delete_item_ex / keel_db_update_item,
 * which evaluate the condition and apply the write under the writer lock (so racing
 * conditional writes see exactly one success). Legacy Expected and AttributeUpdates are
 * rewritten as expressions first (legacy.c). GetItem without a projection returns a view of
 * the stored item; with one it goes through keel_db_transact_get (one action), the engine's
 * projecting read.
 *
 * BatchWriteItem applies all its requests as one atomic group (keel_db_batch_write),
 * stronger than DynamoDB's per-item atomicity, so UnprocessedItems is always {}.
 * BatchGetItem answers every key unless the response would pass 16 MB; the keys left go
 * back in UnprocessedKeys.
 */
#include "server/server.h"

#include <stdlib.h>
#include <string.h>

#define BATCH_GET_MAX 100u
#define BATCH_WRITE_MAX 25u
#define RESPONSE_MAX (16u * 1024u * 1024u)

/* The options of a conditional write from its request. */
static bool write_opts(ksrv_req *r, json_t *in, bool update, ksrv_exprs *e,
                       keel_db_write_opts *o) {
    static const char *const rv_put[] = {"NONE", "ALL_OLD", NULL};
    /* in DynamoDB's order, which its enum message lists */
    static const char *const rv_upd[] = {"ALL_NEW", "UPDATED_OLD", "ALL_OLD", "NONE",
                                         "UPDATED_NEW", NULL};
    static const char *const rvf[] = {"ALL_OLD", "NONE", NULL};
    const char *rv, *fail_rv;
    *o = (keel_db_write_opts)KEEL_DB_WRITE_OPTS_INIT;
    if (!ksrv_legacy_conditions(r, in, "Expected", "ConditionExpression", false) ||
        !ksrv_get_str(r, in, "ConditionExpression", false, &o->condition) ||
        !ksrv_get_enum(r, in, "ReturnValues", update ? rv_upd : rv_put, "NONE", &rv) ||
        !ksrv_get_enum(r, in, "ReturnValuesOnConditionCheckFailure", rvf, "NONE", &fail_rv) ||
        !ksrv_metrics_mode(r, in) ||
        !ksrv_exprs_get(r, in, e))
        return false;
    static const keel_db_return codes[] = {KEEL_DB_RETURN_ALL_NEW, KEEL_DB_RETURN_UPDATED_OLD,
                                           KEEL_DB_RETURN_ALL_OLD, KEEL_DB_RETURN_NONE,
                                           KEEL_DB_RETURN_UPDATED_NEW};
    for (size_t i = 0; rv_upd[i]; i++)
        if (strcmp(rv_upd[i], rv) == 0) o->return_values = codes[i];
    o->return_old_on_condition_failure = strcmp(fail_rv, "ALL_OLD") == 0;
    /* names or values with no expression to use them: DynamoDB's words (legacy Expected and
     * AttributeUpdates are expressions by now, with their own placeholders) */
    if (!o->condition && (!update || !json_is_string(json_object_get(in, "UpdateExpression"))) &&
        (e->has_names || e->has_values)) {
        const char *which = e->has_names ? "Names" : "Values";
        ksrv_exprs_free(e);
        return ksrv_fail(r, "ValidationException", "ExpressionAttribute%s can only be specified "
                         "when using expressions", which);
    }
    if (e->has_names) {
        o->names = e->names.p;
        o->names_len = e->names.len;
    }
    if (e->has_values) {
        o->values = e->values.p;
        o->values_len = e->values.len;
    }
    return true;
}

/* The outcome of a conditional write: Attributes, or the error with the old Item. */
static bool write_done(ksrv_req *r, keel_status st, keel_db_buf *res, const char *table,
                       int cap_mode, size_t bytes) {
    bool ok = true;
    if (st == KEEL_OK) {
        if (res->data) {
            json_t *j = ksrv_item_json(r, res->data, res->len);
            if (!j) ok = false;
            else json_object_set_new(r->out, "Attributes", j);
        }
        if (ok && cap_mode)
            json_object_set_new(r->out, "ConsumedCapacity",
                                ksrv_capacity(cap_mode, table, ksrv_write_units(bytes), false));
    } else {
        ok = ksrv_fail_status(r, st, table);
        if (st == KEEL_ECONDITION && res->data) {
            json_t *j = ksrv_item_json(r, res->data, res->len);
            if (j) {
                r->extra = json_object();
                json_object_set_new(r->extra, "Item", j);
                ksrv_fail(r, "ConditionalCheckFailedException", "The conditional request failed");
            }
        }
    }
    keel_db_buf_free(res);
    return ok;
}

bool ksrv_put_item(ksrv_req *r) {
    const char *table;
    json_t *item = NULL;
    int cap;
    if (!ksrv_table_name(r, r->in, &table) || !ksrv_get_obj(r, r->in, "Item", true, &item) ||
        !ksrv_capacity_mode(r, r->in, &cap))
        return false;
    kdb_buf b = {0};
    ksrv_exprs e;
    keel_db_write_opts o;
    if (!write_opts(r, r->in, false, &e, &o)) return false;
    bool ok = ksrv_put_cbor(r, table, item, &b);
    if (ok) {
        keel_db_buf res = {0};
        keel_status st = keel_db_put_item_ex(r->db, table, b.p, b.len, &o, &res);
        ok = write_done(r, st, &res, table, cap, b.len);
    }
    kdb_buf_free(&b);
    ksrv_exprs_free(&e);
    return ok;
}

bool ksrv_delete_item(ksrv_req *r) {
    const char *table;
    json_t *key = NULL;
    int cap;
    if (!ksrv_table_name(r, r->in, &table) || !ksrv_get_obj(r, r->in, "Key", true, &key) ||
        !ksrv_capacity_mode(r, r->in, &cap))
        return false;
    kdb_buf b = {0};
    ksrv_exprs e;
    keel_db_write_opts o;
    if (!write_opts(r, r->in, false, &e, &o)) return false;
    bool ok = ksrv_item_cbor(r, key, &b);
    if (ok) {
        keel_db_buf res = {0};
        keel_status st = keel_db_delete_item_ex(r->db, table, b.p, b.len, &o, &res);
        ok = write_done(r, st, &res, table, cap, res.len);
    }
    kdb_buf_free(&b);
    ksrv_exprs_free(&e);
    return ok;
}

bool ksrv_update_item(ksrv_req *r) {
    const char *table, *update = NULL;
    json_t *key = NULL;
    int cap;
    bool legacy = json_object_get(r->in, "AttributeUpdates") != NULL;
    if (!ksrv_table_name(r, r->in, &table) || !ksrv_get_obj(r, r->in, "Key", true, &key) ||
        !ksrv_capacity_mode(r, r->in, &cap) || !ksrv_legacy_updates(r, r->in) ||
        !ksrv_get_str(r, r->in, "UpdateExpression", false, &update))
        return false;
    kdb_buf b = {0};
    ksrv_exprs e;
    keel_db_write_opts o;
    if (!write_opts(r, r->in, true, &e, &o)) return false;
    bool ok = ksrv_item_cbor(r, key, &b);
    if (ok) {
        keel_db_buf res = {0};
        keel_status st = keel_db_update_item(r->db, table, b.p, b.len, update, &o, &res);
        ok = write_done(r, st, &res, table, cap, res.len);
        /* AttributeUpdates' own words for an ADD/DELETE that does not fit the attribute */
        if (!ok && legacy && st == KEEL_EVALIDATION && strstr(r->msg, "incorrect data type"))
            ksrv_fail(r, "ValidationException", "Type mismatch for attribute to update");
    }
    kdb_buf_free(&b);
    ksrv_exprs_free(&e);
    return ok;
}

/* A read's projection: ProjectionExpression (or AttributesToGet) and its names. Values
 * are not allowed in a read without conditions. */
static bool read_projection(ksrv_req *r, json_t *in, const char **proj, ksrv_exprs *e) {
    *proj = NULL;
    if (!ksrv_legacy_projection(r, in) ||
        !ksrv_get_str(r, in, "ProjectionExpression", false, proj) || !ksrv_exprs_get(r, in, e))
        return false;
    if (e->has_values) {
        ksrv_exprs_free(e);
        return ksrv_fail(r, "ValidationException", "ExpressionAttributeValues can only be "
                         "specified when using expressions: ExpressionAttributeValues is not "
                         "used in this operation");
    }
    if (e->has_names && !*proj) {
        ksrv_exprs_free(e);
        return ksrv_fail(r, "ValidationException", "ExpressionAttributeNames can only be "
                         "specified when using expressions");
    }
    return true;
}

/* Read one item (projected if asked) into a new JSON object, or *out NULL when absent. */
static bool read_one(ksrv_req *r, const char *table, json_t *key, const char *proj,
                     const ksrv_exprs *e, json_t **out, size_t *bytes, kdb_buf *raw) {
    kdb_buf b = {0};
    *out = NULL;
    *bytes = 0;
    if (!ksrv_item_cbor(r, key, &b)) {
        kdb_buf_free(&b);
        return false;
    }
    keel_status st;
    bool ok = true;
    if (!proj) {
        keel_view v;
        st = keel_db_get_item(r->db, table, b.p, b.len, &v);
        if (st == KEEL_OK) {
            *bytes = v.len;
            /* GetItem: the item as JSON text straight from the mapping (no jansson tree) */
            if (!raw || !kdb_json_write_item(v.data, v.len, raw))
                ok = (*out = ksrv_item_json(r, v.data, v.len)) != NULL;
        } else if (st != KEEL_NOTFOUND) {
            ok = ksrv_fail_status(r, st, NULL);
        }
    } else {
        keel_db_tx_get g = {table, b.p, b.len, proj, e->has_names ? e->names.p : NULL,
                            e->has_names ? e->names.len : 0};
        keel_db_buf res = {0};
        st = keel_db_transact_get(r->db, &g, 1, &res);
        if (st != KEEL_OK) {
            ok = ksrv_fail_status(r, st, NULL);   /* names no action (params.c) */
        } else if (res.data) {
            *bytes = res.len;
            ok = (*out = ksrv_item_json(r, res.data, res.len)) != NULL;
        }
        keel_db_buf_free(&res);
    }
    kdb_buf_free(&b);
    return ok;
}

bool ksrv_get_item(ksrv_req *r) {
    const char *table, *proj;
    json_t *key = NULL;
    int cap;
    bool consistent = false;
    ksrv_exprs e;
    if (!ksrv_table_name(r, r->in, &table) || !ksrv_get_obj(r, r->in, "Key", true, &key) ||
        !ksrv_capacity_mode(r, r->in, &cap) ||
        !ksrv_get_bool(r, r->in, "ConsistentRead", &consistent) ||
        !read_projection(r, r->in, &proj, &e))
        return false;
    json_t *item;
    size_t bytes;
    bool ok = read_one(r, table, key, proj, &e, &item, &bytes, &r->raw_item);
    if (ok && item) json_object_set_new(r->out, "Item", item);
    if (ok && cap)
        json_object_set_new(r->out, "ConsumedCapacity",
                            ksrv_capacity(cap, table, ksrv_read_units(bytes, consistent), true));
    ksrv_exprs_free(&e);
    return ok;
}

bool ksrv_batch_get(ksrv_req *r) {
    json_t *req = NULL;
    int cap;
    if (!ksrv_get_obj(r, r->in, "RequestItems", true, &req) ||
        !ksrv_capacity_mode(r, r->in, &cap))
        return false;
    size_t total = 0;
    const char *tname;
    json_t *spec;
    json_object_foreach(req, tname, spec) {
        json_t *keys = NULL;
        if (!json_is_object(spec))
            return ksrv_fail(r, "SerializationException", "RequestItems values must be objects");
        if (!ksrv_get_arr(r, spec, "Keys", true, &keys)) return false;
        if (json_array_size(keys) == 0)
            return ksrv_fail(r, "ValidationException", "1 validation error detected: Value at "
                             "'requestItems.%s.member.keys' failed to satisfy constraint: "
                             "Member must have length greater than or equal to 1", tname);
        total += json_array_size(keys);
        for (size_t i = 0; i < json_array_size(keys); i++) {
            char *a = json_dumps(json_array_get(keys, i), JSON_SORT_KEYS | JSON_COMPACT);
            for (size_t j = 0; a && j < i; j++) {
                char *b = json_dumps(json_array_get(keys, j), JSON_SORT_KEYS | JSON_COMPACT);
                bool dup = b && strcmp(a, b) == 0;
                free(b);
                if (dup) {
                    free(a);
                    return ksrv_fail(r, "ValidationException", "Provided list of item keys "
                                     "contains duplicates");
                }
            }
            free(a);
        }
    }
    if (json_object_size(req) == 0)
        return ksrv_fail(r, "ValidationException", "1 validation error detected: Value at "
                         "'requestItems' failed to satisfy constraint: Member must have length "
                         "greater than or equal to 1");
    if (total > BATCH_GET_MAX)
        return ksrv_fail(r, "ValidationException", "Too many items requested for the "
                         "BatchGetItem call");
    json_t *responses = json_object(), *unprocessed = json_object(), *caps = json_array();
    size_t sent = 0;
    bool ok = true;
    json_object_foreach(req, tname, spec) {
        json_t *keys = json_object_get(spec, "Keys"), *items = json_array(), *left = NULL;
        const char *proj, *table = tname;
        bool consistent = false;
        ksrv_exprs e;
        ok = ksrv_check_table(r, tname, &table) &&
             ksrv_get_bool(r, spec, "ConsistentRead", &consistent) &&
             read_projection(r, spec, &proj, &e);
        if (!ok) {
            json_decref(items);
            break;
        }
        double units = 0;
        for (size_t i = 0; ok && i < json_array_size(keys); i++) {
            json_t *key = json_array_get(keys, i), *item;
            size_t bytes;
            if (!json_is_object(key)) {
                ok = ksrv_fail(r, "SerializationException", "Keys elements must be objects");
                break;
            }
            if (sent > RESPONSE_MAX) {
                if (!left) left = json_array();
                json_array_append(left, key);
                continue;
            }
            ok = read_one(r, table, key, proj, &e, &item, &bytes, NULL);
            units += ksrv_read_units(bytes, consistent);
            sent += bytes;
            if (ok && item) json_array_append_new(items, item);
        }
        ksrv_exprs_free(&e);
        json_object_set_new(responses, tname, items);
        if (left) {
            json_t *u = json_deep_copy(spec);
            json_object_set_new(u, "Keys", left);
            json_object_set_new(unprocessed, tname, u);
        }
        if (cap) json_array_append_new(caps, ksrv_capacity(cap, tname, units, true));
    }
    json_object_set_new(r->out, "Responses", responses);
    json_object_set_new(r->out, "UnprocessedKeys", unprocessed);
    if (cap) json_object_set_new(r->out, "ConsumedCapacity", caps);
    else json_decref(caps);
    return ok;
}

bool ksrv_batch_write(ksrv_req *r) {
    json_t *req = NULL;
    int cap;
    if (!ksrv_get_obj(r, r->in, "RequestItems", true, &req) ||
        !ksrv_capacity_mode(r, r->in, &cap) || !ksrv_metrics_mode(r, r->in))
        return false;
    if (json_object_size(req) == 0)
        return ksrv_fail(r, "ValidationException", "1 validation error detected: Value at "
                         "'requestItems' failed to satisfy constraint: Member must have length "
                         "greater than or equal to 1");
    size_t total = 0;
    const char *tname;
    json_t *list;
    json_object_foreach(req, tname, list) {
        if (!json_is_array(list))
            return ksrv_fail(r, "SerializationException", "RequestItems values must be arrays");
        if (json_array_size(list) == 0)
            return ksrv_fail(r, "ValidationException", "1 validation error detected: Value "
                             "'[]' at 'requestItems.%s.member' failed to satisfy constraint: "
                             "Member must have length greater than or equal to 1", tname);
        total += json_array_size(list);
    }
    if (total > BATCH_WRITE_MAX)
        return ksrv_fail(r, "ValidationException", "1 validation error detected: Value at "
                         "'requestItems' failed to satisfy constraint: Map value must satisfy "
                         "constraint: [Member must have length less than or equal to 25, Member "
                         "must have length greater than or equal to 1]");
    keel_db_write *w = calloc(total, sizeof *w);
    kdb_buf *bufs = calloc(total, sizeof *bufs);
    json_t *caps = json_array();
    bool ok = w && bufs;
    size_t n = 0;
    if (!ok) ksrv_fail(r, "InternalServerError", "out of memory");
    json_object_foreach(req, tname, list) {
        if (!ok) break;
        const char *table;
        ok = ksrv_check_table(r, tname, &table);
        double units = 0;
        for (size_t i = 0; ok && i < json_array_size(list); i++) {
            json_t *wr = json_array_get(list, i), *put = NULL, *del = NULL, *m = NULL;
            if (!json_is_object(wr))
                ok = ksrv_fail(r, "SerializationException", "write requests must be objects");
            else if (ksrv_get_obj(r, wr, "PutRequest", false, &put) &&
                     ksrv_get_obj(r, wr, "DeleteRequest", false, &del)) {
                if (!put == !del)
                    ok = ksrv_fail(r, "ValidationException", "Supplied AttributeValue has more "
                                   "than one datatypes set, must contain exactly one of the "
                                   "supported datatypes");
                else
                    ok = ksrv_get_obj(r, put ? put : del, put ? "Item" : "Key", true, &m) &&
                         (put ? ksrv_put_cbor(r, table, m, &bufs[n])
                              : ksrv_item_cbor(r, m, &bufs[n]));
            } else {
                ok = false;
            }
            if (!ok) break;
            w[n] = (keel_db_write){table, bufs[n].p, bufs[n].len, del != NULL};
            units += ksrv_write_units(bufs[n].len);
            n++;
        }
        if (cap) json_array_append_new(caps, ksrv_capacity(cap, tname, units, false));
    }
    if (ok) {
        keel_status st = keel_db_batch_write(r->db, w, n);
        if (st != KEEL_OK) {
            if (st == KEEL_EVALIDATION && strstr(keel_errmsg(), "same item"))
                ok = ksrv_fail(r, "ValidationException", "Provided list of item keys contains "
                               "duplicates");
            else
                ok = ksrv_fail_status(r, st, NULL);
        }
    }
    if (ok) {
        json_object_set_new(r->out, "UnprocessedItems", json_object());
        if (cap) json_object_set(r->out, "ConsumedCapacity", caps);
    }
    json_decref(caps);
    for (size_t i = 0; bufs && i < total; i++) kdb_buf_free(&bufs[i]);
    free(bufs);
    free(w);
    return ok;
}
