/*
 * common.h: shared by the files of keeldb._db, the CPython glue between keel_db.h (the
 * Database face: DynamoDB-style items in one keel file) and the `keeldb` package.
 *
 * Items cross the C API as CBOR, so this extension is mostly two converters: Python values
 * to CBOR (encode.c) and CBOR to Python values (decode.c), following the values table of
 * docs/DATABASE.md. Everything else is thin: a method parses its arguments, converts,
 * calls one keel_db_ function and converts the result or raises. The recipe is the one of
 * keeldb._keeldb: multi-phase init, heap types, module state, no globals.
 *
 * Objects
 *   Database   owns one keel_db. Items come back as dicts built from the stored CBOR.
 *   Vector     a float32 vector. Made from Python (Vector([1.0, 2.0]), its own copy) or by
 *              the decoder over a vector inside a stored item (zero copy: a pointer into the
 *              file's mapping, 64-byte aligned for top-level vectors, holding a strong
 *              reference to the Database). It exports the buffer protocol (format "f",
 *              read-only); decoded vectors reach the user as numpy arrays over it. Exports
 *              of mapped vectors count in the Database's `exports`, and close() raises
 *              BufferError while any is alive: keel unmaps everything at close.
 *   Table      a Database and a table name: the C base of keeldb.Table, whose per-item
 *              methods (get_item, put_item, delete_item, update_item) are C functions.
 *   Cursor     a query or scan: a keel_db_cursor, refilled with the GIL released (up to
 *              CURSOR_BATCH items per refill), items converted under the GIL; .last_key.
 *
 * Threads and the GIL: as keeldb._keeldb (see its common.h). Lookups (get) keep the GIL;
 * writes, batches, flush, compact, verify, open, close and cursor refills release it while
 * holding `oplock` for reading; close() sets `closed` under the GIL and then takes `oplock`
 * for writing, so it waits for the calls in flight. Calls that decode results lying in the
 * mapping pin the database (db_pin, `pins`) and close() refuses while one is pinned.
 *
 * Errors: the store's statuses map to the classes of keeldb._keeldb (Error, CorruptError,
 * FormatError, ...), taken from that module at init; this module adds ValidationError,
 * ExpressionSyntaxError, TableNotFoundError, TableExistsError, UnsupportedTypeError,
 * CorruptFileError (a CorruptError that is also an OSError, raised by opens),
 * ConditionalCheckFailed (.item), TransactionCanceled (.reasons) and DuplicateItemError.
 *
 * Files (one extension module, keeldb._db, built from all of them)
 *   common.h    this header
 *   module.c    module init/exec/traverse/clear, the exception classes, status -> exception
 *               (the parts shared with keeldb._keeldb are ../_common/kpy.c's)
 *   encode.c    Python value -> CBOR (a growing buffer)
 *   decode.c    CBOR -> Python value (zero-copy vectors over the mapping)
 *   vector.c    the Vector type
 *   database.c  Database: lifecycle, maintenance, the type and its method table
 *   kv.c        Database: the KeystoneDB API over the default table
 *   tables.c    Database: tables and their items (get_item, batches, count)
 *   table.c     Table, the C base of keeldb.Table: get_item, put_item, delete_item and
 *               update_item without a Python frame in between
 *   writes.c    Database: put_item, delete_item, update_item (conditions, ReturnValues),
 *               transactions
 *   cursor.c    Database.query/scan and the Cursor type
 *   indexes.c   Database: secondary index definitions, update_table, TTL, table_stats
 *   partiql.c   Database.execute/batch_execute (PartiQL)
 *   search.c    Database: vector indexes, search and search_batch
 * Shared functions are prefixed kdp_ and hidden (-fvisibility=hidden) like everything here
 * but PyInit__db.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef KEELDB_DB_COMMON_H
#define KEELDB_DB_COMMON_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "keel.h"
#include "keel_db.h"
#include "../_common/kpy.h"
#include "../intarg.h"

/* Items a cursor collects per refill, with the GIL released. */
#define CURSOR_BATCH 64
/* Nesting the converters follow before refusing (the library's limit, 32, is checked by
 * the library; this only stops runaway recursion on cyclic or hostile input). */
