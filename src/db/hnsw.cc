/*
 * hnsw.cc: the one C++ file of keel: a thin C ABI (keel__hnsw_*, src/db/hnsw.h) over
 * hnswlib's HierarchicalNSW (Debian's libhnswlib-dev, header-only C++), the graph behind
 * approximate vector search (vec_hnsw.c owns everything else: item ids, the checkpoint
 * entries, locking, scores).
 *
 * Why C++: hnswlib is a C++ template library with no C interface; wrapping it here keeps
 * the rest of keel C11 and keeps C++ exceptions from ever crossing into C: every entry
 * point catches everything and returns a status (-1, with the reason in a thread-local
 * message). Nothing here allocates a keel handle or touches the store.
 *
 * Distances: hnswlib calls a plain function pointer; the space below routes it to keel's
 * own float kernels (vec_kernels.h, chosen at run time for the CPU: AVX-512, AVX2, NEON or
 * scalar) so the graph gets the same SIMD as the exact path without compiling hnswlib for
 * one CPU. KEEL_HNSW_L2 is the squared Euclidean distance; KEEL_HNSW_IP is 1 - a.b (the
 * caller normalizes vectors for COSINE); KEEL_HNSW_MIPS (DOT_PRODUCT) is asymmetric: 1 - the
 * dot product of two points' unit parts while the graph is built, -q.x for a query (hnsw.h
 * and vec_hnsw.c say why). hnswlib 0.6.2 always passes the point being inserted or the
 * query as the first argument of the distance, which is how dist_mips tells them apart: a
 * query's last coordinate is -1, a point's is its norm (>= 0).
 *
 * Labels are the caller's item ids (any uint32); hnswlib's internal ids are its own.
 * keel__hnsw_search never changes the index (hnswlib's searchKnn is const and its visited
 * lists are pooled under a mutex), so searches may run concurrently; every other call
 * needs the caller's exclusive lock, except keel__hnsw_add of a label not yet in the graph
 * (keel__hnsw_has false), which may run on several threads at once once capacity is
 * reserved and the graph holds at least one point: hnswlib locks each point's links, and
 * the one shared thing 0.6.2 leaves unlocked in that path, the random generator that draws
 * each new point's level, is drawn under a lock here (the specialization of getRandomLevel
 * below). Re-adding an existing label (hnswlib's updatePoint, which draws from a second
 * unlocked generator) stays serial.
 *
 * The saved form (keel__hnsw_save; docs/FORMAT.md "vector graph checkpoint") holds the
 * links, levels, labels and delete marks, not the vectors: the caller puts them back from
 * the items with keel__hnsw_set_vector. keel__hnsw_load treats its input as untrusted and
 * checks every count and id before building anything.
 */
#include "db/hnsw.h"

#include <hnswlib/hnswlib.h>

#include <cmath>
#include <cstring>
#include <mutex>
#include <exception>
#include <new>

namespace {

thread_local char g_err[160];

void set_err(const char *what) {
    std::snprintf(g_err, sizeof g_err, "%s", what);
}

struct params {
    size_t dims;
    keel__hnsw_fn fn;
};

float dist_l2(const void *a, const void *b, const void *p) {
    const params *q = static_cast<const params *>(p);
    return q->fn(static_cast<const float *>(a), static_cast<const float *>(b), q->dims);
}

float dist_ip(const void *a, const void *b, const void *p) {
    const params *q = static_cast<const params *>(p);
    return 1.0f - q->fn(static_cast<const float *>(a), static_cast<const float *>(b), q->dims);
}

/* a: a query (q, -1) or a point (u, |x|); b: a point (u, |x|); u = x / |x|. */
float dist_mips(const void *a, const void *b, const void *p) {
    const params *q = static_cast<const params *>(p);
    const float *x = static_cast<const float *>(a), *y = static_cast<const float *>(b);
    size_t d = q->dims - 1;
    float dot = q->fn(x, y, d);
    return x[d] < 0 ? -dot * y[d] : 1.0f - dot;
}

class kernel_space : public hnswlib::SpaceInterface<float> {
  public:
    kernel_space(size_t dims, int kind, keel__hnsw_fn fn)
        : p_{dims, fn},
          f_(kind == KEEL_HNSW_L2 ? dist_l2 : kind == KEEL_HNSW_MIPS ? dist_mips : dist_ip) {}
    size_t get_data_size() override { return p_.dims * sizeof(float); }
    hnswlib::DISTFUNC<float> get_dist_func() override { return f_; }
    void *get_dist_func_param() override { return &p_; }

