/*
 * files.c: the files a store creates beside its path, and their clean-up.
 *
 * A store file comes into being whole: its header is written and fsynced under a fresh,
 * uniquely named "<path>.new-XXXXXX" and only then linked to the path, so no reader ever
 * sees a store without a header. Compaction writes its copy the same way under
 * "<path>.compact-XXXXXX". Such names are never reused; a crash leaves them behind, and a
 * writable open removes them (keel__remove_stale_files). Open and compaction both use this
 * file; it calls neither of them.
 *
 * A temporary file is flock'ed by its creator for as long as it is in use, and the sweep
 * removes only files it can lock itself: a crashed process holds no lock, a live one does,
 * so one process's open never deletes another's creation or compaction in progress. The
 * creator checks, once it holds the lock, that its name still names its file (a sweep may
 * have removed it between the creation and the lock) and starts over with a new name if
 * not.
 */
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

keel_status keel__new_header_bytes(uint32_t align, uint8_t kind, uint8_t out[KEEL_HEADER_SIZE],
                                   uint32_t *tag_out) {
    keel_header h = {KEEL_FORMAT_MAJOR, KEEL_FORMAT_MINOR, 0, kind, 0, (uint64_t)time(NULL)};
    while ((1u << h.align_log2) < align) h.align_log2++;
    do {
        int err = keel__os_random(&h.file_tag, sizeof h.file_tag);
        if (err) return keel__fail_errno(err, "getrandom");
    } while (h.file_tag == 0);
    keel__header_encode(&h, out);
    *tag_out = h.file_tag;
    return KEEL_OK;
}

/* Write a header into a fresh uniquely named file "<path><suffix>XXXXXX" and fsync it.
 * Created with mode 0666 less the umask, like any file. Shared with compaction. */
keel_status keel__write_new_file(const char *path, const char *suffix, uint32_t align,
                                 uint8_t kind, char **tmp_out, int *fd_out, uint32_t *tag_out) {
    static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    size_t n = strlen(path) + strlen(suffix) + 8;
    char *tmp = malloc(n);
    if (!tmp) return keel__fail(KEEL_ENOMEM, "path buffer");
    int fd = -1, err = EEXIST;
    for (int attempt = 0; attempt < 100 && err == EEXIST; attempt++) {
        uint8_t r[6];
        if ((err = keel__os_random(r, sizeof r)) != 0) break;
        char rnd[7];
        for (int i = 0; i < 6; i++) rnd[i] = digits[r[i] % 36];
        rnd[6] = '\0';
        snprintf(tmp, n, "%s%s%s", path, suffix, rnd);
        err = keel__os_open(tmp, O_RDWR | O_CREAT | O_EXCL, 0666, &fd);
        if (err) continue;
        /* Locked while in use, so that other processes' sweeps leave it alone. */
        if ((err = keel__os_lock(fd)) == 0 && (err = keel__os_same_file(fd, tmp)) == 0) break;
        keel__os_close(fd);
        fd = -1;
        if (err == ESTALE || err == EWOULDBLOCK) err = EEXIST;  /* swept meanwhile: a new name */
    }
    if (err) {
        keel_status st = keel__fail_errno(err, "creating a file beside %s", path);
        free(tmp);
        return st;
    }
    uint8_t hdr[KEEL_HEADER_SIZE];
    keel_status st = keel__new_header_bytes(align, kind, hdr, tag_out);
    if (st == KEEL_OK) {
        err = keel__os_pwrite_all(fd, hdr, sizeof hdr, 0);
        if (!err) err = keel__os_fdatasync(fd);
        if (err) st = keel__fail_errno(err, "writing the header of %s", tmp);
    }
    if (st != KEEL_OK) {
        keel__os_close(fd);
        keel__os_unlink(tmp);
        free(tmp);
        return st;
    }
    *tmp_out = tmp;
    *fd_out = fd;
    return KEEL_OK;
}

/* Create `path` atomically with a complete header. KEEL_EEXIST if it appeared meanwhile. */
keel_status keel__create_file(const char *path, uint32_t align, uint8_t kind) {
    char *tmp;
    int fd;
    uint32_t tag;
    keel_status st = keel__write_new_file(path, ".new-", align, kind, &tmp, &fd, &tag);
    if (st != KEEL_OK) return st;
    /* Linked while still locked, so that no sweep removes it before it has its name. */
    int err = keel__os_link(tmp, path);
    keel__os_unlink(tmp);
    keel__os_close(fd);
    free(tmp);
    if (err == EEXIST) return keel__fail(KEEL_EEXIST, "%s already exists", path);
    if (err) return keel__fail_errno(err, "creating %s", path);
    err = keel__os_fsync_dir_of(path);
    if (err) return keel__fail_errno(err, "fsync of the directory of %s", path);
    return KEEL_OK;
}

void keel__remove_stale_files(const char *path) {
    char *dcopy = strdup(path), *bcopy = strdup(path);
    if (!dcopy || !bcopy) goto out;
    const char *dir = dirname(dcopy), *base = basename(bcopy);
    size_t bl = strlen(base);
    DIR *d = opendir(dir);
    if (!d) goto out;
    int dfd = dirfd(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        if (strncmp(name, base, bl) != 0) continue;
        const char *rest = name + bl;
        /* Left by a crash during compaction or creation; never reused, only removed. */
        if (!((strncmp(rest, ".compact-", 9) == 0 && strlen(rest) == 15) ||
              (strncmp(rest, ".new-", 5) == 0 && strlen(rest) == 11)))
            continue;
        /* Only a file nobody holds: a live creator or compaction keeps its file locked. */
        int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) continue;
        if (keel__os_lock(fd) == 0) {
            size_t fl = strlen(dir) + strlen(name) + 2;
            char *full = malloc(fl);
            if (full) {
                snprintf(full, fl, "%s/%s", dir, name);
                /* Still the file we locked: not replaced between the open and the lock. */
                if (keel__os_same_file(fd, full) == 0) keel__os_unlink(full);
                free(full);
            }
        }
        keel__os_close(fd);
    }
    closedir(d);
out:
    free(dcopy);
    free(bcopy);
}
