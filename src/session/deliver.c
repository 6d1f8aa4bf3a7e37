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

/* Finds the alias already assigned to `topic`, or the slot a new one would take (*is_new).
 * Returns 0 when no alias can be used. Nothing is stored until alias_commit. */
static uint16_t alias_lookup(struct conn *c, const uint8_t *topic, uint16_t len, uint32_t *hash,
                             bool *is_new)
{
    *is_new = false;
    struct topic_aliases *aliases = c->alias_out_max ? conn_aliases(c) : NULL;
    if (!aliases)
        return 0;
    uint32_t h = *hash = topic_hash(topic, len);
    for (uint16_t i = 0; i < aliases->out_count; i++) {
        struct alias_out *a = &aliases->out[i];
        if (a->hash == h && a->topic_len == len && memcmp(a->topic, topic, len) == 0)
            return (uint16_t)(i + 1);
    }
    if (aliases->out_count == c->alias_out_max)
        return 0; /* table full: the first topics keep their aliases */
    *is_new = true;
    return (uint16_t)(aliases->out_count + 1);
}

static bool alias_commit(struct conn *c, const uint8_t *topic, uint16_t len, uint32_t hash)
{
    struct topic_aliases *aliases = c->aliases; /* made by alias_lookup */
    if (!aliases->out && !(aliases->out = calloc(c->alias_out_max, sizeof *aliases->out)))
        return false;
    char *copy = malloc(len ? len : 1);
    if (!copy)
        return false;
    memcpy(copy, topic, len);
    aliases->out[aliases->out_count++] = (struct alias_out){hash, len, copy};
    return true;
}

int conn_send_publish(struct conn *c, const struct message *m, uint8_t qos, bool retain,
                      uint16_t packet_id, const uint32_t *subscription_ids,
                      uint16_t subscription_id_count, bool dup, uint64_t now_ms)
{
    struct mq_packet p = {.type = MQ_PUBLISH};
    struct mq_publish *pub = &p.u.publish;
    pub->qos = qos;
    pub->dup = dup;
    pub->retain = retain;
    pub->topic = (mq_bytes){m->topic, m->topic_len};
    pub->packet_id = packet_id;
    pub->payload = (mq_bytes){m->payload, m->payload_len};
    pub->props.forward = (mq_bytes){m->props, m->props_len};
    if (m->expires_at_ms) {
        /* Forwarded with the time it has left [MQTT-3.3.2-6]. */
        uint32_t left = message_expiry_left_s(m, now_ms);
        pub->props.present |= MQ_PROP_BIT(MQ_PROP_MESSAGE_EXPIRY_INTERVAL);
        pub->props.message_expiry_interval = left ? left : 1;
    }
    pub->props.subscription_ids = subscription_ids;
    pub->props.subscription_ids_len = subscription_id_count;

    uint32_t hash = 0;
    bool new_alias = false;
    uint16_t alias =
        c->version == MQ_V5 ? alias_lookup(c, m->topic, m->topic_len, &hash, &new_alias) : 0;
    if (alias) {
        pub->props.present |= MQ_PROP_BIT(MQ_PROP_TOPIC_ALIAS);
        pub->props.topic_alias = alias;
        if (!new_alias)
            pub->topic.len = 0;
    }
    long size = mq_encode(&p, c->version, NULL, 0);
    if (size < 0 || (uint64_t)size > c->max_packet_out)
        return 1; /* larger than the client accepts: not sent [MQTT-3.1.2-24] */
    if (new_alias && !alias_commit(c, m->topic, m->topic_len, hash)) {
        pub->props.present &= ~MQ_PROP_BIT(MQ_PROP_TOPIC_ALIAS);
        size = mq_encode(&p, c->version, NULL, 0);
    }
    conn_send_sized(c, &p, (size_t)size);
    atomic_fetch_add_explicit(&c->broker->stats.messages_sent, 1, memory_order_relaxed);
    return 0;
}

int conn_send_delivery(struct conn *c, struct delivery *d, bool dup, uint64_t now_ms)
{
    return conn_send_publish(c, d->msg, d->qos, d->retain, d->packet_id, d->subscription_ids,
                             d->subscription_id_count, dup, now_ms);
}
