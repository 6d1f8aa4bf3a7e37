/*
 * mq_encode: every packet type at protocol levels 3, 4 and 5. Each encoder first measures the
 * remaining length, so nothing is written unless the whole packet fits in the caller's
 * buffer; v5-only parts (properties, reason codes of acknowledgements) are left out below v5.
 */
#include "codec/codec_internal.h"

#define BAD (-MQ_RC_MALFORMED_PACKET)

/* Total packet size for remaining length rl, or -0x95 if rl cannot be expressed. */
static long total_size(uint64_t rl)
{
    if (rl > MQ_MAX_REMAINING_LENGTH)
        return -MQ_RC_PACKET_TOO_LARGE;
    return (long)(1u + mq_varint_size((uint32_t)rl) + rl);
}

static uint8_t *put_header(uint8_t *buf, uint8_t byte0, uint64_t rl)
{
    buf[0] = byte0;
    return buf + 1 + mq_varint_encode((uint32_t)rl, buf + 1);
}

static bool str_ok(mq_bytes b)
{
    return b.len <= 65535u;
}

/* Size of the v5 property block with its length prefix (its body size in *body), 0 below v5,
 * negative if it cannot be encoded. */
static long props_size(const mq_props *props, uint8_t version, uint32_t *body)
{
    *body = 0;
    if (version != MQ_V5)
        return 0;
    long b = mq_props_body_size(props);
    if (b < 0)
        return b;
    *body = (uint32_t)b;
    return b + (long)mq_varint_size((uint32_t)b);
}

static uint8_t *put_props(uint8_t *w, const mq_props *props, uint8_t version, uint32_t body)
{
    return version == MQ_V5 ? w + mq_props_write(props, body, w) : w;
}

static long enc_connect(const struct mq_connect *c, uint8_t version, uint8_t *buf, size_t cap)
{
    mq_bytes name = version == MQ_V31 ? (mq_bytes){(const uint8_t *)"MQIsdp", 6}
                                      : (mq_bytes){(const uint8_t *)"MQTT", 4};
    uint32_t pb, wpb = 0;
    long ps = props_size(&c->props, version, &pb);
    long wps = c->will_flag ? props_size(&c->will_props, version, &wpb) : 0;
    if (ps < 0 || wps < 0 || !str_ok(c->client_id) || !str_ok(c->will_topic) ||
        !str_ok(c->will_payload) || !str_ok(c->username) || !str_ok(c->password))
        return BAD;
    uint64_t rl = 2u + name.len + 4u + (uint64_t)ps + 2u + c->client_id.len;
    if (c->will_flag)
        rl += (uint64_t)wps + 4u + c->will_topic.len + c->will_payload.len;
    if (c->username_flag)
        rl += 2u + c->username.len;
    if (c->password_flag)
        rl += 2u + c->password.len;
    long total = total_size(rl);
    if (total < 0 || (size_t)total > cap)
        return total;

    uint8_t f = (uint8_t)((c->username_flag ? 0x80u : 0) | (c->password_flag ? 0x40u : 0) |
                          (c->clean_start ? 0x02u : 0));
    if (c->will_flag)
        f |= (uint8_t)(0x04u | ((c->will_qos & 3u) << 3) | (c->will_retain ? 0x20u : 0));
    uint8_t *w = put_header(buf, MQ_CONNECT << 4, rl);
    w = mq_wr_bytes(w, name);
    *w++ = version;
    *w++ = f;
    w = mq_wr16(w, c->keep_alive);
    w = put_props(w, &c->props, version, pb);
    w = mq_wr_bytes(w, c->client_id);
    if (c->will_flag) {
        w = put_props(w, &c->will_props, version, wpb);
        w = mq_wr_bytes(w, c->will_topic);
        w = mq_wr_bytes(w, c->will_payload);
    }
    if (c->username_flag)
        w = mq_wr_bytes(w, c->username);
    if (c->password_flag)
        mq_wr_bytes(w, c->password);
    return total;
}

