/*
 * open.c: opening (with crash recovery and repair), closing, refreshing.
 *
 * Open reads the header, finds the valid end of the data (docs/FORMAT.md, "Opening and
 * recovery"), then walks the chain of trailers once from that end back to the header,
 * building the index: the newest entry of a key wins and a tombstone hides older ones.
 * Only the tail after the last intact group is ever cut, damage inside the last append
 * included, and only by a writable open, which first saves the cut bytes in a side file
 * and records what it found for keel_recovery_info; damage before the last append makes
 * the open fail and leaves the file alone, unless keel_repair asked to cut it. Nothing is
 * written to a file that is not recognised as a keel store.
 *
 * Locks: s->write_lock serializes writers (and close); s->index_lock guards what readers
 * look at (index, map, end, counters). The order is always write_lock, then index_lock.
 */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- the chain walk ----------------------------------------------------------------- */

keel_status keel__walk(keel_store *s, const uint8_t *base, uint64_t end, uint64_t stop,
                       uint32_t align, uint32_t file_tag, keel_walk_fn fn, void *ctx) {
    uint64_t cur = end;
    while (cur > stop) {
        if (cur - stop < KEEL_TRAILER_SIZE)
            return keel__fail(KEEL_ECORRUPT, "entry ending at offset %llu: broken chain",
                              (unsigned long long)cur);
        keel_trailer t;
        keel_place p;
        keel__trailer_decode(base + cur - KEEL_TRAILER_SIZE, &t);
        if (!keel__trailer_valid(&t, cur, align, file_tag, &p) || t.prev_end < stop)
            return keel__fail(KEEL_ECORRUPT,
                              "entry ending at offset %llu: broken chain (invalid trailer)",
                              (unsigned long long)cur);
        keel_status st = fn(s, &t, &p, ctx);
        if (st != KEEL_OK) return st;
        cur = t.prev_end;
    }
    return KEEL_OK;
}

/* ---- recovery ----------------------------------------------------------------------- */

/* Is there a structurally valid entry with a matching CRC ending at `end`? */
static bool entry_ok(const keel_store *s, const uint8_t *base, uint64_t end, keel_trailer *t,
                     bool check_crc) {
    if (end < KEEL_HEADER_SIZE + KEEL_TRAILER_SIZE) return false;
    const uint8_t *tr = base + end - KEEL_TRAILER_SIZE;
    keel_place p;
    keel__trailer_decode(tr, t);
    if (!keel__trailer_valid(t, end, s->align, s->file_tag, &p)) return false;
    if (!check_crc) return true;
    return keel__entry_crc(base + p.value_start, t->value_len, base + p.key_start, t->key_len,
                           tr) == t->crc;
}

/* Does the trailer ending at `end` look like bytes a power loss never wrote: all zeros
 * from a 512-byte sector boundary to its end, or from its start to such a boundary? A
 * trailer broken that way is a torn write; one broken otherwise is damage. */
static bool trailer_unwritten(const uint8_t *base, uint64_t end) {
    uint64_t b = end - KEEL_TRAILER_SIZE;
    /* The zero suffix is [first_zero, end), the zero prefix [b, last_zero). */
    uint64_t first_zero = end, last_zero = b;
    while (first_zero > b && base[first_zero - 1] == 0) first_zero--;
    while (last_zero < end && base[last_zero] == 0) last_zero++;
    if (first_zero == b) return true;
    uint64_t boundary = (end - 1) & ~(uint64_t)511;  /* the sector boundary inside, if any */
    if (boundary <= b) return false;
    return first_zero <= boundary || last_zero >= boundary;
}

/* The newest intact commit point at or below `below` (0: none above `floor`). */
static uint64_t commit_point_below(const keel_store *s, const uint8_t *base, uint64_t below,
                                   uint64_t floor, bool *in_group) {
    keel_trailer t;
    uint64_t e = below & ~(uint64_t)7;
    while (e > floor && !entry_ok(s, base, e, &t, true)) e -= 8;
    if (e <= floor) return floor;
    *in_group = (t.flags & KEEL_FLAG_GROUP_MORE) != 0;
    while (e > floor && entry_ok(s, base, e, &t, false) && (t.flags & KEEL_FLAG_GROUP_MORE))
        e = t.prev_end;
    return e > floor ? e : floor;
}

