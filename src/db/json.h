/*
 * json.h: DynamoDB JSON <-> keel's CBOR items (json.c). Never installed.
 *
 * DynamoDB's wire format writes every value as an AttributeValue, a JSON object with
 * exactly one member naming its type: {"S": "text"}, {"N": "123.5"} (numbers travel as
 * strings, kept exact), {"B": "base64"}, {"BOOL": true}, {"NULL": true}, {"L": [AV, ...]},
 * {"M": {"name": AV, ...}}, {"SS": ["a", ...]}, {"NS": ["1", ...]}, {"BS": ["base64", ...]}.
 * An item (or a key) is a JSON object of attribute name -> AttributeValue; so are
 * ExpressionAttributeValues (":v" -> AttributeValue); ExpressionAttributeNames map "#n" to
 * plain strings. These functions convert between that form and the CBOR that keel_db.h
 * takes and returns (docs/FORMAT.md), exactly: numbers are parsed and printed by number.c
 * (38 digits, DynamoDB's normalized text, never an exponent), B is strict RFC 4648 base64.
 *
 * keel's float32 vectors have no DynamoDB type: they are written as {"L": [{"N": ...}, ...]}
 * (the form of DynamoDB's SearchVector), each element the shortest decimal that reads back
 * as the same float32. Reading JSON never makes a vector: an L stays an L.
 *
 * Every function borrows its inputs for the duration of the call. Errors are KEEL_EVALIDATION
 * with a DynamoDB-style message (keel_errmsg()) that names the attribute path when the
 * problem is nested, or KEEL_ENOMEM. The server (src/server/) and the public text API
 * (keel_db_json_to_cbor / keel_db_json_from_cbor in keel_db.h) are built on these.
 */
#ifndef KEEL_SRC_DB_JSON_H
#define KEEL_SRC_DB_JSON_H

#include "db/db.h"

#include <jansson.h>

/* Encode one AttributeValue `av` as a CBOR value, appended to `out`. On failure out->len
 * is what it was before the call. Sets: empty sets and duplicate members (numbers compared
 * numerically, so "1" and "1.0" are duplicates) are refused here; other item rules (sizes,
 * nesting of the item as a whole, key types) are kdb_item_check's. */
keel_status kdb_json_to_value(json_t *av, kdb_buf *out);

/* Encode an item or a key, {"name": AttributeValue, ...}, as a CBOR map appended to `out`
 * (attributes in the object's order). On failure out->len is restored. */
keel_status kdb_json_to_item(json_t *m, kdb_buf *out);

/* ExpressionAttributeValues, {":v": AttributeValue, ...}: as kdb_json_to_item, and each
 * name must be ':' followed by 1..254 bytes. An empty object is refused (as DynamoDB). */
keel_status kdb_json_to_values(json_t *m, kdb_buf *out);

/* ExpressionAttributeNames, {"#n": "name", ...}: a CBOR map of text to text. Each name
 * must be '#' followed by 1..254 bytes, each value a non-empty string. Empty: refused. */
keel_status kdb_json_to_names(json_t *m, kdb_buf *out);

/* ExecuteStatement's Parameters, [AttributeValue, ...]: a CBOR array appended to `out`
 * (keel_db_execute's params). An invalid element is named by its index; on failure
 * out->len is restored. */
keel_status kdb_json_to_params(json_t *a, kdb_buf *out);

/* Decode the CBOR value at p[0..len) (exactly one value, nothing after it) into a new
 * AttributeValue. *out is a new reference (json_decref it), set only on KEEL_OK. */
keel_status kdb_json_from_value(const uint8_t *p, size_t len, json_t **out);

/* Decode an item (a CBOR map; padding pairs are skipped) into a new JSON object of
 * AttributeValues. Also serves keys, ExpressionAttributeValues and last-evaluated keys. */
keel_status kdb_json_from_item(const uint8_t *item, size_t len, json_t **out);

/* A CBOR map of text to text (ExpressionAttributeNames) into a JSON object of strings. */
keel_status kdb_json_from_names(const uint8_t *p, size_t len, json_t **out);

/* RFC 4648 base64 (standard alphabet, '=' padding). Encoding writes 4 * ceil(n / 3) bytes
 * and a NUL into `dst`; returns that length. */
size_t kdb_base64_encode(const uint8_t *src, size_t n, char *dst);
/* Strict decoding: the length is a multiple of 4, only the alphabet, '=' only as the last
 * one or two characters, and the unused bits of the last group zero (so every byte string
 * has exactly one accepted text). `dst` holds at least 3 * (n / 4) bytes. False when `src`
 * is not valid; *len_out the decoded length. */
bool kdb_base64_decode(const char *src, size_t n, uint8_t *dst, size_t *len_out);

/* json_write.c: `item` as compact DynamoDB JSON text appended to `out`, the same bytes as
 * json_dumps(kdb_json_from_item(item), JSON_COMPACT), without a jansson tree. False (out
 * restored) for anything it leaves to that path: invalid data, a map of over 32 pairs. */
bool kdb_json_write_item(const uint8_t *item, size_t len, kdb_buf *out);

#endif /* KEEL_SRC_DB_JSON_H */
