/* Metrics registry and Prometheus rendering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

static void render(void **state)
{
    sq_metric *c = sq_metric_counter("t_in_total", "topic=\"a\"", "in");
    assert_ptr_equal(c, sq_metric_counter("t_in_total", "topic=\"a\"", "in"));
    sq_metric *c2 = sq_metric_counter("t_in_total", "topic=\"b\"", "in");
    sq_metric_add(c, 3);
    sq_metric_add(c2, 1);
    sq_metric *g = sq_metric_gauge("t_lag", NULL, "lag");
    sq_metric_set(g, 42);
    sq_metric *h = sq_metric_histogram("t_latency_seconds", NULL, "latency");
    sq_metric_observe(h, 0.0001);
    sq_metric_observe(h, 0.02);
    sq_metric_observe(h, 100);
    sq_metric_add(NULL, 1); /* no-op */
    size_t len;
    char *out = sq_metrics_render(&len);
    assert_int_equal(strlen(out), len);
    assert_non_null(strstr(out, "# TYPE t_in_total counter\n"));
    assert_non_null(strstr(out, "t_in_total{topic=\"a\"} 3\n"));
    assert_non_null(strstr(out, "t_in_total{topic=\"b\"} 1\n"));
    assert_non_null(strstr(out, "t_lag 42\n"));
    assert_non_null(strstr(out, "t_latency_seconds_bucket{le=\"0.0005\"} 1\n"));
    assert_non_null(strstr(out, "t_latency_seconds_bucket{le=\"0.025\"} 2\n"));
    assert_non_null(strstr(out, "t_latency_seconds_bucket{le=\"+Inf\"} 3\n"));
    assert_non_null(strstr(out, "t_latency_seconds_count 3\n"));
    /* one HELP line per family */
    char *first = strstr(out, "# HELP t_in_total");
    assert_null(strstr(first + 1, "# HELP t_in_total"));
    free(out);
    assert_true(sq_metric_value(c) == 3);
    assert_true(sq_metric_value(g) == 42);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(render) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
