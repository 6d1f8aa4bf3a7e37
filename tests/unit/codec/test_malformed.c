/*
 * Every packet-level error mq_decode must report, each with its exact reason code: malformed
 * lengths and flags, illegal directions, bad CONNECT, PUBLISH, SUBSCRIBE, UNSUBSCRIBE,
 * acknowledgement, DISCONNECT and AUTH packets.
 */
#include <stdlib.h>

#include "codec_test.h"

#define MAL (-MQ_RC_MALFORMED_PACKET)
#define PROTO (-MQ_RC_PROTOCOL_ERROR)

/* Decodes the listed bytes at `version` in direction `client` and expects `rc`. */
#define EXPECT(version, client, rc, ...)                                                           \
    do {                                                                                           \
        const uint8_t b_[] = {__VA_ARGS__};                                                        \
        struct mq_packet p_;                                                                       \
        assert_int_equal(mq_decode(b_, sizeof b_, version, client, &p_), rc);                      \
    } while (0)

static void test_remaining_length_disagreeing_with_the_body_is_malformed(void **state)
{
    EXPECT(MQ_V311, true, MAL, 0x30, 0x05, 0x00, 0x01, 't');        /* body shorter */
    EXPECT(MQ_V311, true, MAL, 0xC0, 0x00, 0x00);                   /* trailing byte */
    EXPECT(MQ_V311, true, MAL, 0xC0, 0x80, 0x00);                   /* [MQTT-1.5.5-1] */
    EXPECT(MQ_V311, true, MAL, 0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01); /* 5-byte length */
    EXPECT(MQ_V311, true, MAL, 0xC0);
    struct mq_packet p;
    assert_int_equal(mq_decode(NULL, 0, MQ_V311, true, &p), MAL);
}

static void test_fields_longer_than_the_body_are_malformed(void **state)
{
    EXPECT(MQ_V311, true, MAL, 0xC0, 0x01, 0x00); /* PINGREQ has no body */
    EXPECT(MQ_V311, false, MAL, 0xD0, 0x01, 0x00);
    EXPECT(MQ_V311, true, MAL, 0x40, 0x03, 0x00, 0x01, 0x00); /* 3.1.1 PUBACK is 2 bytes */
    EXPECT(MQ_V311, true, MAL, 0x30, 0x03, 0x00, 0x05, 'a');  /* topic past the end */
    EXPECT(MQ_V311, true, MAL, 0x32, 0x03, 0x00, 0x01, 't');  /* QoS 1 without packet id */
    EXPECT(MQ_V5, true, MAL, 0x40, 0x01, 0x00);               /* ack shorter than its id */
    EXPECT(MQ_V5, true, MAL, 0x40, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00); /* after properties */
    EXPECT(MQ_V5, true, MAL, 0xE0, 0x03, 0x00, 0x00, 0x00);             /* after DISCONNECT props */
}

static void test_reserved_packet_type_is_malformed(void **state)
{
    EXPECT(MQ_V5, true, MAL, 0x00, 0x00);
}

static void test_reserved_flag_bits_are_malformed(void **state)
{
    /* [MQTT-2.1.3-1] PUBREL, SUBSCRIBE, UNSUBSCRIBE carry 0010, every other non-PUBLISH 0000. */
    EXPECT(MQ_V311, true, MAL, 0x60, 0x02, 0x00, 0x01);
    EXPECT(MQ_V311, true, 0, 0x62, 0x02, 0x00, 0x01);
    EXPECT(MQ_V311, true, MAL, 0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 'a', 0x00);
    EXPECT(MQ_V311, true, MAL, 0xA0, 0x05, 0x00, 0x01, 0x00, 0x01, 'a');
    EXPECT(MQ_V311, true, MAL, 0x41, 0x02, 0x00, 0x01);
    EXPECT(MQ_V311, true, MAL, 0xC1, 0x00);
    EXPECT(MQ_V311, true, MAL, 0xE2, 0x00);
    EXPECT(MQ_V311, false, MAL, 0x28, 0x02, 0x00, 0x00);
}

static void test_publish_with_qos_3_is_malformed(void **state)
{
    EXPECT(MQ_V311, true, MAL, 0x36, 0x05, 0x00, 0x01, 't', 0x00, 0x01); /* [MQTT-3.3.1-4] */
}

