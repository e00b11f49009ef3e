/*
 * index.c: the in-memory key index, an open-addressing table with linear probing.
 *
 * Two parallel arrays (store.h): 8-byte hot slots holding a hash tag, a dead bit and the
 * offset of the entry's trailer, and the full hashes, touched only by resizes. A probe
 * compares tags; on a match it reads the entry's trailer and compares the key bytes stored
 * right before it, so two keys with the same 64-bit hash are two keys. The trailer, the
 * key and (for small values) the value share a few adjacent cache lines, so a hit costs one
 * miss in the file and, thanks to the small hot array, usually none in the table.
 * Capacity is a power of two, load at most 70 %.
 *
 * Callers hold s->index_lock (read for find, write for changes) or, during open and
 * compaction, own the store exclusively. Trailers reached through the index belong to
 * committed entries that open's walk or the writer validated, so their fields are trusted.
 */
#include "store/store.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static uint64_t capacity_for(uint64_t n) {
    uint64_t cap = 1024;
    while (cap * 7 / 10 < n) cap <<= 1;
    return cap;
}

/* Arrays of 2 MiB and more come from an anonymous mapping aligned to 2 MiB and offered to
 * transparent huge pages (fewer TLB misses per probe; the kernel's zero pages need no
 * memset). */
#define HUGE_PAGE ((size_t)2 << 20)

