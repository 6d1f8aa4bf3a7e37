/*
 * One client connection's protocol engine, sans-I/O: bytes from the transport go in through
 * conn_feed, packets to send come out of conn_take_output, and the transport is told through
 * its callbacks when output is waiting or when the connection must close. Timers come in as
 * conn_tick. The same engine serves every transport (TCP, TLS, WebSocket, a QUIC stream).
 *
 * Threads: conn_feed, conn_tick and conn_transport_closed run on the owning worker only. Output
 * can also be appended from other workers (message delivery), so the output buffer has a lock
 * of its own; the engine holds the session lock, then the output lock, never the reverse.
 *
 * No buffer is held at rest: the input buffer exists only while a packet is partially read,
 * the output buffer only while bytes wait to be written.
 */
#ifndef MQTTD_CONN_H
#define MQTTD_CONN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/codec.h"
#include "session/limits.h"
#include "session/lock.h"
#include "mqttd.h"

struct broker;
struct session;
struct message;
struct delivery;
struct conn;
struct mq_listener_config;
struct conn_auth;

struct conn_transport {
    /* Output became pending (any thread): arrange for conn_take_output soon on the owner. */
    void (*schedule_flush)(struct conn *c);
    /* The engine wants the connection closed once pending output is written (owner thread). */
    void (*close)(struct conn *c);
    /* Another worker asks the owner to run conn_kick_now (session taken over). */
    void (*post_kick)(struct conn *c);
    /* Writes pending output now (owner thread, called by the worker once per iteration). */
    void (*flush)(struct conn *c);
    /* Formats the peer's address for logs and handlers ("ADDRESS:PORT"); may be NULL. Asked
     * for when needed rather than stored: an idle connection keeps no text. */
    void (*peer_name)(const struct conn *c, char *buf, size_t len);
    /* Stops (paused) or restarts reading the socket, for a rate limit (owner thread); may be
     * NULL when the transport cannot, and a client over its rate is then disconnected. */
    void (*pause_reading)(struct conn *c, bool paused);
};

enum conn_state {
    CONN_AWAIT_CONNECT,
    CONN_CONNECTED,
    CONN_CLOSING,
};

/* A server-assigned outgoing topic alias. */
struct alias_out {
    uint32_t hash;
    uint16_t topic_len;
    char *topic;
};

/* Both directions' topic alias tables of one connection. */
struct topic_aliases {
    mq_bytes *in; /* alias -> topic (owned copies), alias_in_max + 1 slots */
    struct alias_out *out;
    uint16_t out_count;
};

struct conn {
    atomic_uint refs;
    mq_lock out_lock; /* held for a copy into `out` only */
    struct broker *broker;
    const struct conn_transport *transport;
    void *transport_ctx;

    enum conn_state state;
    uint8_t version;
    bool request_problem_info; /* v5 Request Problem Information (default 1) */
    atomic_bool kicked;        /* taken over: a DISCONNECT 0x8E is to be sent by the owner */
    uint8_t disconnect_reason; /* why the connection ended, for disconnect handlers; 0 normal */
    struct session *session;   /* one reference, once CONNECT is accepted */
    /* Before CONNECT: the identity the transport authenticated (TLS client certificate), or
     * NULL. From CONNECT on: the client's user name (that identity with
     * use_identity_as_username), or NULL. One field, so an idle connection carries one. */
    char *username;
    struct conn_auth *auth; /* enhanced authentication (auth/enhanced_auth.h), or NULL */
    const struct mq_listener_config *listener; /* NULL in tests: global settings apply */

    uint64_t last_packet_ms;       /* or when the connection opened, until its first packet */
    uint16_t keep_alive_s;         /* effective (after Server Keep Alive) */
    uint32_t max_packet_out;       /* client's Maximum Packet Size */
    uint16_t alias_in_max;         /* ours, as sent in CONNACK */
    uint16_t alias_out_max;        /* min(client's Topic Alias Maximum, ours) */
    uint32_t ip_slot;              /* its address's entry in the broker's ip_table, 0 = none */
    struct topic_aliases *aliases; /* allocated when the first alias is used */

    uint8_t *in;
    uint32_t in_len, in_cap; /* a partial packet: at most max_packet_size */

    uint8_t *out;
    uint32_t out_len, out_cap; /* beyond 4 GiB waiting the client is not reading: dropped */
    bool flush_scheduled;
    bool input_paused;     /* over a rate limit: complete packets wait in `in`, reads stopped */
    bool held;             /* input paused by backpressure (conn_hold_for) */
    _Atomic uint8_t kick_reason; /* DISCONNECT reason of a kick; 0 = session taken over */
    atomic_uint acks_held; /* acknowledgements waiting for a store commit */
    atomic_size_t write_backlog; /* bytes not yet written: output buffer + transport queue */
    struct conn_limits limits;   /* rate buckets (limits.h) */

    struct conn *worker_prev, *worker_next; /* the owner's list of connections */
};

/*
 * Backpressure (session.h): stops reading a publisher whose PUBLISH congested `congested`
 * (takes that reference) and hands it to the worker, which calls conn_hold_check until the
 * hold is over. Without a worker or a transport that can pause, the message is simply routed.
 */
