/*
 * io.c: a table to and from DynamoDB's export format (keel_db_export, keel_db_import).
 *
 * The format is that of DynamoDB's export to S3 ("DYNAMODB_JSON") and of its import from
 * S3: one item per line, {"Item": {"name": AttributeValue, ...}}, UTF-8, optionally gzip
 * compressed. Export scans the table (read-committed, like any scan: items written during
 * the export may or may not be in it) and writes through zlib, compressed or (mode "T")
 * plain. Import reads through zlib too, which sees gzip by its magic bytes and passes any
 * other file through unchanged, so both kinds import the same way.
 *
 * Import is not one transaction. Items are checked one by one (JSON, DynamoDB's item
 * rules, the table's key schema) and written in atomic batches of opts->batch items
 * (keel_db_batch_write). A bad line stops the import: the items of the lines before it
 * are written (the pending batch is flushed first), the bad line and everything after it
 * are not, and the report names the line (1-based). Two lines with one key are both
 * applied in order (the later wins), as sequential puts would be: a batch is flushed
 * before it would hold one key twice.
 *
 * Lines are untrusted: each is bounded (KDB_IO_MAX_LINE) before it is parsed, and the JSON
 * decoder bounds nesting.
 *
 * Export never destroys what `path` held before it has the whole new file. A path that is
 * the database's own file (same device and inode) is refused: truncating it in place
 * emptied the database and killed the exporting process with SIGBUS on the next read of
 * its mapping. A regular file (or a new name) is written under a temporary name beside it
 * (<path>.export-<pid>-<n>, created exclusively), fsynced, then renamed over `path`, so a
 * crash or a kill in between leaves the old file whole; an error removes only the
 * temporary. Anything else (a symlink, a FIFO, a device such as /dev/stdout) is written
 * in place and never removed.
 */
#include "db/db_internal.h"
#include "db/json.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define KDB_IO_MAX_LINE (16u * 1024u * 1024u)
#define KDB_IO_BATCH 100u

static keel_status io_fail(const char *what, const char *path) {
    return keel__fail(errno == ENOENT ? KEEL_ENOENT : errno == EACCES ? KEEL_EACCES : KEEL_EIO,
                      "%s %s: %s", what, path, strerror(errno ? errno : EIO));
}

/* ---- export ---------------------------------------------------------------------------------- */

/* Where an export to `path` writes (see the top of the file): KEEL_EINVAL when `path` is
 * the database's own file; *tmp_out a malloc'd temporary name beside a regular file or a
 * new name, NULL to write `path` in place. */
static keel_status export_target(keel_db *db, const char *path, char **tmp_out) {
    static atomic_uint seq;
    *tmp_out = NULL;
    struct stat sb, lsb;
    if (stat(path, &sb) == 0) {
        keel_status st = keel__reader_enter(db->s);
        if (st != KEEL_OK) return st;
        bool self = (uint64_t)sb.st_ino == db->s->inode && (uint64_t)sb.st_dev == db->s->device;
        keel__reader_leave(db->s);
        if (self)
            return keel__fail(KEEL_EINVAL, "cannot export to %s: it is the database's own file",
                              path);
    }
    bool exists = lstat(path, &lsb) == 0;
    if (exists && !S_ISREG(lsb.st_mode)) return KEEL_OK;  /* a symlink, FIFO or device */
    if (!exists && errno != ENOENT) return io_fail("cannot create", path);
    size_t n = strlen(path) + 48;
    char *tmp = malloc(n);
    if (!tmp) return keel__fail(KEEL_ENOMEM, "exporting to %s", path);
    snprintf(tmp, n, "%s.export-%ld-%u", path, (long)getpid(), atomic_fetch_add(&seq, 1));
    *tmp_out = tmp;
    return KEEL_OK;
}

