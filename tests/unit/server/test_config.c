/*
 * Tests of config_set: defaults, every key with good and bad values, and the wording of errors
 * (they must name the key and say what was expected).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "codec/codec.h"
#include "server/config.h"

static struct mq_config cfg;
static char err[512];

static int setup(void **state)
{
    assert_int_equal(config_init(&cfg), 0);
    err[0] = '\0';
    return 0;
}

static int teardown(void **state)
{
    config_free(&cfg);
    return 0;
}

static void set_ok(const char *key, const char *value)
{
    if (config_set(&cfg, key, value, err, sizeof err) != 0)
        fail_msg("%s %s: %s", key, value, err);
}

/* The error must mention every fragment given (NULL-terminated). */
static void set_fails(const char *key, const char *value, ...)
{
    assert_int_equal(config_set(&cfg, key, value, err, sizeof err), -1);
    va_list ap;
    va_start(ap, value);
    for (const char *want = va_arg(ap, const char *); want != NULL;
         want = va_arg(ap, const char *)) {
        if (strstr(err, want) == NULL)
            fail_msg("error '%s' lacks '%s'", err, want);
    }
    va_end(ap);
}

static void test_defaults_match_the_documented_values(void **state)
{
    assert_int_equal(cfg.listener_count, 0);
    assert_int_equal(cfg.workers, 0);
    assert_int_equal(cfg.log_level, 2);
    assert_true(cfg.allow_anonymous);
    assert_null(cfg.password_file);
    assert_null(cfg.acl_file);
    assert_int_equal(cfg.max_connections, 0);
    assert_int_equal(cfg.max_packet_size, 268435460u);
    assert_int_equal(cfg.max_packet_size, MQ_MAX_PACKET_SIZE);
    assert_int_equal(cfg.message_size_limit, 0);
    assert_int_equal(cfg.max_inflight_messages, 100);
    assert_int_equal(cfg.max_queued_messages, 1000);
    assert_int_equal(cfg.max_queued_bytes, 0);
    assert_false(cfg.queue_qos0_messages);
    assert_int_equal(cfg.max_keepalive, 65535);
    assert_int_equal(cfg.connect_timeout_ms, 10000);
    assert_true(cfg.retain_available);
    assert_int_equal(cfg.max_qos, 2);
    assert_int_equal(cfg.max_topic_alias, 10);
    assert_int_equal(cfg.max_topic_alias_out, 64);
    assert_int_equal(cfg.max_topic_levels, 200);
    assert_int_equal(cfg.max_topic_length, 65535);
    assert_int_equal(cfg.max_subscriptions_per_client, 0);
    assert_true(cfg.shared_subscriptions);
    assert_true(cfg.wildcard_subscriptions);
    assert_true(cfg.subscription_identifiers);
    assert_int_equal(cfg.persistent_client_expiration_s, 0);
    assert_string_equal(cfg.response_information, "response/%c");
    assert_int_equal(cfg.session_expiry_max_s, 0);
}

static void test_config_free_leaves_a_zeroed_struct_and_is_repeatable(void **state)
{
    set_ok("password_file", "/etc/pw");
    set_ok("listener", "1883");
    config_free(&cfg);
    assert_null(cfg.listeners);
    assert_null(cfg.password_file);
    assert_null(cfg.response_information);
    config_free(&cfg);
}

static void test_unknown_key_is_an_error_naming_it(void **state)
{
    set_fails("no_such_key", "1", "unknown key 'no_such_key'", NULL);
    set_fails("store_engine", "sqlite", "unknown key 'store_engine'", NULL);
    set_fails("Max_QoS", "1", "unknown key", NULL);
}

static void test_unimplemented_mosquitto_keys_say_not_supported(void **state)
{
    set_fails("autosave_interval", "60", "autosave_interval", "not supported by mqttd (yet)", NULL);
    set_fails("autosave_on_changes", "true", "not supported by mqttd (yet)", NULL);
    set_fails("bridge_protocol_version", "mqttv50", "not supported by mqttd (yet)", NULL);
    set_fails("plugin_opt_x", "1", "not supported", NULL);
    set_fails("connection", "b1", "not supported", NULL);
    set_fails("mount_point", "a/", "not supported", NULL);
}

static void test_harmless_logging_keys_are_accepted(void **state)
{
    set_ok("log_type", "all");
    set_ok("log_type", "information");
    set_ok("log_dest", "stdout");
    set_ok("log_dest", "stderr");
    set_ok("connection_messages", "true");
    set_ok("log_timestamp", "false");
    set_fails("log_dest", "syslog", "log_dest", "not supported by mqttd (yet)", NULL);
    set_fails("log_dest", "file /var/log/x", "not supported", NULL);
    set_fails("log_type", "loud", "log_type", "'loud'", NULL);
    set_fails("connection_messages", "maybe", "connection_messages", "boolean", NULL);
}

