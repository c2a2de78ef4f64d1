/*
 * rules_fixture.h — the shipped rules file (deploy/rules/shequ.rules) as a cmocka group fixture, and
 * rules from text, for the pure lifecycle tests.
 */
#ifndef RULES_FIXTURE_H
#define RULES_FIXTURE_H

#include "rules.h"
#include "util.h"

#define MIN (60 * SQ_US_PER_S)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)

extern sq_rules *rules;
int load_rules(void **state);
int free_rules(void **state);
/* Rules parsed from text (through a temporary file); NULL with the error in err. */
sq_rules *load_text(const char *text, char *err, size_t errlen);

#endif
