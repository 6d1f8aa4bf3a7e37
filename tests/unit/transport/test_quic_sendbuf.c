/*
 * Tests of the QUIC stream send buffer: bytes stay until acknowledged (QUIC may resend them),
 * what was already packetised is not offered again, acknowledgements are cumulative stream
 * offsets, and an acknowledgement can never drop bytes not yet sent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "transport/quic_sendbuf.h"

static void test_unsent_bytes_are_offered_until_consumed(void **state)
{
    struct quic_sendbuf b = {0};
    assert_int_equal(quic_sendbuf_append(&b, (const uint8_t *)"hello", 5), 0);
    size_t len;
    const uint8_t *p = quic_sendbuf_unsent(&b, &len);
    assert_int_equal(len, 5);
    assert_memory_equal(p, "hello", 5);
    quic_sendbuf_consumed(&b, 2);
    p = quic_sendbuf_unsent(&b, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(p, "llo", 3);
    assert_int_equal(quic_sendbuf_unacked(&b), 5);
    quic_sendbuf_free(&b);
}

static void test_ack_drops_acknowledged_bytes_and_keeps_offsets(void **state)
{
    struct quic_sendbuf b = {0};
    quic_sendbuf_append(&b, (const uint8_t *)"abcdef", 6);
    quic_sendbuf_consumed(&b, 4);
    quic_sendbuf_acked(&b, 3);
    assert_int_equal(b.base, 3);
    assert_int_equal(quic_sendbuf_unacked(&b), 3);
    size_t len;
    const uint8_t *p = quic_sendbuf_unsent(&b, &len);
    assert_int_equal(len, 2);
    assert_memory_equal(p, "ef", 2);
    quic_sendbuf_append(&b, (const uint8_t *)"gh", 2);
    quic_sendbuf_consumed(&b, 4);
    quic_sendbuf_acked(&b, 8);
    assert_int_equal(b.base, 8);
    assert_int_equal(quic_sendbuf_unacked(&b), 0);
    assert_null(b.data); /* an idle link holds no buffer */
    quic_sendbuf_free(&b);
}

static void test_ack_beyond_what_was_sent_drops_only_sent_bytes(void **state)
{
    struct quic_sendbuf b = {0};
    quic_sendbuf_append(&b, (const uint8_t *)"abcdef", 6);
    quic_sendbuf_consumed(&b, 2);
    quic_sendbuf_acked(&b, 100);
    assert_int_equal(b.base, 2);
    assert_int_equal(quic_sendbuf_unacked(&b), 4);
    size_t len;
    quic_sendbuf_unsent(&b, &len);
    assert_int_equal(len, 4);
    quic_sendbuf_free(&b);
}

static void test_old_or_repeated_ack_changes_nothing(void **state)
{
    struct quic_sendbuf b = {0};
    quic_sendbuf_append(&b, (const uint8_t *)"abcdef", 6);
    quic_sendbuf_consumed(&b, 6);
    quic_sendbuf_acked(&b, 4);
    quic_sendbuf_acked(&b, 4);
    quic_sendbuf_acked(&b, 1);
    assert_int_equal(b.base, 4);
    assert_int_equal(quic_sendbuf_unacked(&b), 2);
    assert_memory_equal(b.data, "ef", 2);
    quic_sendbuf_free(&b);
}

static void test_consumed_more_than_unsent_is_capped(void **state)
{
    struct quic_sendbuf b = {0};
    quic_sendbuf_append(&b, (const uint8_t *)"abc", 3);
    quic_sendbuf_consumed(&b, 10);
    size_t len;
    quic_sendbuf_unsent(&b, &len);
    assert_int_equal(len, 0);
    assert_int_equal(b.sent, 3);
    quic_sendbuf_free(&b);
}

static void test_large_appends_keep_every_byte_in_order(void **state)
{
    struct quic_sendbuf b = {0};
    uint8_t chunk[1000];
    for (int i = 0; i < 300; i++) {
        memset(chunk, i & 0xff, sizeof chunk);
        assert_int_equal(quic_sendbuf_append(&b, chunk, sizeof chunk), 0);
    }
    quic_sendbuf_consumed(&b, 150000);
    quic_sendbuf_acked(&b, 150000);
    size_t len;
    const uint8_t *p = quic_sendbuf_unsent(&b, &len);
    assert_int_equal(len, 150000);
    assert_int_equal(p[0], 150);
    assert_int_equal(p[len - 1], 299 & 0xff);
    quic_sendbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unsent_bytes_are_offered_until_consumed),
        cmocka_unit_test(test_ack_drops_acknowledged_bytes_and_keeps_offsets),
        cmocka_unit_test(test_ack_beyond_what_was_sent_drops_only_sent_bytes),
        cmocka_unit_test(test_old_or_repeated_ack_changes_nothing),
        cmocka_unit_test(test_consumed_more_than_unsent_is_capped),
        cmocka_unit_test(test_large_appends_keep_every_byte_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
