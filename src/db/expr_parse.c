/*
 * expr_parse.c: DynamoDB expressions, text -> tree (see db/expr.h for the tree).
 *
 * One lexer and one recursive-descent parser serve every kind (condition/filter, key
 * condition, projection, update); the kind only decides the top rule and a few checks.
 * DynamoDB's rules kept here: keywords (AND OR NOT BETWEEN IN SET REMOVE ADD DELETE) are
 * case-insensitive, function names are case-sensitive; a bare attribute name is
 * [A-Za-z][A-Za-z0-9_]* and must not be one of DynamoDB's 573 reserved words (any other
 * name goes through a #placeholder); placeholders are '#' or ':' then 1..254 bytes of
 * [A-Za-z0-9_]; NOT binds tighter than AND, AND tighter than OR; IN takes at most 100
 * operands; a document path has at most KEEL_DB_MAX_DEPTH elements; the text is at most
 * 4096 bytes.
 *
 * Errors: KEEL_ESYNTAX "syntax error at position N: unexpected token 'X'; expected ...",
 * where N is the 0-based byte offset of the offending token in the text (the end of the
 * text for "unexpected end of expression"); KEEL_EVALIDATION with DynamoDB's wording for
 * everything that is well formed but refused (reserved words, undefined placeholders,
 * misused functions, overlapping paths, limits).
 *
 * Untrusted input: the text is lexed once (expr_lex.c) into a token array; every later
 * array is sized from that count, so no index can run past its array. Nesting of
 * parentheses and NOT is bounded by KDB_EXPR_MAX_NEST, AND/OR chains are n-ary nodes (not
 * deep trees), so neither this parser nor the evaluator recurses deeper than a few hundred
 * frames on any input. The expression copies the text and both substitution maps: it depends on no
 * caller buffer once parsed.
 */
#include "db/expr.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- parser -------------------------------------------------------------------------------- */

typedef struct parser {
    kdb_expr *e;
    const char *text;           /* the expression's own copy */
    kdb_tok *toks;
    uint32_t i, n_toks;
    uint32_t *stack;            /* children of n-ary nodes being built (capacity n_toks) */
    uint32_t sp;
    kdb_subst *s;
    const uint8_t *names, *values;  /* the expression's copies of the maps */
    unsigned depth;
    uint32_t cap_checks;
} parser;

static kdb_tok *cur(parser *p) { return &p->toks[p->i]; }
static kdb_tok *peek(parser *p, uint32_t k) {
    return p->i + k < p->n_toks ? &p->toks[p->i + k] : &p->toks[p->n_toks];
}

/* DynamoDB's words first (the token, and "near": the text from the token before it to the
 * end of the one after it), then keel's (the byte offset and what was expected). */
static keel_status syntax(parser *p, const char *expected) {
    const kdb_tok *t = cur(p);
    uint32_t from = p->i > 0 ? p->toks[p->i - 1].pos : t->pos;
    const kdb_tok *after = t->kind == KDB_T_END ? t : peek(p, 1);
    uint32_t to = after->kind == KDB_T_END ? (t->kind == KDB_T_END ? t->pos : t->pos + t->len)
                                           : after->pos + after->len;
    while (to > from && (p->text[to - 1] == ' ' || p->text[to - 1] == '\t' ||
                         p->text[to - 1] == '\n' || p->text[to - 1] == '\r'))
        to--;
    int near = (int)(to - from > 64 ? 64 : to - from);
    if (t->kind == KDB_T_END)
        return keel__fail(KEEL_ESYNTAX, "Syntax error; token: \"<EOF>\", near: \"%.*s\" "
                          "(position %u: unexpected end of expression; expected %s)", near,
                          p->text + from, t->pos, expected);
    int tl = (int)(t->len > 64 ? 64 : t->len);
    return keel__fail(KEEL_ESYNTAX, "Syntax error; token: \"%.*s\", near: \"%.*s\" "
                      "(position %u: unexpected token '%.*s'; expected %s)", tl,
                      p->text + t->pos, near, p->text + from, t->pos, tl, p->text + t->pos,
                      expected);
}

static bool is_kw(const parser *p, const kdb_tok *t, const char *word) {
    return t->kind == KDB_T_NAME && kdb_expr_word_cmp(p->text + t->pos, t->len, word) == 0;
}

static bool is_name(const parser *p, const kdb_tok *t, const char *name) {
    return t->kind == KDB_T_NAME && t->len == strlen(name) &&
           memcmp(p->text + t->pos, name, t->len) == 0;
}