static void test_missing_value_is_an_error(void **state)
{
    set_fails("max_qos", "", "max_qos: missing value", NULL);
    set_fails("password_file", NULL, "password_file: missing value", NULL);
}

static void test_booleans_accept_true_false_and_mosquitto_spellings(void **state)
{
    set_ok("retain_available", "false");
    assert_false(cfg.retain_available);
    set_ok("retain_available", "true");
    assert_true(cfg.retain_available);
    set_ok("queue_qos0_messages", "1");
    assert_true(cfg.queue_qos0_messages);
    set_ok("queue_qos0_messages", "0");
    assert_false(cfg.queue_qos0_messages);
    set_ok("shared_subscriptions", "no");
    assert_false(cfg.shared_subscriptions);
    set_ok("wildcard_subscriptions", "off");
    assert_false(cfg.wildcard_subscriptions);
    set_ok("subscription_identifiers", "FALSE");
    assert_false(cfg.subscription_identifiers);
    set_fails("retain_available", "ture", "retain_available", "'ture'", "boolean", NULL);
    assert_true(cfg.retain_available);
}

static void test_workers_range_is_0_to_1024(void **state)
{
    set_ok("workers", "4");
    assert_int_equal(cfg.workers, 4);
    set_ok("workers", "0");
    assert_int_equal(cfg.workers, 0);
    set_fails("workers", "1025", "workers", "'1025'", "between 0 and 1024", NULL);
    set_fails("workers", "-1", "workers", NULL);
    set_fails("workers", "four", "workers", NULL);
}

static void test_sys_interval_and_io_linger_defaults_and_ranges(void **state)
{
    assert_int_equal(cfg.sys_interval_s, 10);
    assert_int_equal(cfg.io_linger_us, 250);
    set_ok("sys_interval", "0");
    assert_int_equal(cfg.sys_interval_s, 0);
    set_ok("sys_interval", "1h");
    assert_int_equal(cfg.sys_interval_s, 3600);
    set_fails("sys_interval", "2d", "sys_interval", NULL);
    set_ok("io_linger_us", "0");
    assert_int_equal(cfg.io_linger_us, 0);
    set_fails("io_linger_us", "10001", "io_linger_us", "between 0 and 10000", NULL);
}

static void test_max_output_backlog_default_and_range(void **state)
{
    assert_int_equal(cfg.max_output_backlog, 8u * 1024 * 1024);
    set_ok("max_output_backlog", "64K");
    assert_int_equal(cfg.max_output_backlog, 65536);
    set_fails("max_output_backlog", "1000", "max_output_backlog", NULL);
}

static void test_log_level_accepts_names_and_numbers(void **state)
{
    set_ok("log_level", "debug");
    assert_int_equal(cfg.log_level, 4);
    set_ok("log_level", "error");
    assert_int_equal(cfg.log_level, 0);
    set_ok("log_level", "3");
    assert_int_equal(cfg.log_level, 3);
    set_fails("log_level", "5", "log_level", "'5'", NULL);
    set_fails("log_level", "verbose", "log_level", "debug", NULL);
}

static void test_allow_anonymous_before_any_listener_is_global(void **state)
{
    set_ok("allow_anonymous", "false");
    assert_false(cfg.allow_anonymous);
    assert_int_equal(cfg.listener_count, 0);
    set_fails("allow_anonymous", "nope", "allow_anonymous", "boolean", NULL);
}

static void test_allow_anonymous_after_a_listener_applies_to_it(void **state)
{
    set_ok("listener", "1883");
    set_ok("allow_anonymous", "false");
    assert_true(cfg.allow_anonymous);
    assert_int_equal(cfg.listeners[0].allow_anonymous, 0);
    set_ok("listener", "1884");
    assert_int_equal(cfg.listeners[1].allow_anonymous, -1);
}

static void test_password_and_acl_files_are_stored(void **state)
{
    set_ok("password_file", "/etc/mqttd/passwd");
    set_ok("acl_file", "/etc/mqttd/acl");
    set_ok("password_file", "/etc/mqttd/passwd2");
    assert_string_equal(cfg.password_file, "/etc/mqttd/passwd2");
    assert_string_equal(cfg.acl_file, "/etc/mqttd/acl");
}

static void test_max_connections_accepts_mosquitto_minus_one_as_unlimited(void **state)
{
    set_ok("max_connections", "500");
    assert_int_equal(cfg.max_connections, 500);
    set_ok("max_connections", "-1");
    assert_int_equal(cfg.max_connections, 0);
    set_ok("max_connections", "4294967295");
    assert_int_equal(cfg.max_connections, 4294967295u);
    set_fails("max_connections", "4294967296", "max_connections", "between 0 and 4294967295", NULL);
    set_fails("max_connections", "-2", "max_connections", "'-2'", NULL);
}

