/*
 * The compactor's changelog against the real broker: what it keeps of open, recently finished, long
 * finished and ancient tickets, what a restore reads back from it (in the log's order, with the log's
 * offsets), and that a restore with the changelog gives the state a replay of the whole log gives.
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
#include "map.h"
#include "shequ/v1/ticket.pb-c.h"
#include "statelog.h"
#include "testsupport.h"
#include "ticket.h"
#include "util.h"

#define DAY (86400 * SQ_US_PER_S)

static char prefix[40], community[48];
static sq_producer *producer;
static sq_common_config cfg;
static char tickets_topic[128], changelog_topic[128];

/* One ticket event with a snapshot of the given status; the snapshot's times decide the windows. */
static void event(const char *ticket, const char *type, Shequ__V1__TicketStatus status, int64_t created,
                  int64_t updated)
{
    char id[SQ_UUID_LEN], name[200];
    snprintf(name, sizeof name, "%s/%s", ticket, type);
    sq_uuid5(id, "test-changelog", name, strlen(name));
    Shequ__V1__EventHeader h = SHEQU__V1__EVENT_HEADER__INIT;
    h.event_id = id;
    h.occurred_at_us = updated;
    h.community_id = community;
    h.source = "triage";
    Shequ__V1__TicketState st = SHEQU__V1__TICKET_STATE__INIT;
    st.ticket_id = (char *)ticket;
    st.community_id = community;
    st.category = "sanitation";
    st.tier = "general";
    st.status = status;
    st.created_at_us = created;
    st.updated_at_us = updated;
    Shequ__V1__TicketEvent ev = SHEQU__V1__TICKET_EVENT__INIT;
    Shequ__V1__Closed cl = SHEQU__V1__CLOSED__INIT;
    ev.header = &h;
    ev.ticket_id = (char *)ticket;
    ev.body_case = SHEQU__V1__TICKET_EVENT__BODY_CLOSED; /* the body does not matter to the compactor */
    ev.closed = &cl;
    ev.state = &st;
    uint8_t buf[1024];
    size_t len = shequ__v1__ticket_event__pack(&ev, buf);
    assert_int_equal(sq_producer_send(producer, tickets_topic, community, strlen(community), buf, len, NULL, NULL, NULL),
                     SQ_OK);
}

typedef struct seen {
    sq_map *by_ticket; /* ticket → events applied (intptr_t) */
    int64_t last_offset;
    bool in_order;
    long n;
} seen;

static void collect(void *arg, const Shequ__V1__TicketEvent *e, int32_t partition, int64_t offset)
{
    seen *s = arg;
    intptr_t n = (intptr_t)sq_map_get(s->by_ticket, e->ticket_id);
    sq_map_put(s->by_ticket, e->ticket_id, (void *)(n + 1));
    if (offset <= s->last_offset)
        s->in_order = false;
    s->last_offset = offset;
    s->n++;
}

static int partition_of_community(void)
{
    /* where the producer put the events: the one partition with messages */
    for (int p = 0; p < 6; p++) {
        sq_restore_part part = { .partition = p };
        seen s = { sq_map_new(16), -1, true, 0 };
        sq_statelog_restore(&cfg, NULL, tickets_topic, &part, 1, true, collect, &s, NULL, 0);
        sq_map_free(s.by_ticket);
        if (s.n)
            return p;
    }
    return -1;
}

static int setup(void **state)
{
    char id[SQ_UUID_LEN];
    sq_uuid4(id);
    snprintf(prefix, sizeof prefix, "cl.%.8s.", id);
    snprintf(community, sizeof community, "cm-%.8s", id);
    snprintf(tickets_topic, sizeof tickets_topic, "%stickets.v1", prefix);
    snprintf(changelog_topic, sizeof changelog_topic, "%s%s", prefix, SQ_CHANGELOG_TOPIC);
    if (ts_create_topic_set(prefix) != 0)
        return -1;
    cfg.service = "test-changelog";
    cfg.kafka_brokers = (char *)ts_env("KAFKA_BROKERS");
    cfg.kafka_linger_ms = 1;
    char err[256];
    producer = sq_producer_new(&cfg, NULL, err, sizeof err);
    return producer ? 0 : -1;
}

static int teardown(void **state)
{
    sq_producer_free(producer);
    ts_delete_topic_set(prefix);
    return 0;
}

static pid_t spawn_compactor(void)
{
    static char env[5][300];
    char path[512];
    ts_build_path(path, sizeof path, "services/compactor/compactor");
    snprintf(env[0], sizeof env[0], "SHEQU_TOPIC_PREFIX=%s", prefix);
    snprintf(env[1], sizeof env[1], "SHEQU_KAFKA_GROUP=compactor-%s", prefix);
    snprintf(env[2], sizeof env[2], "SHEQU_ADMIN_PORT=0");
    snprintf(env[3], sizeof env[3], "SHEQU_KAFKA_BROKERS=%s", ts_env("KAFKA_BROKERS"));
    char *e[] = { env[0], env[1], env[2], env[3], NULL };
    char *argv[] = { path, NULL };
    return ts_spawn(argv, e);
}

