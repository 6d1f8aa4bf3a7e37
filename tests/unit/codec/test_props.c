/*
 * Property validation (spec 2.2.2): which id each packet may carry, duplicates, value ranges,
 * lengths; the repeatable-property iterators; and the forwardable copy a broker sends on.
 */
#include "codec_test.h"

static uint8_t buf[4096];
static uint8_t run[512];

/* Encodes a packet of context `ctx` around `props` (the encoder does not police which ids a
 * packet may carry) and returns what decoding it says. */
static int decode_with(unsigned ctx, const mq_props *props)
{
    struct mq_packet pkt, out;
    make_packet(ctx, props, &pkt);
    long n = mq_encode(&pkt, MQ_V5, buf, sizeof buf);
    assert_true(n > 0 && (size_t)n <= sizeof buf);
    return mq_decode(buf, (size_t)n, MQ_V5, sent_by_client(pkt.type), &out);
}

/* The wire form (id and value) of one property from the fill_props set. */
static mq_bytes one_property(uint8_t id)
{
    mq_props p;
    fill_props(&p, MQ_PROP_BIT(id), false);
    size_t n = mq_props_encode(&p, run);
    assert_true(n >= 2 && run[0] == n - 1);
    return (mq_bytes){run + 1, (uint32_t)(n - 1)};
}

static void test_property_not_allowed_in_packet_is_malformed(void **state)
{
    /* Spec 2.2.2.2: an Identifier not valid for its packet type makes a Malformed Packet. */
    for (size_t c = 0; c < N_CONTEXTS; c++) {
        for (size_t i = 0; i < N_PROP_IDS; i++) {
            uint8_t id = all_prop_ids[i];
            if (spec_allowed[contexts[c]] & MQ_PROP_BIT(id))
                continue;
            mq_props p;
            memset(&p, 0, sizeof p);
            p.forward = one_property(id);
            assert_int_equal(decode_with(contexts[c], &p), -MQ_RC_MALFORMED_PACKET);
        }
    }
}

static void test_undefined_property_ids_are_malformed(void **state)
{
    static const uint8_t undefined[][2] = {
        {0x00, 0x00}, {0x04, 0x00}, {0x2B, 0x00}, {0x7F, 0x00}, {0x81, 0x00}};
    for (size_t i = 0; i < sizeof undefined / sizeof undefined[0]; i++) {
        mq_props p;
        memset(&p, 0, sizeof p);
        p.forward = (mq_bytes){undefined[i], 2};
        assert_int_equal(decode_with(MQ_PUBLISH, &p), -MQ_RC_MALFORMED_PACKET);
    }
}

static void test_single_valued_property_twice_is_a_protocol_error(void **state)
{
    /* Each property's "It is a Protocol Error to include X more than once". */
    for (size_t c = 0; c < N_CONTEXTS; c++) {
        for (size_t i = 0; i < N_PROP_IDS; i++) {
            uint8_t id = all_prop_ids[i];
            if (!(spec_allowed[contexts[c]] & MQ_PROP_BIT(id)) || id == MQ_PROP_USER_PROPERTY)
                continue;
            if (contexts[c] == MQ_PUBLISH && id == MQ_PROP_SUBSCRIPTION_IDENTIFIER)
                continue; /* repeatable server to client; see the next tests */
            mq_props p;
            fill_props(&p, MQ_PROP_BIT(id), false);
            uint8_t copy[64];
            mq_bytes once = one_property(id);
            memcpy(copy, once.data, once.len);
            p.forward = (mq_bytes){copy, once.len};
            assert_int_equal(decode_with(contexts[c], &p), -MQ_RC_PROTOCOL_ERROR);
        }
    }
}

static void test_user_property_may_repeat_and_keeps_its_order(void **state)
{
    mq_props p;
    struct mq_packet in, out;
    fill_props(&p, P(USER_PROPERTY), false);
    make_packet(MQ_PUBACK, &p, &in);
    encode_decode(&in, MQ_V5, true, buf, sizeof buf, &out);
    mq_user_property up;
    uint32_t cursor = 0;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(mq_props_next_user_property(&out.u.ack.props, &cursor, &up), 1);
        assert_bytes_eq(up.key, test_user_props[i].key);
        assert_bytes_eq(up.value, test_user_props[i].value);
    }
    assert_int_equal(mq_props_next_user_property(&out.u.ack.props, &cursor, &up), 0);
}

