/*
 * TLS server layer over GnuTLS (see tls.h). Ciphertext from the socket is appended to `in` and
 * GnuTLS pulls from there (EAGAIN when empty); what GnuTLS pushes goes to io->down at once,
 * which only queues bytes for the socket and never re-enters this layer. Plaintext for the
 * engine is handed to io->up only after gnutls_record_recv has returned, because the engine
 * may close the connection from inside up() and the link then calls back into this layer.
 */
#include "transport/tls.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Certificate, key and trusted CAs, shared by every session that started with them. */
struct tls_creds {
    gnutls_certificate_credentials_t cred;
    atomic_uint refs;
};

struct tls_listener {
    const struct mq_listener_config *config;
    gnutls_priority_t priority;
    gnutls_datum_t ticket_key;
    pthread_mutex_t lock; /* guards `creds`, swapped by reload while workers read it */
    struct tls_creds *creds;
};

struct tls_conn {
    gnutls_session_t session;
    struct tls_creds *creds;
    const struct tls_listener *listener;
    const struct layer_io *io;
    /* Ciphertext for GnuTLS's pull: first what an earlier read left over (owned, usually
     * none), then the bytes of the current from_below call (borrowed for that call). */
    uint8_t *kept;
    size_t kept_off, kept_len;
    const uint8_t *fresh;
    size_t fresh_len;
    uint8_t *pending; /* plaintext from above that waits for the handshake */
    size_t pending_len;
    bool handshake_done;
    bool done; /* failed or closing: nothing more goes in or out */
};

static void creds_unref(struct tls_creds *c)
{
    if (c && atomic_fetch_sub(&c->refs, 1) == 1) {
        gnutls_certificate_free_credentials(c->cred);
        free(c);
    }
}

