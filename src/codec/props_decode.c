/*
 * Decoding of MQTT 5 property blocks (spec 2.2.2): which property may appear in which packet
 * (the table in 2.2.2.2), duplicates, value ranges, and the iterators over the repeatable
 * properties, which stay in the wire bytes so decoding never allocates.
 */
#include "codec/codec_internal.h"

#define B(name) MQ_PROP_BIT(MQ_PROP_##name)

#define MESSAGE_PROPS                                                                              \
    (B(PAYLOAD_FORMAT_INDICATOR) | B(MESSAGE_EXPIRY_INTERVAL) | B(CONTENT_TYPE) |                  \
     B(RESPONSE_TOPIC) | B(CORRELATION_DATA) | B(USER_PROPERTY))

/* Spec 2.2.2.2: the property ids each packet may carry; index 0 is the CONNECT will. */
static const uint64_t allowed_by_ctx[16] = {
    [MQ_PROPS_CTX_WILL] = MESSAGE_PROPS | B(WILL_DELAY_INTERVAL),
    [MQ_CONNECT] = B(SESSION_EXPIRY_INTERVAL) | B(AUTHENTICATION_METHOD) | B(AUTHENTICATION_DATA) |
                   B(REQUEST_PROBLEM_INFORMATION) | B(REQUEST_RESPONSE_INFORMATION) |
                   B(RECEIVE_MAXIMUM) | B(TOPIC_ALIAS_MAXIMUM) | B(USER_PROPERTY) |
                   B(MAXIMUM_PACKET_SIZE),
    [MQ_CONNACK] = B(SESSION_EXPIRY_INTERVAL) | B(ASSIGNED_CLIENT_IDENTIFIER) |
                   B(SERVER_KEEP_ALIVE) | B(AUTHENTICATION_METHOD) | B(AUTHENTICATION_DATA) |
                   B(RESPONSE_INFORMATION) | B(SERVER_REFERENCE) | B(REASON_STRING) |
                   B(RECEIVE_MAXIMUM) | B(TOPIC_ALIAS_MAXIMUM) | B(MAXIMUM_QOS) |
                   B(RETAIN_AVAILABLE) | B(USER_PROPERTY) | B(MAXIMUM_PACKET_SIZE) |
                   B(WILDCARD_SUBSCRIPTION_AVAILABLE) | B(SUBSCRIPTION_IDENTIFIER_AVAILABLE) |
                   B(SHARED_SUBSCRIPTION_AVAILABLE),
    [MQ_PUBLISH] = MESSAGE_PROPS | B(SUBSCRIPTION_IDENTIFIER) | B(TOPIC_ALIAS),
    [MQ_PUBACK] = B(REASON_STRING) | B(USER_PROPERTY),
    [MQ_PUBREC] = B(REASON_STRING) | B(USER_PROPERTY),
    [MQ_PUBREL] = B(REASON_STRING) | B(USER_PROPERTY),
    [MQ_PUBCOMP] = B(REASON_STRING) | B(USER_PROPERTY),
    [MQ_SUBSCRIBE] = B(SUBSCRIPTION_IDENTIFIER) | B(USER_PROPERTY),
    [MQ_SUBACK] = B(REASON_STRING) | B(USER_PROPERTY),
    [MQ_UNSUBSCRIBE] = B(USER_PROPERTY),
    [MQ_UNSUBACK] = B(REASON_STRING) | B(USER_PROPERTY),
    [MQ_DISCONNECT] =
        B(SESSION_EXPIRY_INTERVAL) | B(SERVER_REFERENCE) | B(REASON_STRING) | B(USER_PROPERTY),
    [MQ_AUTH] =
        B(AUTHENTICATION_METHOD) | B(AUTHENTICATION_DATA) | B(REASON_STRING) | B(USER_PROPERTY),
};

/* What a broker passes on unchanged from a publisher (spec 3.3.2.3). */
static const uint64_t forwardable = B(PAYLOAD_FORMAT_INDICATOR) | B(CONTENT_TYPE) |
                                    B(RESPONSE_TOPIC) | B(CORRELATION_DATA) | B(USER_PROPERTY);

void mq_props_reset(mq_props *props)
{
    props->present = 0;
    props->raw = (mq_bytes){NULL, 0};
    props->user_property_count = 0;
    props->subscription_id_count = 0;
    props->user_properties = NULL;
    props->user_properties_len = 0;
    props->subscription_ids = NULL;
    props->subscription_ids_len = 0;
    props->forward = (mq_bytes){NULL, 0};
}

