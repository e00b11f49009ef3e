/*
 * expr.h: the parsed form of a DynamoDB expression, shared by expr_lex.c (tokens and
 * substitution maps), expr_parse.c (text -> tree) and expr_eval.c (tree x encoded item ->
 * result), plus update.c (update expressions applied to an item). Only those files
 * include it; the rest of src/db/ sees kdb_expr as opaque through db.h.
 *
 * A kdb_expr is a few flat arrays, all sized from the token count before parsing starts
 * (every node, path element and value stems from a distinct token, so none can overflow):
 *
 *   nodes   the tree: operands, update values and conditions; children are node indexes
 *           listed in `kids` (first, n), so no node holds a pointer
 *   pels    path elements: a name (bytes owned by the expression) or a list index
 *   vals    the :placeholders' values, decoded once, pointing into the expression's own
 *           copy of ExpressionAttributeValues (so results such as kdb_keycond live as long
 *           as the expression, not as long as the caller's buffers)
 *   acts    update actions (SET/REMOVE/ADD/DELETE), in text order; update.c applies them
 *
 * Invariants: the tree is acyclic and every index is in range (the parser only links
 * nodes it has already built); the nesting of conditions is at most KDB_EXPR_MAX_NEST, so
 * the evaluator's recursion is bounded; a path has 1..KEEL_DB_MAX_DEPTH elements.
 */
#ifndef KEEL_SRC_DB_EXPR_H
#define KEEL_SRC_DB_EXPR_H

#include "db/db.h"

#include <stdatomic.h>

#define KDB_EXPR_MAX_LEN 4096u      /* bytes of expression text (DynamoDB's 4 KB) */
#define KDB_EXPR_MAX_NEST 100u      /* nesting of parentheses, NOT and functions */
#define KDB_EXPR_MAX_IN 100u        /* operands of IN after the first */
#define KDB_EXPR_MAX_PH 255u        /* bytes of a placeholder, '#' or ':' included */

typedef enum kdb_enode_kind {
    /* operands */
    KDB_EN_PATH = 1,        /* pel_first, pel_n */
    KDB_EN_VALUE,           /* val: index into vals */
    KDB_EN_SIZE,            /* kids[0]: a PATH */
    /* update values (SET only) */
    KDB_EN_PLUS,            /* kids[0] + kids[1] */
    KDB_EN_MINUS,
    KDB_EN_IF_NOT_EXISTS,   /* kids[0] a PATH, kids[1] a value */
    KDB_EN_LIST_APPEND,     /* kids[0], kids[1] */
    /* conditions */
    KDB_EN_CMP,             /* op: kdb_ecmp; kids[0] op kids[1] */
    KDB_EN_BETWEEN,         /* kids[0] BETWEEN kids[1] AND kids[2] */
    KDB_EN_IN,              /* kids[0] IN (kids[1..n)) */
    KDB_EN_AND,             /* kids[0] AND kids[1] */
    KDB_EN_OR,
    KDB_EN_NOT,             /* kids[0] */
    KDB_EN_EXISTS,          /* attribute_exists(kids[0]) */
    KDB_EN_NOT_EXISTS,
    KDB_EN_TYPE,            /* attribute_type(kids[0], kids[1]); type: the kdb_type named */
    KDB_EN_BEGINS,          /* begins_with(kids[0], kids[1]) */
    KDB_EN_CONTAINS         /* contains(kids[0], kids[1]) */
} kdb_enode_kind;

typedef enum kdb_ecmp {
    KDB_CMP_EQ = 0, KDB_CMP_NE, KDB_CMP_LT, KDB_CMP_LE, KDB_CMP_GT, KDB_CMP_GE
} kdb_ecmp;

typedef struct kdb_enode {
    uint8_t kind;           /* kdb_enode_kind */
    uint8_t op;             /* CMP: kdb_ecmp; TYPE: kdb_type */
    uint16_t pad;
    uint32_t pos;           /* 0-based byte offset of the node's token in the text */
    uint32_t first, n;      /* PATH: pels[first..first+n); VALUE: vals[first];
                             * others: kids[first..first+n) */
} kdb_enode;

typedef struct kdb_epel {
    const uint8_t *name;    /* NULL for a list index */
    uint32_t len;
    uint32_t index;         /* list index when name is NULL */
} kdb_epel;

/* A check that depends on the values of ExpressionAttributeValues, recorded by the parser
 * in the order it makes them (each also runs then), so that a kept parse can take other
 * values (expr_bind.c): running the recorded checks in order on the new values refuses
 * them exactly where, and with the words, a fresh parse would. Everything else a parse
 * checks depends on the text and the names alone. */
typedef enum kdb_echeck_kind {
    KDB_CHK_REF = 1,        /* :placeholder at text[pos..pos+len) defined: vals[a] := it */
    KDB_CHK_OPERAND,        /* node a, if a value, of a type `op` takes (flags: 1 N, 2 sets,
                             * 4 L) */
    KDB_CHK_ORDER,          /* node a, if a value, N, S or B (operator `op`) */
    KDB_CHK_BETWEEN,        /* value nodes a and b: bounds of one type, a <= b */
    KDB_CHK_BEGINS,         /* node a, a value: S or B */
    KDB_CHK_TYPE            /* value node a names a type: nodes[b].op := that type */
} kdb_echeck_kind;

typedef struct kdb_echeck {
    uint8_t kind;           /* kdb_echeck_kind */
    uint8_t flags;
    uint32_t a, b;
    uint32_t pos, len;
    const char *op;         /* static text naming the operator, for messages */
} kdb_echeck;

typedef enum kdb_eact_kind {
    KDB_ACT_SET = 1, KDB_ACT_REMOVE, KDB_ACT_ADD, KDB_ACT_DELETE
} kdb_eact_kind;

