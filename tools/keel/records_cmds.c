/*
 * records_cmds.c: the record-file face of the `keel` tool (keel_records.h).
 *
 *     keel records FILE [--json] [--no-verify]       statistics, verified
 *     keel records cat FILE [--format=F] [--recover] the records on standard output
 *
 * A different syntax from the store commands (the word "records" comes first, not FILE),
 * dispatched in main before FILE COMMAND is parsed: a store that is itself named "records"
 * is reached as ./records. Its own argument parser and usage messages live here; the
 * messages, output helpers and exit statuses are main.c's. Record files are only ever read
 * here, and a damage is reported with the offset the reader names (rec_fail).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "cli.h"
#include "keel_records.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        print_json_string(stdout, a->path);
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
            print_json_string(stdout, detail);
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

/* keel help records [cat]: argv[0] is "records". */
static void records_help(int argc, char **argv)
{
    print_records_help(argc > 1 && strcmp(argv[1], "cat") == 0);
}

const face records_face = {
    .word = "records",
    .usage = "records [cat] FILE [OPTIONS]",
    .overview =
        "Record files (Riegeli/records, as RecordWriter, Disky and ArrayRecord write them):\n"
        "  records FILE           count records, chunk statistics, verify every chunk\n"
        "  records cat FILE       write the records to standard output\n"
        "(see 'keel help records'; a store named 'records' is reached as ./records)\n",
    .hint = "for record files: keel records FILE",
    .main = records_main,
    .help = records_help,
};
