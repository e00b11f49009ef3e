/*
 * cbor.c: the CBOR layer of the Database face: one head at a time, whole-value skipping,
 * and the encoder into a growing buffer.
 *
 * Two decoders of one head, which accept exactly the same inputs and agree on every field
 * (tests/c/test_db_values.c and fuzz/fuzz_item.c compare them byte string by byte string):
 *   kdb_cbor_head_libcbor  hands the head to libcbor's cbor_stream_decode, whose callbacks
 *                          fill a kdb_head;
 *   kdb_cbor_head          a direct switch on the initial byte (the one used, unless built
 *                          with -DKDB_CBOR_LIBCBOR, when it is the libcbor one).
 * Measured on this machine (release build, -O2; a 10-attribute item of strings, integers,
 * a double, a bool, null, a 3-element list and a 2-pair map: 119 bytes, 28 heads, walked
 * head by head), in instructions per item (callgrind, repeatable) and ns per item (2
 * shared cores, noisy: best of the runs):
 *   kdb_cbor_head_libcbor (cbor_stream_decode)   3065 instructions   300 ns
 *   kdb_cbor_head (direct switch, out of line)   1798 instructions   ~180 ns
 *   the same switch inlined into the loop          803 instructions    50 ns
 * libcbor costs 5.5-6.3x the time of an inlined switch (3.8x the instructions): the
 * callback indirection and its per-call result bookkeeping. So the direct switch is the
 * default. Opening an item and iterating its 10 attributes (kdb_item_open + kdb_iter) is
 * 4086 instructions; kdb_item_check of it 11,820.
 * Both refuse what items never use: indefinite lengths (strings, arrays, maps), break
 * codes, reserved additional-information values 28..30, simple values other than
 * false/true/null/undefined, and, as libcbor 0.8 does, the one-byte tags 6..20
 * (0xC6..0xD4; the same tags written with a one-byte argument, 0xD8 0x06, are accepted).
 * Neither requires the shortest form of an argument. A string's payload must lie inside
 * the buffer; an array or map count is only a promise that kdb_cbor_skip checks element by
 * element (a count larger than the bytes left fails at once, since every element takes at
 * least one byte).
 *
 * kdb_cbor_skip is iterative: a stack of "elements left" per open container, bounded by
 * max_depth and grown with the depth actually reached, so 10,000 nested arrays cost one
 * small array (or 80 KB with max_depth >= 10,000) and no recursion. Tags add an element
 * at the same level (a tag and its content are one value); a chain of tags is bounded by
 * the input length.
 *
 * The encoder writes heads in their shortest form (put_head: the bytes libcbor's
 * cbor_encode_* write; doubles, booleans and null still through libcbor) into kdb_buf,
 * which grows by doubling; an allocation failure sets `failed`, after which every call is a no-op, so an
 * encoder checks once at the end. Doubles are always written in 9 bytes (what a caller
 * wrote is kept as written). kdb_enc_num writes the smallest exact form of a number.
 */
#include "db/db.h"
#include "base/base.h"

#include <cbor.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- decoding ------------------------------------------------------------------------- */

typedef struct head_ctx {
    kdb_head *h;
    bool ok;  /* one of our accepted callbacks ran */
} head_ctx;

static void set_u(void *c, kdb_cbor_kind k, uint64_t v) {
    head_ctx *x = c;
    x->h->kind = k;
    x->h->v.u = v;
    x->ok = true;
}
static void cb_u8(void *c, uint8_t v) { set_u(c, KDB_C_UINT, v); }
static void cb_u16(void *c, uint16_t v) { set_u(c, KDB_C_UINT, v); }
static void cb_u32(void *c, uint32_t v) { set_u(c, KDB_C_UINT, v); }
static void cb_u64(void *c, uint64_t v) { set_u(c, KDB_C_UINT, v); }
static void cb_n8(void *c, uint8_t v) { set_u(c, KDB_C_NEGINT, v); }
static void cb_n16(void *c, uint16_t v) { set_u(c, KDB_C_NEGINT, v); }
static void cb_n32(void *c, uint32_t v) { set_u(c, KDB_C_NEGINT, v); }
static void cb_n64(void *c, uint64_t v) { set_u(c, KDB_C_NEGINT, v); }
static void cb_tag(void *c, uint64_t v) { set_u(c, KDB_C_TAG, v); }
static void cb_array(void *c, size_t n) { set_u(c, KDB_C_ARRAY, (uint64_t)n); }
static void cb_map(void *c, size_t n) { set_u(c, KDB_C_MAP, (uint64_t)n); }