#define CONVERT_MAX_DEPTH ((int)(2 * KEEL_DB_MAX_DEPTH))

/* ---------------------------------------------------------------------------------------
 * Module state
 */

#define KEYCACHE_SLOTS 512
#define KEYCACHE_MAXLEN 48
#define VALCACHE_SLOTS 256
#define VALCACHE_MAXLEN 8

/* A decoder cache entry (decode.c): the str `s` (NULL: empty) of n bytes whose first and
 * last (up to) 8 bytes read as the words a and b; for n <= 16 the three identify the bytes
 * exactly, so a hit compares three words and no string. */
typedef struct {
    uint64_t a, b;
    size_t n;
    PyObject *s;
} kdp_strslot;

typedef struct {
    PyTypeObject *Database_type;
    PyTypeObject *Vector_type;
    PyTypeObject *Cursor_type;
    PyTypeObject *Table_type;
    /* keeldb._keeldb's classes (strong references): st->Error, ..., st->StoreIOError. */
    KPY_ERRORS_MEMBER;
    /* Ours. */
    PyObject *ValidationError;
    PyObject *ExpressionSyntaxError;
    PyObject *TableNotFoundError;
    PyObject *TableExistsError;
    PyObject *UnsupportedTypeError;
    PyObject *CorruptFileError;
    PyObject *ConditionalCheckFailed;
    PyObject *TransactionCanceled;
    PyObject *DuplicateItemError;
    /* Imported on first use. */
    PyObject *Decimal;          /* decimal.Decimal */
    PyObject *np_frombuffer;    /* numpy.frombuffer */
    PyObject *np_float32;       /* numpy.float32 */
    int numpy_missing;          /* import failed once: vectors come back as Vector */
    /* Attribute names recur in every item: the decoder keeps the last str made for each
     * hash slot (ASCII names up to KEYCACHE_MAXLEN bytes), so a repeated name costs a
     * compare and an INCREF, and its dict insertion reuses the str's cached hash. */
    kdp_strslot keycache[KEYCACHE_SLOTS];
    /* Short ASCII string values (status codes, tags, enum-like values) recur too: the same
     * scheme, apart so that unique values never evict attribute names. A str is immutable,
     * so two items sharing one is invisible to callers (CPython shares 1-char strs). */
    kdp_strslot valcache[VALCACHE_SLOTS];
} kdp_state;

static inline kdp_state *
get_state(PyObject *module)
{
    return (kdp_state *)PyModule_GetState(module);
}

/* The module that defined `type` or one of its bases (Python subclasses included). */
PyObject *kdp_module_of_type(PyTypeObject *type);

/* ---------------------------------------------------------------------------------------
 * Object layouts
 */

typedef struct {
    PyObject_HEAD
    keel_db *db;            /* owned; freed in dealloc (close() leaves it allocated) */
    kdp_state *st;          /* lives as long as `module`, which we hold */
    PyObject *module;
    PyObject *path;         /* str, or None in memory */
    PyObject *weakreflist;
    pthread_rwlock_t oplock;
    int lock_ready;
    int closed;
    int readonly;
    int memory;
    Py_ssize_t exports;     /* live buffer exports of Vectors over this mapping */
    Py_ssize_t pins;        /* calls decoding results that lie in the mapping (db_pin) */
    int64_t clock_now;      /* set_clock(): TTL's fixed time (atomic; indexes.c) */
} DatabaseObject;

typedef struct {
    PyObject_HEAD
    DatabaseObject *db;     /* strong, when the data lies in db's mapping; else NULL */
    PyObject *owner;        /* strong: a bytes object holding the data when db is NULL */
    const float *data;      /* little-endian float32 values */
    Py_ssize_t n;
    Py_ssize_t exports;
} VectorObject;

