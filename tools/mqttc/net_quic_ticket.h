/*
 * The 0-RTT memory of mqttc's QUIC client (--quic-ticket FILE): the last session ticket
 * (GnuTLS session data) and the server's transport parameters (as ngtcp2 encodes them), the
 * two things a later connection needs to send CONNECT in 0-RTT packets. The file is replaced
 * atomically (a temporary file renamed over it), so connections running side by side (mqttc
 * bench) never read a half-written one.
 *
 * Format: "MQ0R", then the session data and the parameters, each as a 4-byte big-endian
 * length and the bytes.
 */
#ifndef MQTTC_NET_QUIC_TICKET_H
#define MQTTC_NET_QUIC_TICKET_H

#include <stddef.h>
#include <stdint.h>

struct net_quic_ticket {
    uint8_t *session; /* owned */
    size_t session_len;
    uint8_t *params; /* owned */
    size_t params_len;
};

/* Reads `path`. Returns 0 with *out filled (free with net_quic_ticket_free), or -1 when the
 * file is missing or malformed (then *out holds nothing). */
int net_quic_ticket_load(const char *path, struct net_quic_ticket *out);
/* Writes both parts to `path` (borrowed bytes). Returns 0 or -1. */
int net_quic_ticket_save(const char *path, const uint8_t *session, size_t session_len,
                         const uint8_t *params, size_t params_len);
void net_quic_ticket_free(struct net_quic_ticket *t);

#endif
