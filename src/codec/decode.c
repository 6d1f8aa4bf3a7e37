/*
 * mq_decode: the fixed header (spec 2.1), who may send which packet, and the bodies of the
 * small packets: PUBLISH (3.3), the four QoS acknowledgements (3.4-3.7), PINGREQ/PINGRESP,
 * DISCONNECT and AUTH. PUBLISH is the hot path: each byte is looked at once.
 */
#include "codec/codec_internal.h"

#define T(type) (1u << (type))

static const uint16_t sent_by_client =
    T(MQ_CONNECT) | T(MQ_PUBLISH) | T(MQ_PUBACK) | T(MQ_PUBREC) | T(MQ_PUBREL) | T(MQ_PUBCOMP) |
    T(MQ_SUBSCRIBE) | T(MQ_UNSUBSCRIBE) | T(MQ_PINGREQ) | T(MQ_DISCONNECT) | T(MQ_AUTH);
static const uint16_t sent_by_server =
    T(MQ_CONNACK) | T(MQ_PUBLISH) | T(MQ_PUBACK) | T(MQ_PUBREC) | T(MQ_PUBREL) | T(MQ_PUBCOMP) |
    T(MQ_SUBACK) | T(MQ_UNSUBACK) | T(MQ_PINGRESP) | T(MQ_DISCONNECT) | T(MQ_AUTH);
/* PUBREL, SUBSCRIBE and UNSUBSCRIBE carry 0010 in the flag bits, the rest 0000. */
static const uint16_t flags_0010 = T(MQ_PUBREL) | T(MQ_SUBSCRIBE) | T(MQ_UNSUBSCRIBE);

static int check_type(uint8_t type, uint8_t flags, uint8_t version, bool from_client)
{
    if (type == 0)
        return -MQ_RC_MALFORMED_PACKET; /* type 0 is reserved */
    uint16_t legal = from_client ? sent_by_client : sent_by_server;
    if (version != MQ_V5) {
        /* AUTH is new in v5, and a 3.1.1 server never sends DISCONNECT. */
        legal &= (uint16_t)~T(MQ_AUTH);
        if (!from_client)
            legal &= (uint16_t)~T(MQ_DISCONNECT);
    }
    if (!(legal & T(type)))
        return -MQ_RC_PROTOCOL_ERROR;
    if (type != MQ_PUBLISH && flags != ((flags_0010 & T(type)) ? 2u : 0u))
        return -MQ_RC_MALFORMED_PACKET; /* [MQTT-2.1.3-1] */
    return 0;
}

static int decode_publish(const uint8_t *p, const uint8_t *end, uint8_t flags, uint8_t version,
                          bool from_client, struct mq_publish *out)
{
    out->qos = (flags >> 1) & 3u;
    out->dup = flags & 8u;
    out->retain = flags & 1u;
    out->packet_id = 0;
    if (out->qos == 3)
        return -MQ_RC_MALFORMED_PACKET; /* [MQTT-3.3.1-4] */
    if (out->dup && out->qos == 0)
        return -MQ_RC_MALFORMED_PACKET; /* [MQTT-3.3.1-2] */
    if (mq_rd_bytes(&p, end, &out->topic))
        return -MQ_RC_MALFORMED_PACKET;
    bool wild;
    if (!mq_utf8_scan(out->topic.data, out->topic.len, &wild))
        return -MQ_RC_MALFORMED_PACKET; /* [MQTT-3.3.2-1] */
    if (wild)
        return mq_topic_name_error(version); /* [MQTT-3.3.2-2] */
    if (out->topic.len == 0 && version != MQ_V5)
        return -MQ_RC_MALFORMED_PACKET; /* [MQTT-4.7.3-1]; v5 may use a Topic Alias instead */
    if (out->qos) {
        if (end - p < 2)
            return -MQ_RC_MALFORMED_PACKET;
        out->packet_id = mq_rd16(p);
        p += 2;
        if (out->packet_id == 0)
            return -MQ_RC_MALFORMED_PACKET; /* [MQTT-2.2.1-3] */
    }
    if (version == MQ_V5) {
        size_t used;
        int rc = mq_props_decode(p, (size_t)(end - p), MQ_PUBLISH,
                                 from_client ? MQ_PROPS_FROM_CLIENT : 0, &out->props, &used);
        if (rc)
            return rc;
        p += used;
    } else {
        mq_props_reset(&out->props);
    }
    out->payload = (mq_bytes){p, (uint32_t)(end - p)};
    return 0;
}

/* PUBACK, PUBREC, PUBREL, PUBCOMP. v5 may shorten them to the packet id (remaining length 2)
 * or the packet id and reason code (3) (spec 3.4.2.1). */
