/*
 * errors.c: the exception classes of keeldb._keeldb and the mapping from keel_status to
 * Python exceptions, both through ../_common/kpy.c (which keeldb._db shares): keeldb's own
 * errors derive from keeldb.Error; I/O errors are StoreIOError, a subclass of both Error and
 * OSError with .errno (and .filename when known) set, and for ENOENT, EEXIST and EACCES its
 * subclasses that are also FileNotFoundError, FileExistsError and PermissionError. This
 * file adds RecoveryWarning and the closed-store message. The classes live in module state;
 * kdb_raise_status reads keel_errmsg(), so it must run on the thread that made the failing
 * call, before any other keel_ call.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common.h"

int
kdb_add_exceptions(PyObject *m, keeldb_state *st)
{
    if (kpy_errors_create(m, &st->errors) < 0)
        return -1;
    st->RecoveryWarning = kpy_new_exception(m, "keeldb.RecoveryWarning",
                                            "Opening a store cut a torn or damaged tail; the "
                                            "cut bytes were saved in the file the message "
                                            "names.",
                                            PyExc_UserWarning, NULL);
    return st->RecoveryWarning != NULL ? 0 : -1;
}

PyObject *
kdb_raise_closed(void)
{
    return kpy_raise_closed("store");
}

PyObject *
kdb_raise_status(keeldb_state *st, keel_status rc, const char *what, PyObject *filename)
{
    if (rc == KEEL_ECLOSED)
        return kdb_raise_closed();
    return kpy_raise_status(&st->errors, rc, what, filename, NULL);
}
