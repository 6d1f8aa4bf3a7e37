/*
 * WebSocket for mqttc (ws:// and wss:// URLs): the HTTP upgrade with subprotocol `mqtt`, then
 * MQTT bytes carried in masked binary frames. It sits on the socket net_connect made, or on the
 * TLS session net_tls_start made (wss). Reads and writes behave like read(2)/write(2) on a
 * non-blocking socket, so client.c keeps its poll() loop.
 */
#ifndef MQTTC_NET_WS_H
#define MQTTC_NET_WS_H

#include <stddef.h>
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

/* Sends a close frame if the socket takes it, and frees the state (not the fd or the TLS
 * session). NULL is ignored. */
void net_ws_close(struct net_ws *w);

#endif
