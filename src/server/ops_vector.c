/*
 * ops_vector.c: vector indexes on the wire (DynamoDB's VectorIndexes, reference/dynamodb.md
 * 1.8) and SearchVectors, on the engine's keel_db_create_vector_index / _drop_ /
 * _list_vector_indexes and keel_db_search.
 *
 * A definition is {IndexName, VectorAttribute{AttributeName}, Dimensions, DistanceFunction,
 * Projection, SearchSchema[{AttributeName, SearchSchemaElementType HASH|INLINE_FILTER}]}.
 * CreateTable checks every definition before the table is made, then adds the indexes (a
 * failure deletes the new table again, so the request is all or nothing); UpdateTable
 * takes one VectorIndexUpdates entry, Create (built before the response) or Delete.
 * DescribeTable lists them ACTIVE with ItemCount and IndexSizeBytes (4 bytes per element of
 * each indexed vector) and the SearchSchema as defined: the engine stores each attribute
 * and which one is the HASH element (at most one; an attribute named twice is refused).
 *
 * SearchVectors: SearchVector is a list of {"N": "..."} elements (a bare number is a
 * SerializationException, as DynamoDB answers), each a finite float32; TopK 1..100;
 * SearchConditionExpression is DynamoDB's subset, checked here before the engine sees it:
 * `path = :value` terms (either order) joined by AND, each path a top-level attribute (a
 * name or a #placeholder) of the index's SearchSchema. The engine evaluates it as a filter
 * (it accepts keel's full filter expressions; the wire does not). Results are
 * SearchResults [{Item, Score}], best first, in DynamoDB's score conventions.
 */
#include "server/server.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- definitions ----------------------------------------------------------------------- */

typedef struct vdef {
    keel_db_vector_index_def d;
    const char *include[KEEL_DB_MAX_INCLUDE];
    const char *filters[64];
    keel_db_search_kind kinds[64];
} vdef;

