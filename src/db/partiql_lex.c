/*
 * partiql_lex.c: PartiQL text -> tokens, one at a time (kdb_pq_next, db/partiql.h).
 *
 * Tokens: identifiers [A-Za-z_][A-Za-z0-9_$]* (keywords are identifiers the parser
 * recognizes, any case), "quoted identifiers" and 'strings' (a doubled quote stands for
 * one; the token keeps its quotes, the parser unescapes), numbers (digits[.digits][e[+-]
 * digits], or .digits), and punctuation: ( ) [ ] { } << >> , . : ; * ? = <> != < <= > >=
 * + -. Whitespace and `--` comments (to the end of the line) are skipped.
 *
 * The text is untrusted: every read is bounded by its length; a position is a 0-based
 * byte offset and always <= the length.
 */
#include "db/partiql.h"

static bool ident_start(int c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
static bool ident_char(int c) { return ident_start(c) || (c >= '0' && c <= '9') || c == '$'; }
static bool digit(int c) { return c >= '0' && c <= '9'; }

static keel_status lex_fail(uint32_t pos, const char *what) {
    return keel__fail(KEEL_ESYNTAX, "syntax error at position %u: %s", pos, what);
}

keel_status kdb_pq_next(kdb_pqlex *p) {
    const char *s = p->text;
    size_t i = p->at, n = p->len;
    for (;;) {
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
        if (i + 1 < n && s[i] == '-' && s[i + 1] == '-') { /* -- comment */
            while (i < n && s[i] != '\n') i++;
            continue;
        }
        break;
    }
    kdb_pqtok t = {KDB_PQT_END, (uint32_t)i, 0};
    if (i >= n) {
        p->t = t;
        p->at = (uint32_t)i;
        return KEEL_OK;
    }
    int c = (unsigned char)s[i];
    size_t j = i + 1;
    if (ident_start(c)) {
        while (j < n && ident_char((unsigned char)s[j])) j++;
        t.kind = KDB_PQT_IDENT;
    } else if (c == '"' || c == '\'') {
        for (;; j++) {
            if (j >= n) return lex_fail((uint32_t)i, c == '"' ? "unterminated quoted "
                                        "identifier" : "unterminated string");
            if (s[j] == c) {
                if (j + 1 < n && s[j + 1] == c) {
                    j++;
                    continue;
                }
                j++;
                break;
            }
        }
        t.kind = c == '"' ? KDB_PQT_QIDENT : KDB_PQT_STR;
    } else if (digit(c) || (c == '.' && j < n && digit((unsigned char)s[j]))) {
        while (j < n && digit((unsigned char)s[j])) j++;
        if (c != '.' && j < n && s[j] == '.') {
            j++;
            while (j < n && digit((unsigned char)s[j])) j++;
        }
        if (j < n && (s[j] == 'e' || s[j] == 'E')) {
            size_t k = j + 1;
            if (k < n && (s[k] == '+' || s[k] == '-')) k++;
            if (k < n && digit((unsigned char)s[k])) {
                j = k;
                while (j < n && digit((unsigned char)s[j])) j++;
            }
        }
        t.kind = KDB_PQT_NUM;
    } else {
        char d = j < n ? s[j] : 0;
        switch (c) {
        case '(': t.kind = KDB_PQT_LP; break;
        case ')': t.kind = KDB_PQT_RP; break;
        case '[': t.kind = KDB_PQT_LB; break;
        case ']': t.kind = KDB_PQT_RB; break;
        case '{': t.kind = KDB_PQT_LC; break;
        case '}': t.kind = KDB_PQT_RC; break;
        case ',': t.kind = KDB_PQT_COMMA; break;
        case '.': t.kind = KDB_PQT_DOT; break;
        case ':': t.kind = KDB_PQT_COLON; break;
        case '*': t.kind = KDB_PQT_STAR; break;
        case '?': t.kind = KDB_PQT_QMARK; break;
        case '=': t.kind = KDB_PQT_EQ; break;
        case '+': t.kind = KDB_PQT_PLUS; break;
        case '-': t.kind = KDB_PQT_MINUS; break;
        case ';': t.kind = KDB_PQT_SEMI; break;
        case '!':
            if (d != '=') return lex_fail((uint32_t)i, "unexpected character '!'");
            t.kind = KDB_PQT_NE, j++;
            break;
        case '<':
            if (d == '=') t.kind = KDB_PQT_LE, j++;
            else if (d == '>') t.kind = KDB_PQT_NE, j++;
            else if (d == '<') t.kind = KDB_PQT_LSET, j++;
            else t.kind = KDB_PQT_LT;
            break;
        case '>':
            if (d == '=') t.kind = KDB_PQT_GE, j++;
            else if (d == '>') t.kind = KDB_PQT_RSET, j++;
            else t.kind = KDB_PQT_GT;
            break;
        default:
            if (c >= 0x20 && c < 0x7f)
                return keel__fail(KEEL_ESYNTAX, "syntax error at position %zu: unexpected "
                                  "character '%c'", i, c);
            return keel__fail(KEEL_ESYNTAX, "syntax error at position %zu: unexpected byte "
                              "0x%02x", i, (unsigned)c);
        }
    }
    t.len = (uint32_t)(j - i);
    p->t = t;
    p->at = (uint32_t)j;
    return KEEL_OK;
}

