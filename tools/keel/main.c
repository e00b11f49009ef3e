/*
 * keel.c: the `keel` command-line tool, a thin shell over the public API in keel.h.
 *
 *     keel FILE COMMAND [OPTIONS] [ARGS]
 *
 * One command per run: put, get, del, ls, stat, verify, compact, rename, copy, move. Each
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
 * Record files (keel_records.h) have their own syntax, with the word first:
 *
 *     keel records FILE [--json] [--no-verify]       statistics, verified
 *     keel records cat FILE [--format=F] [--recover] the records on standard output
 *
 * Exit status: 0 success, 1 key not found, 2 usage error, 3 any other error, reported on
 * stderr as "keel: <what>: <status text>: <detail>".
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "keel.h"
#include "keel_records.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
    EXIT_OK = 0,
    EXIT_NOTFOUND = 1,
    EXIT_USAGE = 2,
    EXIT_ERROR = 3,
};

/* Chunk size for standard input and output: large enough to amortise system calls, small
 * enough that memory use stays flat whatever the value's size. */
#define IO_CHUNK ((size_t)1 << 20)

/* Longest key shown in a message before it is cut with "...". */
#define SHOW_KEY_MAX 200

/* ---------------------------------------------------------------------------------------
 * Command table and parsed arguments
 */

enum {
    OPT_PREFIX = 1u << 0,
    OPT_JSON = 1u << 1,
    OPT_SYNC = 1u << 2,
    OPT_ALIGN = 1u << 3,
    OPT_HEX = 1u << 4,
    OPT_NULL = 1u << 5,
    OPT_AS = 1u << 6,
};

/* Bytes borrowed from argv (hex-decoded in place when --hex is given). */
typedef struct bytes {
    const char *data;
    size_t len;
} bytes;

#define MAX_POS 2

typedef struct args {
    const char *path;           /* the store file */
    const struct command *cmd;
    char *pos[MAX_POS];         /* positional arguments as given */
    int npos;
    char *prefix;               /* --prefix, NULL when absent */
    char *as;                   /* --as, NULL when absent */
    uint32_t align;             /* --align, 0 when absent */
    bool json;
    bool sync;
    bool hex;
    bool null_sep;
} args;

typedef struct command {
    const char *name;
    int (*run)(args *a);
    int min_pos, max_pos;
    const char *pos_names[MAX_POS];     /* for "missing KEY" */
    unsigned opts;
    const char *synopsis;       /* "put [--sync] KEY [VALUE]" */
    const char *summary;        /* one line for the overview */
    const char *help;           /* the rest of `keel help COMMAND` */
} command;

static int cmd_put(args *a);
static int cmd_get(args *a);
static int cmd_del(args *a);
static int cmd_ls(args *a);
static int cmd_stat(args *a);
static int cmd_verify(args *a);
static int cmd_compact(args *a);
static int cmd_rename(args *a);
static int cmd_copy(args *a);
static int cmd_move(args *a);

static const command commands[] = {
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
     "the file size, the bytes a compaction would reclaim, the value alignment and the\n"
     "format version. The store is opened read-only.\n"
     "\n"
     "  --json       print one JSON object instead\n"},
    {"verify", cmd_verify, 0, 0, {NULL, NULL}, 0,
     "verify",
     "check every entry's checksum and the chain",
     "Read every entry of FILE and check its checksum, its key hash and the chain that\n"
     "links it to the previous entry. Prints a summary; exit status 3 when anything is\n"
     "damaged. The store is opened read-only.\n"},
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

#define NCOMMANDS (sizeof commands / sizeof commands[0])

/* ---------------------------------------------------------------------------------------
 * Messages
 */

