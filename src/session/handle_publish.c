/*
 * PUBLISH from a client and the PUBREL that completes an inbound QoS 2 exchange: topic alias
 * resolution, the checks a server makes before accepting a message, the embedder's publish
 * handlers, routing, and the acknowledgement (MQTT 5.0 sections 3.3, 3.6, 4.3).
 */
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "broker/broker.h"
#include "broker/sys_topics.h"
#include "broker/topic.h"
#include "server/log.h"
#include "session/conn.h"
#include "session/session.h"
#include "store/store.h"

#define PROP(p, id) ((p)->present & MQ_PROP_BIT(id))

static void send_ack(struct conn *c, uint8_t type, uint16_t packet_id, uint8_t reason)
{
    struct mq_packet ack = {.type = type, .u.ack = {.packet_id = packet_id, .reason_code = reason}};
    conn_send_packet(c, &ack);
}

/* Resolves a Topic Alias [MQTT-3.3.2-7..12]; sets *topic; 0 or a negative reason code. */
static int resolve_alias(struct conn *c, const struct mq_publish *p, mq_bytes *topic)
{
    *topic = p->topic;
    if (c->version != MQ_V5 || !PROP(&p->props, MQ_PROP_TOPIC_ALIAS)) {
        return p->topic.len ? 0 : -MQ_RC_PROTOCOL_ERROR;
    }
    uint16_t alias = p->props.topic_alias;
    if (alias == 0 || alias > c->alias_in_max)
        return -MQ_RC_TOPIC_ALIAS_INVALID; /* [MQTT-3.3.2-8], [MQTT-3.3.2-9] */
    struct topic_aliases *aliases = conn_aliases(c);
    if (!aliases ||
        (!aliases->in && !(aliases->in = calloc((size_t)c->alias_in_max + 1, sizeof(mq_bytes)))))
        return -MQ_RC_UNSPECIFIED_ERROR;
    mq_bytes *slot = &aliases->in[alias];
    if (p->topic.len == 0) {
        if (!slot->data)
            return -MQ_RC_PROTOCOL_ERROR; /* an alias never set */
        *topic = *slot;
        return 0;
    }
    uint8_t *copy = malloc(p->topic.len);
    if (!copy)
        return -MQ_RC_UNSPECIFIED_ERROR;
    memcpy(copy, p->topic.data, p->topic.len);
    free((void *)slot->data);
    *slot = (mq_bytes){copy, p->topic.len};
    return 0;
}

/* Refuses one message: an error acknowledgement for QoS 1/2 in v5, otherwise DISCONNECT. */
static int refuse_message(struct conn *c, const struct mq_publish *p, uint8_t reason)
{
    if (c->version == MQ_V5 && p->qos > 0) {
        send_ack(c, p->qos == 1 ? MQ_PUBACK : MQ_PUBREC, p->packet_id, reason);
        return 0;
    }
    return -reason;
}

/* Runs the embedder's handlers; returns the message to route (maybe rebuilt) or NULL to drop. */
static struct message *run_publish_handlers(struct conn *c, struct message *m, uint64_t now_ms)
{
    for (struct handler *h = c->broker->on_publish; h && m; h = h->next) {
        if (!topic_matches((const uint8_t *)h->filter, strlen(h->filter), m->topic, m->topic_len))
            continue;
        mqttd_client from;
        conn_client_info(c, &from);
        mqttd_message view = {(const char *)m->topic, m->payload, m->payload_len, m->qos,
                              m->retain};
        if (((mqttd_publish_handler)h->fn)(h->user, &from, &view) == MQTTD_PUBLISH_DROP) {
            message_unref(m);
            return NULL;
        }
        size_t topic_len = strlen(view.topic);
        bool changed = view.payload != m->payload || view.payload_len != m->payload_len ||
                       topic_len != m->topic_len || memcmp(view.topic, m->topic, topic_len) ||
                       view.qos != m->qos || view.retain != m->retain;
        if (!changed)
            continue;
        if (!topic_name_valid((const uint8_t *)view.topic, topic_len, 0, 65535) || view.qos < 0 ||
            view.qos > 2) {
            log_warning("publish handler on '%s' produced an invalid message: dropped", h->filter);
            message_unref(m);
            return NULL;
        }
        struct message *n =
            message_new((const uint8_t *)view.topic, (uint16_t)topic_len, m->props, m->props_len,
                        view.payload, (uint32_t)view.payload_len, (uint8_t)view.qos, view.retain,
                        m->expiry_interval_s, now_ms);
        if (n) {
            n->origin_session = m->origin_session;
            n->expires_at_ms = m->expires_at_ms;
        }
        message_unref(m);
        m = n;
    }
    return m;
}

