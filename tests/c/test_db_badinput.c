/*
 * test_db_badinput.c: every public entry point of keel_db.h and keel_server.h against a
 * careless caller: a NULL handle, NULL pointers where an argument or an output is needed,
 * zero lengths, counts so large that count * struct size wraps. Each call must return a
 * status (KEEL_EINVAL for a NULL or a wrapped count, or the validation status the input
 * earns) with a detail message, never crash, never write through a NULL output; the free
 * functions take NULL. A crash anywhere fails the whole executable.
 */
#include "util.h"

#include "keel_db.h"
#include "keel_server.h"

#include <dirent.h>
#include <stdint.h>
#include <unistd.h>

#define NOT_OK(expr)                                                                       \
    do {                                                                                   \
        keel_status st_ = (expr);                                                          \
        CHECK(st_ != KEEL_OK);                                                             \
        if (st_ != KEEL_OK) CHECK_ERRMSG();                                                \
    } while (0)

static const uint8_t item_a[] = {0xA1, 0x62, 'p', 'k', 0x61, 'a'};  /* {"pk": "a"} */

static void test_null_handle(void) {
    keel_view v;
    keel_db_buf b = {0};
    uint64_t n64;
    size_t n;
    char *names;
    keel_db_cursor *c;
    keel_db_result *r;
    keel_db_query q = KEEL_DB_QUERY_INIT;
    keel_db_schema schema = {"pk", KEEL_DB_KEY_S, NULL, KEEL_DB_KEY_NONE};
    CHECK_ST(keel_db_close(NULL), KEEL_EINVAL);
    keel_db_free(NULL);
    NOT_OK(keel_db_sync(NULL));
    NOT_OK(keel_db_compact(NULL, NULL, NULL));
    NOT_OK(keel_db_verify(NULL, NULL));
    NOT_OK(keel_db_stat(NULL, NULL));
    NOT_OK(keel_db_create_table(NULL, "tab", &schema));
    NOT_OK(keel_db_delete_table(NULL, "tab"));
    NOT_OK(keel_db_describe_table(NULL, "tab", NULL));
    NOT_OK(keel_db_list_tables(NULL, &names, &n));
    NOT_OK(keel_db_put_item(NULL, "tab", item_a, sizeof item_a));
    NOT_OK(keel_db_get_item(NULL, "tab", item_a, sizeof item_a, &v));
    NOT_OK(keel_db_delete_item(NULL, "tab", item_a, sizeof item_a));
    NOT_OK(keel_db_batch_write(NULL, NULL, 0));
    NOT_OK(keel_db_kv_put(NULL, "k", 1, NULL, 0, item_a, sizeof item_a));
    NOT_OK(keel_db_kv_get(NULL, "k", 1, NULL, 0, &v));
    NOT_OK(keel_db_kv_delete(NULL, "k", 1, NULL, 0));
    NOT_OK(keel_db_kv_batch_write(NULL, NULL, 0));
    NOT_OK(keel_db_put_item_ex(NULL, "tab", item_a, sizeof item_a, NULL, &b));
    NOT_OK(keel_db_delete_item_ex(NULL, "tab", item_a, sizeof item_a, NULL, &b));
    NOT_OK(keel_db_update_item(NULL, "tab", item_a, sizeof item_a, "SET a = :v", NULL, &b));
    NOT_OK(keel_db_transact_write(NULL, NULL, 1, NULL));
    NOT_OK(keel_db_transact_get(NULL, NULL, 1, &b));
    NOT_OK(keel_db_query_start(NULL, "tab", &q, &c));
    NOT_OK(keel_db_scan_start(NULL, "tab", &q, &c));
    NOT_OK(keel_db_cursor_next(NULL, &v));
    NOT_OK(keel_db_cursor_last_key(NULL, &v));
    NOT_OK(keel_db_cursor_current(NULL, &v, &v));
    keel_db_cursor_counts(NULL, &n64, &n64);
    keel_db_cursor_free(NULL);
    NOT_OK(keel_db_count(NULL, "tab", &n64));
    NOT_OK(keel_db_execute(NULL, "SELECT * FROM tab", NULL, 0, NULL, &r));
    NOT_OK(keel_db_result_next(NULL, &v));
    keel_db_result_counts(NULL, &n64, &n64);
    keel_db_result_free(NULL);
    NOT_OK(keel_db_batch_execute(NULL, NULL, 1, NULL));
    keel_db_batch_responses_free(NULL, 3);
    NOT_OK(keel_db_export(NULL, "tab", h_path("x.json"), NULL, NULL));
    NOT_OK(keel_db_import(NULL, "tab", h_path("x.json"), NULL, NULL));
    NOT_OK(keel_db_create_table_ex(NULL, "tab", &schema, NULL, 0));
    NOT_OK(keel_db_update_table(NULL, "tab", NULL));
    NOT_OK(keel_db_update_ttl(NULL, "tab", "exp"));
    keel_db_set_clock(NULL, NULL, NULL);
    NOT_OK(keel_db_reap_expired(NULL, NULL, 0, &n64));
    NOT_OK(keel_db_get_stats(NULL, "tab", NULL));
    NOT_OK(keel_db_create_vector_index(NULL, "tab", NULL));
    NOT_OK(keel_db_drop_vector_index(NULL, "tab", "vix"));
    NOT_OK(keel_db_list_vector_indexes(NULL, "tab", NULL, 0, &n));
    float qv[4] = {1, 2, 3, 4};
    NOT_OK(keel_db_search(NULL, "tab", "vix", qv, 4, 1, NULL, NULL, &n));
    NOT_OK(keel_db_search_batch(NULL, "tab", "vix", qv, 1, 4, 1, NULL, NULL, NULL));
    keel_db_hits_free(NULL, 5);
    keel_db_tx_reasons_free(NULL, 5);
    keel_db_buf_free(NULL);
    keel_dynamo_response resp;
    CHECK(keel_dynamo_handle(NULL, "ListTables", "{}", 2, &resp) != 200);
    keel_dynamo_response_free(&resp);
    keel_dynamo_response_free(NULL);
}

