/*
 * test_db_logic.c: the Database's write logic through its public API: conditional writes,
 * update expressions, ReturnValues, transactions.
 *
 * A table of DynamoDB's documented update examples (the developer guide's ProductCatalog
 * item) and of its validation errors, each with the item before, the expression, and the
 * item after or the error; conditions and ReturnValues on put, delete and update; every
 * transaction action kind, cancellation reasons, validation of whole transactions and
 * TransactGetItems. Threads: conditional puts racing on one key (exactly one wins), and
 * transactions against concurrent writers and TransactGetItems readers (no lost update,
 * no partial view). Crash: the file cut at every byte of a transaction's append reopens
 * with the transaction whole or absent.
 *
 * The racing tests are small enough to run under ThreadSanitizer too:
 *   meson setup build-tsan -Dbuildtype=debug -Dpython=disabled -Db_sanitize=thread \
 *       -Db_lundef=false && ninja -C build-tsan tests/c/test_db_logic && \
 *   build-tsan/tests/c/test_db_logic test_race_conditional_put test_tx_concurrent
 * Items are written in db_util.h's CBOR notation: {"pk": "k", "n": 1, "s": <"a", "b">}.
 */
#include "db_util.h"

#include <pthread.h>
#include <stdlib.h>

/* ---- helpers ------------------------------------------------------------------------------ */

static const keel_db_schema pk_schema = {"pk", KEEL_DB_KEY_S, NULL, KEEL_DB_KEY_NONE};

static keel_db *mem_db(void) {
    keel_db *db = NULL;
    if (keel_db_open_memory(NULL, &db) != KEEL_OK) return NULL;
    if (keel_db_create_table(db, "tbl", &pk_schema) != KEEL_OK) {
        keel_db_free(db);
        return NULL;
    }
    return db;
}

/* Do the encoded item p[0..len) and the notation `want` hold the same attributes? */
static bool same(const uint8_t *p, size_t len, const char *want) {
    uint8_t *keep;
    kdb_val w = val_of(want, &keep), g;
    bool ok = p && kdb_item_open(p, len, &g) && kdb_val_equal(&g, &w);
    free(keep);
    return ok;
}

static keel_status put(keel_db *db, const char *notation) {
    size_t len;
    uint8_t *item = cbdup(notation, &len);
    keel_status st = keel_db_put_item(db, "tbl", item, len);
    free(item);
    return st;
}

/* The item with key pk "k" (or `pk`) as it is stored now, compared with `want` (NULL:
 * absent). */
static bool item_is(keel_db *db, const char *pk, const char *want) {
    kdb_buf key = {0};
    kdb_enc_map(&key, 1);
    kdb_enc_text(&key, "pk", 2);
    kdb_enc_text(&key, pk, strlen(pk));
    keel_view v;
    keel_status st = keel_db_get_item(db, "tbl", key.p, key.len, &v);
    kdb_buf_free(&key);
    if (!want) return st == KEEL_NOTFOUND;
    return st == KEEL_OK && same(v.data, v.len, want);
}

typedef struct enc {
    uint8_t *p;
    size_t len;
} enc;

static enc E(const char *notation) {
    enc e = {NULL, 0};
    if (notation) e.p = cbdup(notation, &e.len);
    return e;
}

/* ---- updates: DynamoDB's examples and errors ---------------------------------------------- */

typedef struct ucase {
    const char *before;     /* item with pk "k", or NULL: absent */
    const char *update;
    const char *names, *values;
    keel_status want;
    const char *after;      /* KEEL_OK: the item after; otherwise a piece of the message */
} ucase;

