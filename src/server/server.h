/*
 * server.h: what the files of src/server/ share (never installed).
 *
 * The DynamoDB request handler (include/keel_server.h) is one dispatch (handler.c) over
 * operation families:
 *
 *   handler.c    the request: parse the body (jansson), dispatch, encode the response
 *   params.c     errors (keel statuses -> DynamoDB's), typed member getters, CBOR helpers
 *   legacy.c     the legacy parameters (KeyConditions, QueryFilter, ScanFilter, Expected,
 *                AttributesToGet, AttributeUpdates) rewritten as expressions
 *   ops_table.c  CreateTable, DeleteTable, DescribeTable, ListTables, UpdateTable, TTL
 *   ops_item.c   PutItem, GetItem, DeleteItem, UpdateItem, BatchGetItem, BatchWriteItem
 *   ops_query.c  Query, Scan (1 MB pages)
 *   ops_tx.c     TransactWriteItems, TransactGetItems
 *   ops_partiql.c  ExecuteStatement, BatchExecuteStatement, ExecuteTransaction (PartiQL)
 *   ops_vector.c   vector indexes (CreateTable, UpdateTable, DescribeTable) and SearchVectors
 *   token.c        ExecuteStatement's NextToken (sealed resume positions)
 *   idempotency.c  ClientRequestToken: the 10-minute memory of transaction tokens
 *
 * Every op gets a ksrv_req whose `in` is the request's JSON object and fills `out` (the
 * 200 response object) or calls ksrv_fail* and returns false. Request values are untrusted:
 * every member is type-checked (a wrong JSON type is a SerializationException, as
 * DynamoDB answers) before use.
 */
#ifndef KEEL_SRC_SERVER_H
#define KEEL_SRC_SERVER_H

#include "keel_server.h"
#include "db/db.h"
#include "db/json.h"

#include <jansson.h>
#include <stdbool.h>

#define KSRV_PREFIX "com.amazonaws.dynamodb.v20120810#"
#define KSRV_CORAL "com.amazon.coral.service#"

typedef struct ksrv_req {
    keel_db *db;
    json_t *in;             /* the request object (borrowed from the parse) */
    json_t *out;            /* the response object (owned) */
    const char *region;
    /* the error, when an op returns false */
    int status;
    const char *type;       /* static full __type */
    char msg[1024];
    json_t *extra;          /* members added to the error body (Item, CancellationReasons) */
    kdb_buf raw_item;       /* GetItem: "Item" as JSON text (kdb_json_write_item), when not
                             * empty, placed first in the response before r->out's members */
} ksrv_req;

/* Set the error (type is the name after '#': "ValidationException"; the prefix is added,
 * coral's for SerializationException and UnknownOperationException). Returns false. */