static int accept_publish(struct conn *c, struct mq_publish *p, mq_bytes topic, uint64_t now_ms);

/* A PUBLISH the ACL does not allow: not routed. A v5 client learns it from PUBACK / PUBREC
 * 0x87 (Not authorized); a 3.1.1 client gets the acknowledgement it expects, as 3.1.1 has no
 * way to refuse one message, and QoS 0 is dropped silently. */
static int refuse_unauthorized(struct conn *c, const struct mq_publish *p, mq_bytes topic)
{
    log_info("%s: client '%s': PUBLISH to '%.*s' not authorized", conn_peer(c),
             c->session->client_id, (int)topic.len, topic.data);
    if (p->qos == 0)
        return 0;
    struct mq_packet ack = {
        .type = p->qos == 1 ? MQ_PUBACK : MQ_PUBREC,
        .u.ack = {.packet_id = p->packet_id,
                  .reason_code = c->version == MQ_V5 ? MQ_RC_NOT_AUTHORIZED : MQ_RC_SUCCESS}};
    conn_send_ack_when_durable(c, &ack, store_thread_changes());
    return 0;
}

int handle_publish(struct conn *c, struct mq_publish *p, uint64_t now_ms)
{
    struct broker *b = c->broker;
    const struct mq_config *cfg = b->config;
    mq_bytes topic;
    int rc = resolve_alias(c, p, &topic);
    if (rc < 0)
        return rc;
    if (p->qos > cfg->max_qos)
        return -MQ_RC_QOS_NOT_SUPPORTED; /* [MQTT-3.2.2-11] */
    if (p->retain && !cfg->retain_available)
        return -MQ_RC_RETAIN_NOT_SUPPORTED; /* [MQTT-3.2.2-14] */
    if (!topic_name_valid(topic.data, topic.len, cfg->max_topic_levels, cfg->max_topic_length))
        return refuse_message(c, p, MQ_RC_TOPIC_NAME_INVALID);
    /* A Response Topic is a topic name too: no wildcards [MQTT-3.3.2-14]; it is forwarded
     * as it is, so a bad one is refused here rather than passed on. */
    if (PROP(&p->props, MQ_PROP_RESPONSE_TOPIC) &&
        !topic_name_valid(p->props.response_topic.data, p->props.response_topic.len, 0, 65535))
        return refuse_message(c, p, MQ_RC_TOPIC_NAME_INVALID);
    if (PROP(&p->props, MQ_PROP_PAYLOAD_FORMAT_INDICATOR) && p->props.payload_format_indicator &&
        !mq_utf8_valid(p->payload.data, p->payload.len))
        return refuse_message(c, p, MQ_RC_PAYLOAD_FORMAT_INVALID);
    if (cfg->message_size_limit && p->payload.len > cfg->message_size_limit) {
        LIMITS_COUNT(&b->limits, payloads_too_large);
        return refuse_message(c, p, MQ_RC_QUOTA_EXCEEDED);
    }
    if (sys_topic(topic.data, topic.len))
        return refuse_unauthorized(c, p, topic); /* only the broker writes $SYS */
    if (auth_has_acl(b->auth)) {
        struct acl_client who = {c->session->client_id, c->username};
        if (!auth_may_write(b->auth, &who, topic.data, topic.len))
            return refuse_unauthorized(c, p, topic);
    }
    if (p->qos > 0 && limits_memory_over(&b->limits)) {
        /* Over memory_limit: what would have to be kept is refused; QoS 0 still flows. */
        LIMITS_COUNT(&b->limits, memory_refused);
        return refuse_message(c, p, MQ_RC_QUOTA_EXCEEDED);
    }
    /* A QoS 2 packet id and the copies of the message it guards are committed together: the
     * id alone would make the client's resend look like a duplicate and lose the message, the
     * copies alone would deliver it twice. */
    bool grouped = b->store && p->qos == 2;
    if (grouped)
        store_group_begin(b->store);
    rc = accept_publish(c, p, topic, now_ms);
    if (grouped)
        store_group_end(b->store);
    return rc;
}