static bool parse_vdef(ksrv_req *r, json_t *e, vdef *v) {
    static const char *const dists[] = {"COSINE", "EUCLIDEAN", "DOT_PRODUCT", NULL};
    static const char *const projs[] = {"ALL", "KEYS_ONLY", "INCLUDE", NULL};
    static const char *const kinds[] = {"HASH", "INLINE_FILTER", NULL};
    json_t *va = NULL, *proj = NULL, *nka = NULL, *schema = NULL;
    const char *dist = NULL, *ptype = NULL;
    memset(v, 0, sizeof *v);
    if (!json_is_object(e))
        return ksrv_fail(r, "SerializationException", "vector index definitions must be objects");
    if (!ksrv_get_str(r, e, "IndexName", true, &v->d.name) ||
        !ksrv_get_obj(r, e, "VectorAttribute", true, &va) ||
        !ksrv_get_str(r, va, "AttributeName", true, &v->d.attribute) ||
        !ksrv_get_enum(r, e, "DistanceFunction", dists, NULL, &dist) ||
        !ksrv_get_obj(r, e, "Projection", true, &proj) ||
        !ksrv_get_enum(r, proj, "ProjectionType", projs, "ALL", &ptype) ||
        !ksrv_get_arr(r, proj, "NonKeyAttributes", false, &nka) ||
        !ksrv_get_arr(r, e, "SearchSchema", false, &schema))
        return false;
    if (!dist) return ksrv_fail(r, "ValidationException", "1 validation error detected: Value "
                                "null at 'distanceFunction' failed to satisfy constraint: "
                                "Member must not be null");
    /* Dimensions: a number (DynamoDB truncates 6.7 to 6); a string is a serialization error. */
    json_t *dims = json_object_get(e, "Dimensions");
    if (!dims || json_is_null(dims))
        return ksrv_fail(r, "ValidationException", "1 validation error detected: Value null at "
                         "'dimensions' failed to satisfy constraint: Member must not be null");
    if (!json_is_number(dims))
        return ksrv_fail(r, "SerializationException", "Unexpected value type in payload: "
                         "Dimensions must be a number");
    double dv = json_number_value(dims);
    if (!(dv >= 1) || dv >= (double)KEEL_DB_MAX_DIMENSIONS + 1)
        return ksrv_fail(r, "ValidationException", "One or more parameter values were invalid: "
                         "Dimensions %.0f for vector index %.255s: it must be 1 to %u", dv,
                         v->d.name, KEEL_DB_MAX_DIMENSIONS);
    v->d.dimensions = (uint32_t)dv;
    v->d.distance = strcmp(dist, "COSINE") == 0      ? KEEL_DB_COSINE
                    : strcmp(dist, "EUCLIDEAN") == 0 ? KEEL_DB_EUCLIDEAN
                                                     : KEEL_DB_DOT_PRODUCT;
    v->d.projection = strcmp(ptype, "ALL") == 0         ? KEEL_DB_PROJECT_ALL
                      : strcmp(ptype, "KEYS_ONLY") == 0 ? KEEL_DB_PROJECT_KEYS_ONLY
                                                        : KEEL_DB_PROJECT_INCLUDE;
    if ((v->d.projection == KEEL_DB_PROJECT_INCLUDE) != (nka && json_array_size(nka)))
        return ksrv_fail(r, "ValidationException", "One or more parameter values were invalid: "
                         "NonKeyAttributes must be given with ProjectionType INCLUDE, and only "
                         "with it");
    if (json_array_size(nka) > 20)
        return ksrv_fail(r, "ValidationException", "1 validation error detected: Value at "
                         "'projection.nonKeyAttributes' failed to satisfy constraint: Member "
                         "must have length less than or equal to 20");
    for (size_t i = 0; i < json_array_size(nka); i++) {
        json_t *s = json_array_get(nka, i);
        if (!json_is_string(s))
            return ksrv_fail(r, "SerializationException", "NonKeyAttributes elements must be "
                             "strings");
        v->include[i] = json_string_value(s);
    }
    v->d.include = v->include;
    v->d.ninclude = json_array_size(nka);
    if (schema && (json_array_size(schema) < 1 || json_array_size(schema) > 64))
        return ksrv_fail(r, "ValidationException", "1 validation error detected: Value at "
                         "'searchSchema' failed to satisfy constraint: Member must have length "
                         "%s", json_array_size(schema) < 1 ? "greater than or equal to 1"
                                                           : "less than or equal to 64");
    for (size_t i = 0; i < json_array_size(schema); i++) {
        json_t *s = json_array_get(schema, i);
        const char *kind;
        if (!json_is_object(s))
            return ksrv_fail(r, "SerializationException", "SearchSchema elements must be objects");
        if (!ksrv_get_str(r, s, "AttributeName", true, &v->filters[i]) ||
            !ksrv_get_enum(r, s, "SearchSchemaElementType", kinds, NULL, &kind))
            return false;
        if (!kind)
            return ksrv_fail(r, "ValidationException", "1 validation error detected: Value null "
                             "at 'searchSchema.member.searchSchemaElementType' failed to "
                             "satisfy constraint: Member must not be null");
        v->kinds[i] = strcmp(kind, "HASH") == 0 ? KEEL_DB_HASH : KEEL_DB_INLINE_FILTER;
    }
    v->d.filter_kinds = v->kinds;
    v->d.filter_attributes = v->filters;
    v->d.nfilter = json_array_size(schema);
    return true;
}

bool ksrv_vector_check(ksrv_req *r, json_t *arr) {
    vdef v;
    if (json_array_size(arr) > KEEL_DB_MAX_VECTOR_INDEXES)
        return ksrv_fail(r, "LimitExceededException", "Number of VectorIndexes exceeds per-table "
                         "limit of %u", KEEL_DB_MAX_VECTOR_INDEXES);
    for (size_t i = 0; i < json_array_size(arr); i++)
        if (!parse_vdef(r, json_array_get(arr, i), &v)) return false;
    return true;
}

bool ksrv_vector_create(ksrv_req *r, const char *table, json_t *arr) {
    vdef v;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        if (!parse_vdef(r, json_array_get(arr, i), &v)) return false;
        keel_status st = keel_db_create_vector_index(r->db, table, &v.d);
        if (st != KEEL_OK) return ksrv_fail_status(r, st, table);
    }
    return true;
}

