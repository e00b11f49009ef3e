/*
 * db_query_cmds.c: the reading commands of `keel db` that walk many items (db_cli.h):
 * query and scan (one cursor loop for both, with --filter, --projection, --limit,
 * --start-key, scan segments and a progress bar on a terminal) and search (a vector
 * index's k nearest items, the query vector given as JSON or as a file holding it).
 *
 * The file is opened read-only; argument JSON is converted before it is opened; output is
 * one item per line in DynamoDB JSON, or DynamoDB's response shape with --json.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "cli.h"
#include "db_cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

/* ---- query and scan ----------------------------------------------------------------------- */

/* A progress bar in items, drawn on stderr only after the scan has run for a moment (a
 * short scan draws nothing) and only when the percentage changes. */
typedef struct scan_bar {
    bool enabled, drawn;
    uint64_t total;
    int last_percent;
    struct timespec start;
} scan_bar;

static double elapsed(const struct timespec *t0) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void scan_bar_update(scan_bar *b, uint64_t done) {
    if (!b->enabled || (done & 255) != 0) return;
    if (!b->drawn && elapsed(&b->start) < 0.5) return;
    enum { WIDTH = 30 };
    uint64_t total = b->total > done ? b->total : done + 1;
    int percent = (int)(done * 100 / total);
    if (percent > 99) percent = 99;   /* 100 only when it is done */
    if (percent == b->last_percent) return;
    b->last_percent = percent;
    char bar[WIDTH + 1];
    int fill = percent * WIDTH / 100;
    memset(bar, '#', (size_t)fill);
    memset(bar + fill, '.', (size_t)(WIDTH - fill));
    bar[WIDTH] = '\0';
    fprintf(stderr, "\rscanning [%s] %3d%%  %" PRIu64 " / ~%" PRIu64 " items\033[K", bar,
            percent, done, b->total);
    fflush(stderr);
    b->drawn = true;
}

