/*
 * single.c: RecordWriter (one keel_rec_writer: write_record copies under the GIL and
 * releases it only when the write ends a chunk; with background the writer's own C thread
 * writes each full chunk) and RecordReader (one keel_rec_reader: iteration, next_record,
 * next_batch/next_batch_into, seek/tell/len/[i], count_records; the GIL is released
 * whenever a call may read the file). Each handle's lock keeps a second Python thread out
 * while the first has released the GIL; close() takes the same lock.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common.h"

/* ---- RecordWriter --------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    keel_rec_writer *w;
    PyThread_type_lock lock;
    PyObject *path;
} WriterObject;

static int Writer_init(WriterObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"path", "compression", "append", "chunk_size", "array_record",
                             "group_size", "level", "sync", "background", NULL};
    PyObject *path = NULL, *comp = NULL;
    PyObject *chunk_arg = Py_None, *group_arg = NULL, *level_arg = NULL;
    int append = 0, ar = 0, sync = 0;
    PyObject *background = Py_None;
    unsigned long long chunk_size = 0, group = KEEL_REC_DEFAULT_GROUP_SIZE, level = 0;
    if (self->w) {
        PyErr_SetString(PyExc_RuntimeError, "RecordWriter is already initialised");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|O$pOpOOpO", kwlist, krec_path_converter, &path,
                                     &comp, &append, &chunk_arg, &ar, &group_arg, &level_arg,
                                     &sync, &background))
        return -1;
    keel_rec_writer_options o = KEEL_REC_WRITER_OPTIONS_INIT;
    /* chunk_size=None is Disky's 1 MiB; 0 is not "the default" but a mistake. The level is
     * an int (zstd's negative levels included) and the C side checks it per codec. */
    if ((chunk_arg != Py_None &&
         keeldb_int_arg(chunk_arg, "chunk_size", 1, UINT64_MAX >> 1, &chunk_size) < 0) ||
        (group_arg && keeldb_int_arg(group_arg, "group_size", 1, UINT32_MAX, &group) < 0) ||
        (level_arg && keeldb_int_arg(level_arg, "level", INT_MIN, INT_MAX, &level) < 0) ||
        krec_parse_compression(comp, &o.compression) < 0) {
        Py_DECREF(path);
        return -1;
    }
    o.append = append;
    o.chunk_size = chunk_size;
    o.array_record_group_size = ar ? (uint32_t)group : 0;
    o.level = (int)(long long)level;
    o.sync = sync ? KEEL_SYNC_DATA : KEEL_SYNC_NONE;
    /* Default: a background writer for compressed files only. Their encoding is CPU work
     * that overlaps the write; for uncompressed chunks, handing the freshly copied chunk to
     * another core cost as much as it saved (measured: bench/bench_records.py). */
    if (background == Py_None) {
        o.background = o.compression != KEEL_REC_UNCOMPRESSED;
    } else {
        int b = PyObject_IsTrue(background);
        if (b < 0) {
            Py_DECREF(path);
            return -1;
        }
        o.background = b;
    }
    self->lock = PyThread_allocate_lock();
    if (!self->lock) {
        Py_DECREF(path);
        PyErr_NoMemory();
        return -1;
    }
    keel_rec_writer *w = NULL;
    keel_status st;
    const char *p = PyBytes_AS_STRING(path);
    Py_BEGIN_ALLOW_THREADS
    st = keel_rec_writer_open(p, &o, &w);
    Py_END_ALLOW_THREADS
    if (st) {
        krec_raise_status(st, NULL);
        Py_DECREF(path);
        return -1;
    }
    self->w = w;
    self->path = path;
    return 0;
}

static void Writer_dealloc(WriterObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (self->w) {
        /* Like Disky's Drop: flush what is pending. Errors cannot be raised here. */
        Py_BEGIN_ALLOW_THREADS
        keel_rec_writer_close(self->w);
        Py_END_ALLOW_THREADS
    }
    if (self->lock) PyThread_free_lock(self->lock);
    Py_XDECREF(self->path);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static int Writer_traverse(WriterObject *self, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(self));
    return 0;
}

