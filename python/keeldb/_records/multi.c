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
    PyObject *nshards_arg = NULL, *cap_arg = NULL;
    const char *prefix = "shard";
    int autos = 1, append = 1;
    unsigned long long nshards = 2, cap = 2000, nworkers = 0, maxbytes = (uint64_t)10 << 30;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|sOOOOppO", kwlist, krec_path_converter, &dir,
                                     &prefix, &nshards_arg, &workers, &maxb, &cap_arg, &autos,
                                     &append, &comp))
        return NULL;
    keel_rec_mtwriter_options o;
    memset(&o, 0, sizeof o);
    keel_rec_writer_options wo = KEEL_REC_WRITER_OPTIONS_INIT;
    o.writer = wo;
    /* Every count is checked whole (no silent truncation to 32 bits) and 0 is refused
     * where the C options would read it as "the default". max_bytes_per_writer=None means
     * no limit. */
    if ((nshards_arg &&
         keeldb_int_arg(nshards_arg, "num_shards", 1, KREC_MAX_SHARDS, &nshards) < 0) ||
        (workers != Py_None &&
         keeldb_int_arg(workers, "worker_threads", 1, KREC_MAX_THREADS, &nworkers) < 0) ||
        (maxb && maxb != Py_None &&
         keeldb_int_arg(maxb, "max_bytes_per_writer", 1, UINT64_MAX, &maxbytes) < 0) ||
        (cap_arg && keeldb_int_arg(cap_arg, "task_queue_capacity", 1, UINT64_MAX >> 1,
                                   &cap) < 0)) {
        Py_DECREF(dir);
        return NULL;
    }
    if (maxb == Py_None) maxbytes = 0;
    o.num_shards = (uint32_t)nshards;
    o.task_queue_capacity = cap;
    o.auto_sharding = autos;
    o.append = append;
    o.worker_threads = (uint32_t)nworkers;
    o.max_bytes_per_writer = maxbytes;
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
        PyErr_SetString(PyExc_ValueError, "I/O operation on a closed MultiThreadedWriter");
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
    if (!self->w) Py_RETURN_NONE;   /* close() is idempotent, as for every keeldb object */
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
     "new_with_shards($type, /, dir_path, prefix='shard', num_shards=2, worker_threads=None, "
     "max_bytes_per_writer=10737418240, task_queue_capacity=2000, enable_auto_sharding=True, "
     "append=True, compression=None)\n--\n\n"
     "A writer spreading records over {prefix}_N files in dir_path, written by C worker "
     "threads. worker_threads=None: one per CPU; max_bytes_per_writer=None: no limit."},
    {"write_record", (PyCFunction)MTWriter_write_record, METH_O,
     "write_record($self, data, /)\n--\n\n"
     "Queue a copy of the record; blocks while the queue is full. Errors of the workers are "
     "raised by a later call."},
    {"flush", (PyCFunction)MTWriter_flush, METH_NOARGS,
     "flush($self, /)\n--\n\n"
     "Wait until every queued record is written and flush every shard."},
    {"close", (PyCFunction)MTWriter_close, METH_NOARGS,
     "close($self, /)\n--\n\n"
     "Flush, stop the workers and close the shards. A second close raises OSError."},
    {"pending_tasks", (PyCFunction)MTWriter_pending, METH_NOARGS,
     "pending_tasks($self, /)\n--\n\nRecords accepted and not yet written."},
    {"available_writers", (PyCFunction)MTWriter_available, METH_NOARGS,
     "available_writers($self, /)\n--\n\nShard writers open and idle."},
    {"__enter__", (PyCFunction)MTWriter_enter, METH_NOARGS,
     "__enter__($self, /)\n--\n\n"
     "Return the writer."},
    {"__exit__", (PyCFunction)(void (*)(void))MTWriter_exit, METH_FASTCALL,
     "__exit__($self, exc_type, exc, tb, /)\n--\n\n"
     "Close the writer."},
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
    /* new_with_random_shard_paths: the paths (a list of bytes, reshuffled before every
     * pass) and the options to reopen with; NULL for the readers that end. */
    PyObject *paths;
    keel_rec_mtreader_options o;
    uint64_t pass_records;      /* records returned in the current pass */
} MTReaderObject;

/* The reader's options from the constructors' arguments (NULL: absent). The counts are
 * checked whole and 0 is refused (the C options would read it as "the default"). */
