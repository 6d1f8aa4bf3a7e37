/*
 * Plain TCP under the connection engine (see tcp.h), and the link that stacks protocol layers
 * (TLS, WebSocket) between a socket and its engine.
 *
 * A connection is a uv_poll_t on the socket, not a uv_tcp_t: the link does its own recv and send
 * into the worker's shared read buffer and straight from the engine's output, which keeps an
 * idle connection small (uv_poll_t is 88 bytes smaller than uv_tcp_t) and costs one syscall per
 * direction per loop iteration. Output the socket does not take at once stays in one pending
 * buffer, and the poll waits for writability only while it is there.
 */
#include "transport/tcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker/broker.h"
#include "server/ip_table.h"
#include "server/listen_socket.h"
#include "server/listener.h"
#include "server/log.h"
#include "server/worker.h"
#include "session/conn.h"

/* Reads per readiness event before yielding to other connections. */
#define READS_PER_EVENT 4
/* Connections accepted per readiness event of a listening socket. */
#define ACCEPTS_PER_EVENT 64

struct tcp_link;

/* Where a layer's callbacks land: the link and the layer's place in the stack. */
struct layer_slot {
    struct tcp_link *link;
    unsigned index;
};

/* The protocol layers of a link (TLS, WebSocket); plain TCP links have none, and pay nothing
 * for them. */
struct layer_stack {
    unsigned count;
    struct layer layers[LISTENER_MAX_LAYERS];
    struct layer_slot slots[LISTENER_MAX_LAYERS];
    struct layer_io io[LISTENER_MAX_LAYERS];
    /* Bytes the bottom layer produced for the socket, written at the end of the current
     * read or flush. Exists only while bytes are waiting. */
    uint8_t *wire;
    size_t wire_len, wire_cap;
};

struct tcp_link {
    uv_poll_t poll; /* its loop's data is the worker */
    struct conn *conn;
    struct layer_stack *stack;
    uint8_t *pending; /* written in part: the rest, from pending_off */
    uint32_t pending_len, pending_off;
    int fd;
    bool close_requested;
    bool closing;
    bool read_paused; /* a rate limit holds the client back (conn_transport.pause_reading) */
};

static struct worker *link_worker(const struct tcp_link *link)
{
    return link->poll.loop->data;
}

static void on_io(uv_poll_t *h, int status, int events);

static void on_closed(uv_handle_t *h)
{
    struct tcp_link *link = h->data;
    struct conn *c = link->conn;
    if (c) {
        /* Before the socket closes: disconnect handlers may still ask for the peer's address. */
        conn_output_written(c, link->pending_len - link->pending_off);
        conn_transport_closed(c, broker_now_ms());
        worker_remove_conn(link_worker(link), c);
        if (c->ip_slot)
            ip_table_release(c->broker->limits.ip_table, c->ip_slot, broker_now_ms());
        c->transport_ctx = NULL;
        conn_unref(c);
    }
    close(link->fd);
    if (link->stack) {
        for (unsigned i = 0; i < link->stack->count; i++)
            link->stack->layers[i].ops->free(link->stack->layers[i].state);
        free(link->stack->wire);
        free(link->stack);
    }
    free(link->pending);
    free(link);
}

static void close_now(struct tcp_link *link)
{
    if (link->closing)
        return;
    link->closing = true;
    uv_poll_stop(&link->poll);
    uv_close((uv_handle_t *)&link->poll, on_closed);
}

static void watch(struct tcp_link *link, bool writable)
{
    if (!link->closing)
        uv_poll_start(&link->poll,
                      (link->read_paused ? 0 : UV_READABLE) | (writable ? UV_WRITABLE : 0), on_io);
}

/* Sends from `data`; returns bytes sent, or -1 when the connection is broken. */
static ssize_t send_some(struct tcp_link *link, const uint8_t *data, size_t len)
{
    ssize_t n;
    do
        n = send(link->fd, data, len, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n >= 0)
        return n;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return 0;
    log_debug("%s: send failed: %s", conn_peer(link->conn), strerror(errno));
    return -1;
}

/* Writes `data` (owned, malloc'd) to the socket: directly when the socket takes it, kept as
 * pending otherwise. The connection's backlog counts it until written. */
