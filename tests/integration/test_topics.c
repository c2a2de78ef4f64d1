/*
 * The topics' settings, read back from the broker (DescribeConfigs): a created topic set and the
 * stack's own topics (after tools/dev up) keep the community-keyed topics and the dead letters for
 * ever, set on each topic; the changelog is compacted; the community-keyed topics have 6
 * partitions. And the way from an older topic layout: `tools/dev topics` raises an empty old
 * layout in place, refuses one that holds messages naming reset-log, and reset-log --yes recreates
 * the topics and empties the tables built from the log while keeping the directory (each on a
 * prefixed topic set, a scratch database and a state directory of its own).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testsupport.h"
#include "sq.h"
#include "util.h"

static const char *const keyed[] = { "reports.resident.v1", "alarms.device.v1", "events.property.v1",
                                     "feedback.resident.v1", "tickets.v1" };

static int partitions(const char *topic)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", ts_env("KAFKA_BROKERS"), err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    assert_non_null(rk);
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md;
    int n = -1;
    if (rd_kafka_metadata(rk, 0, t, &md, 5000) == 0) {
        if (md->topic_cnt == 1 && md->topics[0].err == 0)
            n = md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(t);
    rd_kafka_destroy(rk);
    return n;
}

/* The topic sets the value itself (not the broker's default) and it is `want`. */
static void assert_own_config(const char *prefix, const char *topic, const char *name, const char *want)
{
    char full[256], v[256];
    bool own = false;
    snprintf(full, sizeof full, "%s%s", prefix, topic);
    if (ts_topic_config_get(full, name, v, sizeof v, &own) != 0)
        fail_msg("%s: no configuration %s", full, name);
    if (strcmp(v, want) != 0 || !own)
        fail_msg("%s: %s=%s (%s), want %s set on the topic", full, name, v, own ? "the topic's" : "inherited", want);
}

static void assert_layout(const char *prefix)
{
    char full[256];
    for (size_t i = 0; i < sizeof keyed / sizeof keyed[0]; i++) {
        snprintf(full, sizeof full, "%s%s", prefix, keyed[i]);
        assert_int_equal(partitions(full), 6);
        assert_own_config(prefix, keyed[i], "retention.ms", "-1");
        assert_own_config(prefix, keyed[i], "retention.bytes", "-1");
    }
    assert_own_config(prefix, "deadletter.v1", "retention.ms", "-1");
    snprintf(full, sizeof full, "%stickets.changelog.v1", prefix);
    assert_int_equal(partitions(full), 6);
    assert_own_config(prefix, "tickets.changelog.v1", "cleanup.policy", "compact");
    assert_own_config(prefix, "tickets.changelog.v1", "min.cleanable.dirty.ratio", "0.1");
    assert_own_config(prefix, "tickets.changelog.v1", "segment.ms", "600000");
    assert_own_config(prefix, "tickets.changelog.v1", "delete.retention.ms", "3600000");
    /* notify.v1 keeps the broker's default retention */
    char v[64];
    bool own = true;
    snprintf(full, sizeof full, "%snotify.v1", prefix);
    assert_int_equal(ts_topic_config_get(full, "retention.ms", v, sizeof v, &own), 0);
    assert_false(own);
    assert_int_equal(partitions(full), 3);
}

static void created_set_carries_the_settings(void **state)
{
    char id[SQ_UUID_LEN], prefix[64];
    sq_uuid4(id);
    snprintf(prefix, sizeof prefix, "tp.%.8s.", id);
    assert_int_equal(ts_create_topic_set(prefix), 0);
    assert_layout(prefix);
    ts_delete_topic_set(prefix);
}

static void stack_topics_carry_the_settings(void **state)
{
    assert_layout("");
    char path[512], line[128] = "";
    snprintf(path, sizeof path, "%s/topics.layout", ts_env("SHEQU_STATE"));
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("%s missing: tools/dev up records the topic layout there", path);
    if (!fgets(line, sizeof line, f))
        line[0] = 0;
    fclose(f);
    assert_int_equal(strncmp(line, "2 ", 2), 0);
}

/* Runs a shell command in the source tree; output in the state dir's out file. */
static int sh(const char *fmt, ...) SQ_PRINTF(1, 2);
static int sh(const char *fmt, ...)
{
    char cmd[2048];
    int n = snprintf(cmd, sizeof cmd, "cd '%s' && ", ts_env("SHEQU_SOURCE_DIR"));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd + n, sizeof cmd - (size_t)n, fmt, ap);
    va_end(ap);
    return ts_sh(cmd);
}

/* The topics of the layout before community keying: feedback with 3 partitions, no settings. */
static void make_old_layout(const char *prefix)
{
    static const struct { const char *name; int partitions; } old[] = {
        { "reports.resident.v1", 6 }, { "alarms.device.v1", 6 }, { "events.property.v1", 6 },
        { "feedback.resident.v1", 3 }, { "tickets.v1", 6 }, { "notify.v1", 3 }, { "deadletter.v1", 1 },
    };
    char full[256];
    for (size_t i = 0; i < sizeof old / sizeof old[0]; i++) {
        snprintf(full, sizeof full, "%s%s", prefix, old[i].name);
        assert_int_equal(ts_create_topic(full, old[i].partitions), 0);
    }
}

