/*
 * TLS for mqttc (mqtts://, --cafile, --cert, --key, --insecure, as mosquitto_pub takes them):
 * a GnuTLS client session over the socket net_connect made. Reads and writes behave like
 * read(2)/write(2) on a non-blocking socket, so client.c keeps its poll() loop unchanged.
 */
#ifndef MQTTC_NET_TLS_H
#define MQTTC_NET_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Every string is borrowed; NULL means not given. */
struct net_tls_options {
    const char *cafile;   /* trusted CAs; NULL: the system's trust store */
    const char *certfile; /* client certificate for mutual TLS */
    const char *keyfile;  /* its key (NULL: in certfile) */
    bool insecure;        /* do not check the server's name (the chain is still verified) */
};

struct net_tls;

/*
 * Runs the handshake on `fd` (connected, non-blocking; still owned by the caller) within
 * timeout_ms, verifying the server's certificate for `host`. Returns 0 and *out (free with
 * net_tls_close), or -1 with a message in err[errlen].
 */
int net_tls_start(int fd, const char *host, const struct net_tls_options *o, int timeout_ms,
                  struct net_tls **out, char *err, size_t errlen);

/* As read(2): bytes read, 0 at the end of the stream, or -1 with errno (EAGAIN: nothing now;
 * EPROTO: a TLS error, described by net_tls_error). */
ssize_t net_tls_read(struct net_tls *t, void *buf, size_t len);

/* As write(2): bytes taken, or -1 with errno. After EAGAIN, call again with the same bytes at
 * the head of `buf` (client.c's output buffer keeps them there). */
ssize_t net_tls_write(struct net_tls *t, const void *buf, size_t len);

/* The last TLS error, for messages. */
const char *net_tls_error(const struct net_tls *t);

/* Sends close_notify if the socket takes it, and frees the session (not the fd). NULL is
 * ignored. */
void net_tls_close(struct net_tls *t);

#endif
