/*
 * test_server_ops.c: the engine calls under the newer DynamoDB operations, and the token
 * memory, where the wire cannot reach them.
 *
 * keel_db_execute_transaction (reads, writes, cancellation reasons with DuplicateItem,
 * refusals before anything is written); keel_db_result_position and opts.resume (every
 * plan, paged with a limit of 1..4, gives the same items as one unpaged run; malformed
 * positions are refused); the ClientRequestToken cache (idempotency.c) driven with an
 * explicit clock: a token is remembered for exactly 600 seconds, answers its response
 * again, refuses another request (mismatch) and a concurrent one (in progress), is
 * forgotten when its request failed, and the cache stays bounded (KSRV_IDEM_MAX: the
 * oldest go first); and ExecuteTransaction / SearchVectors through keel_dynamo_handle
 * for the members the Python tests send through botocore.
 */
#include "util.h"

#include "keel_server.h"
#include "server/server.h"
#include "db/json.h"

#include <jansson.h>
#include <stdlib.h>

static keel_db *g_db;

static int call(const char *op, const char *body, char **out) {
    keel_dynamo_response r;
    int st = keel_dynamo_handle(g_db, op, body, strlen(body), &r);
    if (out) *out = strdup(r.body);
    keel_dynamo_response_free(&r);
    return st;
}

static void setup(void) {
    CHECK_EQ(keel_db_open_memory(NULL, &g_db), KEEL_OK);
    CHECK_EQ(call("CreateTable", "{\"TableName\":\"tbl\",\"KeySchema\":[{\"AttributeName\":"
                  "\"pk\",\"KeyType\":\"HASH\"},{\"AttributeName\":\"sk\",\"KeyType\":\"RANGE\"}],"
                  "\"AttributeDefinitions\":[{\"AttributeName\":\"pk\",\"AttributeType\":\"S\"},"
                  "{\"AttributeName\":\"sk\",\"AttributeType\":\"N\"}]}", NULL), 200);
    for (int i = 0; i < 30; i++) {
        char body[200];
        snprintf(body, sizeof body, "{\"TableName\":\"tbl\",\"Item\":{\"pk\":{\"S\":\"p%d\"},"
                 "\"sk\":{\"N\":\"%d\"},\"v\":{\"N\":\"%d\"}}}", i % 3, i, i % 4);
        CHECK_EQ(call("PutItem", body, NULL), 200);
    }
}

static void test_execute_transaction(void) {
    setup();
    keel_db_tx_statement s[3] = {
        {"INSERT INTO \"tbl\" VALUE {'pk': 'x', 'sk': 1, 'v': 1}", NULL, 0, 0},
        {"UPDATE \"tbl\" SET v = v + 10 WHERE pk = 'p0' AND sk = 0", NULL, 0, 0},
        {"DELETE FROM \"tbl\" WHERE pk = 'p1' AND sk = 1", NULL, 0, 0}};
    keel_db_tx_reason reasons[3];
    CHECK_EQ(keel_db_execute_transaction(g_db, s, 3, NULL, reasons), KEEL_OK);
    /* again: the INSERT is a duplicate, the UPDATE fine, the DELETE of an absent item fine */
    CHECK_EQ(keel_db_execute_transaction(g_db, s, 3, NULL, reasons), KEEL_ECANCELED);
    CHECK(strcmp(reasons[0].code_name, "DuplicateItem") == 0);
    CHECK(strcmp(reasons[1].code_name, "None") == 0);
    CHECK(strcmp(reasons[2].code_name, "None") == 0);
    keel_db_tx_reasons_free(reasons, 3);
    keel_db_tx_statement r[2] = {
        {"SELECT v FROM \"tbl\" WHERE pk = 'p0' AND sk = 0", NULL, 0, 0},
        {"SELECT * FROM \"tbl\" WHERE sk = 1 AND pk = 'p1'", NULL, 0, 0}};
    keel_db_buf items[2];
    CHECK_EQ(keel_db_execute_transaction(g_db, r, 2, items, NULL), KEEL_OK);
    CHECK(items[0].data != NULL && items[1].data == NULL);  /* p1/1 was deleted */
    char *json = NULL;
    size_t len;
    CHECK_EQ(keel_db_json_from_cbor(KEEL_DB_JSON_ITEM, items[0].data, items[0].len, &json, &len),
             KEEL_OK);
    CHECKF(strstr(json, "\"10\"") != NULL && !strstr(json, "pk"), "%s", json);
    free(json);
    keel_db_buf_free(&items[0]);
    /* refused whole */
    keel_db_tx_statement mix[2] = {r[0], s[1]};
    CHECK_EQ(keel_db_execute_transaction(g_db, mix, 2, items, NULL), KEEL_EVALIDATION);
    keel_db_tx_statement scan = {"SELECT * FROM \"tbl\"", NULL, 0, 0};
    CHECK_EQ(keel_db_execute_transaction(g_db, &scan, 1, items, NULL), KEEL_EVALIDATION);
    keel_db_tx_statement ret = {"UPDATE \"tbl\" SET v = 1 WHERE pk = 'p0' AND sk = 0 "
                                "RETURNING ALL NEW *", NULL, 0, 0};
    CHECK_EQ(keel_db_execute_transaction(g_db, &ret, 1, NULL, NULL), KEEL_EVALIDATION);
    CHECK_EQ(keel_db_execute_transaction(g_db, s, 0, NULL, NULL), KEEL_EVALIDATION);
    keel_db_free(g_db);
}

