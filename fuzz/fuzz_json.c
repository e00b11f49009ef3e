/*
 * fuzz_json.c: libFuzzer target for DynamoDB JSON <-> CBOR (keel_db_json_to_cbor and
 * keel_db_json_from_cbor in keel_db.h), the input surface of `keel db` and of the coming
 * HTTP endpoint: JSON from users and clients, CBOR from files.
 *
 * The first input byte picks what the rest is: bits 0-1 the kind (item, value,
 * ExpressionAttributeValues, ExpressionAttributeNames), bit 2 the direction.
 *   JSON text  -> CBOR: when accepted, the CBOR must read back as JSON, and that JSON must
 *                 give the very same CBOR bytes again (conversion is exact: numbers are
 *                 normalized once, nothing else changes) and the very same text.
 *   CBOR bytes -> JSON: when accepted, the JSON must be accepted back or refused with
 *                 KEEL_EVALIDATION (it may hold what only JSON input checks, such as
 *                 duplicate set members); when accepted, one more round gives the same text.
 * Every failure must be KEEL_EVALIDATION (KEEL_ENOMEM under the allocator limit) with a
 * detail message. Broken promises abort; ASan/UBSan/LSan catch the rest. replay.c drives it
 * without libFuzzer.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "keel_db.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    return 0;
}

#define PROMISE(c)                                                                  \
    do {                                                                            \
        if (!(c)) {                                                                 \
            fprintf(stderr, "broken promise: %s (%s:%d) [%s]\n", #c, __FILE__, __LINE__, \
                    keel_errmsg());                                                 \
            abort();                                                                \
        }                                                                           \
    } while (0)

/* A failure must be one of the documented ones and say why. */
static void check_failure(keel_status st) {
    PROMISE(st == KEEL_EVALIDATION || st == KEEL_ENOMEM);
    PROMISE(keel_errmsg()[0] != '\0');
}

static void from_json(keel_db_json_kind kind, const char *text, size_t n) {
    uint8_t *cbor = NULL, *cbor2 = NULL;
    size_t clen = 0, clen2 = 0;
    char *json = NULL, *json2 = NULL;
    size_t jlen = 0, jlen2 = 0;

    keel_status st = keel_db_json_to_cbor(kind, text, n, &cbor, &clen);
    if (st != KEEL_OK) {
        check_failure(st);
        return;
    }
    st = keel_db_json_from_cbor(kind, cbor, clen, &json, &jlen);
    PROMISE(st == KEEL_OK);
    PROMISE(strlen(json) == jlen);
    st = keel_db_json_to_cbor(kind, json, jlen, &cbor2, &clen2);
    PROMISE(st == KEEL_OK);
    PROMISE(clen2 == clen && memcmp(cbor2, cbor, clen) == 0);
    st = keel_db_json_from_cbor(kind, cbor2, clen2, &json2, &jlen2);
    PROMISE(st == KEEL_OK);
    PROMISE(jlen2 == jlen && memcmp(json2, json, jlen) == 0);
    free(cbor);
    free(cbor2);
    free(json);
    free(json2);
}

static void from_cbor(keel_db_json_kind kind, const uint8_t *p, size_t n) {
    char *json = NULL, *json2 = NULL;
    size_t jlen = 0, jlen2 = 0;
    uint8_t *cbor = NULL;
    size_t clen = 0;

    keel_status st = keel_db_json_from_cbor(kind, p, n, &json, &jlen);
    if (st != KEEL_OK) {
        check_failure(st);
        return;
    }
    PROMISE(strlen(json) == jlen);
    st = keel_db_json_to_cbor(kind, json, jlen, &cbor, &clen);
    if (st != KEEL_OK) {
        check_failure(st);
        free(json);
        return;
    }
    st = keel_db_json_from_cbor(kind, cbor, clen, &json2, &jlen2);
    PROMISE(st == KEEL_OK);
    PROMISE(jlen2 == jlen && memcmp(json2, json, jlen) == 0);
    free(json);
    free(json2);
    free(cbor);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    keel_db_json_kind kind = (keel_db_json_kind)(data[0] & 3);
    /* An owned copy of exactly the remaining size, so ASan sees any read past it. */
    size_t n = size - 1;
    uint8_t *rest = malloc(n ? n : 1);
    if (!rest) return 0;
    memcpy(rest, data + 1, n);
    if (data[0] & 4)
        from_cbor(kind, rest, n);
    else
        from_json(kind, (const char *)rest, n);
    free(rest);
    return 0;
}
