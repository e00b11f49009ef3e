/*
 * expr_lex.c: the words of DynamoDB expressions: the reserved-word list, the lexer, and
 * the substitution maps (ExpressionAttributeNames / ExpressionAttributeValues).
 *
 * The lexer turns text into tokens (db/expr.h, kdb_tok) in one pass and never looks past
 * text[len): names are [A-Za-z0-9_]+ (the parser refuses a leading digit by reading it as
 * a number), placeholders '#' or ':' then 1..254 bytes of [A-Za-z0-9_], numbers (list
 * indexes) [0-9]+, and the punctuation of the grammar. Any other byte is a syntax error at
 * its 0-based offset. The reserved words are DynamoDB's published list ("Reserved words in
 * DynamoDB", 573 words), matched without regard to ASCII case.
 *
 * Substitution maps come from callers: kdb_subst_init checks them whole (placeholders
 * well formed, names non-empty text, values valid item values) before any parse looks a
 * placeholder up, and a parse marks what it used so kdb_subst_check_unused can refuse
 * leftovers with DynamoDB's message. The check is a function of a map's bytes alone, so
 * each thread remembers the last small map of each kind that passed (memo) and a request
 * repeating it byte for byte (a counter's {":one": 1}) takes its count from there instead
 * of checking it again.
 */
#include "db/expr.h"

#include <stdio.h>
#include <string.h>

/* ---- reserved words (DynamoDB developer guide, "Reserved words in DynamoDB") ------------ */

