/*
 * The rate limits: the token buckets of session/limits.c alone, then through the connection
 * engine (reading paused and resumed on the tick, DISCONNECT 0x96 where the transport cannot
 * pause, SUBACK 0x97 past the subscription rate) and the counters they keep.
 */
#include "engine_fixture.h"

#include "session/limits.h"

static struct mq_config rates(uint32_t msgs, uint32_t bytes, uint32_t subs)
{
    struct mq_config cfg = {0};
    cfg.max_messages_per_second = msgs;
    cfg.max_bytes_per_second = bytes;
    cfg.max_subscriptions_per_minute = subs;
    return cfg;
}

static void test_new_bucket_admits_one_second_of_messages_then_refuses(void **state)
{
    struct mq_config cfg = rates(10, 0, 0);
    struct conn_limits l = {0};
    for (int i = 0; i < 10; i++)
        assert_true(limits_admit_packet(&l, &cfg, true, 20, 5000));
    assert_false(limits_admit_packet(&l, &cfg, true, 20, 5000));
}

static void test_message_bucket_refills_at_the_configured_rate(void **state)
{
    struct mq_config cfg = rates(10, 0, 0);
    struct conn_limits l = {0};
    for (int i = 0; i < 10; i++)
        assert_true(limits_admit_packet(&l, &cfg, true, 20, 5000));
    assert_false(limits_admit_packet(&l, &cfg, true, 20, 5099)); /* 0.99 message back */
    assert_true(limits_admit_packet(&l, &cfg, true, 20, 5100));  /* one whole message */
    assert_false(limits_admit_packet(&l, &cfg, true, 20, 5100));
    /* A long pause refills the bucket to one second's worth, not more. */
    for (int i = 0; i < 10; i++)
        assert_true(limits_admit_packet(&l, &cfg, true, 20, 60000));
    assert_false(limits_admit_packet(&l, &cfg, true, 20, 60000));
}

static void test_packets_other_than_publish_take_no_message(void **state)
{
    struct mq_config cfg = rates(1, 0, 0);
    struct conn_limits l = {0};
    assert_true(limits_admit_packet(&l, &cfg, true, 20, 1000));
    for (int i = 0; i < 100; i++)
        assert_true(limits_admit_packet(&l, &cfg, false, 2, 1000)); /* PINGREQ, PUBACK, ... */
    assert_false(limits_admit_packet(&l, &cfg, true, 20, 1000));
}

static void
test_packet_larger_than_a_second_of_bytes_passes_then_its_debt_is_waited_for(void **state)
{
    struct mq_config cfg = rates(0, 1000, 0);
    struct conn_limits l = {0};
    assert_true(limits_admit_packet(&l, &cfg, true, 5000, 1000));
    /* 4000 bytes over: the next packet waits until the debt is repaid, 1 byte per ms. */
    assert_false(limits_admit_packet(&l, &cfg, false, 2, 1000 + 4000));
    assert_true(limits_admit_packet(&l, &cfg, false, 2, 1000 + 4001));
}

static void test_refused_packet_takes_nothing_from_either_bucket(void **state)
{
    struct mq_config cfg = rates(1, 1000, 0);
    struct conn_limits l = {0};
    assert_true(limits_admit_packet(&l, &cfg, true, 100, 1000));
    uint32_t bytes = l.bytes_used;
    assert_false(limits_admit_packet(&l, &cfg, true, 100, 1000)); /* no message left */
    assert_int_equal(l.bytes_used, bytes);
}

static void test_byte_rate_takes_effect_in_steps_of_1000_per_second(void **state)
{
    struct mq_config cfg = rates(0, 1500, 0); /* 2 bytes per ms: 2000 per second */
    struct conn_limits l = {0};
    assert_true(limits_admit_packet(&l, &cfg, false, 1999, 1000));
    assert_true(limits_admit_packet(&l, &cfg, false, 1, 1000));
    assert_false(limits_admit_packet(&l, &cfg, false, 1, 1000));
    assert_true(limits_admit_packet(&l, &cfg, false, 1, 1001));
}

static void test_no_rate_configured_admits_everything(void **state)
{
    struct mq_config cfg = rates(0, 0, 0);
    struct conn_limits l = {0};
    for (int i = 0; i < 100000; i++)
        assert_true(limits_admit_packet(&l, &cfg, true, 268435455, 1000));
    assert_true(limits_admit_subscription(&l, &cfg, 1000));
}

static void test_subscription_bucket_holds_one_minute(void **state)
{
    struct mq_config cfg = rates(0, 0, 3);
    struct conn_limits l = {0};
    for (int i = 0; i < 3; i++)
        assert_true(limits_admit_subscription(&l, &cfg, 1000));
    assert_false(limits_admit_subscription(&l, &cfg, 1000));
    assert_false(limits_admit_subscription(&l, &cfg, 1000 + 19999));
    assert_true(limits_admit_subscription(&l, &cfg, 1000 + 20000)); /* a third of a minute */
    assert_false(limits_admit_subscription(&l, &cfg, 1000 + 20000));
}