static void test_publish_from_server_may_repeat_subscription_identifier(void **state)
{
    const uint8_t pkt[] = {0x30, 0x08, 0x00, 0x01, 't', 0x04, 0x0B, 0x01, 0x0B, 0x02};
    struct mq_packet out;
    assert_int_equal(mq_decode(pkt, sizeof pkt, MQ_V5, false, &out), 0);
    assert_int_equal(out.u.publish.props.subscription_id_count, 2);
    assert_int_equal(out.u.publish.props.subscription_id, 1);
    uint32_t cursor = 0, id;
    assert_int_equal(mq_props_next_subscription_id(&out.u.publish.props, &cursor, &id), 1);
    assert_int_equal(id, 1);
    assert_int_equal(mq_props_next_subscription_id(&out.u.publish.props, &cursor, &id), 1);
    assert_int_equal(id, 2);
    assert_int_equal(mq_props_next_subscription_id(&out.u.publish.props, &cursor, &id), 0);
}

static void test_publish_from_client_with_subscription_identifier_is_a_protocol_error(void **s)
{
    /* [MQTT-3.3.4-6] */
    const uint8_t pkt[] = {0x30, 0x06, 0x00, 0x01, 't', 0x02, 0x0B, 0x01};
    struct mq_packet out;
    assert_int_equal(mq_decode(pkt, sizeof pkt, MQ_V5, true, &out), -MQ_RC_PROTOCOL_ERROR);
}

static void test_subscribe_with_two_subscription_identifiers_is_a_protocol_error(void **s)
{
    const uint8_t pkt[] = {0x82, 0x0B, 0x00, 0x01, 0x04, 0x0B, 0x01,
                           0x0B, 0x02, 0x00, 0x01, 'a',  0x00};
    struct mq_packet out;
    assert_int_equal(mq_decode(pkt, sizeof pkt, MQ_V5, true, &out), -MQ_RC_PROTOCOL_ERROR);
}

/* A CONNACK (server to client, so every capability property is allowed) whose only property
 * is id with one value byte or bytes. */
static int connack_with(const uint8_t *prop, uint8_t len)
{
    uint8_t pkt[32] = {0x20, (uint8_t)(3 + len), 0x00, 0x00, len};
    memcpy(pkt + 5, prop, len);
    struct mq_packet out;
    return mq_decode(pkt, 5u + len, MQ_V5, false, &out);
}

static void test_out_of_range_property_values_are_protocol_errors(void **state)
{
    static const uint8_t flags[] = {
        MQ_PROP_MAXIMUM_QOS, MQ_PROP_RETAIN_AVAILABLE, MQ_PROP_WILDCARD_SUBSCRIPTION_AVAILABLE,
        MQ_PROP_SUBSCRIPTION_IDENTIFIER_AVAILABLE, MQ_PROP_SHARED_SUBSCRIPTION_AVAILABLE};
    for (size_t i = 0; i < sizeof flags; i++) {
        const uint8_t ok[] = {flags[i], 0x01};
        const uint8_t bad[] = {flags[i], 0x02};
        assert_int_equal(connack_with(ok, 2), 0);
        assert_int_equal(connack_with(bad, 2), -MQ_RC_PROTOCOL_ERROR);
    }
    const uint8_t recv_max_0[] = {MQ_PROP_RECEIVE_MAXIMUM, 0x00, 0x00};
    const uint8_t max_size_0[] = {MQ_PROP_MAXIMUM_PACKET_SIZE, 0, 0, 0, 0};
    assert_int_equal(connack_with(recv_max_0, 3), -MQ_RC_PROTOCOL_ERROR);
    assert_int_equal(connack_with(max_size_0, 5), -MQ_RC_PROTOCOL_ERROR);

    /* CONNECT's request flags, and the payload format indicator of PUBLISH. */
    const uint8_t connect_rpi[] = {0x10, 0x10, 0x00, 0x04, 'M',  'Q',  'T',  'T',  0x05,
                                   0x02, 0x00, 0x00, 0x02, 0x17, 0x02, 0x00, 0x01, 'c'};
    const uint8_t connect_rri[] = {0x10, 0x10, 0x00, 0x04, 'M',  'Q',  'T',  'T',  0x05,
                                   0x02, 0x00, 0x00, 0x02, 0x19, 0x05, 0x00, 0x01, 'c'};
    const uint8_t publish_pfi[] = {0x30, 0x06, 0x00, 0x01, 't', 0x02, 0x01, 0x02};
    struct mq_packet out;
    assert_int_equal(mq_decode(connect_rpi, sizeof connect_rpi, 0, true, &out),
                     -MQ_RC_PROTOCOL_ERROR);
    assert_int_equal(mq_decode(connect_rri, sizeof connect_rri, 0, true, &out),
                     -MQ_RC_PROTOCOL_ERROR);
    assert_int_equal(mq_decode(publish_pfi, sizeof publish_pfi, MQ_V5, true, &out),
                     -MQ_RC_PROTOCOL_ERROR);
}

