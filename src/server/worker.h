/*
 * A worker: one thread running one libuv loop that owns a share of the connections. Each worker
 * listens on every listener's port (SO_REUSEPORT, so the kernel spreads connections), runs the
 * connection engines of its connections, and flushes their output once per loop iteration so
 * that many packets leave in one write.
 *
 * Other threads reach a worker only through its inbox (a mutex-guarded list drained after one
 * uv_async wake-up): "flush this connection's output", "this connection was taken over", "stop".
 */
#ifndef MQTTD_WORKER_H
#define MQTTD_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

struct broker;
struct conn;
struct listener;
struct quic_endpoint;
struct worker;

/* One listening socket of one worker. */
struct worker_listener {
    uv_poll_t handle;
    int fd;
    struct worker *worker;
    const struct listener *listener;
    /* A QUIC listener has no stream handle: its UDP endpoint, on the worker that owns it, or
     * NULL on the others (see transport/quic.h). */
    struct quic_endpoint *quic;
};

enum inbox_kind { INBOX_FLUSH, INBOX_KICK };

/* A publisher whose reading backpressure paused (session.h), until `congested` drains. */
struct held_publisher {
    struct conn *conn;         /* one reference */
    struct session *congested; /* one reference */
    uint64_t since_ms;
};

struct inbox_item {
    enum inbox_kind kind;
    struct conn *conn; /* one reference owned by the item */
};

struct worker {
    unsigned index;
    struct broker *broker;
    uv_loop_t loop;
    uv_thread_t thread;
    uv_async_t wake;
    uv_check_t flush_check;
    uv_timer_t tick;
    uv_timer_t grace;
    uv_timer_t held_check; /* every HOLD_CHECK_MS while `held` is not empty */
    uint64_t last_sweep_ms;

    pthread_mutex_t inbox_lock;
    struct inbox_item *inbox;
    size_t inbox_count, inbox_cap;
    bool stop_requested; /* under inbox_lock */
    unsigned grace_ms;   /* under inbox_lock */
    bool stopping;       /* owner thread only */

    struct conn **dirty; /* connections with output to flush this iteration (owner only) */
    size_t dirty_count, dirty_cap;

    /* Wake-up coalescing (worker.c, linger): the sleep, and the loop's clock and idle time
     * at the end of the last iteration. */
    uint64_t linger_ns, last_check_ns, last_idle_ns;

    /* Workers this one posted to during the iteration, woken once each when it ends (owner
     * only), so a burst of cross-worker deliveries costs one wake-up, not one per message. */
    struct worker **wake_later;
    size_t wake_later_count, wake_later_cap;

    struct held_publisher *held; /* owner only */
    size_t held_count, held_cap;

    struct conn *conns; /* every connection of this worker */
    size_t conn_count;

    struct worker_listener *listeners;
    size_t listener_count;

    uint8_t read_buffer[65536]; /* shared by all this worker's connections: none holds one */
};

/* Prepares a worker; listen_fds[i] is this worker's socket for listeners[i], already bound and
 * listening. */
int worker_init(struct worker *w, unsigned index, struct broker *b,
                const struct listener *listeners, const int *listen_fds, size_t listener_count);
int worker_start(struct worker *w);
/* Asks the worker to stop (any thread): v5 clients get DISCONNECT 0x8B, output is flushed for
 * up to grace_ms, then everything closes and the thread ends. */
void worker_request_stop(struct worker *w, unsigned grace_ms);
void worker_join(struct worker *w);
void worker_destroy(struct worker *w);

/* The worker whose thread is running, or NULL on any other thread. */
struct worker *worker_current(void);

/* Queues work for a worker from any thread (takes over the item's reference). */
void worker_post(struct worker *w, enum inbox_kind kind, struct conn *c);
/* Watches a held publisher until conn_hold_check ends its hold (owner thread; takes both
 * references, and drops them itself when out of memory, ending the hold at once). */
void worker_hold(struct worker *w, struct conn *c, struct session *congested, uint64_t now_ms);
/* Adds a connection to this worker's flush list (owner thread). */
void worker_mark_dirty(struct worker *w, struct conn *c);

/* Connection list bookkeeping for transports (owner thread). */
void worker_add_conn(struct worker *w, struct conn *c);
void worker_remove_conn(struct worker *w, struct conn *c);

/* Flushes one connection's pending output through its transport (owner thread). */
void worker_flush_conn(struct conn *c);

#endif
