/*
 * import_cmds.c: `keel import-simd SRC DST [--keys FILE] [--hex] [--unknown-prefix P]
 * [--align N]`: copy a SIMD R Drive file into a new keel store (keel_simd_import,
 * include/keel_migrate.h).
 *
 * SRC is opened read-only and never modified. DST must not exist; it is created for the
 * import and removed again when the import fails, so a failed import leaves nothing behind.
 * The keys come from FILE, one per line (the newline removed; with --hex each line is
 * hexadecimal), because SRC holds only their 64-bit hashes. A summary goes to standard
 * output; entries that matched no key are listed on standard error (hash, offset, length)
 * unless kept under --unknown-prefix. Exit status 0, 2 on a usage mistake, 3 when SRC is
 * damaged (the message names the offset) or any other failure.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "cli.h"
#include "keel_migrate.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char import_help[] =
    "Usage: keel import-simd SRC DST [--keys FILE] [--hex] [--unknown-prefix P] [--align N]\n"
    "\n"
    "Copy the newest version of every live key of the SIMD R Drive file SRC into a new keel\n"
    "store DST. SRC is opened read-only and never modified; DST must not exist.\n"
    "\n"
    "  --keys FILE          the keys SRC was written with, one per line (SIMD R Drive keeps\n"
    "                       only their 64-bit hashes); '-' reads standard input\n"
    "  --hex                the lines of FILE are hexadecimal\n"
    "  --unknown-prefix P   keep entries whose hash matches no key under P + the 16 hex\n"
    "                       digits of the hash (default: skip them, listed on stderr)\n"
    "  --align N            the payload alignment of SRC's writer: 1 (before 0.14), 16 (0.14)\n"
    "                       or 64 (0.15 on); found from the entries when absent\n"
    "\n"
    "A torn tail of SRC (bytes after its last complete entry, as a crash leaves) is reported\n"
    "and not imported. A complete entry whose CRC-32 fails stops the import (exit status 3,\n"
    "the message names its offset) and DST is removed.\n";

static int import_usage(const char *fmt, const char *arg)
{
    fputs("keel: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nUsage: keel import-simd SRC DST [--keys FILE] [--hex] [--unknown-prefix P] "
          "[--align N]\nTry 'keel help import-simd' for more information.\n", stderr);
    return EXIT_USAGE;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

typedef struct {
    char *buf;          /* the whole key file, keys decoded in place */
    keel_view *keys;
    size_t n;
} key_list;

/* Read FILE ('-': stdin) into `kl`: one key per line, hex-decoded with --hex. */
static int read_keys(const char *path, bool hex, key_list *kl)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        say("cannot open the key file %s: %s", path, strerror(errno));
        return EXIT_ERROR;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) free(buf);
            buf = nb;
        }
    }
    int rerr = ferror(f);
    if (f != stdin) fclose(f);
    if (!buf || rerr) {
        free(buf);
        say("cannot read the key file %s", path);
        return EXIT_ERROR;
    }
    size_t lines = 0;
    for (size_t i = 0; i < len; i++) lines += buf[i] == '\n';
    kl->keys = malloc((lines + 1) * sizeof *kl->keys);
    if (!kl->keys) {
        free(buf);
        say("out of memory for %zu keys", lines + 1);
        return EXIT_ERROR;
    }
    kl->buf = buf;
    kl->n = 0;
    size_t start = 0, lineno = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && buf[i] != '\n') continue;
        lineno++;
        size_t l = i - start;
        if (i == len && l == 0) break;     /* no line after the last newline */
        char *p = buf + start;
        if (hex) {
            if (l % 2) {
                say("key file %s, line %zu: odd number of hex digits", path, lineno);
                return EXIT_ERROR;
            }
            for (size_t j = 0; j < l / 2; j++) {
                int hi = hexval((unsigned char)p[2 * j]), lo = hexval((unsigned char)p[2 * j + 1]);
                if (hi < 0 || lo < 0) {
                    say("key file %s, line %zu: not hexadecimal", path, lineno);
                    return EXIT_ERROR;
                }
                p[j] = (char)(hi << 4 | lo);
            }
            l /= 2;
        }
        kl->keys[kl->n].data = (const uint8_t *)p;
        kl->keys[kl->n].len = l;
        kl->n++;
        start = i + 1;
    }
    return EXIT_OK;
}

static void print_unknown(void *ctx, uint64_t key_hash, uint64_t offset, uint64_t len)
{
    unsigned *shown = ctx;
    if (++*shown <= 20)
        fprintf(stderr, "keel: import-simd: no key for hash %016" PRIx64 " (entry at offset %"
                PRIu64 ", %" PRIu64 " bytes)\n", key_hash, offset, len);
}