#define PC "\"pk\": \"k\", "
static const ucase ucases[] = {
    /* SET: adding and modifying attributes (Expressions.UpdateExpressions, SET). */
    {"{" PC "\"Price\": 100}", "SET ProductCategory = :c, Price = :p", NULL,
     "{\":c\": \"Hardware\", \":p\": 60}", KEEL_OK,
     "{" PC "\"Price\": 60, \"ProductCategory\": \"Hardware\"}"},
    {"{" PC "\"Price\": 100}", "SET RelatedItems = :ri, ProductReviews = :pr", NULL,
     "{\":ri\": [\"Hammer\", \"Nails\"], \":pr\": {\"FiveStar\": [\"Best product ever!\"]}}",
     KEEL_OK, "{" PC "\"Price\": 100, \"RelatedItems\": [\"Hammer\", \"Nails\"], "
              "\"ProductReviews\": {\"FiveStar\": [\"Best product ever!\"]}}"},
    {"{" PC "\"RelatedItems\": [\"Hammer\", \"Nails\"]}", "SET RelatedItems[1] = :ri", NULL,
     "{\":ri\": \"Screwdriver\"}", KEEL_OK,
     "{" PC "\"RelatedItems\": [\"Hammer\", \"Screwdriver\"]}"},
    {"{" PC "\"ProductReviews\": {\"FiveStar\": [\"a\"]}}", "SET #pr.#5star[1] = :r5, #pr.#3star = :r3",
     "{\"#pr\": \"ProductReviews\", \"#5star\": \"FiveStar\", \"#3star\": \"ThreeStar\"}",
     "{\":r5\": \"Very happy with my purchase\", \":r3\": [\"Just OK - not that great\"]}", KEEL_OK,
     "{" PC "\"ProductReviews\": {\"FiveStar\": [\"a\", \"Very happy with my purchase\"], "
     "\"ThreeStar\": [\"Just OK - not that great\"]}}"},
    {"{" PC "\"Price\": 100}", "SET Price = Price - :p", NULL, "{\":p\": 15}", KEEL_OK,
     "{" PC "\"Price\": 85}"},
    {"{" PC "\"Price\": 100}", "SET Price = Price + :p", NULL, "{\":p\": d\"0.5\"}", KEEL_OK,
     "{" PC "\"Price\": d\"100.5\"}"},
    {"{" PC "\"ri\": [\"Hammer\"]}", "SET #ri = list_append(#ri, :vals)", "{\"#ri\": \"ri\"}",
     "{\":vals\": [\"Screwdriver\", \"Hacksaw\"]}", KEEL_OK,
     "{" PC "\"ri\": [\"Hammer\", \"Screwdriver\", \"Hacksaw\"]}"},
    {"{" PC "\"ri\": [\"Hammer\"]}", "SET #ri = list_append(:vals, #ri)", "{\"#ri\": \"ri\"}",
     "{\":vals\": [\"Chisel\"]}", KEEL_OK, "{" PC "\"ri\": [\"Chisel\", \"Hammer\"]}"},
    {"{" PC "\"Price\": 100}", "SET Price = if_not_exists(Price, :p)", NULL, "{\":p\": 1}",
     KEEL_OK, "{" PC "\"Price\": 100}"},
    {"{" PC "\"x\": 1}", "SET Price = if_not_exists(Price, :p)", NULL, "{\":p\": 1}", KEEL_OK,
     "{" PC "\"x\": 1, \"Price\": 1}"},
    {"{" PC "\"l\": [1]}", "SET l = list_append(if_not_exists(l, :e), :v)", NULL,
     "{\":e\": [], \":v\": [2]}", KEEL_OK, "{" PC "\"l\": [1, 2]}"},
    /* Every operand reads the item as it was: a swap. */
    {"{" PC "\"a\": 1, \"b\": 2}", "SET a = b, b = a", NULL, NULL, KEEL_OK,
     "{" PC "\"a\": 2, \"b\": 1}"},
    /* SET past the end of a list appends, several in index order. */
    {"{" PC "\"l\": [0, 1, 2]}", "SET l[10] = :x, l[7] = :y", NULL, "{\":x\": \"x\", \":y\": \"y\"}",
     KEEL_OK, "{" PC "\"l\": [0, 1, 2, \"y\", \"x\"]}"},
    /* REMOVE: attributes, nested, list elements (later ones shift down). */
    {"{" PC "\"Brand\": \"b\", \"InStock\": true, \"Q\": 3, \"keep\": 1}",
     "REMOVE Brand, InStock, Q", NULL, NULL, KEEL_OK, "{" PC "\"keep\": 1}"},
    {"{" PC "\"RelatedItems\": [\"a\", \"b\", \"c\", \"d\"]}",
     "REMOVE RelatedItems[1], RelatedItems[2]", NULL, NULL, KEEL_OK,
     "{" PC "\"RelatedItems\": [\"a\", \"d\"]}"},
    {"{" PC "\"m\": {\"a\": 1, \"b\": {\"c\": 2, \"d\": 3}}}", "REMOVE m.b.c, m.zz, nothere", NULL,
     NULL, KEEL_OK, "{" PC "\"m\": {\"a\": 1, \"b\": {\"d\": 3}}}"},
    {"{" PC "\"l\": [0, 1]}", "REMOVE l[5]", NULL, NULL, KEEL_OK, "{" PC "\"l\": [0, 1]}"},
    /* ADD: numbers (a missing attribute counts as 0) and sets (union). */
    {"{" PC "\"QuantityOnHand\": 5}", "ADD QuantityOnHand :q", NULL, "{\":q\": 5}", KEEL_OK,
     "{" PC "\"QuantityOnHand\": 10}"},
    {"{" PC "\"x\": 1}", "ADD QuantityOnHand :q", NULL, "{\":q\": -5}", KEEL_OK,
     "{" PC "\"x\": 1, \"QuantityOnHand\": -5}"},
    {"{" PC "\"Color\": <\"Red\">}", "ADD Color :c", NULL, "{\":c\": <\"Orange\", \"Red\", \"Purple\">}",
     KEEL_OK, "{" PC "\"Color\": <\"Red\", \"Orange\", \"Purple\">}"},
    {"{" PC "\"x\": 1}", "ADD Nums :c", NULL, "{\":c\": <1, 2>}", KEEL_OK,
     "{" PC "\"x\": 1, \"Nums\": <1, 2>}"},
    /* DELETE: set difference; an emptied set disappears; a missing set is fine. */
    {"{" PC "\"Color\": <\"Red\", \"Yellow\", \"Purple\">}", "DELETE Color :p", NULL,
     "{\":p\": <\"Yellow\", \"Purple\">}", KEEL_OK, "{" PC "\"Color\": <\"Red\">}"},
    {"{" PC "\"Color\": <\"Red\">}", "DELETE Color :p", NULL, "{\":p\": <\"Red\", \"Blue\">}",
     KEEL_OK, "{" PC "}"},
    {"{" PC "\"x\": 1}", "DELETE Color :p", NULL, "{\":p\": <\"Red\">}", KEEL_OK, "{" PC "\"x\": 1}"},
    /* All four clauses at once, any order. */
    {"{" PC "\"a\": 1, \"s\": <1, 2>, \"r\": 0}", "DELETE s :d ADD a :one REMOVE r SET b = a",
     NULL, "{\":d\": <2>, \":one\": 1}", KEEL_OK, "{" PC "\"a\": 2, \"s\": <1>, \"b\": 1}"},
    /* An absent item is created from its key. */
    {NULL, "SET a = :v ADD n :one", NULL, "{\":v\": \"x\", \":one\": 1}", KEEL_OK,
     "{" PC "\"a\": \"x\", \"n\": 1}"},
    {NULL, NULL, NULL, NULL, KEEL_OK, "{" PC "}"},
    /* Exact numbers: 38 digits, and decimal fractions that a double would round. */
    {"{" PC "\"n\": d\"12345678901234567890123456789012345678\"}", "SET n = n + :one", NULL,
     "{\":one\": 1}", KEEL_OK, "{" PC "\"n\": d\"12345678901234567890123456789012345679\"}"},
    {"{" PC "\"n\": d\"0.1\"}", "ADD n :d", NULL, "{\":d\": d\"0.2\"}", KEEL_OK,
     "{" PC "\"n\": d\"0.3\"}"},
    {"{" PC "\"n\": d\"9.9999999999999999999999999999999999999e125\"}", "SET n = n + :d", NULL,
     "{\":d\": d\"9e125\"}", KEEL_EVALIDATION, ""},
    {"{" PC "\"n\": d\"1e20\"}", "SET n = n + :d", NULL, "{\":d\": d\"1e-20\"}",
     KEEL_EVALIDATION, ""},
    /* Validation errors, with DynamoDB's messages. */
    {"{" PC "\"a\": 1}", "SET pk = :v", NULL, "{\":v\": \"z\"}", KEEL_EVALIDATION,
     "Cannot update attribute pk. This attribute is part of the key"},
    {"{" PC "\"a\": 1}", "REMOVE pk", NULL, NULL, KEEL_EVALIDATION,
     "Cannot update attribute pk. This attribute is part of the key"},
    {"{" PC "\"a\": {}}", "SET a = :v, a.b = :v", NULL, "{\":v\": 1}", KEEL_EVALIDATION,
     "Two document paths overlap"},
    {"{" PC "\"a\": {}}", "SET a.b = :v REMOVE a[0]", NULL, "{\":v\": 1}", KEEL_EVALIDATION,
     "Two document paths conflict"},
    {"{" PC "\"x\": 1}", "SET a.b = :v", NULL, "{\":v\": 1}", KEEL_EVALIDATION,
     "The document path provided in the update expression is invalid for update"},
    {"{" PC "\"a\": \"s\"}", "SET a[0] = :v", NULL, "{\":v\": 1}", KEEL_EVALIDATION,
     "invalid for update"},
    {"{" PC "\"a\": \"s\"}", "REMOVE a.b", NULL, NULL, KEEL_EVALIDATION, "invalid for update"},
    {"{" PC "\"l\": [1]}", "SET l[3].x = :v", NULL, "{\":v\": 1}", KEEL_EVALIDATION,
     "invalid for update"},
    {"{" PC "\"n\": 1}", "SET n = n + :s", NULL, "{\":s\": \"x\"}", KEEL_EVALIDATION,
     "An operand in the update expression has an incorrect data type"},
    {"{" PC "\"n\": 1}", "SET l = list_append(n, :l)", NULL, "{\":l\": [1]}", KEEL_EVALIDATION,
     "incorrect data type"},
    {"{" PC "\"n\": 1}", "SET m = nothere", NULL, NULL, KEEL_EVALIDATION,
     "The provided expression refers to an attribute that does not exist in the item"},
    {"{" PC "\"n\": 1}", "ADD s :s", NULL, "{\":s\": \"x\"}", KEEL_EVALIDATION,
     "Incorrect operand type for operator or function; operator: ADD, operand type: STRING"},
    {"{" PC "\"n\": 1}", "ADD n :s", NULL, "{\":s\": <\"x\">}", KEEL_EVALIDATION,
     "incorrect data type"},
    {"{" PC "\"s\": <\"a\">}", "ADD s :n", NULL, "{\":n\": <1>}", KEEL_EVALIDATION,
     "incorrect data type"},
    {"{" PC "\"n\": 1}", "DELETE n :n", NULL, "{\":n\": 1}", KEEL_EVALIDATION,
     "operator: DELETE, operand type: NUMBER"},
    {"{" PC "\"n\": 1}", "SET n = :v", NULL, "{\":v\": 1, \":w\": 2}", KEEL_EVALIDATION,
     "unused"},
    {"{" PC "\"n\": 1}", "SET n = :v SET m = :v", NULL, "{\":v\": 1}", KEEL_EVALIDATION,
     "can only be used once"},
    {"{" PC "\"n\": 1}", "SET n = size(n)", NULL, NULL, KEEL_EVALIDATION, "size"},
    {"{" PC "\"n\": 1}", "SET n == :v", NULL, "{\":v\": 1}", KEEL_ESYNTAX, "position"},
};

