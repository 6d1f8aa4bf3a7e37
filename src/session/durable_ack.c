/*
 * Acknowledgements that promise durability (PUBACK, PUBREC, PUBREL, SUBACK): with the store in
 * durability full (or in relaxed when it has fallen behind, see store.h) they leave only once
 * the store changes they vouch for are committed. The
 * packet is encoded now, held by the store, and written by the store thread after the commit
 * (through the connection's output buffer, which wakes the owning worker through its inbox).
 * Once one acknowledgement of a connection waits, later ones wait too, so they keep the order
 * of the packets they answer.
 */
#include <stdlib.h>

#include "broker/broker.h"
#include "session/conn.h"
#include "session/session.h"
#include "store/store.h"

struct held_ack {
    struct conn *conn;       /* one reference */
    struct session *session; /* one reference: written only while it still has this conn */
    void (*then)(void *ctx);
    void *ctx;
    size_t len;
    uint8_t bytes[];
};

static void release_ack(void *arg)
{
    struct held_ack *h = arg;
    mq_lock_acquire(&h->session->lock);
    if (h->session->conn == h->conn)
        conn_write(h->conn, h->bytes, h->len);
    mq_lock_release(&h->session->lock);
    atomic_fetch_sub(&h->conn->acks_held, 1);
    if (h->then)
        h->then(h->ctx);
    session_unref(h->session);
    conn_unref(h->conn);
    free(h);
}

void conn_send_when_durable(struct conn *c, const struct mq_packet *p, uint64_t changes_before,
                            void (*then)(void *ctx), void *ctx)
{
    struct mq_store *st = c->broker->store;
    bool wait = st && store_acks_wait(st) && c->session &&
                (store_thread_changes() != changes_before || atomic_load(&c->acks_held) > 0);
    long size = wait ? mq_encode(p, c->version, NULL, 0) : -1;
    struct held_ack *h = size > 0 ? malloc(sizeof *h + (size_t)size) : NULL;
    if (h && mq_encode(p, c->version, h->bytes, (size_t)size) == size) {
        h->conn = conn_ref(c);
        h->session = session_ref(c->session);
        h->then = then;
        h->ctx = ctx;
        h->len = (size_t)size;
        atomic_fetch_add(&c->acks_held, 1);
        if (store_after_commit(st, release_ack, h) == 0)
            return;
        atomic_fetch_sub(&c->acks_held, 1);
        session_unref(h->session);
        conn_unref(h->conn);
    }
    free(h);
    conn_send_packet(c, p);
    if (then)
        then(ctx);
}

void conn_send_ack_when_durable(struct conn *c, const struct mq_packet *p, uint64_t changes_before)
{
    conn_send_when_durable(c, p, changes_before, NULL, NULL);
}
