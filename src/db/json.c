/*
 * json.c: DynamoDB JSON (AttributeValues, as the AWS CLI, boto3's client and the HTTP API
 * write them) to and from keel's CBOR items, plus the public text form of the same
 * (json_text.c: keel_db_json_to_cbor, keel_db_json_from_cbor). json.h says what each
 * function does.
 *
 * JSON -> CBOR walks a jansson tree and writes through the kdb_enc_* encoders; it checks
 * what only the JSON form can get wrong (an AttributeValue with no or several datatypes, a
 * member of the wrong JSON type, a bad number text, bad base64, NULL other than true,
 * empty sets, duplicate set members) with DynamoDB's own messages where DynamoDB has one,
 * and leaves the rules of the item as a whole (sizes, key types, UTF-8 of names, nesting)
 * to kdb_item_check, which every write runs anyway. Recursion is bounded: a container
 * nested deeper than DynamoDB's 32 levels is refused before the stack grows further.
 *
 * CBOR -> JSON decodes with kdb_val_decode/kdb_iter (item.c), which check every length
 * against the buffer; the input may come from disk or from a caller and is untrusted, so
 * any decoding failure, invalid UTF-8, a duplicate name or too deep a nesting is
 * KEEL_EVALIDATION, never a crash. Numbers come out in DynamoDB's normalized text
 * (kdb_num_format: "1e3" was stored, "1000" comes out); padding pairs are skipped by the
 * iterator; a float32 vector comes out as {"L": [{"N": ...}, ...]}, the SearchVector form,
 * each element the shortest decimal that reads back as the same float32. The public text
 * form on top of these (JSON text in, formatted text out) is json_text.c's.
 *
 * Invariants: on failure an output kdb_buf has its length restored and no json_t leaks;
 * jansson's strings are always taken with their lengths (an S may hold U+0000).
 */
#include "db/json.h"
#include "base/base.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG_EMPTY "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
#define MSG_MANY \
    "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the " \
    "supported datatypes"
#define MSG_INVALID "One or more parameter values were invalid: "
#define MSG_NESTING "Nesting Levels have exceeded supported limits"

/* Containers allowed between the item and the deepest value: item.c's rule (a top-level
 * attribute's value is at level 1, an L or M at level 32 is the deepest allowed), applied
 * to sets too, because a set is one more CBOR level (tag 258 around an array) and the
 * decoder (kdb_cbor_skip, KEEL_DB_MAX_DEPTH + 1 levels with the item's map) could not read
 * a set below level 32 back. */
#define JSON_MAX_DEPTH KEEL_DB_MAX_DEPTH

/* ---- base64 (RFC 4648, standard alphabet, strict) ------------------------------------- */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t kdb_base64_encode(const uint8_t *src, size_t n, char *dst) {
    size_t k = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];
        dst[k++] = b64_alphabet[v >> 18];
        dst[k++] = b64_alphabet[(v >> 12) & 63];
        dst[k++] = b64_alphabet[(v >> 6) & 63];
        dst[k++] = b64_alphabet[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)src[i] << 16;
        dst[k++] = b64_alphabet[v >> 18];
        dst[k++] = b64_alphabet[(v >> 12) & 63];
        dst[k++] = '=';
        dst[k++] = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8;
        dst[k++] = b64_alphabet[v >> 18];
        dst[k++] = b64_alphabet[(v >> 12) & 63];
        dst[k++] = b64_alphabet[(v >> 6) & 63];
        dst[k++] = '=';
    }
    dst[k] = '\0';
    return k;
}

