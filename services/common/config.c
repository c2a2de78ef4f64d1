/*
 * config.c — one loader for every daemon's options. Layers are applied in
 * order (defaults, file, environment, flags); each value is validated as it
 * is set, so an error names the option and where the bad value came from.
 */
#include "config.h"
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

sq_option *sq_config_find(sq_option *opts, const char *name)
{
    for (sq_option *o = opts; o && o->name; o++)
        if (strcmp(o->name, name) == 0)
            return o;
    return NULL;
}

void sq_config_env_name(const char *name, char *out, size_t outlen)
{
    size_t n = (size_t)snprintf(out, outlen, "SHEQU_");
    for (const char *p = name; *p && n + 1 < outlen; p++)
        out[n++] = (*p == '.' || *p == '-') ? '_' : (char)toupper((unsigned char)*p);
    out[n < outlen ? n : outlen - 1] = '\0';
}

static void flag_name(const char *name, char *out, size_t outlen)
{
    size_t n = (size_t)snprintf(out, outlen, "--");
    for (const char *p = name; *p && n + 1 < outlen; p++)
        out[n++] = (*p == '.' || *p == '_') ? '-' : *p;
    out[n < outlen ? n : outlen - 1] = '\0';
}

static int parse_bool(const char *v, bool *out)
{
    static const char *yes[] = { "1", "true", "yes", "on" }, *no[] = { "0", "false", "no", "off" };
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return SQ_OK;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return SQ_OK;
        }
    }
    return SQ_INVALID;
}

int sq_config_set(sq_option *o, const char *value, const char *origin, char *err, size_t errlen)
{
    const char *v = value ? value : "";
    bool bounded = o->min != 0 || o->max != 0;
    switch (o->type) {
    case SQ_OPT_STR: {
        char *copy = strdup(v);
        if (!copy)
            return sq_fail(err, errlen, SQ_NOMEM, "out of memory");
        char **t = o->target;
        free(*t);
        *t = copy;
        break;
    }
    case SQ_OPT_INT: {
        char *end;
        errno = 0;
        long n = strtol(v, &end, 10);
        if (*v == '\0' || *end != '\0' || errno)
            return sq_fail(err, errlen, SQ_INVALID, "%s: option '%s': '%s' is not a whole number",
                           origin, o->name, v);
        if (bounded && (n < o->min || n > o->max))
            return sq_fail(err, errlen, SQ_INVALID, "%s: option '%s': %ld is outside %.0f..%.0f",
                           origin, o->name, n, o->min, o->max);
        *(long *)o->target = n;
        break;
    }
    case SQ_OPT_DOUBLE: {
        char *end;
        errno = 0;
        double d = strtod(v, &end);
        if (*v == '\0' || *end != '\0' || errno || !isfinite(d))
            return sq_fail(err, errlen, SQ_INVALID, "%s: option '%s': '%s' is not a number",
                           origin, o->name, v);
        if (bounded && (d < o->min || d > o->max))
            return sq_fail(err, errlen, SQ_INVALID, "%s: option '%s': %g is outside %g..%g",
                           origin, o->name, d, o->min, o->max);
        *(double *)o->target = d;
        break;
    }
    case SQ_OPT_BOOL:
        if (parse_bool(v, (bool *)o->target) != SQ_OK)
            return sq_fail(err, errlen, SQ_INVALID,
                           "%s: option '%s': '%s' is not a boolean (true/false)", origin, o->name, v);
        break;
    }
    snprintf(o->origin, sizeof o->origin, "%s", origin);
    return SQ_OK;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

int sq_config_apply_file(sq_option *opts, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return sq_fail(err, errlen, SQ_INVALID, "config file %s: %s", path, strerror(errno));
    char line[4096], origin[96];
    int lineno = 0, rc = SQ_OK;
    while (rc == SQ_OK && fgets(line, sizeof line, f)) {
        lineno++;
        snprintf(origin, sizeof origin, "%s:%d", path, lineno);
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = sq_fail(err, errlen, SQ_INVALID, "%s: expected 'key = value'", origin);
            break;
        }
        *eq = '\0';
        char *key = trim(s), *val = trim(eq + 1);
        size_t vl = strlen(val);
        if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
            val[vl - 1] = '\0';
            val++;
        }
        sq_option *o = sq_config_find(opts, key);
        if (!o)
            rc = sq_fail(err, errlen, SQ_INVALID, "%s: unknown option '%s'", origin, key);
        else if (strcmp(key, "config") != 0)
            rc = sq_config_set(o, val, origin, err, errlen);
    }
    fclose(f);
    return rc;
}

void sq_config_print_help(const sq_option *opts, const char *usage, void *stream)
{
    FILE *out = stream;
    char env[128], flag[128];
    fprintf(out, "%s\n\nOptions (defaults < --config file < environment < flags):\n", usage);
    for (const sq_option *o = opts; o->name; o++) {
        sq_config_env_name(o->name, env, sizeof env);
        flag_name(o->name, flag, sizeof flag);
        fprintf(out, "  %-32s %s\n  %-32s   env %s, file key '%s', default '%s'\n", flag, o->help,
                "", env, o->name, o->def ? o->def : "");
    }
    fprintf(out, "  %-32s %s\n", "--help", "print this text");
}