static void test_update_table(void) {
    for (size_t i = 0; i < sizeof ucases / sizeof ucases[0]; i++) {
        const ucase *c = &ucases[i];
        keel_db *db = mem_db();
        REQUIRE(db != NULL);
        if (c->before) CHECK_OK(put(db, c->before));
        enc key = E("{\"pk\": \"k\"}"), names = E(c->names), values = E(c->values);
        keel_db_write_opts o = KEEL_DB_WRITE_OPTS_INIT;
        o.names = names.p;
        o.names_len = names.len;
        o.values = values.p;
        o.values_len = values.len;
        keel_status st = keel_db_update_item(db, "tbl", key.p, key.len, c->update, &o, NULL);
        CHECKF(st == c->want, "case %zu \"%s\": got %s, want %s: %s", i,
               c->update ? c->update : "(none)", st_name(st), st_name(c->want), keel_errmsg());
        if (st == KEEL_OK && c->want == KEEL_OK) {
            CHECKF(item_is(db, "k", c->after), "case %zu \"%s\": wrong item", i, c->update);
        } else if (st == c->want) {
            CHECKF(strstr(keel_errmsg(), c->after) != NULL, "case %zu: message \"%s\" lacks \"%s\"",
                   i, keel_errmsg(), c->after);
            /* Nothing was written. */
            CHECKF(item_is(db, "k", c->before), "case %zu: the item changed on failure", i);
        }
        free(key.p);
        free(names.p);
        free(values.p);
        keel_db_free(db);
    }
}

static void test_update_limits(void) {
    keel_db *db = mem_db();
    REQUIRE(db != NULL);
    /* A new item over 400 KB is refused and nothing is written. */
    CHECK_OK(put(db, "{\"pk\": \"k\", \"n\": 1}"));
    size_t big = 300 * 1024;
    char *blob = malloc(big + 1);
    REQUIRE(blob != NULL);
    memset(blob, 'a', big);
    blob[big] = 0;
    kdb_buf v = {0};
    kdb_enc_map(&v, 1);
    kdb_enc_text(&v, ":b", 2);
    kdb_enc_text(&v, blob, big);
    free(blob);
    enc key = E("{\"pk\": \"k\"}");
    keel_db_write_opts o = KEEL_DB_WRITE_OPTS_INIT;
    o.values = v.p;
    o.values_len = v.len;
    CHECK_OK(keel_db_update_item(db, "tbl", key.p, key.len, "SET a = :b", &o, NULL));
    CHECK_ST(keel_db_update_item(db, "tbl", key.p, key.len, "SET b = :b", &o, NULL),
             KEEL_EVALIDATION);
    kdb_buf_free(&v);
    /* A bad ReturnValues for put and delete. */
    keel_db_write_opts r = KEEL_DB_WRITE_OPTS_INIT;
    r.return_values = KEEL_DB_RETURN_UPDATED_NEW;
    enc item = E("{\"pk\": \"z\"}");
    keel_db_buf out;
    CHECK_ST(keel_db_put_item_ex(db, "tbl", item.p, item.len, &r, &out), KEEL_EVALIDATION);
    CHECK_ST(keel_db_delete_item_ex(db, "tbl", item.p, item.len, &r, &out), KEEL_EVALIDATION);
    r.return_values = (keel_db_return)99;
    CHECK_ST(keel_db_update_item(db, "tbl", item.p, item.len, NULL, &r, &out), KEEL_EVALIDATION);
    CHECK(item_is(db, "z", NULL));
    /* Names or values with no expression to use them. */
    enc vals = E("{\":v\": 1}");
    r = (keel_db_write_opts)KEEL_DB_WRITE_OPTS_INIT;
    r.values = vals.p;
    r.values_len = vals.len;
    CHECK_ST(keel_db_put_item_ex(db, "tbl", item.p, item.len, &r, NULL), KEEL_EVALIDATION);
    CHECK_ST(keel_db_update_item(db, "tbl", item.p, item.len, NULL, &r, NULL), KEEL_EVALIDATION);
    CHECK_ST(keel_db_update_item(db, "nope", item.p, item.len, "SET a = :v", &r, NULL),
             KEEL_ENOTABLE);
    free(vals.p);
    free(item.p);
    free(key.p);
    keel_db_free(db);
}

