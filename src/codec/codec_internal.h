/*
 * Helpers shared by the codec's own files (not part of the codec contract): bounds-checked
 * wire readers, big-endian writers, and the property block decoder used by mq_decode.
 */
#ifndef MQTTD_CODEC_INTERNAL_H
#define MQTTD_CODEC_INTERNAL_H

#include <string.h>

#include "codec/codec.h"

/* Pseudo packet type under which a CONNECT's will properties are decoded and checked. */
#define MQ_PROPS_CTX_WILL 0u

/* Flags for mq_props_decode: what the packet's direction allows beyond the spec table. */
#define MQ_PROPS_FROM_CLIENT 0x1u

/*
 * Like mq_utf8_valid, and also reports whether a '+' or '#' appeared, so a PUBLISH topic is
 * checked for both in one pass over its bytes.
 */
bool mq_utf8_scan(const uint8_t *s, size_t len, bool *has_wildcard);

/* Resets the fields of *props that decoding reads or that the encoder would pick up. */
void mq_props_reset(mq_props *props);

/*
 * Decodes the property block (length prefix included) at p[0..avail) for packet type `ctx`
 * (MQ_PROPS_CTX_WILL for will properties). On success sets *consumed to the block's size and
 * fills *out; mq_bytes in *out point into p.
 */
int mq_props_decode(const uint8_t *p, size_t avail, unsigned ctx, unsigned flags, mq_props *out,
                    size_t *consumed);

/* Size of the property block without its length prefix, or -0x81 if a value cannot be
 * encoded (string over 65535 bytes, subscription identifier 0 or too large, block too long). */
long mq_props_body_size(const mq_props *props);

/* Writes the property block whose body size mq_props_body_size gave; returns bytes written. */
size_t mq_props_write(const mq_props *props, uint32_t body, uint8_t *buf);

/* Whether packet `type` at protocol level `version` may carry reason (or return) code rc. */
bool mq_reason_code_allowed(uint8_t type, uint8_t version, uint8_t rc);

/* The error for a topic name with wildcards or no characters: a v5 server answers 0x90 Topic
 * Name invalid, levels 3 and 4 know only malformed packets [MQTT-3.3.2-2], [MQTT-4.7.3-1]. */
static inline int mq_topic_name_error(uint8_t version)
{
    return version == MQ_V5 ? -MQ_RC_TOPIC_NAME_INVALID : -MQ_RC_MALFORMED_PACKET;
}

/* Per-packet body decoders; p..end is the variable header and payload. */
int mq_decode_connect(const uint8_t *p, const uint8_t *end, struct mq_connect *out);
int mq_decode_connack(const uint8_t *p, const uint8_t *end, uint8_t version,
                      struct mq_connack *out);
int mq_decode_subscribe(const uint8_t *p, const uint8_t *end, uint8_t version,
                        struct mq_subscribe *out);
int mq_decode_unsubscribe(const uint8_t *p, const uint8_t *end, uint8_t version,
                          struct mq_subscribe *out);
int mq_decode_suback(uint8_t type, const uint8_t *p, const uint8_t *end, uint8_t version,
                     struct mq_suback *out);

static inline uint16_t mq_rd16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t mq_rd32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline uint8_t *mq_wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return p + 2;
}

static inline uint8_t *mq_wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    return p + 4;
}

/* Writes a 2-byte length prefix and the bytes; the caller has checked len <= 65535. */
static inline uint8_t *mq_wr_bytes(uint8_t *p, mq_bytes b)
{
    p = mq_wr16(p, (uint16_t)b.len);
    if (b.len)
        memcpy(p, b.data, b.len);
    return p + b.len;
}

/* Reads a 2-byte length-prefixed field at *p, advancing *p; -0x81 if it runs past end. */
static inline int mq_rd_bytes(const uint8_t **p, const uint8_t *end, mq_bytes *out)
{
    if (end - *p < 2)
        return -MQ_RC_MALFORMED_PACKET;
    uint32_t n = mq_rd16(*p);
    if ((size_t)(end - *p) - 2 < n)
        return -MQ_RC_MALFORMED_PACKET;
    out->data = *p + 2;
    out->len = n;
    *p += 2 + n;
    return 0;
}

/* Like mq_rd_bytes, for a UTF-8 Encoded String [MQTT-1.5.4-1], [MQTT-1.5.4-2]. */
static inline int mq_rd_string(const uint8_t **p, const uint8_t *end, mq_bytes *out)
{
    int rc = mq_rd_bytes(p, end, out);
    if (rc)
        return rc;
    return mq_utf8_valid(out->data, out->len) ? 0 : -MQ_RC_MALFORMED_PACKET;
}

#endif
