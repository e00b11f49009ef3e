/*
 * writes.c: Database methods for DynamoDB's conditional writes and transactions:
 * put_item and delete_item (with condition, names, values, return_values), update_item,
 * and the flat forms of TransactWriteItems and TransactGetItems that keeldb.Database
 * (python/keeldb/db.py) calls after unpacking DynamoDB's TransactItems shape.
 *
 * Each method parses its arguments, encodes items and placeholders to CBOR, calls one
 * keel_db_ function with the GIL released and converts the result: ReturnValues come back
 * as a dict (or None when DynamoDB would return no Attributes). A failed condition raises
 * keeldb.ConditionalCheckFailed with .item (the current item when
 * return_values_on_condition_check_failure="ALL_OLD", else None); a canceled transaction
 * raises keeldb.TransactionCanceled with .reasons, one dict per action in DynamoDB's
 * CancellationReasons shape ({"Code": "None"} or {"Code": ..., "Message": ..., "Item": ...}).
 * Results are buffers the library allocated; they are decoded with copies (not views) and
 * freed before returning.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common.h"

#include <stdlib.h>

/* ---- options ----------------------------------------------------------------------------- */

typedef struct wopts {
    keel_db_write_opts o;
    kdp_buf names, values;
} wopts;

static void
wopts_init(wopts *w)
{
    keel_db_write_opts o = KEEL_DB_WRITE_OPTS_INIT;
    w->o = o;
    kdp_buf_init(&w->names);
    kdp_buf_init(&w->values);
}

static void
wopts_free(wopts *w)
{
    kdp_buf_free(&w->names);
    kdp_buf_free(&w->values);
}

/* An optional str argument (None or absent: NULL). */
static int
opt_str(kdp_state *st, PyObject *o, const char *what, const char **out)
{
    *out = NULL;
    if (o == NULL || o == Py_None)
        return 0;
    if (!PyUnicode_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be a str, not '%.200s'", what,
                     Py_TYPE(o)->tp_name);
        return -1;
    }
    Py_ssize_t n;
    *out = PyUnicode_AsUTF8AndSize(o, &n);
    if (*out == NULL)
        return -1;
    if ((size_t)n != strlen(*out)) {
        PyErr_Format(st->ValidationError, "%s holds a NUL character", what);
        return -1;
    }
    return 0;
}

static int
parse_rv(kdp_state *st, PyObject *o, keel_db_return *out)
{
    static const char *const rv[] = {"NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"};
    const char *s;
    *out = KEEL_DB_RETURN_NONE;
    if (opt_str(st, o, "return_values", &s) < 0)
        return -1;
    if (s == NULL)
        return 0;
    for (int i = 0; i < 5; i++)
        if (strcmp(s, rv[i]) == 0) {
            *out = (keel_db_return)i;
            return 0;
        }
    PyErr_Format(st->ValidationError, "return_values must be one of NONE, ALL_OLD, "
                 "UPDATED_OLD, ALL_NEW, UPDATED_NEW, not '%s'", s);
    return -1;
}

/* ReturnValuesOnConditionCheckFailure: "NONE" or "ALL_OLD"; True/False also accepted. */
static int
parse_rvf(kdp_state *st, PyObject *o, int *out)
{
    *out = 0;
    if (o == NULL || o == Py_None)
        return 0;
    if (PyBool_Check(o)) {
        *out = o == Py_True;
        return 0;
    }
    const char *s;
    if (opt_str(st, o, "return_values_on_condition_check_failure", &s) < 0)
        return -1;
    if (strcmp(s, "ALL_OLD") == 0 || strcmp(s, "NONE") == 0) {
        *out = s[0] == 'A';
        return 0;
    }
    PyErr_Format(st->ValidationError, "return_values_on_condition_check_failure must be "
                 "NONE or ALL_OLD, not '%s'", s);
    return -1;
}

