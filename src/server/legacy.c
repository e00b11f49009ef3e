/*
 * legacy.c: DynamoDB's legacy parameters, rewritten as the expressions that replaced them.
 *
 * KeyConditions, QueryFilter, ScanFilter and Expected ({attr: {ComparisonOperator,
 * AttributeValueList}} and Expected's {Value, Exists}), AttributesToGet (a list of names)
 * and AttributeUpdates ({attr: {Action, Value}}) become KeyConditionExpression,
 * FilterExpression, ConditionExpression, ProjectionExpression and UpdateExpression in the
 * request object itself, with generated placeholders ("#kc0", ":kc0", ...; a prefix per
 * legacy member so several can coexist) added to ExpressionAttributeNames/Values. The
 * engine then sees one kind of request. A request that gives both a legacy member and its
 * expression is refused, as DynamoDB does, and so is a write mixing legacy members and
 * expressions at all (ksrv_legacy_unmixed, checked by the handler before any rewriting).
 */
#include "server/server.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growing text. */
typedef struct text {
    char *p;
    size_t len, cap;
    bool failed;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text *t, const char *fmt, ...) {
    if (t->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->p ? t->p + t->len : NULL, t->p ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = true;
            return;
        }
        if (t->p && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = (t->cap ? t->cap * 2 : 256) + (size_t)n;
        char *q = realloc(t->p, cap);
        if (!q) {
            t->failed = true;
            return;
        }
        t->p = q;
        t->cap = cap;
    }
}

/* The request's names/values objects, created when absent. */
static json_t *member_obj(json_t *obj, const char *name) {
    json_t *m = json_object_get(obj, name);
    if (!json_is_object(m)) {
        m = json_object();
        json_object_set_new(obj, name, m);
    }
    return m;
}

static bool both(ksrv_req *r, const char *legacy, const char *expr) {
    return ksrv_fail(r, "ValidationException", "Can not use both expression and non-expression "
                     "parameters in the same request: Non-expression parameters: {%s} "
                     "Expression parameters: {%s}", legacy, expr);
}

/* DynamoDB's rules, as recorded against it: any legacy member (ConditionalOperator
 * included) with any expression member is refused, the message naming every one present
 * on each side in a fixed order (the orders below give each operation's); KeyConditions
 * counts only beside a KeyConditionExpression (with a FilterExpression or a
 * ProjectionExpression it is accepted). Then ConditionalOperator needs an Expected,
 * QueryFilter or ScanFilter of two or more conditions. */
bool ksrv_legacy_unmixed(ksrv_req *r, json_t *obj) {
    static const char *const legacy[] = {"AttributesToGet", "AttributeUpdates", "Expected",
                                         "ScanFilter", "QueryFilter", "ConditionalOperator",
                                         "KeyConditions", NULL};
    static const char *const exprs[] = {"UpdateExpression", "ProjectionExpression",
                                        "FilterExpression", "ConditionExpression",
                                        "KeyConditionExpression", NULL};
    bool kce = json_object_get(obj, "KeyConditionExpression") != NULL;
    char non[160] = "", ex[160] = "";
    for (size_t i = 0; legacy[i]; i++)
        if (json_object_get(obj, legacy[i]) && (strcmp(legacy[i], "KeyConditions") || kce))
            snprintf(non + strlen(non), sizeof non - strlen(non), "%s%s", non[0] ? ", " : "",
                     legacy[i]);
    for (size_t i = 0; exprs[i]; i++)
        if (json_object_get(obj, exprs[i]))
            snprintf(ex + strlen(ex), sizeof ex - strlen(ex), "%s%s", ex[0] ? ", " : "",
                     exprs[i]);
    if (non[0] && ex[0]) return both(r, non, ex);
    if (json_object_get(obj, "ConditionalOperator")) {
        size_t n = 0;
        static const char *const conds[] = {"Expected", "QueryFilter", "ScanFilter"};
        for (size_t i = 0; i < 3; i++) n += json_object_size(json_object_get(obj, conds[i]));
        if (n == 0)
            return ksrv_fail(r, "ValidationException", "ConditionalOperator cannot be used "
                             "without Filter or Expected");
        if (n == 1)
            return ksrv_fail(r, "ValidationException", "ConditionalOperator can only be used "
                             "when Filter or Expected has two or more elements");
    }
    return true;
}

