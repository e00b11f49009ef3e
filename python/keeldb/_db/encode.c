/*
 * encode.c: Python values -> CBOR, the form items cross keel_db.h in (docs/DATABASE.md,
 * "Values"; docs/FORMAT.md byte by byte). One recursive walk appends to a kdp_buf.
 *
 * The heads are written by hand: a CBOR head is one byte, or one byte and a 1/2/4/8-byte
 * big-endian argument. libcbor's cbor_encode_* write the same bytes into a caller's buffer
 * but report a full buffer after the fact; kdp_put_head grows ours first and writes
 * inline, which is simpler here (and libcbor's item builders would allocate a tree we
 * would throw away). Mapping:
 *   str -> text; bytes/bytearray/memoryview -> byte string; bool -> true/false;
 *   None -> null; int -> major 0/1, or bignum (tags 2/3) past 64 bits; float -> float64
 *   always (so 1.0 stays a float and -0.0 keeps its sign); Decimal -> tag 4 [exp, mant];
 *   list/tuple -> array; dict with str keys -> map; set/frozenset -> tag 258 [elements];
 *   float32 1-D numpy array or keeldb.Vector -> tag 85 (float32 LE) around a byte string.
 * Anything else raises UnsupportedTypeError (a TypeError and a ValueError). NaN and
 * infinities raise ValueError. DynamoDB's own rules (38 digits, sizes, nesting, sets of one
 * type without duplicates) are the library's to check (KEEL_EVALIDATION); the walk stops
 * only at CONVERT_MAX_DEPTH, against cycles.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common.h"

#include <math.h>

enum { M_UINT = 0, M_NEG = 1, M_BYTES = 2, M_TEXT = 3, M_ARRAY = 4, M_MAP = 5, M_TAG = 6,
       M_SIMPLE = 7 };

static int
buf_grow(kdp_buf *b, size_t need)
{
    if (need <= b->cap - b->len)
        return 0;
    size_t cap = b->cap * 2;
    while (cap - b->len < need) {
        if (cap > ((size_t)PY_SSIZE_T_MAX) / 2) {
            PyErr_NoMemory();
            return -1;
        }
        cap *= 2;
    }
    uint8_t *p;
    if (b->p == b->small) {
        p = PyMem_Malloc(cap);
        if (p != NULL)
            memcpy(p, b->small, b->len);
    } else {
        p = PyMem_Realloc(b->p, cap);
    }
    if (p == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

int
kdp_put_head(kdp_buf *b, unsigned major, uint64_t arg)
{
    if (buf_grow(b, 9) < 0)
        return -1;
    uint8_t *p = b->p + b->len;
    uint8_t mt = (uint8_t)(major << 5);
    if (arg < 24) {
        p[0] = (uint8_t)(mt | arg);
        b->len += 1;
    } else if (arg <= 0xff) {
        p[0] = mt | 24;
        p[1] = (uint8_t)arg;
        b->len += 2;
    } else if (arg <= 0xffff) {
        p[0] = mt | 25;
        p[1] = (uint8_t)(arg >> 8);
        p[2] = (uint8_t)arg;
        b->len += 3;
    } else if (arg <= 0xffffffffu) {
        p[0] = mt | 26;
        for (int i = 0; i < 4; i++)
            p[1 + i] = (uint8_t)(arg >> (24 - 8 * i));
        b->len += 5;
    } else {
        p[0] = mt | 27;
        for (int i = 0; i < 8; i++)
            p[1 + i] = (uint8_t)(arg >> (56 - 8 * i));
        b->len += 9;
    }
    return 0;
}

static int
put_bytes(kdp_buf *b, unsigned major, const void *data, size_t n)
{
    if (kdp_put_head(b, major, n) < 0 || buf_grow(b, n) < 0)
        return -1;
    if (n)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    return 0;
}

static int
put_double(kdp_buf *b, double d)
{
    if (buf_grow(b, 9) < 0)
        return -1;
    uint64_t u;
    memcpy(&u, &d, 8);
    uint8_t *p = b->p + b->len;
    p[0] = 0xfb;
    for (int i = 0; i < 8; i++)
        p[1 + i] = (uint8_t)(u >> (56 - 8 * i));
    b->len += 9;
    return 0;
}

static int
unsupported(kdp_state *st, PyObject *v, const char *what, const char *why)
{
    PyErr_Format(st->UnsupportedTypeError,
                 "%s: unsupported type '%.200s'%s%s", what, Py_TYPE(v)->tp_name,
                 why ? ": " : "", why ? why : "");
    return -1;
}

/* An int of any size: major 0/1 within 64 bits, else a bignum (tag 2, or tag 3 of -1-n). */
static int
put_int(kdp_buf *b, PyObject *v)
{
    int overflow = 0;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (x == -1 && PyErr_Occurred())
        return -1;
    if (!overflow)
        return x >= 0 ? kdp_put_head(b, M_UINT, (uint64_t)x)
                      : kdp_put_head(b, M_NEG, (uint64_t)(-1 - x));
    if (overflow > 0) {
        unsigned long long u = PyLong_AsUnsignedLongLong(v);
        if (!(u == (unsigned long long)-1 && PyErr_Occurred()))
            return kdp_put_head(b, M_UINT, u);
        PyErr_Clear();
    }
    /* Magnitude: n for tag 2, -1-n for tag 3, as big-endian bytes. */
    PyObject *mag = overflow > 0 ? Py_NewRef(v) : PyNumber_Invert(v); /* ~n == -1-n */
    if (mag == NULL)
        return -1;
    if (overflow < 0) {
        /* -1-n fits in 64 bits when n >= -2^64: major 1. */
        unsigned long long u = PyLong_AsUnsignedLongLong(mag);
        if (!(u == (unsigned long long)-1 && PyErr_Occurred())) {
            Py_DECREF(mag);
            return kdp_put_head(b, M_NEG, u);
        }
        PyErr_Clear();
    }
    int r = -1;
    PyObject *bits = NULL, *raw = NULL;
    /* int.to_bytes rather than the private _PyLong_AsByteArray: bignums are rare. */
    bits = PyObject_CallMethod(mag, "bit_length", NULL);
    if (bits == NULL)
        goto out;
    Py_ssize_t nbytes = (PyLong_AsSsize_t(bits) + 7) / 8;
    if (nbytes < 0 && PyErr_Occurred())
        goto out;
    raw = PyObject_CallMethod(mag, "to_bytes", "ns", nbytes, "big");
    if (raw == NULL || !PyBytes_Check(raw))
        goto out;
    if (kdp_put_head(b, M_TAG, overflow > 0 ? 2 : 3) < 0 ||
        put_bytes(b, M_BYTES, PyBytes_AS_STRING(raw), (size_t)PyBytes_GET_SIZE(raw)) < 0)
        goto out;
    r = 0;
out:
    Py_XDECREF(bits);
    Py_XDECREF(raw);
    Py_DECREF(mag);
    return r;
}

