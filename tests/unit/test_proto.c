/* Protobuf round trips of every message of DESIGN.md §2, and tolerance of bad bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "shequ/v1/alarm.pb-c.h"
#include "shequ/v1/feedback.pb-c.h"
#include "shequ/v1/notify.pb-c.h"
#include "shequ/v1/property.pb-c.h"
#include "shequ/v1/report.pb-c.h"
#include "shequ/v1/ticket.pb-c.h"

static Shequ__V1__EventHeader header(void)
{
    Shequ__V1__EventHeader h = SHEQU__V1__EVENT_HEADER__INIT;
    h.event_id = "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d";
    h.occurred_at_us = 1764023400123456LL;
    h.produced_at_us = 1764023400223456LL;
    h.source = "gateway";
    h.community_id = "c-changshouyuan";
    h.trace_id = "trace-1";
    return h;
}

static void check_header(const Shequ__V1__EventHeader *h)
{
    assert_non_null(h);
    assert_string_equal(h->event_id, "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d");
    assert_int_equal(h->occurred_at_us, 1764023400123456LL);
    assert_int_equal(h->produced_at_us, 1764023400223456LL);
    assert_string_equal(h->source, "gateway");
    assert_string_equal(h->community_id, "c-changshouyuan");
    assert_string_equal(h->trace_id, "trace-1");
}

#define PACK(type, msg, buf, len)                                  \
    do {                                                           \
        len = type##__get_packed_size(msg);                        \
        buf = malloc(len ? len : 1);                               \
        assert_int_equal(type##__pack(msg, buf), len);             \
    } while (0)

static void resident_report(void **state)
{
    Shequ__V1__EventHeader h = header();
    Shequ__V1__GeoPoint loc = SHEQU__V1__GEO_POINT__INIT;
    loc.lat = 30.6286;
    loc.lon = 104.0587;
    char *photos[] = { "https://img.example/1.jpg", "https://img.example/2.jpg" };
    uint8_t sealed[] = { 1, 2, 3, 4 };
    Shequ__V1__ResidentReport r = SHEQU__V1__RESIDENT_REPORT__INIT;
    r.header = &h;
    r.report_id = "r-1";
    r.reporter_id = "wx-abc";
    r.category = "ebike_charging";
    r.description = "单元口有电瓶车在飞线充电";
    r.building = "2";
    r.unit = "1";
    r.address = "长寿苑2栋";
    r.location = &loc;
    r.n_photos = 2;
    r.photos = photos;
    r.phone_sealed.data = sealed;
    r.phone_sealed.len = sizeof sealed;
    r.channel = SHEQU__V1__CHANNEL__CHANNEL_MINIPROGRAM;
    r.client_id = "dev-miniprogram";
    uint8_t *buf;
    size_t len;
    PACK(shequ__v1__resident_report, &r, buf, len);
    Shequ__V1__ResidentReport *u = shequ__v1__resident_report__unpack(NULL, len, buf);
    assert_non_null(u);
    check_header(u->header);
    assert_string_equal(u->description, "单元口有电瓶车在飞线充电");
    assert_string_equal(u->category, "ebike_charging");
    assert_non_null(u->location);
    assert_true(u->location->lat == 30.6286 && u->location->lon == 104.0587);
    assert_int_equal(u->n_photos, 2);
    assert_string_equal(u->photos[1], "https://img.example/2.jpg");
    assert_int_equal(u->phone_sealed.len, 4);
    assert_memory_equal(u->phone_sealed.data, sealed, 4);
    assert_int_equal(u->channel, SHEQU__V1__CHANNEL__CHANNEL_MINIPROGRAM);
    /* repacking yields the same bytes */
    uint8_t *buf2;
    size_t len2;
    PACK(shequ__v1__resident_report, u, buf2, len2);
    assert_int_equal(len, len2);
    assert_memory_equal(buf, buf2, len);
    shequ__v1__resident_report__free_unpacked(u, NULL);
    free(buf);
    free(buf2);
}

