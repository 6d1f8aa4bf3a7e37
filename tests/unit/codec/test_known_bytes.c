/*
 * Exact wire layouts, written out by hand from the spec's examples and packet figures: the
 * decoder reads them and the encoder reproduces them byte for byte.
 */
#include "codec_test.h"

static uint8_t out_buf[512];

static void assert_encodes_to(const struct mq_packet *pkt, uint8_t version, const uint8_t *want,
                              size_t len)
{
    assert_int_equal(mq_encode(pkt, version, out_buf, sizeof out_buf), (long)len);
    assert_memory_equal(out_buf, want, len);
}

/* The v5 CONNECT variable header of spec 3.1.2.10 (flags 0xCE, Keep Alive 10, Session Expiry
 * Interval 10), followed by a payload in the order of 3.1.3. */
static const uint8_t connect_v5[] = {
    0x10, 0x26,                               /* CONNECT, remaining length 38 */
    0x00, 0x04, 'M',  'Q',  'T',  'T',  0x05, /* protocol name, version 5 */
    0xCE, 0x00, 0x0A,                         /* user, password, will QoS 1, will, clean */
    0x05, 0x11, 0x00, 0x00, 0x00, 0x0A,       /* properties: Session Expiry Interval 10 */
    0x00, 0x02, 'c',  '1',                    /* client id */
    0x00,                                     /* will properties: none */
    0x00, 0x03, 'w',  '/',  't',              /* will topic */
    0x00, 0x03, 'b',  'y',  'e',              /* will payload */
    0x00, 0x01, 'u',                          /* user name */
    0x00, 0x02, 'p',  'w',                    /* password */
};

static void test_v5_connect_example_decodes_and_reencodes(void **state)
{
    struct mq_packet pkt;
    assert_int_equal(mq_decode(connect_v5, sizeof connect_v5, 0, true, &pkt), 0);
    const struct mq_connect *c = &pkt.u.connect;
    assert_int_equal(c->protocol_version, MQ_V5);
    assert_true(c->clean_start);
    assert_true(c->will_flag);
    assert_int_equal(c->will_qos, 1);
    assert_false(c->will_retain);
    assert_true(c->username_flag);
    assert_true(c->password_flag);
    assert_int_equal(c->keep_alive, 10);
    assert_int_equal(c->props.present, P(SESSION_EXPIRY_INTERVAL));
    assert_int_equal(c->props.session_expiry_interval, 10);
    assert_bytes_eq(c->client_id, BYTES("c1"));
    assert_int_equal(c->will_props.present, 0);
    assert_bytes_eq(c->will_topic, BYTES("w/t"));
    assert_bytes_eq(c->will_payload, BYTES("bye"));
    assert_bytes_eq(c->username, BYTES("u"));
    assert_bytes_eq(c->password, BYTES("pw"));
    assert_encodes_to(&pkt, MQ_V5, connect_v5, sizeof connect_v5);
}

/* The 3.1.1 example of its section 3.1.2.10: same flags, no properties. */
static const uint8_t connect_v311[] = {
    0x10, 0x1F, 0x00, 0x04, 'M',  'Q',  'T',  'T',  0x04, 0xCE, 0x00,
    0x0A, 0x00, 0x02, 'c',  '1',  0x00, 0x03, 'w',  '/',  't',  0x00,
    0x03, 'b',  'y',  'e',  0x00, 0x01, 'u',  0x00, 0x02, 'p',  'w',
};

static void test_v311_connect_example_decodes_and_reencodes(void **state)
{
    struct mq_packet pkt;
    assert_int_equal(mq_decode(connect_v311, sizeof connect_v311, 0, true, &pkt), 0);
    assert_int_equal(pkt.u.connect.protocol_version, MQ_V311);
    assert_int_equal(pkt.u.connect.keep_alive, 10);
    assert_encodes_to(&pkt, MQ_V311, connect_v311, sizeof connect_v311);
}

/* MQTT 3.1 names itself "MQIsdp" at level 3. */
static const uint8_t connect_v31[] = {
    0x10, 0x10, 0x00, 0x06, 'M',  'Q',  'I',  's', 'd',
    'p',  0x03, 0x02, 0x00, 0x3C, 0x00, 0x02, 'c', '1',
};

static void test_v31_connect_uses_mqisdp_name_and_level_3(void **state)
{
    struct mq_packet pkt;
    assert_int_equal(mq_decode(connect_v31, sizeof connect_v31, 0, true, &pkt), 0);
    assert_int_equal(pkt.u.connect.protocol_version, MQ_V31);
    assert_true(pkt.u.connect.clean_start);
    assert_int_equal(pkt.u.connect.keep_alive, 60);
    assert_encodes_to(&pkt, MQ_V31, connect_v31, sizeof connect_v31);
}

static void test_v311_connack_is_four_bytes(void **state)
{
    const uint8_t want[] = {0x20, 0x02, 0x01, 0x00};
    struct mq_packet pkt;
    assert_int_equal(mq_decode(want, sizeof want, MQ_V311, false, &pkt), 0);
    assert_true(pkt.u.connack.session_present);
    assert_encodes_to(&pkt, MQ_V311, want, sizeof want);
}

