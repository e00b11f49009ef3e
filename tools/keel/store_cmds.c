/*
 * store_cmds.c: the store commands of `keel FILE COMMAND`, their table and the help texts.
 *
 * One command per run: put, get, del, ls, stat, verify, repair, compact, rename, copy, move. Each
 * opens the store in the weakest mode that does the job: read-only (no lock, never modifies
 * the file) for get, ls, stat and verify, so they work while another process writes;
 * "must exist" for commands that change an existing store (a typo never creates a file);
 * "create" only for put and for the target of copy/move.
 *
 * Bytes in, bytes out: keys and values are arbitrary bytes. `get` writes the raw value to
 * standard output straight from the store's mapping, in chunks; `put` without a VALUE
 * streams standard input through keel_stream_* so a value never has to fit in memory;
 * `ls` prints each key raw followed by '\n' (or '\0' with -0, or hex with --hex, for keys
 * that contain newlines). A reader that closes the pipe early (`keel f get k | head`) ends
 * the output quietly with status 0.
 *
 * main.c has parsed the arguments against store_commands[] before a command runs: the
 * positional count is within the command's bounds and only its options are set. A store
 * that was written to is closed through close_store, so that a failing close is reported.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int cmd_put(args *a);
static int cmd_get(args *a);
static int cmd_del(args *a);
static int cmd_ls(args *a);
static int cmd_stat(args *a);
static int cmd_verify(args *a);
static int cmd_repair(args *a);
static int cmd_compact(args *a);
static int cmd_rename(args *a);
static int cmd_copy(args *a);
static int cmd_move(args *a);

/* ---------------------------------------------------------------------------------------
 * Command table: the overview lists the commands in this order
 */

