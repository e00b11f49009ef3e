/*
 * search.c: Database's vector indexes and vector search (keel_db.h "vector search"):
 * create_vector_index, drop_vector_index, vector_indexes, search, search_batch.
 *
 * Query vectors come in through the buffer protocol: C-contiguous float32 ("f"), one
 * dimension for search, two for search_batch (keeldb.db converts lists and other dtypes
 * with numpy first). The search runs with the GIL released (IO_CALL). Each hit becomes
 * (item, score): a whole item is decoded where it lies in the mapping (hit.stored), its
 * vectors zero-copy arrays like get_item's; an index's own projection (KEYS_ONLY,
 * INCLUDE) is decoded from the library's copy and its vector attribute, when present,
 * replaced by a zero-copy array over the stored vector (hit.vector). A projection
 * expression's result is a copy, vectors included (as a scan's projection is).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common.h"

#include <stdbool.h>
#include <stdlib.h>

static const char *const dist_names[] = {"COSINE", "EUCLIDEAN", "DOT_PRODUCT"};

static int
str_arg(PyObject *o, const char *what, const char **out)
{
    if (!PyUnicode_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be a str, not '%.200s'", what, Py_TYPE(o)->tp_name);
        return -1;
    }
    Py_ssize_t n;
    *out = PyUnicode_AsUTF8AndSize(o, &n);
    if (*out == NULL)
        return -1;
    if ((size_t)n != strlen(*out)) {
        PyErr_Format(PyExc_ValueError, "%s holds a NUL character", what);
        return -1;
    }
    return 0;
}

static int
opt_str(PyObject *o, const char *what, const char **out)
{
    *out = NULL;
    return o == NULL || o == Py_None ? 0 : str_arg(o, what, out);
}

/* A list of str -> an array of C strings (borrowed from the list, kept alive by `keep`). */
static const char **
str_list(PyObject *o, const char *what, size_t *n_out, PyObject *keep)
{
    PyObject *seq = PySequence_Fast(o, "a list of attribute names");
    if (seq == NULL)
        return NULL;
    if (PyList_Append(keep, seq) < 0) {
        Py_DECREF(seq);
        return NULL;
    }
    Py_DECREF(seq);
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    const char **v = PyMem_Calloc((size_t)n + 1, sizeof *v);
    if (v == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        if (str_arg(PySequence_Fast_GET_ITEM(seq, i), what, &v[i]) < 0) {
            PyMem_Free(v);
            return NULL;
        }
    *n_out = (size_t)n;
    return v;
}

/* An optional int parameter in lo..hi (lo >= 1): None -> 0, the library's default. Any
 * value outside lo..hi is refused here, 0 included: the library reads 0 as "the default",
 * so a Python caller's m=0 would silently become 16 (issue 16's "0 means the default"
 * surprise). The message names the parameter and its range. */
static int
opt_u32(DatabaseObject *self, PyObject *o, const char *what, long long lo, long long hi,
        uint32_t *out)
{
    *out = 0;
    if (o == NULL || o == Py_None)
        return 0;
    if (!PyLong_Check(o) || PyBool_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int, not '%.200s'", what,
                     Py_TYPE(o)->tp_name);
        return -1;
    }
    long long v = PyLong_AsLongLong(o);
    if (v == -1 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError))
            return -1;
        PyErr_Clear();
        v = -1;
    }
    if (v < lo || v > hi) {
        PyErr_Format(self->st->ValidationError, "%s %R: it must be between %lld and %lld "
                     "(None: the default)", what, o, lo, hi);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

PyObject *
kdp_db_create_vector_index(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames)
{
    static const char *const names[] = {"table", "name", "attribute", "dimensions", "distance",
                                        "projection", "filter_attributes", "m",
                                        "ef_construction", "hash_attribute"};
    PyObject *a[10];
    if (kdp_parse_args("create_vector_index", args, nargs, kwnames, names, 4, 10, 10, a) < 0)
        return NULL;
    const char *table = kdp_table_name(self->st, a[0]);
    if (table == NULL || db_check(self) < 0)
        return NULL;
    keel_db_vector_index_def def;
    memset(&def, 0, sizeof def);
    const char *dist = "COSINE", *proj = NULL;
    PyObject *keep = PyList_New(0), *result = NULL;
    if (keep == NULL)
        return NULL;
    if (str_arg(a[1], "name", &def.name) < 0 || str_arg(a[2], "attribute", &def.attribute) < 0 ||
        opt_str(a[4], "distance", &dist) < 0)
        goto out;
    /* Checked whole: a value past 32 bits must not reach the library cut (2**32 + 4 was 4). */
    unsigned long long udims;
    if (keeldb_int_arg(a[3], "dimensions", LLONG_MIN, LLONG_MAX, &udims) < 0)
        goto out;
    long long dims = (long long)udims;
    if (dims < 1 || dims > KEEL_DB_MAX_DIMENSIONS) {
        PyErr_Format(self->st->ValidationError, "vector index '%s': dimensions %lld (1 to %u)",
                     def.name, dims, KEEL_DB_MAX_DIMENSIONS);
        goto out;
    }
    def.dimensions = (uint32_t)dims;
    int d = -1;
    for (int i = 0; i < 3 && dist; i++)
        if (strcmp(dist, dist_names[i]) == 0)
            d = i;
    if (d < 0) {
        PyErr_Format(self->st->ValidationError, "distance must be COSINE, EUCLIDEAN or "
                     "DOT_PRODUCT, not %R", a[4]);
        goto out;
    }
    def.distance = (keel_db_distance)d;
    if (opt_u32(self, a[7], "m", 2, KEEL_DB_HNSW_MAX_M, &def.m) < 0 ||
        opt_u32(self, a[8], "ef_construction", 1, KEEL_DB_MAX_EF, &def.ef_construction) < 0)
        goto out;
    if (a[5] != NULL && a[5] != Py_None) {
        if (PyUnicode_Check(a[5])) {
            if (str_arg(a[5], "projection", &proj) < 0)
                goto out;
            if (strcmp(proj, "ALL") == 0) {
                def.projection = KEEL_DB_PROJECT_ALL;
            } else if (strcmp(proj, "KEYS_ONLY") == 0) {
                def.projection = KEEL_DB_PROJECT_KEYS_ONLY;
            } else {
                PyErr_Format(self->st->ValidationError, "projection must be ALL, KEYS_ONLY or a "
                             "list of attributes, not %R", a[5]);
                goto out;
            }
        } else {
            def.projection = KEEL_DB_PROJECT_INCLUDE;
            if ((def.include = str_list(a[5], "projection", &def.ninclude, keep)) == NULL)
                goto out;
        }
    }
    if (a[6] != NULL && a[6] != Py_None &&
        (def.filter_attributes = str_list(a[6], "filter_attributes", &def.nfilter, keep)) == NULL)
        goto out;
    /* hash_attribute: the filter attribute that is DynamoDB's SearchSchema HASH element. */
    keel_db_search_kind *kinds = NULL;
    if (a[9] != NULL && a[9] != Py_None) {
        const char *hash;
        if (str_arg(a[9], "hash_attribute", &hash) < 0)
            goto out;
        kinds = PyMem_Calloc(def.nfilter ? def.nfilter : 1, sizeof *kinds);
        if (kinds == NULL) {
            PyErr_NoMemory();
            goto out;
        }
        bool found = false;
        for (size_t i = 0; i < def.nfilter; i++)
            if (strcmp(def.filter_attributes[i], hash) == 0) {
                kinds[i] = KEEL_DB_HASH;
                found = true;
            }
        def.filter_kinds = kinds;
        if (!found) {
            PyErr_Format(self->st->ValidationError, "vector index '%s': hash_attribute %R is "
                         "not one of filter_attributes", def.name, a[9]);
            goto out;
        }
    }
    keel_status rc;
    IO_CALL(self, rc = keel_db_create_vector_index(self->db, table, &def));
    if (rc != KEEL_OK)
        kdp_raise_status(self->st, rc, "create_vector_index", NULL);
    else
        result = Py_NewRef(Py_None);
out:
    PyMem_Free((void *)def.include);
    PyMem_Free((void *)def.filter_attributes);
    PyMem_Free((void *)def.filter_kinds);
    Py_DECREF(keep);
    return result;
}

PyObject *
kdp_db_drop_vector_index(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs,
                         PyObject *kwnames)
{
    static const char *const names[] = {"table", "name"};
    PyObject *a[2];
    if (kdp_parse_args("drop_vector_index", args, nargs, kwnames, names, 2, 2, 2, a) < 0)
        return NULL;
    const char *table = kdp_table_name(self->st, a[0]), *name;
    if (table == NULL || db_check(self) < 0 || str_arg(a[1], "name", &name) < 0)
        return NULL;
    keel_status rc;
    IO_CALL(self, rc = keel_db_drop_vector_index(self->db, table, name));
    if (rc != KEEL_OK)
        return kdp_raise_status(self->st, rc, "drop_vector_index", NULL);
    Py_RETURN_NONE;
}

PyObject *
kdp_db_vector_indexes(DatabaseObject *self, PyObject *name)
{
    const char *table = kdp_table_name(self->st, name);
    if (table == NULL || db_check(self) < 0)
        return NULL;
    keel_db_vector_index_info info[KEEL_DB_MAX_VECTOR_INDEXES];
    size_t n = 0;
    keel_status rc = keel_db_list_vector_indexes(self->db, table, info, KEEL_DB_MAX_VECTOR_INDEXES,
                                                 &n);
    if (rc != KEEL_OK)
        return kdp_raise_status(self->st, rc, "vector_indexes", NULL);
    static const char *const projs[] = {"ALL", "KEYS_ONLY", "INCLUDE"};
    static const char *const graphs[] = {"none", "loaded", "built"};
    PyObject *list = PyList_New(0);
    for (size_t i = 0; list != NULL && i < n && i < KEEL_DB_MAX_VECTOR_INDEXES; i++) {
        const keel_db_vector_index_info *f = &info[i];
        PyObject *d = Py_BuildValue(
            "{s:s,s:s,s:I,s:s,s:s,s:K,s:I,s:I,s:s,s:K,s:K,s:K,s:K}", "name", f->name,
            "attribute", f->attribute, "dimensions", (unsigned)f->dimensions, "distance",
            dist_names[f->distance], "projection", projs[f->projection], "items",
            (unsigned long long)f->items, "m", (unsigned)f->m, "ef_construction",
            (unsigned)f->ef_construction, "graph", graphs[f->graph < 0 || f->graph > 2 ? 0 : f->graph],
            "graph_items", (unsigned long long)f->graph_items, "graph_pending",
            (unsigned long long)f->graph_pending, "graph_inserts",
            (unsigned long long)f->graph_inserts, "graph_bytes",
            (unsigned long long)f->graph_bytes);
        if (d == NULL || PyList_Append(list, d) < 0)
            Py_CLEAR(list);
        Py_XDECREF(d);
    }
    return list;
}

/* One hit -> (item, score), the stored vector zero copy under the index's attribute. A
 * whole item is decoded where it lies in the mapping (h->stored), so its vectors come out
 * zero copy at once; decoding the library's copy made a copy of each vector (a 3 KB bytes
 * object, a Vector and an array at 768 dimensions) only to replace it. */
static PyObject *
hit_value(DatabaseObject *self, const char *attr, const keel_db_hit *h)
{
    if (h->stored.data != NULL) {
        PyObject *item = kdp_decode(self->st, self, h->stored.data, h->stored.len);
        return item == NULL ? NULL : Py_BuildValue("(Nd)", item, (double)h->score);
    }
    PyObject *item = kdp_decode(self->st, NULL, h->item.data, h->item.len);
    if (item == NULL)
        return NULL;
    if (attr != NULL && PyDict_Check(item) && PyDict_GetItemString(item, attr) != NULL) {
        PyObject *v = kdp_vector_value(self->st, self, h->vector.data, h->vector.len / 4);
        if (v == NULL || PyDict_SetItemString(item, attr, v) < 0) {
            Py_XDECREF(v);
            Py_DECREF(item);
            return NULL;
        }
        Py_DECREF(v);
    }
    PyObject *r = Py_BuildValue("(Nd)", item, (double)h->score);
    return r;
}

/* search(table, index, vector, k, filter=None, values=None, names=None, projection=None,
 * ef=None) and search_batch(table, index, queries, k, ...). */
static PyObject *
search(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
       int batch)
{
    static const char *const names[] = {"table", "index", "vector", "k", "filter", "values",
                                        "names", "projection", "ef"};
    PyObject *a[9];
    const char *fname = batch ? "search_batch" : "search";
    if (kdp_parse_args(fname, args, nargs, kwnames, names, 4, 9, 9, a) < 0)
        return NULL;
    const char *table = kdp_table_name(self->st, a[0]), *index;
    if (table == NULL || db_check(self) < 0 || str_arg(a[1], "index", &index) < 0)
        return NULL;
    unsigned long long uk;
    if (keeldb_int_arg(a[3], "k", LLONG_MIN, LLONG_MAX, &uk) < 0)
        return NULL;
    long long k = (long long)uk;
    if (k < 1 || k > KEEL_DB_MAX_TOPK) {
        PyErr_Format(self->st->ValidationError, "k %lld: it must be 1 to %u", k, KEEL_DB_MAX_TOPK);
        return NULL;
    }
    keel_db_search_opts o = KEEL_DB_SEARCH_OPTS_INIT;
    kdp_buf vals, nams;
    kdp_buf_init(&vals);
    kdp_buf_init(&nams);
    Py_buffer view = {0};
    keel_db_hit *hits = NULL;
    size_t *counts = NULL, nhits = 0;
    PyObject *result = NULL;
    int pinned = 0;
    if (opt_str(a[4], "filter", &o.filter) < 0 || opt_str(a[7], "projection", &o.projection) < 0)
        goto out;
    if (a[5] != NULL && a[5] != Py_None) {
        if (kdp_encode_placeholders(self->st, &vals, a[5], "values", 0) < 0)
            goto out;
        o.values = vals.p, o.values_len = vals.len;
    }
    if (a[6] != NULL && a[6] != Py_None) {
        if (kdp_encode_placeholders(self->st, &nams, a[6], "names", 1) < 0)
            goto out;
        o.names = nams.p, o.names_len = nams.len;
    }
    if (a[8] != NULL && a[8] != Py_None) {
        unsigned long long ef;  /* None is exact search; an explicit ef is 1..4096 */
        if (keeldb_int_arg(a[8], "ef", 1, UINT32_MAX, &ef) < 0)
            goto out;
        o.ef = (uint32_t)ef;
    }
    if (PyObject_GetBuffer(a[2], &view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        goto out;
    const char *f = view.format ? view.format : "B";
    if ((f[0] == '<' || f[0] == '=' || f[0] == '@') && f[1])
        f++;
    if (strcmp(f, "f") != 0 || view.itemsize != 4 || view.ndim != (batch ? 2 : 1)) {
        PyErr_Format(PyExc_TypeError, "%s: the %s must be a C-contiguous float32 array of %d "
                     "dimension%s", fname, batch ? "queries" : "vector", batch ? 2 : 1,
                     batch ? "s" : "");
        goto out;
    }
    size_t nq = batch ? (size_t)view.shape[0] : 1;
    size_t dims = (size_t)view.shape[view.ndim - 1];
    if (nq == 0) {
        result = PyList_New(0);
        goto out;
    }
    nhits = nq * (size_t)k;
    hits = PyMem_Calloc(nhits, sizeof *hits);
    counts = PyMem_Calloc(nq, sizeof *counts);
    if (hits == NULL || counts == NULL) {
        PyErr_NoMemory();
        goto out;
    }
    keel_status rc;
    if (db_pin(self) < 0)   /* hits lie in the mapping until decoded (common.h) */
        goto out;
    pinned = 1;
    IO_CALL(self, rc = keel_db_search_batch(self->db, table, index, view.buf, nq, dims,
                                            (uint32_t)k, &o, hits, counts));
    if (rc != KEEL_OK) {
        kdp_raise_status(self->st, rc, fname, NULL);
        goto out;
    }
    keel_db_vector_index_info info[KEEL_DB_MAX_VECTOR_INDEXES];
    size_t ni = 0;
    const char *attr = NULL;
    if (o.projection == NULL &&
        keel_db_list_vector_indexes(self->db, table, info, KEEL_DB_MAX_VECTOR_INDEXES, &ni) ==
            KEEL_OK)
        for (size_t i = 0; i < ni && i < KEEL_DB_MAX_VECTOR_INDEXES; i++)
            if (strcmp(info[i].name, index) == 0)
                attr = info[i].attribute;
    PyObject *all = batch ? PyList_New((Py_ssize_t)nq) : NULL;
    if (batch && all == NULL)
        goto out;
    for (size_t j = 0; j < nq; j++) {
        PyObject *list = PyList_New((Py_ssize_t)counts[j]);
        for (size_t i = 0; list != NULL && i < counts[j]; i++) {
            PyObject *h = hit_value(self, attr, &hits[j * (size_t)k + i]);
            if (h == NULL)
                Py_CLEAR(list);
            else
                PyList_SET_ITEM(list, (Py_ssize_t)i, h);
        }
        if (list == NULL) {
            Py_XDECREF(all);
            goto out;
        }
        if (!batch) {
            result = list;
            break;
        }
        PyList_SET_ITEM(all, (Py_ssize_t)j, list);
    }
    if (batch)
        result = all;
out:
    if (pinned)
        db_unpin(self);
    if (hits != NULL)
        keel_db_hits_free(hits, nhits);
    PyMem_Free(hits);
    PyMem_Free(counts);
    if (view.obj != NULL)
        PyBuffer_Release(&view);
    kdp_buf_free(&vals);
    kdp_buf_free(&nams);
    return result;
}

PyObject *
kdp_db_search(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    return search(self, args, nargs, kwnames, 0);
}

PyObject *
kdp_db_search_batch(DatabaseObject *self, PyObject *const *args, Py_ssize_t nargs,
                    PyObject *kwnames)
{
    return search(self, args, nargs, kwnames, 1);
}
