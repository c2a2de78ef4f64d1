/*
 * bench_gateway.c — signed POST /v1/reports over keep-alive connections against the running gateway,
 * and a plain libmicrohttpd server answering 202 as the baseline.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

/* ----------------------------------------------------------------- gateway */

typedef struct {
    int port;
    int thread, run;
    long requests;
    bool sign;
    double *lat_ms;
    long ok;
    int64_t start_us, every_us; /* paced: request i is due at start + i * every (0: back to back) */
} load_arg;

static const char *secret;
static int runs; /* bodies differ between runs: the same signed bytes twice in one second are a replay */

int http_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int signed_post(int fd, const char *key, const char *path, const char *body, char *resp, size_t cap)
{
    char ts[24], sig[65] = "x", req[2048];
    snprintf(ts, sizeof ts, "%lld", (long long)(sq_now_us() / SQ_US_PER_S));
    if (key) {
        char msg[1024];
        int ml = snprintf(msg, sizeof msg, "%s\nPOST\n%s\n%s", ts, path, body);
        unsigned char mac[32];
        unsigned int maclen;
        HMAC(EVP_sha256(), key, (int)strlen(key), (unsigned char *)msg, (size_t)ml, mac, &maclen);
        sq_hex(mac, 32, sig);
    }
    char idem[SQ_UUID_LEN];
    sq_uuid4(idem);
    int rl = snprintf(req, sizeof req,
                      "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                      "X-Shequ-Client: dev-miniprogram\r\nX-Shequ-Timestamp: %s\r\nX-Shequ-Signature: %s\r\n"
                      "Idempotency-Key: %s\r\nContent-Length: %zu\r\n\r\n%s",
                      path, ts, sig, idem, strlen(body), body);
    if (write(fd, req, (size_t)rl) != rl)
        return -1;
    size_t got = 0;
    long need = -1;
    for (;;) {
        ssize_t r = read(fd, resp + got, cap - 1 - got);
        if (r <= 0)
            return -1;
        got += (size_t)r;
        resp[got] = '\0';
        char *hdr_end = strstr(resp, "\r\n\r\n");
        if (hdr_end && need < 0) {
            char *cl = strcasestr(resp, "Content-Length:");
            need = (long)(hdr_end + 4 - resp) + (cl ? atol(cl + 15) : 0);
        }
        if (need >= 0 && (long)got >= need)
            break;
    }
    return atoi(resp + 9);
}

static void *load_thread(void *arg)
{
    load_arg *a = arg;
    int fd = http_connect(a->port);
    if (fd < 0)
        return NULL;
    char body[512], resp[4096];
    for (long i = 0; i < a->requests; i++) {
        snprintf(body, sizeof body,
                 "{\"community_id\":\"cm-csy\",\"reporter_id\":\"wx-b%ld-%d-%d\",\"category\":\"sanitation\","
                 "\"description\":\"垃圾未清运\",\"building\":\"%ld\"}",
                 i, a->thread, a->run, i % 12);
        int64_t t0 = sq_mono_us();
        if (a->every_us) { /* latency counts from when the request was due, so falling behind shows */
            int64_t due = a->start_us + i * a->every_us;
            if (due > t0)
                sq_sleep_ms((due - t0 + 999) / 1000);
            t0 = due;
        }
        int status = signed_post(fd, a->sign ? secret : NULL, "/v1/reports", body, resp, sizeof resp);
        if (status < 0)
            break;
        a->lat_ms[i] = (double)(sq_mono_us() - t0) / 1e3;
        if (status == 202)
            a->ok++;
    }
    close(fd);
    return NULL;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* n requests over conns connections, back to back or (per_s > 0) paced to per_s in total. */
static double run_load(int port, long n, int conns, bool sign, double per_s, double *p50, double *p99, long *ok)
{
    pthread_t th[256];
    load_arg args[256];
    double *lat = calloc((size_t)n, sizeof *lat);
    long per = n / conns;
    int64_t t0 = sq_mono_us();
    runs++;
    for (int i = 0; i < conns; i++) {
        args[i] = (load_arg){ port, i, runs, per, sign, lat + (long)i * per, 0, t0 + 1000 * i,
                              per_s > 0 ? (int64_t)(1e6 * conns / per_s) : 0 };
        pthread_create(&th[i], NULL, load_thread, &args[i]);
    }
    *ok = 0;
    for (int i = 0; i < conns; i++) {
        pthread_join(th[i], NULL);
        *ok += args[i].ok;
    }
    double secs = (double)(sq_mono_us() - t0) / 1e6;
    qsort(lat, (size_t)(per * conns), sizeof *lat, cmp_d);
    *p50 = lat[per * conns / 2];
    *p99 = lat[per * conns * 99 / 100];
    free(lat);
    return (double)(per * conns) / secs;
}

static enum MHD_Result plain(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                             const char *version, const char *upload, size_t *size, void **ptr)
{
    if (!*ptr) {
        *ptr = (void *)1;
        return MHD_YES;
    }
    if (*size) {
        *size = 0;
        return MHD_YES;
    }
    static const char body[] = "{\"status\":\"accepted\"}";
    struct MHD_Response *r = MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(c, 202, r);
    MHD_destroy_response(r);
    return ret;
}

/* RSS of the gateway holding `conns` keep-alive connections, each used twice, 10 s apart. */
static void idle_connections(pid_t pid, int conns)
{
    int *fds = calloc((size_t)conns, sizeof *fds);
    long before = rss_kb(pid), held = 0, again = 0;
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < conns; i++) {
            if (round == 0) {
                struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(18090) };
                inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
                fds[i] = socket(AF_INET, SOCK_STREAM, 0);
                if (connect(fds[i], (struct sockaddr *)&sa, sizeof sa) != 0)
                    fds[i] = -1;
            }
            static const char get[] = "GET /open311/v2/services.json HTTP/1.1\r\nHost: x\r\n\r\n";
            char buf[16384];
            if (fds[i] >= 0 && write(fds[i], get, sizeof get - 1) == (ssize_t)(sizeof get - 1))
                (void)!read(fds[i], buf, sizeof buf);
        }
        sq_sleep_ms(round == 0 ? 10000 : 1000);
        if (round == 0)
            held = rss_kb(pid);
        else
            again = rss_kb(pid);
    }
    int open = 0;
    for (int i = 0; i < conns; i++)
        if (fds[i] >= 0) {
            open++;
            close(fds[i]);
        }
    free(fds);
    char notes[200];
    snprintf(notes, sizeof notes, "%d keep-alive connections (%d open): RSS %ld MB before, %ld MB holding them, %ld MB after a second round",
             conns, open, before / 1024, held / 1024, again / 1024);
    result("gw-conns", 0, 0, 0, 0, notes);
}

