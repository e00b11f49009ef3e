/*
 * vector.c: keeldb.Vector, a float32 vector, and how decoded vectors reach Python.
 *
 * A Vector either owns a copy of its values (made from Python: Vector(iterable) or from a
 * projection, kept in a bytes object) or points into a Database's mapping (made by the
 * decoder over a stored item: zero copy, holding a strong reference to the Database). It
 * exports the buffer protocol read-only with format "f" and one dimension, so
 * numpy.asarray(v) and memoryview(v) see float32 values without a copy. Each export of a
 * mapped Vector counts in the Database's `exports`; close() raises BufferError while any is
 * alive, and a closed Database refuses new exports.
 *
 * Decoded vectors are returned as read-only numpy arrays over such a Vector (numpy is
 * imported on first use); without numpy they are returned as the Vector itself.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common.h"

static int
vector_check(VectorObject *v)
{
    if (v->db != NULL && v->db->closed) {
        kdp_raise_closed();
        return -1;
    }
    return 0;
}

static PyObject *
new_vector(PyTypeObject *tp, DatabaseObject *db, PyObject *owner, const float *data,
           Py_ssize_t n)
{
    VectorObject *v = (VectorObject *)tp->tp_alloc(tp, 0);
    if (v == NULL)
        return NULL;
    v->db = db ? (DatabaseObject *)Py_NewRef((PyObject *)db) : NULL;
    v->owner = owner ? Py_NewRef(owner) : NULL;
    v->data = data;
    v->n = n;
    return (PyObject *)v;
}

/* Vector(values): a copy of any iterable of numbers, or of a float32 buffer. */
static PyObject *
Vector_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"values", NULL};
    PyObject *src;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:Vector", kwlist, &src))
        return NULL;
    PyObject *seq = PySequence_Fast(src, "Vector() takes an iterable of numbers");
    if (seq == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject *owner = PyBytes_FromStringAndSize(NULL, n * 4);
    if (owner == NULL) {
        Py_DECREF(seq);
        return NULL;
    }
    uint8_t *dst = (uint8_t *)PyBytes_AS_STRING(owner);
    for (Py_ssize_t i = 0; i < n; i++) {
        double d = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(seq, i));
        if (d == -1.0 && PyErr_Occurred()) {
            Py_DECREF(seq);
            Py_DECREF(owner);
            return NULL;
        }
        float f = (float)d;
        uint32_t u;
        memcpy(&u, &f, 4);
        for (int k = 0; k < 4; k++)
            dst[4 * i + k] = (uint8_t)(u >> (8 * k));
    }
    Py_DECREF(seq);
    PyObject *v = new_vector(type, NULL, owner, (const float *)dst, n);
    Py_DECREF(owner);
    return v;
}

static int
Vector_traverse(VectorObject *v, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(v));
    Py_VISIT(v->db);
    Py_VISIT(v->owner);
    return 0;
}

static int
Vector_clear(VectorObject *v)
{
    Py_CLEAR(v->owner);
    /* Keep `db`: the data may point into its mapping until we are freed. */
    return 0;
}

static void
Vector_dealloc(VectorObject *v)
{
    PyTypeObject *tp = Py_TYPE(v);
    PyObject_GC_UnTrack(v);
    Py_CLEAR(v->owner);
    Py_CLEAR(v->db);
    tp->tp_free((PyObject *)v);
    Py_DECREF(tp);
}

static int
Vector_getbuffer(VectorObject *v, Py_buffer *view, int flags)
{
    if (vector_check(v) < 0) {
        view->obj = NULL;
        return -1;
    }
    if (flags & PyBUF_WRITABLE) {
        PyErr_SetString(PyExc_BufferError, "keeldb.Vector is read-only");
        view->obj = NULL;
        return -1;
    }
    view->obj = Py_NewRef((PyObject *)v);
    view->buf = (void *)v->data;
    view->len = v->n * 4;
    view->readonly = 1;
    view->itemsize = 4;
    view->format = (flags & PyBUF_FORMAT) ? "<f" : NULL;
    view->ndim = 1;
    view->shape = (flags & PyBUF_ND) ? &v->n : NULL;
    static Py_ssize_t stride4 = 4;
    view->strides = (flags & PyBUF_STRIDES) == PyBUF_STRIDES ? &stride4 : NULL;
    view->suboffsets = NULL;
    view->internal = NULL;
    v->exports++;
    if (v->db != NULL)
        v->db->exports++;
    return 0;
}

static void
Vector_releasebuffer(VectorObject *v, Py_buffer *Py_UNUSED(view))
{
    v->exports--;
    if (v->db != NULL)
        v->db->exports--;
}

static Py_ssize_t
Vector_length(VectorObject *v)
{
    return v->n;
}

