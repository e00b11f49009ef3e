/*
 * os.c: the one file that talks to the operating system about store files.
 *
 * Every function returns 0 or an errno value, retries EINTR, and loops over short reads
 * and writes, so callers never see a partial transfer as success. Tests reach the error
 * paths through keel__fault_inject(): the (skip+1)-th next call of an operation fails as
 * asked (EIO, ENOSPC, or a short write that writes half and then fails with ENOSPC), which
 * is how ENOSPC, EIO and torn writes are exercised without a full disk. keel__fault_pause()
 * runs a test's callback just before a chosen call (say, between a store's open and its
 * flock), which makes races between two writers reproducible.
 *
 * The recording mode (keel__os_record_start) logs every change made to a file, with the
 * bytes written, so that tests/c/powerloss.h can rebuild the disk states a power loss could
 * leave at any point of a workload. It is off unless a test turns it on, and costs one
 * predictable branch per call when off.
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
#include <pthread.h>
#include <stdatomic.h>
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

static struct {
    bool armed;
    keel_os_op op;
    unsigned skip;
    void (*fn)(void *);
    void *ctx;
} pause_at;

void keel__fault_pause(keel_os_op op, unsigned skip, void (*fn)(void *ctx), void *ctx) {
    pause_at.op = op;
    pause_at.skip = skip;
    pause_at.fn = fn;
    pause_at.ctx = ctx;
    pause_at.armed = fn != NULL;
}

void keel__fault_clear(void) {
    fault.armed = false;
    pause_at.armed = false;
}

/* 0 when the call may proceed, else the kind of fault to simulate. */
static keel_fault_kind fault_hit(keel_os_op op) {
    if (pause_at.armed && pause_at.op == op) {
        if (pause_at.skip > 0) {
            pause_at.skip--;
        } else {
            pause_at.armed = false; /* before the call: the callback may use os.c itself */
            pause_at.fn(pause_at.ctx);
        }
    }
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

/* ---- recording (tests only) --------------------------------------------------------- */

static struct {
    atomic_bool on;
    pthread_mutex_t mu;
    keel_os_event *ev;
    size_t n, cap;
    struct { uint64_t dev, ino; uint32_t id; } *files;
    size_t nfiles, capfiles;
    uint32_t next_id;
} rec = {.mu = PTHREAD_MUTEX_INITIALIZER};

static bool recording(void) { return atomic_load_explicit(&rec.on, memory_order_relaxed); }

/* Append an event; `data` is copied. Called with rec.mu held. Out of memory drops the
 * recording (the test then sees an incomplete log and fails loudly on its own checks). */
static void rec_push(keel_os_event_kind kind, uint32_t file, uint64_t off, uint64_t len,
                     const void *data, const char *path, const char *path2) {
    if (rec.n == rec.cap) {
        size_t cap = rec.cap ? rec.cap * 2 : 256;
        keel_os_event *v = realloc(rec.ev, cap * sizeof *v);
        if (!v) abort();
        rec.ev = v;
        rec.cap = cap;
    }
    keel_os_event *e = &rec.ev[rec.n++];
    *e = (keel_os_event){kind, file, off, len, NULL, NULL, NULL};
    if (data && len) {
        e->data = malloc((size_t)len);
        if (!e->data) abort();
        memcpy(e->data, data, (size_t)len);
    }
    if (path && !(e->path = strdup(path))) abort();
    if (path2 && !(e->path2 = strdup(path2))) abort();
}

/* The id of the regular file open as fd (0 for anything else), registering it when new
 * (`fresh`: it was just created, so any older id of a reused inode is forgotten). */
static uint32_t rec_id_locked(int fd, bool fresh, bool *known_out) {
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) return 0;
    for (size_t i = 0; i < rec.nfiles; i++) {
        if (rec.files[i].dev == (uint64_t)st.st_dev && rec.files[i].ino == (uint64_t)st.st_ino) {
            if (!fresh) {
                if (known_out) *known_out = true;
                return rec.files[i].id;
            }
            rec.files[i].id = ++rec.next_id;
            return rec.files[i].id;
        }
    }
    if (rec.nfiles == rec.capfiles) {
        size_t cap = rec.capfiles ? rec.capfiles * 2 : 32;
        void *v = realloc(rec.files, cap * sizeof *rec.files);
        if (!v) abort();
        rec.files = v;
        rec.capfiles = cap;
    }
    rec.files[rec.nfiles].dev = (uint64_t)st.st_dev;
    rec.files[rec.nfiles].ino = (uint64_t)st.st_ino;
    rec.files[rec.nfiles].id = ++rec.next_id;
    if (known_out) *known_out = false;
    return rec.files[rec.nfiles++].id;
}

