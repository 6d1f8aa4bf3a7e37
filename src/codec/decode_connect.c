/*
 * Decoding of CONNECT (spec 3.1, and 3.1.1 section 3.1 for levels 3 and 4) and CONNACK
 * (3.2). CONNECT names its own protocol level, so it is the one packet decoded without
 * knowing the connection's level beforehand.
 */
#include "codec/codec_internal.h"

#define CF_RESERVED 0x01u
#define CF_CLEAN_START 0x02u
#define CF_WILL 0x04u
#define CF_WILL_QOS_SHIFT 3
#define CF_WILL_RETAIN 0x20u
#define CF_PASSWORD 0x40u
#define CF_USERNAME 0x80u

static bool bytes_eq(mq_bytes b, const char *s, uint32_t n)
{
    return b.len == n && memcmp(b.data, s, n) == 0;
}

static int check_level(mq_bytes name, uint8_t level)
{
    if (bytes_eq(name, "MQTT", 4) && (level == MQ_V311 || level == MQ_V5))
        return 0;
    if (bytes_eq(name, "MQIsdp", 6) && level == MQ_V31)
        return 0;
    /* [MQTT-3.1.2-2]: unsupported level; the caller answers with CONNACK 0x84 (or 3.1.1 return
     * code 1) at the level seen. An unknown protocol name is refused the same way. */
    return -MQ_RC_UNSUPPORTED_PROTOCOL_VERSION;
}

int mq_decode_connect(const uint8_t *p, const uint8_t *end, struct mq_connect *c)
{
    mq_bytes name;
    int rc;
    c->protocol_version = 0;
    mq_props_reset(&c->props);
    mq_props_reset(&c->will_props);
    c->client_id = c->will_topic = c->will_payload = c->username = c->password =
        (mq_bytes){NULL, 0};

    if (mq_rd_bytes(&p, end, &name) || p == end)
        return -MQ_RC_MALFORMED_PACKET;
    uint8_t level = *p++;
    c->protocol_version = level;
    rc = check_level(name, level);
    if (rc)
        return rc;

    if (end - p < 3)
        return -MQ_RC_MALFORMED_PACKET;
    uint8_t f = p[0];
    c->keep_alive = mq_rd16(p + 1);
    p += 3;
    if (f & CF_RESERVED)
        return -MQ_RC_MALFORMED_PACKET; /* [MQTT-3.1.2-3] */
    c->clean_start = f & CF_CLEAN_START;
    c->will_flag = f & CF_WILL;
    c->will_qos = (f >> CF_WILL_QOS_SHIFT) & 3u;
    c->will_retain = f & CF_WILL_RETAIN;
    c->password_flag = f & CF_PASSWORD;
    c->username_flag = f & CF_USERNAME;
    if (!c->will_flag && c->will_qos != 0)
        return -MQ_RC_MALFORMED_PACKET; /* [MQTT-3.1.2-11] */
    if (c->will_qos == 3)
        return -MQ_RC_MALFORMED_PACKET; /* [MQTT-3.1.2-12] */
    if (!c->will_flag && c->will_retain)
        return -MQ_RC_MALFORMED_PACKET; /* [MQTT-3.1.2-13] */
    if (level != MQ_V5 && c->password_flag && !c->username_flag)
        return -MQ_RC_MALFORMED_PACKET; /* 3.1.1 [MQTT-3.1.2-22]; v5 allows it */

    size_t used;
    if (level == MQ_V5) {
        rc = mq_props_decode(p, (size_t)(end - p), MQ_CONNECT, MQ_PROPS_FROM_CLIENT, &c->props,
                             &used);
        if (rc)
            return rc;
        /* 3.1.2.11.10: Authentication Data without an Authentication Method is a Protocol
         * Error. */
        if ((c->props.present & MQ_PROP_BIT(MQ_PROP_AUTHENTICATION_DATA)) &&
            !(c->props.present & MQ_PROP_BIT(MQ_PROP_AUTHENTICATION_METHOD)))
            return -MQ_RC_PROTOCOL_ERROR;
        p += used;
    }

    if (mq_rd_string(&p, end, &c->client_id))
        return -MQ_RC_MALFORMED_PACKET; /* [MQTT-3.1.3-4] */

    if (c->will_flag) {
        if (level == MQ_V5) {
            rc = mq_props_decode(p, (size_t)(end - p), MQ_PROPS_CTX_WILL, MQ_PROPS_FROM_CLIENT,
                                 &c->will_props, &used);
            if (rc)
                return rc;
            p += used;
        }
        if (mq_rd_bytes(&p, end, &c->will_topic))
            return -MQ_RC_MALFORMED_PACKET;
        bool wild;
        if (!mq_utf8_scan(c->will_topic.data, c->will_topic.len, &wild))
            return -MQ_RC_MALFORMED_PACKET; /* [MQTT-3.1.3-11] */
        if (wild || c->will_topic.len == 0)
            return mq_topic_name_error(level); /* [MQTT-4.7.0-1], [MQTT-4.7.3-1] */
        if (mq_rd_bytes(&p, end, &c->will_payload))
            return -MQ_RC_MALFORMED_PACKET;
    }
    if (c->username_flag && mq_rd_string(&p, end, &c->username))
        return -MQ_RC_MALFORMED_PACKET; /* [MQTT-3.1.3-12] */
    if (c->password_flag && mq_rd_bytes(&p, end, &c->password))
        return -MQ_RC_MALFORMED_PACKET;
    return p == end ? 0 : -MQ_RC_MALFORMED_PACKET;
}

int mq_decode_connack(const uint8_t *p, const uint8_t *end, uint8_t version, struct mq_connack *out)
{
    mq_props_reset(&out->props);
    if (end - p < 2)
        return -MQ_RC_MALFORMED_PACKET;
    if (p[0] & 0xFEu)
        return -MQ_RC_MALFORMED_PACKET; /* [MQTT-3.2.2-1] reserved acknowledge flags */
    out->session_present = p[0] & 1u;
    out->reason_code = p[1];
    if (!mq_reason_code_allowed(MQ_CONNACK, version, p[1]))
        return -MQ_RC_MALFORMED_PACKET;
    p += 2;
    if (version == MQ_V5) {
        size_t used;
        int rc = mq_props_decode(p, (size_t)(end - p), MQ_CONNACK, 0, &out->props, &used);
        if (rc)
            return rc;
        p += used;
    }
    return p == end ? 0 : -MQ_RC_MALFORMED_PACKET;
}