static int mtreader_options(PyObject *nshards, PyObject *workers, PyObject *qmb,
                            keel_rec_corruption cs, keel_rec_mtreader_options *o) {
    unsigned long long n = 2, w = 1, q = 10 * 1024;
    if ((nshards && keeldb_int_arg(nshards, "num_shards", 1, KREC_MAX_SHARDS, &n) < 0) ||
        (workers && keeldb_int_arg(workers, "worker_threads", 1, KREC_MAX_THREADS, &w) < 0) ||
        (qmb && keeldb_int_arg(qmb, "queue_size_mb", 1, UINT64_MAX >> 20, &q) < 0))
        return -1;
    memset(o, 0, sizeof *o);
    o->num_shards = (uint32_t)n;
    o->worker_threads = (uint32_t)w;
    o->queue_bytes = (uint64_t)q << 20;
    o->corruption = cs;
    return 0;
}

/* A list of bytes paths from an iterable of path-likes. */
static PyObject *paths_from_iterable(PyObject *seq) {
    if (PyUnicode_Check(seq) || PyBytes_Check(seq)) {
        PyErr_SetString(PyExc_TypeError, "shard_paths must be an iterable of paths, not one path");
        return NULL;
    }
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
    return paths;
}

/* Disky's FileShardLocator: "{prefix}_*" in the directory, sorted by name, as a list of bytes
 * paths. Globbing is done by Python's pathlib (no C reimplementation). Disky errors when
 * nothing matches; an existing directory without shards is an empty data set here (the
 * README's reading example runs on an empty directory), a missing directory is
 * FileNotFoundError. */
static PyObject *paths_from_dir(PyObject *dir, const char *prefix) {
    PyObject *dstr = krec_path_str(dir);
    if (!dstr) return NULL;
    PyObject *pathlib = PyImport_ImportModule("pathlib");
    PyObject *d = pathlib ? PyObject_CallMethod(pathlib, "Path", "O", dstr) : NULL;
    Py_XDECREF(pathlib);
    Py_DECREF(dstr);
    if (!d) return NULL;
    PyObject *pattern = PyUnicode_FromFormat("%s_*", prefix);
    PyObject *g = pattern ? PyObject_CallMethod(d, "glob", "O", pattern) : NULL;
    Py_XDECREF(pattern);
    PyObject *files = g ? PySequence_List(g) : NULL;
    Py_XDECREF(g);
    if (!files || PyList_Sort(files) < 0) {
        Py_XDECREF(files);
        Py_DECREF(d);
        return NULL;
    }
    if (PyList_GET_SIZE(files) == 0) {
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
    PyObject *paths = paths_from_iterable(files);
    Py_DECREF(files);
    return paths;
}

/* Open (or reopen) self->r over `paths` (a list of bytes) with self->o. */
static int mtreader_open_paths(MTReaderObject *self, PyObject *paths) {
    Py_ssize_t n = PyList_GET_SIZE(paths);
    const char **pv = PyMem_Calloc((size_t)n + 1, sizeof *pv);
    if (!pv) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) pv[i] = PyBytes_AS_STRING(PyList_GET_ITEM(paths, i));
    keel_rec_mtreader_options o = self->o;
    o.paths = pv;
    o.npaths = (size_t)n;
    keel_status st;
    keel_rec_mtreader *r = NULL;
    Py_BEGIN_ALLOW_THREADS
    st = keel_rec_mtreader_open(&o, &r);
    Py_END_ALLOW_THREADS
    PyMem_Free(pv);
    if (st) {
        krec_raise_status(st, NULL);
        return -1;
    }
    self->r = r;
    return 0;
}

