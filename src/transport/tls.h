/*
 * TLS server layer (GnuTLS) for the link's layer stack (layer.h): mqtts:// listeners, and the
 * bottom layer of wss://. GnuTLS runs in memory: its pull function reads the bytes the socket
 * delivered, its push function hands records straight to io->down, so the layer never touches
 * a socket.
 *
 * One `struct tls_listener` per listener holds what every connection shares: the credentials
 * (certificate, key, trusted CAs), the priority string and the session ticket key. Workers build
 * their sessions from it concurrently; tls_listener_reload swaps in new credentials (SIGHUP)
 * while sessions already running keep a reference to the credentials they started with.
 */
#ifndef MQTTD_TLS_H
#define MQTTD_TLS_H

#include <stddef.h>

#include "server/config.h"
#include "transport/layer.h"

struct tls_listener;

/*
 * Loads certfile/keyfile (keyfile NULL: the key is in certfile), cafile/capath and builds the
 * priority from ciphers (a GnuTLS priority string, default NORMAL) and tls_version (the lowest
 * version accepted, default tlsv1.2). `config` is borrowed and must outlive the listener (it is
 * read again by tls_listener_reload). Returns 0 and *out (owned by the caller, freed with
 * tls_listener_free), or -1 with a message in err.
 */
int tls_listener_new(const struct mq_listener_config *config, struct tls_listener **out, char *err,
                     size_t errlen);

/*
 * Reads the certificate, key and CA files again. New handshakes use the new credentials;
 * connections already open keep theirs. On failure the old credentials stay in use and err says
 * why. Safe to call while workers create sessions.
 */
int tls_listener_reload(struct tls_listener *listener, char *err, size_t errlen);

/* Frees the listener (a `void *` so it fits struct listener's layer_state_free). Every session
 * built from it must have been freed. */
void tls_listener_free(void *listener);

/*
 * A layer_factory: builds the TLS layer of one new connection. `listener` is a struct
 * tls_listener; `io` is borrowed and must outlive the layer. Returns 0 or -1.
 */
int tls_layer_new(void *listener, const struct layer_io *io, struct layer *out);

#endif
