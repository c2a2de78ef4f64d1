/*
 * directory.c — in-memory copy of shequ.communities and shequ.staff.
 *
 * A refresh asks PostgreSQL for a cheap fingerprint of both tables (max
 * updated_at and row counts, so deletions count too) and reloads everything
 * only when it changed. A loaded snapshot is immutable: lookups use sorted
 * arrays and binary search; a reload builds a new snapshot and frees the old.
 */
#include "directory.h"
#include "log.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct snapshot {
    sq_staff *staff;            /* sorted by staff_id */
    int nstaff;
    const sq_staff **by_company; /* sorted by company_id, staff_id */
    sq_community *communities;  /* sorted by community_id */
    int ncommunities;
    char **strings;             /* every string owned by this snapshot */
    int nstrings, capstrings;
    const char ***skill_lists;
    int nskill_lists;
} snapshot;

struct sq_directory {
    sq_pg *pg;
    snapshot *snap;
    char fingerprint[128];
    int64_t last_check_us;
};

static char *keep(snapshot *s, const char *v)
{
    if (s->nstrings == s->capstrings) {
        s->capstrings = s->capstrings ? s->capstrings * 2 : 256;
        s->strings = realloc(s->strings, (size_t)s->capstrings * sizeof *s->strings);
        if (!s->strings)
            abort();
    }
    return s->strings[s->nstrings++] = strdup(v ? v : "");
}

static void snapshot_free(snapshot *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->nstrings; i++)
        free(s->strings[i]);
    for (int i = 0; i < s->nskill_lists; i++)
        free(s->skill_lists[i]);
    free(s->skill_lists);
    free(s->strings);
    free(s->staff);
    free(s->by_company);
    free(s->communities);
    free(s);
}

static int cmp_staff(const void *a, const void *b)
{
    return strcmp(((const sq_staff *)a)->staff_id, ((const sq_staff *)b)->staff_id);
}

static int cmp_company(const void *a, const void *b)
{
    const sq_staff *x = *(const sq_staff *const *)a, *y = *(const sq_staff *const *)b;
    int c = strcmp(x->company_id, y->company_id);
    return c ? c : strcmp(x->staff_id, y->staff_id);
}

static int cmp_community(const void *a, const void *b)
{
    return strcmp(((const sq_community *)a)->community_id, ((const sq_community *)b)->community_id);
}

static int parse_role(const char *s, sq_role *out)
{
    static const char *names[] = { "staff", "manager", "supervisor", "street" };
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (sq_role)i;
            return SQ_OK;
        }
    return SQ_INVALID;
}

static snapshot *load(sq_pg *pg, char *err, size_t errlen)
{
    PGresult *r = NULL;
    snapshot *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if (sq_pg_exec(pg,
                   "SELECT staff_id, name, role, coalesce(company_id, ''), coalesce(community_id, ''), "
                   "coalesce(street_id, ''), array_to_string(skills, ','), on_duty FROM shequ.staff",
                   0, NULL, &r, err, errlen) != SQ_OK)
        goto fail;
    s->nstaff = PQntuples(r);
    s->staff = calloc((size_t)s->nstaff + 1, sizeof *s->staff);
    s->skill_lists = calloc((size_t)s->nstaff + 1, sizeof *s->skill_lists);
    int n = 0;
    for (int i = 0; i < s->nstaff; i++) {
        sq_staff *st = &s->staff[n];
        if (parse_role(PQgetvalue(r, i, 2), &st->role) != SQ_OK) {
            log_warn("directory.bad_role", "staff=%s role=%s", PQgetvalue(r, i, 0), PQgetvalue(r, i, 2));
            continue;
        }
        st->staff_id = keep(s, PQgetvalue(r, i, 0));
        st->name = keep(s, PQgetvalue(r, i, 1));
        st->company_id = keep(s, PQgetvalue(r, i, 3));
        st->community_id = keep(s, PQgetvalue(r, i, 4));
        st->street_id = keep(s, PQgetvalue(r, i, 5));
        st->on_duty = PQgetvalue(r, i, 7)[0] == 't';
        const char *skills = PQgetvalue(r, i, 6);
        int cap = 1;
        for (const char *p = skills; *p; p++)
            cap += *p == ',';
        const char **list = calloc((size_t)cap + 1, sizeof *list);
        s->skill_lists[s->nskill_lists++] = list;
        char *copy = keep(s, skills), *save = NULL;
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
            list[st->nskills++] = tok;
        st->skills = list;
        n++;
    }
    s->nstaff = n;
    PQclear(r);
    r = NULL;
    qsort(s->staff, (size_t)s->nstaff, sizeof *s->staff, cmp_staff);
    s->by_company = calloc((size_t)s->nstaff + 1, sizeof *s->by_company);
    for (int i = 0; i < s->nstaff; i++)
        s->by_company[i] = &s->staff[i];
    qsort(s->by_company, (size_t)s->nstaff, sizeof *s->by_company, cmp_company);

    if (sq_pg_exec(pg, "SELECT community_id, name, street_id, company_id FROM shequ.communities", 0, NULL,
                   &r, err, errlen) != SQ_OK)
        goto fail;
    s->ncommunities = PQntuples(r);
    s->communities = calloc((size_t)s->ncommunities + 1, sizeof *s->communities);
    for (int i = 0; i < s->ncommunities; i++) {
        sq_community *c = &s->communities[i];
        c->community_id = keep(s, PQgetvalue(r, i, 0));
        c->name = keep(s, PQgetvalue(r, i, 1));
        c->street_id = keep(s, PQgetvalue(r, i, 2));
        c->company_id = keep(s, PQgetvalue(r, i, 3));
    }
    PQclear(r);
    qsort(s->communities, (size_t)s->ncommunities, sizeof *s->communities, cmp_community);
    return s;
fail:
    PQclear(r);
    snapshot_free(s);
    return NULL;
}