const command store_commands[] = {
    {"put", cmd_put, 1, 2, {"KEY", "VALUE"}, OPT_SYNC | OPT_ALIGN | OPT_HEX,
     "put [--sync] [--align N] [--hex] KEY [VALUE]",
     "store VALUE (or standard input) under KEY",
     "Store VALUE under KEY, replacing any previous value. Without VALUE the value is\n"
     "read from standard input until end of file, streamed (it never has to fit in\n"
     "memory), so any bytes work: keel FILE put KEY < photo.jpg. An empty VALUE ('')\n"
     "stores an empty value. FILE is created when it does not exist.\n"
     "\n"
     "  --sync       fdatasync before returning (the value survives a power loss)\n"
     "  --align N    value alignment of a new FILE: a power of two from 1 to 4096\n"
     "               (default 64); an existing file keeps its own\n"
     "  --hex        KEY is given in hexadecimal (for keys that contain NUL bytes)\n"},
    {"get", cmd_get, 1, 1, {"KEY", NULL}, OPT_HEX,
     "get [--hex] KEY",
     "write the value of KEY to standard output",
     "Write the raw value of KEY to standard output, with no trailing newline.\n"
     "Exit status 1 when KEY is absent. The store is opened read-only.\n"
     "\n"
     "  --hex        KEY is given in hexadecimal\n"},
    {"del", cmd_del, 1, 1, {"KEY", NULL}, OPT_SYNC | OPT_HEX,
     "del [--sync] [--hex] KEY",
     "delete KEY",
     "Delete KEY (an appended tombstone; compact reclaims the space).\n"
     "Exit status 1 when KEY is absent. FILE must exist.\n"
     "\n"
     "  --sync       fdatasync before returning\n"
     "  --hex        KEY is given in hexadecimal\n"},
    {"ls", cmd_ls, 0, 0, {NULL, NULL}, OPT_PREFIX | OPT_HEX | OPT_NULL,
     "ls [--prefix P] [--hex | -0]",
     "list the live keys, one per line",
     "List the live keys in file order (oldest write first). Keys are arbitrary bytes\n"
     "and are printed raw, each followed by a newline; a key that itself contains a\n"
     "newline is therefore ambiguous: use -0 or --hex for such stores.\n"
     "The store is opened read-only.\n"
     "\n"
     "  --prefix P   only keys that start with the bytes P (hexadecimal with --hex)\n"
     "  -0, --null   end each key with a NUL byte instead of a newline\n"
     "  --hex        print each key in hexadecimal\n"},
    {"stat", cmd_stat, 0, 0, {NULL, NULL}, OPT_JSON,
     "stat [--json]",
     "show entries, live keys, sizes and format",
     "Show the number of entries (old versions and tombstones included), live keys,\n"
     "the file size, the bytes a compaction would reclaim, the value alignment, the\n"
     "format version, and what recovery found past the last intact entry (a torn or\n"
     "damaged tail, which the next writable open saves beside FILE and cuts). The store\n"
     "is opened read-only.\n"
     "\n"
     "  --json       print one JSON object instead\n"},
    {"verify", cmd_verify, 0, 0, {NULL, NULL}, 0,
     "verify",
     "check every entry's checksum and the chain",
     "Read every entry of FILE and check its checksum, its key hash and the chain that\n"
     "links it to the previous entry. Prints a summary; exit status 3 when anything is\n"
     "damaged. The store is opened read-only.\n"},
    {"repair", cmd_repair, 0, 0, {NULL, NULL}, 0,
     "repair",
     "cut a damaged tail that open refuses, saving what it cuts",
     "Open FILE for writing and cut a damaged tail: the store keeps the newest entries\n"
     "from which the chain of entries reaches the header unbroken (and whose last batch\n"
     "checks out); every byte after them is first saved, fsynced, in a new file\n"
     "FILE.recovered-OFFSET-XXXXXX beside it. Use it when opening FILE fails with a\n"
     "\"broken chain\" (damage before the last write). Prints what was cut and where it\n"
     "was saved, or that there was nothing to do. Older entries' checksums are not\n"
     "mended (verify reports them). FILE must exist.\n"},
    {"compact", cmd_compact, 0, 0, {NULL, NULL}, 0,
     "compact",
     "rewrite FILE with only the live entries",
     "Rewrite FILE with only the live entries (crash-safe: a new file is written,\n"
     "synced and renamed over FILE). Prints the sizes before and after, and a\n"
     "progress bar on standard error when that is a terminal. FILE must exist.\n"},
    {"rename", cmd_rename, 2, 2, {"OLD", "NEW"}, OPT_SYNC | OPT_HEX,
     "rename [--sync] [--hex] OLD NEW",
     "rename key OLD to NEW (one atomic append)",
     "Rename key OLD to NEW as one atomic append. An existing NEW is replaced.\n"
     "Exit status 1 when OLD is absent. FILE must exist.\n"
     "\n"
     "  --sync       fdatasync before returning\n"
     "  --hex        OLD and NEW are given in hexadecimal\n"},
    {"copy", cmd_copy, 2, 2, {"KEY", "TARGET_FILE"}, OPT_SYNC | OPT_ALIGN | OPT_HEX | OPT_AS,
     "copy [--as NEWKEY] [--sync] [--align N] [--hex] KEY TARGET_FILE",
     "copy KEY into another store",
     "Copy the value of KEY into the store TARGET_FILE (created when it does not\n"
     "exist), under the same key or NEWKEY. Exit status 1 when KEY is absent (then\n"
     "TARGET_FILE is not created). FILE is opened read-only.\n"
     "\n"
     "  --as NEWKEY  store the copy under NEWKEY\n"
     "  --sync       fdatasync TARGET_FILE before returning\n"
     "  --align N    value alignment of a new TARGET_FILE\n"
     "  --hex        KEY and NEWKEY are given in hexadecimal\n"},
    {"move", cmd_move, 2, 2, {"KEY", "TARGET_FILE"}, OPT_SYNC | OPT_ALIGN | OPT_HEX | OPT_AS,
     "move [--as NEWKEY] [--sync] [--align N] [--hex] KEY TARGET_FILE",
     "move KEY into another store",
     "Copy KEY into TARGET_FILE (created when it does not exist), under the same key\n"
     "or NEWKEY, then delete it from FILE. The copy is made durable before the delete,\n"
     "so a crash in between leaves the value in both files, never in neither.\n"
     "Exit status 1 when KEY is absent. FILE must exist.\n"
     "\n"
     "  --as NEWKEY  store the value under NEWKEY in TARGET_FILE\n"
     "  --sync       fdatasync both files before returning\n"
     "  --align N    value alignment of a new TARGET_FILE\n"
     "  --hex        KEY and NEWKEY are given in hexadecimal\n"},
};

const size_t store_ncommands = sizeof store_commands / sizeof store_commands[0];

/* ---------------------------------------------------------------------------------------
 * Opening
 */

/* Open a->path (or `path` when not NULL) in `mode`, honouring --sync and --align. Returns
 * 0 or EXIT_ERROR after reporting. */
