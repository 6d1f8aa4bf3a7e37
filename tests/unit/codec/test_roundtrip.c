/*
 * Encode-then-decode of every packet type at protocol levels 3, 4 and 5, with no properties,
 * with each allowed property alone, and with all of them at once; and what the encoder drops
 * below v5.
 */
#include "codec_test.h"

static const uint8_t levels[] = {MQ_V31, MQ_V311, MQ_V5};

static uint8_t buf[4096];

static void roundtrip_props(unsigned ctx, uint64_t mask, bool many_sub_ids)
{
    mq_props props;
    struct mq_packet in, out;
    fill_props(&props, mask, many_sub_ids);
    make_packet(ctx, &props, &in);
    uint8_t type = in.type;
    encode_decode(&in, MQ_V5, sent_by_client(type), buf, sizeof buf, &out);
    assert_props_match(&props, props_of(ctx, &out));
}

static void test_every_allowed_property_alone_round_trips_in_every_packet(void **state)
{
    for (size_t c = 0; c < N_CONTEXTS; c++) {
        unsigned ctx = contexts[c];
        roundtrip_props(ctx, 0, false);
        for (size_t i = 0; i < N_PROP_IDS; i++) {
            uint64_t bit = MQ_PROP_BIT(all_prop_ids[i]);
            /* In a CONNECT, Authentication Data needs its Method (3.1.2.11.10). */
            uint64_t needs = ctx == MQ_CONNECT && all_prop_ids[i] == MQ_PROP_AUTHENTICATION_DATA
                                 ? MQ_PROP_BIT(MQ_PROP_AUTHENTICATION_METHOD)
                                 : 0;
            if (spec_allowed[ctx] & bit)
                roundtrip_props(ctx, bit | needs, false);
        }
    }
}

static void test_all_allowed_properties_together_round_trip_in_every_packet(void **state)
{
    for (size_t c = 0; c < N_CONTEXTS; c++)
        roundtrip_props(contexts[c], spec_allowed[contexts[c]], false);
}

static void test_publish_to_client_carries_several_subscription_ids_in_order(void **state)
{
    roundtrip_props(MQ_PUBLISH, spec_allowed[MQ_PUBLISH], true);
}

static void test_connect_round_trips_at_every_level(void **state)
{
    for (size_t l = 0; l < 3; l++) {
        for (int variant = 0; variant < 4; variant++) {
            struct mq_packet in, out;
            memset(&in, 0, sizeof in);
            in.type = MQ_CONNECT;
            struct mq_connect *c = &in.u.connect;
            c->clean_start = variant & 1;
            c->keep_alive = 0xBEEF;
            c->client_id = variant == 3 ? BYTES("") : BYTES("dev-\xc3\xa9");
            if (variant & 2) {
                c->will_flag = true;
                c->will_qos = 2;
                c->will_retain = true;
                c->will_topic = BYTES("status/dev");
                c->will_payload = BYTES("\x00offline");
            }
            if (variant >= 1) {
                c->username_flag = true;
                c->username = BYTES("user");
                c->password_flag = true;
                c->password = BYTES("\x00\xffpw");
            }
            encode_decode(&in, levels[l], true, buf, sizeof buf, &out);
            const struct mq_connect *d = &out.u.connect;
            assert_int_equal(d->protocol_version, levels[l]);
            assert_int_equal(d->clean_start, c->clean_start);
            assert_int_equal(d->keep_alive, 0xBEEF);
            assert_bytes_eq(d->client_id, c->client_id);
            assert_int_equal(d->will_flag, c->will_flag);
            assert_int_equal(d->will_qos, c->will_qos);
            assert_int_equal(d->will_retain, c->will_retain);
            assert_bytes_eq(d->will_topic, c->will_topic);
            assert_bytes_eq(d->will_payload, c->will_payload);
            assert_int_equal(d->username_flag, c->username_flag);
            assert_bytes_eq(d->username, c->username);
            assert_int_equal(d->password_flag, c->password_flag);
            assert_bytes_eq(d->password, c->password);
            assert_int_equal(d->props.present, 0);
        }
    }
}

static void test_connack_round_trips_at_every_level(void **state)
{
    for (size_t l = 0; l < 3; l++) {
        struct mq_packet in, out;
        memset(&in, 0, sizeof in);
        in.type = MQ_CONNACK;
        in.u.connack.session_present = true;
        in.u.connack.reason_code = levels[l] == MQ_V5 ? MQ_RC_NOT_AUTHORIZED : 5;
        size_t n = encode_decode(&in, levels[l], false, buf, sizeof buf, &out);
        assert_int_equal(n, levels[l] == MQ_V5 ? 5 : 4);
        assert_true(out.u.connack.session_present);
        assert_int_equal(out.u.connack.reason_code, in.u.connack.reason_code);
    }
}

