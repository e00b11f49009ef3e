/*
 * base.h: the layer every face stands on (never installed).
 *
 * base/ owns what two faces share and nothing that knows a file format: error.c (status
 * text and the thread-local detail line), os.c (every system call on a data file, with
 * fault injection for tests), fork.c (the fork generation handles check) and hash.c
 * (XXH3, CRC32C and the explicit little-endian loads and stores every decoder uses).
 * Files here include only this header and the public ones; scripts/check-layers.py fails
 * the build's tests when a lower layer reaches up.
 */
#ifndef KEEL_BASE_H
#define KEEL_BASE_H

#include "keel.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* ---- error.c ------------------------------------------------------------------------ */

/* Set this thread's detail message and return `st`. printf-style. */
keel_status keel__fail(keel_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Put `prefix` before this thread's detail message (unless it already starts with it; the
 * end is cut if the two pass the buffer) and return `st`. */
keel_status keel__fail_prefix(keel_status st, const char *prefix);
/* Map an errno value to a status (ENOSPC -> KEEL_ENOSPC, EACCES -> KEEL_EACCES, ...). */
keel_status keel__errno_status(int err);
/* keel__fail with the errno text appended: "<what>: <strerror>". */
keel_status keel__fail_errno(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void keel__clear_error(void);

/* ---- fork.c: handles used in a forked child --------------------------------------------- */

extern _Atomic uint64_t keel__fork_generation;
/* Install the fork handler (once) and return the current generation: a handle stores it
 * when it opens. */
uint64_t keel__fork_gen_open(void);
/* True in a process forked after a handle that stored `gen` was opened. */
static inline bool keel__forked_since(uint64_t gen) {
    return atomic_load_explicit(&keel__fork_generation, memory_order_relaxed) != gen;
}
long keel__process_id(void);

/* ---- os.c: the only file that makes system calls on data files ------------------------ */

typedef enum keel_os_op {
    KEEL_OS_OPEN = 0,
    KEEL_OS_WRITE,      /* pwrite, pwritev, copy_file_range */
    KEEL_OS_READ,       /* pread */
    KEEL_OS_SYNC,       /* fsync, fdatasync */
    KEEL_OS_TRUNCATE,
    KEEL_OS_RENAME,
    KEEL_OS_MMAP,
    KEEL_OS_LOCK,       /* flock */
    KEEL_OS_LINK,       /* link, unlink */
    KEEL_OS_OP_COUNT
} keel_os_op;

typedef enum keel_fault_kind {
    KEEL_FAULT_EIO = 1,     /* the call fails with EIO */
    KEEL_FAULT_ENOSPC,      /* the call fails with ENOSPC */
    KEEL_FAULT_SHORT        /* a write writes half of what it was asked, then the next
                             * attempt fails with ENOSPC */
} keel_fault_kind;

/* Testing: make the (skip+1)-th next call of `op` fail as `kind`, and every later one
 * too when `sticky`. Not thread-safe; for single-threaded fault tests. */
void keel__fault_inject(keel_os_op op, unsigned skip, keel_fault_kind kind, bool sticky);
void keel__fault_clear(void);
/* Testing: call fn(ctx) once, just before the (skip+1)-th next call of `op` does its work
 * (for example between a store's open and its flock). Lets a test interleave another
 * writer at an exact point, deterministically. Cleared by keel__fault_clear too. */
void keel__fault_pause(keel_os_op op, unsigned skip, void (*fn)(void *ctx), void *ctx);

/* Each returns 0 or an errno value (never -1 with errno). */
int keel__os_open(const char *path, int flags, int mode, int *fd_out);
int keel__os_close(int fd);
int keel__os_pwrite_all(int fd, const void *buf, size_t len, uint64_t off);
int keel__os_pwritev_all(int fd, const struct iovec *iov, int iovcnt, uint64_t off);
int keel__os_pread_all(int fd, void *buf, size_t len, uint64_t off, size_t *got_out);
int keel__os_copy_range(int fd_in, uint64_t off_in, int fd_out, uint64_t off_out, uint64_t len);
int keel__os_fdatasync(int fd);
int keel__os_fsync(int fd);
int keel__os_fsync_dir_of(const char *path);
int keel__os_ftruncate(int fd, uint64_t len);
int keel__os_fsize(int fd, uint64_t *size_out);
/* A status, not an errno: KEEL_OK unless fd is open on something other than a regular
 * file, which readers of whole files refuse (a FIFO would read as empty): EISDIR for a
 * directory, KEEL_EFORMAT "<path> is not a regular file" otherwise. A failing fstat is
 * left to the caller's next call (keel__os_fsize) to report. */
keel_status keel__os_regular(int fd, const char *path);
int keel__os_lock(int fd);   /* exclusive, non-blocking flock; EWOULDBLOCK when held */
int keel__os_rename(const char *from, const char *to);
int keel__os_link(const char *from, const char *to);
int keel__os_unlink(const char *path);
/* Does `path` still name the file open as `fd`? 0 yes, ESTALE no (replaced or removed),
 * else an errno value. Used after taking a lock, because a rename can replace the path
 * between the open and the lock. */
int keel__os_same_file(int fd, const char *path);
/* Copy bytes [off, off+len) of `fd` into a new file "<path>.recovered-<off>-XXXXXX"
 * (unique, never overwritten), fsync it and its directory. *name_out (malloc'd) names
 * it. Used before recovery cuts bytes off a file, so that nothing is destroyed. */
int keel__os_save_range(int fd, uint64_t off, uint64_t len, const char *path, char **name_out);
int keel__os_mmap_ro(int fd, uint64_t len, void **addr_out);
int keel__os_munmap(void *addr, uint64_t len);
int keel__os_random(void *buf, size_t len);
int keel__os_tmpfile_in_dir_of(const char *path, int *fd_out);

/* Testing: the recording mode of os.c, for the power-loss simulator (tests/c/powerloss.h).
 * While on, every change a data file goes through is appended to a log: file creation,
 * writes (with their bytes), truncates, syncs, renames, links, unlinks and directory
 * syncs, each naming the file by a small id that follows the inode across renames. A file
 * seen for the first time that existed before is logged as created and synced with its
 * current content. The log is process-wide and guarded by a mutex (the sharded record
 * writer writes from worker threads). copy_file_range is replaced by read and write while
 * recording so that copied bytes are logged too. */
typedef enum keel_os_event_kind {
    KEEL_EV_CREATE = 1, /* path now names the new, empty file `file` */
    KEEL_EV_WRITE,      /* len bytes `data` at `off` of `file` */
    KEEL_EV_TRUNCATE,   /* `file` is cut (or extended) to `off` bytes */
    KEEL_EV_SYNC,       /* fsync/fdatasync of `file`: its content is durable */
    KEEL_EV_RENAME,     /* path -> path2 (replacing path2) */
    KEEL_EV_LINK,       /* path2 now also names the file of path */
    KEEL_EV_UNLINK,     /* path no longer names anything */
    KEEL_EV_DIRSYNC,    /* the directory of path is durable */
    KEEL_EV_MARK        /* keel__os_record_mark(off): a note from the test, no change */
} keel_os_event_kind;

typedef struct keel_os_event {
    keel_os_event_kind kind;
    uint32_t file;
    uint64_t off, len;
    uint8_t *data;
    char *path, *path2;
} keel_os_event;

void keel__os_record_start(void);
/* Stop recording; the log stays until keel__os_record_free. */
void keel__os_record_stop(void);
void keel__os_record_mark(uint64_t tag);
const keel_os_event *keel__os_record_log(size_t *n_out);
void keel__os_record_free(void);

/* ---- hash.c: hashing, checksums, little-endian integers -------------------------------- */

/* keel_hash (XXH3-64) and keel_crc32c (CRC32C, zlib-style chaining) are public: keel.h. */

static inline uint64_t keel__ld64(const uint8_t *p) {
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
           (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
           (uint64_t)p[7] << 56;
}
static inline uint32_t keel__ld32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint16_t keel__ld16(const uint8_t *p) {
    return (uint16_t)(p[0] | p[1] << 8);
}
void keel__st64(uint8_t *p, uint64_t v);
void keel__st32(uint8_t *p, uint32_t v);
void keel__st16(uint8_t *p, uint16_t v);

#endif /* KEEL_BASE_H */
