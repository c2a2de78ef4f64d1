/*
 * workflow — events.property.v1 + feedback.resident.v1 → tickets.v1 + notify.v1.
 */
#include "pg.h"
#include "workflow.h"

static sq_service svc;
static long hold_s;
static bool reopen_on_unsatisfied;
static sq_option opts[] = {
    SQ_OPTIONS_COMMON(&svc.cfg),
    { "unknown_ticket_hold_s", SQ_OPT_INT, "30", 0, 3600,
      "how long an action for a ticket not seen yet is retried before it is dead-lettered", &hold_s, "" },
    { "reopen_on_unsatisfied", SQ_OPT_BOOL, "true", 0, 0, "an unsatisfied rating reopens the ticket",
      &reopen_on_unsatisfied, "" },
    { 0 },
};

/* What a partition's model is made of (sq_ticketmodel_run makes one per partition it is assigned). */
typedef struct {
    sq_rules **rules;
    const char *rules_path;
    sq_directory *dir;
    const sq_emitter *em;
    const workflow_options *o;
} model_ctx;

static void *new_model(void *arg, int32_t partition, const sq_streamclock *clock)
{
    model_ctx *m = arg;
    workflow *w = workflow_new(*m->rules, m->dir, m->em, m->o, partition, clock);
    if (!w)
        return NULL;
    workflow_watch_rules(w, m->rules_path, m->rules);
    return w;
}
static void free_model(void *w) { workflow_free(w); }
static size_t tickets(const void *w) { return workflow_ticket_count(w); }
static const sq_ticketmodel model = { new_model, free_model, workflow_apply_log, tickets };

static const char usage[] = "usage: workflow [options]\n"
                            "Applies staff actions and residents' ratings to tickets, enforcing the lifecycle.";

int main(int argc, char **argv)
{
    int rc = sq_service_init(&svc, "workflow", opts, usage, argc, argv);
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
    sq_pg *pg = sq_pg_new(svc.cfg.pg_dsn, 5, 10000, "workflow");
    sq_admin_add_check(svc.admin, "postgres", sq_pg_health, svc.cfg.pg_dsn);
    sq_directory *dir = sq_directory_new(pg);
    sq_directory_refresh(dir, 0);

    workflow_options o = { sq_topic_name(&svc.cfg, "events.property.v1"), sq_topic_name(&svc.cfg, "feedback.resident.v1"),
                           sq_topic_name(&svc.cfg, "tickets.v1"), hold_s * SQ_US_PER_S, reopen_on_unsatisfied };
    sq_emitter em = { svc.producer, o.tickets_topic, sq_topic_name(&svc.cfg, "notify.v1"), svc.cfg.service };
    model_ctx ctx = { &rules, rules_path, dir, &em, &o };
    /* the log first: a ticket event and an action of the same millisecond are read in that order (merge.c) */
    const char *subs[] = { o.tickets_topic, o.actions_topic, o.feedback_topic, NULL };
    sq_handler h = { .handle = workflow_handle, .tick = workflow_tick };
    rc = sq_ticketmodel_run(&svc.cfg, svc.producer, o.tickets_topic, subs, &h, &model, &ctx, &sq_running);

    sq_directory_free(dir);
    sq_pg_free(pg);
    sq_rules_free(rules);
    sq_service_close(&svc);
    return rc == SQ_OK ? 0 : rc == SQ_INVALID ? 2 : 1;
}
