/*
 * db_cli.h: what the files of `keel db` share: db_cmds.c (the table of commands, argument
 * parsing, the helpers below, the face), db_table_cmds.c (tables, stat, stats, verify,
 * compact), db_item_cmds.c (put, get, del, update, transact), db_query_cmds.c (query,
 * scan, search) and db_io_cmds.c (sql, export, import).
 *
 * A command gets its parsed arguments (db_args) and returns an exit status (cli.h); the
 * helpers below report their own failures and return EXIT_USAGE or EXIT_ERROR.
 */
#ifndef KEEL_TOOLS_DB_CLI_H
#define KEEL_TOOLS_DB_CLI_H

#include "cli.h"
#include "keel_db.h"

#include <stdbool.h>
#include <stdint.h>

/* ---- arguments ---------------------------------------------------------------------------- */

enum {
    DB_JSON = 1u << 0,
    DB_SYNC = 1u << 1,
    DB_VALUES = 1u << 2,
    DB_NAMES = 1u << 3,
    DB_FILTER = 1u << 4,
    DB_PROJECTION = 1u << 5,
    DB_REVERSE = 1u << 6,
    DB_LIMIT = 1u << 7,
    DB_START = 1u << 8,
    DB_SEGMENT = 1u << 9,       /* --segment and --total-segments */
    DB_GZIP = 1u << 10,         /* export --gzip */
    DB_CREATE = 1u << 11,       /* import --create PK:TYPE[,SK:TYPE] */
    DB_PARAMS = 1u << 12,       /* sql --params JSON */
    DB_CONDITION = 1u << 13,    /* update --condition EXPR */
    DB_RETURN = 1u << 14,       /* update --return NONE|ALL_OLD|... */
    DB_VECTOR = 1u << 15,       /* search: --vector and --k */
};

#define DB_MAX_POS 3

typedef struct db_args {
    const char *path;
    const struct db_command *cmd;
    char *pos[DB_MAX_POS];
    int npos;
    bool json, sync, reverse;
    const char *values, *names, *filter, *projection, *start_key;
    uint64_t limit;             /* 0: none */
    uint32_t segment, total_segments;
    bool has_segment, has_total;
    bool gzip;
    const char *create, *params;
    const char *condition;
    keel_db_return return_values;
    const char *vector;         /* search: JSON or a file holding it */
    uint32_t k;                 /* search: 1..100 (default 10) */
    uint32_t ef;                /* search: 0 exact, else the approximate beam */
} db_args;

typedef struct db_command {
    const char *name;
    int (*run)(db_args *a);
    int min_pos, max_pos;
    const char *pos_names[DB_MAX_POS];
    unsigned opts;
    const char *synopsis;       /* after "keel db FILE " */
    const char *summary;
    const char *help;
} db_command;


/* Owned CBOR converted from an argument. */
typedef struct cbor {
    uint8_t *p;
    size_t len;
} cbor;

