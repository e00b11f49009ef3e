/*
 * handle.c: the guards every operation on a store handle passes through.
 *
 * keel__writer_enter/leave take s->write_lock (writers are serialized; a thread that is
 * already writing gets KEEL_EBUSY instead of a deadlock), keel__reader_enter/leave take
 * s->index_lock for reading. Both refuse a closed handle, and a writable handle used in a
 * child forked after it was opened (KEEL_ELOCKED: see base/fork.c). The lock order is
 * always write_lock, then index_lock. Also the key-length check shared by every call
 * taking a key.
 */
#include "store/store.h"

keel_status keel__check_key(const void *key, size_t key_len) {
    if (!key && key_len) return keel__fail(KEEL_EINVAL, "key is NULL with length %zu", key_len);
    if (key_len > KEEL_MAX_KEY)
        return keel__fail(KEEL_EKEYSIZE, "key of %zu bytes exceeds the limit of %u bytes", key_len,
                          KEEL_MAX_KEY);
    return KEEL_OK;
}

uintptr_t keel__self_id(void) { return (uintptr_t)pthread_self(); }

bool keel__forked_writer(const keel_store *s) {
    return !s->read_only && keel__forked_since(s->fork_gen);
}

static keel_status refuse_forked(const keel_store *s) {
    return keel__fail(KEEL_ELOCKED, "store %s was opened for writing by process %ld before "
                      "fork(): a forked child cannot use that handle (the writer lock and the "
                      "view of the file are the parent's); open the store again in the child, "
                      "read-only to read while the parent writes", s->path, s->owner_pid);
}

keel_status keel__writer_enter(keel_store *s) {
    if (!s) return keel__fail(KEEL_EINVAL, "store handle is NULL");
    if (s->closed) return keel__fail(KEEL_ECLOSED, "store %s is closed", s->path);
    if (s->read_only) return keel__fail(KEEL_EREADONLY, "store %s was opened read-only", s->path);
    if (keel__forked_writer(s)) return refuse_forked(s);
    if (atomic_load(&s->writer_thread) == keel__self_id())
        return keel__fail(KEEL_EBUSY, "this thread is already writing to %s (re-entrant call)",
                          s->path);
    pthread_mutex_lock(&s->write_lock);
    if (s->closed) {
        pthread_mutex_unlock(&s->write_lock);
        return keel__fail(KEEL_ECLOSED, "store %s is closed", s->path);
    }
    atomic_store(&s->writer_thread, keel__self_id());
    return KEEL_OK;
}

void keel__writer_leave(keel_store *s) {
    atomic_store(&s->writer_thread, (uintptr_t)0);
    pthread_mutex_unlock(&s->write_lock);
}

keel_status keel__reader_enter(keel_store *s) {
    if (!s) return keel__fail(KEEL_EINVAL, "store handle is NULL");
    if (keel__forked_writer(s)) return refuse_forked(s);
    pthread_rwlock_rdlock(&s->index_lock);
    if (s->closed) {
        pthread_rwlock_unlock(&s->index_lock);
        return keel__fail(KEEL_ECLOSED, "store %s is closed", s->path);
    }
    return KEEL_OK;
}

void keel__reader_leave(keel_store *s) { pthread_rwlock_unlock(&s->index_lock); }
