/*
 * triage and workflow on the real stack, each test run on its own prefixed
 * topic set with its own instances:
 *  - a report, a duplicate report and a camera alarm of the same thing are one
 *    ticket with reporter_count 2 and one occurrence;
 *  - the happy path from report to rated and closed;
 *  - rejected actions (stranger, plan without deadline) are ticket events;
 *  - an unsatisfied resident reopens the ticket;
 *  - bad input goes to the dead-letter topic with a reason;
 *  - Kafka refusing triage's or workflow's output for a while loses no ticket
 *    and no answer (they build their memory again from the log);
 *  - kill -9 of triage in the middle of many reports: every report is one
 *    ticket, none doubled.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "deadletter.h"
#include "kafka.h"
#include "map.h"
#include "pg.h"
#include "shequ/v1/alarm.pb-c.h"
#include "shequ/v1/feedback.pb-c.h"
#include "shequ/v1/property.pb-c.h"
#include "shequ/v1/report.pb-c.h"
#include "shequ/v1/ticket.pb-c.h"
#include "testsupport.h"
#include "ticket.h"
#include "util.h"

static char prefix[96], u[16], community[64], company[64], street[64], s1[64], s2[64], mgr[64], sup[64];
static pid_t triage_pid, workflow_pid;
static sq_producer *producer;
static sq_common_config pcfg;

/* ------------------------------------------------------------------ stack */

static void sql(const char *q, int n, const char *const *p)
{
    sq_pg *pg = sq_pg_new(ts_env("PG_OWNER_DSN"), 3, 5000, "test_lifecycle");
    char err[256];
    if (sq_pg_exec(pg, q, n, p, NULL, err, sizeof err) != SQ_OK)
        fail_msg("%s", err);
    sq_pg_free(pg);
}

static pid_t spawn(const char *name, const char *group)
{
    static char env[8][300];
    char path[512], rel[128];
    snprintf(rel, sizeof rel, "services/%s/%s", name, name);
    ts_build_path(path, sizeof path, rel);
    snprintf(env[0], sizeof env[0], "SHEQU_TOPIC_PREFIX=%s", prefix);
    snprintf(env[1], sizeof env[1], "SHEQU_KAFKA_GROUP=%s", group);
    snprintf(env[2], sizeof env[2], "SHEQU_ADMIN_PORT=0");
    snprintf(env[3], sizeof env[3], "SHEQU_RULES_FILE=%s/deploy/rules/shequ.rules", ts_env("SHEQU_SOURCE_DIR"));
    snprintf(env[4], sizeof env[4], "SHEQU_PG_DSN=%s", ts_env("PG_DSN"));
    snprintf(env[5], sizeof env[5], "SHEQU_KAFKA_BROKERS=%s", ts_env("KAFKA_BROKERS"));
    snprintf(env[6], sizeof env[6], "SHEQU_LOG_LEVEL=warn");
    char *e[] = { env[0], env[1], env[2], env[3], env[4], env[5], env[6], NULL };
    char *argv[] = { path, NULL };
    return ts_spawn(argv, e);
}

static char triage_group[96], workflow_group[96];

