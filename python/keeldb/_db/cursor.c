/*
 * cursor.c: Database.query and Database.scan, and the Cursor they return: an iterator over
 * a keel_db_cursor. Every expression is parsed (and its placeholders checked) by
 * keel_db_query_start/keel_db_scan_start before the first item is read, so a malformed
 * request raises at the call, not at the first next().
 *
 * The loop and the conversion stay in C: each refill takes up to CURSOR_BATCH items from
 * the library with the GIL released (the library filters them over the stored bytes, so a
 * rejected item never becomes Python objects); __next__ then converts one item under the
 * GIL. Whole items are views into the mapping (vectors zero copy); projected items live
 * in the library's cursor buffer only until its next call, so the refill copies them.
 * When the library reports the end, .last_key is set: the key to pass as start_key= when
 * limit= stopped the cursor, else None.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common.h"

#include <stdlib.h>

/* The request's Python arguments, converted. */
typedef struct {
    keel_db_query q;
    kdp_buf names, values, start;
} request;

static void
request_free(request *r)
{
    kdp_buf_free(&r->names);
    kdp_buf_free(&r->values);
    kdp_buf_free(&r->start);
}

static int
opt_str(PyObject *o, const char *what, const char **out)
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
        PyErr_Format(PyExc_ValueError, "%s holds a NUL character", what);
        return -1;
    }
    return 0;
}

/* A non-negative int (None: absent). */
static int
opt_uint(kdp_state *st, PyObject *o, const char *what, unsigned long long max, int min,
         unsigned long long *out, int *present)
{
    *present = o != NULL && o != Py_None;
    if (!*present)
        return 0;
    if (!PyLong_Check(o) || PyBool_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int, not '%.200s'", what,
                     Py_TYPE(o)->tp_name);
        return -1;
    }
    int overflow;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (overflow || v < min || (unsigned long long)v > max) {
        PyErr_Format(st->ValidationError, "%s must be between %d and %llu, not %R", what, min,
                     max, o);
        return -1;
    }
    *out = (unsigned long long)v;
    return 0;
}

/* values=, names=, filter=, projection=, limit=, start_key= */
static int
parse_common(DatabaseObject *self, request *r, PyObject *values, PyObject *names,
             PyObject *filter, PyObject *projection, PyObject *limit, PyObject *start_key)
{
    kdp_state *st = self->st;
    if (opt_str(filter, "filter", &r->q.filter) < 0 ||
        opt_str(projection, "projection", &r->q.projection) < 0)
        return -1;
    if (values != NULL && values != Py_None) {
        if (kdp_encode_placeholders(st, &r->values, values, "values", 0) < 0)
            return -1;
        r->q.values = r->values.p;
        r->q.values_len = r->values.len;
    }
    if (names != NULL && names != Py_None) {
        if (kdp_encode_placeholders(st, &r->names, names, "names", 1) < 0)
            return -1;
        r->q.names = r->names.p;
        r->q.names_len = r->names.len;
    }
    unsigned long long lim = 0;
    int has;
    if (opt_uint(st, limit, "limit", UINT64_MAX >> 1, 1, &lim, &has) < 0)
        return -1;
    r->q.limit = lim;
    if (start_key != NULL && start_key != Py_None) {
        if (kdp_encode_item(st, &r->start, start_key, "start_key") < 0)
            return -1;
        r->q.start_key = r->start.p;
        r->q.start_key_len = r->start.len;
    }
    return 0;
}

static PyObject *
new_cursor(DatabaseObject *self, keel_db_cursor *c, int projected)
{
    CursorObject *cur = PyObject_GC_New(CursorObject, self->st->Cursor_type);
    if (cur == NULL) {
        keel_db_cursor_free(c);
        return NULL;
    }
    cur->db = (DatabaseObject *)Py_NewRef((PyObject *)self);
    cur->c = c;
    cur->projected = projected;
    cur->done = 0;
    cur->busy = 0;
    cur->last_key = Py_NewRef(Py_None);
    cur->n = cur->i = 0;
    cur->copies = NULL;
    cur->copies_cap = 0;
    PyObject_GC_Track(cur);
    return (PyObject *)cur;
}

