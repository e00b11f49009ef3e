/*
 * db_table_cmds.c: the table and file commands of `keel db` (db_cli.h): tables,
 * create-table, delete-table, describe, count, stats, and the whole-file ones, stat, verify
 * and compact.
 *
 * Reads open the file read-only (no lock: they run while another process writes);
 * create-table alone may create FILE, the other writes need it to exist. Every command
 * that opened the database closes it through close_db, so a failing close is reported.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "cli.h"
#include "db_cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

/* ---- tables ------------------------------------------------------------------------------- */

int cmd_tables(db_args *a) {
    keel_db *db;
    int rc = open_db(a, KEEL_OPEN_READONLY, &db);
    if (rc) return rc;
    char *names;
    size_t n;
    keel_status st = keel_db_list_tables(db, &names, &n);
    if (st != KEEL_OK) return close_db(db, a->path, cli_fail(st, "tables '%s'", a->path));
    const char *p = names;
    if (a->json) fputs("{\"TableNames\": [", stdout);
    for (size_t i = 0; i < n; i++) {
        if (a->json) {
            if (i) fputs(", ", stdout);
            print_json_string(stdout, p);
        } else {
            printf("%s\n", p);
        }
        p += strlen(p) + 1;
    }
    if (a->json) fputs("]}\n", stdout);
    free(names);
    return close_db(db, a->path, EXIT_OK);
}

/* "name:T" -> name (a copy, in *name_out) and type. */
int parse_key_spec(const db_args *a, const char *spec, const char *what, char **name_out,
                   keel_db_keytype *type_out) {
    const char *colon = strrchr(spec, ':');
    if (!colon || colon == spec || colon[1] == '\0' || colon[2] != '\0')
        return db_usage(a->cmd, "%s: %s '%s' is not NAME:TYPE (TYPE one of S, N, B)",
                        a->cmd->name, what, spec);
    char t = colon[1];
    if (t == 's' || t == 'n' || t == 'b') t = (char)(t - 'a' + 'A');
    if (t != 'S' && t != 'N' && t != 'B')
        return db_usage(a->cmd, "%s: %s '%s': the type must be S, N or B", a->cmd->name, what,
                        spec);
    size_t n = (size_t)(colon - spec);
    char *name = malloc(n + 1);
    if (!name) {
        say("%s: out of memory", a->cmd->name);
        return EXIT_ERROR;
    }
    memcpy(name, spec, n);
    name[n] = '\0';
    *name_out = name;
    *type_out = (keel_db_keytype)t;
    return 0;
}

int cmd_create_table(db_args *a) {
    keel_db_schema schema = {NULL, KEEL_DB_KEY_NONE, NULL, KEEL_DB_KEY_NONE};
    char *pk = NULL, *sk = NULL;
    int rc = parse_key_spec(a, a->pos[1], "PK:TYPE", &pk, &schema.pk_type);
    if (!rc && a->npos == 3) rc = parse_key_spec(a, a->pos[2], "SK:TYPE", &sk, &schema.sk_type);
    if (rc) {
        free(pk);
        return rc;
    }
    schema.pk_name = pk;
    schema.sk_name = sk;
    keel_db *db;
    if ((rc = open_db(a, KEEL_OPEN_CREATE, &db)) == 0) {
        keel_status st = keel_db_create_table(db, a->pos[0], &schema);
        if (st != KEEL_OK) rc = cli_fail(st, "create-table '%s'", a->pos[0]);
        rc = close_db(db, a->path, rc);
    }
    free(pk);
    free(sk);
    return rc;
}

int cmd_delete_table(db_args *a) {
    keel_db *db;
    int rc = open_db(a, KEEL_OPEN_EXISTING, &db);
    if (rc) return rc;
    keel_status st = keel_db_delete_table(db, a->pos[0]);
    if (st != KEEL_OK) rc = cli_fail(st, "delete-table '%s'", a->pos[0]);
    return close_db(db, a->path, rc);
}

static const char *type_name(keel_db_keytype t) {
    return t == KEEL_DB_KEY_S ? "S" : t == KEEL_DB_KEY_N ? "N" : t == KEEL_DB_KEY_B ? "B" : "?";
}

