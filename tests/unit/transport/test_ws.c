/*
 * Tests of the WebSocket layer with plain buffers: the HTTP upgrade and its refusals, unframing
 * (masking, lengths, fragmentation, packets spanning frames), control frames, bad frames and the
 * close codes they earn, framing of output, and the websockets_* config keys. RFC 6455 section
 * numbers are given where a test checks a statement of the RFC.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/config.h"
#include "transport/ws.h"

/* What the layer handed to the link. */
struct sink {
    uint8_t up[200000];
    size_t up_len;
    uint8_t down[200000];
    size_t down_len;
    char fail_reason[256];
    int fails;
    /* Set by a test: the engine closes the connection on the first bytes it gets. */
    bool close_on_up;
    struct layer *layer;
};

static struct sink sink;
static struct mq_listener_config listener;
static struct layer layer;
static void *settings;
static struct layer_io io;

static void on_up(void *link, const uint8_t *data, size_t len)
{
    struct sink *s = link;
    assert_true(s->up_len + len <= sizeof s->up);
    memcpy(s->up + s->up_len, data, len);
    s->up_len += len;
    if (s->close_on_up) {
        s->close_on_up = false;
        s->layer->ops->closing(s->layer->state);
    }
}

static void on_down(void *link, const uint8_t *data, size_t len)
{
    struct sink *s = link;
    assert_true(s->down_len + len <= sizeof s->down);
    memcpy(s->down + s->down_len, data, len);
    s->down_len += len;
}

static void on_fail(void *link, const char *reason)
{
    struct sink *s = link;
    snprintf(s->fail_reason, sizeof s->fail_reason, "%s", reason);
    s->fails++;
}

static void on_identity(void *link, const char *identity) {}

static int setup(void **state)
{
    memset(&sink, 0, sizeof sink);
    memset(&listener, 0, sizeof listener);
    listener.path = "/mqtt";
    settings = ws_settings_new(&listener);
    assert_non_null(settings);
    io = (struct layer_io){on_up, on_down, on_fail, on_identity, &sink};
    assert_int_equal(ws_layer_new(settings, &io, &layer), 0);
    sink.layer = &layer;
    return 0;
}

static int teardown(void **state)
{
    layer.ops->free(layer.state);
    ws_settings_free(settings);
    return 0;
}

static int feed(const void *data, size_t len)
{
    return layer.ops->from_below(layer.state, data, len);
}

static int feed_str(const char *s)
{
    return feed(s, strlen(s));
}

static void clear_sink(void)
{
    sink.up_len = sink.down_len = 0;
}

static bool down_has(const char *text)
{
    char copy[sizeof sink.down + 1];
    memcpy(copy, sink.down, sink.down_len);
    copy[sink.down_len] = '\0';
    return strstr(copy, text) != NULL;
}

#define REQUEST_HEAD                                                                               \
    "GET /mqtt HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"       \
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"

static const char good_request[] = REQUEST_HEAD "Sec-WebSocket-Protocol: mqtt\r\n\r\n";

static void upgrade(void)
{
    assert_int_equal(feed_str(good_request), 0);
    assert_int_equal(sink.fails, 0);
    clear_sink();
}

/* A client frame: masked with a fixed key. */
static size_t client_frame(uint8_t *out, uint8_t fin_opcode, const void *payload, size_t len)
{
    static const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    size_t n = ws_frame_header(out, fin_opcode, len, mask);
    for (size_t i = 0; i < len; i++)
        out[n + i] = ((const uint8_t *)payload)[i] ^ mask[i & 3];
    return n + len;
}

static void assert_close_frame(const uint8_t *frame, unsigned code)
{
    assert_int_equal(frame[0], WS_FIN | WS_OP_CLOSE);
    assert_int_equal(frame[1], 2);
    assert_int_equal((unsigned)frame[2] << 8 | frame[3], code);
}

/* The bad frame earns a close frame with `code`, then the connection fails. */
static void assert_closed_with(unsigned code)
{
    assert_int_equal(sink.fails, 1);
    assert_true(sink.down_len >= 4);
    assert_close_frame(sink.down + sink.down_len - 4, code);
}