static void keeps_live_tickets_and_forgets_finished_ones(void **state)
{
    int64_t now = sq_now_us();
    char open[SQ_TICKET_ID_MAX], recent[SQ_TICKET_ID_MAX], old[SQ_TICKET_ID_MAX], ancient[SQ_TICKET_ID_MAX];
    sq_ticket_id_make(open, community, "open");
    sq_ticket_id_make(recent, community, "recent");
    sq_ticket_id_make(old, community, "old");
    sq_ticket_id_make(ancient, community, "ancient");
    /* open for ten days: every event stays */
    event(open, "created", SHEQU__V1__TICKET_STATUS__TICKET_STATUS_ASSIGNED, now - 10 * DAY, now - 10 * DAY);
    event(open, "responded", SHEQU__V1__TICKET_STATUS__TICKET_STATUS_IN_PROGRESS, now - 10 * DAY, now - 9 * DAY);
    /* closed a day ago (inside the 48 h): every event stays */
    event(recent, "created", SHEQU__V1__TICKET_STATUS__TICKET_STATUS_ASSIGNED, now - 3 * DAY, now - 3 * DAY);
    event(recent, "closed", SHEQU__V1__TICKET_STATUS__TICKET_STATUS_CLOSED, now - 3 * DAY, now - DAY);
    /* closed five days ago, created ten days ago: only its last snapshot stays (the repeat history) */
    event(old, "created", SHEQU__V1__TICKET_STATUS__TICKET_STATUS_ASSIGNED, now - 10 * DAY, now - 10 * DAY);
    event(old, "resolved", SHEQU__V1__TICKET_STATUS__TICKET_STATUS_RESOLVED, now - 10 * DAY, now - 6 * DAY);
    event(old, "closed", SHEQU__V1__TICKET_STATUS__TICKET_STATUS_CLOSED, now - 10 * DAY, now - 5 * DAY);
    /* finished two months ago: nothing stays */
    event(ancient, "created", SHEQU__V1__TICKET_STATUS__TICKET_STATUS_ASSIGNED, now - 60 * DAY, now - 60 * DAY);
    event(ancient, "closed", SHEQU__V1__TICKET_STATUS__TICKET_STATUS_CLOSED, now - 60 * DAY, now - 59 * DAY);
    assert_int_equal(sq_producer_wait(producer, 10000), SQ_OK);
    int p = partition_of_community();
    assert_true(p >= 0);

    pid_t c = spawn_compactor();
    /* the position reaches the end of the partition, and two whole sweeps (about 10 s each) have run after it */
    sq_restore_part part = { .partition = p };
    int64_t deadline = sq_now_us() + 60 * SQ_US_PER_S;
    while (sq_now_us() < deadline) {
        seen s = { sq_map_new(16), -1, true, 0 };
        sq_statelog_restore(&cfg, changelog_topic, tickets_topic, &part, 1, false, collect, &s, NULL, 0);
        sq_map_free(s.by_ticket);
        if (part.position >= 9)
            break;
        sq_sleep_ms(500);
    }
    assert_int_equal(part.position, 9);
    sq_sleep_ms(25000); /* two sweeps: the ancient ticket becomes a residue, then goes */
    ts_stop(c, false);

    seen s = { sq_map_new(16), -1, true, 0 };
    long n = sq_statelog_restore(&cfg, changelog_topic, tickets_topic, &part, 1, false, collect, &s, NULL, 0);
    assert_int_equal(n, 5);
    assert_int_equal(part.from_changelog, 5);
    assert_int_equal(part.from_log, 0);
    assert_int_equal(part.next, 9);
    assert_true(s.in_order);
    assert_int_equal((intptr_t)sq_map_get(s.by_ticket, open), 2);
    assert_int_equal((intptr_t)sq_map_get(s.by_ticket, recent), 2);
    assert_int_equal((intptr_t)sq_map_get(s.by_ticket, old), 1);
    assert_int_equal((intptr_t)sq_map_get(s.by_ticket, ancient), 0);
    sq_map_free(s.by_ticket);

    /* with the tail: a new event after the position comes from the log itself */
    event(open, "resolved", SHEQU__V1__TICKET_STATUS__TICKET_STATUS_RESOLVED, now - 10 * DAY, now);
    assert_int_equal(sq_producer_wait(producer, 10000), SQ_OK);
    seen t = { sq_map_new(16), -1, true, 0 };
    n = sq_statelog_restore(&cfg, changelog_topic, tickets_topic, &part, 1, true, collect, &t, NULL, 0);
    assert_int_equal(n, 6);
    assert_int_equal(part.from_changelog, 5);
    assert_int_equal(part.from_log, 1);
    assert_int_equal(part.next, 10);
    assert_true(t.in_order);
    assert_int_equal((intptr_t)sq_map_get(t.by_ticket, open), 3);
    sq_map_free(t.by_ticket);

    /* without a changelog: the whole partition, every ticket */
    seen w = { sq_map_new(16), -1, true, 0 };
    n = sq_statelog_restore(&cfg, NULL, tickets_topic, &part, 1, true, collect, &w, NULL, 0);
    assert_int_equal(n, 10);
    assert_int_equal((intptr_t)sq_map_get(w.by_ticket, ancient), 2);
    sq_map_free(w.by_ticket);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(keeps_live_tickets_and_forgets_finished_ones) };
    return cmocka_run_group_tests(tests, setup, teardown);
}
