/*
 * statelog.c — restoring a fold over tickets.v1 from the compacted changelog and the log's tail
 * (statelog.h has the contract and the changelog's layout).
 *
 * The changelog is read in two passes because a tombstone comes after the copy it deletes: the first
 * pass keeps the newest value of every key (a tombstone removes it), the second applies the survivors
 * in their tickets.v1 order. What the first pass holds is bounded by the live events plus what the
 * broker has not compacted yet (the topic's min.cleanable.dirty.ratio and segment.ms bound that).
 */
#include "statelog.h"
#include "kafka.h"
#include "log.h"
#include "map.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct kept {
    int64_t src;      /* offset in tickets.v1 */
    int64_t ts_ms;    /* the copy's Kafka timestamp (the original's) */
    size_t len;
    uint8_t data[];
} kept;

typedef struct range {
    int32_t partition;
    int64_t start, end; /* [start, end): end is the high watermark when the read began */
    bool done;
} range;

static rd_kafka_t *reader_new(const sq_common_config *c, char *err, size_t errlen)
{
    char e[256], group[128];
    snprintf(group, sizeof group, "%s.restore", c->service);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", c->kafka_brokers, e, sizeof e) ||
        rd_kafka_conf_set(conf, "group.id", group, e, sizeof e) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", e, sizeof e) ||
        rd_kafka_conf_set(conf, "enable.partition.eof", "false", e, sizeof e) ||
        rd_kafka_conf_set(conf, "fetch.wait.max.ms", "10", e, sizeof e)) {
        rd_kafka_conf_destroy(conf);
        sq_fail(err, errlen, SQ_ERR, "restore config: %s", e);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof e);
    if (!rk)
        sq_fail(err, errlen, SQ_ERR, "restore consumer: %s", e);
    return rk;
}

int sq_topic_partition_count(const sq_common_config *cfg, const char *topic)
{
    char err[256];
    rd_kafka_t *rk = reader_new(cfg, err, sizeof err);
    if (!rk)
        return SQ_ERR;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t me = rd_kafka_metadata(rk, 0, t, &md, 10000);
    rd_kafka_topic_destroy(t);
    int n = me || md->topic_cnt != 1 || md->topics[0].err ? SQ_RETRY : md->topics[0].partition_cnt;
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return n;
}

/*
 * Reads [start, end) of each range of topic (start < 0: from the low watermark; end: the high watermark
 * now), calling fn for every message. SQ_OK, or SQ_RETRY when Kafka did not answer or the read stalled.
 */
static int read_ranges(rd_kafka_t *rk, const char *topic, range *r, int n,
                       void (*fn)(void *ctx, int idx, const rd_kafka_message_t *m), void *ctx, char *err,
                       size_t errlen)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
    int remaining = 0;
    for (int i = 0; i < n; i++) {
        int64_t lo = 0, hi = 0;
        rd_kafka_resp_err_t we = rd_kafka_query_watermark_offsets(rk, topic, r[i].partition, &lo, &hi, 10000);
        if (we == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION || we == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
            r[i].start = r[i].end = 0; /* no such topic: nothing kept */
            r[i].done = true;
            continue;
        }
        if (we) {
            rd_kafka_topic_partition_list_destroy(l);
            return sq_fail(err, errlen, SQ_RETRY, "watermarks of %s[%d]: %s", topic, (int)r[i].partition,
                           rd_kafka_err2str(we));
        }
        if (r[i].start < lo)
            r[i].start = lo; /* before the log start: what is left */
        r[i].end = hi;
        r[i].done = r[i].start >= hi;
        if (!r[i].done) {
            rd_kafka_topic_partition_list_add(l, topic, r[i].partition)->offset = r[i].start;
            remaining++;
        }
    }
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    int64_t idle_since = sq_mono_us();
    while (remaining > 0 && sq_mono_us() - idle_since < 30 * SQ_US_PER_S) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        idle_since = sq_mono_us();
        int idx = -1;
        for (int i = 0; i < n && idx < 0; i++)
            if (r[i].partition == m->partition)
                idx = i;
        if (!m->err && idx >= 0 && !r[idx].done && m->offset < r[idx].end) {
            fn(ctx, idx, m);
            if (m->offset + 1 >= r[idx].end) {
                r[idx].done = true;
                remaining--;
            }
        } else if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            log_warn("restore.read_error", "topic=%s error=\"%s\"", topic, rd_kafka_message_errstr(m));
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_assign(rk, NULL);
    if (remaining > 0)
        return sq_fail(err, errlen, SQ_RETRY, "reading %s stalled with %d partitions left", topic, remaining);
    return SQ_OK;
}

typedef struct pass {
    sq_restore_part *parts;
    sq_map **kept;              /* per range: key → kept */
    sq_restore_apply_fn apply;
    void *ctx;
    long applied;
} pass;