/* The 6-bit value of an alphabet character, or -1. */
static int b64_value(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

bool kdb_base64_decode(const char *src, size_t n, uint8_t *dst, size_t *len_out) {
    const unsigned char *s = (const unsigned char *)src;
    if (n % 4 != 0) return false;
    size_t k = 0;
    for (size_t i = 0; i < n; i += 4) {
        bool last = i + 4 == n;
        int v[4];
        int pad = 0;
        for (int j = 0; j < 4; j++) {
            if (s[i + j] == '=' && last && j >= 2) {
                /* '=' only in the last group's last one or two places, and "x=y=" is not. */
                if (j == 2 && s[i + 3] != '=') return false;
                pad++;
                v[j] = 0;
                continue;
            }
            if (pad) return false;
            if ((v[j] = b64_value(s[i + j])) < 0) return false;
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
                     (uint32_t)v[3];
        /* The bits a padded group does not carry must be zero (RFC 4648 section 3.5):
         * otherwise two texts would decode to the same bytes. */
        if ((pad == 1 && (w & 0xFF) != 0) || (pad == 2 && (w & 0xFFFF) != 0)) return false;
        dst[k++] = (uint8_t)(w >> 16);
        if (pad < 2) dst[k++] = (uint8_t)(w >> 8);
        if (pad < 1) dst[k++] = (uint8_t)w;
    }
    *len_out = k;
    return true;
}

/* ---- where we are, for messages ------------------------------------------------------- */

/* The attribute path being converted ("a.b[2]"), cut with "..." when very long. */
typedef struct jpath {
    char s[200];
    size_t len;
} jpath;

static size_t path_push_name(jpath *p, const char *name, size_t n) {
    size_t old = p->len;
    size_t room = sizeof p->s - 1 - p->len;    /* p->len <= sizeof p->s - 1 always */
    char *w = p->s + p->len;
    if (p->len) {
        if (room == 0) return old;
        *w++ = '.';
        room--;
    }
    if (n <= room) {
        memcpy(w, name, n);
        w += n;
    } else {
        size_t take = room > 3 ? room - 3 : 0;
        memcpy(w, name, take);
        memcpy(w + take, "...", room - take);
        w += room;
    }
    p->len = (size_t)(w - p->s);
    p->s[p->len] = '\0';
    return old;
}

static size_t path_push_index(jpath *p, size_t i) {
    size_t old = p->len;
    size_t room = sizeof p->s - p->len;
    int k = snprintf(p->s + p->len, room, "[%zu]", i);
    if (k > 0 && (size_t)k < room) p->len += (size_t)k;
    p->s[p->len] = '\0';
    return old;
}

static void path_pop(jpath *p, size_t old) {
    p->len = old;
    p->s[old] = '\0';
}

/* A problem that DynamoDB reports with no path (it has no equivalent): ours names it. */
static keel_status fail_at(const jpath *p, const char *what) {
    if (p->len) return keel__fail(KEEL_EVALIDATION, "%s (attribute %s)", what, p->s);
    return keel__fail(KEEL_EVALIDATION, "%s", what);
}

/* ---- JSON -> CBOR ----------------------------------------------------------------------- */

static keel_status value_to_cbor(json_t *av, kdb_buf *out, jpath *path, unsigned depth);

/* One set member, for the duplicate check: its text (S, BS: base64 is canonical, so equal
 * bytes are equal texts) or its number (NS). */
typedef struct member {
    const char *s;
    size_t n;
    kdb_num num;
} member;

static int member_cmp_text(const void *a, const void *b) {
    const member *x = a, *y = b;
    size_t n = x->n < y->n ? x->n : y->n;
    int c = n ? memcmp(x->s, y->s, n) : 0;
    if (c) return c;
    return x->n < y->n ? -1 : x->n > y->n;
}

static int member_cmp_num(const void *a, const void *b) {
    const member *x = a, *y = b;
    return kdb_num_cmp(&x->num, &y->num);
}

/* "Input collection [a, a] contains duplicates." as DynamoDB lists it, cut when long. */
static keel_status fail_duplicates(json_t *arr, char type) {
    if (type == 'N') return keel__fail(KEEL_EVALIDATION, "Input collection contains duplicates");
    char list[400];
    size_t k = 0;
    size_t n = json_array_size(arr);
    list[0] = '\0';
    for (size_t i = 0; i < n && k < sizeof list - 8; i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        int w = snprintf(list + k, sizeof list - k, "%s%s", i ? ", " : "", s ? s : "");
        if (w < 0) break;
        k += (size_t)w;
    }
    if (k >= sizeof list - 8) {
        k = sizeof list - 8;
        memcpy(list + k, "...", 4);
    }
    if (type == 'B')
        return keel__fail(KEEL_EVALIDATION,
                          MSG_INVALID "Input collection [%s]of type BS contains duplicates.", list);
    return keel__fail(KEEL_EVALIDATION, MSG_INVALID "Input collection [%s] contains duplicates.",
                      list);
}

/* SS, NS or BS: a non-empty array of strings without duplicates -> tag 258 [members]. */
static keel_status set_to_cbor(json_t *arr, char type, kdb_buf *out, jpath *path,
                               unsigned depth) {
    if (depth >= JSON_MAX_DEPTH) return keel__fail(KEEL_EVALIDATION, MSG_NESTING);
    if (!json_is_array(arr)) {
        char msg[64];
        snprintf(msg, sizeof msg, "%cS must be an array of strings", type);
        return fail_at(path, msg);
    }
    size_t n = json_array_size(arr);
    if (n == 0) {
        if (type == 'S') return keel__fail(KEEL_EVALIDATION, MSG_INVALID "An string set  may not be empty");
        if (type == 'N') return keel__fail(KEEL_EVALIDATION, MSG_INVALID "An number set  may not be empty");
        return keel__fail(KEEL_EVALIDATION, MSG_INVALID "Binary sets should not be empty");
    }
    member *m = malloc(n * sizeof *m);
    if (!m) return keel__fail(KEEL_ENOMEM, "converting a %cS of %zu members", type, n);
    keel_status st = KEEL_OK;
    kdb_enc_tag(out, KDB_TAG_SET);
    kdb_enc_array(out, n);
    for (size_t i = 0; i < n && st == KEEL_OK; i++) {
        json_t *e = json_array_get(arr, i);
        if (!json_is_string(e)) {
            size_t old = path_push_index(path, i);
            char msg[64];
            snprintf(msg, sizeof msg, "%cS members must be strings", type);
            st = fail_at(path, msg);
            path_pop(path, old);
            break;
        }
        m[i].s = json_string_value(e);
        m[i].n = json_string_length(e);
        if (type == 'S') {
            kdb_enc_text(out, m[i].s, m[i].n);
        } else if (type == 'N') {
            st = kdb_num_parse(m[i].s, m[i].n, &m[i].num);
            if (st == KEEL_OK) kdb_enc_num(out, &m[i].num);
        } else {
            uint8_t *b = malloc(m[i].n / 4 * 3 + 1);
            size_t blen;
            if (!b) {
                st = keel__fail(KEEL_ENOMEM, "decoding base64");
            } else if (!kdb_base64_decode(m[i].s, m[i].n, b, &blen)) {
                size_t old = path_push_index(path, i);
                st = fail_at(path, "Invalid base64 in a BS member (RFC 4648, standard alphabet, "
                                   "'=' padding)");
                path_pop(path, old);
            } else {
                kdb_enc_bytes(out, b, blen);
            }
            free(b);
        }
    }
    if (st == KEEL_OK) {
        qsort(m, n, sizeof *m, type == 'N' ? member_cmp_num : member_cmp_text);
        for (size_t i = 1; i < n; i++) {
            int c = type == 'N' ? member_cmp_num(&m[i - 1], &m[i])
                                : member_cmp_text(&m[i - 1], &m[i]);
            if (c == 0) {
                st = fail_duplicates(arr, type);
                break;
            }
        }
    }
    free(m);
    return st;
}

/* A JSON object of name -> AttributeValue as a CBOR map (an item, an M, a key, values). */
static keel_status map_to_cbor(json_t *obj, kdb_buf *out, jpath *path, unsigned depth) {
    kdb_enc_map(out, json_object_size(obj));
    for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it)) {
        const char *name = json_object_iter_key(it);
        size_t nlen = json_object_iter_key_len(it);
        kdb_enc_text(out, name, nlen);
        size_t old = path_push_name(path, name, nlen);
        keel_status st = value_to_cbor(json_object_iter_value(it), out, path, depth);
        path_pop(path, old);
        if (st != KEEL_OK) return st;
    }
    return KEEL_OK;
}

