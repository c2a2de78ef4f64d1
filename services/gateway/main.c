/*
 * gateway — HTTP (native API and Open311) → reports.resident.v1, events.property.v1, feedback.resident.v1.
 */
#include "gateway.h"
#include "statelog.h"

static sq_service svc;
static gateway gw;
static sq_option opts[] = {
    SQ_OPTIONS_COMMON(&svc.cfg),
    { "http.listen", SQ_OPT_STR, "127.0.0.1", 0, 0, "address of the API", &gw.cfg.listen, "" },
    { "http.port", SQ_OPT_INT, "18080", 1, 65535, "port of the API", &gw.cfg.port, "" },
    { "http.connection_timeout_s", SQ_OPT_INT, "15", 1, 600, "idle or slow connections are closed after this", &gw.cfg.connection_timeout_s, "" },
    { "http.max_connections", SQ_OPT_INT, "2000", 1, 100000, "concurrent connections", &gw.cfg.max_connections, "" },
    { "clients.file", SQ_OPT_STR, "deploy/clients/dev.clients", 0, 0, "client ids, secrets and Open311 api keys (reloaded on SIGHUP)", &gw.cfg.clients_file, "" },
    { "phone.key", SQ_OPT_STR, NULL, 0, 0, "64 hex characters: the key that seals residents' phone numbers", &gw.cfg.phone_key_hex, "" },
    { "auth.skew_s", SQ_OPT_INT, "300", 1, 3600, "accepted clock difference of signed requests", &gw.cfg.skew_s, "" },
    { "idempotency.ttl_s", SQ_OPT_INT, "86400", 60, 604800, "how long an Idempotency-Key is remembered", &gw.cfg.idempotency_ttl_s, "" },
    { "rate.client_per_min", SQ_OPT_INT, "600000", 0, 100000000, "requests per minute per client (0 = no limit)", &gw.cfg.rate_client_per_min, "" },
    { "rate.reporter_per_min", SQ_OPT_INT, "30", 0, 100000000, "reports per minute per resident (0 = no limit)", &gw.cfg.rate_reporter_per_min, "" },
    { "status.keep_final_s", SQ_OPT_INT, "86400", 0, 31536000, "how long the status cache keeps a closed, cancelled or merged ticket before PostgreSQL answers for it (0 = for as long as it runs; so too without pg.dsn)", &gw.cfg.status_keep_final_s, "" },
    { "report.max_description", SQ_OPT_INT, "2000", 10, 20000, "characters in a description", &gw.cfg.max_description, "" },
    { 0 },
};

static const char usage[] = "usage: gateway [options]\n"
                            "The signed HTTP API and Open311 GeoReport v2 in front of the event bus.";

static int ready(void *ctx, char *msg, size_t len)
{
    return gw_status_ready(ctx) ? SQ_OK : sq_fail(msg, len, SQ_RETRY, "status cache not caught up");
}

int main(int argc, char **argv)
{
    int rc = sq_service_init(&svc, "gateway", opts, usage, argc, argv);
    if (rc != SQ_OK)
        return rc == 1 ? 0 : 2;
    char err[512];
    gw.common = &svc.cfg;
    if (sq_phone_key_parse(gw.cfg.phone_key_hex, gw.phone_key) != SQ_OK) {
        log_error("config.invalid", "option 'phone.key' must be 64 hex characters");
        return 2;
    }
    if (!(gw.rules = sq_rules_load(*svc.cfg.rules_file ? svc.cfg.rules_file : "deploy/rules/shequ.rules", err, sizeof err)) ||
        gw_clients_load(gw.cfg.clients_file, &gw.clients, err, sizeof err) != SQ_OK) {
        log_error("config.invalid", "error=\"%s\"", err);
        return 2;
    }
    pthread_rwlock_init(&gw.clients_lock, NULL);
    const char *extra[] = { "linger.ms", "1", "message.timeout.ms", "5000", "socket.nagle.disable", "true", NULL };
    if (sq_service_open_producer(&svc, extra) != SQ_OK || sq_producer_start_poller(svc.producer) != SQ_OK)
        return 2;
    gw.producer = svc.producer;
    gw.topic_reports = sq_topic_name(&svc.cfg, "reports.resident.v1");
    gw.topic_actions = sq_topic_name(&svc.cfg, "events.property.v1");
    gw.topic_feedback = sq_topic_name(&svc.cfg, "feedback.resident.v1");
    gw.topic_tickets = sq_topic_name(&svc.cfg, "tickets.v1");
    gw.topic_changelog = sq_topic_name(&svc.cfg, SQ_CHANGELOG_TOPIC);
    static const char *bucket_labels[] = { "class=\"2xx\"", "class=\"400\"", "class=\"401\"", "class=\"404\"",
                                           "class=\"413_415\"", "class=\"429_503\"" };
    for (int i = 0; i < 6; i++)
        gw.m_requests[i] = sq_metric_counter("shequ_http_requests_total", bucket_labels[i], "HTTP requests by outcome");
    gw.status = gw_status_start(&gw);
    sq_admin_add_check(svc.admin, "redis", sq_redis_health, svc.cfg.redis_url);
    sq_admin_add_check(svc.admin, "status_cache", ready, gw.status);
    if (gw_http_start(&gw, err, sizeof err) != SQ_OK) {
        log_error("http.failed", "error=\"%s\"", err);
        return 2;
    }
    log_info("http.listening", "address=%s port=%ld", gw.cfg.listen, gw.cfg.port);
    while (sq_running) {
        if (sq_service_reload_requested()) {
            gw_clients fresh;
            if (gw_clients_load(gw.cfg.clients_file, &fresh, err, sizeof err) == SQ_OK) {
                pthread_rwlock_wrlock(&gw.clients_lock);
                gw_clients_free(&gw.clients);
                gw.clients = fresh;
                pthread_rwlock_unlock(&gw.clients_lock);
                log_info("clients.reloaded", "clients=%d", fresh.n);
            } else {
                log_error("clients.reload_failed", "error=\"%s\" (keeping the old list)", err);
            }
        }
        if (sq_producer_fatal(svc.producer))
            break;
        sq_sleep_ms(200);
    }
    gw_http_stop();
    gw_status_stop(gw.status);
    gw_clients_free(&gw.clients);
    sq_rules_free(gw.rules);
    sq_service_close(&svc);
    return 0;
}
