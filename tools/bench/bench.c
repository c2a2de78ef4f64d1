/*
 * shequ-bench — stage benchmarks on the real local stack, each against a
 * baseline measured in the same run:
 *
 *   shequ-bench triage N      N reports → tickets (triage alone, release build);
 *                             baseline: the same N messages read back by a bare consumer
 *   shequ-bench recorder N    N ticket events → PostgreSQL (recorder alone);
 *                             baseline: plain COPY of the same N ticket_events rows
 *   shequ-bench gateway N C   N signed POST /v1/reports over C keep-alive connections;
 *                             baseline: a plain libmicrohttpd server answering 202 without work
 *
 * Each stage runs its own service instance from SHEQU_BENCH_BUILD (default build/release) on a fresh
 * prefixed topic set, prints a line and appends a JSON object to build/bench/results.jsonl.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kafka.h"
#include "pg.h"
#include "shequ/v1/property.pb-c.h"
#include "shequ/v1/report.pb-c.h"
#include "shequ/v1/ticket.pb-c.h"
#include "testsupport.h"
#include "util.h"

static char prefix[48];
static const char *bench_build;

static void result(const char *stage, double per_s, double baseline_per_s, double p50_ms, double p99_ms,
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

static long rss_kb(pid_t pid)
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

static pid_t spawn_service(const char *name, char *const extra[])
{
    static char env[12][300];
    char path[512];
    snprintf(path, sizeof path, "%s/services/%s/%s", bench_build, name, name);
    int n = 0;
    snprintf(env[n++], sizeof env[0], "SHEQU_TOPIC_PREFIX=%s", prefix);
    snprintf(env[n++], sizeof env[0], "SHEQU_KAFKA_GROUP=bench-%s-%s", name, prefix);
    snprintf(env[n++], sizeof env[0], "SHEQU_ADMIN_PORT=0");
    snprintf(env[n++], sizeof env[0], "SHEQU_LOG_LEVEL=warn");
    snprintf(env[n++], sizeof env[0], "SHEQU_KAFKA_BATCH_MAX=5000");
    char *e[16];
    int k = 0;
    for (int i = 0; i < n; i++)
        e[k++] = env[i];
    for (int i = 0; extra && extra[i]; i++)
        e[k++] = extra[i];
    e[k] = NULL;
    char *argv[] = { path, NULL };
    return ts_spawn(argv, e);
}

static sq_producer *producer(void)
{
    static sq_common_config c;
    c.service = "bench";
    c.kafka_brokers = (char *)ts_env("KAFKA_BROKERS");
    c.kafka_linger_ms = 20;
    char err[256];
    const char *extra[] = { "batch.num.messages", "10000", "queue.buffering.max.messages", "1000000", NULL };
    return sq_producer_new(&c, extra, err, sizeof err);
}

/* ------------------------------------------------------------------ triage */

typedef struct {
    long want, seen;
    int64_t first_ms, last_ms;
} span;

static bool count_created(const rd_kafka_message_t *m, void *arg)
{
    span *s = arg;
    Shequ__V1__TicketEvent *e = shequ__v1__ticket_event__unpack(NULL, m->len, m->payload);
    if (e && e->body_case == SHEQU__V1__TICKET_EVENT__BODY_ASSIGNED) {
        int64_t ts = rd_kafka_message_timestamp(m, NULL);
        if (!s->first_ms || ts < s->first_ms)
            s->first_ms = ts;
        if (ts > s->last_ms)
            s->last_ms = ts;
        s->seen++;
    }
    if (e)
        shequ__v1__ticket_event__free_unpacked(e, NULL);
    return s->seen >= s->want;
}

static bool count_any(const rd_kafka_message_t *m, void *arg)
{
    span *s = arg;
    return ++s->seen >= s->want;
}

