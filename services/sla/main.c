/*
 * sla — tickets.v1 → sla_warning / sla_breached / escalated on tickets.v1, and notify.v1.
 */
#include "pg.h"
#include "sla.h"

static sq_service svc;
static char *ladder_spec;
static sq_option opts[] = {
    SQ_OPTIONS_COMMON(&svc.cfg),
    { "ladder", SQ_OPT_STR, "default=0.8,1,2,3", 0, 0,
      "per tier: warning and escalation levels 1-3 as fractions of the clock, e.g. "
      "'default=0.8,1,2,3;urgent=0.5,1,1.5,2'", &ladder_spec, "" },
    { 0 },
};

/* What a partition's model is made of (sq_ticketmodel_run makes one per partition it is assigned). */
typedef struct {
    const sla_ladders *ladders;
    const sq_rules *rules;
    sq_directory *dir;
    const sq_emitter *em;
    const char *tickets;
} model_ctx;

static void *new_model(void *arg, int32_t partition, const sq_streamclock *clock)
{
    model_ctx *m = arg;
    return sla_new(m->ladders, m->rules, m->dir, m->em, m->tickets, partition, clock);
}
static void free_model(void *s) { sla_free(s); }
static size_t clocks(const void *s) { return sla_clock_count(s); }
static const sq_ticketmodel model = { new_model, free_model, sla_apply_log, clocks };

static const char usage[] = "usage: sla [options]\n"
                            "Watches every ticket's clocks; warns, reports breaches and escalates up the ladder.";

int main(int argc, char **argv)
{
    int rc = sq_service_init(&svc, "sla", opts, usage, argc, argv);
    if (rc != SQ_OK)
        return rc == 1 ? 0 : 2;
    char err[512];
    sla_ladders ladders;
    if (sla_ladders_parse(ladder_spec, &ladders, err, sizeof err) != SQ_OK) {
        log_error("config.invalid", "option 'ladder': %s", err);
        return 2;
    }
    sq_rules *rules = sq_rules_load(*svc.cfg.rules_file ? svc.cfg.rules_file : "deploy/rules/shequ.rules", err, sizeof err);
    if (!rules) {
        log_error("config.invalid", "error=\"%s\"", err);
        return 2;
    }
    if (sq_service_open_producer(&svc, NULL) != SQ_OK)
        return 2;
    sq_pg *pg = sq_pg_new(svc.cfg.pg_dsn, 5, 10000, "sla");
    sq_admin_add_check(svc.admin, "postgres", sq_pg_health, svc.cfg.pg_dsn);
    sq_directory *dir = sq_directory_new(pg);
    sq_directory_refresh(dir, 0);
    const char *tickets = sq_topic_name(&svc.cfg, "tickets.v1");
    sq_emitter em = { svc.producer, tickets, sq_topic_name(&svc.cfg, "notify.v1"), svc.cfg.service };
    model_ctx ctx = { &ladders, rules, dir, &em, tickets };
    const char *subs[] = { tickets, NULL };
    sq_handler h = { .handle = sla_handle, .tick = sla_tick };
    rc = sq_ticketmodel_run(&svc.cfg, svc.producer, tickets, subs, &h, &model, &ctx, &sq_running);
    sq_rules_free(rules);
    sq_directory_free(dir);
    sq_pg_free(pg);
    sq_service_close(&svc);
    return rc == SQ_OK ? 0 : rc == SQ_INVALID ? 2 : 1;
}
