/*
 * ops_query.c: Query and Scan on the engine's cursors, in DynamoDB's pages.
 *
 * A page ends at Limit items evaluated (the cursor's limit; LastEvaluatedKey is then
 * keel_db_cursor_last_key) or when the items returned reach 1 MB (LastEvaluatedKey is the
 * key of the last item returned, keel_db_cursor_current). DynamoDB counts the 1 MB before
 * the filter; keel counts the items that pass it, so a page with a selective filter may
 * evaluate more than 1 MB (it never returns more). Count is after the filter, ScannedCount
 * before it. Select=COUNT returns the counts only. Legacy KeyConditions, QueryFilter,
 * ScanFilter and AttributesToGet are rewritten as expressions first (legacy.c).
 *
 * IndexName reads a secondary index (the engine's q.index): items are the index's
 * projections and LastEvaluatedKey holds the table's and the index's keys. The index is
 * looked up first for DynamoDB's errors (unknown index, ConsistentRead on a global one).
 */
#include "server/server.h"

#include <stdlib.h>
#include <string.h>

#define PAGE_MAX (1024u * 1024u)

/* IndexName must name an index of the table, and a global one cannot be read consistently
 * (DynamoDB's rule; keel's reads would be consistent anyway), nor asked for
 * Select=ALL_ATTRIBUTES unless it projects them all. *local: a local index. */
static bool check_index(ksrv_req *r, const char *table, const char *index, bool consistent,
                        const char *select, bool *local) {
    keel_db_table_stats *s = malloc(sizeof *s);
    if (!s) return ksrv_fail(r, "InternalServerError", "out of memory");
    keel_status st = keel_db_get_stats(r->db, table, s);
    bool ok = true;
    if (st != KEEL_OK) {
        ok = ksrv_fail_status(r, st, table);
    } else {
        const keel_db_index_info *x = NULL;
        for (size_t i = 0; i < s->nindexes; i++)
            if (strcmp(s->indexes[i].name, index) == 0) x = &s->indexes[i];
        char *f = NULL, *inc = NULL;
        size_t nf, ni;
        if (!x && kdb_vec_schema(r->db, table, index, &f, &nf, &inc, &ni, NULL) == KEEL_OK)
            ok = ksrv_fail(r, "ValidationException", "The index type of %.255s (a vector index) "
                           "does not support Query or Scan: use SearchVectors", index);
        else if (!x)
            ok = ksrv_fail(r, "ValidationException", "The table does not have the specified "
                           "index: %.255s", index);
        else if (!x->local && consistent)
            ok = ksrv_fail(r, "ValidationException", "Consistent reads are not supported on "
                           "global secondary indexes");
        else if (!x->local && x->projection != KEEL_DB_PROJECT_ALL && select &&
                 strcmp(select, "ALL_ATTRIBUTES") == 0)
            ok = ksrv_fail(r, "ValidationException", "One or more parameter values were invalid: "
                           "Select type ALL_ATTRIBUTES is not supported for global secondary "
                           "index %.255s because its projection type is not ALL", index);
        else
            *local = x->local;
        free(f);
        free(inc);
    }
    free(s);
    return ok;
}

