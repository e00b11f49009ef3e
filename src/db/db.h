/*
 * db.h: what the files of src/db/ share (never installed).
 *
 * The Database face (include/keel_db.h) stands on the store (store/store.h) and base/:
 * a database is a store file whose entries are table items, keyed by an order-preserving
 * key encoding, valued by CBOR items. Files:
 *
 *   number.c  DynamoDB numbers, exact: parse, normalize, compare, format, add/subtract,
 *             and their order-preserving key encoding
 *   cbor.c    the CBOR layer: bounds-checked decoding of one head (a direct switch; libcbor's
 *             stream decoder is kept as the reference), and the encoder (kdb_buf, libcbor)
 *   item.c    items: DynamoDB types of values, the stored form (vector padding),
 *             attribute lookup, deep equality and ordering; item_check.c: validation
 *             against DynamoDB's rules and limits, and sizes
 *   key.c     store keys: (table id, partition key, sort key) -> bytes whose memcmp order
 *             is DynamoDB's order, and back
 *   order.c   the ordered index: an in-memory B+tree of (key prefix, entry offset) over
 *             the keys in the mapping, rebuilt at open; Query and Scan are ranges of it
 *   expr_lex.c, expr_parse.c, expr_eval.c (private header expr.h)
 *             the expression engine: one parser and evaluator for key conditions,
 *             conditions/filters, projections and updates, over encoded items;
 *             expr_cache.c keeps writes' parsed conditions and updates
 *   update.c  update expressions (SET/REMOVE/ADD/DELETE) applied to an encoded item
 *   json.c    DynamoDB JSON <-> CBOR items (json.h; the CLI and the HTTP endpoint)
 *   db.c      open, catalog and tables, the publish hook (db_internal.h lists the rest:
 *             db_tables.c, db_write.c, db_items.c, db_tx.c, db_query.c, db_index.c,
 *             db_index_ops.c)
 *   partiql*.c  PartiQL: partiql_lex.c tokens, partiql_parse.c the statement tree,
 *             partiql_render.c the tree as DynamoDB expressions, partiql.c plans and
 *             execution (partiql.h)
 *   io.c      import and export in DynamoDB's export format (JSON lines, gzip)
 *
 * Values from disk and from callers are untrusted bytes: every decoder here checks lengths
 * before forming pointers and returns false/KEEL_EVALIDATION on malformed input, never
 * reads past the buffer it was given, and never recurses deeper than KEEL_DB_MAX_DEPTH+1.
 */
#ifndef KEEL_SRC_DB_H
#define KEEL_SRC_DB_H

#include "keel_db.h"
#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- number.c ------------------------------------------------------------------------ */

#define KDB_NUM_DIGITS 38
#define KDB_NUM_EXP_MIN (-129) /* 0.1e-129 = 1e-130, DynamoDB's smallest magnitude */
#define KDB_NUM_EXP_MAX 126    /* 0.99..9e126 = 9.99..9e125, its largest */
#define KDB_NUM_STR_MAX 176    /* longest formatted number, NUL included */
#define KDB_NUM_KEY_MAX 22     /* longest key encoding */

/* A normalized decimal: value = sign * 0.d[0] d[1] ... d[n-1] * 10^exp, with d[0] != 0 and
 * d[n-1] != 0 (no leading or trailing zeros). Zero is sign 0, n 0, exp 0. Two equal
 * numbers have equal representations, so "1e3", "1000" and 1000.0 are the same. */
typedef struct kdb_num {
    int8_t sign;
    uint8_t n;
    int16_t exp;
    uint8_t d[KDB_NUM_DIGITS];
} kdb_num;

/* DynamoDB's N text: [+-]digits[.digits][(e|E)[+-]digits] (also ".5", "5."). KEEL_EVALIDATION
 * with a detail naming the problem: not a number, more than 38 significant digits,
 * magnitude out of range. */
keel_status kdb_num_parse(const char *s, size_t len, kdb_num *out);
void kdb_num_from_i64(int64_t v, kdb_num *out);
void kdb_num_from_u64(uint64_t v, kdb_num *out);
/* A negative CBOR integer: -1 - v. */
void kdb_num_from_neg_u64(uint64_t v, kdb_num *out);
/* A bignum magnitude (big-endian bytes) with its sign; KEEL_EVALIDATION past 38 digits. */
keel_status kdb_num_from_bignum(bool negative, const uint8_t *mag, size_t len, kdb_num *out);
/* A finite double, by its shortest decimal form that round-trips (as Python's repr);
 * KEEL_EVALIDATION for NaN, infinities and out-of-range magnitudes. -0.0 gives zero. */
