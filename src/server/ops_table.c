/*
 * ops_table.c: CreateTable, DeleteTable, DescribeTable, ListTables, UpdateTable and the TTL
 * operations.
 *
 * A table has a key schema and up to 5 local and 20 global secondary indexes (the
 * engine's, keel_db_create_table_ex). AttributeDefinitions types every key attribute of the
 * table and its indexes and may define nothing else, as DynamoDB requires; the engine never
 * sees it. BillingMode and ProvisionedThroughput are accepted and ignored (DynamoDB's
 * contradictions between them are refused): every table and global index is described as
 * on-demand. A table is ACTIVE as soon as it exists; a global
 * index added by UpdateTable is backfilled before the response (the engine does it
 * synchronously), so it is described CREATING only if a crash interrupted its backfill.
 * Vector indexes (VectorIndexes, VectorIndexUpdates) are ops_vector.c's.
 * Descriptions come from keel_db_get_stats (about 70 KB: malloc'd per request).
 *
 * TTL: UpdateTimeToLive sets or clears the engine's TTL attribute at once (no ENABLING or
 * DISABLING state, no once-an-hour limit); DynamoDB's refusals (already enabled, already
 * disabled, another attribute) are kept so that code which handles them behaves the same.
 */
#include "server/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *type_name(keel_db_keytype t) {
    return t == KEEL_DB_KEY_S ? "S" : t == KEEL_DB_KEY_N ? "N" : "B";
}

static json_t *key_elem(const char *name, const char *kind) {
    return json_pack("{s:s, s:s}", "AttributeName", name, "KeyType", kind);
}

static json_t *attr_def(const char *name, keel_db_keytype t) {
    return json_pack("{s:s, s:s}", "AttributeName", name, "AttributeType", type_name(t));
}

/* A table's stats (about 70 KB, malloc'd: free() it), or NULL after setting the error. */
static keel_db_table_stats *load_stats(ksrv_req *r, const char *name) {
    keel_db_table_stats *s = malloc(sizeof *s);
    if (!s) {
        ksrv_fail(r, "InternalServerError", "out of memory");
        return NULL;
    }
    keel_status st = keel_db_get_stats(r->db, name, s);
    if (st != KEEL_OK) {
        free(s);
        ksrv_fail_status(r, st, name);
        return NULL;
    }
    return s;
}

static void add_def(json_t *ad, const char *name, keel_db_keytype t) {
    size_t i;
    json_t *e;
    json_array_foreach(ad, i, e) {
        if (strcmp(json_string_value(json_object_get(e, "AttributeName")), name) == 0) return;
    }
    json_array_append_new(ad, attr_def(name, t));
}

static json_t *zero_throughput(void) {
    return json_pack("{s:i, s:i, s:i}", "NumberOfDecreasesToday", 0, "ReadCapacityUnits", 0,
                     "WriteCapacityUnits", 0);
}

/* DynamoDB's description of index x of the table whose ARN is `arn`; its key attributes
 * are added to `ad`. */
static json_t *describe_index(const keel_db_index_info *x, const char *arn, json_t *ad) {
    json_t *ks = json_array();
    json_array_append_new(ks, key_elem(x->pk_name, "HASH"));
    add_def(ad, x->pk_name, x->pk_type);
    if (x->sk_type != KEEL_DB_KEY_NONE) {
        json_array_append_new(ks, key_elem(x->sk_name, "RANGE"));
        add_def(ad, x->sk_name, x->sk_type);
    }
    json_t *proj = json_object();
    json_object_set_new(proj, "ProjectionType",
                        json_string(x->projection == KEEL_DB_PROJECT_ALL ? "ALL"
                                    : x->projection == KEEL_DB_PROJECT_KEYS_ONLY ? "KEYS_ONLY"
                                                                                 : "INCLUDE"));
    if (x->projection == KEEL_DB_PROJECT_INCLUDE) {
        json_t *nka = json_array();
        const char *p = x->include, *end = x->include + sizeof x->include;
        for (size_t i = 0; i < x->ninclude && p < end && *p; i++) {
            size_t n = strnlen(p, (size_t)(end - p));
            json_array_append_new(nka, json_stringn(p, n));
            p += n + 1;
        }
        json_object_set_new(proj, "NonKeyAttributes", nka);
    }
    json_t *d = json_object();
    json_object_set_new(d, "IndexName", json_string(x->name));
    json_object_set_new(d, "KeySchema", ks);
    json_object_set_new(d, "Projection", proj);
    if (!x->local) {
        json_object_set_new(d, "IndexStatus", json_string(x->creating ? "CREATING" : "ACTIVE"));
        if (x->creating) json_object_set_new(d, "Backfilling", json_true());
        json_object_set_new(d, "ProvisionedThroughput", zero_throughput());
    }
    json_object_set_new(d, "IndexSizeBytes", json_integer((json_int_t)x->bytes));
    json_object_set_new(d, "ItemCount", json_integer((json_int_t)x->items));
    json_object_set_new(d, "IndexArn", json_sprintf("%s/index/%s", arn, x->name));
    return d;
}

