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

#endif