keel_status kdb_num_from_double(double v, kdb_num *out);
/* The number a float32 vector element stands for: the shortest decimal that reads back as
 * f (as every reading path prints it: 0.1f is 0.1, 1/3.0f is 0.33333334). Writes it into
 * buf (cap >= 32) as %g text and returns its length; f must be finite. */
size_t kdb_f32_text(float f, char *buf, size_t cap);
/* Multiply by 10^e (decimal fractions); KEEL_EVALIDATION when out of range. */
keel_status kdb_num_scale10(kdb_num *x, int64_t e);
/* Range check of a normalized number: KEEL_EVALIDATION outside DynamoDB's magnitudes. */
keel_status kdb_num_check(const kdb_num *x);
int kdb_num_cmp(const kdb_num *a, const kdb_num *b);
/* DynamoDB's text form: plain decimal, never an exponent ("1e3" -> "1000", "1e-3" ->
 * "0.001"). Returns the length written (NUL added); cap must be >= KDB_NUM_STR_MAX. */
size_t kdb_num_format(const kdb_num *x, char *buf, size_t cap);
/* Exact a + b and a - b; KEEL_EVALIDATION when the result needs more than 38 digits or
 * leaves the range (as DynamoDB refuses it). */
keel_status kdb_num_add(const kdb_num *a, const kdb_num *b, kdb_num *out);
keel_status kdb_num_sub(const kdb_num *a, const kdb_num *b, kdb_num *out);
/* The integer value when x is integral and fits; false otherwise. */
bool kdb_num_to_i64(const kdb_num *x, int64_t *out);
/* Order-preserving, self-delimiting encoding: memcmp of two encodings orders the numbers.
 * Returns the length (<= KDB_NUM_KEY_MAX). */
size_t kdb_num_key_encode(const kdb_num *x, uint8_t *out);
/* Decode one encoding at the start of p[0..len): false if malformed. *used its length. */
bool kdb_num_key_decode(const uint8_t *p, size_t len, kdb_num *out, size_t *used);

/* ---- cbor.c -------------------------------------------------------------------------- */

/* CBOR major types and simple values as kdb_val reports them (not DynamoDB types). */
typedef enum kdb_cbor_kind {
    KDB_C_UINT = 0,     /* v.u */
    KDB_C_NEGINT,       /* -1 - v.u */
    KDB_C_BYTES,        /* data, size */
    KDB_C_TEXT,         /* data, size (UTF-8 not yet checked) */
    KDB_C_ARRAY,        /* v.u elements follow */
    KDB_C_MAP,          /* v.u pairs follow */
    KDB_C_TAG,          /* v.u the tag number; the tagged value follows */
    KDB_C_FLOAT,        /* v.f (half, single or double, widened) */
    KDB_C_FALSE,
    KDB_C_TRUE,
    KDB_C_NULL,
    KDB_C_UNDEFINED
} kdb_cbor_kind;

/* One decoded CBOR head (and, for byte and text strings, their payload). */
typedef struct kdb_head {
    kdb_cbor_kind kind;
    union {
        uint64_t u;
        double f;
    } v;
    const uint8_t *data;    /* BYTES, TEXT: the payload */
    size_t size;            /* BYTES, TEXT: its length */
    size_t head_len;        /* bytes of the head (strings: head + payload) */
} kdb_head;

/* Decode the head at p[0..len). False when malformed or truncated, or for what items never
 * use: indefinite lengths, reserved simple values, break codes. */
bool kdb_cbor_head(const uint8_t *p, size_t len, kdb_head *out);
/* The same decoding through libcbor's cbor_stream_decode: the reference kdb_cbor_head is
 * tested against (tests, fuzz target), and the implementation when cbor.c is built with
 * -DKDB_CBOR_LIBCBOR. */
bool kdb_cbor_head_libcbor(const uint8_t *p, size_t len, kdb_head *out);
/* Length of the whole value at p (head and everything nested), or 0 when malformed or
 * nested deeper than `max_depth`. */
size_t kdb_cbor_skip(const uint8_t *p, size_t len, unsigned max_depth);

