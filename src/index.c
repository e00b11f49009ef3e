/*
 * index.c: the in-memory key index, an open-addressing table with linear probing.
 *
 * A slot holds the key's (masked) XXH3 hash, the file offset of its value packed with
 * the key length, and the value length; the key bytes themselves stay in the file, right
 * after the value, and a probe compares them whenever the hashes match. So two keys with
 * the same 64-bit hash are two keys, at the price of one memcmp against mapped memory.
 * Deleted keys keep a "dead" slot (value_len == KEEL_SLOT_DEAD): during the backward
 * build it hides older versions; at run time it is a probe tombstone, reused when the key
 * returns and dropped at the next resize. Capacity is a power of two, load at most 70 %.
 *
 * Callers hold s->index_lock (read for find, write for changes) or, during open and
 * compaction, own the store exclusively.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static uint64_t capacity_for(uint64_t n) {
    uint64_t cap = 1024;
    while (cap * 7 / 10 < n) cap <<= 1;
    return cap;
}

/* Tables of 2 MiB and more come from an anonymous mapping aligned to 2 MiB and offered to
 * transparent huge pages: a random probe then costs a cache miss but rarely a TLB miss
 * too, and the kernel's zero pages need no memset. */
#define HUGE_PAGE ((size_t)2 << 20)