/* S, N or B given another JSON type: DynamoDB's deserializer's words first for a number
 * or an object (its SerializationException), then keel's. */
static keel_status not_a_string(const jpath *path, const json_t *v, const char *what) {
    const char *coral = json_is_number(v)   ? "NUMBER_VALUE cannot be converted to String: "
                        : json_is_object(v) ? "Start of structure or map found where not "
                                              "expected: "
                                            : "";
    char msg[200];
    snprintf(msg, sizeof msg, "%s%s", coral, what);
    return fail_at(path, msg);
}

static keel_status value_to_cbor(json_t *av, kdb_buf *out, jpath *path, unsigned depth) {
    if (!json_is_object(av))
        return fail_at(path, "An AttributeValue must be a JSON object such as {\"S\": \"text\"}");
    size_t members = json_object_size(av);
    if (members == 0) return keel__fail(KEEL_EVALIDATION, MSG_EMPTY);
    if (members > 1) return keel__fail(KEEL_EVALIDATION, MSG_MANY);

    void *it = json_object_iter(av);
    const char *type = json_object_iter_key(it);
    size_t tlen = json_object_iter_key_len(it);
    json_t *v = json_object_iter_value(it);
#define IS(t) (tlen == sizeof(t) - 1 && memcmp(type, t, sizeof(t) - 1) == 0)

    if (IS("S")) {
        if (!json_is_string(v)) return not_a_string(path, v, "S must be a JSON string");
        kdb_enc_text(out, json_string_value(v), json_string_length(v));
        return KEEL_OK;
    }
    if (IS("N")) {
        if (!json_is_string(v))
            return not_a_string(path, v, "N must be a JSON string (DynamoDB JSON writes numbers "
                                         "as strings: {\"N\": \"123\"})");
        kdb_num x;
        keel_status st = kdb_num_parse(json_string_value(v), json_string_length(v), &x);
        if (st != KEEL_OK) return st;
        kdb_enc_num(out, &x);
        return KEEL_OK;
    }
    if (IS("B")) {
        if (!json_is_string(v)) return not_a_string(path, v, "B must be a JSON string (base64)");
        size_t n = json_string_length(v);
        uint8_t *b = malloc(n / 4 * 3 + 1);
        size_t blen;
        if (!b) return keel__fail(KEEL_ENOMEM, "decoding %zu bytes of base64", n);
        if (!kdb_base64_decode(json_string_value(v), n, b, &blen)) {
            free(b);
            return fail_at(path, "Invalid base64 in a B value (RFC 4648, standard alphabet, "
                                 "'=' padding)");
        }
        kdb_enc_bytes(out, b, blen);
        free(b);
        return KEEL_OK;
    }
    if (IS("BOOL")) {
        if (!json_is_boolean(v)) return fail_at(path, "BOOL must be true or false");
        kdb_enc_bool(out, json_is_true(v));
        return KEEL_OK;
    }
    if (IS("NULL")) {
        if (!json_is_true(v))
            return keel__fail(KEEL_EVALIDATION,
                              MSG_INVALID "Null attribute value types must have the value of true");
        kdb_enc_null(out);
        return KEEL_OK;
    }
    if (IS("L")) {
        if (!json_is_array(v)) return fail_at(path, "L must be a JSON array of AttributeValues");
        if (depth >= JSON_MAX_DEPTH) return keel__fail(KEEL_EVALIDATION, MSG_NESTING);
        size_t n = json_array_size(v);
        kdb_enc_array(out, n);
        for (size_t i = 0; i < n; i++) {
            size_t old = path_push_index(path, i);
            keel_status st = value_to_cbor(json_array_get(v, i), out, path, depth + 1);
            path_pop(path, old);
            if (st != KEEL_OK) return st;
        }
        return KEEL_OK;
    }
    if (IS("M")) {
        if (!json_is_object(v)) return fail_at(path, "M must be a JSON object of AttributeValues");
        if (depth >= JSON_MAX_DEPTH) return keel__fail(KEEL_EVALIDATION, MSG_NESTING);
        return map_to_cbor(v, out, path, depth + 1);
    }
    if (IS("SS")) return set_to_cbor(v, 'S', out, path, depth);
    if (IS("NS")) return set_to_cbor(v, 'N', out, path, depth);
    if (IS("BS")) return set_to_cbor(v, 'B', out, path, depth);
#undef IS
    /* DynamoDB ignores members it does not know, which leaves the value empty. */
    return keel__fail(KEEL_EVALIDATION, MSG_EMPTY " (unknown datatype \"%.*s\")",
                      (int)(tlen > 40 ? 40 : tlen), type);
}

