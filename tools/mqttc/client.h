/*
 * The mqttc client connection: one TCP connection to a broker and its MQTT protocol state, over
 * the codec (src/codec/codec.h). Shared by `mqttc pub`, `mqttc sub` and `mqttc bench`; the
 * commands only decide what to send and what to do with what arrives.
 *
 * What it does for its caller: CONNECT/CONNACK with every option and property; the QoS 1
 * (PUBACK) and QoS 2 (PUBREC/PUBREL/PUBCOMP) flows in both directions; the server's Receive
 * Maximum, Maximum QoS, Retain Available and Maximum Packet Size; topic aliases sent by the
 * server (resolved before the message reaches the caller); keep-alive PINGREQ; a clean
 * DISCONNECT. Bytes are buffered both ways, so partial reads and writes are handled.
 *
 * Single-threaded and driven by the caller: call mqttc_client_loop() (or poll the descriptor
 * from mqttc_client_pollfd() alongside your own, then call mqttc_client_loop(c, 0)).
 *
 * Errors: functions return 0 or a negative errno value (-ECONNREFUSED: the server refused the
 * connection; -ECONNRESET: the server disconnected or closed; -EPROTO: protocol violation;
 * -ETIMEDOUT; -EAGAIN: the Receive Maximum window is full; -EMSGSIZE: over the server's Maximum
 * Packet Size; -EINVAL: not allowed by the server or by MQTT). mqttc_client_error() then tells
 * why in words, naming the reason code (e.g. "Connection error: Not authorized (0x87)").
 */
#ifndef MQTTC_CLIENT_H
#define MQTTC_CLIENT_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/codec.h"

struct net_tls_options;  /* net_tls.h */
struct net_quic_options; /* net_quic.h */

/* The will message; `topic` NULL means none. Pointers are borrowed for the connect call. */
struct mqttc_will {
    const char *topic;
    const uint8_t *payload;
    size_t payload_len;
    uint8_t qos;
    bool retain;
    mq_props props;
};

/* Everything CONNECT needs. Strings are borrowed for the duration of mqttc_client_connect. */
struct mqttc_connect_options {
    const char *host;
    const char *port;
    uint8_t version;       /* enum mq_protocol_version */
    const char *client_id; /* NULL or "" lets a v5 server assign one */
    const char *username;  /* NULL: none */
    const char *password;  /* NULL: none */
    uint16_t keep_alive;   /* seconds; 0 disables PINGREQ */
    bool clean_start;
    mq_props props; /* CONNECT properties (v5 only) */
    struct mqttc_will will;
    int timeout_ms;                      /* for the TCP connect and for the CONNACK */
    const struct net_tls_options *tls;   /* NULL: plain TCP; borrowed for the connect call */
    const struct net_quic_options *quic; /* NULL: TCP; else QUIC with fallback to TCP */
    const char *ws_path; /* non-NULL: MQTT over WebSocket on this HTTP path (after TLS if any) */
    bool debug;                          /* trace packets on stdout like mosquitto's -d */
};

/* A message received. Every pointer is valid only during the on_message call. */
struct mqttc_message {
    mq_bytes topic; /* resolved from the topic alias when the server sent one */
    mq_bytes payload;
    uint8_t qos;
    bool retain;
    bool dup;
    uint16_t packet_id;
    const mq_props *props;
};

/*
 * Called from inside mqttc_client_loop(). A callback may call mqttc_client_publish,
 * mqttc_client_subscribe and mqttc_client_unsubscribe, but not mqttc_client_loop.
 */
struct mqttc_callbacks {
    void (*on_message)(void *user, const struct mqttc_message *msg);
    /* One of our QoS 1/2 publishes finished: reason_code < 0x80 means delivered. */
    void (*on_publish_done)(void *user, uint16_t packet_id, uint8_t reason_code);
    /* SUBACK (`unsubscribe` false) or UNSUBACK; codes[] is valid only during the call. */
    void (*on_suback)(void *user, bool unsubscribe, uint16_t packet_id, const uint8_t *codes,
                      uint32_t count);
    void *user;
};