static int load_creds(const struct mq_listener_config *cfg, struct tls_creds **out, char *err,
                      size_t errlen)
{
    struct tls_creds *c = calloc(1, sizeof *c);
    if (!c || gnutls_certificate_allocate_credentials(&c->cred) < 0) {
        free(c);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    atomic_init(&c->refs, 1);
    const char *keyfile = cfg->keyfile ? cfg->keyfile : cfg->certfile;
    int rc =
        gnutls_certificate_set_x509_key_file(c->cred, cfg->certfile, keyfile, GNUTLS_X509_FMT_PEM);
    if (rc < 0) {
        snprintf(err, errlen, "certfile %s / keyfile %s: %s", cfg->certfile, keyfile,
                 gnutls_strerror(rc));
        goto fail;
    }
    if (cfg->cafile) {
        rc = gnutls_certificate_set_x509_trust_file(c->cred, cfg->cafile, GNUTLS_X509_FMT_PEM);
        if (rc <= 0) {
            snprintf(err, errlen, "cafile %s: %s", cfg->cafile,
                     rc < 0 ? gnutls_strerror(rc) : "no certificate in the file");
            goto fail;
        }
    }
    if (cfg->capath) {
        rc = gnutls_certificate_set_x509_trust_dir(c->cred, cfg->capath, GNUTLS_X509_FMT_PEM);
        if (rc < 0) {
            snprintf(err, errlen, "capath %s: %s", cfg->capath, gnutls_strerror(rc));
            goto fail;
        }
    }
    gnutls_certificate_set_known_dh_params(c->cred, GNUTLS_SEC_PARAM_MEDIUM);
    *out = c;
    return 0;
fail:
    creds_unref(c);
    return -1;
}

/* tls_version is the lowest version accepted, as in Mosquitto 2 (default TLS 1.2); `ciphers`
 * can narrow further, e.g. "NORMAL:-VERS-TLS1.3" for a TLS 1.2-only listener. */
static int build_priority(const struct mq_listener_config *cfg, gnutls_priority_t *out, char *err,
                          size_t errlen)
{
    const char *versions = "-VERS-TLS1.0:-VERS-TLS1.1";
    if (cfg->tls_version && strcmp(cfg->tls_version, "tlsv1.3") == 0)
        versions = "-VERS-TLS1.0:-VERS-TLS1.1:-VERS-TLS1.2";
    else if (cfg->tls_version && strcmp(cfg->tls_version, "tlsv1.1") == 0)
        versions = "-VERS-TLS1.0";
    char text[1024];
    int n = snprintf(text, sizeof text, "%s:%s", cfg->ciphers ? cfg->ciphers : "NORMAL", versions);
    if (n < 0 || (size_t)n >= sizeof text) {
        snprintf(err, errlen, "ciphers: the priority string is too long");
        return -1;
    }
    const char *where = NULL;
    int rc = gnutls_priority_init(out, text, &where);
    if (rc < 0) {
        snprintf(err, errlen, "ciphers: '%s' is not a valid GnuTLS priority string (at '%.40s')",
                 cfg->ciphers ? cfg->ciphers : text, where ? where : "");
        return -1;
    }
    return 0;
}

int tls_listener_new(const struct mq_listener_config *config, struct tls_listener **out, char *err,
                     size_t errlen)
{
    if (!config->certfile) {
        snprintf(err, errlen, "a TLS listener needs certfile (and keyfile)");
        return -1;
    }
    if ((config->require_certificate || config->use_identity_as_username) && !config->cafile &&
        !config->capath) {
        snprintf(err, errlen,
                 "require_certificate and use_identity_as_username need cafile or "
                 "capath to verify client certificates");
        return -1;
    }
    struct tls_listener *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    l->config = config;
    pthread_mutex_init(&l->lock, NULL);
    if (build_priority(config, &l->priority, err, errlen) != 0)
        goto fail;
    if (gnutls_session_ticket_key_generate(&l->ticket_key) < 0) {
        snprintf(err, errlen, "cannot generate a session ticket key");
        goto fail;
    }
    if (load_creds(config, &l->creds, err, errlen) != 0)
        goto fail;
    *out = l;
    return 0;
fail:
    tls_listener_free(l);
    return -1;
}

int tls_listener_reload(struct tls_listener *l, char *err, size_t errlen)
{
    struct tls_creds *fresh;
    if (load_creds(l->config, &fresh, err, errlen) != 0)
        return -1;
    pthread_mutex_lock(&l->lock);
    struct tls_creds *old = l->creds;
    l->creds = fresh;
    pthread_mutex_unlock(&l->lock);
    creds_unref(old);
    return 0;
}

void tls_listener_free(void *listener)
{
    struct tls_listener *l = listener;
    if (!l)
        return;
    creds_unref(l->creds);
    if (l->priority)
        gnutls_priority_deinit(l->priority);
    if (l->ticket_key.data) {
        gnutls_memset(l->ticket_key.data, 0, l->ticket_key.size);
        gnutls_free(l->ticket_key.data);
    }
    pthread_mutex_destroy(&l->lock);
    free(l);
}

static ssize_t tls_pull(gnutls_transport_ptr_t ptr, void *buf, size_t len)
{
    struct tls_conn *t = ptr;
    if (t->kept_len > t->kept_off) {
        size_t n = t->kept_len - t->kept_off;
        n = len < n ? len : n;
        memcpy(buf, t->kept + t->kept_off, n);
        t->kept_off += n;
        if (t->kept_off == t->kept_len) {
            free(t->kept);
            t->kept = NULL;
            t->kept_off = t->kept_len = 0;
        }
        return (ssize_t)n;
    }
    if (t->fresh_len == 0) {
        gnutls_transport_set_errno(t->session, EAGAIN);
        return -1;
    }
    size_t n = len < t->fresh_len ? len : t->fresh_len;
    memcpy(buf, t->fresh, n);
    t->fresh += n;
    t->fresh_len -= n;
    return (ssize_t)n;
}

static ssize_t tls_push(gnutls_transport_ptr_t ptr, const void *buf, size_t len)
{
    struct tls_conn *t = ptr;
    t->io->down(t->io->link, buf, len);
    return (ssize_t)len;
}

static ssize_t tls_push_vec(gnutls_transport_ptr_t ptr, const giovec_t *iov, int iovcnt)
{
    struct tls_conn *t = ptr;
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++) {
        t->io->down(t->io->link, iov[i].iov_base, iov[i].iov_len);
        total += iov[i].iov_len;
    }
    return (ssize_t)total;
}

static int fail(struct tls_conn *t, const char *what, int rc)
{
    char reason[256];
    snprintf(reason, sizeof reason, "%s: %s", what, gnutls_strerror(rc));
    t->done = true;
    t->io->fail(t->io->link, reason);
    return -1;
}

