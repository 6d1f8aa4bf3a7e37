/*
 * UTF-8 Encoded Strings as MQTT requires them (spec 1.5.4), directly and through the
 * strings of a decoded packet.
 */
#include "codec_test.h"

#define VALID(s) assert_true(mq_utf8_valid((const uint8_t *)(s), sizeof(s) - 1))
#define INVALID(s) assert_false(mq_utf8_valid((const uint8_t *)(s), sizeof(s) - 1))

static void test_ascii_and_empty_strings_are_valid(void **state)
{
    VALID("");
    VALID("a");
    VALID("sensors/room-1/temperature/celsius");
}

static void test_multi_byte_sequences_of_every_length_are_valid(void **state)
{
    VALID("\xc2\x80");         /* U+0080, smallest two-byte */
    VALID("caf\xc3\xa9");      /* U+00E9 */
    VALID("\xe0\xa0\x80");     /* U+0800, smallest three-byte */
    VALID("\xe2\x82\xac");     /* U+20AC */
    VALID("\xed\x9f\xbf");     /* U+D7FF, just below the surrogates */
    VALID("\xee\x80\x80");     /* U+E000, just above them */
    VALID("\xf0\x90\x80\x80"); /* U+10000, smallest four-byte */
    VALID("\xf4\x8f\xbf\xbf"); /* U+10FFFF, the last code point */
    VALID("long ascii run then \xf0\x9f\x98\x80 and more ascii after it"); /* U+1F600 */
}

static void test_null_character_is_invalid(void **state)
{
    INVALID("\x00");          /* [MQTT-1.5.4-2] */
    INVALID("abc\x00");       /* in the tail */
    INVALID("abcdefgh\x00i"); /* after a word-at-a-time run */
    INVALID("abc\x00"
            "defghijk"); /* inside an 8-byte word */
}

static void test_surrogates_are_invalid(void **state)
{
    INVALID("\xed\xa0\x80"); /* U+D800 [MQTT-1.5.4-1] */
    INVALID("\xed\xbf\xbf"); /* U+DFFF */
}

static void test_overlong_encodings_are_invalid(void **state)
{
    INVALID("\xc0\x80");         /* U+0000 in two bytes */
    INVALID("\xc1\xbf");         /* U+007F in two bytes */
    INVALID("\xe0\x80\xaf");     /* '/' in three bytes */
    INVALID("\xe0\x9f\xbf");     /* U+07FF in three bytes */
    INVALID("\xf0\x8f\xbf\xbf"); /* U+FFFF in four bytes */
}

static void test_out_of_range_and_stray_bytes_are_invalid(void **state)
{
    INVALID("\xf4\x90\x80\x80"); /* U+110000 */
    INVALID("\xf5\x80\x80\x80");
    INVALID("\xff");
    INVALID("\x80"); /* continuation without a lead */
    INVALID("a\xbf"
            "bcdefghij");
}

static void test_truncated_sequences_are_invalid(void **state)
{
    INVALID("\xc3");
    INVALID("\xe2\x82");
    INVALID("\xf0\x9f\x98");
    INVALID("\xe2\x82"
            "a"); /* lead followed by a non-continuation */
    INVALID("\xf0\x9f"
            "aa");
}

static void test_byte_order_mark_is_kept_not_stripped(void **state)
{
    /* [MQTT-1.5.4-3] U+FEFF is a valid character and MUST NOT be skipped or stripped. */
    VALID("\xef\xbb\xbf");
    const uint8_t pkt[] = {0x30, 0x06, 0x00, 0x04, 0xef, 0xbb, 0xbf, 'a'};
    struct mq_packet out;
    assert_int_equal(mq_decode(pkt, sizeof pkt, MQ_V311, true, &out), 0);
    assert_int_equal(out.u.publish.topic.len, 4);
    assert_memory_equal(out.u.publish.topic.data,
                        "\xef\xbb\xbf"
                        "a",
                        4);
}

static void test_ill_formed_topic_in_publish_is_malformed(void **state)
{
    /* [MQTT-1.5.4-1], [MQTT-3.3.2-1] */
    const uint8_t surrogate[] = {0x30, 0x05, 0x00, 0x03, 0xed, 0xa0, 0x80};
    const uint8_t nul[] = {0x30, 0x04, 0x00, 0x02, 'a', 0x00};
    struct mq_packet out;
    assert_int_equal(mq_decode(surrogate, sizeof surrogate, MQ_V5, true, &out),
                     -MQ_RC_MALFORMED_PACKET);
    assert_int_equal(mq_decode(nul, sizeof nul, MQ_V311, true, &out), -MQ_RC_MALFORMED_PACKET);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ascii_and_empty_strings_are_valid),
        cmocka_unit_test(test_multi_byte_sequences_of_every_length_are_valid),
        cmocka_unit_test(test_null_character_is_invalid),
        cmocka_unit_test(test_surrogates_are_invalid),
        cmocka_unit_test(test_overlong_encodings_are_invalid),
        cmocka_unit_test(test_out_of_range_and_stray_bytes_are_invalid),
        cmocka_unit_test(test_truncated_sequences_are_invalid),
        cmocka_unit_test(test_byte_order_mark_is_kept_not_stripped),
        cmocka_unit_test(test_ill_formed_topic_in_publish_is_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
