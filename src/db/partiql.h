/*
 * partiql.h: DynamoDB's PartiQL, shared by partiql_parse.c (text -> statement tree, and the
 * tree -> DynamoDB expression text) and partiql.c (plans and execution). Never installed.
 *
 * PartiQL is not evaluated here. A statement compiles to DynamoDB expressions, the same
 * requests an API caller could make: its WHERE clause to a key condition, a filter or a
 * ConditionExpression, its projection to a ProjectionExpression, its SET/REMOVE clauses to
 * an UpdateExpression. Every attribute name becomes a #placeholder and every literal or
 * `?` parameter a :placeholder whose value is the literal's CBOR, so the one expression
 * parser (expr_parse.c) builds the plans and the one evaluator (expr_eval.c, update.c)
 * runs them; reserved words and quoting never reach it.
 *
 * Invariants: every node index stored in a node, an action or the statement is in range
 * (the parser only links nodes it has built); the nesting of conditions and literals is
 * bounded (KDB_PQ_MAX_NEST), so rendering and literal encoding recurse boundedly; names
 * and values are offsets into buffers the statement owns, so growing them never leaves a
 * dangling pointer.
 */
#ifndef KEEL_SRC_DB_PARTIQL_H
#define KEEL_SRC_DB_PARTIQL_H

#include "db/db_internal.h"

#define KDB_PQ_MAX_LEN 8192u        /* bytes of statement text (DynamoDB's limit) */
#define KDB_PQ_MAX_NEST 64u         /* nesting of parentheses, NOT and literals */

typedef enum kdb_pq_kind {
    KDB_PQ_SELECT = 1, KDB_PQ_INSERT, KDB_PQ_UPDATE, KDB_PQ_DELETE
} kdb_pq_kind;

typedef enum kdb_pqn_kind {
    KDB_PQN_PATH = 1,   /* pels[first..first+n) */
    KDB_PQN_VALUE,      /* vals[first] */
    KDB_PQN_CMP,        /* op: KDB_PQC_*; kids 2 */
    KDB_PQN_BETWEEN,    /* kids 3 */
    KDB_PQN_IN,         /* kids[0] IN (kids[1..n)) */
    KDB_PQN_AND,        /* n-ary */
    KDB_PQN_OR,         /* n-ary */
    KDB_PQN_NOT,        /* kids 1 */
    KDB_PQN_FUNC,       /* op: kdb_pqf; kids: the arguments */
    KDB_PQN_IS,         /* op: kdb_pqis; kids 1 (a path) */
    KDB_PQN_ARITH       /* op: '+' or '-'; kids 2 (SET values only) */
} kdb_pqn_kind;

/* Comparison operators, in the order of the text " = ", " <> ", " < ", " <= ", " > ", " >= ". */
enum { KDB_PQC_EQ = 0, KDB_PQC_NE, KDB_PQC_LT, KDB_PQC_LE, KDB_PQC_GT, KDB_PQC_GE };

typedef enum kdb_pqf {
    KDB_PQF_BEGINS = 1, KDB_PQF_CONTAINS, KDB_PQF_TYPE, KDB_PQF_SIZE, KDB_PQF_LIST_APPEND,
    KDB_PQF_SET_ADD, KDB_PQF_SET_DELETE
} kdb_pqf;

typedef enum kdb_pqis {
    KDB_PQIS_MISSING = 1, KDB_PQIS_NOT_MISSING, KDB_PQIS_NULL, KDB_PQIS_NOT_NULL
} kdb_pqis;

typedef struct kdb_pqnode {
    uint8_t kind, op;
    uint32_t pos;           /* 0-based byte offset of the node's first token */
    uint32_t first, n;
} kdb_pqnode;

typedef struct kdb_pqpel {
    size_t off;             /* name: bytes strs.p[off..off+len); index: len == UINT32_MAX */
    uint32_t len;
    uint32_t index;
} kdb_pqpel;

typedef struct kdb_pqval {
    size_t off, len;        /* CBOR of the value in vbuf */
    uint32_t param;         /* the value is exactly the param-th `?` (1-based); 0: a literal */
    bool check;             /* checked as an attribute value (kdb_item_check) when parsed */
} kdb_pqval;

typedef struct kdb_pqact {
    uint32_t path;          /* PATH node */
    uint32_t value;         /* SET: the value node; REMOVE: UINT32_MAX */
} kdb_pqact;

