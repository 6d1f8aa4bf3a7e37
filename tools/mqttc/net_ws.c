/*
 * WebSocket client for mqttc (see net_ws.h). Frame headers and the accept key come from the
 * broker's own WebSocket code (src/transport/ws.h), so both sides share one definition of the
 * wire format; the client side (masking, reading unmasked server frames) is here.
 */
#include "net_ws.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "net_tls.h"
#include "transport/ws.h"

#define RAW_CAP 65536
#define WRITE_TIMEOUT_MS 30000

struct net_ws {
    int fd;
    struct net_tls *tls;
    /* Bytes read from the socket and not yet unframed. */
    uint8_t raw[RAW_CAP];
    size_t raw_len;
    /* Payload bytes of the current data frame still to come. */
    uint64_t payload_left;
    bool closed;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static ssize_t raw_read(struct net_ws *w, void *buf, size_t len)
{
    return w->tls ? net_tls_read(w->tls, buf, len) : read(w->fd, buf, len);
}

static bool wait_fd(int fd, short events, int64_t deadline)
{
    int64_t left = deadline - now_ms();
    if (left <= 0)
        return false;
    struct pollfd p = {.fd = fd, .events = events};
    return poll(&p, 1, (int)left) >= 0 || errno == EINTR;
}

/* Writes all of data before the deadline. 0, or -1 with errno. */
static int write_all(struct net_ws *w, const uint8_t *data, size_t len, int64_t deadline)
{
    while (len > 0) {
        ssize_t n = w->tls ? net_tls_write(w->tls, data, len) : write(w->fd, data, len);
        if (n > 0) {
            data += n;
            len -= (size_t)n;
        } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            return -1;
        } else if (!wait_fd(w->fd, POLLOUT, deadline)) {
            errno = ETIMEDOUT;
            return -1;
        }
    }
    return 0;
}

size_t net_ws_frame(uint8_t *out, uint8_t fin_opcode, const void *payload, size_t len)
{
    uint8_t mask[4];
    if (gnutls_rnd(GNUTLS_RND_NONCE, mask, sizeof mask) != 0)
        return 0;
    size_t n = ws_frame_header(out, fin_opcode, len, mask);
    for (size_t i = 0; i < len; i++)
        out[n + i] = ((const uint8_t *)payload)[i] ^ mask[i & 3];
    return n + len;
}

static int send_frame(struct net_ws *w, uint8_t fin_opcode, const void *payload, size_t len,
                      int64_t deadline)
{
    uint8_t *frame = malloc(len + WS_FRAME_HEADER_MAX);
    if (!frame) {
        errno = ENOMEM;
        return -1;
    }
    size_t n = net_ws_frame(frame, fin_opcode, payload, len);
    int rc = n ? write_all(w, frame, n, deadline) : -1;
    if (!n)
        errno = EIO;
    free(frame);
    return rc;
}

