/*
 * module.c: the module keeldb._db: multi-phase init (module_exec takes keeldb._keeldb's
 * exception classes, creates this module's own and the heap types into module state),
 * traverse/clear, the mapping from keel_status to exceptions, the argument helpers the
 * other files share, and two private functions, _encode and _decode, that expose the
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
#if PY_VERSION_HEX >= 0x030B0000
    return PyType_GetModuleByDef(type, &db_module);
#else
    PyObject *mro = type->tp_mro;
    for (Py_ssize_t i = 0; mro && i < PyTuple_GET_SIZE(mro); i++) {
        PyTypeObject *t = (PyTypeObject *)PyTuple_GET_ITEM(mro, i);
        if (!(t->tp_flags & Py_TPFLAGS_HEAPTYPE))
            continue;
        PyObject *m = PyType_GetModule(t);
        if (m == NULL) {
            PyErr_Clear();
            continue;
        }
        if (PyModule_GetDef(m) == &db_module)
            return m;
    }
    PyErr_SetString(PyExc_TypeError, "keeldb._db: type is not from this module");
    return NULL;
#endif
}

/* ---------------------------------------------------------------------------------------
 * Errors
 */

PyObject *
kdp_raise_closed(void)
{
    PyErr_SetString(PyExc_ValueError, "I/O operation on closed database");
    return NULL;
}

PyObject *
kdp_raise_status(kdp_state *st, keel_status rc, const char *what, PyObject *filename)
{
    const char *detail = keel_errmsg();
    const char *text = keel_strerror(rc);
    PyObject *msg;
    if (detail != NULL && detail[0] != '\0')
        msg = PyUnicode_FromFormat("%s: %s (%s)", what, text, detail);
    else
        msg = PyUnicode_FromFormat("%s: %s", what, text);
    if (msg == NULL)
        return NULL;
    PyObject *exc_type = st->Error;
    int err = 0;
    switch (rc) {
    case KEEL_ECLOSED:
        Py_DECREF(msg);
        return kdp_raise_closed();
    case KEEL_EVALIDATION:
    case KEEL_EKEYSIZE:
        exc_type = st->ValidationError;
        break;
    case KEEL_ESYNTAX:
        exc_type = st->ExpressionSyntaxError;
        break;
    case KEEL_ENOTABLE:
        exc_type = st->TableNotFoundError;
        break;
    case KEEL_ETABLEEXISTS:
        exc_type = st->TableExistsError;
        break;
    case KEEL_ECONDITION:
        exc_type = st->ConditionalCheckFailed;
        break;
    case KEEL_ECANCELED:
        exc_type = st->TransactionCanceled;
        break;
    case KEEL_EDUPLICATE:
        exc_type = st->DuplicateItemError;
        break;
    case KEEL_EINVAL:
    case KEEL_ERANGE:
        exc_type = PyExc_ValueError;
        break;
    case KEEL_ENOMEM:
        exc_type = PyExc_MemoryError;
        break;
    case KEEL_EBUSY:
        exc_type = PyExc_RuntimeError;
        break;
    case KEEL_EFORMAT:
        exc_type = st->FormatError;
        break;
    case KEEL_EVERSION:
        exc_type = st->VersionError;
        break;
    case KEEL_ECORRUPT:
        exc_type = filename != NULL ? st->CorruptFileError : st->CorruptError;
        break;
    case KEEL_ELOCKED:
        exc_type = st->LockedError;
        break;
    case KEEL_EREADONLY:
        exc_type = st->ReadOnlyError;
        break;
    case KEEL_EIO: err = EIO; break;
    case KEEL_ENOSPC: err = ENOSPC; break;
    case KEEL_ENOENT: err = ENOENT; break;
    case KEEL_EEXIST: err = EEXIST; break;
    case KEEL_EACCES: err = EACCES; break;
    default:
        break;
    }
    if (err != 0 || exc_type == st->CorruptFileError) {
        /* OSError(errno, message[, filename]): .errno, .strerror and .filename are set, and
         * OSError's constructor picks FileNotFoundError for ENOENT, FileExistsError for
         * EEXIST and PermissionError for EACCES. Other errnos are StoreIOError. */
        PyObject *cls = exc_type == st->CorruptFileError
                            ? st->CorruptFileError
                            : (err == ENOENT || err == EEXIST || err == EACCES) ? PyExc_OSError
                                                                                : st->StoreIOError;
        if (exc_type == st->CorruptFileError)
            err = EIO;
        PyObject *exc = filename != NULL && filename != Py_None
                            ? PyObject_CallFunction(cls, "iOO", err, msg, filename)
                            : PyObject_CallFunction(cls, "iO", err, msg);
        Py_DECREF(msg);
        if (exc != NULL) {
            PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
            Py_DECREF(exc);
        }
        return NULL;
    }
    PyErr_SetObject(exc_type, msg);
    Py_DECREF(msg);
    return NULL;
}

static PyObject *
new_exc(PyObject *m, const char *name, const char *doc, PyObject *b1, PyObject *b2)
{
    PyObject *bases = b2 ? PyTuple_Pack(2, b1, b2) : PyTuple_Pack(1, b1);
    if (bases == NULL)
        return NULL;
    PyObject *e = PyErr_NewExceptionWithDoc(name, doc, bases, NULL);
    Py_DECREF(bases);
    if (e == NULL)
        return NULL;
    if (PyModule_AddObjectRef(m, strrchr(name, '.') + 1, e) < 0) {
        Py_DECREF(e);
        return NULL;
    }
    return e;
}