int cmd_describe(db_args *a) {
    keel_db *db;
    int rc = open_db(a, KEEL_OPEN_READONLY, &db);
    if (rc) return rc;
    keel_db_table_info t;
    keel_status st = keel_db_describe_table(db, a->pos[0], &t);
    if (st != KEEL_OK) return close_db(db, a->path, cli_fail(st, "describe '%s'", a->pos[0]));
    bool has_sk = t.sk_name[0] != '\0';
    if (a->json) {
        fputs("{\"Table\": {\"TableName\": ", stdout);
        print_json_string(stdout, t.name);
        fputs(", \"KeySchema\": [{\"AttributeName\": ", stdout);
        print_json_string(stdout, t.pk_name);
        fputs(", \"KeyType\": \"HASH\"}", stdout);
        if (has_sk) {
            fputs(", {\"AttributeName\": ", stdout);
            print_json_string(stdout, t.sk_name);
            fputs(", \"KeyType\": \"RANGE\"}", stdout);
        }
        fputs("], \"AttributeDefinitions\": [{\"AttributeName\": ", stdout);
        print_json_string(stdout, t.pk_name);
        printf(", \"AttributeType\": \"%s\"}", type_name(t.pk_type));
        if (has_sk) {
            fputs(", {\"AttributeName\": ", stdout);
            print_json_string(stdout, t.sk_name);
            printf(", \"AttributeType\": \"%s\"}", type_name(t.sk_type));
        }
        printf("], \"TableStatus\": \"ACTIVE\", \"ItemCount\": %" PRIu64
               ", \"TableSizeBytes\": %" PRIu64 ", \"CreationDateTime\": %" PRIu64 "}}\n",
               t.items, t.bytes, t.created);
    } else {
        char when[64] = "unknown", h[32];
        time_t secs = (time_t)t.created;
        struct tm tm;
        if (t.created && gmtime_r(&secs, &tm))
            strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
        printf("table:          %s\n"
               "partition key:  %s (%s)\n",
               t.name, t.pk_name, type_name(t.pk_type));
        if (has_sk)
            printf("sort key:       %s (%s)\n", t.sk_name, type_name(t.sk_type));
        else
            printf("sort key:       none\n");
        printf("items:          %" PRIu64 "\n"
               "bytes:          %" PRIu64 " (%s)\n"
               "created:        %s\n",
               t.items, t.bytes, human_size(t.bytes, h, sizeof h), when);
    }
    return close_db(db, a->path, EXIT_OK);
}

int cmd_count(db_args *a) {
    keel_db *db;
    int rc = open_db(a, KEEL_OPEN_READONLY, &db);
    if (rc) return rc;
    uint64_t n;
    keel_status st = keel_db_count(db, a->pos[0], &n);
    if (st != KEEL_OK) return close_db(db, a->path, cli_fail(st, "count '%s'", a->pos[0]));
    if (a->json)
        printf("{\"Count\": %" PRIu64 "}\n", n);
    else
        printf("%" PRIu64 "\n", n);
    return close_db(db, a->path, EXIT_OK);
}

/* ---- the file ----------------------------------------------------------------------------- */

