/*
 * shequ-bench — stage benchmarks on the real local stack, each against a
 * baseline measured in the same run:
 *
 *   shequ-bench triage N      N reports → tickets (triage alone, release build);
 *                             baseline: the same N messages read back by a bare consumer
 *   shequ-bench recorder N [K [C]]  N ticket events, K per ticket (4), → PostgreSQL (recorder alone, over
 *                             C connections, default 2); baseline: plain COPY of N ticket_events rows
 *   shequ-bench sla N         N open clocks: replay time, RSS, breach lateness while 5,000 events/s stream in
 *   shequ-bench triage-steady N   N reports at 5,000/s whose tickets close 5 s later: triage's RSS over time
 *   shequ-bench e2e N         N reports from the input topic to ticket rows (triage + recorder)
 *   shequ-bench e2e-scale N R the same over 12 communities keyed by community, 1 and 2 instances of triage
 *                             and recorder, interleaved A/B R times (bench_e2e.c)
 *   shequ-bench restore E O [D]  E ticket events (O open tickets, the closed ones over D days), compacted:
 *                             triage, workflow and sla from start to handling new input, and RSS;
 *                             baseline: state.changelog=false (bench_restore.c)
 *   shequ-bench rebalance K   2 triage instances, K SIGKILLs: kill → its partitions handled by the survivor
 *   shequ-bench latency R S   on the running stack: gateway 202 → staff notification and → ticket row
 *   shequ-bench gateway N C   N signed POST /v1/reports over C keep-alive connections;
 *                             baseline: a plain libmicrohttpd server answering 202 without work
 *   shequ-bench bridge N      N MQTT device alarms → alarms.device.v1 with Kafka delivery awaited (at-least-once);
 *                             baseline: the same bridge with Kafka delivery not awaited
 *   shequ-bench notifier N    N notifications on notify.v1 → MQTT (notifier alone);
 *                             baseline: a bare Paho client publishing the same N payloads at QoS 1
 *
 * Each stage runs its own service instance from SHEQU_BENCH_BUILD (default build/release) on a fresh
 * prefixed topic set, prints a line and appends a JSON object to build/bench/results.jsonl. The services
 * log at warn; SHEQU_BENCH_LOG_LEVEL=debug shows their per-batch lines (the recorder's phase timings).
 * The services inherit the bench's environment, so other SHEQU_* settings (SHEQU_KAFKA_COMPRESSION, …) can be
 * tried without a rebuild.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "shequ/v1/report.pb-c.h"
#include "shequ/v1/ticket.pb-c.h"

char prefix[48];
const char *bench_build;

void result(const char *stage, double per_s, double baseline_per_s, double p50_ms, double p99_ms,
                   const char *notes)
{
    printf("%-10s %10.0f/s   baseline %10.0f/s   ratio %5.2f   p50 %6.2f ms   p99 %6.2f ms   %s\n", stage, per_s,
           baseline_per_s, baseline_per_s > 0 ? per_s / baseline_per_s : 0, p50_ms, p99_ms, notes);
    mkdir("build/bench", 0755);
    FILE *f = fopen("build/bench/results.jsonl", "a");
    if (f) {
        char host[64];
        gethostname(host, sizeof host);
        fprintf(f, "{\"stage\":\"%s\",\"events_per_s\":%.0f,\"baseline_per_s\":%.0f,\"ratio\":%.3f,\"p50_ms\":%.2f,"
                   "\"p99_ms\":%.2f,\"cores\":%ld,\"host\":\"%s\",\"at\":%lld,\"notes\":\"%s\"}\n",
                stage, per_s, baseline_per_s, baseline_per_s > 0 ? per_s / baseline_per_s : 0, p50_ms, p99_ms,
                sysconf(_SC_NPROCESSORS_ONLN), host, (long long)(sq_now_us() / SQ_US_PER_S), notes);
        fclose(f);
    }
}

long rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = atol(line + 6);
    if (f)
        fclose(f);
    return kb;
}

pid_t spawn_service(const char *name, char *const extra[])
{
    static char env[12][300];
    char path[512];
    snprintf(path, sizeof path, "%s/services/%s/%s", bench_build, name, name);
    int n = 0;
    snprintf(env[n++], sizeof env[0], "SHEQU_TOPIC_PREFIX=%s", prefix);
    snprintf(env[n++], sizeof env[0], "SHEQU_KAFKA_GROUP=bench-%s-%s", name, prefix);
    snprintf(env[n++], sizeof env[0], "SHEQU_ADMIN_PORT=0");
    snprintf(env[n++], sizeof env[0], "SHEQU_LOG_LEVEL=%s", getenv("SHEQU_BENCH_LOG_LEVEL") ? getenv("SHEQU_BENCH_LOG_LEVEL") : "warn");
    snprintf(env[n++], sizeof env[0], "SHEQU_KAFKA_BATCH_MAX=5000");
    char *e[16];
    int k = 0;
    for (int i = 0; i < n; i++)
        e[k++] = env[i];
    for (int i = 0; extra && extra[i]; i++) /* after: they are put in order, so the stage's own settings win */
        e[k++] = extra[i];
    e[k] = NULL;
    char *argv[] = { path, NULL };
    return ts_spawn(argv, e);
}

