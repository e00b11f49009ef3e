/*
 * helpers.c: errors and arguments shared by the record types: keel_status to
 * OSError and its subclasses (with keel's detail line), the path and corruption-strategy
 * converters for PyArg_Parse*'s O&, the compression argument, and the lock that keeps a
 * second Python thread out of a handle while the first has released the GIL.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common.h"

/* ---- errors and arguments ------------------------------------------------------------- */

PyObject *krec_raise_status(keel_status st, const char *what) {
    const char *msg = keel_errmsg();
    if (!msg[0]) msg = keel_strerror(st);
    PyObject *exc = PyExc_OSError;
    switch (st) {
    case KEEL_ENOENT: exc = PyExc_FileNotFoundError; break;
    case KEEL_EACCES: exc = PyExc_PermissionError; break;
    case KEEL_ENOMEM: return PyErr_NoMemory();
    case KEEL_EINVAL: exc = PyExc_ValueError; break;
    default: break;
    }
    if (what) PyErr_Format(exc, "%s: %s", what, msg);
    else PyErr_SetString(exc, msg);
    return NULL;
}

/* PyUnicode_FSConverter, with Pisky's TypeError for anything not path-like. */
int krec_path_converter(PyObject *o, void *out) {
    if (o == NULL) {    /* cleanup call */
        Py_CLEAR(*(PyObject **)out);
        return 1;
    }
    if (!PyUnicode_Check(o) && !PyBytes_Check(o) && !PyObject_HasAttrString(o, "__fspath__")) {
        PyErr_Format(PyExc_TypeError, "expected a path (str, bytes or os.PathLike), not %.100s",
                     Py_TYPE(o)->tp_name);
        return 0;
    }
    return PyUnicode_FSConverter(o, out) ? Py_CLEANUP_SUPPORTED : 0;
}

/* None, CorruptionStrategy member, int 0/1 or "error"/"recover". */
int krec_strategy_converter(PyObject *o, void *out) {
    keel_rec_corruption *c = out;
    if (o == Py_None) {
        *c = KEEL_REC_ERROR;
        return 1;
    }
    if (PyUnicode_Check(o)) {
        if (PyUnicode_CompareWithASCIIString(o, "error") == 0) { *c = KEEL_REC_ERROR; return 1; }
        if (PyUnicode_CompareWithASCIIString(o, "recover") == 0) { *c = KEEL_REC_RECOVER; return 1; }
        PyErr_Format(PyExc_ValueError, "corruption_strategy must be 'error' or 'recover', not %R", o);
        return 0;
    }
    if (PyLong_Check(o)) {
        long v = PyLong_AsLong(o);
        if (v == 0 || v == 1) {
            *c = (keel_rec_corruption)v;
            return 1;
        }
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_ValueError, "unknown corruption strategy %R", o);
        return 0;
    }
    PyErr_Format(PyExc_TypeError, "corruption_strategy must be a CorruptionStrategy, not %.100s",
                 Py_TYPE(o)->tp_name);
    return 0;
}

int krec_parse_compression(PyObject *c, keel_rec_compression *out) {
    if (c == NULL || c == Py_None) {
        *out = KEEL_REC_UNCOMPRESSED;
        return 0;
    }
    if (PyUnicode_Check(c)) {
        const char *s = PyUnicode_AsUTF8(c);
        if (!s) return -1;
        if (!strcmp(s, "none") || !strcmp(s, "uncompressed")) { *out = KEEL_REC_UNCOMPRESSED; return 0; }
        if (!strcmp(s, "zstd")) { *out = KEEL_REC_ZSTD; return 0; }
        if (!strcmp(s, "brotli")) { *out = KEEL_REC_BROTLI; return 0; }
    }
    /* OSError, as Pisky raises for it. */
    PyErr_Format(PyExc_OSError, "Unsupported compression type: %R (use None, 'zstd' or 'brotli')", c);
    return -1;
}

/* Take a handle's lock, releasing the GIL only when another thread holds it. */
void krec_lock_handle(PyThread_type_lock lock) {
    if (!PyThread_acquire_lock(lock, NOWAIT_LOCK)) {
        Py_BEGIN_ALLOW_THREADS
        PyThread_acquire_lock(lock, WAIT_LOCK);
        Py_END_ALLOW_THREADS
    }
}