/* Grammar keywords can never be attribute names, even before the reserved-word check. */
static bool is_grammar_kw(const parser *p, const kdb_tok *t) {
    static const char *const kw[] = {"AND", "OR", "NOT", "BETWEEN", "IN",
                                     "SET", "REMOVE", "ADD", "DELETE"};
    for (size_t k = 0; k < sizeof kw / sizeof kw[0]; k++)
        if (is_kw(p, t, kw[k])) return true;
    return false;
}

static uint32_t new_node(parser *p, kdb_enode_kind kind, uint32_t pos) {
    kdb_expr *e = p->e;
    assert(e->n_nodes < p->n_toks + 1);
    uint32_t id = e->n_nodes++;
    kdb_enode *n = &e->nodes[id];
    memset(n, 0, sizeof *n);
    n->kind = (uint8_t)kind;
    n->pos = pos;
    return id;
}

/* A node whose children are the top `count` entries of the stack, in order. */
static uint32_t new_parent(parser *p, kdb_enode_kind kind, uint32_t pos, uint32_t count) {
    uint32_t id = new_node(p, kind, pos);
    kdb_expr *e = p->e;
    e->nodes[id].first = e->n_kids;
    e->nodes[id].n = count;
    memcpy(e->kids + e->n_kids, p->stack + p->sp - count, count * sizeof(uint32_t));
    e->n_kids += count;
    p->sp -= count;
    return id;
}

static void push(parser *p, uint32_t id) { p->stack[p->sp++] = id; }

static const char *func_name(kdb_enode_kind k) {
    switch (k) {
    case KDB_EN_SIZE: return "size";
    case KDB_EN_EXISTS: return "attribute_exists";
    case KDB_EN_NOT_EXISTS: return "attribute_not_exists";
    case KDB_EN_TYPE: return "attribute_type";
    case KDB_EN_BEGINS: return "begins_with";
    case KDB_EN_CONTAINS: return "contains";
    case KDB_EN_IF_NOT_EXISTS: return "if_not_exists";
    case KDB_EN_LIST_APPEND: return "list_append";
    case KDB_EN_BETWEEN: return "BETWEEN";
    case KDB_EN_IN: return "IN";
    case KDB_EN_AND: return "AND";
    case KDB_EN_OR: return "OR";
    case KDB_EN_NOT: return "NOT";
    case KDB_EN_PLUS: return "+";
    case KDB_EN_MINUS: return "-";
    default: return "?";
    }
}

/* The function a name token stands for when followed by '(' (0 when unknown). */
static kdb_enode_kind func_kind(const parser *p, const kdb_tok *t) {
    static const struct { const char *name; kdb_enode_kind kind; } f[] = {
        {"size", KDB_EN_SIZE}, {"attribute_exists", KDB_EN_EXISTS},
        {"attribute_not_exists", KDB_EN_NOT_EXISTS}, {"attribute_type", KDB_EN_TYPE},
        {"begins_with", KDB_EN_BEGINS}, {"contains", KDB_EN_CONTAINS},
        {"if_not_exists", KDB_EN_IF_NOT_EXISTS}, {"list_append", KDB_EN_LIST_APPEND},
    };
    for (size_t k = 0; k < sizeof f / sizeof f[0]; k++)
        if (is_name(p, t, f[k].name)) return f[k].kind;
    return (kdb_enode_kind)0;
}

static keel_status expect(parser *p, kdb_tkind kind, const char *expected) {
    if (cur(p)->kind != kind) return syntax(p, expected);
    p->i++;
    return KEEL_OK;
}

