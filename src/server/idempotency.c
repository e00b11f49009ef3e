/*
 * idempotency.c: ClientRequestToken for TransactWriteItems and ExecuteTransaction.
 *
 * DynamoDB remembers a transaction's token for 10 minutes: the same token with the same
 * request answers success again without applying it twice; the same token with another
 * request is IdempotentParameterMismatchException; the same token while the first request
 * is still running is TransactionInProgressException. This file keeps that memory, one
 * cache per database handle (hung on keel_db's `ext`, freed with the handle, so a handle
 * opened later at the same address never sees another's tokens).
 *
 * An entry is the token, the operation, a 128-bit hash (XXH3-128) of the request's
 * canonical JSON (keys sorted, compact; the token itself included), the time it was
 * taken, and once the request succeeded its response body. A failed request forgets its
 * token (DynamoDB lets a canceled transaction be retried with it). Memory is bounded:
 * at most KSRV_IDEM_MAX entries and KSRV_IDEM_MAX_BYTES of remembered responses; expired
 * entries go first, then the oldest (an eighth of them at once, so a full cache does not
 * move its array on every request). Lookup is a linear scan of 64-bit token hashes. A response larger than KSRV_IDEM_MAX_RESPONSE is not
 * remembered (only reads give such; running a read again changes nothing).
 *
 * Invariants: entries are in the order they were taken (oldest first), so expiry and
 * eviction remove a prefix; every access holds the one mutex.
 */
#include "server/server.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

typedef struct idem_entry {
    uint64_t th;            /* XXH3-64 of the token: compared first */
    char token[40];
    char op[24];
    XXH128_hash_t h;
    int64_t at;             /* seconds (CLOCK_MONOTONIC) when taken */
    bool done;
    char *resp;             /* done: the response body (NULL: not remembered) */
    size_t len;
} idem_entry;

typedef struct ksrv_idem {
    idem_entry *e;
    size_t n, cap, bytes;
} ksrv_idem;

static pthread_mutex_t idem_lock = PTHREAD_MUTEX_INITIALIZER;

static void idem_free(void *p) {
    ksrv_idem *c = p;
    for (size_t i = 0; i < c->n; i++) free(c->e[i].resp);
    free(c->e);
    free(c);
}

int64_t ksrv_idem_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

/* Drop entries [0, k). */
static void drop_prefix(ksrv_idem *c, size_t k) {
    for (size_t i = 0; i < k; i++) {
        c->bytes -= c->e[i].len;
        free(c->e[i].resp);
    }
    if (k && c->n > k) memmove(c->e, c->e + k, (c->n - k) * sizeof *c->e);
    c->n -= k;
}

static void drop_at(ksrv_idem *c, size_t i) {
    c->bytes -= c->e[i].len;
    free(c->e[i].resp);
    if (c->n > i + 1) memmove(c->e + i, c->e + i + 1, (c->n - i - 1) * sizeof *c->e);
    c->n--;
}

/* The entry of `token`, or c->n. A linear scan of 64-bit hashes: at most KSRV_IDEM_MAX. */
static size_t find(const ksrv_idem *c, const char *token) {
    uint64_t th = XXH3_64bits(token, strlen(token));
    for (size_t i = 0; i < c->n; i++)
        if (c->e[i].th == th && strcmp(c->e[i].token, token) == 0) return i;
    return c->n;
}

static void expire(ksrv_idem *c, int64_t now) {
    size_t k = 0;
    while (k < c->n && now - c->e[k].at >= KSRV_IDEM_SECONDS) k++;
    drop_prefix(c, k);
}

