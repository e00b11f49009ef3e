/*
 * partiql_parse.c: DynamoDB's PartiQL subset, tokens (partiql_lex.c) -> statement tree
 * (db/partiql.h).
 *
 * Grammar (keywords case-insensitive; identifiers bare [A-Za-z_][A-Za-z0-9_$]* or
 * "double-quoted" with "" for a quote; strings 'single-quoted' with '' for a quote):
 *
 *   SELECT (* | path, ...) FROM table[."index"] [WHERE cond] [ORDER BY path [ASC|DESC]]
 *   INSERT INTO table VALUE value
 *   UPDATE table (SET path = setval | REMOVE path)... [WHERE cond] [RETURNING rv *]
 *   DELETE FROM table [WHERE cond] [RETURNING ALL OLD *]
 *   cond    ::= and (OR and)*;  and ::= not (AND not)*;  not ::= NOT not | pred
 *   pred    ::= '(' cond ')' | func(...) | operand (cmp operand | [NOT] BETWEEN operand
 *               AND operand | [NOT] IN ('(' | '[') value, ... (')' | ']') |
 *               IS [NOT] (MISSING | NULL))
 *   operand ::= path | value | SIZE(path)
 *   value   ::= 'str' | number | TRUE | FALSE | NULL | ? | {'k': value, ...} |
 *               [value, ...] | <<value, ...>>
 *   path    ::= ident ('.' ident | '[' N ']')*
 *
 * Literals are encoded to CBOR as they are parsed (numbers exactly, by number.c), so a
 * value is bytes from here on. Errors: KEEL_ESYNTAX "syntax error at position N:
 * unexpected token 'X'; expected ..." with N the 0-based byte offset (the end of the text
 * for "unexpected end of statement"); KEEL_EVALIDATION with DynamoDB's wording otherwise.
 * The text is untrusted: every read is bounded by its length, nesting by KDB_PQ_MAX_NEST.
 */
#include "db/partiql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* ---- the parser -------------------------------------------------------------------------- */

typedef struct pparser {
    kdb_pq *q;
    const char *text;
    size_t len;
    kdb_pqlex lx;           /* lx.t: the current token */
    const uint8_t *params;  /* the rest of the parameter array */
    size_t params_len;
    uint64_t params_left, params_total, params_used;
    unsigned depth;
} pparser;

static keel_status next(pparser *p) { return kdb_pq_next(&p->lx); }
static bool digit(int c) { return c >= '0' && c <= '9'; }

static keel_status syntax(pparser *p, const char *expected) {
    if (p->lx.t.kind == KDB_PQT_END)
        return keel__fail(KEEL_ESYNTAX, "syntax error at position %u: unexpected end of "
                          "statement; expected %s", p->lx.t.pos, expected);
    return keel__fail(KEEL_ESYNTAX, "syntax error at position %u: unexpected token '%.*s'; "
                      "expected %s", p->lx.t.pos, (int)(p->lx.t.len > 64 ? 64 : p->lx.t.len),
                      p->text + p->lx.t.pos, expected);
}

static bool kw(const pparser *p, const char *word) {
    if (p->lx.t.kind != KDB_PQT_IDENT || strlen(word) != p->lx.t.len) return false;
    for (uint32_t i = 0; i < p->lx.t.len; i++) {
        char c = p->text[p->lx.t.pos + i];
        if (c >= 'a' && c <= 'z') c = (char)(c - 32);
        if (c != word[i]) return false;
    }
    return true;
}

