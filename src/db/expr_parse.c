/*
 * expr_parse.c: DynamoDB expressions, text -> tree (see db/expr.h for the tree).
 *
 * One lexer and one recursive-descent parser serve every kind (condition/filter, key
 * condition, projection, update); the kind only decides the top rule and a few checks.
 * DynamoDB's rules kept here: keywords (AND OR NOT BETWEEN IN SET REMOVE ADD DELETE) are
 * case-insensitive, function names are case-sensitive; a bare attribute name is
 * [A-Za-z_][A-Za-z0-9_]* and must not be one of DynamoDB's 573 reserved words (any other
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
 * Untrusted input: the text is lexed once into a token array; every later array is sized
 * from that count, so no index can run past its array. Nesting of parentheses and NOT is
 * bounded by KDB_EXPR_MAX_NEST, AND/OR chains are n-ary nodes (not deep trees), so
 * neither this parser nor the evaluator recurses deeper than a few hundred frames on any
 * input. The expression copies the text and both substitution maps: it depends on no
 * caller buffer once parsed.
 */
#include "db/expr.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- reserved words (DynamoDB developer guide, "Reserved words in DynamoDB") ------------ */

/* Sorted (C locale), upper case; the comparison folds ASCII case. */
static const char *const kdb_reserved[] = {

    "ABORT", "ABSOLUTE", "ACTION", "ADD", "AFTER", "AGENT", "AGGREGATE", "ALL",
    "ALLOCATE", "ALTER", "ANALYZE", "AND", "ANY", "ARCHIVE", "ARE", "ARRAY",
    "AS", "ASC", "ASCII", "ASENSITIVE", "ASSERTION", "ASYMMETRIC", "AT", "ATOMIC",
    "ATTACH", "ATTRIBUTE", "AUTH", "AUTHORIZATION", "AUTHORIZE", "AUTO", "AVG", "BACK",
    "BACKUP", "BASE", "BATCH", "BEFORE", "BEGIN", "BETWEEN", "BIGINT", "BINARY",
    "BIT", "BLOB", "BLOCK", "BOOLEAN", "BOTH", "BREADTH", "BUCKET", "BULK",
    "BY", "BYTE", "CALL", "CALLED", "CALLING", "CAPACITY", "CASCADE", "CASCADED",
    "CASE", "CAST", "CATALOG", "CHAR", "CHARACTER", "CHECK", "CLASS", "CLOB",
    "CLOSE", "CLUSTER", "CLUSTERED", "CLUSTERING", "CLUSTERS", "COALESCE", "COLLATE", "COLLATION",
    "COLLECTION", "COLUMN", "COLUMNS", "COMBINE", "COMMENT", "COMMIT", "COMPACT", "COMPILE",
    "COMPRESS", "CONDITION", "CONFLICT", "CONNECT", "CONNECTION", "CONSISTENCY", "CONSISTENT", "CONSTRAINT",
    "CONSTRAINTS", "CONSTRUCTOR", "CONSUMED", "CONTINUE", "CONVERT", "COPY", "CORRESPONDING", "COUNT",
    "COUNTER", "CREATE", "CROSS", "CUBE", "CURRENT", "CURSOR", "CYCLE", "DATA",
    "DATABASE", "DATE", "DATETIME", "DAY", "DEALLOCATE", "DEC", "DECIMAL", "DECLARE",
    "DEFAULT", "DEFERRABLE", "DEFERRED", "DEFINE", "DEFINED", "DEFINITION", "DELETE", "DELIMITED",
    "DEPTH", "DEREF", "DESC", "DESCRIBE", "DESCRIPTOR", "DETACH", "DETERMINISTIC", "DIAGNOSTICS",
    "DIRECTORIES", "DISABLE", "DISCONNECT", "DISTINCT", "DISTRIBUTE", "DO", "DOMAIN", "DOUBLE",
    "DROP", "DUMP", "DURATION", "DYNAMIC", "EACH", "ELEMENT", "ELSE", "ELSEIF",
    "EMPTY", "ENABLE", "END", "EQUAL", "EQUALS", "ERROR", "ESCAPE", "ESCAPED",
    "EVAL", "EVALUATE", "EXCEEDED", "EXCEPT", "EXCEPTION", "EXCEPTIONS", "EXCLUSIVE", "EXEC",
    "EXECUTE", "EXISTS", "EXIT", "EXPLAIN", "EXPLODE", "EXPORT", "EXPRESSION", "EXTENDED",
    "EXTERNAL", "EXTRACT", "FAIL", "FALSE", "FAMILY", "FETCH", "FIELDS", "FILE",
    "FILTER", "FILTERING", "FINAL", "FINISH", "FIRST", "FIXED", "FLATTERN", "FLOAT",
    "FOR", "FORCE", "FOREIGN", "FORMAT", "FORWARD", "FOUND", "FREE", "FROM",
    "FULL", "FUNCTION", "FUNCTIONS", "GENERAL", "GENERATE", "GET", "GLOB", "GLOBAL",
    "GO", "GOTO", "GRANT", "GREATER", "GROUP", "GROUPING", "HANDLER", "HASH",
    "HAVE", "HAVING", "HEAP", "HIDDEN", "HOLD", "HOUR", "IDENTIFIED", "IDENTITY",
    "IF", "IGNORE", "IMMEDIATE", "IMPORT", "IN", "INCLUDING", "INCLUSIVE", "INCREMENT",
    "INCREMENTAL", "INDEX", "INDEXED", "INDEXES", "INDICATOR", "INFINITE", "INITIALLY", "INLINE",
    "INNER", "INNTER", "INOUT", "INPUT", "INSENSITIVE", "INSERT", "INSTEAD", "INT",
    "INTEGER", "INTERSECT", "INTERVAL", "INTO", "INVALIDATE", "IS", "ISOLATION", "ITEM",
    "ITEMS", "ITERATE", "JOIN", "KEY", "KEYS", "LAG", "LANGUAGE", "LARGE",
    "LAST", "LATERAL", "LEAD", "LEADING", "LEAVE", "LEFT", "LENGTH", "LESS",
    "LEVEL", "LIKE", "LIMIT", "LIMITED", "LINES", "LIST", "LOAD", "LOCAL",
    "LOCALTIME", "LOCALTIMESTAMP", "LOCATION", "LOCATOR", "LOCK", "LOCKS", "LOG", "LOGED",
    "LONG", "LOOP", "LOWER", "MAP", "MATCH", "MATERIALIZED", "MAX", "MAXLEN",
    "MEMBER", "MERGE", "METHOD", "METRICS", "MIN", "MINUS", "MINUTE", "MISSING",
    "MOD", "MODE", "MODIFIES", "MODIFY", "MODULE", "MONTH", "MULTI", "MULTISET",
    "NAME", "NAMES", "NATIONAL", "NATURAL", "NCHAR", "NCLOB", "NEW", "NEXT",
    "NO", "NONE", "NOT", "NULL", "NULLIF", "NUMBER", "NUMERIC", "OBJECT",
    "OF", "OFFLINE", "OFFSET", "OLD", "ON", "ONLINE", "ONLY", "OPAQUE",
    "OPEN", "OPERATOR", "OPTION", "OR", "ORDER", "ORDINALITY", "OTHER", "OTHERS",
    "OUT", "OUTER", "OUTPUT", "OVER", "OVERLAPS", "OVERRIDE", "OWNER", "PAD",
    "PARALLEL", "PARAMETER", "PARAMETERS", "PARTIAL", "PARTITION", "PARTITIONED", "PARTITIONS", "PATH",
    "PERCENT", "PERCENTILE", "PERMISSION", "PERMISSIONS", "PIPE", "PIPELINED", "PLAN", "POOL",
    "POSITION", "PRECISION", "PREPARE", "PRESERVE", "PRIMARY", "PRIOR", "PRIVATE", "PRIVILEGES",
    "PROCEDURE", "PROCESSED", "PROJECT", "PROJECTION", "PROPERTY", "PROVISIONING", "PUBLIC", "PUT",
    "QUERY", "QUIT", "QUORUM", "RAISE", "RANDOM", "RANGE", "RANK", "RAW",
    "READ", "READS", "REAL", "REBUILD", "RECORD", "RECURSIVE", "REDUCE", "REF",
    "REFERENCE", "REFERENCES", "REFERENCING", "REGEXP", "REGION", "REINDEX", "RELATIVE", "RELEASE",
    "REMAINDER", "RENAME", "REPEAT", "REPLACE", "REQUEST", "RESET", "RESIGNAL", "RESOURCE",
    "RESPONSE", "RESTORE", "RESTRICT", "RESULT", "RETURN", "RETURNING", "RETURNS", "REVERSE",
    "REVOKE", "RIGHT", "ROLE", "ROLES", "ROLLBACK", "ROLLUP", "ROUTINE", "ROW",
    "ROWS", "RULE", "RULES", "SAMPLE", "SATISFIES", "SAVE", "SAVEPOINT", "SCAN",
    "SCHEMA", "SCOPE", "SCROLL", "SEARCH", "SECOND", "SECTION", "SEGMENT", "SEGMENTS",
    "SELECT", "SELF", "SEMI", "SENSITIVE", "SEPARATE", "SEQUENCE", "SERIALIZABLE", "SESSION",
    "SET", "SETS", "SHARD", "SHARE", "SHARED", "SHORT", "SHOW", "SIGNAL",
    "SIMILAR", "SIZE", "SKEWED", "SMALLINT", "SNAPSHOT", "SOME", "SOURCE", "SPACE",
    "SPACES", "SPARSE", "SPECIFIC", "SPECIFICTYPE", "SPLIT", "SQL", "SQLCODE", "SQLERROR",
    "SQLEXCEPTION", "SQLSTATE", "SQLWARNING", "START", "STATE", "STATIC", "STATUS", "STORAGE",
    "STORE", "STORED", "STREAM", "STRING", "STRUCT", "STYLE", "SUB", "SUBMULTISET",
    "SUBPARTITION", "SUBSTRING", "SUBTYPE", "SUM", "SUPER", "SYMMETRIC", "SYNONYM", "SYSTEM",
    "TABLE", "TABLESAMPLE", "TEMP", "TEMPORARY", "TERMINATED", "TEXT", "THAN", "THEN",
    "THROUGHPUT", "TIME", "TIMESTAMP", "TIMEZONE", "TINYINT", "TO", "TOKEN", "TOTAL",
    "TOUCH", "TRAILING", "TRANSACTION", "TRANSFORM", "TRANSLATE", "TRANSLATION", "TREAT", "TRIGGER",
    "TRIM", "TRUE", "TRUNCATE", "TTL", "TUPLE", "TYPE", "UNDER", "UNDO",
    "UNION", "UNIQUE", "UNIT", "UNKNOWN", "UNLOGGED", "UNNEST", "UNPROCESSED", "UNSIGNED",
    "UNTIL", "UPDATE", "UPPER", "URL", "USAGE", "USE", "USER", "USERS",
    "USING", "UUID", "VACUUM", "VALUE", "VALUED", "VALUES", "VARCHAR", "VARIABLE",
    "VARIANCE", "VARINT", "VARYING", "VIEW", "VIEWS", "VIRTUAL", "VOID", "WAIT",
    "WHEN", "WHENEVER", "WHERE", "WHILE", "WINDOW", "WITH", "WITHIN", "WITHOUT",
    "WORK", "WRAPPED", "WRITE", "YEAR", "ZONE",
};

