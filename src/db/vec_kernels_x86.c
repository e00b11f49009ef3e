/*
 * vec_kernels_x86.c: AVX2+FMA and AVX-512F distance kernels. Each function carries its own
 * target attribute, so this file builds with the project's ordinary flags and nothing here
 * runs unless kdb_vec_avx2()/kdb_vec_avx512() saw the CPU support it (__builtin_cpu_supports).
 * Loads are unaligned (payloads are 64-byte aligned in the file, queries need not be);
 * AVX2 handles the tail in scalar code, AVX-512 with a masked load.
 */
#include "db/vec_kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#if KDB_VEC_BLOCK != 8
#error "the batch kernels below reduce exactly 8 queries"
#endif

#define AVX2 __attribute__((target("avx2,fma")))
#define AVX512 __attribute__((target("avx512f,avx2,fma")))

AVX2 static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 0x55));
    return _mm_cvtss_f32(s);
}

/* The sums of eight vectors at once, out[j] = sum of v[j]'s lanes: a transpose by hadd,
 * far cheaper than eight horizontal sums (the batch kernel's reductions dominated it). */
AVX2 static inline void hsum8x256(const __m256 v[8], float out[8]) {
    __m256 h01 = _mm256_hadd_ps(v[0], v[1]), h23 = _mm256_hadd_ps(v[2], v[3]);
    __m256 h45 = _mm256_hadd_ps(v[4], v[5]), h67 = _mm256_hadd_ps(v[6], v[7]);
    __m256 a = _mm256_hadd_ps(h01, h23), b = _mm256_hadd_ps(h45, h67);
    __m256 r = _mm256_add_ps(_mm256_permute2f128_ps(a, b, 0x20),
                             _mm256_permute2f128_ps(a, b, 0x31));
    _mm256_storeu_ps(out, r);
}

AVX2 static float dot_avx2(const float *a, const float *b, size_t d) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= d; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= d; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float s = hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < d; i++) s += a[i] * b[i];
    return s;
}

AVX2 static float l2sq_avx2(const float *a, const float *b, size_t d) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= d; i += 16) {
        __m256 e0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        __m256 e1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
        s0 = _mm256_fmadd_ps(e0, e0, s0);
        s1 = _mm256_fmadd_ps(e1, e1, s1);
    }
    for (; i + 8 <= d; i += 8) {
        __m256 e = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        s0 = _mm256_fmadd_ps(e, e, s0);
    }
    float s = hsum256(_mm256_add_ps(s0, s1));
    for (; i < d; i++) s += (a[i] - b[i]) * (a[i] - b[i]);
    return s;
}

AVX2 static void dot_norm_avx2(const float *a, const float *b, size_t d, float *dot, float *bb) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    __m256 n0 = _mm256_setzero_ps(), n1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= d; i += 16) {
        __m256 x0 = _mm256_loadu_ps(b + i), x1 = _mm256_loadu_ps(b + i + 8);
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), x0, s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), x1, s1);
        n0 = _mm256_fmadd_ps(x0, x0, n0);
        n1 = _mm256_fmadd_ps(x1, x1, n1);
    }
    for (; i + 8 <= d; i += 8) {
        __m256 x = _mm256_loadu_ps(b + i);
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), x, s0);
        n0 = _mm256_fmadd_ps(x, x, n0);
    }
    float s = hsum256(_mm256_add_ps(s0, s1)), n = hsum256(_mm256_add_ps(n0, n1));
    for (; i < d; i++) {
        s += a[i] * b[i];
        n += b[i] * b[i];
    }
    *dot = s;
    *bb = n;
}

