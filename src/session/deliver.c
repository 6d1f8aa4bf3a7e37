/*
 * Encoding one delivery as a PUBLISH for one connection: the properties forwarded from the
 * publisher, the remaining Message Expiry Interval, every matching Subscription Identifier, and
 * a server-assigned Topic Alias when the client allows them (MQTT 5.0 section 3.3.2.3).
 */
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "session/conn.h"
#include "session/session.h"

static uint32_t topic_hash(const uint8_t *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ s[i]) * 16777619u;
    return h;
}

/* The alias for `topic`: *is_new tells whether it was just assigned (the topic must then be
 * sent with it). Returns 0 when no alias can be used. */
static uint16_t alias_for(struct conn *c, const uint8_t *topic, uint16_t len, bool *is_new)
{
    *is_new = false;
    if (!c->alias_out_max)
        return 0;
    uint32_t h = topic_hash(topic, len);
    for (uint16_t i = 0; i < c->alias_out_count; i++) {
        struct alias_out *a = &c->alias_out[i];
        if (a->hash == h && a->topic_len == len && memcmp(a->topic, topic, len) == 0)
            return (uint16_t)(i + 1);
    }
    if (c->alias_out_count == c->alias_out_max)
        return 0; /* table full: the first topics keep their aliases */
    if (!c->alias_out && !(c->alias_out = calloc(c->alias_out_max, sizeof *c->alias_out)))
        return 0;
    char *copy = malloc(len ? len : 1);
    if (!copy)
        return 0;
    memcpy(copy, topic, len);
    c->alias_out[c->alias_out_count] = (struct alias_out){h, len, copy};
    *is_new = true;
    return ++c->alias_out_count;
}

int conn_send_delivery(struct conn *c, struct delivery *d, bool dup, uint64_t now_ms)
{
    const struct message *m = d->msg;
    struct mq_packet p = {.type = MQ_PUBLISH};
    struct mq_publish *pub = &p.u.publish;
    pub->qos = d->qos;
    pub->dup = dup;
    pub->retain = d->retain;
    pub->topic = (mq_bytes){m->topic, m->topic_len};
    pub->packet_id = d->packet_id;
    pub->payload = (mq_bytes){m->payload, m->payload_len};
    pub->props.forward = (mq_bytes){m->props, m->props_len};
    if (m->expires_at_ms) {
        /* Forwarded with the time it has left [MQTT-3.3.2-6]. */
        uint32_t left = message_expiry_left_s(m, now_ms);
        pub->props.present |= MQ_PROP_BIT(MQ_PROP_MESSAGE_EXPIRY_INTERVAL);
        pub->props.message_expiry_interval = left ? left : 1;
    }
    pub->props.subscription_ids = d->subscription_ids;
    pub->props.subscription_ids_len = d->subscription_id_count;

    long size = mq_encode(&p, c->version, NULL, 0);
    if (size < 0 || (uint64_t)size > c->max_packet_out)
        return 1; /* larger than the client accepts: not sent [MQTT-3.1.2-24] */
    bool new_alias;
    uint16_t alias = c->version == MQ_V5 ? alias_for(c, m->topic, m->topic_len, &new_alias) : 0;
    if (alias) {
        pub->props.present |= MQ_PROP_BIT(MQ_PROP_TOPIC_ALIAS);
        pub->props.topic_alias = alias;
        if (!new_alias)
            pub->topic.len = 0;
    }
    conn_send_packet(c, &p);
    atomic_fetch_add_explicit(&c->broker->stats.messages_sent, 1, memory_order_relaxed);
    return 0;
}