bool ksrv_vector_update(ksrv_req *r, const char *table, json_t *updates) {
    if (json_array_size(updates) != 1)
        return json_array_size(updates)
                   ? ksrv_fail(r, "LimitExceededException", "Subscriber limit exceeded: Only 1 "
                               "vector index can be created or deleted simultaneously per table")
                   : ksrv_fail(r, "ValidationException", "1 validation error detected: Value "
                               "at 'vectorIndexUpdates' failed to satisfy constraint: Member "
                               "must have length greater than or equal to 1");
    json_t *u = json_array_get(updates, 0), *create = NULL, *del = NULL;
    if (!json_is_object(u))
        return ksrv_fail(r, "SerializationException", "VectorIndexUpdates elements must be "
                         "objects");
    if (!ksrv_get_obj(r, u, "Create", false, &create) || !ksrv_get_obj(r, u, "Delete", false, &del))
        return false;
    if ((create != NULL) == (del != NULL))
        return ksrv_fail(r, "ValidationException", "One or more parameter values were invalid: "
                         "a VectorIndexUpdate holds exactly one of Create and Delete");
    if (create) {
        vdef v;
        if (!parse_vdef(r, create, &v)) return false;
        keel_status st = keel_db_create_vector_index(r->db, table, &v.d);
        return st == KEEL_OK || ksrv_fail_status(r, st, table);
    }
    const char *name = NULL;
    if (!ksrv_get_str(r, del, "IndexName", true, &name)) return false;
    keel_status st = keel_db_drop_vector_index(r->db, table, name);
    if (st == KEEL_EVALIDATION)
        return ksrv_fail(r, "ResourceNotFoundException", "Requested resource not found: "
                         "Requested vector index %.255s not found", name);
    return st == KEEL_OK || ksrv_fail_status(r, st, table);
}

/* ---- items with vectors -------------------------------------------------------------------- */

/* `av` as a float32 vector of `dims` elements into `out` (tag 85 around the payload);
 * false (nothing written) when it is not an L of that many finite float32 numbers. */
static bool as_vector(json_t *av, uint32_t dims, kdb_buf *out) {
    json_t *l = json_object_get(av, "L");
    if (json_object_size(av) != 1 || !json_is_array(l) || json_array_size(l) != dims) return false;
    float *f = malloc((size_t)dims * sizeof *f);
    if (!f) return false;
    for (uint32_t i = 0; i < dims; i++) {
        json_t *e = json_array_get(l, i), *n = json_object_get(e, "N");
        char *end;
        const char *t = json_string_value(n);
        double x = t ? strtod(t, &end) : NAN;
        if (json_object_size(e) != 1 || !t || end == t || *end || !isfinite(x) ||
            fabs(x) > 3.4028234663852886e38 || isalpha((unsigned char)*t)) {
            free(f);
            return false;
        }
        f[i] = (float)x;
    }
    uint8_t *le = (uint8_t *)f;     /* the payload is little-endian float32 */
    for (uint32_t i = 0; i < dims; i++) {
        uint32_t u;
        memcpy(&u, &f[i], 4);
        le[4 * i] = (uint8_t)u, le[4 * i + 1] = (uint8_t)(u >> 8);
        le[4 * i + 2] = (uint8_t)(u >> 16), le[4 * i + 3] = (uint8_t)(u >> 24);
    }
    kdb_enc_tag(out, KDB_TAG_F32LE);
    kdb_enc_bytes(out, le, (size_t)dims * 4);
    free(f);
    return true;
}