/* ---- Handshake ---- */

static void test_accept_key_matches_rfc_example(void **state)
{
    char accept[29];
    /* RFC 6455 section 1.3's worked example. */
    assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 24, accept), 0);
    assert_string_equal(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_upgrade_answers_101_with_accept_and_mqtt_subprotocol(void **state)
{
    assert_int_equal(feed_str(good_request), 0);
    assert_int_equal(sink.fails, 0);
    assert_true(down_has("HTTP/1.1 101 Switching Protocols\r\n"));
    assert_true(down_has("Upgrade: websocket\r\n"));
    assert_true(down_has("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    assert_true(down_has("Sec-WebSocket-Protocol: mqtt\r\n"));
    assert_int_equal(sink.up_len, 0);
}

static void test_upgrade_request_in_single_bytes_is_understood(void **state)
{
    for (size_t i = 0; i < strlen(good_request); i++)
        assert_int_equal(feed(good_request + i, 1), 0);
    assert_true(down_has("HTTP/1.1 101 "));
    assert_int_equal(sink.fails, 0);
}

static void test_mqttv31_subprotocol_is_echoed(void **state)
{
    feed_str(REQUEST_HEAD "Sec-WebSocket-Protocol: chat, mqttv3.1\r\n\r\n");
    assert_true(down_has("Sec-WebSocket-Protocol: mqttv3.1\r\n"));
    assert_false(down_has("chat"));
}

static void test_first_spoken_subprotocol_wins_across_repeated_headers(void **state)
{
    feed_str(REQUEST_HEAD "Sec-WebSocket-Protocol: soap\r\nSec-WebSocket-Protocol: mqtt, "
                          "mqttv3.1\r\n\r\n");
    assert_true(down_has("Sec-WebSocket-Protocol: mqtt\r\n"));
}

static void test_header_names_are_case_insensitive_and_connection_is_a_list(void **state)
{
    feed_str("GET /mqtt?x=1 HTTP/1.1\r\nhost: h\r\nupgrade: WebSocket\r\n"
             "connection: keep-alive, Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
             "sec-websocket-version: 13\r\nsec-websocket-protocol: mqtt\r\n\r\n");
    assert_true(down_has("HTTP/1.1 101 "));
}

static void test_upgrade_without_subprotocol_is_refused_with_400(void **state)
{
    assert_int_equal(feed_str(REQUEST_HEAD "\r\n"), -1);
    assert_true(down_has("HTTP/1.1 400 Bad Request\r\n"));
    assert_true(down_has("Connection: close\r\n"));
    assert_int_equal(sink.fails, 1);
}

static void test_unknown_subprotocol_is_refused_with_400(void **state)
{
    assert_int_equal(feed_str(REQUEST_HEAD "Sec-WebSocket-Protocol: MQTTX, chat\r\n\r\n"), -1);
    assert_true(down_has("HTTP/1.1 400 "));
}

static void test_wrong_path_is_refused_with_404(void **state)
{
    assert_int_equal(feed_str("GET /other HTTP/1.1\r\nHost: h\r\n\r\n"), -1);
    assert_true(down_has("HTTP/1.1 404 Not Found\r\n"));
    assert_int_equal(sink.fails, 1);
    assert_non_null(strstr(sink.fail_reason, "404"));
}

static void test_configured_path_is_served(void **state)
{
    listener.path = "/ws/broker";
    feed_str("GET /ws/broker HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
             "Sec-WebSocket-Protocol: mqtt\r\n\r\n");
    assert_true(down_has("HTTP/1.1 101 "));
}

static void test_plain_http_get_is_refused_with_426_and_a_body(void **state)
{
    assert_int_equal(feed_str("GET /mqtt HTTP/1.1\r\nHost: h\r\n\r\n"), -1);
    assert_true(down_has("HTTP/1.1 426 Upgrade Required\r\n"));
    assert_true(down_has("Upgrade: websocket\r\n"));
    assert_true(down_has("\r\n\r\nthis endpoint speaks MQTT over WebSocket only\n"));
}

static void test_other_websocket_version_is_refused_with_426_naming_13(void **state)
{
    /* RFC 6455 section 4.4. */
    feed_str("GET /mqtt HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n"
             "Sec-WebSocket-Protocol: mqtt\r\n\r\n");
    assert_true(down_has("HTTP/1.1 426 "));
    assert_true(down_has("Sec-WebSocket-Version: 13\r\n"));
}

static void test_malformed_key_is_refused_with_400(void **state)
{
    feed_str("GET /mqtt HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n"
             "Sec-WebSocket-Protocol: mqtt\r\n\r\n");
    assert_true(down_has("HTTP/1.1 400 "));
}

static void test_request_with_a_nul_byte_is_refused_with_400(void **state)
{
    assert_int_equal(feed("GET /mqtt\0 HTTP/1.1\r\n\r\n", 22), -1);
    assert_true(down_has("HTTP/1.1 400 "));
}

static void test_post_is_refused_with_405(void **state)
{
    feed_str("POST /mqtt HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    assert_true(down_has("HTTP/1.1 405 "));
}

static void test_mqtt_bytes_on_a_websocket_port_are_refused_with_400(void **state)
{
    static const uint8_t connect[] = {0x10, 0x0d, 0x00, 0x04, 'M',  'Q',  'T', 'T',
                                      0x04, 0x02, 0x00, 0x3c, 0x00, 0x01, 'a'};
    assert_int_equal(feed(connect, sizeof connect), -1);
    assert_true(down_has("HTTP/1.1 400 "));
}

static void test_oversized_request_is_refused_with_431(void **state)
{
    char junk[1024];
    memset(junk, 'a', sizeof junk);
    int rc = feed_str("GET /mqtt HTTP/1.1\r\nX-Long: ");
    for (int i = 0; i < 9 && rc == 0; i++)
        rc = feed(junk, sizeof junk);
    assert_int_equal(rc, -1);
    assert_true(down_has("HTTP/1.1 431 "));
    assert_int_equal(sink.fails, 1);
}

static void test_origin_outside_the_allow_list_is_refused_with_403(void **state)
{
    char *origins[] = {"https://app.example"};
    listener.ws_origins = origins;
    listener.ws_origin_count = 1;
    feed_str(REQUEST_HEAD "Origin: https://evil.example\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n");
    assert_true(down_has("HTTP/1.1 403 Forbidden\r\n"));
    assert_int_equal(sink.fails, 1);
}

static void test_origin_on_the_allow_list_is_accepted(void **state)
{
    char *origins[] = {"http://other.example", "https://app.example"};
    listener.ws_origins = origins;
    listener.ws_origin_count = 2;
    feed_str(REQUEST_HEAD "Origin: https://app.example\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n");
    assert_true(down_has("HTTP/1.1 101 "));
}

static void test_request_without_origin_passes_an_allow_list(void **state)
{
    char *origins[] = {"https://app.example"};
    listener.ws_origins = origins;
    listener.ws_origin_count = 1;
    feed_str(good_request);
    assert_true(down_has("HTTP/1.1 101 "));
}

static void test_frame_sent_with_the_request_is_delivered_after_the_upgrade(void **state)
{
    uint8_t buf[512];
    size_t n = strlen(good_request);
    memcpy(buf, good_request, n);
    n += client_frame(buf + n, WS_FIN | WS_OP_BINARY, "\xc0\x00", 2);
    assert_int_equal(feed(buf, n), 0);
    assert_true(down_has("HTTP/1.1 101 "));
    assert_int_equal(sink.up_len, 2);
    assert_memory_equal(sink.up, "\xc0\x00", 2);
}

static void test_output_before_the_upgrade_is_dropped(void **state)
{
    layer.ops->from_above(layer.state, (const uint8_t *)"\x20\x02\x00\x00", 4);
    assert_int_equal(sink.down_len, 0);
}

/* ---- Frames from the client ---- */

static void test_masked_binary_frame_is_unmasked_for_the_engine(void **state)
{
    upgrade();
    uint8_t frame[64];
    size_t n = client_frame(frame, WS_FIN | WS_OP_BINARY, "\x30\x05\x00\x01t\x68i", 7);
    assert_int_equal(feed(frame, n), 0);
    assert_int_equal(sink.up_len, 7);
    assert_memory_equal(sink.up, "\x30\x05\x00\x01t\x68i", 7);
    assert_int_equal(sink.down_len, 0);
}

static void test_several_packets_in_one_frame_pass_through_together(void **state)
{
    upgrade();
    uint8_t frame[64];
    static const uint8_t two_pings[] = {0xc0, 0x00, 0xc0, 0x00};
    size_t n = client_frame(frame, WS_FIN | WS_OP_BINARY, two_pings, sizeof two_pings);
    feed(frame, n);
    assert_int_equal(sink.up_len, 4);
    assert_memory_equal(sink.up, two_pings, 4);
}

static void test_packet_spanning_two_frames_arrives_whole(void **state)
{
    upgrade();
    uint8_t buf[64];
    size_t n = client_frame(buf, WS_FIN | WS_OP_BINARY, "\x30\x05\x00", 3);
    n += client_frame(buf + n, WS_FIN | WS_OP_BINARY, "\x01tab", 4);
    feed(buf, n);
    assert_int_equal(sink.up_len, 7);
    assert_memory_equal(sink.up, "\x30\x05\x00\x01tab", 7);
}

static void test_fragmented_message_with_continuation_frames_is_delivered(void **state)
{
    upgrade();
    uint8_t buf[64];
    size_t n = client_frame(buf, WS_OP_BINARY, "\x30\x05", 2);
    n += client_frame(buf + n, WS_OP_CONTINUATION, "\x00\x01", 2);
    n += client_frame(buf + n, WS_FIN | WS_OP_CONTINUATION, "tab", 3);
    assert_int_equal(feed(buf, n), 0);
    assert_int_equal(sink.up_len, 7);
    assert_memory_equal(sink.up, "\x30\x05\x00\x01tab", 7);
    assert_int_equal(sink.fails, 0);
}

static void test_ping_between_fragments_is_answered_and_the_message_continues(void **state)
{
    /* RFC 6455 section 5.4: control frames may be injected in a fragmented message. */
    upgrade();
    uint8_t buf[64];
    size_t n = client_frame(buf, WS_OP_BINARY, "\xc0", 1);
    n += client_frame(buf + n, WS_FIN | WS_OP_PING, "p", 1);
    n += client_frame(buf + n, WS_FIN | WS_OP_CONTINUATION, "\x00", 1);
    feed(buf, n);
    assert_int_equal(sink.up_len, 2);
    assert_memory_equal(sink.up, "\xc0\x00", 2);
    assert_int_equal(sink.down_len, 3);
    assert_memory_equal(sink.down, "\x8a\x01p", 3);
}

static void test_frames_split_into_single_bytes_are_reassembled(void **state)
{
    upgrade();
    uint8_t payload[300], buf[400];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)i;
    size_t n = client_frame(buf, WS_FIN | WS_OP_BINARY, payload, sizeof payload);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(feed(buf + i, 1), 0);
    assert_int_equal(sink.up_len, sizeof payload);
    assert_memory_equal(sink.up, payload, sizeof payload);
}

static void test_frame_with_64_bit_length_is_delivered(void **state)
{
    upgrade();
    static uint8_t payload[70000], buf[70100];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 7);
    size_t n = client_frame(buf, WS_FIN | WS_OP_BINARY, payload, sizeof payload);
    assert_int_equal(buf[1] & 0x7f, 127);
    assert_int_equal(feed(buf, n), 0);
    assert_int_equal(sink.up_len, sizeof payload);
    assert_memory_equal(sink.up, payload, sizeof payload);
}

static void test_unmasked_client_frame_is_closed_with_1002(void **state)
{
    /* RFC 6455 section 5.1: a server must close on an unmasked frame. */
    upgrade();
    uint8_t frame[] = {WS_FIN | WS_OP_BINARY, 0x02, 0xc0, 0x00};
    assert_int_equal(feed(frame, sizeof frame), -1);
    assert_closed_with(WS_CLOSE_PROTOCOL_ERROR);
    assert_int_equal(sink.up_len, 0);
}

static void test_text_frame_is_closed_with_1003(void **state)
{
    upgrade();
    uint8_t frame[32];
    size_t n = client_frame(frame, WS_FIN | WS_OP_TEXT, "hello", 5);
    assert_int_equal(feed(frame, n), -1);
    assert_closed_with(WS_CLOSE_UNSUPPORTED_DATA);
    assert_int_equal(sink.up_len, 0);
}

static void test_reserved_bits_are_closed_with_1002(void **state)
{
    upgrade();
    uint8_t frame[32];
    size_t n = client_frame(frame, WS_FIN | 0x40 | WS_OP_BINARY, "x", 1);
    assert_int_equal(feed(frame, n), -1);
    assert_closed_with(WS_CLOSE_PROTOCOL_ERROR);
}

static void test_unknown_opcode_is_closed_with_1002(void **state)
{
    upgrade();
    uint8_t frame[32];
    size_t n = client_frame(frame, WS_FIN | 0x3, "x", 1);
    assert_int_equal(feed(frame, n), -1);
    assert_closed_with(WS_CLOSE_PROTOCOL_ERROR);
}

static void test_continuation_without_a_message_is_closed_with_1002(void **state)
{
    upgrade();
    uint8_t frame[32];
    size_t n = client_frame(frame, WS_FIN | WS_OP_CONTINUATION, "x", 1);
    assert_int_equal(feed(frame, n), -1);
    assert_closed_with(WS_CLOSE_PROTOCOL_ERROR);
}

static void test_new_message_inside_a_fragmented_one_is_closed_with_1002(void **state)
{
    upgrade();
    uint8_t buf[32];
    size_t n = client_frame(buf, WS_OP_BINARY, "x", 1);
    n += client_frame(buf + n, WS_FIN | WS_OP_BINARY, "y", 1);
    assert_int_equal(feed(buf, n), -1);
    assert_closed_with(WS_CLOSE_PROTOCOL_ERROR);
}

static void test_fragmented_control_frame_is_closed_with_1002(void **state)
{
    upgrade();
    uint8_t frame[32];
    size_t n = client_frame(frame, WS_OP_PING, "x", 1);
    assert_int_equal(feed(frame, n), -1);
    assert_closed_with(WS_CLOSE_PROTOCOL_ERROR);
}

static void test_control_frame_over_125_bytes_is_closed_with_1002(void **state)
{
    upgrade();
    uint8_t payload[126] = {0}, frame[160];
    size_t n = client_frame(frame, WS_FIN | WS_OP_PING, payload, sizeof payload);
    assert_int_equal(feed(frame, n), -1);
    assert_closed_with(WS_CLOSE_PROTOCOL_ERROR);
}

static void test_frame_over_the_maximum_size_is_closed_with_1009(void **state)
{
    listener.ws_max_frame_size = 100;
    upgrade();
    uint8_t payload[101] = {0}, frame[160];
    size_t n = client_frame(frame, WS_FIN | WS_OP_BINARY, payload, 100);
    assert_int_equal(feed(frame, n), 0);
    assert_int_equal(sink.up_len, 100);
    n = client_frame(frame, WS_FIN | WS_OP_BINARY, payload, sizeof payload);
    assert_int_equal(feed(frame, n), -1);
    assert_closed_with(WS_CLOSE_TOO_BIG);
    assert_int_equal(sink.up_len, 100);
}

static void test_length_with_top_bit_set_is_closed_with_1002(void **state)
{
    upgrade();
    uint8_t frame[] = {WS_FIN | WS_OP_BINARY, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4};
    assert_int_equal(feed(frame, sizeof frame), -1);
    assert_closed_with(WS_CLOSE_PROTOCOL_ERROR);
}

static void test_ping_is_answered_with_pong_carrying_its_payload(void **state)
{
    /* RFC 6455 section 5.5.3. */
    upgrade();
    uint8_t frame[32];
    size_t n = client_frame(frame, WS_FIN | WS_OP_PING, "abc", 3);
    assert_int_equal(feed(frame, n), 0);
    assert_int_equal(sink.down_len, 5);
    assert_memory_equal(sink.down,
                        "\x8a\x03"
                        "abc",
                        5);
    assert_int_equal(sink.up_len, 0);
}

static void test_unsolicited_pong_is_ignored(void **state)
{
    upgrade();
    uint8_t frame[32];
    size_t n = client_frame(frame, WS_FIN | WS_OP_PONG, "z", 1);
    assert_int_equal(feed(frame, n), 0);
    assert_int_equal(sink.down_len, 0);
    assert_int_equal(sink.up_len, 0);
    assert_int_equal(sink.fails, 0);
}

static void test_close_frame_is_answered_with_its_code_then_the_link_closes(void **state)
{
    /* RFC 6455 section 5.5.1: a close frame is answered with a close frame. */
    upgrade();
    uint8_t buf[64];
    size_t n = client_frame(buf, WS_FIN | WS_OP_CLOSE,
                            "\x03\xe9"
                            "bye",
                            5);
    n += client_frame(buf + n, WS_FIN | WS_OP_BINARY, "\xc0\x00", 2);
    feed(buf, n);
    assert_int_equal(sink.down_len, 4);
    assert_close_frame(sink.down, 1001);
    assert_int_equal(sink.fails, 1);
    assert_int_equal(sink.up_len, 0); /* nothing after the close frame is read */
}

static void test_empty_close_frame_is_answered_with_an_empty_close(void **state)
{
    upgrade();
    uint8_t frame[16];
    size_t n = client_frame(frame, WS_FIN | WS_OP_CLOSE, "", 0);
    feed(frame, n);
    assert_int_equal(sink.down_len, 2);
    assert_memory_equal(sink.down, "\x88\x00", 2);
    assert_int_equal(sink.fails, 1);
}

static void test_close_frame_with_one_byte_payload_is_closed_with_1002(void **state)
{
    upgrade();
    uint8_t frame[16];
    size_t n = client_frame(frame, WS_FIN | WS_OP_CLOSE, "\x03", 1);
    assert_int_equal(feed(frame, n), -1);
    assert_closed_with(WS_CLOSE_PROTOCOL_ERROR);
}

static void test_close_frame_with_invalid_code_is_closed_with_1002(void **state)
{
    upgrade();
    uint8_t frame[16];
    size_t n = client_frame(frame, WS_FIN | WS_OP_CLOSE, "\x03\xed", 2); /* 1005 */
    assert_int_equal(feed(frame, n), -1);
    assert_closed_with(WS_CLOSE_PROTOCOL_ERROR);
}

static void test_close_reason_that_is_not_utf8_is_closed_with_1007(void **state)
{
    upgrade();
    uint8_t frame[16];
    size_t n = client_frame(frame, WS_FIN | WS_OP_CLOSE, "\x03\xe8\xff", 3);
    assert_int_equal(feed(frame, n), -1);
    assert_closed_with(WS_CLOSE_INVALID_PAYLOAD);
}

static void test_engine_closing_while_reading_stops_delivery(void **state)
{
    /* The engine may close the link from inside io->up; the rest of the read is ignored. */
    upgrade();
    uint8_t buf[64];
    size_t n = client_frame(buf, WS_FIN | WS_OP_BINARY, "\xe0\x00", 2);
    n += client_frame(buf + n, WS_FIN | WS_OP_BINARY, "\xc0\x00", 2);
    sink.close_on_up = true;
    assert_int_equal(feed(buf, n), 0);
    assert_int_equal(sink.up_len, 2);
    assert_int_equal(sink.down_len, 4);
    assert_close_frame(sink.down, WS_CLOSE_NORMAL);
}

static void test_input_after_a_failure_is_ignored(void **state)
{
    upgrade();
    uint8_t frame[] = {WS_FIN | WS_OP_BINARY, 0x02, 0xc0, 0x00};
    feed(frame, sizeof frame);
    clear_sink();
    uint8_t good[16];
    size_t n = client_frame(good, WS_FIN | WS_OP_BINARY, "\xc0\x00", 2);
    assert_int_equal(feed(good, n), 0);
    assert_int_equal(sink.up_len, 0);
    assert_int_equal(sink.down_len, 0);
    assert_int_equal(sink.fails, 1);
}

static uint32_t lcg_next(uint32_t *state)
{
    *state = *state * 1664525u + 1013904223u;
    return *state >> 8;
}

static void test_random_bytes_never_crash_and_fail_at_most_once(void **state)
{
    /* Every length read from the wire is checked: garbage after the upgrade, in pieces of random
     * size, ends in at most one failure (run under ASan by the sanitizer build). */
    uint32_t seed = 12345;
    for (int round = 0; round < 200; round++) {
        teardown(NULL);
        setup(NULL);
        listener.ws_max_frame_size = round % 2 ? 0 : 4096;
        upgrade();
        for (int piece = 0; piece < 20; piece++) {
            uint8_t junk[512];
            size_t n = lcg_next(&seed) % sizeof junk;
            for (size_t i = 0; i < n; i++)
                junk[i] = (uint8_t)lcg_next(&seed);
            /* Now and then a well-formed masked frame, so parsing goes past the header. */
            if (piece % 3 == 0 && n > 32)
                client_frame(junk, (uint8_t)(junk[0] & 0x8F), junk + 20, n / 4);
            feed(junk, n);
        }
        assert_true(sink.fails <= 1);
        sink.up_len = sink.down_len = 0;
    }
}

/* ---- Frames to the client ---- */

static void test_output_is_one_unmasked_binary_frame(void **state)
{
    upgrade();
    layer.ops->from_above(layer.state, (const uint8_t *)"\x20\x03\x00\x00\x00", 5);
    assert_int_equal(sink.down_len, 7);
    assert_memory_equal(sink.down, "\x82\x05\x20\x03\x00\x00\x00", 7);
}

static void test_large_output_uses_the_16_and_64_bit_lengths(void **state)
{
    upgrade();
    static uint8_t data[70000];
    layer.ops->from_above(layer.state, data, 300);
    assert_memory_equal(sink.down, "\x82\x7e\x01\x2c", 4);
    assert_int_equal(sink.down_len, 4 + 300);
    clear_sink();
    layer.ops->from_above(layer.state, data, sizeof data);
    assert_memory_equal(sink.down, "\x82\x7f\x00\x00\x00\x00\x00\x01\x11\x70", 10);
    assert_int_equal(sink.down_len, 10 + sizeof data);
}

static void test_closing_sends_close_1000_once_and_then_nothing(void **state)
{
    upgrade();
    layer.ops->closing(layer.state);
    layer.ops->closing(layer.state);
    layer.ops->from_above(layer.state, (const uint8_t *)"\xe0\x00", 2);
    assert_int_equal(sink.down_len, 4);
    assert_close_frame(sink.down, WS_CLOSE_NORMAL);
}

static void test_closing_during_the_handshake_sends_nothing(void **state)
{
    feed_str("GET /mqtt HTTP/1.1\r\n");
    layer.ops->closing(layer.state);
    assert_int_equal(sink.down_len, 0);
}

/* ---- Configuration ---- */

static void test_websockets_config_keys_apply_to_the_current_listener(void **state)
{
    struct mq_config cfg;
    char err[256];
    assert_int_equal(config_init(&cfg), 0);
    assert_int_equal(config_add_listener_url(&cfg, "ws://127.0.0.1:9001/mqtt", err, sizeof err), 0);
    assert_int_equal(config_set(&cfg, "websockets_origin", "https://a.example", err, sizeof err),
                     0);
    assert_int_equal(config_set(&cfg, "websockets_origin", "https://b.example", err, sizeof err),
                     0);
    assert_int_equal(config_set(&cfg, "websockets_max_frame_size", "64k", err, sizeof err), 0);
    const struct mq_listener_config *l = &cfg.listeners[cfg.listener_count - 1];
    assert_int_equal(l->transport, MQ_TRANSPORT_WS);
    assert_int_equal(l->ws_origin_count, 2);
    assert_string_equal(l->ws_origins[1], "https://b.example");
    assert_int_equal(l->ws_max_frame_size, 65536);
    assert_int_equal(config_set(&cfg, "websockets_max_frame_size", "big", err, sizeof err), -1);
    assert_non_null(strstr(err, "websockets_max_frame_size"));
    config_free(&cfg);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_accept_key_matches_rfc_example),
        T(test_upgrade_answers_101_with_accept_and_mqtt_subprotocol),
        T(test_upgrade_request_in_single_bytes_is_understood),
        T(test_mqttv31_subprotocol_is_echoed),
        T(test_first_spoken_subprotocol_wins_across_repeated_headers),
        T(test_header_names_are_case_insensitive_and_connection_is_a_list),
        T(test_upgrade_without_subprotocol_is_refused_with_400),
        T(test_unknown_subprotocol_is_refused_with_400),
        T(test_wrong_path_is_refused_with_404),
        T(test_configured_path_is_served),
        T(test_plain_http_get_is_refused_with_426_and_a_body),
        T(test_other_websocket_version_is_refused_with_426_naming_13),
        T(test_malformed_key_is_refused_with_400),
        T(test_request_with_a_nul_byte_is_refused_with_400),
        T(test_post_is_refused_with_405),
        T(test_mqtt_bytes_on_a_websocket_port_are_refused_with_400),
        T(test_oversized_request_is_refused_with_431),
        T(test_origin_outside_the_allow_list_is_refused_with_403),
        T(test_origin_on_the_allow_list_is_accepted),
        T(test_request_without_origin_passes_an_allow_list),
        T(test_frame_sent_with_the_request_is_delivered_after_the_upgrade),
        T(test_output_before_the_upgrade_is_dropped),
        T(test_masked_binary_frame_is_unmasked_for_the_engine),
        T(test_several_packets_in_one_frame_pass_through_together),
        T(test_packet_spanning_two_frames_arrives_whole),
        T(test_fragmented_message_with_continuation_frames_is_delivered),
        T(test_ping_between_fragments_is_answered_and_the_message_continues),
        T(test_frames_split_into_single_bytes_are_reassembled),
        T(test_frame_with_64_bit_length_is_delivered),
        T(test_unmasked_client_frame_is_closed_with_1002),
        T(test_text_frame_is_closed_with_1003),
        T(test_reserved_bits_are_closed_with_1002),
        T(test_unknown_opcode_is_closed_with_1002),
        T(test_continuation_without_a_message_is_closed_with_1002),
        T(test_new_message_inside_a_fragmented_one_is_closed_with_1002),
        T(test_fragmented_control_frame_is_closed_with_1002),
        T(test_control_frame_over_125_bytes_is_closed_with_1002),
        T(test_frame_over_the_maximum_size_is_closed_with_1009),
        T(test_length_with_top_bit_set_is_closed_with_1002),
        T(test_ping_is_answered_with_pong_carrying_its_payload),
        T(test_unsolicited_pong_is_ignored),
        T(test_close_frame_is_answered_with_its_code_then_the_link_closes),
        T(test_empty_close_frame_is_answered_with_an_empty_close),
        T(test_close_frame_with_one_byte_payload_is_closed_with_1002),
        T(test_close_frame_with_invalid_code_is_closed_with_1002),
        T(test_close_reason_that_is_not_utf8_is_closed_with_1007),
        T(test_engine_closing_while_reading_stops_delivery),
        T(test_input_after_a_failure_is_ignored),
        T(test_random_bytes_never_crash_and_fail_at_most_once),
        T(test_output_is_one_unmasked_binary_frame),
        T(test_large_output_uses_the_16_and_64_bit_lengths),
        T(test_closing_sends_close_1000_once_and_then_nothing),
        T(test_closing_during_the_handshake_sends_nothing),
        T(test_websockets_config_keys_apply_to_the_current_listener),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