static void write_bytes(struct tcp_link *link, uint8_t *data, size_t len)
{
    struct conn *c = link->conn;
    if (link->closing) {
        conn_output_written(c, len);
        free(data);
        return;
    }
    if (link->pending) {
        /* Still waiting for the socket: append behind what is there. */
        size_t keep = link->pending_len - link->pending_off;
        uint8_t *joined = keep + len <= UINT32_MAX ? malloc(keep + len) : NULL;
        if (!joined) {
            conn_output_written(c, len);
            free(data);
            close_now(link);
            return;
        }
        memcpy(joined, link->pending + link->pending_off, keep);
        memcpy(joined + keep, data, len);
        free(link->pending);
        free(data);
        link->pending = joined;
        link->pending_len = (uint32_t)(keep + len);
        link->pending_off = 0;
        return;
    }
    ssize_t n = send_some(link, data, len);
    if (n < 0) {
        conn_output_written(c, len);
        free(data);
        close_now(link);
        return;
    }
    conn_output_written(c, (size_t)n);
    if ((size_t)n == len) {
        free(data);
        if (link->close_requested)
            close_now(link);
        return;
    }
    if (len > UINT32_MAX) {
        conn_output_written(c, len - (size_t)n);
        free(data);
        close_now(link); /* over 4 GiB waiting for one client: it is not reading */
        return;
    }
    link->pending = data;
    link->pending_len = (uint32_t)len;
    link->pending_off = (uint32_t)n;
    watch(link, true);
}

static void write_pending(struct tcp_link *link)
{
    ssize_t n =
        send_some(link, link->pending + link->pending_off, link->pending_len - link->pending_off);
    if (n < 0) {
        close_now(link);
        return;
    }
    conn_output_written(link->conn, (size_t)n);
    link->pending_off += (uint32_t)n;
    if (link->pending_off < link->pending_len)
        return;
    free(link->pending);
    link->pending = NULL;
    link->pending_len = link->pending_off = 0;
    if (link->close_requested)
        close_now(link);
    else
        watch(link, false);
}

/* Socket-side bytes from the bottom layer, gathered until write_wire. */
static void layer_down_to_socket(struct tcp_link *link, const uint8_t *data, size_t len)
{
    struct layer_stack *st = link->stack;
    if (st->wire_len + len > st->wire_cap) {
        size_t cap = st->wire_cap ? st->wire_cap : 4096;
        while (cap < st->wire_len + len)
            cap *= 2;
        uint8_t *wire = realloc(st->wire, cap);
        if (!wire) {
            close_now(link);
            return;
        }
        st->wire = wire;
        st->wire_cap = cap;
    }
    memcpy(st->wire + st->wire_len, data, len);
    st->wire_len += len;
}

static void write_wire(struct tcp_link *link)
{
    struct layer_stack *st = link->stack;
    if (!st || !st->wire_len)
        return;
    uint8_t *data = st->wire;
    size_t len = st->wire_len;
    st->wire = NULL;
    st->wire_len = st->wire_cap = 0;
    conn_output_queued(link->conn, len);
    write_bytes(link, data, len);
}

static void tcp_flush(struct conn *c)
{
    struct tcp_link *link = c->transport_ctx;
    size_t len;
    uint8_t *data = conn_take_output(c, &len);
    if (!data)
        return;
    if (!link || link->closing) {
        conn_output_written(c, len);
        free(data);
        return;
    }
    if (!link->stack) {
        write_bytes(link, data, len);
        return;
    }
    struct layer *top = &link->stack->layers[link->stack->count - 1];
    top->ops->from_above(top->state, data, len);
    conn_output_written(c, len);
    free(data);
    write_wire(link);
    if (link->close_requested && !link->pending)
        close_now(link);
}

static void tcp_schedule_flush(struct conn *c)
{
    struct tcp_link *link = c->transport_ctx;
    if (!link)
        return;
    if (worker_current() == link_worker(link))
        worker_mark_dirty(link_worker(link), c);
    else
        worker_post(link_worker(link), INBOX_FLUSH, conn_ref(c));
}

