/*
 * PUBACK, PUBREC and PUBCOMP from a client: the acknowledgements of messages the server sent,
 * which free room in the client's Receive Maximum window (MQTT 5.0 sections 4.3, 4.9).
 */
#include "broker/broker.h"
#include "session/conn.h"
#include "session/session.h"
#include "store/store.h"

int handle_puback(struct conn *c, uint8_t type, const struct mq_ack *p, uint64_t now_ms)
{
    struct session *s = conn_lock_session(c);
    if (!s)
        return 0;
    uint64_t changes = store_thread_changes();
    struct delivery *d = session_inflight_find_locked(s, p->packet_id, false);
    bool done = false;
    switch (type) {
    case MQ_PUBACK:
        done = d && d->state == DELIVERY_AWAIT_PUBACK;
        break;
    case MQ_PUBREC:
        if (d && (d->state == DELIVERY_AWAIT_PUBREC || d->state == DELIVERY_AWAIT_PUBCOMP)) {
            if (p->reason_code >= 0x80) {
                /* The client refused the message: the exchange ends here [MQTT-4.3.3-4]. */
                done = true;
                break;
            }
            d->state = DELIVERY_AWAIT_PUBCOMP;
            if (d->store_id && s->stored) {
                /* The PUBREL tells the client the message is settled: after a crash it must
                 * not come back as a PUBLISH, so with durability full it waits for the
                 * commit of the new state. */
                store_delivery_put(c->broker->store, s, d, now_ms);
            }
        }
        struct mq_packet rel = {.type = MQ_PUBREL, .u.ack = {.packet_id = p->packet_id}};
        if (!d)
            rel.u.ack.reason_code = MQ_RC_PACKET_IDENTIFIER_NOT_FOUND;
        conn_send_ack_when_durable(c, &rel, changes);
        break;
    case MQ_PUBCOMP:
        done = d && d->state == DELIVERY_AWAIT_PUBCOMP;
        break;
    }
    if (done) {
        /* The packet identifier becomes free for reuse [MQTT-4.3.2-5], [MQTT-4.3.3-13]. */
        d = session_inflight_find_locked(s, p->packet_id, true);
        if (d->store_id && s->stored)
            store_delivery_delete(c->broker->store, d->store_id);
        delivery_free(d);
        session_send_queued_locked(s, now_ms);
    }
    mq_lock_release(&s->lock);
    return 0;
}