/* Print "keel: <fmt>" and a newline on stderr. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    fputs("keel: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* Report a usage mistake and point at the help. Returns EXIT_USAGE. */
static int usage_error(const command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int usage_error(const command *cmd, const char *fmt, ...)
{
    va_list ap;
    fputs("keel: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (cmd)
        fprintf(stderr, "Usage: keel FILE %s\nTry 'keel help %s' for more information.\n",
                cmd->synopsis, cmd->name);
    else
        fputs("Try 'keel --help' for more information.\n", stderr);
    return EXIT_USAGE;
}

/* Report a failed keel_ call as "keel: <what>: <status text>: <detail>". The detail is
 * copied first: it is only valid until the next keel_ call. Returns EXIT_ERROR. */
/* Print "keel: <what>: <text>[: <detail>]" and return EXIT_ERROR. */
static int report_failure(const char *text, const char *detail, const char *fmt, va_list ap)
{
    fputs("keel: ", stderr);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, ": %s", text);
    if (detail[0] != '\0' && strcmp(detail, text) != 0)
        fprintf(stderr, ": %s", detail);
    fputc('\n', stderr);
    return EXIT_ERROR;
}

static int keel_fail(keel_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int keel_fail(keel_status st, const char *fmt, ...)
{
    char detail[1024];
    snprintf(detail, sizeof detail, "%s", keel_errmsg());
    va_list ap;
    va_start(ap, fmt);
    int rc = report_failure(keel_strerror(st), detail, fmt, ap);
    va_end(ap);
    return rc;
}

/* keel_fail for record files: the same line, but with a detail saved earlier (the caller
 * made other keel_ calls since) and status texts that speak of record files where
 * keel_strerror speaks of stores ("not a keel store" for KEEL_EFORMAT). */
static int rec_fail(keel_status st, const char *detail, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int rec_fail(keel_status st, const char *detail, const char *fmt, ...)
{
    const char *text = st == KEEL_EFORMAT    ? "not a record file"
                       : st == KEEL_ECORRUPT ? "record file is damaged"
                                             : keel_strerror(st);
    va_list ap;
    va_start(ap, fmt);
    int rc = report_failure(text, detail, fmt, ap);
    va_end(ap);
    return rc;
}

/* Render a key for a message: quoted, non-printable bytes as \xNN, cut when long. `buf`
 * must hold 4 * SHOW_KEY_MAX + 8 bytes. */
static const char *show_key(bytes k, char *buf)
{
    static const char hexdig[] = "0123456789abcdef";
    char *p = buf;
    size_t n = k.len < SHOW_KEY_MAX ? k.len : SHOW_KEY_MAX;

    *p++ = '\'';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)k.data[i];
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
            *p++ = (char)c;
        } else {
            *p++ = '\\';
            *p++ = 'x';
            *p++ = hexdig[c >> 4];
            *p++ = hexdig[c & 15];
        }
    }
    *p++ = '\'';
    if (n < k.len) {
        memcpy(p, "...", 3);
        p += 3;
    }
    *p = '\0';
    return buf;
}

#define KEYBUF (4 * SHOW_KEY_MAX + 8)

/* ---------------------------------------------------------------------------------------
 * Output
 */

/* Write all of `buf` to `fd`, retrying after signals and short writes. Returns 0 or an
 * errno value (EPIPE when the reader went away: SIGPIPE is ignored in main). */
static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Turn an output errno into an exit status: a closed pipe ends the output quietly. */
static int output_failed(int err)
{
    if (err == EPIPE)
        return EXIT_OK;
    say("writing to standard output: %s", strerror(err));
    return EXIT_ERROR;
}

/* A small buffered writer on stdout for many short records (ls). */
typedef struct outbuf {
    char buf[64 * 1024];
    size_t len;
    int err;                    /* first errno, then everything is dropped */
} outbuf;

static void out_flush(outbuf *o)
{
    if (o->err == 0 && o->len > 0)
        o->err = write_all(STDOUT_FILENO, o->buf, o->len);
    o->len = 0;
}

static void out_put(outbuf *o, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0 && o->err == 0) {
        if (o->len == sizeof o->buf)
            out_flush(o);
        size_t n = sizeof o->buf - o->len;
        if (n > len)
            n = len;
        memcpy(o->buf + o->len, p, n);
        o->len += n;
        p += n;
        len -= n;
    }
}

/* "1.5 MiB": a human-readable size for messages (exact byte counts are printed too). */
static const char *human_size(uint64_t n, char *buf, size_t cap)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)n;
    unsigned u = 0;
    while (v >= 1024.0 && u + 1 < sizeof units / sizeof units[0]) {
        v /= 1024.0;
        u++;
    }
    if (u == 0)
        snprintf(buf, cap, "%" PRIu64 " B", n);
    else
        snprintf(buf, cap, "%.1f %s", v, units[u]);
    return buf;
}

/* Print `s` as a JSON string literal (control characters, quote and backslash escaped;
 * other bytes are passed through). */
static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

/* ---------------------------------------------------------------------------------------
 * Argument helpers
 */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The bytes of key argument `s`: as given, or hex-decoded in place (argv strings are
 * writable and the decoded form is shorter). Returns false on bad hex. */
static bool key_arg(const args *a, char *s, bytes *out)
{
    if (!a->hex) {
        out->data = s;
        out->len = strlen(s);
        return true;
    }
    size_t n = strlen(s);
    if (n % 2 != 0)
        return false;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        s[i] = (char)(hi << 4 | lo);
    }
    out->data = s;
    out->len = n / 2;
    return true;
}

/* key_arg for a command's argument, reporting bad hex as a usage error. */
static int get_key(const args *a, char *s, const char *what, bytes *out)
{
    if (!key_arg(a, s, out))
        return usage_error(a->cmd, "%s: --hex: '%s' is not a hexadecimal string", what, s);
    return 0;
}

static bool is_help(const char *s)
{
    return strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0;
}

