/*
 * GnuTLS client for mqttc (see net_tls.h). GnuTLS reads and writes the non-blocking socket
 * itself; its EAGAIN is turned into errno EAGAIN so the caller's poll() loop drives it.
 */
#include "net_tls.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct net_tls_creds {
    gnutls_certificate_credentials_t cred;
};

struct net_tls {
    gnutls_session_t session;
    struct net_tls_creds *own_creds; /* net_tls_start's; NULL when borrowed */
    size_t retry_len; /* bytes of a record GnuTLS could not finish sending (EAGAIN) */
    int last_error;
};

static long long monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void free_tls(struct net_tls *t)
{
    if (t->session)
        gnutls_deinit(t->session);
    net_tls_creds_free(t->own_creds);
    free(t);
}

int net_tls_creds_new(const struct net_tls_options *o, struct net_tls_creds **out, char *err,
                      size_t errlen)
{
    struct net_tls_creds *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "Out of memory");
        return -1;
    }
    int rc = gnutls_certificate_allocate_credentials(&c->cred);
    if (rc >= 0)
        rc = o->cafile
                 ? gnutls_certificate_set_x509_trust_file(c->cred, o->cafile, GNUTLS_X509_FMT_PEM)
                 : gnutls_certificate_set_x509_system_trust(c->cred);
    if (rc < 0) {
        snprintf(err, errlen, "Unable to load CA certificates%s%s: %s", o->cafile ? " from " : "",
                 o->cafile ? o->cafile : "", gnutls_strerror(rc));
        net_tls_creds_free(c);
        return -1;
    }
    if (o->certfile) {
        const char *key = o->keyfile ? o->keyfile : o->certfile;
        rc = gnutls_certificate_set_x509_key_file(c->cred, o->certfile, key, GNUTLS_X509_FMT_PEM);
        if (rc < 0) {
            snprintf(err, errlen, "Unable to load client certificate %s / key %s: %s", o->certfile,
                     key, gnutls_strerror(rc));
            net_tls_creds_free(c);
            return -1;
        }
    }
    *out = c;
    return 0;
}

void net_tls_creds_free(struct net_tls_creds *c)
{
    if (!c)
        return;
    if (c->cred)
        gnutls_certificate_free_credentials(c->cred);
    free(c);
}

int net_tls_begin(int fd, const char *host, const struct net_tls_creds *creds,
                  const struct net_tls_options *o, struct net_tls **out, char *err, size_t errlen)
{
    struct net_tls *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "Out of memory");
        return -1;
    }
    int rc = gnutls_init(&t->session, GNUTLS_CLIENT | GNUTLS_NONBLOCK);
    if (rc >= 0)
        rc = gnutls_set_default_priority(t->session);
    if (rc >= 0)
        rc = gnutls_credentials_set(t->session, GNUTLS_CRD_CERTIFICATE, creds->cred);
    if (rc < 0) {
        snprintf(err, errlen, "TLS set-up failed: %s", gnutls_strerror(rc));
        free_tls(t);
        return -1;
    }
    /* Server name indication is for names only, never for addresses (RFC 6066 3). */
    if (strspn(host, "0123456789.") != strlen(host) && !strchr(host, ':'))
        gnutls_server_name_set(t->session, GNUTLS_NAME_DNS, host, strlen(host));
    gnutls_session_set_verify_cert(t->session, o->insecure ? NULL : host, 0);
    gnutls_transport_set_int(t->session, fd);
    *out = t;
    return 0;
}

int net_tls_handshake(struct net_tls *t, char *err, size_t errlen)
{
    int rc = gnutls_handshake(t->session);
    if (rc == 0)
        return 0;
    if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED || !gnutls_error_is_fatal(rc))
        return gnutls_record_get_direction(t->session) ? 2 : 1;
    gnutls_alert_send_appropriate(t->session, rc); /* so the server can log why */
    if (rc == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
        gnutls_datum_t text = {NULL, 0};
        unsigned status = gnutls_session_get_verify_cert_status(t->session);
        gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0);
        snprintf(err, errlen, "TLS: the server's certificate is not trusted: %s",
                 text.data ? (const char *)text.data : "unknown reason");
        gnutls_free(text.data);
    } else {
        snprintf(err, errlen, "TLS handshake failed: %s", gnutls_strerror(rc));
    }
    return -1;
}

