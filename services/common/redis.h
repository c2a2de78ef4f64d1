/*
 * redis.h — a Redis connection (hiredis 0.14) that reconnects, with
 * connect and command timeouts. Redis holds only caches, counters and
 * de-duplication keys here: callers must treat SQ_RETRY as "cache
 * unavailable" and fall back to the source of truth where they can.
 */
#ifndef SQ_REDIS_H
#define SQ_REDIS_H

#include "sq.h"

#include <hiredis/hiredis.h>

typedef struct sq_redis sq_redis;

/* url: redis://[:password@]host[:port][/db]. Does not connect. NULL on a bad URL (reason in err). */
sq_redis *sq_redis_new(const char *url, int timeout_ms, char *err, size_t errlen);
/* Connects if needed (at most once per backoff period, 100 ms doubling to 5 s). SQ_OK or SQ_RETRY. */
int sq_redis_connect(sq_redis *r, char *err, size_t errlen);
/*
 * Runs one command (hiredis format string). Returns the reply (caller frees
 * with freeReplyObject) or NULL when Redis is unreachable; on an I/O error
 * the connection is dropped and re-opened once before giving up.
 * A REDIS_REPLY_ERROR reply is returned as is.
 */
redisReply *sq_redis_cmd(sq_redis *r, const char *fmt, ...);
redisReply *sq_redis_cmdargv(sq_redis *r, int argc, const char **argv, const size_t *argvlen);
/*
 * Pipelining: queue commands with sq_redis_append*, then collect exactly as
 * many replies with sq_redis_reply. Any failure returns SQ_RETRY and drops the
 * connection; the caller starts the pipeline again.
 */
int sq_redis_append(sq_redis *r, const char *fmt, ...);
int sq_redis_appendargv(sq_redis *r, int argc, const char **argv, const size_t *argvlen);
int sq_redis_reply(sq_redis *r, redisReply **out);
/* Borrowed raw context (NULL when disconnected). */
redisContext *sq_redis_ctx(sq_redis *r);
void sq_redis_free(sq_redis *r);

/* Admin health check: a fresh short connection and PING (ctx is the URL). Thread-safe. */
int sq_redis_health(void *url, char *msg, size_t msglen);

#endif