/* A growing output buffer for encoders. `failed` is sticky: check it once at the end. */
typedef struct kdb_buf {
    uint8_t *p;
    size_t len, cap;
    bool failed;            /* an allocation failed; the contents are not usable */
} kdb_buf;

void kdb_buf_free(kdb_buf *b);
void kdb_buf_put(kdb_buf *b, const void *data, size_t n);
/* Room for n more bytes at once (false, and b->failed, when out of memory). */
bool kdb_buf_reserve(kdb_buf *b, size_t n);
void kdb_enc_uint(kdb_buf *b, uint64_t v);
void kdb_enc_negint(kdb_buf *b, uint64_t v);  /* encodes -1 - v */
void kdb_enc_i64(kdb_buf *b, int64_t v);
void kdb_enc_bytes(kdb_buf *b, const void *data, size_t n);
void kdb_enc_text(kdb_buf *b, const char *s, size_t n);
void kdb_enc_array(kdb_buf *b, uint64_t n);
void kdb_enc_map(kdb_buf *b, uint64_t n);
void kdb_enc_tag(kdb_buf *b, uint64_t tag);
void kdb_enc_double(kdb_buf *b, double v);
void kdb_enc_bool(kdb_buf *b, bool v);
void kdb_enc_null(kdb_buf *b);
/* A number in its smallest exact form: an integer when integral and within 64 bits, else
 * a decimal fraction (tag 4) with an integer or bignum mantissa. */
void kdb_enc_num(kdb_buf *b, const kdb_num *x);

/* ---- item.c -------------------------------------------------------------------------- */

#define KDB_TAG_POS_BIGNUM 2
#define KDB_TAG_NEG_BIGNUM 3
#define KDB_TAG_DECIMAL 4
#define KDB_TAG_F32LE 85
#define KDB_TAG_SET 258

/* DynamoDB's types, plus keel's float32 vector. */
typedef enum kdb_type {
    KDB_S = 1, KDB_N, KDB_B, KDB_BOOL, KDB_NULL, KDB_L, KDB_M, KDB_SS, KDB_NS, KDB_BS, KDB_V
} kdb_type;

/* One value of an item, decoded lazily: it points into the encoded bytes. */
typedef struct kdb_val {
    kdb_type type;
    const uint8_t *p;       /* the value's encoding, tags included */
    size_t len;
    const uint8_t *data;    /* S, B: the bytes; V: the float32 payload (little-endian) */
    size_t size;            /* S, B: length; V: bytes of payload (4 * dims) */
    uint64_t count;         /* L, M, SS, NS, BS: elements (pairs for M); V: dims */
    const uint8_t *body;    /* L, M, sets: the first element's encoding */
    size_t body_len;        /* ... and the bytes up to the value's end */
    bool b;                 /* BOOL */
} kdb_val;

/* Decode the value at p[0..len) into its DynamoDB type (one level: containers are not
 * walked). False when it is not a valid item value. */
bool kdb_val_decode(const uint8_t *p, size_t len, kdb_val *out);
/* The number of an N value (or of an NS element). */
keel_status kdb_val_num(const kdb_val *v, kdb_num *out);
/* DynamoDB's name of a type: "S", "N", ..., "BS"; vectors are "V". */
const char *kdb_type_name(kdb_type t);

/* Iterate a map's pairs (padding entries skipped) or a list's / set's elements. */
typedef struct kdb_iter {
    const uint8_t *p, *end;
    uint64_t left;
    bool map;
} kdb_iter;
void kdb_iter_init(kdb_iter *it, const kdb_val *container);
/* Next element (name is NULL for lists/sets; for maps *name_out, *name_len_out are set).
 * Returns 1 with a value, 0 at the end, -1 when malformed. */
int kdb_iter_next(kdb_iter *it, const uint8_t **name_out, size_t *name_len_out, kdb_val *val);
/* A map's pairs in two steps, for readers that choose by name (projections, path
 * lookups): kdb_iter_key reads the next pair's name (padding pairs skipped; 1, 0 at the
 * end, -1 malformed or not a map) and leaves the iterator at its value, which the caller
 * then either decodes (kdb_iter_value) or steps over (kdb_iter_skip), each 1 or -1. A skip
 * checks what kdb_val_decode checks (a damaged value is still -1) except a vector's
 * payload, which kdb_val_decode scans for non-finite values (3 KB at 768 dimensions) and a
 * skip does not read. */
