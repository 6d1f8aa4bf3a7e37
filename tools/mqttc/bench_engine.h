/*
 * The engine of `mqttc bench`: one epoll loop driving many MQTT connections with little state
 * each. Reads land in one shared buffer and are parsed in place (only a partial packet at the
 * end is kept per connection); outgoing packets are appended to a per-connection buffer and
 * written once per loop iteration, so a batch of packets costs one syscall.
 *
 * bench_engine.c owns sockets, the loop and writes; bench_proto.c owns the MQTT exchanges
 * (CONNECT/SUBSCRIBE set-up, publishing with pacing, acknowledgements, delivery accounting).
 */
#ifndef MQTTC_BENCH_ENGINE_H
#define MQTTC_BENCH_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "bench.h"
#include "codec/codec.h"

enum bconn_role { BCONN_PUB, BCONN_SUB, BCONN_IDLE };

enum bconn_state {
    BCONN_NEW,
    BCONN_CONNECTING,   /* TCP connect in progress */
    BCONN_HANDSHAKE,    /* TLS handshake or WebSocket upgrade in progress (bench_link.h) */
    BCONN_CONNACK_WAIT, /* CONNECT sent */
    BCONN_SUBACK_WAIT,  /* SUBSCRIBE sent */
    BCONN_READY,
    BCONN_DEAD,
};

struct bconn {
    int fd;
    uint8_t role;    /* enum bconn_role */
    uint8_t state;   /* enum bconn_state */
    bool slow;       /* a subscriber that stops reading once subscribed */
    bool dirty;      /* on the engine's flush list */
    bool want_out;   /* the socket was full: EPOLLOUT is registered */
    uint8_t hs_want; /* BCONN_HANDSHAKE: BLINK_WANT_READ or BLINK_WANT_WRITE */
    uint16_t next_pid;
    uint32_t inflight; /* QoS 1/2 publishes not yet completed */
    uint32_t window;   /* min(--inflight, the server's Receive Maximum) */
    uint32_t fan;      /* publishers: deliveries each message should cause */
    uint32_t index;    /* client number: client id and source address */
    double phase;      /* publishers: offset in [0,1) that staggers paced sends */
    char topic[64];    /* publishers: topic; subscribers: filter */
    uint8_t *in;       /* partial packet carried to the next read (owned) */
    uint32_t in_len, in_cap;
    uint8_t *out; /* packets not yet written (owned) */
    uint32_t out_off, out_len, out_cap;
    uint8_t *tmpl; /* publishers: the encoded PUBLISH, patched per message (owned) */
    uint32_t tmpl_len, pid_off;
    uint64_t due_done; /* paced publishers: messages due so far (sent or skipped) */
    uint64_t sent;
    uint64_t last_tx_ns;
    struct bconn *next_dirty;
    struct blink *link; /* TLS, WebSocket: the layers above the socket (owned); NULL on TCP */
};

struct bench_engine {
    const struct bench_opts *o;
    int ep;
    struct sockaddr_storage dst;
    socklen_t dst_len;
    struct bconn *conns; /* owned, n of them */
    uint32_t n;
    uint32_t index_base;  /* client numbers of this process start here (conn: one per child) */
    uint32_t max_opening; /* connections allowed between connect() and ready */
    uint32_t next_open, opening, ready, dead, refused;
    uint64_t open_start_ns;
    uint64_t first_ready_ns, last_ready_ns;
    uint64_t now;
    uint64_t last_ping_scan;
    struct bconn *dirty;
    uint8_t *rbuf; /* the shared read buffer (owned) */
    size_t rcap;
    int ctl_fd; /* conn children: the parent's pipe; readable (EOF) means stop */
    bool ctl_closed;
    bool busy; /* an unpaced publisher has room: poll without sleeping */

    /* Publishing and measurement. */
    bool publishing;
    bool own_only;   /* count only messages carrying `tag` (our publishers are in this process) */
    uint16_t tag;    /* this run's mark in every sequence number it publishes */
    double pub_rate; /* messages/s per publisher, 0 = as fast as the window and backlog allow */
    uint64_t pub_start_ns;
    uint64_t win_start, win_end;
    uint64_t sent_win;      /* messages stamped inside the window */
    uint64_t expected_win;  /* deliveries those messages should cause */
    uint64_t delivered_win; /* deliveries of window messages (received until the end) */
    uint64_t recv_in_win;   /* deliveries received while inside the window */
    uint64_t deliveries;    /* all deliveries */
    uint64_t foreign;       /* deliveries published by someone else, not counted */
    uint64_t skipped;       /* paced messages not sent: window or write backlog full */
    uint64_t inflight_total;
    uint64_t pub_refused; /* acknowledgements with a failure reason code */
    uint64_t lost_conns;  /* connections closed after they were ready */
    struct bench_hist hist;

    /* Transports (bench_link.c). */
    struct net_tls_creds *tls_creds; /* loaded once for every TLS connection (owned) */
    void *tls_session;               /* --tls-resume: the session every new one resumes (owned) */
    size_t tls_session_len;
    uint32_t tls_resumed; /* TLS handshakes that resumed a session */
};

/* Sets up an engine for `n` connections numbered index_base.. ; roles are assigned by the
 * caller afterwards. Resolves the broker address. Returns 0 or -1 with a message on stderr.
 * The engine keeps `o` (caller-owned, must outlive it). */
int bench_engine_init(struct bench_engine *e, const struct bench_opts *o, uint32_t n,
                      uint32_t index_base);
void bench_engine_free(struct bench_engine *e);
/* One loop iteration: opens due connections, waits up to timeout_ms for events (0 when a
 * publisher can send), handles them, publishes what is due and writes every dirty buffer. */
void bench_engine_step(struct bench_engine *e, int timeout_ms);

/* bench_engine.c, for bench_proto.c: room for `len` more outgoing bytes (NULL if out of
 * memory), and marking a connection to be flushed at the end of the iteration. */
uint8_t *bconn_reserve(struct bconn *c, size_t len);
void bconn_mark_dirty(struct bench_engine *e, struct bconn *c);
void bconn_kill(struct bench_engine *e, struct bconn *c);
void bconn_update_events(struct bench_engine *e, struct bconn *c);

/* bench_proto.c */
/* Appends a packet encoded with the codec; returns 0 or -1. */
int bproto_append(struct bench_engine *e, struct bconn *c, const struct mq_packet *p);
int bproto_send_connect(struct bench_engine *e, struct bconn *c);
/* Handles one whole packet received on c (in place, buf valid only during the call). */
void bproto_on_packet(struct bench_engine *e, struct bconn *c, const uint8_t *buf, size_t len);
/* Builds the publisher's PUBLISH template (topic, QoS, payload size). Returns 0 or -1. */
int bproto_prepare_publisher(struct bench_engine *e, struct bconn *c);
/* Appends every message due now to the publishers' buffers. */
void bproto_publish_due(struct bench_engine *e);
void bproto_ping_idle(struct bench_engine *e);

#endif