keel_status keel_db_export(keel_db *db, const char *table, const char *path,
                           const keel_db_io_opts *opts, keel_db_io_report *report) {
    keel_db_io_report rep = {0, 0, 0};
    if (report) *report = rep;
    if (!db || !table || !path) return keel__fail(KEEL_EINVAL, "keel_db_export: NULL argument");
    keel_db_table_info info;
    keel_status st = keel_db_describe_table(db, table, &info);
    if (st != KEEL_OK) return st;
    bool out_std = strcmp(path, "-") == 0;
    char *tmp = NULL;        /* the temporary name, when writing beside a regular file */
    int fd = -1;
    if (out_std) {
        fd = dup(STDOUT_FILENO);
        if (fd < 0) return io_fail("cannot write to", "standard output");
    } else {
        if ((st = export_target(db, path, &tmp)) != KEEL_OK) return st;
        fd = open(tmp ? tmp : path, O_WRONLY | O_CREAT | (tmp ? O_EXCL : O_TRUNC) | O_CLOEXEC,
                  0666);
        if (fd < 0) {
            st = io_fail("cannot create", path);
            free(tmp);
            return st;
        }
    }
    int syncfd = tmp ? dup(fd) : -1;   /* gzclose closes fd; the data is synced after it */
    gzFile gz = (!tmp || syncfd >= 0) ? gzdopen(fd, opts && opts->gzip ? "wb6" : "wbT") : NULL;
    if (!gz) {
        close(fd);
        if (syncfd >= 0) close(syncfd);
        if (tmp) unlink(tmp);
        free(tmp);
        return keel__fail(KEEL_ENOMEM, "gzdopen %s", path);
    }
    keel_db_query q = KEEL_DB_QUERY_INIT;
    keel_db_cursor *c = NULL;
    st = keel_db_scan_start(db, table, &q, &c);
    keel_view v;
    while (st == KEEL_OK && (st = keel_db_cursor_next(c, &v)) == KEEL_OK) {
        json_t *item = NULL;
        if ((st = kdb_json_from_item(v.data, v.len, &item)) != KEEL_OK) break;
        json_t *line = json_pack("{s:o}", "Item", item);
        char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
        json_decref(line);
        if (!text) {
            st = keel__fail(KEEL_ENOMEM, "exporting an item");
            break;
        }
        size_t n = strlen(text);
        text[n] = '\n';
        int w = gzwrite(gz, text, (unsigned)(n + 1));
        free(text);
        if (w != (int)(n + 1)) {
            int zerr;
            const char *msg = gzerror(gz, &zerr);
            st = keel__fail(KEEL_EIO, "writing %s: %s", path, zerr == Z_ERRNO ? strerror(errno) : msg);
            break;
        }
        rep.items++;
        rep.lines++;
        if (opts && opts->progress) opts->progress(opts->progress_ctx, rep.items, info.items);
    }
    if (st == KEEL_NOTFOUND) st = KEEL_OK;
    keel_db_cursor_free(c);
    int zr = gzclose(gz);
    if (st == KEEL_OK && zr != Z_OK) st = keel__fail(KEEL_EIO, "closing %s: %s", path, strerror(errno ? errno : EIO));
    if (tmp) {
        if (st == KEEL_OK && fsync(syncfd) != 0) st = io_fail("cannot sync", tmp);
        close(syncfd);
        if (st == KEEL_OK && rename(tmp, path) != 0) st = io_fail("cannot rename the export onto", path);
        if (st != KEEL_OK) unlink(tmp);
        free(tmp);
    }
    if (report) *report = rep;
    return st;
}

/* ---- import ---------------------------------------------------------------------------------- */

typedef struct batch {
    keel_db_write *w;
    kdb_buf *items;
    kdb_key *keys;
    size_t n, cap;
} batch;

static void batch_free(batch *b) {
    for (size_t i = 0; i < b->cap; i++) kdb_buf_free(&b->items[i]);
    free(b->items);
    free(b->keys);
    free(b->w);
}

static keel_status batch_flush(keel_db *db, const char *table, batch *b, keel_db_io_report *rep) {
    if (!b->n) return KEEL_OK;
    for (size_t i = 0; i < b->n; i++) {
        b->w[i].table = table;
        b->w[i].item = b->items[i].p;
        b->w[i].item_len = b->items[i].len;
        b->w[i].is_delete = 0;
    }
    keel_status st = keel_db_batch_write(db, b->w, b->n);
    if (st == KEEL_OK) rep->items += b->n;
    b->n = 0;
    return st;
}

/* Read one line (without its newline) into `line`; false at the end of the input. */
static keel_status read_line(gzFile gz, kdb_buf *line, bool *more, const char *path) {
    line->len = 0;
    char chunk[65536];
    for (;;) {
        if (!gzgets(gz, chunk, sizeof chunk)) {
            int zerr;
            const char *msg = gzerror(gz, &zerr);
            if (zerr != Z_OK && zerr != Z_BUF_ERROR)
                return keel__fail(KEEL_EIO, "reading %s: %s", path,
                                  zerr == Z_ERRNO ? strerror(errno) : msg);
            if (zerr == Z_BUF_ERROR)
                return keel__fail(KEEL_EFORMAT, "reading %s: the gzip stream is truncated", path);
            *more = line->len > 0;
            return KEEL_OK;
        }
        size_t n = strlen(chunk);
        bool nl = n && chunk[n - 1] == '\n';
        kdb_buf_put(line, chunk, nl ? n - 1 : n);
        if (line->failed) return keel__fail(KEEL_ENOMEM, "reading a line");
        if (line->len > KDB_IO_MAX_LINE)
            return keel__fail(KEEL_EVALIDATION, "the line is longer than %u bytes", KDB_IO_MAX_LINE);
        if (nl || gzeof(gz)) {
            *more = true;
            return KEEL_OK;
        }
    }
}