static int
parse_wopts(kdp_state *st, PyObject *cond, PyObject *names, PyObject *values, PyObject *rv,
            PyObject *rvf, wopts *w)
{
    if (opt_str(st, cond, "condition", &w->o.condition) < 0 ||
        parse_rv(st, rv, &w->o.return_values) < 0 ||
        parse_rvf(st, rvf, &w->o.return_old_on_condition_failure) < 0)
        return -1;
    if (names != NULL && names != Py_None) {
        if (kdp_encode_placeholders(st, &w->names, names, "names", 1) < 0)
            return -1;
        w->o.names = w->names.p;
        w->o.names_len = w->names.len;
    }
    if (values != NULL && values != Py_None) {
        if (kdp_encode_placeholders(st, &w->values, values, "values", 0) < 0)
            return -1;
        w->o.values = w->values.p;
        w->o.values_len = w->values.len;
    }
    return 0;
}

/* ---- results and exceptions -------------------------------------------------------------- */

/* A result buffer as a dict (None when empty), freeing it. */
static PyObject *
take_result(kdp_state *st, keel_db_buf *b)
{
    PyObject *r = b->data ? kdp_decode(st, NULL, b->data, b->len) : Py_NewRef(Py_None);
    keel_db_buf_free(b);
    return r;
}

/* Raise `type` with message `msg` and the attribute `attr` = `value` (stolen). */
static PyObject *
raise_with(PyObject *type, PyObject *msg, const char *attr, PyObject *value)
{
    PyObject *exc = msg && value ? PyObject_CallOneArg(type, msg) : NULL;
    if (exc != NULL && PyObject_SetAttrString(exc, attr, value) == 0)
        PyErr_SetObject(type, exc);
    Py_XDECREF(exc);
    Py_XDECREF(msg);
    Py_XDECREF(value);
    return NULL;
}

static PyObject *
write_result(DatabaseObject *self, keel_status rc, const char *what, keel_db_buf *out)
{
    kdp_state *st = self->st;
    if (rc == KEEL_OK)
        return take_result(st, out);
    if (rc == KEEL_ECONDITION) {
        PyObject *msg = PyUnicode_FromFormat("%s: %s", what, keel_errmsg());
        return raise_with(st->ConditionalCheckFailed, msg, "item", take_result(st, out));
    }
    keel_db_buf_free(out);
    return kdp_raise_status(st, rc, what, NULL);
}

/* ---- put_item, delete_item, update_item -------------------------------------------------- */

/* put_item / delete_item on the table named `table`: a[0..5] are (item-or-key, condition,
 * names, values, return_values, return_values_on_condition_check_failure), NULL where
 * absent. Shared by Database.put_item/delete_item and Table.put_item/delete_item. */
PyObject *
kdp_put_or_delete(DatabaseObject *self, int is_put, const char *table, PyObject *const *a)
{
    const char *fname = is_put ? "put_item" : "delete_item";
    if (db_check(self) < 0)
        return NULL;
    kdp_buf b;
    kdp_buf_init(&b);
    wopts w;
    wopts_init(&w);
    PyObject *r = NULL;
    if (kdp_encode_item(self->st, &b, a[0], is_put ? "item" : "key") == 0 &&
        parse_wopts(self->st, a[1], a[2], a[3], a[4], a[5], &w) == 0) {
        keel_status rc;
        keel_db_buf out = {NULL, 0};
        if (is_put)
            IO_CALL(self, rc = keel_db_put_item_ex(self->db, table, b.p, b.len, &w.o, &out));
        else
            IO_CALL(self, rc = keel_db_delete_item_ex(self->db, table, b.p, b.len, &w.o, &out));
        r = write_result(self, rc, fname, &out);
    }
    wopts_free(&w);
    kdp_buf_free(&b);
    return r;
}

