/*
 * os.c: the one file that talks to the operating system about store files.
 *
 * Every function returns 0 or an errno value, retries EINTR, and loops over short reads
 * and writes, so callers never see a partial transfer as success. Tests reach the error
 * paths through keel__fault_inject(): the (skip+1)-th next call of an operation fails as
 * asked (EIO, ENOSPC, or a short write that writes half and then fails with ENOSPC), which
 * is how ENOSPC, EIO and torn writes are exercised without a full disk.
 */
#include "base/base.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/* ---- fault injection ---------------------------------------------------------------- */

static struct {
    bool armed;
    bool sticky;
    keel_os_op op;
    unsigned skip;
    keel_fault_kind kind;
} fault;

void keel__fault_inject(keel_os_op op, unsigned skip, keel_fault_kind kind, bool sticky) {
    fault.op = op;
    fault.skip = skip;
    fault.kind = kind;
    fault.sticky = sticky;
    fault.armed = true;
}

void keel__fault_clear(void) { fault.armed = false; }

/* 0 when the call may proceed, else the kind of fault to simulate. */
static keel_fault_kind fault_hit(keel_os_op op) {
    if (!fault.armed || fault.op != op) return 0;
    if (fault.skip > 0) {
        fault.skip--;
        return 0;
    }
    keel_fault_kind k = fault.kind;
    if (!fault.sticky) fault.armed = false;
    return k;
}

static int fault_errno(keel_fault_kind k) { return k == KEEL_FAULT_EIO ? EIO : ENOSPC; }

/* ---- files -------------------------------------------------------------------------- */

int keel__os_open(const char *path, int flags, int mode, int *fd_out) {
    keel_fault_kind k = fault_hit(KEEL_OS_OPEN);
    if (k) return fault_errno(k);
    int fd;
    do fd = open(path, flags | O_CLOEXEC, mode);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) return errno;
    *fd_out = fd;
    return 0;
}

int keel__os_close(int fd) {
    /* Linux closes the descriptor even when close() reports EINTR: never retry. */
    return close(fd) == 0 || errno == EINTR ? 0 : errno;
}

