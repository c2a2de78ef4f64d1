/*
 * triage_model.h — what triage keeps in memory (rebuilt from tickets.v1 at start-up) and the helpers its
 * decisions use: tickets by id, the newest open ticket of each place and device, repeat history, each
 * staff member's open load, and the input ids already answered. Single-threaded: the consumer's thread.
 */
#ifndef TRIAGE_MODEL_H
#define TRIAGE_MODEL_H

#include "map.h"
#include "phone.h"
#include "triage.h"

#define MAX_REPEATS 64

typedef struct entry {
    sq_ticket t;
    int64_t offset;          /* last tickets.v1 offset applied (-1: only local) */
    char load_key[136];      /* "community|staff" whose open load counts this ticket ("": none) */
    uint8_t phone[SQ_PHONE_SEALED_MAX];
    size_t phone_len;
} entry;

typedef struct repeat_list {
    int64_t times[MAX_REPEATS];
    int n;
} repeat_list;

struct triage {
    const sq_rules *rules;   /* *rules_owned, read again at every handle and tick (a reload frees the old) */
    sq_directory *dir;
    const sq_emitter *em;    /* &emitter */
    sq_emitter emitter;      /* the service's, writing to this model's partition */
    int32_t partition;
    const sq_streamclock *clock;
    triage_topics topics;
    sq_map *tickets;   /* ticket_id → entry */
    sq_map *by_place;  /* community|building|category → entry (newest open) */
    sq_map *by_device; /* device_id|type → entry */
    sq_map *repeats;   /* community|building|category → repeat_list */
    sq_map *load;      /* community|staff_id → open tickets of that community (intptr_t) */
    sq_map *seen;      /* input event id → when it was answered (us): redeliveries are answered once */
    int64_t seen_window_us, seen_newest_us;
    size_t sweep_tickets, sweep_seen, sweep_repeats; /* where the forgetting sweeps are (triage_tick) */
    const char *rules_path;
    sq_rules **rules_owned;
    sq_metric *m_created, *m_merged, *m_occurrence;
};

/* "community|building|category" into out. */
void place_key(char *out, size_t n, const char *community, const char *building, const char *category);
/* The key of an open alarm ticket: device and alarm type. */
void device_key(char *out, size_t n, const char *device_id, const char *type);
/* A staff member's open tickets in one community (what assignment compares). */
int load_of(triage *tr, const char *community, const char *staff);
void entry_set(triage *tr, entry *e, const sq_ticket *nt);
entry *entry_get(triage *tr, const char *ticket_id, bool create);
void repeat_note(triage *tr, const sq_ticket *t);
void seen_note(triage *tr, const char *cause, int64_t at_us);

#endif
