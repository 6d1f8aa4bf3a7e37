/*
 * Tests of the public API (include/mqttd.h) as an embedder uses it: configuration errors carry
 * a message naming what is wrong, registration and publishing refuse invalid topics, and an app
 * runs on its own thread until another thread (or a signal) stops it. Only the run tests open
 * sockets, on 127.0.0.1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mqttd.h"

static char err[512];

static int app_setup(void **state)
{
    mqttd_app *app = mqttd_app_new();
    assert_non_null(app);
    /* Only errors on stderr: the run tests would otherwise log every start and stop. */
    assert_int_equal(mqttd_app_set(app, "log_level", "error", err, sizeof err), 0);
    err[0] = '\0';
    *state = app;
    return 0;
}

static int app_teardown(void **state)
{
    mqttd_app_free(*state);
    return 0;
}

static void assert_err_has(const char *want)
{
    if (strstr(err, want) == NULL)
        fail_msg("error '%s' lacks '%s'", err, want);
}

/* --- configuration --- */

static void test_set_known_key_with_valid_value_succeeds(void **state)
{
    assert_int_equal(mqttd_app_set(*state, "max_keepalive", "60", err, sizeof err), 0);
    assert_int_equal(mqttd_app_set(*state, "max_packet_size", "256k", err, sizeof err), 0);
    assert_int_equal(mqttd_app_set(*state, "retain_available", "false", err, sizeof err), 0);
}

static void test_set_unknown_key_fails_naming_the_key(void **state)
{
    assert_int_equal(mqttd_app_set(*state, "no_such_key", "1", err, sizeof err), -1);
    assert_err_has("unknown key 'no_such_key'");
}

static void test_set_value_out_of_range_fails_naming_key_and_value(void **state)
{
    assert_int_equal(mqttd_app_set(*state, "max_keepalive", "0", err, sizeof err), -1);
    assert_err_has("max_keepalive");
    assert_err_has("'0'");
}

static void test_set_value_of_wrong_type_fails(void **state)
{
    assert_int_equal(mqttd_app_set(*state, "retain_available", "maybe", err, sizeof err), -1);
    assert_err_has("retain_available");
    assert_err_has("not a boolean");
}

static void test_set_mosquitto_key_not_implemented_is_refused_not_ignored(void **state)
{
    assert_int_equal(mqttd_app_set(*state, "autosave_interval", "60", err, sizeof err), -1);
    assert_err_has("not supported by mqttd (yet)");
}

static void test_load_config_missing_file_fails_naming_it(void **state)
{
    assert_int_equal(mqttd_app_load_config(*state, "/nonexistent/mqttd.conf", err, sizeof err), -1);
    assert_err_has("/nonexistent/mqttd.conf");
    assert_err_has("cannot open");
}

static void test_listen_valid_urls_succeed(void **state)
{
    assert_int_equal(mqttd_app_listen(*state, "mqtt://127.0.0.1:1883", err, sizeof err), 0);
    assert_int_equal(mqttd_app_listen(*state, "mqtt://[::1]:1884", err, sizeof err), 0);
}

static void test_listen_unknown_scheme_fails(void **state)
{
    assert_int_equal(mqttd_app_listen(*state, "http://127.0.0.1:80", err, sizeof err), -1);
    assert_err_has("unknown scheme 'http'");
}

