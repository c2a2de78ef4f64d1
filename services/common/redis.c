/*
 * redis.c — reconnecting hiredis context.
 */
#include "redis.h"
#include "log.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sq_redis {
    char host[256];
    int port;
    int db;
    char password[128];
    int timeout_ms;
    redisContext *ctx;
    int64_t next_attempt_us;
    long backoff_ms;
    bool was_down;
};

static int parse_url(const char *url, char *host, size_t hostlen, int *port, int *db,
                     char *pw, size_t pwlen)
{
    const char *p = url;
    if (strncmp(p, "redis://", 8) != 0)
        return SQ_INVALID;
    p += 8;
    *port = 6379;
    *db = 0;
    pw[0] = '\0';
    const char *at = strchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *ps = colon ? colon + 1 : p;
        snprintf(pw, pwlen, "%.*s", (int)(at - ps), ps);
        p = at + 1;
    }
    size_t hl = strcspn(p, ":/");
    if (hl == 0 || hl >= hostlen)
        return SQ_INVALID;
    memcpy(host, p, hl);
    host[hl] = '\0';
    p += hl;
    if (*p == ':') {
        char *end;
        long v = strtol(p + 1, &end, 10);
        if (end == p + 1 || v < 1 || v > 65535)
            return SQ_INVALID;
        *port = (int)v;
        p = end;
    }
    if (*p == '/' && p[1]) {
        char *end;
        long v = strtol(p + 1, &end, 10);
        if (*end || v < 0 || v > 15)
            return SQ_INVALID;
        *db = (int)v;
    }
    return SQ_OK;
}

sq_redis *sq_redis_new(const char *url, int timeout_ms, char *err, size_t errlen)
{
    sq_redis *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    if (parse_url(url ? url : "", r->host, sizeof r->host, &r->port, &r->db, r->password,
                  sizeof r->password) != SQ_OK) {
        sq_fail(err, errlen, SQ_INVALID, "redis url '%s' is not redis://[:password@]host[:port][/db]", url ? url : "");
        free(r);
        return NULL;
    }
    r->timeout_ms = timeout_ms > 0 ? timeout_ms : 1000;
    r->backoff_ms = 100;
    return r;
}

static void drop(sq_redis *r)
{
    if (r->ctx) {
        redisFree(r->ctx);
        r->ctx = NULL;
    }
}

redisContext *sq_redis_ctx(sq_redis *r) { return r->ctx; }

static int handshake(sq_redis *r, char *err, size_t errlen)
{
    redisReply *rep;
    if (r->password[0]) {
        rep = redisCommand(r->ctx, "AUTH %s", r->password);
        bool ok = rep && rep->type != REDIS_REPLY_ERROR;
        if (rep)
            freeReplyObject(rep);
        if (!ok)
            return sq_fail(err, errlen, SQ_RETRY, "redis: AUTH failed");
    }
    if (r->db) {
        rep = redisCommand(r->ctx, "SELECT %d", r->db);
        bool ok = rep && rep->type != REDIS_REPLY_ERROR;
        if (rep)
            freeReplyObject(rep);
        if (!ok)
            return sq_fail(err, errlen, SQ_RETRY, "redis: SELECT %d failed", r->db);
    }
    return SQ_OK;
}

int sq_redis_connect(sq_redis *r, char *err, size_t errlen)
{
    if (r->ctx && !r->ctx->err)
        return SQ_OK;
    drop(r);
    int64_t now = sq_mono_us();
    if (now < r->next_attempt_us)
        return sq_fail(err, errlen, SQ_RETRY, "redis: waiting before reconnecting");
    struct timeval tv = { r->timeout_ms / 1000, (r->timeout_ms % 1000) * 1000 };
    r->ctx = redisConnectWithTimeout(r->host, r->port, tv);
    char msg[200] = "out of memory";
    if (r->ctx && !r->ctx->err) {
        redisSetTimeout(r->ctx, tv);
        if (handshake(r, msg, sizeof msg) == SQ_OK) {
            if (r->was_down)
                log_info("redis.reconnected", "host=%s port=%d", r->host, r->port);
            r->was_down = false;
            r->backoff_ms = 100;
            return SQ_OK;
        }
    } else if (r->ctx) {
        snprintf(msg, sizeof msg, "%s", r->ctx->errstr);
    }
    drop(r);
    r->next_attempt_us = now + r->backoff_ms * 1000;
    r->backoff_ms = r->backoff_ms * 2 > 5000 ? 5000 : r->backoff_ms * 2;
    if (!r->was_down)
        log_warn("redis.down", "host=%s port=%d error=\"%s\"", r->host, r->port, msg);
    r->was_down = true;
    return sq_fail(err, errlen, SQ_RETRY, "redis: %s", msg);
}

redisReply *sq_redis_cmdargv(sq_redis *r, int argc, const char **argv, const size_t *argvlen)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (sq_redis_connect(r, NULL, 0) != SQ_OK)
            return NULL;
        redisReply *rep = redisCommandArgv(r->ctx, argc, argv, argvlen);
        if (rep)
            return rep;
        drop(r);
        r->next_attempt_us = 0; /* the server was there a moment ago: retry at once */
    }
    return NULL;
}

redisReply *sq_redis_cmd(sq_redis *r, const char *fmt, ...)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (sq_redis_connect(r, NULL, 0) != SQ_OK)
            return NULL;
        va_list ap;
        va_start(ap, fmt);
        redisReply *rep = redisvCommand(r->ctx, fmt, ap);
        va_end(ap);
        if (rep)
            return rep;
        drop(r);
        r->next_attempt_us = 0;
    }
    return NULL;
}

int sq_redis_append(sq_redis *r, const char *fmt, ...)
{
    if (sq_redis_connect(r, NULL, 0) != SQ_OK)
        return SQ_RETRY;
    va_list ap;
    va_start(ap, fmt);
    int rc = redisvAppendCommand(r->ctx, fmt, ap);
    va_end(ap);
    return rc == REDIS_OK ? SQ_OK : SQ_RETRY;
}

int sq_redis_appendargv(sq_redis *r, int argc, const char **argv, const size_t *argvlen)
{
    if (sq_redis_connect(r, NULL, 0) != SQ_OK)
        return SQ_RETRY;
    return redisAppendCommandArgv(r->ctx, argc, argv, argvlen) == REDIS_OK ? SQ_OK : SQ_RETRY;
}

int sq_redis_reply(sq_redis *r, redisReply **out)
{
    void *rep = NULL;
    *out = NULL;
    if (!r->ctx || redisGetReply(r->ctx, &rep) != REDIS_OK || !rep) {
        drop(r);
        r->next_attempt_us = 0;
        return SQ_RETRY;
    }
    *out = rep;
    return SQ_OK;
}

void sq_redis_free(sq_redis *r)
{
    if (!r)
        return;
    drop(r);
    free(r);
}

int sq_redis_health(void *url, char *msg, size_t msglen)
{
    sq_redis *r = sq_redis_new(url, 1000, msg, msglen);
    if (!r)
        return SQ_RETRY;
    redisReply *rep = sq_redis_cmd(r, "PING");
    int rc = rep && rep->type != REDIS_REPLY_ERROR ? SQ_OK : sq_fail(msg, msglen, SQ_RETRY, "redis does not answer");
    if (rep)
        freeReplyObject(rep);
    sq_redis_free(r);
    return rc;
}