/* Run `stmt` in pages of `limit` items evaluated; the items, concatenated as JSON text. */
static size_t paged(const char *stmt, uint64_t limit, char *out, size_t cap) {
    keel_db_buf pos = {0};
    size_t used = 0, pages = 0;
    out[0] = 0;
    for (;;) {
        keel_db_execute_opts o = KEEL_DB_EXECUTE_OPTS_INIT;
        o.limit = limit;
        o.resume = pos.data;
        o.resume_len = pos.len;
        keel_db_result *res = NULL;
        CHECK_EQ(keel_db_execute(g_db, stmt, NULL, 0, &o, &res), KEEL_OK);
        keel_db_buf_free(&pos);
        keel_view v;
        while (keel_db_result_next(res, &v) == KEEL_OK) {
            char *j;
            size_t n;
            CHECK_EQ(keel_db_json_from_cbor(KEEL_DB_JSON_ITEM, v.data, v.len, &j, &n), KEEL_OK);
            used += (size_t)snprintf(out + used, cap - used, "%s;", j);
            free(j);
        }
        pages++;
        keel_view last;
        keel_status st = keel_db_result_position(res, &pos, &last);
        keel_db_result_free(res);
        if (st == KEEL_NOTFOUND) break;
        CHECK_EQ(st, KEEL_OK);
        CHECK(pages < 1000);
    }
    return pages;
}

static void test_resume(void) {
    setup();
    static const char *const stmts[] = {
        "SELECT * FROM \"tbl\"",
        "SELECT * FROM \"tbl\" WHERE pk IN ('p0', 'p2')",
        "SELECT sk FROM \"tbl\" WHERE pk = 'p1' AND v = 1",
        "SELECT * FROM \"tbl\" WHERE pk = 'p1' AND sk IN (1, 4, 7, 10, 13)",
        "SELECT * FROM \"tbl\" WHERE pk = 'p2' AND sk > 5 ORDER BY sk DESC",
        "SELECT * FROM \"tbl\" WHERE pk = 'none'",
    };
    static char whole[1 << 16], part[1 << 16];
    for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++) {
        CHECK_EQ(paged(stmts[i], 0, whole, sizeof whole), 1u);
        for (uint64_t lim = 1; lim <= 4; lim++) {
            paged(stmts[i], lim, part, sizeof part);
            CHECKF(strcmp(whole, part) == 0, "%s limit %llu: %.300s vs %.300s",
                   stmts[i], (unsigned long long)lim, part, whole);
        }
    }
    /* malformed positions, and a position for a write */
    keel_db_execute_opts o = KEEL_DB_EXECUTE_OPTS_INIT;
    keel_db_result *res = NULL;
    uint8_t bad[12] = {0, 0, 0, 0, 0, 0, 0, 99};
    o.resume = bad;
    o.resume_len = 8;
    CHECK_EQ(keel_db_execute(g_db, "SELECT * FROM \"tbl\"", NULL, 0, &o, &res), KEEL_EVALIDATION);
    o.resume_len = 3;
    CHECK_EQ(keel_db_execute(g_db, "SELECT * FROM \"tbl\"", NULL, 0, &o, &res), KEEL_EVALIDATION);
    bad[7] = 0;
    bad[8] = 0xff;
    o.resume_len = 9;
    CHECK_EQ(keel_db_execute(g_db, "SELECT * FROM \"tbl\"", NULL, 0, &o, &res), KEEL_EVALIDATION);
    o.resume_len = 8;
    CHECK_EQ(keel_db_execute(g_db, "DELETE FROM \"tbl\" WHERE pk = 'p0' AND sk = 0", NULL, 0,
                             &o, &res), KEEL_EVALIDATION);
    CHECK(res == NULL);
    keel_db_free(g_db);
}

