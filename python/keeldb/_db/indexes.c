/*
 * indexes.c: Database methods for secondary indexes and TTL: the index definitions of
 * create_table (global_indexes=, local_indexes=), update_table (add a global index, which
 * is backfilled before the call returns, or drop an index), update_ttl, set_clock (a fixed
 * time for TTL, for deterministic tests), reap_expired and table_stats.
 *
 * An index definition is a dict {"name": str, "partition_key": (name, type),
 * "sort_key": (name, type) | None, "projection": "ALL" | "KEYS_ONLY" | [attr, ...]}
 * (a list is INCLUDE with those non-key attributes). The strings it names are kept alive
 * in a list (`keep`) while the GIL is released for the call.
 *
 * The clock: keel_db_set_clock gets a C function reading DatabaseObject.clock_now
 * (atomically), never a Python callable, so no TTL check ever needs the GIL: writers
 * evaluate TTL under the store's writer lock with the GIL released.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common.h"

#include <stdlib.h>

/* A str attribute name (no NUL) kept alive in `keep`. */
static const char *
name_of(kdp_state *st, PyObject *o, const char *what, PyObject *keep)
{
    if (!PyUnicode_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be a str, not '%.200s'", what, Py_TYPE(o)->tp_name);
        return NULL;
    }
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(o, &n);
    if (s == NULL || PyList_Append(keep, o) < 0)
        return NULL;
    if ((size_t)n != strlen(s)) {
        PyErr_Format(st->ValidationError, "%s holds a NUL character", what);
        return NULL;
    }
    return s;
}

static int
key_of(kdp_state *st, PyObject *o, const char *what, const char **name, keel_db_keytype *type,
       PyObject *keep)
{
    if (!PyTuple_Check(o) || PyTuple_GET_SIZE(o) != 2) {
        PyErr_Format(PyExc_TypeError, "%s must be a tuple (attribute name, 'S' | 'N' | 'B'), "
                     "not %R", what, o);
        return -1;
    }
    const char *t;
    if ((*name = name_of(st, PyTuple_GET_ITEM(o, 0), what, keep)) == NULL ||
        (t = name_of(st, PyTuple_GET_ITEM(o, 1), what, keep)) == NULL)
        return -1;
    if ((t[0] != 'S' && t[0] != 'N' && t[0] != 'B') || t[1] != '\0') {
        PyErr_Format(st->ValidationError, "%s '%s': type must be 'S', 'N' or 'B', not '%s'",
                     what, *name, t);
        return -1;
    }
    *type = (keel_db_keytype)t[0];
    return 0;
}

