/*
 * kpy.c: the helpers every keeldb extension shares (kpy.h says what and why): a type's
 * module, heap types and exception classes added to a module, the METH_FASTCALL argument
 * parser, borrowed bytes-like arguments, and keel_status -> Python exception.
 *
 * Compiled into each extension with hidden visibility (python/meson.build); no state of
 * its own: the exception classes are passed in from the calling module's state.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kpy.h"

#include <errno.h>
#include <string.h>

/* ---- modules and types ---------------------------------------------------------------- */

PyObject *
kpy_module_by_def(PyTypeObject *type, PyModuleDef *def, const char *modname)
{
#if PY_VERSION_HEX >= 0x030B0000
    (void)modname;
    return PyType_GetModuleByDef(type, def);
#else
    PyObject *mro = type->tp_mro;
    for (Py_ssize_t i = 0; mro != NULL && i < PyTuple_GET_SIZE(mro); i++) {
        PyTypeObject *t = (PyTypeObject *)PyTuple_GET_ITEM(mro, i);
        if (!(t->tp_flags & Py_TPFLAGS_HEAPTYPE))
            continue;
        PyObject *m = PyType_GetModule(t);
        if (m == NULL) {
            PyErr_Clear();
            continue;
        }
        if (PyModule_GetDef(m) == def)
            return m;
    }
    PyErr_Format(PyExc_TypeError, "%s: type is not from this module", modname);
    return NULL;
#endif
}

int
kpy_add_type(PyObject *m, PyType_Spec *spec, PyTypeObject **slot)
{
    *slot = (PyTypeObject *)PyType_FromModuleAndSpec(m, spec, NULL);
    if (*slot == NULL)
        return -1;
    return PyModule_AddType(m, *slot);
}

PyObject *
kpy_new_exception(PyObject *m, const char *name, const char *doc, PyObject *b1, PyObject *b2)
{
    PyObject *bases = b2 != NULL ? PyTuple_Pack(2, b1, b2) : PyTuple_Pack(1, b1);
    if (bases == NULL)
        return NULL;
    PyObject *e = PyErr_NewExceptionWithDoc(name, doc, bases, NULL);
    Py_DECREF(bases);
    if (e == NULL)
        return NULL;
    const char *dot = strrchr(name, '.');
    if (PyModule_AddObjectRef(m, dot != NULL ? dot + 1 : name, e) < 0) {
        Py_DECREF(e);
        return NULL;
    }
    return e;
}

PyObject *
kpy_raise_closed(const char *what)
{
    PyErr_Format(PyExc_ValueError, "I/O operation on closed %s", what);
    return NULL;
}

/* ---- arguments -------------------------------------------------------------------------- */

