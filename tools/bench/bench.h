/*
 * bench.h — what the stage benchmarks of shequ-bench share: the run's topic prefix, the build the
 * services come from, spawning a service on that prefix, a fast producer, result lines, RSS.
 */
#ifndef SHEQU_BENCH_H
#define SHEQU_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "kafka.h"
#include "pg.h"
#include "testsupport.h"
#include "ticket.h"
#include "util.h"

extern char prefix[48];          /* this run's topic prefix: "bench.<8 hex>." */
extern const char *bench_build;  /* where the services come from (SHEQU_BENCH_BUILD, default build/release) */

/* Prints a result line and appends it to build/bench/results.jsonl. */
void result(const char *stage, double per_s, double baseline_per_s, double p50_ms, double p99_ms, const char *notes);
long rss_kb(pid_t pid);
/* The pid in $SHEQU_STATE/<file> (tools/dev's pid files), or 0. */
pid_t state_pid(const char *file);
/* Starts services/<name>/<name> of bench_build on the run's topics; extra: more environment. */
pid_t spawn_service(const char *name, char *const extra[]);
sq_producer *producer(void);

/* A count of messages seen, with the first and last broker timestamps (ms). */
typedef struct {
    long want, seen;
    int64_t first_ms, last_ms;
} span;
bool count_any(const rd_kafka_message_t *m, void *arg);

void owner_sql(const char *sql, int n, const char *const *p);
long pg_count(const char *sql, const char *arg);
/* A TicketEvent (responded, with its snapshot) for step `step` of `ticket`, created at base. */
#define BENCH_ADMIN_PORT 18092 /* the admin port of a service the bench spawns and reads metrics from */
double admin_metric(int port, const char *name);
void bench_directory(const char *cm);
void bench_directory_forget(const char *cm);
/* A ticket event for prefix's community with a one-clock snapshot: a creation (ticket assigned) or, when
 * created is false, a response (in progress). */
size_t bench_ticket_event(uint8_t *buf, const char *event_id, const char *ticket, const char *clock, int64_t started,
                          int64_t due, int64_t stopped, int64_t at, bool created, const char *assignee);
/* Step `step` of a ticket in the recorder bench: its creation at base, then responses. */
size_t ticket_event(uint8_t *buf, const char *ticket, int step, int64_t base);

/* A keep-alive HTTP connection to 127.0.0.1:port, or -1. */
int http_connect(int port);
/* POSTs body to path signed as dev-miniprogram with key (NULL: unsigned); the response goes to resp.
 * Returns the HTTP status or -1 when the connection failed. */
int signed_post(int fd, const char *key, const char *path, const char *body, char *resp, size_t cap);

/* A sanitation report (a fresh event id, produced now) to topic, keyed by its id; waits while the queue is full. */
void send_report(sq_producer *p, const char *topic, const char *report_id, const char *community,
                 const char *building, const char *reporter);
/* The same keyed by key (the community, as the gateway keys reports). */
void send_report_keyed(sq_producer *p, const char *topic, const char *report_id, const char *community,
                       const char *building, const char *reporter, const char *key);

void bench_triage(long n);
void bench_triage_steady(long n);
void bench_workflow(long n);
void bench_recorder(long n, int per_ticket, int connections);
void bench_gateway(long n, int conns);
void bench_sla(long n);
void bench_bridge(long n);
void bench_notifier(long n);
void bench_e2e(long n);
void bench_latency(long per_s, long seconds);
void bench_e2e_scale(long n, int rounds);
void bench_restore(long events, long open, int days);
void bench_rebalance(int kills);
/* The partition of a keyed record under murmur2_random (Java's default partitioner). */
int bench_partition(const char *key, int partitions);

#endif
