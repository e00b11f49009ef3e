/*
 * db_logic.h: helpers shared by test_db_logic.c and test_db_tx.c: an in-memory database
 * with one table "tbl" (partition key "pk", S), items written in db_util.h's CBOR notation
 * ({"pk": "k", "n": 1}), and comparison of a stored item with a notation. Encoding uses
 * cb(), which is not thread-safe: threads get their encodings from the main thread.
 */
#ifndef KEEL_TEST_DB_LOGIC_H
#define KEEL_TEST_DB_LOGIC_H

#include "db_util.h"

#include <stdlib.h>

static const keel_db_schema H_UNUSED pk_schema = {"pk", KEEL_DB_KEY_S, NULL, KEEL_DB_KEY_NONE};

static H_UNUSED keel_db *mem_db(void) {
    keel_db *db = NULL;
    if (keel_db_open_memory(NULL, &db) != KEEL_OK) return NULL;
    if (keel_db_create_table(db, "tbl", &pk_schema) != KEEL_OK) {
        keel_db_free(db);
        return NULL;
    }
    return db;
}

/* Do the encoded item p[0..len) and the notation `want` hold the same attributes? */
static H_UNUSED bool same(const uint8_t *p, size_t len, const char *want) {
    uint8_t *keep;
    kdb_val w = val_of(want, &keep), g;
    bool ok = p && kdb_item_open(p, len, &g) && kdb_val_equal(&g, &w);
    free(keep);
    return ok;
}

static H_UNUSED keel_status put(keel_db *db, const char *notation) {
    size_t len;
    uint8_t *item = cbdup(notation, &len);
    keel_status st = keel_db_put_item(db, "tbl", item, len);
    free(item);
    return st;
}

/* The item with key pk "k" (or `pk`) as it is stored now, compared with `want` (NULL:
 * absent). */
static H_UNUSED bool item_is(keel_db *db, const char *pk, const char *want) {
    kdb_buf key = {0};
    kdb_enc_map(&key, 1);
    kdb_enc_text(&key, "pk", 2);
    kdb_enc_text(&key, pk, strlen(pk));
    keel_view v;
    keel_status st = keel_db_get_item(db, "tbl", key.p, key.len, &v);
    kdb_buf_free(&key);
    if (!want) return st == KEEL_NOTFOUND;
    return st == KEEL_OK && same(v.data, v.len, want);
}

typedef struct enc {
    uint8_t *p;
    size_t len;
} enc;

static H_UNUSED enc E(const char *notation) {
    enc e = {NULL, 0};
    if (notation) e.p = cbdup(notation, &e.len);
    return e;
}

#endif /* KEEL_TEST_DB_LOGIC_H */