static void scan_bar_end(scan_bar *b) {
    if (b->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
}

/* Query (scan false: a->pos[1] is the key condition) or scan of table a->pos[0]. */
static int run_cursor(db_args *a, bool scan) {
    const char *table = a->pos[0], *verb = a->cmd->name;
    cbor values = {NULL, 0}, names = {NULL, 0}, start = {NULL, 0};
    int rc = json_arg(a, KEEL_DB_JSON_VALUES, "--values", a->values, &values);
    if (!rc) rc = json_arg(a, KEEL_DB_JSON_NAMES, "--names", a->names, &names);
    if (!rc) rc = json_arg(a, KEEL_DB_JSON_ITEM, "--start-key", a->start_key, &start);
    keel_db *db = NULL;
    if (!rc) rc = open_db(a, KEEL_OPEN_READONLY, &db);
    if (rc) {
        free(values.p);
        free(names.p);
        free(start.p);
        return rc;
    }

    keel_db_query q = KEEL_DB_QUERY_INIT;
    q.key_condition = scan ? NULL : a->pos[1];
    q.filter = a->filter;
    q.projection = a->projection;
    q.names = names.p;
    q.names_len = names.len;
    q.values = values.p;
    q.values_len = values.len;
    q.forward = !a->reverse;
    q.limit = a->limit;
    q.start_key = start.p;
    q.start_key_len = start.len;
    q.segment = a->segment;
    q.total_segments = a->has_total ? a->total_segments : 0;

    scan_bar bar;
    memset(&bar, 0, sizeof bar);
    bar.last_percent = -1;
    if (scan && isatty(STDERR_FILENO) && !isatty(STDOUT_FILENO)) {
        keel_db_table_info info;
        if (keel_db_describe_table(db, table, &info) == KEEL_OK) {
            bar.enabled = true;
            bar.total = a->has_total ? info.items / a->total_segments : info.items;
            if (a->limit && a->limit < bar.total) bar.total = a->limit;
            clock_gettime(CLOCK_MONOTONIC, &bar.start);
        }
    }

    keel_db_cursor *cur = NULL;
    keel_status st = scan ? keel_db_scan_start(db, table, &q, &cur)
                          : keel_db_query_start(db, table, &q, &cur);
    outbuf *o = NULL;
    if (st != KEEL_OK) {
        rc = cli_fail(st, "%s '%s'", verb, table);
        goto done;
    }
    if (!(o = new_outbuf(verb))) {
        rc = EXIT_ERROR;
        goto done;
    }
    if (a->json) out_put(o, "{\"Items\": [", 11);
    keel_view v;
    uint64_t printed = 0;
    while (o->err == 0 && (st = keel_db_cursor_next(cur, &v)) == KEEL_OK) {
        if (a->json && printed) out_put(o, ", ", 2);
        if ((rc = put_item_line(o, v.data, v.len, verb)) != 0) break;
        if (!a->json) out_put(o, "\n", 1);
        printed++;
        if (bar.enabled) {
            uint64_t scanned, returned;
            keel_db_cursor_counts(cur, &scanned, &returned);
            scan_bar_update(&bar, scanned);
        }
    }
    scan_bar_end(&bar);
    if (rc == EXIT_OK && o->err == 0 && st != KEEL_NOTFOUND)
        rc = cli_fail(st, "%s '%s'", verb, table);
    if (rc == EXIT_OK && o->err == 0) {
        uint64_t scanned, returned;
        keel_db_cursor_counts(cur, &scanned, &returned);
        keel_view last;
        char *lk = NULL;
        size_t lkn = 0;
        keel_status lst = keel_db_cursor_last_key(cur, &last);
        if (lst == KEEL_OK) {
            lst = keel_db_json_from_cbor(KEEL_DB_JSON_ITEM, last.data, last.len, &lk, &lkn);
            if (lst != KEEL_OK) rc = cli_fail(lst, "%s '%s': the last key", verb, table);
        } else if (lst != KEEL_NOTFOUND) {
            rc = cli_fail(lst, "%s '%s': the last key", verb, table);
        }
        if (rc == EXIT_OK && a->json) {
            char tail[96];
            int n = snprintf(tail, sizeof tail, "], \"Count\": %" PRIu64 ", \"ScannedCount\": %"
                             PRIu64, returned, scanned);
            out_put(o, tail, (size_t)n);
            if (lk) {
                out_put(o, ", \"LastEvaluatedKey\": ", 22);
                out_put(o, lk, lkn);
            }
            out_put(o, "}\n", 2);
        }
        out_flush(o);
        if (rc == EXIT_OK && !a->json && lk && o->err == 0)
            say("%s '%s': reached --limit %" PRIu64 "; resume with --start-key '%s'", verb,
                table, a->limit, lk);
        free(lk);
    }
    out_flush(o);
    if (o->err && rc == EXIT_OK) rc = output_failed(o->err);

done:
    free(o);
    keel_db_cursor_free(cur);
    free(values.p);
    free(names.p);
    free(start.p);
    return close_db(db, a->path, rc);
}

int cmd_query(db_args *a) {
    return run_cursor(a, false);
}

int cmd_scan(db_args *a) {
    return run_cursor(a, true);
}

/* ---- vector search ------------------------------------------------------------------------ */

/* The numbers of a JSON array of numbers or of DynamoDB's {"L": [{"N": "..."}, ...]} into
 * *out (malloc'd): a scanner that accepts only those shapes' characters and numbers. */
static bool vector_elems(const char *p, float **out, size_t *n_out) {
    size_t n = 0, cap = 64;
    float *v = malloc(cap * sizeof *v);
    if (!v) return false;
    int depth = 0;
    bool ok = true, seen = false;
    while (*p && ok) {
        char c = *p;
        if (strchr("-+.0123456789", c)) {
            char *end;
            double d = strtod(p, &end);
            if (end == p) ok = false;
            if (n == cap) {
                float *g = realloc(v, (cap *= 2) * sizeof *v);
                if (!g) ok = false;
                else v = g;
            }
            if (ok) v[n++] = (float)d;
            p = end;
            continue;
        }
        if (c == '[') depth++, seen = true;
        else if (c == ']') depth--;
        else if (!strchr("{}\":,NL \t\r\n", c)) ok = false;
        p++;
    }
    if (!ok || !seen || depth != 0) {
        free(v);
        return false;
    }
    *out = v;
    *n_out = n;
    return true;
}

static int vector_arg(const db_args *a, float **out, size_t *n_out) {
    const char *text = a->vector;
    char *file = NULL;
    if (text[0] != '[' && text[0] != '{') {
        FILE *f = fopen(text, "rb");
        if (!f) return db_usage(a->cmd, "%s: --vector: '%s' is neither JSON nor a readable file "
                                "(%s)", a->cmd->name, text, strerror(errno));
        size_t cap = 4096, len = 0, r;
        file = malloc(cap + 1);
        while (file && (r = fread(file + len, 1, cap - len, f)) > 0) {
            len += r;
            if (len == cap) {
                char *g = realloc(file, (cap *= 2) + 1);
                if (!g) free(file);
                file = g;
            }
        }
        fclose(f);
        if (!file) {
            say("%s: out of memory", a->cmd->name);
            return EXIT_ERROR;
        }
        file[len] = '\0';
        text = file;
    }
    bool ok = vector_elems(text, out, n_out);
    free(file);
    if (!ok)
        return db_usage(a->cmd, "%s: --vector: not a JSON array of numbers or {\"L\": [{\"N\": "
                        "...}, ...]}", a->cmd->name);
    return 0;
}

int cmd_search(db_args *a) {
    const char *table = a->pos[0], *index = a->pos[1];
    uint32_t k = a->k ? a->k : 10;
    cbor values = {NULL, 0}, names = {NULL, 0};
    float *vec = NULL;
    size_t dims = 0;
    int rc = vector_arg(a, &vec, &dims);
    if (!rc) rc = json_arg(a, KEEL_DB_JSON_VALUES, "--values", a->values, &values);
    if (!rc) rc = json_arg(a, KEEL_DB_JSON_NAMES, "--names", a->names, &names);
    keel_db *db = NULL;
    if (!rc) rc = open_db(a, KEEL_OPEN_READONLY, &db);
    keel_db_hit *hits = NULL;
    outbuf *o = NULL;
    size_t n = 0;
    if (rc) goto out;
    keel_db_search_opts so = KEEL_DB_SEARCH_OPTS_INIT;
    so.filter = a->filter;
    so.projection = a->projection;
    so.names = names.p;
    so.names_len = names.len;
    so.values = values.p;
    so.values_len = values.len;
    so.ef = a->ef;
    hits = calloc(k, sizeof *hits);
    if (!hits || !(o = new_outbuf("search"))) {
        rc = hits ? EXIT_ERROR : (say("search: out of memory"), EXIT_ERROR);
        goto out;
    }
    keel_status st = keel_db_search(db, table, index, vec, dims, k, &so, hits, &n);
    if (st != KEEL_OK) {
        rc = cli_fail(st, "search '%s' index '%s'", table, index);
        goto out;
    }
    if (a->json) out_put(o, "{\"Items\": [", 11);
    for (size_t i = 0; i < n && !rc; i++) {
        if (a->json && i) out_put(o, ", ", 2);
        if (!a->json) out_put(o, "{\"Item\": ", 9);
        rc = put_item_line(o, hits[i].item.data, hits[i].item.len, "search");
        char sc[64];
        int m = snprintf(sc, sizeof sc, ", \"Score\": %.9g}\n", (double)hits[i].score);
        if (!a->json) out_put(o, sc, (size_t)m);
    }
    if (a->json && !rc) {
        out_put(o, "], \"Scores\": [", 14);
        for (size_t i = 0; i < n; i++) {
            char sc[40];
            int m = snprintf(sc, sizeof sc, "%s%.9g", i ? ", " : "", (double)hits[i].score);
            out_put(o, sc, (size_t)m);
        }
        char tail[48];
        int m = snprintf(tail, sizeof tail, "], \"Count\": %zu}\n", n);
        out_put(o, tail, (size_t)m);
    }
    out_flush(o);
    if (o->err && rc == EXIT_OK) rc = output_failed(o->err);
out:
    keel_db_hits_free(hits, n);
    free(hits);
    free(o);
    free(vec);
    free(values.p);
    free(names.p);
    return db ? close_db(db, a->path, rc) : rc;
}