/* path ::= element ('.' element | '[' N ']')*, element ::= name | #placeholder */
static keel_status parse_path(parser *p, uint32_t *out) {
    kdb_expr *e = p->e;
    uint32_t id = new_node(p, KDB_EN_PATH, cur(p)->pos);
    e->nodes[id].first = e->n_pels;
    bool want_element = true;
    for (;;) {
        kdb_tok *t = cur(p);
        if (want_element) {
            kdb_epel *pel = &e->pels[e->n_pels];
            if (t->kind == KDB_T_NAME) {
                /* DynamoDB's bare names start with a letter ("_type" is its syntax error);
                 * placeholders may start with anything of [A-Za-z0-9_]. */
                if (p->text[t->pos] == '_' || is_grammar_kw(p, t))
                    return syntax(p, "an attribute name or a placeholder");
                if (kdb_expr_reserved(p->text + t->pos, t->len))
                    return keel__fail(KEEL_EVALIDATION, "Attribute name is a reserved keyword; "
                                      "reserved keyword: %.*s", (int)t->len, p->text + t->pos);
                pel->name = (const uint8_t *)p->text + t->pos;
                pel->len = t->len;
            } else if (t->kind == KDB_T_HASH) {
                uint32_t idx;
                kdb_val v;
                if (!kdb_expr_map_find(p->names, p->s ? p->s->names_len : 0, p->text + t->pos,
                                       t->len, &idx, &v) ||
                    v.type != KDB_S || v.size == 0 || v.size > UINT32_MAX)
                    return keel__fail(KEEL_EVALIDATION, "An expression attribute name used in "
                                      "the document path is not defined; attribute name: %.*s",
                                      (int)t->len, p->text + t->pos);
                if (idx < 64) p->s->names_used |= (uint64_t)1 << idx;
                pel->name = v.data;
                pel->len = (uint32_t)v.size;
            } else {
                return syntax(p, "an attribute name or a placeholder");
            }
            pel->index = 0;
            e->n_pels++;
            p->i++;
            want_element = false;
        } else if (t->kind == KDB_T_DOT) {
            p->i++;
            want_element = true;
        } else if (t->kind == KDB_T_LB) {
            p->i++;
            t = cur(p);
            if (t->kind != KDB_T_NUM) return syntax(p, "a list index");
            uint64_t v = 0;
            for (uint32_t k = 0; k < t->len; k++) {
                v = v * 10 + (uint64_t)(p->text[t->pos + k] - '0');
                if (v > INT32_MAX)
                    return keel__fail(KEEL_EVALIDATION, "List index is too large; position %u",
                                      t->pos);
            }
            kdb_epel *pel = &e->pels[e->n_pels++];
            pel->name = NULL;
            pel->len = 0;
            pel->index = (uint32_t)v;
            p->i++;
            keel_status st = expect(p, KDB_T_RB, "']'");
            if (st != KEEL_OK) return st;
        } else {
            break;
        }
        if (e->n_pels - e->nodes[id].first > KEEL_DB_MAX_DEPTH)
            return keel__fail(KEEL_EVALIDATION, "The document path has too many nesting levels; "
                              "nesting levels: %u", e->n_pels - e->nodes[id].first);
    }
    e->nodes[id].n = e->n_pels - e->nodes[id].first;
    *out = id;
    return KEEL_OK;
}

/* Record a value-dependent check (kdb_echeck) and run it now. */
static keel_status check(parser *p, kdb_echeck_kind kind, uint32_t a, uint32_t b, const char *op,
                         uint8_t flags) {
    kdb_expr *e = p->e;
    assert(e->n_checks < p->cap_checks);
    kdb_echeck *c = &e->checks[e->n_checks++];
    memset(c, 0, sizeof *c);
    c->kind = (uint8_t)kind;
    c->flags = flags;
    c->a = a;
    c->b = b;
    c->op = op;
    if (kind == KDB_CHK_REF) {
        c->pos = cur(p)->pos;
        c->len = cur(p)->len;
    }
    return kdb_expr_check(e, c, p->text, p->values, p->s && p->values ? p->s->values_len : 0,
                          p->s ? &p->s->values_used : NULL);
}

static keel_status parse_value_ref(parser *p, uint32_t *out) {
    kdb_expr *e = p->e;
    uint32_t id = new_node(p, KDB_EN_VALUE, cur(p)->pos);
    e->nodes[id].first = e->n_vals;
    memset(&e->vals[e->n_vals], 0, sizeof e->vals[0]);
    keel_status st = check(p, KDB_CHK_REF, e->n_vals++, 0, NULL, 0);
    if (st != KEEL_OK) return st;
    p->i++;
    *out = id;
    return KEEL_OK;
}

/* A value operand of an update action or function must have a type it accepts: DynamoDB
 * refuses the request up front ("Incorrect operand type for operator or function"). */
static keel_status update_operand(parser *p, uint32_t id, const char *op, bool num, bool sets,
                                  bool list) {
    return check(p, KDB_CHK_OPERAND, id, 0, op,
                 (uint8_t)((num ? 1 : 0) | (sets ? 2 : 0) | (list ? 4 : 0)));
}

static keel_status need_path(parser *p, uint32_t id, kdb_enode_kind f) {
    if (p->e->nodes[id].kind == KDB_EN_PATH) return KEEL_OK;
    return keel__fail(KEEL_EVALIDATION, "Operator or function requires a document path; "
                      "operator or function: %s", func_name(f));
}

static keel_status parse_operand(parser *p, bool update, uint32_t *out);

