/*
 * WebSocket for mqttc (ws:// and wss:// URLs): the HTTP upgrade with subprotocol `mqtt`, then
 * MQTT bytes carried in masked binary frames. It sits on the socket net_connect made, or on the
 * TLS session net_tls_start made (wss). Reads and writes behave like read(2)/write(2) on a
 * non-blocking socket, so client.c keeps its poll() loop.
 */
#ifndef MQTTC_NET_WS_H
#define MQTTC_NET_WS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct net_tls;
struct net_ws;

/*
 * Runs the upgrade for `path` (e.g. "/mqtt") on `fd` (connected, non-blocking; still owned by
 * the caller), through `tls` when not NULL (borrowed; must outlive the WebSocket), within
 * timeout_ms. `host` and `port` (borrowed) make the Host header. Returns 0 and *out (free with
 * net_ws_close), or -1 with a message in err[errlen].
 */
int net_ws_start(int fd, struct net_tls *tls, const char *host, const char *port, const char *path,
                 int timeout_ms, struct net_ws **out, char *err, size_t errlen);

/* As read(2): unframed bytes, 0 once the server closed (close frame or end of stream), or -1
 * with errno (EAGAIN: nothing now; EPROTO: the server broke the WebSocket protocol). Pings are
 * answered inside. */
ssize_t net_ws_read(struct net_ws *w, void *buf, size_t len);

/* As write(2), but all of `buf` goes in one frame and the call waits (up to 30 s) until the
 * socket took the whole frame: returns len, or -1 with errno. */
ssize_t net_ws_write(struct net_ws *w, const void *buf, size_t len);

/*
 * The pieces of the protocol without I/O, shared with mqttc bench, which runs many upgrades
 * at once in its own loop.
 */
/* Writes the upgrade request for `path` into req[reqlen] and the Sec-WebSocket-Accept value
 * the server must answer with into expected. Returns the request's length, or -1 with a
 * message in err[errlen]. */
int net_ws_request(const char *host, const char *port, const char *path, char *req, size_t reqlen,
                   char expected[29], char *err, size_t errlen);
/* Checks a response head (NUL-terminated, the status line and headers) against `expected`:
 * 101, the accept key, subprotocol mqtt. Returns 0, or -1 with a message in err[errlen]. */
int net_ws_check_response(const char *head, const char *expected, char *err, size_t errlen);
/* Reads the header of a server frame from h[avail]: returns its length with *opcode and
 * *payload_len set, 0 when the header is not complete yet, or -1 when the frame is masked
 * (servers never mask). */
int net_ws_parse_header(const uint8_t *h, size_t avail, uint8_t *opcode, uint64_t *payload_len);
/* Writes a client frame (header, random mask, masked payload) into out, which has room for
 * len + 14 bytes. Returns the frame's length, or 0 when no random mask could be made. */
size_t net_ws_frame(uint8_t *out, uint8_t fin_opcode, const void *payload, size_t len);

/* Sends a close frame if the socket takes it, and frees the state (not the fd or the TLS
 * session). NULL is ignored. */
void net_ws_close(struct net_ws *w);

#endif
