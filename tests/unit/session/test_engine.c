/*
 * The connection engine and sessions driven sans-I/O: packets in, packets out, no sockets.
 */
#include "engine_fixture.h"

#define PROP_BIT(id) MQ_PROP_BIT(MQ_PROP_##id)

static void test_empty_client_id_gets_assigned_identifier(void **state)
{
    struct fixture *f = fixture_new();
    struct mq_packet ack;
    struct conn *c = connect_client(f, "", MQ_V5, true, NULL, &ack);
    assert_int_equal(ack.u.connack.reason_code, 0);
    /* [MQTT-3.2.2-16] the Assigned Client Identifier comes back in CONNACK */
    assert_true(ack.u.connack.props.present & PROP_BIT(ASSIGNED_CLIENT_IDENTIFIER));
    assert_true(ack.u.connack.props.assigned_client_identifier.len > 0);
    close_conn(f, c);
    fixture_free(f);
}

static void test_overlapping_subscriptions_deliver_one_copy_with_every_identifier(void **state)
{
    struct fixture *f = fixture_new();
    struct conn *sub = connect_client(f, "sub", MQ_V5, true, NULL, NULL);
    struct conn *pub = connect_client(f, "pub", MQ_V5, true, NULL, NULL);
    subscribe(f, sub, "a/+", 1, 11, 1);
    subscribe(f, sub, "a/#", 0, 22, 0);
    publish(f, pub, "a/b", "x", 1, false, 5);
    expect_packet(pub, MQ_PUBACK);
    /* [MQTT-3.3.4-3] one copy, at the highest granted QoS, carrying both identifiers */
    struct mq_packet p = expect_packet(sub, MQ_PUBLISH);
    assert_int_equal(p.u.publish.qos, 1);
    assert_int_equal(p.u.publish.props.subscription_id_count, 2);
    uint32_t cursor = 0, id, sum = 0;
    while (mq_props_next_subscription_id(&p.u.publish.props, &cursor, &id))
        sum += id;
    assert_int_equal(sum, 33);
    expect_nothing(sub);
    close_conn(f, sub);
    close_conn(f, pub);
    fixture_free(f);
}

static void test_receive_maximum_limits_unacknowledged_deliveries(void **state)
{
    struct fixture *f = fixture_new();
    mq_props props = {.present = PROP_BIT(RECEIVE_MAXIMUM), .receive_maximum = 2};
    struct conn *sub = connect_client(f, "sub", MQ_V5, true, &props, NULL);
    struct conn *pub = connect_client(f, "pub", MQ_V5, true, NULL, NULL);
    subscribe(f, sub, "t", 1, 0, 1);
    for (uint16_t i = 1; i <= 3; i++) {
        publish(f, pub, "t", "m", 1, false, i);
        expect_packet(pub, MQ_PUBACK);
    }
    /* [MQTT-3.3.4-9] no more than Receive Maximum unacknowledged QoS 1 messages */
    struct mq_packet first = expect_packet(sub, MQ_PUBLISH);
    expect_packet(sub, MQ_PUBLISH);
    expect_nothing(sub);
    struct mq_packet ack = {.type = MQ_PUBACK, .u.ack = {.packet_id = first.u.publish.packet_id}};
    send_packet(f, sub, MQ_V5, &ack);
    expect_packet(sub, MQ_PUBLISH);
    close_conn(f, sub);
    close_conn(f, pub);
    fixture_free(f);
}

/* Packet ids wrap past 65535 and skip one still in flight [MQTT-2.2.1-3]. */
static void test_packet_ids_wrap_around_an_unacknowledged_delivery(void **state)
{
    struct fixture *f = fixture_new();
    struct conn *sub = connect_client(f, "sub", MQ_V5, true, NULL, NULL);
    struct conn *pub = connect_client(f, "pub", MQ_V5, true, NULL, NULL);
    subscribe(f, sub, "t", 1, 0, 1);
    publish(f, pub, "t", "held", 1, false, 1);
    expect_packet(pub, MQ_PUBACK);
    uint16_t held = expect_packet(sub, MQ_PUBLISH).u.publish.packet_id;
    bool wrapped = false;
    uint16_t previous = held;
    for (uint32_t i = 0; i < 70000; i++) {
        publish(f, pub, "t", "m", 1, false, (uint16_t)(i % 65535 + 1));
        expect_packet(pub, MQ_PUBACK);
        uint16_t id = expect_packet(sub, MQ_PUBLISH).u.publish.packet_id;
        assert_int_not_equal(id, 0);
        assert_int_not_equal(id, held);
        wrapped |= id < previous;
        previous = id;
        struct mq_packet ack = {.type = MQ_PUBACK, .u.ack = {.packet_id = id}};
        send_packet(f, sub, MQ_V5, &ack);
        forget_received(sub);
        forget_received(pub);
    }
    assert_true(wrapped);
    close_conn(f, sub);
    close_conn(f, pub);
    fixture_free(f);
}