static void tcp_close(struct conn *c)
{
    struct tcp_link *link = c->transport_ctx;
    if (!link || link->closing)
        return;
    if (link->close_requested) {
        /* Asked twice (the stop's grace period is over): do not wait for the peer to read. */
        close_now(link);
        return;
    }
    tcp_flush(c);
    if (link->closing)
        return;
    link->close_requested = true;
    /* Each layer says goodbye in its own protocol, top first (close frame, then close_notify). */
    for (unsigned i = link->stack ? link->stack->count : 0; i-- > 0;)
        if (link->stack->layers[i].ops->closing)
            link->stack->layers[i].ops->closing(link->stack->layers[i].state);
    write_wire(link);
    if (!link->pending)
        close_now(link);
}

static void tcp_post_kick(struct conn *c)
{
    struct tcp_link *link = c->transport_ctx;
    if (link)
        worker_post(link_worker(link), INBOX_KICK, conn_ref(c));
}

static void tcp_peer_name(const struct conn *c, char *out, size_t len)
{
    const struct tcp_link *link = c->transport_ctx;
    struct sockaddr_storage sa;
    socklen_t sa_len = sizeof sa;
    char host[INET6_ADDRSTRLEN];
    unsigned port = 0;
    /* Asked of the kernel, not stored: only a socket already reset by its peer has none. */
    if (!link || getpeername(link->fd, (struct sockaddr *)&sa, &sa_len) != 0) {
        snprintf(out, len, "unknown peer");
        return;
    }
    if (sa.ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        port = ntohs(in6->sin6_port);
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)&sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
    }
    snprintf(out, len, "%s:%u", host, port);
}

static void tcp_pause_reading(struct conn *c, bool paused)
{
    struct tcp_link *link = c->transport_ctx;
    if (!link || link->closing)
        return;
    link->read_paused = paused;
    watch(link, link->pending != NULL);
}

static const struct conn_transport tcp_transport = {
    .schedule_flush = tcp_schedule_flush,
    .close = tcp_close,
    .post_kick = tcp_post_kick,
    .flush = tcp_flush,
    .peer_name = tcp_peer_name,
    .pause_reading = tcp_pause_reading,
};

static void deliver(struct tcp_link *link, const uint8_t *data, size_t len)
{
    if (!link->stack) {
        conn_feed(link->conn, data, len, broker_now_ms());
        return;
    }
    struct layer *bottom = &link->stack->layers[0];
    bottom->ops->from_below(bottom->state, data, len);
    write_wire(link); /* handshake replies, pongs */
}

