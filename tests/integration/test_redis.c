/*
 * The Redis helper against the real server: commands, pipelines, and
 * reconnection after the server restarts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis.h"
#include "testsupport.h"
#include "util.h"

static void commands_and_pipeline(void **state)
{
    char err[256], key[128];
    sq_redis *r = sq_redis_new(ts_env("REDIS_URL"), 1000, err, sizeof err);
    assert_non_null(r);
    ts_unique(key, sizeof key, "test:redis");
    redisReply *rep = sq_redis_cmd(r, "SET %s %s EX 60", key, "电梯 \r\n binary-safe");
    assert_non_null(rep);
    freeReplyObject(rep);
    rep = sq_redis_cmd(r, "GET %s", key);
    assert_int_equal(rep->type, REDIS_REPLY_STRING);
    assert_string_equal(rep->str, "电梯 \r\n binary-safe");
    freeReplyObject(rep);
    for (int i = 0; i < 100; i++)
        assert_int_equal(sq_redis_append(r, "INCR %s:n", key), SQ_OK);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(sq_redis_reply(r, &rep), SQ_OK);
        assert_int_equal(rep->integer, i + 1);
        freeReplyObject(rep);
    }
    sq_redis_cmd(r, "DEL %s %s:n", key, key);
    sq_redis_free(r);
    assert_null(sq_redis_new("http://nope", 1000, err, sizeof err));
    assert_non_null(strstr(err, "redis://"));
}

static void reconnects_after_server_restart(void **state)
{
    char err[256], cmd[512];
    sq_redis *r = sq_redis_new(ts_env("REDIS_URL"), 1000, err, sizeof err);
    redisReply *rep = sq_redis_cmd(r, "INFO server");
    assert_non_null(rep);
    const char *p = strstr(rep->str, "process_id:");
    assert_non_null(p);
    long pid_before = atol(p + 11);
    freeReplyObject(rep);
    snprintf(cmd, sizeof cmd, "%s/tools/dev restart-server redis >/dev/null", ts_env("SHEQU_SOURCE_DIR"));
    assert_int_equal(ts_sh(cmd), 0);
    rep = NULL;
    for (int i = 0; i < 200 && !rep; i++) {
        rep = sq_redis_cmd(r, "INFO server");
        if (!rep)
            sq_sleep_ms(100);
    }
    assert_non_null(rep);
    p = strstr(rep->str, "process_id:");
    assert_true(atol(p + 11) != pid_before);
    freeReplyObject(rep);
    sq_redis_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(commands_and_pipeline),
        cmocka_unit_test(reconnects_after_server_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
