/*
 * The recorder on the real stack, on its own prefixed topics:
 *  - ticket events become rows; the ticket row follows the latest snapshot;
 *  - redelivering the same events changes nothing;
 *  - kill -9 of the recorder 10 times while 100,000 ticket events stream in:
 *    exactly one row per event and correct ticket rows;
 *  - a PostgreSQL outage while events stream in pauses the recorder (alive, backing off, nearly idle)
 *    and it resumes without loss when PostgreSQL is back;
 *  - dead letters are recorded with their headers;
 *  - tools/rebuild replays the same topics into an empty database and gets the same tables and KPIs,
 *    and its comparison notices a difference when one is made.
 * The test writes to a database of its own (created and dropped here), so the rebuild can be compared
 * with everything in it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka.h"
#include "pg.h"
#include "shequ/v1/ticket.pb-c.h"
#include "testsupport.h"
#include "util.h"

static char prefix[40], u[16], group[64], db[40], rebuilt_db[40];
static pid_t rec;
static sq_producer *producer;
static sq_common_config pcfg;

static pid_t spawn_recorder(void)
{
    static char env[6][300];
    char path[512];
    ts_build_path(path, sizeof path, "services/recorder/recorder");
    snprintf(env[0], sizeof env[0], "SHEQU_TOPIC_PREFIX=%s", prefix);
    snprintf(env[1], sizeof env[1], "SHEQU_KAFKA_GROUP=%s", group);
    snprintf(env[2], sizeof env[2], "SHEQU_ADMIN_PORT=0");
    snprintf(env[3], sizeof env[3], "SHEQU_PG_DSN=%s", ts_env("PG_DSN"));
    snprintf(env[4], sizeof env[4], "SHEQU_KAFKA_BROKERS=%s", ts_env("KAFKA_BROKERS"));
    snprintf(env[5], sizeof env[5], "SHEQU_LOG_LEVEL=warn");
    char *e[] = { env[0], env[1], env[2], env[3], env[4], env[5], NULL };
    char *argv[] = { path, NULL };
    return ts_spawn(argv, e);
}

static long query_long(const char *sql, const char *arg)
{
    sq_pg *pg = sq_pg_new(ts_env("PG_READER_DSN"), 3, 10000, "test_recorder");
    char err[256];
    PGresult *r;
    const char *p[] = { arg };
    if (sq_pg_exec(pg, sql, 1, p, &r, err, sizeof err) != SQ_OK)
        fail_msg("%s: %s", sql, err);
    long v = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    sq_pg_free(pg);
    return v;
}

static bool wait_rows(const char *sql, const char *arg, long want, int timeout_s)
{
    for (int i = 0; i < timeout_s * 5; i++) {
        if (query_long(sql, arg) >= want)
            return true;
        sq_sleep_ms(200);
    }
    return false;
}

/* One synthetic ticket event: step 0 created (assigned), 1 responded, 2 resolved, 3 rated+closed, 4 occurrence. */
static void produce_event(const char *ticket, int step, int64_t base_us)
{
    char topic[128], id[SQ_UUID_LEN], name[160];
    snprintf(topic, sizeof topic, "%stickets.v1", prefix);
    snprintf(name, sizeof name, "%s/%d", ticket, step);
    sq_uuid5(id, "test-event", name, strlen(name));
    Shequ__V1__EventHeader h = SHEQU__V1__EVENT_HEADER__INIT;
    h.event_id = id;
    h.occurred_at_us = base_us + step * 1000000LL;
    h.community_id = prefix;
    h.source = step == 4 ? "triage" : "workflow";
    Shequ__V1__Clock respond = SHEQU__V1__CLOCK__INIT, resolve = SHEQU__V1__CLOCK__INIT;
    respond.name = "respond";
    respond.started_at_us = base_us;
    respond.due_at_us = base_us + 4 * 3600 * SQ_US_PER_S;
    respond.stopped_at_us = step >= 1 ? base_us + SQ_US_PER_S : 0;
    resolve.name = "resolve";
    resolve.started_at_us = base_us;
    resolve.due_at_us = base_us + 4 * 3600 * SQ_US_PER_S;
    resolve.stopped_at_us = step >= 2 ? base_us + 2 * SQ_US_PER_S : 0;
    Shequ__V1__Clock *clocks[] = { &respond, &resolve };
    Shequ__V1__TicketState st = SHEQU__V1__TICKET_STATE__INIT;
    st.ticket_id = (char *)ticket;
    st.community_id = prefix;
    st.source = "report";
    st.category = "sanitation";
    st.tier = "general";
    st.status = step == 0 ? SHEQU__V1__TICKET_STATUS__TICKET_STATUS_ASSIGNED
              : step == 1 ? SHEQU__V1__TICKET_STATUS__TICKET_STATUS_IN_PROGRESS
              : step == 2 ? SHEQU__V1__TICKET_STATUS__TICKET_STATUS_RESOLVED
                          : SHEQU__V1__TICKET_STATUS__TICKET_STATUS_CLOSED;
    st.assignee_id = "s1";
    st.reporter_count = 1;
    st.n_clocks = 2;
    st.clocks = clocks;
    st.created_at_us = base_us;
    st.updated_at_us = h.occurred_at_us;
    st.responded_at_us = respond.stopped_at_us;
    st.resolved_at_us = resolve.stopped_at_us;
    st.rating = step >= 3 ? SHEQU__V1__RATING__RATING_SATISFIED : 0;
    Shequ__V1__TicketEvent ev = SHEQU__V1__TICKET_EVENT__INIT;
    ev.header = &h;
    ev.ticket_id = (char *)ticket;
    Shequ__V1__Created cr = SHEQU__V1__CREATED__INIT;
    Shequ__V1__Responded rs = SHEQU__V1__RESPONDED__INIT;
    Shequ__V1__Resolved rv = SHEQU__V1__RESOLVED__INIT;
    Shequ__V1__Closed cl = SHEQU__V1__CLOSED__INIT;
    Shequ__V1__Occurrence oc = SHEQU__V1__OCCURRENCE__INIT;
    switch (step) {
    case 0: ev.body_case = SHEQU__V1__TICKET_EVENT__BODY_CREATED; ev.created = &cr; ev.state = &st; break;
    case 1: ev.body_case = SHEQU__V1__TICKET_EVENT__BODY_RESPONDED; ev.responded = &rs; ev.state = &st; break;
    case 2: ev.body_case = SHEQU__V1__TICKET_EVENT__BODY_RESOLVED; ev.resolved = &rv; ev.state = &st; break;
    case 3: ev.body_case = SHEQU__V1__TICKET_EVENT__BODY_CLOSED; ev.closed = &cl; ev.state = &st; break;
    default: oc.occurrence_count = 3; ev.body_case = SHEQU__V1__TICKET_EVENT__BODY_OCCURRENCE; ev.occurrence = &oc; break;
    }
    uint8_t buf[2048];
    size_t len = shequ__v1__ticket_event__pack(&ev, buf);
    assert_int_equal(sq_producer_send(producer, topic, ticket, strlen(ticket), buf, len, NULL, NULL, NULL), SQ_OK);
}

