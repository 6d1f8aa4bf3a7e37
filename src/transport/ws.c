/*
 * The WebSocket layer (see ws.h): the HTTP upgrade, then frames. Framing is written here rather
 * than taken from libwslay because the layer contract wants bytes handed up only outside any
 * library callback, and a frame parser that streams payloads through is shorter than the glue
 * wslay's callback style would need (docs/TRANSPORTS.md).
 *
 * A connection moves through three phases: HANDSHAKE (collecting the HTTP request), OPEN
 * (frames both ways) and CLOSED (a close frame or an HTTP refusal was sent; input is ignored and
 * the link is closing). Every failure sends what the peer should hear (an HTTP status, a close
 * frame with its status code) before io->fail.
 */
#include "transport/ws.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codec/codec.h"

/* An upgrade request is a few hundred bytes; anything near this is not a WebSocket client. */
#define WS_REQUEST_MAX 8192
/* Unmasked payload goes up in pieces of at most this size (a stack buffer, no allocation). */
#define WS_CHUNK 16384
#define WS_CONTROL_MAX 125
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

struct ws_settings {
    const struct mq_listener_config *config;
};

enum ws_phase { WS_HANDSHAKE, WS_OPEN, WS_CLOSED };

struct ws_conn {
    const struct ws_settings *settings;
    const struct layer_io *io;
    enum ws_phase phase;
    /* The HTTP request so far; freed once the handshake is over. */
    char *request;
    size_t request_len;
    /* The frame being read: its header, then its payload. */
    uint8_t header[WS_FRAME_HEADER_MAX];
    size_t header_len;
    bool in_payload;
    uint8_t opcode;
    uint8_t mask[4];
    uint64_t payload_left;
    uint64_t payload_pos; /* where in the mask the next byte falls */
    /* A data message whose last frame has not come yet (fragmentation). */
    bool in_message;
    uint8_t control[WS_CONTROL_MAX];
    size_t control_len;
};

void *ws_settings_new(const struct mq_listener_config *config)
{
    struct ws_settings *s = calloc(1, sizeof *s);
    if (s)
        s->config = config;
    return s;
}

void ws_settings_free(void *settings)
{
    free(settings);
}

size_t ws_frame_header(uint8_t out[WS_FRAME_HEADER_MAX], uint8_t fin_opcode, uint64_t len,
                       const uint8_t *mask)
{
    size_t n = 0;
    uint8_t mask_bit = mask ? 0x80 : 0;
    out[n++] = fin_opcode;
    if (len < 126) {
        out[n++] = (uint8_t)(mask_bit | len);
    } else if (len <= 0xFFFF) {
        out[n++] = mask_bit | 126;
        out[n++] = (uint8_t)(len >> 8);
        out[n++] = (uint8_t)len;
    } else {
        out[n++] = mask_bit | 127;
        for (int shift = 56; shift >= 0; shift -= 8)
            out[n++] = (uint8_t)(len >> shift);
    }
    if (mask) {
        memcpy(out + n, mask, 4);
        n += 4;
    }
    return n;
}

static void base64_encode(const uint8_t *in, size_t len, char *out)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[o++] = alphabet[(v >> 18) & 63];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? alphabet[v & 63] : '=';
    }
    out[o] = '\0';
}

int ws_accept_key(const char *key, size_t key_len, char out[29])
{
    char joined[64 + sizeof WS_GUID];
    uint8_t digest[20];
    if (key_len > 64)
        return -1;
    memcpy(joined, key, key_len);
    memcpy(joined + key_len, WS_GUID, sizeof WS_GUID - 1);
    if (gnutls_hash_fast(GNUTLS_DIG_SHA1, joined, key_len + sizeof WS_GUID - 1, digest) != 0)
        return -1;
    base64_encode(digest, sizeof digest, out);
    return 0;
}

/* ---- Sending ---- */

static void send_frame(struct ws_conn *ws, uint8_t fin_opcode, const uint8_t *payload, size_t len)
{
    uint8_t header[WS_FRAME_HEADER_MAX];
    size_t n = ws_frame_header(header, fin_opcode, len, NULL);
    ws->io->down(ws->io->link, header, n);
    if (len)
        ws->io->down(ws->io->link, payload, len);
}