/* One line's item: {"Item": {...}} -> CBOR in `out`, its store key in `key`. */
static keel_status parse_line(const kdb_table *t, const kdb_buf *line, kdb_buf *out, kdb_key *key) {
    json_error_t err;
    json_t *j = json_loadb((const char *)line->p, line->len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
                           &err);
    if (!j) return keel__fail(KEEL_EVALIDATION, "not JSON: %s (column %d)", err.text, err.column);
    json_t *item = json_is_object(j) && json_object_size(j) == 1 ? json_object_get(j, "Item") : NULL;
    keel_status st;
    if (!item || !json_is_object(item))
        st = keel__fail(KEEL_EVALIDATION, "a line must be {\"Item\": {...}} (DynamoDB JSON)");
    else {
        out->len = 0;
        out->failed = false;
        st = kdb_json_to_item(item, out);
    }
    json_decref(j);
    size_t size;
    if (st == KEEL_OK) st = kdb_item_check(out->p, out->len, &size);
    if (st == KEEL_OK) st = kdb_item_key(t, out->p, out->len, false, key);
    return st;
}

keel_status keel_db_import(keel_db *db, const char *table, const char *path,
                           const keel_db_io_opts *opts, keel_db_io_report *report) {
    keel_db_io_report rep = {0, 0, 0};
    if (report) *report = rep;
    if (!db || !table || !path) return keel__fail(KEEL_EINVAL, "keel_db_import: NULL argument");
    kdb_table t;
    keel_status st = kdb_table_get(db, table, &t);
    if (st != KEEL_OK) return st;
    bool in_std = strcmp(path, "-") == 0;
    int fd = in_std ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return io_fail("cannot open", path);
    struct stat sb;
    uint64_t total = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) ? (uint64_t)sb.st_size : 0;
    gzFile gz = gzdopen(fd, "rb");
    if (!gz) {
        close(fd);
        return keel__fail(KEEL_ENOMEM, "gzdopen %s", path);
    }
    gzbuffer(gz, 1u << 17);
    size_t per = opts && opts->batch ? opts->batch : KDB_IO_BATCH;
    batch b = {0};
    b.cap = per;
    b.w = calloc(per, sizeof *b.w);
    b.items = calloc(per, sizeof *b.items);
    b.keys = malloc(per * sizeof *b.keys);
    kdb_buf line = {0};
    bool line_bad = false;
    if (!b.w || !b.items || !b.keys) st = keel__fail(KEEL_ENOMEM, "an import batch");
    while (st == KEEL_OK) {
        bool more = false;
        st = read_line(gz, &line, &more, path);
        if (st == KEEL_EVALIDATION) rep.lines++, line_bad = true;
        if (st != KEEL_OK || !more) break;
        rep.lines++;
        size_t k = 0;
        while (k < line.len && (line.p[k] == ' ' || line.p[k] == '\t' || line.p[k] == '\r')) k++;
        if (k == line.len) continue; /* blank */
        kdb_key key;
        st = parse_line(&t, &line, &b.items[b.n], &key);
        if (st != KEEL_OK) {
            line_bad = true;
            break;
        }
        bool repeated = false;
        for (size_t i = 0; i < b.n && !repeated; i++)
            repeated = b.keys[i].len == key.len && memcmp(b.keys[i].b, key.b, key.len) == 0;
        if (repeated) { /* write what came before, then start the next batch with this item */
            size_t n = b.n;
            st = batch_flush(db, table, &b, &rep);
            kdb_buf tmp = b.items[0];
            b.items[0] = b.items[n];
            b.items[n] = tmp;
        }
        if (st != KEEL_OK) break;
        b.keys[b.n] = key;
        b.n++;
        if (b.n == per) st = batch_flush(db, table, &b, &rep);
        if (st == KEEL_OK && opts && opts->progress && total)
            opts->progress(opts->progress_ctx, (uint64_t)gzoffset(gz), total);
    }
    if (line_bad) {
        char detail[512];
        snprintf(detail, sizeof detail, "%s", keel_errmsg());
        uint64_t bad = rep.lines;
        keel_status fst = batch_flush(db, table, &b, &rep);
        rep.bad_line = bad;
        st = fst != KEEL_OK ? fst
                            : keel__fail(st, "line %llu: %s (%llu items imported before it)",
                                         (unsigned long long)bad, detail,
                                         (unsigned long long)rep.items);
    } else if (st == KEEL_OK) {
        st = batch_flush(db, table, &b, &rep);
        if (st == KEEL_OK && opts && opts->progress && total) opts->progress(opts->progress_ctx, total, total);
    }
    gzclose(gz);
    kdb_buf_free(&line);
    batch_free(&b);
    if (report) *report = rep;
    return st;
}
