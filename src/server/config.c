/*
 * The configuration parser: defaults, one table naming every key with its type and range, and
 * the file reader. Every key, whether it comes from a file, the command line or an embedder,
 * goes through config_set, so all three are checked the same way and fail with the same words.
 *
 * Mosquitto compatibility shapes a few choices: its keys keep their names and meanings, its
 * "default listener" (`port`, `bind_address`, per-listener keys before any `listener` line) is
 * reproduced, and its keys that mqttd does not implement are refused by name rather than
 * ignored, so a user never believes a setting is in force when it is not.
 */
#include "server/config.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "codec/codec.h"

/* include_dir may name a directory that includes itself; stop long before the stack would. */
#define INCLUDE_DEPTH_MAX 8

/* Internal result: the failure message in err already names its file and line. */
#define ERR_LOCATED (-2)

#define MQTT_DEFAULT_PORT 1883

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int replace_string(char **field, const char *value, char *err, size_t errlen)
{
    char *copy = strdup(value);
    if (copy == NULL)
        return fail(err, errlen, "out of memory");
    free(*field);
    *field = copy;
    return 0;
}

/* Reads leading decimal digits; *rest points after them. False if none or on overflow. */
static bool parse_digits(const char *s, uint64_t *out, const char **rest)
{
    uint64_t v = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (p == s)
        return false;
    *out = v;
    *rest = p;
    return true;
}

static bool parse_number(const char *s, uint64_t *out)
{
    const char *rest;
    return parse_digits(s, out, &rest) && *rest == '\0';
}

/* A number with an optional unit suffix from `units` (names and multipliers, NULL-ended). */
struct unit {
    const char *suffix;
    uint64_t scale;
};

static bool parse_with_unit(const char *s, const struct unit *units, uint64_t *out)
{
    uint64_t v;
    const char *rest;
    if (!parse_digits(s, &v, &rest))
        return false;
    for (const struct unit *u = units; u->suffix != NULL; u++) {
        if (strcmp(rest, u->suffix) == 0) {
            if (v > UINT64_MAX / u->scale)
                return false;
            *out = v * u->scale;
            return true;
        }
    }
    return false;
}

/* Byte sizes: k, M and G are powers of 1024. */
static const struct unit size_units[] = {
    {"", 1}, {"k", 1024}, {"K", 1024}, {"M", 1024 * 1024}, {"G", 1024 * 1024 * 1024}, {NULL, 0},
};

/* Durations in seconds with Mosquitto's persistent_client_expiration units: m is a month. */
static const struct unit duration_units[] = {
    {"", 1},          {"s", 1},          {"h", 3600},        {"d", 86400},
    {"w", 7 * 86400}, {"m", 30 * 86400}, {"y", 365 * 86400}, {NULL, 0},
};

static bool parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    *out = false; /* callers read it only on success; gcc -O3 cannot see that */
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

static int bool_value(const char *key, const char *value, bool *out, char *err, size_t errlen)
{
    if (!parse_bool(value, out))
        return fail(err, errlen, "%s: '%.100s' is not a boolean (true or false)", key, value);
    return 0;
}

static int port_value(const char *key, const char *value, uint16_t *out, char *err, size_t errlen)
{
    uint64_t v;
    if (!parse_number(value, &v) || v < 1 || v > 65535)
        return fail(err, errlen, "%s: '%.100s' is not a port number between 1 and 65535", key,
                    value);
    *out = (uint16_t)v;
    return 0;
}

void config_listener_free(struct mq_listener_config *l)
{
    free(l->host);
    free(l->path);
    free(l->certfile);
    free(l->keyfile);
    free(l->cafile);
    free(l->capath);
    free(l->tls_version);
    free(l->ciphers);
    for (size_t i = 0; i < l->ws_origin_count; i++)
        free(l->ws_origins[i]);
    free(l->ws_origins);
    memset(l, 0, sizeof *l);
}