static int decode_ack(uint8_t type, const uint8_t *p, const uint8_t *end, uint8_t version,
                      bool from_client, struct mq_ack *out)
{
    size_t len = (size_t)(end - p);
    mq_props_reset(&out->props);
    out->reason_code = 0;
    if (len < 2 || (version != MQ_V5 && len != 2))
        return -MQ_RC_MALFORMED_PACKET;
    out->packet_id = mq_rd16(p);
    if (out->packet_id == 0)
        return -MQ_RC_MALFORMED_PACKET; /* [MQTT-2.2.1-3]: never a valid id */
    if (len == 2)
        return 0;
    out->reason_code = p[2];
    if (!mq_reason_code_allowed(type, version, p[2]))
        return -MQ_RC_MALFORMED_PACKET;
    if (len == 3)
        return 0;
    size_t used;
    int rc = mq_props_decode(p + 3, len - 3, type, from_client ? MQ_PROPS_FROM_CLIENT : 0,
                             &out->props, &used);
    if (rc)
        return rc;
    return used == len - 3 ? 0 : -MQ_RC_MALFORMED_PACKET;
}

/* DISCONNECT and AUTH: remaining length 0 means reason 0 and no properties; 1 means no
 * properties (spec 3.14.2.1, 3.15.2.1). Levels 3 and 4 have no body at all. */
static int decode_disconnect(uint8_t type, const uint8_t *p, const uint8_t *end, uint8_t version,
                             bool from_client, struct mq_disconnect *out)
{
    size_t len = (size_t)(end - p);
    mq_props_reset(&out->props);
    out->reason_code = 0;
    if (version != MQ_V5)
        return len == 0 ? 0 : -MQ_RC_MALFORMED_PACKET;
    if (len == 0)
        return 0;
    out->reason_code = p[0];
    if (!mq_reason_code_allowed(type, version, p[0]))
        return -MQ_RC_MALFORMED_PACKET;
    if (len == 1)
        return 0;
    size_t used;
    int rc = mq_props_decode(p + 1, len - 1, type, from_client ? MQ_PROPS_FROM_CLIENT : 0,
                             &out->props, &used);
    if (rc)
        return rc;
    return used == len - 1 ? 0 : -MQ_RC_MALFORMED_PACKET;
}

int mq_decode(const uint8_t *buf, size_t len, uint8_t version, bool from_client,
              struct mq_packet *out)
{
    uint32_t rl;
    if (len < 2)
        return -MQ_RC_MALFORMED_PACKET;
    int n = mq_varint_decode(buf + 1, len - 1, &rl);
    if (n <= 0 || 1u + (size_t)n + rl != len)
        return -MQ_RC_MALFORMED_PACKET; /* [MQTT-1.5.5-1], or body and length disagree */
    uint8_t type = buf[0] >> 4;
    uint8_t flags = buf[0] & 0x0Fu;
    out->type = type;
    out->flags = flags;
    if (type != MQ_CONNECT && version != MQ_V31 && version != MQ_V311 && version != MQ_V5)
        return -MQ_RC_PROTOCOL_ERROR; /* no level negotiated yet: only CONNECT makes sense */
    int rc = check_type(type, flags, version, from_client);
    if (rc)
        return rc;
    const uint8_t *p = buf + 1 + n;
    const uint8_t *end = buf + len;
    switch (type) {
    case MQ_CONNECT:
        return mq_decode_connect(p, end, &out->u.connect);
    case MQ_CONNACK:
        return mq_decode_connack(p, end, version, &out->u.connack);
    case MQ_PUBLISH:
        return decode_publish(p, end, flags, version, from_client, &out->u.publish);
    case MQ_PUBACK:
    case MQ_PUBREC:
    case MQ_PUBREL:
    case MQ_PUBCOMP:
        return decode_ack(type, p, end, version, from_client, &out->u.ack);
    case MQ_SUBSCRIBE:
        return mq_decode_subscribe(p, end, version, &out->u.subscribe);
    case MQ_UNSUBSCRIBE:
        return mq_decode_unsubscribe(p, end, version, &out->u.subscribe);
    case MQ_SUBACK:
    case MQ_UNSUBACK:
        return mq_decode_suback(type, p, end, version, &out->u.suback);
    case MQ_PINGREQ:
    case MQ_PINGRESP:
        return p == end ? 0 : -MQ_RC_MALFORMED_PACKET;
    default: /* DISCONNECT and AUTH; check_type has refused everything else */
        return decode_disconnect(type, p, end, version, from_client, &out->u.disconnect);
    }
}