#define WRITER_CHECK(self)                                                        \
    do {                                                                          \
        if (!(self)->w) {                                                         \
            PyErr_SetString(PyExc_ValueError, "I/O operation on a closed RecordWriter"); \
            return NULL;                                                          \
        }                                                                         \
    } while (0)

static PyObject *Writer_write_record(WriterObject *self, PyObject *data) {
    Py_buffer v;
    if (PyUnicode_Check(data)) {
        PyErr_SetString(PyExc_TypeError, "write_record() needs bytes-like data, not str");
        return NULL;
    }
    if (PyObject_GetBuffer(data, &v, PyBUF_SIMPLE) < 0) return NULL;
    krec_lock_handle(self->lock);
    if (!self->w) {
        PyThread_release_lock(self->lock);
        PyBuffer_Release(&v);
        PyErr_SetString(PyExc_ValueError, "I/O operation on a closed RecordWriter");
        return NULL;
    }
    keel_status st;
    if (keel_rec_writer_would_flush(self->w, (size_t)v.len) || v.len >= (1 << 20)) {
        Py_BEGIN_ALLOW_THREADS
        st = keel_rec_writer_write(self->w, v.buf, (size_t)v.len);
        Py_END_ALLOW_THREADS
    } else {
        st = keel_rec_writer_write(self->w, v.buf, (size_t)v.len);
    }
    PyThread_release_lock(self->lock);
    PyBuffer_Release(&v);
    if (st) return krec_raise_status(st, NULL);
    Py_RETURN_NONE;
}

static PyObject *Writer_flush(WriterObject *self, PyObject *Py_UNUSED(ignored)) {
    krec_lock_handle(self->lock);
    if (!self->w) {
        PyThread_release_lock(self->lock);
        PyErr_SetString(PyExc_ValueError, "I/O operation on a closed RecordWriter");
        return NULL;
    }
    keel_status st;
    Py_BEGIN_ALLOW_THREADS
    st = keel_rec_writer_flush(self->w);
    Py_END_ALLOW_THREADS
    PyThread_release_lock(self->lock);
    if (st) return krec_raise_status(st, NULL);
    Py_RETURN_NONE;
}

static PyObject *Writer_close(WriterObject *self, PyObject *Py_UNUSED(ignored)) {
    krec_lock_handle(self->lock);
    keel_rec_writer *w = self->w;
    self->w = NULL;
    keel_status st = KEEL_OK;
    if (w) {
        Py_BEGIN_ALLOW_THREADS
        st = keel_rec_writer_close(w);
        Py_END_ALLOW_THREADS
    }
    PyThread_release_lock(self->lock);
    if (st) return krec_raise_status(st, NULL);
    Py_RETURN_NONE;
}

static PyObject *Writer_enter(WriterObject *self, PyObject *Py_UNUSED(ignored)) {
    WRITER_CHECK(self);
    return Py_NewRef((PyObject *)self);
}

static PyObject *Writer_exit(WriterObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)args;
    (void)nargs;
    PyObject *r = Writer_close(self, NULL);
    if (!r) return NULL;
    Py_DECREF(r);
    Py_RETURN_FALSE;
}

static PyObject *Writer_position(WriterObject *self, void *Py_UNUSED(c)) {
    WRITER_CHECK(self);
    return PyLong_FromUnsignedLongLong(keel_rec_writer_pos(self->w));
}

static PyObject *Writer_closed(WriterObject *self, void *Py_UNUSED(c)) {
    return PyBool_FromLong(self->w == NULL);
}

