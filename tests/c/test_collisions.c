/*
 * test_collisions.c: distinct keys that share an index hash stay distinct keys.
 *
 * keel_options.test_hash_mask makes the in-memory index use (hash & mask) (0 is "off"), so
 * with mask 0x1 or 0x3 thousands of keys fall on one or a few hash values and every lookup
 * must compare the stored key bytes. With 10k keys under such a mask: every key is
 * readable with its own value, overwriting or deleting one leaves the others alone, a
 * tombstone of one key never hides another, listing returns each key exactly once, and all
 * of it survives reopen (with and without the mask) and compaction. The file itself is
 * unaffected by the mask: entries carry the real XXH3 of their key.
 *
 * Every lookup walks a chain as long as the key count, so the work grows with its square:
 * 10k keys take ~10 s in a release build but minutes under ASan, so sanitized builds use
 * 2,000 keys (h_size; a multiple of the batch size), which still puts thousands of keys on each hash value.
 */
#include "util.h"

#define NKEYS_MAX 10000
static int nkeys = NKEYS_MAX;   /* h_size(10000, 2000), set by collide_with_mask */

static size_t ckey(int i, char *k) { return (size_t)snprintf(k, 24, "collide-%d", i); }

/* Value of key i at version ver (ver < 0: absent). */
static size_t cval(int i, int ver, uint8_t *buf) {
    size_t len = (size_t)((i * 13 + ver * 7) % 48);
    if (i % 97 == 0) len = 0;            /* some empty values */
    if (i % 89 == 0) len = 1;            /* and some single bytes */
    pattern_fill((uint64_t)i * 1000 + (uint64_t)ver, buf, len);
    if (len == 1) buf[0] = 0;
    return len;
}

/* Key index from a listed key, -1 if it is not one of ours. */
static int ckey_index(keel_view k) {
    if (k.len < 9 || k.len > 13 || memcmp(k.data, "collide-", 8) != 0) return -1;
    int i = 0;
    for (size_t j = 8; j < k.len; j++) {
        if (k.data[j] < '0' || k.data[j] > '9') return -1;
        i = i * 10 + (k.data[j] - '0');
    }
    return i < nkeys ? i : -1;
}

/* Check every key against version[] and list the store; stops early after many failures. */
static void check_all_at(int line, keel_store *s, const int *version, int stride) {
    h_progress("%d keys: checking every %skey (line %d)", nkeys, stride == 1 ? "" : "7th ",
               line);
    char k[24];
    uint8_t buf[64];
    uint64_t live = 0;
    int before = h_failures();
    for (int i = 0; i < nkeys && h_failures() - before < 20; i++) {
        size_t kl = ckey(i, k);
        if (version[i] >= 0) live++;
        if (i % stride != 0) continue;
        if (version[i] < 0) {
            check_value_at(__FILE__, line, s, k, kl, NULL, 0);
        } else {
            size_t len = cval(i, version[i], buf);
            check_value_at(__FILE__, line, s, k, kl, buf, len);
        }
    }
    uint64_t c = count_of(s);
    if (c != live)
        h_fail(__FILE__, line, "count %llu, want %llu", (unsigned long long)c, (unsigned long long)live);

    /* keel_get_many agrees with keel_get on every key, in batches of odd sizes. */
    static char mk[NKEYS_MAX][24];
    static keel_view mkeys[NKEYS_MAX], mvals[NKEYS_MAX];
    static keel_status mst[NKEYS_MAX];
    for (int i = 0; i < nkeys; i++) mkeys[i] = (keel_view){ (const uint8_t *)mk[i], ckey(i, mk[i]) };
    int mbad = 0;
    for (int base = 0; base < nkeys; base += 77) {
        size_t n = nkeys - base < 77 ? (size_t)(nkeys - base) : 77;
        if (keel_get_many(s, mkeys + base, n, mvals + base, mst + base) != KEEL_OK) mbad++;
    }
    for (int i = 0; i < nkeys && mbad < 5; i++) {
        size_t len = version[i] >= 0 ? cval(i, version[i], buf) : 0;
        bool ok = version[i] < 0 ? mst[i] == KEEL_NOTFOUND
                                 : mst[i] == KEEL_OK && mvals[i].len == len &&
                                       memcmp(mvals[i].data, buf, len) == 0;
        if (!ok) {
            h_fail(__FILE__, line, "keel_get_many: key %d: status %d", i, (int)mst[i]);
            mbad++;
        }
    }

    keel_iter *it;
    if (keel_iter_new(s, &it) != KEEL_OK) {
        h_fail(__FILE__, line, "keel_iter_new: %s", keel_errmsg());
        return;
    }
    if (keel_iter_len(it) != live)
        h_fail(__FILE__, line, "iter_len %zu, want %llu", keel_iter_len(it), (unsigned long long)live);
    static int seen[NKEYS_MAX];
    memset(seen, 0, sizeof seen);
    keel_view kv, vv;
    int bad = 0;
    while (keel_iter_next(it, &kv, &vv) == KEEL_OK) {
        int i = ckey_index(kv);
        if (i < 0 || version[i] < 0) {
            bad++;
            continue;
        }
        seen[i]++;
        size_t len = cval(i, version[i], buf);
        if (vv.len != len || memcmp(vv.data, buf, len) != 0) bad++;
    }
    keel_iter_free(it);
    if (bad) h_fail(__FILE__, line, "listing: %d unexpected keys or values", bad);
    int dup = 0, missing = 0;
    for (int i = 0; i < nkeys; i++) {
        if (version[i] >= 0 && seen[i] == 0) missing++;
        if (seen[i] > 1) dup++;
    }
    if (dup || missing) h_fail(__FILE__, line, "listing: %d keys listed twice, %d missing", dup, missing);
}
/* Every key, or every 7th (plus the count and the full listing) to save time. */
#define CHECK_ALL(s, v) check_all_at(__LINE__, s, v, 1)
#define CHECK_SOME(s, v) check_all_at(__LINE__, s, v, 7)