static int setup(void **state)
{
    char id[SQ_UUID_LEN];
    sq_uuid4(id);
    snprintf(u, sizeof u, "%.8s", id);
    snprintf(prefix, sizeof prefix, "t.%s.", u);
    snprintf(community, sizeof community, "cm-%s", u);
    snprintf(company, sizeof company, "co-%s", u);
    snprintf(street, sizeof street, "st-%s", u);
    snprintf(s1, sizeof s1, "s1-%s", u);
    snprintf(s2, sizeof s2, "s2-%s", u);
    snprintf(mgr, sizeof mgr, "mg-%s", u);
    snprintf(sup, sizeof sup, "sv-%s", u);
    if (ts_create_topic_set(prefix) != 0)
        return -1;
    const char *pc[] = { community, company, street };
    sql("INSERT INTO shequ.communities (community_id, name, street_id, company_id) VALUES ($1, '测试社区', $3, $2)", 3, pc);
    const char *ins = "INSERT INTO shequ.staff (staff_id, name, role, company_id, community_id, street_id, skills, on_duty) "
                      "VALUES ($1, $2, $3, $4, $5, $6, $7::text[], $8::bool)";
    const char *r1[] = { s1, "王师傅", "staff", company, community, NULL, "{*}", "true" };
    const char *r2[] = { s2, "李师傅", "staff", company, community, NULL, "{*}", "false" };
    const char *r3[] = { mgr, "张经理", "manager", company, community, NULL, "{}", "true" };
    const char *r4[] = { sup, "赵专员", "supervisor", NULL, community, street, "{}", "true" };
    sql(ins, 8, r1);
    sql(ins, 8, r2);
    sql(ins, 8, r3);
    sql(ins, 8, r4);
    snprintf(triage_group, sizeof triage_group, "triage-%s", u);
    snprintf(workflow_group, sizeof workflow_group, "workflow-%s", u);
    triage_pid = spawn("triage", triage_group);
    workflow_pid = spawn("workflow", workflow_group);
    pcfg.service = "test-lifecycle";
    pcfg.kafka_brokers = (char *)ts_env("KAFKA_BROKERS");
    pcfg.kafka_linger_ms = 5;
    char err[256];
    producer = sq_producer_new(&pcfg, NULL, err, sizeof err);
    return producer ? 0 : -1;
}

static int teardown(void **state)
{
    ts_stop(triage_pid, false);
    ts_stop(workflow_pid, false);
    sq_producer_free(producer);
    const char *p[] = { community, company };
    sql("DELETE FROM shequ.staff WHERE community_id = $1 OR company_id = $2", 2, p);
    sql("DELETE FROM shequ.communities WHERE community_id = $1 AND company_id = $2", 2, p);
    ts_delete_topic_set(prefix);
    return 0;
}

/* ------------------------------------------------------------------ inputs */

static void put(const char *base, const char *key, uint8_t *buf, size_t len)
{
    char topic[200];
    snprintf(topic, sizeof topic, "%s%s", prefix, base);
    assert_int_equal(sq_producer_send(producer, topic, key, strlen(key), buf, len, NULL, NULL, NULL), SQ_OK);
}

static void header(Shequ__V1__EventHeader *h, char *id)
{
    sq_uuid4(id);
    h->event_id = id;
    h->community_id = community;
    h->source = "test";
    h->occurred_at_us = sq_now_us();
}

static void report_in(const char *in, const char *report_id, const char *category, const char *building,
                      const char *description)
{
    char id[SQ_UUID_LEN];
    Shequ__V1__EventHeader h = SHEQU__V1__EVENT_HEADER__INIT;
    header(&h, id);
    h.community_id = (char *)in;
    Shequ__V1__ResidentReport r = SHEQU__V1__RESIDENT_REPORT__INIT;
    r.header = &h;
    r.report_id = (char *)report_id;
    r.reporter_id = "wx-resident";
    r.category = (char *)category;
    r.description = (char *)description;
    r.building = (char *)building;
    r.unit = "1";
    uint8_t buf[1024];
    put("reports.resident.v1", in, buf, shequ__v1__resident_report__pack(&r, buf));
}

static void report(const char *report_id, const char *category, const char *building, const char *description)
{
    report_in(community, report_id, category, building, description);
}

static void device_alarm(const char *alarm_id, const char *device, const char *type, const char *building,
                         Shequ__V1__AlarmState state)
{
    char id[SQ_UUID_LEN];
    Shequ__V1__EventHeader h = SHEQU__V1__EVENT_HEADER__INIT;
    header(&h, id);
    Shequ__V1__DeviceAlarm a = SHEQU__V1__DEVICE_ALARM__INIT;
    a.header = &h;
    a.alarm_id = (char *)alarm_id;
    a.device_id = (char *)device;
    a.type = (char *)type;
    a.state = state;
    a.building = (char *)building;
    uint8_t buf[1024];
    put("alarms.device.v1", community, buf, shequ__v1__device_alarm__pack(&a, buf));
}

