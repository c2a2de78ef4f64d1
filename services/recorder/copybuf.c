/*
 * copybuf.c — COPY text format rows.
 */
#include "copybuf.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void copybuf_init(copybuf *b, size_t max)
{
    memset(b, 0, sizeof *b);
    b->max = max;
}

void copybuf_reset(copybuf *b)
{
    b->len = b->rows = 0;
    b->field_open = b->overflow = false;
}

void copybuf_free(copybuf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

static bool reserve(copybuf *b, size_t more)
{
    if (b->len + more + 1 > b->max) { /* the cap holds whatever has been allocated */
        b->overflow = true;
        return false;
    }
    if (b->len + more + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 65536;
    while (cap < b->len + more + 1)
        cap *= 2;
    if (cap > b->max)
        cap = b->max;
    char *d = realloc(b->data, cap);
    if (!d) {
        b->overflow = true;
        return false;
    }
    b->data = d;
    b->cap = cap;
    return true;
}

static void sep(copybuf *b)
{
    if (b->field_open && reserve(b, 1))
        b->data[b->len++] = '\t';
    b->field_open = true;
}

static void raw(copybuf *b, const char *s, size_t n)
{
    if (reserve(b, n)) {
        memcpy(b->data + b->len, s, n);
        b->len += n;
    }
}

void copybuf_textn(copybuf *b, const char *s, size_t n)
{
    sep(b);
    if (!s) {
        raw(b, "\\N", 2);
        return;
    }
    if (!reserve(b, 2 * n))
        return;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        switch (c) {
        case '\\': b->data[b->len++] = '\\'; b->data[b->len++] = '\\'; break;
        case '\t': b->data[b->len++] = '\\'; b->data[b->len++] = 't'; break;
        case '\n': b->data[b->len++] = '\\'; b->data[b->len++] = 'n'; break;
        case '\r': b->data[b->len++] = '\\'; b->data[b->len++] = 'r'; break;
        case '\0': break;
        default: b->data[b->len++] = c;
        }
    }
}

void copybuf_text(copybuf *b, const char *s) { copybuf_textn(b, s, s ? strlen(s) : 0); }

void copybuf_null(copybuf *b)
{
    sep(b);
    raw(b, "\\N", 2);
}

void copybuf_int(copybuf *b, long long v)
{
    char t[24], *p = t + sizeof t;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do
        *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0)
        *--p = '-';
    sep(b);
    raw(b, p, (size_t)(t + sizeof t - p));
}

void copybuf_bool(copybuf *b, bool v)
{
    sep(b);
    raw(b, v ? "t" : "f", 1);
}

void copybuf_double(copybuf *b, double v)
{
    char t[40];
    sep(b);
    raw(b, t, (size_t)snprintf(t, sizeof t, "%.9g", v));
}

void copybuf_time(copybuf *b, int64_t us)
{
    if (!us) {
        copybuf_null(b);
        return;
    }
    char t[40];
    sq_fmt_rfc3339(us, t, sizeof t);
    sep(b);
    raw(b, t, strlen(t));
}

void copybuf_append_row(copybuf *b, const char *row, size_t n)
{
    if (reserve(b, n)) {
        memcpy(b->data + b->len, row, n);
        b->len += n;
        b->rows++;
    }
}

void copybuf_date(copybuf *b, int64_t days)
{
    int y;
    unsigned m, d;
    sq_civil_from_days(days, &y, &m, &d);
    char t[16] = { (char)('0' + y / 1000 % 10), (char)('0' + y / 100 % 10), (char)('0' + y / 10 % 10), (char)('0' + y % 10),
                   '-', (char)('0' + m / 10), (char)('0' + m % 10), '-', (char)('0' + d / 10), (char)('0' + d % 10) };
    sep(b);
    raw(b, t, 10);
}

void copybuf_bytea(copybuf *b, const void *p, size_t n)
{
    sep(b);
    if (!reserve(b, 3 + 2 * n))
        return;
    memcpy(b->data + b->len, "\\\\x", 3);
    b->len += 3;
    sq_hex(p, n, b->data + b->len);
    b->len += 2 * n;
}

void copybuf_end_row(copybuf *b)
{
    if (reserve(b, 1))
        b->data[b->len++] = '\n';
    b->field_open = false;
    b->rows++;
}
