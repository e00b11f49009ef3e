/*
 * multi.c: MultiThreadedWriter (keel_rec_mtwriter: records spread over
 * shard files by C worker threads) and MultiThreadedReader (keel_rec_mtreader: shards read
 * ahead by C worker threads into a bounded queue); both are made by their static
 * constructors only. The GIL is released while waiting on the workers. The writer's calls
 * may run concurrently (the C writer is thread-safe) and close() waits for them (an
 * in-flight count); the reader's lock keeps a second Python thread out of a call in
 * progress, and close() takes the same lock.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common.h"

/* ---- MultiThreadedWriter ---------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    keel_rec_mtwriter *w;
    PyThread_type_lock lock;    /* guards close against calls in flight */
    int inflight;
} MTWriterObject;

static PyObject *MTWriter_new_with_shards(PyObject *cls, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"dir_path", "prefix", "num_shards", "worker_threads",
                             "max_bytes_per_writer", "task_queue_capacity",
                             "enable_auto_sharding", "append", "compression", NULL};
    PyObject *dir = NULL, *workers = Py_None, *maxb = NULL, *comp = Py_None;
    const char *prefix = "shard";
    int nshards = 2, autos = 1, append = 1;
    long long cap = 2000;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|siOOLppO", kwlist, krec_path_converter, &dir,
                                     &prefix, &nshards, &workers, &maxb, &cap, &autos, &append,
                                     &comp))
        return NULL;
    keel_rec_mtwriter_options o;
    memset(&o, 0, sizeof o);
    keel_rec_writer_options wo = KEEL_REC_WRITER_OPTIONS_INIT;
    o.writer = wo;
    if (nshards < 1 || cap < 1) {
        Py_DECREF(dir);
        PyErr_SetString(PyExc_ValueError, "num_shards and task_queue_capacity must be >= 1");
        return NULL;
    }
    o.num_shards = (uint32_t)nshards;
    o.task_queue_capacity = (uint64_t)cap;
    o.auto_sharding = autos;
    o.append = append;
    if (workers != Py_None) {
        long v = PyLong_AsLong(workers);
        if (v == -1 && PyErr_Occurred()) { Py_DECREF(dir); return NULL; }
        if (v < 1) {
            Py_DECREF(dir);
            PyErr_SetString(PyExc_ValueError, "worker_threads must be >= 1 or None");
            return NULL;
        }
        o.worker_threads = (uint32_t)v;
    }
    if (maxb == NULL) o.max_bytes_per_writer = (uint64_t)10 << 30;
    else if (maxb != Py_None) {
        o.max_bytes_per_writer = PyLong_AsUnsignedLongLong(maxb);
        if (PyErr_Occurred()) { Py_DECREF(dir); return NULL; }
    }
    if (krec_parse_compression(comp, &o.writer.compression) < 0) {
        Py_DECREF(dir);
        return NULL;
    }
    o.dir = PyBytes_AS_STRING(dir);
    o.prefix = prefix;
    rec_state *s = krec_state_of_type((PyTypeObject *)cls);
    if (!s) { Py_DECREF(dir); return NULL; }
    MTWriterObject *self = PyObject_GC_New(MTWriterObject, (PyTypeObject *)cls);
    if (!self) { Py_DECREF(dir); return NULL; }
    self->w = NULL;
    self->inflight = 0;
    self->lock = PyThread_allocate_lock();
    PyObject_GC_Track(self);
    if (!self->lock) {
        Py_DECREF(dir);
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    keel_status st;
    keel_rec_mtwriter *w = NULL;
    Py_BEGIN_ALLOW_THREADS
    st = keel_rec_mtwriter_open(&o, &w);
    Py_END_ALLOW_THREADS
    Py_DECREF(dir);
    if (st) {
        Py_DECREF(self);
        return krec_raise_status(st, NULL);
    }
    self->w = w;
    return (PyObject *)self;
}

static void MTWriter_dealloc(MTWriterObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (self->w) {
        Py_BEGIN_ALLOW_THREADS
        keel_rec_mtwriter_close(self->w);
        Py_END_ALLOW_THREADS
    }
    if (self->lock) PyThread_free_lock(self->lock);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static int MTWriter_traverse(MTWriterObject *self, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(self));
    return 0;
}