/* random.shuffle(paths), in place. */
static int shuffle_paths(PyObject *paths) {
    PyObject *random = PyImport_ImportModule("random");
    PyObject *r = random ? PyObject_CallMethod(random, "shuffle", "O", paths) : NULL;
    Py_XDECREF(random);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

/* Build a reader over a list of paths (bytes objects); `repeat`: the random, endless one. */
static PyObject *mtreader_make(PyTypeObject *cls, PyObject *paths,
                               const keel_rec_mtreader_options *o, int repeat) {
    rec_state *s = krec_state_of_type(cls);
    if (!s) return NULL;
    if (repeat && PyList_GET_SIZE(paths) == 0) {
        PyErr_SetString(PyExc_ValueError, "shard_paths is empty: nothing to repeat");
        return NULL;
    }
    MTReaderObject *self = PyObject_GC_New(MTReaderObject, cls);
    if (!self) return NULL;
    self->r = NULL;
    self->o = *o;
    self->paths = NULL;
    self->pass_records = 0;
    self->bytes_type = (PyTypeObject *)Py_NewRef((PyObject *)s->Bytes_type);
    self->lock = PyThread_allocate_lock();
    PyObject_GC_Track(self);
    if (!self->lock) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    if (repeat) {
        self->paths = PySequence_List(paths);   /* our own copy, shuffled in place */
        if (!self->paths || shuffle_paths(self->paths) < 0) {
            Py_DECREF(self);
            return NULL;
        }
        paths = self->paths;
    }
    if (mtreader_open_paths(self, paths) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static PyObject *mtreader_from_paths(PyObject *cls, PyObject *args, PyObject *kw, int repeat) {
    static char *kwlist[] = {"shard_paths", "num_shards", "worker_threads", "queue_size_mb",
                             "corruption_strategy", NULL};
    PyObject *seq, *nshards = NULL, *workers = NULL, *qmb = NULL;
    keel_rec_corruption cs = KEEL_REC_ERROR;
    keel_rec_mtreader_options o;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|OOOO&", kwlist, &seq, &nshards, &workers,
                                     &qmb, krec_strategy_converter, &cs) ||
        mtreader_options(nshards, workers, qmb, cs, &o) < 0)
        return NULL;
    PyObject *paths = paths_from_iterable(seq);
    if (!paths) return NULL;
    PyObject *r = mtreader_make((PyTypeObject *)cls, paths, &o, repeat);
    Py_DECREF(paths);
    return r;
}

static PyObject *MTReader_new_with_shard_paths(PyObject *cls, PyObject *args, PyObject *kw) {
    return mtreader_from_paths(cls, args, kw, 0);
}

static PyObject *MTReader_new_with_random_shard_paths(PyObject *cls, PyObject *args,
                                                      PyObject *kw) {
    return mtreader_from_paths(cls, args, kw, 1);
}

static PyObject *MTReader_new_with_shards(PyObject *cls, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"dir_path", "prefix", "num_shards", "worker_threads",
                             "queue_size_mb", "corruption_strategy", NULL};
    PyObject *dir, *nshards = NULL, *workers = NULL, *qmb = NULL;
    const char *prefix = "shard";
    keel_rec_corruption cs = KEEL_REC_ERROR;
    keel_rec_mtreader_options o;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|sOOOO&", kwlist, &dir, &prefix, &nshards,
                                     &workers, &qmb, krec_strategy_converter, &cs) ||
        mtreader_options(nshards, workers, qmb, cs, &o) < 0)
        return NULL;
    PyObject *paths = paths_from_dir(dir, prefix);
    if (!paths) return NULL;
    PyObject *r = mtreader_make((PyTypeObject *)cls, paths, &o, 0);
    Py_DECREF(paths);
    return r;
}

/* The total of keel_rec_count over `paths` (chunk headers only; no record is read). */
static PyObject *count_paths(PyObject *paths, keel_rec_corruption cs) {
    keel_rec_reader_options ro = KEEL_REC_READER_OPTIONS_INIT;
    ro.corruption = cs;
    uint64_t total = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(paths); i++) {
        const char *p = PyBytes_AS_STRING(PyList_GET_ITEM(paths, i));
        uint64_t n = 0;
        keel_status st;
        Py_BEGIN_ALLOW_THREADS
        st = keel_rec_count(p, &ro, &n);
        Py_END_ALLOW_THREADS
        if (st) return krec_raise_status(st, p);
        total += n;
    }
    return PyLong_FromUnsignedLongLong(total);
}

static PyObject *MTReader_count_records_with_shards(PyObject *Py_UNUSED(cls), PyObject *args,
                                                    PyObject *kw) {
    static char *kwlist[] = {"dir_path", "prefix", "num_shards", "worker_threads",
                             "queue_size_mb", "corruption_strategy", NULL};
    PyObject *dir, *nshards = NULL, *workers = NULL, *qmb = NULL;
    const char *prefix = "shard";
    keel_rec_corruption cs = KEEL_REC_ERROR;
    keel_rec_mtreader_options o;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|sOOOO&", kwlist, &dir, &prefix, &nshards,
                                     &workers, &qmb, krec_strategy_converter, &cs) ||
        mtreader_options(nshards, workers, qmb, cs, &o) < 0)
        return NULL;
    PyObject *paths = paths_from_dir(dir, prefix);
    if (!paths) return NULL;
    PyObject *r = count_paths(paths, cs);
    Py_DECREF(paths);
    return r;
}

static PyObject *MTReader_count_records_with_shard_paths(PyObject *Py_UNUSED(cls),
                                                         PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"shard_paths", "num_shards", "worker_threads", "queue_size_mb",
                             "corruption_strategy", NULL};
    PyObject *seq, *nshards = NULL, *workers = NULL, *qmb = NULL;
    keel_rec_corruption cs = KEEL_REC_ERROR;
    keel_rec_mtreader_options o;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|OOOO&", kwlist, &seq, &nshards, &workers,
                                     &qmb, krec_strategy_converter, &cs) ||
        mtreader_options(nshards, workers, qmb, cs, &o) < 0)
        return NULL;
    PyObject *paths = paths_from_iterable(seq);
    if (!paths) return NULL;
    PyObject *r = count_paths(paths, cs);
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
    Py_XDECREF(self->paths);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static int MTReader_traverse(MTReaderObject *self, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->bytes_type);
    return 0;
}

