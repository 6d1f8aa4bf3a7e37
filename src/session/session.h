/*
 * A client's session: the state that outlives a network connection (MQTT 5.0 section 4.1) —
 * subscriptions, QoS 1/2 messages in flight in both directions, messages queued while offline
 * or while the client's Receive Maximum is used up, the will message and the expiry deadline.
 *
 * Concurrency: a session is reached from its connection's worker (packets from the client) and
 * from any worker that routes a message to it, so every field below `lock` is guarded by it.
 * A session is reference counted: the registry, its connection, and a router holding it between
 * matching and delivery each own one reference.
 */
#ifndef MQTTD_SESSION_H
#define MQTTD_SESSION_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "broker/message.h"
#include "session/lock.h"

struct broker;
struct conn;
struct sub_index;

enum delivery_state {
    DELIVERY_QUEUED = 0,
    DELIVERY_AWAIT_PUBACK,  /* QoS 1 sent */
    DELIVERY_AWAIT_PUBREC,  /* QoS 2 sent */
    DELIVERY_AWAIT_PUBCOMP, /* QoS 2, PUBREL sent */
};

/* One message on its way to one session. */
struct delivery {
    struct delivery *next;
    struct message *msg; /* one reference owned */
    char *share_group;   /* shared subscription group it came through, for redelivery; or NULL */
    uint16_t packet_id;
    uint8_t qos;
    uint8_t state;      /* enum delivery_state */
    bool retain;        /* RETAIN flag to send */
    bool sent;          /* sent at least once: a resend carries DUP */
    uint64_t store_id;  /* its row in the store, 0 when not persisted */
    uint64_t store_seq; /* the store change that wrote it last: sent only once committed */
    uint16_t subscription_id_count;
    uint32_t subscription_ids[];
};

/* A subscription the session holds, remembered to remove it from the index at the end. */
struct session_subscription {
    struct session_subscription *next, *prev; /* the session's list */
    struct session_subscription *hash_next;   /* the session's index bucket (sub_index.c) */
    uint32_t hash;                            /* of (group, filter): sub_index_hash */
    uint32_t subscription_id;
    uint8_t options;
    uint16_t group_len; /* shared subscription group name length, 0 when not shared */
    uint16_t filter_len;
    char text[]; /* group bytes then filter bytes, no terminators */
};

struct delivery_list {
    struct delivery *head, *tail;
    uint32_t count;
};

/* Fields are grouped by size, largest first, so that the struct (one per client, idle ones
 * included) carries no padding; the comments say what belongs together. */
struct session {
    uint64_t serial; /* unique per session for the broker's lifetime (No Local) */
    struct broker *broker;
    struct session *registry_next; /* the registry's hash chain (registry_lock) */
    struct conn *conn;      /* the connection bound to the session, NULL when offline */
    uint64_t expires_at_ms; /* offline sessions: when the session ends; 0 = never */

    struct delivery_list queue;    /* waiting to be sent */
    struct delivery_list inflight; /* sent, not yet fully acknowledged, in send order */
    uint64_t queued_bytes;

    uint16_t *qos2_received; /* packet ids of QoS 2 PUBLISHes awaiting PUBREL */
    struct session_subscription *subscriptions;
    struct sub_index *sub_index; /* built once the session holds many subscriptions, or NULL */

    /* Authorization (auth/session_acl.c): the username of the last CONNECT (owned, or NULL),
     * whether the password file vouched for it (password_user, below: such clients are
     * disconnected when a reload removes their user), and the ACL generation under which every
     * subscription was granted whole (0 = deliveries are checked topic by topic; read without
     * the lock). */
    char *username;
    _Atomic uint64_t acl_granted_generation;

    struct message *will; /* owned; topic/qos/retain inside */
    uint64_t will_at_ms;  /* offline with a delayed will: when to publish it; 0 = not scheduled */

    atomic_uint refs;
    mq_lock lock;
    uint32_t registry_hash;
    uint32_t expiry_interval_s; /* 0xFFFFFFFF = never */
    uint32_t dropped;           /* deliveries dropped for this session: queue bound, size, expiry */
    uint32_t dropped_reported;  /* how many of them the log has told about */
    uint32_t qos2_received_count, qos2_received_cap;
    uint32_t subscription_count;
    uint32_t will_delay_s;

    uint16_t client_id_len;
    uint16_t send_quota; /* client's Receive Maximum for the current connection */
    uint16_t last_packet_id;