static PyMethodDef Writer_methods[] = {
    {"write_record", (PyCFunction)Writer_write_record, METH_O,
     "write_record($self, data, /)\n--\n\nAppend one record (any bytes-like object)."},
    {"flush", (PyCFunction)Writer_flush, METH_NOARGS,
     "flush($self, /)\n--\n\nWrite the pending records as a chunk and hand it to the OS."},
    {"close", (PyCFunction)Writer_close, METH_NOARGS,
     "close($self, /)\n--\n\nFlush and close. Calling it again does nothing."},
    {"__enter__", (PyCFunction)Writer_enter, METH_NOARGS,
     "__enter__($self, /)\n--\n\n"},
    {"__exit__", (PyCFunction)(void (*)(void))Writer_exit, METH_FASTCALL,
     "__exit__($self, exc_type, exc, tb, /)\n--\n\n"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Writer_getset[] = {
    {"position", (getter)Writer_position, NULL,
     "Numeric position (Riegeli's) the next record will have.", NULL},
    {"closed", (getter)Writer_closed, NULL, "True after close().", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot Writer_slots[] = {
    {Py_tp_init, Writer_init},
    {Py_tp_dealloc, Writer_dealloc},
    {Py_tp_traverse, Writer_traverse},
    {Py_tp_methods, Writer_methods},
    {Py_tp_getset, Writer_getset},
    {Py_tp_doc, "RecordWriter(path, compression=None, *, append=False, chunk_size=None, "
                "array_record=False, group_size=65536, level=0, sync=False, background=None)"
                "\n--\n\n"
                "Write records to a Riegeli/records file (Disky's format)."},
    {0, NULL},
};

PyType_Spec krec_writer_spec = {
    "keeldb.records.RecordWriter", sizeof(WriterObject), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    Writer_slots,
};

/* ---- RecordReader --------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    keel_rec_reader *r;
    PyThread_type_lock lock;
    PyTypeObject *bytes_type;   /* strong */
} ReaderObject;

static int Reader_init(ReaderObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"path", "corruption_strategy", NULL};
    PyObject *path = NULL;
    keel_rec_reader_options o = KEEL_REC_READER_OPTIONS_INIT;
    if (self->r) {
        PyErr_SetString(PyExc_RuntimeError, "RecordReader is already initialised");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|O&", kwlist, krec_path_converter, &path,
                                     krec_strategy_converter, &o.corruption))
        return -1;
    rec_state *s = krec_state_of_type(Py_TYPE(self));
    if (!s) {
        Py_DECREF(path);
        return -1;
    }
    self->lock = PyThread_allocate_lock();
    if (!self->lock) {
        Py_DECREF(path);
        PyErr_NoMemory();
        return -1;
    }
    keel_rec_reader *r = NULL;
    keel_status st;
    const char *p = PyBytes_AS_STRING(path);
    Py_BEGIN_ALLOW_THREADS
    st = keel_rec_reader_open(p, &o, &r);
    Py_END_ALLOW_THREADS
    Py_DECREF(path);
    if (st) {
        krec_raise_status(st, NULL);
        return -1;
    }
    self->r = r;
    self->bytes_type = (PyTypeObject *)Py_NewRef((PyObject *)s->Bytes_type);
    return 0;
}

static void Reader_dealloc(ReaderObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    keel_rec_reader_close(self->r);
    if (self->lock) PyThread_free_lock(self->lock);
    Py_XDECREF(self->bytes_type);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static int Reader_traverse(ReaderObject *self, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->bytes_type);
    return 0;
}

/* Lock the reader and check it is open; on failure an exception is set. */
static int reader_enter(ReaderObject *self) {
    krec_lock_handle(self->lock);
    if (!self->r) {
        PyThread_release_lock(self->lock);
        PyErr_SetString(PyExc_ValueError, "I/O operation on a closed RecordReader");
        return -1;
    }
    return 0;
}

/* The reader's next record (the reader's lock held): the GIL is let go only when the
 * record is not in the reader's buffer already, so that a buffered record costs no switch. */
static keel_status read_one(ReaderObject *self, keel_rec_record *rec) {
    if (keel_rec_reader_buffered(self->r) > 0) return keel_rec_reader_next(self->r, rec);
    keel_status st;
    Py_BEGIN_ALLOW_THREADS
    st = keel_rec_reader_next(self->r, rec);
    Py_END_ALLOW_THREADS
    return st;
}

/* Back to the record read_one just returned, for the next batch to start with it. */
static keel_status step_back(ReaderObject *self) {
    uint64_t again = keel_rec_reader_tell(self->r) - 1;
    keel_status st;
    Py_BEGIN_ALLOW_THREADS
    st = keel_rec_reader_seek(self->r, again);
    Py_END_ALLOW_THREADS
    return st;
}

/* The next record as Bytes, NULL with no exception at the end. */
static PyObject *reader_next(ReaderObject *self) {
    if (reader_enter(self) < 0) return NULL;
    keel_rec_record rec;
    keel_status st = read_one(self, &rec);
    PyObject *res = NULL;
    if (st == KEEL_OK) res = krec_bytes_new_from(self->bytes_type, &rec);
    else if (st != KEEL_NOTFOUND) krec_raise_status(st, NULL);
    PyThread_release_lock(self->lock);
    return res;
}

static PyObject *Reader_next_record(ReaderObject *self, PyObject *Py_UNUSED(ignored)) {
    PyObject *r = reader_next(self);
    if (!r && !PyErr_Occurred()) Py_RETURN_NONE;
    return r;
}

static PyObject *Reader_iternext(ReaderObject *self) { return reader_next(self); }

/* next_batch(max_records, max_bytes): up to max_records records copied into one buffer,
 * as (count, offsets, data): offsets holds count + 1 little-endian int32 (the first 0),
 * record i is data[offsets[i]:offsets[i + 1]]: Arrow's binary layout, so a caller wraps
 * the two bytes objects in a pyarrow array without another copy. The batch stops early
 * before the record that would take data past max_bytes (at most INT32_MAX, Arrow's
 * limit for 32-bit offsets), but always holds at least one record when one is left, so a
 * record larger than max_bytes comes alone (ValueError past INT32_MAX). count is 0 at the
 * end of the file. One Python call and one memcpy per record instead of a Bytes object
 * per record: what a columnar consumer (keeldb.ray's read tasks) wants. */
static PyObject *Reader_next_batch(ReaderObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"max_records", "max_bytes", NULL};
    Py_ssize_t max_records, max_bytes = INT32_MAX;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "n|n:next_batch", kwlist, &max_records,
                                     &max_bytes))
        return NULL;
    if (max_records < 1 || max_records >= INT32_MAX) {
        PyErr_Format(PyExc_ValueError, "next_batch: max_records must be in 1..%d, not %zd",
                     INT32_MAX - 1, max_records);
        return NULL;
    }
    if (max_bytes < 1 || max_bytes > INT32_MAX) {
        PyErr_Format(PyExc_ValueError, "next_batch: max_bytes must be in 1..%d, not %zd",
                     INT32_MAX, max_bytes);
        return NULL;
    }
    if (reader_enter(self) < 0) return NULL;
    Py_ssize_t ocap = max_records < 65536 ? max_records : 65536;   /* records */
    PyObject *offsets = PyBytes_FromStringAndSize(NULL, (ocap + 1) * 4);
    Py_ssize_t cap = 1 << 16;
    PyObject *data = PyBytes_FromStringAndSize(NULL, cap);
    PyObject *res = NULL;
    if (!offsets || !data) goto done;
    memset(PyBytes_AS_STRING(offsets), 0, 4);
    Py_ssize_t n = 0, used = 0;
    while (n < max_records) {
        keel_rec_record rec;
        keel_status st = read_one(self, &rec);
        if (st == KEEL_NOTFOUND) break;
        if (st) {
            krec_raise_status(st, NULL);
            goto done;
        }
        if ((uint64_t)used + rec.len > (uint64_t)max_bytes) {
            if (n > 0) {
                /* Hand it out with the next batch: step back to it. */
                st = step_back(self);
                if (st) {
                    krec_raise_status(st, NULL);
                    goto done;
                }
                break;
            }
            if ((uint64_t)rec.len > (uint64_t)INT32_MAX) {
                PyErr_Format(PyExc_ValueError, "next_batch: record %llu has %zu bytes, more "
                             "than a binary column holds (%d)",
                             (unsigned long long)keel_rec_reader_tell(self->r) - 1, rec.len,
                             INT32_MAX);
                goto done;
            }
        }
        if ((Py_ssize_t)rec.len > cap - used) {
            Py_ssize_t want = cap;
            while ((Py_ssize_t)rec.len > want - used) want *= 2;
            if (_PyBytes_Resize(&data, want) < 0) goto done;
            cap = want;
        }
        if (n == ocap) {
            Py_ssize_t want = ocap * 2 < max_records ? ocap * 2 : max_records;
            if (_PyBytes_Resize(&offsets, (want + 1) * 4) < 0) goto done;
            ocap = want;
        }
        memcpy(PyBytes_AS_STRING(data) + used, rec.data, rec.len);
        used += (Py_ssize_t)rec.len;
        n++;
        uint8_t *off = (uint8_t *)PyBytes_AS_STRING(offsets);
        uint32_t o = (uint32_t)used;
        off[4 * n] = (uint8_t)o;
        off[4 * n + 1] = (uint8_t)(o >> 8);
        off[4 * n + 2] = (uint8_t)(o >> 16);
        off[4 * n + 3] = (uint8_t)(o >> 24);
    }
    if (_PyBytes_Resize(&offsets, (n + 1) * 4) < 0 || _PyBytes_Resize(&data, used) < 0)
        goto done;
    res = Py_BuildValue("(nOO)", n, offsets, data);