static void test_buckets_survive_the_millisecond_clock_wrapping(void **state)
{
    struct mq_config cfg = rates(10, 0, 0);
    struct conn_limits l = {0};
    uint32_t before_wrap = UINT32_MAX - 50;
    for (int i = 0; i < 10; i++)
        assert_true(limits_admit_packet(&l, &cfg, true, 20, before_wrap));
    assert_false(limits_admit_packet(&l, &cfg, true, 20, before_wrap));
    assert_true(limits_admit_packet(&l, &cfg, true, 20, before_wrap + 100)); /* wrapped */
    assert_false(limits_admit_packet(&l, &cfg, true, 20, before_wrap + 100));
}

/* A transport that can pause reading, recording what the engine asked. */
static int pause_calls, resume_calls;

static void record_pause(struct conn *c, bool paused)
{
    if (paused)
        pause_calls++;
    else
        resume_calls++;
}

static const struct conn_transport pausable_transport = {
    .schedule_flush = fake_schedule_flush,
    .close = fake_close,
    .post_kick = fake_post_kick,
    .flush = fake_flush,
    .pause_reading = record_pause,
};

static struct conn *connect_with(struct fixture *f, const struct conn_transport *t, const char *id)
{
    struct conn *c = conn_new(&f->broker, t, calloc(1, sizeof(struct test_link)), f->now);
    struct mq_packet p = {.type = MQ_CONNECT};
    p.u.connect.protocol_version = MQ_V5;
    p.u.connect.clean_start = true;
    p.u.connect.keep_alive = 10;
    p.u.connect.client_id = BYTES(id);
    send_packet(f, c, MQ_V5, &p);
    assert_int_equal(expect_packet(c, MQ_CONNACK).u.connack.reason_code, 0);
    return c;
}

/* Three PUBLISH packets in one read, as a fast client sends them. */
static void feed_three_publishes(struct fixture *f, struct conn *c)
{
    uint8_t buf[3 * 64];
    size_t len = 0;
    for (int i = 0; i < 3; i++) {
        struct mq_packet p = {.type = MQ_PUBLISH};
        p.u.publish.topic = BYTES("rate/t");
        p.u.publish.payload = BYTES("x");
        long n = mq_encode(&p, MQ_V5, buf + len, sizeof buf - len);
        assert_true(n > 0);
        len += (size_t)n;
    }
    conn_feed(c, buf, len, f->now);
}

static uint64_t received(struct fixture *f)
{
    return atomic_load(&f->broker.stats.messages_received);
}

static void test_client_over_message_rate_is_paused_and_resumed_on_the_tick(void **state)
{
    struct fixture *f = fixture_new();
    f->config.max_messages_per_second = 2;
    pause_calls = resume_calls = 0;
    struct conn *c = connect_with(f, &pausable_transport, "fast");
    feed_three_publishes(f, c);
    assert_int_equal(received(f), 2);
    assert_int_equal(pause_calls, 1);
    assert_true(c->input_paused);
    assert_int_equal(atomic_load(&f->broker.limits.rate_throttled), 1);

    f->now += 100; /* a fifth of a message back: still waiting, and not counted again */
    conn_tick(c, f->now);
    assert_int_equal(received(f), 2);
    assert_int_equal(resume_calls, 0);
    assert_int_equal(atomic_load(&f->broker.limits.rate_throttled), 1);

    f->now += 400;
    conn_tick(c, f->now);
    assert_int_equal(received(f), 3);
    assert_int_equal(resume_calls, 1);
    assert_false(c->input_paused);
    assert_null(c->in); /* nothing waits: the buffer is gone */
    expect_nothing(c);  /* QoS 0: no acknowledgements, and no DISCONNECT */
    close_conn(f, c);
    fixture_free(f);
}

static void test_paused_client_is_not_dropped_for_keep_alive(void **state)
{
    struct fixture *f = fixture_new();
    f->config.max_messages_per_second = 1;
    struct conn *c = connect_with(f, &pausable_transport, "patient");
    feed_three_publishes(f, c);
    f->now += 15000; /* beyond 1.5 x keep alive 10 s */
    conn_tick(c, f->now);
    assert_false(link_of(c)->close_requested);
    close_conn(f, c);
    fixture_free(f);
}

