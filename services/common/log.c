/*
 * log.c — structured single-line logging with phone masking.
 */
#include "log.h"
#include "util.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static char log_service[64] = "shequ";
static _Atomic int log_level = SQ_LOG_INFO;

void sq_log_init(const char *service, sq_log_level level)
{
    snprintf(log_service, sizeof log_service, "%s", service ? service : "shequ");
    atomic_store(&log_level, (int)level);
    setvbuf(stderr, NULL, _IOLBF, 0);
}

int sq_log_parse_level(const char *s, sq_log_level *out)
{
    static const char *names[] = { "debug", "info", "warn", "error" };
    for (int i = 0; i < 4; i++)
        if (s && strcmp(s, names[i]) == 0) {
            *out = (sq_log_level)i;
            return SQ_OK;
        }
    return SQ_INVALID;
}

void sq_log_set_level(sq_log_level level) { atomic_store(&log_level, (int)level); }

bool sq_log_enabled(sq_log_level level) { return (int)level >= atomic_load(&log_level); }

int sq_log_mask_phones(char *s)
{
    int masked = 0;
    size_t n = strlen(s);
    for (size_t i = 0; i + 11 <= n; i++) {
        if (s[i] != '1' || s[i + 1] < '3' || s[i + 1] > '9')
            continue;
        if (i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9')
            continue;
        size_t j = i;
        while (j < n && s[j] >= '0' && s[j] <= '9')
            j++;
        if (j - i != 11)
            continue;
        for (size_t k = i + 3; k < i + 11; k++)
            s[k] = '*';
        masked++;
        i = j - 1;
    }
    return masked;
}

void sq_log(sq_log_level level, const char *event, const char *fmt, ...)
{
    static const char *names[] = { "DEBUG", "INFO ", "WARN ", "ERROR" };
    if (!sq_log_enabled(level))
        return;
    char line[2048], ts[40];
    int off = snprintf(line, sizeof line, "%s %s %s %s", sq_fmt_rfc3339(sq_now_us(), ts, sizeof ts),
                       names[level], log_service, event);
    if (fmt && *fmt && off > 0 && (size_t)off < sizeof line - 2) {
        line[off++] = ' ';
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(line + off, sizeof line - (size_t)off, fmt, ap);
        va_end(ap);
    }
    for (char *p = line; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    sq_log_mask_phones(line);
    fprintf(stderr, "%s\n", line);
}
