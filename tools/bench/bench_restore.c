/*
 * bench_restore.c — restarting the stateful services at any log length, and losing an instance:
 *
 *   shequ-bench restore EVENTS OPEN [DAYS]
 *       EVENTS ticket events on tickets.v1 over 300 communities, keyed by community: closed tickets
 *       (created → assigned → responded → resolved → closed, each with its full snapshot) created over
 *       the past DAYS (365) days, and OPEN tickets (created → assigned) from the last hour. The compactor
 *       writes the changelog until its copies cover the log and its sweeps are done; the broker's cleaner
 *       then compacts it (the changelog of this prefix gets segment.ms 10 s, min.cleanable.dirty.ratio
 *       0.01, delete.retention.ms 1 s, max.compaction.lag.ms 10 s; the bench writes a tiny record under a
 *       key the restore ignores every 12 s so the active segment rolls). Then triage, workflow and sla
 *       are started on it, each with state.changelog true and false (the baseline: a replay of the whole
 *       log): the time from spawn to handling new input on every partition — triage: a report per
 *       partition until its `created`; workflow: an accept of an open ticket per partition until its
 *       `responded`; sla: a new ticket per partition whose respond clock is past its warning point
 *       until its `sla_warning` — the restore's own ms (state.restore_done), and RSS once the input
 *       was handled.
 *
 *   shequ-bench rebalance KILLS
 *       two triage instances (kafka.session_timeout_ms 6000, SHEQU_BENCH_SESSION_MS to change) and 20
 *       reports/s per partition keyed by community; SIGKILL one instance, time from the kill until
 *       every partition it held has a `created` produced after the kill (by the survivor); restart it;
 *       KILLS times, alternating instances; p50/p99.
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "shequ/v1/property.pb-c.h"
#include "shequ/v1/report.pb-c.h"
#include "shequ/v1/ticket.pb-c.h"

enum { NCOMM = 300, NPART = 6 };

/* Java's murmur2 partitioner (librdkafka's murmur2_random for a keyed record). */
int bench_partition(const char *key, int partitions)
{
    const uint8_t *d = (const uint8_t *)key;
    size_t len = strlen(key);
    const uint32_t m = 0x5bd1e995;
    uint32_t h = 0x9747b28c ^ (uint32_t)len;
    size_t i = 0;
    for (; i + 4 <= len; i += 4) {
        uint32_t k = (uint32_t)d[i] | (uint32_t)d[i + 1] << 8 | (uint32_t)d[i + 2] << 16 | (uint32_t)d[i + 3] << 24;
        k *= m;
        k ^= k >> 24;
        k *= m;
        h *= m;
        h ^= k;
    }
    switch (len & 3) {
    case 3: h ^= (uint32_t)d[i + 2] << 16; /* fall through */
    case 2: h ^= (uint32_t)d[i + 1] << 8;  /* fall through */
    case 1: h ^= d[i]; h *= m;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return (int)((h & 0x7fffffff) % (uint32_t)partitions);
}

/* ------------------------------------------------------------ producing with timestamps */

static long dr_failed;
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    if (m->err)
        __atomic_add_fetch(&dr_failed, 1, __ATOMIC_RELAXED);
}

