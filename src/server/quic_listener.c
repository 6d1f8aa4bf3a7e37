/*
 * QUIC listener set-up (see quic_listener.h).
 */
#include "server/quic_listener.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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

int quic_listen_socket(const char *host, uint16_t port, uint16_t *bound_port, char *err,
                       size_t errlen)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char service[8];
    snprintf(service, sizeof service, "%u", port);
    bool any = !host || !*host;
    int rc = getaddrinfo(any ? "::" : host, service, &hints, &res);
    if (rc != 0 && any)
        rc = getaddrinfo("0.0.0.0", service, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve listener address '%s': %s", any ? "*" : host,
                 gai_strerror(rc));
        return -1;
    }
    int fd = -1, last_errno = 0;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        int one = 1, zero = 0, buffer = UDP_BUFFER_BYTES;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
        if (ai->ai_family == AF_INET6 && any)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            last_errno = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, errlen, "cannot bind UDP %s:%u: %s", any ? "*" : host, port,
                 strerror(last_errno));
        return -1;
    }
    struct sockaddr_storage sa;
    socklen_t len = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &len);
    *bound_port = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
                                                 : ((struct sockaddr_in *)&sa)->sin_port);
    return fd;
}