int kdb_iter_key(kdb_iter *it, const uint8_t **name_out, size_t *name_len_out);
int kdb_iter_value(kdb_iter *it, kdb_val *val);
int kdb_iter_skip(kdb_iter *it);

/* The whole item as a map value; false when `item` is not a map. */
bool kdb_item_open(const uint8_t *item, size_t len, kdb_val *out);
/* Whether s[0..n) is well-formed UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF). */
bool kdb_utf8_valid(const uint8_t *s, size_t n);
/* A catalog text (untrusted, from the file) copied into out[cap] as a C string: false unless
 * it is a non-empty text shorter than cap, valid UTF-8, without NUL. */
bool kdb_catalog_text(const kdb_val *v, char *out, size_t cap);
/* Top-level attribute `name`; false when absent. */
bool kdb_item_attr(const uint8_t *item, size_t len, const char *name, size_t name_len,
                   kdb_val *out);

/* Full check of an item from a caller: a map of text keys (UTF-8), valid values all the
 * way down (numbers in range, non-empty sets without duplicates, nesting <= 32, valid
 * vectors), DynamoDB's size <= 400 KB. KEEL_EVALIDATION naming the attribute path and the
 * problem. *size_out: DynamoDB's item size. */
keel_status kdb_item_check(const uint8_t *item, size_t len, size_t *size_out);
/* kdb_item_check, and *plain_out (may be NULL) true when the item's stored form
 * (kdb_item_store_form) is its own bytes: no top-level vector, no padding pair, and the
 * shortest map head; then a writer may store the bytes as they are. */
keel_status kdb_item_check_plain(const uint8_t *item, size_t len, size_t *size_out,
                                 bool *plain_out);
/* A decoded value checked as kdb_item_check checks the one-attribute item {"v": value}:
 * KEEL_OK exactly when that item passes (item_check.c), without building it. */
keel_status kdb_val_check(const kdb_val *v);
/* The stored form of a checked item: the same attributes, with a padding entry before
 * each top-level vector so that its payload lands on a 64-byte boundary when the item
 * starts on one. `out` is reset first. */
keel_status kdb_item_store_form(const uint8_t *item, size_t len, kdb_buf *out);

/* Element i of the vector v as the N value it stands for (kdb_f32_text's number), encoded
 * into buf (a CBOR float64, the double nearest that decimal, which reads back as exactly
 * it); *out points into buf. False when v is not a vector or i is past its end. */
#define KDB_VEC_ELEM_LEN 9
bool kdb_vec_elem(const kdb_val *v, uint64_t i, uint8_t buf[KDB_VEC_ELEM_LEN], kdb_val *out);

/* Deep equality as DynamoDB's "=" (numbers numerically, sets as sets, maps by name; a
 * vector equals the list of the numbers its elements stand for, kdb_vec_elem). */
bool kdb_val_equal(const kdb_val *a, const kdb_val *b);
/* Order for "<" and friends: only between two N, two S or two B values. Returns -1/0/1,
 * or 2 when the two are not comparable (the comparison is then false). */
int kdb_val_compare(const kdb_val *a, const kdb_val *b);

/* ---- key.c --------------------------------------------------------------------------- */

/* A store key: [u32 BE table id][u32 BE hash of the partition key's encoding]
 *              [partition key encoding][sort key encoding]
 * The partition key is encoded self-delimiting: N by kdb_num_key_encode, S and B escaped
 * (0x00 -> 0x00 0xFF, terminated by 0x00 0x01). The sort key, last, is S or B raw and N
 * by kdb_num_key_encode. The default (KeystoneDB) table, id KDB_TABLE_KV, has a B
 * partition key and an optional B sort key encoded 0x00 (absent) or 0x01 + bytes.
 * memcmp order of store keys is: table, partition hash, partition key, sort key, so a
 * partition is one contiguous range and its items are in DynamoDB's sort-key order. */
/* Room for the longest key: a secondary index entry's (index partition key and escaped sort
 * key, then the item's table key without its table id; db_index.c). */
