/*
 * fuzz_expr.c: libFuzzer target for the expression engine (src/db/expr_parse.c,
 * expr_eval.c and update.c), the surface that takes a caller's expression text.
 *
 * The input is expression text. It is parsed as each kind (condition, key condition,
 * projection, update) with fixed ExpressionAttributeNames/Values; what parses is then
 * used: conditions are evaluated against a fixed item and against no item, key conditions
 * are extracted for a fixed schema, projections are applied to the fixed item, updates are
 * checked against the key schema and applied to the fixed item and to a bare key (an
 * absent item), and their UPDATED_OLD/UPDATED_NEW projections taken.
 * Promises checked (a broken one aborts): a failure is KEEL_ESYNTAX or KEEL_EVALIDATION
 * with a detail message; evaluation gives 0 or 1; a projection is a valid item; an update
 * gives a well-formed map that is a valid item unless it nests too deeply, and never
 * touches the key attributes; when the update says its result needs no other check
 * (kdb_update_info.checked, on the stored item), the whole check agrees, plain included.
 * A parse bound to other values (kdb_expr_bind, with a second values map of the same
 * placeholders in another order and of other types, and with the map of the parse itself)
 * fails exactly when, and with the message, a fresh parse with those values fails, and
 * otherwise evaluates and applies as that fresh parse does. ASan,
 * UBSan and LSan catch the rest (reads outside the text, leaks of a failed parse).
 *
 * Expressions have no public entry point of their own yet (they reach users through
 * queries), so this target includes the internal headers (db.h, and expr.h for binding)
 * like tests/c does (scripts/check-layers.py lists it in FUZZ_INTERNAL).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "db/db.h"
#include "db/expr.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PROMISE(c)                                                                  \
    do {                                                                            \
        if (!(c)) {                                                                 \
            fprintf(stderr, "broken promise: %s (%s:%d) [%s]\n", #c, __FILE__, __LINE__, \
                    keel_errmsg());                                                 \
            abort();                                                                \
        }                                                                           \
    } while (0)

static kdb_buf item, keymap, names, values, values2;

static void text(kdb_buf *b, const char *s) { kdb_enc_text(b, s, strlen(s)); }

static void build(void) {
    /* {"pk": "p", "sk": 5, "a": 1, "s": "hello", "b": h'00ff', "l": [1, "x", [2]],
     *  "m": {"a": {"b": 3}, "l": [true, null]}, "ss": SS["x", "y"], "ns": NS[1, 2],
     *  "v": float32 vector [0.1, -2, 1e-45] (read as a list of numbers)} */
    kdb_enc_map(&item, 10);
    text(&item, "pk"); text(&item, "p");
    text(&item, "sk"); kdb_enc_uint(&item, 5);
    text(&item, "a"); kdb_enc_uint(&item, 1);
    text(&item, "s"); text(&item, "hello");
    text(&item, "b"); kdb_enc_bytes(&item, "\x00\xff", 2);
    text(&item, "l"); kdb_enc_array(&item, 3);
    kdb_enc_uint(&item, 1); text(&item, "x"); kdb_enc_array(&item, 1); kdb_enc_uint(&item, 2);
    text(&item, "m"); kdb_enc_map(&item, 2);
    text(&item, "a"); kdb_enc_map(&item, 1); text(&item, "b"); kdb_enc_uint(&item, 3);
    text(&item, "l"); kdb_enc_array(&item, 2); kdb_enc_bool(&item, true); kdb_enc_null(&item);
    text(&item, "ss"); kdb_enc_tag(&item, KDB_TAG_SET); kdb_enc_array(&item, 2);
    text(&item, "x"); text(&item, "y");
    text(&item, "ns"); kdb_enc_tag(&item, KDB_TAG_SET); kdb_enc_array(&item, 2);
    kdb_enc_uint(&item, 1); kdb_enc_uint(&item, 2);
    static const float vec[3] = {0.1f, -2.0f, 1e-45f};
    text(&item, "v"); kdb_enc_tag(&item, KDB_TAG_F32LE); kdb_enc_bytes(&item, vec, sizeof vec);

    kdb_enc_map(&keymap, 2);
    text(&keymap, "pk"); text(&keymap, "p");
    text(&keymap, "sk"); kdb_enc_uint(&keymap, 5);

    kdb_enc_map(&names, 3);
    text(&names, "#a"); text(&names, "a");
    text(&names, "#n"); text(&names, "name");
    text(&names, "#d"); text(&names, "a.b");

    kdb_enc_map(&values, 10);
    text(&values, ":a"); kdb_enc_uint(&values, 1);
    text(&values, ":n"); kdb_enc_negint(&values, 4);
    text(&values, ":s"); text(&values, "he");
    text(&values, ":b"); kdb_enc_bytes(&values, "\x00", 1);
    text(&values, ":t"); text(&values, "SS");
    text(&values, ":l"); kdb_enc_array(&values, 1); kdb_enc_uint(&values, 2);
    text(&values, ":p"); text(&values, "p");
    text(&values, ":ss"); kdb_enc_tag(&values, KDB_TAG_SET); kdb_enc_array(&values, 2);
    text(&values, "y"); text(&values, "z");
    text(&values, ":ns"); kdb_enc_tag(&values, KDB_TAG_SET); kdb_enc_array(&values, 1);
    kdb_enc_uint(&values, 2);
    text(&values, ":big"); kdb_enc_tag(&values, KDB_TAG_DECIMAL); kdb_enc_array(&values, 2);
    kdb_enc_uint(&values, 125); kdb_enc_uint(&values, 9);
    /* The same placeholders, other order and types (and :t a type name that is valid). */
    kdb_enc_map(&values2, 10);
    text(&values2, ":big"); text(&values2, "x");
    text(&values2, ":ns"); kdb_enc_uint(&values2, 7);
    text(&values2, ":ss"); kdb_enc_tag(&values2, KDB_TAG_SET); kdb_enc_array(&values2, 1);
    kdb_enc_uint(&values2, 3);
    text(&values2, ":p"); kdb_enc_uint(&values2, 9);
    text(&values2, ":l"); text(&values2, "not a list");
    text(&values2, ":t"); text(&values2, "N");
    text(&values2, ":b"); kdb_enc_array(&values2, 0);
    text(&values2, ":s"); kdb_enc_bytes(&values2, "h", 1);
    text(&values2, ":n"); kdb_enc_uint(&values2, 1000);
    text(&values2, ":a"); kdb_enc_negint(&values2, 0);
    if (keymap.failed || item.failed || names.failed || values.failed || values2.failed) abort();
}

