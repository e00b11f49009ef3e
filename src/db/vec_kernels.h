/*
 * vec_kernels.h: float32 distance kernels for vector search (vector.c), one set per
 * instruction set, chosen once per process for the CPU it runs on.
 *
 * Every kernel reads its vectors in place (the stored payloads are little-endian float32,
 * 64-byte aligned when top-level; unaligned loads are used so that any pointer works) and
 * never writes them. Results differ from the scalar kernels only by float rounding (the
 * sums are reassociated); the tests compare every kernel with the scalar one.
 */
#ifndef KEEL_SRC_DB_VEC_KERNELS_H
#define KEEL_SRC_DB_VEC_KERNELS_H

#include <stddef.h>

#define KDB_VEC_BLOCK 8     /* queries per pass of the batch kernel */

typedef struct kdb_vec_kernels {
    const char *name;       /* "scalar", "avx2", "avx512", "neon" */
    /* sum a[i] * b[i] */
    float (*dot)(const float *a, const float *b, size_t d);
    /* sum (a[i] - b[i])^2 */
    float (*l2sq)(const float *a, const float *b, size_t d);
    /* *dot = sum a[i] * b[i], *bb = sum b[i]^2, in one pass */
    void (*dot_norm)(const float *a, const float *b, size_t d, float *dot, float *bb);
    /* The batch kernel: dots[j] = q[j] . x for j < KDB_VEC_BLOCK and *xx = x . x, each
     * element of x loaded once for the whole block of queries. */
    void (*dotn)(const float *const q[KDB_VEC_BLOCK], const float *x, size_t d,
                 float dots[KDB_VEC_BLOCK], float *xx);
} kdb_vec_kernels;

/* The best kernels for this CPU (selected on first call, thread-safe), and the list of
 * every set this CPU can run (scalar first) for the tests and benchmarks. */
const kdb_vec_kernels *kdb_vec_best(void);
size_t kdb_vec_all(const kdb_vec_kernels **out, size_t cap);

/* Per-ISA sets (NULL when the CPU or the compiler lacks the instructions). */
const kdb_vec_kernels *kdb_vec_scalar(void);
const kdb_vec_kernels *kdb_vec_avx2(void);
const kdb_vec_kernels *kdb_vec_avx512(void);
const kdb_vec_kernels *kdb_vec_neon(void);

#endif /* KEEL_SRC_DB_VEC_KERNELS_H */
