/* The alarm bridge as a tolerant reader: each form a device may send its secondary fields in, and what is
 * dropped (and noted) instead of refusing the alarm. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "fields.h"

static bridge_fields read_json(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_ALLOW_NUL, &e);
    assert_non_null(j);
    bridge_fields f;
    bridge_read_fields(json_object_get(j, "level"), json_object_get(j, "building"), json_object_get(j, "unit"),
                       json_object_get(j, "occurred_at"), json_object_get(j, "snapshot_url"), &f);
    /* snapshot_url points into the JSON: copy what the tests look at before it goes */
    static char snap[256];
    snap[0] = '\0';
    if (f.snapshot_url) {
        strncpy(snap, f.snapshot_url, sizeof snap - 1);
        f.snapshot_url = snap;
    }
    json_decref(j);
    return f;
}

static void levels_as_numbers_or_severity_names(void **state)
{
    assert_int_equal(read_json("{\"level\": 2}").level, 2);
    assert_int_equal(read_json("{\"level\": 3.0}").level, 3);
    assert_int_equal(read_json("{\"level\": \"4\"}").level, 4);
    assert_int_equal(read_json("{\"level\": \"critical\"}").level, 1);
    assert_int_equal(read_json("{\"level\": \"MAJOR\"}").level, 2);
    assert_int_equal(read_json("{\"level\": \"minor\"}").level, 3);
    assert_int_equal(read_json("{\"level\": \"warning\"}").level, 4);
    assert_int_equal(read_json("{\"level\": \"info\"}").level, 5);
    assert_int_equal(read_json("{\"level\": null}").ndropped, 0);
    assert_int_equal(read_json("{}").level, 0);
}

static void unusable_levels_are_dropped_and_noted(void **state)
{
    const char *bad[] = { "{\"level\": \"loud\"}", "{\"level\": 2.5}", "{\"level\": -1}", "{\"level\": true}",
                          "{\"level\": [1]}", "{\"level\": \"\"}", "{\"level\": 100000}" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        bridge_fields f = read_json(bad[i]);
        assert_int_equal(f.level, 0);
        assert_int_equal(f.ndropped, 1);
        assert_string_equal(f.dropped[0], "level: not a number or a severity name");
        assert_ptr_equal(bridge_fields_notes(&f)[0], f.dropped[0]);
    }
}

static void buildings_and_units_as_strings_or_numbers(void **state)
{
    bridge_fields f = read_json("{\"building\": \"7\", \"unit\": 2}");
    assert_string_equal(f.building, "7");
    assert_string_equal(f.unit, "2");
    f = read_json("{\"building\": 12.0, \"unit\": \"东单元\"}");
    assert_string_equal(f.building, "12");
    assert_string_equal(f.unit, "东单元");
    assert_int_equal(f.ndropped, 0);
    f = read_json("{\"building\": {\"no\": 1}, \"unit\": 1.5}");
    assert_string_equal(f.building, "");
    assert_string_equal(f.unit, "");
    assert_int_equal(f.ndropped, 2);
    assert_string_equal(f.dropped[0], "building: not a string or a whole number");
    assert_string_equal(f.dropped[1], "unit: not a string or a whole number");
    f = read_json("{\"building\": \"0123456789012345678901234567890123\"}"); /* 34 bytes */
    assert_string_equal(f.building, "");
    assert_string_equal(f.dropped[0], "building: longer than 31 bytes");
    f = read_json("{\"building\": \"a\\u0000b\"}");
    assert_string_equal(f.dropped[0], "building: contains NUL");
}

static void times_as_rfc3339_or_epoch_seconds_or_milliseconds(void **state)
{
    const int64_t want = 1764806400LL * 1000000; /* 2025-12-04T00:00:00Z */
    assert_true(read_json("{\"occurred_at\": \"2025-12-04T08:00:00+08:00\"}").device_time_us == want);
    assert_true(read_json("{\"occurred_at\": 1764806400}").device_time_us == want);
    assert_true(read_json("{\"occurred_at\": 1764806400000}").device_time_us == want);
    assert_true(read_json("{\"occurred_at\": 1764806400.5}").device_time_us == want + 500000);
    assert_true(read_json("{\"occurred_at\": \"1764806400\"}").device_time_us == want);
    assert_true(read_json("{\"occurred_at\": \"1764806400000\"}").device_time_us == want);
    const char *bad[] = { "{\"occurred_at\": \"yesterday\"}", "{\"occurred_at\": -5}", "{\"occurred_at\": 0}",
                          "{\"occurred_at\": true}", "{\"occurred_at\": 1e300}" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        bridge_fields f = read_json(bad[i]);
        assert_true(f.device_time_us == 0);
        assert_int_equal(f.ndropped, 1);
        assert_string_equal(f.dropped[0], "occurred_at: not RFC 3339 or epoch seconds or milliseconds");
    }
}

static void snapshot_and_many_drops(void **state)
{
    bridge_fields f = read_json("{\"snapshot_url\": \"https://cam.example/s.jpg\"}");
    assert_string_equal(f.snapshot_url, "https://cam.example/s.jpg");
    f = read_json("{\"snapshot_url\": 5, \"level\": \"x\", \"building\": [], \"unit\": {}, \"occurred_at\": \"?\"}");
    assert_null(f.snapshot_url);
    assert_int_equal(f.ndropped, 5); /* every one noted, none refuses the alarm */
    assert_string_equal(f.dropped[4], "snapshot_url: not a string");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(levels_as_numbers_or_severity_names),
        cmocka_unit_test(unusable_levels_are_dropped_and_noted),
        cmocka_unit_test(buildings_and_units_as_strings_or_numbers),
        cmocka_unit_test(times_as_rfc3339_or_epoch_seconds_or_milliseconds),
        cmocka_unit_test(snapshot_and_many_drops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
