/*
 * Worker threads (see worker.h): the loop, the inbox other threads post to, the per-iteration
 * flush of connection output, the periodic tick for keep alive and session expiry, and the
 * graceful stop.
 */
#include "server/worker.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/sys_topics.h"
#include "server/ip_table.h"
#include "server/listener.h"
#include "server/log.h"
#include "session/conn.h"
#include "session/session.h"
#include "transport/quic.h"
#include "transport/tcp.h"

#define TICK_MS 100
/* How often held publishers look at their subscriber's queue: at 100k messages/s a queue of
 * 1,000 drains by a quarter in 2.5 ms. */
#define HOLD_CHECK_MS 1
#define SWEEP_MS 1000

static _Thread_local struct worker *current;

struct worker *worker_current(void)
{
    return current;
}

void worker_add_conn(struct worker *w, struct conn *c)
{
    c->worker_prev = NULL;
    c->worker_next = w->conns;
    if (w->conns)
        w->conns->worker_prev = c;
    w->conns = c;
    w->conn_count++;
}

void worker_remove_conn(struct worker *w, struct conn *c)
{
    if (c->worker_prev)
        c->worker_prev->worker_next = c->worker_next;
    else if (w->conns == c)
        w->conns = c->worker_next;
    if (c->worker_next)
        c->worker_next->worker_prev = c->worker_prev;
    c->worker_prev = c->worker_next = NULL;
    w->conn_count--;
}

void worker_flush_conn(struct conn *c)
{
    c->transport->flush(c);
}

void worker_mark_dirty(struct worker *w, struct conn *c)
{
    if (w->dirty_count == w->dirty_cap) {
        size_t cap = w->dirty_cap ? w->dirty_cap * 2 : 64;
        struct conn **d = realloc(w->dirty, cap * sizeof *d);
        if (!d) {
            worker_flush_conn(c);
            return;
        }
        w->dirty = d;
        w->dirty_cap = cap;
    }
    w->dirty[w->dirty_count++] = conn_ref(c);
}

/* Returns false when the list cannot grow: the caller then wakes `target` at once. */
static bool wake_at_end_of_iteration(struct worker *self, struct worker *target)
{
    for (size_t i = 0; i < self->wake_later_count; i++)
        if (self->wake_later[i] == target)
            return true;
    if (self->wake_later_count == self->wake_later_cap) {
        size_t cap = self->wake_later_cap ? self->wake_later_cap * 2 : 8;
        struct worker **list = realloc(self->wake_later, cap * sizeof *list);
        if (!list)
            return false;
        self->wake_later = list;
        self->wake_later_cap = cap;
    }
    self->wake_later[self->wake_later_count++] = target;
    return true;
}

static void wake_deferred(struct worker *self)
{
    for (size_t i = 0; i < self->wake_later_count; i++)
        uv_async_send(&self->wake_later[i]->wake);
    self->wake_later_count = 0;
}

void worker_post(struct worker *w, enum inbox_kind kind, struct conn *c)
{
    pthread_mutex_lock(&w->inbox_lock);
    bool was_empty = w->inbox_count == 0;
    if (w->inbox_count == w->inbox_cap) {
        size_t cap = w->inbox_cap ? w->inbox_cap * 2 : 64;
        struct inbox_item *items = realloc(w->inbox, cap * sizeof *items);
        if (!items) {
            pthread_mutex_unlock(&w->inbox_lock);
            conn_unref(c);
            return;
        }
        w->inbox = items;
        w->inbox_cap = cap;
    }
    w->inbox[w->inbox_count++] = (struct inbox_item){kind, c};
    pthread_mutex_unlock(&w->inbox_lock);
    /* One wake-up per batch: the loop drains everything that arrived meanwhile. A worker
     * posting to another wakes it when its own iteration ends, with the whole batch queued. */
    if (!was_empty)
        return;
    struct worker *self = worker_current();
    if (!self || self == w || !wake_at_end_of_iteration(self, w))
        uv_async_send(&w->wake);
}

static void check_held(uv_timer_t *t)
{
    struct worker *w = t->data;
    uint64_t now = broker_now_ms();
    /* An ended hold may start another at once (the waiting input congests again): the list
     * is taken as it is now, and those new holds join a fresh one. */
    struct held_publisher *list = w->held;
    size_t n = w->held_count;
    w->held = NULL;
    w->held_count = w->held_cap = 0;
    for (size_t i = 0; i < n; i++) {
        struct held_publisher *h = &list[i];
        if (conn_hold_check(h->conn, h->congested, h->since_ms, now))
            conn_unref(h->conn);
        else
            worker_hold(w, h->conn, h->congested, h->since_ms);
    }
    free(list);
    if (!w->held_count)
        uv_timer_stop(&w->held_check);
}

