/*
 * libmqttd: an embeddable MQTT 5.0 / 3.1.1 / 3.1 broker.
 *
 * An application creates an app, configures it (the same keys as the mqttd config file), adds
 * listeners by URL, registers handlers on topic filters, and runs it:
 *
 *     mqttd_app *app = mqttd_app_new();
 *     mqttd_app_listen(app, "mqtt://0.0.0.0:1883", err, sizeof err);
 *     mqttd_on_publish(app, "sensors/#", on_sensor, NULL);
 *     mqttd_app_run(app);          // returns after mqttd_app_stop()
 *     mqttd_app_free(app);
 *
 * Threads: mqttd_app_run starts the worker threads (config key `workers`, default one per CPU)
 * and blocks. Every handler is called on the worker thread that owns the client concerned, while
 * that client's packets are being processed; a handler must return quickly and must not block
 * (no sleeping, no blocking I/O, no waiting on locks held across I/O). Handlers may call
 * mqttd_publish / mqttd_publish_to and read stats; they must not call mqttd_app_run or
 * mqttd_app_free. mqttd_app_stop and mqttd_publish* are safe from any thread.
 *
 * Pointers passed to a handler (client, message, strings) are valid only during that call.
 * Errors: functions returning int return 0 on success and a negative value on failure; those
 * taking `err` write a message there.
 */
#ifndef MQTTD_H
#define MQTTD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MQTTD_API __attribute__((visibility("default")))

typedef struct mqttd_app mqttd_app;

/* What a handler may know of a client. */
typedef struct {
    const char *client_id;
    const char *username; /* NULL when none was sent */
    const char *peer;     /* "ADDRESS:PORT" */
    int protocol_version; /* 3, 4 or 5 */
} mqttd_client;

/* A message as seen by an on_publish handler, which may change it. */
typedef struct {
    const char *topic;
    const void *payload;
    size_t payload_len;
    int qos;
    bool retain;
} mqttd_message;

/* What an on_publish handler decides. */
enum mqttd_publish_verdict {
    MQTTD_PUBLISH_CONTINUE = 0, /* deliver (possibly modified) */
    MQTTD_PUBLISH_DROP = 1,     /* do not deliver; the publisher still gets its acknowledgement */
};

/* Reply an on_subscribe handler may give. */
typedef struct {
    int granted_qos;           /* in: the QoS requested; out: lower it to downgrade */
    int reason_code;           /* out: set to an MQTT reason code >= 0x80 to refuse this filter */
    const char *reply_topic;   /* out: optional message sent to this subscriber alone, */
    const void *reply_payload; /* after its SUBACK (e.g. a welcome or the current state); */
                               /* copied after the handler returns, so not handler stack */
    size_t reply_payload_len;
} mqttd_subscribe_reply;

/* Returns 0 to accept, or an MQTT 5 reason code (e.g. 0x87 Not authorized) to refuse. */
typedef int (*mqttd_connect_handler)(void *user, const mqttd_client *client);
/* May modify *message (point its fields at memory that lives until the handler returns). */
typedef enum mqttd_publish_verdict (*mqttd_publish_handler)(void *user, const mqttd_client *from,
                                                            mqttd_message *message);
typedef void (*mqttd_subscribe_handler)(void *user, const mqttd_client *client, const char *filter,
                                        mqttd_subscribe_reply *reply);
/* reason_code: the DISCONNECT reason the client sent (0x00 normal) or the server sent (e.g. 0x8D
 * keep alive timeout, 0x8E taken over); 0x80 when the network connection just closed. */
typedef void (*mqttd_disconnect_handler)(void *user, const mqttd_client *client, int reason_code);

/*
 * Enhanced authentication (MQTT 5 AUTH exchange, [MQTT-4.12]): a handler registered for an
 * Authentication Method name is called with each piece of Authentication Data the client
 * sends: first the CONNECT's (or a re-authentication AUTH 0x19's), then every AUTH 0x18's.
 * `*exchange` is NULL on the first call of an exchange; the handler may point it at its own
 * state, which it gets back on the next calls and frees in its end handler.
 */