done:
    PyThread_release_lock(self->lock);
    Py_XDECREF(offsets);
    Py_XDECREF(data);
    return res;
}

static PyObject *Reader_close(ReaderObject *self, PyObject *Py_UNUSED(ignored)) {
    krec_lock_handle(self->lock);
    keel_rec_reader *r = self->r;
    self->r = NULL;
    PyThread_release_lock(self->lock);
    /* Records already handed out keep their chunks: closing never invalidates them. */
    keel_rec_reader_close(r);
    Py_RETURN_NONE;
}

static PyObject *Reader_enter(ReaderObject *self, PyObject *Py_UNUSED(ignored)) {
    if (!self->r) {
        PyErr_SetString(PyExc_ValueError, "I/O operation on a closed RecordReader");
        return NULL;
    }
    return Py_NewRef((PyObject *)self);
}

static PyObject *Reader_exit(ReaderObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)args;
    (void)nargs;
    Py_DECREF(Reader_close(self, NULL));
    Py_RETURN_FALSE;
}

static Py_ssize_t Reader_len(ReaderObject *self) {
    if (reader_enter(self) < 0) return -1;
    uint64_t n = 0;
    keel_status st;
    Py_BEGIN_ALLOW_THREADS
    st = keel_rec_reader_len(self->r, &n);
    Py_END_ALLOW_THREADS
    PyThread_release_lock(self->lock);
    if (st) {
        krec_raise_status(st, NULL);
        return -1;
    }
    return (Py_ssize_t)n;
}

