/*
 * Fuzz target for the WebSocket layer (src/transport/ws.c): the HTTP upgrade and then framing,
 * driven with plain buffers as tests/unit/transport/test_ws.c does.
 *
 * Input: one byte of listener variants (an Origin allow list, a frame size limit), then records
 * of one length byte and that many bytes. A length byte below 0x80 sends its bytes from the
 * client (from_below); 0x80 and above sends (len & 0x7f) bytes from the engine (from_above);
 * 0xff makes the engine close (closing). The link reacts as the real one does: after a failure
 * nothing more is fed; after closing the client's bytes still arrive (until the socket closes).
 *
 * Checked: from_below returns -1 exactly when the layer called fail; no bytes go up (to the
 * engine) after a failure or after closing; what goes up is never more than what came in.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/config.h"
#include "transport/ws.h"

struct sink {
    size_t up_bytes, down_bytes;
    int fails;
    bool done; /* failed or closing: the engine gets nothing more */
};

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "websocket invariant broken: %s\n", what);
        abort();
    }
}

static void on_up(void *link, const uint8_t *data, size_t len)
{
    struct sink *s = link;
    check(!s->done, "bytes for the engine after failure or closing");
    check(len > 0 && data != NULL, "an empty delivery to the engine");
    s->up_bytes += len;
}

static void on_down(void *link, const uint8_t *data, size_t len)
{
    struct sink *s = link;
    check(data != NULL || len == 0, "NULL data sent down");
    s->down_bytes += len;
}

static void on_fail(void *link, const char *reason)
{
    struct sink *s = link;
    check(reason != NULL, "failure without a reason");
    s->fails++;
}

static void on_identity(void *link, const char *identity) {}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static char origin[] = "https://app.example";
    char *origins[] = {origin};
    struct mq_listener_config listener;
    memset(&listener, 0, sizeof listener);
    listener.path = (data[0] & 4u) ? "/" : "/mqtt";
    if (data[0] & 1u) {
        listener.ws_origins = origins;
        listener.ws_origin_count = 1;
    }
    if (data[0] & 2u)
        listener.ws_max_frame_size = 64;
    void *settings = ws_settings_new(&listener);
    check(settings != NULL, "ws_settings_new");
    struct sink sink = {0, 0, 0, false};
    struct layer_io io = {on_up, on_down, on_fail, on_identity, &sink};
    struct layer layer;
    check(ws_layer_new(settings, &io, &layer) == 0, "ws_layer_new");

    size_t fed = 0;
    size_t at = 1;
    while (at < size && sink.fails == 0) {
        uint8_t rec = data[at++];
        if (rec == 0xff) {
            sink.done = true;
            layer.ops->closing(layer.state);
            continue;
        }
        size_t n = rec & 0x7fu;
        if (n > size - at)
            n = size - at;
        if (rec & 0x80u) {
            check(layer.ops->from_above(layer.state, data + at, n) == 0, "from_above failed");
        } else {
            int fails_before = sink.fails;
            int rc = layer.ops->from_below(layer.state, data + at, n);
            fed += n;
            check((rc == -1) == (sink.fails > fails_before), "return value and fail disagree");
            check(rc == 0 || rc == -1, "from_below result");
            if (rc < 0)
                break;
        }
        at += n;
    }
    check(sink.up_bytes <= fed, "more bytes to the engine than came in");
    layer.ops->free(layer.state);
    ws_settings_free(settings);
    return 0;
}
