/*
 * fuzz_simd.c: libFuzzer target for SIMD R Drive files read by keel_simd_open and
 * keel_simd_import (include/keel_migrate.h), the migration path's untrusted input.
 *
 * For every input, written to a file: open it with the alignment found and with each fixed
 * alignment (1, 16, 64). The file must be byte-for-byte unchanged afterwards (the source of
 * an import is never written). When the open succeeds: valid_size + torn_bytes equals the
 * file size, every entry lies inside [0, valid_size) in increasing order without overlap,
 * and a delete is one byte. Then import into a fresh keel store with an unknown prefix (no
 * keys): the report must add up (live = imported + unknown, entries = live + deleted +
 * superseded, every unknown kept) and the store must hold `live` keys. The first byte of
 * the input picks the alignment of the import. Any broken promise aborts, which libFuzzer reports like a crash.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "keel.h"
#include "keel_migrate.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[4096], store_path[4096];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/keel_fuzz_simd_%d", dir ? dir : "/tmp", (int)getpid());
    snprintf(store_path, sizeof store_path, "%s.keel", path);
    return 0;
}

#define PROMISE(c)                                                                       \
    do {                                                                                 \
        if (!(c)) {                                                                      \
            fprintf(stderr, "broken promise: %s (%s:%d) [%s]\n", #c, __FILE__, __LINE__, \
                    keel_errmsg());                                                      \
            abort();                                                                     \
        }                                                                                \
    } while (0)

static void unchanged(const uint8_t *d, size_t n) {
    FILE *f = fopen(path, "rb");
    PROMISE(f != NULL);
    uint8_t *buf = malloc(n + 1);
    PROMISE(buf != NULL);
    size_t got = fread(buf, 1, n + 1, f);
    fclose(f);
    PROMISE(got == n && (n == 0 || memcmp(buf, d, n) == 0));
    free(buf);
}

static void check_open(const uint8_t *d, size_t n, uint32_t alignment) {
    keel_simd_file *f = NULL;
    keel_status st = keel_simd_open(path, alignment, &f);
    unchanged(d, n);
    if (st != KEEL_OK) {
        PROMISE(st == KEEL_ECORRUPT || st == KEEL_ENOMEM);
        PROMISE(f == NULL);
        return;
    }
    keel_simd_info info;
    keel_simd_stat(f, &info);
    PROMISE(info.file_size == n && info.valid_size + info.torn_bytes == n);
    PROMISE(alignment == 0 || info.entries == 0 || info.alignment == alignment);
    uint64_t end = 0;
    for (uint64_t i = 0; i < info.entries; i++) {
        keel_simd_entry e;
        PROMISE(keel_simd_entry_at(f, i, &e) == KEEL_OK);
        PROMISE(e.offset >= end && e.value.len >= 1);
        PROMISE(e.value.data == NULL || e.offset + e.value.len + 20 <= info.valid_size);
        PROMISE(!e.tombstone || (e.value.len == 1 && e.value.data[0] == 0));
        end = e.offset + e.value.len + 20;
    }
    PROMISE(end == info.valid_size);
    keel_simd_entry e;
    PROMISE(keel_simd_entry_at(f, info.entries, &e) == KEEL_ERANGE);
    keel_simd_close(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    FILE *out = fopen(path, "wb");
    PROMISE(out != NULL);
    PROMISE(size == 0 || fwrite(data, 1, size, out) == size);
    fclose(out);
    static const uint32_t aligns[] = {0, 1, 16, 64};
    for (size_t i = 0; i < 4; i++) check_open(data, size, aligns[i]);

    unlink(store_path);
    keel_store *s = NULL;
    PROMISE(keel_open(store_path, NULL, &s) == KEEL_OK);
    keel_simd_import_options o;
    memset(&o, 0, sizeof o);
    o.unknown_prefix = (const uint8_t *)"u:";
    o.unknown_prefix_len = 2;
    o.alignment = size ? aligns[data[0] % 4] : 0;
    keel_simd_report r;
    keel_status st = keel_simd_import(path, s, &o, &r);
    unchanged(data, size);
    if (st == KEEL_OK) {
        PROMISE(r.live == r.imported + r.unknown && r.imported == 0);
        PROMISE(r.unknown_kept == r.unknown);
        PROMISE(r.src.entries == r.live + r.deleted + r.superseded);
        uint64_t count = 0;
        PROMISE(keel_count(s, &count) == KEEL_OK && count == r.live);
    } else {
        PROMISE(st == KEEL_ECORRUPT || st == KEEL_ENOMEM);
    }
    keel_free(s);
    unlink(store_path);
    unlink(path);
    return 0;
}
