/*
 * util.c — time, identifiers and text helpers. Pure functions except for the
 * clocks and the random source.
 */
#include "util.h"
#include "sq.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

const char *sq_rc_str(int rc)
{
    switch (rc) {
    case SQ_OK: return "ok";
    case SQ_ERR: return "error";
    case SQ_RETRY: return "retry";
    case SQ_INVALID: return "invalid";
    case SQ_NOTFOUND: return "not_found";
    case SQ_NOMEM: return "no_memory";
    case SQ_PENDING: return "pending";
    case SQ_RESTART: return "restart";
    default: return "unknown";
    }
}

int sq_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

int64_t sq_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * SQ_US_PER_S + ts.tv_nsec / 1000;
}

int64_t sq_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * SQ_US_PER_S + ts.tv_nsec / 1000;
}

struct timespec sq_deadline_ms(long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

int sq_thread_join_ms(pthread_t t, long wait_ms)
{
    struct timespec until = sq_deadline_ms(wait_ms);
    int e = wait_ms > 0 ? pthread_timedjoin_np(t, NULL, &until) : pthread_tryjoin_np(t, NULL);
    return e == 0 ? SQ_OK : SQ_PENDING;
}

void sq_sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0) {
    }
}

void sq_sleep_while(long ms, volatile sig_atomic_t *running)
{
    for (long slept = 0; slept < ms && *running; slept += 50)
        sq_sleep_ms(ms - slept < 50 ? ms - slept : 50);
}

static void uuid_format(const unsigned char b[16], char out[SQ_UUID_LEN])
{
    static const char hex[] = "0123456789abcdef";
    char *o = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = hex[b[i] >> 4];
        *o++ = hex[b[i] & 15];
    }
    *o = '\0';
}

void sq_uuid4(char out[SQ_UUID_LEN])
{
    unsigned char b[16];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t n = getrandom(b + got, sizeof b - got, 0);
        if (n > 0)
            got += (size_t)n;
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    uuid_format(b, out);
}

/* SHA-1 fetched from the provider once, and one digest context per thread kept for reuse: fetching and
 * allocating them for every id cost more than the digest itself (ids are made for every event). */
static EVP_MD *sha1_md;
static pthread_key_t sha1_key;
static pthread_once_t sha1_once = PTHREAD_ONCE_INIT;

static void sha1_ctx_free(void *c) { EVP_MD_CTX_free(c); }

static void sha1_init(void)
{
    sha1_md = EVP_MD_fetch(NULL, "SHA1", NULL);
    if (!sha1_md || pthread_key_create(&sha1_key, sha1_ctx_free) != 0)
        abort();
}

void sq_uuid5(char out[SQ_UUID_LEN], const char *ns, const char *name, size_t name_len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    pthread_once(&sha1_once, sha1_init);
    EVP_MD_CTX *c = pthread_getspecific(sha1_key);
    if (!c) {
        if (!(c = EVP_MD_CTX_new()) || pthread_setspecific(sha1_key, c) != 0)
            abort();
    }
    EVP_DigestInit_ex2(c, sha1_md, NULL);
    EVP_DigestUpdate(c, ns, strlen(ns));
    EVP_DigestUpdate(c, "\0", 1);
    EVP_DigestUpdate(c, name, name_len);
    EVP_DigestFinal_ex(c, md, &mdlen);
    md[6] = (unsigned char)((md[6] & 0x0f) | 0x50);
    md[8] = (unsigned char)((md[8] & 0x3f) | 0x80);
    uuid_format(md, out);
}

/* Days from civil date, Howard Hinnant's algorithm; exact for the proleptic Gregorian calendar. */
int64_t sq_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void sq_civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

static char *put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

