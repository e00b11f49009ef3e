/*
 * test_db_vector_elems.c: a stored float32 vector read as the list of numbers it stands for
 * (src/db/item.c kdb_vec_elem, number.c kdb_f32_text, expr_eval.c): every condition is
 * evaluated with the vector and with a plain list of the same numbers, on the stored (padded)
 * and the plain item, and must give the expected truth all four ways; projections of
 * elements equal the list's; an element's text is the shortest decimal that reads back as
 * the float32, and the bisection that finds it agrees with trying every digit count.
 */
#include "harness.h"
#include "util.h"

#include "db/db.h"
#include "db_notation.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct cond_case {
    const char *expr;
    int want;
} cond_case;

typedef struct proj_case {
    const char *expr;
    const char *want;   /* the notation of the expected map */
} proj_case;

/* A float32 vector reads as the list of numbers it stands for: element i is the shortest
 * decimal that reads back as its float32. Every condition is evaluated with X the vector
 * and X a list of those numbers, on the stored (padded) and the plain item: all four must
 * agree with the expected truth; projections of elements equal the list's. */
static const char *const VEC_VALUES =
    "{\":one\": 1, \":two\": 2, \":three\": 3, \":four\": 4, \":five\": 5,"
    " \":l1234\": [1, 2, 3, 4], \":l1235\": [1, 2, 3, 5], \":L\": \"L\", \":N\": \"N\","
    " \":tenth\": 0.1, \":third\": 0.33333334, \":third64\": 0.3333333333333333,"
    " \":max\": 3.4028235e38, \":min\": 1e-45,"
    " \":lw\": [0.1, 0.33333334, 3.4028235e38, 1e-45]}";

static void vec_item(kdb_buf *item) {
    static const float v[4] = {1.0f, 2.0f, 3.0f, 4.0f};
    const float w[4] = {0.1f, 1.0f / 3.0f, 3.4028235e38f, 1e-45f};
    kdb_enc_map(item, 5);
    kdb_enc_text(item, "n", 1);
    kdb_enc_uint(item, 42);
    kdb_enc_text(item, "v", 1);
    kdb_enc_tag(item, KDB_TAG_F32LE);
    kdb_enc_bytes(item, v, sizeof v);
    kdb_enc_text(item, "l", 1);
    kdb_enc_array(item, 4);
    for (uint64_t i = 1; i <= 4; i++) kdb_enc_uint(item, i);
    kdb_enc_text(item, "w", 1);
    kdb_enc_tag(item, KDB_TAG_F32LE);
    kdb_enc_bytes(item, w, sizeof w);
    kdb_enc_text(item, "lw", 2);
    kdb_buf lw = {0};
    cbor("[0.1, 0.33333334, 3.4028235e38, 1e-45]", &lw);
    kdb_buf_put(item, lw.p, lw.len);
    kdb_buf_free(&lw);
}

