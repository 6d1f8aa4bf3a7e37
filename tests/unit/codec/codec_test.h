/*
 * Shared fixtures for the codec unit tests: a property set filled with distinctive values,
 * the spec's table of which property each packet may carry (written out again here, from
 * spec 2.2.2.2, so the tests check the codec's own copy), a valid packet of each type around
 * a given property block, and an encode-then-decode helper that also checks the encoder's
 * size contract.
 */
#ifndef MQTTD_TEST_CODEC_TEST_H
#define MQTTD_TEST_CODEC_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "codec/codec.h"

#define BYTES(s) ((mq_bytes){(const uint8_t *)(s), (uint32_t)(sizeof(s) - 1)})
#define P(id) MQ_PROP_BIT(MQ_PROP_##id)
#define CTX_WILL 0

#define ALL_MESSAGE                                                                                \
    (P(PAYLOAD_FORMAT_INDICATOR) | P(MESSAGE_EXPIRY_INTERVAL) | P(CONTENT_TYPE) |                  \
     P(RESPONSE_TOPIC) | P(CORRELATION_DATA) | P(USER_PROPERTY))

static const uint64_t spec_allowed[16] = {
    [CTX_WILL] = ALL_MESSAGE | P(WILL_DELAY_INTERVAL),
    [MQ_CONNECT] = P(SESSION_EXPIRY_INTERVAL) | P(AUTHENTICATION_METHOD) | P(AUTHENTICATION_DATA) |
                   P(REQUEST_PROBLEM_INFORMATION) | P(REQUEST_RESPONSE_INFORMATION) |
                   P(RECEIVE_MAXIMUM) | P(TOPIC_ALIAS_MAXIMUM) | P(USER_PROPERTY) |
                   P(MAXIMUM_PACKET_SIZE),
    [MQ_CONNACK] = P(SESSION_EXPIRY_INTERVAL) | P(ASSIGNED_CLIENT_IDENTIFIER) |
                   P(SERVER_KEEP_ALIVE) | P(AUTHENTICATION_METHOD) | P(AUTHENTICATION_DATA) |
                   P(RESPONSE_INFORMATION) | P(SERVER_REFERENCE) | P(REASON_STRING) |
                   P(RECEIVE_MAXIMUM) | P(TOPIC_ALIAS_MAXIMUM) | P(MAXIMUM_QOS) |
                   P(RETAIN_AVAILABLE) | P(USER_PROPERTY) | P(MAXIMUM_PACKET_SIZE) |
                   P(WILDCARD_SUBSCRIPTION_AVAILABLE) | P(SUBSCRIPTION_IDENTIFIER_AVAILABLE) |
                   P(SHARED_SUBSCRIPTION_AVAILABLE),
    [MQ_PUBLISH] = ALL_MESSAGE | P(SUBSCRIPTION_IDENTIFIER) | P(TOPIC_ALIAS),
    [MQ_PUBACK] = P(REASON_STRING) | P(USER_PROPERTY),
    [MQ_PUBREC] = P(REASON_STRING) | P(USER_PROPERTY),
    [MQ_PUBREL] = P(REASON_STRING) | P(USER_PROPERTY),
    [MQ_PUBCOMP] = P(REASON_STRING) | P(USER_PROPERTY),
    [MQ_SUBSCRIBE] = P(SUBSCRIPTION_IDENTIFIER) | P(USER_PROPERTY),
    [MQ_SUBACK] = P(REASON_STRING) | P(USER_PROPERTY),
    [MQ_UNSUBSCRIBE] = P(USER_PROPERTY),
    [MQ_UNSUBACK] = P(REASON_STRING) | P(USER_PROPERTY),
    [MQ_DISCONNECT] =
        P(SESSION_EXPIRY_INTERVAL) | P(SERVER_REFERENCE) | P(REASON_STRING) | P(USER_PROPERTY),
    [MQ_AUTH] =
        P(AUTHENTICATION_METHOD) | P(AUTHENTICATION_DATA) | P(REASON_STRING) | P(USER_PROPERTY),
};

/* Every packet type that has properties, and the will (0). */
static const unsigned contexts[] = {
    CTX_WILL,   MQ_CONNECT,   MQ_CONNACK, MQ_PUBLISH,     MQ_PUBACK,   MQ_PUBREC,     MQ_PUBREL,
    MQ_PUBCOMP, MQ_SUBSCRIBE, MQ_SUBACK,  MQ_UNSUBSCRIBE, MQ_UNSUBACK, MQ_DISCONNECT, MQ_AUTH};

