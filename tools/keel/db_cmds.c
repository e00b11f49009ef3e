/*
 * db_cmds.c: the Database face of the `keel` tool (keel_db.h): `keel db FILE COMMAND`.
 *
 *     keel db FILE tables | create-table | delete-table | describe | put | get | del |
 *                  update | transact | query | scan | count | stat | stats | verify |
 *                  compact | sql | export | import
 *
 * This file holds the table of commands (their help), argument parsing, the shared helpers
 * (opening and closing, argument JSON, output) and the face; the commands themselves live
 * in db_table_cmds.c (tables and the whole file), db_item_cmds.c (items, update,
 * transact), db_query_cmds.c (query, scan, search) and db_io_cmds.c (sql, export, import);
 * what the files share is declared in db_cli.h.
 *
 * Items, keys, ExpressionAttributeValues and start keys are DynamoDB JSON, as the AWS CLI
 * writes them ({"pk": {"S": "a"}, "n": {"N": "1.5"}}); the library converts them
 * (keel_db_json_to_cbor / keel_db_json_from_cbor), so the tool and the coming HTTP
 * endpoint read and print exactly the same text. Output is one item per line, so that
 * `scan` output can be fed back to `put -`; `--json` gives DynamoDB's response shapes for
 * the commands that also have a human form (tables, describe, count, stat, query, scan).
 *
 * Like the store commands, each command opens the file in the weakest mode that does the
 * job: read-only for reads (no lock: they run while another process writes), "must
 * exist" for writes (a typo never creates a file), "create" only for create-table.
 *
 * Exit status: 0 success, 1 the item of get/del is absent, 2 usage error (an unknown
 * option, a missing argument, or an argument that is not valid DynamoDB JSON), 3 any other
 * error (a missing file or table, a request the database refuses, bad data on standard
 * input) reported as "keel: <what>: <status text>: <detail>".
 *
 * Invariant: every command that opened the database closes it through close_db, so a
 * failing close of a written file is reported; argument JSON is converted before the file
 * is opened, so a usage error never touches it.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "cli.h"
#include "db_cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- arguments (db_cli.h) ---------------------------------------------------------------- */


#define EXPR_OPTS_HELP                                                                       \
    "  --filter EXPR       a FilterExpression: only items for which it is true are\n"        \
    "                      printed (they still count toward --limit, as in DynamoDB)\n"      \
    "  --projection EXPR   a ProjectionExpression: print only these attributes\n"            \
    "  --values JSON       ExpressionAttributeValues: {\":v\": {\"S\": \"a\"}, ...}\n"        \
    "  --names JSON        ExpressionAttributeNames: {\"#n\": \"name\", ...}\n"               \
    "  --limit N           evaluate at most N items (before the filter); when the limit\n"   \
    "                      is reached, the key to resume from is printed on standard\n"     \
    "                      error (or as LastEvaluatedKey with --json)\n"                    \
    "  --start-key JSON    resume after this key (a LastEvaluatedKey)\n"                     \
    "  --json              print one JSON object in the shape of DynamoDB's response:\n"     \
    "                      {\"Items\": [...], \"Count\": N, \"ScannedCount\": N,\n"          \
    "                      \"LastEvaluatedKey\": {...}} (the key when the limit was reached)\n"

