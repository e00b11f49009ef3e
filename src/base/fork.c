/*
 * fork.c: the fork generation, so that a handle can tell it is being used in a child
 * process forked after it was opened.
 *
 * A forked child inherits every handle's memory, file descriptors and locks, but not the
 * threads and not the ownership: a store's writer lock (flock) is the parent's, and so are
 * a record writer's pending chunk and its background thread. Handles record the generation
 * when they open; a pthread_atfork child handler bumps it; the handles' guards compare the
 * two (one relaxed atomic load) and refuse what would write through the parent's state,
 * and their close releases only the child's own resources (no flush, no cut, no join).
 * The handler is installed on the first open of any handle.
 */
#include "base/base.h"

#include <pthread.h>
#include <unistd.h>

_Atomic uint64_t keel__fork_generation;

static pthread_once_t installed = PTHREAD_ONCE_INIT;

static void in_child(void) {
    atomic_fetch_add_explicit(&keel__fork_generation, 1, memory_order_relaxed);
}

static void install(void) { (void)pthread_atfork(NULL, NULL, in_child); }

uint64_t keel__fork_gen_open(void) {
    pthread_once(&installed, install);
    return atomic_load_explicit(&keel__fork_generation, memory_order_relaxed);
}

long keel__process_id(void) { return (long)getpid(); }