static int upper(int c) { return c >= 'a' && c <= 'z' ? c - 32 : c; }

/* Compare text[0..len) with a NUL-terminated upper-case word, folding ASCII case. */
static int word_cmp(const char *text, size_t len, const char *word) {
    size_t i = 0;
    for (; i < len && word[i]; i++) {
        int a = upper((unsigned char)text[i]), b = (unsigned char)word[i];
        if (a != b) return a < b ? -1 : 1;
    }
    if (i < len) return 1;
    return word[i] ? -1 : 0;
}

static bool is_reserved(const char *text, size_t len) {
    size_t lo = 0, hi = sizeof kdb_reserved / sizeof kdb_reserved[0];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = word_cmp(text, len, kdb_reserved[mid]);
        if (c == 0) return true;
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return false;
}

/* ---- lexer -------------------------------------------------------------------------------- */

typedef enum tkind {
    T_END = 0, T_NAME, T_HASH, T_COLON, T_NUM, T_LP, T_RP, T_LB, T_RB, T_COMMA, T_DOT,
    T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE, T_PLUS, T_MINUS
} tkind;

typedef struct tok {
    uint8_t kind;
    uint32_t pos, len;
} tok;

static bool is_word(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static keel_status bad_char(const char *t, size_t i) {
    unsigned char c = (unsigned char)t[i];
    if (c >= 0x20 && c < 0x7f)
        return keel__fail(KEEL_ESYNTAX, "syntax error at position %zu: unexpected token '%c'; "
                          "expected a name, a placeholder, an operator or a parenthesis", i, c);
    return keel__fail(KEEL_ESYNTAX, "syntax error at position %zu: unexpected token '\\x%02x'; "
                      "expected a name, a placeholder, an operator or a parenthesis", i, c);
}

/* Lex t[0..len) into toks (capacity len + 1: every token is at least one byte, plus T_END). */
static keel_status lex(const char *t, size_t len, tok *toks, uint32_t *n_out) {
    uint32_t n = 0;
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)t[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            i++;
            continue;
        }
        tok *k = &toks[n++];
        k->pos = (uint32_t)i;
        k->len = 1;
        size_t j = i + 1;
        switch (c) {
        case '(': k->kind = T_LP; break;
        case ')': k->kind = T_RP; break;
        case '[': k->kind = T_LB; break;
        case ']': k->kind = T_RB; break;
        case ',': k->kind = T_COMMA; break;
        case '.': k->kind = T_DOT; break;
        case '=': k->kind = T_EQ; break;
        case '+': k->kind = T_PLUS; break;
        case '-': k->kind = T_MINUS; break;
        case '<':
            if (j < len && t[j] == '>') k->kind = T_NE, j++;
            else if (j < len && t[j] == '=') k->kind = T_LE, j++;
            else k->kind = T_LT;
            break;
        case '>':
            if (j < len && t[j] == '=') k->kind = T_GE, j++;
            else k->kind = T_GT;
            break;
        case '#':
        case ':':
            k->kind = c == '#' ? T_HASH : T_COLON;
            while (j < len && is_word((unsigned char)t[j])) j++;
            if (j == i + 1) {
                if (j < len) return bad_char(t, j);
                return keel__fail(KEEL_ESYNTAX, "syntax error at position %zu: unexpected end "
                                  "of expression; expected a placeholder name after '%c'", j, c);
            }
            if (j - i > KDB_EXPR_MAX_PH)
                return keel__fail(KEEL_EVALIDATION, "ExpressionAttribute%s placeholder at "
                                  "position %zu is longer than %u bytes",
                                  c == '#' ? "Name" : "Value", i, KDB_EXPR_MAX_PH);
            break;
        default:
            if (c >= '0' && c <= '9') {
                k->kind = T_NUM;
                while (j < len && t[j] >= '0' && t[j] <= '9') j++;
            } else if (is_word(c)) {
                k->kind = T_NAME;
                while (j < len && is_word((unsigned char)t[j])) j++;
            } else {
                return bad_char(t, i);
            }
        }
        k->len = (uint32_t)(j - i);
        i = j;
    }
    toks[n].kind = T_END;
    toks[n].pos = (uint32_t)len;
    toks[n].len = 0;
    *n_out = n;
    return KEEL_OK;
}

