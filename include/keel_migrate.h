/*
 * keel_migrate.h: reading files of other engines and importing them into a keel store.
 *
 * SIMD R Drive (the engine keel's DataStore replaces) writes a file with no header and no
 * keys: each entry is a payload (after zero pre-pad to its alignment: none before the
 * engine's 0.14, 16 bytes in 0.14, 64 bytes from 0.15), then 20 bytes of metadata: the
 * XXH3-64 of the key, the offset where the entry began (the previous entry's end), and the
 * CRC-32 (IEEE, zlib's) of the payload. A delete is a one-byte payload 0x00 with no pre-pad.
 * docs/FORMAT.md ("SIMD R Drive files") has the details.
 *
 * keel_simd_open maps such a file read-only (it is never written: O_RDONLY, PROT_READ) and
 * walks it from offset 0, checking every entry's structure and CRC-32, and finding the
 * alignment when it is not given. It stops at the first bytes that do not form an entry: a
 * torn tail, reported in keel_simd_info (where it starts and how long it is), not an error.
 * A complete entry whose CRC-32 fails is damage: KEEL_ECORRUPT with its offset.
 *
 * keel_simd_import copies the newest version of every key into an open keel store. As the
 * file holds only 64-bit hashes, the keys come from the caller; an entry whose hash matches
 * no key is reported (on_unknown) and skipped, or kept under `unknown_prefix` followed by
 * the 16 lowercase hex digits of its hash.
 *
 * Threads: a keel_simd_file is used by one thread at a time. Views stay valid until
 * keel_simd_close.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef KEEL_MIGRATE_H
#define KEEL_MIGRATE_H

#include "keel.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct keel_simd_file keel_simd_file;

/* One entry of a SIMD R Drive file, as stored. */
typedef struct keel_simd_entry {
    uint64_t key_hash;          /* XXH3-64 (seed 0) of the key */
    uint64_t offset;            /* file offset of the payload */
    keel_view value;            /* the payload, in the read-only mapping; valid until close */
    uint32_t checksum;          /* the stored CRC-32 of the payload (it matched) */
    int tombstone;              /* a delete marker (the payload is the byte 0x00) */
} keel_simd_entry;

/* What keel_simd_open found. */
typedef struct keel_simd_info {
    uint64_t file_size;
    uint64_t valid_size;        /* end of the last complete entry; the torn tail follows */
    uint64_t torn_bytes;        /* file_size - valid_size: bytes that form no entry */
    uint64_t entries;           /* complete entries, deletes and old versions included */
    uint32_t alignment;         /* payload alignment: 1, 16 or 64 (0: no entry told) */
} keel_simd_info;

/* Open the SIMD R Drive file at `path` read-only and walk it (see above). `alignment`: 1,
 * 16 or 64, or 0 to find it from the entries. On success *out must be closed with
 * keel_simd_close. KEEL_ECORRUPT: a complete entry fails its CRC-32 (the detail names its
 * offset); KEEL_EINVAL: a bad alignment; I/O errors as keel_open. */
KEEL_API keel_status keel_simd_open(const char *path, uint32_t alignment, keel_simd_file **out);
KEEL_API void keel_simd_stat(const keel_simd_file *f, keel_simd_info *out);
/* The entry with index `i` (0 = the oldest, in file order); KEEL_ERANGE past the last. */
KEEL_API keel_status keel_simd_entry_at(const keel_simd_file *f, uint64_t i,
                                        keel_simd_entry *out);
KEEL_API void keel_simd_close(keel_simd_file *f);

typedef struct keel_simd_import_options {
    const keel_view *keys;      /* the keys the file was written with (any order; a key no
                                 * entry has is fine; two keys with one hash: KEEL_EINVAL) */
    size_t nkeys;
    const uint8_t *unknown_prefix;  /* NULL: skip entries no key matches; else keep them
                                     * under this prefix + 16 hex digits of the hash */
    size_t unknown_prefix_len;
    uint32_t alignment;         /* as for keel_simd_open; 0 = find it */
    /* Called for every live entry no key matches (before it is kept or skipped). */
    void (*on_unknown)(void *ctx, uint64_t key_hash, uint64_t offset, uint64_t len);
    void *ctx;
} keel_simd_import_options;

typedef struct keel_simd_report {
    keel_simd_info src;
    uint64_t live;              /* hashes whose newest entry is not a delete */
    uint64_t imported;          /* of those, written under their key */
    uint64_t unknown;           /* of those, matching no key */
    uint64_t unknown_kept;      /* of the unknown, written under unknown_prefix */
    uint64_t deleted;           /* hashes whose newest entry is a delete */
    uint64_t superseded;        /* older versions not copied */
} keel_simd_report;

/* Import the SIMD R Drive file at `src` into the open, writable store `dst`: the newest
 * version of each live key, in file order, by atomic batches. `src` is never modified.
 * On error some batches may have been written; the caller that created `dst` for the
 * import removes it. `out` may be NULL. */
KEEL_API keel_status keel_simd_import(const char *src, keel_store *dst,
                                      const keel_simd_import_options *opts,
                                      keel_simd_report *out);

#ifdef __cplusplus
}
#endif

#endif /* KEEL_MIGRATE_H */
