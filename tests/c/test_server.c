/*
 * test_server.c: the DynamoDB request handler (keel_server.h) operation by operation.
 *
 * Every request goes through keel_dynamo_handle against an in-memory database, as the
 * HTTP server and the Python client call it; responses are parsed with jansson and
 * checked member by member: tables (create, describe, list with pages, delete, schema
 * mistakes), items (put, get with projections and AttributesToGet, delete, ReturnValues,
 * conditions and Expected, ConditionalCheckFailed with Item), UpdateItem (expressions and
 * AttributeUpdates), Query and Scan (key conditions, legacy KeyConditions/QueryFilter,
 * filters, Select COUNT, Limit and LastEvaluatedKey, 1 MB pages, segments), batches
 * (limits, duplicates, UnprocessedKeys/Items), transactions (CancellationReasons), and the
 * protocol's errors (__type and status for malformed JSON, wrong types, unknown operations,
 * missing tables, nesting). Secondary indexes (CreateTable with GSIs and LSIs and DynamoDB's
 * AttributeDefinitions rules, DescribeTable's index descriptions, Query/Scan IndexName,
 * UpdateTable's index Create/Delete) and TTL (UpdateTimeToLive's refusals, expiry through
 * the injectable clock) have their own tests.
 */
#include "util.h"

#include "keel_server.h"

#include <jansson.h>
#include <stdlib.h>

static keel_db *g_db;

/* Call op with body; check the status; return the parsed response (decref it). */
static json_t *call_(const char *file, int line, const char *op, const char *body, int want) {
    keel_dynamo_response r;
    int st = keel_dynamo_handle(g_db, op, body, strlen(body), &r);
    if (st != want) h_fail(file, line, "%s %s: status %d, want %d: %s", op, body, st, want, r.body);
    json_error_t e;
    json_t *j = json_loadb(r.body, r.len, 0, &e);
    if (!j) h_fail(file, line, "%s: response is not JSON: %s", op, r.body);
    if (j && st != 200) {
        const char *t = json_string_value(json_object_get(j, "__type"));
        if (!t || strcmp(t, r.type) != 0) h_fail(file, line, "%s: __type %s vs %s", op, t, r.type);
    }
    keel_dynamo_response_free(&r);
    return j ? j : json_object();
}
#define CALL(op, body, want) call_(__FILE__, __LINE__, op, body, want)

/* The error's type (after '#') must be `type` and its message contain `msg`. */
static void error_(const char *file, int line, const char *op, const char *body,
                   const char *type, const char *msg) {
    json_t *j = call_(file, line, op, body, strstr(type, "Internal") ? 500 : 400);
    const char *t = json_string_value(json_object_get(j, "__type"));
    const char *m = json_string_value(json_object_get(j, "message"));
    const char *h = t ? strchr(t, '#') : NULL;
    if (!h || strcmp(h + 1, type) != 0) h_fail(file, line, "%s: type %s, want %s", op, t, type);
    if (msg && (!m || !strstr(m, msg))) h_fail(file, line, "%s: message '%s' lacks '%s'", op, m, msg);
    json_decref(j);
}
#define ERROR(op, body, type, msg) error_(__FILE__, __LINE__, op, body, type, msg)

static void ok_(const char *file, int line, const char *op, const char *body) {
    json_decref(call_(file, line, op, body, 200));
}
#define OK(op, body) ok_(__FILE__, __LINE__, op, body)

/* The string at a path of keys ("Item.v.N"). */
static const char *str_at(json_t *j, const char *path) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *s = strtok(buf, "."); s && j; s = strtok(NULL, "."))
        j = json_is_array(j) ? json_array_get(j, (size_t)atoi(s)) : json_object_get(j, s);
    return json_string_value(j);
}
static long long int_at(json_t *j, const char *name) {
    return json_integer_value(json_object_get(j, name));
}

static void open_db(void) {
    REQUIRE_OK(keel_db_open_memory(NULL, &g_db));
    OK("CreateTable", "{\"TableName\":\"tbl\",\"KeySchema\":[{\"AttributeName\":\"pk\","
       "\"KeyType\":\"HASH\"},{\"AttributeName\":\"sk\",\"KeyType\":\"RANGE\"}],"
       "\"AttributeDefinitions\":[{\"AttributeName\":\"pk\",\"AttributeType\":\"S\"},"
       "{\"AttributeName\":\"sk\",\"AttributeType\":\"N\"}],\"BillingMode\":\"PAY_PER_REQUEST\"}");
}

static void put_n(const char *pk, int sk, const char *extra) {
    char body[512];
    snprintf(body, sizeof body, "{\"TableName\":\"tbl\",\"Item\":{\"pk\":{\"S\":\"%s\"},"
             "\"sk\":{\"N\":\"%d\"},\"v\":{\"N\":\"%d\"}%s}}", pk, sk, sk * 10, extra);
    OK("PutItem", body);
}

