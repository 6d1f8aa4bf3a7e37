/*
 * WebSocket under `mqttc bench` connections (ws://, wss://): the HTTP upgrade on /mqtt with
 * subprotocol mqtt, then every flush of MQTT bytes as one masked binary frame, and the
 * server's frames unframed in place in the engine's read buffer. Request, response check,
 * header parsing and masking are net_ws.c's, shared with mqttc pub/sub; what is here is the
 * non-blocking state a connection keeps between epoll events.
 *
 * A connection holds no frame: only a partial header or control frame (at most 139 bytes)
 * between reads, the payload bytes still due from the current data frame, and the frames it
 * could not write yet.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_engine.h"
#include "bench_link.h"
#include "bytebuf.h"
#include "net_ws.h"
#include "transport/ws.h"

#define WS_PATH "/mqtt"
#define RESPONSE_MAX 8192
#define CONTROL_MAX 125

struct bws {
    struct bytebuf wire; /* frames (and the upgrade request) not yet written */
    uint8_t carry[WS_FRAME_HEADER_MAX + CONTROL_MAX];
    uint8_t carry_len;
    uint64_t payload_left; /* of the current data frame */
    bool requested, closed;
    char *response; /* the upgrade response so far (owned, freed once upgraded) */
    size_t response_len;
    char expected[29];
};

struct bws *bws_new(void)
{
    return calloc(1, sizeof(struct bws));
}

void bws_free(struct bws *w)
{
    if (!w)
        return;
    bytebuf_free(&w->wire);
    free(w->response);
    free(w);
}

static int append_frame(struct bws *w, uint8_t fin_opcode, const void *payload, size_t len)
{
    size_t n = 0;
    if (bytebuf_reserve(&w->wire, len + WS_FRAME_HEADER_MAX) == 0)
        n = net_ws_frame(w->wire.data + w->wire.end, fin_opcode, payload, len);
    if (n == 0) {
        errno = ENOMEM;
        return -1;
    }
    w->wire.end += n;
    return 0;
}

