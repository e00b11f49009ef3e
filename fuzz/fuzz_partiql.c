/*
 * fuzz_partiql.c: libFuzzer target for PartiQL (src/db/partiql_parse.c, partiql_render.c,
 * partiql.c) through the public API, keel_db_execute.
 *
 * The first byte picks the parameters (none, or one of a few CBOR arrays, one of them
 * malformed); the rest is the statement. Each input runs against a fresh in-memory
 * database holding a table "tbl" (pk S, sk N) with a few items and a table "kvs" (id N), so a
 * run never depends on an earlier one. Promises checked (a broken one aborts): a failure
 * is one of the statuses keel_db_execute documents, with a detail message, and a syntax
 * error names a position inside the statement; a result's items are valid items (they
 * convert to DynamoDB JSON); its counts agree with what was read. A SELECT run again (its
 * parse now kept, perhaps a point get: partiql.c) gives the same status, message and
 * items, also with the next parameter array, as that array gives on a fresh database.
 * ASan, UBSan and LSan catch the rest (reads outside the text, leaks of a failed parse or
 * plan).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "keel_db.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PROMISE(c)                                                                  \
    do {                                                                            \
        if (!(c)) {                                                                 \
            fprintf(stderr, "broken promise: %s (%s:%d) [%s]\n", #c, __FILE__, __LINE__, \
                    keel_errmsg());                                                 \
            abort();                                                                \
        }                                                                           \
    } while (0)

/* Parameter arrays: [], ["a"], [1, "a"], [{"x": [1]}, h'00'], and a truncated one. */
static const struct { const uint8_t *p; size_t len; } params[] = {
    {(const uint8_t *)"\x80", 1},
    {(const uint8_t *)"\x81\x61\x61", 3},
    {(const uint8_t *)"\x82\x01\x61\x61", 4},
    {(const uint8_t *)"\x82\xa1\x61x\x81\x01\x41\x00", 8},
    {(const uint8_t *)"\x82\x01", 2},
};

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    return 0;
}

static keel_db *fresh(void) {
    keel_db *db = NULL;
    PROMISE(keel_db_open_memory(NULL, &db) == KEEL_OK);
    keel_db_schema t = {"pk", KEEL_DB_KEY_S, "sk", KEEL_DB_KEY_N};
    keel_db_schema k = {"id", KEEL_DB_KEY_N, NULL, KEEL_DB_KEY_NONE};
    PROMISE(keel_db_create_table(db, "tbl", &t) == KEEL_OK);
    PROMISE(keel_db_create_table(db, "kvs", &k) == KEEL_OK);
    /* {"pk": "a", "sk": 1|2|3, "n": 5, "l": [1, "x"], "m": {"x": [1]}, "s": SS["x"]} */
    for (uint8_t i = 1; i <= 3; i++) {
        uint8_t item[] = {0xa6, 0x62, 'p', 'k', 0x61, 'a', 0x62, 's', 'k', i, 0x61, 'n', 0x05,
                          0x61, 'l', 0x82, 0x01, 0x61, 'x', 0x61, 'm', 0xa1, 0x61, 'x', 0x81,
                          0x01, 0x61, 's', 0xd9, 0x01, 0x02, 0x81, 0x61, 'x'};
        PROMISE(keel_db_put_item(db, "tbl", item, sizeof item) == KEEL_OK);
    }
    uint8_t one[] = {0xa1, 0x62, 'i', 'd', 0x01};
    PROMISE(keel_db_put_item(db, "kvs", one, sizeof one) == KEEL_OK);
    return db;
}

/* One run's outcome: status, message, and the items (each as 8 bytes of length, then the
 * bytes) back to back. */
typedef struct outcome {
    keel_status st;
    char msg[512];
    uint8_t *items;
    size_t len;
} outcome;