bool ksrv_put_cbor(ksrv_req *r, const char *table, json_t *m, kdb_buf *out) {
    keel_db_vector_index_info info[KEEL_DB_MAX_VECTOR_INDEXES];
    size_t nv = 0;
    if (!json_is_object(m) ||
        keel_db_list_vector_indexes(r->db, table, info, KEEL_DB_MAX_VECTOR_INDEXES, &nv) != KEEL_OK ||
        nv == 0)
        return ksrv_item_cbor(r, m, out);   /* no vector index (or no table: the put says) */
    out->len = 0;
    out->failed = false;
    kdb_enc_map(out, json_object_size(m));
    keel_status st = KEEL_OK;
    for (void *it = json_object_iter(m); it; it = json_object_iter_next(m, it)) {
        const char *name = json_object_iter_key(it);
        size_t len = json_object_iter_key_len(it);
        json_t *av = json_object_iter_value(it);
        kdb_enc_text(out, name, len);
        bool done = false;
        for (size_t i = 0; !done && i < nv && i < KEEL_DB_MAX_VECTOR_INDEXES; i++)
            if (strlen(info[i].attribute) == len && memcmp(info[i].attribute, name, len) == 0)
                done = as_vector(av, info[i].dimensions, out);
        if (!done && (st = kdb_json_to_value(av, out)) != KEEL_OK) break;
    }
    if (st == KEEL_OK && out->failed) st = keel__fail(KEEL_ENOMEM, "item");
    return st == KEEL_OK ? true : ksrv_fail_status(r, st, NULL);
}

/* ---- DescribeTable ----------------------------------------------------------------------- */

static json_t *names_array(const char *p, size_t n) {
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++, p += strlen(p) + 1) json_array_append_new(a, json_string(p));
    return a;
}

/* SearchSchema: each filter attribute with its element type (the one named `hash` HASH). */
static json_t *search_schema(const char *p, size_t n, const char *hash) {
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++, p += strlen(p) + 1)
        json_array_append_new(a, json_pack("{s:s, s:s}", "AttributeName", p,
                                           "SearchSchemaElementType",
                                           strcmp(p, hash) == 0 ? "HASH" : "INLINE_FILTER"));
    return a;
}

json_t *ksrv_vector_describe(ksrv_req *r, const char *table, const char *arn) {
    static const char *const dists[] = {"COSINE", "EUCLIDEAN", "DOT_PRODUCT"};
    static const char *const projs[] = {"ALL", "KEYS_ONLY", "INCLUDE"};
    keel_db_vector_index_info info[KEEL_DB_MAX_VECTOR_INDEXES];
    size_t n = 0;
    if (keel_db_list_vector_indexes(r->db, table, info, KEEL_DB_MAX_VECTOR_INDEXES, &n) != KEEL_OK ||
        n == 0)
        return NULL;
    json_t *arr = json_array();
    for (size_t i = 0; i < n && i < KEEL_DB_MAX_VECTOR_INDEXES; i++) {
        const keel_db_vector_index_info *x = &info[i];
        char *filters = NULL, *include = NULL, hash[256];
        size_t nf = 0, ni = 0;
        if (kdb_vec_schema(r->db, table, x->name, &filters, &nf, &include, &ni, hash) != KEEL_OK)
            continue;
        json_t *proj = json_pack("{s:s}", "ProjectionType", projs[x->projection]);
        if (ni) json_object_set_new(proj, "NonKeyAttributes", names_array(include, ni));
        json_t *d = json_pack("{s:s, s:{s:s}, s:I, s:s, s:o, s:s, s:b, s:I, s:I}",
                              "IndexName", x->name, "VectorAttribute", "AttributeName",
                              x->attribute, "Dimensions", (json_int_t)x->dimensions,
                              "DistanceFunction", dists[x->distance], "Projection", proj,
                              "IndexStatus", "ACTIVE", "Backfilling", 0, "IndexSizeBytes",
                              (json_int_t)(x->items * 4u * x->dimensions), "ItemCount",
                              (json_int_t)x->items);
        if (d) {
            json_object_set_new(d, "IndexArn", json_sprintf("%s/index/%s", arn, x->name));
            if (nf) json_object_set_new(d, "SearchSchema", search_schema(filters, nf, hash));
            json_array_append_new(arr, d);
        }
        free(filters);
        free(include);
    }
    return arr;
}

/* ---- SearchConditionExpression ------------------------------------------------------------ */

typedef struct scan {
    const char *p;
} scan;

static void skip_ws(scan *s) {
    while (*s->p && isspace((unsigned char)*s->p)) s->p++;
}

/* One operand: a name, a #name or a :value; its text in [*b, *e). */
static char operand(scan *s, const char **b, const char **e) {
    skip_ws(s);
    *b = s->p;
    char kind = *s->p == '#' ? '#' : *s->p == ':' ? ':' : 'n';
    if (kind != 'n') s->p++;
    while (isalnum((unsigned char)*s->p) || *s->p == '_' || *s->p == '-') s->p++;
    *e = s->p;
    if (*e == *b + (kind != 'n')) return 0;
    return kind;
}