static int rd_u8(const uint8_t **q, const uint8_t *end, uint8_t *v)
{
    if (end - *q < 1)
        return -MQ_RC_MALFORMED_PACKET;
    *v = **q;
    *q += 1;
    return 0;
}

/* A one-byte property whose only values are 0 and 1. The spec makes other values a Protocol
 * Error for each of them (3.1.2.11.6-7, 3.2.2.3.4-5, 3.2.2.3.11-13); the Payload Format
 * Indicator has no such sentence and is treated the same way. */
static int rd_flag(const uint8_t **q, const uint8_t *end, uint8_t *v)
{
    int rc = rd_u8(q, end, v);
    if (rc)
        return rc;
    return *v > 1 ? -MQ_RC_PROTOCOL_ERROR : 0;
}

static int rd_u16(const uint8_t **q, const uint8_t *end, uint16_t *v)
{
    if (end - *q < 2)
        return -MQ_RC_MALFORMED_PACKET;
    *v = mq_rd16(*q);
    *q += 2;
    return 0;
}

static int rd_u32(const uint8_t **q, const uint8_t *end, uint32_t *v)
{
    if (end - *q < 4)
        return -MQ_RC_MALFORMED_PACKET;
    *v = mq_rd32(*q);
    *q += 4;
    return 0;
}

static int rd_varint(const uint8_t **q, const uint8_t *end, uint32_t *v)
{
    int n = mq_varint_decode(*q, (size_t)(end - *q), v);
    if (n <= 0)
        return -MQ_RC_MALFORMED_PACKET;
    *q += n;
    return 0;
}

/* Reads one property value into *out; `first` is false when the id was already seen. */
static int decode_one(uint8_t id, const uint8_t **q, const uint8_t *end, bool first, mq_props *out)
{
    int rc;
    uint32_t u32;
    mq_bytes skip;
    switch (id) {
    case MQ_PROP_PAYLOAD_FORMAT_INDICATOR:
        return rd_flag(q, end, &out->payload_format_indicator);
    case MQ_PROP_MESSAGE_EXPIRY_INTERVAL:
        return rd_u32(q, end, &out->message_expiry_interval);
    case MQ_PROP_CONTENT_TYPE:
        return mq_rd_string(q, end, &out->content_type);
    case MQ_PROP_RESPONSE_TOPIC:
        return mq_rd_string(q, end, &out->response_topic);
    case MQ_PROP_CORRELATION_DATA:
        return mq_rd_bytes(q, end, &out->correlation_data);
    case MQ_PROP_SUBSCRIPTION_IDENTIFIER:
        rc = rd_varint(q, end, &u32);
        if (rc)
            return rc;
        if (u32 == 0)
            return -MQ_RC_PROTOCOL_ERROR; /* spec 3.3.2.3.8: value 0 is a Protocol Error */
        if (first)
            out->subscription_id = u32;
        out->subscription_id_count++;
        return 0;
    case MQ_PROP_SESSION_EXPIRY_INTERVAL:
        return rd_u32(q, end, &out->session_expiry_interval);
    case MQ_PROP_ASSIGNED_CLIENT_IDENTIFIER:
        return mq_rd_string(q, end, &out->assigned_client_identifier);
    case MQ_PROP_SERVER_KEEP_ALIVE:
        return rd_u16(q, end, &out->server_keep_alive);
    case MQ_PROP_AUTHENTICATION_METHOD:
        return mq_rd_string(q, end, &out->authentication_method);
    case MQ_PROP_AUTHENTICATION_DATA:
        return mq_rd_bytes(q, end, &out->authentication_data);
    case MQ_PROP_REQUEST_PROBLEM_INFORMATION:
        return rd_flag(q, end, &out->request_problem_information);
    case MQ_PROP_WILL_DELAY_INTERVAL:
        return rd_u32(q, end, &out->will_delay_interval);
    case MQ_PROP_REQUEST_RESPONSE_INFORMATION:
        return rd_flag(q, end, &out->request_response_information);
    case MQ_PROP_RESPONSE_INFORMATION:
        return mq_rd_string(q, end, &out->response_information);
    case MQ_PROP_SERVER_REFERENCE:
        return mq_rd_string(q, end, &out->server_reference);
    case MQ_PROP_REASON_STRING:
        return mq_rd_string(q, end, &out->reason_string);
    case MQ_PROP_RECEIVE_MAXIMUM:
        rc = rd_u16(q, end, &out->receive_maximum);
        if (!rc && out->receive_maximum == 0)
            rc = -MQ_RC_PROTOCOL_ERROR; /* spec 3.1.2.11.3 / 3.2.2.3.3 */
        return rc;
    case MQ_PROP_TOPIC_ALIAS_MAXIMUM:
        return rd_u16(q, end, &out->topic_alias_maximum);
    case MQ_PROP_TOPIC_ALIAS:
        /* 0 and values above the negotiated maximum are the session's to judge. */
        return rd_u16(q, end, &out->topic_alias);
    case MQ_PROP_MAXIMUM_QOS:
        return rd_flag(q, end, &out->maximum_qos);
    case MQ_PROP_RETAIN_AVAILABLE:
        return rd_flag(q, end, &out->retain_available);
    case MQ_PROP_USER_PROPERTY:
        rc = mq_rd_string(q, end, &skip);
        if (!rc)
            rc = mq_rd_string(q, end, &skip);
        if (!rc)
            out->user_property_count++;
        return rc;
    case MQ_PROP_MAXIMUM_PACKET_SIZE:
        rc = rd_u32(q, end, &out->maximum_packet_size);
        if (!rc && out->maximum_packet_size == 0)
            rc = -MQ_RC_PROTOCOL_ERROR; /* spec 3.1.2.11.4 / 3.2.2.3.6 */
        return rc;
    case MQ_PROP_WILDCARD_SUBSCRIPTION_AVAILABLE:
        return rd_flag(q, end, &out->wildcard_subscription_available);
    case MQ_PROP_SUBSCRIPTION_IDENTIFIER_AVAILABLE:
        return rd_flag(q, end, &out->subscription_identifier_available);
    case MQ_PROP_SHARED_SUBSCRIPTION_AVAILABLE:
        return rd_flag(q, end, &out->shared_subscription_available);
    default:
        return -MQ_RC_MALFORMED_PACKET;
    }
}

