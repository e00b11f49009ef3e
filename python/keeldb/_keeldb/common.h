/*
 * common.h: shared by the files of keeldb._keeldb, the CPython glue between keel.h
 * and the `keeldb` package.
 *
 * Thin on purpose: each method parses its arguments, calls one keel_ function and converts
 * the result or raises. The recipe is CPython's own (Modules/mmapmodule.c, Modules/_sqlite):
 * multi-phase init, heap types, exceptions and types in module state, no globals.
 *
 * Objects
 *   DataStore     owns one keel_store. Values come back as `bytes` (a copy, upstream's
 *                 contract) from read()/get()/store[k], or zero-copy through EntryHandle.
 *   EntryHandle   one entry; exports the buffer protocol over the mapped value (read-only,
 *                 aligned to the store's alignment). It holds a strong reference to its
 *                 DataStore, which counts exported buffers and refuses close() (BufferError)
 *                 while any are alive: keel unmaps everything at close.
 *   EntryStream   a file-like reader over one entry's value (copies, in chunks).
 *   StoreIterator a keel_iter snapshot, yielding keys, values or (key, value) pairs.
 *   NamespaceHasher  upstream's 16-byte namespaced keys.
 *
 * Threads and the GIL
 *   Lookups run with the GIL held: they cost ~30 ns and releasing the GIL would double that.
 *   Everything that does I/O (writes, batches, stream staging and commit, compaction, sync,
 *   verify, open, close) and large copies run with the GIL released. keel_close must not race
 *   with other calls on the handle, so every GIL-released call holds `oplock` for reading,
 *   taken while the GIL is still held and after checking `closed`; close() sets `closed`
 *   under the GIL, then takes `oplock` for writing (GIL released) and so waits for calls in
 *   flight. Calls that keep the GIL need no lock: close cannot start while they run.
 *   write_stream calls reader.read() while holding no engine lock, so other threads (and the
 *   reader itself) may use the store meanwhile; close() refuses while a stream is in
 *   progress. It keeps the chunks (up to STREAM_HOLD_BYTES) and writes them with one
 *   keel_putv at the end; past that it feeds them to a keel_stream, which stages them.
 *
 * Arguments: integers go through ../intarg.h (checked whole, never truncated; 0 is refused
 * where keel would read it as "the default"). Every method and type has a text signature
 * ("name($self, ...)\n--\n\n") matching _keeldb.pyi, for inspect.signature and help().
 *
 * Files (one extension module, keeldb._keeldb, built from all of them)
 *   common.h           this header: module state, object layouts, shared declarations
 *   module.c           module init/exec/traverse/clear, key_hash()
 *   errors.c           the exception classes; keel status -> Python exception (both
 *                      through ../_common/kpy.c, shared with keeldb._db and _records)
 *   datastore.c        DataStore: lifecycle, reads, iteration, maintenance, the type
 *   datastore_write.c  DataStore: writes (write, batches, write_stream, delete, rename...)
 *   datastore_recovery.c  DataStore.recovery, the RecoveryWarning at open, DataStore.repair
 *   entry.c            EntryHandle, EntryStream, StoreIterator
 *   hasher.c           NamespaceHasher
 *   migrate.c          _simd_import (under keeldb.import_simd_r_drive)
 * Functions and type specs shared between the files are prefixed kdb_ and have hidden
 * visibility like everything here but PyInit__keeldb (the extension is built with
 * -fvisibility=hidden), so none of them leaks out of the module.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef KEELDB_COMMON_H
#define KEELDB_COMMON_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "keel.h"
#include "../intarg.h"
#include "../_common/kpy.h"

#if PY_VERSION_HEX < 0x030A0000
#error "keeldb needs CPython 3.10 or later (pyproject.toml: requires-python)"
#endif

/* Copies at least this large release the GIL. */
#define BIG_COPY ((size_t)1 << 20)
/* write_stream asks the reader for this much at a time (upstream asks for 64 KiB; larger
 * reads mean fewer calls, and io.BytesIO hands over a whole 1 MiB buffer without a copy). */
#define STREAM_READ_SIZE ((long)1 << 20)

/* ---------------------------------------------------------------------------------------
 * Module state
 */

typedef struct {
    PyTypeObject *DataStore_type;
    PyTypeObject *EntryHandle_type;
    PyTypeObject *EntryStream_type;
    PyTypeObject *StoreIterator_type;
    PyTypeObject *NamespaceHasher_type;
    KPY_ERRORS_MEMBER;            /* Error, CorruptError, ..., StoreIOError and subclasses */
    PyObject *RecoveryWarning;    /* a UserWarning: open cut a torn or damaged tail */
    PyObject *str_read;           /* "read" */
    PyObject *int_stream_size;    /* STREAM_READ_SIZE */
} keeldb_state;

static inline keeldb_state *
get_state(PyObject *module)
{
    return (keeldb_state *)PyModule_GetState(module);
}

/* The module that defined `type` or one of its bases (subclasses made in Python included). */
PyObject *kdb_module_of_type(PyTypeObject *type);

/* ---------------------------------------------------------------------------------------
 * Object layouts
 */

typedef struct {
    PyObject_HEAD
    keel_store *s;          /* owned; freed in dealloc (close() leaves it allocated) */
    keeldb_state *st;       /* lives as long as `module`, which we hold */
    PyObject *module;
    PyObject *path;         /* str, as given (after os.fspath and decoding) */
    PyObject *weakreflist;
    pthread_rwlock_t oplock;
    int lock_ready;
    int closed;
    int readonly;
    Py_ssize_t exports;     /* live Py_buffer exports of EntryHandles on this store */
    Py_ssize_t streams;     /* write_stream calls in progress */
} StoreObject;

