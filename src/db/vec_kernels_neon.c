/*
 * vec_kernels_neon.c: NEON distance kernels for arm64 (Advanced SIMD is part of ARMv8-A,
 * so no run-time test is needed there); elsewhere kdb_vec_neon() returns NULL.
 */
#include "db/vec_kernels.h"

#if defined(__aarch64__)
#include <arm_neon.h>

static float dot_neon(const float *a, const float *b, size_t d) {
    float32x4_t s0 = vdupq_n_f32(0), s1 = vdupq_n_f32(0);
    size_t i = 0;
    for (; i + 8 <= d; i += 8) {
        s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
        s1 = vfmaq_f32(s1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
    }
    float s = vaddvq_f32(vaddq_f32(s0, s1));
    for (; i < d; i++) s += a[i] * b[i];
    return s;
}

static float l2sq_neon(const float *a, const float *b, size_t d) {
    float32x4_t s0 = vdupq_n_f32(0);
    size_t i = 0;
    for (; i + 4 <= d; i += 4) {
        float32x4_t e = vsubq_f32(vld1q_f32(a + i), vld1q_f32(b + i));
        s0 = vfmaq_f32(s0, e, e);
    }
    float s = vaddvq_f32(s0);
    for (; i < d; i++) s += (a[i] - b[i]) * (a[i] - b[i]);
    return s;
}

static void dot_norm_neon(const float *a, const float *b, size_t d, float *dot, float *bb) {
    float32x4_t s = vdupq_n_f32(0), n = vdupq_n_f32(0);
    size_t i = 0;
    for (; i + 4 <= d; i += 4) {
        float32x4_t x = vld1q_f32(b + i);
        s = vfmaq_f32(s, vld1q_f32(a + i), x);
        n = vfmaq_f32(n, x, x);
    }
    float sd = vaddvq_f32(s), sn = vaddvq_f32(n);
    for (; i < d; i++) {
        sd += a[i] * b[i];
        sn += b[i] * b[i];
    }
    *dot = sd;
    *bb = sn;
}

static void dotn_neon(const float *const q[KDB_VEC_BLOCK], const float *x, size_t d,
                      float dots[KDB_VEC_BLOCK], float *xx) {
    float32x4_t s[KDB_VEC_BLOCK], n = vdupq_n_f32(0);
    for (int j = 0; j < KDB_VEC_BLOCK; j++) s[j] = vdupq_n_f32(0);
    size_t i = 0;
    for (; i + 4 <= d; i += 4) {
        float32x4_t v = vld1q_f32(x + i);
        n = vfmaq_f32(n, v, v);
        for (int j = 0; j < KDB_VEC_BLOCK; j++) s[j] = vfmaq_f32(s[j], vld1q_f32(q[j] + i), v);
    }
    float nn = vaddvq_f32(n);
    for (int j = 0; j < KDB_VEC_BLOCK; j++) dots[j] = vaddvq_f32(s[j]);
    for (; i < d; i++) {
        nn += x[i] * x[i];
        for (int j = 0; j < KDB_VEC_BLOCK; j++) dots[j] += q[j][i] * x[i];
    }
    *xx = nn;
}

static const kdb_vec_kernels neon = {"neon", dot_neon, l2sq_neon, dot_norm_neon, dotn_neon};

const kdb_vec_kernels *kdb_vec_neon(void) { return &neon; }
#else
const kdb_vec_kernels *kdb_vec_neon(void) { return NULL; }
#endif