static rd_kafka_t *ts_producer(void)
{
    char err[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    const char *kv[] = { "bootstrap.servers", ts_env("KAFKA_BROKERS"), "partitioner", "murmur2_random",
                         "compression.codec", "lz4", "linger.ms", "50", "batch.num.messages", "10000",
                         "batch.size", "1000000", "queue.buffering.max.messages", "1000000",
                         "queue.buffering.max.kbytes", "1048576", "enable.idempotence", "true", NULL };
    for (int i = 0; kv[i]; i += 2)
        if (rd_kafka_conf_set(c, kv[i], kv[i + 1], err, sizeof err) != RD_KAFKA_CONF_OK)
            fprintf(stderr, "bench: %s\n", err);
    rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
    return rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
}

/* Produces one record keyed by key with Kafka timestamp ts_ms (0: now); partition -1: the partitioner's. */
static void put(rd_kafka_t *rk, const char *topic, int32_t partition, const char *key, const void *val, size_t len,
                int64_t ts_ms)
{
    rd_kafka_resp_err_t e;
    while ((e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
                                  RD_KAFKA_V_PARTITION(partition < 0 ? RD_KAFKA_PARTITION_UA : partition),
                                  RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE((void *)val, len),
                                  RD_KAFKA_V_TIMESTAMP(ts_ms), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                  RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(rk, 50);
    if (e)
        __atomic_add_fetch(&dr_failed, 1, __ATOMIC_RELAXED);
    rd_kafka_poll(rk, 0);
}

/* ------------------------------------------------------------ the history */

typedef struct world {
    char tag[16];                 /* from the prefix */
    char comm[NCOMM][48];
    int part[NCOMM];
    int probe[NPART];             /* per partition, the first community on it */
    char staff[64], company[64], dircm[48];
    long closed, open;
    int64_t start_us, closed_span_us, open_start_us, open_span_us;
} world;

static world W;

static void world_init(long closed, long open, int days)
{
    snprintf(W.tag, sizeof W.tag, "%.8s", prefix + 6);
    for (int p = 0; p < NPART; p++)
        W.probe[p] = -1;
    for (int i = 0; i < NCOMM; i++) {
        snprintf(W.comm[i], sizeof W.comm[i], "rs%s-c%03d", W.tag, i);
        W.part[i] = bench_partition(W.comm[i], NPART);
        if (W.probe[W.part[i]] < 0)
            W.probe[W.part[i]] = i;
    }
    snprintf(W.dircm, sizeof W.dircm, "rs%s-dir", W.tag);
    snprintf(W.staff, sizeof W.staff, "%s-w1", W.dircm); /* bench_directory's first staff member */
    snprintf(W.company, sizeof W.company, "%s-co", W.dircm);
    W.closed = closed;
    W.open = open;
    int64_t now = sq_now_us();
    W.start_us = now - (int64_t)days * 86400 * SQ_US_PER_S;
    /* a closed ticket's last event (auto-close, 75 h after creation) is 10 minutes ago at the latest */
    W.closed_span_us = now - 78LL * 3600 * SQ_US_PER_S - 600 * SQ_US_PER_S - W.start_us;
    W.open_start_us = now - 3600 * SQ_US_PER_S; /* open tickets: created in the last hour */
    W.open_span_us = 3000 * SQ_US_PER_S;
}

static void ticket_name(char *out, bool open, long j, int *comm)
{
    *comm = (int)(j % NCOMM);
    char origin[64];
    snprintf(origin, sizeof origin, "rs%s-%s%ld", W.tag, open ? "o" : "c", j);
    sq_ticket_id_make(out, W.comm[*comm], origin);
}

/* Kinds of the lifecycle and their time after creation. */
enum { K_CREATED, K_ASSIGNED, K_RESPONDED, K_RESOLVED, K_CLOSED, K_N };
static const int64_t kind_after_us[K_N] = { 0, 2 * SQ_US_PER_S, 1200 * SQ_US_PER_S, 3 * 3600 * SQ_US_PER_S,
                                            75 * 3600 * SQ_US_PER_S };

/* The event of `kind` of ticket j (closed or open) with the full snapshot triage or workflow would write. */
static size_t lifecycle_event(uint8_t *buf, bool open, long j, int kind, char *key, int64_t *at_us)
{
    sq_ticket t;
    memset(&t, 0, sizeof t);
    int ci;
    ticket_name(t.ticket_id, open, j, &ci);
    snprintf(t.community_id, sizeof t.community_id, "%s", W.comm[ci]);
    snprintf(t.source, sizeof t.source, "report");
    snprintf(t.category, sizeof t.category, "sanitation");
    snprintf(t.tier, sizeof t.tier, "general");
    snprintf(t.company_id, sizeof t.company_id, "%s", W.company);
    snprintf(t.building, sizeof t.building, "B%ld", j % 40);
    snprintf(t.unit, sizeof t.unit, "%ld", j % 6 + 1);
    snprintf(t.origin_id, sizeof t.origin_id, "rs%s-%s%ld", W.tag, open ? "o" : "c", j);
    snprintf(t.reporter_id, sizeof t.reporter_id, "wx-%ld", j % 50000);
    snprintf(t.summary, sizeof t.summary, "单元门口垃圾两天没有清运了");
    t.reporter_count = t.occurrence_count = 1;
    int64_t created = open ? W.open_start_us + (int64_t)((double)W.open_span_us * (double)j / (double)(W.open ? W.open : 1))
                           : W.start_us + (int64_t)((double)W.closed_span_us * (double)j / (double)(W.closed ? W.closed : 1));
    int64_t at = created + kind_after_us[kind];
    t.created_us = created;
    t.updated_us = at;
    t.nclocks = 2;
    snprintf(t.clocks[0].name, sizeof t.clocks[0].name, "respond");
    snprintf(t.clocks[1].name, sizeof t.clocks[1].name, "resolve");
    for (int c = 0; c < 2; c++) {
        t.clocks[c].target_us = 4LL * 3600 * SQ_US_PER_S;
        t.clocks[c].started_us = created;
        t.clocks[c].due_us = created + 4LL * 3600 * SQ_US_PER_S;
    }
    t.status = SQ_ST_ASSIGNED;
    if (kind >= K_ASSIGNED)
        snprintf(t.assignee_id, sizeof t.assignee_id, "%s", W.staff);
    if (kind >= K_RESPONDED) {
        t.status = SQ_ST_IN_PROGRESS;
        t.responded_us = t.clocks[0].stopped_us = created + kind_after_us[K_RESPONDED];
    }
    if (kind >= K_RESOLVED) {
        t.status = SQ_ST_RESOLVED;
        t.resolved_us = t.clocks[1].stopped_us = created + kind_after_us[K_RESOLVED];
    }
    if (kind >= K_CLOSED) {
        t.status = SQ_ST_CLOSED;
        t.closed_us = at;
    }
    Shequ__V1__TicketState st;
    Shequ__V1__Clock clocks[SQ_MAX_CLOCKS], *cp[SQ_MAX_CLOCKS];
    Shequ__V1__GeoPoint loc;
    sq_ticket_to_state(&t, &st, clocks, cp, &loc);
    char id[SQ_UUID_LEN], name[160];
    snprintf(name, sizeof name, "%s/%d", t.ticket_id, kind);
    sq_uuid5(id, "bench-restore", name, strlen(name));
    static const char *source[K_N] = { "triage", "triage", "workflow", "workflow", "workflow" };
    Shequ__V1__EventHeader h = SHEQU__V1__EVENT_HEADER__INIT;
    h.event_id = id;
    h.occurred_at_us = h.produced_at_us = at;
    h.source = (char *)source[kind];
    h.community_id = t.community_id;
    Shequ__V1__TicketEvent e = SHEQU__V1__TICKET_EVENT__INIT;
    e.header = &h;
    e.ticket_id = t.ticket_id;
    e.state = &st;
    Shequ__V1__Created cr = SHEQU__V1__CREATED__INIT;
    Shequ__V1__Assigned as = SHEQU__V1__ASSIGNED__INIT;
    Shequ__V1__Responded rs = SHEQU__V1__RESPONDED__INIT;
    Shequ__V1__Resolved rv = SHEQU__V1__RESOLVED__INIT;
    Shequ__V1__Closed cl = SHEQU__V1__CLOSED__INIT;
    switch (kind) {
    case K_CREATED:
        cr.origin_id = t.origin_id;
        cr.source = "report";
        cr.category = t.category;
        cr.tier = t.tier;
        cr.description = t.summary;
        e.body_case = SHEQU__V1__TICKET_EVENT__BODY_CREATED;
        e.created = &cr;
        break;
    case K_ASSIGNED:
        as.assignee_id = t.assignee_id;
        as.company_id = t.company_id;
        e.body_case = SHEQU__V1__TICKET_EVENT__BODY_ASSIGNED;
        e.assigned = &as;
        break;
    case K_RESPONDED:
        rs.action = "accept";
        e.body_case = SHEQU__V1__TICKET_EVENT__BODY_RESPONDED;
        e.responded = &rs;
        break;
    case K_RESOLVED:
        rv.note = "已清运";
        e.body_case = SHEQU__V1__TICKET_EVENT__BODY_RESOLVED;
        e.resolved = &rv;
        break;
    default:
        cl.reason = "timeout";
        e.body_case = SHEQU__V1__TICKET_EVENT__BODY_CLOSED;
        e.closed = &cl;
    }
    snprintf(key, 64, "%s", t.community_id);
    *at_us = at;
    return shequ__v1__ticket_event__pack(&e, buf);
}

/* The whole history in event-time order: a merge of the 5 closed and 2 open lifecycle streams. */
static long write_history(const char *topic)
{
    rd_kafka_t *rk = ts_producer();
    typedef struct { bool open; int kind; long next, n; } stream;
    stream s[7];
    int ns = 0;
    for (int k = 0; k < K_N; k++)
        s[ns++] = (stream){ false, k, 0, W.closed };
    for (int k = 0; k < 2; k++)
        s[ns++] = (stream){ true, k, 0, W.open };
    uint8_t buf[4096];
    char key[64];
    long written = 0;
    int64_t t0 = sq_mono_us();
    for (;;) {
        int best = -1;
        int64_t best_at = 0;
        for (int i = 0; i < ns; i++) {
            if (s[i].next >= s[i].n)
                continue;
            int64_t created = s[i].open ? W.open_start_us + (int64_t)((double)W.open_span_us * (double)s[i].next / (double)W.open)
                                        : W.start_us + (int64_t)((double)W.closed_span_us * (double)s[i].next / (double)W.closed);
            int64_t at = created + kind_after_us[s[i].kind];
            if (best < 0 || at < best_at)
                best = i, best_at = at;
        }
        if (best < 0)
            break;
        int64_t at;
        size_t len = lifecycle_event(buf, s[best].open, s[best].next, s[best].kind, key, &at);
        put(rk, topic, -1, key, buf, len, at / 1000);
        s[best].next++;
        if (++written % 1000000 == 0)
            fprintf(stderr, "bench restore: %ld events written (%.0f/s)\n", written,
                    (double)written / ((double)(sq_mono_us() - t0) / 1e6));
    }
    rd_kafka_flush(rk, 300000);
    rd_kafka_destroy(rk);
    return written;
}

/* ------------------------------------------------------------ the changelog */

/* AlterConfigs (not incremental: librdkafka 2.0 has no IncrementalAlterConfigs) replaces a topic's whole
 * dynamic configuration, so every setting the changelog needs is given together and read back. */
static int changelog_config(const char *topic)
{
    char err[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", ts_env("KAFKA_BROKERS"), err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
    rd_kafka_ConfigResource_t *cr = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
    const char *kv[] = { "cleanup.policy", "compact", "min.cleanable.dirty.ratio", "0.01", "segment.ms", "10000",
                         "delete.retention.ms", "1000", "max.compaction.lag.ms", "10000", NULL };
    for (int i = 0; kv[i]; i += 2)
        rd_kafka_ConfigResource_set_config(cr, kv[i], kv[i + 1]);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AlterConfigs(rk, &cr, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 15000);
    int rc = ev && !rd_kafka_event_error(ev) ? 0 : -1;
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_ConfigResource_destroy(cr);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    char v[64] = "", s[64] = "";
    ts_topic_config_get(topic, "cleanup.policy", v, sizeof v, NULL);
    ts_topic_config_get(topic, "segment.ms", s, sizeof s, NULL);
    fprintf(stderr, "bench restore: %s cleanup.policy=%s segment.ms=%s\n", topic, v, s);
    return rc == 0 && strcmp(v, "compact") == 0 ? 0 : -1;
}

/* Bytes of the topic's partition directories in the broker's log dir. */
static long long topic_bytes(const char *topic)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "du -sb %s/kafka/data/%s-* 2>/dev/null | awk '{s+=$1} END {print s+0}'",
             getenv("SHEQU_STATE") ? getenv("SHEQU_STATE") : ".state", topic);
    FILE *f = popen(cmd, "r");
    long long v = -1;
    if (f) {
        if (fscanf(f, "%lld", &v) != 1)
            v = -1;
        pclose(f);
    }
    return v;
}

typedef struct {
    long records, tombstones, copies, other;
    int64_t total, read;
} census;

static bool count_changelog(const rd_kafka_message_t *m, void *arg)
{
    census *c = arg;
    c->records++;
    if (!m->payload)
        c->tombstones++;
    else if (m->key_len > 2 && memcmp(m->key, "e/", 2) == 0)
        c->copies++;
    else
        c->other++;
    return ++c->read >= c->total;
}

/* Records on the topic now (read from the start to the current end). */
static census changelog_census(const char *topic)
{
    census c = { 0 };
    rd_kafka_t *rk = ts_producer();
    int64_t total = 0;
    for (int p = 0; p < NPART; p++) {
        int64_t lo = 0, hi = 0;
        if (rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 5000) == 0)
            total += hi - lo; /* an upper bound after compaction: offsets have gaps */
    }
    rd_kafka_destroy(rk);
    c.total = total;
    ts_consume_until(topic, -1, 20000, count_changelog, &c); /* ends when idle 20 s at the latest */
    return c;
}

/* ------------------------------------------------------------ one measured start */

static pid_t spawn_logged_svc(const char *name, const char *log_path, char *const extra[])
{
    mkdir("build/bench", 0755);
    int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int saved = dup(STDOUT_FILENO), saved_err = dup(STDERR_FILENO);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    pid_t pid = spawn_service(name, extra);
    dup2(saved, STDOUT_FILENO);
    dup2(saved_err, STDERR_FILENO);
    close(fd);
    close(saved);
    close(saved_err);
    return pid;
}

typedef struct {
    long restore_ms, events, from_changelog, from_log;
    int restored_parts;
} restore_log;

static restore_log read_restore_log(const char *path)
{
    restore_log r = { .restore_ms = -1 };
    FILE *f = fopen(path, "r");
    char line[2048];
    while (f && fgets(line, sizeof line, f)) {
        char *p;
        if ((p = strstr(line, "state.restore_done"))) {
            char *e = strstr(p, " events="), *ms = strstr(p, " ms=");
            r.events += e ? atol(e + 8) : 0;
            r.restore_ms = ms ? atol(ms + 4) : r.restore_ms;
        } else if ((p = strstr(line, "state.restored "))) {
            char *a = strstr(p, "from_changelog="), *b = strstr(p, "from_log=");
            r.from_changelog += a ? atol(a + 15) : 0;
            r.from_log += b ? atol(b + 9) : 0;
            r.restored_parts++;
        }
    }
    if (f)
        fclose(f);
    return r;
}

typedef struct {
    int kind;                     /* the body case that means "handled" (0: any SLA step) */
    char ids[NPART][SQ_TICKET_ID_MAX];
    int64_t at_ms[NPART];         /* the handling event's Kafka timestamp */
    int found;
} probe_watch;

static bool probe_match(const rd_kafka_message_t *m, void *arg)
{
    probe_watch *w = arg;
    Shequ__V1__TicketEvent *e = shequ__v1__ticket_event__unpack(NULL, m->len, m->payload);
    if (e && e->ticket_id) {
        bool kind = w->kind ? (int)e->body_case == w->kind
                            : e->body_case == SHEQU__V1__TICKET_EVENT__BODY_SLA_WARNING ||
                                  e->body_case == SHEQU__V1__TICKET_EVENT__BODY_SLA_BREACHED;
        for (int p = 0; kind && p < NPART; p++)
            if (!w->at_ms[p] && strcmp(w->ids[p], e->ticket_id) == 0) {
                w->at_ms[p] = rd_kafka_message_timestamp(m, NULL);
                w->found++;
            }
    }
    if (e)
        shequ__v1__ticket_event__free_unpacked(e, NULL);
    return w->found >= NPART;
}

/* Reads topic from the offsets in from[] until match says done or timeout. */
static void consume_from(const char *topic, const int64_t *from, int timeout_ms,
                         bool (*match)(const rd_kafka_message_t *, void *), void *ctx)
{
    char err[256], group[128];
    ts_unique(group, sizeof group, "bench.watch");
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", ts_env("KAFKA_BROKERS"), err, sizeof err);
    rd_kafka_conf_set(conf, "group.id", group, err, sizeof err);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(NPART);
    for (int p = 0; p < NPART; p++)
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = from[p];
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    int64_t deadline = sq_mono_us() + (int64_t)timeout_ms * 1000;
    bool done = false;
    while (!done && sq_mono_us() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (!m->err && match(m, ctx))
            done = true;
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

static void end_offsets(const char *topic, int64_t *out)
{
    rd_kafka_t *rk = ts_producer();
    for (int p = 0; p < NPART; p++) {
        int64_t lo = 0, hi = 0;
        rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 5000);
        out[p] = hi;
    }
    rd_kafka_destroy(rk);
}

/* A report keyed by its community (as the gateway keys them), produced now. */
static void report_keyed(rd_kafka_t *rk, const char *topic, const char *report_id, const char *community,
                         const char *building)
{
    char id[SQ_UUID_LEN];
    sq_uuid4(id);
    Shequ__V1__EventHeader h = SHEQU__V1__EVENT_HEADER__INIT;
    h.event_id = id;
    h.community_id = (char *)community;
    h.source = "gateway";
    h.occurred_at_us = h.produced_at_us = sq_now_us();
    Shequ__V1__ResidentReport r = SHEQU__V1__RESIDENT_REPORT__INIT;
    r.header = &h;
    r.report_id = (char *)report_id;
    r.reporter_id = "wx-bench-probe";
    r.category = "sanitation";
    r.description = "单元门口垃圾两天没有清运了";
    r.building = (char *)building;
    r.unit = "1";
    uint8_t buf[512];
    size_t len = shequ__v1__resident_report__pack(&r, buf);
    put(rk, topic, -1, community, buf, len, 0);
}

typedef struct {
    double handled_ms, first_ms; /* spawn → the last (first) partition's probe handled; -1: not all */
    long rss_kb;
    restore_log log;
} start_figures;

/*
 * Starts svc (changelog on or off) and sends one probe per partition right after: triage a report,
 * workflow an accept of open ticket `run` of the partition's probe community, sla a ticket whose respond
 * clock is past its warning point (started 100 s ago, due in 1 s).
 */
static start_figures measure_start(const char *svc, bool changelog, int run)
{
    start_figures f = { .handled_ms = -1, .first_ms = -1 };
    char tickets[128], reports[128], actions[128], logp[256];
    snprintf(tickets, sizeof tickets, "%stickets.v1", prefix);
    snprintf(reports, sizeof reports, "%sreports.resident.v1", prefix);
    snprintf(actions, sizeof actions, "%sevents.property.v1", prefix);
    snprintf(logp, sizeof logp, "build/bench/restore-%s-%s.log", svc, changelog ? "changelog" : "replay");
    int64_t from[NPART];
    end_offsets(tickets, from);
    probe_watch w = { .kind = !strcmp(svc, "triage")     ? SHEQU__V1__TICKET_EVENT__BODY_CREATED
                              : !strcmp(svc, "workflow") ? SHEQU__V1__TICKET_EVENT__BODY_RESPONDED
                                                         : 0 };
    static char level[] = "SHEQU_LOG_LEVEL=info";
    char rules[300], pg[300], cl[64];
    snprintf(rules, sizeof rules, "SHEQU_RULES_FILE=%s/deploy/rules/shequ.rules", ts_env("SHEQU_ROOT"));
    snprintf(pg, sizeof pg, "SHEQU_PG_DSN=%s", ts_env("PG_DSN"));
    snprintf(cl, sizeof cl, "SHEQU_STATE_CHANGELOG=%s", changelog ? "true" : "false");
    char *extra[] = { level, rules, pg, cl, NULL };
    rd_kafka_t *rk = ts_producer();
    int64_t spawn_ms = sq_now_us() / 1000;
    pid_t pid = spawn_logged_svc(svc, logp, extra);
    uint8_t buf[2048];
    for (int p = 0; p < NPART; p++) {
        const char *cm = W.comm[W.probe[p]];
        if (w.kind == SHEQU__V1__TICKET_EVENT__BODY_CREATED) {
            char rid[96], b[32];
            snprintf(rid, sizeof rid, "rs%s-probe-%d-%d-%d", W.tag, changelog, run, p);
            snprintf(b, sizeof b, "P%d-%d-%d", changelog, run, p);
            sq_ticket_id_make(w.ids[p], cm, rid);
            report_keyed(rk, reports, rid, cm, b);
        } else if (w.kind) { /* an accept by the assignee of an open ticket of that community */
            long j = W.probe[p] + (long)run * NCOMM;
            int ci;
            ticket_name(w.ids[p], true, j, &ci);
            char id[SQ_UUID_LEN];
            sq_uuid4(id);
            Shequ__V1__EventHeader h = SHEQU__V1__EVENT_HEADER__INIT;
            h.event_id = id;
            h.community_id = (char *)cm;
            h.source = "gateway";
            h.occurred_at_us = h.produced_at_us = sq_now_us();
            Shequ__V1__PropertyEvent a = SHEQU__V1__PROPERTY_EVENT__INIT;
            a.header = &h;
            a.ticket_id = w.ids[p];
            a.actor_id = W.staff;
            a.action = SHEQU__V1__ACTION__ACTION_ACCEPT;
            size_t len = shequ__v1__property_event__pack(&a, buf);
            put(rk, actions, -1, cm, buf, len, 0);
        } else { /* a ticket whose respond clock is already past its warning point */
            char origin[96];
            snprintf(origin, sizeof origin, "rs%s-sla-%d-%d-%d", W.tag, changelog, run, p);
            sq_ticket_id_make(w.ids[p], cm, origin);
            int64_t now = sq_now_us();
            char eid[SQ_UUID_LEN];
            sq_uuid4(eid);
            size_t len = bench_ticket_event(buf, eid, w.ids[p], "respond", now - 100 * SQ_US_PER_S,
                                            now + SQ_US_PER_S, 0, now, true, W.staff);
            /* bench_ticket_event speaks for prefix's community: this one is cm's */
            Shequ__V1__TicketEvent *e = shequ__v1__ticket_event__unpack(NULL, len, buf);
            if (e) {
                e->header->community_id = (char *)cm;
                e->state->community_id = (char *)cm;
                len = shequ__v1__ticket_event__pack(e, buf);
                e->header->community_id = e->state->community_id = NULL; /* not ours to free */
                shequ__v1__ticket_event__free_unpacked(e, NULL);
            }
            put(rk, tickets, -1, cm, buf, len, 0);
        }
    }
    rd_kafka_flush(rk, 10000);
    rd_kafka_destroy(rk);
    consume_from(tickets, from, 900000, probe_match, &w);
    f.rss_kb = rss_kb(pid);
    ts_stop(pid, false);
    f.log = read_restore_log(logp);
    if (w.found == NPART) {
        int64_t last = 0, first = 0;
        for (int p = 0; p < NPART; p++) {
            if (w.at_ms[p] > last)
                last = w.at_ms[p];
            if (!first || w.at_ms[p] < first)
                first = w.at_ms[p];
        }
        f.handled_ms = (double)(last - spawn_ms);
        f.first_ms = (double)(first - spawn_ms);
    }
    fprintf(stderr, "bench restore: %s changelog=%s: new input handled on %d/%d partitions, last %.0f ms after spawn; "
            "restore %ld ms, %ld events (%ld from the changelog, %ld from the log); RSS %ld kB\n", svc,
            changelog ? "true" : "false", w.found, NPART, f.handled_ms, f.log.restore_ms, f.log.events,
            f.log.from_changelog, f.log.from_log, f.rss_kb);
    return f;
}

void bench_restore(long events, long open, int days)
{
    if (days < 1)
        days = 365;
    if (open < NPART * 4)
        open = NPART * 4;
    long closed = (events - 2 * open) / 5;
    if (closed < 0)
        closed = 0;
    world_init(closed, open, days);
    bench_directory(W.dircm); /* the open tickets' assignee, so that workflow accepts the accept */
    for (int p = 0; p < NPART; p++)
        bench_directory(W.comm[W.probe[p]]); /* the probes' communities are known: triage assigns as live */
    char tickets[128], changelog[128];
    snprintf(tickets, sizeof tickets, "%stickets.v1", prefix);
    snprintf(changelog, sizeof changelog, "%stickets.changelog.v1", prefix);
    if (changelog_config(changelog) != 0)
        fprintf(stderr, "bench restore: could not set the changelog's compaction settings; figures not valid\n");
    int64_t t0 = sq_mono_us();
    long written = write_history(tickets);
    double gen_s = (double)(sq_mono_us() - t0) / 1e6;
    fprintf(stderr, "bench restore: %ld events (%ld closed, %ld open tickets over %d days) in %.1f s, %ld failed; "
            "tickets.v1 %lld MB on disk\n", written, closed, open, days, gen_s, dr_failed,
            topic_bytes(tickets) / 1000000);

    /* the compactor until its copies cover the log and its sweeps have tombstoned what is past every window */
    static char admin[64], level[] = "SHEQU_LOG_LEVEL=info";
    snprintf(admin, sizeof admin, "SHEQU_ADMIN_PORT=%d", BENCH_ADMIN_PORT);
    char *cextra[] = { admin, level, NULL };
    int64_t c0 = sq_mono_us();
    pid_t comp = spawn_logged_svc("compactor", "build/bench/restore-compactor.log", cextra);
    double copies = 0, live = -1, tombs = 0, last_tombs = -1e18;
    int stable = 0;
    while (sq_mono_us() - c0 < 1800 * SQ_US_PER_S) {
        sq_sleep_ms(1000);
        copies = admin_metric(BENCH_ADMIN_PORT, "shequ_changelog_copies_total");
        live = admin_metric(BENCH_ADMIN_PORT, "shequ_changelog_tickets");
        tombs = admin_metric(BENCH_ADMIN_PORT, "shequ_changelog_tombstones_total");
        /* done once the copies cover the log and a full sweep (about 10 s) found almost nothing more to
         * tombstone: what ages out of the windows as the wall clock goes on keeps trickling */
        if (copies >= (double)written && stable++ % 15 == 14) {
            if (tombs - last_tombs <= (double)written / 10000)
                break;
            last_tombs = tombs;
        }
    }
    double comp_s = (double)(sq_mono_us() - c0) / 1e6;
    double comp_cpu = ts_cpu_seconds(comp);
    long comp_rss = rss_kb(comp);
    ts_stop(comp, false);
    fprintf(stderr, "bench restore: compactor: %.0f copies, %.0f tombstones, %.0f tickets live (gauge), %.1f s (CPU %.1f s, RSS %ld MB)\n",
            copies, tombs, live, comp_s, comp_cpu, comp_rss / 1024);

    /* the broker's cleaner: roll the active segments (a record under a key the restore ignores) until the
     * changelog's size on disk stops shrinking */
    rd_kafka_t *rk = ts_producer();
    long long bytes0 = topic_bytes(changelog), bytes = bytes0, low = bytes0;
    int64_t k0 = sq_mono_us();
    int flat = 0;
    while (sq_mono_us() - k0 < 600 * SQ_US_PER_S && flat < 6) {
        for (int p = 0; p < NPART; p++)
            put(rk, changelog, p, "bench/roll", "1", 1, 0);
        rd_kafka_flush(rk, 10000);
        sq_sleep_ms(12000);
        bytes = topic_bytes(changelog);
        flat = bytes < low * 99 / 100 ? 0 : flat + 1;
        if (bytes < low)
            low = bytes;
        fprintf(stderr, "bench restore: changelog %lld kB on disk\n", bytes / 1000);
    }
    rd_kafka_destroy(rk);
    census cc = changelog_census(changelog);
    fprintf(stderr, "bench restore: changelog compacted in %.0f s: %lld -> %lld kB; %ld records (%ld copies, %ld "
            "tombstones, %ld others) vs %ld events in tickets.v1\n", (double)(sq_mono_us() - k0) / 1e6,
            bytes0 / 1000, bytes / 1000, cc.records, cc.copies, cc.tombstones, cc.other, written);

    static const char *svcs[] = { "triage", "workflow", "sla" };
    for (int i = 0; i < 3; i++) {
        start_figures a = measure_start(svcs[i], true, 0);
        start_figures b = measure_start(svcs[i], false, 1);
        char stage[32], notes[900];
        snprintf(stage, sizeof stage, "restore-%s", svcs[i]);
        snprintf(notes, sizeof notes,
                 "%ld events (%ld closed tickets over %d days, %ld open) in tickets.v1, changelog %ld records (%ld "
                 "copies, %ld tombstones): new input handled on all %d partitions %.0f ms after spawn (first %.0f), "
                 "restore %ld ms of %ld events (%ld from changelog, %ld from log), RSS %ld MB; baseline "
                 "state.changelog=false: handled %.0f ms (first %.0f), restore %ld ms of %ld events, RSS %ld MB; "
                 "rates are 1000/ms-to-handle",
                 written, closed, days, open, cc.records, cc.copies, cc.tombstones, NPART, a.handled_ms, a.first_ms,
                 a.log.restore_ms, a.log.events, a.log.from_changelog, a.log.from_log, a.rss_kb / 1024, b.handled_ms,
                 b.first_ms, b.log.restore_ms, b.log.events, b.rss_kb / 1024);
        result(stage, a.handled_ms > 0 ? 1000.0 / a.handled_ms : 0, b.handled_ms > 0 ? 1000.0 / b.handled_ms : 0, 0,
               0, notes);
        printf("restore %-8s at %ld events / %ld open: handles new input %.2f s after start (target < 5 s), RSS %ld MB;"
               " replaying the whole log: %.2f s, RSS %ld MB (%.1fx faster, %.2fx the memory)\n",
               svcs[i], written, open, a.handled_ms / 1000, a.rss_kb / 1024, b.handled_ms / 1000, b.rss_kb / 1024,
               a.handled_ms > 0 ? b.handled_ms / a.handled_ms : 0, b.rss_kb > 0 ? (double)a.rss_kb / (double)b.rss_kb : 0);
        fflush(stdout);
    }
    bench_directory_forget(W.dircm);
    for (int p = 0; p < NPART; p++)
        bench_directory_forget(W.comm[W.probe[p]]);
}

/* ------------------------------------------------------------ rebalance */

typedef struct {
    pthread_mutex_t lock;
    volatile bool stop;
    int64_t kill_ms;               /* 0: not measuring */
    int64_t first_after[NPART];    /* first `created` on partition p stamped after kill_ms */
    int64_t last_created[NPART];   /* newest `created` seen per partition */
    char reports[128], tickets[128];
    int comm[NPART];
    long sent;
} rb_state;

static void *rb_trickle(void *arg)
{
    rb_state *s = arg;
    rd_kafka_t *rk = ts_producer();
    long i = 0;
    while (!s->stop) {
        int64_t tick = sq_mono_us();
        for (int p = 0; p < NPART; p++) {
            char rid[96], b[32];
            snprintf(rid, sizeof rid, "rb%s-%ld-%d", W.tag, i, p);
            snprintf(b, sizeof b, "R%ld", i % 5000); /* a place reported again after 250 s merges: fine */
            report_keyed(rk, s->reports, rid, W.comm[s->comm[p]], b);
        }
        i++;
        s->sent += NPART;
        int64_t left = 50000 - (sq_mono_us() - tick); /* 20 per second per partition */
        if (left > 0)
            sq_sleep_ms(left / 1000);
    }
    rd_kafka_flush(rk, 10000);
    rd_kafka_destroy(rk);
    return NULL;
}

static void *rb_watch(void *arg)
{
    rb_state *s = arg;
    char err[256], group[128];
    ts_unique(group, sizeof group, "bench.rbwatch");
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", ts_env("KAFKA_BROKERS"), err, sizeof err);
    rd_kafka_conf_set(conf, "group.id", group, err, sizeof err);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
    rd_kafka_conf_set(conf, "fetch.wait.max.ms", "10", err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(NPART);
    for (int p = 0; p < NPART; p++)
        rd_kafka_topic_partition_list_add(l, s->tickets, p)->offset = RD_KAFKA_OFFSET_END;
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    while (!s->stop) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 50);
        if (!m)
            continue;
        if (!m->err && m->partition >= 0 && m->partition < NPART) {
            Shequ__V1__TicketEvent *e = shequ__v1__ticket_event__unpack(NULL, m->len, m->payload);
            if (e && e->body_case == SHEQU__V1__TICKET_EVENT__BODY_CREATED) {
                int64_t ts = rd_kafka_message_timestamp(m, NULL);
                pthread_mutex_lock(&s->lock);
                if (ts > s->last_created[m->partition])
                    s->last_created[m->partition] = ts;
                if (s->kill_ms && ts > s->kill_ms && !s->first_after[m->partition])
                    s->first_after[m->partition] = ts;
                pthread_mutex_unlock(&s->lock);
            }
            if (e)
                shequ__v1__ticket_event__free_unpacked(e, NULL);
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return NULL;
}

/* The partitions an instance holds, from its log: restored minus dropped, in order. */
static int held_partitions(const char *path, bool held[NPART])
{
    memset(held, 0, NPART * sizeof *held);
    FILE *f = fopen(path, "r");
    char line[2048];
    while (f && fgets(line, sizeof line, f)) {
        char *p;
        if ((p = strstr(line, "state.restored partition=")))
            held[atoi(p + 25) % NPART] = true;
        else if ((p = strstr(line, "model.dropped partition=")))
            held[atoi(p + 24) % NPART] = false;
    }
    if (f)
        fclose(f);
    int n = 0;
    for (int p = 0; p < NPART; p++)
        n += held[p];
    return n;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void bench_rebalance(int kills)
{
    if (kills < 1)
        kills = 10;
    world_init(0, 0, 1);
    static rb_state s = { .lock = PTHREAD_MUTEX_INITIALIZER };
    snprintf(s.reports, sizeof s.reports, "%sreports.resident.v1", prefix);
    snprintf(s.tickets, sizeof s.tickets, "%stickets.v1", prefix);
    for (int p = 0; p < NPART; p++) {
        s.comm[p] = W.probe[p];
        bench_directory(W.comm[W.probe[p]]);
    }
    const char *session = getenv("SHEQU_BENCH_SESSION_MS") ? getenv("SHEQU_BENCH_SESSION_MS") : "6000";
    static char level[] = "SHEQU_LOG_LEVEL=info", sess[64], rules[300], pg[300];
    snprintf(sess, sizeof sess, "SHEQU_KAFKA_SESSION_TIMEOUT_MS=%s", session);
    snprintf(rules, sizeof rules, "SHEQU_RULES_FILE=%s/deploy/rules/shequ.rules", ts_env("SHEQU_ROOT"));
    snprintf(pg, sizeof pg, "SHEQU_PG_DSN=%s", ts_env("PG_DSN"));
    char *extra[] = { level, sess, rules, pg, NULL };
    const char *logs[2] = { "build/bench/rebalance-0.log", "build/bench/rebalance-1.log" };
    pthread_t tw, tt;
    pthread_create(&tw, NULL, rb_watch, &s);
    sq_sleep_ms(1000);
    pid_t pid[2];
    for (int i = 0; i < 2; i++)
        pid[i] = spawn_logged_svc("triage", logs[i], extra);
    pthread_create(&tt, NULL, rb_trickle, &s);
    double *lat = calloc((size_t)kills, sizeof *lat);
    int got = 0;
    char series[400] = "";
    int off = 0;
    for (int k = 0; k < kills; k++) {
        /* steady: each instance holds its share (the two sets cover every partition once) and every
         * partition had a ticket in the last second */
        bool held[2][NPART];
        int64_t w0 = sq_mono_us();
        bool steady = false;
        while (!steady && sq_mono_us() - w0 < 120 * SQ_US_PER_S) {
            sq_sleep_ms(500);
            int n0 = held_partitions(logs[0], held[0]), n1 = held_partitions(logs[1], held[1]);
            bool cover = n0 + n1 == NPART && n0 > 0 && n1 > 0;
            for (int p = 0; cover && p < NPART; p++)
                cover = held[0][p] != held[1][p];
            int64_t now_ms = sq_now_us() / 1000;
            bool fresh = true;
            pthread_mutex_lock(&s.lock);
            for (int p = 0; p < NPART; p++)
                fresh &= now_ms - s.last_created[p] < 1000;
            pthread_mutex_unlock(&s.lock);
            steady = cover && fresh;
        }
        if (!steady) {
            fprintf(stderr, "bench rebalance: not steady before kill %d (assignment or flow); skipped\n", k);
            continue;
        }
        sq_sleep_ms(3000);
        int victim = k % 2;
        pthread_mutex_lock(&s.lock);
        memset(s.first_after, 0, sizeof s.first_after);
        s.kill_ms = sq_now_us() / 1000;
        pthread_mutex_unlock(&s.lock);
        kill(pid[victim], SIGKILL);
        waitpid(pid[victim], NULL, 0);
        int64_t kill_ms = s.kill_ms, done_ms = 0;
        int64_t d0 = sq_mono_us();
        while (!done_ms && sq_mono_us() - d0 < 120 * SQ_US_PER_S) {
            sq_sleep_ms(50);
            pthread_mutex_lock(&s.lock);
            int64_t last = 0;
            bool all = true;
            for (int p = 0; p < NPART; p++)
                if (held[victim][p]) {
                    all &= s.first_after[p] != 0;
                    if (s.first_after[p] > last)
                        last = s.first_after[p];
                }
            pthread_mutex_unlock(&s.lock);
            if (all)
                done_ms = last;
        }
        pthread_mutex_lock(&s.lock);
        s.kill_ms = 0;
        pthread_mutex_unlock(&s.lock);
        if (done_ms) {
            lat[got++] = (double)(done_ms - kill_ms);
            off += snprintf(series + off, sizeof series - (size_t)off, "%s%.0f", got > 1 ? " " : "",
                            (double)(done_ms - kill_ms));
        }
        fprintf(stderr, "bench rebalance: kill %d (instance %d): its partitions handled by the survivor after %.0f ms\n",
                k, victim, done_ms ? (double)(done_ms - kill_ms) : -1);
        pid[victim] = spawn_logged_svc("triage", logs[victim], extra);
    }
    s.stop = true;
    pthread_join(tt, NULL);
    pthread_join(tw, NULL);
    for (int i = 0; i < 2; i++)
        ts_stop(pid[i], false);
    qsort(lat, (size_t)got, sizeof *lat, cmp_dbl);
    double p50 = got ? lat[got / 2] : 0, p99 = got ? lat[(got * 99) / 100] : 0;
    char notes[1200];
    snprintf(notes, sizeof notes,
             "2 triage instances, kafka.session_timeout_ms %s, eager range assignment, %d reports/s per partition; "
             "%d of %d kills measured: SIGKILL -> every partition the killed one held has a `created` stamped after "
             "the kill; ms each, in kill order: %s; %ld reports sent", session, 20, got, kills, series, s.sent);
    result("rebalance", 0, 0, p50, p99, notes);
    printf("rebalance: SIGKILL of one of 2 triage instances (session.timeout.ms %s) -> its partitions handled by the "
           "survivor: p50 %.0f ms, p99 %.0f ms, max %.0f ms over %d kills\n", session, p50, p99,
           got ? lat[got - 1] : 0, got);
    free(lat);
    for (int p = 0; p < NPART; p++)
        bench_directory_forget(W.comm[W.probe[p]]);
}