/* Calls other than close may run concurrently (the C writer is thread-safe); close waits
 * for them: `inflight` counts them under the GIL and close takes `lock` while it is 0. */
static int mtw_begin(MTWriterObject *self) {
    if (!self->w) {
        PyErr_SetString(PyExc_OSError, "the MultiThreadedWriter is closed");
        return -1;
    }
    self->inflight++;
    return 0;
}
static void mtw_end(MTWriterObject *self) { self->inflight--; }

static PyObject *MTWriter_write_record(MTWriterObject *self, PyObject *data) {
    Py_buffer v;
    if (PyUnicode_Check(data)) {
        PyErr_SetString(PyExc_TypeError, "write_record() needs bytes-like data, not str");
        return NULL;
    }
    if (PyObject_GetBuffer(data, &v, PyBUF_SIMPLE) < 0) return NULL;
    if (mtw_begin(self) < 0) {
        PyBuffer_Release(&v);
        return NULL;
    }
    keel_status st;
    keel_rec_mtwriter *w = self->w;
    Py_BEGIN_ALLOW_THREADS
    st = keel_rec_mtwriter_write(w, v.buf, (size_t)v.len);
    Py_END_ALLOW_THREADS
    mtw_end(self);
    PyBuffer_Release(&v);
    if (st) {
        if (st == KEEL_EINVAL) st = KEEL_EIO;
        return krec_raise_status(st, NULL);
    }
    Py_RETURN_NONE;
}

static PyObject *MTWriter_flush(MTWriterObject *self, PyObject *Py_UNUSED(ignored)) {
    if (mtw_begin(self) < 0) return NULL;
    keel_status st;
    keel_rec_mtwriter *w = self->w;
    Py_BEGIN_ALLOW_THREADS
    st = keel_rec_mtwriter_flush(w);
    Py_END_ALLOW_THREADS
    mtw_end(self);
    if (st) return krec_raise_status(st == KEEL_EINVAL ? KEEL_EIO : st, NULL);
    Py_RETURN_NONE;
}

static PyObject *MTWriter_close(MTWriterObject *self, PyObject *Py_UNUSED(ignored)) {
    if (!self->w) {
        /* Disky: a second close is an error. */
        PyErr_SetString(PyExc_OSError, "the MultiThreadedWriter is already closed");
        return NULL;
    }
    if (self->inflight) {
        PyErr_SetString(PyExc_RuntimeError, "close() while another thread is writing");
        return NULL;
    }
    keel_rec_mtwriter *w = self->w;
    self->w = NULL;
    keel_status st;
    Py_BEGIN_ALLOW_THREADS
    st = keel_rec_mtwriter_close(w);
    Py_END_ALLOW_THREADS
    if (st) return krec_raise_status(st == KEEL_EINVAL ? KEEL_EIO : st, NULL);
    Py_RETURN_NONE;
}

static PyObject *MTWriter_pending(MTWriterObject *self, PyObject *Py_UNUSED(ignored)) {
    if (!self->w) return PyLong_FromLong(0);
    return PyLong_FromUnsignedLongLong(keel_rec_mtwriter_pending(self->w));
}

static PyObject *MTWriter_available(MTWriterObject *self, PyObject *Py_UNUSED(ignored)) {
    if (!self->w) return PyLong_FromLong(0);
    return PyLong_FromUnsignedLongLong(keel_rec_mtwriter_available(self->w));
}

static PyObject *MTWriter_enter(PyObject *self, PyObject *Py_UNUSED(ignored)) {
    return Py_NewRef(self);
}

static PyObject *MTWriter_exit(MTWriterObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)args;
    (void)nargs;
    if (!self->w) Py_RETURN_FALSE;
    PyObject *r = MTWriter_close(self, NULL);
    if (!r) return NULL;
    Py_DECREF(r);
    Py_RETURN_FALSE;
}