/* A subscriber that stopped reading loses QoS 0 messages past max_output_backlog. */
static void test_qos0_dropped_past_the_output_backlog_limit(void **state)
{
    struct fixture *f = fixture_new();
    f->config.max_output_backlog = 65536;
    struct conn *sub = connect_client(f, "sub", MQ_V5, true, NULL, NULL);
    struct conn *pub = connect_client(f, "pub", MQ_V5, true, NULL, NULL);
    subscribe(f, sub, "t", 0, 0, 0);
    atomic_store(&sub->write_backlog, 65537);
    publish(f, pub, "t", "lost", 0, false, 0);
    expect_nothing(sub);
    assert_int_equal(atomic_load(&f->broker.stats.messages_dropped), 1);
    atomic_store(&sub->write_backlog, 65536);
    publish(f, pub, "t", "kept", 0, false, 0);
    expect_packet(sub, MQ_PUBLISH);
    close_conn(f, sub);
    close_conn(f, pub);
    fixture_free(f);
}

static void test_qos2_duplicate_is_delivered_once(void **state)
{
    struct fixture *f = fixture_new();
    struct conn *sub = connect_client(f, "sub", MQ_V5, true, NULL, NULL);
    struct conn *pub = connect_client(f, "pub", MQ_V5, true, NULL, NULL);
    subscribe(f, sub, "t", 0, 0, 0);
    publish(f, pub, "t", "once", 2, false, 9);
    expect_packet(pub, MQ_PUBREC);
    publish(f, pub, "t", "once", 2, false, 9); /* resent before PUBREL */
    expect_packet(pub, MQ_PUBREC);
    /* [MQTT-4.3.3-10] not delivered again until the PUBREL */
    expect_packet(sub, MQ_PUBLISH);
    expect_nothing(sub);
    struct mq_packet rel = {.type = MQ_PUBREL, .u.ack = {.packet_id = 9}};
    send_packet(f, pub, MQ_V5, &rel);
    struct mq_packet comp = expect_packet(pub, MQ_PUBCOMP);
    assert_int_equal(comp.u.ack.reason_code, 0);
    send_packet(f, pub, MQ_V5, &rel);
    comp = expect_packet(pub, MQ_PUBCOMP);
    assert_int_equal(comp.u.ack.reason_code, MQ_RC_PACKET_IDENTIFIER_NOT_FOUND);
    close_conn(f, sub);
    close_conn(f, pub);
    fixture_free(f);
}

static void test_topic_alias_zero_disconnects_with_0x94(void **state)
{
    struct fixture *f = fixture_new();
    struct conn *c = connect_client(f, "c", MQ_V5, true, NULL, NULL);
    struct mq_packet p = {.type = MQ_PUBLISH};
    p.u.publish.topic = BYTES("t");
    p.u.publish.props.present = PROP_BIT(TOPIC_ALIAS);
    p.u.publish.props.topic_alias = 0;
    send_packet(f, c, MQ_V5, &p);
    /* [MQTT-3.3.2-8] */
    struct mq_packet d = expect_packet(c, MQ_DISCONNECT);
    assert_int_equal(d.u.disconnect.reason_code, MQ_RC_TOPIC_ALIAS_INVALID);
    assert_true(link_of(c)->close_requested);
    close_conn(f, c);
    fixture_free(f);
}

