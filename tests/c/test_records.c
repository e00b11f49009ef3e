/*
 * test_records.c: the record-file format (keel_records.h) from C.
 *
 * Byte-level facts (signature, placement formulas, varints), round trips with random
 * access, a cut at every offset of the last 64 KiB block under both corruption strategies,
 * bit flips, appending after a crash or after a chunk whose data was lost (saved, cut),
 * injected write faults, compression, the background
 * writer (same bytes as inline, errors reported and cut back), and the sharded
 * multi-threaded writer and reader (4 shards x 100k records, no loss, no duplicate).
 */
#include "harness.h"
#include "records/records.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)sz + 1);
    if (b && fread(b, 1, (size_t)sz, f) != (size_t)sz) { free(b); b = NULL; }
    fclose(f);
    *n = (size_t)sz;
    return b;
}

static void spit(const char *path, const uint8_t *b, size_t n) {
    FILE *f = fopen(path, "wb");
    if (n) fwrite(b, 1, n, f);
    fclose(f);
}

static size_t rec_len(unsigned i) { return (i * 2654435761u) % 3000; }
static void rec_fill(uint8_t *b, unsigned i, size_t n) {
    for (size_t j = 0; j < n; j++) b[j] = (uint8_t)(i * 31 + j * 7);
}
static int rec_check(const keel_rec_record *r, unsigned i) {
    uint8_t buf[3000];
    size_t n = rec_len(i);
    rec_fill(buf, i, n);
    return r->len == n && memcmp(r->data, buf, n) == 0;
}

/* Write `n` records, flushing every `per_chunk`; chunk_ends[k] = file size after flush k. */
static void write_file(const char *path, unsigned n, unsigned per_chunk, uint64_t *chunk_ends,
                       keel_rec_compression comp) {
    keel_rec_writer_options o = KEEL_REC_WRITER_OPTIONS_INIT;
    o.compression = comp;
    keel_rec_writer *w;
    REQUIRE(keel_rec_writer_open(path, &o, &w) == KEEL_OK);
    uint8_t buf[3000];
    for (unsigned i = 0; i < n; i++) {
        rec_fill(buf, i, rec_len(i));
        CHECK(keel_rec_writer_write(w, buf, rec_len(i)) == KEEL_OK);
        if ((i + 1) % per_chunk == 0) {
            CHECK(keel_rec_writer_flush(w) == KEEL_OK);
            if (chunk_ends) chunk_ends[i / per_chunk] = keel_rec_writer_pos(w);
        }
    }
    CHECK(keel_rec_writer_close(w) == KEEL_OK);
}

/* Read sequentially; returns records read in order and checked, *st_out the final status. */
static unsigned read_file(const char *path, keel_rec_corruption cs, keel_status *st_out,
                          int *bad_out) {
    keel_rec_reader_options ro = {cs};
    keel_rec_reader *r;
    keel_status st = keel_rec_reader_open(path, &ro, &r);
    *bad_out = 0;
    if (st) {
        *st_out = st;
        return 0;
    }
    keel_rec_record rec;
    unsigned n = 0, want = 0;
    while ((st = keel_rec_reader_next(r, &rec)) == KEEL_OK) {
        /* Records come in file order; after a skipped region the next one is further on
         * (record.index counts what was read, so it is not used to find it). */
        unsigned i = want;
        while (i < want + 2000 && !rec_check(&rec, i)) i++;
        if (i == want + 2000) (*bad_out)++;
        else want = i + 1;
        n++;
    }
    *st_out = st;
    keel_rec_reader_close(r);
    return n;
}