int config_add_listener(struct mq_config *c, struct mq_listener_config *l, char *err, size_t errlen)
{
    if (c->listener_count >= MQ_CONFIG_MAX_LISTENERS) {
        config_listener_free(l);
        return fail(err, errlen, "too many listeners (at most %d)", MQ_CONFIG_MAX_LISTENERS);
    }
    if (l->path == NULL && (l->path = strdup("/mqtt")) == NULL) {
        config_listener_free(l);
        return fail(err, errlen, "out of memory");
    }
    struct mq_listener_config *grown =
        realloc(c->listeners, (c->listener_count + 1) * sizeof *c->listeners);
    if (grown == NULL) {
        config_listener_free(l);
        return fail(err, errlen, "out of memory");
    }
    c->listeners = grown;
    c->listeners[c->listener_count] = *l;
    c->current_listener = (int)c->listener_count;
    c->listener_count++;
    memset(l, 0, sizeof *l);
    return 0;
}

static struct mq_listener_config *default_listener(struct mq_config *c, char *err, size_t errlen)
{
    if (c->default_listener < 0) {
        struct mq_listener_config l = {.port = MQTT_DEFAULT_PORT, .allow_anonymous = -1};
        int current = c->current_listener;
        if (config_add_listener(c, &l, err, errlen) != 0)
            return NULL;
        c->default_listener = c->current_listener;
        c->current_listener = current;
    }
    return &c->listeners[c->default_listener];
}

static struct mq_listener_config *current_listener(struct mq_config *c, char *err, size_t errlen)
{
    if (c->current_listener >= 0)
        return &c->listeners[c->current_listener];
    return default_listener(c, err, errlen);
}

/* Handlers for keys whose value is more than one typed field. `depth` counts include_dir
 * nesting. They return 0, -1 (message for the caller to locate) or ERR_LOCATED. */
typedef int (*key_handler)(struct mq_config *c, const char *key, const char *value, int depth,
                           char *err, size_t errlen);

static int load_file(struct mq_config *c, const char *path, int depth, char *err, size_t errlen);

static int set_allow_anonymous(struct mq_config *c, const char *key, const char *value, int depth,
                               char *err, size_t errlen)
{
    bool v;
    if (bool_value(key, value, &v, err, errlen) != 0)
        return -1;
    if (c->current_listener >= 0)
        c->listeners[c->current_listener].allow_anonymous = v;
    else
        c->allow_anonymous = v;
    return 0;
}

static int set_max_connections(struct mq_config *c, const char *key, const char *value, int depth,
                               char *err, size_t errlen)
{
    uint64_t v;
    if (strcmp(value, "-1") == 0) {
        c->max_connections = 0;
        return 0;
    }
    if (!parse_number(value, &v) || v > UINT32_MAX)
        return fail(err, errlen,
                    "%s: '%.100s' is not a number between 0 and %u (or -1 for unlimited)", key,
                    value, (unsigned)UINT32_MAX);
    c->max_connections = (uint32_t)v;
    return 0;
}

static int set_max_inflight(struct mq_config *c, const char *key, const char *value, int depth,
                            char *err, size_t errlen)
{
    uint64_t v;
    if (!parse_number(value, &v) || v > 65535)
        return fail(err, errlen, "%s: '%.100s' is not a number between 0 and 65535", key, value);
    /* Receive Maximum cannot be 0 on the wire; Mosquitto's 0 means "no limit", the widest. */
    c->max_inflight_messages = v == 0 ? 65535 : (uint16_t)v;
    return 0;
}

static int set_log_level(struct mq_config *c, const char *key, const char *value, int depth,
                         char *err, size_t errlen)
{
    static const char *const names[] = {"error", "warning", "notice", "info", "debug"};
    uint64_t v;
    for (int i = 0; i < 5; i++) {
        if (strcmp(value, names[i]) == 0) {
            c->log_level = i;
            return 0;
        }
    }
    if (!parse_number(value, &v) || v > 4)
        return fail(err, errlen,
                    "%s: '%.100s' is not one of error, warning, notice, info, debug (or 0 to 4)",
                    key, value);
    c->log_level = (int)v;
    return 0;
}

static int set_response_information(struct mq_config *c, const char *key, const char *value,
                                    int depth, char *err, size_t errlen)
{
    for (const char *p = strchr(value, '%'); p != NULL; p = strchr(p + 2, '%')) {
        if (p[1] != 'c' && p[1] != '%')
            return fail(err, errlen, "%s: '%.100s' has '%%%c'; only %%c (client id) and %%%% exist",
                        key, value, p[1] == '\0' ? ' ' : p[1]);
    }
    return replace_string(&c->response_information, value, err, errlen);
}