/* A function call: name '(' args ')'. `as_condition`: where a condition is expected. */
static keel_status parse_call(parser *p, bool update, bool as_condition, uint32_t *out) {
    kdb_tok *t = cur(p);
    kdb_enode_kind k = func_kind(p, t);
    char c0 = p->text[t->pos];
    if (k == 0 && !((c0 >= 'a' && c0 <= 'z') || (c0 >= 'A' && c0 <= 'Z')))
        return syntax(p, "a function name (a letter first)");  /* as DynamoDB: _f( */
    if (k == 0)
        return keel__fail(KEEL_EVALIDATION, "Invalid function name; function: %.*s",
                          (int)t->len, p->text + t->pos);
    bool is_cond = k == KDB_EN_EXISTS || k == KDB_EN_NOT_EXISTS || k == KDB_EN_TYPE ||
                   k == KDB_EN_BEGINS || k == KDB_EN_CONTAINS;
    bool is_update = k == KDB_EN_IF_NOT_EXISTS || k == KDB_EN_LIST_APPEND;
    if (is_cond != as_condition || (is_update && !update))
        return keel__fail(KEEL_EVALIDATION, "The function is not allowed to be used this way "
                          "in an expression; function: %s", func_name(k));
    if (p->e->kind == KDB_EXPR_UPDATE && k == KDB_EN_SIZE)
        return keel__fail(KEEL_EVALIDATION, "The function is not allowed in an update "
                          "expression; function: size");
    if (p->e->kind == KDB_EXPR_KEY_CONDITION && k != KDB_EN_BEGINS)
        return keel__fail(KEEL_EVALIDATION, "Invalid operator used in KeyConditionExpression: %s",
                          func_name(k));
    if (++p->depth > KDB_EXPR_MAX_NEST)
        return keel__fail(KEEL_EVALIDATION, "The expression is nested too deeply (more than %u "
                          "levels)", KDB_EXPR_MAX_NEST);
    uint32_t pos = t->pos;
    p->i += 2; /* name, '(' */
    unsigned want = (k == KDB_EN_EXISTS || k == KDB_EN_NOT_EXISTS || k == KDB_EN_SIZE) ? 1 : 2;
    for (unsigned a = 0; a < want; a++) {
        if (a) {
            keel_status st = expect(p, KDB_T_COMMA, "','");
            if (st != KEEL_OK) return st;
        }
        uint32_t arg;
        keel_status st = parse_operand(p, update, &arg);
        if (st != KEEL_OK) return st;
        push(p, arg);
    }
    keel_status st = expect(p, KDB_T_RP, "')'");
    if (st != KEEL_OK) return st;
    p->depth--;
    kdb_expr *e = p->e;
    uint32_t a0 = p->stack[p->sp - want];
    uint32_t a1 = want > 1 ? p->stack[p->sp - 1] : 0;
    /* attribute_type and begins_with also take a value first, as DynamoDB does (its
     * documentation says a path); a key condition still wants the key's path. */
    bool value_first = (k == KDB_EN_TYPE || k == KDB_EN_BEGINS) &&
                       e->kind != KDB_EXPR_KEY_CONDITION && e->nodes[a0].kind == KDB_EN_VALUE;
    if (k != KDB_EN_LIST_APPEND && !value_first) {
        st = need_path(p, a0, k);
        if (st != KEEL_OK) return st;
    } else if (k != KDB_EN_LIST_APPEND) {
        if (k == KDB_EN_BEGINS && (st = check(p, KDB_CHK_BEGINS, a0, 0, NULL, 0)) != KEEL_OK)
            return st;
    } else {
        if ((st = update_operand(p, a0, "list_append", false, false, true)) != KEEL_OK) return st;
        if ((st = update_operand(p, a1, "list_append", false, false, true)) != KEEL_OK) return st;
    }
    if (k == KDB_EN_TYPE && e->nodes[a1].kind != KDB_EN_VALUE)
        return keel__fail(KEEL_EVALIDATION, "Incorrect operand type for operator or function; "
                          "operator or function: attribute_type, operand: not a value");
    uint32_t id = new_parent(p, k, pos, want);   /* the type check below sets its op */
    if (k == KDB_EN_TYPE && (st = check(p, KDB_CHK_TYPE, a1, id, NULL, 0)) != KEEL_OK) return st;
    if (k == KDB_EN_BEGINS && e->nodes[a1].kind == KDB_EN_VALUE &&
        (st = check(p, KDB_CHK_BEGINS, a1, 0, NULL, 0)) != KEEL_OK)
        return st;
    *out = id;
    return KEEL_OK;
}

/* operand ::= path | :value | size(path) | (SET only) if_not_exists(...) | list_append(...) */
static keel_status parse_operand(parser *p, bool update, uint32_t *out) {
    kdb_tok *t = cur(p);
    if (t->kind == KDB_T_COLON) return parse_value_ref(p, out);
    if (t->kind == KDB_T_NAME && peek(p, 1)->kind == KDB_T_LP)
        return parse_call(p, update, false, out);
    if (t->kind == KDB_T_NAME || t->kind == KDB_T_HASH) return parse_path(p, out);
    return syntax(p, "an operand (a path, a :placeholder or size())");
}

