/*
 * sq.h — the error convention and small helpers shared by every Shequ module.
 *
 * Every fallible function returns an sq_rc: SQ_OK (0) on success or a negative
 * code; functions that ask whether something started has finished may also
 * return SQ_PENDING (positive). Functions that can explain a failure take a
 * caller-owned buffer `char *err, size_t errlen` and leave a one-line reason there.
 */
#ifndef SQ_H
#define SQ_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

typedef enum sq_rc {
    SQ_OK = 0,
    SQ_ERR = -1,       /* generic failure, see err */
    SQ_RETRY = -2,     /* transient: a dependency is down; try the same thing later */
    SQ_INVALID = -3,   /* the input is bad; retrying will not help (dead letter it) */
    SQ_NOTFOUND = -4,
    SQ_NOMEM = -5,
    SQ_PENDING = 1,    /* not a failure: started and not finished yet; ask again */
    SQ_RESTART = 2,    /* not a failure: state derived from a log is ahead of it; build it again */
} sq_rc;

const char *sq_rc_str(int rc);

#define SQ_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__)
#define SQ_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define SQ_PRINTF(fmt, args)
#endif

/* snprintf into err if err is not NULL; always returns rc so callers can `return sq_fail(...)`. */
int sq_fail(char *err, size_t errlen, int rc, const char *fmt, ...) SQ_PRINTF(4, 5);

#endif