static void test_tables(void) {
    open_db();
    json_t *j = CALL("DescribeTable", "{\"TableName\":\"tbl\"}", 200);
    CHECK(str_at(j, "Table.TableStatus") && strcmp(str_at(j, "Table.TableStatus"), "ACTIVE") == 0);
    CHECK(strcmp(str_at(j, "Table.TableArn"),
                 "arn:aws:dynamodb:us-east-1:123456789012:table/tbl") == 0);
    CHECK(strcmp(str_at(j, "Table.KeySchema.1.KeyType"), "RANGE") == 0);
    CHECK(strcmp(str_at(j, "Table.AttributeDefinitions.1.AttributeType"), "N") == 0);
    CHECK(strcmp(str_at(j, "Table.BillingModeSummary.BillingMode"), "PAY_PER_REQUEST") == 0);
    json_decref(j);
    ERROR("CreateTable", "{\"TableName\":\"tbl\",\"KeySchema\":[{\"AttributeName\":\"pk\","
          "\"KeyType\":\"HASH\"}],\"AttributeDefinitions\":[{\"AttributeName\":\"pk\","
          "\"AttributeType\":\"S\"}]}", "ResourceInUseException", "Table already exists: tbl");
    ERROR("CreateTable", "{\"TableName\":\"uuu\",\"KeySchema\":[{\"AttributeName\":\"pk\","
          "\"KeyType\":\"HASH\"}],\"AttributeDefinitions\":[{\"AttributeName\":\"x\","
          "\"AttributeType\":\"S\"}]}", "ValidationException",
          "Some index key attributes are not defined in AttributeDefinitions. Keys: [pk], "
          "AttributeDefinitions: [x]");
    ERROR("CreateTable", "{\"TableName\":\"uuu\",\"KeySchema\":[{\"AttributeName\":\"pk\","
          "\"KeyType\":\"RANGE\"}],\"AttributeDefinitions\":[{\"AttributeName\":\"pk\","
          "\"AttributeType\":\"S\"}]}", "ValidationException", "not a HASH key");
    ERROR("CreateTable", "{\"TableName\":\"uuu\",\"KeySchema\":[{\"AttributeName\":\"pk\","
          "\"KeyType\":\"HASH\"}],\"AttributeDefinitions\":[{\"AttributeName\":\"pk\","
          "\"AttributeType\":\"X\"}]}", "ValidationException", "enum value set: [B, N, S]");
    ERROR("CreateTable", "{\"TableName\":\"uuu\"}", "ValidationException", "Value null at 'keySchema'");
    ERROR("CreateTable", "{\"TableName\":\"ab\",\"KeySchema\":[],\"AttributeDefinitions\":[]}",
          "ValidationException", "length greater than or equal to 3");
    for (int i = 0; i < 5; i++) {
        char body[300];
        snprintf(body, sizeof body, "{\"TableName\":\"tab%d\",\"KeySchema\":[{\"AttributeName\":"
                 "\"id\",\"KeyType\":\"HASH\"}],\"AttributeDefinitions\":[{\"AttributeName\":"
                 "\"id\",\"AttributeType\":\"B\"}],\"ProvisionedThroughput\":"
                 "{\"ReadCapacityUnits\":5,\"WriteCapacityUnits\":5}}", i);
        OK("CreateTable", body);
    }
    j = CALL("ListTables", "{\"Limit\":4}", 200);
    CHECK_EQ(json_array_size(json_object_get(j, "TableNames")), 4u);
    CHECK(strcmp(str_at(j, "LastEvaluatedTableName"), "tab3") == 0);
    json_decref(j);
    j = CALL("ListTables", "{\"ExclusiveStartTableName\":\"tab3\"}", 200);
    CHECK_EQ(json_array_size(json_object_get(j, "TableNames")), 2u);
    CHECK(json_object_get(j, "LastEvaluatedTableName") == NULL);
    json_decref(j);
    ERROR("ListTables", "{\"Limit\":0}", "ValidationException", "greater than or equal to 1");
    j = CALL("DeleteTable", "{\"TableName\":\"arn:aws:dynamodb:us-east-1:123456789012:table/tab0\"}", 200);
    CHECK(strcmp(str_at(j, "TableDescription.TableStatus"), "DELETING") == 0);
    json_decref(j);
    ERROR("DescribeTable", "{\"TableName\":\"tab0\"}", "ResourceNotFoundException",
          "Requested resource not found: Table: tab0");
    ERROR("DeleteTable", "{\"TableName\":\"tab0\"}", "ResourceNotFoundException", NULL);
    j = CALL("UpdateTable", "{\"TableName\":\"tbl\",\"BillingMode\":\"PROVISIONED\","
             "\"ProvisionedThroughput\":{\"ReadCapacityUnits\":5,\"WriteCapacityUnits\":5}}", 200);
    CHECK(strcmp(str_at(j, "TableDescription.TableStatus"), "ACTIVE") == 0);
    json_decref(j);
    ERROR("UpdateTable", "{\"TableName\":\"tbl\",\"GlobalSecondaryIndexUpdates\":[{\"Delete\":"
          "{\"IndexName\":\"x\"}}]}", "ResourceNotFoundException", "index x not found");
    ERROR("UpdateTable", "{\"TableName\":\"nope\"}", "ResourceNotFoundException", NULL);
    j = CALL("DescribeTimeToLive", "{\"TableName\":\"tbl\"}", 200);
    CHECK(strcmp(str_at(j, "TimeToLiveDescription.TimeToLiveStatus"), "DISABLED") == 0);
    json_decref(j);
    keel_db_free(g_db);
}

/* JSON written with ' for " (the tests below would drown in backslashes); a ring of 4
 * buffers so that a call may take two. */
static const char *jq(const char *s) {
    static char bufs[4][4096];
    static int at;
    char *b = bufs[at++ % 4];
    size_t i = 0;
    for (; s[i] && i < sizeof bufs[0] - 1; i++) b[i] = s[i] == '\'' ? '"' : s[i];
    b[i] = '\0';
    return b;
}

#define IDX_TABLE                                                                              \
    "{'TableName':'itab','KeySchema':[{'AttributeName':'pk','KeyType':'HASH'},"                 \
    "{'AttributeName':'sk','KeyType':'RANGE'}],"                                              \
    "'AttributeDefinitions':[{'AttributeName':'pk','AttributeType':'S'},"                     \
    "{'AttributeName':'sk','AttributeType':'N'},{'AttributeName':'g','AttributeType':'S'},"   \
    "{'AttributeName':'l','AttributeType':'N'}],'BillingMode':'PAY_PER_REQUEST',"             \
    "'GlobalSecondaryIndexes':[{'IndexName':'byg','KeySchema':[{'AttributeName':'g',"         \
    "'KeyType':'HASH'},{'AttributeName':'sk','KeyType':'RANGE'}],"                            \
    "'Projection':{'ProjectionType':'INCLUDE','NonKeyAttributes':['v']}}],"                   \
    "'LocalSecondaryIndexes':[{'IndexName':'byl','KeySchema':[{'AttributeName':'pk',"         \
    "'KeyType':'HASH'},{'AttributeName':'l','KeyType':'RANGE'}],"                             \
    "'Projection':{'ProjectionType':'KEYS_ONLY'}}]}"

