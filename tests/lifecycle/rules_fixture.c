/*
 * rules_fixture.c — see rules_fixture.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "assign.h"
#include "rules.h"
#include "ticket.h"
#include "util.h"

#include "rules_fixture.h"

sq_rules *rules;

int load_rules(void **state)
{
    char path[512], err[256];
    const char *src = getenv("SHEQU_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/deploy/rules/shequ.rules", src ? src : ".");
    rules = sq_rules_load(path, err, sizeof err);
    if (!rules)
        fprintf(stderr, "%s\n", err);
    return rules ? 0 : -1;
}

int free_rules(void **state)
{
    sq_rules_free(rules);
    return 0;
}

sq_rules *load_text(const char *text, char *err, size_t errlen)
{
    char tmpl[] = "/tmp/sq_rules_XXXXXX";
    int fd = mkstemp(tmpl);
    assert_true(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    sq_rules *r = sq_rules_load(tmpl, err, errlen);
    unlink(tmpl);
    return r;
}
