/*
 * The transports under `mqttc bench` connections (see bench_link.h): TLS through net_tls.c in
 * non-blocking steps, WebSocket through bench_ws.c on top of it or of the socket, QUIC through
 * net_quic.c's bridge. This file owns the per-connection link and the engine-wide TLS state.
 */
#include "bench_link.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "bench_engine.h"
#include "net_quic.h"
#include "net_tls.h"

enum link_phase { PHASE_TLS, PHASE_WS, PHASE_UP };

struct blink {
    struct net_tls *tls; /* owned; NULL on ws:// */
    struct bws *ws;      /* owned; NULL on mqtts:// */
    enum link_phase phase;
};

static bool uses_tls(const struct bench_opts *o)
{
    return o->transport == BENCH_TLS || o->transport == BENCH_WSS;
}

static bool uses_ws(const struct bench_opts *o)
{
    return o->transport == BENCH_WS || o->transport == BENCH_WSS;
}

static struct net_tls_options tls_options(const struct bench_opts *o)
{
    struct net_tls_options t = {o->cafile, o->certfile, o->keyfile, o->insecure};
    return t;
}

int blink_engine_init(struct bench_engine *e)
{
    if (!uses_tls(e->o))
        return 0;
    char err[256];
    struct net_tls_options t = tls_options(e->o);
    if (net_tls_creds_new(&t, &e->tls_creds, err, sizeof err) < 0) {
        fprintf(stderr, "Error: %s\n", err);
        return -1;
    }
    return 0;
}

void blink_engine_free(struct bench_engine *e)
{
    net_tls_creds_free(e->tls_creds);
    e->tls_creds = NULL;
    gnutls_free(e->tls_session);
    e->tls_session = NULL;
}

int blink_quic_open(struct bench_engine *e)
{
    const struct bench_opts *o = e->o;
    struct net_quic_options q;
    memset(&q, 0, sizeof q);
    q.handshake_timeout_ms = o->quic_timeout_ms;
    q.keep_alive = o->keep_alive;
    q.cafile = o->cafile;
    q.insecure = o->insecure;
    q.ticket_file = o->quic_ticket;
    char err[256];
    int fd = net_quic_open(o->host, o->port, &q, err, sizeof err);
    if (fd < 0 && e->refused == 0)
        fprintf(stderr, "Error: %s\n", err);
    return fd;
}

static int fail(struct bench_engine *e, const char *what)
{
    if (e->refused == 0)
        fprintf(stderr, "Error: %s\n", what);
    return -1;
}

int blink_start(struct bench_engine *e, struct bconn *c)
{
    const struct bench_opts *o = e->o;
    if (!uses_tls(o) && !uses_ws(o))
        return BLINK_DONE;
    struct blink *l = calloc(1, sizeof *l);
    if (!l)
        return fail(e, "out of memory");
    c->link = l;
    l->phase = uses_tls(o) ? PHASE_TLS : PHASE_WS;
    if (uses_ws(o) && !(l->ws = bws_new()))
        return fail(e, "out of memory");
    if (uses_tls(o)) {
        char err[256];
        struct net_tls_options t = tls_options(o);
        if (net_tls_begin(c->fd, o->host, e->tls_creds, &t, &l->tls, err, sizeof err) < 0)
            return fail(e, err);
        if (o->tls_resume && e->tls_session &&
            net_tls_set_session(l->tls, e->tls_session, e->tls_session_len) < 0)
            return fail(e, "cannot resume the TLS session");
    }
    return blink_handshake(e, c);
}

/* The first connection that has a session ticket lends it to every later one. */
static void keep_session(struct bench_engine *e, struct blink *l)
{
    void *data = NULL;
    size_t len = 0;
    if (net_tls_get_session(l->tls, &data, &len) == 0 && len > 0) {
        e->tls_session = data;
        e->tls_session_len = len;
    } else {
        gnutls_free(data);
    }
}

int blink_handshake(struct bench_engine *e, struct bconn *c)
{
    struct blink *l = c->link;
    if (l->phase == PHASE_TLS) {
        char err[256];
        int r = net_tls_handshake(l->tls, err, sizeof err);
        if (r < 0)
            return fail(e, err);
        if (r != 0)
            return r == 2 ? BLINK_WANT_WRITE : BLINK_WANT_READ;
        if (net_tls_resumed(l->tls))
            e->tls_resumed++;
        l->phase = l->ws ? PHASE_WS : PHASE_UP;
    }
    if (l->phase == PHASE_WS) {
        int r = bws_upgrade(e, c, l->ws);
        if (r != BLINK_DONE)
            return r;
        l->phase = PHASE_UP;
    }
    return BLINK_DONE;
}

ssize_t blink_lower_read(struct bconn *c, void *buf, size_t len)
{
    struct blink *l = c->link;
    if (!l->tls)
        return recv(c->fd, buf, len, 0);
    /* Every record the socket holds, so that none waits in GnuTLS unannounced by epoll. */
    size_t got = 0;
    while (got < len) {
        ssize_t n = net_tls_read(l->tls, (char *)buf + got, len - got);
        if (n > 0) {
            got += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (got > 0)
            break;
        return n;
    }
    return (ssize_t)got;
}

ssize_t blink_lower_write(struct bconn *c, const void *buf, size_t len)
{
    struct blink *l = c->link;
    if (!l->tls)
        return send(c->fd, buf, len, MSG_NOSIGNAL);
    return net_tls_write(l->tls, buf, len);
}

ssize_t blink_read(struct bench_engine *e, struct bconn *c, void *buf, size_t len)
{
    struct blink *l = c->link;
    ssize_t n = l->ws ? bws_read(c, l->ws, buf, len) : blink_lower_read(c, buf, len);
    if (n > 0 && e->o->tls_resume && l->tls && !e->tls_session)
        keep_session(e, l);
    return n;
}

ssize_t blink_write(struct bconn *c, const void *buf, size_t len)
{
    struct blink *l = c->link;
    return l->ws ? bws_write(c, l->ws, buf, len) : blink_lower_write(c, buf, len);
}

int blink_flush(struct bconn *c)
{
    struct blink *l = c->link;
    return l && l->ws ? bws_flush(c, l->ws) : 1;
}

bool blink_pending_out(struct bconn *c)
{
    struct blink *l = c->link;
    return l && l->ws && bws_pending(l->ws);
}

bool blink_buffered(struct bconn *c)
{
    struct blink *l = c->link;
    return l && l->tls && net_tls_pending(l->tls) > 0;
}

void blink_free(struct bconn *c)
{
    struct blink *l = c->link;
    if (!l)
        return;
    bws_free(l->ws);
    net_tls_close(l->tls);
    free(l);
    c->link = NULL;
}