int mq_props_decode(const uint8_t *p, size_t avail, unsigned ctx, unsigned flags, mq_props *out,
                    size_t *consumed)
{
    uint32_t plen;
    int n = mq_varint_decode(p, avail, &plen);
    if (n <= 0 || avail - (size_t)n < plen)
        return -MQ_RC_MALFORMED_PACKET;
    const uint8_t *q = p + n;
    const uint8_t *end = q + plen;
    mq_props_reset(out);
    out->raw = (mq_bytes){q, plen};
    *consumed = (size_t)n + plen;

    uint64_t allowed = allowed_by_ctx[ctx];
    uint64_t repeatable = B(USER_PROPERTY);
    if (ctx == MQ_PUBLISH && !(flags & MQ_PROPS_FROM_CLIENT))
        repeatable |= B(SUBSCRIPTION_IDENTIFIER); /* one per matching subscription */
    uint64_t seen = 0;
    while (q < end) {
        /* Identifiers are Variable Byte Integers, but every defined one fits in a byte below
         * 0x80, so a continuation bit can only start an undefined id. */
        uint8_t id = *q++;
        if (id >= 64 || !(allowed & MQ_PROP_BIT(id)))
            return -MQ_RC_MALFORMED_PACKET; /* spec 2.2.2.2: id not valid for the packet */
        uint64_t bit = MQ_PROP_BIT(id);
        if ((seen & bit) && !(repeatable & bit))
            return -MQ_RC_PROTOCOL_ERROR; /* "a Protocol Error to include ... more than once" */
        if (ctx == MQ_PUBLISH && id == MQ_PROP_SUBSCRIPTION_IDENTIFIER &&
            (flags & MQ_PROPS_FROM_CLIENT))
            return -MQ_RC_PROTOCOL_ERROR; /* [MQTT-3.3.4-6] */
        if (ctx == MQ_DISCONNECT && id == MQ_PROP_SESSION_EXPIRY_INTERVAL &&
            !(flags & MQ_PROPS_FROM_CLIENT))
            return -MQ_RC_PROTOCOL_ERROR; /* [MQTT-3.14.2-2] */
        int rc = decode_one(id, &q, end, !(seen & bit), out);
        if (rc)
            return rc;
        seen |= bit;
    }
    out->present = seen;
    return 0;
}

