/*
 * json_text.c: the public text form of DynamoDB JSON (keel_db.h: keel_db_json_to_cbor and
 * keel_db_json_from_cbor), on top of json.c's conversions between jansson trees and CBOR.
 *
 * Reading parses the caller's text with jansson, refusing duplicate object names (in an
 * item they would silently drop a value) and taking U+0000 as data, then converts by kind
 * (an item, one value, ExpressionAttributeValues or Names, ExecuteStatement's Parameters).
 * Writing converts the CBOR to a tree and formats it on one line with the AWS CLI's
 * spacing. Both return buffers from this library's malloc, whatever allocator jansson was
 * given, so the caller free()s them; on failure nothing is returned and nothing leaks.
 */
#include "db/json.h"

#include <stdlib.h>
#include <string.h>

keel_status keel_db_json_to_cbor(keel_db_json_kind kind, const char *json, size_t len,
                                 uint8_t **cbor_out, size_t *len_out) {
    if (!json || !cbor_out || !len_out)
        return keel__fail(KEEL_EINVAL, "keel_db_json_to_cbor: a NULL argument");
    if (kind != KEEL_DB_JSON_ITEM && kind != KEEL_DB_JSON_VALUE && kind != KEEL_DB_JSON_VALUES &&
        kind != KEEL_DB_JSON_NAMES && kind != KEEL_DB_JSON_PARAMS)
        return keel__fail(KEEL_EINVAL, "keel_db_json_to_cbor: unknown kind %d", (int)kind);
    json_error_t err;
    /* Duplicate names are refused: in an item they would silently drop a value. U+0000 is
     * data like any other character (strings are taken with their lengths). */
    json_t *j = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL,
                           &err);
    if (!j)
        return keel__fail(KEEL_EVALIDATION, "malformed JSON at line %d, column %d: %s",
                          err.line, err.column, err.text);
    kdb_buf b = {NULL, 0, 0, false};
    keel_status st;
    switch (kind) {
    case KEEL_DB_JSON_ITEM: st = kdb_json_to_item(j, &b); break;
    case KEEL_DB_JSON_VALUE: st = kdb_json_to_value(j, &b); break;
    case KEEL_DB_JSON_VALUES: st = kdb_json_to_values(j, &b); break;
    case KEEL_DB_JSON_PARAMS: st = kdb_json_to_params(j, &b); break;
    default: st = kdb_json_to_names(j, &b); break;
    }
    json_decref(j);
    if (st != KEEL_OK) {
        kdb_buf_free(&b);
        return st;
    }
    if (!b.p) {
        /* Cannot happen (every kind writes at least one byte); keep the promise anyway. */
        b.p = malloc(1);
        if (!b.p) return keel__fail(KEEL_ENOMEM, "keel_db_json_to_cbor");
    }
    *cbor_out = b.p;
    *len_out = b.len;
    return KEEL_OK;
}

keel_status keel_db_json_from_cbor(keel_db_json_kind kind, const void *cbor, size_t len,
                                   char **json_out, size_t *len_out) {
    if (!cbor || !json_out)
        return keel__fail(KEEL_EINVAL, "keel_db_json_from_cbor: a NULL argument");
    json_t *j = NULL;
    keel_status st;
    switch (kind) {
    case KEEL_DB_JSON_ITEM:
    case KEEL_DB_JSON_VALUES: st = kdb_json_from_item(cbor, len, &j); break;
    case KEEL_DB_JSON_VALUE: st = kdb_json_from_value(cbor, len, &j); break;
    case KEEL_DB_JSON_NAMES: st = kdb_json_from_names(cbor, len, &j); break;
    default: return keel__fail(KEEL_EINVAL, "keel_db_json_from_cbor: unknown kind %d", (int)kind);
    }
    if (st != KEEL_OK) return st;
    /* One line, ", " and ": " between members (the AWS CLI's spacing, without its
     * indentation); UTF-8 passes through; U+0000 is escaped. */
    char *s = json_dumps(j, JSON_INDENT(0) | JSON_ENCODE_ANY);
    json_decref(j);
    if (!s) return keel__fail(KEEL_ENOMEM, "keel_db_json_from_cbor: formatting JSON");
    /* A copy from our malloc: the caller free()s it whatever allocator jansson was given. */
    size_t n = strlen(s);
    char *copy = malloc(n + 1);
    if (copy) memcpy(copy, s, n + 1);
    json_malloc_t jmalloc;
    json_free_t jfree;
    json_get_alloc_funcs(&jmalloc, &jfree);
    jfree(s);
    if (!copy) return keel__fail(KEEL_ENOMEM, "keel_db_json_from_cbor: formatting JSON");
    *json_out = copy;
    if (len_out) *len_out = n;
    return KEEL_OK;
}