static void test_conditions_and_projections(void) {
    kdb_buf item = {0}, stored = {0}, values = {0}, names = {0}, out = {0}, want = {0};
    vec_item(&item);
    REQUIRE(!item.failed);
    REQUIRE_OK(kdb_item_store_form(item.p, item.len, &stored));
    cbor(VEC_VALUES, &values);
    cbor("{\"#unused\": \"n\"}", &names);
    static const cond_case cases[] = {   /* X: v (vector) or l (list); W: w or lw */
        {"X[0] = :one", 1}, {"X[3] = :four", 1}, {"X[1] > :one", 1}, {"X[1] < :one", 0},
        {"X[2] between :two and :four", 1}, {"X[0] IN (:three, :one)", 1},
        {"attribute_exists(X[3])", 1}, {"attribute_exists(X[4])", 0},
        {"attribute_not_exists(X[4])", 1}, {"X[4] <> :one", 1}, {"X[4] = :one", 0},
        {"contains(X, :three)", 1}, {"contains(X, :five)", 0}, {"contains(X, :l1234)", 0},
        {"X = :l1234", 1}, {"X = :l1235", 0}, {"X <> :l1234", 0}, {":l1234 = X", 1},
        {"X IN (:l1235, :l1234)", 1}, {"X = l", 1}, {"X = n", 0},
        {"attribute_type(X, :L)", 1}, {"attribute_type(X[0], :N)", 1},
        {"size(X) = :four", 1}, {"size(X[0]) = :one", 0}, {"X[0].a = :one", 0},
        {"X[0][0] = :one", 0}, {"attribute_exists(X[0][0])", 0}, {"X[1] = X[1]", 1},
        {"X[0] < X[1]", 1}, {"X[1] = :two AND X[2] = :three", 1},
        {"W[0] = :tenth", 1}, {"W[1] = :third", 1}, {"W[1] = :third64", 0},
        {"W[2] = :max", 1}, {"W[3] = :min", 1}, {"W = :lw", 1}, {"W[0] < :third", 1},
        {"contains(W, :tenth)", 1}, {"W = X", 0},
    };
    for (size_t i = 0; i < H_COUNT(cases); i++) {
        for (int form = 0; form < 4; form++) {
            char text[128];
            size_t o = 0;
            for (const char *c = cases[i].expr; *c && o + 3 < sizeof text; c++) {
                if (*c == 'X') text[o++] = form & 1 ? 'l' : 'v';
                else if (*c == 'W') {
                    if (form & 1) text[o++] = 'l';
                    text[o++] = 'w';
                } else text[o++] = *c;
            }
            text[o] = 0;
            kdb_subst s;
            kdb_expr *e = NULL;
            REQUIRE_OK(kdb_subst_init(&s, names.p, names.len, values.p, values.len));
            keel_status st = kdb_expr_parse(KDB_EXPR_CONDITION, text, strlen(text), &s, &e);
            CHECKF(st == KEEL_OK, "%s: %s", text, keel_errmsg());
            if (st != KEEL_OK) continue;
            const kdb_buf *it = form & 2 ? &item : &stored;
            int got = kdb_expr_eval(e, it->p, it->len);
            CHECKF(got == cases[i].want, "%s (%s): got %d, want %d", text,
                   form & 2 ? "plain" : "stored", got, cases[i].want);
            kdb_expr_free(e);
        }
    }
    static const proj_case proj[] = {
        {"v[2], v[0]", "{\"v\": [1, 3]}"},
        {"v[3], n", "{\"n\": 42, \"v\": [4]}"},
        {"v[1], l[1]", "{\"v\": [2], \"l\": [2]}"},
        {"w[1], w[0]", "{\"w\": [0.1, 0.33333334]}"},
        {"w[2], w[3]", "{\"w\": [3.4028235e38, 1e-45]}"},
        {"v[4]", "{}"},
        {"v[0].x, v[1][0], n", "{\"n\": 42}"},
    };
    for (size_t i = 0; i < H_COUNT(proj); i++) {
        kdb_subst s;
        kdb_expr *e = NULL;
        REQUIRE_OK(kdb_subst_init(&s, names.p, names.len, values.p, values.len));
        REQUIRE_OK(kdb_expr_parse(KDB_EXPR_PROJECTION, proj[i].expr, strlen(proj[i].expr), &s, &e));
        for (int plain = 0; plain < 2; plain++) {
            const kdb_buf *it = plain ? &item : &stored;
            CHECK_OK(kdb_expr_project(e, it->p, it->len, &out));
            cbor(proj[i].want, &want);
            kdb_val a, b;
            CHECKF(kdb_item_open(out.p, out.len, &a) && kdb_item_open(want.p, want.len, &b) &&
                   kdb_val_equal(&a, &b), "%s: projection differs", proj[i].expr);
            size_t size;
            CHECKF(kdb_item_check(out.p, out.len, &size) == KEEL_OK, "%s: %s", proj[i].expr,
                   keel_errmsg());
        }
        kdb_expr_free(e);
    }
    kdb_buf_free(&item);
    kdb_buf_free(&stored);
    kdb_buf_free(&values);
    kdb_buf_free(&names);
    kdb_buf_free(&out);
    kdb_buf_free(&want);
}

static void test_shortest_text(void) {
    /* An element is the shortest decimal that reads back as the float32. */
    static const struct { float f; const char *text; } texts[] = {
        {0.1f, "0.1"}, {1.0f / 3.0f, "0.33333334"}, {3.0f, "3"}, {-2.5f, "-2.5"},
        {3.4028235e38f, "3.4028235e+38"}, {1e-45f, "1e-45"}, {16777217.0f, "16777216"},
    };
    for (size_t i = 0; i < H_COUNT(texts); i++) {
        char buf[32];
        kdb_f32_text(texts[i].f, buf, sizeof buf);
        CHECKF(strcmp(buf, texts[i].text) == 0, "%s: got %s", texts[i].text, buf);
    }
    /* The bisection gives what trying 1, 2, ... 9 digits in turn gives: every power of two,
     * its neighbours, short decimals and 200,000 random bit patterns. */
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    for (uint32_t n = 0; n < 200000 + 4 * 254 + 2000; n++) {
        uint32_t bits;
        if (n < 4 * 254) bits = ((n / 4 + 1) << 23) + (n % 4 == 1) - (n % 4 == 2) + (n % 4 == 3 ? 0x80000000u : 0);
        else if (n < 4 * 254 + 2000) {
            float d = (float)(n - 4 * 254) / 100.0f;
            memcpy(&bits, &d, 4);
        } else {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            bits = (uint32_t)(seed >> 32);
        }
        float f;
        memcpy(&f, &bits, 4);
        if (!isfinite(f)) continue;
        char got[32], lin[32];
        kdb_f32_text(f, got, sizeof got);
        for (int prec = 1; prec <= 9; prec++) {
            snprintf(lin, sizeof lin, "%.*g", prec, (double)f);
            if (strtof(lin, NULL) == f) break;
        }
        if (strcmp(got, lin) != 0) {
            CHECKF(false, "%08x: got %s, want %s", bits, got, lin);
            break;
        }
    }
}

int main(int argc, char **argv) {
    static const h_test tests[] = {
        H_TEST(test_conditions_and_projections), H_TEST(test_shortest_text),
    };
    return h_main(argc, argv, tests, H_COUNT(tests));
}
