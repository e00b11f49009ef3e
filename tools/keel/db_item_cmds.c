/*
 * db_item_cmds.c: the item commands of `keel db` (db_cli.h): put (one item or one per
 * line of standard input), get, del, update (UpdateItem with a condition and ReturnValues)
 * and transact (TransactWriteItems, through the DynamoDB handler of keel_server.h so that
 * the tool and the HTTP endpoint read the same request shape).
 *
 * Argument JSON is converted before the file is opened, so a usage error never touches it;
 * writes need FILE to exist; every command closes the database through close_db.
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

#include "keel_server.h"

/* ---- items -------------------------------------------------------------------------------- */

/* Items from standard input, one JSON object per line. */
static int put_from_stdin(db_args *a, keel_db *db) {
    const char *table = a->pos[0];
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    uint64_t lineno = 0, stored = 0;
    int rc = EXIT_OK;
    if (isatty(STDIN_FILENO))
        say("reading items from standard input, one JSON object per line; end with Ctrl-D");
    errno = 0;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        size_t len = (size_t)n;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' ||
                           line[len - 1] == ' ' || line[len - 1] == '\t'))
            len--;
        size_t start = 0;
        while (start < len && (line[start] == ' ' || line[start] == '\t')) start++;
        if (start == len) continue;
        uint8_t *item;
        size_t ilen;
        keel_status st = keel_db_json_to_cbor(KEEL_DB_JSON_ITEM, line + start, len - start,
                                              &item, &ilen);
        if (st == KEEL_OK) {
            st = keel_db_put_item(db, table, item, ilen);
            free(item);
        }
        if (st != KEEL_OK) {
            rc = cli_fail(st, "put '%s': standard input, line %" PRIu64 " (%" PRIu64
                          " items stored before it)", table, lineno, stored);
            break;
        }
        stored++;
        errno = 0;
    }
    if (rc == EXIT_OK && ferror(stdin)) {
        say("put '%s': reading standard input: %s (%" PRIu64 " items stored)", table,
            strerror(errno ? errno : EIO), stored);
        rc = EXIT_ERROR;
    }
    free(line);
    return rc;
}

int cmd_put(db_args *a) {
    bool from_stdin = strcmp(a->pos[1], "-") == 0;
    cbor item = {NULL, 0};
    int rc = from_stdin ? 0 : json_arg(a, KEEL_DB_JSON_ITEM, "ITEM", a->pos[1], &item);
    if (rc) return rc;
    keel_db *db;
    if ((rc = open_db(a, KEEL_OPEN_EXISTING, &db)) != 0) {
        free(item.p);
        return rc;
    }
    if (from_stdin) {
        rc = put_from_stdin(a, db);
    } else {
        keel_status st = keel_db_put_item(db, a->pos[0], item.p, item.len);
        if (st != KEEL_OK) rc = cli_fail(st, "put '%s'", a->pos[0]);
    }
    free(item.p);
    return close_db(db, a->path, rc);
}

/* Look the key up: EXIT_OK with the item printed (when `print`), EXIT_NOTFOUND with a
 * message, or EXIT_ERROR. */
static int lookup(db_args *a, keel_db *db, const cbor *key, bool print) {
    const char *table = a->pos[0], *verb = a->cmd->name;
    keel_view v;
    keel_status st = keel_db_get_item(db, table, key->p, key->len, &v);
    if (st == KEEL_NOTFOUND) {
        say("%s '%s': no item with key %s", verb, table, a->pos[1]);
        return EXIT_NOTFOUND;
    }
    if (st != KEEL_OK) return cli_fail(st, "%s '%s'", verb, table);
    if (!print) return EXIT_OK;
    outbuf *o = new_outbuf(verb);
    if (!o) return EXIT_ERROR;
    int rc = put_item_line(o, v.data, v.len, verb);
    out_put(o, "\n", 1);
    out_flush(o);
    if (rc == EXIT_OK && o->err) rc = output_failed(o->err);
    free(o);
    return rc;
}

int cmd_get(db_args *a) {
    cbor key;
    int rc = json_arg(a, KEEL_DB_JSON_ITEM, "KEY", a->pos[1], &key);
    if (rc) return rc;
    keel_db *db;
    if ((rc = open_db(a, KEEL_OPEN_READONLY, &db)) == 0)
        rc = close_db(db, a->path, lookup(a, db, &key, true));
    free(key.p);
    return rc;
}

int cmd_del(db_args *a) {
    cbor key;
    int rc = json_arg(a, KEEL_DB_JSON_ITEM, "KEY", a->pos[1], &key);
    if (rc) return rc;
    keel_db *db;
    if ((rc = open_db(a, KEEL_OPEN_EXISTING, &db)) == 0) {
        /* DynamoDB's DeleteItem does not say whether the item was there; the tool does, as
         * the store's del does. Our writable open holds the file's lock, so nothing can
         * come between the lookup and the delete. */
        rc = lookup(a, db, &key, false);
        if (rc == EXIT_OK) {
            keel_status st = keel_db_delete_item(db, a->pos[0], key.p, key.len);
            if (st != KEEL_OK) rc = cli_fail(st, "del '%s'", a->pos[0]);
        }
        rc = close_db(db, a->path, rc);
    }
    free(key.p);
    return rc;
}

/* ---- update, transact -------------------------------------------------------------------- */