static void set_str(void *c, kdb_cbor_kind k, cbor_data d, size_t n) {
    head_ctx *x = c;
    x->h->kind = k;
    x->h->v.u = (uint64_t)n;
    x->h->data = d;
    x->h->size = n;
    x->ok = true;
}
static void cb_bytes(void *c, cbor_data d, size_t n) { set_str(c, KDB_C_BYTES, d, n); }
static void cb_text(void *c, cbor_data d, size_t n) { set_str(c, KDB_C_TEXT, d, n); }

static void set_f(void *c, double f) {
    head_ctx *x = c;
    x->h->kind = KDB_C_FLOAT;
    x->h->v.f = f;
    x->ok = true;
}
static void cb_f4(void *c, float f) { set_f(c, (double)f); }
static void cb_f8(void *c, double f) { set_f(c, f); }
static void cb_null(void *c) { set_u(c, KDB_C_NULL, 0); }
static void cb_undef(void *c) { set_u(c, KDB_C_UNDEFINED, 0); }
static void cb_bool(void *c, bool b) { set_u(c, b ? KDB_C_TRUE : KDB_C_FALSE, 0); }
/* Indefinite starts and breaks: leave ok false. */
static void cb_refuse(void *c) { ((head_ctx *)c)->ok = false; }

static const struct cbor_callbacks head_callbacks = {
    .uint8 = cb_u8, .uint16 = cb_u16, .uint32 = cb_u32, .uint64 = cb_u64,
    .negint8 = cb_n8, .negint16 = cb_n16, .negint32 = cb_n32, .negint64 = cb_n64,
    .byte_string_start = cb_refuse, .byte_string = cb_bytes,
    .string = cb_text, .string_start = cb_refuse,
    .indef_array_start = cb_refuse, .array_start = cb_array,
    .indef_map_start = cb_refuse, .map_start = cb_map,
    .tag = cb_tag,
    .float2 = cb_f4, .float4 = cb_f4, .float8 = cb_f8,
    .undefined = cb_undef, .null = cb_null, .boolean = cb_bool,
    .indef_break = cb_refuse,
};

bool kdb_cbor_head_libcbor(const uint8_t *p, size_t len, kdb_head *out) {
    if (!p || len == 0) return false;
    kdb_head h;
    memset(&h, 0, sizeof h);
    head_ctx c = { &h, false };
    struct cbor_decoder_result r = cbor_stream_decode(p, len, &head_callbacks, &c);
    if (r.status != CBOR_DECODER_FINISHED || !c.ok || r.read == 0 || r.read > len) return false;
    h.head_len = r.read;
    *out = h;
    return true;
}

static double half_to_double(unsigned h) {
    int e = (int)(h >> 10 & 0x1F);
    double m = (double)(h & 0x3FF);
    double v;
    if (e == 0) v = ldexp(m, -24);
    else if (e == 31) v = m == 0 ? INFINITY : NAN;
    else v = ldexp(m + 1024, e - 25);
    return h & 0x8000 ? -v : v;
}

/* Inlined into kdb_cbor_skip's loop as well as kdb_cbor_head: a skip reads every head of a
 * value, and the call cost as much as the switch. */
static inline __attribute__((always_inline)) bool head_direct(const uint8_t *p, size_t len,
                                                             kdb_head *out) {
    if (!p || len == 0) return false;
    unsigned ib = p[0], mt = ib >> 5, ai = ib & 31;
    uint64_t a;
    size_t hl;
    switch (ai) {
    case 24:
        if (len < 2) return false;
        a = p[1];
        hl = 2;
        break;
    case 25:
        if (len < 3) return false;
        a = (uint64_t)p[1] << 8 | p[2];
        hl = 3;
        break;
    case 26:
        if (len < 5) return false;
        a = (uint64_t)p[1] << 24 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 8 | p[4];
        hl = 5;
        break;
    case 27:
        if (len < 9) return false;
        a = (uint64_t)p[1] << 56 | (uint64_t)p[2] << 48 | (uint64_t)p[3] << 40 |
            (uint64_t)p[4] << 32 | (uint64_t)p[5] << 24 | (uint64_t)p[6] << 16 |
            (uint64_t)p[7] << 8 | p[8];
        hl = 9;
        break;
    case 28:
    case 29:
    case 30:
    case 31:
        return false; /* reserved, or indefinite length / break */
    default:
        a = ai;
        hl = 1;
    }
    const uint8_t *data = NULL;
    size_t size = 0;
    kdb_cbor_kind kind;
    switch (mt) {
    case 0: kind = KDB_C_UINT; break;
    case 1: kind = KDB_C_NEGINT; break;
    case 2:
    case 3:
        if (a > len - hl) return false;
        kind = mt == 2 ? KDB_C_BYTES : KDB_C_TEXT;
        data = p + hl;
        size = (size_t)a;
        hl += (size_t)a;
        break;
    case 4: kind = KDB_C_ARRAY; break;
    case 5: kind = KDB_C_MAP; break;
    case 6:
        if (ib >= 0xC6 && ib <= 0xD4) return false; /* as libcbor 0.8 */
        kind = KDB_C_TAG;
        break;
    default: /* 7 */
        switch (ai) {
        case 20: kind = KDB_C_FALSE; a = 0; break;
        case 21: kind = KDB_C_TRUE; a = 0; break;
        case 22: kind = KDB_C_NULL; a = 0; break;
        case 23: kind = KDB_C_UNDEFINED; a = 0; break;
        case 25:
            out->v.f = half_to_double((unsigned)a);
            goto floating;
        case 26: {
            uint32_t u = (uint32_t)a;
            float f;
            memcpy(&f, &u, sizeof f);
            out->v.f = (double)f;
            goto floating;
        }
        case 27: {
            double d;
            memcpy(&d, &a, sizeof d);
            out->v.f = d;
            goto floating;
        }
        default: return false; /* simple values 0..19 and 24 (one-byte simple) */
        }
    }
    out->v.u = a;
    out->kind = kind;
    out->data = data;
    out->size = size;
    out->head_len = hl;
    return true;
floating:
    out->kind = KDB_C_FLOAT;
    out->data = NULL;
    out->size = 0;
    out->head_len = hl;
    return true;
}