static void test_signature_and_formulas(void) {
    /* The signature is a block header and an 's' chunk header, as Riegeli computes them. */
    uint8_t sig[64];
    keel__rec_block_header_encode(0, 64, sig);
    rec_chunk_header h = {0, 0, keel__rec_hash("", 0), 's', 0, 0};
    keel__rec_chunk_header_encode(&h, sig + 24);
    CHECK_MEM(sig, keel__rec_signature, 64);
    CHECK_EQ(keel__rec_signature[0], 0x83);
    CHECK_EQ(keel__rec_chunk_end(0, 0, 0), 64);
    CHECK_EQ(keel__rec_chunk_end(64, 12, 2), 116);          /* from array_record's output */
    CHECK_EQ(keel__rec_chunk_end(64, 65432, 1), 65536);     /* ends on the boundary */
    CHECK_EQ(keel__rec_chunk_end(64, 65433, 1), 65536 + 24 + 1);
    CHECK_EQ(keel__rec_chunk_end(65536, 1, 1), 65536 + 24 + 41);
    CHECK_EQ(keel__rec_round_up_boundary(65536 + 1), 65536 + 25);
    CHECK_EQ(keel__rec_round_up_boundary(65536 + 25), 65536 + 25);
    CHECK_EQ(keel__rec_round_up_boundary(65536), 65536);
    /* Varints: canonical out, Disky's non-canonical 127 (FF 00) accepted in. */
    uint8_t v[10];
    CHECK_EQ(keel__rec_put_varint(v, 127), 1);
    CHECK_EQ(v[0], 0x7f);
    CHECK_EQ(keel__rec_put_varint(v, 128), 2);
    const uint8_t disky[2] = {0xff, 0x00}, *p = disky;
    uint64_t x;
    CHECK(keel__rec_get_varint(&p, disky + 2, &x) && x == 127 && p == disky + 2);
    const uint8_t over[11] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0};
    p = over;
    CHECK(!keel__rec_get_varint(&p, over + 11, &x));
    /* An empty file of ours is exactly the signature. */
    keel_rec_writer *w;
    REQUIRE(keel_rec_writer_open(h_path("e"), NULL, &w) == KEEL_OK);
    CHECK(keel_rec_writer_close(w) == KEEL_OK);
    size_t n;
    uint8_t *b = slurp(h_path("e"), &n);
    CHECK(b && n == 64 && memcmp(b, keel__rec_signature, 64) == 0);
    free(b);
}

static void test_roundtrip_random_access(void) {
    const unsigned N = 5000;
    for (int comp = 0; comp < 3; comp++) {
        write_file(h_path("f"), N, 700, NULL, (keel_rec_compression)comp);
        keel_status st;
        int bad;
        CHECK_EQ(read_file(h_path("f"), KEEL_REC_ERROR, &st, &bad), N);
        CHECK_EQ(st, KEEL_NOTFOUND);
        CHECK_EQ(bad, 0);
        uint64_t cnt = 0;
        CHECK(keel_rec_count(h_path("f"), NULL, &cnt) == KEEL_OK && cnt == N);
        keel_rec_reader *r;
        REQUIRE(keel_rec_reader_open(h_path("f"), NULL, &r) == KEEL_OK);
        keel_rec_record rec;
        for (unsigned k = 0; k < 200; k++) {
            unsigned i = (k * 7919u) % N;
            CHECK(keel_rec_reader_get(r, i, &rec) == KEEL_OK && rec_check(&rec, i));
        }
        CHECK(keel_rec_reader_get(r, N, &rec) == KEEL_ERANGE);
        CHECK(keel_rec_reader_seek(r, 4321) == KEEL_OK);
        CHECK_EQ(keel_rec_reader_tell(r), 4321);
        CHECK(keel_rec_reader_next(r, &rec) == KEEL_OK && rec.index == 4321 && rec_check(&rec, 4321));
        /* numeric positions: seek_pos(pos of record i) lands on record i */
        uint64_t pos = rec.pos;
        CHECK(keel_rec_reader_seek_pos(r, pos) == KEEL_OK);
        CHECK(keel_rec_reader_next(r, &rec) == KEEL_OK && rec.index == 4321);
        CHECK(keel_rec_reader_seek(r, N) == KEEL_OK);
        CHECK(keel_rec_reader_next(r, &rec) == KEEL_NOTFOUND);
        keel_rec_reader_close(r);
    }
}

/* Cut the file at every offset of its last 64 KiB block: the records of complete chunks
 * come back; the error strategy then reports the truncation, recover ends cleanly. */