static void test_client_topic_alias_is_remembered(void **state)
{
    struct fixture *f = fixture_new();
    struct conn *sub = connect_client(f, "sub", MQ_V5, true, NULL, NULL);
    struct conn *pub = connect_client(f, "pub", MQ_V5, true, NULL, NULL);
    subscribe(f, sub, "long/topic", 0, 0, 0);
    struct mq_packet p = {.type = MQ_PUBLISH};
    p.u.publish.topic = BYTES("long/topic");
    p.u.publish.props.present = PROP_BIT(TOPIC_ALIAS);
    p.u.publish.props.topic_alias = 3;
    send_packet(f, pub, MQ_V5, &p);
    p.u.publish.topic = (mq_bytes){0};
    send_packet(f, pub, MQ_V5, &p);
    struct mq_packet got = expect_packet(sub, MQ_PUBLISH);
    assert_true(bytes_eq(got.u.publish.topic, "long/topic"));
    got = expect_packet(sub, MQ_PUBLISH);
    assert_true(bytes_eq(got.u.publish.topic, "long/topic"));
    close_conn(f, sub);
    close_conn(f, pub);
    fixture_free(f);
}

static void test_server_assigns_topic_alias_when_client_allows(void **state)
{
    struct fixture *f = fixture_new();
    mq_props props = {.present = PROP_BIT(TOPIC_ALIAS_MAXIMUM), .topic_alias_maximum = 4};
    struct conn *sub = connect_client(f, "sub", MQ_V5, true, &props, NULL);
    struct conn *pub = connect_client(f, "pub", MQ_V5, true, NULL, NULL);
    subscribe(f, sub, "x/#", 0, 0, 0);
    publish(f, pub, "x/y", "1", 0, false, 0);
    publish(f, pub, "x/y", "2", 0, false, 0);
    struct mq_packet first = expect_packet(sub, MQ_PUBLISH);
    assert_true(bytes_eq(first.u.publish.topic, "x/y"));
    assert_true(first.u.publish.props.present & PROP_BIT(TOPIC_ALIAS));
    struct mq_packet second = expect_packet(sub, MQ_PUBLISH);
    assert_int_equal(second.u.publish.topic.len, 0);
    assert_int_equal(second.u.publish.props.topic_alias, first.u.publish.props.topic_alias);
    close_conn(f, sub);
    close_conn(f, pub);
    fixture_free(f);
}

static void test_no_local_is_not_sent_back_to_publisher(void **state)
{
    struct fixture *f = fixture_new();
    struct conn *c = connect_client(f, "c", MQ_V5, true, NULL, NULL);
    subscribe(f, c, "t", MQ_SUBOPT_NO_LOCAL, 0, 0);
    publish(f, c, "t", "mine", 0, false, 0);
    /* [MQTT-3.8.3-3] */
    expect_nothing(c);
    close_conn(f, c);
    fixture_free(f);
}

static void test_retained_message_sent_on_subscribe_and_deleted_by_empty_payload(void **state)
{
    struct fixture *f = fixture_new();
    struct conn *pub = connect_client(f, "pub", MQ_V5, true, NULL, NULL);
    publish(f, pub, "r/t", "kept", 0, true, 0);
    struct conn *sub = connect_client(f, "sub", MQ_V5, true, NULL, NULL);
    subscribe(f, sub, "r/#", 0, 0, 0);
    struct mq_packet p = expect_packet(sub, MQ_PUBLISH);
    assert_true(p.u.publish.retain); /* [MQTT-3.3.1-8] */
    assert_true(bytes_eq(p.u.publish.payload, "kept"));
    publish(f, pub, "r/t", "", 0, true, 0); /* [MQTT-3.3.1-6] */
    expect_packet(sub, MQ_PUBLISH);
    struct conn *late = connect_client(f, "late", MQ_V5, true, NULL, NULL);
    subscribe(f, late, "r/#", 0, 0, 0);
    expect_nothing(late);
    close_conn(f, late);
    close_conn(f, sub);
    close_conn(f, pub);
    fixture_free(f);
}

static void test_persistent_session_queues_and_resends_with_dup(void **state)
{
    struct fixture *f = fixture_new();
    mq_props keep = {.present = PROP_BIT(SESSION_EXPIRY_INTERVAL), .session_expiry_interval = 60};
    struct conn *sub = connect_client(f, "sub", MQ_V5, true, &keep, NULL);
    struct conn *pub = connect_client(f, "pub", MQ_V5, true, NULL, NULL);
    subscribe(f, sub, "q", 1, 0, 1);
    publish(f, pub, "q", "inflight", 1, false, 1);
    expect_packet(sub, MQ_PUBLISH); /* never acknowledged */
    close_conn(f, sub);
    publish(f, pub, "q", "queued", 1, false, 2);

    struct mq_packet ack;
    sub = connect_client(f, "sub", MQ_V5, false, &keep, &ack);
    assert_true(ack.u.connack.session_present); /* [MQTT-3.2.2-3] */
    struct mq_packet again = expect_packet(sub, MQ_PUBLISH);
    assert_true(again.u.publish.dup); /* [MQTT-4.4.0-1] */
    assert_true(bytes_eq(again.u.publish.payload, "inflight"));
    struct mq_packet queued = expect_packet(sub, MQ_PUBLISH);
    assert_false(queued.u.publish.dup);
    assert_true(bytes_eq(queued.u.publish.payload, "queued"));
    close_conn(f, sub);
    close_conn(f, pub);
    fixture_free(f);
}