/* ---- substitutions ------------------------------------------------------------------------ */

/* Find `key` in the CBOR map m[0..len) (pairs counted from 0, padding never present in a
 * substitution map). 1 found (*index_out, *val_out set), 0 absent. */
static int map_find(const uint8_t *m, size_t len, const char *key, size_t key_len,
                    uint32_t *index_out, kdb_val *val_out) {
    kdb_val map;
    if (!m || !kdb_val_decode(m, len, &map) || map.type != KDB_M) return 0;
    kdb_iter it;
    kdb_iter_init(&it, &map);
    const uint8_t *name;
    size_t name_len;
    kdb_val v;
    for (uint32_t i = 0; kdb_iter_next(&it, &name, &name_len, &v) == 1; i++) {
        if (name_len == key_len && memcmp(name, key, key_len) == 0) {
            *index_out = i;
            *val_out = v;
            return 1;
        }
    }
    return 0;
}

static bool placeholder_ok(const uint8_t *s, size_t len, char lead) {
    if (len < 2 || len > KDB_EXPR_MAX_PH || s[0] != (uint8_t)lead) return false;
    for (size_t i = 1; i < len; i++)
        if (!is_word(s[i])) return false;
    return true;
}

/* Check one map: placeholders well formed, values of the right kind; count its pairs. */
static keel_status subst_map(const uint8_t *m, size_t len, bool names, size_t *count_out) {
    const char *what = names ? "ExpressionAttributeNames" : "ExpressionAttributeValues";
    *count_out = 0;
    if (!m) return KEEL_OK;
    kdb_val map;
    if (!kdb_val_decode(m, len, &map) || map.type != KDB_M || kdb_cbor_skip(m, len, 64) != len)
        return keel__fail(KEEL_EVALIDATION, "%s must be a map of placeholders", what);
    if (map.count == 0) return keel__fail(KEEL_EVALIDATION, "%s must not be empty", what);
    if (!names) {
        /* The values map is shaped like an item (text keys, item values): check it as one. */
        size_t size;
        keel_status st = kdb_item_check(m, len, &size);
        if (st != KEEL_OK) return st;
    }
    kdb_iter it;
    kdb_iter_init(&it, &map);
    const uint8_t *name;
    size_t name_len;
    kdb_val v;
    size_t n = 0;
    int r;
    while ((r = kdb_iter_next(&it, &name, &name_len, &v)) == 1) {
        if (!placeholder_ok(name, name_len, names ? '#' : ':'))
            return keel__fail(KEEL_EVALIDATION, "%s contains invalid key: Syntax error; "
                              "key: \"%.*s\"", what, (int)(name_len > 300 ? 300 : name_len),
                              (const char *)name);
        if (names && (v.type != KDB_S || v.size == 0))
            return keel__fail(KEEL_EVALIDATION, "ExpressionAttributeNames contains invalid "
                              "value: Empty attribute name or not a string; for key: %.*s",
                              (int)name_len, (const char *)name);
        n++;
    }
    if (r < 0 || n != map.count)
        return keel__fail(KEEL_EVALIDATION, "%s must be a map of placeholders", what);
    *count_out = n;
    return KEEL_OK;
}

