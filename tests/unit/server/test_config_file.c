/*
 * Tests of config_load_file: the line format, FILE:LINE errors, listener blocks with their
 * per-listener keys, Mosquitto's default listener, include_dir, and the shipped example file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "server/config.h"

static struct mq_config cfg;
static char err[512];
static char dir[64];

static int setup(void **state)
{
    assert_int_equal(config_init(&cfg), 0);
    strcpy(dir, "/tmp/mqttd-config-XXXXXX");
    assert_non_null(mkdtemp(dir));
    err[0] = '\0';
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];
    config_free(&cfg);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Writes `text` (len bytes) to a file under the test's directory; returns its path (static). */
static const char *write_bytes(const char *name, const char *text, size_t len)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    return path;
}

static const char *write_file(const char *name, const char *text)
{
    return write_bytes(name, text, strlen(text));
}

static void load_ok(const char *path)
{
    if (config_load_file(&cfg, path, err, sizeof err) != 0)
        fail_msg("%s", err);
}

static void load_fails(const char *path, const char *want)
{
    assert_int_equal(config_load_file(&cfg, path, err, sizeof err), -1);
    if (strstr(err, want) == NULL)
        fail_msg("error '%s' lacks '%s'", err, want);
}

static void test_comments_blank_lines_and_surrounding_blanks_are_skipped(void **state)
{
    load_ok(write_file("a.conf", "# a comment\n"
                                 "\n"
                                 "   \t\n"
                                 "  # indented comment\n"
                                 "max_qos 1   \n"
                                 "\tmax_keepalive\t  120\r\n"
                                 "response_information  has #hash and spaces  \n"
                                 "workers 3"));
    assert_int_equal(cfg.max_qos, 1);
    assert_int_equal(cfg.max_keepalive, 120);
    assert_string_equal(cfg.response_information, "has #hash and spaces");
    assert_int_equal(cfg.workers, 3);
}

static void test_error_names_file_and_line(void **state)
{
    char want[400]; /* a path of up to 300 bytes and the message */
    const char *path = write_file("b.conf", "# header\n\nmax_qos 1\nmax_qos 7\nworkers 2\n");
    snprintf(want, sizeof want, "%s:4: max_qos: '7' is not a number between 0 and 2", path);
    load_fails(path, want);
    assert_int_equal(cfg.max_qos, 1);
    assert_int_equal(cfg.workers, 0);
}

static void test_unknown_key_in_file_names_file_line_and_key(void **state)
{
    char want[300];
    const char *path = write_file("c.conf", "max_qos 1\nmax_qso 2\n");
    snprintf(want, sizeof want, "%s:2: unknown key 'max_qso'", path);
    load_fails(path, want);
}

static void test_key_without_value_is_an_error(void **state)
{
    load_fails(write_file("d.conf", "password_file\n"), ":1: password_file: missing value");
}

static void test_missing_file_is_an_error_naming_it(void **state)
{
    load_fails("/nonexistent/mqttd.conf", "/nonexistent/mqttd.conf: cannot open");
}

static void test_nul_byte_in_a_line_is_an_error(void **state)
{
    load_fails(write_bytes("e.conf", "max_qos 1\nmax_\0qos 1\n", 22), ":2: line contains a NUL");
}

static void test_listener_block_gathers_its_per_listener_keys(void **state)
{
    load_ok(write_file("f.conf", "allow_anonymous false\n"
                                 "listener 1883\n"
                                 "listener 8883 127.0.0.1\n"
                                 "certfile /etc/mqttd/cert.pem\n"
                                 "keyfile /etc/mqttd/key.pem\n"
                                 "cafile /etc/mqttd/ca.pem\n"
                                 "capath /etc/ssl/certs\n"
                                 "require_certificate true\n"
                                 "use_identity_as_username true\n"
                                 "tls_version tlsv1.3\n"
                                 "ciphers SECURE256\n"
                                 "allow_anonymous true\n"
                                 "listener 9001 ::1\n"
                                 "protocol websockets\n"));
    assert_false(cfg.allow_anonymous);
    assert_int_equal(cfg.listener_count, 3);

    struct mq_listener_config *plain = &cfg.listeners[0];
    assert_null(plain->host);
    assert_int_equal(plain->port, 1883);
    assert_int_equal(plain->transport, MQ_TRANSPORT_TCP);
    assert_int_equal(plain->allow_anonymous, -1);
    assert_null(plain->certfile);
    assert_string_equal(plain->path, "/mqtt");

    struct mq_listener_config *tls = &cfg.listeners[1];
    assert_string_equal(tls->host, "127.0.0.1");
    assert_int_equal(tls->port, 8883);
    assert_int_equal(tls->transport, MQ_TRANSPORT_TLS);
    assert_string_equal(tls->certfile, "/etc/mqttd/cert.pem");
    assert_string_equal(tls->keyfile, "/etc/mqttd/key.pem");
    assert_string_equal(tls->cafile, "/etc/mqttd/ca.pem");
    assert_string_equal(tls->capath, "/etc/ssl/certs");
    assert_true(tls->require_certificate);
    assert_true(tls->use_identity_as_username);
    assert_string_equal(tls->tls_version, "tlsv1.3");
    assert_string_equal(tls->ciphers, "SECURE256");
    assert_int_equal(tls->allow_anonymous, 1);

    struct mq_listener_config *ws = &cfg.listeners[2];
    assert_string_equal(ws->host, "::1");
    assert_int_equal(ws->transport, MQ_TRANSPORT_WS);
    assert_string_equal(ws->path, "/mqtt");
}