int
kpy_parse_args(const char *fname, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
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
kpy_buf_get(PyObject *o, kpy_buf *a, const char *what, int mode)
{
    a->has_view = 0;
    if (PyBytes_Check(o)) {
        a->buf = PyBytes_AS_STRING(o);
        a->len = PyBytes_GET_SIZE(o);
        return 0;
    }
    if (mode == KPY_BUF_KEY && PyUnicode_Check(o)) {
        a->buf = PyUnicode_AsUTF8AndSize(o, &a->len);
        return a->buf != NULL ? 0 : -1;
    }
    if (mode == KPY_BUF_KEY ? (PyByteArray_Check(o) || PyMemoryView_Check(o))
                            : PyObject_CheckBuffer(o)) {
        if (PyObject_GetBuffer(o, &a->view, PyBUF_SIMPLE) < 0)
            return -1;
        a->buf = (const char *)a->view.buf;
        a->len = a->view.len;
        a->has_view = 1;
        return 0;
    }
    PyErr_Format(PyExc_TypeError,
                 mode == KPY_BUF_KEY ? "%s must be bytes or str, not '%.200s'"
                                     : "%s must be a bytes-like object, not '%.200s'",
                 what, Py_TYPE(o)->tp_name);
    return -1;
}

/* ---- errors ----------------------------------------------------------------------------- */

int
kpy_errors_create(PyObject *m, kpy_errors *e)
{
    if ((e->Error = kpy_new_exception(m, "keeldb.Error", "Base class of keeldb's own errors.",
                                      PyExc_Exception, NULL)) == NULL ||
        (e->CorruptError = kpy_new_exception(m, "keeldb.CorruptError",
            "The file is damaged beyond a torn tail, or an entry's checksum does not match.",
            e->Error, NULL)) == NULL ||
        (e->FormatError = kpy_new_exception(m, "keeldb.FormatError",
            "The file is not a keel store (it was left untouched).", e->Error, NULL)) == NULL ||
        (e->VersionError = kpy_new_exception(m, "keeldb.VersionError",
            "The file is a keel store of a newer major format version.", e->Error,
            NULL)) == NULL ||
        (e->LockedError = kpy_new_exception(m, "keeldb.LockedError",
            "Another writer (this process or another) holds the store's lock.", e->Error,
            NULL)) == NULL ||
        (e->ReadOnlyError = kpy_new_exception(m, "keeldb.ReadOnlyError",
            "A write on a store opened read-only.", e->Error, NULL)) == NULL ||
        (e->StoreIOError = kpy_new_exception(m, "keeldb.StoreIOError",
            "An I/O error from the operating system (errno is set). Also an OSError, as "
            "simd_r_drive raises.", e->Error, PyExc_OSError)) == NULL ||
        (e->StoreFileNotFoundError = kpy_new_exception(m, "keeldb.StoreFileNotFoundError",
            "A StoreIOError for ENOENT (the file or a directory on its path is missing); "
            "also a FileNotFoundError.", e->StoreIOError, PyExc_FileNotFoundError)) == NULL ||
        (e->StoreFileExistsError = kpy_new_exception(m, "keeldb.StoreFileExistsError",
            "A StoreIOError for EEXIST; also a FileExistsError.", e->StoreIOError,
            PyExc_FileExistsError)) == NULL ||
        (e->StorePermissionError = kpy_new_exception(m, "keeldb.StorePermissionError",
            "A StoreIOError for EACCES; also a PermissionError.", e->StoreIOError,
            PyExc_PermissionError)) == NULL)
        return -1;
    return 0;
}

int
kpy_errors_import(kpy_errors *e)
{
    PyObject *k = PyImport_ImportModule("keeldb._keeldb");
    if (k == NULL)
        return -1;
    int rc = 0;
#define TAKE(field)                                                                         \
    if (rc == 0 && (e->field = PyObject_GetAttrString(k, #field)) == NULL)                  \
        rc = -1;
    TAKE(Error) TAKE(CorruptError) TAKE(FormatError) TAKE(VersionError) TAKE(LockedError)
    TAKE(ReadOnlyError) TAKE(StoreIOError) TAKE(StoreFileNotFoundError)
    TAKE(StoreFileExistsError) TAKE(StorePermissionError)
#undef TAKE
    Py_DECREF(k);
    return rc;
}

#define KPY_ERROR_LIST(X)                                                                   \
    X(Error) X(CorruptError) X(FormatError) X(VersionError) X(LockedError) X(ReadOnlyError)  \
    X(StoreIOError) X(StoreFileNotFoundError) X(StoreFileExistsError) X(StorePermissionError)

int
kpy_errors_traverse(kpy_errors *e, visitproc visit, void *arg)
{
#define V(f) Py_VISIT(e->f);
    KPY_ERROR_LIST(V)
#undef V
    return 0;
}

void
kpy_errors_clear(kpy_errors *e)
{
#define C(f) Py_CLEAR(e->f);
    KPY_ERROR_LIST(C)
#undef C
}

int
kpy_status_errno(keel_status rc)
{
    switch (rc) {
    case KEEL_EIO: return EIO;
    case KEEL_ENOSPC: return ENOSPC;
    case KEEL_ENOENT: return ENOENT;
    case KEEL_EEXIST: return EEXIST;
    case KEEL_EACCES: return EACCES;
    default: return 0;
    }
}

PyObject *
kpy_status_message(keel_status rc, const char *what)
{
    const char *detail = keel_errmsg();
    const char *text = keel_strerror(rc);
    if (detail != NULL && detail[0] != '\0')
        return PyUnicode_FromFormat("%s: %s (%s)", what, text, detail);
    return PyUnicode_FromFormat("%s: %s", what, text);
}

PyObject *
kpy_raise_oserror(PyObject *cls, int err, PyObject *msg, PyObject *filename)
{
    PyObject *exc = filename != NULL && filename != Py_None
                        ? PyObject_CallFunction(cls, "iOO", err, msg, filename)
                        : PyObject_CallFunction(cls, "iO", err, msg);
    if (exc != NULL) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
    return NULL;
}

PyObject *
kpy_raise_status(const kpy_errors *e, keel_status rc, const char *what, PyObject *filename,
                 PyObject *cls)
{
    PyObject *msg;
    if (cls == NULL && rc == KEEL_EKEYSIZE) {
        const char *detail = keel_errmsg();
        msg = PyUnicode_FromFormat("%s: key too long: the limit is %u bytes (%s)", what,
                                   (unsigned)KEEL_MAX_KEY, detail ? detail : "");
    } else {
        msg = kpy_status_message(rc, what);
    }
    if (msg == NULL)
        return NULL;
    int err = kpy_status_errno(rc);
    if (cls == NULL) {
        switch (rc) {
        case KEEL_EINVAL:
        case KEEL_ERANGE:
        case KEEL_EKEYSIZE: cls = PyExc_ValueError; break;
        case KEEL_ENOMEM: cls = PyExc_MemoryError; break;
        case KEEL_EBUSY: cls = PyExc_RuntimeError; break;
        case KEEL_EFORMAT: cls = e->FormatError; break;
        case KEEL_EVERSION: cls = e->VersionError; break;
        case KEEL_ECORRUPT: cls = e->CorruptError; break;
        case KEEL_ELOCKED: cls = e->LockedError; break;
        case KEEL_EREADONLY: cls = e->ReadOnlyError; break;
        default:
            cls = err == ENOENT   ? e->StoreFileNotFoundError
                  : err == EEXIST ? e->StoreFileExistsError
                  : err == EACCES ? e->StorePermissionError
                  : err != 0      ? e->StoreIOError
                                  : e->Error;
            break;
        }
    }
    if (PyType_Check(cls) && PyType_IsSubtype((PyTypeObject *)cls,
                                              (PyTypeObject *)PyExc_OSError)) {
        kpy_raise_oserror(cls, err != 0 ? err : EIO, msg, filename);
        Py_DECREF(msg);
        return NULL;
    }
    PyErr_SetObject(cls, msg);
    Py_DECREF(msg);
    return NULL;
}