void conn_hold_for(struct conn *c, struct session *congested, uint64_t now_ms);
/* Ends the hold when the session eased, the connection closed, or `stall_ms` passed (the
 * session is then marked stalled); returns true when the hold is over and drops `congested`. */
bool conn_hold_check(struct conn *c, struct session *congested, uint64_t held_since_ms,
                     uint64_t now_ms);

/* Creates a connection engine with one reference. */
struct conn *conn_new(struct broker *b, const struct conn_transport *t, void *transport_ctx,
                      uint64_t now_ms);
/* The peer's address as text, in a buffer of the calling thread valid until its next call. */
const char *conn_peer(const struct conn *c);
struct conn *conn_ref(struct conn *c);
void conn_unref(struct conn *c);

/* Records the identity a transport authenticated (owner thread, before CONNECT). */
void conn_set_identity(struct conn *c, const char *identity);
/* Adds bytes the transport queued for the socket beyond what conn_take_output handed it
 * (protocol layers' framing), so the backlog seen by routing stays right. */
void conn_output_queued(struct conn *c, size_t n);

/* Bytes received from the transport (owner thread). */
void conn_feed(struct conn *c, const uint8_t *data, size_t len, uint64_t now_ms);
/* Periodic check of keep alive and CONNECT timeout (owner thread). */
void conn_tick(struct conn *c, uint64_t now_ms);
/* The transport is gone (peer closed, error, or after close()). Ends or parks the session,
 * publishes the will when due. Called once (owner thread). */
void conn_transport_closed(struct conn *c, uint64_t now_ms);
/* Server shutdown: DISCONNECT 0x8B for v5, then close (owner thread). */
void conn_shutdown(struct conn *c);
/* Runs on the owner after post_kick: DISCONNECT with kick_reason (0x8E when 0) and close. */
void conn_kick_now(struct conn *c);

/* The transport wrote `n` bytes it had taken with conn_take_output (any thread). */
void conn_output_written(struct conn *c, size_t n);
/* Locks and returns c->session when this connection still owns it, else NULL (unlocked). */
struct session *conn_lock_session(struct conn *c);
/* Fills a handler's view of the client. */
void conn_client_info(const struct conn *c, mqttd_client *out);

/* Takes all pending output. Returns NULL when none; *len set; caller frees with free(). */
uint8_t *conn_take_output(struct conn *c, size_t *len);

/* Appends bytes / an encoded packet to the output (any thread). */
void conn_write(struct conn *c, const uint8_t *data, size_t len);
int conn_send_packet(struct conn *c, const struct mq_packet *p);
/* The same, for a packet whose encoded size the caller already measured. */
int conn_send_sized(struct conn *c, const struct mq_packet *p, size_t size);
/* Sends DISCONNECT with `reason` (v5 only; a reason string when problem information is on) and
 * closes. For 3.1/3.1.1 the connection is just closed, as those specs say. */
void conn_disconnect(struct conn *c, uint8_t reason, const char *reason_string);

/* Sends an acknowledgement now or, with the store in durability full, once the store changes
 * the calling thread queued since `changes_before` (store_thread_changes) are committed, or
 * after an earlier held one of this connection. `then(ctx)` (may be NULL) runs right after the
 * packet is written, on whichever thread wrote it. Implemented in durable_ack.c. */
void conn_send_when_durable(struct conn *c, const struct mq_packet *p, uint64_t changes_before,
                            void (*then)(void *ctx), void *ctx);
void conn_send_ack_when_durable(struct conn *c, const struct mq_packet *p, uint64_t changes_before);

/* The connection's alias tables, allocated on first use; NULL when out of memory. */
struct topic_aliases *conn_aliases(struct conn *c);

/* Encodes and sends one delivery as PUBLISH (session lock held). Returns 0 when sent, 1 when it
 * was dropped because it exceeds the client's Maximum Packet Size. */
int conn_send_delivery(struct conn *c, struct delivery *d, bool dup, uint64_t now_ms);
/* The same from the parts, for a QoS 0 message sent at once with no delivery record. */
int conn_send_publish(struct conn *c, const struct message *m, uint8_t qos, bool retain,
                      uint16_t packet_id, const uint32_t *subscription_ids,
                      uint16_t subscription_id_count, bool dup, uint64_t now_ms);

/* Packet handlers, one file each (handle_*.c). Return 0, or a negative reason code that makes
 * the engine disconnect. */
/* `raw` is the whole CONNECT packet, kept while an enhanced authentication exchange runs. */
int handle_connect(struct conn *c, const struct mq_connect *p, mq_bytes raw, uint64_t now_ms);
int handle_publish(struct conn *c, struct mq_publish *p, uint64_t now_ms);
int handle_pubrel(struct conn *c, const struct mq_ack *p, uint64_t now_ms);
int handle_puback(struct conn *c, uint8_t type, const struct mq_ack *p, uint64_t now_ms);
int handle_subscribe(struct conn *c, const struct mq_subscribe *p, uint64_t now_ms);
int handle_unsubscribe(struct conn *c, const struct mq_subscribe *p, uint64_t now_ms);
int handle_disconnect(struct conn *c, const struct mq_disconnect *p, uint64_t now_ms);

#endif