static uint64_t *array_alloc(uint64_t cap, size_t *mapped_out) {
    size_t bytes = (size_t)cap * sizeof(uint64_t);
    *mapped_out = 0;
    if (bytes < HUGE_PAGE) return calloc((size_t)cap, sizeof(uint64_t));
    size_t len = bytes + HUGE_PAGE;
    uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    uint8_t *aligned = (uint8_t *)(((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
    if (aligned > p) munmap(p, (size_t)(aligned - p));
    size_t tail = (size_t)(p + len - (aligned + bytes));
    if (tail) munmap(aligned + bytes, tail);
    (void)madvise(aligned, bytes, MADV_HUGEPAGE);
    *mapped_out = bytes;
    return (uint64_t *)aligned;
}

static void array_free(uint64_t *a, size_t mapped) {
    if (mapped) munmap(a, mapped);
    else free(a);
}

keel_status keel__index_init(keel_index *ix, uint64_t expected) {
    uint64_t cap = capacity_for(expected);
    size_t m1, m2;
    ix->slots = array_alloc(cap, &m1);
    ix->hashes = ix->slots ? array_alloc(cap, &m2) : NULL;
    if (!ix->hashes) {
        if (ix->slots) array_free(ix->slots, m1);
        ix->slots = NULL;
        return keel__fail(KEEL_ENOMEM, "index of %llu slots", (unsigned long long)cap);
    }
    ix->mapped = m1;  /* both arrays have the same size, so the same allocator */
    ix->mask = cap - 1;
    ix->used = ix->live = 0;
    return KEEL_OK;
}

void keel__index_free(keel_index *ix) {
    if (ix->slots) array_free(ix->slots, ix->mapped);
    if (ix->hashes) array_free(ix->hashes, ix->mapped);
    ix->slots = ix->hashes = NULL;
    ix->mapped = 0;
    ix->mask = ix->used = ix->live = 0;
}

static inline uint64_t tag_of(uint64_t h) { return h >> KEEL_SLOT_TAG_SHIFT; }

static inline uint64_t slot_value(uint64_t h, uint64_t trailer_start, bool dead) {
    return tag_of(h) << KEEL_SLOT_TAG_SHIFT | (dead ? KEEL_SLOT_DEAD_BIT : 0) |
           (trailer_start >> 3);
}

void keel__slot_decode(const keel_store *s, uint64_t v, keel_hit *hit) {
    keel_snap_entry e;
    hit->trailer_start = (v & KEEL_SLOT_OFF_MASK) << 3;
    keel__entry_at(s->map->base, s->align, hit->trailer_start, &e);
    hit->value_len = e.vlen;
    hit->key_len = e.klen;
    hit->value_start = e.voff;
    hit->key_start = e.voff + e.vlen;
    hit->dead = (v & KEEL_SLOT_DEAD_BIT) != 0;
}

/* Start the misses on the entry whose trailer starts at `t`, for a key of `key_len` bytes.
 * The trailer comes after the key and value, but their places are only known once it is
 * read: fetch it, the bytes where this key would end (just before the trailer) and the
 * line before them (the end of a small value) at once, so the misses overlap. */
static inline void prefetch_entry_at(const keel_store *s, uint64_t t, size_t key_len) {
    uint64_t k = t > key_len + 8 + 64 ? t - key_len - 8 : t;
    __builtin_prefetch(keel__at(s, t + 8));
    __builtin_prefetch(keel__at(s, k));
    __builtin_prefetch(keel__at(s, k - 64));
}

/* Does slot value `v` (whose tag matched) hold `key`? Fills *hit when it does. */
static bool slot_matches(const keel_store *s, uint64_t v, const void *key, size_t key_len,
                         keel_hit *hit) {
    prefetch_entry_at(s, (v & KEEL_SLOT_OFF_MASK) << 3, key_len);
    keel__slot_decode(s, v, hit);
    if (hit->key_len != key_len) return false;
    /* The caller reads the value next: start that miss while the key compare waits for
     * its own (for small values they are the same or adjacent lines anyway). */
    if (!hit->dead) __builtin_prefetch(keel__at(s, hit->value_start));
    return key_len == 0 || memcmp(keel__at(s, hit->key_start), key, key_len) == 0;
}

bool keel__index_find(const keel_store *s, uint64_t hash, const void *key, size_t key_len,
                      keel_hit *hit) {
    const keel_index *ix = &s->index;
    uint64_t h = keel__index_hash(hash, s->test_hash_mask), tag = tag_of(h);
    for (uint64_t i = h & ix->mask;; i = (i + 1) & ix->mask) {
        uint64_t v = ix->slots[i];
        if (v == 0) break;
        if ((v >> KEEL_SLOT_TAG_SHIFT) == tag &&
            slot_matches(s, v, key, key_len, hit)) {
            hit->slot = &ix->slots[i];
            return true;
        }
    }
    hit->slot = NULL;
    return false;
}

/* Rehash into a table sized for the live slots plus `extra`, dropping dead slots unless
 * `keep_dead` (needed while an open is still walking older entries). */
static keel_status rehash(keel_store *s, uint64_t extra, bool keep_dead) {
    keel_index *ix = &s->index;
    uint64_t want = (keep_dead ? ix->used : ix->live) + extra;
    keel_index nx;
    keel_status st = keel__index_init(&nx, want);
    if (st != KEEL_OK) return st;
    for (uint64_t i = 0; i <= ix->mask; i++) {
        uint64_t v = ix->slots[i];
        if (v == 0) continue;
        bool dead = (v & KEEL_SLOT_DEAD_BIT) != 0;
        if (dead && !keep_dead) continue;
        uint64_t h = ix->hashes[i];
        uint64_t j = h & nx.mask;
        while (nx.slots[j] != 0) j = (j + 1) & nx.mask;
        nx.slots[j] = v;
        nx.hashes[j] = h;
        nx.used++;
        if (!dead) nx.live++;
    }
    keel__index_free(ix);
    *ix = nx;
    return KEEL_OK;
}

static keel_status ensure_room(keel_store *s, bool keep_dead) {
    keel_index *ix = &s->index;
    if ((ix->used + 1) * 10 <= (ix->mask + 1) * 7) return KEEL_OK;
    /* Grow when mostly live, otherwise just sweep the dead out at the same size. */
    uint64_t extra = ix->live + 1 > (ix->mask + 1) / 4 ? ix->used + 1 : 1;
    return rehash(s, extra, keep_dead);
}

/* The slot index holding `key`, or the empty one where it would go. */
static uint64_t probe_for_insert(const keel_store *s, uint64_t h, const void *key,
                                 size_t key_len, keel_hit *hit, bool *found) {
    const keel_index *ix = &s->index;
    uint64_t tag = tag_of(h);
    for (uint64_t i = h & ix->mask;; i = (i + 1) & ix->mask) {
        uint64_t v = ix->slots[i];
        if (v == 0) {
            *found = false;
            return i;
        }
        if ((v >> KEEL_SLOT_TAG_SHIFT) == tag &&
            slot_matches(s, v, key, key_len, hit)) {
            *found = true;
            return i;
        }
    }
}

keel_status keel__index_set(keel_store *s, uint64_t hash, const void *key, size_t key_len,
                            uint64_t trailer_start, bool dead, keel_hit *old_out) {
    keel_status st = ensure_room(s, false);
    if (st != KEEL_OK) return st;
    keel_index *ix = &s->index;
    uint64_t h = keel__index_hash(hash, s->test_hash_mask);
    bool found;
    uint64_t i = probe_for_insert(s, h, key, key_len, old_out, &found);
    if (found) {
        old_out->slot = &ix->slots[i];
        if (old_out->dead && !dead) ix->live++;
        if (!old_out->dead && dead) ix->live--;
    } else {
        memset(old_out, 0, sizeof *old_out);
        ix->used++;
        if (!dead) ix->live++;
    }
    ix->slots[i] = slot_value(h, trailer_start, dead);
    ix->hashes[i] = h;
    return KEEL_OK;
}

keel_status keel__index_add_if_absent(keel_store *s, uint64_t hash, const void *key,
                                      size_t key_len, uint64_t trailer_start, bool dead,
                                      bool *added_out) {
    keel_status st = ensure_room(s, true);
    if (st != KEEL_OK) return st;
    keel_index *ix = &s->index;
    uint64_t h = keel__index_hash(hash, s->test_hash_mask);
    bool found;
    keel_hit hit;
    uint64_t i = probe_for_insert(s, h, key, key_len, &hit, &found);
    *added_out = !found;
    if (found) return KEEL_OK;
    ix->slots[i] = slot_value(h, trailer_start, dead);
    ix->hashes[i] = h;
    ix->used++;
    if (!dead) ix->live++;
    return KEEL_OK;
}

void keel__index_insert_unique(keel_index *ix, uint64_t h, uint64_t trailer_start) {
    uint64_t i = h & ix->mask;
    while (ix->slots[i] != 0) i = (i + 1) & ix->mask;
    ix->slots[i] = slot_value(h, trailer_start, false);
    ix->hashes[i] = h;
    ix->used++;
    ix->live++;
}

void keel__index_prefetch(const keel_store *s, uint64_t hash) {
    const keel_index *ix = &s->index;
    uint64_t i = keel__index_hash(hash, s->test_hash_mask) & ix->mask;
    __builtin_prefetch(&ix->slots[i], 1);
    __builtin_prefetch(&ix->hashes[i], 1);  /* written on insert */
}

void keel__index_prefetch_read(const keel_store *s, uint64_t hash) {
    const keel_index *ix = &s->index;
    __builtin_prefetch(&ix->slots[keel__index_hash(hash, s->test_hash_mask) & ix->mask]);
}

void keel__index_prefetch_entry(const keel_store *s, uint64_t hash, size_t key_len) {
    /* The first slot whose tag matches is, almost always, the key's. */
    const keel_index *ix = &s->index;
    uint64_t h = keel__index_hash(hash, s->test_hash_mask), tag = tag_of(h);
    for (uint64_t i = h & ix->mask;; i = (i + 1) & ix->mask) {
        uint64_t v = ix->slots[i];
        if (v == 0) return;
        if ((v >> KEEL_SLOT_TAG_SHIFT) == tag) {
            prefetch_entry_at(s, (v & KEEL_SLOT_OFF_MASK) << 3, key_len);
            return;
        }
    }
}

keel_status keel__index_purge_dead(keel_store *s) {
    if (s->index.used == s->index.live) return KEEL_OK;
    return rehash(s, 0, false);
}

uint64_t keel__entry_span(const keel_store *s, uint64_t trailer_start) {
    uint64_t prev_end = keel__ld64(keel__at(s, trailer_start + 8));
    return trailer_start + KEEL_TRAILER_SIZE - prev_end;
}

/* ---- snapshots: the live entries in file order (iteration and compaction) ---------- */

/* LSD radix sort on the 48-bit offset, 16 bits a pass: linear, where qsort of millions of
 * entries would dominate the scan itself. */
static int cmp_offset(const void *x, const void *y) {
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return (a > b) - (a < b);
}

static keel_status sort_by_offset(uint64_t *a, size_t n) {
    if (n < 2) return KEEL_OK;
    if (n < 16384) {  /* the radix passes' fixed cost would dominate a small snapshot */
        qsort(a, n, sizeof *a, cmp_offset);
        return KEEL_OK;
    }
    uint64_t *tmp = malloc(n * sizeof *tmp);
    size_t *count = malloc(65536 * sizeof *count);
    if (!tmp || !count) {
        free(tmp);
        free(count);
        return keel__fail(KEEL_ENOMEM, "sorting %zu entries", n);
    }
    uint64_t *src = a, *dst = tmp;
    for (int shift = 0; shift < 48; shift += 16) {
        memset(count, 0, 65536 * sizeof *count);
        for (size_t i = 0; i < n; i++) count[(src[i] >> shift) & 0xffff]++;
        size_t sum = 0;
        for (size_t b = 0; b < 65536; b++) {
            size_t c = count[b];
            count[b] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++) dst[count[(src[i] >> shift) & 0xffff]++] = src[i];
        uint64_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != a) memcpy(a, src, n * sizeof *a);  /* three passes end in tmp */
    free(tmp);
    free(count);
    return KEEL_OK;
}

keel_status keel__snapshot_trailers(const keel_store *s, uint64_t **out, size_t *n_out) {
    const keel_index *ix = &s->index;
    size_t n = (size_t)ix->live;
    uint64_t *t = malloc((n ? n : 1) * sizeof *t);
    if (!t) return keel__fail(KEEL_ENOMEM, "snapshot of %zu entries", n);
    size_t k = 0;
    for (uint64_t i = 0; i <= ix->mask; i++) {
        uint64_t v = ix->slots[i];
        if (v != 0 && !(v & KEEL_SLOT_DEAD_BIT)) t[k++] = (v & KEEL_SLOT_OFF_MASK) << 3;
    }
    keel_status st = sort_by_offset(t, k);
    if (st != KEEL_OK) {
        free(t);
        return st;
    }
    *out = t;
    *n_out = k;
    return KEEL_OK;
}