static void raise_alarm(const char *alarm_id, const char *device, const char *type, const char *building)
{
    device_alarm(alarm_id, device, type, building, SHEQU__V1__ALARM_STATE__ALARM_STATE_RAISED);
}

static void action(const char *ticket, const char *actor, Shequ__V1__Action act, int64_t deadline, int nphotos)
{
    char id[SQ_UUID_LEN];
    Shequ__V1__EventHeader h = SHEQU__V1__EVENT_HEADER__INIT;
    header(&h, id);
    Shequ__V1__PropertyEvent p = SHEQU__V1__PROPERTY_EVENT__INIT;
    char *photos[] = { "https://img.example/fixed.jpg" };
    p.header = &h;
    p.ticket_id = (char *)ticket;
    p.actor_id = (char *)actor;
    p.action = act;
    p.deadline_us = deadline;
    p.n_photos = (size_t)nphotos;
    p.photos = photos;
    uint8_t buf[1024];
    put("events.property.v1", community, buf, shequ__v1__property_event__pack(&p, buf));
}

static void feedback(const char *ticket, Shequ__V1__Rating rating)
{
    char id[SQ_UUID_LEN];
    Shequ__V1__EventHeader h = SHEQU__V1__EVENT_HEADER__INIT;
    header(&h, id);
    Shequ__V1__ResidentFeedback f = SHEQU__V1__RESIDENT_FEEDBACK__INIT;
    f.header = &h;
    f.ticket_id = (char *)ticket;
    f.reporter_id = "wx-resident";
    f.rating = rating;
    uint8_t buf[512];
    put("feedback.resident.v1", community, buf, shequ__v1__resident_feedback__pack(&f, buf));
}

static void ticket_of(const char *origin, char out[SQ_TICKET_ID_MAX]) { sq_ticket_id_make(out, community, origin); }

/* ------------------------------------------------------------------ the log */

typedef struct {
    const char *ticket;
    char types[64][16];
    char ids[64][SQ_UUID_LEN];
    int n;
    Shequ__V1__TicketEvent *last_state; /* last event with a state */
    const char *want;                   /* stop when this type was seen ... */
    int want_count;                     /* ... this many times */
    int seen_want;
} trail;

static bool collect(const rd_kafka_message_t *m, void *arg)
{
    trail *t = arg;
    Shequ__V1__TicketEvent *ev = shequ__v1__ticket_event__unpack(NULL, m->len, m->payload);
    if (!ev)
        return false;
    bool keep = false;
    if (strcmp(ev->ticket_id, t->ticket) == 0 && t->n < 64) {
        const char *type = ev->body_case == SHEQU__V1__TICKET_EVENT__BODY_CREATED ? "created"
                         : ev->body_case == SHEQU__V1__TICKET_EVENT__BODY_MERGED ? "merged"
                         : ev->body_case == SHEQU__V1__TICKET_EVENT__BODY_ASSIGNED ? "assigned"
                         : ev->body_case == SHEQU__V1__TICKET_EVENT__BODY_OCCURRENCE ? "occurrence"
                         : ev->body_case == SHEQU__V1__TICKET_EVENT__BODY_RESPONDED ? "responded"
                         : ev->body_case == SHEQU__V1__TICKET_EVENT__BODY_REPORTED ? "reported"
                         : ev->body_case == SHEQU__V1__TICKET_EVENT__BODY_RESOLVED ? "resolved"
                         : ev->body_case == SHEQU__V1__TICKET_EVENT__BODY_RATED ? "rated"
                         : ev->body_case == SHEQU__V1__TICKET_EVENT__BODY_CLOSED ? "closed"
                         : ev->body_case == SHEQU__V1__TICKET_EVENT__BODY_REOPENED ? "reopened"
                         : ev->body_case == SHEQU__V1__TICKET_EVENT__BODY_REJECTED ? "rejected"
                         : "other";
        bool dup = false;
        for (int i = 0; i < t->n; i++)
            dup |= strcmp(t->ids[i], ev->header->event_id) == 0;
        if (!dup) {
            snprintf(t->types[t->n], sizeof t->types[0], "%s", type);
            snprintf(t->ids[t->n], sizeof t->ids[0], "%s", ev->header->event_id);
            t->n++;
            if (t->want && strcmp(type, t->want) == 0)
                t->seen_want++;
        }
        if (ev->state) {
            if (t->last_state)
                shequ__v1__ticket_event__free_unpacked(t->last_state, NULL);
            t->last_state = ev;
            keep = true;
        }
    }
    if (!keep)
        shequ__v1__ticket_event__free_unpacked(ev, NULL);
    return t->want && t->seen_want >= (t->want_count ? t->want_count : 1);
}

