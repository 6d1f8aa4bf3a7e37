/*
 * Plain TCP under the connection engine (see tcp.h). Reads go into the worker's shared buffer
 * and straight into conn_feed; writes first try the socket directly (uv_try_write) and queue
 * only the rest, so the common case costs one syscall and no allocation beyond the output.
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
#include "server/listener.h"
#include "server/log.h"
#include "server/worker.h"
#include "session/conn.h"

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
    uv_tcp_t handle;
    struct worker *worker;
    struct conn *conn;
    struct layer_stack *stack;
    unsigned pending_writes;
    bool close_requested;
    bool closing;
};

struct tcp_write {
    uv_write_t req;
    struct tcp_link *link;
    uint8_t *data;
    size_t len;
};

static void on_closed(uv_handle_t *h)
{
    struct tcp_link *link = h->data;
    struct conn *c = link->conn;
    if (c) {
        conn_transport_closed(c, broker_now_ms());
        worker_remove_conn(link->worker, c);
        c->transport_ctx = NULL;
        conn_unref(c);
    }
    if (link->stack) {
        for (unsigned i = 0; i < link->stack->count; i++)
            link->stack->layers[i].ops->free(link->stack->layers[i].state);
        free(link->stack->wire);
        free(link->stack);
    }
    free(link);
}

static void close_now(struct tcp_link *link)
{
    if (link->closing)
        return;
    link->closing = true;
    uv_read_stop((uv_stream_t *)&link->handle);
    uv_close((uv_handle_t *)&link->handle, on_closed);
}

static void write_wire(struct tcp_link *link);

static void on_written(uv_write_t *req, int status)
{
    struct tcp_write *w = (struct tcp_write *)req;
    struct tcp_link *link = w->link;
    conn_output_written(link->conn, w->len);
    free(w->data);
    free(w);
    link->pending_writes--;
    if (status < 0)
        close_now(link);
    else if (link->close_requested && link->pending_writes == 0)
        close_now(link);
}

/* Writes `data` (owned, malloc'd) to the socket: directly when the socket takes it, queued
 * otherwise. The connection's backlog counts it until written. */
static void write_bytes(struct tcp_link *link, uint8_t *data, size_t len)
{
    struct conn *c = link->conn;
    if (link->closing) {
        conn_output_written(c, len);
        free(data);
        return;
    }
    size_t done = 0;
    if (link->pending_writes == 0) {
        uv_buf_t buf = uv_buf_init((char *)data, (unsigned)len);
        int n = uv_try_write((uv_stream_t *)&link->handle, &buf, 1);
        if (n > 0)
            done = (size_t)n;
        else if (n < 0 && n != UV_EAGAIN) {
            conn_output_written(c, len);
            free(data);
            close_now(link);
            return;
        }
    }
    conn_output_written(c, done);
    if (done == len) {
        free(data);
        if (link->close_requested)
            close_now(link);
        return;
    }
    struct tcp_write *w = malloc(sizeof *w);
    if (!w) {
        conn_output_written(c, len - done);
        free(data);
        close_now(link);
        return;
    }
    if (done)
        memmove(data, data + done, len - done);
    w->link = link;
    w->data = data;
    w->len = len - done;
    uv_buf_t buf = uv_buf_init((char *)data, (unsigned)w->len);
    link->pending_writes++;
    if (uv_write(&w->req, (uv_stream_t *)&link->handle, &buf, 1, on_written) < 0) {
        link->pending_writes--;
        conn_output_written(c, w->len);
        free(data);
        free(w);
        close_now(link);
    }
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
    if (link->close_requested && link->pending_writes == 0)
        close_now(link);
}

static void tcp_schedule_flush(struct conn *c)
{
    struct tcp_link *link = c->transport_ctx;
    if (!link)
        return;
    if (worker_current() == link->worker)
        worker_mark_dirty(link->worker, c);
    else
        worker_post(link->worker, INBOX_FLUSH, conn_ref(c));
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
    link->close_requested = true;
    /* Each layer says goodbye in its own protocol, top first (close frame, then close_notify). */
    for (unsigned i = link->stack ? link->stack->count : 0; i-- > 0;)
        if (link->stack->layers[i].ops->closing)
            link->stack->layers[i].ops->closing(link->stack->layers[i].state);
    write_wire(link);
    if (link->pending_writes == 0)
        close_now(link);
}