static void test_indexes(void) {
    open_db();
    /* AttributeDefinitions must type every index key and nothing else */
    ERROR("CreateTable", jq("{'TableName':'itab','KeySchema':[{'AttributeName':'pk','KeyType':"
          "'HASH'}],'AttributeDefinitions':[{'AttributeName':'pk','AttributeType':'S'}],"
          "'GlobalSecondaryIndexes':[{'IndexName':'byg','KeySchema':[{'AttributeName':'g',"
          "'KeyType':'HASH'}],'Projection':{'ProjectionType':'ALL'}}]}"),
          "ValidationException", "Some index key attributes are not defined in "
          "AttributeDefinitions. Keys: [g], AttributeDefinitions: [pk]");
    ERROR("CreateTable", jq("{'TableName':'itab','KeySchema':[{'AttributeName':'pk','KeyType':"
          "'HASH'}],'AttributeDefinitions':[{'AttributeName':'pk','AttributeType':'S'},"
          "{'AttributeName':'g','AttributeType':'S'},{'AttributeName':'z','AttributeType':'S'}],"
          "'GlobalSecondaryIndexes':[{'IndexName':'byg','KeySchema':[{'AttributeName':'g',"
          "'KeyType':'HASH'}],'Projection':{'ProjectionType':'ALL'}}]}"),
          "ValidationException", "Some AttributeDefinitions are not used");
    ERROR("CreateTable", jq("{'TableName':'itab','KeySchema':[{'AttributeName':'pk','KeyType':"
          "'HASH'},{'AttributeName':'sk','KeyType':'RANGE'}],'AttributeDefinitions':["
          "{'AttributeName':'pk','AttributeType':'S'},{'AttributeName':'sk','AttributeType':'N'},"
          "{'AttributeName':'g','AttributeType':'S'}],'LocalSecondaryIndexes':[{'IndexName':"
          "'byl','KeySchema':[{'AttributeName':'g','KeyType':'HASH'},{'AttributeName':'sk',"
          "'KeyType':'RANGE'}],'Projection':{'ProjectionType':'ALL'}}]}"),
          "ValidationException", "same leading hash key");
    ERROR("CreateTable", jq("{'TableName':'itab','KeySchema':[{'AttributeName':'pk','KeyType':"
          "'HASH'}],'AttributeDefinitions':[{'AttributeName':'pk','AttributeType':'S'},"
          "{'AttributeName':'g','AttributeType':'S'}],"
          "'GlobalSecondaryIndexes':[{'IndexName':'byg','KeySchema':[{'AttributeName':'g',"
          "'KeyType':'HASH'}],'Projection':{'ProjectionType':'ALL','NonKeyAttributes':['v']}}]}"),
          "ValidationException", "ProjectionType is ALL, but NonKeyAttributes is specified");
    ERROR("CreateTable", jq("{'TableName':'itab','KeySchema':[{'AttributeName':'pk','KeyType':"
          "'HASH'}],'AttributeDefinitions':[{'AttributeName':'pk','AttributeType':'S'}],"
          "'GlobalSecondaryIndexes':[{'IndexName':'byg','KeySchema':[{'AttributeName':'pk',"
          "'KeyType':'HASH'}]}]}"), "ValidationException", "Value null at 'projection'");
    json_t *j = CALL("CreateTable", jq(IDX_TABLE), 200);
    CHECK(strcmp(str_at(j, "TableDescription.GlobalSecondaryIndexes.0.IndexName"), "byg") == 0);
    json_decref(j);
    ERROR("CreateTable", jq(IDX_TABLE), "ResourceInUseException", NULL);
    for (int i = 0; i < 6; i++) {
        char body[400];
        snprintf(body, sizeof body, "{'TableName':'itab','Item':{'pk':{'S':'p%d'},'sk':{'N':'%d'},"
                 "'g':{'S':'%s'},'l':{'N':'%d'},'v':{'S':'v%d'},'w':{'S':'w'}}}", i % 2, i,
                 i < 4 ? "even" : "odd", 10 - i, i);
        OK("PutItem", jq(body));
    }
    OK("PutItem", jq("{'TableName':'itab','Item':{'pk':{'S':'p0'},'sk':{'N':'99'}}}"));  /* sparse */
    j = CALL("DescribeTable", jq("{'TableName':'itab'}"), 200);
    CHECK_EQ(json_array_size(json_object_get(json_object_get(j, "Table"),
                                             "AttributeDefinitions")), 4u);
    CHECK(strcmp(str_at(j, "Table.GlobalSecondaryIndexes.0.IndexStatus"), "ACTIVE") == 0);
    CHECK(strcmp(str_at(j, "Table.GlobalSecondaryIndexes.0.Projection.ProjectionType"),
                 "INCLUDE") == 0);
    CHECK(strcmp(str_at(j, "Table.GlobalSecondaryIndexes.0.Projection.NonKeyAttributes.0"),
                 "v") == 0);
    CHECK(strcmp(str_at(j, "Table.GlobalSecondaryIndexes.0.IndexArn"),
                 "arn:aws:dynamodb:us-east-1:123456789012:table/itab/index/byg") == 0);
    json_t *g0 = json_array_get(json_object_get(json_object_get(j, "Table"),
                                                "GlobalSecondaryIndexes"), 0);
    CHECK_EQ(int_at(g0, "ItemCount"), 6);
    CHECK(strcmp(str_at(j, "Table.LocalSecondaryIndexes.0.KeySchema.1.AttributeName"),
                 "l") == 0);
    CHECK(str_at(j, "Table.LocalSecondaryIndexes.0.IndexStatus") == NULL);
    json_decref(j);
    /* Query a GSI: index key order, INCLUDE projection, LastEvaluatedKey with both keys */
    j = CALL("Query", jq("{'TableName':'itab','IndexName':'byg','KeyConditionExpression':"
             "'g = :g','ExpressionAttributeValues':{':g':{'S':'even'}},'Limit':2}"), 200);
    CHECK_EQ(int_at(j, "Count"), 2);
    CHECK(strcmp(str_at(j, "Items.1.v.S"), "v1") == 0);
    CHECK(str_at(j, "Items.1.w.S") == NULL);
    CHECK(strcmp(str_at(j, "LastEvaluatedKey.g.S"), "even") == 0);
    CHECK(strcmp(str_at(j, "LastEvaluatedKey.pk.S"), "p1") == 0);
    CHECK(strcmp(str_at(j, "LastEvaluatedKey.sk.N"), "1") == 0);
    char body[1024];
    char *lek = json_dumps(json_object_get(j, "LastEvaluatedKey"), JSON_COMPACT);
    snprintf(body, sizeof body, "{\"TableName\":\"itab\",\"IndexName\":\"byg\","
             "\"KeyConditionExpression\":\"g = :g\",\"ExpressionAttributeValues\":{\":g\":"
             "{\"S\":\"even\"}},\"ExclusiveStartKey\":%s}", lek);
    free(lek);
    json_decref(j);
    j = CALL("Query", body, 200);
    CHECK_EQ(int_at(j, "Count"), 2);
    CHECK(strcmp(str_at(j, "Items.0.sk.N"), "2") == 0);
    json_decref(j);
    /* an LSI: KEYS_ONLY, sorted by l; consistent reads allowed */
    j = CALL("Query", jq("{'TableName':'itab','IndexName':'byl','ConsistentRead':true,"
             "'KeyConditionExpression':'pk = :p AND l < :l','ExpressionAttributeValues':"
             "{':p':{'S':'p0'},':l':{'N':'9'}},'Select':'ALL_PROJECTED_ATTRIBUTES'}"), 200);
    CHECK_EQ(int_at(j, "Count"), 2);
    CHECK(strcmp(str_at(j, "Items.0.l.N"), "6") == 0);
    CHECK(str_at(j, "Items.0.v.S") == NULL);
    json_decref(j);
    ERROR("Query", jq("{'TableName':'itab','IndexName':'byg','ConsistentRead':true,"
          "'KeyConditionExpression':'g = :g','ExpressionAttributeValues':{':g':{'S':'odd'}}}"),
          "ValidationException", "Consistent reads are not supported on global secondary "
          "indexes");
    ERROR("Scan", jq("{'TableName':'itab','IndexName':'nope'}"), "ValidationException",
          "The table does not have the specified index: nope");
    j = CALL("Scan", jq("{'TableName':'itab','IndexName':'byg'}"), 200);
    CHECK_EQ(int_at(j, "Count"), 6);
    json_decref(j);
    /* UpdateTable: add a global index (backfilled before the answer), then drop it */
    ERROR("UpdateTable", jq("{'TableName':'itab','GlobalSecondaryIndexUpdates':[{'Create':"
          "{'IndexName':'byw','KeySchema':[{'AttributeName':'w','KeyType':'HASH'}],"
          "'Projection':{'ProjectionType':'ALL'}}}]}"), "ValidationException",
          "AttributeDefinitions");
    ERROR("UpdateTable", jq("{'TableName':'itab','GlobalSecondaryIndexUpdates':[{'Delete':"
          "{'IndexName':'a1x'}},{'Delete':{'IndexName':'a2x'}}]}"), "LimitExceededException",
          "Only 1 online index");
    j = CALL("UpdateTable", jq("{'TableName':'itab','AttributeDefinitions':[{'AttributeName':'w',"
             "'AttributeType':'S'}],'GlobalSecondaryIndexUpdates':[{'Create':{'IndexName':'byw',"
             "'KeySchema':[{'AttributeName':'w','KeyType':'HASH'}],'Projection':"
             "{'ProjectionType':'ALL'},'ProvisionedThroughput':{'ReadCapacityUnits':1,"
             "'WriteCapacityUnits':1}}}]}"), 200);
    CHECK(strcmp(str_at(j, "TableDescription.GlobalSecondaryIndexes.1.IndexName"), "byw") == 0);
    CHECK(strcmp(str_at(j, "TableDescription.GlobalSecondaryIndexes.1.IndexStatus"),
                 "ACTIVE") == 0);
    json_decref(j);
    ERROR("UpdateTable", jq("{'TableName':'itab','AttributeDefinitions':[{'AttributeName':'w',"
          "'AttributeType':'S'}],'GlobalSecondaryIndexUpdates':[{'Create':{'IndexName':'byw',"
          "'KeySchema':[{'AttributeName':'w','KeyType':'HASH'}],'Projection':"
          "{'ProjectionType':'ALL'}}}]}"), "ValidationException", "already exists");
    j = CALL("Query", jq("{'TableName':'itab','IndexName':'byw','KeyConditionExpression':"
             "'w = :w','ExpressionAttributeValues':{':w':{'S':'w'}},'Select':'COUNT'}"), 200);
    CHECK_EQ(int_at(j, "Count"), 6);
    json_decref(j);
    j = CALL("UpdateTable", jq("{'TableName':'itab','GlobalSecondaryIndexUpdates':[{'Delete':"
             "{'IndexName':'byw'}}]}"), 200);
    CHECK_EQ(json_array_size(json_object_get(json_object_get(j, "TableDescription"),
                                             "GlobalSecondaryIndexes")), 1u);
    json_decref(j);
    ERROR("Query", jq("{'TableName':'itab','IndexName':'byw','KeyConditionExpression':"
          "'w = :w','ExpressionAttributeValues':{':w':{'S':'w'}}}"), "ValidationException",
          "specified index: byw");
    ERROR("UpdateTable", jq("{'TableName':'itab','GlobalSecondaryIndexUpdates':[{'Delete':"
          "{'IndexName':'byl'}}]}"), "ResourceNotFoundException", NULL);
    keel_db_free(g_db);
}