/* Reads the ticket's events until `want` appeared want_count times (or 30 s). */
static bool await(trail *t, const char *ticket, const char *want, int want_count)
{
    char topic[200];
    snprintf(topic, sizeof topic, "%stickets.v1", prefix);
    if (t->last_state)
        shequ__v1__ticket_event__free_unpacked(t->last_state, NULL);
    memset(t, 0, sizeof *t);
    t->ticket = ticket;
    t->want = want;
    t->want_count = want_count;
    assert_int_equal(sq_producer_wait(producer, 10000), SQ_OK);
    return ts_consume_until(topic, -1, 30000, collect, t);
}

static int count_type(const trail *t, const char *type)
{
    int c = 0;
    for (int i = 0; i < t->n; i++)
        c += strcmp(t->types[i], type) == 0;
    return c;
}

/* ------------------------------------------------------------------ tests */

/* Fewest open tickets wins, counted as tickets are created: A does sanitation, B sanitation and
 * disputes; three disputes go to B, and then sanitation goes to A until A has as many open as B. */
static void assignment_counts_open_load(void **state)
{
    char cm[64], co[64], a[64], b[64];
    snprintf(cm, sizeof cm, "cm2-%s", u);
    snprintf(co, sizeof co, "co2-%s", u);
    snprintf(a, sizeof a, "a-%s", u);
    snprintf(b, sizeof b, "b-%s", u);
    const char *pc[] = { cm, co, street };
    sql("INSERT INTO shequ.communities (community_id, name, street_id, company_id) VALUES ($1, '负载社区', $3, $2)", 3, pc);
    const char *ins = "INSERT INTO shequ.staff (staff_id, name, role, company_id, community_id, skills, on_duty) "
                      "VALUES ($1, $2, 'staff', $3, $4, $5::text[], true)";
    const char *ra[] = { a, "保洁甲", co, cm, "{sanitation}" };
    const char *rb[] = { b, "调解乙", co, cm, "{sanitation,dispute}" };
    sql(ins, 5, ra);
    sql(ins, 5, rb);
    const char *want[] = { b, b, b, a, a, a };
    const char *cat[] = { "dispute", "dispute", "dispute", "sanitation", "sanitation", "sanitation" };
    for (int i = 0; i < 6; i++) {
        char r[64], bld[16], tk[SQ_TICKET_ID_MAX];
        snprintf(r, sizeof r, "r-load%d-%s", i, u);
        snprintf(bld, sizeof bld, "L%d", i); /* a building each: nothing merges */
        report_in(cm, r, cat[i], bld, i < 3 ? "邻居吵架" : "垃圾没清");
        sq_ticket_id_make(tk, cm, r);
        trail t = { 0 };
        assert_true(await(&t, tk, "assigned", 1));
        assert_string_equal(t.last_state->state->assignee_id, want[i]);
        shequ__v1__ticket_event__free_unpacked(t.last_state, NULL);
    }
    const char *p[] = { cm, co };
    sql("DELETE FROM shequ.staff WHERE community_id = $1 OR company_id = $2", 2, p);
    sql("DELETE FROM shequ.communities WHERE community_id = $1 AND company_id = $2", 2, p);
}