int cmd_update(db_args *a) {
    const char *table = a->pos[0];
    cbor key, values = {NULL, 0}, names = {NULL, 0};
    int rc = json_arg(a, KEEL_DB_JSON_ITEM, "KEY", a->pos[1], &key);
    if (!rc) rc = json_arg(a, KEEL_DB_JSON_VALUES, "--values", a->values, &values);
    if (!rc) rc = json_arg(a, KEEL_DB_JSON_NAMES, "--names", a->names, &names);
    keel_db *db = NULL;
    if (!rc) rc = open_db(a, KEEL_OPEN_EXISTING, &db);
    if (rc) {
        free(key.p);
        free(values.p);
        free(names.p);
        return rc;
    }
    keel_db_write_opts o = KEEL_DB_WRITE_OPTS_INIT;
    o.condition = a->condition;
    o.names = names.p;
    o.names_len = names.len;
    o.values = values.p;
    o.values_len = values.len;
    o.return_values = a->return_values;
    keel_db_buf out = {NULL, 0};
    keel_status st = keel_db_update_item(db, table, key.p, key.len, a->pos[2], &o, &out);
    if (st == KEEL_ECONDITION)
        rc = cli_fail(st, "update '%s': condition '%s' is false for key %s", table,
                      a->condition ? a->condition : "", a->pos[1]);
    else if (st != KEEL_OK)
        rc = cli_fail(st, "update '%s'", table);
    else if (out.data) {
        outbuf *ob = new_outbuf("update");
        if (!ob) {
            rc = EXIT_ERROR;
        } else {
            rc = put_item_line(ob, out.data, out.len, "update");
            out_put(ob, "\n", 1);
            out_flush(ob);
            if (rc == EXIT_OK && ob->err) rc = output_failed(ob->err);
            free(ob);
        }
    }
    keel_db_buf_free(&out);
    free(key.p);
    free(values.p);
    free(names.p);
    return close_db(db, a->path, rc);
}

/* All of standard input as a NUL-terminated string (NULL after reporting a failure). */
static char *read_stdin(const char *what, size_t *len_out) {
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            say("%s: out of memory", what);
            return NULL;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, stdin);
        len += n;
        if (n == 0) break;
        if (len + 1 == cap) {
            if (cap >= KEEL_DYNAMO_MAX_BODY) break;
            char *nb = realloc(buf, cap *= 2);
            if (!nb) free(buf);
            buf = nb;
        }
    }
    if (ferror(stdin)) {
        say("%s: reading standard input: %s", what, strerror(errno));
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    *len_out = len;
    return buf;
}

/* The text of the JSON string member "message" of a response body, unescaped only as far as
 * a one-line message needs ("" when absent). */
static void response_message(const char *body, char *out, size_t cap) {
    const char *p = strstr(body, "\"message\":");
    size_t n = 0;
    if (p) {
        p += 10;
        while (*p == ' ') p++;
        if (*p == '"') {
            for (p++; *p && *p != '"' && n + 1 < cap; p++) {
                if (*p == '\\' && p[1]) p++;
                out[n++] = *p;
            }
        }
    }
    out[n] = '\0';
}

/* TransactWriteItems through the same request handler `keel serve` uses, so the CLI
 * accepts exactly DynamoDB's TransactItems JSON and answers with DynamoDB's reasons. */
int cmd_transact(db_args *a) {
    const char *arg = a->pos[0];
    char *in = NULL;
    size_t inlen;
    if (strcmp(arg, "-") == 0) {
        if (!(in = read_stdin("transact", &inlen))) return EXIT_ERROR;
        arg = in;
    } else {
        inlen = strlen(arg);
    }
    const char *p = arg;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    if (*p != '[' && *p != '{') {
        free(in);
        return db_usage(a->cmd, "transact: ACTIONS is not a JSON list of TransactItems");
    }
    char *body;
    size_t blen;
    if (*p == '[') {   /* the AWS CLI's --transact-items: the list itself */
        blen = inlen + 20;
        body = malloc(blen + 1);
        if (body) blen = (size_t)snprintf(body, blen + 1, "{\"TransactItems\": %s}", arg);
    } else {
        blen = inlen;
        body = strdup(arg);
    }
    free(in);
    if (!body) return cli_fail(KEEL_ENOMEM, "transact");
    keel_db *db;
    int rc = open_db(a, KEEL_OPEN_EXISTING, &db);
    if (rc) {
        free(body);
        return rc;
    }
    keel_dynamo_response r;
    keel_dynamo_handle(db, "TransactWriteItems", body, blen, &r);
    free(body);
    if (r.status != 200) {
        const char *type = strchr(r.type, '#');
        type = type ? type + 1 : r.type;
        char msg[1024];
        response_message(r.body, msg, sizeof msg);
        if (strcmp(type, "TransactionCanceledException") == 0) {
            /* The response is DynamoDB's: its CancellationReasons, one per action. */
            const char *reasons = strstr(r.body, "\"CancellationReasons\"");
            const char *end = reasons ? strchr(reasons, '[') : NULL;
            /* The end of the list: the ']' that closes it, outside strings. */
            for (int depth = 0; end && *end; end++) {
                if (*end == '"') {
                    for (end++; *end && *end != '"'; end++)
                        if (*end == '\\' && end[1]) end++;
                    if (!*end) break;
                } else if (*end == '[' || *end == '{') {
                    depth++;
                } else if ((*end == ']' || *end == '}') && --depth == 0) {
                    break;
                }
            }
            if (end && *end == ']') {
                printf("{%.*s}\n", (int)(end + 1 - reasons), reasons);
                fflush(stdout);
            }
        }
        say("transact: %s: %s", type, msg);
        /* Text that is not JSON of the right shape is a usage error, as for the others. */
        rc = strcmp(type, "SerializationException") == 0 ? EXIT_USAGE : EXIT_ERROR;
    }
    keel_dynamo_response_free(&r);
    return close_db(db, a->path, rc);
}