static keel_slot *slots_alloc(uint64_t cap, size_t *mapped_out) {
    size_t bytes = (size_t)cap * sizeof(keel_slot);
    *mapped_out = 0;
    if (bytes < HUGE_PAGE) return calloc((size_t)cap, sizeof(keel_slot));
    size_t len = bytes + HUGE_PAGE;
    uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    uint8_t *aligned = (uint8_t *)(((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
    if (aligned > p) munmap(p, (size_t)(aligned - p));
    size_t tail = (size_t)(p + len - (aligned + bytes));
    if (tail) munmap(aligned + bytes, tail);
    (void)madvise(aligned, bytes, MADV_HUGEPAGE);
    *mapped_out = bytes;
    return (keel_slot *)aligned;
}

static void slots_free(keel_slot *slots, size_t mapped) {
    if (mapped) munmap(slots, mapped);
    else free(slots);
}

keel_status keel__index_init(keel_index *ix, uint64_t expected) {
    uint64_t cap = capacity_for(expected);
    ix->slots = slots_alloc(cap, &ix->mapped);
    if (!ix->slots) return keel__fail(KEEL_ENOMEM, "index of %llu slots", (unsigned long long)cap);
    ix->mask = cap - 1;
    ix->used = ix->live = 0;
    return KEEL_OK;
}

void keel__index_free(keel_index *ix) {
    slots_free(ix->slots, ix->mapped);
    ix->slots = NULL;
    ix->mapped = 0;
    ix->mask = ix->used = ix->live = 0;
}

static bool key_matches(const keel_store *s, const keel_slot *sl, const void *key, size_t key_len) {
    if (keel__slot_klen(sl) != key_len) return false;
    return key_len == 0 || memcmp(keel__at(s, keel__slot_kstart(sl)), key, key_len) == 0;
}

keel_slot *keel__index_find(const keel_store *s, uint64_t hash, const void *key, size_t key_len) {
    const keel_index *ix = &s->index;
    uint64_t h = keel__index_hash(hash, s->test_hash_mask);
    for (uint64_t i = h & ix->mask;; i = (i + 1) & ix->mask) {
        keel_slot *sl = &ix->slots[i];
        if (sl->hash == 0) return NULL;
        if (sl->hash == h) {
            /* The caller reads the value next: start that miss while the key compare
             * waits for its own (for small values they are adjacent lines anyway). */
            __builtin_prefetch(keel__at(s, keel__slot_voff(sl)));
            if (key_matches(s, sl, key, key_len)) return sl;
        }
    }
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
        const keel_slot *sl = &ix->slots[i];
        if (sl->hash == 0) continue;
        bool dead = sl->value_len == KEEL_SLOT_DEAD;
        if (dead && !keep_dead) continue;
        uint64_t j = sl->hash & nx.mask;
        while (nx.slots[j].hash != 0) j = (j + 1) & nx.mask;
        nx.slots[j] = *sl;
        nx.used++;
        if (!dead) nx.live++;
    }
    slots_free(ix->slots, ix->mapped);
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

static keel_slot *probe_for_insert(keel_store *s, uint64_t h, const void *key, size_t key_len,
                                   bool *found) {
    keel_index *ix = &s->index;
    for (uint64_t i = h & ix->mask;; i = (i + 1) & ix->mask) {
        keel_slot *sl = &ix->slots[i];
        if (sl->hash == 0) {
            *found = false;
            return sl;
        }
        if (sl->hash == h && key_matches(s, sl, key, key_len)) {
            *found = true;
            return sl;
        }
    }
}

static void fill(keel_slot *sl, uint64_t h, size_t key_len, uint64_t value_off, uint64_t value_len) {
    sl->hash = h;
    sl->off_klen = value_off << 16 | (uint64_t)key_len;
    sl->value_len = value_len;
}

keel_status keel__index_set(keel_store *s, uint64_t hash, const void *key, size_t key_len,
                            uint64_t value_off, uint64_t value_len, keel_slot *old_out) {
    keel_status st = ensure_room(s, false);
    if (st != KEEL_OK) return st;
    uint64_t h = keel__index_hash(hash, s->test_hash_mask);
    bool found;
    keel_slot *sl = probe_for_insert(s, h, key, key_len, &found);
    bool new_dead = value_len == KEEL_SLOT_DEAD;
    if (found) {
        *old_out = *sl;
        bool was_dead = sl->value_len == KEEL_SLOT_DEAD;
        if (was_dead && !new_dead) s->index.live++;
        if (!was_dead && new_dead) s->index.live--;
    } else {
        memset(old_out, 0, sizeof *old_out);
        s->index.used++;
        if (!new_dead) s->index.live++;
    }
    fill(sl, h, key_len, value_off, value_len);
    return KEEL_OK;
}

keel_status keel__index_add_if_absent(keel_store *s, uint64_t hash, const void *key,
                                      size_t key_len, uint64_t value_off, uint64_t value_len,
                                      bool *added_out) {
    keel_status st = ensure_room(s, true);
    if (st != KEEL_OK) return st;
    uint64_t h = keel__index_hash(hash, s->test_hash_mask);
    bool found;
    keel_slot *sl = probe_for_insert(s, h, key, key_len, &found);
    *added_out = !found;
    if (found) return KEEL_OK;
    fill(sl, h, key_len, value_off, value_len);
    s->index.used++;
    if (value_len != KEEL_SLOT_DEAD) s->index.live++;
    return KEEL_OK;
}

void keel__index_insert_unique(keel_index *ix, uint64_t h, uint64_t value_off, uint32_t key_len,
                               uint64_t value_len) {
    uint64_t i = h & ix->mask;
    while (ix->slots[i].hash != 0) i = (i + 1) & ix->mask;
    fill(&ix->slots[i], h, key_len, value_off, value_len);
    ix->used++;
    ix->live++;
}

keel_status keel__index_purge_dead(keel_store *s) {
    if (s->index.used == s->index.live) return KEEL_OK;
    return rehash(s, 0, false);
}

void keel__index_prefetch(const keel_store *s, uint64_t hash) {
    const keel_index *ix = &s->index;
    __builtin_prefetch(&ix->slots[keel__index_hash(hash, s->test_hash_mask) & ix->mask], 1);
}

uint64_t keel__slot_span(const keel_store *s, const keel_slot *sl) {
    uint64_t key_end = keel__slot_kstart(sl) + keel__slot_klen(sl);
    uint64_t tstart = keel__round_up(key_end, 8);
    uint64_t prev_end = keel__ld64(keel__at(s, tstart + 8));
    return tstart + KEEL_TRAILER_SIZE - prev_end;
}