static void duplicates_and_camera_are_one_ticket(void **state)
{
    char ra[64], rb[64], al[64], dev[64], ta[SQ_TICKET_ID_MAX], tb[SQ_TICKET_ID_MAX];
    snprintf(ra, sizeof ra, "r-a-%s", u);
    snprintf(rb, sizeof rb, "r-b-%s", u);
    snprintf(al, sizeof al, "al-%s", u);
    snprintf(dev, sizeof dev, "cam-%s", u);
    report(ra, "high_throw", "5", "有人从楼上扔东西");
    ticket_of(ra, ta);
    trail t = { 0 };
    assert_true(await(&t, ta, "assigned", 1));
    report(rb, "high_throw", "5", "5栋高空抛物");
    raise_alarm(al, dev, "high_throw", "5");
    assert_true(await(&t, ta, "occurrence", 1));
    assert_int_equal(count_type(&t, "created"), 1);
    assert_int_equal(count_type(&t, "merged"), 1);
    assert_int_equal(t.last_state->state->tier[0], 'm'); /* medium */
    assert_string_equal(t.last_state->state->assignee_id, s1); /* s2 is off duty */
    ticket_of(rb, tb);
    trail t2 = { 0 };
    assert_true(await(&t2, tb, "merged", 1));
    assert_int_equal(t2.last_state->state->status, SHEQU__V1__TICKET_STATUS__TICKET_STATUS_MERGED);
    assert_string_equal(t2.last_state->state->merged_into, ta);
    /* the alarm did not create a ticket of its own */
    char tc[SQ_TICKET_ID_MAX];
    ticket_of(al, tc);
    trail t3 = { 0 };
    assert_false(await(&t3, tc, "created", 1) && t3.n > 0);
    /* counts travel on the bodies: reporter_count 2, one occurrence */
    char topic[200];
    snprintf(topic, sizeof topic, "%stickets.v1", prefix);
    (void)topic;
}

static void happy_path_to_rated(void **state)
{
    char r[64], tk[SQ_TICKET_ID_MAX];
    snprintf(r, sizeof r, "r-happy-%s", u);
    report(r, "elevator", "7", "电梯有人被困");
    ticket_of(r, tk);
    trail t = { 0 };
    assert_true(await(&t, tk, "assigned", 1));
    assert_string_equal(t.last_state->state->tier, "urgent");
    assert_int_equal(t.last_state->state->n_clocks, 3); /* respond, report, resolve */
    Shequ__V1__Clock *respond = t.last_state->state->clocks[0];
    assert_string_equal(respond->name, "respond");
    assert_int_equal(respond->due_at_us - respond->started_at_us, 15LL * 60 * 1000000);
    action(tk, s1, SHEQU__V1__ACTION__ACTION_ACCEPT, 0, 0);
    action(tk, s1, SHEQU__V1__ACTION__ACTION_REPORT, 0, 0);
    action(tk, s1, SHEQU__V1__ACTION__ACTION_RESOLVE, 0, 1);
    assert_true(await(&t, tk, "resolved", 1));
    feedback(tk, SHEQU__V1__RATING__RATING_SATISFIED);
    assert_true(await(&t, tk, "closed", 1));
    Shequ__V1__TicketState *st = t.last_state->state;
    assert_int_equal(st->status, SHEQU__V1__TICKET_STATUS__TICKET_STATUS_CLOSED);
    assert_int_equal(st->rating, SHEQU__V1__RATING__RATING_SATISFIED);
    assert_true(st->responded_at_us > 0 && st->resolved_at_us >= st->responded_at_us);
    for (size_t i = 0; i < st->n_clocks; i++)
        assert_true(st->clocks[i]->stopped_at_us > 0); /* every clock stopped */
    assert_int_equal(count_type(&t, "responded"), 1);
    assert_int_equal(count_type(&t, "reported"), 1);
    assert_int_equal(count_type(&t, "rated"), 1);
}

