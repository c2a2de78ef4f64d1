/*
 * statelog.h — bounded restore of state built from tickets.v1.
 *
 * triage, workflow, sla and the gateway's status cache all hold a fold of the ticket events of the
 * partitions they own. Replaying a partition of tickets.v1 from offset 0 costs the whole history; the
 * compactor service keeps instead, in the compacted topic tickets.changelog.v1 (same partition numbers
 * as tickets.v1), a copy of the events of every ticket that is still live — open, resolved, or final
 * for less than the windows rules look back over — and tombstones the copies of a ticket once it has
 * left every window (the last snapshot of a finished ticket stays a while longer, for the 30-day repeat
 * history). Keys and values of the changelog:
 *
 *   "e/<offset>"  the TicketEvent at that offset of tickets.v1[p], byte for byte (null: tombstone); its
 *                 original timestamp in the header "sq-ts"
 *   "@position"   decimal: every event of tickets.v1[p] before this offset has been copied or
 *                 tombstoned by the compactor (it writes this after the copies, in order)
 *
 * sq_statelog_restore applies, per partition, the live events in their original order and with their
 * original offsets (so the models' "offset already applied" checks keep working), then the events of
 * tickets.v1[p] from the position to the end the partition has now. The result is what a replay of the
 * whole partition would have given for every live ticket; finished tickets past their windows are
 * absent. Without a changelog (the topic missing or empty) the whole partition is replayed.
 */
#ifndef SQ_STATELOG_H
#define SQ_STATELOG_H

#include "config.h"
#include "shequ/v1/ticket.pb-c.h"

#include <stdbool.h>
#include <stdint.h>

#define SQ_CHANGELOG_TOPIC "tickets.changelog.v1"
#define SQ_CHANGELOG_POSITION_KEY "@position"
#define SQ_CHANGELOG_TS_HEADER "sq-ts" /* a copy's original Kafka timestamp (ms) */

typedef void (*sq_restore_apply_fn)(void *ctx, const Shequ__V1__TicketEvent *e, int32_t partition, int64_t offset);

typedef struct sq_restore_part {
    int32_t partition;
    int64_t next;        /* out: the tickets.v1 offset to go on from */
    int64_t position;    /* out: the changelog's position (0: none) */
    int64_t newest_us;   /* out: the newest Kafka timestamp among the events applied (0: none) */
    long from_changelog, from_log; /* out: events applied from each */
} sq_restore_part;

/*
 * Restores parts[0..n) (partition set by the caller). changelog_topic NULL: replay tickets.v1 only.
 * tail false: stop after the changelog (next = the position): a caller that consumes tickets.v1 itself
 * from there. apply is called in partition order of each partition. Returns the events applied, or a
 * negative sq_rc with err set (SQ_RETRY when Kafka did not answer).
 */
long sq_statelog_restore(const sq_common_config *cfg, const char *changelog_topic, const char *tickets_topic,
                         sq_restore_part *parts, int n, bool tail, sq_restore_apply_fn apply, void *ctx, char *err,
                         size_t errlen);

/* Partitions of a topic (metadata, 10 s), or a negative sq_rc. */
int sq_topic_partition_count(const sq_common_config *cfg, const char *topic);

#endif