/* Before the fix a NULL table sent the write down the path of the KeystoneDB-style default
 * table, whose callers build the key themselves: the public call wrote an entry with an
 * empty key, acknowledged it, and the next open failed ("a key of 0 bytes is not a
 * database key"): one bad argument bricked the file. */
static void test_null_table_writes(void) {
    keel_db *db;
    keel_db_options o = KEEL_DB_OPTIONS_INIT;
    REQUIRE_OK(keel_db_open(h_path("nt.keel"), &o, &db));
    keel_db_schema schema = {"pk", KEEL_DB_KEY_S, NULL, KEEL_DB_KEY_NONE};
    REQUIRE_OK(keel_db_create_table(db, "tab", &schema));
    keel_db_buf b = {0};
    CHECK_ST(keel_db_put_item(db, NULL, item_a, sizeof item_a), KEEL_EINVAL);
    CHECK_ERRMSG();
    CHECK_ST(keel_db_put_item_ex(db, NULL, item_a, sizeof item_a, NULL, &b), KEEL_EINVAL);
    CHECK_ST(keel_db_delete_item(db, NULL, item_a, sizeof item_a), KEEL_EINVAL);
    CHECK_ST(keel_db_delete_item_ex(db, NULL, item_a, sizeof item_a, NULL, &b), KEEL_EINVAL);
    CHECK_ST(keel_db_update_item(db, NULL, item_a, sizeof item_a, "SET a = :v", NULL, &b),
             KEEL_EINVAL);
    keel_db_write w[2] = {{"tab", item_a, sizeof item_a, 0}, {NULL, item_a, sizeof item_a, 0}};
    CHECK_ST(keel_db_batch_write(db, w, 2), KEEL_EINVAL);
    keel_db_tx_write tw;
    memset(&tw, 0, sizeof tw);
    tw.kind = KEEL_DB_TX_PUT;
    tw.item = item_a;
    tw.item_len = sizeof item_a;
    CHECK_ST(keel_db_transact_write(db, &tw, 1, NULL), KEEL_EINVAL);
    tw.kind = KEEL_DB_TX_CHECK;
    tw.condition = "attribute_not_exists(pk)";
    CHECK_ST(keel_db_transact_write(db, &tw, 1, NULL), KEEL_EINVAL);
    keel_db_tx_get tg;
    memset(&tg, 0, sizeof tg);
    tg.key = item_a;
    tg.key_len = sizeof item_a;
    CHECK(keel_db_transact_get(db, &tg, 1, &b) != KEEL_OK);
    keel_db_buf_free(&b);
    uint64_t count = 7;
    CHECK_OK(keel_db_count(db, "tab", &count));
    CHECK(count == 0);
    keel_db_free(db);
    o.mode = KEEL_OPEN_EXISTING;
    REQUIRE_OK(keel_db_open(h_path("nt.keel"), &o, &db));
    keel_stats stats;
    CHECK_OK(keel_db_stat(db, &stats));
    keel_db_free(db);
}