static void test_publish_with_dup_and_qos_0_is_malformed(void **state)
{
    EXPECT(MQ_V311, true, MAL, 0x38, 0x03, 0x00, 0x01, 't'); /* [MQTT-3.3.1-2] */
}

static void test_publish_with_packet_id_0_is_malformed(void **state)
{
    EXPECT(MQ_V311, true, MAL, 0x32, 0x05, 0x00, 0x01, 't', 0x00, 0x00); /* [MQTT-2.2.1-3] */
    EXPECT(MQ_V5, true, MAL, 0x34, 0x06, 0x00, 0x01, 't', 0x00, 0x00, 0x00);
}

static void test_publish_topic_with_wildcards_is_refused(void **state)
{
    /* [MQTT-3.3.2-2]: malformed for 3.1/3.1.1; a v5 server answers Topic Name invalid. */
    EXPECT(MQ_V311, true, MAL, 0x30, 0x05, 0x00, 0x03, 'a', '/', '+');
    EXPECT(MQ_V31, true, MAL, 0x30, 0x05, 0x00, 0x03, 'a', '/', '#');
    EXPECT(MQ_V5, true, -MQ_RC_TOPIC_NAME_INVALID, 0x30, 0x06, 0x00, 0x03, 'a', '/', '+', 0x00);
    EXPECT(MQ_V5, false, -MQ_RC_TOPIC_NAME_INVALID, 0x30, 0x04, 0x00, 0x01, '#', 0x00);
    /* A wildcard found by the eight-bytes-at-a-time scan. */
    EXPECT(MQ_V5, true, -MQ_RC_TOPIC_NAME_INVALID, 0x30, 0x0D, 0x00, 0x0A, 'a', 'b', 'c', 'd', 'e',
           'f', 'g', '#', 'h', 'i', 0x00);
}

static void test_publish_with_empty_topic_is_malformed_before_v5(void **state)
{
    EXPECT(MQ_V311, true, MAL, 0x30, 0x02, 0x00, 0x00);   /* [MQTT-4.7.3-1] */
    EXPECT(MQ_V5, true, 0, 0x30, 0x03, 0x00, 0x00, 0x00); /* the session checks for an alias */
}

/* Builds a CONNECT with the given protocol name, level and flags, keep alive 0, then `rest`. */
static size_t connect_bytes(uint8_t *b, const char *name, uint8_t level, uint8_t flags,
                            const uint8_t *rest, size_t rest_len)
{
    size_t nl = strlen(name);
    size_t rl = 2 + nl + 4 + rest_len;
    assert_true(rl < 128);
    b[0] = 0x10;
    b[1] = (uint8_t)rl;
    b[2] = 0;
    b[3] = (uint8_t)nl;
    memcpy(b + 4, name, nl);
    b[4 + nl] = level;
    b[5 + nl] = flags;
    b[6 + nl] = 0;
    b[7 + nl] = 0;
    memcpy(b + 8 + nl, rest, rest_len);
    return 2 + rl;
}

static int decode_connect(const char *name, uint8_t level, uint8_t flags, const uint8_t *rest,
                          size_t rest_len, struct mq_packet *out)
{
    uint8_t b[160];
    size_t n = connect_bytes(b, name, level, flags, rest, rest_len);
    return mq_decode(b, n, 0, true, out);
}

#define CONNECT(name, level, flags, rc, ...)                                                       \
    do {                                                                                           \
        const uint8_t r_[] = {__VA_ARGS__};                                                        \
        struct mq_packet p_;                                                                       \
        assert_int_equal(decode_connect(name, level, flags, r_, sizeof r_, &p_), rc);              \
    } while (0)

static void test_connect_with_unknown_level_is_unsupported_and_tells_the_level(void **state)
{
    /* [MQTT-3.1.2-2] */
    const uint8_t cid[] = {0x00, 0x00, 0x01, 'c'};
    struct mq_packet p;
    assert_int_equal(decode_connect("MQTT", 6, 0x02, cid, sizeof cid, &p),
                     -MQ_RC_UNSUPPORTED_PROTOCOL_VERSION);
    assert_int_equal(p.u.connect.protocol_version, 6);
    assert_int_equal(decode_connect("MQTT", 3, 0x02, cid, sizeof cid, &p),
                     -MQ_RC_UNSUPPORTED_PROTOCOL_VERSION);
    assert_int_equal(p.u.connect.protocol_version, 3);
    assert_int_equal(decode_connect("MQIsdp", 4, 0x02, cid, sizeof cid, &p),
                     -MQ_RC_UNSUPPORTED_PROTOCOL_VERSION);
    assert_int_equal(p.u.connect.protocol_version, 4);
    assert_int_equal(decode_connect("MQTX", 4, 0x02, cid, sizeof cid, &p),
                     -MQ_RC_UNSUPPORTED_PROTOCOL_VERSION);
}