static void run(keel_db *db, const char *stmt, unsigned pick, uint64_t limit, outcome *out) {
    keel_db_execute_opts o = KEEL_DB_EXECUTE_OPTS_INIT;
    o.limit = limit;
    keel_db_result *r = NULL;
    memset(out, 0, sizeof *out);
    out->st = keel_db_execute(db, stmt, pick < 5 ? params[pick].p : NULL,
                              pick < 5 ? params[pick].len : 0, &o, &r);
    snprintf(out->msg, sizeof out->msg, "%s", out->st == KEEL_OK ? "" : keel_errmsg());
    if (out->st != KEEL_OK) return;
    keel_view v;
    keel_status st;
    while ((st = keel_db_result_next(r, &v)) == KEEL_OK) {
        uint8_t *q = realloc(out->items, out->len + 8 + v.len);
        PROMISE(q != NULL);
        out->items = q;
        for (int b = 0; b < 8; b++) q[out->len + b] = (uint8_t)((uint64_t)v.len >> (8 * b));
        memcpy(q + out->len + 8, v.data, v.len);
        out->len += 8 + v.len;
    }
    PROMISE(st == KEEL_NOTFOUND);
    keel_db_result_free(r);
}

static bool same(const outcome *a, const outcome *b) {
    return a->st == b->st && strcmp(a->msg, b->msg) == 0 && a->len == b->len &&
           (a->len == 0 || memcmp(a->items, b->items, a->len) == 0);
}


/* A SELECT again on `db` (kept now), and with the next parameters against a fresh one. */
static void again(keel_db *db, const char *stmt, unsigned pick, uint64_t limit) {
    outcome a, b, c, d;
    keel_db *other = fresh();
    run(other, stmt, pick, limit, &a);
    run(db, stmt, pick, limit, &b);
    PROMISE(same(&a, &b));
    unsigned next = (pick + 1) % 6;
    keel_db_free(other);
    other = fresh();
    run(other, stmt, next, limit, &c);
    run(db, stmt, next, limit, &d);
    PROMISE(same(&c, &d));
    keel_db_free(other);
    free(a.items);
    free(b.items);
    free(c.items);
    free(d.items);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    unsigned pick = data[0] % 6;
    char *stmt = malloc(size);
    if (!stmt) return 0;
    memcpy(stmt, data + 1, size - 1);
    stmt[size - 1] = '\0';
    size_t slen = strlen(stmt);
    keel_db *db = fresh();
    keel_db_execute_opts o = KEEL_DB_EXECUTE_OPTS_INIT;
    o.limit = data[0] >> 6;
    keel_db_result *r = NULL;
    keel_status st = keel_db_execute(db, stmt, pick < 5 ? params[pick].p : NULL,
                                     pick < 5 ? params[pick].len : 0, &o, &r);
    if (st != KEEL_OK) {
        PROMISE(r == NULL);
        PROMISE(st == KEEL_ESYNTAX || st == KEEL_EVALIDATION || st == KEEL_ENOTABLE ||
                st == KEEL_ECONDITION || st == KEEL_EDUPLICATE);
        PROMISE(keel_errmsg()[0] != '\0');
        if (st == KEEL_ESYNTAX) {
            unsigned pos;
            const char *at = strstr(keel_errmsg(), "position ");
            PROMISE(at && sscanf(at, "position %u", &pos) == 1 && pos <= slen);
        }
    } else {
        keel_view v;
        uint64_t n = 0, scanned, returned;
        while ((st = keel_db_result_next(r, &v)) == KEEL_OK) {
            char *json;
            PROMISE(keel_db_json_from_cbor(KEEL_DB_JSON_ITEM, v.data, v.len, &json, NULL) ==
                    KEEL_OK);
            free(json);
            n++;
        }
        PROMISE(st == KEEL_NOTFOUND);
        keel_db_result_counts(r, &scanned, &returned);
        PROMISE(returned == n);
        PROMISE(keel_db_result_plan(r) == KEEL_DB_PLAN_WRITE || scanned >= n);
        bool reads = keel_db_result_plan(r) != KEEL_DB_PLAN_WRITE;
        keel_db_result_free(r);
        if (reads) again(db, stmt, pick, o.limit);
    }
    keel_db_free(db);
    free(stmt);
    return 0;
}