static const command *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static void print_overview(FILE *f)
{
    fputs("Usage: keel FILE COMMAND [OPTIONS] [ARGS]\n"
          "       keel records [cat] FILE [OPTIONS]\n"
          "       keel help [COMMAND]\n"
          "       keel --version\n"
          "\n"
          "keel is an embedded single-file append-only key/value store; this tool works on\n"
          "one store FILE. Keys and values are arbitrary bytes.\n"
          "\n"
          "Commands:\n", f);
    for (size_t i = 0; i < NCOMMANDS; i++) {
        const command *c = &commands[i];
        char left[64];
        int n = snprintf(left, sizeof left, "%s", c->name);
        for (int j = 0; j < c->max_pos; j++)
            n += snprintf(left + n, sizeof left - (size_t)n, j < c->min_pos ? " %s" : " [%s]",
                          c->pos_names[j]);
        fprintf(f, "  %-22s %s\n", left, c->summary);
    }
    fputs("\n"
          "Record files (Riegeli/records, as RecordWriter, Disky and ArrayRecord write them):\n"
          "  records FILE           count records, chunk statistics, verify every chunk\n"
          "  records cat FILE       write the records to standard output\n"
          "(see 'keel help records'; a store named 'records' is reached as ./records)\n"
          "\n"
          "Run 'keel help COMMAND' or 'keel FILE COMMAND --help' for a command's options.\n"
          "Use '--' before a KEY that starts with '-'.\n"
          "\n"
          "Exit status: 0 success, 1 key not found, 2 usage error, 3 any other error.\n", f);
}

static void print_command_help(const command *c)
{
    printf("Usage: keel FILE %s\n\n%s", c->synopsis, c->help);
    printf("\n  -h, --help   show this help\n");
}

/* Parse "N" for --align: a power of two from 1 to 4096. */
static bool parse_align(const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v == 0 || v > 4096 ||
        (v & (v - 1)) != 0)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* Parse the arguments after COMMAND into `a`. Returns -1 to go on, or an exit status
 * (0 after printing help, EXIT_USAGE after a mistake). --help anywhere before "--" wins
 * over every other problem. */
static int parse_command_args(args *a, int argc, char **argv)
{
    const command *c = a->cmd;

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_command_help(c);
            return EXIT_OK;
        }
    }

    bool only_positional = false;
    for (int i = 0; i < argc; i++) {
        char *arg = argv[i];
        if (only_positional || arg[0] != '-' || arg[1] == '\0') {
            if (a->npos == c->max_pos)
                return usage_error(c, "%s: too many arguments", c->name);
            a->pos[a->npos++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_positional = true;
            continue;
        }

        /* "--name=value" or "--name value" */
        char name[32];
        char *value = NULL;
        char *eq = strchr(arg, '=');
        size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
        if (nlen >= sizeof name)
            return usage_error(c, "%s: unknown option '%s'", c->name, arg);
        memcpy(name, arg, nlen);
        name[nlen] = '\0';
        if (eq)
            value = eq + 1;

        unsigned opt = 0;
        bool takes_value = false;
        if (strcmp(name, "--prefix") == 0)
            opt = OPT_PREFIX, takes_value = true;
        else if (strcmp(name, "--as") == 0)
            opt = OPT_AS, takes_value = true;
        else if (strcmp(name, "--align") == 0)
            opt = OPT_ALIGN, takes_value = true;
        else if (strcmp(name, "--json") == 0)
            opt = OPT_JSON;
        else if (strcmp(name, "--sync") == 0)
            opt = OPT_SYNC;
        else if (strcmp(name, "--hex") == 0)
            opt = OPT_HEX;
        else if (strcmp(name, "--null") == 0 || strcmp(name, "-0") == 0)
            opt = OPT_NULL;

        if (opt == 0 || (c->opts & opt) == 0)
            return usage_error(c, "%s: unknown option '%s'", c->name, name);
        if (takes_value && !value) {
            if (i + 1 == argc)
                return usage_error(c, "%s: option '%s' needs a value", c->name, name);
            value = argv[++i];
        } else if (!takes_value && value) {
            return usage_error(c, "%s: option '%s' takes no value", c->name, name);
        }

        switch (opt) {
        case OPT_PREFIX: a->prefix = value; break;
        case OPT_AS: a->as = value; break;
        case OPT_ALIGN:
            if (!parse_align(value, &a->align))
                return usage_error(c, "%s: --align: '%s' is not a power of two from 1 to 4096",
                                   c->name, value);
            break;
        case OPT_JSON: a->json = true; break;
        case OPT_SYNC: a->sync = true; break;
        case OPT_HEX: a->hex = true; break;
        case OPT_NULL: a->null_sep = true; break;
        default: break;
        }
    }

    if (a->npos < c->min_pos)
        return usage_error(c, "%s: missing %s", c->name, c->pos_names[a->npos]);
    if (a->hex && a->null_sep)
        return usage_error(c, "%s: --hex and -0 exclude each other", c->name);
    return -1;
}

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
        return keel_fail(st, "opening '%s'", path);

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
        rc = keel_fail(st, "closing '%s'", path);
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
    return keel_fail(st, "%s %s", verb, show_key(key, kb));
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
        return keel_fail(ks, "put %s: starting a stream", show_key(key, kb));
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
            int rc = keel_fail(ks, "put %s: staging the value", show_key(key, kb));
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
        rc = keel_fail(st, "listing '%s'", a->path);
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
        rc = keel_fail(st, "listing '%s'", a->path);
    free(o);
    keel_iter_free(it);
    keel_free(s);
    return rc;
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
        rc = keel_fail(st, "stat '%s'", a->path);
        keel_free(s);
        return rc;
    }
    keel_free(s);

    if (a->json) {
        fputs("{\"path\": ", stdout);
        json_string(stdout, a->path);
        printf(", \"format_version\": \"%u.%u\", \"format_major\": %u, \"format_minor\": %u, "
               "\"alignment\": %" PRIu32 ", \"file_size\": %" PRIu64 ", \"entries\": %" PRIu64
               ", \"live_keys\": %" PRIu64 ", \"live_bytes\": %" PRIu64
               ", \"reclaimable_bytes\": %" PRIu64 "}\n",
               (unsigned)t.format_major, (unsigned)t.format_minor, (unsigned)t.format_major,
               (unsigned)t.format_minor, t.alignment, t.file_size, t.entries, t.live_keys,
               t.live_bytes, t.reclaimable_bytes);
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
    return EXIT_OK;
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
                   "data appended since this scan began; the next writable open cuts a torn "
                   "tail\n", a->path, (uint64_t)sb.st_size - committed, committed);
    } else if (st == KEEL_ECORRUPT) {
        printf("%s: %" PRIu64 " entries checked, %" PRIu64 " damaged", a->path,
               r.entries_checked, r.bad_entries);
        if (r.first_bad_offset)
            printf(" (the newest damaged entry ends at offset %" PRIu64 ")", r.first_bad_offset);
        putchar('\n');
        fflush(stdout);
        rc = keel_fail(st, "verify '%s'", a->path);
    } else {
        rc = keel_fail(st, "verify '%s'", a->path);
    }
    keel_free(s);
    return rc;
}