/* ---- conditions and ReturnValues ---------------------------------------------------------- */

static void test_conditions(void) {
    keel_db *db = mem_db();
    REQUIRE(db != NULL);
    enc item = E("{\"pk\": \"k\", \"Price\": 100, \"v\": 1}");
    enc item2 = E("{\"pk\": \"k\", \"Price\": 50, \"v\": 2}");
    enc key = E("{\"pk\": \"k\"}");
    enc vals = E("{\":p\": 75}");
    keel_db_write_opts o = KEEL_DB_WRITE_OPTS_INIT;
    keel_db_buf out;

    /* The comparison itself tells items apart (by value, type and attribute set). */
    CHECK(!same(item.p, item.len, "{\"pk\": \"k\", \"Price\": 101, \"v\": 1}"));
    CHECK(!same(item.p, item.len, "{\"pk\": \"k\", \"Price\": \"100\", \"v\": 1}"));
    CHECK(!same(item.p, item.len, "{\"pk\": \"k\", \"Price\": 100}"));
    CHECK(same(item.p, item.len, "{\"v\": 1, \"pk\": \"k\", \"Price\": d\"1e2\"}"));

    /* put if absent: once. */
    o.condition = "attribute_not_exists(pk)";
    CHECK_OK(keel_db_put_item_ex(db, "tbl", item.p, item.len, &o, &out));
    CHECK(out.data == NULL && out.len == 0);
    CHECK_ST(keel_db_put_item_ex(db, "tbl", item2.p, item2.len, &o, &out), KEEL_ECONDITION);
    CHECK(strcmp(keel_errmsg(), "The conditional request failed") == 0);
    CHECK(out.data == NULL);
    o.return_old_on_condition_failure = 1;
    CHECK_ST(keel_db_put_item_ex(db, "tbl", item2.p, item2.len, &o, &out), KEEL_ECONDITION);
    CHECK(strcmp(keel_errmsg(), "The conditional request failed") == 0);
    CHECK(same(out.data, out.len, "{\"pk\": \"k\", \"Price\": 100, \"v\": 1}"));
    keel_db_buf_free(&out);
    CHECK(out.data == NULL);
    CHECK(item_is(db, "k", "{\"pk\": \"k\", \"Price\": 100, \"v\": 1}"));

    /* A condition on a value, with placeholders; ALL_OLD returns the replaced item. */
    o = (keel_db_write_opts)KEEL_DB_WRITE_OPTS_INIT;
    o.condition = "Price > :p";
    o.values = vals.p;
    o.values_len = vals.len;
    o.return_values = KEEL_DB_RETURN_ALL_OLD;
    CHECK_OK(keel_db_put_item_ex(db, "tbl", item2.p, item2.len, &o, &out));
    CHECK(same(out.data, out.len, "{\"pk\": \"k\", \"Price\": 100, \"v\": 1}"));
    keel_db_buf_free(&out);
    CHECK_ST(keel_db_put_item_ex(db, "tbl", item.p, item.len, &o, &out), KEEL_ECONDITION);
    CHECK(out.data == NULL);

    /* Delete with a condition: false leaves the item, true deletes and returns it. */
    CHECK_ST(keel_db_delete_item_ex(db, "tbl", key.p, key.len, &o, &out), KEEL_ECONDITION);
    CHECK(item_is(db, "k", "{\"pk\": \"k\", \"Price\": 50, \"v\": 2}"));
    o.condition = "Price < :p";
    CHECK_OK(keel_db_delete_item_ex(db, "tbl", key.p, key.len, &o, &out));
    CHECK(same(out.data, out.len, "{\"pk\": \"k\", \"Price\": 50, \"v\": 2}"));
    keel_db_buf_free(&out);
    CHECK(item_is(db, "k", NULL));
    /* ... and on an absent item every path is missing. */
    CHECK_ST(keel_db_delete_item_ex(db, "tbl", key.p, key.len, &o, &out), KEEL_ECONDITION);
    o.condition = "attribute_not_exists(Price) AND NOT (Price < :p)";
    CHECK_OK(keel_db_delete_item_ex(db, "tbl", key.p, key.len, &o, &out));
    CHECK(out.data == NULL);  /* ALL_OLD of nothing */

    /* Update with a condition; a syntax error in it is reported before anything. */
    CHECK_OK(keel_db_put_item(db, "tbl", item.p, item.len));
    enc uvals = E("{\":p\": 75, \":d\": 1}");
    o = (keel_db_write_opts)KEEL_DB_WRITE_OPTS_INIT;
    o.values = uvals.p;
    o.values_len = uvals.len;
    o.condition = "Price < :p";
    CHECK_ST(keel_db_update_item(db, "tbl", key.p, key.len, "SET v = v + :d", &o, NULL),
             KEEL_ECONDITION);
    o.condition = "Price > :p";
    CHECK_OK(keel_db_update_item(db, "tbl", key.p, key.len, "SET v = v + :d", &o, NULL));
    CHECK(item_is(db, "k", "{\"pk\": \"k\", \"Price\": 100, \"v\": 2}"));
    o.condition = "Price >";
    CHECK_ST(keel_db_update_item(db, "tbl", key.p, key.len, "SET v = v + :d", &o, NULL),
             KEEL_ESYNTAX);

    free(uvals.p);
    free(vals.p);
    free(key.p);
    free(item.p);
    free(item2.p);
    keel_db_free(db);
}

