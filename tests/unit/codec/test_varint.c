/*
 * Variable Byte Integers at their boundaries (spec 1.5.5) and mq_frame: whole packets, every
 * prefix of one, and refusing an oversized packet as soon as its length says so.
 */
#include "codec_test.h"

static const struct {
    uint32_t value;
    size_t size;
    uint8_t bytes[4];
} boundaries[] = {
    {0, 1, {0x00}},
    {127, 1, {0x7F}},
    {128, 2, {0x80, 0x01}},
    {16383, 2, {0xFF, 0x7F}},
    {16384, 3, {0x80, 0x80, 0x01}},
    {2097151, 3, {0xFF, 0xFF, 0x7F}},
    {2097152, 4, {0x80, 0x80, 0x80, 0x01}},
    {268435455, 4, {0xFF, 0xFF, 0xFF, 0x7F}},
};

static void test_varint_boundaries_encode_to_the_spec_table(void **state)
{
    for (size_t i = 0; i < sizeof boundaries / sizeof boundaries[0]; i++) {
        uint8_t out[4] = {0};
        assert_int_equal(mq_varint_size(boundaries[i].value), boundaries[i].size);
        assert_int_equal(mq_varint_encode(boundaries[i].value, out), boundaries[i].size);
        assert_memory_equal(out, boundaries[i].bytes, boundaries[i].size);
    }
}

static void test_varint_boundaries_decode_back(void **state)
{
    for (size_t i = 0; i < sizeof boundaries / sizeof boundaries[0]; i++) {
        uint32_t v = 0xDEAD;
        assert_int_equal(mq_varint_decode(boundaries[i].bytes, boundaries[i].size, &v),
                         (int)boundaries[i].size);
        assert_int_equal(v, boundaries[i].value);
    }
}

static void test_varint_prefix_needs_more_bytes(void **state)
{
    uint32_t v;
    const uint8_t b[] = {0xFF, 0xFF, 0xFF, 0x7F};
    for (size_t n = 0; n < 4; n++)
        assert_int_equal(mq_varint_decode(b, n, &v), 0);
}

static void test_varint_of_five_bytes_is_malformed(void **state)
{
    uint32_t v;
    const uint8_t b[] = {0xFF, 0xFF, 0xFF, 0xFF, 0x7F};
    assert_int_equal(mq_varint_decode(b, sizeof b, &v), -MQ_RC_MALFORMED_PACKET);
    assert_int_equal(mq_varint_decode(b, 4, &v), -MQ_RC_MALFORMED_PACKET);
}

static void test_non_minimal_varint_is_malformed(void **state)
{
    /* [MQTT-1.5.5-1] The encoded value MUST use the minimum number of bytes necessary. */
    uint32_t v;
    const uint8_t zero2[] = {0x80, 0x00};
    const uint8_t v127_2[] = {0xFF, 0x00};
    const uint8_t v1_4[] = {0x81, 0x80, 0x80, 0x00};
    assert_int_equal(mq_varint_decode(zero2, 2, &v), -MQ_RC_MALFORMED_PACKET);
    assert_int_equal(mq_varint_decode(v127_2, 2, &v), -MQ_RC_MALFORMED_PACKET);
    assert_int_equal(mq_varint_decode(v1_4, 4, &v), -MQ_RC_MALFORMED_PACKET);
}

static void test_frame_returns_zero_on_every_prefix_of_a_valid_packet(void **state)
{
    uint8_t pkt[300];
    memset(pkt, 'x', sizeof pkt);
    pkt[0] = 0x30;
    pkt[1] = 0xA9; /* 297 = 0x29 + 2 * 128 */
    pkt[2] = 0x02;
    size_t out = 0;
    for (size_t n = 0; n < sizeof pkt; n++)
        assert_int_equal(mq_frame(pkt, n, 0, &out), 0);
    assert_int_equal(mq_frame(pkt, sizeof pkt, 0, &out), 1);
    assert_int_equal(out, 300);

    const uint8_t ping[] = {0xC0, 0x00, 0xD0};
    assert_int_equal(mq_frame(ping, 1, 0, &out), 0);
    assert_int_equal(mq_frame(ping, 3, 0, &out), 1);
    assert_int_equal(out, 2); /* bytes of the next packet are left alone */
}

static void test_frame_refuses_too_large_as_soon_as_the_length_says_so(void **state)
{
    size_t out;
    /* 200-byte body against a 100-byte limit: known after the first length byte already,
     * because the second can only add. */
    const uint8_t b[] = {0x30, 0xC8, 0x01};
    assert_int_equal(mq_frame(b, 2, 100, &out), -MQ_RC_PACKET_TOO_LARGE);
    assert_int_equal(mq_frame(b, 3, 100, &out), -MQ_RC_PACKET_TOO_LARGE);
    assert_int_equal(mq_frame(b, 3, 203, &out), 0);
    assert_int_equal(mq_frame(b, 3, 202, &out), -MQ_RC_PACKET_TOO_LARGE);
    const uint8_t small[] = {0x30, 0x7F};
    assert_int_equal(mq_frame(small, 2, 128, &out), -MQ_RC_PACKET_TOO_LARGE);
    assert_int_equal(mq_frame(small, 2, 129, &out), 0);
}

static void test_frame_accepts_the_largest_packet_with_no_limit(void **state)
{
    size_t out;
    const uint8_t b[] = {0x30, 0xFF, 0xFF, 0xFF, 0x7F};
    assert_int_equal(mq_frame(b, sizeof b, 0, &out), 0);
    assert_int_equal(mq_frame(b, sizeof b, MQ_MAX_PACKET_SIZE, &out), 0);
    assert_int_equal(mq_frame(b, sizeof b, MQ_MAX_PACKET_SIZE - 1, &out), -MQ_RC_PACKET_TOO_LARGE);
}

static void test_frame_with_malformed_length_is_malformed(void **state)
{
    size_t out;
    const uint8_t five[] = {0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01};
    assert_int_equal(mq_frame(five, sizeof five, 0, &out), -MQ_RC_MALFORMED_PACKET);
    const uint8_t non_minimal[] = {0x30, 0x80, 0x00};
    assert_int_equal(mq_frame(non_minimal, sizeof non_minimal, 0, &out),
                     -MQ_RC_MALFORMED_PACKET); /* [MQTT-1.5.5-1] */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_varint_boundaries_encode_to_the_spec_table),
        cmocka_unit_test(test_varint_boundaries_decode_back),
        cmocka_unit_test(test_varint_prefix_needs_more_bytes),
        cmocka_unit_test(test_varint_of_five_bytes_is_malformed),
        cmocka_unit_test(test_non_minimal_varint_is_malformed),
        cmocka_unit_test(test_frame_returns_zero_on_every_prefix_of_a_valid_packet),
        cmocka_unit_test(test_frame_refuses_too_large_as_soon_as_the_length_says_so),
        cmocka_unit_test(test_frame_accepts_the_largest_packet_with_no_limit),
        cmocka_unit_test(test_frame_with_malformed_length_is_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
