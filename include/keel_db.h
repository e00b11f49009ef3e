/*
 * keel_db.h: the Database face of keel: DynamoDB-style items in one keel file.
 *
 * A database is a keel store file (the container of keel.h: header, entries with CRC32C,
 * torn-tail recovery, atomic groups, locking, compaction) marked in its header as a
 * database. It holds tables; a table has a key schema (a partition key and an optional
 * sort key, each of type S, N or B) and items: maps from attribute names to typed values.
 *
 * Items cross this API as CBOR (RFC 8949), the format they are stored in; docs/FORMAT.md
 * says byte by byte which CBOR encodes which DynamoDB type:
 *
 *   S       text string               B      byte string
 *   N       integer (major 0/1), bignum (tags 2/3), decimal fraction (tag 4 [exp, mant]),
 *           or float64 (finite; kept as written so a caller can round-trip its own type)
 *   BOOL    true/false                NULL   null
 *   L       array                     M      map with text-string keys
 *   SS/NS/BS  tag 258 (set) around a non-empty array of S, N or B values, no duplicates
 *   vector  tag 85 (RFC 8746 float32 little-endian typed array) around a byte string
 *
 * An item is a CBOR map with text-string keys. Stored items may also hold padding entries
 * (unsigned-integer keys) that place float32 vectors 64-byte aligned; readers skip them.
 * Numbers follow DynamoDB: at most 38 significant digits, magnitude 1e-130 to
 * 9.99..9e125 or zero, no NaN or infinity. Limits: 400 KB per item (DynamoDB's size rule),
 * partition keys 1..2048 bytes, sort keys 1..1024 bytes, 32 levels of nesting.
 *
 * Keys sort as in DynamoDB: S by UTF-8 bytes, B by unsigned bytes, N numerically.
 *
 * Threads: one keel_db may be used from any number of threads. Writers are serialized;
 * readers never wait for a writer's I/O. A view returned by a get or a cursor points into
 * the file's mapping and stays valid until the database is closed.
 *
 * Errors are keel_status values (keel.h) with keel_errmsg() detail. Beyond those of
 * keel.h: KEEL_ENOTABLE (no such table), KEEL_ETABLEEXISTS, KEEL_ESYNTAX (a malformed
 * expression; the detail is DynamoDB's "Invalid UpdateExpression: Syntax error; token:
 * \"T\", near: \"N\"" then the byte position and what was expected; the errors of an
 * expression start with "Invalid <its request member>: " as DynamoDB's do), KEEL_EVALIDATION
 * (a request DynamoDB would
 * refuse: wrong key type, missing key attribute, oversized item, bad number, unused or
 * missing placeholder), KEEL_ECONDITION (a write's condition was false), KEEL_ECANCELED (a
 * transaction was canceled; its reasons say why). Nothing is written when a call fails.
 */
#ifndef KEEL_DB_H
#define KEEL_DB_H

#include "keel.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct keel_db keel_db;
typedef struct keel_db_cursor keel_db_cursor;

/* Limits (DynamoDB's). */
#define KEEL_DB_MAX_ITEM (400u * 1024u)
#define KEEL_DB_MAX_PK 2048u
#define KEEL_DB_MAX_SK 1024u
#define KEEL_DB_MAX_DEPTH 32u
#define KEEL_DB_MAX_TABLE_NAME 255u

typedef struct keel_db_options {
    keel_open_mode mode;    /* default KEEL_OPEN_CREATE; KEEL_OPEN_READONLY for readers */
    keel_sync_mode sync;    /* default KEEL_SYNC_NONE */
} keel_db_options;

#define KEEL_DB_OPTIONS_INIT { KEEL_OPEN_CREATE, KEEL_SYNC_NONE }

/* Open or create the database at `path`. On success *db_out owns it until keel_db_free().
 * KEEL_EFORMAT: the file is not a keel database (a DataStore file, or not keel at all; it
 * is left untouched). Other errors as keel_open(). */
KEEL_API keel_status keel_db_open(const char *path, const keel_db_options *opts,
                                  keel_db **db_out);

/* A database in an anonymous in-memory file (memfd): the same engine, gone at close. */
KEEL_API keel_status keel_db_open_memory(const keel_db_options *opts, keel_db **db_out);

/* Close (syncing per the sync mode); later calls return KEEL_ECLOSED. Twice is KEEL_OK.
 * First, on a writable file, each vector index graph that changed since its checkpoint is
 * checkpointed into the file (see keel_db_search_opts.ef; a failure there only costs the
 * next open a rebuild). keel_db_free without keel_db_close writes no checkpoint. */
KEEL_API keel_status keel_db_close(keel_db *db);
/* Close if open and free. NULL is a no-op. */
KEEL_API void keel_db_free(keel_db *db);

/* fdatasync the file. */
KEEL_API keel_status keel_db_sync(keel_db *db);
/* Rewrite the file with live entries only (keel_compact); readers keep going. Changed
 * vector index graphs are checkpointed first, and checkpoints no vector index owns are
 * left out; graphs survive compaction in memory. */
KEEL_API keel_status keel_db_compact(keel_db *db, keel_progress_fn progress, void *ctx);
/* Check every entry's checksum and every item's encoding. */
KEEL_API keel_status keel_db_verify(keel_db *db, keel_verify_report *report_out);
/* The underlying store's statistics. */
KEEL_API keel_status keel_db_stat(keel_db *db, keel_stats *stats_out);

/* ---- tables ---------------------------------------------------------------------------- */

typedef enum keel_db_keytype {
    KEEL_DB_KEY_NONE = 0,   /* no sort key */
    KEEL_DB_KEY_S = 'S',
    KEEL_DB_KEY_N = 'N',
    KEEL_DB_KEY_B = 'B'
} keel_db_keytype;

typedef struct keel_db_schema {
    const char *pk_name;            /* partition key attribute (1..255 bytes of UTF-8) */
    keel_db_keytype pk_type;        /* S, N or B */
    const char *sk_name;            /* sort key attribute, or NULL */
    keel_db_keytype sk_type;        /* S, N or B; KEEL_DB_KEY_NONE when sk_name is NULL */
} keel_db_schema;

typedef struct keel_db_table_info {
    char name[KEEL_DB_MAX_TABLE_NAME + 1];
    char pk_name[256];
    char sk_name[256];              /* "" when the table has no sort key */
    keel_db_keytype pk_type, sk_type;
    uint64_t items;                 /* live items */
    uint64_t bytes;                 /* bytes of their stored entries */
    uint64_t created;               /* seconds since the Unix epoch */
} keel_db_table_info;