static bool cmp_of(kdb_tkind k, kdb_ecmp *op) {
    switch (k) {
    case KDB_T_EQ: *op = KDB_CMP_EQ; return true;
    case KDB_T_NE: *op = KDB_CMP_NE; return true;
    case KDB_T_LT: *op = KDB_CMP_LT; return true;
    case KDB_T_LE: *op = KDB_CMP_LE; return true;
    case KDB_T_GT: *op = KDB_CMP_GT; return true;
    case KDB_T_GE: *op = KDB_CMP_GE; return true;
    default: return false;
    }
}

/* An ordering operand given as a value must be N, S or B (DynamoDB refuses the rest). */
static keel_status orderable(parser *p, uint32_t id, const char *op) {
    return check(p, KDB_CHK_ORDER, id, 0, op, 0);
}

static keel_status key_op(parser *p, const char *op) {
    if (p->e->kind != KDB_EXPR_KEY_CONDITION) return KEEL_OK;
    return keel__fail(KEEL_EVALIDATION, "Invalid operator used in KeyConditionExpression: %s", op);
}

static keel_status parse_or(parser *p, uint32_t *out);

/* primary ::= '(' condition ')' | function | operand (cmp operand | BETWEEN .. AND .. | IN (..)) */
static keel_status parse_primary(parser *p, uint32_t *out) {
    kdb_tok *t = cur(p);
    keel_status st;
    if (t->kind == KDB_T_LP) {
        if (++p->depth > KDB_EXPR_MAX_NEST)
            return keel__fail(KEEL_EVALIDATION, "The expression is nested too deeply (more than "
                              "%u levels)", KDB_EXPR_MAX_NEST);
        p->i++;
        st = parse_or(p, out);
        if (st != KEEL_OK) return st;
        p->depth--;
        return expect(p, KDB_T_RP, "')', AND or OR");
    }
    if (t->kind == KDB_T_NAME && peek(p, 1)->kind == KDB_T_LP) {
        kdb_enode_kind k = func_kind(p, t);
        if (k != KDB_EN_SIZE && k != KDB_EN_IF_NOT_EXISTS && k != KDB_EN_LIST_APPEND)
            return parse_call(p, false, true, out);
    }
    uint32_t left;
    st = parse_operand(p, false, &left);
    if (st != KEEL_OK) return st;
    t = cur(p);
    kdb_ecmp op;
    if (cmp_of((kdb_tkind)t->kind, &op)) {
        uint32_t pos = t->pos, right;
        p->i++;
        st = parse_operand(p, false, &right);
        if (st != KEEL_OK) return st;
        if (op == KDB_CMP_NE && (st = key_op(p, "<>")) != KEEL_OK) return st;
        if (op >= KDB_CMP_LT) {
            static const char *const names[] = {"=", "<>", "<", "<=", ">", ">="};
            if ((st = orderable(p, left, names[op])) != KEEL_OK) return st;
            if ((st = orderable(p, right, names[op])) != KEEL_OK) return st;
        }
        push(p, left);
        push(p, right);
        uint32_t id = new_parent(p, KDB_EN_CMP, pos, 2);
        p->e->nodes[id].op = (uint8_t)op;
        *out = id;
        return KEEL_OK;
    }
    if (is_kw(p, t, "BETWEEN")) {
        uint32_t pos = t->pos, lo, hi;
        p->i++;
        if ((st = parse_operand(p, false, &lo)) != KEEL_OK) return st;
        if (!is_kw(p, cur(p), "AND")) return syntax(p, "AND");
        p->i++;
        if ((st = parse_operand(p, false, &hi)) != KEEL_OK) return st;
        if ((st = orderable(p, left, "BETWEEN")) != KEEL_OK) return st;
        if ((st = orderable(p, lo, "BETWEEN")) != KEEL_OK) return st;
        if ((st = orderable(p, hi, "BETWEEN")) != KEEL_OK) return st;
        if (p->e->nodes[lo].kind == KDB_EN_VALUE && p->e->nodes[hi].kind == KDB_EN_VALUE &&
            (st = check(p, KDB_CHK_BETWEEN, lo, hi, NULL, 0)) != KEEL_OK)
            return st;
        push(p, left);
        push(p, lo);
        push(p, hi);
        *out = new_parent(p, KDB_EN_BETWEEN, pos, 3);
        return KEEL_OK;
    }
    if (is_kw(p, t, "IN")) {
        uint32_t pos = t->pos;
        if ((st = key_op(p, "IN")) != KEEL_OK) return st;
        p->i++;
        if ((st = expect(p, KDB_T_LP, "'('")) != KEEL_OK) return st;
        push(p, left);
        uint32_t count = 1;
        for (;;) {
            uint32_t v;
            if ((st = parse_operand(p, false, &v)) != KEEL_OK) return st;
            push(p, v);
            if (++count - 1 > KDB_EXPR_MAX_IN)
                return keel__fail(KEEL_EVALIDATION, "The IN operator is provided with too many "
                                  "operands; number of operands: %u", count - 1);
            if (cur(p)->kind == KDB_T_COMMA) {
                p->i++;
                continue;
            }
            if ((st = expect(p, KDB_T_RP, "',' or ')'")) != KEEL_OK) return st;
            break;
        }
        *out = new_parent(p, KDB_EN_IN, pos, count);
        return KEEL_OK;
    }
    if (p->e->nodes[left].kind == KDB_EN_SIZE)
        return keel__fail(KEEL_EVALIDATION, "The function is not allowed to be used this way in "
                          "an expression; function: size");
    return syntax(p, "a comparison operator, BETWEEN or IN");
}