#define N_CONTEXTS (sizeof contexts / sizeof contexts[0])

/* Every defined property id, for loops over "each property". */
static const uint8_t all_prop_ids[] = {
    0x01, 0x02, 0x03, 0x08, 0x09, 0x0B, 0x11, 0x12, 0x13, 0x15, 0x16, 0x17, 0x18, 0x19,
    0x1A, 0x1C, 0x1F, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2A,
};
#define N_PROP_IDS (sizeof all_prop_ids / sizeof all_prop_ids[0])

/* Order matters: the duplicate key checks that user properties keep their order. */
static const mq_user_property test_user_props[] = {
    {BYTES("k"), BYTES("v1")},
    {BYTES("caf\xc3\xa9"), BYTES("\xe2\x82\xac")},
    {BYTES("k"), BYTES("v2")},
};
static const uint32_t test_sub_ids[] = {1, 268435455};

/*
 * Sets every property in `mask` to a distinctive value. User properties and (when `many_sub_ids`)
 * the two subscription identifiers go in the encoder's arrays; otherwise a single
 * subscription identifier goes in the scalar field.
 */
static inline void fill_props(mq_props *p, uint64_t mask, bool many_sub_ids)
{
    memset(p, 0, sizeof *p);
    p->present = mask & ~P(USER_PROPERTY);
    p->payload_format_indicator = 1;
    p->message_expiry_interval = 0x01020304;
    p->content_type = BYTES("text/plain");
    p->response_topic = BYTES("reply/here");
    p->correlation_data = BYTES("\x00\x01\xff");
    p->subscription_id = 16384;
    p->session_expiry_interval = 0xFFFFFFFF;
    p->assigned_client_identifier = BYTES("auto-1");
    p->server_keep_alive = 60;
    p->authentication_method = BYTES("SCRAM-SHA-1");
    p->authentication_data = BYTES("\x10\x00\x20");
    p->request_problem_information = 0;
    p->will_delay_interval = 30;
    p->request_response_information = 1;
    p->response_information = BYTES("resp/");
    p->server_reference = BYTES("other:1883");
    p->reason_string = BYTES("because");
    p->receive_maximum = 65535;
    p->topic_alias_maximum = 10;
    p->topic_alias = 7;
    p->maximum_qos = 1;
    p->retain_available = 0;
    p->maximum_packet_size = 1048576;
    p->wildcard_subscription_available = 1;
    p->subscription_identifier_available = 0;
    p->shared_subscription_available = 1;
    if (many_sub_ids && (mask & P(SUBSCRIPTION_IDENTIFIER))) {
        p->present &= ~P(SUBSCRIPTION_IDENTIFIER);
        p->subscription_ids = test_sub_ids;
        p->subscription_ids_len = 2;
    }
    if (mask & P(USER_PROPERTY)) {
        p->user_properties = test_user_props;
        p->user_properties_len = 3;
    }
}

static inline void assert_bytes_eq(mq_bytes a, mq_bytes b)
{
    assert_int_equal(a.len, b.len);
    if (a.len)
        assert_memory_equal(a.data, b.data, a.len);
}