static void rejections_are_events(void **state)
{
    char r[64], tk[SQ_TICKET_ID_MAX];
    snprintf(r, sizeof r, "r-rej-%s", u);
    report(r, "water_leak", "8", "楼道漏水");
    ticket_of(r, tk);
    trail t = { 0 };
    assert_true(await(&t, tk, "assigned", 1));
    action(tk, s2, SHEQU__V1__ACTION__ACTION_RESOLVE, 0, 1);     /* not the assignee */
    action(tk, s1, SHEQU__V1__ACTION__ACTION_PLAN, 0, 0);        /* no deadline */
    action(tk, s1, SHEQU__V1__ACTION__ACTION_RESOLVE, 0, 0);     /* water leaks need a photo */
    action(tk, "nobody-at-all", SHEQU__V1__ACTION__ACTION_ACCEPT, 0, 0);
    assert_true(await(&t, tk, "rejected", 4));
    assert_int_equal(t.last_state->state->status, SHEQU__V1__TICKET_STATUS__TICKET_STATUS_ASSIGNED);
    /* the manager may act for the assignee */
    action(tk, mgr, SHEQU__V1__ACTION__ACTION_ACCEPT, 0, 0);
    assert_true(await(&t, tk, "responded", 1));
}

static void unsatisfied_resident_reopens(void **state)
{
    char r[64], tk[SQ_TICKET_ID_MAX];
    snprintf(r, sizeof r, "r-reopen-%s", u);
    report(r, "noise", "9", "晚上装修噪音");
    ticket_of(r, tk);
    trail t = { 0 };
    assert_true(await(&t, tk, "assigned", 1));
    action(tk, s1, SHEQU__V1__ACTION__ACTION_ACCEPT, 0, 0);
    action(tk, s1, SHEQU__V1__ACTION__ACTION_RESOLVE, 0, 0);
    assert_true(await(&t, tk, "resolved", 1));
    feedback(tk, SHEQU__V1__RATING__RATING_UNSATISFIED);
    assert_true(await(&t, tk, "reopened", 1));
    Shequ__V1__TicketState *st = t.last_state->state;
    assert_int_equal(st->status, SHEQU__V1__TICKET_STATUS__TICKET_STATUS_ASSIGNED);
    assert_int_equal(st->reopen_count, 1);
    assert_int_equal(st->resolved_at_us, 0);
    assert_string_equal(st->assignee_id, s1);
}

/* DESIGN.md §4: an alarm that returns within 24 h of the resolve reopens the ticket; one that clears after
 * the resolve confirms the repair and closes it. */
static void returning_alarm_reopens_and_clear_confirms(void **state)
{
    char first[64], again[64], dev[64], tk[SQ_TICKET_ID_MAX];
    snprintf(first, sizeof first, "a-ret-%s", u);
    snprintf(again, sizeof again, "a-ret2-%s", u);
    snprintf(dev, sizeof dev, "leak-%s", u);
    raise_alarm(first, dev, "water_leak", "11");
    ticket_of(first, tk);
    trail t = { 0 };
    assert_true(await(&t, tk, "assigned", 1));
    action(tk, s1, SHEQU__V1__ACTION__ACTION_ACCEPT, 0, 0);
    action(tk, s1, SHEQU__V1__ACTION__ACTION_RESOLVE, 0, 1);
    assert_true(await(&t, tk, "resolved", 1));
    raise_alarm(again, dev, "water_leak", "11"); /* the leak is back: the repair did not hold */
    assert_true(await(&t, tk, "reopened", 1));
    Shequ__V1__TicketState *st = t.last_state->state;
    assert_int_equal(st->status, SHEQU__V1__TICKET_STATUS__TICKET_STATUS_ASSIGNED);
    assert_int_equal(st->reopen_count, 1);
    assert_int_equal(count_type(&t, "created"), 1); /* the same ticket, not a second one */
    action(tk, s1, SHEQU__V1__ACTION__ACTION_ACCEPT, 0, 0);
    action(tk, s1, SHEQU__V1__ACTION__ACTION_RESOLVE, 0, 1);
    assert_true(await(&t, tk, "resolved", 2));
    device_alarm(again, dev, "water_leak", "11", SHEQU__V1__ALARM_STATE__ALARM_STATE_CLEARED);
    assert_true(await(&t, tk, "closed", 1));
    st = t.last_state->state;
    assert_int_equal(st->status, SHEQU__V1__TICKET_STATUS__TICKET_STATUS_CLOSED);
    assert_true(st->closed_at_us > 0);
}

typedef struct {
    int decode, category, type;
} dl_count;

