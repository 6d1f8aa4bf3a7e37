/*
 * One connection's MQTT 5 enhanced authentication ([MQTT-4.12]): the exchange a CONNECT with an
 * Authentication Method starts (AUTH 0x18 back and forth until the method succeeds or fails,
 * the CONNECT held meanwhile), and re-authentication (AUTH 0x19 from a connected client,
 * [MQTT-4.12.1]). The method handlers are those registered in the broker's struct auth.
 *
 * Threads: every function runs on the connection's owner thread.
 */
#ifndef MQTTD_AUTH_ENHANCED_AUTH_H
#define MQTTD_AUTH_ENHANCED_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/codec.h"

struct conn;
struct auth_method;

/* Per-connection state, allocated only for clients that use enhanced authentication. */
struct conn_auth {
    const struct auth_method *method;
    void *exchange;        /* the handler's state while an exchange runs */
    bool exchange_open;    /* the handler's end is still to be called */
    bool authenticated;    /* the CONNECT's exchange succeeded */
    uint8_t *held_connect; /* the CONNECT (whole packet) waiting for its exchange to end */
    size_t held_len;
    char *username;        /* what the method proved, or NULL */
    uint8_t *success_data; /* Authentication Data for the CONNACK, or NULL */
    size_t success_len;
};

/* handle_connect's outcomes of enhanced_auth_begin (beside a negative reason code). */
#define ENHANCED_AUTH_DONE 0
#define ENHANCED_AUTH_WAIT 1

/*
 * A CONNECT names a registered method (p->props has it). `raw` is the whole CONNECT packet,
 * copied when the exchange needs more round trips. Returns ENHANCED_AUTH_DONE when the method
 * succeeded at once (c->auth->authenticated), ENHANCED_AUTH_WAIT when AUTH 0x18 was sent, or a
 * negative reason code to refuse the CONNECT with.
 */
int enhanced_auth_begin(struct conn *c, const struct mq_connect *p, mq_bytes raw);

/*
 * An AUTH packet from the client: during the CONNECT's exchange (the connection not yet
 * connected) or a re-authentication. Returns 0, or a negative reason code: the caller then
 * disconnects (a CONNECT refused here has had its CONNACK already).
 */
int enhanced_auth_packet(struct conn *c, const struct mq_disconnect *auth, uint64_t now_ms);

/* Whether the connection is between CONNECT and the end of its exchange. */
bool enhanced_auth_pending(const struct conn *c);

/* Ends any open exchange (the handler's end is called) and frees c->auth. Idempotent. */
void enhanced_auth_release(struct conn *c);

#endif