/* DynamoDB's TableDescription of a keel table (with its indexes when `stats`). */
static json_t *describe(ksrv_req *r, const keel_db_table_info *t,
                        const keel_db_table_stats *stats, const char *status) {
    char arn[512];
    snprintf(arn, sizeof arn, "arn:aws:dynamodb:%s:123456789012:table/%s", r->region, t->name);
    json_t *ks = json_array(), *ad = json_array();
    json_array_append_new(ks, key_elem(t->pk_name, "HASH"));
    json_array_append_new(ad, attr_def(t->pk_name, t->pk_type));
    if (t->sk_type != KEEL_DB_KEY_NONE) {
        json_array_append_new(ks, key_elem(t->sk_name, "RANGE"));
        json_array_append_new(ad, attr_def(t->sk_name, t->sk_type));
    }
    json_t *d = json_object();
    json_object_set_new(d, "TableName", json_string(t->name));
    json_object_set_new(d, "TableArn", json_string(arn));
    json_object_set_new(d, "TableId", json_sprintf("%08x-0000-4000-8000-%012llx",
                                                   (unsigned)t->created,
                                                   (unsigned long long)t->created));
    json_object_set_new(d, "TableStatus", json_string(status));
    json_object_set_new(d, "KeySchema", ks);
    json_object_set_new(d, "AttributeDefinitions", ad);
    json_object_set_new(d, "CreationDateTime", json_real((double)t->created));
    json_object_set_new(d, "ItemCount", json_integer((json_int_t)t->items));
    json_object_set_new(d, "TableSizeBytes", json_integer((json_int_t)t->bytes));
    json_object_set_new(d, "ProvisionedThroughput",
                        json_pack("{s:i, s:i, s:i}", "NumberOfDecreasesToday", 0,
                                  "ReadCapacityUnits", 0, "WriteCapacityUnits", 0));
    json_t *gsis = json_array(), *lsis = json_array();
    for (size_t i = 0; stats && i < stats->nindexes; i++) {
        const keel_db_index_info *x = &stats->indexes[i];
        json_array_append_new(x->local ? lsis : gsis, describe_index(x, arn, ad));
    }
    if (json_array_size(lsis)) json_object_set(d, "LocalSecondaryIndexes", lsis);
    if (json_array_size(gsis)) json_object_set(d, "GlobalSecondaryIndexes", gsis);
    json_decref(lsis);
    json_decref(gsis);
    json_t *vix = ksrv_vector_describe(r, t->name, arn);
    if (vix) json_object_set_new(d, "VectorIndexes", vix);
    json_object_set_new(d, "BillingModeSummary",
                        json_pack("{s:s, s:f}", "BillingMode", "PAY_PER_REQUEST",
                                  "LastUpdateToPayPerRequestDateTime", (double)t->created));
    json_object_set_new(d, "DeletionProtectionEnabled", json_false());
    return d;
}

/* The contradictions DynamoDB refuses: on-demand with a throughput, or PROVISIONED named
 * without one. (BillingMode left out with no throughput stays accepted: keel ignores both.) */
static bool billing_consistent(ksrv_req *r, const char *mode) {
    bool pt = json_object_get(r->in, "ProvisionedThroughput") != NULL;
    if (strcmp(mode, "PAY_PER_REQUEST") == 0 && pt)
        return ksrv_fail(r, "ValidationException", "One or more parameter values were invalid: "
                         "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified "
                         "when BillingMode is PAY_PER_REQUEST");
    if (strcmp(mode, "PROVISIONED") == 0 && !pt && json_object_get(r->in, "BillingMode"))
        return ksrv_fail(r, "ValidationException", "One or more parameter values were invalid: "
                         "ReadCapacityUnits and WriteCapacityUnits must both be specified when "
                         "BillingMode is PROVISIONED");
    return true;
}

/* Key attribute names are at most 255 bytes; DynamoDB checks it before anything else
 * about the schema. */
static bool key_names_short(ksrv_req *r, json_t *list, const char *where) {
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *n = json_object_get(json_array_get(list, i), "AttributeName");
        if (json_is_string(n) && json_string_length(n) > 255)
            return ksrv_fail(r, "ValidationException", "1 validation error detected: Value at "
                             "'%s.%zu.member.attributeName' failed to satisfy constraint: "
                             "Member must have length less than or equal to 255", where, i + 1);
    }
    return true;
}

