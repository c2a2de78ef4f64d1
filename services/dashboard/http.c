/*
 * http.c — libmicrohttpd plumbing: the page's static files, the API under
 * /api/, the session cookie, security headers. Request bodies (only the
 * sign-in takes one) are capped at 4 KiB.
 */
#include "dashboard.h"
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define BODY_MAX 4096

typedef struct request {
    char body[BODY_MAX + 1];
    size_t len;
    bool too_large;
} request;

static struct MHD_Daemon *daemon_handle;

static const char *arg(void *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, dashboard *d, dash_reply *r)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(r->len, r->body, MHD_RESPMEM_MUST_FREE);
    r->body = NULL;
    MHD_add_response_header(resp, "Content-Type", r->content_type ? r->content_type : "text/plain");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (r->set_cookie[0])
        MHD_add_response_header(resp, "Set-Cookie", r->set_cookie);
    if (r->disposition[0])
        MHD_add_response_header(resp, "Content-Disposition", r->disposition);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    sq_metric_add(d->m_requests[r->status < 400 ? 0 : r->status < 500 ? 1 : 2], 1);
    return ret;
}

static const char *content_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot)
        return "application/octet-stream";
    if (!strcmp(dot, ".html"))
        return "text/html; charset=utf-8";
    if (!strcmp(dot, ".js") || !strcmp(dot, ".mjs"))
        return "text/javascript; charset=utf-8";
    if (!strcmp(dot, ".css"))
        return "text/css; charset=utf-8";
    if (!strcmp(dot, ".svg"))
        return "image/svg+xml";
    if (!strcmp(dot, ".png"))
        return "image/png";
    return "application/octet-stream";
}

/* Serves one file of dir; names are plain (letters, digits, '.', '_', '-'; no leading dot). */
static void static_file(const char *dir, const char *name, dash_reply *r)
{
    size_t n = strlen(name);
    if (!dir || !*dir || n == 0 || n > 100 || name[0] == '.' ||
        strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != n)
        return dash_reply_error(r, 404, "not_found", NULL, "no such file");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > 16 * 1024 * 1024) {
        if (f)
            fclose(f);
        return dash_reply_error(r, 404, "not_found", NULL, "no such file");
    }
    r->body = malloc((size_t)st.st_size + 1);
    r->len = fread(r->body, 1, (size_t)st.st_size, f);
    fclose(f);
    r->status = 200;
    r->content_type = content_type(name);
}

static const char *session_cookie(struct MHD_Connection *conn)
{
    return MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, "shequ_session");
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                               const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    dashboard *d = cls;
    request *req = *con_cls;
    if (!req) {
        req = calloc(1, sizeof *req);
        *con_cls = req;
        return MHD_YES;
    }
    if (*upload_size) {
        if (req->len + *upload_size <= BODY_MAX) {
            memcpy(req->body + req->len, upload, *upload_size);
            req->len += *upload_size;
        } else {
            req->too_large = true;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    dash_reply r = { 0 };
    if (req->too_large) {
        dash_reply_error(&r, 413, "payload_too_large", NULL, "the body is larger than 4 KiB");
    } else if (strncmp(url, "/api/", 5) == 0) {
        dash_request q = { .method = method, .path = url, .body = req->body, .body_len = req->len,
                           .cookie = session_cookie(conn), .arg = arg, .ctx = conn };
        dash_api(d, &q, &r);
    } else if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        dash_reply_error(&r, 405, "method_not_allowed", NULL, "use GET");
    } else if (strcmp(url, "/") == 0) {
        static_file(d->cfg.web_dir, "index.html", &r);
    } else if (strncmp(url, "/vendor/", 8) == 0) {
        static_file(d->cfg.vendor_dir, url + 8, &r);
    } else {
        static_file(d->cfg.web_dir, url + 1, &r);
    }
    if (!r.status)
        dash_reply_error(&r, 500, "internal", NULL, "no reply");
    return send_reply(conn, d, &r);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    free(*con_cls);
    *con_cls = NULL;
}

int dash_http_start(dashboard *d, char *err, size_t errlen)
{
    sq_http_options o = { .listen = d->cfg.listen, .port = d->cfg.port, .idle_timeout_s = d->cfg.connection_timeout_s,
                          .max_connections = 256 };
    daemon_handle = sq_http_start(&o, handler, d, completed, err, errlen);
    return daemon_handle ? SQ_OK : SQ_ERR;
}

void dash_http_stop(void)
{
    sq_http_stop(daemon_handle);
    daemon_handle = NULL;
}