/* The entry ending at `prev` is not structurally valid, and entries of the last append
 * lie right above it. When the entry below the break is a member of a group (the group
 * goes on into the damage) or the broken trailer looks unwritten (a torn page), the break
 * is inside the last append: *cut_to gets the commit point before it. Otherwise it is
 * older damage, for the walk to report. */
static bool break_in_last_append(const keel_store *s, const uint8_t *base, uint64_t prev,
                                 uint64_t floor, uint64_t *cut_to) {
    bool in_group = false;
    uint64_t v = commit_point_below(s, base, prev - 8, floor, &in_group);
    if (!in_group && !trailer_unwritten(base, prev)) return false;
    *cut_to = v;
    return true;
}

static void describe(keel_recovery_kind *kind, uint64_t *damaged, keel_recovery_kind k,
                     uint64_t at) {
    if (k > *kind) {
        *kind = k;
        *damaged = at;
    }
}

/* Find the end of the valid data in [floor, size): the last entry that is intact and
 * ends a complete atomic group whose every entry checks out. `floor` is where data is
 * known good (the header end, or the old end on refresh). Damage inside the last append
 * is cut with it: a batch whose commit entry reached the disk but one of whose earlier
 * pages did not (read as zeros) is cut whole. *kind_out and *damaged_out (the end offset
 * of the entry that failed, if any) say what the cut holds (keel.h, keel_recovery). */
static uint64_t find_valid_end(const keel_store *s, const uint8_t *base, uint64_t size,
                               uint64_t floor, keel_recovery_kind *kind_out,
                               uint64_t *damaged_out) {
    keel_recovery_kind kind = KEEL_RECOVERY_NONE;
    uint64_t damaged = 0;
    keel_trailer t;
    uint64_t e = size & ~(uint64_t)7;
    if (e < size) describe(&kind, &damaged, KEEL_RECOVERY_TORN, size);
    while (e > floor && !entry_ok(s, base, e, &t, true)) {
        /* A complete entry whose checksum fails, or just bytes: damage or a torn write. */
        describe(&kind, &damaged,
                 entry_ok(s, base, e, &t, false) ? KEEL_RECOVERY_CHECKSUM : KEEL_RECOVERY_TORN, e);
        e -= 8;
    }
    if (e <= floor) goto out;
    /* Step back over an unfinished group, and over damage inside it. */
    bool stepped = false;
    while (e > floor && entry_ok(s, base, e, &t, false) && (t.flags & KEEL_FLAG_GROUP_MORE)) {
        describe(&kind, &damaged, KEEL_RECOVERY_GROUP, e);
        e = t.prev_end;
        stepped = true;
    }
    uint64_t v;
    if (stepped && e > floor && !entry_ok(s, base, e, &t, false) &&
        break_in_last_append(s, base, e, floor, &v)) {
        describe(&kind, &damaged, KEEL_RECOVERY_BROKEN_GROUP, e);
        e = v;
        goto out;
    }
    /* Check every entry of the last group; cut the group whole if one is torn. */
    while (e > floor) {
        bool ok = true;
        uint64_t c = e, bad = 0;
        for (;;) {
            if (!entry_ok(s, base, c, &t, false)) goto out;  /* the walk will report it */
            if (!entry_ok(s, base, c, &t, true)) {
                ok = false;
                bad = c;
            }
            uint64_t prev = t.prev_end;
            keel_trailer pt;
            if (prev > floor && !entry_ok(s, base, prev, &pt, false)) {
                /* The chain breaks right below this group. */
                if (break_in_last_append(s, base, prev, floor, &v)) {
                    describe(&kind, &damaged, KEEL_RECOVERY_BROKEN_GROUP, prev);
                    e = v;
                    goto out;
                }
                if (!ok) {
                    describe(&kind, &damaged, KEEL_RECOVERY_CHECKSUM, bad);
                    e = prev;
                    break;
                }
                goto out;
            }
            if (prev <= floor || !(pt.flags & KEEL_FLAG_GROUP_MORE)) {
                if (ok) goto out;
                describe(&kind, &damaged, KEEL_RECOVERY_CHECKSUM, bad);
                e = prev;
                break;
            }
            c = prev;
        }
    }
out:
    if (e < floor) e = floor;
    if (kind_out) *kind_out = e < size ? kind : KEEL_RECOVERY_NONE;
    if (damaged_out) *damaged_out = damaged;
    return e;
}

