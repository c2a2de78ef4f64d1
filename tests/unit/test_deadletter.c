/* The dead-letter header set of DESIGN.md §1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "deadletter.h"

static void all_headers_present(void **state)
{
    rd_kafka_headers_t *h = sq_deadletter_headers("triage", "reports.resident.v1", 4, 1234567890123LL,
                                                  "decode_error", "protobuf: truncated message");
    char v[2048];
    assert_int_equal(rd_kafka_header_cnt(h), 6);
    assert_int_equal(sq_header_get(h, "error", v, sizeof v), SQ_OK);
    assert_string_equal(v, "decode_error");
    assert_int_equal(sq_header_get(h, "error_detail", v, sizeof v), SQ_OK);
    assert_string_equal(v, "protobuf: truncated message");
    assert_int_equal(sq_header_get(h, "source_topic", v, sizeof v), SQ_OK);
    assert_string_equal(v, "reports.resident.v1");
    assert_int_equal(sq_header_get(h, "source_partition", v, sizeof v), SQ_OK);
    assert_string_equal(v, "4");
    assert_int_equal(sq_header_get(h, "source_offset", v, sizeof v), SQ_OK);
    assert_string_equal(v, "1234567890123");
    assert_int_equal(sq_header_get(h, "service", v, sizeof v), SQ_OK);
    assert_string_equal(v, "triage");
    assert_int_equal(sq_header_get(h, "nope", v, sizeof v), SQ_NOTFOUND);
    rd_kafka_headers_destroy(h);
}

static void empty_reason_and_long_detail(void **state)
{
    char detail[4000];
    for (size_t i = 0; i + 3 <= sizeof detail - 1; i += 3)
        memcpy(detail + i, "错", 3);
    detail[sizeof detail - 1 - (sizeof detail - 1) % 3] = '\0';
    rd_kafka_headers_t *h = sq_deadletter_headers("s", "t", 0, 0, "", detail);
    char v[4096];
    assert_int_equal(sq_header_get(h, "error", v, sizeof v), SQ_OK);
    assert_string_equal(v, "unknown");
    assert_int_equal(sq_header_get(h, "error_detail", v, sizeof v), SQ_OK);
    assert_true(strlen(v) <= SQ_DL_DETAIL_MAX);
    assert_int_equal(strlen(v) % 3, 0); /* cut on a character boundary */
    rd_kafka_headers_destroy(h);
    h = sq_deadletter_headers(NULL, NULL, -1, -1, NULL, NULL);
    assert_int_equal(sq_header_get(h, "source_partition", v, sizeof v), SQ_OK);
    assert_string_equal(v, "-1");
    rd_kafka_headers_destroy(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(all_headers_present),
        cmocka_unit_test(empty_reason_and_long_detail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