/* AttributeDefinitions: names and types, every key of the table and of its indexes. */
#define MAX_DEFS (2 + 2 * (KEEL_DB_MAX_LSI + KEEL_DB_MAX_GSI))
typedef struct attr_defs {
    size_t n;
    const char *name[MAX_DEFS];
    keel_db_keytype type[MAX_DEFS];
    bool used[MAX_DEFS];
} attr_defs;

static bool parse_defs(ksrv_req *r, json_t *ad, attr_defs *d) {
    memset(d, 0, sizeof *d);
    if (json_array_size(ad) > MAX_DEFS)
        return ksrv_fail(r, "ValidationException", "One or more parameter values were invalid: "
                         "Some AttributeDefinitions are not used (%zu defined)",
                         json_array_size(ad));
    for (size_t i = 0; i < json_array_size(ad); i++) {
        json_t *e = json_array_get(ad, i);
        const char *name = NULL, *t = NULL;
        if (!json_is_object(e))
            return ksrv_fail(r, "SerializationException",
                             "AttributeDefinitions elements must be objects");
        if (!ksrv_get_str(r, e, "AttributeName", true, &name) ||
            !ksrv_get_str(r, e, "AttributeType", true, &t))
            return false;
        if (strcmp(t, "S") && strcmp(t, "N") && strcmp(t, "B"))
            return ksrv_fail(r, "ValidationException", "1 validation error detected: Value "
                             "'%.64s' at 'attributeDefinitions.%zu.member.attributeType' "
                             "failed to satisfy constraint: Member must satisfy enum value "
                             "set: [B, N, S]", t, i + 1);
        for (size_t j = 0; j < d->n; j++)
            if (strcmp(d->name[j], name) == 0)
                return ksrv_fail(r, "ValidationException", "Cannot have two attributes with the "
                                 "same name: Duplicate AttributeName in AttributeDefinitions: "
                                 "%.255s", name);
        d->name[d->n] = name;
        d->type[d->n++] = (keel_db_keytype)t[0];
    }
    return true;
}

/* The type of a defined attribute, marking it used; KEEL_DB_KEY_NONE when undefined. */
static keel_db_keytype def_type(attr_defs *d, const char *name) {
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->name[i], name) == 0) {
            d->used[i] = true;
            return d->type[i];
        }
    return KEEL_DB_KEY_NONE;
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "a, b, c" of the defined attributes (used only: `used`) in byte order of their names,
 * as DynamoDB lists them in its messages. */
static void def_list(const attr_defs *d, bool used_only, char *buf, size_t cap) {
    const char *names[MAX_DEFS];
    size_t n = 0, at = 0;
    for (size_t i = 0; i < d->n; i++)
        if (!used_only || d->used[i]) names[n++] = d->name[i];
    qsort(names, n, sizeof names[0], by_name);
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        int k = snprintf(buf + at, cap - at, "%s%.64s", at ? ", " : "", names[i]);
        if (k < 0 || (size_t)k >= cap - at) break;
        at += (size_t)k;
    }
}

/* A KeySchema (of the table, path "keySchema", or of an index): one HASH then an optional
 * RANGE element; names[1] is NULL without a RANGE. */
static bool parse_keys(ksrv_req *r, json_t *ks, const char *path, const char *names[2]) {
    size_t nk = json_array_size(ks);
    names[0] = names[1] = NULL;
    if (nk < 1 || nk > 2)
        return ksrv_fail(r, "ValidationException", "1 validation error detected: Value '%zu' at "
                         "'%s' failed to satisfy constraint: Member must have length "
                         "%s", nk, path, nk < 1 ? "greater than or equal to 1"
                                                : "less than or equal to 2");
    for (size_t i = 0; i < nk; i++) {
        json_t *e = json_array_get(ks, i);
        const char *name = NULL, *kind = NULL;
        if (!json_is_object(e))
            return ksrv_fail(r, "SerializationException", "KeySchema elements must be objects");
        if (!ksrv_get_str(r, e, "AttributeName", true, &name) ||
            !ksrv_get_str(r, e, "KeyType", true, &kind))
            return false;
        bool hash = strcmp(kind, "HASH") == 0, range = strcmp(kind, "RANGE") == 0;
        if (!hash && !range)
            return ksrv_fail(r, "ValidationException", "1 validation error detected: Value "
                             "'%.64s' at '%s.%zu.member.keyType' failed to satisfy "
                             "constraint: Member must satisfy enum value set: [HASH, RANGE]",
                             kind, path, i + 1);
        if ((i == 0 && !hash) || (i == 1 && !range))
            return ksrv_fail(r, "ValidationException", "Invalid KeySchema: %s",
                             i == 0 ? "The first KeySchemaElement is not a HASH key type"
                                    : "The second KeySchemaElement is not a RANGE key type");
        names[i] = name;
    }
    if (nk == 2 && strcmp(names[0], names[1]) == 0)
        return ksrv_fail(r, "ValidationException", "Both the Hash Key and the Range Key element "
                         "in the KeySchema have the same name");
    return true;
}