  private:
    params p_;
    hnswlib::DISTFUNC<float> f_;
};

typedef hnswlib::HierarchicalNSW<float> graph;

std::mutex g_level_mu;

}  // namespace

/* hnswlib 0.6.2 draws a new point's level from level_generator_ inside addPoint with no
 * lock, a data race when points are added from several threads. This explicit
 * specialization (declared before any use in this, the only translation unit that
 * instantiates the graph) takes the same draw, floor(-ln U(0,1) * 1/ln M), under a mutex:
 * one draw per insertion, nothing next to the insertion's distance computations. */
template <>
int hnswlib::HierarchicalNSW<float>::getRandomLevel(double reverse_size) {
    std::lock_guard<std::mutex> lock(g_level_mu);
    std::uniform_real_distribution<double> distribution(0.0, 1.0);
    return (int)(-std::log(distribution(level_generator_)) * reverse_size);
}

namespace {

void put32(std::string &o, uint32_t v) {
    char b[4] = {char(v), char(v >> 8), char(v >> 16), char(v >> 24)};
    o.append(b, 4);
}

uint32_t ld32(const uint8_t *p) {
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

}  // namespace

struct keel__hnsw {
    kernel_space space;
    graph g;
    keel__hnsw(size_t dims, int kind, keel__hnsw_fn fn, size_t m, size_t efc, size_t cap)
        : space(dims, kind, fn), g(&space, cap ? cap : 1, m, efc, 100) {
        g.ef_ = 1;  /* searchKnn(q, n) then searches with ef = n (see keel__hnsw_search) */
    }
};

extern "C" {

const char *keel__hnsw_error(void) { return g_err; }

keel__hnsw *keel__hnsw_new(size_t dims, int kind, keel__hnsw_fn fn, size_t m, size_t efc,
                           size_t cap) {
    try {
        return new keel__hnsw(dims, kind, fn, m, efc, cap);
    } catch (const std::exception &e) {
        set_err(e.what());
        return nullptr;
    }
}

void keel__hnsw_free(keel__hnsw *h) { delete h; }

int keel__hnsw_reserve(keel__hnsw *h, size_t n) {
    try {
        if (n > h->g.max_elements_) {
            size_t cap = h->g.max_elements_ * 2;
            h->g.resizeIndex(cap > n ? cap : n);
        }
        return 0;
    } catch (const std::exception &e) {
        set_err(e.what());
        return -1;
    }
}

int keel__hnsw_add(keel__hnsw *h, uint32_t label, const float *v) {
    try {
        h->g.addPoint(v, label);
        return 0;
    } catch (const std::exception &e) {
        set_err(e.what());
        return -1;
    }
}

int keel__hnsw_has(const keel__hnsw *h, uint32_t label) {
    return h->g.label_lookup_.count(label) != 0;
}

void keel__hnsw_remove(keel__hnsw *h, uint32_t label) {
    auto it = h->g.label_lookup_.find(label);
    if (it != h->g.label_lookup_.end() && !h->g.isMarkedDeleted(it->second))
        h->g.markDeletedInternal(it->second);
}

int keel__hnsw_set_vector(keel__hnsw *h, uint32_t label, const float *v) {
    auto it = h->g.label_lookup_.find(label);
    if (it == h->g.label_lookup_.end()) return -1;
    std::memcpy(h->g.getDataByInternalId(it->second), v, h->g.data_size_);
    return 0;
}

long keel__hnsw_search(const keel__hnsw *h, const float *q, size_t ef, uint32_t *labels,
                       float *dists) {
    try {
        /* ef_ is 1, so searchKnn(q, ef) runs the base layer with a beam of ef and returns
         * its ef best: a per-call ef without a shared setting. */
        auto r = h->g.searchKnn(q, ef);
        long n = (long)r.size();
        for (long i = n - 1; i >= 0; i--) {  /* the queue pops worst first */
            labels[i] = (uint32_t)r.top().second;
            dists[i] = r.top().first;
            r.pop();
        }
        return n;
    } catch (const std::exception &e) {
        set_err(e.what());
        return -1;
    }
}

size_t keel__hnsw_count(const keel__hnsw *h) {
    return h->g.cur_element_count - h->g.num_deleted_;
}

size_t keel__hnsw_memory(const keel__hnsw *h) {
    /* O(1): the upper levels are estimated from their expected count per point, 1/(M-1)
     * (levels are drawn as floor(-ln U / ln M)). */
    const graph &g = h->g;
    size_t n = g.max_elements_ * (g.size_data_per_element_ + sizeof(void *) + sizeof(int) +
                                  sizeof(std::mutex) + sizeof(unsigned short));
    n += (size_t)((double)g.cur_element_count * (double)g.size_links_per_element_ /
                  (double)(g.M_ > 1 ? g.M_ - 1 : 1));
    return n + g.label_lookup_.size() * 32;
}

/* Saved form, little-endian: count u32, entry u32 (0xffffffff: none), maxlevel u32
 * (0xffffffff when empty), then per internal id: label u32, level u32, then for each
 * level 0..level a list: header u32 (count in the low 16 bits, bit 16 the delete mark,
 * only on level 0) and `count` neighbour internal ids u32; a point marked deleted is
 * followed by its vector (dims float32: searches still route through it, and its item,
 * gone from the file, cannot give it back). */
int keel__hnsw_save(const keel__hnsw *h, char **out, size_t *len_out) {
    try {
        const graph &g = h->g;
        std::string o;
        o.reserve(g.cur_element_count * (16 + g.size_links_level0_));
        put32(o, (uint32_t)g.cur_element_count);
        put32(o, g.cur_element_count ? (uint32_t)g.enterpoint_node_ : 0xffffffffu);
        put32(o, g.cur_element_count ? (uint32_t)g.maxlevel_ : 0xffffffffu);
        for (size_t i = 0; i < g.cur_element_count; i++) {
            put32(o, (uint32_t)g.getExternalLabel((hnswlib::tableint)i));
            int lv = g.element_levels_[i];
            put32(o, (uint32_t)lv);
            for (int l = 0; l <= lv; l++) {
                hnswlib::linklistsizeint *ll = g.get_linklist_at_level((hnswlib::tableint)i, l);
                unsigned n = g.getListCount(ll);
                uint32_t head = n;
                if (l == 0 && g.isMarkedDeleted((hnswlib::tableint)i)) head |= 1u << 16;
                put32(o, head);
                const hnswlib::tableint *ids = (const hnswlib::tableint *)(ll + 1);
                for (unsigned j = 0; j < n; j++) put32(o, ids[j]);
            }
            if (g.isMarkedDeleted((hnswlib::tableint)i)) {
                const float *v = (const float *)g.getDataByInternalId((hnswlib::tableint)i);
                for (size_t j = 0; j < g.data_size_ / 4; j++) {
                    uint32_t u;
                    std::memcpy(&u, &v[j], 4);
                    put32(o, u);
                }
            }
        }
        char *b = (char *)std::malloc(o.size() ? o.size() : 1);
        if (!b) throw std::bad_alloc();
        std::memcpy(b, o.data(), o.size());
        *out = b;
        *len_out = o.size();
        return 0;
    } catch (const std::exception &e) {
        set_err(e.what());
        return -1;
    }
}

keel__hnsw *keel__hnsw_load(size_t dims, int kind, keel__hnsw_fn fn, size_t m, size_t efc,
                            uint32_t label_bound, const uint8_t *p, size_t len) {
    keel__hnsw *h = nullptr;
    try {
        const uint8_t *e = p + len;
        auto need = [&](size_t n) {
            if ((size_t)(e - p) < n) throw std::runtime_error("the graph is truncated");
        };
        need(12);
        uint32_t n = ld32(p), entry = ld32(p + 4), maxlevel = ld32(p + 8);
        p += 12;
        if (n > label_bound) throw std::runtime_error("the graph has more nodes than ids");
        if (n ? (entry >= n || maxlevel > 64) : (entry != 0xffffffffu))
            throw std::runtime_error("the graph's entry point is out of range");
        h = new keel__hnsw(dims, kind, fn, m, efc, n);
        graph &g = h->g;
        std::vector<char> seen(label_bound, 0);
        for (uint32_t i = 0; i < n; i++) {
            need(8);
            uint32_t label = ld32(p), lv = ld32(p + 4);
            p += 8;
            if (label >= label_bound || seen[label]) throw std::runtime_error("bad label");
            if (lv > 64 || (i == entry && lv != maxlevel) || lv > maxlevel)
                throw std::runtime_error("bad level");
            seen[label] = 1;
            g.element_levels_[i] = (int)lv;
            g.linkLists_[i] = nullptr;
            g.cur_element_count = i + 1;  /* the destructor frees linkLists_[0..i] */
            if (lv > 0) {
                /* 4 spare bytes: hnswlib's search prefetches one id past a full list */
                g.linkLists_[i] = (char *)std::calloc(1, lv * g.size_links_per_element_ + 4);
                if (!g.linkLists_[i]) {
                    g.element_levels_[i] = 0;
                    throw std::bad_alloc();
                }
            }
            std::memset(g.get_linklist0(i), 0, g.size_links_level0_);
            g.setExternalLabel(i, label);
            for (uint32_t l = 0; l <= lv; l++) {
                need(4);
                uint32_t head = ld32(p);
                p += 4;
                uint32_t cnt = head & 0xffffu, max = l ? (uint32_t)g.maxM_ : (uint32_t)g.maxM0_;
                if (cnt > max || (head >> 16) > (l == 0 ? 1u : 0u))
                    throw std::runtime_error("bad neighbour list");
                need((size_t)cnt * 4);
                hnswlib::linklistsizeint *ll = g.get_linklist_at_level(i, (int)l);
                g.setListCount(ll, (unsigned short)cnt);
                hnswlib::tableint *ids = (hnswlib::tableint *)(ll + 1);
                for (uint32_t j = 0; j < cnt; j++, p += 4) {
                    uint32_t id = ld32(p);
                    if (id >= n) throw std::runtime_error("neighbour id out of range");
                    ids[j] = id;
                }
                if (head >> 16) g.markDeletedInternal(i);
            }
            float *data = (float *)g.getDataByInternalId(i);
            std::memset(data, 0, g.data_size_);
            if (g.isMarkedDeleted(i)) {
                need(g.data_size_);
                for (size_t j = 0; j < g.data_size_ / 4; j++, p += 4) {
                    uint32_t u = ld32(p);
                    std::memcpy(&data[j], &u, 4);
                }
            }
            g.label_lookup_[label] = i;
        }
        if (p != e) throw std::runtime_error("bytes after the graph");
        /* A neighbour on level l must itself reach level l (searches walk its list there). */
        for (uint32_t i = 0; i < n; i++)
            for (int l = 1; l <= g.element_levels_[i]; l++) {
                hnswlib::linklistsizeint *ll = g.get_linklist(i, l);
                const hnswlib::tableint *ids = (const hnswlib::tableint *)(ll + 1);
                for (unsigned j = 0; j < g.getListCount(ll); j++)
                    if (g.element_levels_[ids[j]] < l) throw std::runtime_error("bad link level");
            }
        g.enterpoint_node_ = n ? entry : (hnswlib::tableint)-1;
        g.maxlevel_ = n ? (int)maxlevel : -1;
        /* Fresh random levels for the points added from now on, different from the seed
         * the saved ones came from. */
        g.level_generator_.seed(100 + n);
        return h;
    } catch (const std::exception &ex) {
        set_err(ex.what());
        delete h;
        return nullptr;
    }
}

}  // extern "C"