static void test_publish_round_trips_at_every_level_qos_and_direction(void **state)
{
    for (size_t l = 0; l < 3; l++) {
        for (uint8_t qos = 0; qos < 3; qos++) {
            for (int dir = 0; dir < 2; dir++) {
                struct mq_packet in, out;
                memset(&in, 0, sizeof in);
                in.type = MQ_PUBLISH;
                in.u.publish.qos = qos;
                in.u.publish.dup = qos > 0;
                in.u.publish.retain = dir;
                in.u.publish.topic = BYTES("sensors/\xe6\xb8\xa9/temp");
                in.u.publish.packet_id = qos ? 0x1234 : 0;
                in.u.publish.payload = dir ? BYTES("") : BYTES("21.5\x00\xff");
                encode_decode(&in, levels[l], dir, buf, sizeof buf, &out);
                const struct mq_publish *m = &out.u.publish;
                assert_int_equal(m->qos, qos);
                assert_int_equal(m->dup, qos > 0);
                assert_int_equal(m->retain, dir);
                assert_int_equal(m->packet_id, in.u.publish.packet_id);
                assert_bytes_eq(m->topic, in.u.publish.topic);
                assert_bytes_eq(m->payload, in.u.publish.payload);
                assert_int_equal(m->props.present, 0);
            }
        }
    }
}

static void test_v5_publish_with_empty_topic_and_alias_round_trips(void **state)
{
    struct mq_packet in, out;
    memset(&in, 0, sizeof in);
    in.type = MQ_PUBLISH;
    in.u.publish.props.present = P(TOPIC_ALIAS);
    in.u.publish.props.topic_alias = 3;
    in.u.publish.payload = BYTES("x");
    encode_decode(&in, MQ_V5, true, buf, sizeof buf, &out);
    assert_int_equal(out.u.publish.topic.len, 0);
    assert_int_equal(out.u.publish.props.topic_alias, 3);
}

static void test_acks_round_trip_at_every_level(void **state)
{
    for (uint8_t type = MQ_PUBACK; type <= MQ_PUBCOMP; type++) {
        for (size_t l = 0; l < 3; l++) {
            struct mq_packet in, out;
            memset(&in, 0, sizeof in);
            in.type = type;
            in.u.ack.packet_id = 42;
            size_t n = encode_decode(&in, levels[l], true, buf, sizeof buf, &out);
            assert_int_equal(n, 4);
            assert_int_equal(buf[0], (type << 4) | (type == MQ_PUBREL ? 2 : 0));
            assert_int_equal(out.u.ack.packet_id, 42);
            assert_int_equal(out.u.ack.reason_code, 0);

            /* A reason code survives only at v5; below it the ack is the packet id alone. */
            in.u.ack.reason_code = type <= MQ_PUBREC ? 0x10 : 0x92;
            n = encode_decode(&in, levels[l], true, buf, sizeof buf, &out);
            assert_int_equal(n, levels[l] == MQ_V5 ? 5 : 4);
            assert_int_equal(out.u.ack.reason_code, levels[l] == MQ_V5 ? in.u.ack.reason_code : 0);
        }
    }
}

static void test_subscribe_round_trips_and_drops_v5_options_below_v5(void **state)
{
    for (size_t l = 0; l < 3; l++) {
        struct mq_packet in, out;
        memset(&in, 0, sizeof in);
        in.type = MQ_SUBSCRIBE;
        in.u.subscribe.packet_id = 10;
        in.u.subscribe.entries = sub_entries;
        in.u.subscribe.entries_len = 3;
        encode_decode(&in, levels[l], true, buf, sizeof buf, &out);
        assert_int_equal(buf[0], 0x82);
        assert_int_equal(out.u.subscribe.packet_id, 10);
        assert_int_equal(out.u.subscribe.entry_count, 3);
        uint32_t cursor = 0, i = 0;
        mq_topic_request r;
        while (mq_subscribe_next(&out.u.subscribe, &cursor, &r)) {
            assert_bytes_eq(r.filter, sub_entries[i].filter);
            uint8_t want = levels[l] == MQ_V5 ? sub_entries[i].options
                                              : (sub_entries[i].options & MQ_SUBOPT_QOS_MASK);
            assert_int_equal(r.options, want);
            i++;
        }
        assert_int_equal(i, 3);
    }
}

