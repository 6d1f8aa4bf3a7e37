/*
 * Tests of the hand-over of QUIC datagrams between the workers of one listener: a datagram
 * forwarded to another member is delivered on that member's loop, whole, with its sender; a
 * member never forwards to itself, to an empty slot or to a member that stopped receiving.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <netinet/in.h>

#include "transport/quic_group.h"

static int delivered;
static uint8_t last[64];
static size_t last_len;
static struct sockaddr_in last_from;

static void deliver(struct quic_group_member *m, const struct quic_handoff *h)
{
    delivered++;
    memcpy(last, h->data, h->len);
    last_len = h->len;
    memcpy(&last_from, &h->from, sizeof last_from);
}

static void close_cb(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void finish(uv_loop_t *loop, struct quic_group_member *a, struct quic_group_member *b)
{
    quic_group_stop(a);
    quic_group_stop(b);
    uv_walk(loop, close_cb, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    quic_group_leave(a);
    quic_group_leave(b);
    uv_loop_close(loop);
}

static void test_forwarded_datagram_is_delivered_on_the_owner_loop(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct quic_group_member a = {0}, b = {0};
    static const int key = 0;
    assert_int_equal(quic_group_join(&a, &key, 0, &loop, deliver), 0);
    assert_int_equal(quic_group_join(&b, &key, 1, &loop, deliver), 0);
    struct sockaddr_in from = {.sin_family = AF_INET, .sin_port = htons(4242)};
    delivered = 0;
    assert_true(quic_group_forward(&a, 1, (struct sockaddr *)&from, sizeof from,
                                   (const uint8_t *)"datagram", 8));
    assert_int_equal(delivered, 0); /* not on the caller's stack */
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(delivered, 1);
    assert_int_equal(last_len, 8);
    assert_memory_equal(last, "datagram", 8);
    assert_int_equal(ntohs(last_from.sin_port), 4242);
    finish(&loop, &a, &b);
}

static void test_no_forward_to_itself_an_empty_slot_or_a_stopped_member(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct quic_group_member a = {0}, b = {0};
    static const int key = 0;
    quic_group_join(&a, &key, 0, &loop, deliver);
    quic_group_join(&b, &key, 1, &loop, deliver);
    struct sockaddr_in from = {.sin_family = AF_INET};
    assert_false(
        quic_group_forward(&a, 0, (struct sockaddr *)&from, sizeof from, (const uint8_t *)"x", 1));
    assert_false(
        quic_group_forward(&a, 7, (struct sockaddr *)&from, sizeof from, (const uint8_t *)"x", 1));
    assert_false(quic_group_forward(&a, QUIC_GROUP_SLOTS + 3, (struct sockaddr *)&from, sizeof from,
                                    (const uint8_t *)"x", 1));
    quic_group_stop(&b);
    assert_false(
        quic_group_forward(&a, 1, (struct sockaddr *)&from, sizeof from, (const uint8_t *)"x", 1));
    finish(&loop, &a, &b);
}

static void test_groups_of_two_listeners_are_apart(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct quic_group_member a = {0}, b = {0};
    static const int key_a = 0, key_b = 0;
    quic_group_join(&a, &key_a, 0, &loop, deliver);
    quic_group_join(&b, &key_b, 1, &loop, deliver);
    struct sockaddr_in from = {.sin_family = AF_INET};
    assert_false(
        quic_group_forward(&a, 1, (struct sockaddr *)&from, sizeof from, (const uint8_t *)"x", 1));
    finish(&loop, &a, &b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forwarded_datagram_is_delivered_on_the_owner_loop),
        cmocka_unit_test(test_no_forward_to_itself_an_empty_slot_or_a_stopped_member),
        cmocka_unit_test(test_groups_of_two_listeners_are_apart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
