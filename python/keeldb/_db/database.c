/*
 * database.c: the Database type, one keel_db: opening (Database(path), create, open,
 * create_in_memory), close and the context manager, maintenance (compact, verify, stats)
 * and the type (its method table). The methods live in kv.c (KeystoneDB's API over the default
 * table), tables.c, writes.c, cursor.c, indexes.c, partiql.c and search.c.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common.h"

/* ---------------------------------------------------------------------------------------
 * Lifecycle
 */

enum { OPEN_DEFAULT, OPEN_NEW, OPEN_EXISTING, OPEN_MEMORY };

static int
parse_sync(PyObject *o, keel_sync_mode *out)
{
    if (o == NULL) {
        *out = KEEL_SYNC_NONE;
        return 0;
    }
    const char *s = PyUnicode_Check(o) ? PyUnicode_AsUTF8(o) : NULL;
    if (s == NULL) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_TypeError, "sync must be a str, not '%.200s'",
                         Py_TYPE(o)->tp_name);
        return -1;
    }
    if (strcmp(s, "none") == 0)
        *out = KEEL_SYNC_NONE;
    else if (strcmp(s, "data") == 0)
        *out = KEEL_SYNC_DATA;
    else if (strcmp(s, "full") == 0)
        *out = KEEL_SYNC_FULL;
    else {
        PyErr_Format(PyExc_ValueError, "sync must be 'none', 'data' or 'full', not %R", o);
        return -1;
    }
    return 0;
}

static PyObject *
open_db(PyTypeObject *type, PyObject *path_arg, int how, int readonly, keel_sync_mode sync)
{
    PyObject *module = kdp_module_of_type(type);
    if (module == NULL)
        return NULL;
    kdp_state *st = get_state(module);
    PyObject *path_bytes = NULL;
    if (how != OPEN_MEMORY && !PyUnicode_FSConverter(path_arg, &path_bytes))
        return NULL;

    keel_db_options opts = KEEL_DB_OPTIONS_INIT;
    opts.sync = sync;
    opts.mode = readonly ? KEEL_OPEN_READONLY
                : how == OPEN_NEW ? KEEL_OPEN_NEW
                : how == OPEN_EXISTING ? KEEL_OPEN_EXISTING : KEEL_OPEN_CREATE;

    DatabaseObject *self = (DatabaseObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        Py_XDECREF(path_bytes);
        return NULL;
    }
    self->st = st;
    self->module = Py_NewRef(module);
    self->closed = 1;   /* until the open succeeds */
    self->readonly = readonly;
    self->memory = how == OPEN_MEMORY;
    if (path_bytes != NULL)
        self->path = PyUnicode_DecodeFSDefaultAndSize(PyBytes_AS_STRING(path_bytes),
                                                      PyBytes_GET_SIZE(path_bytes));
    else
        self->path = Py_NewRef(Py_None);
    if (self->path == NULL)
        goto fail;
    if (pthread_rwlock_init(&self->oplock, NULL) != 0) {
        PyErr_SetString(PyExc_MemoryError, "cannot initialise the database's lock");
        goto fail;
    }
    self->lock_ready = 1;

    keel_db *db = NULL;
    keel_status rc;
    const char *cpath = path_bytes ? PyBytes_AS_STRING(path_bytes) : NULL;
    Py_BEGIN_ALLOW_THREADS
    rc = cpath ? keel_db_open(cpath, &opts, &db) : keel_db_open_memory(&opts, &db);
    Py_END_ALLOW_THREADS
    if (rc != KEEL_OK) {
        kdp_raise_status(st, rc, how == OPEN_NEW ? "cannot create database"
                                                 : "cannot open database",
                         self->path);
        goto fail;
    }
    self->db = db;
    self->closed = 0;
    Py_XDECREF(path_bytes);
    return (PyObject *)self;

fail:
    Py_XDECREF(path_bytes);
    Py_DECREF(self);
    return NULL;
}