/* not ::= NOT* primary (a loop, not recursion: NOT chains count toward the nesting bound) */
static keel_status parse_not(parser *p, uint32_t *out) {
    uint32_t first = p->i, nots = 0;
    while (is_kw(p, cur(p), "NOT")) {
        keel_status st = key_op(p, "NOT");
        if (st != KEEL_OK) return st;
        if (++p->depth > KDB_EXPR_MAX_NEST)
            return keel__fail(KEEL_EVALIDATION, "The expression is nested too deeply (more than "
                              "%u levels)", KDB_EXPR_MAX_NEST);
        nots++;
        p->i++;
    }
    uint32_t id;
    keel_status st = parse_primary(p, &id);
    if (st != KEEL_OK) return st;
    while (nots) {
        nots--;
        push(p, id);
        id = new_parent(p, KDB_EN_NOT, p->toks[first + nots].pos, 1);
        p->depth--;
    }
    *out = id;
    return KEEL_OK;
}

/* and ::= not (AND not)*; or ::= and (OR and)*: n-ary nodes, so long chains stay shallow. */
static keel_status parse_chain(parser *p, bool is_or, uint32_t *out) {
    uint32_t pos = cur(p)->pos, count = 0, id;
    for (;;) {
        keel_status st = is_or ? parse_chain(p, false, &id) : parse_not(p, &id);
        if (st != KEEL_OK) return st;
        push(p, id);
        count++;
        if (!is_kw(p, cur(p), is_or ? "OR" : "AND")) break;
        if (is_or && (st = key_op(p, "OR")) != KEEL_OK) return st;
        p->i++;
    }
    if (count == 1) {
        *out = p->stack[--p->sp];
        return KEEL_OK;
    }
    *out = new_parent(p, is_or ? KDB_EN_OR : KDB_EN_AND, pos, count);
    return KEEL_OK;
}

static keel_status parse_or(parser *p, uint32_t *out) { return parse_chain(p, true, out); }

/* ---- paths that overlap ------------------------------------------------------------------- */

static void path_text(const kdb_expr *e, uint32_t id, char *buf, size_t cap) {
    const kdb_enode *n = &e->nodes[id];
    size_t at = 0;
    buf[0] = 0;
    for (uint32_t k = 0; k < n->n && at < cap; k++) {
        const kdb_epel *pel = &e->pels[n->first + k];
        int w = pel->name ? snprintf(buf + at, cap - at, "%s%.*s", k ? ", " : "",
                                     (int)(pel->len > 64 ? 64 : pel->len), (const char *)pel->name)
                          : snprintf(buf + at, cap - at, "%s[%u]", k ? ", " : "", pel->index);
        if (w < 0) break;
        at += (size_t)w;
    }
}

/* DynamoDB refuses two paths of one projection (or one update) where one is a prefix of
 * the other ("overlap") or where they part at a name against an index ("conflict"). */
static keel_status check_overlaps(const kdb_expr *e, const uint32_t *ids, uint32_t n,
                                  size_t stride) {
    for (uint32_t i = 0; i < n; i++) {
        const kdb_enode *a = &e->nodes[ids[i * stride]];
        for (uint32_t j = i + 1; j < n; j++) {
            const kdb_enode *b = &e->nodes[ids[j * stride]];
            uint32_t m = a->n < b->n ? a->n : b->n, k = 0;
            bool conflict = false;
            for (; k < m; k++) {
                const kdb_epel *x = &e->pels[a->first + k], *y = &e->pels[b->first + k];
                if (!x->name != !y->name) {
                    conflict = true;
                    break;
                }
                if (x->name ? (x->len != y->len || memcmp(x->name, y->name, x->len) != 0)
                            : x->index != y->index)
                    break;
            }
            if (k < m && !conflict) continue;
            char one[512], two[512];
            path_text(e, ids[i * stride], one, sizeof one);
            path_text(e, ids[j * stride], two, sizeof two);
            return keel__fail(KEEL_EVALIDATION, "Two document paths %s with each other; must "
                              "remove or rewrite one of these paths; path one: [%s], path two: "
                              "[%s]", conflict ? "conflict" : "overlap", one, two);
        }
    }
    return KEEL_OK;
}