typedef struct {
    PyObject_HEAD
    DatabaseObject *db;     /* strong */
    keel_db_cursor *c;      /* owned */
    int projected;          /* items are projections: copied, not views into the mapping */
    int done;
    int busy;               /* a refill is running (GIL released): other threads must wait */
    PyObject *last_key;     /* dict or None once done */
    /* The current batch: views into the mapping, or into `copies` when projected. */
    keel_view items[CURSOR_BATCH];
    size_t n, i;
    uint8_t *copies;        /* projected items of the batch, back to back */
    size_t copies_cap;
} CursorObject;

#ifdef Py_TPFLAGS_DISALLOW_INSTANTIATION
#define NO_NEW_FLAG Py_TPFLAGS_DISALLOW_INSTANTIATION
#else
#define NO_NEW_FLAG 0
#endif

/* ---------------------------------------------------------------------------------------
 * Errors (module.c)
 */

/* ValueError("I/O operation on closed database"). Always returns NULL. */
PyObject *kdp_raise_closed(void);

/* Raise the Python exception for `rc` with keel_errmsg()'s detail, prefixed by `what`.
 * Must run on the thread of the failing call, before any other keel_ call. `filename`
 * (may be NULL) marks an open: OSError subclasses get it, and KEEL_ECORRUPT becomes
 * CorruptFileError. Always returns NULL. */
PyObject *kdp_raise_status(kdp_state *st, keel_status rc, const char *what, PyObject *filename);

/* ---------------------------------------------------------------------------------------
 * Conversions (encode.c, decode.c)
 */

typedef struct {
    uint8_t *p;
    size_t len, cap;
    uint8_t small[512];     /* most items fit here: no allocation */
} kdp_buf;

static inline void
kdp_buf_init(kdp_buf *b)
{
    b->p = b->small;
    b->len = 0;
    b->cap = sizeof b->small;
}

static inline void
kdp_buf_free(kdp_buf *b)
{
    if (b->p != b->small)
        PyMem_Free(b->p);
    kdp_buf_init(b);
}

/* Append the CBOR of `v` to `b`: any value of the values table. 0, or -1 with an exception
 * (UnsupportedTypeError, ValueError for NaN/infinity, MemoryError). `what` names the value
 * in messages ("item", "key", "values"). */
int kdp_encode_value(kdp_state *st, kdp_buf *b, PyObject *v, const char *what);
/* An item or a key: `v` must be a dict with str keys (TypeError otherwise). */
int kdp_encode_item(kdp_state *st, kdp_buf *b, PyObject *v, const char *what);
/* Expression placeholders: a dict of str -> value ("#n" -> str for names). */
int kdp_encode_placeholders(kdp_state *st, kdp_buf *b, PyObject *v, const char *what,
                            int names);
/* Append one CBOR head (major type 0..7, argument). */
int kdp_put_head(kdp_buf *b, unsigned major, uint64_t arg);

/* Decode one CBOR value at p[0..len) into a new Python object. `db` not NULL: the bytes lie
 * in db's mapping (valid until close), so vectors are zero copy over it; NULL: vectors are
 * copied. Malformed input raises CorruptError. */
PyObject *kdp_decode(kdp_state *st, DatabaseObject *db, const uint8_t *p, size_t len);

/* A vector over `n` float32 values at `data`: zero copy in db's mapping when `db` is not
 * NULL, else a copy. Returned as a read-only numpy array when numpy is importable, else as
 * a Vector. */
PyObject *kdp_vector_value(kdp_state *st, DatabaseObject *db, const uint8_t *data, size_t n);

/* ---------------------------------------------------------------------------------------
 * Database helpers
 */

static inline int
db_check(DatabaseObject *self)
{
    if (self->closed || self->db == NULL) {
        kdp_raise_closed();
        return -1;
    }
    return 0;
}