/* ---- building the index --------------------------------------------------------------- */

/* The build queues entries in small batches and prefetches their home slots before
 * inserting them, so the cache misses of a batch overlap instead of running in series
 * (the walk itself reads trailers nearly sequentially). Order within the queue is kept:
 * newest first, which is what makes the first entry of a key the one that wins. */
#define BUILD_BATCH 32

typedef struct build_item {
    uint64_t hash, trailer_start, key_start, span;
    uint32_t key_len;
    bool dead;
} build_item;

typedef struct build_ctx {
    build_item q[BUILD_BATCH];
    unsigned n;
} build_ctx;

static keel_status build_flush(keel_store *s, build_ctx *b) {
    for (unsigned i = 0; i < b->n; i++) keel__index_prefetch(s, b->q[i].hash);
    for (unsigned i = 0; i < b->n; i++) {
        const build_item *it = &b->q[i];
        bool added;
        keel_status st = keel__index_add_if_absent(s, it->hash, keel__at(s, it->key_start),
                                                   it->key_len, it->trailer_start, it->dead,
                                                   &added);
        if (st != KEEL_OK) return st;
        if (added && !it->dead) s->live_bytes += it->span;
    }
    b->n = 0;
    return KEEL_OK;
}

static keel_status build_one(keel_store *s, const keel_trailer *t, const keel_place *p, void *ctx) {
    build_ctx *b = ctx;
    bool tomb = t->flags & KEEL_FLAG_TOMBSTONE;
    /* The index hashes the key bytes themselves rather than trusting the stored hash: open
     * does not read old entries' checksums, and a damaged hash field must not make a key
     * unreachable or resurrect an older version (keel_verify reports the damage). */
    uint64_t h = keel_hash(keel__at(s, p->key_start), t->key_len);
    b->q[b->n++] = (build_item){h, p->trailer_start, p->key_start, p->end - t->prev_end,
                                t->key_len, tomb};
    s->entries++;
    return b->n == BUILD_BATCH ? build_flush(s, b) : KEEL_OK;
}

static keel_status build_index(keel_store *s) {
    keel_status st = keel__index_init(&s->index, 0);
    if (st != KEEL_OK) return st;
    s->entries = s->live_bytes = 0;
    build_ctx b;
    b.n = 0;
    st = keel__walk(s, s->map->base, s->end, KEEL_HEADER_SIZE, s->align, s->file_tag, build_one,
                    &b);
    if (st == KEEL_OK) st = build_flush(s, &b);
    if (st == KEEL_ECORRUPT) {
        char detail[400];
        snprintf(detail, sizeof detail, "%s", keel_errmsg());
        return keel__fail(KEEL_ECORRUPT, "%s: %s (the file was not modified; keel verify "
                          "describes the damage, keel repair cuts it)", s->path, detail);
    }
    if (st != KEEL_OK) return st;
    return keel__index_purge_dead(s);
}

/* ---- open --------------------------------------------------------------------------- */