static bool is_secret(const char *name)
{
    return strstr(name, "password") || strstr(name, "secret") || strstr(name, "key") ||
           strstr(name, "dsn");
}

void sq_config_log(const sq_option *opts)
{
    for (const sq_option *o = opts; o->name; o++) {
        char val[160];
        switch (o->type) {
        case SQ_OPT_STR: {
            const char *s = *(char *const *)o->target;
            snprintf(val, sizeof val, "%s", is_secret(o->name) && s && *s ? "***" : (s ? s : ""));
            break;
        }
        case SQ_OPT_INT: snprintf(val, sizeof val, "%ld", *(const long *)o->target); break;
        case SQ_OPT_DOUBLE: snprintf(val, sizeof val, "%g", *(const double *)o->target); break;
        case SQ_OPT_BOOL: snprintf(val, sizeof val, "%s", *(const bool *)o->target ? "true" : "false"); break;
        }
        log_debug("config.option", "name=%s value=\"%s\" origin=%s", o->name, val, o->origin);
    }
}

void sq_config_free(sq_option *opts)
{
    for (sq_option *o = opts; o && o->name; o++)
        if (o->type == SQ_OPT_STR && o->target) {
            char **t = o->target;
            free(*t);
            *t = NULL;
        }
}

int sq_config_load(sq_option *opts, const char *usage, int argc, char **argv, char *err, size_t errlen)
{
    int rc;
    /* 1. defaults */
    for (sq_option *o = opts; o->name; o++) {
        const char *def = o->def ? o->def : (o->type == SQ_OPT_STR ? "" : o->type == SQ_OPT_BOOL ? "false" : "0");
        if ((rc = sq_config_set(o, def, "default", err, errlen)) != SQ_OK)
            return rc;
    }
    /* The file is named by a flag or the environment; find it first. */
    const char *file = getenv("SHEQU_CONFIG");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            sq_config_print_help(opts, usage, stdout);
            return 1;
        }
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            file = argv[i + 1];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            file = argv[i] + 9;
    }
    /* 2. file */
    if (file && *file) {
        sq_option *c = sq_config_find(opts, "config");
        if (c && (rc = sq_config_set(c, file, "flag", err, errlen)) != SQ_OK)
            return rc;
        if ((rc = sq_config_apply_file(opts, file, err, errlen)) != SQ_OK)
            return rc;
    }
    /* 3. environment */
    char env[128];
    for (sq_option *o = opts; o->name; o++) {
        sq_config_env_name(o->name, env, sizeof env);
        const char *v = getenv(env);
        if (v && strcmp(o->name, "config") != 0) {
            char origin[140];
            snprintf(origin, sizeof origin, "env %s", env);
            if ((rc = sq_config_set(o, v, origin, err, errlen)) != SQ_OK)
                return rc;
        }
    }
    /* 4. flags */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0)
            return sq_fail(err, errlen, SQ_INVALID, "unexpected argument '%s' (see --help)", a);
        char name[128];
        const char *eq = strchr(a, '='), *val;
        size_t n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        if (n >= sizeof name)
            return sq_fail(err, errlen, SQ_INVALID, "unknown flag '%s' (see --help)", a);
        memcpy(name, a + 2, n);
        name[n] = '\0';
        sq_option *o = NULL;
        char flag[128];
        for (sq_option *p = opts; p->name && !o; p++) {
            flag_name(p->name, flag, sizeof flag);
            if (strcmp(flag + 2, name) == 0)
                o = p;
        }
        if (!o)
            return sq_fail(err, errlen, SQ_INVALID, "unknown flag '--%s' (see --help)", name);
        if (eq) {
            val = eq + 1;
        } else if (o->type == SQ_OPT_BOOL && (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0)) {
            val = "true";
        } else {
            if (i + 1 >= argc)
                return sq_fail(err, errlen, SQ_INVALID, "flag '--%s' needs a value", name);
            val = argv[++i];
        }
        if (strcmp(o->name, "config") == 0)
            continue;
        char origin[160];
        snprintf(origin, sizeof origin, "flag --%s", name);
        if ((rc = sq_config_set(o, val, origin, err, errlen)) != SQ_OK)
            return rc;
    }
    return SQ_OK;
}

const char *sq_topic_name(const sq_common_config *c, const char *base)
{
    static char *interned[64];
    static int n;
    char buf[256];
    snprintf(buf, sizeof buf, "%s%s", c->topic_prefix ? c->topic_prefix : "", base);
    for (int i = 0; i < n; i++)
        if (strcmp(interned[i], buf) == 0)
            return interned[i];
    if (n == (int)SQ_ARRAY_LEN(interned))
        abort();
    return interned[n++] = strdup(buf);
}