static void test_connect_with_reserved_flag_is_malformed(void **state)
{
    CONNECT("MQTT", 4, 0x03, MAL, 0x00, 0x01, 'c'); /* [MQTT-3.1.2-3] */
    CONNECT("MQTT", 5, 0x03, MAL, 0x00, 0x00, 0x01, 'c');
}

static void test_connect_will_qos_or_retain_without_will_flag_is_malformed(void **state)
{
    CONNECT("MQTT", 4, 0x0A, MAL, 0x00, 0x01, 'c'); /* [MQTT-3.1.2-11] QoS 1, no will */
    CONNECT("MQTT", 4, 0x12, MAL, 0x00, 0x01, 'c'); /* QoS 2, no will */
    CONNECT("MQTT", 4, 0x22, MAL, 0x00, 0x01, 'c'); /* [MQTT-3.1.2-13] retain, no will */
}

static void test_connect_will_qos_3_is_malformed(void **state)
{
    CONNECT("MQTT", 4, 0x1E, MAL, 0x00, 0x01, 'c', 0x00, 0x01, 'w', 0x00,
            0x00); /* [MQTT-3.1.2-12] */
}

static void test_connect_password_without_user_name_is_malformed_before_v5(void **state)
{
    CONNECT("MQTT", 4, 0x42, MAL, 0x00, 0x01, 'c', 0x00, 0x01, 'p'); /* [MQTT-3.1.2-22] */
    CONNECT("MQIsdp", 3, 0x42, MAL, 0x00, 0x01, 'c', 0x00, 0x01, 'p');
    CONNECT("MQTT", 5, 0x42, 0, 0x00, 0x00, 0x01, 'c', 0x00, 0x01, 'p'); /* v5 allows it */
}

static void test_connect_strings_must_be_well_formed_utf8(void **state)
{
    CONNECT("MQTT", 4, 0x02, MAL, 0x00, 0x02, 0xc0, 0x80); /* client id [MQTT-3.1.3-4] */
    CONNECT("MQTT", 4, 0x82, MAL, 0x00, 0x01, 'c', 0x00, 0x01,
            0x00); /* user name [MQTT-3.1.3-12] */
    CONNECT("MQTT", 4, 0x06, MAL, 0x00, 0x01, 'c', 0x00, 0x03, 0xed, 0xa0, 0x80, 0x00,
            0x00); /* will topic [MQTT-3.1.3-11] */
    /* The password and will payload are Binary Data: anything goes. */
    CONNECT("MQTT", 4, 0xC6, 0, 0x00, 0x01, 'c', 0x00, 0x01, 'w', 0x00, 0x01, 0xff, 0x00, 0x01, 'u',
            0x00, 0x01, 0x00);
}

static void test_connect_will_topic_with_wildcard_is_refused(void **state)
{
    CONNECT("MQTT", 4, 0x06, MAL, 0x00, 0x01, 'c', 0x00, 0x01, '#', 0x00, 0x00);
    CONNECT("MQTT", 5, 0x06, -MQ_RC_TOPIC_NAME_INVALID, 0x00, 0x00, 0x01, 'c', 0x00, 0x00, 0x01,
            '+', 0x00, 0x00);
    CONNECT("MQTT", 5, 0x06, -MQ_RC_TOPIC_NAME_INVALID, 0x00, 0x00, 0x01, 'c', 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00); /* empty will topic [MQTT-4.7.3-1] */
}

static void test_connect_authentication_data_without_method_is_a_protocol_error(void **state)
{
    /* 3.1.2.11.10 (found by the hostile-input battery) */
    CONNECT("MQTT", 5, 0x02, -MQ_RC_PROTOCOL_ERROR, 0x04, 0x16, 0x00, 0x01, 'd', 0x00, 0x01, 'c');
    CONNECT("MQTT", 5, 0x02, 0, 0x08, 0x15, 0x00, 0x01, 'm', 0x16, 0x00, 0x01, 'd', 0x00, 0x01,
            'c');
}