static void prefix_of(const char *legacy, char *p) {
    /* the capitals of the member's name, lower-cased: KeyConditions -> "kc" */
    size_t n = 0;
    for (const char *c = legacy; *c && n < 3; c++)
        if (*c >= 'A' && *c <= 'Z') p[n++] = (char)(*c - 'A' + 'a');
    p[n] = 0;
}

/* One condition of a legacy map as expression text. */
static bool one_condition(ksrv_req *r, const char *attr, json_t *c, const char *pfx,
                          unsigned *k, json_t *names, json_t *values, text *t, bool expected) {
    if (!json_is_object(c))
        return ksrv_fail(r, "SerializationException", "a legacy condition must be an object");
    const char *op = NULL;
    json_t *list = NULL, *value = NULL;
    bool exists = true, has_exists = json_object_get(c, "Exists") != NULL;
    if (!ksrv_get_str(r, c, "ComparisonOperator", false, &op) ||
        !ksrv_get_arr(r, c, "AttributeValueList", false, &list) ||
        !ksrv_get_obj(r, c, "Value", false, &value) || !ksrv_get_bool(r, c, "Exists", &exists))
        return false;
    char n[32];
    snprintf(n, sizeof n, "#%s%u", pfx, (*k)++);
    json_object_set_new(names, n, json_string(attr));
    if (expected && !op) {
        if (!exists) {
            if (value)
                return ksrv_fail(r, "ValidationException", "One or more parameter values were "
                                 "invalid: Value cannot be used when Exists is false for "
                                 "Attribute: %s", attr);
            put(t, "attribute_not_exists(%s)", n);
            return true;
        }
        if (!value)
            return ksrv_fail(r, "ValidationException", "One or more parameter values were "
                             "invalid: Value must be provided when Exists is %s for Attribute: "
                             "%s", has_exists ? "true" : "null", attr);
        char v[32];
        snprintf(v, sizeof v, ":%s%u", pfx, (*k)++);
        json_object_set(values, v, value);
        put(t, "%s = %s", n, v);
        return true;
    }
    if (!op)
        return ksrv_fail(r, "ValidationException", "1 validation error detected: Value null at "
                         "'comparisonOperator' failed to satisfy constraint: Member must not be "
                         "null");
    static const struct { const char *name, *fmt; int args; } ops[] = {
        {"EQ", "%s = %s", 1}, {"NE", "%s <> %s", 1}, {"LT", "%s < %s", 1},
        {"LE", "%s <= %s", 1}, {"GT", "%s > %s", 1}, {"GE", "%s >= %s", 1},
        {"BEGINS_WITH", "begins_with(%s, %s)", 1}, {"CONTAINS", "contains(%s, %s)", 1},
        {"NOT_CONTAINS", "NOT contains(%s, %s)", 1}, {"NULL", "attribute_not_exists(%s)", 0},
        {"NOT_NULL", "attribute_exists(%s)", 0}, {"BETWEEN", NULL, 2}, {"IN", NULL, -1}};
    size_t i = 0, nops = sizeof ops / sizeof ops[0];
    while (i < nops && strcmp(ops[i].name, op)) i++;
    if (i == nops)
        return ksrv_fail(r, "ValidationException", "1 validation error detected: Value '%.32s' "
                         "at 'comparisonOperator' failed to satisfy constraint: Member must "
                         "satisfy enum value set: [IN, NULL, BETWEEN, LT, NOT_CONTAINS, EQ, GT, "
                         "NOT_NULL, NE, LE, BEGINS_WITH, GE, CONTAINS]", op);
    size_t nargs = list ? json_array_size(list) : 0;
    if (value && !list && ops[i].args == 1) {
        list = json_array();
        json_array_append(list, value);
        json_object_set_new(c, "AttributeValueList", list);
        nargs = 1;
    }
    if ((ops[i].args >= 0 && nargs != (size_t)ops[i].args) || (ops[i].args < 0 && nargs == 0))
        return ksrv_fail(r, "ValidationException", "One or more parameter values were invalid: "
                         "Invalid number of argument(s) for the %s ComparisonOperator", op);
    char a0[32], a1[32];
    for (size_t j = 0; j < nargs; j++) {
        char name[32];
        snprintf(name, sizeof name, ":%s%u", pfx, (*k)++);
        json_object_set(values, name, json_array_get(list, j));
        if (j == 0) snprintf(a0, sizeof a0, "%s", name);
        if (j == 1) snprintf(a1, sizeof a1, "%s", name);
        if (ops[i].args < 0) {
            if (j == 0) put(t, "%s IN (%s", n, name);
            else put(t, ", %s", name);
        }
    }
    if (ops[i].args < 0) put(t, ")");
    else if (ops[i].args == 2) put(t, "%s BETWEEN %s AND %s", n, a0, a1);
    else if (ops[i].args == 1) put(t, ops[i].fmt, n, a0);
    else put(t, ops[i].fmt, n);
    return true;
}

