/*
 * db_io_cmds.c: `keel db FILE sql | export | import` (PartiQL, and tables to and from
 * DynamoDB's export format), on keel_db_execute, keel_db_export and keel_db_import.
 *
 * sql prints what a statement returns one item per line in DynamoDB JSON, like scan; its
 * --params are DynamoDB JSON AttributeValues, converted one by one by the library into the
 * CBOR array keel_db_execute takes. A SELECT opens the file read-only, a write "must
 * exist". export opens read-only; import opens "must exist", or "create" with --create,
 * which creates the table first: nothing is created implicitly.
 *
 * Progress bars go to standard error, only when it is a terminal (and, for export to
 * standard output, only when that is not the same terminal).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "db_cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---- sql ------------------------------------------------------------------------------------ */

/* --params '[AttributeValue, ...]' -> a CBOR array (the library converts it). */
static int params_arg(const db_args *a, cbor *out) {
    return json_arg(a, KEEL_DB_JSON_PARAMS, "--params", a->params, out);
}

static bool is_select(const char *s) {
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '(') s++;
    return strncasecmp(s, "SELECT", 6) == 0;
}

int cmd_sql(db_args *a) {
    cbor params;
    int rc = params_arg(a, &params);
    if (rc) return rc;
    keel_db *db;
    if ((rc = open_db(a, is_select(a->pos[0]) ? KEEL_OPEN_READONLY : KEEL_OPEN_EXISTING, &db))) {
        free(params.p);
        return rc;
    }
    keel_db_execute_opts o = KEEL_DB_EXECUTE_OPTS_INIT;
    o.limit = a->limit;
    keel_db_result *r = NULL;
    keel_status st = keel_db_execute(db, a->pos[0], params.p, params.len, &o, &r);
    free(params.p);
    if (st != KEEL_OK) return close_db(db, a->path, cli_fail(st, "sql"));
    outbuf *ob = new_outbuf("sql");
    if (!ob) {
        keel_db_result_free(r);
        return close_db(db, a->path, EXIT_ERROR);
    }
    if (a->json) out_put(ob, "{\"Items\": [", 11);
    keel_view v;
    uint64_t n = 0;
    while (rc == 0 && (st = keel_db_result_next(r, &v)) == KEEL_OK) {
        if (a->json && n) out_put(ob, ", ", 2);
        rc = put_item_line(ob, v.data, v.len, "sql");
        if (!a->json) out_put(ob, "\n", 1);
        n++;
    }
    if (rc == 0 && st != KEEL_NOTFOUND) rc = cli_fail(st, "sql");
    if (rc == 0 && a->json) out_put(ob, "]}\n", 3);
    out_flush(ob);
    if (rc == 0 && ob->err) rc = EXIT_ERROR;
    free(ob);
    keel_db_result_free(r);
    return close_db(db, a->path, rc);
}

/* ---- export and import ---------------------------------------------------------------------- */

typedef struct item_bar {
    int last;
    bool drawn;
} item_bar;

static void item_bar_draw(void *ctx, uint64_t done, uint64_t total) {
    item_bar *b = ctx;
    enum { WIDTH = 30 };
    int percent = total ? (int)(done * 100 / (total > done ? total : done)) : 100;
    if (percent == b->last) return;
    b->last = percent;
    char bar[WIDTH + 1];
    int fill = percent * WIDTH / 100;
    memset(bar, '#', (size_t)fill);
    memset(bar + fill, '.', (size_t)(WIDTH - fill));
    bar[WIDTH] = '\0';
    fprintf(stderr, "\rexporting [%s] %3d%%  %" PRIu64 " / %" PRIu64 " items\033[K", bar, percent,
            done, total);
    fflush(stderr);
    b->drawn = true;
}

