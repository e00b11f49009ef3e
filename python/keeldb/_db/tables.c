/*
 * tables.c: Database methods for tables in DynamoDB's model: create_table, delete_table,
 * describe_table, list_tables, and a table's items (get_item, batch_write_items,
 * batch_get_items, count; the writes with conditions are in writes.c). keeldb.Table (python/keeldb/db.py) is a thin
 * Python class over these. Items and keys are dicts; keys hold exactly the key attributes.
 * Writes release the GIL; a get keeps it (a lookup costs less than the release).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common.h"

#include <stdlib.h>

/* ("name", "S"|"N"|"B") -> name and type. */
static int
parse_key_def(kdp_state *st, PyObject *o, const char *what, const char **name,
              keel_db_keytype *type)
{
    if (!PyTuple_Check(o) || PyTuple_GET_SIZE(o) != 2 ||
        !PyUnicode_Check(PyTuple_GET_ITEM(o, 0)) || !PyUnicode_Check(PyTuple_GET_ITEM(o, 1))) {
        PyErr_Format(PyExc_TypeError, "%s must be a tuple (attribute name, 'S' | 'N' | 'B'), "
                     "not %R", what, o);
        return -1;
    }
    Py_ssize_t n;
    *name = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(o, 0), &n);
    if (*name == NULL)
        return -1;
    if ((size_t)n != strlen(*name)) {
        PyErr_Format(st->ValidationError, "%s: attribute name holds a NUL character", what);
        return -1;
    }
    const char *t = PyUnicode_AsUTF8(PyTuple_GET_ITEM(o, 1));
    if (t == NULL)
        return -1;
    if (strcmp(t, "S") == 0)
        *type = KEEL_DB_KEY_S;
    else if (strcmp(t, "N") == 0)
        *type = KEEL_DB_KEY_N;
    else if (strcmp(t, "B") == 0)
        *type = KEEL_DB_KEY_B;
    else {
        PyErr_Format(st->ValidationError, "%s '%s': type must be 'S', 'N' or 'B', not '%s'",
                     what, *name, t);
        return -1;
    }
    return 0;
}

PyObject *
kdp_db_create_table(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs,
                    PyObject *kwnames)
{
    static const char *const names[] = {"name", "partition_key", "sort_key", "global_indexes",
                                        "local_indexes"};
    PyObject *a[5];
    if (kdp_parse_args("create_table", args, nargs, kwnames, names, 2, 3, 5, a) < 0)
        return NULL;
    const char *name = kdp_table_name(self->st, a[0]);
    if (name == NULL)
        return NULL;
    keel_db_schema schema = {NULL, KEEL_DB_KEY_NONE, NULL, KEEL_DB_KEY_NONE};
    if (parse_key_def(self->st, a[1], "partition_key", &schema.pk_name, &schema.pk_type) < 0)
        return NULL;
    if (a[2] != NULL && a[2] != Py_None &&
        parse_key_def(self->st, a[2], "sort_key", &schema.sk_name, &schema.sk_type) < 0)
        return NULL;
    if (db_check(self) < 0)
        return NULL;
    PyObject *keep = PyList_New(0);
    if (keep == NULL)
        return NULL;
    keel_db_index_def *defs = NULL;
    size_t n = 0;
    if (kdp_index_defs(self->st, a[3], a[4], schema.pk_name, schema.pk_type, &defs, &n,
                       keep) < 0) {
        Py_DECREF(keep);
        return NULL;
    }
    keel_status rc;
    IO_CALL(self, rc = keel_db_create_table_ex(self->db, name, &schema, defs, n));
    kdp_index_defs_free(defs, n);
    Py_DECREF(keep);
    if (rc != KEEL_OK)
        return kdp_raise_status(self->st, rc, "create_table", NULL);
    Py_RETURN_NONE;
}

PyObject *
kdp_db_delete_table(DatabaseObject *self, PyObject *name_arg)
{
    const char *name = kdp_table_name(self->st, name_arg);
    if (name == NULL || db_check(self) < 0)
        return NULL;
    keel_status rc;
    IO_CALL(self, rc = keel_db_delete_table(self->db, name));
    if (rc != KEEL_OK)
        return kdp_raise_status(self->st, rc, "delete_table", NULL);
    Py_RETURN_NONE;
}

static PyObject *
key_def(const char *name, keel_db_keytype t)
{
    char type[2] = {(char)t, '\0'};
    return Py_BuildValue("(ss)", name, type);
}