keel_status kdb_subst_init(kdb_subst *s, const void *names, size_t names_len,
                           const void *values, size_t values_len) {
    if (!s) return keel__fail(KEEL_EINVAL, "kdb_subst_init: NULL substitution");
    memset(s, 0, sizeof *s);
    keel_status st = subst_map(names, names_len, true, &s->n_names);
    if (st != KEEL_OK) return st;
    st = subst_map(values, values_len, false, &s->n_values);
    if (st != KEEL_OK) return st;
    s->names = names;
    s->names_len = names ? names_len : 0;
    s->values = values;
    s->values_len = values ? values_len : 0;
    return KEEL_OK;
}

/* "keys: {#a, #b}" for the unused pairs of one map (only the first 64 are tracked). */
static keel_status unused(const uint8_t *m, size_t len, uint64_t used, size_t count,
                          const char *what) {
    size_t tracked = count < 64 ? count : 64;
    uint64_t all = tracked == 64 ? ~(uint64_t)0 : (((uint64_t)1 << tracked) - 1);
    if (!m || (used & all) == all) return KEEL_OK;
    char list[512];
    size_t at = 0;
    kdb_val map;
    if (!kdb_val_decode(m, len, &map)) return KEEL_OK;
    kdb_iter it;
    kdb_iter_init(&it, &map);
    const uint8_t *name;
    size_t name_len;
    kdb_val v;
    list[0] = 0;
    for (uint32_t i = 0; i < tracked && kdb_iter_next(&it, &name, &name_len, &v) == 1; i++) {
        if (used >> i & 1) continue;
        int w = snprintf(list + at, sizeof list - at, "%s%.*s", at ? ", " : "",
                         (int)name_len, (const char *)name);
        if (w < 0 || (size_t)w >= sizeof list - at) break;
        at += (size_t)w;
    }
    return keel__fail(KEEL_EVALIDATION, "Value provided in %s unused in expressions: keys: {%s}",
                      what, list);
}

