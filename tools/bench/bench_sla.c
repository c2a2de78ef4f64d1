/*
 * bench_sla.c — the SLA engine with N open clocks (issue target: 1,000,000):
 *
 *   1. N ticket snapshots, each with a running respond clock, go to tickets.v1. M of them (1 in 50,
 *      at most 20,000) fall due in a 30-second window shortly after the engine has started; the rest
 *      are due tomorrow.
 *   2. The sla service starts on that log: its replay time (from its replay.done line) and RSS.
 *   3. While the window passes, 5,000 other ticket events per second stream in (responses that stop
 *      clocks of tomorrow's tickets).
 *   4. Every sla_breached event is read back: each of the M clocks must breach exactly once; lateness
 *      is the breach's produced_at minus its due_at (p50, p99, max).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "shequ/v1/ticket.pb-c.h"

enum { STREAM_PER_S = 5000 };

static size_t snapshot(uint8_t *buf, const char *ticket, int64_t started, int64_t due, int64_t stopped, int64_t at)
{
    char id[SQ_UUID_LEN], name[160];
    snprintf(name, sizeof name, "%s/%lld", ticket, (long long)at);
    sq_uuid5(id, "bench-sla", name, strlen(name));
    return bench_ticket_event(buf, id, ticket, "respond", started, due, stopped, at, !stopped, "bench-staff");
}

/* The sla service with its log in path (for the replay line). */
static pid_t spawn_logged(const char *path)
{
    static char level[] = "SHEQU_LOG_LEVEL=info", ladder[] = "SHEQU_LADDER=default=0.8,1,2,3";
    char *extra[] = { level, ladder, NULL };
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int saved = dup(STDOUT_FILENO), saved_err = dup(STDERR_FILENO);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    pid_t pid = spawn_service("sla", extra);
    dup2(saved, STDOUT_FILENO);
    dup2(saved_err, STDERR_FILENO);
    close(fd);
    close(saved);
    close(saved_err);
    return pid;
}

/* Milliseconds of the replay from the service's "replay.done ... ms=N" line; -1 until it is there. */
static long replay_ms(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    long ms = -1;
    while (f && fgets(line, sizeof line, f)) {
        char *p = strstr(line, "replay.done");
        if (p && (p = strstr(p, " ms=")))
            ms = atol(p + 4);
    }
    if (f)
        fclose(f);
    return ms;
}

typedef struct {
    long want, seen;
    double *late_ms;
    int64_t total, read; /* messages on the topic, messages read */
} breaches;

static bool collect(const rd_kafka_message_t *m, void *arg)
{
    breaches *b = arg;
    Shequ__V1__TicketEvent *e = shequ__v1__ticket_event__unpack(NULL, m->len, m->payload);
    if (e && e->body_case == SHEQU__V1__TICKET_EVENT__BODY_SLA_BREACHED && e->header) {
        if (b->seen < b->want + 1000)
            b->late_ms[b->seen] = (double)(e->header->produced_at_us - e->sla_breached->due_at_us) / 1000.0;
        b->seen++;
    }
    if (e)
        shequ__v1__ticket_event__free_unpacked(e, NULL);
    return ++b->read >= b->total; /* read to the end */
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void bench_sla(long n)
{
    long due_soon = n / 50 > 20000 ? 20000 : n / 50;
    sq_producer *p = producer();
    char topic[128], ticket[96];
    snprintf(topic, sizeof topic, "%stickets.v1", prefix);
    uint8_t buf[1024];
    int64_t now = sq_now_us(), t0 = now + 120 * SQ_US_PER_S; /* the window opens 2 minutes from now */
    for (long i = 0; i < n; i++) {
        snprintf(ticket, sizeof ticket, "%st%ld", prefix, i);
        int64_t due = i < due_soon ? t0 + 20 * SQ_US_PER_S + (30 * SQ_US_PER_S * i) / due_soon
                                   : now + 86400 * SQ_US_PER_S;
        int64_t started = i < due_soon ? due - 100 * SQ_US_PER_S : now;
        size_t len = snapshot(buf, ticket, started, due, 0, now);
        while (sq_producer_send(p, topic, ticket, strlen(ticket), buf, len, NULL, NULL, NULL) == SQ_RETRY)
            sq_producer_wait(p, 100);
    }
    sq_producer_wait(p, 120000);
    int64_t produced = sq_now_us();
    fprintf(stderr, "bench sla: %ld snapshots on the log in %.1f s; starting the engine\n", n,
            (double)(produced - now) / 1e6);
    const char *log_path = "build/bench/sla.log";
    pid_t pid = spawn_logged(log_path);
    long ms = -1;
    while ((ms = replay_ms(log_path)) < 0 && sq_now_us() < t0)
        sq_sleep_ms(100);
    long rss_replayed = rss_kb(pid);
    if (ms < 0)
        fprintf(stderr, "bench sla: the replay did not finish before the window opened; figures are not valid\n");
    /* stream STREAM_PER_S responses per second until the window has closed */
    long streamed = 0, k = due_soon;
    int64_t end = t0 + 60 * SQ_US_PER_S;
    while (sq_now_us() < end) {
        int64_t tick = sq_now_us();
        for (int j = 0; j < STREAM_PER_S / 10 && k < n; j++, k++, streamed++) {
            snprintf(ticket, sizeof ticket, "%st%ld", prefix, k);
            size_t len = snapshot(buf, ticket, now, now + 86400 * SQ_US_PER_S, tick, tick);
            sq_producer_send(p, topic, ticket, strlen(ticket), buf, len, NULL, NULL, NULL);
        }
        int64_t left = 100000 - (sq_now_us() - tick);
        if (left > 0)
            sq_sleep_ms(left / 1000);
    }
    sq_producer_wait(p, 30000);
    sq_sleep_ms(5000);
    long rss_end = rss_kb(pid);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    breaches b = { .want = due_soon, .late_ms = calloc((size_t)due_soon + 1000, sizeof(double)),
                   .total = ts_end_offsets(topic) };
    ts_consume_until(topic, -1, 300000, collect, &b);
    long got = b.seen < due_soon + 1000 ? b.seen : due_soon + 1000;
    qsort(b.late_ms, (size_t)got, sizeof(double), cmp_double);
    double p50 = got ? b.late_ms[got / 2] : 0, p99 = got ? b.late_ms[(got * 99) / 100] : 0,
           max = got ? b.late_ms[got - 1] : 0;
    char notes[400];
    snprintf(notes, sizeof notes,
             "%ld open clocks: replay %ld ms, RSS %ld MB after replay (%ld B/clock), %ld MB at the end; "
             "%ld of %ld due clocks breached (want each once); %ld events streamed at %d/s; lateness max %.1f ms",
             n, ms, rss_replayed / 1024, n ? rss_replayed * 1024 / n : 0, rss_end / 1024, b.seen, due_soon, streamed,
             STREAM_PER_S, max);
    result("sla", ms > 0 ? (double)n * 1000.0 / (double)ms : 0, 0, p50, p99, notes);
    free(b.late_ms);
    sq_producer_free(p);
}