static void test_certfile_makes_websockets_secure_in_either_order(void **state)
{
    load_ok(write_file("g.conf", "listener 8443\n"
                                 "certfile c.pem\n"
                                 "protocol websockets\n"
                                 "listener 8444\n"
                                 "protocol websockets\n"
                                 "certfile c.pem\n"
                                 "listener 14567\n"
                                 "protocol quic\n"
                                 "listener 8883 [::]\n"
                                 "protocol mqtt\n"));
    assert_int_equal(cfg.listeners[0].transport, MQ_TRANSPORT_WSS);
    assert_int_equal(cfg.listeners[1].transport, MQ_TRANSPORT_WSS);
    assert_int_equal(cfg.listeners[2].transport, MQ_TRANSPORT_QUIC);
    assert_int_equal(cfg.listeners[3].transport, MQ_TRANSPORT_TCP);
    assert_string_equal(cfg.listeners[3].host, "::");
}

static void test_bad_listener_lines_are_refused(void **state)
{
    load_fails(write_file("h1.conf", "listener abc\n"), ":1: listener: 'abc' is not a port number");
    load_fails(write_file("h2.conf", "listener 0\n"), "between 1 and 65535");
    load_fails(write_file("h3.conf", "listener 70000\n"), "between 1 and 65535");
    load_fails(write_file("h4.conf", "listener 1883 a b\n"), "PORT [ADDRESS]");
    load_fails(write_file("h5.conf", "listener 1883\nprotocol http\n"),
               ":2: protocol: 'http' is not one of mqtt, websockets, quic");
    load_fails(write_file("h6.conf", "listener 8883\ntls_version sslv3\n"),
               ":2: tls_version: 'sslv3'");
    load_fails(write_file("h7.conf", "listener 8883\nrequire_certificate sure\n"),
               "require_certificate: 'sure' is not a boolean");
}

static void test_port_and_bind_address_make_mosquittos_default_listener(void **state)
{
    load_ok(write_file("i.conf", "bind_address 127.0.0.1\n"
                                 "port 1884\n"
                                 "listener 9001\n"
                                 "protocol websockets\n"));
    assert_int_equal(cfg.listener_count, 2);
    assert_string_equal(cfg.listeners[0].host, "127.0.0.1");
    assert_int_equal(cfg.listeners[0].port, 1884);
    assert_int_equal(cfg.listeners[0].transport, MQ_TRANSPORT_TCP);
    assert_int_equal(cfg.listeners[1].transport, MQ_TRANSPORT_WS);
}

static void test_per_listener_keys_before_any_listener_go_to_the_default_listener(void **state)
{
    load_ok(write_file("j.conf", "certfile server.pem\n"
                                 "keyfile server.key\n"
                                 "listener 1883\n"
                                 "port 8883\n"
                                 "protocol mqtt\n"));
    assert_int_equal(cfg.listener_count, 2);
    struct mq_listener_config *def = &cfg.listeners[0];
    assert_int_equal(def->port, 8883);
    assert_int_equal(def->transport, MQ_TRANSPORT_TLS);
    assert_string_equal(def->keyfile, "server.key");
    /* `port` after a listener block still names the default listener, not the block. */
    assert_int_equal(cfg.listeners[1].port, 1883);
    assert_int_equal(cfg.listeners[1].transport, MQ_TRANSPORT_TCP);
}

static void test_listen_key_takes_a_url(void **state)
{
    load_ok(write_file("k.conf", "listen wss://[::1]:9443/ws\ncafile ca.pem\n"));
    assert_int_equal(cfg.listener_count, 1);
    assert_int_equal(cfg.listeners[0].transport, MQ_TRANSPORT_WSS);
    assert_string_equal(cfg.listeners[0].path, "/ws");
    assert_string_equal(cfg.listeners[0].cafile, "ca.pem");
    load_fails(write_file("k2.conf", "listen tcp://x\n"), ":1: 'tcp://x': unknown scheme");
}

static void test_no_listener_lines_leave_the_list_empty(void **state)
{
    load_ok(write_file("l.conf", "max_qos 2\n"));
    assert_int_equal(cfg.listener_count, 0);
}