static void test_takeover_asks_old_connection_to_leave_with_0x8e(void **state)
{
    struct fixture *f = fixture_new();
    struct conn *old = connect_client(f, "same", MQ_V5, true, NULL, NULL);
    struct conn *new = connect_client(f, "same", MQ_V5, true, NULL, NULL);
    assert_true(link_of(old)->kick_posted);
    conn_kick_now(old);
    /* [MQTT-3.1.4-3] */
    struct mq_packet d = expect_packet(old, MQ_DISCONNECT);
    assert_int_equal(d.u.disconnect.reason_code, MQ_RC_SESSION_TAKEN_OVER);
    close_conn(f, old);
    assert_non_null(new->session->conn);
    close_conn(f, new);
    fixture_free(f);
}

static struct conn *connect_with_will(struct fixture *f, const char *id)
{
    struct conn *c = open_conn(f);
    struct mq_packet p = {.type = MQ_CONNECT};
    p.u.connect.protocol_version = MQ_V5;
    p.u.connect.clean_start = true;
    p.u.connect.client_id = BYTES(id);
    p.u.connect.will_flag = true;
    p.u.connect.will_topic = BYTES("wills/x");
    p.u.connect.will_payload = BYTES("gone");
    send_packet(f, c, MQ_V5, &p);
    expect_packet(c, MQ_CONNACK);
    return c;
}

static void test_will_published_on_abnormal_close_only(void **state)
{
    struct fixture *f = fixture_new();
    struct conn *sub = connect_client(f, "sub", MQ_V5, true, NULL, NULL);
    subscribe(f, sub, "wills/#", 0, 0, 0);

    struct conn *c = connect_with_will(f, "w1");
    close_conn(f, c); /* no DISCONNECT */
    struct mq_packet p = expect_packet(sub, MQ_PUBLISH);
    assert_true(bytes_eq(p.u.publish.payload, "gone"));

    c = connect_with_will(f, "w2");
    struct mq_packet d = {.type = MQ_DISCONNECT};
    send_packet(f, c, MQ_V5, &d);
    close_conn(f, c);
    /* [MQTT-3.1.2-10] a normal DISCONNECT deletes the will */
    expect_nothing(sub);
    close_conn(f, sub);
    fixture_free(f);
}

static void test_keep_alive_expiry_disconnects_with_0x8d(void **state)
{
    struct fixture *f = fixture_new();
    struct conn *c = connect_client(f, "c", MQ_V5, true, NULL, NULL);
    f->now += 60 * 1000 + 29 * 1000;
    conn_tick(c, f->now);
    expect_nothing(c);
    f->now += 1000;
    conn_tick(c, f->now); /* one and a half keep alive periods [MQTT-3.1.2-22] */
    struct mq_packet d = expect_packet(c, MQ_DISCONNECT);
    assert_int_equal(d.u.disconnect.reason_code, MQ_RC_KEEP_ALIVE_TIMEOUT);
    close_conn(f, c);
    fixture_free(f);
}

static void test_message_over_client_maximum_packet_size_is_not_sent(void **state)
{
    struct fixture *f = fixture_new();
    mq_props props = {.present = PROP_BIT(MAXIMUM_PACKET_SIZE), .maximum_packet_size = 64};
    struct conn *sub = connect_client(f, "sub", MQ_V5, true, &props, NULL);
    struct conn *pub = connect_client(f, "pub", MQ_V5, true, NULL, NULL);
    subscribe(f, sub, "t", 1, 0, 1);
    char big[200];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    publish(f, pub, "t", big, 1, false, 1);
    publish(f, pub, "t", "small", 1, false, 2);
    /* [MQTT-3.1.2-24] the large one is discarded, the next goes through */
    struct mq_packet p = expect_packet(sub, MQ_PUBLISH);
    assert_true(bytes_eq(p.u.publish.payload, "small"));
    close_conn(f, sub);
    close_conn(f, pub);
    fixture_free(f);
}

