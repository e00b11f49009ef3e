/*
 * serve.h: what serve.c (the HTTP server of `keel serve`) and sigv4.c (signature checks)
 * share. Never installed.
 */
#ifndef KEEL_TOOLS_SERVE_H
#define KEEL_TOOLS_SERVE_H

#include <stdbool.h>
#include <stddef.h>

/* --auth KEYID:SECRET; enabled false: any credentials are accepted. */
typedef struct ksv_auth {
    bool enabled;
    char key_id[128];
    char secret[256];
} ksv_auth;

/* What the check needs from a request: a header lookup (case-insensitive name, NULL when
 * absent), the method, the path and the body. */
typedef struct ksv_sig_request {
    const char *(*header)(void *ctx, const char *name);
    void *ctx;
    const char *method, *path;
    const char *body;
    size_t body_len;
} ksv_sig_request;

typedef enum ksv_auth_result {
    KSV_AUTH_OK = 0,
    KSV_AUTH_MISSING,           /* no Authorization header */
    KSV_AUTH_INCOMPLETE,        /* not a well-formed SigV4 header, or no/bad X-Amz-Date */
    KSV_AUTH_UNKNOWN_KEY,       /* another access key id */
    KSV_AUTH_EXPIRED,           /* X-Amz-Date more than 15 minutes away */
    KSV_AUTH_BAD_SIGNATURE
} ksv_auth_result;

/* Check the request's signature against `a` (when a->enabled; otherwise only parse). The
 * credential scope's region is copied to `region` when the header parses. */
ksv_auth_result ksv_sigv4_check(const ksv_auth *a, const ksv_sig_request *req, char *region,
                                size_t region_cap);

#endif