/* Report a usage mistake and point at the help. Returns EXIT_USAGE. */
int db_usage(const db_command *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Open a->path in `mode` (syncing per --sync). 0 or EXIT_ERROR, reported. */
int open_db(const db_args *a, keel_open_mode mode, keel_db **out);
/* Close (reporting a failure when rc is EXIT_OK) and free; returns the status to exit with. */
int close_db(keel_db *db, const char *path, int rc);
/* Convert argument `text` (NULL: none) to CBOR; a refusal is a usage error. */
int json_arg(const db_args *a, keel_db_json_kind kind, const char *what, const char *text,
             cbor *out);
/* Write an item (or key) as one line of DynamoDB JSON. 0 or EXIT_ERROR. */
int put_item_line(outbuf *o, const void *item, size_t len, const char *what);
outbuf *new_outbuf(const char *what);
/* "name:T" -> a malloc'd name and its type. 0 or EXIT_USAGE / EXIT_ERROR. */
int parse_key_spec(const db_args *a, const char *spec, const char *what, char **name_out,
                   keel_db_keytype *type_out);

/* The commands, listed in db_cmds.c's table. db_table_cmds.c: */
int cmd_tables(db_args *a);
int cmd_create_table(db_args *a);
int cmd_delete_table(db_args *a);
int cmd_describe(db_args *a);
int cmd_count(db_args *a);
int cmd_stats(db_args *a);
int cmd_stat(db_args *a);
int cmd_verify(db_args *a);
int cmd_compact(db_args *a);
/* db_item_cmds.c */
int cmd_put(db_args *a);
int cmd_get(db_args *a);
int cmd_del(db_args *a);
int cmd_update(db_args *a);
int cmd_transact(db_args *a);
/* db_query_cmds.c */
int cmd_query(db_args *a);
int cmd_scan(db_args *a);
int cmd_search(db_args *a);
/* db_io_cmds.c */
int cmd_sql(db_args *a);
int cmd_export(db_args *a);
int cmd_import(db_args *a);

#define DB_SQL_HELP_ENTRY                                                                  \
    {"sql", cmd_sql, 1, 1, {"STATEMENT"}, DB_JSON | DB_PARAMS | DB_SYNC | DB_LIMIT,          \
     "sql [--params JSON] [--limit N] [--json] [--sync] STATEMENT",                          \
     "run a PartiQL statement (SELECT, INSERT, UPDATE, DELETE)",                             \
     "Run one PartiQL statement, DynamoDB's dialect (ExecuteStatement):\n"                   \
     "    SELECT * | path, ... FROM \"t\" [WHERE cond] [ORDER BY sk [ASC|DESC]]\n"          \
     "    INSERT INTO \"t\" VALUE {'pk': 'a', 'n': 1}\n"                                    \
     "    UPDATE \"t\" SET p = v [REMOVE p] WHERE pk = 'a' [RETURNING ALL NEW *]\n"         \
     "    DELETE FROM \"t\" WHERE pk = 'a' [RETURNING ALL OLD *]\n"                         \
     "Items a SELECT finds (or a RETURNING clause returns) are printed one per line in\n"   \
     "DynamoDB JSON. A SELECT whose WHERE names the partition key with = or IN reads\n"     \
     "only those partitions; otherwise it scans. The file is opened read-only for a\n"     \
     "SELECT. Exit status 3 for a syntax error (its position is named), a failed\n"        \
     "condition, or an INSERT of an item that exists (DuplicateItem).\n"                    \
     "\n"                                                                                   \
     "  --params JSON       values for the ? markers, in order, as DynamoDB JSON\n"         \
     "                      AttributeValues: '[{\"S\": \"a\"}, {\"N\": \"1\"}]'\n"           \
     "  --limit N           (SELECT) evaluate at most N items\n"                            \
     "  --json              print {\"Items\": [...]} (DynamoDB's response shape)\n"         \
     "  --sync              (writes) fdatasync before returning\n"}

#define DB_IO_HELP_ENTRIES                                                                 \
    {"export", cmd_export, 2, 2, {"TABLE", "OUT"}, DB_GZIP,                                  \
     "export [--gzip] TABLE OUT",                                                            \
     "write a table in DynamoDB's export format (JSON lines)",                               \
     "Write every item of TABLE to OUT ('-': standard output) in DynamoDB's export\n"       \
     "format: one item per line, {\"Item\": {\"pk\": {\"S\": \"a\"}, ...}} (DynamoDB JSON),\n" \
     "as DynamoDB's export to S3 writes and its import from S3 reads. OUT is replaced;\n"  \
     "on an error it is removed. The file is opened read-only, and the items are those\n" \
     "a scan sees (not a snapshot). A progress bar is drawn on a terminal.\n"               \
     "\n"                                                                                   \
     "  --gzip              compress OUT with gzip\n"},                                     \
    {"import", cmd_import, 2, 2, {"TABLE", "IN"}, DB_CREATE | DB_SYNC,                      \
     "import [--create PK:TYPE[,SK:TYPE]] [--sync] TABLE IN",                               \
     "read DynamoDB export lines (gzip or plain) into a table",                              \
     "Put the items of IN ('-': standard input), one {\"Item\": {...}} per line in\n"     \
     "DynamoDB JSON, gzip-compressed or not (detected), into TABLE, which must exist\n"   \
     "unless --create names its key schema. Items are written in atomic batches of 100;\n"\
     "the import is not one transaction. A bad line (not JSON, not an item DynamoDB\n"    \
     "accepts, a key not of the table's schema) stops it with status 3, naming the\n"     \
     "line: every item before that line is kept, that line and those after it are not.\n"\
     "Blank lines are skipped. A progress bar is drawn on a terminal.\n"                    \
     "\n"                                                                                   \
     "  --create PK:TYPE[,SK:TYPE]  create TABLE first (and FILE if missing); status 3\n"  \
     "                      when the table exists\n"                                        \
     "  --sync              fdatasync before returning\n"}

#endif /* KEEL_TOOLS_DB_CLI_H */