bool kdb_cbor_head(const uint8_t *p, size_t len, kdb_head *out) {
#ifdef KDB_CBOR_LIBCBOR
    (void)head_direct;
    return kdb_cbor_head_libcbor(p, len, out);
#else
    return head_direct(p, len, out);
#endif
}

size_t kdb_cbor_skip(const uint8_t *p, size_t len, unsigned max_depth) {
    /* left[d]: elements still to read in the container open at depth d (0: the value). The
     * stack grows with the depth actually reached, not with max_depth. */
    uint64_t small[64];
    uint64_t *left = small;
    size_t cap = 64;
    size_t pos = 0, result = 0;
    unsigned depth = 0;
    left[0] = 1;
    for (;;) {
        while (depth > 0 && left[depth] == 0) depth--;
        if (depth == 0 && left[0] == 0) {
            result = pos;
            break;
        }
        kdb_head h;
#ifdef KDB_CBOR_LIBCBOR
        if (!kdb_cbor_head(p + pos, len - pos, &h)) break;
#else
        if (!head_direct(p + pos, len - pos, &h)) break;
#endif
        pos += h.head_len;
        left[depth]--;
        if (h.kind == KDB_C_TAG) {
            left[depth]++;
        } else if (h.kind == KDB_C_ARRAY || h.kind == KDB_C_MAP) {
            uint64_t n = h.v.u;
            if (h.kind == KDB_C_MAP) {
                if (n > UINT64_MAX / 2) break;
                n *= 2;
            }
            if (n > len - pos) break; /* each element needs at least one byte */
            if (depth + 1 > max_depth) break;
            if (depth + 1 >= cap) {
                size_t ncap = cap * 2;
                uint64_t *q = malloc(ncap * sizeof *q);
                if (!q) break;
                memcpy(q, left, cap * sizeof *q);
                if (left != small) free(left);
                left = q;
                cap = ncap;
            }
            left[++depth] = n;
        }
    }
    if (left != small) free(left);
    return result;
}

/* ---- encoding ------------------------------------------------------------------------- */

void kdb_buf_free(kdb_buf *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    b->failed = false;
}

/* Make room for n more bytes; false (and failed set) when impossible. */
static bool reserve(kdb_buf *b, size_t n) {
    if (b->failed) return false;
    if (b->cap - b->len >= n) return true;
    if (n > SIZE_MAX / 2 - b->len) {
        b->failed = true;
        return false;
    }
    size_t cap = b->cap ? b->cap : 64;
    while (cap - b->len < n) cap *= 2;
    uint8_t *q = realloc(b->p, cap);
    if (!q) {
        b->failed = true;
        return false;
    }
    b->p = q;
    b->cap = cap;
    return true;
}

bool kdb_buf_reserve(kdb_buf *b, size_t n) { return reserve(b, n); }

