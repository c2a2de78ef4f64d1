/*
 * testsupport.c — see testsupport.h.
 */
#include "testsupport.h"
#include "util.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

const char *ts_env(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v)
        fail_msg("%s is not set: run integration tests through `tools/dev test` "
                 "(or eval \"$(tools/dev env)\" after `tools/dev up`)", name);
    return v;
}

void ts_unique(char *out, size_t outlen, const char *prefix)
{
    char u[SQ_UUID_LEN];
    sq_uuid4(u);
    snprintf(out, outlen, "%s.%d.%.8s", prefix, (int)getpid(), u);
}

static rd_kafka_t *admin_client(void)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", ts_env("KAFKA_BROKERS"), err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk)
        fail_msg("kafka client: %s", err);
    return rk;
}

static bool topic_exists(rd_kafka_t *rk, const char *topic, int partitions)
{
    const struct rd_kafka_metadata *md;
    if (rd_kafka_metadata(rk, 1, NULL, &md, 5000))
        return false;
    bool ok = false;
    for (int i = 0; i < md->topic_cnt; i++)
        if (strcmp(md->topics[i].topic, topic) == 0 && md->topics[i].err == 0 &&
            md->topics[i].partition_cnt == partitions)
            ok = true;
    rd_kafka_metadata_destroy(md);
    return ok;
}

/* config: name, value, name, value, ..., NULL (or NULL for none). */
static int create_topic(const char *topic, int partitions, const char *const *config)
{
    rd_kafka_t *rk = admin_client();
    char err[256];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, 1, err, sizeof err);
    for (size_t i = 0; config && config[i] && config[i + 1]; i += 2)
        if (rd_kafka_NewTopic_set_config(nt, config[i], config[i + 1]))
            fail_msg("topic %s: configuration %s=%s refused", topic, config[i], config[i + 1]);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 15000);
    int rc = -1;
    if (ev) {
        const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
        size_t n;
        const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &n);
        rc = (n == 1 && (rd_kafka_topic_result_error(tr[0]) == 0 ||
                         rd_kafka_topic_result_error(tr[0]) == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)) ? 0 : -1;
        rd_kafka_event_destroy(ev);
    }
    for (int i = 0; rc == 0 && i < 100 && !topic_exists(rk, topic, partitions); i++)
        sq_sleep_ms(100);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return rc;
}

int ts_create_topic(const char *topic, int partitions) { return create_topic(topic, partitions, NULL); }

int ts_delete_topic(const char *topic)
{
    rd_kafka_t *rk = admin_client();
    rd_kafka_DeleteTopic_t *dt = rd_kafka_DeleteTopic_new(topic);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_DeleteTopics(rk, &dt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 15000);
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_DeleteTopic_destroy(dt);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return ev ? 0 : -1;
}

int ts_topic_config(const char *topic, const char *name, const char *value)
{
    rd_kafka_t *rk = admin_client();
    rd_kafka_ConfigResource_t *cr = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
    rd_kafka_ConfigResource_set_config(cr, name, value);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AlterConfigs(rk, &cr, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 15000);
    int rc = -1;
    if (ev) {
        size_t n;
        const rd_kafka_ConfigResource_t **res =
            rd_kafka_AlterConfigs_result_resources(rd_kafka_event_AlterConfigs_result(ev), &n);
        rc = rd_kafka_event_error(ev) == 0 && n == 1 && rd_kafka_ConfigResource_error(res[0]) == 0 ? 0 : -1;
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_ConfigResource_destroy(cr);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return rc;
}

int ts_topic_config_get(const char *topic, const char *name, char *out, size_t outlen, bool *own)
{
    rd_kafka_t *rk = admin_client();
    rd_kafka_ConfigResource_t *cr = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_DescribeConfigs(rk, &cr, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 15000);
    int rc = -1;
    if (ev && rd_kafka_event_error(ev) == 0) {
        size_t n, nc;
        const rd_kafka_ConfigResource_t **res =
            rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &n);
        const rd_kafka_ConfigEntry_t **entries =
            n == 1 && rd_kafka_ConfigResource_error(res[0]) == 0 ? rd_kafka_ConfigResource_configs(res[0], &nc) : NULL;
        for (size_t i = 0; entries && i < nc; i++) {
            if (strcmp(rd_kafka_ConfigEntry_name(entries[i]), name) != 0)
                continue;
            const char *v = rd_kafka_ConfigEntry_value(entries[i]);
            snprintf(out, outlen, "%s", v ? v : "");
            if (own)
                *own = rd_kafka_ConfigEntry_source(entries[i]) == RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG;
            rc = 0;
        }
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_ConfigResource_destroy(cr);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return rc;
}

int ts_produce(const char *topic, const void *key, size_t keylen, const void *val, size_t len)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", ts_env("KAFKA_BROKERS"), err, sizeof err);
    rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    rd_kafka_resp_err_t e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, keylen),
                                              RD_KAFKA_V_VALUE((void *)val, len),
                                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (!e)
        e = rd_kafka_flush(rk, 15000);
    rd_kafka_destroy(rk);
    return e ? -1 : 0;
}

