/*
 * bench_e2e.c — the whole path:
 *
 *   shequ-bench e2e N          throughput: N reports already on reports.resident.v1 (a backlog), then a
 *                              triage and a recorder of their own drain it into PostgreSQL; reports/s
 *                              until N ticket rows exist, with each service's CPU and RSS.
 *   shequ-bench latency R S    latency on the running stack (tools/dev up): signed reports to the gateway
 *                              at R per second for S seconds; for each, from the gateway's 202 to the
 *                              staff member's MQTT notification (observer account) and to the ticket row
 *                              (tickets.recorded_at); p50/p99/max, and every service's CPU seconds per
 *                              1,000 reports and RSS over the run.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "bench_mqtt.h"
#include "map.h"
#include "mqtt.h"


static void forget(const char *cm)
{
    const char *p[] = { cm };
    owner_sql("DELETE FROM shequ.ticket_events WHERE ticket_id IN (SELECT ticket_id FROM shequ.tickets WHERE community_id = $1)", 1, p);
    owner_sql("DELETE FROM shequ.tickets WHERE community_id = $1", 1, p);
    owner_sql("DELETE FROM shequ.reports WHERE community_id = $1", 1, p);
    bench_directory_forget(cm);
}

/* ------------------------------------------------------------ throughput */

void bench_e2e(long n)
{
    char cm[64];
    snprintf(cm, sizeof cm, "e2e-%.8s", prefix + 6);
    bench_directory(cm);
    sq_producer *p = producer();
    char topic[128];
    snprintf(topic, sizeof topic, "%sreports.resident.v1", prefix);
    for (long i = 0; i < n; i++) {
        char rid[96], b[24], who[48];
        snprintf(rid, sizeof rid, "%s%ld", cm, i);
        snprintf(b, sizeof b, "B%ld", i); /* every report its own place: one ticket each */
        snprintf(who, sizeof who, "wx-%ld", i % 5000);
        send_report(p, topic, rid, cm, b, who);
    }
    sq_producer_wait(p, 60000);
    sq_producer_free(p);
    char rules[300], pg[300];
    snprintf(rules, sizeof rules, "SHEQU_RULES_FILE=%s/deploy/rules/shequ.rules", ts_env("SHEQU_ROOT"));
    snprintf(pg, sizeof pg, "SHEQU_PG_DSN=%s", ts_env("PG_DSN"));
    char *extra[] = { rules, pg, NULL };
    /* CPU over the drain: the two services, PostgreSQL (postmaster, backends, background workers), the
     * broker, and the whole machine (which also holds the running stack, idle here, and this watcher) */
    pid_t pg_pid = state_pid("pg/data/postmaster.pid"), kafka_pid = state_pid("kafka.pid");
    double pg0 = ts_tree_cpu_seconds(pg_pid), kafka0 = ts_tree_cpu_seconds(kafka_pid);
    long long busy0, total0;
    machine_ticks(&busy0, &total0);
    int64_t t0 = sq_mono_us();
    pid_t triage = spawn_service("triage", extra), recorder = spawn_service("recorder", extra);
    /* progress read cheaply, so that watching does not take CPU from what is watched: the community's
     * KPI rollup rows count its tickets (committed with them), and report ids are the community's id
     * followed by a number, an index range */
    const char *count_reports = "SELECT count(*) FROM shequ.reports WHERE report_id >= $1 AND report_id < $1 || '~'";
    long tickets = 0, reports = 0;
    int64_t t10 = 0, t90 = 0; /* when a tenth and nine tenths of the tickets were there: the sustained rate */
    long n10 = 0, n90 = 0;
    while (sq_mono_us() - t0 < 600 * SQ_US_PER_S && (tickets < n || reports < n)) {
        sq_sleep_ms(50);
        if (tickets < n) {
            tickets = pg_count("SELECT coalesce(sum(tickets), 0) FROM shequ.kpi_rollup WHERE community_id = $1", cm);
            if (!t10 && tickets >= n / 10)
                t10 = sq_mono_us(), n10 = tickets;
            if (!t90 && tickets >= n * 9 / 10)
                t90 = sq_mono_us(), n90 = tickets;
        } else {
            reports = pg_count(count_reports, cm);
        }
    }
    double secs = (double)(sq_mono_us() - t0) / 1e6;
    double sustained = t90 > t10 ? (double)(n90 - n10) / ((double)(t90 - t10) / 1e6) : 0;
    tickets = pg_count("SELECT count(*) FROM shequ.tickets WHERE community_id = $1", cm);
    double ct = ts_cpu_seconds(triage), cr = ts_cpu_seconds(recorder);
    double cp = ts_tree_cpu_seconds(pg_pid) - pg0, ck = ts_tree_cpu_seconds(kafka_pid) - kafka0;
    long long busy1, total1;
    machine_ticks(&busy1, &total1);
    double cm_all = (double)(busy1 - busy0) / (double)sysconf(_SC_CLK_TCK);
    double util = total1 > total0 ? 100.0 * (double)(busy1 - busy0) / (double)(total1 - total0) : -1;
    long rt = rss_kb(triage), rr = rss_kb(recorder);
    ts_stop(triage, false);
    ts_stop(recorder, false);
    char notes[600];
    snprintf(notes, sizeof notes,
             "%ld reports from the input topic to %ld ticket rows and %ld report rows: %.0f/s start-up included, "
             "the rate shown is from 10%% to 90%% of the rows; CPU s per 1000 reports: triage %.3f recorder %.3f "
             "postgres %.3f kafka %.3f, machine %.3f (busy %.0f%% of %ld cores); RSS triage %ld MB recorder %ld MB",
             n, tickets, reports, secs > 0 ? (double)n / secs : 0, ct * 1000 / (double)n, cr * 1000 / (double)n,
             cp * 1000 / (double)n, ck * 1000 / (double)n, cm_all * 1000 / (double)n, util,
             sysconf(_SC_NPROCESSORS_ONLN), rt / 1024, rr / 1024);
    result("e2e", sustained, 0, 0, 0, notes);
    forget(cm);
}

