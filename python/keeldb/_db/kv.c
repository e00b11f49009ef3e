/*
 * kv.c: KeystoneDB's API on the Database type, over the default table: put/get/delete with
 * an optional sort key and their _with_sk forms, batch_write, batch_get and flush (the
 * method table is database.c's).
 *
 * Keys of the default table are bytes (or str, encoded as UTF-8) and are not attributes of
 * the item, as in KeystoneDB; sk=None is "no sort key", distinct from sk=b"". Writes release
 * the GIL around the library call (IO_CALL); gets keep it, like get_item.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common.h"

/* ---------------------------------------------------------------------------------------
 * KeystoneDB's API: the default table
 */

/* Borrow pk and the optional sk (NULL or None: no sort key). */
static int
get_keys(PyObject *pk_arg, PyObject *sk_arg, kdp_key *pk, kdp_key *sk, int *has_sk)
{
    if (kdp_key_get(pk_arg, pk, "partition key") < 0)
        return -1;
    *has_sk = sk_arg != NULL && sk_arg != Py_None;
    if (*has_sk && kdp_key_get(sk_arg, sk, "sort key") < 0) {
        kdp_key_release(pk);
        return -1;
    }
    return 0;
}

static PyObject *
kv_put(DatabaseObject *self, PyObject *pk_arg, PyObject *sk_arg, PyObject *item)
{
    if (db_check(self) < 0)
        return NULL;
    kdp_buf b;
    kdp_buf_init(&b);
    if (kdp_encode_item(self->st, &b, item, "item") < 0) {
        kdp_buf_free(&b);
        return NULL;
    }
    kdp_key pk, sk;
    int has_sk;
    if (get_keys(pk_arg, sk_arg, &pk, &sk, &has_sk) < 0) {
        kdp_buf_free(&b);
        return NULL;
    }
    keel_status rc;
    IO_CALL(self, rc = keel_db_kv_put(self->db, pk.buf, (size_t)pk.len,
                                      has_sk ? sk.buf : NULL, has_sk ? (size_t)sk.len : 0,
                                      b.p, b.len));
    kdp_key_release(&pk);
    if (has_sk)
        kdp_key_release(&sk);
    kdp_buf_free(&b);
    if (rc != KEEL_OK)
        return kdp_raise_status(self->st, rc, "put", NULL);
    Py_RETURN_NONE;
}

static PyObject *
kv_get(DatabaseObject *self, PyObject *pk_arg, PyObject *sk_arg)
{
    if (db_check(self) < 0)
        return NULL;
    kdp_key pk, sk;
    int has_sk;
    if (get_keys(pk_arg, sk_arg, &pk, &sk, &has_sk) < 0)
        return NULL;
    keel_view v;
    keel_status rc = keel_db_kv_get(self->db, pk.buf, (size_t)pk.len, has_sk ? sk.buf : NULL,
                                    has_sk ? (size_t)sk.len : 0, &v);
    kdp_key_release(&pk);
    if (has_sk)
        kdp_key_release(&sk);
    if (rc == KEEL_NOTFOUND)
        Py_RETURN_NONE;
    if (rc != KEEL_OK)
        return kdp_raise_status(self->st, rc, "get", NULL);
    return db_decode_view(self, self, v.data, v.len);
}

static PyObject *
kv_delete(DatabaseObject *self, PyObject *pk_arg, PyObject *sk_arg)
{
    if (db_check(self) < 0)
        return NULL;
    kdp_key pk, sk;
    int has_sk;
    if (get_keys(pk_arg, sk_arg, &pk, &sk, &has_sk) < 0)
        return NULL;
    keel_status rc;
    IO_CALL(self, rc = keel_db_kv_delete(self->db, pk.buf, (size_t)pk.len,
                                         has_sk ? sk.buf : NULL, has_sk ? (size_t)sk.len : 0));
    kdp_key_release(&pk);
    if (has_sk)
        kdp_key_release(&sk);
    if (rc != KEEL_OK)
        return kdp_raise_status(self->st, rc, "delete", NULL);
    Py_RETURN_NONE;
}

PyObject *
kdp_db_put(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"pk", "item", "sk"};
    PyObject *a[3];
    if (kdp_parse_args("put", args, nargs, kwnames, names, 2, 3, 3, a) < 0)
        return NULL;
    return kv_put(self, a[0], a[2], a[1]);
}

PyObject *
kdp_db_put_with_sk(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs,
                     PyObject *kwnames)
{
    static const char *const names[] = {"pk", "sk", "item"};
    PyObject *a[3];
    if (kdp_parse_args("put_with_sk", args, nargs, kwnames, names, 3, 3, 3, a) < 0)
        return NULL;
    if (a[1] == Py_None)
        return PyErr_Format(PyExc_TypeError, "put_with_sk(): sk must be bytes or str, not None");
    return kv_put(self, a[0], a[1], a[2]);
}