static PyObject *Reader_getitem(ReaderObject *self, PyObject *key) {
    if (!PyIndex_Check(key)) {
        PyErr_Format(PyExc_TypeError, "record indices must be integers, not %.100s",
                     Py_TYPE(key)->tp_name);
        return NULL;
    }
    Py_ssize_t i = PyNumber_AsSsize_t(key, PyExc_IndexError);
    if (i == -1 && PyErr_Occurred()) return NULL;
    if (i < 0) {
        Py_ssize_t n = Reader_len(self);
        if (n < 0) return NULL;
        i += n;
        if (i < 0) {
            PyErr_SetString(PyExc_IndexError, "record index out of range");
            return NULL;
        }
    }
    if (reader_enter(self) < 0) return NULL;
    keel_rec_record rec;
    keel_status st;
    Py_BEGIN_ALLOW_THREADS
    st = keel_rec_reader_get(self->r, (uint64_t)i, &rec);
    Py_END_ALLOW_THREADS
    PyObject *res = NULL;
    if (st == KEEL_OK) res = krec_bytes_new_from(self->bytes_type, &rec);
    else if (st == KEEL_ERANGE) PyErr_SetString(PyExc_IndexError, "record index out of range");
    else krec_raise_status(st, NULL);
    PyThread_release_lock(self->lock);
    return res;
}