static void test_truncate_every_offset(void) {
    uint64_t ends[64];
    const unsigned N = 100, PER = 5;
    write_file(h_path("cut"), N, PER, ends, KEEL_REC_UNCOMPRESSED);
    size_t n;
    uint8_t *data = slurp(h_path("cut"), &n);
    REQUIRE(data && n > 2 * REC_B);
    /* Cut the same file shorter and shorter: one truncate per offset, no rewrite. Under a
     * sanitizer (h_size) every 11th offset, plus each chunk end and its neighbours. */
    size_t step = h_size(1, 11);
    for (size_t cut = n; cut + 1 > n - REC_B && h_failures() < 5; cut--) {
        bool near_end = false;
        for (unsigned k = 0; k < N / PER; k++)
            if (ends[k] + 1 >= cut && ends[k] <= cut + 1) near_end = true;
        if ((n - cut) % step != 0 && !near_end) continue;
        if ((n - cut) % 4096 == 0) h_progress("cut at %zu of %zu", cut, n);
        REQUIRE(truncate(h_path("cut"), (off_t)cut) == 0);
        unsigned complete = 0;
        bool at_end = false;
        for (unsigned k = 0; k < N / PER; k++) {
            if (ends[k] <= cut) complete = (k + 1) * PER;
            if (ends[k] == cut) at_end = true;
        }
        keel_status st;
        int bad;
        unsigned got = read_file(h_path("cut"), KEEL_REC_RECOVER, &st, &bad);
        CHECKF(got == complete && st == KEEL_NOTFOUND && !bad, "cut %zu: %u/%u", cut, got, complete);
        got = read_file(h_path("cut"), KEEL_REC_ERROR, &st, &bad);
        CHECKF(got == complete && !bad && st == (at_end ? KEEL_NOTFOUND : KEEL_ECORRUPT),
               "cut %zu: %u/%u st %d", cut, got, complete, st);
        uint64_t cnt = 0;
        keel_rec_reader_options ro = {KEEL_REC_RECOVER};
        CHECK(keel_rec_count(h_path("cut"), &ro, &cnt) == KEEL_OK && cnt == complete);
    }
    free(data);
}

static void test_bit_flips(void) {
    const unsigned N = 600;
    write_file(h_path("src"), N, 40, NULL, KEEL_REC_UNCOMPRESSED);
    size_t n;
    uint8_t *data = slurp(h_path("src"), &n);
    REQUIRE(data);
    for (size_t off = 8; off < n && h_failures() < 5; off += 1531) {
        data[off] ^= (uint8_t)(1u << (off % 8));
        spit(h_path("bad"), data, n);
        data[off] ^= (uint8_t)(1u << (off % 8));
        keel_status st;
        int bad;
        unsigned got = read_file(h_path("bad"), KEEL_REC_ERROR, &st, &bad);
        CHECKF(st == KEEL_ECORRUPT || st == KEEL_EFORMAT, "off %zu st %d", off, st);
        CHECK(!bad && got < N);
        CHECKF(strstr(keel_errmsg(), "offset") != NULL, "%s", keel_errmsg());
        got = read_file(h_path("bad"), KEEL_REC_RECOVER, &st, &bad);
        /* A damaged signature block header costs nothing under recover. */
        CHECKF(!bad && st == KEEL_NOTFOUND && (got < N || off < 64) && got + 40 * 40 >= N,
               "off %zu: got %u st %d", off, got, st);
    }
    free(data);
}

static void test_append_after_crash(void) {
    uint64_t ends[16];
    write_file(h_path("f"), 400, 100, ends, KEEL_REC_UNCOMPRESSED);
    REQUIRE(truncate(h_path("f"), (off_t)(ends[3] - 100)) == 0);
    keel_rec_writer_options o = KEEL_REC_WRITER_OPTIONS_INIT;
    o.append = 1;
    keel_rec_writer *w;
    REQUIRE(keel_rec_writer_open(h_path("f"), &o, &w) == KEEL_OK);
    CHECK_EQ(keel_rec_writer_pos(w), ends[2]);
    uint8_t buf[3000];
    for (unsigned i = 300; i < 400; i++) {
        rec_fill(buf, i, rec_len(i));
        CHECK(keel_rec_writer_write(w, buf, rec_len(i)) == KEEL_OK);
    }
    CHECK(keel_rec_writer_close(w) == KEEL_OK);
    keel_status st;
    int bad;
    CHECK_EQ(read_file(h_path("f"), KEEL_REC_ERROR, &st, &bad), 400);
    CHECK(st == KEEL_NOTFOUND && !bad);
    /* not a record file: refused, untouched */
    spit(h_path("g"), (const uint8_t *)"hello world", 11);
    CHECK(keel_rec_writer_open(h_path("g"), &o, &w) == KEEL_EFORMAT);
    struct stat sb;
    CHECK(stat(h_path("g"), &sb) == 0 && sb.st_size == 11);
}

