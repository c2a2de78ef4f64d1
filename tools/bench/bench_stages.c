/*
 * bench_stages.c — the consuming stages: triage (reports → tickets), workflow (actions → ticket events),
 * recorder (ticket events → PostgreSQL), each against its baseline.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "shequ/v1/property.pb-c.h"
#include "shequ/v1/report.pb-c.h"
#include "shequ/v1/ticket.pb-c.h"

/* ------------------------------------------------------------------ triage */
/* Counts ticket events whose body is one of `kinds` (0-terminated), with their first and last timestamps. */
static bool count_kinds(const rd_kafka_message_t *m, span *s, const int *kinds)
{
    Shequ__V1__TicketEvent *e = shequ__v1__ticket_event__unpack(NULL, m->len, m->payload);
    bool match = false;
    for (int i = 0; e && kinds[i]; i++)
        match |= (int)e->body_case == kinds[i];
    if (match) {
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

static bool count_created(const rd_kafka_message_t *m, void *arg)
{
    static const int kinds[] = { SHEQU__V1__TICKET_EVENT__BODY_ASSIGNED, 0 };
    return count_kinds(m, arg, kinds);
}

void bench_triage(long n)
{
    sq_producer *p = producer();
    char topic[128];
    snprintf(topic, sizeof topic, "%sreports.resident.v1", prefix);
    for (long i = 0; i < n; i++) {
        char rid[96], b[24];
        snprintf(rid, sizeof rid, "bench-%s%ld", prefix, i);
        snprintf(b, sizeof b, "B%ld", i); /* every report its own place: no merges, one ticket each */
        send_report(p, topic, rid, "cm-csy", b, "wx-bench");
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
    double cpu = ts_cpu_seconds(pid);
    ts_stop(pid, false);
    double secs = (double)(s.last_ms - s.first_ms) / 1e3;
    char notes[240];
    snprintf(notes, sizeof notes, "%ld reports -> %ld tickets; rate over first..last output timestamp; triage CPU %.3f s"
             " per 1,000 (start-up included); RSS %ld kB at start, %ld kB with %ld open tickets",
             n, s.seen, cpu * 1000 / (double)n, rss_start, rss_end, s.seen);
    result("triage", secs > 0 ? (double)s.seen / secs : 0, base_s > 0 ? (double)n / base_s : 0, 0, 0, notes);
}

/* ---------------------------------------------------------------- workflow */

static bool count_responded(const rd_kafka_message_t *m, void *arg)
{
    static const int kinds[] = { SHEQU__V1__TICKET_EVENT__BODY_RESPONDED, SHEQU__V1__TICKET_EVENT__BODY_REJECTED, 0 };
    return count_kinds(m, arg, kinds);
}

void bench_workflow(long n)
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
        sq_producer_send(p, tickets, community, strlen(community), buf, len, NULL, NULL, NULL);
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
        sq_producer_send(p, actions, community, strlen(community), buf, len, NULL, NULL, NULL); /* its partition */
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

void bench_recorder(long n, int per_ticket, int connections)
{
    if (per_ticket < 1)
        per_ticket = 4;
    sq_producer *p = producer();
    char topic[128];
    snprintf(topic, sizeof topic, "%stickets.v1", prefix);
    uint8_t buf[1024];
    int64_t base = sq_now_us();
    for (long i = 0; i < n; i++) {
        char t[96];
        snprintf(t, sizeof t, "%sb%ld", prefix, i / per_ticket);
        size_t len = ticket_event(buf, t, (int)(i % per_ticket), base);
        sq_producer_send(p, topic, t, strlen(t), buf, len, NULL, NULL, NULL);
    }
    sq_producer_wait(p, 60000);
    sq_producer_free(p);
    char pg[300], conns[64], admin[64];
    snprintf(pg, sizeof pg, "SHEQU_PG_DSN=%s", ts_env("PG_DSN"));
    snprintf(conns, sizeof conns, "SHEQU_PG_CONNECTIONS=%d", connections > 0 ? connections : 2);
    snprintf(admin, sizeof admin, "SHEQU_ADMIN_PORT=%d", BENCH_ADMIN_PORT);
    char *extra[] = { admin, pg, conns, NULL };
    int64_t t0 = sq_mono_us();
    pid_t pid = spawn_service("recorder", extra);
    /* progress from the recorder's count of committed event rows: asking PostgreSQL to count them every
     * 50 ms took a tenth of its time from the recorder (an index scan over fresh rows) */
    long got = 0, n10 = 0, n90 = 0;
    int64_t t10 = 0, t90 = 0; /* when a tenth and nine tenths of the rows were there: the sustained rate */
    while (got < n && sq_mono_us() - t0 < 120 * SQ_US_PER_S) {
        sq_sleep_ms(50);
        got = (long)admin_metric(BENCH_ADMIN_PORT, "shequ_recorder_ticket_events_total");
        if (!t10 && got >= n / 10)
            t10 = sq_mono_us(), n10 = got;
        if (!t90 && got >= n * 9 / 10)
            t90 = sq_mono_us(), n90 = got;
    }
    double secs = (double)(sq_mono_us() - t0) / 1e6;
    double sustained = t90 > t10 ? (double)(n90 - n10) / ((double)(t90 - t10) / 1e6) : 0;
    ts_stop(pid, false);
    got = pg_count("SELECT count(*) FROM shequ.ticket_events WHERE ticket_id >= $1 AND ticket_id < $1 || '~'", prefix);
    /* baseline: COPY FROM STDIN of the same number of event rows, in text form, into an unindexed table
     * of the same columns: what a plain loader does, and the ceiling */
    sq_pg *own = sq_pg_new(ts_env("PG_OWNER_DSN"), 3, 600000, "bench");
    char err[256];
    sq_pg_exec(own, "CREATE TEMP TABLE bench_copy AS SELECT * FROM shequ.ticket_events WITH NO DATA", 0, NULL, NULL,
               err, sizeof err);
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
    sq_pg_free(own);
    owner_sql("DELETE FROM shequ.ticket_events WHERE ticket_id >= $1 AND ticket_id < $1 || '~'", 1, (const char *[]){ prefix });
    owner_sql("DELETE FROM shequ.tickets WHERE community_id = $1", 1, (const char *[]){ prefix });
    char notes[300];
    snprintf(notes, sizeof notes, "%ld events (%ld tickets, %d connections): the rate shown is from 10%% to 90%% of the rows,"
             " %.0f/s with the recorder's start-up; baseline: COPY FROM STDIN of %ld rows into an unindexed table",
             got, (n + per_ticket - 1) / per_ticket, connections > 0 ? connections : 2, secs > 0 ? (double)got / secs : 0, n);
    result("recorder", sustained, copy_s > 0 ? (double)n / copy_s : 0, 0, 0, notes);
}

/* --------------------------------------------------- triage, steady state */

/* A closed snapshot of the ticket a report became, last touched two days ago: past every window. */
static size_t closed_snapshot(uint8_t *buf, const char *ticket, const char *community)
{
    char id[SQ_UUID_LEN];
    sq_uuid4(id);
    int64_t old = sq_now_us() - 2 * 86400 * SQ_US_PER_S;
    Shequ__V1__EventHeader h = SHEQU__V1__EVENT_HEADER__INIT;
    h.event_id = id;
    h.occurred_at_us = h.produced_at_us = old;
    h.community_id = (char *)community;
    Shequ__V1__TicketState st = SHEQU__V1__TICKET_STATE__INIT;
    st.ticket_id = (char *)ticket;
    st.community_id = (char *)community;
    st.source = "report";
    st.category = "sanitation";
    st.tier = "general";
    st.status = SHEQU__V1__TICKET_STATUS__TICKET_STATUS_CLOSED;
    st.created_at_us = old;
    st.updated_at_us = old;
    Shequ__V1__TicketEvent e = SHEQU__V1__TICKET_EVENT__INIT;
    Shequ__V1__Closed c = SHEQU__V1__CLOSED__INIT;
    c.reason = "bench";
    e.header = &h;
    e.ticket_id = (char *)ticket;
    e.body_case = SHEQU__V1__TICKET_EVENT__BODY_CLOSED;
    e.closed = &c;
    e.state = &st;
    return shequ__v1__ticket_event__pack(&e, buf);
}

/*
 * N reports at 5,000/s over 20,000 buildings into a triage whose tickets are closed a few seconds after
 * they open (as a district's are, over days): with the windows it keeps short (dedupe.window_s 60), its
 * memory must stay flat once every place has been seen. RSS is sampled every 10 s.
 */
void bench_triage_steady(long n)
{
    enum { PER_S = 5000, LAG = 5 * PER_S };
    char rules[300], pg[300], dedupe[64];
    snprintf(rules, sizeof rules, "SHEQU_RULES_FILE=%s/deploy/rules/shequ.rules", ts_env("SHEQU_ROOT"));
    snprintf(pg, sizeof pg, "SHEQU_PG_DSN=%s", ts_env("PG_DSN"));
    snprintf(dedupe, sizeof dedupe, "SHEQU_DEDUPE_WINDOW_S=60");
    char *extra[] = { rules, pg, dedupe, NULL };
    char cm[64]; /* a community the directory knows, so that tickets are assigned as they would be */
    snprintf(cm, sizeof cm, "steady-%.8s", prefix + 6);
    bench_directory(cm);
    pid_t pid = spawn_service("triage", extra);
    sq_sleep_ms(2000);
    sq_producer *p = producer();
    char reports[128], tickets[128];
    snprintf(reports, sizeof reports, "%sreports.resident.v1", prefix);
    snprintf(tickets, sizeof tickets, "%stickets.v1", prefix);
    long samples[256], ns = 0;
    int64_t t0 = sq_mono_us(), next_sample = t0;
    uint8_t buf[1024];
    for (long i = 0; i < n + LAG; i++) {
        if (i < n) {
            char rid[96], b[24];
            snprintf(rid, sizeof rid, "steady-%s%ld", prefix, i);
            snprintf(b, sizeof b, "B%ld", i % 20000); /* a district's buildings: reports at one place merge */
            send_report(p, reports, rid, cm, b, "wx-bench");
        }
        if (i >= LAG) { /* the ticket of the report sent five seconds ago closes */
            char rid[96], ticket[SQ_TICKET_ID_MAX];
            snprintf(rid, sizeof rid, "steady-%s%ld", prefix, i - LAG);
            sq_ticket_id_make(ticket, cm, rid);
            size_t len = closed_snapshot(buf, ticket, cm);
            sq_producer_send(p, tickets, cm, strlen(cm), buf, len, NULL, NULL, NULL);
        }
        int64_t due = t0 + i * SQ_US_PER_S / PER_S, now = sq_mono_us();
        if (due > now + 1000)
            sq_sleep_ms((due - now) / 1000);
        if (now >= next_sample && ns < 256) {
            samples[ns++] = rss_kb(pid);
            next_sample += 10 * SQ_US_PER_S;
        }
    }
    sq_producer_wait(p, 60000);
    double sent_s = (double)(sq_mono_us() - t0) / 1e6;
    sq_sleep_ms(65000); /* one more pass of the minute's forgetting */
    samples[ns++] = rss_kb(pid);
    ts_stop(pid, false);
    sq_producer_free(p);
    bench_directory_forget(cm);
    char series[160] = "";
    for (long i = 0, off = 0; i < ns && off < (long)sizeof series - 8; i++)
        off += snprintf(series + off, sizeof series - (size_t)off, "%s%ld", i ? " " : "", samples[i] / 1024);
    char notes[300];
    snprintf(notes, sizeof notes, "%ld reports at %d/s over 20000 buildings, each ticket closed 5 s later; RSS MB every 10 s "
             "(the last after the run): %s", n, PER_S, series);
    result("triage-mem", (double)n / sent_s, 0, 0, 0, notes); /* the rate the reports were sent at */
}