static int
load_decimal(kdp_state *st)
{
    if (st->Decimal != NULL)
        return 0;
    PyObject *m = PyImport_ImportModule("decimal");
    if (m == NULL)
        return -1;
    st->Decimal = PyObject_GetAttrString(m, "Decimal");
    Py_DECREF(m);
    return st->Decimal ? 0 : -1;
}

/* Decimal -> tag 4 [exponent, mantissa]: Decimal("1.50") is [-2, 150], kept as written.
 * Read from str(d) (the C decimal's own formatting, "-1.50", "1.5E+7", "NaN"), which costs
 * a third of going through as_tuple() and its tuple of digit ints. */
static int
put_decimal(kdp_state *st, kdp_buf *b, PyObject *v, const char *what)
{
    (void)st;
    PyObject *txt = PyObject_Str(v);
    if (txt == NULL)
        return -1;
    int r = -1;
    PyObject *mant = NULL;
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(txt, &n);
    if (s == NULL)
        goto out;
    char small[64], *digits = n + 2 <= (Py_ssize_t)sizeof small ? small : PyMem_Malloc(n + 2);
    if (digits == NULL) {
        PyErr_NoMemory();
        goto out;
    }
    Py_ssize_t i = 0, nd = 0;
    long long exp = 0, frac = 0;
    int neg = 0, ok = 1, seen_dot = 0;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    for (; i < n && s[i] != 'E' && s[i] != 'e'; i++) {
        if (s[i] == '.' && !seen_dot) {
            seen_dot = 1;
        } else if (s[i] >= '0' && s[i] <= '9') {
            digits[nd++] = s[i];
            frac += seen_dot;
        } else {
            ok = 0;     /* NaN, sNaN, Infinity */
            break;
        }
    }
    if (ok && i < n) {  /* the exponent: E[+-]digits */
        i++;
        int eneg = i < n && s[i] == '-';
        if (i < n && (s[i] == '-' || s[i] == '+'))
            i++;
        if (i == n)
            ok = 0;
        for (; ok && i < n; i++) {
            if (s[i] < '0' || s[i] > '9' || exp > 100000000)
                ok = 0;
            else
                exp = exp * 10 + (s[i] - '0');
        }
        if (eneg)
            exp = -exp;
    }
    if (!ok || nd == 0) {
        if (digits != small)
            PyMem_Free(digits);
        PyErr_Format(PyExc_ValueError, "%s: %R is not a number DynamoDB can store (no NaN or "
                     "infinity)", what, v);
        goto out;
    }
    exp -= frac;
    if (kdp_put_head(b, M_TAG, 4) < 0 || kdp_put_head(b, M_ARRAY, 2) < 0 ||
        (exp >= 0 ? kdp_put_head(b, M_UINT, (uint64_t)exp)
                  : kdp_put_head(b, M_NEG, (uint64_t)(-1 - exp))) < 0) {
        if (digits != small)
            PyMem_Free(digits);
        goto out;
    }
    if (nd <= 18) {             /* fits in 64 bits: no Python int */
        uint64_t m = 0;
        for (Py_ssize_t k = 0; k < nd; k++)
            m = m * 10 + (uint64_t)(digits[k] - '0');
        if (digits != small)
            PyMem_Free(digits);
        r = neg && m != 0 ? kdp_put_head(b, M_NEG, m - 1) : kdp_put_head(b, M_UINT, m);
        goto out;
    }
    digits[nd] = '\0';
    mant = PyLong_FromString(digits, NULL, 10);
    if (digits != small)
        PyMem_Free(digits);
    if (mant == NULL)
        goto out;
    if (neg) {
        PyObject *m2 = PyNumber_Negative(mant);
        Py_SETREF(mant, m2);
        if (mant == NULL)
            goto out;
    }
    r = put_int(b, mant);
out:
    Py_XDECREF(mant);
    Py_DECREF(txt);
    return r;
}

