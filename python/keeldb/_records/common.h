/*
 * common.h: shared by the files of keeldb._records, the CPython glue between
 * keel_records.h and `keeldb.records` (Pisky's API).
 *
 * Thin on purpose: each method parses its arguments, calls keel_rec_* and converts the
 * result or raises. The recipe is CPython's own: multi-phase init, heap types, module state
 * (types and the CorruptionStrategy enum), no globals.
 *
 * Objects
 *   RecordWriter         one keel_rec_writer. write_record copies the bytes under the GIL
 *                        and releases the GIL only when the write will end a chunk. With
 *                        background (default: when compressed) the writer's own C thread
 *                        writes each full chunk while the next one fills.
 *   RecordReader         one keel_rec_reader: iteration, next_record() (None at the end),
 *                        seek/tell/len/[i], count_records (static). The GIL is released
 *                        whenever a call may read the file.
 *   Bytes                a record: zero copy. It holds a reference to its C chunk (an atomic
 *                        refcount, not a Python object), exports the buffer protocol
 *                        read-only, and stays valid after its reader is closed.
 *   MultiThreadedWriter  keel_rec_mtwriter: C worker threads, GIL released while waiting
 *   MultiThreadedReader  keel_rec_mtreader: C worker threads, GIL released while waiting;
 *                        new_with_random_shard_paths reopens it over reshuffled paths at
 *                        the end of each pass, so it never ends
 *
 * Each handle has a PyThread lock so a second Python thread cannot use it while the first
 * has released the GIL inside a call; close() takes the same lock.
 *
 * Errors: OSError with errno set for I/O failures (FileNotFoundError, PermissionError...
 * by errno) and without one for a damaged file, with keel's detail line, which names the
 * offset for format errors; ValueError for use after close (close() itself is idempotent)
 * and for integer arguments out of range (OverflowError past the C field: intarg.h);
 * TypeError for a path that is not path-like; IndexError from [i]. Every method and type
 * has a text signature ("name($self, ...)\n--\n\n") matching records.pyi.
 *
 * Files (one extension module, keeldb._records, built from all of them)
 *   common.h   this header: module state and the declarations the files share
 *   module.c   module init/exec/traverse/clear
 *   helpers.c  errors and arguments: keel_status -> OSError & co, path, corruption
 *              strategy and compression arguments, the handle lock
 *   bytes.c    Bytes
 *   single.c   RecordWriter, RecordReader
 *   multi.c    MultiThreadedWriter, MultiThreadedReader
 * Functions and type specs shared between the files are prefixed krec_ and have hidden
 * visibility like everything here but PyInit__records (the extension is built with
 * -fvisibility=hidden), so none of them leaks out of the module.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef KEELDB_RECORDS_COMMON_H
#define KEELDB_RECORDS_COMMON_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string.h>

#include "keel_records.h"
#include "../intarg.h"
#include "../_common/kpy.h"

/* Upper bounds of the sharded reader's and writer's counts: past these a call would only
 * exhaust file descriptors or threads, so the argument is refused up front (OverflowError). */
#define KREC_MAX_SHARDS 65536
#define KREC_MAX_THREADS 1024

typedef struct {
    PyTypeObject *Bytes_type;
    PyTypeObject *RecordWriter_type;
    PyTypeObject *RecordReader_type;
    PyTypeObject *MTWriter_type;
    PyTypeObject *MTReader_type;
    PyObject *CorruptionStrategy;
} rec_state;

static inline rec_state *get_state(PyObject *module) {
    return (rec_state *)PyModule_GetState(module);
}

/* The state of the module that defined `tp` or one of its bases (Python subclasses too). */
rec_state *krec_state_of_type(PyTypeObject *tp);

/* ---- errors and arguments (helpers.c) ------------------------------------------------ */

/* Raise OSError (FileNotFoundError, PermissionError, MemoryError, ValueError where they
 * apply) with keel_errmsg()'s detail, prefixed by `what` when not NULL. Returns NULL. */
PyObject *krec_raise_status(keel_status st, const char *what);
/* A path as Pisky takes one (str, bytes, os.PathLike, or an object whose type defines its
 * own __str__) to bytes; TypeError for anything else (ints, plain objects). For O&. */
int krec_path_converter(PyObject *o, void *out);
/* The same, as a str. New reference or NULL. */
PyObject *krec_path_str(PyObject *o);
/* None, CorruptionStrategy member, int 0/1 or "error"/"recover". */
int krec_strategy_converter(PyObject *o, void *out);
/* None or "none"/"uncompressed", "zstd", "brotli"; OSError otherwise. 0 or -1. */
int krec_parse_compression(PyObject *c, keel_rec_compression *out);
/* Take a handle's lock, releasing the GIL only when another thread holds it. */
void krec_lock_handle(PyThread_type_lock lock);

/* ---- Bytes (bytes.c) ------------------------------------------------------------------- */

/* A new Bytes for `rec`, retaining its chunk. */
PyObject *krec_bytes_new_from(PyTypeObject *tp, const keel_rec_record *rec);

/* ---- type specs, each next to its type; records_exec creates the types --------------- */

extern PyType_Spec krec_bytes_spec;
extern PyType_Spec krec_writer_spec;
extern PyType_Spec krec_reader_spec;
extern PyType_Spec krec_mtwriter_spec;
extern PyType_Spec krec_mtreader_spec;

#endif /* KEELDB_RECORDS_COMMON_H */