static void test_shared_subscription_gives_each_message_to_one_member(void **state)
{
    struct fixture *f = fixture_new();
    struct conn *a = connect_client(f, "a", MQ_V5, true, NULL, NULL);
    struct conn *b = connect_client(f, "b", MQ_V5, true, NULL, NULL);
    struct conn *pub = connect_client(f, "pub", MQ_V5, true, NULL, NULL);
    subscribe(f, a, "$share/g/s/#", 0, 0, 0);
    subscribe(f, b, "$share/g/s/#", 0, 0, 0);
    for (int i = 0; i < 10; i++)
        publish(f, pub, "s/1", "m", 0, false, 0);
    int got_a = 0, got_b = 0;
    struct mq_packet p;
    while (next_packet(a, &p))
        got_a++;
    while (next_packet(b, &p))
        got_b++;
    assert_int_equal(got_a + got_b, 10); /* [MQTT-4.8.2-4] */
    assert_true(got_a > 0 && got_b > 0);
    close_conn(f, a);
    close_conn(f, b);
    close_conn(f, pub);
    fixture_free(f);
}

static void test_second_connect_is_a_protocol_error(void **state)
{
    struct fixture *f = fixture_new();
    struct conn *c = connect_client(f, "c", MQ_V5, true, NULL, NULL);
    struct mq_packet p = {.type = MQ_CONNECT};
    p.u.connect.protocol_version = MQ_V5;
    p.u.connect.client_id = BYTES("c");
    send_packet(f, c, MQ_V5, &p);
    /* [MQTT-3.1.0-2] */
    struct mq_packet d = expect_packet(c, MQ_DISCONNECT);
    assert_int_equal(d.u.disconnect.reason_code, MQ_RC_PROTOCOL_ERROR);
    close_conn(f, c);
    fixture_free(f);
}

static void test_packet_split_across_reads_is_reassembled(void **state)
{
    struct fixture *f = fixture_new();
    struct conn *c = open_conn(f);
    struct mq_packet p = {.type = MQ_CONNECT};
    p.u.connect.protocol_version = MQ_V311;
    p.u.connect.clean_start = true;
    p.u.connect.client_id = BYTES("split");
    uint8_t buf[64];
    long n = mq_encode(&p, MQ_V311, buf, sizeof buf);
    for (long i = 0; i < n; i++)
        conn_feed(c, buf + i, 1, f->now);
    struct mq_packet ack = expect_packet(c, MQ_CONNACK);
    assert_int_equal(ack.u.connack.reason_code, 0);
    assert_null(c->in); /* nothing held once the packet is complete */
    close_conn(f, c);
    fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_client_id_gets_assigned_identifier),
        cmocka_unit_test(test_overlapping_subscriptions_deliver_one_copy_with_every_identifier),
        cmocka_unit_test(test_receive_maximum_limits_unacknowledged_deliveries),
        cmocka_unit_test(test_packet_ids_wrap_around_an_unacknowledged_delivery),
        cmocka_unit_test(test_qos0_dropped_past_the_output_backlog_limit),
        cmocka_unit_test(test_qos2_duplicate_is_delivered_once),
        cmocka_unit_test(test_topic_alias_zero_disconnects_with_0x94),
        cmocka_unit_test(test_client_topic_alias_is_remembered),
        cmocka_unit_test(test_server_assigns_topic_alias_when_client_allows),
        cmocka_unit_test(test_no_local_is_not_sent_back_to_publisher),
        cmocka_unit_test(test_retained_message_sent_on_subscribe_and_deleted_by_empty_payload),
        cmocka_unit_test(test_persistent_session_queues_and_resends_with_dup),
        cmocka_unit_test(test_takeover_asks_old_connection_to_leave_with_0x8e),
        cmocka_unit_test(test_will_published_on_abnormal_close_only),
        cmocka_unit_test(test_keep_alive_expiry_disconnects_with_0x8d),
        cmocka_unit_test(test_message_over_client_maximum_packet_size_is_not_sent),
        cmocka_unit_test(test_shared_subscription_gives_each_message_to_one_member),
        cmocka_unit_test(test_second_connect_is_a_protocol_error),
        cmocka_unit_test(test_packet_split_across_reads_is_reassembled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
