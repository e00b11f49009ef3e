/*
 * db_cmds.c: the Database face of the `keel` tool (keel_db.h): `keel db FILE COMMAND`.
 *
 *     keel db FILE tables | create-table | delete-table | describe | put | get | del |
 *                  update | transact | query | scan | count | stat | stats | verify |
 *                  compact | sql | export | import
 *
 * (sql, export and import live in db_io_cmds.c; what the two files share, in db_cli.h.)
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
#include "keel_server.h"

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

static int cmd_tables(db_args *a);
static int cmd_create_table(db_args *a);
static int cmd_delete_table(db_args *a);
static int cmd_describe(db_args *a);
static int cmd_put(db_args *a);
static int cmd_get(db_args *a);
static int cmd_del(db_args *a);
static int cmd_query(db_args *a);
static int cmd_scan(db_args *a);
static int cmd_count(db_args *a);
static int cmd_stat(db_args *a);
static int cmd_verify(db_args *a);
static int cmd_compact(db_args *a);
static int cmd_update(db_args *a);
static int cmd_transact(db_args *a);
static int cmd_stats(db_args *a);
static int cmd_search(db_args *a);

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

/* ---- tables ------------------------------------------------------------------------------- */

static int cmd_tables(db_args *a) {
    keel_db *db;
    int rc = open_db(a, KEEL_OPEN_READONLY, &db);
    if (rc) return rc;
    char *names;
    size_t n;
    keel_status st = keel_db_list_tables(db, &names, &n);
    if (st != KEEL_OK) return close_db(db, a->path, cli_fail(st, "tables '%s'", a->path));
    const char *p = names;
    if (a->json) fputs("{\"TableNames\": [", stdout);
    for (size_t i = 0; i < n; i++) {
        if (a->json) {
            if (i) fputs(", ", stdout);
            print_json_string(stdout, p);
        } else {
            printf("%s\n", p);
        }
        p += strlen(p) + 1;
    }
    if (a->json) fputs("]}\n", stdout);
    free(names);
    return close_db(db, a->path, EXIT_OK);
}

/* "name:T" -> name (a copy, in *name_out) and type. */
int parse_key_spec(const db_args *a, const char *spec, const char *what, char **name_out,
                   keel_db_keytype *type_out) {
    const char *colon = strrchr(spec, ':');
    if (!colon || colon == spec || colon[1] == '\0' || colon[2] != '\0')
        return db_usage(a->cmd, "%s: %s '%s' is not NAME:TYPE (TYPE one of S, N, B)",
                        a->cmd->name, what, spec);
    char t = colon[1];
    if (t == 's' || t == 'n' || t == 'b') t = (char)(t - 'a' + 'A');
    if (t != 'S' && t != 'N' && t != 'B')
        return db_usage(a->cmd, "%s: %s '%s': the type must be S, N or B", a->cmd->name, what,
                        spec);
    size_t n = (size_t)(colon - spec);
    char *name = malloc(n + 1);
    if (!name) {
        say("%s: out of memory", a->cmd->name);
        return EXIT_ERROR;
    }
    memcpy(name, spec, n);
    name[n] = '\0';
    *name_out = name;
    *type_out = (keel_db_keytype)t;
    return 0;
}

static int cmd_create_table(db_args *a) {
    keel_db_schema schema = {NULL, KEEL_DB_KEY_NONE, NULL, KEEL_DB_KEY_NONE};
    char *pk = NULL, *sk = NULL;
    int rc = parse_key_spec(a, a->pos[1], "PK:TYPE", &pk, &schema.pk_type);
    if (!rc && a->npos == 3) rc = parse_key_spec(a, a->pos[2], "SK:TYPE", &sk, &schema.sk_type);
    if (rc) {
        free(pk);
        return rc;
    }
    schema.pk_name = pk;
    schema.sk_name = sk;
    keel_db *db;
    if ((rc = open_db(a, KEEL_OPEN_CREATE, &db)) == 0) {
        keel_status st = keel_db_create_table(db, a->pos[0], &schema);
        if (st != KEEL_OK) rc = cli_fail(st, "create-table '%s'", a->pos[0]);
        rc = close_db(db, a->path, rc);
    }
    free(pk);
    free(sk);
    return rc;
}

static int cmd_delete_table(db_args *a) {
    keel_db *db;
    int rc = open_db(a, KEEL_OPEN_EXISTING, &db);
    if (rc) return rc;
    keel_status st = keel_db_delete_table(db, a->pos[0]);
    if (st != KEEL_OK) rc = cli_fail(st, "delete-table '%s'", a->pos[0]);
    return close_db(db, a->path, rc);
}