/* DynamoDB's refusal of a KeySchema (the table's or an index's) naming an attribute that
 * AttributeDefinitions does not define. */
static bool keys_undefined(ksrv_req *r, const attr_defs *d, const char *names[2]) {
    char defs[512];
    def_list(d, false, defs, sizeof defs);
    return ksrv_fail(r, "ValidationException", "One or more parameter values were invalid: "
                     "Some index key attributes are not defined in AttributeDefinitions. "
                     "Keys: [%.255s%s%.255s], AttributeDefinitions: [%s]", names[0],
                     names[1] ? ", " : "", names[1] ? names[1] : "", defs);
}

/* The table's KeySchema as a keel schema, its attributes typed by `d`. */
static bool parse_schema(ksrv_req *r, json_t *ks, attr_defs *d, bool indexes,
                         keel_db_schema *out) {
    const char *names[2];
    memset(out, 0, sizeof *out);
    if (!parse_keys(r, ks, "keySchema", names)) return false;
    size_t nk = names[1] ? 2 : 1;
    keel_db_keytype t0 = def_type(d, names[0]);
    keel_db_keytype t1 = names[1] ? def_type(d, names[1]) : KEEL_DB_KEY_NONE;
    bool undefined = t0 == KEEL_DB_KEY_NONE || (names[1] && t1 == KEEL_DB_KEY_NONE);
    /* DynamoDB's three words for it: fewer definitions than keys, a key not defined, more
     * definitions than keys (with indexes, all_used says which are not used) */
    if (undefined && !indexes && d->n < nk)
        return ksrv_fail(r, "ValidationException", "Invalid KeySchema: Some index key attribute "
                         "have no definition");
    if (undefined) return keys_undefined(r, d, names);
    if (!indexes && d->n != nk)
        return ksrv_fail(r, "ValidationException", "One or more parameter values were invalid: "
                         "Number of attributes in KeySchema does not exactly match number of "
                         "attributes defined in AttributeDefinitions");
    out->pk_name = names[0];
    out->pk_type = t0;
    out->sk_name = names[1];
    out->sk_type = t1;
    return true;
}

/* One entry of GlobalSecondaryIndexes / LocalSecondaryIndexes / a Create update as a keel
 * index definition (strings borrowed from the request; *include malloc'd, free() it).
 * `where` is the entry's place in DynamoDB's words ("globalSecondaryIndexes.2.member"). */