/* Results that lie in the file's mapping (a PartiQL result's items, a search's stored
 * hits, a cursor's whole items, a get's item) are decoded under the GIL after the library
 * call, and decoding can run Python code (a garbage collection's callbacks and finalizers),
 * which may switch threads or call close() itself. close() unmaps the file, so such a call
 * pins the database (checked open, with the GIL held) from before its library call until
 * its last view is decoded, and close() refuses (BufferError) while any call is pinned.
 * Before the pins, a thread closing while another ran execute() crashed it (SIGSEGV in
 * keel_db_result_next over the unmapped file). A counter under the GIL, not oplock: a
 * close from the pinned thread itself would deadlock on a lock. */
static inline int
db_pin(DatabaseObject *self)
{
    if (db_check(self) < 0)
        return -1;
    self->pins++;
    return 0;
}

static inline void
db_unpin(DatabaseObject *self)
{
    self->pins--;
}

/* kdp_decode of a view the caller just got, with the GIL held since it checked the
 * database open, pinned for the decoding's length. */
static inline PyObject *
db_decode_view(DatabaseObject *self, DatabaseObject *vec_db, const uint8_t *p, size_t len)
{
    self->pins++;
    PyObject *r = kdp_decode(self->st, vec_db, p, len);
    self->pins--;
    return r;
}

/* Run `stmt` with the GIL released while holding oplock for reading (see the header and
 * ../_common/kpy.h). The caller has checked that the database is open, with the GIL held
 * since. */
#define IO_CALL(self, stmt) KPY_IO_CALL(self, stmt)

/* A key of the default table: bytes, str (UTF-8), bytearray or memoryview. */
typedef kpy_buf kdp_key;

static inline int
kdp_key_get(PyObject *o, kdp_key *k, const char *what)
{
    return kpy_buf_get(o, k, what, KPY_BUF_KEY);
}

static inline void
kdp_key_release(kdp_key *k)
{
    kpy_buf_release(k);
}

/* METH_FASTCALL | METH_KEYWORDS parsing (../_common/kpy.h): the last `nmax - npos` names
 * are keyword-only. out[] receives borrowed references, NULL for absent ones. A call with
 * only positional arguments, enough and not too many (get_item(key), most calls), is
 * taken here as kpy_parse_args would take it, without the call. */
static inline int
kdp_parse_args(const char *fname, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
               const char *const *names, Py_ssize_t nreq, Py_ssize_t npos, Py_ssize_t nmax,
               PyObject **out)
{
    if (kwnames == NULL && nargs >= nreq && nargs <= npos) {
        for (Py_ssize_t i = 0; i < nmax; i++)
            out[i] = i < nargs ? args[i] : NULL;
        return 0;
    }
    return kpy_parse_args(fname, args, nargs, kwnames, names, nreq, npos, nmax, out);
}

/* A table name argument: str, at most KEEL_DB_MAX_TABLE_NAME bytes of UTF-8, no NUL.
 * Returns a pointer into `o` (valid while `o` lives) or NULL with TypeError/ValidationError. */
const char *kdp_table_name(kdp_state *st, PyObject *o);

/* Table methods (tables.c) and cursor methods (cursor.c), listed in database.c's table. */
PyObject *kdp_db_put(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs,
                     PyObject *kwnames);
PyObject *kdp_db_put_with_sk(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames);
PyObject *kdp_db_get(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs,
                     PyObject *kwnames);
PyObject *kdp_db_get_with_sk(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames);
PyObject *kdp_db_delete(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs,
                        PyObject *kwnames);
PyObject *kdp_db_delete_with_sk(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs,
                                PyObject *kwnames);
PyObject *kdp_db_batch_write(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames);
PyObject *kdp_db_batch_get(DatabaseObject *self, PyObject *keys);
PyObject *kdp_db_flush(DatabaseObject *self, PyObject *unused);
PyObject *kdp_db_create_table(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs,
                              PyObject *kwnames);
