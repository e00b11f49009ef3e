/*
 * fuzz_records.c: libFuzzer target for the record-file reader (keel_records.h), the input
 * surface that takes untrusted bytes.
 *
 * The first input byte picks the mode:
 *   even  the rest is a file, read as is;
 *   odd   the rest describes a valid file that keel writes first (compression from the next
 *         byte, then records as varint length + bytes, a zero-length varint followed by 0xFF
 *         meaning "flush"), and the last 3 input bytes damage it (a bit flip at an offset
 *         and a cut of the tail), so the fuzzer reaches the structure behind the
 *         HighwayHash checks that random bytes never pass.
 * For every file:
 *   1. recover strategy: reading to the end never fails with ECORRUPT (damage is skipped)
 *      and stops; count/len/get/seek agree where they must; stat (with verify) succeeds.
 *   2. error strategy: the records read before the first error are a prefix of what the
 *      recover pass read.
 * Broken promises abort; ASan/UBSan/LSan catch the rest. replay.c drives it without
 * libFuzzer (it calls LLVMFuzzerInitialize too).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "keel_records.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[4096];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/keel_fuzz_records_%d", dir ? dir : "/tmp", (int)getpid());
    return 0;
}

#define PROMISE(c)                                                                  \
    do {                                                                            \
        if (!(c)) {                                                                 \
            fprintf(stderr, "broken promise: %s (%s:%d) [%s]\n", #c, __FILE__, __LINE__, \
                    keel_errmsg());                                                 \
            abort();                                                                \
        }                                                                           \
    } while (0)

static void write_raw(const uint8_t *d, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (n && fwrite(d, 1, n, f) != n) abort();
    fclose(f);
}

static void write_structured(const uint8_t *d, size_t n) {
    if (n < 4) {
        write_raw(d, n);
        return;
    }
    keel_rec_writer_options o = KEEL_REC_WRITER_OPTIONS_INIT;
    o.compression = (keel_rec_compression)(d[0] % 3);
    o.level = o.compression != KEEL_REC_UNCOMPRESSED ? 1 : 0;   /* uncompressed takes none */
    o.chunk_size = 256u + d[0] * 64u;
    const uint8_t *tail = d + n - 3;
    const uint8_t *p = d + 1, *end = tail;
    keel_rec_writer *w;
    PROMISE(keel_rec_writer_open(path, &o, &w) == KEEL_OK);
    while (p < end) {
        size_t len = *p++;
        if (len & 0x80 && p < end) len = (len & 0x7f) | (size_t)*p++ << 7;
        if (len == 0 && p < end && *p == 0xFF) {
            p++;
            PROMISE(keel_rec_writer_flush(w) == KEEL_OK);
            continue;
        }
        if (len > (size_t)(end - p)) len = (size_t)(end - p);
        PROMISE(keel_rec_writer_write(w, p, len) == KEEL_OK);
        p += len;
    }
    PROMISE(keel_rec_writer_close(w) == KEEL_OK);
    FILE *f = fopen(path, "r+b");
    if (!f) abort();
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    long off = (long)(((unsigned)tail[0] << 8 | tail[1]) * 7u) % (sz ? sz : 1);
    if (tail[2] & 0x80 && sz > 0) {
        fseek(f, off, SEEK_SET);
        int c = fgetc(f);
        fseek(f, off, SEEK_SET);
        fputc(c ^ (1 << (tail[2] & 7)), f);
    }
    fclose(f);
    if (tail[2] & 0x40) PROMISE(truncate(path, sz - (tail[2] & 0x3f) * 37 % (sz + 1)) == 0);
}

/* Records read under recover (lengths and a cheap hash each). */
typedef struct { size_t n; size_t cap; uint64_t *h; } seen;

static uint64_t fp(const keel_rec_record *r) { return keel_rec_hash(r->data, r->len) ^ r->len; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!path[0]) LLVMFuzzerInitialize(NULL, NULL);
    if (size == 0) return 0;
    if (data[0] & 1) write_structured(data + 1, size - 1);
    else write_raw(data + 1, size - 1);

    keel_rec_reader_options rec = {KEEL_REC_RECOVER}, err = {KEEL_REC_ERROR};
    seen s = {0, 0, NULL};
    keel_rec_reader *r;
    keel_status st = keel_rec_reader_open(path, &rec, &r);
    if (st == KEEL_OK) {
        keel_rec_record x;
        while ((st = keel_rec_reader_next(r, &x)) == KEEL_OK) {
            if (s.n == s.cap) {
                s.cap = s.cap ? s.cap * 2 : 64;
                s.h = realloc(s.h, s.cap * sizeof *s.h);
                if (!s.h) abort();
            }
            s.h[s.n++] = fp(&x);
        }
        PROMISE(st == KEEL_NOTFOUND || st == KEEL_EFORMAT || st == KEEL_ENOMEM);
        uint64_t len = 0;
        if (keel_rec_reader_len(r, &len) == KEEL_OK && len > 0) {
            keel_rec_record a, b;
            if (keel_rec_reader_get(r, len - 1, &a) == KEEL_OK &&
                keel_rec_reader_seek(r, len - 1) == KEEL_OK &&
                keel_rec_reader_next(r, &b) == KEEL_OK)
                PROMISE(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
            PROMISE(keel_rec_reader_get(r, len, &a) == KEEL_ERANGE);
        }
        uint64_t bytes = 0;
        (void)keel_rec_reader_skipped(r, &bytes);
        keel_rec_reader_close(r);
        keel_rec_stat stt;
        (void)keel_rec_stat_file(path, &rec, 1, &stt);
    }
    if (keel_rec_reader_open(path, &err, &r) == KEEL_OK) {
        keel_rec_record x;
        size_t i = 0;
        while (keel_rec_reader_next(r, &x) == KEEL_OK) {
            PROMISE(i < s.n && s.h[i] == fp(&x));
            i++;
        }
        keel_rec_reader_close(r);
    }
    free(s.h);
    unlink(path);
    return 0;
}