/* Run `st = f(...)` on `out` and restore its length on failure; an allocation failure of
 * the buffer is reported as KEEL_ENOMEM. */
static keel_status finish_buf(kdb_buf *out, size_t start, keel_status st) {
    if (st == KEEL_OK && out->failed) st = keel__fail(KEEL_ENOMEM, "encoding an item");
    if (st != KEEL_OK && !out->failed) out->len = start;
    return st;
}

keel_status kdb_json_to_value(json_t *av, kdb_buf *out) {
    jpath path = {{0}, 0};
    size_t start = out->len;
    return finish_buf(out, start, value_to_cbor(av, out, &path, 0));
}

keel_status kdb_json_to_item(json_t *m, kdb_buf *out) {
    if (!json_is_object(m))
        return keel__fail(KEEL_EVALIDATION, "An item must be a JSON object of attribute names "
                                            "and AttributeValues: {\"name\": {\"S\": \"text\"}}");
    jpath path = {{0}, 0};
    size_t start = out->len;
    return finish_buf(out, start, map_to_cbor(m, out, &path, 0));
}

/* "#n" / ":v": the marker, then 1..254 more bytes (DynamoDB's 255-byte token limit). */
static bool placeholder_ok(const char *s, size_t n, char marker) {
    return n >= 2 && n <= 255 && s[0] == marker;
}