/* Create table `name` (3..255 characters of [A-Za-z0-9_.-], DynamoDB's rule).
 * KEEL_ETABLEEXISTS if it exists; KEEL_EVALIDATION for a bad name or schema. */
KEEL_API keel_status keel_db_create_table(keel_db *db, const char *name,
                                          const keel_db_schema *schema);
/* Delete a table, all its items, index entries and vector graph checkpoints (one atomic
 * append; space is reclaimed by compaction). */
KEEL_API keel_status keel_db_delete_table(keel_db *db, const char *name);
/* Describe a table. KEEL_ENOTABLE if absent. */
KEEL_API keel_status keel_db_describe_table(keel_db *db, const char *name,
                                            keel_db_table_info *info_out);
/* The tables' names in order, as one buffer of NUL-terminated names: *names_out is
 * malloc'd (free() it), *count_out names. */
KEEL_API keel_status keel_db_list_tables(keel_db *db, char **names_out, size_t *count_out);

/* ---- items ------------------------------------------------------------------------------ */

/* Store `item` (a CBOR map) in `table`, replacing any item with the same key. The key
 * attributes must be present with the schema's types. */
KEEL_API keel_status keel_db_put_item(keel_db *db, const char *table, const void *item,
                                      size_t item_len);
/* Look up the item whose key attributes are those of `key` (a CBOR map holding exactly the
 * key attributes). KEEL_OK: *item_out views the stored CBOR (valid until close);
 * KEEL_NOTFOUND when absent. */
KEEL_API keel_status keel_db_get_item(keel_db *db, const char *table, const void *key,
                                      size_t key_len, keel_view *item_out);

/* One attribute of a key given by value (keel_db_get_item_attrs) instead of as CBOR. */
typedef struct keel_db_key_attr {
    const char *name;       /* the attribute's name, name_len bytes of UTF-8 (no NUL needed) */
    size_t name_len;
    keel_db_keytype type;   /* S: `data` is len bytes of UTF-8 text; B: len bytes; N: `n` */
    const void *data;
    size_t len;
    int64_t n;              /* N: the number (a key number outside int64: keel_db_get_item) */
} keel_db_key_attr;

/* keel_db_get_item for the key map {attrs[0].name: value, ..., attrs[count-1].name: value},
 * given by value: the same results and the same errors (status and message) as
 * keel_db_get_item with that map encoded as CBOR in this order (S as text, B as a byte
 * string, N as a CBOR integer), without the encoding and its decoding. A key that is not
 * exactly the schema's attributes with their types (missing, extra or repeated names, a
 * type mismatch, count 0) fails as that map would; its message names the problem. */
KEEL_API keel_status keel_db_get_item_attrs(keel_db *db, const char *table,
                                            const keel_db_key_attr *attrs, size_t count,
                                            keel_view *item_out);
/* Delete the item with this key; absent is KEEL_OK (as in DynamoDB). */
KEEL_API keel_status keel_db_delete_item(keel_db *db, const char *table, const void *key,
                                         size_t key_len);

/* One write of a batch: a put (item) or a delete (key). */
typedef struct keel_db_write {
    const char *table;
    const void *item;       /* CBOR map: the item to put, or the key to delete */
    size_t item_len;
    int is_delete;
} keel_db_write;

/* Apply every write as one atomic group: all are there after a crash, or none. Two writes
 * to the same item are KEEL_EVALIDATION (as in DynamoDB). */
KEEL_API keel_status keel_db_batch_write(keel_db *db, const keel_db_write *writes, size_t n);

/* The default table of KeystoneDB's API: keys are raw bytes (a partition key and an
 * optional sort key) that are not attributes of the item. `sk` NULL means no sort key
 * (distinct from an empty sort key). As in KeystoneDB, any bytes are a key here, the empty
 * string included, up to the limits (2048 and 1024 bytes). */
KEEL_API keel_status keel_db_kv_put(keel_db *db, const void *pk, size_t pk_len, const void *sk,
                                    size_t sk_len, const void *item, size_t item_len);
KEEL_API keel_status keel_db_kv_get(keel_db *db, const void *pk, size_t pk_len, const void *sk,
                                    size_t sk_len, keel_view *item_out);
KEEL_API keel_status keel_db_kv_delete(keel_db *db, const void *pk, size_t pk_len,
                                       const void *sk, size_t sk_len);

/* One write of a default-table batch: a put (item, a CBOR map) or a delete. `sk` NULL: no
 * sort key. */
typedef struct keel_db_kv_write {
    const void *pk;
    size_t pk_len;
    const void *sk;
    size_t sk_len;
    const void *item;       /* puts: the item; ignored for deletes */
    size_t item_len;
    int is_delete;
} keel_db_kv_write;

/* keel_db_batch_write for the default table: one atomic group, all or none after a crash.
 * Two writes to the same key are KEEL_EVALIDATION. */
KEEL_API keel_status keel_db_kv_batch_write(keel_db *db, const keel_db_kv_write *writes,
                                            size_t n);

/* ---- conditional writes, updates and ReturnValues ---------------------------------------- */

/* Which attributes a write returns (DynamoDB's ReturnValues). Put and delete take NONE and
 * ALL_OLD; update takes all five. UPDATED_OLD and UPDATED_NEW return the update's target
 * paths only (as a projection of them would: nested paths give nested maps). */
typedef enum keel_db_return {
    KEEL_DB_RETURN_NONE = 0,
    KEEL_DB_RETURN_ALL_OLD,
    KEEL_DB_RETURN_UPDATED_OLD,
    KEEL_DB_RETURN_ALL_NEW,
    KEEL_DB_RETURN_UPDATED_NEW
} keel_db_return;

/* Options of one conditional write. NULL options mean "unconditional, return nothing". */
typedef struct keel_db_write_opts {
    const char *condition;      /* ConditionExpression, or NULL */
    const void *names;          /* CBOR map "#n" -> "name" (ExpressionAttributeNames), or NULL */
    size_t names_len;
    const void *values;         /* CBOR map ":v" -> value (ExpressionAttributeValues), or NULL */
    size_t values_len;
    keel_db_return return_values;
    int return_old_on_condition_failure; /* ReturnValuesOnConditionCheckFailure=ALL_OLD */
} keel_db_write_opts;