keel_status kdb_subst_check_unused(const kdb_subst *s) {
    if (!s) return KEEL_OK;
    keel_status st = unused(s->names, s->names_len, s->names_used, s->n_names,
                            "ExpressionAttributeNames");
    if (st != KEEL_OK) return st;
    return unused(s->values, s->values_len, s->values_used, s->n_values,
                  "ExpressionAttributeValues");
}

/* ---- parser -------------------------------------------------------------------------------- */

typedef struct parser {
    kdb_expr *e;
    const char *text;           /* the expression's own copy */
    tok *toks;
    uint32_t i, n_toks;
    uint32_t *stack;            /* children of n-ary nodes being built (capacity n_toks) */
    uint32_t sp;
    kdb_subst *s;
    const uint8_t *names, *values;  /* the expression's copies of the maps */
    unsigned depth;
} parser;

static tok *cur(parser *p) { return &p->toks[p->i]; }
static tok *peek(parser *p, uint32_t k) {
    return p->i + k < p->n_toks ? &p->toks[p->i + k] : &p->toks[p->n_toks];
}

static keel_status syntax(parser *p, const char *expected) {
    const tok *t = cur(p);
    if (t->kind == T_END)
        return keel__fail(KEEL_ESYNTAX, "syntax error at position %u: unexpected end of "
                          "expression; expected %s", t->pos, expected);
    return keel__fail(KEEL_ESYNTAX, "syntax error at position %u: unexpected token '%.*s'; "
                      "expected %s", t->pos, (int)(t->len > 64 ? 64 : t->len),
                      p->text + t->pos, expected);
}

static bool is_kw(const parser *p, const tok *t, const char *word) {
    return t->kind == T_NAME && word_cmp(p->text + t->pos, t->len, word) == 0;
}

static bool is_name(const parser *p, const tok *t, const char *name) {
    return t->kind == T_NAME && t->len == strlen(name) && memcmp(p->text + t->pos, name, t->len) == 0;
}

