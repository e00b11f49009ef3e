/*
 * golden.h: builds keel format-1.0 files byte by byte from docs/FORMAT.md, without the
 * engine (only keel_crc32c and keel_hash, whose values test_basic checks against the
 * documented test vectors). test_basic opens such hand-made files to prove the engine
 * reads the documented format, and compares them with tests/data/format-1.0.keel, the
 * golden file that every later version of keel must still read.
 */
#ifndef KEEL_TEST_GOLDEN_H
#define KEEL_TEST_GOLDEN_H

#include "keel.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct fbuild {
    uint8_t *b;
    size_t len, cap;
    uint32_t align, tag;
} fbuild;

static void fb_bytes(fbuild *f, const void *p, size_t n) {
    if (f->len + n > f->cap) {
        size_t cap = f->cap ? f->cap : 4096;
        while (cap < f->len + n) cap *= 2;
        uint8_t *nb = realloc(f->b, cap);
        if (!nb) abort();
        f->b = nb;
        f->cap = cap;
    }
    if (n) {
        if (p) memcpy(f->b + f->len, p, n);
        else memset(f->b + f->len, 0, n);
    }
    f->len += n;
}

static void fb_le(fbuild *f, uint64_t v, int n) {
    uint8_t b[8];
    for (int i = 0; i < n; i++) b[i] = (uint8_t)(v >> (8 * i));
    fb_bytes(f, b, (size_t)n);
}

/* The 64-byte header. */
static void fb_header(fbuild *f, uint16_t major, uint16_t minor, uint8_t align_log2,
                      uint32_t tag, uint64_t created) {
    static const uint8_t magic[8] = { 0x89, 'K', 'E', 'E', 'L', '\r', '\n', 0x1a };
    f->align = 1u << align_log2;
    f->tag = tag;
    fb_bytes(f, magic, 8);
    fb_le(f, major, 2);
    fb_le(f, minor, 2);
    fb_le(f, align_log2, 1);
    fb_bytes(f, NULL, 3);
    fb_le(f, tag, 4);
    fb_bytes(f, NULL, 4);
    fb_le(f, created, 8);
    fb_bytes(f, NULL, 28);
    fb_le(f, keel_crc32c(0, f->b + f->len - 60, 60), 4);
}

/* One entry after the current end. flags: 1 tombstone, 2 group-more. */
static void fb_entry(fbuild *f, const void *key, size_t klen, const void *val, size_t vlen,
                     uint16_t flags) {
    uint64_t P = f->len;
    uint64_t vs = vlen > 0 ? (P + f->align - 1) / f->align * f->align : P;
    fb_bytes(f, NULL, (size_t)(vs - P));
    fb_bytes(f, val, vlen);
    fb_bytes(f, key, klen);
    uint64_t ts = (f->len + 7) / 8 * 8;
    fb_bytes(f, NULL, (size_t)(ts - f->len));
    size_t t = f->len;
    fb_le(f, keel_hash(key, klen), 8);
    fb_le(f, P, 8);
    fb_le(f, vlen, 8);
    fb_le(f, klen, 4);
    fb_le(f, flags, 2);
    fb_le(f, 0x546B, 2);
    fb_le(f, f->tag, 4);
    uint32_t crc = keel_crc32c(0, val, vlen);
    crc = keel_crc32c(crc, key, klen);
    crc = keel_crc32c(crc, f->b + t, 36);
    fb_le(f, crc, 4);
}

/* The golden file's contents. Live afterwards: beta="two", ""="empty key", nul="\0",
 * empty="", g1="x", g2="y", big = 300 bytes of (i * 7) & 0xff; alpha deleted. */
static void fb_golden(fbuild *f) {
    uint8_t hundred[100], big[300];
    for (int i = 0; i < 100; i++) hundred[i] = (uint8_t)i;
    for (int i = 0; i < 300; i++) big[i] = (uint8_t)(i * 7);
    fb_header(f, 1, 0, 6, 0x4B45454Cu, 1700000000u);
    fb_entry(f, "alpha", 5, "one", 3, 0);
    fb_entry(f, "beta", 4, hundred, 100, 0);
    fb_entry(f, "", 0, "empty key", 9, 0);
    fb_entry(f, "nul", 3, "\0", 1, 0);
    fb_entry(f, "empty", 5, NULL, 0, 0);
    fb_entry(f, "g1", 2, "x", 1, 2);
    fb_entry(f, "g2", 2, "y", 1, 2);
    fb_entry(f, "alpha", 5, NULL, 0, 1);
    fb_entry(f, "beta", 4, "two", 3, 0);
    fb_entry(f, "big", 3, big, 300, 0);
}

#endif /* KEEL_TEST_GOLDEN_H */