/* Sorted (C locale), upper case; the comparison folds ASCII case. */
static const char *const kdb_reserved[] = {
    "ABORT", "ABSOLUTE", "ACTION", "ADD", "AFTER", "AGENT", "AGGREGATE", "ALL", "ALLOCATE",
    "ALTER", "ANALYZE", "AND", "ANY", "ARCHIVE", "ARE", "ARRAY", "AS", "ASC", "ASCII",
    "ASENSITIVE", "ASSERTION", "ASYMMETRIC", "AT", "ATOMIC", "ATTACH", "ATTRIBUTE", "AUTH",
    "AUTHORIZATION", "AUTHORIZE", "AUTO", "AVG", "BACK", "BACKUP", "BASE", "BATCH", "BEFORE",
    "BEGIN", "BETWEEN", "BIGINT", "BINARY", "BIT", "BLOB", "BLOCK", "BOOLEAN", "BOTH",
    "BREADTH", "BUCKET", "BULK", "BY", "BYTE", "CALL", "CALLED", "CALLING", "CAPACITY",
    "CASCADE", "CASCADED", "CASE", "CAST", "CATALOG", "CHAR", "CHARACTER", "CHECK", "CLASS",
    "CLOB", "CLOSE", "CLUSTER", "CLUSTERED", "CLUSTERING", "CLUSTERS", "COALESCE", "COLLATE",
    "COLLATION", "COLLECTION", "COLUMN", "COLUMNS", "COMBINE", "COMMENT", "COMMIT", "COMPACT",
    "COMPILE", "COMPRESS", "CONDITION", "CONFLICT", "CONNECT", "CONNECTION", "CONSISTENCY",
    "CONSISTENT", "CONSTRAINT", "CONSTRAINTS", "CONSTRUCTOR", "CONSUMED", "CONTINUE", "CONVERT",
    "COPY", "CORRESPONDING", "COUNT", "COUNTER", "CREATE", "CROSS", "CUBE", "CURRENT", "CURSOR",
    "CYCLE", "DATA", "DATABASE", "DATE", "DATETIME", "DAY", "DEALLOCATE", "DEC", "DECIMAL",
    "DECLARE", "DEFAULT", "DEFERRABLE", "DEFERRED", "DEFINE", "DEFINED", "DEFINITION", "DELETE",
    "DELIMITED", "DEPTH", "DEREF", "DESC", "DESCRIBE", "DESCRIPTOR", "DETACH", "DETERMINISTIC",
    "DIAGNOSTICS", "DIRECTORIES", "DISABLE", "DISCONNECT", "DISTINCT", "DISTRIBUTE", "DO",
    "DOMAIN", "DOUBLE", "DROP", "DUMP", "DURATION", "DYNAMIC", "EACH", "ELEMENT", "ELSE",
    "ELSEIF", "EMPTY", "ENABLE", "END", "EQUAL", "EQUALS", "ERROR", "ESCAPE", "ESCAPED", "EVAL",
    "EVALUATE", "EXCEEDED", "EXCEPT", "EXCEPTION", "EXCEPTIONS", "EXCLUSIVE", "EXEC", "EXECUTE",
    "EXISTS", "EXIT", "EXPLAIN", "EXPLODE", "EXPORT", "EXPRESSION", "EXTENDED", "EXTERNAL",
    "EXTRACT", "FAIL", "FALSE", "FAMILY", "FETCH", "FIELDS", "FILE", "FILTER", "FILTERING",
    "FINAL", "FINISH", "FIRST", "FIXED", "FLATTERN", "FLOAT", "FOR", "FORCE", "FOREIGN",
    "FORMAT", "FORWARD", "FOUND", "FREE", "FROM", "FULL", "FUNCTION", "FUNCTIONS", "GENERAL",
    "GENERATE", "GET", "GLOB", "GLOBAL", "GO", "GOTO", "GRANT", "GREATER", "GROUP", "GROUPING",
    "HANDLER", "HASH", "HAVE", "HAVING", "HEAP", "HIDDEN", "HOLD", "HOUR", "IDENTIFIED",
    "IDENTITY", "IF", "IGNORE", "IMMEDIATE", "IMPORT", "IN", "INCLUDING", "INCLUSIVE",
    "INCREMENT", "INCREMENTAL", "INDEX", "INDEXED", "INDEXES", "INDICATOR", "INFINITE",
    "INITIALLY", "INLINE", "INNER", "INNTER", "INOUT", "INPUT", "INSENSITIVE", "INSERT",
    "INSTEAD", "INT", "INTEGER", "INTERSECT", "INTERVAL", "INTO", "INVALIDATE", "IS",
    "ISOLATION", "ITEM", "ITEMS", "ITERATE", "JOIN", "KEY", "KEYS", "LAG", "LANGUAGE", "LARGE",
    "LAST", "LATERAL", "LEAD", "LEADING", "LEAVE", "LEFT", "LENGTH", "LESS", "LEVEL", "LIKE",
    "LIMIT", "LIMITED", "LINES", "LIST", "LOAD", "LOCAL", "LOCALTIME", "LOCALTIMESTAMP",
    "LOCATION", "LOCATOR", "LOCK", "LOCKS", "LOG", "LOGED", "LONG", "LOOP", "LOWER", "MAP",
    "MATCH", "MATERIALIZED", "MAX", "MAXLEN", "MEMBER", "MERGE", "METHOD", "METRICS", "MIN",
    "MINUS", "MINUTE", "MISSING", "MOD", "MODE", "MODIFIES", "MODIFY", "MODULE", "MONTH",
    "MULTI", "MULTISET", "NAME", "NAMES", "NATIONAL", "NATURAL", "NCHAR", "NCLOB", "NEW",
    "NEXT", "NO", "NONE", "NOT", "NULL", "NULLIF", "NUMBER", "NUMERIC", "OBJECT", "OF",
    "OFFLINE", "OFFSET", "OLD", "ON", "ONLINE", "ONLY", "OPAQUE", "OPEN", "OPERATOR", "OPTION",
    "OR", "ORDER", "ORDINALITY", "OTHER", "OTHERS", "OUT", "OUTER", "OUTPUT", "OVER",
    "OVERLAPS", "OVERRIDE", "OWNER", "PAD", "PARALLEL", "PARAMETER", "PARAMETERS", "PARTIAL",
    "PARTITION", "PARTITIONED", "PARTITIONS", "PATH", "PERCENT", "PERCENTILE", "PERMISSION",
    "PERMISSIONS", "PIPE", "PIPELINED", "PLAN", "POOL", "POSITION", "PRECISION", "PREPARE",
    "PRESERVE", "PRIMARY", "PRIOR", "PRIVATE", "PRIVILEGES", "PROCEDURE", "PROCESSED",
    "PROJECT", "PROJECTION", "PROPERTY", "PROVISIONING", "PUBLIC", "PUT", "QUERY", "QUIT",
    "QUORUM", "RAISE", "RANDOM", "RANGE", "RANK", "RAW", "READ", "READS", "REAL", "REBUILD",
    "RECORD", "RECURSIVE", "REDUCE", "REF", "REFERENCE", "REFERENCES", "REFERENCING", "REGEXP",
    "REGION", "REINDEX", "RELATIVE", "RELEASE", "REMAINDER", "RENAME", "REPEAT", "REPLACE",
    "REQUEST", "RESET", "RESIGNAL", "RESOURCE", "RESPONSE", "RESTORE", "RESTRICT", "RESULT",
    "RETURN", "RETURNING", "RETURNS", "REVERSE", "REVOKE", "RIGHT", "ROLE", "ROLES", "ROLLBACK",
    "ROLLUP", "ROUTINE", "ROW", "ROWS", "RULE", "RULES", "SAMPLE", "SATISFIES", "SAVE",
    "SAVEPOINT", "SCAN", "SCHEMA", "SCOPE", "SCROLL", "SEARCH", "SECOND", "SECTION", "SEGMENT",
    "SEGMENTS", "SELECT", "SELF", "SEMI", "SENSITIVE", "SEPARATE", "SEQUENCE", "SERIALIZABLE",
    "SESSION", "SET", "SETS", "SHARD", "SHARE", "SHARED", "SHORT", "SHOW", "SIGNAL", "SIMILAR",
    "SIZE", "SKEWED", "SMALLINT", "SNAPSHOT", "SOME", "SOURCE", "SPACE", "SPACES", "SPARSE",
    "SPECIFIC", "SPECIFICTYPE", "SPLIT", "SQL", "SQLCODE", "SQLERROR", "SQLEXCEPTION",
    "SQLSTATE", "SQLWARNING", "START", "STATE", "STATIC", "STATUS", "STORAGE", "STORE",
    "STORED", "STREAM", "STRING", "STRUCT", "STYLE", "SUB", "SUBMULTISET", "SUBPARTITION",
    "SUBSTRING", "SUBTYPE", "SUM", "SUPER", "SYMMETRIC", "SYNONYM", "SYSTEM", "TABLE",
    "TABLESAMPLE", "TEMP", "TEMPORARY", "TERMINATED", "TEXT", "THAN", "THEN", "THROUGHPUT",
    "TIME", "TIMESTAMP", "TIMEZONE", "TINYINT", "TO", "TOKEN", "TOTAL", "TOUCH", "TRAILING",
    "TRANSACTION", "TRANSFORM", "TRANSLATE", "TRANSLATION", "TREAT", "TRIGGER", "TRIM", "TRUE",
    "TRUNCATE", "TTL", "TUPLE", "TYPE", "UNDER", "UNDO", "UNION", "UNIQUE", "UNIT", "UNKNOWN",
    "UNLOGGED", "UNNEST", "UNPROCESSED", "UNSIGNED", "UNTIL", "UPDATE", "UPPER", "URL", "USAGE",
    "USE", "USER", "USERS", "USING", "UUID", "VACUUM", "VALUE", "VALUED", "VALUES", "VARCHAR",
    "VARIABLE", "VARIANCE", "VARINT", "VARYING", "VIEW", "VIEWS", "VIRTUAL", "VOID", "WAIT",
    "WHEN", "WHENEVER", "WHERE", "WHILE", "WINDOW", "WITH", "WITHIN", "WITHOUT", "WORK",
    "WRAPPED", "WRITE", "YEAR", "ZONE",
};

