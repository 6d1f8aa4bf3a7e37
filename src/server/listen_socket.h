/*
 * Binding a listener's port once per worker: every worker gets a socket of its own on the same
 * port (SO_REUSEPORT), and the kernel spreads connections (TCP) or datagrams (UDP, QUIC) across
 * them. The first socket of a listener checks that nobody else holds the port, since
 * SO_REUSEPORT would otherwise let another broker silently share it.
 */
#ifndef MQTTD_LISTEN_SOCKET_H
#define MQTTD_LISTEN_SOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Binds a non-blocking socket of `socktype` (SOCK_STREAM, SOCK_DGRAM) on host:port; host NULL
 * or "" = every address, IPv6 and IPv4. `join` is false for a listener's first socket and true
 * for the ones that join it. Returns the fd (the caller listens or sets buffers), or -1 with a
 * message in err naming `what` ("TCP", "UDP"). *bound_port gets the port really bound (port 0). */
int listen_socket_bind(const char *host, uint16_t port, int socktype, bool join,
                       uint16_t *bound_port, const char *what, char *err, size_t errlen);

#endif
