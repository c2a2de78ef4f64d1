/*
 * dashboard.h — what supervisors look at every morning (docs/dashboard.md):
 * the KPIs of DESIGN.md §5 for a period and scope, trends, rankings, the
 * overdue list, repeat hotspots, ticket timelines and the quarterly report,
 * as a JSON API and the page in web/.
 *
 * Threads: libmicrohttpd runs one thread per connection; a request borrows
 * a PostgreSQL connection (role shequ_reader, SELECT only) from a small
 * pool for its queries. Sessions are signed cookies, so the server keeps no
 * session state and never writes to the database.
 */
#ifndef DASHBOARD_H
#define DASHBOARD_H

#include "pg.h"
#include "service.h"

#include <jansson.h>
#include <pthread.h>

typedef struct dash_config {
    char *listen;
    long port;
    char *web_dir;
    char *vendor_dir;
    char *session_key_hex;
    char *session_key_file;
    long session_ttl_s;
    long pool_size;
    long connection_timeout_s;
} dash_config;

typedef struct dash_pool dash_pool;

typedef struct dashboard {
    dash_config cfg;
    sq_common_config *common;
    dash_pool *pool;
    unsigned char session_key[32];
    sq_metric *m_requests[4]; /* 2xx/3xx, 4xx, 5xx, logins refused */
} dashboard;

/* A signed-in user and the scope their staff row gives them. */
typedef struct dash_user {
    char username[65];
    char name[128];
    char kind[12];      /* district | street | community */
    char scope_id[65];  /* street or community id; empty for district */
} dash_user;

/* A reply: status, body (owned), content type, and the optional headers. */
typedef struct dash_reply {
    int status;
    char *body;
    size_t len;
    const char *content_type;
    char set_cookie[320];
    char disposition[160];
} dash_reply;

/* The request as the API sees it. */
typedef struct dash_request {
    const char *method;
    const char *path;
    const char *body;
    size_t body_len;
    const char *cookie;                     /* the session cookie's value, or NULL */
    const char *(*arg)(void *ctx, const char *name);
    void *ctx;
} dash_request;

/* pool.c: borrowed connections; each one is used by one thread at a time. */
dash_pool *dash_pool_new(const char *dsn, int size);
sq_pg *dash_pool_get(dash_pool *p);
void dash_pool_put(dash_pool *p, sq_pg *pg);
void dash_pool_free(dash_pool *p);

/* reply.c */
void dash_reply_json(dash_reply *r, int status, json_t *body); /* steals body */
void dash_reply_error(dash_reply *r, int status, const char *code, const char *field, const char *message);
void dash_reply_csv(dash_reply *r, const PGresult *res, const char *filename);
/* Rows of a result as JSON objects: integers and numerics as numbers, NULL as null, text masked of phones. */
json_t *dash_rows(const PGresult *res);
json_t *dash_value(const PGresult *res, int row, int col);

/* auth.c */
void dash_login(dashboard *d, const dash_request *q, dash_reply *r);
void dash_logout(dash_reply *r);
/* The user of the session cookie, or false with a 401 in r. */
bool dash_authenticate(dashboard *d, sq_pg *pg, const dash_request *q, dash_user *u, dash_reply *r);
/* Prints the Argon2id hash of a password read from stdin (for shequ.dashboard_users). */
int dash_hash_password_main(void);

/* api.c */
void dash_api(dashboard *d, const dash_request *q, dash_reply *r);

/* http.c */
int dash_http_start(dashboard *d, char *err, size_t errlen);
void dash_http_stop(void);

#endif
