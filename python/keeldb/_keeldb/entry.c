/*
 * entry.c: the objects a DataStore hands out over its entries.
 * EntryHandle: one entry, zero copy through the buffer protocol (read-only); each export
 * counts in the store's `exports`, and close() raises BufferError while any is alive.
 * EntryStream: a file-like reader over one value, copying chunks. StoreIterator: a
 * keel_iter snapshot yielding keys, values or (key, value) pairs. Each holds a strong
 * reference to its DataStore and checks `closed` before touching the mapping: keel unmaps
 * everything at close.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common.h"

/* EntryStream iteration yields chunks of this size (as upstream does). */
#define STREAM_ITER_SIZE 4096

/* ---------------------------------------------------------------------------------------
 * EntryHandle
 */

static inline int
entry_check(EntryObject *h)
{
    if (h->store->closed) {
        kdb_raise_closed();
        return -1;
    }
    return 0;
}

static void
Entry_dealloc(EntryObject *h)
{
    PyTypeObject *tp = Py_TYPE(h);
    Py_XDECREF(h->store);
    PyObject_Free(h);
    Py_DECREF(tp);
}

static int
Entry_getbuffer(EntryObject *h, Py_buffer *view, int flags)
{
    if (entry_check(h) < 0) {
        view->obj = NULL;
        return -1;
    }
    if (PyBuffer_FillInfo(view, (PyObject *)h, (void *)h->e.value.data,
                          (Py_ssize_t)h->e.value.len, 1, flags) < 0)
        return -1;
    h->store->exports++;
    return 0;
}

static void
Entry_releasebuffer(EntryObject *h, Py_buffer *Py_UNUSED(view))
{
    h->store->exports--;
}

static Py_ssize_t
Entry_length(EntryObject *h)
{
    if (entry_check(h) < 0)
        return -1;
    return (Py_ssize_t)h->e.value.len;
}

#define ENTRY_GETTER(name, expr)                                                            \
    static PyObject *Entry_get_##name(EntryObject *h, void *Py_UNUSED(closure))             \
    {                                                                                       \
        if (entry_check(h) < 0)                                                             \
            return NULL;                                                                    \
        return PyLong_FromUnsignedLongLong((unsigned long long)(expr));                     \
    }

ENTRY_GETTER(size, h->e.value.len)
ENTRY_GETTER(file_size, h->e.entry_end - h->e.entry_offset)
ENTRY_GETTER(key_hash, h->e.key_hash)
ENTRY_GETTER(checksum, h->e.checksum)
ENTRY_GETTER(start_offset, h->e.value_offset)
ENTRY_GETTER(end_offset, h->e.value_offset + h->e.value.len)
ENTRY_GETTER(entry_offset, h->e.entry_offset)
ENTRY_GETTER(entry_end, h->e.entry_end)

static PyObject *
Entry_get_key(EntryObject *h, void *Py_UNUSED(closure))
{
    if (entry_check(h) < 0)
        return NULL;
    return PyBytes_FromStringAndSize((const char *)h->e.key.data, (Py_ssize_t)h->e.key.len);
}

static PyObject *
Entry_raw_checksum(EntryObject *h, PyObject *Py_UNUSED(ignored))
{
    if (entry_check(h) < 0)
        return NULL;
    uint32_t c = h->e.checksum;
    char b[4] = {(char)(c & 0xff), (char)((c >> 8) & 0xff), (char)((c >> 16) & 0xff),
                 (char)((c >> 24) & 0xff)};
    return PyBytes_FromStringAndSize(b, 4);
}

static PyObject *
Entry_is_valid_checksum(EntryObject *h, PyObject *Py_UNUSED(ignored))
{
    if (entry_check(h) < 0)
        return NULL;
    StoreObject *s = h->store;
    keel_status rc;
    IO_CALL(s, rc = keel_entry_verify(s->s, &h->e));
    if (rc == KEEL_OK)
        Py_RETURN_TRUE;
    if (rc == KEEL_ECORRUPT)
        Py_RETURN_FALSE;
    return kdb_raise_status(s->st, rc, "is_valid_checksum", NULL);
}

static PyObject *
Entry_offset_range(EntryObject *h, PyObject *Py_UNUSED(ignored))
{
    if (entry_check(h) < 0)
        return NULL;
    return Py_BuildValue("(KK)", (unsigned long long)h->e.value_offset,
                         (unsigned long long)(h->e.value_offset + h->e.value.len));
}