static void test_return_values(void) {
    keel_db *db = mem_db();
    REQUIRE(db != NULL);
    CHECK_OK(put(db, "{\"pk\": \"k\", \"a\": 1, \"m\": {\"x\": 1, \"y\": 2}, \"keep\": true}"));
    enc key = E("{\"pk\": \"k\"}");
    enc vals = E("{\":one\": 1}");
    keel_db_write_opts o = KEEL_DB_WRITE_OPTS_INIT;
    o.values = vals.p;
    o.values_len = vals.len;
    keel_db_buf out;
    static const struct {
        keel_db_return rv;
        const char *want;
    } cases[] = {
        {KEEL_DB_RETURN_NONE, NULL},
        {KEEL_DB_RETURN_ALL_OLD, "{\"pk\": \"k\", \"a\": 1, \"m\": {\"x\": 1, \"y\": 2}, \"keep\": true}"},
        {KEEL_DB_RETURN_UPDATED_OLD, "{\"a\": 1, \"m\": {\"x\": 1}}"},
        {KEEL_DB_RETURN_ALL_NEW, "{\"pk\": \"k\", \"a\": 2, \"m\": {\"x\": 2, \"y\": 2}, \"keep\": true, \"b\": 1}"},
        {KEEL_DB_RETURN_UPDATED_NEW, "{\"a\": 2, \"m\": {\"x\": 2}, \"b\": 1}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* Reset, then the same update under each ReturnValues. */
        CHECK_OK(put(db, "{\"pk\": \"k\", \"a\": 1, \"m\": {\"x\": 1, \"y\": 2}, \"keep\": true}"));
        o.return_values = cases[i].rv;
        CHECK_OK(keel_db_update_item(db, "tbl", key.p, key.len,
                                     "SET a = a + :one, m.x = m.x + :one, b = :one REMOVE zz",
                                     &o, &out));
        if (!cases[i].want) CHECK(out.data == NULL && out.len == 0);
        else CHECKF(same(out.data, out.len, cases[i].want), "ReturnValues case %zu", i);
        keel_db_buf_free(&out);
    }
    /* UPDATED_OLD of an item that did not exist: nothing. ALL_NEW: the key and the value. */
    enc key2 = E("{\"pk\": \"new\"}");
    o.return_values = KEEL_DB_RETURN_UPDATED_OLD;
    CHECK_OK(keel_db_update_item(db, "tbl", key2.p, key2.len, "SET b = :one", &o, &out));
    CHECK(out.data == NULL);
    o.return_values = KEEL_DB_RETURN_ALL_NEW;
    CHECK_OK(keel_db_update_item(db, "tbl", key2.p, key2.len, "ADD b :one", &o, &out));
    CHECK(same(out.data, out.len, "{\"pk\": \"new\", \"b\": 2}"));
    keel_db_buf_free(&out);
    /* put's ALL_OLD: nothing for a new item. */
    keel_db_write_opts p = KEEL_DB_WRITE_OPTS_INIT;
    p.return_values = KEEL_DB_RETURN_ALL_OLD;
    enc fresh = E("{\"pk\": \"fresh\"}");
    CHECK_OK(keel_db_put_item_ex(db, "tbl", fresh.p, fresh.len, &p, &out));
    CHECK(out.data == NULL);
    CHECK_OK(keel_db_put_item_ex(db, "tbl", fresh.p, fresh.len, &p, &out));
    CHECK(same(out.data, out.len, "{\"pk\": \"fresh\"}"));
    keel_db_buf_free(&out);
    keel_db_buf_free(NULL);
    free(fresh.p);
    free(key2.p);
    free(vals.p);
    free(key.p);
    keel_db_free(db);
}

/* ---- transactions ------------------------------------------------------------------------- */

static keel_db_tx_write txa(keel_db_tx_kind kind, const char *table, const enc *item,
                            const char *update, const char *condition, const enc *values) {
    keel_db_tx_write a = KEEL_DB_TX_WRITE_INIT;
    a.kind = kind;
    a.table = table;
    a.item = item->p;
    a.item_len = item->len;
    a.update = update;
    a.condition = condition;
    if (values) {
        a.values = values->p;
        a.values_len = values->len;
    }
    return a;
}

static void test_transact_write(void) {
    keel_db *db = mem_db();
    REQUIRE(db != NULL);
    static const keel_db_schema ps = {"p", KEEL_DB_KEY_S, "s", KEEL_DB_KEY_N};
    REQUIRE_OK(keel_db_create_table(db, "tb2", &ps));
    CHECK_OK(put(db, "{\"pk\": \"a\", \"n\": 1}"));
    CHECK_OK(put(db, "{\"pk\": \"d\", \"n\": 4}"));
    CHECK_OK(put(db, "{\"pk\": \"c\", \"n\": 3, \"s\": \"str\"}"));
    enc ka = E("{\"pk\": \"a\"}"), kb = E("{\"pk\": \"b\"}"), kc = E("{\"pk\": \"c\"}"),
        kd = E("{\"pk\": \"d\"}"), iu = E("{\"p\": \"x\", \"s\": 1, \"v\": true}"),
        ib = E("{\"pk\": \"b\", \"n\": 2}"), one = E("{\":one\": 1}"), three = E("{\":n\": 3}");
    keel_db_tx_reason r[5];

    /* Every kind, across two tables: all land. */
    keel_db_tx_write ok[5] = {
        txa(KEEL_DB_TX_UPDATE, "tbl", &ka, "ADD n :one", "n = :one", &one),
        txa(KEEL_DB_TX_PUT, "tbl", &ib, NULL, "attribute_not_exists(pk)", NULL),
        txa(KEEL_DB_TX_CHECK, "tbl", &kc, NULL, "n = :n", &three),
        txa(KEEL_DB_TX_DELETE, "tbl", &kd, NULL, NULL, NULL),
        txa(KEEL_DB_TX_PUT, "tb2", &iu, NULL, NULL, NULL),
    };
    CHECK_OK(keel_db_transact_write(db, ok, 5, r));
    for (int i = 0; i < 5; i++) CHECK(r[i].code == KEEL_DB_REASON_NONE && strcmp(r[i].code_name, "None") == 0);
    CHECK(item_is(db, "a", "{\"pk\": \"a\", \"n\": 2}"));
    CHECK(item_is(db, "b", "{\"pk\": \"b\", \"n\": 2}"));
    CHECK(item_is(db, "d", NULL));
    uint64_t count;
    CHECK_OK(keel_db_count(db, "tb2", &count));
    CHECK(count == 1);

    /* The same again: the update's and the put's conditions fail now; nothing is written.
     * One reason per action, in order; the item only where asked. */
    ok[1].return_old_on_condition_failure = 1;
    CHECK_ST(keel_db_transact_write(db, ok, 5, r), KEEL_ECANCELED);
    CHECK(strstr(keel_errmsg(), "[ConditionalCheckFailed, ConditionalCheckFailed, None, None, "
                 "None]") != NULL);
    CHECK(r[0].code == KEEL_DB_REASON_CONDITION_FAILED && r[0].item.data == NULL);
    CHECK(strcmp(r[0].code_name, "ConditionalCheckFailed") == 0);
    CHECK(strcmp(r[0].message, "The conditional request failed") == 0);
    CHECK(r[1].code == KEEL_DB_REASON_CONDITION_FAILED);
    CHECK(same(r[1].item.data, r[1].item.len, "{\"pk\": \"b\", \"n\": 2}"));
    for (int i = 2; i < 5; i++) CHECK(r[i].code == KEEL_DB_REASON_NONE && r[i].message[0] == 0);
    keel_db_tx_reasons_free(r, 5);
    CHECK(r[1].item.data == NULL);
    CHECK(item_is(db, "a", "{\"pk\": \"a\", \"n\": 2}"));
    CHECK_OK(keel_db_count(db, "tb2", &count));
    CHECK(count == 1);

    /* An update that cannot apply to its item: ValidationError; nothing written. */
    keel_db_tx_write bad[2] = {
        txa(KEEL_DB_TX_UPDATE, "tbl", &ka, "ADD n :one", NULL, &one),
        txa(KEEL_DB_TX_UPDATE, "tbl", &kc, "SET n = s + :one", NULL, &one),
    };
    CHECK_ST(keel_db_transact_write(db, bad, 2, r), KEEL_ECANCELED);
    CHECK(r[0].code == KEEL_DB_REASON_NONE);
    CHECK(r[1].code == KEEL_DB_REASON_VALIDATION && strcmp(r[1].code_name, "ValidationError") == 0);
    CHECK(strstr(r[1].message, "incorrect data type") != NULL);
    keel_db_tx_reasons_free(r, 2);
    CHECK(item_is(db, "a", "{\"pk\": \"a\", \"n\": 2}"));
    /* A single canceled action is still KEEL_ECANCELED; reasons may be NULL. */
    CHECK_ST(keel_db_transact_write(db, bad + 1, 1, NULL), KEEL_ECANCELED);

    /* Refused whole: two actions on one item, a check without a condition, a bad
     * expression, a bad key, a missing table, no actions, too many. */
    keel_db_tx_write dup[2] = {
        txa(KEEL_DB_TX_UPDATE, "tbl", &ka, "ADD n :one", NULL, &one),
        txa(KEEL_DB_TX_DELETE, "tbl", &ka, NULL, NULL, NULL),
    };
    CHECK_ST(keel_db_transact_write(db, dup, 2, r), KEEL_EVALIDATION);
    CHECK(strstr(keel_errmsg(), "Transaction request cannot include multiple operations on one "
                 "item") != NULL);
    keel_db_tx_write nocond = txa(KEEL_DB_TX_CHECK, "tbl", &ka, NULL, NULL, NULL);
    CHECK_ST(keel_db_transact_write(db, &nocond, 1, r), KEEL_EVALIDATION);
    keel_db_tx_write syn = txa(KEEL_DB_TX_UPDATE, "tbl", &ka, "SET = 1", NULL, NULL);
    CHECK_ST(keel_db_transact_write(db, &syn, 1, r), KEEL_ESYNTAX);
    CHECK(strstr(keel_errmsg(), "action 1 of 1") != NULL);
    keel_db_tx_write keyupd = txa(KEEL_DB_TX_UPDATE, "tbl", &ka, "SET pk = :one", NULL, &one);
    CHECK_ST(keel_db_transact_write(db, &keyupd, 1, r), KEEL_EVALIDATION);
    keel_db_tx_write badkey = txa(KEEL_DB_TX_DELETE, "tb2", &ka, NULL, NULL, NULL);
    CHECK_ST(keel_db_transact_write(db, &badkey, 1, r), KEEL_EVALIDATION);
    keel_db_tx_write notable = txa(KEEL_DB_TX_DELETE, "zzz", &ka, NULL, NULL, NULL);
    CHECK_ST(keel_db_transact_write(db, &notable, 1, r), KEEL_ENOTABLE);
    CHECK_ST(keel_db_transact_write(db, ok, 0, NULL), KEEL_EVALIDATION);
    CHECK_ST(keel_db_transact_write(db, NULL, 1, NULL), KEEL_EINVAL);
    keel_db_tx_write *many = calloc(101, sizeof *many);
    REQUIRE(many != NULL);
    CHECK_ST(keel_db_transact_write(db, many, 101, NULL), KEEL_EVALIDATION);

    /* 100 actions is the limit, and works. */
    enc keys[100];
    for (int i = 0; i < 100; i++) {
        char n[64];
        snprintf(n, sizeof n, "{\"pk\": \"many%d\", \"i\": %d}", i, i);
        keys[i] = E(n);
        many[i] = txa(KEEL_DB_TX_PUT, "tbl", &keys[i], NULL, "attribute_not_exists(pk)", NULL);
    }
    CHECK_OK(keel_db_transact_write(db, many, 100, NULL));
    CHECK(item_is(db, "many99", "{\"pk\": \"many99\", \"i\": 99}"));
    for (int i = 0; i < 100; i++) free(keys[i].p);
    free(many);

    enc *all[] = {&ka, &kb, &kc, &kd, &iu, &ib, &one, &three};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]->p);
    keel_db_free(db);
}