/* Grammar keywords can never be attribute names, even before the reserved-word check. */
static bool is_grammar_kw(const parser *p, const tok *t) {
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

const char *kdb_expr_op_name(const kdb_enode *n) {
    static const char *const cmp[] = {"=", "<>", "<", "<=", ">", ">="};
    if (n->kind == KDB_EN_CMP) return n->op < 6 ? cmp[n->op] : "?";
    return func_name((kdb_enode_kind)n->kind);
}

/* The function a name token stands for when followed by '(' (0 when unknown). */
static kdb_enode_kind func_kind(const parser *p, const tok *t) {
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

static keel_status expect(parser *p, tkind kind, const char *expected) {
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
        tok *t = cur(p);
        if (want_element) {
            kdb_epel *pel = &e->pels[e->n_pels];
            if (t->kind == T_NAME) {
                if (is_grammar_kw(p, t)) return syntax(p, "an attribute name or a placeholder");
                if (is_reserved(p->text + t->pos, t->len))
                    return keel__fail(KEEL_EVALIDATION, "Attribute name is a reserved keyword; "
                                      "reserved keyword: %.*s", (int)t->len, p->text + t->pos);
                pel->name = (const uint8_t *)p->text + t->pos;
                pel->len = t->len;
            } else if (t->kind == T_HASH) {
                uint32_t idx;
                kdb_val v;
                if (!map_find(p->names, p->s ? p->s->names_len : 0, p->text + t->pos, t->len,
                              &idx, &v))
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
        } else if (t->kind == T_DOT) {
            p->i++;
            want_element = true;
        } else if (t->kind == T_LB) {
            p->i++;
            t = cur(p);
            if (t->kind != T_NUM) return syntax(p, "a list index");
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
            keel_status st = expect(p, T_RB, "']'");
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

static keel_status parse_value_ref(parser *p, uint32_t *out) {
    kdb_expr *e = p->e;
    tok *t = cur(p);
    uint32_t idx;
    kdb_val v;
    if (!map_find(p->values, p->s ? p->s->values_len : 0, p->text + t->pos, t->len, &idx, &v))
        return keel__fail(KEEL_EVALIDATION, "An expression attribute value used in expression "
                          "is not defined; attribute value: %.*s", (int)t->len, p->text + t->pos);
    if (idx < 64) p->s->values_used |= (uint64_t)1 << idx;
    uint32_t id = new_node(p, KDB_EN_VALUE, t->pos);
    e->nodes[id].first = e->n_vals;
    e->vals[e->n_vals++] = v;
    p->i++;
    *out = id;
    return KEEL_OK;
}

static keel_status need_path(parser *p, uint32_t id, kdb_enode_kind f) {
    if (p->e->nodes[id].kind == KDB_EN_PATH) return KEEL_OK;
    return keel__fail(KEEL_EVALIDATION, "Operator or function requires a document path; "
                      "operator or function: %s", func_name(f));
}

static keel_status parse_operand(parser *p, bool update, uint32_t *out);

/* A function call: name '(' args ')'. `as_condition`: where a condition is expected. */
static keel_status parse_call(parser *p, bool update, bool as_condition, uint32_t *out) {
    tok *t = cur(p);
    kdb_enode_kind k = func_kind(p, t);
    if (k == 0)
        return keel__fail(KEEL_EVALIDATION, "Invalid function name; function: %.*s",
                          (int)t->len, p->text + t->pos);
    bool is_cond = k == KDB_EN_EXISTS || k == KDB_EN_NOT_EXISTS || k == KDB_EN_TYPE ||
                   k == KDB_EN_BEGINS || k == KDB_EN_CONTAINS;
    bool is_update = k == KDB_EN_IF_NOT_EXISTS || k == KDB_EN_LIST_APPEND;
    if (is_cond != as_condition || (is_update && !update))
        return keel__fail(KEEL_EVALIDATION, "The function is not allowed to be used this way "
                          "in an expression; function: %s", func_name(k));
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
            keel_status st = expect(p, T_COMMA, "','");
            if (st != KEEL_OK) return st;
        }
        uint32_t arg;
        keel_status st = parse_operand(p, update, &arg);
        if (st != KEEL_OK) return st;
        push(p, arg);
    }
    keel_status st = expect(p, T_RP, "')'");
    if (st != KEEL_OK) return st;
    p->depth--;
    kdb_expr *e = p->e;
    uint32_t a0 = p->stack[p->sp - want];
    uint32_t a1 = want > 1 ? p->stack[p->sp - 1] : 0;
    if (k != KDB_EN_LIST_APPEND) {
        st = need_path(p, a0, k);
        if (st != KEEL_OK) return st;
    }
    uint8_t op = 0;
    if (k == KDB_EN_TYPE) {
        if (e->nodes[a1].kind != KDB_EN_VALUE)
            return keel__fail(KEEL_EVALIDATION, "Incorrect operand type for operator or function; "
                              "operator or function: attribute_type, operand: not a value");
        const kdb_val *v = &e->vals[e->nodes[a1].first];
        if (v->type != KDB_S)
            return keel__fail(KEEL_EVALIDATION, "Incorrect operand type for operator or function; "
                              "operator or function: attribute_type, operand type: %s",
                              kdb_type_name(v->type));
        static const kdb_type types[] = {KDB_S, KDB_SS, KDB_N, KDB_NS, KDB_B, KDB_BS,
                                         KDB_BOOL, KDB_NULL, KDB_L, KDB_M};
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
            const char *nm = kdb_type_name(types[i]);
            if (strlen(nm) == v->size && memcmp(nm, v->data, v->size) == 0) op = (uint8_t)types[i];
        }
        if (!op)
            return keel__fail(KEEL_EVALIDATION, "Invalid attribute type name found; type: %.*s, "
                              "valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}",
                              (int)(v->size > 64 ? 64 : v->size), (const char *)v->data);
    } else if (k == KDB_EN_BEGINS && e->nodes[a1].kind == KDB_EN_VALUE) {
        const kdb_val *v = &e->vals[e->nodes[a1].first];
        if (v->type != KDB_S && v->type != KDB_B)
            return keel__fail(KEEL_EVALIDATION, "Incorrect operand type for operator or function; "
                              "operator or function: begins_with, operand type: %s",
                              kdb_type_name(v->type));
    }
    uint32_t id = new_parent(p, k, pos, want);
    e->nodes[id].op = op;
    *out = id;
    return KEEL_OK;
}

/* operand ::= path | :value | size(path) | (SET only) if_not_exists(...) | list_append(...) */
static keel_status parse_operand(parser *p, bool update, uint32_t *out) {
    tok *t = cur(p);
    if (t->kind == T_COLON) return parse_value_ref(p, out);
    if (t->kind == T_NAME && peek(p, 1)->kind == T_LP) return parse_call(p, update, false, out);
    if (t->kind == T_NAME || t->kind == T_HASH) return parse_path(p, out);
    return syntax(p, "an operand (a path, a :placeholder or size())");
}

static bool cmp_of(tkind k, kdb_ecmp *op) {
    switch (k) {
    case T_EQ: *op = KDB_CMP_EQ; return true;
    case T_NE: *op = KDB_CMP_NE; return true;
    case T_LT: *op = KDB_CMP_LT; return true;
    case T_LE: *op = KDB_CMP_LE; return true;
    case T_GT: *op = KDB_CMP_GT; return true;
    case T_GE: *op = KDB_CMP_GE; return true;
    default: return false;
    }
}

/* An ordering operand given as a value must be N, S or B (DynamoDB refuses the rest). */
static keel_status orderable(parser *p, uint32_t id, const char *op) {
    const kdb_enode *n = &p->e->nodes[id];
    if (n->kind != KDB_EN_VALUE) return KEEL_OK;
    kdb_type t = p->e->vals[n->first].type;
    if (t == KDB_N || t == KDB_S || t == KDB_B) return KEEL_OK;
    return keel__fail(KEEL_EVALIDATION, "Incorrect operand type for operator or function; "
                      "operator or function: %s, operand type: %s", op, kdb_type_name(t));
}

static keel_status key_op(parser *p, const char *op) {
    if (p->e->kind != KDB_EXPR_KEY_CONDITION) return KEEL_OK;
    return keel__fail(KEEL_EVALIDATION, "Invalid operator used in KeyConditionExpression: %s", op);
}

static keel_status parse_or(parser *p, uint32_t *out);

/* primary ::= '(' condition ')' | function | operand (cmp operand | BETWEEN .. AND .. | IN (..)) */
static keel_status parse_primary(parser *p, uint32_t *out) {
    tok *t = cur(p);
    keel_status st;
    if (t->kind == T_LP) {
        if (++p->depth > KDB_EXPR_MAX_NEST)
            return keel__fail(KEEL_EVALIDATION, "The expression is nested too deeply (more than "
                              "%u levels)", KDB_EXPR_MAX_NEST);
        p->i++;
        st = parse_or(p, out);
        if (st != KEEL_OK) return st;
        p->depth--;
        return expect(p, T_RP, "')', AND or OR");
    }
    if (t->kind == T_NAME && peek(p, 1)->kind == T_LP) {
        kdb_enode_kind k = func_kind(p, t);
        if (k != KDB_EN_SIZE && k != KDB_EN_IF_NOT_EXISTS && k != KDB_EN_LIST_APPEND)
            return parse_call(p, false, true, out);
    }
    uint32_t left;
    st = parse_operand(p, false, &left);
    if (st != KEEL_OK) return st;
    t = cur(p);
    kdb_ecmp op;
    if (cmp_of((tkind)t->kind, &op)) {
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
        const kdb_expr *e = p->e;
        if (e->nodes[lo].kind == KDB_EN_VALUE && e->nodes[hi].kind == KDB_EN_VALUE) {
            const kdb_val *a = &e->vals[e->nodes[lo].first], *b = &e->vals[e->nodes[hi].first];
            int c = kdb_val_compare(a, b);
            if (c == 2)
                return keel__fail(KEEL_EVALIDATION, "The BETWEEN operator requires same data "
                                  "type for lower and upper bounds; lower bound operand type: "
                                  "%s, upper bound operand type: %s",
                                  kdb_type_name(a->type), kdb_type_name(b->type));
            if (c > 0)
                return keel__fail(KEEL_EVALIDATION, "The BETWEEN operator requires upper bound "
                                  "to be greater than or equal to lower bound");
        }
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
        if ((st = expect(p, T_LP, "'('")) != KEEL_OK) return st;
        push(p, left);
        uint32_t count = 1;
        for (;;) {
            uint32_t v;
            if ((st = parse_operand(p, false, &v)) != KEEL_OK) return st;
            push(p, v);
            if (++count - 1 > KDB_EXPR_MAX_IN)
                return keel__fail(KEEL_EVALIDATION, "The IN operator is provided with too many "
                                  "operands; number of operands: %u", count - 1);
            if (cur(p)->kind == T_COMMA) {
                p->i++;
                continue;
            }
            if ((st = expect(p, T_RP, "',' or ')'")) != KEEL_OK) return st;
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
        if (cur(p)->kind != T_NAME && cur(p)->kind != T_HASH)
            return syntax(p, "an attribute name or a placeholder");
        keel_status st = parse_path(p, &id);
        if (st != KEEL_OK) return st;
        e->paths[e->n_paths++] = id;
        if (cur(p)->kind != T_COMMA) break;
        p->i++;
    }
    if (cur(p)->kind != T_END) return syntax(p, "',' or the end of the expression");
    return check_overlaps(e, e->paths, e->n_paths, 1);
}

/* set-value ::= set-operand [('+' | '-') set-operand] */
static keel_status parse_set_value(parser *p, uint32_t *out) {
    uint32_t a, b;
    keel_status st = parse_operand(p, true, &a);
    if (st != KEEL_OK) return st;
    tok *t = cur(p);
    if (t->kind != T_PLUS && t->kind != T_MINUS) {
        *out = a;
        return KEEL_OK;
    }
    uint32_t pos = t->pos;
    kdb_enode_kind k = t->kind == T_PLUS ? KDB_EN_PLUS : KDB_EN_MINUS;
    p->i++;
    if ((st = parse_operand(p, true, &b)) != KEEL_OK) return st;
    push(p, a);
    push(p, b);
    *out = new_parent(p, k, pos, 2);
    return KEEL_OK;
}

static keel_status parse_update(parser *p) {
    kdb_expr *e = p->e;
    static const char *const clause[] = {"SET", "REMOVE", "ADD", "DELETE"};
    bool seen[4] = {false, false, false, false};
    if (cur(p)->kind == T_END) return syntax(p, "SET, REMOVE, ADD or DELETE");
    while (cur(p)->kind != T_END) {
        int c = -1;
        for (int k = 0; k < 4; k++)
            if (is_kw(p, cur(p), clause[k])) c = k;
        if (c < 0) return syntax(p, "SET, REMOVE, ADD or DELETE");
        if (seen[c])
            return keel__fail(KEEL_EVALIDATION, "The \"%s\" section can only be used once in an "
                              "update expression", clause[c]);
        seen[c] = true;
        p->i++;
        for (;;) {
            kdb_eact *a = &e->acts[e->n_acts];
            a->kind = (uint8_t)(c + 1);
            a->value = 0;
            if (cur(p)->kind != T_NAME && cur(p)->kind != T_HASH)
                return syntax(p, "an attribute name or a placeholder");
            keel_status st = parse_path(p, &a->path);
            if (st != KEEL_OK) return st;
            if (c == 0) {
                if ((st = expect(p, T_EQ, "'='")) != KEEL_OK) return st;
                if ((st = parse_set_value(p, &a->value)) != KEEL_OK) return st;
            } else if (c >= 2) {
                if (cur(p)->kind != T_COLON) return syntax(p, "a :placeholder");
                if ((st = parse_value_ref(p, &a->value)) != KEEL_OK) return st;
            }
            e->n_acts++;
            if (cur(p)->kind != T_COMMA) break;
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

void kdb_expr_free(kdb_expr *e) {
    if (!e) return;
    free(e->nodes);
    free(e->kids);
    free(e->pels);
    free(e->vals);
    free(e->paths);
    free(e->acts);
    free(e->blob);
    free(e);
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
    tok *toks = malloc((len + 1) * sizeof *toks);
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
    st = lex((const char *)e->blob, len, toks, &n_toks);
    if (st != KEEL_OK) goto fail;
    if (n_toks == 0) {
        st = keel__fail(KEEL_EVALIDATION, "The expression can not be empty");
        goto fail;
    }
    uint32_t n_vals = 0;
    for (uint32_t i = 0; i < n_toks; i++) n_vals += toks[i].kind == T_COLON;
    size_t cap = (size_t)n_toks + 1;
    st = KEEL_ENOMEM;
    e->nodes = malloc(cap * sizeof *e->nodes);
    e->kids = malloc(cap * sizeof *e->kids);
    e->pels = malloc(cap * sizeof *e->pels);
    e->vals = malloc((n_vals + 1) * sizeof *e->vals);
    e->paths = malloc(cap * sizeof *e->paths);
    e->acts = kind == KDB_EXPR_UPDATE ? malloc(cap * sizeof *e->acts) : NULL;
    stack = malloc(cap * sizeof *stack);
    if (!e->nodes || !e->kids || !e->pels || !e->vals || !e->paths || !stack ||
        (kind == KDB_EXPR_UPDATE && !e->acts))
        goto fail;

    parser p = {
        .e = e, .text = (const char *)e->blob, .toks = toks, .n_toks = n_toks,
        .stack = stack, .s = s,
        .names = names_len ? e->blob + len : NULL,
        .values = values_len ? e->blob + len + names_len : NULL,
    };
    switch (kind) {
    case KDB_EXPR_CONDITION:
    case KDB_EXPR_KEY_CONDITION:
        st = parse_or(&p, &e->root);
        if (st == KEEL_OK && cur(&p)->kind != T_END)
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