static float
load_f32(const float *p, Py_ssize_t i)
{
    const uint8_t *b = (const uint8_t *)p + 4 * i;
    uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                 (uint32_t)b[3] << 24;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static PyObject *
Vector_item(VectorObject *v, Py_ssize_t i)
{
    if (vector_check(v) < 0)
        return NULL;
    if (i < 0 || i >= v->n) {
        PyErr_SetString(PyExc_IndexError, "Vector index out of range");
        return NULL;
    }
    return PyFloat_FromDouble(load_f32(v->data, i));
}

static PyObject *
Vector_tolist(VectorObject *v, PyObject *Py_UNUSED(ignored))
{
    if (vector_check(v) < 0)
        return NULL;
    PyObject *l = PyList_New(v->n);
    if (l == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < v->n; i++) {
        PyObject *f = PyFloat_FromDouble(load_f32(v->data, i));
        if (f == NULL) {
            Py_DECREF(l);
            return NULL;
        }
        PyList_SET_ITEM(l, i, f);
    }
    return l;
}

static PyObject *
Vector_richcompare(VectorObject *a, PyObject *b, int op)
{
    if ((op != Py_EQ && op != Py_NE) || !PyObject_TypeCheck(b, Py_TYPE(a)))
        Py_RETURN_NOTIMPLEMENTED;
    VectorObject *vb = (VectorObject *)b;
    if (vector_check(a) < 0 || vector_check(vb) < 0)
        return NULL;
    int eq = a->n == vb->n;
    for (Py_ssize_t i = 0; eq && i < a->n; i++)
        eq = load_f32(a->data, i) == load_f32(vb->data, i);
    return PyBool_FromLong(op == Py_EQ ? eq : !eq);
}

static PyObject *
Vector_repr(VectorObject *v)
{
    if (v->db != NULL && v->db->closed)
        return PyUnicode_FromFormat("<keeldb.Vector of %zd floats, database closed>", v->n);
    PyObject *l = Vector_tolist(v, NULL);
    if (l == NULL)
        return NULL;
    PyObject *r = PyUnicode_FromFormat("keeldb.Vector(%R)", l);
    Py_DECREF(l);
    return r;
}

static PyObject *
Vector_get_address(VectorObject *v, void *Py_UNUSED(closure))
{
    return PyLong_FromVoidPtr((void *)v->data);
}

static PyObject *
Vector_get_zero_copy(VectorObject *v, void *Py_UNUSED(closure))
{
    return PyBool_FromLong(v->db != NULL);
}

static PyMethodDef Vector_methods[] = {
    {"tolist", (PyCFunction)Vector_tolist, METH_NOARGS,
     "tolist($self, /)\n--\n\nThe values as a list of floats."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef Vector_getset[] = {
    {"address", (getter)Vector_get_address, NULL,
     "Address of the first value (in the file's mapping when zero_copy).", NULL},
    {"zero_copy", (getter)Vector_get_zero_copy, NULL,
     "True when the values lie in a Database's mapping.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyType_Slot Vector_slots[] = {
    {Py_tp_doc, "Vector(values)\n--\n\n"
                "A float32 vector, stored as DynamoDB-style items' vector type (CBOR tag 85). "
                "Exports the buffer protocol read-only (format 'f')."},
    {Py_tp_new, Vector_new},
    {Py_tp_dealloc, Vector_dealloc},
    {Py_tp_traverse, Vector_traverse},
    {Py_tp_clear, Vector_clear},
    {Py_tp_repr, Vector_repr},
    {Py_tp_richcompare, Vector_richcompare},
    {Py_tp_methods, Vector_methods},
    {Py_tp_getset, Vector_getset},
    {Py_bf_getbuffer, Vector_getbuffer},
    {Py_bf_releasebuffer, Vector_releasebuffer},
    {Py_sq_length, Vector_length},
    {Py_sq_item, Vector_item},
    {0, NULL}};

PyType_Spec kdp_vector_spec = {
    .name = "keeldb.Vector",
    .basicsize = sizeof(VectorObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = Vector_slots,
};

static int
load_numpy(kdp_state *st)
{
    if (st->np_frombuffer != NULL)
        return 1;
    if (st->numpy_missing)
        return 0;
    PyObject *np = PyImport_ImportModule("numpy");
    if (np == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_ImportError))
            return -1;
        PyErr_Clear();
        st->numpy_missing = 1;
        return 0;
    }
    st->np_frombuffer = PyObject_GetAttrString(np, "frombuffer");
    st->np_float32 = st->np_frombuffer ? PyObject_GetAttrString(np, "float32") : NULL;
    Py_DECREF(np);
    if (st->np_float32 == NULL) {
        Py_CLEAR(st->np_frombuffer);
        return -1;
    }
    return 1;
}

PyObject *
kdp_vector_value(kdp_state *st, DatabaseObject *db, const uint8_t *data, size_t n)
{
    PyObject *owner = NULL;
    if (db == NULL) {
        owner = PyBytes_FromStringAndSize((const char *)data, (Py_ssize_t)(n * 4));
        if (owner == NULL)
            return NULL;
        data = (const uint8_t *)PyBytes_AS_STRING(owner);
    }
    PyObject *v = new_vector(st->Vector_type, db, owner, (const float *)data, (Py_ssize_t)n);
    Py_XDECREF(owner);
    if (v == NULL)
        return NULL;
    int np = load_numpy(st);
    if (np <= 0) {
        if (np < 0)
            Py_CLEAR(v);
        return v;
    }
    /* numpy keeps a memoryview of the Vector as the array's base: one export for the
     * array's lifetime, which is what close() counts. */
    PyObject *mv = PyMemoryView_FromObject(v);
    Py_DECREF(v);
    if (mv == NULL)
        return NULL;
    PyObject *arr = PyObject_CallFunctionObjArgs(st->np_frombuffer, mv, st->np_float32, NULL);
    Py_DECREF(mv);
    return arr;
}
