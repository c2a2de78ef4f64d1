/* Time, identifiers, UTF-8, phone masking and sealing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "phone.h"
#include "util.h"

static void rfc3339_round_trip(void **state)
{
    int64_t us;
    char buf[64];
    assert_int_equal(sq_parse_rfc3339("2026-11-24T22:30:00Z", &us), SQ_OK);
    assert_string_equal(sq_fmt_rfc3339(us, buf, sizeof buf), "2026-11-24T22:30:00.000000Z");
    assert_int_equal(sq_parse_rfc3339("2026-11-25T06:30:00+08:00", &us), SQ_OK);
    assert_string_equal(sq_fmt_rfc3339(us, buf, sizeof buf), "2026-11-24T22:30:00.000000Z");
    assert_string_equal(sq_fmt_shanghai(us, buf, sizeof buf), "2026-11-25T06:30:00+08:00");
    assert_int_equal(sq_parse_rfc3339("1970-01-01T00:00:00.5Z", &us), SQ_OK);
    assert_int_equal(us, 500000);
    assert_int_equal(sq_parse_rfc3339("2024-02-29T12:00:00-05:30", &us), SQ_OK);
    assert_string_equal(sq_fmt_rfc3339(us, buf, sizeof buf), "2024-02-29T17:30:00.000000Z");
    assert_int_equal(sq_parse_rfc3339("1969-12-31T23:59:59Z", &us), SQ_OK);
    assert_int_equal(us, -1000000);
}

/* The formatter writes digit by digit: every field's padding and carry, against snprintf's answer. */
static void rfc3339_format_edges(void **state)
{
    char buf[64];
    assert_string_equal(sq_fmt_rfc3339(0, buf, sizeof buf), "1970-01-01T00:00:00.000000Z");
    assert_string_equal(sq_fmt_rfc3339(-1, buf, sizeof buf), "1969-12-31T23:59:59.999999Z");
    assert_string_equal(sq_fmt_rfc3339(7, buf, sizeof buf), "1970-01-01T00:00:00.000007Z");
    assert_string_equal(sq_fmt_rfc3339(1795977000123456LL, buf, sizeof buf), "2026-11-29T18:30:00.123456Z");
    assert_string_equal(sq_fmt_shanghai(1795977000123456LL, buf, sizeof buf), "2026-11-30T02:30:00+08:00");
    assert_string_equal(sq_fmt_shanghai(-1, buf, sizeof buf), "1970-01-01T07:59:59+08:00");
    /* the last microsecond of 9999 in UTC and in Shanghai */
    assert_string_equal(sq_fmt_rfc3339(253402300799999999LL, buf, sizeof buf), "9999-12-31T23:59:59.999999Z");
    assert_string_equal(sq_fmt_shanghai(253402300799999999LL - 8 * 3600 * SQ_US_PER_S, buf, sizeof buf),
                        "9999-12-31T23:59:59+08:00");
    /* a buffer too small is cut, still terminated */
    char small[11];
    assert_string_equal(sq_fmt_rfc3339(0, small, sizeof small), "1970-01-01");
    /* every second of one day, and a spread of instants over the years, as snprintf would write them */
    for (int64_t us = -3LL * 86400 * SQ_US_PER_S; us < 400LL * 365 * 86400 * SQ_US_PER_S; us += 97LL * 86400 * SQ_US_PER_S + 3607000001LL) {
        int64_t days = us >= 0 ? us / (86400 * SQ_US_PER_S) : -((-us + 86400 * SQ_US_PER_S - 1) / (86400 * SQ_US_PER_S));
        int64_t rem = us - days * 86400 * SQ_US_PER_S;
        int y;
        unsigned m, d;
        sq_civil_from_days(days, &y, &m, &d);
        char want[64];
        snprintf(want, sizeof want, "%04d-%02u-%02uT%02d:%02d:%02d.%06lldZ", y, m, d, (int)(rem / 3600000000LL),
                 (int)(rem / 60000000 % 60), (int)(rem / 1000000 % 60), (long long)(rem % 1000000));
        assert_string_equal(sq_fmt_rfc3339(us, buf, sizeof buf), want);
    }
    for (int s = 0; s < 86400; s++) {
        char want[64];
        snprintf(want, sizeof want, "2026-11-26T%02d:%02d:%02d.000000Z", s / 3600, s / 60 % 60, s % 60);
        assert_string_equal(sq_fmt_rfc3339((1795651200LL + s) * SQ_US_PER_S, buf, sizeof buf), want);
    }
}