/* Finds the value of header `name` in the response head (NUL-terminated); copies it to out. */
static bool response_header(const char *head, const char *name, char *out, size_t outlen)
{
    size_t name_len = strlen(name);
    for (const char *line = strstr(head, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
        const char *p = line + 2;
        if (strncasecmp(p, name, name_len) != 0 || p[name_len] != ':')
            continue;
        p += name_len + 1;
        while (*p == ' ' || *p == '\t')
            p++;
        size_t len = strcspn(p, "\r");
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        snprintf(out, outlen, "%.*s", (int)len, p);
        return true;
    }
    return false;
}

int net_ws_request(const char *host, const char *port, const char *path, char *req, size_t reqlen,
                   char expected[29], char *err, size_t errlen)
{
    uint8_t nonce[16];
    char key[25];
    if (gnutls_rnd(GNUTLS_RND_NONCE, nonce, sizeof nonce) != 0) {
        snprintf(err, errlen, "Cannot make a WebSocket key");
        return -1;
    }
    gnutls_datum_t raw_key = {nonce, sizeof nonce}, b64 = {NULL, 0};
    if (gnutls_base64_encode2(&raw_key, &b64) != 0 || b64.size != 24) {
        gnutls_free(b64.data);
        snprintf(err, errlen, "Cannot make a WebSocket key");
        return -1;
    }
    memcpy(key, b64.data, 24);
    key[24] = '\0';
    gnutls_free(b64.data);
    ws_accept_key(key, 24, expected);
    bool v6 = strchr(host, ':') != NULL;
    int n = snprintf(req, reqlen,
                     "GET %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n",
                     path, v6 ? "[" : "", host, v6 ? "]" : "", port, key);
    if (n < 0 || (size_t)n >= reqlen) {
        snprintf(err, errlen, "WebSocket path too long");
        return -1;
    }
    return n;
}

int net_ws_check_response(const char *head, const char *expected, char *err, size_t errlen)
{
    char accept[64] = "", protocol[64] = "";
    if (strncmp(head, "HTTP/1.1 101", 12) != 0) {
        snprintf(err, errlen, "WebSocket upgrade refused: %.*s", (int)strcspn(head, "\r"), head);
        return -1;
    }
    if (!response_header(head, "Sec-WebSocket-Accept", accept, sizeof accept) ||
        strcmp(accept, expected) != 0) {
        snprintf(err, errlen, "WebSocket upgrade: wrong Sec-WebSocket-Accept from the server");
        return -1;
    }
    if (!response_header(head, "Sec-WebSocket-Protocol", protocol, sizeof protocol) ||
        strcmp(protocol, "mqtt") != 0) {
        snprintf(err, errlen, "WebSocket upgrade: the server did not choose subprotocol mqtt");
        return -1;
    }
    return 0;
}

static int upgrade(struct net_ws *w, const char *host, const char *port, const char *path,
                   int64_t deadline, char *err, size_t errlen)
{
    char expected[29], request[1024];
    int n = net_ws_request(host, port, path, request, sizeof request, expected, err, errlen);
    if (n < 0)
        return -1;
    if (write_all(w, (const uint8_t *)request, (size_t)n, deadline) < 0) {
        snprintf(err, errlen, "WebSocket upgrade: %s", strerror(errno));
        return -1;
    }
    char *end = NULL;
    while (!end) {
        if (w->raw_len >= 8192) {
            snprintf(err, errlen, "WebSocket upgrade: response too long");
            return -1;
        }
        ssize_t got = raw_read(w, w->raw + w->raw_len, 8192 - w->raw_len);
        if (got == 0) {
            snprintf(err, errlen, "WebSocket upgrade: connection closed by the server");
            return -1;
        }
        if (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            snprintf(err, errlen, "WebSocket upgrade: %s", strerror(errno));
            return -1;
        }
        if (got < 0) {
            if (!wait_fd(w->fd, POLLIN, deadline)) {
                snprintf(err, errlen, "WebSocket upgrade: no answer from the server");
                return -1;
            }
            continue;
        }
        w->raw_len += (size_t)got;
        w->raw[w->raw_len] = '\0';
        end = strstr((char *)w->raw, "\r\n\r\n");
    }
    end[2] = '\0';
    if (net_ws_check_response((const char *)w->raw, expected, err, errlen) < 0)
        return -1;
    size_t used = (size_t)(end + 4 - (char *)w->raw);
    memmove(w->raw, w->raw + used, w->raw_len - used);
    w->raw_len -= used;
    return 0;
}

int net_ws_start(int fd, struct net_tls *tls, const char *host, const char *port, const char *path,
                 int timeout_ms, struct net_ws **out, char *err, size_t errlen)
{
    struct net_ws *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "Out of memory");
        return -1;
    }
    w->fd = fd;
    w->tls = tls;
    if (upgrade(w, host, port, path, now_ms() + (timeout_ms > 0 ? timeout_ms : 30000), err,
                errlen) < 0) {
        free(w);
        return -1;
    }
    *out = w;
    return 0;
}

