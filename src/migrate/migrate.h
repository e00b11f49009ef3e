/*
 * migrate.h: the migrate layer (never installed): readers of other engines' files and the
 * importers that copy them into a keel store (public API: include/keel_migrate.h).
 *
 * migrate/ may use base/ (system calls, hashing, errors) and the store's public API
 * (keel_put_batch); nothing below it uses it. Its decoders take untrusted bytes: lengths
 * are compared with what remains before an offset is formed, and fuzz/fuzz_simd.c feeds
 * them arbitrary files.
 */
#ifndef KEEL_MIGRATE_INTERNAL_H
#define KEEL_MIGRATE_INTERNAL_H

#include "keel_migrate.h"

#include <stddef.h>
#include <stdint.h>

/* The walk of a SIMD R Drive image in memory (what keel_simd_open does after mapping the
 * file): fills `entries` (grown with realloc; *n_out of them) and `info`. `alignment` as
 * for keel_simd_open. */
keel_status keel__simd_walk(const uint8_t *data, uint64_t len, uint32_t alignment,
                            keel_simd_entry **entries, uint64_t *n_out, keel_simd_info *info);

#endif /* KEEL_MIGRATE_INTERNAL_H */