sq_producer *producer(void)
{
    static sq_common_config c;
    c.service = "bench";
    c.kafka_brokers = (char *)ts_env("KAFKA_BROKERS");
    c.kafka_linger_ms = 20;
    char err[256];
    const char *extra[] = { "batch.num.messages", "10000", "queue.buffering.max.messages", "1000000", NULL };
    return sq_producer_new(&c, extra, err, sizeof err);
}


bool count_any(const rd_kafka_message_t *m, void *arg)
{
    span *s = arg;
    return ++s->seen >= s->want;
}

/* The bench's one connection as the owner, opened on first use and kept: a connection per question would
 * cost PostgreSQL a backend start each time, and a stage polling every 50 ms would measure that too. Its
 * lock keeps the threads of a stage off each other's queries. */
static pthread_mutex_t owner_lock = PTHREAD_MUTEX_INITIALIZER;
static sq_pg *owner_pg(void)
{
    static sq_pg *pg;
    if (!pg)
        pg = sq_pg_new(ts_env("PG_OWNER_DSN"), 3, 60000, "bench");
    return pg;
}

void owner_sql(const char *sql, int n, const char *const *p)
{
    char err[256];
    pthread_mutex_lock(&owner_lock);
    if (sq_pg_exec(owner_pg(), sql, n, p, NULL, err, sizeof err) != SQ_OK)
        fprintf(stderr, "bench: %s\n", err);
    pthread_mutex_unlock(&owner_lock);
}

/* The value of one metric (its first sample) on a service's admin port, or -1. */
double admin_metric(int port, const char *name)
{
    int fd = http_connect(port);
    if (fd < 0)
        return -1;
    static const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
    ssize_t w = write(fd, req, sizeof req - 1);
    static char body[1 << 20];
    size_t got = 0;
    ssize_t r;
    while (w > 0 && got < sizeof body - 1 && (r = read(fd, body + got, sizeof body - 1 - got)) > 0)
        got += (size_t)r;
    close(fd);
    body[got] = '\0';
    size_t nl = strlen(name);
    for (char *p = body; (p = strstr(p, name)); p += nl)
        if ((p == body || p[-1] == '\n') && (p[nl] == ' ' || p[nl] == '{')) {
            char *v = strchr(p, ' ');
            return v ? atof(v + 1) : -1;
        }
    return -1;
}

/* A street, a company, a community and five staff who take sanitation, so triage assigns and notifies. */
void bench_directory(const char *cm)
{
    const char *p[] = { cm };
    owner_sql("INSERT INTO shequ.streets (street_id, name) VALUES ($1 || '-st', 'bench') ON CONFLICT DO NOTHING", 1, p);
    owner_sql("INSERT INTO shequ.companies (company_id, name) VALUES ($1 || '-co', 'bench') ON CONFLICT DO NOTHING", 1, p);
    owner_sql("INSERT INTO shequ.communities (community_id, name, street_id, company_id)"
              " VALUES ($1, 'bench', $1 || '-st', $1 || '-co') ON CONFLICT DO NOTHING", 1, p);
    owner_sql("INSERT INTO shequ.staff (staff_id, name, role, company_id, community_id, skills, on_duty)"
              " SELECT $1 || '-w' || i, 'bench', 'staff', $1 || '-co', $1, '{sanitation}', true"
              " FROM generate_series(1, 5) i ON CONFLICT DO NOTHING", 1, p);
}