static keel_status open_file(keel_store *s, const keel_options *o) {
    int err;
    const char *path = s->path;
    bool ro = o->mode == KEEL_OPEN_READONLY;
    if (o->mode == KEEL_OPEN_NEW || o->mode == KEEL_OPEN_CREATE) {
        struct stat sb;
        if (stat(path, &sb) == 0) {
            if (o->mode == KEEL_OPEN_NEW) return keel__fail(KEEL_EEXIST, "%s already exists", path);
        } else if (errno == ENOENT) {
            keel_status st = keel__create_file(path, o->alignment, s->kind);
            if (st != KEEL_OK && !(st == KEEL_EEXIST && o->mode == KEEL_OPEN_CREATE)) return st;
        } else {
            return keel__fail_errno(errno, "stat %s", path);
        }
    }
    /* Between the open and the flock another writer may compact (rename a new file over
     * the path) and close: the lock would then be on a file no longer named by the path,
     * and every write to it would vanish. So once locked, check that the path still names
     * the locked file, and start over when it does not. */
    for (int attempt = 0;; attempt++) {
        err = keel__os_open(path, ro ? O_RDONLY : O_RDWR, 0644, &s->fd);
        if (err == ENOENT) return keel__fail(KEEL_ENOENT, "%s does not exist", path);
        if (err) return keel__fail_errno(err, "opening %s", path);
        struct stat sb;
        if (fstat(s->fd, &sb) < 0) return keel__fail_errno(errno, "fstat %s", path);
        if (!S_ISREG(sb.st_mode))
            return keel__fail(KEEL_EFORMAT, "%s is not a regular file", path);
        s->inode = (uint64_t)sb.st_ino;
        s->device = (uint64_t)sb.st_dev;
        if (ro) return KEEL_OK;
        err = keel__os_lock(s->fd);
        if (err == EWOULDBLOCK)
            return keel__fail(KEEL_ELOCKED, "%s is open for writing elsewhere (flock held)", path);
        if (err) return keel__fail_errno(err, "flock %s", path);
        err = keel__os_same_file(s->fd, path);
        if (err == 0) return KEEL_OK;
        keel__os_close(s->fd);
        s->fd = -1;
        if (err != ESTALE) return keel__fail_errno(err, "stat %s", path);
        /* Replaced under us. Each retry means another writer completed a compaction and
         * closed meanwhile; a bound keeps a pathological loop from spinning forever. */
        if (attempt == 1000)
            return keel__fail(KEEL_ELOCKED, "%s keeps being replaced by another writer", path);
    }
}

static keel_status read_header(keel_store *s, uint64_t size, bool writable) {
    uint8_t hdr[KEEL_HEADER_SIZE];
    if (size == 0) {
        if (!writable) return keel__fail(KEEL_EFORMAT, "%s is empty: not a keel store", s->path);
        /* An empty file (a fresh mktemp, say) becomes a new store; nothing is lost. */
        keel_status st = keel__new_header_bytes(s->align, s->kind, hdr, &s->file_tag);
        if (st != KEEL_OK) return st;
        int err = keel__os_pwrite_all(s->fd, hdr, sizeof hdr, 0);
        if (!err) err = keel__os_fdatasync(s->fd);
        if (err) {
            keel__os_ftruncate(s->fd, 0);
            return keel__fail_errno(err, "initialising the empty file %s", s->path);
        }
        size = KEEL_HEADER_SIZE;
    }
    size_t got = 0;
    int err = keel__os_pread_all(s->fd, hdr, sizeof hdr, 0, &got);
    if (err) return keel__fail_errno(err, "reading the header of %s", s->path);
    static const uint8_t magic[8] = {0x89, 'K', 'E', 'E', 'L', '\r', '\n', 0x1a};
    if (got < KEEL_HEADER_SIZE) {
        if (memcmp(hdr, magic, got < 8 ? got : 8) != 0)
            return keel__fail(KEEL_EFORMAT, "%s is not a keel store (bad magic number)", s->path);
        return keel__fail(KEEL_ECORRUPT, "%s: file of %zu bytes is shorter than its header",
                          s->path, got);
    }
    keel_header h;
    keel_status st = keel__header_decode(hdr, &h);
    if (st != KEEL_OK) {
        char detail[300];
        snprintf(detail, sizeof detail, "%s", keel_errmsg());
        return keel__fail(st, "%s: %s", s->path, detail);
    }
    if (h.kind != s->kind)
        return keel__fail(KEEL_EFORMAT, "%s is a keel %s, not a %s (it was left untouched)",
                          s->path, h.kind == KEEL_FILE_KIND_DB ? "database" : "DataStore",
                          s->kind == KEEL_FILE_KIND_DB ? "database" : "DataStore");
    s->align = 1u << h.align_log2;
    s->file_tag = h.file_tag;
    s->format_major = h.major;
    s->format_minor = h.minor;
    return KEEL_OK;
}