PyObject *
kdp_db_get(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"pk", "sk"};
    PyObject *a[2];
    if (kwnames == NULL && nargs == 1) {
        a[0] = args[0];
        a[1] = NULL;
    } else if (kdp_parse_args("get", args, nargs, kwnames, names, 1, 2, 2, a) < 0) {
        return NULL;
    }
    return kv_get(self, a[0], a[1]);
}

PyObject *
kdp_db_get_with_sk(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs,
                     PyObject *kwnames)
{
    static const char *const names[] = {"pk", "sk"};
    PyObject *a[2];
    if (kdp_parse_args("get_with_sk", args, nargs, kwnames, names, 2, 2, 2, a) < 0)
        return NULL;
    if (a[1] == Py_None)
        return PyErr_Format(PyExc_TypeError, "get_with_sk(): sk must be bytes or str, not None");
    return kv_get(self, a[0], a[1]);
}

PyObject *
kdp_db_delete(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs,
                PyObject *kwnames)
{
    static const char *const names[] = {"pk", "sk"};
    PyObject *a[2];
    if (kdp_parse_args("delete", args, nargs, kwnames, names, 1, 2, 2, a) < 0)
        return NULL;
    return kv_delete(self, a[0], a[1]);
}

PyObject *
kdp_db_delete_with_sk(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs,
                        PyObject *kwnames)
{
    static const char *const names[] = {"pk", "sk"};
    PyObject *a[2];
    if (kdp_parse_args("delete_with_sk", args, nargs, kwnames, names, 2, 2, 2, a) < 0)
        return NULL;
    if (a[1] == Py_None)
        return PyErr_Format(PyExc_TypeError,
                            "delete_with_sk(): sk must be bytes or str, not None");
    return kv_delete(self, a[0], a[1]);
}

/* One write of a default-table batch, with the Python objects it borrows. */
typedef struct {
    kdp_key pk, sk;
    int has_sk, held;
    PyObject *hold;     /* strong: the (pk, ...) tuple the keys point into */
    size_t off, len;    /* the item's CBOR in the shared buffer (puts) */
} kv_op;

/* (pk, item) | (pk, sk, item) for puts; pk | (pk, sk) for deletes. */
static int
kv_op_parse(kdp_state *st, PyObject *o, int is_put, kdp_buf *b, kv_op *op, Py_ssize_t i)
{
    PyObject *pk = o, *sk = NULL, *item = NULL;
    if (PyTuple_Check(o) || PyList_Check(o)) {
        Py_ssize_t n = PySequence_Fast_GET_SIZE(o);
        PyObject **v = PySequence_Fast_ITEMS(o);
        if (is_put && n == 2)
            pk = v[0], item = v[1];
        else if (is_put && n == 3)
            pk = v[0], sk = v[1], item = v[2];
        else if (!is_put && n == 2)
            pk = v[0], sk = v[1];
        else {
            PyErr_Format(PyExc_TypeError, "batch_write(): %s %zd must be %s, not a %zd-tuple",
                         is_put ? "put" : "delete", i,
                         is_put ? "(pk, item) or (pk, sk, item)" : "pk or (pk, sk)", n);
            return -1;
        }
    } else if (is_put) {
        PyErr_Format(PyExc_TypeError,
                     "batch_write(): put %zd must be (pk, item) or (pk, sk, item), not '%.200s'",
                     i, Py_TYPE(o)->tp_name);
        return -1;
    }
    if (item != NULL) {
        op->off = b->len;
        if (kdp_encode_item(st, b, item, "item") < 0)
            return -1;
        op->len = b->len - op->off;
    }
    if (get_keys(pk, sk, &op->pk, &op->sk, &op->has_sk) < 0)
        return -1;
    op->held = 1;
    op->hold = Py_NewRef(o);    /* later items' encoding may run Python code */
    return 0;
}