static void test_connect_truncated_or_with_trailing_bytes_is_malformed(void **state)
{
    CONNECT("MQTT", 4, 0x02, MAL, 0x00, 0x01, 'c', 0x00);             /* trailing */
    CONNECT("MQTT", 4, 0x82, MAL, 0x00, 0x01, 'c');                   /* user name missing */
    CONNECT("MQTT", 4, 0x06, MAL, 0x00, 0x01, 'c', 0x00, 0x01, 'w');  /* will payload missing */
    CONNECT("MQTT", 5, 0x02, MAL, 0x05, 0x11, 0x00);                  /* properties cut */
    EXPECT(0, true, MAL, 0x10, 0x06, 0x00, 0x04, 'M', 'Q', 'T', 'T'); /* no level */
    EXPECT(0, true, MAL, 0x10, 0x08, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04,
           0x02); /* no keep alive */
}

static void test_packets_a_server_never_receives_are_protocol_errors(void **state)
{
    EXPECT(MQ_V5, true, PROTO, 0x20, 0x03, 0x00, 0x00, 0x00);
    EXPECT(MQ_V5, true, PROTO, 0x90, 0x04, 0x00, 0x01, 0x00, 0x00);
    EXPECT(MQ_V5, true, PROTO, 0xB0, 0x04, 0x00, 0x01, 0x00, 0x00);
    EXPECT(MQ_V5, true, PROTO, 0xD0, 0x00);
}

static void test_packets_a_client_never_receives_are_protocol_errors(void **state)
{
    EXPECT(MQ_V5, false, PROTO, 0xC0, 0x00);
    EXPECT(MQ_V5, false, PROTO, 0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 'a', 0x00);
    EXPECT(MQ_V5, false, PROTO, 0xA2, 0x05, 0x00, 0x01, 0x00, 0x01, 'a');
    EXPECT(MQ_V311, false, PROTO, 0xE0, 0x00); /* a 3.1.1 server never sends DISCONNECT */
    EXPECT(MQ_V5, false, 0, 0xE0, 0x00);
}

static void test_auth_exists_only_in_v5(void **state)
{
    EXPECT(MQ_V311, true, PROTO, 0xF0, 0x00);
    EXPECT(MQ_V31, false, PROTO, 0xF0, 0x00);
    EXPECT(MQ_V5, true, 0, 0xF0, 0x00);
}

static void test_packet_before_a_level_is_known_is_a_protocol_error(void **state)
{
    EXPECT(0, true, PROTO, 0xC0, 0x00);
}

static void test_subscribe_without_entries_is_a_protocol_error(void **state)
{
    EXPECT(MQ_V311, true, PROTO, 0x82, 0x02, 0x00, 0x01); /* [MQTT-3.8.3-2] */
    EXPECT(MQ_V5, true, PROTO, 0x82, 0x03, 0x00, 0x01, 0x00);
}

static void test_subscribe_with_packet_id_0_is_malformed(void **state)
{
    EXPECT(MQ_V311, true, MAL, 0x82, 0x06, 0x00, 0x00, 0x00, 0x01, 'a', 0x00);
}

static void test_subscribe_options_are_checked(void **state)
{
    /* v5: reserved bits 6-7 malformed [MQTT-3.8.3-5]; QoS 3 and Retain Handling 3 protocol
     * errors (3.8.3.1); No Local on a shared subscription a protocol error [MQTT-3.8.3-4]. */
    EXPECT(MQ_V5, true, MAL, 0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 'a', 0x40);
    EXPECT(MQ_V5, true, MAL, 0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 'a', 0x80);
    EXPECT(MQ_V5, true, PROTO, 0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 'a', 0x03);
    EXPECT(MQ_V5, true, PROTO, 0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 'a', 0x30);
    EXPECT(MQ_V5, true, 0, 0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 'a', 0x2E);
    EXPECT(MQ_V5, true, PROTO, 0x82, 0x0F, 0x00, 0x01, 0x00, 0x00, 0x09, '$', 's', 'h', 'a', 'r',
           'e', '/', 'g', '/', 0x04);
    /* 3.1.1 [MQTT-3.8.3-4]: any bit above the QoS, or QoS 3, is malformed. */
    EXPECT(MQ_V311, true, MAL, 0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 'a', 0x04);
    EXPECT(MQ_V311, true, MAL, 0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 'a', 0x03);
    EXPECT(MQ_V31, true, MAL, 0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 'a', 0x80);
}