static bool parse_index(ksrv_req *r, json_t *e, bool local, const char *where,
                        const keel_db_schema *table, attr_defs *d, keel_db_index_def *x,
                        const char ***include) {
    const char *name = NULL, *kind = NULL, *names[2];
    json_t *ks = NULL, *proj = NULL, *nka = NULL;
    static const char *const kinds[] = {"ALL", "KEYS_ONLY", "INCLUDE", NULL};
    memset(x, 0, sizeof *x);
    *include = NULL;
    if (!json_is_object(e))
        return ksrv_fail(r, "SerializationException", "index definitions must be objects");
    if (!ksrv_get_str(r, e, "IndexName", true, &name) ||
        !ksrv_get_arr(r, e, "KeySchema", true, &ks) ||
        !ksrv_get_obj(r, e, "Projection", true, &proj) ||
        !ksrv_get_enum(r, proj, "ProjectionType", kinds, NULL, &kind) ||
        !ksrv_get_arr(r, proj, "NonKeyAttributes", false, &nka) ||
        !parse_keys(r, ks, "keySchema", names))
        return false;
    size_t nlen = strlen(name);
    if (nlen < 3 || nlen > 255)
        return ksrv_fail(r, "ValidationException", "1 validation error detected: Value '%.255s' "
                         "at '%s.indexName' failed to satisfy constraint: Member must have "
                         "length %s", name, where, nlen < 3 ? "greater than or equal to 3"
                                                            : "less than or equal to 255");
    if (!kind)
        return ksrv_fail(r, "ValidationException", "One or more parameter values were invalid: "
                         "Unknown ProjectionType: null");
    keel_db_keytype t0 = def_type(d, names[0]);
    keel_db_keytype t1 = names[1] ? def_type(d, names[1]) : KEEL_DB_KEY_NONE;
    if (t0 == KEEL_DB_KEY_NONE || (names[1] && t1 == KEEL_DB_KEY_NONE))
        return keys_undefined(r, d, names);
    if (local && strcmp(names[0], table->pk_name))
        return ksrv_fail(r, "ValidationException", "One or more parameter values were invalid: "
                         "Index KeySchema does not have the same leading hash key as table "
                         "KeySchema for index: %.255s. index hash key: %.255s, table hash key: "
                         "%.255s", name, names[0], table->pk_name);
    if (local && (!names[1] || table->sk_type == KEEL_DB_KEY_NONE))
        return ksrv_fail(r, "ValidationException", "One or more parameter values were invalid: "
                         "%s", names[1] ? "Table KeySchema does not have a range key, which is "
                         "required when specifying a LocalSecondaryIndex"
                                        : "Index KeySchema must have a range key for a "
                         "LocalSecondaryIndex");
    bool inc = strcmp(kind, "INCLUDE") == 0;
    if (nka && !inc)
        return ksrv_fail(r, "ValidationException", "One or more parameter values were invalid: "
                         "ProjectionType is %s, but NonKeyAttributes is specified", kind);
    if (inc && !json_array_size(nka))
        return ksrv_fail(r, "ValidationException", "One or more parameter values were invalid: "
                         "NonKeyAttributes must not be empty when ProjectionType is INCLUDE");
    size_t ni = json_array_size(nka);
    if (ni > KEEL_DB_MAX_INCLUDE)
        return ksrv_fail(r, "ValidationException", "One or more parameter values were invalid: "
                         "cumulative size of NonKeyAttributes exceeds %u", KEEL_DB_MAX_INCLUDE);
    if (ni && !(*include = malloc(ni * sizeof **include)))
        return ksrv_fail(r, "InternalServerError", "out of memory");
    for (size_t i = 0; i < ni; i++) {
        const char *a = json_string_value(json_array_get(nka, i));
        if (!a)
            return ksrv_fail(r, "SerializationException", "NonKeyAttributes must be strings");
        (*include)[i] = a;
    }
    x->name = name;
    x->local = local;
    x->pk_name = names[0];
    x->pk_type = t0;
    x->sk_name = names[1];
    x->sk_type = t1;
    x->projection = inc ? KEEL_DB_PROJECT_INCLUDE
                  : strcmp(kind, "KEYS_ONLY") == 0 ? KEEL_DB_PROJECT_KEYS_ONLY
                                                   : KEEL_DB_PROJECT_ALL;
    x->include = *include;
    x->ninclude = ni;
    return true;
}

/* Every attribute defined must be a key of the table or of an index. */
static bool all_used(ksrv_req *r, const attr_defs *d) {
    for (size_t i = 0; i < d->n; i++)
        if (!d->used[i]) {
            char defs[512], used[512];
            def_list(d, false, defs, sizeof defs);
            def_list(d, true, used, sizeof used);
            return ksrv_fail(r, "ValidationException", "One or more parameter values were "
                             "invalid: Some AttributeDefinitions are not used. "
                             "AttributeDefinitions: [%s], keys used: [%s]", defs, used);
        }
    return true;
}

/* The table's description after a change (with its indexes): into r->out[member]. */
static bool respond(ksrv_req *r, const char *name, const char *member, const char *status) {
    keel_db_table_info info;
    keel_status st = keel_db_describe_table(r->db, name, &info);
    if (st != KEEL_OK) return ksrv_fail_status(r, st, name);
    keel_db_table_stats *stats = load_stats(r, name);
    if (!stats) return false;
    json_object_set_new(r->out, member, describe(r, &info, stats, status));
    free(stats);
    return true;
}

