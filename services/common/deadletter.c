/*
 * deadletter.c — the dead-letter header set. Pure: no broker involved.
 */
#include "deadletter.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

rd_kafka_headers_t *sq_deadletter_headers(const char *service, const char *topic, int32_t partition,
                                          int64_t offset, const char *reason, const char *detail)
{
    char part[16], off[24], cut[SQ_DL_DETAIL_MAX + 1];
    snprintf(part, sizeof part, "%d", (int)partition);
    snprintf(off, sizeof off, "%lld", (long long)offset);
    sq_strlcpy_utf8(cut, detail ? detail : "", sizeof cut);
    rd_kafka_headers_t *h = rd_kafka_headers_new(6);
    rd_kafka_header_add(h, "error", -1, reason && *reason ? reason : "unknown", -1);
    rd_kafka_header_add(h, "error_detail", -1, cut, -1);
    rd_kafka_header_add(h, "source_topic", -1, topic ? topic : "", -1);
    rd_kafka_header_add(h, "source_partition", -1, part, -1);
    rd_kafka_header_add(h, "source_offset", -1, off, -1);
    rd_kafka_header_add(h, "service", -1, service ? service : "", -1);
    return h;
}

int sq_header_get(const rd_kafka_headers_t *hdrs, const char *name, char *out, size_t outlen)
{
    const void *val;
    size_t len;
    if (!hdrs || rd_kafka_header_get_last(hdrs, name, &val, &len) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return SQ_NOTFOUND;
    if (len >= outlen)
        len = outlen - 1;
    if (val)
        memcpy(out, val, len);
    out[len] = '\0';
    return SQ_OK;
}
