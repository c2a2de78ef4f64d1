/*
 * deadletter.h — what goes to deadletter.v1 (DESIGN.md §1): the original
 * bytes and key, with headers error (a reason code), error_detail,
 * source_topic, source_partition, source_offset and service.
 */
#ifndef SQ_DEADLETTER_H
#define SQ_DEADLETTER_H

#include "sq.h"

#include <librdkafka/rdkafka.h>

#define SQ_DL_DETAIL_MAX 1024  /* error_detail is cut (at a UTF-8 boundary) to this many bytes */

/* Builds the header set; returns a new list the caller owns (or hands to the producer). */
rd_kafka_headers_t *sq_deadletter_headers(const char *service, const char *topic, int32_t partition,
                                          int64_t offset, const char *reason, const char *detail);

/* Looks up one header value as a NUL-terminated copy into out. SQ_OK or SQ_NOTFOUND. */
int sq_header_get(const rd_kafka_headers_t *hdrs, const char *name, char *out, size_t outlen);

#endif