bool ksrv_legacy_conditions(ksrv_req *r, json_t *obj, const char *legacy, const char *expr,
                            bool key_conditions) {
    json_t *conds = NULL;
    if (!ksrv_get_obj(r, obj, legacy, false, &conds)) return false;
    if (!conds) return true;
    if (json_object_get(obj, expr)) return both(r, legacy, expr);
    const char *join = " AND ";
    if (!key_conditions) {
        static const char *const ops[] = {"OR", "AND", NULL};   /* DynamoDB's order */
        const char *c;
        if (!ksrv_get_enum(r, obj, "ConditionalOperator", ops, "AND", &c)) return false;
        if (strcmp(c, "OR") == 0) join = " OR ";
    }
    char pfx[4];
    prefix_of(legacy, pfx);
    json_t *names = member_obj(obj, "ExpressionAttributeNames");
    json_t *values = member_obj(obj, "ExpressionAttributeValues");
    text t = {0};
    unsigned k = 0;
    const char *attr;
    json_t *c;
    bool ok = true;
    json_object_foreach(conds, attr, c) {
        if (k) put(&t, "%s", join);
        if (!(ok = one_condition(r, attr, c, pfx, &k, names, values, &t,
                                 strcmp(legacy, "Expected") == 0)))
            break;
    }
    if (ok && t.failed) ok = ksrv_fail(r, "InternalServerError", "out of memory");
    if (ok && t.p) json_object_set_new(obj, expr, json_string(t.p));
    if (json_object_size(values) == 0) json_object_del(obj, "ExpressionAttributeValues");
    if (json_object_size(names) == 0) json_object_del(obj, "ExpressionAttributeNames");
    free(t.p);
    return ok;
}

bool ksrv_legacy_projection(ksrv_req *r, json_t *obj) {
    json_t *list = NULL;
    if (!ksrv_get_arr(r, obj, "AttributesToGet", false, &list)) return false;
    if (!list) return true;
    if (json_object_get(obj, "ProjectionExpression"))
        return both(r, "AttributesToGet", "ProjectionExpression");
    if (json_array_size(list) == 0)
        return ksrv_fail(r, "ValidationException", "1 validation error detected: Value '[]' at "
                         "'attributesToGet' failed to satisfy constraint: Member must have "
                         "length greater than or equal to 1");
    json_t *names = member_obj(obj, "ExpressionAttributeNames");
    text t = {0};
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *a = json_array_get(list, i);
        if (!json_is_string(a)) {
            free(t.p);
            return ksrv_fail(r, "SerializationException", "AttributesToGet must hold strings");
        }
        for (size_t j = 0; j < i; j++)
            if (json_equal(json_array_get(list, j), a)) {
                free(t.p);
                return ksrv_fail(r, "ValidationException", "One or more parameter values were "
                                 "invalid: Duplicate value in attribute name: %.255s",
                                 json_string_value(a));
            }
        char n[32];
        snprintf(n, sizeof n, "#ag%zu", i);
        json_object_set(names, n, a);
        put(&t, "%s%s", i ? ", " : "", n);
    }
    bool ok = !t.failed || ksrv_fail(r, "InternalServerError", "out of memory");
    if (ok) json_object_set_new(obj, "ProjectionExpression", json_string(t.p));
    free(t.p);
    return ok;
}

/* The Value of an ADD (a number, a set or a list) or of a DELETE (a set): DynamoDB refuses
 * other types up front, whatever the item holds. */