/* Database(path, *, readonly=False, sync="none"): open, creating when missing. */
static PyObject *
Database_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"path", "readonly", "sync", NULL};
    PyObject *path, *sync_arg = NULL;
    int readonly = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|$pO:Database", kwlist, &path, &readonly,
                                     &sync_arg))
        return NULL;
    keel_sync_mode sync;
    if (parse_sync(sync_arg, &sync) < 0)
        return NULL;
    return open_db(type, path, OPEN_DEFAULT, readonly, sync);
}

static PyObject *
Database_create(PyTypeObject *type, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"path", "sync"};
    PyObject *a[2];
    if (kdp_parse_args("create", args, nargs, kwnames, names, 1, 1, 2, a) < 0)
        return NULL;
    keel_sync_mode sync;
    if (parse_sync(a[1], &sync) < 0)
        return NULL;
    return open_db(type, a[0], OPEN_NEW, 0, sync);
}

static PyObject *
Database_open(PyTypeObject *type, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"path", "readonly", "sync"};
    PyObject *a[3];
    if (kdp_parse_args("open", args, nargs, kwnames, names, 1, 1, 3, a) < 0)
        return NULL;
    int readonly = a[1] ? PyObject_IsTrue(a[1]) : 0;
    if (readonly < 0)
        return NULL;
    keel_sync_mode sync;
    if (parse_sync(a[2], &sync) < 0)
        return NULL;
    return open_db(type, a[0], OPEN_EXISTING, readonly, sync);
}

static PyObject *
Database_create_in_memory(PyTypeObject *type, PyObject *Py_UNUSED(ignored))
{
    return open_db(type, NULL, OPEN_MEMORY, 0, KEEL_SYNC_NONE);
}