/* A catalog entry that fails to parse after another table's indexes were read: open fails
 * with ECORRUPT naming the table (its key attribute is not UTF-8: before, such a name was
 * accepted and reached callers as an invalid string) and frees what it had read (before,
 * the indexes array leaked; the ASan run of this suite reports leaks). */
static void test_damaged_catalog_fails_open_cleanly(void) {
    keel_db *db;
    keel_db_options o = KEEL_DB_OPTIONS_INIT;
    REQUIRE_OK(keel_db_open(h_path("cat.keel"), &o, &db));
    keel_db_schema schema = {"pk", KEEL_DB_KEY_S, NULL, KEEL_DB_KEY_NONE};
    keel_db_index_def ix = {"byc", 0, "c", KEEL_DB_KEY_S, NULL, KEEL_DB_KEY_NONE,
                            KEEL_DB_PROJECT_ALL, NULL, 0};
    REQUIRE_OK(keel_db_create_table_ex(db, "tab", &schema, &ix, 1));
    keel_db_free(db);
    keel_store *s;
    keel_options so = KEEL_OPTIONS_INIT;
    so.mode = KEEL_OPEN_EXISTING;
    so.alignment = 64;
    REQUIRE_OK(keel__open_kind(h_path("cat.keel"), &so, KEEL_FILE_KIND_DB, &s));
    static const uint8_t key[] = {0, 0, 0, 0, 1, 'z', 'z', 'z'};
    static const uint8_t val[] = {0xA3, 0x62, 'i', 'd', 0x18, 0x28, 0x62, 'p', 'k', 0x61, 0xFF,
                                  0x63, 'p', 'k', 't', 0x61, 'S'};
    REQUIRE_OK(keel_put(s, key, sizeof key, val, sizeof val));
    keel_free(s);
    o.mode = KEEL_OPEN_EXISTING;
    db = NULL;
    CHECK_ST(keel_db_open(h_path("cat.keel"), &o, &db), KEEL_ECORRUPT);
    CHECK(strstr(keel_errmsg(), "zzz") != NULL);
    CHECK(db == NULL);
    o.mode = KEEL_OPEN_READONLY;
    CHECK_ST(keel_db_open(h_path("cat.keel"), &o, &db), KEEL_ECORRUPT);
}

/* An export whose target is the database's own file (by name or through a symlink) is
 * refused: it used to truncate the file in place, emptying the database, and the next read
 * of the mapping killed the process with SIGBUS. An export replaces an existing file only
 * once the new one is whole: while it runs (seen from its progress callback) and after it
 * fails, the old file is unchanged, and no temporary is left. */
typedef struct export_watch {
    const char *path;
    size_t calls, unchanged;
} export_watch;

static void export_progress(void *ctx, uint64_t done, uint64_t total) {
    export_watch *w = ctx;
    (void)done, (void)total;
    size_t n = 0;
    uint8_t *p = read_file(w->path, &n);
    w->calls++;
    if (p && n == 4 && memcmp(p, "old\n", 4) == 0) w->unchanged++;
    free(p);
}

static size_t count_dir_entries(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0;
    while (d && (de = readdir(d)) != NULL)
        if (de->d_name[0] != '.') n++;
    if (d) closedir(d);
    return n;
}