static const db_command db_commands[] = {
    {"tables", cmd_tables, 0, 0, {NULL}, DB_JSON,
     "tables [--json]",
     "list the tables, one name per line",
     "List the tables of the database, one name per line, in name order.\n"
     "The file is opened read-only.\n"
     "\n"
     "  --json       print {\"TableNames\": [...]} instead\n"},
    {"create-table", cmd_create_table, 2, 3, {"NAME", "PK:TYPE", "SK:TYPE"}, DB_SYNC,
     "create-table [--sync] NAME PK:TYPE [SK:TYPE]",
     "create a table with a partition key (and a sort key)",
     "Create table NAME (3 to 255 characters of A-Z a-z 0-9 _ . -) whose items are\n"
     "addressed by the partition key attribute PK and, when given, the sort key\n"
     "attribute SK. TYPE is S (string), N (number) or B (binary), for example:\n"
     "    keel db app.keel create-table events device:S ts:N\n"
     "The attribute name is everything before the last ':'. FILE is created when it\n"
     "does not exist. Exit status 3 when the table exists.\n"
     "\n"
     "  --sync       fdatasync before returning\n"},
    {"delete-table", cmd_delete_table, 1, 1, {"NAME"}, DB_SYNC,
     "delete-table [--sync] NAME",
     "delete a table and all its items",
     "Delete table NAME and all its items (one atomic append; compact reclaims the\n"
     "space). Exit status 3 when there is no such table. FILE must exist.\n"
     "\n"
     "  --sync       fdatasync before returning\n"},
    {"describe", cmd_describe, 1, 1, {"TABLE"}, DB_JSON,
     "describe [--json] TABLE",
     "show a table's key schema, item count and size",
     "Show TABLE's key schema (partition key, sort key and their types), its number\n"
     "of items, the bytes its entries take in the file and when it was created.\n"
     "The file is opened read-only.\n"
     "\n"
     "  --json       print DynamoDB's DescribeTable shape: {\"Table\": {\"TableName\": ...,\n"
     "               \"KeySchema\": [...], \"AttributeDefinitions\": [...], \"ItemCount\": N,\n"
     "               \"TableSizeBytes\": N, \"CreationDateTime\": SECONDS, ...}}\n"},
    {"put", cmd_put, 2, 2, {"TABLE", "ITEM"}, DB_SYNC,
     "put [--sync] TABLE ITEM|-",
     "store an item (or one item per line of standard input)",
     "Store ITEM, a DynamoDB JSON object holding the key attributes, replacing any\n"
     "item with the same key:\n"
     "    keel db app.keel put events '{\"device\": {\"S\": \"a\"}, \"ts\": {\"N\": \"5\"},\n"
     "                                  \"temp\": {\"N\": \"21.5\"}}'\n"
     "With '-' instead of ITEM, read items from standard input, one JSON object per\n"
     "line (empty lines are skipped), as `scan` and `query` print them; each line is\n"
     "stored as it is read. A bad line stops the command with exit status 3 and a\n"
     "message naming its line number; the items of the lines before it are stored.\n"
     "FILE and TABLE must exist.\n"
     "\n"
     "  --sync       fdatasync before returning\n"},
    {"get", cmd_get, 2, 2, {"TABLE", "KEY"}, 0,
     "get TABLE KEY",
     "print the item with this key",
     "Print the item whose key is KEY, a DynamoDB JSON object of exactly the key\n"
     "attributes ('{\"device\": {\"S\": \"a\"}, \"ts\": {\"N\": \"5\"}}'), on one line.\n"
     "Exit status 1 when there is no such item. The file is opened read-only.\n"},
    {"del", cmd_del, 2, 2, {"TABLE", "KEY"}, DB_SYNC,
     "del [--sync] TABLE KEY",
     "delete the item with this key",
     "Delete the item whose key is KEY (a DynamoDB JSON object of the key attributes).\n"
     "Exit status 1 when there is no such item. FILE must exist.\n"
     "\n"
     "  --sync       fdatasync before returning\n"},
    {"update", cmd_update, 3, 3, {"TABLE", "KEY", "UPDATE_EXPR"},
     DB_CONDITION | DB_NAMES | DB_VALUES | DB_RETURN | DB_SYNC,
     "update TABLE KEY UPDATE_EXPR [--condition EXPR] [--names JSON] [--values JSON]\n"
     "                     [--return NONE|ALL_OLD|UPDATED_OLD|ALL_NEW|UPDATED_NEW] [--sync]",
     "apply an UpdateExpression to one item (UpdateItem)",
     "Apply UPDATE_EXPR, a DynamoDB UpdateExpression (SET, REMOVE, ADD, DELETE), to the\n"
     "item whose key is KEY (a DynamoDB JSON object of the key attributes), creating it\n"
     "from the key when absent, as UpdateItem does:\n"
     "    keel db app.keel update events '{\"device\": {\"S\": \"a\"}, \"ts\": {\"N\": \"5\"}}' \\\n"
     "        'SET hits = if_not_exists(hits, :zero) + :one' \\\n"
     "        --values '{\":zero\": {\"N\": \"0\"}, \":one\": {\"N\": \"1\"}}'\n"
     "The attributes --return asks for are printed on one line in DynamoDB JSON (nothing\n"
     "for NONE, the default, or when there are none). With --condition, the condition\n"
     "is checked and the item written under one lock; when it is false nothing is\n"
     "written and the exit status is 3 (\"The conditional request failed\", naming the\n"
     "condition). FILE and TABLE must exist.\n"
     "\n"
     "  --condition EXPR    a ConditionExpression the current item must satisfy\n"
     "  --names JSON        ExpressionAttributeNames: {\"#n\": \"name\", ...}\n"
     "  --values JSON       ExpressionAttributeValues: {\":v\": {\"S\": \"a\"}, ...}\n"
     "  --return WHAT       ReturnValues: NONE (default), ALL_OLD, UPDATED_OLD, ALL_NEW\n"
     "                      or UPDATED_NEW\n"
     "  --sync              fdatasync before returning\n"},
    {"transact", cmd_transact, 1, 1, {"ACTIONS"}, DB_SYNC,
     "transact [--sync] ACTIONS|-",
     "apply up to 100 writes atomically (TransactWriteItems)",
     "Apply the actions of ACTIONS ('-': read them from standard input), a JSON list in\n"
     "DynamoDB's TransactItems shape, as the AWS CLI's --transact-items takes it (an\n"
     "object {\"TransactItems\": [...]} is accepted too):\n"
     "    [{\"Put\": {\"TableName\": \"t\", \"Item\": {\"pk\": {\"S\": \"a\"}},\n"
     "              \"ConditionExpression\": \"attribute_not_exists(pk)\"}},\n"
     "     {\"Update\": {\"TableName\": \"t\", \"Key\": {\"pk\": {\"S\": \"b\"}},\n"
     "                 \"UpdateExpression\": \"SET n = n - :one\",\n"
     "                 \"ExpressionAttributeValues\": {\":one\": {\"N\": \"1\"}}}},\n"
     "     {\"Delete\": {...}}, {\"ConditionCheck\": {...}}]\n"
     "Every condition is checked and every write lands as one atomic group, or nothing\n"
     "is written. When the transaction is canceled, its CancellationReasons (one per\n"
     "action, in order: {\"Code\": \"None\"} or {\"Code\": \"ConditionalCheckFailed\",\n"
     "\"Message\": ...}) are printed on standard output as {\"CancellationReasons\": [...]}\n"
     "and the exit status is 3. A request DynamoDB would refuse (two actions on one\n"
     "item, a missing table, a bad expression) is exit status 3 with its message.\n"
     "FILE must exist.\n"
     "\n"
     "  --sync              fdatasync before returning\n"},
    {"query", cmd_query, 2, 2, {"TABLE", "KEY_CONDITION"},
     DB_JSON | DB_VALUES | DB_NAMES | DB_FILTER | DB_PROJECTION | DB_REVERSE | DB_LIMIT |
         DB_START,
     "query TABLE KEY_CONDITION [--values JSON] [--names JSON] [--filter EXPR]\n"
     "                     [--projection EXPR] [--reverse] [--limit N] [--start-key JSON] [--json]",
     "print the items of one partition, in sort key order",
     "Print the items of one partition of TABLE, one per line, in sort key order.\n"
     "KEY_CONDITION is a DynamoDB KeyConditionExpression: the partition key equal to\n"
     "a value, and optionally one condition on the sort key (=, <, <=, >, >=,\n"
     "BETWEEN ... AND ..., begins_with), with values from --values:\n"
     "    keel db app.keel query events 'device = :d AND ts BETWEEN :lo AND :hi' \\\n"
     "        --values '{\":d\": {\"S\": \"a\"}, \":lo\": {\"N\": \"1\"}, \":hi\": {\"N\": \"9\"}}'\n"
     "The file is opened read-only.\n"
     "\n"
     "  --reverse           descending sort key order (ScanIndexForward=false)\n"
     EXPR_OPTS_HELP},
    {"scan", cmd_scan, 1, 1, {"TABLE"},
     DB_JSON | DB_VALUES | DB_NAMES | DB_FILTER | DB_PROJECTION | DB_LIMIT | DB_START |
         DB_SEGMENT,
     "scan TABLE [--filter EXPR] [--projection EXPR] [--values JSON] [--names JSON]\n"
     "                     [--segment N --total-segments M] [--limit N] [--start-key JSON] [--json]",
     "print every item of a table",
     "Print every item of TABLE, one per line (partitions in no particular order;\n"
     "each partition's items in sort key order). When standard error is a terminal\n"
     "and standard output is not, a long scan draws a progress bar. The file is\n"
     "opened read-only.\n"
     "\n"
     "  --segment N         with --total-segments M: scan only segment N (0..M-1) of a\n"
     "  --total-segments M  parallel scan; the M segments together hold every item once\n"
     EXPR_OPTS_HELP},
    {"search", cmd_search, 2, 2, {"TABLE", "INDEX"},
     DB_JSON | DB_VALUES | DB_NAMES | DB_FILTER | DB_PROJECTION | DB_VECTOR,
     "search TABLE INDEX --vector JSON_OR_FILE [--k N] [--ef N] [--filter EXPR]\n"
     "                     [--projection EXPR] [--values JSON] [--names JSON] [--json]",
     "print the k items nearest to a vector (a vector index's SearchVectors)",
     "Print the K (default 10, at most 100) items of TABLE nearest to the query vector by\n"
     "the distance of vector index INDEX, best first, one {\"Item\": ..., \"Score\": ...}\n"
     "per line (COSINE and EUCLIDEAN scores ascending, DOT_PRODUCT descending). The\n"
     "vector is a JSON array of numbers ('[0.1, 0.2]'), DynamoDB's SearchVector form\n"
     "('{\"L\": [{\"N\": \"0.1\"}, ...]}'), or the name of a file holding either.\n"
     "The file is opened read-only.\n"
     "\n"
     "  --vector V   the query vector (required)\n"
     "  --k N        how many items (1..100, default 10)\n"
     "  --ef N       approximate search through the index's HNSW graph with a beam of N\n"
     "               (1..4096; 0, the default: exact). Exact anyway under 5,000 items.\n"
     "  --json       print {\"Items\": [...], \"Scores\": [...], \"Count\": N} instead\n"
     EXPR_OPTS_HELP},
    {"count", cmd_count, 1, 1, {"TABLE"}, DB_JSON,
     "count [--json] TABLE",
     "print the number of items of a table",
     "Print the number of items of TABLE (kept current by every write: no scan).\n"
     "The file is opened read-only.\n"
     "\n"
     "  --json       print {\"Count\": N} instead\n"},
    {"stat", cmd_stat, 0, 0, {NULL}, DB_JSON,
     "stat [--json]",
     "show the file's entries, sizes and tables",
     "Show the file size, the number of entries (old versions and tombstones\n"
     "included), live entries, the bytes a compaction would reclaim, the format\n"
     "version, and each table with its item count and size. The file is opened\n"
     "read-only.\n"
     "\n"
     "  --json       print one JSON object instead\n"},
    {"stats", cmd_stats, 1, 1, {"TABLE"}, DB_JSON,
     "stats [--json] TABLE",
     "show a table's items, bytes, indexes and TTL attribute",
     "Show TABLE's item count and bytes, its TTL attribute (or none), and each\n"
     "secondary index (local ones first, then global) with its key schema,\n"
     "projection, entry count and bytes. The file is opened read-only.\n"
     "\n"
     "  --json       print one JSON object: {\"TableName\": ..., \"ItemCount\": N,\n"
     "               \"TableSizeBytes\": N, \"TimeToLiveAttribute\": NAME|null, \"Indexes\":\n"
     "               [{\"IndexName\": ..., \"Kind\": \"GLOBAL\"|\"LOCAL\", \"KeySchema\": ...,\n"
     "               \"Projection\": ..., \"ItemCount\": N, \"IndexSizeBytes\": N, ...}]}\n"},
    {"verify", cmd_verify, 0, 0, {NULL}, 0,
     "verify",
     "check every entry's checksum and every item's encoding",
     "Read every entry of FILE and check its checksum and the chain, then check the\n"
     "encoding of every live item as a write would. Prints a summary; exit status 3\n"
     "when anything is damaged. The file is opened read-only.\n"},
    {"compact", cmd_compact, 0, 0, {NULL}, 0,
     "compact",
     "rewrite FILE with only the live entries",
     "Rewrite FILE with only the live entries (crash-safe: a new file is written,\n"
     "synced and renamed over FILE). Prints the sizes before and after, and a\n"
     "progress bar on standard error when that is a terminal. FILE must exist.\n"},
    DB_SQL_HELP_ENTRY,
    DB_IO_HELP_ENTRIES,
};