/* The one "<path>.recovered-*" file beside `path`, malloc'd, or NULL. */
static char *saved_beside(const char *name) {
    DIR *d = opendir(h_dir);
    char *found = NULL, prefix[256];
    snprintf(prefix, sizeof prefix, "%s.recovered-", name);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        if (strncmp(de->d_name, prefix, strlen(prefix)) == 0 && !found) {
            size_t n = strlen(h_dir) + strlen(de->d_name) + 2;
            found = malloc(n);
            if (found) snprintf(found, n, "%s/%s", h_dir, de->d_name);
        }
    if (d) closedir(d);
    return found;
}

/* Issue 16, defect 5: the last chunk's header reached the disk but its data reads as
 * zeros (a power loss). Appending used to keep that chunk and write after it, and the
 * default reader then stopped at "data hash mismatch" and never returned the new records.
 * Append now checks the data, saves the damaged chunk beside the file and cuts it. */
static void test_append_after_damaged_chunk(void) {
    uint64_t ends[16];
    write_file(h_path("d"), 400, 100, ends, KEEL_REC_UNCOMPRESSED);
    size_t n;
    uint8_t *orig = slurp(h_path("d"), &n);
    REQUIRE(orig && n == ends[3]);
    uint8_t *b = malloc(n);
    REQUIRE(b);
    memcpy(b, orig, n);
    memset(b + ends[2] + REC_CH + 24, 0, (size_t)(n - ends[2] - REC_CH - 24));
    spit(h_path("d"), b, n);
    keel_rec_writer_options o = KEEL_REC_WRITER_OPTIONS_INIT;
    o.append = 1;
    o.sync = KEEL_SYNC_DATA;
    keel_rec_writer *w;
    REQUIRE(keel_rec_writer_open(h_path("d"), &o, &w) == KEEL_OK);
    CHECK_EQ(keel_rec_writer_pos(w), ends[2]);
#ifdef KEEL_HAS_RECOVERY_INFO
    keel_recovery r;
    REQUIRE(keel_rec_writer_recovery(w, &r) == KEEL_OK);
    CHECK(r.kind == KEEL_RECOVERY_CHECKSUM);
    CHECK_EQ(r.valid_end, ends[2]);
    CHECK_EQ(r.cut_bytes, n - ends[2]);
    CHECK(r.cut == 1 && r.saved_path && strstr(r.detail, r.saved_path));
#endif
    uint8_t buf[3000];
    for (unsigned i = 300; i < 400; i++) {
        rec_fill(buf, i, rec_len(i));
        CHECK(keel_rec_writer_write(w, buf, rec_len(i)) == KEEL_OK);
    }
    CHECK(keel_rec_writer_close(w) == KEEL_OK);
    keel_status st;
    int bad;
    unsigned got = read_file(h_path("d"), KEEL_REC_ERROR, &st, &bad);
    CHECKF(got == 400 && st == KEEL_NOTFOUND && !bad, "read %u records, then %d: %s", got,
           (int)st, keel_errmsg());
    char *saved = saved_beside("d");
    CHECKF(saved != NULL, "the damaged chunk was not saved");
    if (saved) {
        size_t sn;
        uint8_t *sb = slurp(saved, &sn);
        CHECK(sb && sn == n - ends[2] && memcmp(sb, b + ends[2], sn) == 0);
        free(sb);
    }
    free(saved);
    /* An intact file appends without cutting or saving anything. */
    REQUIRE(keel_rec_writer_open(h_path("d"), &o, &w) == KEEL_OK);
#ifdef KEEL_HAS_RECOVERY_INFO
    REQUIRE(keel_rec_writer_recovery(w, &r) == KEEL_OK);
    CHECK(r.kind == KEEL_RECOVERY_NONE && r.cut_bytes == 0 && r.saved_path == NULL);
#endif
    CHECK(keel_rec_writer_close(w) == KEEL_OK);
    free(b);
    free(orig);
}

