/*
 * decode.c: CBOR -> Python values, the inverse of encode.c (docs/DATABASE.md "Values").
 *
 * The bytes come from the library: a stored item (in the file's mapping, valid until
 * close), a projection or a key (in a cursor's buffer). They were checked when written,
 * but a damaged file is possible, so every head is bounds-checked against the bytes left
 * and anything unexpected raises CorruptError; recursion stops at CONVERT_MAX_DEPTH.
 *
 * Heads are read by hand (next_head): a head is one byte and a 0/1/2/4/8-byte big-endian
 * argument. Measured with callgrind on a 10-attribute item (strings, numbers, a list, a
 * map), libcbor's cbor_stream_decode with recording callbacks cost 12,650 instructions per
 * decode against 12,020 by hand (5%), and the hand version states its bounds checks where
 * they are made, so libcbor is not used here. With the attribute-name cache, presized
 * dicts and byte-swapped loads a decode was 7,700; the common heads (small unsigned
 * integers, text of 2..23 bytes, doubles, booleans) taken from the first byte in value()
 * and map_items, cache hits decided by three words (kdp_strslot), and short ASCII values
 * shared from a cache of their own brought it to 6,200 (the rest: CPython's dict and
 * object creation, about half). A dict copied from a per-shape template and then filled
 * was tried and measured slower on CPython 3.11 (replacing a value costs as much as
 * inserting a name into a presized dict), so each dict is still filled name by name.
 * Integers, strings, floats and the
 * simple values become Python objects directly; tags 2/3 (bignums), 4 (decimal fractions),
 * 258 (sets) and 85 (float32 vectors) as in the values table. Map entries whose key is an
 * unsigned integer are padding (they place vectors 64-byte aligned) and are skipped.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common.h"

enum { K_UINT, K_NEG, K_BYTES, K_TEXT, K_ARRAY, K_MAP, K_TAG, K_FLOAT, K_FALSE, K_TRUE,
       K_NULL, K_BAD };

typedef struct {
    int kind;
    uint64_t u;         /* UINT, NEG (-1-u), ARRAY/MAP counts, TAG number, string lengths */
    double f;
    const uint8_t *data;/* BYTES, TEXT payload */
} head;


typedef struct {
    kdp_state *st;
    DatabaseObject *db;     /* the bytes lie in db's mapping (zero-copy vectors), or NULL */
    const uint8_t *base;    /* for offsets in messages */
    const uint8_t *p, *end;
} dec;

static PyObject *
corrupt(dec *d, const char *what)
{
    PyErr_Format(d->st->CorruptError, "stored item is malformed at byte %zd: %s",
                 (Py_ssize_t)(d->p - d->base), what);
    return NULL;
}