static PyObject *
put_or_delete(DatabaseObject *self, int is_put, PyObject *const *args, Py_ssize_t nargs,
              PyObject *kwnames)
{
    static const char *const put_names[] = {"table", "item", "condition", "names", "values",
                                            "return_values",
                                            "return_values_on_condition_check_failure"};
    static const char *const del_names[] = {"table", "key", "condition", "names", "values",
                                            "return_values",
                                            "return_values_on_condition_check_failure"};
    PyObject *a[7];
    if (kdp_parse_args(is_put ? "put_item" : "delete_item", args, nargs, kwnames,
                       is_put ? put_names : del_names, 2, 7, 7, a) < 0)
        return NULL;
    const char *table = kdp_table_name(self->st, a[0]);
    return table == NULL ? NULL : kdp_put_or_delete(self, is_put, table, a + 1);
}

PyObject *
kdp_db_put_item(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    return put_or_delete(self, 1, args, nargs, kwnames);
}

PyObject *
kdp_db_delete_item(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs,
                   PyObject *kwnames)
{
    return put_or_delete(self, 0, args, nargs, kwnames);
}

/* update_item on the table named `table`: a[0..6] are (key, update, condition, names,
 * values, return_values, return_values_on_condition_check_failure), NULL where absent. */
PyObject *
kdp_update_item(DatabaseObject *self, const char *table, PyObject *const *a)
{
    if (db_check(self) < 0)
        return NULL;
    const char *update;
    kdp_buf b;
    kdp_buf_init(&b);
    wopts w;
    wopts_init(&w);
    PyObject *r = NULL;
    if (kdp_encode_item(self->st, &b, a[0], "key") == 0 &&
        opt_str(self->st, a[1], "update", &update) == 0 &&
        parse_wopts(self->st, a[2], a[3], a[4], a[5], a[6], &w) == 0) {
        keel_status rc;
        keel_db_buf out = {NULL, 0};
        IO_CALL(self, rc = keel_db_update_item(self->db, table, b.p, b.len, update, &w.o, &out));
        r = write_result(self, rc, "update_item", &out);
    }
    wopts_free(&w);
    kdp_buf_free(&b);
    return r;
}

PyObject *
kdp_db_update_item(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs,
                   PyObject *kwnames)
{
    static const char *const names[] = {"table", "key", "update", "condition", "names",
                                        "values", "return_values",
                                        "return_values_on_condition_check_failure"};
    PyObject *a[8];
    if (kdp_parse_args("update_item", args, nargs, kwnames, names, 2, 8, 8, a) < 0)
        return NULL;
    const char *table = kdp_table_name(self->st, a[0]);
    return table == NULL ? NULL : kdp_update_item(self, table, a + 1);
}

/* ---- transactions ------------------------------------------------------------------------ */

/* One reason as DynamoDB writes it. */
static PyObject *
reason_dict(kdp_state *st, keel_db_tx_reason *r)
{
    PyObject *d = Py_BuildValue("{ss}", "Code", r->code_name);
    if (d == NULL || r->code == KEEL_DB_REASON_NONE)
        return d;
    PyObject *m = PyUnicode_FromString(r->message);
    if (m == NULL || PyDict_SetItemString(d, "Message", m) < 0) {
        Py_XDECREF(m);
        Py_DECREF(d);
        return NULL;
    }
    Py_DECREF(m);
    if (r->item.data != NULL) {
        PyObject *item = take_result(st, &r->item);
        if (item == NULL || PyDict_SetItemString(d, "Item", item) < 0) {
            Py_XDECREF(item);
            Py_DECREF(d);
            return NULL;
        }
        Py_DECREF(item);
    }
    return d;
}

/* _transact_write([(kind, table, item_or_key, update, condition, names, values, rvocf),
 * ...]): kind 1 Put, 2 Update, 3 Delete, 4 ConditionCheck (keel_db_tx_kind). */