PyObject *
kdp_db_query(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"table", "key_condition", "values", "names", "filter",
                                        "projection", "forward", "limit", "start_key", "index"};
    PyObject *a[10];
    if (kdp_parse_args("query", args, nargs, kwnames, names, 2, 2, 10, a) < 0)
        return NULL;
    const char *table = kdp_table_name(self->st, a[0]);
    if (table == NULL || db_check(self) < 0)
        return NULL;
    request r;
    keel_db_query q0 = KEEL_DB_QUERY_INIT;
    r.q = q0;
    kdp_buf_init(&r.names);
    kdp_buf_init(&r.values);
    kdp_buf_init(&r.start);
    PyObject *result = NULL;
    if (a[1] == Py_None || opt_str(a[1], "key_condition", &r.q.key_condition) < 0) {
        if (a[1] == Py_None)
            PyErr_SetString(PyExc_TypeError, "key_condition must be a str, not None");
        goto out;
    }
    if (parse_common(self, &r, a[2], a[3], a[4], a[5], a[7], a[8]) < 0 ||
        opt_str(a[9], "index", &r.q.index) < 0)
        goto out;
    int forward = a[6] ? PyObject_IsTrue(a[6]) : 1;
    if (forward < 0)
        goto out;
    r.q.forward = forward;
    keel_db_cursor *c = NULL;
    keel_status rc = keel_db_query_start(self->db, table, &r.q, &c);
    if (rc != KEEL_OK)
        kdp_raise_status(self->st, rc, "query", NULL);
    else
        result = new_cursor(self, c, r.q.projection != NULL);
out:
    request_free(&r);
    return result;
}

PyObject *
kdp_db_scan(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"table", "filter", "values", "names", "projection",
                                        "limit", "start_key", "segment", "total_segments",
                                        "index"};
    PyObject *a[10];
    if (kdp_parse_args("scan", args, nargs, kwnames, names, 1, 1, 10, a) < 0)
        return NULL;
    const char *table = kdp_table_name(self->st, a[0]);
    if (table == NULL || db_check(self) < 0)
        return NULL;
    request r;
    keel_db_query q0 = KEEL_DB_QUERY_INIT;
    r.q = q0;
    kdp_buf_init(&r.names);
    kdp_buf_init(&r.values);
    kdp_buf_init(&r.start);
    PyObject *result = NULL;
    if (parse_common(self, &r, a[2], a[3], a[1], a[4], a[5], a[6]) < 0 ||
        opt_str(a[9], "index", &r.q.index) < 0)
        goto out;
    unsigned long long seg = 0, total = 0;
    int has_seg, has_total;
    if (opt_uint(self->st, a[7], "segment", UINT32_MAX, 0, &seg, &has_seg) < 0 ||
        opt_uint(self->st, a[8], "total_segments", UINT32_MAX, 1, &total, &has_total) < 0)
        goto out;
    if (has_seg != has_total) {
        PyErr_SetString(self->st->ValidationError,
                        "segment and total_segments go together: give both or neither");
        goto out;
    }
    r.q.segment = (uint32_t)seg;
    r.q.total_segments = (uint32_t)total;
    keel_db_cursor *c = NULL;
    keel_status rc = keel_db_scan_start(self->db, table, &r.q, &c);
    if (rc != KEEL_OK)
        kdp_raise_status(self->st, rc, "scan", NULL);
    else
        result = new_cursor(self, c, r.q.projection != NULL);
out:
    request_free(&r);
    return result;
}

/* ---------------------------------------------------------------------------------------
 * Cursor
 */

/* What one refill collected, without the GIL. */
typedef struct {
    size_t offs[CURSOR_BATCH];  /* projected items: offsets into cur->copies */
    size_t n;
    int nomem;
    keel_status rc;             /* of the last keel_db_cursor_next (or of last_key) */
    uint8_t *key;               /* malloc'd copy of the last key, or NULL */
    size_t key_len;
} batch;

/* Runs with the GIL released: touches only the C cursor and our own buffers. */
static void
collect(CursorObject *cur, batch *b)
{
    keel_db_cursor *c = cur->c;
    size_t used = 0;
    for (; b->n < CURSOR_BATCH; b->n++) {
        keel_view v;
        b->rc = keel_db_cursor_next(c, &v);
        if (b->rc != KEEL_OK)
            break;
        cur->items[b->n] = v;
        if (!cur->projected)
            continue;
        /* The projection lives in the cursor's buffer only until its next call. */
        if (used + v.len > cur->copies_cap) {
            size_t cap = cur->copies_cap ? cur->copies_cap : 4096;
            while (cap < used + v.len)
                cap *= 2;
            uint8_t *p = realloc(cur->copies, cap);
            if (p == NULL) {
                b->nomem = 1;
                return;
            }
            cur->copies = p;
            cur->copies_cap = cap;
        }
        memcpy(cur->copies + used, v.data, v.len);
        b->offs[b->n] = used;
        used += v.len;
    }
    if (b->rc != KEEL_NOTFOUND)
        return;
    keel_view k;
    keel_status kr = keel_db_cursor_last_key(c, &k);
    if (kr == KEEL_OK) {
        if ((b->key = malloc(k.len ? k.len : 1)) == NULL) {
            b->nomem = 1;
            return;
        }
        memcpy(b->key, k.data, k.len);
        b->key_len = k.len;
    } else if (kr != KEEL_NOTFOUND) {
        b->rc = kr;
    }
}

