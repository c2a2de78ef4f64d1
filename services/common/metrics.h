/*
 * metrics.h — a process-wide registry of counters, gauges and histograms,
 * rendered in the Prometheus text format by the admin endpoint.
 *
 * sq_metric_* lookups create on first use and return a stable pointer that
 * is valid for the life of the process; keep it and update it lock-free
 * from any thread. `labels` is the inside of the braces, e.g.
 * "topic=\"tickets.v1\"", or NULL.
 */
#ifndef SQ_METRICS_H
#define SQ_METRICS_H

#include <stddef.h>
#include <stdint.h>

typedef struct sq_metric sq_metric;

sq_metric *sq_metric_counter(const char *name, const char *labels, const char *help);
sq_metric *sq_metric_gauge(const char *name, const char *labels, const char *help);
/* Latency histogram in seconds, buckets 0.5 ms … 10 s. */
sq_metric *sq_metric_histogram(const char *name, const char *labels, const char *help);

void sq_metric_add(sq_metric *m, uint64_t n);      /* counters; NULL is a no-op */
void sq_metric_set(sq_metric *m, double v);        /* gauges */
void sq_metric_observe(sq_metric *m, double seconds);
double sq_metric_value(const sq_metric *m);        /* counter or gauge value; histogram count */

/* Renders every metric; returns a malloc'd NUL-terminated buffer (caller frees). */
char *sq_metrics_render(size_t *len_out);

#endif