static void test_subscribe_entry_missing_options_or_bad_filter_is_malformed(void **state)
{
    EXPECT(MQ_V311, true, MAL, 0x82, 0x05, 0x00, 0x01, 0x00, 0x01, 'a');
    EXPECT(MQ_V311, true, MAL, 0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 0xff, 0x00); /* [MQTT-3.8.3-1] */
}

static void test_unsubscribe_without_filters_is_a_protocol_error(void **state)
{
    EXPECT(MQ_V311, true, PROTO, 0xA2, 0x02, 0x00, 0x01); /* [MQTT-3.10.3-2] */
    EXPECT(MQ_V5, true, PROTO, 0xA2, 0x03, 0x00, 0x01, 0x00);
}

static void test_unsubscribe_with_packet_id_0_or_bad_filter_is_malformed(void **state)
{
    EXPECT(MQ_V311, true, MAL, 0xA2, 0x05, 0x00, 0x00, 0x00, 0x01, 'a');
    EXPECT(MQ_V311, true, MAL, 0xA2, 0x05, 0x00, 0x01, 0x00, 0x01, 0x00); /* [MQTT-3.10.3-1] */
    EXPECT(MQ_V311, true, MAL, 0xA2, 0x05, 0x00, 0x01, 0x00, 0x05, 'a');
}

static void test_acks_with_packet_id_0_are_malformed(void **state)
{
    for (uint8_t type = MQ_PUBACK; type <= MQ_PUBCOMP; type++) {
        uint8_t b0 = (uint8_t)((type << 4) | (type == MQ_PUBREL ? 2 : 0));
        const uint8_t pkt[] = {b0, 0x02, 0x00, 0x00};
        struct mq_packet p;
        assert_int_equal(mq_decode(pkt, 4, MQ_V311, true, &p), MAL);
        assert_int_equal(mq_decode(pkt, 4, MQ_V5, false, &p), MAL);
    }
    EXPECT(MQ_V311, false, MAL, 0x90, 0x03, 0x00, 0x00, 0x00);
    EXPECT(MQ_V311, false, MAL, 0xB0, 0x02, 0x00, 0x00);
}

static void test_reason_code_not_defined_for_the_packet_is_malformed(void **state)
{
    EXPECT(MQ_V5, true, MAL, 0x40, 0x03, 0x00, 0x01, 0x92); /* PUBACK: not found is PUBREL's */
    EXPECT(MQ_V5, true, MAL, 0x62, 0x03, 0x00, 0x01, 0x10);
    EXPECT(MQ_V5, true, MAL, 0xE0, 0x01, 0x05);
    EXPECT(MQ_V5, true, MAL, 0xF0, 0x01, 0x01);
    EXPECT(MQ_V5, false, MAL, 0x20, 0x03, 0x00, 0x04, 0x00);
    EXPECT(MQ_V311, false, MAL, 0x20, 0x02, 0x00, 0x06);
    EXPECT(MQ_V311, false, MAL, 0x90, 0x03, 0x00, 0x01, 0x03);
    EXPECT(MQ_V5, false, MAL, 0x90, 0x04, 0x00, 0x01, 0x00, 0x11);
    EXPECT(MQ_V5, false, MAL, 0xB0, 0x04, 0x00, 0x01, 0x00, 0x01);
}

static void test_connack_checks(void **state)
{
    EXPECT(MQ_V311, false, MAL, 0x20, 0x02, 0x02, 0x00); /* [MQTT-3.2.2-1] reserved flags */
    EXPECT(MQ_V5, false, MAL, 0x20, 0x02, 0x00, 0x00);   /* v5 has a property length */
    EXPECT(MQ_V5, false, 0, 0x20, 0x03, 0x00, 0x00, 0x00);
    EXPECT(MQ_V311, false, MAL, 0x20, 0x03, 0x00, 0x00, 0x00);
}

static void test_suback_without_codes_is_malformed(void **state)
{
    EXPECT(MQ_V311, false, MAL, 0x90, 0x02, 0x00, 0x01);
    EXPECT(MQ_V5, false, MAL, 0x90, 0x03, 0x00, 0x01, 0x00);
    EXPECT(MQ_V311, false, MAL, 0xB0, 0x03, 0x00, 0x01, 0x00); /* 3.1.1 UNSUBACK has none */
}

