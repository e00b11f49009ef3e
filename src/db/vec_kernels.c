/*
 * vec_kernels.c: the scalar distance kernels and the run-time choice among the kernel sets
 * (vec_kernels_x86.c, vec_kernels_neon.c). The choice is made once (pthread_once) from
 * __builtin_cpu_supports on x86-64 and unconditionally NEON on arm64, so a search calls
 * one function per distance through one pointer, never a test per vector.
 *
 * The scalar kernels use four partial sums so that compilers may vectorize them and so
 * that their rounding is close to the SIMD kernels'.
 */
#include "db/vec_kernels.h"

#include <pthread.h>

static float dot_scalar(const float *a, const float *b, size_t d) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= d; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < d; i++) s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

static float l2sq_scalar(const float *a, const float *b, size_t d) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= d; i += 4) {
        float e0 = a[i] - b[i], e1 = a[i + 1] - b[i + 1];
        float e2 = a[i + 2] - b[i + 2], e3 = a[i + 3] - b[i + 3];
        s0 += e0 * e0;
        s1 += e1 * e1;
        s2 += e2 * e2;
        s3 += e3 * e3;
    }
    for (; i < d; i++) s0 += (a[i] - b[i]) * (a[i] - b[i]);
    return (s0 + s1) + (s2 + s3);
}

static void dot_norm_scalar(const float *a, const float *b, size_t d, float *dot, float *bb) {
    *dot = dot_scalar(a, b, d);
    *bb = dot_scalar(b, b, d);
}

static void dotn_scalar(const float *const q[KDB_VEC_BLOCK], const float *x, size_t d,
                        float dots[KDB_VEC_BLOCK], float *xx) {
    float s[KDB_VEC_BLOCK] = {0}, n = 0;
    for (size_t i = 0; i < d; i++) {
        float v = x[i];
        n += v * v;
        for (int j = 0; j < KDB_VEC_BLOCK; j++) s[j] += q[j][i] * v;
    }
    for (int j = 0; j < KDB_VEC_BLOCK; j++) dots[j] = s[j];
    *xx = n;
}

static const kdb_vec_kernels scalar = {"scalar", dot_scalar, l2sq_scalar, dot_norm_scalar,
                                       dotn_scalar};

const kdb_vec_kernels *kdb_vec_scalar(void) { return &scalar; }

static const kdb_vec_kernels *best;
static pthread_once_t best_once = PTHREAD_ONCE_INIT;

static void choose(void) {
    const kdb_vec_kernels *k;
    best = &scalar;
    if ((k = kdb_vec_neon()) != NULL) best = k;
    if ((k = kdb_vec_avx2()) != NULL) best = k;
    if ((k = kdb_vec_avx512()) != NULL) best = k;
}

const kdb_vec_kernels *kdb_vec_best(void) {
    pthread_once(&best_once, choose);
    return best;
}

size_t kdb_vec_all(const kdb_vec_kernels **out, size_t cap) {
    const kdb_vec_kernels *all[4] = {&scalar, kdb_vec_avx2(), kdb_vec_avx512(), kdb_vec_neon()};
    size_t n = 0;
    for (size_t i = 0; i < 4; i++)
        if (all[i] && n < cap) out[n++] = all[i];
    return n;
}