static void test_write_faults(void) {
    keel_rec_writer *w;
    REQUIRE(keel_rec_writer_open(h_path("f"), NULL, &w) == KEEL_OK);
    CHECK(keel_rec_writer_write(w, "first", 5) == KEEL_OK);
    CHECK(keel_rec_writer_flush(w) == KEEL_OK);
    uint64_t good = keel_rec_writer_pos(w);
    CHECK(keel_rec_writer_write(w, "second", 6) == KEEL_OK);
    keel__fault_inject(KEEL_OS_WRITE, 0, KEEL_FAULT_SHORT, false);
    CHECK(keel_rec_writer_flush(w) == KEEL_ENOSPC);
    CHECK(keel_rec_writer_write(w, "third", 5) == KEEL_ENOSPC);     /* sticky */
    CHECK(keel_rec_writer_close(w) == KEEL_ENOSPC);
    keel__fault_clear();
    struct stat sb;
    CHECK(stat(h_path("f"), &sb) == 0 && (uint64_t)sb.st_size == good);  /* torn chunk cut */
    keel_status st;
    int bad;
    keel_rec_reader *r;
    REQUIRE(keel_rec_reader_open(h_path("f"), NULL, &r) == KEEL_OK);
    keel_rec_record rec;
    CHECK(keel_rec_reader_next(r, &rec) == KEEL_OK && rec.len == 5);
    CHECK(keel_rec_reader_next(r, &rec) == KEEL_NOTFOUND);
    keel_rec_reader_close(r);
    (void)st;
    (void)bad;
    CHECK(keel_rec_writer_open(NULL, NULL, &w) == KEEL_EINVAL);
    CHECK(keel_rec_writer_write(NULL, "x", 1) == KEEL_EINVAL);
}

/* Write records 0..n-1 with `o`, flushing every `flush_every` (0: never); *out receives
 * the file's bytes (NULL on failure). */
static void write_with(const char *path, const keel_rec_writer_options *o, unsigned n,
                       unsigned flush_every, uint8_t **out, size_t *len_out) {
    keel_rec_writer *w;
    *out = NULL;
    REQUIRE(keel_rec_writer_open(path, o, &w) == KEEL_OK);
    uint8_t buf[3000];
    for (unsigned i = 0; i < n; i++) {
        rec_fill(buf, i, rec_len(i));
        CHECK(keel_rec_writer_write(w, buf, rec_len(i)) == KEEL_OK);
        if (flush_every && (i + 1) % flush_every == 0) CHECK(keel_rec_writer_flush(w) == KEEL_OK);
    }
    CHECK(keel_rec_writer_close(w) == KEEL_OK);
    *out = slurp(path, len_out);
}

/* The background writer produces the very same bytes as writing inline (uncompressed, zstd,
 * ArrayRecord groups, with and without flushes), and a write that fails on its thread is
 * reported by the next chunk, flush or close, with the file cut back to complete chunks. */