keel_status kdb_json_to_values(json_t *m, kdb_buf *out) {
    if (!json_is_object(m))
        return keel__fail(KEEL_EVALIDATION, "ExpressionAttributeValues must be a JSON object "
                                            "of placeholders and AttributeValues");
    if (json_object_size(m) == 0)
        return keel__fail(KEEL_EVALIDATION, "ExpressionAttributeValues must not be empty");
    size_t start = out->len;
    kdb_enc_map(out, json_object_size(m));
    for (void *it = json_object_iter(m); it; it = json_object_iter_next(m, it)) {
        const char *k = json_object_iter_key(it);
        size_t n = json_object_iter_key_len(it);
        int shown = (int)(n > 64 ? 64 : n);
        if (!placeholder_ok(k, n, ':'))
            return finish_buf(out, start,
                              keel__fail(KEEL_EVALIDATION, "ExpressionAttributeValues contains "
                                         "invalid key: Syntax error; key: \"%.*s\"", shown, k));
        kdb_enc_text(out, k, n);
        jpath path = {{0}, 0};
        keel_status st = value_to_cbor(json_object_iter_value(it), out, &path, 0);
        if (st != KEEL_OK && st != KEEL_ENOMEM) {
            /* As DynamoDB: say which placeholder held the bad value. */
            char detail[512];
            snprintf(detail, sizeof detail, "%s", keel_errmsg());
            st = keel__fail(st, "ExpressionAttributeValues contains invalid value: %s for key "
                            "%.*s", detail, shown, k);
        }
        if (st != KEEL_OK) return finish_buf(out, start, st);
    }
    return finish_buf(out, start, KEEL_OK);
}