PyObject *
kdp_db_describe_table(DatabaseObject *self, PyObject *name_arg)
{
    const char *name = kdp_table_name(self->st, name_arg);
    if (name == NULL || db_check(self) < 0)
        return NULL;
    keel_db_table_info info;
    keel_status rc = keel_db_describe_table(self->db, name, &info);
    if (rc != KEEL_OK)
        return kdp_raise_status(self->st, rc, "describe_table", NULL);
    PyObject *pk = key_def(info.pk_name, info.pk_type);
    PyObject *sk = info.sk_type != KEEL_DB_KEY_NONE ? key_def(info.sk_name, info.sk_type)
                                                   : Py_NewRef(Py_None);
    PyObject *r = NULL;
    if (pk != NULL && sk != NULL)
        r = Py_BuildValue("{sssOsOsKsKsK}", "name", info.name, "partition_key", pk, "sort_key",
                          sk, "item_count", (unsigned long long)info.items, "size_bytes",
                          (unsigned long long)info.bytes, "created",
                          (unsigned long long)info.created);
    Py_XDECREF(pk);
    Py_XDECREF(sk);
    return r;
}

PyObject *
kdp_db_list_tables(DatabaseObject *self, PyObject *Py_UNUSED(unused))
{
    if (db_check(self) < 0)
        return NULL;
    char *names = NULL;
    size_t n = 0;
    keel_status rc = keel_db_list_tables(self->db, &names, &n);
    if (rc != KEEL_OK)
        return kdp_raise_status(self->st, rc, "list_tables", NULL);
    PyObject *out = PyList_New((Py_ssize_t)n);
    const char *p = names;
    for (size_t i = 0; out && i < n; i++) {
        PyObject *s = PyUnicode_FromString(p);
        if (s == NULL) {
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, (Py_ssize_t)i, s);
        p += strlen(p) + 1;
    }
    free(names);
    return out;
}

PyObject *
kdp_db_count(DatabaseObject *self, PyObject *name_arg)
{
    const char *name = kdp_table_name(self->st, name_arg);
    if (name == NULL || db_check(self) < 0)
        return NULL;
    uint64_t n = 0;
    keel_status rc = keel_db_count(self->db, name, &n);
    if (rc != KEEL_OK)
        return kdp_raise_status(self->st, rc, "count", NULL);
    return PyLong_FromUnsignedLongLong(n);
}

/* ---- items ---------------------------------------------------------------------------- */

/* The key dict's attributes by value for keel_db_get_item_attrs: 1 if the dict is of the
 * form a key lookup takes without CBOR (an exact dict of one or two exact-str names mapped
 * to exact str, exact bytes or an exact int that fits int64), else 0 and the caller encodes
 * the dict as before (every other type, and every error, comes from that path). No Python
 * code runs here (the GIL is held throughout), so the dict and the borrowed names' and
 * values' bytes stay as they are until the library returns. */
static int
key_attrs(PyObject *key, keel_db_key_attr a[2], size_t *count)
{
    if (!PyDict_CheckExact(key))
        return 0;
    Py_ssize_t n = PyDict_GET_SIZE(key), pos = 0;
    if (n < 1 || n > 2)
        return 0;
    PyObject *k, *v;
    size_t i = 0;
    while (i < 2 && PyDict_Next(key, &pos, &k, &v)) {
        if (!PyUnicode_CheckExact(k) || !PyUnicode_IS_COMPACT_ASCII(k))
            return 0;   /* other names need PyUnicode_AsUTF8AndSize: the encoder's way */
        a[i].name = (const char *)PyUnicode_DATA(k);
        a[i].name_len = (size_t)PyUnicode_GET_LENGTH(k);
        if (PyUnicode_CheckExact(v)) {
            if (!PyUnicode_IS_COMPACT_ASCII(v))
                return 0;
            a[i].type = KEEL_DB_KEY_S;
            a[i].data = PyUnicode_DATA(v);
            a[i].len = (size_t)PyUnicode_GET_LENGTH(v);
        } else if (PyLong_CheckExact(v)) {
            int overflow;
            long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
            if (overflow)
                return 0;
            a[i].type = KEEL_DB_KEY_N;
            a[i].n = (int64_t)x;
        } else if (PyBytes_CheckExact(v)) {
            a[i].type = KEEL_DB_KEY_B;
            a[i].data = PyBytes_AS_STRING(v);
            a[i].len = (size_t)PyBytes_GET_SIZE(v);
        } else {
            return 0;
        }
        i++;
    }
    *count = i;
    return i == (size_t)n;
}

/* get_item on a table named by its UTF-8 name (Database.get_item and Table.get_item). The
 * GIL stays held: a lookup does not wait on I/O (see common.h). A key of the usual form is
 * passed by value (key_attrs), any other encoded as CBOR; the library gives both the same
 * results and errors. */
PyObject *
kdp_get_item(DatabaseObject *self, const char *table, PyObject *key)
{
    if (db_check(self) < 0)
        return NULL;
    keel_view v;
    keel_status rc;
    keel_db_key_attr a[2];
    size_t n;
    if (key_attrs(key, a, &n)) {
        rc = keel_db_get_item_attrs(self->db, table, a, n, &v);
    } else {
        kdp_buf b;
        kdp_buf_init(&b);
        if (kdp_encode_item(self->st, &b, key, "key") < 0) {
            kdp_buf_free(&b);
            return NULL;
        }
        rc = keel_db_get_item(self->db, table, b.p, b.len, &v);
        kdp_buf_free(&b);
    }
    if (rc == KEEL_NOTFOUND)
        Py_RETURN_NONE;
    if (rc != KEEL_OK)
        return kdp_raise_status(self->st, rc, "get_item", NULL);
    return db_decode_view(self, self, v.data, v.len);
}