/* Is `tp` numpy.ndarray or a subclass of it? (By name: numpy need not be imported.) */
static int
is_ndarray(PyTypeObject *tp)
{
    for (; tp != NULL; tp = tp->tp_base)
        if (strcmp(tp->tp_name, "numpy.ndarray") == 0)
            return 1;
    return 0;
}

/* A float32 1-D array (numpy, or anything exporting format "f" with one dimension, such as
 * a Vector) -> tag 85 around its little-endian bytes. Strided arrays are gathered. */
static int
put_vector(kdp_state *st, kdp_buf *b, PyObject *v, const char *what)
{
    Py_buffer view;
    if (PyObject_GetBuffer(v, &view, PyBUF_RECORDS_RO) < 0)
        return -1;
    int r = -1;
    const char *f = view.format ? view.format : "B";
    int is_f32 = view.itemsize == 4 &&
                 (strcmp(f, "f") == 0 || strcmp(f, "<f") == 0 || strcmp(f, "=f") == 0);
    if (view.ndim != 1 || !is_f32) {
        PyErr_Format(st->UnsupportedTypeError,
                     "%s: unsupported array (format '%s', %d dimension%s): only 1-D float32 "
                     "arrays are vectors", what, f, view.ndim, view.ndim == 1 ? "" : "s");
        goto out;
    }
    Py_ssize_t n = view.shape[0];
    size_t nbytes = (size_t)n * 4;
    if (kdp_put_head(b, M_TAG, 85) < 0 || kdp_put_head(b, M_BYTES, nbytes) < 0 ||
        buf_grow(b, nbytes) < 0)
        goto out;
    uint8_t *dst = b->p + b->len;
    Py_ssize_t stride = view.strides ? view.strides[0] : 4;
    if (stride == 4) {
        memcpy(dst, view.buf, nbytes);
    } else {
        for (Py_ssize_t i = 0; i < n; i++)
            memcpy(dst + 4 * i, (const char *)view.buf + i * stride, 4);
    }
#if PY_BIG_ENDIAN
    for (size_t i = 0; i < nbytes; i += 4) {
        uint8_t t0 = dst[i], t1 = dst[i + 1];
        dst[i] = dst[i + 3], dst[i + 1] = dst[i + 2], dst[i + 2] = t1, dst[i + 3] = t0;
    }
#endif
    b->len += nbytes;
    r = 0;
out:
    PyBuffer_Release(&view);
    return r;
}