static int upper(int c) { return c >= 'a' && c <= 'z' ? c - 32 : c; }

/* Compare text[0..len) with a NUL-terminated upper-case word, folding ASCII case. */
int kdb_expr_word_cmp(const char *text, size_t len, const char *word) {
    size_t i = 0;
    for (; i < len && word[i]; i++) {
        int a = upper((unsigned char)text[i]), b = (unsigned char)word[i];
        if (a != b) return a < b ? -1 : 1;
    }
    if (i < len) return 1;
    return word[i] ? -1 : 0;
}

bool kdb_expr_reserved(const char *text, size_t len) {
    size_t lo = 0, hi = sizeof kdb_reserved / sizeof kdb_reserved[0];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = kdb_expr_word_cmp(text, len, kdb_reserved[mid]);
        if (c == 0) return true;
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return false;
}

/* ---- lexer -------------------------------------------------------------------------------- */

bool kdb_expr_word_char(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* DynamoDB's words first ("near": from the token before, `from`, to this character), then
 * keel's (the byte offset, what was expected). */
static keel_status bad_char(const char *t, size_t from, size_t i) {
    unsigned char c = (unsigned char)t[i];
    int near = (int)(i + 1 - from > 64 ? 64 : i + 1 - from);
    if (c >= 0x20 && c < 0x7f)
        return keel__fail(KEEL_ESYNTAX, "Syntax error; token: \"%c\", near: \"%.*s\" "
                          "(position %zu: unexpected token '%c'; expected a name, a "
                          "placeholder, an operator or a parenthesis)", c, near, t + from, i, c);
    return keel__fail(KEEL_ESYNTAX, "Syntax error; token: \"\\x%02x\" (position %zu: "
                      "unexpected token '\\x%02x'; expected a name, a placeholder, an "
                      "operator or a parenthesis)", c, i, c);
}

/* Lex t[0..len) into toks (capacity len + 1: every token is at least one byte, plus KDB_T_END). */
keel_status kdb_expr_lex(const char *t, size_t len, kdb_tok *toks, uint32_t *n_out) {
    uint32_t n = 0;
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)t[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            i++;
            continue;
        }
        kdb_tok *k = &toks[n++];
        k->pos = (uint32_t)i;
        k->len = 1;
        size_t j = i + 1;
        switch (c) {
        case '(': k->kind = KDB_T_LP; break;
        case ')': k->kind = KDB_T_RP; break;
        case '[': k->kind = KDB_T_LB; break;
        case ']': k->kind = KDB_T_RB; break;
        case ',': k->kind = KDB_T_COMMA; break;
        case '.': k->kind = KDB_T_DOT; break;
        case '=': k->kind = KDB_T_EQ; break;
        case '+': k->kind = KDB_T_PLUS; break;
        case '-': k->kind = KDB_T_MINUS; break;
        case '<':
            if (j < len && t[j] == '>') k->kind = KDB_T_NE, j++;
            else if (j < len && t[j] == '=') k->kind = KDB_T_LE, j++;
            else k->kind = KDB_T_LT;
            break;
        case '>':
            if (j < len && t[j] == '=') k->kind = KDB_T_GE, j++;
            else k->kind = KDB_T_GT;
            break;
        case '#':
        case ':':
            k->kind = c == '#' ? KDB_T_HASH : KDB_T_COLON;
            while (j < len && kdb_expr_word_char((unsigned char)t[j])) j++;
            if (j == i + 1) {
                if (j < len) return bad_char(t, i, j);
                return keel__fail(KEEL_ESYNTAX, "Syntax error; token: \"<EOF>\", near: \"%c\" "
                                  "(position %zu: unexpected end of expression; expected a "
                                  "placeholder name after '%c')", c, j, c);
            }
            if (j - i > KDB_EXPR_MAX_PH)
                return keel__fail(KEEL_EVALIDATION, "ExpressionAttribute%s placeholder at "
                                  "position %zu is longer than %u bytes",
                                  c == '#' ? "Name" : "Value", i, KDB_EXPR_MAX_PH);
            break;
        default:
            if (c >= '0' && c <= '9') {
                k->kind = KDB_T_NUM;
                while (j < len && t[j] >= '0' && t[j] <= '9') j++;
            } else if (kdb_expr_word_char(c)) {
                k->kind = KDB_T_NAME;
                while (j < len && kdb_expr_word_char((unsigned char)t[j])) j++;
            } else {
                return bad_char(t, n >= 2 ? toks[n - 2].pos : i, i);
            }
        }
        k->len = (uint32_t)(j - i);
        i = j;
    }
    toks[n].kind = KDB_T_END;
    toks[n].pos = (uint32_t)len;
    toks[n].len = 0;
    *n_out = n;
    return KEEL_OK;
}

