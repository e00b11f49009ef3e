/*
 * test_db_logic.c: the Database's write logic through its public API: conditional writes,
 * update expressions and ReturnValues (transactions, threads and crashes: test_db_tx.c).
 *
 * A table of DynamoDB's documented update examples (the developer guide's ProductCatalog
 * item) and of its validation errors, each with the item before, the expression, and the
 * item after or the error (and then the item unchanged); limits; the guide's condition
 * examples as a table; conditions on put, delete and update; every ReturnValues. Items
 * are written in db_util.h's CBOR notation: {"pk": "k", "n": 1, "s": <"a", "b">}.
 */
#include "db_logic.h"

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
    {"{" PC "\"n\": 1, \"s\": \"x\"}", "SET n = n + s", NULL, NULL, KEEL_EVALIDATION,
     "An operand in the update expression has an incorrect data type"},
    {"{" PC "\"n\": 1}", "SET n = n + :s", NULL, "{\":s\": \"x\"}", KEEL_EVALIDATION,
     "Incorrect operand type for operator or function; operator or function: +"},
    {"{" PC "\"n\": 1}", "SET l = list_append(n, :l)", NULL, "{\":l\": [1]}", KEEL_EVALIDATION,
     "incorrect data type"},
    {"{" PC "\"n\": 1}", "SET m = nothere", NULL, NULL, KEEL_EVALIDATION,
     "The provided expression refers to an attribute that does not exist in the item"},
    {"{" PC "\"n\": 1}", "ADD s :s", NULL, "{\":s\": \"x\"}", KEEL_EVALIDATION,
     "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: "
     "ADD, operand type: STRING, typeSet: ALLOWED_FOR_ADD_OPERAND"},
    {"{" PC "\"n\": 1}", "ADD n :s", NULL, "{\":s\": <\"x\">}", KEEL_EVALIDATION,
     "incorrect data type"},
    {"{" PC "\"s\": <\"a\">}", "ADD s :n", NULL, "{\":n\": <1>}", KEEL_EVALIDATION,
     "incorrect data type"},
    {"{" PC "\"n\": 1}", "DELETE n :n", NULL, "{\":n\": 1}", KEEL_EVALIDATION,
     "operator: DELETE, operand type: NUMBER, typeSet: ALLOWED_FOR_DELETE_OPERAND"},
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

/* The developer guide's condition examples (Expressions.ConditionExpressions) against its
 * ProductCatalog item 456, each guarding a delete: true deletes it, false is
 * KEEL_ECONDITION and leaves it. */
#define ITEM456 "{\"pk\": \"k\", \"ProductCategory\": \"Sporting Goods\", \"Price\": 650, " \
    "\"Color\": <\"Red\", \"Black\">, \"Pictures\": {\"FrontView\": " \
    "\"http://example.com/products/456_front.jpg\"}, \"ProductReviews\": {\"OneStar\": " \
    "[\"Terrible\"]}, \"VideoClip\": h\"0102030405\"}"

static const struct ccase {
    const char *condition, *names, *values;
    bool holds;
} ccases[] = {
    {"attribute_not_exists(ProductCategory)", NULL, NULL, false},
    {"(ProductCategory IN (:cat1, :cat2)) and (#P between :lo and :hi)", "{\"#P\": \"Price\"}",
     "{\":cat1\": \"Sporting Goods\", \":cat2\": \"Gardening Supplies\", \":lo\": 500, "
     "\":hi\": 600}", false},
    {"(ProductCategory IN (:cat1, :cat2)) and (#P between :lo and :hi)", "{\"#P\": \"Price\"}",
     "{\":cat1\": \"Sporting Goods\", \":cat2\": \"Gardening Supplies\", \":lo\": 500, "
     "\":hi\": 700}", true},
    {"Price > :limit", NULL, "{\":limit\": 500}", true},
    {"Price > :limit", NULL, "{\":limit\": 650}", false},
    {"attribute_not_exists(Price)", NULL, NULL, false},
    {"attribute_exists(ProductReviews.OneStar)", NULL, NULL, true},
    {"attribute_exists(ProductReviews.FiveStar)", NULL, NULL, false},
    {"attribute_type(Color, :v_sub)", NULL, "{\":v_sub\": \"SS\"}", true},
    {"attribute_type(Color, :v_sub)", NULL, "{\":v_sub\": \"L\"}", false},
    {"begins_with(Pictures.FrontView, :v_sub)", NULL, "{\":v_sub\": \"http://\"}", true},
    {"contains(Color, :v_sub)", NULL, "{\":v_sub\": \"Red\"}", true},
    {"contains(Color, :v_sub)", NULL, "{\":v_sub\": \"Blue\"}", false},
    {"size(VideoClip) > :v_sub", NULL, "{\":v_sub\": 4}", true},
    {"size(VideoClip) > :v_sub", NULL, "{\":v_sub\": 5}", false},
    {"NOT (Price < :a) AND (Color = :c OR attribute_exists(nope))", NULL,
     "{\":a\": 600, \":c\": <\"Black\", \"Red\">}", true},
};

static void test_condition_table(void) {
    for (size_t i = 0; i < sizeof ccases / sizeof ccases[0]; i++) {
        const struct ccase *c = &ccases[i];
        keel_db *db = mem_db();
        REQUIRE(db != NULL);
        CHECK_OK(put(db, ITEM456));
        enc key = E("{\"pk\": \"k\"}"), names = E(c->names), values = E(c->values);
        keel_db_write_opts o = KEEL_DB_WRITE_OPTS_INIT;
        o.condition = c->condition;
        o.names = names.p;
        o.names_len = names.len;
        o.values = values.p;
        o.values_len = values.len;
        keel_status st = keel_db_delete_item_ex(db, "tbl", key.p, key.len, &o, NULL);
        CHECKF(st == (c->holds ? KEEL_OK : KEEL_ECONDITION), "case %zu \"%s\": %s (%s)", i,
               c->condition, st_name(st), keel_errmsg());
        CHECKF(item_is(db, "k", c->holds ? NULL : ITEM456), "case %zu: wrong item after", i);
        free(key.p);
        free(names.p);
        free(values.p);
        keel_db_free(db);
    }
}

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

int main(int argc, char **argv) {
    static const h_test tests[] = {
        H_TEST(test_update_table),
        H_TEST(test_update_limits),
        H_TEST(test_condition_table),
        H_TEST(test_conditions),
        H_TEST(test_return_values),
    };
    return h_main(argc, argv, tests, H_COUNT(tests));
}
