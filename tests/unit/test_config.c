/* Config layering (defaults < file < env < flags) and its errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

typedef struct {
    char *name;
    long window;
    bool strict;
    double ratio;
} cfg_t;

static cfg_t cfg;
static sq_option opts[] = {
    { "name", SQ_OPT_STR, "triage", 0, 0, "a name", &cfg.name, "" },
    { "config", SQ_OPT_STR, NULL, 0, 0, "file", NULL, "" },
    { "merge.window_s", SQ_OPT_INT, "1800", 1, 86400, "merge window", &cfg.window, "" },
    { "strict", SQ_OPT_BOOL, "false", 0, 0, "strict mode", &cfg.strict, "" },
    { "warn.ratio", SQ_OPT_DOUBLE, "0.8", 0, 1, "warning ratio", &cfg.ratio, "" },
    { 0 },
};
static char *config_path;

static int setup(void **state)
{
    static char *cfgfile;
    opts[1].target = &cfgfile;
    unsetenv("SHEQU_CONFIG");
    unsetenv("SHEQU_NAME");
    unsetenv("SHEQU_MERGE_WINDOW_S");
    unsetenv("SHEQU_STRICT");
    unsetenv("SHEQU_WARN_RATIO");
    return 0;
}

static int teardown(void **state)
{
    sq_config_free(opts);
    if (config_path) {
        unlink(config_path);
        free(config_path);
        config_path = NULL;
    }
    return 0;
}

static const char *write_file(const char *text)
{
    char tmpl[] = "/tmp/sq_config_XXXXXX";
    int fd = mkstemp(tmpl);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    config_path = strdup(tmpl);
    return config_path;
}

static int load(int argc, char **argv, char *err)
{
    return sq_config_load(opts, "usage: test", argc, argv, err, 256);
}

static void defaults_apply(void **state)
{
    char err[256] = "";
    char *argv[] = { "t", NULL };
    assert_int_equal(load(1, argv, err), SQ_OK);
    assert_string_equal(cfg.name, "triage");
    assert_int_equal(cfg.window, 1800);
    assert_false(cfg.strict);
    assert_true(cfg.ratio > 0.79 && cfg.ratio < 0.81);
    assert_string_equal(sq_config_find(opts, "merge.window_s")->origin, "default");
}

static void layers_override_in_order(void **state)
{
    char err[256] = "";
    const char *f = write_file("# comment\nname = fromfile\nmerge.window_s = 60\nstrict = yes\nwarn.ratio=0.5\n");
    setenv("SHEQU_MERGE_WINDOW_S", "120", 1);
    setenv("SHEQU_WARN_RATIO", "0.6", 1);
    char *argv[] = { "t", "--config", (char *)f, "--warn-ratio=0.7", NULL };
    assert_int_equal(load(4, argv, err), SQ_OK);
    assert_string_equal(cfg.name, "fromfile");          /* file over default */
    assert_true(cfg.strict);
    assert_int_equal(cfg.window, 120);                  /* env over file */
    assert_true(cfg.ratio > 0.69 && cfg.ratio < 0.71);  /* flag over env */
    assert_string_equal(sq_config_find(opts, "merge.window_s")->origin, "env SHEQU_MERGE_WINDOW_S");
    assert_string_equal(sq_config_find(opts, "warn.ratio")->origin, "flag --warn-ratio");
    char origin[200];
    snprintf(origin, sizeof origin, "%s:2", f);
    assert_string_equal(sq_config_find(opts, "name")->origin, origin);
}

static void config_file_from_env(void **state)
{
    char err[256] = "";
    const char *f = write_file("name = envfile\n");
    setenv("SHEQU_CONFIG", f, 1);
    char *argv[] = { "t", NULL };
    assert_int_equal(load(1, argv, err), SQ_OK);
    assert_string_equal(cfg.name, "envfile");
}

static void bad_value_names_option_and_line(void **state)
{
    char err[256] = "";
    const char *f = write_file("name = x\n\nmerge.window_s = soon\n");
    char *argv[] = { "t", "--config", (char *)f, NULL };
    assert_int_equal(load(3, argv, err), SQ_INVALID);
    assert_non_null(strstr(err, "merge.window_s"));
    char where[200];
    snprintf(where, sizeof where, "%s:3", f);
    assert_non_null(strstr(err, where));
}

