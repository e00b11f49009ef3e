/*
 * key.c: store keys of table items, whose memcmp order is DynamoDB's order.
 *
 * Layout (db.h): [u32 BE table id][u32 BE hash][partition key encoding][sort key encoding].
 * The hash is the low 32 bits of keel_hash (XXH3-64) of the partition key's encoding, so a
 * table's partitions spread evenly over the ordered index and every partition is one
 * contiguous range (all its keys share the prefix up to part_len).
 *
 * Partition key encoding, self-delimiting so the sort key can follow:
 *   N     kdb_num_key_encode (self-delimiting by design; equal numbers, equal bytes)
 *   S, B  the bytes with 0x00 escaped as 0x00 0xFF, then the terminator 0x00 0x01.
 *         A terminator sorts before any continuation (0x00 0x01 < 0x00 0xFF, and < any
 *         other byte), so a prefix sorts first, as in DynamoDB.
 * Sort key encoding, last so unescaped: S and B their bytes, N kdb_num_key_encode.
 * Default (KeystoneDB) table KDB_TABLE_KV: the partition key escaped as B; the sort key
 * 0x00 when absent, else 0x01 + its bytes (absent sorts before every present sort key,
 * including the empty one, which KeystoneDB distinguishes).
 *
 * Limits: a partition key value is 1..2048 bytes, a sort key 1..1024, measured as
 * DynamoDB does on the value: the bytes of S and B. For N we measure the key encoding
 * (at most 22 bytes), so a number key never exceeds a limit. Empty S and B values are
 * refused with DynamoDB's message. The default table's raw keys are KeystoneDB's: any
 * bytes within the same limits, the empty partition key included.
 * kdb_key_append_sk builds Query bounds and so accepts an empty S/B value (a bound, not a
 * key that is stored); its length limit is the same.
 *
 * Secondary index entries (db_index.c) are keyed [index id][hash][index partition key]
 * [index sort key][the item's table key without its table id]. The index sort key is not
 * last, so kdb_key_append_isk writes it self-delimiting like a partition key (S, B escaped
 * and terminated; N as is); without the terminator it is a prefix bound (begins_with).
 */
#include "db/db.h"
#include "base/base.h"

#include <string.h>