static void device_alarm(void **state)
{
    Shequ__V1__EventHeader h = header();
    Shequ__V1__DeviceAlarm a = SHEQU__V1__DEVICE_ALARM__INIT;
    a.header = &h;
    a.alarm_id = "a-1";
    a.device_id = "elev-2-1";
    a.type = "elevator_entrapment";
    a.state = SHEQU__V1__ALARM_STATE__ALARM_STATE_RAISED;
    a.level = 3;
    a.building = "2";
    a.unit = "1";
    a.device_time_us = 42;
    a.snapshot_url = "https://img.example/s.jpg";
    uint8_t *buf;
    size_t len;
    PACK(shequ__v1__device_alarm, &a, buf, len);
    Shequ__V1__DeviceAlarm *u = shequ__v1__device_alarm__unpack(NULL, len, buf);
    assert_non_null(u);
    check_header(u->header);
    assert_string_equal(u->device_id, "elev-2-1");
    assert_string_equal(u->type, "elevator_entrapment");
    assert_int_equal(u->state, SHEQU__V1__ALARM_STATE__ALARM_STATE_RAISED);
    assert_int_equal(u->level, 3);
    assert_int_equal(u->device_time_us, 42);
    shequ__v1__device_alarm__free_unpacked(u, NULL);
    free(buf);
}

static void property_event(void **state)
{
    Shequ__V1__EventHeader h = header();
    Shequ__V1__PropertyEvent p = SHEQU__V1__PROPERTY_EVENT__INIT;
    p.header = &h;
    p.ticket_id = "t-1";
    p.actor_id = "staff-7";
    p.action = SHEQU__V1__ACTION__ACTION_PLAN;
    p.note = "约定周五前整改";
    p.deadline_us = 1764600000000000LL;
    p.to = "staff-8";
    uint8_t *buf;
    size_t len;
    PACK(shequ__v1__property_event, &p, buf, len);
    Shequ__V1__PropertyEvent *u = shequ__v1__property_event__unpack(NULL, len, buf);
    assert_non_null(u);
    check_header(u->header);
    assert_int_equal(u->action, SHEQU__V1__ACTION__ACTION_PLAN);
    assert_int_equal(u->deadline_us, 1764600000000000LL);
    assert_string_equal(u->note, "约定周五前整改");
    assert_string_equal(u->to, "staff-8");
    assert_null(u->location);
    shequ__v1__property_event__free_unpacked(u, NULL);
    free(buf);
}

static void resident_feedback(void **state)
{
    Shequ__V1__EventHeader h = header();
    Shequ__V1__ResidentFeedback f = SHEQU__V1__RESIDENT_FEEDBACK__INIT;
    f.header = &h;
    f.ticket_id = "t-1";
    f.reporter_id = "wx-abc";
    f.rating = SHEQU__V1__RATING__RATING_UNSATISFIED;
    f.comment = "还在漏";
    f.reopen = 1;
    uint8_t *buf;
    size_t len;
    PACK(shequ__v1__resident_feedback, &f, buf, len);
    Shequ__V1__ResidentFeedback *u = shequ__v1__resident_feedback__unpack(NULL, len, buf);
    assert_non_null(u);
    check_header(u->header);
    assert_int_equal(u->rating, SHEQU__V1__RATING__RATING_UNSATISFIED);
    assert_true(u->reopen);
    assert_string_equal(u->comment, "还在漏");
    shequ__v1__resident_feedback__free_unpacked(u, NULL);
    free(buf);
}

static void notification(void **state)
{
    Shequ__V1__EventHeader h = header();
    Shequ__V1__Notification n = SHEQU__V1__NOTIFICATION__INIT;
    n.header = &h;
    n.recipient_kind = SHEQU__V1__RECIPIENT_KIND__RECIPIENT_KIND_STAFF;
    n.recipient_id = "staff-7";
    n.ticket_id = "t-1";
    n.kind = "assigned";
    n.tier = "urgent";
    n.category = "elevator";
    n.summary = "电梯故障 2栋1单元";
    n.respond_due_us = 1;
    n.resolve_due_us = 2;
    n.level = 2;
    uint8_t *buf;
    size_t len;
    PACK(shequ__v1__notification, &n, buf, len);
    Shequ__V1__Notification *u = shequ__v1__notification__unpack(NULL, len, buf);
    assert_non_null(u);
    check_header(u->header);
    assert_int_equal(u->recipient_kind, SHEQU__V1__RECIPIENT_KIND__RECIPIENT_KIND_STAFF);
    assert_string_equal(u->summary, "电梯故障 2栋1单元");
    assert_int_equal(u->resolve_due_us, 2);
    assert_int_equal(u->level, 2);
    shequ__v1__notification__free_unpacked(u, NULL);
    free(buf);
}