static bool count_deadletters(const rd_kafka_message_t *m, void *arg)
{
    dl_count *c = arg;
    rd_kafka_headers_t *h = NULL;
    char v[64];
    if (rd_kafka_message_headers(m, &h) || sq_header_get(h, "error", v, sizeof v))
        return false;
    c->decode += strcmp(v, "decode_error") == 0;
    c->category += strcmp(v, "unknown_category") == 0;
    c->type += strcmp(v, "unknown_alarm_type") == 0;
    return c->decode >= 1 && c->category >= 1 && c->type >= 1;
}

static void bad_input_is_dead_lettered(void **state)
{
    char r[64], al[64], topic[200];
    snprintf(r, sizeof r, "r-bad-%s", u);
    snprintf(al, sizeof al, "al-bad-%s", u);
    uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 0x01 };
    put("reports.resident.v1", community, junk, sizeof junk);
    report(r, "no_such_category", "1", "?");
    raise_alarm(al, "dev-x", "no_such_alarm", "1");
    assert_int_equal(sq_producer_wait(producer, 10000), SQ_OK);
    snprintf(topic, sizeof topic, "%sdeadletter.v1", prefix);
    dl_count c = { 0 };
    assert_true(ts_consume_until(topic, -1, 30000, count_deadletters, &c));
}

typedef struct {
    sq_map *created; /* ticket_id → event id of its created event */
    long created_events, distinct_mismatch;
    long want;
    const char *origin; /* the report ids' prefix */
} created_scan;

static bool scan_created(const rd_kafka_message_t *m, void *arg)
{
    created_scan *s = arg;
    Shequ__V1__TicketEvent *ev = shequ__v1__ticket_event__unpack(NULL, m->len, m->payload);
    if (ev && ev->body_case == SHEQU__V1__TICKET_EVENT__BODY_CREATED && strncmp(ev->created->origin_id, s->origin, strlen(s->origin)) == 0) {
        s->created_events++;
        char *prev = sq_map_get(s->created, ev->ticket_id);
        if (!prev)
            sq_map_put(s->created, ev->ticket_id, strdup(ev->header->event_id));
        else if (strcmp(prev, ev->header->event_id) != 0)
            s->distinct_mismatch++;
    }
    if (ev)
        shequ__v1__ticket_event__free_unpacked(ev, NULL);
    return (long)sq_map_len(s->created) >= s->want;
}

static int free_v(void *c, const char *k, void *v)
{
    free(v);
    return 1;
}

static void kill9_triage_mid_stream_no_ticket_doubled(void **state)
{
    enum { N = 10000 };
    char r[64], b[16];
    for (int i = 0; i < N; i++) {
        snprintf(r, sizeof r, "bulk-%s-%d", u, i);
        snprintf(b, sizeof b, "B%d", i); /* every report in its own building: no merges */
        report(r, "sanitation", b, "垃圾未清运");
        if (i == N / 4) {
            assert_int_equal(sq_producer_wait(producer, 10000), SQ_OK);
            sq_sleep_ms(300);
            ts_stop(triage_pid, true); /* kill -9 while it works */
            triage_pid = spawn("triage", triage_group);
        }
    }
    assert_int_equal(sq_producer_wait(producer, 30000), SQ_OK);
    char topic[200];
    snprintf(topic, sizeof topic, "%stickets.v1", prefix);
    created_scan s = { .created = sq_map_new(N), .want = N, .origin = "bulk-" };
    int64_t deadline = sq_mono_us() + 180 * SQ_US_PER_S;
    bool all = false;
    while (!all && sq_mono_us() < deadline) {
        sq_map_each(s.created, free_v, NULL);
        s.created_events = s.distinct_mismatch = 0;
        all = ts_consume_until(topic, -1, 20000, scan_created, &s);
    }
    print_message("tickets=%zu created events=%ld (redelivered duplicates carry the same id)\n",
                  sq_map_len(s.created), s.created_events);
    assert_int_equal(sq_map_len(s.created), N);   /* exactly N tickets */
    assert_int_equal(s.distinct_mismatch, 0);      /* no ticket created twice under two ids */
    sq_map_each(s.created, free_v, NULL);
    sq_map_free(s.created);
}