static void test_export_target(void) {
    keel_db *db;
    const char *path = h_path("self.keel");
    REQUIRE_OK(keel_db_open(path, NULL, &db));
    keel_db_schema sc = {"pk", KEEL_DB_KEY_S, NULL, KEEL_DB_KEY_NONE};
    REQUIRE_OK(keel_db_create_table(db, "tab", &sc));
    REQUIRE_OK(keel_db_put_item(db, "tab", item_a, sizeof item_a));
    keel_db_io_report rep;
    CHECK_ST(keel_db_export(db, "tab", path, NULL, &rep), KEEL_EINVAL);
    CHECK(strstr(keel_errmsg(), "database's own file") != NULL);
    CHECK(symlink(path, h_path("link.json")) == 0);
    CHECK_ST(keel_db_export(db, "tab", h_path("link.json"), NULL, &rep), KEEL_EINVAL);
    keel_view v;
    CHECK_OK(keel_db_get_item(db, "tab", item_a, sizeof item_a, &v));  /* still readable */
    CHECK_OK(keel_db_verify(db, NULL));

    const char *out = h_path("out.json");
    REQUIRE(write_file(out, (const uint8_t *)"old\n", 4) == 0);
    export_watch w = {out, 0, 0};
    keel_db_io_opts o = KEEL_DB_IO_OPTS_INIT;
    o.progress = export_progress;
    o.progress_ctx = &w;
    size_t before = count_dir_entries(h_dir);
    CHECK_OK(keel_db_export(db, "tab", out, &o, &rep));
    CHECK(rep.items == 1 && w.calls == 1 && w.unchanged == 1);
    size_t n = 0;
    uint8_t *p = read_file(out, &n);
    CHECK(p && n > 10 && memcmp(p, "{\"Item\":", 8) == 0);
    free(p);
    CHECK(count_dir_entries(h_dir) == before);  /* no temporary left */
    REQUIRE(write_file(out, (const uint8_t *)"old\n", 4) == 0);
    CHECK_ST(keel_db_export(db, "nosuchtable", out, NULL, &rep), KEEL_ENOTABLE);
    p = read_file(out, &n);
    CHECK(p && n == 4 && memcmp(p, "old\n", 4) == 0);
    free(p);
    CHECK(count_dir_entries(h_dir) == before);
    keel_db_free(db);
    CHECK_OK(keel_db_open(path, NULL, &db));   /* the database survived all of it */
    CHECK_OK(keel_db_get_item(db, "tab", item_a, sizeof item_a, &v));
    keel_db_free(db);
}

