/*
 * _plan.c: keeldb._plan, the C calls behind keeldb.splits (parallel reads on distributed
 * engines). Separate from _keeldb and _records on purpose: it needs only a few public
 * keel calls, no types of its own, and its users are pure Python (keeldb/splits.py).
 *
 *   chunks(path, recover)           the record chunks of a record file as
 *                                   (from_footer, [(offset, first_index, num_records,
 *                                   decoded_size), ...]): keel_rec_reader_chunks, from the
 *                                   ArrayRecord footer when there is one
 *   store_scan_open(path)           a capsule holding a read-only keel_store and one
 *                                   keel_iter snapshot (live entries in file order)
 *   store_scan_info(scan)           (entries in the snapshot, committed file size, bytes of
 *                                   the live entries)
 *   store_scan_batch(scan, a, b)    [(key, value), ...] for snapshot entries a..b-1, copied
 *   store_scan_close(scan)          free both now (the capsule's destructor does it too)
 *
 * Errors are OSError(status, detail) with keel's negative status as errno; splits.py maps
 * them to keeldb's exception classes. The GIL is released around opening, the iterator
 * snapshot and the chunk list (file I/O), not around the copies of one batch.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdlib.h>

#include "keel.h"
#include "keel_records.h"

static PyObject *raise_status(keel_status st) {
    if (st == KEEL_ENOMEM) return PyErr_NoMemory();
    const char *msg = keel_errmsg();
    if (!msg[0]) msg = keel_strerror(st);
    PyObject *args = Py_BuildValue("(is)", (int)st, msg);
    if (args) {
        PyErr_SetObject(PyExc_OSError, args);
        Py_DECREF(args);
    }
    return NULL;
}

/* ---- record files ---------------------------------------------------------------------- */

static PyObject *plan_chunks(PyObject *mod, PyObject *args) {
    (void)mod;
    PyObject *path = NULL;
    int recover = 0;
    if (!PyArg_ParseTuple(args, "O&p:chunks", PyUnicode_FSConverter, &path, &recover))
        return NULL;
    keel_rec_reader_options o = KEEL_REC_READER_OPTIONS_INIT;
    o.corruption = recover ? KEEL_REC_RECOVER : KEEL_REC_ERROR;
    keel_rec_reader *r = NULL;
    keel_rec_chunk_info *info = NULL;
    size_t n = 0, cap = 0;
    int footer = 0;
    keel_status st;
    Py_BEGIN_ALLOW_THREADS
    st = keel_rec_reader_open(PyBytes_AS_STRING(path), &o, &r);
    if (!st) st = keel_rec_reader_chunks(r, NULL, 0, &n, &footer);
    if (!st && n) {
        info = malloc(n * sizeof *info);
        if (!info) st = KEEL_ENOMEM;
        else cap = n;
    }
    if (!st && cap) st = keel_rec_reader_chunks(r, info, cap, &n, &footer);
    Py_END_ALLOW_THREADS
    Py_DECREF(path);
    PyObject *list = NULL;
    if (st) {
        raise_status(st);
        goto done;
    }
    if (n > cap) n = cap;   /* cannot happen: the file was opened once */
    list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list && i < n; i++) {
        PyObject *t = Py_BuildValue("(KKKK)", (unsigned long long)info[i].offset,
                                    (unsigned long long)info[i].first_index,
                                    (unsigned long long)info[i].num_records,
                                    (unsigned long long)info[i].decoded_size);
        if (!t) Py_CLEAR(list);
        else PyList_SET_ITEM(list, (Py_ssize_t)i, t);
    }
done:
    free(info);
    if (r) {
        Py_BEGIN_ALLOW_THREADS
        keel_rec_reader_close(r);
        Py_END_ALLOW_THREADS
    }
    if (!list) return NULL;
    PyObject *res = Py_BuildValue("(ON)", footer ? Py_True : Py_False, list);
    return res;
}

/* ---- stores ------------------------------------------------------------------------------ */

#define SCAN_NAME "keeldb._plan.scan"

typedef struct scan {
    keel_store *s;
    keel_iter *it;
} scan;

static void scan_free(scan *sc) {
    if (!sc) return;
    keel_iter_free(sc->it);
    keel_free(sc->s);
    free(sc);
}

static void scan_destructor(PyObject *cap) {
    scan_free(PyCapsule_GetPointer(cap, SCAN_NAME));
}

static scan *get_scan(PyObject *cap) {
    scan *sc = PyCapsule_GetPointer(cap, SCAN_NAME);
    if (sc && !sc->s) {
        PyErr_SetString(PyExc_ValueError, "I/O operation on closed store scan");
        return NULL;
    }
    return sc;
}

