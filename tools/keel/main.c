/*
 * main.c: the `keel` command-line tool, a thin shell over the public API in keel.h.
 *
 *     keel FILE COMMAND [OPTIONS] [ARGS]         the store commands (store_cmds.c)
 *     keel records [cat] FILE [OPTIONS]          record files (records_cmds.c)
 *     keel import-simd SRC DST [OPTIONS]         SIMD R Drive import (import_cmds.c)
 *     keel db FILE COMMAND [OPTIONS] [ARGS]      databases (db_cmds.c)
 *     keel help [COMMAND], keel --version
 *
 * This file dispatches: a leading word that names a face (faces[] below: "records",
 * "db") hands the rest of the line to that face; anything else is FILE COMMAND, parsed
 * here against the store's command table by the shared option parser. It also holds
 * what every face shares: the messages, the output helpers (unbuffered writes, a buffered
 * writer, sizes, JSON strings) and the progress bar.
 *
 * Exit status: 0 success, 1 key not found, 2 usage error, 3 any other error, reported on
 * stderr as "keel: <what>: <status text>: <detail>". Whatever a command returns, stdout is
 * flushed before exit and a late write error becomes the status (finish).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The faces reached by a leading word, in the order of the overview. */
static const face *const faces[] = {
    &records_face,
    &import_face,
    &db_face,
    &serve_face,
};

#define NFACES (sizeof faces / sizeof faces[0])

/* ---------------------------------------------------------------------------------------
 * Messages
 */

/* Print "keel: <fmt>" and a newline on stderr. */
void say(const char *fmt, ...)
{
    va_list ap;
    fputs("keel: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* Report a usage mistake and point at the help. Returns EXIT_USAGE. */
int usage_error(const command *cmd, const char *fmt, ...)
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

/* Print "keel: <what>: <text>[: <detail>]" and return EXIT_ERROR. */
int report_failure(const char *text, const char *detail, const char *fmt, va_list ap)
{
    fputs("keel: ", stderr);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, ": %s", text);
    if (detail[0] != '\0' && strcmp(detail, text) != 0)
        fprintf(stderr, ": %s", detail);
    fputc('\n', stderr);
    return EXIT_ERROR;
}

/* Report a failed keel_ call as "keel: <what>: <status text>: <detail>". The detail is
 * copied first: it is only valid until the next keel_ call. Returns EXIT_ERROR. */
int cli_fail(keel_status st, const char *fmt, ...)
{
    char detail[1024];
    snprintf(detail, sizeof detail, "%s", keel_errmsg());
    va_list ap;
    va_start(ap, fmt);
    int rc = report_failure(keel_strerror(st), detail, fmt, ap);
    va_end(ap);
    return rc;
}

/* Render a key for a message: quoted, non-printable bytes as \xNN, cut when long. `buf`
 * must hold KEYBUF bytes. */
const char *show_key(bytes k, char *buf)
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

/* ---------------------------------------------------------------------------------------
 * Output
 */

/* Write all of `buf` to `fd`, retrying after signals and short writes. Returns 0 or an
 * errno value (EPIPE when the reader went away: SIGPIPE is ignored in main). */
int write_all(int fd, const void *buf, size_t len)
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
int output_failed(int err)
{
    if (err == EPIPE)
        return EXIT_OK;
    say("writing to standard output: %s", strerror(err));
    return EXIT_ERROR;
}

void out_flush(outbuf *o)
{
    if (o->err == 0 && o->len > 0)
        o->err = write_all(STDOUT_FILENO, o->buf, o->len);
    o->len = 0;
}

void out_put(outbuf *o, const void *data, size_t len)
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
const char *human_size(uint64_t n, char *buf, size_t cap)
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
void print_json_string(FILE *f, const char *s)
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
 * Progress bar
 */

/* "<label> [#####.....]  42%  1.5 MiB / 3.0 MiB" on stderr, redrawn in place only when the
 * percentage changes. The caller draws only when stderr is a terminal, and ends the line
 * when p->drawn. */
void progress_draw(void *ctx, uint64_t done, uint64_t total)
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
    fprintf(stderr, "\r%s [%s] %3d%%  %s / %s\033[K", p->label, bar, percent,
            human_size(done, h1, sizeof h1), human_size(total, h2, sizeof h2));
    fflush(stderr);
    p->drawn = true;
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
int get_key(const args *a, char *s, const char *what, bytes *out)
{
    if (!key_arg(a, s, out))
        return usage_error(a->cmd, "%s: --hex: '%s' is not a hexadecimal string", what, s);
    return 0;
}

bool is_help(const char *s)
{
    return strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0;
}

static const command *find_command(const char *name)
{
    for (size_t i = 0; i < store_ncommands; i++)
        if (strcmp(store_commands[i].name, name) == 0)
            return &store_commands[i];
    return NULL;
}

static const face *find_face(const char *word)
{
    for (size_t i = 0; i < NFACES; i++)
        if (strcmp(faces[i]->word, word) == 0)
            return faces[i];
    return NULL;
}

static void print_overview(FILE *f)
{
    fputs("Usage: keel FILE COMMAND [OPTIONS] [ARGS]\n", f);
    for (size_t i = 0; i < NFACES; i++)
        fprintf(f, "       keel %s\n", faces[i]->usage);
    fputs("       keel help [COMMAND]\n"
          "       keel --version\n"
          "\n"
          "keel is an embedded single-file append-only key/value store; this tool works on\n"
          "one store FILE. Keys and values are arbitrary bytes.\n"
          "\n"
          "Commands:\n", f);
    for (size_t i = 0; i < store_ncommands; i++) {
        const command *c = &store_commands[i];
        char left[64];
        int n = snprintf(left, sizeof left, "%s", c->name);
        for (int j = 0; j < c->max_pos; j++)
            n += snprintf(left + n, sizeof left - (size_t)n, j < c->min_pos ? " %s" : " [%s]",
                          c->pos_names[j]);
        fprintf(f, "  %-22s %s\n", left, c->summary);
    }
    for (size_t i = 0; i < NFACES; i++) {
        fputc('\n', f);
        fputs(faces[i]->overview, f);
    }
    fputs("\n"
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
    const face *fc = find_face(first);
    if (fc)
        return finish(fc->main(argc - 1, argv + 1));
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
        if ((fc = find_face(argv[2])) != NULL) {
            fc->help(argc - 2, argv + 2);
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
        if ((fc = find_face(argv[2])) != NULL)
            return usage_error(NULL, "unknown command '%s' (%s)", fc->word, fc->hint);
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
