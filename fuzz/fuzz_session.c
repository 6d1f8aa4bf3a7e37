/*
 * Fuzz target for the connection engine and the broker behind it, driven sans-I/O as the unit
 * tests do (tests/unit/session/engine_fixture.h): four connection slots on one broker, fed the
 * input as a script.
 *
 * Input: one byte of configuration variants, then operations. An operation byte's low two bits
 * pick a slot; its high six bits pick what to do:
 *   0..47   feed the next N bytes (N: a big-endian 16-bit count, cut to what is left),
 *   48..55  let time pass (next byte x 250 ms), then tick every connection and sweep,
 *   56..63  the peer drops the connection; a fresh one takes the slot.
 *
 * Invariants checked after every operation, aborting when one fails:
 *   - the server's output is a whole number of packets, each a legal server-to-client packet
 *     that mq_decode accepts at the connection's protocol level;
 *   - the first packet on a connection is CONNACK [MQTT-3.2.0-1];
 *   - no PUBLISH exceeds the Maximum Packet Size the client announced [MQTT-3.1.2-24], nor
 *     any packet still carrying a Reason String or User Properties [MQTT-3.1.2-29] (others
 *     can be too big only for an absurd maximum such as 1, and have no smaller form);
 *   - nothing is sent after DISCONNECT [MQTT-3.14.4-1] (3.14.4: the sender closes after it);
 *   - a connection the engine asked to close is closed by the "transport", as a real one is.
 * ASan and UBSan check memory; LeakSanitizer checks that tearing everything down frees it all.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "server/config.h"
#include "server/log.h"
#include "session/conn.h"

#define SLOTS 4

struct slot {
    struct conn *conn;
    bool close_requested;
    bool kick_posted;
    bool sent_any;
    bool sent_disconnect;
};

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "session invariant broken: %s\n", what);
        abort();
    }
}

static void dump(const char *what, int rc, const uint8_t *p, size_t len, uint8_t version)
{
    fprintf(stderr, "%s (%d) at level %u:", what, rc, version);
    for (size_t i = 0; i < len && i < 64; i++)
        fprintf(stderr, " %02x", p[i]);
    fprintf(stderr, "\n");
}

static void on_schedule_flush(struct conn *c) {}
static void on_close(struct conn *c)
{
    ((struct slot *)c->transport_ctx)->close_requested = true;
}
/* As a worker does, the kick runs later on the owner, not inside the call that posted it. */
static void on_post_kick(struct conn *c)
{
    ((struct slot *)c->transport_ctx)->kick_posted = true;
}
static void on_flush(struct conn *c) {}

static const struct conn_transport transport = {
    .schedule_flush = on_schedule_flush,
    .close = on_close,
    .post_kick = on_post_kick,
    .flush = on_flush,
};

static void slot_open(struct broker *b, struct slot *s, uint64_t now)
{
    memset(s, 0, sizeof *s);
    s->conn = conn_new(b, &transport, s, now);
    check(s->conn != NULL, "conn_new failed");
}

/* Whether the server could have left the packet out or made it smaller. */
static bool droppable(const struct mq_packet *p)
{
    const mq_props *props = NULL;
    switch (p->type) {
    case MQ_PUBLISH:
        return true;
    case MQ_CONNACK:
        props = &p->u.connack.props;
        break;
    case MQ_PUBACK:
    case MQ_PUBREC:
    case MQ_PUBREL:
    case MQ_PUBCOMP:
        props = &p->u.ack.props;
        break;
    case MQ_SUBACK:
    case MQ_UNSUBACK:
        props = &p->u.suback.props;
        break;
    case MQ_DISCONNECT:
    case MQ_AUTH:
        props = &p->u.disconnect.props;
        break;
    default:
        return false;
    }
    return (props->present & MQ_PROP_BIT(MQ_PROP_REASON_STRING)) || props->user_property_count;
}