/* Points VAR (a DSN of the shared database) at database name instead. */
static void use_database(const char *var, const char *name)
{
    char dsn[512];
    const char *v = ts_env(var), *slash = strrchr(v, '/');
    snprintf(dsn, sizeof dsn, "%.*s/%s", (int)(slash - v), v, name);
    setenv(var, dsn, 1);
}

/* Runs a command of the source tree: "tools/..." is prefixed with $SHEQU_SOURCE_DIR/. */
static int sh(const char *fmt, ...) SQ_PRINTF(1, 2);
static int sh(const char *fmt, ...)
{
    char cmd[1024];
    int n = snprintf(cmd, sizeof cmd, "cd '%s' && ", ts_env("SHEQU_SOURCE_DIR"));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd + n, sizeof cmd - (size_t)n, fmt, ap);
    va_end(ap);
    return ts_sh(cmd);
}

static int setup(void **state)
{
    char id[SQ_UUID_LEN];
    sq_uuid4(id);
    snprintf(u, sizeof u, "%.8s", id);
    snprintf(db, sizeof db, "shequ_t_%s", u);
    snprintf(rebuilt_db, sizeof rebuilt_db, "shequ_rb_%s", u);
    if (sh("tools/dev createdb %s", db) != 0)
        return -1;
    use_database("PG_DSN", db);
    use_database("PG_READER_DSN", db);
    use_database("PG_OWNER_DSN", db);
    if (sh("tools/migrate >/dev/null") != 0)
        return -1;
    snprintf(prefix, sizeof prefix, "r.%s.", u);
    snprintf(group, sizeof group, "recorder-%s", u);
    if (ts_create_topic_set(prefix) != 0)
        return -1;
    pcfg.service = "test-recorder";
    pcfg.kafka_brokers = (char *)ts_env("KAFKA_BROKERS");
    pcfg.kafka_linger_ms = 20;
    char err[256];
    producer = sq_producer_new(&pcfg, NULL, err, sizeof err);
    rec = spawn_recorder();
    return producer ? 0 : -1;
}