static void test_max_packet_size_takes_size_suffixes_and_refuses_0(void **state)
{
    set_ok("max_packet_size", "1k");
    assert_int_equal(cfg.max_packet_size, 1024);
    set_ok("max_packet_size", "2M");
    assert_int_equal(cfg.max_packet_size, 2 * 1024 * 1024);
    set_ok("max_packet_size", "268435460");
    assert_int_equal(cfg.max_packet_size, 268435460u);
    set_fails("max_packet_size", "0", "max_packet_size", "'0'", "between 20 and 268435460", NULL);
    set_fails("max_packet_size", "268435461", "max_packet_size", NULL);
    set_fails("max_packet_size", "1G", "max_packet_size", NULL);
    set_fails("max_packet_size", "10x", "max_packet_size", "suffix", NULL);
    set_fails("max_packet_size", "k", "max_packet_size", NULL);
    assert_int_equal(cfg.max_packet_size, 268435460u);
}

static void test_message_size_limit_is_at_most_the_remaining_length_max(void **state)
{
    set_ok("message_size_limit", "0");
    assert_int_equal(cfg.message_size_limit, 0);
    set_ok("message_size_limit", "64K");
    assert_int_equal(cfg.message_size_limit, 65536);
    set_fails("message_size_limit", "268435456", "message_size_limit", "268435455", NULL);
}

static void test_max_inflight_messages_zero_means_the_widest_window(void **state)
{
    set_ok("max_inflight_messages", "20");
    assert_int_equal(cfg.max_inflight_messages, 20);
    set_ok("max_inflight_messages", "0");
    assert_int_equal(cfg.max_inflight_messages, 65535);
    set_fails("max_inflight_messages", "65536", "max_inflight_messages", "between 0 and 65535",
              NULL);
}

static void test_queue_limits(void **state)
{
    set_ok("max_queued_messages", "0");
    assert_int_equal(cfg.max_queued_messages, 0);
    set_ok("max_queued_messages", "5000");
    assert_int_equal(cfg.max_queued_messages, 5000);
    set_fails("max_queued_messages", "5e3", "max_queued_messages", NULL);
    set_ok("max_queued_bytes", "1G");
    assert_int_equal(cfg.max_queued_bytes, 1024ull * 1024 * 1024);
    set_ok("max_queued_bytes", "16384");
    assert_int_equal(cfg.max_queued_bytes, 16384);
    set_fails("max_queued_bytes", "99999999999999999999", "max_queued_bytes", NULL);
    set_fails("max_queued_bytes", "18014398509481984G", "max_queued_bytes", NULL);
}

static void test_max_keepalive_refuses_0(void **state)
{
    set_ok("max_keepalive", "60");
    assert_int_equal(cfg.max_keepalive, 60);
    set_fails("max_keepalive", "0", "max_keepalive: '0' is not a number between 1 and 65535", NULL);
    set_fails("max_keepalive", "65536", "max_keepalive", NULL);
    set_fails("max_keepalive", " 60", "max_keepalive", NULL);
}

static void test_connect_timeout_is_in_seconds_and_stored_in_ms(void **state)
{
    set_ok("connect_timeout", "5");
    assert_int_equal(cfg.connect_timeout_ms, 5000);
    set_ok("connect_timeout", "30s");
    assert_int_equal(cfg.connect_timeout_ms, 30000);
    set_ok("connect_timeout", "1h");
    assert_int_equal(cfg.connect_timeout_ms, 3600000);
    set_fails("connect_timeout", "0", "connect_timeout", "between 1 and 3600", "seconds", NULL);
    set_fails("connect_timeout", "1d", "connect_timeout", NULL);
    set_fails("connect_timeout", "5ms", "connect_timeout", NULL);
}

static void test_max_qos_is_0_to_2(void **state)
{
    set_ok("max_qos", "0");
    assert_int_equal(cfg.max_qos, 0);
    set_ok("max_qos", "1");
    assert_int_equal(cfg.max_qos, 1);
    set_fails("max_qos", "3", "max_qos", "'3'", "between 0 and 2", NULL);
}

static void test_topic_alias_limits(void **state)
{
    set_ok("max_topic_alias", "0");
    assert_int_equal(cfg.max_topic_alias, 0);
    set_ok("max_topic_alias", "65535");
    assert_int_equal(cfg.max_topic_alias, 65535);
    set_fails("max_topic_alias", "65536", "max_topic_alias", NULL);
    set_ok("outgoing_topic_aliases", "0");
    assert_int_equal(cfg.max_topic_alias_out, 0);
    set_ok("outgoing_topic_aliases", "200");
    assert_int_equal(cfg.max_topic_alias_out, 200);
    set_fails("outgoing_topic_aliases", "70000", "outgoing_topic_aliases", NULL);
}