static void collide_with_mask(uint64_t mask) {
    nkeys = (int)h_size(NKEYS_MAX, 2000);
    const char *p = h_path("c.keel");
    keel_store *s;
    REQUIRE_OK(open_opts(p, KEEL_OPEN_CREATE, 64, KEEL_SYNC_NONE, mask, &s));
    static int version[NKEYS_MAX];
    char k[24];
    uint8_t buf[64];

    /* Half by single puts, half by batches. */
    for (int i = 0; i < nkeys / 2; i++) {
        version[i] = 0;
        size_t len = cval(i, 0, buf);
        size_t kl = ckey(i, k);
        CHECK_OK(keel_put(s, k, kl, buf, len));
        if (h_failures() > 10) return;
        if (i % 500 == 0)
            h_progress("mask %#llx: %d of %d keys put", (unsigned long long)mask, i, nkeys);
    }
    enum { B = 100 };
    static char kb[B][24];
    static uint8_t vb[B][64];
    keel_kv items[B];
    for (int base = nkeys / 2; base < nkeys; base += B) {
        for (int j = 0; j < B; j++) {
            int i = base + j;
            version[i] = 0;
            items[j].key = kb[j];
            items[j].key_len = ckey(i, kb[j]);
            items[j].value = vb[j];
            items[j].value_len = cval(i, 0, vb[j]);
        }
        CHECK_OK(keel_put_batch(s, items, B));
    }
    CHECK_SOME(s, version);

    /* The file holds real hashes. */
    keel_entry e;
    size_t kl = ckey(1234, k);
    CHECK_OK(keel_get_entry(s, k, kl, &e));
    CHECK_EQ(e.key_hash, keel_hash(k, kl));

    /* Overwrite one, delete one: neighbours unaffected. */
    kl = ckey(17, k);
    version[17] = 1;
    size_t len = cval(17, 1, buf);
    CHECK_OK(keel_put(s, k, kl, buf, len));
    kl = ckey(18, k);
    version[18] = -1;
    CHECK_OK(keel_delete(s, k, kl));
    CHECK_ST(keel_delete(s, k, kl), KEEL_NOTFOUND);
    for (int i = 10; i < 30; i++) {
        kl = ckey(i, k);
        if (version[i] < 0) {
            CHECK_ABSENT(s, k, kl);
        } else {
            len = cval(i, version[i], buf);
            CHECK_VALUE(s, k, kl, buf, len);
        }
    }
    /* Many more changes spread over the key space. */
    for (int i = 0; i < nkeys; i += 7) {
        kl = ckey(i, k);
        if (i % 3 == 0) {
            if (version[i] >= 0) CHECK_OK(keel_delete(s, k, kl));
            version[i] = -1;
        } else {
            version[i] = version[i] < 0 ? 5 : version[i] + 1;
            len = cval(i, version[i], buf);
            CHECK_OK(keel_put(s, k, kl, buf, len));
        }
    }
    /* Delete then re-add a key: it comes back, the others stay. */
    kl = ckey(21, k);
    if (version[21] >= 0) CHECK_OK(keel_delete(s, k, kl));
    version[21] = 9;
    len = cval(21, 9, buf);
    CHECK_OK(keel_put(s, k, kl, buf, len));
    /* A rename between two colliding keys. */
    char k2[24];
    size_t kl2 = ckey(22, k2);
    kl = ckey(23, k);
    if (version[23] >= 0) CHECK_OK(keel_delete(s, k, kl));
    version[23] = -1;
    if (version[22] < 0) {
        version[22] = 3;
        len = cval(22, 3, buf);
        CHECK_OK(keel_put(s, k2, kl2, buf, len));
    }
    /* rename 22 -> 23 and back via keel_rename twice: values follow their keys */
    CHECK_OK(keel_rename(s, k2, kl2, k, kl));
    CHECK_OK(keel_rename(s, k, kl, k2, kl2));
    CHECK_ALL(s, version);
    if (h_failures()) return;

    /* Reopen with the mask, read-only with the mask, and without it. */
    keel_free(s);
    REQUIRE_OK(open_opts(p, KEEL_OPEN_EXISTING, 0, KEEL_SYNC_NONE, mask, &s));
    CHECK_ALL(s, version);
    keel_free(s);
    REQUIRE_OK(open_opts(p, KEEL_OPEN_READONLY, 0, KEEL_SYNC_NONE, mask, &s));
    CHECK_SOME(s, version);
    keel_free(s);
    REQUIRE_OK(open_opts(p, KEEL_OPEN_READONLY, 0, KEEL_SYNC_NONE, 0, &s));
    CHECK_ALL(s, version);
    keel_free(s);

    /* Compaction under the mask, then reopen. */
    h_progress("mask %#llx, %d keys: compacting", (unsigned long long)mask, nkeys);
    REQUIRE_OK(open_opts(p, KEEL_OPEN_EXISTING, 0, KEEL_SYNC_NONE, mask, &s));
    CHECK_OK(keel_compact(s, NULL, NULL));
    CHECK_SOME(s, version);
    keel_stats st;
    CHECK_OK(keel_stat(s, &st));
    CHECK_EQ(st.entries, st.live_keys);
    /* Writes after compaction still respect collisions. */
    kl = ckey(0, k);
    version[0] = 42;
    len = cval(0, 42, buf);
    CHECK_OK(keel_put(s, k, kl, buf, len));
    CHECK_ALL(s, version);
    CHECK_OK(keel_verify(s, NULL));
    keel_free(s);
    REQUIRE_OK(open_opts(p, KEEL_OPEN_READONLY, 0, KEEL_SYNC_NONE, mask, &s));
    CHECK_SOME(s, version);
    keel_free(s);
}

