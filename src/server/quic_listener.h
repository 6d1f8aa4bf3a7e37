/*
 * What the app needs to open a QUIC listener: checking its settings before any socket is
 * opened (so a bad certificate is a start-up error naming the file), and the UDP socket itself.
 */
#ifndef MQTTD_QUIC_LISTENER_H
#define MQTTD_QUIC_LISTENER_H

#include <stddef.h>
#include <stdint.h>

#include "server/config.h"

/* Returns 0 when the listener's certfile and keyfile load, else -1 with a message in err. */
int quic_listener_check(const struct mq_listener_config *c, char *err, size_t errlen);

/* The UDP socket of one worker for a QUIC listener (listen_socket_bind with large buffers);
 * `join` as there. Returns the fd, or -1 with a message in err. */
int quic_listen_socket(const char *host, uint16_t port, bool join, uint16_t *bound_port, char *err,
                       size_t errlen);

#endif
