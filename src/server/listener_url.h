/*
 * Listener URLs: the one-line way to name a listening endpoint, used by `--listen URL`, the
 * `listen` config key and mqttd_app_listen. Schemes pick the transport: mqtt (TCP), mqtts (TLS),
 * ws (WebSocket), wss (WebSocket over TLS) and quic. An IPv6 address goes in brackets.
 */
#ifndef MQTTD_SERVER_LISTENER_URL_H
#define MQTTD_SERVER_LISTENER_URL_H

#include <stddef.h>

#include "server/config.h"

/*
 * Parses url (borrowed) into *out: host without brackets (NULL when empty, meaning all
 * addresses), port (the scheme's default when absent: 1883, 8883, 8080, 8443, 14567) and, for
 * ws/wss, path (NULL when absent; config_add_listener makes it "/mqtt"). Other fields get their
 * defaults. On success the caller owns the strings in *out (config_add_listener or
 * config_listener_free); on failure *out holds nothing to free and err says why.
 */
int listener_url_parse(const char *url, struct mq_listener_config *out, char *err, size_t errlen);

/*
 * Writes the listener as a URL that listener_url_parse reads back, e.g. "mqtt://[::1]:1883" or
 * "ws://:8080/mqtt" (empty host: all addresses). Returns -1 if buf is too small.
 */
int listener_url_format(const struct mq_listener_config *listener, char *buf, size_t len);

#endif
