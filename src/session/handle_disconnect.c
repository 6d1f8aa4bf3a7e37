/*
 * DISCONNECT from a client (MQTT 5.0 section 3.14): a normal disconnection deletes the will,
 * 0x04 keeps it, and a v5 client may change its session expiry on the way out.
 */
#include "broker/broker.h"
#include "session/conn.h"
#include "session/session.h"
#include "store/store.h"

#define PROP(p, id) ((p)->present & MQ_PROP_BIT(id))

int handle_disconnect(struct conn *c, const struct mq_disconnect *p, uint64_t now_ms)
{
    c->disconnect_reason = p->reason_code;
    struct session *s = conn_lock_session(c);
    if (s) {
        if (PROP(&p->props, MQ_PROP_SESSION_EXPIRY_INTERVAL)) {
            if (s->expiry_interval_s == 0 && p->props.session_expiry_interval != 0) {
                /* Zero at CONNECT cannot become non-zero now [MQTT-3.14.2-2]. */
                mq_lock_release(&s->lock);
                return -MQ_RC_PROTOCOL_ERROR;
            }
            s->expiry_interval_s = p->props.session_expiry_interval;
        }
        if (p->reason_code != MQ_RC_DISCONNECT_WITH_WILL) {
            /* The will is discarded on a normal disconnection [MQTT-3.1.2-10]. */
            message_unref(s->will);
            s->will = NULL;
        }
        if (s->stored && c->broker->store && s->expiry_interval_s)
            store_session_put(c->broker->store, s);
        mq_lock_release(&s->lock);
    }
    /* The server closes without sending DISCONNECT back [MQTT-3.14.4-1]. */
    c->state = CONN_CLOSING;
    c->transport->close(c);
    return 0;
}