AVX2 static void dotn_avx2(const float *const q[KDB_VEC_BLOCK], const float *x, size_t d,
                           float dots[KDB_VEC_BLOCK], float *xx) {
    __m256 s[KDB_VEC_BLOCK], n = _mm256_setzero_ps();
    for (int j = 0; j < KDB_VEC_BLOCK; j++) s[j] = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= d; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        n = _mm256_fmadd_ps(v, v, n);
        for (int j = 0; j < KDB_VEC_BLOCK; j++)
            s[j] = _mm256_fmadd_ps(_mm256_loadu_ps(q[j] + i), v, s[j]);
    }
    float nn = hsum256(n);
    hsum8x256(s, dots);
    for (; i < d; i++) {
        nn += x[i] * x[i];
        for (int j = 0; j < KDB_VEC_BLOCK; j++) dots[j] += q[j][i] * x[i];
    }
    *xx = nn;
}

AVX512 static float dot_avx512(const float *a, const float *b, size_t d) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= d; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    }
    for (; i + 16 <= d; i += 16)
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    if (i < d) {
        __mmask16 m = (__mmask16)((1u << (d - i)) - 1);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

AVX512 static float l2sq_avx512(const float *a, const float *b, size_t d) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= d; i += 32) {
        __m512 e0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        __m512 e1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
        s0 = _mm512_fmadd_ps(e0, e0, s0);
        s1 = _mm512_fmadd_ps(e1, e1, s1);
    }
    for (; i + 16 <= d; i += 16) {
        __m512 e = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        s0 = _mm512_fmadd_ps(e, e, s0);
    }
    if (i < d) {
        __mmask16 m = (__mmask16)((1u << (d - i)) - 1);
        __m512 e = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
        s1 = _mm512_fmadd_ps(e, e, s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

AVX512 static void dot_norm_avx512(const float *a, const float *b, size_t d, float *dot,
                                   float *bb) {
    __m512 s = _mm512_setzero_ps(), n = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= d; i += 16) {
        __m512 x = _mm512_loadu_ps(b + i);
        s = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), x, s);
        n = _mm512_fmadd_ps(x, x, n);
    }
    if (i < d) {
        __mmask16 m = (__mmask16)((1u << (d - i)) - 1);
        __m512 x = _mm512_maskz_loadu_ps(m, b + i);
        s = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), x, s);
        n = _mm512_fmadd_ps(x, x, n);
    }
    *dot = _mm512_reduce_add_ps(s);
    *bb = _mm512_reduce_add_ps(n);
}

AVX512 static void dotn_avx512(const float *const q[KDB_VEC_BLOCK], const float *x, size_t d,
                               float dots[KDB_VEC_BLOCK], float *xx) {
    __m512 s[KDB_VEC_BLOCK], n = _mm512_setzero_ps();
    for (int j = 0; j < KDB_VEC_BLOCK; j++) s[j] = _mm512_setzero_ps();
    for (size_t i = 0; i < d; i += 16) {
        __mmask16 m = d - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (d - i)) - 1);
        __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        n = _mm512_fmadd_ps(v, v, n);
        for (int j = 0; j < KDB_VEC_BLOCK; j++)
            s[j] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q[j] + i), v, s[j]);
    }
    __m256 h[KDB_VEC_BLOCK];
    for (int j = 0; j < KDB_VEC_BLOCK; j++)
        h[j] = _mm256_add_ps(_mm512_castps512_ps256(s[j]),
                             _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(s[j]), 1)));
    hsum8x256(h, dots);
    *xx = _mm512_reduce_add_ps(n);
}

static const kdb_vec_kernels avx2 = {"avx2", dot_avx2, l2sq_avx2, dot_norm_avx2, dotn_avx2};
static const kdb_vec_kernels avx512 = {"avx512", dot_avx512, l2sq_avx512, dot_norm_avx512,
                                       dotn_avx512};

const kdb_vec_kernels *kdb_vec_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? &avx2 : NULL;
}

const kdb_vec_kernels *kdb_vec_avx512(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") &&
                   __builtin_cpu_supports("fma")
               ? &avx512
               : NULL;
}

#else
const kdb_vec_kernels *kdb_vec_avx2(void) { return NULL; }
const kdb_vec_kernels *kdb_vec_avx512(void) { return NULL; }
#endif
