/*
 * keel_server.h: DynamoDB's JSON protocol over a keel database, as one C function.
 *
 * keel_dynamo_handle() takes what a DynamoDB request carries (the operation named by the
 * X-Amz-Target header, "DynamoDB_20120810.<Operation>", and the JSON body) and produces
 * what DynamoDB answers: an HTTP status, a JSON body and, for errors, the __type. `keel
 * serve` (tools/keel/serve.c) puts HTTP in front of it; the Python binding's in-process
 * client (keeldb.dynamodb) calls it directly. One request path serves both.
 *
 * The body is untrusted: any bytes give a response (400 with a DynamoDB error body for a
 * malformed or invalid request), never a crash. Errors follow DynamoDB: 400 with __type
 * com.amazonaws.dynamodb.v20120810#ValidationException, #ResourceNotFoundException,
 * #ResourceInUseException, #ConditionalCheckFailedException, #TransactionCanceledException,
 * com.amazon.coral.service#SerializationException (malformed JSON, wrong JSON types) and
 * #UnknownOperationException; 500 #InternalServerError for failures of the engine
 * (I/O, memory). docs/SERVER.md lists the operations and parameters.
 *
 * Threads: any number of threads may call keel_dynamo_handle on one keel_db at once.
 */
#ifndef KEEL_SERVER_H
#define KEEL_SERVER_H

#include "keel_db.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest accepted request body (DynamoDB's 16 MB; the HTTP server answers 413 beyond). */
#define KEEL_DYNAMO_MAX_BODY (16u * 1024u * 1024u)
/* Deepest accepted JSON nesting of a request body: room for an item at DynamoDB's 32
 * levels of nested maps or lists (two JSON levels each, {"M": {...}}) inside the deepest
 * envelope (BatchWriteItem's RequestItems.T[i].PutRequest.Item, 6 levels). Deeper items
 * are refused by the item checks with DynamoDB's "Nesting Levels have exceeded supported
 * limits". */
#define KEEL_DYNAMO_MAX_NESTING 96u

typedef struct keel_dynamo_options {
    const char *region;     /* for TableArn; NULL: "us-east-1" */
} keel_dynamo_options;

#define KEEL_DYNAMO_OPTIONS_INIT { NULL }

/* A response. `body` is malloc'd NUL-terminated JSON (free with keel_dynamo_response_free);
 * `type` is static text: "" on success, otherwise the full __type
 * ("com.amazonaws.dynamodb.v20120810#ValidationException"). */
typedef struct keel_dynamo_response {
    int status;             /* HTTP status: 200, 400 or 500 */
    char *body;
    size_t len;
    const char *type;
} keel_dynamo_response;

/* Handle one request: `operation` is the name after "DynamoDB_20120810." (e.g. "PutItem"),
 * `body` len bytes of JSON. Returns out->status. `out` is always filled (on allocation
 * failure body is a static 500 text that keel_dynamo_response_free knows not to free). */
KEEL_API int keel_dynamo_handle(keel_db *db, const char *operation, const char *body,
                                size_t len, keel_dynamo_response *out);
KEEL_API int keel_dynamo_handle_ex(keel_db *db, const char *operation, const char *body,
                                   size_t len, const keel_dynamo_options *opts,
                                   keel_dynamo_response *out);
/* Free a response's body and zero it. NULL is a no-op. */
KEEL_API void keel_dynamo_response_free(keel_dynamo_response *r);

#ifdef __cplusplus
}
#endif

#endif /* KEEL_SERVER_H */