/* Progress bar state for compaction: redrawn on stderr when the percentage changes. */
typedef struct progress {
    int last_percent;           /* -1 before the first call */
    bool drawn;
} progress;

static void progress_draw(void *ctx, uint64_t done, uint64_t total)
{
    progress *p = ctx;
    enum { WIDTH = 30 };
    int percent = total ? (int)(done * 100 / total) : 100;
    if (percent > 100)
        percent = 100;
    if (percent == p->last_percent)
        return;
    p->last_percent = percent;

    char bar[WIDTH + 1];
    int fill = percent * WIDTH / 100;
    memset(bar, '#', (size_t)fill);
    memset(bar + fill, '.', (size_t)(WIDTH - fill));
    bar[WIDTH] = '\0';
    char h1[32], h2[32];
    fprintf(stderr, "\rcompacting [%s] %3d%%  %s / %s\033[K", bar, percent,
            human_size(done, h1, sizeof h1), human_size(total, h2, sizeof h2));
    fflush(stderr);
    p->drawn = true;
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
        rc = keel_fail(st, "compact '%s': reading the size", a->path);
        return close_store(s, a->path, rc);
    }

    progress p = {-1, false};
    bool bar = isatty(STDERR_FILENO);
    st = keel_compact(s, bar ? progress_draw : NULL, bar ? &p : NULL);
    if (p.drawn)
        fputc('\n', stderr);
    if (st != KEEL_OK) {
        rc = keel_fail(st, "compact '%s'", a->path);
        return close_store(s, a->path, rc);
    }
    st = keel_file_size(s, &after);
    if (st != KEEL_OK) {
        rc = keel_fail(st, "compact '%s': reading the size", a->path);
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

/* ---------------------------------------------------------------------------------------
 * Record files: keel records FILE, keel records cat FILE
 *
 * A different syntax from the store commands (the word "records" comes first, not FILE),
 * dispatched in main before FILE COMMAND is parsed: a store that is itself named "records"
 * is reached as ./records. Record files are only ever read here.
 */

typedef enum rec_format {
    REC_FMT_LINES,
    REC_FMT_LENGTH_PREFIXED,
    REC_FMT_HEX,
} rec_format;

typedef struct rec_args {
    const char *path;
    bool cat;                   /* `records cat` rather than the statistics */
    bool json;
    bool no_verify;
    bool recover;
    rec_format format;
} rec_args;

static const char rec_stat_help[] =
    "Usage: keel records FILE [--json] [--no-verify]\n"
    "\n"
    "Show what the record file FILE holds: the number of records and their decoded\n"
    "size, the file size, the chunks by type (records, padding, metadata, transposed)\n"
    "and by compression (none, zstd, brotli, snappy), the average records per chunk,\n"
    "and whether an ArrayRecord footer (and its group size) is present. FILE is a\n"
    "Riegeli/records file as keel's RecordWriter, Disky, Riegeli or ArrayRecord write\n"
    "it; it is only read.\n"
    "\n"
    "Then every record chunk's data is read, its hash checked and decoded. When\n"
    "anything is damaged the exit status is 3 and the message names the offset of the\n"
    "first damage; the statistics printed are then what the recover strategy still\n"
    "reads.\n"
    "\n"
    "  --json        print one JSON object instead\n"
    "  --no-verify   read the chunk headers only (no chunk data: fast on large files);\n"
    "                a damaged header is still reported\n";

static const char rec_cat_help[] =
    "Usage: keel records cat FILE [--format=lines|length-prefixed|hex] [--recover]\n"
    "\n"
    "Write the records of the record file FILE to standard output, in file order.\n"
    "\n"
    "  --format=lines            each record raw, followed by a newline (the default);\n"
    "                            a record that itself contains a newline is ambiguous\n"
    "                            in this format: use length-prefixed or hex for\n"
    "                            binary records\n"
    "  --format=length-prefixed  each record preceded by its length as an 8-byte\n"
    "                            little-endian unsigned integer (u64); no separators,\n"
    "                            exact for any bytes\n"
    "  --format=hex              each record in lowercase hexadecimal, then a newline\n"
    "                            (an empty record is an empty line)\n"
    "  --recover                 skip damaged chunks and go on (the recover corruption\n"
    "                            strategy); the skipped regions are reported on\n"
    "                            standard error and the exit status stays 0\n"
    "\n"
    "Without --recover the first damage ends the output with exit status 3 and a\n"
    "message naming its offset; the records before it have been written.\n";

static void print_records_help(bool cat_only)
{
    if (!cat_only) {
        fputs(rec_stat_help, stdout);
        fputs("\n", stdout);
    }
    fputs(rec_cat_help, stdout);
    fputs("\n  -h, --help   show this help\n"
          "\n"
          "Exit status: 0 success, 2 usage error, 3 any other error (a missing FILE, a\n"
          "file that is not a record file, damage).\n", stdout);
}

static int rec_usage_error(bool cat, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int rec_usage_error(bool cat, const char *fmt, ...)
{
    va_list ap;
    fputs("keel: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fprintf(stderr, "Usage: keel records %s\nTry 'keel help records%s' for more information.\n",
            cat ? "cat FILE [--format=lines|length-prefixed|hex] [--recover]"
                : "FILE [--json] [--no-verify]",
            cat ? " cat" : "");
    return EXIT_USAGE;
}

/* Parse the arguments after "records" (and after "cat"). Returns -1 to go on, or an exit
 * status (0 after printing help, EXIT_USAGE after a mistake). As for the store commands,
 * --help anywhere before "--" wins over every other problem. */
static int parse_records_args(rec_args *a, int argc, char **argv)
{
    const char *cmd = a->cat ? "records cat" : "records";

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (is_help(argv[i])) {
            print_records_help(a->cat);
            return EXIT_OK;
        }
    }

    bool only_positional = false;
    for (int i = 0; i < argc; i++) {
        char *arg = argv[i];
        if (only_positional || arg[0] != '-' || arg[1] == '\0') {
            if (a->path)
                return rec_usage_error(a->cat, "%s: too many arguments", cmd);
            a->path = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_positional = true;
            continue;
        }
        if (!a->cat && strcmp(arg, "--json") == 0) {
            a->json = true;
        } else if (!a->cat && strcmp(arg, "--no-verify") == 0) {
            a->no_verify = true;
        } else if (a->cat && strcmp(arg, "--recover") == 0) {
            a->recover = true;
        } else if (a->cat && (strcmp(arg, "--format") == 0 ||
                              strncmp(arg, "--format=", 9) == 0)) {
            const char *v = arg[8] == '=' ? arg + 9 : NULL;
            if (!v) {
                if (i + 1 == argc)
                    return rec_usage_error(a->cat, "%s: option '--format' needs a value", cmd);
                v = argv[++i];
            }
            if (strcmp(v, "lines") == 0)
                a->format = REC_FMT_LINES;
            else if (strcmp(v, "length-prefixed") == 0)
                a->format = REC_FMT_LENGTH_PREFIXED;
            else if (strcmp(v, "hex") == 0)
                a->format = REC_FMT_HEX;
            else
                return rec_usage_error(a->cat, "%s: --format: '%s' is not one of lines, "
                                       "length-prefixed, hex", cmd, v);
        } else {
            return rec_usage_error(a->cat, "%s: unknown option '%s'", cmd, arg);
        }
    }
    if (!a->path)
        return rec_usage_error(a->cat, "%s: missing FILE", cmd);
    if (a->path[0] == '\0')
        return rec_usage_error(a->cat, "%s: FILE is empty", cmd);
    return -1;
}

/* The statistics of `path`, verified unless --no-verify. On damage *damage_st is
 * KEEL_ECORRUPT (or the reader's error) with its detail in `detail`, and *s holds what the
 * recover strategy reads. Returns KEEL_OK when *s is filled (damaged or not), else the
 * error that prevented any statistics, its detail in `detail`. */
static keel_status records_stat(const rec_args *a, keel_rec_stat *s, keel_status *damage_st,
                                char *detail, size_t cap)
{
    keel_rec_reader_options o = KEEL_REC_READER_OPTIONS_INIT;
    int verify = !a->no_verify;

    *damage_st = KEEL_OK;
    detail[0] = '\0';
    o.corruption = KEEL_REC_ERROR;
    keel_status st = keel_rec_stat_file(a->path, &o, verify, s);
    if (st == KEEL_ECORRUPT) {
        /* A damaged header or a truncated chunk: the error strategy stops there. Keep its
         * detail (it names the offset) and count what the recover strategy still reads. */
        *damage_st = st;
        snprintf(detail, cap, "%s", keel_errmsg());
        o.corruption = KEEL_REC_RECOVER;
        st = keel_rec_stat_file(a->path, &o, verify, s);
        if (st != KEEL_OK)
            snprintf(detail, cap, "%s", keel_errmsg());
        return st;
    }
    if (st != KEEL_OK) {
        snprintf(detail, cap, "%s", keel_errmsg());
        return st;
    }
    if (verify && s->corrupt_chunks > 0) {
        /* keel_rec_stat_file counts damaged chunks but does not say where they are: read
         * the records under the error strategy, which stops at the first one, naming it. */
        keel_rec_reader *r;
        keel_rec_record rec;
        keel_status rst = keel_rec_reader_open(a->path, &o, &r);
        if (rst == KEEL_OK) {
            while ((rst = keel_rec_reader_next(r, &rec)) == KEEL_OK)
                ;
            if (rst != KEEL_NOTFOUND)
                snprintf(detail, cap, "%s", keel_errmsg());
            keel_rec_reader_close(r);
        }
        *damage_st = rst != KEEL_OK && rst != KEEL_NOTFOUND ? rst : KEEL_ECORRUPT;
        if (detail[0] == '\0')
            snprintf(detail, cap, "%" PRIu64 " record chunks failed their check",
                     s->corrupt_chunks);
    }
    return KEEL_OK;
}

static int cmd_records_stat(const rec_args *a)
{
    keel_rec_stat s;
    keel_status damage;
    char detail[1024];
    memset(&s, 0, sizeof s);

    keel_status st = records_stat(a, &s, &damage, detail, sizeof detail);
    if (st != KEEL_OK)
        return rec_fail(st, detail, "records '%s'", a->path);

    /* The signature counts as a chunk in s.chunks; the rest of it is typed. */
    uint64_t typed = s.record_chunks + s.padding_chunks + s.metadata_chunks +
                     s.transposed_chunks + s.other_chunks;
    uint64_t signature = s.chunks > typed ? s.chunks - typed : 0;
    double per_chunk = s.record_chunks ? (double)s.records / (double)s.record_chunks : 0.0;
    bool verified = !a->no_verify;
    bool intact = damage == KEEL_OK;

    if (a->json) {
        fputs("{\"path\": ", stdout);
        json_string(stdout, a->path);
        printf(", \"file_size\": %" PRIu64 ", \"records\": %" PRIu64
               ", \"record_bytes\": %" PRIu64 ", \"chunks\": %" PRIu64
               ", \"signature_chunks\": %" PRIu64 ", \"record_chunks\": %" PRIu64
               ", \"padding_chunks\": %" PRIu64 ", \"metadata_chunks\": %" PRIu64
               ", \"transposed_chunks\": %" PRIu64 ", \"other_chunks\": %" PRIu64
               ", \"uncompressed_chunks\": %" PRIu64 ", \"zstd_chunks\": %" PRIu64
               ", \"brotli_chunks\": %" PRIu64 ", \"snappy_chunks\": %" PRIu64
               ", \"chunk_data_bytes\": %" PRIu64 ", \"records_per_chunk\": %.3f"
               ", \"array_record\": %s, \"array_record_group_size\": %" PRIu64
               ", \"verified\": %s, \"intact\": %s, \"corrupt_chunks\": %" PRIu64
               ", \"skipped_regions\": %" PRIu64 ", \"skipped_bytes\": %" PRIu64
               ", \"error\": ",
               s.file_size, s.records, s.record_bytes, s.chunks, signature, s.record_chunks,
               s.padding_chunks, s.metadata_chunks, s.transposed_chunks, s.other_chunks,
               s.uncompressed_chunks, s.zstd_chunks, s.brotli_chunks, s.snappy_chunks,
               s.chunk_data_bytes, per_chunk, s.array_record ? "true" : "false",
               s.array_record_group_size, verified ? "true" : "false",
               intact ? (verified ? "true" : "null") : "false", s.corrupt_chunks,
               s.skipped_regions, s.skipped_bytes);
        if (intact)
            fputs("null", stdout);
        else
            json_string(stdout, detail);
        fputs("}\n", stdout);
    } else {
        char h1[32], h2[32], h3[32];
        printf("file:               %s\n"
               "file size:          %" PRIu64 " bytes (%s)\n"
               "records:            %" PRIu64 "\n"
               "record bytes:       %" PRIu64 " bytes (%s), decoded\n"
               "chunks:             %" PRIu64 " = %" PRIu64 " record + %" PRIu64 " signature + %"
               PRIu64 " padding + %" PRIu64 " metadata + %" PRIu64 " transposed + %" PRIu64
               " other\n"
               "compression:        %" PRIu64 " uncompressed, %" PRIu64 " zstd, %" PRIu64
               " brotli, %" PRIu64 " snappy (record chunks)\n"
               "chunk data bytes:   %" PRIu64 " bytes (%s), on disk\n"
               "records per chunk:  %.1f (average)\n",
               a->path, s.file_size, human_size(s.file_size, h1, sizeof h1), s.records,
               s.record_bytes, human_size(s.record_bytes, h2, sizeof h2), s.chunks,
               s.record_chunks, signature, s.padding_chunks, s.metadata_chunks,
               s.transposed_chunks, s.other_chunks, s.uncompressed_chunks, s.zstd_chunks,
               s.brotli_chunks, s.snappy_chunks, s.chunk_data_bytes,
               human_size(s.chunk_data_bytes, h3, sizeof h3), per_chunk);
        if (s.array_record && s.array_record_group_size)
            printf("ArrayRecord footer: yes (group size %" PRIu64 ")\n",
                   s.array_record_group_size);
        else
            printf("ArrayRecord footer: %s\n", s.array_record ? "yes" : "no");
        if (s.skipped_regions)
            printf("skipped:            %" PRIu64 " bytes in %" PRIu64 " damaged regions\n",
                   s.skipped_bytes, s.skipped_regions);
        if (!intact)
            printf("verify:             DAMAGED: %s (%" PRIu64 " record chunks failed their "
                   "data check)\n", detail, s.corrupt_chunks);
        else if (verified)
            printf("verify:             %" PRIu64 " record chunks checked, all intact\n",
                   s.record_chunks);
        else
            printf("verify:             not done (--no-verify; headers only)\n");
        if (s.transposed_chunks)
            printf("note:               transposed chunks are not supported: their records "
                   "cannot be read\n");
    }
    if (intact)
        return EXIT_OK;
    fflush(stdout);
    return rec_fail(damage, detail, "records '%s'", a->path);
}

/* Append `len` bytes as lowercase hexadecimal, a piece at a time (records may be large). */
static void out_put_hex(outbuf *o, const uint8_t *p, size_t len)
{
    static const char hexdig[] = "0123456789abcdef";
    char piece[4096];
    while (len > 0 && o->err == 0) {
        size_t n = len < sizeof piece / 2 ? len : sizeof piece / 2;
        for (size_t i = 0; i < n; i++) {
            piece[2 * i] = hexdig[p[i] >> 4];
            piece[2 * i + 1] = hexdig[p[i] & 15];
        }
        out_put(o, piece, 2 * n);
        p += n;
        len -= n;
    }
}

static int cmd_records_cat(const rec_args *a)
{
    keel_rec_reader_options opts = KEEL_REC_READER_OPTIONS_INIT;
    opts.corruption = a->recover ? KEEL_REC_RECOVER : KEEL_REC_ERROR;
    keel_rec_reader *r;
    char detail[1024];

    keel_status st = keel_rec_reader_open(a->path, &opts, &r);
    if (st != KEEL_OK) {
        snprintf(detail, sizeof detail, "%s", keel_errmsg());
        return rec_fail(st, detail, "records cat: opening '%s'", a->path);
    }
    outbuf *o = malloc(sizeof *o);
    if (!o) {
        say("records cat: out of memory");
        keel_rec_reader_close(r);
        return EXIT_ERROR;
    }
    o->len = 0;
    o->err = 0;

    keel_rec_record rec;
    while (o->err == 0 && (st = keel_rec_reader_next(r, &rec)) == KEEL_OK) {
        switch (a->format) {
        case REC_FMT_LINES:
            out_put(o, rec.data, rec.len);
            out_put(o, "\n", 1);
            break;
        case REC_FMT_LENGTH_PREFIXED: {
            uint8_t le[8];
            uint64_t n = rec.len;
            for (int i = 0; i < 8; i++)
                le[i] = (uint8_t)(n >> (8 * i));
            out_put(o, le, sizeof le);
            out_put(o, rec.data, rec.len);
            break;
        }
        case REC_FMT_HEX:
            out_put_hex(o, rec.data, rec.len);
            out_put(o, "\n", 1);
            break;
        }
    }
    if (o->err == 0 && st != KEEL_OK && st != KEEL_NOTFOUND)
        snprintf(detail, sizeof detail, "%s", keel_errmsg());
    out_flush(o);       /* the records before a damage are written before it is reported */

    int rc = EXIT_OK;
    if (o->err)
        rc = output_failed(o->err);
    else if (st != KEEL_NOTFOUND)
        rc = rec_fail(st, detail, "records cat '%s'", a->path);

    uint64_t skipped_bytes = 0;
    uint64_t nskips = keel_rec_reader_skipped(r, &skipped_bytes);
    if (nskips > 0) {
        say("records cat '%s': skipped %" PRIu64 " damaged bytes in %" PRIu64 " regions",
            a->path, skipped_bytes, nskips);
        for (uint64_t i = 0; i < nskips; i++) {
            keel_rec_skipped k;
            if (keel_rec_reader_skipped_region(r, i, &k) != KEEL_OK) {
                say("records cat '%s': (%" PRIu64 " more regions not recorded)", a->path,
                    nskips - i);
                break;
            }
            say("records cat '%s': skipped bytes %" PRIu64 "..%" PRIu64 " (%" PRIu64
                " bytes): %s", a->path, k.begin, k.end, k.end - k.begin, k.reason);
        }
    }
    free(o);
    keel_rec_reader_close(r);
    return rc;
}

/* keel records ...: argv[0] is "records". */
static int records_main(int argc, char **argv)
{
    rec_args a;
    memset(&a, 0, sizeof a);
    int i = 1;
    if (i < argc && strcmp(argv[i], "cat") == 0) {
        a.cat = true;
        i++;
    }
    int rc = parse_records_args(&a, argc - i, argv + i);
    if (rc >= 0)
        return rc;
    return a.cat ? cmd_records_cat(&a) : cmd_records_stat(&a);
}

/* ---------------------------------------------------------------------------------------
 * main
 */

/* Flush stdout at exit and turn a late write error into a status. */
static int finish(int rc)
{
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        int err = errno ? errno : EIO;
        int out_rc = output_failed(err);
        if (rc == EXIT_OK)
            rc = out_rc;
    }
    return rc;
}

