/*
 * hnsw.h: the C interface of hnsw.cc, keel's thin wrapper around hnswlib's HNSW graph
 * (see that file for why it is C++ and what each call may run concurrently with). Every
 * call returns -1 / NULL on failure with keel__hnsw_error() set; none throws. Internal:
 * never installed, never exported (the library is built with hidden visibility).
 */
#ifndef KEEL_SRC_DB_HNSW_H
#define KEEL_SRC_DB_HNSW_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct keel__hnsw keel__hnsw;
/* A distance kernel: the dot product (KEEL_HNSW_IP, KEEL_HNSW_MIPS) or squared L2
 * (KEEL_HNSW_L2). */
typedef float (*keel__hnsw_fn)(const float *a, const float *b, size_t d);

/* KEEL_HNSW_MIPS: points are (x / |x|, |x|) (the zero vector: all zeros), `dims` counting
 * the norm. Two points are compared by their angle, 1 - the dot product of their unit
 * parts, so the graph is built as an angular graph; a query is (q, -1) and its distance to
 * a point is -(q . x/|x|) |x| = -q.x, so a search returns the largest inner products. */
enum { KEEL_HNSW_L2 = 0, KEEL_HNSW_IP = 1, KEEL_HNSW_MIPS = 2 };

const char *keel__hnsw_error(void);
/* An empty graph of vectors of `dims` floats, room for `cap` points (grown on demand). */
keel__hnsw *keel__hnsw_new(size_t dims, int kind, keel__hnsw_fn fn, size_t m, size_t efc,
                           size_t cap);
void keel__hnsw_free(keel__hnsw *h);
/* Room for at least n points (before concurrent adds). */
int keel__hnsw_reserve(keel__hnsw *h, size_t n);
/* Insert `label` with vector v (copied), or replace its vector and relink it (and clear its
 * delete mark) when it is already there. Room must have been reserved. */
int keel__hnsw_add(keel__hnsw *h, uint32_t label, const float *v);
/* 1 when `label` is in the graph (live or marked deleted), else 0. */
int keel__hnsw_has(const keel__hnsw *h, uint32_t label);
/* Mark `label` deleted (searches route through it but never return it); absent: no-op. */
void keel__hnsw_remove(keel__hnsw *h, uint32_t label);
/* Overwrite the vector of `label` without relinking (after keel__hnsw_load). */
int keel__hnsw_set_vector(keel__hnsw *h, uint32_t label, const float *v);
/* The up to `ef` nearest live points to q, best first: labels and distances. */
long keel__hnsw_search(const keel__hnsw *h, const float *q, size_t ef, uint32_t *labels,
                       float *dists);
/* Live (not deleted) points, and an estimate of the bytes the graph holds. */
size_t keel__hnsw_count(const keel__hnsw *h);
size_t keel__hnsw_memory(const keel__hnsw *h);
/* The links, levels, labels and delete marks in saved form (malloc'd into *out). */
int keel__hnsw_save(const keel__hnsw *h, char **out, size_t *len_out);
/* A graph from its saved form (untrusted: every count and id is checked; labels must be
 * below label_bound), with zero vectors until keel__hnsw_set_vector fills them. */
keel__hnsw *keel__hnsw_load(size_t dims, int kind, keel__hnsw_fn fn, size_t m, size_t efc,
                            uint32_t label_bound, const uint8_t *p, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* KEEL_SRC_DB_HNSW_H */