static int set_durability(struct mq_config *c, const char *key, const char *value, int depth,
                          char *err, size_t errlen)
{
    if (strcmp(value, "full") != 0 && strcmp(value, "relaxed") != 0)
        return fail(err, errlen, "%s: '%.100s' is neither full nor relaxed", key, value);
    c->durability_relaxed = strcmp(value, "relaxed") == 0;
    return 0;
}

static int set_workers(struct mq_config *c, const char *key, const char *value, int depth,
                       char *err, size_t errlen)
{
    uint64_t v;
    if (!parse_number(value, &v) || v > 1024)
        return fail(err, errlen,
                    "%s: '%.100s' is not a number between 0 and 1024 (0 = one per CPU)", key,
                    value);
    c->workers = (unsigned)v;
    return 0;
}

static int set_listener(struct mq_config *c, const char *key, const char *value, int depth,
                        char *err, size_t errlen)
{
    char port[16];
    const char *sp = value + strcspn(value, " \t");
    size_t plen = (size_t)(sp - value);
    const char *addr = sp + strspn(sp, " \t");
    size_t alen = strlen(addr);
    struct mq_listener_config l = {.allow_anonymous = -1};

    if (plen >= sizeof port || addr[strcspn(addr, " \t")] != '\0')
        return fail(err, errlen, "%s: '%.100s' is not PORT [ADDRESS]", key, value);
    memcpy(port, value, plen);
    port[plen] = '\0';
    if (port_value(key, port, &l.port, err, errlen) != 0)
        return -1;
    if (alen >= 2 && addr[0] == '[' && addr[alen - 1] == ']') {
        addr++;
        alen -= 2;
    }
    if (alen > 0 && (l.host = strndup(addr, alen)) == NULL)
        return fail(err, errlen, "out of memory");
    return config_add_listener(c, &l, err, errlen);
}

static int set_listen(struct mq_config *c, const char *key, const char *value, int depth, char *err,
                      size_t errlen)
{
    return config_add_listener_url(c, value, err, errlen);
}

static int set_port(struct mq_config *c, const char *key, const char *value, int depth, char *err,
                    size_t errlen)
{
    uint16_t port = 0;
    if (port_value(key, value, &port, err, errlen) != 0)
        return -1;
    struct mq_listener_config *l = default_listener(c, err, errlen);
    if (l == NULL)
        return -1;
    l->port = port;
    return 0;
}

static int set_bind_address(struct mq_config *c, const char *key, const char *value, int depth,
                            char *err, size_t errlen)
{
    struct mq_listener_config *l = default_listener(c, err, errlen);
    if (l == NULL)
        return -1;
    return replace_string(&l->host, value, err, errlen);
}

static int set_protocol(struct mq_config *c, const char *key, const char *value, int depth,
                        char *err, size_t errlen)
{
    enum mq_transport_kind plain, secure;
    if (strcmp(value, "mqtt") == 0) {
        plain = MQ_TRANSPORT_TCP;
        secure = MQ_TRANSPORT_TLS;
    } else if (strcmp(value, "websockets") == 0) {
        plain = MQ_TRANSPORT_WS;
        secure = MQ_TRANSPORT_WSS;
    } else if (strcmp(value, "quic") == 0) {
        plain = secure = MQ_TRANSPORT_QUIC;
    } else {
        return fail(err, errlen, "%s: '%.100s' is not one of mqtt, websockets, quic", key, value);
    }
    struct mq_listener_config *l = current_listener(c, err, errlen);
    if (l == NULL)
        return -1;
    bool tls =
        l->certfile != NULL || l->transport == MQ_TRANSPORT_TLS || l->transport == MQ_TRANSPORT_WSS;
    l->transport = tls ? secure : plain;
    return 0;
}

/* Listener string fields, looked up by key name. */
static char **listener_string(struct mq_listener_config *l, const char *key)
{
    if (strcmp(key, "certfile") == 0)
        return &l->certfile;
    if (strcmp(key, "keyfile") == 0)
        return &l->keyfile;
    if (strcmp(key, "cafile") == 0)
        return &l->cafile;
    if (strcmp(key, "capath") == 0)
        return &l->capath;
    if (strcmp(key, "ciphers") == 0)
        return &l->ciphers;
    return &l->tls_version;
}