void bench_gateway(long n, int conns)
{
    secret = ts_env("SHEQU_CLIENT_SECRET");
    char port_env[64], rules[300], clients[300], key[120], redis[200];
    snprintf(port_env, sizeof port_env, "SHEQU_HTTP_PORT=18090");
    snprintf(rules, sizeof rules, "SHEQU_RULES_FILE=%s/deploy/rules/shequ.rules", ts_env("SHEQU_ROOT"));
    snprintf(clients, sizeof clients, "SHEQU_CLIENTS_FILE=%s/deploy/clients/dev.clients", ts_env("SHEQU_ROOT"));
    snprintf(key, sizeof key, "SHEQU_PHONE_KEY=6a3f0c2e9b8d7a6f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d");
    snprintf(redis, sizeof redis, "SHEQU_REDIS_PREFIX=bench:%s:", prefix);
    /* the rate limiters stay on (their Redis round trips are part of the cost), with limits out of reach */
    char rl[64], rc[64];
    snprintf(rl, sizeof rl, "SHEQU_RATE_REPORTER_PER_MIN=100000000");
    snprintf(rc, sizeof rc, "SHEQU_RATE_CLIENT_PER_MIN=100000000");
    char *extra[] = { port_env, rules, clients, key, redis, rl, rc, NULL };
    pid_t pid = spawn_service("gateway", extra);
    sq_sleep_ms(2500);
    double p50, p99, bp50, bp99;
    long ok, bok;
    run_load(18090, conns * 20, conns, true, 0, &p50, &p99, &ok); /* warm-up */
    double rate = run_load(18090, n, conns, true, 0, &p50, &p99, &ok);
    double fp50, fp99;
    long fok;
    run_load(18090, 20000, 32, true, 2000, &fp50, &fp99, &fok); /* 10 s at a fixed 2,000 requests/s */
    char fixed[160];
    snprintf(fixed, sizeof fixed, "20000 requests paced at 2000/s over 32 connections, %ld answered 202", fok);
    result("gw-2000/s", 2000, 0, fp50, fp99, fixed);
    idle_connections(pid, 1000);
    ts_stop(pid, false);
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 18091,
                                            NULL, NULL, plain, NULL, MHD_OPTION_END);
    double base = run_load(18091, n, conns, false, 0, &bp50, &bp99, &bok);
    MHD_stop_daemon(d);
    char notes[200];
    snprintf(notes, sizeof notes, "%ld requests, %d connections, %ld answered 202 (Kafka-acknowledged); baseline p50 %.2f p99 %.2f ms",
             n, conns, ok, bp50, bp99);
    result("gateway", rate, base, p50, p99, notes);
}
