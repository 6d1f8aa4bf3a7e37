/*
 * Fixture for driving the connection engine without sockets: a broker with the default
 * configuration, connections whose transport records what the engine asks of it, and helpers
 * that encode client packets in and decode server packets out.
 */
#ifndef MQTTD_TEST_ENGINE_FIXTURE_H
#define MQTTD_TEST_ENGINE_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker/broker.h"
#include "server/config.h"
#include "session/conn.h"
#include "session/session.h"

#define BYTES(s) ((mq_bytes){(const uint8_t *)(s), (uint32_t)strlen(s)})

struct test_link {
    bool close_requested;
    bool kick_posted;
    uint8_t *received; /* output taken from the engine, not yet decoded */
    size_t received_len, received_pos;
    uint8_t *keep[64]; /* buffers decoded packets point into */
    size_t keep_count;
};

static void fake_schedule_flush(struct conn *c) {}
static void fake_close(struct conn *c)
{
    ((struct test_link *)c->transport_ctx)->close_requested = true;
}
static void fake_post_kick(struct conn *c)
{
    ((struct test_link *)c->transport_ctx)->kick_posted = true;
}
static void fake_flush(struct conn *c) {}

static const struct conn_transport fake_transport = {
    .schedule_flush = fake_schedule_flush,
    .close = fake_close,
    .post_kick = fake_post_kick,
    .flush = fake_flush,
};

struct fixture {
    struct mq_config config;
    struct broker broker;
    uint64_t now;
};

static struct fixture *fixture_new(void)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_int_equal(config_init(&f->config), 0);
    assert_int_equal(broker_init(&f->broker, &f->config), 0);
    f->now = 1000000;
    return f;
}

static struct conn *open_conn(struct fixture *f)
{
    struct test_link *link = calloc(1, sizeof *link);
    struct conn *c = conn_new(&f->broker, &fake_transport, link, f->now);
    assert_non_null(c);
    return c;
}

static struct test_link *link_of(struct conn *c)
{
    return c->transport_ctx;
}

static void send_packet(struct fixture *f, struct conn *c, uint8_t version,
                        const struct mq_packet *p)
{
    long n = mq_encode(p, version, NULL, 0);
    assert_true(n > 0);
    uint8_t *buf = malloc((size_t)n);
    assert_int_equal(mq_encode(p, version, buf, (size_t)n), n);
    conn_feed(c, buf, (size_t)n, f->now);
    free(buf);
}

/* The next packet the server sent on c, or false when there is none. */
static bool next_packet(struct conn *c, struct mq_packet *out)
{
    struct test_link *link = link_of(c);
    size_t len;
    uint8_t *more = conn_take_output(c, &len);
    if (more) {
        size_t left = link->received_len - link->received_pos;
        uint8_t *buf = malloc(left + len);
        if (left)
            memcpy(buf, link->received + link->received_pos, left);
        memcpy(buf + left, more, len);
        free(more);
        assert_true(link->keep_count < 64);
        link->keep[link->keep_count++] = buf;
        link->received = buf;
        link->received_len = left + len;
        link->received_pos = 0;
    }
    if (link->received_pos >= link->received_len)
        return false;
    size_t packet_len;
    const uint8_t *at = link->received + link->received_pos;
    assert_int_equal(
        mq_frame(at, link->received_len - link->received_pos, MQ_MAX_PACKET_SIZE, &packet_len), 1);
    assert_int_equal(mq_decode(at, packet_len, c->version, false, out), 0);
    link->received_pos += packet_len;
    return true;
}

/* Frees what the packets decoded so far point into, once all of it is consumed: for tests
 * that exchange more packets than the fixture keeps. */
static inline void forget_received(struct conn *c)
{
    struct test_link *link = link_of(c);
    if (link->received_pos < link->received_len)
        return;
    for (size_t i = 0; i < link->keep_count; i++)
        free(link->keep[i]);
    link->keep_count = 0;
    link->received = NULL;
    link->received_len = link->received_pos = 0;
}

static struct mq_packet expect_packet(struct conn *c, uint8_t type)
{
    struct mq_packet p;
    assert_true(next_packet(c, &p));
    assert_int_equal(p.type, type);
    return p;
}

static void expect_nothing(struct conn *c)
{
    struct mq_packet p;
    assert_false(next_packet(c, &p));
}

/* Connects a client; returns the connection with its CONNACK consumed into *ack if given. */
static struct conn *connect_client(struct fixture *f, const char *id, uint8_t version,
                                   bool clean_start, const mq_props *props, struct mq_packet *ack)
{
    struct conn *c = open_conn(f);
    struct mq_packet p = {.type = MQ_CONNECT};
    p.u.connect.protocol_version = version;
    p.u.connect.clean_start = clean_start;
    p.u.connect.keep_alive = 60;
    p.u.connect.client_id = BYTES(id);
    if (props)
        p.u.connect.props = *props;
    send_packet(f, c, version, &p);
    struct mq_packet got = expect_packet(c, MQ_CONNACK);
    if (ack)
        *ack = got;
    return c;
}

static void subscribe(struct fixture *f, struct conn *c, const char *filter, uint8_t options,
                      uint32_t sub_id, uint8_t expected_reason)
{
    mq_topic_request req = {BYTES(filter), options};
    struct mq_packet p = {.type = MQ_SUBSCRIBE};
    p.u.subscribe.packet_id = 7;
    p.u.subscribe.entries = &req;
    p.u.subscribe.entries_len = 1;
    if (sub_id) {
        p.u.subscribe.props.present |= MQ_PROP_BIT(MQ_PROP_SUBSCRIPTION_IDENTIFIER);
        p.u.subscribe.props.subscription_id = sub_id;
    }
    send_packet(f, c, c->version, &p);
    struct mq_packet ack = expect_packet(c, MQ_SUBACK);
    assert_int_equal(ack.u.suback.reason_code_count, 1);
    assert_int_equal(ack.u.suback.reason_codes[0], expected_reason);
}

static void publish(struct fixture *f, struct conn *c, const char *topic, const char *payload,
                    uint8_t qos, bool retain, uint16_t packet_id)
{
    struct mq_packet p = {.type = MQ_PUBLISH};
    p.u.publish.qos = qos;
    p.u.publish.retain = retain;
    p.u.publish.topic = BYTES(topic);
    p.u.publish.payload = BYTES(payload);
    p.u.publish.packet_id = packet_id;
    send_packet(f, c, c->version, &p);
}

static void close_conn(struct fixture *f, struct conn *c)
{
    conn_transport_closed(c, f->now);
    struct test_link *link = link_of(c);
    for (size_t i = 0; i < link->keep_count; i++)
        free(link->keep[i]);
    free(link);
    conn_unref(c);
}

static void fixture_free(struct fixture *f)
{
    broker_destroy(&f->broker);
    config_free(&f->config);
    free(f);
}

static bool bytes_eq(mq_bytes b, const char *s)
{
    return b.len == strlen(s) && memcmp(b.data, s, b.len) == 0;
}

#endif