static PyObject *
Entry_address_range(EntryObject *h, PyObject *Py_UNUSED(ignored))
{
    if (entry_check(h) < 0)
        return NULL;
    uintptr_t p = (uintptr_t)h->e.value.data;
    return Py_BuildValue("(KK)", (unsigned long long)p,
                         (unsigned long long)(p + h->e.value.len));
}

static PyObject *
Entry_as_slice(EntryObject *h, PyObject *Py_UNUSED(ignored))
{
    if (entry_check(h) < 0)
        return NULL;
    return kdb_copy_bytes(h->store, h->e.value.data, h->e.value.len);
}

static PyObject *
Entry_as_memoryview(EntryObject *h, PyObject *Py_UNUSED(ignored))
{
    return PyMemoryView_FromObject((PyObject *)h);
}

static PyObject *
Entry_clone_arc(EntryObject *h, PyObject *Py_UNUSED(ignored))
{
    if (entry_check(h) < 0)
        return NULL;
    return kdb_new_entry(h->store, &h->e);
}

static PyObject *
Entry_richcompare(EntryObject *h, PyObject *other, int op)
{
    if (op != Py_EQ && op != Py_NE)
        Py_RETURN_NOTIMPLEMENTED;
    if (!PyObject_CheckBuffer(other) || PyUnicode_Check(other))
        Py_RETURN_NOTIMPLEMENTED;
    if (entry_check(h) < 0)
        return NULL;
    Py_buffer ov;
    if (PyObject_GetBuffer(other, &ov, PyBUF_SIMPLE) < 0) {
        PyErr_Clear();
        Py_RETURN_NOTIMPLEMENTED;
    }
    int eq = (size_t)ov.len == h->e.value.len &&
             (ov.len == 0 || memcmp(ov.buf, h->e.value.data, (size_t)ov.len) == 0);
    PyBuffer_Release(&ov);
    return PyBool_FromLong(op == Py_EQ ? eq : !eq);
}

static PyObject *
Entry_repr(EntryObject *h)
{
    if (h->store->closed)
        return PyUnicode_FromString("<keeldb.EntryHandle (store closed)>");
    PyObject *key = PyBytes_FromStringAndSize((const char *)h->e.key.data,
                                              (Py_ssize_t)h->e.key.len);
    if (key == NULL)
        return NULL;
    PyObject *r = PyUnicode_FromFormat("<keeldb.EntryHandle key=%R size=%zu offset=%llu>", key,
                                       h->e.value.len, (unsigned long long)h->e.value_offset);
    Py_DECREF(key);
    return r;
}

