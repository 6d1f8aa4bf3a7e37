/*
 * The broker configuration: one struct holding every setting, and one parser that fills it from
 * `key value` pairs. The same keys come from a config file (Mosquitto's line format, so a
 * Mosquitto user can bring their file), from the command line, and from embedders through
 * mqttd_app_set, so all three share one set of names, defaults and range checks.
 *
 * Keys, defaults and ranges are documented for users in docs/CONFIG.md.
 *
 * Errors: functions return 0 on success or -1 on failure, and then write a human-readable
 * message into `err` (always NUL-terminated when errlen > 0). On failure the config keeps every
 * value it had before the failing key, so it can still be freed.
 */
#ifndef MQTTD_SERVER_CONFIG_H
#define MQTTD_SERVER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A listener accepts more than this many only by mistake (a generated file gone wrong). */
#define MQ_CONFIG_MAX_LISTENERS 256

enum mq_transport_kind {
    MQ_TRANSPORT_TCP,
    MQ_TRANSPORT_TLS,
    MQ_TRANSPORT_WS,
    MQ_TRANSPORT_WSS,
    MQ_TRANSPORT_QUIC,
};

/* One listening endpoint. Every string is owned by the config and freed by config_free. */
struct mq_listener_config {
    char *host; /* NULL or "" = all addresses (0.0.0.0 and ::); IPv6 without brackets */
    uint16_t port;
    enum mq_transport_kind transport;
    char *path; /* websocket path, default "/mqtt"; never NULL once added to a config */
    char *certfile, *keyfile, *cafile, *capath, *tls_version, *ciphers;
    bool require_certificate, use_identity_as_username;
    int allow_anonymous; /* -1 = inherit the global setting, else 0 or 1 */
    /* WebSocket: the Origin values accepted (key websockets_origin, repeatable; none = any),
     * and the largest frame payload accepted (websockets_max_frame_size; 0 = no limit). */
    char **ws_origins;
    size_t ws_origin_count;
    uint64_t ws_max_frame_size;
    /* QUIC: every new connection proves its address with a Retry round trip first (key
     * quic_retry, default false). */
    bool quic_retry;
};

struct mq_config {
    struct mq_listener_config *listeners;
    size_t listener_count;
    unsigned workers;               /* 0 = number of CPUs */
    /* A worker woken again within this many microseconds of its last iteration waits this
     * long before polling, so the next wake-up collects a batch (docs/CONFIG.md); 0 = never. */
    uint32_t io_linger_us;
    uint32_t sys_interval_s; /* $SYS topics republished this often; default 10, 0 = none */
    int log_level;                  /* 0 error,1 warning,2 notice,3 info,4 debug; default 2 */
    bool allow_anonymous;           /* default true */
    char *password_file;            /* stored; enforced by a later issue */
    char *acl_file;                 /* stored; enforced by a later issue */
    uint32_t max_connections;       /* 0 = unlimited (Mosquitto's -1 is stored as 0) */
    uint32_t max_packet_size;       /* default MQ_MAX_PACKET_SIZE; never 0 */
    uint32_t message_size_limit;    /* max payload bytes, 0 = none */
    uint16_t max_inflight_messages; /* our Receive Maximum and outbound window; default 100;
                                       the file's 0 ("unlimited") is stored as 65535 */
    uint32_t max_queued_messages;   /* per offline/slow session; default 1000; 0 = unlimited */
    uint64_t max_queued_bytes;      /* default 0 = unlimited */
    uint64_t max_output_backlog;    /* bytes written to a client and not yet taken by its
                                       socket, past which its QoS 0 deliveries drop; 8 MiB */
    bool queue_qos0_messages;       /* default false */
    uint16_t max_keepalive;         /* seconds, default 65535; never 0 */
    uint32_t connect_timeout_ms;    /* file key "connect_timeout SECONDS", default 10 s */
    bool retain_available;          /* default true */
    uint8_t max_qos;                /* default 2 */
    uint16_t max_topic_alias;       /* Topic Alias Maximum we accept from clients, default 10 */
    uint16_t max_topic_alias_out;   /* aliases we assign per client, default 64
                                       (key "outgoing_topic_aliases") */
    uint32_t max_topic_levels;      /* default 0 = unlimited */
    uint32_t max_topic_length;      /* bytes, default 65535 */
    uint32_t max_subscriptions_per_client;   /* default 0 = unlimited */
    bool shared_subscriptions;               /* default true */
    bool wildcard_subscriptions;             /* default true */
    bool subscription_identifiers;           /* default true */
    /* Limits against one client or one address (docs/SECURITY.md "Limits"); 0 = unlimited. */
    uint32_t max_connections_per_ip;         /* sockets open at once from one address */
    uint32_t max_connection_rate_per_ip;     /* new sockets per second from one address */
    uint32_t max_messages_per_second;        /* PUBLISH packets per second per client */
    uint32_t max_bytes_per_second;           /* packet bytes per second per client */
    uint32_t max_subscriptions_per_minute;   /* filters subscribed per minute per client */
    uint64_t memory_limit;                   /* bytes in use past which new work is refused */
    uint32_t persistent_client_expiration_s; /* 0 = never */
    char *response_information;    /* "%c" expands to the client id; default "response/%c" */
    uint32_t session_expiry_max_s; /* cap on Session Expiry Interval; 0 = no cap
                                      (key "max_session_expiry") */
    /* The durable store (docs/OPERATIONS.md): off by default, so brokers started by tests
     * side by side never share a file. */
    bool persistence;
    char *persistence_location;      /* directory; NULL = the working directory */
    char *persistence_file;          /* default "mqttd.db" */
    bool durability_relaxed;         /* key "durability full|relaxed", default full */
    uint32_t durability_interval_ms; /* relaxed: commit period, default 100 ms */

