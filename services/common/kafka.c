/*
 * kafka.c — what the producer and the consumer loop share: configuration,
 * logging, error reports and the health check (see kafka.h).
 */
#include "kafka_internal.h"
#include "log.h"

#include <stdatomic.h>
#include <stdio.h>

/* ---------------------------------------------------------------- common */

void sq_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    if (level <= 3)
        log_error("kafka.log", "facility=%s %s", fac, buf);
    else if (level <= 5)
        log_warn("kafka.log", "facility=%s %s", fac, buf);
    else
        log_debug("kafka.log", "facility=%s %s", fac, buf);
}

int sq_kafka_conf_set(rd_kafka_conf_t *conf, const char *k, const char *v, char *err, size_t errlen)
{
    char e[512];
    if (rd_kafka_conf_set(conf, k, v, e, sizeof e) != RD_KAFKA_CONF_OK)
        return sq_fail(err, errlen, SQ_INVALID, "kafka setting %s=%s: %s", k, v, e);
    return SQ_OK;
}

int sq_kafka_conf_extra(rd_kafka_conf_t *conf, const char *const *extra, char *err, size_t errlen)
{
    for (size_t i = 0; extra && extra[i] && extra[i + 1]; i += 2)
        if (sq_kafka_conf_set(conf, extra[i], extra[i + 1], err, errlen) != SQ_OK)
            return SQ_INVALID;
    return SQ_OK;
}

int sq_kafka_health(void *rk_handle, char *msg, size_t msglen)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk_handle, 0, NULL, &md, 2000);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return sq_fail(msg, msglen, SQ_RETRY, "kafka: %s", rd_kafka_err2str(e));
    rd_kafka_metadata_destroy(md);
    return SQ_OK;
}


void sq_kafka_report_error(rd_kafka_t *rk, int err, const char *reason, _Atomic bool *fatal_flag)
{
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[512];
        rd_kafka_fatal_error(rk, why, sizeof why);
        log_error("kafka.fatal", "reason=\"%s\"", why);
        if (fatal_flag)
            atomic_store(fatal_flag, true);
    } else {
        log_warn("kafka.error", "error=%s reason=\"%s\"", rd_kafka_err2name(err), reason);
    }
}

