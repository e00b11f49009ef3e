/*
 * test_db_damage.c: hostile database files through the C API, the reliability campaign's
 * bit flips made systematic. A small database (a table with a sort key, a global index, TTL,
 * a vector index, items with numbers of every encoding, sets, nested lists and maps, vectors,
 * and the default table) is built; then, for a seeded series of mutations, one to three bytes
 * of one entry's value are replaced (by CBOR heads with huge lengths, indefinite lengths,
 * tags, floats, or a flipped bit) and the entry's CRC is recomputed, so that the store's
 * checksums pass and the Database's decoders meet the hostile bytes. Each mutated file is
 * opened read-only and every read path runs (list, describe, stats, count, scans with and
 * without filter and projection, a query, an index query, a vector search, PartiQL, a
 * default-table get, verify, JSON rendering), then opened writable (put, reap, compact) and
 * read again. Every call must return a status (a failure with a detail message), never
 * crash or read outside the file; the ASan + UBSan + LSan run of this suite checks the
 * latter. KEEL_DB_DAMAGE_ROUNDS sets the number of mutations (default 300).
 */
#include "util.h"

#include "keel_db.h"

#include <stdlib.h>

static void item_put(keel_db *db, const char *table, const char *json) {
    uint8_t *cbor;
    size_t len;
    REQUIRE_OK(keel_db_json_to_cbor(KEEL_DB_JSON_ITEM, json, strlen(json), &cbor, &len));
    REQUIRE_OK(keel_db_put_item(db, table, cbor, len));
    free(cbor);
}

static void build(const char *path) {
    keel_db *db;
    keel_db_options o = KEEL_DB_OPTIONS_INIT;
    REQUIRE_OK(keel_db_open(path, &o, &db));
    keel_db_schema schema = {"pk", KEEL_DB_KEY_S, "sk", KEEL_DB_KEY_N};
    keel_db_index_def ix = {"byc", 0, "c", KEEL_DB_KEY_S, "n", KEEL_DB_KEY_N,
                            KEEL_DB_PROJECT_ALL, NULL, 0};
    REQUIRE_OK(keel_db_create_table_ex(db, "tab", &schema, &ix, 1));
    REQUIRE_OK(keel_db_update_ttl(db, "tab", "exp"));
    keel_db_vector_index_def vd = {"vix", "vec", 4, KEEL_DB_COSINE, KEEL_DB_PROJECT_ALL,
                                   NULL, 0, NULL, 0, 0, 0, NULL};
    REQUIRE_OK(keel_db_create_vector_index(db, "tab", &vd));
    item_put(db, "tab", "{\"pk\": {\"S\": \"p0\"}, \"sk\": {\"N\": \"1\"}, \"c\": {\"S\": \"c0\"},"
             " \"n\": {\"N\": \"1.5\"}, \"big\": {\"N\": \"123456789012345678901234567890\"},"
             " \"m\": {\"M\": {\"a\": {\"L\": [{\"N\": \"-7\"}, {\"S\": \"x\"}, {\"B\": \"eQ==\"},"
             " {\"NULL\": true}, {\"BOOL\": false}]}}}, \"ss\": {\"SS\": [\"a\", \"b\"]},"
             " \"ns\": {\"NS\": [\"1\", \"2e5\"]}, \"bs\": {\"BS\": [\"cQ==\"]},"
             " \"exp\": {\"N\": \"4000000000\"}}");
    item_put(db, "tab", "{\"pk\": {\"S\": \"p1\"}, \"sk\": {\"N\": \"-2.25\"},"
             " \"c\": {\"S\": \"c1\"}, \"n\": {\"N\": \"-1e-100\"}, \"exp\": {\"N\": \"1\"}}");
    /* An item with a vector (tag 85 around 16 bytes: four float32 little-endian). */
    static const uint8_t vec_item[] = {
        0xA4, 0x62, 'p', 'k', 0x62, 'p', '2', 0x62, 's', 'k', 0x03, 0x61, 'c', 0x62, 'c', '2',
        0x63, 'v', 'e', 'c', 0xD8, 0x55, 0x50, 0, 0, 0x80, 0x3F, 0, 0, 0, 0x40, 0, 0, 0x40,
        0x40, 0, 0, 0x80, 0x40};
    REQUIRE_OK(keel_db_put_item(db, "tab", vec_item, sizeof vec_item));
    static const uint8_t kv_item[] = {0xA1, 0x61, 'a', 0x82, 0x01, 0x61, 'z'};
    REQUIRE_OK(keel_db_kv_put(db, "kv", 2, NULL, 0, kv_item, sizeof kv_item));
    keel_db_free(db);
}

