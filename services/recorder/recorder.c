/*
 * recorder.c — decoding messages into the COPY rows of their lane.
 */
#include "recorder_int.h"
#include "deadletter.h"
#include "shequ/v1/alarm.pb-c.h"
#include "shequ/v1/report.pb-c.h"
#include "shequ/v1/ticket.pb-c.h"
#include "ticket.h"
#include "ticketlog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

lane *recorder_lane_for(recorder *r, const char *key)
{
    return &r->lanes[sq_fnv1a(key, strlen(key)) % (uint64_t)r->nlanes];
}

/* Notes the ticket row just written from start; an older snapshot of the same ticket from the same
 * partition earlier in the batch will not be written (the upsert would replace it anyway). */
void lane_note_ticket_row(lanebuf *lb, const char *ticket_id, size_t start, int32_t partition, int64_t offset,
                          bool created)
{
    if (lb->nrows_at == lb->caprows_at) {
        size_t cap = lb->caprows_at ? lb->caprows_at * 2 : 4096;
        ticket_row_at *n = realloc(lb->rows_at, cap * sizeof *n);
        if (!n) {
            lb->buf[T_TICKETS].overflow = true; /* the batch is dropped and read again */
            return;
        }
        lb->rows_at = n;
        lb->caprows_at = cap;
    }
    size_t idx = lb->nrows_at++;
    lb->rows_at[idx] = (ticket_row_at){ start, partition, offset, false, created };
    uintptr_t prev = (uintptr_t)sq_map_get(lb->newest, ticket_id);
    if (prev && lb->rows_at[prev - 1].partition == partition && lb->rows_at[prev - 1].offset < offset) {
        lb->rows_at[prev - 1].dead = true;
        lb->rows_at[idx].born |= lb->rows_at[prev - 1].born;
    }
    sq_map_put(lb->newest, ticket_id, (void *)(uintptr_t)(idx + 1));
}

/* --------------------------------------------------------------- decoding */

static const char *rating_name(int r)
{
    return r == 1 ? "satisfied" : r == 2 ? "basically_satisfied" : r == 3 ? "unsatisfied" : NULL;
}

static const char *status_name(int s)
{
    const char *n = sq_status_name((sq_status)s);
    return strcmp(n, "unknown") == 0 ? NULL : n;
}

