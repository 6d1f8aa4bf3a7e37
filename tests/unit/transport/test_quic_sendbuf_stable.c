/*
 * The QUIC send buffer keeps every byte QUIC packetised at the same address until it is
 * acknowledged, because ngtcp2 resends from those addresses (ngtcp2_conn_writev_stream). Run
 * under AddressSanitizer, a block freed or moved too early is a use-after-free here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "transport/quic_sendbuf.h"

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed + i * 7);
}

static void test_sent_bytes_stay_in_place_while_the_buffer_grows(void **state)
{
    struct quic_sendbuf b = {0};
    uint8_t first[600], more[5000];
    fill(first, sizeof first, 1);
    fill(more, sizeof more, 2);
    assert_int_equal(quic_sendbuf_append(&b, first, sizeof first), 0);
    size_t len;
    const uint8_t *sent = quic_sendbuf_unsent(&b, &len);
    quic_sendbuf_consumed(&b, len);
    for (int i = 0; i < 20; i++)
        assert_int_equal(quic_sendbuf_append(&b, more, sizeof more), 0);
    /* Not acknowledged yet: QUIC may resend from `sent`, which must still hold the bytes. */
    assert_memory_equal(sent, first, sizeof first);
    const uint8_t *next = quic_sendbuf_unsent(&b, &len);
    assert_int_equal(len, 20 * sizeof more);
    assert_memory_equal(next, more, sizeof more);
    quic_sendbuf_free(&b);
}

static void test_sent_bytes_stay_in_place_after_a_partial_ack(void **state)
{
    struct quic_sendbuf b = {0};
    uint8_t chunk[700];
    fill(chunk, sizeof chunk, 3);
    assert_int_equal(quic_sendbuf_append(&b, chunk, sizeof chunk), 0);
    size_t len;
    const uint8_t *sent = quic_sendbuf_unsent(&b, &len);
    quic_sendbuf_consumed(&b, len);
    quic_sendbuf_acked(&b, 100);
    /* The block is nearly full: the next append needs a new one. */
    assert_int_equal(quic_sendbuf_append(&b, chunk, sizeof chunk), 0);
    assert_memory_equal(sent + 100, chunk + 100, sizeof chunk - 100);
    assert_int_equal(quic_sendbuf_unacked(&b), 2 * sizeof chunk - 100);
    quic_sendbuf_consumed(&b, sizeof chunk);
    quic_sendbuf_acked(&b, 2 * sizeof chunk);
    assert_int_equal(quic_sendbuf_unacked(&b), 0);
    assert_null(b.data);
    quic_sendbuf_free(&b);
}

static void test_unsent_bytes_survive_many_blocks_in_order(void **state)
{
    struct quic_sendbuf b = {0};
    uint8_t chunk[333];
    uint64_t acked = 0, total = 0;
    for (int i = 0; i < 200; i++) {
        fill(chunk, sizeof chunk, (uint8_t)i);
        assert_int_equal(quic_sendbuf_append(&b, chunk, sizeof chunk), 0);
        total += sizeof chunk;
        size_t len;
        const uint8_t *p = quic_sendbuf_unsent(&b, &len);
        assert_int_equal(len, sizeof chunk);
        assert_memory_equal(p, chunk, sizeof chunk);
        quic_sendbuf_consumed(&b, len);
        /* Acknowledgements lag two chunks behind. */
        if (total > 2 * sizeof chunk) {
            acked = total - 2 * sizeof chunk;
            quic_sendbuf_acked(&b, acked);
        }
        assert_int_equal(quic_sendbuf_unacked(&b), total - acked);
    }
    quic_sendbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sent_bytes_stay_in_place_while_the_buffer_grows),
        cmocka_unit_test(test_sent_bytes_stay_in_place_after_a_partial_ack),
        cmocka_unit_test(test_unsent_bytes_survive_many_blocks_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
