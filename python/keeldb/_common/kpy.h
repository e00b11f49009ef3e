/*
 * kpy.h: what the C extensions of keeldb share (keeldb._keeldb, keeldb._records and
 * keeldb._db), so that each piece exists once: finding a type's module, adding heap types
 * and exception classes to a module, METH_FASTCALL argument parsing, borrowed bytes-like
 * arguments, and the mapping from keel_status to Python exceptions.
 *
 * kpy.c is compiled into each extension (python/meson.build lists it in each), like the
 * rest of an extension with hidden visibility: every module gets its own private copy and
 * no kpy_ symbol leaves a module.
 *
 * The exception classes keeldb._keeldb defines and keeldb._db raises too (kpy_errors)
 * live in each module's state: _keeldb creates them (kpy_errors_create), _db takes the
 * same objects from _keeldb (kpy_errors_import), so `except keeldb.Error` catches both.
 * I/O errors are StoreIOError (keeldb.Error and OSError, .errno and .filename set); for
 * ENOENT, EEXIST and EACCES they are its subclasses StoreFileNotFoundError,
 * StoreFileExistsError and StorePermissionError, which are also FileNotFoundError,
 * FileExistsError and PermissionError, as OSError(errno, ...) would pick: code written for
 * simd_r_drive (which raises OSError) and code catching the precise builtin both work.
 *
 * kpy_raise_status reads keel_errmsg(), so it must run on the thread that made the failing
 * call, before any other keel_ call.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef KEELDB_KPY_H
#define KEELDB_KPY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <pthread.h>

#include "keel.h"

/* ---- modules and types ---------------------------------------------------------------- */

/* The module made from `def` that defined `type` or one of its bases (Python subclasses
 * included); TypeError naming `modname` when there is none. Borrowed reference or NULL.
 * PyType_GetModuleByDef is 3.11+; before it, walk the MRO's heap types. */
PyObject *kpy_module_by_def(PyTypeObject *type, PyModuleDef *def, const char *modname);

/* Create the heap type of `spec` for module `m`, add it to `m` and keep a strong reference
 * in *slot. 0 or -1. */
int kpy_add_type(PyObject *m, PyType_Spec *spec, PyTypeObject **slot);

/* Create exception class `name` ("keeldb.X") with bases b1 (and b2 when not NULL), add it
 * to `m` as X. New reference (the module holds another) or NULL. */
PyObject *kpy_new_exception(PyObject *m, const char *name, const char *doc, PyObject *b1,
                            PyObject *b2);

/* ---- handles ---------------------------------------------------------------------------- */

/* DataStore and Database hold a pthread rwlock `oplock`: calls that release the GIL hold it
 * for reading, close() takes it for writing and so waits for them. Run `stmt` that way.
 * The caller has checked, with the GIL held, that the handle is open. */
#define KPY_IO_CALL(self, stmt)                                                             \
    do {                                                                                    \
        pthread_rwlock_rdlock(&(self)->oplock);                                             \
        Py_BEGIN_ALLOW_THREADS stmt;                                                        \
        pthread_rwlock_unlock(&(self)->oplock);                                             \
        Py_END_ALLOW_THREADS                                                                \
    } while (0)

/* ValueError("I/O operation on closed WHAT"). Always returns NULL. */
PyObject *kpy_raise_closed(const char *what);

/* ---- arguments -------------------------------------------------------------------------- */

/* METH_FASTCALL | METH_KEYWORDS parsing without the generic parser's cost on the common
 * all-positional call, with CPython's own TypeError messages. names[] has `nmax` names; the
 * first `nreq` are required, the first `npos` may be positional (the rest keyword-only).
 * out[] receives borrowed references, NULL for absent ones. 0 or -1. */
int kpy_parse_args(const char *fname, PyObject *const *args, Py_ssize_t nargs,
                   PyObject *kwnames, const char *const *names, Py_ssize_t nreq,
                   Py_ssize_t npos, Py_ssize_t nmax, PyObject **out);

/* A borrowed bytes-like argument: bytes (or str) without a Py_buffer, anything else
 * through one that kpy_buf_release gives back. */