static long enc_connack(const struct mq_connack *a, uint8_t version, uint8_t *buf, size_t cap)
{
    uint32_t pb;
    long ps = props_size(&a->props, version, &pb);
    if (ps < 0)
        return ps;
    uint64_t rl = 2u + (uint64_t)ps;
    long total = total_size(rl);
    if (total < 0 || (size_t)total > cap)
        return total;
    uint8_t *w = put_header(buf, MQ_CONNACK << 4, rl);
    *w++ = a->session_present ? 1u : 0u;
    *w++ = a->reason_code;
    put_props(w, &a->props, version, pb);
    return total;
}

static long enc_publish(const struct mq_publish *m, uint8_t version, uint8_t *buf, size_t cap)
{
    uint32_t pb;
    long ps = props_size(&m->props, version, &pb);
    if (ps < 0 || !str_ok(m->topic))
        return BAD;
    uint64_t rl = 2u + m->topic.len + (m->qos ? 2u : 0u) + (uint64_t)ps + m->payload.len;
    long total = total_size(rl);
    if (total < 0 || (size_t)total > cap)
        return total;
    uint8_t b0 = (uint8_t)((MQ_PUBLISH << 4) | (m->dup ? 8u : 0u) | ((m->qos & 3u) << 1) |
                           (m->retain ? 1u : 0u));
    uint8_t *w = put_header(buf, b0, rl);
    w = mq_wr_bytes(w, m->topic);
    if (m->qos)
        w = mq_wr16(w, m->packet_id);
    w = put_props(w, &m->props, version, pb);
    if (m->payload.len)
        memcpy(w, m->payload.data, m->payload.len);
    return total;
}

/* PUBACK..PUBCOMP; v5 uses the short forms of spec 3.4.2.1 when nothing follows. */
static long enc_ack(uint8_t type, const struct mq_ack *a, uint8_t version, uint8_t *buf, size_t cap)
{
    uint32_t pb;
    long ps = props_size(&a->props, version, &pb);
    if (ps < 0)
        return ps;
    uint64_t rl = 2;
    if (version == MQ_V5 && (ps > 1 || a->reason_code != 0))
        rl = ps > 1 ? 3u + (uint64_t)ps : 3u;
    long total = total_size(rl);
    if (total < 0 || (size_t)total > cap)
        return total;
    uint8_t *w = put_header(buf, (uint8_t)((type << 4) | (type == MQ_PUBREL ? 2u : 0u)), rl);
    w = mq_wr16(w, a->packet_id);
    if (rl >= 3)
        *w++ = a->reason_code;
    if (rl > 3)
        put_props(w, &a->props, version, pb);
    return total;
}

static long enc_subscribe(uint8_t type, const struct mq_subscribe *s, uint8_t version, uint8_t *buf,
                          size_t cap)
{
    uint32_t pb;
    long ps = props_size(&s->props, version, &pb);
    if (ps < 0)
        return ps;
    uint32_t per_entry = type == MQ_SUBSCRIBE ? 3u : 2u;
    uint64_t rl = 2u + (uint64_t)ps;
    for (uint32_t i = 0; i < s->entries_len; i++) {
        if (!str_ok(s->entries[i].filter))
            return BAD;
        rl += per_entry + s->entries[i].filter.len;
    }
    long total = total_size(rl);
    if (total < 0 || (size_t)total > cap)
        return total;
    uint8_t *w = put_header(buf, (uint8_t)((type << 4) | 2u), rl);
    w = mq_wr16(w, s->packet_id);
    w = put_props(w, &s->props, version, pb);
    for (uint32_t i = 0; i < s->entries_len; i++) {
        w = mq_wr_bytes(w, s->entries[i].filter);
        if (type == MQ_SUBSCRIBE) {
            uint8_t o = s->entries[i].options;
            *w++ = version == MQ_V5 ? o : (uint8_t)(o & MQ_SUBOPT_QOS_MASK);
        }
    }
    return total;
}