/* Fill the batch: up to CURSOR_BATCH items, GIL released. 0, or -1 with an exception. */
static int
refill(CursorObject *cur)
{
    DatabaseObject *db = cur->db;
    batch b = {.n = 0, .nomem = 0, .rc = KEEL_OK, .key = NULL, .key_len = 0};
    cur->busy = 1;
    IO_CALL(db, collect(cur, &b));
    cur->busy = 0;
    if (b.nomem) {
        free(b.key);
        PyErr_NoMemory();
        return -1;
    }
    if (b.rc != KEEL_OK && b.rc != KEEL_NOTFOUND) {
        free(b.key);
        kdp_raise_status(db->st, b.rc, "cursor", NULL);
        return -1;
    }
    if (cur->projected)
        for (size_t i = 0; i < b.n; i++)
            cur->items[i].data = cur->copies + b.offs[i];
    cur->n = b.n;
    cur->i = 0;
    if (b.rc == KEEL_NOTFOUND) {
        cur->done = 1;
        if (b.key != NULL) {
            PyObject *k = kdp_decode(db->st, NULL, b.key, b.key_len);
            free(b.key);
            if (k == NULL)
                return -1;
            Py_XSETREF(cur->last_key, k);
        }
    }
    return 0;
}

static PyObject *
Cursor_next(CursorObject *cur)
{
    if (cur->busy) {
        /* A keel_db_cursor is for one thread at a time, like any iterator. */
        PyErr_SetString(PyExc_RuntimeError,
                        "cursor is being advanced by another thread; give each thread its own "
                        "query or scan (or a segment of a parallel scan)");
        return NULL;
    }
    if (db_check(cur->db) < 0)
        return NULL;
    while (cur->i == cur->n) {
        if (cur->done)
            return NULL;    /* StopIteration */
        if (refill(cur) < 0)
            return NULL;
    }
    keel_view v = cur->items[cur->i++];
    return db_decode_view(cur->db, cur->projected ? NULL : cur->db, v.data, v.len);
}

static PyObject *
Cursor_iter(CursorObject *cur)
{
    return Py_NewRef((PyObject *)cur);
}

/* A cursor can sit in a cycle (kept in an attribute of a Database subclass, or in a dict a
 * last_key refers to): it takes part in garbage collection. `db` is kept until dealloc,
 * since the C cursor points into it. */
static int
Cursor_traverse(CursorObject *cur, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(cur));
    Py_VISIT(cur->db);
    Py_VISIT(cur->last_key);
    return 0;
}

static int
Cursor_clear(CursorObject *cur)
{
    Py_CLEAR(cur->last_key);
    return 0;
}

static void
Cursor_dealloc(CursorObject *cur)
{
    PyTypeObject *tp = Py_TYPE(cur);
    PyObject_GC_UnTrack(cur);
    keel_db_cursor_free(cur->c);
    free(cur->copies);
    Py_XDECREF(cur->last_key);
    Py_XDECREF(cur->db);
    PyObject_GC_Del(cur);
    Py_DECREF(tp);
}

static PyObject *
Cursor_get_last_key(CursorObject *cur, void *Py_UNUSED(c))
{
    return Py_NewRef(cur->last_key ? cur->last_key : Py_None);
}

static PyObject *
Cursor_get_scanned(CursorObject *cur, void *Py_UNUSED(c))
{
    uint64_t scanned = 0, returned = 0;
    keel_db_cursor_counts(cur->c, &scanned, &returned);
    return PyLong_FromUnsignedLongLong(scanned);
}

static PyObject *
Cursor_get_done(CursorObject *cur, void *Py_UNUSED(c))
{
    return PyBool_FromLong(cur->done && cur->i == cur->n);
}

static PyGetSetDef Cursor_getset[] = {
    {"last_key", (getter)Cursor_get_last_key, NULL,
     "Where to resume (pass as start_key=) when limit= stopped the cursor; None otherwise "
     "and until the cursor is exhausted.", NULL},
    {"scanned_count", (getter)Cursor_get_scanned, NULL,
     "Items evaluated so far (before the filter).", NULL},
    {"done", (getter)Cursor_get_done, NULL, "True once every item has been returned.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyType_Slot Cursor_slots[] = {
    {Py_tp_doc, "An iterator over the items of a query or a scan (Database.query, "
                "Database.scan, Table.query, Table.scan)."},
    {Py_tp_dealloc, Cursor_dealloc},
    {Py_tp_traverse, Cursor_traverse},
    {Py_tp_clear, Cursor_clear},
    {Py_tp_iter, Cursor_iter},
    {Py_tp_iternext, Cursor_next},
    {Py_tp_getset, Cursor_getset},
    {0, NULL}};

PyType_Spec kdp_cursor_spec = {
    .name = "keeldb.Cursor",
    .basicsize = sizeof(CursorObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | NO_NEW_FLAG,
    .slots = Cursor_slots,
};
