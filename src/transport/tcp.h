/*
 * Plain TCP transport: listening sockets (SO_REUSEPORT, one per worker on the same port) and
 * the byte stream of a TCP connection under the connection engine.
 */
#ifndef MQTTD_TCP_H
#define MQTTD_TCP_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

/* Opens a listening socket on host:port (host NULL or "" = every address, IPv6 and IPv4), with
 * SO_REUSEPORT so that every worker gets one. `join` is false for the first socket of a
 * listener, which fails with "Address already in use" if anyone listens on the port, and true
 * for the workers that join it. Returns the fd, or -1 with a message in err. *bound_port gets the
 * port really bound (for port 0). */
int tcp_listen_socket(const char *host, uint16_t port, bool join, uint16_t *bound_port, char *err,
                      size_t errlen);

/* Readiness callback of a worker's listening socket (its data is the worker_listener):
 * accepts what is waiting and gives each connection to the worker. */
void tcp_on_acceptable(uv_poll_t *h, int status, int events);

#endif
