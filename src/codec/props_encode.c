/*
 * Encoding of MQTT 5 property blocks: the set fields in id order, then the subscription id
 * array, the user properties in the caller's order, then an already-encoded forwarded run.
 * Sizes are measured first so the packet encoder can refuse before writing anything.
 */
#include <stddef.h>

#include "codec/codec_internal.h"

enum kind { K_U8, K_U16, K_U32, K_VARINT, K_BYTES };

/* Every single-valued property, ascending by id, with where mq_props keeps it. */
static const struct {
    uint8_t id;
    uint8_t kind;
    uint16_t offset;
} scalars[] = {
    {MQ_PROP_PAYLOAD_FORMAT_INDICATOR, K_U8, offsetof(mq_props, payload_format_indicator)},
    {MQ_PROP_MESSAGE_EXPIRY_INTERVAL, K_U32, offsetof(mq_props, message_expiry_interval)},
    {MQ_PROP_CONTENT_TYPE, K_BYTES, offsetof(mq_props, content_type)},
    {MQ_PROP_RESPONSE_TOPIC, K_BYTES, offsetof(mq_props, response_topic)},
    {MQ_PROP_CORRELATION_DATA, K_BYTES, offsetof(mq_props, correlation_data)},
    {MQ_PROP_SUBSCRIPTION_IDENTIFIER, K_VARINT, offsetof(mq_props, subscription_id)},
    {MQ_PROP_SESSION_EXPIRY_INTERVAL, K_U32, offsetof(mq_props, session_expiry_interval)},
    {MQ_PROP_ASSIGNED_CLIENT_IDENTIFIER, K_BYTES, offsetof(mq_props, assigned_client_identifier)},
    {MQ_PROP_SERVER_KEEP_ALIVE, K_U16, offsetof(mq_props, server_keep_alive)},
    {MQ_PROP_AUTHENTICATION_METHOD, K_BYTES, offsetof(mq_props, authentication_method)},
    {MQ_PROP_AUTHENTICATION_DATA, K_BYTES, offsetof(mq_props, authentication_data)},
    {MQ_PROP_REQUEST_PROBLEM_INFORMATION, K_U8, offsetof(mq_props, request_problem_information)},
    {MQ_PROP_WILL_DELAY_INTERVAL, K_U32, offsetof(mq_props, will_delay_interval)},
    {MQ_PROP_REQUEST_RESPONSE_INFORMATION, K_U8, offsetof(mq_props, request_response_information)},
    {MQ_PROP_RESPONSE_INFORMATION, K_BYTES, offsetof(mq_props, response_information)},
    {MQ_PROP_SERVER_REFERENCE, K_BYTES, offsetof(mq_props, server_reference)},
    {MQ_PROP_REASON_STRING, K_BYTES, offsetof(mq_props, reason_string)},
    {MQ_PROP_RECEIVE_MAXIMUM, K_U16, offsetof(mq_props, receive_maximum)},
    {MQ_PROP_TOPIC_ALIAS_MAXIMUM, K_U16, offsetof(mq_props, topic_alias_maximum)},
    {MQ_PROP_TOPIC_ALIAS, K_U16, offsetof(mq_props, topic_alias)},
    {MQ_PROP_MAXIMUM_QOS, K_U8, offsetof(mq_props, maximum_qos)},
    {MQ_PROP_RETAIN_AVAILABLE, K_U8, offsetof(mq_props, retain_available)},
    {MQ_PROP_MAXIMUM_PACKET_SIZE, K_U32, offsetof(mq_props, maximum_packet_size)},
    {MQ_PROP_WILDCARD_SUBSCRIPTION_AVAILABLE, K_U8,
     offsetof(mq_props, wildcard_subscription_available)},
    {MQ_PROP_SUBSCRIPTION_IDENTIFIER_AVAILABLE, K_U8,
     offsetof(mq_props, subscription_identifier_available)},
    {MQ_PROP_SHARED_SUBSCRIPTION_AVAILABLE, K_U8,
     offsetof(mq_props, shared_subscription_available)},
};

