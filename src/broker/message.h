/*
 * An application message as the broker routes it: built once from a PUBLISH (or a will, or the
 * API), immutable afterwards, shared by reference count between every queue, inflight window and
 * the retained store that holds it. One allocation holds topic, forwarded properties and payload.
 */
#ifndef MQTTD_MESSAGE_H
#define MQTTD_MESSAGE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct message {
    atomic_uint refs;
    uint8_t qos;
    bool retain;
    uint64_t origin_session;    /* serial of the publishing session, for No Local; 0 = the server */
    uint64_t expires_at_ms;     /* monotonic deadline, 0 = never */
    uint32_t expiry_interval_s; /* as published; a will's deadline starts when it is sent */
    uint16_t topic_len;
    uint32_t props_len; /* forwardable properties, already encoded (codec mq_props.forward) */
    uint32_t payload_len;
    uint8_t *topic;
    uint8_t *props;
    uint8_t *payload;
    uint8_t data[];
};

/* Allocates a message with one reference, copying the three parts. expiry_s 0 = never.
 * Returns NULL when out of memory. */
struct message *message_new(const uint8_t *topic, uint16_t topic_len, const uint8_t *props,
                            uint32_t props_len, const uint8_t *payload, uint32_t payload_len,
                            uint8_t qos, bool retain, uint32_t expiry_s, uint64_t now_ms);
/* Builds the message a client's PUBLISH carries, on `topic` (the alias resolved), keeping
 * the properties a server forwards unchanged. Returns NULL when out of memory. */
struct mq_publish;
struct message *message_from_publish(const struct mq_publish *p, const uint8_t *topic,
                                     uint16_t topic_len, uint64_t now_ms);
static inline struct message *message_ref(struct message *m)
{
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    return m;
}
void message_unref(struct message *m);
/* For the retained store's release callback. */
void message_release(void *m);

static inline bool message_expired(const struct message *m, uint64_t now_ms)
{
    return m->expires_at_ms && now_ms >= m->expires_at_ms;
}
/* Seconds left of the Message Expiry Interval, rounded up (at least 1 while not expired). */
uint32_t message_expiry_left_s(const struct message *m, uint64_t now_ms);

#endif