static void test_background_writer(void) {
    struct {
        keel_rec_compression comp;
        uint32_t group;
        unsigned flush_every;
    } cases[] = {{KEEL_REC_UNCOMPRESSED, 0, 0}, {KEEL_REC_UNCOMPRESSED, 0, 700},
                 {KEEL_REC_ZSTD, 0, 0}, {KEEL_REC_ZSTD, 0, 333}, {KEEL_REC_UNCOMPRESSED, 100, 0},
                 {KEEL_REC_ZSTD, 64, 500}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        keel_rec_writer_options o = KEEL_REC_WRITER_OPTIONS_INIT;
        o.compression = cases[c].comp;
        o.chunk_size = 20000;  /* many chunks, most spanning a block boundary or two */
        o.array_record_group_size = cases[c].group;
        size_t n0 = 0, n1 = 0;
        uint8_t *a, *b;
        write_with(h_path("inline"), &o, 3000, cases[c].flush_every, &a, &n0);
        o.background = 1;
        write_with(h_path("bg"), &o, 3000, cases[c].flush_every, &b, &n1);
        REQUIRE(a && b);
        CHECK_EQ(n0, n1);
        CHECK(n0 == n1 && memcmp(a, b, n0) == 0);
        free(a);
        free(b);
        keel_status st;
        int bad;
        CHECK_EQ(read_file(h_path("bg"), KEEL_REC_ERROR, &st, &bad), 3000);
        CHECK(st == KEEL_NOTFOUND && !bad);
    }

    /* A failed background write. */
    keel_rec_writer_options o = KEEL_REC_WRITER_OPTIONS_INIT;
    o.chunk_size = 20000;
    o.background = 1;
    keel_rec_writer *w;
    REQUIRE(keel_rec_writer_open(h_path("f"), &o, &w) == KEEL_OK);
    uint8_t buf[3000];
    unsigned i = 0;
    for (; i < 100; i++) {
        rec_fill(buf, i, rec_len(i));
        CHECK(keel_rec_writer_write(w, buf, rec_len(i)) == KEEL_OK);
    }
    CHECK(keel_rec_writer_flush(w) == KEEL_OK);
    uint64_t good = keel_rec_writer_pos(w);
    keel__fault_inject(KEEL_OS_WRITE, 0, KEEL_FAULT_SHORT, false);
    keel_status st = KEEL_OK;
    for (; i < 1000 && st == KEEL_OK; i++) {  /* the second chunk handed over reports it */
        rec_fill(buf, i, rec_len(i));
        st = keel_rec_writer_write(w, buf, rec_len(i));
    }
    CHECK_EQ(st, KEEL_ENOSPC);
    CHECK(i < 1000);
    CHECK(keel_rec_writer_flush(w) == KEEL_ENOSPC);
    CHECK(keel_rec_writer_close(w) == KEEL_ENOSPC);
    keel__fault_clear();
    struct stat sb;
    CHECK(stat(h_path("f"), &sb) == 0 && (uint64_t)sb.st_size == good);
    int bad;
    CHECK_EQ(read_file(h_path("f"), KEEL_REC_ERROR, &st, &bad), 100);
    CHECK(st == KEEL_NOTFOUND && !bad);
}

static void test_chunks_outlive_reader(void) {
    keel_rec_writer *w;
    REQUIRE(keel_rec_writer_open(h_path("f"), NULL, &w) == KEEL_OK);
    CHECK(keel_rec_writer_write(w, "keep me", 7) == KEEL_OK);
    CHECK(keel_rec_writer_close(w) == KEEL_OK);
    keel_rec_reader *r;
    REQUIRE(keel_rec_reader_open(h_path("f"), NULL, &r) == KEEL_OK);
    keel_rec_record rec;
    REQUIRE(keel_rec_reader_next(r, &rec) == KEEL_OK);
    keel_rec_chunk_retain(rec.chunk);
    keel_rec_reader_close(r);
    CHECK(rec.len == 7 && memcmp(rec.data, "keep me", 7) == 0);
    keel_rec_chunk_release(rec.chunk);
}

static void test_mt_4_shards_100k(void) {
    keel_rec_mtwriter_options o;
    memset(&o, 0, sizeof o);
    o.dir = h_path("shards");
    o.num_shards = 4;
    o.worker_threads = 4;
    o.append = 1;
    keel_rec_writer_options wo = KEEL_REC_WRITER_OPTIONS_INIT;
    o.writer = wo;
    keel_rec_mtwriter *w;
    REQUIRE(keel_rec_mtwriter_open(&o, &w) == KEEL_OK);
    const unsigned N = 100000;
    for (unsigned i = 0; i < N; i++) {
        uint32_t v = i;
        CHECK(keel_rec_mtwriter_write(w, &v, sizeof v) == KEEL_OK);
    }
    CHECK(keel_rec_mtwriter_close(w) == KEEL_OK);
    const char *paths[4];
    char bufs[4][4200];
    for (int i = 0; i < 4; i++) {
        snprintf(bufs[i], sizeof bufs[i], "%s/shard_%d", h_path("shards"), i);
        paths[i] = bufs[i];
    }
    keel_rec_mtreader_options ro;
    memset(&ro, 0, sizeof ro);
    ro.paths = paths;
    ro.npaths = 4;
    ro.num_shards = 4;
    ro.worker_threads = 3;
    ro.queue_bytes = 4096;
    keel_rec_mtreader *r;
    REQUIRE(keel_rec_mtreader_open(&ro, &r) == KEEL_OK);
    uint8_t *seen = calloc(N, 1);
    keel_rec_record rec;
    keel_status st;
    unsigned n = 0, dup = 0;
    while ((st = keel_rec_mtreader_next(r, 1, &rec)) == KEEL_OK) {
        uint32_t v;
        CHECK(rec.len == 4);
        memcpy(&v, rec.data, 4);
        if (v < N && seen[v]++) dup++;
        n++;
    }
    CHECK_EQ(st, KEEL_NOTFOUND);
    CHECK_EQ(n, N);
    CHECK_EQ(dup, 0);
    keel_rec_mtreader_close(r);
    free(seen);
}

