/*
 * pg.c — reconnecting libpq connection with capped backoff.
 */
#include "pg.h"
#include "log.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sq_pg {
    char *dsn;
    char app_name[64];
    char connect_timeout[16];
    char options[64];
    PGconn *conn;
    int64_t next_attempt_us;
    long backoff_ms;
    bool was_down;
};

sq_pg *sq_pg_new(const char *dsn, int connect_timeout_s, int statement_timeout_ms, const char *app_name)
{
    sq_pg *p = calloc(1, sizeof *p);
    if (!p || !(p->dsn = strdup(dsn ? dsn : ""))) {
        free(p);
        return NULL;
    }
    snprintf(p->app_name, sizeof p->app_name, "%s", app_name ? app_name : "shequ");
    snprintf(p->connect_timeout, sizeof p->connect_timeout, "%d", connect_timeout_s > 0 ? connect_timeout_s : 5);
    snprintf(p->options, sizeof p->options, "-c statement_timeout=%d", statement_timeout_ms);
    p->backoff_ms = 100;
    return p;
}

PGconn *sq_pg_conn(sq_pg *p) { return p->conn; }

void sq_pg_reset(sq_pg *p)
{
    if (p->conn) {
        PQfinish(p->conn);
        p->conn = NULL;
    }
}

int sq_pg_connect(sq_pg *p, char *err, size_t errlen)
{
    if (p->conn && PQstatus(p->conn) == CONNECTION_OK)
        return SQ_OK;
    sq_pg_reset(p);
    int64_t now = sq_mono_us();
    if (now < p->next_attempt_us)
        return sq_fail(err, errlen, SQ_RETRY, "postgres: waiting %lld ms before reconnecting",
                       (long long)(p->next_attempt_us - now) / 1000);
    const char *keys[] = { "dbname", "connect_timeout", "application_name", "options", NULL };
    const char *vals[] = { p->dsn, p->connect_timeout, p->app_name, p->options, NULL };
    p->conn = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(p->conn) != CONNECTION_OK) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(p->conn));
        msg[strcspn(msg, "\n")] = '\0';
        sq_pg_reset(p);
        p->next_attempt_us = now + p->backoff_ms * 1000;
        p->backoff_ms = p->backoff_ms * 2 > 5000 ? 5000 : p->backoff_ms * 2;
        if (!p->was_down)
            log_warn("pg.down", "error=\"%s\"", msg);
        p->was_down = true;
        return sq_fail(err, errlen, SQ_RETRY, "postgres: %s", msg);
    }
    if (p->was_down)
        log_info("pg.reconnected", "");
    p->was_down = false;
    p->backoff_ms = 100;
    p->next_attempt_us = 0;
    return SQ_OK;
}

int sq_pg_connect_wait(sq_pg *p, int timeout_ms, char *err, size_t errlen)
{
    int64_t deadline = sq_mono_us() + (int64_t)timeout_ms * 1000;
    int rc;
    while ((rc = sq_pg_connect(p, err, errlen)) != SQ_OK && sq_mono_us() < deadline)
        sq_sleep_ms(50);
    return rc;
}

int sq_pg_classify(const PGresult *r, const PGconn *conn)
{
    if (!conn || PQstatus(conn) != CONNECTION_OK || !r)
        return SQ_RETRY;
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (!state)
        return SQ_RETRY;
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "57", 2) == 0 || strncmp(state, "53", 2) == 0 ||
        strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)
        return SQ_RETRY;
    return SQ_INVALID;
}

int sq_pg_exec(sq_pg *p, const char *sql, int nparams, const char *const *params,
               PGresult **res, char *err, size_t errlen)
{
    if (res)
        *res = NULL;
    int rc = sq_pg_connect(p, err, errlen);
    if (rc != SQ_OK)
        return rc;
    bool idle = PQtransactionStatus(p->conn) == PQTRANS_IDLE;
    PGresult *r = PQexecParams(p->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    if (idle && PQstatus(p->conn) != CONNECTION_OK) {
        /* the server went away since the last call (a restart): outside a transaction the
         * statement is simply sent again on a fresh connection */
        PQclear(r);
        sq_pg_reset(p);
        if ((rc = sq_pg_connect(p, err, errlen)) != SQ_OK)
            return rc;
        r = PQexecParams(p->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    }
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        if (res)
            *res = r;
        else
            PQclear(r);
        return SQ_OK;
    }
    rc = sq_pg_classify(r, p->conn);
    char msg[512];
    snprintf(msg, sizeof msg, "%s", r ? PQresultErrorMessage(r) : PQerrorMessage(p->conn));
    msg[strcspn(msg, "\n")] = '\0';
    sq_fail(err, errlen, rc, "postgres: %s", msg);
    PQclear(r);
    if (rc == SQ_RETRY && PQstatus(p->conn) != CONNECTION_OK)
        sq_pg_reset(p);
    return rc;
}

int sq_pg_begin(sq_pg *p, char *err, size_t errlen) { return sq_pg_exec(p, "BEGIN", 0, NULL, NULL, err, errlen); }
int sq_pg_commit(sq_pg *p, char *err, size_t errlen) { return sq_pg_exec(p, "COMMIT", 0, NULL, NULL, err, errlen); }

void sq_pg_rollback(sq_pg *p)
{
    if (p->conn && PQstatus(p->conn) == CONNECTION_OK)
        PQclear(PQexec(p->conn, "ROLLBACK"));
}

void sq_pg_free(sq_pg *p)
{
    if (!p)
        return;
    sq_pg_reset(p);
    free(p->dsn);
    free(p);
}

int sq_pg_health(void *dsn, char *msg, size_t msglen)
{
    const char *keys[] = { "dbname", "connect_timeout", NULL };
    const char *vals[] = { dsn, "2", NULL };
    if (PQpingParams(keys, vals, 1) != PQPING_OK)
        return sq_fail(msg, msglen, SQ_RETRY, "postgres does not answer");
    return SQ_OK;
}