static kdb_type want_type(keel_db_keytype t) {
    switch (t) {
    case KEEL_DB_KEY_S: return KDB_S;
    case KEEL_DB_KEY_N: return KDB_N;
    case KEEL_DB_KEY_B: return KDB_B;
    default: return (kdb_type)0;
    }
}

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Escaped bytes + terminator at k->b + k->len (room checked by the caller's limits). The
 * bytes before the first 0x00 (all of them, in most keys) are copied as one run. */
static void put_escaped(kdb_key *k, const uint8_t *s, size_t n) {
    const uint8_t *z = n ? memchr(s, 0, n) : NULL;
    size_t run = z ? (size_t)(z - s) : n;
    if (run) memcpy(k->b + k->len, s, run);
    k->len += run;
    for (size_t i = run; i < n; i++) {
        k->b[k->len++] = s[i];
        if (s[i] == 0) k->b[k->len++] = 0xFF;
    }
    k->b[k->len++] = 0x00;
    k->b[k->len++] = 0x01;
}

static keel_status check_type(const char *which, keel_db_keytype t, const kdb_val *v) {
    kdb_type want = want_type(t);
    if (!want) return keel__fail(KEEL_EVALIDATION, "%s: invalid key type %d", which, (int)t);
    if (v->type != want)
        return keel__fail(KEEL_EVALIDATION, "One or more parameter values were invalid: Type "
                          "mismatch for the %s: expected %s, got %s", which,
                          kdb_type_name(want), kdb_type_name(v->type));
    return KEEL_OK;
}

/* Encode the sort key value at k->b + k->len (an N value's number `num` when the caller has
 * it already, else decoded from sk). */
static keel_status put_sk(kdb_key *k, keel_db_keytype t, const kdb_val *sk, const kdb_num *num,
                          bool allow_empty) {
    keel_status st = check_type("sort key", t, sk);
    if (st != KEEL_OK) return st;
    if (sk->type == KDB_N) {
        kdb_num x;
        if (!num) {
            st = kdb_val_num(sk, &x);
            if (st != KEEL_OK) return st;
            num = &x;
        }
        k->len += kdb_num_key_encode(num, k->b + k->len);
        return KEEL_OK;
    }
    if (sk->size == 0 && !allow_empty)
        return keel__fail(KEEL_EVALIDATION, "One or more parameter values are not valid. The "
                          "AttributeValue for a key attribute cannot contain an empty %s value. "
                          "Key: sort key", sk->type == KDB_S ? "string" : "binary");
    if (sk->size > KEEL_DB_MAX_SK)
        return keel__fail(KEEL_EVALIDATION, "One or more parameter values were invalid: "
                          "Aggregated size of all range keys has exceeded the size limit of "
                          "1024 bytes");
    memcpy(k->b + k->len, sk->data, sk->size);
    k->len += sk->size;
    return KEEL_OK;
}

keel_status kdb_key_make(uint32_t table_id, keel_db_keytype pk_type, const kdb_val *pk,
                         keel_db_keytype sk_type, const kdb_val *sk, kdb_key *out) {
    return kdb_key_make_nums(table_id, pk_type, pk, NULL, sk_type, sk, NULL, out);
}

keel_status kdb_key_make_nums(uint32_t table_id, keel_db_keytype pk_type, const kdb_val *pk,
                              const kdb_num *pk_num, keel_db_keytype sk_type, const kdb_val *sk,
                              const kdb_num *sk_num, kdb_key *out) {
    if (!pk || !out) return keel__fail(KEEL_EINVAL, "kdb_key_make: NULL argument");
    keel_status st = check_type("partition key", pk_type, pk);
    if (st != KEEL_OK) return st;
    if ((sk != NULL) != (sk_type != KEEL_DB_KEY_NONE))
        return keel__fail(KEEL_EVALIDATION, "sort key %s", sk ? "given for a table without one"
                                                              : "missing");
    out->len = 8;
    if (pk->type == KDB_N) {
        kdb_num x;
        if (!pk_num) {
            st = kdb_val_num(pk, &x);
            if (st != KEEL_OK) return st;
            pk_num = &x;
        }
        out->len += kdb_num_key_encode(pk_num, out->b + out->len);
    } else {
        if (pk->size == 0)
            return keel__fail(KEEL_EVALIDATION, "One or more parameter values are not valid. "
                              "The AttributeValue for a key attribute cannot contain an empty "
                              "%s value. Key: partition key",
                              pk->type == KDB_S ? "string" : "binary");
        if (pk->size > KEEL_DB_MAX_PK)
            return keel__fail(KEEL_EVALIDATION, "One or more parameter values were invalid: "
                              "Size of hashkey has exceeded the maximum size limit of 2048 bytes");
        put_escaped(out, pk->data, pk->size);
    }
    out->part_len = out->len;
    put_be32(out->b, table_id);
    put_be32(out->b + 4, (uint32_t)keel_hash(out->b + 8, out->part_len - 8));
    if (sk) {
        st = put_sk(out, sk_type, sk, sk_num, false);
        if (st != KEEL_OK) return st;
    }
    return KEEL_OK;
}

keel_status kdb_key_make_kv(const void *pk, size_t pk_len, const void *sk, size_t sk_len,
                            kdb_key *out) {
    if ((!pk && pk_len) || !out) return keel__fail(KEEL_EINVAL, "kdb_key_make_kv: NULL argument");
    if (pk_len > KEEL_DB_MAX_PK)
        return keel__fail(KEEL_EVALIDATION, "partition key of %zu bytes (the limit is 2048)",
                          pk_len);
    if (sk && sk_len > KEEL_DB_MAX_SK)
        return keel__fail(KEEL_EVALIDATION, "sort key of %zu bytes (the limit is 1024)", sk_len);
    out->len = 8;
    put_escaped(out, pk, pk_len);
    out->part_len = out->len;
    put_be32(out->b, KDB_TABLE_KV);
    put_be32(out->b + 4, (uint32_t)keel_hash(out->b + 8, out->part_len - 8));
    if (!sk) {
        out->b[out->len++] = 0x00;
    } else {
        out->b[out->len++] = 0x01;
        if (sk_len) memcpy(out->b + out->len, sk, sk_len);
        out->len += sk_len;
    }
    return KEEL_OK;
}

keel_status kdb_key_append_sk(kdb_key *k, keel_db_keytype sk_type, const kdb_val *sk) {
    if (!k || !sk || k->part_len < 8 || k->part_len > KDB_KEY_MAX - KEEL_DB_MAX_SK - KDB_NUM_KEY_MAX)
        return keel__fail(KEEL_EINVAL, "kdb_key_append_sk: bad arguments");
    k->len = k->part_len;
    return put_sk(k, sk_type, sk, NULL, true);
}

keel_status kdb_key_append_isk(kdb_key *k, keel_db_keytype sk_type, const kdb_val *sk,
                              bool bound, bool terminate) {
    if (!k || !sk || k->len + 2 * KEEL_DB_MAX_SK + 2 > KDB_KEY_MAX)
        return keel__fail(KEEL_EINVAL, "kdb_key_append_isk: bad arguments");
    keel_status st = check_type("index sort key", sk_type, sk);
    if (st != KEEL_OK) return st;
    if (sk->type == KDB_N) {
        kdb_num x;
        if ((st = kdb_val_num(sk, &x)) != KEEL_OK) return st;
        k->len += kdb_num_key_encode(&x, k->b + k->len);
        return KEEL_OK;
    }
    if (sk->size == 0 && !bound)
        return keel__fail(KEEL_EVALIDATION, "One or more parameter values are not valid. A "
                          "value specified for a secondary index key is not supported. The "
                          "AttributeValue for a key attribute cannot contain an empty %s value",
                          sk->type == KDB_S ? "string" : "binary");
    if (sk->size > KEEL_DB_MAX_SK)
        return keel__fail(KEEL_EVALIDATION, "One or more parameter values were invalid: "
                          "Aggregated size of all range keys has exceeded the size limit of "
                          "1024 bytes");
    put_escaped(k, sk->data, sk->size);
    if (!terminate) k->len -= 2;
    return KEEL_OK;
}

bool kdb_key_table(const uint8_t *key, size_t len, uint32_t *table_out) {
    if (!key || len < 8) return false;
    *table_out = (uint32_t)key[0] << 24 | (uint32_t)key[1] << 16 | (uint32_t)key[2] << 8 |
                 (uint32_t)key[3];
    return true;
}