int main(int argc, char **argv)
{
    /* A reader that goes away shows up as EPIPE from write(), handled where we write. */
    signal(SIGPIPE, SIG_IGN);

    if (argc < 2)
        return usage_error(NULL, "missing FILE and COMMAND");

    const char *first = argv[1];
    if (strcmp(first, "records") == 0)
        return finish(records_main(argc - 1, argv + 1));
    if (is_help(first)) {
        print_overview(stdout);
        return finish(EXIT_OK);
    }
    if (strcmp(first, "--version") == 0) {
        printf("keel %s (library %s, format %d.%d)\n", KEEL_VERSION_STRING, keel_version(),
               KEEL_FORMAT_MAJOR, KEEL_FORMAT_MINOR);
        return finish(EXIT_OK);
    }
    if (strcmp(first, "help") == 0) {
        if (argc == 2 || is_help(argv[2])) {
            print_overview(stdout);
            return finish(EXIT_OK);
        }
        if (strcmp(argv[2], "records") == 0) {
            print_records_help(argc > 3 && strcmp(argv[3], "cat") == 0);
            return finish(EXIT_OK);
        }
        const command *c = find_command(argv[2]);
        if (!c)
            return usage_error(NULL, "help: unknown command '%s'", argv[2]);
        print_command_help(c);
        return finish(EXIT_OK);
    }
    if (first[0] == '-' && first[1] != '\0')
        return usage_error(NULL, "unknown option '%s' (FILE comes first: keel FILE COMMAND)",
                           first);
    if (argc < 3)
        return usage_error(NULL, "missing COMMAND after FILE");

    if (is_help(argv[2])) {
        /* "keel put --help": the user left out FILE; show the command's help. */
        const command *c = find_command(first);
        if (c)
            print_command_help(c);
        else
            print_overview(stdout);
        return finish(EXIT_OK);
    }

    args a;
    memset(&a, 0, sizeof a);
    a.path = first;
    a.cmd = find_command(argv[2]);
    if (!a.cmd) {
        if (strcmp(argv[2], "records") == 0)
            return usage_error(NULL, "unknown command 'records' (for record files: keel "
                               "records FILE)");
        if (find_command(first))
            return usage_error(NULL, "unknown command '%s' (FILE comes first: keel FILE %s ...)",
                               argv[2], first);
        return usage_error(NULL, "unknown command '%s'", argv[2]);
    }
    if (first[0] == '\0')
        return usage_error(a.cmd, "FILE is empty");

    int rc = parse_command_args(&a, argc - 3, argv + 3);
    if (rc >= 0)
        return finish(rc);
    return finish(a.cmd->run(&a));
}