#define KDB_TABLE_KEY_MAX (8 + 2 * KEEL_DB_MAX_PK + 2 + KEEL_DB_MAX_SK + KDB_NUM_KEY_MAX + 1)
#define KDB_KEY_MAX (KDB_TABLE_KEY_MAX + 2 * KEEL_DB_MAX_PK + 2 + 2 * KEEL_DB_MAX_SK + 2)
#define KDB_TABLE_CATALOG 0u    /* catalog records (one per table) */
#define KDB_TABLE_KV 1u         /* the KeystoneDB-style default table */
#define KDB_TABLE_FIRST 16u     /* the first id given to a user table */
#define KDB_TABLE_LAST 0xFFFFFFFEu /* the last id a table or index may have */

typedef struct kdb_key {
    uint8_t b[KDB_KEY_MAX];
    size_t len;
    size_t part_len;        /* bytes up to the end of the partition key (the partition prefix) */
} kdb_key;

/* Key of a table item from its key attribute values (types already checked against the
 * schema: KEEL_EVALIDATION otherwise, naming the attribute). sk NULL when the table has
 * no sort key. */
keel_status kdb_key_make(uint32_t table_id, keel_db_keytype pk_type, const kdb_val *pk,
                         keel_db_keytype sk_type, const kdb_val *sk, kdb_key *out);
/* kdb_key_make with an N key value's number given (pk_num, sk_num; NULL: decoded from the
 * value), for a key given by value (keel_db_get_item_attrs): no CBOR to write and read. */
keel_status kdb_key_make_nums(uint32_t table_id, keel_db_keytype pk_type, const kdb_val *pk,
                              const kdb_num *pk_num, keel_db_keytype sk_type, const kdb_val *sk,
                              const kdb_num *sk_num, kdb_key *out);
/* Key of a default-table item. */
keel_status kdb_key_make_kv(const void *pk, size_t pk_len, const void *sk, size_t sk_len,
                            kdb_key *out);
/* Append an encoded sort key value to a partition prefix (for Query bounds): the prefix is
 * out->b[0..out->part_len). */
keel_status kdb_key_append_sk(kdb_key *k, keel_db_keytype sk_type, const kdb_val *sk);
/* Append an index sort key value self-delimiting (S, B escaped and terminated, N as is):
 * a secondary index entry's key is not over after its sort key. `bound`: a Query bound
 * (empty S/B allowed); `terminate` false: a prefix (begins_with). */
keel_status kdb_key_append_isk(kdb_key *k, keel_db_keytype sk_type, const kdb_val *sk,
                              bool bound, bool terminate);
/* The table id of a store key; false if shorter than 8 bytes. */
bool kdb_key_table(const uint8_t *key, size_t len, uint32_t *table_out);

/* ---- order.c ------------------------------------------------------------------------- */

/* The ordered index holds one entry per item: the first 8 bytes of its store key (table
 * id and partition hash, big-endian, so integer order is memcmp order) and the offset of
 * its entry's trailer in the store file. Entries are ordered by full store key; the rest
 * of the key is read from the mapping through `key_at`. */
typedef struct kdb_oent {
    uint64_t prefix;
    uint64_t off;
} kdb_oent;

/* Where the full key of an entry lies: (pointer, length) of the store key of the entry
 * whose trailer is at `off`. The tree calls it only with offsets of entries it holds
 * (separators are exact copies of entries) and, in kdb_order_sort, of the entries given. */
typedef struct kdb_keysrc {
    const uint8_t *(*key_at)(const void *ctx, uint64_t off, size_t *len_out);
    const void *ctx;
} kdb_keysrc;

typedef struct kdb_order kdb_order;  /* opaque B+tree */

/* A position: a leaf and an index in it. Invalidated by any insert or remove. */
typedef struct kdb_opos {
    void *leaf;
    unsigned i;
} kdb_opos;

keel_status kdb_order_new(kdb_order **out);
void kdb_order_free(kdb_order *o);
/* Replace the contents with `n` entries sorted by full key (ties impossible: keys are
 * unique). O(n). */
keel_status kdb_order_build(kdb_order *o, const kdb_oent *sorted, size_t n);
/* Sort entries by full key (radix sort on the prefix, then key comparison within equal
 * prefixes). On KEEL_ENOMEM v holds the same entries in some other order. */
keel_status kdb_order_sort(kdb_oent *v, size_t n, const kdb_keysrc *src);
/* Insert the entry for `key`, or replace the offset of the entry with an equal key. */
keel_status kdb_order_put(kdb_order *o, const uint8_t *key, size_t len, uint64_t off,
                          const kdb_keysrc *src);
