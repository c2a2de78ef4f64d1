/*
 * kafka_internal.h — helpers shared by producer.c and consumer.c (not for daemons).
 */
#ifndef SQ_KAFKA_INTERNAL_H
#define SQ_KAFKA_INTERNAL_H

#include "kafka.h"

/* Routes librdkafka's log lines into ours. */
void sq_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf);
/* Sets one librdkafka property; SQ_INVALID with the key, value and reason in err. */
int sq_kafka_conf_set(rd_kafka_conf_t *conf, const char *k, const char *v, char *err, size_t errlen);
/* Applies a NULL-terminated list of "key", "value" overrides. */
int sq_kafka_conf_extra(rd_kafka_conf_t *conf, const char *const *extra, char *err, size_t errlen);
/* Logs errors; a fatal one (RD_KAFKA_RESP_ERR__FATAL) is logged with librdkafka's reason and, when
 * fatal_flag is not NULL, raises it. */
void sq_kafka_report_error(rd_kafka_t *rk, int err, const char *reason, _Atomic bool *fatal_flag);

/* The ordered mode of the consumer loop (merge.c): each assigned partition's messages on its own queue,
 * given out per partition number in timestamp order across topics. */
typedef struct sq_merge sq_merge;
sq_merge *sq_merge_new(rd_kafka_t *rk, const char *const *topics, int idle_ms);
void sq_merge_assigned(sq_merge *g, const rd_kafka_topic_partition_list_t *parts); /* after assigning */
void sq_merge_revoked(sq_merge *g, const rd_kafka_topic_partition_list_t *parts);  /* before unassigning */
void sq_merge_drop_held(sq_merge *g); /* after a seek: what is held would come again */
/* A message, an event (error, end of partition) or NULL after timeout_ms. Serves rebalances. */
rd_kafka_message_t *sq_merge_next(sq_merge *g, int timeout_ms);
void sq_merge_free(sq_merge *g);

#endif