static PyMethodDef Entry_methods[] = {
    {"raw_checksum", (PyCFunction)Entry_raw_checksum, METH_NOARGS,
     "raw_checksum($self, /)\n--\n\nThe stored CRC32C, 4 bytes little-endian."},
    {"is_valid_checksum", (PyCFunction)Entry_is_valid_checksum, METH_NOARGS,
     "is_valid_checksum($self, /)\n--\n\nRecompute the entry's CRC32C and compare."},
    {"offset_range", (PyCFunction)Entry_offset_range, METH_NOARGS,
     "offset_range($self, /)\n--\n\nFile offsets of the value."},
    {"address_range", (PyCFunction)Entry_address_range, METH_NOARGS,
     "address_range($self, /)\n--\n\nMemory addresses of the value in the mapping."},
    {"as_slice", (PyCFunction)Entry_as_slice, METH_NOARGS,
     "as_slice($self, /)\n--\n\n"
     "A copy of the value as bytes."},
    {"as_memoryview", (PyCFunction)Entry_as_memoryview, METH_NOARGS,
     "as_memoryview($self, /)\n--\n\nZero-copy, read-only; blocks close() while alive."},
    {"clone_arc", (PyCFunction)Entry_clone_arc, METH_NOARGS,
     "clone_arc($self, /)\n--\n\nAnother handle on the same entry."},
    {"__bytes__", (PyCFunction)Entry_as_slice, METH_NOARGS,
     "__bytes__($self, /)\n--\n\n"
     "A copy of the value as bytes."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef Entry_getset[] = {
    {"size", (getter)Entry_get_size, NULL, "Length of the value in bytes.", NULL},
    {"file_size", (getter)Entry_get_file_size, NULL,
     "Bytes the entry occupies in the file (value, key and trailer).", NULL},
    {"key_hash", (getter)Entry_get_key_hash, NULL, "XXH3-64 of the key, as stored.", NULL},
    {"checksum", (getter)Entry_get_checksum, NULL, "The stored CRC32C.", NULL},
    {"start_offset", (getter)Entry_get_start_offset, NULL, "File offset of the value.", NULL},
    {"end_offset", (getter)Entry_get_end_offset, NULL, "File offset one past the value.", NULL},
    {"entry_offset", (getter)Entry_get_entry_offset, NULL, "File offset of the entry.", NULL},
    {"entry_end", (getter)Entry_get_entry_end, NULL, "File offset one past the entry.", NULL},
    {"key", (getter)Entry_get_key, NULL, "The key (bytes).", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyType_Slot Entry_slots[] = {
    {Py_tp_doc,
     "A zero-copy handle on one entry. Exports the buffer protocol (read-only), so "
     "memoryview(entry) and numpy.frombuffer(entry, dtype) read the mapped value in place."},
    {Py_tp_dealloc, Entry_dealloc},
    {Py_tp_repr, Entry_repr},
    {Py_tp_richcompare, Entry_richcompare},
    {Py_tp_hash, PyObject_HashNotImplemented},
    {Py_tp_methods, Entry_methods},
    {Py_tp_getset, Entry_getset},
    {Py_sq_length, Entry_length},
    {Py_bf_getbuffer, Entry_getbuffer},
    {Py_bf_releasebuffer, Entry_releasebuffer},
    {0, NULL}};

PyType_Spec kdb_entry_spec = {
    .name = "keeldb.EntryHandle",
    .basicsize = sizeof(EntryObject),
    .flags = Py_TPFLAGS_DEFAULT | NO_NEW_FLAG,
    .slots = Entry_slots,
};

/* ---------------------------------------------------------------------------------------
 * EntryStream
 */

static void
Stream_dealloc(StreamObject *so)
{
    PyTypeObject *tp = Py_TYPE(so);
    Py_XDECREF(so->store);
    PyObject_Free(so);
    Py_DECREF(tp);
}

static PyObject *
stream_take(StreamObject *so, size_t want)
{
    if (so->store->closed)
        return kdb_raise_closed();
    size_t left = so->len - so->pos;
    size_t n = want < left ? want : left;
    PyObject *b = kdb_copy_bytes(so->store, so->data + so->pos, n);
    if (b != NULL)
        so->pos += n;
    return b;
}

static PyObject *
Stream_read(StreamObject *so, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs > 1)
        return PyErr_Format(PyExc_TypeError, "read() takes at most 1 argument (%zd given)",
                            nargs);
    size_t want = SIZE_MAX;
    if (nargs == 1 && args[0] != Py_None) {
        Py_ssize_t n = PyNumber_AsSsize_t(args[0], PyExc_OverflowError);
        if (n == -1 && PyErr_Occurred())
            return NULL;
        if (n >= 0)
            want = (size_t)n;
    }
    return stream_take(so, want);
}

static PyObject *
Stream_readinto(StreamObject *so, PyObject *buf)
{
    if (so->store->closed)
        return kdb_raise_closed();
    Py_buffer b;
    if (PyObject_GetBuffer(buf, &b, PyBUF_WRITABLE) < 0)
        return NULL;
    size_t left = so->len - so->pos;
    size_t n = (size_t)b.len < left ? (size_t)b.len : left;
    if (n >= BIG_COPY) {
        void *dst = b.buf;
        const uint8_t *src = so->data + so->pos;
        IO_CALL(so->store, memcpy(dst, src, n));
    } else if (n > 0) {
        memcpy(b.buf, so->data + so->pos, n);
    }
    so->pos += n;
    PyBuffer_Release(&b);
    return PyLong_FromSize_t(n);
}

static PyObject *
Stream_iternext(StreamObject *so)
{
    if (so->store->closed)
        return kdb_raise_closed();
    if (so->pos >= so->len)
        return NULL;  /* StopIteration */
    return stream_take(so, STREAM_ITER_SIZE);
}

static PyObject *
Stream_tell(StreamObject *so, PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromSize_t(so->pos);
}

static PyObject *
Stream_get_size(StreamObject *so, void *Py_UNUSED(closure))
{
    return PyLong_FromSize_t(so->len);
}

static PyObject *
Stream_self(PyObject *so, PyObject *Py_UNUSED(ignored))
{
    return Py_NewRef(so);
}

static PyObject *
Stream_exit(PyObject *Py_UNUSED(so), PyObject *const *Py_UNUSED(args),
            Py_ssize_t Py_UNUSED(nargs))
{
    Py_RETURN_FALSE;
}

static PyMethodDef Stream_methods[] = {
    {"read", (PyCFunction)(void (*)(void))Stream_read, METH_FASTCALL,
     "read($self, size=-1, /)\n--\n\n"
     "Up to n bytes (all that is left when n < 0); b'' at the end."},
    {"readinto", (PyCFunction)Stream_readinto, METH_O,
     "readinto($self, buffer, /)\n--\n\nCopy into a writable buffer; returns the count."},
    {"tell", (PyCFunction)Stream_tell, METH_NOARGS,
     "tell($self, /)\n--\n\n"
     "The position in the value of the next read."},
    {"__enter__", (PyCFunction)Stream_self, METH_NOARGS,
     "__enter__($self, /)\n--\n\n"
     "Return the stream."},
    {"__exit__", (PyCFunction)(void (*)(void))Stream_exit, METH_FASTCALL,
     "__exit__($self, *args)\n--\n\n"
     "Nothing to release."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef Stream_getset[] = {
    {"size", (getter)Stream_get_size, NULL, "Length of the whole value.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyType_Slot Stream_slots[] = {
    {Py_tp_doc, "A file-like reader over one entry's value; iterates in 4096-byte chunks."},
    {Py_tp_dealloc, Stream_dealloc},
    {Py_tp_iter, PyObject_SelfIter},
    {Py_tp_iternext, Stream_iternext},
    {Py_tp_methods, Stream_methods},
    {Py_tp_getset, Stream_getset},
    {0, NULL}};

PyType_Spec kdb_stream_spec = {
    .name = "keeldb.EntryStream",
    .basicsize = sizeof(StreamObject),
    .flags = Py_TPFLAGS_DEFAULT | NO_NEW_FLAG,
    .slots = Stream_slots,
};

/* ---------------------------------------------------------------------------------------
 * StoreIterator
 */

static void
Iter_dealloc(IterObject *io)
{
    PyTypeObject *tp = Py_TYPE(io);
    if (io->it != NULL)
        keel_iter_free(io->it);
    Py_XDECREF(io->store);
    PyObject_Free(io);
    Py_DECREF(tp);
}

static PyObject *
Iter_next(IterObject *io)
{
    if (io->it == NULL)
        return NULL;
    if (io->store->closed)
        return kdb_raise_closed();
    keel_view k, v;
    keel_status rc = keel_iter_next(io->it, &k, &v);
    if (rc == KEEL_NOTFOUND) {
        keel_iter_free(io->it);
        io->it = NULL;
        return NULL;
    }
    if (rc != KEEL_OK)
        return kdb_raise_status(io->store->st, rc, "iterate", NULL);
    if (io->kind == ITER_KEYS)
        return PyBytes_FromStringAndSize((const char *)k.data, (Py_ssize_t)k.len);
    if (io->kind == ITER_VALUES)
        return kdb_copy_bytes(io->store, v.data, v.len);
    PyObject *kb = PyBytes_FromStringAndSize((const char *)k.data, (Py_ssize_t)k.len);
    if (kb == NULL)
        return NULL;
    PyObject *vb = kdb_copy_bytes(io->store, v.data, v.len);
    if (vb == NULL) {
        Py_DECREF(kb);
        return NULL;
    }
    PyObject *t = PyTuple_Pack(2, kb, vb);
    Py_DECREF(kb);
    Py_DECREF(vb);
    return t;
}

static PyObject *
Iter_length_hint(IterObject *io, PyObject *Py_UNUSED(ignored))
{
    /* keel_iter_len is the snapshot's size; next() has no position accessor, so this is
     * an upper bound, which is all __length_hint__ promises. */
    if (io->it == NULL)
        return PyLong_FromLong(0);
    return PyLong_FromSize_t(keel_iter_len(io->it));
}

static PyMethodDef Iter_methods[] = {
    {"__length_hint__", (PyCFunction)Iter_length_hint, METH_NOARGS,
     "__length_hint__($self, /)\n--\n\n"
     "At most this many items are left."},
    {NULL, NULL, 0, NULL}};

static PyType_Slot Iter_slots[] = {
    {Py_tp_doc, "An iterator over a snapshot of a DataStore's live entries, in file order."},
    {Py_tp_dealloc, Iter_dealloc},
    {Py_tp_iter, PyObject_SelfIter},
    {Py_tp_iternext, Iter_next},
    {Py_tp_methods, Iter_methods},
    {0, NULL}};

PyType_Spec kdb_iter_spec = {
    .name = "keeldb.StoreIterator",
    .basicsize = sizeof(IterObject),
    .flags = Py_TPFLAGS_DEFAULT | NO_NEW_FLAG,
    .slots = Iter_slots,
};
