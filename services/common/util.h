/*
 * util.h — time, identifiers and text helpers with no dependency on the bus.
 */
#ifndef SQ_UTIL_H
#define SQ_UTIL_H

#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <time.h>

#define SQ_UUID_LEN 37   /* 36 characters and the NUL */
#define SQ_US_PER_S 1000000LL
#define SQ_TZ_SHANGHAI_US (8LL * 3600 * SQ_US_PER_S)  /* UTC+8, no daylight saving */

int64_t sq_now_us(void);            /* wall clock, UTC microseconds */
int64_t sq_mono_us(void);           /* monotonic clock, microseconds */
void sq_sleep_ms(long ms);
/* Sleeps ms in steps of 50 ms, returning early once *running is 0 (a service asked to stop). */
void sq_sleep_while(long ms, volatile sig_atomic_t *running);
/* The wall-clock instant ms from now, for pthread's timed waits. */
struct timespec sq_deadline_ms(long ms);
/* Joins t if it ends within wait_ms (0: only if it has ended): SQ_OK, or SQ_PENDING while it runs. */
int sq_thread_join_ms(pthread_t t, long wait_ms);

/* Random version-4 UUID into out[SQ_UUID_LEN]. */
void sq_uuid4(char out[SQ_UUID_LEN]);
/* Deterministic name-based UUID (version 5 layout, SHA-1) of namespace + name. */
void sq_uuid5(char out[SQ_UUID_LEN], const char *ns, const char *name, size_t name_len);

/* "2026-11-24T22:30:00.123456Z" (UTC) into out; returns out. */
char *sq_fmt_rfc3339(int64_t us, char *out, size_t outlen);
/* Same instant shown in Asia/Shanghai: "2026-11-25T06:30:00+08:00". */
char *sq_fmt_shanghai(int64_t us, char *out, size_t outlen);
/* Parse RFC 3339 (Z or ±hh:mm offset, optional fraction). SQ_OK or SQ_INVALID. */
int sq_parse_rfc3339(const char *s, int64_t *us_out);
/* Days since 1970-01-01 of a proleptic Gregorian date, and back (H. Hinnant's algorithms). */
int64_t sq_days_from_civil(int64_t y, unsigned m, unsigned d);
void sq_civil_from_days(int64_t days, int *y, unsigned *m, unsigned *d);
/* Asia/Shanghai calendar day (days since 1970-01-01 local) of an instant. */
int64_t sq_shanghai_day(int64_t us);

/* Lowercase hex of n bytes into out (2n+1 bytes). */
void sq_hex(const unsigned char *in, size_t n, char *out);
/* 1 if buf[0..len) is valid UTF-8 (no overlongs, no surrogates), else 0. */
bool sq_utf8_valid(const char *buf, size_t len);
/* Copy at most outlen-1 bytes, always NUL-terminated, never splits a UTF-8 sequence. */
size_t sq_strlcpy_utf8(char *out, const char *in, size_t outlen);
/* parts[0..nparts) joined by sep into out (at most n-1 bytes, NUL-terminated; a NULL part is empty);
 * returns the length written. For keys and names built per event, where snprintf's cost showed. */
size_t sq_join(char *out, size_t n, char sep, const char *const *parts, int nparts);
/* 64-bit FNV-1a, for sharding and cheap hashing (not for security). */
uint64_t sq_fnv1a(const void *data, size_t len);

#endif