/* Takes bench_directory's rows out of the directory again. */
void bench_directory_forget(const char *cm)
{
    const char *p[] = { cm };
    owner_sql("DELETE FROM shequ.staff WHERE community_id = $1", 1, p);
    owner_sql("DELETE FROM shequ.communities WHERE community_id = $1", 1, p);
    owner_sql("DELETE FROM shequ.companies WHERE company_id = $1 || '-co'", 1, p);
    owner_sql("DELETE FROM shequ.streets WHERE street_id = $1 || '-st'", 1, p);
}

size_t bench_ticket_event(uint8_t *buf, const char *event_id, const char *ticket, const char *clock, int64_t started,
                          int64_t due, int64_t stopped, int64_t at, bool created, const char *assignee)
{
    Shequ__V1__EventHeader h = SHEQU__V1__EVENT_HEADER__INIT;
    h.event_id = (char *)event_id;
    h.occurred_at_us = at;
    h.produced_at_us = at;
    h.community_id = prefix;
    Shequ__V1__Clock c = SHEQU__V1__CLOCK__INIT;
    c.name = (char *)clock;
    c.started_at_us = started;
    c.due_at_us = due;
    c.stopped_at_us = stopped;
    Shequ__V1__Clock *clocks[] = { &c };
    Shequ__V1__TicketState st = SHEQU__V1__TICKET_STATE__INIT;
    st.ticket_id = (char *)ticket;
    st.community_id = prefix;
    st.source = "report";
    st.category = "sanitation";
    st.tier = "general";
    st.assignee_id = (char *)(assignee ? assignee : "");
    st.status = created ? SHEQU__V1__TICKET_STATUS__TICKET_STATUS_ASSIGNED : SHEQU__V1__TICKET_STATUS__TICKET_STATUS_IN_PROGRESS;
    st.n_clocks = 1;
    st.clocks = clocks;
    st.created_at_us = started;
    st.updated_at_us = at;
    Shequ__V1__TicketEvent e = SHEQU__V1__TICKET_EVENT__INIT;
    Shequ__V1__Created cr = SHEQU__V1__CREATED__INIT;
    Shequ__V1__Responded r = SHEQU__V1__RESPONDED__INIT;
    e.header = &h;
    e.ticket_id = (char *)ticket;
    if (created) { /* the ticket's first event, as triage writes it */
        cr.tier = "general";
        cr.category = "sanitation";
        e.body_case = SHEQU__V1__TICKET_EVENT__BODY_CREATED;
        e.created = &cr;
    } else {
        e.body_case = SHEQU__V1__TICKET_EVENT__BODY_RESPONDED;
        e.responded = &r;
    }
    e.state = &st;
    return shequ__v1__ticket_event__pack(&e, buf);
}

size_t ticket_event(uint8_t *buf, const char *ticket, int step, int64_t base)
{
    char id[SQ_UUID_LEN], name[160];
    snprintf(name, sizeof name, "%s/%d", ticket, step);
    sq_uuid5(id, "bench", name, strlen(name));
    return bench_ticket_event(buf, id, ticket, "resolve", base, base + 4LL * 3600 * SQ_US_PER_S, 0, base + step,
                              step == 0, NULL);
}

long pg_count(const char *sql, const char *arg)
{
    PGresult *r;
    char err[256];
    const char *p[] = { arg };
    pthread_mutex_lock(&owner_lock);
    long v = sq_pg_exec(owner_pg(), sql, arg ? 1 : 0, p, &r, err, sizeof err) == SQ_OK ? atol(PQgetvalue(r, 0, 0)) : -1;
    pthread_mutex_unlock(&owner_lock);
    if (v >= 0)
        PQclear(r);
    return v;
}