static bool in_schema(const char *list, size_t n, const char *name, size_t len) {
    for (size_t i = 0; i < n; i++, list += strlen(list) + 1)
        if (strlen(list) == len && memcmp(list, name, len) == 0) return true;
    return false;
}

/* Check the expression against DynamoDB's subset and the index's search attributes. */
static bool check_condition(ksrv_req *r, const char *expr, json_t *names, const char *index,
                            const char *filters, size_t nf) {
    scan s = {expr};
    for (int term = 0;; term++) {
        const char *b[2], *e[2];
        char k0 = operand(&s, &b[0], &e[0]);
        skip_ws(&s);
        bool eq = *s.p == '=';
        if (eq) s.p++;
        char k1 = eq ? operand(&s, &b[1], &e[1]) : 0;
        if (!k0 || !eq || !k1 || (k0 == ':') == (k1 == ':'))
            return ksrv_fail(r, "ValidationException", "Invalid SearchConditionExpression: only "
                             "conditions of the form attribute = :value joined by AND are "
                             "supported (near position %d)", (int)(s.p - expr));
        int pi = k0 == ':' ? 1 : 0;
        const char *name = b[pi];
        size_t len = (size_t)(e[pi] - b[pi]);
        char ph[256];
        if (*name == '#') {
            snprintf(ph, sizeof ph, "%.*s", (int)len, name);
            json_t *v = json_object_get(names, ph);
            if (!json_is_string(v))
                return ksrv_fail(r, "ValidationException", "Value provided in "
                                 "ExpressionAttributeNames unused in expressions or undefined: "
                                 "%s", ph);
            name = json_string_value(v);
            len = strlen(name);
        }
        if (!in_schema(filters, nf, name, len))
            return ksrv_fail(r, "ValidationException", "Invalid SearchConditionExpression: "
                             "attribute %.*s is not in the SearchSchema of vector index %.255s",
                             (int)(len > 255 ? 255 : len), name, index);
        skip_ws(&s);
        if (!*s.p) return true;
        if (strncasecmp(s.p, "AND", 3) != 0 || !isspace((unsigned char)s.p[3]))
            return ksrv_fail(r, "ValidationException", "Invalid SearchConditionExpression: only "
                             "conditions of the form attribute = :value joined by AND are "
                             "supported (near position %d)", (int)(s.p - expr));
        s.p += 3;
        (void)term;
    }
}

/* ---- SearchVectors ------------------------------------------------------------------------ */

static bool search_vector(ksrv_req *r, json_t *arr, float **out, size_t *n) {
    size_t d = json_array_size(arr);
    if (d < 1 || d > KEEL_DB_MAX_DIMENSIONS)
        return ksrv_fail(r, "ValidationException", "1 validation error detected: Value at "
                         "'searchVector' failed to satisfy constraint: Member must have length "
                         "%s", d < 1 ? "greater than or equal to 1" : "less than or equal to 4096");
    float *q = malloc(d * sizeof *q);
    if (!q) return ksrv_fail(r, "InternalServerError", "out of memory");
    for (size_t i = 0; i < d; i++) {
        json_t *e = json_array_get(arr, i);
        if (!json_is_object(e)) {
            free(q);
            return ksrv_fail(r, "SerializationException", "Unexpected value type in payload: "
                             "SearchVector elements must be AttributeValues ({\"N\": \"...\"})");
        }
        json_t *nv = json_object_get(e, "N");
        if (json_object_size(e) != 1 || !json_is_string(nv)) {
            free(q);
            return ksrv_fail(r, "ValidationException", "One or more parameter values were "
                             "invalid: SearchVector element %zu is not a number (N)", i);
        }
        const char *t = json_string_value(nv);
        char *end;
        errno = 0;
        double x = strtod(t, &end);
        if (end == t || *end || !isfinite(x) || fabs(x) > 3.4028234663852886e38 ||
            isalpha((unsigned char)*t)) {
            free(q);
            return ksrv_fail(r, "ValidationException", "One or more parameter values were "
                             "invalid: SearchVector element %zu: the number %.64s is not a "
                             "finite float32", i, t);
        }
        q[i] = (float)x;
    }
    *out = q;
    *n = d;
    return true;
}

