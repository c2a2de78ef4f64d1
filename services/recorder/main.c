/*
 * recorder — tickets.v1, reports.resident.v1, alarms.device.v1, deadletter.v1 → PostgreSQL.
 */
#include "recorder.h"

static sq_service svc;
static long connections;
static sq_option opts[] = {
    SQ_OPTIONS_COMMON(&svc.cfg),
    { "pg.connections", SQ_OPT_INT, "2", 1, 16,
      "PostgreSQL connections a batch is written over at once (its tickets split between them)", &connections, "" },
    { 0 },
};

static const char usage[] = "usage: recorder [options]\n"
                            "Records tickets, their events, the inputs and the dead letters in PostgreSQL.";

int main(int argc, char **argv)
{
    int rc = sq_service_init(&svc, "recorder", opts, usage, argc, argv);
    if (rc != SQ_OK)
        return rc == 1 ? 0 : 2;
    char err[512];
    if (sq_service_open_producer(&svc, NULL) != SQ_OK)
        return 2;
    sq_admin_add_check(svc.admin, "postgres", sq_pg_health, svc.cfg.pg_dsn);
    recorder_topics topics = { sq_topic_name(&svc.cfg, "tickets.v1"), sq_topic_name(&svc.cfg, "reports.resident.v1"),
                               sq_topic_name(&svc.cfg, "alarms.device.v1"),
                               sq_topic_name(&svc.cfg, svc.cfg.topic_deadletter) };
    recorder *r = recorder_new(svc.cfg.pg_dsn, (int)connections, &topics);
    const char *subs[] = { topics.tickets, topics.reports, topics.alarms, topics.deadletter, NULL };
    sq_consumer *c = sq_consumer_new(&svc.cfg, subs, svc.producer, NULL, err, sizeof err);
    if (!c) {
        log_error("consumer.failed", "error=\"%s\"", err);
        return 2;
    }
    sq_handler h = { .handle = recorder_handle, .flush_start = recorder_flush_start,
                     .flush_done = recorder_flush_done, .discard = recorder_discard };
    rc = sq_consumer_run(c, &h, r, &sq_running);
    sq_consumer_close(c);
    recorder_free(r);
    sq_service_close(&svc);
    return rc == SQ_OK ? 0 : 1;
}