static int set_listener_string(struct mq_config *c, const char *key, const char *value, int depth,
                               char *err, size_t errlen)
{
    if (strcmp(key, "tls_version") == 0 && strcmp(value, "tlsv1.3") != 0 &&
        strcmp(value, "tlsv1.2") != 0 && strcmp(value, "tlsv1.1") != 0)
        return fail(err, errlen, "%s: '%.100s' is not one of tlsv1.3, tlsv1.2, tlsv1.1", key,
                    value);
    struct mq_listener_config *l = current_listener(c, err, errlen);
    if (l == NULL || replace_string(listener_string(l, key), value, err, errlen) != 0)
        return -1;
    /* As in Mosquitto, a certificate is what makes a listener TLS. */
    if (strcmp(key, "certfile") == 0) {
        if (l->transport == MQ_TRANSPORT_TCP)
            l->transport = MQ_TRANSPORT_TLS;
        else if (l->transport == MQ_TRANSPORT_WS)
            l->transport = MQ_TRANSPORT_WSS;
    }
    return 0;
}

static int set_listener_bool(struct mq_config *c, const char *key, const char *value, int depth,
                             char *err, size_t errlen)
{
    bool v;
    if (bool_value(key, value, &v, err, errlen) != 0)
        return -1;
    struct mq_listener_config *l = current_listener(c, err, errlen);
    if (l == NULL)
        return -1;
    if (strcmp(key, "require_certificate") == 0)
        l->require_certificate = v;
    else if (strcmp(key, "quic_retry") == 0)
        l->quic_retry = v;
    else
        l->use_identity_as_username = v;
    return 0;
}

static int add_websockets_origin(struct mq_config *c, const char *key, const char *value, int depth,
                                 char *err, size_t errlen)
{
    struct mq_listener_config *l = current_listener(c, err, errlen);
    if (l == NULL)
        return -1;
    char **grown = realloc(l->ws_origins, (l->ws_origin_count + 1) * sizeof *grown);
    if (grown == NULL)
        return fail(err, errlen, "out of memory");
    l->ws_origins = grown;
    if ((grown[l->ws_origin_count] = strdup(value)) == NULL)
        return fail(err, errlen, "out of memory");
    l->ws_origin_count++;
    return 0;
}

static int set_websockets_max_frame_size(struct mq_config *c, const char *key, const char *value,
                                         int depth, char *err, size_t errlen)
{
    uint64_t v;
    if (!parse_with_unit(value, size_units, &v) || v > UINT64_MAX / 2)
        return fail(err, errlen, "%s: '%.100s' is not a size in bytes (suffix k, M or G allowed)",
                    key, value);
    struct mq_listener_config *l = current_listener(c, err, errlen);
    if (l == NULL)
        return -1;
    l->ws_max_frame_size = v;
    return 0;
}

/* Mosquitto's logging keys: harmless to accept, since log_level decides what mqttd prints. */
static int accept_logging_bool(struct mq_config *c, const char *key, const char *value, int depth,
                               char *err, size_t errlen)
{
    bool v;
    return bool_value(key, value, &v, err, errlen);
}

static int accept_log_type(struct mq_config *c, const char *key, const char *value, int depth,
                           char *err, size_t errlen)
{
    static const char *const types[] = {"debug",       "error",     "warning",     "notice",
                                        "information", "subscribe", "unsubscribe", "websockets",
                                        "none",        "all"};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (strcmp(value, types[i]) == 0)
            return 0;
    }
    return fail(err, errlen, "%s: '%.100s' is not a Mosquitto log type", key, value);
}

static int accept_log_dest(struct mq_config *c, const char *key, const char *value, int depth,
                           char *err, size_t errlen)
{
    if (strcmp(value, "stdout") == 0 || strcmp(value, "stderr") == 0)
        return 0;
    return fail(err, errlen, "%s: '%.100s' is not supported by mqttd (yet); use stdout or stderr",
                key, value);
}

static int accept_per_listener_settings(struct mq_config *c, const char *key, const char *value,
                                        int depth, char *err, size_t errlen)
{
    bool v;
    if (bool_value(key, value, &v, err, errlen) != 0)
        return -1;
    if (v)
        return fail(err, errlen, "%s: 'true' is not supported by mqttd (yet)", key);
    return 0;
}