static void test_unsubscribe_round_trips_at_every_level(void **state)
{
    for (size_t l = 0; l < 3; l++) {
        struct mq_packet in, out;
        memset(&in, 0, sizeof in);
        in.type = MQ_UNSUBSCRIBE;
        in.u.subscribe.packet_id = 11;
        in.u.subscribe.entries = sub_entries;
        in.u.subscribe.entries_len = 3;
        encode_decode(&in, levels[l], true, buf, sizeof buf, &out);
        assert_int_equal(buf[0], 0xA2);
        assert_int_equal(out.u.subscribe.entry_count, 3);
        uint32_t cursor = 0, i = 0;
        mq_bytes f;
        while (mq_unsubscribe_next(&out.u.subscribe, &cursor, &f))
            assert_bytes_eq(f, sub_entries[i++].filter);
        assert_int_equal(i, 3);
    }
}

static void test_suback_maps_v5_failure_codes_to_0x80_below_v5(void **state)
{
    static const uint8_t codes[] = {0x00, 0x01, 0x02, 0x80, 0x8F, 0x97};
    for (size_t l = 0; l < 3; l++) {
        struct mq_packet in, out;
        memset(&in, 0, sizeof in);
        in.type = MQ_SUBACK;
        in.u.suback.packet_id = 12;
        in.u.suback.reason_codes = codes;
        in.u.suback.reason_code_count = 6;
        encode_decode(&in, levels[l], false, buf, sizeof buf, &out);
        assert_int_equal(out.u.suback.reason_code_count, 6);
        for (int i = 0; i < 6; i++) {
            uint8_t want = levels[l] == MQ_V5 ? codes[i] : (codes[i] <= 2 ? codes[i] : 0x80);
            assert_int_equal(out.u.suback.reason_codes[i], want); /* [MQTT-3.9.3-2] */
        }
    }
}

static void test_unsuback_has_no_payload_below_v5(void **state)
{
    static const uint8_t codes[] = {0x00, 0x11};
    for (size_t l = 0; l < 3; l++) {
        struct mq_packet in, out;
        memset(&in, 0, sizeof in);
        in.type = MQ_UNSUBACK;
        in.u.suback.packet_id = 13;
        in.u.suback.reason_codes = codes;
        in.u.suback.reason_code_count = 2;
        size_t n = encode_decode(&in, levels[l], false, buf, sizeof buf, &out);
        assert_int_equal(n, levels[l] == MQ_V5 ? 7 : 4);
        assert_int_equal(out.u.suback.packet_id, 13);
        assert_int_equal(out.u.suback.reason_code_count, levels[l] == MQ_V5 ? 2 : 0);
    }
}

static void test_pings_round_trip_at_every_level(void **state)
{
    for (size_t l = 0; l < 3; l++) {
        struct mq_packet in, out;
        memset(&in, 0, sizeof in);
        in.type = MQ_PINGREQ;
        assert_int_equal(encode_decode(&in, levels[l], true, buf, sizeof buf, &out), 2);
        assert_int_equal(buf[0], 0xC0);
        in.type = MQ_PINGRESP;
        assert_int_equal(encode_decode(&in, levels[l], false, buf, sizeof buf, &out), 2);
        assert_int_equal(buf[0], 0xD0);
    }
}

static void test_disconnect_round_trips_and_has_no_body_below_v5(void **state)
{
    for (size_t l = 0; l < 3; l++) {
        struct mq_packet in, out;
        memset(&in, 0, sizeof in);
        in.type = MQ_DISCONNECT;
        in.u.disconnect.reason_code = MQ_RC_DISCONNECT_WITH_WILL;
        size_t n = encode_decode(&in, levels[l], true, buf, sizeof buf, &out);
        assert_int_equal(n, levels[l] == MQ_V5 ? 3 : 2);
        assert_int_equal(out.u.disconnect.reason_code,
                         levels[l] == MQ_V5 ? MQ_RC_DISCONNECT_WITH_WILL : 0);
        in.u.disconnect.reason_code = 0;
        assert_int_equal(encode_decode(&in, levels[l], true, buf, sizeof buf, &out), 2);
    }
}