static void test_transact_get(void) {
    keel_db *db = mem_db();
    REQUIRE(db != NULL);
    CHECK_OK(put(db, "{\"pk\": \"a\", \"n\": 1, \"m\": {\"x\": 1, \"y\": 2}}"));
    enc ka = E("{\"pk\": \"a\"}"), kb = E("{\"pk\": \"b\"}"), names = E("{\"#m\": \"m\"}");
    keel_db_tx_get g[3] = {
        {"tbl", ka.p, ka.len, NULL, NULL, 0},
        {"tbl", kb.p, kb.len, NULL, NULL, 0},
        {"tbl", ka.p, ka.len, "#m.y, n", names.p, names.len},
    };
    keel_db_buf out[3];
    CHECK_OK(keel_db_transact_get(db, g, 3, out));
    CHECK(same(out[0].data, out[0].len, "{\"pk\": \"a\", \"n\": 1, \"m\": {\"x\": 1, \"y\": 2}}"));
    CHECK(out[1].data == NULL && out[1].len == 0);
    CHECK(same(out[2].data, out[2].len, "{\"n\": 1, \"m\": {\"y\": 2}}"));
    for (int i = 0; i < 3; i++) keel_db_buf_free(&out[i]);
    g[1].table = "nope";
    CHECK_ST(keel_db_transact_get(db, g, 3, out), KEEL_ENOTABLE);
    for (int i = 0; i < 3; i++) CHECK(out[i].data == NULL);
    g[1].table = "tbl";
    g[2].names = NULL;
    CHECK_ST(keel_db_transact_get(db, g, 3, out), KEEL_EVALIDATION);
    CHECK_ST(keel_db_transact_get(db, g, 0, out), KEEL_EVALIDATION);
    free(ka.p);
    free(kb.p);
    free(names.p);
    keel_db_free(db);
}

