/*
 * testsupport.h — helpers for integration tests against the real stack:
 * environment lookup, topic creation, raw produce/consume, child processes.
 */
#ifndef SQ_TESTSUPPORT_H
#define SQ_TESTSUPPORT_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* getenv or fail the test with a message telling to run under `tools/dev test`. */
const char *ts_env(const char *name);
/* A name unique to this run: prefix.<pid>.<random>. */
void ts_unique(char *out, size_t outlen, const char *prefix);
/* Creates a topic (waits until it exists). Returns 0 on success. */
int ts_create_topic(const char *topic, int partitions);
int ts_delete_topic(const char *topic);
/* Sets one configuration of a topic (AlterConfigs: the topic's other overrides are reset). 0 or -1. */
int ts_topic_config(const char *topic, const char *name, const char *value);
/*
 * Reads one configuration of a topic back (DescribeConfigs): its effective value into out, and in
 * *own (when not NULL) whether the topic sets it itself rather than inheriting the broker's default.
 * 0, or -1 when the topic or the name is unknown.
 */
int ts_topic_config_get(const char *topic, const char *name, char *out, size_t outlen, bool *own);
/*
 * Creates the topics of DESIGN.md §2 (and tickets.changelog.v1) with their partition counts and
 * the configurations tools/dev gives them (retention.ms=-1 on the community-keyed topics and the
 * dead letters, the changelog compacted) under a prefix (e.g. "t.1234.abcd."), so a test can run
 * its own service instances with SHEQU_TOPIC_PREFIX=<prefix>, isolated from everything else on the
 * broker. ts_delete_topic_set removes them.
 */
int ts_create_topic_set(const char *prefix);
void ts_delete_topic_set(const char *prefix);
/* Produces synchronously (acks=all). Returns 0 on success. */
int ts_produce(const char *topic, const void *key, size_t keylen, const void *val, size_t len);
/* High watermark of partition 0..n-1 summed. */
int64_t ts_end_offsets(const char *topic);
/*
 * Copies every message of `from` to `to` (an existing topic with at least as many partitions), each on
 * the partition it had, with its key, value, headers and original timestamp, in each partition's order.
 * Returns the number copied, or -1.
 */
int64_t ts_copy_topic(const char *from, const char *to);
/*
 * Reads messages of `topic` from `start` (per partition 0 only when
 * partition >= 0; -1 = all partitions from the start) until match returns true
 * or timeout_ms passes. Returns true if matched.
 */
bool ts_consume_until(const char *topic, int64_t start_offset_p0, int timeout_ms,
                      bool (*match)(const rd_kafka_message_t *m, void *ctx), void *ctx);
/* Runs argv[0] (a path) in a child with extra environment "K=V" entries; returns the pid. */
pid_t ts_spawn(char *const argv[], char *const extra_env[]);
/* SIGTERM (or SIGKILL when hard) and reap. Returns the exit status as waitpid reports it. */
int ts_stop(pid_t pid, bool hard);
/* Waits for a child to exit by itself; returns its status or -1 on timeout. */
int ts_wait_exit(pid_t pid, int timeout_ms);
/* CPU seconds (user + system) a process has used so far, from /proc; -1 if it is gone. */
double ts_cpu_seconds(pid_t pid);
/* CPU seconds of a process and its children, the live ones and those it has reaped (PostgreSQL's
 * postmaster and its backends), or -1. */
double ts_tree_cpu_seconds(pid_t root);
/* Runs a shell command, returns its exit status. */
int ts_sh(const char *cmd);
/* Path of a built executable relative to the build dir (SHEQU_BUILD_DIR). */
void ts_build_path(char *out, size_t outlen, const char *rel);

#endif