static const char *kind_text(keel_recovery_kind k) {
    switch (k) {
    case KEEL_RECOVERY_NONE: return "nothing";
    case KEEL_RECOVERY_TORN: return "a torn write: no complete entry";
    case KEEL_RECOVERY_GROUP: return "an unfinished atomic batch, never acknowledged";
    case KEEL_RECOVERY_CHECKSUM:
        return "a complete entry failing its checksum: damage, or a write of several pages "
               "torn by a power loss";
    case KEEL_RECOVERY_BROKEN_GROUP:
        return "the last batch broken inside: a page of it never reached the disk, or damage";
    case KEEL_RECOVERY_REPAIRED: return "keel repair: the chain of entries breaks there";
    }
    return "?";
}

static keel_status track_low(keel_store *s, const keel_trailer *t, const keel_place *p, void *ctx) {
    (void)s;
    (void)p;
    *(uint64_t *)ctx = t->prev_end;
    return KEEL_OK;
}

/* keel_repair: the walk from s->end broke. Step down to the newest valid end below the
 * break whose chain reaches the header, and rebuild the index from it. Each round starts
 * below the previous break, so this ends. *broken_out: where the first break was. */
static keel_status repair_end(keel_store *s, uint64_t *broken_out) {
    const uint8_t *base = s->map->base;
    uint64_t cand = s->end;
    *broken_out = 0;
    for (;;) {
        uint64_t low = cand;
        keel_status st = keel__walk(s, base, cand, KEEL_HEADER_SIZE, s->align, s->file_tag,
                                    track_low, &low);
        if (st == KEEL_OK) break;
        if (st != KEEL_ECORRUPT) return st;
        if (!*broken_out) *broken_out = low;
        cand = low <= KEEL_HEADER_SIZE + 8
                   ? KEEL_HEADER_SIZE
                   : find_valid_end(s, base, low - 8, KEEL_HEADER_SIZE, NULL, NULL);
    }
    s->end = cand;
    keel__index_free(&s->index);
    keel__clear_error();
    return build_index(s);
}

/* Record what recovery found past s->end and, when writable, save it beside the store
 * and cut it. Nothing is cut unless the copy is safely on disk. */
static keel_status settle_tail(keel_store *s, uint64_t size, bool writable, keel_recovery_kind kind,
                               uint64_t damaged) {
    s->rec_kind = kind;
    s->rec_valid_end = s->end;
    s->rec_cut_bytes = size - s->end;
    s->rec_damaged = kind >= KEEL_RECOVERY_CHECKSUM ? damaged : 0;
    if (writable) {
        int err = keel__os_save_range(s->fd, s->end, size - s->end, s->path, &s->rec_saved);
        if (err)
            return keel__fail_errno(err, "%s: saving the %llu bytes after offset %llu before "
                                    "cutting them (%s); the store was not modified", s->path,
                                    (unsigned long long)(size - s->end),
                                    (unsigned long long)s->end, kind_text(kind));
        err = keel__os_ftruncate(s->fd, s->end);
        if (!err) err = keel__os_fdatasync(s->fd);
        if (err) return keel__fail_errno(err, "cutting the torn tail of %s", s->path);
        s->rec_cut = true;
    }
    char at[64] = "";
    if (damaged && kind >= KEEL_RECOVERY_CHECKSUM)
        snprintf(at, sizeof at, " (entry ending at offset %llu)", (unsigned long long)damaged);
    size_t n = strlen(s->path) + (s->rec_saved ? strlen(s->rec_saved) : 0) + 400;
    s->rec_detail = malloc(n);
    if (!s->rec_detail) return keel__fail(KEEL_ENOMEM, "recovery report");
    if (writable)
        snprintf(s->rec_detail, n, "%s: recovery cut %llu bytes after offset %llu, %s%s; they "
                 "are saved in %s", s->path, (unsigned long long)s->rec_cut_bytes,
                 (unsigned long long)s->end, kind_text(kind), at, s->rec_saved);
    else
        snprintf(s->rec_detail, n, "%s: %llu bytes after offset %llu are ignored, %s%s; a "
                 "writable open will save them beside the store and cut them", s->path,
                 (unsigned long long)s->rec_cut_bytes, (unsigned long long)s->end,
                 kind_text(kind), at);
    return KEEL_OK;
}