/* 3.1.1 SUBACK knows only granted QoS 0-2 and failure 0x80 [MQTT-3.9.3-2]. */
static uint8_t suback_v3_code(uint8_t rc)
{
    return rc <= MQ_RC_GRANTED_QOS_2 ? rc : MQ_RC_UNSPECIFIED_ERROR;
}

static long enc_suback(uint8_t type, const struct mq_suback *a, uint8_t version, uint8_t *buf,
                       size_t cap)
{
    uint32_t pb;
    long ps = props_size(&a->props, version, &pb);
    if (ps < 0)
        return ps;
    bool codes = type == MQ_SUBACK || version == MQ_V5; /* 3.1.1 UNSUBACK has none */
    uint64_t rl = 2u + (uint64_t)ps + (codes ? a->reason_code_count : 0u);
    long total = total_size(rl);
    if (total < 0 || (size_t)total > cap)
        return total;
    uint8_t *w = put_header(buf, (uint8_t)(type << 4), rl);
    w = mq_wr16(w, a->packet_id);
    w = put_props(w, &a->props, version, pb);
    if (codes) {
        if (version == MQ_V5) {
            if (a->reason_code_count)
                memcpy(w, a->reason_codes, a->reason_code_count);
        } else {
            for (uint32_t i = 0; i < a->reason_code_count; i++)
                w[i] = suback_v3_code(a->reason_codes[i]);
        }
    }
    return total;
}

/* DISCONNECT and AUTH: remaining length 0 when reason 0 and no properties, 1 without
 * properties; below v5 DISCONNECT is the two bytes E0 00 and AUTH does not exist. */
static long enc_disconnect(uint8_t type, const struct mq_disconnect *d, uint8_t version,
                           uint8_t *buf, size_t cap)
{
    if (version != MQ_V5 && type == MQ_AUTH)
        return -MQ_RC_PROTOCOL_ERROR;
    uint32_t pb;
    long ps = props_size(&d->props, version, &pb);
    if (ps < 0)
        return ps;
    uint64_t rl = 0;
    if (version == MQ_V5 && (ps > 1 || d->reason_code != 0))
        rl = ps > 1 ? 1u + (uint64_t)ps : 1u;
    long total = total_size(rl);
    if (total < 0 || (size_t)total > cap)
        return total;
    uint8_t *w = put_header(buf, (uint8_t)(type << 4), rl);
    if (rl >= 1)
        *w++ = d->reason_code;
    if (rl > 1)
        put_props(w, &d->props, version, pb);
    return total;
}

long mq_encode(const struct mq_packet *pkt, uint8_t version, uint8_t *buf, size_t cap)
{
    if (version != MQ_V31 && version != MQ_V311 && version != MQ_V5)
        return -MQ_RC_UNSUPPORTED_PROTOCOL_VERSION;
    switch (pkt->type) {
    case MQ_CONNECT:
        return enc_connect(&pkt->u.connect, version, buf, cap);
    case MQ_CONNACK:
        return enc_connack(&pkt->u.connack, version, buf, cap);
    case MQ_PUBLISH:
        return enc_publish(&pkt->u.publish, version, buf, cap);
    case MQ_PUBACK:
    case MQ_PUBREC:
    case MQ_PUBREL:
    case MQ_PUBCOMP:
        return enc_ack(pkt->type, &pkt->u.ack, version, buf, cap);
    case MQ_SUBSCRIBE:
    case MQ_UNSUBSCRIBE:
        return enc_subscribe(pkt->type, &pkt->u.subscribe, version, buf, cap);
    case MQ_SUBACK:
    case MQ_UNSUBACK:
        return enc_suback(pkt->type, &pkt->u.suback, version, buf, cap);
    case MQ_PINGREQ:
    case MQ_PINGRESP:
        if (cap >= 2) {
            buf[0] = (uint8_t)(pkt->type << 4);
            buf[1] = 0;
        }
        return 2;
    case MQ_DISCONNECT:
    case MQ_AUTH:
        return enc_disconnect(pkt->type, &pkt->u.disconnect, version, buf, cap);
    default:
        return BAD;
    }
}