int64_t ts_end_offsets(const char *topic)
{
    rd_kafka_t *rk = admin_client();
    const struct rd_kafka_metadata *md;
    int64_t sum = 0;
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    if (rd_kafka_metadata(rk, 0, t, &md, 5000) == 0) {
        for (int p = 0; md->topic_cnt == 1 && p < md->topics[0].partition_cnt; p++) {
            int64_t lo, hi;
            if (rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 5000) == 0)
                sum += hi;
        }
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(t);
    rd_kafka_destroy(rk);
    return sum;
}

int64_t ts_copy_topic(const char *from, const char *to)
{
    char err[256], group[128];
    rd_kafka_t *meta = admin_client();
    const struct rd_kafka_metadata *md;
    rd_kafka_topic_t *t = rd_kafka_topic_new(meta, from, NULL);
    int nparts = 0;
    if (rd_kafka_metadata(meta, 0, t, &md, 5000) == 0) {
        if (md->topic_cnt == 1 && md->topics[0].err == 0)
            nparts = md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(t);
    if (nparts <= 0 || nparts > 256) {
        rd_kafka_destroy(meta);
        return -1;
    }
    int64_t lo[256], hi[256], left = 0;
    for (int p = 0; p < nparts; p++) {
        if (rd_kafka_query_watermark_offsets(meta, from, p, &lo[p], &hi[p], 5000) != 0) {
            rd_kafka_destroy(meta);
            return -1;
        }
        left += hi[p] - lo[p];
    }
    rd_kafka_destroy(meta);

    rd_kafka_conf_t *pc = rd_kafka_conf_new();
    rd_kafka_conf_set(pc, "bootstrap.servers", ts_env("KAFKA_BROKERS"), err, sizeof err);
    rd_kafka_conf_set(pc, "enable.idempotence", "true", err, sizeof err); /* keeps each partition's order */
    rd_kafka_conf_set(pc, "linger.ms", "5", err, sizeof err);
    rd_kafka_t *prod = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof err);

    ts_unique(group, sizeof group, "test.copy");
    rd_kafka_conf_t *cc = rd_kafka_conf_new();
    rd_kafka_conf_set(cc, "bootstrap.servers", ts_env("KAFKA_BROKERS"), err, sizeof err);
    rd_kafka_conf_set(cc, "group.id", group, err, sizeof err);
    rd_kafka_conf_set(cc, "enable.auto.commit", "false", err, sizeof err);
    rd_kafka_t *cons = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, sizeof err);
    if (!prod || !cons)
        return -1;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(nparts);
    for (int p = 0; p < nparts; p++)
        if (hi[p] > lo[p])
            rd_kafka_topic_partition_list_add(l, from, p)->offset = lo[p];
    rd_kafka_assign(cons, l);
    rd_kafka_topic_partition_list_destroy(l);
    int64_t copied = 0, deadline = sq_mono_us() + 120 * 1000000LL;
    bool failed = false;
    while (left > 0 && !failed && sq_mono_us() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(cons, 200);
        if (!m)
            continue;
        if (m->err) {
            rd_kafka_message_destroy(m);
            continue;
        }
        if (m->offset < hi[m->partition]) {
            rd_kafka_timestamp_type_t tstype;
            int64_t ts = rd_kafka_message_timestamp(m, &tstype);
            rd_kafka_headers_t *h = NULL, *hc = NULL;
            if (rd_kafka_message_headers(m, &h) == 0 && h)
                hc = rd_kafka_headers_copy(h);
            rd_kafka_resp_err_t e;
            do {
                e = rd_kafka_producev(prod, RD_KAFKA_V_TOPIC(to), RD_KAFKA_V_PARTITION(m->partition),
                                      RD_KAFKA_V_KEY(m->key, m->key_len), RD_KAFKA_V_VALUE(m->payload, m->len),
                                      RD_KAFKA_V_TIMESTAMP(ts > 0 ? ts : 0), RD_KAFKA_V_HEADERS(hc),
                                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
                if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                    rd_kafka_poll(prod, 50);
            } while (e == RD_KAFKA_RESP_ERR__QUEUE_FULL);
            if (e) {
                if (hc)
                    rd_kafka_headers_destroy(hc);
                failed = true;
            } else {
                copied++;
                left--;
            }
            rd_kafka_poll(prod, 0);
        }
        rd_kafka_message_destroy(m);
    }
    if (rd_kafka_flush(prod, 30000) != 0 || left > 0)
        failed = true;
    rd_kafka_consumer_close(cons);
    rd_kafka_destroy(cons);
    rd_kafka_destroy(prod);
    return failed ? -1 : copied;
}

