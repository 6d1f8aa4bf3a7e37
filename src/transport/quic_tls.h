/*
 * The TLS 1.3 side of the broker's QUIC listeners (GnuTLS through ngtcp2's crypto helper):
 * the certificate loaded once per endpoint, and one server session per connection that
 * accepts only ALPN "mqtt", so a client that does not say it speaks MQTT is refused during
 * the handshake (TLS alert no_application_protocol) instead of sending us bytes we misread.
 * Sessions issue tickets and accept 0-RTT under the anti-replay of quic_early.h.
 */
#ifndef MQTTD_QUIC_TLS_H
#define MQTTD_QUIC_TLS_H

#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <stddef.h>

#define QUIC_ALPN "mqtt"

struct quic_tls_server {
    gnutls_certificate_credentials_t cred;
};

/* Loads the PEM certificate chain and key (paths borrowed). Returns 0, or -1 with a message in
 * err naming the file. */
int quic_tls_server_init(struct quic_tls_server *s, const char *certfile, const char *keyfile,
                         char *err, size_t errlen);
void quic_tls_server_free(struct quic_tls_server *s);

/* A server session for one connection; `ref` (borrowed, must outlive the session) is how
 * ngtcp2's crypto callbacks find the connection. Returns 0 or -1. The caller owns *out
 * (gnutls_deinit). */
int quic_tls_server_session(const struct quic_tls_server *s, ngtcp2_crypto_conn_ref *ref,
                            gnutls_session_t *out);

/* Sends the client a session ticket (for resumption and 0-RTT next time); call once the
 * handshake is complete. Returns 0 or -1. */
int quic_tls_send_ticket(gnutls_session_t session);

#endif