static void out_of_bounds(void **state)
{
    char err[256] = "";
    char *argv[] = { "t", "--merge-window-s", "0", NULL };
    assert_int_equal(load(3, argv, err), SQ_INVALID);
    assert_non_null(strstr(err, "merge.window_s"));
    assert_non_null(strstr(err, "outside"));
    setenv("SHEQU_WARN_RATIO", "1.5", 1);
    char *argv2[] = { "t", NULL };
    assert_int_equal(load(1, argv2, err), SQ_INVALID);
    assert_non_null(strstr(err, "SHEQU_WARN_RATIO"));
}

static void unknown_key_and_flag(void **state)
{
    char err[256] = "";
    const char *f = write_file("nmae = typo\n");
    char *argv[] = { "t", "--config", (char *)f, NULL };
    assert_int_equal(load(3, argv, err), SQ_INVALID);
    assert_non_null(strstr(err, "unknown option 'nmae'"));
    char *argv2[] = { "t", "--no-such-flag=1", NULL };
    assert_int_equal(load(2, argv2, err), SQ_INVALID);
    assert_non_null(strstr(err, "--no-such-flag"));
    char *argv3[] = { "t", "positional", NULL };
    assert_int_equal(load(2, argv3, err), SQ_INVALID);
    char *argv4[] = { "t", "--name", NULL };
    assert_int_equal(load(2, argv4, err), SQ_INVALID);
    assert_non_null(strstr(err, "needs a value"));
}

static void malformed_line(void **state)
{
    char err[256] = "";
    const char *f = write_file("just words\n");
    char *argv[] = { "t", "--config", (char *)f, NULL };
    assert_int_equal(load(3, argv, err), SQ_INVALID);
    assert_non_null(strstr(err, ":1"));
}

static void missing_file(void **state)
{
    char err[256] = "";
    char *argv[] = { "t", "--config=/nonexistent/shequ.conf", NULL };
    assert_int_equal(load(2, argv, err), SQ_INVALID);
    assert_non_null(strstr(err, "/nonexistent/shequ.conf"));
}

static void booleans(void **state)
{
    char err[256] = "";
    char *argv[] = { "t", "--strict", NULL };
    assert_int_equal(load(2, argv, err), SQ_OK);
    assert_true(cfg.strict);
    char *argv2[] = { "t", "--strict=off", NULL };
    assert_int_equal(load(2, argv2, err), SQ_OK);
    assert_false(cfg.strict);
    char *argv3[] = { "t", "--strict=maybe", NULL };
    assert_int_equal(load(2, argv3, err), SQ_INVALID);
    assert_non_null(strstr(err, "boolean"));
}

static void quoted_values_and_spaces(void **state)
{
    char err[256] = "";
    const char *f = write_file("  name   =   \"with spaces\"  \n");
    char *argv[] = { "t", "--config", (char *)f, NULL };
    assert_int_equal(load(3, argv, err), SQ_OK);
    assert_string_equal(cfg.name, "with spaces");
}

static void help_returns_one(void **state)
{
    char err[256] = "";
    char *argv[] = { "t", "--help", NULL };
    FILE *saved = stdout;
    stdout = fopen("/dev/null", "w");
    int rc = load(2, argv, err);
    fclose(stdout);
    stdout = saved;
    assert_int_equal(rc, 1);
}

static void env_names(void **state)
{
    char out[64];
    sq_config_env_name("merge.window_s", out, sizeof out);
    assert_string_equal(out, "SHEQU_MERGE_WINDOW_S");
    sq_config_env_name("kafka.linger-ms", out, sizeof out);
    assert_string_equal(out, "SHEQU_KAFKA_LINGER_MS");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(defaults_apply, setup, teardown),
        cmocka_unit_test_setup_teardown(layers_override_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(config_file_from_env, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_value_names_option_and_line, setup, teardown),
        cmocka_unit_test_setup_teardown(out_of_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_key_and_flag, setup, teardown),
        cmocka_unit_test_setup_teardown(malformed_line, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(booleans, setup, teardown),
        cmocka_unit_test_setup_teardown(quoted_values_and_spaces, setup, teardown),
        cmocka_unit_test_setup_teardown(help_returns_one, setup, teardown),
        cmocka_unit_test(env_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
