/*
 * ticket.h — a ticket and the pure decisions about it: creating it with its
 * tier's clocks, applying a staff action or a resident's rating (the state
 * machine of DESIGN.md §4), and converting to and from the TicketState
 * snapshot carried on tickets.v1. No I/O.
 */
#ifndef SQ_TICKET_H
#define SQ_TICKET_H

#include "rules.h"
#include "shequ/v1/ticket.pb-c.h"
#include "sq.h"

#include <stdint.h>

typedef enum {
    SQ_ST_UNKNOWN = 0,
    SQ_ST_ASSIGNED = 1,
    SQ_ST_IN_PROGRESS = 2,
    SQ_ST_PAUSED = 3,
    SQ_ST_RESOLVED = 4,
    SQ_ST_CLOSED = 5,
    SQ_ST_MERGED = 6,
    SQ_ST_CANCELLED = 7,
} sq_status;   /* same numbers as shequ.v1.TicketStatus */

typedef enum {
    SQ_ACT_NONE = 0, SQ_ACT_ACCEPT, SQ_ACT_ARRIVE, SQ_ACT_CONTACT, SQ_ACT_REPORT, SQ_ACT_PLAN,
    SQ_ACT_PAUSE, SQ_ACT_RESUME, SQ_ACT_RESOLVE, SQ_ACT_TRANSFER, SQ_ACT_CANCEL,
} sq_action;   /* same numbers as shequ.v1.Action */

typedef struct sq_tclock {
    char name[16];
    int64_t target_us, started_us, due_us, stopped_us, paused_since_us, paused_total_us;
} sq_tclock;

/*
 * Ticket ids carry their community, so that anyone holding one (the gateway routing a staff action or a
 * rating) knows the community partition without a lookup: "<community_id>.<uuid5("ticket", origin_id)>",
 * for instance "c1.0b7f4c6e-2f0a-5a8e-9b1d-3c4e5f6a7b8c". Community ids may contain '.', so the community
 * is everything before the final "." and its 36-character UUID.
 */
#define SQ_TICKET_ID_MAX 104 /* 64 (community) + "." + 36 + NUL, rounded */
/* The ticket id of the ticket first made from origin_id (a report id or an alarm id) in a community. */
void sq_ticket_id_make(char out[SQ_TICKET_ID_MAX], const char *community_id, const char *origin_id);
/* The community of a ticket id into out (false, out empty, when the id does not carry one). */
bool sq_ticket_id_community(const char *ticket_id, char *out, size_t outlen);

typedef struct sq_ticket {
    char ticket_id[SQ_TICKET_ID_MAX], community_id[64], source[12], category[32], tier[16];
    sq_status status;
    char assignee_id[64], company_id[64];
    int reporter_count, occurrence_count, escalation_level, reopen_count;
    bool repeat, fallback;
    int rating;
    char building[32], unit[32];
    bool has_location;
    double lat, lon;
    sq_tclock clocks[SQ_MAX_CLOCKS];
    int nclocks;
    int64_t created_us, updated_us, responded_us, resolved_us, closed_us;
    char device_id[64], alarm_type[32], origin_id[64], reporter_id[64], merged_into[SQ_TICKET_ID_MAX];
    char summary[160];
} sq_ticket;

const char *sq_status_name(sq_status s);
const char *sq_action_name(sq_action a);
bool sq_status_open(sq_status s);   /* assigned, in_progress, paused */

/* Sets up a new ticket's clocks for its tier at created_us (wall time). */
int sq_ticket_start_clocks(sq_ticket *t, const sq_rules *rules, int64_t created_us);
sq_tclock *sq_ticket_clock(sq_ticket *t, const char *name);

/* Who is acting, as the directory knows them. */
typedef enum { SQ_ACTOR_UNKNOWN, SQ_ACTOR_ASSIGNEE, SQ_ACTOR_OTHER_STAFF, SQ_ACTOR_MANAGER,
               SQ_ACTOR_SUPERVISOR } sq_actor_kind;

typedef struct sq_action_input {
    sq_action action;
    sq_actor_kind actor;
    int64_t now_us;
    int64_t deadline_us;     /* plan */
    const char *to;          /* transfer: the new assignee (already checked to exist) */
    bool to_known;
    int nphotos;
    bool has_location;
    double lat, lon;
    const char *note;
} sq_action_input;

typedef struct sq_action_result {
    bool rejected;
    char reason[32];          /* reason code when rejected */
    char detail[160];
    char event[16];           /* event type when accepted: responded, reported, planned, ... */
    bool first_response;
    bool location_flagged;
    double distance_m;
} sq_action_result;

/* Applies a staff action; on success *t is the new state. Never fails silently: a rejection has a reason. */
void sq_ticket_apply_action(sq_ticket *t, const sq_rules *rules, const sq_action_input *in, sq_action_result *out);

typedef struct sq_feedback_result {
    bool rejected;
    char reason[32];
    bool reopened;            /* events: rated, then reopened or closed */
    bool closed;
} sq_feedback_result;

/* Applies a resident's rating (1 satisfied, 2 basically satisfied, 3 unsatisfied). */
void sq_ticket_apply_feedback(sq_ticket *t, const char *reporter_id, int rating, bool reopen_requested,
                              bool reopen_on_unsatisfied, int64_t now_us, sq_feedback_result *out);
/* Reopens a resolved ticket (alarm returned, unsatisfied): status assigned, resolve clock running again
 * against its original deadline. */
void sq_ticket_reopen(sq_ticket *t, int64_t now_us);

/* Counters only grow, and two services count (triage the reporters and occurrences, sla the
 * escalation level): a snapshot or an event never lowers them. */
void sq_ticket_merge_counters(sq_ticket *t, int reporters, int occurrences, int level);
/* Applies the counters that events without a snapshot carry (merged, occurrence, escalated). */
void sq_ticket_apply_counters(sq_ticket *t, const Shequ__V1__TicketEvent *e);
/* Replaces *t by a snapshot, keeping the counters at their maximum. */
void sq_ticket_take_snapshot(sq_ticket *t, const Shequ__V1__TicketState *st);

/* Great-circle distance in metres. */
double sq_distance_m(double lat1, double lon1, double lat2, double lon2);

/* Snapshot conversion. to_state fills `st` and `clocks` (caller-owned storage; strings point into t). */
void sq_ticket_to_state(const sq_ticket *t, Shequ__V1__TicketState *st, Shequ__V1__Clock clocks[SQ_MAX_CLOCKS],
                        Shequ__V1__Clock *clock_ptrs[SQ_MAX_CLOCKS], Shequ__V1__GeoPoint *loc);
void sq_ticket_from_state(sq_ticket *t, const Shequ__V1__TicketState *st);

#endif