PyObject *
kdp_db_batch_write(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs,
                     PyObject *kwnames)
{
    static const char *const names[] = {"puts", "deletes"};
    PyObject *a[2];
    if (kdp_parse_args("batch_write", args, nargs, kwnames, names, 0, 2, 2, a) < 0)
        return NULL;
    if (db_check(self) < 0)
        return NULL;
    PyObject *puts = NULL, *dels = NULL, *result = NULL;
    kv_op *ops = NULL;
    keel_db_kv_write *w = NULL;
    Py_ssize_t np = 0, nd = 0, n = 0;
    kdp_buf b;
    kdp_buf_init(&b);
    if (a[0] && a[0] != Py_None &&
        !(puts = PySequence_Fast(a[0], "batch_write(): puts must be a list")))
        goto out;
    if (a[1] && a[1] != Py_None &&
        !(dels = PySequence_Fast(a[1], "batch_write(): deletes must be a list")))
        goto out;
    np = puts ? PySequence_Fast_GET_SIZE(puts) : 0;
    nd = dels ? PySequence_Fast_GET_SIZE(dels) : 0;
    ops = PyMem_Calloc((size_t)(np + nd) + 1, sizeof *ops);
    w = PyMem_Calloc((size_t)(np + nd) + 1, sizeof *w);
    if (ops == NULL || w == NULL) {
        PyErr_NoMemory();
        goto out;
    }
    for (; n < np + nd; n++) {
        int is_put = n < np;
        PyObject *o = is_put ? PySequence_Fast_GET_ITEM(puts, n)
                             : PySequence_Fast_GET_ITEM(dels, n - np);
        if (kv_op_parse(self->st, o, is_put, &b, &ops[n], is_put ? n : n - np) < 0)
            goto out;
    }
    /* The items' bytes are final only now (the buffer may have moved while growing). */
    for (Py_ssize_t i = 0; i < n; i++) {
        w[i].pk = ops[i].pk.buf;
        w[i].pk_len = (size_t)ops[i].pk.len;
        w[i].sk = ops[i].has_sk ? ops[i].sk.buf : NULL;
        w[i].sk_len = ops[i].has_sk ? (size_t)ops[i].sk.len : 0;
        w[i].is_delete = i >= np;
        w[i].item = i < np ? b.p + ops[i].off : NULL;
        w[i].item_len = i < np ? ops[i].len : 0;
    }
    keel_status rc;
    IO_CALL(self, rc = keel_db_kv_batch_write(self->db, w, (size_t)n));
    if (rc != KEEL_OK)
        kdp_raise_status(self->st, rc, "batch_write", NULL);
    else
        result = PyLong_FromSsize_t(n);
out:
    for (Py_ssize_t i = 0; ops && i < np + nd; i++) {
        if (!ops[i].held)
            continue;
        kdp_key_release(&ops[i].pk);
        if (ops[i].has_sk)
            kdp_key_release(&ops[i].sk);
        Py_XDECREF(ops[i].hold);
    }
    PyMem_Free(ops);
    PyMem_Free(w);
    kdp_buf_free(&b);
    Py_XDECREF(puts);
    Py_XDECREF(dels);
    return result;
}

/* batch_get([pk | (pk, sk), ...]) -> {key as given: item} for the keys found. */
PyObject *
kdp_db_batch_get(DatabaseObject *self, PyObject *keys)
{
    if (db_check(self) < 0)
        return NULL;
    if (PyUnicode_Check(keys) || PyBytes_Check(keys))
        return PyErr_Format(PyExc_TypeError, "batch_get() takes a list of keys, not '%.200s'",
                            Py_TYPE(keys)->tp_name);
    PyObject *seq = PySequence_Fast(keys, "batch_get() takes a list of keys");
    if (seq == NULL)
        return NULL;
    PyObject *out = PyDict_New();
    for (Py_ssize_t i = 0; out && i < PySequence_Fast_GET_SIZE(seq); i++) {
        PyObject *k = PySequence_Fast_GET_ITEM(seq, i), *pk = k, *sk = NULL;
        if (PyTuple_Check(k)) {
            if (PyTuple_GET_SIZE(k) != 2) {
                PyErr_Format(PyExc_TypeError, "batch_get(): key %zd must be pk or (pk, sk)", i);
                Py_CLEAR(out);
                break;
            }
            pk = PyTuple_GET_ITEM(k, 0);
            sk = PyTuple_GET_ITEM(k, 1);
        }
        PyObject *item = kv_get(self, pk, sk);
        if (item == NULL || (item != Py_None && PyDict_SetItem(out, k, item) < 0))
            Py_CLEAR(out);
        Py_XDECREF(item);
    }
    Py_DECREF(seq);
    return out;
}

PyObject *
kdp_db_flush(DatabaseObject *self, PyObject *Py_UNUSED(ignored))
{
    if (db_check(self) < 0)
        return NULL;
    if (self->readonly)
        Py_RETURN_NONE;
    keel_status rc;
    IO_CALL(self, rc = keel_db_sync(self->db));
    if (rc != KEEL_OK)
        return kdp_raise_status(self->st, rc, "flush", NULL);
    Py_RETURN_NONE;
}