/* The pid in $SHEQU_STATE/<file> (the stack's servers and services), or 0. */
pid_t state_pid(const char *file)
{
    const char *dir = getenv("SHEQU_STATE");
    char path[512];
    if (!dir)
        return 0;
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "r");
    long pid = 0;
    if (f) {
        if (fscanf(f, "%ld", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    return (pid_t)pid;
}

void send_report(sq_producer *p, const char *topic, const char *report_id, const char *community,
                 const char *building, const char *reporter)
{
    send_report_keyed(p, topic, report_id, community, building, reporter, community);
}

void send_report_keyed(sq_producer *p, const char *topic, const char *report_id, const char *community,
                       const char *building, const char *reporter, const char *key)
{
    char id[SQ_UUID_LEN];
    sq_uuid4(id);
    Shequ__V1__EventHeader h = SHEQU__V1__EVENT_HEADER__INIT;
    h.event_id = id;
    h.community_id = (char *)community;
    h.occurred_at_us = h.produced_at_us = sq_now_us();
    Shequ__V1__ResidentReport r = SHEQU__V1__RESIDENT_REPORT__INIT;
    r.header = &h;
    r.report_id = (char *)report_id;
    r.reporter_id = (char *)reporter;
    r.category = "sanitation";
    r.description = "单元门口垃圾两天没有清运了";
    r.building = (char *)building;
    r.unit = "1";
    uint8_t buf[512];
    size_t len = shequ__v1__resident_report__pack(&r, buf);
    while (sq_producer_send(p, topic, key, strlen(key), buf, len, NULL, NULL, NULL) == SQ_RETRY)
        sq_producer_wait(p, 100); /* the local queue is full: let it drain */
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: shequ-bench triage|workflow|recorder|sla|e2e|bridge|notifier N | gateway N CONNECTIONS | latency PER_S SECONDS | e2e-scale N ROUNDS | restore EVENTS OPEN [DAYS] | rebalance KILLS\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct rlimit nofile; /* a thousand connections, here and in the services spawned from here */
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }
    bench_build = getenv("SHEQU_BENCH_BUILD") ? getenv("SHEQU_BENCH_BUILD") : "build/release";
    char id[SQ_UUID_LEN];
    sq_uuid4(id);
    snprintf(prefix, sizeof prefix, "bench.%.8s.", id);
    if (ts_create_topic_set(prefix) != 0) {
        fprintf(stderr, "cannot create topics\n");
        return 1;
    }
    long n = atol(argv[2]);
    if (strcmp(argv[1], "triage") == 0)
        bench_triage(n);
    else if (strcmp(argv[1], "triage-steady") == 0)
        bench_triage_steady(n);
    else if (strcmp(argv[1], "workflow") == 0)
        bench_workflow(n);
    else if (strcmp(argv[1], "recorder") == 0)
        bench_recorder(n, argc > 3 ? atoi(argv[3]) : 4, argc > 4 ? atoi(argv[4]) : 2);
    else if (strcmp(argv[1], "sla") == 0)
        bench_sla(n);
    else if (strcmp(argv[1], "e2e") == 0)
        bench_e2e(n);
    else if (strcmp(argv[1], "e2e-scale") == 0)
        bench_e2e_scale(n, argc > 3 ? atoi(argv[3]) : 2);
    else if (strcmp(argv[1], "restore") == 0)
        bench_restore(n, argc > 3 ? atol(argv[3]) : 50000, argc > 4 ? atoi(argv[4]) : 365);
    else if (strcmp(argv[1], "rebalance") == 0)
        bench_rebalance((int)n);
    else if (strcmp(argv[1], "latency") == 0)
        bench_latency(n, argc > 3 ? atol(argv[3]) : 30);
    else if (strcmp(argv[1], "gateway") == 0)
        bench_gateway(n, argc > 3 ? atoi(argv[3]) : 64);
    else if (strcmp(argv[1], "bridge") == 0)
        bench_bridge(n);
    else if (strcmp(argv[1], "notifier") == 0)
        bench_notifier(n);
    ts_delete_topic_set(prefix);
    return 0;
}