/* Checks what the server wrote on one connection since the last look. */
static void check_output(struct slot *s)
{
    size_t len;
    uint8_t *out = conn_take_output(s->conn, &len);
    if (!out)
        return;
    conn_output_written(s->conn, len);
    uint8_t version = s->conn->version;
    check(version >= MQ_V31 && version <= MQ_V5, "output before the protocol level is known");
    size_t at = 0;
    while (at < len) {
        size_t packet_len;
        check(mq_frame(out + at, len - at, 0, &packet_len) == 1, "output is not whole packets");
        struct mq_packet p;
        int rc = mq_decode(out + at, packet_len, version, false, &p);
        if (rc != 0)
            dump("refused by mq_decode", rc, out + at, packet_len, version);
        check(rc == 0, "the server sent a packet its own decoder refuses");
        check(s->sent_any || p.type == MQ_CONNACK, "first packet is not CONNACK");
        check(!s->sent_disconnect, "a packet after DISCONNECT");
        if (s->conn->max_packet_out && packet_len > s->conn->max_packet_out)
            check(!droppable(&p), "a packet over the client's maximum that could have shrunk");
        s->sent_any = true;
        s->sent_disconnect = p.type == MQ_DISCONNECT;
        at += packet_len;
    }
    free(out);
}

static void slot_close(struct broker *b, struct slot *s, uint64_t now)
{
    check_output(s);
    conn_transport_closed(s->conn, now);
    conn_unref(s->conn);
    s->conn = NULL;
}

static void settle(struct broker *b, struct slot *slots, uint64_t now)
{
    for (int i = 0; i < SLOTS; i++) {
        if (slots[i].kick_posted) {
            slots[i].kick_posted = false;
            conn_kick_now(slots[i].conn);
        }
        check_output(&slots[i]);
    }
    for (int i = 0; i < SLOTS; i++) {
        if (slots[i].close_requested) {
            slot_close(b, &slots[i], now);
            slot_open(b, &slots[i], now);
        }
    }
}

/* Small limits so that short inputs reach the refusals behind them. */
static void apply_variants(struct mq_config *config, uint8_t v)
{
    if (v & 1u)
        config->max_inflight_messages = 2;
    if (v & 2u)
        config->max_packet_size = 200;
    if (v & 4u)
        config->max_subscriptions_per_client = 3;
    if (v & 8u)
        config->max_queued_messages = 2;
    if (v & 16u)
        config->max_topic_alias = 2;
    if (v & 32u)
        config->message_size_limit = 16;
    if (v & 64u)
        config->max_qos = 1;
    if (v & 128u)
        config->retain_available = false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    log_max_level = LOG_ERROR;
    struct mq_config config;
    check(config_init(&config) == 0, "config_init");
    apply_variants(&config, data[0]);
    struct broker broker;
    check(broker_init(&broker, &config) == 0, "broker_init");
    uint64_t now = 1000000;
    struct slot slots[SLOTS];
    for (int i = 0; i < SLOTS; i++)
        slot_open(&broker, &slots[i], now);

    size_t at = 1;
    while (at < size) {
        uint8_t op = data[at++];
        struct slot *s = &slots[op & 3u];
        unsigned kind = op >> 2;
        if (kind < 48) {
            size_t n = 0;
            if (at + 2 <= size)
                n = (size_t)data[at] << 8 | data[at + 1];
            at += 2;
            if (at > size)
                break;
            if (n > size - at)
                n = size - at;
            conn_feed(s->conn, data + at, n, now);
            at += n;
        } else if (kind < 56) {
            now += at < size ? (uint64_t)data[at++] * 250u : 250u;
            for (int i = 0; i < SLOTS; i++)
                conn_tick(slots[i].conn, now);
            broker_sweep(&broker, now);
        } else {
            slot_close(&broker, s, now);
            slot_open(&broker, s, now);
        }
        settle(&broker, slots, now);
    }

    for (int i = 0; i < SLOTS; i++)
        slot_close(&broker, &slots[i], now);
    broker_sweep(&broker, now + 1000u * 1000u * 1000u);
    broker_destroy(&broker);
    config_free(&config);
    return 0;
}