#define KEEL_DB_WRITE_OPTS_INIT { NULL, NULL, 0, NULL, 0, KEEL_DB_RETURN_NONE, 0 }

/* A result the library allocated: a CBOR map (an item, or the attributes ReturnValues
 * asked for), owned by the caller until keel_db_buf_free(). data NULL and len 0 mean
 * "no attributes" (DynamoDB returns no Attributes member then). */
typedef struct keel_db_buf {
    uint8_t *data;
    size_t len;
} keel_db_buf;

/* Free a result and zero it. NULL and an empty buffer are no-ops. */
KEEL_API void keel_db_buf_free(keel_db_buf *b);

/* The conditional forms of put and delete, and update. Under the store's writer lock, in
 * the critical section that writes, the current item is read, opts->condition evaluated
 * against it (an absent item makes every path missing) and the new item computed: two
 * threads racing a put conditioned on attribute_not_exists(pk) for one key see exactly one
 * success.
 *
 * KEEL_ECONDITION ("The conditional request failed"): the condition was false; nothing was
 * written; with return_old_on_condition_failure *out holds the current item (none when
 * absent). KEEL_OK: *out holds what return_values asks for (ALL_OLD: the replaced, deleted
 * or updated item; ALL_NEW: the item written). Every other status leaves *out empty. `out`
 * may be NULL when nothing is asked for; it is always reset first. Returned items are as
 * get_item returns them (they may hold padding entries, which readers skip).
 *
 * Expressions are parsed (KEEL_ESYNTAX) and every name and value must be used
 * (KEEL_EVALIDATION) before the lock is taken. */
KEEL_API keel_status keel_db_put_item_ex(keel_db *db, const char *table, const void *item,
                                         size_t item_len, const keel_db_write_opts *opts,
                                         keel_db_buf *out);
KEEL_API keel_status keel_db_delete_item_ex(keel_db *db, const char *table, const void *key,
                                            size_t key_len, const keel_db_write_opts *opts,
                                            keel_db_buf *out);
/* UpdateItem: apply `update` (an UpdateExpression: SET, REMOVE, ADD, DELETE; NULL for
 * none) to the item with this key, creating it from the key when absent. Every operand
 * reads the item as it was before the update. Numbers are exact (38 digits; a result out
 * of range is KEEL_EVALIDATION). KEEL_EVALIDATION with DynamoDB's messages for: a key
 * attribute as a target ("Cannot update attribute pk. This attribute is part of the key"),
 * overlapping paths, an invalid document path, operands of the wrong type, a new item
 * over 400 KB. */
KEEL_API keel_status keel_db_update_item(keel_db *db, const char *table, const void *key,
                                         size_t key_len, const char *update,
                                         const keel_db_write_opts *opts, keel_db_buf *out);

/* ---- transactions ------------------------------------------------------------------------- */

#define KEEL_DB_MAX_TRANSACT 100u

typedef enum keel_db_tx_kind {
    KEEL_DB_TX_PUT = 1,         /* item: the item */
    KEEL_DB_TX_UPDATE,          /* item: the key; update: the UpdateExpression */
    KEEL_DB_TX_DELETE,          /* item: the key */
    KEEL_DB_TX_CHECK            /* item: the key; condition required (ConditionCheck) */
} keel_db_tx_kind;

/* One action of TransactWriteItems. Each has its own names and values. */
typedef struct keel_db_tx_write {
    keel_db_tx_kind kind;
    const char *table;
    const void *item;           /* CBOR map: the item (PUT) or the key (the others) */
    size_t item_len;
    const char *update;         /* UPDATE only, may be NULL */
    const char *condition;      /* NULL: none (required for CHECK) */
    const void *names;
    size_t names_len;
    const void *values;
    size_t values_len;
    int return_old_on_condition_failure;
} keel_db_tx_write;

#define KEEL_DB_TX_WRITE_INIT { (keel_db_tx_kind)0, NULL, NULL, 0, NULL, NULL, NULL, 0, NULL, 0, 0 }

/* Why an action canceled a transaction (DynamoDB's CancellationReasons). */
typedef enum keel_db_reason_code {
    KEEL_DB_REASON_NONE = 0,            /* "None": this action was fine */
    KEEL_DB_REASON_CONDITION_FAILED,    /* "ConditionalCheckFailed" */
    KEEL_DB_REASON_VALIDATION           /* "ValidationError": e.g. an update's operand type */
} keel_db_reason_code;

typedef struct keel_db_tx_reason {
    keel_db_reason_code code;
    const char *code_name;      /* static: "None", "ConditionalCheckFailed", "ValidationError" */
    char message[256];          /* "" for None; "The conditional request failed"; ... */
    keel_db_buf item;           /* ConditionalCheckFailed with return_old_on_condition_failure:
                                 * the current item (empty when absent) */
} keel_db_tx_reason;

/* TransactWriteItems: 1..100 actions across tables. Every condition is checked and every
 * new item computed against the current items under the writer lock; then all writes are
 * appended as one atomic group (all there after a crash, or none), or nothing is written.
 *
 * KEEL_ECANCELED: some action failed its condition or its evaluation; if reasons_out is
 * not NULL (an array of n) it holds one reason per action, in order; release the items
 * with keel_db_tx_reasons_free(). KEEL_OK: reasons_out (if given) is all "None".
 * Refused whole, before any item is read (KEEL_EVALIDATION / KEEL_ESYNTAX /
 * KEEL_ENOTABLE, the detail naming the action): an empty or oversized list, two actions
 * on one item ("Transaction request cannot include multiple operations on one item"), a
 * malformed expression, a bad key or item, a CHECK without a condition. */
KEEL_API keel_status keel_db_transact_write(keel_db *db, const keel_db_tx_write *actions,
                                            size_t n, keel_db_tx_reason *reasons_out);
/* Free the items of reasons[0..n) and reset them. */
KEEL_API void keel_db_tx_reasons_free(keel_db_tx_reason *reasons, size_t n);

/* One Get of TransactGetItems. */
typedef struct keel_db_tx_get {
    const char *table;
    const void *key;            /* CBOR map: exactly the key attributes */
    size_t key_len;
    const char *projection;     /* NULL: the whole item */
    const void *names;          /* for the projection, or NULL */
    size_t names_len;
} keel_db_tx_get;

/* TransactGetItems: 1..100 gets read under one hold of the read lock, so they see one
 * moment: a transaction's writes are all visible or none. items_out[i] (an array of n,
 * reset first) is a copy of the i-th item (projected if asked), empty when absent; free
 * each with keel_db_buf_free(). On an error every items_out[i] is empty. */
