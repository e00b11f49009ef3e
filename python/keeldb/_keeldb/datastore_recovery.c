/*
 * datastore_recovery.c: what opening a DataStore recovered, and DataStore.repair().
 *
 * keel_open may find bytes past the last intact entry (a torn write, an unfinished or
 * damaged last batch, a complete entry failing its checksum). A writable open saves them
 * in a side file beside the store and cuts them; a read-only one leaves them. Python sees
 * this as DataStore.recovery (None, or a dict describing it) and, when bytes were cut, as
 * a keeldb.RecoveryWarning at open naming the side file. DataStore.repair(path) cuts a
 * damaged tail that a plain open refuses with CorruptError, saving it the same way, and
 * returns the same kind of dict. The dicts mirror keel.h's keel_recovery.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common.h"

static const char *
kind_name(keel_recovery_kind k)
{
    switch (k) {
    case KEEL_RECOVERY_NONE: return "none";
    case KEEL_RECOVERY_TORN: return "torn";
    case KEEL_RECOVERY_GROUP: return "unfinished_batch";
    case KEEL_RECOVERY_CHECKSUM: return "checksum";
    case KEEL_RECOVERY_BROKEN_GROUP: return "broken_batch";
    case KEEL_RECOVERY_REPAIRED: return "repaired";
    }
    return "unknown";
}

/* None when nothing was found, else a dict (new reference). */
static PyObject *
recovery_dict(const keel_recovery *r)
{
    if (r->kind == KEEL_RECOVERY_NONE)
        Py_RETURN_NONE;
    PyObject *saved = r->saved_path ? PyUnicode_DecodeFSDefault(r->saved_path) : Py_NewRef(Py_None);
    if (saved == NULL)
        return NULL;
    PyObject *d = Py_BuildValue("{s:s,s:K,s:K,s:K,s:O,s:N,s:s}", "kind", kind_name(r->kind),
                                "valid_end", (unsigned long long)r->valid_end, "cut_bytes",
                                (unsigned long long)r->cut_bytes, "damaged_offset",
                                (unsigned long long)r->damaged_offset, "cut",
                                r->cut ? Py_True : Py_False, "saved_path", saved, "detail",
                                r->detail);
    return d;
}

PyObject *
kdb_store_get_recovery(StoreObject *self, void *closure)
{
    (void)closure;
    keel_recovery r;
    if (self->s == NULL || keel_recovery_info(self->s, &r) != KEEL_OK)
        Py_RETURN_NONE;
    return recovery_dict(&r);
}

int
kdb_store_warn_recovery(StoreObject *self)
{
    keel_recovery r;
    if (keel_recovery_info(self->s, &r) != KEEL_OK || !r.cut)
        return 0;
    return PyErr_WarnEx(self->st->RecoveryWarning, r.detail, 1);
}

PyObject *
kdb_store_repair(PyObject *cls, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    if (nargs != 1 || (kwnames && PyTuple_GET_SIZE(kwnames) > 0)) {
        PyErr_SetString(PyExc_TypeError, "repair() takes exactly one argument: the path");
        return NULL;
    }
    PyObject *module = kdb_module_of_type((PyTypeObject *)cls);
    if (module == NULL)
        return NULL;
    keeldb_state *st = get_state(module);
    PyObject *path_bytes = NULL;
    if (!PyUnicode_FSConverter(args[0], &path_bytes))
        return NULL;
    keel_options o = KEEL_OPTIONS_INIT;
    o.mode = KEEL_OPEN_EXISTING;
    o.sync = KEEL_SYNC_DATA;
    keel_store *s = NULL;
    keel_status rc;
    const char *cpath = PyBytes_AS_STRING(path_bytes);
    Py_BEGIN_ALLOW_THREADS
    rc = keel_repair(cpath, &o, &s);
    Py_END_ALLOW_THREADS
    PyObject *result = NULL;
    if (rc != KEEL_OK) {
        PyObject *p = PyUnicode_DecodeFSDefault(cpath);
        kdb_raise_status(st, rc, "cannot repair store", p);
        Py_XDECREF(p);
    } else {
        keel_recovery r;
        if (keel_recovery_info(s, &r) == KEEL_OK)
            result = recovery_dict(&r);
        else
            result = Py_NewRef(Py_None);
    }
    if (s != NULL) {
        Py_BEGIN_ALLOW_THREADS
        keel_free(s);
        Py_END_ALLOW_THREADS
    }
    Py_DECREF(path_bytes);
    return result;
}
