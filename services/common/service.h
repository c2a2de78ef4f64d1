/*
 * service.h — what every daemon does around its own logic: load the config,
 * start logging, install signal handlers, open the admin endpoint, create the
 * idempotent producer. A main() reads:
 *
 *   static sq_service svc;
 *   static sq_option opts[] = { SQ_OPTIONS_COMMON(&svc.cfg), ..., { 0 } };
 *   int rc = sq_service_init(&svc, "triage", opts, USAGE, argc, argv);
 *   if (rc != SQ_OK) return rc == 1 ? 0 : 2;
 *   ... open clients, sq_consumer_run(..., &sq_running) ...
 *   sq_service_close(&svc);
 *
 * Signals: SIGTERM/SIGINT clear sq_running (graceful stop); SIGHUP sets
 * sq_reload, which the daemon's loop checks (sq_service_reload_requested)
 * to re-read its rules file. Handlers only set flags.
 */
#ifndef SQ_SERVICE_H
#define SQ_SERVICE_H

#include "admin.h"
#include "config.h"
#include "kafka.h"
#include "log.h"
#include "metrics.h"
#include "sq.h"
#include "util.h"

#include <signal.h>

extern volatile sig_atomic_t sq_running;
extern volatile sig_atomic_t sq_reload;

typedef struct sq_service {
    sq_common_config cfg;
    sq_option *opts;
    sq_admin *admin;
    sq_producer *producer;
    int64_t started_us;
} sq_service;

/* Installs SIGTERM/SIGINT/SIGHUP handlers and ignores SIGPIPE. */
void sq_signals_install(void);
/* True once after each SIGHUP. */
bool sq_service_reload_requested(void);

/*
 * Loads config (the default service name is `name`), initialises logging and
 * signals, starts the admin endpoint. Returns SQ_OK, 1 when --help was
 * printed, or an error (already reported on stderr).
 */
int sq_service_init(sq_service *s, const char *name, sq_option *opts, const char *usage,
                    int argc, char **argv);
/* Creates s->producer (extra: librdkafka overrides) and registers its health check. */
int sq_service_open_producer(sq_service *s, const char *const *extra);
/* Stops the admin endpoint, frees the producer (after flushing) and the config. */
void sq_service_close(sq_service *s);

#endif