#define NSCALARS (sizeof scalars / sizeof scalars[0])
#define SCALAR_MASK (~MQ_PROP_BIT(MQ_PROP_USER_PROPERTY))

static const void *field(const mq_props *p, unsigned i)
{
    return (const char *)p + scalars[i].offset;
}

/* Body size (no length prefix), or -1 when a value cannot be put on the wire. */
static long body_size(const mq_props *p)
{
    uint64_t total = 0;
    if (p->present & SCALAR_MASK) {
        for (unsigned i = 0; i < NSCALARS; i++) {
            if (!(p->present & MQ_PROP_BIT(scalars[i].id)))
                continue;
            const void *f = field(p, i);
            switch (scalars[i].kind) {
            case K_U8:
                total += 2;
                break;
            case K_U16:
                total += 3;
                break;
            case K_U32:
                total += 5;
                break;
            case K_VARINT: {
                const uint32_t *v = f;
                if (*v == 0 || *v > MQ_MAX_REMAINING_LENGTH)
                    return -1;
                total += 1 + mq_varint_size(*v);
                break;
            }
            case K_BYTES: {
                const mq_bytes *b = f;
                if (b->len > 65535u)
                    return -1;
                total += 3u + b->len;
                break;
            }
            }
        }
    }
    for (uint32_t i = 0; i < p->subscription_ids_len; i++) {
        uint32_t v = p->subscription_ids[i];
        if (v == 0 || v > MQ_MAX_REMAINING_LENGTH)
            return -1;
        total += 1 + mq_varint_size(v);
    }
    for (uint32_t i = 0; i < p->user_properties_len; i++) {
        const mq_user_property *u = &p->user_properties[i];
        if (u->key.len > 65535u || u->value.len > 65535u)
            return -1;
        total += 5u + (uint64_t)u->key.len + u->value.len;
    }
    total += p->forward.len;
    if (total > MQ_MAX_REMAINING_LENGTH)
        return -1;
    return (long)total;
}

long mq_props_measure(const mq_props *props)
{
    long body = body_size(props);
    if (body < 0)
        return -MQ_RC_MALFORMED_PACKET;
    return body + (long)mq_varint_size((uint32_t)body);
}

size_t mq_props_encoded_size(const mq_props *props)
{
    long n = mq_props_measure(props);
    return n < 0 ? 0 : (size_t)n;
}

size_t mq_props_encode(const mq_props *props, uint8_t *buf)
{
    long body = body_size(props);
    if (body < 0)
        return 0;
    uint8_t *w = buf + mq_varint_encode((uint32_t)body, buf);
    if (props->present & SCALAR_MASK) {
        for (unsigned i = 0; i < NSCALARS; i++) {
            if (!(props->present & MQ_PROP_BIT(scalars[i].id)))
                continue;
            const void *f = field(props, i);
            *w++ = scalars[i].id;
            switch (scalars[i].kind) {
            case K_U8:
                *w++ = *(const uint8_t *)f;
                break;
            case K_U16:
                w = mq_wr16(w, *(const uint16_t *)f);
                break;
            case K_U32:
                w = mq_wr32(w, *(const uint32_t *)f);
                break;
            case K_VARINT:
                w += mq_varint_encode(*(const uint32_t *)f, w);
                break;
            case K_BYTES:
                w = mq_wr_bytes(w, *(const mq_bytes *)f);
                break;
            }
        }
    }
    for (uint32_t i = 0; i < props->subscription_ids_len; i++) {
        *w++ = MQ_PROP_SUBSCRIPTION_IDENTIFIER;
        w += mq_varint_encode(props->subscription_ids[i], w);
    }
    for (uint32_t i = 0; i < props->user_properties_len; i++) {
        *w++ = MQ_PROP_USER_PROPERTY;
        w = mq_wr_bytes(w, props->user_properties[i].key);
        w = mq_wr_bytes(w, props->user_properties[i].value);
    }
    if (props->forward.len) {
        memcpy(w, props->forward.data, props->forward.len);
        w += props->forward.len;
    }
    return (size_t)(w - buf);
}
