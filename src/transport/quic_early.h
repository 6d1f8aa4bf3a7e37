/*
 * 0-RTT on the broker's QUIC listeners: the session ticket key and the anti-replay state that
 * every QUIC endpoint of the process shares.
 *
 * A client that connected before keeps a session ticket and may send its CONNECT in 0-RTT
 * packets, before the handshake completes. Those bytes can be replayed by anyone who captured
 * them, so two things guard them: GnuTLS's anti-replay refuses early data whose ClientHello
 * was seen before within the ticket window (the cache here, one for all workers, because
 * SO_REUSEPORT may hand a replay from another address to another worker), and the QUIC link
 * acts on nothing but a leading CONNECT before the handshake completes (quic.c), so no
 * PUBLISH or SUBSCRIBE is ever executed from replayable bytes.
 *
 * The ticket key lives as long as the process: a restart invalidates every ticket (clients
 * then fall back to a full handshake).
 */
#ifndef MQTTD_QUIC_EARLY_H
#define MQTTD_QUIC_EARLY_H

#include <gnutls/gnutls.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Creates the process's ticket key and anti-replay state on first use (thread-safe). Returns
 * 0, or -1 when GnuTLS could not make them (0-RTT and resumption are then off). */
int quic_early_init(void);
/* Borrowed; valid after quic_early_init succeeded, for the life of the process. */
const gnutls_datum_t *quic_early_ticket_key(void);
gnutls_anti_replay_t quic_early_anti_replay(void);

/*
 * The cache behind the anti-replay: records `key` (len bytes) until `expires`. Returns 0 when
 * the key is new, GNUTLS_E_DB_ENTRY_EXISTS when it is still recorded (a replay), or
 * GNUTLS_E_DB_ERROR when the cache has no room (early data is then refused: the safe side).
 * Entries past `now` count as free. Thread-safe.
 */
int quic_early_cache_add(time_t now, time_t expires, const uint8_t *key, size_t len);

#endif