typedef struct kdb_eact {
    uint8_t kind;           /* kdb_eact_kind */
    uint32_t path;          /* node index of the target PATH */
    uint32_t value;         /* node index of the value (SET, ADD, DELETE); unused for REMOVE */
} kdb_eact;

struct kdb_expr {
    kdb_expr_kind kind;
    uint32_t root;          /* CONDITION, KEY_CONDITION: the condition node */
    kdb_enode *nodes;
    uint32_t n_nodes;
    uint32_t *kids;
    uint32_t n_kids;
    kdb_epel *pels;
    uint32_t n_pels;
    kdb_val *vals;
    uint32_t n_vals;
    uint32_t *paths;        /* PROJECTION: the PATH node of each projected path */
    uint32_t n_paths;
    kdb_eact *acts;         /* UPDATE: actions in text order */
    uint32_t n_acts;
    kdb_echeck *checks;     /* the value-dependent checks, in parse order */
    uint32_t n_checks;
    uint8_t *blob;          /* owned copies: the text, then the names and values maps */
    atomic_uint refs;       /* 0: one owner; else owners of an expression shared through
                             * expr_cache.c (kdb_expr_free frees at the last) */
    struct kdb_expr *base;  /* a bound copy (kdb_expr_bind): the parse whose tree, paths,
                             * checks and text it borrows (one reference held); its own
                             * vals (and nodes, when a check writes them) and values copy
                             * live in its one allocation. NULL for a parse. */
};

/* ---- expr_bind.c ---- */

/* DynamoDB's picture of a value in a message: "AttributeValue: {N:5}", "AttributeValue:
 * {S:a}" (B as base64; a long value cut), NUL-terminated in buf[cap] (cap >= 256). */
void kdb_expr_value_text(const kdb_val *v, char *buf, size_t cap);
/* Run check `c` on `e` (text: the expression's; values[0..values_len): the values map,
 * NULL when none; a REF sets e->vals[c->a] and its bit in *values_used (NULL: not
 * tracked)). KEEL_EVALIDATION with the parser's message when it fails. */
keel_status kdb_expr_check(kdb_expr *e, const kdb_echeck *c, const char *text,
                           const uint8_t *values, size_t values_len, uint64_t *values_used);
/* A copy of the parse `shared` bound to another values map (the same kind, text and
 * names): its checks run in order on the new values. Takes over the caller's reference
 * to `shared` (dropped on failure). *values_used: the pairs of `values` used. */
keel_status kdb_expr_bind(kdb_expr *shared, const uint8_t *values, size_t values_len,
                          uint64_t *values_used, kdb_expr **out);

/* ---- expr_lex.c ---- */

typedef enum kdb_tkind {
    KDB_T_END = 0, KDB_T_NAME, KDB_T_HASH, KDB_T_COLON, KDB_T_NUM,
    KDB_T_LP, KDB_T_RP, KDB_T_LB, KDB_T_RB, KDB_T_COMMA, KDB_T_DOT,
    KDB_T_EQ, KDB_T_NE, KDB_T_LT, KDB_T_LE, KDB_T_GT, KDB_T_GE, KDB_T_PLUS, KDB_T_MINUS
} kdb_tkind;

typedef struct kdb_tok {
    uint8_t kind;           /* kdb_tkind */
    uint32_t pos, len;      /* 0-based byte offset and length in the text */
} kdb_tok;

/* Lex text[0..len) into toks (room for len + 1: every token takes a byte, plus KDB_T_END last).
 * KEEL_ESYNTAX at a byte no token starts with; KEEL_EVALIDATION for an overlong
 * placeholder. *n_out: tokens before KDB_T_END. */
keel_status kdb_expr_lex(const char *text, size_t len, kdb_tok *toks, uint32_t *n_out);
/* [A-Za-z0-9_] */
bool kdb_expr_word_char(int c);
/* text[0..len) against an upper-case word, ASCII case folded: <0, 0, >0 as strcmp. */
int kdb_expr_word_cmp(const char *text, size_t len, const char *word);
/* One of DynamoDB's reserved words (any case). */
bool kdb_expr_reserved(const char *text, size_t len);
/* Find `key` in the CBOR map m[0..len): 1 with its pair index and value, 0 when absent. */
int kdb_expr_map_find(const uint8_t *m, size_t len, const char *key, size_t key_len,
                      uint32_t *index_out, kdb_val *val_out);

/* ---- expr_eval.c, shared with update.c ---- */

/* Resolve the PATH node `path` in `root` (NULL: nothing resolves). False when missing.
 * A path ending at an element of a vector resolves to the number it stands for
 * (kdb_vec_elem), encoded into `elem`, where *out then points: keep `elem` alive as long
 * as *out. With `elem` NULL such a path does not resolve. */
bool kdb_expr_resolve(const kdb_expr *e, const kdb_enode *path, const kdb_val *root,
                      kdb_val *out, uint8_t *elem);
/* The same for the path's elements from..n-1, starting at `start` (the value its element
 * from-1 names; update.c finds the first element in its tree of the item). */
bool kdb_expr_resolve_from(const kdb_expr *e, const kdb_enode *path, uint32_t from,
                           const kdb_val *start, kdb_val *out, uint8_t *elem);
/* The projection of an item on the PATH nodes ids[0..n) (no two overlapping), as a new
 * CBOR map in `out` (reset first). */
keel_status kdb_expr_project_paths(const kdb_expr *e, const uint32_t *ids, uint32_t n,
                                   const uint8_t *item, size_t len, kdb_buf *out);

#endif /* KEEL_SRC_DB_EXPR_H */