/* Bind parse `e` (of `kind`, text data[0..size)) to `vals` and compare with a fresh parse
 * against the same values: the same status and message; the same evaluation or update. */
static void check_bind(kdb_expr_kind kind, const uint8_t *data, size_t size, kdb_expr *e,
                       const kdb_buf *vals) {
    kdb_subst s;
    PROMISE(kdb_subst_init(&s, names.p, names.len, vals->p, vals->len) == KEEL_OK);
    kdb_expr *fresh = NULL;
    keel_status fst = kdb_expr_parse(kind, (const char *)data, size, &s, &fresh);
    char fmsg[512];
    snprintf(fmsg, sizeof fmsg, "%s", keel_errmsg());
    uint64_t used = 0;
    /* One more owner (refs 0 means one): the reference kdb_expr_bind takes over. */
    unsigned owners = atomic_load(&e->refs);
    atomic_store(&e->refs, owners ? owners + 1u : 2u);
    kdb_expr *b = NULL;
    keel_status bst = kdb_expr_bind(e, vals->p, vals->len, &used, &b);
    PROMISE(bst == fst);
    if (bst != KEEL_OK) {
        PROMISE(strcmp(keel_errmsg(), fmsg) == 0);
    } else {
        PROMISE(used == s.values_used);
        if (kind == KDB_EXPR_CONDITION) {
            PROMISE(kdb_expr_eval(b, item.p, item.len) == kdb_expr_eval(fresh, item.p, item.len));
            PROMISE(kdb_expr_eval(b, NULL, 0) == kdb_expr_eval(fresh, NULL, 0));
        } else if (kind == KDB_EXPR_UPDATE) {
            kdb_buf x = {0}, y = {0};
            keel_status xs = kdb_update_apply(b, item.p, item.len, &x);
            keel_status ys = kdb_update_apply(fresh, item.p, item.len, &y);
            PROMISE(xs == ys);
            PROMISE(xs != KEEL_OK || (x.len == y.len && memcmp(x.p, y.p, x.len) == 0));
            kdb_buf_free(&x);
            kdb_buf_free(&y);
        }
        kdb_expr_free(b);
    }
    kdb_expr_free(fresh);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    build();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!item.len) build();
    static const kdb_expr_kind kinds[] = {KDB_EXPR_CONDITION, KDB_EXPR_KEY_CONDITION,
                                          KDB_EXPR_PROJECTION, KDB_EXPR_UPDATE};
    kdb_buf out = {0};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        kdb_subst s;
        PROMISE(kdb_subst_init(&s, names.p, names.len, values.p, values.len) == KEEL_OK);
        kdb_expr *e = NULL;
        keel_status st = kdb_expr_parse(kinds[k], (const char *)data, size, &s, &e);
        if (st != KEEL_OK) {
            PROMISE(st == KEEL_ESYNTAX || st == KEEL_EVALIDATION);
            PROMISE(e == NULL && keel_errmsg()[0] != 0);
            continue;
        }
        PROMISE(e != NULL);
        st = kdb_subst_check_unused(&s);
        PROMISE(st == KEEL_OK || st == KEEL_EVALIDATION);
        if (kinds[k] == KDB_EXPR_CONDITION || kinds[k] == KDB_EXPR_UPDATE) {
            check_bind(kinds[k], data, size, e, &values2);
            check_bind(kinds[k], data, size, e, &values);
        }
        switch (kinds[k]) {
        case KDB_EXPR_KEY_CONDITION: {
            kdb_keycond kc;
            st = kdb_expr_keycond(e, "pk", KEEL_DB_KEY_S, "sk", KEEL_DB_KEY_N, &kc);
            PROMISE(st == KEEL_OK || st == KEEL_EVALIDATION);
            st = kdb_expr_keycond(e, "pk", KEEL_DB_KEY_S, NULL, KEEL_DB_KEY_NONE, &kc);
            PROMISE(st == KEEL_OK || st == KEEL_EVALIDATION);
        }
            /* fall through: a key condition is also a condition */
        case KDB_EXPR_CONDITION: {
            int r = kdb_expr_eval(e, item.p, item.len);
            PROMISE(r == 0 || r == 1);
            r = kdb_expr_eval(e, NULL, 0);
            PROMISE(r == 0 || r == 1);
            break;
        }
        case KDB_EXPR_PROJECTION: {
            PROMISE(kdb_expr_project(e, item.p, item.len, &out) == KEEL_OK);
            size_t isz;
            PROMISE(kdb_item_check(out.p, out.len, &isz) == KEEL_OK);
            break;
        }
        case KDB_EXPR_UPDATE:
            if (kdb_update_check(e, "pk", "sk") != KEEL_OK) break;
            for (int base = 0; base < 2; base++) {
                const kdb_buf *b = base ? &keymap : &item;
                kdb_update_info info;
                st = kdb_update_apply_ex(e, b->p, b->len, &out, &info);
                PROMISE(st == KEEL_OK || st == KEEL_EVALIDATION);
                if (st != KEEL_OK) continue;
                kdb_val m, v, was;
                PROMISE(kdb_item_open(out.p, out.len, &m) && m.len == out.len);
                size_t isz;
                st = kdb_item_check(out.p, out.len, &isz);
                PROMISE(st == KEEL_OK || st == KEEL_EVALIDATION);
                if (info.checked && !base) {    /* the stored item: the rest was checked */
                    bool plain;
                    PROMISE(kdb_item_check_plain(out.p, out.len, &isz, &plain) == KEEL_OK);
                    PROMISE(plain == info.plain);
                }
                /* The key attributes come through untouched. */
                PROMISE(kdb_item_attr(out.p, out.len, "pk", 2, &v) &&
                        kdb_item_attr(b->p, b->len, "pk", 2, &was) && kdb_val_equal(&v, &was));
                kdb_buf proj = {0};
                PROMISE(kdb_update_project(e, out.p, out.len, &proj) == KEEL_OK);
                PROMISE(kdb_item_open(proj.p, proj.len, &m) && m.len == proj.len);
                PROMISE(kdb_update_project(e, b->p, b->len, &proj) == KEEL_OK);
                PROMISE(kdb_item_check(proj.p, proj.len, &isz) == KEEL_OK);
                kdb_buf_free(&proj);
            }
            break;
        default:
            break;
        }
        kdb_expr_free(e);
    }
    kdb_buf_free(&out);
    return 0;
}