static PyObject *Reader_seek(ReaderObject *self, PyObject *arg) {
    Py_ssize_t i = PyNumber_AsSsize_t(arg, PyExc_OverflowError);
    if (i == -1 && PyErr_Occurred()) return NULL;
    if (i < 0) {
        PyErr_SetString(PyExc_ValueError, "seek() needs a non-negative record index");
        return NULL;
    }
    if (reader_enter(self) < 0) return NULL;
    keel_status st;
    Py_BEGIN_ALLOW_THREADS
    st = keel_rec_reader_seek(self->r, (uint64_t)i);
    Py_END_ALLOW_THREADS
    PyThread_release_lock(self->lock);
    if (st == KEEL_ERANGE) {
        PyErr_Format(PyExc_IndexError, "%s", keel_errmsg());
        return NULL;
    }
    if (st) return krec_raise_status(st, NULL);
    Py_RETURN_NONE;
}

static PyObject *Reader_seek_position(ReaderObject *self, PyObject *arg) {
    unsigned long long pos = PyLong_AsUnsignedLongLong(arg);
    if (pos == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
    if (reader_enter(self) < 0) return NULL;
    keel_status st;
    Py_BEGIN_ALLOW_THREADS
    st = keel_rec_reader_seek_pos(self->r, pos);
    Py_END_ALLOW_THREADS
    PyThread_release_lock(self->lock);
    if (st) return krec_raise_status(st, NULL);
    Py_RETURN_NONE;
}

static PyObject *Reader_tell(ReaderObject *self, PyObject *Py_UNUSED(ignored)) {
    if (reader_enter(self) < 0) return NULL;
    uint64_t t = keel_rec_reader_tell(self->r);
    PyThread_release_lock(self->lock);
    return PyLong_FromUnsignedLongLong(t);
}

static PyObject *Reader_skipped(ReaderObject *self, PyObject *Py_UNUSED(ignored)) {
    if (reader_enter(self) < 0) return NULL;
    uint64_t n = keel_rec_reader_skipped(self->r, NULL);
    PyObject *list = PyList_New(0);
    for (uint64_t i = 0; list && i < n; i++) {
        keel_rec_skipped s;
        if (keel_rec_reader_skipped_region(self->r, i, &s)) continue;
        PyObject *t = Py_BuildValue("(KKs)", (unsigned long long)s.begin,
                                    (unsigned long long)s.end, s.reason);
        if (!t || PyList_Append(list, t) < 0) Py_CLEAR(list);
        Py_XDECREF(t);
    }
    PyThread_release_lock(self->lock);
    return list;
}

static PyObject *Reader_skipped_bytes(ReaderObject *self, void *Py_UNUSED(c)) {
    if (reader_enter(self) < 0) return NULL;
    uint64_t b = 0;
    keel_rec_reader_skipped(self->r, &b);
    PyThread_release_lock(self->lock);
    return PyLong_FromUnsignedLongLong(b);
}

static PyObject *Reader_closed(ReaderObject *self, void *Py_UNUSED(c)) {
    return PyBool_FromLong(self->r == NULL);
}

static PyObject *Reader_count_records(PyObject *Py_UNUSED(cls), PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"path", "corruption_strategy", NULL};
    PyObject *path = NULL;
    keel_rec_reader_options o = KEEL_REC_READER_OPTIONS_INIT;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|O&", kwlist, krec_path_converter, &path,
                                     krec_strategy_converter, &o.corruption))
        return NULL;
    uint64_t n = 0;
    keel_status st;
    const char *p = PyBytes_AS_STRING(path);
    Py_BEGIN_ALLOW_THREADS
    st = keel_rec_count(p, &o, &n);
    Py_END_ALLOW_THREADS
    Py_DECREF(path);
    if (st) return krec_raise_status(st, NULL);
    return PyLong_FromUnsignedLongLong(n);
}