static void keep_record(void *arg, int idx, const rd_kafka_message_t *m)
{
    pass *ps = arg;
    char key[64];
    size_t kl = m->key_len < sizeof key - 1 ? m->key_len : sizeof key - 1;
    memcpy(key, m->key ? m->key : "", kl);
    key[kl] = '\0';
    if (strcmp(key, SQ_CHANGELOG_POSITION_KEY) == 0) {
        char v[32];
        size_t vl = m->len < sizeof v - 1 ? m->len : sizeof v - 1;
        memcpy(v, m->payload ? m->payload : "", vl);
        v[vl] = '\0';
        ps->parts[idx].position = strtoll(v, NULL, 10);
        return;
    }
    if (strncmp(key, "e/", 2) != 0)
        return;
    free(sq_map_del(ps->kept[idx], key));
    if (!m->payload)
        return; /* tombstone */
    kept *k = malloc(sizeof *k + m->len);
    if (!k)
        return;
    k->src = strtoll(key + 2, NULL, 10);
    k->ts_ms = rd_kafka_message_timestamp(m, NULL);
    rd_kafka_headers_t *h = NULL;
    const void *hv = NULL;
    size_t hl = 0;
    if (!rd_kafka_message_headers(m, &h) && !rd_kafka_header_get_last(h, SQ_CHANGELOG_TS_HEADER, &hv, &hl) && hl < 24) {
        char v[24];
        memcpy(v, hv, hl);
        v[hl] = '\0';
        k->ts_ms = strtoll(v, NULL, 10);
    }
    k->len = m->len;
    memcpy(k->data, m->payload, m->len);
    sq_map_put(ps->kept[idx], key, k);
}

typedef struct collect {
    kept **v;
    size_t n;
} collect;

static int collect_one(void *arg, const char *key, void *value)
{
    collect *c = arg;
    c->v[c->n++] = value;
    return 0;
}

static int by_src(const void *a, const void *b)
{
    const kept *x = *(kept *const *)a, *y = *(kept *const *)b;
    return x->src < y->src ? -1 : x->src > y->src;
}

static void apply_bytes(pass *ps, int idx, const void *data, size_t len, int64_t offset, int64_t ts_ms)
{
    Shequ__V1__TicketEvent *ev = shequ__v1__ticket_event__unpack(NULL, len, data);
    if (!ev)
        return; /* the recorder dead-letters undecodable log events */
    ps->apply(ps->ctx, ev, ps->parts[idx].partition, offset);
    shequ__v1__ticket_event__free_unpacked(ev, NULL);
    ps->applied++;
    if (ts_ms > 0 && ts_ms * 1000 > ps->parts[idx].newest_us)
        ps->parts[idx].newest_us = ts_ms * 1000;
}

/* The survivors of the first pass, in their tickets.v1 order, below the position. */
static void apply_kept(pass *ps, int idx)
{
    collect c = { malloc((sq_map_len(ps->kept[idx]) + 1) * sizeof *c.v), 0 };
    if (!c.v)
        return;
    sq_map_each(ps->kept[idx], collect_one, &c);
    qsort(c.v, c.n, sizeof *c.v, by_src);
    for (size_t i = 0; i < c.n; i++) {
        if (c.v[i]->src >= ps->parts[idx].position)
            continue; /* copied after the position was written: the tail has it */
        apply_bytes(ps, idx, c.v[i]->data, c.v[i]->len, c.v[i]->src, c.v[i]->ts_ms);
        ps->parts[idx].from_changelog++;
    }
    free(c.v);
}

static void apply_tail(void *arg, int idx, const rd_kafka_message_t *m)
{
    pass *ps = arg;
    apply_bytes(ps, idx, m->payload, m->len, m->offset, rd_kafka_message_timestamp(m, NULL));
    ps->parts[idx].from_log++;
    ps->parts[idx].next = m->offset + 1;
}

long sq_statelog_restore(const sq_common_config *cfg, const char *changelog_topic, const char *tickets_topic,
                         sq_restore_part *parts, int n, bool tail, sq_restore_apply_fn apply, void *ctx, char *err,
                         size_t errlen)
{
    if (n <= 0)
        return 0;
    rd_kafka_t *rk = reader_new(cfg, err, errlen);
    if (!rk)
        return SQ_ERR;
    long rc = SQ_OK;
    pass ps = { parts, calloc((size_t)n, sizeof *ps.kept), apply, ctx, 0 };
    range *r = calloc((size_t)n, sizeof *r);
    if (!ps.kept || !r) {
        rc = sq_fail(err, errlen, SQ_NOMEM, "restore: out of memory");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        parts[i].position = parts[i].newest_us = 0;
        parts[i].from_changelog = parts[i].from_log = 0;
        r[i].partition = parts[i].partition;
        r[i].start = -1;
        ps.kept[i] = sq_map_new(1024);
    }
    if (changelog_topic && (rc = read_ranges(rk, changelog_topic, r, n, keep_record, &ps, err, errlen)) != SQ_OK)
        goto out;
    for (int i = 0; i < n; i++) {
        apply_kept(&ps, i);
        sq_map_clear(ps.kept[i], free);
        parts[i].next = parts[i].position;
        r[i].start = parts[i].position;
    }
    if (tail) {
        if ((rc = read_ranges(rk, tickets_topic, r, n, apply_tail, &ps, err, errlen)) != SQ_OK)
            goto out;
        for (int i = 0; i < n; i++)
            if (parts[i].next < r[i].end)
                parts[i].next = r[i].end; /* the tail ended in records nobody could read (none, in practice) */
    }
    rc = ps.applied;
out:
    if (ps.kept)
        for (int i = 0; i < n; i++)
            if (ps.kept[i]) {
                sq_map_clear(ps.kept[i], free);
                sq_map_free(ps.kept[i]);
            }
    free(ps.kept);
    free(r);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}
