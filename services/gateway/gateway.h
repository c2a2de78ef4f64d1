/*
 * gateway.h — the HTTP edge (DESIGN.md §6): the native API for the
 * mini-program's and staff app's backends, and Open311 GeoReport v2.
 *
 * Threads: libmicrohttpd runs one thread per connection; each request that
 * writes to the bus waits for Kafka's acknowledgement (acks=all) before it
 * answers 202, or answers 503 with Retry-After. Redis (one connection per
 * thread) holds idempotency keys, seen signatures and rate-limit counters.
 * Ticket status is served from an in-memory cache a background thread restores
 * from the compacted changelog and keeps current from tickets.v1, and from
 * PostgreSQL for the tickets the cache no longer holds (status.c).
 *
 * Routing (DESIGN.md §2): a report is keyed by its community_id; an action or a
 * rating by the community its ticket id carries ("<community_id>.<uuid>",
 * sq_ticket_id_community), so it lands on its ticket's partition however soon
 * after the ticket's creation it comes. An id that carries none is 404.
 */
#ifndef GATEWAY_H
#define GATEWAY_H

#include "kafka.h"
#include "phone.h"
#include "redis.h"
#include "rules.h"
#include "service.h"

#include <jansson.h>
#include <pthread.h>

#define GW_BODY_MAX (64 * 1024)

typedef struct gw_client {
    char id[64];
    char secret[128];
    char api_key[128];   /* Open311 */
} gw_client;

typedef struct gw_clients {
    gw_client *list;
    int n;
} gw_clients;

typedef struct gw_status gw_status;

typedef struct gw_config {
    char *listen;
    long port;
    char *clients_file;
    char *phone_key_hex;
    long skew_s;
    long idempotency_ttl_s;
    long rate_client_per_min;
    long rate_reporter_per_min;
    long max_description;
    long connection_timeout_s;
    long max_connections;
    long status_keep_final_s;
} gw_config;

typedef struct gateway {
    gw_config cfg;
    sq_common_config *common;
    sq_producer *producer;
    sq_rules *rules;
    unsigned char phone_key[SQ_PHONE_KEY_BYTES];
    pthread_rwlock_t clients_lock;
    gw_clients clients;
    gw_status *status;
    const char *topic_reports, *topic_actions, *topic_feedback, *topic_tickets, *topic_changelog;
    sq_metric *m_requests[6]; /* 2xx, 400, 401, 404/405, 413/415, 429/503 */
} gateway;

/* A response: status, JSON body (owned), extra header. */
typedef struct gw_reply {
    int status;
    json_t *body;
    char retry_after[16];
    /* "<client>/<Idempotency-Key>" when the request has one: the ids it makes (event, report) derive from it,
     * so a retry that has to be accepted again (its first try's answer was never recorded) makes the
     * same ones, and downstream takes it as the same request */
    char id_seed[200];
} gw_reply;

/* auth.c */
int gw_clients_load(const char *path, gw_clients *out, char *err, size_t errlen);
void gw_clients_free(gw_clients *c);
/* Verifies the HMAC headers; on failure fills the reply (401). Copies the client id out. */
/* Verifies the client, the timestamp window and the HMAC (no I/O); on failure fills r (401). */
bool gw_authenticate(gateway *g, const char *client, const char *ts, const char *sig, const char *method,
                     const char *path, const char *body, size_t len, char client_out[64], gw_reply *r);
/*
 * After authentication, in one Redis round trip: a write's signature is good once (a replay is 401,
 * unless it carries a known Idempotency-Key: then it gets its first answer), and the client's rate
 * limit. sig is NULL for reads (polling the same status twice in a second signs the same bytes).
 * Redis down: writes get 503 (no replay protection), reads pass (a limiter never stops a resident).
 */
bool gw_admit(gateway *g, const char *client, const char *sig, const char *idem, gw_reply *r);
const gw_client *gw_client_by_api_key(gateway *g, const char *api_key, gw_client *copy);

/* limits.c: Redis-backed; all fail open with a log line if Redis is down, except idempotency (503). */
sq_redis *gw_redis(gateway *g);
bool gw_rate_limited(gateway *g, const char *kind, const char *who, long per_min, gw_reply *r);
/* Returns true and fills r with the stored reply if key was seen; otherwise reserves it. */
bool gw_idempotency_begin(gateway *g, const char *client, const char *key, gw_reply *r);
void gw_idempotency_end(gateway *g, const char *client, const char *key, const gw_reply *r);
/* For a request whose signature was seen before: true with the first answer (or 409) in r when its
 * Idempotency-Key is known, so a retry within the same second gets its answer, not a 401. */
bool gw_idempotency_replay(gateway *g, const char *client, const char *key, gw_reply *r);

/* api.c */
void gw_reply_error(gw_reply *r, int status, const char *code, const char *field, const char *message);
void gw_post_report(gateway *g, const char *client, json_t *body, gw_reply *r);
void gw_post_action(gateway *g, const char *client, const char *ticket_id, json_t *body, gw_reply *r);
void gw_post_feedback(gateway *g, const char *client, const char *ticket_id, json_t *body, gw_reply *r);
void gw_get_report(gateway *g, const char *report_id, gw_reply *r);
void gw_get_categories(gateway *g, gw_reply *r);
/* Produces and waits for the acknowledgement: SQ_OK or SQ_RETRY. */
int gw_produce(gateway *g, const char *topic, const char *key, const void *buf, size_t len);

/* open311.c */
void gw_open311(gateway *g, const char *method, const char *path, const char *query_api_key,
                const char *body, size_t len, void *conn, gw_reply *r);

/* status.c */
gw_status *gw_status_start(gateway *g);
void gw_status_stop(gw_status *s);
/* JSON of the ticket a report became (following merges) into out: SQ_OK, SQ_NOTFOUND while unknown, or
 * SQ_RETRY when only PostgreSQL could answer and it does not. */
int gw_status_report(gw_status *s, const char *report_id, json_t **out);
int gw_status_open311(gw_status *s, const char *report_id, json_t **out);
/* Open311 list: over the tickets the cache holds (live ones and those final for less than status.keep_final_s). */
/* By status ("open"/"closed"/NULL) and creation time range (0 = open-ended), at most limit. */
json_t *gw_status_open311_list(gw_status *s, const char *status, int64_t from_us, int64_t to_us, int limit);
bool gw_status_ready(gw_status *s);

/* http.c */
int gw_http_start(gateway *g, char *err, size_t errlen);
void gw_http_stop(void);

#endif