static int
add_exceptions(PyObject *m, kdp_state *st)
{
    PyObject *k = PyImport_ImportModule("keeldb._keeldb");
    if (k == NULL)
        return -1;
#define TAKE(field)                                                                         \
    if ((st->field = PyObject_GetAttrString(k, #field)) == NULL) {                          \
        Py_DECREF(k);                                                                       \
        return -1;                                                                          \
    }
    TAKE(Error) TAKE(CorruptError) TAKE(FormatError) TAKE(VersionError) TAKE(LockedError)
    TAKE(ReadOnlyError) TAKE(StoreIOError)
#undef TAKE
    Py_DECREF(k);
    if ((st->ValidationError = new_exc(m, "keeldb.ValidationError",
            "A request DynamoDB would refuse: a wrong key type or missing key attribute, an "
            "oversized item or key, a bad number, a placeholder missing or unused. Also a "
            "ValueError.", st->Error, PyExc_ValueError)) == NULL)
        return -1;
    if ((st->ExpressionSyntaxError = new_exc(m, "keeldb.ExpressionSyntaxError",
            "A malformed expression; the message names the position.", st->ValidationError,
            NULL)) == NULL)
        return -1;
    if ((st->TableNotFoundError = new_exc(m, "keeldb.TableNotFoundError",
            "No table of that name. Also a KeyError.", st->Error, PyExc_KeyError)) == NULL)
        return -1;
    if ((st->TableExistsError = new_exc(m, "keeldb.TableExistsError",
            "A table of that name exists.", st->Error, NULL)) == NULL)
        return -1;
    if ((st->UnsupportedTypeError = new_exc(m, "keeldb.UnsupportedTypeError",
            "A Python value with no DynamoDB type. A ValidationError, so also a ValueError "
            "(as KeystoneDB raised), and a TypeError.", st->ValidationError,
            PyExc_TypeError)) == NULL)
        return -1;
    if ((st->CorruptFileError = new_exc(m, "keeldb.CorruptFileError",
            "Opening a damaged database file: a CorruptError that is also an OSError (as "
            "KeystoneDB's IOError).", st->CorruptError, PyExc_OSError)) == NULL)
        return -1;
    if ((st->ConditionalCheckFailed = new_exc(m, "keeldb.ConditionalCheckFailed",
            "A write's condition was false (\"The conditional request failed\"); nothing was "
            "written. .item is the current item when return_values_on_condition_check_failure"
            "=\"ALL_OLD\" was asked (None if absent), else None.", st->Error, NULL)) == NULL ||
        PyObject_SetAttrString(st->ConditionalCheckFailed, "item", Py_None) < 0)
        return -1;
    if ((st->TransactionCanceled = new_exc(m, "keeldb.TransactionCanceled",
            "A transaction was canceled and nothing was written. .reasons has one dict per "
            "action, in order, in DynamoDB's CancellationReasons shape: {\"Code\": \"None\"}, "
            "or {\"Code\": \"ConditionalCheckFailed\" | \"ValidationError\", \"Message\": ..., "
            "\"Item\": ...}.", st->Error, NULL)) == NULL)
        return -1;
    if ((st->DuplicateItemError = new_exc(m, "keeldb.DuplicateItemError",
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

int
kdp_parse_args(const char *fname, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
               const char *const *names, Py_ssize_t nreq, Py_ssize_t npos, Py_ssize_t nmax,
               PyObject **out)
{
    if (nargs > npos) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most %zd positional argument%s (%zd given)",
                     fname, npos, npos == 1 ? "" : "s", nargs);
        return -1;
    }
    for (Py_ssize_t i = 0; i < nmax; i++)
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
    for (Py_ssize_t i = 0; i < nreq; i++) {
        if (out[i] == NULL) {
            PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s' (pos %zd)",
                         fname, names[i], i + 1);
            return -1;
        }
    }
    return 0;
}

int
kdp_key_get(PyObject *o, kdp_key *k, const char *what)
{
    k->has_view = 0;
    if (PyBytes_Check(o)) {
        k->buf = PyBytes_AS_STRING(o);
        k->len = PyBytes_GET_SIZE(o);
        return 0;
    }
    if (PyUnicode_Check(o)) {
        k->buf = PyUnicode_AsUTF8AndSize(o, &k->len);
        return k->buf ? 0 : -1;
    }
    if (PyByteArray_Check(o) || PyMemoryView_Check(o)) {
        if (PyObject_GetBuffer(o, &k->view, PyBUF_SIMPLE) < 0)
            return -1;
        k->buf = (const char *)k->view.buf;
        k->len = k->view.len;
        k->has_view = 1;
        return 0;
    }
    PyErr_Format(PyExc_TypeError, "%s must be bytes or str, not '%.200s'", what,
                 Py_TYPE(o)->tp_name);
    return -1;
}

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
add_type(PyObject *m, PyType_Spec *spec, PyTypeObject **slot)
{
    *slot = (PyTypeObject *)PyType_FromModuleAndSpec(m, spec, NULL);
    if (*slot == NULL)
        return -1;
    return PyModule_AddType(m, *slot);
}

static int
module_exec(PyObject *m)
{
    kdp_state *st = get_state(m);
    if (add_exceptions(m, st) < 0)
        return -1;
    if (add_type(m, &kdp_database_spec, &st->Database_type) < 0 ||
        add_type(m, &kdp_vector_spec, &st->Vector_type) < 0 ||
        add_type(m, &kdp_cursor_spec, &st->Cursor_type) < 0)
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
    X(Database_type) X(Vector_type) X(Cursor_type) X(Error) X(CorruptError) X(FormatError)   \
    X(VersionError) X(LockedError) X(ReadOnlyError) X(StoreIOError) X(ValidationError)       \
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
    for (int i = 0; i < KEYCACHE_SLOTS; i++)
        Py_VISIT(st->keycache[i]);
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
    for (int i = 0; i < KEYCACHE_SLOTS; i++)
        Py_CLEAR(st->keycache[i]);
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
