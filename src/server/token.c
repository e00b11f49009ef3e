/*
 * token.c: ExecuteStatement's NextToken, an opaque, tamper-checked wrapper around the
 * engine's resume position (keel_db_result_position).
 *
 * A token is base64 (RFC 4648) of [version 1][16-byte tag][position]. The tag is two
 * HighwayHash-64 values, under two 256-bit keys drawn from getrandom() once per process,
 * of the position, the statement text and its parameters (CBOR): a token opens only for the
 * statement and parameters it was made for, and any changed byte, or a token from another
 * process (a restarted server), fails to open (ValidationException "Given NextToken is not
 * valid"). The position is therefore never read unless this process made it; the engine
 * checks it again anyway. No clock: a token stays valid for the life of the process.
 */
#include "server/server.h"
#include "base/base.h"

#include <highwayhash/c_bindings.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_VERSION 1u
#define TAG_LEN 16u

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static uint64_t keys[2][4];
static bool keys_ok;

static void make_keys(void) { keys_ok = keel__os_random(keys, sizeof keys) == 0; }

/* The tag of (position, statement, params) into out[16]; false without keys. */
static bool tag(const uint8_t *pos, size_t len, const char *stmt, const uint8_t *params,
                size_t plen, uint8_t out[TAG_LEN]) {
    pthread_once(&key_once, make_keys);
    if (!keys_ok) return false;
    size_t sl = strlen(stmt), n = 8 + len + 8 + sl + plen;
    char *msg = malloc(n);
    if (!msg) return false;
    /* lengths first, so no two different triples give the same bytes */
    for (int b = 0; b < 8; b++) msg[b] = (char)((uint64_t)len >> (8 * b));
    memcpy(msg + 8, pos, len);
    for (int b = 0; b < 8; b++) msg[8 + len + b] = (char)((uint64_t)sl >> (8 * b));
    memcpy(msg + 16 + len, stmt, sl);
    if (plen) memcpy(msg + 16 + len + sl, params, plen);
    for (int k = 0; k < 2; k++) {
        uint64_t h = HighwayHash64(keys[k], msg, n);
        for (int b = 0; b < 8; b++) out[8 * k + b] = (uint8_t)(h >> (8 * b));
    }
    free(msg);
    return true;
}

char *ksrv_token_seal(const uint8_t *pos, size_t len, const char *stmt, const uint8_t *params,
                      size_t plen) {
    size_t n = 1 + TAG_LEN + len;
    uint8_t *raw = malloc(n);
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    if (!raw || !out || !tag(pos, len, stmt, params, plen, raw + 1)) {
        free(raw);
        free(out);
        return NULL;
    }
    raw[0] = TOKEN_VERSION;
    memcpy(raw + 1 + TAG_LEN, pos, len);
    kdb_base64_encode(raw, n, out);
    free(raw);
    return out;
}

bool ksrv_token_open(const char *token, const char *stmt, const uint8_t *params, size_t plen,
                     uint8_t **pos, size_t *len) {
    size_t tl = strlen(token), n = 0;
    uint8_t want[TAG_LEN];
    *pos = NULL;
    *len = 0;
    if (tl < 4 || tl > KSRV_MAX_TOKEN) return false;
    uint8_t *raw = malloc(3 * (tl / 4) + 1);
    if (!raw) return false;
    if (!kdb_base64_decode(token, tl, raw, &n) || n < 1 + TAG_LEN + 8 || raw[0] != TOKEN_VERSION ||
        !tag(raw + 1 + TAG_LEN, n - 1 - TAG_LEN, stmt, params, plen, want)) {
        free(raw);
        return false;
    }
    uint8_t diff = 0;   /* constant time */
    for (size_t i = 0; i < TAG_LEN; i++) diff |= (uint8_t)(want[i] ^ raw[1 + i]);
    if (diff) {
        free(raw);
        return false;
    }
    memmove(raw, raw + 1 + TAG_LEN, n - 1 - TAG_LEN);
    *pos = raw;
    *len = n - 1 - TAG_LEN;
    return true;
}
