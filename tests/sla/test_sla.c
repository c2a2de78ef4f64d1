/*
 * The sla service on the real stack, on its own prefixed topics, fed with
 * ticket snapshots as triage and workflow write them:
 *  - a difficult ticket planned with a deadline 8 s ahead and never resolved
 *    gets a warning (80 %), a breach and level 1 (100 %) and level 2 (200 %) (the ladder is
 *    set to 0.8,1,2,5 so level 3 lies beyond the test),
 *    each exactly once, across a kill -9 of sla between level 1 and level 2
 *    (the restarted member waits out the dead one's 6 s session first);
 *  - a ticket resolved in time gets no breach;
 *  - pause → resume moves the breach by the paused time;
 *  - Kafka refusing sla's output while a clock runs out loses no warning,
 *    breach or level (sla builds its memory again from the log).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka.h"
#include "map.h"
#include "shequ/v1/ticket.pb-c.h"
#include "testsupport.h"
#include "util.h"

static char prefix[40], group[64];
static pid_t sla_pid;
static sq_producer *producer;
static sq_common_config pcfg;

static pid_t spawn_sla(void)
{
    static char env[8][300];
    char path[512];
    ts_build_path(path, sizeof path, "services/sla/sla");
    snprintf(env[0], sizeof env[0], "SHEQU_TOPIC_PREFIX=%s", prefix);
    snprintf(env[1], sizeof env[1], "SHEQU_KAFKA_GROUP=%s", group);
    snprintf(env[2], sizeof env[2], "SHEQU_ADMIN_PORT=0");
    snprintf(env[3], sizeof env[3], "SHEQU_PG_DSN=%s", ts_env("PG_DSN"));
    snprintf(env[4], sizeof env[4], "SHEQU_KAFKA_BROKERS=%s", ts_env("KAFKA_BROKERS"));
    snprintf(env[5], sizeof env[5], "SHEQU_LOG_LEVEL=info");
    /* level 3 at 5x, far beyond the test's window, so reading the log never races it */
    snprintf(env[6], sizeof env[6], "SHEQU_LADDER=default=0.8,1,2,5");
    snprintf(env[7], sizeof env[7], "SHEQU_RULES_FILE=%s/deploy/rules/shequ.rules", ts_env("SHEQU_SOURCE_DIR"));
    char *e[] = { env[0], env[1], env[2], env[3], env[4], env[5], env[6], env[7], NULL };
    char *argv[] = { path, NULL };
    return ts_spawn(argv, e);
}

/* A snapshot event for one ticket with one resolve clock (and a stopped plan clock). */
static void snapshot(const char *ticket, int n, Shequ__V1__TicketStatus status, int64_t started, int64_t due,
                     int64_t stopped, int64_t paused_since, int64_t paused_total)
{
    char topic[128], id[SQ_UUID_LEN], name[160];
    snprintf(topic, sizeof topic, "%stickets.v1", prefix);
    snprintf(name, sizeof name, "%s/%d", ticket, n);
    sq_uuid5(id, "test-sla", name, strlen(name));
    Shequ__V1__EventHeader h = SHEQU__V1__EVENT_HEADER__INIT;
    h.event_id = id;
    h.occurred_at_us = sq_now_us();
    h.community_id = prefix;
    h.source = "workflow";
    Shequ__V1__Clock plan = SHEQU__V1__CLOCK__INIT, resolve = SHEQU__V1__CLOCK__INIT;
    plan.name = "plan";
    plan.started_at_us = started;
    plan.due_at_us = started + 4LL * 3600 * SQ_US_PER_S;
    plan.stopped_at_us = started;
    resolve.name = "resolve";
    resolve.started_at_us = started;
    resolve.due_at_us = due;
    resolve.stopped_at_us = stopped;
    resolve.paused_since_us = paused_since;
    resolve.paused_total_us = paused_total;
    Shequ__V1__Clock *clocks[] = { &plan, &resolve };
    Shequ__V1__TicketState st = SHEQU__V1__TICKET_STATE__INIT;
    st.ticket_id = (char *)ticket;
    st.community_id = prefix;
    st.category = "dispute";
    st.tier = "difficult";
    st.status = status;
    st.assignee_id = "s1";
    st.reporter_id = "wx";
    st.n_clocks = 2;
    st.clocks = clocks;
    st.created_at_us = started;
    Shequ__V1__TicketEvent ev = SHEQU__V1__TICKET_EVENT__INIT;
    Shequ__V1__Planned pl = SHEQU__V1__PLANNED__INIT;
    ev.header = &h;
    ev.ticket_id = (char *)ticket;
    ev.body_case = SHEQU__V1__TICKET_EVENT__BODY_PLANNED;
    ev.planned = &pl;
    ev.state = &st;
    uint8_t buf[2048];
    size_t len = shequ__v1__ticket_event__pack(&ev, buf);
    assert_int_equal(sq_producer_send(producer, topic, prefix, strlen(prefix), buf, len, NULL, NULL, NULL), SQ_OK);
    assert_int_equal(sq_producer_wait(producer, 10000), SQ_OK);
}