typedef struct kdb_pq {
    kdb_pq_kind kind;
    char table[KEEL_DB_MAX_TABLE_NAME + 1];
    char index[KEEL_DB_MAX_TABLE_NAME + 1]; /* "" when none */
    uint32_t table_pos;
    bool star;              /* SELECT * */
    uint32_t *proj;         /* SELECT: projected PATH nodes */
    uint32_t n_proj;
    bool has_where;
    uint32_t where;         /* the condition node */
    uint32_t item;          /* INSERT: the VALUE node of the item */
    kdb_pqact *acts;        /* UPDATE: SET and REMOVE actions in text order */
    uint32_t n_acts;
    int returning;          /* keel_db_return */
    int order;              /* SELECT ... ORDER BY: 0 none, 1 ASC, -1 DESC */
    uint32_t order_path;
    kdb_pqnode *nodes;
    uint32_t n_nodes, cap_nodes;
    uint32_t *kids;
    uint32_t n_kids, cap_kids;
    kdb_pqpel *pels;
    uint32_t n_pels, cap_pels;
    kdb_pqval *vals;
    uint32_t n_vals, cap_vals;
    kdb_buf strs;           /* path element names, unescaped */
    kdb_buf vbuf;           /* values, CBOR */
    uint32_t n_params;      /* `?` markers (parameters used) */
} kdb_pq;

/* ---- partiql_lex.c: tokens ---------------------------------------------------------------- */

typedef enum kdb_pqt {
    KDB_PQT_END = 0, KDB_PQT_IDENT, KDB_PQT_QIDENT, KDB_PQT_STR, KDB_PQT_NUM, KDB_PQT_LP,
    KDB_PQT_RP, KDB_PQT_LB, KDB_PQT_RB, KDB_PQT_LC, KDB_PQT_RC, KDB_PQT_LSET, KDB_PQT_RSET,
    KDB_PQT_COMMA, KDB_PQT_DOT, KDB_PQT_COLON, KDB_PQT_STAR, KDB_PQT_QMARK, KDB_PQT_EQ,
    KDB_PQT_NE, KDB_PQT_LT, KDB_PQT_LE, KDB_PQT_GT, KDB_PQT_GE, KDB_PQT_PLUS, KDB_PQT_MINUS,
    KDB_PQT_SEMI
} kdb_pqt;

typedef struct kdb_pqtok {
    kdb_pqt kind;
    uint32_t pos, len;      /* 0-based byte offset and length in the text */
} kdb_pqtok;

/* A lexer over text[0..len): `t` is the current token, `at` where the next one is sought. */
typedef struct kdb_pqlex {
    const char *text;
    size_t len;
    kdb_pqtok t;
    uint32_t at;
} kdb_pqlex;

/* Read the next token into lx->t (KDB_PQT_END at the end; `--` comments and whitespace
 * skipped). KEEL_ESYNTAX naming the position for a byte no token starts with or an
 * unterminated string or quoted identifier. */
keel_status kdb_pq_next(kdb_pqlex *lx);

/* ---- partiql_parse.c, partiql_render.c ---------------------------------------------------- */

/* Parse a statement. `params` is a CBOR array (or NULL) whose elements the `?` markers
 * take in order. KEEL_ESYNTAX "syntax error at position N: ..." for malformed text;
 * KEEL_EVALIDATION for a parameter count that does not match, a malformed parameter, or a
 * form this subset refuses. On failure *q is freed. */
keel_status kdb_pq_parse(const char *text, size_t len, const uint8_t *params, size_t params_len,
                         kdb_pq *q);
void kdb_pq_free(kdb_pq *q);

/* ---- partiql_cache.c: parsed statements by their text --------------------------------- */

typedef struct kdb_pqcache kdb_pqcache;
kdb_pqcache *kdb_pqcache_new(void);     /* NULL when out of memory (then nothing is cached) */
void kdb_pqcache_free(kdb_pqcache *c);
/* kdb_pq_parse, from db's cache when the text was parsed before: the same result and,
 * on failure, the same error. */
keel_status kdb_pq_parse_cached(keel_db *db, const char *text, size_t len,
                                const uint8_t *params, size_t params_len, kdb_pq *q);

/* A kept statement that names one item by its key (kdb_pq_cached_point): SELECT * FROM
 * table WHERE a = ? [AND b = ?], each conjunct one attribute name compared with one `?`
 * (either side), no other parameter, projection, index or ORDER BY. Whether a and b are
 * the table's key is for the caller to see against the current catalog. */
typedef struct kdb_pqpoint {
    char table[KEEL_DB_MAX_TABLE_NAME + 1];
    uint32_t n;                 /* conjuncts: 1 or 2 */
    char attr[2][256];          /* the attribute each names (NUL-terminated, no NUL inside) */
    uint32_t param[2];          /* the parameter each compares with (1-based) */
    bool check[2];              /* that parameter is checked as an attribute value */
} kdb_pqpoint;
/* True (and *out) when `text` is kept in db's cache with that shape. */
bool kdb_pq_cached_point(keel_db *db, const char *text, size_t len, kdb_pqpoint *out);

