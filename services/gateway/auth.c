/*
 * auth.c — calling backends: client ids, secrets and Open311 api keys from a
 * file (reloaded on SIGHUP), HMAC-SHA256 request signatures with a ±skew
 * window. Refusing a signature seen before (replay) needs Redis: gw_admit in limits.c.
 */
#include "gateway.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gw_clients_load(const char *path, gw_clients *out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return sq_fail(err, errlen, SQ_INVALID, "clients file %s: %s", path, strerror(errno));
    gw_clients c = { 0 };
    char line[512];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char id[64], secret[128], key[128] = "";
        int n = sscanf(line, "%63s %127s %127s", id, secret, key);
        if (n <= 0)
            continue;
        if (n < 2) {
            fclose(f);
            free(c.list);
            return sq_fail(err, errlen, SQ_INVALID, "%s:%d: expected '<client_id> <secret> [open311_api_key]'", path, lineno);
        }
        gw_client *nl = realloc(c.list, (size_t)(c.n + 1) * sizeof *nl);
        if (!nl)
            abort();
        c.list = nl;
        gw_client *cl = &c.list[c.n++];
        snprintf(cl->id, sizeof cl->id, "%s", id);
        snprintf(cl->secret, sizeof cl->secret, "%s", secret);
        snprintf(cl->api_key, sizeof cl->api_key, "%s", n == 3 ? key : "");
    }
    fclose(f);
    *out = c;
    return SQ_OK;
}

void gw_clients_free(gw_clients *c)
{
    free(c->list);
    c->list = NULL;
    c->n = 0;
}

static bool find_client(gateway *g, const char *id, const char *api_key, gw_client *copy)
{
    bool found = false;
    pthread_rwlock_rdlock(&g->clients_lock);
    for (int i = 0; i < g->clients.n && !found; i++) {
        const gw_client *c = &g->clients.list[i];
        if ((id && strcmp(c->id, id) == 0) || (api_key && c->api_key[0] && strcmp(c->api_key, api_key) == 0)) {
            *copy = *c;
            found = true;
        }
    }
    pthread_rwlock_unlock(&g->clients_lock);
    return found;
}

const gw_client *gw_client_by_api_key(gateway *g, const char *api_key, gw_client *copy)
{
    return api_key && *api_key && find_client(g, NULL, api_key, copy) ? copy : NULL;
}

bool gw_authenticate(gateway *g, const char *client, const char *ts, const char *sig, const char *method,
                     const char *path, const char *body, size_t len, char client_out[64], gw_reply *r)
{
    if (!client || !ts || !sig) {
        gw_reply_error(r, 401, "unauthenticated", !client ? "X-Shequ-Client" : !ts ? "X-Shequ-Timestamp" : "X-Shequ-Signature",
                       "signed requests only");
        return false;
    }
    gw_client c;
    if (!find_client(g, client, NULL, &c)) {
        gw_reply_error(r, 401, "unauthenticated", "X-Shequ-Client", "unknown client");
        return false;
    }
    char *end;
    long long t = strtoll(ts, &end, 10);
    long long now = sq_now_us() / SQ_US_PER_S;
    if (*ts == '\0' || *end || t < now - g->cfg.skew_s || t > now + g->cfg.skew_s) {
        gw_reply_error(r, 401, "stale_timestamp", "X-Shequ-Timestamp", "timestamp outside the accepted window");
        return false;
    }
    size_t head_len = strlen(ts) + strlen(method) + strlen(path) + 3;
    char *msg = malloc(head_len + len + 1);
    int off = snprintf(msg, head_len + 1, "%s\n%s\n%s\n", ts, method, path);
    memcpy(msg + off, body, len);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    HMAC(EVP_sha256(), c.secret, (int)strlen(c.secret), (unsigned char *)msg, (size_t)off + len, mac, &maclen);
    free(msg);
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    sq_hex(mac, maclen, hex);
    if (strlen(sig) != strlen(hex) || CRYPTO_memcmp(sig, hex, strlen(hex)) != 0) {
        gw_reply_error(r, 401, "bad_signature", "X-Shequ-Signature", "signature does not match");
        return false;
    }
    snprintf(client_out, 64, "%s", c.id);
    return true;
}
