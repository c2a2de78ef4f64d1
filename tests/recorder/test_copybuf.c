/*
 * test_copybuf.c — COPY text rows as the recorder builds them: escaping, NULLs, times, Shanghai days,
 * whole rows moved between buffers, and the cap.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "copybuf.h"
#include "sq.h"
#include "util.h"

static void fields_and_escapes(void **state)
{
    (void)state;
    copybuf b;
    copybuf_init(&b, 1 << 20);
    copybuf_text(&b, "a\tb\\c\nd\re");
    copybuf_text(&b, NULL);
    copybuf_text(&b, "电梯故障");
    copybuf_int(&b, -42);
    copybuf_bool(&b, true);
    copybuf_double(&b, 39.9042);
    copybuf_time(&b, 0); /* 0 is no time: NULL */
    copybuf_bytea(&b, "\x01\xff", 2);
    copybuf_end_row(&b);
    const char want[] = "a\\tb\\\\c\\nd\\re\t\\N\t电梯故障\t-42\tt\t39.9042\t\\N\t\\\\x01ff\n";
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    assert_int_equal(b.rows, 1);
    copybuf_free(&b);
}

/* Integers are written digit by digit: the extremes and both sides of every power of ten, against snprintf. */
static void check_int(long long v)
{
    copybuf b;
    copybuf_init(&b, 1 << 10);
    copybuf_int(&b, v);
    char want[32];
    snprintf(want, sizeof want, "%lld", v);
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    copybuf_free(&b);
}

static void integers(void **state)
{
    (void)state;
    check_int(0);
    check_int(9223372036854775807LL);
    check_int(-9223372036854775807LL - 1);
    long long p = 1;
    for (int e = 0; e <= 18; e++) { /* 10^0 .. 10^18 */
        check_int(p);
        check_int(p - 1);
        check_int(-p);
        check_int(1 - p);
        if (e < 18)
            p *= 10;
    }
}

static void times_and_shanghai_days(void **state)
{
    (void)state;
    copybuf b;
    copybuf_init(&b, 1 << 20);
    int64_t us;
    /* 15:59:59 UTC is still the 24th in Shanghai; 16:00 UTC is the 25th */
    assert_int_equal(sq_parse_rfc3339("2026-11-24T15:59:59Z", &us), SQ_OK);
    copybuf_time(&b, us);
    copybuf_date(&b, sq_shanghai_day(us));
    assert_int_equal(sq_parse_rfc3339("2026-11-24T16:00:00Z", &us), SQ_OK);
    copybuf_date(&b, sq_shanghai_day(us));
    copybuf_date(&b, 0);
    copybuf_date(&b, -1);
    copybuf_end_row(&b);
    const char want[] = "2026-11-24T15:59:59.000000Z\t2026-11-24\t2026-11-25\t1970-01-01\t1969-12-31\n";
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    copybuf_free(&b);
}

static void rows_move_whole(void **state)
{
    (void)state;
    copybuf a, b;
    copybuf_init(&a, 1 << 20);
    copybuf_init(&b, 1 << 20);
    copybuf_text(&a, "one");
    copybuf_end_row(&a);
    size_t second = a.len;
    copybuf_text(&a, "two");
    copybuf_int(&a, 2);
    copybuf_end_row(&a);
    copybuf_append_row(&b, a.data + second, a.len - second);
    assert_int_equal(b.rows, 1);
    assert_memory_equal(b.data, "two\t2\n", b.len);
    copybuf_text(&b, "three"); /* the next field starts a row of its own */
    copybuf_end_row(&b);
    assert_int_equal(b.rows, 2);
    assert_memory_equal(b.data, "two\t2\nthree\n", b.len);
    copybuf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.rows, 0);
    copybuf_free(&a);
    copybuf_free(&b);
}

static void capped(void **state)
{
    (void)state;
    copybuf b;
    copybuf_init(&b, 100);
    char big[200];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    copybuf_text(&b, "fits");
    assert_false(b.overflow);
    copybuf_text(&b, big);
    assert_true(b.overflow);
    assert_true(b.len < 100);
    copybuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fields_and_escapes),
        cmocka_unit_test(integers),
        cmocka_unit_test(times_and_shanghai_days),
        cmocka_unit_test(rows_move_whole),
        cmocka_unit_test(capped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