static void test_collisions_mask1(void) { collide_with_mask(0x1); }
static void test_collisions_mask3(void) { collide_with_mask(0x3); }

/* Keys that differ only in length or in one byte, all on one hash value. */
static void test_collisions_similar_keys(void) {
    keel_store *s;
    REQUIRE_OK(open_opts(h_path("s.keel"), KEEL_OPEN_CREATE, 0, KEEL_SYNC_NONE, 0x1, &s));
    static const char kbytes[] = "aaaaaaaaaaaaaaaa";
    for (size_t l = 0; l <= 16; l++) {
        char v[8];
        snprintf(v, sizeof v, "len%zu", l);
        CHECK_OK(keel_put(s, kbytes, l, v, strlen(v)));
    }
    for (int c = 0; c < 256; c++) {
        uint8_t k[4] = { 'x', (uint8_t)c, 'y', 0 };
        uint8_t v = (uint8_t)c;
        CHECK_OK(keel_put(s, k, 4, &v, 1));
    }
    for (size_t l = 0; l <= 16; l++) {
        char v[8];
        snprintf(v, sizeof v, "len%zu", l);
        CHECK_VALUE(s, kbytes, l, v, strlen(v));
    }
    for (int c = 0; c < 256; c++) {
        uint8_t k[4] = { 'x', (uint8_t)c, 'y', 0 };
        uint8_t v = (uint8_t)c;
        CHECK_VALUE(s, k, 4, &v, 1);
    }
    CHECK_EQ(count_of(s), 17 + 256);
    /* Delete the empty key: the others stay. */
    CHECK_OK(keel_delete(s, "", 0));
    CHECK_ABSENT(s, "", 0);
    CHECK_VALUE(s, kbytes, 1, "len1", 4);
    CHECK_EQ(count_of(s), 16 + 256);
    keel_free(s);
}

int main(int argc, char **argv) {
    static const h_test tests[] = {
        H_TEST(test_collisions_mask1),
        H_TEST(test_collisions_mask3),
        H_TEST(test_collisions_similar_keys),
    };
    return h_main(argc, argv, tests, H_COUNT(tests));
}
