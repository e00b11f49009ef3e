/*
 * datastore.c: the DataStore type, one keel_store: open and close, reads, iteration,
 * maintenance (compact, stats, sync, verify, refresh), attributes and the type's tables.
 * Values come back as `bytes` copies (large ones copied with the GIL released) or, through
 * read_entry, as zero-copy EntryHandles. close() refuses while buffers exported from
 * entries or a write_stream are alive, and waits for GIL-released calls in flight (oplock,
 * see common.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common.h"

/* ---------------------------------------------------------------------------------------
 * DataStore: helpers
 */

/* bytes copy of `n` bytes at `p`, which lies in this store's mapping. */
PyObject *
kdb_copy_bytes(StoreObject *self, const void *p, size_t n)
{
    if (n < BIG_COPY)
        return PyBytes_FromStringAndSize((const char *)p, (Py_ssize_t)n);
    PyObject *b = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)n);
    if (b == NULL)
        return NULL;
    char *dst = PyBytes_AS_STRING(b);
    IO_CALL(self, memcpy(dst, p, n));
    return b;
}

PyObject *
kdb_new_entry(StoreObject *self, const keel_entry *e)
{
    EntryObject *h = PyObject_New(EntryObject, self->st->EntryHandle_type);
    if (h == NULL)
        return NULL;
    Py_INCREF(self);
    h->store = self;
    h->e = *e;
    return (PyObject *)h;
}

/* ---------------------------------------------------------------------------------------
 * DataStore: lifecycle
 */

static PyObject *
Store_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"path", "readonly", "create", "sync", "alignment", NULL};
    PyObject *path_arg = NULL, *path_bytes = NULL;
    int readonly = 0, create = 1;
    const char *sync = "none";
    PyObject *align_arg = NULL;
    unsigned long long alignment = 64;

    PyObject *module = kdb_module_of_type(type);
    if (module == NULL)
        return NULL;
    keeldb_state *st = get_state(module);

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|$ppsO:DataStore", kwlist, &path_arg,
                                     &readonly, &create, &sync, &align_arg))
        return NULL;
    /* 0 would mean "the default" to keel_open: the user asked for something else. */
    if (align_arg != NULL &&
        keeldb_int_arg(align_arg, "alignment", 1, UINT32_MAX, &alignment) < 0)
        return NULL;
    if (alignment > 4096 || (alignment & (alignment - 1)) != 0) {
        PyErr_Format(PyExc_ValueError,
                     "alignment must be a power of two from 1 to 4096, not %llu", alignment);
        return NULL;
    }
    if (!PyUnicode_FSConverter(path_arg, &path_bytes))
        return NULL;

    keel_options opts = KEEL_OPTIONS_INIT;
    if (strcmp(sync, "none") == 0)
        opts.sync = KEEL_SYNC_NONE;
    else if (strcmp(sync, "data") == 0)
        opts.sync = KEEL_SYNC_DATA;
    else if (strcmp(sync, "full") == 0)
        opts.sync = KEEL_SYNC_FULL;
    else {
        Py_DECREF(path_bytes);
        PyErr_Format(PyExc_ValueError, "sync must be 'none', 'data' or 'full', not '%s'", sync);
        return NULL;
    }
    opts.alignment = (uint32_t)alignment;
    opts.mode = readonly ? KEEL_OPEN_READONLY : (create ? KEEL_OPEN_CREATE : KEEL_OPEN_EXISTING);

    StoreObject *self = (StoreObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        Py_DECREF(path_bytes);
        return NULL;
    }
    self->st = st;
    Py_INCREF(module);
    self->module = module;
    self->closed = 1;  /* until keel_open succeeds */
    self->readonly = readonly;
    self->path = PyUnicode_DecodeFSDefaultAndSize(PyBytes_AS_STRING(path_bytes),
                                                  PyBytes_GET_SIZE(path_bytes));
    if (self->path == NULL)
        goto fail;
    if (pthread_rwlock_init(&self->oplock, NULL) != 0) {
        PyErr_SetString(PyExc_MemoryError, "cannot initialise the store's lock");
        goto fail;
    }
    self->lock_ready = 1;

    const char *cpath = PyBytes_AS_STRING(path_bytes);
    keel_store *s = NULL;
    keel_status rc;
    Py_BEGIN_ALLOW_THREADS
    rc = keel_open(cpath, &opts, &s);
    Py_END_ALLOW_THREADS
    if (rc != KEEL_OK) {
        kdb_raise_status(st, rc, "cannot open store", self->path);
        goto fail;
    }
    self->s = s;
    self->closed = 0;
    if (kdb_store_warn_recovery(self) < 0)
        goto fail;
    Py_DECREF(path_bytes);
    return (PyObject *)self;