/* Mosquitto sorts include_dir files case-insensitively; ties fall back to bytes. */
static int compare_names(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    int r = strcasecmp(x, y);
    return r != 0 ? r : strcmp(x, y);
}

static bool is_conf_name(const char *name)
{
    size_t n = strlen(name);
    return n > 5 && name[0] != '.' && strcmp(name + n - 5, ".conf") == 0;
}

static void free_names(char **names, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

static int include_dir(struct mq_config *c, const char *key, const char *value, int depth,
                       char *err, size_t errlen)
{
    if (depth >= INCLUDE_DEPTH_MAX)
        return fail(err, errlen, "%s: nested more than %d deep", key, INCLUDE_DEPTH_MAX);
    DIR *dir = opendir(value);
    if (dir == NULL)
        return fail(err, errlen, "%s: cannot open '%.200s': %s", key, value, strerror(errno));
    char **names = NULL;
    size_t count = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (!is_conf_name(e->d_name))
            continue;
        char **grown = realloc(names, (count + 1) * sizeof *names);
        char *path = malloc(strlen(value) + strlen(e->d_name) + 2);
        if (grown != NULL)
            names = grown;
        if (grown == NULL || path == NULL) {
            free(path);
            free_names(names, count);
            closedir(dir);
            return fail(err, errlen, "out of memory");
        }
        snprintf(path, strlen(value) + strlen(e->d_name) + 2, "%s/%s", value, e->d_name);
        names[count++] = path;
    }
    closedir(dir);
    qsort(names, count, sizeof *names, compare_names);
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++)
        rc = load_file(c, names[i], depth + 1, err, errlen);
    free_names(names, count);
    return rc;
}

enum key_kind { KEY_BOOL, KEY_NUMBER, KEY_SIZE, KEY_DURATION, KEY_STRING, KEY_HANDLER };

struct key_def {
    const char *name;
    enum key_kind kind;
    size_t offset, width; /* the field in struct mq_config */
    uint64_t min, max;    /* inclusive, before `scale` */
    uint64_t scale;       /* stored value = parsed value * scale (seconds to ms) */
    key_handler handler;
};

#define FIELD(f) offsetof(struct mq_config, f), sizeof(((struct mq_config *)0)->f)
#define BOOL_KEY(n, f)                                                                             \
    {                                                                                              \
        n, KEY_BOOL, FIELD(f), 0, 1, 1, NULL                                                       \
    }
#define NUM_KEY(n, kind, f, lo, hi)                                                                \
    {                                                                                              \
        n, kind, FIELD(f), lo, hi, 1, NULL                                                         \
    }
#define STR_KEY(n, f)                                                                              \
    {                                                                                              \
        n, KEY_STRING, FIELD(f), 0, 0, 1, NULL                                                     \
    }
#define HANDLER_KEY(n, h)                                                                          \
    {                                                                                              \
        n, KEY_HANDLER, 0, 0, 0, 0, 1, h                                                           \
    }