#define DB_NCOMMANDS (sizeof db_commands / sizeof db_commands[0])

static const db_command *find_db_command(const char *name) {
    for (size_t i = 0; i < DB_NCOMMANDS; i++)
        if (strcmp(db_commands[i].name, name) == 0) return &db_commands[i];
    return NULL;
}

static void print_db_overview(FILE *f) {
    fputs("Usage: keel db FILE COMMAND [OPTIONS] [ARGS]\n"
          "\n"
          "Work on the database FILE: DynamoDB-style tables of items. Items, keys and\n"
          "values are DynamoDB JSON, as the AWS CLI writes them:\n"
          "    {\"device\": {\"S\": \"a\"}, \"ts\": {\"N\": \"5\"}, \"tags\": {\"SS\": [\"x\"]}}\n"
          "(S, N as a string, B as base64, BOOL, NULL, L, M, SS, NS, BS); output is one\n"
          "item per line.\n"
          "\n"
          "Commands:\n", f);
    for (size_t i = 0; i < DB_NCOMMANDS; i++) {
        const db_command *c = &db_commands[i];
        char left[64];
        int n = snprintf(left, sizeof left, "%s", c->name);
        for (int j = 0; j < c->max_pos; j++)
            n += snprintf(left + n, sizeof left - (size_t)n, j < c->min_pos ? " %s" : " [%s]",
                          c->pos_names[j]);
        fprintf(f, "  %-30s %s\n", left, c->summary);
    }
    fputs("\n"
          "Run 'keel help db COMMAND' or 'keel db FILE COMMAND --help' for a command's\n"
          "options.\n"
          "\n"
          "Exit status: 0 success, 1 the item (get, del) is absent, 2 usage error (also an\n"
          "argument that is not valid DynamoDB JSON), 3 any other error (a missing file or\n"
          "table, a request the database refuses, damage).\n", f);
}