/* ---- top rules ------------------------------------------------------------------------------ */

static keel_status parse_projection(parser *p) {
    kdb_expr *e = p->e;
    for (;;) {
        uint32_t id;
        if (cur(p)->kind != KDB_T_NAME && cur(p)->kind != KDB_T_HASH)
            return syntax(p, "an attribute name or a placeholder");
        keel_status st = parse_path(p, &id);
        if (st != KEEL_OK) return st;
        e->paths[e->n_paths++] = id;
        if (cur(p)->kind != KDB_T_COMMA) break;
        p->i++;
    }
    if (cur(p)->kind != KDB_T_END) return syntax(p, "',' or the end of the expression");
    return check_overlaps(e, e->paths, e->n_paths, 1);
}

/* set-value ::= set-operand [('+' | '-') set-operand] */
static keel_status parse_set_value(parser *p, uint32_t *out) {
    uint32_t a, b;
    keel_status st = parse_operand(p, true, &a);
    if (st != KEEL_OK) return st;
    kdb_tok *t = cur(p);
    if (t->kind != KDB_T_PLUS && t->kind != KDB_T_MINUS) {
        *out = a;
        return KEEL_OK;
    }
    uint32_t pos = t->pos;
    kdb_enode_kind k = t->kind == KDB_T_PLUS ? KDB_EN_PLUS : KDB_EN_MINUS;
    p->i++;
    if ((st = parse_operand(p, true, &b)) != KEEL_OK) return st;
    const char *op = k == KDB_EN_PLUS ? "+" : "-";
    if ((st = update_operand(p, a, op, true, false, false)) != KEEL_OK) return st;
    if ((st = update_operand(p, b, op, true, false, false)) != KEEL_OK) return st;
    push(p, a);
    push(p, b);
    *out = new_parent(p, k, pos, 2);
    return KEEL_OK;
}

static keel_status parse_update(parser *p) {
    kdb_expr *e = p->e;
    static const char *const clause[] = {"SET", "REMOVE", "ADD", "DELETE"};
    bool seen[4] = {false, false, false, false};
    if (cur(p)->kind == KDB_T_END) return syntax(p, "SET, REMOVE, ADD or DELETE");
    while (cur(p)->kind != KDB_T_END) {
        int c = -1;
        for (int k = 0; k < 4; k++)
            if (is_kw(p, cur(p), clause[k])) c = k;
        if (c < 0)
            return syntax(p, e->n_acts ? "',', SET, REMOVE, ADD, DELETE or the end of the "
                                         "expression"
                                       : "SET, REMOVE, ADD or DELETE");
        if (seen[c])
            return keel__fail(KEEL_EVALIDATION, "The \"%s\" section can only be used once in an "
                              "update expression;", clause[c]);
        seen[c] = true;
        p->i++;
        for (;;) {
            kdb_eact *a = &e->acts[e->n_acts];
            a->kind = (uint8_t)(c + 1);
            a->value = 0;
            if (cur(p)->kind != KDB_T_NAME && cur(p)->kind != KDB_T_HASH)
                return syntax(p, "an attribute name or a placeholder");
            keel_status st = parse_path(p, &a->path);
            if (st != KEEL_OK) return st;
            if (c == 0) {
                if ((st = expect(p, KDB_T_EQ, "'='")) != KEEL_OK) return st;
                if ((st = parse_set_value(p, &a->value)) != KEEL_OK) return st;
            } else if (c >= 2) {
                if (cur(p)->kind != KDB_T_COLON) return syntax(p, "a :placeholder");
                if ((st = parse_value_ref(p, &a->value)) != KEEL_OK) return st;
                st = update_operand(p, a->value, clause[c], c == 2, true, false);
                if (st != KEEL_OK) return st;
            }
            e->n_acts++;
            if (cur(p)->kind != KDB_T_COMMA) break;
            p->i++;
        }
    }
    /* Overlap check over the targets: acts are (kind, path, value); compare their paths. */
    for (uint32_t i = 0; i < e->n_acts; i++) e->paths[i] = e->acts[i].path;
    e->n_paths = e->n_acts;
    keel_status st = check_overlaps(e, e->paths, e->n_paths, 1);
    e->n_paths = 0;
    return st;
}