/* The next record; NULL without an exception at the end. A random reader starts a new
 * pass over its reshuffled paths at the end of each one, forever, unless a whole pass
 * returned no record (then it ends rather than spin). */
static PyObject *mtreader_next(MTReaderObject *self) {
    krec_lock_handle(self->lock);
    if (!self->r) {
        PyThread_release_lock(self->lock);
        PyErr_SetString(PyExc_ValueError, "I/O operation on a closed MultiThreadedReader");
        return NULL;
    }
    keel_rec_record rec;
    keel_status st;
    for (;;) {
        st = keel_rec_mtreader_next(self->r, 0, &rec);
        if (st == KEEL_EBUSY) {
            Py_BEGIN_ALLOW_THREADS
            st = keel_rec_mtreader_next(self->r, 1, &rec);
            Py_END_ALLOW_THREADS
        }
        if (st != KEEL_NOTFOUND || !self->paths || self->pass_records == 0) break;
        keel_rec_mtreader *old = self->r;
        self->r = NULL;
        Py_BEGIN_ALLOW_THREADS
        keel_rec_mtreader_close(old);
        Py_END_ALLOW_THREADS
        self->pass_records = 0;
        if (shuffle_paths(self->paths) < 0 || mtreader_open_paths(self, self->paths) < 0) {
            PyThread_release_lock(self->lock);
            return NULL;
        }
    }
    PyObject *res = NULL;
    if (st == KEEL_OK) {
        res = krec_bytes_new_from(self->bytes_type, &rec);
        self->pass_records++;
    } else if (st != KEEL_NOTFOUND) {
        krec_raise_status(st, NULL);
    }
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
     "new_with_shards($type, /, dir_path, prefix='shard', num_shards=2, worker_threads=1, "
     "queue_size_mb=10240, corruption_strategy=None)\n--\n\n"
     "A reader over the {prefix}_* files of dir_path (sorted by name), read ahead by C "
     "worker threads; every record once, in no defined order across shards."},
    {"new_with_shard_paths", (PyCFunction)(void (*)(void))MTReader_new_with_shard_paths,
     METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "new_with_shard_paths($type, /, shard_paths, num_shards=2, worker_threads=1, "
     "queue_size_mb=10240, corruption_strategy=None)\n"
     "--\n\n"},
    {"new_with_random_shard_paths",
     (PyCFunction)(void (*)(void))MTReader_new_with_random_shard_paths,
     METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "new_with_random_shard_paths($type, /, shard_paths, num_shards=2, worker_threads=1, "
     "queue_size_mb=10240, corruption_strategy=None)\n--\n\n"
     "A reader that never ends: it reads the shards in a random order and, after the last, "
     "starts again in a new random order (a training loop's reader). It ends only if a "
     "whole pass finds no record."},
    {"count_records_with_shards", (PyCFunction)(void (*)(void))MTReader_count_records_with_shards,
     METH_VARARGS | METH_KEYWORDS | METH_STATIC,
     "count_records_with_shards(dir_path, prefix='shard', num_shards=2, worker_threads=1, "
     "queue_size_mb=10240, corruption_strategy=None)\n--\n\n"
     "The number of records in the {prefix}_* shards of dir_path, counted from chunk "
     "headers (no record is read). The thread and queue arguments are checked and unused."},
    {"count_records_with_shard_paths",
     (PyCFunction)(void (*)(void))MTReader_count_records_with_shard_paths,
     METH_VARARGS | METH_KEYWORDS | METH_STATIC,
     "count_records_with_shard_paths(shard_paths, num_shards=2, worker_threads=1, "
     "queue_size_mb=10240, corruption_strategy=None)\n--\n\n"
     "The number of records in the given shard files, counted from chunk headers."},
    {"next_record", (PyCFunction)MTReader_next_record, METH_NOARGS,
     "next_record($self, /)\n--\n\n"
     "The next record of any shard, or None at the end; ValueError once closed."},
    {"close", (PyCFunction)MTReader_close, METH_NOARGS,
     "close($self, /)\n--\n\n"
     "Stop the workers. Records already returned stay valid; calling it again does nothing."},
    {"queued_records", (PyCFunction)MTReader_queued_records, METH_NOARGS,
     "queued_records($self, /)\n--\n\n"
     "Records read ahead and not yet returned."},
    {"queued_bytes", (PyCFunction)MTReader_queued_bytes, METH_NOARGS,
     "queued_bytes($self, /)\n--\n\nRecord bytes read ahead and not yet returned."},
    {"__enter__", (PyCFunction)MTWriter_enter, METH_NOARGS,
     "__enter__($self, /)\n--\n\n"
     "Return the reader."},
    {"__exit__", (PyCFunction)(void (*)(void))MTReader_exit, METH_FASTCALL,
     "__exit__($self, exc_type, exc, tb, /)\n--\n\n"
     "Close the reader."},
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

