/*
 * fields.h — the secondary fields of a device's alarm, read tolerantly. Devices differ: `level` may be
 * a number or a severity name, `building` and `unit` strings or numbers, `occurred_at` RFC 3339 or epoch
 * seconds or milliseconds. A value that cannot be used is dropped and the drop noted ("field: why"); it
 * is never a reason to refuse the alarm. Pure: no I/O.
 */
#ifndef BRIDGE_FIELDS_H
#define BRIDGE_FIELDS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define BRIDGE_DROPPED_MAX 5

typedef struct bridge_fields {
    int32_t level;              /* 1 critical, 2 major, 3 minor, 4 warning, 5 info (a number as given); 0 none */
    char building[32], unit[32];
    int64_t device_time_us;     /* 0: none or dropped */
    const char *snapshot_url;   /* into the JSON, or NULL */
    char dropped[BRIDGE_DROPPED_MAX][80];
    char *dropped_ptrs[BRIDGE_DROPPED_MAX]; /* set by bridge_fields_notes */
    int ndropped;
} bridge_fields;

/* The notes as the protobuf's repeated string wants them (pointers into f: do not copy f after this). */
char **bridge_fields_notes(bridge_fields *f);

/* Reads the optional fields (each may be NULL: absent) into f. */
void bridge_read_fields(json_t *level, json_t *building, json_t *unit, json_t *occurred, json_t *snapshot,
                        bridge_fields *f);

#endif