static void test_auth_round_trips_in_v5_and_cannot_be_encoded_below(void **state)
{
    struct mq_packet in, out;
    memset(&in, 0, sizeof in);
    in.type = MQ_AUTH;
    in.u.disconnect.reason_code = MQ_RC_CONTINUE_AUTHENTICATION;
    in.u.disconnect.props.present = P(AUTHENTICATION_METHOD);
    in.u.disconnect.props.authentication_method = BYTES("PLAIN");
    encode_decode(&in, MQ_V5, true, buf, sizeof buf, &out);
    assert_int_equal(out.u.disconnect.reason_code, 0x18);
    assert_bytes_eq(out.u.disconnect.props.authentication_method, BYTES("PLAIN"));
    assert_int_equal(mq_encode(&in, MQ_V311, buf, sizeof buf), -MQ_RC_PROTOCOL_ERROR);
    assert_int_equal(mq_encode(&in, MQ_V31, buf, sizeof buf), -MQ_RC_PROTOCOL_ERROR);
}

static void test_properties_are_left_out_below_v5(void **state)
{
    for (size_t c = 1; c < N_CONTEXTS; c++) {
        if (contexts[c] == MQ_AUTH)
            continue;
        mq_props props;
        struct mq_packet with, without;
        fill_props(&props, spec_allowed[contexts[c]], false);
        make_packet(contexts[c], &props, &with);
        mq_props none;
        memset(&none, 0, sizeof none);
        make_packet(contexts[c], &none, &without);
        assert_int_equal(mq_encode(&with, MQ_V311, NULL, 0), mq_encode(&without, MQ_V311, NULL, 0));
    }
}

static void test_packet_over_maximum_length_is_refused_by_the_encoder(void **state)
{
    struct mq_packet in;
    memset(&in, 0, sizeof in);
    in.type = MQ_PUBLISH;
    in.u.publish.topic = BYTES("t");
    in.u.publish.payload = (mq_bytes){buf, MQ_MAX_REMAINING_LENGTH};
    assert_int_equal(mq_encode(&in, MQ_V311, NULL, 0), -MQ_RC_PACKET_TOO_LARGE);
    in.u.publish.payload.len = MQ_MAX_REMAINING_LENGTH - 3;
    assert_int_equal(mq_encode(&in, MQ_V311, NULL, 0), MQ_MAX_PACKET_SIZE);
}

static void test_string_over_65535_bytes_is_refused_by_the_encoder(void **state)
{
    static uint8_t big[65536];
    struct mq_packet in;
    memset(&in, 0, sizeof in);
    in.type = MQ_PUBLISH;
    in.u.publish.topic = (mq_bytes){big, sizeof big};
    assert_int_equal(mq_encode(&in, MQ_V5, NULL, 0), -MQ_RC_MALFORMED_PACKET);
    in.u.publish.topic = BYTES("t");
    in.u.publish.props.present = P(CONTENT_TYPE);
    in.u.publish.props.content_type = (mq_bytes){big, sizeof big};
    assert_int_equal(mq_encode(&in, MQ_V5, NULL, 0), -MQ_RC_MALFORMED_PACKET);
    assert_int_equal(mq_props_encoded_size(&in.u.publish.props), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_allowed_property_alone_round_trips_in_every_packet),
        cmocka_unit_test(test_all_allowed_properties_together_round_trip_in_every_packet),
        cmocka_unit_test(test_publish_to_client_carries_several_subscription_ids_in_order),
        cmocka_unit_test(test_connect_round_trips_at_every_level),
        cmocka_unit_test(test_connack_round_trips_at_every_level),
        cmocka_unit_test(test_publish_round_trips_at_every_level_qos_and_direction),
        cmocka_unit_test(test_v5_publish_with_empty_topic_and_alias_round_trips),
        cmocka_unit_test(test_acks_round_trip_at_every_level),
        cmocka_unit_test(test_subscribe_round_trips_and_drops_v5_options_below_v5),
        cmocka_unit_test(test_unsubscribe_round_trips_at_every_level),
        cmocka_unit_test(test_suback_maps_v5_failure_codes_to_0x80_below_v5),
        cmocka_unit_test(test_unsuback_has_no_payload_below_v5),
        cmocka_unit_test(test_pings_round_trip_at_every_level),
        cmocka_unit_test(test_disconnect_round_trips_and_has_no_body_below_v5),
        cmocka_unit_test(test_auth_round_trips_in_v5_and_cannot_be_encoded_below),
        cmocka_unit_test(test_properties_are_left_out_below_v5),
        cmocka_unit_test(test_packet_over_maximum_length_is_refused_by_the_encoder),
        cmocka_unit_test(test_string_over_65535_bytes_is_refused_by_the_encoder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
