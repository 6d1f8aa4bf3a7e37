/*
 * MQTT over QUIC for mqttc (quic://HOST:PORT/TOPIC): ngtcp2 + GnuTLS, ALPN "mqtt", one
 * bidirectional stream carrying the MQTT byte stream. A bridge thread runs the QUIC connection
 * and relays the stream to one end of a socket pair; mqttc gets the other end, so client.c
 * keeps its blocking-socket + poll() design unchanged.
 *
 * When the handshake does not complete within the QUIC time limit (UDP blocked, nothing
 * listening), mqttc falls back to MQTT over TCP (the --fallback address, else HOST:1883).
 */
#ifndef MQTTC_NET_QUIC_H
#define MQTTC_NET_QUIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Every string is borrowed for the duration of net_quic_connect. */
struct net_quic_options {
    int handshake_timeout_ms; /* --quic-timeout; 0 means the default, 1000 ms */
    const char *fallback;     /* --fallback mqtt://HOST[:PORT]; NULL: the QUIC host, port 1883 */
    long migrate_after;       /* --quic-migrate-after N: move to a new UDP socket (a new local
                                 address) after N PUBLISH packets sent or received; 0: never */
    uint16_t keep_alive;      /* the MQTT keep alive: QUIC's idle timeout is 1.5 times it */
    const char *cafile;       /* trusted CAs for the server certificate; NULL: the system's */
    bool insecure;            /* do not check the server's name (the chain is still verified) */
    bool debug;               /* say on stderr what the transport does (fallback, migration) */
    const char *ticket_file;  /* 0-RTT: the session ticket and the server's transport parameters
                                 are kept here; when the file holds them, CONNECT goes out in
                                 0-RTT packets. NULL: no 0-RTT */
};

/* Splits a --fallback value, mqtt://HOST[:PORT] or HOST[:PORT] (IPv6 in brackets), into
 * host[hostlen] and port[portlen] (default 1883). Returns 0, or -1 when it is malformed. */
int net_quic_parse_fallback(const char *url, char *host, size_t hostlen, char *port,
                            size_t portlen);

/*
 * Connects over QUIC to host:port, or over TCP when the QUIC handshake fails or times out.
 * Returns a connected non-blocking stream socket carrying the MQTT bytes either way, or -1
 * with a message in err[errlen]. *used_quic (may be NULL) tells which. The caller closes the
 * socket; the QUIC connection then ends (after its last bytes are acknowledged, at most one
 * second later; exit() waits for it).
 */
int net_quic_connect(const char *host, const char *port, const struct net_quic_options *o,
                     int timeout_ms, bool *used_quic, char *err, size_t errlen);

/* How many connections of this process had their 0-RTT data accepted by the server. */
unsigned long net_quic_early_accepted(void);

/*
 * Starts a QUIC connection without waiting for its handshake, for callers that open many at
 * once (mqttc bench): returns the application's socket at once (the caller closes it). Bytes
 * written to it wait until the handshake completes; a failed or timed-out handshake shows as
 * the end of the stream. There is no fallback to TCP. Returns -1 with a message in err[errlen]
 * when the connection cannot even start.
 */
int net_quic_open(const char *host, const char *port, const struct net_quic_options *o, char *err,
                  size_t errlen);

#endif