int net_ws_parse_header(const uint8_t *h, size_t avail, uint8_t *opcode, uint64_t *payload_len)
{
    if (avail < 2)
        return 0;
    if (h[1] & 0x80)
        return -1;
    uint64_t plen = h[1] & 0x7F;
    size_t hlen = plen == 126 ? 4 : plen == 127 ? 10 : 2;
    if (avail < hlen)
        return 0;
    if (plen == 126) {
        plen = (uint64_t)h[2] << 8 | h[3];
    } else if (plen == 127) {
        plen = 0;
        for (size_t i = 2; i < 10; i++)
            plen = plen << 8 | h[i];
    }
    *opcode = h[0] & 0x0F;
    *payload_len = plen;
    return (int)hlen;
}

static ssize_t protocol_error(struct net_ws *w)
{
    w->closed = true;
    errno = EPROTO;
    return -1;
}

/* Unframes what w->raw holds into buf. Returns the bytes written to buf, or -1 (EPROTO). */
static ssize_t unframe(struct net_ws *w, uint8_t *buf, size_t len)
{
    size_t out = 0, pos = 0;
    while (pos < w->raw_len && out < len && !w->closed) {
        if (w->payload_left > 0) {
            size_t n = w->raw_len - pos;
            if (n > w->payload_left)
                n = (size_t)w->payload_left;
            if (n > len - out)
                n = len - out;
            memcpy(buf + out, w->raw + pos, n);
            out += n;
            pos += n;
            w->payload_left -= n;
            continue;
        }
        const uint8_t *h = w->raw + pos;
        size_t avail = w->raw_len - pos;
        uint8_t opcode = 0;
        uint64_t plen = 0;
        int hl = net_ws_parse_header(h, avail, &opcode, &plen);
        if (hl < 0)
            return protocol_error(w);
        if (hl == 0)
            break;
        size_t hlen = (size_t)hl;
        if (opcode == WS_OP_BINARY || opcode == WS_OP_CONTINUATION) {
            pos += hlen;
            w->payload_left = plen;
            continue;
        }
        if (plen > 125 || (opcode != WS_OP_PING && opcode != WS_OP_PONG && opcode != WS_OP_CLOSE))
            return protocol_error(w);
        if (avail < hlen + plen)
            break;
        if (opcode == WS_OP_PING && send_frame(w, WS_FIN | WS_OP_PONG, h + hlen, (size_t)plen,
                                               now_ms() + WRITE_TIMEOUT_MS) < 0)
            return -1;
        if (opcode == WS_OP_CLOSE) {
            send_frame(w, WS_FIN | WS_OP_CLOSE, h + hlen, plen >= 2 ? 2 : 0,
                       now_ms() + WRITE_TIMEOUT_MS);
            w->closed = true;
        }
        pos += hlen + (size_t)plen;
    }
    memmove(w->raw, w->raw + pos, w->raw_len - pos);
    w->raw_len -= pos;
    return (ssize_t)out;
}

ssize_t net_ws_read(struct net_ws *w, void *buf, size_t len)
{
    for (;;) {
        ssize_t out = unframe(w, buf, len);
        if (out != 0)
            return out;
        if (w->closed)
            return 0;
        if (w->raw_len == RAW_CAP)
            return protocol_error(w);
        ssize_t n = raw_read(w, w->raw + w->raw_len, RAW_CAP - w->raw_len);
        if (n <= 0)
            return n;
        w->raw_len += (size_t)n;
    }
}

ssize_t net_ws_write(struct net_ws *w, const void *buf, size_t len)
{
    if (send_frame(w, WS_FIN | WS_OP_BINARY, buf, len, now_ms() + WRITE_TIMEOUT_MS) < 0)
        return -1;
    return (ssize_t)len;
}

void net_ws_close(struct net_ws *w)
{
    if (!w)
        return;
    if (!w->closed) {
        static const uint8_t normal[2] = {0x03, 0xE8};
        send_frame(w, WS_FIN | WS_OP_CLOSE, normal, sizeof normal, now_ms() + 100);
    }
    free(w);
}
