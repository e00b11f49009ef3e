/*
 * module.c: the module keeldb._db: multi-phase init (module_exec takes keeldb._keeldb's
 * exception classes, creates this module's own and the heap types into module state),
 * traverse/clear, the mapping from keel_status to exceptions (this module's classes; the
 * rest, with the argument helpers, is ../_common/kpy.c's), and two private functions, _encode and _decode, that expose the
 * converters to the tests.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common.h"

#include <errno.h>

static struct PyModuleDef db_module;

PyObject *
kdp_module_of_type(PyTypeObject *type)
{
    return kpy_module_by_def(type, &db_module, "keeldb._db");
}

/* ---------------------------------------------------------------------------------------
 * Errors
 */

PyObject *
kdp_raise_closed(void)
{
    return kpy_raise_closed("database");
}

/* This module's own classes for the statuses of keel_db.h; the store's statuses are
 * mapped by kpy_raise_status (../_common/kpy.c) as in keeldb._keeldb. */
PyObject *
kdp_raise_status(kdp_state *st, keel_status rc, const char *what, PyObject *filename)
{
    PyObject *cls = NULL;
    switch (rc) {
    case KEEL_ECLOSED:
        return kdp_raise_closed();
    case KEEL_EVALIDATION:
    case KEEL_EKEYSIZE:
        cls = st->ValidationError;
        break;
    case KEEL_ESYNTAX:
        cls = st->ExpressionSyntaxError;
        break;
    case KEEL_ENOTABLE:
        cls = st->TableNotFoundError;
        break;
    case KEEL_ETABLEEXISTS:
        cls = st->TableExistsError;
        break;
    case KEEL_ECONDITION:
        cls = st->ConditionalCheckFailed;
        break;
    case KEEL_ECANCELED:
        cls = st->TransactionCanceled;
        break;
    case KEEL_EDUPLICATE:
        cls = st->DuplicateItemError;
        break;
    case KEEL_ECORRUPT:
        /* Opening a damaged file: CorruptFileError(EIO, message, filename). */
        if (filename != NULL)
            cls = st->CorruptFileError;
        break;
    default:
        break;
    }
    return kpy_raise_status(&st->errors, rc, what, filename, cls);
}

static int
add_exceptions(PyObject *m, kdp_state *st)
{
    if (kpy_errors_import(&st->errors) < 0)
        return -1;
    if ((st->ValidationError = kpy_new_exception(m, "keeldb.ValidationError",
            "A request DynamoDB would refuse: a wrong key type or missing key attribute, an "
            "oversized item or key, a bad number, a placeholder missing or unused. Also a "
            "ValueError.", st->Error, PyExc_ValueError)) == NULL)
        return -1;
    if ((st->ExpressionSyntaxError = kpy_new_exception(m, "keeldb.ExpressionSyntaxError",
            "A malformed expression; the message names the position.", st->ValidationError,
            NULL)) == NULL)
        return -1;
    if ((st->TableNotFoundError = kpy_new_exception(m, "keeldb.TableNotFoundError",
            "No table of that name. Also a KeyError.", st->Error, PyExc_KeyError)) == NULL)
        return -1;
    if ((st->TableExistsError = kpy_new_exception(m, "keeldb.TableExistsError",
            "A table of that name exists.", st->Error, NULL)) == NULL)
        return -1;
    if ((st->UnsupportedTypeError = kpy_new_exception(m, "keeldb.UnsupportedTypeError",
            "A Python value with no DynamoDB type. A ValidationError, so also a ValueError "
            "(as KeystoneDB raised), and a TypeError.", st->ValidationError,
            PyExc_TypeError)) == NULL)
        return -1;
    if ((st->CorruptFileError = kpy_new_exception(m, "keeldb.CorruptFileError",
            "Opening a damaged database file: a CorruptError that is also an OSError (as "
            "KeystoneDB's IOError).", st->CorruptError, PyExc_OSError)) == NULL)
        return -1;
    if ((st->ConditionalCheckFailed = kpy_new_exception(m, "keeldb.ConditionalCheckFailed",
            "A write's condition was false (\"The conditional request failed\"); nothing was "
            "written. .item is the current item when return_values_on_condition_check_failure"
            "=\"ALL_OLD\" was asked (None if absent), else None.", st->Error, NULL)) == NULL ||
        PyObject_SetAttrString(st->ConditionalCheckFailed, "item", Py_None) < 0)
        return -1;
    if ((st->TransactionCanceled = kpy_new_exception(m, "keeldb.TransactionCanceled",
            "A transaction was canceled and nothing was written. .reasons has one dict per "
            "action, in order, in DynamoDB's CancellationReasons shape: {\"Code\": \"None\"}, "
            "or {\"Code\": \"ConditionalCheckFailed\" | \"ValidationError\", \"Message\": ..., "
            "\"Item\": ...}.", st->Error, NULL)) == NULL)
        return -1;
    if ((st->DuplicateItemError = kpy_new_exception(m, "keeldb.DuplicateItemError",
            "A PartiQL INSERT of an item that exists (DynamoDB's DuplicateItemException); "
            "nothing was written.", st->Error, NULL)) == NULL)
        return -1;
    PyObject *empty = PyList_New(0);
    if (empty == NULL || PyObject_SetAttrString(st->TransactionCanceled, "reasons", empty) < 0) {
        Py_XDECREF(empty);
        return -1;
    }
    Py_DECREF(empty);
    return 0;
}

