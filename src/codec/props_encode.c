/*
 * Encoding of MQTT 5 property blocks: the set fields in id order, then the subscription id
 * array, the user properties in the caller's order, then an already-encoded forwarded run.
 * Sizes are measured first so the packet encoder can refuse before writing anything.
 */
#include <stddef.h>

#include "codec/codec_internal.h"

enum kind { K_NONE, K_U8, K_U16, K_U32, K_VARINT, K_BYTES };

#define F(id, kind, field) [MQ_PROP_##id] = {kind, offsetof(mq_props, field)}

/* Every single-valued property by id, with where mq_props keeps it. */
static const struct {
    uint8_t kind;
    uint16_t offset;
} scalars[MQ_PROP_SHARED_SUBSCRIPTION_AVAILABLE + 1] = {
    F(PAYLOAD_FORMAT_INDICATOR, K_U8, payload_format_indicator),
    F(MESSAGE_EXPIRY_INTERVAL, K_U32, message_expiry_interval),
    F(CONTENT_TYPE, K_BYTES, content_type),
    F(RESPONSE_TOPIC, K_BYTES, response_topic),
    F(CORRELATION_DATA, K_BYTES, correlation_data),
    F(SUBSCRIPTION_IDENTIFIER, K_VARINT, subscription_id),
    F(SESSION_EXPIRY_INTERVAL, K_U32, session_expiry_interval),
    F(ASSIGNED_CLIENT_IDENTIFIER, K_BYTES, assigned_client_identifier),
    F(SERVER_KEEP_ALIVE, K_U16, server_keep_alive),
    F(AUTHENTICATION_METHOD, K_BYTES, authentication_method),
    F(AUTHENTICATION_DATA, K_BYTES, authentication_data),
    F(REQUEST_PROBLEM_INFORMATION, K_U8, request_problem_information),
    F(WILL_DELAY_INTERVAL, K_U32, will_delay_interval),
    F(REQUEST_RESPONSE_INFORMATION, K_U8, request_response_information),
    F(RESPONSE_INFORMATION, K_BYTES, response_information),
    F(SERVER_REFERENCE, K_BYTES, server_reference),
    F(REASON_STRING, K_BYTES, reason_string),
    F(RECEIVE_MAXIMUM, K_U16, receive_maximum),
    F(TOPIC_ALIAS_MAXIMUM, K_U16, topic_alias_maximum),
    F(TOPIC_ALIAS, K_U16, topic_alias),
    F(MAXIMUM_QOS, K_U8, maximum_qos),
    F(RETAIN_AVAILABLE, K_U8, retain_available),
    F(MAXIMUM_PACKET_SIZE, K_U32, maximum_packet_size),
    F(WILDCARD_SUBSCRIPTION_AVAILABLE, K_U8, wildcard_subscription_available),
    F(SUBSCRIPTION_IDENTIFIER_AVAILABLE, K_U8, subscription_identifier_available),
    F(SHARED_SUBSCRIPTION_AVAILABLE, K_U8, shared_subscription_available),
};

#define NIDS (sizeof scalars / sizeof scalars[0])
/* Bits of `present` that name a single-valued property (user properties come from the array). */
#define SCALAR_MASK ((MQ_PROP_BIT(NIDS) - 1) & ~MQ_PROP_BIT(MQ_PROP_USER_PROPERTY))

static const void *field(const mq_props *p, unsigned id)
{
    return (const char *)p + scalars[id].offset;
}

/* Body size (no length prefix), or -1 when a value cannot be put on the wire. The loop over
 * `present` stops at its highest bit, so a PUBLISH with one or two properties costs a few
 * steps. */
static long body_size(const mq_props *p)
{
    uint64_t total = 0;
    uint64_t bits = p->present & SCALAR_MASK;
    for (unsigned id = 0; bits; id++, bits >>= 1) {
        if (!(bits & 1u))
            continue;
        const void *f = field(p, id);
        switch (scalars[id].kind) {
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
        default:
            break;
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

long mq_props_body_size(const mq_props *props)
{
    long body = body_size(props);
    return body < 0 ? -MQ_RC_MALFORMED_PACKET : body;
}

size_t mq_props_encoded_size(const mq_props *props)
{
    long body = body_size(props);
    return body < 0 ? 0 : (size_t)body + mq_varint_size((uint32_t)body);
}

size_t mq_props_encode(const mq_props *props, uint8_t *buf)
{
    long body = body_size(props);
    if (body < 0)
        return 0;
    return mq_props_write(props, (uint32_t)body, buf);
}

size_t mq_props_write(const mq_props *props, uint32_t body, uint8_t *buf)
{
    uint8_t *w = buf + mq_varint_encode(body, buf);
    uint64_t bits = props->present & SCALAR_MASK;
    for (unsigned id = 0; bits; id++, bits >>= 1) {
        if (!(bits & 1u) || scalars[id].kind == K_NONE)
            continue;
        const void *f = field(props, id);
        *w++ = (uint8_t)id;
        switch (scalars[id].kind) {
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
        default:
            w = mq_wr_bytes(w, *(const mq_bytes *)f);
            break;
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