KEEL_API keel_status keel_db_transact_get(keel_db *db, const keel_db_tx_get *gets, size_t n,
                                          keel_db_buf *items_out);

/* ---- queries and scans ------------------------------------------------------------------- */

typedef struct keel_db_query {
    const char *key_condition;  /* query only: "pk = :v [AND sk-condition]" */
    const char *filter;         /* NULL: no filter */
    const char *projection;     /* NULL: whole items */
    const void *names;          /* CBOR map "#n" -> "name", or NULL */
    size_t names_len;
    const void *values;         /* CBOR map ":v" -> value, or NULL */
    size_t values_len;
    int forward;                /* query only: 1 ascending (default), 0 descending */
    uint64_t limit;             /* items evaluated (before the filter), 0: no limit */
    const void *start_key;      /* CBOR map: resume after this key (a cursor's last key) */
    size_t start_key_len;
    uint32_t segment;           /* scan only: this segment of total_segments */
    uint32_t total_segments;    /* scan only: 0 or 1 for the whole table */
    const char *index;          /* a secondary index of the table to read, or NULL */
} keel_db_query;

#define KEEL_DB_QUERY_INIT { NULL, NULL, NULL, NULL, 0, NULL, 0, 1, 0, NULL, 0, 0, 0, NULL }

/* Start a query (items of one partition, in sort-key order) or a scan (every item of the
 * table). With q->index, the same over a secondary index: the key condition names the
 * index's keys, items come in the index's key order (ties: the table key's order) and are
 * the index's projections; start_key and last_key hold the table's and the index's key
 * attributes. An index still being backfilled is KEEL_EVALIDATION. Parse errors (KEEL_ESYNTAX, with the position) and validation errors are
 * reported here, before any item is read. Release with keel_db_cursor_free(). The cursor
 * sees the table as it is at each step (read-committed, as DynamoDB). */
KEEL_API keel_status keel_db_query_start(keel_db *db, const char *table,
                                         const keel_db_query *q, keel_db_cursor **cursor_out);
KEEL_API keel_status keel_db_scan_start(keel_db *db, const char *table,
                                        const keel_db_query *q, keel_db_cursor **cursor_out);

/* The next item that passes the filter: KEEL_OK with *item_out (projected: valid until the
 * next call on this cursor; whole: valid until close), KEEL_NOTFOUND when done. */
KEEL_API keel_status keel_db_cursor_next(keel_db_cursor *c, keel_view *item_out);
/* Where to resume: the key (CBOR map) of the last item evaluated when the limit stopped
 * the cursor; KEEL_NOTFOUND when the cursor ran to the end. Valid until the next call. */
KEEL_API keel_status keel_db_cursor_last_key(keel_db_cursor *c, keel_view *key_out);
/* The item keel_db_cursor_next returned last, whole (unprojected; valid until close), and
 * its key map (valid until the next call on this cursor): where a caller that stops early
 * (DynamoDB's 1 MB pages) resumes. KEEL_NOTFOUND before the first item. */
KEEL_API keel_status keel_db_cursor_current(keel_db_cursor *c, keel_view *item_out,
                                            keel_view *key_out);
/* Items evaluated (scanned) and items returned so far. */
KEEL_API void keel_db_cursor_counts(const keel_db_cursor *c, uint64_t *scanned_out,
                                    uint64_t *returned_out);
KEEL_API void keel_db_cursor_free(keel_db_cursor *c);

/* Number of items in a table (expired items not yet reaped included, as in DynamoDB). */
KEEL_API keel_status keel_db_count(keel_db *db, const char *table, uint64_t *count_out);

/* ---- PartiQL ------------------------------------------------------------------------------ */

/* DynamoDB's PartiQL subset (ExecuteStatement), compiled to the same expressions as the calls
 * above (docs/DATABASE.md, "PartiQL"):
 *
 *   SELECT * | path, ... FROM "t" [WHERE cond] [ORDER BY sk [ASC|DESC]]
 *   INSERT INTO "t" VALUE {'k': v, ...}               (KEEL_EDUPLICATE if the item exists)
 *   UPDATE "t" SET p = v [, ...] [REMOVE p] ... WHERE key [AND cond]
 *          [RETURNING ALL OLD | MODIFIED OLD | ALL NEW | MODIFIED NEW *]
 *   DELETE FROM "t" WHERE key [AND cond] [RETURNING ALL OLD *]
 *
 * Literals: 'text' ('' for a quote), numbers (exact), TRUE, FALSE, NULL, {'k': v} (M),
 * [v, ...] (L), <<v, ...>> (a set); `?` takes the next element of `params`, a CBOR array
 * of values (NULL/0: none; the count must match). Conditions: = <> != < <= > >=, [NOT]
 * BETWEEN, [NOT] IN (...) or [...], AND, OR, NOT, IS [NOT] MISSING, IS [NOT] NULL,
 * BEGINS_WITH, CONTAINS, ATTRIBUTE_TYPE, SIZE. SET values: a value or path, a + b, a - b,
 * LIST_APPEND(a, b), SET_ADD(p, set) and SET_DELETE(p, set) on the target path p.
 *
 * A SELECT whose WHERE holds `pk = v` or `pk IN (...)` (ANDed with the rest) reads only
 * those partitions: point gets when the sort key is also given with `=` (or the table has
 * none), else queries with at most one sort-key condition (=, <, <=, >, >=, BETWEEN,
 * BEGINS_WITH) as the key condition; every other condition filters. Without one it scans.
 * UPDATE and DELETE need the whole key as equalities; the rest of their WHERE is a
 * condition (KEEL_ECONDITION when false). UPDATE never creates an item (KEEL_ECONDITION
 * when absent); DELETE of an absent item succeeds and deletes nothing.
 *
 * Errors before anything is read or written: KEEL_ESYNTAX "syntax error at position N: ..."
 * (N the 0-based byte offset in the statement), KEEL_EVALIDATION (parameters, a form the
 * subset refuses, what the expressions refuse), KEEL_ENOTABLE. */

typedef struct keel_db_execute_opts {
    uint64_t limit;         /* SELECT: items evaluated before the filter, 0: no limit */
    const void *resume;     /* SELECT: a position from keel_db_result_position of the same */
    size_t resume_len;      /* statement and parameters: continue after it (NULL: start) */
} keel_db_execute_opts;

