/*
 * The per-address connection table: open sockets per address, new connections per second per
 * address, how addresses are grouped (IPv4 alone, IPv6 by /64, v4-mapped as IPv4), and that
 * entries go away once nothing needs them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "server/ip_table.h"

static struct sockaddr_storage addr(const char *text)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
    } else {
        assert_int_equal(inet_pton(AF_INET6, text, &in6->sin6_addr), 1);
        in6->sin6_family = AF_INET6;
    }
    return ss;
}

static enum ip_verdict admit(struct ip_table *t, const char *peer, uint64_t now, uint32_t *slot)
{
    struct sockaddr_storage ss = addr(peer);
    return ip_table_admit(t, (struct sockaddr *)&ss, now, slot);
}

static void test_address_at_max_open_is_refused_until_one_closes(void **state)
{
    struct ip_table *t = ip_table_new(2, 0);
    uint32_t a, b, c;
    assert_int_equal(admit(t, "10.0.0.1", 1000, &a), IP_ADMITTED);
    assert_int_equal(admit(t, "10.0.0.1", 1000, &b), IP_ADMITTED);
    assert_int_equal(admit(t, "10.0.0.1", 1000, &c), IP_TOO_MANY);
    assert_int_equal(admit(t, "10.0.0.2", 1000, &c), IP_ADMITTED); /* a bystander */
    ip_table_release(t, a, 1000);
    assert_int_equal(admit(t, "10.0.0.1", 1000, &a), IP_ADMITTED);
    ip_table_free(t);
}

static void test_connection_rate_per_address_refills_over_time(void **state)
{
    struct ip_table *t = ip_table_new(0, 5);
    uint32_t s;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(admit(t, "10.0.0.1", 1000, &s), IP_ADMITTED);
        ip_table_release(t, s, 1000); /* connect and drop at once: still counted */
    }
    assert_int_equal(admit(t, "10.0.0.1", 1000, &s), IP_TOO_FAST);
    assert_int_equal(admit(t, "10.0.0.3", 1000, &s), IP_ADMITTED);
    assert_int_equal(admit(t, "10.0.0.1", 1199, &s), IP_TOO_FAST);
    assert_int_equal(admit(t, "10.0.0.1", 1200, &s), IP_ADMITTED); /* 1/5 s: one more */
    ip_table_free(t);
}

static void test_ipv6_addresses_of_one_slash_64_count_together(void **state)
{
    struct ip_table *t = ip_table_new(1, 0);
    uint32_t s;
    assert_int_equal(admit(t, "2001:db8:1:2::1", 1000, &s), IP_ADMITTED);
    assert_int_equal(admit(t, "2001:db8:1:2:ffff::9", 1000, &s), IP_TOO_MANY);
    assert_int_equal(admit(t, "2001:db8:1:3::1", 1000, &s), IP_ADMITTED);
    ip_table_free(t);
}

static void test_ipv4_mapped_address_counts_as_its_ipv4_address(void **state)
{
    struct ip_table *t = ip_table_new(1, 0);
    uint32_t s;
    assert_int_equal(admit(t, "192.0.2.7", 1000, &s), IP_ADMITTED);
    assert_int_equal(admit(t, "::ffff:192.0.2.7", 1000, &s), IP_TOO_MANY);
    assert_int_equal(admit(t, "::ffff:192.0.2.8", 1000, &s), IP_ADMITTED);
    ip_table_free(t);
}

static void test_entries_are_freed_when_nothing_needs_them(void **state)
{
    struct ip_table *t = ip_table_new(10, 1);
    uint32_t slots[1000];
    char text[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(text, sizeof text, "10.1.%d.%d", i / 250, i % 250);
        assert_int_equal(admit(t, text, 1000, &slots[i]), IP_ADMITTED);
    }
    assert_int_equal(ip_table_entries(t), 1000);
    for (int i = 0; i < 1000; i++)
        ip_table_release(t, slots[i], 1000);
    /* Closed, but each bucket still remembers its connection for a second. */
    assert_int_equal(ip_table_entries(t), 1000);
    for (int i = 0; i < 100; i++)
        ip_table_sweep(t, 2000);
    assert_int_equal(ip_table_entries(t), 0);
    ip_table_free(t);
}

static void test_entry_without_rate_limit_goes_with_its_last_connection(void **state)
{
    struct ip_table *t = ip_table_new(3, 0);
    uint32_t a, b;
    assert_int_equal(admit(t, "10.0.0.1", 1000, &a), IP_ADMITTED);
    assert_int_equal(admit(t, "10.0.0.1", 1000, &b), IP_ADMITTED);
    assert_int_equal(a, b); /* one entry per address */
    ip_table_release(t, a, 1000);
    assert_int_equal(ip_table_entries(t), 1);
    ip_table_release(t, b, 1000);
    assert_int_equal(ip_table_entries(t), 0);
    ip_table_free(t);
}

static void test_other_address_families_are_admitted_uncounted(void **state)
{
    struct ip_table *t = ip_table_new(1, 1);
    struct sockaddr unix_peer = {.sa_family = AF_UNIX};
    uint32_t s = 99;
    assert_int_equal(ip_table_admit(t, &unix_peer, 1000, &s), IP_ADMITTED);
    assert_int_equal(s, 0);
    ip_table_release(t, s, 1000);
    assert_int_equal(ip_table_entries(t), 0);
    ip_table_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_address_at_max_open_is_refused_until_one_closes),
        cmocka_unit_test(test_connection_rate_per_address_refills_over_time),
        cmocka_unit_test(test_ipv6_addresses_of_one_slash_64_count_together),
        cmocka_unit_test(test_ipv4_mapped_address_counts_as_its_ipv4_address),
        cmocka_unit_test(test_entries_are_freed_when_nothing_needs_them),
        cmocka_unit_test(test_entry_without_rate_limit_goes_with_its_last_connection),
        cmocka_unit_test(test_other_address_families_are_admitted_uncounted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