/* Log a change to the file open as fd. */
static void rec_file_event(keel_os_event_kind kind, int fd, uint64_t off, uint64_t len,
                           const void *data) {
    pthread_mutex_lock(&rec.mu);
    uint32_t id = rec_id_locked(fd, false, NULL);
    if (id) rec_push(kind, id, off, len, data, NULL, NULL);
    pthread_mutex_unlock(&rec.mu);
}

static void rec_path_event(keel_os_event_kind kind, const char *path, const char *path2) {
    pthread_mutex_lock(&rec.mu);
    rec_push(kind, 0, 0, 0, NULL, path, path2);
    pthread_mutex_unlock(&rec.mu);
}

/* A file was opened: log its creation, or (first sight of a file that existed before the
 * recording) its creation with its current, durable content. */
static void rec_opened(int fd, const char *path, bool created, bool tmpfile) {
    pthread_mutex_lock(&rec.mu);
    bool known = false;
    uint32_t id = rec_id_locked(fd, created || tmpfile, &known);
    if (id && !tmpfile && (created || !known)) {
        rec_push(KEEL_EV_CREATE, id, 0, 0, NULL, path, NULL);
        if (!created) {
            struct stat st;
            if (fstat(fd, &st) == 0 && st.st_size > 0) {
                uint8_t *buf = malloc((size_t)st.st_size);
                if (!buf) abort();
                ssize_t got = pread(fd, buf, (size_t)st.st_size, 0);
                if (got > 0) rec_push(KEEL_EV_WRITE, id, 0, (uint64_t)got, buf, NULL, NULL);
                free(buf);
            }
            rec_push(KEEL_EV_SYNC, id, 0, 0, NULL, NULL, NULL);
            rec_push(KEEL_EV_DIRSYNC, 0, 0, 0, NULL, path, NULL);
        }
    }
    pthread_mutex_unlock(&rec.mu);
}

void keel__os_record_start(void) {
    keel__os_record_free();
    atomic_store(&rec.on, true);
}

void keel__os_record_stop(void) { atomic_store(&rec.on, false); }

void keel__os_record_mark(uint64_t tag) {
    pthread_mutex_lock(&rec.mu);
    rec_push(KEEL_EV_MARK, 0, tag, 0, NULL, NULL, NULL);
    pthread_mutex_unlock(&rec.mu);
}

const keel_os_event *keel__os_record_log(size_t *n_out) {
    *n_out = rec.n;
    return rec.ev;
}

void keel__os_record_free(void) {
    atomic_store(&rec.on, false);
    pthread_mutex_lock(&rec.mu);
    for (size_t i = 0; i < rec.n; i++) {
        free(rec.ev[i].data);
        free(rec.ev[i].path);
        free(rec.ev[i].path2);
    }
    free(rec.ev);
    free(rec.files);
    rec.ev = NULL;
    rec.files = NULL;
    rec.n = rec.cap = rec.nfiles = rec.capfiles = 0;
    pthread_mutex_unlock(&rec.mu);
}

/* ---- files -------------------------------------------------------------------------- */

int keel__os_open(const char *path, int flags, int mode, int *fd_out) {
    keel_fault_kind k = fault_hit(KEEL_OS_OPEN);
    if (k) return fault_errno(k);
    bool rec_on = recording(), existed = true;
    bool tmpfile = (flags & O_TMPFILE) == O_TMPFILE;
    if (rec_on && (flags & O_CREAT) && !tmpfile) {
        struct stat st;
        existed = stat(path, &st) == 0;
    }
    /* O_NONBLOCK for the open only: a read-only open of a FIFO would otherwise wait
     * forever for a writer (Database(fifo, readonly=True), `keel FIFO get` hung), where
     * the caller's fstat now refuses it as not a regular file. Cleared right after, so
     * reads and writes of the descriptor block as usual. */
    int fd;
    do fd = open(path, flags | O_CLOEXEC | O_NONBLOCK, mode);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) return errno;
    if (!(flags & O_NONBLOCK)) {
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
            int e = errno;
            close(fd);
            return e;
        }
    }
    if (rec_on) rec_opened(fd, path, !existed, tmpfile);
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
        if (n > 0 && recording()) rec_file_event(KEEL_EV_WRITE, fd, off, (uint64_t)n, p);
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
            if (recording()) rec_file_event(KEEL_EV_WRITE, fd, off, c, iov[i].iov_base);
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
            if (recording() && done > 0)
                rec_file_event(KEEL_EV_WRITE, fd, off, done < l ? done : l, iov[j].iov_base);
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
    if (recording()) goto fallback;  /* copied bytes must reach the log */
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
    if (r == 0 && recording()) rec_file_event(KEEL_EV_SYNC, fd, 0, 0, NULL);
    return r < 0 ? errno : 0;
}

