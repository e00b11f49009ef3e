/*
 * table.c: keeldb._db.Table, the C base of keeldb.Table (python/keeldb/db.py): a Database
 * and a table name, with the per-item methods get_item, put_item, delete_item and
 * update_item implemented here, so that a call goes from the caller straight to the C
 * function that does the work (tables.c, writes.c) without a Python frame between them.
 *
 * Invariants: `db` is a keeldb._db.Database (strong reference) and `name` a str without
 * NUL, both set by Table(db, name) and never changed; `cname` is the str's UTF-8, cached by
 * CPython inside `name`, so it lives as long as the Table. Whether the database is open is
 * checked on every call (close() may come at any time), exactly as the Database methods
 * do; whether the table exists is the library's business on every call, so a Table can
 * name a table that was deleted (calls then raise TableNotFoundError). The methods keep
 * the Database methods' GIL rules: writes release it around the library call, gets do not.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common.h"

typedef struct {
    PyObject_HEAD
    DatabaseObject *db;     /* strong */
    PyObject *name;         /* str */
    const char *cname;      /* name's UTF-8, owned by name */
} TableObject;

static PyObject *
Table_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"db", "name", NULL};
    PyObject *db, *name;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO:Table", kwlist, &db, &name))
        return NULL;
    PyObject *module = kdp_module_of_type(type);
    if (module == NULL)
        return NULL;
    kdp_state *st = get_state(module);
    if (!PyObject_TypeCheck(db, st->Database_type))
        return PyErr_Format(PyExc_TypeError, "Table() needs a keeldb.Database, not '%.200s'",
                            Py_TYPE(db)->tp_name);
    const char *cname = kdp_table_name(st, name);
    if (cname == NULL)
        return NULL;
    TableObject *self = (TableObject *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->db = (DatabaseObject *)Py_NewRef(db);
    self->name = Py_NewRef(name);
    self->cname = cname;
    return (PyObject *)self;
}

static int
Table_traverse(TableObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->db);
    return 0;
}

static int
Table_clear(TableObject *self)
{
    /* Only the Database can take part in a cycle; name (a str) and cname stay valid. */
    Py_CLEAR(self->db);
    return 0;
}

static void
Table_dealloc(TableObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    Table_clear(self);
    Py_CLEAR(self->name);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

/* The Database, or NULL with the closed-database error once the GC has cleared it. */
static DatabaseObject *
table_db(TableObject *self)
{
    if (self->db == NULL)
        kdp_raise_closed();
    return self->db;
}

static PyObject *
Table_get_item(TableObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"key"};
    PyObject *a[1];
    if (kdp_parse_args("get_item", args, nargs, kwnames, names, 1, 1, 1, a) < 0 ||
        table_db(self) == NULL)
        return NULL;
    return kdp_get_item(self->db, self->cname, a[0]);
}

static PyObject *
put_or_delete(TableObject *self, int is_put, PyObject *const *args, Py_ssize_t nargs,
              PyObject *kwnames)
{
    static const char *const put_names[] = {"item", "condition", "names", "values",
                                            "return_values",
                                            "return_values_on_condition_check_failure"};
    static const char *const del_names[] = {"key", "condition", "names", "values",
                                            "return_values",
                                            "return_values_on_condition_check_failure"};
    PyObject *a[6];
    if (kdp_parse_args(is_put ? "put_item" : "delete_item", args, nargs, kwnames,
                       is_put ? put_names : del_names, 1, 6, 6, a) < 0 ||
        table_db(self) == NULL)
        return NULL;
    return kdp_put_or_delete(self->db, is_put, self->cname, a);
}

static PyObject *
Table_put_item(TableObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    return put_or_delete(self, 1, args, nargs, kwnames);
}

static PyObject *
Table_delete_item(TableObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    return put_or_delete(self, 0, args, nargs, kwnames);
}

static PyObject *
Table_update_item(TableObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"key", "update", "condition", "names", "values",
                                        "return_values",
                                        "return_values_on_condition_check_failure"};
    PyObject *a[7];
    if (kdp_parse_args("update_item", args, nargs, kwnames, names, 1, 7, 7, a) < 0 ||
        table_db(self) == NULL)
        return NULL;
    return kdp_update_item(self->db, self->cname, a);
}

#define FN(f) (PyCFunction)(void (*)(void))(f)
#define FAST (METH_FASTCALL | METH_KEYWORDS)

static PyMethodDef Table_methods[] = {
    {"get_item", FN(Table_get_item), FAST,
     "get_item($self, /, key)\n--\n\n"
     "The item with this key (a dict of exactly the key attributes), or None."},
    {"put_item", FN(Table_put_item), FAST,
     "put_item($self, /, item, condition=None, names=None, values=None, "
     "return_values='NONE', return_values_on_condition_check_failure='NONE')\n--\n\n"
     "Store item, replacing any item with its key, if condition holds.\n\n"
     "keeldb.ConditionalCheckFailed (nothing written) when it does not; its .item is the\n"
     "current item if return_values_on_condition_check_failure='ALL_OLD'. Returns the\n"
     "replaced item for return_values='ALL_OLD', else None."},
    {"delete_item", FN(Table_delete_item), FAST,
     "delete_item($self, /, key, condition=None, names=None, values=None, "
     "return_values='NONE', return_values_on_condition_check_failure='NONE')\n--\n\n"
     "Delete the item with this key if condition holds; absent is not an error.\n\n"
     "Returns the deleted item for return_values='ALL_OLD', else None."},
    {"update_item", FN(Table_update_item), FAST,
     "update_item($self, /, key, update=None, condition=None, names=None, values=None, "
     "return_values='NONE', return_values_on_condition_check_failure='NONE')\n--\n\n"
     "Apply an UpdateExpression (SET, REMOVE, ADD, DELETE) to the item with this key,\n"
     "creating it from the key when absent, if condition holds.\n\n"
     "Every operand reads the item as it was before the update. Returns what\n"
     "return_values asks for ('NONE', 'ALL_OLD', 'UPDATED_OLD', 'ALL_NEW',\n"
     "'UPDATED_NEW') as a dict, or None."},
    {NULL, NULL, 0, NULL}};

static PyMemberDef Table_members[] = {
    {"_db", T_OBJECT, offsetof(TableObject, db), READONLY, "The Database."},
    {"_name", T_OBJECT, offsetof(TableObject, name), READONLY, "The table's name."},
    {NULL, 0, 0, 0, NULL}};

static PyType_Slot Table_slots[] = {
    {Py_tp_doc, "Table(db, name)\n--\n\n"
                "One table of a Database (the C base of keeldb.Table): the per-item methods."},
    {Py_tp_new, Table_new},
    {Py_tp_dealloc, Table_dealloc},
    {Py_tp_traverse, Table_traverse},
    {Py_tp_clear, Table_clear},
    {Py_tp_methods, Table_methods},
    {Py_tp_members, Table_members},
    {0, NULL}};

PyType_Spec kdp_table_spec = {
    .name = "keeldb._db.Table",
    .basicsize = sizeof(TableObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = Table_slots,
};
