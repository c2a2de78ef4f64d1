/*
 * config.h — table-driven configuration: defaults → file → environment →
 * command-line flags, each layer overriding the one before.
 *
 * A daemon describes its options once, in a table that ends with {0}:
 *
 *   static sq_option opts[] = {
 *       SQ_OPTIONS_COMMON(&common),
 *       { "merge.window_s", SQ_OPT_INT, "1800", 1, 86400, "merge window", &cfg.merge_window_s },
 *       { 0 } };
 *
 * An option "merge.window_s" is `merge.window_s = 60` in the file,
 * SHEQU_MERGE_WINDOW_S in the environment and --merge-window-s on the
 * command line. `--config FILE` (or SHEQU_CONFIG) names the file; `--help`
 * prints every option with its default and the environment name.
 *
 * Targets: SQ_OPT_STR writes a malloc'd char* (freed by sq_config_free),
 * SQ_OPT_INT a long, SQ_OPT_BOOL a bool, SQ_OPT_DOUBLE a double.
 */
#ifndef SQ_CONFIG_H
#define SQ_CONFIG_H

#include "sq.h"

typedef enum { SQ_OPT_STR, SQ_OPT_INT, SQ_OPT_BOOL, SQ_OPT_DOUBLE } sq_opt_type;

typedef struct sq_option {
    const char *name;
    sq_opt_type type;
    const char *def;   /* default as text; NULL = empty string / 0 */
    double min, max;   /* bounds for INT and DOUBLE; both 0 = unbounded */
    const char *help;
    void *target;
    char origin[96];   /* where the value came from: default, file:line, env, flag */
} sq_option;

/* Options every daemon has. */
typedef struct sq_common_config {
    char *service;
    char *config_file;
    char *log_level;
    char *kafka_brokers;
    char *kafka_group;
    long kafka_linger_ms;
    char *kafka_compression;
    long kafka_session_timeout_ms;
    long kafka_batch_max;
    long kafka_batch_ms;
    bool kafka_stop_at_end;
    char *topic_deadletter;
    char *topic_prefix;
    long admin_port;
    char *admin_bind;
    char *pg_dsn;
    char *redis_url;
    char *mqtt_host;
    long mqtt_port;
    char *mqtt_user;
    char *mqtt_password;
    char *rules_file;
    char *redis_prefix;
    char *instance;
    bool state_changelog;
} sq_common_config;

