/*
 * db_vschema.c: what the DynamoDB handler needs to know of a vector index beyond
 * keel_db_list_vector_indexes: its search attributes (DynamoDB's SearchSchema, recorded as
 * the definition's filter_attributes, and which of them is the HASH element) and its
 * INCLUDE attributes, for DescribeTable and for checking a SearchConditionExpression. Read under the store's reader lock, as the list is;
 * the names are copied out, so nothing points into the index after the call.
 */
#include "db/db_internal.h"

#include <stdlib.h>
#include <string.h>

static keel_status copy_names(const char *src, size_t len, char **out) {
    *out = malloc(len + 1);
    if (!*out) return keel__fail(KEEL_ENOMEM, "vector index attribute names");
    if (len) memcpy(*out, src, len);
    (*out)[len] = 0;
    return KEEL_OK;
}

keel_status kdb_vec_schema(keel_db *db, const char *table, const char *index, char **filters,
                           size_t *nfilters, char **include, size_t *ninclude, char *hash) {
    *filters = *include = NULL;
    if (hash) hash[0] = 0;
    *nfilters = *ninclude = 0;
    kdb_table t;
    keel_status st = kdb_table_get(db, table, &t);
    if (st != KEEL_OK) return st;
    if ((st = keel__reader_enter(db->s)) != KEEL_OK) return st;
    const kdb_vindex *x = kdb_vec_find(db, t.id, index);
    if (!x) {
        st = keel__fail(KEEL_EVALIDATION, "table '%s' has no vector index named '%.255s'",
                        t.name, index);
    } else {
        st = copy_names(x->filters, x->filters ? x->filters_len : 0, filters);
        if (st == KEEL_OK) st = copy_names(x->include, x->include ? x->include_len : 0, include);
        *nfilters = x->nfilters;
        *ninclude = x->ninclude;
        if (hash) memcpy(hash, x->hash, sizeof x->hash);
    }
    keel__reader_leave(db->s);
    if (st != KEEL_OK) {
        free(*filters);
        free(*include);
        *filters = *include = NULL;
        *nfilters = *ninclude = 0;
    }
    return st;
}
