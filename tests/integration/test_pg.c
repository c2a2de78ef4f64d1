/*
 * The PostgreSQL helper against the real server: parameterised round trip
 * (hostile text stays inert), error classification, and reconnection after the
 * server restarts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "pg.h"
#include "testsupport.h"
#include "util.h"

static void round_trip_parameterised(void **state)
{
    sq_pg *p = sq_pg_new(ts_env("PG_DSN"), 3, 5000, "test_pg");
    char err[256];
    assert_int_equal(sq_pg_connect_wait(p, 10000, err, sizeof err), SQ_OK);
    const char *hostile = "'); DROP TABLE shequ.staff; -- 电梯 <script>alert(1)</script>";
    const char *params[] = { hostile, "41" };
    PGresult *r;
    assert_int_equal(sq_pg_exec(p, "SELECT $1::text, $2::int + 1", 2, params, &r, err, sizeof err), SQ_OK);
    assert_string_equal(PQgetvalue(r, 0, 0), hostile);
    assert_string_equal(PQgetvalue(r, 0, 1), "42");
    PQclear(r);
    assert_int_equal(sq_pg_exec(p, "SELECT count(*) FROM shequ.staff", 0, NULL, NULL, err, sizeof err), SQ_OK);
    /* a refused statement is INVALID, not RETRY, and the connection survives it */
    assert_int_equal(sq_pg_exec(p, "SELECT 1/0", 0, NULL, NULL, err, sizeof err), SQ_INVALID);
    assert_non_null(strstr(err, "division by zero"));
    /* the writer role cannot drop the directory */
    assert_int_equal(sq_pg_exec(p, "DROP TABLE shequ.staff", 0, NULL, NULL, err, sizeof err), SQ_INVALID);
    assert_int_equal(sq_pg_exec(p, "SELECT 1", 0, NULL, NULL, err, sizeof err), SQ_OK);
    sq_pg_free(p);
}

static void transaction_helpers(void **state)
{
    sq_pg *p = sq_pg_new(ts_env("PG_DSN"), 3, 5000, "test_pg");
    char err[256];
    assert_int_equal(sq_pg_begin(p, err, sizeof err), SQ_OK);
    assert_int_equal(sq_pg_exec(p, "CREATE TEMP TABLE t (v text) ON COMMIT DROP", 0, NULL, NULL, err, sizeof err), SQ_OK);
    const char *v[] = { "x" };
    assert_int_equal(sq_pg_exec(p, "INSERT INTO t VALUES ($1)", 1, v, NULL, err, sizeof err), SQ_OK);
    assert_int_equal(sq_pg_commit(p, err, sizeof err), SQ_OK);
    sq_pg_free(p);
}

static void reconnects_after_server_restart(void **state)
{
    sq_pg *p = sq_pg_new(ts_env("PG_DSN"), 3, 5000, "test_pg");
    char err[256], cmd[512];
    assert_int_equal(sq_pg_connect_wait(p, 10000, err, sizeof err), SQ_OK);
    PGresult *r;
    assert_int_equal(sq_pg_exec(p, "SELECT pg_postmaster_start_time()::text", 0, NULL, &r, err, sizeof err), SQ_OK);
    char before[64];
    snprintf(before, sizeof before, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    snprintf(cmd, sizeof cmd, "%s/tools/dev restart-server postgres >/dev/null", ts_env("SHEQU_SOURCE_DIR"));
    assert_int_equal(ts_sh(cmd), 0);
    /* the old connection is dead: the next call fails as RETRY or reconnects */
    int rc = SQ_RETRY;
    int64_t deadline = sq_mono_us() + 20 * SQ_US_PER_S;
    while (sq_mono_us() < deadline) {
        rc = sq_pg_exec(p, "SELECT pg_postmaster_start_time()::text", 0, NULL, &r, err, sizeof err);
        if (rc == SQ_OK)
            break;
        assert_int_equal(rc, SQ_RETRY);
        sq_sleep_ms(100);
    }
    assert_int_equal(rc, SQ_OK);
    assert_string_not_equal(PQgetvalue(r, 0, 0), before); /* really a new server process */
    PQclear(r);
    sq_pg_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip_parameterised),
        cmocka_unit_test(transaction_helpers),
        cmocka_unit_test(reconnects_after_server_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
