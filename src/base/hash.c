/*
 * hash.c: the hash and checksum every face uses, and little-endian stores.
 *
 * XXH3-64 comes from libxxhash and CRC32C from ISA-L (crc32_iscsi, which takes an int
 * length, so long inputs are fed in pieces). Both are pure functions of their input;
 * nothing here touches a file or keeps state.
 */
#include "base/base.h"

#include <isa-l/crc.h>
#include <xxhash.h>

uint64_t keel_hash(const void *key, size_t key_len) {
    return XXH3_64bits(key_len ? key : "", key_len);
}

uint32_t keel_crc32c(uint32_t crc, const void *data, size_t len) {
    /* ISA-L's crc32_iscsi works on the raw register: pre- and post-invert here so the
     * public function composes like zlib's crc32(). */
    uint32_t c = ~crc;
    const uint8_t *p = data;
    while (len > 0) {
        int chunk = len > (1u << 30) ? (1 << 30) : (int)len;
        c = crc32_iscsi((unsigned char *)p, chunk, c);
        p += chunk;
        len -= (size_t)chunk;
    }
    return ~c;
}

void keel__st64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
void keel__st32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
void keel__st16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
