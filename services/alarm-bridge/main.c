/*
 * alarm-bridge — MQTT devices/+/+/alarm → alarms.device.v1.
 */
#include "bridge.h"
#include "mqtt.h"
#include "service.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static sq_service svc;
static char *client_id, *share_group, *persist_dir;
static long connections, processes;
static bool await_delivery;
static sq_option opts[] = {
    SQ_OPTIONS_COMMON(&svc.cfg),
    { "mqtt.client_id", SQ_OPT_STR, "shequ-alarm-bridge", 0, 0, "fixed MQTT client id prefix (persistent sessions); with 'instance' set the prefix is <this>-<instance>, stable per instance", &client_id, "" },
    { "mqtt.share_group", SQ_OPT_STR, "shequ-bridge", 0, 0, "shared subscription group: bridges in one group split the load", &share_group, "" },
    { "mqtt.persist_dir", SQ_OPT_STR, NULL, 0, 0, "directory for Paho's in-flight message store (empty = memory)", &persist_dir, "" },
    { "mqtt.connections", SQ_OPT_INT, "4", 1, 64, "MQTT connections in the shared subscription (Paho runs their callbacks on one thread: no parallel Kafka waits)", &connections, "" },
    { "mqtt.processes", SQ_OPT_INT, "8", 1, 64, "worker processes, each with its own connections: Paho serialises the callbacks (and so the Kafka waits) of one process, so throughput grows with processes", &processes, "" },
    { "kafka.await_delivery", SQ_OPT_BOOL, "true", 0, 0, "acknowledge MQTT only after Kafka confirmed; false only measures what at-least-once costs (a crash then loses the alarms not yet on Kafka)", &await_delivery, "" },
    { 0 },
};

static const char usage[] = "usage: alarm-bridge [options]\nBridges device alarms from MQTT to Kafka, at least once.";

/* ------------------------------------------------------------ supervisor */

static pid_t workers[64];
/* This process's client id prefix: mqtt.client_id with the instance's name, so that the bridges of two
 * instances neither share a session nor take each other's connections. A worker is given its full prefix
 * by its supervisor (which already holds the instance's name). */
static char id_prefix[160];

static pid_t start_worker(int argc, char **argv, long i)
{
    char id[200], dir[600], *args[256];
    snprintf(id, sizeof id, "%s-p%ld", id_prefix, i);
    snprintf(dir, sizeof dir, "%s%s%ld", persist_dir, *persist_dir ? "/p" : "", i);
    if (*persist_dir)
        mkdir(dir, 0700);
    int n = 0;
    for (int k = 0; k < argc && n < 240; k++)
        args[n++] = argv[k];
    /* later flags win: each worker is one process with its own client ids, store and no admin port */
    char *extra[] = { "--mqtt-processes", "1", "--admin-port", "0", "--mqtt-client-id", id,
                      "--mqtt-persist-dir", *persist_dir ? dir : "", NULL };
    for (int k = 0; extra[k]; k++)
        args[n++] = extra[k];
    args[n] = NULL;
    /* the worker dies with its supervisor (kill -9 included): no orphan keeps the client ids */
    char parent[64], *env[512];
    snprintf(parent, sizeof parent, "SHEQU_BRIDGE_SUPERVISOR=%d", (int)getpid());
    int e = 0;
    for (char **v = environ; *v && e < 510; v++)
        if (strncmp(*v, "SHEQU_BRIDGE_SUPERVISOR=", 24) != 0)
            env[e++] = *v;
    env[e++] = parent;
    env[e] = NULL;
    pid_t pid = 0;
    if (posix_spawn(&pid, "/proc/self/exe", NULL, NULL, args, env) != 0)
        return 0;
    log_info("bridge.worker_started", "worker=%ld pid=%d client_id=%s", i, (int)pid, id);
    return pid;
}

static int workers_alive(void *ctx, char *msg, size_t len)
{
    for (long i = 0; i < processes; i++)
        if (!workers[i] || kill(workers[i], 0) != 0)
            return sq_fail(msg, len, SQ_RETRY, "worker %ld is not running", i);
    return SQ_OK;
}

