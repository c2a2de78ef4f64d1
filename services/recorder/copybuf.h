/*
 * copybuf.h — rows in PostgreSQL's COPY text format, built in memory.
 * A row is fields separated by tabs; NULL is \N; backslash, tab, newline and
 * carriage return are escaped. Growable; capped so hostile input cannot grow it
 * without bound (appends past the cap fail).
 */
#ifndef COPYBUF_H
#define COPYBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct copybuf {
    char *data;
    size_t len, cap, max;
    size_t rows;
    bool field_open; /* a field was written on the current row */
    bool overflow;
} copybuf;

void copybuf_init(copybuf *b, size_t max);
void copybuf_reset(copybuf *b);
void copybuf_free(copybuf *b);
void copybuf_text(copybuf *b, const char *s);        /* NULL → \N */
void copybuf_textn(copybuf *b, const char *s, size_t n);
void copybuf_null(copybuf *b);
void copybuf_int(copybuf *b, long long v);
void copybuf_bool(copybuf *b, bool v);
void copybuf_double(copybuf *b, double v);
void copybuf_time(copybuf *b, int64_t us);            /* 0 → \N */
void copybuf_date(copybuf *b, int64_t days);           /* days since 1970-01-01 → YYYY-MM-DD (years 0–9999) */
void copybuf_bytea(copybuf *b, const void *p, size_t n); /* \x hex */
void copybuf_end_row(copybuf *b);
void copybuf_append_row(copybuf *b, const char *row, size_t n); /* a whole row (with its newline) from elsewhere */

#endif