int bws_flush(struct bconn *c, struct bws *w)
{
    while (bytebuf_len(&w->wire) > 0) {
        ssize_t n = blink_lower_write(c, w->wire.data + w->wire.start, bytebuf_len(&w->wire));
        if (n > 0) {
            bytebuf_consume(&w->wire, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        return -1;
    }
    return 1;
}

static int upgrade_failed(struct bench_engine *e, const char *why)
{
    if (e->refused == 0)
        fprintf(stderr, "Error: %s\n", why);
    return -1;
}

/* Reads the response head; what follows it already belongs to the frames. */
static int read_response(struct bench_engine *e, struct bconn *c, struct bws *w)
{
    if (!w->response && !(w->response = malloc(RESPONSE_MAX + 1)))
        return upgrade_failed(e, "out of memory");
    ssize_t n = blink_lower_read(c, w->response + w->response_len, RESPONSE_MAX - w->response_len);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return BLINK_WANT_READ;
    if (n <= 0)
        return upgrade_failed(e, "WebSocket upgrade: connection closed by the server");
    w->response_len += (size_t)n;
    w->response[w->response_len] = '\0';
    char *end = strstr(w->response, "\r\n\r\n");
    if (!end)
        return w->response_len == RESPONSE_MAX
                   ? upgrade_failed(e, "WebSocket upgrade: response too long")
                   : BLINK_WANT_READ;
    end[2] = '\0';
    char err[256];
    if (net_ws_check_response(w->response, w->expected, err, sizeof err) < 0)
        return upgrade_failed(e, err);
    size_t rest = w->response_len - (size_t)(end + 4 - w->response);
    if (rest > sizeof w->carry)
        return upgrade_failed(e, "WebSocket: the server sent data before the client");
    memcpy(w->carry, end + 4, rest);
    w->carry_len = (uint8_t)rest;
    free(w->response);
    w->response = NULL;
    return BLINK_DONE;
}

int bws_upgrade(struct bench_engine *e, struct bconn *c, struct bws *w)
{
    if (!w->requested) {
        char req[1024], err[256];
        int n = net_ws_request(e->o->host, e->o->port, WS_PATH, req, sizeof req, w->expected, err,
                               sizeof err);
        if (n < 0)
            return upgrade_failed(e, err);
        if (bytebuf_append(&w->wire, req, (size_t)n) < 0)
            return upgrade_failed(e, "out of memory");
        w->requested = true;
    }
    int f = bws_flush(c, w);
    if (f < 0)
        return upgrade_failed(e, "WebSocket upgrade: cannot send the request");
    if (f == 0)
        return BLINK_WANT_WRITE;
    return read_response(e, c, w);
}

static ssize_t protocol_error(struct bws *w)
{
    w->closed = true;
    errno = EPROTO;
    return -1;
}

/* Unframes buf[0..len) in place: payload bytes move to the front, a pong goes out for each
 * ping, and an incomplete header or control frame at the end is kept in w->carry. Returns
 * the payload bytes, or -1 (EPROTO). */
static ssize_t unframe(struct bws *w, uint8_t *buf, size_t len)
{
    size_t pos = 0, out = 0;
    while (pos < len && !w->closed) {
        if (w->payload_left > 0) {
            size_t n = len - pos;
            if (n > w->payload_left)
                n = (size_t)w->payload_left;
            memmove(buf + out, buf + pos, n);
            out += n;
            pos += n;
            w->payload_left -= n;
            continue;
        }
        uint8_t opcode = 0;
        uint64_t plen = 0;
        int hlen = net_ws_parse_header(buf + pos, len - pos, &opcode, &plen);
        if (hlen < 0)
            return protocol_error(w);
        if (hlen == 0)
            break;
        if (opcode == WS_OP_BINARY || opcode == WS_OP_CONTINUATION) {
            pos += (size_t)hlen;
            w->payload_left = plen;
            continue;
        }
        if (plen > CONTROL_MAX ||
            (opcode != WS_OP_PING && opcode != WS_OP_PONG && opcode != WS_OP_CLOSE))
            return protocol_error(w);
        if (len - pos < (size_t)hlen + plen)
            break;
        if (opcode == WS_OP_PING &&
            append_frame(w, WS_FIN | WS_OP_PONG, buf + pos + hlen, (size_t)plen) < 0)
            return -1;
        if (opcode == WS_OP_CLOSE)
            w->closed = true;
        pos += (size_t)hlen + (size_t)plen;
    }
    if (w->closed)
        return (ssize_t)out;
    memcpy(w->carry, buf + pos, len - pos);
    w->carry_len = (uint8_t)(len - pos);
    return (ssize_t)out;
}

ssize_t bws_read(struct bconn *c, struct bws *w, void *buf, size_t len)
{
    if (w->closed)
        return 0;
    size_t have = w->carry_len;
    if (len <= have) {
        errno = ENOBUFS;
        return -1;
    }
    memcpy(buf, w->carry, have);
    ssize_t n = blink_lower_read(c, (uint8_t *)buf + have, len - have);
    if (n <= 0)
        return n;
    w->carry_len = 0;
    ssize_t out = unframe(w, buf, have + (size_t)n);
    if (out == 0 && !w->closed) {
        errno = EAGAIN;
        return -1;
    }
    return out;
}

bool bws_pending(const struct bws *w)
{
    return bytebuf_len(&w->wire) > 0;
}

ssize_t bws_write(struct bconn *c, struct bws *w, const void *buf, size_t len)
{
    int f = bws_flush(c, w);
    if (f <= 0) {
        if (f == 0)
            errno = EAGAIN;
        return -1;
    }
    if (append_frame(w, WS_FIN | WS_OP_BINARY, buf, len) < 0 || bws_flush(c, w) < 0)
        return -1;
    return (ssize_t)len;
}