static PyMethodDef MTWriter_methods[] = {
    {"new_with_shards", (PyCFunction)(void (*)(void))MTWriter_new_with_shards,
     METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "new_with_shards(dir_path, prefix='shard', num_shards=2, worker_threads=None, "
     "max_bytes_per_writer=10 GiB, task_queue_capacity=2000, enable_auto_sharding=True, "
     "append=True, compression=None)"},
    {"write_record", (PyCFunction)MTWriter_write_record, METH_O,
     "write_record(data) -> None\n\nQueue a copy of the record; blocks while the queue is "
     "full. Errors of the workers are raised by a later call."},
    {"flush", (PyCFunction)MTWriter_flush, METH_NOARGS,
     "flush() -> None\n\nWait until every queued record is written and flush every shard."},
    {"close", (PyCFunction)MTWriter_close, METH_NOARGS,
     "close() -> None\n\nFlush, stop the workers and close the shards. A second close "
     "raises OSError."},
    {"pending_tasks", (PyCFunction)MTWriter_pending, METH_NOARGS,
     "pending_tasks() -> int\n\nRecords accepted and not yet written."},
    {"available_writers", (PyCFunction)MTWriter_available, METH_NOARGS,
     "available_writers() -> int\n\nShard writers open and idle."},
    {"__enter__", (PyCFunction)MTWriter_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)(void (*)(void))MTWriter_exit, METH_FASTCALL, NULL},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot MTWriter_slots[] = {
    {Py_tp_dealloc, MTWriter_dealloc},
    {Py_tp_traverse, MTWriter_traverse},
    {Py_tp_methods, MTWriter_methods},
    {Py_tp_doc, "Sharded writer with C worker threads; create it with new_with_shards()."},
    {0, NULL},
};

PyType_Spec krec_mtwriter_spec = {
    "keeldb.records.MultiThreadedWriter", sizeof(MTWriterObject), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE |
        Py_TPFLAGS_DISALLOW_INSTANTIATION,
    MTWriter_slots,
};

/* ---- MultiThreadedReader ---------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    keel_rec_mtreader *r;
    PyThread_type_lock lock;
    PyTypeObject *bytes_type;
} MTReaderObject;

/* Build a reader over a list of paths (bytes objects). */
static PyObject *mtreader_make(PyTypeObject *cls, PyObject *paths, int nshards, int workers,
                               long long queue_mb, keel_rec_corruption cs) {
    rec_state *s = krec_state_of_type(cls);
    if (!s) return NULL;
    Py_ssize_t n = PyList_GET_SIZE(paths);
    const char **pv = PyMem_Calloc((size_t)n + 1, sizeof *pv);
    if (!pv) return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < n; i++) pv[i] = PyBytes_AS_STRING(PyList_GET_ITEM(paths, i));
    keel_rec_mtreader_options o;
    memset(&o, 0, sizeof o);
    o.paths = pv;
    o.npaths = (size_t)n;
    o.num_shards = nshards > 0 ? (uint32_t)nshards : 1;
    o.worker_threads = workers > 0 ? (uint32_t)workers : 1;
    o.queue_bytes = queue_mb > 0 ? (uint64_t)queue_mb << 20 : (8u << 20);
    o.corruption = cs;
    MTReaderObject *self = PyObject_GC_New(MTReaderObject, cls);
    if (!self) {
        PyMem_Free(pv);
        return NULL;
    }
    self->r = NULL;
    self->bytes_type = (PyTypeObject *)Py_NewRef((PyObject *)s->Bytes_type);
    self->lock = PyThread_allocate_lock();
    PyObject_GC_Track(self);
    if (!self->lock) {
        PyMem_Free(pv);
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    keel_status st;
    keel_rec_mtreader *r = NULL;
    Py_BEGIN_ALLOW_THREADS
    st = keel_rec_mtreader_open(&o, &r);
    Py_END_ALLOW_THREADS
    PyMem_Free(pv);
    if (st) {
        Py_DECREF(self);
        return krec_raise_status(st, NULL);
    }
    self->r = r;
    return (PyObject *)self;
}

