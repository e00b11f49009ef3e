/*
 * serve.c: `keel serve FILE`: DynamoDB's HTTP endpoint on libmicrohttpd, in front of the
 * request handler of keel_server.h (the same function the Python in-process client calls).
 *
 * HTTP: POST / with X-Amz-Target "DynamoDB_20120810.<Operation>" and a JSON body; the
 * answer carries Content-Type application/x-amz-json-1.0, x-amzn-RequestId and x-amz-crc32
 * (zlib's CRC32 of the body bytes as sent, in decimal). GET / answers "healthy: keel" (as
 * DynamoDB's endpoints answer a GET), for readiness checks. Bodies over 16 MB are 413 (at
 * once when Content-Length says so, else when the body passes the limit); any other
 * malformed request is a 400 with a DynamoDB error body.
 *
 * Threads: libmicrohttpd's internal thread pool (--threads) runs the handler inline; the
 * database is shared (keel_db is thread-safe). Signals: SIGINT and SIGTERM are blocked in
 * every thread and taken by sigwait() in the main thread, which stops the daemon
 * (MHD_stop_daemon lets the requests being handled finish), syncs and closes the file.
 *
 * Security: loopback unless --host says otherwise; --max-connections bounds connections;
 * --auth KEYID:SECRET verifies SigV4 (sigv4.c), without it any credentials are accepted.
 */
#include "cli.h"
#include "serve.h"

#include "keel_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define TARGET_PREFIX "DynamoDB_20120810."
#define KSRV_COR "com.amazon.coral.service#"
#define KSRV_DDB "com.amazonaws.dynamodb.v20120810#"

typedef struct server {
    keel_db *db;
    ksv_auth auth;
    FILE *log;
    pthread_mutex_t log_lock;
    unsigned long long nonce;
    atomic_ullong counter;
} server;

/* One request's state: its body so far. */
typedef struct conn {
    char *body;
    size_t len, cap;
    bool too_big;
    size_t hint;            /* Content-Length, 0 when absent */
    struct timespec start;
} conn;

static const char *header_of(void *ctx, const char *name) {
    return MHD_lookup_connection_value((struct MHD_Connection *)ctx, MHD_HEADER_KIND, name);
}

static void log_request(server *s, struct MHD_Connection *c, const char *op, int status,
                        size_t in, size_t out, const conn *st) {
    if (!s->log) return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long us = (now.tv_sec - st->start.tv_sec) * 1000000LL +
                   (now.tv_nsec - st->start.tv_nsec) / 1000;
    char when[32], addr[64] = "-";
    time_t t = time(NULL);
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, addr,
                      sizeof addr);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
                      addr, sizeof addr);
    }
    pthread_mutex_lock(&s->log_lock);
    fprintf(s->log, "%s %s %s %d %zu %zu %lldus\n", when, addr, op ? op : "-", status, in, out,
            us);
    fflush(s->log);
    pthread_mutex_unlock(&s->log_lock);
}

/* Decimal digits of v into buf (NUL-terminated); printf's machinery costs more per
 * request than the rest of the header work. */
static void put_dec(char *buf, unsigned long v) {
    char t[24];
    size_t n = 0;
    do t[n++] = (char)('0' + v % 10); while ((v /= 10) != 0);
    for (size_t i = 0; i < n; i++) buf[i] = t[n - 1 - i];
    buf[n] = 0;
}

/* `digits` upper-case hex digits of v into buf (no NUL). */
static void put_hex(char *buf, unsigned long long v, int digits) {
    static const char hex[] = "0123456789ABCDEF";
    for (int i = digits - 1; i >= 0; i--, v >>= 4) buf[i] = hex[v & 15];
}

/* Queue `body` with DynamoDB's headers: a malloc'd body is handed over (`owned`: MHD frees
 * it when sent), any other is copied. */
