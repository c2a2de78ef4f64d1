/*
 * loop_consumer — a test daemon on the shared consumer loop. It decodes
 * ResidentReport messages from one topic and, as its durable effect, adds each
 * event_id to a Redis set (idempotent) and counts every handling (not
 * idempotent). With --test-crash-after N it kills itself with SIGKILL right
 * after the effects of the batch that reaches N handlings are durable and
 * before the loop stores their offsets: the worst moment to die.
 */
#include "redis.h"
#include "service.h"
#include "shequ/v1/report.pb-c.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static sq_service svc;
static struct {
    char *topic;
    char *ns;
    long crash_after;
} t;

static sq_option opts[] = {
    SQ_OPTIONS_COMMON(&svc.cfg),
    { "test.topic", SQ_OPT_STR, NULL, 0, 0, "topic to consume", &t.topic, "" },
    { "test.ns", SQ_OPT_STR, "loop", 0, 0, "Redis key prefix", &t.ns, "" },
    { "test.crash_after", SQ_OPT_INT, "0", 0, 1000000000, "SIGKILL self after this many handlings (0 = never)", &t.crash_after, "" },
    { 0 },
};

typedef struct {
    sq_redis *redis;
    char **ids;
    size_t n, cap;
    long handled;
} app_t;

static int handle(void *arg, const rd_kafka_message_t *m, char *reason, size_t rlen, char *detail, size_t dlen)
{
    app_t *a = arg;
    Shequ__V1__ResidentReport *r = shequ__v1__resident_report__unpack(NULL, m->len, m->payload);
    if (!r)
        return sq_fail(detail, dlen, sq_fail(reason, rlen, SQ_INVALID, "decode_error"), "not a ResidentReport");
    if (!r->header || !*r->header->event_id) {
        shequ__v1__resident_report__free_unpacked(r, NULL);
        return sq_fail(detail, dlen, sq_fail(reason, rlen, SQ_INVALID, "missing_field"), "header.event_id is empty");
    }
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 64;
        a->ids = realloc(a->ids, a->cap * sizeof *a->ids);
    }
    a->ids[a->n++] = strdup(r->header->event_id);
    shequ__v1__resident_report__free_unpacked(r, NULL);
    return SQ_OK;
}

static void discard(void *arg)
{
    app_t *a = arg;
    for (size_t i = 0; i < a->n; i++)
        free(a->ids[i]);
    a->n = 0;
}

static int flush(void *arg)
{
    app_t *a = arg;
    for (size_t i = 0; i < a->n; i++) {
        if (sq_redis_append(a->redis, "SADD %s:done %s", t.ns, a->ids[i]) != SQ_OK ||
            sq_redis_append(a->redis, "INCR %s:handled", t.ns) != SQ_OK)
            return SQ_RETRY;
    }
    for (size_t i = 0; i < 2 * a->n; i++) {
        redisReply *rep;
        if (sq_redis_reply(a->redis, &rep) != SQ_OK)
            return SQ_RETRY;
        freeReplyObject(rep);
    }
    a->handled += (long)a->n;
    log_info("test.flushed", "count=%zu handled=%ld", a->n, a->handled);
    discard(a);
    if (t.crash_after && a->handled >= t.crash_after) {
        log_warn("test.crash", "handled=%ld: SIGKILL before offsets are stored", a->handled);
        kill(getpid(), SIGKILL);
    }
    return SQ_OK;
}

int main(int argc, char **argv)
{
    int rc = sq_service_init(&svc, "loop-consumer", opts, "usage: loop_consumer --test-topic T [options]", argc, argv);
    if (rc != SQ_OK)
        return rc == 1 ? 0 : 2;
    char err[256];
    app_t app = { .redis = sq_redis_new(svc.cfg.redis_url, 2000, err, sizeof err) };
    if (!app.redis || sq_service_open_producer(&svc, NULL) != SQ_OK)
        return 2;
    const char *topics[] = { t.topic, NULL };
    sq_consumer *c = sq_consumer_new(&svc.cfg, topics, svc.producer, NULL, err, sizeof err);
    if (!c) {
        log_error("consumer.failed", "error=\"%s\"", err);
        return 2;
    }
    sq_handler h = { .handle = handle, .flush = flush, .discard = discard };
    rc = sq_consumer_run(c, &h, &app, &sq_running);
    sq_consumer_close(c);
    discard(&app);
    free(app.ids);
    sq_redis_free(app.redis);
    sq_service_close(&svc);
    return rc == SQ_OK ? 0 : 1;
}
