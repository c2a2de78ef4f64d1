/*
 * admin.h — the per-daemon admin endpoint (libmicrohttpd, its own thread):
 *
 *   GET /healthz  200 {"status":"ok",...} when every registered check
 *                 passes, 503 with the failing check's message otherwise;
 *   GET /metrics  the metrics registry in Prometheus text format.
 *
 * Checks run on the admin thread: they must be thread-safe and quick (use
 * a stateless probe such as PQping, or a flag the main loop maintains).
 */
#ifndef SQ_ADMIN_H
#define SQ_ADMIN_H

#include "sq.h"

typedef struct sq_admin sq_admin;
/* Returns SQ_OK when healthy, else an error with a reason in msg. */
typedef int (*sq_health_fn)(void *ctx, char *msg, size_t msglen);

/* Starts the endpoint on bind:port. port 0 → returns a stub that serves nothing. */
sq_admin *sq_admin_start(const char *bind, int port, char *err, size_t errlen);
/* Registers a named check (at most 16). Not thread-safe: call before traffic. */
void sq_admin_add_check(sq_admin *a, const char *name, sq_health_fn fn, void *ctx);
/* Stops the endpoint and frees it. Accepts NULL. */
void sq_admin_stop(sq_admin *a);

#endif