/* next_batch_into(offsets, data, max_records): next_batch's layout written into the
 * caller's writable buffers instead of two new bytes objects, returning (count, nbytes):
 * at most max_records records and len(offsets) // 4 - 1 of them, their bytes no longer
 * than len(data) (nor INT32_MAX). It stops before the record that does not fit, leaving
 * the reader on it, so count is 0 both at the end of the file and when the next record
 * alone is longer than data (tell() against len() tells them apart; next_batch hands
 * such a record out alone). Why: a new 64 MiB bytes object is new memory from the
 * kernel, and faulting in its pages took a third of a read task's CPU (and the page
 * fault path's locks are shared by all the processes of a cgroup); buffers from a pool
 * that keeps its pages (Arrow's) are written without a fault. */
static PyObject *Reader_next_batch_into(ReaderObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"offsets", "data", "max_records", NULL};
    Py_buffer ob, db;
    Py_ssize_t max_records = INT32_MAX - 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "w*w*|n:next_batch_into", kwlist, &ob, &db,
                                     &max_records))
        return NULL;
    PyObject *res = NULL;
    Py_ssize_t n = 0, used = 0;
    if (max_records < 1 || max_records >= INT32_MAX) {
        PyErr_Format(PyExc_ValueError, "next_batch_into: max_records must be in 1..%d, "
                     "not %zd", INT32_MAX - 1, max_records);
        goto out;
    }
    if (ob.len < 8) {
        PyErr_Format(PyExc_ValueError, "next_batch_into: offsets holds %zd bytes, fewer "
                     "than the 8 of one record's two offsets", ob.len);
        goto out;
    }
    Py_ssize_t max_n = ob.len / 4 - 1;
    if (max_n > max_records) max_n = max_records;
    Py_ssize_t dcap = db.len < INT32_MAX ? db.len : INT32_MAX;
    if (reader_enter(self) < 0) goto out;
    uint8_t *off = ob.buf;
    memset(off, 0, 4);
    while (n < max_n) {
        keel_rec_record rec;
        keel_status st = read_one(self, &rec);
        if (st == KEEL_NOTFOUND) break;
        if (st) {
            krec_raise_status(st, NULL);
            goto unlock;
        }
        if ((uint64_t)rec.len > (uint64_t)(dcap - used)) {
            /* Not this one: the next call (or next_batch) starts with it. */
            st = step_back(self);
            if (st) {
                krec_raise_status(st, NULL);
                goto unlock;
            }
            break;
        }
        memcpy((char *)db.buf + used, rec.data, rec.len);
        used += (Py_ssize_t)rec.len;
        n++;
        uint32_t o = (uint32_t)used;
        off[4 * n] = (uint8_t)o;
        off[4 * n + 1] = (uint8_t)(o >> 8);
        off[4 * n + 2] = (uint8_t)(o >> 16);
        off[4 * n + 3] = (uint8_t)(o >> 24);
    }
    res = Py_BuildValue("(nn)", n, used);