/* --------------------------------------------------------------- latency */

typedef struct {
    pthread_mutex_t lock;
    sq_map *accepted, *notified; /* ticket_id → wall-clock microseconds */
    const char *cm, *secret;
    int port;
    long per_thread, threads;
    int64_t start_us, every_us;
    long ok, failed;
} run_state;

static int on_notification(void *ctx, const char *topic, const void *payload, size_t len)
{
    run_state *s = ctx;
    int64_t now = sq_now_us();
    char text[2048];
    snprintf(text, sizeof text, "%.*s", (int)(len < sizeof text - 1 ? len : sizeof text - 1), (const char *)payload);
    char *t = strstr(text, "\"ticket_id\":\"");
    if (t) {
        t += 13;
        char *end = strchr(t, '"');
        if (end) {
            *end = '\0';
            pthread_mutex_lock(&s->lock);
            if (!sq_map_get(s->notified, t))
                sq_map_put(s->notified, t, (void *)(intptr_t)now);
            pthread_mutex_unlock(&s->lock);
        }
    }
    return 1;
}

typedef struct {
    run_state *s;
    int thread;
} sender_arg;

/* Sends signed reports at its share of the rate over one keep-alive connection; records each 202. */
static void *sender(void *arg)
{
    sender_arg *a = arg;
    run_state *s = a->s;
    int fd = http_connect(s->port);
    for (long i = 0; fd >= 0 && i < s->per_thread; i++) {
        int64_t wait = s->start_us + (i * s->threads + a->thread) * s->every_us - sq_mono_us();
        if (wait > 0)
            sq_sleep_ms(wait / 1000);
        char body[512], resp[4096];
        snprintf(body, sizeof body,
                 "{\"community_id\":\"%s\",\"reporter_id\":\"wx-%d-%ld\",\"category\":\"sanitation\","
                 "\"description\":\"楼道垃圾没有清运\",\"building\":\"T%d-%ld\"}",
                 s->cm, a->thread, i, a->thread, i);
        int status = signed_post(fd, s->secret, "/v1/reports", body, resp, sizeof resp);
        int64_t accepted = sq_now_us();
        char *rid = status == 202 ? strstr(resp, "\"report_id\":\"") : NULL;
        char *end = rid ? strchr(rid + 13, '"') : NULL;
        if (!end) {
            __atomic_add_fetch(&s->failed, 1, __ATOMIC_RELAXED);
            continue;
        }
        *end = '\0';
        char ticket[SQ_TICKET_ID_MAX];
        sq_ticket_id_make(ticket, s->cm, rid + 13);
        pthread_mutex_lock(&s->lock);
        sq_map_put(s->accepted, ticket, (void *)(intptr_t)accepted);
        s->ok++;
        pthread_mutex_unlock(&s->lock);
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* p50/p99/max in ms of a list of microsecond latencies (sorted in place). */
static void percentiles(long *v, long n, double *p50, double *p99, double *max)
{
    qsort(v, (size_t)n, sizeof *v, cmp_long);
    *p50 = n ? (double)v[n / 2] / 1e3 : 0;
    *p99 = n ? (double)v[(n * 99) / 100] / 1e3 : 0;
    *max = n ? (double)v[n - 1] / 1e3 : 0;
}

typedef struct {
    run_state *s;
    long *lat;
    long n;
} collect_arg;

static int collect_notified(void *ctx, const char *ticket, void *value)
{
    collect_arg *c = ctx;
    void *sent = sq_map_get(c->s->accepted, ticket);
    if (sent)
        c->lat[c->n++] = (long)((intptr_t)value - (intptr_t)sent);
    return 0;
}

/* ------------------------------------------------ closing the run's tickets */

typedef struct {
    run_state *s;
    char **ids;
    long n, next, cancelled;
    pthread_mutex_t lock;
} cancel_state;

static int list_ticket(void *ctx, const char *ticket, void *value)
{
    cancel_state *c = ctx;
    c->ids[c->n++] = strdup(ticket);
    return 0;
}

/* Cancels tickets from the shared list over one keep-alive connection, as the community's supervisor. */
static void *canceller(void *arg)
{
    cancel_state *c = arg;
    int fd = http_connect(c->s->port);
    for (;;) {
        pthread_mutex_lock(&c->lock);
        long i = c->next < c->n ? c->next++ : -1;
        pthread_mutex_unlock(&c->lock);
        if (i < 0 || fd < 0)
            break;
        char path[128], body[256], resp[1024];
        snprintf(path, sizeof path, "/v1/tickets/%s/actions", c->ids[i]);
        snprintf(body, sizeof body, "{\"actor_id\":\"%s-sup\",\"action\":\"cancel\",\"note\":\"benchmark run over\"}",
                 c->s->cm);
        if (signed_post(fd, c->s->secret, path, body, resp, sizeof resp) == 202)
            __atomic_add_fetch(&c->cancelled, 1, __ATOMIC_RELAXED);
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

/* Cancels every ticket the run opened, so that the stack's open work (kept in memory by triage, workflow,
 * SLA and the gateway) does not grow run after run; cancelled tickets count in no KPI. */
static void cancel_run_tickets(run_state *s)
{
    cancel_state c = { .s = s, .lock = PTHREAD_MUTEX_INITIALIZER };
    c.ids = calloc((size_t)sq_map_len(s->accepted) + 1, sizeof *c.ids);
    sq_map_each(s->accepted, list_ticket, &c);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, canceller, &c);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    /* recorded (and the supervisor still in the directory) before the run's rows are taken out again */
    long done = 0;
    for (int waited = 0; waited < 30000 && done < c.cancelled; waited += 500) {
        sq_sleep_ms(500);
        done = pg_count("SELECT count(*) FROM shequ.tickets WHERE community_id = $1 AND status = 'cancelled'", s->cm);
    }
    fprintf(stderr, "bench latency: cancelled %ld of the run's %ld tickets (%ld recorded)\n", c.cancelled, c.n, done);
    for (long i = 0; i < c.n; i++)
        free(c.ids[i]);
    free(c.ids);
}

/* "svc-<name>.pid" */
static const char *pidfile(const char *name, char *out, size_t len)
{
    snprintf(out, len, "svc-%s.pid", name);
    return out;
}

static const char *services[] = { "gateway", "triage", "workflow", "sla", "recorder", "notifier", "alarm-bridge", "dashboard" };


void bench_latency(long per_s, long seconds)
{
    run_state s = { .per_thread = per_s * seconds / 16, .threads = 16, .secret = ts_env("SHEQU_CLIENT_SECRET") };
    pthread_mutex_init(&s.lock, NULL);
    s.accepted = sq_map_new(1 << 16);
    s.notified = sq_map_new(1 << 16);
    char cm[64], url[256];
    snprintf(cm, sizeof cm, "lat-%.8s", prefix + 6);
    snprintf(url, sizeof url, "%s", ts_env("GATEWAY_URL"));
    s.cm = cm;
    s.port = atoi(strrchr(url, ':') + 1);
    bench_directory(cm);
    const char *sp[] = { cm };
    owner_sql("INSERT INTO shequ.staff (staff_id, name, role, company_id, community_id, skills, on_duty)"
              " VALUES ($1 || '-sup', 'bench', 'supervisor', $1 || '-co', $1, '{}', true) ON CONFLICT DO NOTHING", 1, sp);
    fprintf(stderr, "bench latency: directory written; waiting 12 s for triage to pick it up\n");
    sq_sleep_ms(12000);
    sq_mqtt_options o = { .host = "127.0.0.1", .port = atoi(ts_env("MQTT_PORT")), .client_id = prefix,
                          .user = ts_env("MQTT_OBSERVER_USER"), .password = ts_env("MQTT_OBSERVER_PASSWORD"),
                          .clean_session = true };
    char err[256];
    sq_mqtt *m = sq_mqtt_new(&o, err, sizeof err);
    sq_mqtt_on_message(m, on_notification, &s);
    if (!m || sq_mqtt_connect(m, 5000, err, sizeof err) != SQ_OK ||
        sq_mqtt_subscribe(m, "staff/+/tasks", 1, 5000, err, sizeof err) != SQ_OK) {
        fprintf(stderr, "bench latency: MQTT: %s\n", err);
        return;
    }
    double cpu0[8];
    char file[64];
    for (int i = 0; i < 8; i++) {
        pid_t pid = state_pid(pidfile(services[i], file, sizeof file));
        cpu0[i] = pid ? ts_cpu_seconds(pid) : 0;
    }
    s.every_us = SQ_US_PER_S / per_s;
    s.start_us = sq_mono_us() + 100000;
    pthread_t th[16];
    sender_arg args[16];
    for (int i = 0; i < 16; i++) {
        args[i] = (sender_arg){ &s, i };
        pthread_create(&th[i], NULL, sender, &args[i]);
    }
    for (int i = 0; i < 16; i++)
        pthread_join(th[i], NULL);
    double sent_s = (double)(sq_mono_us() - s.start_us) / 1e6;
    sq_sleep_ms(5000); /* the last notifications and rows */
    double cpu[8];
    long rss[8];
    for (int i = 0; i < 8; i++) {
        pid_t pid = state_pid(pidfile(services[i], file, sizeof file));
        cpu[i] = pid ? ts_cpu_seconds(pid) - cpu0[i] : 0;
        rss[i] = pid ? rss_kb(pid) : 0;
    }
    sq_mqtt_free(m);
    /* gateway 202 → staff notification */
    collect_arg c = { &s, calloc((size_t)s.ok + 1, sizeof(long)), 0 };
    pthread_mutex_lock(&s.lock);
    sq_map_each(s.notified, collect_notified, &c);
    pthread_mutex_unlock(&s.lock);
    double n50, n99, nmax;
    long notified = c.n;
    percentiles(c.lat, c.n, &n50, &n99, &nmax);
    /* gateway 202 → ticket row */
    sq_pg *pg = sq_pg_new(ts_env("PG_OWNER_DSN"), 3, 60000, "bench");
    PGresult *r = NULL;
    const char *p[] = { cm };
    long *rows = calloc((size_t)s.ok + 1, sizeof(long)), nrows = 0;
    if (sq_pg_exec(pg, "SELECT ticket_id, (extract(epoch FROM recorded_at) * 1000000)::bigint FROM shequ.tickets"
                       " WHERE community_id = $1", 1, p, &r, err, sizeof err) == SQ_OK) {
        for (int i = 0; i < PQntuples(r); i++) {
            void *sent = sq_map_get(s.accepted, PQgetvalue(r, i, 0));
            if (sent && nrows < s.ok)
                rows[nrows++] = atol(PQgetvalue(r, i, 1)) - (long)(intptr_t)sent;
        }
        PQclear(r);
    }
    sq_pg_free(pg);
    double r50, r99, rmax;
    percentiles(rows, nrows, &r50, &r99, &rmax);
    char notes[600];
    int off = snprintf(notes, sizeof notes,
                       "%ld reports at %ld/s for %.0f s (%ld accepted, %ld failed); notification p50 %.1f p99 %.1f max %.1f ms"
                       " (%ld notified); ticket row p50 %.1f p99 %.1f max %.1f ms (%ld rows). CPU s per 1000 reports / RSS MB:",
                       s.ok + s.failed, per_s, sent_s, s.ok, s.failed, n50, n99, nmax, notified, r50, r99, rmax, nrows);
    for (int i = 0; i < 8 && off < (int)sizeof notes; i++)
        off += snprintf(notes + off, sizeof notes - (size_t)off, " %s %.2f/%ld", services[i],
                        s.ok ? cpu[i] * 1000 / (double)s.ok : 0, rss[i] / 1024);
    result("latency", (double)s.ok / sent_s, 0, n50, n99, notes);
    cancel_run_tickets(&s);
    free(c.lat);
    free(rows);
    forget(cm);
}

/* ------------------------------------------------------ throughput, scaled out */

/* One drain of n reports over 12 communities (two per partition of the 6, keyed by community) by
 * `instances` triage and `instances` recorder processes, on a fresh topic set; the sustained rate (10 % to
 * 90 % of the ticket rows) and the CPU accounting of bench_e2e. */
static double e2e_scaled_run(long n, int instances, int round, char *notes, size_t nlen)
{
    enum { NCM = 12, MAXI = 4 };
    char id[SQ_UUID_LEN];
    sq_uuid4(id);
    snprintf(prefix, sizeof prefix, "bench.%.8s.", id);
    if (ts_create_topic_set(prefix) != 0) {
        snprintf(notes, nlen, "cannot create topics");
        return 0;
    }
    char base[48], cms[NCM][64];
    snprintf(base, sizeof base, "e2s-%.8s-", prefix + 6);
    int per_part[6] = { 0 }, ncm = 0;
    for (int i = 0; ncm < NCM && i < 10000; i++) {
        char c[64];
        snprintf(c, sizeof c, "%s%d", base, i);
        int p = bench_partition(c, 6);
        if (per_part[p] >= NCM / 6)
            continue;
        per_part[p]++;
        snprintf(cms[ncm++], sizeof cms[0], "%s", c);
    }
    for (int i = 0; i < ncm; i++)
        bench_directory(cms[i]);
    sq_producer *p = producer();
    char topic[128];
    snprintf(topic, sizeof topic, "%sreports.resident.v1", prefix);
    for (long i = 0; i < n; i++) {
        char rid[96], b[24], who[48];
        snprintf(rid, sizeof rid, "%sr%ld", base, i);
        snprintf(b, sizeof b, "B%ld", i); /* every report its own place: one ticket each */
        snprintf(who, sizeof who, "wx-%ld", i % 5000);
        const char *cm = cms[i % ncm];
        send_report_keyed(p, topic, rid, cm, b, who, cm);
    }
    sq_producer_wait(p, 60000);
    sq_producer_free(p);
    char rules[300], pg[300];
    snprintf(rules, sizeof rules, "SHEQU_RULES_FILE=%s/deploy/rules/shequ.rules", ts_env("SHEQU_ROOT"));
    snprintf(pg, sizeof pg, "SHEQU_PG_DSN=%s", ts_env("PG_DSN"));
    char *extra[] = { rules, pg, NULL };
    pid_t pg_pid = state_pid("pg/data/postmaster.pid"), kafka_pid = state_pid("kafka.pid");
    double pg0 = ts_tree_cpu_seconds(pg_pid), kafka0 = ts_tree_cpu_seconds(kafka_pid);
    long long busy0, total0;
    machine_ticks(&busy0, &total0);
    int64_t t0 = sq_mono_us();
    pid_t tr[MAXI], rc[MAXI];
    if (instances > MAXI)
        instances = MAXI;
    for (int i = 0; i < instances; i++) {
        tr[i] = spawn_service("triage", extra);
        rc[i] = spawn_service("recorder", extra);
    }
    char rb[64];
    snprintf(rb, sizeof rb, "%sr", base);
    long tickets = 0, reports = 0, n10 = 0, n90 = 0;
    int64_t t10 = 0, t90 = 0;
    while (sq_mono_us() - t0 < 600 * SQ_US_PER_S && (tickets < n || reports < n)) {
        sq_sleep_ms(50);
        if (tickets < n) {
            tickets = pg_count("SELECT coalesce(sum(tickets), 0) FROM shequ.kpi_rollup WHERE community_id >= $1"
                               " AND community_id < $1 || '~'", base);
            if (!t10 && tickets >= n / 10)
                t10 = sq_mono_us(), n10 = tickets;
            if (!t90 && tickets >= n * 9 / 10)
                t90 = sq_mono_us(), n90 = tickets;
        } else {
            reports = pg_count("SELECT count(*) FROM shequ.reports WHERE report_id >= $1 AND report_id < $1 || '~'", rb);
        }
    }
    double secs = (double)(sq_mono_us() - t0) / 1e6;
    double sustained = t90 > t10 ? (double)(n90 - n10) / ((double)(t90 - t10) / 1e6) : 0;
    tickets = pg_count("SELECT count(*) FROM shequ.tickets WHERE community_id >= $1 AND community_id < $1 || '~'", base);
    double ct = 0, cr = 0;
    long rt = 0, rr = 0;
    for (int i = 0; i < instances; i++) {
        ct += ts_cpu_seconds(tr[i]);
        cr += ts_cpu_seconds(rc[i]);
        rt += rss_kb(tr[i]);
        rr += rss_kb(rc[i]);
    }
    double cp = ts_tree_cpu_seconds(pg_pid) - pg0, ck = ts_tree_cpu_seconds(kafka_pid) - kafka0;
    long long busy1, total1;
    machine_ticks(&busy1, &total1);
    double cm_all = (double)(busy1 - busy0) / (double)sysconf(_SC_CLK_TCK);
    double util = total1 > total0 ? 100.0 * (double)(busy1 - busy0) / (double)(total1 - total0) : -1;
    for (int i = 0; i < instances; i++) {
        ts_stop(tr[i], false);
        ts_stop(rc[i], false);
    }
    snprintf(notes, nlen,
             "round %d, %d triage + %d recorder: %ld reports over %d communities (keyed by community, 2 per "
             "partition) to %ld ticket rows and %ld report rows in %.1f s; CPU s per 1000 reports: triage %.3f "
             "recorder %.3f postgres %.3f kafka %.3f, machine %.3f (busy %.0f%% of %ld cores); RSS triage %ld MB "
             "recorder %ld MB (all instances)",
             round, instances, instances, n, ncm, tickets, reports, secs, ct * 1000 / (double)n, cr * 1000 / (double)n,
             cp * 1000 / (double)n, ck * 1000 / (double)n, cm_all * 1000 / (double)n, util,
             sysconf(_SC_NPROCESSORS_ONLN), rt / 1024, rr / 1024);
    for (int i = 0; i < ncm; i++)
        forget(cms[i]);
    ts_delete_topic_set(prefix);
    return sustained;
}

/* A (1 instance) and B (2 instances) interleaved: A B B A A B ... so that drift falls on both. */
void bench_e2e_scale(long n, int rounds)
{
    if (rounds < 1)
        rounds = 2;
    char keep[48];
    snprintf(keep, sizeof keep, "%s", prefix);
    double sum[2] = { 0, 0 };
    int cnt[2] = { 0, 0 };
    char notes[700];
    for (int r = 0; r < rounds; r++)
        for (int k = 0; k < 2; k++) {
            int inst = ((r % 2 == 0) == (k == 0)) ? 1 : 2;
            double rate = e2e_scaled_run(n, inst, r, notes, sizeof notes);
            sum[inst - 1] += rate;
            cnt[inst - 1]++;
            result(inst == 1 ? "e2e-x1" : "e2e-x2", rate, 0, 0, 0, notes);
            fflush(stdout);
        }
    snprintf(prefix, sizeof prefix, "%s", keep); /* main deletes its own set */
    double a = cnt[0] ? sum[0] / cnt[0] : 0, b = cnt[1] ? sum[1] / cnt[1] : 0;
    snprintf(notes, sizeof notes, "mean sustained reports/s over %d rounds: 2 instances of triage and recorder %.0f/s, "
             "1 instance (the baseline) %.0f/s", rounds, b, a);
    result("e2e-scale", b, a, 0, 0, notes);
    printf("e2e scale-out: 2 instances %.0f reports/s vs 1 instance %.0f reports/s (ratio %.2f, mean of %d A/B rounds)\n",
           b, a, a > 0 ? b / a : 0, rounds);
}