/* ---- threads ------------------------------------------------------------------------------ */

#define RACE_THREADS 4
#define RACE_KEYS 200

typedef struct race {
    keel_db *db;
    atomic_int wins[RACE_KEYS];
    atomic_int errors;
} race;

static void *race_main(void *arg) {
    race *r = arg;
    keel_db_write_opts o = KEEL_DB_WRITE_OPTS_INIT;
    o.condition = "attribute_not_exists(pk)";
    for (int k = 0; k < RACE_KEYS; k++) {
        kdb_buf b = {0};
        char pk[32];
        snprintf(pk, sizeof pk, "key%d", k);
        kdb_enc_map(&b, 2);
        kdb_enc_text(&b, "pk", 2);
        kdb_enc_text(&b, pk, strlen(pk));
        kdb_enc_text(&b, "by", 2);
        kdb_enc_uint(&b, (uint64_t)(uintptr_t)pthread_self() & 0xffff);
        keel_status st = keel_db_put_item_ex(r->db, "tbl", b.p, b.len, &o, NULL);
        if (st == KEEL_OK) atomic_fetch_add(&r->wins[k], 1);
        else if (st != KEEL_ECONDITION) atomic_fetch_add(&r->errors, 1);
        kdb_buf_free(&b);
    }
    return NULL;
}

static void test_race_conditional_put(void) {
    race *r = calloc(1, sizeof *r);
    REQUIRE(r != NULL);
    r->db = mem_db();
    REQUIRE(r->db != NULL);
    pthread_t th[RACE_THREADS];
    for (int i = 0; i < RACE_THREADS; i++) REQUIRE(pthread_create(&th[i], NULL, race_main, r) == 0);
    for (int i = 0; i < RACE_THREADS; i++) pthread_join(th[i], NULL);
    CHECK(atomic_load(&r->errors) == 0);
    for (int k = 0; k < RACE_KEYS; k++)
        CHECKF(atomic_load(&r->wins[k]) == 1, "key %d: %d winners", k, atomic_load(&r->wins[k]));
    uint64_t count;
    CHECK_OK(keel_db_count(r->db, "tbl", &count));
    CHECK(count == RACE_KEYS);
    keel_db_free(r->db);
    free(r);
}

/* Transfers between "a" and "b" (their sum never changes) that also count themselves in
 * "n", against plain ADD writers on "c" and TransactGetItems readers that must never see
 * half a transfer. */
#define TX_ROUNDS 300

typedef struct txrun {
    keel_db *db;
    enc ka, kb, kc, kn, vals, v1;   /* encoded before the threads start (cb() is not
                                     * thread-safe) */
    atomic_int transfers, adds, stop, bad_views, errors;
} txrun;

static void *tx_writer(void *arg) {
    txrun *t = arg;
    const enc *ka = &t->ka, *kb = &t->kb, *kn = &t->kn, *vals = &t->vals, *v1 = &t->v1;
    for (int i = 0; i < TX_ROUNDS; i++) {
        bool ab = i % 2;
        keel_db_tx_write a[3] = {
            txa(KEEL_DB_TX_UPDATE, "tbl", ab ? ka : kb, "ADD v :mone", "v >= :one", vals),
            txa(KEEL_DB_TX_UPDATE, "tbl", ab ? kb : ka, "ADD v :one", NULL, v1),
            txa(KEEL_DB_TX_UPDATE, "tbl", kn, "ADD v :one", NULL, v1),
        };
        keel_status st = keel_db_transact_write(t->db, a, 3, NULL);
        if (st == KEEL_OK) atomic_fetch_add(&t->transfers, 1);
        else if (st != KEEL_ECANCELED) atomic_fetch_add(&t->errors, 1);
    }
    return NULL;
}

static void *add_writer(void *arg) {
    txrun *t = arg;
    keel_db_write_opts o = KEEL_DB_WRITE_OPTS_INIT;
    o.values = t->v1.p;
    o.values_len = t->v1.len;
    for (int i = 0; i < TX_ROUNDS; i++) {
        if (keel_db_update_item(t->db, "tbl", t->kc.p, t->kc.len, "ADD v :one", &o, NULL) == KEEL_OK)
            atomic_fetch_add(&t->adds, 1);
        else
            atomic_fetch_add(&t->errors, 1);
    }
    return NULL;
}

static int64_t v_of(const keel_db_buf *b) {
    kdb_val v;
    kdb_num n;
    int64_t x;
    if (!b->data || !kdb_item_attr(b->data, b->len, "v", 1, &v) || v.type != KDB_N ||
        kdb_val_num(&v, &n) != KEEL_OK || !kdb_num_to_i64(&n, &x))
        return -1000000;
    return x;
}