static void print_db_command_help(const db_command *c) {
    printf("Usage: keel db FILE %s\n\n%s", c->synopsis, c->help);
    printf("\n  -h, --help          show this help\n");
}

/* Report a usage mistake and point at the help. Returns EXIT_USAGE. */
int db_usage(const db_command *c, const char *fmt, ...) {
    va_list ap;
    fputs("keel: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (c)
        fprintf(stderr, "Usage: keel db FILE %s\nTry 'keel help db %s' for more information.\n",
                c->synopsis, c->name);
    else
        fputs("Usage: keel db FILE COMMAND [OPTIONS] [ARGS]\n"
              "Try 'keel help db' for more information.\n", stderr);
    return EXIT_USAGE;
}

/* A non-negative decimal integer no larger than `max`. */
static bool parse_u64(const char *s, uint64_t max, uint64_t *out) {
    if (!s || *s < '0' || *s > '9') return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > max) return false;
    *out = v;
    return true;
}

/* Parse the arguments after COMMAND. Returns -1 to go on, or an exit status (0 after
 * printing help, EXIT_USAGE after a mistake). --help anywhere before "--" wins. */
static int parse_db_args(db_args *a, int argc, char **argv) {
    const db_command *c = a->cmd;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) break;
        if (is_help(argv[i])) {
            print_db_command_help(c);
            return EXIT_OK;
        }
    }
    bool only_positional = false;
    for (int i = 0; i < argc; i++) {
        char *arg = argv[i];
        if (only_positional || arg[0] != '-' || arg[1] == '\0') {
            if (a->npos == c->max_pos) return db_usage(c, "%s: too many arguments", c->name);
            a->pos[a->npos++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_positional = true;
            continue;
        }
        char name[32];
        char *value = NULL;
        char *eq = strchr(arg, '=');
        size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
        if (nlen >= sizeof name) return db_usage(c, "%s: unknown option '%s'", c->name, arg);
        memcpy(name, arg, nlen);
        name[nlen] = '\0';
        if (eq) value = eq + 1;

        static const struct {
            const char *name;
            unsigned opt;
            bool takes_value;
        } known[] = {
            {"--json", DB_JSON, false},          {"--sync", DB_SYNC, false},
            {"--values", DB_VALUES, true},       {"--names", DB_NAMES, true},
            {"--filter", DB_FILTER, true},       {"--projection", DB_PROJECTION, true},
            {"--reverse", DB_REVERSE, false},    {"--limit", DB_LIMIT, true},
            {"--start-key", DB_START, true},     {"--segment", DB_SEGMENT, true},
            {"--total-segments", DB_SEGMENT, true},
            {"--gzip", DB_GZIP, false},          {"--create", DB_CREATE, true},
            {"--params", DB_PARAMS, true},       {"--condition", DB_CONDITION, true},
            {"--return", DB_RETURN, true},
            {"--vector", DB_VECTOR, true},       {"--k", DB_VECTOR, true},
            {"--ef", DB_VECTOR, true},
        };
        size_t k = 0;
        while (k < sizeof known / sizeof known[0] && strcmp(known[k].name, name) != 0) k++;
        if (k == sizeof known / sizeof known[0] || (c->opts & known[k].opt) == 0)
            return db_usage(c, "%s: unknown option '%s'", c->name, name);
        if (known[k].takes_value && !value) {
            if (i + 1 == argc) return db_usage(c, "%s: option '%s' needs a value", c->name, name);
            value = argv[++i];
        } else if (!known[k].takes_value && value) {
            return db_usage(c, "%s: option '%s' takes no value", c->name, name);
        }
        uint64_t v;
        switch (known[k].opt) {
        case DB_JSON: a->json = true; break;
        case DB_SYNC: a->sync = true; break;
        case DB_REVERSE: a->reverse = true; break;
        case DB_VALUES: a->values = value; break;
        case DB_NAMES: a->names = value; break;
        case DB_FILTER: a->filter = value; break;
        case DB_PROJECTION: a->projection = value; break;
        case DB_START: a->start_key = value; break;
        case DB_GZIP: a->gzip = true; break;
        case DB_CREATE: a->create = value; break;
        case DB_PARAMS: a->params = value; break;
        case DB_CONDITION: a->condition = value; break;
        case DB_RETURN: {
            static const char *const rv[] = {"NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW",
                                             "UPDATED_NEW"};
            size_t r = 0;
            while (r < 5 && strcmp(rv[r], value) != 0) r++;
            if (r == 5)
                return db_usage(c, "%s: --return: '%s' is not one of NONE, ALL_OLD, "
                                "UPDATED_OLD, ALL_NEW, UPDATED_NEW", c->name, value);
            a->return_values = (keel_db_return)r;
            break;
        }
        case DB_LIMIT:
            if (!parse_u64(value, UINT64_MAX, &v) || v == 0)
                return db_usage(c, "%s: --limit: '%s' is not a positive integer", c->name, value);
            a->limit = v;
            break;
        case DB_SEGMENT:
            if (strcmp(name, "--segment") == 0) {
                if (!parse_u64(value, 999999, &v))
                    return db_usage(c, "%s: --segment: '%s' is not an integer from 0 to 999999",
                                    c->name, value);
                a->segment = (uint32_t)v;
                a->has_segment = true;
            } else {
                if (!parse_u64(value, 1000000, &v) || v == 0)
                    return db_usage(c, "%s: --total-segments: '%s' is not an integer from 1 to "
                                    "1000000", c->name, value);
                a->total_segments = (uint32_t)v;
                a->has_total = true;
            }
            break;
        case DB_VECTOR:
            if (strcmp(name, "--vector") == 0) {
                a->vector = value;
            } else if (strcmp(name, "--ef") == 0) {
                if (!parse_u64(value, KEEL_DB_MAX_EF, &v))
                    return db_usage(c, "%s: --ef: '%s' is not an integer from 0 to %u", c->name,
                                    value, KEEL_DB_MAX_EF);
                a->ef = (uint32_t)v;
            } else {
                if (!parse_u64(value, 100, &v) || v == 0)
                    return db_usage(c, "%s: --k: '%s' is not an integer from 1 to 100", c->name,
                                    value);
                a->k = (uint32_t)v;
            }
            break;
        default: break;
        }
    }
    if ((c->opts & DB_VECTOR) && !a->vector)
        return db_usage(c, "%s: missing --vector", c->name);
    if (a->npos < c->min_pos) return db_usage(c, "%s: missing %s", c->name, c->pos_names[a->npos]);
    if (a->has_segment != a->has_total)
        return db_usage(c, "%s: --segment and --total-segments go together", c->name);
    if (a->has_segment && a->segment >= a->total_segments)
        return db_usage(c, "%s: --segment %" PRIu32 " is not below --total-segments %" PRIu32,
                        c->name, a->segment, a->total_segments);
    return -1;
}