static void send_close(struct ws_conn *ws, unsigned code)
{
    uint8_t payload[2] = {(uint8_t)(code >> 8), (uint8_t)code};
    send_frame(ws, WS_FIN | WS_OP_CLOSE, payload, code ? 2 : 0);
    ws->phase = WS_CLOSED;
}

/* Ends the connection with a close frame carrying `code`; `reason` goes to the log. */
static int close_with(struct ws_conn *ws, unsigned code, const char *reason)
{
    send_close(ws, code);
    ws->io->fail(ws->io->link, reason);
    return -1;
}

/* ---- The HTTP upgrade ---- */

struct ws_request {
    const char *method, *target, *version;
    const char *upgrade, *connection, *key, *ws_version, *origin;
    /* Sec-WebSocket-Protocol may be repeated; the first offer we speak wins. */
    const char *protocol;
    size_t protocol_len;
};

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Next comma-separated token of *cursor with blanks trimmed; NULL at the end of the list. */
static const char *next_token(const char **cursor, size_t *len)
{
    const char *p = *cursor;
    while (*p == ',' || is_ows(*p))
        p++;
    if (*p == '\0')
        return NULL;
    const char *start = p;
    while (*p && *p != ',')
        p++;
    const char *end = p;
    while (end > start && is_ows(end[-1]))
        end--;
    *cursor = p;
    *len = (size_t)(end - start);
    return start;
}

static bool list_has_token(const char *list, const char *token)
{
    size_t len;
    const char *t;
    while (list && (t = next_token(&list, &len)) != NULL)
        if (len == strlen(token) && strncasecmp(t, token, len) == 0)
            return true;
    return false;
}

static void choose_protocol(struct ws_request *r, const char *offers)
{
    size_t len;
    const char *t;
    while (!r->protocol && (t = next_token(&offers, &len)) != NULL) {
        if ((len == 4 && strncmp(t, "mqtt", 4) == 0) ||
            (len == 8 && strncmp(t, "mqttv3.1", 8) == 0)) {
            r->protocol = t;
            r->protocol_len = len;
        }
    }
}

/* Splits the request (NUL-terminated, ending in an empty line) in place. 0, or -1 if it is not
 * HTTP. */
static int parse_request(char *text, struct ws_request *r)
{
    char *line = text;
    char *eol = strstr(line, "\r\n");
    if (!eol)
        return -1;
    *eol = '\0';
    r->method = line;
    char *sp1 = strchr(line, ' ');
    char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!sp1 || !sp2 || strchr(sp2 + 1, ' '))
        return -1;
    *sp1 = *sp2 = '\0';
    r->target = sp1 + 1;
    r->version = sp2 + 1;
    for (line = eol + 2; (eol = strstr(line, "\r\n")) != NULL && eol != line; line = eol + 2) {
        *eol = '\0';
        char *colon = strchr(line, ':');
        if (!colon || colon == line || is_ows(line[0]))
            return -1;
        *colon = '\0';
        char *value = colon + 1;
        while (is_ows(*value))
            value++;
        for (char *end = value + strlen(value); end > value && is_ows(end[-1]);)
            *--end = '\0';
        if (strcasecmp(line, "Upgrade") == 0)
            r->upgrade = value;
        else if (strcasecmp(line, "Connection") == 0)
            r->connection = value;
        else if (strcasecmp(line, "Sec-WebSocket-Key") == 0)
            r->key = value;
        else if (strcasecmp(line, "Sec-WebSocket-Version") == 0)
            r->ws_version = value;
        else if (strcasecmp(line, "Origin") == 0)
            r->origin = value;
        else if (strcasecmp(line, "Sec-WebSocket-Protocol") == 0)
            choose_protocol(r, value);
    }
    return 0;
}