static void test_listen_bad_urls_fail_with_a_reason(void **state)
{
    static const struct {
        const char *url, *reason;
    } cases[] = {
        {"127.0.0.1:1883", "is not a listener URL"},
        {"mqtt://127.0.0.1:0", "port must be a number between 1 and 65535"},
        {"mqtt://127.0.0.1:65536", "port must be a number between 1 and 65535"},
        {"mqtt://[::1:1883", "'[' without ']'"},
        {"mqtt://user:pw@127.0.0.1:1883", "no user name or password"},
        {"mqtt://127.0.0.1:1883/path", "only ws:// and wss:// listeners have a path"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err[0] = '\0';
        assert_int_equal(mqttd_app_listen(*state, cases[i].url, err, sizeof err), -1);
        assert_err_has(cases[i].url);
        assert_err_has(cases[i].reason);
    }
}

/* --- handlers --- */

static int accept_all(void *user, const mqttd_client *client)
{
    return 0;
}

static enum mqttd_publish_verdict pass(void *user, const mqttd_client *from, mqttd_message *m)
{
    return MQTTD_PUBLISH_CONTINUE;
}

static void no_reply(void *user, const mqttd_client *client, const char *filter,
                     mqttd_subscribe_reply *reply)
{
}

static void ignore_disconnect(void *user, const mqttd_client *client, int reason_code) {}

static void test_handlers_with_valid_filters_register(void **state)
{
    assert_int_equal(mqttd_on_connect(*state, accept_all, NULL), 0);
    assert_int_equal(mqttd_on_publish(*state, "sensors/+/celsius", pass, NULL), 0);
    assert_int_equal(mqttd_on_publish(*state, "#", pass, NULL), 0);
    assert_int_equal(mqttd_on_subscribe(*state, "greetings/#", no_reply, NULL), 0);
    assert_int_equal(mqttd_on_disconnect(*state, ignore_disconnect, NULL), 0);
}

static void test_handler_with_invalid_filter_is_refused(void **state)
{
    /* [MQTT-4.7.1-1] '#' last and alone in its level; [MQTT-4.7.1-2] '+' alone in its level;
     * [MQTT-4.7.3-1] a filter is at least one character. */
    static const char *invalid[] = {"a/#/b", "a#", "a+/b", "", NULL};
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        assert_int_equal(mqttd_on_publish(*state, invalid[i], pass, NULL), -1);
        assert_int_equal(mqttd_on_subscribe(*state, invalid[i], no_reply, NULL), -1);
    }
}

static void test_handler_without_function_is_refused(void **state)
{
    assert_int_equal(mqttd_on_connect(*state, NULL, NULL), -1);
    assert_int_equal(mqttd_on_publish(*state, "a", NULL, NULL), -1);
    assert_int_equal(mqttd_on_subscribe(*state, "a", NULL, NULL), -1);
    assert_int_equal(mqttd_on_disconnect(*state, NULL, NULL), -1);
}

/* --- publishing --- */

static void test_publish_with_invalid_topic_or_qos_returns_minus_1(void **state)
{
    /* [MQTT-3.3.2-2] no wildcards in a topic name; [MQTT-4.7.3-1] at least one character. */
    assert_int_equal(mqttd_publish(*state, "a/+", "x", 1, 0, false), -1);
    assert_int_equal(mqttd_publish(*state, "a/#", "x", 1, 0, false), -1);
    assert_int_equal(mqttd_publish(*state, "", "x", 1, 0, false), -1);
    assert_int_equal(mqttd_publish(*state, NULL, "x", 1, 0, false), -1);
    assert_int_equal(mqttd_publish(*state, "a", "x", 1, 3, false), -1);
    assert_int_equal(mqttd_publish(*state, "a", "x", 1, -1, false), -1);
    assert_int_equal(mqttd_publish_to(*state, "someone", "a/+", "x", 1, 0), -1);
}

static void test_publish_to_unknown_client_returns_minus_2(void **state)
{
    assert_int_equal(mqttd_publish_to(*state, "nobody-by-this-name", "a/b", "x", 1, 1), -2);
}

static void test_publish_to_without_client_id_returns_minus_2(void **state)
{
    assert_int_equal(mqttd_publish_to(*state, NULL, "a/b", "x", 1, 0), -2);
}