static void read_some(struct tcp_link *link)
{
    uint8_t *buf = link_worker(link)->read_buffer;
    size_t cap = sizeof link_worker(link)->read_buffer;
    for (int i = 0; i < READS_PER_EVENT && !link->closing && !link->read_paused; i++) {
        ssize_t n = recv(link->fd, buf, cap, 0);
        if (n > 0) {
            deliver(link, buf, (size_t)n);
            if ((size_t)n < cap)
                return;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
        if (n < 0)
            log_debug("%s: read error: %s", conn_peer(link->conn), strerror(errno));
        close_now(link); /* end of stream or error */
        return;
    }
}

static void on_io(uv_poll_t *h, int status, int events)
{
    struct tcp_link *link = h->data;
    if (status < 0) {
        /* A reset may follow data still unread (a TLS alert saying why): hand it up first. */
        read_some(link);
        close_now(link);
        return;
    }
    if ((events & UV_WRITABLE) && link->pending)
        write_pending(link);
    if ((events & UV_READABLE) && !link->closing)
        read_some(link);
}

static void layer_up(void *slot_ptr, const uint8_t *data, size_t len)
{
    struct layer_slot *slot = slot_ptr;
    struct tcp_link *link = slot->link;
    unsigned next = slot->index + 1;
    if (next < link->stack->count)
        link->stack->layers[next].ops->from_below(link->stack->layers[next].state, data, len);
    else
        conn_feed(link->conn, data, len, broker_now_ms());
}

static void layer_down(void *slot_ptr, const uint8_t *data, size_t len)
{
    struct layer_slot *slot = slot_ptr;
    struct tcp_link *link = slot->link;
    if (slot->index == 0) {
        layer_down_to_socket(link, data, len);
    } else {
        struct layer *below = &link->stack->layers[slot->index - 1];
        below->ops->from_above(below->state, data, len);
    }
}

static void layer_fail(void *slot_ptr, const char *reason)
{
    struct layer_slot *slot = slot_ptr;
    struct tcp_link *link = slot->link;
    log_notice("%s: %s: %s", conn_peer(link->conn), link->stack->layers[slot->index].ops->name,
               reason);
    write_wire(link);
    link->close_requested = true;
    if (!link->pending)
        close_now(link);
}

static void layer_identity(void *slot_ptr, const char *identity)
{
    struct layer_slot *slot = slot_ptr;
    conn_set_identity(slot->link->conn, identity);
}

static int build_layers(struct tcp_link *link, const struct listener *l)
{
    if (l->layer_count == 0)
        return 0;
    struct layer_stack *st = link->stack = calloc(1, sizeof *link->stack);
    if (!st)
        return -1;
    for (unsigned i = 0; i < l->layer_count; i++) {
        st->slots[i] = (struct layer_slot){link, i};
        st->io[i] = (struct layer_io){.up = layer_up,
                                      .down = layer_down,
                                      .fail = layer_fail,
                                      .identity = layer_identity,
                                      .link = &st->slots[i]};
        if (l->layers[i](l->layer_states[i], &st->io[i], &st->layers[i]) != 0)
            return -1;
        st->count++;
    }
    return 0;
}

static void adopt(struct worker_listener *wl, int fd, uint32_t ip_slot)
{
    struct worker *w = wl->worker;
    struct tcp_link *link = calloc(1, sizeof *link);
    if (!link || uv_poll_init(&w->loop, &link->poll, fd) != 0) {
        ip_table_release(w->broker->limits.ip_table, ip_slot, broker_now_ms());
        close(fd);
        free(link);
        return;
    }
    link->fd = fd;
    link->poll.data = link;
    link->conn = conn_new(w->broker, &tcp_transport, link, broker_now_ms());
    if (!link->conn) {
        ip_table_release(w->broker->limits.ip_table, ip_slot, broker_now_ms());
        uv_close((uv_handle_t *)&link->poll, on_closed);
        return;
    }
    link->conn->ip_slot = ip_slot;
    link->conn->listener = wl->listener->config;
    worker_add_conn(w, link->conn);
    if (build_layers(link, wl->listener) != 0) {
        log_warning("%s: cannot set up the connection's protocol layers", conn_peer(link->conn));
        close_now(link);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    watch(link, false);
}

/* Applies the per-address limits to a socket just accepted. A refused one is reset at once:
 * no handshake, no CONNECT read, no TIME_WAIT left behind; the cheapest answer to a flood. */
static bool admit_peer(struct broker *b, int fd, const struct sockaddr *peer, uint32_t *ip_slot)
{
    enum ip_verdict v = limits_admit_address(&b->limits, peer, broker_now_ms(), ip_slot);
    if (v == IP_ADMITTED)
        return true;
    struct linger reset = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    close(fd);
    log_info("connection refused at accept: %s", v == IP_TOO_MANY
                                                     ? "max_connections_per_ip reached"
                                                     : "max_connection_rate_per_ip exceeded");
    return false;
}

void tcp_on_acceptable(uv_poll_t *h, int status, int events)
{
    struct worker_listener *wl = h->data;
    if (status < 0 || wl->worker->stopping)
        return;
    struct ip_table *ips = wl->worker->broker->limits.ip_table;
    for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
        struct sockaddr_storage peer;
        socklen_t peer_len = sizeof peer;
        int fd = accept4(wl->fd, ips ? (struct sockaddr *)&peer : NULL, ips ? &peer_len : NULL,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
                log_warning("accept failed: %s", strerror(errno));
            return;
        }
        uint32_t ip_slot = 0;
        if (ips && !admit_peer(wl->worker->broker, fd, (struct sockaddr *)&peer, &ip_slot))
            continue;
        adopt(wl, fd, ip_slot);
    }
}

int tcp_listen_socket(const char *host, uint16_t port, bool join, uint16_t *bound_port, char *err,
                      size_t errlen)
{
    int fd = listen_socket_bind(host, port, SOCK_STREAM, join, bound_port, "TCP", err, errlen);
    if (fd >= 0 && listen(fd, 4096) != 0) {
        snprintf(err, errlen, "cannot listen on TCP port %u: %s", port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}