static void bench_triage(long n)
{
    sq_producer *p = producer();
    char topic[128];
    snprintf(topic, sizeof topic, "%sreports.resident.v1", prefix);
    uint8_t buf[512];
    for (long i = 0; i < n; i++) {
        char id[SQ_UUID_LEN], rid[96], b[24];
        sq_uuid4(id);
        snprintf(rid, sizeof rid, "bench-%s%ld", prefix, i);
        snprintf(b, sizeof b, "B%ld", i); /* every report its own place: no merges, one ticket each */
        Shequ__V1__EventHeader h = SHEQU__V1__EVENT_HEADER__INIT;
        h.event_id = id;
        h.community_id = "cm-csy";
        Shequ__V1__ResidentReport r = SHEQU__V1__RESIDENT_REPORT__INIT;
        r.header = &h;
        r.report_id = rid;
        r.reporter_id = "wx-bench";
        r.category = "sanitation";
        r.description = "单元门口垃圾两天没有清运了";
        r.building = b;
        r.unit = "1";
        size_t len = shequ__v1__resident_report__pack(&r, buf);
        sq_producer_send(p, topic, rid, strlen(rid), buf, len, NULL, NULL, NULL);
    }
    sq_producer_wait(p, 60000);
    sq_producer_free(p);
    /* baseline: a bare consumer reading the same messages */
    span base = { .want = n };
    int64_t t0 = sq_mono_us();
    ts_consume_until(topic, -1, 120000, count_any, &base);
    double base_s = (double)(sq_mono_us() - t0) / 1e6;
    char rules[300], pg[300];
    snprintf(rules, sizeof rules, "SHEQU_RULES_FILE=%s/deploy/rules/shequ.rules", ts_env("SHEQU_ROOT"));
    snprintf(pg, sizeof pg, "SHEQU_PG_DSN=%s", ts_env("PG_DSN"));
    char *extra[] = { rules, pg, NULL };
    pid_t pid = spawn_service("triage", extra);
    sq_sleep_ms(300);
    long rss_start = rss_kb(pid);
    char out[128];
    snprintf(out, sizeof out, "%stickets.v1", prefix);
    span s = { .want = n };
    for (int i = 0; i < 120 && s.seen < n; i++) {
        s.seen = 0;
        s.first_ms = s.last_ms = 0;
        ts_consume_until(out, -1, 5000, count_created, &s);
    }
    long rss_end = rss_kb(pid);
    ts_stop(pid, false);
    double secs = (double)(s.last_ms - s.first_ms) / 1e3;
    char notes[200];
    snprintf(notes, sizeof notes, "%ld reports -> %ld tickets; rate over first..last output timestamp; RSS %ld kB at start, %ld kB with %ld open tickets",
             n, s.seen, rss_start, rss_end, s.seen);
    result("triage", secs > 0 ? (double)s.seen / secs : 0, base_s > 0 ? (double)n / base_s : 0, 0, 0, notes);
}

/* ---------------------------------------------------------------- workflow */

static bool count_responded(const rd_kafka_message_t *m, void *arg)
{
    span *s = arg;
    Shequ__V1__TicketEvent *e = shequ__v1__ticket_event__unpack(NULL, m->len, m->payload);
    if (e && (e->body_case == SHEQU__V1__TICKET_EVENT__BODY_RESPONDED || e->body_case == SHEQU__V1__TICKET_EVENT__BODY_REJECTED)) {
        int64_t ts = rd_kafka_message_timestamp(m, NULL);
        if (!s->first_ms || ts < s->first_ms)
            s->first_ms = ts;
        if (ts > s->last_ms)
            s->last_ms = ts;
        s->seen++;
    }
    if (e)
        shequ__v1__ticket_event__free_unpacked(e, NULL);
    return s->seen >= s->want;
}

static void owner_sql(const char *sql, int n, const char *const *p)
{
    sq_pg *pg = sq_pg_new(ts_env("PG_OWNER_DSN"), 3, 60000, "bench");
    char err[256];
    if (sq_pg_exec(pg, sql, n, p, NULL, err, sizeof err) != SQ_OK)
        fprintf(stderr, "bench: %s\n", err);
    sq_pg_free(pg);
}

