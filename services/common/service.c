/*
 * service.c — daemon scaffolding shared by every service.
 */
#include "service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

volatile sig_atomic_t sq_running = 1;
volatile sig_atomic_t sq_reload = 0;

static void on_stop(int sig) { sq_running = 0; }
static void on_hup(int sig) { sq_reload = 1; }

void sq_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

bool sq_service_reload_requested(void)
{
    if (!sq_reload)
        return false;
    sq_reload = 0;
    return true;
}

int sq_service_init(sq_service *s, const char *name, sq_option *opts, const char *usage,
                    int argc, char **argv)
{
    char err[512];
    s->opts = opts;
    s->started_us = sq_now_us();
    int rc = sq_config_load(opts, usage, argc, argv, err, sizeof err);
    if (rc == 1)
        return 1;
    if (rc != SQ_OK) {
        fprintf(stderr, "%s: config: %s\n", name, err);
        return rc;
    }
    if (!s->cfg.service || !*s->cfg.service) {
        free(s->cfg.service);
        s->cfg.service = strdup(name);
    }
    sq_log_level level;
    if (sq_log_parse_level(s->cfg.log_level, &level) != SQ_OK) {
        fprintf(stderr, "%s: config: option 'log.level': '%s' is not debug|info|warn|error\n", name,
                s->cfg.log_level);
        return SQ_INVALID;
    }
    sq_log_init(s->cfg.service, level);
    sq_signals_install();
    sq_config_log(opts);
    s->admin = sq_admin_start(s->cfg.admin_bind, (int)s->cfg.admin_port, err, sizeof err);
    if (!s->admin) {
        log_error("admin.failed", "error=\"%s\"", err);
        return SQ_ERR;
    }
    log_info("service.starting", "admin_port=%ld brokers=%s", s->cfg.admin_port, s->cfg.kafka_brokers);
    return SQ_OK;
}

int sq_service_open_producer(sq_service *s, const char *const *extra)
{
    char err[512];
    s->producer = sq_producer_new(&s->cfg, extra, err, sizeof err);
    if (!s->producer) {
        log_error("kafka.producer_failed", "error=\"%s\"", err);
        return SQ_ERR;
    }
    sq_admin_add_check(s->admin, "kafka", sq_kafka_health, sq_producer_handle(s->producer));
    return SQ_OK;
}

void sq_service_close(sq_service *s)
{
    sq_admin_stop(s->admin);
    s->admin = NULL;
    sq_producer_free(s->producer);
    s->producer = NULL;
    log_info("service.stopped", "uptime_s=%lld", (long long)((sq_now_us() - s->started_us) / SQ_US_PER_S));
    sq_config_free(s->opts);
}