static void test_run_refuses_an_acl_file_it_cannot_read(void **state)
{
    char err[256] = "";
    assert_int_equal(mqttd_app_set(*state, "acl_file", "/nonexistent/mqttd.acl", err, sizeof err),
                     0);
    assert_int_equal(mqttd_app_run(*state, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/mqttd.acl"));
}

static void test_stats_of_a_new_app_are_zero(void **state)
{
    struct mqttd_stats s;
    memset(&s, 0xff, sizeof s);
    mqttd_app_stats(*state, &s);
    assert_int_equal(s.connections, 0);
    assert_int_equal(s.sessions, 0);
    assert_int_equal(s.subscriptions, 0);
    assert_int_equal(s.retained_messages, 0);
    assert_int_equal(s.messages_received, 0);
    assert_int_equal(s.messages_sent, 0);
}

static void test_version_is_a_nonempty_dotted_number(void **state)
{
    const char *v = mqttd_version();
    assert_non_null(v);
    assert_true(v[0] >= '0' && v[0] <= '9');
    assert_non_null(strchr(v, '.'));
}

/* --- running --- */

/* A TCP port of 127.0.0.1 that was free a moment ago. */
static unsigned free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static int connect_to(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool port_accepts(unsigned port)
{
    int fd = connect_to(port);
    if (fd >= 0)
        close(fd);
    return fd >= 0;
}

/* True once an MQTT 5 CONNECT gets a CONNACK: the listeners are open before the workers and the
 * signal watchers exist, so an accepted TCP connection alone does not prove the app runs. */
static bool port_serves_mqtt(unsigned port)
{
    static const unsigned char connect_v5[] = {0x10, 13,   0, 4,  'M', 'Q', 'T', 'T',
                                               5,    0x02, 0, 60, 0,   0,   0};
    int fd = connect_to(port);
    if (fd < 0)
        return false;
    unsigned char first = 0;
    bool ok = write(fd, connect_v5, sizeof connect_v5) == (ssize_t)sizeof connect_v5 &&
              read(fd, &first, 1) == 1 && first == 0x20;
    close(fd);
    return ok;
}

static void wait_until_serving(unsigned port)
{
    for (int i = 0; i < 500; i++) {
        if (port_serves_mqtt(port))
            return;
        nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
    }
    fail_msg("no CONNACK from port %u after 5 s", port);
}

static void listen_on(mqttd_app *app, unsigned port)
{
    char url[64];
    snprintf(url, sizeof url, "mqtt://127.0.0.1:%u", port);
    assert_int_equal(mqttd_app_listen(app, url, err, sizeof err), 0);
    assert_int_equal(mqttd_app_set(app, "workers", "2", err, sizeof err), 0);
}

struct run {
    mqttd_app *app;
    int rc;
    char err[256];
};

static void *run_thread(void *arg)
{
    struct run *r = arg;
    r->rc = mqttd_app_run(r->app, r->err, sizeof r->err);
    return NULL;
}

static void test_run_on_a_port_in_use_fails_naming_the_port(void **state)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 1), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    listen_on(*state, ntohs(a.sin_port));

    assert_true(mqttd_app_run(*state, err, sizeof err) < 0);
    char where[64];
    snprintf(where, sizeof where, "cannot listen on 127.0.0.1:%u", ntohs(a.sin_port));
    assert_err_has(where);
    assert_err_has("in use");
    close(fd);
}

static void test_run_with_tls_listener_without_certificate_fails(void **state)
{
    assert_int_equal(mqttd_app_listen(*state, "mqtts://127.0.0.1:8883", err, sizeof err), 0);
    assert_true(mqttd_app_run(*state, err, sizeof err) < 0);
    assert_err_has("certfile");
}

static void test_key_set_after_listen_applies_to_that_listener(void **state)
{
    assert_int_equal(mqttd_app_listen(*state, "mqtts://127.0.0.1:8883", err, sizeof err), 0);
    assert_int_equal(mqttd_app_set(*state, "certfile", "/nonexistent/server.pem", err, sizeof err),
                     0);
    assert_int_equal(mqttd_app_set(*state, "keyfile", "/nonexistent/server.key", err, sizeof err),
                     0);
    assert_true(mqttd_app_run(*state, err, sizeof err) < 0);
    assert_err_has("/nonexistent/server.pem");
}

static void test_run_refuses_a_password_file_it_cannot_read(void **state)
{
    assert_int_equal(mqttd_app_set(*state, "password_file", "/nonexistent/passwd", err, sizeof err),
                     0);
    assert_true(mqttd_app_run(*state, err, sizeof err) < 0);
    assert_err_has("/nonexistent/passwd");
}

static void test_run_until_stopped_from_another_thread_returns_0(void **state)
{
    unsigned port = free_port();
    listen_on(*state, port);
    struct run r = {.app = *state, .rc = -100};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, run_thread, &r), 0);
    wait_until_serving(port);

    /* Safe from any thread while the app runs. */
    assert_int_equal(mqttd_publish(*state, "state/door", "open", 4, 1, true), 0);
    struct mqttd_stats s;
    mqttd_app_stats(*state, &s);
    assert_int_equal(s.retained_messages, 1);

    mqttd_app_stop(*state, 100);
    assert_int_equal(pthread_join(t, NULL), 0);
    if (r.rc != 0)
        fail_msg("mqttd_app_run returned %d: %s", r.rc, r.err);
    assert_false(port_accepts(port));
}