static void test_subscription_identifier_zero_is_a_protocol_error(void **state)
{
    const uint8_t pkt[] = {0x82, 0x09, 0x00, 0x01, 0x02, 0x0B, 0x00, 0x00, 0x01, 'a', 0x00};
    struct mq_packet out;
    assert_int_equal(mq_decode(pkt, sizeof pkt, MQ_V5, true, &out), -MQ_RC_PROTOCOL_ERROR);
}

static void test_topic_alias_zero_is_decoded_as_given_for_the_session(void **state)
{
    const uint8_t pkt[] = {0x30, 0x07, 0x00, 0x01, 't', 0x03, 0x23, 0x00, 0x00};
    struct mq_packet out;
    assert_int_equal(mq_decode(pkt, sizeof pkt, MQ_V5, true, &out), 0);
    assert_true(out.u.publish.props.present & P(TOPIC_ALIAS));
    assert_int_equal(out.u.publish.props.topic_alias, 0);
}

static void test_property_length_past_the_end_is_malformed(void **state)
{
    const uint8_t past[] = {0x30, 0x05, 0x00, 0x01, 't', 0x09, 0x01};
    const uint8_t value_cut[] = {0x30, 0x07, 0x00, 0x01, 't', 0x03, 0x02, 0x00, 0x00};
    const uint8_t string_cut[] = {0x30, 0x08, 0x00, 0x01, 't', 0x04, 0x03, 0x00, 0x05, 'a'};
    const uint8_t bad_length[] = {0x30, 0x06, 0x00, 0x01, 't', 0x80, 0x00, 0x00};
    struct mq_packet out;
    assert_int_equal(mq_decode(past, sizeof past, MQ_V5, true, &out), -MQ_RC_MALFORMED_PACKET);
    assert_int_equal(mq_decode(value_cut, sizeof value_cut, MQ_V5, true, &out),
                     -MQ_RC_MALFORMED_PACKET);
    assert_int_equal(mq_decode(string_cut, sizeof string_cut, MQ_V5, true, &out),
                     -MQ_RC_MALFORMED_PACKET);
    assert_int_equal(mq_decode(bad_length, sizeof bad_length, MQ_V5, true, &out),
                     -MQ_RC_MALFORMED_PACKET); /* [MQTT-1.5.5-1] non-minimal */
}

static void test_ill_formed_utf8_in_string_properties_is_malformed(void **state)
{
    /* [MQTT-1.5.4-1], [MQTT-1.5.4-2] apply to every UTF-8 Encoded String and String Pair. */
    const uint8_t surrogate[] = {0x30, 0x0A, 0x00, 0x01, 't',  0x06,
                                 0x03, 0x00, 0x03, 0xed, 0xb0, 0x80};
    const uint8_t nul_key[] = {0x30, 0x0B, 0x00, 0x01, 't',  0x07, 0x26,
                               0x00, 0x01, 0x00, 0x00, 0x01, 'v'};
    struct mq_packet out;
    assert_int_equal(mq_decode(surrogate, sizeof surrogate, MQ_V5, true, &out),
                     -MQ_RC_MALFORMED_PACKET);
    assert_int_equal(mq_decode(nul_key, sizeof nul_key, MQ_V5, true, &out),
                     -MQ_RC_MALFORMED_PACKET);
    /* Correlation Data is Binary Data: any bytes go. */
    const uint8_t binary[] = {0x30, 0x0A, 0x00, 0x01, 't',  0x06,
                              0x09, 0x00, 0x03, 0xed, 0xb0, 0x00};
    assert_int_equal(mq_decode(binary, sizeof binary, MQ_V5, true, &out), 0);
}