unlock:
    PyThread_release_lock(self->lock);
out:
    PyBuffer_Release(&ob);
    PyBuffer_Release(&db);
    return res;
}

static PyMethodDef Reader_methods[] = {
    {"next_record", (PyCFunction)Reader_next_record, METH_NOARGS,
     "next_record($self, /)\n--\n\nThe next record, or None at the end of the file."},
    {"close", (PyCFunction)Reader_close, METH_NOARGS,
     "close($self, /)\n--\n\nClose the file. Records already returned stay valid."},
    {"next_batch", (PyCFunction)(void (*)(void))Reader_next_batch,
     METH_VARARGS | METH_KEYWORDS,
     "next_batch($self, /, max_records, max_bytes=2147483647)\n--\n\n"
     "Up to max_records next records as (count, offsets, data) in Arrow's binary layout:\n"
     "count + 1 little-endian int32 offsets and the records' bytes back to back. The\n"
     "batch ends early before max_bytes (one record at least); count is 0 at the end."},
    {"next_batch_into", (PyCFunction)(void (*)(void))Reader_next_batch_into,
     METH_VARARGS | METH_KEYWORDS,
     "next_batch_into($self, /, offsets, data, max_records=2147483646)\n--\n\n"
     "next_batch's layout written into two writable buffers; returns (count, nbytes).\n"
     "Stops before the record that does not fit (count 0 at the end of the file, or when\n"
     "the next record alone is longer than data)."},
    {"seek", (PyCFunction)Reader_seek, METH_O,
     "seek($self, index, /)\n--\n\nThe next record read will be record `index` (0-based)."},
    {"seek_position", (PyCFunction)Reader_seek_position, METH_O,
     "seek_position($self, pos, /)\n--\n\nSeek to Riegeli's numeric record position."},
    {"tell", (PyCFunction)Reader_tell, METH_NOARGS,
     "tell($self, /)\n--\n\nThe index of the record the next read returns."},
    {"skipped_regions", (PyCFunction)Reader_skipped, METH_NOARGS,
     "skipped_regions($self, /)\n--\n\n"
     "(begin, end, reason) of every region the recover strategy skipped."},
    {"count_records", (PyCFunction)(void (*)(void))Reader_count_records,
     METH_VARARGS | METH_KEYWORDS | METH_STATIC,
     "count_records(path, corruption_strategy=None)\n--\n\n"
     "Count the records of a file by walking chunk headers (no record data is read)."},
    {"__enter__", (PyCFunction)Reader_enter, METH_NOARGS,
     "__enter__($self, /)\n--\n\n"},
    {"__exit__", (PyCFunction)(void (*)(void))Reader_exit, METH_FASTCALL,
     "__exit__($self, exc_type, exc, tb, /)\n--\n\n"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Reader_getset[] = {
    {"skipped_bytes", (getter)Reader_skipped_bytes, NULL,
     "Bytes skipped so far by the recover strategy.", NULL},
    {"closed", (getter)Reader_closed, NULL, "True after close().", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot Reader_slots[] = {
    {Py_tp_init, Reader_init},
    {Py_tp_dealloc, Reader_dealloc},
    {Py_tp_traverse, Reader_traverse},
    {Py_tp_methods, Reader_methods},
    {Py_tp_getset, Reader_getset},
    {Py_tp_iter, PyObject_SelfIter},
    {Py_tp_iternext, Reader_iternext},
    {Py_sq_length, Reader_len},
    {Py_mp_length, Reader_len},
    {Py_mp_subscript, Reader_getitem},
    {Py_tp_doc, "RecordReader(path, corruption_strategy=None)\n--\n\n"
                "Read records from a Riegeli/records file (Disky, Riegeli, ArrayRecord)."},
    {0, NULL},
};

PyType_Spec krec_reader_spec = {
    "keeldb.records.RecordReader", sizeof(ReaderObject), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    Reader_slots,
};

