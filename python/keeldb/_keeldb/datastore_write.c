/*
 * datastore_write.c: DataStore's writes: write and store[k] = v, batch_write,
 * write_stream, delete and del store[k], batch_delete, rename, copy and transfer. Each
 * checks that the store is open, pins its bytes-like arguments (no copies) and runs the
 * engine call with the GIL released under oplock (IO_CALL, see common.h). Batches pin
 * every item first, so another thread changing the list meanwhile cannot free them.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common.h"

/* write_stream holds up to this much of the reader's output (bytes objects by reference)
 * and stores it with one gathered write (keel_putv); a longer stream is staged by
 * keel_stream_write instead. */
#define STREAM_HOLD_BYTES ((size_t)16 << 20)
#define STREAM_HOLD_CHUNKS 4096

/* ---------------------------------------------------------------------------------------
 * DataStore: writes
 */

PyObject *
kdb_store_write(StoreObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"key", "data"};
    PyObject *a[2];
    if (kwnames == NULL && nargs == 2) {
        a[0] = args[0];
        a[1] = args[1];
    } else if (kdb_parse_args("write", args, nargs, kwnames, names, 2, 2, a) < 0)
        return NULL;
    if (store_check(self) < 0)
        return NULL;
    barg k, v;
    if (kdb_barg_get(a[0], &k, "key") < 0)
        return NULL;
    if (kdb_barg_get(a[1], &v, "value") < 0) {
        barg_release(&k);
        return NULL;
    }
    keel_status rc;
    IO_CALL(self, rc = keel_put(self->s, k.buf, (size_t)k.len, v.buf, (size_t)v.len));
    PyObject *res =
        rc == KEEL_OK ? Py_NewRef(Py_None) : kdb_raise_status(self->st, rc, "write", NULL);
    barg_release(&v);
    barg_release(&k);
    return res;
}

int
kdb_store_ass_subscript(StoreObject *self, PyObject *key, PyObject *value)
{
    if (store_check(self) < 0)
        return -1;
    barg k, v;
    if (kdb_barg_get(key, &k, "key") < 0)
        return -1;
    keel_status rc;
    if (value == NULL) {
        IO_CALL(self, rc = keel_delete(self->s, k.buf, (size_t)k.len));
        if (rc == KEEL_NOTFOUND) {
            PyErr_SetObject(PyExc_KeyError, key);
            barg_release(&k);
            return -1;
        }
    } else {
        if (kdb_barg_get(value, &v, "value") < 0) {
            barg_release(&k);
            return -1;
        }
        IO_CALL(self, rc = keel_put(self->s, k.buf, (size_t)k.len, v.buf, (size_t)v.len));
        barg_release(&v);
    }
    barg_release(&k);
    if (rc != KEEL_OK) {
        kdb_raise_status(self->st, rc, value == NULL ? "delete" : "write", NULL);
        return -1;
    }
    return 0;
}

/* Items of a batch: each key and value stays pinned (reference or Py_buffer) until the
 * engine call returns, whatever another thread does to the list meanwhile. */
typedef struct {
    PyObject *seq;      /* PySequence_Fast result */
    barg *args;         /* 2 per item for pairs, 1 per item for keys */
    Py_ssize_t nargs;   /* how many of args are filled */
    PyObject **refs;    /* strong references to the items' objects */
    Py_ssize_t nrefs;
} pinned;

static void
pinned_release(pinned *p)
{
    for (Py_ssize_t i = 0; i < p->nargs; i++)
        barg_release(&p->args[i]);
    for (Py_ssize_t i = 0; i < p->nrefs; i++)
        Py_DECREF(p->refs[i]);
    PyMem_Free(p->args);
    PyMem_Free(p->refs);
    Py_XDECREF(p->seq);
    memset(p, 0, sizeof(*p));
}