bool ksrv_search_vectors(ksrv_req *r) {
    const char *table, *index = NULL, *cond = NULL, *proj = NULL;
    json_t *vec = NULL;
    long long topk = 0;
    bool has_topk;
    int cap;
    if (!ksrv_table_name(r, r->in, &table) || !ksrv_get_str(r, r->in, "IndexName", true, &index) ||
        !ksrv_get_arr(r, r->in, "SearchVector", true, &vec) ||
        !ksrv_get_int(r, r->in, "TopK", &topk, &has_topk) ||
        !ksrv_get_str(r, r->in, "SearchConditionExpression", false, &cond) ||
        !ksrv_get_str(r, r->in, "ProjectionExpression", false, &proj) ||
        !ksrv_capacity_mode(r, r->in, &cap))
        return false;
    if (!has_topk)
        return ksrv_fail(r, "ValidationException", "1 validation error detected: Value null at "
                         "'topK' failed to satisfy constraint: Member must not be null");
    if (topk < 1 || topk > KEEL_DB_MAX_TOPK)
        return ksrv_fail(r, "ValidationException", "1 validation error detected: Value '%lld' "
                         "at 'topK' failed to satisfy constraint: Member must have value %s",
                         topk, topk < 1 ? "greater than or equal to 1"
                                        : "less than or equal to 100");
    char *filters = NULL, *include = NULL;
    size_t nf = 0, ni = 0;
    keel_status st = kdb_vec_schema(r->db, table, index, &filters, &nf, &include, &ni, NULL);
    free(include);
    if (st == KEEL_EVALIDATION)
        return ksrv_fail(r, "ResourceNotFoundException", "Requested resource not found: "
                         "Requested vector index %.255s not found on table %.255s", index, table);
    if (st != KEEL_OK) return ksrv_fail_status(r, st, table);
    bool ok = !cond || check_condition(r, cond, json_object_get(r->in, "ExpressionAttributeNames"),
                                       index, filters, nf);
    free(filters);
    if (!ok) return false;
    float *q = NULL;
    size_t dims = 0;
    if (!search_vector(r, vec, &q, &dims)) return false;
    ksrv_exprs e;
    if (!ksrv_exprs_get(r, r->in, &e)) {
        free(q);
        return false;
    }
    keel_db_search_opts o = KEEL_DB_SEARCH_OPTS_INIT;
    o.filter = cond;
    o.projection = proj;
    if (e.has_names) o.names = e.names.p, o.names_len = e.names.len;
    if (e.has_values) o.values = e.values.p, o.values_len = e.values.len;
    keel_db_hit *hits = calloc((size_t)topk, sizeof *hits);
    size_t n = 0;
    st = hits ? keel_db_search(r->db, table, index, q, dims, (uint32_t)topk, &o, hits, &n)
              : KEEL_ENOMEM;
    free(q);
    ksrv_exprs_free(&e);
    if (st != KEEL_OK) {
        free(hits);
        if (st == KEEL_ESYNTAX)
            return ksrv_fail(r, "ValidationException", "Invalid expression: %s", keel_errmsg());
        return ksrv_fail_status(r, st, table);
    }
    json_t *out = json_array();
    size_t bytes = 0;
    for (size_t i = 0; ok && i < n; i++) {
        json_t *it = ksrv_item_json(r, hits[i].item.data, hits[i].item.len);
        if (!it) {
            ok = false;
            break;
        }
        bytes += hits[i].item.len;
        json_array_append_new(out, json_pack("{s:o, s:f}", "Item", it, "Score",
                                             (double)hits[i].score));
    }
    keel_db_hits_free(hits, n);
    free(hits);
    if (!ok) {
        json_decref(out);
        return false;
    }
    json_object_set_new(r->out, "SearchResults", out);
    if (cap)
        json_object_set_new(r->out, "ConsumedCapacity",
                            json_pack("{s:f}", "VectorSearchRequestBytes",
                                      (double)(dims * 4 + bytes)));
    return true;
}