static int64_t g_now = 1000;
static int64_t fixed_clock(void *ctx) {
    (void)ctx;
    return g_now;
}

static void test_ttl(void) {
    open_db();
    keel_db_set_clock(g_db, fixed_clock, NULL);
    ERROR("UpdateTimeToLive", jq("{'TableName':'tbl','TimeToLiveSpecification':"
          "{'Enabled':false,'AttributeName':'exp'}}"), "ValidationException",
          "TimeToLive is already disabled");
    ERROR("UpdateTimeToLive", jq("{'TableName':'tbl','TimeToLiveSpecification':"
          "{'AttributeName':'exp'}}"), "ValidationException", "timeToLiveSpecification.enabled");
    ERROR("UpdateTimeToLive", jq("{'TableName':'tbl'}"), "ValidationException",
          "Value null at 'timeToLiveSpecification'");
    ERROR("UpdateTimeToLive", jq("{'TableName':'nope','TimeToLiveSpecification':"
          "{'Enabled':true,'AttributeName':'exp'}}"), "ResourceNotFoundException", NULL);
    json_t *j = CALL("UpdateTimeToLive", jq("{'TableName':'tbl','TimeToLiveSpecification':"
                     "{'Enabled':true,'AttributeName':'exp'}}"), 200);
    CHECK(json_is_true(json_object_get(json_object_get(j, "TimeToLiveSpecification"),
                                       "Enabled")));
    json_decref(j);
    j = CALL("DescribeTimeToLive", jq("{'TableName':'tbl'}"), 200);
    CHECK(strcmp(str_at(j, "TimeToLiveDescription.TimeToLiveStatus"), "ENABLED") == 0);
    CHECK(strcmp(str_at(j, "TimeToLiveDescription.AttributeName"), "exp") == 0);
    json_decref(j);
    ERROR("UpdateTimeToLive", jq("{'TableName':'tbl','TimeToLiveSpecification':"
          "{'Enabled':true,'AttributeName':'exp'}}"), "ValidationException",
          "TimeToLive is already enabled");
    ERROR("UpdateTimeToLive", jq("{'TableName':'tbl','TimeToLiveSpecification':"
          "{'Enabled':false,'AttributeName':'other'}}"), "ValidationException",
          "TimeToLive is active on a different AttributeName: current AttributeName is exp");
    OK("PutItem", jq("{'TableName':'tbl','Item':{'pk':{'S':'a'},'sk':{'N':'1'},"
                     "'exp':{'N':'1500'}}}"));
    OK("PutItem", jq("{'TableName':'tbl','Item':{'pk':{'S':'a'},'sk':{'N':'2'},"
                     "'exp':{'N':'5000'}}}"));
    j = CALL("GetItem", jq("{'TableName':'tbl','Key':{'pk':{'S':'a'},'sk':{'N':'1'}}}"), 200);
    CHECK(json_object_get(j, "Item") != NULL);
    json_decref(j);
    g_now = 2000;   /* the first item expires */
    j = CALL("GetItem", jq("{'TableName':'tbl','Key':{'pk':{'S':'a'},'sk':{'N':'1'}}}"), 200);
    CHECK(json_object_get(j, "Item") == NULL);
    json_decref(j);
    j = CALL("Query", jq("{'TableName':'tbl','KeyConditionExpression':'pk = :p',"
             "'ExpressionAttributeValues':{':p':{'S':'a'}}}"), 200);
    CHECK_EQ(int_at(j, "Count"), 1);
    json_decref(j);
    OK("UpdateTimeToLive", jq("{'TableName':'tbl','TimeToLiveSpecification':"
                              "{'Enabled':false,'AttributeName':'exp'}}"));
    j = CALL("DescribeTimeToLive", jq("{'TableName':'tbl'}"), 200);
    CHECK(strcmp(str_at(j, "TimeToLiveDescription.TimeToLiveStatus"), "DISABLED") == 0);
    json_decref(j);
    keel_db_free(g_db);
}