/* Every lifecycle event survives a round trip with its oneof case intact. */
static void ticket_events(void **state)
{
    Shequ__V1__Created created = SHEQU__V1__CREATED__INIT;
    created.category = "elevator";
    created.tier = "urgent";
    created.repeat = 1;
    created.repeat_count = 3;
    Shequ__V1__Merged merged = SHEQU__V1__MERGED__INIT;
    merged.into_ticket_id = "t-0";
    merged.reporter_count = 2;
    Shequ__V1__Assigned assigned = SHEQU__V1__ASSIGNED__INIT;
    assigned.assignee_id = "staff-7";
    assigned.fallback = 1;
    Shequ__V1__Transferred transferred = SHEQU__V1__TRANSFERRED__INIT;
    transferred.to_id = "staff-8";
    Shequ__V1__Responded responded = SHEQU__V1__RESPONDED__INIT;
    responded.action = "arrive";
    responded.distance_m = 812.5;
    Shequ__V1__Reported reported = SHEQU__V1__REPORTED__INIT;
    Shequ__V1__Planned planned = SHEQU__V1__PLANNED__INIT;
    planned.deadline_us = 99;
    Shequ__V1__Paused paused = SHEQU__V1__PAUSED__INIT;
    Shequ__V1__Resumed resumed = SHEQU__V1__RESUMED__INIT;
    resumed.paused_for_us = 5;
    Shequ__V1__Resolved resolved = SHEQU__V1__RESOLVED__INIT;
    Shequ__V1__Reopened reopened = SHEQU__V1__REOPENED__INIT;
    reopened.reason = "unsatisfied";
    Shequ__V1__Rated rated = SHEQU__V1__RATED__INIT;
    rated.rating = SHEQU__V1__RATING__RATING_BASICALLY_SATISFIED;
    Shequ__V1__Closed closed = SHEQU__V1__CLOSED__INIT;
    Shequ__V1__Cancelled cancelled = SHEQU__V1__CANCELLED__INIT;
    Shequ__V1__SlaWarning warning = SHEQU__V1__SLA_WARNING__INIT;
    warning.percent = 80;
    Shequ__V1__SlaBreached breached = SHEQU__V1__SLA_BREACHED__INIT;
    breached.clock = "respond";
    Shequ__V1__Escalated escalated = SHEQU__V1__ESCALATED__INIT;
    escalated.level = 3;
    Shequ__V1__DeviceCleared cleared = SHEQU__V1__DEVICE_CLEARED__INIT;
    Shequ__V1__Occurrence occurrence = SHEQU__V1__OCCURRENCE__INIT;
    occurrence.occurrence_count = 4;
    Shequ__V1__Rejected rejected = SHEQU__V1__REJECTED__INIT;
    rejected.reason = "not_assignee";

    struct {
        Shequ__V1__TicketEvent__BodyCase c;
        void *body;
    } cases[] = {
        { SHEQU__V1__TICKET_EVENT__BODY_CREATED, &created },
        { SHEQU__V1__TICKET_EVENT__BODY_MERGED, &merged },
        { SHEQU__V1__TICKET_EVENT__BODY_ASSIGNED, &assigned },
        { SHEQU__V1__TICKET_EVENT__BODY_TRANSFERRED, &transferred },
        { SHEQU__V1__TICKET_EVENT__BODY_RESPONDED, &responded },
        { SHEQU__V1__TICKET_EVENT__BODY_REPORTED, &reported },
        { SHEQU__V1__TICKET_EVENT__BODY_PLANNED, &planned },
        { SHEQU__V1__TICKET_EVENT__BODY_PAUSED, &paused },
        { SHEQU__V1__TICKET_EVENT__BODY_RESUMED, &resumed },
        { SHEQU__V1__TICKET_EVENT__BODY_RESOLVED, &resolved },
        { SHEQU__V1__TICKET_EVENT__BODY_REOPENED, &reopened },
        { SHEQU__V1__TICKET_EVENT__BODY_RATED, &rated },
        { SHEQU__V1__TICKET_EVENT__BODY_CLOSED, &closed },
        { SHEQU__V1__TICKET_EVENT__BODY_CANCELLED, &cancelled },
        { SHEQU__V1__TICKET_EVENT__BODY_SLA_WARNING, &warning },
        { SHEQU__V1__TICKET_EVENT__BODY_SLA_BREACHED, &breached },
        { SHEQU__V1__TICKET_EVENT__BODY_ESCALATED, &escalated },
        { SHEQU__V1__TICKET_EVENT__BODY_DEVICE_CLEARED, &cleared },
        { SHEQU__V1__TICKET_EVENT__BODY_OCCURRENCE, &occurrence },
        { SHEQU__V1__TICKET_EVENT__BODY_REJECTED, &rejected },
    };
    Shequ__V1__EventHeader h = header();
    Shequ__V1__Clock clock = SHEQU__V1__CLOCK__INIT;
    clock.name = "respond";
    clock.due_at_us = 900000000;
    Shequ__V1__Clock *clocks[] = { &clock };
    Shequ__V1__TicketState st = SHEQU__V1__TICKET_STATE__INIT;
    st.ticket_id = "t-1";
    st.status = SHEQU__V1__TICKET_STATUS__TICKET_STATUS_IN_PROGRESS;
    st.reporter_count = 2;
    st.n_clocks = 1;
    st.clocks = clocks;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Shequ__V1__TicketEvent e = SHEQU__V1__TICKET_EVENT__INIT;
        e.header = &h;
        e.ticket_id = "t-1";
        e.state = &st;
        e.body_case = cases[i].c;
        e.created = cases[i].body; /* the oneof members share storage */
        uint8_t *buf;
        size_t len;
        PACK(shequ__v1__ticket_event, &e, buf, len);
        Shequ__V1__TicketEvent *u = shequ__v1__ticket_event__unpack(NULL, len, buf);
        assert_non_null(u);
        check_header(u->header);
        assert_int_equal(u->body_case, cases[i].c);
        assert_non_null(u->created);
        assert_int_equal(u->state->status, SHEQU__V1__TICKET_STATUS__TICKET_STATUS_IN_PROGRESS);
        assert_int_equal(u->state->n_clocks, 1);
        assert_string_equal(u->state->clocks[0]->name, "respond");
        switch (u->body_case) {
        case SHEQU__V1__TICKET_EVENT__BODY_CREATED: assert_int_equal(u->created->repeat_count, 3); break;
        case SHEQU__V1__TICKET_EVENT__BODY_MERGED: assert_string_equal(u->merged->into_ticket_id, "t-0"); break;
        case SHEQU__V1__TICKET_EVENT__BODY_ASSIGNED: assert_true(u->assigned->fallback); break;
        case SHEQU__V1__TICKET_EVENT__BODY_RESPONDED: assert_true(u->responded->distance_m == 812.5); break;
        case SHEQU__V1__TICKET_EVENT__BODY_RATED:
            assert_int_equal(u->rated->rating, SHEQU__V1__RATING__RATING_BASICALLY_SATISFIED);
            break;
        case SHEQU__V1__TICKET_EVENT__BODY_ESCALATED: assert_int_equal(u->escalated->level, 3); break;
        case SHEQU__V1__TICKET_EVENT__BODY_REJECTED: assert_string_equal(u->rejected->reason, "not_assignee"); break;
        default: break;
        }
        shequ__v1__ticket_event__free_unpacked(u, NULL);
        free(buf);
    }
}