static void *tx_reader(void *arg) {
    txrun *t = arg;
    keel_db_tx_get g[2] = {{"tbl", t->ka.p, t->ka.len, NULL, NULL, 0},
                           {"tbl", t->kb.p, t->kb.len, NULL, NULL, 0}};
    while (!atomic_load(&t->stop)) {
        keel_db_buf out[2];
        if (keel_db_transact_get(t->db, g, 2, out) != KEEL_OK) {
            atomic_fetch_add(&t->errors, 1);
            break;
        }
        if (v_of(&out[0]) + v_of(&out[1]) != 10) atomic_fetch_add(&t->bad_views, 1);
        keel_db_buf_free(&out[0]);
        keel_db_buf_free(&out[1]);
    }
    return NULL;
}

static void test_tx_concurrent(void) {
    txrun *t = calloc(1, sizeof *t);
    REQUIRE(t != NULL);
    t->db = mem_db();
    REQUIRE(t->db != NULL);
    CHECK_OK(put(t->db, "{\"pk\": \"a\", \"v\": 5}"));
    CHECK_OK(put(t->db, "{\"pk\": \"b\", \"v\": 5}"));
    t->ka = E("{\"pk\": \"a\"}"), t->kb = E("{\"pk\": \"b\"}"), t->kc = E("{\"pk\": \"c\"}"),
    t->kn = E("{\"pk\": \"n\"}"), t->vals = E("{\":one\": 1, \":mone\": -1}"),
    t->v1 = E("{\":one\": 1}");
    pthread_t w[2], a, rd;
    REQUIRE(pthread_create(&rd, NULL, tx_reader, t) == 0);
    for (int i = 0; i < 2; i++) REQUIRE(pthread_create(&w[i], NULL, tx_writer, t) == 0);
    REQUIRE(pthread_create(&a, NULL, add_writer, t) == 0);
    for (int i = 0; i < 2; i++) pthread_join(w[i], NULL);
    pthread_join(a, NULL);
    atomic_store(&t->stop, 1);
    pthread_join(rd, NULL);
    CHECK(atomic_load(&t->errors) == 0);
    CHECK(atomic_load(&t->bad_views) == 0);
    CHECK(atomic_load(&t->transfers) > 0);
    keel_db_tx_get g[4] = {{"tbl", t->kn.p, t->kn.len, NULL, NULL, 0},
                           {"tbl", t->kc.p, t->kc.len, NULL, NULL, 0},
                           {"tbl", t->ka.p, t->ka.len, NULL, NULL, 0},
                           {"tbl", t->kb.p, t->kb.len, NULL, NULL, 0}};
    keel_db_buf out[4];
    CHECK_OK(keel_db_transact_get(t->db, g, 4, out));
    CHECKF(v_of(&out[0]) == atomic_load(&t->transfers), "n = %lld, transfers %d",
           (long long)v_of(&out[0]), atomic_load(&t->transfers));
    CHECK(v_of(&out[1]) == TX_ROUNDS);
    CHECK(v_of(&out[2]) + v_of(&out[3]) == 10);
    for (int i = 0; i < 4; i++) keel_db_buf_free(&out[i]);
    free(t->ka.p), free(t->kb.p), free(t->kc.p), free(t->kn.p), free(t->vals.p), free(t->v1.p);
    keel_db_free(t->db);
    free(t);
}

/* ---- crash: a transaction's append cut at every byte -------------------------------------- */

static void test_crash_cut_transaction(void) {
    keel_db *db;
    keel_db_options o = KEEL_DB_OPTIONS_INIT;
    REQUIRE_OK(keel_db_open(h_path("x.keel"), &o, &db));
    REQUIRE_OK(keel_db_create_table(db, "tbl", &pk_schema));
    CHECK_OK(put(db, "{\"pk\": \"a\", \"v\": 1}"));
    CHECK_OK(put(db, "{\"pk\": \"d\", \"v\": 4}"));
    keel_db_free(db);
    long long before = file_size(h_path("x.keel"));
    o.mode = KEEL_OPEN_EXISTING;
    REQUIRE_OK(keel_db_open(h_path("x.keel"), &o, &db));
    enc ka = E("{\"pk\": \"a\"}"), kd = E("{\"pk\": \"d\"}"), ib = E("{\"pk\": \"b\", \"v\": 2}"),
        one = E("{\":one\": 1}");
    keel_db_tx_write a[3] = {
        txa(KEEL_DB_TX_UPDATE, "tbl", &ka, "ADD v :one", "v = :one", &one),
        txa(KEEL_DB_TX_PUT, "tbl", &ib, NULL, NULL, NULL),
        txa(KEEL_DB_TX_DELETE, "tbl", &kd, NULL, NULL, NULL),
    };
    REQUIRE_OK(keel_db_transact_write(db, a, 3, NULL));
    keel_db_free(db);
    size_t full_len;
    uint8_t *full = read_file(h_path("x.keel"), &full_len);
    REQUIRE(full != NULL);
    for (size_t cut = (size_t)before; cut <= full_len && !h_failures(); cut++) {
        REQUIRE(write_file(h_path("y.keel"), full, cut) == 0);
        REQUIRE_OK(keel_db_open(h_path("y.keel"), &o, &db));
        bool all = item_is(db, "a", "{\"pk\": \"a\", \"v\": 2}") &&
                   item_is(db, "b", "{\"pk\": \"b\", \"v\": 2}") && item_is(db, "d", NULL);
        bool none = item_is(db, "a", "{\"pk\": \"a\", \"v\": 1}") && item_is(db, "b", NULL) &&
                    item_is(db, "d", "{\"pk\": \"d\", \"v\": 4}");
        CHECKF(cut == full_len ? all : none, "cut at %zu of %zu: all %d none %d", cut, full_len,
               all, none);
        keel_db_free(db);
    }
    free(full);
    free(ka.p), free(kd.p), free(ib.p), free(one.p);
}

int main(int argc, char **argv) {
    static const h_test tests[] = {
        H_TEST(test_update_table),
        H_TEST(test_update_limits),
        H_TEST(test_conditions),
        H_TEST(test_return_values),
        H_TEST(test_transact_write),
        H_TEST(test_transact_get),
        H_TEST(test_race_conditional_put),
        H_TEST(test_tx_concurrent),
        H_TEST(test_crash_cut_transaction),
    };
    return h_main(argc, argv, tests, H_COUNT(tests));
}