static bool is_keyword(const pparser *p) {
    static const char *const words[] = {
        "SELECT", "FROM", "WHERE", "INSERT", "INTO", "VALUE", "UPDATE", "SET", "REMOVE",
        "DELETE", "RETURNING", "AND", "OR", "NOT", "BETWEEN", "IN", "IS", "MISSING", "NULL",
        "TRUE", "FALSE", "ORDER", "BY", "ASC", "DESC", "VALUES"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (kw(p, words[i])) return true;
    return false;
}

static keel_status expect(pparser *p, kdb_pqt k, const char *expected) {
    if (p->lx.t.kind != k) return syntax(p, expected);
    return next(p);
}

static keel_status expect_kw(pparser *p, const char *word) {
    if (!kw(p, word)) return syntax(p, word);
    return next(p);
}

static keel_status nest(pparser *p) {
    if (++p->depth > KDB_PQ_MAX_NEST)
        return keel__fail(KEEL_EVALIDATION, "The statement is nested too deeply (more than %u "
                          "levels) at position %u", KDB_PQ_MAX_NEST, p->lx.t.pos);
    return KEEL_OK;
}

/* ---- tree building -------------------------------------------------------------------------- */

#define GROW(arr, n, cap)                                                                   \
    ((n) < (cap) ? true : grow((void **)&(arr), &(cap), sizeof *(arr)))

static bool grow(void **arr, uint32_t *cap, size_t elem) {
    uint32_t nc = *cap ? *cap * 2 : 16;
    if (nc > (1u << 24)) return false;
    void *a = realloc(*arr, (size_t)nc * elem);
    if (!a) return false;
    *arr = a;
    *cap = nc;
    return true;
}

static keel_status oom(void) { return keel__fail(KEEL_ENOMEM, "parsing a PartiQL statement"); }

static keel_status new_node(pparser *p, kdb_pqn_kind kind, uint8_t op, uint32_t pos,
                            const uint32_t *kids, uint32_t n, uint32_t *out) {
    kdb_pq *q = p->q;
    if (!GROW(q->nodes, q->n_nodes, q->cap_nodes)) return oom();
    while (q->n_kids + n > q->cap_kids)
        if (!grow((void **)&q->kids, &q->cap_kids, sizeof *q->kids)) return oom();
    kdb_pqnode *nd = &q->nodes[q->n_nodes];
    nd->kind = (uint8_t)kind;
    nd->op = op;
    nd->pos = pos;
    nd->first = q->n_kids;
    nd->n = n;
    if (n) memcpy(q->kids + q->n_kids, kids, n * sizeof *kids);
    q->n_kids += n;
    *out = q->n_nodes++;
    return KEEL_OK;
}

/* A growing list of node ids (children being collected). */
typedef struct idlist {
    uint32_t *v;
    uint32_t n, cap;
} idlist;

static bool ids_push(idlist *l, uint32_t id) {
    if (!GROW(l->v, l->n, l->cap)) return false;
    l->v[l->n++] = id;
    return true;
}

/* ---- values ----------------------------------------------------------------------------------- */

static keel_status parse_literal(pparser *p, kdb_buf *out);

/* The unescaped text of a quoted token (quotes dropped, doubled quotes single). */
static void unquote(const pparser *p, kdb_buf *out) {
    const char *s = p->text + p->lx.t.pos + 1;
    size_t n = p->lx.t.len - 2;
    for (size_t i = 0; i < n; i++) {
        kdb_buf_put(out, s + i, 1);
        if (s[i] == p->text[p->lx.t.pos] && i + 1 < n) i++;
    }
}

static keel_status literal_list(pparser *p, kdb_pqt close, const char *what, kdb_buf *out,
                                uint64_t *count, bool map) {
    *count = 0;
    keel_status st;
    if (p->lx.t.kind == close) return next(p);
    for (;;) {
        if (map) {
            if (p->lx.t.kind != KDB_PQT_STR) return syntax(p, "a 'string' attribute name");
            kdb_buf name = {0};
            unquote(p, &name);
            kdb_enc_text(out, name.p ? (const char *)name.p : "", name.len);
            kdb_buf_free(&name);
            if ((st = next(p)) != KEEL_OK) return st;
            if ((st = expect(p, KDB_PQT_COLON, "':'")) != KEEL_OK) return st;
        }
        if ((st = parse_literal(p, out)) != KEEL_OK) return st;
        (*count)++;
        if (p->lx.t.kind == KDB_PQT_COMMA) {
            if ((st = next(p)) != KEEL_OK) return st;
            continue;
        }
        return expect(p, close, what);
    }
}

/* One literal (or `?`), encoded as CBOR onto `out`. */
static keel_status parse_literal(pparser *p, kdb_buf *out) {
    keel_status st;
    uint32_t pos = p->lx.t.pos;
    switch (p->lx.t.kind) {
    case KDB_PQT_STR: {
        kdb_buf s = {0};
        unquote(p, &s);
        kdb_enc_text(out, s.p ? (const char *)s.p : "", s.len);
        kdb_buf_free(&s);
        return next(p);
    }
    case KDB_PQT_MINUS:
    case KDB_PQT_NUM: {
        bool neg = p->lx.t.kind == KDB_PQT_MINUS;
        if (neg && ((st = next(p)) != KEEL_OK || p->lx.t.kind != KDB_PQT_NUM))
            return st != KEEL_OK ? st : syntax(p, "a number");
        char buf[512];
        if (p->lx.t.len + 2 > sizeof buf)
            return keel__fail(KEEL_EVALIDATION, "The number at position %u is too long", pos);
        snprintf(buf, sizeof buf, "%s%.*s", neg ? "-" : "", (int)p->lx.t.len, p->text + p->lx.t.pos);
        kdb_num x;
        if ((st = kdb_num_parse(buf, strlen(buf), &x)) != KEEL_OK) {
            char detail[300];
            snprintf(detail, sizeof detail, "%s", keel_errmsg());
            return keel__fail(st, "the number at position %u: %s", pos, detail);
        }
        kdb_enc_num(out, &x);
        return next(p);
    }
    case KDB_PQT_QMARK: {
        if (p->params_left == 0)
            return keel__fail(KEEL_EVALIDATION, "Number of parameters in request and statement "
                              "don't match: the statement has more than %llu",
                              (unsigned long long)p->params_total);
        size_t n = kdb_cbor_skip(p->params, p->params_len, KEEL_DB_MAX_DEPTH + 2);
        kdb_val v;
        if (n == 0 || !kdb_val_decode(p->params, n, &v))
            return keel__fail(KEEL_EVALIDATION, "parameter %llu is not a valid attribute value",
                              (unsigned long long)p->params_used + 1);
        kdb_buf_put(out, p->params, n);
        p->params += n;
        p->params_len -= n;
        p->params_left--;
        p->params_used++;
        return next(p);
    }
    case KDB_PQT_LC:
    case KDB_PQT_LB:
    case KDB_PQT_LSET: {
        kdb_pqt open = p->lx.t.kind;
        if ((st = nest(p)) != KEEL_OK || (st = next(p)) != KEEL_OK) return st;
        kdb_buf inner = {0};
        uint64_t count;
        st = open == KDB_PQT_LC ? literal_list(p, KDB_PQT_RC, "',' or '}'", &inner, &count, true)
           : open == KDB_PQT_LB ? literal_list(p, KDB_PQT_RB, "',' or ']'", &inner, &count, false)
                          : literal_list(p, KDB_PQT_RSET, "',' or '>>'", &inner, &count, false);
        if (st == KEEL_OK && open == KDB_PQT_LSET && count == 0)
            st = keel__fail(KEEL_EVALIDATION, "An empty set is not a valid value (position %u)",
                            pos);
        if (st == KEEL_OK) {
            if (open == KDB_PQT_LC) kdb_enc_map(out, count);
            else if (open == KDB_PQT_LB) kdb_enc_array(out, count);
            else kdb_enc_tag(out, KDB_TAG_SET), kdb_enc_array(out, count);
            if (inner.len) kdb_buf_put(out, inner.p, inner.len);
            if (inner.failed) out->failed = true;
        }
        kdb_buf_free(&inner);
        p->depth--;
        return st;
    }
    case KDB_PQT_IDENT:
        if (kw(p, "TRUE") || kw(p, "FALSE")) {
            kdb_enc_bool(out, kw(p, "TRUE"));
            return next(p);
        }
        if (kw(p, "NULL")) {
            kdb_enc_null(out);
            return next(p);
        }
        /* fall through */
    default:
        return syntax(p, "a value");
    }
}

static bool starts_literal(const pparser *p) {
    kdb_pqt k = p->lx.t.kind;
    return k == KDB_PQT_STR || k == KDB_PQT_NUM || k == KDB_PQT_MINUS || k == KDB_PQT_QMARK || k == KDB_PQT_LC || k == KDB_PQT_LB ||
           k == KDB_PQT_LSET || kw(p, "TRUE") || kw(p, "FALSE") || kw(p, "NULL");
}

/* A literal operand as a VALUE node. Unless it is an INSERT's item (the put checks that),
 * it is checked here as DynamoDB checks a value (UTF-8, numbers, sets, sizes), so a bad
 * one is refused before anything is read, naming its position. */
static keel_status value_node(pparser *p, bool check, uint32_t *out) {
    kdb_pq *q = p->q;
    uint32_t pos = p->lx.t.pos;
    size_t off = q->vbuf.len;
    bool qmark = p->lx.t.kind == KDB_PQT_QMARK;
    uint64_t param = p->params_used + 1;
    keel_status st = parse_literal(p, &q->vbuf);
    if (st != KEEL_OK) return st;
    if (q->vbuf.failed) return oom();
    if (check) {
        kdb_buf m = {0};
        size_t size;
        kdb_enc_map(&m, 1);
        kdb_enc_text(&m, "v", 1);
        kdb_buf_put(&m, q->vbuf.p + off, q->vbuf.len - off);
        st = m.failed ? oom() : kdb_item_check(m.p, m.len, &size);
        kdb_buf_free(&m);
        if (st == KEEL_EVALIDATION) {
            char detail[300];
            snprintf(detail, sizeof detail, "%s", keel_errmsg());
            return keel__fail(st, "The value at position %u is invalid: %s", pos, detail);
        }
        if (st != KEEL_OK) return st;
    }
    if (!GROW(q->vals, q->n_vals, q->cap_vals)) return oom();
    q->vals[q->n_vals].off = off;
    q->vals[q->n_vals].len = q->vbuf.len - off;
    q->vals[q->n_vals].param = qmark ? (uint32_t)param : 0;  /* for partiql_cache.c */
    q->vals[q->n_vals].check = check;
    if ((st = new_node(p, KDB_PQN_VALUE, 0, pos, NULL, 0, out)) != KEEL_OK) return st;
    q->nodes[*out].first = q->n_vals++;
    return KEEL_OK;
}

/* ---- paths and operands ------------------------------------------------------------------ */

static keel_status add_name_pel(pparser *p) {
    kdb_pq *q = p->q;
    if (!GROW(q->pels, q->n_pels, q->cap_pels)) return oom();
    kdb_pqpel *pel = &q->pels[q->n_pels];
    pel->off = q->strs.len;
    if (p->lx.t.kind == KDB_PQT_QIDENT) unquote(p, &q->strs);
    else kdb_buf_put(&q->strs, p->text + p->lx.t.pos, p->lx.t.len);
    if (q->strs.failed) return oom();
    pel->len = (uint32_t)(q->strs.len - pel->off);
    pel->index = 0;
    if (pel->len == 0)
        return keel__fail(KEEL_EVALIDATION, "An attribute name at position %u is empty",
                          p->lx.t.pos);
    /* The name must be UTF-8, as an item's: checked by the item checker on {name: null}. */
    kdb_buf m = {0};
    size_t size;
    kdb_enc_map(&m, 1);
    kdb_enc_text(&m, (const char *)q->strs.p + pel->off, pel->len);
    kdb_enc_null(&m);
    keel_status st = m.failed ? oom() : kdb_item_check(m.p, m.len, &size);
    kdb_buf_free(&m);
    if (st == KEEL_EVALIDATION)
        return keel__fail(st, "The attribute name at position %u is not valid UTF-8 or too long",
                          p->lx.t.pos);
    if (st != KEEL_OK) return st;
    q->n_pels++;
    return next(p);
}

static keel_status parse_path(pparser *p, uint32_t *out) {
    kdb_pq *q = p->q;
    uint32_t pos = p->lx.t.pos, first = q->n_pels;
    keel_status st;
    if (p->lx.t.kind != KDB_PQT_QIDENT && (p->lx.t.kind != KDB_PQT_IDENT || is_keyword(p)))
        return syntax(p, "an attribute name");
    if ((st = add_name_pel(p)) != KEEL_OK) return st;
    for (;;) {
        if (p->lx.t.kind == KDB_PQT_DOT) {
            if ((st = next(p)) != KEEL_OK) return st;
            if (p->lx.t.kind != KDB_PQT_QIDENT && p->lx.t.kind != KDB_PQT_IDENT) return syntax(p, "an attribute name");
            if ((st = add_name_pel(p)) != KEEL_OK) return st;
        } else if (p->lx.t.kind == KDB_PQT_LB) {
            if ((st = next(p)) != KEEL_OK) return st;
            if (p->lx.t.kind != KDB_PQT_NUM) return syntax(p, "a list index");
            uint64_t v = 0;
            for (uint32_t k = 0; k < p->lx.t.len; k++) {
                char c = p->text[p->lx.t.pos + k];
                if (!digit((unsigned char)c)) return syntax(p, "a list index");
                v = v * 10 + (uint64_t)(c - '0');
                if (v > INT32_MAX)
                    return keel__fail(KEEL_EVALIDATION, "List index is too large; position %u",
                                      p->lx.t.pos);
            }
            if (!GROW(q->pels, q->n_pels, q->cap_pels)) return oom();
            q->pels[q->n_pels++] = (kdb_pqpel){0, UINT32_MAX, (uint32_t)v};
            if ((st = next(p)) != KEEL_OK || (st = expect(p, KDB_PQT_RB, "']'")) != KEEL_OK) return st;
        } else {
            break;
        }
        if (q->n_pels - first > KEEL_DB_MAX_DEPTH)
            return keel__fail(KEEL_EVALIDATION, "The document path at position %u has too many "
                              "nesting levels", pos);
    }
    if ((st = new_node(p, KDB_PQN_PATH, 0, pos, NULL, 0, out)) != KEEL_OK) return st;
    q->nodes[*out].first = first;
    q->nodes[*out].n = q->n_pels - first;
    return KEEL_OK;
}

static const struct { const char *name; kdb_pqf f; unsigned args; } funcs[] = {
    {"BEGINS_WITH", KDB_PQF_BEGINS, 2}, {"CONTAINS", KDB_PQF_CONTAINS, 2},
    {"ATTRIBUTE_TYPE", KDB_PQF_TYPE, 2}, {"SIZE", KDB_PQF_SIZE, 1},
    {"LIST_APPEND", KDB_PQF_LIST_APPEND, 2}, {"SET_ADD", KDB_PQF_SET_ADD, 2},
    {"SET_DELETE", KDB_PQF_SET_DELETE, 2},
};

static keel_status parse_operand(pparser *p, uint32_t *out);

static keel_status parse_func(pparser *p, uint32_t *out) {
    size_t f = 0;
    for (; f < sizeof funcs / sizeof funcs[0]; f++)
        if (kw(p, funcs[f].name)) break;
    if (f == sizeof funcs / sizeof funcs[0])
        return keel__fail(KEEL_EVALIDATION, "Unsupported function at position %u: %.*s", p->lx.t.pos,
                          (int)(p->lx.t.len > 64 ? 64 : p->lx.t.len), p->text + p->lx.t.pos);
    uint32_t pos = p->lx.t.pos, args[2];
    keel_status st;
    if ((st = nest(p)) != KEEL_OK || (st = next(p)) != KEEL_OK ||
        (st = expect(p, KDB_PQT_LP, "'('")) != KEEL_OK)
        return st;
    for (unsigned a = 0; a < funcs[f].args; a++) {
        if (a && (st = expect(p, KDB_PQT_COMMA, "','")) != KEEL_OK) return st;
        if ((st = parse_operand(p, &args[a])) != KEEL_OK) return st;
    }
    if ((st = expect(p, KDB_PQT_RP, "')'")) != KEEL_OK) return st;
    p->depth--;
    return new_node(p, KDB_PQN_FUNC, (uint8_t)funcs[f].f, pos, args, funcs[f].args, out);
}

static bool at_call(const pparser *p) {
    return p->lx.t.kind == KDB_PQT_IDENT && p->lx.at < p->len && p->text[p->lx.at] == '(';
}

/* operand ::= path | literal | function(...) */
static keel_status parse_operand(pparser *p, uint32_t *out) {
    if (starts_literal(p)) return value_node(p, true, out);
    if (at_call(p)) return parse_func(p, out);
    return parse_path(p, out);
}

/* ---- conditions ------------------------------------------------------------------------------- */

static keel_status parse_or(pparser *p, uint32_t *out);

static bool cmp_op(kdb_pqt k, uint8_t *op) {
    switch (k) {
    case KDB_PQT_EQ: *op = KDB_PQC_EQ; return true;
    case KDB_PQT_NE: *op = KDB_PQC_NE; return true;
    case KDB_PQT_LT: *op = KDB_PQC_LT; return true;
    case KDB_PQT_LE: *op = KDB_PQC_LE; return true;
    case KDB_PQT_GT: *op = KDB_PQC_GT; return true;
    case KDB_PQT_GE: *op = KDB_PQC_GE; return true;
    default: return false;
    }
}

static keel_status negate(pparser *p, uint32_t pos, uint32_t *id) {
    uint32_t kid = *id;
    return new_node(p, KDB_PQN_NOT, 0, pos, &kid, 1, id);
}

static keel_status parse_pred(pparser *p, uint32_t *out) {
    keel_status st;
    uint32_t pos = p->lx.t.pos;
    if (p->lx.t.kind == KDB_PQT_LP) {
        if ((st = nest(p)) != KEEL_OK || (st = next(p)) != KEEL_OK) return st;
        if ((st = parse_or(p, out)) != KEEL_OK) return st;
        p->depth--;
        return expect(p, KDB_PQT_RP, "')', AND or OR");
    }
    uint32_t left;
    if ((st = parse_operand(p, &left)) != KEEL_OK) return st;
    const kdb_pqnode *ln = &p->q->nodes[left];
    uint8_t op;
    if (cmp_op(p->lx.t.kind, &op)) {
        pos = p->lx.t.pos;
        uint32_t kids[2] = {left, 0};
        if ((st = next(p)) != KEEL_OK || (st = parse_operand(p, &kids[1])) != KEEL_OK) return st;
        return new_node(p, KDB_PQN_CMP, op, pos, kids, 2, out);
    }
    bool neg = false;
    uint32_t not_pos = p->lx.t.pos;
    if (kw(p, "NOT")) {
        neg = true;
        if ((st = next(p)) != KEEL_OK) return st;
        if (!kw(p, "BETWEEN") && !kw(p, "IN")) return syntax(p, "BETWEEN or IN");
    }
    if (kw(p, "BETWEEN")) {
        pos = p->lx.t.pos;
        uint32_t kids[3] = {left, 0, 0};
        if ((st = next(p)) != KEEL_OK || (st = parse_operand(p, &kids[1])) != KEEL_OK ||
            (st = expect_kw(p, "AND")) != KEEL_OK || (st = parse_operand(p, &kids[2])) != KEEL_OK ||
            (st = new_node(p, KDB_PQN_BETWEEN, 0, pos, kids, 3, out)) != KEEL_OK)
            return st;
        return neg ? negate(p, not_pos, out) : KEEL_OK;
    }
    if (kw(p, "IN")) {
        pos = p->lx.t.pos;
        if ((st = next(p)) != KEEL_OK) return st;
        kdb_pqt close = p->lx.t.kind == KDB_PQT_LB ? KDB_PQT_RB : KDB_PQT_RP;
        if (p->lx.t.kind != KDB_PQT_LP && p->lx.t.kind != KDB_PQT_LB) return syntax(p, "'(' or '['");
        if ((st = next(p)) != KEEL_OK) return st;
        idlist l = {0};
        st = ids_push(&l, left) ? KEEL_OK : oom();
        while (st == KEEL_OK) {
            uint32_t v;
            if ((st = parse_operand(p, &v)) != KEEL_OK) break;
            if (!ids_push(&l, v)) st = oom();
            else if (l.n - 1 > 100)
                st = keel__fail(KEEL_EVALIDATION, "The IN operator at position %u has more than "
                                "100 operands", pos);
            else if (p->lx.t.kind == KDB_PQT_COMMA) st = next(p);
            else {
                st = expect(p, close, close == KDB_PQT_RB ? "',' or ']'" : "',' or ')'");
                break;
            }
        }
        if (st == KEEL_OK) st = new_node(p, KDB_PQN_IN, 0, pos, l.v, l.n, out);
        free(l.v);
        if (st != KEEL_OK) return st;
        return neg ? negate(p, not_pos, out) : KEEL_OK;
    }
    if (kw(p, "IS")) {
        pos = p->lx.t.pos;
        if ((st = next(p)) != KEEL_OK) return st;
        bool isnot = kw(p, "NOT");
        if (isnot && (st = next(p)) != KEEL_OK) return st;
        uint8_t what;
        if (kw(p, "MISSING")) what = isnot ? KDB_PQIS_NOT_MISSING : KDB_PQIS_MISSING;
        else if (kw(p, "NULL")) what = isnot ? KDB_PQIS_NOT_NULL : KDB_PQIS_NULL;
        else return syntax(p, "MISSING or NULL");
        if ((st = next(p)) != KEEL_OK) return st;
        return new_node(p, KDB_PQN_IS, what, pos, &left, 1, out);
    }
    if (ln->kind == KDB_PQN_FUNC && ln->op != KDB_PQF_SIZE) { /* a function as a condition */
        *out = left;
        return KEEL_OK;
    }
    return syntax(p, "a comparison operator, BETWEEN, IN or IS");
}

static keel_status parse_not(pparser *p, uint32_t *out) {
    if (!kw(p, "NOT")) return parse_pred(p, out);
    uint32_t pos = p->lx.t.pos;
    keel_status st;
    if ((st = nest(p)) != KEEL_OK || (st = next(p)) != KEEL_OK || (st = parse_not(p, out)) != KEEL_OK)
        return st;
    p->depth--;
    return negate(p, pos, out);
}

static keel_status parse_chain(pparser *p, bool is_or, uint32_t *out) {
    uint32_t pos = p->lx.t.pos, id;
    idlist l = {0};
    keel_status st;
    for (;;) {
        st = is_or ? parse_chain(p, false, &id) : parse_not(p, &id);
        if (st != KEEL_OK) break;
        if (!ids_push(&l, id)) {
            st = oom();
            break;
        }
        if (!kw(p, is_or ? "OR" : "AND")) break;
        if ((st = next(p)) != KEEL_OK) break;
    }
    if (st == KEEL_OK) {
        if (l.n == 1) *out = l.v[0];
        else st = new_node(p, is_or ? KDB_PQN_OR : KDB_PQN_AND, 0, pos, l.v, l.n, out);
    }
    free(l.v);
    return st;
}

static keel_status parse_or(pparser *p, uint32_t *out) { return parse_chain(p, true, out); }

/* ---- statements ------------------------------------------------------------------------------ */

static keel_status table_name(pparser *p, char *dst, const char *what) {
    if (p->lx.t.kind != KDB_PQT_QIDENT && (p->lx.t.kind != KDB_PQT_IDENT || is_keyword(p))) return syntax(p, what);
    kdb_buf b = {0};
    if (p->lx.t.kind == KDB_PQT_QIDENT) unquote(p, &b);
    else kdb_buf_put(&b, p->text + p->lx.t.pos, p->lx.t.len);
    keel_status st = KEEL_OK;
    if (b.failed) st = oom();
    else if (b.len == 0 || b.len > KEEL_DB_MAX_TABLE_NAME || memchr(b.p, 0, b.len))
        st = keel__fail(KEEL_EVALIDATION, "Invalid table name at position %u", p->lx.t.pos);
    else {
        memcpy(dst, b.p, b.len);
        dst[b.len] = 0;
    }
    kdb_buf_free(&b);
    return st == KEEL_OK ? next(p) : st;
}

static keel_status parse_where(pparser *p, bool required) {
    if (!kw(p, "WHERE")) {
        if (required) return syntax(p, "WHERE");
        return KEEL_OK;
    }
    keel_status st = next(p);
    if (st != KEEL_OK) return st;
    p->q->has_where = true;
    return parse_or(p, &p->q->where);
}

static keel_status parse_select(pparser *p) {
    kdb_pq *q = p->q;
    keel_status st;
    if (p->lx.t.kind == KDB_PQT_STAR) {
        q->star = true;
        if ((st = next(p)) != KEEL_OK) return st;
    } else {
        idlist l = {0};
        for (;;) {
            uint32_t id;
            if ((st = parse_path(p, &id)) != KEEL_OK) break;
            if (!ids_push(&l, id)) {
                st = oom();
                break;
            }
            if (p->lx.t.kind != KDB_PQT_COMMA) break;
            if ((st = next(p)) != KEEL_OK) break;
        }
        q->proj = l.v;
        q->n_proj = l.n;
        if (st != KEEL_OK) return st;
    }
    if ((st = expect_kw(p, "FROM")) != KEEL_OK) return st;
    q->table_pos = p->lx.t.pos;
    if ((st = table_name(p, q->table, "a table name")) != KEEL_OK) return st;
    if (p->lx.t.kind == KDB_PQT_DOT) {
        if ((st = next(p)) != KEEL_OK || (st = table_name(p, q->index, "an index name")) != KEEL_OK)
            return st;
    }
    if ((st = parse_where(p, false)) != KEEL_OK) return st;
    if (kw(p, "ORDER")) {
        if ((st = next(p)) != KEEL_OK || (st = expect_kw(p, "BY")) != KEEL_OK ||
            (st = parse_path(p, &q->order_path)) != KEEL_OK)
            return st;
        q->order = 1;
        if (kw(p, "ASC") || kw(p, "DESC")) {
            q->order = kw(p, "ASC") ? 1 : -1;
            if ((st = next(p)) != KEEL_OK) return st;
        }
    }
    return KEEL_OK;
}

static keel_status parse_returning(pparser *p, bool delete_only) {
    if (!kw(p, "RETURNING")) return KEEL_OK;
    keel_status st = next(p);
    if (st != KEEL_OK) return st;
    bool all = kw(p, "ALL");
    if (!all && !kw(p, "MODIFIED")) return syntax(p, delete_only ? "ALL" : "ALL or MODIFIED");
    if ((st = next(p)) != KEEL_OK) return st;
    bool old = kw(p, "OLD");
    if (!old && !kw(p, "NEW")) return syntax(p, "OLD or NEW");
    if (delete_only && (!all || !old))
        return keel__fail(KEEL_EVALIDATION, "DELETE supports only RETURNING ALL OLD * "
                          "(position %u)", p->lx.t.pos);
    if ((st = next(p)) != KEEL_OK || (st = expect(p, KDB_PQT_STAR, "'*'")) != KEEL_OK) return st;
    p->q->returning = all ? (old ? KEEL_DB_RETURN_ALL_OLD : KEEL_DB_RETURN_ALL_NEW)
                          : (old ? KEEL_DB_RETURN_UPDATED_OLD : KEEL_DB_RETURN_UPDATED_NEW);
    return KEEL_OK;
}

/* setval ::= operand [('+' | '-') operand] */
static keel_status parse_set_value(pparser *p, uint32_t *out) {
    uint32_t kids[2];
    keel_status st = parse_operand(p, &kids[0]);
    if (st != KEEL_OK) return st;
    if (p->lx.t.kind != KDB_PQT_PLUS && p->lx.t.kind != KDB_PQT_MINUS) {
        *out = kids[0];
        return KEEL_OK;
    }
    uint32_t pos = p->lx.t.pos;
    uint8_t op = p->lx.t.kind == KDB_PQT_PLUS ? '+' : '-';
    if ((st = next(p)) != KEEL_OK || (st = parse_operand(p, &kids[1])) != KEEL_OK) return st;
    return new_node(p, KDB_PQN_ARITH, op, pos, kids, 2, out);
}

static keel_status parse_update(pparser *p) {
    kdb_pq *q = p->q;
    keel_status st;
    q->table_pos = p->lx.t.pos;
    if ((st = table_name(p, q->table, "a table name")) != KEEL_OK) return st;
    if (!kw(p, "SET") && !kw(p, "REMOVE")) return syntax(p, "SET or REMOVE");
    while (kw(p, "SET") || kw(p, "REMOVE")) {
        bool set = kw(p, "SET");
        if ((st = next(p)) != KEEL_OK) return st;
        for (;;) {
            kdb_pqact a = {0, UINT32_MAX};
            if ((st = parse_path(p, &a.path)) != KEEL_OK) return st;
            if (set && ((st = expect(p, KDB_PQT_EQ, "'='")) != KEEL_OK ||
                        (st = parse_set_value(p, &a.value)) != KEEL_OK))
                return st;
            uint32_t cap = q->n_acts;
            if ((q->n_acts & (q->n_acts - 1)) == 0) { /* grow at powers of two */
                cap = q->n_acts ? q->n_acts * 2 : 4;
                kdb_pqact *na = realloc(q->acts, cap * sizeof *na);
                if (!na) return oom();
                q->acts = na;
            }
            q->acts[q->n_acts++] = a;
            if (q->n_acts > 1000)
                return keel__fail(KEEL_EVALIDATION, "Too many SET and REMOVE actions");
            if (p->lx.t.kind != KDB_PQT_COMMA) break;
            if ((st = next(p)) != KEEL_OK) return st;
        }
    }
    if ((st = parse_where(p, true)) != KEEL_OK) return st;
    return parse_returning(p, false);
}

static keel_status parse_statement(pparser *p) {
    kdb_pq *q = p->q;
    keel_status st;
    if (kw(p, "SELECT")) {
        q->kind = KDB_PQ_SELECT;
        if ((st = next(p)) != KEEL_OK || (st = parse_select(p)) != KEEL_OK) return st;
    } else if (kw(p, "INSERT")) {
        q->kind = KDB_PQ_INSERT;
        if ((st = next(p)) != KEEL_OK || (st = expect_kw(p, "INTO")) != KEEL_OK) return st;
        q->table_pos = p->lx.t.pos;
        if ((st = table_name(p, q->table, "a table name")) != KEEL_OK) return st;
        if ((st = expect_kw(p, "VALUE")) != KEEL_OK) return st;
        if (p->lx.t.kind != KDB_PQT_LC && p->lx.t.kind != KDB_PQT_QMARK) return syntax(p, "an item {...} or ?");
        if ((st = value_node(p, false, &q->item)) != KEEL_OK) return st;
    } else if (kw(p, "UPDATE")) {
        q->kind = KDB_PQ_UPDATE;
        if ((st = next(p)) != KEEL_OK || (st = parse_update(p)) != KEEL_OK) return st;
    } else if (kw(p, "DELETE")) {
        q->kind = KDB_PQ_DELETE;
        if ((st = next(p)) != KEEL_OK || (st = expect_kw(p, "FROM")) != KEEL_OK) return st;
        q->table_pos = p->lx.t.pos;
        if ((st = table_name(p, q->table, "a table name")) != KEEL_OK) return st;
        if ((st = parse_where(p, true)) != KEEL_OK || (st = parse_returning(p, true)) != KEEL_OK)
            return st;
    } else {
        return syntax(p, "SELECT, INSERT, UPDATE or DELETE");
    }
    if (p->lx.t.kind == KDB_PQT_SEMI && (st = next(p)) != KEEL_OK) return st;
    if (p->lx.t.kind != KDB_PQT_END) return syntax(p, "the end of the statement");
    return KEEL_OK;
}

void kdb_pq_free(kdb_pq *q) {
    if (!q) return;
    free(q->proj);
    free(q->acts);
    free(q->nodes);
    free(q->kids);
    free(q->pels);
    free(q->vals);
    kdb_buf_free(&q->strs);
    kdb_buf_free(&q->vbuf);
    memset(q, 0, sizeof *q);
}

keel_status kdb_pq_parse(const char *text, size_t len, const uint8_t *params, size_t params_len,
                         kdb_pq *q) {
    memset(q, 0, sizeof *q);
    if (!text) return keel__fail(KEEL_EINVAL, "the statement is NULL");
    if (len > KDB_PQ_MAX_LEN)
        return keel__fail(KEEL_EVALIDATION, "Statement length %zu is over the limit of %u", len,
                          KDB_PQ_MAX_LEN);
    pparser p = {.q = q, .text = text, .len = len, .lx = {.text = text, .len = len}};
    if (params && params_len) {
        kdb_head h;
        if (!kdb_cbor_head(params, params_len, &h) || h.kind != KDB_C_ARRAY)
            return keel__fail(KEEL_EVALIDATION, "Parameters must be a CBOR array of values");
        p.params = params + h.head_len;
        p.params_len = params_len - h.head_len;
        p.params_left = p.params_total = h.v.u;
    }
    keel_status st = next(&p);
    if (st == KEEL_OK) st = parse_statement(&p);
    if (st == KEEL_OK && p.params_left)
        st = keel__fail(KEEL_EVALIDATION, "Number of parameters in request and statement don't "
                        "match: %llu given, %llu used", (unsigned long long)p.params_total,
                        (unsigned long long)p.params_used);
    if (st != KEEL_OK) kdb_pq_free(q);
    else q->n_params = (uint32_t)p.params_used;
    return st;
}