/* Map the file, find the valid end, build the index. Shared by open and refresh. */
static keel_status load(keel_store *s, bool writable) {
    uint64_t size;
    int err = keel__os_fsize(s->fd, &size);
    if (err) return keel__fail_errno(err, "fstat %s", s->path);
    keel_status st = read_header(s, size, writable);
    if (st != KEEL_OK) return st;
    err = keel__os_fsize(s->fd, &size);
    if (err) return keel__fail_errno(err, "fstat %s", s->path);
    st = keel__map_new(s->fd, size, &s->map);
    if (st != KEEL_OK) return st;
    keel_recovery_kind kind;
    uint64_t damaged;
    s->end = find_valid_end(s, s->map->base, size, KEEL_HEADER_SIZE, &kind, &damaged);
    st = build_index(s);
    if (st == KEEL_ECORRUPT && s->repairing) {
        st = repair_end(s, &damaged);
        kind = KEEL_RECOVERY_REPAIRED;
    }
    if (st != KEEL_OK) return st;
    s->rec_valid_end = s->end;
    if (s->end < size) return settle_tail(s, size, writable, kind, damaged);
    return KEEL_OK;
}

static void store_release(keel_store *s) {
    keel__index_free(&s->index);
    keel__map_release_all(s);
    if (s->fd >= 0) keel__os_close(s->fd);
    s->fd = -1;
}

static keel_status open_store(const char *path, const keel_options *opts, uint8_t kind,
                              bool repair, keel_store **store_out) {
    keel_options o = KEEL_OPTIONS_INIT;
    if (opts) o = *opts;
    if (!path || !store_out) return keel__fail(KEEL_EINVAL, "keel_open: path and store_out are required");
    if (!*path) return keel__fail(KEEL_EINVAL, "keel_open: empty path");
    if ((unsigned)o.mode > KEEL_OPEN_NEW)
        return keel__fail(KEEL_EINVAL, "keel_open: unknown open mode %d", (int)o.mode);
    if ((unsigned)o.sync > KEEL_SYNC_FULL)
        return keel__fail(KEEL_EINVAL, "keel_open: unknown sync mode %d", (int)o.sync);
    if (o.alignment == 0) o.alignment = 64;
    if (o.alignment > 4096 || (o.alignment & (o.alignment - 1)))
        return keel__fail(KEEL_EINVAL, "alignment %u is not a power of two from 1 to 4096",
                          o.alignment);
    keel__clear_error();

    keel_store *s = calloc(1, sizeof *s);
    if (!s) return keel__fail(KEEL_ENOMEM, "allocating a store handle");
    s->fd = -1;
    s->path = strdup(path);
    if (!s->path) {
        free(s);
        return keel__fail(KEEL_ENOMEM, "allocating a store handle");
    }
    pthread_mutex_init(&s->write_lock, NULL);
    /* Writer-preferring: glibc's default lets a stream of readers starve the publish step
     * of a writer forever. Readers still never wait for I/O, only for a publish, which is
     * a few index stores. */
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&s->index_lock, &ra);
    pthread_rwlockattr_destroy(&ra);
    s->read_only = o.mode == KEEL_OPEN_READONLY;
    s->fork_gen = keel__fork_gen_open();
    s->owner_pid = keel__process_id();
    s->sync = o.sync;
    s->align = o.alignment;
    s->test_hash_mask = o.test_hash_mask;
    s->repairing = repair;
    s->kind = kind;

    keel_status st = open_file(s, &o);
    if (st == KEEL_OK) st = load(s, !s->read_only);
    if (st == KEEL_OK && !s->read_only) keel__remove_stale_files(s->path);
    if (st != KEEL_OK) {
        store_release(s);
        pthread_mutex_destroy(&s->write_lock);
        pthread_rwlock_destroy(&s->index_lock);
        free(s->rec_saved);
        free(s->rec_detail);
        free(s->path);
        free(s);
        return st;
    }
    s->repairing = false;
    *store_out = s;
    return KEEL_OK;
}