static const struct key_def keys[] = {
    HANDLER_KEY("workers", set_workers),
    NUM_KEY("io_linger_us", KEY_NUMBER, io_linger_us, 0, 10000),
    NUM_KEY("sys_interval", KEY_DURATION, sys_interval_s, 0, 86400),
    HANDLER_KEY("log_level", set_log_level),
    HANDLER_KEY("allow_anonymous", set_allow_anonymous),
    STR_KEY("password_file", password_file),
    STR_KEY("acl_file", acl_file),
    HANDLER_KEY("max_connections", set_max_connections),
    NUM_KEY("max_packet_size", KEY_SIZE, max_packet_size, 20, MQ_MAX_PACKET_SIZE),
    NUM_KEY("message_size_limit", KEY_SIZE, message_size_limit, 0, MQ_MAX_REMAINING_LENGTH),
    HANDLER_KEY("max_inflight_messages", set_max_inflight),
    NUM_KEY("max_queued_messages", KEY_NUMBER, max_queued_messages, 0, UINT32_MAX),
    NUM_KEY("max_queued_bytes", KEY_SIZE, max_queued_bytes, 0, UINT64_MAX),
    NUM_KEY("max_output_backlog", KEY_SIZE, max_output_backlog, 65536, UINT32_MAX),
    BOOL_KEY("queue_qos0_messages", queue_qos0_messages),
    NUM_KEY("max_keepalive", KEY_NUMBER, max_keepalive, 1, 65535),
    {"connect_timeout", KEY_DURATION, FIELD(connect_timeout_ms), 1, 3600, 1000, NULL},
    BOOL_KEY("retain_available", retain_available),
    NUM_KEY("max_qos", KEY_NUMBER, max_qos, 0, 2),
    NUM_KEY("max_topic_alias", KEY_NUMBER, max_topic_alias, 0, 65535),
    NUM_KEY("outgoing_topic_aliases", KEY_NUMBER, max_topic_alias_out, 0, 65535),
    NUM_KEY("max_topic_levels", KEY_NUMBER, max_topic_levels, 1, 1024),
    NUM_KEY("max_topic_length", KEY_NUMBER, max_topic_length, 1, 65535),
    NUM_KEY("max_subscriptions_per_client", KEY_NUMBER, max_subscriptions_per_client, 0,
            UINT32_MAX),
    BOOL_KEY("shared_subscriptions", shared_subscriptions),
    NUM_KEY("max_connections_per_ip", KEY_NUMBER, max_connections_per_ip, 0, UINT32_MAX),
    NUM_KEY("max_connection_rate_per_ip", KEY_NUMBER, max_connection_rate_per_ip, 0, 1000000),
    NUM_KEY("max_messages_per_second", KEY_NUMBER, max_messages_per_second, 0, 1000000),
    NUM_KEY("max_bytes_per_second", KEY_SIZE, max_bytes_per_second, 0, 2000000000),
    NUM_KEY("max_subscriptions_per_minute", KEY_NUMBER, max_subscriptions_per_minute, 0, 60000),
    NUM_KEY("memory_limit", KEY_SIZE, memory_limit, 0, UINT64_MAX),
    BOOL_KEY("wildcard_subscriptions", wildcard_subscriptions),
    BOOL_KEY("subscription_identifiers", subscription_identifiers),
    NUM_KEY("persistent_client_expiration", KEY_DURATION, persistent_client_expiration_s, 0,
            UINT32_MAX),
    HANDLER_KEY("response_information", set_response_information),
    NUM_KEY("max_session_expiry", KEY_DURATION, session_expiry_max_s, 0, UINT32_MAX),
    BOOL_KEY("persistence", persistence),
    STR_KEY("persistence_location", persistence_location),
    STR_KEY("persistence_file", persistence_file),
    HANDLER_KEY("durability", set_durability),
    NUM_KEY("durability_interval", KEY_NUMBER, durability_interval_ms, 1, 60000),
    HANDLER_KEY("listener", set_listener),
    HANDLER_KEY("listen", set_listen),
    HANDLER_KEY("port", set_port),
    HANDLER_KEY("bind_address", set_bind_address),
    HANDLER_KEY("protocol", set_protocol),
    HANDLER_KEY("certfile", set_listener_string),
    HANDLER_KEY("keyfile", set_listener_string),
    HANDLER_KEY("cafile", set_listener_string),
    HANDLER_KEY("capath", set_listener_string),
    HANDLER_KEY("tls_version", set_listener_string),
    HANDLER_KEY("ciphers", set_listener_string),
    HANDLER_KEY("require_certificate", set_listener_bool),
    HANDLER_KEY("use_identity_as_username", set_listener_bool),
    HANDLER_KEY("quic_retry", set_listener_bool),
    HANDLER_KEY("websockets_origin", add_websockets_origin),
    HANDLER_KEY("websockets_max_frame_size", set_websockets_max_frame_size),
    HANDLER_KEY("include_dir", include_dir),
    HANDLER_KEY("per_listener_settings", accept_per_listener_settings),
    HANDLER_KEY("log_type", accept_log_type),
    HANDLER_KEY("log_dest", accept_log_dest),
    HANDLER_KEY("connection_messages", accept_logging_bool),
    HANDLER_KEY("log_timestamp", accept_logging_bool),
};

