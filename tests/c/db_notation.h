/*
 * db_notation.h: items and values for the Database tests, written as text.
 *
 * cbor("...", &buf) encodes a small JSON-like notation with the kdb_enc_* encoders:
 * numbers (integers and decimals, DynamoDB's N syntax) are N, "text" is S (a backslash
 * takes the next byte literally), b"bytes" is B, true/false/null, [..] is L, {"k": v, ..}
 * is M, and <..> is a set (SS, NS or BS by its elements: tag 258 around an array). A typo
 * in a table aborts the test run with the offending text, rather than testing garbage.
 */
#ifndef KEEL_TEST_DB_NOTATION_H
#define KEEL_TEST_DB_NOTATION_H

#include "harness.h"

#include "db/db.h"

#include <ctype.h>

typedef struct jp {
    const char *s;
    bool bad;
} jp;

static H_UNUSED void j_ws(jp *p) {
    while (*p->s && isspace((unsigned char)*p->s)) p->s++;
}

static void j_value(jp *p, kdb_buf *b);

/* Count the elements of the container starting at p->s (after its opening bracket). */
static uint64_t j_count(const char *s, char close) {
    int depth = 0;
    uint64_t n = 0;
    bool any = false, in_str = false;
    for (; *s; s++) {
        char c = *s;
        if (in_str) {
            if (c == '\\' && s[1]) s++;
            else if (c == '"') in_str = false;
            continue;
        }
        if (c == '"') in_str = true;
        if (!isspace((unsigned char)c) && depth == 0 && c != close) any = true;
        if (c == '[' || c == '{' || c == '<') depth++;
        else if (c == ']' || c == '}' || c == '>') {
            if (depth == 0) break;
            depth--;
        } else if (c == ',' && depth == 0) n++;
    }
    (void)close;
    return any ? n + 1 : 0;
}

static void j_string(jp *p, kdb_buf *b, bool bytes) {
    char tmp[8192];
    size_t n = 0;
    p->s++; /* opening quote */
    while (*p->s && *p->s != '"' && n < sizeof tmp) {
        if (*p->s == '\\' && p->s[1]) p->s++;
        tmp[n++] = *p->s++;
    }
    if (*p->s != '"') {
        p->bad = true;
        return;
    }
    p->s++;
    if (bytes) kdb_enc_bytes(b, tmp, n);
    else kdb_enc_text(b, tmp, n);
}

static void j_value(jp *p, kdb_buf *b) {
    j_ws(p);
    char c = *p->s;
    if (c == '"') {
        j_string(p, b, false);
    } else if (c == 'b' && p->s[1] == '"') {
        p->s++;
        j_string(p, b, true);
    } else if (c == '[' || c == '{' || c == '<') {
        char close = c == '[' ? ']' : c == '{' ? '}' : '>';
        p->s++;
        uint64_t n = j_count(p->s, close);
        if (c == '<') kdb_enc_tag(b, KDB_TAG_SET);
        if (c == '{') kdb_enc_map(b, n);
        else kdb_enc_array(b, n);
        for (uint64_t i = 0; i < n; i++) {
            if (i) {
                j_ws(p);
                if (*p->s != ',') {
                    p->bad = true;
                    return;
                }
                p->s++;
            }
            if (c == '{') {
                j_ws(p);
                j_string(p, b, false);
                j_ws(p);
                if (*p->s != ':') {
                    p->bad = true;
                    return;
                }
                p->s++;
            }
            j_value(p, b);
        }
        j_ws(p);
        if (*p->s != close) {
            p->bad = true;
            return;
        }
        p->s++;
    } else if (!strncmp(p->s, "true", 4)) {
        kdb_enc_bool(b, true);
        p->s += 4;
    } else if (!strncmp(p->s, "false", 5)) {
        kdb_enc_bool(b, false);
        p->s += 5;
    } else if (!strncmp(p->s, "null", 4)) {
        kdb_enc_null(b);
        p->s += 4;
    } else {
        const char *start = p->s;
        while (*p->s && (isalnum((unsigned char)*p->s) || strchr("+-.", *p->s))) p->s++;
        kdb_num x;
        if (p->s == start || kdb_num_parse(start, (size_t)(p->s - start), &x) != KEEL_OK) {
            p->bad = true;
            return;
        }
        kdb_enc_num(b, &x);
    }
}

/* Encode `text` into `b` (reset first); aborts the test run on a typo in a table. */
static H_UNUSED void cbor(const char *text, kdb_buf *b) {
    b->len = 0;
    b->failed = false;
    jp p = {text, false};
    j_value(&p, b);
    j_ws(&p);
    if (p.bad || *p.s || b->failed) {
        fprintf(stderr, "test notation error in: %s\n", text);
        abort();
    }
}

#endif /* KEEL_TEST_DB_NOTATION_H */