/* Size of the value of property `id` at p[0..avail), or 0 if it does not fit. */
static size_t value_size(uint8_t id, const uint8_t *p, size_t avail)
{
    size_t n;
    uint32_t v;
    switch (id) {
    case MQ_PROP_PAYLOAD_FORMAT_INDICATOR:
    case MQ_PROP_REQUEST_PROBLEM_INFORMATION:
    case MQ_PROP_REQUEST_RESPONSE_INFORMATION:
    case MQ_PROP_MAXIMUM_QOS:
    case MQ_PROP_RETAIN_AVAILABLE:
    case MQ_PROP_WILDCARD_SUBSCRIPTION_AVAILABLE:
    case MQ_PROP_SUBSCRIPTION_IDENTIFIER_AVAILABLE:
    case MQ_PROP_SHARED_SUBSCRIPTION_AVAILABLE:
        n = 1;
        break;
    case MQ_PROP_SERVER_KEEP_ALIVE:
    case MQ_PROP_RECEIVE_MAXIMUM:
    case MQ_PROP_TOPIC_ALIAS_MAXIMUM:
    case MQ_PROP_TOPIC_ALIAS:
        n = 2;
        break;
    case MQ_PROP_MESSAGE_EXPIRY_INTERVAL:
    case MQ_PROP_SESSION_EXPIRY_INTERVAL:
    case MQ_PROP_WILL_DELAY_INTERVAL:
    case MQ_PROP_MAXIMUM_PACKET_SIZE:
        n = 4;
        break;
    case MQ_PROP_SUBSCRIPTION_IDENTIFIER: {
        int r = mq_varint_decode(p, avail, &v);
        return r > 0 ? (size_t)r : 0;
    }
    case MQ_PROP_USER_PROPERTY:
        if (avail < 2)
            return 0;
        n = 2u + mq_rd16(p);
        if (avail < n + 2)
            return 0;
        n += 2u + mq_rd16(p + n);
        break;
    case MQ_PROP_CONTENT_TYPE:
    case MQ_PROP_RESPONSE_TOPIC:
    case MQ_PROP_CORRELATION_DATA:
    case MQ_PROP_ASSIGNED_CLIENT_IDENTIFIER:
    case MQ_PROP_AUTHENTICATION_METHOD:
    case MQ_PROP_AUTHENTICATION_DATA:
    case MQ_PROP_RESPONSE_INFORMATION:
    case MQ_PROP_SERVER_REFERENCE:
    case MQ_PROP_REASON_STRING:
        if (avail < 2)
            return 0;
        n = 2u + mq_rd16(p);
        break;
    default:
        return 0;
    }
    return n <= avail ? n : 0;
}

/*
 * Finds the next property with identifier `want` from raw offset *cursor; sets *value to its
 * value bytes and advances *cursor past it. Safe on any bytes, validated or not.
 */
static int next_of(const mq_props *props, uint32_t *cursor, uint8_t want, mq_bytes *value)
{
    const uint8_t *base = props->raw.data;
    uint32_t len = props->raw.len;
    uint32_t off = *cursor;
    while (off < len) {
        uint8_t id = base[off++];
        size_t n = value_size(id, base + off, len - off);
        if (n == 0)
            break;
        if (id == want) {
            *value = (mq_bytes){base + off, (uint32_t)n};
            *cursor = off + (uint32_t)n;
            return 1;
        }
        off += (uint32_t)n;
    }
    *cursor = len;
    return 0;
}

int mq_props_next_user_property(const mq_props *props, uint32_t *cursor, mq_user_property *out)
{
    mq_bytes v;
    if (props->user_property_count == 0 || !next_of(props, cursor, MQ_PROP_USER_PROPERTY, &v))
        return 0;
    uint32_t klen = mq_rd16(v.data);
    out->key = (mq_bytes){v.data + 2, klen};
    out->value = (mq_bytes){v.data + 4 + klen, mq_rd16(v.data + 2 + klen)};
    return 1;
}

int mq_props_next_subscription_id(const mq_props *props, uint32_t *cursor, uint32_t *out)
{
    mq_bytes v;
    if (props->subscription_id_count == 0 ||
        !next_of(props, cursor, MQ_PROP_SUBSCRIPTION_IDENTIFIER, &v))
        return 0;
    return mq_varint_decode(v.data, v.len, out) > 0;
}

size_t mq_props_copy_forwardable(const mq_props *props, uint8_t *buf)
{
    const uint8_t *base = props->raw.data;
    uint32_t len = props->raw.len;
    uint32_t off = 0;
    size_t w = 0;
    while (off < len) {
        uint8_t id = base[off];
        size_t n = value_size(id, base + off + 1, len - off - 1);
        if (n == 0)
            break;
        if (id < 64 && (forwardable & MQ_PROP_BIT(id))) {
            memcpy(buf + w, base + off, n + 1);
            w += n + 1;
        }
        off += (uint32_t)n + 1;
    }
    return w;
}
