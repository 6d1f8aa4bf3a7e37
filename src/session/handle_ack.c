/*
 * PUBACK, PUBREC and PUBCOMP from a client: the acknowledgements of messages the server sent,
 * which free room in the client's Receive Maximum window (MQTT 5.0 sections 4.3, 4.9).
 */
#include "broker/broker.h"
#include "session/conn.h"
#include "session/session.h"

int handle_puback(struct conn *c, uint8_t type, const struct mq_ack *p, uint64_t now_ms)
{
    struct session *s = conn_lock_session(c);
    if (!s)
        return 0;
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
        }
        struct mq_packet rel = {.type = MQ_PUBREL, .u.ack = {.packet_id = p->packet_id}};
        if (!d)
            rel.u.ack.reason_code = MQ_RC_PACKET_IDENTIFIER_NOT_FOUND;
        conn_send_packet(c, &rel);
        break;
    case MQ_PUBCOMP:
        done = d && d->state == DELIVERY_AWAIT_PUBCOMP;
        break;
    }
    if (done) {
        /* The packet identifier becomes free for reuse [MQTT-4.3.2-5], [MQTT-4.3.3-13]. */
        delivery_free(session_inflight_find_locked(s, p->packet_id, true));
        session_send_queued_locked(s, now_ms);
    }
    mq_lock_release(&s->lock);
    return 0;
}
