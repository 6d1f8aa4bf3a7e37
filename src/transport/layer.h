/*
 * A protocol layer between a connection's socket and its MQTT engine: TLS (tls.c) and
 * WebSocket (ws.c). A link stacks them socket -> [TLS] -> [WebSocket] -> engine. Layers are
 * sans-I/O: bytes come in from below (toward the engine) or from above (toward the socket), and
 * leave through the link's callbacks in `struct layer_io`, so a layer never touches a socket and
 * is tested with plain buffers.
 */
#ifndef MQTTD_LAYER_H
#define MQTTD_LAYER_H

#include <stddef.h>
#include <stdint.h>

struct layer_io {
    /* Bytes for the layer above (decrypted, unframed). */
    void (*up)(void *link, const uint8_t *data, size_t len);
    /* Bytes for the layer below / the socket (encrypted, framed, handshakes, alerts). */
    void (*down)(void *link, const uint8_t *data, size_t len);
    /* The layer cannot go on (bad handshake, protocol error): the link logs `reason` with the
     * peer address, writes what is pending and closes. */
    void (*fail)(void *link, const char *reason);
    /* The peer's authenticated identity (TLS client certificate CN or SAN), once known; the
     * engine may use it as the username (use_identity_as_username). */
    void (*identity)(void *link, const char *identity);
    void *link;
};

struct layer_ops {
    const char *name;
    /* Bytes from below. Returns 0, or -1 when the layer failed (it called io->fail). */
    int (*from_below)(void *state, const uint8_t *data, size_t len);
    /* Bytes from above, to be sent. Returns 0 or -1 as above. */
    int (*from_above)(void *state, const uint8_t *data, size_t len);
    /* The connection is closing: emit a closing message if the protocol has one (TLS
     * close_notify, WebSocket close frame). May be NULL. */
    void (*closing)(void *state);
    void (*free)(void *state);
};

struct layer {
    const struct layer_ops *ops;
    void *state;
};

#endif