static void test_items(void) {
    open_db();
    OK("PutItem", "{\"TableName\":\"tbl\",\"Item\":{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"},"
       "\"n\":{\"N\":\"1e3\"},\"m\":{\"M\":{\"x\":{\"L\":[{\"S\":\"y\"},{\"BOOL\":true}]}}},"
       "\"ss\":{\"SS\":[\"p\",\"q\"]},\"b\":{\"B\":\"AAEC\"}}}");
    json_t *j = CALL("GetItem", "{\"TableName\":\"tbl\",\"Key\":{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}}}", 200);
    CHECK(strcmp(str_at(j, "Item.n.N"), "1000") == 0);
    CHECK(strcmp(str_at(j, "Item.m.M.x.L.0.S"), "y") == 0);
    CHECK(strcmp(str_at(j, "Item.b.B"), "AAEC") == 0);
    json_decref(j);
    j = CALL("GetItem", "{\"TableName\":\"tbl\",\"Key\":{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}},"
             "\"ProjectionExpression\":\"#m.x[1], n\",\"ExpressionAttributeNames\":{\"#m\":\"m\"},"
             "\"ReturnConsumedCapacity\":\"TOTAL\"}", 200);
    CHECK(json_is_true(json_object_get(json_object_get(json_object_get(json_object_get(
        json_object_get(json_object_get(j, "Item"), "m"), "M"), "x"), "L") ? json_array_get(
        json_object_get(json_object_get(json_object_get(json_object_get(json_object_get(
        j, "Item"), "m"), "M"), "x"), "L"), 0) : NULL, "BOOL")));
    CHECK(json_object_get(json_object_get(j, "Item"), "ss") == NULL);
    CHECK(json_real_value(json_object_get(json_object_get(j, "ConsumedCapacity"),
                                          "CapacityUnits")) == 0.5);
    json_decref(j);
    j = CALL("GetItem", "{\"TableName\":\"tbl\",\"Key\":{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}},"
             "\"AttributesToGet\":[\"ss\"]}", 200);
    CHECK_EQ(json_object_size(json_object_get(j, "Item")), 1u);
    json_decref(j);
    j = CALL("GetItem", "{\"TableName\":\"tbl\",\"Key\":{\"pk\":{\"S\":\"zz\"},\"sk\":{\"N\":\"1\"}}}", 200);
    CHECK(json_object_get(j, "Item") == NULL);
    json_decref(j);
    /* errors */
    ERROR("GetItem", "{\"TableName\":\"tbl\",\"Key\":{\"pk\":{\"S\":\"a\"}}}", "ValidationException",
          "Missing the key sk");
    ERROR("GetItem", "{\"TableName\":\"tbl\",\"Key\":{\"pk\":{\"N\":\"1\"},\"sk\":{\"N\":\"1\"}}}",
          "ValidationException", "Type mismatch for key pk");
    ERROR("GetItem", "{\"TableName\":\"nope\",\"Key\":{\"pk\":{\"S\":\"a\"}}}",
          "ResourceNotFoundException", "Requested resource not found");
    /* a number as a JSON number: the wrong JSON type, as DynamoDB's deserializer says */
    ERROR("PutItem", "{\"TableName\":\"tbl\",\"Item\":{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":12}}}",
          "SerializationException", "NUMBER_VALUE cannot be converted to String");
    ERROR("UpdateItem", "{\"TableName\":\"tbl\",\"Key\":{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}},"
          "\"UpdateExpression\":\"SET v = :v\",\"ExpressionAttributeValues\":{\":v\":{\"S\":1}}}",
          "SerializationException", "NUMBER_VALUE cannot be converted to String");
    ERROR("PutItem", "{\"TableName\":\"tbl\",\"Item\":{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"},"
          "\"x\":{\"SS\":[]}}}", "ValidationException", NULL);
    ERROR("PutItem", "{\"TableName\":5}", "SerializationException", NULL);
    ERROR("PutItem", "{\"TableName\":\"tbl\"}", "ValidationException", "Value null at 'item'");
    /* conditions and ReturnValues */
    ERROR("PutItem", "{\"TableName\":\"tbl\",\"Item\":{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}},"
          "\"ConditionExpression\":\"attribute_not_exists(pk)\"}",
          "ConditionalCheckFailedException", "The conditional request failed");
    j = CALL("PutItem", "{\"TableName\":\"tbl\",\"Item\":{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}},"
             "\"ConditionExpression\":\"attribute_not_exists(pk)\","
             "\"ReturnValuesOnConditionCheckFailure\":\"ALL_OLD\"}", 400);
    CHECK(strcmp(str_at(j, "Item.n.N"), "1000") == 0);
    json_decref(j);
    j = CALL("PutItem", "{\"TableName\":\"tbl\",\"Item\":{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"},"
             "\"v\":{\"N\":\"2\"}},\"Expected\":{\"n\":{\"Value\":{\"N\":\"1000\"}}},"
             "\"ReturnValues\":\"ALL_OLD\"}", 200);
    CHECK(strcmp(str_at(j, "Attributes.n.N"), "1000") == 0);
    json_decref(j);
    ERROR("PutItem", "{\"TableName\":\"tbl\",\"Item\":{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}},"
          "\"Expected\":{\"v\":{\"Exists\":false}}}", "ConditionalCheckFailedException", NULL);
    ERROR("PutItem", "{\"TableName\":\"tbl\",\"Item\":{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}},"
          "\"Expected\":{\"v\":{\"Exists\":false}},\"ConditionExpression\":\"v = :v\"}",
          "ValidationException", "Can not use both expression and non-expression");
    ERROR("PutItem", "{\"TableName\":\"tbl\",\"Item\":{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}},"
          "\"ReturnValues\":\"ALL_NEW\"}", "ValidationException", "enum value set");
    ERROR("PutItem", "{\"TableName\":\"tbl\",\"Item\":{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}},"
          "\"ConditionExpression\":\"v = \"}", "ValidationException",
          "Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"=\"");
    /* UpdateItem */
    j = CALL("UpdateItem", "{\"TableName\":\"tbl\",\"Key\":{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}},"
             "\"UpdateExpression\":\"SET v = v + :one ADD c :one\",\"ExpressionAttributeValues\":"
             "{\":one\":{\"N\":\"1\"}},\"ReturnValues\":\"ALL_NEW\"}", 200);
    CHECK(strcmp(str_at(j, "Attributes.v.N"), "3") == 0);
    CHECK(strcmp(str_at(j, "Attributes.c.N"), "1") == 0);
    json_decref(j);
    j = CALL("UpdateItem", "{\"TableName\":\"tbl\",\"Key\":{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}},"
             "\"AttributeUpdates\":{\"c\":{\"Action\":\"ADD\",\"Value\":{\"N\":\"5\"}},"
             "\"ss\":{\"Action\":\"DELETE\"},\"w\":{\"Value\":{\"S\":\"new\"}}},"
             "\"ReturnValues\":\"UPDATED_NEW\"}", 200);
    CHECK(strcmp(str_at(j, "Attributes.c.N"), "6") == 0);
    CHECK(strcmp(str_at(j, "Attributes.w.S"), "new") == 0);
    json_decref(j);
    ERROR("UpdateItem", "{\"TableName\":\"tbl\",\"Key\":{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}},"
          "\"UpdateExpression\":\"SET pk = :x\",\"ExpressionAttributeValues\":{\":x\":{\"S\":\"b\"}}}",
          "ValidationException", "part of the key");
    /* DeleteItem */
    j = CALL("DeleteItem", "{\"TableName\":\"tbl\",\"Key\":{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}},"
             "\"ConditionExpression\":\"c = :c\",\"ExpressionAttributeValues\":{\":c\":{\"N\":\"6\"}},"
             "\"ReturnValues\":\"ALL_OLD\"}", 200);
    CHECK(strcmp(str_at(j, "Attributes.w.S"), "new") == 0);
    json_decref(j);
    j = CALL("DeleteItem", "{\"TableName\":\"tbl\",\"Key\":{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}}}", 200);
    CHECK_EQ(json_object_size(j), 0u);
    json_decref(j);
    keel_db_free(g_db);
}

