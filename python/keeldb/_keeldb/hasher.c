/*
 * hasher.c: NamespaceHasher, upstream's 16-byte namespaced keys:
 * LE64(xxh3(prefix)) + LE64(xxh3(key)). The prefix's hash is computed once, at
 * construction; the object holds nothing else.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common.h"

/* ---------------------------------------------------------------------------------------
 * NamespaceHasher
 */

static void
put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static PyObject *
Hasher_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"prefix", NULL};
    PyObject *prefix;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:NamespaceHasher", kwlist, &prefix))
        return NULL;
    barg p;
    if (kdb_barg_get(prefix, &p, "prefix") < 0)
        return NULL;
    HasherObject *h = (HasherObject *)type->tp_alloc(type, 0);
    if (h != NULL)
        put_le64(h->prefix_le, keel_hash(p.buf, (size_t)p.len));
    barg_release(&p);
    return (PyObject *)h;
}

static void
Hasher_dealloc(HasherObject *h)
{
    PyTypeObject *tp = Py_TYPE(h);
    tp->tp_free((PyObject *)h);
    Py_DECREF(tp);
}

static PyObject *
Hasher_namespace(HasherObject *h, PyObject *key)
{
    barg k;
    if (kdb_barg_get(key, &k, "key") < 0)
        return NULL;
    uint8_t out[16];
    memcpy(out, h->prefix_le, 8);
    put_le64(out + 8, keel_hash(k.buf, (size_t)k.len));
    barg_release(&k);
    return PyBytes_FromStringAndSize((const char *)out, 16);
}

static PyMethodDef Hasher_methods[] = {
    {"namespace", (PyCFunction)Hasher_namespace, METH_O,
     "namespace($self, key, /)\n--\n\n16 bytes: LE64(xxh3(prefix)) + LE64(xxh3(key))."},
    {NULL, NULL, 0, NULL}};

static PyType_Slot Hasher_slots[] = {
    {Py_tp_doc,
     "NamespaceHasher(prefix)\n--\n\nBuilds 16-byte namespaced keys (upstream's scheme)."},
    {Py_tp_new, Hasher_new},
    {Py_tp_dealloc, Hasher_dealloc},
    {Py_tp_methods, Hasher_methods},
    {0, NULL}};

PyType_Spec kdb_hasher_spec = {
    .name = "keeldb.NamespaceHasher",
    .basicsize = sizeof(HasherObject),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = Hasher_slots,
};