/* A Sec-WebSocket-Key is 16 random bytes in base64: 22 characters and "==". */
static bool key_is_valid(const char *key)
{
    if (!key || strlen(key) != 24 || strcmp(key + 22, "==") != 0)
        return false;
    for (size_t i = 0; i < 22; i++) {
        char c = key[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/'))
            return false;
    }
    return true;
}

static bool origin_allowed(const struct mq_listener_config *c, const char *origin)
{
    /* Only browsers send Origin, and the allow-list is there to stop other sites' pages; a
     * client without one is not a browser and could claim any origin anyway. */
    if (c->ws_origin_count == 0 || !origin)
        return true;
    for (size_t i = 0; i < c->ws_origin_count; i++)
        if (strcasecmp(c->ws_origins[i], origin) == 0)
            return true;
    return false;
}

static int refuse(struct ws_conn *ws, const char *status, const char *extra_header,
                  const char *body)
{
    char response[512];
    int n = snprintf(response, sizeof response,
                     "HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n%s\r\n%s\n",
                     status, strlen(body) + 1, extra_header, body);
    if (n > 0 && (size_t)n < sizeof response)
        ws->io->down(ws->io->link, (const uint8_t *)response, (size_t)n);
    ws->phase = WS_CLOSED;
    char reason[160];
    snprintf(reason, sizeof reason, "upgrade refused (%s): %s", status, body);
    ws->io->fail(ws->io->link, reason);
    return -1;
}

static int path_matches(const char *target, const char *path)
{
    size_t len = strcspn(target, "?");
    return strlen(path) == len && strncmp(target, path, len) == 0;
}

/* Answers a complete request: 101 and phase OPEN, or a refusal. */
static int answer_request(struct ws_conn *ws, char *text)
{
    const struct mq_listener_config *c = ws->settings->config;
    struct ws_request r = {0};
    if (parse_request(text, &r) != 0 || strncmp(r.version, "HTTP/1.", 7) != 0 ||
        strcmp(r.version, "HTTP/1.0") == 0)
        return refuse(ws, "400 Bad Request", "", "not an HTTP/1.1 request");
    if (strcmp(r.method, "GET") != 0)
        return refuse(ws, "405 Method Not Allowed", "Allow: GET\r\n", "only GET upgrades");
    if (!path_matches(r.target, c->path ? c->path : "/mqtt"))
        return refuse(ws, "404 Not Found", "", "no MQTT WebSocket endpoint at this path");
    if (!list_has_token(r.upgrade, "websocket") || !list_has_token(r.connection, "upgrade"))
        return refuse(ws, "426 Upgrade Required", "Upgrade: websocket\r\n",
                      "this endpoint speaks MQTT over WebSocket only");
    if (!r.ws_version || strcmp(r.ws_version, "13") != 0)
        return refuse(ws, "426 Upgrade Required", "Sec-WebSocket-Version: 13\r\n",
                      "WebSocket version 13 is required");
    if (!key_is_valid(r.key))
        return refuse(ws, "400 Bad Request", "", "missing or malformed Sec-WebSocket-Key");
    if (!origin_allowed(c, r.origin))
        return refuse(ws, "403 Forbidden", "", "origin not allowed");
    if (!r.protocol)
        return refuse(ws, "400 Bad Request", "",
                      "Sec-WebSocket-Protocol must offer mqtt or mqttv3.1");
    char accept[29];
    if (ws_accept_key(r.key, strlen(r.key), accept) != 0)
        return refuse(ws, "500 Internal Server Error", "", "cannot compute the accept key");
    char response[256];
    int n = snprintf(response, sizeof response,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
                     "Sec-WebSocket-Protocol: %.*s\r\n\r\n",
                     accept, (int)r.protocol_len, r.protocol);
    ws->io->down(ws->io->link, (const uint8_t *)response, (size_t)n);
    ws->phase = WS_OPEN;
    return 0;
}

/* Collects the request. Returns how many bytes of `data` it took (the rest are frames), or -1
 * when the connection was refused. */
static long handshake_feed(struct ws_conn *ws, const uint8_t *data, size_t len)
{
    size_t old_len = ws->request_len;
    size_t take = len;
    if (take > WS_REQUEST_MAX - old_len)
        take = WS_REQUEST_MAX - old_len;
    char *grown = realloc(ws->request, old_len + take + 1);
    if (!grown) {
        ws->phase = WS_CLOSED;
        ws->io->fail(ws->io->link, "out of memory");
        return -1;
    }
    ws->request = grown;
    memcpy(grown + old_len, data, take);
    ws->request_len = old_len + take;
    grown[ws->request_len] = '\0';
    /* An MQTT client on the wrong port would otherwise wait for its CONNECT timeout. */
    if (old_len == 0 && take > 0 && !(data[0] >= 'A' && data[0] <= 'Z'))
        return refuse(ws, "400 Bad Request", "", "not an HTTP request");
    if (memchr(grown + old_len, '\0', take))
        return refuse(ws, "400 Bad Request", "", "NUL byte in the request");
    char *end = strstr(grown + (old_len > 3 ? old_len - 3 : 0), "\r\n\r\n");
    if (!end) {
        if (ws->request_len == WS_REQUEST_MAX)
            return refuse(ws, "431 Request Header Fields Too Large", "", "request too large");
        return (long)take;
    }
    size_t request_end = (size_t)(end - grown) + 4;
    end[4] = '\0';
    int rc = answer_request(ws, grown);
    free(ws->request);
    ws->request = NULL;
    ws->request_len = 0;
    return rc != 0 ? -1 : (long)(request_end - old_len);
}

/* ---- Frames from the client ---- */

static size_t header_needed(const struct ws_conn *ws)
{
    if (ws->header_len < 2)
        return 2;
    uint8_t len7 = ws->header[1] & 0x7F;
    return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((ws->header[1] & 0x80) ? 4 : 0);
}

/* Checks what the first two header bytes say, before the rest arrives. */
static int check_frame_start(struct ws_conn *ws)
{
    uint8_t b0 = ws->header[0], b1 = ws->header[1];
    uint8_t opcode = b0 & 0x0F;
    bool fin = b0 & WS_FIN;
    if (b0 & 0x70)
        return close_with(ws, WS_CLOSE_PROTOCOL_ERROR, "frame with reserved bits set");
    if (!(b1 & 0x80))
        return close_with(ws, WS_CLOSE_PROTOCOL_ERROR, "unmasked frame from the client");
    switch (opcode) {
    case WS_OP_CLOSE:
    case WS_OP_PING:
    case WS_OP_PONG:
        if (!fin || (b1 & 0x7F) > WS_CONTROL_MAX)
            return close_with(ws, WS_CLOSE_PROTOCOL_ERROR, "fragmented or long control frame");
        return 0;
    case WS_OP_TEXT:
        return close_with(ws, WS_CLOSE_UNSUPPORTED_DATA, "text frame (MQTT needs binary)");
    case WS_OP_BINARY:
        if (ws->in_message)
            return close_with(ws, WS_CLOSE_PROTOCOL_ERROR, "new message inside a fragmented one");
        return 0;
    case WS_OP_CONTINUATION:
        if (!ws->in_message)
            return close_with(ws, WS_CLOSE_PROTOCOL_ERROR, "continuation frame with no message");
        return 0;
    default:
        return close_with(ws, WS_CLOSE_PROTOCOL_ERROR, "unknown opcode");
    }
}

/* The header is complete: reads the length and mask. */
static int start_payload(struct ws_conn *ws)
{
    const uint8_t *h = ws->header;
    uint8_t len7 = h[1] & 0x7F;
    uint64_t len = len7;
    size_t pos = 2;
    if (len7 == 126) {
        len = (uint64_t)h[2] << 8 | h[3];
        pos = 4;
    } else if (len7 == 127) {
        len = 0;
        for (pos = 2; pos < 10; pos++)
            len = len << 8 | h[pos];
        if (len >> 63)
            return close_with(ws, WS_CLOSE_PROTOCOL_ERROR, "frame length with its top bit set");
    }
    uint64_t max = ws->settings->config->ws_max_frame_size;
    if (max && len > max)
        return close_with(ws, WS_CLOSE_TOO_BIG, "frame larger than websockets_max_frame_size");
    memcpy(ws->mask, h + pos, 4);
    ws->opcode = h[0] & 0x0F;
    if (ws->opcode == WS_OP_BINARY || ws->opcode == WS_OP_CONTINUATION)
        ws->in_message = !(h[0] & WS_FIN);
    ws->payload_left = len;
    ws->payload_pos = 0;
    ws->control_len = 0;
    ws->in_payload = true;
    return 0;
}

static int on_close_frame(struct ws_conn *ws)
{
    unsigned code = 0;
    if (ws->control_len == 1)
        return close_with(ws, WS_CLOSE_PROTOCOL_ERROR, "close frame with a 1-byte payload");
    if (ws->control_len >= 2) {
        code = (unsigned)ws->control[0] << 8 | ws->control[1];
        bool known = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
                     (code >= 3000 && code <= 4999);
        if (!known)
            return close_with(ws, WS_CLOSE_PROTOCOL_ERROR, "close frame with an invalid code");
        if (!mq_utf8_valid(ws->control + 2, ws->control_len - 2))
            return close_with(ws, WS_CLOSE_INVALID_PAYLOAD, "close reason is not UTF-8");
    }
    /* Echo the peer's status code, then the link closes TCP: the server closes first. */
    char reason[64];
    snprintf(reason, sizeof reason, "closed by the peer (close frame %u)", code);
    return close_with(ws, code, reason);
}

static int end_frame(struct ws_conn *ws)
{
    ws->in_payload = false;
    ws->header_len = 0;
    switch (ws->opcode) {
    case WS_OP_PING:
        send_frame(ws, WS_FIN | WS_OP_PONG, ws->control, ws->control_len);
        return 0;
    case WS_OP_CLOSE:
        return on_close_frame(ws);
    default:
        return 0;
    }
}

/* Unmasks a run of payload: into the control buffer, or up to the engine in chunks. */
static void take_payload(struct ws_conn *ws, const uint8_t *data, size_t n)
{
    uint8_t chunk[WS_CHUNK];
    bool control = ws->opcode & 0x08;
    while (n > 0 && ws->phase == WS_OPEN) {
        size_t piece = n < WS_CHUNK ? n : WS_CHUNK;
        uint8_t *out = control ? ws->control + ws->control_len : chunk;
        for (size_t i = 0; i < piece; i++)
            out[i] = data[i] ^ ws->mask[(ws->payload_pos + i) & 3];
        ws->payload_pos += piece;
        ws->payload_left -= piece;
        data += piece;
        n -= piece;
        if (control)
            ws->control_len += piece;
        else
            ws->io->up(ws->io->link, chunk, piece); /* may close us: the loop checks */
    }
}

static int frames_feed(struct ws_conn *ws, const uint8_t *data, size_t len)
{
    while (len > 0 && ws->phase == WS_OPEN) {
        if (!ws->in_payload) {
            size_t need = header_needed(ws);
            size_t had = ws->header_len;
            size_t copy = need - had < len ? need - had : len;
            memcpy(ws->header + had, data, copy);
            ws->header_len += copy;
            data += copy;
            len -= copy;
            if (had < 2 && ws->header_len >= 2 && check_frame_start(ws) != 0)
                return -1;
            if (ws->header_len < header_needed(ws))
                continue;
            if (start_payload(ws) != 0)
                return -1;
        }
        size_t n = ws->payload_left < len ? (size_t)ws->payload_left : len;
        take_payload(ws, data, n);
        data += n;
        len -= n;
        if (ws->phase == WS_OPEN && ws->payload_left == 0 && end_frame(ws) != 0)
            return -1;
    }
    return 0;
}

/* ---- The layer ---- */

static int ws_from_below(void *state, const uint8_t *data, size_t len)
{
    struct ws_conn *ws = state;
    if (ws->phase == WS_HANDSHAKE) {
        long used = handshake_feed(ws, data, len);
        if (used < 0)
            return -1;
        data += used;
        len -= (size_t)used;
    }
    return ws->phase == WS_OPEN ? frames_feed(ws, data, len) : 0;
}

static int ws_from_above(void *state, const uint8_t *data, size_t len)
{
    struct ws_conn *ws = state;
    if (ws->phase == WS_OPEN && len > 0)
        send_frame(ws, WS_FIN | WS_OP_BINARY, data, len);
    return 0;
}

static void ws_closing(void *state)
{
    struct ws_conn *ws = state;
    if (ws->phase == WS_OPEN)
        send_close(ws, WS_CLOSE_NORMAL);
    ws->phase = WS_CLOSED;
}

static void ws_free(void *state)
{
    struct ws_conn *ws = state;
    free(ws->request);
    free(ws);
}

static const struct layer_ops ws_ops = {
    .name = "websocket",
    .from_below = ws_from_below,
    .from_above = ws_from_above,
    .closing = ws_closing,
    .free = ws_free,
};

int ws_layer_new(void *settings, const struct layer_io *io, struct layer *out)
{
    struct ws_conn *ws = calloc(1, sizeof *ws);
    if (!ws)
        return -1;
    ws->settings = settings;
    ws->io = io;
    out->ops = &ws_ops;
    out->state = ws;
    return 0;
}
