/*
 * open311.c — Open311 GeoReport v2 under /open311/v2/: services.json,
 * services/{code}.json, POST requests.json (form-encoded, with api_key;
 * jurisdiction_id names the community), GET requests.json by id, status and
 * date range, GET requests/{id}.json. expected_datetime is the resolve
 * deadline; extended_status carries FixMyStreet's statuses.
 */
#include "gateway.h"
#include "shequ/v1/report.pb-c.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Finds `name` in an x-www-form-urlencoded body and decodes it into out. */
static bool form_get(const char *body, size_t len, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    const char *p = body, *end = body + len;
    while (p && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if ((size_t)(stop - p) > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            size_t o = 0;
            for (const char *q = p + nl + 1; q < stop && o + 1 < outlen; q++) {
                if (*q == '+') {
                    out[o++] = ' ';
                } else if (*q == '%' && q + 2 < stop + 0 + 1 && hexval(q[1]) >= 0 && hexval(q[2]) >= 0) {
                    out[o++] = (char)(hexval(q[1]) * 16 + hexval(q[2]));
                    q += 2;
                } else {
                    out[o++] = *q;
                }
            }
            out[o] = '\0';
            return true;
        }
        p = amp ? amp + 1 : NULL;
    }
    return false;
}

static void services(gateway *g, gw_reply *r)
{
    const sq_category *const *cats;
    int n = sq_rules_categories(g->rules, &cats);
    json_t *arr = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:b,s:s,s:s,s:s}", "service_code", cats[i]->code,
                                             "service_name", cats[i]->name_zh, "description", cats[i]->name_en,
                                             "metadata", 0, "type", "realtime", "keywords", cats[i]->tier, "group",
                                             cats[i]->tier));
    r->status = 200;
    r->body = arr;
}

static void post_request(gateway *g, const char *body, size_t len, const char *query_key, gw_reply *r)
{
    char key[128] = "", code[64] = "", jurisdiction[80] = "", desc[4096] = "", lat[32] = "", lon[32] = "",
         address[256] = "", account[80] = "", device[80] = "", media[512] = "";
    if (!form_get(body, len, "api_key", key, sizeof key) && query_key)
        snprintf(key, sizeof key, "%s", query_key);
    gw_client client;
    if (!gw_client_by_api_key(g, key, &client))
        return gw_reply_error(r, 401, "unauthenticated", "api_key", "unknown api_key");
    form_get(body, len, "service_code", code, sizeof code);
    form_get(body, len, "jurisdiction_id", jurisdiction, sizeof jurisdiction);
    form_get(body, len, "description", desc, sizeof desc);
    form_get(body, len, "address_string", address, sizeof address);
    form_get(body, len, "account_id", account, sizeof account);
    form_get(body, len, "device_id", device, sizeof device);
    form_get(body, len, "media_url", media, sizeof media);
    bool has_lat = form_get(body, len, "lat", lat, sizeof lat), has_lon = form_get(body, len, "long", lon, sizeof lon);
    if (!sq_rules_category(g->rules, code))
        return gw_reply_error(r, 400, code[0] ? "unknown_category" : "missing_field", "service_code", "see services.json");
    if (!jurisdiction[0])
        return gw_reply_error(r, 400, "missing_field", "jurisdiction_id", "the community id");
    if (!desc[0] || !sq_utf8_valid(desc, strlen(desc)))
        return gw_reply_error(r, 400, "missing_field", "description", "a UTF-8 description is required");
    json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s}", "community_id", jurisdiction, "reporter_id",
                          account[0] ? account : device[0] ? device : "open311-anonymous", "category", code,
                          "description", desc, "address", address);
    if (has_lat && has_lon)
        json_object_set_new(j, "location", json_pack("{s:f,s:f}", "lat", atof(lat), "lon", atof(lon)));
    if (media[0])
        json_object_set_new(j, "photos", json_pack("[s]", media));
    gw_reply inner = { 0 };
    gw_post_report(g, client.id, j, &inner);
    json_decref(j);
    if (inner.status != 202) {
        *r = inner;
        return;
    }
    const char *id = json_string_value(json_object_get(inner.body, "report_id"));
    r->status = 201;
    r->body = json_pack("[{s:s,s:s,s:n}]", "service_request_id", id, "service_notice", "已受理", "account_id");
    json_decref(inner.body);
}

static int64_t date_arg(void *conn, const char *name)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
    int64_t us = 0;
    if (v)
        sq_parse_rfc3339(v, &us);
    return us;
}

void gw_open311(gateway *g, const char *method, const char *path, const char *query_api_key,
                const char *body, size_t len, void *conn, gw_reply *r)
{
    char code[80];
    if (strcmp(method, "GET") == 0 && strcmp(path, "/services.json") == 0)
        return services(g, r);
    if (strcmp(method, "GET") == 0 && sscanf(path, "/services/%79[^.].json", code) == 1) {
        if (!sq_rules_category(g->rules, code))
            return gw_reply_error(r, 404, "not_found", "service_code", "no such service");
        r->status = 200;
        r->body = json_pack("{s:s,s:[]}", "service_code", code, "attributes");
        return;
    }
    if (strcmp(path, "/requests.json") == 0 && strcmp(method, "POST") == 0)
        return post_request(g, body ? body : "", len, query_api_key, r);
    if (strcmp(path, "/requests.json") == 0 && strcmp(method, "GET") == 0) {
        const char *ids = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "service_request_id");
        if (ids) {
            json_t *arr = json_array();
            char copy[2048];
            snprintf(copy, sizeof copy, "%s", ids);
            char *save = NULL;
            for (char *id = strtok_r(copy, ",", &save); id; id = strtok_r(NULL, ",", &save)) {
                json_t *one = NULL;
                if (gw_status_open311(g->status, id, &one) == SQ_OK)
                    json_array_append_new(arr, one);
            }
            r->status = 200;
            r->body = arr;
            return;
        }
        const char *status = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "status");
        if (status && strcmp(status, "open") != 0 && strcmp(status, "closed") != 0)
            return gw_reply_error(r, 400, "invalid_value", "status", "open or closed");
        r->status = 200;
        r->body = gw_status_open311_list(g->status, status, date_arg(conn, "start_date"), date_arg(conn, "end_date"), 1000);
        return;
    }
    if (strcmp(method, "GET") == 0 && sscanf(path, "/requests/%79[^.].json", code) == 1) {
        json_t *one = NULL;
        int rc = gw_status_open311(g->status, code, &one);
        if (rc == SQ_RETRY) {
            gw_reply_error(r, 503, "unavailable", NULL, "the ticket record does not answer now; try again");
            snprintf(r->retry_after, sizeof r->retry_after, "5");
            return;
        }
        if (rc != SQ_OK)
            return gw_reply_error(r, 404, "not_found", "service_request_id", "not known (yet)");
        r->status = 200;
        r->body = json_pack("[o]", one);
        return;
    }
    gw_reply_error(r, 404, "not_found", NULL, "no such Open311 resource");
}