static int open_store(const args *a, const char *path, keel_open_mode mode, keel_store **out)
{
    keel_options o = KEEL_OPTIONS_INIT;
    o.mode = mode;
    o.sync = a->sync && mode != KEEL_OPEN_READONLY ? KEEL_SYNC_DATA : KEEL_SYNC_NONE;
    o.alignment = a->align ? a->align : 64;

    if (!path)
        path = a->path;
    keel_status st = keel_open(path, &o, out);
    if (st != KEEL_OK)
        return cli_fail(st, "opening '%s'", path);
    keel_recovery r;
    if (mode != KEEL_OPEN_READONLY && keel_recovery_info(*out, &r) == KEEL_OK && r.cut)
        say("warning: %s", r.detail);

    if (a->align && mode != KEEL_OPEN_READONLY) {
        keel_stats stats;
        if (keel_stat(*out, &stats) == KEEL_OK && stats.alignment != a->align)
            say("warning: '%s' already exists with alignment %" PRIu32 "; --align %" PRIu32
                " ignored", path, stats.alignment, a->align);
    }
    return 0;
}

/* Close a store we wrote to and report a failure (the close may flush). Always frees. */
static int close_store(keel_store *s, const char *path, int rc)
{
    keel_status st = keel_close(s);
    if (st != KEEL_OK && rc == EXIT_OK)
        rc = cli_fail(st, "closing '%s'", path);
    keel_free(s);
    return rc;
}

/* Map a keel status from a keyed operation to an exit code, reporting errors. */
static int key_status(keel_status st, const char *verb, bytes key)
{
    char kb[KEYBUF];
    if (st == KEEL_OK)
        return EXIT_OK;
    if (st == KEEL_NOTFOUND) {
        say("%s: key %s not found", verb, show_key(key, kb));
        return EXIT_NOTFOUND;
    }
    return cli_fail(st, "%s %s", verb, show_key(key, kb));
}

/* ---------------------------------------------------------------------------------------
 * Commands
 */

/* Stream standard input into `key` through a keel_stream. */
static int put_from_stdin(keel_store *s, bytes key)
{
    char kb[KEYBUF];
    keel_stream *st = NULL;
    char *buf = malloc(IO_CHUNK);
    if (!buf) {
        say("put: out of memory");
        return EXIT_ERROR;
    }
    if (isatty(STDIN_FILENO))
        say("reading the value from standard input; end it with Ctrl-D");

    keel_status ks = keel_stream_begin(s, &st);
    if (ks != KEEL_OK) {
        free(buf);
        return cli_fail(ks, "put %s: starting a stream", show_key(key, kb));
    }
    for (;;) {
        ssize_t n = read(STDIN_FILENO, buf, IO_CHUNK);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int err = errno;
            keel_stream_abort(st);
            free(buf);
            say("put %s: reading standard input: %s (nothing was stored)", show_key(key, kb),
                strerror(err));
            return EXIT_ERROR;
        }
        if (n == 0)
            break;
        ks = keel_stream_write(st, buf, (size_t)n);
        if (ks != KEEL_OK) {
            int rc = cli_fail(ks, "put %s: staging the value", show_key(key, kb));
            keel_stream_abort(st);
            free(buf);
            return rc;
        }
    }
    free(buf);
    ks = keel_stream_commit(st, key.data, key.len);     /* frees st */
    return key_status(ks, "put", key);
}

static int cmd_put(args *a)
{
    bytes key;
    int rc = get_key(a, a->pos[0], "put", &key);
    if (rc)
        return rc;

    keel_store *s;
    if ((rc = open_store(a, NULL, KEEL_OPEN_CREATE, &s)) != 0)
        return rc;
    if (a->npos == 2)
        rc = key_status(keel_put(s, key.data, key.len, a->pos[1], strlen(a->pos[1])), "put",
                        key);
    else
        rc = put_from_stdin(s, key);
    return close_store(s, a->path, rc);
}