typedef struct {
    PyObject_HEAD
    StoreObject *store;     /* strong */
    keel_entry e;           /* views into the store's mappings: valid until close */
} EntryObject;

typedef struct {
    PyObject_HEAD
    StoreObject *store;     /* strong */
    const uint8_t *data;    /* the value, in the mapping */
    size_t len;
    size_t pos;
} StreamObject;

enum { ITER_KEYS = 0, ITER_VALUES = 1, ITER_ITEMS = 2 };

typedef struct {
    PyObject_HEAD
    StoreObject *store;     /* strong */
    keel_iter *it;
    int kind;
} IterObject;

typedef struct {
    PyObject_HEAD
    uint8_t prefix_le[8];   /* little-endian XXH3-64 of the prefix */
} HasherObject;

#define NO_NEW_FLAG Py_TPFLAGS_DISALLOW_INSTANTIATION

/* ---------------------------------------------------------------------------------------
 * Errors (errors.c)
 */

/* Create the exception classes (../_common/kpy.c's and RecoveryWarning), add them to the
 * module and keep them in `st`. */
int kdb_add_exceptions(PyObject *m, keeldb_state *st);

/* ValueError("I/O operation on closed store"). Always returns NULL. */
PyObject *kdb_raise_closed(void);

/* Raise the Python exception for `rc` (an error status) with keel_errmsg()'s detail
 * (kpy_raise_status). Must run on the thread that made the failing call, before any other
 * keel_ call. `filename` (may be NULL) is attached to OSError subclasses. Returns NULL. */
PyObject *kdb_raise_status(keeldb_state *st, keel_status rc, const char *what,
                           PyObject *filename);

/* ---------------------------------------------------------------------------------------
 * Argument helpers (../_common/kpy.h)
 */

/* A borrowed bytes-like argument: bytes without a Py_buffer, anything else through one. */
typedef kpy_buf barg;

/* Borrow `o` (bytes or any buffer) into `a`; TypeError naming `what` otherwise. 0 or -1. */
static inline int
kdb_barg_get(PyObject *o, barg *a, const char *what)
{
    return kpy_buf_get(o, a, what, KPY_BUF_ANY);
}

static inline void
barg_release(barg *a)
{
    kpy_buf_release(a);
}

/* METH_FASTCALL | METH_KEYWORDS parsing (every parameter may be positional). out[]
 * receives borrowed references, NULL for absent optionals. */
static inline int
kdb_parse_args(const char *fname, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
               const char *const *names, Py_ssize_t nreq, Py_ssize_t nmax, PyObject **out)
{
    return kpy_parse_args(fname, args, nargs, kwnames, names, nreq, nmax, nmax, out);
}

/* ---------------------------------------------------------------------------------------
 * DataStore helpers
 */

static inline int
store_check(StoreObject *self)
{
    if (self->closed || self->s == NULL) {
        kdb_raise_closed();
        return -1;
    }
    return 0;
}

/* Run `stmt` with the GIL released while holding oplock for reading (see the header and
 * ../_common/kpy.h). The caller has checked that the store is open, with the GIL held
 * since. */
#define IO_CALL(self, stmt) KPY_IO_CALL(self, stmt)

/* bytes copy of `n` bytes at `p`, which lies in this store's mapping. */
PyObject *kdb_copy_bytes(StoreObject *self, const void *p, size_t n);

/* A new EntryHandle on `e`, holding a reference to `self`. */
PyObject *kdb_new_entry(StoreObject *self, const keel_entry *e);

/* Recovery (datastore_recovery.c): the `recovery` getter, the warning at open (0 or -1
 * with an exception, when warnings are errors), and the repair() class method. */
PyObject *kdb_store_get_recovery(StoreObject *self, void *closure);
int kdb_store_warn_recovery(StoreObject *self);
PyObject *kdb_store_repair(PyObject *cls, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames);

/* DataStore writes (datastore_write.c), listed in datastore.c's method table. */
PyObject *kdb_store_write(StoreObject *self, PyObject *const *args, Py_ssize_t nargs,
                          PyObject *kwnames);
int kdb_store_ass_subscript(StoreObject *self, PyObject *key, PyObject *value);
PyObject *kdb_store_batch_write(StoreObject *self, PyObject *const *args, Py_ssize_t nargs,
                                PyObject *kwnames);
PyObject *kdb_store_write_stream(StoreObject *self, PyObject *const *args, Py_ssize_t nargs,
                                 PyObject *kwnames);
PyObject *kdb_store_delete(StoreObject *self, PyObject *key);
PyObject *kdb_store_batch_delete(StoreObject *self, PyObject *keys);
PyObject *kdb_store_rename(StoreObject *self, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames);
PyObject *kdb_store_copy(StoreObject *self, PyObject *const *args, Py_ssize_t nargs,
                         PyObject *kwnames);
PyObject *kdb_store_transfer(StoreObject *self, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames);

/* keeldb._keeldb._simd_import (migrate.c), listed in module.c's table. */
PyObject *kdb_simd_import(PyObject *module, PyObject *args, PyObject *kwds);

/* ---------------------------------------------------------------------------------------
 * Type specs, one per type, defined next to each type; module_exec creates the types.
 */

extern PyType_Spec kdb_store_spec;
extern PyType_Spec kdb_entry_spec;
extern PyType_Spec kdb_stream_spec;
extern PyType_Spec kdb_iter_spec;
extern PyType_Spec kdb_hasher_spec;

#endif /* KEELDB_COMMON_H */
