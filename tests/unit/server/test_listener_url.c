/*
 * Tests of listener URLs: every scheme, default ports, IPv6 brackets, websocket paths, and the
 * malformed forms that must be refused with a reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "server/config.h"
#include "server/listener_url.h"

static char err[256];

static struct mq_listener_config parse_ok(const char *url)
{
    struct mq_listener_config l;
    if (listener_url_parse(url, &l, err, sizeof err) != 0)
        fail_msg("%s: %s", url, err);
    return l;
}

static void parse_fails(const char *url, const char *want)
{
    struct mq_listener_config l;
    assert_int_equal(listener_url_parse(url, &l, err, sizeof err), -1);
    if (strstr(err, want) == NULL)
        fail_msg("error for '%s' is '%s', lacks '%s'", url, err, want);
    assert_null(l.host);
    assert_null(l.path);
}

static void test_each_scheme_selects_its_transport_and_default_port(void **state)
{
    static const struct {
        const char *url;
        enum mq_transport_kind transport;
        uint16_t port;
    } cases[] = {
        {"mqtt://example.com", MQ_TRANSPORT_TCP, 1883},
        {"mqtts://example.com", MQ_TRANSPORT_TLS, 8883},
        {"ws://example.com", MQ_TRANSPORT_WS, 8080},
        {"wss://example.com", MQ_TRANSPORT_WSS, 8443},
        {"quic://example.com", MQ_TRANSPORT_QUIC, 14567},
        {"MQTT://example.com", MQ_TRANSPORT_TCP, 1883},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct mq_listener_config l = parse_ok(cases[i].url);
        assert_int_equal(l.transport, cases[i].transport);
        assert_int_equal(l.port, cases[i].port);
        assert_string_equal(l.host, "example.com");
        assert_int_equal(l.allow_anonymous, -1);
        config_listener_free(&l);
    }
}

static void test_explicit_host_and_port(void **state)
{
    struct mq_listener_config l = parse_ok("mqtt://127.0.0.1:11883");
    assert_string_equal(l.host, "127.0.0.1");
    assert_int_equal(l.port, 11883);
    config_listener_free(&l);
    l = parse_ok("mqtt://0.0.0.0:65535/");
    assert_string_equal(l.host, "0.0.0.0");
    assert_int_equal(l.port, 65535);
    config_listener_free(&l);
}

static void test_empty_host_means_all_addresses(void **state)
{
    struct mq_listener_config l = parse_ok("mqtt://:1884");
    assert_null(l.host);
    assert_int_equal(l.port, 1884);
    config_listener_free(&l);
    l = parse_ok("mqtts://");
    assert_null(l.host);
    assert_int_equal(l.port, 8883);
    config_listener_free(&l);
}

static void test_ipv6_address_in_brackets(void **state)
{
    struct mq_listener_config l = parse_ok("mqtt://[::1]:1883");
    assert_string_equal(l.host, "::1");
    assert_int_equal(l.port, 1883);
    config_listener_free(&l);
    l = parse_ok("wss://[::]/ws");
    assert_string_equal(l.host, "::");
    assert_int_equal(l.port, 8443);
    assert_string_equal(l.path, "/ws");
    config_listener_free(&l);
    l = parse_ok("quic://[fe80::1%eth0]:9000");
    assert_string_equal(l.host, "fe80::1%eth0");
    config_listener_free(&l);
}

static void test_ipv6_without_brackets_is_refused(void **state)
{
    parse_fails("mqtt://::1:1883", "brackets");
    parse_fails("mqtt://[::1", "']'");
    parse_fails("mqtt://[]:1883", "IPv6");
    parse_fails("mqtt://[example.com]:1883", "IPv6");
    parse_fails("mqtt://[::1]1883", "':PORT'");
}

static void test_websocket_path_is_kept_and_defaults_later(void **state)
{
    struct mq_listener_config l = parse_ok("ws://localhost:9001/custom/path");
    assert_string_equal(l.path, "/custom/path");
    config_listener_free(&l);
    l = parse_ok("ws://localhost:9001");
    assert_null(l.path);
    config_listener_free(&l);
}

static void test_path_on_a_non_websocket_listener_is_refused(void **state)
{
    parse_fails("mqtt://localhost:1883/mqtt", "only ws:// and wss://");
    parse_fails("quic://localhost/x", "only ws://");
}

static void test_bad_scheme_is_refused(void **state)
{
    parse_fails("http://localhost:1883", "unknown scheme 'http'");
    parse_fails("tcp://localhost:1883", "unknown scheme 'tcp'");
    parse_fails("localhost:1883", "SCHEME://");
    parse_fails("", "SCHEME://");
    parse_fails("://localhost", "unknown scheme ''");
}

static void test_bad_port_is_refused(void **state)
{
    parse_fails("mqtt://localhost:0", "between 1 and 65535");
    parse_fails("mqtt://localhost:65536", "between 1 and 65535");
    parse_fails("mqtt://localhost:99999999999", "between 1 and 65535");
    parse_fails("mqtt://localhost:", "between 1 and 65535");
    parse_fails("mqtt://localhost:-1", "between 1 and 65535");
    parse_fails("mqtt://localhost:18a3", "between 1 and 65535");
    parse_fails("mqtt://[::1]:", "between 1 and 65535");
}

static void test_user_info_query_fragment_and_odd_characters_are_refused(void **state)
{
    parse_fails("mqtt://user:pw@localhost:1883", "user name");
    parse_fails("ws://localhost:8080/mqtt?x=1", "query");
    parse_fails("ws://localhost:8080/mqtt#top", "fragment");
    parse_fails("mqtt://local host:1883", "bad character");
    parse_fails("ws://localhost:8080/a b", "bad character in path");
}

static void test_overlong_host_is_refused(void **state)
{
    char url[400] = "mqtt://";
    memset(url + 7, 'a', 300);
    url[307] = '\0';
    parse_fails(url, "host longer than");
}

static void test_format_round_trips_through_parse(void **state)
{
    static const char *const urls[] = {
        "mqtt://127.0.0.1:1883",    "mqtts://[::1]:8883", "ws://:8080/mqtt",
        "wss://example.com:443/ws", "quic://[::]:14567",
    };
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        struct mq_listener_config l = parse_ok(urls[i]);
        char buf[128];
        assert_int_equal(listener_url_format(&l, buf, sizeof buf), 0);
        assert_string_equal(buf, urls[i]);
        config_listener_free(&l);
    }
}

static void test_format_reports_a_too_small_buffer(void **state)
{
    struct mq_listener_config l = parse_ok("mqtt://127.0.0.1:1883");
    char buf[8];
    assert_int_equal(listener_url_format(&l, buf, sizeof buf), -1);
    config_listener_free(&l);
}

static void test_add_listener_url_appends_with_default_websocket_path(void **state)
{
    struct mq_config cfg;
    assert_int_equal(config_init(&cfg), 0);
    assert_int_equal(config_add_listener_url(&cfg, "mqtt://127.0.0.1:1883", err, sizeof err), 0);
    assert_int_equal(config_add_listener_url(&cfg, "ws://[::1]", err, sizeof err), 0);
    assert_int_equal(config_add_listener_url(&cfg, "smtp://x", err, sizeof err), -1);
    assert_int_equal(cfg.listener_count, 2);
    assert_string_equal(cfg.listeners[1].host, "::1");
    assert_int_equal(cfg.listeners[1].port, 8080);
    assert_string_equal(cfg.listeners[1].path, "/mqtt");
    assert_int_equal(cfg.current_listener, 1);
    config_free(&cfg);
}

static void test_listener_count_is_bounded(void **state)
{
    struct mq_config cfg;
    assert_int_equal(config_init(&cfg), 0);
    for (int i = 0; i < MQ_CONFIG_MAX_LISTENERS; i++)
        assert_int_equal(config_add_listener_url(&cfg, "mqtt://:1883", err, sizeof err), 0);
    assert_int_equal(config_add_listener_url(&cfg, "mqtt://:1883", err, sizeof err), -1);
    assert_non_null(strstr(err, "too many listeners"));
    config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_scheme_selects_its_transport_and_default_port),
        cmocka_unit_test(test_explicit_host_and_port),
        cmocka_unit_test(test_empty_host_means_all_addresses),
        cmocka_unit_test(test_ipv6_address_in_brackets),
        cmocka_unit_test(test_ipv6_without_brackets_is_refused),
        cmocka_unit_test(test_websocket_path_is_kept_and_defaults_later),
        cmocka_unit_test(test_path_on_a_non_websocket_listener_is_refused),
        cmocka_unit_test(test_bad_scheme_is_refused),
        cmocka_unit_test(test_bad_port_is_refused),
        cmocka_unit_test(test_user_info_query_fragment_and_odd_characters_are_refused),
        cmocka_unit_test(test_overlong_host_is_refused),
        cmocka_unit_test(test_format_round_trips_through_parse),
        cmocka_unit_test(test_format_reports_a_too_small_buffer),
        cmocka_unit_test(test_add_listener_url_appends_with_default_websocket_path),
        cmocka_unit_test(test_listener_count_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