/* Written digit by digit: the recorder formats several instants per event, and snprintf's cost showed. */
static char *fmt_instant(int64_t us, int64_t offset_us, bool frac, char *out, size_t outlen)
{
    int64_t local = us + offset_us;
    int64_t days = floor_div(local, 86400LL * SQ_US_PER_S);
    int64_t rem = local - days * 86400LL * SQ_US_PER_S;
    int y;
    unsigned m, d;
    sq_civil_from_days(days, &y, &m, &d);
    int64_t secs = rem / SQ_US_PER_S;
    int hh = (int)(secs / 3600), mm = (int)(secs / 60 % 60), ss = (int)(secs % 60);
    char t[40], *p = t;
    if (y < 0 || y > 9999) { /* not a date this system meets; no fraction */
        if (offset_us == 0)
            snprintf(out, outlen, "%04d-%02u-%02uT%02d:%02d:%02dZ", y, m, d, hh, mm, ss);
        else
            snprintf(out, outlen, "%04d-%02u-%02uT%02d:%02d:%02d+%02d:%02d", y, m, d, hh, mm, ss,
                     (int)(offset_us / 3600 / SQ_US_PER_S), (int)(offset_us / 60 / SQ_US_PER_S % 60));
        return out;
    }
    p = put2(put2(p, y / 100), y % 100);
    *p++ = '-';
    p = put2(p, (int)m);
    *p++ = '-';
    p = put2(p, (int)d);
    *p++ = 'T';
    p = put2(p, hh);
    *p++ = ':';
    p = put2(p, mm);
    *p++ = ':';
    p = put2(p, ss);
    if (offset_us == 0 && frac) {
        int f = (int)(rem % SQ_US_PER_S);
        *p++ = '.';
        for (int i = 5; i >= 0; i--, f /= 10)
            p[i] = (char)('0' + f % 10);
        p += 6;
    }
    if (offset_us == 0) {
        *p++ = 'Z';
    } else {
        int oh = (int)(offset_us / 3600 / SQ_US_PER_S), om = (int)(offset_us / 60 / SQ_US_PER_S % 60);
        *p++ = '+';
        p = put2(p, oh);
        *p++ = ':';
        p = put2(p, om);
    }
    *p = '\0';
    sq_strlcpy_utf8(out, t, outlen);
    return out;
}

char *sq_fmt_rfc3339(int64_t us, char *out, size_t outlen)
{
    return fmt_instant(us, 0, true, out, outlen);
}

char *sq_fmt_shanghai(int64_t us, char *out, size_t outlen)
{
    return fmt_instant(us, SQ_TZ_SHANGHAI_US, false, out, outlen);
}

int64_t sq_shanghai_day(int64_t us)
{
    return floor_div(us + SQ_TZ_SHANGHAI_US, 86400LL * SQ_US_PER_S);
}

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

int sq_parse_rfc3339(const char *s, int64_t *us_out)
{
    static const unsigned mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int y, mo, d, h, mi, se, oh = 0, om = 0;
    const char *p = s;
    if (!s || digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
        digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' '))
        return SQ_INVALID;
    p++;
    if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' || digits(&p, 2, &se))
        return SQ_INVALID;
    if (mo < 1 || mo > 12 || d < 1 || (unsigned)d > mdays[mo - 1] || h > 23 || mi > 59 || se > 60)
        return SQ_INVALID;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo == 2 && d == 29 && !leap)
        return SQ_INVALID;
    int64_t frac = 0;
    if (*p == '.') {
        p++;
        int n = 0;
        while (*p >= '0' && *p <= '9') {
            if (n < 6) {
                frac = frac * 10 + (*p - '0');
                n++;
            }
            p++;
        }
        if (n == 0)
            return SQ_INVALID;
        while (n++ < 6)
            frac *= 10;
    }
    int sign = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '+' ? 1 : -1;
        p++;
        if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) || oh > 23 || om > 59)
            return SQ_INVALID;
    } else {
        return SQ_INVALID;
    }
    if (*p != '\0')
        return SQ_INVALID;
    int64_t secs = sq_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400LL + h * 3600LL + mi * 60LL +
                   (se == 60 ? 59 : se);
    secs -= sign * (oh * 3600LL + om * 60LL);
    *us_out = secs * SQ_US_PER_S + frac;
    return SQ_OK;
}

void sq_hex(const unsigned char *in, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[in[i] >> 4];
        out[2 * i + 1] = hx[in[i] & 15];
    }
    out[2 * n] = '\0';
}

bool sq_utf8_valid(const char *buf, size_t len)
{
    const unsigned char *s = (const unsigned char *)buf, *end = s + len;
    while (s < end) {
        unsigned c = *s;
        if (c < 0x80) {
            s++;
            continue;
        }
        size_t n;
        unsigned cp;
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if ((size_t)(end - s) <= n)
            return false;
        for (size_t i = 1; i <= n; i++) {
            if ((s[i] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        s += n + 1;
    }
    return true;
}

size_t sq_strlcpy_utf8(char *out, const char *in, size_t outlen)
{
    if (outlen == 0)
        return 0;
    size_t n = strlen(in);
    if (n >= outlen) {
        n = outlen - 1;
        while (n > 0 && ((unsigned char)in[n] & 0xc0) == 0x80)
            n--;
    }
    memcpy(out, in, n);
    out[n] = '\0';
    return n;
}

size_t sq_join(char *out, size_t n, char sep, const char *const *parts, int nparts)
{
    if (n == 0)
        return 0;
    size_t o = 0;
    for (int i = 0; i < nparts; i++) {
        if (i && o < n - 1)
            out[o++] = sep;
        for (const char *p = parts[i] ? parts[i] : ""; *p && o < n - 1; p++)
            out[o++] = *p;
    }
    out[o] = '\0';
    return o;
}

uint64_t sq_fnv1a(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}
