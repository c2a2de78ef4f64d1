/*
 * limits.c — what the gateway keeps in Redis, one connection per request thread: signatures seen
 * (replay protection), rate-limit counters and idempotency keys. A report costs four round trips:
 * admission (signature and client limit, pipelined), the reporter's limit, and the idempotency key's
 * reservation and answer.
 */
#include "gateway.h"

#include <stdio.h>
#include <string.h>

/* One Redis connection per request thread, closed when the thread ends (libmicrohttpd runs a
 * thread per HTTP connection, so a thread-local that outlived its thread would leak a socket). */
static pthread_key_t redis_key;
static pthread_once_t redis_once = PTHREAD_ONCE_INIT;

static void redis_close(void *r) { sq_redis_free(r); }
static void redis_key_init(void) { pthread_key_create(&redis_key, redis_close); }

sq_redis *gw_redis(gateway *g)
{
    pthread_once(&redis_once, redis_key_init);
    sq_redis *r = pthread_getspecific(redis_key);
    if (!r) {
        r = sq_redis_new(g->common->redis_url, 500, NULL, 0);
        pthread_setspecific(redis_key, r);
    }
    return r;
}

/* A per-minute limiter: its count and expiry (set once, by the minute's first request) are queued on a
 * pipeline, so they cost no round trip of their own. */
static int limit_append(sq_redis *rd, const gateway *g, const char *kind, const char *who, long minute)
{
    const char *px = g->common->redis_prefix;
    if (sq_redis_append(rd, "INCR %srl:%s:%s:%ld", px, kind, who, minute) != SQ_OK)
        return SQ_RETRY;
    return sq_redis_append(rd, "EXPIRE %srl:%s:%s:%ld 120 NX", px, kind, who, minute);
}

/* Reads the two replies limit_append queued: the count. SQ_RETRY when Redis failed. */
static int limit_read(sq_redis *rd, long long *count)
{
    redisReply *n = NULL, *expiry = NULL;
    int rc = sq_redis_reply(rd, &n) == SQ_OK && sq_redis_reply(rd, &expiry) == SQ_OK ? SQ_OK : SQ_RETRY;
    *count = rc == SQ_OK && n->type == REDIS_REPLY_INTEGER ? n->integer : 0;
    if (n)
        freeReplyObject(n);
    if (expiry)
        freeReplyObject(expiry);
    return rc;
}

/* 429 with Retry-After (the end of the minute) once count passes per_min. */
static bool over_limit(long long count, long per_min, const char *kind, long now, gw_reply *r)
{
    if (per_min <= 0 || count <= per_min)
        return false;
    gw_reply_error(r, 429, "rate_limited", kind, "too many requests; retry later");
    snprintf(r->retry_after, sizeof r->retry_after, "%ld", 60 - now % 60);
    return true;
}

bool gw_admit(gateway *g, const char *client, const char *sig, const char *idem, gw_reply *r)
{
    sq_redis *rd = gw_redis(g);
    long now = (long)(sq_now_us() / SQ_US_PER_S), per_min = g->cfg.rate_client_per_min;
    redisReply *seen = NULL;
    long long n = 0;
    bool ok = rd != NULL;
    if (ok && sig)
        ok = sq_redis_append(rd, "SET %ssig:%s 1 NX EX %ld", g->common->redis_prefix, sig, 2 * g->cfg.skew_s + 5) == SQ_OK;
    if (ok && per_min > 0)
        ok = limit_append(rd, g, "client", client, now / 60) == SQ_OK;
    if (ok && sig)
        ok = sq_redis_reply(rd, &seen) == SQ_OK;
    if (ok && per_min > 0)
        ok = limit_read(rd, &n) == SQ_OK;
    bool fresh = seen && seen->type == REDIS_REPLY_STATUS;
    if (seen)
        freeReplyObject(seen);
    if (sig && !ok) {
        gw_reply_error(r, 503, "unavailable", NULL, "replay protection unavailable");
        snprintf(r->retry_after, sizeof r->retry_after, "2");
        return false;
    }
    if (sig && !fresh) {
        if (idem && *idem && gw_idempotency_replay(g, client, idem, r))
            return false; /* the same request again: its first answer */
        gw_reply_error(r, 401, "replayed", "X-Shequ-Signature", "this signed request was already received");
        return false;
    }
    return !over_limit(n, per_min, "client", now, r);
}

bool gw_rate_limited(gateway *g, const char *kind, const char *who, long per_min, gw_reply *r)
{
    sq_redis *rd = gw_redis(g);
    long now = (long)(sq_now_us() / SQ_US_PER_S);
    long long n;
    if (!rd || per_min <= 0 || limit_append(rd, g, kind, who, now / 60) != SQ_OK || limit_read(rd, &n) != SQ_OK)
        return false; /* a limiter that is down does not stop residents reporting */
    return over_limit(n, per_min, kind, now, r);
}