static int cmd_get(args *a)
{
    bytes key;
    int rc = get_key(a, a->pos[0], "get", &key);
    if (rc)
        return rc;

    keel_store *s;
    if ((rc = open_store(a, NULL, KEEL_OPEN_READONLY, &s)) != 0)
        return rc;
    keel_view v;
    rc = key_status(keel_get(s, key.data, key.len, &v), "get", key);
    if (rc == EXIT_OK) {
        /* Straight from the mapping, in chunks so a huge value is paged in gradually. */
        for (size_t off = 0; off < v.len; off += IO_CHUNK) {
            size_t n = v.len - off < IO_CHUNK ? v.len - off : IO_CHUNK;
            int err = write_all(STDOUT_FILENO, v.data + off, n);
            if (err) {
                rc = output_failed(err);
                break;
            }
        }
    }
    keel_free(s);
    return rc;
}

static int cmd_del(args *a)
{
    bytes key;
    int rc = get_key(a, a->pos[0], "del", &key);
    if (rc)
        return rc;

    keel_store *s;
    if ((rc = open_store(a, NULL, KEEL_OPEN_EXISTING, &s)) != 0)
        return rc;
    rc = key_status(keel_delete(s, key.data, key.len), "del", key);
    return close_store(s, a->path, rc);
}

static int cmd_ls(args *a)
{
    static const char hexdig[] = "0123456789abcdef";
    bytes prefix = {"", 0};
    if (a->prefix) {
        int rc = get_key(a, a->prefix, "ls --prefix", &prefix);
        if (rc)
            return rc;
    }

    keel_store *s;
    int rc = open_store(a, NULL, KEEL_OPEN_READONLY, &s);
    if (rc)
        return rc;
    keel_iter *it;
    keel_status st = keel_iter_new(s, &it);
    if (st != KEEL_OK) {
        rc = cli_fail(st, "listing '%s'", a->path);
        keel_free(s);
        return rc;
    }

    outbuf *o = malloc(sizeof *o);
    if (!o) {
        say("ls: out of memory");
        keel_iter_free(it);
        keel_free(s);
        return EXIT_ERROR;
    }
    o->len = 0;
    o->err = 0;

    const char sep = a->null_sep ? '\0' : '\n';
    keel_view k, v;
    while (o->err == 0 && (st = keel_iter_next(it, &k, &v)) == KEEL_OK) {
        if (k.len < prefix.len || memcmp(k.data, prefix.data, prefix.len) != 0)
            continue;
        if (a->hex) {
            for (size_t i = 0; i < k.len; i++) {
                char h[2] = {hexdig[k.data[i] >> 4], hexdig[k.data[i] & 15]};
                out_put(o, h, 2);
            }
        } else {
            out_put(o, k.data, k.len);
        }
        out_put(o, &sep, 1);
    }
    out_flush(o);
    if (o->err)
        rc = output_failed(o->err);
    else if (st != KEEL_NOTFOUND)
        rc = cli_fail(st, "listing '%s'", a->path);
    free(o);
    keel_iter_free(it);
    keel_free(s);
    return rc;
}

static const char *recovery_kind_name(keel_recovery_kind k)
{
    switch (k) {
    case KEEL_RECOVERY_NONE: return "none";
    case KEEL_RECOVERY_TORN: return "torn";
    case KEEL_RECOVERY_GROUP: return "unfinished-batch";
    case KEEL_RECOVERY_CHECKSUM: return "checksum";
    case KEEL_RECOVERY_BROKEN_GROUP: return "broken-batch";
    case KEEL_RECOVERY_REPAIRED: return "repaired";
    }
    return "unknown";
}