static void test_stop_before_run_makes_run_return_at_once(void **state)
{
    listen_on(*state, free_port());
    mqttd_app_stop(*state, 0);
    assert_int_equal(mqttd_app_run(*state, err, sizeof err), 0);
}

static void test_sigterm_stops_an_app_that_asked_for_signals(void **state)
{
    unsigned port = free_port();
    listen_on(*state, port);
    mqttd_app_stop_on_signals(*state);
    struct run r = {.app = *state, .rc = -100};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, run_thread, &r), 0);
    wait_until_serving(port);
    assert_int_equal(kill(getpid(), SIGTERM), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    if (r.rc != 0)
        fail_msg("mqttd_app_run returned %d: %s", r.rc, r.err);
}

#define APP_TEST(f) cmocka_unit_test_setup_teardown(f, app_setup, app_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        APP_TEST(test_set_known_key_with_valid_value_succeeds),
        APP_TEST(test_set_unknown_key_fails_naming_the_key),
        APP_TEST(test_set_value_out_of_range_fails_naming_key_and_value),
        APP_TEST(test_set_value_of_wrong_type_fails),
        APP_TEST(test_set_mosquitto_key_not_implemented_is_refused_not_ignored),
        APP_TEST(test_load_config_missing_file_fails_naming_it),
        APP_TEST(test_listen_valid_urls_succeed),
        APP_TEST(test_listen_unknown_scheme_fails),
        APP_TEST(test_listen_bad_urls_fail_with_a_reason),
        APP_TEST(test_handlers_with_valid_filters_register),
        APP_TEST(test_handler_with_invalid_filter_is_refused),
        APP_TEST(test_handler_without_function_is_refused),
        APP_TEST(test_publish_with_invalid_topic_or_qos_returns_minus_1),
        APP_TEST(test_publish_to_unknown_client_returns_minus_2),
        APP_TEST(test_publish_to_without_client_id_returns_minus_2),
        APP_TEST(test_run_refuses_an_acl_file_it_cannot_read),
        APP_TEST(test_stats_of_a_new_app_are_zero),
        APP_TEST(test_version_is_a_nonempty_dotted_number),
        APP_TEST(test_run_on_a_port_in_use_fails_naming_the_port),
        APP_TEST(test_run_with_tls_listener_without_certificate_fails),
        APP_TEST(test_key_set_after_listen_applies_to_that_listener),
        APP_TEST(test_run_refuses_a_password_file_it_cannot_read),
        APP_TEST(test_run_until_stopped_from_another_thread_returns_0),
        APP_TEST(test_stop_before_run_makes_run_return_at_once),
        APP_TEST(test_sigterm_stops_an_app_that_asked_for_signals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
