/*
 * Tests of the QUIC send batcher over a real loopback UDP socket pair: whether the kernel cuts a
 * GSO train or the batcher sends packet by packet, the receiver must see exactly the datagrams
 * pushed, in order, with their own sizes, and a packet for another address never joins a train.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport/quic_tx.h"

static struct quic_tx tx;

static int bound_socket(struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof *addr;
    getsockname(fd, (struct sockaddr *)addr, &len);
    struct timeval tv = {.tv_sec = 2};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static void push(const struct sockaddr_in *to, size_t n, uint8_t fill)
{
    memset(quic_tx_slot(&tx), fill, n);
    quic_tx_push(&tx, (const struct sockaddr *)to, sizeof *to, n);
}

static void expect_datagram(int fd, size_t n, uint8_t fill)
{
    static uint8_t buf[65536];
    ssize_t got = recv(fd, buf, sizeof buf, 0);
    assert_int_equal(got, (ssize_t)n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(buf[i], fill);
}

static void test_a_train_arrives_as_the_datagrams_pushed(void **state)
{
    struct sockaddr_in to, from;
    int rx = bound_socket(&to), fd = bound_socket(&from);
    quic_tx_init(&tx, fd);
    for (int i = 0; i < 5; i++)
        push(&to, 1200, (uint8_t)(i + 1));
    push(&to, 300, 9); /* shorter: ends the train */
    for (int i = 0; i < 5; i++)
        expect_datagram(rx, 1200, (uint8_t)(i + 1));
    expect_datagram(rx, 300, 9);
    close(rx);
    close(fd);
}

static void test_a_longer_packet_starts_a_new_train(void **state)
{
    struct sockaddr_in to, from;
    int rx = bound_socket(&to), fd = bound_socket(&from);
    quic_tx_init(&tx, fd);
    push(&to, 500, 1);
    push(&to, 500, 2);
    push(&to, 1400, 3);
    push(&to, 1400, 4);
    quic_tx_flush(&tx);
    expect_datagram(rx, 500, 1);
    expect_datagram(rx, 500, 2);
    expect_datagram(rx, 1400, 3);
    expect_datagram(rx, 1400, 4);
    close(rx);
    close(fd);
}

static void test_packets_for_two_addresses_reach_each_its_own(void **state)
{
    struct sockaddr_in a, b, from;
    int rx_a = bound_socket(&a), rx_b = bound_socket(&b), fd = bound_socket(&from);
    quic_tx_init(&tx, fd);
    push(&a, 1000, 1);
    push(&b, 1000, 2);
    push(&a, 1000, 3);
    quic_tx_flush(&tx);
    expect_datagram(rx_a, 1000, 1);
    expect_datagram(rx_a, 1000, 3);
    expect_datagram(rx_b, 1000, 2);
    close(rx_a);
    close(rx_b);
    close(fd);
}

static void test_a_full_train_is_sent_without_waiting_for_flush(void **state)
{
    struct sockaddr_in to, from;
    int rx = bound_socket(&to), fd = bound_socket(&from);
    quic_tx_init(&tx, fd);
    for (int i = 0; i < QUIC_TX_SEGMENTS; i++)
        push(&to, QUIC_TX_DATAGRAM, (uint8_t)i);
    assert_int_equal(tx.count, 0);
    for (int i = 0; i < QUIC_TX_SEGMENTS; i++)
        expect_datagram(rx, QUIC_TX_DATAGRAM, (uint8_t)i);
    close(rx);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_train_arrives_as_the_datagrams_pushed),
        cmocka_unit_test(test_a_longer_packet_starts_a_new_train),
        cmocka_unit_test(test_packets_for_two_addresses_reach_each_its_own),
        cmocka_unit_test(test_a_full_train_is_sent_without_waiting_for_flush),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