static bool legacy_operand_ok(ksrv_req *r, bool add, json_t *value) {
    const char *type = json_object_size(value) == 1 ? json_object_iter_key(
                                                          json_object_iter(value)) : "";
    static const char *const sets[] = {"SS", "NS", "BS", NULL};
    for (size_t i = 0; sets[i]; i++)
        if (strcmp(type, sets[i]) == 0) return true;
    if (add && (strcmp(type, "N") == 0 || strcmp(type, "L") == 0)) return true;
    return ksrv_fail(r, "ValidationException", "One or more parameter values were invalid: %s "
                     "action%s is not supported for the type %.8s", add ? "ADD" : "DELETE",
                     add ? "" : " with value", type);
}

bool ksrv_legacy_updates(ksrv_req *r, json_t *obj) {
    json_t *ups = NULL;
    if (!ksrv_get_obj(r, obj, "AttributeUpdates", false, &ups)) return false;
    if (!ups) return true;
    if (json_object_get(obj, "UpdateExpression"))
        return both(r, "AttributeUpdates", "UpdateExpression");
    json_t *names = member_obj(obj, "ExpressionAttributeNames");
    json_t *values = member_obj(obj, "ExpressionAttributeValues");
    text clause[4] = {{0}};     /* SET, REMOVE, ADD, DELETE */
    static const char *const words[] = {"SET ", "REMOVE ", "ADD ", "DELETE "};
    unsigned k = 0;
    const char *attr;
    json_t *u;
    bool ok = true;
    json_object_foreach(ups, attr, u) {
        const char *action = "PUT";
        json_t *value = NULL;
        static const char *const actions[] = {"PUT", "ADD", "DELETE", NULL};
        if (!json_is_object(u)) {
            ok = ksrv_fail(r, "SerializationException", "AttributeUpdates values must be "
                           "objects");
            break;
        }
        if (!(ok = ksrv_get_enum(r, u, "Action", actions, "PUT", &action) &&
                   ksrv_get_obj(r, u, "Value", false, &value)))
            break;
        char n[32], v[32];
        snprintf(n, sizeof n, "#au%u", k);
        snprintf(v, sizeof v, ":au%u", k++);
        json_object_set_new(names, n, json_string(attr));
        int which = strcmp(action, "PUT") == 0 ? 0 : strcmp(action, "ADD") == 0 ? 2 : 3;
        if (which == 3 && !value) which = 1;
        if (which != 1 && !value) {
            ok = ksrv_fail(r, "ValidationException", "One or more parameter values were "
                           "invalid: Only DELETE action is allowed when no attribute value is "
                           "specified");
            break;
        }
        if (value && (which == 2 || which == 3) && !legacy_operand_ok(r, which == 2, value)) {
            ok = false;
            break;
        }
        /* ADD of a list appends to the attribute (absent: an empty list); no expression ADD
         * takes lists, so it becomes a SET */
        bool append = which == 2 && json_object_get(value, "L");
        if (append) which = 0;
        text *t = &clause[which];
        put(t, "%s", t->len ? ", " : words[which]);
        if (append) {
            char e[32];
            snprintf(e, sizeof e, ":ae%u", k - 1);
            json_object_set_new(values, e, json_pack("{s:[]}", "L"));
            put(t, "%s = list_append(if_not_exists(%s, %s), %s)", n, n, e, v);
        } else if (which == 0) put(t, "%s = %s", n, v);
        else if (which == 1) put(t, "%s", n);
        else put(t, "%s %s", n, v);
        if (value) json_object_set(values, v, value);
    }
    text all = {0};
    for (int i = 0; i < 4; i++)
        if (clause[i].len) put(&all, "%s%s", all.len ? " " : "", clause[i].p);
    if (ok && (all.failed || clause[0].failed || clause[1].failed || clause[2].failed ||
               clause[3].failed))
        ok = ksrv_fail(r, "InternalServerError", "out of memory");
    if (ok && all.p) json_object_set_new(obj, "UpdateExpression", json_string(all.p));
    if (json_object_size(values) == 0) json_object_del(obj, "ExpressionAttributeValues");
    if (json_object_size(names) == 0) json_object_del(obj, "ExpressionAttributeNames");
    for (int i = 0; i < 4; i++) free(clause[i].p);
    free(all.p);
    return ok;
}