enum mqttd_auth_result {
    MQTTD_AUTH_SUCCESS = 0,  /* authenticated: CONNACK 0x00 (or AUTH 0x00 after AUTH 0x19) */
    MQTTD_AUTH_CONTINUE = 1, /* send reply->data in AUTH 0x18 and wait for the client's answer */
    MQTTD_AUTH_FAIL = 2,     /* refused: CONNACK, or DISCONNECT when re-authenticating, with
                                reply->reason_code (default 0x87 Not authorized) */
};

typedef struct {
    const void *data;     /* out: Authentication Data to send, or NULL; copied when the handler */
    size_t len;           /* returns, so it may point into the handler's exchange state */
    const char *username; /* out, on success: the name the exchange proved (copied); ACL rules
                             and later handlers see it. NULL keeps the CONNECT's User Name */
    int reason_code;      /* out, on failure: a reason code >= 0x80, or 0 for 0x87 */
} mqttd_auth_reply;

typedef enum mqttd_auth_result (*mqttd_auth_handler)(void *user, void **exchange,
                                                     const mqttd_client *client, const void *data,
                                                     size_t len, mqttd_auth_reply *reply);
/* The exchange is over (succeeded, failed, or the client left): free *exchange's state. Called
 * once per exchange whose state is not NULL. */
typedef void (*mqttd_auth_end_handler)(void *user, void *exchange);

struct mqttd_stats {
    uint64_t connections;   /* currently connected clients */
    uint64_t sessions;      /* sessions known, connected or not */
    uint64_t subscriptions; /* subscriptions in the index */
    uint64_t retained_messages;
    uint64_t messages_received; /* PUBLISH packets accepted from clients */
    uint64_t messages_sent;     /* PUBLISH packets written to clients */
    uint64_t messages_dropped;  /* deliveries dropped: queue full, too large, expired */
    uint64_t bytes_received;
    uint64_t bytes_sent;
    uint64_t publishers_held; /* times a publisher's reading paused for a subscriber's queue to
                                 drain (backpressure, docs/CONFIG.md max_queued_messages) */
    /* Limits (docs/SECURITY.md): how often each one acted, counted since the start. */
    uint64_t limits_connections_refused;    /* CONNACK 0x97 / 3: max_connections */
    uint64_t limits_ip_connections_refused; /* closed at accept: max_connections_per_ip */
    uint64_t limits_ip_rate_refused;        /* closed at accept: max_connection_rate_per_ip */
    uint64_t limits_rate_throttled;         /* reading paused: max_messages/bytes_per_second */
    uint64_t limits_rate_disconnected;      /* DISCONNECT 0x96 where reading cannot pause */
    uint64_t limits_subscribe_rate_refused; /* filters refused 0x97: _per_minute */
    uint64_t limits_subscriptions_refused;  /* filters refused 0x97: _per_client */
    uint64_t limits_packets_too_large;      /* DISCONNECT 0x95: max_packet_size */
    uint64_t limits_payloads_too_large;     /* refused 0x97: message_size_limit */
    uint64_t limits_connect_timeouts;       /* closed: no CONNECT within connect_timeout */
    uint64_t limits_receive_maximum_exceeded; /* DISCONNECT 0x93: max_inflight_messages */
    uint64_t limits_memory_refused; /* CONNECTs and QoS 1/2 PUBLISHes refused: memory_limit */
    uint64_t limits_memory_used;    /* bytes in use at the last sample (with memory_limit) */
    uint64_t limits_memory_over;    /* 1 while memory_limit is exceeded */
};

/* Creates an app with the default configuration. Returns NULL when out of memory. */
MQTTD_API mqttd_app *mqttd_app_new(void);
/* Frees an app that is not running. */
MQTTD_API void mqttd_app_free(mqttd_app *app);