/* Pin every element of `obj` (pairs: each a 2-sequence of key, value; else keys). */
static int
pin_items(PyObject *obj, int pairs, pinned *p, const char *fname)
{
    memset(p, 0, sizeof(*p));
    if (PyUnicode_Check(obj) || PyBytes_Check(obj) || PyByteArray_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s() takes a sequence of %s, not '%.200s'", fname,
                     pairs ? "(key, value) pairs" : "keys", Py_TYPE(obj)->tp_name);
        return -1;
    }
    p->seq = PySequence_Fast(obj, pairs ? "batch_write() takes a sequence of (key, value) pairs"
                                        : "expected a sequence of keys");
    if (p->seq == NULL)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(p->seq);
    Py_ssize_t per = pairs ? 2 : 1;
    p->args = PyMem_Calloc((size_t)(n * per) + 1, sizeof(barg));
    p->refs = PyMem_Calloc((size_t)(n * per) + 1, sizeof(PyObject *));
    if (p->args == NULL || p->refs == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    PyObject **items = PySequence_Fast_ITEMS(p->seq);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *it = items[i];
        if (pairs) {
            PyObject *kv = NULL;
            if (PyTuple_Check(it) && PyTuple_GET_SIZE(it) == 2) {
                kv = it;
                Py_INCREF(kv);
            } else if (!PyUnicode_Check(it) && !PyBytes_Check(it) && PySequence_Check(it)) {
                kv = PySequence_Tuple(it);
                if (kv == NULL)
                    goto fail;
                if (PyTuple_GET_SIZE(kv) != 2) {
                    Py_DECREF(kv);
                    kv = NULL;
                }
            }
            if (kv == NULL) {
                PyErr_Format(PyExc_TypeError,
                             "%s(): item %zd must be a (key, value) pair, not '%.200s'", fname,
                             i, Py_TYPE(it)->tp_name);
                goto fail;
            }
            /* The tuple keeps key and value alive. */
            p->refs[p->nrefs++] = kv;
            if (kdb_barg_get(PyTuple_GET_ITEM(kv, 0), &p->args[p->nargs], "key") < 0)
                goto fail;
            p->nargs++;
            if (kdb_barg_get(PyTuple_GET_ITEM(kv, 1), &p->args[p->nargs], "value") < 0)
                goto fail;
            p->nargs++;
        } else {
            Py_INCREF(it);
            p->refs[p->nrefs++] = it;
            if (kdb_barg_get(it, &p->args[p->nargs], "key") < 0)
                goto fail;
            p->nargs++;
        }
    }
    return 0;
fail:
    pinned_release(p);
    return -1;
}

PyObject *
kdb_store_batch_write(StoreObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"items"};
    PyObject *a[1];
    if (kdb_parse_args("batch_write", args, nargs, kwnames, names, 1, 1, a) < 0)
        return NULL;
    if (store_check(self) < 0)
        return NULL;
    pinned p;
    if (pin_items(a[0], 1, &p, "batch_write") < 0)
        return NULL;
    size_t n = (size_t)(p.nargs / 2);
    keel_kv *kv = PyMem_Malloc((n + 1) * sizeof(keel_kv));
    if (kv == NULL) {
        pinned_release(&p);
        return PyErr_NoMemory();
    }
    for (size_t i = 0; i < n; i++) {
        kv[i].key = p.args[2 * i].buf;
        kv[i].key_len = (size_t)p.args[2 * i].len;
        kv[i].value = p.args[2 * i + 1].buf;
        kv[i].value_len = (size_t)p.args[2 * i + 1].len;
    }
    keel_status rc = KEEL_OK;
    if (n > 0)
        IO_CALL(self, rc = keel_put_batch(self->s, kv, n));
    PyMem_Free(kv);
    pinned_release(&p);
    if (rc != KEEL_OK)
        return kdb_raise_status(self->st, rc, "batch_write", NULL);
    Py_RETURN_NONE;
}

