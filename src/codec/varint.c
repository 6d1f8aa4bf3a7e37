/*
 * Variable Byte Integers (spec 1.5.5) and packet framing: mq_frame runs on every socket read,
 * so it looks only at the fixed header and never at the body.
 */
#include "codec/codec_internal.h"

size_t mq_varint_size(uint32_t value)
{
    if (value < 128u)
        return 1;
    if (value < 16384u)
        return 2;
    if (value < 2097152u)
        return 3;
    return 4;
}

size_t mq_varint_encode(uint32_t value, uint8_t *buf)
{
    size_t n = 0;
    do {
        uint8_t byte = (uint8_t)(value & 0x7Fu);
        value >>= 7;
        if (value)
            byte |= 0x80u;
        buf[n++] = byte;
    } while (value && n < 4);
    return n;
}

int mq_varint_decode(const uint8_t *buf, size_t len, uint32_t *value)
{
    uint32_t v = 0;
    for (size_t i = 0; i < 4; i++) {
        if (i == len)
            return 0;
        uint8_t byte = buf[i];
        v |= (uint32_t)(byte & 0x7Fu) << (7 * i);
        if (!(byte & 0x80u)) {
            /* A zero last byte after a continuation means a shorter form existed
             * [MQTT-1.5.5-1]. */
            if (i > 0 && byte == 0)
                return -MQ_RC_MALFORMED_PACKET;
            *value = v;
            return (int)(i + 1);
        }
    }
    return -MQ_RC_MALFORMED_PACKET;
}

int mq_frame(const uint8_t *buf, size_t len, uint32_t max_packet_size, size_t *packet_len)
{
    uint64_t limit = max_packet_size ? max_packet_size : MQ_MAX_PACKET_SIZE;
    if (len < 2)
        return 0;
    if (!(buf[1] & 0x80u)) {
        /* The common case: a packet under 128 bytes. */
        size_t total = 2u + buf[1];
        if (total > limit)
            return -MQ_RC_PACKET_TOO_LARGE;
        if (len < total)
            return 0;
        *packet_len = total;
        return 1;
    }
    uint32_t rl;
    int n = mq_varint_decode(buf + 1, len - 1, &rl);
    if (n < 0)
        return n;
    if (n == 0) {
        /* Length still incomplete: the smallest value the missing bytes can still make is
         * already known, so an oversized packet is refused without waiting for them. */
        size_t have = len - 1;
        uint64_t partial = 0;
        for (size_t i = 0; i < have; i++)
            partial |= (uint64_t)(buf[1 + i] & 0x7Fu) << (7 * i);
        uint64_t smallest = partial + ((uint64_t)1 << (7 * have));
        if (1u + have + 1u + smallest > limit)
            return -MQ_RC_PACKET_TOO_LARGE;
        return 0;
    }
    uint64_t total = 1u + (uint64_t)n + rl;
    if (total > limit)
        return -MQ_RC_PACKET_TOO_LARGE;
    if (len < total)
        return 0;
    *packet_len = (size_t)total;
    return 1;
}
