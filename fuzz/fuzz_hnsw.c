/*
 * fuzz_hnsw.c: libFuzzer target for the vector graph decoder (keel__hnsw_load in
 * src/db/hnsw.cc), the part of a checkpoint (docs/FORMAT.md "vector graph checkpoint")
 * that a checksum guards against accidents but not against crafted bytes.
 *
 * The first input byte picks the label bound (1..256) and the kind (L2 or inner product);
 * the rest is the saved graph. What loads is used: vectors set for every label, a search
 * (every answer is a label below the bound, at most ef of them), and a save whose bytes load
 * again and save to the same bytes. ASan and UBSan catch reads outside the input and any
 * link the decoder let through that a search would follow out of bounds.
 *
 * The decoder has no public entry point, so this target includes internal headers like
 * tests/c does (scripts/check-layers.py lists it in FUZZ_INTERNAL).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "db/hnsw.h"
#include "db/vec_kernels.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PROMISE(c)                                                                      \
    do {                                                                                \
        if (!(c)) {                                                                     \
            fprintf(stderr, "broken promise: %s (%s:%d)\n", #c, __FILE__, __LINE__);   \
            abort();                                                                    \
        }                                                                               \
    } while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint32_t bound = (uint32_t)(data[0] & 0x7f) * 2 + 1;
    int kind = data[0] >> 7 ? KEEL_HNSW_IP : KEEL_HNSW_L2;
    const kdb_vec_kernels *kn = kdb_vec_scalar();
    keel__hnsw_fn fn = kind == KEEL_HNSW_L2 ? kn->l2sq : kn->dot;
    keel__hnsw *h = keel__hnsw_load(4, kind, fn, 4, 16, bound, data + 1, size - 1);
    if (!h) return 0;
    for (uint32_t l = 0; l < bound; l++) {
        float v[4] = {(float)l, (float)(l % 7), 1.0f, -(float)l};
        keel__hnsw_set_vector(h, l, v);   /* absent labels: -1, fine */
    }
    float q[4] = {3, 1, 1, -3};
    uint32_t labels[32];
    float dists[32];
    long n = keel__hnsw_search(h, q, 32, labels, dists);
    PROMISE(n >= 0 && n <= 32);
    for (long i = 0; i < n; i++) PROMISE(labels[i] < bound);
    char *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    PROMISE(keel__hnsw_save(h, &a, &alen) == 0);
    keel__hnsw *h2 = keel__hnsw_load(4, kind, fn, 4, 16, bound, (const uint8_t *)a, alen);
    PROMISE(h2 != NULL);
    PROMISE(keel__hnsw_save(h2, &b, &blen) == 0);
    PROMISE(alen == blen && memcmp(a, b, alen) == 0);
    free(a);
    free(b);
    keel__hnsw_free(h2);
    keel__hnsw_free(h);
    return 0;
}
