/*
 * partiql.c: Database.execute and Database.batch_execute, PartiQL (keel_db_execute,
 * keel_db_batch_execute) from Python.
 *
 * Parameters are Python values, encoded as one CBOR array by the values table's encoder
 * (encode.c). The statement runs with the GIL released (a write takes the writer lock);
 * the items are then read from the result and decoded under the GIL into a list. Items
 * are decoded with their vectors copied (db NULL): a projected item lives in the result's
 * buffer, which is gone once the list is built. Errors raise as every other call does
 * (module.c's status map), an INSERT of an existing item as DuplicateItemError.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common.h"

/* parameters (a sequence, or None) -> a CBOR array in `b`. 0, or -1 with an exception. */
static int
encode_params(kdp_state *st, kdp_buf *b, PyObject *params)
{
    if (params == NULL || params == Py_None)
        return 0;
    if (PyUnicode_Check(params) || PyBytes_Check(params) || PyDict_Check(params)) {
        PyErr_SetString(PyExc_TypeError, "parameters must be a list or tuple of values");
        return -1;
    }
    PyObject *seq = PySequence_Fast(params, "parameters must be a list or tuple of values");
    if (seq == NULL)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    int rc = kdp_put_head(b, 4, (uint64_t)n);
    for (Py_ssize_t i = 0; i < n && rc == 0; i++)
        rc = kdp_encode_value(st, b, PySequence_Fast_GET_ITEM(seq, i), "parameters");
    Py_DECREF(seq);
    return rc;
}

static int
opt_limit(PyObject *o, uint64_t *out)
{
    *out = 0;
    if (o == NULL || o == Py_None)
        return 0;
    unsigned long long v;
    if (keeldb_int_arg(o, "limit", 1, ULLONG_MAX, &v) < 0)
        return -1;
    *out = v;
    return 0;
}

PyObject *
kdp_db_execute(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"statement", "parameters", "limit"};
    PyObject *a[3];
    if (kdp_parse_args("execute", args, nargs, kwnames, names, 1, 3, 3, a) < 0)
        return NULL;
    if (!PyUnicode_Check(a[0])) {
        PyErr_SetString(PyExc_TypeError, "statement must be a str");
        return NULL;
    }
    Py_ssize_t slen;
    const char *stmt = PyUnicode_AsUTF8AndSize(a[0], &slen);
    if (stmt == NULL)
        return NULL;
    if ((size_t)slen != strlen(stmt)) {
        PyErr_SetString(PyExc_ValueError, "statement contains a NUL character");
        return NULL;
    }
    keel_db_execute_opts o = KEEL_DB_EXECUTE_OPTS_INIT;
    if (opt_limit(a[2], &o.limit) < 0 || db_check(self) < 0)
        return NULL;
    kdp_buf b;
    kdp_buf_init(&b);
    if (encode_params(self->st, &b, a[1]) < 0) {   /* may run Python code: pin after it */
        kdp_buf_free(&b);
        return NULL;
    }
    if (db_pin(self) < 0) {     /* the result reads the mapping until it is freed */
        kdp_buf_free(&b);
        return NULL;
    }
    keel_db_result *r = NULL;
    keel_status rc;
    const uint8_t *pp = b.len ? b.p : NULL;
    size_t plen = b.len;
    IO_CALL(self, rc = keel_db_execute(self->db, stmt, pp, plen, &o, &r));
    kdp_buf_free(&b);
    if (rc != KEEL_OK) {
        db_unpin(self);
        return kdp_raise_status(self->st, rc, "execute", NULL);
    }
    PyObject *list = PyList_New(0);
    keel_view v;
    while (list != NULL && (rc = keel_db_result_next(r, &v)) == KEEL_OK) {
        PyObject *item = kdp_decode(self->st, NULL, v.data, v.len);
        if (item == NULL || PyList_Append(list, item) < 0)
            Py_CLEAR(list);
        Py_XDECREF(item);
    }
    keel_db_result_free(r);
    db_unpin(self);
    if (list != NULL && rc != KEEL_NOTFOUND) {
        Py_DECREF(list);
        return kdp_raise_status(self->st, rc, "execute", NULL);
    }
    return list;
}