static void test_include_dir_loads_conf_files_in_sorted_order(void **state)
{
    char sub[128], line[256];
    snprintf(sub, sizeof sub, "%s/conf.d", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    write_file("conf.d/b.conf", "listener 1002\nmax_qos 1\n");
    write_file("conf.d/A.conf", "listener 1001\nmax_qos 0\n");
    write_file("conf.d/c.conf", "listener 1003\n");
    write_file("conf.d/skipped.txt", "listener 9999\n");
    write_file("conf.d/.hidden.conf", "listener 9998\n");
    snprintf(line, sizeof line, "workers 2\ninclude_dir %s\nmax_keepalive 30\n", sub);
    load_ok(write_file("main.conf", line));
    assert_int_equal(cfg.listener_count, 3);
    assert_int_equal(cfg.listeners[0].port, 1001);
    assert_int_equal(cfg.listeners[1].port, 1002);
    assert_int_equal(cfg.listeners[2].port, 1003);
    assert_int_equal(cfg.max_qos, 1);
    assert_int_equal(cfg.workers, 2);
    assert_int_equal(cfg.max_keepalive, 30);
}

static void test_error_in_an_included_file_names_that_file(void **state)
{
    char sub[128], line[256], want[200];
    snprintf(sub, sizeof sub, "%s/inc", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    write_file("inc/x.conf", "max_qos 1\n\nbogus 1\n");
    snprintf(line, sizeof line, "workers 2\ninclude_dir %s\n", sub);
    load_fails(write_file("main.conf", line), "/inc/x.conf:3: unknown key 'bogus'");
    snprintf(want, sizeof want, "%s/main.conf:", dir);
    assert_null(strstr(err, want));
}

static void test_include_dir_that_cannot_be_opened_is_an_error(void **state)
{
    load_fails(write_file("m.conf", "\ninclude_dir /nonexistent/conf.d\n"),
               ":2: include_dir: cannot open '/nonexistent/conf.d'");
}

static void test_include_dir_including_itself_stops(void **state)
{
    char line[256];
    snprintf(line, sizeof line, "include_dir %s\n", dir);
    write_file("self.conf", line);
    load_fails(write_file("main.conf", line), "nested more than");
}

static void test_the_example_file_loads_and_keeps_the_defaults(void **state)
{
    char path[1024];
    const char *marker = strstr(__FILE__, "tests/unit/server/");
    assert_non_null(marker);
    snprintf(path, sizeof path, "%.*sconf/mqttd.conf", (int)(marker - __FILE__), __FILE__);
    load_ok(path);

    struct mq_config defaults;
    assert_int_equal(config_init(&defaults), 0);
    assert_int_equal(cfg.listener_count, 0);
    assert_int_equal(cfg.workers, defaults.workers);
    assert_int_equal(cfg.log_level, defaults.log_level);
    assert_int_equal(cfg.allow_anonymous, defaults.allow_anonymous);
    assert_int_equal(cfg.max_packet_size, defaults.max_packet_size);
    assert_int_equal(cfg.max_inflight_messages, defaults.max_inflight_messages);
    assert_int_equal(cfg.max_queued_messages, defaults.max_queued_messages);
    assert_int_equal(cfg.max_keepalive, defaults.max_keepalive);
    assert_int_equal(cfg.connect_timeout_ms, defaults.connect_timeout_ms);
    assert_int_equal(cfg.max_topic_alias, defaults.max_topic_alias);
    assert_int_equal(cfg.max_topic_alias_out, defaults.max_topic_alias_out);
    assert_int_equal(cfg.max_topic_length, defaults.max_topic_length);
    assert_string_equal(cfg.response_information, defaults.response_information);
    config_free(&defaults);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_comments_blank_lines_and_surrounding_blanks_are_skipped),
        T(test_error_names_file_and_line),
        T(test_unknown_key_in_file_names_file_line_and_key),
        T(test_key_without_value_is_an_error),
        T(test_missing_file_is_an_error_naming_it),
        T(test_nul_byte_in_a_line_is_an_error),
        T(test_listener_block_gathers_its_per_listener_keys),
        T(test_certfile_makes_websockets_secure_in_either_order),
        T(test_bad_listener_lines_are_refused),
        T(test_port_and_bind_address_make_mosquittos_default_listener),
        T(test_per_listener_keys_before_any_listener_go_to_the_default_listener),
        T(test_listen_key_takes_a_url),
        T(test_no_listener_lines_leave_the_list_empty),
        T(test_include_dir_loads_conf_files_in_sorted_order),
        T(test_error_in_an_included_file_names_that_file),
        T(test_include_dir_that_cannot_be_opened_is_an_error),
        T(test_include_dir_including_itself_stops),
        T(test_the_example_file_loads_and_keeps_the_defaults),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
