/* Binding a listener's port once per worker (see listen_socket.h). */
#include "server/listen_socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* SO_REUSEPORT would let this process join sockets another process holds on the port (the
 * kernel then splits connections between two brokers without a word): a bind without it tells
 * whether anyone listens there already. */
static bool port_taken(const struct addrinfo *ai, bool any)
{
    int probe = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
    if (probe < 0)
        return false;
    int one = 1, zero = 0;
    setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ai->ai_family == AF_INET6 && any)
        setsockopt(probe, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    bool taken = bind(probe, ai->ai_addr, ai->ai_addrlen) != 0 && errno == EADDRINUSE;
    close(probe);
    return taken;
}

int listen_socket_bind(const char *host, uint16_t port, int socktype, bool join,
                       uint16_t *bound_port, const char *what, char *err, size_t errlen)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = socktype, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
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
        if (!join && port != 0 && port_taken(ai, any)) {
            last_errno = EADDRINUSE;
            continue;
        }
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        int one = 1, zero = 0;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
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
        snprintf(err, errlen, "cannot listen on %s:%u (%s): %s", any ? "*" : host, port, what,
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
