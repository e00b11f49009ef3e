/*
 * dynamo.c: Database._dynamo_handle(operation, body): one DynamoDB request through the C
 * handler of keel_server.h, the same function `keel serve` calls for each HTTP request.
 * keeldb.dynamodb builds its boto3-shaped client on it, so the in-process client and the
 * server share one implementation of the protocol.
 *
 * The body is any bytes-like object (JSON text; the handler treats it as untrusted). The
 * call runs with the GIL released under oplock (IO_CALL), like the other writes. Returns
 * (status, body bytes, __type): status 200 with __type "" or the DynamoDB error.
 */
#include "common.h"

#include "keel_server.h"

PyObject *
kdp_db_dynamo_handle(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "_dynamo_handle(operation, body) takes 2 arguments");
        return NULL;
    }
    const char *op = PyUnicode_AsUTF8(args[0]);
    if (op == NULL)
        return NULL;
    Py_buffer view;
    if (PyObject_GetBuffer(args[1], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    if (db_check(self) < 0) {
        PyBuffer_Release(&view);
        return NULL;
    }
    keel_dynamo_response r;
    int status;
    IO_CALL(self, status = keel_dynamo_handle(self->db, op, view.buf, (size_t)view.len, &r));
    PyBuffer_Release(&view);
    PyObject *res = Py_BuildValue("(iy#s)", status, r.body, (Py_ssize_t)r.len, r.type);
    keel_dynamo_response_free(&r);
    return res;
}