bool ksrv_create_table(ksrv_req *r) {
    const char *name;
    json_t *ks = NULL, *ad = NULL, *gsi = NULL, *lsi = NULL, *vix = NULL;
    if (!ksrv_table_name(r, r->in, &name) ||
        !ksrv_get_arr(r, r->in, "VectorIndexes", false, &vix) ||
        !ksrv_get_arr(r, r->in, "KeySchema", true, &ks) ||
        !ksrv_get_arr(r, r->in, "AttributeDefinitions", true, &ad) ||
        !ksrv_get_arr(r, r->in, "GlobalSecondaryIndexes", false, &gsi) ||
        !ksrv_get_arr(r, r->in, "LocalSecondaryIndexes", false, &lsi))
        return false;
    static const char *const modes[] = {"PROVISIONED", "PAY_PER_REQUEST", NULL};
    const char *mode;
    if (!ksrv_get_enum(r, r->in, "BillingMode", modes, "PROVISIONED", &mode)) return false;
    if (!billing_consistent(r, mode) || !key_names_short(r, ks, "keySchema") ||
        !key_names_short(r, ad, "attributeDefinitions"))
        return false;
    for (size_t i = 0; i < json_array_size(gsi) + json_array_size(lsi); i++) {
        size_t ng0 = json_array_size(gsi);
        json_t *x = json_array_get(i < ng0 ? gsi : lsi, i < ng0 ? i : i - ng0);
        if (json_is_object(x) && !key_names_short(r, json_object_get(x, "KeySchema"),
                                                  i < ng0 ? "globalSecondaryIndexes.keySchema"
                                                          : "localSecondaryIndexes.keySchema"))
            return false;
    }
    size_t nl = json_array_size(lsi), ng = json_array_size(gsi);
    if ((lsi && !nl) || (gsi && !ng))
        return ksrv_fail(r, "ValidationException", "One or more parameter values were invalid: "
                         "List of %s is empty", lsi && !nl ? "LocalSecondaryIndexes"
                                                           : "GlobalSecondaryIndexes");
    if (nl > KEEL_DB_MAX_LSI || ng > KEEL_DB_MAX_GSI)
        return ksrv_fail(r, "ValidationException", "One or more parameter values were invalid: "
                         "Number of %s exceeds per-table limit of %u",
                         nl > KEEL_DB_MAX_LSI ? "LocalSecondaryIndexes" : "GlobalSecondaryIndexes",
                         nl > KEEL_DB_MAX_LSI ? KEEL_DB_MAX_LSI : KEEL_DB_MAX_GSI);
    attr_defs defs;
    keel_db_schema schema;
    if (!parse_defs(r, ad, &defs) || !parse_schema(r, ks, &defs, nl + ng > 0, &schema))
        return false;
    keel_db_index_def idx[KEEL_DB_MAX_LSI + KEEL_DB_MAX_GSI];
    const char **inc[KEEL_DB_MAX_LSI + KEEL_DB_MAX_GSI] = {NULL};
    size_t n = 0;
    bool ok = true;
    for (size_t i = 0; ok && i < nl + ng; i++, n++) {
        char where[64];
        snprintf(where, sizeof where, "%s.%zu.member",
                 i < nl ? "localSecondaryIndexes" : "globalSecondaryIndexes",
                 (i < nl ? i : i - nl) + 1);
        ok = parse_index(r, json_array_get(i < nl ? lsi : gsi, i < nl ? i : i - nl), i < nl,
                         where, &schema, &defs, &idx[i], &inc[i]);
    }
    if (ok) ok = all_used(r, &defs);
    if (ok && vix) ok = ksrv_vector_check(r, vix);
    if (ok) {
        keel_status st = keel_db_create_table_ex(r->db, name, &schema, idx, n);
        ok = st == KEEL_OK || ksrv_fail_status(r, st, name);
        /* the vector indexes: all of them, or no table */
        if (ok && vix && !ksrv_vector_create(r, name, vix)) {
            ok = false;
            keel_db_delete_table(r->db, name);
        }
        if (ok) ok = respond(r, name, "TableDescription", "ACTIVE");
    }
    for (size_t i = 0; i < n; i++) free(inc[i]);
    return ok;
}

bool ksrv_delete_table(ksrv_req *r) {
    const char *name;
    if (!ksrv_table_name(r, r->in, &name)) return false;
    keel_db_table_info info;
    keel_status st = keel_db_describe_table(r->db, name, &info);
    if (st != KEEL_OK) return ksrv_fail_status(r, st, name);
    keel_db_table_stats *stats = load_stats(r, name);
    if (!stats) return false;
    if ((st = keel_db_delete_table(r->db, name)) != KEEL_OK) {
        free(stats);
        return ksrv_fail_status(r, st, name);
    }
    /* DynamoDB's DeleteTable answer leaves out the schema, the indexes and the creation time */
    json_t *d = describe(r, &info, stats, "DELETING");
    free(stats);
    static const char *const gone[] = {"KeySchema", "AttributeDefinitions", "CreationDateTime",
                                       "LocalSecondaryIndexes", "GlobalSecondaryIndexes"};
    for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++) json_object_del(d, gone[i]);
    json_object_set_new(r->out, "TableDescription", d);
    return true;
}

bool ksrv_describe_table(ksrv_req *r) {
    const char *name;
    if (!ksrv_table_name(r, r->in, &name)) return false;
    return respond(r, name, "Table", "ACTIVE");
}