static void bench_workflow(long n)
{
    char staff[64], company[64], community[64];
    snprintf(staff, sizeof staff, "%sstaff", prefix);
    snprintf(company, sizeof company, "%sco", prefix);
    snprintf(community, sizeof community, "%scm", prefix);
    const char *pc[] = { community, company };
    owner_sql("INSERT INTO shequ.communities (community_id, name, street_id, company_id) VALUES ($1, 'bench', 'st', $2)", 2, pc);
    const char *ps[] = { staff, company, community };
    owner_sql("INSERT INTO shequ.staff (staff_id, name, role, company_id, community_id, skills) VALUES ($1, 'bench', 'staff', $2, $3, '{*}')", 3, ps);
    sq_producer *p = producer();
    char tickets[128], actions[128];
    snprintf(tickets, sizeof tickets, "%stickets.v1", prefix);
    snprintf(actions, sizeof actions, "%sevents.property.v1", prefix);
    uint8_t buf[1024];
    int64_t base = sq_now_us();
    for (long i = 0; i < n; i++) { /* the tickets, as triage wrote them */
        char t[96], id[SQ_UUID_LEN];
        snprintf(t, sizeof t, "%sw%ld", prefix, i);
        sq_uuid4(id);
        Shequ__V1__EventHeader h = SHEQU__V1__EVENT_HEADER__INIT;
        h.event_id = id;
        h.community_id = community;
        h.source = "triage";
        Shequ__V1__Clock c = SHEQU__V1__CLOCK__INIT;
        c.name = "respond";
        c.started_at_us = base;
        c.due_at_us = base + 4LL * 3600 * SQ_US_PER_S;
        Shequ__V1__Clock *clocks[] = { &c };
        Shequ__V1__TicketState st = SHEQU__V1__TICKET_STATE__INIT;
        st.ticket_id = t;
        st.community_id = community;
        st.company_id = company;
        st.category = "sanitation";
        st.tier = "general";
        st.status = SHEQU__V1__TICKET_STATUS__TICKET_STATUS_ASSIGNED;
        st.assignee_id = staff;
        st.n_clocks = 1;
        st.clocks = clocks;
        st.created_at_us = base;
        Shequ__V1__TicketEvent e = SHEQU__V1__TICKET_EVENT__INIT;
        Shequ__V1__Assigned as = SHEQU__V1__ASSIGNED__INIT;
        e.header = &h;
        e.ticket_id = t;
        e.body_case = SHEQU__V1__TICKET_EVENT__BODY_ASSIGNED;
        e.assigned = &as;
        e.state = &st;
        size_t len = shequ__v1__ticket_event__pack(&e, buf);
        sq_producer_send(p, tickets, t, strlen(t), buf, len, NULL, NULL, NULL);
    }
    for (long i = 0; i < n; i++) { /* one accept per ticket */
        char t[96], id[SQ_UUID_LEN];
        snprintf(t, sizeof t, "%sw%ld", prefix, i);
        sq_uuid4(id);
        Shequ__V1__EventHeader h = SHEQU__V1__EVENT_HEADER__INIT;
        h.event_id = id;
        Shequ__V1__PropertyEvent a = SHEQU__V1__PROPERTY_EVENT__INIT;
        a.header = &h;
        a.ticket_id = t;
        a.actor_id = staff;
        a.action = SHEQU__V1__ACTION__ACTION_ACCEPT;
        size_t len = shequ__v1__property_event__pack(&a, buf);
        sq_producer_send(p, actions, t, strlen(t), buf, len, NULL, NULL, NULL);
    }
    sq_producer_wait(p, 60000);
    sq_producer_free(p);
    char pg[300];
    snprintf(pg, sizeof pg, "SHEQU_PG_DSN=%s", ts_env("PG_DSN"));
    char *extra[] = { pg, NULL };
    pid_t pid = spawn_service("workflow", extra);
    span s = { .want = n };
    for (int i = 0; i < 120 && s.seen < n; i++) {
        s.seen = 0;
        s.first_ms = s.last_ms = 0;
        ts_consume_until(tickets, -1, 5000, count_responded, &s);
    }
    ts_stop(pid, false);
    owner_sql("DELETE FROM shequ.staff WHERE staff_id = $1 AND company_id = $2 AND community_id = $3", 3, ps);
    owner_sql("DELETE FROM shequ.communities WHERE community_id = $1 AND company_id = $2", 2, pc);
    double secs = (double)(s.last_ms - s.first_ms) / 1e3;
    char notes[160];
    snprintf(notes, sizeof notes, "%ld accepts on %ld tickets -> %ld answers; rate over first..last output timestamp", n, n, s.seen);
    result("workflow", secs > 0 ? (double)s.seen / secs : 0, 0, 0, 0, notes);
}

/* ---------------------------------------------------------------- recorder */