/* Mosquitto keys mqttd does not implement: refused by name so nobody thinks they work. */
static const char *const unsupported_keys[] = {
    "accept_protocol_versions",
    "address",
    "addresses",
    "allow_duplicate_messages",
    "allow_zero_length_clientid",
    "auth_plugin",
    "auth_plugin_deny_special_chars",
    "autosave_interval",
    "autosave_on_changes",
    "bind_interface",
    "check_retain_source",
    "ciphers_tls1.3",
    "cleansession",
    "clientid_prefixes",
    "connection",
    "crlfile",
    "dhparamfile",
    "enable_control_api",
    "global_max_clients",
    "global_max_connections",
    "http_dir",
    "idle_timeout",
    "keepalive_interval",
    "local_clientid",
    "local_cleansession",
    "local_password",
    "local_username",
    "log_facility",
    "log_timestamp_format",
    "max_inflight_bytes",
    "mount_point",
    "notification_topic",
    "notifications",
    "notifications_local_only",
    "pid_file",
    "plugin",
    "psk_file",
    "psk_hint",
    "remote_clientid",
    "remote_password",
    "remote_username",
    "restart_timeout",
    "retry_interval",
    "round_robin",
    "set_tcp_nodelay",
    "socket_domain",
    "start_type",
    "store_clean_interval",
    "threshold",
    "tls_engine",
    "tls_engine_kpass_sha1",
    "tls_keyform",
    "topic",
    "try_private",
    "upgrade_outgoing_qos",
    "use_subject_as_username",
    "use_username_as_clientid",
    "user",
    "websockets_headers_size",
    "websockets_log_level",
};
static const char *const unsupported_prefixes[] = {"bridge_", "plugin_opt_", "auth_opt_"};

static bool is_unsupported(const char *key)
{
    for (size_t i = 0; i < sizeof unsupported_keys / sizeof unsupported_keys[0]; i++) {
        if (strcmp(key, unsupported_keys[i]) == 0)
            return true;
    }
    for (size_t i = 0; i < sizeof unsupported_prefixes / sizeof unsupported_prefixes[0]; i++) {
        if (strncmp(key, unsupported_prefixes[i], strlen(unsupported_prefixes[i])) == 0)
            return true;
    }
    return false;
}

static void store_uint(struct mq_config *c, const struct key_def *k, uint64_t v)
{
    unsigned char *field = (unsigned char *)c + k->offset;
    if (k->width == sizeof(uint8_t)) {
        uint8_t x = (uint8_t)v;
        memcpy(field, &x, sizeof x);
    } else if (k->width == sizeof(uint16_t)) {
        uint16_t x = (uint16_t)v;
        memcpy(field, &x, sizeof x);
    } else if (k->width == sizeof(uint32_t)) {
        uint32_t x = (uint32_t)v;
        memcpy(field, &x, sizeof x);
    } else {
        memcpy(field, &v, sizeof v);
    }
}

static int apply_key(struct mq_config *c, const struct key_def *k, const char *value, int depth,
                     char *err, size_t errlen)
{
    unsigned char *field = (unsigned char *)c + k->offset;
    uint64_t v = 0;
    bool ok = false;
    switch (k->kind) {
    case KEY_BOOL: {
        bool b;
        if (bool_value(k->name, value, &b, err, errlen) != 0)
            return -1;
        memcpy(field, &b, sizeof b);
        return 0;
    }
    case KEY_STRING:
        return replace_string((char **)(void *)field, value, err, errlen);
    case KEY_NUMBER:
        ok = parse_number(value, &v);
        break;
    case KEY_SIZE:
        ok = parse_with_unit(value, size_units, &v);
        break;
    case KEY_DURATION:
        ok = parse_with_unit(value, duration_units, &v);
        break;
    case KEY_HANDLER:
        return k->handler(c, k->name, value, depth, err, errlen);
    }
    if (!ok || v < k->min || v > k->max) {
        static const char *const what[] = {
            [KEY_NUMBER] = "a number",
            [KEY_SIZE] = "a size",
            [KEY_DURATION] = "a duration",
        };
        static const char *const hint[] = {
            [KEY_NUMBER] = "",
            [KEY_SIZE] = " bytes (suffix k, M or G allowed)",
            [KEY_DURATION] = " seconds (suffix s, h, d, w, m or y allowed)",
        };
        return fail(err, errlen, "%s: '%.100s' is not %s between %llu and %llu%s", k->name, value,
                    what[k->kind], (unsigned long long)k->min, (unsigned long long)k->max,
                    hint[k->kind]);
    }
    store_uint(c, k, v * k->scale);
    return 0;
}