#define KEEL_DB_EXECUTE_OPTS_INIT { 0, NULL, 0 }

/* How a statement ran. */
typedef enum keel_db_plan {
    KEEL_DB_PLAN_GET = 1,   /* point gets by full key */
    KEEL_DB_PLAN_QUERY,     /* queries of the named partitions */
    KEEL_DB_PLAN_SCAN,      /* a scan of the table */
    KEEL_DB_PLAN_WRITE      /* INSERT, UPDATE or DELETE */
} keel_db_plan;

typedef struct keel_db_result keel_db_result;

/* Run one statement. A write is done when this returns (its RETURNING item, if any, is
 * the result's one item); a SELECT returns a result to read items from, as a cursor does.
 * On an error *result_out is NULL. */
KEEL_API keel_status keel_db_execute(keel_db *db, const char *statement, const void *params,
                                     size_t params_len, const keel_db_execute_opts *opts,
                                     keel_db_result **result_out);
/* The next item: KEEL_OK with *item_out (valid until the next call on this result, or
 * close), KEEL_NOTFOUND when there are no more. */
KEEL_API keel_status keel_db_result_next(keel_db_result *r, keel_view *item_out);
/* Items evaluated (read from the table) and returned so far. */
KEEL_API void keel_db_result_counts(const keel_db_result *r, uint64_t *scanned_out,
                                    uint64_t *returned_out);
KEEL_API keel_db_plan keel_db_result_plan(const keel_db_result *r);
/* Where a SELECT's result stands, to continue it later (DynamoDB's NextToken): after the
 * last item returned, or, when the limit stopped it, after the last item evaluated.
 * KEEL_OK: *position_out (a CBOR value, free with keel_db_buf_free) goes back as
 * opts->resume of the same statement with the same parameters, and *last_key_out (valid
 * until the next call on the result; may be NULL) is the key map of the last item read,
 * empty when none was (DynamoDB's LastEvaluatedKey). KEEL_NOTFOUND: nothing is left. A
 * position is not checked for tampering: the caller that hands it out must (keel serve
 * wraps it in an authenticated token); a malformed one is KEEL_EVALIDATION at execute. */
KEEL_API keel_status keel_db_result_position(keel_db_result *r, keel_db_buf *position_out,
                                             keel_view *last_key_out);
KEEL_API void keel_db_result_free(keel_db_result *r);

/* One statement of a batch, and its outcome. */
typedef struct keel_db_statement {
    const char *statement;
    const void *params;     /* CBOR array, or NULL */
    size_t params_len;
} keel_db_statement;

typedef struct keel_db_batch_response {
    keel_status status;     /* KEEL_OK, or this statement's error */
    char message[256];      /* keel_errmsg() of the error, "" on success */
    keel_db_buf item;       /* a read's item (empty when absent), a write's RETURNING */
} keel_db_batch_response;

#define KEEL_DB_MAX_BATCH_STATEMENTS 25u

/* BatchExecuteStatement: 1..25 statements, all SELECTs by full key or all writes, each run
 * on its own (not one transaction: use keel_db_transact_write for that); responses[i]
 * says how statement i went. KEEL_OK when the batch itself was valid, even if statements
 * failed; KEEL_EVALIDATION (nothing run) for an empty or oversized batch or a mix of reads
 * and writes. Free the items with keel_db_batch_responses_free(). */
KEEL_API keel_status keel_db_batch_execute(keel_db *db, const keel_db_statement *stmts,
                                           size_t n, keel_db_batch_response *responses);
KEEL_API void keel_db_batch_responses_free(keel_db_batch_response *responses, size_t n);

/* ExecuteTransaction: 1..100 statements run as one transaction. All SELECTs (each naming
 * one item by its whole key, with equalities on the key attributes only) or all writes
 * (INSERT, UPDATE, DELETE; RETURNING is refused): the reads are one keel_db_transact_get,
 * the writes one keel_db_transact_write (all or nothing, one item per statement).
 * `return_old_on_condition_failure` asks for the current item in that statement's
 * cancellation reason (ReturnValuesOnConditionCheckFailure=ALL_OLD). */
typedef struct keel_db_tx_statement {
    const char *statement;
    const void *params;     /* CBOR array, or NULL */
    size_t params_len;
    int return_old_on_condition_failure;
} keel_db_tx_statement;

/* Reads: items_out[i] (an array of n, reset first) is statement i's item (projected), empty
 * when absent; free each with keel_db_buf_free. Writes: items_out is untouched (may be
 * NULL). KEEL_ECANCELED: a write failed its condition (an INSERT of an existing item is
 * reason "DuplicateItem", a failed WHERE "ConditionalCheckFailed"); reasons_out (an array
 * of n, may be NULL) says why for each statement, as keel_db_transact_write.
 * Refused whole before anything is read (KEEL_EVALIDATION / KEEL_ESYNTAX / KEEL_ENOTABLE,
 * the detail naming the statement): an empty or oversized list, a mix of reads and writes,
 * a SELECT that is not by one whole key, RETURNING, two statements on one item. */
KEEL_API keel_status keel_db_execute_transaction(keel_db *db, const keel_db_tx_statement *stmts,
                                                 size_t n, keel_db_buf *items_out,
                                                 keel_db_tx_reason *reasons_out);

/* ---- import and export ---------------------------------------------------------------------- */

/* DynamoDB's export format (its export to S3, "DynamoDB JSON"): one item per line,
 * {"Item": {"name": AttributeValue, ...}}, optionally gzip-compressed, so tables move
 * between keel and DynamoDB (or anything that reads its exports) both ways. */
typedef struct keel_db_io_opts {
    int gzip;                   /* export: gzip the output (import detects gzip by itself) */
    keel_progress_fn progress;  /* NULL, or called as it goes: export in items of the
                                 * table's count, import in input bytes of the file's size
                                 * (not called when reading a pipe) */
    void *progress_ctx;
    size_t batch;               /* import: items per atomic batch; 0 means 100 */
} keel_db_io_opts;

#define KEEL_DB_IO_OPTS_INIT { 0, NULL, NULL, 0 }

typedef struct keel_db_io_report {
    uint64_t items;             /* items exported, or imported (written) */
    uint64_t lines;             /* lines written or read */
    uint64_t bad_line;          /* import: the 1-based line that stopped it, 0 if none */
} keel_db_io_report;

