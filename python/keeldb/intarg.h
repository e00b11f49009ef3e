/*
 * intarg.h: integer arguments for both extensions (keeldb._keeldb and keeldb._records),
 * checked instead of truncated. PyArg_Parse's "I", "K" and friends wrap silently (2**32
 * becomes 0, -1 becomes 2**64-1) and PyLong_AsLong into a uint32_t cuts bits; every integer
 * a user passes goes through keeldb_int_arg instead, so that a value outside what the C
 * field holds, or below the smallest value that makes sense, raises an exception naming the
 * argument and the accepted range. In particular 0 is never silently read as "the default":
 * the caller passes a minimum of 1 where the C API gives 0 that meaning.
 *
 * Header-only (static inline) because each extension is its own module with hidden symbols.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef KEELDB_INTARG_H
#define KEELDB_INTARG_H

#include <Python.h>

#include <limits.h>
#include <stdint.h>

/* Convert `o` (an int, or any object with __index__) to an integer in [min, max] and store
 * it in *out. TypeError for a non-integer (bool included: a flag is never a count),
 * ValueError below `min`, OverflowError above `max`; every message names `name`. 0 or -1. */
static inline int
keeldb_int_arg(PyObject *o, const char *name, long long min, unsigned long long max,
               unsigned long long *out)
{
    if (PyBool_Check(o) || !PyIndex_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int, not %.100s", name,
                     Py_TYPE(o)->tp_name);
        return -1;
    }
    PyObject *v = PyNumber_Index(o);
    if (v == NULL)
        return -1;
    int overflow = 0;
    long long s = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (s == -1 && PyErr_Occurred()) {
        Py_DECREF(v);
        return -1;
    }
    unsigned long long u = 0;
    if (overflow > 0) {
        u = PyLong_AsUnsignedLongLong(v);
        if (u == (unsigned long long)-1 && PyErr_Occurred())
            PyErr_Clear();  /* beyond 64 bits: above any max */
        else if (u <= max)
            goto done;
    } else if (overflow < 0 || s < min) {
        PyErr_Format(PyExc_ValueError, "%s must be at least %lld, not %R", name, min, v);
        Py_DECREF(v);
        return -1;
    } else if (s < 0 || (unsigned long long)s <= max) {
        u = (unsigned long long)s;  /* a negative value is stored in two's complement */
        goto done;
    }
    PyErr_Format(PyExc_OverflowError, "%s must be at most %llu, not %R", name, max, v);
    Py_DECREF(v);
    return -1;
done:
    Py_DECREF(v);
    *out = u;
    return 0;
}

#endif /* KEELDB_INTARG_H */