PyObject *
kdp_db_transact_write(DatabaseObject *self, PyObject *arg)
{
    kdp_state *st = self->st;
    PyObject *seq = PySequence_Fast(arg, "transact_write() takes a list of actions");
    if (seq == NULL || db_check(self) < 0) {
        Py_XDECREF(seq);
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject *result = NULL;
    size_t cnt = (size_t)n + 1;
    keel_db_tx_write *acts = PyMem_Calloc(cnt, sizeof *acts);
    keel_db_tx_reason *reasons = PyMem_Calloc(cnt, sizeof *reasons);
    size_t *off = PyMem_Calloc(3 * cnt, sizeof *off); /* item, names, values: start, end */
    size_t *end = PyMem_Calloc(3 * cnt, sizeof *end);
    kdp_buf bufs[3];
    for (int k = 0; k < 3; k++)
        kdp_buf_init(&bufs[k]);
    if (acts == NULL || reasons == NULL || off == NULL || end == NULL) {
        PyErr_NoMemory();
        goto out;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *t = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 8) {
            PyErr_SetString(PyExc_TypeError, "_transact_write: each action is an 8-tuple");
            goto out;
        }
        keel_db_tx_write *w = &acts[i];
        long kind = PyLong_AsLong(PyTuple_GET_ITEM(t, 0));
        if (kind == -1 && PyErr_Occurred())
            goto out;
        w->kind = (keel_db_tx_kind)kind;
        if ((w->table = kdp_table_name(st, PyTuple_GET_ITEM(t, 1))) == NULL ||
            opt_str(st, PyTuple_GET_ITEM(t, 3), "UpdateExpression", &w->update) < 0 ||
            opt_str(st, PyTuple_GET_ITEM(t, 4), "ConditionExpression", &w->condition) < 0 ||
            parse_rvf(st, PyTuple_GET_ITEM(t, 7), &w->return_old_on_condition_failure) < 0)
            goto out;
        /* Encoded back to back; pointers are set once no buffer moves any more. */
        PyObject *parts[3] = {PyTuple_GET_ITEM(t, 2), PyTuple_GET_ITEM(t, 5),
                              PyTuple_GET_ITEM(t, 6)};
        for (int k = 0; k < 3; k++) {
            off[3 * i + k] = end[3 * i + k] = bufs[k].len;
            if (parts[k] == Py_None)
                continue;
            int rc = k == 0 ? kdp_encode_item(st, &bufs[k], parts[k],
                                              kind == KEEL_DB_TX_PUT ? "Item" : "Key")
                            : kdp_encode_placeholders(st, &bufs[k], parts[k],
                                                      k == 1 ? "ExpressionAttributeNames"
                                                             : "ExpressionAttributeValues",
                                                      k == 1);
            if (rc < 0)
                goto out;
            end[3 * i + k] = bufs[k].len;
        }
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        keel_db_tx_write *w = &acts[i];
        w->item = bufs[0].p + off[3 * i];
        w->item_len = end[3 * i] - off[3 * i];
        if (end[3 * i + 1] > off[3 * i + 1]) {
            w->names = bufs[1].p + off[3 * i + 1];
            w->names_len = end[3 * i + 1] - off[3 * i + 1];
        }
        if (end[3 * i + 2] > off[3 * i + 2]) {
            w->values = bufs[2].p + off[3 * i + 2];
            w->values_len = end[3 * i + 2] - off[3 * i + 2];
        }
    }
    keel_status rc;
    IO_CALL(self, rc = keel_db_transact_write(self->db, acts, (size_t)n, reasons));
    if (rc == KEEL_OK) {
        result = Py_NewRef(Py_None);
    } else if (rc == KEEL_ECANCELED) {
        PyObject *msg = PyUnicode_FromString(keel_errmsg());
        PyObject *list = PyList_New(n);
        for (Py_ssize_t i = 0; list != NULL && i < n; i++) {
            PyObject *d = reason_dict(st, &reasons[i]);
            if (d == NULL)
                Py_CLEAR(list);
            else
                PyList_SET_ITEM(list, i, d);
        }
        raise_with(st->TransactionCanceled, msg, "reasons", list);
    } else {
        kdp_raise_status(st, rc, "transact_write", NULL);
    }
out:
    if (reasons != NULL)
        keel_db_tx_reasons_free(reasons, (size_t)n);
    for (int k = 0; k < 3; k++)
        kdp_buf_free(&bufs[k]);
    PyMem_Free(acts);
    PyMem_Free(reasons);
    PyMem_Free(off);
    PyMem_Free(end);
    Py_DECREF(seq);
    return result;
}