static const char *type_name(keel_db_keytype t) {
    return t == KEEL_DB_KEY_S ? "S" : t == KEEL_DB_KEY_N ? "N" : t == KEEL_DB_KEY_B ? "B" : "?";
}

static int cmd_describe(db_args *a) {
    keel_db *db;
    int rc = open_db(a, KEEL_OPEN_READONLY, &db);
    if (rc) return rc;
    keel_db_table_info t;
    keel_status st = keel_db_describe_table(db, a->pos[0], &t);
    if (st != KEEL_OK) return close_db(db, a->path, cli_fail(st, "describe '%s'", a->pos[0]));
    bool has_sk = t.sk_name[0] != '\0';
    if (a->json) {
        fputs("{\"Table\": {\"TableName\": ", stdout);
        print_json_string(stdout, t.name);
        fputs(", \"KeySchema\": [{\"AttributeName\": ", stdout);
        print_json_string(stdout, t.pk_name);
        fputs(", \"KeyType\": \"HASH\"}", stdout);
        if (has_sk) {
            fputs(", {\"AttributeName\": ", stdout);
            print_json_string(stdout, t.sk_name);
            fputs(", \"KeyType\": \"RANGE\"}", stdout);
        }
        fputs("], \"AttributeDefinitions\": [{\"AttributeName\": ", stdout);
        print_json_string(stdout, t.pk_name);
        printf(", \"AttributeType\": \"%s\"}", type_name(t.pk_type));
        if (has_sk) {
            fputs(", {\"AttributeName\": ", stdout);
            print_json_string(stdout, t.sk_name);
            printf(", \"AttributeType\": \"%s\"}", type_name(t.sk_type));
        }
        printf("], \"TableStatus\": \"ACTIVE\", \"ItemCount\": %" PRIu64
               ", \"TableSizeBytes\": %" PRIu64 ", \"CreationDateTime\": %" PRIu64 "}}\n",
               t.items, t.bytes, t.created);
    } else {
        char when[64] = "unknown", h[32];
        time_t secs = (time_t)t.created;
        struct tm tm;
        if (t.created && gmtime_r(&secs, &tm))
            strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
        printf("table:          %s\n"
               "partition key:  %s (%s)\n",
               t.name, t.pk_name, type_name(t.pk_type));
        if (has_sk)
            printf("sort key:       %s (%s)\n", t.sk_name, type_name(t.sk_type));
        else
            printf("sort key:       none\n");
        printf("items:          %" PRIu64 "\n"
               "bytes:          %" PRIu64 " (%s)\n"
               "created:        %s\n",
               t.items, t.bytes, human_size(t.bytes, h, sizeof h), when);
    }
    return close_db(db, a->path, EXIT_OK);
}

static int cmd_count(db_args *a) {
    keel_db *db;
    int rc = open_db(a, KEEL_OPEN_READONLY, &db);
    if (rc) return rc;
    uint64_t n;
    keel_status st = keel_db_count(db, a->pos[0], &n);
    if (st != KEEL_OK) return close_db(db, a->path, cli_fail(st, "count '%s'", a->pos[0]));
    if (a->json)
        printf("{\"Count\": %" PRIu64 "}\n", n);
    else
        printf("%" PRIu64 "\n", n);
    return close_db(db, a->path, EXIT_OK);
}

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