static int teardown(void **state)
{
    ts_stop(rec, false);
    sq_producer_free(producer);
    sh("tools/dev dropdb %s; tools/dev dropdb %s", db, rebuilt_db);
    ts_delete_topic_set(prefix);
    return 0;
}

/* Tickets of the streaming tests, each with STEPS events (plus one ticket of 5 in the first test). */
enum { BULK_TICKETS = 20000, OUTAGE_TICKETS = 4000, STEPS = 5 };

static const char *count_events = "SELECT count(*) FROM shequ.ticket_events WHERE ticket_id LIKE $1 || '%'";
static const char *count_closed = "SELECT count(*) FROM shequ.tickets WHERE community_id = $1 AND status = 'closed'"
                                  " AND rating = 'satisfied' AND occurrence_count = 3 AND responded_at IS NOT NULL";

static void events_become_rows_and_redelivery_changes_nothing(void **state)
{
    char t[128], like[128];
    snprintf(t, sizeof t, "%sone", prefix);
    snprintf(like, sizeof like, "%sone", prefix);
    int64_t base = sq_now_us() - 3600 * SQ_US_PER_S;
    for (int step = 0; step <= 4; step++)
        produce_event(t, step, base);
    assert_int_equal(sq_producer_wait(producer, 10000), SQ_OK);
    assert_true(wait_rows(count_events, like, 5, 30));
    assert_true(wait_rows(count_closed, prefix, 1, 30));
    /* redelivery: a second recorder (another group) consumes the same log from the start again;
     * the older snapshots it meets first do not move the row back and no event is doubled */
    char saved[64];
    snprintf(saved, sizeof saved, "%s", group);
    snprintf(group, sizeof group, "recorder-again-%s", u);
    pid_t again = spawn_recorder();
    snprintf(group, sizeof group, "%s", saved);
    sq_sleep_ms(5000);
    ts_stop(again, false);
    assert_int_equal(query_long(count_events, like), 5);
    assert_int_equal(query_long(count_closed, prefix), 1);
    assert_int_equal(query_long("SELECT count(*) FROM shequ.kpi_daily WHERE community_id = $1 AND reply_rate = 1", prefix), 1);
}

static void kill9_ten_times_while_streaming(void **state)
{
    enum { TICKETS = BULK_TICKETS };
    int64_t base = sq_now_us() - 3600 * SQ_US_PER_S;
    char t[128], like[128];
    snprintf(like, sizeof like, "%sbulk-", prefix);
    int kills = 0;
    for (int step = 0; step < STEPS; step++) {
        for (int i = 0; i < TICKETS; i++) {
            snprintf(t, sizeof t, "%sbulk-%d", prefix, i);
            produce_event(t, step, base);
            if (i % (TICKETS / 2) == TICKETS / 4 && kills < 10) {
                sq_producer_wait(producer, 10000);
                ts_stop(rec, true); /* kill -9 mid-stream */
                rec = spawn_recorder();
                kills++;
            }
        }
    }
    assert_int_equal(kills, 10);
    assert_int_equal(sq_producer_wait(producer, 30000), SQ_OK);
    assert_true(wait_rows(count_events, like, (long)TICKETS * STEPS, 240));
    sq_sleep_ms(1000);
    assert_int_equal(query_long(count_events, like), (long)TICKETS * STEPS);
    assert_int_equal(query_long(count_closed, prefix), TICKETS + 1);
}