typedef struct {
    const char *buf;
    Py_ssize_t len;
    int has_view;
    Py_buffer view;
} kpy_buf;

enum {
    KPY_BUF_ANY = 0,    /* bytes or any object with the buffer protocol */
    KPY_BUF_KEY = 1,    /* bytes, str (UTF-8), bytearray or memoryview */
};

/* Borrow `o` into `a` as `mode` allows; TypeError naming `what` otherwise. 0 or -1. */
int kpy_buf_get(PyObject *o, kpy_buf *a, const char *what, int mode);

static inline void
kpy_buf_release(kpy_buf *a)
{
    if (a->has_view) {
        PyBuffer_Release(&a->view);
        a->has_view = 0;
    }
}

/* ---- errors ----------------------------------------------------------------------------- */

#define KPY_ERROR_FIELDS                                                                    \
    PyObject *Error;                                                                        \
    PyObject *CorruptError;                                                                 \
    PyObject *FormatError;                                                                  \
    PyObject *VersionError;                                                                 \
    PyObject *LockedError;                                                                  \
    PyObject *ReadOnlyError;                                                                \
    PyObject *StoreIOError;                                                                 \
    PyObject *StoreFileNotFoundError;                                                       \
    PyObject *StoreFileExistsError;                                                         \
    PyObject *StorePermissionError;

/* The exception classes of keeldb._keeldb (strong references). */
typedef struct kpy_errors {
    KPY_ERROR_FIELDS
} kpy_errors;

/* A module state's member holding the classes both as `errors` (for the kpy_ functions)
 * and as fields of their own (st->Error, st->CorruptError, ...). */
#define KPY_ERRORS_MEMBER                                                                   \
    union {                                                                                 \
        kpy_errors errors;                                                                  \
        struct {                                                                            \
            KPY_ERROR_FIELDS                                                                \
        };                                                                                  \
    }

/* keeldb._keeldb: create the classes, add them to `m`, keep them in `e`. 0 or -1. */
int kpy_errors_create(PyObject *m, kpy_errors *e);
/* keeldb._db: take the classes from keeldb._keeldb (imported). 0 or -1. */
int kpy_errors_import(kpy_errors *e);
int kpy_errors_traverse(kpy_errors *e, visitproc visit, void *arg);
void kpy_errors_clear(kpy_errors *e);

/* The errno of an I/O status (KEEL_EIO, KEEL_ENOSPC, KEEL_ENOENT, KEEL_EEXIST,
 * KEEL_EACCES), 0 for the others. */
int kpy_status_errno(keel_status rc);

/* "WHAT: <status text> (<keel_errmsg() detail>)", or without the parenthesis when keel
 * left no detail. New reference or NULL. */
PyObject *kpy_status_message(keel_status rc, const char *what);

/* Raise cls(err, msg[, filename]) (filename left out when NULL or None): OSError's
 * constructor fills .errno, .strerror and .filename, and picks the subclass by errno when
 * cls is OSError itself. The exception is raised as the type it was made as. NULL. */
PyObject *kpy_raise_oserror(PyObject *cls, int err, PyObject *msg, PyObject *filename);

/* Raise the exception for error status `rc` of operation `what`, with keel_errmsg()'s
 * detail. `cls`, when not NULL, is the class to raise (a module's own, e.g. keeldb._db's
 * ValidationError); an OSError subclass gets an errno (EIO when the status has none).
 * Otherwise: EINVAL, ERANGE and EKEYSIZE (whose message names the limit) ValueError,
 * ENOMEM MemoryError, EBUSY RuntimeError, EFORMAT, EVERSION, ECORRUPT, ELOCKED and
 * EREADONLY their keeldb classes, the I/O statuses StoreIOError (the subclass of its
 * errno), anything else keeldb.Error. KEEL_ECLOSED is the caller's (each module words it).
 * `filename` (may be NULL) is attached to OSError subclasses. Always returns NULL. */
PyObject *kpy_raise_status(const kpy_errors *e, keel_status rc, const char *what,
                           PyObject *filename, PyObject *cls);

#endif /* KEELDB_KPY_H */