/* keel_rec_reader_chunks: the footer's list equals the header walk's; a footer that does
 * not hold together is ignored (walk); the footer-based index serves seek and get. */
static void test_chunk_list(void) {
    enum { N = 1000, G = 37 };
    keel_rec_writer_options o = KEEL_REC_WRITER_OPTIONS_INIT;
    o.array_record_group_size = G;
    keel_rec_writer *w;
    REQUIRE(keel_rec_writer_open(h_path("ar"), &o, &w) == KEEL_OK);
    uint8_t buf[3000];
    uint64_t bytes = 0;
    for (unsigned i = 0; i < N; i++) {
        rec_fill(buf, i, rec_len(i));
        bytes += rec_len(i);
        CHECK(keel_rec_writer_write(w, buf, rec_len(i)) == KEEL_OK);
    }
    CHECK(keel_rec_writer_close(w) == KEEL_OK);

    keel_rec_chunk_info a[64], b[64];
    size_t na = 0, nb = 0;
    int footer = -1;
    keel_rec_reader *r;
    keel_rec_reader_options ro = {KEEL_REC_ERROR};
    REQUIRE(keel_rec_reader_open(h_path("ar"), &ro, &r) == KEEL_OK);
    CHECK(keel_rec_reader_chunks(r, NULL, 0, &na, &footer) == KEEL_OK);
    CHECK_EQ(na, (N + G - 1) / G);
    CHECK_EQ(footer, 1);
    CHECK(keel_rec_reader_chunks(r, a, 64, &na, NULL) == KEEL_OK);
    uint64_t first = 0, dec = 0;
    for (size_t i = 0; i < na; i++) {
        CHECK_EQ(a[i].first_index, first);
        CHECK_EQ(a[i].num_records, i + 1 < na ? G : N - first);
        first += a[i].num_records;
        dec += a[i].decoded_size;
    }
    CHECK_EQ(dec, bytes);
    uint64_t len = 0;
    CHECK(keel_rec_reader_len(r, &len) == KEEL_OK);
    CHECK_EQ(len, N);
    keel_rec_record rec;
    CHECK(keel_rec_reader_get(r, 777, &rec) == KEEL_OK && rec_check(&rec, 777));
    CHECK(keel_rec_reader_seek(r, 500) == KEEL_OK);
    CHECK(keel_rec_reader_next(r, &rec) == KEEL_OK && rec_check(&rec, 500));
    CHECK(keel_rec_reader_chunks(NULL, a, 1, &na, NULL) == KEEL_EINVAL);
    CHECK(keel_rec_reader_chunks(r, NULL, 1, &na, NULL) == KEEL_EINVAL);
    keel_rec_reader_close(r);

    /* The recover strategy walks the headers: the same list. */
    ro.corruption = KEEL_REC_RECOVER;
    REQUIRE(keel_rec_reader_open(h_path("ar"), &ro, &r) == KEEL_OK);
    CHECK(keel_rec_reader_chunks(r, b, 64, &nb, &footer) == KEEL_OK);
    keel_rec_reader_close(r);
    CHECK_EQ(nb, na);
    CHECK(nb == na && memcmp(a, b, na * sizeof a[0]) == 0);

    /* A plain file (no footer): the walk; cap smaller than the count still counts all. */
    write_file(h_path("plain"), 1000, 100, NULL, KEEL_REC_UNCOMPRESSED);
    ro.corruption = KEEL_REC_ERROR;
    REQUIRE(keel_rec_reader_open(h_path("plain"), &ro, &r) == KEEL_OK);
    CHECK(keel_rec_reader_chunks(r, b, 3, &nb, &footer) == KEEL_OK);
    CHECK_EQ(nb, 10);
    CHECK_EQ(footer, 0);
    CHECK_EQ(b[2].first_index, 200);
    keel_rec_reader_close(r);
}

