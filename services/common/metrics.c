/*
 * metrics.c — fixed-capacity registry. Creation takes a mutex; updates are
 * atomic. Families (same name) are rendered together with one HELP/TYPE.
 */
#include "metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_METRICS 1024
#define NBUCKETS 14

static const double bucket_le[NBUCKETS] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                            0.1, 0.25, 0.5, 1, 2.5, 5, 10 };

typedef enum { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM } kind;

struct sq_metric {
    kind kind;
    char name[96];
    char labels[160];
    char help[160];
    _Atomic uint64_t count;        /* counter value or histogram count */
    _Atomic double gauge;
    _Atomic uint64_t sum_ns;       /* histogram sum */
    _Atomic uint64_t buckets[NBUCKETS];
};

static sq_metric registry[MAX_METRICS];
static _Atomic int nmetrics;
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;

static sq_metric *lookup(kind k, const char *name, const char *labels, const char *help)
{
    labels = labels ? labels : "";
    int n = atomic_load(&nmetrics);
    for (int i = 0; i < n; i++)
        if (strcmp(registry[i].name, name) == 0 && strcmp(registry[i].labels, labels) == 0)
            return &registry[i];
    pthread_mutex_lock(&reg_lock);
    sq_metric *m = NULL;
    n = atomic_load(&nmetrics);
    for (int i = 0; i < n && !m; i++)
        if (strcmp(registry[i].name, name) == 0 && strcmp(registry[i].labels, labels) == 0)
            m = &registry[i];
    if (!m && n < MAX_METRICS) {
        m = &registry[n];
        m->kind = k;
        snprintf(m->name, sizeof m->name, "%s", name);
        snprintf(m->labels, sizeof m->labels, "%s", labels);
        snprintf(m->help, sizeof m->help, "%s", help ? help : name);
        atomic_store(&nmetrics, n + 1);
    }
    pthread_mutex_unlock(&reg_lock);
    return m; /* NULL when full: updates become no-ops */
}

sq_metric *sq_metric_counter(const char *name, const char *labels, const char *help)
{
    return lookup(KIND_COUNTER, name, labels, help);
}
sq_metric *sq_metric_gauge(const char *name, const char *labels, const char *help)
{
    return lookup(KIND_GAUGE, name, labels, help);
}
sq_metric *sq_metric_histogram(const char *name, const char *labels, const char *help)
{
    return lookup(KIND_HISTOGRAM, name, labels, help);
}

void sq_metric_add(sq_metric *m, uint64_t n)
{
    if (m)
        atomic_fetch_add_explicit(&m->count, n, memory_order_relaxed);
}

void sq_metric_set(sq_metric *m, double v)
{
    if (m)
        atomic_store_explicit(&m->gauge, v, memory_order_relaxed);
}

void sq_metric_observe(sq_metric *m, double seconds)
{
    if (!m)
        return;
    if (seconds < 0)
        seconds = 0;
    for (int i = 0; i < NBUCKETS; i++)
        if (seconds <= bucket_le[i]) {
            atomic_fetch_add_explicit(&m->buckets[i], 1, memory_order_relaxed);
            break;
        }
    atomic_fetch_add_explicit(&m->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->sum_ns, (uint64_t)(seconds * 1e9), memory_order_relaxed);
}

double sq_metric_value(const sq_metric *m)
{
    if (!m)
        return 0;
    return m->kind == KIND_GAUGE ? atomic_load(&m->gauge) : (double)atomic_load(&m->count);
}

typedef struct {
    char *buf;
    size_t len, cap;
} strbuf;

static void sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(strbuf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if (b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap + (size_t)n) * 2;
        char *nb = realloc(b->buf, cap);
        if (!nb)
            return;
        b->buf = nb;
        b->cap = cap;
    }
}

static const char *sep(const sq_metric *m) { return m->labels[0] ? "," : ""; }

char *sq_metrics_render(size_t *len_out)
{
    static const char *types[] = { "counter", "gauge", "histogram" };
    strbuf b = { malloc(4096), 0, 4096 };
    if (!b.buf)
        return NULL;
    b.buf[0] = '\0';
    int n = atomic_load(&nmetrics);
    for (int i = 0; i < n; i++) {
        const sq_metric *m = &registry[i];
        bool first = true;
        for (int j = 0; j < i; j++)
            if (strcmp(registry[j].name, m->name) == 0)
                first = false;
        if (!first)
            continue;
        sb_printf(&b, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name, types[m->kind]);
        for (int j = i; j < n; j++) {
            const sq_metric *x = &registry[j];
            if (strcmp(x->name, m->name) != 0)
                continue;
            if (x->kind == KIND_COUNTER) {
                sb_printf(&b, "%s%s%s%s %llu\n", x->name, x->labels[0] ? "{" : "", x->labels,
                          x->labels[0] ? "}" : "", (unsigned long long)atomic_load(&x->count));
            } else if (x->kind == KIND_GAUGE) {
                sb_printf(&b, "%s%s%s%s %g\n", x->name, x->labels[0] ? "{" : "", x->labels,
                          x->labels[0] ? "}" : "", atomic_load(&x->gauge));
            } else {
                uint64_t cum = 0;
                for (int k = 0; k < NBUCKETS; k++) {
                    cum += atomic_load(&x->buckets[k]);
                    sb_printf(&b, "%s_bucket{%s%sle=\"%g\"} %llu\n", x->name, x->labels, sep(x),
                              bucket_le[k], (unsigned long long)cum);
                }
                sb_printf(&b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", x->name, x->labels, sep(x),
                          (unsigned long long)atomic_load(&x->count));
                sb_printf(&b, "%s_sum%s%s%s %.6f\n", x->name, x->labels[0] ? "{" : "", x->labels,
                          x->labels[0] ? "}" : "", (double)atomic_load(&x->sum_ns) / 1e9);
                sb_printf(&b, "%s_count%s%s%s %llu\n", x->name, x->labels[0] ? "{" : "", x->labels,
                          x->labels[0] ? "}" : "", (unsigned long long)atomic_load(&x->count));
            }
        }
    }
    if (len_out)
        *len_out = b.len;
    return b.buf;
}