static int handshake(struct net_tls *t, int fd, int timeout_ms, char *err, size_t errlen)
{
    long long deadline = monotonic_ms() + timeout_ms;
    for (;;) {
        int rc = net_tls_handshake(t, err, errlen);
        if (rc <= 0)
            return rc;
        long long left = deadline - monotonic_ms();
        if (left <= 0) {
            snprintf(err, errlen, "TLS handshake timed out");
            return -1;
        }
        struct pollfd p = {.fd = fd, .events = rc == 2 ? POLLOUT : POLLIN};
        if (poll(&p, 1, (int)left) < 0 && errno != EINTR) {
            snprintf(err, errlen, "poll: %s", strerror(errno));
            return -1;
        }
    }
}

int net_tls_start(int fd, const char *host, const struct net_tls_options *o, int timeout_ms,
                  struct net_tls **out, char *err, size_t errlen)
{
    struct net_tls_creds *creds = NULL;
    if (net_tls_creds_new(o, &creds, err, errlen) < 0)
        return -1;
    struct net_tls *t = NULL;
    if (net_tls_begin(fd, host, creds, o, &t, err, errlen) < 0) {
        net_tls_creds_free(creds);
        return -1;
    }
    t->own_creds = creds;
    if (handshake(t, fd, timeout_ms, err, errlen) < 0) {
        free_tls(t);
        return -1;
    }
    *out = t;
    return 0;
}

int net_tls_get_session(struct net_tls *t, void **data, size_t *len)
{
    gnutls_datum_t d = {NULL, 0};
    if (gnutls_session_get_data2(t->session, &d) < 0)
        return -1;
    *data = d.data;
    *len = d.size;
    return 0;
}

int net_tls_set_session(struct net_tls *t, const void *data, size_t len)
{
    return gnutls_session_set_data(t->session, data, len) < 0 ? -1 : 0;
}

bool net_tls_resumed(struct net_tls *t)
{
    return gnutls_session_is_resumed(t->session) != 0;
}

size_t net_tls_pending(struct net_tls *t)
{
    return gnutls_record_check_pending(t->session);
}

/* Maps a GnuTLS result to read(2)/write(2) conventions. */
static ssize_t as_errno(struct net_tls *t, ssize_t rc)
{
    if (rc >= 0)
        return rc;
    if (rc == GNUTLS_E_AGAIN)
        errno = EAGAIN;
    else if (rc == GNUTLS_E_INTERRUPTED || !gnutls_error_is_fatal((int)rc))
        errno = EINTR; /* a warning alert or a new session ticket: the caller tries again */
    else if (rc == GNUTLS_E_PREMATURE_TERMINATION)
        return 0;
    else {
        t->last_error = (int)rc;
        errno = EPROTO;
    }
    return -1;
}

ssize_t net_tls_read(struct net_tls *t, void *buf, size_t len)
{
    return as_errno(t, gnutls_record_recv(t->session, buf, len));
}

ssize_t net_tls_write(struct net_tls *t, const void *buf, size_t len)
{
    ssize_t rc;
    if (t->retry_len) {
        rc = gnutls_record_send(t->session, NULL, 0);
        if (rc >= 0)
            t->retry_len = 0;
    } else {
        size_t max = gnutls_record_get_max_size(t->session);
        if (len > max)
            len = max;
        rc = gnutls_record_send(t->session, buf, len);
        if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED)
            t->retry_len = len;
    }
    return as_errno(t, rc);
}

const char *net_tls_error(const struct net_tls *t)
{
    return gnutls_strerror(t->last_error);
}

void net_tls_close(struct net_tls *t)
{
    if (!t)
        return;
    gnutls_bye(t->session, GNUTLS_SHUT_WR);
    free_tls(t);
}