/* Runs the workers, restarts one that dies (at most once a second each), stops them on SIGTERM. */
static int supervise(int argc, char **argv)
{
    if (*persist_dir)
        mkdir(persist_dir, 0700);
    int64_t started[64] = { 0 };
    for (long i = 0; i < processes; i++) {
        workers[i] = start_worker(argc, argv, i);
        started[i] = sq_mono_us();
    }
    sq_admin_add_check(svc.admin, "workers", workers_alive, NULL);
    log_info("bridge.supervising", "workers=%ld connections_each=%ld", processes, connections);
    while (sq_running) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        for (long i = 0; pid > 0 && i < processes; i++)
            if (workers[i] == pid) {
                log_warn("bridge.worker_exited", "worker=%ld pid=%d status=%d (restarting)", i, (int)pid, status);
                workers[i] = 0;
            }
        for (long i = 0; i < processes; i++)
            if (!workers[i] && sq_mono_us() - started[i] > SQ_US_PER_S) {
                workers[i] = start_worker(argc, argv, i);
                started[i] = sq_mono_us();
            }
        sq_sleep_ms(200);
    }
    for (long i = 0; i < processes; i++)
        if (workers[i])
            kill(workers[i], SIGTERM);
    for (long i = 0; i < processes; i++)
        if (workers[i])
            waitpid(workers[i], NULL, 0);
    sq_service_close(&svc);
    return 0;
}

/* ---------------------------------------------------------------- worker */

int main(int argc, char **argv)
{
    const char *supervisor = getenv("SHEQU_BRIDGE_SUPERVISOR");
    if (supervisor) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != (pid_t)atoi(supervisor))
            return 0; /* the supervisor is already gone */
    }
    int rc = sq_service_init(&svc, "alarm-bridge", opts, usage, argc, argv);
    if (rc != SQ_OK)
        return rc == 1 ? 0 : 2;
    if (supervisor)
        snprintf(id_prefix, sizeof id_prefix, "%s", client_id);
    else
        sq_mqtt_client_id(id_prefix, sizeof id_prefix, client_id, svc.cfg.instance);
    if (processes > 1)
        return supervise(argc, argv);
    char err[512];
    sq_rules *rules = sq_rules_load(*svc.cfg.rules_file ? svc.cfg.rules_file : "deploy/rules/shequ.rules", err, sizeof err);
    if (!rules) {
        log_error("rules.invalid", "error=\"%s\"", err);
        return 2;
    }
    const char *extra[] = { "linger.ms", "0", "message.timeout.ms", "10000", "socket.nagle.disable", "true", NULL };
    if (sq_service_open_producer(&svc, extra) != SQ_OK || sq_producer_start_poller(svc.producer) != SQ_OK)
        return 2;
    bridge_options bo = { svc.producer, rules, sq_topic_name(&svc.cfg, "alarms.device.v1"),
                          sq_topic_name(&svc.cfg, svc.cfg.topic_deadletter), svc.cfg.service, await_delivery };
    bridge *b = bridge_new(&bo);
    char filter[256];
    snprintf(filter, sizeof filter, "$share/%s/devices/+/+/alarm", share_group);
    sq_mqtt *clients[64] = { 0 };
    for (long i = 0; i < connections; i++) {
        char id[200], dir[512];
        snprintf(id, sizeof id, "%s-%ld", id_prefix, i);
        snprintf(dir, sizeof dir, "%s", persist_dir);
        sq_mqtt_options mo = { .host = svc.cfg.mqtt_host, .port = (int)svc.cfg.mqtt_port, .client_id = id,
                               .user = svc.cfg.mqtt_user, .password = svc.cfg.mqtt_password, .clean_session = false,
                               .persist_dir = *persist_dir ? dir : NULL, .max_inflight = 100 };
        clients[i] = sq_mqtt_new(&mo, err, sizeof err);
        if (!clients[i]) {
            log_error("mqtt.failed", "error=\"%s\"", err);
            return 2;
        }
        sq_mqtt_on_message(clients[i], bridge_on_message, b);
        if (sq_mqtt_connect(clients[i], 30000, err, sizeof err) != SQ_OK) {
            log_error("mqtt.failed", "client=%s error=\"%s\"", id, err);
            _exit(2); /* Paho's threads are running: do not run exit handlers under them */
        }
        /* A persistent session may already be delivering its backlog, which delays the SUBACK: the
         * subscription is remembered either way and renewed on every reconnect. */
        if (sq_mqtt_subscribe(clients[i], filter, 1, 3000, err, sizeof err) != SQ_OK)
            log_warn("mqtt.subscribe_slow", "client=%s error=\"%s\" (kept; renewed on reconnect)", id, err);
        sq_admin_add_check(svc.admin, "mqtt", sq_mqtt_health, clients[i]);
    }
    log_info("bridge.running", "filter=%s connections=%ld await_delivery=%s", filter, connections,
             await_delivery ? "true" : "false");
    while (sq_running && !sq_producer_fatal(svc.producer))
        sq_sleep_ms(200);
    for (long i = 0; i < connections; i++)
        sq_mqtt_free(clients[i]);
    bridge_free(b);
    sq_rules_free(rules);
    sq_service_close(&svc);
    return 0;
}
