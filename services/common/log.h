/*
 * log.h — one line per event on stderr:
 *
 *   2026-11-24T22:30:00.123Z INFO  triage ticket.created ticket=… tier=urgent
 *
 * A line is a timestamp, a level, the service, an event name and optional
 * key=value fields. Any run of 11 digits that looks like a Chinese mobile
 * number (1[3-9]xxxxxxxxx) is masked before the line is written: phone
 * numbers never reach a log, even by mistake. Thread-safe.
 */
#ifndef SQ_LOG_H
#define SQ_LOG_H

#include "sq.h"

typedef enum { SQ_LOG_DEBUG, SQ_LOG_INFO, SQ_LOG_WARN, SQ_LOG_ERROR } sq_log_level;

void sq_log_init(const char *service, sq_log_level level);
/* "debug", "info", "warn", "error" → level; SQ_INVALID on anything else. */
int sq_log_parse_level(const char *s, sq_log_level *out);
void sq_log_set_level(sq_log_level level);
bool sq_log_enabled(sq_log_level level);

void sq_log(sq_log_level level, const char *event, const char *fmt, ...) SQ_PRINTF(3, 4);

/* Mask phone-like digit runs in place. Returns the number masked. */
int sq_log_mask_phones(char *s);

#define log_debug(event, ...) \
    do { if (sq_log_enabled(SQ_LOG_DEBUG)) sq_log(SQ_LOG_DEBUG, event, __VA_ARGS__); } while (0)
#define log_info(event, ...) sq_log(SQ_LOG_INFO, event, __VA_ARGS__)
#define log_warn(event, ...) sq_log(SQ_LOG_WARN, event, __VA_ARGS__)
#define log_error(event, ...) sq_log(SQ_LOG_ERROR, event, __VA_ARGS__)

#endif
