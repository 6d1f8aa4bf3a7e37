/*
 * The MQTT side of the `mqttc bench` engine: connection set-up (CONNECT, SUBSCRIBE), paced or
 * unpaced publishing from a pre-encoded PUBLISH that is only patched per message (packet id,
 * timestamp, sequence number), the QoS 1 and QoS 2 handshakes in both roles, and the delivery
 * accounting (window counts and the latency histogram).
 *
 * Payload layout: bytes 0-7 the send time (CLOCK_MONOTONIC ns, host order; the clock is shared
 * by every process on the machine), bytes 8-15 a sequence number (run tag << 48 | publisher
 * number << 32 | message number, host order), then zeros. The run tag lets subscribers ignore
 * messages a broker still delivers from an earlier run on the same topics.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_engine.h"

#define SMALL_PACKET_ROOM 64u

int bproto_append(struct bench_engine *e, struct bconn *c, const struct mq_packet *p)
{
    uint8_t *dst = bconn_reserve(c, SMALL_PACKET_ROOM);
    if (!dst)
        return -1;
    long n = mq_encode(p, e->o->version, dst, SMALL_PACKET_ROOM);
    if (n > (long)SMALL_PACKET_ROOM) {
        dst = bconn_reserve(c, (size_t)n);
        if (!dst)
            return -1;
        n = mq_encode(p, e->o->version, dst, (size_t)n);
    }
    if (n < 0)
        return -1;
    c->out_len += (uint32_t)n;
    bconn_mark_dirty(e, c);
    return 0;
}

int bproto_send_connect(struct bench_engine *e, struct bconn *c)
{
    char id[48];
    int idlen = snprintf(id, sizeof id, "mb%ld-%u", (long)getpid(), c->index);
    struct mq_packet p;
    memset(&p, 0, sizeof p);
    p.type = MQ_CONNECT;
    p.u.connect.protocol_version = e->o->version;
    p.u.connect.clean_start = true;
    p.u.connect.keep_alive = e->o->keep_alive;
    p.u.connect.client_id = (mq_bytes){(const uint8_t *)id, (uint32_t)idlen};
    /* Let the broker push as many QoS 1/2 messages to a subscriber as it allows itself. */
    p.u.connect.props.present = MQ_PROP_BIT(MQ_PROP_RECEIVE_MAXIMUM);
    p.u.connect.props.receive_maximum = 65535;
    return bproto_append(e, c, &p);
}

static int send_subscribe(struct bench_engine *e, struct bconn *c)
{
    mq_topic_request req = {{(const uint8_t *)c->topic, (uint32_t)strlen(c->topic)}, e->o->qos};
    struct mq_packet p;
    memset(&p, 0, sizeof p);
    p.type = MQ_SUBSCRIBE;
    p.u.subscribe.packet_id = 1;
    p.u.subscribe.entries = &req;
    p.u.subscribe.entries_len = 1;
    return bproto_append(e, c, &p);
}

static int send_ack(struct bench_engine *e, struct bconn *c, uint8_t type, uint16_t pid)
{
    struct mq_packet p;
    memset(&p, 0, sizeof p);
    p.type = type;
    p.u.ack.packet_id = pid;
    return bproto_append(e, c, &p);
}

static void became_ready(struct bench_engine *e, struct bconn *c)
{
    c->state = BCONN_READY;
    e->opening--;
    e->ready++;
    if (e->first_ready_ns == 0)
        e->first_ready_ns = e->now;
    e->last_ready_ns = e->now;
    if (c->slow)
        bconn_update_events(e, c);
}

static void refuse(struct bench_engine *e, struct bconn *c, const char *what, unsigned rc)
{
    if (e->refused++ == 0)
        fprintf(stderr, "Error: connection %u: %s refused with reason 0x%02x\n", c->index, what,
                rc);
    bconn_kill(e, c);
}

static void on_connack(struct bench_engine *e, struct bconn *c, const struct mq_connack *ca)
{
    if (c->state != BCONN_CONNACK_WAIT) {
        bconn_kill(e, c);
        return;
    }
    if (ca->reason_code != 0) {
        refuse(e, c, "CONNECT", ca->reason_code);
        return;
    }
    if ((ca->props.present & MQ_PROP_BIT(MQ_PROP_RECEIVE_MAXIMUM)) &&
        ca->props.receive_maximum < c->window)
        c->window = ca->props.receive_maximum;
    if (c->role == BCONN_SUB) {
        c->state = BCONN_SUBACK_WAIT;
        if (send_subscribe(e, c) < 0)
            bconn_kill(e, c);
        return;
    }
    became_ready(e, c);
}

