/*
 * auth.c — sign-in against shequ.dashboard_users (Argon2id hashes, libsodium)
 * and the session cookie: "user~expiry~hmac", HMAC-SHA256 under the server's
 * session key. The user's row is read again on every request, so a removed
 * user or a changed scope takes effect at once.
 */
#include "scope.h"

#include <semaphore.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COOKIE "shequ_session"

/* Argon2 needs 64 MiB per verification: at most two at a time. */
static sem_t verifying;
static pthread_once_t verifying_once = PTHREAD_ONCE_INIT;
static void verifying_init(void) { sem_init(&verifying, 0, 2); }

static void mac(dashboard *d, const char *msg, char out[65])
{
    unsigned char h[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256(h, (const unsigned char *)msg, strlen(msg), d->session_key);
    sq_hex(h, sizeof h, out);
}

/* The user row behind a user name: SQ_OK, SQ_NOTFOUND (no such user or no scope) or SQ_RETRY. */
static int load_user(sq_pg *pg, const char *username, dash_user *u, char hash[256])
{
    static const char sql[] =
        "SELECT u.password_hash, CASE WHEN u.district THEN 'district' WHEN s.role = 'supervisor' THEN 'community'"
        "  WHEN s.role = 'street' THEN 'street' END,"
        " CASE WHEN u.district THEN '' WHEN s.role = 'supervisor' THEN s.community_id ELSE s.street_id END,"
        " coalesce(s.name, u.username)"
        " FROM shequ.dashboard_users u LEFT JOIN shequ.staff s USING (staff_id) WHERE u.username = $1";
    const char *p[] = { username };
    PGresult *res;
    char err[256];
    if (sq_pg_exec(pg, sql, 1, p, &res, err, sizeof err) != SQ_OK) {
        log_warn("user.lookup_failed", "error=\"%s\"", err);
        return SQ_RETRY;
    }
    int rc = SQ_NOTFOUND;
    if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 1) && !PQgetisnull(res, 0, 2)) {
        snprintf(hash, 256, "%s", PQgetvalue(res, 0, 0));
        snprintf(u->username, sizeof u->username, "%s", username);
        snprintf(u->kind, sizeof u->kind, "%s", PQgetvalue(res, 0, 1));
        snprintf(u->scope_id, sizeof u->scope_id, "%s", PQgetvalue(res, 0, 2));
        sq_strlcpy_utf8(u->name, PQgetvalue(res, 0, 3), sizeof u->name);
        rc = SQ_OK;
    }
    PQclear(res);
    return rc;
}

static json_t *user_json(const dash_user *u)
{
    return json_pack("{s:s,s:s,s:s,s:s}", "username", u->username, "name", u->name, "kind", u->kind, "scope_id",
                     u->scope_id);
}

void dash_login(dashboard *d, const dash_request *q, dash_reply *r)
{
    json_error_t jerr;
    json_t *body = json_loadb(q->body ? q->body : "", q->body_len, 0, &jerr);
    const char *user_in = json_string_value(json_object_get(body, "username"));
    const char *password = json_string_value(json_object_get(body, "password"));
    if (!user_in || !dash_id_ok(user_in)) {
        json_decref(body);
        return dash_reply_error(r, 400, "invalid", "username", "a user name of 1 to 64 letters, digits, '.', '_' or '-'");
    }
    if (!password || strlen(password) > 1024) {
        json_decref(body);
        return dash_reply_error(r, 400, "invalid", "password", "a password of at most 1024 bytes");
    }
    char username[65];
    snprintf(username, sizeof username, "%s", user_in);
    dash_user u = { 0 };
    char hash[256] = "";
    sq_pg *pg = dash_pool_get(d->pool);
    int rc = load_user(pg, username, &u, hash);
    dash_pool_put(d->pool, pg);
    if (rc == SQ_RETRY) {
        json_decref(body);
        return dash_reply_error(r, 503, "unavailable", NULL, "the database does not answer; try again");
    }
    pthread_once(&verifying_once, verifying_init);
    sem_wait(&verifying);
    bool ok = rc == SQ_OK && crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
    sem_post(&verifying);
    json_decref(body); /* password and user_in go with it */
    if (!ok) {
        sq_metric_add(d->m_requests[3], 1);
        log_info("login.refused", "user=%s", username);
        return dash_reply_error(r, 401, "unauthorized", NULL, "wrong user name or password");
    }
    char msg[128], m[65];
    snprintf(msg, sizeof msg, "%s~%lld", username, (long long)(sq_now_us() / SQ_US_PER_S + d->cfg.session_ttl_s));
    mac(d, msg, m);
    snprintf(r->set_cookie, sizeof r->set_cookie, COOKIE "=%s~%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%ld",
             msg, m, d->cfg.session_ttl_s);
    log_info("login", "user=%s kind=%s", username, u.kind);
    dash_reply_json(r, 200, json_pack("{s:o}", "user", user_json(&u)));
}

void dash_logout(dash_reply *r)
{
    snprintf(r->set_cookie, sizeof r->set_cookie, COOKIE "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    dash_reply_json(r, 200, json_pack("{s:b}", "signed_out", 1));
}

bool dash_authenticate(dashboard *d, sq_pg *pg, const dash_request *q, dash_user *u, dash_reply *r)
{
    char user[65] = "", want[65];
    long long expiry = 0;
    const char *c = q->cookie;
    const char *t1 = c ? strchr(c, '~') : NULL, *t2 = t1 ? strchr(t1 + 1, '~') : NULL;
    if (t2 && (size_t)(t1 - c) < sizeof user && strlen(t2 + 1) == 64) {
        char msg[128];
        snprintf(msg, sizeof msg, "%.*s", (int)(t2 - c), c);
        memcpy(user, c, (size_t)(t1 - c));
        user[t1 - c] = '\0';
        expiry = strtoll(t1 + 1, NULL, 10);
        mac(d, msg, want);
        if (sodium_memcmp(want, t2 + 1, 64) != 0 || !dash_id_ok(user))
            expiry = 0;
    }
    if (expiry <= sq_now_us() / SQ_US_PER_S) {
        dash_reply_error(r, 401, "unauthorized", NULL, "sign in first");
        return false;
    }
    char hash[256];
    int rc = load_user(pg, user, u, hash);
    if (rc == SQ_RETRY)
        dash_reply_error(r, 503, "unavailable", NULL, "the database does not answer; try again");
    else if (rc != SQ_OK)
        dash_reply_error(r, 401, "unauthorized", NULL, "this user no longer exists");
    return rc == SQ_OK;
}

int dash_hash_password_main(void)
{
    char pw[1100];
    if (!fgets(pw, sizeof pw, stdin)) {
        fprintf(stderr, "dashboard: give the password on standard input\n");
        return 2;
    }
    pw[strcspn(pw, "\r\n")] = '\0';
    char out[crypto_pwhash_STRBYTES];
    if (sodium_init() < 0 || crypto_pwhash_str(out, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                               crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        fprintf(stderr, "dashboard: out of memory while hashing\n");
        return 2;
    }
    sodium_memzero(pw, sizeof pw);
    puts(out);
    return 0;
}