static void test_client_over_rate_without_pausable_transport_gets_disconnect_0x96(void **state)
{
    struct fixture *f = fixture_new();
    f->config.max_messages_per_second = 2;
    struct conn *c = connect_with(f, &fake_transport, "quic");
    feed_three_publishes(f, c);
    assert_int_equal(received(f), 2);
    struct mq_packet d = expect_packet(c, MQ_DISCONNECT);
    assert_int_equal(d.u.disconnect.reason_code, MQ_RC_MESSAGE_RATE_TOO_HIGH);
    assert_true(link_of(c)->close_requested);
    assert_int_equal(atomic_load(&f->broker.limits.rate_disconnected), 1);
    close_conn(f, c);
    fixture_free(f);
}

static void test_subscriptions_past_the_rate_get_suback_0x97(void **state)
{
    struct fixture *f = fixture_new();
    f->config.max_subscriptions_per_minute = 2;
    struct conn *c = connect_client(f, "subs", MQ_V5, true, NULL, NULL);
    subscribe(f, c, "a", 0, 0, 0);
    subscribe(f, c, "b", 0, 0, 0);
    subscribe(f, c, "c", 0, 0, MQ_RC_QUOTA_EXCEEDED);
    f->now += 30000; /* one back */
    subscribe(f, c, "c", 0, 0, 0);
    assert_int_equal(atomic_load(&f->broker.limits.subscribe_rate_refused), 1);
    close_conn(f, c);
    fixture_free(f);
}

static void test_memory_over_limit_refuses_connect_and_qos1_but_not_qos0(void **state)
{
    struct fixture *f = fixture_new();
    struct conn *early = connect_client(f, "early", MQ_V5, true, NULL, NULL);
    atomic_store(&f->broker.limits.memory_over, true);
    struct mq_packet ack;
    struct conn *late = connect_client(f, "late", MQ_V5, true, NULL, &ack);
    assert_int_equal(ack.u.connack.reason_code, MQ_RC_QUOTA_EXCEEDED);
    assert_true(bytes_eq(ack.u.connack.props.reason_string, "memory_limit reached"));
    struct conn *old = connect_client(f, "old", MQ_V311, true, NULL, &ack);
    assert_int_equal(ack.u.connack.reason_code, MQ_V3_REFUSED_SERVER_UNAVAILABLE);

    publish(f, early, "m/t", "x", 1, false, 5);
    struct mq_packet puback = expect_packet(early, MQ_PUBACK);
    assert_int_equal(puback.u.ack.reason_code, MQ_RC_QUOTA_EXCEEDED);
    publish(f, early, "m/t", "x", 0, false, 0);
    assert_false(link_of(early)->close_requested);
    assert_int_equal(atomic_load(&f->broker.limits.memory_refused), 3);

    atomic_store(&f->broker.limits.memory_over, false);
    publish(f, early, "m/t", "x", 1, false, 6);
    assert_int_equal(expect_packet(early, MQ_PUBACK).u.ack.reason_code,
                     MQ_RC_NO_MATCHING_SUBSCRIBERS);
    close_conn(f, early);
    close_conn(f, late);
    close_conn(f, old);
    fixture_free(f);
}

static void test_stats_report_the_limits_counters(void **state)
{
    struct mq_limits m = {0};
    atomic_store(&m.ip_rate_refused, 4);
    atomic_store(&m.connect_timeouts, 2);
    atomic_store(&m.memory_over, true);
    struct mqttd_stats s = {0};
    limits_stats(&m, &s);
    assert_int_equal(s.limits_ip_rate_refused, 4);
    assert_int_equal(s.limits_connect_timeouts, 2);
    assert_int_equal(s.limits_memory_over, 1);
    assert_int_equal(s.limits_rate_throttled, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_bucket_admits_one_second_of_messages_then_refuses),
        cmocka_unit_test(test_message_bucket_refills_at_the_configured_rate),
        cmocka_unit_test(test_packets_other_than_publish_take_no_message),
        cmocka_unit_test(
            test_packet_larger_than_a_second_of_bytes_passes_then_its_debt_is_waited_for),
        cmocka_unit_test(test_refused_packet_takes_nothing_from_either_bucket),
        cmocka_unit_test(test_byte_rate_takes_effect_in_steps_of_1000_per_second),
        cmocka_unit_test(test_no_rate_configured_admits_everything),
        cmocka_unit_test(test_subscription_bucket_holds_one_minute),
        cmocka_unit_test(test_buckets_survive_the_millisecond_clock_wrapping),
        cmocka_unit_test(test_client_over_message_rate_is_paused_and_resumed_on_the_tick),
        cmocka_unit_test(test_paused_client_is_not_dropped_for_keep_alive),
        cmocka_unit_test(test_client_over_rate_without_pausable_transport_gets_disconnect_0x96),
        cmocka_unit_test(test_subscriptions_past_the_rate_get_suback_0x97),
        cmocka_unit_test(test_memory_over_limit_refuses_connect_and_qos1_but_not_qos0),
        cmocka_unit_test(test_stats_report_the_limits_counters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
