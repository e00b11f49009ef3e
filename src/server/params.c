/*
 * params.c: what every operation uses: DynamoDB's errors (ksrv_fail, and the mapping of
 * keel statuses), the typed getters of request members (a wrong JSON type is a
 * SerializationException, a missing required member DynamoDB's "Value null at ..."), table
 * names (an ARN is accepted), items and expression attributes as CBOR, and capacity units.
 *
 * Mapping of keel statuses: KEEL_ENOTABLE -> ResourceNotFoundException, KEEL_ETABLEEXISTS
 * -> ResourceInUseException, KEEL_EVALIDATION / KEEL_ESYNTAX / KEEL_EKEYSIZE ->
 * ValidationException, KEEL_ECONDITION -> ConditionalCheckFailedException; the rest (I/O,
 * memory, corruption) -> 500 InternalServerError.
 */
#include "server/server.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- errors ------------------------------------------------------------------------------ */

static const char *full_type(const char *type) {
    static const struct { const char *name, *full; } types[] = {
        {"ValidationException", KSRV_PREFIX "ValidationException"},
        {"ResourceNotFoundException", KSRV_PREFIX "ResourceNotFoundException"},
        {"ResourceInUseException", KSRV_PREFIX "ResourceInUseException"},
        {"ConditionalCheckFailedException", KSRV_PREFIX "ConditionalCheckFailedException"},
        {"TransactionCanceledException", KSRV_PREFIX "TransactionCanceledException"},
        {"DuplicateItemException", KSRV_PREFIX "DuplicateItemException"},
        {"LimitExceededException", KSRV_PREFIX "LimitExceededException"},
        {"IdempotentParameterMismatchException",
         KSRV_PREFIX "IdempotentParameterMismatchException"},
        {"TransactionInProgressException", KSRV_PREFIX "TransactionInProgressException"},
        {"InternalServerError", KSRV_PREFIX "InternalServerError"},
        {"SerializationException", KSRV_CORAL "SerializationException"},
        {"UnknownOperationException", KSRV_CORAL "UnknownOperationException"},
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(types[i].name, type) == 0) return types[i].full;
    return KSRV_PREFIX "ValidationException";
}

bool ksrv_fail(ksrv_req *r, const char *type, const char *fmt, ...) {
    r->type = full_type(type);
    r->status = strcmp(type, "InternalServerError") == 0 ? 500 : 400;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof r->msg, fmt, ap);
    va_end(ap);
    return false;
}

/* The engine names the action of a batch or a transaction that a validation error is in
 * ("transaction action 2 of 3: ..."); DynamoDB's message is the action's own: past it. */
static const char *action_message(const char *detail) {
    static const char *const heads[] = {"transaction action ", "transaction get ",
                                        "transaction statement ", "batch write "};
    for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) {
        size_t n = strlen(heads[i]);
        if (strncmp(detail, heads[i], n) != 0) continue;
        const char *p = detail + n;
        if (*p < '0' || *p > '9') return detail;
        while (*p >= '0' && *p <= '9') p++;
        if (strncmp(p, " of ", 4) != 0) return detail;
        p += 4;
        if (*p < '0' || *p > '9') return detail;
        while (*p >= '0' && *p <= '9') p++;
        return strncmp(p, ": ", 2) == 0 ? p + 2 : detail;
    }
    return detail;
}

/* An expression's syntax error as DynamoDB words it: the engine's detail after its
 * "Syntax error; token: \"T\", near: \"N\"" (the byte position and what was expected, in
 * parentheses) is keel's own, and is not sent (clients compare the whole message). */
static int syntax_length(const char *detail) {
    const char *s = strstr(detail, "Syntax error; token: ");
    const char *cut = s ? strstr(s, " (position ") : NULL;
    return cut ? (int)(cut - detail) : (int)strlen(detail);
}

bool ksrv_fail_status(ksrv_req *r, keel_status st, const char *table) {
    const char *detail = keel_errmsg();
    switch (st) {
    case KEEL_ENOTABLE:
        return ksrv_fail(r, "ResourceNotFoundException", "Requested resource not found%s%s",
                         table ? ": Table: " : "", table ? table : "");
    case KEEL_ETABLEEXISTS:
        return ksrv_fail(r, "ResourceInUseException", "Table already exists: %s",
                         table ? table : "");
    case KEEL_ESYNTAX: {   /* the engine names the request member ("Invalid UpdateExpression: ") */
        const char *m = action_message(detail);
        return ksrv_fail(r, "ValidationException", "%.*s", syntax_length(m), m);
    }
    case KEEL_EVALIDATION:
    case KEEL_EKEYSIZE:
    case KEEL_EINVAL:
        return ksrv_fail(r, "ValidationException", "%s", action_message(detail));
    case KEEL_ECONDITION:
        return ksrv_fail(r, "ConditionalCheckFailedException", "The conditional request failed");
    default:
        return ksrv_fail(r, "InternalServerError", "Internal server error: %s: %s",
                         keel_strerror(st), detail);
    }
}

