/*
 * The directory against the real PostgreSQL: rows written by an operator are
 * seen, lookups work, and an edit is picked up by the next refresh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "directory.h"
#include "testsupport.h"
#include "util.h"

static void exec_ok(sq_pg *pg, const char *sql, int n, const char *const *params)
{
    char err[256];
    int rc = sq_pg_exec(pg, sql, n, params, NULL, err, sizeof err);
    if (rc != SQ_OK)
        fail_msg("%s: %s", sql, err);
}

static void loads_and_follows_edits(void **state)
{
    char u[16], co[64], cm[64], st[64], s1[64], s2[64], mg[64], sv[64], so[64];
    char id[SQ_UUID_LEN];
    sq_uuid4(id);
    snprintf(u, sizeof u, "%.8s", id);
    snprintf(co, sizeof co, "co-%s", u);
    snprintf(cm, sizeof cm, "cm-%s", u);
    snprintf(st, sizeof st, "st-%s", u);
    snprintf(s1, sizeof s1, "s1-%s", u);
    snprintf(s2, sizeof s2, "s2-%s", u);
    snprintf(mg, sizeof mg, "mg-%s", u);
    snprintf(sv, sizeof sv, "sv-%s", u);
    snprintf(so, sizeof so, "so-%s", u);
    sq_pg *owner = sq_pg_new(ts_env("PG_OWNER_DSN"), 3, 5000, "test_directory");
    const char *p_co[] = { co, "锦江物业" };
    exec_ok(owner, "INSERT INTO shequ.companies (company_id, name) VALUES ($1, $2)", 2, p_co);
    const char *p_st[] = { st, "火车南站街道" };
    exec_ok(owner, "INSERT INTO shequ.streets (street_id, name) VALUES ($1, $2)", 2, p_st);
    const char *p_cm[] = { cm, "长寿苑社区", st, co };
    exec_ok(owner, "INSERT INTO shequ.communities (community_id, name, street_id, company_id) VALUES ($1, $2, $3, $4)", 4, p_cm);
    const char *ins = "INSERT INTO shequ.staff (staff_id, name, role, company_id, community_id, street_id, skills, on_duty) "
                      "VALUES ($1, $2, $3, $4, $5, $6, $7::text[], $8::bool)";
    const char *r1[] = { s1, "王师傅", "staff", co, cm, NULL, "{elevator,water_leak}", "true" };
    const char *r2[] = { s2, "李师傅", "staff", co, cm, NULL, "{*}", "false" };
    const char *r3[] = { mg, "张经理", "manager", co, cm, NULL, "{}", "true" };
    const char *r4[] = { sv, "赵社区专人", "supervisor", NULL, cm, st, "{}", "true" };
    const char *r5[] = { so, "刘街道", "street", NULL, NULL, st, "{}", "true" };
    exec_ok(owner, ins, 8, r1);
    exec_ok(owner, ins, 8, r2);
    exec_ok(owner, ins, 8, r3);
    exec_ok(owner, ins, 8, r4);
    exec_ok(owner, ins, 8, r5);

    sq_pg *writer = sq_pg_new(ts_env("PG_DSN"), 3, 5000, "test_directory");
    sq_directory *d = sq_directory_new(writer);
    assert_int_equal(sq_directory_refresh(d, 0), SQ_OK);
    const sq_community *c = sq_directory_community(d, cm);
    assert_non_null(c);
    assert_string_equal(c->name, "长寿苑社区");
    assert_string_equal(c->company_id, co);
    const sq_staff *w = sq_directory_staff(d, s1);
    assert_non_null(w);
    assert_true(w->on_duty);
    assert_true(sq_staff_has_skill(w, "elevator"));
    assert_false(sq_staff_has_skill(w, "noise"));
    assert_true(sq_staff_has_skill(sq_directory_staff(d, s2), "noise")); /* wildcard */
    const sq_staff *const *list;
    assert_int_equal(sq_directory_company_staff(d, co, &list), 3);
    assert_string_equal(sq_directory_manager(d, co)->staff_id, mg);
    assert_string_equal(sq_directory_supervisor(d, cm)->staff_id, sv);
    assert_string_equal(sq_directory_street_officer(d, st)->staff_id, so);
    assert_null(sq_directory_staff(d, "nobody"));

    /* an operator's edit is seen by the next refresh */
    const char *p_off[] = { s1 };
    exec_ok(owner, "UPDATE shequ.staff SET on_duty = false WHERE staff_id = $1", 1, p_off);
    assert_int_equal(sq_directory_refresh(d, 0), SQ_OK);
    assert_false(sq_directory_staff(d, s1)->on_duty);

    const char *p_del[] = { co, cm, st };
    exec_ok(owner, "DELETE FROM shequ.staff WHERE company_id = $1 OR community_id = $2 OR street_id = $3", 3, p_del);
    exec_ok(owner, "DELETE FROM shequ.communities WHERE community_id = $2 AND company_id = $1 AND street_id = $3", 3, p_del);
    const char *p_co1[] = { co };
    exec_ok(owner, "DELETE FROM shequ.companies WHERE company_id = $1", 1, p_co1);
    const char *p_st1[] = { st };
    exec_ok(owner, "DELETE FROM shequ.streets WHERE street_id = $1", 1, p_st1);
    assert_int_equal(sq_directory_refresh(d, 0), SQ_OK);
    assert_null(sq_directory_staff(d, s1));
    sq_directory_free(d);
    sq_pg_free(writer);
    sq_pg_free(owner);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(loads_and_follows_edits) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
