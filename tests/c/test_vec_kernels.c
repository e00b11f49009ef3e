/*
 * test_vec_kernels.c: every distance kernel set this CPU runs (src/db/vec_kernels*.c) against
 * the scalar one and a double-precision reference.
 *
 * Dimensions 1..70 (every SIMD tail), 128, 768 and 4096; vectors at unaligned addresses (a
 * float past a 64-byte boundary) as well as aligned ones; the batch kernel (dotn) with eight
 * different queries, each checked on its own. The file needs only the kernels and libc
 * (harness.h), so tests/c/cross_neon.sh also builds it with an arm64 cross compiler, where
 * the NEON set must be the one chosen, and runs it under qemu-user when that is installed.
 */
#include "harness.h"
#include "db/vec_kernels.h"

#include <math.h>

static uint64_t rs = 0x9E3779B97F4A7C15ull;

static float rnd(void) {
    rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
    return (float)((double)(rs % 2000001) / 1e6 - 1.0);
}

static double ref_dot(const float *a, const float *b, size_t d) {
    double s = 0;
    for (size_t i = 0; i < d; i++) s += (double)a[i] * b[i];
    return s;
}

static double ref_l2(const float *a, const float *b, size_t d) {
    double s = 0;
    for (size_t i = 0; i < d; i++) s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return s;
}

static void check_set(const kdb_vec_kernels *k, const kdb_vec_kernels *sc, const float *a,
                      const float *b, const float *const q[KDB_VEC_BLOCK], size_t d) {
    double tol = 1e-4 * (double)d;
    double dot = ref_dot(a, b, d), l2 = ref_l2(a, b, d), bb = ref_dot(b, b, d);
    CHECKF(fabs(k->dot(a, b, d) - dot) <= tol, "%s dot d=%zu", k->name, d);
    CHECKF(fabs(k->dot(a, b, d) - sc->dot(a, b, d)) <= tol, "%s dot vs scalar d=%zu", k->name, d);
    CHECKF(fabs(k->l2sq(a, b, d) - l2) <= tol, "%s l2sq d=%zu", k->name, d);
    CHECKF(fabs(k->l2sq(a, b, d) - sc->l2sq(a, b, d)) <= tol, "%s l2sq vs scalar d=%zu", k->name,
           d);
    float fd, fb;
    k->dot_norm(a, b, d, &fd, &fb);
    CHECKF(fabs(fd - dot) <= tol && fabs(fb - bb) <= tol, "%s dot_norm d=%zu", k->name, d);
    float dots[KDB_VEC_BLOCK], xx, sd[KDB_VEC_BLOCK], sx;
    k->dotn(q, b, d, dots, &xx);
    sc->dotn(q, b, d, sd, &sx);
    for (int j = 0; j < KDB_VEC_BLOCK; j++) {
        CHECKF(fabs(dots[j] - ref_dot(q[j], b, d)) <= tol, "%s dotn d=%zu q%d", k->name, d, j);
        CHECKF(fabsf(dots[j] - sd[j]) <= tol, "%s dotn vs scalar d=%zu q%d", k->name, d, j);
    }
    CHECKF(fabs(xx - bb) <= tol && fabsf(xx - sx) <= tol, "%s dotn norm d=%zu", k->name, d);
}

static void test_kernels(void) {
    const kdb_vec_kernels *ks[4];
    size_t nk = kdb_vec_all(ks, 4);
    REQUIRE(nk >= 1 && strcmp(ks[0]->name, "scalar") == 0);
    printf("    kernels: best %s; sets:", kdb_vec_best()->name);
    for (size_t k = 0; k < nk; k++) printf(" %s", ks[k]->name);
    printf("\n");
#if defined(__aarch64__)
    CHECK(kdb_vec_neon() != NULL && strcmp(kdb_vec_best()->name, "neon") == 0);
#endif
#if defined(__x86_64__)
    CHECK(kdb_vec_neon() == NULL);
#endif
    size_t sizes[80], ns = 0;
    for (size_t d = 1; d <= 70; d++) sizes[ns++] = d;
    sizes[ns++] = 128, sizes[ns++] = 768, sizes[ns++] = 4096;
    /* room for a, b and eight queries of 4096 floats, plus one float of misalignment each */
    float *mem = aligned_alloc(64, 10 * 4112 * sizeof *mem);
    REQUIRE(mem != NULL);
    for (int shift = 0; shift <= 1; shift++) {
        float *a = mem + shift, *b = mem + 4112 + shift;
        const float *q[KDB_VEC_BLOCK];
        for (size_t s = 0; s < ns && !h_failures(); s++) {
            size_t d = sizes[s];
            for (size_t i = 0; i < d; i++) a[i] = rnd(), b[i] = rnd();
            for (int j = 0; j < KDB_VEC_BLOCK; j++) {
                float *qj = mem + (size_t)(2 + j) * 4112 + shift;
                for (size_t i = 0; i < d; i++) qj[i] = rnd();
                q[j] = qj;
            }
            for (size_t k = 0; k < nk; k++) check_set(ks[k], ks[0], a, b, q, d);
        }
    }
    free(mem);
}

/* Equal inputs give bit-equal results from one set: the search's tie order relies on it. */
static void test_deterministic(void) {
    const kdb_vec_kernels *ks[4];
    size_t nk = kdb_vec_all(ks, 4);
    float a[300], b[300];
    for (size_t i = 0; i < 300; i++) a[i] = rnd(), b[i] = rnd();
    for (size_t k = 0; k < nk; k++) {
        float x = ks[k]->l2sq(a, b, 300), y = ks[k]->l2sq(a, b, 300);
        CHECKF(memcmp(&x, &y, sizeof x) == 0, "%s l2sq", ks[k]->name);
        CHECKF(ks[k]->l2sq(a, a, 300) == 0, "%s l2sq of a vector with itself", ks[k]->name);
    }
}

int main(int argc, char **argv) {
    static const h_test tests[] = {
        H_TEST(test_kernels),
        H_TEST(test_deterministic),
    };
    return h_main(argc, argv, tests, H_COUNT(tests));
}