PyObject *
kdb_store_write_stream(StoreObject *self, PyObject *const *args, Py_ssize_t nargs,
                       PyObject *kwnames)
{
    static const char *const names[] = {"key", "reader"};
    PyObject *a[2];
    if (kdb_parse_args("write_stream", args, nargs, kwnames, names, 2, 2, a) < 0)
        return NULL;
    if (store_check(self) < 0)
        return NULL;
    keeldb_state *st = self->st;
    PyObject *reader = a[1];
    PyObject *key = a[0];
    barg k;
    /* Validate the key before reading anything. */
    if (kdb_barg_get(key, &k, "key") < 0)
        return NULL;
    barg_release(&k);
    int has_read = PyObject_HasAttr(reader, st->str_read);
    if (!has_read || PyBytes_Check(reader) || PyByteArray_Check(reader) ||
        PyUnicode_Check(reader)) {
        PyErr_Format(PyExc_TypeError,
                     "write_stream() reader must be a file-like object with read(n), "
                     "not '%.200s' (use write() for a value in memory)",
                     Py_TYPE(reader)->tp_name);
        return NULL;
    }

    /* The stream is begun first so that a closed or read-only store fails before the
     * reader is called; it is only fed once the held chunks outgrow the hold limits. */
    keel_stream *stream = NULL;
    keel_status rc;
    IO_CALL(self, rc = keel_stream_begin(self->s, &stream));
    if (rc != KEEL_OK)
        return kdb_raise_status(st, rc, "write_stream", NULL);
    PyObject *held = PyList_New(0);  /* bytes chunks not yet given to the stream */
    if (held == NULL) {
        keel_stream_abort(stream);
        return NULL;
    }
    size_t held_len = 0;
    int spilled = 0;  /* chunks went to the stream: commit it rather than keel_putv */
    self->streams++;

    for (;;) {
        PyObject *chunk = PyObject_CallMethodObjArgs(reader, st->str_read, st->int_stream_size,
                                                     NULL);
        if (chunk == NULL)
            goto fail;
        barg c;
        if (chunk == Py_None) {
            Py_DECREF(chunk);
            PyErr_SetString(PyExc_TypeError,
                            "write_stream(): reader.read() returned None (a non-blocking "
                            "stream with no data?); expected bytes");
            goto fail;
        }
        if (kdb_barg_get(chunk, &c, "reader.read() result") < 0) {
            Py_DECREF(chunk);
            goto fail;
        }
        if (c.len == 0) {
            barg_release(&c);
            Py_DECREF(chunk);
            break;
        }
        size_t len = (size_t)c.len;
        if (!spilled && held_len + len <= STREAM_HOLD_BYTES &&
            PyList_GET_SIZE(held) < STREAM_HOLD_CHUNKS) {
            /* Keep the chunk: a bytes object by reference (immutable), anything else as a
             * copy (a reader may reuse its buffer for the next chunk). */
            PyObject *b = PyBytes_CheckExact(chunk)
                              ? Py_NewRef(chunk)
                              : PyBytes_FromStringAndSize(c.buf, (Py_ssize_t)len);
            barg_release(&c);
            Py_DECREF(chunk);
            if (b == NULL || PyList_Append(held, b) < 0) {
                Py_XDECREF(b);
                goto fail;
            }
            Py_DECREF(b);
            held_len += len;
            continue;
        }
        /* The store may have been closed by the reader (it cannot: close() refuses while a
         * stream is in progress), but check anyway before touching the handle. */
        if (self->closed) {
            barg_release(&c);
            Py_DECREF(chunk);
            kdb_raise_closed();
            goto fail;
        }
        if (!spilled) {
            /* Too long to hold: from now on the stream stages the value. */
            spilled = 1;
            for (Py_ssize_t i = 0; i < PyList_GET_SIZE(held) && rc == KEEL_OK; i++) {
                PyObject *h = PyList_GET_ITEM(held, i);
                const char *hb = PyBytes_AS_STRING(h);
                size_t hl = (size_t)PyBytes_GET_SIZE(h);
                IO_CALL(self, rc = keel_stream_write(stream, hb, hl));
            }
            if (PyList_SetSlice(held, 0, PyList_GET_SIZE(held), NULL) < 0) {
                barg_release(&c);
                Py_DECREF(chunk);
                goto fail;
            }
        }
        if (rc == KEEL_OK) {
            const char *buf = c.buf;
            IO_CALL(self, rc = keel_stream_write(stream, buf, len));
        }
        barg_release(&c);
        Py_DECREF(chunk);
        if (rc != KEEL_OK) {
            kdb_raise_status(st, rc, "write_stream", NULL);
            goto fail;
        }
    }

    if (kdb_barg_get(key, &k, "key") < 0)
        goto fail;
    if (self->closed) {
        barg_release(&k);
        kdb_raise_closed();
        goto fail;
    }
    if (spilled) {
        IO_CALL(self, rc = keel_stream_commit(stream, k.buf, (size_t)k.len));
    } else {
        /* Everything is held: one gathered write straight from the chunks. */
        Py_ssize_t n = PyList_GET_SIZE(held);
        keel_view *parts = PyMem_Malloc((size_t)(n ? n : 1) * sizeof *parts);
        if (parts == NULL) {
            barg_release(&k);
            PyErr_NoMemory();
            goto fail;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *h = PyList_GET_ITEM(held, i);
            parts[i].data = (const uint8_t *)PyBytes_AS_STRING(h);
            parts[i].len = (size_t)PyBytes_GET_SIZE(h);
        }
        IO_CALL(self, keel_stream_abort(stream);
                rc = keel_putv(self->s, k.buf, (size_t)k.len, parts, (size_t)n));
        PyMem_Free(parts);
    }
    stream = NULL;  /* freed by commit or abort whatever the outcome */
    barg_release(&k);
    Py_DECREF(held);
    self->streams--;
    if (rc != KEEL_OK)
        return kdb_raise_status(st, rc, "write_stream", NULL);
    Py_RETURN_NONE;

fail:
    if (stream != NULL) {
        Py_BEGIN_ALLOW_THREADS
        keel_stream_abort(stream);
        Py_END_ALLOW_THREADS
    }
    Py_DECREF(held);
    self->streams--;
    return NULL;
}

