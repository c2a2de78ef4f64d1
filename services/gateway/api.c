/*
 * api.c — the native API: validation (a 400 names the field), mapping to
 * protobuf, and the write to Kafka that must be acknowledged before 202.
 */
#include "gateway.h"
#include "shequ/v1/feedback.pb-c.h"
#include "shequ/v1/property.pb-c.h"
#include "shequ/v1/report.pb-c.h"
#include "ticket.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gw_reply_error(gw_reply *r, int status, const char *code, const char *field, const char *message)
{
    r->status = status;
    if (r->body)
        json_decref(r->body);
    r->body = json_pack("{s:{s:s,s:s?,s:s}}", "error", "code", code, "field", field, "message", message);
}

int gw_produce(gateway *g, const char *topic, const char *key, const void *buf, size_t len)
{
    return sq_producer_send_sync(g->producer, topic, key, strlen(key), buf, len, NULL);
}

/* ----------------------------------------------------------- validation */

typedef struct {
    gw_reply *r;
    bool failed;
} check;

static const char *str_field(check *c, json_t *o, const char *name, bool required, size_t max_chars)
{
    if (c->failed)
        return NULL;
    json_t *v = json_object_get(o, name);
    if (!v || json_is_null(v)) {
        if (required) {
            gw_reply_error(c->r, 400, "missing_field", name, "this field is required");
            c->failed = true;
        }
        return NULL;
    }
    if (!json_is_string(v)) {
        gw_reply_error(c->r, 400, "invalid_type", name, "must be a string");
        c->failed = true;
        return NULL;
    }
    const char *s = json_string_value(v);
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        chars += (*p & 0xc0) != 0x80;
    if ((required && chars == 0) || chars > max_chars) {
        char msg[80];
        snprintf(msg, sizeof msg, "must be 1 to %zu characters", max_chars);
        gw_reply_error(c->r, 400, "invalid_length", name, msg);
        c->failed = true;
        return NULL;
    }
    if (strlen(s) != json_string_length(v)) {
        gw_reply_error(c->r, 400, "invalid_value", name, "must not contain NUL");
        c->failed = true;
        return NULL;
    }
    return s;
}

static bool ident_ok(const char *s)
{
    for (; s && *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '-' ||
              *s == '_' || *s == '.'))
            return false;
    return true;
}

static const char *id_field(check *c, json_t *o, const char *name, bool required)
{
    const char *s = str_field(c, o, name, required, 64);
    if (s && !ident_ok(s)) {
        gw_reply_error(c->r, 400, "invalid_value", name, "letters, digits, '-', '_' and '.' only");
        c->failed = true;
        return NULL;
    }
    return s;
}

static bool location_field(check *c, json_t *o, Shequ__V1__GeoPoint *loc)
{
    json_t *v = json_object_get(o, "location");
    if (c->failed || !v || json_is_null(v))
        return false;
    json_t *lat = json_is_object(v) ? json_object_get(v, "lat") : NULL, *lon = json_is_object(v) ? json_object_get(v, "lon") : NULL;
    if (!json_is_number(lat) || !json_is_number(lon) || fabs(json_number_value(lat)) > 90 ||
        fabs(json_number_value(lon)) > 180) {
        gw_reply_error(c->r, 400, "invalid_value", "location", "{lat: -90..90, lon: -180..180}");
        c->failed = true;
        return false;
    }
    loc->lat = json_number_value(lat);
    loc->lon = json_number_value(lon);
    return true;
}

/* photos: at most 9 http(s) URLs. Fills out[] with borrowed strings. */
static size_t photos_field(check *c, json_t *o, char *out[9])
{
    json_t *v = json_object_get(o, "photos");
    if (c->failed || !v || json_is_null(v))
        return 0;
    if (!json_is_array(v) || json_array_size(v) > 9) {
        gw_reply_error(c->r, 400, json_is_array(v) ? "too_many" : "invalid_type", "photos", "an array of at most 9 URLs");
        c->failed = true;
        return 0;
    }
    size_t i;
    json_t *p;
    json_array_foreach(v, i, p)
    {
        const char *s = json_is_string(p) ? json_string_value(p) : NULL;
        if (!s || strlen(s) > 500 || (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0)) {
            gw_reply_error(c->r, 400, "invalid_value", "photos", "each photo is an http(s) URL of at most 500 characters");
            c->failed = true;
            return 0;
        }
        out[i] = (char *)s;
    }
    return json_array_size(v);
}