keel_status kdb_json_to_names(json_t *m, kdb_buf *out) {
    if (!json_is_object(m))
        return keel__fail(KEEL_EVALIDATION, "ExpressionAttributeNames must be a JSON object of "
                                            "placeholders and names: {\"#n\": \"name\"}");
    if (json_object_size(m) == 0)
        return keel__fail(KEEL_EVALIDATION, "ExpressionAttributeNames must not be empty");
    size_t start = out->len;
    kdb_enc_map(out, json_object_size(m));
    for (void *it = json_object_iter(m); it; it = json_object_iter_next(m, it)) {
        const char *k = json_object_iter_key(it);
        size_t n = json_object_iter_key_len(it);
        json_t *v = json_object_iter_value(it);
        keel_status st = KEEL_OK;
        if (!placeholder_ok(k, n, '#'))
            st = keel__fail(KEEL_EVALIDATION, "ExpressionAttributeNames contains invalid key: "
                            "Syntax error; key: \"%.*s\"", (int)(n > 64 ? 64 : n), k);
        else if (!json_is_string(v))
            st = keel__fail(KEEL_EVALIDATION, "ExpressionAttributeNames contains invalid value: "
                            "the name for key %.*s must be a string", (int)n, k);
        else if (json_string_length(v) == 0)
            st = keel__fail(KEEL_EVALIDATION, "ExpressionAttributeNames contains invalid value: "
                            "Empty attribute name for key %.*s", (int)n, k);
        if (st != KEEL_OK) return finish_buf(out, start, st);
        kdb_enc_text(out, k, n);
        kdb_enc_text(out, json_string_value(v), json_string_length(v));
    }
    return finish_buf(out, start, KEEL_OK);
}

/* ---- CBOR -> JSON ----------------------------------------------------------------------- */

static keel_status bad_item(const char *what) {
    return keel__fail(KEEL_EVALIDATION, "not a valid item: %s", what);
}

/* {"T": v}, taking the reference to v. */
static keel_status wrap(const char *type, json_t *v, json_t **out) {
    if (!v) return keel__fail(KEEL_ENOMEM, "building JSON");
    json_t *o = json_object();
    if (!o || json_object_set_new_nocheck(o, type, v) != 0) {
        json_decref(o);
        return keel__fail(KEEL_ENOMEM, "building JSON");
    }
    *out = o;
    return KEEL_OK;
}

static json_t *num_string(const kdb_num *x) {
    char buf[KDB_NUM_STR_MAX];
    size_t n = kdb_num_format(x, buf, sizeof buf);
    return json_stringn_nocheck(buf, n);
}

static json_t *b64_string(const uint8_t *p, size_t n) {
    size_t cap = (n + 2) / 3 * 4 + 1;
    char *s = malloc(cap);
    if (!s) return NULL;
    size_t k = kdb_base64_encode(p, n, s);
    json_t *j = json_stringn_nocheck(s, k);
    free(s);
    return j;
}

/* The shortest decimal text that strtof reads back as f (f finite). */
static keel_status vector_to_json(const kdb_val *v, json_t **out) {
    json_t *arr = json_array();
    if (!arr) return keel__fail(KEEL_ENOMEM, "building JSON");
    for (uint64_t i = 0; i < v->count; i++) {
        if ((i + 1) * 4 > v->size) {
            json_decref(arr);
            return bad_item("vector shorter than its dimensions");
        }
        uint32_t bits = keel__ld32(v->data + 4 * i);
        float f;
        memcpy(&f, &bits, sizeof f);
        if (!isfinite(f)) {
            json_decref(arr);
            return bad_item("a vector element is NaN or infinite");
        }
        char text[32];
        kdb_num x;
        kdb_f32_text(f, text, sizeof text);
        json_t *e = NULL;
        if (kdb_num_parse(text, strlen(text), &x) != KEEL_OK ||
            wrap("N", num_string(&x), &e) != KEEL_OK || json_array_append_new(arr, e) != 0) {
            json_decref(arr);
            return keel__fail(KEEL_ENOMEM, "building JSON for a vector element");
        }
    }
    return wrap("L", arr, out);
}

