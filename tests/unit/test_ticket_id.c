/* Ticket ids that carry their community: made from (community, origin), read back by the gateway. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "ticket.h"
#include "util.h"

static void made_of_community_and_origin_uuid(void **state)
{
    char id[SQ_TICKET_ID_MAX], uuid[SQ_UUID_LEN], want[SQ_TICKET_ID_MAX];
    sq_ticket_id_make(id, "c1", "report-1");
    sq_uuid5(uuid, "ticket", "report-1", 8);
    snprintf(want, sizeof want, "c1.%s", uuid);
    assert_string_equal(id, want);
    char again[SQ_TICKET_ID_MAX];
    sq_ticket_id_make(again, "c1", "report-1");
    assert_string_equal(id, again); /* deterministic: a replay makes the same ticket */
    sq_ticket_id_make(again, "c2", "report-1");
    assert_string_not_equal(id, again);
}

static void community_read_back(void **state)
{
    const char *communities[] = { "c1", "jinjiang.hongxing-1", "a.b.c", "x_y-z", "0" };
    for (size_t i = 0; i < sizeof communities / sizeof *communities; i++) {
        char id[SQ_TICKET_ID_MAX], out[SQ_TICKET_ID_MAX];
        sq_ticket_id_make(id, communities[i], "origin");
        assert_true(sq_ticket_id_community(id, out, sizeof out));
        assert_string_equal(out, communities[i]);
    }
}

static void longest_community_fits(void **state)
{
    char c64[65], id[SQ_TICKET_ID_MAX], out[65];
    memset(c64, 'k', 64);
    c64[64] = '\0';
    sq_ticket_id_make(id, c64, "o");
    assert_int_equal(strlen(id), 64 + 1 + 36);
    assert_true(sq_ticket_id_community(id, out, sizeof out));
    assert_string_equal(out, c64);
    assert_false(sq_ticket_id_community(id, out, 64)); /* no room for it and the NUL */
    assert_string_equal(out, "");
}

static void ids_without_a_community_are_refused(void **state)
{
    char out[SQ_TICKET_ID_MAX];
    char uuid[SQ_UUID_LEN];
    sq_uuid5(uuid, "ticket", "r", 1);
    char buf[256];
    const char *bad[] = {
        uuid,                                          /* the old form: a bare uuid */
        "",                                            /* empty */
        ".0b7f4c6e-2f0a-5a8e-9b1d-3c4e5f6a7b8c",       /* an empty community */
        "c1-0b7f4c6e-2f0a-5a8e-9b1d-3c4e5f6a7b8c",     /* no dot before the uuid */
        "c1.0B7F4C6E-2F0A-5A8E-9B1D-3C4E5F6A7B8C",     /* upper case: not what sq_uuid5 writes */
        "c1.0b7f4c6e-2f0a-5a8e-9b1d-3c4e5f6a7b8",      /* one character short */
        "c1.0b7f4c6e-2f0a-5a8e-9b1d-3c4e5f6a7b8cd",    /* one too many */
        "c1.0b7f4c6e2f0a-5a8e-9b1d-3c4e5f6a7b8c-",     /* dashes in the wrong places */
        "c1.0b7f4c6e-2f0a-5a8e-9b1d-3c4e5f6a7b8g",     /* not hex */
        "c1.",                                         /* nothing after the dot */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        strcpy(out, "unchanged");
        assert_false(sq_ticket_id_community(bad[i], out, sizeof out));
        assert_string_equal(out, "");
    }
    assert_false(sq_ticket_id_community(NULL, out, sizeof out));
    memset(buf, 'k', 65); /* a community longer than any the gateway accepts */
    snprintf(buf + 65, sizeof buf - 65, ".%s", uuid);
    assert_false(sq_ticket_id_community(buf, out, sizeof out));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(made_of_community_and_origin_uuid),
        cmocka_unit_test(community_read_back),
        cmocka_unit_test(longest_community_fits),
        cmocka_unit_test(ids_without_a_community_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
