/*
 * cli.h: the shapes shared by the files of the `keel` command-line tool (never installed).
 *
 * The tool is split by face: main.c (dispatch, option parsing, messages, output and the
 * progress bar), store_cmds.c (keel FILE COMMAND: the store commands and their table),
 * records_cmds.c (keel records ...: record files) and db_cmds.c (keel db FILE COMMAND:
 * databases, with its commands in the db_*_cmds.c files, see db_cli.h). A face other than the store's is reached by a leading word ("records",
 * "db"); adding one is one more file defining a `face`, its declaration below and one line
 * in main.c's table.
 *
 * Invariants every file relies on:
 *   - Only the public API is used: keel.h, keel_records.h, keel_db.h and keel_migrate.h,
 *     never src/.
 *   - A command returns an exit status (EXIT_*); every helper that reports a problem has
 *     already printed it on stderr, one "keel: ..." line, when it returns non-zero.
 *   - Standard output is written through stdio or write_all/outbuf, never both for the
 *     same bytes; main flushes stdout before exiting and turns a late error into a status.
 *   - SIGPIPE is ignored: a reader that goes away shows up as EPIPE, which output_failed
 *     turns into a quiet EXIT_OK.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef KEEL_CLI_H
#define KEEL_CLI_H

#include "keel.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

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

/* The size of show_key's buffer. */
#define KEYBUF (4 * SHOW_KEY_MAX + 8)

/* ---- Command table and parsed arguments (store commands) ---------------------------- */

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

/* store_cmds.c: the store commands, in the order of the overview. */
extern const command store_commands[];
extern const size_t store_ncommands;

/* ---- Faces reached by a leading word ------------------------------------------------ */

/* `keel WORD ...`: a syntax of its own, dispatched before FILE COMMAND is parsed (a store
 * named WORD is reached as ./WORD). */
typedef struct face {
    const char *word;           /* "records" */
    const char *usage;          /* overview line after "keel ": "records [cat] FILE [OPTIONS]" */
    const char *overview;       /* overview paragraph, each line ending in '\n' */
    const char *hint;           /* for `keel FILE WORD`: "for record files: keel records FILE" */
    int (*main)(int argc, char **argv);         /* argv[0] is WORD */
    void (*help)(int argc, char **argv);        /* `keel help WORD ...`: argv[0] is WORD */
} face;

extern const face records_face;     /* records_cmds.c */
extern const face import_face;      /* import_cmds.c: keel import-simd */
extern const face db_face;          /* db_cmds.c */
extern const face serve_face;       /* serve.c: keel serve, the DynamoDB endpoint */

/* ---- main.c: messages --------------------------------------------------------------- */

/* Print "keel: <fmt>" and a newline on stderr. */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Report a usage mistake and point at the help (cmd's, or the overview when NULL).
 * Returns EXIT_USAGE. */
int usage_error(const command *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print "keel: <what>: <text>[: <detail>]" and return EXIT_ERROR. The detail is left out
 * when empty or equal to the text. */
int report_failure(const char *text, const char *detail, const char *fmt, va_list ap);

/* Report a failed keel_ call as "keel: <what>: <status text>: <detail>". Returns
 * EXIT_ERROR. */
int cli_fail(keel_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Render a key for a message: quoted, non-printable bytes as \xNN, cut when long. `buf`
 * must hold KEYBUF bytes. */
const char *show_key(bytes k, char *buf);

/* ---- main.c: output ----------------------------------------------------------------- */

/* Write all of `buf` to `fd`, retrying after signals and short writes. Returns 0 or an
 * errno value (EPIPE when the reader went away). */
int write_all(int fd, const void *buf, size_t len);

/* Turn an output errno into an exit status: a closed pipe ends the output quietly. */
int output_failed(int err);

/* A small buffered writer on stdout for many short records (ls, records cat). */
typedef struct outbuf {
    char buf[64 * 1024];
    size_t len;
    int err;                    /* first errno, then everything is dropped */
} outbuf;

void out_flush(outbuf *o);
void out_put(outbuf *o, const void *data, size_t len);

/* "1.5 MiB": a human-readable size for messages (exact byte counts are printed too). */
const char *human_size(uint64_t n, char *buf, size_t cap);

/* Print `s` as a JSON string literal. */
void print_json_string(FILE *f, const char *s);

/* Progress bar state: redrawn on stderr when the percentage changes. */
typedef struct progress {
    const char *label;          /* "compacting" */
    int last_percent;           /* -1 before the first call */
    bool drawn;                 /* then end the line with '\n' when done */
} progress;

/* A keel_progress_fn drawing `ctx` (a progress). */
void progress_draw(void *ctx, uint64_t done, uint64_t total);

/* ---- main.c: arguments -------------------------------------------------------------- */

bool is_help(const char *s);

/* The bytes of key argument `s` (hex-decoded in place with --hex), reporting bad hex as a
 * usage error for `what`. Returns 0 or EXIT_USAGE. */
int get_key(const args *a, char *s, const char *what, bytes *out);

#endif