typedef struct {
    const char *ticket;
    int warnings, breaches, level[4];
    int64_t breach_due, breach_at, breach_occurred;
} sla_count;

static bool count(const rd_kafka_message_t *m, void *arg)
{
    sla_count *c = arg;
    Shequ__V1__TicketEvent *e = shequ__v1__ticket_event__unpack(NULL, m->len, m->payload);
    if (e && strcmp(e->ticket_id, c->ticket) == 0) {
        if (e->body_case == SHEQU__V1__TICKET_EVENT__BODY_SLA_WARNING)
            c->warnings++;
        if (e->body_case == SHEQU__V1__TICKET_EVENT__BODY_SLA_BREACHED) {
            c->breaches++;
            c->breach_due = e->sla_breached->due_at_us;
            c->breach_at = e->header->produced_at_us;
            c->breach_occurred = e->header->occurred_at_us;
        }
        if (e->body_case == SHEQU__V1__TICKET_EVENT__BODY_ESCALATED && e->escalated->level >= 1 && e->escalated->level <= 3)
            c->level[e->escalated->level]++;
    }
    if (e)
        shequ__v1__ticket_event__free_unpacked(e, NULL);
    return false;
}

static sla_count read_counts(const char *ticket)
{
    char topic[128];
    snprintf(topic, sizeof topic, "%stickets.v1", prefix);
    sla_count c = { .ticket = ticket };
    ts_consume_until(topic, -1, 3000, count, &c);
    return c;
}

static int setup(void **state)
{
    char id[SQ_UUID_LEN];
    sq_uuid4(id);
    snprintf(prefix, sizeof prefix, "s.%.8s.", id);
    snprintf(group, sizeof group, "sla-%.8s", id);
    if (ts_create_topic_set(prefix) != 0)
        return -1;
    pcfg.service = "test-sla";
    pcfg.kafka_brokers = (char *)ts_env("KAFKA_BROKERS");
    pcfg.kafka_linger_ms = 1;
    char err[256];
    producer = sq_producer_new(&pcfg, NULL, err, sizeof err);
    sla_pid = spawn_sla();
    sq_sleep_ms(3000); /* joined and replayed */
    return producer ? 0 : -1;
}

static int teardown(void **state)
{
    ts_stop(sla_pid, false);
    sq_producer_free(producer);
    ts_delete_topic_set(prefix);
    return 0;
}

static void ladder_exactly_once_across_kill9(void **state)
{
    char never[64], in_time[64], paused[64];
    snprintf(never, sizeof never, "%snever", prefix);
    snprintf(in_time, sizeof in_time, "%sintime", prefix);
    snprintf(paused, sizeof paused, "%spaused", prefix);
    int64_t t0 = sq_now_us();
    /* never resolved: plan deadline 8 s ahead → 80 % at 6.4 s, breach + level 1 at 8 s, level 2 at 16 s, level 3 at 40 s */
    snapshot(never, 0, SHEQU__V1__TICKET_STATUS__TICKET_STATUS_IN_PROGRESS, t0, t0 + 8 * SQ_US_PER_S, 0, 0, 0);
    /* resolved after 2 s of a 5 s deadline: never breached */
    snapshot(in_time, 0, SHEQU__V1__TICKET_STATUS__TICKET_STATUS_IN_PROGRESS, t0, t0 + 5 * SQ_US_PER_S, 0, 0, 0);
    /* deadline 4 s ahead, paused at 1 s and resumed at 3 s: the breach moves to 6 s */
    snapshot(paused, 0, SHEQU__V1__TICKET_STATUS__TICKET_STATUS_IN_PROGRESS, t0, t0 + 4 * SQ_US_PER_S, 0, 0, 0);
    sq_sleep_ms(1000);
    snapshot(paused, 1, SHEQU__V1__TICKET_STATUS__TICKET_STATUS_PAUSED, t0, t0 + 4 * SQ_US_PER_S, 0, t0 + SQ_US_PER_S, 0);
    sq_sleep_ms(1000);
    snapshot(in_time, 1, SHEQU__V1__TICKET_STATUS__TICKET_STATUS_RESOLVED, t0, t0 + 5 * SQ_US_PER_S, sq_now_us(), 0, 0);
    sq_sleep_ms(1000);
    snapshot(paused, 2, SHEQU__V1__TICKET_STATUS__TICKET_STATUS_IN_PROGRESS, t0, t0 + 6 * SQ_US_PER_S, 0, 0,
             2 * SQ_US_PER_S);
    /* after level 1 (8 s) and before level 2 (16 s): kill -9 and restart */
    while (sq_now_us() < t0 + 9 * SQ_US_PER_S)
        sq_sleep_ms(100);
    sla_count c = read_counts(never);
    assert_int_equal(c.warnings, 1);
    assert_int_equal(c.breaches, 1);
    assert_int_equal(c.level[1], 1);
    assert_int_equal(c.level[2], 0);
    ts_stop(sla_pid, true);
    sla_pid = spawn_sla();
    while (sq_now_us() < t0 + 21 * SQ_US_PER_S)
        sq_sleep_ms(100);
    c = read_counts(never);
    assert_int_equal(c.warnings, 1);  /* not again after the restart */
    assert_int_equal(c.breaches, 1);
    assert_int_equal(c.level[1], 1);
    assert_int_equal(c.level[2], 1);  /* fired by the restarted instance */
    assert_int_equal(c.level[3], 0);  /* 40 s is still ahead */
    assert_true(c.breach_due == t0 + 8 * SQ_US_PER_S);
    c = read_counts(in_time);
    assert_int_equal(c.breaches, 0);
    assert_int_equal(c.level[1], 0);
    c = read_counts(paused);
    assert_int_equal(c.breaches, 1);
    assert_true(c.breach_due == t0 + 6 * SQ_US_PER_S); /* moved by the 2 s pause */
    assert_true(c.breach_at >= t0 + 6 * SQ_US_PER_S);
}

