/*
 * The broker: state shared by all workers — the subscription index, the retained messages, the
 * session registry, the handlers an embedder registered and the counters — and message routing.
 *
 * Locks (always taken in this order, each held briefly): registry_lock, then a session's lock,
 * then a connection's output lock. tree_lock (reader-writer) and retained_lock are never held
 * while taking a session lock for writing the registry; routing matches under tree_lock (read),
 * takes a reference on every target session, releases tree_lock, then delivers.
 */
#ifndef MQTTD_BROKER_H
#define MQTTD_BROKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "broker/message.h"
#include "codec/codec.h"
#include "mqttd.h"
#include "server/config.h"
#include "session/limits.h"

struct session;
struct conn;
struct topic_tree;
struct retained_store;
struct registry;
struct mq_store;
struct auth;

struct broker_stats {
    atomic_uint_fast64_t connections;
    atomic_uint_fast64_t messages_received;
    atomic_uint_fast64_t messages_sent;
    atomic_uint_fast64_t messages_dropped;
    atomic_uint_fast64_t bytes_received;
    atomic_uint_fast64_t bytes_sent;
    atomic_uint_fast64_t publishers_held;
};

struct handler {
    struct handler *next;
    char *filter; /* NULL for connect / disconnect handlers */
    void *fn;
    void *user;
};

struct broker {
    const struct mq_config *config;

    pthread_rwlock_t tree_lock;
    struct topic_tree *tree;

    pthread_mutex_t retained_lock;
    struct retained_store *retained;
    uint64_t retained_expiry_ms; /* no retained message expires before this; 0 = none expires
                                    (retained_lock) */

    pthread_mutex_t registry_lock;
    struct registry *registry;

    atomic_uint_fast64_t next_session_serial;
    atomic_uint_fast64_t next_client_number; /* for assigned client identifiers */
    struct broker_stats stats;
    uint64_t started_ms, sys_published_ms; /* $SYS topics (sys_topics.c; worker 0's tick) */
    struct mq_limits limits; /* counters and shared state of the limits (session/limits.h) */

    struct handler *on_connect, *on_publish, *on_subscribe, *on_disconnect;

    /* Password file, ACL and enhanced authentication methods (auth/auth.h); never NULL after
     * broker_init. */
    struct auth *auth;

    /* The durable store, or NULL (persistence false). Set before the workers start. */
    struct mq_store *store;
};

int broker_init(struct broker *b, const struct mq_config *config);
void broker_destroy(struct broker *b);

/* Routes `msg` to every matching subscription (and stores / clears it as retained when its
 * retain flag is set). `from` is the publishing session or NULL for the server. Takes no
 * reference of its own beyond what the deliveries keep. Returns the number of receivers. */
size_t broker_publish(struct broker *b, struct message *msg, uint64_t now_ms);

/* Sends the retained messages matching `filter` to `s` (after a SUBSCRIBE). */
void broker_send_retained(struct broker *b, struct session *s, const uint8_t *filter,
                          uint16_t filter_len, uint8_t options, uint32_t subscription_id,
                          uint64_t now_ms);

/* Adds/removes a subscription in the index. subscribe returns 1 when it replaced one. */
int broker_subscribe(struct broker *b, struct session *s, mq_bytes group, mq_bytes filter,
                     uint8_t options, uint32_t subscription_id);
int broker_unsubscribe(struct broker *b, struct session *s, mq_bytes group, mq_bytes filter);

/* Ends a session for good: removes it from the registry and the index, hands its shared-
 * subscription messages to other group members, drops the rest. Session must be offline. */
void broker_session_end(struct broker *b, struct session *s, uint64_t now_ms);

/* Publishes a will message now (its topic was checked against the ACL at CONNECT). Consumes
 * `will`. */
void broker_publish_will(struct broker *b, struct message *will, uint64_t now_ms);

/* Offline sessions: publishes delayed wills and ends expired sessions. Run about once a second. */
void broker_sweep(struct broker *b, uint64_t now_ms);

/* Registry access (registry_lock held by caller). */
struct session *registry_get(struct registry *r, const char *client_id, uint16_t len);
int registry_put(struct registry *r, struct session *s);
void registry_remove(struct registry *r, struct session *s);
size_t registry_count(const struct registry *r);
struct registry *registry_new(void);
void registry_free(struct registry *r, void (*release)(struct session *));
/* Calls fn for every session (registry_lock held; fn must not change the registry). */
void registry_each(struct registry *r, void (*fn)(void *ctx, struct session *s), void *ctx);

/* Counters for the public API. */
void broker_stats(struct broker *b, struct mqttd_stats *out);

/* Sets the retained message of a topic (taking the reference passed) or deletes it (NULL), and
 * notes when it expires so broker_sweep frees it then (retained_lock held, or no workers yet). */
void broker_retain_locked(struct broker *b, const uint8_t *topic, size_t len, struct message *m);

/* Monotonic milliseconds. */
uint64_t broker_now_ms(void);

#endif
