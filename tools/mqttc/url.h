/*
 * The -L option: mqtt://[user[:password]@]host[:port]/topic, as mosquitto_pub/sub take it.
 * mqtts:// is the same over TLS (default port 8883), quic:// over QUIC, ws:// and wss:// over
 * WebSocket on the broker's path /mqtt. Other schemes are refused by name.
 */
#ifndef MQTTC_URL_H
#define MQTTC_URL_H

#include <stdbool.h>
#include <stddef.h>

/* The parts of a URL; every pointer is into `storage` (owned, freed by url_free) or NULL. */
struct url_parts {
    char *storage;
    const char *username;
    const char *password;
    const char *host;
    const char *port; /* NULL: the default, 1883 */
    const char *topic;
    bool tls;  /* mqtts:// */
    bool quic; /* quic:// (UDP, default port 14567) */
    bool ws;   /* ws:// (default port 8080) or wss:// (also sets tls; default port 8443), on the
                  broker's WebSocket path /mqtt */
};

/* Returns 0, or -1 with a message in err[errlen]. */
int url_parse(const char *url, struct url_parts *out, char *err, size_t errlen);
void url_free(struct url_parts *u);

#endif
