/*
 * directory.h — the operators' directory (DESIGN.md §6): communities and
 * staff, read from PostgreSQL (shequ.communities, shequ.staff) and refreshed
 * when their max(updated_at) changes (checked every few seconds, so edits are
 * picked up within 10 s). Lookups are in memory.
 *
 * Ownership: the directory owns every string it returns; they stay valid
 * until the next successful refresh. Single-threaded.
 */
#ifndef SQ_DIRECTORY_H
#define SQ_DIRECTORY_H

#include "pg.h"
#include "sq.h"

typedef enum { SQ_ROLE_STAFF, SQ_ROLE_MANAGER, SQ_ROLE_SUPERVISOR, SQ_ROLE_STREET } sq_role;

typedef struct sq_staff {
    const char *staff_id;
    const char *name;
    sq_role role;
    const char *company_id;
    const char *community_id;   /* supervisors: the community they oversee */
    const char *street_id;      /* street officers: the street they oversee */
    const char *const *skills;  /* categories this person can handle */
    int nskills;
    bool on_duty;
} sq_staff;

typedef struct sq_community {
    const char *community_id;
    const char *name;
    const char *street_id;
    const char *company_id;
} sq_community;

typedef struct sq_directory sq_directory;

sq_directory *sq_directory_new(sq_pg *pg);
/* Reloads if more than `interval_ms` passed since the last successful check and the tables changed.
 * Callers that miss a person or community they expect call it with a short interval: the
 * directory may be a few seconds behind an operator's edit.
 * SQ_OK (also when nothing changed) or SQ_RETRY (PostgreSQL unavailable: the old data stays). */
int sq_directory_refresh(sq_directory *d, int interval_ms);
void sq_directory_free(sq_directory *d);

const sq_community *sq_directory_community(const sq_directory *d, const char *community_id);
const sq_staff *sq_directory_staff(const sq_directory *d, const char *staff_id);
/* Every staff member of a company (any role); returns the count, *out borrowed. */
int sq_directory_company_staff(const sq_directory *d, const char *company_id, const sq_staff *const **out);
/* The company's manager (role manager), the community's supervisor, the street's officer; NULL if none. */
const sq_staff *sq_directory_manager(const sq_directory *d, const char *company_id);
const sq_staff *sq_directory_supervisor(const sq_directory *d, const char *community_id);
const sq_staff *sq_directory_street_officer(const sq_directory *d, const char *street_id);
/* True if the person lists the category, or the wildcard skill "*". */
bool sq_staff_has_skill(const sq_staff *s, const char *category);

#endif
