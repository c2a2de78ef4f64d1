/*
 * admin.c — /healthz and /metrics over libmicrohttpd.
 */
#include "admin.h"
#include "metrics.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CHECKS 16

typedef struct {
    char name[32];
    sq_health_fn fn;
    void *ctx;
} check;

struct sq_admin {
    struct MHD_Daemon *mhd;
    check checks[MAX_CHECKS];
    int nchecks;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
                             char *body, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result serve(void *cls, struct MHD_Connection *conn, const char *url,
                             const char *method, const char *version, const char *upload,
                             size_t *upload_size, void **con_cls)
{
    sq_admin *a = cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(conn, 405, "text/plain", strdup("method not allowed\n"), 19);
    if (strcmp(url, "/metrics") == 0) {
        size_t len = 0;
        char *body = sq_metrics_render(&len);
        return reply(conn, 200, "text/plain; version=0.0.4", body, len);
    }
    if (strcmp(url, "/healthz") == 0) {
        char *body = malloc(4096), msg[256];
        size_t off = (size_t)snprintf(body, 4096, "{\"checks\":{");
        int bad = 0;
        for (int i = 0; i < a->nchecks; i++) {
            msg[0] = '\0';
            int rc = a->checks[i].fn(a->checks[i].ctx, msg, sizeof msg);
            for (char *p = msg; *p; p++)
                if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
                    *p = ' ';
            if (rc != SQ_OK)
                bad++;
            off += (size_t)snprintf(body + off, 4096 - off, "%s\"%s\":\"%s\"", i ? "," : "",
                                    a->checks[i].name, rc == SQ_OK ? "ok" : msg);
            if (off >= 3900)
                break;
        }
        off += (size_t)snprintf(body + off, 4096 - off, "},\"status\":\"%s\"}\n", bad ? "unavailable" : "ok");
        return reply(conn, bad ? 503 : 200, "application/json", body, off);
    }
    return reply(conn, 404, "text/plain", strdup("not found\n"), 10);
}

sq_admin *sq_admin_start(const char *bind, int port, char *err, size_t errlen)
{
    sq_admin *a = calloc(1, sizeof *a);
    if (!a) {
        sq_fail(err, errlen, SQ_NOMEM, "out of memory");
        return NULL;
    }
    if (port == 0)
        return a;
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    if (inet_pton(AF_INET, bind, &sa.sin_addr) != 1) {
        sq_fail(err, errlen, SQ_INVALID, "admin.bind '%s' is not an IPv4 address", bind);
        free(a);
        return NULL;
    }
    a->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                              serve, a, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_CONNECTION_TIMEOUT,
                              (unsigned)10, MHD_OPTION_END);
    if (!a->mhd) {
        sq_fail(err, errlen, SQ_ERR, "cannot listen on %s:%d for the admin endpoint", bind, port);
        free(a);
        return NULL;
    }
    return a;
}

void sq_admin_add_check(sq_admin *a, const char *name, sq_health_fn fn, void *ctx)
{
    if (!a || a->nchecks >= MAX_CHECKS)
        return;
    check *c = &a->checks[a->nchecks++];
    snprintf(c->name, sizeof c->name, "%s", name);
    c->fn = fn;
    c->ctx = ctx;
}

void sq_admin_stop(sq_admin *a)
{
    if (!a)
        return;
    if (a->mhd)
        MHD_stop_daemon(a->mhd);
    free(a);
}
