/*
 * module.c: the module keeldb._keeldb: multi-phase init (module_exec creates the
 * exceptions and the heap types into module state, then the constants), traverse/clear,
 * and the module-level key_hash(). No globals: everything per-module lives in
 * keeldb_state, reached from objects through their type's module (kdb_module_of_type).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common.h"

static struct PyModuleDef keeldb_module;

/* The module that defined `type` or one of its bases (subclasses made in Python included). */
PyObject *
kdb_module_of_type(PyTypeObject *type)
{
#if PY_VERSION_HEX >= 0x030B0000
    return PyType_GetModuleByDef(type, &keeldb_module);
#else
    PyObject *mro = type->tp_mro;
    if (mro != NULL) {
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(mro); i++) {
            PyTypeObject *t = (PyTypeObject *)PyTuple_GET_ITEM(mro, i);
            if (!(t->tp_flags & Py_TPFLAGS_HEAPTYPE))
                continue;
            PyObject *m = PyType_GetModule(t);
            if (m == NULL) {
                PyErr_Clear();
                continue;
            }
            if (PyModule_GetDef(m) == &keeldb_module)
                return m;
        }
    }
    PyErr_SetString(PyExc_TypeError, "keeldb: type is not from the keeldb module");
    return NULL;
#endif
}

/* ---------------------------------------------------------------------------------------
 * Module
 */

static PyObject *
mod_key_hash(PyObject *Py_UNUSED(m), PyObject *key)
{
    barg k;
    if (kdb_barg_get(key, &k, "key") < 0)
        return NULL;
    uint64_t h = keel_hash(k.buf, (size_t)k.len);
    barg_release(&k);
    return PyLong_FromUnsignedLongLong(h);
}

static PyMethodDef module_methods[] = {
    {"_simd_import", (PyCFunction)(void (*)(void))kdb_simd_import, METH_VARARGS | METH_KEYWORDS,
     "_simd_import($module, /, src, store, keys, unknown_prefix=None, alignment=0)\n--\n\n"
     "keel_simd_import into an open DataStore; keeldb.import_simd_r_drive is the API."},
    {"key_hash", (PyCFunction)mod_key_hash, METH_O,
     "key_hash($module, key, /)\n--\n\nXXH3-64 (seed 0) of key, as stored in every entry."},
    {NULL, NULL, 0, NULL}};

static PyObject *
new_type(PyObject *m, PyType_Spec *spec)
{
    PyObject *t = PyType_FromModuleAndSpec(m, spec, NULL);
    if (t == NULL)
        return NULL;
    const char *dot = strrchr(spec->name, '.');
    if (PyModule_AddObject(m, dot ? dot + 1 : spec->name, Py_NewRef(t)) < 0) {
        Py_DECREF(t);
        Py_DECREF(t);
        return NULL;
    }
    return t;
}

static int
module_exec(PyObject *m)
{
    keeldb_state *st = get_state(m);

    if (kdb_add_exceptions(m, st) < 0)
        return -1;

    if ((st->DataStore_type = (PyTypeObject *)new_type(m, &kdb_store_spec)) == NULL)
        return -1;
    if ((st->EntryHandle_type = (PyTypeObject *)new_type(m, &kdb_entry_spec)) == NULL)
        return -1;
    if ((st->EntryStream_type = (PyTypeObject *)new_type(m, &kdb_stream_spec)) == NULL)
        return -1;
    if ((st->StoreIterator_type = (PyTypeObject *)new_type(m, &kdb_iter_spec)) == NULL)
        return -1;
    if ((st->NamespaceHasher_type = (PyTypeObject *)new_type(m, &kdb_hasher_spec)) == NULL)
        return -1;

    if ((st->str_read = PyUnicode_InternFromString("read")) == NULL)
        return -1;
    if ((st->int_stream_size = PyLong_FromLong(STREAM_READ_SIZE)) == NULL)
        return -1;

    if (PyModule_AddStringConstant(m, "engine_version", keel_version()) < 0)
        return -1;
    if (PyModule_AddIntConstant(m, "MAX_KEY", (long)KEEL_MAX_KEY) < 0)
        return -1;
    if (PyModule_AddIntConstant(m, "FORMAT_MAJOR", KEEL_FORMAT_MAJOR) < 0)
        return -1;
    if (PyModule_AddIntConstant(m, "FORMAT_MINOR", KEEL_FORMAT_MINOR) < 0)
        return -1;
    return 0;
}

static int
module_traverse(PyObject *m, visitproc visit, void *arg)
{
    keeldb_state *st = get_state(m);
    if (st == NULL)
        return 0;
    Py_VISIT(st->DataStore_type);
    Py_VISIT(st->EntryHandle_type);
    Py_VISIT(st->EntryStream_type);
    Py_VISIT(st->StoreIterator_type);
    Py_VISIT(st->NamespaceHasher_type);
    Py_VISIT(st->Error);
    Py_VISIT(st->CorruptError);
    Py_VISIT(st->FormatError);
    Py_VISIT(st->VersionError);
    Py_VISIT(st->LockedError);
    Py_VISIT(st->ReadOnlyError);
    Py_VISIT(st->StoreIOError);
    Py_VISIT(st->RecoveryWarning);
    return 0;
}

static int
module_clear(PyObject *m)
{
    keeldb_state *st = get_state(m);
    if (st == NULL)
        return 0;
    Py_CLEAR(st->DataStore_type);
    Py_CLEAR(st->EntryHandle_type);
    Py_CLEAR(st->EntryStream_type);
    Py_CLEAR(st->StoreIterator_type);
    Py_CLEAR(st->NamespaceHasher_type);
    Py_CLEAR(st->Error);
    Py_CLEAR(st->CorruptError);
    Py_CLEAR(st->FormatError);
    Py_CLEAR(st->VersionError);
    Py_CLEAR(st->LockedError);
    Py_CLEAR(st->ReadOnlyError);
    Py_CLEAR(st->StoreIOError);
    Py_CLEAR(st->RecoveryWarning);
    Py_CLEAR(st->str_read);
    Py_CLEAR(st->int_stream_size);
    return 0;
}

static void
module_free(void *m)
{
    module_clear((PyObject *)m);
}

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, module_exec},
    {0, NULL}};

static struct PyModuleDef keeldb_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "keeldb._keeldb",
    .m_doc = "C extension of keeldb: thin glue over the keel C library (keel.h).",
    .m_size = sizeof(keeldb_state),
    .m_methods = module_methods,
    .m_slots = module_slots,
    .m_traverse = module_traverse,
    .m_clear = module_clear,
    .m_free = module_free,
};

PyMODINIT_FUNC PyInit__keeldb(void);

PyMODINIT_FUNC
PyInit__keeldb(void)
{
    return PyModuleDef_Init(&keeldb_module);
}