PyObject *
kdp_db_get_item(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"table", "key"};
    PyObject *a[2];
    if (kdp_parse_args("get_item", args, nargs, kwnames, names, 2, 2, 2, a) < 0)
        return NULL;
    const char *table = kdp_table_name(self->st, a[0]);
    return table == NULL ? NULL : kdp_get_item(self, table, a[1]);
}

PyObject *
kdp_db_batch_write_items(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs,
                         PyObject *kwnames)
{
    static const char *const names[] = {"table", "puts", "deletes"};
    PyObject *a[3];
    if (kdp_parse_args("batch_write_items", args, nargs, kwnames, names, 1, 3, 3, a) < 0)
        return NULL;
    const char *name = kdp_table_name(self->st, a[0]);
    if (name == NULL || db_check(self) < 0)
        return NULL;
    PyObject *puts = NULL, *dels = NULL, *result = NULL;
    size_t *offs = NULL;
    keel_db_write *w = NULL;
    Py_ssize_t np = 0, nd = 0;
    kdp_buf b;
    kdp_buf_init(&b);
    if (a[1] && a[1] != Py_None &&
        !(puts = PySequence_Fast(a[1], "batch_write(): puts must be a list of items")))
        goto out;
    if (a[2] && a[2] != Py_None &&
        !(dels = PySequence_Fast(a[2], "batch_write(): deletes must be a list of keys")))
        goto out;
    np = puts ? PySequence_Fast_GET_SIZE(puts) : 0;
    nd = dels ? PySequence_Fast_GET_SIZE(dels) : 0;
    offs = PyMem_Calloc((size_t)(np + nd) + 1, sizeof *offs);
    w = PyMem_Calloc((size_t)(np + nd) + 1, sizeof *w);
    if (offs == NULL || w == NULL) {
        PyErr_NoMemory();
        goto out;
    }
    for (Py_ssize_t i = 0; i < np + nd; i++) {
        offs[i] = b.len;
        PyObject *o = i < np ? PySequence_Fast_GET_ITEM(puts, i)
                             : PySequence_Fast_GET_ITEM(dels, i - np);
        if (kdp_encode_item(self->st, &b, o, i < np ? "item" : "key") < 0)
            goto out;
    }
    offs[np + nd] = b.len;
    for (Py_ssize_t i = 0; i < np + nd; i++) {
        w[i].table = name;
        w[i].item = b.p + offs[i];
        w[i].item_len = offs[i + 1] - offs[i];
        w[i].is_delete = i >= np;
    }
    keel_status rc;
    IO_CALL(self, rc = keel_db_batch_write(self->db, w, (size_t)(np + nd)));
    if (rc != KEEL_OK)
        kdp_raise_status(self->st, rc, "batch_write", NULL);
    else
        result = PyLong_FromSsize_t(np + nd);
out:
    PyMem_Free(offs);
    PyMem_Free(w);
    kdp_buf_free(&b);
    Py_XDECREF(puts);
    Py_XDECREF(dels);
    return result;
}

PyObject *
kdp_db_batch_get_items(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs,
                       PyObject *kwnames)
{
    static const char *const names[] = {"table", "keys"};
    PyObject *a[2];
    if (kdp_parse_args("batch_get_items", args, nargs, kwnames, names, 2, 2, 2, a) < 0)
        return NULL;
    const char *name = kdp_table_name(self->st, a[0]);
    if (name == NULL || db_check(self) < 0)
        return NULL;
    if (PyDict_Check(a[1]))
        return PyErr_Format(PyExc_TypeError, "batch_get() takes a list of keys, not a dict");
    PyObject *seq = PySequence_Fast(a[1], "batch_get() takes a list of keys");
    if (seq == NULL)
        return NULL;
    PyObject *out = PyList_New(0);
    kdp_buf b;
    kdp_buf_init(&b);
    for (Py_ssize_t i = 0; out && i < PySequence_Fast_GET_SIZE(seq); i++) {
        b.len = 0;
        if (kdp_encode_item(self->st, &b, PySequence_Fast_GET_ITEM(seq, i), "key") < 0) {
            Py_CLEAR(out);
            break;
        }
        if (db_check(self) < 0) {
            Py_CLEAR(out);
            break;
        }
        keel_view v;
        keel_status rc = keel_db_get_item(self->db, name, b.p, b.len, &v);
        if (rc == KEEL_NOTFOUND)
            continue;
        PyObject *item = rc == KEEL_OK ? db_decode_view(self, self, v.data, v.len)
                                       : kdp_raise_status(self->st, rc, "batch_get", NULL);
        if (item == NULL || PyList_Append(out, item) < 0)
            Py_CLEAR(out);
        Py_XDECREF(item);
    }
    kdp_buf_free(&b);
    Py_DECREF(seq);
    return out;
}