sq_directory *sq_directory_new(sq_pg *pg)
{
    sq_directory *d = calloc(1, sizeof *d);
    if (d)
        d->pg = pg;
    return d;
}

int sq_directory_refresh(sq_directory *d, int interval_ms)
{
    int64_t now = sq_mono_us();
    if (d->snap && now - d->last_check_us < (int64_t)interval_ms * 1000)
        return SQ_OK;
    char err[256];
    PGresult *r;
    if (sq_pg_exec(d->pg,
                   "SELECT coalesce((SELECT max(updated_at) FROM shequ.staff)::text, '') || '/' || "
                   "(SELECT count(*) FROM shequ.staff) || '/' || "
                   "coalesce((SELECT max(updated_at) FROM shequ.communities)::text, '') || '/' || "
                   "(SELECT count(*) FROM shequ.communities)",
                   0, NULL, &r, err, sizeof err) != SQ_OK) {
        log_warn("directory.unavailable", "error=\"%s\" (keeping %d staff)", err, d->snap ? d->snap->nstaff : 0);
        return SQ_RETRY;
    }
    char fp[128];
    snprintf(fp, sizeof fp, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    d->last_check_us = now; /* only a successful check counts: a failed one is retried at the next call */
    if (d->snap && strcmp(fp, d->fingerprint) == 0)
        return SQ_OK;
    snapshot *s = load(d->pg, err, sizeof err);
    if (!s) {
        log_warn("directory.load_failed", "error=\"%s\"", err);
        return SQ_RETRY;
    }
    snapshot_free(d->snap);
    d->snap = s;
    snprintf(d->fingerprint, sizeof d->fingerprint, "%s", fp);
    log_info("directory.loaded", "staff=%d communities=%d", s->nstaff, s->ncommunities);
    return SQ_OK;
}

void sq_directory_free(sq_directory *d)
{
    if (!d)
        return;
    snapshot_free(d->snap);
    free(d);
}

const sq_community *sq_directory_community(const sq_directory *d, const char *community_id)
{
    if (!d->snap || !community_id)
        return NULL;
    sq_community key = { .community_id = community_id };
    return bsearch(&key, d->snap->communities, (size_t)d->snap->ncommunities, sizeof key, cmp_community);
}

const sq_staff *sq_directory_staff(const sq_directory *d, const char *staff_id)
{
    if (!d->snap || !staff_id)
        return NULL;
    sq_staff key = { .staff_id = staff_id };
    return bsearch(&key, d->snap->staff, (size_t)d->snap->nstaff, sizeof key, cmp_staff);
}

int sq_directory_company_staff(const sq_directory *d, const char *company_id, const sq_staff *const **out)
{
    *out = NULL;
    if (!d->snap || !company_id)
        return 0;
    int lo = 0, hi = d->snap->nstaff;
    while (lo < hi) { /* first entry with company_id >= the key */
        int mid = (lo + hi) / 2;
        if (strcmp(d->snap->by_company[mid]->company_id, company_id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    int end = lo;
    while (end < d->snap->nstaff && strcmp(d->snap->by_company[end]->company_id, company_id) == 0)
        end++;
    *out = d->snap->by_company + lo;
    return end - lo;
}

const sq_staff *sq_directory_manager(const sq_directory *d, const char *company_id)
{
    const sq_staff *const *list;
    int n = sq_directory_company_staff(d, company_id, &list);
    for (int i = 0; i < n; i++)
        if (list[i]->role == SQ_ROLE_MANAGER)
            return list[i];
    return NULL;
}

const sq_staff *sq_directory_supervisor(const sq_directory *d, const char *community_id)
{
    for (int i = 0; d->snap && community_id && i < d->snap->nstaff; i++)
        if (d->snap->staff[i].role == SQ_ROLE_SUPERVISOR && strcmp(d->snap->staff[i].community_id, community_id) == 0)
            return &d->snap->staff[i];
    return NULL;
}

const sq_staff *sq_directory_street_officer(const sq_directory *d, const char *street_id)
{
    for (int i = 0; d->snap && street_id && i < d->snap->nstaff; i++)
        if (d->snap->staff[i].role == SQ_ROLE_STREET && strcmp(d->snap->staff[i].street_id, street_id) == 0)
            return &d->snap->staff[i];
    return NULL;
}

bool sq_staff_has_skill(const sq_staff *s, const char *category)
{
    for (int i = 0; s && category && i < s->nskills; i++)
        if (strcmp(s->skills[i], category) == 0 || strcmp(s->skills[i], "*") == 0)
            return true;
    return false;
}