/* The current exception as one object (PyErr_GetRaisedException is 3.12+). */
static PyObject *
get_raised(void)
{
    PyObject *type, *val, *tb;
    PyErr_Fetch(&type, &val, &tb);
    PyErr_NormalizeException(&type, &val, &tb);
    if (tb != NULL && val != NULL)
        PyException_SetTraceback(val, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return val;
}

static void
set_raised(PyObject *exc)
{
    PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    Py_DECREF(exc);
}

/* Big-endian loads of bytes already copied into an integer. */
static inline uint32_t
load_be32(uint32_t u)
{
#if PY_LITTLE_ENDIAN
    return __builtin_bswap32(u);
#else
    return u;
#endif
}

static inline uint64_t
load_be64(uint64_t u)
{
#if PY_LITTLE_ENDIAN
    return __builtin_bswap64(u);
#else
    return u;
#endif
}

/* Read the next head; 0, or -1 with CorruptError. */
static int
next_head(dec *d, head *h)
{
    size_t left = (size_t)(d->end - d->p);
    if (left == 0) {
        corrupt(d, "truncated");
        return -1;
    }
    const uint8_t *p = d->p;
    unsigned major = p[0] >> 5, ai = p[0] & 31;
    uint64_t arg;
    size_t n = 1;
    if (ai < 24) {
        arg = ai;
    } else if (ai <= 27) {
        size_t w = (size_t)1 << (ai - 24);
        if (left < 1 + w) {
            corrupt(d, "truncated");
            return -1;
        }
        switch (w) {
        case 1:
            arg = p[1];
            break;
        case 2:
            arg = (uint64_t)p[1] << 8 | p[2];
            break;
        case 4: {
            uint32_t u;
            memcpy(&u, p + 1, 4);
            arg = load_be32(u);
            break;
        }
        default: {
            uint64_t u;
            memcpy(&u, p + 1, 8);
            arg = load_be64(u);
            break;
        }
        }
        n += w;
    } else {
        corrupt(d, "unexpected CBOR (indefinite length or reserved)");
        return -1;
    }
    switch (major) {
    case 0: h->kind = K_UINT; h->u = arg; break;
    case 1: h->kind = K_NEG; h->u = arg; break;
    case 2:
    case 3:
        if (arg > left - n) {
            corrupt(d, "truncated string");
            return -1;
        }
        h->kind = major == 2 ? K_BYTES : K_TEXT;
        h->u = arg;
        h->data = p + n;
        n += (size_t)arg;
        break;
    case 4: h->kind = K_ARRAY; h->u = arg; break;
    case 5: h->kind = K_MAP; h->u = arg; break;
    case 6: h->kind = K_TAG; h->u = arg; break;
    default:
        if (ai == 20 || ai == 21) {
            h->kind = ai == 21 ? K_TRUE : K_FALSE;
        } else if (ai == 22) {
            h->kind = K_NULL;
        } else if (ai == 25) {
            h->kind = K_FLOAT;
#if PY_VERSION_HEX >= 0x030B0000
            h->f = PyFloat_Unpack2((const char *)p + 1, 0);  /* half float, big-endian */
#else
            h->f = _PyFloat_Unpack2(p + 1, 0);
#endif
        } else if (ai == 26) {
            uint32_t u = (uint32_t)arg;
            float f;
            memcpy(&f, &u, 4);
            h->kind = K_FLOAT;
            h->f = f;
        } else if (ai == 27) {
            double f;
            memcpy(&f, &arg, 8);
            h->kind = K_FLOAT;
            h->f = f;
        } else {
            corrupt(d, "unexpected simple value");
            return -1;
        }
    }
    d->p += n;
    return 0;
}

static PyObject *value(dec *d, int depth);
static inline __attribute__((always_inline)) int value_fast(dec *d, PyObject **out);

static PyObject *
int_of(dec *d, const head *h)
{
    if (h->kind == K_UINT)
        return PyLong_FromUnsignedLongLong(h->u);
    if (h->kind == K_NEG) {
        if (h->u <= (uint64_t)INT64_MAX)
            return PyLong_FromLongLong(-1 - (long long)h->u);
        PyObject *u = PyLong_FromUnsignedLongLong(h->u);
        if (u == NULL)
            return NULL;
        PyObject *r = PyNumber_Invert(u);  /* ~u == -1-u */
        Py_DECREF(u);
        return r;
    }
    return corrupt(d, "expected an integer");
}

/* Every float32 of a vector's n bytes is finite (the library's check when it decodes a
 * vector, so that a forged NaN is reported here as it is by filters and projections).
 * Branch-free so that it vectorizes; the bytes may be unaligned. */
static int
finite_f32(const uint8_t *p, size_t n)
{
    uint32_t bad = 0;
    for (size_t i = 0; i < n; i += 4) {
        uint32_t w;
        memcpy(&w, p + i, 4);
        bad |= (w & 0x7F800000u) == 0x7F800000u;
    }
    return !bad;
}

/* Tags 2/3: a byte string magnitude; tag 3 is -1-n. */
static PyObject *
bignum(dec *d, uint64_t tag)
{
    head h;
    if (next_head(d, &h) < 0)
        return NULL;
    if (h.kind != K_BYTES)
        return corrupt(d, "a bignum needs a byte string");
    /* A DynamoDB number is below 10^126 < 2^419: 53 bytes. A longer magnitude is damage (and
     * would make a number no str() or Decimal can take). */
    if (h.u > 64)
        return corrupt(d, "a bignum too long for a number");
    /* int.from_bytes rather than the private _PyLong_FromByteArray: bignums are rare. */
    PyObject *n = PyObject_CallMethod((PyObject *)&PyLong_Type, "from_bytes", "y#s",
                                      (const char *)h.data, (Py_ssize_t)h.u, "big");
    if (n == NULL || tag == 2)
        return n;
    PyObject *r = PyNumber_Invert(n);
    Py_DECREF(n);
    return r;
}

/* An integer value (major 0/1 or a bignum), for decimal fractions. */
static PyObject *
integer(dec *d)
{
    head h;
    if (next_head(d, &h) < 0)
        return NULL;
    if (h.kind == K_TAG && (h.u == 2 || h.u == 3))
        return bignum(d, h.u);
    return int_of(d, &h);
}

/* Tag 4 [exponent, mantissa] -> Decimal("<mantissa>E<exponent>"), exact. */
static PyObject *
decimal_fraction(dec *d)
{
    head h;
    if (next_head(d, &h) < 0)
        return NULL;
    if (h.kind != K_ARRAY || h.u != 2)
        return corrupt(d, "a decimal fraction needs [exponent, mantissa]");
    PyObject *e = integer(d);
    if (e == NULL)
        return NULL;
    /* Written exponents lie in DynamoDB's range (about -130 - 38 to 126); a damaged one could
     * be any integer, which Decimal refuses with its own exception (or takes, huge). */
    int overflow = 0;
    long long ev = PyLong_AsLongLongAndOverflow(e, &overflow);
    if (overflow || ev < -1000 || ev > 1000) {
        Py_DECREF(e);
        if (PyErr_Occurred())
            return NULL;
        return corrupt(d, "a decimal fraction's exponent is out of range");
    }
    PyObject *m = integer(d);
    if (m == NULL) {
        Py_DECREF(e);
        return NULL;
    }
    PyObject *r = NULL;
    if (d->st->Decimal == NULL) {
        PyObject *mod = PyImport_ImportModule("decimal");
        if (mod != NULL) {
            d->st->Decimal = PyObject_GetAttrString(mod, "Decimal");
            Py_DECREF(mod);
        }
    }
    if (d->st->Decimal != NULL) {
        PyObject *txt = PyUnicode_FromFormat("%SE%S", m, e);
        if (txt != NULL) {
            r = PyObject_CallOneArg(d->st->Decimal, txt);
            Py_DECREF(txt);
        }
    }
    Py_DECREF(e);
    Py_DECREF(m);
    return r;
}

static PyObject *
array_items(dec *d, uint64_t n, int depth, int as_set)
{
    if (n > (uint64_t)(d->end - d->p))  /* each element takes at least one byte */
        return corrupt(d, "array longer than its bytes");
    PyObject *out = as_set ? PySet_New(NULL) : PyList_New((Py_ssize_t)n);
    if (out == NULL)
        return NULL;
    for (uint64_t i = 0; i < n; i++) {
        PyObject *v = value(d, depth + 1);
        if (v == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        if (as_set) {
            int r = PySet_Add(out, v);
            Py_DECREF(v);
            if (r < 0) {
                Py_DECREF(out);
                return NULL;
            }
        } else {
            PyList_SET_ITEM(out, (Py_ssize_t)i, v);
        }
    }
    return out;
}

/* Skip one value (a padding entry's byte string, normally). */
static int
skip(dec *d, int depth)
{
    head h;
    if (depth > CONVERT_MAX_DEPTH) {
        corrupt(d, "nested too deeply");
        return -1;
    }
    if (next_head(d, &h) < 0)
        return -1;
    uint64_t n = 0;
    switch (h.kind) {
    case K_ARRAY: n = h.u; break;
    case K_MAP:
        if (h.u > UINT64_MAX / 2)
            return corrupt(d, "map too long"), -1;
        n = 2 * h.u;
        break;
    case K_TAG: n = 1; break;
    default: return 0;
    }
    for (uint64_t i = 0; i < n; i++)
        if (skip(d, depth + 1) < 0)
            return -1;
    return 0;
}

/* Whether n bytes are all ASCII, a word at a time; from 8 bytes on, the tail is the last
 * word (overlapping the one before), 4..7 bytes two overlapping half words. */
static inline int
is_ascii(const uint8_t *p, size_t n)
{
    uint64_t acc = 0;
    if (n >= 8) {
        size_t i = 0;
        uint64_t w;
        for (; i + 8 <= n; i += 8) {
            memcpy(&w, p + i, 8);
            acc |= w;
        }
        memcpy(&w, p + n - 8, 8);
        acc |= w;
    } else if (n >= 4) {
        uint32_t x, y;
        memcpy(&x, p, 4);
        memcpy(&y, p + n - 4, 4);
        acc = x | y;
    } else {
        for (size_t i = 0; i < n; i++)
            acc |= p[i];
    }
    return (acc & 0x8080808080808080ull) == 0;
}

/* Text as a str. ASCII text (most attribute values) is copied straight into a new compact
 * ASCII str; PyUnicode_DecodeUTF8 (for the rest) spends twice as long finding that out. */
static PyObject *
text(const uint8_t *p, size_t n)
{
    if (!is_ascii(p, n) || n < 2)    /* CPython keeps "" and 1-char strs */
        return PyUnicode_DecodeUTF8((const char *)p, (Py_ssize_t)n, "strict");
    PyObject *s = PyUnicode_New((Py_ssize_t)n, 127);
    if (s != NULL)
        memcpy(PyUnicode_DATA(s), p, n);
    return s;
}

/* The words of n bytes for the caches (see kdp_strslot in common.h): the first and last 8
 * bytes, or the first and last 4, or the bytes themselves; with n they identify up to 16
 * bytes exactly. */
static inline void
words_of(const uint8_t *p, size_t n, uint64_t *a, uint64_t *b)
{
    if (n >= 8) {
        memcpy(a, p, 8);
        memcpy(b, p + n - 8, 8);
    } else if (n >= 4) {
        uint32_t x, y;
        memcpy(&x, p, 4);
        memcpy(&y, p + n - 4, 4);
        *a = x;
        *b = y;
    } else {
        uint64_t v = 0;
        for (size_t i = 0; i < n; i++)
            v = v << 8 | p[i];
        *a = v;
        *b = 0;
    }
}

/* A cache lookup of n bytes (n <= 48): the entry they belong in, whether it holds them,
 * and their words for cache_keep. A byte-at-a-time hash cost more than the rest of a hit;
 * a collision only costs a miss. */
typedef struct {
    kdp_strslot *e;
    uint64_t a, b;
    size_t n;
} cache_ref;

static inline int
cache_find(kdp_strslot *cache, size_t slots, const uint8_t *p, size_t n, cache_ref *r)
{
    uint64_t a, b;
    words_of(p, n, &a, &b);
    uint64_t h = a * 0x9E3779B97F4A7C15ull ^ (b + n) * 0xC2B2AE3D27D4EB4Full;
    h ^= h >> 32;
    h ^= h >> 13;
    kdp_strslot *e = &cache[h & (slots - 1)];
    r->e = e;
    r->a = a;
    r->b = b;
    r->n = n;
    return e->s != NULL && e->n == n && e->a == a && e->b == b &&
           (n <= 16 || memcmp((const uint8_t *)PyUnicode_DATA(e->s) + 8, p + 8, n - 16) == 0);
}

/* Keep s (compact ASCII, the looked-up bytes) in the entry, dropping the str it held. The
 * words change with the str, after the allocations (a collection they start could run
 * code that decodes and reads this entry). */
static inline void
cache_keep(const cache_ref *r, PyObject *s)
{
    PyObject *old = r->e->s;
    r->e->s = Py_NewRef(s);
    r->e->a = r->a;
    r->e->b = r->b;
    r->e->n = r->n;
    Py_XDECREF(old);
}

/* A name or value not in its cache: made, and kept in the entry r found when cacheable. */
static PyObject *
attr_name_miss(const uint8_t *p, size_t n, const cache_ref *r)
{
    PyObject *k = text(p, n);
    if (k != NULL && PyUnicode_IS_COMPACT_ASCII(k)) {
        if (PyObject_Hash(k) == -1) {   /* computed once, kept in the str */
            Py_DECREF(k);
            return NULL;
        }
        cache_keep(r, k);
    }
    return k;
}

static PyObject *
text_value_miss(const uint8_t *p, size_t n, const cache_ref *r)
{
    PyObject *k = PyUnicode_New((Py_ssize_t)n, 127);
    if (k == NULL)
        return NULL;
    memcpy(PyUnicode_DATA(k), p, n);
    cache_keep(r, k);
    return k;
}

/* An attribute name as a str, from the cache when it was seen before (see common.h). A
 * hit is inlined into its callers (a call's register saves cost as much as the hit); a
 * miss, rare, is a call. */
static inline __attribute__((always_inline)) PyObject *
attr_name(kdp_state *st, const uint8_t *p, size_t n)
{
    if (n > KEYCACHE_MAXLEN)
        return PyUnicode_DecodeUTF8((const char *)p, (Py_ssize_t)n, "strict");
    cache_ref r;
    if (cache_find(st->keycache, KEYCACHE_SLOTS, p, n, &r))
        return Py_NewRef(r.e->s);
    return attr_name_miss(p, n, &r);
}

/* A text value as a str: short ASCII values from the value cache (see common.h). */
static inline __attribute__((always_inline)) PyObject *
text_value(kdp_state *st, const uint8_t *p, size_t n)
{
    if (n < 2 || n > VALCACHE_MAXLEN || !is_ascii(p, n))
        return text(p, n);
    cache_ref r;
    if (cache_find(st->valcache, VALCACHE_SLOTS, p, n, &r))
        return Py_NewRef(r.e->s);
    return text_value_miss(p, n, &r);
}

static PyObject *
map_items(dec *d, uint64_t n, int depth)
{
    if (n > (uint64_t)(d->end - d->p))
        return corrupt(d, "map longer than its bytes");
    /* Sized for n pairs up front: no resize while filling (padding pairs only overcount). */
    PyObject *out = _PyDict_NewPresized((Py_ssize_t)n);
    if (out == NULL)
        return NULL;
    for (uint64_t i = 0; i < n; i++) {
        PyObject *k;
        const uint8_t *p = d->p;
        unsigned b = p < d->end ? p[0] : 0;
        if (b >= 0x61 && b < 0x78 && (size_t)(b - 0x60) < (size_t)(d->end - p)) {
            /* A name of 1..23 bytes (almost every name): no head to decode. */
            d->p = p + 1 + (b - 0x60);
            k = attr_name(d->st, p + 1, b - 0x60);
            goto have_name;
        }
        head h;
        if (next_head(d, &h) < 0)
            goto fail;
        if (h.kind == K_UINT) {         /* padding: skip its value */
            if (skip(d, depth + 1) < 0)
                goto fail;
            continue;
        }
        if (h.kind != K_TEXT) {
            corrupt(d, "attribute names must be text");
            goto fail;
        }
        k = attr_name(d->st, h.data, (size_t)h.u);
    have_name:
        if (k == NULL)
            goto fail;
        PyObject *v;
        if (depth + 1 > CONVERT_MAX_DEPTH || !value_fast(d, &v))
            v = value(d, depth + 1);    /* (which reports the depth) */
        if (v == NULL) {
            Py_DECREF(k);
            goto fail;
        }
        int r = PyDict_SetItem(out, k, v);
        Py_DECREF(k);
        Py_DECREF(v);
        if (r < 0)
            goto fail;
    }
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

/* Any value, from its head. */
static PyObject *
value_slow(dec *d, int depth)
{
    if (d->p < d->end) {    /* arrays and maps of up to 23 elements: the head is one byte */
        unsigned b = d->p[0];
        if (b >= 0x80 && b < 0x98) {
            d->p++;
            return array_items(d, b - 0x80, depth, 0);
        }
        if (b >= 0xA0 && b < 0xB8) {
            d->p++;
            return map_items(d, b - 0xA0, depth);
        }
    }
    head h;
    if (next_head(d, &h) < 0)
        return NULL;
    switch (h.kind) {
    case K_UINT:
    case K_NEG:
        return int_of(d, &h);
    case K_BYTES:
        return PyBytes_FromStringAndSize((const char *)h.data, (Py_ssize_t)h.u);
    case K_TEXT:
        return text_value(d->st, h.data, (size_t)h.u);
    case K_ARRAY:
        return array_items(d, h.u, depth, 0);
    case K_MAP:
        return map_items(d, h.u, depth);
    case K_FLOAT:
        return PyFloat_FromDouble(h.f);
    case K_FALSE:
        Py_RETURN_FALSE;
    case K_TRUE:
        Py_RETURN_TRUE;
    case K_NULL:
        Py_RETURN_NONE;
    case K_TAG:
        switch (h.u) {
        case 2:
        case 3:
            return bignum(d, h.u);
        case 4:
            return decimal_fraction(d);
        case 258: {
            head a;
            if (next_head(d, &a) < 0)
                return NULL;
            if (a.kind != K_ARRAY)
                return corrupt(d, "a set needs an array");
            return array_items(d, a.u, depth, 1);
        }
        case 85: {
            head a;
            if (next_head(d, &a) < 0)
                return NULL;
            if (a.kind != K_BYTES || a.u == 0 || a.u % 4 != 0)
                return corrupt(d, "a float32 vector needs a byte string of 4-byte values");
            if (!finite_f32(a.data, (size_t)a.u))
                return corrupt(d, "a float32 vector holds a NaN or infinity");
            return kdp_vector_value(d->st, d->db, a.data, (size_t)(a.u / 4));
        }
        default:
            return corrupt(d, "unknown tag");
        }
    default:
        return corrupt(d, "unexpected CBOR");
    }
}

/* The common heads (small unsigned integers, short text, doubles, booleans) straight from
 * the first byte: 1 with *out set (NULL with an exception on failure), or 0 for every other
 * head and every head that does not fit the bytes left (value_slow reads those through
 * next_head, which reports the damage). Inlined where a value is read: in map_items' loop
 * (most values) it saves value()'s call. */
static inline __attribute__((always_inline)) int
value_fast(dec *d, PyObject **out)
{
    const uint8_t *p = d->p;
    size_t left = (size_t)(d->end - p);
    if (left == 0)
        return 0;
    unsigned b = p[0];
    if (b < 0x18) {                             /* unsigned 0..23 */
        d->p = p + 1;
        *out = PyLong_FromLong((long)b);
        return 1;
    }
    if (b >= 0x62 && b < 0x78 && (size_t)(b - 0x60) < left) {  /* text of 2..23 bytes */
        size_t n = b - 0x60;
        d->p = p + 1 + n;
        *out = text_value(d->st, p + 1, n);
        return 1;
    }
    if (b == 0xFB && left >= 9) {               /* double */
        uint64_t u;
        double f;
        memcpy(&u, p + 1, 8);
        u = load_be64(u);
        memcpy(&f, &u, 8);
        d->p = p + 9;
        *out = PyFloat_FromDouble(f);
        return 1;
    }
    if (b == 0x18 && left >= 2) {               /* unsigned 24..255 */
        d->p = p + 2;
        *out = PyLong_FromLong((long)p[1]);
        return 1;
    }
    if (b == 0x19 && left >= 3) {               /* unsigned 256..65535 */
        d->p = p + 3;
        *out = PyLong_FromLong((long)((unsigned)p[1] << 8 | p[2]));
        return 1;
    }
    if (b == 0xF5 || b == 0xF4) {
        d->p = p + 1;
        *out = Py_NewRef(b == 0xF5 ? Py_True : Py_False);
        return 1;
    }
    return 0;
}

/* A value: value_fast's heads, else value_slow. */
static PyObject *
value(dec *d, int depth)
{
    if (depth > CONVERT_MAX_DEPTH)
        return corrupt(d, "nested too deeply");
    PyObject *v;
    if (value_fast(d, &v))
        return v;
    return value_slow(d, depth);
}

PyObject *
kdp_decode(kdp_state *st, DatabaseObject *db, const uint8_t *p, size_t len)
{
    dec d = {st, db, p, p, p + len};
    PyObject *v = value(&d, 0);
    if (v == NULL && (PyErr_ExceptionMatches(PyExc_UnicodeDecodeError) ||
                      PyErr_ExceptionMatches(PyExc_TypeError))) {
        /* Text that is not UTF-8, or a set holding a list or a map: damaged bytes. */
        PyObject *cause = get_raised();
        PyErr_Format(st->CorruptError, "stored item is malformed near byte %zd: %S",
                     (Py_ssize_t)(d.p - d.base), cause);
        PyObject *exc = get_raised();
        PyException_SetCause(exc, cause);   /* steals cause */
        set_raised(exc);
        return NULL;
    }
    if (v != NULL && d.p != d.end) {
        Py_DECREF(v);
        return corrupt(&d, "bytes after the value");
    }
    return v;
}