/* Garbage and truncated input never crash the decoder; unknown fields are tolerated. */
static void bad_bytes(void **state)
{
    const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x99 };
    assert_null(shequ__v1__resident_report__unpack(NULL, sizeof garbage, garbage));
    Shequ__V1__EventHeader h = header();
    Shequ__V1__DeviceAlarm a = SHEQU__V1__DEVICE_ALARM__INIT;
    a.header = &h;
    a.device_id = "d";
    uint8_t *buf;
    size_t len;
    PACK(shequ__v1__device_alarm, &a, buf, len);
    for (size_t cut = 1; cut < len; cut++) {
        Shequ__V1__DeviceAlarm *u = shequ__v1__device_alarm__unpack(NULL, cut, buf);
        if (u)
            shequ__v1__device_alarm__free_unpacked(u, NULL);
    }
    /* a field number this build does not know (field 99, varint 7) is skipped */
    uint8_t *ext = malloc(len + 3);
    memcpy(ext, buf, len);
    ext[len] = 0x98;
    ext[len + 1] = 0x06;
    ext[len + 2] = 0x07;
    Shequ__V1__DeviceAlarm *u = shequ__v1__device_alarm__unpack(NULL, len + 3, ext);
    assert_non_null(u);
    assert_string_equal(u->device_id, "d");
    shequ__v1__device_alarm__free_unpacked(u, NULL);
    free(ext);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(resident_report), cmocka_unit_test(device_alarm),
        cmocka_unit_test(property_event), cmocka_unit_test(resident_feedback),
        cmocka_unit_test(notification), cmocka_unit_test(ticket_events), cmocka_unit_test(bad_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
