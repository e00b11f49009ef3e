/*
 * args.c: argument helpers: bytes-like arguments borrowed without a copy (barg: a
 * bytes object directly, anything else through a Py_buffer that barg_release gives back)
 * and a METH_FASTCALL | METH_KEYWORDS parser for the methods' few named parameters, with
 * CPython's own TypeError messages.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common.h"

int
kdb_barg_get(PyObject *o, barg *a, const char *what)
{
    if (PyBytes_Check(o)) {
        a->buf = PyBytes_AS_STRING(o);
        a->len = PyBytes_GET_SIZE(o);
        a->has_view = 0;
        return 0;
    }
    if (PyObject_CheckBuffer(o)) {
        if (PyObject_GetBuffer(o, &a->view, PyBUF_SIMPLE) < 0)
            return -1;
        a->buf = (const char *)a->view.buf;
        a->len = a->view.len;
        a->has_view = 1;
        return 0;
    }
    a->has_view = 0;
    PyErr_Format(PyExc_TypeError, "%s must be a bytes-like object, not '%.200s'", what,
                 Py_TYPE(o)->tp_name);
    return -1;
}

/* METH_FASTCALL | METH_KEYWORDS parsing without the generic parser's cost on the common
 * all-positional call. out[] receives borrowed references, NULL for absent optionals. */
int
kdb_parse_args(const char *fname, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
               const char *const *names, Py_ssize_t nreq, Py_ssize_t nmax, PyObject **out)
{
    if (nargs > nmax) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most %zd positional argument%s (%zd given)",
                     fname, nmax, nmax == 1 ? "" : "s", nargs);
        return -1;
    }
    Py_ssize_t i;
    for (i = 0; i < nmax; i++)
        out[i] = i < nargs ? args[i] : NULL;
    if (kwnames != NULL) {
        Py_ssize_t nkw = PyTuple_GET_SIZE(kwnames);
        for (Py_ssize_t k = 0; k < nkw; k++) {
            PyObject *name = PyTuple_GET_ITEM(kwnames, k);
            Py_ssize_t j;
            for (j = 0; j < nmax; j++)
                if (PyUnicode_CompareWithASCIIString(name, names[j]) == 0)
                    break;
            if (j == nmax) {
                PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'",
                             fname, name);
                return -1;
            }
            if (out[j] != NULL) {
                PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'",
                             fname, names[j]);
                return -1;
            }
            out[j] = args[nargs + k];
        }
    }
    for (i = 0; i < nreq; i++) {
        if (out[i] == NULL) {
            PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s' (pos %zd)",
                         fname, names[i], i + 1);
            return -1;
        }
    }
    return 0;
}