/* ---- parameters -------------------------------------------------------------------------- */

/* DynamoDB's name for a member in its messages: the first letter in lower case. */
static void member_path(const char *name, char *buf, size_t cap) {
    snprintf(buf, cap, "%s", name);
    if (buf[0] >= 'A' && buf[0] <= 'Z') buf[0] = (char)(buf[0] - 'A' + 'a');
}

static bool missing(ksrv_req *r, const char *name) {
    char p[128];
    member_path(name, p, sizeof p);
    return ksrv_fail(r, "ValidationException", "1 validation error detected: Value null at '%s' "
                     "failed to satisfy constraint: Member must not be null", p);
}

static bool wrong_type(ksrv_req *r, const char *name, const char *want) {
    return ksrv_fail(r, "SerializationException", "Unexpected value type in payload: %s must be "
                     "%s", name, want);
}

bool ksrv_get_str(ksrv_req *r, json_t *obj, const char *name, bool required, const char **out) {
    json_t *v = json_object_get(obj, name);
    if (!v || json_is_null(v)) return required ? missing(r, name) : true;
    if (!json_is_string(v)) return wrong_type(r, name, "a string");
    if (strlen(json_string_value(v)) != json_string_length(v))
        return ksrv_fail(r, "ValidationException", "%s contains a NUL character", name);
    *out = json_string_value(v);
    return true;
}

bool ksrv_get_obj(ksrv_req *r, json_t *obj, const char *name, bool required, json_t **out) {
    json_t *v = json_object_get(obj, name);
    if (!v || json_is_null(v)) return required ? missing(r, name) : true;
    if (!json_is_object(v)) return wrong_type(r, name, "an object");
    *out = v;
    return true;
}

bool ksrv_get_arr(ksrv_req *r, json_t *obj, const char *name, bool required, json_t **out) {
    json_t *v = json_object_get(obj, name);
    if (!v || json_is_null(v)) return required ? missing(r, name) : true;
    if (!json_is_array(v)) return wrong_type(r, name, "an array");
    *out = v;
    return true;
}

bool ksrv_get_int(ksrv_req *r, json_t *obj, const char *name, long long *out, bool *present) {
    json_t *v = json_object_get(obj, name);
    *present = false;
    if (!v || json_is_null(v)) return true;
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
    } else if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) &&
               fabs(json_real_value(v)) < 9e15) {
        *out = (long long)json_real_value(v);
    } else {
        return wrong_type(r, name, "an integer");
    }
    *present = true;
    return true;
}

bool ksrv_get_bool(ksrv_req *r, json_t *obj, const char *name, bool *out) {
    json_t *v = json_object_get(obj, name);
    if (!v || json_is_null(v)) return true;
    if (!json_is_boolean(v)) return wrong_type(r, name, "a boolean");
    *out = json_is_true(v);
    return true;
}

bool ksrv_get_enum(ksrv_req *r, json_t *obj, const char *name, const char *const *allowed,
                   const char *dflt, const char **out) {
    const char *s = NULL;
    if (!ksrv_get_str(r, obj, name, false, &s)) return false;
    if (!s) {
        *out = dflt;
        return true;
    }
    char set[256] = "";
    size_t used = 0;
    for (const char *const *a = allowed; *a; a++) {
        if (strcmp(*a, s) == 0) {
            *out = *a;
            return true;
        }
        int n = snprintf(set + used, sizeof set - used, "%s%s", used ? ", " : "", *a);
        if (n > 0 && (size_t)n < sizeof set - used) used += (size_t)n;
    }
    char p[128];
    member_path(name, p, sizeof p);
    return ksrv_fail(r, "ValidationException", "1 validation error detected: Value '%.200s' at "
                     "'%s' failed to satisfy constraint: Member must satisfy enum value set: "
                     "[%s]", s, p, set);
}

bool ksrv_table_name(ksrv_req *r, json_t *obj, const char **out) {
    const char *name = NULL;
    if (!ksrv_get_str(r, obj, "TableName", true, &name)) return false;
    return ksrv_check_table(r, name, out);
}

bool ksrv_check_table(ksrv_req *r, const char *name, const char **out) {
    if (strncmp(name, "arn:", 4) == 0) {
        const char *t = strstr(name, ":table/");
        if (t) name = t + 7;
    }
    size_t n = strlen(name);
    if (n < 3 || n > KEEL_DB_MAX_TABLE_NAME)
        return ksrv_fail(r, "ValidationException", "1 validation error detected: Value '%.255s' "
                         "at 'tableName' failed to satisfy constraint: Member must have length "
                         "%s", name, n < 3 ? "greater than or equal to 3"
                                            : "less than or equal to 255");
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return ksrv_fail(r, "ValidationException", "1 validation error detected: Value "
                             "'%s' at 'tableName' failed to satisfy constraint: Member must "
                             "satisfy regular expression pattern: [a-zA-Z0-9_.-]+", name);
    }
    *out = name;
    return true;
}

