/*
 * ops_table.c: CreateTable, DeleteTable, DescribeTable, ListTables, UpdateTable and the TTL
 * operations. UpdateTable accepts BillingMode and ProvisionedThroughput (no meaning for a
 * local file: the table is unchanged) and refuses index, stream and replica updates.
 *
 * A keel table has a key schema only: no secondary indexes, no provisioned throughput, no
 * streams. CreateTable accepts BillingMode and ProvisionedThroughput (clients send them)
 * and describes every table as PAY_PER_REQUEST; secondary indexes are refused with a
 * ValidationException that says keel has none. A table is ACTIVE as soon as it exists.
 *
 * TTL: keel has no expiry yet. DescribeTimeToLive answers DISABLED; UpdateTimeToLive is a
 * ValidationException saying so, rather than pretending to expire items.
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

/* DynamoDB's TableDescription of a keel table. */
static json_t *describe(ksrv_req *r, const keel_db_table_info *t, const char *status) {
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
    json_object_set_new(d, "BillingModeSummary",
                        json_pack("{s:s, s:f}", "BillingMode", "PAY_PER_REQUEST",
                                  "LastUpdateToPayPerRequestDateTime", (double)t->created));
    json_object_set_new(d, "DeletionProtectionEnabled", json_false());
    return d;
}

/* The KeySchema and AttributeDefinitions of a CreateTable as a keel schema. */
static bool parse_schema(ksrv_req *r, json_t *ks, json_t *ad, keel_db_schema *out) {
    memset(out, 0, sizeof *out);
    size_t nk = json_array_size(ks);
    if (nk < 1 || nk > 2)
        return ksrv_fail(r, "ValidationException", "1 validation error detected: Value '%zu' at "
                         "'keySchema' failed to satisfy constraint: Member must have length "
                         "%s", nk, nk < 1 ? "greater than or equal to 1"
                                          : "less than or equal to 2");
    const char *names[2] = {NULL, NULL};
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
                             "'%.64s' at 'keySchema.%zu.member.keyType' failed to satisfy "
                             "constraint: Member must satisfy enum value set: [HASH, RANGE]",
                             kind, i + 1);
        if ((i == 0 && !hash) || (i == 1 && !range))
            return ksrv_fail(r, "ValidationException", "Invalid KeySchema: %s",
                             i == 0 ? "The first KeySchemaElement is not a HASH key type"
                                    : "The second KeySchemaElement is not a RANGE key type");
        names[i] = name;
    }
    if (nk == 2 && strcmp(names[0], names[1]) == 0)
        return ksrv_fail(r, "ValidationException", "Both the Hash Key and the Range Key element "
                         "in the KeySchema have the same name");
    keel_db_keytype types[2] = {KEEL_DB_KEY_NONE, KEEL_DB_KEY_NONE};
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
        for (size_t j = 0; j < i; j++) {
            const char *other = json_string_value(
                json_object_get(json_array_get(ad, j), "AttributeName"));
            if (other && strcmp(other, name) == 0)
                return ksrv_fail(r, "ValidationException", "Cannot have two attributes with the "
                                 "same name");
        }
        bool found = false;
        for (size_t k = 0; k < nk; k++)
            if (strcmp(names[k], name) == 0) {
                types[k] = (keel_db_keytype)t[0];
                found = true;
            }
        if (!found) break;
    }
    if (json_array_size(ad) != nk || types[0] == KEEL_DB_KEY_NONE ||
        (nk == 2 && types[1] == KEEL_DB_KEY_NONE))
        return ksrv_fail(r, "ValidationException", "One or more parameter values were invalid: "
                         "Number of attributes in KeySchema does not exactly match number of "
                         "attributes defined in AttributeDefinitions");
    out->pk_name = names[0];
    out->pk_type = types[0];
    out->sk_name = nk == 2 ? names[1] : NULL;
    out->sk_type = nk == 2 ? types[1] : KEEL_DB_KEY_NONE;
    return true;
}