/* ---- substitutions ------------------------------------------------------------------------ */

/* Find `key` in the CBOR map m[0..len) (pairs counted from 0, padding never present in a
 * substitution map). 1 found (*index_out, *val_out set), 0 absent. */
int kdb_expr_map_find(const uint8_t *m, size_t len, const char *key, size_t key_len,
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
        if (!kdb_expr_word_char(s[i])) return false;
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
        if (names && v.size > 65535)    /* an item's attribute name limit */
            return keel__fail(KEEL_EVALIDATION, "ExpressionAttributeNames contains invalid "
                              "value: attribute name of %zu bytes (the limit is 65535); for "
                              "key: %.*s", v.size, (int)name_len, (const char *)name);
        n++;
    }
    if (r < 0 || n != map.count)
        return keel__fail(KEEL_EVALIDATION, "%s must be a map of placeholders", what);
    *count_out = n;
    return KEEL_OK;
}

/* The last map of each kind (0 names, 1 values) this thread checked and found good. */
#define MEMO_MAX 256u
static _Thread_local struct {
    size_t len, count;
    uint8_t b[MEMO_MAX];
} memo[2];

/* subst_map, through this thread's memo of the last good map of the kind. */
static keel_status subst_map_memo(const uint8_t *m, size_t len, bool names, size_t *count_out) {
    if (!m || len == 0 || len > MEMO_MAX) return subst_map(m, len, names, count_out);
    int k = names ? 0 : 1;
    if (memo[k].len == len && memcmp(memo[k].b, m, len) == 0) {
        *count_out = memo[k].count;
        return KEEL_OK;
    }
    keel_status st = subst_map(m, len, names, count_out);
    if (st == KEEL_OK) {
        memcpy(memo[k].b, m, len);
        memo[k].len = len;
        memo[k].count = *count_out;
    }
    return st;
}

keel_status kdb_subst_init(kdb_subst *s, const void *names, size_t names_len,
                           const void *values, size_t values_len) {
    if (!s) return keel__fail(KEEL_EINVAL, "kdb_subst_init: NULL substitution");
    memset(s, 0, sizeof *s);
    keel_status st = subst_map_memo(names, names_len, true, &s->n_names);
    if (st != KEEL_OK) return st;
    st = subst_map_memo(values, values_len, false, &s->n_values);
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
