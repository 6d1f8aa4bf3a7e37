/*
 * MQTT over QUIC on the broker side (ngtcp2 + GnuTLS): one UDP endpoint per QUIC listener,
 * owned by a worker. Single-stream mode: the client opens one bidirectional stream and the MQTT
 * byte stream rides on it, fed to the same connection engine as TCP (conn_feed / output to the
 * stream). Connections are found by connection ID, so a client whose address changes
 * (migration, NAT rebinding) keeps its session. Design notes: docs/TRANSPORTS.md.
 */
#ifndef MQTTD_QUIC_H
#define MQTTD_QUIC_H

#include <stddef.h>

struct listener;
struct quic_endpoint;
struct worker;

/* Serves the listener on `fd`, a bound non-blocking UDP socket (ownership taken, also on
 * failure), on worker w's loop (called before the worker runs). Returns 0 and the endpoint in
 * *out, or -1 with a message in err. */
int quic_endpoint_start(struct worker *w, const struct listener *l, int fd,
                        struct quic_endpoint **out, char *err, size_t errlen);

/* The worker is stopping (owner thread): no new connections, handshakes in progress are
 * dropped; established ones close through their engines as on TCP. */
void quic_endpoint_stop(struct quic_endpoint *ep);

/* Frees the endpoint once its worker's loop has ended. NULL is ignored. */
void quic_endpoint_free(struct quic_endpoint *ep);

#endif