bool ts_consume_until(const char *topic, int64_t start_offset_p0, int timeout_ms,
                      bool (*match)(const rd_kafka_message_t *m, void *ctx), void *ctx)
{
    char err[256], group[128];
    ts_unique(group, sizeof group, "test.reader");
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", ts_env("KAFKA_BROKERS"), err, sizeof err);
    rd_kafka_conf_set(conf, "group.id", group, err, sizeof err);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
    const struct rd_kafka_metadata *md;
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    int nparts = 1;
    if (rd_kafka_metadata(rk, 0, t, &md, 5000) == 0) {
        if (md->topic_cnt == 1)
            nparts = md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(t);
    for (int p = 0; p < nparts; p++)
        rd_kafka_topic_partition_list_add(l, topic, p)->offset =
            (p == 0 && start_offset_p0 >= 0) ? start_offset_p0 : RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    bool found = false;
    int64_t deadline = sq_mono_us() + (int64_t)timeout_ms * 1000;
    while (!found && sq_mono_us() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (!m->err && match(m, ctx))
            found = true;
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return found;
}

pid_t ts_spawn(char *const argv[], char *const extra_env[])
{
    pid_t pid = fork();
    if (pid == 0) {
        for (int i = 0; extra_env && extra_env[i]; i++)
            putenv(extra_env[i]);
        execv(argv[0], argv);
        perror("execv");
        _exit(127);
    }
    return pid;
}

int ts_stop(pid_t pid, bool hard)
{
    int status = 0;
    if (pid <= 0) /* kill(0 or -1, ...) would signal the whole group or every process */
        return -1;
    kill(pid, hard ? SIGKILL : SIGTERM);
    waitpid(pid, &status, 0);
    return status;
}

int ts_wait_exit(pid_t pid, int timeout_ms)
{
    int status;
    for (int waited = 0; waited < timeout_ms; waited += 20) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        sq_sleep_ms(20);
    }
    return -1;
}

int ts_sh(const char *cmd)
{
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void ts_build_path(char *out, size_t outlen, const char *rel)
{
    const char *b = getenv("SHEQU_BUILD_DIR");
    snprintf(out, outlen, "%s/%s", b ? b : ".", rel);
}

/* The topics of DESIGN.md §2 with the configurations tools/dev gives them (TOPICS there): the
 * community-keyed topics and the dead letters kept for ever, the changelog compacted, notify.v1 on the
 * broker's default retention. */
#define KEEP_FOREVER { "retention.ms", "-1", "retention.bytes", "-1", NULL }
static const struct {
    const char *name;
    int partitions;
    const char *config[9];
} topic_set[] = {
    { "reports.resident.v1", 6, KEEP_FOREVER },
    { "alarms.device.v1", 6, KEEP_FOREVER },
    { "events.property.v1", 6, KEEP_FOREVER },
    { "feedback.resident.v1", 6, KEEP_FOREVER },
    { "tickets.v1", 6, KEEP_FOREVER },
    { "tickets.changelog.v1", 6,
      { "cleanup.policy", "compact", "min.cleanable.dirty.ratio", "0.1", "segment.ms", "600000",
        "delete.retention.ms", "3600000", NULL } },
    { "notify.v1", 3, { NULL } },
    { "deadletter.v1", 1, KEEP_FOREVER },
};

int ts_create_topic_set(const char *prefix)
{
    char name[256];
    for (size_t i = 0; i < sizeof topic_set / sizeof topic_set[0]; i++) {
        snprintf(name, sizeof name, "%s%s", prefix, topic_set[i].name);
        if (create_topic(name, topic_set[i].partitions, topic_set[i].config) != 0)
            return -1;
    }
    return 0;
}

void ts_delete_topic_set(const char *prefix)
{
    char name[256];
    for (size_t i = 0; i < sizeof topic_set / sizeof topic_set[0]; i++) {
        snprintf(name, sizeof name, "%s%s", prefix, topic_set[i].name);
        ts_delete_topic(name);
    }
}

/* utime + stime (+ cutime + cstime when with_reaped) of /proc/<pid>/stat in seconds, and the parent's pid. */
static double stat_cpu(pid_t pid, bool with_reaped, pid_t *ppid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = pid > 0 ? fopen(path, "r") : NULL;
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    int parent = 0;
    unsigned long ut = 0, st = 0;
    long cut = 0, cst = 0;
    if (!p || sscanf(p + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %ld %ld", &parent, &ut, &st, &cut,
                     &cst) != 5)
        return -1;
    if (ppid)
        *ppid = parent;
    return (double)(ut + st + (with_reaped ? (unsigned long)(cut + cst) : 0)) / (double)sysconf(_SC_CLK_TCK);
}

double ts_cpu_seconds(pid_t pid) { return stat_cpu(pid, false, NULL); }

double ts_tree_cpu_seconds(pid_t root)
{
    double sum = stat_cpu(root, true, NULL);
    DIR *d = sum < 0 ? NULL : opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        pid_t pid = (pid_t)atol(e->d_name), parent = 0;
        double c = pid > 0 && pid != root ? stat_cpu(pid, true, &parent) : -1;
        if (c > 0 && parent == root)
            sum += c;
    }
    if (d)
        closedir(d);
    return sum;
}
