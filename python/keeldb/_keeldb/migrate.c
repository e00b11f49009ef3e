/*
 * migrate.c: keeldb._keeldb._simd_import, the glue under keeldb.import_simd_r_drive
 * (python/keeldb/migrate.py): one call of keel_simd_import (include/keel_migrate.h) into an
 * open DataStore, with the GIL released, returning the report as a dict and the entries no
 * key matched as a list of (key_hash, offset, length). The keys arrive as a list of bytes
 * (migrate.py turns any iterable into one); they stay alive, and pinned, for the call.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common.h"

#include "keel_migrate.h"

#include <stdlib.h>

typedef struct {
    uint64_t (*items)[3];
    size_t n, cap;
    int oom;
} unknown_list;

static void
on_unknown(void *ctx, uint64_t key_hash, uint64_t offset, uint64_t len)
{
    unknown_list *u = ctx;
    if (u->oom)
        return;
    if (u->n == u->cap) {
        size_t nc = u->cap ? u->cap * 2 : 64;
        void *ni = realloc(u->items, nc * sizeof *u->items);
        if (ni == NULL) {
            u->oom = 1;
            return;
        }
        u->items = ni;
        u->cap = nc;
    }
    u->items[u->n][0] = key_hash;
    u->items[u->n][1] = offset;
    u->items[u->n][2] = len;
    u->n++;
}

PyObject *
kdb_simd_import(PyObject *module, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"src", "store", "keys", "unknown_prefix", "alignment", NULL};
    PyObject *src_arg, *store_arg, *keys, *prefix = Py_None, *align_arg = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O&OO!|OO:_simd_import", kwlist,
                                     PyUnicode_FSConverter, &src_arg, &store_arg,
                                     &PyList_Type, &keys, &prefix, &align_arg))
        return NULL;
    keeldb_state *st = get_state(module);
    PyObject *result = NULL;
    keel_view *kv = NULL;
    unknown_list u = {NULL, 0, 0, 0};
    unsigned long long alignment = 0;
    if (!PyObject_TypeCheck(store_arg, st->DataStore_type)) {
        PyErr_Format(PyExc_TypeError, "store must be a DataStore, not %.100s",
                     Py_TYPE(store_arg)->tp_name);
        goto done;
    }
    if (align_arg != NULL && keeldb_int_arg(align_arg, "alignment", 0, 64, &alignment) < 0)
        goto done;
    StoreObject *store = (StoreObject *)store_arg;
    if (store_check(store) < 0)
        goto done;
    Py_ssize_t n = PyList_GET_SIZE(keys);
    kv = PyMem_Calloc((size_t)n + 1, sizeof *kv);
    if (kv == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *k = PyList_GET_ITEM(keys, i);
        if (!PyBytes_Check(k)) {
            PyErr_Format(PyExc_TypeError, "keys[%zd] must be bytes, not %.100s", i,
                         Py_TYPE(k)->tp_name);
            goto done;
        }
        kv[i].data = (const uint8_t *)PyBytes_AS_STRING(k);
        kv[i].len = (size_t)PyBytes_GET_SIZE(k);
    }
    keel_simd_import_options o;
    memset(&o, 0, sizeof o);
    o.keys = kv;
    o.nkeys = (size_t)n;
    o.alignment = (uint32_t)alignment;
    o.on_unknown = on_unknown;
    o.ctx = &u;
    if (prefix != Py_None) {
        if (!PyBytes_Check(prefix)) {
            PyErr_Format(PyExc_TypeError, "unknown_prefix must be bytes or None, not %.100s",
                         Py_TYPE(prefix)->tp_name);
            goto done;
        }
        o.unknown_prefix = (const uint8_t *)PyBytes_AS_STRING(prefix);
        o.unknown_prefix_len = (size_t)PyBytes_GET_SIZE(prefix);
    }
    const char *src = PyBytes_AS_STRING(src_arg);
    keel_simd_report rep;
    keel_status rc;
    IO_CALL(store, rc = keel_simd_import(src, store->s, &o, &rep));
    if (rc != KEEL_OK) {
        PyObject *fname = PyUnicode_DecodeFSDefault(src);
        kdb_raise_status(st, rc, "cannot import the SIMD R Drive file", fname);
        Py_XDECREF(fname);
        goto done;
    }
    if (u.oom) {
        PyErr_NoMemory();
        goto done;
    }
    PyObject *unknown = PyList_New((Py_ssize_t)u.n);
    if (unknown == NULL)
        goto done;
    for (size_t i = 0; i < u.n; i++) {
        PyObject *t = Py_BuildValue("(KKK)", (unsigned long long)u.items[i][0],
                                    (unsigned long long)u.items[i][1],
                                    (unsigned long long)u.items[i][2]);
        if (t == NULL) {
            Py_DECREF(unknown);
            goto done;
        }
        PyList_SET_ITEM(unknown, (Py_ssize_t)i, t);
    }
    result = Py_BuildValue(
        "{sKsKsKsKsIsKsKsKsKsKsKsN}", "file_size", (unsigned long long)rep.src.file_size,
        "valid_size", (unsigned long long)rep.src.valid_size, "torn_bytes",
        (unsigned long long)rep.src.torn_bytes, "entries", (unsigned long long)rep.src.entries,
        "alignment", (unsigned)rep.src.alignment, "live", (unsigned long long)rep.live,
        "imported", (unsigned long long)rep.imported, "unknown_count",
        (unsigned long long)rep.unknown, "unknown_kept", (unsigned long long)rep.unknown_kept,
        "deleted", (unsigned long long)rep.deleted, "superseded",
        (unsigned long long)rep.superseded, "unknown", unknown);
done:
    free(u.items);
    PyMem_Free(kv);
    Py_DECREF(src_arg);
    return result;
}