static int import_main(int argc, char **argv)
{
    const char *pos[2] = {NULL, NULL}, *keys_path = NULL, *prefix = NULL;
    int npos = 0;
    bool hex = false, dashdash = false;
    unsigned long align = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!dashdash && strcmp(a, "--") == 0) {
            dashdash = true;
        } else if (!dashdash && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
            fputs(import_help, stdout);
            return EXIT_OK;
        } else if (!dashdash && strcmp(a, "--hex") == 0) {
            hex = true;
        } else if (!dashdash && (strcmp(a, "--keys") == 0 || strcmp(a, "--unknown-prefix") == 0 ||
                                 strcmp(a, "--align") == 0)) {
            if (i + 1 >= argc) return import_usage("%s needs a value", a);
            const char *v = argv[++i];
            if (a[2] == 'k') keys_path = v;
            else if (a[2] == 'u') prefix = v;
            else {
                char *end;
                errno = 0;
                align = strtoul(v, &end, 10);
                if (errno || *end || (align != 1 && align != 16 && align != 64))
                    return import_usage("--align must be 1, 16 or 64, not '%s'", v);
            }
        } else if (!dashdash && a[0] == '-' && a[1] != '\0') {
            return import_usage("unknown option '%s'", a);
        } else if (npos < 2) {
            pos[npos++] = a;
        } else {
            return import_usage("unexpected argument '%s'", a);
        }
    }
    if (npos < 2) return import_usage("missing %s", npos == 0 ? "SRC" : "DST");
    const char *src = pos[0], *dst = pos[1];
    struct stat sb, db;
    if (lstat(dst, &db) == 0)
        return import_usage("DST '%s' already exists (the import writes a new store)", dst);
    if (stat(src, &sb) != 0) {
        say("import-simd: cannot open %s: %s", src, strerror(errno));
        return EXIT_ERROR;
    }
    key_list kl = {NULL, NULL, 0};
    if (keys_path) {
        int rc = read_keys(keys_path, hex, &kl);
        if (rc) {
            free(kl.buf);
            free(kl.keys);
            return rc;
        }
    }
    keel_options o = KEEL_OPTIONS_INIT;
    o.mode = KEEL_OPEN_CREATE;
    keel_store *s = NULL;
    keel_status st = keel_open(dst, &o, &s);
    if (st) {
        free(kl.buf);
        free(kl.keys);
        return cli_fail(st, "import-simd: cannot create %s", dst);
    }
    unsigned shown = 0;
    keel_simd_import_options io;
    memset(&io, 0, sizeof io);
    io.keys = kl.keys;
    io.nkeys = kl.n;
    io.unknown_prefix = (const uint8_t *)prefix;
    io.unknown_prefix_len = prefix ? strlen(prefix) : 0;
    io.alignment = (uint32_t)align;
    io.on_unknown = prefix ? NULL : print_unknown;
    io.ctx = &shown;
    keel_simd_report r;
    st = keel_simd_import(src, s, &io, &r);
    keel_status cst = st ? KEEL_OK : keel_close(s);
    if (st) {
        char detail[1024];
        snprintf(detail, sizeof detail, "%s", keel_errmsg());
        keel_free(s);
        unlink(dst);
        free(kl.buf);
        free(kl.keys);
        fprintf(stderr, "keel: import-simd: %s: %s: %s (%s not created)\n", src,
                keel_strerror(st), detail, dst);
        return EXIT_ERROR;
    }
    keel_free(s);
    free(kl.buf);
    free(kl.keys);
    if (cst) {
        unlink(dst);
        return cli_fail(cst, "import-simd: cannot close %s", dst);
    }
    if (shown > 20)
        fprintf(stderr, "keel: import-simd: ... and %u more entries with no key\n", shown - 20);
    printf("imported %" PRIu64 " keys from %s into %s\n", r.imported + r.unknown_kept, src, dst);
    printf("  entries     %" PRIu64 " (alignment %u)\n", r.src.entries, (unsigned)r.src.alignment);
    printf("  live keys   %" PRIu64 " (%" PRIu64 " with a key, %" PRIu64 " without: %s)\n",
           r.live, r.imported, r.unknown, prefix ? "kept under the prefix" : "skipped");
    printf("  deleted     %" PRIu64 "\n  superseded  %" PRIu64 "\n", r.deleted, r.superseded);
    if (r.src.torn_bytes)
        printf("  torn tail   %" PRIu64 " bytes from offset %" PRIu64 " (not imported)\n",
               r.src.torn_bytes, r.src.valid_size);
    return EXIT_OK;
}

static void import_help_fn(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fputs(import_help, stdout);
}

const face import_face = {
    .word = "import-simd",
    .usage = "import-simd SRC DST [--keys FILE] [--unknown-prefix P]",
    .overview =
        "Migration from SIMD R Drive:\n"
        "  import-simd SRC DST    copy a SIMD R Drive file into a new store (see 'keel help "
        "import-simd')\n",
    .hint = "to import a SIMD R Drive file: keel import-simd SRC DST",
    .main = import_main,
    .help = import_help_fn,
};