/* ---------------------------------------------------------------------------------------
 * Argument helpers
 */

const char *
kdp_table_name(kdp_state *st, PyObject *o)
{
    if (!PyUnicode_Check(o)) {
        PyErr_Format(PyExc_TypeError, "table name must be str, not '%.200s'",
                     Py_TYPE(o)->tp_name);
        return NULL;
    }
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(o, &n);
    if (s == NULL)
        return NULL;
    if ((size_t)n != strlen(s)) {
        PyErr_SetString(st->ValidationError, "table name: embedded NUL character");
        return NULL;
    }
    return s;
}

/* ---------------------------------------------------------------------------------------
 * Module
 */

static PyObject *
mod_encode(PyObject *m, PyObject *v)
{
    kdp_state *st = get_state(m);
    kdp_buf b;
    kdp_buf_init(&b);
    PyObject *r = NULL;
    if (kdp_encode_value(st, &b, v, "value") == 0)
        r = PyBytes_FromStringAndSize((const char *)b.p, (Py_ssize_t)b.len);
    kdp_buf_free(&b);
    return r;
}

static PyObject *
mod_decode(PyObject *m, PyObject *data)
{
    Py_buffer view;
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    PyObject *r = kdp_decode(get_state(m), NULL, view.buf, (size_t)view.len);
    PyBuffer_Release(&view);
    return r;
}

static PyMethodDef module_methods[] = {
    {"_encode", (PyCFunction)mod_encode, METH_O,
     "_encode(value, /)\n--\n\nThe CBOR a value is stored as (for tests)."},
    {"_decode", (PyCFunction)mod_decode, METH_O,
     "_decode(data, /)\n--\n\nThe Python value of CBOR bytes (for tests)."},
    {NULL, NULL, 0, NULL}};

static int
module_exec(PyObject *m)
{
    kdp_state *st = get_state(m);
    if (add_exceptions(m, st) < 0)
        return -1;
    if (kpy_add_type(m, &kdp_database_spec, &st->Database_type) < 0 ||
        kpy_add_type(m, &kdp_vector_spec, &st->Vector_type) < 0 ||
        kpy_add_type(m, &kdp_cursor_spec, &st->Cursor_type) < 0 ||
        kpy_add_type(m, &kdp_table_spec, &st->Table_type) < 0)
        return -1;
#ifndef Py_TPFLAGS_DISALLOW_INSTANTIATION
    st->Cursor_type->tp_new = NULL;
#endif
    if (PyModule_AddIntConstant(m, "MAX_ITEM", KEEL_DB_MAX_ITEM) < 0 ||
        PyModule_AddIntConstant(m, "MAX_PARTITION_KEY", KEEL_DB_MAX_PK) < 0 ||
        PyModule_AddIntConstant(m, "MAX_SORT_KEY", KEEL_DB_MAX_SK) < 0 ||
        PyModule_AddIntConstant(m, "MAX_DEPTH", KEEL_DB_MAX_DEPTH) < 0)
        return -1;
    return 0;
}

#define STATE_FIELDS(X)                                                                     \
    X(Database_type) X(Vector_type) X(Cursor_type) X(Table_type) X(ValidationError)       \
    X(ExpressionSyntaxError) X(TableNotFoundError) X(TableExistsError)                      \
    X(UnsupportedTypeError) X(CorruptFileError) X(ConditionalCheckFailed)                    \
    X(TransactionCanceled) X(DuplicateItemError) X(Decimal) X(np_frombuffer) X(np_float32)

static int
module_traverse(PyObject *m, visitproc visit, void *arg)
{
    kdp_state *st = get_state(m);
    if (st == NULL)
        return 0;
#define V(f) Py_VISIT(st->f);
    STATE_FIELDS(V)
#undef V
    int r = kpy_errors_traverse(&st->errors, visit, arg);
    if (r != 0)
        return r;
    for (int i = 0; i < KEYCACHE_SLOTS; i++)
        Py_VISIT(st->keycache[i].s);
    for (int i = 0; i < VALCACHE_SLOTS; i++)
        Py_VISIT(st->valcache[i].s);
    return 0;
}

static int
module_clear(PyObject *m)
{
    kdp_state *st = get_state(m);
    if (st == NULL)
        return 0;
#define C(f) Py_CLEAR(st->f);
    STATE_FIELDS(C)
#undef C
    kpy_errors_clear(&st->errors);
    for (int i = 0; i < KEYCACHE_SLOTS; i++)
        Py_CLEAR(st->keycache[i].s);
    for (int i = 0; i < VALCACHE_SLOTS; i++)
        Py_CLEAR(st->valcache[i].s);
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

static struct PyModuleDef db_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "keeldb._db",
    .m_doc = "C extension of keeldb: the Database (DynamoDB-style items), over keel_db.h.",
    .m_size = sizeof(kdp_state),
    .m_methods = module_methods,
    .m_slots = module_slots,
    .m_traverse = module_traverse,
    .m_clear = module_clear,
    .m_free = module_free,
};

PyMODINIT_FUNC PyInit__db(void);

PyMODINIT_FUNC
PyInit__db(void)
{
    return PyModuleDef_Init(&db_module);
}