static PyObject *MTReader_new_with_shard_paths(PyObject *cls, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"shard_paths", "num_shards", "worker_threads", "queue_size_mb",
                             "corruption_strategy", NULL};
    PyObject *seq;
    int nshards = 2, workers = 1;
    long long qmb = 10 * 1024;
    keel_rec_corruption cs = KEEL_REC_ERROR;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|iiLO&", kwlist, &seq, &nshards, &workers,
                                     &qmb, krec_strategy_converter, &cs))
        return NULL;
    PyObject *it = PyObject_GetIter(seq), *item;
    if (!it) return NULL;
    PyObject *paths = PyList_New(0);
    while (paths && (item = PyIter_Next(it))) {
        PyObject *p = NULL;
        if (!krec_path_converter(item, &p) || PyList_Append(paths, p) < 0) Py_CLEAR(paths);
        Py_XDECREF(p);
        Py_DECREF(item);
    }
    Py_DECREF(it);
    if (!paths || PyErr_Occurred()) {
        Py_XDECREF(paths);
        return NULL;
    }
    PyObject *r = mtreader_make((PyTypeObject *)cls, paths, nshards, workers, qmb, cs);
    Py_DECREF(paths);
    return r;
}

static PyObject *MTReader_new_with_shards(PyObject *cls, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"dir_path", "prefix", "num_shards", "worker_threads",
                             "queue_size_mb", "corruption_strategy", NULL};
    PyObject *dir;
    const char *prefix = "shard";
    int nshards = 2, workers = 1;
    long long qmb = 10 * 1024;
    keel_rec_corruption cs = KEEL_REC_ERROR;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|siiLO&", kwlist, &dir, &prefix, &nshards,
                                     &workers, &qmb, krec_strategy_converter, &cs))
        return NULL;
    /* Disky's FileShardLocator: "{prefix}_*" in the directory, sorted by name; an error
     * when nothing matches. Globbing is done by Python's glob (no C reimplementation). */
    PyObject *pathlib = PyImport_ImportModule("pathlib");
    if (!pathlib) return NULL;
    PyObject *d = PyObject_CallMethod(pathlib, "Path", "O", dir);
    Py_DECREF(pathlib);
    if (!d) return NULL;
    PyObject *pattern = PyUnicode_FromFormat("%s_*", prefix);
    PyObject *g = pattern ? PyObject_CallMethod(d, "glob", "O", pattern) : NULL;
    Py_XDECREF(pattern);
    PyObject *files = g ? PySequence_List(g) : NULL;
    Py_XDECREF(g);
    if (!files) {
        Py_DECREF(d);
        return NULL;
    }
    if (PyList_Sort(files) < 0) {
        Py_DECREF(files);
        Py_DECREF(d);
        return NULL;
    }
    if (PyList_GET_SIZE(files) == 0) {
        /* Disky errors when nothing matches; an existing directory without shards is an
         * empty data set here (the README's reading example runs on an empty directory),
         * a missing directory is FileNotFoundError. */
        PyObject *isdir = PyObject_CallMethod(d, "is_dir", NULL);
        int ok = isdir ? PyObject_IsTrue(isdir) : -1;
        Py_XDECREF(isdir);
        if (ok == 0)
            PyErr_Format(PyExc_FileNotFoundError, "shard directory %S does not exist", d);
        if (ok != 1) {
            Py_DECREF(files);
            Py_DECREF(d);
            return NULL;
        }
    }
    Py_DECREF(d);
    PyObject *paths = PyList_New(0);
    for (Py_ssize_t i = 0; paths && i < PyList_GET_SIZE(files); i++) {
        PyObject *p = NULL;
        if (!krec_path_converter(PyList_GET_ITEM(files, i), &p) || PyList_Append(paths, p) < 0)
            Py_CLEAR(paths);
        Py_XDECREF(p);
    }
    Py_DECREF(files);
    if (!paths) return NULL;
    PyObject *r = mtreader_make((PyTypeObject *)cls, paths, nshards, workers, qmb, cs);
    Py_DECREF(paths);
    return r;
}

static void MTReader_dealloc(MTReaderObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (self->r) {
        Py_BEGIN_ALLOW_THREADS
        keel_rec_mtreader_close(self->r);
        Py_END_ALLOW_THREADS
    }
    if (self->lock) PyThread_free_lock(self->lock);
    Py_XDECREF(self->bytes_type);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static int MTReader_traverse(MTReaderObject *self, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->bytes_type);
    return 0;
}