/* Checks that decoded properties `got` carry exactly what `want` (an encoder input) set. */
static inline void assert_props_match(const mq_props *want, const mq_props *got)
{
    uint64_t expect = want->present;
    if (want->subscription_ids_len)
        expect |= P(SUBSCRIPTION_IDENTIFIER);
    if (want->user_properties_len)
        expect |= P(USER_PROPERTY);
    assert_int_equal(got->present, expect);
    uint64_t s = want->present;
    if (s & P(PAYLOAD_FORMAT_INDICATOR))
        assert_int_equal(got->payload_format_indicator, want->payload_format_indicator);
    if (s & P(MESSAGE_EXPIRY_INTERVAL))
        assert_int_equal(got->message_expiry_interval, want->message_expiry_interval);
    if (s & P(CONTENT_TYPE))
        assert_bytes_eq(got->content_type, want->content_type);
    if (s & P(RESPONSE_TOPIC))
        assert_bytes_eq(got->response_topic, want->response_topic);
    if (s & P(CORRELATION_DATA))
        assert_bytes_eq(got->correlation_data, want->correlation_data);
    if (s & P(SUBSCRIPTION_IDENTIFIER))
        assert_int_equal(got->subscription_id, want->subscription_id);
    if (s & P(SESSION_EXPIRY_INTERVAL))
        assert_int_equal(got->session_expiry_interval, want->session_expiry_interval);
    if (s & P(ASSIGNED_CLIENT_IDENTIFIER))
        assert_bytes_eq(got->assigned_client_identifier, want->assigned_client_identifier);
    if (s & P(SERVER_KEEP_ALIVE))
        assert_int_equal(got->server_keep_alive, want->server_keep_alive);
    if (s & P(AUTHENTICATION_METHOD))
        assert_bytes_eq(got->authentication_method, want->authentication_method);
    if (s & P(AUTHENTICATION_DATA))
        assert_bytes_eq(got->authentication_data, want->authentication_data);
    if (s & P(REQUEST_PROBLEM_INFORMATION))
        assert_int_equal(got->request_problem_information, want->request_problem_information);
    if (s & P(WILL_DELAY_INTERVAL))
        assert_int_equal(got->will_delay_interval, want->will_delay_interval);
    if (s & P(REQUEST_RESPONSE_INFORMATION))
        assert_int_equal(got->request_response_information, want->request_response_information);
    if (s & P(RESPONSE_INFORMATION))
        assert_bytes_eq(got->response_information, want->response_information);
    if (s & P(SERVER_REFERENCE))
        assert_bytes_eq(got->server_reference, want->server_reference);
    if (s & P(REASON_STRING))
        assert_bytes_eq(got->reason_string, want->reason_string);
    if (s & P(RECEIVE_MAXIMUM))
        assert_int_equal(got->receive_maximum, want->receive_maximum);
    if (s & P(TOPIC_ALIAS_MAXIMUM))
        assert_int_equal(got->topic_alias_maximum, want->topic_alias_maximum);
    if (s & P(TOPIC_ALIAS))
        assert_int_equal(got->topic_alias, want->topic_alias);
    if (s & P(MAXIMUM_QOS))
        assert_int_equal(got->maximum_qos, want->maximum_qos);
    if (s & P(RETAIN_AVAILABLE))
        assert_int_equal(got->retain_available, want->retain_available);
    if (s & P(MAXIMUM_PACKET_SIZE))
        assert_int_equal(got->maximum_packet_size, want->maximum_packet_size);
    if (s & P(WILDCARD_SUBSCRIPTION_AVAILABLE))
        assert_int_equal(got->wildcard_subscription_available,
                         want->wildcard_subscription_available);
    if (s & P(SUBSCRIPTION_IDENTIFIER_AVAILABLE))
        assert_int_equal(got->subscription_identifier_available,
                         want->subscription_identifier_available);
    if (s & P(SHARED_SUBSCRIPTION_AVAILABLE))
        assert_int_equal(got->shared_subscription_available, want->shared_subscription_available);

    uint32_t cursor = 0, i = 0;
    mq_user_property up;
    while (mq_props_next_user_property(got, &cursor, &up)) {
        assert_true(i < want->user_properties_len);
        assert_bytes_eq(up.key, want->user_properties[i].key);
        assert_bytes_eq(up.value, want->user_properties[i].value);
        i++;
    }
    assert_int_equal(i, want->user_properties_len);
    assert_int_equal(got->user_property_count, want->user_properties_len);

    if (want->subscription_ids_len) {
        uint32_t id;
        cursor = 0;
        i = 0;
        while (mq_props_next_subscription_id(got, &cursor, &id)) {
            assert_true(i < want->subscription_ids_len);
            assert_int_equal(id, want->subscription_ids[i]);
            i++;
        }
        assert_int_equal(i, want->subscription_ids_len);
        assert_int_equal(got->subscription_id, want->subscription_ids[0]);
    }
}

/* The direction in which each packet type is tested (who sends it). */
static inline bool sent_by_client(uint8_t type)
{
    switch (type) {
    case MQ_CONNACK:
    case MQ_PUBLISH: /* server to client, so it may carry several subscription ids */
    case MQ_SUBACK:
    case MQ_UNSUBACK:
    case MQ_PINGRESP:
        return false;
    default:
        return true;
    }
}

static const mq_topic_request sub_entries[] = {
    {BYTES("a/b"), 0},
    {BYTES("a/+/c"), 1 | MQ_SUBOPT_NO_LOCAL},
    {BYTES("#"), 2 | MQ_SUBOPT_RETAIN_AS_PUBLISHED | (2 << MQ_SUBOPT_RETAIN_HANDLING_SHIFT)},
};
static const uint8_t suback_codes[] = {0x00, 0x01, 0x02, 0x80};