static int cmd_put(db_args *a) {
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

static int cmd_get(db_args *a) {
    cbor key;
    int rc = json_arg(a, KEEL_DB_JSON_ITEM, "KEY", a->pos[1], &key);
    if (rc) return rc;
    keel_db *db;
    if ((rc = open_db(a, KEEL_OPEN_READONLY, &db)) == 0)
        rc = close_db(db, a->path, lookup(a, db, &key, true));
    free(key.p);
    return rc;
}

static int cmd_del(db_args *a) {
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

static int cmd_update(db_args *a) {
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
static int cmd_transact(db_args *a) {
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

static int cmd_query(db_args *a) {
    return run_cursor(a, false);
}

static int cmd_scan(db_args *a) {
    return run_cursor(a, true);
}

/* ---- the file ----------------------------------------------------------------------------- */

static int cmd_stat(db_args *a) {
    keel_db *db;
    int rc = open_db(a, KEEL_OPEN_READONLY, &db);
    if (rc) return rc;
    keel_stats t;
    keel_status st = keel_db_stat(db, &t);
    char *names = NULL;
    size_t ntables = 0;
    if (st == KEEL_OK) st = keel_db_list_tables(db, &names, &ntables);
    if (st != KEEL_OK) return close_db(db, a->path, cli_fail(st, "stat '%s'", a->path));
    if (a->json) {
        fputs("{\"path\": ", stdout);
        print_json_string(stdout, a->path);
        printf(", \"format_version\": \"%u.%u\", \"file_size\": %" PRIu64 ", \"entries\": %"
               PRIu64 ", \"live_entries\": %" PRIu64 ", \"live_bytes\": %" PRIu64
               ", \"reclaimable_bytes\": %" PRIu64 ", \"tables\": [",
               (unsigned)t.format_major, (unsigned)t.format_minor, t.file_size, t.entries,
               t.live_keys, t.live_bytes, t.reclaimable_bytes);
    } else {
        char h1[32], h2[32], h3[32];
        printf("file:              %s\n"
               "format version:    %u.%u\n"
               "file size:         %" PRIu64 " bytes (%s)\n"
               "entries:           %" PRIu64 "\n"
               "live entries:      %" PRIu64 " (items and table records)\n"
               "live bytes:        %" PRIu64 " bytes (%s)\n"
               "reclaimable bytes: %" PRIu64 " bytes (%s)\n"
               "tables:            %zu\n",
               a->path, (unsigned)t.format_major, (unsigned)t.format_minor, t.file_size,
               human_size(t.file_size, h1, sizeof h1), t.entries, t.live_keys, t.live_bytes,
               human_size(t.live_bytes, h2, sizeof h2), t.reclaimable_bytes,
               human_size(t.reclaimable_bytes, h3, sizeof h3), ntables);
    }
    const char *p = names;
    for (size_t i = 0; i < ntables; i++, p += strlen(p) + 1) {
        keel_db_table_info info;
        st = keel_db_describe_table(db, p, &info);
        if (st != KEEL_OK) {
            fflush(stdout);
            rc = cli_fail(st, "stat '%s': table '%s'", a->path, p);
            break;
        }
        if (a->json) {
            fputs(i ? ", {\"name\": " : "{\"name\": ", stdout);
            print_json_string(stdout, p);
            printf(", \"items\": %" PRIu64 ", \"bytes\": %" PRIu64 "}", info.items, info.bytes);
        } else {
            char h[32];
            printf("  %-30s %" PRIu64 " items, %" PRIu64 " bytes (%s)\n", p, info.items,
                   info.bytes, human_size(info.bytes, h, sizeof h));
        }
    }
    if (a->json && rc == EXIT_OK) fputs("]}\n", stdout);
    free(names);
    return close_db(db, a->path, rc);
}

static const char *projection_name(keel_db_projection p) {
    return p == KEEL_DB_PROJECT_KEYS_ONLY ? "KEYS_ONLY"
           : p == KEEL_DB_PROJECT_INCLUDE ? "INCLUDE" : "ALL";
}

static int cmd_stats(db_args *a) {
    keel_db_table_stats *t = malloc(sizeof *t);
    if (!t) return cli_fail(KEEL_ENOMEM, "stats");
    keel_db *db;
    int rc = open_db(a, KEEL_OPEN_READONLY, &db);
    if (rc) {
        free(t);
        return rc;
    }
    keel_status st = keel_db_get_stats(db, a->pos[0], t);
    if (st != KEEL_OK) {
        free(t);
        return close_db(db, a->path, cli_fail(st, "stats '%s'", a->pos[0]));
    }
    char h[32];
    if (a->json) {
        fputs("{\"TableName\": ", stdout);
        print_json_string(stdout, a->pos[0]);
        printf(", \"ItemCount\": %" PRIu64 ", \"TableSizeBytes\": %" PRIu64
               ", \"TimeToLiveAttribute\": ", t->items, t->bytes);
        if (t->ttl_attribute[0])
            print_json_string(stdout, t->ttl_attribute);
        else
            fputs("null", stdout);
        fputs(", \"Indexes\": [", stdout);
    } else {
        printf("table:          %s\n"
               "items:          %" PRIu64 "\n"
               "bytes:          %" PRIu64 " (%s)\n"
               "ttl attribute:  %s\n"
               "indexes:        %zu\n",
               a->pos[0], t->items, t->bytes, human_size(t->bytes, h, sizeof h),
               t->ttl_attribute[0] ? t->ttl_attribute : "none", t->nindexes);
    }
    for (size_t i = 0; i < t->nindexes; i++) {
        const keel_db_index_info *x = &t->indexes[i];
        if (a->json) {
            fputs(i ? ", {\"IndexName\": " : "{\"IndexName\": ", stdout);
            print_json_string(stdout, x->name);
            printf(", \"Kind\": \"%s\", \"KeySchema\": [{\"AttributeName\": ",
                   x->local ? "LOCAL" : "GLOBAL");
            print_json_string(stdout, x->pk_name);
            printf(", \"AttributeType\": \"%s\", \"KeyType\": \"HASH\"}", type_name(x->pk_type));
            if (x->sk_name[0]) {
                fputs(", {\"AttributeName\": ", stdout);
                print_json_string(stdout, x->sk_name);
                printf(", \"AttributeType\": \"%s\", \"KeyType\": \"RANGE\"}",
                       type_name(x->sk_type));
            }
            printf("], \"Projection\": {\"ProjectionType\": \"%s\"",
                   projection_name(x->projection));
            if (x->projection == KEEL_DB_PROJECT_INCLUDE) {
                fputs(", \"NonKeyAttributes\": [", stdout);
                const char *p = x->include;
                for (size_t j = 0; j < x->ninclude; j++, p += strlen(p) + 1) {
                    if (j) fputs(", ", stdout);
                    print_json_string(stdout, p);
                }
                fputc(']', stdout);
            }
            printf("}, \"IndexStatus\": \"%s\", \"ItemCount\": %" PRIu64
                   ", \"IndexSizeBytes\": %" PRIu64 "}",
                   x->creating ? "CREATING" : "ACTIVE", x->items, x->bytes);
        } else {
            printf("  %s (%s%s): %s", x->name, x->local ? "local" : "global",
                   x->creating ? ", being backfilled" : "", x->pk_name);
            if (x->sk_name[0]) printf(", %s", x->sk_name);
            printf("; projection %s", projection_name(x->projection));
            if (x->projection == KEEL_DB_PROJECT_INCLUDE) {
                const char *p = x->include;
                for (size_t j = 0; j < x->ninclude; j++, p += strlen(p) + 1)
                    printf("%s%s", j ? "," : " ", p);
            }
            printf("; %" PRIu64 " entries, %" PRIu64 " bytes (%s)\n", x->items, x->bytes,
                   human_size(x->bytes, h, sizeof h));
        }
    }
    if (a->json) fputs("]}\n", stdout);
    free(t);
    return close_db(db, a->path, EXIT_OK);
}

static int cmd_verify(db_args *a) {
    keel_db *db;
    int rc = open_db(a, KEEL_OPEN_READONLY, &db);
    if (rc) return rc;
    keel_verify_report r;
    memset(&r, 0, sizeof r);
    keel_status st = keel_db_verify(db, &r);
    if (st == KEEL_OK) {
        printf("%s: %" PRIu64 " entries checked, all intact; every item's encoding is valid\n",
               a->path, r.entries_checked);
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
    return close_db(db, a->path, rc);
}

static int cmd_compact(db_args *a) {
    keel_db *db;
    int rc = open_db(a, KEEL_OPEN_EXISTING, &db);
    if (rc) return rc;
    keel_stats before, after;
    keel_status st = keel_db_stat(db, &before);
    if (st != KEEL_OK) return close_db(db, a->path, cli_fail(st, "compact '%s'", a->path));
    progress p = {"compacting", -1, false};
    bool bar = isatty(STDERR_FILENO);
    st = keel_db_compact(db, bar ? progress_draw : NULL, bar ? &p : NULL);
    if (p.drawn) fputc('\n', stderr);
    if (st != KEEL_OK) return close_db(db, a->path, cli_fail(st, "compact '%s'", a->path));
    st = keel_db_stat(db, &after);
    if (st != KEEL_OK) return close_db(db, a->path, cli_fail(st, "compact '%s'", a->path));
    char h1[32], h2[32];
    uint64_t b = before.file_size, f = after.file_size;
    uint64_t freed = b > f ? b - f : 0;
    printf("%s: %" PRIu64 " -> %" PRIu64 " bytes (%s -> %s), %" PRIu64 " bytes freed (%.1f%%)\n",
           a->path, b, f, human_size(b, h1, sizeof h1), human_size(f, h2, sizeof h2), freed,
           b ? 100.0 * (double)freed / (double)b : 0.0);
    return close_db(db, a->path, EXIT_OK);
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

static int cmd_search(db_args *a) {
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