static void test_query_scan(void) {
    open_db();
    for (int i = 0; i < 20; i++) put_n("p", i, i % 2 ? ",\"odd\":{\"BOOL\":true}" : "");
    put_n("q", 1, "");
    json_t *j = CALL("Query", "{\"TableName\":\"tbl\",\"KeyConditionExpression\":\"pk = :p AND sk "
                     "BETWEEN :a AND :b\",\"ExpressionAttributeValues\":{\":p\":{\"S\":\"p\"},"
                     "\":a\":{\"N\":\"5\"},\":b\":{\"N\":\"9\"}},\"ScanIndexForward\":false}", 200);
    CHECK_EQ(int_at(j, "Count"), 5);
    CHECK(strcmp(str_at(j, "Items.0.sk.N"), "9") == 0);
    json_decref(j);
    /* Limit and resuming */
    j = CALL("Query", "{\"TableName\":\"tbl\",\"KeyConditionExpression\":\"pk = :p\","
             "\"ExpressionAttributeValues\":{\":p\":{\"S\":\"p\"}},\"Limit\":7}", 200);
    CHECK_EQ(int_at(j, "Count"), 7);
    CHECK(strcmp(str_at(j, "LastEvaluatedKey.sk.N"), "6") == 0);
    json_decref(j);
    j = CALL("Query", "{\"TableName\":\"tbl\",\"KeyConditionExpression\":\"pk = :p\","
             "\"ExpressionAttributeValues\":{\":p\":{\"S\":\"p\"}},\"ExclusiveStartKey\":"
             "{\"pk\":{\"S\":\"p\"},\"sk\":{\"N\":\"6\"}}}", 200);
    CHECK_EQ(int_at(j, "Count"), 13);
    CHECK(json_object_get(j, "LastEvaluatedKey") == NULL);
    json_decref(j);
    /* legacy KeyConditions + QueryFilter + AttributesToGet */
    j = CALL("Query", "{\"TableName\":\"tbl\",\"KeyConditions\":{\"pk\":{\"ComparisonOperator\":"
             "\"EQ\",\"AttributeValueList\":[{\"S\":\"p\"}]},\"sk\":{\"ComparisonOperator\":\"GE\","
             "\"AttributeValueList\":[{\"N\":\"10\"}]}},\"QueryFilter\":{\"odd\":{"
             "\"ComparisonOperator\":\"NOT_NULL\"}},\"AttributesToGet\":[\"sk\"]}", 200);
    CHECK_EQ(int_at(j, "Count"), 5);
    CHECK_EQ(int_at(j, "ScannedCount"), 10);
    CHECK_EQ(json_object_size(json_array_get(json_object_get(j, "Items"), 0)), 1u);
    json_decref(j);
    /* filter and Select COUNT */
    j = CALL("Query", "{\"TableName\":\"tbl\",\"KeyConditionExpression\":\"pk = :p\","
             "\"FilterExpression\":\"attribute_exists(odd)\",\"Select\":\"COUNT\","
             "\"ExpressionAttributeValues\":{\":p\":{\"S\":\"p\"}}}", 200);
    CHECK_EQ(int_at(j, "Count"), 10);
    CHECK_EQ(int_at(j, "ScannedCount"), 20);
    CHECK(json_object_get(j, "Items") == NULL);
    json_decref(j);
    ERROR("Query", "{\"TableName\":\"tbl\"}", "ValidationException", "KeyConditionExpression");
    ERROR("Query", "{\"TableName\":\"tbl\",\"KeyConditionExpression\":\"sk = :p\","
          "\"ExpressionAttributeValues\":{\":p\":{\"N\":\"1\"}}}", "ValidationException", NULL);
    ERROR("Query", "{\"TableName\":\"tbl\",\"KeyConditionExpression\":\"pk = :p\","
          "\"ExpressionAttributeValues\":{\":p\":{\"S\":\"p\"}},\"IndexName\":\"gsi\"}",
          "ValidationException", "specified index");
    ERROR("Query", "{\"TableName\":\"tbl\",\"KeyConditionExpression\":\"pk = :p\","
          "\"ExpressionAttributeValues\":{\":p\":{\"S\":\"p\"},\":q\":{\"S\":\"p\"}}}",
          "ValidationException", NULL);
    ERROR("Query", "{\"TableName\":\"nope\",\"KeyConditionExpression\":\"pk = :p\","
          "\"ExpressionAttributeValues\":{\":p\":{\"S\":\"p\"}}}", "ResourceNotFoundException", NULL);
    /* Scan, segments, ScanFilter */
    j = CALL("Scan", "{\"TableName\":\"tbl\",\"ReturnConsumedCapacity\":\"TOTAL\"}", 200);
    CHECK_EQ(int_at(j, "Count"), 21);
    CHECK(json_object_get(j, "ConsumedCapacity") != NULL);
    json_decref(j);
    long long seen = 0;
    for (int s = 0; s < 3; s++) {
        char body[128];
        snprintf(body, sizeof body, "{\"TableName\":\"tbl\",\"Segment\":%d,\"TotalSegments\":3}", s);
        j = CALL("Scan", body, 200);
        seen += int_at(j, "Count");
        json_decref(j);
    }
    CHECK_EQ(seen, 21);
    j = CALL("Scan", "{\"TableName\":\"tbl\",\"ScanFilter\":{\"sk\":{\"ComparisonOperator\":\"IN\","
             "\"AttributeValueList\":[{\"N\":\"1\"},{\"N\":\"2\"}]}}}", 200);
    CHECK_EQ(int_at(j, "Count"), 3);
    json_decref(j);
    ERROR("Scan", "{\"TableName\":\"tbl\",\"Segment\":3,\"TotalSegments\":3}", "ValidationException",
          "Segment");
    ERROR("Scan", "{\"TableName\":\"tbl\",\"Segment\":1}", "ValidationException", "TotalSegments");
    keel_db_free(g_db);
}