static void count_delivery(struct bench_engine *e, const struct mq_publish *pub)
{
    e->deliveries++;
    if (e->now >= e->win_start && e->now < e->win_end)
        e->recv_in_win++;
    if (pub->payload.len >= 16) {
        uint64_t ts;
        memcpy(&ts, pub->payload.data, sizeof ts);
        if (ts >= e->win_start && ts < e->win_end) {
            e->delivered_win++;
            bench_hist_record(&e->hist, e->now > ts ? e->now - ts : 0);
        }
    }
}

static bool is_own(const struct bench_engine *e, const struct mq_publish *pub)
{
    uint64_t seq;
    if (pub->payload.len < 16)
        return false;
    memcpy(&seq, pub->payload.data + 8, sizeof seq);
    return (uint16_t)(seq >> 48) == e->tag;
}

static void on_delivery(struct bench_engine *e, struct bconn *c, const struct mq_publish *pub)
{
    if (e->own_only && !is_own(e, pub)) {
        e->foreign++;
    } else {
        count_delivery(e, pub);
    }
    if (pub->qos == 1)
        send_ack(e, c, MQ_PUBACK, pub->packet_id);
    else if (pub->qos == 2)
        send_ack(e, c, MQ_PUBREC, pub->packet_id);
}

static void complete_one(struct bench_engine *e, struct bconn *c, uint8_t rc)
{
    if (c->inflight == 0)
        return;
    c->inflight--;
    e->inflight_total--;
    if (rc >= 0x80)
        e->pub_refused++;
}

void bproto_on_packet(struct bench_engine *e, struct bconn *c, const uint8_t *buf, size_t len)
{
    struct mq_packet p;
    int rc = mq_decode(buf, len, e->o->version, false, &p);
    if (rc < 0) {
        fprintf(stderr, "Error: connection %u: undecodable packet from the broker (0x%02x)\n",
                c->index, (unsigned)-rc);
        bconn_kill(e, c);
        return;
    }
    switch (p.type) {
    case MQ_CONNACK:
        on_connack(e, c, &p.u.connack);
        break;
    case MQ_SUBACK:
        if (c->state != BCONN_SUBACK_WAIT || p.u.suback.reason_code_count < 1) {
            bconn_kill(e, c);
        } else if (p.u.suback.reason_codes[0] >= 0x80) {
            refuse(e, c, "SUBSCRIBE", p.u.suback.reason_codes[0]);
        } else {
            became_ready(e, c);
        }
        break;
    case MQ_PUBLISH:
        on_delivery(e, c, &p.u.publish);
        break;
    case MQ_PUBACK:
    case MQ_PUBCOMP:
        complete_one(e, c, p.u.ack.reason_code);
        break;
    case MQ_PUBREC:
        if (p.u.ack.reason_code >= 0x80)
            complete_one(e, c, p.u.ack.reason_code);
        else
            send_ack(e, c, MQ_PUBREL, p.u.ack.packet_id);
        break;
    case MQ_PUBREL:
        send_ack(e, c, MQ_PUBCOMP, p.u.ack.packet_id);
        break;
    case MQ_DISCONNECT:
        fprintf(stderr, "Error: connection %u: the broker disconnected it (reason 0x%02x)\n",
                c->index, p.u.disconnect.reason_code);
        bconn_kill(e, c);
        break;
    default:
        break;
    }
}

int bproto_prepare_publisher(struct bench_engine *e, struct bconn *c)
{
    uint32_t size = e->o->payload_size;
    uint8_t *zeros = calloc(1, size ? size : 1);
    if (!zeros)
        return -1;
    struct mq_packet p;
    memset(&p, 0, sizeof p);
    p.type = MQ_PUBLISH;
    p.u.publish.qos = e->o->qos;
    p.u.publish.topic = (mq_bytes){(const uint8_t *)c->topic, (uint32_t)strlen(c->topic)};
    p.u.publish.packet_id = e->o->qos ? 1 : 0;
    p.u.publish.payload = (mq_bytes){zeros, size};
    long need = mq_encode(&p, e->o->version, NULL, 0);
    c->tmpl = need > 0 ? malloc((size_t)need) : NULL;
    if (c->tmpl)
        mq_encode(&p, e->o->version, c->tmpl, (size_t)need);
    free(zeros);
    if (!c->tmpl)
        return -1;
    uint32_t rem = 0;
    int k = mq_varint_decode(c->tmpl + 1, (size_t)need - 1, &rem);
    c->tmpl_len = (uint32_t)need;
    c->pid_off = 1u + (uint32_t)k + 2u + p.u.publish.topic.len;
    c->next_pid = 1;
    return 0;
}