keel_status kdb_expr_role(keel_status st, const char *role) {
    if (st != KEEL_ESYNTAX && st != KEEL_EVALIDATION) return st;
    const char *msg = keel_errmsg();
    /* messages that name their expression already, as DynamoDB's do */
    if (strncmp(msg, "Invalid operator used in ", 25) == 0 ||
        strncmp(msg, "Invalid KeyConditionExpression: ", 32) == 0)
        return st;
    char prefix[64];
    snprintf(prefix, sizeof prefix, "Invalid %s: ", role);
    return keel__fail_prefix(st, prefix);
}

keel_status kdb_expr_parse(kdb_expr_kind kind, const char *text, size_t len, kdb_subst *s,
                           kdb_expr **out) {
    if (!out || (!text && len)) return keel__fail(KEEL_EINVAL, "kdb_expr_parse: NULL argument");
    *out = NULL;
    if (kind < KDB_EXPR_CONDITION || kind > KDB_EXPR_UPDATE)
        return keel__fail(KEEL_EINVAL, "kdb_expr_parse: unknown expression kind %d", (int)kind);
    if (len > KDB_EXPR_MAX_LEN)
        return keel__fail(KEEL_EVALIDATION, "Expression size has exceeded the maximum allowed "
                          "size; expression size: %zu, limit: %u", len, KDB_EXPR_MAX_LEN);
    size_t names_len = s && s->names ? s->names_len : 0;
    size_t values_len = s && s->values ? s->values_len : 0;
    keel_status st = KEEL_ENOMEM;
    kdb_tok *toks = malloc((len + 1) * sizeof *toks);
    kdb_expr *e = calloc(1, sizeof *e);
    uint32_t *stack = NULL;
    if (!toks || !e) goto fail;
    e->kind = kind;
    e->blob = malloc(len + names_len + values_len + 1);
    if (!e->blob) goto fail;
    if (len) memcpy(e->blob, text, len);
    if (names_len) memcpy(e->blob + len, s->names, names_len);
    if (values_len) memcpy(e->blob + len + names_len, s->values, values_len);
    e->blob[len + names_len + values_len] = 0;

    uint32_t n_toks;
    st = kdb_expr_lex((const char *)e->blob, len, toks, &n_toks);
    if (st != KEEL_OK) goto fail;
    if (n_toks == 0) {
        st = keel__fail(KEEL_EVALIDATION, "The expression can not be empty;");
        goto fail;
    }
    uint32_t n_vals = 0;
    for (uint32_t i = 0; i < n_toks; i++) n_vals += toks[i].kind == KDB_T_COLON;
    size_t cap = (size_t)n_toks + 1;
    st = KEEL_ENOMEM;
    e->nodes = malloc(cap * sizeof *e->nodes);
    e->kids = malloc(cap * sizeof *e->kids);
    e->pels = malloc(cap * sizeof *e->pels);
    e->vals = malloc((n_vals + 1) * sizeof *e->vals);
    e->paths = malloc(cap * sizeof *e->paths);
    e->acts = kind == KDB_EXPR_UPDATE ? malloc(cap * sizeof *e->acts) : NULL;
    /* At most 4 checks per token: a BETWEEN's three operands and its bounds. */
    e->checks = malloc(4 * cap * sizeof *e->checks);
    stack = malloc(cap * sizeof *stack);
    if (!e->nodes || !e->kids || !e->pels || !e->vals || !e->paths || !stack || !e->checks ||
        (kind == KDB_EXPR_UPDATE && !e->acts))
        goto fail;

    parser p = {
        .e = e, .text = (const char *)e->blob, .toks = toks, .n_toks = n_toks,
        .stack = stack, .s = s, .cap_checks = (uint32_t)(4 * cap),
        .names = names_len ? e->blob + len : NULL,
        .values = values_len ? e->blob + len + names_len : NULL,
    };
    switch (kind) {
    case KDB_EXPR_CONDITION:
    case KDB_EXPR_KEY_CONDITION:
        st = parse_or(&p, &e->root);
        if (st == KEEL_OK && cur(&p)->kind != KDB_T_END)
            st = syntax(&p, "AND, OR or the end of the expression");
        break;
    case KDB_EXPR_PROJECTION:
        st = parse_projection(&p);
        break;
    case KDB_EXPR_UPDATE:
        st = parse_update(&p);
        break;
    }
    if (st != KEEL_OK) goto fail;
    free(toks);
    free(stack);
    *out = e;
    return KEEL_OK;
fail:
    if (st == KEEL_ENOMEM) keel__fail(KEEL_ENOMEM, "kdb_expr_parse: out of memory");
    free(stack);
    free(toks);
    kdb_expr_free(e);
    return st;
}