static bool run(ksrv_req *r, bool is_query) {
    const char *table, *index = NULL, *select, *kc = NULL, *filter = NULL, *proj = NULL;
    static const char *const selects[] = {"SPECIFIC_ATTRIBUTES", "COUNT", "ALL_ATTRIBUTES",
                                          "ALL_PROJECTED_ATTRIBUTES", NULL};  /* DynamoDB's order */
    json_t *start = NULL;
    long long limit = 0, segment = 0, total = 0;
    bool has_limit, has_segment, has_total, consistent = false, forward = true;
    int cap;
    if (!ksrv_table_name(r, r->in, &table) ||
        !ksrv_get_str(r, r->in, "IndexName", false, &index) ||
        !ksrv_get_enum(r, r->in, "Select", selects, NULL, &select) ||
        !ksrv_get_int(r, r->in, "Limit", &limit, &has_limit) ||
        !ksrv_get_bool(r, r->in, "ConsistentRead", &consistent) ||
        !ksrv_get_obj(r, r->in, "ExclusiveStartKey", false, &start) ||
        !ksrv_capacity_mode(r, r->in, &cap))
        return false;
    if (is_query) {
        if (!ksrv_get_bool(r, r->in, "ScanIndexForward", &forward) ||
            !ksrv_legacy_conditions(r, r->in, "KeyConditions", "KeyConditionExpression", true) ||
            !ksrv_legacy_conditions(r, r->in, "QueryFilter", "FilterExpression", false) ||
            !ksrv_get_str(r, r->in, "KeyConditionExpression", false, &kc))
            return false;
        if (!kc)
            return ksrv_fail(r, "ValidationException", "Either the KeyConditions or "
                             "KeyConditionExpression parameter must be specified in the "
                             "request.");
    } else {
        if (!ksrv_legacy_conditions(r, r->in, "ScanFilter", "FilterExpression", false) ||
            !ksrv_get_int(r, r->in, "Segment", &segment, &has_segment) ||
            !ksrv_get_int(r, r->in, "TotalSegments", &total, &has_total))
            return false;
        if (has_segment && (segment < 0 || segment > 999999))
            return ksrv_fail(r, "ValidationException", "1 validation error detected: Value '%lld'"
                             " at 'segment' failed to satisfy constraint: Member must have value "
                             "%s", segment, segment < 0 ? "greater than or equal to 0"
                                                        : "less than or equal to 999999");
        if (has_segment && !has_total)
            return ksrv_fail(r, "ValidationException", "The TotalSegments parameter is required "
                             "but was not present in the request when Segment parameter is "
                             "present");
        if (has_total && !has_segment)
            return ksrv_fail(r, "ValidationException", "The Segment parameter is required but "
                             "was not present in the request when parameter TotalSegments is "
                             "present");
        if (has_total && (total < 1 || total > 1000000))
            return ksrv_fail(r, "ValidationException", "1 validation error detected: Value '%lld'"
                             " at 'totalSegments' failed to satisfy constraint: Member must have "
                             "value %s", total, total < 1 ? "greater than or equal to 1"
                                                          : "less than or equal to 1000000");
        if (has_segment && (segment < 0 || segment >= total))
            return ksrv_fail(r, "ValidationException", "The Segment parameter is zero-based and "
                             "must be less than parameter TotalSegments: Segment: %lld is not "
                             "less than TotalSegments: %lld", segment, total);
    }
    bool legacy_proj = json_object_get(r->in, "AttributesToGet") != NULL;
    if (!ksrv_legacy_projection(r, r->in) ||
        !ksrv_get_str(r, r->in, "FilterExpression", false, &filter) ||
        !ksrv_get_str(r, r->in, "ProjectionExpression", false, &proj))
        return false;
    bool local = false;
    if (index && !check_index(r, table, index, consistent, select, &local)) return false;
    if (has_limit && limit < 1)
        return ksrv_fail(r, "ValidationException", "1 validation error detected: Value '%lld' at "
                         "'limit' failed to satisfy constraint: Member must have value greater "
                         "than or equal to 1", limit);
    bool count_only = select && strcmp(select, "COUNT") == 0;
    if (select && strcmp(select, "ALL_PROJECTED_ATTRIBUTES") == 0 && !index)
        return ksrv_fail(r, "ValidationException", "ALL_PROJECTED_ATTRIBUTES can be used only "
                         "when Querying using an IndexName");
    if (select && strcmp(select, "SPECIFIC_ATTRIBUTES") == 0 && !proj)
        return ksrv_fail(r, "ValidationException", "SPECIFIC_ATTRIBUTES requires a "
                         "ProjectionExpression or AttributesToGet");
    if (select && proj && strcmp(select, "SPECIFIC_ATTRIBUTES"))
        return ksrv_fail(r, "ValidationException", "Cannot specify the %s when choosing to "
                         "get %s", legacy_proj ? "AttributesToGet" : "ProjectionExpression",
                         select);
    ksrv_exprs e;
    kdb_buf sk = {0};
    if (!ksrv_exprs_get(r, r->in, &e)) return false;
    if (start && !ksrv_item_cbor(r, start, &sk)) {
        ksrv_exprs_free(&e);
        kdb_buf_free(&sk);
        return false;
    }
    keel_db_query q = KEEL_DB_QUERY_INIT;
    q.key_condition = kc;
    q.filter = filter;
    q.projection = count_only ? NULL : proj;
    if (e.has_names) {
        q.names = e.names.p;
        q.names_len = e.names.len;
    }
    if (e.has_values) {
        q.values = e.values.p;
        q.values_len = e.values.len;
    }
    q.forward = forward;
    q.limit = has_limit ? (uint64_t)limit : 0;
    if (start) {
        q.start_key = sk.p;
        q.start_key_len = sk.len;
    }
    q.segment = (uint32_t)segment;
    q.total_segments = (uint32_t)total;
    q.index = index;
    keel_db_cursor *c = NULL;
    keel_status st = is_query ? keel_db_query_start(r->db, table, &q, &c)
                              : keel_db_scan_start(r->db, table, &q, &c);
    bool ok = true;
    json_t *items = count_only ? NULL : json_array(), *lek = NULL;
    size_t bytes = 0;
    uint64_t count = 0;
    if (st != KEEL_OK) {
        ok = ksrv_fail_status(r, st, NULL);
    }
    while (ok) {
        keel_view v, whole, key;
        st = keel_db_cursor_next(c, &v);
        if (st == KEEL_NOTFOUND) {
            if (keel_db_cursor_last_key(c, &key) == KEEL_OK) lek = ksrv_item_json(r, key.data,
                                                                                   key.len);
            break;
        }
        if (st == KEEL_OK) st = keel_db_cursor_current(c, &whole, &key);
        if (st != KEEL_OK) {
            ok = ksrv_fail_status(r, st, table);
            break;
        }
        count++;
        bytes += whole.len;
        if (items) {
            json_t *j = ksrv_item_json(r, v.data, v.len);
            if (!j) {
                ok = false;
                break;
            }
            json_array_append_new(items, j);
        }
        if (bytes >= PAGE_MAX) {
            lek = ksrv_item_json(r, key.data, key.len);
            break;
        }
    }
    if (ok) {
        uint64_t scanned;
        keel_db_cursor_counts(c, &scanned, NULL);
        if (scanned < count) scanned = count;
        if (items) json_object_set(r->out, "Items", items);
        json_object_set_new(r->out, "Count", json_integer((json_int_t)count));
        json_object_set_new(r->out, "ScannedCount", json_integer((json_int_t)scanned));
        if (lek) json_object_set(r->out, "LastEvaluatedKey", lek);
        if (cap) {
            double units = ksrv_read_units(bytes, consistent);
            json_t *cc = ksrv_capacity(cap, table, units, true);
            if (cap == 2 && index) {
                /* INDEXES: the read was of the index, not of the table */
                json_t *x = json_object(), *m = json_object();
                json_object_set_new(x, "ReadCapacityUnits", json_real(units));
                json_object_set_new(x, "CapacityUnits", json_real(units));
                json_object_set_new(m, index, x);
                json_object_set_new(cc, local ? "LocalSecondaryIndexes" : "GlobalSecondaryIndexes",
                                    m);
                json_t *t = json_object_get(cc, "Table");
                json_object_set_new(t, "ReadCapacityUnits", json_real(0));
                json_object_set_new(t, "CapacityUnits", json_real(0));
            }
            json_object_set_new(r->out, "ConsumedCapacity", cc);
        }
    }
    json_decref(items);
    json_decref(lek);
    keel_db_cursor_free(c);
    kdb_buf_free(&sk);
    ksrv_exprs_free(&e);
    return ok;
}

bool ksrv_query(ksrv_req *r) { return run(r, true); }
bool ksrv_scan(ksrv_req *r) { return run(r, false); }
