/*
 * TCP connection set-up for the client: name resolution (IPv4 and IPv6), connect with a time
 * limit, TCP_NODELAY, and a non-blocking socket ready for poll().
 */
#ifndef MQTTC_NET_H
#define MQTTC_NET_H

#include <stddef.h>

/*
 * Connects to host:port, trying every address getaddrinfo returns, each for at most
 * `timeout_ms`. Returns a non-blocking connected socket, or -1 with a message in err[errlen].
 */
int net_connect(const char *host, const char *port, int timeout_ms, char *err, size_t errlen);

#endif