static int set_key(struct mq_config *c, const char *key, const char *value, int depth, char *err,
                   size_t errlen)
{
    const struct key_def *k = NULL;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (strcmp(key, keys[i].name) == 0) {
            k = &keys[i];
            break;
        }
    }
    if (k == NULL) {
        if (is_unsupported(key))
            return fail(err, errlen, "%s: not supported by mqttd (yet)", key);
        return fail(err, errlen, "unknown key '%.100s'", key);
    }
    if (value == NULL || value[0] == '\0')
        return fail(err, errlen, "%s: missing value", key);
    return apply_key(c, k, value, depth, err, errlen);
}

int config_init(struct mq_config *c)
{
    memset(c, 0, sizeof *c);
    c->log_level = 2;
    c->allow_anonymous = true;
    c->io_linger_us = 250;
    c->sys_interval_s = 10;
    c->max_output_backlog = 8u * 1024u * 1024u;
    c->max_packet_size = MQ_MAX_PACKET_SIZE;
    c->max_inflight_messages = 100;
    c->max_queued_messages = 1000;
    c->max_keepalive = 65535;
    c->connect_timeout_ms = 10000;
    c->retain_available = true;
    c->max_qos = 2;
    c->max_topic_alias = 10;
    c->max_topic_alias_out = 64;
    c->max_topic_length = 65535;
    c->max_topic_levels = 200;
    c->shared_subscriptions = true;
    c->wildcard_subscriptions = true;
    c->subscription_identifiers = true;
    c->default_listener = -1;
    c->current_listener = -1;
    c->durability_interval_ms = 100;
    c->response_information = strdup("response/%c");
    c->persistence_file = strdup("mqttd.db");
    return c->response_information == NULL || c->persistence_file == NULL ? -1 : 0;
}

void config_free(struct mq_config *c)
{
    for (size_t i = 0; i < c->listener_count; i++)
        config_listener_free(&c->listeners[i]);
    free(c->listeners);
    free(c->password_file);
    free(c->acl_file);
    free(c->response_information);
    free(c->persistence_location);
    free(c->persistence_file);
    memset(c, 0, sizeof *c);
}

int config_set(struct mq_config *c, const char *key, const char *value, char *err, size_t errlen)
{
    if (key == NULL)
        return fail(err, errlen, "missing key");
    return set_key(c, key, value, 0, err, errlen) == 0 ? 0 : -1;
}

static bool is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\f' || ch == '\v';
}

/* Splits one line in place into key and value; returns false for blank and comment lines. */
static bool split_line(char *line, size_t len, char **key, char **value)
{
    while (len > 0 && is_blank(line[len - 1]))
        line[--len] = '\0';
    char *p = line;
    while (is_blank(*p))
        p++;
    if (*p == '\0' || *p == '#')
        return false;
    *key = p;
    while (*p != '\0' && !is_blank(*p))
        p++;
    if (*p != '\0')
        *p++ = '\0';
    while (is_blank(*p))
        p++;
    *value = p;
    return true;
}

static int load_file(struct mq_config *c, const char *path, int depth, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return ERR_LOCATED;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    unsigned lineno = 0;
    int rc = 0;
    char msg[512];
    while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
        char *key, *value;
        lineno++;
        if (strlen(line) != (size_t)n) {
            fail(err, errlen, "%s:%u: line contains a NUL byte", path, lineno);
            rc = ERR_LOCATED;
        } else if (split_line(line, (size_t)n, &key, &value)) {
            rc = set_key(c, key, value, depth, msg, sizeof msg);
            if (rc == ERR_LOCATED)
                fail(err, errlen, "%s", msg);
            else if (rc != 0)
                fail(err, errlen, "%s:%u: %s", path, lineno, msg);
            rc = rc == 0 ? 0 : ERR_LOCATED;
        }
    }
    if (rc == 0 && ferror(f)) {
        fail(err, errlen, "%s: read error: %s", path, strerror(errno));
        rc = ERR_LOCATED;
    }
    free(line);
    fclose(f);
    return rc;
}

int config_load_file(struct mq_config *c, const char *path, char *err, size_t errlen)
{
    return load_file(c, path, 0, err, errlen) == 0 ? 0 : -1;
}
