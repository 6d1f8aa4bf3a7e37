/*
 * QUIC listener set-up (see quic_listener.h).
 */
#include "server/quic_listener.h"

#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>

#include "server/listen_socket.h"
#include "transport/quic_tls.h"

/* Room for bursts of handshakes and for many clients on one socket. */
#define UDP_BUFFER_BYTES (4 * 1024 * 1024)

int quic_listener_check(const struct mq_listener_config *c, char *err, size_t errlen)
{
    struct quic_tls_server tls;
    if (quic_tls_server_init(&tls, c->certfile, c->keyfile, err, errlen) != 0)
        return -1;
    quic_tls_server_free(&tls);
    return 0;
}

int quic_listen_socket(const char *host, uint16_t port, bool join, uint16_t *bound_port, char *err,
                       size_t errlen)
{
    int fd = listen_socket_bind(host, port, SOCK_DGRAM, join, bound_port, "UDP", err, errlen);
    if (fd >= 0) {
        int buffer = UDP_BUFFER_BYTES;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
    }
    return fd;
}