static keel_status val_to_json(const kdb_val *v, unsigned depth, json_t **out);

/* The elements of an L or a set as a JSON array of AttributeValues (L) or of texts (sets:
 * `elem` is the members' type). */
static keel_status list_to_json(const kdb_val *v, kdb_type elem, unsigned depth, json_t **out) {
    json_t *arr = json_array();
    if (!arr) return keel__fail(KEEL_ENOMEM, "building JSON");
    kdb_iter it;
    kdb_val e;
    int r;
    keel_status st = KEEL_OK;
    kdb_iter_init(&it, v);
    while ((r = kdb_iter_next(&it, NULL, NULL, &e)) == 1) {
        json_t *j = NULL;
        if (elem == 0) {
            st = val_to_json(&e, depth + 1, &j);
        } else if (e.type != elem) {
            st = bad_item("a set member of the wrong type");
        } else if (elem == KDB_S) {
            j = json_stringn(e.data ? (const char *)e.data : "", e.size);
            if (!j) st = bad_item("a string is not valid UTF-8");
        } else if (elem == KDB_N) {
            kdb_num x;
            st = kdb_val_num(&e, &x);
            if (st == KEEL_OK && !(j = num_string(&x))) st = keel__fail(KEEL_ENOMEM, "building JSON");
        } else {
            if (!(j = b64_string(e.data, e.size))) st = keel__fail(KEEL_ENOMEM, "building JSON");
        }
        if (st != KEEL_OK) break;
        if (json_array_append_new(arr, j) != 0) {
            st = keel__fail(KEEL_ENOMEM, "building JSON");
            break;
        }
    }
    if (st == KEEL_OK && r < 0) st = bad_item("malformed list or set");
    if (st != KEEL_OK) {
        json_decref(arr);
        return st;
    }
    *out = arr;
    return KEEL_OK;
}

/* A map's pairs (padding skipped) as a JSON object of AttributeValues. */
static keel_status map_to_json(const kdb_val *v, unsigned depth, json_t **out) {
    json_t *obj = json_object();
    if (!obj) return keel__fail(KEEL_ENOMEM, "building JSON");
    kdb_iter it;
    kdb_val e;
    const uint8_t *name;
    size_t nlen;
    int r;
    keel_status st = KEEL_OK;
    kdb_iter_init(&it, v);
    while ((r = kdb_iter_next(&it, &name, &nlen, &e)) == 1) {
        json_t *j = NULL;
        const char *ns = name ? (const char *)name : "";
        if (json_object_getn(obj, ns, nlen)) {
            st = bad_item("a name appears twice in one map");
            break;
        }
        if ((st = val_to_json(&e, depth + 1, &j)) != KEEL_OK) break;
        if (json_object_setn_new(obj, ns, nlen, j) != 0) {
            /* Invalid UTF-8 in the name (jansson checks it), or no memory. */
            st = bad_item("an attribute name is not valid UTF-8");
            break;
        }
    }
    if (st == KEEL_OK && r < 0) st = bad_item("malformed map");
    if (st != KEEL_OK) {
        json_decref(obj);
        return st;
    }
    *out = obj;
    return KEEL_OK;
}

