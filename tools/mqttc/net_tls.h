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

/*
 * The same, in pieces, for callers that run many handshakes at once in their own loop (mqttc
 * bench). Credentials (trusted CAs, client certificate) are loaded once and shared by every
 * session made from them: free them after the last such session.
 */
struct net_tls_creds;
int net_tls_creds_new(const struct net_tls_options *o, struct net_tls_creds **out, char *err,
                      size_t errlen);
void net_tls_creds_free(struct net_tls_creds *c);

/* Sets up a client session on `fd` (connected, non-blocking; still owned by the caller) with
 * `creds` (borrowed, must outlive the session); only o->insecure is read. Returns 0 and *out
 * (free with net_tls_close), or -1 with a message in err[errlen]. */
int net_tls_begin(int fd, const char *host, const struct net_tls_creds *creds,
                  const struct net_tls_options *o, struct net_tls **out, char *err, size_t errlen);

/* One step of the handshake: 0 when it is complete, 1 when it waits for the socket to be
 * readable, 2 writable, or -1 with a message in err[errlen]. */
int net_tls_handshake(struct net_tls *t, char *err, size_t errlen);

/* Session resumption: the session data of the last ticket received (gnutls_free *data), and
 * handing such data to a session before its handshake. 0 or -1. */
int net_tls_get_session(struct net_tls *t, void **data, size_t *len);
int net_tls_set_session(struct net_tls *t, const void *data, size_t len);
bool net_tls_resumed(struct net_tls *t);

/* Decrypted bytes GnuTLS holds that a read would return without touching the socket. */
size_t net_tls_pending(struct net_tls *t);

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
