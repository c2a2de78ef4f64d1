/*
 * pg.h — a PostgreSQL connection that reconnects (libpq). Parameterised
 * statements only: there is no function here that takes SQL with values
 * pasted in. Connect timeout and statement_timeout are set on connect.
 */
#ifndef SQ_PG_H
#define SQ_PG_H

#include "sq.h"

#include <libpq-fe.h>

typedef struct sq_pg sq_pg;

/* Creates the handle; does not connect. dsn is copied. */
sq_pg *sq_pg_new(const char *dsn, int connect_timeout_s, int statement_timeout_ms, const char *app_name);
/*
 * Makes sure the connection is up. Attempts at most once per backoff period
 * (100 ms doubling to 5 s while the server stays down), so a caller in a loop
 * never hammers a dead server. SQ_OK or SQ_RETRY with the reason in err.
 */
int sq_pg_connect(sq_pg *p, char *err, size_t errlen);
/* Retries sq_pg_connect (sleeping between attempts) for up to timeout_ms. */
int sq_pg_connect_wait(sq_pg *p, int timeout_ms, char *err, size_t errlen);
/* The live connection, or NULL. Borrowed. */
PGconn *sq_pg_conn(sq_pg *p);

/*
 * Runs one parameterised statement (text parameters, NULL = SQL NULL). On
 * success returns SQ_OK and, if res is not NULL, the result (caller PQclears).
 * Outside a transaction, a connection found broken (the server restarted) is re-opened and the
 * statement sent once more. Failures: SQ_RETRY when the connection or server is at fault (the
 * connection is dropped and will be re-opened) or for serialization failures
 * and deadlocks; SQ_INVALID when the statement itself was refused.
 */
int sq_pg_exec(sq_pg *p, const char *sql, int nparams, const char *const *params,
               PGresult **res, char *err, size_t errlen);
/* BEGIN / COMMIT / ROLLBACK helpers built on sq_pg_exec. */
int sq_pg_begin(sq_pg *p, char *err, size_t errlen);
int sq_pg_commit(sq_pg *p, char *err, size_t errlen);
void sq_pg_rollback(sq_pg *p);
/* Marks the connection broken so the next call reconnects. */
void sq_pg_reset(sq_pg *p);
/* Closes and frees. Accepts NULL. */
void sq_pg_free(sq_pg *p);

/* Classifies a failed result: SQ_RETRY (connection, shutdown, serialization, deadlock) or SQ_INVALID. */
int sq_pg_classify(const PGresult *r, const PGconn *conn);

/* Admin health check: PQping(ctx as a DSN). Thread-safe, stateless. */
int sq_pg_health(void *dsn, char *msg, size_t msglen);

#endif