    /* Parser state, not settings: which listener per-listener keys apply to. The default
     * listener is Mosquitto's (made by `port`, `bind_address` or per-listener keys before any
     * `listener` line); -1 = none yet. */
    int default_listener;
    int current_listener;
};

/* Fills *config with the defaults; no listeners. Returns -1 only when out of memory. */
int config_init(struct mq_config *config);

/* Frees every string and the listeners, and leaves *config zeroed. Safe on a zeroed struct. */
void config_free(struct mq_config *config);

/*
 * Applies one key/value (both borrowed; the config copies what it keeps). On error returns -1
 * and writes e.g. "unknown key 'x'" or "max_keepalive: '0' is not a number between 1 and 65535"
 * to err. Per-listener keys (certfile, protocol, ...) apply to the listener added last, or to
 * the default listener before any. `include_dir` loads files as config_load_file does.
 */
int config_set(struct mq_config *config, const char *key, const char *value, char *err,
               size_t errlen);

/*
 * Loads a file of `key value` lines (path borrowed). Lines whose first non-blank character is
 * '#' and blank lines are skipped; the value is the rest of the line with surrounding blanks
 * removed. Errors are "FILE:LINE: message"; the lines before the failing one stay applied.
 */
int config_load_file(struct mq_config *config, const char *path, char *err, size_t errlen);

/*
 * Adds a listener from a URL (borrowed): mqtt://HOST:PORT, mqtts://, ws://HOST:PORT/PATH,
 * wss://, quic://, with [ADDR] for IPv6 and default ports 1883, 8883, 8080, 8443, 14567. It
 * becomes the listener per-listener keys apply to. Implemented in listener_url.c.
 */
int config_add_listener_url(struct mq_config *config, const char *url, char *err, size_t errlen);

/*
 * Appends *listener and makes it the current listener. Takes ownership of the strings in
 * *listener whether it succeeds or not; a NULL path becomes "/mqtt". Fails when out of memory
 * or at MQ_CONFIG_MAX_LISTENERS.
 */
int config_add_listener(struct mq_config *config, struct mq_listener_config *listener, char *err,
                        size_t errlen);

/* Frees the strings of a listener not (or no longer) owned by a config, and zeroes it. */
void config_listener_free(struct mq_listener_config *listener);

#endif