/* ---- opening, JSON, output ---------------------------------------------------------------- */

int open_db(const db_args *a, keel_open_mode mode, keel_db **out) {
    keel_db_options o = KEEL_DB_OPTIONS_INIT;
    o.mode = mode;
    o.sync = a->sync && mode != KEEL_OPEN_READONLY ? KEEL_SYNC_DATA : KEEL_SYNC_NONE;
    keel_status st = keel_db_open(a->path, &o, out);
    if (st != KEEL_OK) return cli_fail(st, "opening database '%s'", a->path);
    return 0;
}

/* Close a database (syncing per the mode) and report a failure. Always frees. */
int close_db(keel_db *db, const char *path, int rc) {
    keel_status st = keel_db_close(db);
    if (st != KEEL_OK && rc == EXIT_OK) rc = cli_fail(st, "closing '%s'", path);
    keel_db_free(db);
    return rc;
}

/* Convert argument `text` (what: "ITEM", "--values", ...) to CBOR; a refusal is a usage
 * error that quotes the converter's message. Returns 0, EXIT_USAGE or EXIT_ERROR. */
int json_arg(const db_args *a, keel_db_json_kind kind, const char *what, const char *text,
             cbor *out) {
    out->p = NULL;
    out->len = 0;
    if (!text) return 0;
    keel_status st = keel_db_json_to_cbor(kind, text, strlen(text), &out->p, &out->len);
    if (st == KEEL_OK) return 0;
    if (st != KEEL_EVALIDATION) return cli_fail(st, "%s: %s", a->cmd->name, what);
    return db_usage(a->cmd, "%s: %s is not valid DynamoDB JSON: %s", a->cmd->name, what,
                    keel_errmsg());
}