static int send_plain(struct tls_conn *t, const uint8_t *data, size_t len)
{
    gnutls_record_cork(t->session);
    while (len > 0) {
        ssize_t n = gnutls_record_send(t->session, data, len);
        if (n == GNUTLS_E_INTERRUPTED || n == GNUTLS_E_AGAIN)
            continue;
        if (n < 0)
            return fail(t, "sending", (int)n);
        data += n;
        len -= (size_t)n;
    }
    int rc;
    do {
        rc = gnutls_record_uncork(t->session, GNUTLS_RECORD_WAIT);
    } while (rc == GNUTLS_E_INTERRUPTED || rc == GNUTLS_E_AGAIN);
    return rc < 0 ? fail(t, "sending", rc) : 0;
}

/* The CN of the client certificate, else its first subject alternative name. */
static void report_identity(struct tls_conn *t)
{
    unsigned count = 0;
    const gnutls_datum_t *certs = gnutls_certificate_get_peers(t->session, &count);
    gnutls_x509_crt_t crt;
    if (!certs || count == 0 || gnutls_x509_crt_init(&crt) < 0)
        return;
    char name[256];
    size_t size = sizeof name;
    int rc = gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER);
    if (rc >= 0)
        rc = gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, name, &size);
    if (rc < 0) {
        size = sizeof name;
        rc = gnutls_x509_crt_get_subject_alt_name(crt, 0, name, &size, NULL);
        if (rc != GNUTLS_SAN_DNSNAME && rc != GNUTLS_SAN_RFC822NAME && rc != GNUTLS_SAN_URI)
            rc = -1; /* an IP address or other binary name is no user name */
    }
    /* A name with a NUL inside could pass for a shorter one: no identity then. */
    if (rc >= 0 && size > 0 && size < sizeof name && memchr(name, '\0', size) == NULL) {
        name[size] = '\0';
        t->io->identity(t->io->link, name);
    }
    gnutls_x509_crt_deinit(crt);
}

/* A client certificate, when one was presented (it is asked for only when cafile or capath
 * can verify it), must chain to our CAs and be in date. */
static int check_client_certificate(struct tls_conn *t)
{
    unsigned count = 0;
    if (!gnutls_certificate_get_peers(t->session, &count) || count == 0)
        return t->listener->config->require_certificate
                   ? fail(t, "client certificate", GNUTLS_E_NO_CERTIFICATE_FOUND)
                   : 0;
    unsigned status = 0;
    int rc = gnutls_certificate_verify_peers2(t->session, &status);
    if (rc < 0)
        return fail(t, "client certificate", rc);
    if (status != 0) {
        gnutls_datum_t text = {NULL, 0};
        char reason[256];
        gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0);
        snprintf(reason, sizeof reason, "client certificate refused: %s",
                 text.data ? (const char *)text.data : "not trusted");
        gnutls_free(text.data);
        gnutls_alert_send(t->session, GNUTLS_AL_FATAL,
                          (status & GNUTLS_CERT_EXPIRED) ? GNUTLS_A_CERTIFICATE_EXPIRED
                                                         : GNUTLS_A_BAD_CERTIFICATE);
        t->done = true;
        t->io->fail(t->io->link, reason);
        return -1;
    }
    report_identity(t);
    return 0;
}

static int continue_handshake(struct tls_conn *t)
{
    int rc = gnutls_handshake(t->session);
    if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED ||
        (rc < 0 && !gnutls_error_is_fatal(rc)))
        return 0;
    if (rc < 0)
        return fail(t, "handshake failed", rc);
    t->handshake_done = true;
    if (check_client_certificate(t) != 0)
        return -1;
    if (t->pending_len) {
        uint8_t *p = t->pending;
        size_t n = t->pending_len;
        t->pending = NULL;
        t->pending_len = 0;
        rc = send_plain(t, p, n);
        free(p);
        return rc;
    }
    return 0;
}

static bool input_waiting(const struct tls_conn *t)
{
    return t->kept_len > t->kept_off || t->fresh_len > 0;
}

/* Runs the handshake, then hands every complete record's plaintext up. */
static int process_input(struct tls_conn *t)
{
    if (!t->handshake_done && (continue_handshake(t) != 0 || !t->handshake_done))
        return t->done ? -1 : 0;
    uint8_t buf[16384];
    while (!t->done) {
        ssize_t n = gnutls_record_recv(t->session, buf, sizeof buf);
        if (n > 0) {
            t->io->up(t->io->link, buf, (size_t)n); /* may close us: `done` is then set */
        } else if (n == 0) {
            t->done = true; /* close_notify: the socket's end follows */
        } else if (n == GNUTLS_E_AGAIN) {
            /* Also said after a post-handshake message (key update, ticket) with records
             * still waiting behind it. */
            if (!input_waiting(t))
                break;
        } else if (n == GNUTLS_E_INTERRUPTED || !gnutls_error_is_fatal((int)n)) {
            continue; /* a warning alert */
        } else {
            return fail(t, "receiving", (int)n);
        }
    }
    return 0;
}