/* Remove the entry with an equal key; false if none. */
bool kdb_order_remove(kdb_order *o, const uint8_t *key, size_t len, const kdb_keysrc *src);
/* The first entry whose key is >= key (lower bound); false when there is none. */
bool kdb_order_seek(const kdb_order *o, const uint8_t *key, size_t len, const kdb_keysrc *src,
                    kdb_opos *pos);
/* The last entry whose key is < key; false when there is none. */
bool kdb_order_seek_before(const kdb_order *o, const uint8_t *key, size_t len,
                           const kdb_keysrc *src, kdb_opos *pos);
bool kdb_order_first(const kdb_order *o, kdb_opos *pos);
bool kdb_order_last(const kdb_order *o, kdb_opos *pos);
/* Step; false past either end. */
bool kdb_order_next(const kdb_order *o, kdb_opos *pos);
bool kdb_order_prev(const kdb_order *o, kdb_opos *pos);
kdb_oent kdb_order_get(const kdb_opos *pos);
size_t kdb_order_count(const kdb_order *o);
/* Bytes of memory the tree holds. */
size_t kdb_order_memory(const kdb_order *o);
/* Testing: make the (skip+1)-th next node allocation of any tree fail (-1: never).
 * Not thread-safe; for single-threaded tests of KEEL_ENOMEM. */
void kdb_order_fault_inject(long skip);

/* ---- expr_*.c ------------------------------------------------------------------------ */

typedef enum kdb_expr_kind {
    KDB_EXPR_CONDITION = 1,     /* ConditionExpression, FilterExpression */
    KDB_EXPR_KEY_CONDITION,     /* KeyConditionExpression */
    KDB_EXPR_PROJECTION,        /* ProjectionExpression */
    KDB_EXPR_UPDATE             /* UpdateExpression (Database, part 2) */
} kdb_expr_kind;

/* The substitutions shared by the expressions of one request: ExpressionAttributeNames
 * ("#n" -> text) and ExpressionAttributeValues (":v" -> value), both CBOR maps or NULL.
 * The parser marks which placeholders it used, so a request can reject unused ones. */
typedef struct kdb_subst {
    const uint8_t *names;
    size_t names_len;
    const uint8_t *values;
    size_t values_len;
    uint64_t names_used;        /* bit i: the i-th pair of `names` was used (first 64) */
    uint64_t values_used;
    size_t n_names, n_values;   /* pairs in each map (set by kdb_subst_init) */
} kdb_subst;

/* Check both maps (placeholders well formed: "#" or ":" then 1..254 bytes; values valid
 * item values) and count them. KEEL_EVALIDATION naming the problem. */
keel_status kdb_subst_init(kdb_subst *s, const void *names, size_t names_len,
                           const void *values, size_t values_len);
/* KEEL_EVALIDATION (DynamoDB's message) if some name or value was never used. */
keel_status kdb_subst_check_unused(const kdb_subst *s);

typedef struct kdb_expr kdb_expr;   /* a parsed expression; owns its memory */

/* Parse `text` as an expression of `kind`. KEEL_ESYNTAX with DynamoDB's "Syntax error;
 * token: \"T\", near: \"N\"" followed by keel's "(position P: unexpected ...; expected ...)"
 * for a malformed expression; KEEL_EVALIDATION for a placeholder missing from `s`, a
 * reserved word used as a name, or a function used where it is not allowed. */
keel_status kdb_expr_parse(kdb_expr_kind kind, const char *text, size_t len, kdb_subst *s,
                           kdb_expr **out);
/* After a parse of the request member `role` ("ConditionExpression", "FilterExpression",
 * ...) failed with `st`: a syntax or validation error's message starts with DynamoDB's
 * "Invalid <role>: " (unless it names its expression already); returns `st`. */
keel_status kdb_expr_role(keel_status st, const char *role);
void kdb_expr_free(kdb_expr *e);

/* A condition or filter against an item (NULL/0 for "no item": every path is missing).
 * 1 true, 0 false, -1 the item is malformed where the expression looked (a damaged file:
 * the caller reports KEEL_ECORRUPT rather than taking the item for one without the
 * attribute). */
int kdb_expr_eval(const kdb_expr *e, const uint8_t *item, size_t len);

/* The projection of an item as a new CBOR map in `out` (reset first). */
keel_status kdb_expr_project(const kdb_expr *e, const uint8_t *item, size_t len, kdb_buf *out);

