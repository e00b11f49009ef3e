/*
 * bytes.c: Bytes, one record, zero copy. It holds a reference on its C chunk
 * (keel_rec_chunk_retain: an atomic refcount, not a Python object), so it stays valid after
 * its reader is closed; the chunk is released in dealloc. It exports the buffer protocol
 * read-only and behaves like `bytes` otherwise (comparison, hash, slicing, +, *, and
 * every read-only method of bytes, applied to a copy).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common.h"

/* ---- Bytes ------------------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    keel_rec_chunk *chunk;
    const uint8_t *data;
    Py_ssize_t len;
    Py_hash_t hash;
} BytesObject;

/* A new Bytes for `rec`, retaining its chunk. */
PyObject *krec_bytes_new_from(PyTypeObject *tp, const keel_rec_record *rec) {
    BytesObject *b = PyObject_New(BytesObject, tp);
    if (!b) return NULL;
    keel_rec_chunk_retain(rec->chunk);
    b->chunk = rec->chunk;
    b->data = rec->data;
    b->len = (Py_ssize_t)rec->len;
    b->hash = -1;
    return (PyObject *)b;
}

static void Bytes_dealloc(BytesObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    keel_rec_chunk_release(self->chunk);
    PyObject_Free(self);
    Py_DECREF(tp);
}

static PyObject *Bytes_to_bytes(BytesObject *self, PyObject *Py_UNUSED(ignored)) {
    return PyBytes_FromStringAndSize((const char *)self->data, self->len);
}

static int Bytes_getbuffer(BytesObject *self, Py_buffer *view, int flags) {
    return PyBuffer_FillInfo(view, (PyObject *)self, (void *)self->data, self->len, 1, flags);
}

static Py_ssize_t Bytes_length(BytesObject *self) { return self->len; }

static PyObject *Bytes_richcompare(PyObject *a, PyObject *b, int op) {
    Py_buffer va, vb;
    if (PyUnicode_Check(b) || PyUnicode_Check(a)) Py_RETURN_NOTIMPLEMENTED;
    if (PyObject_GetBuffer(a, &va, PyBUF_SIMPLE) < 0) {
        PyErr_Clear();
        Py_RETURN_NOTIMPLEMENTED;
    }
    if (PyObject_GetBuffer(b, &vb, PyBUF_SIMPLE) < 0) {
        PyErr_Clear();
        PyBuffer_Release(&va);
        Py_RETURN_NOTIMPLEMENTED;
    }
    Py_ssize_t n = va.len < vb.len ? va.len : vb.len;
    int c = n ? memcmp(va.buf, vb.buf, (size_t)n) : 0;
    if (c == 0) c = va.len < vb.len ? -1 : va.len > vb.len ? 1 : 0;
    PyBuffer_Release(&va);
    PyBuffer_Release(&vb);
    Py_RETURN_RICHCOMPARE(c, 0, op);
}

static Py_hash_t Bytes_hash(BytesObject *self) {
    if (self->hash != -1) return self->hash;
    /* Equal to hash(bytes(self)), as == with bytes requires. */
    PyObject *b = Bytes_to_bytes(self, NULL);
    if (!b) return -1;
    self->hash = PyObject_Hash(b);
    Py_DECREF(b);
    return self->hash;
}

static PyObject *Bytes_repr(BytesObject *self) {
    PyObject *b = Bytes_to_bytes(self, NULL);
    if (!b) return NULL;
    PyObject *r = PyUnicode_FromFormat("Bytes(%R)", b);
    Py_DECREF(b);
    return r;
}

static PyObject *Bytes_subscript(BytesObject *self, PyObject *key) {
    if (PyIndex_Check(key)) {
        Py_ssize_t i = PyNumber_AsSsize_t(key, PyExc_IndexError);
        if (i == -1 && PyErr_Occurred()) return NULL;
        if (i < 0) i += self->len;
        if (i < 0 || i >= self->len) {
            PyErr_SetString(PyExc_IndexError, "index out of range");
            return NULL;
        }
        return PyLong_FromLong(self->data[i]);
    }
    PyObject *b = Bytes_to_bytes(self, NULL);
    if (!b) return NULL;
    PyObject *r = PyObject_GetItem(b, key);
    Py_DECREF(b);
    return r;
}