void worker_hold(struct worker *w, struct conn *c, struct session *congested, uint64_t now_ms)
{
    if (w->held_count == w->held_cap) {
        size_t cap = w->held_cap ? w->held_cap * 2 : 16;
        struct held_publisher *list = realloc(w->held, cap * sizeof *list);
        if (!list) {
            conn_hold_check(c, congested, 0, UINT64_MAX);
            conn_unref(c);
            return;
        }
        w->held = list;
        w->held_cap = cap;
    }
    w->held[w->held_count++] = (struct held_publisher){c, congested, now_ms};
    if (!uv_is_active((uv_handle_t *)&w->held_check))
        uv_timer_start(&w->held_check, check_held, HOLD_CHECK_MS, HOLD_CHECK_MS);
}

static void flush_dirty(struct worker *w)
{
    /* Flushing can make more connections dirty (rarely); take the list as it is now. */
    while (w->dirty_count) {
        size_t n = w->dirty_count;
        struct conn **batch = w->dirty;
        w->dirty = NULL;
        w->dirty_count = w->dirty_cap = 0;
        for (size_t i = 0; i < n; i++) {
            worker_flush_conn(batch[i]);
            conn_unref(batch[i]);
        }
        free(batch);
    }
}

/*
 * Wake-up coalescing. On a loaded but not saturated broker every message arriving alone wakes a
 * worker, and the wake-up (a context switch) costs more than handling the message. When this
 * iteration both waited and worked less than the linger time, the worker sleeps for it, so the
 * next poll returns with everything that arrived meanwhile. An idle broker (long waits) and a
 * saturated one (long iterations) never sleep; a message waits at most one linger per worker.
 */
static void linger(struct worker *w)
{
    if (!w->linger_ns)
        return;
    uint64_t now = uv_hrtime();
    uint64_t idle = uv_metrics_idle_time(&w->loop);
    uint64_t waited = idle - w->last_idle_ns;
    uint64_t worked = now - w->last_check_ns - waited;
    w->last_idle_ns = idle;
    w->last_check_ns = now;
    if (waited < w->linger_ns && worked < w->linger_ns) {
        struct timespec ts = {0, (long)w->linger_ns};
        nanosleep(&ts, NULL);
        w->last_check_ns = uv_hrtime();
    }
}

static void on_check(uv_check_t *h)
{
    /* Other workers first: they write their share while this one writes its own. */
    wake_deferred(h->data);
    flush_dirty(h->data);
    linger(h->data);
}