/*
 * A request with a key is "pending <unix seconds>" while it runs. A gateway that died before recording the
 * answer leaves it pending: once it is older than any request can take (Kafka's message timeout, 30 s,
 * and then some), a retry takes the key over and is handled again. Its ids derive from the key
 * (gw_reply.id_seed), so what it writes is taken downstream as the first try's, if that reached Kafka.
 */
#define PENDING_STALE_S 60

static bool pending_stale(const char *v, long now)
{
    long since = 0;
    return strncmp(v, "pending", 7) == 0 && (v[7] == '\0' || sscanf(v + 7, " %ld", &since) != 1 ||
                                               now - since > PENDING_STALE_S);
}

/* A stored idempotency value into r: the first answer ("<status> <json>"), or 409 while it is pending. */
static bool stored_reply(const redisReply *rep, gw_reply *r)
{
    if (rep->type != REDIS_REPLY_STRING)
        return false;
    if (strncmp(rep->str, "pending", 7) == 0) {
        gw_reply_error(r, 409, "in_progress", "Idempotency-Key", "a request with this key is in progress");
        return true;
    }
    int status = 0;
    const char *sp = strchr(rep->str, ' ');
    sscanf(rep->str, "%d", &status);
    json_error_t e;
    r->status = status ? status : 200;
    r->body = sp ? json_loads(sp + 1, 0, &e) : NULL;
    return true;
}

bool gw_idempotency_begin(gateway *g, const char *client, const char *key, gw_reply *r)
{
    sq_redis *rd = gw_redis(g);
    long now = (long)(sq_now_us() / SQ_US_PER_S);
    char pending[40];
    snprintf(pending, sizeof pending, "pending %ld", now);
    redisReply *rep = rd ? sq_redis_cmd(rd, "SET %sidem:%s:%s %s NX EX %ld GET", g->common->redis_prefix, client,
                                        key, pending, g->cfg.idempotency_ttl_s)
                         : NULL;
    if (rep && rep->type == REDIS_REPLY_STRING && pending_stale(rep->str, now)) {
        /* its gateway died before answering: take the key over (compare-and-set on the value seen) */
        redisReply *old = rep;
        rep = sq_redis_cmd(rd, "EVAL %s 1 %sidem:%s:%s %s %s %ld",
                           "if redis.call('GET', KEYS[1]) == ARGV[1] then "
                           "return redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) else return false end",
                           g->common->redis_prefix, client, key, old->str, pending, g->cfg.idempotency_ttl_s);
        bool taken = rep && rep->type == REDIS_REPLY_STATUS;
        freeReplyObject(old);
        if (rep)
            freeReplyObject(rep);
        if (taken) {
            log_info("idempotency.taken_over", "client=%s (a request left pending over %d s)", client, PENDING_STALE_S);
            return false;
        }
        rep = sq_redis_cmd(rd, "GET %sidem:%s:%s", g->common->redis_prefix, client, key); /* another retry won */
    }
    if (rep && rep->type == REDIS_REPLY_ERROR) { /* Redis < 7: SET … GET with NX is refused */
        freeReplyObject(rep);
        rep = sq_redis_cmd(rd, "SET %sidem:%s:%s %s NX EX %ld", g->common->redis_prefix, client, key, pending,
                           g->cfg.idempotency_ttl_s);
        if (rep && rep->type == REDIS_REPLY_NIL) {
            freeReplyObject(rep);
            rep = sq_redis_cmd(rd, "GET %sidem:%s:%s", g->common->redis_prefix, client, key);
        } else if (rep) {
            freeReplyObject(rep);
            return false; /* reserved */
        }
    }
    if (!rep) {
        gw_reply_error(r, 503, "unavailable", NULL, "idempotency store unavailable");
        snprintf(r->retry_after, sizeof r->retry_after, "2");
        return true;
    }
    bool seen = stored_reply(rep, r);
    freeReplyObject(rep);
    return seen;
}

bool gw_idempotency_replay(gateway *g, const char *client, const char *key, gw_reply *r)
{
    sq_redis *rd = gw_redis(g);
    redisReply *rep = rd ? sq_redis_cmd(rd, "GET %sidem:%s:%s", g->common->redis_prefix, client, key) : NULL;
    bool seen = rep && stored_reply(rep, r);
    if (rep)
        freeReplyObject(rep);
    return seen;
}

void gw_idempotency_end(gateway *g, const char *client, const char *key, const gw_reply *r)
{
    sq_redis *rd = gw_redis(g);
    if (!rd)
        return;
    redisReply *rep;
    if (r->status >= 500) { /* nothing was written: the client may retry with the same key */
        rep = sq_redis_cmd(rd, "DEL %sidem:%s:%s", g->common->redis_prefix, client, key);
    } else {
        char *body = r->body ? json_dumps(r->body, JSON_COMPACT) : strdup("{}");
        char stored[8192];
        snprintf(stored, sizeof stored, "%d %s", r->status, body);
        free(body);
        rep = sq_redis_cmd(rd, "SET %sidem:%s:%s %s EX %ld", g->common->redis_prefix, client, key, stored,
                           g->cfg.idempotency_ttl_s);
    }
    if (rep)
        freeReplyObject(rep);
}