static void test_token_cache(void) {
    setup();
    json_t *req = json_pack("{s:s}", "a", "b"), *other = json_pack("{s:s}", "a", "c");
    json_t *out = json_pack("{s:i}", "x", 1);
    char *resp;
    size_t len;
    int64_t t0 = 1000;
    CHECK_EQ(ksrv_idem_begin(g_db, "Op", "tok", req, t0, &resp, &len), KSRV_IDEM_NEW);
    CHECK_EQ(ksrv_idem_begin(g_db, "Op", "tok", req, t0 + 1, &resp, &len), KSRV_IDEM_IN_PROGRESS);
    ksrv_idem_end(g_db, "tok", true, out);
    CHECK_EQ(ksrv_idem_begin(g_db, "Op", "tok", req, t0 + 599, &resp, &len), KSRV_IDEM_DONE);
    CHECK(resp && strcmp(resp, "{\"x\":1}") == 0);
    free(resp);
    CHECK_EQ(ksrv_idem_begin(g_db, "Op", "tok", other, t0 + 10, &resp, &len), KSRV_IDEM_MISMATCH);
    CHECK_EQ(ksrv_idem_begin(g_db, "Op2", "tok", req, t0 + 10, &resp, &len), KSRV_IDEM_MISMATCH);
    /* 600 seconds later it is forgotten: the same token is new again */
    CHECK_EQ(ksrv_idem_begin(g_db, "Op", "tok", other, t0 + 600, &resp, &len), KSRV_IDEM_NEW);
    ksrv_idem_end(g_db, "tok", false, NULL);    /* failed: forgotten at once */
    CHECK_EQ(ksrv_idem_begin(g_db, "Op", "tok", req, t0 + 601, &resp, &len), KSRV_IDEM_NEW);
    ksrv_idem_end(g_db, "tok", true, out);
    /* bounded: after KSRV_IDEM_MAX newer tokens the first is gone */
    for (unsigned i = 0; i < KSRV_IDEM_MAX; i++) {
        char t[40];
        snprintf(t, sizeof t, "t%u", i);
        CHECK_EQ(ksrv_idem_begin(g_db, "Op", t, req, t0 + 602, &resp, &len), KSRV_IDEM_NEW);
        ksrv_idem_end(g_db, t, true, out);
    }
    CHECK_EQ(ksrv_idem_begin(g_db, "Op", "tok", other, t0 + 603, &resp, &len), KSRV_IDEM_NEW);
    char last[40];
    snprintf(last, sizeof last, "t%u", KSRV_IDEM_MAX - 1);
    CHECK_EQ(ksrv_idem_begin(g_db, "Op", last, other, t0 + 603, &resp, &len), KSRV_IDEM_MISMATCH);
    json_decref(req);
    json_decref(other);
    json_decref(out);
    keel_db_free(g_db);     /* frees the cache with the handle (ASan: no leak) */
}

static void test_wire(void) {
    setup();
    char *out = NULL;
    CHECK_EQ(call("ExecuteTransaction", "{\"TransactStatements\":[{\"Statement\":\"SELECT v "
                  "FROM \\\"tbl\\\" WHERE pk = ? AND sk = 3\",\"Parameters\":[{\"S\":\"p0\"}]}],"
                  "\"ReturnConsumedCapacity\":\"TOTAL\"}", &out), 200);
    CHECKF(strstr(out, "\"Responses\":[{\"Item\":{\"v\":{\"N\":\"3\"}}}]") != NULL, "%s", out);
    CHECKF(strstr(out, "ConsumedCapacity") != NULL, "%s", out);
    free(out);
    CHECK_EQ(call("ExecuteTransaction", "{\"TransactStatements\":[{\"Statement\":\"DELETE FROM "
                  "\\\"tbl\\\" WHERE pk = 'p0' AND sk = 3\",\"ReturnValuesOnConditionCheckFailure"
                  "\":\"SOME\"}]}", &out), 400);
    CHECKF(strstr(out, "enum value set") != NULL, "%s", out);
    free(out);
    CHECK_EQ(call("ExecuteStatement", "{\"Statement\":\"SELECT * FROM \\\"tbl\\\"\","
                  "\"NextToken\":\"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\"}", &out), 400);
    CHECKF(strstr(out, "Given NextToken is not valid") != NULL, "%s", out);
    free(out);
    CHECK_EQ(call("SearchVectors", "{\"TableName\":\"tbl\",\"IndexName\":\"none\","
                  "\"SearchVector\":[{\"N\":\"1\"}],\"TopK\":1}", &out), 400);
    CHECKF(strstr(out, "ResourceNotFoundException") != NULL, "%s", out);
    free(out);
    keel_db_free(g_db);
}