fail:
    Py_DECREF(path_bytes);
    Py_DECREF(self);
    return NULL;
}

static void
Store_dealloc(StoreObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    if (self->weakreflist != NULL)
        PyObject_ClearWeakRefs((PyObject *)self);
    if (self->s != NULL) {
        keel_free(self->s);
        self->s = NULL;
    }
    if (self->lock_ready)
        pthread_rwlock_destroy(&self->oplock);
    Py_XDECREF(self->path);
    Py_XDECREF(self->module);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyObject *
Store_close(StoreObject *self, PyObject *Py_UNUSED(ignored))
{
    if (self->closed)
        Py_RETURN_NONE;
    if (self->exports > 0)
        return PyErr_Format(PyExc_BufferError,
                            "cannot close the store: %zd buffer%s exported from its entries "
                            "(memoryview, numpy array) %s still alive",
                            self->exports, self->exports == 1 ? "" : "s",
                            self->exports == 1 ? "is" : "are");
    if (self->streams > 0)
        return PyErr_Format(PyExc_BufferError,
                            "cannot close the store: write_stream is in progress");
    self->closed = 1;
    keel_status rc;
    keel_store *s = self->s;
    Py_BEGIN_ALLOW_THREADS
    pthread_rwlock_wrlock(&self->oplock);   /* waits for GIL-released calls in flight */
    rc = keel_close(s);
    pthread_rwlock_unlock(&self->oplock);
    Py_END_ALLOW_THREADS
    if (rc != KEEL_OK)
        return kdb_raise_status(self->st, rc, "close", NULL);
    Py_RETURN_NONE;
}

static PyObject *
Store_enter(StoreObject *self, PyObject *Py_UNUSED(ignored))
{
    if (store_check(self) < 0)
        return NULL;
    Py_INCREF(self);
    return (PyObject *)self;
}

static PyObject *
Store_exit(StoreObject *self, PyObject *const *Py_UNUSED(args), Py_ssize_t Py_UNUSED(nargs))
{
    PyObject *r = Store_close(self, NULL);
    if (r == NULL)
        return NULL;
    Py_DECREF(r);
    Py_RETURN_FALSE;
}

/* ---------------------------------------------------------------------------------------
 * DataStore: reads (GIL held: a lookup is ~30 ns)
 */

/* Look `key` up; 1 found (*out set), 0 absent, -1 error raised. */
static inline int
lookup(StoreObject *self, PyObject *key, keel_view *out)
{
    if (self->closed) {
        kdb_raise_closed();
        return -1;
    }
    keel_status rc;
    if (PyBytes_Check(key)) {
        rc = keel_get(self->s, PyBytes_AS_STRING(key), (size_t)PyBytes_GET_SIZE(key), out);
    } else {
        barg k;
        if (kdb_barg_get(key, &k, "key") < 0)
            return -1;
        rc = keel_get(self->s, k.buf, (size_t)k.len, out);
        barg_release(&k);
    }
    if (rc == KEEL_OK)
        return 1;
    if (rc == KEEL_NOTFOUND)
        return 0;
    kdb_raise_status(self->st, rc, "read", NULL);
    return -1;
}

static PyObject *
Store_read(StoreObject *self, PyObject *key)
{
    keel_view v;
    int r = lookup(self, key, &v);
    if (r > 0)
        return kdb_copy_bytes(self, v.data, v.len);
    if (r == 0)
        Py_RETURN_NONE;
    return NULL;
}

static PyObject *
Store_subscript(StoreObject *self, PyObject *key)
{
    keel_view v;
    int r = lookup(self, key, &v);
    if (r > 0)
        return kdb_copy_bytes(self, v.data, v.len);
    if (r == 0)
        PyErr_SetObject(PyExc_KeyError, key);
    return NULL;
}

static PyObject *
Store_get(StoreObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 2) {
        return PyErr_Format(PyExc_TypeError, "get() takes 1 or 2 arguments (%zd given)", nargs);
    }
    keel_view v;
    int r = lookup(self, args[0], &v);
    if (r > 0)
        return kdb_copy_bytes(self, v.data, v.len);
    if (r < 0)
        return NULL;
    PyObject *dflt = nargs == 2 ? args[1] : Py_None;
    Py_INCREF(dflt);
    return dflt;
}