int cmd_stat(db_args *a) {
    keel_db *db;
    int rc = open_db(a, KEEL_OPEN_READONLY, &db);
    if (rc) return rc;
    keel_stats t;
    keel_status st = keel_db_stat(db, &t);
    char *names = NULL;
    size_t ntables = 0;
    if (st == KEEL_OK) st = keel_db_list_tables(db, &names, &ntables);
    if (st != KEEL_OK) return close_db(db, a->path, cli_fail(st, "stat '%s'", a->path));
    if (a->json) {
        fputs("{\"path\": ", stdout);
        print_json_string(stdout, a->path);
        printf(", \"format_version\": \"%u.%u\", \"file_size\": %" PRIu64 ", \"entries\": %"
               PRIu64 ", \"live_entries\": %" PRIu64 ", \"live_bytes\": %" PRIu64
               ", \"reclaimable_bytes\": %" PRIu64 ", \"tables\": [",
               (unsigned)t.format_major, (unsigned)t.format_minor, t.file_size, t.entries,
               t.live_keys, t.live_bytes, t.reclaimable_bytes);
    } else {
        char h1[32], h2[32], h3[32];
        printf("file:              %s\n"
               "format version:    %u.%u\n"
               "file size:         %" PRIu64 " bytes (%s)\n"
               "entries:           %" PRIu64 "\n"
               "live entries:      %" PRIu64 " (items and table records)\n"
               "live bytes:        %" PRIu64 " bytes (%s)\n"
               "reclaimable bytes: %" PRIu64 " bytes (%s)\n"
               "tables:            %zu\n",
               a->path, (unsigned)t.format_major, (unsigned)t.format_minor, t.file_size,
               human_size(t.file_size, h1, sizeof h1), t.entries, t.live_keys, t.live_bytes,
               human_size(t.live_bytes, h2, sizeof h2), t.reclaimable_bytes,
               human_size(t.reclaimable_bytes, h3, sizeof h3), ntables);
    }
    const char *p = names;
    for (size_t i = 0; i < ntables; i++, p += strlen(p) + 1) {
        keel_db_table_info info;
        st = keel_db_describe_table(db, p, &info);
        if (st != KEEL_OK) {
            fflush(stdout);
            rc = cli_fail(st, "stat '%s': table '%s'", a->path, p);
            break;
        }
        if (a->json) {
            fputs(i ? ", {\"name\": " : "{\"name\": ", stdout);
            print_json_string(stdout, p);
            printf(", \"items\": %" PRIu64 ", \"bytes\": %" PRIu64 "}", info.items, info.bytes);
        } else {
            char h[32];
            printf("  %-30s %" PRIu64 " items, %" PRIu64 " bytes (%s)\n", p, info.items,
                   info.bytes, human_size(info.bytes, h, sizeof h));
        }
    }
    if (a->json && rc == EXIT_OK) fputs("]}\n", stdout);
    free(names);
    return close_db(db, a->path, rc);
}

static const char *projection_name(keel_db_projection p) {
    return p == KEEL_DB_PROJECT_KEYS_ONLY ? "KEYS_ONLY"
           : p == KEEL_DB_PROJECT_INCLUDE ? "INCLUDE" : "ALL";
}

int cmd_stats(db_args *a) {
    keel_db_table_stats *t = malloc(sizeof *t);
    if (!t) return cli_fail(KEEL_ENOMEM, "stats");
    keel_db *db;
    int rc = open_db(a, KEEL_OPEN_READONLY, &db);
    if (rc) {
        free(t);
        return rc;
    }
    keel_status st = keel_db_get_stats(db, a->pos[0], t);
    if (st != KEEL_OK) {
        free(t);
        return close_db(db, a->path, cli_fail(st, "stats '%s'", a->pos[0]));
    }
    char h[32];
    if (a->json) {
        fputs("{\"TableName\": ", stdout);
        print_json_string(stdout, a->pos[0]);
        printf(", \"ItemCount\": %" PRIu64 ", \"TableSizeBytes\": %" PRIu64
               ", \"TimeToLiveAttribute\": ", t->items, t->bytes);
        if (t->ttl_attribute[0])
            print_json_string(stdout, t->ttl_attribute);
        else
            fputs("null", stdout);
        fputs(", \"Indexes\": [", stdout);
    } else {
        printf("table:          %s\n"
               "items:          %" PRIu64 "\n"
               "bytes:          %" PRIu64 " (%s)\n"
               "ttl attribute:  %s\n"
               "indexes:        %zu\n",
               a->pos[0], t->items, t->bytes, human_size(t->bytes, h, sizeof h),
               t->ttl_attribute[0] ? t->ttl_attribute : "none", t->nindexes);
    }
    for (size_t i = 0; i < t->nindexes; i++) {
        const keel_db_index_info *x = &t->indexes[i];
        if (a->json) {
            fputs(i ? ", {\"IndexName\": " : "{\"IndexName\": ", stdout);
            print_json_string(stdout, x->name);
            printf(", \"Kind\": \"%s\", \"KeySchema\": [{\"AttributeName\": ",
                   x->local ? "LOCAL" : "GLOBAL");
            print_json_string(stdout, x->pk_name);
            printf(", \"AttributeType\": \"%s\", \"KeyType\": \"HASH\"}", type_name(x->pk_type));
            if (x->sk_name[0]) {
                fputs(", {\"AttributeName\": ", stdout);
                print_json_string(stdout, x->sk_name);
                printf(", \"AttributeType\": \"%s\", \"KeyType\": \"RANGE\"}",
                       type_name(x->sk_type));
            }
            printf("], \"Projection\": {\"ProjectionType\": \"%s\"",
                   projection_name(x->projection));
            if (x->projection == KEEL_DB_PROJECT_INCLUDE) {
                fputs(", \"NonKeyAttributes\": [", stdout);
                const char *p = x->include;
                for (size_t j = 0; j < x->ninclude; j++, p += strlen(p) + 1) {
                    if (j) fputs(", ", stdout);
                    print_json_string(stdout, p);
                }
                fputc(']', stdout);
            }
            printf("}, \"IndexStatus\": \"%s\", \"ItemCount\": %" PRIu64
                   ", \"IndexSizeBytes\": %" PRIu64 "}",
                   x->creating ? "CREATING" : "ACTIVE", x->items, x->bytes);
        } else {
            printf("  %s (%s%s): %s", x->name, x->local ? "local" : "global",
                   x->creating ? ", being backfilled" : "", x->pk_name);
            if (x->sk_name[0]) printf(", %s", x->sk_name);
            printf("; projection %s", projection_name(x->projection));
            if (x->projection == KEEL_DB_PROJECT_INCLUDE) {
                const char *p = x->include;
                for (size_t j = 0; j < x->ninclude; j++, p += strlen(p) + 1)
                    printf("%s%s", j ? "," : " ", p);
            }
            printf("; %" PRIu64 " entries, %" PRIu64 " bytes (%s)\n", x->items, x->bytes,
                   human_size(x->bytes, h, sizeof h));
        }
    }
    if (a->json) fputs("]}\n", stdout);
    free(t);
    return close_db(db, a->path, EXIT_OK);
}