static void test_topic_shape_limits(void **state)
{
    set_ok("max_topic_levels", "16");
    assert_int_equal(cfg.max_topic_levels, 16);
    set_fails("max_topic_levels", "1025", "max_topic_levels", NULL);
    set_fails("max_topic_levels", "0", "max_topic_levels", NULL);
    set_ok("max_topic_length", "1024");
    assert_int_equal(cfg.max_topic_length, 1024);
    set_fails("max_topic_length", "0", "max_topic_length", "between 1 and 65535", NULL);
    set_ok("max_subscriptions_per_client", "100");
    assert_int_equal(cfg.max_subscriptions_per_client, 100);
    set_fails("max_subscriptions_per_client", "-5", "max_subscriptions_per_client", NULL);
}

static void test_persistent_client_expiration_uses_mosquitto_units(void **state)
{
    set_ok("persistent_client_expiration", "1h");
    assert_int_equal(cfg.persistent_client_expiration_s, 3600);
    set_ok("persistent_client_expiration", "2d");
    assert_int_equal(cfg.persistent_client_expiration_s, 2 * 86400);
    set_ok("persistent_client_expiration", "1w");
    assert_int_equal(cfg.persistent_client_expiration_s, 7 * 86400);
    set_ok("persistent_client_expiration", "1m");
    assert_int_equal(cfg.persistent_client_expiration_s, 30 * 86400);
    set_ok("persistent_client_expiration", "1y");
    assert_int_equal(cfg.persistent_client_expiration_s, 365 * 86400);
    set_ok("persistent_client_expiration", "0");
    assert_int_equal(cfg.persistent_client_expiration_s, 0);
    set_fails("persistent_client_expiration", "1x", "persistent_client_expiration", "duration",
              NULL);
    set_fails("persistent_client_expiration", "200y", "persistent_client_expiration", NULL);
}

static void test_max_session_expiry_caps_at_uint32(void **state)
{
    set_ok("max_session_expiry", "1d");
    assert_int_equal(cfg.session_expiry_max_s, 86400);
    set_ok("max_session_expiry", "4294967295");
    assert_int_equal(cfg.session_expiry_max_s, 4294967295u);
    set_fails("max_session_expiry", "4294967296", "max_session_expiry", NULL);
}

static void test_response_information_allows_only_client_id_escape(void **state)
{
    set_ok("response_information", "replies/%c/x");
    assert_string_equal(cfg.response_information, "replies/%c/x");
    set_ok("response_information", "100%%/%c");
    set_fails("response_information", "r/%u", "response_information", "%u", NULL);
    set_fails("response_information", "r/%", "response_information", NULL);
    assert_string_equal(cfg.response_information, "100%%/%c");
}

static void test_per_listener_settings_true_is_not_supported(void **state)
{
    set_ok("per_listener_settings", "false");
    set_fails("per_listener_settings", "true", "per_listener_settings", "not supported", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_defaults_match_the_documented_values),
        T(test_config_free_leaves_a_zeroed_struct_and_is_repeatable),
        T(test_unknown_key_is_an_error_naming_it),
        T(test_unimplemented_mosquitto_keys_say_not_supported),
        T(test_harmless_logging_keys_are_accepted),
        T(test_missing_value_is_an_error),
        T(test_booleans_accept_true_false_and_mosquitto_spellings),
        T(test_workers_range_is_0_to_1024),
        T(test_sys_interval_and_io_linger_defaults_and_ranges),
        T(test_max_output_backlog_default_and_range),
        T(test_log_level_accepts_names_and_numbers),
        T(test_allow_anonymous_before_any_listener_is_global),
        T(test_allow_anonymous_after_a_listener_applies_to_it),
        T(test_password_and_acl_files_are_stored),
        T(test_max_connections_accepts_mosquitto_minus_one_as_unlimited),
        T(test_max_packet_size_takes_size_suffixes_and_refuses_0),
        T(test_message_size_limit_is_at_most_the_remaining_length_max),
        T(test_max_inflight_messages_zero_means_the_widest_window),
        T(test_queue_limits),
        T(test_max_keepalive_refuses_0),
        T(test_connect_timeout_is_in_seconds_and_stored_in_ms),
        T(test_max_qos_is_0_to_2),
        T(test_topic_alias_limits),
        T(test_topic_shape_limits),
        T(test_persistent_client_expiration_uses_mosquitto_units),
        T(test_max_session_expiry_caps_at_uint32),
        T(test_response_information_allows_only_client_id_escape),
        T(test_per_listener_settings_true_is_not_supported),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