/* Placeholder maps and expression text being generated for one request. */
typedef struct kdb_pqgen {
    kdb_buf names, values;  /* CBOR pairs (no map head yet) */
    uint32_t n_names, n_values;
} kdb_pqgen;

/* Append the DynamoDB expression text of condition `id` (or of an operand, a SET value or
 * a path) to `text`, adding its placeholders to `g`. KEEL_EVALIDATION for a form DynamoDB's
 * expressions cannot say (arithmetic in a condition, a function misused), naming its
 * position. */
keel_status kdb_pq_render(const kdb_pq *q, uint32_t id, kdb_pqgen *g, kdb_buf *text);
/* A value placeholder for `cbor` in `g`, its text appended to `text`. */
void kdb_pq_render_value(kdb_pqgen *g, const uint8_t *cbor, size_t len, kdb_buf *text);
/* A NUL-terminated malloc'd copy of `b`'s bytes (NULL when out of memory). */
char *kdb_pq_text_dup(const kdb_buf *b);
/* A name placeholder for `name`, its text appended to `text`. */
void kdb_pq_render_name(kdb_pqgen *g, const char *name, size_t len, kdb_buf *text);
/* The maps of `g` as complete CBOR maps (head + pairs) in `names` and `values` (reset first);
 * an empty map comes out empty (len 0). */
void kdb_pq_gen_maps(const kdb_pqgen *g, kdb_buf *names, kdb_buf *values);
void kdb_pqgen_free(kdb_pqgen *g);

/* The children of node `n` (NULL when it has none: a PATH's and a VALUE's first/n index
 * pels and vals, not kids). */
static inline const uint32_t *kdb_pq_kids(const kdb_pq *q, const kdb_pqnode *n) {
    return n->kind == KDB_PQN_PATH || n->kind == KDB_PQN_VALUE || n->n == 0 ? NULL
                                                                          : q->kids + n->first;
}

/* The single-name path `id` as (name, len); false when it is not one. */
bool kdb_pq_simple_path(const kdb_pq *q, uint32_t id, const char **name, size_t *len);

/* ---- partiql_render.c: the WHERE clause's conjuncts, shared by SELECT and the writes ------ */

/* The top-level conjuncts of a WHERE clause (none without one; one when it is no AND). */
typedef struct kdb_pqconj {
    const uint32_t *ids;
    uint32_t n;
    uint32_t one;
} kdb_pqconj;
void kdb_pq_conjuncts(const kdb_pq *q, kdb_pqconj *c);
/* Node `id` is the single-name path `attr` (false for an empty or NULL attr). */
bool kdb_pq_names_attr(const kdb_pq *q, uint32_t id, const char *attr);
/* `attr = v` (either side): the value node, or UINT32_MAX. */
uint32_t kdb_pq_eq_value(const kdb_pq *q, uint32_t id, const char *attr);
/* Render the conjuncts not marked used, ANDed, each parenthesized. Empty: no text. */
keel_status kdb_pq_render_rest(const kdb_pq *q, const kdb_pqconj *c, const bool *used,
                               kdb_pqgen *g, kdb_buf *text);
/* A key map of table t: its partition key (and sort key, when sk) given as CBOR values. */
void kdb_pq_enc_key(kdb_buf *b, const kdb_table *t, const uint8_t *pk, size_t pk_len,
                    const uint8_t *sk, size_t sk_len);

static inline bool kdb_pq_is_value(const kdb_pq *q, uint32_t id) {
    return q->nodes[id].kind == KDB_PQN_VALUE;
}
static inline const kdb_pqval *kdb_pq_val(const kdb_pq *q, uint32_t id) {
    return &q->vals[q->nodes[id].first];
}

/* ---- partiql_write.c: statements compiled for a transaction (partiql_tx.c) ---------------------- */

/* An INSERT, UPDATE or DELETE as the write it makes: `key` holds the key map (INSERT: the
 * item), cond/upd the ConditionExpression and UpdateExpression texts (NULL: none), names
 * and values their maps (empty: none). Free with kdb_pqw_free. */
typedef struct kdb_pqw {
    kdb_pq_kind kind;
    int returning;
    kdb_buf key;
    char *cond, *upd;
    kdb_buf names, values;
} kdb_pqw;

keel_status kdb_pq_compile_write(const kdb_table *t, const kdb_pq *q, kdb_pqw *w);
void kdb_pqw_free(kdb_pqw *w);
/* A SELECT that names one item by its whole key (and nothing else in WHERE): its key map in
 * `key`, its ProjectionExpression (malloc'd, NULL for *) and names map in `names`.
 * KEEL_EVALIDATION for any other SELECT. */
keel_status kdb_pq_compile_get(keel_db *db, const kdb_table *t, const kdb_pq *q, kdb_buf *key,
                               char **projection, kdb_buf *names);

#endif /* KEEL_SRC_DB_PARTIQL_H */
