/*
 * sigv4.c: verification of AWS Signature Version 4 for `keel serve --auth KEYID:SECRET`.
 *
 * The request's Authorization header names the key, the credential scope
 * (date/region/service/aws4_request), the signed headers and the signature. We rebuild the
 * canonical request (method, path, empty query, each signed header as
 * "name:trimmed value", the signed header list, SHA-256 of the body), the string to sign
 * and the signing key (HMAC-SHA256 chain from "AWS4" + secret), and compare signatures in
 * constant time (OpenSSL's libcrypto: SHA256, HMAC, CRYPTO_memcmp). X-Amz-Date must be
 * within 15 minutes of now. Every header value is untrusted: lengths are bounded before
 * copying, and a malformed header is a refusal, never a crash.
 */
#include "serve.h"

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_SIGNED 32

static void hex(const unsigned char *p, size_t n, char *out) {
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = 0;
}

static void hmac(const void *key, size_t klen, const char *msg, unsigned char out[32]) {
    unsigned int len = 32;
    HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out, &len);
}

/* Append to a bounded buffer; false when it would overflow. */
static bool cat(char *buf, size_t cap, size_t *len, const char *s, size_t n) {
    if (*len + n + 1 > cap) return false;
    memcpy(buf + *len, s, n);
    *len += n;
    buf[*len] = 0;
    return true;
}

/* "Key=value" member of the Authorization header, up to ',' or end. */
static bool member(const char *auth, const char *key, char *out, size_t cap) {
    const char *p = strstr(auth, key);
    if (!p) return false;
    p += strlen(key);
    size_t n = strcspn(p, ", ");
    if (n == 0 || n >= cap) return false;
    memcpy(out, p, n);
    out[n] = 0;
    return true;
}

/* 20261205T013000Z -> seconds since the epoch, or -1. */
static long long amz_time(const char *s) {
    struct tm tm = {0};
    if (!s || strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z') return -1;
    if (sscanf(s, "%4d%2d%2dT%2d%2d%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (long long)timegm(&tm);
}

ksv_auth_result ksv_sigv4_check(const ksv_auth *a, const ksv_sig_request *req, char *region,
                                size_t region_cap) {
    const char *auth = req->header(req->ctx, "Authorization");
    if (!auth) return KSV_AUTH_MISSING;
    if (strncmp(auth, "AWS4-HMAC-SHA256 ", 17) != 0) return KSV_AUTH_INCOMPLETE;
    char cred[512], signed_hdrs[1024], sig[80];
    if (!member(auth, "Credential=", cred, sizeof cred) ||
        !member(auth, "SignedHeaders=", signed_hdrs, sizeof signed_hdrs) ||
        !member(auth, "Signature=", sig, sizeof sig))
        return KSV_AUTH_INCOMPLETE;
    /* AKID/date/region/service/aws4_request */
    char *parts[5], credcopy[512];
    snprintf(credcopy, sizeof credcopy, "%s", cred);
    char *save = NULL, *tok = strtok_r(credcopy, "/", &save);
    int np = 0;
    while (tok && np < 5) {
        parts[np++] = tok;
        tok = strtok_r(NULL, "/", &save);
    }
    if (np != 5 || tok || strcmp(parts[4], "aws4_request") != 0) return KSV_AUTH_INCOMPLETE;
    if (region && region_cap) snprintf(region, region_cap, "%s", parts[2]);
    if (!a->enabled) return KSV_AUTH_OK;
    if (strcmp(parts[0], a->key_id) != 0) return KSV_AUTH_UNKNOWN_KEY;
    const char *date = req->header(req->ctx, "X-Amz-Date");
    long long t = amz_time(date);
    if (t < 0 || strncmp(date, parts[1], 8) != 0) return KSV_AUTH_INCOMPLETE;
    long long now = (long long)time(NULL);
    if (t < now - 900 || t > now + 900) return KSV_AUTH_EXPIRED;

    /* the canonical request */
    size_t cap = 16384, len = 0;
    char *creq = malloc(cap);
    if (!creq) return KSV_AUTH_BAD_SIGNATURE;
    creq[0] = 0;
    bool ok = cat(creq, cap, &len, req->method, strlen(req->method)) &&
              cat(creq, cap, &len, "\n", 1) &&
              cat(creq, cap, &len, req->path, strlen(req->path)) &&
              cat(creq, cap, &len, "\n\n", 2);
    char names[1024];
    snprintf(names, sizeof names, "%s", signed_hdrs);
    save = NULL;
    int count = 0;
    for (char *h = strtok_r(names, ";", &save); ok && h; h = strtok_r(NULL, ";", &save)) {
        if (++count > MAX_SIGNED) ok = false;
        const char *v = ok ? req->header(req->ctx, h) : NULL;
        if (!v) {
            ok = false;
            break;
        }
        ok = cat(creq, cap, &len, h, strlen(h)) && cat(creq, cap, &len, ":", 1);
        /* trim, and fold runs of spaces into one */
        while (*v == ' ' || *v == '\t') v++;
        bool space = false;
        for (; ok && *v; v++) {
            if (*v == ' ' || *v == '\t') {
                space = true;
                continue;
            }
            if (space) ok = cat(creq, cap, &len, " ", 1);
            space = false;
            ok = ok && cat(creq, cap, &len, v, 1);
        }
        ok = ok && cat(creq, cap, &len, "\n", 1);
    }
    unsigned char digest[32];
    char body_hex[65], creq_hex[65];
    SHA256((const unsigned char *)req->body, req->body_len, digest);
    hex(digest, 32, body_hex);
    ok = ok && cat(creq, cap, &len, "\n", 1) &&
         cat(creq, cap, &len, signed_hdrs, strlen(signed_hdrs)) &&
         cat(creq, cap, &len, "\n", 1) && cat(creq, cap, &len, body_hex, 64);
    if (!ok) {
        free(creq);
        return KSV_AUTH_BAD_SIGNATURE;
    }
    SHA256((const unsigned char *)creq, len, digest);
    free(creq);
    hex(digest, 32, creq_hex);
    char sts[1024], scope[512];
    snprintf(scope, sizeof scope, "%s/%s/%s/aws4_request", parts[1], parts[2], parts[3]);
    snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256\n%s\n%s\n%s", date, scope, creq_hex);
    char k0[300];
    snprintf(k0, sizeof k0, "AWS4%s", a->secret);
    unsigned char k[32];
    hmac(k0, strlen(k0), parts[1], k);
    hmac(k, 32, parts[2], k);
    hmac(k, 32, parts[3], k);
    hmac(k, 32, "aws4_request", k);
    hmac(k, 32, sts, digest);
    char want[65];
    hex(digest, 32, want);
    OPENSSL_cleanse(k0, sizeof k0);
    if (strlen(sig) != 64 || CRYPTO_memcmp(want, sig, 64) != 0) return KSV_AUTH_BAD_SIGNATURE;
    return KSV_AUTH_OK;
}
