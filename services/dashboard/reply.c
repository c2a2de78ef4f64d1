/*
 * reply.c — JSON and CSV bodies. Query results become JSON rows by column
 * type; CSV is UTF-8 with a BOM (Excel opens Chinese correctly) and cells
 * that a spreadsheet would run as a formula are quoted inert.
 */
#include "dashboard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OID_BOOL = 16, OID_INT8 = 20, OID_INT2 = 21, OID_INT4 = 23, OID_FLOAT8 = 701, OID_NUMERIC = 1700 };

void dash_reply_json(dash_reply *r, int status, json_t *body)
{
    free(r->body);
    r->status = status;
    r->body = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(15));
    r->len = strlen(r->body);
    r->content_type = "application/json; charset=utf-8";
    json_decref(body);
}

void dash_reply_error(dash_reply *r, int status, const char *code, const char *field, const char *message)
{
    dash_reply_json(r, status, json_pack("{s:{s:s,s:s?,s:s}}", "error", "code", code, "field", field,
                                         "message", message));
}

json_t *dash_value(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return json_null();
    const char *v = PQgetvalue(res, row, col);
    switch (PQftype(res, col)) {
    case OID_BOOL:
        return json_boolean(v[0] == 't');
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
        return json_integer(strtoll(v, NULL, 10));
    case OID_FLOAT8:
    case OID_NUMERIC:
        return json_real(strtod(v, NULL));
    default: {
        char *s = strdup(v);
        sq_log_mask_phones(s);
        json_t *j = json_string(s);
        free(s);
        return j ? j : json_null();
    }
    }
}

json_t *dash_rows(const PGresult *res)
{
    json_t *rows = json_array();
    for (int i = 0; i < PQntuples(res); i++) {
        json_t *o = json_object();
        for (int c = 0; c < PQnfields(res); c++)
            json_object_set_new(o, PQfname(res, c), dash_value(res, i, c));
        json_array_append_new(rows, o);
    }
    return rows;
}

typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

static void put(buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void put_cell(buf *b, const char *v, bool text)
{
    bool formula = text && strchr("=+-@\t\r", v[0]) && v[0];
    if (!formula && !strpbrk(v, ",\"\r\n")) {
        put(b, v, strlen(v));
        return;
    }
    put(b, "\"", 1);
    if (formula)
        put(b, "'", 1);
    for (const char *c = v; *c; c++) {
        if (*c == '"')
            put(b, "\"\"", 2);
        else
            put(b, c, 1);
    }
    put(b, "\"", 1);
}

void dash_reply_csv(dash_reply *r, const PGresult *res, const char *filename)
{
    buf b = { 0 };
    put(&b, "\xEF\xBB\xBF", 3);
    for (int c = 0; c < PQnfields(res); c++) {
        if (c)
            put(&b, ",", 1);
        put_cell(&b, PQfname(res, c), false);
    }
    put(&b, "\r\n", 2);
    for (int i = 0; i < PQntuples(res); i++) {
        for (int c = 0; c < PQnfields(res); c++) {
            if (c)
                put(&b, ",", 1);
            if (PQgetisnull(res, i, c))
                continue;
            Oid t = PQftype(res, c);
            bool text = t != OID_INT2 && t != OID_INT4 && t != OID_INT8 && t != OID_NUMERIC && t != OID_FLOAT8;
            char *v = strdup(PQgetvalue(res, i, c));
            sq_log_mask_phones(v);
            put_cell(&b, v, text);
            free(v);
        }
        put(&b, "\r\n", 2);
    }
    free(r->body);
    r->status = 200;
    r->body = b.p;
    r->len = b.len;
    r->content_type = "text/csv; charset=utf-8";
    snprintf(r->disposition, sizeof r->disposition, "attachment; filename=\"%s.csv\"", filename);
}