/* Write every item of `table` to `path` ("-": standard output), replacing the file. The
 * items are those a scan sees (read-committed, not a snapshot). A regular file (or a new
 * name) is replaced only once the new one is whole and fsynced (written beside it as
 * <path>.export-<pid>-<n>, then renamed), so an error, a kill or a crash leaves the old
 * file as it was; a symlink, FIFO or device is written in place. KEEL_EINVAL when `path`
 * is the database's own file. */
KEEL_API keel_status keel_db_export(keel_db *db, const char *table, const char *path,
                                    const keel_db_io_opts *opts, keel_db_io_report *report);
/* Put the items of `path` ("-": standard input; gzip or plain) into `table`, which must
 * exist. Blank lines are skipped. Not one transaction: items are written in atomic
 * batches, and a bad line (not JSON, not {"Item": {...}}, an item DynamoDB would refuse,
 * a key not of the table's schema) stops the import with KEEL_EVALIDATION naming the
 * line in the detail and in report->bad_line: every item before it is written, it and
 * the lines after it are not. A key repeated in the file: the later line wins. */
KEEL_API keel_status keel_db_import(keel_db *db, const char *table, const char *path,
                                    const keel_db_io_opts *opts, keel_db_io_report *report);


/* ---- DynamoDB JSON ------------------------------------------------------------------------ */

/* The text form of items and values that DynamoDB's API, the AWS CLI and boto3's client use:
 * every value an AttributeValue, {"S": "text"}, {"N": "12.5"} (numbers as strings, exact),
 * {"B": "<base64>"}, {"BOOL": true}, {"NULL": true}, {"L": [...]}, {"M": {...}}, {"SS": [...]},
 * {"NS": ["1", ...]}, {"BS": ["<base64>", ...]}. Numbers come out in DynamoDB's normalized
 * text (never an exponent: 1e3 -> "1000"); B is strict RFC 4648 base64. A float32 vector
 * has no DynamoDB type and comes out as {"L": [{"N": ...}, ...]} (DynamoDB's SearchVector
 * form, each element the shortest decimal that reads back as the same float32); JSON in
 * never makes a vector. */
typedef enum keel_db_json_kind {
    KEEL_DB_JSON_ITEM = 0,  /* an item or a key: {"name": AttributeValue, ...} */
    KEEL_DB_JSON_VALUE,     /* one AttributeValue */
    KEEL_DB_JSON_VALUES,    /* ExpressionAttributeValues: {":v": AttributeValue, ...} */
    KEEL_DB_JSON_NAMES,     /* ExpressionAttributeNames: {"#n": "name", ...} */
    KEEL_DB_JSON_PARAMS     /* PartiQL Parameters: [AttributeValue, ...] -> a CBOR array
                             * (to CBOR only) */
} keel_db_json_kind;

/* Parse `json` (len bytes of UTF-8, one JSON value) as `kind` into CBOR for this API:
 * *cbor_out is malloc'd (free() it), *len_out its length. KEEL_EVALIDATION with
 * DynamoDB's message for malformed JSON, an AttributeValue with no or several types, a bad
 * number, bad base64, an empty set, duplicate set members or duplicate names; the item as
 * a whole (sizes, key attributes) is checked by the call that uses it. */
KEEL_API keel_status keel_db_json_to_cbor(keel_db_json_kind kind, const char *json,
                                          size_t len, uint8_t **cbor_out, size_t *len_out);
/* The CBOR `cbor` (an item, a key or a cursor's last key for KEEL_DB_JSON_ITEM and
 * _VALUES) as one line of JSON: *json_out is malloc'd and NUL-terminated (free() it),
 * *len_out (may be NULL) its length. Padding pairs are skipped. KEEL_EVALIDATION when
 * `cbor` is not a valid value of that kind. */
KEEL_API keel_status keel_db_json_from_cbor(keel_db_json_kind kind, const void *cbor,
                                            size_t len, char **json_out, size_t *len_out);

/* ---- secondary indexes -------------------------------------------------------------------- */

/* An index entry is the item's projection: ALL its attributes, or its keys (the table's
 * and the index's) only, or its keys and the attributes listed in `include`. */
typedef enum keel_db_projection {
    KEEL_DB_PROJECT_ALL = 0,
    KEEL_DB_PROJECT_KEYS_ONLY,
    KEEL_DB_PROJECT_INCLUDE
} keel_db_projection;

#define KEEL_DB_MAX_LSI 5u
#define KEEL_DB_MAX_GSI 20u
#define KEEL_DB_MAX_INCLUDE 100u    /* non-key attributes projected, all indexes of a table */

/* A global (local = 0) or local (local = 1) secondary index. A local index has the
 * table's partition key and its own sort key (required); a global one any partition key
 * and an optional sort key. Names: 3..255 characters of [A-Za-z0-9_.-], distinct within
 * the table. An item without the index's key attributes, or with one of another type, is
 * not in the index (the index is sparse). */
typedef struct keel_db_index_def {
    const char *name;
    int local;
    const char *pk_name;
    keel_db_keytype pk_type;
    const char *sk_name;            /* NULL: none (global indexes only) */
    keel_db_keytype sk_type;
    keel_db_projection projection;
    const char *const *include;     /* KEEL_DB_PROJECT_INCLUDE: the non-key attributes */
    size_t ninclude;
} keel_db_index_def;

/* keel_db_create_table with secondary indexes (at most 5 local and 20 global), created
 * empty with the table in one atomic append. */
KEEL_API keel_status keel_db_create_table_ex(keel_db *db, const char *name,
                                             const keel_db_schema *schema,
                                             const keel_db_index_def *indexes, size_t n);

/* UpdateTable's index updates: create a global index (backfilled) or delete an index. */
typedef struct keel_db_table_update {
    const keel_db_index_def *create_index;  /* a global index to add, or NULL */
    const char *delete_index;               /* an index to drop, or NULL */
} keel_db_table_update;

/* Add a global index: its catalog entry is written marked "creating", then its entries
 * are built from the table's items in atomic batches (writes in between keep it current),
 * then the mark is cleared; the call returns when the index is ready. A crash meanwhile
 * leaves it "creating": the next writable open restarts the backfill from the start
 * (entries already written are rewritten identically). So does a failure meanwhile (an I/O
 * error, a full disk: the call returns it), and calling keel_db_update_table again with
 * the same definition resumes the backfill at once (another definition for that name is
 * KEEL_EVALIDATION until the index is dropped). Local indexes can only be created
 * with the table (KEEL_EVALIDATION), as in DynamoDB. Dropping an index removes its catalog
 * entry and every entry of it in one atomic append. */