/* DynamoDB's error code for a status. */
static const char *
error_code(keel_status rc)
{
    switch (rc) {
    case KEEL_ECONDITION: return "ConditionalCheckFailed";
    case KEEL_EDUPLICATE: return "DuplicateItem";
    case KEEL_ENOTABLE: return "ResourceNotFound";
    case KEEL_EVALIDATION:
    case KEEL_ESYNTAX: return "ValidationError";
    default: return "InternalServerError";
    }
}

/* One statement of a batch: str, (statement, parameters) or {"Statement", "Parameters"}. */
static int
batch_item(kdp_state *st, PyObject *o, PyObject **stmt, PyObject **params)
{
    *params = NULL;
    if (PyUnicode_Check(o)) {
        *stmt = o;
        return 0;
    }
    if (PyTuple_Check(o) && PyTuple_GET_SIZE(o) == 2) {
        *stmt = PyTuple_GET_ITEM(o, 0);
        *params = PyTuple_GET_ITEM(o, 1);
    } else if (PyDict_Check(o)) {
        *stmt = PyDict_GetItemString(o, "Statement");
        *params = PyDict_GetItemString(o, "Parameters");
    } else {
        *stmt = NULL;
    }
    if (*stmt == NULL || !PyUnicode_Check(*stmt)) {
        PyErr_SetString(st->ValidationError, "batch_execute: each statement is a str, a "
                        "(statement, parameters) pair or {\"Statement\": ..., \"Parameters\": ...}");
        return -1;
    }
    return 0;
}

PyObject *
kdp_db_batch_execute(DatabaseObject *self, PyObject *statements)
{
    if (db_check(self) < 0)
        return NULL;
    PyObject *seq = PySequence_Fast(statements, "batch_execute takes a list of statements");
    if (seq == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    keel_db_statement *stmts = PyMem_Calloc(n ? (size_t)n : 1, sizeof *stmts);
    keel_db_batch_response *resp = PyMem_Calloc(n ? (size_t)n : 1, sizeof *resp);
    kdp_buf *bufs = PyMem_Calloc(n ? (size_t)n : 1, sizeof *bufs);
    PyObject *result = NULL;
    Py_ssize_t ready = 0;
    if (stmts == NULL || resp == NULL || bufs == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (; ready < n; ready++) {
        PyObject *s, *p;
        kdp_buf_init(&bufs[ready]);
        if (batch_item(self->st, PySequence_Fast_GET_ITEM(seq, ready), &s, &p) < 0 ||
            (stmts[ready].statement = PyUnicode_AsUTF8(s)) == NULL ||
            encode_params(self->st, &bufs[ready], p) < 0) {
            ready++;
            goto done;
        }
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        stmts[i].params = bufs[i].len ? bufs[i].p : NULL;
        stmts[i].params_len = bufs[i].len;
    }
    keel_status rc;
    IO_CALL(self, rc = keel_db_batch_execute(self->db, stmts, (size_t)n, resp));
    if (rc != KEEL_OK) {
        kdp_raise_status(self->st, rc, "batch_execute", NULL);
        goto done;
    }
    result = PyList_New(n);
    for (Py_ssize_t i = 0; result != NULL && i < n; i++) {
        PyObject *d = NULL;
        if (resp[i].status != KEEL_OK)
            d = Py_BuildValue("{s{ssss}}", "Error", "Code", error_code(resp[i].status), "Message",
                              resp[i].message);
        else if (resp[i].item.data != NULL) {
            PyObject *item = kdp_decode(self->st, NULL, resp[i].item.data, resp[i].item.len);
            d = item ? Py_BuildValue("{sN}", "Item", item) : NULL;
        } else
            d = PyDict_New();
        if (d == NULL)
            Py_CLEAR(result);
        else
            PyList_SET_ITEM(result, i, d);
    }
done:
    if (resp != NULL)
        keel_db_batch_responses_free(resp, (size_t)n);
    for (Py_ssize_t i = 0; bufs != NULL && i < ready; i++)
        kdp_buf_free(&bufs[i]);
    PyMem_Free(stmts);
    PyMem_Free(resp);
    PyMem_Free(bufs);
    Py_DECREF(seq);
    return result;
}