static PyObject *mtreader_next(MTReaderObject *self) {
    krec_lock_handle(self->lock);
    if (!self->r) {
        PyThread_release_lock(self->lock);
        return NULL;    /* closed: the end */
    }
    keel_rec_record rec;
    keel_status st = keel_rec_mtreader_next(self->r, 0, &rec);
    if (st == KEEL_EBUSY) {
        Py_BEGIN_ALLOW_THREADS
        st = keel_rec_mtreader_next(self->r, 1, &rec);
        Py_END_ALLOW_THREADS
    }
    PyObject *res = NULL;
    if (st == KEEL_OK) res = krec_bytes_new_from(self->bytes_type, &rec);
    else if (st != KEEL_NOTFOUND) krec_raise_status(st, NULL);
    PyThread_release_lock(self->lock);
    return res;
}

static PyObject *MTReader_next_record(MTReaderObject *self, PyObject *Py_UNUSED(ignored)) {
    PyObject *r = mtreader_next(self);
    if (!r && !PyErr_Occurred()) Py_RETURN_NONE;
    return r;
}

static PyObject *MTReader_close(MTReaderObject *self, PyObject *Py_UNUSED(ignored)) {
    krec_lock_handle(self->lock);
    keel_rec_mtreader *r = self->r;
    self->r = NULL;
    PyThread_release_lock(self->lock);
    if (r) {
        Py_BEGIN_ALLOW_THREADS
        keel_rec_mtreader_close(r);
        Py_END_ALLOW_THREADS
    }
    Py_RETURN_NONE;
}

static PyObject *MTReader_queued_records(MTReaderObject *self, PyObject *Py_UNUSED(i)) {
    uint64_t a = 0;
    if (self->r) keel_rec_mtreader_queued(self->r, &a, NULL);
    return PyLong_FromUnsignedLongLong(a);
}

static PyObject *MTReader_queued_bytes(MTReaderObject *self, PyObject *Py_UNUSED(i)) {
    uint64_t b = 0;
    if (self->r) keel_rec_mtreader_queued(self->r, NULL, &b);
    return PyLong_FromUnsignedLongLong(b);
}

static PyObject *MTReader_exit(MTReaderObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)args;
    (void)nargs;
    Py_DECREF(MTReader_close(self, NULL));
    Py_RETURN_FALSE;
}

static PyMethodDef MTReader_methods[] = {
    {"new_with_shards", (PyCFunction)(void (*)(void))MTReader_new_with_shards,
     METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "new_with_shards(dir_path, prefix='shard', num_shards=2, worker_threads=1, "
     "queue_size_mb=10240, corruption_strategy=None)"},
    {"new_with_shard_paths", (PyCFunction)(void (*)(void))MTReader_new_with_shard_paths,
     METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "new_with_shard_paths(shard_paths, num_shards=2, worker_threads=1, queue_size_mb=10240, "
     "corruption_strategy=None)"},
    {"next_record", (PyCFunction)MTReader_next_record, METH_NOARGS,
     "next_record() -> Bytes | None"},
    {"close", (PyCFunction)MTReader_close, METH_NOARGS, "close() -> None"},
    {"queued_records", (PyCFunction)MTReader_queued_records, METH_NOARGS,
     "queued_records() -> int"},
    {"queued_bytes", (PyCFunction)MTReader_queued_bytes, METH_NOARGS, "queued_bytes() -> int"},
    {"__enter__", (PyCFunction)MTWriter_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)(void (*)(void))MTReader_exit, METH_FASTCALL, NULL},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot MTReader_slots[] = {
    {Py_tp_dealloc, MTReader_dealloc},
    {Py_tp_traverse, MTReader_traverse},
    {Py_tp_methods, MTReader_methods},
    {Py_tp_iter, PyObject_SelfIter},
    {Py_tp_iternext, mtreader_next},
    {Py_tp_doc, "Sharded reader with C worker threads; create it with new_with_shards() or "
                "new_with_shard_paths()."},
    {0, NULL},
};

PyType_Spec krec_mtreader_spec = {
    "keeldb.records.MultiThreadedReader", sizeof(MTReaderObject), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE |
        Py_TPFLAGS_DISALLOW_INSTANTIATION,
    MTReader_slots,
};