static void close_handle(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void finish_if_idle(struct worker *w)
{
    if (w->stopping && w->conn_count == 0)
        uv_walk(&w->loop, close_handle, NULL);
}

static void on_grace_expired(uv_timer_t *t)
{
    struct worker *w = t->data;
    struct conn *c = w->conns;
    while (c) {
        struct conn *next = c->worker_next;
        c->transport->close(c);
        c->transport->close(c);
        c = next;
    }
}

static void close_listener_fd(uv_handle_t *h)
{
    close(((struct worker_listener *)h->data)->fd);
}

static bool is_quic(const struct worker_listener *l)
{
    return l->listener->config->transport == MQ_TRANSPORT_QUIC;
}

static void begin_stop(struct worker *w, unsigned grace_ms)
{
    if (w->stopping)
        return;
    w->stopping = true;
    for (size_t i = 0; i < w->listener_count; i++) {
        if (is_quic(&w->listeners[i])) {
            if (w->listeners[i].quic)
                quic_endpoint_stop(w->listeners[i].quic);
            continue;
        }
        uv_close((uv_handle_t *)&w->listeners[i].handle, close_listener_fd);
    }
    struct conn *c = w->conns;
    while (c) {
        struct conn *next = c->worker_next;
        conn_ref(c);
        conn_shutdown(c);
        conn_unref(c);
        c = next;
    }
    flush_dirty(w);
    uv_timer_start(&w->grace, on_grace_expired, grace_ms, 0);
}

static void on_wake(uv_async_t *h)
{
    struct worker *w = h->data;
    pthread_mutex_lock(&w->inbox_lock);
    struct inbox_item *items = w->inbox;
    size_t n = w->inbox_count;
    bool stop = w->stop_requested;
    unsigned grace = w->grace_ms;
    w->inbox = NULL;
    w->inbox_count = w->inbox_cap = 0;
    pthread_mutex_unlock(&w->inbox_lock);
    for (size_t i = 0; i < n; i++) {
        struct conn *c = items[i].conn;
        if (items[i].kind == INBOX_FLUSH)
            worker_flush_conn(c);
        else if (c->transport_ctx)
            conn_kick_now(c);
        conn_unref(c);
    }
    free(items);
    if (stop)
        begin_stop(w, grace);
}

static void on_tick(uv_timer_t *t)
{
    struct worker *w = t->data;
    uint64_t now = broker_now_ms();
    struct conn *c = w->conns;
    while (c) {
        struct conn *next = c->worker_next;
        conn_tick(c, now);
        c = next;
    }
    if (w->index == 0) {
        limits_sample_memory(&w->broker->limits, w->broker->config, now);
        if (w->broker->limits.ip_table)
            ip_table_sweep(w->broker->limits.ip_table, now);
    }
    if (w->index == 0 && now - w->last_sweep_ms >= SWEEP_MS) {
        w->last_sweep_ms = now;
        broker_sweep(w->broker, now);
    }
    if (w->index == 0)
        sys_topics_tick(w->broker, now);
    finish_if_idle(w);
}

int worker_init(struct worker *w, unsigned index, struct broker *b,
                const struct listener *listeners, const int *listen_fds, size_t listener_count)
{
    memset(w, 0, sizeof *w);
    w->index = index;
    w->broker = b;
    w->listener_count = listener_count;
    pthread_mutex_init(&w->inbox_lock, NULL);
    if (uv_loop_init(&w->loop) != 0)
        return -1;
    uv_loop_configure(&w->loop, UV_METRICS_IDLE_TIME);
    w->linger_ns = (uint64_t)b->config->io_linger_us * 1000;
    w->loop.data = w; /* how a connection's handle finds its worker */
    uv_async_init(&w->loop, &w->wake, on_wake);
    w->wake.data = w;
    uv_check_init(&w->loop, &w->flush_check);
    w->flush_check.data = w;
    uv_check_start(&w->flush_check, on_check);
    uv_timer_init(&w->loop, &w->tick);
    w->tick.data = w;
    uv_timer_init(&w->loop, &w->grace);
    w->grace.data = w;
    uv_timer_init(&w->loop, &w->held_check);
    w->held_check.data = w;
    w->listeners = calloc(listener_count ? listener_count : 1, sizeof *w->listeners);
    if (!w->listeners)
        return -1;
    for (size_t i = 0; i < listener_count; i++) {
        struct worker_listener *l = &w->listeners[i];
        l->fd = listen_fds[i];
        l->worker = w;
        l->listener = &listeners[i];
        if (is_quic(l)) {
            char err[256];
            if (l->fd >= 0 &&
                quic_endpoint_start(w, l->listener, l->fd, &l->quic, err, sizeof err) != 0) {
                log_error("%s", err);
                return -1;
            }
            continue;
        }
        if (uv_poll_init(&w->loop, &l->handle, l->fd) != 0)
            return -1;
        l->handle.data = l;
        if (uv_poll_start(&l->handle, UV_READABLE, tcp_on_acceptable) != 0)
            return -1;
    }
    return 0;
}

static void run(void *arg)
{
    struct worker *w = arg;
    current = w;
    w->last_sweep_ms = broker_now_ms();
    uv_timer_start(&w->tick, on_tick, TICK_MS, TICK_MS);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    current = NULL;
}

int worker_start(struct worker *w)
{
    return uv_thread_create(&w->thread, run, w);
}

void worker_request_stop(struct worker *w, unsigned grace_ms)
{
    pthread_mutex_lock(&w->inbox_lock);
    w->stop_requested = true;
    w->grace_ms = grace_ms;
    pthread_mutex_unlock(&w->inbox_lock);
    uv_async_send(&w->wake);
}

void worker_join(struct worker *w)
{
    uv_thread_join(&w->thread);
}

void worker_destroy(struct worker *w)
{
    uv_loop_close(&w->loop);
    for (size_t i = 0; i < w->inbox_count; i++)
        conn_unref(w->inbox[i].conn);
    free(w->inbox);
    free(w->dirty);
    free(w->wake_later);
    for (size_t i = 0; i < w->held_count; i++) {
        session_unref(w->held[i].congested);
        conn_unref(w->held[i].conn);
    }
    free(w->held);
    for (size_t i = 0; i < w->listener_count; i++)
        quic_endpoint_free(w->listeners[i].quic);
    free(w->listeners);
    pthread_mutex_destroy(&w->inbox_lock);
}