static size_t ticket_event(uint8_t *buf, size_t cap, const char *ticket, int step, int64_t base)
{
    char id[SQ_UUID_LEN], name[160];
    snprintf(name, sizeof name, "%s/%d", ticket, step);
    sq_uuid5(id, "bench", name, strlen(name));
    Shequ__V1__EventHeader h = SHEQU__V1__EVENT_HEADER__INIT;
    h.event_id = id;
    h.occurred_at_us = base + step;
    h.community_id = prefix;
    Shequ__V1__Clock c = SHEQU__V1__CLOCK__INIT;
    c.name = "resolve";
    c.started_at_us = base;
    c.due_at_us = base + 4LL * 3600 * SQ_US_PER_S;
    Shequ__V1__Clock *clocks[] = { &c };
    Shequ__V1__TicketState st = SHEQU__V1__TICKET_STATE__INIT;
    st.ticket_id = (char *)ticket;
    st.community_id = prefix;
    st.source = "report";
    st.category = "sanitation";
    st.tier = "general";
    st.status = step == 0 ? SHEQU__V1__TICKET_STATUS__TICKET_STATUS_ASSIGNED : SHEQU__V1__TICKET_STATUS__TICKET_STATUS_IN_PROGRESS;
    st.n_clocks = 1;
    st.clocks = clocks;
    st.created_at_us = base;
    st.updated_at_us = base + step;
    Shequ__V1__TicketEvent e = SHEQU__V1__TICKET_EVENT__INIT;
    Shequ__V1__Responded r = SHEQU__V1__RESPONDED__INIT;
    e.header = &h;
    e.ticket_id = (char *)ticket;
    e.body_case = SHEQU__V1__TICKET_EVENT__BODY_RESPONDED;
    e.responded = &r;
    e.state = &st;
    (void)cap;
    return shequ__v1__ticket_event__pack(&e, buf);
}

static long pg_count(const char *sql, const char *arg)
{
    sq_pg *pg = sq_pg_new(ts_env("PG_OWNER_DSN"), 3, 60000, "bench");
    PGresult *r;
    char err[256];
    const char *p[] = { arg };
    long v = sq_pg_exec(pg, sql, arg ? 1 : 0, p, &r, err, sizeof err) == SQ_OK ? atol(PQgetvalue(r, 0, 0)) : -1;
    if (v >= 0)
        PQclear(r);
    sq_pg_free(pg);
    return v;
}