KEEL_API keel_status keel_db_update_table(keel_db *db, const char *table,
                                          const keel_db_table_update *u);

/* ---- TTL ---------------------------------------------------------------------------------- */

/* UpdateTimeToLive: `attribute` names the TTL attribute (NULL disables TTL). An item whose
 * TTL attribute is a number of seconds since the Unix epoch <= now is expired: from that
 * moment get_item, batch gets, transact_get, queries and scans (of the table and of its
 * indexes) no longer return it, and writes see it as absent (conditions, updates,
 * ReturnValues). Its entries stay until keel_db_reap_expired (or keel_db_compact, which
 * reaps first) deletes them. */
KEEL_API keel_status keel_db_update_ttl(keel_db *db, const char *table, const char *attribute);

/* The clock TTL reads: seconds since the Unix epoch. NULL restores time(). May be called
 * while other threads use the database (fn and ctx are stored atomically, each). */
typedef int64_t (*keel_db_clock_fn)(void *ctx);
KEEL_API void keel_db_set_clock(keel_db *db, keel_db_clock_fn fn, void *ctx);

/* Delete expired items of `table` (NULL: every table with TTL) and their index entries,
 * in atomic batches, at most `max` items (0: all). *reaped_out (may be NULL): how many. */
KEEL_API keel_status keel_db_reap_expired(keel_db *db, const char *table, uint64_t max,
                                          uint64_t *reaped_out);

/* ---- statistics --------------------------------------------------------------------------- */

typedef struct keel_db_index_info {
    char name[256];
    int local;
    int creating;                   /* being backfilled: not readable yet */
    char pk_name[256], sk_name[256];
    keel_db_keytype pk_type, sk_type;
    keel_db_projection projection;
    char include[2048];             /* INCLUDE: the attributes, NUL-separated (truncated) */
    size_t ninclude;
    uint64_t items, bytes;          /* index entries and their bytes */
} keel_db_index_info;

typedef struct keel_db_table_stats {
    uint64_t items, bytes;          /* as keel_db_describe_table */
    char ttl_attribute[256];        /* "" when TTL is disabled */
    size_t nindexes;
    keel_db_index_info indexes[KEEL_DB_MAX_LSI + KEEL_DB_MAX_GSI];
} keel_db_table_stats;

/* A table's counts, TTL attribute and indexes (local ones first, then global, each in
 * creation order). The struct is large (about 70 KB): allocate it. */
KEEL_API keel_status keel_db_get_stats(keel_db *db, const char *table,
                                         keel_db_table_stats *out);


/* ---- vector search ------------------------------------------------------------------------ */

/* A vector index (DynamoDB's VectorIndexes): the items of a table whose attribute
 * `attribute` is a float32 vector (CBOR tag 85) of exactly `dimensions` elements, searched
 * by `distance`. Scores follow DynamoDB: COSINE is 1 - cosine similarity (0..2; a stored
 * zero vector scores 1) and the k smallest come first; EUCLIDEAN is the Euclidean distance,
 * k smallest first; DOT_PRODUCT is the dot product, k largest first. Items without the
 * attribute are not in the index (it is sparse). Once an index exists, every write of its
 * attribute (put, update, batch, transaction, PartiQL) must give a float32 vector or a list
 * (L) of numbers of exactly `dimensions` elements, each in float32's range: a list is
 * stored as a float32 vector (nearest float32 of each number); anything else is
 * KEEL_EVALIDATION with DynamoDB's wording ("Invalid size for parameter v, Expected: 4,
 * Actual: 3 ..."), and nothing is written. An update checks only the attributes it
 * changes. Creating the index stores the lists of its length already there as vectors
 * (after the index's own append, in batches through the write path); items with another
 * value there stay as they are, out of the index. */
typedef enum keel_db_distance {
    KEEL_DB_COSINE = 0,
    KEEL_DB_EUCLIDEAN,
    KEEL_DB_DOT_PRODUCT
} keel_db_distance;

#define KEEL_DB_MAX_DIMENSIONS 4096u
#define KEEL_DB_MAX_TOPK 100u
#define KEEL_DB_MAX_VECTOR_INDEXES 20u  /* per table */
#define KEEL_DB_MAX_EF 4096u            /* keel_db_search_opts.ef */
#define KEEL_DB_HNSW_M 16u              /* default graph degree (M) */
#define KEEL_DB_HNSW_EF_CONSTRUCTION 200u
#define KEEL_DB_HNSW_MAX_M 128u

/* DynamoDB's SearchSchemaElementType of a vector index's search attribute. Both kinds may
 * be named in a search's condition (`=`); an index has at most one HASH attribute. */
typedef enum keel_db_search_kind {
    KEEL_DB_INLINE_FILTER = 0,
    KEEL_DB_HASH
} keel_db_search_kind;

typedef struct keel_db_vector_index_def {
    const char *name;               /* 3..255 of [A-Za-z0-9_.-], distinct within the table */
    const char *attribute;          /* the vector attribute: not a table or index key */
    uint32_t dimensions;            /* 1..4096 */
    keel_db_distance distance;
    keel_db_projection projection;  /* what a search returns of each item (default ALL) */
    const char *const *include;     /* KEEL_DB_PROJECT_INCLUDE: the non-key attributes */
    size_t ninclude;
    const char *const *filter_attributes;  /* DynamoDB's SearchSchema attributes (recorded) */
    size_t nfilter;                 /* ... each named once */
    /* Approximate search's HNSW graph: M, the links per node (2..KEEL_DB_HNSW_MAX_M; 0:
     * KEEL_DB_HNSW_M), and ef_construction, the beam while inserting (1..KEEL_DB_MAX_EF;
     * 0: KEEL_DB_HNSW_EF_CONSTRUCTION). Larger: better recall, slower inserts, more memory. */
    uint32_t m;
    uint32_t ef_construction;
    /* The SearchSchemaElementType of each filter attribute (nfilter of them; at most one
     * KEEL_DB_HASH), or NULL: all KEEL_DB_INLINE_FILTER. Stored in the catalog. */
    const keel_db_search_kind *filter_kinds;
} keel_db_vector_index_def;