int keel__os_fsync(int fd) {
    keel_fault_kind k = fault_hit(KEEL_OS_SYNC);
    if (k) return fault_errno(k);
    int r;
    do r = fsync(fd);
    while (r < 0 && errno == EINTR);
    if (r == 0 && recording()) rec_file_event(KEEL_EV_SYNC, fd, 0, 0, NULL);
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
    if (!err && recording()) rec_path_event(KEEL_EV_DIRSYNC, path, NULL);
    return err;
}

int keel__os_ftruncate(int fd, uint64_t len) {
    keel_fault_kind k = fault_hit(KEEL_OS_TRUNCATE);
    if (k) return fault_errno(k);
    int r;
    do r = ftruncate(fd, (off_t)len);
    while (r < 0 && errno == EINTR);
    if (r == 0 && recording()) rec_file_event(KEEL_EV_TRUNCATE, fd, len, 0, NULL);
    return r < 0 ? errno : 0;
}

keel_status keel__os_regular(int fd, const char *path) {
    struct stat sb;
    if (fstat(fd, &sb) != 0 || S_ISREG(sb.st_mode)) return KEEL_OK;
    return S_ISDIR(sb.st_mode) ? keel__fail_errno(EISDIR, "reading %s", path)
                               : keel__fail(KEEL_EFORMAT, "%s is not a regular file", path);
}

int keel__os_fsize(int fd, uint64_t *size_out) {
    struct stat st;
    if (fstat(fd, &st) < 0) return errno;
    *size_out = (uint64_t)st.st_size;
    return 0;
}

int keel__os_lock(int fd) {
    keel_fault_kind k = fault_hit(KEEL_OS_LOCK);
    if (k) return fault_errno(k);
    int r;
    do r = flock(fd, LOCK_EX | LOCK_NB);
    while (r < 0 && errno == EINTR);
    return r < 0 ? errno : 0;
}

int keel__os_rename(const char *from, const char *to) {
    keel_fault_kind k = fault_hit(KEEL_OS_RENAME);
    if (k) return fault_errno(k);
    if (rename(from, to) < 0) return errno;
    if (recording()) rec_path_event(KEEL_EV_RENAME, from, to);
    return 0;
}

int keel__os_link(const char *from, const char *to) {
    keel_fault_kind k = fault_hit(KEEL_OS_LINK);
    if (k) return fault_errno(k);
    if (link(from, to) < 0) return errno;
    if (recording()) rec_path_event(KEEL_EV_LINK, from, to);
    return 0;
}

int keel__os_unlink(const char *path) {
    keel_fault_kind k = fault_hit(KEEL_OS_LINK);
    if (k) return fault_errno(k);
    if (unlink(path) < 0) return errno;
    if (recording()) rec_path_event(KEEL_EV_UNLINK, path, NULL);
    return 0;
}

int keel__os_same_file(int fd, const char *path) {
    struct stat a, b;
    if (fstat(fd, &a) < 0) return errno;
    if (stat(path, &b) < 0) return errno == ENOENT ? ESTALE : errno;
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino ? 0 : ESTALE;
}

int keel__os_save_range(int fd, uint64_t off, uint64_t len, const char *path, char **name_out) {
    static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    size_t n = strlen(path) + 64;
    char *name = malloc(n);
    if (!name) return ENOMEM;
    int out = -1, err = EEXIST;
    for (int attempt = 0; attempt < 100 && err == EEXIST; attempt++) {
        uint8_t r[6];
        if ((err = keel__os_random(r, sizeof r)) != 0) break;
        char rnd[7];
        for (int i = 0; i < 6; i++) rnd[i] = digits[r[i] % 36];
        rnd[6] = '\0';
        snprintf(name, n, "%s.recovered-%llu-%s", path, (unsigned long long)off, rnd);
        err = keel__os_open(name, O_RDWR | O_CREAT | O_EXCL, 0644, &out);
    }
    if (err) {
        free(name);
        return err;
    }
    size_t cap = len < (1u << 20) ? (size_t)len : (1u << 20);
    uint8_t *buf = malloc(cap ? cap : 1);
    if (!buf) err = ENOMEM;
    for (uint64_t done = 0; !err && done < len;) {
        size_t c = len - done < cap ? (size_t)(len - done) : cap, got = 0;
        err = keel__os_pread_all(fd, buf, c, off + done, &got);
        if (!err && got != c) err = EIO;  /* the file is shorter than the caller said */
        if (!err) err = keel__os_pwrite_all(out, buf, c, done);
        done += c;
    }
    free(buf);
    if (!err) err = keel__os_fsync(out);
    keel__os_close(out);
    if (!err) err = keel__os_fsync_dir_of(name);
    if (err) {
        unlink(name);
        free(name);
        return err;
    }
    *name_out = name;
    return 0;
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