static int Bytes_contains(BytesObject *self, PyObject *x) {
    PyObject *b = Bytes_to_bytes(self, NULL);
    if (!b) return -1;
    int r = PySequence_Contains(b, x);
    Py_DECREF(b);
    return r;
}

static PyObject *as_bytes(PyObject *o) {
    return PyBytes_FromObject(o);
}

static PyObject *Bytes_add(PyObject *a, PyObject *b) {
    PyObject *x = as_bytes(a);
    if (!x) {
        PyErr_Clear();
        Py_RETURN_NOTIMPLEMENTED;
    }
    PyObject *y = as_bytes(b);
    if (!y) {
        PyErr_Clear();
        Py_DECREF(x);
        Py_RETURN_NOTIMPLEMENTED;
    }
    PyBytes_ConcatAndDel(&x, y);
    return x;
}

static PyObject *Bytes_mul(PyObject *a, PyObject *n) {
    PyObject *x = as_bytes(PyLong_Check(a) ? n : a);
    if (!x) return NULL;
    PyObject *r = PyNumber_Multiply(x, PyLong_Check(a) ? a : n);
    Py_DECREF(x);
    return r;
}

/* The read-only methods of `bytes` (decode, startswith, upper, hex, split, ...), each
 * applied to a copy and returning what bytes's own method returns. They are real methods
 * (not an attribute fallback) so that dir(), help() and inspect.signature see them. */
static PyObject *forward(BytesObject *self, const char *name, PyObject *const *args,
                         Py_ssize_t nargs, PyObject *kwnames) {
    PyObject *b = Bytes_to_bytes(self, NULL);
    if (!b) return NULL;
    PyObject *m = PyObject_GetAttrString(b, name);
    Py_DECREF(b);
    if (!m) return NULL;
    PyObject *r = PyObject_Vectorcall(m, args, (size_t)nargs, kwnames);
    Py_DECREF(m);
    return r;
}

#define FORWARD(name)                                                                       \
    static PyObject *Bytes_##name(BytesObject *self, PyObject *const *args, Py_ssize_t n,   \
                                  PyObject *kw) {                                           \
        return forward(self, #name, args, n, kw);                                           \
    }
#define BYTES_METHODS(X)                                                                    \
    X(capitalize, "($self, /)") X(center, "($self, width, fillchar=b' ', /)")               \
    X(count, "($self, sub, start=None, end=None, /)")                                       \
    X(decode, "($self, /, encoding='utf-8', errors='strict')")                              \
    X(endswith, "($self, suffix, start=None, end=None, /)")                                 \
    X(expandtabs, "($self, /, tabsize=8)") X(find, "($self, sub, start=None, end=None, /)") \
    X(index, "($self, sub, start=None, end=None, /)") X(isalnum, "($self, /)")              \
    X(isalpha, "($self, /)") X(isascii, "($self, /)") X(isdigit, "($self, /)")              \
    X(islower, "($self, /)") X(isspace, "($self, /)") X(istitle, "($self, /)")              \
    X(isupper, "($self, /)") X(join, "($self, iterable_of_bytes, /)")                       \
    X(ljust, "($self, width, fillchar=b' ', /)") X(lower, "($self, /)")                     \
    X(lstrip, "($self, bytes=None, /)") X(partition, "($self, sep, /)")                     \
    X(removeprefix, "($self, prefix, /)") X(removesuffix, "($self, suffix, /)")             \
    X(replace, "($self, old, new, count=-1, /)")                                            \
    X(rfind, "($self, sub, start=None, end=None, /)")                                       \
    X(rindex, "($self, sub, start=None, end=None, /)")                                      \
    X(rjust, "($self, width, fillchar=b' ', /)") X(rpartition, "($self, sep, /)")           \
    X(rsplit, "($self, /, sep=None, maxsplit=-1)") X(rstrip, "($self, bytes=None, /)")      \
    X(split, "($self, /, sep=None, maxsplit=-1)") X(splitlines, "($self, /, keepends=False)") \
    X(startswith, "($self, prefix, start=None, end=None, /)")                               \
    X(strip, "($self, bytes=None, /)") X(swapcase, "($self, /)") X(title, "($self, /)")     \
    X(translate, "($self, table, /, delete=b'')") X(upper, "($self, /)")                    \
    X(zfill, "($self, width, /)")
#define DEFINE_FORWARD(name, sig) FORWARD(name)
BYTES_METHODS(DEFINE_FORWARD)

/* bytes.hex has no value meaning "no separator"; None means that here. */
static PyObject *Bytes_hex(BytesObject *self, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames) {
    if (nargs == 1 && !kwnames && args[0] == Py_None)
        nargs = 0;
    else if (nargs == 0 && kwnames && PyTuple_GET_SIZE(kwnames) == 1 && args[0] == Py_None &&
             PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, 0), "sep") == 0)
        kwnames = NULL;
    return forward(self, "hex", args, nargs, kwnames);
}