static void test_pages(void) {
    open_db();
    /* 40 items of ~100 KB: a scan comes back in pages of about 1 MB */
    char *body = malloc(120000);
    REQUIRE(body != NULL);
    char *pad = malloc(100001);
    memset(pad, 'x', 100000);
    pad[100000] = 0;
    for (int i = 0; i < 40; i++) {
        snprintf(body, 120000, "{\"TableName\":\"tbl\",\"Item\":{\"pk\":{\"S\":\"big\"},\"sk\":"
                 "{\"N\":\"%d\"},\"pad\":{\"S\":\"%s\"}}}", i, pad);
        OK("PutItem", body);
    }
    int pages = 0, total = 0;
    char start[200] = "";
    for (;;) {
        snprintf(body, 120000, "{\"TableName\":\"tbl\",\"Select\":\"COUNT\"%s%s%s}",
                 *start ? ",\"ExclusiveStartKey\":" : "", start, "");
        json_t *j = CALL("Scan", body, 200);
        pages++;
        total += (int)int_at(j, "Count");
        json_t *lek = json_object_get(j, "LastEvaluatedKey");
        if (!lek) {
            json_decref(j);
            break;
        }
        char *s = json_dumps(lek, JSON_COMPACT);
        snprintf(start, sizeof start, "%s", s);
        free(s);
        json_decref(j);
        if (pages > 10) break;
    }
    CHECK_EQ(total, 40);
    CHECK(pages >= 4 && pages <= 5);
    free(pad);
    free(body);
    keel_db_free(g_db);
}

static void test_batches(void) {
    open_db();
    json_t *j = CALL("BatchWriteItem", "{\"RequestItems\":{\"tbl\":[{\"PutRequest\":{\"Item\":"
                     "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}}}},{\"PutRequest\":{\"Item\":"
                     "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"2\"}}}},{\"DeleteRequest\":{\"Key\":"
                     "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"3\"}}}}]}}", 200);
    CHECK_EQ(json_object_size(json_object_get(j, "UnprocessedItems")), 0u);
    json_decref(j);
    ERROR("BatchWriteItem", "{\"RequestItems\":{\"tbl\":[{\"PutRequest\":{\"Item\":"
          "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}}}},{\"DeleteRequest\":{\"Key\":"
          "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}}}}]}}", "ValidationException", "duplicates");
    ERROR("BatchWriteItem", "{\"RequestItems\":{\"nope\":[{\"PutRequest\":{\"Item\":"
          "{\"pk\":{\"S\":\"a\"}}}}]}}", "ResourceNotFoundException", NULL);
    char big[8192] = "{\"RequestItems\":{\"tbl\":[";
    for (int i = 0; i < 26; i++)
        snprintf(big + strlen(big), sizeof big - strlen(big), "%s{\"PutRequest\":{\"Item\":{\"pk\":"
                 "{\"S\":\"b\"},\"sk\":{\"N\":\"%d\"}}}}", i ? "," : "", i);
    strcat(big, "]}}");
    ERROR("BatchWriteItem", big, "ValidationException", "less than or equal to 25");
    j = CALL("BatchGetItem", "{\"RequestItems\":{\"tbl\":{\"Keys\":[{\"pk\":{\"S\":\"a\"},\"sk\":"
             "{\"N\":\"1\"}},{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"2\"}},{\"pk\":{\"S\":\"a\"},"
             "\"sk\":{\"N\":\"9\"}}],\"ProjectionExpression\":\"sk\"}}}", 200);
    CHECK_EQ(json_array_size(json_object_get(json_object_get(j, "Responses"), "tbl")), 2u);
    CHECK_EQ(json_object_size(json_object_get(j, "UnprocessedKeys")), 0u);
    json_decref(j);
    ERROR("BatchGetItem", "{\"RequestItems\":{\"tbl\":{\"Keys\":[{\"pk\":{\"S\":\"a\"},\"sk\":"
          "{\"N\":\"1\"}},{\"sk\":{\"N\":\"1\"},\"pk\":{\"S\":\"a\"}}]}}}", "ValidationException",
          "duplicates");
    char *many = malloc(16384);
    strcpy(many, "{\"RequestItems\":{\"tbl\":{\"Keys\":[");
    for (int i = 0; i < 101; i++)
        snprintf(many + strlen(many), 16384 - strlen(many), "%s{\"pk\":{\"S\":\"a\"},\"sk\":"
                 "{\"N\":\"%d\"}}", i ? "," : "", i);
    strcat(many, "]}}}");
    ERROR("BatchGetItem", many, "ValidationException", "Too many items requested");
    free(many);
    keel_db_free(g_db);
}

static void test_transactions(void) {
    open_db();
    put_n("a", 1, "");
    OK("TransactWriteItems", "{\"TransactItems\":[{\"Put\":{\"TableName\":\"tbl\",\"Item\":"
       "{\"pk\":{\"S\":\"b\"},\"sk\":{\"N\":\"1\"}},\"ConditionExpression\":"
       "\"attribute_not_exists(pk)\"}},{\"Update\":{\"TableName\":\"tbl\",\"Key\":{\"pk\":"
       "{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}},\"UpdateExpression\":\"SET v = :z\","
       "\"ExpressionAttributeValues\":{\":z\":{\"N\":\"0\"}}}}],\"ClientRequestToken\":\"tok\"}");
    json_t *j = CALL("TransactWriteItems", "{\"TransactItems\":[{\"ConditionCheck\":{\"TableName\":"
                     "\"tbl\",\"Key\":{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}},"
                     "\"ConditionExpression\":\"v = :one\",\"ExpressionAttributeValues\":{\":one\":"
                     "{\"N\":\"1\"}},\"ReturnValuesOnConditionCheckFailure\":\"ALL_OLD\"}},"
                     "{\"Delete\":{\"TableName\":\"tbl\",\"Key\":{\"pk\":{\"S\":\"b\"},\"sk\":"
                     "{\"N\":\"1\"}}}}]}", 400);
    REQUIRE(str_at(j, "__type") && str_at(j, "message"));
    CHECK(strstr(str_at(j, "__type"), "#TransactionCanceledException") != NULL);
    CHECK(strstr(str_at(j, "message"), "[ConditionalCheckFailed, None]") != NULL);
    CHECK(strcmp(str_at(j, "CancellationReasons.0.Code"), "ConditionalCheckFailed") == 0);
    CHECK(strcmp(str_at(j, "CancellationReasons.0.Item.v.N"), "0") == 0);
    CHECK(strcmp(str_at(j, "CancellationReasons.1.Code"), "None") == 0);
    json_decref(j);
    j = CALL("TransactGetItems", "{\"TransactItems\":[{\"Get\":{\"TableName\":\"tbl\",\"Key\":"
             "{\"pk\":{\"S\":\"b\"},\"sk\":{\"N\":\"1\"}}}},{\"Get\":{\"TableName\":\"tbl\",\"Key\":"
             "{\"pk\":{\"S\":\"zz\"},\"sk\":{\"N\":\"1\"}}}},{\"Get\":{\"TableName\":\"tbl\",\"Key\":"
             "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}},\"ProjectionExpression\":\"v\"}}]}", 200);
    CHECK(strcmp(str_at(j, "Responses.0.Item.pk.S"), "b") == 0);
    CHECK_EQ(json_object_size(json_array_get(json_object_get(j, "Responses"), 1)), 0u);
    CHECK(strcmp(str_at(j, "Responses.2.Item.v.N"), "0") == 0);
    json_decref(j);
    ERROR("TransactWriteItems", "{\"TransactItems\":[]}", "ValidationException", NULL);
    ERROR("TransactWriteItems", "{\"TransactItems\":[{\"Put\":{\"TableName\":\"tbl\",\"Item\":"
          "{\"pk\":{\"S\":\"c\"},\"sk\":{\"N\":\"1\"}}}},{\"Delete\":{\"TableName\":\"tbl\",\"Key\":"
          "{\"pk\":{\"S\":\"c\"},\"sk\":{\"N\":\"1\"}}}}]}", "ValidationException",
          "multiple operations on one item");
    keel_db_free(g_db);
}

