/* Reference-counted, immutable application messages (see message.h). */
#include "broker/message.h"

#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"

struct message *message_new(const uint8_t *topic, uint16_t topic_len, const uint8_t *props,
                            uint32_t props_len, const uint8_t *payload, uint32_t payload_len,
                            uint8_t qos, bool retain, uint32_t expiry_s, uint64_t now_ms)
{
    struct message *m =
        malloc(sizeof *m + (size_t)topic_len + 1 + (size_t)props_len + (size_t)payload_len);
    if (!m)
        return NULL;
    atomic_init(&m->refs, 1);
    m->qos = qos;
    m->retain = retain;
    m->origin_session = 0;
    m->expiry_interval_s = expiry_s;
    m->expires_at_ms = expiry_s ? now_ms + (uint64_t)expiry_s * 1000u : 0;
    m->topic_len = topic_len;
    m->props_len = props_len;
    m->payload_len = payload_len;
    m->topic = m->data;
    m->props = m->topic + topic_len + 1;
    m->payload = m->props + props_len;
    if (topic_len)
        memcpy(m->topic, topic, topic_len);
    m->topic[topic_len] = 0;
    if (props_len && props)
        memcpy(m->props, props, props_len);
    if (payload_len)
        memcpy(m->payload, payload, payload_len);
    return m;
}

void message_unref(struct message *m)
{
    if (m && atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1)
        free(m);
}

void message_release(void *m)
{
    message_unref(m);
}

uint32_t message_expiry_left_s(const struct message *m, uint64_t now_ms)
{
    if (!m->expires_at_ms || now_ms >= m->expires_at_ms)
        return 0;
    return (uint32_t)((m->expires_at_ms - now_ms + 999u) / 1000u);
}

struct message *message_from_publish(const struct mq_publish *p, const uint8_t *topic,
                                     uint16_t topic_len, uint64_t now_ms)
{
    struct message *m =
        message_new(topic, topic_len, NULL, p->props.raw.len, p->payload.data, p->payload.len,
                    p->qos, p->retain,
                    (p->props.present & MQ_PROP_BIT(MQ_PROP_MESSAGE_EXPIRY_INTERVAL))
                        ? p->props.message_expiry_interval
                        : 0,
                    now_ms);
    if (!m)
        return NULL;
    /* The forwardable subset is never longer than the whole block, so it fits in place and the
     * payload moves down behind it. */
    m->props_len = (uint32_t)mq_props_copy_forwardable(&p->props, m->props);
    if (m->props_len != p->props.raw.len) {
        memmove(m->props + m->props_len, m->payload, m->payload_len);
        m->payload = m->props + m->props_len;
    }
    return m;
}