static void test_forwardable_copy_keeps_message_properties_and_drops_the_rest(void **state)
{
    /* A PUBLISH as a client sends it, then as a server received it with subscription ids. */
    for (int from_client = 0; from_client < 2; from_client++) {
        mq_props p;
        struct mq_packet in, out;
        fill_props(&p, spec_allowed[MQ_PUBLISH] & ~(from_client ? P(SUBSCRIPTION_IDENTIFIER) : 0),
                   true);
        make_packet(MQ_PUBLISH, &p, &in);
        encode_decode(&in, MQ_V5, from_client, buf, sizeof buf, &out);

        uint8_t fwd[512];
        size_t n = mq_props_copy_forwardable(&out.u.publish.props, fwd);
        assert_true(n < out.u.publish.props.raw.len);

        mq_props sent;
        memset(&sent, 0, sizeof sent);
        sent.forward = (mq_bytes){fwd, (uint32_t)n};
        struct mq_packet fwd_pkt, got;
        make_packet(MQ_PUBLISH, &sent, &fwd_pkt);
        static uint8_t buf2[4096];
        encode_decode(&fwd_pkt, MQ_V5, false, buf2, sizeof buf2, &got);

        mq_props want;
        fill_props(&want,
                   P(PAYLOAD_FORMAT_INDICATOR) | P(CONTENT_TYPE) | P(RESPONSE_TOPIC) |
                       P(CORRELATION_DATA) | P(USER_PROPERTY),
                   false);
        assert_props_match(&want, &got.u.publish.props);
        assert_false(got.u.publish.props.present &
                     (P(TOPIC_ALIAS) | P(SUBSCRIPTION_IDENTIFIER) | P(MESSAGE_EXPIRY_INTERVAL)));
    }
}

static void test_forwardable_copy_of_no_properties_is_empty(void **state)
{
    const uint8_t pkt[] = {0x30, 0x04, 0x00, 0x01, 't', 0x00};
    struct mq_packet out;
    assert_int_equal(mq_decode(pkt, sizeof pkt, MQ_V5, true, &out), 0);
    uint8_t fwd[8];
    assert_int_equal(mq_props_copy_forwardable(&out.u.publish.props, fwd), 0);
}

static void test_encoded_size_matches_encoded_bytes(void **state)
{
    for (size_t c = 0; c < N_CONTEXTS; c++) {
        mq_props p;
        fill_props(&p, spec_allowed[contexts[c]], true);
        size_t size = mq_props_encoded_size(&p);
        assert_int_equal(mq_props_encode(&p, buf), size);
    }
    mq_props empty;
    memset(&empty, 0, sizeof empty);
    assert_int_equal(mq_props_encoded_size(&empty), 1);
    assert_int_equal(mq_props_encode(&empty, buf), 1);
    assert_int_equal(buf[0], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_property_not_allowed_in_packet_is_malformed),
        cmocka_unit_test(test_undefined_property_ids_are_malformed),
        cmocka_unit_test(test_single_valued_property_twice_is_a_protocol_error),
        cmocka_unit_test(test_user_property_may_repeat_and_keeps_its_order),
        cmocka_unit_test(test_publish_from_server_may_repeat_subscription_identifier),
        cmocka_unit_test(test_publish_from_client_with_subscription_identifier_is_a_protocol_error),
        cmocka_unit_test(test_subscribe_with_two_subscription_identifiers_is_a_protocol_error),
        cmocka_unit_test(test_out_of_range_property_values_are_protocol_errors),
        cmocka_unit_test(test_subscription_identifier_zero_is_a_protocol_error),
        cmocka_unit_test(test_topic_alias_zero_is_decoded_as_given_for_the_session),
        cmocka_unit_test(test_property_length_past_the_end_is_malformed),
        cmocka_unit_test(test_ill_formed_utf8_in_string_properties_is_malformed),
        cmocka_unit_test(test_forwardable_copy_keeps_message_properties_and_drops_the_rest),
        cmocka_unit_test(test_forwardable_copy_of_no_properties_is_empty),
        cmocka_unit_test(test_encoded_size_matches_encoded_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