/* Kafka refuses triage's output for a while (the tickets topic's max.message.bytes below any batch of it):
 * the reports handled meanwhile were answered in triage's memory only. Handled again after the failed
 * batch, they must not count as done: once Kafka takes the output again, every report has its ticket. */
static void refused_output_is_not_lost(void **state)
{
    enum { N = 20 };
    char topic[200], r[64], b[16];
    snprintf(topic, sizeof topic, "%stickets.v1", prefix);
    int64_t before = ts_end_offsets(topic);
    assert_int_equal(ts_topic_config(topic, "max.message.bytes", "64"), 0);
    for (int i = 0; i < N; i++) {
        snprintf(r, sizeof r, "refused-%s-%d", u, i);
        snprintf(b, sizeof b, "R%d", i);
        report(r, "sanitation", b, "垃圾未清运");
    }
    assert_int_equal(sq_producer_wait(producer, 10000), SQ_OK);
    sq_sleep_ms(5000);                                 /* triage handles them; Kafka refuses what it emits */
    assert_int_equal(ts_end_offsets(topic), before);   /* so nothing reached the log */
    assert_int_equal(ts_topic_config(topic, "max.message.bytes", "1048588"), 0);
    created_scan s = { .created = sq_map_new(N), .want = N, .origin = "refused-" };
    bool all = false;
    for (int64_t deadline = sq_mono_us() + 60 * SQ_US_PER_S; !all && sq_mono_us() < deadline;) {
        sq_map_each(s.created, free_v, NULL);
        s.created_events = s.distinct_mismatch = 0;
        all = ts_consume_until(topic, -1, 10000, scan_created, &s);
    }
    print_message("tickets=%zu of %d after Kafka took triage's output again\n", sq_map_len(s.created), N);
    assert_int_equal(sq_map_len(s.created), N);
    assert_int_equal(s.distinct_mismatch, 0);
    sq_map_each(s.created, free_v, NULL);
    sq_map_free(s.created);
}

/* The same for workflow: a staff member's accept handled while Kafka refuses the answer is answered again,
 * not taken as done (nor rejected as "already in progress") once Kafka takes it. */
static void refused_answer_is_not_lost(void **state)
{
    char r[64], tk[SQ_TICKET_ID_MAX], topic[200];
    snprintf(r, sizeof r, "r-refused-answer-%s", u);
    report(r, "sanitation", "9", "垃圾未清运");
    ticket_of(r, tk);
    trail t = { 0 };
    assert_true(await(&t, tk, "assigned", 1));
    snprintf(topic, sizeof topic, "%stickets.v1", prefix);
    int64_t before = ts_end_offsets(topic);
    assert_int_equal(ts_topic_config(topic, "max.message.bytes", "64"), 0);
    action(tk, s1, SHEQU__V1__ACTION__ACTION_ACCEPT, 0, 0);
    assert_int_equal(sq_producer_wait(producer, 10000), SQ_OK);
    sq_sleep_ms(5000);
    assert_int_equal(ts_end_offsets(topic), before);
    assert_int_equal(ts_topic_config(topic, "max.message.bytes", "1048588"), 0);
    assert_true(await(&t, tk, "responded", 1));
    assert_int_equal(count_type(&t, "responded"), 1);
    assert_int_equal(count_type(&t, "rejected"), 0);
    assert_int_equal(t.last_state->state->status, SHEQU__V1__TICKET_STATUS__TICKET_STATUS_IN_PROGRESS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(duplicates_and_camera_are_one_ticket),
        cmocka_unit_test(assignment_counts_open_load),
        cmocka_unit_test(happy_path_to_rated),
        cmocka_unit_test(rejections_are_events),
        cmocka_unit_test(unsatisfied_resident_reopens),
        cmocka_unit_test(returning_alarm_reopens_and_clear_confirms),
        cmocka_unit_test(bad_input_is_dead_lettered),
        cmocka_unit_test(refused_output_is_not_lost),
        cmocka_unit_test(refused_answer_is_not_lost),
        cmocka_unit_test(kill9_triage_mid_stream_no_ticket_doubled),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
