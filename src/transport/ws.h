/*
 * The WebSocket layer (RFC 6455) between a connection's byte stream and the MQTT engine: the
 * HTTP/1.1 upgrade on the listener's path with subprotocol `mqtt` (or `mqttv3.1`), then
 * unframing of the client's masked binary frames toward the engine and framing of the engine's
 * output as one unmasked binary frame per flush. It is a `struct layer` (layer.h): sans-I/O,
 * tested with plain buffers.
 *
 * Frames are unmasked and passed up as they arrive, never collected whole, so a frame costs no
 * memory beyond 14 header bytes; MQTT packets are reassembled by the engine, which already
 * handles a packet split across reads or several packets in one read.
 */
#ifndef MQTTD_WS_H
#define MQTTD_WS_H

#include <stddef.h>
#include <stdint.h>

#include "server/config.h"
#include "transport/layer.h"

/* Close status codes (RFC 6455 section 7.4.1) this layer sends. */
enum ws_close_code {
    WS_CLOSE_NORMAL = 1000,
    WS_CLOSE_PROTOCOL_ERROR = 1002,
    WS_CLOSE_UNSUPPORTED_DATA = 1003,
    WS_CLOSE_INVALID_PAYLOAD = 1007,
    WS_CLOSE_TOO_BIG = 1009,
};

/*
 * What every WebSocket connection of one listener shares, built once from its config (borrowed:
 * it must outlive the settings). Returns NULL when out of memory. Freed with ws_settings_free.
 */
void *ws_settings_new(const struct mq_listener_config *config);
void ws_settings_free(void *settings);

/*
 * A `layer_factory` (listener.h): builds the WebSocket layer of one new connection. `settings`
 * comes from ws_settings_new and `io` (borrowed) must outlive the layer. Returns 0 or -1 when
 * out of memory. The layer's state is freed by out->ops->free.
 */
int ws_layer_new(void *settings, const struct layer_io *io, struct layer *out);

/* Bytes in the longest frame header: 2, an 8-byte length, a 4-byte mask. */
#define WS_FRAME_HEADER_MAX 14

/* Frame opcodes, and the FIN bit of a frame's first byte. */
#define WS_FIN 0x80
#define WS_OP_CONTINUATION 0x0
#define WS_OP_TEXT 0x1
#define WS_OP_BINARY 0x2
#define WS_OP_CLOSE 0x8
#define WS_OP_PING 0x9
#define WS_OP_PONG 0xA

/*
 * Writes a frame header into out: first byte `fin_opcode` (e.g. WS_FIN | WS_OP_BINARY), the
 * payload length `len`, and the 4-byte `mask` when not NULL (clients mask, servers do not).
 * Returns the header length. Shared with mqttc.
 */
size_t ws_frame_header(uint8_t out[WS_FRAME_HEADER_MAX], uint8_t fin_opcode, uint64_t len,
                       const uint8_t *mask);

/*
 * Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + RFC 6455's GUID)), written
 * NUL-terminated into out (29 bytes). Returns 0, or -1 if hashing failed. Shared with mqttc.
 */
int ws_accept_key(const char *key, size_t key_len, char out[29]);

#endif