static void empty_old_layout_is_raised_in_place(void **state)
{
    char id[SQ_UUID_LEN], prefix[64], dir[] = "/tmp/shequ-topics-XXXXXX";
    sq_uuid4(id);
    snprintf(prefix, sizeof prefix, "to.%.8s.", id);
    assert_non_null(mkdtemp(dir));
    make_old_layout(prefix);
    assert_int_equal(sh("SHEQU_STATE=%s SHEQU_TOPIC_PREFIX=%s tools/dev topics 2>%s/out", dir, prefix, dir), 0);
    assert_layout(prefix);
    assert_int_equal(sh("grep -q 'raised %sfeedback.resident.v1 from 3 to 6' %s/out", prefix, dir), 0);
    /* a second run changes nothing */
    assert_int_equal(sh("SHEQU_STATE=%s SHEQU_TOPIC_PREFIX=%s tools/dev topics 2>%s/out && ! test -s %s/out",
                        dir, prefix, dir, dir), 0);
    ts_delete_topic_set(prefix);
    sh("rm -rf %s", dir);
}

static void old_layout_with_messages_is_refused_and_reset(void **state)
{
    char id[SQ_UUID_LEN], u[16], prefix[64], db[64], topic[256], dir[] = "/tmp/shequ-topics-XXXXXX";
    sq_uuid4(id);
    snprintf(u, sizeof u, "%.8s", id);
    snprintf(prefix, sizeof prefix, "to.%s.", u);
    snprintf(db, sizeof db, "shequ_to_%s", u);
    assert_non_null(mkdtemp(dir));
    make_old_layout(prefix);
    snprintf(topic, sizeof topic, "%stickets.v1", prefix);
    assert_int_equal(ts_produce(topic, "t-1", 3, "old", 3), 0);

    char env[512];
    snprintf(env, sizeof env, "SHEQU_STATE=%s SHEQU_TOPIC_PREFIX=%s SHEQU_DB=%s SHEQU_REDIS_PREFIX=to-%s:",
             dir, prefix, db, u);
    /* refused, naming the reset; nothing changed */
    assert_int_not_equal(sh("%s tools/dev topics 2>%s/out", env, dir), 0);
    assert_int_equal(sh("grep -q 'tools/dev reset-log' %s/out && grep -q '%stickets.v1 holds 1 messages' %s/out",
                        dir, prefix, dir), 0);
    snprintf(topic, sizeof topic, "%sfeedback.resident.v1", prefix);
    assert_int_equal(partitions(topic), 3);

    /* a scratch database with a ticket event (built from the log) and a street (the directory) */
    assert_int_equal(sh("tools/dev createdb %s && PG_OWNER_DSN=postgresql://shequ_owner:shequ_owner@127.0.0.1:15432/%s "
                        "tools/migrate >/dev/null 2>&1", db, db), 0);
    assert_int_equal(sh("psql -Xq postgresql://shequ_owner:shequ_owner@127.0.0.1:15432/%s -c \""
                        "INSERT INTO shequ.streets (street_id, name) VALUES ('st-1', 'S');"
                        "INSERT INTO shequ.ticket_events (event_id, ticket_id, type, occurred_at, log_partition, log_offset) "
                        "VALUES ('e-1', 't-1', 'created', now(), 0, 0)\"", db), 0);

    /* without --yes it lists and keeps everything */
    assert_int_not_equal(sh("%s tools/dev reset-log 2>%s/out", env, dir), 0);
    assert_int_equal(sh("grep -q 'would delete topic %stickets.v1 (1 messages)' %s/out && "
                        "grep -q 'would empty shequ.ticket_events (1 rows)' %s/out && "
                        "grep -q 'keep shequ.streets (1 rows)' %s/out", prefix, dir, dir, dir), 0);
    snprintf(topic, sizeof topic, "%stickets.v1", prefix);
    assert_int_equal(ts_end_offsets(topic), 1);

    assert_int_equal(sh("%s tools/dev reset-log --yes 2>%s/out", env, dir), 0);
    assert_int_equal(ts_end_offsets(topic), 0);
    assert_layout(prefix);
    assert_int_equal(sh("test \"$(psql -XAt postgresql://shequ_owner:shequ_owner@127.0.0.1:15432/%s -c "
                        "'SELECT count(*) FROM shequ.ticket_events' -c 'SELECT count(*) FROM shequ.streets' "
                        "| tr '\\n' ' ')\" = '0 1 '", db), 0);
    /* and the new layout is accepted from now on */
    assert_int_equal(sh("%s tools/dev topics 2>%s/out", env, dir), 0);

    sh("tools/dev dropdb %s", db);
    ts_delete_topic_set(prefix);
    sh("rm -rf %s", dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(created_set_carries_the_settings),
        cmocka_unit_test(stack_topics_carry_the_settings),
        cmocka_unit_test(empty_old_layout_is_raised_in_place),
        cmocka_unit_test(old_layout_with_messages_is_refused_and_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
