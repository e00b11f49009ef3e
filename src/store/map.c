/*
 * map.c: read-only mappings of the store file that never move.
 *
 * The file is mapped MAP_SHARED with a reservation larger than the file (at least 1 GiB,
 * twice the needed size when it must grow), so bytes appended with pwrite() appear in
 * the mapping without remapping: Linux keeps the page cache and shared mappings coherent.
 * Only when the file outgrows the reservation is a new, larger mapping made; the old one
 * is retired, not unmapped, so every view handed out stays valid until close. Compaction
 * retires the old file's mapping the same way.
 */
#include "store/store.h"

#include <stdlib.h>

#define MIN_RESERVE (UINT64_C(1) << 30)


keel_status keel__map_new(int fd, uint64_t need, keel_map **map_out) {
    uint64_t reserve = MIN_RESERVE;
    while (reserve < need * 2) reserve <<= 1;
    keel_map *m = calloc(1, sizeof *m);
    if (!m) return keel__fail(KEEL_ENOMEM, "allocating a mapping record");
    void *addr;
    int err = keel__os_mmap_ro(fd, reserve, &addr);
    if (err) {
        free(m);
        return keel__fail_errno(err, "mmap of %llu bytes", (unsigned long long)reserve);
    }
    m->base = addr;
    m->reserved = reserve;
    *map_out = m;
    return KEEL_OK;
}


void keel__map_retire(keel_store *s, keel_map *m) {
    if (!m) return;
    m->next_retired = s->retired;
    s->retired = m;
}

static void map_free(keel_map *m) {
    keel__os_munmap(m->base, m->reserved);
    free(m);
}

void keel__map_release_all(keel_store *s) {
    if (s->map) map_free(s->map);
    s->map = NULL;
    while (s->retired) {
        keel_map *m = s->retired;
        s->retired = m->next_retired;
        map_free(m);
    }
}