/* What a key condition says, for the schema's key names. */
typedef enum kdb_skop {
    KDB_SK_ANY = 0, KDB_SK_EQ, KDB_SK_LT, KDB_SK_LE, KDB_SK_GT, KDB_SK_GE, KDB_SK_BETWEEN,
    KDB_SK_BEGINS
} kdb_skop;

typedef struct kdb_keycond {
    kdb_val pk;             /* the partition key value */
    kdb_skop op;
    kdb_val sk1, sk2;       /* operands (sk2 for BETWEEN) */
} kdb_keycond;

/* Extract the key condition: "pk = v" and at most one sort key condition, on exactly the
 * schema's key attributes. KEEL_EVALIDATION with DynamoDB's message otherwise (a condition
 * on a non-key attribute, a missing partition key equality, an operator not allowed in a
 * key condition, a value of the wrong type). */
keel_status kdb_expr_keycond(const kdb_expr *e, const char *pk_name, keel_db_keytype pk_type,
                             const char *sk_name, keel_db_keytype sk_type, kdb_keycond *out);

/* ---- update.c ------------------------------------------------------------------------ */

/* What the table's schema refuses before any item is read: an action on a key attribute
 * ("Cannot update attribute pk. This attribute is part of the key"). sk NULL or "" when
 * none. (Constant operands of the wrong type are refused by the parser.) */
keel_status kdb_update_check(const kdb_expr *e, const char *pk, const char *sk);
/* Apply an UpdateExpression to `item` (the current item, or the key map an absent item is
 * created from). Every operand reads `item` as it was. The new item, a CBOR map not yet
 * checked against the item rules (size, nesting) nor in stored form, goes to `out` (reset
 * first). KEEL_EVALIDATION with DynamoDB's message: an invalid document path, an operand
 * of the wrong type, an attribute that does not exist, a number out of range. */
keel_status kdb_update_apply(const kdb_expr *e, const uint8_t *item, size_t len, kdb_buf *out);

/* What kdb_update_apply_ex learned about its result while building it. */
typedef struct kdb_update_info {
    /* Every action names a top-level attribute, the result is too short to exceed the
     * size limit (at most KEEL_DB_MAX_ITEM / 24 bytes of CBOR), and every attribute the
     * update wrote passed the check kdb_item_check makes of an attribute (its name, and
     * kdb_val_check). When `item` is a stored one, whose other attributes passed
     * kdb_item_check when written, the result needs no other check; false: the caller
     * checks it whole (whose message names the path). */
    bool checked;
    bool plain;     /* (when checked) as kdb_item_check_plain's: no top-level vector */
} kdb_update_info;
/* kdb_update_apply, and `info` (NULL: not wanted) about the result. */
keel_status kdb_update_apply_ex(const kdb_expr *e, const uint8_t *item, size_t len, kdb_buf *out,
                                kdb_update_info *info);
/* Whether every action of update `e` only takes away (REMOVE, DELETE from a set). */
bool kdb_update_removes_only(const kdb_expr *e);
/* ReturnValues UPDATED_OLD / UPDATED_NEW: `item` projected on the update's target paths. */
keel_status kdb_update_project(const kdb_expr *e, const uint8_t *item, size_t len,
                               kdb_buf *out);

/* ---- db.c ---------------------------------------------------------------------------- */

/* Header byte 13 of a store file: what the file holds. */
#define KEEL_FILE_KIND_STORE 0u
#define KEEL_FILE_KIND_DB 1u

/* A slot for the state of a layer above (the DynamoDB handler's token cache), freed with
 * free_fn when the handle is freed. The caller serializes access. */
void *kdb_db_ext(const keel_db *db);
void kdb_db_set_ext(keel_db *db, void *p, void (*free_fn)(void *));

/* db_vschema.c: a vector index's search (filter) attributes and INCLUDE attributes, each
 * as NUL-terminated names one after another (malloc'd copies: free() them), and, when hash
 * is not NULL (256 bytes), the filter attribute that is the HASH element ("" if none).
 * KEEL_EVALIDATION when the table has no such vector index. */
keel_status kdb_vec_schema(keel_db *db, const char *table, const char *index, char **filters,
                           size_t *nfilters, char **include, size_t *ninclude, char *hash);

#endif /* KEEL_SRC_DB_H */