static void test_v5_connack_with_properties_has_exact_layout(void **state)
{
    const uint8_t want[] = {0x20, 0x0A, 0x00, 0x00, 0x07, 0x21, 0x00, 0x14, 0x24, 0x01, 0x25, 0x00};
    struct mq_packet pkt;
    memset(&pkt, 0, sizeof pkt);
    pkt.type = MQ_CONNACK;
    pkt.u.connack.props.present = P(RECEIVE_MAXIMUM) | P(MAXIMUM_QOS) | P(RETAIN_AVAILABLE);
    pkt.u.connack.props.receive_maximum = 20;
    pkt.u.connack.props.maximum_qos = 1;
    pkt.u.connack.props.retain_available = 0;
    assert_encodes_to(&pkt, MQ_V5, want, sizeof want);
}

static void test_v311_publish_qos1_has_exact_layout(void **state)
{
    const uint8_t want[] = {0x33, 0x09, 0x00, 0x03, 'a', '/', 'b', 0x00, 0x0A, 'h', 'i'};
    struct mq_packet pkt;
    assert_int_equal(mq_decode(want, sizeof want, MQ_V311, true, &pkt), 0);
    assert_int_equal(pkt.u.publish.qos, 1);
    assert_true(pkt.u.publish.retain);
    assert_false(pkt.u.publish.dup);
    assert_int_equal(pkt.u.publish.packet_id, 10);
    assert_bytes_eq(pkt.u.publish.payload, BYTES("hi"));
    assert_encodes_to(&pkt, MQ_V311, want, sizeof want);
}

static void test_v5_publish_properties_are_written_in_id_order_then_user_properties(void **state)
{
    const uint8_t want[] = {0x30, 0x10, 0x00, 0x01, 't',  0x0C, 0x01, 0x01, 0x23,
                            0x00, 0x05, 0x26, 0x00, 0x01, 'k',  0x00, 0x01, 'v'};
    static const mq_user_property up[] = {{BYTES("k"), BYTES("v")}};
    struct mq_packet pkt;
    memset(&pkt, 0, sizeof pkt);
    pkt.type = MQ_PUBLISH;
    pkt.u.publish.topic = BYTES("t");
    pkt.u.publish.props.present = P(TOPIC_ALIAS) | P(PAYLOAD_FORMAT_INDICATOR);
    pkt.u.publish.props.topic_alias = 5;
    pkt.u.publish.props.payload_format_indicator = 1;
    pkt.u.publish.props.user_properties = up;
    pkt.u.publish.props.user_properties_len = 1;
    assert_encodes_to(&pkt, MQ_V5, want, sizeof want);
}

static void test_v5_acks_use_short_forms(void **state)
{
    /* Spec 3.4.2.1: reason code and property length may be left out. */
    const uint8_t rl2[] = {0x40, 0x02, 0x00, 0x01};
    const uint8_t rl3[] = {0x40, 0x03, 0x00, 0x01, 0x10};
    const uint8_t full[] = {0x62, 0x08, 0x00, 0x01, 0x92, 0x04, 0x1F, 0x00, 0x01, 'r'};
    struct mq_packet pkt;
    memset(&pkt, 0, sizeof pkt);
    pkt.type = MQ_PUBACK;
    pkt.u.ack.packet_id = 1;
    assert_encodes_to(&pkt, MQ_V5, rl2, sizeof rl2);
    pkt.u.ack.reason_code = MQ_RC_NO_MATCHING_SUBSCRIBERS;
    assert_encodes_to(&pkt, MQ_V5, rl3, sizeof rl3);
    pkt.type = MQ_PUBREL;
    pkt.u.ack.reason_code = MQ_RC_PACKET_IDENTIFIER_NOT_FOUND;
    pkt.u.ack.props.present = P(REASON_STRING);
    pkt.u.ack.props.reason_string = BYTES("r");
    assert_encodes_to(&pkt, MQ_V5, full, sizeof full);

    assert_int_equal(mq_decode(rl2, sizeof rl2, MQ_V5, true, &pkt), 0);
    assert_int_equal(pkt.u.ack.reason_code, 0);
    assert_int_equal(mq_decode(rl3, sizeof rl3, MQ_V5, true, &pkt), 0);
    assert_int_equal(pkt.u.ack.reason_code, 0x10);
    assert_int_equal(pkt.u.ack.props.present, 0);
    assert_int_equal(mq_decode(full, sizeof full, MQ_V5, true, &pkt), 0);
    assert_bytes_eq(pkt.u.ack.props.reason_string, BYTES("r"));
}

