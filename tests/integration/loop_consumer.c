/*
 * loop_consumer — a test daemon on the shared consumer loop. It decodes
 * ResidentReport messages from one topic and, as its durable effect, adds each
 * event_id to a Redis set (idempotent) and counts every handling (not
 * idempotent). With --test-crash-after N it kills itself with SIGKILL right
 * after the effects of the batch that reaches N handlings are durable and
 * before the loop stores their offsets: the worst moment to die.
 *
 * With --test-async true it flushes the way the recorder does: flush_start hands the
 * batch to a thread that writes it while the loop handles the next batch, flush_done
 * joins it. With --test-fail-every N every Nth flush fails after writing half its
 * batch, so the loop must hand both batches (the failed one and the one filling
 * behind it) out again.
 */
#include "redis.h"
#include "service.h"
#include "shequ/v1/report.pb-c.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static sq_service svc;
static struct {
    char *topic;
    char *ns;
    long crash_after;
    long fail_every;
    bool async;
} t;

static sq_option opts[] = {
    SQ_OPTIONS_COMMON(&svc.cfg),
    { "test.topic", SQ_OPT_STR, NULL, 0, 0, "topic to consume", &t.topic, "" },
    { "test.ns", SQ_OPT_STR, "loop", 0, 0, "Redis key prefix", &t.ns, "" },
    { "test.crash_after", SQ_OPT_INT, "0", 0, 1000000000, "SIGKILL self after this many handlings (0 = never)", &t.crash_after, "" },
    { "test.fail_every", SQ_OPT_INT, "0", 0, 1000000, "fail every Nth flush halfway (0 = never)", &t.fail_every, "" },
    { "test.async", SQ_OPT_BOOL, "false", 0, 0, "flush in a thread while the next batch is handled", &t.async, "" },
    { 0 },
};

typedef struct {
    char **ids;
    size_t n, cap;
} idlist;

typedef struct {
    sq_redis *redis;
    idlist fill, out; /* handled since the last flush; being flushed (async) */
    long handled, flushes;
    pthread_t writer;
    bool writing;
    int written_rc;
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
    idlist *l = &a->fill;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->ids = realloc(l->ids, l->cap * sizeof *l->ids);
    }
    l->ids[l->n++] = strdup(r->header->event_id);
    shequ__v1__resident_report__free_unpacked(r, NULL);
    return SQ_OK;
}

static void clear(idlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->ids[i]);
    l->n = 0;
}

/* Writes the ids (SADD is idempotent, INCR counts every handling); every fail_every-th call fails halfway. */
static int write_ids(app_t *a, idlist *l)
{
    size_t n = l->n;
    bool fail = t.fail_every && ++a->flushes % t.fail_every == 0;
    if (fail)
        n /= 2;
    for (size_t i = 0; i < n; i++) {
        if (sq_redis_append(a->redis, "SADD %s:done %s", t.ns, l->ids[i]) != SQ_OK ||
            sq_redis_append(a->redis, "INCR %s:handled", t.ns) != SQ_OK)
            return SQ_RETRY;
    }
    for (size_t i = 0; i < 2 * n; i++) {
        redisReply *rep;
        if (sq_redis_reply(a->redis, &rep) != SQ_OK)
            return SQ_RETRY;
        freeReplyObject(rep);
    }
    if (fail) {
        log_warn("test.flush_failed", "wrote %zu of %zu", n, l->n);
        return SQ_RETRY;
    }
    a->handled += (long)n;
    log_info("test.flushed", "count=%zu handled=%ld", n, a->handled);
    if (t.crash_after && a->handled >= t.crash_after) {
        log_warn("test.crash", "handled=%ld: SIGKILL before offsets are stored", a->handled);
        kill(getpid(), SIGKILL);
    }
    return SQ_OK;
}

static void discard(void *arg)
{
    app_t *a = arg;
    if (a->writing)
        pthread_join(a->writer, NULL);
    a->writing = false;
    clear(&a->fill);
    clear(&a->out);
}

static int flush(void *arg)
{
    app_t *a = arg;
    int rc = write_ids(a, &a->fill);
    clear(&a->fill);
    return rc;
}

static void *writer_main(void *arg)
{
    app_t *a = arg;
    a->written_rc = write_ids(a, &a->out);
    return NULL;
}

static int flush_start(void *arg)
{
    app_t *a = arg;
    idlist l = a->out;
    a->out = a->fill;
    a->fill = l;
    a->writing = pthread_create(&a->writer, NULL, writer_main, a) == 0;
    return a->writing ? SQ_OK : SQ_RETRY;
}

static int flush_done(void *arg, int wait_ms)
{
    app_t *a = arg;
    if (a->writing) {
        if (sq_thread_join_ms(a->writer, wait_ms) != SQ_OK)
            return SQ_PENDING;
        a->writing = false;
        clear(&a->out);
    }
    return a->written_rc;
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
    if (t.async)
        h = (sq_handler){ .handle = handle, .flush_start = flush_start, .flush_done = flush_done, .discard = discard };
    rc = sq_consumer_run(c, &h, &app, &sq_running);
    sq_consumer_close(c);
    discard(&app);
    free(app.fill.ids);
    free(app.out.ids);
    sq_redis_free(app.redis);
    sq_service_close(&svc);
    return rc == SQ_OK ? 0 : 1;
}