bool ksrv_create_table(ksrv_req *r) {
    const char *name;
    json_t *ks = NULL, *ad = NULL, *gsi = NULL, *lsi = NULL;
    if (!ksrv_table_name(r, r->in, &name) ||
        !ksrv_get_arr(r, r->in, "KeySchema", true, &ks) ||
        !ksrv_get_arr(r, r->in, "AttributeDefinitions", true, &ad) ||
        !ksrv_get_arr(r, r->in, "GlobalSecondaryIndexes", false, &gsi) ||
        !ksrv_get_arr(r, r->in, "LocalSecondaryIndexes", false, &lsi))
        return false;
    static const char *const modes[] = {"PROVISIONED", "PAY_PER_REQUEST", NULL};
    const char *mode;
    if (!ksrv_get_enum(r, r->in, "BillingMode", modes, "PROVISIONED", &mode)) return false;
    if ((gsi && json_array_size(gsi)) || (lsi && json_array_size(lsi)))
        return ksrv_fail(r, "ValidationException", "keel does not support secondary indexes "
                         "yet (GlobalSecondaryIndexes, LocalSecondaryIndexes)");
    keel_db_schema schema;
    if (!parse_schema(r, ks, ad, &schema)) return false;
    keel_status st = keel_db_create_table(r->db, name, &schema);
    if (st != KEEL_OK) return ksrv_fail_status(r, st, name);
    keel_db_table_info info;
    if ((st = keel_db_describe_table(r->db, name, &info)) != KEEL_OK)
        return ksrv_fail_status(r, st, name);
    json_object_set_new(r->out, "TableDescription", describe(r, &info, "ACTIVE"));
    return true;
}

bool ksrv_delete_table(ksrv_req *r) {
    const char *name;
    if (!ksrv_table_name(r, r->in, &name)) return false;
    keel_db_table_info info;
    keel_status st = keel_db_describe_table(r->db, name, &info);
    if (st == KEEL_OK) st = keel_db_delete_table(r->db, name);
    if (st != KEEL_OK) return ksrv_fail_status(r, st, name);
    json_object_set_new(r->out, "TableDescription", describe(r, &info, "DELETING"));
    return true;
}

bool ksrv_describe_table(ksrv_req *r) {
    const char *name;
    if (!ksrv_table_name(r, r->in, &name)) return false;
    keel_db_table_info info;
    keel_status st = keel_db_describe_table(r->db, name, &info);
    if (st != KEEL_OK) return ksrv_fail_status(r, st, name);
    json_object_set_new(r->out, "Table", describe(r, &info, "ACTIVE"));
    return true;
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

bool ksrv_update_table(ksrv_req *r) {
    const char *name;
    json_t *gsi = NULL, *ad = NULL;
    if (!ksrv_table_name(r, r->in, &name) ||
        !ksrv_get_arr(r, r->in, "GlobalSecondaryIndexUpdates", false, &gsi) ||
        !ksrv_get_arr(r, r->in, "AttributeDefinitions", false, &ad))
        return false;
    static const char *const modes[] = {"PROVISIONED", "PAY_PER_REQUEST", NULL};
    const char *mode;
    if (!ksrv_get_enum(r, r->in, "BillingMode", modes, NULL, &mode)) return false;
    keel_db_table_info info;
    keel_status st = keel_db_describe_table(r->db, name, &info);
    if (st != KEEL_OK) return ksrv_fail_status(r, st, name);
    if (gsi && json_array_size(gsi))
        return ksrv_fail(r, "ValidationException", "keel does not support secondary indexes "
                         "yet (GlobalSecondaryIndexUpdates)");
    if (json_object_get(r->in, "StreamSpecification") ||
        json_object_get(r->in, "ReplicaUpdates"))
        return ksrv_fail(r, "ValidationException", "keel does not support streams or replicas");
    /* Billing mode and throughput have no meaning for a local file: accepted, unchanged. */
    json_object_set_new(r->out, "TableDescription", describe(r, &info, "ACTIVE"));
    return true;
}

bool ksrv_describe_ttl(ksrv_req *r) {
    const char *name;
    if (!ksrv_table_name(r, r->in, &name)) return false;
    keel_db_table_info info;
    keel_status st = keel_db_describe_table(r->db, name, &info);
    if (st != KEEL_OK) return ksrv_fail_status(r, st, name);
    json_object_set_new(r->out, "TimeToLiveDescription",
                        json_pack("{s:s}", "TimeToLiveStatus", "DISABLED"));
    return true;
}

bool ksrv_update_ttl(ksrv_req *r) {
    const char *name;
    if (!ksrv_table_name(r, r->in, &name)) return false;
    keel_db_table_info info;
    keel_status st = keel_db_describe_table(r->db, name, &info);
    if (st != KEEL_OK) return ksrv_fail_status(r, st, name);
    return ksrv_fail(r, "ValidationException", "keel does not support Time to Live yet");
}