/* The member of a TransactItems action body that `k` names (its slot in the flat 8-tuple,
 * 1..7), or -1. */
static int
tx_member(PyObject *k)
{
    static const char *const members[] = {NULL, "TableName", NULL, "UpdateExpression",
                                          "ConditionExpression", "ExpressionAttributeNames",
                                          "ExpressionAttributeValues",
                                          "ReturnValuesOnConditionCheckFailure"};
    if (!PyUnicode_Check(k))
        return -1;
    if (PyUnicode_CompareWithASCIIString(k, "Item") == 0 ||
        PyUnicode_CompareWithASCIIString(k, "Key") == 0)
        return 2;
    for (int i = 1; i < 8; i++)
        if (members[i] != NULL && PyUnicode_CompareWithASCIIString(k, members[i]) == 0)
            return i;
    return -1;
}

/* One action {"Put": {...}} as the flat tuple _transact_write takes, or NULL without an
 * exception when it is not in the plain shape (then db.py's checks name the problem). */
static PyObject *
tx_flat(PyObject *action)
{
    static const char *const kinds[] = {NULL, "Put", "Update", "Delete", "ConditionCheck"};
    PyObject *name, *body, *k, *v;
    Py_ssize_t pos = 0;
    if (!PyDict_CheckExact(action) || PyDict_GET_SIZE(action) != 1 ||
        !PyDict_Next(action, &pos, &name, &body) || !PyUnicode_Check(name) ||
        !PyDict_CheckExact(body))
        return NULL;
    long kind = 0;
    for (long i = 1; i <= 4; i++)
        if (PyUnicode_CompareWithASCIIString(name, kinds[i]) == 0)
            kind = i;
    if (kind == 0)
        return NULL;
    PyObject *parts[8] = {NULL};
    pos = 0;
    while (PyDict_Next(body, &pos, &k, &v)) {
        int m = tx_member(k);
        if (m < 0 || (m == 3 && kind != KEEL_DB_TX_UPDATE))
            return NULL;
        if (m == 2 &&
            PyUnicode_CompareWithASCIIString(k, kind == KEEL_DB_TX_PUT ? "Item" : "Key") != 0)
            return NULL;
        parts[m] = v;
    }
    if (parts[1] == NULL || parts[2] == NULL || parts[2] == Py_None)
        return NULL;
    PyObject *t = PyTuple_New(8);
    if (t == NULL)
        return NULL;
    PyTuple_SET_ITEM(t, 0, PyLong_FromLong(kind));  /* a small int: never fails */
    for (int i = 1; i < 8; i++)
        PyTuple_SET_ITEM(t, i, Py_NewRef(parts[i] ? parts[i] : Py_None));
    return t;
}

/* _transact_write_items(actions): TransactWriteItems straight from DynamoDB's shape. An
 * action list of plain dicts in that shape is flattened here and run; anything else
 * (another kind of mapping or sequence, an unknown member, a missing TableName, Item or
 * Key) returns NotImplemented, before anything is written, so that Database.transact_write
 * unpacks it in Python and raises the error that names the problem. The Python unpacking
 * cost about 40 % of a 10-put transaction (callgrind). */
