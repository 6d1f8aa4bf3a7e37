/*
 * Decoding of SUBSCRIBE, UNSUBSCRIBE (spec 3.8, 3.10) and their acknowledgements SUBACK,
 * UNSUBACK (3.9, 3.11). The entry lists are validated once here and left in the wire bytes;
 * mq_subscribe_next / mq_unsubscribe_next walk them again without re-checking.
 */
#include "codec/codec_internal.h"

#define SHARE_PREFIX "$share/"
#define SHARE_PREFIX_LEN 7u

/* Packet identifier and, for v5, the property block that start all four packets. */
static int decode_head(uint8_t type, const uint8_t **p, const uint8_t *end, uint8_t version,
                       uint16_t *packet_id, mq_props *props)
{
    mq_props_reset(props);
    if (end - *p < 2)
        return -MQ_RC_MALFORMED_PACKET;
    *packet_id = mq_rd16(*p);
    *p += 2;
    if (*packet_id == 0)
        return -MQ_RC_MALFORMED_PACKET; /* [MQTT-2.2.1-3] */
    if (version != MQ_V5)
        return 0;
    size_t used;
    unsigned flags = (type == MQ_SUBSCRIBE || type == MQ_UNSUBSCRIBE) ? MQ_PROPS_FROM_CLIENT : 0;
    int rc = mq_props_decode(*p, (size_t)(end - *p), type, flags, props, &used);
    if (rc)
        return rc;
    *p += used;
    return 0;
}

static int check_options(uint8_t version, mq_bytes filter, uint8_t o)
{
    if (version != MQ_V5) {
        /* 3.1.1 [MQTT-3.8.3-4]: reserved bits set or QoS 3 make the packet malformed. */
        if ((o & ~MQ_SUBOPT_QOS_MASK) || (o & MQ_SUBOPT_QOS_MASK) == 3)
            return -MQ_RC_MALFORMED_PACKET;
        return 0;
    }
    if (o & 0xC0u)
        return -MQ_RC_MALFORMED_PACKET; /* [MQTT-3.8.3-5] */
    if ((o & MQ_SUBOPT_QOS_MASK) == 3)
        return -MQ_RC_PROTOCOL_ERROR; /* 3.8.3.1: Maximum QoS 3 */
    if (((o & MQ_SUBOPT_RETAIN_HANDLING_MASK) >> MQ_SUBOPT_RETAIN_HANDLING_SHIFT) == 3)
        return -MQ_RC_PROTOCOL_ERROR; /* 3.8.3.1: Retain Handling 3 */
    if ((o & MQ_SUBOPT_NO_LOCAL) && filter.len >= SHARE_PREFIX_LEN &&
        memcmp(filter.data, SHARE_PREFIX, SHARE_PREFIX_LEN) == 0)
        return -MQ_RC_PROTOCOL_ERROR; /* [MQTT-3.8.3-4] No Local on a shared subscription */
    return 0;
}

int mq_decode_subscribe(const uint8_t *p, const uint8_t *end, uint8_t version,
                        struct mq_subscribe *out)
{
    out->entries = NULL;
    out->entries_len = 0;
    out->entry_count = 0;
    out->entries_raw = (mq_bytes){NULL, 0};
    int rc = decode_head(MQ_SUBSCRIBE, &p, end, version, &out->packet_id, &out->props);
    if (rc)
        return rc;
    out->entries_raw = (mq_bytes){p, (uint32_t)(end - p)};
    uint32_t count = 0;
    while (p < end) {
        mq_bytes filter;
        if (mq_rd_string(&p, end, &filter) || p == end)
            return -MQ_RC_MALFORMED_PACKET; /* [MQTT-3.8.3-1] */
        rc = check_options(version, filter, *p++);
        if (rc)
            return rc;
        count++;
    }
    if (count == 0)
        return -MQ_RC_PROTOCOL_ERROR; /* [MQTT-3.8.3-2] */
    out->entry_count = count;
    return 0;
}

int mq_decode_unsubscribe(const uint8_t *p, const uint8_t *end, uint8_t version,
                          struct mq_subscribe *out)
{
    out->entries = NULL;
    out->entries_len = 0;
    out->entry_count = 0;
    out->entries_raw = (mq_bytes){NULL, 0};
    int rc = decode_head(MQ_UNSUBSCRIBE, &p, end, version, &out->packet_id, &out->props);
    if (rc)
        return rc;
    out->entries_raw = (mq_bytes){p, (uint32_t)(end - p)};
    uint32_t count = 0;
    while (p < end) {
        mq_bytes filter;
        if (mq_rd_string(&p, end, &filter))
            return -MQ_RC_MALFORMED_PACKET; /* [MQTT-3.10.3-1] */
        count++;
    }
    if (count == 0)
        return -MQ_RC_PROTOCOL_ERROR; /* [MQTT-3.10.3-2] */
    out->entry_count = count;
    return 0;
}

int mq_decode_suback(uint8_t type, const uint8_t *p, const uint8_t *end, uint8_t version,
                     struct mq_suback *out)
{
    out->reason_codes = NULL;
    out->reason_code_count = 0;
    int rc = decode_head(type, &p, end, version, &out->packet_id, &out->props);
    if (rc)
        return rc;
    if (type == MQ_UNSUBACK && version != MQ_V5)
        return p == end ? 0 : -MQ_RC_MALFORMED_PACKET; /* 3.1.1 UNSUBACK has no payload */
    if (p == end)
        return -MQ_RC_MALFORMED_PACKET; /* one code per requested filter, so at least one */
    for (const uint8_t *q = p; q < end; q++)
        if (!mq_reason_code_allowed(type, version, *q))
            return -MQ_RC_MALFORMED_PACKET;
    out->reason_codes = p;
    out->reason_code_count = (uint32_t)(end - p);
    return 0;
}

int mq_subscribe_next(const struct mq_subscribe *sub, uint32_t *cursor, mq_topic_request *out)
{
    if (*cursor >= sub->entries_raw.len)
        return 0;
    const uint8_t *p = sub->entries_raw.data + *cursor;
    const uint8_t *end = sub->entries_raw.data + sub->entries_raw.len;
    if (end - p < 3)
        return 0;
    uint32_t n = mq_rd16(p);
    if ((size_t)(end - p) < 3u + n)
        return 0;
    out->filter = (mq_bytes){p + 2, n};
    out->options = p[2 + n];
    *cursor += 3u + n;
    return 1;
}

int mq_unsubscribe_next(const struct mq_subscribe *unsub, uint32_t *cursor, mq_bytes *filter)
{
    if (*cursor >= unsub->entries_raw.len)
        return 0;
    const uint8_t *p = unsub->entries_raw.data + *cursor;
    const uint8_t *end = unsub->entries_raw.data + unsub->entries_raw.len;
    if (end - p < 2)
        return 0;
    uint32_t n = mq_rd16(p);
    if ((size_t)(end - p) < 2u + n)
        return 0;
    *filter = (mq_bytes){p + 2, n};
    *cursor += 2u + n;
    return 1;
}
