/*
 * TLS for the QUIC listeners (see quic_tls.h).
 */
#include "transport/quic_tls.h"

#include <ngtcp2/ngtcp2_crypto_gnutls.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "transport/quic_early.h"

/* TLS 1.3 only (QUIC requires it); the middlebox compatibility mode is meaningless over QUIC. */
static const char priority[] = "NORMAL:-VERS-ALL:+VERS-TLS1.3:%DISABLE_TLS13_COMPAT_MODE";

int quic_tls_server_init(struct quic_tls_server *s, const char *certfile, const char *keyfile,
                         char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    if (!certfile || !keyfile) {
        snprintf(err, errlen, "a quic listener needs certfile and keyfile");
        return -1;
    }
    int rc = gnutls_certificate_allocate_credentials(&s->cred);
    if (rc < 0) {
        snprintf(err, errlen, "quic: %s", gnutls_strerror(rc));
        return -1;
    }
    rc = gnutls_certificate_set_x509_key_file(s->cred, certfile, keyfile, GNUTLS_X509_FMT_PEM);
    if (rc < 0) {
        snprintf(err, errlen, "quic: cannot load certfile '%s' / keyfile '%s': %s", certfile,
                 keyfile, gnutls_strerror(rc));
        gnutls_certificate_free_credentials(s->cred);
        s->cred = NULL;
        return -1;
    }
    return 0;
}

void quic_tls_server_free(struct quic_tls_server *s)
{
    if (s->cred)
        gnutls_certificate_free_credentials(s->cred);
    s->cred = NULL;
}

/* Runs once the ClientHello is parsed: GnuTLS has picked an ALPN by then, or none. */
static int check_alpn(gnutls_session_t session, unsigned int htype, unsigned when,
                      unsigned int incoming, const gnutls_datum_t *msg)
{
    gnutls_datum_t alpn;
    if (gnutls_alpn_get_selected_protocol(session, &alpn) != 0 ||
        alpn.size != sizeof QUIC_ALPN - 1 || memcmp(alpn.data, QUIC_ALPN, alpn.size) != 0)
        return GNUTLS_E_NO_APPLICATION_PROTOCOL;
    return 0;
}

int quic_tls_server_session(const struct quic_tls_server *s, ngtcp2_crypto_conn_ref *ref,
                            gnutls_session_t *out)
{
    gnutls_session_t session;
    /* Tickets are sent by quic_tls_send_ticket once the handshake is complete, at 1-RTT. */
    bool early = quic_early_init() == 0;
    unsigned flags = GNUTLS_SERVER | GNUTLS_NO_END_OF_EARLY_DATA;
    if (early)
        flags |= GNUTLS_ENABLE_EARLY_DATA | GNUTLS_NO_AUTO_SEND_TICKET;
    if (gnutls_init(&session, flags) != 0)
        return -1;
    gnutls_datum_t alpn = {(unsigned char *)QUIC_ALPN, sizeof QUIC_ALPN - 1};
    if (gnutls_priority_set_direct(session, priority, NULL) != 0 ||
        ngtcp2_crypto_gnutls_configure_server_session(session) != 0 ||
        gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, s->cred) != 0 ||
        gnutls_alpn_set_protocols(session, &alpn, 1,
                                  GNUTLS_ALPN_MANDATORY | GNUTLS_ALPN_SERVER_PRECEDENCE) != 0) {
        gnutls_deinit(session);
        return -1;
    }
    gnutls_handshake_set_hook_function(session, GNUTLS_HANDSHAKE_CLIENT_HELLO, GNUTLS_HOOK_POST,
                                       check_alpn);
    if (early) {
        /* QUIC carries 0-RTT in its own packets: TLS's early data limit must be 0xffffffff
         * (RFC 9001 4.6.1); QUIC flow control bounds it. */
        if (gnutls_session_ticket_enable_server(session, quic_early_ticket_key()) != 0) {
            gnutls_deinit(session);
            return -1;
        }
        gnutls_anti_replay_enable(session, quic_early_anti_replay());
        gnutls_record_set_max_early_data_size(session, 0xffffffffu);
    }
    gnutls_session_set_ptr(session, ref);
    *out = session;
    return 0;
}

int quic_tls_send_ticket(gnutls_session_t session)
{
    if (quic_early_init() != 0)
        return 0;
    return gnutls_session_ticket_send(session, 1, 0) == 0 ? 0 : -1;
}
