/*
 * compactor — tickets.v1 → tickets.changelog.v1: the events of live tickets, for bounded restores.
 */
#include "compactor.h"
#include "statelog.h"

static sq_service svc;
static long final_keep_h, history_keep_d;
static sq_option opts[] = {
    SQ_OPTIONS_COMMON(&svc.cfg),
    { "changelog.final_keep_h", SQ_OPT_INT, "48", 25, 24 * 365,
      "hours a closed, cancelled or merged ticket keeps all its events in the changelog (at least the alarm "
      "reopen window, 24 h)", &final_keep_h, "" },
    { "changelog.history_keep_d", SQ_OPT_INT, "31", 1, 3650,
      "days a finished ticket's last snapshot stays (at least the repeat window, 30 days)", &history_keep_d, "" },
    { 0 },
};

static compactor_options copts;

static void *new_model(void *arg, int32_t partition, const sq_streamclock *clock)
{
    return compactor_new(&copts, partition, clock);
}
static void free_model(void *c) { compactor_free(c); }
static size_t tickets(const void *c) { return compactor_ticket_count(c); }
static const sq_ticketmodel model = { new_model, free_model, compactor_apply_log, tickets, .changelog_only = true };

static const char usage[] = "usage: compactor [options]\n"
                            "Keeps tickets.changelog.v1: the events of every live ticket, so that the services\n"
                            "restore a partition from its live tickets instead of its whole history.";

int main(int argc, char **argv)
{
    int rc = sq_service_init(&svc, "compactor", opts, usage, argc, argv);
    if (rc != SQ_OK)
        return rc == 1 ? 0 : 2;
    /* a copy that failed must fail everything after it: the position written later must not cover it */
    static const char *const extra[] = { "enable.gapless.guarantee", "true", NULL };
    if (sq_service_open_producer(&svc, extra) != SQ_OK)
        return 2;
    const char *tickets_topic = sq_topic_name(&svc.cfg, "tickets.v1");
    copts = (compactor_options){ svc.producer, sq_topic_name(&svc.cfg, SQ_CHANGELOG_TOPIC),
                                 final_keep_h * 3600 * SQ_US_PER_S, history_keep_d * 86400 * SQ_US_PER_S };
    const char *subs[] = { tickets_topic, NULL };
    sq_handler h = { .handle = compactor_handle, .tick = compactor_tick };
    rc = sq_ticketmodel_run(&svc.cfg, svc.producer, tickets_topic, subs, &h, &model, NULL, &sq_running);
    sq_service_close(&svc);
    return rc == SQ_OK ? 0 : rc == SQ_INVALID ? 2 : 1;
}