/* GnuTLS normally pulls everything it is given (it buffers partial records itself), so bytes
 * are copied and kept only in the rare case it stopped short. */
static int keep_unread(struct tls_conn *t)
{
    if (t->fresh_len == 0 || t->done) {
        t->fresh = NULL;
        t->fresh_len = 0;
        return 0;
    }
    size_t old = t->kept_len - t->kept_off;
    uint8_t *kept = malloc(old + t->fresh_len);
    if (!kept) {
        t->done = true;
        t->io->fail(t->io->link, "out of memory");
        return -1;
    }
    if (old)
        memcpy(kept, t->kept + t->kept_off, old);
    memcpy(kept + old, t->fresh, t->fresh_len);
    free(t->kept);
    t->kept = kept;
    t->kept_off = 0;
    t->kept_len = old + t->fresh_len;
    t->fresh = NULL;
    t->fresh_len = 0;
    return 0;
}

static int tls_from_below(void *state, const uint8_t *data, size_t len)
{
    struct tls_conn *t = state;
    if (t->done)
        return 0;
    t->fresh = data;
    t->fresh_len = len;
    int rc = process_input(t);
    return keep_unread(t) != 0 ? -1 : rc;
}

static int tls_from_above(void *state, const uint8_t *data, size_t len)
{
    struct tls_conn *t = state;
    if (t->done)
        return 0;
    if (t->handshake_done)
        return send_plain(t, data, len);
    uint8_t *p = realloc(t->pending, t->pending_len + len);
    if (!p) {
        t->done = true;
        t->io->fail(t->io->link, "out of memory");
        return -1;
    }
    memcpy(p + t->pending_len, data, len);
    t->pending = p;
    t->pending_len += len;
    return 0;
}

static void tls_closing(void *state)
{
    struct tls_conn *t = state;
    if (t->done)
        return;
    t->done = true;
    if (t->handshake_done)
        gnutls_bye(t->session, GNUTLS_SHUT_WR);
}

static void tls_free(void *state)
{
    struct tls_conn *t = state;
    gnutls_deinit(t->session);
    creds_unref(t->creds);
    free(t->kept);
    free(t->pending);
    free(t);
}

static const struct layer_ops tls_ops = {
    .name = "tls",
    .from_below = tls_from_below,
    .from_above = tls_from_above,
    .closing = tls_closing,
    .free = tls_free,
};

int tls_layer_new(void *listener, const struct layer_io *io, struct layer *out)
{
    struct tls_listener *l = listener;
    struct tls_conn *t = calloc(1, sizeof *t);
    if (!t)
        return -1;
    t->listener = l;
    t->io = io;
    if (gnutls_init(&t->session, GNUTLS_SERVER | GNUTLS_NONBLOCK) < 0) {
        free(t);
        return -1;
    }
    pthread_mutex_lock(&l->lock);
    t->creds = l->creds;
    atomic_fetch_add(&t->creds->refs, 1);
    pthread_mutex_unlock(&l->lock);
    const struct mq_listener_config *cfg = l->config;
    if (gnutls_priority_set(t->session, l->priority) < 0 ||
        gnutls_credentials_set(t->session, GNUTLS_CRD_CERTIFICATE, t->creds->cred) < 0 ||
        gnutls_session_ticket_enable_server(t->session, &l->ticket_key) < 0) {
        tls_free(t);
        return -1;
    }
    if (cfg->require_certificate || cfg->use_identity_as_username)
        gnutls_certificate_server_set_request(
            t->session, cfg->require_certificate ? GNUTLS_CERT_REQUIRE : GNUTLS_CERT_REQUEST);
    gnutls_transport_set_ptr(t->session, t);
    gnutls_transport_set_pull_function(t->session, tls_pull);
    gnutls_transport_set_push_function(t->session, tls_push);
    gnutls_transport_set_vec_push_function(t->session, tls_push_vec);
    out->ops = &tls_ops;
    out->state = t;
    return 0;
}