static void test_disconnect_checks(void **state)
{
    EXPECT(MQ_V311, true, MAL, 0xE0, 0x01, 0x00);
    EXPECT(MQ_V5, true, 0, 0xE0, 0x07, 0x00, 0x05, 0x11, 0x00, 0x00, 0x00, 0x01);
    /* [MQTT-3.14.2-2] the Server MUST NOT send a Session Expiry Interval in DISCONNECT. */
    EXPECT(MQ_V5, false, PROTO, 0xE0, 0x07, 0x00, 0x05, 0x11, 0x00, 0x00, 0x00, 0x01);
}

static void test_never_crashes_on_truncations_of_valid_packets(void **state)
{
    /* Every prefix of a valid packet, relabelled with the prefix's own length, must be
     * refused cleanly (ASan/UBSan builds catch any read past the end). */
    const uint8_t full[] = {0x10, 0x26, 0x00, 0x04, 'M',  'Q',  'T',  'T',  0x05, 0xCE,
                            0x00, 0x0A, 0x05, 0x11, 0x00, 0x00, 0x00, 0x0A, 0x00, 0x02,
                            'c',  '1',  0x00, 0x00, 0x03, 'w',  '/',  't',  0x00, 0x03,
                            'b',  'y',  'e',  0x00, 0x01, 'u',  0x00, 0x02, 'p',  'w'};
    struct mq_packet p;
    assert_int_equal(mq_decode(full, sizeof full, 0, true, &p), 0);
    for (size_t n = 2; n < sizeof full; n++) {
        uint8_t *cut = malloc(n);
        memcpy(cut, full, n);
        cut[1] = (uint8_t)(n - 2);
        assert_true(mq_decode(cut, n, 0, true, &p) < 0);
        free(cut);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_remaining_length_disagreeing_with_the_body_is_malformed),
        cmocka_unit_test(test_fields_longer_than_the_body_are_malformed),
        cmocka_unit_test(test_reserved_packet_type_is_malformed),
        cmocka_unit_test(test_reserved_flag_bits_are_malformed),
        cmocka_unit_test(test_publish_with_qos_3_is_malformed),
        cmocka_unit_test(test_publish_with_dup_and_qos_0_is_malformed),
        cmocka_unit_test(test_publish_with_packet_id_0_is_malformed),
        cmocka_unit_test(test_publish_topic_with_wildcards_is_refused),
        cmocka_unit_test(test_publish_with_empty_topic_is_malformed_before_v5),
        cmocka_unit_test(test_connect_with_unknown_level_is_unsupported_and_tells_the_level),
        cmocka_unit_test(test_connect_with_reserved_flag_is_malformed),
        cmocka_unit_test(test_connect_will_qos_or_retain_without_will_flag_is_malformed),
        cmocka_unit_test(test_connect_will_qos_3_is_malformed),
        cmocka_unit_test(test_connect_password_without_user_name_is_malformed_before_v5),
        cmocka_unit_test(test_connect_strings_must_be_well_formed_utf8),
        cmocka_unit_test(test_connect_will_topic_with_wildcard_is_refused),
        cmocka_unit_test(test_connect_authentication_data_without_method_is_a_protocol_error),
        cmocka_unit_test(test_connect_truncated_or_with_trailing_bytes_is_malformed),
        cmocka_unit_test(test_packets_a_server_never_receives_are_protocol_errors),
        cmocka_unit_test(test_packets_a_client_never_receives_are_protocol_errors),
        cmocka_unit_test(test_auth_exists_only_in_v5),
        cmocka_unit_test(test_packet_before_a_level_is_known_is_a_protocol_error),
        cmocka_unit_test(test_subscribe_without_entries_is_a_protocol_error),
        cmocka_unit_test(test_subscribe_with_packet_id_0_is_malformed),
        cmocka_unit_test(test_subscribe_options_are_checked),
        cmocka_unit_test(test_subscribe_entry_missing_options_or_bad_filter_is_malformed),
        cmocka_unit_test(test_unsubscribe_without_filters_is_a_protocol_error),
        cmocka_unit_test(test_unsubscribe_with_packet_id_0_or_bad_filter_is_malformed),
        cmocka_unit_test(test_acks_with_packet_id_0_are_malformed),
        cmocka_unit_test(test_reason_code_not_defined_for_the_packet_is_malformed),
        cmocka_unit_test(test_connack_checks),
        cmocka_unit_test(test_suback_without_codes_is_malformed),
        cmocka_unit_test(test_disconnect_checks),
        cmocka_unit_test(test_never_crashes_on_truncations_of_valid_packets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
