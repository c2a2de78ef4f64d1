/*
 * dashboard — PostgreSQL (SELECT-only role) → the supervisors' page and its JSON API (docs/dashboard.md).
 */
#include "dashboard.h"

#include <sodium.h>
#include <string.h>

static sq_service svc;
static dashboard dash;
static sq_option opts[] = {
    SQ_OPTIONS_COMMON(&svc.cfg),
    { "http.listen", SQ_OPT_STR, "127.0.0.1", 0, 0, "address of the page and API", &dash.cfg.listen, "" },
    { "http.port", SQ_OPT_INT, "18081", 1, 65535, "port of the page and API", &dash.cfg.port, "" },
    { "http.connection_timeout_s", SQ_OPT_INT, "30", 1, 600, "idle or slow connections are closed after this", &dash.cfg.connection_timeout_s, "" },
    { "web.dir", SQ_OPT_STR, "services/dashboard/web", 0, 0, "the page's static files", &dash.cfg.web_dir, "" },
    { "vendor.dir", SQ_OPT_STR, NULL, 0, 0, "directory holding echarts.min.js (fetched by tools/dev deps)", &dash.cfg.vendor_dir, "" },
    { "session.key", SQ_OPT_STR, NULL, 0, 0, "64 hex characters signing session cookies (default: random at start)", &dash.cfg.session_key_hex, "" },
    { "session.ttl_s", SQ_OPT_INT, "43200", 60, 2592000, "how long a sign-in lasts", &dash.cfg.session_ttl_s, "" },
    { "pg.pool", SQ_OPT_INT, "4", 1, 64, "PostgreSQL connections shared by the HTTP threads", &dash.cfg.pool_size, "" },
    { 0 },
};

static const char usage[] = "usage: dashboard [options]\n"
                            "       dashboard --hash-password < password   (prints a hash for shequ.dashboard_users)\n"
                            "The supervisors' page and JSON API over the KPI views, read with the SELECT-only role.";

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--hash-password") == 0)
        return dash_hash_password_main();
    int rc = sq_service_init(&svc, "dashboard", opts, usage, argc, argv);
    if (rc != SQ_OK)
        return rc == 1 ? 0 : 2;
    if (sodium_init() < 0 || !*svc.cfg.pg_dsn) {
        log_error("config.invalid", "option 'pg.dsn' is required (the reader role's connection string)");
        return 2;
    }
    if (*dash.cfg.session_key_hex) {
        size_t n = 0;
        if (strlen(dash.cfg.session_key_hex) != 64 ||
            sodium_hex2bin(dash.session_key, sizeof dash.session_key, dash.cfg.session_key_hex, 64, NULL, &n, NULL) ||
            n != sizeof dash.session_key) {
            log_error("config.invalid", "option 'session.key' must be 64 hex characters");
            return 2;
        }
    } else {
        randombytes_buf(dash.session_key, sizeof dash.session_key);
    }
    dash.common = &svc.cfg;
    dash.pool = dash_pool_new(svc.cfg.pg_dsn, (int)dash.cfg.pool_size);
    static const char *labels[] = { "class=\"2xx\"", "class=\"4xx\"", "class=\"5xx\"", "class=\"login_refused\"" };
    for (int i = 0; i < 4; i++)
        dash.m_requests[i] = sq_metric_counter("shequ_http_requests_total", labels[i], "HTTP requests by outcome");
    sq_admin_add_check(svc.admin, "postgres", sq_pg_health, svc.cfg.pg_dsn);
    char err[256];
    if (dash_http_start(&dash, err, sizeof err) != SQ_OK) {
        log_error("http.failed", "error=\"%s\"", err);
        return 2;
    }
    log_info("http.listening", "address=%s port=%ld web=%s vendor=%s", dash.cfg.listen, dash.cfg.port,
             dash.cfg.web_dir, *dash.cfg.vendor_dir ? dash.cfg.vendor_dir : "-");
    while (sq_running)
        sq_sleep_ms(200);
    dash_http_stop();
    dash_pool_free(dash.pool);
    sq_service_close(&svc);
    return 0;
}