static void test_null_arguments(void) {
    keel_db *db;
    REQUIRE_OK(keel_db_open_memory(NULL, &db));
    keel_db_schema schema = {"pk", KEEL_DB_KEY_S, NULL, KEEL_DB_KEY_NONE};
    REQUIRE_OK(keel_db_create_table(db, "tab", &schema));
    REQUIRE_OK(keel_db_put_item(db, "tab", item_a, sizeof item_a));
    keel_view v;
    keel_db_buf b = {0};
    uint64_t n64;
    size_t n;
    char *names;
    keel_db_cursor *c;
    keel_db_result *r;
    keel_db_query q = KEEL_DB_QUERY_INIT;

    keel_db *other = NULL;
    NOT_OK(keel_db_open(NULL, NULL, &other));
    CHECK(other == NULL);
    NOT_OK(keel_db_open(h_path("n.keel"), NULL, NULL));
    NOT_OK(keel_db_open_memory(NULL, NULL));
    NOT_OK(keel_db_create_table(db, NULL, &schema));
    NOT_OK(keel_db_create_table(db, "tab2", NULL));
    NOT_OK(keel_db_create_table(db, "tab2", &(keel_db_schema){NULL, KEEL_DB_KEY_S, NULL, 0}));
    NOT_OK(keel_db_create_table(db, "tab2", &(keel_db_schema){"", KEEL_DB_KEY_S, NULL, 0}));
    NOT_OK(keel_db_create_table(db, "", &schema));
    NOT_OK(keel_db_delete_table(db, NULL));
    NOT_OK(keel_db_describe_table(db, "tab", NULL));
    NOT_OK(keel_db_describe_table(db, NULL, &(keel_db_table_info){0}));
    NOT_OK(keel_db_list_tables(db, NULL, &n));
    NOT_OK(keel_db_list_tables(db, &names, NULL));
    NOT_OK(keel_db_put_item(db, "tab", NULL, sizeof item_a));
    NOT_OK(keel_db_put_item(db, "tab", NULL, 0));
    NOT_OK(keel_db_put_item(db, "tab", item_a, 0));
    NOT_OK(keel_db_put_item(db, "tab", item_a, sizeof item_a - 1));
    NOT_OK(keel_db_get_item(db, "tab", item_a, sizeof item_a, NULL));
    NOT_OK(keel_db_get_item(db, "tab", NULL, 0, &v));
    NOT_OK(keel_db_get_item(db, NULL, item_a, sizeof item_a, &v));
    NOT_OK(keel_db_delete_item(db, "tab", NULL, 5));
    NOT_OK(keel_db_batch_write(db, NULL, 3));
    keel_db_write w = {0};
    NOT_OK(keel_db_batch_write(db, &w, SIZE_MAX / sizeof w + 2));
    NOT_OK(keel_db_batch_write(db, &w, 1));
    NOT_OK(keel_db_kv_put(db, NULL, 1, NULL, 0, item_a, sizeof item_a));
    NOT_OK(keel_db_kv_put(db, "k", 1, NULL, 0, NULL, 3));
    NOT_OK(keel_db_kv_get(db, "k", 1, NULL, 0, NULL));
    NOT_OK(keel_db_kv_get(db, NULL, 4, NULL, 0, &v));
    NOT_OK(keel_db_kv_delete(db, NULL, 4, NULL, 0));
    NOT_OK(keel_db_kv_batch_write(db, NULL, 2));
    keel_db_kv_write kw = {0};
    NOT_OK(keel_db_kv_batch_write(db, &kw, SIZE_MAX / sizeof kw + 2));
    NOT_OK(keel_db_kv_batch_write(db, &kw, 1));
    NOT_OK(keel_db_put_item_ex(db, "tab", NULL, 0, NULL, &b));
    NOT_OK(keel_db_delete_item_ex(db, "tab", NULL, 0, NULL, &b));
    NOT_OK(keel_db_update_item(db, "tab", NULL, 0, "SET a = :v", NULL, &b));
    keel_db_buf_free(&b);
    keel_db_tx_write tw;
    memset(&tw, 0, sizeof tw);
    NOT_OK(keel_db_transact_write(db, NULL, 1, NULL));
    NOT_OK(keel_db_transact_write(db, &tw, 0, NULL));
    NOT_OK(keel_db_transact_write(db, &tw, 1, NULL));
    NOT_OK(keel_db_transact_write(db, &tw, SIZE_MAX / sizeof tw + 2, NULL));
    keel_db_tx_get tg;
    memset(&tg, 0, sizeof tg);
    NOT_OK(keel_db_transact_get(db, NULL, 1, &b));
    NOT_OK(keel_db_transact_get(db, &tg, 1, &b));
    NOT_OK(keel_db_transact_get(db, &tg, 1, NULL));
    NOT_OK(keel_db_transact_get(db, &tg, SIZE_MAX / sizeof tg + 2, &b));
    keel_db_buf_free(&b);
    NOT_OK(keel_db_query_start(db, "tab", NULL, &c));
    NOT_OK(keel_db_query_start(db, "tab", &q, NULL));
    NOT_OK(keel_db_query_start(db, "tab", &q, &c));  /* no key condition */
    NOT_OK(keel_db_scan_start(db, NULL, &q, &c));
    NOT_OK(keel_db_scan_start(db, "tab", &q, NULL));
    q.values = item_a;
    q.values_len = 0;
    q.filter = "pk = :v";
    NOT_OK(keel_db_scan_start(db, "tab", &q, &c));
    q.values = NULL;
    q.values_len = 6;
    NOT_OK(keel_db_scan_start(db, "tab", &q, &c));
    q = (keel_db_query)KEEL_DB_QUERY_INIT;
    q.segment = 5;
    q.total_segments = 2;
    NOT_OK(keel_db_scan_start(db, "tab", &q, &c));
    q = (keel_db_query)KEEL_DB_QUERY_INIT;
    REQUIRE_OK(keel_db_scan_start(db, "tab", &q, &c));
    NOT_OK(keel_db_cursor_next(c, NULL));
    keel_db_cursor_counts(c, NULL, NULL);
    keel_db_cursor_free(c);
    NOT_OK(keel_db_count(db, "tab", NULL));
    NOT_OK(keel_db_count(db, NULL, &n64));
    NOT_OK(keel_db_execute(db, NULL, NULL, 0, NULL, &r));
    NOT_OK(keel_db_execute(db, "SELECT * FROM tab", NULL, 0, NULL, NULL));
    NOT_OK(keel_db_execute(db, "SELECT * FROM tab WHERE pk = ?", NULL, 5, NULL, &r));
    NOT_OK(keel_db_execute(db, "", NULL, 0, NULL, &r));
    keel_db_statement stmt;
    memset(&stmt, 0, sizeof stmt);
    keel_db_batch_response resp[1];
    NOT_OK(keel_db_batch_execute(db, NULL, 1, resp));
    NOT_OK(keel_db_batch_execute(db, &stmt, 1, NULL));
    NOT_OK(keel_db_batch_execute(db, &stmt, SIZE_MAX / sizeof stmt + 2, resp));
    NOT_OK(keel_db_export(db, "tab", NULL, NULL, NULL));
    NOT_OK(keel_db_import(db, "tab", NULL, NULL, NULL));
    NOT_OK(keel_db_create_table_ex(db, "tab3", &schema, NULL, 2));
    NOT_OK(keel_db_update_table(db, "tab", NULL));
    NOT_OK(keel_db_update_ttl(db, NULL, "exp"));
    NOT_OK(keel_db_update_ttl(db, "tab", ""));
    NOT_OK(keel_db_get_stats(db, "tab", NULL));
    NOT_OK(keel_db_create_vector_index(db, "tab", NULL));
    keel_db_vector_index_def vd;
    memset(&vd, 0, sizeof vd);
    NOT_OK(keel_db_create_vector_index(db, "tab", &vd));
    NOT_OK(keel_db_drop_vector_index(db, "tab", NULL));
    NOT_OK(keel_db_list_vector_indexes(db, "tab", NULL, 3, &n));
    NOT_OK(keel_db_list_vector_indexes(db, NULL, NULL, 0, &n));
    float qv[4] = {1, 2, 3, 4};
    keel_db_hit hits[2];
    NOT_OK(keel_db_search(db, "tab", "vix", NULL, 4, 1, NULL, hits, &n));
    NOT_OK(keel_db_search(db, "tab", "vix", qv, 4, 1, NULL, NULL, &n));
    NOT_OK(keel_db_search(db, "tab", "vix", qv, 4, 1, NULL, hits, NULL));
    NOT_OK(keel_db_search(db, "tab", NULL, qv, 4, 1, NULL, hits, &n));
    NOT_OK(keel_db_search_batch(db, "tab", "vix", NULL, 1, 4, 1, NULL, hits, &n));
    NOT_OK(keel_db_search_batch(db, "tab", "vix", qv, SIZE_MAX / 2, 4, 1, NULL, hits, &n));
    uint8_t *cb;
    char *js;
    NOT_OK(keel_db_json_to_cbor(KEEL_DB_JSON_ITEM, NULL, 4, &cb, &n));
    NOT_OK(keel_db_json_to_cbor(KEEL_DB_JSON_ITEM, "{}", 2, NULL, &n));
    NOT_OK(keel_db_json_to_cbor(KEEL_DB_JSON_ITEM, "", 0, &cb, &n));
    NOT_OK(keel_db_json_from_cbor(KEEL_DB_JSON_ITEM, NULL, 4, &js, &n));
    NOT_OK(keel_db_json_from_cbor(KEEL_DB_JSON_ITEM, item_a, sizeof item_a, NULL, &n));
    NOT_OK(keel_db_json_from_cbor(KEEL_DB_JSON_ITEM, item_a, 0, &js, &n));
    keel_dynamo_response dr;
    CHECK(keel_dynamo_handle(db, NULL, "{}", 2, &dr) != 200);
    keel_dynamo_response_free(&dr);
    CHECK(keel_dynamo_handle(db, "ListTables", NULL, 0, &dr) == 200);  /* an empty body is {} */
    keel_dynamo_response_free(&dr);
    CHECK(keel_dynamo_handle(db, "", "{}", 2, &dr) != 200);
    keel_dynamo_response_free(&dr);
    CHECK(keel_dynamo_handle(db, "ListTables", "{}", 2, NULL) != 200);
    /* the database still works */
    keel_view got;
    CHECK_OK(keel_db_get_item(db, "tab", item_a, sizeof item_a, &got));
    CHECK(got.len == sizeof item_a);
    CHECK_OK(keel_db_close(db));
    keel_db_free(db);
}

int main(int argc, char **argv) {
    static const h_test tests[] = {
        H_TEST(test_null_handle),
        H_TEST(test_null_arguments),
        H_TEST(test_null_table_writes),
        H_TEST(test_damaged_catalog_fails_open_cleanly),
        H_TEST(test_export_target),
    };
    return h_main(argc, argv, tests, H_COUNT(tests));
}