/* JSON string literal of s into out (escaped). */
static void json_str(char *out, size_t n, const char *s)
{
    size_t o = 0;
    if (n < 3)
        return;
    out[o++] = '"';
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p && o + 8 < n; p++) {
        if (*p == '"' || *p == '\\') {
            out[o++] = '\\';
            out[o++] = (char)*p;
        } else if (*p < 0x20) {
            o += (size_t)snprintf(out + o, n - o, "\\u%04x", *p);
        } else {
            out[o++] = (char)*p;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
}

/* The event's body as a small JSON object for ticket_events.detail. */
static void event_detail(const Shequ__V1__TicketEvent *e, char *out, size_t n)
{
    char a[600], b[600], ts[40];
    switch (e->body_case) {
    case SHEQU__V1__TICKET_EVENT__BODY_CREATED:
        json_str(a, sizeof a, e->created->tier);
        json_str(b, sizeof b, e->created->category);
        snprintf(out, n, "{\"tier\":%s,\"category\":%s,\"repeat\":%s,\"repeat_count\":%d}", a, b,
                 e->created->repeat ? "true" : "false", e->created->repeat_count);
        break;
    case SHEQU__V1__TICKET_EVENT__BODY_MERGED:
        json_str(a, sizeof a, e->merged->into_ticket_id[0] ? e->merged->into_ticket_id : e->merged->from_ticket_id);
        snprintf(out, n, "{\"%s\":%s,\"reporter_count\":%d}", e->merged->into_ticket_id[0] ? "into" : "from", a,
                 e->merged->reporter_count);
        break;
    case SHEQU__V1__TICKET_EVENT__BODY_ASSIGNED:
        json_str(a, sizeof a, e->assigned->assignee_id);
        snprintf(out, n, "{\"assignee\":%s,\"fallback\":%s}", a, e->assigned->fallback ? "true" : "false");
        break;
    case SHEQU__V1__TICKET_EVENT__BODY_TRANSFERRED:
        json_str(a, sizeof a, e->transferred->from_id);
        json_str(b, sizeof b, e->transferred->to_id);
        snprintf(out, n, "{\"from\":%s,\"to\":%s}", a, b);
        break;
    case SHEQU__V1__TICKET_EVENT__BODY_RESPONDED:
        json_str(a, sizeof a, e->responded->action);
        snprintf(out, n, "{\"action\":%s,\"location_flagged\":%s,\"distance_m\":%.1f}", a,
                 e->responded->location_flagged ? "true" : "false", e->responded->distance_m);
        break;
    case SHEQU__V1__TICKET_EVENT__BODY_PLANNED:
        json_str(a, sizeof a, sq_fmt_rfc3339(e->planned->deadline_us, ts, sizeof ts));
        snprintf(out, n, "{\"deadline\":%s}", a);
        break;
    case SHEQU__V1__TICKET_EVENT__BODY_REOPENED:
        json_str(a, sizeof a, e->reopened->reason);
        snprintf(out, n, "{\"reason\":%s}", a);
        break;
    case SHEQU__V1__TICKET_EVENT__BODY_RATED:
        json_str(a, sizeof a, rating_name(e->rated->rating));
        snprintf(out, n, "{\"rating\":%s}", a);
        break;
    case SHEQU__V1__TICKET_EVENT__BODY_CLOSED:
        json_str(a, sizeof a, e->closed->reason);
        snprintf(out, n, "{\"reason\":%s}", a);
        break;
    case SHEQU__V1__TICKET_EVENT__BODY_CANCELLED:
        json_str(a, sizeof a, e->cancelled->reason);
        snprintf(out, n, "{\"reason\":%s}", a);
        break;
    case SHEQU__V1__TICKET_EVENT__BODY_SLA_WARNING:
        json_str(a, sizeof a, e->sla_warning->clock);
        snprintf(out, n, "{\"clock\":%s,\"percent\":%d}", a, e->sla_warning->percent);
        break;
    case SHEQU__V1__TICKET_EVENT__BODY_SLA_BREACHED:
        json_str(a, sizeof a, e->sla_breached->clock);
        snprintf(out, n, "{\"clock\":%s}", a);
        break;
    case SHEQU__V1__TICKET_EVENT__BODY_ESCALATED:
        json_str(a, sizeof a, e->escalated->clock);
        json_str(b, sizeof b, e->escalated->recipient_id);
        snprintf(out, n, "{\"clock\":%s,\"level\":%d,\"recipient\":%s}", a, e->escalated->level, b);
        break;
    case SHEQU__V1__TICKET_EVENT__BODY_OCCURRENCE:
        json_str(a, sizeof a, e->occurrence->device_id);
        snprintf(out, n, "{\"device\":%s,\"occurrence_count\":%d}", a, e->occurrence->occurrence_count);
        break;
    case SHEQU__V1__TICKET_EVENT__BODY_REJECTED:
        json_str(a, sizeof a, e->rejected->action);
        json_str(b, sizeof b, e->rejected->reason);
        snprintf(out, n, "{\"action\":%s,\"reason\":%s}", a, b);
        break;
    default:
        snprintf(out, n, "{}");
    }
}

static const Shequ__V1__Clock *clock_named(const Shequ__V1__TicketState *s, const char *name)
{
    for (size_t i = 0; i < s->n_clocks; i++)
        if (strcmp(s->clocks[i]->name, name) == 0)
            return s->clocks[i];
    return NULL;
}

static void clock_cols(copybuf *b, const Shequ__V1__Clock *c)
{
    copybuf_time(b, c ? c->due_at_us : 0);
    copybuf_time(b, c ? c->stopped_at_us : 0);
}

static void ticket_row(copybuf *b, const Shequ__V1__TicketState *s, int32_t partition, int64_t offset)
{
    copybuf_text(b, s->ticket_id);
    copybuf_text(b, s->community_id);
    copybuf_text(b, *s->company_id ? s->company_id : NULL);
    copybuf_text(b, *s->source ? s->source : "report");
    copybuf_text(b, s->category);
    copybuf_text(b, s->tier);
    copybuf_text(b, status_name(s->status));
    copybuf_text(b, *s->assignee_id ? s->assignee_id : NULL);
    copybuf_bool(b, s->unassigned_fallback);
    copybuf_int(b, s->reporter_count);
    copybuf_int(b, s->occurrence_count);
    copybuf_bool(b, s->repeat);
    copybuf_int(b, s->escalation_level);
    copybuf_int(b, s->reopen_count);
    copybuf_text(b, rating_name(s->rating));
    copybuf_text(b, s->building);
    copybuf_text(b, s->unit);
    copybuf_text(b, s->summary);
    copybuf_text(b, *s->device_id ? s->device_id : NULL);
    copybuf_text(b, *s->merged_into ? s->merged_into : NULL);
    copybuf_time(b, s->created_at_us);
    copybuf_date(b, sq_shanghai_day(s->created_at_us));
    const Shequ__V1__Clock *respond = clock_named(s, "respond"), *plan = clock_named(s, "plan");
    clock_cols(b, respond ? respond : plan);
    clock_cols(b, clock_named(s, "report"));
    clock_cols(b, plan);
    const Shequ__V1__Clock *resolve = clock_named(s, "resolve");
    copybuf_time(b, resolve ? resolve->due_at_us : 0);
    copybuf_time(b, s->resolved_at_us);
    copybuf_int(b, resolve ? resolve->paused_total_us / SQ_US_PER_S : 0);
    copybuf_time(b, s->closed_at_us);
    copybuf_time(b, s->updated_at_us ? s->updated_at_us : s->created_at_us);
    copybuf_int(b, partition);
    copybuf_int(b, offset);
    copybuf_end_row(b);
}

static int on_ticket_event(recorder *r, const rd_kafka_message_t *m, char *reason, size_t rlen, char *detail,
                           size_t dlen)
{
    Shequ__V1__TicketEvent *e = shequ__v1__ticket_event__unpack(NULL, m->len, m->payload);
    if (!e)
        return sq_fail(detail, dlen, sq_fail(reason, rlen, SQ_INVALID, "decode_error"), "not a TicketEvent");
    int rc = SQ_OK;
    if (!e->header || !*e->header->event_id || !*e->ticket_id || e->body_case == SHEQU__V1__TICKET_EVENT__BODY__NOT_SET) {
        rc = sq_fail(detail, dlen, sq_fail(reason, rlen, SQ_INVALID, "missing_field"), "event_id, ticket_id and body are required");
        goto out;
    }
    if (e->state && (!status_name(e->state->status) || !*e->state->community_id || !e->state->created_at_us)) {
        rc = sq_fail(detail, dlen, sq_fail(reason, rlen, SQ_INVALID, "invalid_state"), "snapshot lacks status, community or creation time");
        goto out;
    }
    char json[2048];
    event_detail(e, json, sizeof json);
    lane *ln = recorder_lane_for(r, e->ticket_id);
    copybuf *b = &ln->fill->buf[T_EVENTS];
    copybuf_text(b, e->header->event_id);
    copybuf_text(b, e->ticket_id);
    copybuf_text(b, sq_ticket_event_type(e));
    copybuf_time(b, e->header->occurred_at_us ? e->header->occurred_at_us : sq_now_us());
    copybuf_text(b, *e->actor_id ? e->actor_id : NULL);
    copybuf_text(b, json);
    copybuf_int(b, m->partition);
    copybuf_int(b, m->offset);
    copybuf_end_row(b);
    if (e->state) {
        size_t start = ln->fill->buf[T_TICKETS].len;
        ticket_row(&ln->fill->buf[T_TICKETS], e->state, m->partition, m->offset);
        lane_note_ticket_row(ln->fill, e->ticket_id, start, m->partition, m->offset,
                        e->body_case == SHEQU__V1__TICKET_EVENT__BODY_CREATED);
    } else {
        int reporters = 0, occurrences = 0, level = 0;
        if (e->body_case == SHEQU__V1__TICKET_EVENT__BODY_MERGED)
            reporters = e->merged->reporter_count;
        else if (e->body_case == SHEQU__V1__TICKET_EVENT__BODY_OCCURRENCE)
            occurrences = e->occurrence->occurrence_count;
        else if (e->body_case == SHEQU__V1__TICKET_EVENT__BODY_ESCALATED)
            level = e->escalated->level;
        if (reporters || occurrences || level) {
            copybuf *c = &ln->fill->buf[T_COUNTERS];
            copybuf_text(c, e->ticket_id);
            copybuf_int(c, reporters);
            copybuf_int(c, occurrences);
            copybuf_int(c, level);
            copybuf_time(c, e->header->occurred_at_us ? e->header->occurred_at_us : sq_now_us());
            copybuf_end_row(c);
        }
    }
out:
    shequ__v1__ticket_event__free_unpacked(e, NULL);
    return rc;
}

static const char *channel_name(int c)
{
    static const char *n[] = { NULL, "miniprogram", "hotline", "grid_worker", "app", "open311" };
    return c >= 0 && c <= 5 ? n[c] : NULL;
}

/* A PostgreSQL text[] literal of v (elements cut where out is full). */
static const char *text_array(char *out, size_t n, char **v, size_t nv)
{
    size_t o = (size_t)snprintf(out, n, "{");
    for (size_t i = 0; i < nv && o < n - 600; i++) {
        char q[600];
        json_str(q, sizeof q, v[i]); /* a quoted, escaped element is valid array syntax too */
        o += (size_t)snprintf(out + o, n - o, "%s%s", i ? "," : "", q);
    }
    snprintf(out + o, n - o, "}");
    return out;
}

static int on_report(recorder *r, const rd_kafka_message_t *m, char *reason, size_t rlen, char *detail, size_t dlen)
{
    Shequ__V1__ResidentReport *p = shequ__v1__resident_report__unpack(NULL, m->len, m->payload);
    if (!p)
        return SQ_OK; /* triage dead-letters undecodable reports; the dead letter is recorded from there */
    if (p->header && *p->header->event_id && *p->report_id && *p->header->community_id && *p->reporter_id &&
        *p->category) {
        copybuf *b = &recorder_lane_for(r, p->report_id)->fill->buf[T_REPORTS];
        copybuf_text(b, p->report_id);
        copybuf_text(b, p->header->event_id);
        copybuf_text(b, p->header->community_id);
        copybuf_text(b, p->reporter_id);
        copybuf_text(b, p->category);
        copybuf_text(b, p->description);
        copybuf_text(b, p->building);
        copybuf_text(b, p->unit);
        copybuf_text(b, p->address);
        if (p->location) {
            copybuf_double(b, p->location->lat);
            copybuf_double(b, p->location->lon);
        } else {
            copybuf_null(b);
            copybuf_null(b);
        }
        char arr[4096];
        copybuf_text(b, text_array(arr, sizeof arr, p->photos, p->n_photos));
        copybuf_bool(b, p->phone_sealed.len > 0);
        copybuf_text(b, channel_name(p->channel));
        copybuf_text(b, p->client_id);
        copybuf_time(b, sq_message_time_us(m));
        copybuf_end_row(b);
    }
    shequ__v1__resident_report__free_unpacked(p, NULL);
    return SQ_OK;
}

static int on_alarm(recorder *r, const rd_kafka_message_t *m, char *reason, size_t rlen, char *detail, size_t dlen)
{
    Shequ__V1__DeviceAlarm *a = shequ__v1__device_alarm__unpack(NULL, m->len, m->payload);
    if (!a)
        return SQ_OK; /* triage dead-letters it */
    if (a->header && *a->header->event_id && *a->alarm_id && *a->device_id && *a->header->community_id && *a->type) {
        copybuf *b = &recorder_lane_for(r, a->header->event_id)->fill->buf[T_ALARMS];
        copybuf_text(b, a->header->event_id);
        copybuf_text(b, a->alarm_id);
        copybuf_text(b, a->device_id);
        copybuf_text(b, a->header->community_id);
        copybuf_text(b, a->type);
        copybuf_text(b, a->state == SHEQU__V1__ALARM_STATE__ALARM_STATE_CLEARED ? "cleared" : "raised");
        copybuf_int(b, a->level);
        copybuf_text(b, a->building);
        copybuf_text(b, a->unit);
        copybuf_time(b, a->device_time_us);
        copybuf_text(b, *a->snapshot_url ? a->snapshot_url : NULL);
        copybuf_time(b, sq_message_time_us(m));
        char dropped[2048];
        copybuf_text(b, text_array(dropped, sizeof dropped, a->dropped_fields, a->n_dropped_fields));
        copybuf_end_row(b);
    }
    shequ__v1__device_alarm__free_unpacked(a, NULL);
    return SQ_OK;
}

static void header_field(copybuf *b, rd_kafka_headers_t *h, const char *name)
{
    char v[SQ_DL_DETAIL_MAX + 1];
    copybuf_text(b, h && sq_header_get(h, name, v, sizeof v) == SQ_OK ? v : NULL);
}

static int on_deadletter(recorder *r, const rd_kafka_message_t *m)
{
    rd_kafka_headers_t *h = NULL;
    rd_kafka_message_headers(m, &h);
    char v[64];
    copybuf *b = &r->lanes[0].fill->buf[T_DEADLETTERS];
    copybuf_int(b, m->partition);
    copybuf_int(b, m->offset);
    copybuf_text(b, h && sq_header_get(h, "error", v, sizeof v) == SQ_OK ? v : "unknown");
    header_field(b, h, "error_detail");
    header_field(b, h, "source_topic");
    long long sp = h && sq_header_get(h, "source_partition", v, sizeof v) == SQ_OK ? atoll(v) : -1;
    copybuf_int(b, sp);
    long long so = h && sq_header_get(h, "source_offset", v, sizeof v) == SQ_OK ? atoll(v) : -1;
    copybuf_int(b, so);
    header_field(b, h, "service");
    if (m->key)
        copybuf_bytea(b, m->key, m->key_len);
    else
        copybuf_null(b);
    copybuf_bytea(b, m->payload, m->len);
    copybuf_time(b, sq_message_time_us(m));
    copybuf_end_row(b);
    return SQ_OK;
}

int recorder_handle(void *arg, const rd_kafka_message_t *m, char *reason, size_t rlen, char *detail, size_t dlen)
{
    recorder *r = arg;
    const char *topic = rd_kafka_topic_name(m->rkt);
    if (strcmp(topic, r->topics.tickets) == 0)
        return on_ticket_event(r, m, reason, rlen, detail, dlen);
    if (strcmp(topic, r->topics.reports) == 0)
        return on_report(r, m, reason, rlen, detail, dlen);
    if (strcmp(topic, r->topics.alarms) == 0)
        return on_alarm(r, m, reason, rlen, detail, dlen);
    return on_deadletter(r, m);
}