int cmd_verify(db_args *a) {
    keel_db *db;
    int rc = open_db(a, KEEL_OPEN_READONLY, &db);
    if (rc) return rc;
    keel_verify_report r;
    memset(&r, 0, sizeof r);
    keel_status st = keel_db_verify(db, &r);
    if (st == KEEL_OK) {
        printf("%s: %" PRIu64 " entries checked, all intact; every item's encoding is valid\n",
               a->path, r.entries_checked);
    } else if (st == KEEL_ECORRUPT) {
        printf("%s: %" PRIu64 " entries checked, %" PRIu64 " damaged", a->path,
               r.entries_checked, r.bad_entries);
        if (r.first_bad_offset)
            printf(" (the newest damaged entry ends at offset %" PRIu64 ")", r.first_bad_offset);
        putchar('\n');
        fflush(stdout);
        rc = cli_fail(st, "verify '%s'", a->path);
    } else {
        rc = cli_fail(st, "verify '%s'", a->path);
    }
    return close_db(db, a->path, rc);
}

int cmd_compact(db_args *a) {
    keel_db *db;
    int rc = open_db(a, KEEL_OPEN_EXISTING, &db);
    if (rc) return rc;
    keel_stats before, after;
    keel_status st = keel_db_stat(db, &before);
    if (st != KEEL_OK) return close_db(db, a->path, cli_fail(st, "compact '%s'", a->path));
    progress p = {"compacting", -1, false};
    bool bar = isatty(STDERR_FILENO);
    st = keel_db_compact(db, bar ? progress_draw : NULL, bar ? &p : NULL);
    if (p.drawn) fputc('\n', stderr);
    if (st != KEEL_OK) return close_db(db, a->path, cli_fail(st, "compact '%s'", a->path));
    st = keel_db_stat(db, &after);
    if (st != KEEL_OK) return close_db(db, a->path, cli_fail(st, "compact '%s'", a->path));
    char h1[32], h2[32];
    uint64_t b = before.file_size, f = after.file_size;
    uint64_t freed = b > f ? b - f : 0;
    printf("%s: %" PRIu64 " -> %" PRIu64 " bytes (%s -> %s), %" PRIu64 " bytes freed (%.1f%%)\n",
           a->path, b, f, human_size(b, h1, sizeof h1), human_size(f, h2, sizeof h2), freed,
           b ? 100.0 * (double)freed / (double)b : 0.0);
    return close_db(db, a->path, EXIT_OK);
}
