/*
 * kafka.h — the producer and the at-least-once consumer loop every daemon uses.
 *
 * Producer: idempotent (enable.idempotence=true, hence acks=all), with
 * delivery reports. sq_producer_send() never blocks for long; completion is
 * reported to an optional per-message callback and counted, so a caller can
 * sq_producer_wait() until everything it sent is acknowledged.
 *
 * Consumer loop: rd_kafka_consumer_poll (never the batch APIs, unsafe during
 * rebalances in librdkafka 2.0.2), enable.auto.offset.store=false with
 * auto-commit on, cooperative-sticky assignment. Messages are handled one by
 * one and grouped in a batch; a batch is made durable (the handler's flush,
 * and every message produced while it was handled acknowledged) before the
 * offsets of its messages are stored (offset + 1). So an offset is committed
 * only after the effects of its message are durable.
 *
 * Pipelined: while one batch is being made durable the loop handles the next
 * messages into a new batch, so a stage does not hold its input while Kafka
 * (or the handler's store) acknowledges the previous batch. At most one batch
 * is in flight; the next is sealed when it is full or the input is idle and
 * the one in flight is done. If either fails, both are discarded and handled
 * again from their first offsets. On a revocation or a stop both are made
 * durable and committed synchronously first.
 *
 * A handler returns:
 *   SQ_OK       handled; effects pending until the next flush;
 *   SQ_INVALID  bad input: the loop sends the original bytes to the dead-letter
 *               topic with the reason and detail the handler wrote, and goes on;
 *   SQ_RETRY    a dependency is down: the loop discards the batch, seeks back
 *               to its first message and handles it again after a capped
 *               backoff (100 ms doubling to 5 s). Handlers must be idempotent.
 *
 * A handler whose memory follows what it produced (a model of tickets.v1 that
 * it updates as it emits, like triage, workflow and sla) sets rebuild_on_loss:
 * when messages it produced were lost (Kafka refused them or the message
 * timeout passed; those of a batch, or those a tick sent while the loop was
 * idle), that memory holds steps the log never got, and handling the batch
 * again would take them as done. The loop then returns
 * SQ_RESTART instead, for the caller to build the memory again from the log
 * (sq_ticketmodel_run in ticketlog.h does).
 *
 * All functions are for the thread that runs the loop unless stated.
 */
#ifndef SQ_KAFKA_H
#define SQ_KAFKA_H

#include "config.h"
#include "sq.h"

#include <librdkafka/rdkafka.h>
#include <signal.h>

typedef struct sq_producer sq_producer;
typedef struct sq_consumer sq_consumer;

/* Per-message completion. err is an rd_kafka_resp_err_t (0 = acknowledged by all replicas).
 * Runs on whichever thread serves the producer (the waiter, or the poller thread). */
typedef void (*sq_delivery_fn)(void *opaque, int err, int32_t partition, int64_t offset);

/* extra: NULL or a NULL-terminated list of librdkafka "key", "value" pairs applied last. */
sq_producer *sq_producer_new(const sq_common_config *c, const char *const *extra, char *err, size_t errlen);
/* Serve delivery reports from a background thread (for multi-threaded callers like the gateway). */
int sq_producer_start_poller(sq_producer *p);
/*
 * Queues one message. hdrs (may be NULL) is always consumed. key may be NULL.
 * Waits (serving delivery reports) while the local queue is full, up to the
 * message timeout. Returns SQ_OK, or SQ_RETRY when it could not be queued.
 */
int sq_producer_send(sq_producer *p, const char *topic, const void *key, size_t keylen,
                     const void *val, size_t vallen, rd_kafka_headers_t *hdrs,
                     sq_delivery_fn fn, void *opaque);
/* The same to one partition (RD_KAFKA_PARTITION_UA: by the key) with the message's timestamp (0: now): a
 * service that decides in event time stamps what it emits with the time the event happened, so that a
 * reader ordering by timestamp (the ordered mode below) puts it where it belongs. A NULL val is a tombstone. */
int sq_producer_send_to(sq_producer *p, const char *topic, int32_t partition, int64_t timestamp_ms, const void *key,
                        size_t keylen, const void *val, size_t vallen, rd_kafka_headers_t *hdrs, sq_delivery_fn fn,
                        void *opaque);
/* Sends one message and waits for its delivery report (from another thread, the poller must run).
 * SQ_OK once Kafka acknowledged it, SQ_RETRY if it could not be queued or delivered. */
int sq_producer_send_sync(sq_producer *p, const char *topic, const void *key, size_t keylen,
                          const void *val, size_t vallen, rd_kafka_headers_t *hdrs);
/* Waits until every message sent so far is acknowledged or failed. SQ_OK if none failed since the
 * previous wait, SQ_RETRY if some failed or the timeout passed. */
int sq_producer_wait(sq_producer *p, int timeout_ms);
/*
 * Epochs, for a loop that goes on sending while it waits for earlier messages: sq_producer_seal()
 * closes the epoch that messages sent so far joined (returning it) and opens the next.
 * sq_producer_epoch_wait() serves delivery reports until every message of that epoch is acknowledged
 * (SQ_OK) or one failed (SQ_RETRY); when timeout_ms passes first: SQ_PENDING if it was 0, else SQ_RETRY.
 * Keep at most three sealed epochs unresolved. After a failure, once everything in flight has
 * completed (sq_producer_wait), sq_producer_epochs_reset() forgets the failures.
 */