static int
Store_contains(StoreObject *self, PyObject *key)
{
    keel_view v;
    return lookup(self, key, &v);
}

static PyObject *
Store_exists(StoreObject *self, PyObject *key)
{
    keel_view v;
    int r = lookup(self, key, &v);
    if (r < 0)
        return NULL;
    return PyBool_FromLong(r);
}

static PyObject *
Store_read_entry(StoreObject *self, PyObject *key)
{
    if (store_check(self) < 0)
        return NULL;
    barg k;
    if (kdb_barg_get(key, &k, "key") < 0)
        return NULL;
    keel_entry e;
    keel_status rc = keel_get_entry(self->s, k.buf, (size_t)k.len, &e);
    barg_release(&k);
    if (rc == KEEL_NOTFOUND)
        Py_RETURN_NONE;
    if (rc != KEEL_OK)
        return kdb_raise_status(self->st, rc, "read_entry", NULL);
    return kdb_new_entry(self, &e);
}

static PyObject *
Store_read_stream(StoreObject *self, PyObject *key)
{
    keel_view v;
    int r = lookup(self, key, &v);
    if (r < 0)
        return NULL;
    if (r == 0)
        Py_RETURN_NONE;
    StreamObject *so = PyObject_New(StreamObject, self->st->EntryStream_type);
    if (so == NULL)
        return NULL;
    Py_INCREF(self);
    so->store = self;
    so->data = v.data;
    so->len = v.len;
    so->pos = 0;
    return (PyObject *)so;
}

/* batch_read looks keys up this many at a time with keel_get_many (misses overlap). */
#define BATCH_READ_GROUP 256