/* A valid packet of `type` whose property block (or will properties, for ctx 0) is *props. */
static inline void make_packet(unsigned ctx, const mq_props *props, struct mq_packet *pkt)
{
    memset(pkt, 0, sizeof *pkt);
    pkt->type = ctx == CTX_WILL ? MQ_CONNECT : (uint8_t)ctx;
    switch (pkt->type) {
    case MQ_CONNECT:
        pkt->u.connect.clean_start = true;
        pkt->u.connect.keep_alive = 60;
        pkt->u.connect.client_id = BYTES("client-1");
        if (ctx == CTX_WILL) {
            pkt->u.connect.will_flag = true;
            pkt->u.connect.will_qos = 1;
            pkt->u.connect.will_topic = BYTES("will/t");
            pkt->u.connect.will_payload = BYTES("bye");
            pkt->u.connect.will_props = *props;
        } else {
            pkt->u.connect.props = *props;
        }
        break;
    case MQ_CONNACK:
        pkt->u.connack.session_present = true;
        pkt->u.connack.props = *props;
        break;
    case MQ_PUBLISH:
        pkt->u.publish.qos = 1;
        pkt->u.publish.packet_id = 7;
        pkt->u.publish.topic = BYTES("t/1");
        pkt->u.publish.payload = BYTES("hello");
        pkt->u.publish.props = *props;
        break;
    case MQ_PUBACK:
    case MQ_PUBREC:
    case MQ_PUBREL:
    case MQ_PUBCOMP:
        pkt->u.ack.packet_id = 65535;
        pkt->u.ack.props = *props;
        break;
    case MQ_SUBSCRIBE:
    case MQ_UNSUBSCRIBE:
        pkt->u.subscribe.packet_id = 1;
        pkt->u.subscribe.entries = sub_entries;
        pkt->u.subscribe.entries_len = 3;
        pkt->u.subscribe.props = *props;
        break;
    case MQ_SUBACK:
    case MQ_UNSUBACK:
        pkt->u.suback.packet_id = 2;
        pkt->u.suback.reason_codes = suback_codes;
        pkt->u.suback.reason_code_count = pkt->type == MQ_SUBACK ? 4 : 1;
        pkt->u.suback.props = *props;
        break;
    case MQ_DISCONNECT:
    case MQ_AUTH:
        pkt->u.disconnect.props = *props;
        break;
    default:
        break;
    }
}

static inline const mq_props *props_of(unsigned ctx, const struct mq_packet *pkt)
{
    switch (pkt->type) {
    case MQ_CONNECT:
        return ctx == CTX_WILL ? &pkt->u.connect.will_props : &pkt->u.connect.props;
    case MQ_CONNACK:
        return &pkt->u.connack.props;
    case MQ_PUBLISH:
        return &pkt->u.publish.props;
    case MQ_SUBSCRIBE:
    case MQ_UNSUBSCRIBE:
        return &pkt->u.subscribe.props;
    case MQ_SUBACK:
    case MQ_UNSUBACK:
        return &pkt->u.suback.props;
    case MQ_DISCONNECT:
    case MQ_AUTH:
        return &pkt->u.disconnect.props;
    default:
        return &pkt->u.ack.props;
    }
}

/*
 * Encodes `in` at `version` into buf (cap bytes), checking the size contract (cap 0 sizes it,
 * one byte short writes nothing, the exact size writes nothing beyond), then decodes it into
 * *out in the given direction. Returns the packet length.
 */
static inline size_t encode_decode(const struct mq_packet *in, uint8_t version, bool from_client,
                                   uint8_t *buf, size_t cap, struct mq_packet *out)
{
    long need = mq_encode(in, version, NULL, 0);
    assert_true(need > 0);
    assert_true((size_t)need + 1 <= cap);
    memset(buf, 0xA5, cap);
    assert_int_equal(mq_encode(in, version, buf, (size_t)need - 1), need);
    for (size_t i = 0; i < cap; i++)
        assert_int_equal(buf[i], 0xA5);
    assert_int_equal(mq_encode(in, version, buf, (size_t)need), need);
    assert_int_equal(buf[need], 0xA5);
    size_t framed = 0;
    assert_int_equal(mq_frame(buf, (size_t)need, 0, &framed), 1);
    assert_int_equal(framed, (size_t)need);
    memset(out, 0x5A, sizeof *out);
    assert_int_equal(mq_decode(buf, (size_t)need, version, from_client, out), 0);
    assert_int_equal(out->type, in->type);
    return (size_t)need;
}

#endif