static void rfc3339_rejects(void **state)
{
    int64_t us;
    const char *bad[] = { "", "2026-11-24", "2026-11-24T22:30:00", "2026-13-01T00:00:00Z",
                          "2025-02-29T00:00:00Z", "2026-11-24T24:00:00Z", "2026-11-24T22:30:00Zjunk",
                          "2026-11-24T22:30:00.Z", "2026-11-24T22:30:00+0800", "tomorrow",
                          "2026-04-31T00:00:00Z" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(sq_parse_rfc3339(bad[i], &us), SQ_INVALID);
    assert_int_equal(sq_parse_rfc3339(NULL, &us), SQ_INVALID);
}

static void shanghai_day_boundary(void **state)
{
    int64_t a, b;
    /* 16:00 UTC is midnight in Shanghai */
    assert_int_equal(sq_parse_rfc3339("2026-11-24T15:59:59.999999Z", &a), SQ_OK);
    assert_int_equal(sq_parse_rfc3339("2026-11-24T16:00:00Z", &b), SQ_OK);
    assert_int_equal(sq_shanghai_day(b) - sq_shanghai_day(a), 1);
    assert_int_equal(sq_shanghai_day(0), 0);
    assert_int_equal(sq_shanghai_day(-8LL * 3600 * 1000000 - 1), -1);
}

static void uuids(void **state)
{
    char a[SQ_UUID_LEN], b[SQ_UUID_LEN];
    sq_uuid4(a);
    sq_uuid4(b);
    assert_int_equal(strlen(a), 36);
    assert_string_not_equal(a, b);
    assert_int_equal(a[14], '4');
    sq_uuid5(a, "ticket", "report-1", 8);
    sq_uuid5(b, "ticket", "report-1", 8);
    assert_string_equal(a, b);
    assert_int_equal(a[14], '5');
    sq_uuid5(b, "ticket", "report-2", 8);
    assert_string_not_equal(a, b);
    sq_uuid5(b, "ticketr", "eport-1", 7); /* namespace boundary matters */
    assert_string_not_equal(a, b);
    /* known answers: ids already in the logs must come out the same from every later build */
    assert_string_equal(a, "6a1f5f74-96cf-54da-8562-f81431c4780a");
    sq_uuid5(a, "", "", 0);
    assert_string_equal(a, "5ba93c9d-b0cf-593f-92b5-21d7420e43f6");
}

static void join(void **state)
{
    char out[16], ref[16];
    const char *parts[] = { "ticket", "created", NULL };
    assert_int_equal(sq_join(out, sizeof out, '/', parts, 3), 15);
    snprintf(ref, sizeof ref, "%s/%s/%s", "ticket", "created", ""); /* what the ids were built from before */
    assert_string_equal(out, ref);
    const char *many[] = { "community", "building", "category" };
    assert_int_equal(sq_join(out, sizeof out, '|', many, 3), 15); /* truncated to n - 1, never past it */
    assert_string_equal(out, "community|build");
    assert_int_equal(sq_join(out, sizeof out, '|', many, 0), 0);
    assert_string_equal(out, "");
    assert_int_equal(sq_join(out, 1, '|', many, 3), 0);
    assert_int_equal(sq_join(out, 0, '|', many, 3), 0);
}

static void utf8(void **state)
{
    const char *ok = "电梯故障 被困 elevator";
    assert_true(sq_utf8_valid(ok, strlen(ok)));
    assert_false(sq_utf8_valid("\xc0\xaf", 2));          /* overlong */
    assert_false(sq_utf8_valid("\xed\xa0\x80", 3));      /* surrogate */
    assert_false(sq_utf8_valid("\xe7\x94", 2));          /* truncated */
    assert_false(sq_utf8_valid("\xff", 1));
    assert_false(sq_utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
    assert_true(sq_utf8_valid("\xf0\x9f\x98\x80", 4));   /* emoji */
    char out[5];
    sq_strlcpy_utf8(out, "电梯", sizeof out); /* 6 bytes into 4: only the first character fits */
    assert_string_equal(out, "电");
    sq_strlcpy_utf8(out, "abcdef", sizeof out);
    assert_string_equal(out, "abcd");
}

/* The interruptible sleep: the whole time while running, at once when asked to stop. */
static void sleep_while(void **state)
{
    volatile sig_atomic_t running = 1;
    int64_t t0 = sq_mono_us();
    sq_sleep_while(120, &running);
    int64_t took = sq_mono_us() - t0;
    assert_true(took >= 120000);
    running = 0;
    t0 = sq_mono_us();
    sq_sleep_while(60000, &running);
    assert_true(sq_mono_us() - t0 < 50000);
}

static void phone_masking(void **state)
{
    char s[] = "call 13812345678 or 15900001111, not 123456789012 nor 12812345678 nor 2017712345678";
    int n = sq_log_mask_phones(s);
    assert_int_equal(n, 2);
    assert_null(strstr(s, "13812345678"));
    assert_null(strstr(s, "15900001111"));
    assert_non_null(strstr(s, "138********"));
    assert_non_null(strstr(s, "123456789012"));  /* 12 digits: not a phone */
    assert_non_null(strstr(s, "12812345678"));   /* 12x is not a mobile prefix */
    assert_non_null(strstr(s, "2017712345678")); /* inside a longer number */
}

static void phone_sealing(void **state)
{
    unsigned char key[SQ_PHONE_KEY_BYTES], other[SQ_PHONE_KEY_BYTES];
    assert_int_equal(sq_phone_key_parse("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", key), SQ_OK);
    assert_int_equal(sq_phone_key_parse("0011", key + 0) == SQ_INVALID, 1);
    assert_int_equal(sq_phone_key_parse("ff112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", other), SQ_OK);
    unsigned char sealed[SQ_PHONE_SEALED_MAX];
    int n = sq_phone_seal(key, "13812345678", sealed);
    assert_true(n > 11);
    assert_null(memmem(sealed, (size_t)n, "13812345678", 11));
    char out[32];
    assert_int_equal(sq_phone_open(key, sealed, (size_t)n, out, sizeof out), SQ_OK);
    assert_string_equal(out, "13812345678");
    assert_int_equal(sq_phone_open(other, sealed, (size_t)n, out, sizeof out), SQ_INVALID);
    sealed[n - 1] ^= 1;
    assert_int_equal(sq_phone_open(key, sealed, (size_t)n, out, sizeof out), SQ_INVALID);
    assert_int_equal(sq_phone_open(key, sealed, 3, out, sizeof out), SQ_INVALID);
    assert_true(sq_phone_valid("+86 138-1234-5678"));
    assert_false(sq_phone_valid("call me"));
    assert_false(sq_phone_valid("123"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc3339_round_trip),
        cmocka_unit_test(rfc3339_format_edges), cmocka_unit_test(rfc3339_rejects),
        cmocka_unit_test(shanghai_day_boundary), cmocka_unit_test(uuids),
        cmocka_unit_test(join), cmocka_unit_test(sleep_while),
        cmocka_unit_test(utf8), cmocka_unit_test(phone_masking), cmocka_unit_test(phone_sealing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