/* Write the item (or key) `v` as one line of DynamoDB JSON. Returns 0 or EXIT_ERROR. */
int put_item_line(outbuf *o, const void *item, size_t len, const char *what) {
    char *s;
    size_t n;
    keel_status st = keel_db_json_from_cbor(KEEL_DB_JSON_ITEM, item, len, &s, &n);
    if (st != KEEL_OK) return cli_fail(st, "%s: converting an item to JSON", what);
    out_put(o, s, n);
    free(s);
    return 0;
}

outbuf *new_outbuf(const char *what) {
    outbuf *o = malloc(sizeof *o);
    if (!o) {
        say("%s: out of memory", what);
        return NULL;
    }
    o->len = 0;
    o->err = 0;
    return o;
}

/* ---- the face ----------------------------------------------------------------------------- */

/* keel db FILE COMMAND ...: argv[0] is "db". */
static int db_main(int argc, char **argv) {
    if (argc < 2) return db_usage(NULL, "db: missing FILE and COMMAND");
    if (is_help(argv[1])) {
        print_db_overview(stdout);
        return EXIT_OK;
    }
    if (argc >= 3 && is_help(argv[2])) {
        /* "keel db get --help" (FILE left out) or "keel db FILE --help". */
        const db_command *c = find_db_command(argv[1]);
        if (c)
            print_db_command_help(c);
        else
            print_db_overview(stdout);
        return EXIT_OK;
    }
    if (argv[1][0] == '-' && argv[1][1] != '\0')
        return db_usage(NULL, "db: unknown option '%s' (FILE comes first: keel db FILE COMMAND)",
                        argv[1]);
    if (argc < 3) return db_usage(NULL, "db: missing COMMAND after FILE");
    db_args a;
    memset(&a, 0, sizeof a);
    a.path = argv[1];
    a.cmd = find_db_command(argv[2]);
    if (!a.cmd) {
        if (find_db_command(argv[1]))
            return db_usage(NULL, "db: unknown command '%s' (FILE comes first: keel db FILE %s "
                            "...)", argv[2], argv[1]);
        return db_usage(NULL, "db: unknown command '%s'", argv[2]);
    }
    if (a.path[0] == '\0') return db_usage(a.cmd, "%s: FILE is empty", a.cmd->name);
    int rc = parse_db_args(&a, argc - 3, argv + 3);
    if (rc >= 0) return rc;
    return a.cmd->run(&a);
}

/* keel help db [COMMAND]: argv[0] is "db". */
static void db_help(int argc, char **argv) {
    const db_command *c = argc > 1 ? find_db_command(argv[1]) : NULL;
    if (c)
        print_db_command_help(c);
    else
        print_db_overview(stdout);
}

const face db_face = {
    .word = "db",
    .usage = "db FILE COMMAND [OPTIONS] [ARGS]",
    .overview =
        "Databases (DynamoDB-style tables of items; DynamoDB JSON in and out):\n"
        "  db FILE tables | create-table NAME PK:TYPE [SK:TYPE] | delete-table NAME\n"
        "  db FILE describe TABLE | count TABLE | put TABLE ITEM|- | get TABLE KEY\n"
        "  db FILE del TABLE KEY | query TABLE KEY_CONDITION | scan TABLE\n"
        "  db FILE update TABLE KEY UPDATE_EXPR | transact ACTIONS|- | stats TABLE\n"
        "  db FILE stat | verify | compact | sql STATEMENT\n"
        "  db FILE export TABLE OUT | import TABLE IN\n"
        "(see 'keel help db'; a store named 'db' is reached as ./db)\n",
    .hint = "for databases: keel db FILE COMMAND",
    .main = db_main,
    .help = db_help,
};