bool ksrv_list_tables(ksrv_req *r) {
    const char *start = NULL;
    long long limit = 100;
    bool has_limit;
    if (!ksrv_get_str(r, r->in, "ExclusiveStartTableName", false, &start) ||
        !ksrv_get_int(r, r->in, "Limit", &limit, &has_limit))
        return false;
    if (has_limit && (limit < 1 || limit > 100))
        return ksrv_fail(r, "ValidationException", "1 validation error detected: Value '%lld' "
                         "at 'limit' failed to satisfy constraint: Member must have value %s",
                         limit, limit < 1 ? "greater than or equal to 1"
                                          : "less than or equal to 100");
    char *names;
    size_t n;
    keel_status st = keel_db_list_tables(r->db, &names, &n);
    if (st != KEEL_OK) return ksrv_fail_status(r, st, NULL);
    json_t *arr = json_array();
    const char *p = names, *last = NULL;
    bool more = false;
    for (size_t i = 0; i < n; i++, p += strlen(p) + 1) {
        if (start && strcmp(p, start) <= 0) continue;
        if ((long long)json_array_size(arr) == limit) {
            more = true;
            break;
        }
        json_array_append_new(arr, json_string(p));
        last = p;
    }
    json_object_set_new(r->out, "TableNames", arr);
    if (more && last) json_object_set_new(r->out, "LastEvaluatedTableName", json_string(last));
    free(names);
    return true;
}

/* One GlobalSecondaryIndexUpdates entry: Create (backfilled before the response),
 * Delete, or Update (throughput only: accepted, nothing changes). */
static bool index_update(ksrv_req *r, const char *name, json_t *u, json_t *ad) {
    json_t *create = NULL, *del = NULL, *upd = NULL;
    if (!json_is_object(u))
        return ksrv_fail(r, "SerializationException", "GlobalSecondaryIndexUpdates elements "
                         "must be objects");
    if (!ksrv_get_obj(r, u, "Create", false, &create) ||
        !ksrv_get_obj(r, u, "Delete", false, &del) ||
        !ksrv_get_obj(r, u, "Update", false, &upd))
        return false;
    if ((create != NULL) + (del != NULL) + (upd != NULL) != 1)
        return ksrv_fail(r, "ValidationException", "One or more parameter values were invalid: "
                         "One of GlobalSecondaryIndexUpdate.Update, "
                         "GlobalSecondaryIndexUpdate.Create, GlobalSecondaryIndexUpdate.Delete "
                         "must not be null");
    keel_db_table_stats *stats = load_stats(r, name);
    if (!stats) return false;
    const char *iname = NULL;
    bool ok = ksrv_get_str(r, create ? create : del ? del : upd, "IndexName", true, &iname);
    const keel_db_index_info *found = NULL;
    for (size_t i = 0; ok && i < stats->nindexes; i++)
        if (strcmp(stats->indexes[i].name, iname) == 0) found = &stats->indexes[i];
    if (ok && create && found)
        ok = ksrv_fail(r, "ValidationException", "One or more parameter values were invalid: "
                       "Index with name: %.255s already exists", iname);
    if (ok && !create && (!found || found->local))
        ok = ksrv_fail(r, "ResourceNotFoundException", "Requested resource not found: "
                       "Requested index %.255s not found", iname);
    if (ok && create) {
        if (!ad)
            ok = ksrv_fail(r, "ValidationException", "One or more parameter values were "
                           "invalid: AttributeDefinitions must be provided when creating a "
                           "global secondary index");
        attr_defs defs;
        keel_db_index_def x;
        const char **inc = NULL;
        keel_db_schema table = {0};
        table.pk_name = "";
        if (ok) ok = parse_defs(r, ad, &defs);
        if (ok)
            ok = parse_index(r, create, false, "globalSecondaryIndexUpdates.1.member.create",
                             &table, &defs, &x, &inc);
        if (ok) {
            keel_db_table_update tu = {&x, NULL};
            keel_status st = keel_db_update_table(r->db, name, &tu);
            if (st != KEEL_OK) ok = ksrv_fail_status(r, st, name);
        }
        free(inc);
    } else if (ok && del) {
        keel_db_table_update tu = {NULL, iname};
        keel_status st = keel_db_update_table(r->db, name, &tu);
        if (st != KEEL_OK) ok = ksrv_fail_status(r, st, name);
    }
    free(stats);
    return ok;
}