/* Sets one configuration key, as in the config file ("max_keepalive", "60"). */
MQTTD_API int mqttd_app_set(mqttd_app *app, const char *key, const char *value, char *err,
                            size_t errlen);
/* Loads a Mosquitto-style config file; errors read "FILE:LINE: message". */
MQTTD_API int mqttd_app_load_config(mqttd_app *app, const char *path, char *err, size_t errlen);
/* Adds a listener by URL: mqtt://HOST:PORT, mqtts://, ws://HOST:PORT/PATH, wss://, quic://
 * (IPv6 as [::1]). TLS settings (certfile, keyfile, ...) set with mqttd_app_set afterwards apply
 * to the listener just added. */
MQTTD_API int mqttd_app_listen(mqttd_app *app, const char *url, char *err, size_t errlen);

/* Handlers. Filters use MQTT wildcards; every handler whose filter matches is called, in the
 * order registered. Register before mqttd_app_run. */
MQTTD_API int mqttd_on_connect(mqttd_app *app, mqttd_connect_handler fn, void *user);
MQTTD_API int mqttd_on_publish(mqttd_app *app, const char *filter, mqttd_publish_handler fn,
                               void *user);
MQTTD_API int mqttd_on_subscribe(mqttd_app *app, const char *filter, mqttd_subscribe_handler fn,
                                 void *user);
MQTTD_API int mqttd_on_disconnect(mqttd_app *app, mqttd_disconnect_handler fn, void *user);
/* Registers the handler of an Authentication Method ("SCRAM-SHA-256" is built in, using the
 * password file's $scram-sha-256$ entries; registering that name replaces it). `end` may be
 * NULL when the handler keeps no state. A CONNECT naming a method nobody registered gets
 * CONNACK 0x8C (Bad authentication method). */
MQTTD_API int mqttd_on_auth(mqttd_app *app, const char *method, mqttd_auth_handler step,
                            mqttd_auth_end_handler end, void *user);

/* Publishes as the server to every matching subscriber (client_id NULL) or to one client's
 * session alone (delivered whether or not it subscribed). Copies topic and payload. Safe from
 * any thread once the app runs. Returns -1 for an invalid topic, -2 when client_id is unknown
 * (or NULL). */
MQTTD_API int mqttd_publish(mqttd_app *app, const char *topic, const void *payload, size_t len,
                            int qos, bool retain);
MQTTD_API int mqttd_publish_to(mqttd_app *app, const char *client_id, const char *topic,
                               const void *payload, size_t len, int qos);

MQTTD_API void mqttd_app_stats(mqttd_app *app, struct mqttd_stats *out);

/* Runs until mqttd_app_stop (or SIGTERM/SIGINT when mqttd_app_stop_on_signals was called).
 * Returns 0 after a clean stop, negative if a listener could not be opened (err says which). */
MQTTD_API int mqttd_app_run(mqttd_app *app, char *err, size_t errlen);
/* Asks a running app to stop: v5 clients get DISCONNECT 0x8B (Server shutting down), pending
 * output is flushed for up to grace_ms, then connections close. Safe from any thread. */
MQTTD_API void mqttd_app_stop(mqttd_app *app, unsigned grace_ms);
/* Makes mqttd_app_run stop the app on SIGTERM and SIGINT, and on SIGHUP reload the certificates
 * of TLS listeners (connections keep running; new handshakes use the new files) and the
 * password and ACL files (see mqttd_app_reload_auth). */
MQTTD_API void mqttd_app_stop_on_signals(mqttd_app *app);

/* Reads password_file and acl_file again and puts them in force: new connections and new
 * operations use the new rules, existing subscriptions are checked against them, and clients
 * whose user left the password file are disconnected (v5: DISCONNECT 0x98 Administrative
 * action). A file that does not parse changes nothing (err: "FILE:LINE: message"). Safe from
 * any thread while the app runs. */
MQTTD_API int mqttd_app_reload_auth(mqttd_app *app, char *err, size_t errlen);

MQTTD_API const char *mqttd_version(void);

#ifdef __cplusplus
}
#endif

#endif