static keel_status val_to_json(const kdb_val *v, unsigned depth, json_t **out) {
    json_t *j = NULL;
    keel_status st;
    switch (v->type) {
    case KDB_S:
        j = json_stringn(v->data ? (const char *)v->data : "", v->size);
        if (!j) return bad_item("a string is not valid UTF-8");
        return wrap("S", j, out);
    case KDB_N: {
        kdb_num x;
        if ((st = kdb_val_num(v, &x)) != KEEL_OK) return st;
        return wrap("N", num_string(&x), out);
    }
    case KDB_B:
        return wrap("B", b64_string(v->data, v->size), out);
    case KDB_BOOL:
        return wrap("BOOL", json_boolean(v->b), out);
    case KDB_NULL:
        return wrap("NULL", json_true(), out);
    case KDB_V:
        return vector_to_json(v, out);
    default:
        break;
    }
    if (depth >= JSON_MAX_DEPTH + 1) return keel__fail(KEEL_EVALIDATION, MSG_NESTING);
    switch (v->type) {
    case KDB_L:
        if ((st = list_to_json(v, 0, depth, &j)) != KEEL_OK) return st;
        return wrap("L", j, out);
    case KDB_M:
        if ((st = map_to_json(v, depth, &j)) != KEEL_OK) return st;
        return wrap("M", j, out);
    case KDB_SS:
        if ((st = list_to_json(v, KDB_S, depth, &j)) != KEEL_OK) return st;
        return wrap("SS", j, out);
    case KDB_NS:
        if ((st = list_to_json(v, KDB_N, depth, &j)) != KEEL_OK) return st;
        return wrap("NS", j, out);
    case KDB_BS:
        if ((st = list_to_json(v, KDB_B, depth, &j)) != KEEL_OK) return st;
        return wrap("BS", j, out);
    default:
        return bad_item("unknown value type");
    }
}

keel_status kdb_json_from_value(const uint8_t *p, size_t len, json_t **out) {
    kdb_val v;
    if (!p || !kdb_val_decode(p, len, &v)) return bad_item("not a valid value");
    if (v.len != len) return bad_item("bytes after the value");
    return val_to_json(&v, 0, out);
}

keel_status kdb_json_from_item(const uint8_t *item, size_t len, json_t **out) {
    kdb_val v;
    if (!item || !kdb_item_open(item, len, &v)) return bad_item("not a map");
    if (v.len != len) return bad_item("bytes after the item");
    return map_to_json(&v, 0, out);
}

keel_status kdb_json_from_names(const uint8_t *p, size_t len, json_t **out) {
    kdb_val v;
    if (!p || !kdb_item_open(p, len, &v)) return bad_item("names: not a map");
    if (v.len != len) return bad_item("names: bytes after the map");
    json_t *obj = json_object();
    if (!obj) return keel__fail(KEEL_ENOMEM, "building JSON");
    kdb_iter it;
    kdb_val e;
    const uint8_t *name;
    size_t nlen;
    int r;
    keel_status st = KEEL_OK;
    kdb_iter_init(&it, &v);
    while ((r = kdb_iter_next(&it, &name, &nlen, &e)) == 1) {
        const char *ns = name ? (const char *)name : "";
        json_t *j;
        if (e.type != KDB_S) {
            st = bad_item("names: a value is not a string");
            break;
        }
        if (json_object_getn(obj, ns, nlen)) {
            st = bad_item("names: a placeholder appears twice");
            break;
        }
        if (!(j = json_stringn(e.data ? (const char *)e.data : "", e.size)) ||
            json_object_setn_new(obj, ns, nlen, j) != 0) {
            st = bad_item("names: not valid UTF-8");
            break;
        }
    }
    if (st == KEEL_OK && r < 0) st = bad_item("names: malformed map");
    if (st != KEEL_OK) {
        json_decref(obj);
        return st;
    }
    *out = obj;
    return KEEL_OK;
}

keel_status kdb_json_to_params(json_t *a, kdb_buf *out) {
    if (!json_is_array(a))
        return keel__fail(KEEL_EVALIDATION, "Parameters must be a JSON array of AttributeValues");
    size_t start = out->len;
    kdb_enc_array(out, json_array_size(a));
    for (size_t i = 0; i < json_array_size(a); i++) {
        jpath path = {{0}, 0};
        keel_status st = value_to_cbor(json_array_get(a, i), out, &path, 0);
        if (st != KEEL_OK && st != KEEL_ENOMEM) {
            char detail[512];
            snprintf(detail, sizeof detail, "%s", keel_errmsg());
            st = keel__fail(st, "Parameters contains an invalid value: %s at index %zu", detail, i);
        }
        if (st != KEEL_OK) return finish_buf(out, start, st);
    }
    return finish_buf(out, start, KEEL_OK);
}