static enum MHD_Result send_body(server *s, struct MHD_Connection *c, int status,
                                 const char *body, size_t len, bool owned) {
    struct MHD_Response *r =
        owned ? MHD_create_response_from_buffer_with_free_callback(len, (void *)body, free)
              : MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r) {
        if (owned) free((void *)body);
        return MHD_NO;
    }
    char crc[16], rid[40];
    put_dec(crc, crc32(0L, (const Bytef *)body, (uInt)len));
    unsigned long long n = atomic_fetch_add(&s->counter, 1);
    /* 16 hex digits of the nonce, then 20 of the counter (its top 4 always 0) */
    put_hex(rid, s->nonce, 16);
    memset(rid + 16, '0', 4);
    put_hex(rid + 20, n, 16);
    rid[36] = 0;
    MHD_add_response_header(r, "Content-Type", "application/x-amz-json-1.0");
    MHD_add_response_header(r, "x-amzn-RequestId", rid);
    MHD_add_response_header(r, "x-amz-crc32", crc);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

/* A protocol-level error (not from the handler) with a DynamoDB error body. */
static enum MHD_Result send_error(server *s, struct MHD_Connection *c, int status,
                                  const char *type, const char *msg, const conn *st) {
    char body[512];
    int n = snprintf(body, sizeof body, "{\"__type\":\"%s\",\"message\":\"%s\"}", type, msg);
    log_request(s, c, NULL, status, st ? st->len : 0, (size_t)n, st);
    return send_body(s, c, status, body, (size_t)n, false);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls) {
    (void)version;
    server *s = cls;
    conn *st = *con_cls;
    if (!st) {
        st = calloc(1, sizeof *st);
        if (!st) return MHD_NO;
        clock_gettime(CLOCK_MONOTONIC, &st->start);
        *con_cls = st;
        const char *cl = header_of(c, "Content-Length");
        unsigned long long declared = cl ? strtoull(cl, NULL, 10) : 0;
        if (declared > KEEL_DYNAMO_MAX_BODY) {
            st->too_big = true;
            return send_error(s, c, 413, KSRV_COR "SerializationException",
                              "Request body is larger than 16 MB", st);
        }
        /* the body buffer at its declared size: a fixed 4 KB first allocation is a
         * large-bin request for glibc, which consolidates the fast bins (the handler's
         * freed JSON nodes) on every request */
        st->hint = (size_t)declared;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!st->too_big && st->len + *upload_size > KEEL_DYNAMO_MAX_BODY) {
            st->too_big = true;
            free(st->body);
            st->body = NULL;
            st->len = st->cap = 0;
        }
        if (!st->too_big) {
            if (st->len + *upload_size > st->cap) {
                size_t cap = st->cap ? st->cap : st->hint >= *upload_size ? st->hint : 4096;
                while (cap < st->len + *upload_size) cap *= 2;
                char *b = realloc(st->body, cap);
                if (!b) return MHD_NO;
                st->body = b;
                st->cap = cap;
            }
            memcpy(st->body + st->len, upload, *upload_size);
            st->len += *upload_size;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (st->too_big)
        return send_error(s, c, 413, KSRV_COR "SerializationException",
                          "Request body is larger than 16 MB", st);
    if (strcmp(method, "GET") == 0) {
        static const char healthy[] = "healthy: keel";
        return send_body(s, c, 200, healthy, sizeof healthy - 1, false);
    }
    if (strcmp(method, "POST") != 0)
        return send_error(s, c, 405, KSRV_COR "UnknownOperationException",
                          "Only POST is supported", st);
    const char *target = header_of(c, "X-Amz-Target");
    if (!target || strncmp(target, TARGET_PREFIX, strlen(TARGET_PREFIX)) != 0)
        return send_error(s, c, 400, KSRV_COR "UnknownOperationException",
                          "An unknown operation was requested.", st);
    const char *op = target + strlen(TARGET_PREFIX);
    char region[64] = "us-east-1";
    ksv_sig_request sr = {header_of, c, method, url, st->body ? st->body : "", st->len};
    ksv_auth_result ar = ksv_sigv4_check(&s->auth, &sr, region, sizeof region);
    if (s->auth.enabled && ar != KSV_AUTH_OK) {
        static const char *const msgs[][2] = {
            {"", ""},
            {"MissingAuthenticationTokenException", "Request is missing Authentication Token"},
            {"IncompleteSignatureException", "Authorization header requires Credential, "
             "SignedHeaders, Signature and a valid X-Amz-Date"},
            {"UnrecognizedClientException", "The security token included in the request is "
             "invalid."},
            {"InvalidSignatureException", "Signature expired: the request time is more than "
             "15 minutes away from the server time"},
            {"InvalidSignatureException", "The request signature we calculated does not match "
             "the signature you provided. Check your AWS Secret Access Key and signing method."},
        };
        char type[128];
        snprintf(type, sizeof type, KSRV_DDB "%s", msgs[ar][0]);
        return send_error(s, c, 400, type, msgs[ar][1], st);
    }
    for (char *p = region; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')) {
            snprintf(region, sizeof region, "us-east-1");
            break;
        }
    keel_dynamo_options o = KEEL_DYNAMO_OPTIONS_INIT;
    o.region = region;
    keel_dynamo_response resp;
    int status = keel_dynamo_handle_ex(s->db, op, st->body, st->len, &o, &resp);
    log_request(s, c, op, status, st->len, resp.len, st);
    /* the handler's body is malloc'd except its static out-of-memory text (a 500) */
    bool owned = status != 500;
    enum MHD_Result ret = send_body(s, c, status, resp.body, resp.len, owned);
    if (owned) resp.body = NULL;
    keel_dynamo_response_free(&resp);
    return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode code) {
    (void)cls;
    (void)c;
    (void)code;
    conn *st = *con_cls;
    if (st) {
        free(st->body);
        free(st);
        *con_cls = NULL;
    }
}

static const char serve_help_text[] =
    "usage: keel serve FILE [--host ADDR] [--port N] [--threads N] [--sync none|data|full]\n"
    "                  [--auth KEYID:SECRET] [--log FILE] [--max-connections N]\n"
    "                  [--max-connections-per-ip N] [--idle-timeout SECONDS]\n"
    "\n"
    "Serve the keel database FILE (created if absent) as a DynamoDB endpoint: HTTP POST /\n"
    "with X-Amz-Target: DynamoDB_20120810.<Operation> and a JSON body, as boto3, PynamoDB\n"
    "and the AWS CLI send when given --endpoint-url / endpoint_url=http://HOST:PORT.\n"
    "Operations: CreateTable DeleteTable DescribeTable ListTables PutItem GetItem\n"
    "DeleteItem UpdateItem Query Scan BatchGetItem BatchWriteItem TransactWriteItems\n"
    "TransactGetItems UpdateTable ExecuteStatement BatchExecuteStatement ExecuteTransaction\n"
    "DescribeTimeToLive UpdateTimeToLive SearchVectors (vector indexes: CreateTable's\n"
    "VectorIndexes, UpdateTable's VectorIndexUpdates). ClientRequestToken makes\n"
    "TransactWriteItems and ExecuteTransaction idempotent for 10 minutes; ExecuteStatement\n"
    "pages with NextToken (valid for the life of the server process).\n"
    "(docs/SERVER.md lists parameters and limits).\n"
    "\n"
    "  --host ADDR          address to bind (default 127.0.0.1, loopback only; 0.0.0.0 or ::\n"
    "                       for every interface: then use --auth)\n"
    "  --port N             TCP port (default 8000; 0 picks a free one)\n"
    "  --threads N          worker threads (default 2)\n"
    "  --sync MODE          none (default): writes reach the OS; data: fdatasync before a\n"
    "                       write is acknowledged; full: fsync\n"
    "  --auth KEYID:SECRET  verify AWS SigV4 signatures made with this key; without it any\n"
    "                       credentials are accepted (as DynamoDB Local does)\n"
    "  --log FILE           one line per request: time, client, operation, status, bytes\n"
    "                       in and out, duration ('-' for stderr)\n"
    "  --max-connections N  concurrent connections (default 256)\n"
    "  --max-connections-per-ip N\n"
    "                       concurrent connections from one client address (default 0: no\n"
    "                       limit of its own), so that one client cannot hold them all\n"
    "  --idle-timeout SECONDS\n"
    "                       close a connection that sends or receives nothing for this long\n"
    "                       (default 120; 1 to 86400), a half-sent request included\n"
    "\n"
    "On start it prints 'keel serve: listening on http://HOST:PORT' on stdout. Requests over\n"
    "16 MB get 413; malformed requests get 400 with a DynamoDB error body. SIGINT or SIGTERM\n"
    "stops it: requests in flight finish, then the file is synced and closed.\n";

static void serve_help(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fputs(serve_help_text, stdout);
}

/* A decimal number in [lo, hi]: digits only (no sign, space or empty string, which strtoul
 * takes as 0 or wraps). */
static bool parse_count(const char *v, unsigned long lo, unsigned long hi, unsigned long *out) {
    if (!v || *v < '0' || *v > '9') return false;
    char *end = NULL;
    errno = 0;
    unsigned long n = strtoul(v, &end, 10);
    if (errno || *end || n < lo || n > hi) return false;
    *out = n;
    return true;
}

static int serve_main(int argc, char **argv) {
    const char *path = NULL, *host = "127.0.0.1", *log_path = NULL, *auth = NULL;
    unsigned long port = 8000, threads = 2, max_conns = 256, per_ip = 0, idle = 120;
    keel_sync_mode sync = KEEL_SYNC_NONE;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (is_help(a)) {
            fputs(serve_help_text, stdout);
            return EXIT_OK;
        }
        bool takes = strcmp(a, "--host") == 0 || strcmp(a, "--port") == 0 ||
                     strcmp(a, "--threads") == 0 || strcmp(a, "--sync") == 0 ||
                     strcmp(a, "--auth") == 0 || strcmp(a, "--log") == 0 ||
                     strcmp(a, "--max-connections") == 0 ||
                     strcmp(a, "--max-connections-per-ip") == 0 ||
                     strcmp(a, "--idle-timeout") == 0;
        if (takes && !v) return usage_error(NULL, "serve: %s needs a value", a);
        if (strcmp(a, "--host") == 0) host = v;
        else if (strcmp(a, "--log") == 0) log_path = v;
        else if (strcmp(a, "--auth") == 0) auth = v;
        else if (strcmp(a, "--port") == 0) {
            if (!parse_count(v, 0, 65535, &port))
                return usage_error(NULL, "serve: bad --port '%s'", v);
        } else if (strcmp(a, "--threads") == 0) {
            if (!parse_count(v, 1, 256, &threads))
                return usage_error(NULL, "serve: bad --threads '%s' (1..256)", v);
        } else if (strcmp(a, "--max-connections") == 0) {
            if (!parse_count(v, 1, 65536, &max_conns))
                return usage_error(NULL, "serve: bad --max-connections '%s'", v);
        } else if (strcmp(a, "--max-connections-per-ip") == 0) {
            if (!parse_count(v, 0, 65536, &per_ip))
                return usage_error(NULL, "serve: bad --max-connections-per-ip '%s'", v);
        } else if (strcmp(a, "--idle-timeout") == 0) {
            if (!parse_count(v, 1, 86400, &idle))
                return usage_error(NULL, "serve: bad --idle-timeout '%s' (1..86400)", v);
        } else if (strcmp(a, "--sync") == 0) {
            if (strcmp(v, "none") == 0) sync = KEEL_SYNC_NONE;
            else if (strcmp(v, "data") == 0) sync = KEEL_SYNC_DATA;
            else if (strcmp(v, "full") == 0) sync = KEEL_SYNC_FULL;
            else return usage_error(NULL, "serve: bad --sync '%s' (none, data or full)", v);
        } else if (a[0] == '-' && a[1]) {
            return usage_error(NULL, "serve: unknown option '%s'", a);
        } else if (!path) {
            path = a;
            continue;
        } else {
            return usage_error(NULL, "serve: unexpected argument '%s'", a);
        }
        i++;
    }
    if (!path) return usage_error(NULL, "serve: missing FILE");

    static server s;
    memset(&s, 0, sizeof s);
    pthread_mutex_init(&s.log_lock, NULL);
    if (auth) {
        const char *colon = strchr(auth, ':');
        if (!colon || colon == auth || !colon[1] ||
            (size_t)(colon - auth) >= sizeof s.auth.key_id ||
            strlen(colon + 1) >= sizeof s.auth.secret)
            return usage_error(NULL, "serve: --auth wants KEYID:SECRET");
        s.auth.enabled = true;
        memcpy(s.auth.key_id, auth, (size_t)(colon - auth));
        snprintf(s.auth.secret, sizeof s.auth.secret, "%s", colon + 1);
    }
    if (log_path) {
        s.log = strcmp(log_path, "-") == 0 ? stderr : fopen(log_path, "a");
        if (!s.log) {
            say("serve: cannot open log %s: %s", log_path, strerror(errno));
            return EXIT_ERROR;
        }
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    s.nonce = ((unsigned long long)ts.tv_sec << 20) ^ (unsigned long long)ts.tv_nsec ^
              ((unsigned long long)getpid() << 40);

    union {
        struct sockaddr_in v4;
        struct sockaddr_in6 v6;
    } addr;
    memset(&addr, 0, sizeof addr);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
    if (inet_pton(AF_INET, host, &addr.v4.sin_addr) == 1) {
        addr.v4.sin_family = AF_INET;
        addr.v4.sin_port = htons((uint16_t)port);
    } else if (inet_pton(AF_INET6, host, &addr.v6.sin6_addr) == 1) {
        addr.v6.sin6_family = AF_INET6;
        addr.v6.sin6_port = htons((uint16_t)port);
        flags |= MHD_USE_IPv6;
    } else {
        return usage_error(NULL, "serve: --host wants a numeric IPv4 or IPv6 address, not '%s'",
                           host);
    }

    keel_db_options o = KEEL_DB_OPTIONS_INIT;
    o.sync = sync;
    keel_status st = keel_db_open(path, &o, &s.db);
    if (st != KEEL_OK) return cli_fail(st, "serve: open %s", path);

    /* Block the stop signals in every thread; the main thread waits for them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, handle, &s,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)max_conns,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)idle,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)per_ip,
        /* MHD zeroes a connection's memory pool after every request: 16 KB holds the
         * request line, SigV4's headers and a read buffer (bodies stream into our own
         * buffer), at half the default's cost per request */
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384,
        MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
        MHD_OPTION_END);
    if (!d) {
        say("serve: cannot listen on %s port %lu (in use, or not an address of this machine)",
            host, port);
        keel_db_free(s.db);
        return EXIT_ERROR;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    unsigned bound = di ? di->port : (unsigned)port;
    printf("keel serve: listening on http://%s%s%s:%u\n", flags & MHD_USE_IPv6 ? "[" : "", host,
           flags & MHD_USE_IPv6 ? "]" : "", bound);
    fflush(stdout);

    int sig = 0;
    while (sigwait(&stop, &sig) != 0) {}
    MHD_stop_daemon(d);
    keel_status cs = keel_db_sync(s.db);
    keel_status cc = keel_db_close(s.db);
    keel_db_free(s.db);
    if (s.log && s.log != stderr) fclose(s.log);
    if (cs != KEEL_OK) return cli_fail(cs, "serve: sync %s", path);
    if (cc != KEEL_OK) return cli_fail(cc, "serve: close %s", path);
    return EXIT_OK;
}

const face serve_face = {
    .word = "serve",
    .usage = "serve FILE [--host ADDR] [--port N] [--threads N] [--sync MODE] [--auth K:S]",
    .overview =
        "DynamoDB endpoint (boto3, PynamoDB, the AWS CLI with --endpoint-url):\n"
        "  serve FILE [--host 127.0.0.1] [--port 8000] [--threads N] [--sync none|data|full]\n"
        "             [--auth KEYID:SECRET] [--log FILE]   (see 'keel serve --help')\n",
    .hint = "for a DynamoDB endpoint: keel serve FILE",
    .main = serve_main,
    .help = serve_help,
};