ksrv_idem_result ksrv_idem_begin(keel_db *db, const char *op, const char *token, json_t *req,
                                 int64_t now, char **resp, size_t *len) {
    char *canon = json_dumps(req, JSON_COMPACT | JSON_SORT_KEYS);
    if (!canon) return KSRV_IDEM_ERROR;
    XXH128_hash_t h = XXH3_128bits(canon, strlen(canon));
    free(canon);
    *resp = NULL;
    *len = 0;
    ksrv_idem_result res = KSRV_IDEM_NEW;
    pthread_mutex_lock(&idem_lock);
    ksrv_idem *c = kdb_db_ext(db);
    if (!c && (c = calloc(1, sizeof *c)) != NULL) kdb_db_set_ext(db, c, idem_free);
    if (!c) {
        pthread_mutex_unlock(&idem_lock);
        return KSRV_IDEM_ERROR;
    }
    expire(c, now);
    size_t i = find(c, token);
    if (i < c->n) {
        idem_entry *e = &c->e[i];
        if (strcmp(e->op, op) != 0 || !XXH128_isEqual(e->h, h)) {
            res = KSRV_IDEM_MISMATCH;
        } else if (!e->done) {
            res = KSRV_IDEM_IN_PROGRESS;
        } else if (e->resp) {
            *resp = malloc(e->len + 1);
            if (*resp) {
                memcpy(*resp, e->resp, e->len + 1);
                *len = e->len;
                res = KSRV_IDEM_DONE;
            } else {
                res = KSRV_IDEM_ERROR;
            }
        } else {
            res = KSRV_IDEM_DONE;   /* remembered without its (large) response */
        }
    } else {
        if (c->n == KSRV_IDEM_MAX) drop_prefix(c, KSRV_IDEM_MAX / 8);   /* amortized */
        if (c->n == c->cap) {
            size_t cap = c->cap ? 2 * c->cap : 16;
            idem_entry *e = realloc(c->e, cap * sizeof *e);
            if (!e) res = KSRV_IDEM_ERROR;
            else c->e = e, c->cap = cap;
        }
        if (res == KSRV_IDEM_NEW) {
            idem_entry *e = &c->e[c->n++];
            memset(e, 0, sizeof *e);
            strncpy(e->token, token, sizeof e->token - 1);
            strncpy(e->op, op, sizeof e->op - 1);
            e->h = h;
            e->th = XXH3_64bits(token, strlen(token));
            e->at = now;
        }
    }
    pthread_mutex_unlock(&idem_lock);
    return res;
}

void ksrv_idem_end(keel_db *db, const char *token, bool ok, json_t *out) {
    pthread_mutex_lock(&idem_lock);
    ksrv_idem *c = kdb_db_ext(db);
    size_t i = c ? find(c, token) : 0;
    if (c && i < c->n && !c->e[i].done) {
        if (!ok) {
            drop_at(c, i);
        } else {
            idem_entry *e = &c->e[i];
            e->done = true;
            char *body = out ? json_dumps(out, JSON_COMPACT) : NULL;
            size_t len = body ? strlen(body) : 0;
            if (body && len <= KSRV_IDEM_MAX_RESPONSE) {
                /* make room: the oldest remembered responses go first */
                while (c->bytes + len > KSRV_IDEM_MAX_BYTES && c->n > 1 && i > 0) {
                    drop_prefix(c, 1);
                    i--;
                }
                e = &c->e[i];
                e->resp = body;
                e->len = len;
                c->bytes += len;
                body = NULL;
            }
            free(body);
        }
    }
    pthread_mutex_unlock(&idem_lock);
}

bool ksrv_idem_token(ksrv_req *r, const char **token) {
    *token = NULL;
    if (!ksrv_get_str(r, r->in, "ClientRequestToken", false, token)) return false;
    if (*token && (strlen(*token) < 1 || strlen(*token) > 36))
        return ksrv_fail(r, "ValidationException", "1 validation error detected: Value '%s' at "
                         "'clientRequestToken' failed to satisfy constraint: Member must have "
                         "length %s", *token, strlen(*token) < 1 ? "greater than or equal to 1"
                                                                : "less than or equal to 36");
    return true;
}

bool ksrv_idem_enter(ksrv_req *r, const char *op, const char *token, bool *replayed) {
    char *resp = NULL;
    size_t len = 0;
    *replayed = false;
    switch (ksrv_idem_begin(r->db, op, token, r->in, ksrv_idem_now(), &resp, &len)) {
    case KSRV_IDEM_NEW: return true;
    case KSRV_IDEM_MISMATCH:
        return ksrv_fail(r, "IdempotentParameterMismatchException", "The request uses the same "
                         "client token as a previous, but non-identical request.");
    case KSRV_IDEM_IN_PROGRESS:
        return ksrv_fail(r, "TransactionInProgressException", "The transaction with the given "
                         "request token is already in progress.");
    case KSRV_IDEM_DONE: {
        *replayed = true;
        if (!resp) return true;
        json_t *j = json_loadb(resp, len, 0, NULL);
        free(resp);
        if (!j) return ksrv_fail(r, "InternalServerError", "out of memory");
        json_decref(r->out);
        r->out = j;
        return true;
    }
    default: return ksrv_fail(r, "InternalServerError", "out of memory");
    }
}