unsigned sq_producer_seal(sq_producer *p);
int sq_producer_epoch_wait(sq_producer *p, unsigned epoch, int timeout_ms);
void sq_producer_epochs_reset(sq_producer *p);
/* Serves delivery reports without waiting. */
void sq_producer_poll(sq_producer *p);
long sq_producer_in_flight(sq_producer *p);
/* True when a message failed since the last sq_producer_wait (which forgets it). */
bool sq_producer_lost(sq_producer *p);
rd_kafka_t *sq_producer_handle(sq_producer *p);
/* Flushes (up to 10 s), stops the poller and frees. Accepts NULL. */
void sq_producer_free(sq_producer *p);
/* True when librdkafka reported a fatal error: the process should exit. Thread-safe. */
bool sq_producer_fatal(const sq_producer *p);

typedef struct sq_handler {
    /* Required. reason: a short code (decode_error, missing_field, ...); detail: free text. */
    int (*handle)(void *app, const rd_kafka_message_t *m, char *reason, size_t reasonlen,
                  char *detail, size_t detaillen);
    /* Optional: make the batch's effects durable (e.g. commit a database transaction).
     * SQ_OK or SQ_RETRY. Messages produced through the loop's producer need no flush here. */
    int (*flush)(void *app);
    /* Optional, instead of flush: start making the batch's effects durable in the background and
     * take the next messages into a new batch at once (SQ_OK or SQ_RETRY). flush_done then says
     * whether the started flush finished: SQ_OK durable, SQ_RETRY failed, SQ_PENDING not yet after
     * waiting up to wait_ms (0: do not wait); asked again after it answered, it answers the same. */
    int (*flush_start)(void *app);
    int (*flush_done)(void *app, int wait_ms);
    /* Optional: drop the pending effects of every batch not yet durable (they will be handled again).
     * The loop gives a started flush 30 s to end first; one still running must be waited for here. */
    void (*discard)(void *app);
    /* Optional: called about every 100 ms and after every batch, for timers. */
    void (*tick)(void *app);
    /* Optional: partitions gained (called before they are assigned: it may set an element's offset to
     * start there instead of the committed offset) / about to be given up (after the batch was made
     * durable and committed; in the eager protocol every partition is given up at each rebalance). */
    void (*assigned)(void *app, const rd_kafka_topic_partition_list_t *parts);
    void (*revoked)(void *app, const rd_kafka_topic_partition_list_t *parts);
    /* Optional: a partition was read to its end (needs enable.partition.eof=true in extra). */
    void (*eof)(void *app, const rd_kafka_message_t *m);
    /* The handler's memory follows what it produced: lost output ends the run with SQ_RESTART. */
    bool rebuild_on_loss;
} sq_handler;

/*
 * topics: NULL-terminated list of full names (see sq_topic_name). producer: used for dead letters (and awaited at every flush);
 * the caller keeps ownership. extra: librdkafka overrides as in sq_producer_new.
 */
sq_consumer *sq_consumer_new(const sq_common_config *c, const char *const *topics, sq_producer *producer,
                             const char *const *extra, char *err, size_t errlen);
/* Runs until *running becomes 0 or a fatal error. Returns SQ_OK on a clean stop, SQ_RESTART when output
 * was lost and the handler set rebuild_on_loss (close the consumer, rebuild, run a new one: what was not
 * durable is handled again from the committed offsets). */
int sq_consumer_run(sq_consumer *c, const sq_handler *h, void *app, volatile sig_atomic_t *running);
/* Commits what is durable, leaves the group and frees. Accepts NULL. */
void sq_consumer_close(sq_consumer *c);
rd_kafka_t *sq_consumer_handle(sq_consumer *c);
/*
 * Ordered mode, before the first run: per partition number, messages of the subscribed topics are
 * handled in the order of their Kafka timestamps (a topic with nothing read yet is waited for up to
 * idle_ms, or until it is read to its end: needs enable.partition.eof=true). For handlers that own
 * partition p of several co-partitioned topics and must decide the same however the fetches interleave.
 */
int sq_consumer_set_ordered(sq_consumer *c, int idle_ms);
/* Ends the run as soon as possible with SQ_RESTART (from a hook: the handler's memory cannot be trusted). */
void sq_consumer_request_restart(sq_consumer *c);

/* Dead-letters one message through p (see deadletter.h); counted in the metrics. */
int sq_consumer_deadletter(sq_consumer *c, const rd_kafka_message_t *m, const char *reason, const char *detail);

/* The time the bus accepted a message (its Kafka timestamp) in microseconds; now if it has none. */
int64_t sq_message_time_us(const rd_kafka_message_t *m);

/* Kafka health check for the admin endpoint: a metadata request with a 2 s timeout. Thread-safe. */
int sq_kafka_health(void *rk_handle, char *msg, size_t msglen);

#endif