/* A new id: random, or derived from the request's idempotency key (gw_reply.id_seed) and what it names. */
static void request_id(const gw_reply *r, const char *what, char id[SQ_UUID_LEN])
{
    if (!r->id_seed[0]) {
        sq_uuid4(id);
        return;
    }
    char name[256];
    int n = snprintf(name, sizeof name, "%s/%s", what, r->id_seed);
    sq_uuid5(id, "gateway-request", name, (size_t)n);
}

static void header_init(Shequ__V1__EventHeader *h, char id[SQ_UUID_LEN], const char *community, const gw_reply *r)
{
    request_id(r, "event", id);
    h->event_id = id;
    h->occurred_at_us = h->produced_at_us = sq_now_us();
    h->source = "gateway";
    h->community_id = (char *)(community ? community : "");
    h->trace_id = id;
}

static void accepted(gateway *g, gw_reply *r, int rc, json_t *body)
{
    if (rc == SQ_OK) {
        r->status = 202;
        r->body = body;
        return;
    }
    json_decref(body);
    gw_reply_error(r, 503, "unavailable", NULL, "the event bus cannot take the event now; nothing was written");
    snprintf(r->retry_after, sizeof r->retry_after, "5");
}

/* ------------------------------------------------------------- handlers */

void gw_post_report(gateway *g, const char *client, json_t *body, gw_reply *r)
{
    check c = { r, false };
    const char *community = id_field(&c, body, "community_id", true);
    const char *reporter = id_field(&c, body, "reporter_id", true);
    const char *category = id_field(&c, body, "category", true);
    const char *description = str_field(&c, body, "description", true, (size_t)g->cfg.max_description);
    const char *building = str_field(&c, body, "building", false, 32);
    const char *unit = str_field(&c, body, "unit", false, 32);
    const char *address = str_field(&c, body, "address", false, 200);
    const char *phone = str_field(&c, body, "phone", false, 20);
    const char *channel = str_field(&c, body, "channel", false, 16);
    Shequ__V1__GeoPoint loc = SHEQU__V1__GEO_POINT__INIT;
    bool has_loc = location_field(&c, body, &loc);
    char *photos[9];
    size_t nphotos = photos_field(&c, body, photos);
    if (c.failed)
        return;
    if (!sq_rules_category(g->rules, category))
        return gw_reply_error(r, 400, "unknown_category", "category", "see GET /v1/categories");
    if (phone && !sq_phone_valid(phone))
        return gw_reply_error(r, 400, "invalid_value", "phone", "digits, '+', '-' and spaces");
    Shequ__V1__Channel ch = SHEQU__V1__CHANNEL__CHANNEL_MINIPROGRAM;
    if (channel) {
        static const char *names[] = { "miniprogram", "hotline", "grid_worker", "app" };
        ch = SHEQU__V1__CHANNEL__CHANNEL_UNSPECIFIED;
        for (int i = 0; i < 4; i++)
            if (strcmp(channel, names[i]) == 0)
                ch = (Shequ__V1__Channel)(i + 1);
        if (!ch)
            return gw_reply_error(r, 400, "invalid_value", "channel", "miniprogram, hotline, grid_worker or app");
    }
    if (gw_rate_limited(g, "reporter", reporter, g->cfg.rate_reporter_per_min, r))
        return;
    char event_id[SQ_UUID_LEN], report_id[SQ_UUID_LEN];
    Shequ__V1__EventHeader h = SHEQU__V1__EVENT_HEADER__INIT;
    header_init(&h, event_id, community, r);
    request_id(r, "report", report_id);
    Shequ__V1__ResidentReport rep = SHEQU__V1__RESIDENT_REPORT__INIT;
    rep.header = &h;
    rep.report_id = report_id;
    rep.reporter_id = (char *)reporter;
    rep.category = (char *)category;
    rep.description = (char *)description;
    rep.building = (char *)(building ? building : "");
    rep.unit = (char *)(unit ? unit : "");
    rep.address = (char *)(address ? address : "");
    rep.location = has_loc ? &loc : NULL;
    rep.n_photos = nphotos;
    rep.photos = photos;
    rep.channel = ch;
    rep.client_id = (char *)client;
    uint8_t sealed[SQ_PHONE_SEALED_MAX];
    if (phone) {
        int n = sq_phone_seal(g->phone_key, phone, sealed);
        if (n < 0)
            return gw_reply_error(r, 400, "invalid_value", "phone", "cannot be stored");
        rep.phone_sealed.data = sealed;
        rep.phone_sealed.len = (size_t)n;
    }
    size_t len = shequ__v1__resident_report__get_packed_size(&rep);
    uint8_t *buf = malloc(len);
    shequ__v1__resident_report__pack(&rep, buf);
    int rc = gw_produce(g, g->topic_reports, community, buf, len);
    free(buf);
    log_info("report.received", "report=%s community=%s category=%s client=%s result=%s", report_id, community,
             category, client, rc == SQ_OK ? "accepted" : "unavailable");
    accepted(g, r, rc, json_pack("{s:s,s:s}", "report_id", report_id, "status", "accepted"));
}