/* The part of handle_publish after the checks: dedupe, routing, acknowledgement. */
static int accept_publish(struct conn *c, struct mq_publish *p, mq_bytes topic, uint64_t now_ms)
{
    struct broker *b = c->broker;
    const struct mq_config *cfg = b->config;
    uint64_t changes = store_thread_changes();
    struct session *s = conn_lock_session(c);
    if (!s)
        return 0; /* taken over: the new connection owns the session now */
    if (p->qos == 2) {
        /* Already received and not released: acknowledge again, deliver once [MQTT-4.3.3-10]. */
        bool known = false;
        for (uint32_t i = 0; i < s->qos2_received_count; i++)
            known |= s->qos2_received[i] == p->packet_id;
        if (!known && s->qos2_received_count >= cfg->max_inflight_messages) {
            mq_lock_release(&s->lock);
            LIMITS_COUNT(&b->limits, receive_maximum_exceeded);
            return -MQ_RC_RECEIVE_MAXIMUM_EXCEEDED; /* [MQTT-3.3.4-8] */
        }
        if (known || session_qos2_add_locked(s, p->packet_id) < 0) {
            mq_lock_release(&s->lock);
            struct mq_packet ack = {.type = MQ_PUBREC,
                                    .u.ack = {.packet_id = p->packet_id,
                                              .reason_code = known ? 0 : MQ_RC_UNSPECIFIED_ERROR}};
            /* A repeated PUBREC still follows any held one, in order. */
            conn_send_ack_when_durable(c, &ack, changes);
            return 0;
        }
        if (s->stored && b->store)
            store_qos2_add(b->store, s, p->packet_id);
    }
    uint64_t origin = s->serial;
    mq_lock_release(&s->lock);

    atomic_fetch_add_explicit(&b->stats.messages_received, 1, memory_order_relaxed);
    struct message *m = message_from_publish(p, topic.data, (uint16_t)topic.len, now_ms);
    if (!m)
        return refuse_message(c, p, MQ_RC_UNSPECIFIED_ERROR);
    m->origin_session = origin;
    if (b->on_publish)
        m = run_publish_handlers(c, m, now_ms);
    size_t receivers = 0;
    if (m) {
        if (p->qos > 0)
            session_watch_congestion();
        receivers = broker_publish(b, m, now_ms);
        message_unref(m);
        struct session *congested = p->qos > 0 ? session_take_congested() : NULL;
        if (congested)
            conn_hold_for(c, congested, now_ms);
    }
    if (p->qos > 0) {
        uint8_t reason =
            receivers || c->version != MQ_V5 ? MQ_RC_SUCCESS : MQ_RC_NO_MATCHING_SUBSCRIBERS;
        struct mq_packet ack = {.type = p->qos == 1 ? MQ_PUBACK : MQ_PUBREC,
                                .u.ack = {.packet_id = p->packet_id, .reason_code = reason}};
        /* With durability full the acknowledgement vouches for what the store holds: the
         * retained message, the copies queued for persistent sessions, the QoS 2 id. */
        conn_send_ack_when_durable(c, &ack, changes);
    }
    return 0;
}

int handle_pubrel(struct conn *c, const struct mq_ack *p, uint64_t now_ms)
{
    uint64_t changes = store_thread_changes();
    struct session *s = conn_lock_session(c);
    if (!s)
        return 0;
    bool found = session_qos2_remove_locked(s, p->packet_id);
    if (found && s->stored && c->broker->store)
        store_qos2_remove(c->broker->store, s, p->packet_id);
    mq_lock_release(&s->lock);
    /* An unknown id is answered too, so the client can finish [MQTT-4.3.3-12]. With durability
     * full the PUBCOMP waits until the id is gone from the store: the client may reuse it at
     * once, and a crash must not make a new message look like a duplicate of the old one. */
    struct mq_packet ack = {
        .type = MQ_PUBCOMP,
        .u.ack = {.packet_id = p->packet_id,
                  .reason_code = found ? 0 : MQ_RC_PACKET_IDENTIFIER_NOT_FOUND}};
    conn_send_ack_when_durable(c, &ack, changes);
    return 0;
}