static PyObject *plan_scan_open(PyObject *mod, PyObject *arg) {
    (void)mod;
    PyObject *path = NULL;
    if (!PyUnicode_FSConverter(arg, &path)) return NULL;
    scan *sc = calloc(1, sizeof *sc);
    if (!sc) {
        Py_DECREF(path);
        return PyErr_NoMemory();
    }
    keel_options o = KEEL_OPTIONS_INIT;
    o.mode = KEEL_OPEN_READONLY;
    keel_status st;
    Py_BEGIN_ALLOW_THREADS
    st = keel_open(PyBytes_AS_STRING(path), &o, &sc->s);
    if (!st) st = keel_iter_new(sc->s, &sc->it);
    Py_END_ALLOW_THREADS
    Py_DECREF(path);
    if (st) {
        raise_status(st);
        scan_free(sc);
        return NULL;
    }
    PyObject *cap = PyCapsule_New(sc, SCAN_NAME, scan_destructor);
    if (!cap) scan_free(sc);
    return cap;
}

static PyObject *plan_scan_info(PyObject *mod, PyObject *cap) {
    (void)mod;
    scan *sc = get_scan(cap);
    if (!sc) return NULL;
    keel_stats stats;
    keel_status st = keel_stat(sc->s, &stats);
    if (st) return raise_status(st);
    return Py_BuildValue("(nKK)", (Py_ssize_t)keel_iter_len(sc->it),
                         (unsigned long long)stats.file_size,
                         (unsigned long long)stats.live_bytes);
}

static PyObject *plan_scan_batch(PyObject *mod, PyObject *args) {
    (void)mod;
    PyObject *cap;
    Py_ssize_t a, b;
    if (!PyArg_ParseTuple(args, "Onn:store_scan_batch", &cap, &a, &b)) return NULL;
    scan *sc = get_scan(cap);
    if (!sc) return NULL;
    Py_ssize_t len = (Py_ssize_t)keel_iter_len(sc->it);
    if (a < 0 || b < a || b > len) {
        PyErr_Format(PyExc_IndexError, "entries %zd..%zd are outside the snapshot of %zd "
                     "entries", a, b, len);
        return NULL;
    }
    PyObject *list = PyList_New(b - a);
    for (Py_ssize_t i = a; list && i < b; i++) {
        keel_view k, v;
        keel_status st = keel_iter_at(sc->it, (size_t)i, &k, &v);
        if (st) {
            Py_CLEAR(list);
            return raise_status(st);
        }
        PyObject *t = Py_BuildValue("(y#y#)", (const char *)k.data, (Py_ssize_t)k.len,
                                    (const char *)v.data, (Py_ssize_t)v.len);
        if (!t) Py_CLEAR(list);
        else PyList_SET_ITEM(list, i - a, t);
    }
    return list;
}

static PyObject *plan_scan_close(PyObject *mod, PyObject *cap) {
    (void)mod;
    scan *sc = PyCapsule_GetPointer(cap, SCAN_NAME);
    if (!sc) return NULL;
    keel_iter_free(sc->it);
    sc->it = NULL;
    keel_store *s = sc->s;
    sc->s = NULL;
    Py_BEGIN_ALLOW_THREADS
    keel_free(s);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyMethodDef plan_methods[] = {
    {"chunks", plan_chunks, METH_VARARGS,
     "chunks(path, recover, /) -> (from_footer, [(offset, first_index, num_records, "
     "decoded_size), ...])"},
    {"store_scan_open", plan_scan_open, METH_O,
     "store_scan_open(path, /) -> scan: a read-only store and a snapshot of its live entries"},
    {"store_scan_info", plan_scan_info, METH_O,
     "store_scan_info(scan, /) -> (entries, file_size, live_bytes)"},
    {"store_scan_batch", plan_scan_batch, METH_VARARGS,
     "store_scan_batch(scan, start, stop, /) -> [(key, value), ...]"},
    {"store_scan_close", plan_scan_close, METH_O, "store_scan_close(scan, /) -> None"},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot plan_slots[] = {
#ifdef Py_mod_multiple_interpreters
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
    {0, NULL},
};

static struct PyModuleDef plan_module = {
    PyModuleDef_HEAD_INIT, "keeldb._plan",
    "C calls behind keeldb.splits: record chunk lists and store scans.", 0, plan_methods,
    plan_slots, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__plan(void);

PyMODINIT_FUNC PyInit__plan(void) { return PyModuleDef_Init(&plan_module); }