/* Add a vector index to a table (m and ef_construction checked as documented above). Its
 * definition is written to the table's catalog entry in
 * one atomic append; the candidate list (the offsets of the items that have the vector) is
 * built in memory from the table's items before the call returns, kept current by every
 * write, delete and TTL reap, and rebuilt at open (it is derived data: a crash cannot make
 * it disagree with the items). The approximate search's graph is built later, by the
 * index's first search with ef > 0. KEEL_EVALIDATION for a bad definition, a name already used
 * by an index of the table, or more than KEEL_DB_MAX_VECTOR_INDEXES. */
KEEL_API keel_status keel_db_create_vector_index(keel_db *db, const char *table,
                                                 const keel_db_vector_index_def *def);
/* Remove a vector index (one atomic append: the catalog entry and tombstones for its
 * graph's checkpoint). KEEL_EVALIDATION when absent. */
KEEL_API keel_status keel_db_drop_vector_index(keel_db *db, const char *table,
                                               const char *name);

/* A table's vector indexes: up to `cap` definitions into out[] (strings point into *names_out,
 * one allocation the caller frees with free()); *n_out the number the table has. */
typedef struct keel_db_vector_index_info {
    char name[256], attribute[256];
    uint32_t dimensions;
    keel_db_distance distance;
    keel_db_projection projection;
    uint64_t items;                 /* items currently in the index */
    uint32_t m, ef_construction;    /* the graph's parameters */
    /* The approximate search's graph: KEEL_DB_GRAPH_NONE (not built: no approximate search
     * yet since open, or none possible), _LOADED (read from its checkpoint in the file at
     * open, then caught up), _BUILT (built from the items since open). */
    int graph;
    uint64_t graph_items;           /* live points in the graph */
    uint64_t graph_pending;         /* writes not yet applied (the next search applies them) */
    uint64_t graph_inserts;         /* points inserted or relinked since open */
    uint64_t graph_bytes;           /* memory the graph holds (vectors included), estimated */
} keel_db_vector_index_info;
#define KEEL_DB_GRAPH_NONE 0
#define KEEL_DB_GRAPH_LOADED 1
#define KEEL_DB_GRAPH_BUILT 2
KEEL_API keel_status keel_db_list_vector_indexes(keel_db *db, const char *table,
                                                 keel_db_vector_index_info *out, size_t cap,
                                                 size_t *n_out);

/* Options of a search. `filter` is a condition (keel's full filter expressions; DynamoDB's
 * SearchConditionExpression, `=` on filter attributes joined by AND, is a subset) applied to
 * each item; `projection` a ProjectionExpression replacing the index's projection; names
 * and values are CBOR maps as in keel_db_query.
 *
 * `ef` chooses the search: 0, exact (every item is scored); 1..KEEL_DB_MAX_EF, approximate,
 * through the index's HNSW graph with a beam of max(ef, k) (larger: better recall, slower).
 * An approximate search still scans exactly, with the same results as ef 0, when the index
 * holds fewer than 5,000 items, when a filter keeps few items (it is tried on a sample of
 * 512), or when fewer than k items pass the filter among the graph's answers; with a
 * filter that keeps a share p of the items the beam is widened to ef / p. Scores are always
 * computed from the stored vectors exactly as ef 0 computes them. The graph is built on
 * the first approximate search of an index (or loaded from its checkpoint at open), and
 * writes reach it at the next approximate search. */
typedef struct keel_db_search_opts {
    const char *filter;
    const char *projection;
    const void *names;
    size_t names_len;
    const void *values;
    size_t values_len;
    uint32_t ef;
    uint32_t threads;               /* 0: automatic (threads only for large scans); a batch
                                     * built with OpenBLAS runs on OpenBLAS's threads
                                     * (OPENBLAS_NUM_THREADS) and ignores this */
} keel_db_search_opts;

#define KEEL_DB_SEARCH_OPTS_INIT { NULL, NULL, NULL, 0, NULL, 0, 0, 0 }

/* One result: the item (its projection, a CBOR map the caller frees with keel_db_buf_free
 * or keel_db_hits_free), its score, and the stored vector in place (`vector.data` points at
 * the float32 payload in the mapping, vector.len = 4 * dimensions bytes; valid until the
 * database is closed: zero copy). When `item` is the whole stored item (no projection
 * expression, an index projecting ALL), `stored` is that item in place in the mapping (the
 * same bytes, vectors 64-byte aligned, valid until close), so a reader can decode it with
 * zero-copy vectors; otherwise stored.data is NULL and stored.len 0. */
typedef struct keel_db_hit {
    keel_db_buf item;
    float score;
    keel_view vector;
    keel_view stored;
} keel_db_hit;

/* SearchVectors: the k (1..100) nearest items of `table` to `query` (dims float32 values,
 * dims equal to the index's dimensions, all finite; under COSINE not all zero) by the
 * index's distance, best first; ties in order of storage. Items filtered out or expired
 * (TTL) are not counted. hits_out has room for k hits; *n_out (<= k) is how many were
 * found. The search reads the vectors where they lie in the mapping, with the CPU's best
 * SIMD kernels, splitting large scans across threads; it holds the store's read lock, so a
 * writer waits for it. KEEL_EVALIDATION: no such index, wrong dimensions, non-finite
 * values, k out of range; KEEL_ESYNTAX: a malformed filter or projection. */
KEEL_API keel_status keel_db_search(keel_db *db, const char *table, const char *index,
                                    const float *query, size_t dims, uint32_t k,
                                    const keel_db_search_opts *opts, keel_db_hit *hits_out,
                                    size_t *n_out);

/* Many queries at once (queries: nq rows of dims floats, row-major): the same results as nq
 * calls of keel_db_search, computed as one matrix product per chunk of stored vectors
 * (OpenBLAS sgemm when keel was built with it, else a blocked kernel that loads each stored
 * vector once per block of queries) followed by a top-k pass. hits_out has room for nq * k hits (query i's at i * k), counts_out
 * for nq counts. On error every hit is empty. */
KEEL_API keel_status keel_db_search_batch(keel_db *db, const char *table, const char *index,
                                          const float *queries, size_t nq, size_t dims,
                                          uint32_t k, const keel_db_search_opts *opts,
                                          keel_db_hit *hits_out, size_t *counts_out);

/* Free the items of n hits and zero them. */
KEEL_API void keel_db_hits_free(keel_db_hit *hits, size_t n);

/* The name of the kernels this CPU uses ("avx512", "avx2", "neon", "scalar"). */
KEEL_API const char *keel_db_vector_kernels(void);

#ifdef __cplusplus
}
#endif

#endif /* KEEL_DB_H */