static void
Database_dealloc(DatabaseObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    if (self->weakreflist != NULL)
        PyObject_ClearWeakRefs((PyObject *)self);
    if (self->db != NULL) {
        keel_db_free(self->db);   /* closes it first if still open */
        self->db = NULL;
    }
    if (self->lock_ready)
        pthread_rwlock_destroy(&self->oplock);
    Py_XDECREF(self->path);
    Py_XDECREF(self->module);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyObject *
Database_close(DatabaseObject *self, PyObject *Py_UNUSED(ignored))
{
    if (self->closed)
        Py_RETURN_NONE;
    if (self->exports > 0)
        return PyErr_Format(PyExc_BufferError,
                            "cannot close the database: %zd vector%s (numpy arrays over the "
                            "file's mapping) %s still alive",
                            self->exports, self->exports == 1 ? "" : "s",
                            self->exports == 1 ? "is" : "are");
    if (self->pins > 0)
        return PyErr_Format(PyExc_BufferError,
                            "cannot close the database while %zd call%s (execute, search, "
                            "get, a cursor's next) decode%s results from the file's mapping",
                            self->pins, self->pins == 1 ? "" : "s", self->pins == 1 ? "s" : "");
    self->closed = 1;
    keel_status rc;
    keel_db *db = self->db;
    Py_BEGIN_ALLOW_THREADS
    pthread_rwlock_wrlock(&self->oplock);   /* waits for GIL-released calls in flight */
    rc = keel_db_close(db);
    pthread_rwlock_unlock(&self->oplock);
    Py_END_ALLOW_THREADS
    if (rc != KEEL_OK)
        return kdp_raise_status(self->st, rc, "close", NULL);
    Py_RETURN_NONE;
}

static PyObject *
Database_enter(DatabaseObject *self, PyObject *Py_UNUSED(ignored))
{
    if (db_check(self) < 0)
        return NULL;
    return Py_NewRef((PyObject *)self);
}

static PyObject *
Database_exit(DatabaseObject *self, PyObject *const *Py_UNUSED(args), Py_ssize_t Py_UNUSED(n))
{
    PyObject *r = Database_close(self, NULL);
    if (r == NULL)
        return NULL;
    Py_DECREF(r);
    Py_RETURN_FALSE;
}

/* ---------------------------------------------------------------------------------------
 * Maintenance
 */

static PyObject *
Database_compact(DatabaseObject *self, PyObject *Py_UNUSED(ignored))
{
    if (db_check(self) < 0)
        return NULL;
    keel_status rc;
    IO_CALL(self, rc = keel_db_compact(self->db, NULL, NULL));
    if (rc != KEEL_OK)
        return kdp_raise_status(self->st, rc, "compact", NULL);
    Py_RETURN_NONE;
}

static PyObject *
Database_verify(DatabaseObject *self, PyObject *Py_UNUSED(ignored))
{
    if (db_check(self) < 0)
        return NULL;
    keel_status rc;
    keel_verify_report rep;
    memset(&rep, 0, sizeof rep);
    IO_CALL(self, rc = keel_db_verify(self->db, &rep));
    if (rc != KEEL_OK)
        return kdp_raise_status(self->st, rc, "verify", NULL);
    return PyLong_FromUnsignedLongLong(rep.entries_checked);
}

static PyObject *
Database_stats(DatabaseObject *self, PyObject *Py_UNUSED(ignored))
{
    if (db_check(self) < 0)
        return NULL;
    keel_stats s;
    keel_status rc = keel_db_stat(self->db, &s);
    if (rc != KEEL_OK)
        return kdp_raise_status(self->st, rc, "stats", NULL);
    static const char *const sync_names[] = {"none", "data", "full"};
    return Py_BuildValue("{sKsKsKsKsKsIs(HH)sOss}", "file_size",
                         (unsigned long long)s.file_size, "entries",
                         (unsigned long long)s.entries, "live_keys",
                         (unsigned long long)s.live_keys, "live_bytes",
                         (unsigned long long)s.live_bytes, "reclaimable_bytes",
                         (unsigned long long)s.reclaimable_bytes, "alignment",
                         (unsigned)s.alignment, "format_version", s.format_major,
                         s.format_minor, "readonly", s.read_only ? Py_True : Py_False, "sync",
                         (unsigned)s.sync < 3 ? sync_names[s.sync] : "?");
}

static PyObject *
Database_get_path(DatabaseObject *self, void *Py_UNUSED(c))
{
    return Py_NewRef(self->path);
}

static PyObject *
Database_get_closed(DatabaseObject *self, void *Py_UNUSED(c))
{
    return PyBool_FromLong(self->closed);
}

static PyObject *
Database_get_readonly(DatabaseObject *self, void *Py_UNUSED(c))
{
    return PyBool_FromLong(self->readonly);
}

static PyObject *
Database_get_in_memory(DatabaseObject *self, void *Py_UNUSED(c))
{
    return PyBool_FromLong(self->memory);
}

static PyObject *
Database_repr(DatabaseObject *self)
{
    return PyUnicode_FromFormat("<keeldb.Database %s%R%s%s>", self->memory ? "in memory" : "path=",
                                self->memory ? Py_None : self->path,
                                self->readonly ? " readonly" : "", self->closed ? " closed" : "");
}

#define FAST (METH_FASTCALL | METH_KEYWORDS)
#define FN(f) (PyCFunction)(void (*)(void))(f)

static PyMethodDef Database_methods[] = {
    {"create", FN(Database_create), FAST | METH_CLASS,
     "create($type, /, path, sync='none')\n--\n\n"
     "Create a new database file; FileExistsError if the path exists."},
    {"open", FN(Database_open), FAST | METH_CLASS,
     "open($type, /, path, readonly=False, sync='none')\n--\n\n"
     "Open an existing database; FileNotFoundError if missing, keeldb.CorruptFileError "
     "(an OSError) if damaged."},
    {"create_in_memory", FN(Database_create_in_memory), METH_NOARGS | METH_CLASS,
     "create_in_memory($type, /)\n--\n\nA database in an anonymous in-memory file."},
    {"put", FN(kdp_db_put), FAST,
     "put($self, /, pk, item, sk=None)\n--\n\n"
     "Store item (a dict) under pk (and sk) in the default table, replacing any item."},
    {"put_with_sk", FN(kdp_db_put_with_sk), FAST,
     "put_with_sk($self, /, pk, sk, item)\n--\n\nput(pk, item, sk=sk)."},
    {"get", FN(kdp_db_get), FAST,
     "get($self, /, pk, sk=None)\n--\n\nThe item (a dict), or None."},
    {"get_with_sk", FN(kdp_db_get_with_sk), FAST,
     "get_with_sk($self, /, pk, sk)\n--\n\nget(pk, sk=sk)."},
    {"delete", FN(kdp_db_delete), FAST,
     "delete($self, /, pk, sk=None)\n--\n\nDelete the item; absent is not an error."},
    {"delete_with_sk", FN(kdp_db_delete_with_sk), FAST,
     "delete_with_sk($self, /, pk, sk)\n--\n\ndelete(pk, sk=sk)."},
    {"batch_write", FN(kdp_db_batch_write), FAST,
     "batch_write($self, /, puts=None, deletes=None)\n--\n\n"
     "puts: [(pk, item) | (pk, sk, item)], deletes: [pk | (pk, sk)]; one atomic write. "
     "Returns the number of writes."},
    {"batch_get", (PyCFunction)kdp_db_batch_get, METH_O,
     "batch_get($self, keys, /)\n--\n\n"
     "keys: [pk | (pk, sk)]; a dict from each key found, as given, to its item."},
    {"flush", (PyCFunction)kdp_db_flush, METH_NOARGS,
     "flush($self, /)\n--\n\nFlush every write to stable storage (fdatasync)."},
    {"close", (PyCFunction)Database_close, METH_NOARGS,
     "close($self, /)\n--\n\nClose (idempotent). BufferError while vectors over the mapping "
     "are alive."},
    {"compact", (PyCFunction)Database_compact, METH_NOARGS,
     "compact($self, /)\n--\n\nRewrite the file with live entries only."},
    {"verify", (PyCFunction)Database_verify, METH_NOARGS,
     "verify($self, /)\n--\n\nCheck every entry and item; returns how many entries. "
     "CorruptError if damaged."},
    {"stats", (PyCFunction)Database_stats, METH_NOARGS,
     "stats($self, /)\n--\n\nThe file's statistics (a dict)."},
    {"create_table", FN(kdp_db_create_table), FAST,
     "create_table($self, /, name, partition_key, sort_key=None, global_indexes=None, "
     "local_indexes=None)\n--\n\n"
     "Create a table; keys are (attribute name, 'S' | 'N' | 'B'); indexes are dicts "
     "{name, partition_key, sort_key, projection}. Returns None; "
     "keeldb.Database.create_table wraps it to return a Table."},
    {"update_table", FN(kdp_db_update_table), FAST,
     "update_table($self, /, table, *, create_index=None, delete_index=None)\n--\n\n"
     "Add a global secondary index (backfilled before this returns) or drop an index."},
    {"update_ttl", FN(kdp_db_update_ttl), FAST,
     "update_ttl($self, /, table, attribute)\n--\n\n"
     "Set the table's TTL attribute (epoch seconds), or disable TTL with None."},
    {"set_clock", (PyCFunction)kdp_db_set_clock, METH_O,
     "set_clock($self, now, /)\n--\n\n"
     "TTL's clock: a fixed time in epoch seconds (for tests), or None for the real time."},
    {"reap_expired", FN(kdp_db_reap_expired), FAST,
     "reap_expired($self, /, table=None, max=None)\n--\n\n"
     "Delete expired items (of table, or of every table with TTL) and their index entries "
     "in atomic batches; returns how many."},
    {"create_vector_index", FN(kdp_db_create_vector_index), FAST,
     PyDoc_STR("create_vector_index($self, table, name, attribute, dimensions, /,\n"
               "                    distance='COSINE', projection=None, filter_attributes=None,\n"
               "                    m=None, ef_construction=None, hash_attribute=None)\n--\n\n"
               "Add a vector index (backfilled from the table's items).")},
    {"drop_vector_index", FN(kdp_db_drop_vector_index), FAST,
     PyDoc_STR("drop_vector_index($self, table, name, /)\n--\n\nRemove a vector index.")},
    {"vector_indexes", (PyCFunction)kdp_db_vector_indexes, METH_O,
     PyDoc_STR("vector_indexes($self, table, /)\n--\n\nThe table's vector indexes as dicts.")},
    {"search", FN(kdp_db_search), FAST,
     PyDoc_STR("search($self, table, index, vector, k, /, filter=None, values=None, names=None,\n"
               "       projection=None, ef=None)\n--\n\n"
               "The k nearest items to a float32 vector: a list of (item, score).")},
    {"search_batch", FN(kdp_db_search_batch), FAST,
     PyDoc_STR("search_batch($self, table, index, queries, k, /, filter=None, values=None,\n"
               "             names=None, projection=None, ef=None)\n--\n\n"
               "search() for each row of a 2-D float32 array: a list of lists of (item, score).")},
    {"table_stats", (PyCFunction)kdp_db_table_stats, METH_O,
     "table_stats($self, table, /)\n--\n\n"
     "The table's item count and bytes, TTL attribute and indexes with their sizes."},
    {"delete_table", (PyCFunction)kdp_db_delete_table, METH_O,
     "delete_table($self, name, /)\n--\n\nDelete a table and all its items."},
    {"describe_table", (PyCFunction)kdp_db_describe_table, METH_O,
     "describe_table($self, name, /)\n--\n\nThe table's schema and counts (a dict)."},
    {"list_tables", (PyCFunction)kdp_db_list_tables, METH_NOARGS,
     "list_tables($self, /)\n--\n\nThe tables' names, in order."},
    {"put_item", FN(kdp_db_put_item), FAST,
     "put_item($self, /, table, item, condition=None, names=None, values=None, "
     "return_values='NONE', return_values_on_condition_check_failure='NONE')\n--\n\n"
     "Store item in table, replacing any item with its key, if condition holds (else "
     "ConditionalCheckFailed). Returns the old item for return_values='ALL_OLD', else None."},
    {"get_item", FN(kdp_db_get_item), FAST,
     "get_item($self, /, table, key)\n--\n\nThe item with this key (a dict), or None."},
    {"delete_item", FN(kdp_db_delete_item), FAST,
     "delete_item($self, /, table, key, condition=None, names=None, values=None, "
     "return_values='NONE', return_values_on_condition_check_failure='NONE')\n--\n\n"
     "Delete the item if condition holds; absent is not an error. Returns the old item for "
     "return_values='ALL_OLD', else None."},
    {"update_item", FN(kdp_db_update_item), FAST,
     "update_item($self, /, table, key, update=None, condition=None, names=None, values=None, "
     "return_values='NONE', return_values_on_condition_check_failure='NONE')\n--\n\n"
     "Apply an UpdateExpression to the item (created from key when absent) if condition "
     "holds. Returns what return_values asks for (NONE, ALL_OLD, UPDATED_OLD, ALL_NEW, "
     "UPDATED_NEW) as a dict, or None."},
    {"execute", FN(kdp_db_execute), FAST,
     PyDoc_STR("execute($self, /, statement, parameters=None, limit=None)\n--\n\n"
               "Run one PartiQL statement (DynamoDB's ExecuteStatement). parameters fill the ?\n"
               "markers in order. A SELECT returns the items it finds (reading only the\n"
               "partitions its WHERE names by key, else scanning); a write returns [] or\n"
               "the item its RETURNING clause asks for.")},
    {"batch_execute", (PyCFunction)kdp_db_batch_execute, METH_O,
     PyDoc_STR("batch_execute($self, statements, /)\n--\n\n"
               "BatchExecuteStatement: 1 to 25 statements, each a str, a (statement,\n"
               "parameters) pair or {\"Statement\": ..., \"Parameters\": [...]}; all\n"
               "SELECTs by full key or all writes, each run on its own. One response per\n"
               "statement, DynamoDB's shape: {\"Item\": item} (reads that found one), {},\n"
               "or {\"Error\": {\"Code\": ..., \"Message\": ...}}.")},
    {"_transact_write", (PyCFunction)kdp_db_transact_write, METH_O,
     "_transact_write($self, actions, /)\n--\n\nTransactWriteItems over flat tuples (see "
     "Database.transact_write)."},
    {"_transact_write_items", (PyCFunction)kdp_db_transact_write_items, METH_O,
     "_transact_write_items($self, actions, /)\n--\n\nTransactWriteItems from plain dicts in "
     "DynamoDB's shape; NotImplemented for anything else (see Database.transact_write)."},
    {"_transact_get", (PyCFunction)kdp_db_transact_get, METH_O,
     "_transact_get($self, gets, /)\n--\n\nTransactGetItems over flat tuples (see "
     "Database.transact_get)."},
    {"batch_write_items", FN(kdp_db_batch_write_items), FAST,
     "batch_write_items($self, /, table, puts=None, deletes=None)\n--\n\n"
     "One atomic write of items (puts) and keys (deletes); returns how many."},
    {"batch_get_items", FN(kdp_db_batch_get_items), FAST,
     "batch_get_items($self, /, table, keys)\n--\n\nThe items found, in the order of keys."},
    {"_dynamo_handle", FN(kdp_db_dynamo_handle), METH_FASTCALL,
     PyDoc_STR("_dynamo_handle(operation, body) -> (status, body, type): one DynamoDB request "
               "through keel's C handler (keel_server.h); keeldb.dynamodb uses it")},
    {"count", (PyCFunction)kdp_db_count, METH_O,
     "count($self, table, /)\n--\n\nThe number of items in table."},
    {"query", FN(kdp_db_query), FAST,
     "query($self, /, table, key_condition, *, values=None, names=None, filter=None, "
     "projection=None, forward=True, limit=None, start_key=None, index=None)\n--\n\n"
     "A Cursor over the items of one partition, in sort-key order."},
    {"scan", FN(kdp_db_scan), FAST,
     "scan($self, /, table, *, filter=None, values=None, names=None, projection=None, "
     "limit=None, start_key=None, segment=None, total_segments=None, index=None)\n--\n\n"
     "A Cursor over every item of table (or of one segment)."},
    {"__enter__", (PyCFunction)Database_enter, METH_NOARGS,
     "__enter__($self, /)\n--\n\nReturn self."},
    {"__exit__", FN(Database_exit), METH_FASTCALL,
     "__exit__($self, /, *exc_info)\n--\n\nclose()."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef Database_getset[] = {
    {"path", (getter)Database_get_path, NULL, "The path (None in memory).", NULL},
    {"closed", (getter)Database_get_closed, NULL, "True after close().", NULL},
    {"readonly", (getter)Database_get_readonly, NULL, "True when opened read-only.", NULL},
    {"in_memory", (getter)Database_get_in_memory, NULL, "True for create_in_memory().", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyMemberDef Database_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(DatabaseObject, weakreflist), READONLY, NULL},
    {NULL, 0, 0, 0, NULL}};

static PyType_Slot Database_slots[] = {
    {Py_tp_doc, "Database(path, *, readonly=False, sync='none')\n--\n\n"
                "DynamoDB-style items in one keel file (KeystoneDB's API plus tables). "
                "Opens the file, creating it when missing."},
    {Py_tp_new, Database_new},
    {Py_tp_dealloc, Database_dealloc},
    {Py_tp_repr, Database_repr},
    {Py_tp_methods, Database_methods},
    {Py_tp_getset, Database_getset},
    {Py_tp_members, Database_members},
    {0, NULL}};

PyType_Spec kdp_database_spec = {
    .name = "keeldb._db.Database",
    .basicsize = sizeof(DatabaseObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .slots = Database_slots,
};
