/*
 * error.c: status text and the thread-local detail message behind every error.
 *
 * Every failing path in the library ends in keel__fail() (or keel__fail_errno()), which
 * formats one line into a per-thread buffer and returns the status, so callers write
 * `return keel__fail(KEEL_EIO, "write at offset %llu", off);`. The buffer is only ever
 * written by its own thread; keel_errmsg() hands out a pointer to it.
 */
#include "base/base.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char errbuf[512];

const char *keel_strerror(keel_status status) {
    switch (status) {
    case KEEL_OK: return "success";
    case KEEL_NOTFOUND: return "not found";
    case KEEL_EINVAL: return "invalid argument";
    case KEEL_ENOMEM: return "out of memory";
    case KEEL_EIO: return "I/O error";
    case KEEL_ENOSPC: return "no space left on device";
    case KEEL_ENOENT: return "no such file";
    case KEEL_EEXIST: return "file exists";
    case KEEL_EFORMAT: return "not a keel store";
    case KEEL_EVERSION: return "unsupported format version";
    case KEEL_ECORRUPT: return "store is corrupt";
    case KEEL_ELOCKED: return "store is locked by another writer";
    case KEEL_ECLOSED: return "store is closed";
    case KEEL_EREADONLY: return "store is read-only";
    case KEEL_EKEYSIZE: return "key too long";
    case KEEL_ERANGE: return "out of range";
    case KEEL_EABORTED: return "aborted by the reader";
    case KEEL_EBUSY: return "busy";
    case KEEL_EACCES: return "permission denied";
    case KEEL_ENOTABLE: return "no such table";
    case KEEL_ETABLEEXISTS: return "table exists";
    case KEEL_ESYNTAX: return "expression syntax error";
    case KEEL_EVALIDATION: return "validation error";
    case KEEL_ECONDITION: return "conditional check failed";
    case KEEL_ECANCELED: return "transaction canceled";
    case KEEL_EDUPLICATE: return "duplicate item";
    }
    return "unknown status";
}

const char *keel_errmsg(void) { return errbuf; }

const char *keel_version(void) { return KEEL_VERSION_STRING; }

void keel__clear_error(void) { errbuf[0] = '\0'; }

keel_status keel__fail(keel_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, sizeof errbuf, fmt, ap);
    va_end(ap);
    return st;
}

keel_status keel__fail_prefix(keel_status st, const char *prefix) {
    size_t n = strlen(prefix), have = strlen(errbuf);
    if (n == 0 || n >= sizeof errbuf || strncmp(errbuf, prefix, n) == 0) return st;
    if (have > sizeof errbuf - 1 - n) have = sizeof errbuf - 1 - n;  /* the tail is cut */
    memmove(errbuf + n, errbuf, have);
    memcpy(errbuf, prefix, n);
    errbuf[n + have] = '\0';
    return st;
}

keel_status keel__errno_status(int err) {
    switch (err) {
    case ENOSPC:
    case EDQUOT:
    case EFBIG: return KEEL_ENOSPC;
    case ENOENT: return KEEL_ENOENT;
    case EEXIST: return KEEL_EEXIST;
    case EACCES:
    case EPERM:
    case EROFS: return KEEL_EACCES;
    case ENOMEM: return KEEL_ENOMEM;
    case EWOULDBLOCK: return KEEL_ELOCKED;
    case EINVAL: return KEEL_EINVAL;
    default: return KEEL_EIO;
    }
}

keel_status keel__fail_errno(int err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(errbuf, sizeof errbuf, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof errbuf) {
        char tmp[128];
        const char *text = strerror_r(err, tmp, sizeof tmp);  /* GNU variant */
        snprintf(errbuf + n, sizeof errbuf - (size_t)n, ": %s", text);
    }
    return keel__errno_status(err);
}