/* Kafka refuses what sla emits (the topic's max.message.bytes below any batch) while a clock runs out:
 * sla builds its memory again from the log, and once Kafka takes its output the warning, the breach and
 * the levels due by then arrive, each exactly once. */
static void refused_breach_is_not_lost(void **state)
{
    char t[64], topic[128];
    snprintf(t, sizeof t, "%srefused", prefix);
    snprintf(topic, sizeof topic, "%stickets.v1", prefix);
    int64_t t0 = sq_now_us();
    /* deadline 4 s ahead: warning at 3.2 s, breach and level 1 at 4 s, level 2 at 8 s, level 3 at 20 s */
    snapshot(t, 0, SHEQU__V1__TICKET_STATUS__TICKET_STATUS_IN_PROGRESS, t0, t0 + 4 * SQ_US_PER_S, 0, 0, 0);
    sq_sleep_ms(1000); /* sla has it */
    int64_t before = ts_end_offsets(topic);
    assert_int_equal(ts_topic_config(topic, "max.message.bytes", "64"), 0);
    while (sq_now_us() < t0 + 6 * SQ_US_PER_S)
        sq_sleep_ms(100);
    assert_int_equal(ts_end_offsets(topic), before); /* the warning, breach and level 1 were refused */
    assert_int_equal(ts_topic_config(topic, "max.message.bytes", "1048588"), 0);
    while (sq_now_us() < t0 + 16 * SQ_US_PER_S)
        sq_sleep_ms(100);
    sla_count c = read_counts(t);
    assert_int_equal(c.warnings, 1);
    assert_int_equal(c.breaches, 1);
    assert_int_equal(c.level[1], 1);
    assert_int_equal(c.level[2], 1);
    assert_int_equal(c.level[3], 0);
}

/* sla away while two planned tickets' agreed deadlines pass, one resolved in time before that: started
 * again, it reads the resolution before the deadline passes in its stream time, so only the open one is
 * breached, once, and the breach is dated at the deadline (not at the moment sla caught up). */
static void catch_up_decides_as_live(void **state)
{
    char done[64], open[64];
    snprintf(done, sizeof done, "%scatchup-done", prefix);
    snprintf(open, sizeof open, "%scatchup-open", prefix);
    ts_stop(sla_pid, false);
    int64_t t0 = sq_now_us(), due = t0 + 3 * SQ_US_PER_S;
    snapshot(done, 0, SHEQU__V1__TICKET_STATUS__TICKET_STATUS_IN_PROGRESS, t0, due, 0, 0, 0);
    snapshot(open, 0, SHEQU__V1__TICKET_STATUS__TICKET_STATUS_IN_PROGRESS, t0, due, 0, 0, 0);
    sq_sleep_ms(1000);
    snapshot(done, 1, SHEQU__V1__TICKET_STATUS__TICKET_STATUS_RESOLVED, t0, due, sq_now_us(), 0, 0);
    while (sq_now_us() < due + 3 * SQ_US_PER_S) /* both deadlines pass while sla is away */
        sq_sleep_ms(100);
    sla_pid = spawn_sla();
    sq_sleep_ms(8000); /* joined, restored, caught up */
    sla_count c = read_counts(done);
    assert_int_equal(c.breaches, 0);
    assert_int_equal(c.level[1], 0);
    c = read_counts(open);
    assert_int_equal(c.warnings, 1);
    assert_int_equal(c.breaches, 1);
    assert_int_equal(c.level[1], 1);
    assert_true(c.breach_due == due);
    assert_true(c.breach_occurred == due);          /* dated at the deadline */
    assert_true(c.breach_at >= due + 3 * SQ_US_PER_S); /* though written after the catch-up */
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(ladder_exactly_once_across_kill9),
                                        cmocka_unit_test(refused_breach_is_not_lost),
                                        cmocka_unit_test(catch_up_decides_as_live) };
    return cmocka_run_group_tests(tests, setup, teardown);
}