    atomic_bool online;      /* conn != NULL, readable without the lock (shared group choice) */
    bool ended;              /* removed from the registry: deliveries to it are dropped */
    bool stored;             /* persistent (non-zero expiry) with a store: its changes go there */
    bool store_kick_pending; /* a send of queued deliveries waits for a store commit */
    uint8_t protocol_version;
    bool inflight_unordered; /* in-flight ids restored from the store: next_packet_id searches */
    /* Backpressure gave up on this subscriber (it did not drain while publishers were held):
     * its queue overflows and drops, as without backpressure, until it drains again. */
    bool backpressure_stalled;
    bool password_user;

    char client_id[]; /* NUL-terminated */
};

/* Creates a session with one reference. Returns NULL when out of memory. */
struct session *session_new(struct broker *broker, const char *client_id, uint16_t len);
static inline struct session *session_ref(struct session *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}
void session_unref(struct session *s);

/* Enqueues or sends `msg` to the session (any thread, session unlocked). `subscription_ids` is
 * copied. QoS 0 messages for an offline session are dropped unless queue_qos0_messages. */
void session_deliver(struct session *s, struct message *msg, uint8_t qos, bool retain,
                     const uint32_t *subscription_ids, uint16_t subscription_id_count,
                     const char *share_group, uint64_t now_ms);

/*
 * Backpressure. A QoS 1/2 delivery that leaves an online subscriber's queue at least half full
 * (max_queued_messages, max_queued_bytes) records that session for the calling thread; the
 * connection whose PUBLISH was being routed takes it and stops reading until the queue has
 * drained to a quarter (session_congestion_eased), so a fast publisher waits for a slower
 * subscriber instead of having its acknowledged messages dropped.
 */
/* Starts recording congestion for this thread's deliveries (before routing a client PUBLISH). */
void session_watch_congestion(void);
/* Stops recording; returns the first session the deliveries since session_watch_congestion
 * congested (a reference the caller owns), or NULL. */
struct session *session_take_congested(void);
/* Whether a held publisher may go on: the session drained to a quarter, went offline or ended. */
bool session_congestion_eased(struct session *s);
/* Gives up holding publishers for `s` until its queue drains: it keeps dropping instead. */
void session_mark_stalled(struct session *s);

/* With s->lock held and s->conn set: resends what is in flight (DUP set, PUBREL for QoS 2
 * messages already PUBREC'd) and sends what the send quota allows from the queue. */
void session_resume_locked(struct session *s, uint64_t now_ms);
/* With s->lock held and s->conn set: sends queued messages while the quota allows. */
void session_send_queued_locked(struct session *s, uint64_t now_ms);

/* A new delivery record of msg (one reference taken; ids and share_group copied), or NULL. */
struct delivery *delivery_new(struct message *msg, uint8_t qos, bool retain, const uint32_t *ids,
                              uint16_t id_count, const char *share_group);
/* Puts a delivery read back from the store in the in-flight window (when it had been sent) or
 * the queue (store restore at start-up; takes ownership of d). */
void session_restore_delivery_locked(struct session *s, struct delivery *d);

/* Looks up the in-flight delivery with `packet_id`, unlinking it when `remove` is set. */
struct delivery *session_inflight_find_locked(struct session *s, uint16_t packet_id, bool remove);
void delivery_free(struct delivery *d);

/* Inbound QoS 2 packet ids awaiting PUBREL. add returns 1 when newly added, 0 when already
 * there, -1 when out of memory. */
int session_qos2_add_locked(struct session *s, uint16_t packet_id);
bool session_qos2_remove_locked(struct session *s, uint16_t packet_id);

/* The subscription the session holds on (group, filter), or NULL. */
struct session_subscription *
session_subscription_find_locked(struct session *s, const uint8_t *group, uint16_t group_len,
                                 const uint8_t *filter, uint16_t filter_len);
/* Remembers / forgets a subscription held by the session. add returns 1 when it replaced one. */
int session_subscription_add_locked(struct session *s, const uint8_t *group, uint16_t group_len,
                                    const uint8_t *filter, uint16_t filter_len, uint8_t options,
                                    uint32_t subscription_id);
bool session_subscription_remove_locked(struct session *s, const uint8_t *group, uint16_t group_len,
                                        const uint8_t *filter, uint16_t filter_len);
/* Takes the session's whole subscription list (its end); the caller frees the entries. */
struct session_subscription *session_take_subscriptions_locked(struct session *s);

/* Takes every queued and in-flight delivery out of the session (for its end). */
struct delivery *session_take_all_locked(struct session *s);

#endif
