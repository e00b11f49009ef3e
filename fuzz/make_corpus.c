/*
 * make_corpus.c: write a seed corpus for fuzz_open into DIR (fuzz/corpus/ by convention;
 * that directory is gitignored, this program is the committed source of it).
 *
 *   fuzz_make_corpus DIR
 *
 * The seeds are small valid stores made through the public API, covering every kind of
 * entry (put, overwrite, delete, empty and 0x00 values, batches, rename, streamed values,
 * several alignments, a compacted file), plus damaged copies: a torn tail, random bytes
 * after the end, an unfinished batch, a flipped bit, an empty file and a bare header.
 * Small seeds keep the fuzzer fast; it grows the rest itself.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "keel.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *g_dir;
static int g_written;

static void check(keel_status st, const char *what) {
    if (st != KEEL_OK) {
        fprintf(stderr, "make_corpus: %s: %s: %s\n", what, keel_strerror(st), keel_errmsg());
        exit(1);
    }
}

static void path_of(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", g_dir, name);
}

static keel_store *create(const char *name, uint32_t alignment) {
    char p[4096];
    keel_options o = KEEL_OPTIONS_INIT;
    keel_store *s = NULL;
    path_of(p, sizeof p, name);
    unlink(p);
    o.mode = KEEL_OPEN_NEW;
    o.alignment = alignment;
    check(keel_open(p, &o, &s), name);
    g_written++;
    return s;
}

static void finish(keel_store *s) {
    check(keel_close(s), "keel_close");
    keel_free(s);
}

static void put(keel_store *s, const char *k, const char *v) {
    check(keel_put(s, k, strlen(k), v, strlen(v)), "keel_put");
}

static uint8_t *slurp(const char *name, size_t *len) {
    char p[4096];
    path_of(p, sizeof p, name);
    FILE *f = fopen(p, "rb");
    if (!f) {
        perror(p);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    if (!b || fread(b, 1, (size_t)n, f) != (size_t)n) exit(1);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void spill(const char *name, const uint8_t *data, size_t len) {
    char p[4096];
    path_of(p, sizeof p, name);
    FILE *f = fopen(p, "wb");
    if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
        perror(p);
        exit(1);
    }
    g_written++;
}

typedef struct chunks {
    int left;
} chunks;

static long long read_chunks(void *ctx, void *buf, size_t cap) {
    chunks *c = ctx;
    if (c->left == 0) return 0;
    c->left--;
    size_t n = cap < 50 ? cap : 50;
    memset(buf, 'a' + c->left, n);
    return (long long)n;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_make_corpus DIR\n");
        return 2;
    }
    g_dir = argv[1];
    if (mkdir(g_dir, 0755) != 0 && errno != EEXIST) {
        perror(g_dir);
        return 1;
    }

    keel_store *s;

    s = create("seed-empty-store.keel", 0);
    finish(s);

    s = create("seed-one.keel", 0);
    put(s, "key", "value");
    finish(s);

    s = create("seed-mixed.keel", 0);
    put(s, "alpha", "first");
    put(s, "beta", "second value, a little longer than the first");
    put(s, "alpha", "overwritten");
    check(keel_put(s, "empty", 5, "", 0), "empty value");
    check(keel_put(s, "zero", 4, "\0", 1), "0x00 value");
    check(keel_put(s, "", 0, "empty key", 9), "empty key");
    check(keel_delete(s, "beta", 4), "delete");
    finish(s);

    s = create("seed-batch.keel", 0);
    {
        keel_kv kv[5] = {{"k1", 2, "v1", 2}, {"k2", 2, "v2", 2}, {"k3", 2, "", 0},
                         {"k1", 2, "v1 again", 8}, {"k4", 2, "\0\0\0\0", 4}};
        keel_view del[2] = {{(const uint8_t *)"k2", 2}, {(const uint8_t *)"nope", 4}};
        size_t deleted = 0;
        check(keel_put_batch(s, kv, 5), "batch");
        check(keel_delete_batch(s, del, 2, &deleted), "delete batch");
    }
    finish(s);

    s = create("seed-rename.keel", 0);
    put(s, "old", "moving value");
    put(s, "other", "x");
    check(keel_rename(s, "old", 3, "new", 3), "rename");
    finish(s);

    s = create("seed-stream.keel", 0);
    {
        chunks c = {4};
        check(keel_put_stream(s, "streamed", 8, read_chunks, &c), "stream");
    }
    put(s, "after", "stream");
    finish(s);

    static const uint32_t aligns[] = {1, 8, 4096};
    for (size_t i = 0; i < sizeof aligns / sizeof *aligns; i++) {
        char name[64];
        snprintf(name, sizeof name, "seed-align-%u.keel", aligns[i]);
        s = create(name, aligns[i]);
        put(s, "a", "aligned value one");
        put(s, "b", "2");
        check(keel_delete(s, "a", 1), "delete");
        finish(s);
    }

    s = create("seed-compacted.keel", 0);
    for (int i = 0; i < 6; i++) {
        char k[16], v[32];
        snprintf(k, sizeof k, "key%d", i % 3);
        snprintf(v, sizeof v, "value number %d", i);
        put(s, k, v);
    }
    check(keel_delete(s, "key1", 4), "delete");
    check(keel_compact(s, NULL, NULL), "compact");
    put(s, "post", "compaction");
    finish(s);

    /* Damaged copies of the mixed store and of the batch store. */
    size_t len;
    uint8_t *b = slurp("seed-mixed.keel", &len);
    spill("seed-torn-7.keel", b, len - 7);
    spill("seed-torn-41.keel", b, len - 41);
    {
        uint8_t *t = malloc(len + 13);
        memcpy(t, b, len);
        for (int i = 0; i < 13; i++) t[len + (size_t)i] = (uint8_t)(i * 37 + 11);
        spill("seed-garbage-tail.keel", t, len + 13);
        memset(t + len, 0, 13);
        spill("seed-zero-tail.keel", t, len + 13);
        memcpy(t, b, len);
        t[len / 2] ^= 0x10;
        spill("seed-bitflip.keel", t, len);
        free(t);
    }
    spill("seed-header-only.bin", b, 64);
    spill("seed-empty-file.bin", b, 0);
    free(b);

    b = slurp("seed-batch.keel", &len);
    /* Cut the last trailer of the first batch's group: an unfinished atomic batch (the
     * delete batch after it goes too, so the cut lands inside the put batch). */
    if (len > 200) spill("seed-batch-cut.keel", b, len - 200);
    free(b);

    printf("make_corpus: %d files in %s\n", g_written, g_dir);
    return 0;
}
