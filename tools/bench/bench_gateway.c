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
    int thread;
    long requests;
    bool sign;
    double *lat_ms;
    long ok;
} load_arg;

static const char *secret;

static void *load_thread(void *arg)
{
    load_arg *a = arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)a->port) };
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        return NULL;
    char body[512], req[2048], resp[4096];
    for (long i = 0; i < a->requests; i++) {
        int bl = snprintf(body, sizeof body,
                          "{\"community_id\":\"cm-csy\",\"reporter_id\":\"wx-b%ld-%d\",\"category\":\"sanitation\","
                          "\"description\":\"垃圾未清运\",\"building\":\"%ld\"}",
                          i, a->thread, i % 12);
        char ts[24], sig[65] = "x";
        snprintf(ts, sizeof ts, "%lld", (long long)(sq_now_us() / SQ_US_PER_S));
        if (a->sign) {
            char msg[1024];
            int ml = snprintf(msg, sizeof msg, "%s\nPOST\n/v1/reports\n%s", ts, body);
            unsigned char mac[32];
            unsigned int maclen;
            HMAC(EVP_sha256(), secret, (int)strlen(secret), (unsigned char *)msg, (size_t)ml, mac, &maclen);
            sq_hex(mac, 32, sig);
        }
        char idem[SQ_UUID_LEN];
        sq_uuid4(idem);
        int rl = snprintf(req, sizeof req,
                          "POST /v1/reports HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                          "X-Shequ-Client: dev-miniprogram\r\nX-Shequ-Timestamp: %s\r\nX-Shequ-Signature: %s\r\n"
                          "Idempotency-Key: %s\r\nContent-Length: %d\r\n\r\n%s",
                          ts, sig, idem, bl, body);
        int64_t t0 = sq_mono_us();
        if (write(fd, req, (size_t)rl) != rl)
            break;
        size_t got = 0;
        long need = -1;
        for (;;) {
            ssize_t r = read(fd, resp + got, sizeof resp - 1 - got);
            if (r <= 0)
                goto out;
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
        a->lat_ms[i] = (double)(sq_mono_us() - t0) / 1e3;
        if (strncmp(resp, "HTTP/1.1 202", 12) == 0)
            a->ok++;
    }
out:
    close(fd);
    return NULL;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double run_load(int port, long n, int conns, bool sign, double *p50, double *p99, long *ok)
{
    pthread_t th[256];
    load_arg args[256];
    double *lat = calloc((size_t)n, sizeof *lat);
    long per = n / conns;
    int64_t t0 = sq_mono_us();
    for (int i = 0; i < conns; i++) {
        args[i] = (load_arg){ port, i, per, sign, lat + (long)i * per, 0 };
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

void bench_gateway(long n, int conns)
{
    secret = ts_env("SHEQU_CLIENT_SECRET");
    char port_env[64], rules[300], clients[300], key[120], redis[200], rl[64];
    snprintf(port_env, sizeof port_env, "SHEQU_HTTP_PORT=18090");
    snprintf(rules, sizeof rules, "SHEQU_RULES_FILE=%s/deploy/rules/shequ.rules", ts_env("SHEQU_ROOT"));
    snprintf(clients, sizeof clients, "SHEQU_CLIENTS_FILE=%s/deploy/clients/dev.clients", ts_env("SHEQU_ROOT"));
    snprintf(key, sizeof key, "SHEQU_PHONE_KEY=6a3f0c2e9b8d7a6f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d");
    snprintf(redis, sizeof redis, "SHEQU_REDIS_PREFIX=bench:%s:", prefix);
    snprintf(rl, sizeof rl, "SHEQU_RATE_REPORTER_PER_MIN=0");
    char *extra[] = { port_env, rules, clients, key, redis, rl, NULL };
    pid_t pid = spawn_service("gateway", extra);
    sq_sleep_ms(2500);
    double p50, p99, bp50, bp99;
    long ok, bok;
    run_load(18090, conns * 20, conns, true, &p50, &p99, &ok); /* warm-up */
    double rate = run_load(18090, n, conns, true, &p50, &p99, &ok);
    ts_stop(pid, false);
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 18091,
                                            NULL, NULL, plain, NULL, MHD_OPTION_END);
    double base = run_load(18091, n, conns, false, &bp50, &bp99, &bok);
    MHD_stop_daemon(d);
    char notes[200];
    snprintf(notes, sizeof notes, "%ld requests, %d connections, %ld answered 202 (Kafka-acknowledged); baseline p50 %.2f p99 %.2f ms",
             n, conns, ok, bp50, bp99);
    result("gateway", rate, base, p50, p99, notes);
}