static const struct {
    const char *name;
    Shequ__V1__Action action;
} actions[] = {
    { "accept", SHEQU__V1__ACTION__ACTION_ACCEPT }, { "arrive", SHEQU__V1__ACTION__ACTION_ARRIVE },
    { "contact", SHEQU__V1__ACTION__ACTION_CONTACT }, { "report", SHEQU__V1__ACTION__ACTION_REPORT },
    { "plan", SHEQU__V1__ACTION__ACTION_PLAN }, { "pause", SHEQU__V1__ACTION__ACTION_PAUSE },
    { "resume", SHEQU__V1__ACTION__ACTION_RESUME }, { "resolve", SHEQU__V1__ACTION__ACTION_RESOLVE },
    { "transfer", SHEQU__V1__ACTION__ACTION_TRANSFER }, { "cancel", SHEQU__V1__ACTION__ACTION_CANCEL },
};

/* The community a ticket id carries (the key of its partition), or false with a 404 in r. */
static bool ticket_community(const char *ticket_id, char out[SQ_TICKET_ID_MAX], gw_reply *r)
{
    if (sq_ticket_id_community(ticket_id, out, SQ_TICKET_ID_MAX))
        return true;
    gw_reply_error(r, 404, "not_found", "ticket_id", "no such ticket: ids are <community_id>.<uuid>");
    return false;
}

void gw_post_action(gateway *g, const char *client, const char *ticket_id, json_t *body, gw_reply *r)
{
    char community[SQ_TICKET_ID_MAX];
    if (!ticket_community(ticket_id, community, r))
        return;
    check c = { r, false };
    const char *actor = id_field(&c, body, "actor_id", true);
    const char *action = str_field(&c, body, "action", true, 16);
    const char *note = str_field(&c, body, "note", false, 1000);
    const char *deadline = str_field(&c, body, "deadline", false, 40);
    const char *to = id_field(&c, body, "to", false);
    Shequ__V1__GeoPoint loc = SHEQU__V1__GEO_POINT__INIT;
    bool has_loc = location_field(&c, body, &loc);
    char *photos[9];
    size_t nphotos = photos_field(&c, body, photos);
    if (c.failed)
        return;
    Shequ__V1__Action act = SHEQU__V1__ACTION__ACTION_UNSPECIFIED;
    for (size_t i = 0; i < SQ_ARRAY_LEN(actions); i++)
        if (strcmp(actions[i].name, action) == 0)
            act = actions[i].action;
    if (!act)
        return gw_reply_error(r, 400, "invalid_value", "action",
                              "one of accept, arrive, contact, report, plan, pause, resume, resolve, transfer, cancel");
    int64_t deadline_us = 0;
    if (deadline && sq_parse_rfc3339(deadline, &deadline_us) != SQ_OK)
        return gw_reply_error(r, 400, "invalid_value", "deadline", "an RFC 3339 time, e.g. 2026-11-30T18:00:00+08:00");
    if (act == SHEQU__V1__ACTION__ACTION_PLAN && !deadline)
        return gw_reply_error(r, 400, "missing_field", "deadline", "plan needs a deadline");
    if (act == SHEQU__V1__ACTION__ACTION_TRANSFER && !to)
        return gw_reply_error(r, 400, "missing_field", "to", "transfer needs 'to'");
    char event_id[SQ_UUID_LEN];
    Shequ__V1__EventHeader h = SHEQU__V1__EVENT_HEADER__INIT;
    header_init(&h, event_id, community, r);
    Shequ__V1__PropertyEvent p = SHEQU__V1__PROPERTY_EVENT__INIT;
    p.header = &h;
    p.ticket_id = (char *)ticket_id;
    p.actor_id = (char *)actor;
    p.action = act;
    p.note = (char *)(note ? note : "");
    p.deadline_us = deadline_us;
    p.to = (char *)(to ? to : "");
    p.n_photos = nphotos;
    p.photos = photos;
    p.location = has_loc ? &loc : NULL;
    p.client_id = (char *)client;
    size_t len = shequ__v1__property_event__get_packed_size(&p);
    uint8_t *buf = malloc(len);
    shequ__v1__property_event__pack(&p, buf);
    int rc = gw_produce(g, g->topic_actions, community, buf, len);
    free(buf);
    log_info("action.received", "ticket=%s action=%s actor=%s event=%s", ticket_id, action, actor, event_id);
    accepted(g, r, rc, json_pack("{s:s}", "event_id", event_id));
}

