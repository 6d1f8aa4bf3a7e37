/*
 * The socket side of the `mqttc bench` engine: non-blocking connects spread over loopback
 * source addresses, one epoll loop, reads parsed in place from one shared buffer, and writes
 * batched per connection once per loop iteration. Every socket has TCP_NODELAY set, so the
 * batching is ours (one write per iteration) rather than Nagle's.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "bench_engine.h"
#include "bench_link.h"

#define READ_BUFFER_INITIAL (256u * 1024u)
#define READ_BUFFER_MAX (256u * 1024u * 1024u)
#define MAX_EVENTS 512

int bench_engine_init(struct bench_engine *e, const struct bench_opts *o, uint32_t n,
                      uint32_t index_base)
{
    memset(e, 0, sizeof *e);
    e->o = o;
    e->n = n;
    e->index_base = index_base;
    e->ctl_fd = -1;
    e->max_opening = 256;
    e->win_start = UINT64_MAX;
    e->win_end = UINT64_MAX;

    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(o->host, o->port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "Error: cannot resolve %s: %s\n", o->host, gai_strerror(rc));
        return -1;
    }
    memcpy(&e->dst, res->ai_addr, res->ai_addrlen);
    e->dst_len = res->ai_addrlen;
    freeaddrinfo(res);

    e->conns = calloc(n ? n : 1, sizeof *e->conns);
    e->rcap = READ_BUFFER_INITIAL;
    e->rbuf = malloc(e->rcap);
    e->ep = epoll_create1(EPOLL_CLOEXEC);
    if (!e->conns || !e->rbuf || e->ep < 0) {
        fprintf(stderr, "Error: out of memory or epoll: %s\n", strerror(errno));
        return -1;
    }
    for (uint32_t i = 0; i < n; i++) {
        e->conns[i].fd = -1;
        e->conns[i].index = index_base + i;
        e->conns[i].window = o->inflight ? o->inflight : 1;
    }
    return blink_engine_init(e);
}

void bench_engine_free(struct bench_engine *e)
{
    for (uint32_t i = 0; i < e->n; i++) {
        struct bconn *c = &e->conns[i];
        blink_free(c);
        if (c->fd >= 0)
            close(c->fd);
        free(c->in);
        free(c->out);
        free(c->tmpl);
    }
    free(e->conns);
    free(e->rbuf);
    blink_engine_free(e);
    if (e->ep >= 0)
        close(e->ep);
}

uint8_t *bconn_reserve(struct bconn *c, size_t len)
{
    if (c->out_len + len > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 256;
        while (cap < c->out_len + len)
            cap *= 2;
        uint8_t *p = realloc(c->out, cap);
        if (!p)
            return NULL;
        c->out = p;
        c->out_cap = (uint32_t)cap;
    }
    return c->out + c->out_len;
}

void bconn_mark_dirty(struct bench_engine *e, struct bconn *c)
{
    c->last_tx_ns = e->now;
    if (c->dirty)
        return;
    c->dirty = true;
    c->next_dirty = e->dirty;
    e->dirty = c;
}

void bconn_update_events(struct bench_engine *e, struct bconn *c)
{
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.data.ptr = c;
    if (c->state == BCONN_CONNECTING)
        ev.events = EPOLLOUT;
    else if (c->state == BCONN_HANDSHAKE)
        ev.events = c->hs_want == BLINK_WANT_WRITE ? EPOLLOUT : EPOLLIN;
    else
        ev.events = (c->slow && c->state == BCONN_READY ? 0u : (uint32_t)EPOLLIN) |
                    (c->want_out ? (uint32_t)EPOLLOUT : 0u);
    epoll_ctl(e->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

void bconn_kill(struct bench_engine *e, struct bconn *c)
{
    if (c->state == BCONN_DEAD)
        return;
    if (c->state == BCONN_READY) {
        e->ready--;
        e->lost_conns++;
    } else if (c->state != BCONN_NEW) {
        e->opening--;
    }
    e->inflight_total -= c->inflight;
    c->inflight = 0;
    c->state = BCONN_DEAD;
    e->dead++;
    blink_free(c);
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->out_len = c->out_off = 0;
    c->in_len = 0;
}

/* Idle connections keep no buffers at rest, so 19,000 of them cost the generator little. */
static void release_idle_buffers(struct bconn *c)
{
    if (c->role != BCONN_IDLE)
        return;
    if (c->out_len == 0) {
        free(c->out);
        c->out = NULL;
        c->out_cap = 0;
    }
    if (c->in_len == 0) {
        free(c->in);
        c->in = NULL;
        c->in_cap = 0;
    }
}