#define SQ_OPTIONS_COMMON(c)                                                                       \
    { "service", SQ_OPT_STR, NULL, 0, 0, "service name, used in logs and as the default consumer group", &(c)->service, "" }, \
    { "config", SQ_OPT_STR, NULL, 0, 0, "configuration file (key = value lines)", &(c)->config_file, "" }, \
    { "log.level", SQ_OPT_STR, "info", 0, 0, "debug | info | warn | error", &(c)->log_level, "" }, \
    { "kafka.brokers", SQ_OPT_STR, "127.0.0.1:19092", 0, 0, "Kafka bootstrap servers", &(c)->kafka_brokers, "" }, \
    { "kafka.group", SQ_OPT_STR, NULL, 0, 0, "consumer group (default: the service name)", &(c)->kafka_group, "" }, \
    { "kafka.linger_ms", SQ_OPT_INT, "5", 0, 5000, "producer linger: more for throughput, less for latency", &(c)->kafka_linger_ms, "" }, \
    { "kafka.compression", SQ_OPT_STR, "lz4", 0, 0, "producer compression: none | lz4 | zstd | snappy | gzip", &(c)->kafka_compression, "" }, \
    { "kafka.session_timeout_ms", SQ_OPT_INT, "6000", 1000, 300000, "consumer session timeout", &(c)->kafka_session_timeout_ms, "" }, \
    { "kafka.batch_max", SQ_OPT_INT, "2000", 1, 1000000, "messages handled before their effects are made durable and offsets stored", &(c)->kafka_batch_max, "" }, \
    { "kafka.batch_ms", SQ_OPT_INT, "50", 1, 60000, "longest a handled message waits for its batch to be made durable", &(c)->kafka_batch_ms, "" }, \
    { "kafka.stop_at_end", SQ_OPT_BOOL, "false", 0, 0, "stop once every assigned partition is read to its end and committed (replays, rebuilds)", &(c)->kafka_stop_at_end, "" }, \
    { "topic.deadletter", SQ_OPT_STR, "deadletter.v1", 0, 0, "dead-letter topic", &(c)->topic_deadletter, "" }, \
    { "topic.prefix", SQ_OPT_STR, NULL, 0, 0, "prefix of every topic name (isolates test runs)", &(c)->topic_prefix, "" }, \
    { "admin.port", SQ_OPT_INT, "0", 0, 65535, "port of the /healthz and /metrics endpoint (0 = off)", &(c)->admin_port, "" }, \
    { "admin.bind", SQ_OPT_STR, "127.0.0.1", 0, 0, "address of the admin endpoint", &(c)->admin_bind, "" }, \
    { "pg.dsn", SQ_OPT_STR, NULL, 0, 0, "PostgreSQL connection string", &(c)->pg_dsn, "" }, \
    { "redis.url", SQ_OPT_STR, "redis://127.0.0.1:16379/0", 0, 0, "Redis URL", &(c)->redis_url, "" }, \
    { "mqtt.host", SQ_OPT_STR, "127.0.0.1", 0, 0, "MQTT broker host", &(c)->mqtt_host, "" }, \
    { "mqtt.port", SQ_OPT_INT, "11883", 1, 65535, "MQTT broker port", &(c)->mqtt_port, "" }, \
    { "mqtt.user", SQ_OPT_STR, NULL, 0, 0, "MQTT user name", &(c)->mqtt_user, "" }, \
    { "mqtt.password", SQ_OPT_STR, NULL, 0, 0, "MQTT password", &(c)->mqtt_password, "" }, \
    { "rules.file", SQ_OPT_STR, NULL, 0, 0, "rules file (reloaded on SIGHUP)", &(c)->rules_file, "" }, \
    { "redis.prefix", SQ_OPT_STR, "sq:", 0, 0, "prefix of every Redis key (isolates test runs)", &(c)->redis_prefix, "" }, \
    { "instance", SQ_OPT_STR, NULL, 0, 0, "this instance's name among the instances of the service, stable across its restarts (MQTT client ids are <mqtt.client_id>-<instance>)", &(c)->instance, "" }, \
    { "state.changelog", SQ_OPT_BOOL, "true", 0, 0, "restore owned partitions from tickets.changelog.v1 and the log's tail (false: replay tickets.v1 from the start; slower, the same state)", &(c)->state_changelog, "" }

/*
 * Loads every layer into the targets. Returns SQ_OK, SQ_INVALID with a
 * message naming the option and its origin (file:line) in err, or 1 when
 * --help was printed (the caller exits 0).
 */
int sq_config_load(sq_option *opts, const char *usage, int argc, char **argv,
                   char *err, size_t errlen);

/* Parses one value into an option (used by every layer). */
int sq_config_set(sq_option *opt, const char *value, const char *origin, char *err, size_t errlen);

/* Applies one file's "key = value" lines; unknown keys are errors. */
int sq_config_apply_file(sq_option *opts, const char *path, char *err, size_t errlen);

/* "merge.window_s" → "SHEQU_MERGE_WINDOW_S" into out. */
void sq_config_env_name(const char *name, char *out, size_t outlen);

sq_option *sq_config_find(sq_option *opts, const char *name);
void sq_config_print_help(const sq_option *opts, const char *usage, void *stream);
/* Logs every option and its origin; passwords and secrets are shown as ***. */
void sq_config_log(const sq_option *opts);
/*
 * The full name of a topic: topic.prefix + base. The returned string lives
 * until exit (interned); call at start-up, not per message.
 */
const char *sq_topic_name(const sq_common_config *c, const char *base);

/* Frees every SQ_OPT_STR target. Accepts NULL. */
void sq_config_free(sq_option *opts);

#endif