void gw_post_feedback(gateway *g, const char *client, const char *ticket_id, json_t *body, gw_reply *r)
{
    char community[SQ_TICKET_ID_MAX];
    if (!ticket_community(ticket_id, community, r))
        return;
    check c = { r, false };
    const char *reporter = id_field(&c, body, "reporter_id", true);
    const char *rating = str_field(&c, body, "rating", true, 24);
    const char *comment = str_field(&c, body, "comment", false, 1000);
    json_t *reopen = json_object_get(body, "reopen");
    if (c.failed)
        return;
    if (reopen && !json_is_boolean(reopen) && !json_is_null(reopen))
        return gw_reply_error(r, 400, "invalid_type", "reopen", "must be a boolean");
    Shequ__V1__Rating rt = strcmp(rating, "satisfied") == 0             ? SHEQU__V1__RATING__RATING_SATISFIED
                           : strcmp(rating, "basically_satisfied") == 0 ? SHEQU__V1__RATING__RATING_BASICALLY_SATISFIED
                           : strcmp(rating, "unsatisfied") == 0         ? SHEQU__V1__RATING__RATING_UNSATISFIED
                                                                        : SHEQU__V1__RATING__RATING_UNSPECIFIED;
    if (!rt)
        return gw_reply_error(r, 400, "invalid_value", "rating", "satisfied, basically_satisfied or unsatisfied");
    char event_id[SQ_UUID_LEN];
    Shequ__V1__EventHeader h = SHEQU__V1__EVENT_HEADER__INIT;
    header_init(&h, event_id, community, r);
    Shequ__V1__ResidentFeedback f = SHEQU__V1__RESIDENT_FEEDBACK__INIT;
    f.header = &h;
    f.ticket_id = (char *)ticket_id;
    f.reporter_id = (char *)reporter;
    f.rating = rt;
    f.comment = (char *)(comment ? comment : "");
    f.reopen = reopen && json_is_true(reopen);
    f.client_id = (char *)client;
    size_t len = shequ__v1__resident_feedback__get_packed_size(&f);
    uint8_t *buf = malloc(len);
    shequ__v1__resident_feedback__pack(&f, buf);
    int rc = gw_produce(g, g->topic_feedback, community, buf, len);
    free(buf);
    accepted(g, r, rc, json_pack("{s:s}", "event_id", event_id));
}

void gw_get_report(gateway *g, const char *report_id, gw_reply *r)
{
    json_t *st = NULL;
    int rc = gw_status_report(g->status, report_id, &st);
    if (rc == SQ_RETRY) {
        gw_reply_error(r, 503, "unavailable", NULL, "the ticket record does not answer now; try again");
        snprintf(r->retry_after, sizeof r->retry_after, "5");
        return;
    }
    if (rc != SQ_OK)
        return gw_reply_error(r, 404, "not_found", "report_id", "not known (yet)");
    r->status = 200;
    r->body = st;
}

void gw_get_categories(gateway *g, gw_reply *r)
{
    const sq_category *const *cats;
    int n = sq_rules_categories(g->rules, &cats);
    json_t *arr = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:b}", "code", cats[i]->code, "name_zh", cats[i]->name_zh,
                                             "name_en", cats[i]->name_en, "tier", cats[i]->tier, "evidence_required",
                                             cats[i]->evidence_required));
    r->status = 200;
    r->body = json_pack("{s:o}", "categories", arr);
}