static void set_want_out(struct bench_engine *e, struct bconn *c, bool want)
{
    if (c->want_out == want)
        return;
    c->want_out = want;
    bconn_update_events(e, c);
}

static ssize_t conn_send(struct bconn *c, const void *buf, size_t len)
{
    return c->link ? blink_write(c, buf, len) : send(c->fd, buf, len, MSG_NOSIGNAL);
}

static void write_pending(struct bench_engine *e, struct bconn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = conn_send(c, c->out + c->out_off, c->out_len - c->out_off);
        if (n > 0) {
            c->out_off += (uint32_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            /* Keep the unwritten tail at the front so the buffer does not creep. */
            memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
            c->out_len -= c->out_off;
            c->out_off = 0;
            set_want_out(e, c, true);
            return;
        }
        bconn_kill(e, c);
        return;
    }
    c->out_off = c->out_len = 0;
    int flushed = blink_flush(c);
    if (flushed < 0) {
        bconn_kill(e, c);
        return;
    }
    set_want_out(e, c, flushed == 0);
    if (flushed)
        release_idle_buffers(c);
}

static void flush_dirty(struct bench_engine *e)
{
    while (e->dirty) {
        struct bconn *c = e->dirty;
        e->dirty = c->next_dirty;
        c->dirty = false;
        if (c->state != BCONN_DEAD && !c->want_out)
            write_pending(e, c);
    }
}

static void bind_source(struct bench_engine *e, struct bconn *c)
{
    if (e->dst.ss_family != AF_INET || e->o->source_addrs <= 1)
        return;
    const struct sockaddr_in *dst = (const struct sockaddr_in *)&e->dst;
    if ((ntohl(dst->sin_addr.s_addr) >> 24) != 127)
        return;
    /* Choose the port at connect() time, per destination, not at bind() time per address. */
    int one = 1;
    setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in src;
    memset(&src, 0, sizeof src);
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(0x7f000001u + c->index % e->o->source_addrs);
    bind(c->fd, (const struct sockaddr *)&src, sizeof src);
}