/* How many messages publisher c may append now: what pacing makes due, limited by the
 * QoS 1/2 window and by the write backlog. Paced messages that do not fit are skipped, not
 * saved up, so a stalled broker sees no burst afterwards and the offered rate stays honest. */
static uint64_t sendable(struct bench_engine *e, struct bconn *c, double pub_rate)
{
    uint64_t want = UINT32_MAX;
    if (pub_rate > 0) {
        double elapsed = (double)(e->now - e->pub_start_ns) * 1e-9;
        uint64_t due = (uint64_t)(elapsed * pub_rate + c->phase);
        if (due <= c->due_done)
            return 0;
        want = due - c->due_done;
        c->due_done = due;
    }
    uint64_t can = want;
    if (e->o->qos > 0) {
        uint64_t room = c->window > c->inflight ? c->window - c->inflight : 0;
        if (can > room)
            can = room;
    }
    uint64_t pending = c->out_len - c->out_off;
    uint64_t room_msgs =
        pending >= e->o->backlog || c->want_out ? 0 : (e->o->backlog - pending) / c->tmpl_len + 1;
    if (can > room_msgs)
        can = room_msgs;
    if (pub_rate > 0)
        e->skipped += want - can;
    else if (can > 0)
        e->busy = true;
    return can;
}

static void put_u64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, sizeof v);
}

static void publish_batch(struct bench_engine *e, struct bconn *c, uint64_t count)
{
    uint8_t *dst = bconn_reserve(c, (size_t)(count * c->tmpl_len));
    if (!dst)
        return;
    uint32_t size = e->o->payload_size;
    bool in_window = e->now >= e->win_start && e->now < e->win_end;
    for (uint64_t i = 0; i < count; i++) {
        memcpy(dst, c->tmpl, c->tmpl_len);
        if (e->o->qos) {
            if (c->next_pid == 0)
                c->next_pid = 1;
            dst[c->pid_off] = (uint8_t)(c->next_pid >> 8);
            dst[c->pid_off + 1] = (uint8_t)c->next_pid;
            c->next_pid++;
        }
        uint8_t *payload = dst + c->tmpl_len - size;
        put_u64(payload, e->now);
        put_u64(payload + 8, ((uint64_t)e->tag << 48) | ((uint64_t)(c->index & 0xffff) << 32) |
                                 ((c->sent + i) & 0xffffffffu));
        dst += c->tmpl_len;
    }
    c->out_len += (uint32_t)(count * c->tmpl_len);
    c->sent += count;
    if (e->o->qos) {
        c->inflight += (uint32_t)count;
        e->inflight_total += count;
    }
    if (in_window) {
        e->sent_win += count;
        e->expected_win += count * c->fan;
    }
    bconn_mark_dirty(e, c);
}

void bproto_publish_due(struct bench_engine *e)
{
    e->busy = false;
    if (!e->publishing)
        return;
    for (uint32_t i = 0; i < e->n; i++) {
        struct bconn *c = &e->conns[i];
        if (c->role != BCONN_PUB || c->state != BCONN_READY)
            continue;
        uint64_t count = sendable(e, c, e->pub_rate);
        if (count)
            publish_batch(e, c, count);
    }
}

void bproto_ping_idle(struct bench_engine *e)
{
    uint64_t half = (uint64_t)e->o->keep_alive * 500000000u;
    if (half == 0)
        return;
    static const uint8_t pingreq[2] = {MQ_PINGREQ << 4, 0};
    for (uint32_t i = 0; i < e->n; i++) {
        struct bconn *c = &e->conns[i];
        if (c->state != BCONN_READY || c->slow || e->now - c->last_tx_ns < half)
            continue;
        uint8_t *dst = bconn_reserve(c, sizeof pingreq);
        if (!dst)
            continue;
        memcpy(dst, pingreq, sizeof pingreq);
        c->out_len += sizeof pingreq;
        bconn_mark_dirty(e, c);
    }
}