PyObject *
kdb_store_delete(StoreObject *self, PyObject *key)
{
    if (store_check(self) < 0)
        return NULL;
    barg k;
    if (kdb_barg_get(key, &k, "key") < 0)
        return NULL;
    keel_status rc;
    IO_CALL(self, rc = keel_delete(self->s, k.buf, (size_t)k.len));
    barg_release(&k);
    if (rc != KEEL_OK && rc != KEEL_NOTFOUND)
        return kdb_raise_status(self->st, rc, "delete", NULL);
    Py_RETURN_NONE;
}

PyObject *
kdb_store_batch_delete(StoreObject *self, PyObject *keys)
{
    if (store_check(self) < 0)
        return NULL;
    pinned p;
    if (pin_items(keys, 0, &p, "batch_delete") < 0)
        return NULL;
    size_t n = (size_t)p.nargs;
    keel_view *kv = PyMem_Malloc((n + 1) * sizeof(keel_view));
    if (kv == NULL) {
        pinned_release(&p);
        return PyErr_NoMemory();
    }
    for (size_t i = 0; i < n; i++) {
        kv[i].data = (const uint8_t *)p.args[i].buf;
        kv[i].len = (size_t)p.args[i].len;
    }
    size_t deleted = 0;
    keel_status rc = KEEL_OK;
    if (n > 0)
        IO_CALL(self, rc = keel_delete_batch(self->s, kv, n, &deleted));
    PyMem_Free(kv);
    pinned_release(&p);
    if (rc != KEEL_OK && rc != KEEL_NOTFOUND)
        return kdb_raise_status(self->st, rc, "batch_delete", NULL);
    return PyLong_FromSize_t(deleted);
}