static void test_v311_subscribe_and_suback_have_exact_layout(void **state)
{
    const uint8_t sub[] = {0x82, 0x0E, 0x00, 0x0A, 0x00, 0x03, 'a', '/',
                           'b',  0x01, 0x00, 0x03, 'c',  '/',  '#', 0x02};
    const uint8_t suback[] = {0x90, 0x04, 0x00, 0x0A, 0x01, 0x80};
    struct mq_packet pkt;
    assert_int_equal(mq_decode(sub, sizeof sub, MQ_V311, true, &pkt), 0);
    assert_int_equal(pkt.u.subscribe.packet_id, 10);
    assert_int_equal(pkt.u.subscribe.entry_count, 2);
    mq_topic_request entries[2];
    uint32_t cursor = 0;
    assert_int_equal(mq_subscribe_next(&pkt.u.subscribe, &cursor, &entries[0]), 1);
    assert_int_equal(mq_subscribe_next(&pkt.u.subscribe, &cursor, &entries[1]), 1);
    assert_int_equal(mq_subscribe_next(&pkt.u.subscribe, &cursor, &entries[1]), 0);
    pkt.u.subscribe.entries = entries;
    pkt.u.subscribe.entries_len = 2;
    assert_encodes_to(&pkt, MQ_V311, sub, sizeof sub);

    assert_int_equal(mq_decode(suback, sizeof suback, MQ_V311, false, &pkt), 0);
    assert_int_equal(pkt.u.suback.reason_code_count, 2);
    assert_int_equal(pkt.u.suback.reason_codes[1], 0x80);
    assert_encodes_to(&pkt, MQ_V311, suback, sizeof suback);
}

static void test_v5_disconnect_forms_have_exact_layout(void **state)
{
    const uint8_t normal[] = {0xE0, 0x00};
    const uint8_t with_will[] = {0xE0, 0x01, 0x04};
    const uint8_t with_props[] = {0xE0, 0x07, 0x8B, 0x05, 0x1F, 0x00, 0x02, 'b', 'y'};
    struct mq_packet pkt;
    memset(&pkt, 0, sizeof pkt);
    pkt.type = MQ_DISCONNECT;
    assert_encodes_to(&pkt, MQ_V5, normal, sizeof normal);
    assert_encodes_to(&pkt, MQ_V311, normal, sizeof normal);
    pkt.u.disconnect.reason_code = MQ_RC_DISCONNECT_WITH_WILL;
    assert_encodes_to(&pkt, MQ_V5, with_will, sizeof with_will);
    pkt.u.disconnect.reason_code = MQ_RC_SERVER_SHUTTING_DOWN;
    pkt.u.disconnect.props.present = P(REASON_STRING);
    pkt.u.disconnect.props.reason_string = BYTES("by");
    assert_encodes_to(&pkt, MQ_V5, with_props, sizeof with_props);
    assert_int_equal(mq_decode(with_props, sizeof with_props, MQ_V5, false, &pkt), 0);
    assert_int_equal(pkt.u.disconnect.reason_code, 0x8B);
}

static void test_v5_auth_with_no_body_means_success(void **state)
{
    const uint8_t auth[] = {0xF0, 0x00};
    struct mq_packet pkt;
    memset(&pkt, 0x77, sizeof pkt);
    assert_int_equal(mq_decode(auth, sizeof auth, MQ_V5, true, &pkt), 0);
    assert_int_equal(pkt.type, MQ_AUTH);
    assert_int_equal(pkt.u.disconnect.reason_code, 0);
    assert_int_equal(pkt.u.disconnect.props.present, 0);
}

static void test_names_of_packet_types_and_reason_codes(void **state)
{
    assert_string_equal(mq_packet_type_name(MQ_PUBLISH), "PUBLISH");
    assert_string_equal(mq_packet_type_name(MQ_AUTH), "AUTH");
    assert_string_equal(mq_packet_type_name(0), "RESERVED");
    assert_string_equal(mq_packet_type_name(99), "UNKNOWN");
    assert_string_equal(mq_reason_code_name(0x00), "Success");
    assert_string_equal(mq_reason_code_name(0x81), "Malformed Packet");
    assert_string_equal(mq_reason_code_name(0x82), "Protocol Error");
    assert_string_equal(mq_reason_code_name(0x90), "Topic Name invalid");
    assert_string_equal(mq_reason_code_name(0xA2), "Wildcard Subscriptions not supported");
    assert_string_equal(mq_reason_code_name(0x03), "Unknown reason code");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v5_connect_example_decodes_and_reencodes),
        cmocka_unit_test(test_v311_connect_example_decodes_and_reencodes),
        cmocka_unit_test(test_v31_connect_uses_mqisdp_name_and_level_3),
        cmocka_unit_test(test_v311_connack_is_four_bytes),
        cmocka_unit_test(test_v5_connack_with_properties_has_exact_layout),
        cmocka_unit_test(test_v311_publish_qos1_has_exact_layout),
        cmocka_unit_test(test_v5_publish_properties_are_written_in_id_order_then_user_properties),
        cmocka_unit_test(test_v5_acks_use_short_forms),
        cmocka_unit_test(test_v311_subscribe_and_suback_have_exact_layout),
        cmocka_unit_test(test_v5_disconnect_forms_have_exact_layout),
        cmocka_unit_test(test_v5_auth_with_no_body_means_success),
        cmocka_unit_test(test_names_of_packet_types_and_reason_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
