/*
 * fuzz_request.c: libFuzzer target for the DynamoDB request handler (keel_dynamo_handle in
 * keel_server.h), the input surface of `keel serve` and of the Python in-process client:
 * an operation name and a JSON body, both from the network.
 *
 * The first input byte picks the operation (one of the handler's, or an unknown name);
 * the rest is the body. The database is in memory (keel_db_open_memory), made once, with a
 * table "tbl" (pk S, sk N) holding a few items, so reads, queries and conditions meet real
 * items; what a fuzzed request writes stays for the next one. Promises: the status is 200
 * or 400 (500 only for an allocation failure); the body is one JSON object; an error body
 * has "__type" equal to the response's type, with '#', and a non-empty "message".
 * replay.c drives it without libFuzzer.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "keel_server.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PROMISE(c)                                                                      \
    do {                                                                                \
        if (!(c)) {                                                                     \
            fprintf(stderr, "broken promise: %s (%s:%d)\n", #c, __FILE__, __LINE__);    \
            abort();                                                                    \
        }                                                                               \
    } while (0)

static const char *const ops[] = {
    "CreateTable", "DeleteTable", "DescribeTable", "ListTables", "PutItem", "GetItem",
    "DeleteItem", "UpdateItem", "Query", "Scan", "BatchGetItem", "BatchWriteItem",
    "TransactWriteItems", "TransactGetItems", "DescribeTimeToLive", "UpdateTimeToLive",
    "UpdateTable", "ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction",
    "SearchVectors", "NoSuchOperation", "",
};
#define NOPS (sizeof ops / sizeof ops[0])

static keel_db *db;

static void must(const char *op, const char *body) {
    keel_dynamo_response r;
    int st = keel_dynamo_handle(db, op, body, strlen(body), &r);
    if (st != 200) fprintf(stderr, "setup %s: %s\n", op, r.body);
    PROMISE(st == 200);
    keel_dynamo_response_free(&r);
}

int LLVMFuzzerInitialize(int *argc, char **argv[]) {
    (void)argc;
    (void)argv;
    PROMISE(keel_db_open_memory(NULL, &db) == KEEL_OK);
    must("CreateTable", "{\"TableName\":\"tbl\",\"KeySchema\":[{\"AttributeName\":\"pk\","
         "\"KeyType\":\"HASH\"},{\"AttributeName\":\"sk\",\"KeyType\":\"RANGE\"}],"
         "\"AttributeDefinitions\":[{\"AttributeName\":\"pk\",\"AttributeType\":\"S\"},"
         "{\"AttributeName\":\"sk\",\"AttributeType\":\"N\"}]}");
    for (int i = 0; i < 8; i++) {
        char body[256];
        snprintf(body, sizeof body, "{\"TableName\":\"tbl\",\"Item\":{\"pk\":{\"S\":\"p%d\"},"
                 "\"sk\":{\"N\":\"%d\"},\"v\":{\"N\":\"%d\"},\"l\":{\"L\":[{\"S\":\"x\"}]},"
                 "\"ss\":{\"SS\":[\"a\",\"b\"]}}}", i % 2, i, i * 7);
        must("PutItem", body);
    }
    /* a table with a vector index (3 dimensions, search attribute "c") for SearchVectors */
    must("CreateTable", "{\"TableName\":\"vtb\",\"KeySchema\":[{\"AttributeName\":\"pk\","
         "\"KeyType\":\"HASH\"}],\"AttributeDefinitions\":[{\"AttributeName\":\"pk\","
         "\"AttributeType\":\"S\"}],\"VectorIndexes\":[{\"IndexName\":\"vix\","
         "\"VectorAttribute\":{\"AttributeName\":\"v\"},\"Dimensions\":3,"
         "\"DistanceFunction\":\"COSINE\",\"Projection\":{\"ProjectionType\":\"ALL\"},"
         "\"SearchSchema\":[{\"AttributeName\":\"c\",\"SearchSchemaElementType\":"
         "\"INLINE_FILTER\"}]}]}");
    for (int i = 0; i < 4; i++) {
        char body[256];
        snprintf(body, sizeof body, "{\"TableName\":\"vtb\",\"Item\":{\"pk\":{\"S\":\"v%d\"},"
                 "\"c\":{\"S\":\"%c\"},\"v\":{\"L\":[{\"N\":\"%d\"},{\"N\":\"1\"},"
                 "{\"N\":\"0.5\"}]}}}", i, 'a' + i % 2, i);
        must("PutItem", body);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!db) LLVMFuzzerInitialize(NULL, NULL);
    if (size == 0) return 0;
    const char *op = ops[data[0] % NOPS];
    keel_dynamo_response r;
    int st = keel_dynamo_handle(db, op, (const char *)data + 1, size - 1, &r);
    PROMISE(st == r.status);
    PROMISE(st == 200 || st == 400 || (st == 500 && strstr(r.body, "memory")));
    PROMISE(r.body && strlen(r.body) == r.len);
    json_error_t e;
    json_t *j = json_loadb(r.body, r.len, 0, &e);
    PROMISE(j && json_is_object(j));
    if (st != 200) {
        const char *t = json_string_value(json_object_get(j, "__type"));
        const char *m = json_string_value(json_object_get(j, "message"));
        PROMISE(t && strcmp(t, r.type) == 0 && strchr(t, '#'));
        PROMISE(m && m[0]);
    } else {
        PROMISE(r.type && r.type[0] == 0);
    }
    json_decref(j);
    keel_dynamo_response_free(&r);
    return 0;
}