PyObject *
kdb_store_rename(StoreObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"old_key", "new_key"};
    PyObject *a[2];
    if (kdb_parse_args("rename", args, nargs, kwnames, names, 2, 2, a) < 0)
        return NULL;
    if (store_check(self) < 0)
        return NULL;
    barg o, n;
    if (kdb_barg_get(a[0], &o, "old_key") < 0)
        return NULL;
    if (kdb_barg_get(a[1], &n, "new_key") < 0) {
        barg_release(&o);
        return NULL;
    }
    keel_status rc;
    IO_CALL(self, rc = keel_rename(self->s, o.buf, (size_t)o.len, n.buf, (size_t)n.len));
    barg_release(&n);
    barg_release(&o);
    if (rc == KEEL_NOTFOUND) {
        PyErr_SetObject(PyExc_KeyError, a[0]);
        return NULL;
    }
    if (rc != KEEL_OK)
        return kdb_raise_status(self->st, rc, "rename", NULL);
    Py_RETURN_NONE;
}

/* copy() and transfer(): key, target store, optional target key. */
static PyObject *
copy_or_move(StoreObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
             int move)
{
    static const char *const names[] = {"key", "target", "target_key"};
    const char *fname = move ? "transfer" : "copy";
    PyObject *a[3];
    if (kdb_parse_args(fname, args, nargs, kwnames, names, 2, 3, a) < 0)
        return NULL;
    if (store_check(self) < 0)
        return NULL;
    if (!PyObject_TypeCheck(a[1], self->st->DataStore_type)) {
        return PyErr_Format(PyExc_TypeError, "%s(): target must be a DataStore, not '%.200s'",
                            fname, Py_TYPE(a[1])->tp_name);
    }
    StoreObject *dst = (StoreObject *)a[1];
    if (store_check(dst) < 0)
        return NULL;
    PyObject *dkey = (a[2] != NULL && a[2] != Py_None) ? a[2] : a[0];
    barg k, d;
    if (kdb_barg_get(a[0], &k, "key") < 0)
        return NULL;
    if (kdb_barg_get(dkey, &d, "target_key") < 0) {
        barg_release(&k);
        return NULL;
    }
    keel_status rc;
    /* Both handles must outlive the call: hold both oplocks (read; they never block, see the
     * header), in address order. */
    StoreObject *first = self < dst ? self : dst, *second = self < dst ? dst : self;
    pthread_rwlock_rdlock(&first->oplock);
    if (second != first)
        pthread_rwlock_rdlock(&second->oplock);
    keel_store *src_s = self->s, *dst_s = dst->s;
    Py_BEGIN_ALLOW_THREADS
    rc = move ? keel_move(src_s, k.buf, (size_t)k.len, dst_s, d.buf, (size_t)d.len)
              : keel_copy(src_s, k.buf, (size_t)k.len, dst_s, d.buf, (size_t)d.len);
    if (second != first)
        pthread_rwlock_unlock(&second->oplock);
    pthread_rwlock_unlock(&first->oplock);
    Py_END_ALLOW_THREADS
    barg_release(&d);
    barg_release(&k);
    if (rc == KEEL_NOTFOUND) {
        PyErr_SetObject(PyExc_KeyError, a[0]);
        return NULL;
    }
    if (rc != KEEL_OK)
        return kdb_raise_status(self->st, rc, fname, NULL);
    Py_RETURN_NONE;
}

PyObject *
kdb_store_copy(StoreObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    return copy_or_move(self, args, nargs, kwnames, 0);
}

PyObject *
kdb_store_transfer(StoreObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    return copy_or_move(self, args, nargs, kwnames, 1);
}

