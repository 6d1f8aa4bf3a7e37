/*
 * The durable store: the only way the broker reaches its SQLite file. Workers describe each
 * change of durable state (retained messages, persistent sessions, their subscriptions, their
 * queued and in-flight deliveries, inbound QoS 2 packet ids) with one call below; the call
 * queues the change and returns at once. One store thread owns the SQLite connection and
 * commits everything queued since its last commit in one transaction (group commit).
 *
 * Durability full: synchronous=FULL, and whatever must not be acknowledged before it is on disk
 * waits with store_after_commit. Durability relaxed: synchronous=NORMAL, a commit every
 * `interval_ms`, nothing waits while the store keeps up; a crash loses at most the last
 * interval. When more than STORE_RELAXED_BACKLOG changes wait (the disk is slower than the
 * load), the store commits without waiting for the interval and acknowledgements wait for the
 * commit as in durability full, so the loss window and the queue's memory stay bounded.
 *
 * Threads: every function is safe from any thread. Changes are applied in the order they were
 * queued, so callers queue a change while holding the lock that orders it (a session's lock,
 * retained_lock). The store's queue lock is a leaf: nothing else is taken while it is held.
 */
#ifndef MQTTD_STORE_H
#define MQTTD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mq_store;
struct message;
struct session;
struct delivery;
struct broker;

enum mq_durability { MQ_DURABILITY_FULL, MQ_DURABILITY_RELAXED };

/* Opens (or creates) the store at `path` (borrowed) and starts its thread. A file that is not
 * a readable, intact mqttd store is an error naming the file, never an empty start.
 * Returns 0, or -1 with a message in err. */
int store_open(struct mq_store **out, const char *path, enum mq_durability durability,
               uint32_t interval_ms, char *err, size_t errlen);
/* Commits what is queued, runs the waiting callbacks, stops the thread and closes the file. */
void store_close(struct mq_store *st);

/* Loads the file into an empty broker (before the workers start): retained messages, sessions
 * (offline, their expiry counting from now), subscriptions into the index, deliveries, inbound
 * QoS 2 ids. Returns 0, or -1 with a message in err. Implemented in store_restore.c. */
int store_restore(struct mq_store *st, struct broker *b, uint64_t now_ms, char *err, size_t errlen);

/* Changes queued and not yet committed beyond which durability relaxed holds acknowledgements. */
#define STORE_RELAXED_BACKLOG 50000

bool store_is_full(const struct mq_store *st);
/* True when acknowledgements must wait for the commit of what they vouch for: durability full,
 * or durability relaxed with more than STORE_RELAXED_BACKLOG changes waiting. */
bool store_acks_wait(const struct mq_store *st);

/* Changes. Every pointer is borrowed; what the store keeps it copies, or takes a reference on
 * (messages). Each returns the change's sequence number (0 when out of memory, the change
 * lost and logged). */
uint64_t store_retained_put(struct mq_store *st, struct message *m, uint64_t now_ms);
uint64_t store_retained_delete(struct mq_store *st, const uint8_t *topic, uint16_t len);
/* The session row: client id, expiry interval, will (session lock held by the caller). */
uint64_t store_session_put(struct mq_store *st, const struct session *s);
/* Deletes the session row and everything it owns (subscriptions, deliveries, QoS 2 ids). */
uint64_t store_session_delete(struct mq_store *st, const char *client_id, uint16_t len);
uint64_t store_subscription_put(struct mq_store *st, const struct session *s, const uint8_t *group,
                                uint16_t group_len, const uint8_t *filter, uint16_t filter_len,
                                uint8_t options, uint32_t subscription_id);
uint64_t store_subscription_delete(struct mq_store *st, const struct session *s,
                                   const uint8_t *group, uint16_t group_len, const uint8_t *filter,
                                   uint16_t filter_len);
/* Inserts or replaces the delivery d->store_id of session s (session lock held). */
uint64_t store_delivery_put(struct mq_store *st, const struct session *s, const struct delivery *d,
                            uint64_t now_ms);
uint64_t store_delivery_delete(struct mq_store *st, uint64_t store_id);
uint64_t store_qos2_add(struct mq_store *st, const struct session *s, uint16_t packet_id);
uint64_t store_qos2_remove(struct mq_store *st, const struct session *s, uint16_t packet_id);

/* Changes the calling thread queues between begin and end are committed in one transaction
 * (all or none after a crash). Groups nest and are short: the store thread commits nothing
 * queued after a group began until it ends. */
void store_group_begin(struct mq_store *st);
void store_group_end(struct mq_store *st);

/* A new delivery key, unique in the file. */
uint64_t store_new_delivery_id(struct mq_store *st);

/* True once the change numbered `seq` is committed. */
bool store_committed(const struct mq_store *st, uint64_t seq);

/* How many changes the calling thread has queued so far: a handler compares it before and
 * after its work to learn whether its acknowledgement must wait for a commit. */
uint64_t store_thread_changes(void);

/* Runs fn(ctx) on the store thread once every change queued before this call is committed
 * (and fsynced in durability full). fn must not block. Returns 0, or -1 when out of memory
 * (fn is then run at once on the calling thread). */
int store_after_commit(struct mq_store *st, void (*fn)(void *ctx), void *ctx);

/* Wall-clock milliseconds (deadlines in the file survive a restart). */
int64_t store_wall_ms(void);

#endif