/* kdb_json_write_item gives json_dumps(kdb_json_from_item, JSON_COMPACT)'s bytes. */
static void same_text(const uint8_t *cbor, size_t len) {
    json_t *j = NULL;
    CHECK_EQ(kdb_json_from_item(cbor, len, &j), KEEL_OK);
    char *want = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    kdb_buf out = {0};
    kdb_buf_put(&out, "x", 1);      /* appends after what is there */
    CHECK(kdb_json_write_item(cbor, len, &out));
    CHECKF(out.len == 1 + strlen(want) && memcmp(out.p + 1, want, out.len - 1) == 0,
           "%.*s vs %s", (int)out.len, (const char *)out.p, want);
    free(want);
    kdb_buf_free(&out);
}

static void test_json_writer(void) {
    static const char *const items[] = {
        "{\"pk\":{\"S\":\"a\"}}",
        "{\"s\":{\"S\":\"q\\\"b\\\\s/\\n\\r\\t\\b\\f\\u0001\\u001f\\u0000 \\u00e9\\u4e2d\\ud83d\\ude00\"}}",
        "{\"n1\":{\"N\":\"0\"},\"n2\":{\"N\":\"-12.50\"},\"n3\":{\"N\":\"1e125\"},"
        "\"n4\":{\"N\":\"12345678901234567890123456789012345678\"},\"n5\":{\"N\":\"-1E-130\"}}",
        "{\"b\":{\"B\":\"AAEC/w==\"},\"e\":{\"B\":\"\"},\"t\":{\"BOOL\":true},"
        "\"f\":{\"BOOL\":false},\"z\":{\"NULL\":true}}",
        "{\"ss\":{\"SS\":[\"a\",\"\\\"\",\"\\u00ff\"]},\"ns\":{\"NS\":[\"1\",\"2.5\",\"-3\"]},"
        "\"bs\":{\"BS\":[\"AA==\",\"AQI=\"]}}",
        "{\"l\":{\"L\":[{\"S\":\"x\"},{\"L\":[]},{\"M\":{}},{\"M\":{\"k\\\"q\":{\"N\":\"1\"},"
        "\"\\u00e9\":{\"L\":[{\"NULL\":true}]}}}]},\"m\":{\"M\":{\"a\":{\"M\":{\"b\":{\"SS\":[\"c\"]}}}}}}",
        "{\"\":{\"S\":\"\"}}",
    };
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
        uint8_t *cbor = NULL;
        size_t len = 0;
        CHECKF(keel_db_json_to_cbor(KEEL_DB_JSON_ITEM, items[i], strlen(items[i]), &cbor, &len) ==
               KEEL_OK, "%s: %s", items[i], keel_errmsg());
        if (cbor) same_text(cbor, len);
        free(cbor);
    }
    /* a float32 vector: {"v": tag 85 (3 floats)} */
    uint8_t vec[3 + 3 + 12] = {0xA1, 0x61, 'v', 0xD8, 0x55, 0x4C};
    float fs[3] = {0.1f, -3.0f, 1e-7f};
    memcpy(vec + 6, fs, sizeof fs);     /* little-endian machine (x86, arm64) */
    same_text(vec, sizeof vec);
    /* what it leaves to jansson: a map over 32 pairs, invalid UTF-8, a repeated name */
    kdb_buf big = {0}, out = {0};
    kdb_enc_map(&big, 40);
    for (int i = 0; i < 40; i++) {
        char name[8];
        snprintf(name, sizeof name, "a%d", i);
        kdb_enc_text(&big, name, strlen(name));
        kdb_enc_text(&big, "v", 1);
    }
    CHECK(!kdb_json_write_item(big.p, big.len, &out) && out.len == 0);
    uint8_t bad[] = {0xA1, 0x61, 'v', 0x62, 0xC3, 0x28};   /* {"v": "\xC3("} */
    CHECK(!kdb_json_write_item(bad, sizeof bad, &out) && out.len == 0);
    uint8_t twice[] = {0xA2, 0x61, 'v', 0x61, 'x', 0x61, 'v', 0x61, 'y'};
    CHECK(!kdb_json_write_item(twice, sizeof twice, &out) && out.len == 0);
    kdb_buf_free(&big);
    kdb_buf_free(&out);
}

int main(int argc, char **argv) {
    static const h_test tests[] = {
        H_TEST(test_execute_transaction),
        H_TEST(test_resume),
        H_TEST(test_token_cache),
        H_TEST(test_wire),
        H_TEST(test_json_writer),
    };
    return h_main(argc, argv, tests, H_COUNT(tests));
}
