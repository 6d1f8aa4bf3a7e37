/*
 * The transport under a `mqttc bench` connection, when it is not plain TCP: TLS (net_tls.c's
 * GnuTLS session, its handshake run in steps by the engine's epoll loop), WebSocket (the
 * upgrade and the framing, in bench_ws.c, over TCP or TLS) and QUIC (net_quic.c's bridge
 * thread, which hands the engine one end of a socket pair, so the engine treats it as a
 * stream socket). Plain TCP has no link: c->link stays NULL and the engine uses recv/send.
 *
 * Reads and writes follow read(2)/write(2) conventions on a non-blocking socket (-1 with
 * errno EAGAIN when nothing can be done now), so the engine's batching is unchanged: one
 * write call per connection and loop iteration, which TLS turns into full-size records and
 * WebSocket into one frame.
 */
#ifndef MQTTC_BENCH_LINK_H
#define MQTTC_BENCH_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct bench_engine;
struct bconn;
struct bws;

/* Results of blink_handshake and what the engine then waits for. */
enum { BLINK_DONE = 0, BLINK_WANT_READ = 1, BLINK_WANT_WRITE = 2 };

/* Engine-wide transport state: TLS credentials loaded once, and the session a connection
 * brought back for the others to resume (--tls-resume). */
int blink_engine_init(struct bench_engine *e);
void blink_engine_free(struct bench_engine *e);

/* QUIC: starts the connection (without waiting for its handshake) and returns the socket the
 * engine reads and writes, or -1 after a message on stderr. */
int blink_quic_open(struct bench_engine *e);

/* The socket of c is connected: sets up what runs above it. Returns BLINK_DONE when MQTT can
 * start at once (TCP, QUIC), else runs the first handshake step (as blink_handshake). */
int blink_start(struct bench_engine *e, struct bconn *c);
/* One step of the TLS handshake and then the WebSocket upgrade: BLINK_DONE, BLINK_WANT_READ,
 * BLINK_WANT_WRITE, or -1 after a message on stderr (first failure only). */
int blink_handshake(struct bench_engine *e, struct bconn *c);

/* MQTT bytes into buf: as many as arrived (TLS reads records until the socket is empty). */
ssize_t blink_read(struct bench_engine *e, struct bconn *c, void *buf, size_t len);
/* MQTT bytes out: the number taken, or -1 with errno. After EAGAIN the same bytes must be
 * offered again first (TLS resends the record it started). */
ssize_t blink_write(struct bconn *c, const void *buf, size_t len);
/* Writes what the link itself holds (a WebSocket frame, a pong). 1 when nothing is left,
 * 0 when the socket is full, -1 on error. */
int blink_flush(struct bconn *c);
/* The link has bytes of its own to write (a pong): the connection needs a flush. */
bool blink_pending_out(struct bconn *c);
/* Decrypted bytes waiting in the link that no epoll event will announce. */
bool blink_buffered(struct bconn *c);
void blink_free(struct bconn *c);

/* bench_ws.c: the WebSocket part, over the link's lower read/write (TCP or TLS). */
struct bws *bws_new(void);
void bws_free(struct bws *w);
/* Upgrade steps, as blink_handshake. */
int bws_upgrade(struct bench_engine *e, struct bconn *c, struct bws *w);
ssize_t bws_read(struct bconn *c, struct bws *w, void *buf, size_t len);
ssize_t bws_write(struct bconn *c, struct bws *w, const void *buf, size_t len);
int bws_flush(struct bconn *c, struct bws *w);
bool bws_pending(const struct bws *w);

/* bench_link.c, for bench_ws.c: the bytes below WebSocket (TLS or the socket). */
ssize_t blink_lower_read(struct bconn *c, void *buf, size_t len);
ssize_t blink_lower_write(struct bconn *c, const void *buf, size_t len);

#endif
