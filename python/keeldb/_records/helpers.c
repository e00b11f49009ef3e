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
    switch (st) {
    case KEEL_ENOMEM: return PyErr_NoMemory();
    case KEEL_EINVAL:
        if (what) PyErr_Format(PyExc_ValueError, "%s: %s", what, msg);
        else PyErr_SetString(PyExc_ValueError, msg);
        return NULL;
    default: break;
    }
    int err = kpy_status_errno(st);
    PyObject *text = what ? PyUnicode_FromFormat("%s: %s", what, msg) : PyUnicode_FromString(msg);
    if (!text) return NULL;
    if (err == 0) {   /* a damaged file and the like: OSError without an errno, as Pisky */
        PyErr_SetObject(PyExc_OSError, text);
        Py_DECREF(text);
        return NULL;
    }
    /* OSError(errno, text) sets .errno and .strerror and picks the subclass by errno
     * (FileNotFoundError, PermissionError, ...), as the DataStore's StoreIOError carries
     * errno. */
    kpy_raise_oserror(PyExc_OSError, err, text, NULL);
    Py_DECREF(text);
    return NULL;
}

/* A path as Pisky takes one: str, bytes, os.PathLike, or any object whose type defines its
 * own __str__ (Pisky calls str() on what it is given). Ints, floats and plain objects (whose
 * str() is only their repr) are refused with a TypeError. To bytes, for the C calls. */
int krec_path_converter(PyObject *o, void *out) {
    if (o == NULL) {    /* cleanup call */
        Py_CLEAR(*(PyObject **)out);
        return 1;
    }
    if (PyUnicode_Check(o) || PyBytes_Check(o) || PyObject_HasAttrString(o, "__fspath__"))
        return PyUnicode_FSConverter(o, out) ? Py_CLEANUP_SUPPORTED : 0;
    if (Py_TYPE(o)->tp_str != NULL && Py_TYPE(o)->tp_str != PyBaseObject_Type.tp_str &&
        !PyNumber_Check(o)) {
        PyObject *str = PyObject_Str(o);
        if (!str) return 0;
        int ok = PyUnicode_FSConverter(str, out);
        Py_DECREF(str);
        return ok ? Py_CLEANUP_SUPPORTED : 0;
    }
    PyErr_Format(PyExc_TypeError,
                 "expected a path (str, bytes, os.PathLike or an object with its own __str__), "
                 "not %.100s", Py_TYPE(o)->tp_name);
    return 0;
}

/* The same path as a str (decoded as the file system encodes names). */
PyObject *krec_path_str(PyObject *o) {
    PyObject *b = NULL;
    if (!krec_path_converter(o, &b)) return NULL;
    PyObject *s = PyUnicode_DecodeFSDefaultAndSize(PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b));
    Py_DECREF(b);
    return s;
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