typedef struct {
    size_t voff, vlen, koff, klen, toff;
} ent;

static uint64_t ld_le(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* The entries of a store file, walking the trailer chain back from the end (FORMAT.md). */
static size_t entries(const uint8_t *raw, size_t len, ent *out, size_t cap) {
    size_t n = 0, end = len & ~(size_t)7;
    size_t align = (size_t)1 << raw[12];
    while (end > 64 && n < cap) {
        size_t t = end - 40;
        uint64_t prev = ld_le(raw + t + 8, 8), vlen = ld_le(raw + t + 16, 8);
        size_t klen = (size_t)ld_le(raw + t + 24, 4);
        size_t voff = vlen ? (prev + align - 1) / align * align : prev;
        out[n++] = (ent){voff, (size_t)vlen, voff + (size_t)vlen, klen, t};
        end = (size_t)prev;
    }
    return n;
}

static void reseal(uint8_t *raw, const ent *e) {
    uint32_t c = keel_crc32c(0, raw + e->voff, e->vlen);
    c = keel_crc32c(c, raw + e->koff, e->klen);
    c = keel_crc32c(c, raw + e->toff, 36);
    for (int i = 0; i < 4; i++) raw[e->toff + 36 + i] = (uint8_t)(c >> (8 * i));
}

static void must_fail_clearly(keel_status st) {
    if (st != KEEL_OK) CHECK(keel_errmsg()[0] != '\0');
}

static void scan(keel_db *db, const char *table, const char *filter, const char *proj,
                 const char *index, const char *kc) {
    static const uint8_t vals[] = {0xA2, 0x62, ':', 'v', 0x01, 0x62, ':', 'p', 0x62, 'p', '0'};
    keel_db_query q = KEEL_DB_QUERY_INIT;
    q.filter = filter;
    q.projection = proj;
    q.index = index;
    q.key_condition = kc;
    bool uses_v = filter != NULL, uses_p = kc != NULL && strstr(kc, ":p") != NULL;
    if (uses_v || uses_p) {
        q.values = vals;
        q.values_len = sizeof vals;
    }
    if (uses_v != uses_p) return;  /* unused values are refused; keep the calls valid */
    keel_db_cursor *c;
    keel_status st = kc ? keel_db_query_start(db, table, &q, &c)
                        : keel_db_scan_start(db, table, &q, &c);
    must_fail_clearly(st);
    if (st != KEEL_OK) return;
    keel_view v;
    while ((st = keel_db_cursor_next(c, &v)) == KEEL_OK) {
        char *js;
        size_t jl;
        if (keel_db_json_from_cbor(KEEL_DB_JSON_ITEM, v.data, v.len, &js, &jl) == KEEL_OK)
            free(js);
    }
    if (st != KEEL_NOTFOUND) must_fail_clearly(st);
    keel_db_cursor_free(c);
}

static void exercise(keel_db *db) {
    char *names;
    size_t n;
    if (keel_db_list_tables(db, &names, &n) == KEEL_OK) {
        const char *p = names;
        for (size_t i = 0; i < n; i++, p += strlen(p) + 1) {
            keel_db_table_info info;
            keel_db_table_stats ts;
            uint64_t count;
            must_fail_clearly(keel_db_describe_table(db, p, &info));
            must_fail_clearly(keel_db_get_stats(db, p, &ts));
            must_fail_clearly(keel_db_count(db, p, &count));
            scan(db, p, NULL, NULL, NULL, NULL);
            scan(db, p, NULL, "pk, m.a[0], c", NULL, NULL);
        }
        free(names);
    }
    scan(db, "tab", "n > :v OR size(m) > :v OR contains(ss, :v)", NULL, NULL, "pk = :p");
    scan(db, "tab", NULL, NULL, "byc", NULL);
    float qv[4] = {1, 1, 1, 1};
    keel_db_hit hits[3];
    size_t nh;
    keel_status st = keel_db_search(db, "tab", "vix", qv, 4, 3, NULL, hits, &nh);
    must_fail_clearly(st);
    if (st == KEEL_OK) keel_db_hits_free(hits, nh);
    keel_view v;
    st = keel_db_kv_get(db, "kv", 2, NULL, 0, &v);
    if (st != KEEL_NOTFOUND) must_fail_clearly(st);
    keel_db_result *r;
    if (keel_db_execute(db, "SELECT pk, c FROM tab WHERE pk = 'p0'", NULL, 0, NULL, &r) ==
        KEEL_OK) {
        while (keel_db_result_next(r, &v) == KEEL_OK) {}
        keel_db_result_free(r);
    }
    keel_verify_report rep;
    must_fail_clearly(keel_db_verify(db, &rep));
}

static void test_hostile_entries(void) {
    const char *base = h_path("base.keel");
    build(base);
    size_t len;
    uint8_t *raw = read_file(base, &len);
    REQUIRE(raw != NULL);
    ent all[64], ents[64];
    size_t n = entries(raw, len, all, 64), nv = 0;
    for (size_t i = 0; i < n; i++)
        if (all[i].vlen) ents[nv++] = all[i];
    REQUIRE(nv > 5);
    static const uint8_t heads[] = {0x00, 0xFF, 0x1B, 0x3B, 0x5B, 0x7B, 0x9B, 0xBB, 0xDB, 0x9F,
                                    0xBF, 0x5F, 0x7F, 0xC2, 0xC3, 0xC4, 0xD9, 0xF9, 0xFA, 0xFB,
                                    0xF7, 0x18, 0x19, 0x1A, 0x80, 0xA0, 0x58, 0x78, 0x98, 0xB8};
    const char *env = getenv("KEEL_DB_DAMAGE_ROUNDS");
    int rounds = env ? atoi(env) : 300;
    uint64_t x = 0x9E3779B97F4A7C15u;
    uint8_t *m = malloc(len);
    REQUIRE(m != NULL);
    char name[32];
    int opened = 0, refused = 0;
    for (int round = 0; round < rounds; round++) {
        memcpy(m, raw, len);
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        const ent *e = &ents[x % nv];
        int nbytes = 1 + (int)((x >> 8) % 3);
        for (int b = 0; b < nbytes; b++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            size_t pos = e->voff + (size_t)(x % e->vlen);
            m[pos] = (x >> 40) % 10 < 7 ? heads[(x >> 20) % sizeof heads]
                                        : (uint8_t)(m[pos] ^ (1u << ((x >> 32) % 8)));
        }
        reseal(m, e);
        snprintf(name, sizeof name, "m%d.keel", round);  /* recovery may leave side files */
        const char *path = h_path(name);
        REQUIRE(write_file(path, m, len) == 0);
        keel_db *db;
        keel_db_options o = KEEL_DB_OPTIONS_INIT;
        o.mode = KEEL_OPEN_READONLY;
        keel_status st = keel_db_open(path, &o, &db);
        must_fail_clearly(st);
        if (st == KEEL_OK) {
            opened++;
            exercise(db);
            keel_db_free(db);
        } else {
            refused++;
        }
        o.mode = KEEL_OPEN_EXISTING;
        if (keel_db_open(path, &o, &db) == KEEL_OK) {
            static const uint8_t item[] = {0xA3, 0x62, 'p', 'k', 0x62, 'z', 'z', 0x62, 's', 'k',
                                           0x01, 0x61, 'c', 0x61, 'c'};
            must_fail_clearly(keel_db_put_item(db, "tab", item, sizeof item));
            uint64_t reaped;
            must_fail_clearly(keel_db_reap_expired(db, NULL, 0, &reaped));
            must_fail_clearly(keel_db_compact(db, NULL, NULL));
            exercise(db);
            keel_db_free(db);
        }
        remove(path);
    }
    CHECK(opened > 0);  /* most mutations leave a database that opens */
    free(m);
    free(raw);
}

int main(int argc, char **argv) {
    static const h_test tests[] = {
        H_TEST(test_hostile_entries),
    };
    return h_main(argc, argv, tests, H_COUNT(tests));
}