int keel__os_pwrite_all(int fd, const void *buf, size_t len, uint64_t off) {
    const uint8_t *p = buf;
    while (len > 0) {
        size_t chunk = len;
        keel_fault_kind k = fault_hit(KEEL_OS_WRITE);
        if (k == KEEL_FAULT_SHORT && len > 1) {
            chunk = len / 2;
            keel__fault_inject(KEEL_OS_WRITE, 0, KEEL_FAULT_ENOSPC, false);
        } else if (k) {
            return fault_errno(k);
        }
        ssize_t n = pwrite(fd, p, chunk, (off_t)off);
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (n == 0) return EIO;
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

int keel__os_pwritev_all(int fd, const struct iovec *iov, int iovcnt, uint64_t off) {
    /* Chunks of at most IOV_MAX vectors; a short pwritev is finished with pwrite. */
    keel_fault_kind k = fault_hit(KEEL_OS_WRITE);
    if (k == KEEL_FAULT_SHORT) {
        size_t total = 0;
        for (int i = 0; i < iovcnt; i++) total += iov[i].iov_len;
        size_t want = total / 2;
        for (int i = 0; i < iovcnt && want > 0; i++) {
            size_t c = iov[i].iov_len < want ? iov[i].iov_len : want;
            if (pwrite(fd, iov[i].iov_base, c, (off_t)off) < 0) return errno;
            off += c;
            want -= c;
        }
        return ENOSPC;
    }
    if (k) return fault_errno(k);
    int i = 0;
    while (i < iovcnt) {
        int cnt = iovcnt - i > IOV_MAX ? IOV_MAX : iovcnt - i;
        ssize_t n;
        do n = pwritev(fd, iov + i, cnt, (off_t)off);
        while (n < 0 && errno == EINTR);
        if (n < 0) return errno;
        size_t done = (size_t)n;
        for (int j = i; j < i + cnt; j++) {
            size_t l = iov[j].iov_len;
            if (done >= l) {
                done -= l;
            } else {
                int err = keel__os_pwrite_all(fd, (const uint8_t *)iov[j].iov_base + done, l - done,
                                              off + done);
                if (err) return err;
                done = 0;
            }
            off += l;
        }
        i += cnt;
    }
    return 0;
}

int keel__os_pread_all(int fd, void *buf, size_t len, uint64_t off, size_t *got_out) {
    uint8_t *p = buf;
    size_t got = 0;
    keel_fault_kind k = fault_hit(KEEL_OS_READ);
    if (k) return fault_errno(k);
    while (got < len) {
        ssize_t n = pread(fd, p + got, len - got, (off_t)(off + got));
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (n == 0) break;
        got += (size_t)n;
    }
    if (got_out) *got_out = got;
    return 0;
}

int keel__os_copy_range(int fd_in, uint64_t off_in, int fd_out, uint64_t off_out, uint64_t len) {
    keel_fault_kind k = fault_hit(KEEL_OS_WRITE);
    if (k) return fault_errno(k);
    loff_t in = (loff_t)off_in, out = (loff_t)off_out;
    while (len > 0) {
        size_t chunk = len > (1u << 30) ? (1u << 30) : (size_t)len;
        ssize_t n = copy_file_range(fd_in, &in, fd_out, &out, chunk, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL)
                goto fallback;
            return errno;
        }
        if (n == 0) return EIO; /* source shorter than promised */
        len -= (uint64_t)n;
    }
    return 0;
fallback: {
    /* Copy through a buffer where the kernel cannot copy between these files. */
    size_t cap = 1u << 20;
    uint8_t *buf = malloc(cap);
    if (!buf) return ENOMEM;
    int err = 0;
    while (len > 0) {
        size_t c = len < cap ? (size_t)len : cap, got = 0;
        err = keel__os_pread_all(fd_in, buf, c, (uint64_t)in, &got);
        if (!err && got != c) err = EIO;
        if (!err) err = keel__os_pwrite_all(fd_out, buf, c, (uint64_t)out);
        if (err) break;
        in += (loff_t)c;
        out += (loff_t)c;
        len -= c;
    }
    free(buf);
    return err;
}
}

int keel__os_fdatasync(int fd) {
    keel_fault_kind k = fault_hit(KEEL_OS_SYNC);
    if (k) return fault_errno(k);
    int r;
    do r = fdatasync(fd);
    while (r < 0 && errno == EINTR);
    return r < 0 ? errno : 0;
}

int keel__os_fsync(int fd) {
    keel_fault_kind k = fault_hit(KEEL_OS_SYNC);
    if (k) return fault_errno(k);
    int r;
    do r = fsync(fd);
    while (r < 0 && errno == EINTR);
    return r < 0 ? errno : 0;
}

int keel__os_fsync_dir_of(const char *path) {
    char *copy = strdup(path);
    if (!copy) return ENOMEM;
    const char *dir = dirname(copy);
    int fd = -1, err = keel__os_open(dir, O_RDONLY | O_DIRECTORY, 0, &fd);
    free(copy);
    if (err) return err;
    err = keel__os_fsync(fd);
    /* Some filesystems refuse fsync on directories; that is not a failure to report. */
    if (err == EINVAL || err == EBADF) err = 0;
    keel__os_close(fd);
    return err;
}

int keel__os_ftruncate(int fd, uint64_t len) {
    keel_fault_kind k = fault_hit(KEEL_OS_TRUNCATE);
    if (k) return fault_errno(k);
    int r;
    do r = ftruncate(fd, (off_t)len);
    while (r < 0 && errno == EINTR);
    return r < 0 ? errno : 0;
}

int keel__os_fsize(int fd, uint64_t *size_out) {
    struct stat st;
    if (fstat(fd, &st) < 0) return errno;
    *size_out = (uint64_t)st.st_size;
    return 0;
}

int keel__os_lock(int fd) {
    int r;
    do r = flock(fd, LOCK_EX | LOCK_NB);
    while (r < 0 && errno == EINTR);
    return r < 0 ? errno : 0;
}

int keel__os_rename(const char *from, const char *to) {
    keel_fault_kind k = fault_hit(KEEL_OS_RENAME);
    if (k) return fault_errno(k);
    return rename(from, to) < 0 ? errno : 0;
}

int keel__os_mmap_ro(int fd, uint64_t len, void **addr_out) {
    keel_fault_kind k = fault_hit(KEEL_OS_MMAP);
    if (k) return k == KEEL_FAULT_EIO ? EIO : ENOMEM;
    /* MAP_NORESERVE: the reservation past the end of the file is address space only. */
    void *p = mmap(NULL, (size_t)len, PROT_READ, MAP_SHARED | MAP_NORESERVE, fd, 0);
    if (p == MAP_FAILED) return errno;
    *addr_out = p;
    return 0;
}

int keel__os_munmap(void *addr, uint64_t len) { return munmap(addr, (size_t)len) < 0 ? errno : 0; }

int keel__os_random(void *buf, size_t len) {
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int keel__os_tmpfile_in_dir_of(const char *path, int *fd_out) {
    char *copy = strdup(path);
    if (!copy) return ENOMEM;
    const char *dir = dirname(copy);
    int err = keel__os_open(dir, O_RDWR | O_TMPFILE, 0600, fd_out);
    if (err == EOPNOTSUPP || err == EISDIR || err == EINVAL) {
        /* No O_TMPFILE here: make a named file and unlink it at once. */
        size_t n = strlen(dir) + 32;
        char *tmpl = malloc(n);
        if (!tmpl) {
            free(copy);
            return ENOMEM;
        }
        snprintf(tmpl, n, "%s/.keel-stream-XXXXXX", dir);
        int fd = mkostemp(tmpl, O_CLOEXEC);
        err = fd < 0 ? errno : 0;
        if (fd >= 0) {
            unlink(tmpl);
            *fd_out = fd;
        }
        free(tmpl);
    }
    free(copy);
    return err;
}