bool ksrv_fail(ksrv_req *r, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The error for a keel status after a failed call (keel_errmsg() is the message). */
bool ksrv_fail_status(ksrv_req *r, keel_status st, const char *table);

/* Members of an object. Absent: *out untouched and true (false with DynamoDB's "Value null
 * at ..." ValidationException when `required`). A wrong JSON type: SerializationException. */
bool ksrv_get_str(ksrv_req *r, json_t *obj, const char *name, bool required, const char **out);
bool ksrv_get_obj(ksrv_req *r, json_t *obj, const char *name, bool required, json_t **out);
bool ksrv_get_arr(ksrv_req *r, json_t *obj, const char *name, bool required, json_t **out);
bool ksrv_get_int(ksrv_req *r, json_t *obj, const char *name, long long *out, bool *present);
bool ksrv_get_bool(ksrv_req *r, json_t *obj, const char *name, bool *out);
/* TableName (a name or a table ARN). */
bool ksrv_table_name(ksrv_req *r, json_t *obj, const char **out);
/* The same check of a name given as text (a key of RequestItems); *out points into it. */
bool ksrv_check_table(ksrv_req *r, const char *name, const char **out);
/* One of `allowed` (NULL-terminated) or absent (*out = dflt). */
bool ksrv_get_enum(ksrv_req *r, json_t *obj, const char *name, const char *const *allowed,
                   const char *dflt, const char **out);

/* An item or key object as CBOR (out reset first): ValidationException on a bad value. */
bool ksrv_item_cbor(ksrv_req *r, json_t *m, kdb_buf *out);
/* CBOR item -> new JSON object; NULL after setting a 500. */
json_t *ksrv_item_json(ksrv_req *r, const uint8_t *p, size_t len);

/* ExpressionAttributeNames/Values of a request (or of a transaction action) as CBOR. */
typedef struct ksrv_exprs {
    kdb_buf names, values;
    bool has_names, has_values;
} ksrv_exprs;
bool ksrv_exprs_get(ksrv_req *r, json_t *obj, ksrv_exprs *e);
void ksrv_exprs_free(ksrv_exprs *e);

/* ReturnItemCollectionMetrics: SIZE or NONE (checked; keel returns no metrics). */
bool ksrv_metrics_mode(ksrv_req *r, json_t *obj);
/* ReturnConsumedCapacity: 0 NONE, 1 TOTAL, 2 INDEXES. */
bool ksrv_capacity_mode(ksrv_req *r, json_t *obj, int *mode);
/* A ConsumedCapacity object for `units` on `table` (read: RCU, else WCU). */
json_t *ksrv_capacity(int mode, const char *table, double units, bool read);
/* DynamoDB's units: reads per 4 KB (halved unless consistent), writes per 1 KB. */
double ksrv_read_units(size_t bytes, bool consistent);
double ksrv_write_units(size_t bytes);

/* legacy.c: rewrite legacy members of `obj` (a request or a transaction action) into
 * expressions, adding placeholders to its ExpressionAttributeNames/Values. `cond_member`
 * names the expression the legacy conditions become. */
bool ksrv_legacy_conditions(ksrv_req *r, json_t *obj, const char *legacy, const char *expr,
                            bool key_conditions);
bool ksrv_legacy_projection(ksrv_req *r, json_t *obj);
bool ksrv_legacy_updates(ksrv_req *r, json_t *obj);
/* Refuse a write that mixes legacy members (AttributeUpdates, Expected) with expressions
 * (UpdateExpression, ConditionExpression), before any rewriting, as DynamoDB does. */
bool ksrv_legacy_unmixed(ksrv_req *r, json_t *obj);

/* ops_tx.c: TransactionCanceledException from the engine's reasons (sets r->extra). */
bool ksrv_tx_canceled(ksrv_req *r, keel_db_tx_reason *reasons, size_t n);

/* idempotency.c */
#define KSRV_IDEM_SECONDS 600           /* DynamoDB's window: 10 minutes */
#define KSRV_IDEM_MAX 16384u            /* tokens remembered per database handle */
#define KSRV_IDEM_MAX_RESPONSE 65536u   /* longest response remembered */
#define KSRV_IDEM_MAX_BYTES (32u * 1024u * 1024u)  /* responses remembered, in all */
typedef enum ksrv_idem_result {
    KSRV_IDEM_NEW = 0,      /* not seen: run it, then ksrv_idem_end */
    KSRV_IDEM_DONE,         /* seen and succeeded: *resp is its response (NULL: not kept) */
    KSRV_IDEM_MISMATCH,     /* seen with another request */
    KSRV_IDEM_IN_PROGRESS,  /* seen and still running */
    KSRV_IDEM_ERROR         /* out of memory */
} ksrv_idem_result;
/* Look `token` up for operation `op` and request `req` at time `now` (seconds), taking it
 * when new; *resp (malloc'd) and *len the remembered response for DONE. */
ksrv_idem_result ksrv_idem_begin(keel_db *db, const char *op, const char *token, json_t *req,
                                 int64_t now, char **resp, size_t *len);
/* The request that took `token` ended: ok keeps it (with `out`'s body), else forgets it. */
void ksrv_idem_end(keel_db *db, const char *token, bool ok, json_t *out);
int64_t ksrv_idem_now(void);
/* ClientRequestToken of the request (1..36 characters), *token NULL when absent. */
bool ksrv_idem_token(ksrv_req *r, const char **token);
/* ksrv_idem_begin for a request: false with the error (mismatch, in progress); true with
 * *replayed when the remembered response is now r->out. */
bool ksrv_idem_enter(ksrv_req *r, const char *op, const char *token, bool *replayed);

/* ops_vector.c: VectorIndexes of CreateTable (checked before the table exists, then
 * created), VectorIndexUpdates of UpdateTable, the VectorIndexes of a TableDescription
 * (NULL when none). */
bool ksrv_vector_check(ksrv_req *r, json_t *arr);
bool ksrv_vector_create(ksrv_req *r, const char *table, json_t *arr);
bool ksrv_vector_update(ksrv_req *r, const char *table, json_t *updates);
json_t *ksrv_vector_describe(ksrv_req *r, const char *table, const char *arn);
/* An item to put into `table` as CBOR, as ksrv_item_cbor, except that a top-level
 * attribute that is the vector attribute of one of the table's vector indexes and holds
 * {"L": [{"N": ...}, ...]} of exactly that index's dimensions, every element a finite
 * float32, is stored as a float32 vector (so the index holds it). */
bool ksrv_put_cbor(ksrv_req *r, const char *table, json_t *m, kdb_buf *out);

/* token.c: a NextToken for the engine's position `pos` of statement `stmt` with parameters
 * `params` (malloc'd text, NULL when out of memory); and back: false when the token was
 * not made by this process for this statement and parameters (*pos malloc'd). */
#define KSRV_MAX_TOKEN 32768u
char *ksrv_token_seal(const uint8_t *pos, size_t len, const char *stmt, const uint8_t *params,
                      size_t plen);
bool ksrv_token_open(const char *token, const char *stmt, const uint8_t *params, size_t plen,
                     uint8_t **pos, size_t *len);

/* The ops. */
bool ksrv_create_table(ksrv_req *r);
bool ksrv_delete_table(ksrv_req *r);
bool ksrv_describe_table(ksrv_req *r);
bool ksrv_list_tables(ksrv_req *r);
bool ksrv_update_table(ksrv_req *r);
bool ksrv_describe_ttl(ksrv_req *r);
bool ksrv_update_ttl(ksrv_req *r);
bool ksrv_put_item(ksrv_req *r);
bool ksrv_get_item(ksrv_req *r);
bool ksrv_delete_item(ksrv_req *r);
bool ksrv_update_item(ksrv_req *r);
bool ksrv_batch_get(ksrv_req *r);
bool ksrv_batch_write(ksrv_req *r);
bool ksrv_query(ksrv_req *r);
bool ksrv_scan(ksrv_req *r);
bool ksrv_transact_write(ksrv_req *r);
bool ksrv_transact_get(ksrv_req *r);
bool ksrv_execute_statement(ksrv_req *r);
bool ksrv_batch_execute_statement(ksrv_req *r);
bool ksrv_execute_transaction(ksrv_req *r);
bool ksrv_search_vectors(ksrv_req *r);

#endif /* KEEL_SRC_SERVER_H */