static int encode(kdp_state *st, kdp_buf *b, PyObject *v, const char *what, int depth);

static int
put_text(kdp_buf *b, PyObject *s)
{
    Py_ssize_t n;
    const char *u = PyUnicode_AsUTF8AndSize(s, &n);
    if (u == NULL)
        return -1;
    return put_bytes(b, M_TEXT, u, (size_t)n);
}

static int
put_map(kdp_state *st, kdp_buf *b, PyObject *d, const char *what, int depth, int names_only)
{
    Py_ssize_t n = PyDict_GET_SIZE(d), pos = 0, seen = 0;
    if (kdp_put_head(b, M_MAP, (uint64_t)n) < 0)
        return -1;
    PyObject *k, *val;
    while (PyDict_Next(d, &pos, &k, &val)) {
        if (!PyUnicode_Check(k)) {
            PyErr_Format(st->UnsupportedTypeError,
                         "%s: attribute names must be str, not '%.200s'", what,
                         Py_TYPE(k)->tp_name);
            return -1;
        }
        if (++seen > n)
            break;
        Py_INCREF(k);
        Py_INCREF(val);
        int r = put_text(b, k);
        if (r == 0) {
            if (names_only) {
                if (!PyUnicode_Check(val)) {
                    PyErr_Format(PyExc_TypeError, "%s: %R must map to a str, not '%.200s'",
                                 what, k, Py_TYPE(val)->tp_name);
                    r = -1;
                } else {
                    r = put_text(b, val);
                }
            } else {
                r = encode(st, b, val, what, depth + 1);
            }
        }
        Py_DECREF(k);
        Py_DECREF(val);
        if (r < 0)
            return -1;
    }
    if (seen != n || PyDict_GET_SIZE(d) != n) {
        PyErr_Format(PyExc_RuntimeError, "%s: dictionary changed size during encoding", what);
        return -1;
    }
    return 0;
}

static int
put_seq(kdp_state *st, kdp_buf *b, PyObject *seq, const char *what, int depth)
{
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (kdp_put_head(b, M_ARRAY, (uint64_t)n) < 0)
        return -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (i >= PySequence_Fast_GET_SIZE(seq)) {
            PyErr_Format(PyExc_RuntimeError, "%s: list changed size during encoding", what);
            return -1;
        }
        PyObject *e = Py_NewRef(PySequence_Fast_GET_ITEM(seq, i));
        int r = encode(st, b, e, what, depth + 1);
        Py_DECREF(e);
        if (r < 0)
            return -1;
    }
    if (PySequence_Fast_GET_SIZE(seq) != n) {
        PyErr_Format(PyExc_RuntimeError, "%s: list changed size during encoding", what);
        return -1;
    }
    return 0;
}

/* A set or frozenset -> tag 258 around an array. Elements must be strings, numbers or
 * bytes; that they share one type (SS, NS or BS) is the library's rule to check. */
static int
put_set(kdp_state *st, kdp_buf *b, PyObject *s, const char *what, int depth)
{
    PyObject *items = PySequence_List(s);
    if (items == NULL)
        return -1;
    int r = -1;
    Py_ssize_t n = PyList_GET_SIZE(items);
    if (kdp_put_head(b, M_TAG, 258) < 0 || kdp_put_head(b, M_ARRAY, (uint64_t)n) < 0)
        goto out;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *e = PyList_GET_ITEM(items, i);
        if (PyBool_Check(e) || PyList_Check(e) || PyTuple_Check(e) || PyDict_Check(e) ||
            PyAnySet_Check(e) || e == Py_None) {
            PyErr_Format(st->UnsupportedTypeError,
                         "%s: set elements must be str, numbers or bytes, not '%.200s'", what,
                         Py_TYPE(e)->tp_name);
            goto out;
        }
        if (encode(st, b, e, what, depth + 1) < 0)
            goto out;
    }
    r = 0;