static void test_partiql(void) {
    open_db();
    json_t *j = CALL("ExecuteStatement", "{\"Statement\":\"INSERT INTO \\\"tbl\\\" VALUE {'pk': ?, "
                     "'sk': 1, 'v': 5}\",\"Parameters\":[{\"S\":\"a\"}]}", 200);
    CHECK_EQ(json_array_size(json_object_get(j, "Items")), 0u);
    json_decref(j);
    ERROR("ExecuteStatement", "{\"Statement\":\"INSERT INTO \\\"tbl\\\" VALUE {'pk': 'a', 'sk': 1}\"}",
          "DuplicateItemException", "Duplicate primary key");
    put_n("a", 2, "");
    j = CALL("ExecuteStatement", "{\"Statement\":\"SELECT sk, v FROM \\\"tbl\\\" WHERE pk = 'a' "
             "AND v >= ?\",\"Parameters\":[{\"N\":\"5\"}]}", 200);
    CHECK_EQ(json_array_size(json_object_get(j, "Items")), 2u);
    CHECK(strcmp(str_at(j, "Items.1.v.N"), "20") == 0);
    json_decref(j);
    j = CALL("ExecuteStatement", "{\"Statement\":\"UPDATE \\\"tbl\\\" SET v = v + 1 WHERE pk = 'a' "
             "AND sk = 1 RETURNING ALL NEW *\"}", 200);
    CHECK(strcmp(str_at(j, "Items.0.v.N"), "6") == 0);
    json_decref(j);
    ERROR("ExecuteStatement", "{\"Statement\":\"SELEC * FROM x\"}", "ValidationException",
          "Statement wasn't well formed");
    ERROR("ExecuteStatement", "{\"Statement\":\"DELETE FROM \\\"tbl\\\" WHERE pk = 'a' AND sk = 1 "
          "AND v = 0\"}", "ConditionalCheckFailedException", NULL);
    ERROR("ExecuteStatement", "{\"Statement\":\"SELECT * FROM \\\"nope\\\"\"}",
          "ResourceNotFoundException", NULL);
    ERROR("ExecuteStatement", "{}", "ValidationException", "Value null at 'statement'");
    j = CALL("BatchExecuteStatement", "{\"Statements\":[{\"Statement\":\"SELECT * FROM \\\"tbl\\\" "
             "WHERE pk = 'a' AND sk = 2\"},{\"Statement\":\"SELECT * FROM \\\"tbl\\\" WHERE pk = ? "
             "AND sk = 9\",\"Parameters\":[{\"S\":\"a\"}]}]}", 200);
    CHECK(strcmp(str_at(j, "Responses.0.Item.v.N"), "20") == 0);
    CHECK_EQ(json_object_size(json_array_get(json_object_get(j, "Responses"), 1)), 0u);
    json_decref(j);
    j = CALL("BatchExecuteStatement", "{\"Statements\":[{\"Statement\":\"INSERT INTO \\\"tbl\\\" "
             "VALUE {'pk': 'a', 'sk': 2}\"},{\"Statement\":\"INSERT INTO \\\"tbl\\\" VALUE "
             "{'pk': 'b', 'sk': 2}\"}]}", 200);
    CHECK(strcmp(str_at(j, "Responses.0.Error.Code"), "DuplicateItem") == 0);
    CHECK(json_object_get(json_array_get(json_object_get(j, "Responses"), 1), "Error") == NULL);
    json_decref(j);
    ERROR("BatchExecuteStatement", "{\"Statements\":[]}", "ValidationException", NULL);
    keel_db_free(g_db);
}

static void test_protocol_errors(void) {
    open_db();
    ERROR("Frobnicate", "{}", "UnknownOperationException", "unknown operation");
    ERROR("PutItem", "{\"TableName\":", "SerializationException", NULL);
    ERROR("PutItem", "[1,2]", "SerializationException", NULL);
    ERROR("PutItem", "\xff\xfe", "SerializationException", NULL);
    ERROR("GetItem", "{\"TableName\":\"tbl\",\"Key\":[]}", "SerializationException", NULL);
    ERROR("Scan", "{\"TableName\":\"tbl\",\"Limit\":\"x\"}", "SerializationException", NULL);
    ERROR("Scan", "{\"TableName\":\"tbl\",\"Limit\":0}", "ValidationException", NULL);
    ERROR("Scan", "{\"TableName\":\"tbl\",\"Select\":\"ALL\"}", "ValidationException", "enum");
    ERROR("PutItem", "{\"TableName\":\"tbl\",\"TableName\":\"uuu\"}", "SerializationException", NULL);
    char deep[300];
    memset(deep, '[', 200);
    deep[200] = 0;
    ERROR("PutItem", deep, "SerializationException", "nesting");
    /* a message that quotes the request, with a quote and a backslash, stays valid JSON */
    ERROR("DescribeTable", "{\"TableName\":\"a\\\"b\\\\c\"}", "ValidationException", "a\"b\\c");
    /* an empty body is an empty request */
    ERROR("DescribeTable", "", "ValidationException", "Value null at 'tableName'");
    /* a NUL inside a name (values may hold NUL, names may not) */
    ERROR("DescribeTable", "{\"TableName\":\"ab\\u0000c\"}", "ValidationException", "NUL");
    /* a NUL inside an object key is still malformed JSON */
    ERROR("DescribeTable", "{\"Table\\u0000Name\":\"abc\"}", "SerializationException", NULL);
    keel_db_free(g_db);
}

int main(int argc, char **argv) {
    static const h_test tests[] = {
        H_TEST(test_tables),
        H_TEST(test_indexes),
        H_TEST(test_ttl),
        H_TEST(test_items),
        H_TEST(test_query_scan),
        H_TEST(test_pages),
        H_TEST(test_batches),
        H_TEST(test_transactions),
        H_TEST(test_partiql),
        H_TEST(test_protocol_errors),
    };
    return h_main(argc, argv, tests, H_COUNT(tests));
}