static void bench_recorder(long n)
{
    sq_producer *p = producer();
    char topic[128];
    snprintf(topic, sizeof topic, "%stickets.v1", prefix);
    uint8_t buf[1024];
    int64_t base = sq_now_us();
    for (long i = 0; i < n; i++) {
        char t[96];
        snprintf(t, sizeof t, "%sb%ld", prefix, i / 4);
        size_t len = ticket_event(buf, sizeof buf, t, (int)(i % 4), base);
        sq_producer_send(p, topic, t, strlen(t), buf, len, NULL, NULL, NULL);
    }
    sq_producer_wait(p, 60000);
    sq_producer_free(p);
    char pg[300];
    snprintf(pg, sizeof pg, "SHEQU_PG_DSN=%s", ts_env("PG_DSN"));
    char *extra[] = { pg, NULL };
    int64_t t0 = sq_mono_us();
    pid_t pid = spawn_service("recorder", extra);
    char like[64];
    snprintf(like, sizeof like, "%s%%", prefix);
    long got = 0;
    for (int i = 0; i < 1200 && got < n; i++) {
        sq_sleep_ms(100);
        got = pg_count("SELECT count(*) FROM shequ.ticket_events WHERE ticket_id LIKE $1", like);
    }
    double secs = (double)(sq_mono_us() - t0) / 1e6;
    ts_stop(pid, false);
    /* baseline: COPY of the same rows (already in the table) into a scratch copy */
    sq_pg *own = sq_pg_new(ts_env("PG_OWNER_DSN"), 3, 600000, "bench");
    char err[256];
    const char *pa[] = { like };
    int64_t c0 = sq_mono_us();
    int rc = sq_pg_exec(own, "CREATE TEMP TABLE bench_copy AS SELECT * FROM shequ.ticket_events WITH NO DATA", 0, NULL,
                        NULL, err, sizeof err);
    if (rc == SQ_OK)
        rc = sq_pg_exec(own, "COPY (SELECT * FROM shequ.ticket_events WHERE ticket_id LIKE $1) TO '/dev/null'", 1, pa,
                        NULL, err, sizeof err);
    (void)rc;
    /* COPY FROM STDIN of the rows in text form: what a plain loader does */
    PGconn *conn = sq_pg_conn(own);
    PGresult *res = PQexec(conn, "COPY bench_copy FROM STDIN");
    PQclear(res);
    int64_t c1 = sq_mono_us();
    char line[512];
    for (long i = 0; i < n; i++) {
        int l = snprintf(line, sizeof line, "%s-copy-%ld\t%sb%ld\tresponded\t2026-11-24T10:00:00Z\ts1\t{}\t0\t%ld\t2026-11-24T10:00:00Z\n",
                         prefix, i, prefix, i / 4, i);
        PQputCopyData(conn, line, l);
    }
    PQputCopyEnd(conn, NULL);
    while ((res = PQgetResult(conn)))
        PQclear(res);
    double copy_s = (double)(sq_mono_us() - c1) / 1e6;
    (void)c0;
    sq_pg_free(own);
    const char *pd[] = { like };
    sq_pg *cl = sq_pg_new(ts_env("PG_OWNER_DSN"), 3, 600000, "bench");
    sq_pg_exec(cl, "DELETE FROM shequ.ticket_events WHERE ticket_id LIKE $1", 1, pd, NULL, NULL, 0);
    sq_pg_exec(cl, "DELETE FROM shequ.tickets WHERE community_id = $1", 1, (const char *[]){ prefix }, NULL, NULL, 0);
    sq_pg_free(cl);
    char notes[200];
    snprintf(notes, sizeof notes, "%ld events (%ld tickets) incl. recorder start-up; baseline: COPY FROM STDIN of %ld rows", got,
             n / 4, n);
    result("recorder", secs > 0 ? (double)got / secs : 0, copy_s > 0 ? (double)n / copy_s : 0, 0, 0, notes);
}

/* ----------------------------------------------------------------- gateway */

typedef struct {
    int port;
    int thread;
    long requests;
    bool sign;
    double *lat_ms;
    long ok;
} load_arg;

static const char *secret;

static void *load_thread(void *arg)
{
    load_arg *a = arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)a->port) };
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        return NULL;
    char body[512], req[2048], resp[4096];
    for (long i = 0; i < a->requests; i++) {
        int bl = snprintf(body, sizeof body,
                          "{\"community_id\":\"cm-csy\",\"reporter_id\":\"wx-b%ld-%d\",\"category\":\"sanitation\","
                          "\"description\":\"垃圾未清运\",\"building\":\"%ld\"}",
                          i, a->thread, i % 12);
        char ts[24], sig[65] = "x";
        snprintf(ts, sizeof ts, "%lld", (long long)(sq_now_us() / SQ_US_PER_S));
        if (a->sign) {
            char msg[1024];
            int ml = snprintf(msg, sizeof msg, "%s\nPOST\n/v1/reports\n%s", ts, body);
            unsigned char mac[32];
            unsigned int maclen;
            HMAC(EVP_sha256(), secret, (int)strlen(secret), (unsigned char *)msg, (size_t)ml, mac, &maclen);
            sq_hex(mac, 32, sig);
        }
        char idem[SQ_UUID_LEN];
        sq_uuid4(idem);
        int rl = snprintf(req, sizeof req,
                          "POST /v1/reports HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                          "X-Shequ-Client: dev-miniprogram\r\nX-Shequ-Timestamp: %s\r\nX-Shequ-Signature: %s\r\n"
                          "Idempotency-Key: %s\r\nContent-Length: %d\r\n\r\n%s",
                          ts, sig, idem, bl, body);
        int64_t t0 = sq_mono_us();
        if (write(fd, req, (size_t)rl) != rl)
            break;
        size_t got = 0;
        long need = -1;
        for (;;) {
            ssize_t r = read(fd, resp + got, sizeof resp - 1 - got);
            if (r <= 0)
                goto out;
            got += (size_t)r;
            resp[got] = '\0';
            char *hdr_end = strstr(resp, "\r\n\r\n");
            if (hdr_end && need < 0) {
                char *cl = strcasestr(resp, "Content-Length:");
                need = (long)(hdr_end + 4 - resp) + (cl ? atol(cl + 15) : 0);
            }
            if (need >= 0 && (long)got >= need)
                break;
        }
        a->lat_ms[i] = (double)(sq_mono_us() - t0) / 1e3;
        if (strncmp(resp, "HTTP/1.1 202", 12) == 0)
            a->ok++;
    }