keel_status keel_open(const char *path, const keel_options *opts, keel_store **store_out) {
    return open_store(path, opts, KEEL_FILE_KIND_STORE, false, store_out);
}

keel_status keel__open_kind(const char *path, const keel_options *opts, uint8_t kind,
                            keel_store **store_out) {
    return open_store(path, opts, kind, false, store_out);
}

keel_status keel_repair(const char *path, const keel_options *opts, keel_store **store_out) {
    keel_options o = KEEL_OPTIONS_INIT;
    if (opts) o = *opts;
    if (o.mode == KEEL_OPEN_READONLY || o.mode == KEEL_OPEN_NEW)
        return keel__fail(KEEL_EINVAL, "keel_repair: repairs an existing file: mode %s",
                          o.mode == KEEL_OPEN_NEW ? "KEEL_OPEN_NEW" : "KEEL_OPEN_READONLY");
    o.mode = KEEL_OPEN_EXISTING;  /* never creates a file, whatever the default mode is */
    return open_store(path, &o, KEEL_FILE_KIND_STORE, true, store_out);
}

keel_status keel_close(keel_store *s) {
    if (!s) return keel__fail(KEEL_EINVAL, "store handle is NULL");
    if (keel__forked_since(s->fork_gen)) {
        /* A forked child: release this process's mapping and descriptor only. No locks
         * (a parent thread may have held one at the fork), no fdatasync; the flock stays
         * with the parent, whose descriptor shares it. */
        if (!s->closed) {
            s->closed = true;
            store_release(s);
        }
        return KEEL_OK;
    }
    if (atomic_load(&s->writer_thread) == keel__self_id())
        return keel__fail(KEEL_EBUSY, "keel_close called while this thread is writing");
    pthread_mutex_lock(&s->write_lock);
    pthread_rwlock_wrlock(&s->index_lock);
    keel_status st = KEEL_OK;
    if (!s->closed) {
        s->closed = true;
        if (!s->read_only && s->sync != KEEL_SYNC_NONE) {
            int err = keel__os_fdatasync(s->fd);
            if (err) st = keel__fail_errno(err, "fdatasync of %s at close", s->path);
        }
        store_release(s);
    }
    pthread_rwlock_unlock(&s->index_lock);
    pthread_mutex_unlock(&s->write_lock);
    return st;
}

void keel_free(keel_store *s) {
    if (!s) return;
    keel_close(s);
    pthread_mutex_destroy(&s->write_lock);
    pthread_rwlock_destroy(&s->index_lock);
    free(s->wbuf);
    free(s->rec_saved);
    free(s->rec_detail);
    free(s->path);
    free(s);
}

keel_status keel_recovery_info(keel_store *s, keel_recovery *out) {
    if (!s || !out) return keel__fail(KEEL_EINVAL, "keel_recovery_info: NULL argument");
    *out = (keel_recovery){s->rec_kind, s->rec_valid_end, s->rec_cut_bytes, s->rec_damaged,
                           s->rec_cut, s->rec_saved, s->rec_detail ? s->rec_detail : ""};
    return KEEL_OK;
}

/* ---- refresh (read-only) ------------------------------------------------------------ */

typedef struct fresh_entry {
    uint64_t hash, trailer_start, key_start;
    uint32_t key_len;
    bool tomb;
    uint64_t span;
} fresh_entry;

typedef struct fresh_list {
    const uint8_t *base;    /* the mapping the new entries are read from */
    fresh_entry *v;
    size_t n, cap;
} fresh_list;

static keel_status collect_fresh(keel_store *s, const keel_trailer *t, const keel_place *p,
                                 void *ctx) {
    (void)s;
    fresh_list *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        fresh_entry *v = realloc(l->v, cap * sizeof *v);
        if (!v) return keel__fail(KEEL_ENOMEM, "refresh list");
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (fresh_entry){keel_hash(l->base + p->key_start, t->key_len), p->trailer_start,
                                 p->key_start, t->key_len, (t->flags & KEEL_FLAG_TOMBSTONE) != 0,
                                 p->end - t->prev_end};
    return KEEL_OK;
}