bool ksrv_update_table(ksrv_req *r) {
    const char *name;
    json_t *gsi = NULL, *ad = NULL, *vu = NULL;
    if (!ksrv_table_name(r, r->in, &name) ||
        !ksrv_get_arr(r, r->in, "GlobalSecondaryIndexUpdates", false, &gsi) ||
        !ksrv_get_arr(r, r->in, "VectorIndexUpdates", false, &vu) ||
        !ksrv_get_arr(r, r->in, "AttributeDefinitions", false, &ad))
        return false;
    static const char *const modes[] = {"PROVISIONED", "PAY_PER_REQUEST", NULL};
    const char *mode;
    if (!ksrv_get_enum(r, r->in, "BillingMode", modes, NULL, &mode)) return false;
    keel_db_table_info info;
    keel_status st = keel_db_describe_table(r->db, name, &info);
    if (st != KEEL_OK) return ksrv_fail_status(r, st, name);
    if (json_object_get(r->in, "StreamSpecification") ||
        json_object_get(r->in, "ReplicaUpdates"))
        return ksrv_fail(r, "ValidationException", "keel does not support streams or replicas");
    static const char *const changes[] = {"ProvisionedThroughput", "BillingMode",
                                          "SSESpecification", "DeletionProtectionEnabled",
                                          "TableClass", "OnDemandThroughput", "WarmThroughput"};
    bool change = json_array_size(gsi) > 0 || vu;
    for (size_t i = 0; i < sizeof changes / sizeof changes[0]; i++)
        change = change || json_object_get(r->in, changes[i]);
    if (!change)   /* DynamoDB's words */
        return ksrv_fail(r, "ValidationException", "At least one of ProvisionedThroughput, "
                         "BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates or "
                         "SSESpecification or ReplicaUpdates is required");
    if (json_array_size(gsi) > 1)
        return ksrv_fail(r, "LimitExceededException", "Subscriber limit exceeded: Only 1 online "
                         "index can be created or deleted simultaneously per table");
    if (gsi && vu)
        return ksrv_fail(r, "LimitExceededException", "Subscriber limit exceeded: Only 1 online "
                         "index can be created or deleted simultaneously per table");
    if (json_array_size(gsi) == 1 && !index_update(r, name, json_array_get(gsi, 0), ad))
        return false;
    if (vu && !ksrv_vector_update(r, name, vu)) return false;
    /* Billing mode and throughput have no meaning for a local file: accepted, unchanged. */
    return respond(r, name, "TableDescription", "ACTIVE");
}

bool ksrv_describe_ttl(ksrv_req *r) {
    const char *name;
    if (!ksrv_table_name(r, r->in, &name)) return false;
    keel_db_table_stats *stats = load_stats(r, name);
    if (!stats) return false;
    json_t *d = stats->ttl_attribute[0]
                    ? json_pack("{s:s, s:s}", "TimeToLiveStatus", "ENABLED", "AttributeName",
                                stats->ttl_attribute)
                    : json_pack("{s:s}", "TimeToLiveStatus", "DISABLED");
    json_object_set_new(r->out, "TimeToLiveDescription", d);
    free(stats);
    return true;
}

/* UpdateTimeToLive takes effect at once (DynamoDB's ENABLING/DISABLING states pass in no
 * time on one file, and its once-an-hour limit is not kept). */
bool ksrv_update_ttl(ksrv_req *r) {
    const char *name, *attr = NULL;
    json_t *spec = NULL;
    bool enabled = false;
    if (!ksrv_table_name(r, r->in, &name) ||
        !ksrv_get_obj(r, r->in, "TimeToLiveSpecification", true, &spec) ||
        !ksrv_get_str(r, spec, "AttributeName", true, &attr))
        return false;
    if (!json_object_get(spec, "Enabled"))
        return ksrv_fail(r, "ValidationException", "1 validation error detected: Value null at "
                         "'timeToLiveSpecification.enabled' failed to satisfy constraint: Member "
                         "must not be null");
    if (!ksrv_get_bool(r, spec, "Enabled", &enabled)) return false;
    size_t alen = strlen(attr);
    if (alen < 1 || alen > 255)
        return ksrv_fail(r, "ValidationException", "1 validation error detected: Value '%.64s' "
                         "at 'timeToLiveSpecification.attributeName' failed to satisfy "
                         "constraint: Member must have length %s", attr,
                         alen < 1 ? "greater than or equal to 1" : "less than or equal to 255");
    keel_db_table_stats *stats = load_stats(r, name);
    if (!stats) return false;
    const char *cur = stats->ttl_attribute;
    bool ok = true;
    if (cur[0] && strcmp(cur, attr))
        ok = ksrv_fail(r, "ValidationException", "TimeToLive is active on a different "
                       "AttributeName: current AttributeName is %.255s", cur);
    else if (cur[0] && enabled)
        ok = ksrv_fail(r, "ValidationException", "TimeToLive is already enabled");
    else if (!cur[0] && !enabled)
        ok = ksrv_fail(r, "ValidationException", "TimeToLive is already disabled");
    free(stats);
    if (!ok) return false;
    keel_status st = keel_db_update_ttl(r->db, name, enabled ? attr : NULL);
    if (st != KEEL_OK) return ksrv_fail_status(r, st, name);
    json_object_set_new(r->out, "TimeToLiveSpecification",
                        json_pack("{s:b, s:s}", "Enabled", enabled, "AttributeName", attr));
    return true;
}