out:
    close(fd);
    return NULL;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double run_load(int port, long n, int conns, bool sign, double *p50, double *p99, long *ok)
{
    pthread_t th[256];
    load_arg args[256];
    double *lat = calloc((size_t)n, sizeof *lat);
    long per = n / conns;
    int64_t t0 = sq_mono_us();
    for (int i = 0; i < conns; i++) {
        args[i] = (load_arg){ port, i, per, sign, lat + (long)i * per, 0 };
        pthread_create(&th[i], NULL, load_thread, &args[i]);
    }
    *ok = 0;
    for (int i = 0; i < conns; i++) {
        pthread_join(th[i], NULL);
        *ok += args[i].ok;
    }
    double secs = (double)(sq_mono_us() - t0) / 1e6;
    qsort(lat, (size_t)(per * conns), sizeof *lat, cmp_d);
    *p50 = lat[per * conns / 2];
    *p99 = lat[per * conns * 99 / 100];
    free(lat);
    return (double)(per * conns) / secs;
}

static enum MHD_Result plain(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                             const char *version, const char *upload, size_t *size, void **ptr)
{
    if (!*ptr) {
        *ptr = (void *)1;
        return MHD_YES;
    }
    if (*size) {
        *size = 0;
        return MHD_YES;
    }
    static const char body[] = "{\"status\":\"accepted\"}";
    struct MHD_Response *r = MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(c, 202, r);
    MHD_destroy_response(r);
    return ret;
}

static void bench_gateway(long n, int conns)
{
    secret = ts_env("SHEQU_CLIENT_SECRET");
    char port_env[64], rules[300], clients[300], key[120], redis[200], rl[64];
    snprintf(port_env, sizeof port_env, "SHEQU_HTTP_PORT=18090");
    snprintf(rules, sizeof rules, "SHEQU_RULES_FILE=%s/deploy/rules/shequ.rules", ts_env("SHEQU_ROOT"));
    snprintf(clients, sizeof clients, "SHEQU_CLIENTS_FILE=%s/deploy/clients/dev.clients", ts_env("SHEQU_ROOT"));
    snprintf(key, sizeof key, "SHEQU_PHONE_KEY=6a3f0c2e9b8d7a6f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d");
    snprintf(redis, sizeof redis, "SHEQU_REDIS_PREFIX=bench:%s:", prefix);
    snprintf(rl, sizeof rl, "SHEQU_RATE_REPORTER_PER_MIN=0");
    char *extra[] = { port_env, rules, clients, key, redis, rl, NULL };
    pid_t pid = spawn_service("gateway", extra);
    sq_sleep_ms(2500);
    double p50, p99, bp50, bp99;
    long ok, bok;
    run_load(18090, conns * 20, conns, true, &p50, &p99, &ok); /* warm-up */
    double rate = run_load(18090, n, conns, true, &p50, &p99, &ok);
    ts_stop(pid, false);
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 18091,
                                            NULL, NULL, plain, NULL, MHD_OPTION_END);
    double base = run_load(18091, n, conns, false, &bp50, &bp99, &bok);
    MHD_stop_daemon(d);
    char notes[200];
    snprintf(notes, sizeof notes, "%ld requests, %d connections, %ld answered 202 (Kafka-acknowledged); baseline p50 %.2f p99 %.2f ms",
             n, conns, ok, bp50, bp99);
    result("gateway", rate, base, p50, p99, notes);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: shequ-bench triage|recorder N | gateway N CONNECTIONS\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
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
    else if (strcmp(argv[1], "workflow") == 0)
        bench_workflow(n);
    else if (strcmp(argv[1], "recorder") == 0)
        bench_recorder(n);
    else if (strcmp(argv[1], "gateway") == 0)
        bench_gateway(n, argc > 3 ? atoi(argv[3]) : 64);
    ts_delete_topic_set(prefix);
    return 0;
}
