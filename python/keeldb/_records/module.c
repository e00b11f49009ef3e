/*
 * module.c: the module keeldb._records: multi-phase init (records_exec creates the
 * heap types and the CorruptionStrategy enum into module state, then the constants),
 * traverse/clear, and krec_state_of_type, which finds that state from a type (Python
 * subclasses included; the shared pieces are ../_common/kpy.c's). No globals.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common.h"

static struct PyModuleDef records_module;

/* The state of the module that defined `tp` or one of its bases (Python subclasses too). */
rec_state *krec_state_of_type(PyTypeObject *tp) {
    PyObject *m = kpy_module_by_def(tp, &records_module, "keeldb._records");
    return m ? get_state(m) : NULL;
}

/* ---- module ------------------------------------------------------------------------------ */

static int records_exec(PyObject *m) {
    rec_state *s = get_state(m);
    if (kpy_add_type(m, &krec_bytes_spec, &s->Bytes_type) < 0 ||
        kpy_add_type(m, &krec_writer_spec, &s->RecordWriter_type) < 0 ||
        kpy_add_type(m, &krec_reader_spec, &s->RecordReader_type) < 0 ||
        kpy_add_type(m, &krec_mtwriter_spec, &s->MTWriter_type) < 0 ||
        kpy_add_type(m, &krec_mtreader_spec, &s->MTReader_type) < 0)
        return -1;
    PyObject *enum_mod = PyImport_ImportModule("enum");
    if (!enum_mod) return -1;
    s->CorruptionStrategy = PyObject_CallMethod(enum_mod, "IntEnum", "s[(si)(si)]",
                                                "CorruptionStrategy", "ERROR", 0, "RECOVER", 1);
    Py_DECREF(enum_mod);
    if (!s->CorruptionStrategy) return -1;
    PyObject *modname = PyUnicode_FromString("keeldb.records");
    if (!modname || PyObject_SetAttrString(s->CorruptionStrategy, "__module__", modname) < 0)
        PyErr_Clear();
    Py_XDECREF(modname);
    if (PyModule_AddObjectRef(m, "CorruptionStrategy", s->CorruptionStrategy) < 0) return -1;
    if (PyModule_AddIntConstant(m, "BLOCK_SIZE", KEEL_REC_BLOCK_SIZE) < 0 ||
        PyModule_AddIntConstant(m, "DEFAULT_CHUNK_SIZE", KEEL_REC_DEFAULT_CHUNK_SIZE) < 0)
        return -1;
    return 0;
}

static int records_traverse(PyObject *m, visitproc visit, void *arg) {
    rec_state *s = get_state(m);
    Py_VISIT(s->Bytes_type);
    Py_VISIT(s->RecordWriter_type);
    Py_VISIT(s->RecordReader_type);
    Py_VISIT(s->MTWriter_type);
    Py_VISIT(s->MTReader_type);
    Py_VISIT(s->CorruptionStrategy);
    return 0;
}

static int records_clear(PyObject *m) {
    rec_state *s = get_state(m);
    Py_CLEAR(s->Bytes_type);
    Py_CLEAR(s->RecordWriter_type);
    Py_CLEAR(s->RecordReader_type);
    Py_CLEAR(s->MTWriter_type);
    Py_CLEAR(s->MTReader_type);
    Py_CLEAR(s->CorruptionStrategy);
    return 0;
}

static void records_free(void *m) { records_clear((PyObject *)m); }

static PyModuleDef_Slot records_slots[] = {
    {Py_mod_exec, records_exec},
#ifdef Py_mod_multiple_interpreters
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
    {0, NULL},
};

static struct PyModuleDef records_module = {
    PyModuleDef_HEAD_INIT,
    "keeldb._records",
    "Record files in the Riegeli/records container (Pisky's API over keel's C core).",
    sizeof(rec_state),
    NULL,
    records_slots,
    records_traverse,
    records_clear,
    records_free,
};

PyMODINIT_FUNC PyInit__records(void);

PyMODINIT_FUNC PyInit__records(void) { return PyModuleDef_Init(&records_module); }