int cmd_export(db_args *a) {
    keel_db *db;
    int rc = open_db(a, KEEL_OPEN_READONLY, &db);
    if (rc) return rc;
    const char *out = a->pos[1];
    bool to_stdout = strcmp(out, "-") == 0;
    item_bar bar = {-1, false};
    keel_db_io_opts o = KEEL_DB_IO_OPTS_INIT;
    o.gzip = a->gzip;
    if (isatty(STDERR_FILENO) && !(to_stdout && isatty(STDOUT_FILENO))) {
        o.progress = item_bar_draw;
        o.progress_ctx = &bar;
    }
    if (to_stdout) fflush(stdout);
    keel_db_io_report rep;
    keel_status st = keel_db_export(db, a->pos[0], out, &o, &rep);
    if (bar.drawn) fputs("\r\033[K", stderr);
    if (st != KEEL_OK)
        return close_db(db, a->path, cli_fail(st, "export '%s' to '%s' (%" PRIu64 " items "
                                              "written before the error; the file is left as it was)",
                                              a->pos[0], out, rep.items));
    fprintf(stderr, "keel: exported %" PRIu64 " items of '%s' to '%s'%s\n", rep.items, a->pos[0],
            out, a->gzip ? " (gzip)" : "");
    return close_db(db, a->path, EXIT_OK);
}

/* --create PK:TYPE[,SK:TYPE] */
static int create_from_spec(db_args *a, keel_db *db) {
    char *spec = strdup(a->create), *pk = NULL, *sk = NULL;
    if (!spec) return cli_fail(KEEL_ENOMEM, "import");
    char *comma = strrchr(spec, ',');
    if (comma) *comma = '\0';
    keel_db_schema schema = {NULL, KEEL_DB_KEY_NONE, NULL, KEEL_DB_KEY_NONE};
    int rc = parse_key_spec(a, spec, "--create PK:TYPE", &pk, &schema.pk_type);
    if (!rc && comma) rc = parse_key_spec(a, comma + 1, "--create SK:TYPE", &sk, &schema.sk_type);
    if (!rc) {
        schema.pk_name = pk;
        schema.sk_name = sk;
        keel_status st = keel_db_create_table(db, a->pos[0], &schema);
        if (st != KEEL_OK) rc = cli_fail(st, "import: creating table '%s'", a->pos[0]);
    }
    free(pk);
    free(sk);
    free(spec);
    return rc;
}

int cmd_import(db_args *a) {
    if (a->create) { /* a malformed spec is a usage error before the file is touched */
        const char *c = strrchr(a->create, ',');
        if (!strchr(a->create, ':') || (c && !strchr(c, ':')))
            return db_usage(a->cmd, "%s: --create '%s' is not PK:TYPE[,SK:TYPE]", a->cmd->name,
                            a->create);
    }
    keel_db *db;
    int rc = open_db(a, a->create ? KEEL_OPEN_CREATE : KEEL_OPEN_EXISTING, &db);
    if (rc) return rc;
    if (a->create && (rc = create_from_spec(a, db)) != 0) return close_db(db, a->path, rc);
    progress p = {"importing", -1, false};
    keel_db_io_opts o = KEEL_DB_IO_OPTS_INIT;
    if (isatty(STDERR_FILENO)) {
        o.progress = progress_draw;
        o.progress_ctx = &p;
    }
    keel_db_io_report rep;
    keel_status st = keel_db_import(db, a->pos[0], a->pos[1], &o, &rep);
    if (p.drawn) fputc('\n', stderr);
    if (st != KEEL_OK) {
        if (rep.bad_line || rep.lines == 0)
            rc = cli_fail(st, "import '%s' from '%s'", a->pos[0], a->pos[1]);
        else
            rc = cli_fail(st, "import '%s' from '%s' (%" PRIu64 " items imported before the "
                          "error)", a->pos[0], a->pos[1], rep.items);
        return close_db(db, a->path, rc);
    }
    fprintf(stderr, "keel: imported %" PRIu64 " items into '%s' from '%s'\n", rep.items,
            a->pos[0], a->pos[1]);
    return close_db(db, a->path, EXIT_OK);
}