static int cmd_stat(args *a)
{
    keel_store *s;
    int rc = open_store(a, NULL, KEEL_OPEN_READONLY, &s);
    if (rc)
        return rc;
    keel_stats t;
    keel_status st = keel_stat(s, &t);
    if (st != KEEL_OK) {
        rc = cli_fail(st, "stat '%s'", a->path);
        keel_free(s);
        return rc;
    }
    keel_recovery r;
    if (keel_recovery_info(s, &r) != KEEL_OK)
        memset(&r, 0, sizeof r);

    if (a->json) {
        fputs("{\"path\": ", stdout);
        print_json_string(stdout, a->path);
        printf(", \"format_version\": \"%u.%u\", \"format_major\": %u, \"format_minor\": %u, "
               "\"alignment\": %" PRIu32 ", \"file_size\": %" PRIu64 ", \"entries\": %" PRIu64
               ", \"live_keys\": %" PRIu64 ", \"live_bytes\": %" PRIu64
               ", \"reclaimable_bytes\": %" PRIu64 ", \"recovery\": ",
               (unsigned)t.format_major, (unsigned)t.format_minor, (unsigned)t.format_major,
               (unsigned)t.format_minor, t.alignment, t.file_size, t.entries, t.live_keys,
               t.live_bytes, t.reclaimable_bytes);
        if (r.kind == KEEL_RECOVERY_NONE) {
            fputs("null}\n", stdout);
        } else {
            printf("{\"kind\": \"%s\", \"valid_end\": %" PRIu64 ", \"ignored_bytes\": %" PRIu64
                   ", \"damaged_offset\": %" PRIu64 ", \"detail\": ", recovery_kind_name(r.kind),
                   r.valid_end, r.cut_bytes, r.damaged_offset);
            print_json_string(stdout, r.detail);
            fputs("}}\n", stdout);
        }
        keel_free(s);
        return EXIT_OK;
    }
    char h1[32], h2[32], h3[32];
    printf("file:              %s\n"
           "format version:    %u.%u\n"
           "alignment:         %" PRIu32 " bytes\n"
           "file size:         %" PRIu64 " bytes (%s)\n"
           "entries:           %" PRIu64 "\n"
           "live keys:         %" PRIu64 "\n"
           "live bytes:        %" PRIu64 " bytes (%s)\n"
           "reclaimable bytes: %" PRIu64 " bytes (%s)\n",
           a->path, (unsigned)t.format_major, (unsigned)t.format_minor, t.alignment,
           t.file_size, human_size(t.file_size, h1, sizeof h1), t.entries, t.live_keys,
           t.live_bytes, human_size(t.live_bytes, h2, sizeof h2), t.reclaimable_bytes,
           human_size(t.reclaimable_bytes, h3, sizeof h3));
    if (r.kind == KEEL_RECOVERY_NONE)
        printf("recovery:          none (the file ends with an intact entry)\n");
    else
        printf("recovery:          %s: %" PRIu64 " bytes after offset %" PRIu64
               " (the next writable open saves them beside the file and cuts them)\n",
               recovery_kind_name(r.kind), r.cut_bytes, r.valid_end);
    keel_free(s);
    return EXIT_OK;
}

static int cmd_repair(args *a)
{
    keel_options o = KEEL_OPTIONS_INIT;
    o.mode = KEEL_OPEN_EXISTING;
    o.sync = KEEL_SYNC_DATA;
    keel_store *s;
    keel_status st = keel_repair(a->path, &o, &s);
    if (st != KEEL_OK)
        return cli_fail(st, "repairing '%s'", a->path);
    keel_recovery r;
    st = keel_recovery_info(s, &r);
    if (st == KEEL_OK && r.kind == KEEL_RECOVERY_NONE)
        printf("%s: nothing to repair: the file ends with an intact entry\n", a->path);
    else if (st == KEEL_OK)
        printf("%s\n", r.detail);
    return close_store(s, a->path, st == KEEL_OK ? EXIT_OK : cli_fail(st, "repair '%s'", a->path));
}

static int cmd_verify(args *a)
{
    keel_store *s;
    int rc = open_store(a, NULL, KEEL_OPEN_READONLY, &s);
    if (rc)
        return rc;
    keel_verify_report r;
    memset(&r, 0, sizeof r);
    keel_status st = keel_verify(s, &r);
    if (st == KEEL_OK) {
        printf("%s: %" PRIu64 " entries checked, all intact\n", a->path, r.entries_checked);
        /* A read-only open skips a torn tail without a word; a damaged newest entry looks
         * the same. Say so, since the next writable open will cut those bytes. */
        uint64_t committed;
        struct stat sb;
        if (keel_file_size(s, &committed) == KEEL_OK && stat(a->path, &sb) == 0 &&
            (uint64_t)sb.st_size > committed)
            printf("%s: note: %" PRIu64 " bytes past the last intact entry (offset %" PRIu64
                   ") are not part of the store: a torn tail from an interrupted write, or "
                   "data appended since this scan began; the next writable open saves a torn "
                   "tail beside the file and cuts it\n", a->path, (uint64_t)sb.st_size - committed, committed);
    } else if (st == KEEL_ECORRUPT) {
        printf("%s: %" PRIu64 " entries checked, %" PRIu64 " damaged", a->path,
               r.entries_checked, r.bad_entries);
        if (r.first_bad_offset)
            printf(" (the newest damaged entry ends at offset %" PRIu64 ")", r.first_bad_offset);
        putchar('\n');
        fflush(stdout);
        rc = cli_fail(st, "verify '%s'", a->path);
    } else {
        rc = cli_fail(st, "verify '%s'", a->path);
    }
    keel_free(s);
    return rc;
}