static void tcp_post_kick(struct conn *c)
{
    struct tcp_link *link = c->transport_ctx;
    if (link)
        worker_post(link->worker, INBOX_KICK, conn_ref(c));
}

static const struct conn_transport tcp_transport = {
    .schedule_flush = tcp_schedule_flush,
    .close = tcp_close,
    .post_kick = tcp_post_kick,
    .flush = tcp_flush,
};

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct tcp_link *link = h->data;
    buf->base = (char *)link->worker->read_buffer;
    buf->len = sizeof link->worker->read_buffer;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct tcp_link *link = s->data;
    if (n > 0) {
        if (!link->stack) {
            conn_feed(link->conn, (const uint8_t *)buf->base, (size_t)n, broker_now_ms());
        } else {
            struct layer *bottom = &link->stack->layers[0];
            bottom->ops->from_below(bottom->state, (const uint8_t *)buf->base, (size_t)n);
            write_wire(link); /* handshake replies, pongs */
        }
    } else if (n < 0) {
        if (n != UV_EOF)
            log_debug("%s: read error: %s", link->conn->peer, uv_strerror((int)n));
        close_now(link);
    }
}

static void format_peer(uv_tcp_t *h, char *out, size_t len)
{
    struct sockaddr_storage sa;
    int sa_len = sizeof sa;
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (uv_tcp_getpeername(h, (struct sockaddr *)&sa, &sa_len) == 0) {
        if (sa.ss_family == AF_INET) {
            struct sockaddr_in *in = (struct sockaddr_in *)&sa;
            inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
            port = ntohs(in->sin_port);
        } else if (sa.ss_family == AF_INET6) {
            struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&sa;
            inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
            port = ntohs(in6->sin6_port);
        }
    }
    snprintf(out, len, "%s:%u", host, port);
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
    log_notice("%s: %s: %s", link->conn->peer, link->stack->layers[slot->index].ops->name, reason);
    write_wire(link);
    link->close_requested = true;
    if (link->pending_writes == 0)
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

void tcp_on_connection(uv_stream_t *server, int status)
{
    struct worker_listener *wl = server->data;
    struct worker *w = wl->worker;
    if (status < 0 || w->stopping)
        return;
    struct tcp_link *link = calloc(1, sizeof *link);
    if (!link)
        return;
    uv_tcp_init(&w->loop, &link->handle);
    link->handle.data = link;
    link->worker = w;
    if (uv_accept(server, (uv_stream_t *)&link->handle) != 0) {
        uv_close((uv_handle_t *)&link->handle, (uv_close_cb)free);
        return;
    }
    char peer[64];
    format_peer(&link->handle, peer, sizeof peer);
    link->conn = conn_new(w->broker, &tcp_transport, link, peer, broker_now_ms());
    if (!link->conn) {
        uv_close((uv_handle_t *)&link->handle, (uv_close_cb)free);
        return;
    }
    link->conn->listener = wl->listener->config;
    worker_add_conn(w, link->conn);
    if (build_layers(link, wl->listener) != 0) {
        log_warning("%s: cannot set up the connection's protocol layers", peer);
        close_now(link);
        return;
    }
    uv_tcp_nodelay(&link->handle, 1);
    uv_read_start((uv_stream_t *)&link->handle, on_alloc, on_read);
}

int tcp_listen_socket(const char *host, uint16_t port, uint16_t *bound_port, char *err,
                      size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char service[8];
    snprintf(service, sizeof service, "%u", port);
    bool any = !host || !*host;
    int rc = getaddrinfo(any ? "::" : host, service, &hints, &res);
    if (rc != 0 && any)
        rc = getaddrinfo("0.0.0.0", service, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve listener address '%s': %s", any ? "*" : host,
                 gai_strerror(rc));
        return -1;
    }
    int fd = -1, last_errno = 0;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        int one = 1, zero = 0;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
        if (ai->ai_family == AF_INET6 && any)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 4096) != 0) {
            last_errno = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, errlen, "cannot listen on %s:%u: %s", any ? "*" : host, port,
                 strerror(last_errno));
        return -1;
    }
    struct sockaddr_storage sa;
    socklen_t len = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &len);
    *bound_port = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
                                                 : ((struct sockaddr_in *)&sa)->sin_port);
    return fd;
}
