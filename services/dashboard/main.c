/*
 * dashboard — PostgreSQL (SELECT-only role) → the supervisors' page and its JSON API (docs/dashboard.md).
 */
#include "dashboard.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static sq_service svc;
static dashboard dash;
static sq_option opts[] = {
    SQ_OPTIONS_COMMON(&svc.cfg),
    { "http.listen", SQ_OPT_STR, "127.0.0.1", 0, 0, "address of the page and API", &dash.cfg.listen, "" },
    { "http.port", SQ_OPT_INT, "18081", 1, 65535, "port of the page and API", &dash.cfg.port, "" },
    { "http.connection_timeout_s", SQ_OPT_INT, "30", 1, 600, "idle or slow connections are closed after this", &dash.cfg.connection_timeout_s, "" },
    { "web.dir", SQ_OPT_STR, "services/dashboard/web", 0, 0, "the page's static files", &dash.cfg.web_dir, "" },
    { "vendor.dir", SQ_OPT_STR, NULL, 0, 0, "directory holding echarts.min.js (fetched by tools/dev deps)", &dash.cfg.vendor_dir, "" },
    { "session.key", SQ_OPT_STR, NULL, 0, 0, "64 hex characters signing session cookies; every instance behind one address needs the same (default: session.key_file)", &dash.cfg.session_key_hex, "" },
    { "session.key_file", SQ_OPT_STR, NULL, 0, 0, "file holding session.key, shared by every instance (default: neither: a random key at start, good for this instance only)", &dash.cfg.session_key_file, "" },
    { "session.ttl_s", SQ_OPT_INT, "43200", 60, 2592000, "how long a sign-in lasts", &dash.cfg.session_ttl_s, "" },
    { "pg.pool", SQ_OPT_INT, "4", 1, 64, "PostgreSQL connections shared by the HTTP threads", &dash.cfg.pool_size, "" },
    { 0 },
};

/*
 * The key that signs session cookies: session.key, else the file session.key_file names (64 hex
 * characters; surrounding whitespace ignored), else a random one. Instances that share the key accept
 * each other's cookies, so a sign-in survives a restart and any instance behind the address may answer.
 */
static int session_key(void)
{
    char hex[200] = "";
    const char *from = "session.key";
    if (*dash.cfg.session_key_hex) {
        snprintf(hex, sizeof hex, "%s", dash.cfg.session_key_hex);
    } else if (*dash.cfg.session_key_file) {
        from = "session.key_file";
        FILE *f = fopen(dash.cfg.session_key_file, "r");
        if (!f) {
            log_error("config.invalid", "option 'session.key_file': %s: %s", dash.cfg.session_key_file, strerror(errno));
            return SQ_INVALID;
        }
        struct stat st;
        if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077))
            log_warn("session.key_file_open", "file=%s mode=%03o (others may read the key: chmod 600)",
                     dash.cfg.session_key_file, (unsigned)(st.st_mode & 0777));
        size_t n = fread(hex, 1, sizeof hex - 1, f);
        fclose(f);
        hex[n] = '\0';
    } else {
        randombytes_buf(dash.session_key, sizeof dash.session_key);
        log_warn("session.key_random", "neither session.key nor session.key_file is set: sign-ins are good at this "
                 "instance only, until it stops");
        return SQ_OK;
    }
    char *s = hex, *e;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    for (e = s + strlen(s); e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r');)
        *--e = '\0';
    size_t n = 0;
    int bad = strlen(s) != 64 || sodium_hex2bin(dash.session_key, sizeof dash.session_key, s, 64, NULL, &n, NULL) ||
              n != sizeof dash.session_key;
    sodium_memzero(hex, sizeof hex);
    if (bad) {
        log_error("config.invalid", "option '%s' must be 64 hex characters", from);
        return SQ_INVALID;
    }
    return SQ_OK;
}

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
    if (session_key() != SQ_OK)
        return 2;
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
