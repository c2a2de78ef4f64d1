/*
 * http.c — libmicrohttpd plumbing: body accumulation with the 64 KiB cap,
 * signature check, routing, JSON replies.
 */
#include "gateway.h"
#include "http.h"
#include "ticket.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct request {
    char *body;
    size_t len;
    bool too_large;
} request;

static struct MHD_Daemon *daemon_handle;

static enum MHD_Result send_reply(struct MHD_Connection *conn, gateway *g, gw_reply *r)
{
    char *text = r->body ? json_dumps(r->body, JSON_COMPACT) : strdup("{}");
    size_t len = strlen(text);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", "application/json; charset=utf-8");
    if (r->retry_after[0])
        MHD_add_response_header(resp, "Retry-After", r->retry_after);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    int bucket = r->status < 300 ? 0 : r->status == 400 ? 1 : r->status == 401 ? 2
               : r->status == 404 || r->status == 405 ? 3 : r->status == 413 || r->status == 415 ? 4 : 5;
    sq_metric_add(g->m_requests[bucket], 1);
    if (r->body)
        json_decref(r->body);
    return ret;
}

/* Splits "/v1/tickets/{id}/actions" style paths. Returns the number of segments. */
static int segments(const char *url, char seg[6][128])
{
    int n = 0;
    const char *p = url;
    while (*p && n < 6) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        size_t l = strcspn(p, "/");
        if (l >= 128)
            return -1;
        memcpy(seg[n], p, l);
        seg[n][l] = '\0';
        n++;
        p += l;
    }
    return *p ? -1 : n;
}

/* A report id or a ticket id ("<community_id>.<uuid>", up to SQ_TICKET_ID_MAX - 1 characters). */
static bool id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > SQ_TICKET_ID_MAX - 1)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

static void route_native(gateway *g, struct MHD_Connection *conn, const char *method, const char *url,
                         request *req, gw_reply *r)
{
    char seg[6][128];
    int n = segments(url, seg);
    const char *client = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Shequ-Client");
    const char *ts = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Shequ-Timestamp");
    const char *sig = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Shequ-Signature");
    const char *idem = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Idempotency-Key");
    char client_id[64];
    if (!gw_authenticate(g, client, ts, sig, method, url, req->body ? req->body : "", req->len, client_id, r))
        return;
    bool post = strcmp(method, "POST") == 0, get = strcmp(method, "GET") == 0;
    if (post) {
        const char *ctype = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
        if (!ctype || strncasecmp(ctype, "application/json", 16) != 0)
            return gw_reply_error(r, 415, "unsupported_media_type", "Content-Type", "send application/json");
    }
    if (!gw_admit(g, client_id, get || strcmp(method, "HEAD") == 0 ? NULL : sig, idem, r))
        return;
    /* GET routes */
    if (get && n == 2 && strcmp(seg[1], "categories") == 0)
        return gw_get_categories(g, r);
    if (get && n == 3 && strcmp(seg[1], "reports") == 0) {
        if (!id_ok(seg[2]))
            return gw_reply_error(r, 404, "not_found", "report_id", "no such report");
        return gw_get_report(g, seg[2], r);
    }
    bool report = n == 2 && strcmp(seg[1], "reports") == 0;
    bool action = n == 4 && strcmp(seg[1], "tickets") == 0 && strcmp(seg[3], "actions") == 0;
    bool feedback = n == 4 && strcmp(seg[1], "tickets") == 0 && strcmp(seg[3], "feedback") == 0;
    if (!report && !action && !feedback)
        return gw_reply_error(r, 404, "not_found", NULL, "no such resource");
    if (!post)
        return gw_reply_error(r, 405, "method_not_allowed", NULL, "use POST");
    if ((action || feedback) && !id_ok(seg[2]))
        return gw_reply_error(r, 404, "not_found", "ticket_id", "no such ticket");
    if (idem && (strlen(idem) == 0 || strlen(idem) > 128))
        return gw_reply_error(r, 400, "invalid", "Idempotency-Key", "1 to 128 characters");
    json_error_t jerr;
    json_t *body = json_loadb(req->body ? req->body : "", req->len, JSON_REJECT_DUPLICATES, &jerr);
    if (!body || !json_is_object(body)) {
        if (body)
            json_decref(body);
        return gw_reply_error(r, 400, "malformed_json", NULL, body ? "the body must be a JSON object" : jerr.text);
    }
    if (idem && gw_idempotency_begin(g, client_id, idem, r)) {
        json_decref(body);
        return;
    }
    if (idem)
        snprintf(r->id_seed, sizeof r->id_seed, "%s/%s", client_id, idem);
    if (report)
        gw_post_report(g, client_id, body, r);
    else if (action)
        gw_post_action(g, client_id, seg[2], body, r);
    else
        gw_post_feedback(g, client_id, seg[2], body, r);
    json_decref(body);
    if (idem)
        gw_idempotency_end(g, client_id, idem, r);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                               const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    gateway *g = cls;
    request *req = *con_cls;
    if (!req) { /* first call: headers only */
        req = calloc(1, sizeof *req);
        *con_cls = req;
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > GW_BODY_MAX)
            req->too_large = true; /* refuse before reading it all */
        return MHD_YES;
    }
    if (*upload_size) {
        if (!req->too_large && req->len + *upload_size <= GW_BODY_MAX) {
            char *nb = realloc(req->body, req->len + *upload_size + 1);
            if (nb) {
                req->body = nb;
                memcpy(req->body + req->len, upload, *upload_size);
                req->len += *upload_size;
                req->body[req->len] = '\0';
            }
        } else {
            req->too_large = true;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    gw_reply r = { 0 };
    if (req->too_large) {
        gw_reply_error(&r, 413, "payload_too_large", NULL, "the body is larger than 64 KiB");
        return send_reply(conn, g, &r);
    }
    if (strncmp(url, "/v1/", 4) == 0)
        route_native(g, conn, method, url, req, &r);
    else if (strncmp(url, "/open311/v2/", 12) == 0)
        gw_open311(g, method, url + 11, MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "api_key"),
                   req->body, req->len, conn, &r);
    else
        gw_reply_error(&r, 404, "not_found", NULL, "no such resource");
    if (!r.status)
        gw_reply_error(&r, 500, "internal", NULL, "no reply");
    return send_reply(conn, g, &r);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    request *req = *con_cls;
    if (req) {
        free(req->body);
        free(req);
        *con_cls = NULL;
    }
}

int gw_http_start(gateway *g, char *err, size_t errlen)
{
    sq_http_options o = { .listen = g->cfg.listen, .port = g->cfg.port, .idle_timeout_s = g->cfg.connection_timeout_s,
                          .max_connections = (unsigned)g->cfg.max_connections, .connection_memory = 32 * 1024,
                          .thread_stack = 256 * 1024 };
    daemon_handle = sq_http_start(&o, handler, g, completed, err, errlen);
    return daemon_handle ? SQ_OK : SQ_ERR;
}

void gw_http_stop(void)
{
    sq_http_stop(daemon_handle);
    daemon_handle = NULL;
}