/* One definition dict into *d; include names go to a malloc'd array (*d->include). */
static int
parse_def(kdp_state *st, PyObject *o, int local, keel_db_index_def *d, PyObject *keep)
{
    memset(d, 0, sizeof *d);
    d->local = local;
    if (!PyDict_Check(o)) {
        PyErr_Format(PyExc_TypeError, "an index definition must be a dict, not '%.200s'",
                     Py_TYPE(o)->tp_name);
        return -1;
    }
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    while (PyDict_Next(o, &pos, &k, &v)) {
        const char *kn = PyUnicode_Check(k) ? PyUnicode_AsUTF8(k) : NULL;
        if (kn == NULL || (strcmp(kn, "name") != 0 && strcmp(kn, "partition_key") != 0 &&
                           strcmp(kn, "sort_key") != 0 && strcmp(kn, "projection") != 0)) {
            PyErr_Clear();
            PyErr_Format(st->ValidationError, "an index definition takes 'name', "
                         "'partition_key', 'sort_key' and 'projection', not %R", k);
            return -1;
        }
    }
    PyObject *name = PyDict_GetItemString(o, "name"), *pk = PyDict_GetItemString(o, "partition_key");
    PyObject *sk = PyDict_GetItemString(o, "sort_key"), *proj = PyDict_GetItemString(o, "projection");
    if (name == NULL || (pk == NULL && !local)) {
        PyErr_SetString(st->ValidationError, "an index definition needs 'name' and "
                        "'partition_key'");
        return -1;
    }
    if ((d->name = name_of(st, name, "index name", keep)) == NULL)
        return -1;
    if (pk != NULL && pk != Py_None &&
        key_of(st, pk, "index partition_key", &d->pk_name, &d->pk_type, keep) < 0)
        return -1;
    if (sk != NULL && sk != Py_None &&
        key_of(st, sk, "index sort_key", &d->sk_name, &d->sk_type, keep) < 0)
        return -1;
    if (proj == NULL || proj == Py_None) {
        d->projection = KEEL_DB_PROJECT_ALL;
    } else if (PyUnicode_Check(proj)) {
        const char *p = name_of(st, proj, "projection", keep);
        if (p == NULL)
            return -1;
        if (strcmp(p, "ALL") == 0)
            d->projection = KEEL_DB_PROJECT_ALL;
        else if (strcmp(p, "KEYS_ONLY") == 0)
            d->projection = KEEL_DB_PROJECT_KEYS_ONLY;
        else {
            PyErr_Format(st->ValidationError, "projection must be 'ALL', 'KEYS_ONLY' or a list "
                         "of attribute names, not '%s'", p);
            return -1;
        }
    } else {
        PyObject *seq = PySequence_Fast(proj, "projection must be 'ALL', 'KEYS_ONLY' or a list "
                                        "of attribute names");
        if (seq == NULL || PyList_Append(keep, seq) < 0) {
            Py_XDECREF(seq);
            return -1;
        }
        Py_DECREF(seq);  /* `keep` holds it */
        Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
        const char **inc = calloc(n ? (size_t)n : 1, sizeof *inc);
        if (inc == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        d->include = inc;
        d->ninclude = (size_t)n;
        d->projection = KEEL_DB_PROJECT_INCLUDE;
        for (Py_ssize_t i = 0; i < n; i++)
            if ((inc[i] = name_of(st, PySequence_Fast_GET_ITEM(seq, i), "projection attribute",
                                  keep)) == NULL)
                return -1;
    }
    return 0;
}

void
kdp_index_defs_free(keel_db_index_def *defs, size_t n)
{
    for (size_t i = 0; defs && i < n; i++)
        free((void *)defs[i].include);
    free(defs);
}

int
kdp_index_defs(kdp_state *st, PyObject *gsis, PyObject *lsis, const char *table_pk,
               keel_db_keytype table_pkt, keel_db_index_def **out, size_t *n, PyObject *keep)
{
    *out = NULL;
    *n = 0;
    PyObject *lists[2] = {lsis, gsis};
    size_t total = 0;
    PyObject *seqs[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++) {
        if (lists[k] == NULL || lists[k] == Py_None)
            continue;
        seqs[k] = PySequence_Fast(lists[k], k ? "global_indexes must be a list of dicts"
                                              : "local_indexes must be a list of dicts");
        if (seqs[k] == NULL)
            goto fail;
        total += (size_t)PySequence_Fast_GET_SIZE(seqs[k]);
    }
    keel_db_index_def *defs = calloc(total ? total : 1, sizeof *defs);
    if (defs == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    *out = defs;
    for (int k = 0; k < 2; k++) {
        for (Py_ssize_t i = 0; seqs[k] && i < PySequence_Fast_GET_SIZE(seqs[k]); i++) {
            keel_db_index_def *d = &defs[(*n)++];
            if (parse_def(st, PySequence_Fast_GET_ITEM(seqs[k], i), k == 0, d, keep) < 0)
                goto fail;
            if (k == 0 && d->pk_name == NULL) {  /* a local index's partition key: the table's */
                d->pk_name = table_pk;
                d->pk_type = table_pkt;
            }
        }
    }
    Py_XDECREF(seqs[0]);
    Py_XDECREF(seqs[1]);
    return 0;
fail:
    Py_XDECREF(seqs[0]);
    Py_XDECREF(seqs[1]);
    kdp_index_defs_free(*out, *n);
    *out = NULL;
    *n = 0;
    return -1;
}

PyObject *
kdp_db_update_table(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs,
                    PyObject *kwnames)
{
    static const char *const names[] = {"table", "create_index", "delete_index"};
    PyObject *a[3];
    if (kdp_parse_args("update_table", args, nargs, kwnames, names, 1, 1, 3, a) < 0)
        return NULL;
    const char *table = kdp_table_name(self->st, a[0]);
    if (table == NULL || db_check(self) < 0)
        return NULL;
    PyObject *keep = PyList_New(0);
    if (keep == NULL)
        return NULL;
    keel_db_index_def def;
    memset(&def, 0, sizeof def);
    keel_db_table_update u = {NULL, NULL};
    PyObject *result = NULL;
    if (a[1] != NULL && a[1] != Py_None) {
        if (parse_def(self->st, a[1], 0, &def, keep) < 0)
            goto out;
        u.create_index = &def;
    }
    if (a[2] != NULL && a[2] != Py_None &&
        (u.delete_index = name_of(self->st, a[2], "delete_index", keep)) == NULL)
        goto out;
    keel_status rc;
    IO_CALL(self, rc = keel_db_update_table(self->db, table, &u));
    if (rc != KEEL_OK)
        kdp_raise_status(self->st, rc, "update_table", NULL);
    else
        result = Py_NewRef(Py_None);
out:
    free((void *)def.include);
    Py_DECREF(keep);
    return result;
}

PyObject *
kdp_db_update_ttl(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs,
                  PyObject *kwnames)
{
    static const char *const names[] = {"table", "attribute"};
    PyObject *a[2];
    if (kdp_parse_args("update_ttl", args, nargs, kwnames, names, 2, 2, 2, a) < 0)
        return NULL;
    const char *table = kdp_table_name(self->st, a[0]);
    if (table == NULL || db_check(self) < 0)
        return NULL;
    PyObject *keep = PyList_New(0);
    if (keep == NULL)
        return NULL;
    const char *attr = NULL;
    PyObject *result = NULL;
    if (a[1] == Py_None || (attr = name_of(self->st, a[1], "attribute", keep)) != NULL) {
        keel_status rc;
        IO_CALL(self, rc = keel_db_update_ttl(self->db, table, attr));
        if (rc != KEEL_OK)
            kdp_raise_status(self->st, rc, "update_ttl", NULL);
        else
            result = Py_NewRef(Py_None);
    }
    Py_DECREF(keep);
    return result;
}

static int64_t
fixed_clock(void *ctx)
{
    DatabaseObject *self = ctx;
    return __atomic_load_n(&self->clock_now, __ATOMIC_RELAXED);
}

PyObject *
kdp_db_set_clock(DatabaseObject *self, PyObject *now)
{
    if (db_check(self) < 0)
        return NULL;
    if (now == Py_None) {
        keel_db_set_clock(self->db, NULL, NULL);
        Py_RETURN_NONE;
    }
    unsigned long long u;
    if (keeldb_int_arg(now, "now", LLONG_MIN, LLONG_MAX, &u) < 0)
        return NULL;
    long long v = (long long)u;
    __atomic_store_n(&self->clock_now, (int64_t)v, __ATOMIC_RELAXED);
    keel_db_set_clock(self->db, fixed_clock, self);
    Py_RETURN_NONE;
}

PyObject *
kdp_db_reap_expired(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs,
                    PyObject *kwnames)
{
    static const char *const names[] = {"table", "max"};
    PyObject *a[2];
    if (kdp_parse_args("reap_expired", args, nargs, kwnames, names, 0, 2, 2, a) < 0)
        return NULL;
    const char *table = NULL;
    if (a[0] != NULL && a[0] != Py_None && (table = kdp_table_name(self->st, a[0])) == NULL)
        return NULL;
    unsigned long long max = 0;
    if (a[1] != NULL && a[1] != Py_None) {
        /* 0 is the C API's "no limit": a caller's 0 is refused, None means no limit */
        if (keeldb_int_arg(a[1], "max", 1, ULLONG_MAX, &max) < 0)
            return NULL;
    }
    if (db_check(self) < 0)
        return NULL;
    uint64_t n = 0;
    keel_status rc;
    IO_CALL(self, rc = keel_db_reap_expired(self->db, table, max, &n));
    if (rc != KEEL_OK)
        return kdp_raise_status(self->st, rc, "reap_expired", NULL);
    return PyLong_FromUnsignedLongLong(n);
}

static PyObject *
keydef(const char *name, keel_db_keytype t)
{
    if (t == KEEL_DB_KEY_NONE)
        return Py_NewRef(Py_None);
    char type[2] = {(char)t, '\0'};
    return Py_BuildValue("(ss)", name, type);
}

static PyObject *
index_dict(const keel_db_index_info *x)
{
    PyObject *proj;
    if (x->projection == KEEL_DB_PROJECT_INCLUDE) {
        proj = PyList_New(0);
        const char *p = x->include;
        for (size_t i = 0; proj && i < x->ninclude; i++, p += strlen(p) + 1) {
            PyObject *s = PyUnicode_FromString(p);
            if (s == NULL || PyList_Append(proj, s) < 0)
                Py_CLEAR(proj);
            Py_XDECREF(s);
        }
    } else {
        proj = PyUnicode_FromString(x->projection == KEEL_DB_PROJECT_ALL ? "ALL" : "KEYS_ONLY");
    }
    PyObject *pk = keydef(x->pk_name, x->pk_type), *sk = keydef(x->sk_name, x->sk_type);
    PyObject *r = NULL;
    if (proj && pk && sk)
        r = Py_BuildValue("{sssssOsOsOsOsKsK}", "name", x->name, "kind",
                          x->local ? "local" : "global", "partition_key", pk, "sort_key", sk,
                          "projection", proj, "creating", x->creating ? Py_True : Py_False,
                          "item_count", (unsigned long long)x->items, "size_bytes",
                          (unsigned long long)x->bytes);
    Py_XDECREF(proj);
    Py_XDECREF(pk);
    Py_XDECREF(sk);
    return r;
}

PyObject *
kdp_db_table_stats(DatabaseObject *self, PyObject *name_arg)
{
    const char *name = kdp_table_name(self->st, name_arg);
    if (name == NULL || db_check(self) < 0)
        return NULL;
    keel_db_table_stats *s = malloc(sizeof *s);
    if (s == NULL)
        return PyErr_NoMemory();
    keel_status rc = keel_db_get_stats(self->db, name, s);
    PyObject *r = NULL, *ix = NULL;
    if (rc != KEEL_OK) {
        kdp_raise_status(self->st, rc, "table_stats", NULL);
        goto out;
    }
    if ((ix = PyList_New(0)) == NULL)
        goto out;
    for (size_t i = 0; i < s->nindexes; i++) {
        PyObject *d = index_dict(&s->indexes[i]);
        if (d == NULL || PyList_Append(ix, d) < 0) {
            Py_XDECREF(d);
            goto out;
        }
        Py_DECREF(d);
    }
    PyObject *ttl = s->ttl_attribute[0] ? PyUnicode_FromString(s->ttl_attribute)
                                        : Py_NewRef(Py_None);
    if (ttl != NULL)
        r = Py_BuildValue("{sKsKsNsO}", "item_count", (unsigned long long)s->items,
                          "size_bytes", (unsigned long long)s->bytes, "ttl_attribute", ttl,
                          "indexes", ix);
out:
    Py_XDECREF(ix);
    free(s);
    return r;
}