static void open_one(struct bench_engine *e, struct bconn *c)
{
    c->state = BCONN_CONNECTING;
    e->opening++;
    if (e->o->transport == BENCH_QUIC) {
        /* The bridge's socket is connected at once; the QUIC handshake runs behind it. */
        c->fd = blink_quic_open(e);
        if (c->fd < 0) {
            e->refused++;
            bconn_kill(e, c);
            return;
        }
    } else {
        c->fd = socket(e->dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->fd < 0) {
            fprintf(stderr, "Error: socket: %s\n", strerror(errno));
            e->refused++;
            bconn_kill(e, c);
            return;
        }
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        bind_source(e, c);
        if (connect(c->fd, (const struct sockaddr *)&e->dst, e->dst_len) < 0 &&
            errno != EINPROGRESS) {
            e->refused++;
            bconn_kill(e, c);
            return;
        }
    }
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLOUT;
    ev.data.ptr = c;
    epoll_ctl(e->ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static void open_due(struct bench_engine *e)
{
    if (e->next_open >= e->n)
        return;
    if (e->open_start_ns == 0)
        e->open_start_ns = e->now;
    uint64_t allowed = e->n;
    if (e->o->scenario == BENCH_CONN && e->o->rate > 0)
        allowed = (uint64_t)((double)(e->now - e->open_start_ns) / 1e9 * e->o->rate) + 1;
    uint32_t max_opening = e->max_opening;
    /* --tls-resume, --quic-ticket: the first connection runs alone, so that every later one
     * finds its ticket. */
    if (((e->o->tls_resume && !e->tls_session) || e->o->quic_ticket) && e->ready + e->dead == 0)
        max_opening = 1;
    while (e->next_open < e->n && e->next_open < allowed && e->opening < max_opening)
        open_one(e, &e->conns[e->next_open++]);
}

/* After a handshake step: MQTT starts once the link is up. */
static void after_handshake_step(struct bench_engine *e, struct bconn *c, int r)
{
    if (r < 0) {
        e->refused++;
        bconn_kill(e, c);
        return;
    }
    if (r != BLINK_DONE) {
        c->state = BCONN_HANDSHAKE;
        c->hs_want = (uint8_t)r;
        bconn_update_events(e, c);
        return;
    }
    c->state = BCONN_CONNACK_WAIT;
    bconn_update_events(e, c);
    if (bproto_send_connect(e, c) < 0)
        bconn_kill(e, c);
}

static void on_connected(struct bench_engine *e, struct bconn *c)
{
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
        e->refused++;
        bconn_kill(e, c);
        return;
    }
    after_handshake_step(e, c, blink_start(e, c));
}

/* The partial packet of the previous read goes first, then one read fills the rest; whole
 * packets are handled where they lie and only the incomplete tail is copied out. */
static void on_readable(struct bench_engine *e, struct bconn *c)
{
    size_t have = c->in_len;
    if (have)
        memcpy(e->rbuf, c->in, have);
    c->in_len = 0;
    if (have == e->rcap) {
        size_t cap = e->rcap * 2;
        uint8_t *p = cap <= READ_BUFFER_MAX ? realloc(e->rbuf, cap) : NULL;
        if (!p) {
            bconn_kill(e, c);
            return;
        }
        e->rbuf = p;
        e->rcap = cap;
    }
    ssize_t n = c->link ? blink_read(e, c, e->rbuf + have, e->rcap - have)
                        : recv(c->fd, e->rbuf + have, e->rcap - have, 0);
    if (c->link && blink_pending_out(c))
        bconn_mark_dirty(e, c);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        c->in_len = (uint32_t)have;
        return;
    }
    if (n <= 0) {
        bconn_kill(e, c);
        return;
    }
    /* One clock read per read() call timestamps every delivery in it. */
    e->now = bench_now_ns();
    size_t total = have + (size_t)n, off = 0;
    while (off < total && c->state != BCONN_DEAD) {
        size_t plen = 0;
        int r = mq_frame(e->rbuf + off, total - off, 0, &plen);
        if (r == 0)
            break;
        if (r < 0) {
            fprintf(stderr, "Error: malformed packet from the broker (connection %u)\n", c->index);
            bconn_kill(e, c);
            return;
        }
        bproto_on_packet(e, c, e->rbuf + off, plen);
        off += plen;
    }
    if (c->state == BCONN_DEAD || off == total) {
        release_idle_buffers(c);
        return;
    }
    size_t rest = total - off;
    if (rest > c->in_cap) {
        uint8_t *p = realloc(c->in, rest);
        if (!p) {
            bconn_kill(e, c);
            return;
        }
        c->in = p;
        c->in_cap = (uint32_t)rest;
    }
    memcpy(c->in, e->rbuf + off, rest);
    c->in_len = (uint32_t)rest;
}

static void on_event(struct bench_engine *e, struct bconn *c, uint32_t events)
{
    if (c->state == BCONN_DEAD)
        return;
    if (c->state == BCONN_CONNECTING) {
        on_connected(e, c);
        return;
    }
    if (c->state == BCONN_HANDSHAKE) {
        after_handshake_step(e, c, blink_handshake(e, c));
        return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        do
            on_readable(e, c);
        while (c->state != BCONN_DEAD && blink_buffered(c));
    }
    if (c->state != BCONN_DEAD && (events & EPOLLOUT) && c->want_out) {
        c->want_out = false;
        write_pending(e, c);
        if (!c->want_out)
            bconn_update_events(e, c);
    }
}

void bench_engine_step(struct bench_engine *e, int timeout_ms)
{
    struct epoll_event evs[MAX_EVENTS];
    e->now = bench_now_ns();
    open_due(e);
    if (e->busy)
        timeout_ms = 0;
    int n = epoll_wait(e->ep, evs, MAX_EVENTS, timeout_ms);
    e->now = bench_now_ns();
    for (int i = 0; i < n; i++) {
        if (evs[i].data.ptr == NULL) {
            e->ctl_closed = true;
            continue;
        }
        on_event(e, evs[i].data.ptr, evs[i].events);
    }
    if (e->now - e->last_ping_scan > 1000000000u) {
        e->last_ping_scan = e->now;
        bproto_ping_idle(e);
    }
    bproto_publish_due(e);
    flush_dirty(e);
}
