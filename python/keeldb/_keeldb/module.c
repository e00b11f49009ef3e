/*
 * module.c: the module keeldb._keeldb: multi-phase init (module_exec creates the
 * exceptions and the heap types into module state, then the constants), traverse/clear,
 * and the module-level key_hash(); the shared pieces (finding a type's module, adding types)
 * are ../_common/kpy.c's. No globals: everything per-module lives in
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
    return kpy_module_by_def(type, &keeldb_module, "keeldb._keeldb");
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

static int
module_exec(PyObject *m)
{
    keeldb_state *st = get_state(m);

    if (kdb_add_exceptions(m, st) < 0)
        return -1;

    if (kpy_add_type(m, &kdb_store_spec, &st->DataStore_type) < 0 ||
        kpy_add_type(m, &kdb_entry_spec, &st->EntryHandle_type) < 0 ||
        kpy_add_type(m, &kdb_stream_spec, &st->EntryStream_type) < 0 ||
        kpy_add_type(m, &kdb_iter_spec, &st->StoreIterator_type) < 0 ||
        kpy_add_type(m, &kdb_hasher_spec, &st->NamespaceHasher_type) < 0)
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
    int r = kpy_errors_traverse(&st->errors, visit, arg);
    if (r != 0)
        return r;
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
    kpy_errors_clear(&st->errors);
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
