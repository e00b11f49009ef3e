/*
 * handler.c: keel_dynamo_handle, one DynamoDB request from JSON text to JSON text.
 *
 * The body is checked for nesting depth (KEEL_DYNAMO_MAX_NESTING, by a scan that skips
 * strings) before jansson parses it, so a hostile body cannot make the parser recurse
 * deeply; it must be one JSON object. The operation is looked up in a table; unknown
 * names are UnknownOperationException. String values may hold NUL (\u0000), as DynamoDB's
 * do; the typed getters of params.c refuse it in the members that are C strings (names,
 * expressions), and jansson refuses it in object keys. A request mixing legacy members and
 * expressions is refused before the op runs. An op fills r->out or sets an error; the
 * response is then encoded compactly (GetItem's item is already text:
 * kdb_json_write_item, spliced in first). Errors carry "__type" and "message" (botocore reads either
 * "message" or "Message"), JSON-escaped by jansson.
 * Parameter helpers and the error mapping are in params.c.
 */
#include "server/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the request ------------------------------------------------------------------------- */

typedef bool (*op_fn)(ksrv_req *r);

static const struct {
    const char *name;
    op_fn fn;
} ops[] = {
    {"BatchExecuteStatement", ksrv_batch_execute_statement},
    {"BatchGetItem", ksrv_batch_get},
    {"BatchWriteItem", ksrv_batch_write},
    {"CreateTable", ksrv_create_table},
    {"DeleteItem", ksrv_delete_item},
    {"DeleteTable", ksrv_delete_table},
    {"DescribeTable", ksrv_describe_table},
    {"DescribeTimeToLive", ksrv_describe_ttl},
    {"ExecuteStatement", ksrv_execute_statement},
    {"ExecuteTransaction", ksrv_execute_transaction},
    {"GetItem", ksrv_get_item},
    {"ListTables", ksrv_list_tables},
    {"PutItem", ksrv_put_item},
    {"Query", ksrv_query},
    {"Scan", ksrv_scan},
    {"SearchVectors", ksrv_search_vectors},
    {"TransactGetItems", ksrv_transact_get},
    {"TransactWriteItems", ksrv_transact_write},
    {"UpdateItem", ksrv_update_item},
    {"UpdateTable", ksrv_update_table},
    {"UpdateTimeToLive", ksrv_update_ttl},
};

/* Deepest nesting of arrays and objects in the text, strings skipped. */
static size_t nesting(const char *p, size_t n) {
    size_t depth = 0, max = 0;
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (in_str) {
            if (c == '\\') i++;
            else if (c == '"') in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > max) max = depth;
        } else if ((c == '}' || c == ']') && depth) {
            depth--;
        }
    }
    return max;
}

static char oom_body[] = "{\"__type\":\"" KSRV_PREFIX "InternalServerError\","
                         "\"message\":\"out of memory\"}";

static int respond(keel_dynamo_response *out, int status, const char *type, json_t *j) {
    out->status = status;
    out->type = type;
    out->body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (!out->body) {
        out->status = 500;
        out->type = KSRV_PREFIX "InternalServerError";
        out->body = oom_body;
    }
    out->len = strlen(out->body);
    return out->status;
}

/* {"Item":<raw text>, ...the members of r->out} without putting the item in a tree. */
static int respond_raw(keel_dynamo_response *out, ksrv_req *r) {
    char *rest = json_dumps(r->out, JSON_COMPACT);
    size_t rl = rest ? strlen(rest) : 0, n = 8 + r->raw_item.len + rl + 1;
    char *body = rest && rl >= 2 ? malloc(n) : NULL;
    if (!body) {
        free(rest);
        return respond(out, 500, NULL, NULL);
    }
    memcpy(body, "{\"Item\":", 8);
    memcpy(body + 8, r->raw_item.p, r->raw_item.len);
    size_t at = 8 + r->raw_item.len;
    if (rl > 2) {
        body[at++] = ',';
        memcpy(body + at, rest + 1, rl - 1);    /* the members and the closing brace */
        at += rl - 1;
    } else {
        body[at++] = '}';
    }
    body[at] = 0;
    free(rest);
    out->status = 200;
    out->type = "";
    out->body = body;
    out->len = at;
    return 200;
}

static int respond_error(keel_dynamo_response *out, ksrv_req *r) {
    json_t *e = json_object();
    if (r->extra) json_object_update(e, r->extra);
    json_object_set_new(e, "__type", json_string(r->type));
    /* A message may quote request bytes cut mid-character: jansson refuses invalid UTF-8. */
    json_t *m = json_string(r->msg);
    if (!m) m = json_string("invalid request (the message quoted bytes that are not UTF-8)");
    json_object_set_new(e, "message", m);
    int st = respond(out, r->status, r->type, e);
    json_decref(e);
    return st;
}

int keel_dynamo_handle_ex(keel_db *db, const char *operation, const char *body, size_t len,
                          const keel_dynamo_options *opts, keel_dynamo_response *out) {
    ksrv_req r = {.db = db, .region = opts && opts->region ? opts->region : "us-east-1"};
    if (!out) return 500;
    memset(out, 0, sizeof *out);
    op_fn fn = NULL;
    for (size_t i = 0; operation && i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(ops[i].name, operation) == 0) fn = ops[i].fn;
    if (!fn) {
        ksrv_fail(&r, "UnknownOperationException", "An unknown operation was requested.");
        return respond_error(out, &r);
    }
    if (!db) {
        ksrv_fail(&r, "InternalServerError", "no database");
        return respond_error(out, &r);
    }
    if (!body) len = 0;
    if (len > KEEL_DYNAMO_MAX_BODY) {
        ksrv_fail(&r, "ValidationException", "Request body is larger than 16 MB");
        return respond_error(out, &r);
    }
    if (nesting(body, len) > KEEL_DYNAMO_MAX_NESTING) {
        ksrv_fail(&r, "SerializationException", "JSON nesting deeper than %u",
                  KEEL_DYNAMO_MAX_NESTING);
        return respond_error(out, &r);
    }
    json_error_t jerr;
    json_t *in = len ? json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr) : json_object();
    if (!in || !json_is_object(in)) {
        if (in) ksrv_fail(&r, "SerializationException", "Start of list found where not "
                          "expected");
        else ksrv_fail(&r, "SerializationException", "Malformed JSON: %s at position %d",
                       jerr.text, jerr.position);
        json_decref(in);
        return respond_error(out, &r);
    }
    r.in = in;
    r.out = json_object();
    int status;
    if (r.out && ksrv_legacy_unmixed(&r, in) && fn(&r)) {
        status = r.raw_item.len ? respond_raw(out, &r) : respond(out, 200, "", r.out);
    } else {
        if (!r.type) ksrv_fail(&r, "InternalServerError", "out of memory");
        status = respond_error(out, &r);
    }
    json_decref(r.extra);
    json_decref(r.out);
    json_decref(in);
    kdb_buf_free(&r.raw_item);
    return status;
}

int keel_dynamo_handle(keel_db *db, const char *operation, const char *body, size_t len,
                       keel_dynamo_response *out) {
    return keel_dynamo_handle_ex(db, operation, body, len, NULL, out);
}

void keel_dynamo_response_free(keel_dynamo_response *r) {
    if (!r) return;
    if (r->body && r->body != oom_body) free(r->body);
    memset(r, 0, sizeof *r);
}