PyObject *
kdp_db_transact_write_items(DatabaseObject *self, PyObject *arg)
{
    if (!PyList_CheckExact(arg) && !PyTuple_CheckExact(arg))
        Py_RETURN_NOTIMPLEMENTED;
    PyObject *seq = PySequence_Fast(arg, "transact_write() takes a list of actions");
    if (seq == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject *flat = PyList_New(n), *r = NULL;
    for (Py_ssize_t i = 0; flat != NULL && i < n; i++) {
        PyObject *t = tx_flat(PySequence_Fast_GET_ITEM(seq, i));
        if (t == NULL) {
            Py_CLEAR(flat);
            if (!PyErr_Occurred())
                r = Py_NewRef(Py_NotImplemented);
            break;
        }
        PyList_SET_ITEM(flat, i, t);
    }
    Py_DECREF(seq);
    if (flat != NULL) {
        r = kdp_db_transact_write(self, flat);
        Py_DECREF(flat);
    }
    return r;
}

/* _transact_get([(table, key, projection, names), ...]) -> [item or None, ...] */
PyObject *
kdp_db_transact_get(DatabaseObject *self, PyObject *arg)
{
    kdp_state *st = self->st;
    PyObject *seq = PySequence_Fast(arg, "transact_get() takes a list of gets");
    if (seq == NULL || db_check(self) < 0) {
        Py_XDECREF(seq);
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject *result = NULL;
    size_t cnt = (size_t)n + 1;
    keel_db_tx_get *g = PyMem_Calloc(cnt, sizeof *g);
    keel_db_buf *out = PyMem_Calloc(cnt, sizeof *out);
    size_t *off = PyMem_Calloc(4 * cnt, sizeof *off);
    kdp_buf keys, names;
    kdp_buf_init(&keys);
    kdp_buf_init(&names);
    if (g == NULL || out == NULL || off == NULL) {
        PyErr_NoMemory();
        goto out;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *t = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 4) {
            PyErr_SetString(PyExc_TypeError, "_transact_get: each get is a 4-tuple");
            goto out;
        }
        if ((g[i].table = kdp_table_name(st, PyTuple_GET_ITEM(t, 0))) == NULL ||
            opt_str(st, PyTuple_GET_ITEM(t, 2), "ProjectionExpression", &g[i].projection) < 0)
            goto out;
        off[4 * i] = keys.len;
        if (kdp_encode_item(st, &keys, PyTuple_GET_ITEM(t, 1), "Key") < 0)
            goto out;
        off[4 * i + 1] = keys.len;
        off[4 * i + 2] = off[4 * i + 3] = names.len;
        if (PyTuple_GET_ITEM(t, 3) != Py_None) {
            if (kdp_encode_placeholders(st, &names, PyTuple_GET_ITEM(t, 3),
                                        "ExpressionAttributeNames", 1) < 0)
                goto out;
            off[4 * i + 3] = names.len;
        }
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        g[i].key = keys.p + off[4 * i];
        g[i].key_len = off[4 * i + 1] - off[4 * i];
        if (off[4 * i + 3] > off[4 * i + 2]) {
            g[i].names = names.p + off[4 * i + 2];
            g[i].names_len = off[4 * i + 3] - off[4 * i + 2];
        }
    }
    keel_status rc;
    IO_CALL(self, rc = keel_db_transact_get(self->db, g, (size_t)n, out));
    if (rc != KEEL_OK) {
        kdp_raise_status(st, rc, "transact_get", NULL);
        goto out;
    }
    result = PyList_New(n);
    for (Py_ssize_t i = 0; result != NULL && i < n; i++) {
        PyObject *item = take_result(st, &out[i]);
        if (item == NULL)
            Py_CLEAR(result);
        else
            PyList_SET_ITEM(result, i, item);
    }
out:
    for (Py_ssize_t i = 0; out != NULL && i < n; i++)
        keel_db_buf_free(&out[i]);
    kdp_buf_free(&keys);
    kdp_buf_free(&names);
    PyMem_Free(g);
    PyMem_Free(out);
    PyMem_Free(off);
    Py_DECREF(seq);
    return result;
}
