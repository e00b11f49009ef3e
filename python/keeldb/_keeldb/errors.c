/*
 * errors.c: the exception classes of keeldb and the mapping from keel_status to
 * Python exceptions. keeldb's own errors derive from keeldb.Error; I/O errors are
 * StoreIOError, a subclass of both Error and OSError, with .errno (and .filename when
 * known) set. The classes live in module state; kdb_raise_status reads keel_errmsg(), so it
 * must run on the thread that made the failing call, before any other keel_ call.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common.h"

static PyObject *
new_exc(PyObject *m, const char *name, const char *doc, PyObject *base)
{
    PyObject *e = PyErr_NewExceptionWithDoc(name, doc, base, NULL);
    if (e == NULL)
        return NULL;
    const char *dot = strrchr(name, '.');
    if (PyModule_AddObject(m, dot + 1, Py_NewRef(e)) < 0) {
        Py_DECREF(e);
        Py_DECREF(e);
        return NULL;
    }
    return e;
}

int
kdb_add_exceptions(PyObject *m, keeldb_state *st)
{
    if ((st->Error = new_exc(m, "keeldb.Error", "Base class of keeldb's own errors.",
                             PyExc_Exception)) == NULL)
        return -1;
    if ((st->CorruptError = new_exc(m, "keeldb.CorruptError",
                                    "The file is damaged beyond a torn tail, or an entry's "
                                    "checksum does not match.",
                                    st->Error)) == NULL)
        return -1;
    if ((st->FormatError = new_exc(m, "keeldb.FormatError",
                                   "The file is not a keel store (it was left untouched).",
                                   st->Error)) == NULL)
        return -1;
    if ((st->VersionError = new_exc(m, "keeldb.VersionError",
                                    "The file is a keel store of a newer major format version.",
                                    st->Error)) == NULL)
        return -1;
    if ((st->LockedError = new_exc(m, "keeldb.LockedError",
                                   "Another writer (this process or another) holds the "
                                   "store's lock.",
                                   st->Error)) == NULL)
        return -1;
    if ((st->ReadOnlyError = new_exc(m, "keeldb.ReadOnlyError",
                                     "A write on a store opened read-only.", st->Error)) == NULL)
        return -1;
    PyObject *bases = PyTuple_Pack(2, st->Error, PyExc_OSError);
    if (bases == NULL)
        return -1;
    st->StoreIOError = new_exc(m, "keeldb.StoreIOError",
                               "An I/O error from the operating system (errno is set).", bases);
    Py_DECREF(bases);
    if (st->StoreIOError == NULL)
        return -1;
    if ((st->RecoveryWarning = new_exc(m, "keeldb.RecoveryWarning",
                                       "Opening a store cut a torn or damaged tail; the cut "
                                       "bytes were saved in the file the message names.",
                                       PyExc_UserWarning)) == NULL)
        return -1;
    return 0;
}

PyObject *
kdb_raise_closed(void)
{
    PyErr_SetString(PyExc_ValueError, "I/O operation on closed store");
    return NULL;
}

/* Raise the Python exception for `rc` (an error status) with keel_errmsg()'s detail.
 * Must run on the thread that made the failing call, before any other keel_ call.
 * `filename` (may be NULL) is attached to OSError subclasses. Always returns NULL. */
PyObject *
kdb_raise_status(keeldb_state *st, keel_status rc, const char *what, PyObject *filename)
{
    const char *detail = keel_errmsg();
    const char *text = keel_strerror(rc);
    PyObject *msg;
    if (detail != NULL && detail[0] != '\0')
        msg = PyUnicode_FromFormat("%s: %s (%s)", what, text, detail);
    else
        msg = PyUnicode_FromFormat("%s: %s", what, text);
    if (msg == NULL)
        return NULL;

    PyObject *exc_type = NULL;
    int err = 0;
    switch (rc) {
    case KEEL_ECLOSED:
        Py_DECREF(msg);
        return kdb_raise_closed();
    case KEEL_EINVAL:
    case KEEL_ERANGE:
        exc_type = PyExc_ValueError;
        break;
    case KEEL_EKEYSIZE:
        Py_DECREF(msg);
        msg = PyUnicode_FromFormat("%s: key too long: the limit is %u bytes (%s)", what,
                                   (unsigned)KEEL_MAX_KEY, detail ? detail : "");
        if (msg == NULL)
            return NULL;
        exc_type = PyExc_ValueError;
        break;
    case KEEL_ENOMEM:
        exc_type = PyExc_MemoryError;
        break;
    case KEEL_EBUSY:
        exc_type = PyExc_RuntimeError;
        break;
    case KEEL_EFORMAT:
        exc_type = st->FormatError;
        break;
    case KEEL_EVERSION:
        exc_type = st->VersionError;
        break;
    case KEEL_ECORRUPT:
        exc_type = st->CorruptError;
        break;
    case KEEL_ELOCKED:
        exc_type = st->LockedError;
        break;
    case KEEL_EREADONLY:
        exc_type = st->ReadOnlyError;
        break;
    case KEEL_EIO:
        err = EIO;
        break;
    case KEEL_ENOSPC:
        err = ENOSPC;
        break;
    case KEEL_ENOENT:
        err = ENOENT;
        break;
    case KEEL_EEXIST:
        err = EEXIST;
        break;
    case KEEL_EACCES:
        err = EACCES;
        break;
    default:
        exc_type = st->Error;
        break;
    }
    if (err != 0) {
        /* StoreIOError(errno, message[, filename]) fills .errno, .strerror, .filename. */
        PyObject *exc = filename != NULL
            ? PyObject_CallFunction(st->StoreIOError, "iOO", err, msg, filename)
            : PyObject_CallFunction(st->StoreIOError, "iO", err, msg);
        Py_DECREF(msg);
        if (exc != NULL) {
            PyErr_SetObject(st->StoreIOError, exc);
            Py_DECREF(exc);
        }
        return NULL;
    }
    PyErr_SetObject(exc_type, msg);
    Py_DECREF(msg);
    return NULL;
}
