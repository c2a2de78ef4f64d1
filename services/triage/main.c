/*
 * triage — reports.resident.v1 + alarms.device.v1 → tickets.v1 + notify.v1.
 */
#include "pg.h"
#include "triage.h"

#include <stdlib.h>

static sq_service svc;
static long dedupe_window_s;
static sq_option opts[] = {
    SQ_OPTIONS_COMMON(&svc.cfg),
    { "dedupe.window_s", SQ_OPT_INT, "3600", 60, 30 * 86400,
      "how long answered input ids are remembered after the newest answer (redeliveries are answered once)",
      &dedupe_window_s, "" },
    { 0 },
};

/* What a partition's model is made of (sq_ticketmodel_run makes one per partition it is assigned). */
typedef struct {
    sq_rules **rules;
    const char *rules_path;
    sq_directory *dir;
    const sq_emitter *em;
    const triage_topics *topics;
} model_ctx;

static void *new_model(void *arg, int32_t partition, const sq_streamclock *clock)
{
    model_ctx *m = arg;
    triage *t = triage_new(*m->rules, m->dir, m->em, m->topics, partition, clock);
    if (!t)
        return NULL;
    triage_watch_rules(t, m->rules_path, m->rules);
    triage_set_dedupe_window(t, dedupe_window_s * SQ_US_PER_S);
    return t;
}
static void free_model(void *t) { triage_free(t); }
static size_t tickets(const void *t) { return triage_ticket_count(t); }
static const sq_ticketmodel model = { new_model, free_model, triage_apply_log, tickets };

static const char usage[] = "usage: triage [options]\n"
                            "Classifies resident reports and device alarms into tickets with deadlines,\n"
                            "merges duplicates, flags repeats and assigns staff.";

int main(int argc, char **argv)
{
    int rc = sq_service_init(&svc, "triage", opts, usage, argc, argv);
    if (rc != SQ_OK)
        return rc == 1 ? 0 : 2;
    char err[512];
    const char *rules_path = *svc.cfg.rules_file ? svc.cfg.rules_file : "deploy/rules/shequ.rules";
    sq_rules *rules = sq_rules_load(rules_path, err, sizeof err);
    if (!rules) {
        log_error("rules.invalid", "error=\"%s\"", err);
        return 2;
    }
    if (sq_service_open_producer(&svc, NULL) != SQ_OK)
        return 2;
    sq_pg *pg = sq_pg_new(svc.cfg.pg_dsn, 5, 10000, "triage");
    sq_admin_add_check(svc.admin, "postgres", sq_pg_health, svc.cfg.pg_dsn);
    sq_directory *dir = sq_directory_new(pg);
    sq_directory_refresh(dir, 0);

    triage_topics topics = { sq_topic_name(&svc.cfg, "reports.resident.v1"), sq_topic_name(&svc.cfg, "alarms.device.v1"),
                             sq_topic_name(&svc.cfg, "tickets.v1"), sq_topic_name(&svc.cfg, "notify.v1") };
    sq_emitter em = { svc.producer, topics.tickets, topics.notify, svc.cfg.service };
    model_ctx ctx = { &rules, rules_path, dir, &em, &topics };
    /* the log first: a ticket event and an input of the same millisecond are read in that order (merge.c) */
    const char *subs[] = { topics.tickets, topics.reports, topics.alarms, NULL };
    sq_handler h = { .handle = triage_handle, .tick = triage_tick };
    rc = sq_ticketmodel_run(&svc.cfg, svc.producer, topics.tickets, subs, &h, &model, &ctx, &sq_running);

    sq_directory_free(dir);
    sq_pg_free(pg);
    sq_rules_free(rules);
    sq_service_close(&svc);
    return rc == SQ_OK ? 0 : rc == SQ_INVALID ? 2 : 1;
}
