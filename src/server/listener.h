/*
 * A listener as the workers use it: its configuration and how to build the protocol layers
 * (TLS, WebSocket) that every connection accepted on it stacks between socket and engine.
 * Built once by the app before the workers start; read-only afterwards.
 */
#ifndef MQTTD_LISTENER_H
#define MQTTD_LISTENER_H

#include "server/config.h"
#include "transport/layer.h"

#define LISTENER_MAX_LAYERS 2

/* Builds one layer for a new connection; 0 or -1 (out of memory, TLS session failure). */
typedef int (*layer_factory)(void *factory_state, const struct layer_io *io, struct layer *out);

struct listener {
    const struct mq_listener_config *config;
    /* Bottom-up: layers[0] sits on the socket. */
    layer_factory layers[LISTENER_MAX_LAYERS];
    void *layer_states[LISTENER_MAX_LAYERS];
    void (*layer_state_free[LISTENER_MAX_LAYERS])(void *state);
    unsigned layer_count;
};

#endif