PyObject *kdp_db_delete_table(DatabaseObject *self, PyObject *name);
PyObject *kdp_db_describe_table(DatabaseObject *self, PyObject *name);
PyObject *kdp_db_list_tables(DatabaseObject *self, PyObject *unused);
/* The per-item work on a table named by its UTF-8 name, shared by the Database methods and
 * keeldb._db.Table's (table.c): get_item(key) (tables.c); put_or_delete(a = item-or-key,
 * condition, names, values, return_values, return_values_on_condition_check_failure) and
 * update_item(a = key, update, condition, ...) (writes.c); NULL in a[] is absent. Each
 * checks that the database is open. */
PyObject *kdp_get_item(DatabaseObject *self, const char *table, PyObject *key);
PyObject *kdp_put_or_delete(DatabaseObject *self, int is_put, const char *table,
                            PyObject *const *a);
PyObject *kdp_update_item(DatabaseObject *self, const char *table, PyObject *const *a);
PyObject *kdp_db_put_item(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs,
                          PyObject *kwnames);
PyObject *kdp_db_get_item(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs,
                          PyObject *kwnames);
PyObject *kdp_db_delete_item(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames);
PyObject *kdp_db_update_item(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames);
PyObject *kdp_db_transact_write(DatabaseObject *self, PyObject *actions);
PyObject *kdp_db_transact_write_items(DatabaseObject *self, PyObject *actions);
PyObject *kdp_db_transact_get(DatabaseObject *self, PyObject *gets);
PyObject *kdp_db_batch_write_items(DatabaseObject *self, PyObject *const *args,
                                   Py_ssize_t nargs, PyObject *kwnames);
PyObject *kdp_db_batch_get_items(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs,
                                 PyObject *kwnames);
PyObject *kdp_db_count(DatabaseObject *self, PyObject *name);
/* indexes.c. kdp_index_defs: local then global definitions (local ones without a
 * partition_key get the table's); the strings stay alive in `keep` (a list). */
int kdp_index_defs(kdp_state *st, PyObject *gsis, PyObject *lsis, const char *table_pk,
                   keel_db_keytype table_pkt, keel_db_index_def **out, size_t *n,
                   PyObject *keep);
void kdp_index_defs_free(keel_db_index_def *defs, size_t n);
PyObject *kdp_db_update_table(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs,
                              PyObject *kwnames);
PyObject *kdp_db_update_ttl(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs,
                            PyObject *kwnames);
PyObject *kdp_db_set_clock(DatabaseObject *self, PyObject *now);
PyObject *kdp_db_reap_expired(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs,
                              PyObject *kwnames);
PyObject *kdp_db_table_stats(DatabaseObject *self, PyObject *name);
PyObject *kdp_db_execute(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs,
                         PyObject *kwnames);
PyObject *kdp_db_batch_execute(DatabaseObject *self, PyObject *statements);
/* dynamo.c */
PyObject *kdp_db_dynamo_handle(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs);

/* search.c */
PyObject *kdp_db_create_vector_index(DatabaseObject *self, PyObject *const *args,
                                     Py_ssize_t nargs, PyObject *kwnames);
PyObject *kdp_db_drop_vector_index(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs,
                                   PyObject *kwnames);
PyObject *kdp_db_vector_indexes(DatabaseObject *self, PyObject *name);
PyObject *kdp_db_search(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs,
                        PyObject *kwnames);
PyObject *kdp_db_search_batch(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs,
                              PyObject *kwnames);
PyObject *kdp_db_query(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs,
                       PyObject *kwnames);
PyObject *kdp_db_scan(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs,
                      PyObject *kwnames);

/* ---------------------------------------------------------------------------------------
 * Type specs, one per type, defined next to each type; module_exec creates the types.
 */

extern PyType_Spec kdp_database_spec;
extern PyType_Spec kdp_vector_spec;
extern PyType_Spec kdp_cursor_spec;
extern PyType_Spec kdp_table_spec;

#endif /* KEELDB_DB_COMMON_H */