static PyObject *
Store_batch_read(StoreObject *self, PyObject *keys)
{
    if (store_check(self) < 0)
        return NULL;
    if (PyUnicode_Check(keys) || PyBytes_Check(keys) || PyByteArray_Check(keys))
        return PyErr_Format(PyExc_TypeError, "batch_read() takes a sequence of keys, not '%.200s'",
                            Py_TYPE(keys)->tp_name);
    PyObject *seq = PySequence_Fast(keys, "batch_read() takes a sequence of keys");
    if (seq == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject *out = PyList_New(n);
    if (out == NULL) {
        Py_DECREF(seq);
        return NULL;
    }
    keel_view kv[BATCH_READ_GROUP], vv[BATCH_READ_GROUP];
    keel_status stat[BATCH_READ_GROUP];
    barg held[BATCH_READ_GROUP];
    /* `seq` is a list or tuple we hold, and nothing below runs Python code until the keys'
     * buffers are released, so the borrowed items stay alive. */
    for (Py_ssize_t base = 0; base < n; base += BATCH_READ_GROUP) {
        Py_ssize_t m = n - base < BATCH_READ_GROUP ? n - base : BATCH_READ_GROUP;
        Py_ssize_t got = 0;
        for (; got < m; got++) {
            if (kdb_barg_get(PySequence_Fast_GET_ITEM(seq, base + got), &held[got], "key") < 0)
                break;
            kv[got].data = (const uint8_t *)held[got].buf;
            kv[got].len = (size_t)held[got].len;
        }
        keel_status rc = KEEL_OK;
        if (got == m)
            rc = keel_get_many(self->s, kv, (size_t)m, vv, stat);
        for (Py_ssize_t i = 0; i < got; i++)
            barg_release(&held[i]);
        if (got < m)
            goto fail;
        if (rc != KEEL_OK) {
            kdb_raise_status(self->st, rc, "batch_read", NULL);
            goto fail;
        }
        for (Py_ssize_t i = 0; i < m; i++) {
            PyObject *val = stat[i] == KEEL_OK ? kdb_copy_bytes(self, vv[i].data, vv[i].len)
                                               : Py_NewRef(Py_None);
            if (val == NULL)
                goto fail;
            PyList_SET_ITEM(out, base + i, val);
        }
    }
    Py_DECREF(seq);
    return out;

fail:
    Py_DECREF(out);
    Py_DECREF(seq);
    return NULL;
}

static Py_ssize_t
Store_length(StoreObject *self)
{
    if (store_check(self) < 0)
        return -1;
    uint64_t n = 0;
    keel_status rc = keel_count(self->s, &n);
    if (rc != KEEL_OK) {
        kdb_raise_status(self->st, rc, "len", NULL);
        return -1;
    }
    return (Py_ssize_t)n;
}

/* ---------------------------------------------------------------------------------------
 * DataStore: iteration
 */

static PyObject *
make_iter(StoreObject *self, int kind)
{
    if (store_check(self) < 0)
        return NULL;
    keel_iter *it = NULL;
    keel_status rc = keel_iter_new(self->s, &it);
    if (rc != KEEL_OK)
        return kdb_raise_status(self->st, rc, "iterate", NULL);
    IterObject *io = PyObject_New(IterObject, self->st->StoreIterator_type);
    if (io == NULL) {
        keel_iter_free(it);
        return NULL;
    }
    Py_INCREF(self);
    io->store = self;
    io->it = it;
    io->kind = kind;
    return (PyObject *)io;
}

static PyObject *
Store_iter(StoreObject *self)
{
    return make_iter(self, ITER_KEYS);
}

static PyObject *
Store_keys(StoreObject *self, PyObject *Py_UNUSED(ignored))
{
    return make_iter(self, ITER_KEYS);
}

static PyObject *
Store_values(StoreObject *self, PyObject *Py_UNUSED(ignored))
{
    return make_iter(self, ITER_VALUES);
}

static PyObject *
Store_items(StoreObject *self, PyObject *Py_UNUSED(ignored))
{
    return make_iter(self, ITER_ITEMS);
}

/* ---------------------------------------------------------------------------------------
 * DataStore: maintenance
 */

static PyObject *
Store_compact(StoreObject *self, PyObject *Py_UNUSED(ignored))
{
    if (store_check(self) < 0)
        return NULL;
    keel_status rc;
    IO_CALL(self, rc = keel_compact(self->s, NULL, NULL));
    if (rc != KEEL_OK)
        return kdb_raise_status(self->st, rc, "compact", NULL);
    Py_RETURN_NONE;
}

static int
get_stats(StoreObject *self, keel_stats *out)
{
    if (store_check(self) < 0)
        return -1;
    keel_status rc = keel_stat(self->s, out);
    if (rc != KEEL_OK) {
        kdb_raise_status(self->st, rc, "stat", NULL);
        return -1;
    }
    return 0;
}

static PyObject *
Store_estimate_compaction_savings(StoreObject *self, PyObject *Py_UNUSED(ignored))
{
    keel_stats sts;
    if (get_stats(self, &sts) < 0)
        return NULL;
    return PyLong_FromUnsignedLongLong(sts.reclaimable_bytes);
}

static PyObject *
Store_stats(StoreObject *self, PyObject *Py_UNUSED(ignored))
{
    keel_stats s;
    if (get_stats(self, &s) < 0)
        return NULL;
    static const char *const sync_names[] = {"none", "data", "full"};
    const char *sync = (unsigned)s.sync < 3 ? sync_names[s.sync] : "?";
    return Py_BuildValue("{sKsKsKsKsKsIs(HH)sOss}", "file_size",
                         (unsigned long long)s.file_size, "entries",
                         (unsigned long long)s.entries, "live_keys",
                         (unsigned long long)s.live_keys, "live_bytes",
                         (unsigned long long)s.live_bytes, "reclaimable_bytes",
                         (unsigned long long)s.reclaimable_bytes, "alignment",
                         (unsigned int)s.alignment, "format_version", s.format_major,
                         s.format_minor, "readonly", s.read_only ? Py_True : Py_False, "sync",
                         sync);
}

static PyObject *
Store_get_file_size(StoreObject *self, void *Py_UNUSED(closure))
{
    if (store_check(self) < 0)
        return NULL;
    uint64_t n = 0;
    keel_status rc = keel_file_size(self->s, &n);
    if (rc != KEEL_OK)
        return kdb_raise_status(self->st, rc, "file_size", NULL);
    return PyLong_FromUnsignedLongLong(n);
}

static PyObject *
Store_sync(StoreObject *self, PyObject *Py_UNUSED(ignored))
{
    if (store_check(self) < 0)
        return NULL;
    keel_status rc;
    IO_CALL(self, rc = keel_sync(self->s));
    if (rc != KEEL_OK)
        return kdb_raise_status(self->st, rc, "sync", NULL);
    Py_RETURN_NONE;
}

static PyObject *
Store_verify(StoreObject *self, PyObject *Py_UNUSED(ignored))
{
    if (store_check(self) < 0)
        return NULL;
    keel_status rc;
    keel_verify_report rep;
    memset(&rep, 0, sizeof(rep));
    IO_CALL(self, rc = keel_verify(self->s, &rep));
    if (rc == KEEL_ECORRUPT) {
        const char *detail = keel_errmsg();
        PyErr_Format(self->st->CorruptError,
                     "verify: %llu of %llu entries are damaged; newest bad entry ends at "
                     "offset %llu (%s)",
                     (unsigned long long)rep.bad_entries,
                     (unsigned long long)rep.entries_checked,
                     (unsigned long long)rep.first_bad_offset, detail ? detail : "");
        return NULL;
    }
    if (rc != KEEL_OK)
        return kdb_raise_status(self->st, rc, "verify", NULL);
    return PyLong_FromUnsignedLongLong(rep.entries_checked);
}

static PyObject *
Store_refresh(StoreObject *self, PyObject *Py_UNUSED(ignored))
{
    if (store_check(self) < 0)
        return NULL;
    keel_status rc;
    IO_CALL(self, rc = keel_refresh(self->s));
    if (rc != KEEL_OK)
        return kdb_raise_status(self->st, rc, "refresh", NULL);
    Py_RETURN_NONE;
}

static PyObject *
Store_get_path(StoreObject *self, void *Py_UNUSED(closure))
{
    return Py_NewRef(self->path);
}

static PyObject *
Store_get_readonly(StoreObject *self, void *Py_UNUSED(closure))
{
    return PyBool_FromLong(self->readonly);
}

static PyObject *
Store_get_closed(StoreObject *self, void *Py_UNUSED(closure))
{
    return PyBool_FromLong(self->closed);
}

static PyObject *
Store_repr(StoreObject *self)
{
    return PyUnicode_FromFormat("<keeldb.DataStore path=%R%s%s>", self->path,
                                self->readonly ? " readonly" : "",
                                self->closed ? " closed" : "");
}

static PyMethodDef Store_methods[] = {
    {"write", (PyCFunction)(void (*)(void))kdb_store_write, METH_FASTCALL | METH_KEYWORDS,
     "write($self, /, key, data)\n--\n\n"
     "Store data under key, replacing any previous value."},
    {"batch_write", (PyCFunction)(void (*)(void))kdb_store_batch_write,
     METH_FASTCALL | METH_KEYWORDS,
     "batch_write($self, /, items)\n--\n\n"
     "Store (key, value) pairs atomically in one append."},
    {"write_stream", (PyCFunction)(void (*)(void))kdb_store_write_stream,
     METH_FASTCALL | METH_KEYWORDS,
     "write_stream($self, /, key, reader)\n--\n\n"
     "Store what reader.read(1048576) returns until b''. Nothing reaches the store if the "
     "reader raises."},
    {"read", (PyCFunction)Store_read, METH_O,
     "read($self, key, /)\n--\n\nA copy of the value, or None when absent."},
    {"get", (PyCFunction)(void (*)(void))Store_get, METH_FASTCALL,
     "get($self, key, default=None, /)\n--\n\nLike read(), with a default."},
    {"read_entry", (PyCFunction)Store_read_entry, METH_O,
     "read_entry($self, key, /)\n--\n\nA zero-copy handle on the value."},
    {"read_stream", (PyCFunction)Store_read_stream, METH_O,
     "read_stream($self, key, /)\n--\n\nA file-like reader over the value."},
    {"batch_read", (PyCFunction)Store_batch_read, METH_O,
     "batch_read($self, keys, /)\n--\n\n"
     "A list with a copy of each key's value, or None where absent."},
    {"delete", (PyCFunction)kdb_store_delete, METH_O,
     "delete($self, key, /)\n--\n\nDelete key; an absent key is a no-op."},
    {"batch_delete", (PyCFunction)kdb_store_batch_delete, METH_O,
     "batch_delete($self, keys, /)\n--\n\n"
     "Delete the present keys atomically; returns how many."},
    {"exists", (PyCFunction)Store_exists, METH_O,
     "exists($self, key, /)\n--\n\n"
     "True when key is present (and not deleted)."},
    {"rename", (PyCFunction)(void (*)(void))kdb_store_rename, METH_FASTCALL | METH_KEYWORDS,
     "rename($self, /, old_key, new_key)\n--\n\nAtomic; KeyError when old_key is absent."},
    {"copy", (PyCFunction)(void (*)(void))kdb_store_copy, METH_FASTCALL | METH_KEYWORDS,
     "copy($self, /, key, target, target_key=None)\n--\n\n"
     "Copy the value to target (a DataStore)."},
    {"transfer", (PyCFunction)(void (*)(void))kdb_store_transfer, METH_FASTCALL | METH_KEYWORDS,
     "transfer($self, /, key, target, target_key=None)\n--\n\n"
     "Copy to target, then delete here."},
    {"keys", (PyCFunction)Store_keys, METH_NOARGS,
     "keys($self, /)\n--\n\n"
     "An iterator over the live keys of a snapshot, in file order."},
    {"values", (PyCFunction)Store_values, METH_NOARGS,
     "values($self, /)\n--\n\n"
     "An iterator over the values of a snapshot, in file order."},
    {"items", (PyCFunction)Store_items, METH_NOARGS,
     "items($self, /)\n--\n\n"
     "An iterator over (key, value) pairs of a snapshot, in file order."},
    {"compact", (PyCFunction)Store_compact, METH_NOARGS,
     "compact($self, /)\n--\n\nRewrite the file with only the live entries."},
    {"estimate_compaction_savings", (PyCFunction)Store_estimate_compaction_savings, METH_NOARGS,
     "estimate_compaction_savings($self, /)\n--\n\n"
     "Bytes compact() would reclaim."},
    {"stats", (PyCFunction)Store_stats, METH_NOARGS,
     "stats($self, /)\n--\n\n"
     "Entries, live keys, sizes, alignment and format version, as a dict."},
    {"sync", (PyCFunction)Store_sync, METH_NOARGS,
     "sync($self, /)\n--\n\nFlush to stable storage."},
    {"verify", (PyCFunction)Store_verify, METH_NOARGS,
     "verify($self, /)\n--\n\nCheck every entry; returns how many, raises CorruptError."},
    {"repair", (PyCFunction)(void (*)(void))kdb_store_repair,
     METH_FASTCALL | METH_KEYWORDS | METH_CLASS,
     "repair($cls, /, path)\n--\n\nCut a damaged tail that opening refuses (CorruptError, "
     "'broken chain'),\nsaving the cut bytes in a file beside the store; returns what was "
     "cut\n(as DataStore.recovery), or None when the store needed nothing."},
    {"refresh", (PyCFunction)Store_refresh, METH_NOARGS,
     "refresh($self, /)\n--\n\n"
     "Read-only stores: see entries appended by the writer since."},
    {"close", (PyCFunction)Store_close, METH_NOARGS,
     "close($self, /)\n--\n\nBufferError while buffers exported from entries are alive."},
    {"__enter__", (PyCFunction)Store_enter, METH_NOARGS,
     "__enter__($self, /)\n--\n\n"
     "Return the store."},
    {"__exit__", (PyCFunction)(void (*)(void))Store_exit, METH_FASTCALL,
     "__exit__($self, exc_type, exc, tb, /)\n--\n\n"
     "Close the store."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef Store_getset[] = {
    {"file_size", (getter)Store_get_file_size, NULL, "Committed size of the file in bytes.",
     NULL},
    {"path", (getter)Store_get_path, NULL, "The path the store was opened with.", NULL},
    {"readonly", (getter)Store_get_readonly, NULL, "True when opened read-only.", NULL},
    {"closed", (getter)Store_get_closed, NULL, "True after close().", NULL},
    {"recovery", (getter)kdb_store_get_recovery, NULL,
     "What opening found past the last intact entry: None, or a dict with kind, valid_end,\n"
     "cut_bytes, damaged_offset, cut (False for a read-only open), saved_path and detail.",
     NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyMemberDef Store_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(StoreObject, weakreflist), READONLY, NULL},
    {NULL, 0, 0, 0, NULL}};

static PyType_Slot Store_slots[] = {
    {Py_tp_doc,
     "DataStore(path, *, readonly=False, create=True, sync='none', alignment=64)\n--\n\n"
     "An append-only single-file key/value store. Keys and values are bytes-like."},
    {Py_tp_new, Store_new},
    {Py_tp_dealloc, Store_dealloc},
    {Py_tp_repr, Store_repr},
    {Py_tp_iter, Store_iter},
    {Py_tp_methods, Store_methods},
    {Py_tp_getset, Store_getset},
    {Py_tp_members, Store_members},
    {Py_mp_subscript, Store_subscript},
    {Py_mp_ass_subscript, kdb_store_ass_subscript},
    {Py_mp_length, Store_length},
    {Py_sq_length, Store_length},
    {Py_sq_contains, Store_contains},
    {0, NULL}};

PyType_Spec kdb_store_spec = {
    .name = "keeldb.DataStore",
    .basicsize = sizeof(StoreObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .slots = Store_slots,
};