/* The compression level is checked against the compression, as Riegeli's option grammar
 * has it: uncompressed output takes none (a non-zero level is KEEL_EINVAL, not silently
 * ignored), zstd -131072..22, brotli 0..11; 0 is each codec's default. The multi-threaded
 * writer checks its writers' options when it opens, before any shard exists. */
static void test_writer_levels(void) {
    static const struct {
        keel_rec_compression c;
        int level;
        keel_status want;
    } cases[] = {
        {KEEL_REC_UNCOMPRESSED, 0, KEEL_OK},     {KEEL_REC_UNCOMPRESSED, 1, KEEL_EINVAL},
        {KEEL_REC_UNCOMPRESSED, -1, KEEL_EINVAL}, {KEEL_REC_ZSTD, 0, KEEL_OK},
        {KEEL_REC_ZSTD, 22, KEEL_OK},            {KEEL_REC_ZSTD, -131072, KEEL_OK},
        {KEEL_REC_ZSTD, 23, KEEL_EINVAL},        {KEEL_REC_ZSTD, -131073, KEEL_EINVAL},
        {KEEL_REC_BROTLI, 0, KEEL_OK},           {KEEL_REC_BROTLI, 11, KEEL_OK},
        {KEEL_REC_BROTLI, 12, KEEL_EINVAL},      {KEEL_REC_BROTLI, -1, KEEL_EINVAL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        keel_rec_writer_options o = KEEL_REC_WRITER_OPTIONS_INIT;
        o.compression = cases[i].c;
        o.level = cases[i].level;
        const char *p = h_path("levels");
        unlink(p);
        keel_rec_writer *w = NULL;
        keel_status st = keel_rec_writer_open(p, &o, &w);
        CHECK(st == cases[i].want);
        if (st == KEEL_OK) {
            CHECK(keel_rec_writer_write(w, "abc", 3) == KEEL_OK);
            CHECK(keel_rec_writer_close(w) == KEEL_OK);
        } else {
            CHECK(strstr(keel_errmsg(), "level") != NULL);
            CHECK(access(p, F_OK) != 0);   /* refused before the file is created */
        }
    }
    keel_rec_mtwriter_options mo;
    memset(&mo, 0, sizeof mo);
    mo.dir = h_path("levels-mt");
    mo.num_shards = 2;
    mo.worker_threads = 1;
    mo.writer = (keel_rec_writer_options)KEEL_REC_WRITER_OPTIONS_INIT;
    mo.writer.level = 3;
    keel_rec_mtwriter *mw = NULL;
    CHECK(keel_rec_mtwriter_open(&mo, &mw) == KEEL_EINVAL);
    CHECK(mw == NULL && strstr(keel_errmsg(), "uncompressed") != NULL);
    mo.writer.compression = KEEL_REC_ZSTD;
    REQUIRE(keel_rec_mtwriter_open(&mo, &mw) == KEEL_OK);
    CHECK(keel_rec_mtwriter_close(mw) == KEEL_OK);
}

int main(int argc, char **argv) {
    static const h_test tests[] = {
        H_TEST(test_signature_and_formulas),
        H_TEST(test_roundtrip_random_access),
        H_TEST(test_truncate_every_offset),
        H_TEST(test_bit_flips),
        H_TEST(test_append_after_crash),
        H_TEST(test_append_after_damaged_chunk),
        H_TEST(test_write_faults),
        H_TEST(test_background_writer),
        H_TEST(test_chunks_outlive_reader),
        H_TEST(test_mt_4_shards_100k),
        H_TEST(test_chunk_list),
        H_TEST(test_writer_levels),
    };
    return h_main(argc, argv, tests, H_COUNT(tests));
}