void kdb_buf_put(kdb_buf *b, const void *data, size_t n) {
    if (n == 0 || !reserve(b, n)) return;
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

/* Every CBOR head fits in 9 bytes. */
#define HEAD(b, call)                                      \
    do {                                                   \
        if (!reserve((b), 9)) return;                      \
        size_t w_ = (call);                                \
        if (w_ == 0) (b)->failed = true;                   \
        (b)->len += w_;                                    \
    } while (0)

#define ROOM(b) ((b)->p + (b)->len), ((b)->cap - (b)->len)

/* A head of major type `major` (0..7) with argument v, in its shortest form: the bytes
 * libcbor's cbor_encode_uint, _negint and _*_start functions write, without the calls
 * through its per-type encoders (an update re-encodes the item's attribute names). */
static void put_head(kdb_buf *b, unsigned major, uint64_t v) {
    if (!reserve(b, 9)) return;
    uint8_t *q = b->p + b->len;
    uint8_t mt = (uint8_t)(major << 5);
    if (v < 24) {
        q[0] = (uint8_t)(mt | v);
        b->len += 1;
        return;
    }
    unsigned bytes = v <= 0xffu ? 1 : v <= 0xffffu ? 2 : v <= 0xffffffffu ? 4 : 8;
    q[0] = (uint8_t)(mt | (bytes == 1 ? 24 : bytes == 2 ? 25 : bytes == 4 ? 26 : 27));
    for (unsigned i = 0; i < bytes; i++) q[1 + i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
    b->len += 1 + bytes;
}

void kdb_enc_uint(kdb_buf *b, uint64_t v) { put_head(b, 0, v); }
void kdb_enc_negint(kdb_buf *b, uint64_t v) { put_head(b, 1, v); }
void kdb_enc_i64(kdb_buf *b, int64_t v) {
    if (v >= 0) kdb_enc_uint(b, (uint64_t)v);
    else kdb_enc_negint(b, (uint64_t)(-(v + 1)));
}
void kdb_enc_bytes(kdb_buf *b, const void *data, size_t n) {
    put_head(b, 2, n);
    kdb_buf_put(b, data, n);
}
void kdb_enc_text(kdb_buf *b, const char *s, size_t n) {
    put_head(b, 3, n);
    kdb_buf_put(b, s, n);
}
void kdb_enc_array(kdb_buf *b, uint64_t n) { put_head(b, 4, n); }
void kdb_enc_map(kdb_buf *b, uint64_t n) { put_head(b, 5, n); }
void kdb_enc_tag(kdb_buf *b, uint64_t tag) { put_head(b, 6, tag); }
void kdb_enc_double(kdb_buf *b, double v) { HEAD(b, cbor_encode_double(v, ROOM(b))); }
void kdb_enc_bool(kdb_buf *b, bool v) { HEAD(b, cbor_encode_bool(v, ROOM(b))); }
void kdb_enc_null(kdb_buf *b) { HEAD(b, cbor_encode_null(ROOM(b))); }

/* An integer of magnitude m >= 1 with its sign: uint, negint, or a bignum (tags 2/3) when
 * it needs more than 64 bits. Negatives are written as -1 - (m - 1). */
static void enc_int128(kdb_buf *b, bool negative, unsigned __int128 m) {
    unsigned __int128 v = negative ? m - 1 : m;
    if (v <= UINT64_MAX) {
        if (negative) kdb_enc_negint(b, (uint64_t)v);
        else kdb_enc_uint(b, (uint64_t)v);
        return;
    }
    uint8_t be[16];
    size_t k = 16;
    while (v) {
        be[--k] = (uint8_t)v;
        v >>= 8;
    }
    kdb_enc_tag(b, negative ? KDB_TAG_NEG_BIGNUM : KDB_TAG_POS_BIGNUM);
    kdb_enc_bytes(b, be + k, 16 - k);
}

void kdb_enc_num(kdb_buf *b, const kdb_num *x) {
    if (x->sign == 0 || x->n == 0) {
        kdb_enc_uint(b, 0);
        return;
    }
    /* 38 digits < 10^38 < 2^127: the mantissa fits in 128 bits. */
    unsigned __int128 m = 0;
    for (int i = 0; i < x->n; i++) m = m * 10 + x->d[i];
    int e = x->exp - x->n; /* value = sign * m * 10^e */
    bool neg = x->sign < 0;
    if (e >= 0 && x->exp <= 20) {
        unsigned __int128 v = m;
        for (int i = 0; i < e; i++) v *= 10; /* <= 10^20 < 2^67: no overflow */
        if ((neg && v - 1 <= UINT64_MAX) || (!neg && v <= UINT64_MAX)) {
            enc_int128(b, neg, v);
            return;
        }
    }
    kdb_enc_tag(b, KDB_TAG_DECIMAL);
    kdb_enc_array(b, 2);
    kdb_enc_i64(b, e);
    enc_int128(b, neg, m);
}