static PyObject *Bytes_reduce(BytesObject *self, PyObject *Py_UNUSED(ignored)) {
    /* Pickles as plain bytes: the chunk cannot travel. */
    PyObject *b = Bytes_to_bytes(self, NULL);
    if (!b) return NULL;
    return Py_BuildValue("(O(N))", (PyObject *)&PyBytes_Type, b);
}

#define METHOD_ENTRY(name, sig)                                                             \
    {#name, (PyCFunction)(void (*)(void))Bytes_##name, METH_FASTCALL | METH_KEYWORDS,        \
     #name sig "\n--\n\nbytes." #name "() applied to a copy of the record."},

static PyMethodDef Bytes_methods[] = {
    {"to_bytes", (PyCFunction)Bytes_to_bytes, METH_NOARGS,
     "to_bytes($self, /)\n--\n\nA copy of the record as a standard bytes object."},
    {"__bytes__", (PyCFunction)Bytes_to_bytes, METH_NOARGS,
     "__bytes__($self, /)\n--\n\nA copy of the record as bytes."},
    {"__reduce__", (PyCFunction)Bytes_reduce, METH_NOARGS,
     "__reduce__($self, /)\n--\n\nPickles as plain bytes."},
    BYTES_METHODS(METHOD_ENTRY)
    METHOD_ENTRY(hex, "($self, /, sep=None, bytes_per_sep=1)")
    {NULL, NULL, 0, NULL},
};

static PyType_Slot Bytes_slots[] = {
    {Py_tp_dealloc, Bytes_dealloc},
    {Py_tp_methods, Bytes_methods},
    {Py_tp_richcompare, Bytes_richcompare},
    {Py_tp_hash, Bytes_hash},
    {Py_tp_repr, Bytes_repr},
    {Py_sq_length, Bytes_length},
    {Py_sq_contains, Bytes_contains},
    {Py_mp_length, Bytes_length},
    {Py_mp_subscript, Bytes_subscript},
    {Py_nb_add, Bytes_add},
    {Py_nb_multiply, Bytes_mul},
    {Py_bf_getbuffer, Bytes_getbuffer},
    {Py_tp_doc, "A record read from a file: zero copy, read-only, bytes-like.\n\n"
                "Supports the buffer protocol (bytes(r), memoryview(r), numpy.frombuffer), "
                "len(), ==/< with bytes, hashing like bytes, indexing and slicing, and the "
                "read-only bytes methods. to_bytes() makes a copy."},
    {0, NULL},
};

PyType_Spec krec_bytes_spec = {
    "keeldb.records.Bytes", sizeof(BytesObject), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    Bytes_slots,
};