/* A failed conversion of DynamoDB JSON: a member of the wrong JSON type ({"N": 5}) is a
 * SerializationException, as DynamoDB's deserializer reports it; the rest keep the
 * status's mapping. */
static bool json_failed(ksrv_req *r, keel_status st) {
    static const char *const coral[] = {"NUMBER_VALUE cannot be converted to String",
                                        "Start of structure or map found where not expected"};
    if (st == KEEL_EVALIDATION && strstr(keel_errmsg(), " must be a JSON ")) {
        for (size_t i = 0; i < 2; i++)   /* DynamoDB's words alone, where the engine has them */
            if (strstr(keel_errmsg(), coral[i]))
                return ksrv_fail(r, "SerializationException", "%s", coral[i]);
        return ksrv_fail(r, "SerializationException", "%s", keel_errmsg());
    }
    return ksrv_fail_status(r, st, NULL);
}

bool ksrv_item_cbor(ksrv_req *r, json_t *m, kdb_buf *out) {
    out->len = 0;
    out->failed = false;
    keel_status st = kdb_json_to_item(m, out);
    if (st == KEEL_OK && out->failed) st = keel__fail(KEEL_ENOMEM, "item");
    return st == KEEL_OK ? true : json_failed(r, st);
}

json_t *ksrv_item_json(ksrv_req *r, const uint8_t *p, size_t len) {
    json_t *j = NULL;
    keel_status st = kdb_json_from_item(p, len, &j);
    if (st != KEEL_OK) {
        ksrv_fail(r, "InternalServerError", "Internal server error: an item could not be "
                  "encoded: %s", keel_errmsg());
        return NULL;
    }
    return j;
}

bool ksrv_exprs_get(ksrv_req *r, json_t *obj, ksrv_exprs *e) {
    memset(e, 0, sizeof *e);
    json_t *names = NULL, *values = NULL;
    if (!ksrv_get_obj(r, obj, "ExpressionAttributeNames", false, &names) ||
        !ksrv_get_obj(r, obj, "ExpressionAttributeValues", false, &values))
        return false;
    keel_status st = KEEL_OK;
    if (names) {
        if (json_object_size(names) == 0)
            return ksrv_fail(r, "ValidationException", "ExpressionAttributeNames must not be "
                             "empty");
        st = kdb_json_to_names(names, &e->names);
        e->has_names = true;
    }
    if (st == KEEL_OK && values) {
        if (json_object_size(values) == 0)
            return ksrv_fail(r, "ValidationException", "ExpressionAttributeValues must not be "
                             "empty");
        st = kdb_json_to_values(values, &e->values);
        e->has_values = true;
    }
    if (st == KEEL_OK && (e->names.failed || e->values.failed))
        st = keel__fail(KEEL_ENOMEM, "expression attributes");
    if (st != KEEL_OK) {
        ksrv_exprs_free(e);
        return json_failed(r, st);
    }
    return true;
}

void ksrv_exprs_free(ksrv_exprs *e) {
    kdb_buf_free(&e->names);
    kdb_buf_free(&e->values);
    memset(e, 0, sizeof *e);
}

bool ksrv_metrics_mode(ksrv_req *r, json_t *obj) {
    static const char *const modes[] = {"SIZE", "NONE", NULL};
    const char *m;
    return ksrv_get_enum(r, obj, "ReturnItemCollectionMetrics", modes, "NONE", &m);
}

bool ksrv_capacity_mode(ksrv_req *r, json_t *obj, int *mode) {
    static const char *const modes[] = {"INDEXES", "TOTAL", "NONE", NULL};  /* DynamoDB's order */
    const char *m;
    if (!ksrv_get_enum(r, obj, "ReturnConsumedCapacity", modes, "NONE", &m)) return false;
    *mode = strcmp(m, "NONE") == 0 ? 0 : strcmp(m, "TOTAL") == 0 ? 1 : 2;
    return true;
}

json_t *ksrv_capacity(int mode, const char *table, double units, bool read) {
    json_t *c = json_object();
    json_object_set_new(c, "TableName", json_string(table));
    json_object_set_new(c, "CapacityUnits", json_real(units));
    json_object_set_new(c, read ? "ReadCapacityUnits" : "WriteCapacityUnits", json_real(units));
    if (mode == 2) {
        json_t *t = json_object();
        json_object_set_new(t, "CapacityUnits", json_real(units));
        json_object_set_new(t, read ? "ReadCapacityUnits" : "WriteCapacityUnits",
                            json_real(units));
        json_object_set_new(c, "Table", t);
    }
    return c;
}

double ksrv_read_units(size_t bytes, bool consistent) {
    double u = (double)((bytes + 4095) / 4096);
    if (u < 1) u = 1;
    return consistent ? u : u / 2;
}

double ksrv_write_units(size_t bytes) {
    double u = (double)((bytes + 1023) / 1024);
    return u < 1 ? 1 : u;
}

