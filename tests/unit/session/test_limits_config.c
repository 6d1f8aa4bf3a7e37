/*
 * The limits' configuration keys: names, defaults, ranges and units (docs/CONFIG.md).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "server/config.h"

static struct mq_config cfg;
static char err[256];

static int setup(void **state)
{
    return config_init(&cfg);
}

static int teardown(void **state)
{
    config_free(&cfg);
    return 0;
}

static void set_ok(const char *key, const char *value)
{
    assert_int_equal(config_set(&cfg, key, value, err, sizeof err), 0);
}

static void set_fails(const char *key, const char *value, const char *message)
{
    assert_int_equal(config_set(&cfg, key, value, err, sizeof err), -1);
    assert_non_null(strstr(err, message));
}

static void test_every_limit_is_off_by_default(void **state)
{
    assert_int_equal(cfg.max_connections_per_ip, 0);
    assert_int_equal(cfg.max_connection_rate_per_ip, 0);
    assert_int_equal(cfg.max_messages_per_second, 0);
    assert_int_equal(cfg.max_bytes_per_second, 0);
    assert_int_equal(cfg.max_subscriptions_per_minute, 0);
    assert_int_equal(cfg.memory_limit, 0);
}

static void test_limit_keys_are_read_with_their_units(void **state)
{
    set_ok("max_connections_per_ip", "100");
    set_ok("max_connection_rate_per_ip", "20");
    set_ok("max_messages_per_second", "1000");
    set_ok("max_bytes_per_second", "64k");
    set_ok("max_subscriptions_per_minute", "600");
    set_ok("memory_limit", "2G");
    assert_int_equal(cfg.max_connections_per_ip, 100);
    assert_int_equal(cfg.max_connection_rate_per_ip, 20);
    assert_int_equal(cfg.max_messages_per_second, 1000);
    assert_int_equal(cfg.max_bytes_per_second, 65536);
    assert_int_equal(cfg.max_subscriptions_per_minute, 600);
    assert_true(cfg.memory_limit == 2ull * 1024 * 1024 * 1024);
}

static void test_limit_keys_out_of_range_are_refused_with_the_range(void **state)
{
    set_fails("max_messages_per_second", "1000001", "between 0 and 1000000");
    set_fails("max_connection_rate_per_ip", "2000000", "between 0 and 1000000");
    set_fails("max_subscriptions_per_minute", "60001", "between 0 and 60000");
    set_fails("max_bytes_per_second", "2G", "between 0 and 2000000000");
    set_fails("max_connections_per_ip", "-1", "not a number");
    set_fails("memory_limit", "lots", "not a size");
    assert_int_equal(cfg.max_messages_per_second, 0); /* unchanged by a refused value */
}

static void test_memory_limit_is_supported_now(void **state)
{
    set_ok("memory_limit", "512M");
    assert_true(cfg.memory_limit == 512ull * 1024 * 1024);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_every_limit_is_off_by_default),
        T(test_limit_keys_are_read_with_their_units),
        T(test_limit_keys_out_of_range_are_refused_with_the_range),
        T(test_memory_limit_is_supported_now),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