out:
    Py_DECREF(items);
    return r;
}

static int
encode(kdp_state *st, kdp_buf *b, PyObject *v, const char *what, int depth)
{
    if (depth > CONVERT_MAX_DEPTH) {
        PyErr_Format(st->ValidationError,
                     "%s: nested deeper than %d levels (a cycle?); the limit is %u", what,
                     CONVERT_MAX_DEPTH, (unsigned)KEEL_DB_MAX_DEPTH);
        return -1;
    }
    PyTypeObject *tp = Py_TYPE(v);
    if (PyUnicode_Check(v))
        return put_text(b, v);
    if (v == Py_True || v == Py_False) {
        if (buf_grow(b, 1) < 0)
            return -1;
        b->p[b->len++] = v == Py_True ? 0xf5 : 0xf4;
        return 0;
    }
    if (v == Py_None) {
        if (buf_grow(b, 1) < 0)
            return -1;
        b->p[b->len++] = 0xf6;
        return 0;
    }
    if (PyLong_Check(v))
        return put_int(b, v);
    if (PyFloat_Check(v)) {
        double d = PyFloat_AS_DOUBLE(v);
        if (!isfinite(d)) {
            PyErr_Format(PyExc_ValueError, "%s: %R is not a number DynamoDB can store (no NaN "
                         "or infinity)", what, v);
            return -1;
        }
        return put_double(b, d);
    }
    if (PyDict_Check(v))
        return put_map(st, b, v, what, depth, 0);
    if (PyList_Check(v) || PyTuple_Check(v))
        return put_seq(st, b, v, what, depth);
    if (PyBytes_Check(v))
        return put_bytes(b, M_BYTES, PyBytes_AS_STRING(v), (size_t)PyBytes_GET_SIZE(v));
    if (PyByteArray_Check(v) || PyMemoryView_Check(v)) {
        Py_buffer view;
        if (PyObject_GetBuffer(v, &view, PyBUF_SIMPLE) < 0)
            return -1;
        int r = put_bytes(b, M_BYTES, view.buf, (size_t)view.len);
        PyBuffer_Release(&view);
        return r;
    }
    if (PyAnySet_Check(v))
        return put_set(st, b, v, what, depth);
    if (tp == st->Vector_type || PyType_IsSubtype(tp, st->Vector_type) || is_ndarray(tp))
        return put_vector(st, b, v, what);
    if (load_decimal(st) < 0)
        return -1;
    int isdec = (PyObject *)tp == st->Decimal ? 1 : PyObject_IsInstance(v, st->Decimal);
    if (isdec < 0)
        return -1;
    if (isdec)
        return put_decimal(st, b, v, what);
    if (PyIndex_Check(v)) {     /* numpy integers and other int-likes */
        PyObject *i = PyNumber_Index(v);
        if (i == NULL)
            return -1;
        int r = put_int(b, i);
        Py_DECREF(i);
        return r;
    }
    return unsupported(st, v, what, "use str, bytes, bool, None, int, float, Decimal, list, "
                       "dict, set or a float32 vector");
}

int
kdp_encode_value(kdp_state *st, kdp_buf *b, PyObject *v, const char *what)
{
    return encode(st, b, v, what, 0);
}

int
kdp_encode_item(kdp_state *st, kdp_buf *b, PyObject *v, const char *what)
{
    if (!PyDict_Check(v)) {
        PyErr_Format(PyExc_TypeError, "%s must be a dict of attribute names to values, not "
                     "'%.200s'", what, Py_TYPE(v)->tp_name);
        return -1;
    }
    return put_map(st, b, v, what, 0, 0);
}

int
kdp_encode_placeholders(kdp_state *st, kdp_buf *b, PyObject *v, const char *what, int names)
{
    if (!PyDict_Check(v)) {
        PyErr_Format(PyExc_TypeError, "%s must be a dict, not '%.200s'", what,
                     Py_TYPE(v)->tp_name);
        return -1;
    }
    return put_map(st, b, v, what, 0, names);
}