/* What the CONNACK told us (defaults filled in where the server sent nothing). */
struct mqttc_server_info {
    bool session_present;
    uint16_t receive_maximum;
    uint8_t maximum_qos;
    bool retain_available;
    uint32_t maximum_packet_size; /* 0: no limit */
    uint16_t topic_alias_maximum;
    uint16_t keep_alive; /* the one in force: ours, or the server's Server Keep Alive */
};

struct mqttc_client;

/* Allocates a client with the callbacks (copied; any may be NULL). Free with mqttc_client_free.
 * Returns NULL when out of memory. */
struct mqttc_client *mqttc_client_new(const struct mqttc_callbacks *cb);

/* Connects, sends CONNECT and waits for the CONNACK. 0 when accepted. May be called again
 * after mqttc_client_disconnect; each connection starts with nothing in flight (packets left
 * unacknowledged by a previous connection are not resent). */
int mqttc_client_connect(struct mqttc_client *c, const struct mqttc_connect_options *opts);

/*
 * Queues a PUBLISH (and tries to write it at once). For QoS 1 and 2 *packet_id (may be NULL)
 * receives the packet identifier that on_publish_done will report. Returns -EAGAIN when the
 * server's Receive Maximum window is full: run mqttc_client_loop and try again. `props` (may be
 * NULL) is borrowed for the call.
 */
int mqttc_client_publish(struct mqttc_client *c, const char *topic, const void *payload,
                         size_t payload_len, uint8_t qos, bool retain, const mq_props *props,
                         uint16_t *packet_id);

/* Queues a SUBSCRIBE for entries[0..count); the SUBACK arrives through on_suback. */
int mqttc_client_subscribe(struct mqttc_client *c, const mq_topic_request *entries, uint32_t count,
                           const mq_props *props, uint16_t *packet_id);

/* Queues an UNSUBSCRIBE (the options of the entries are unused); answered through on_suback. */
int mqttc_client_unsubscribe(struct mqttc_client *c, const mq_topic_request *entries,
                             uint32_t count, const mq_props *props, uint16_t *packet_id);

/*
 * Waits up to timeout_ms (0: just a look, -1: until something happens) for the socket, reads
 * and handles whatever arrived, writes what is queued and sends PINGREQ when due. Returns 0, or
 * a negative error when the connection is over.
 */
int mqttc_client_loop(struct mqttc_client *c, int timeout_ms);

/* Fills *pfd for the caller's own poll() and returns the milliseconds until the client needs
 * mqttc_client_loop for keep-alive (-1: never). */
int mqttc_client_pollfd(const struct mqttc_client *c, struct pollfd *pfd);

/* Our QoS 1/2 publishes not finished yet. */
unsigned mqttc_client_inflight(const struct mqttc_client *c);
/* QoS 2 messages received whose PUBREL has not arrived yet. */
unsigned mqttc_client_inbound_pending(const struct mqttc_client *c);

/* Sends DISCONNECT with `reason_code` and `props` (may be NULL; v5 only), waits up to
 * timeout_ms for it to be written, and closes the socket. */
int mqttc_client_disconnect(struct mqttc_client *c, uint8_t reason_code, const mq_props *props,
                            int timeout_ms);

/* The client identifier in use (the server's Assigned Client Identifier if it gave one); owned
 * by the client. */
const char *mqttc_client_id(const struct mqttc_client *c);
/* Owned by the client; valid until it is freed. */
const struct mqttc_server_info *mqttc_client_server(const struct mqttc_client *c);
/* Why the last call failed, in words; owned by the client. */
const char *mqttc_client_error(const struct mqttc_client *c);

/* Closes the socket if still open and frees everything. NULL is allowed. */
void mqttc_client_free(struct mqttc_client *c);

/* The spec's words for a reason code, with MQTT 3.1/3.1.1 CONNACK return codes handled. */
const char *mqttc_reason_text(uint8_t version, bool connack, uint8_t code);

#endif