static int cmd_compact(args *a)
{
    keel_store *s;
    int rc = open_store(a, NULL, KEEL_OPEN_EXISTING, &s);
    if (rc)
        return rc;

    uint64_t before = 0, after = 0;
    keel_status st = keel_file_size(s, &before);
    if (st != KEEL_OK) {
        rc = cli_fail(st, "compact '%s': reading the size", a->path);
        return close_store(s, a->path, rc);
    }

    progress p = {"compacting", -1, false};
    bool bar = isatty(STDERR_FILENO);
    st = keel_compact(s, bar ? progress_draw : NULL, bar ? &p : NULL);
    if (p.drawn)
        fputc('\n', stderr);
    if (st != KEEL_OK) {
        rc = cli_fail(st, "compact '%s'", a->path);
        return close_store(s, a->path, rc);
    }
    st = keel_file_size(s, &after);
    if (st != KEEL_OK) {
        rc = cli_fail(st, "compact '%s': reading the size", a->path);
        return close_store(s, a->path, rc);
    }

    char h1[32], h2[32];
    uint64_t freed = before > after ? before - after : 0;
    printf("%s: %" PRIu64 " -> %" PRIu64 " bytes (%s -> %s), %" PRIu64 " bytes freed (%.1f%%)\n",
           a->path, before, after, human_size(before, h1, sizeof h1),
           human_size(after, h2, sizeof h2), freed,
           before ? 100.0 * (double)freed / (double)before : 0.0);
    return close_store(s, a->path, EXIT_OK);
}

static int cmd_rename(args *a)
{
    bytes from, to;
    int rc = get_key(a, a->pos[0], "rename", &from);
    if (!rc)
        rc = get_key(a, a->pos[1], "rename", &to);
    if (rc)
        return rc;
    if (from.len == to.len && memcmp(from.data, to.data, from.len) == 0)
        return usage_error(a->cmd, "rename: OLD and NEW are the same key");

    keel_store *s;
    if ((rc = open_store(a, NULL, KEEL_OPEN_EXISTING, &s)) != 0)
        return rc;
    rc = key_status(keel_rename(s, from.data, from.len, to.data, to.len), "rename", from);
    return close_store(s, a->path, rc);
}

/* True when paths a and b name the same file: the same inode, or the same spelling when
 * one of them does not exist (yet). */
static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) != 0 || stat(b, &sb) != 0)
        return strcmp(a, b) == 0;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* copy and move: KEY from FILE into TARGET_FILE (under --as when given). */
static int transfer(args *a, bool move)
{
    const char *verb = move ? "move" : "copy";
    const char *target = a->pos[1];
    bytes key, dkey;
    int rc = get_key(a, a->pos[0], verb, &key);
    if (rc)
        return rc;
    dkey = key;
    if (a->as && (rc = get_key(a, a->as, verb, &dkey)) != 0)
        return rc;
    bool same = same_file(a->path, target);
    if (same && dkey.len == key.len && memcmp(dkey.data, key.data, key.len) == 0)
        return usage_error(a->cmd, "%s: TARGET_FILE is FILE; give a different key with --as",
                           verb);

    keel_store *src, *dst = NULL;
    if ((rc = open_store(a, NULL, move || same ? KEEL_OPEN_EXISTING : KEEL_OPEN_READONLY,
                         &src)) != 0)
        return rc;

    /* Check first, so that a missing key does not create TARGET_FILE. */
    rc = key_status(keel_exists(src, key.data, key.len), verb, key);
    if (rc == EXIT_OK) {
        if (same)
            dst = src;
        else
            rc = open_store(a, target, KEEL_OPEN_CREATE, &dst);
    }
    if (rc == EXIT_OK) {
        keel_status st = move ? keel_move(src, key.data, key.len, dst, dkey.data, dkey.len)
                              : keel_copy(src, key.data, key.len, dst, dkey.data, dkey.len);
        rc = key_status(st, verb, key);
    }
    if (dst && dst != src)
        rc = close_store(dst, target, rc);
    return close_store(src, a->path, rc);
}

static int cmd_copy(args *a)
{
    return transfer(a, false);
}

static int cmd_move(args *a)
{
    return transfer(a, true);
}