static void postgres_outage_pauses_and_resumes_without_loss(void **state)
{
    enum { TICKETS = OUTAGE_TICKETS };
    int64_t base = sq_now_us() - 3600 * SQ_US_PER_S;
    char t[128], like[128];
    snprintf(like, sizeof like, "%sout-", prefix);
    for (int i = 0; i < TICKETS; i++) { /* the first two steps while PostgreSQL is there */
        snprintf(t, sizeof t, "%sout-%d", prefix, i);
        produce_event(t, 0, base);
        produce_event(t, 1, base);
    }
    assert_int_equal(sq_producer_wait(producer, 30000), SQ_OK);
    assert_true(wait_rows(count_events, like, 1, 60));
    assert_int_equal(sh("tools/dev stop-server postgres"), 0);
    for (int step = 2; step < STEPS; step++) /* the rest while it is away */
        for (int i = 0; i < TICKETS; i++) {
            snprintf(t, sizeof t, "%sout-%d", prefix, i);
            produce_event(t, step, base);
        }
    assert_int_equal(sq_producer_wait(producer, 30000), SQ_OK);
    /* away for 8 s: the recorder stays up and, backing off up to 5 s, uses little CPU */
    double cpu0 = ts_cpu_seconds(rec);
    sq_sleep_ms(8000);
    double cpu = ts_cpu_seconds(rec) - cpu0;
    int running = kill(rec, 0);
    assert_int_equal(sh("tools/dev start-server postgres"), 0);
    assert_int_equal(running, 0);
    assert_true(cpu0 >= 0 && cpu < 2.0); /* a busy loop would take a whole core: 8 s */
    /* back: every event exactly once, every ticket at its last snapshot */
    assert_true(wait_rows(count_events, like, (long)TICKETS * STEPS, 120));
    sq_sleep_ms(1000);
    assert_int_equal(query_long(count_events, like), (long)TICKETS * STEPS);
    assert_int_equal(query_long("SELECT count(*) FROM shequ.tickets WHERE ticket_id LIKE $1 || '%' AND status = 'closed'"
                                " AND occurrence_count = 3", like), TICKETS);
}

static void rebuild_equals_live(void **state)
{
    /* the live recorder has caught up (the test before waited for every row); the rebuild reads the same
     * topics from offset 0 into an empty database and must hold the same rows and KPI values */
    char bin[512];
    ts_build_path(bin, sizeof bin, "");
    setenv("SHEQU_BUILD", bin, 1);
    assert_int_equal(sh("tools/rebuild --prefix %s --into %s --compare %s", prefix, rebuilt_db, db), 0);
    assert_int_equal(query_long("SELECT count(*) FROM shequ.ticket_events WHERE ticket_id LIKE $1 || '%'", prefix),
                     (long)(BULK_TICKETS + OUTAGE_TICKETS) * STEPS + 5);
    /* the comparison can fail: one rating changed in the live database is noticed */
    sq_pg *pg = sq_pg_new(ts_env("PG_OWNER_DSN"), 3, 10000, "test_recorder");
    const char *p[] = { prefix };
    char err[256];
    assert_int_equal(sq_pg_exec(pg, "UPDATE shequ.tickets SET rating = 'unsatisfied' WHERE ticket_id = $1 || 'one'",
                                1, p, NULL, err, sizeof err), SQ_OK);
    sq_pg_free(pg);
    assert_int_equal(sh("tools/rebuild --compare-only %s %s", rebuilt_db, db), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(events_become_rows_and_redelivery_changes_nothing),
        cmocka_unit_test(kill9_ten_times_while_streaming),
        cmocka_unit_test(postgres_outage_pauses_and_resumes_without_loss),
        cmocka_unit_test(rebuild_equals_live),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