/* Reload a store whose file was replaced (compacted) or cut by its writer. */
static keel_status reload_replaced(keel_store *s) {
    keel_options o = KEEL_OPTIONS_INIT;
    o.mode = KEEL_OPEN_READONLY;
    o.test_hash_mask = s->test_hash_mask;
    keel_store *n;
    keel_status st = keel__open_kind(s->path, &o, s->kind, &n);
    if (st != KEEL_OK) return st;
    pthread_rwlock_wrlock(&s->index_lock);
    keel__map_retire(s, s->map);
    keel__index_free(&s->index);
    keel__os_close(s->fd);
    s->fd = n->fd;
    s->map = n->map;
    s->index = n->index;
    s->end = n->end;
    s->entries = n->entries;
    s->live_bytes = n->live_bytes;
    s->align = n->align;
    s->file_tag = n->file_tag;
    s->inode = n->inode;
    s->device = n->device;
    s->format_major = n->format_major;
    s->format_minor = n->format_minor;
    if (s->hook.on_reload) s->hook.on_reload(s->hook.ctx, s);
    pthread_rwlock_unlock(&s->index_lock);
    n->fd = -1;
    n->map = NULL;
    memset(&n->index, 0, sizeof n->index);  /* moved to s */
    keel_free(n);
    return KEEL_OK;
}

keel_status keel_refresh(keel_store *s) {
    if (!s) return keel__fail(KEEL_EINVAL, "store handle is NULL");
    if (s->closed) return keel__fail(KEEL_ECLOSED, "store %s is closed", s->path);
    if (!s->read_only) return KEEL_OK;
    /* Refreshes are serialized by the write lock, which read-only stores never use else. */
    pthread_mutex_lock(&s->write_lock);
    keel_status st = KEEL_OK;
    struct stat sb;
    if (stat(s->path, &sb) == 0 &&
        ((uint64_t)sb.st_ino != s->inode || (uint64_t)sb.st_dev != s->device)) {
        st = reload_replaced(s);
        goto done;
    }
    uint64_t size;
    int err = keel__os_fsize(s->fd, &size);
    if (err) {
        st = keel__fail_errno(err, "fstat %s", s->path);
        goto done;
    }
    if (size < s->end) {
        /* The file shrank under us: a crashed writer's torn tail was cut by a new writer.
         * Start over from the file as it is now. */
        st = reload_replaced(s);
        goto done;
    }
    if (size == s->end) goto done;
    keel_map *m = s->map;
    if (size > m->reserved) {
        st = keel__map_new(s->fd, size, &m);
        if (st != KEEL_OK) goto done;
    }
    uint64_t new_end = find_valid_end(s, m->base, size, s->end, NULL, NULL);
    fresh_list l = {m->base, NULL, 0, 0};
    if (new_end > s->end) {
        /* keel__walk reads keys through s->map only in build_one; here it reads trailers
         * from the base it is given, so the new mapping can stay private until published. */
        st = keel__walk(s, m->base, new_end, s->end, s->align, s->file_tag, collect_fresh, &l);
    }
    pthread_rwlock_wrlock(&s->index_lock);
    if (m != s->map) {
        keel__map_retire(s, s->map);
        s->map = m;
    }
    if (st == KEEL_OK) {
        for (size_t i = l.n; i-- > 0 && st == KEEL_OK;) {  /* oldest first */
            fresh_entry *e = &l.v[i];
            keel_hit old;
            st = keel__index_set(s, e->hash, keel__at(s, e->key_start), e->key_len,
                                 e->trailer_start, e->tomb, &old);
            if (st != KEEL_OK) break;
            if (old.slot && !old.dead) s->live_bytes -= keel__entry_span(s, old.trailer_start);
            if (!e->tomb) s->live_bytes += e->span;
            s->entries++;
        }
        if (st == KEEL_OK) s->end = new_end;
        if (l.n && s->hook.on_reload) s->hook.on_reload(s->hook.ctx, s);
    }
    pthread_rwlock_unlock(&s->index_lock);
    free(l.v);
done:
    pthread_mutex_unlock(&s->write_lock);
    return st;
}
