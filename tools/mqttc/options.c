/*
 * Command-line parsing for mqttc pub and sub (see options.h). Hand-written rather than getopt
 * because -D takes three or four arguments and mosquitto's long options mix with short ones.
 */
#include "options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef MQTTD_VERSION
#define MQTTD_VERSION "unknown"
#endif

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "Error: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nUse 'mqttc pub --help' or 'mqttc sub --help' to see usage.\n");
    return -1;
}

static int parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *s == '\0' || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_version(const char *s, uint8_t *out)
{
    if (strcmp(s, "mqttv31") == 0 || strcmp(s, "31") == 0)
        *out = MQ_V31;
    else if (strcmp(s, "mqttv311") == 0 || strcmp(s, "311") == 0)
        *out = MQ_V311;
    else if (strcmp(s, "mqttv5") == 0 || strcmp(s, "5") == 0)
        *out = MQ_V5;
    else
        return -1;
    return 0;
}

static int push(const char ***list, size_t *count, const char *value)
{
    const char **grown = realloc(*list, (*count + 1) * sizeof **list);
    if (!grown)
        return -1;
    grown[(*count)++] = value;
    *list = grown;
    return 0;
}

static bool has_wildcard(const char *topic)
{
    return strpbrk(topic, "+#") != NULL;
}

/* A topic filter as the spec allows it: '+' fills a whole level, '#' a whole last level
 * [MQTT-4.7.1-1], [MQTT-4.7.1-2]. Checked here so the mistake is named before connecting. */
static bool valid_filter(const char *f)
{
    if (*f == '\0')
        return false;
    for (const char *p = f; *p; p++) {
        bool level_start = p == f || p[-1] == '/';
        bool level_end = p[1] == '\0' || p[1] == '/';
        if (*p == '+' && !(level_start && level_end))
            return false;
        if (*p == '#' && !(level_start && p[1] == '\0'))
            return false;
    }
    return true;
}

static int push_filter(const char ***list, size_t *count, const char *filter)
{
    if (!valid_filter(filter))
        return usage_error("Invalid topic filter \"%s\".", filter);
    return push(list, count, filter);
}

static int set_payload(struct mqttc_options *o, enum payload_source src, const char *value)
{
    if (o->payload != PAYLOAD_UNSET)
        return usage_error("Only one of -m, -f, -l, -n and -s can be given%s.", "");
    o->payload = src;
    o->message = value;
    return 0;
}

static int apply_url(struct mqttc_options *o, const char *url)
{
    char err[256];
    if (o->url.storage)
        return usage_error("-L can be given only once%s.", "");
    if (url_parse(url, &o->url, err, sizeof err) < 0)
        return usage_error("%s", err);
    o->host = o->url.host;
    if (o->url.port) {
        o->port = o->url.port;
        o->port_given = true;
    }
    o->use_tls |= o->url.tls;
    o->use_quic |= o->url.quic;
    if (o->url.ws && !o->url.port) {
        o->port = o->url.tls ? "8443" : "8080";
        o->port_given = true;
    }
    if (o->url.username)
        o->username = o->url.username;
    if (o->url.password)
        o->password = o->url.password;
    if (o->mode == OPTIONS_SUB)
        return push_filter(&o->topics, &o->topic_count, o->url.topic);
    if (has_wildcard(o->url.topic))
        return usage_error("Invalid publish topic \"%s\": no wildcards allowed.", o->url.topic);
    o->topic = o->url.topic;
    return 0;
}

static int parse_define(struct mqttc_options *o, int argc, char **argv, int *i)
{
    if (*i + 3 >= argc)
        return usage_error("-D needs COMMAND PROPERTY VALUE%s.", "");
    const char *command = argv[*i + 1];
    const char *property = argv[*i + 2];
    int values = props_value_count(property);
    if (values < 0)
        return usage_error("Invalid property \"%s\" for -D.", property);
    if (*i + 2 + values >= argc)
        return usage_error("Missing value for -D property \"%s\".", property);
    char err[256];
    if (props_add(&o->props, command, property, argv[*i + 3], values == 2 ? argv[*i + 4] : NULL,
                  err, sizeof err) < 0)
        return usage_error("%s.", err);
    *i += 2 + values;
    o->props_given = true;
    return 0;
}

/* Options that take one value; returns 1 when `flag` is not one of them. */
static int parse_valued(struct mqttc_options *o, const char *flag, const char *v)
{
    long n;
    bool sub = o->mode == OPTIONS_SUB;
    if (strcmp(flag, "-h") == 0) {
        o->host = v;
    } else if (strcmp(flag, "-p") == 0) {
        if (parse_long(v, 1, 65535, &n) < 0)
            return usage_error("Invalid port \"%s\".", v);
        o->port = v;
        o->port_given = true;
    } else if (strcmp(flag, "-t") == 0) {
        if (sub)
            return push_filter(&o->topics, &o->topic_count, v);
        if (o->topic)
            return usage_error("Duplicate topic argument \"%s\".", v);
        if (has_wildcard(v))
            return usage_error("Invalid publish topic \"%s\": no wildcards allowed.", v);
        o->topic = v;
    } else if (strcmp(flag, "-q") == 0) {
        if (parse_long(v, 0, 2, &n) < 0)
            return usage_error("Invalid QoS \"%s\" (0, 1 or 2).", v);
        o->qos = (uint8_t)n;
    } else if (strcmp(flag, "-V") == 0) {
        if (parse_version(v, &o->version) < 0)
            return usage_error("Invalid protocol version \"%s\" (mqttv31, mqttv311, mqttv5).", v);
    } else if (strcmp(flag, "-u") == 0) {
        o->username = v;
    } else if (strcmp(flag, "-P") == 0) {
        o->password = v;
    } else if (strcmp(flag, "-i") == 0) {
        o->client_id = v;
    } else if (strcmp(flag, "-I") == 0) {
        snprintf(o->generated_id, sizeof o->generated_id, "%s%ld", v, (long)getpid());
        o->client_id = o->generated_id;
    } else if (strcmp(flag, "-k") == 0) {
        if (parse_long(v, 0, 65535, &n) < 0)
            return usage_error("Invalid keep-alive \"%s\" (0 to 65535).", v);
        o->keep_alive = (uint16_t)n;
    } else if (strcmp(flag, "-x") == 0) {
        if (strcmp(v, "-1") == 0 || strcmp(v, "\u221e") == 0)
            n = UINT32_MAX;
        else if (parse_long(v, 0, UINT32_MAX, &n) < 0)
            return usage_error("Invalid session expiry interval \"%s\".", v);
        o->session_expiry_set = true;
        o->session_expiry = (uint32_t)n;
    } else if (strcmp(flag, "-L") == 0) {
        return apply_url(o, v);
    } else if (strcmp(flag, "--cafile") == 0) {
        o->tls.cafile = v;
        o->use_tls = true;
    } else if (strcmp(flag, "--cert") == 0) {
        o->tls.certfile = v;
        o->use_tls = true;
    } else if (strcmp(flag, "--key") == 0) {
        o->tls.keyfile = v;
    } else if (strcmp(flag, "--quic-timeout") == 0) {
        if (parse_long(v, 1, 600000, &n) < 0)
            return usage_error("Invalid --quic-timeout \"%s\" (milliseconds).", v);
        o->quic.handshake_timeout_ms = (int)n;
    } else if (strcmp(flag, "--quic-ticket") == 0) {
        o->quic.ticket_file = v;
    } else if (strcmp(flag, "--quic-migrate-after") == 0) {
        if (parse_long(v, 1, 1000000000, &n) < 0)
            return usage_error("Invalid --quic-migrate-after \"%s\".", v);
        o->quic.migrate_after = n;
    } else if (strcmp(flag, "--fallback") == 0) {
        char host[256], port[8];
        if (net_quic_parse_fallback(v, host, sizeof host, port, sizeof port) < 0)
            return usage_error("Invalid --fallback \"%s\" (expected mqtt://HOST[:PORT]).", v);
        o->quic.fallback = v;
    } else if (strcmp(flag, "--will-topic") == 0) {
        if (has_wildcard(v))
            return usage_error("Invalid will topic \"%s\": no wildcards allowed.", v);
        o->will_topic = v;
    } else if (strcmp(flag, "--will-payload") == 0) {
        o->will_payload = v;
    } else if (strcmp(flag, "--will-qos") == 0) {
        if (parse_long(v, 0, 2, &n) < 0)
            return usage_error("Invalid will QoS \"%s\".", v);
        o->will_qos = (uint8_t)n;
    } else if (!sub && strcmp(flag, "-m") == 0) {
        return set_payload(o, PAYLOAD_MESSAGE, v);
    } else if (!sub && strcmp(flag, "-f") == 0) {
        return set_payload(o, PAYLOAD_FILE, v);
    } else if (sub && strcmp(flag, "-C") == 0) {
        if (parse_long(v, 1, 1000000000, &o->count) < 0)
            return usage_error("Invalid message count \"%s\".", v);
    } else if (sub && strcmp(flag, "-W") == 0) {
        if (parse_long(v, 1, 2000000, &o->timeout) < 0)
            return usage_error("Invalid timeout \"%s\".", v);
    } else if (sub && strcmp(flag, "-T") == 0) {
        return push_filter(&o->filter_out, &o->filter_out_count, v);
    } else if (sub && strcmp(flag, "-U") == 0) {
        return push_filter(&o->unsubscribe, &o->unsubscribe_count, v);
    } else if (sub && strcmp(flag, "-F") == 0) {
        o->format = v;
    } else {
        return 1;
    }
    return 0;
}

/* Options without a value; returns 1 when `flag` is not one of them. */
static int parse_switch(struct mqttc_options *o, const char *flag)
{
    bool sub = o->mode == OPTIONS_SUB;
    if (strcmp(flag, "-d") == 0)
        o->debug = true;
    else if (strcmp(flag, "-c") == 0)
        o->persistent = true;
    else if (strcmp(flag, "--will-retain") == 0)
        o->will_retain = true;
    else if (strcmp(flag, "--insecure") == 0)
        o->tls.insecure = true;
    else if (!sub && strcmp(flag, "-r") == 0)
        o->retain = true;
    else if (!sub && strcmp(flag, "-l") == 0)
        return set_payload(o, PAYLOAD_LINES, NULL);
    else if (!sub && strcmp(flag, "-n") == 0)
        return set_payload(o, PAYLOAD_NULL, NULL);
    else if (!sub && strcmp(flag, "-s") == 0)
        return set_payload(o, PAYLOAD_STDIN, NULL);
    else if (sub && strcmp(flag, "-v") == 0)
        o->verbose = true;
    else if (sub && strcmp(flag, "-R") == 0)
        o->no_retained = true;
    else if (sub && strcmp(flag, "-N") == 0)
        o->no_eol = true;
    else if (sub && strcmp(flag, "--retain-as-published") == 0)
        o->retain_as_published = true;
    else if (sub && strcmp(flag, "--no-local") == 0)
        o->no_local = true;
    else
        return 1;
    return 0;
}

static int finish(struct mqttc_options *o)
{
    if (o->use_quic) {
        /* QUIC has TLS inside: --cafile and --insecure apply to it, not to a TCP+TLS link. */
        o->use_tls = false;
        if (!o->port_given)
            o->port = "14567";
        o->quic.cafile = o->tls.cafile;
        o->quic.insecure = o->tls.insecure;
        o->quic.keep_alive = o->keep_alive;
        o->quic.debug = o->debug;
    }
    if (o->use_tls && !o->port_given)
        o->port = "8883";
    if (o->tls.keyfile && !o->tls.certfile)
        return usage_error("--key needs --cert%s.", "");
    if (o->mode == OPTIONS_PUB && (!o->topic || o->payload == PAYLOAD_UNSET))
        return usage_error("Both topic and message must be supplied (-t and one of "
                           "-m, -f, -l, -n, -s)%s.",
                           "");
    if (o->mode == OPTIONS_SUB && o->topic_count == 0 && o->unsubscribe_count == 0)
        return usage_error("You must specify a topic to subscribe to (-t, -U or -L)%s.", "");
    if (o->will_payload && !o->will_topic)
        return usage_error("Will payload given, but no will topic%s.", "");
    if (o->persistent && !o->client_id)
        return usage_error("You must provide a client id (-i or -I) with -c%s.", "");
    if (o->version != MQ_V5 && o->mode == OPTIONS_SUB && (o->no_local || o->retain_as_published))
        return usage_error("--no-local and --retain-as-published need MQTT v5%s.", "");
    if (o->props_given && o->version != MQ_V5)
        return usage_error("-D properties need MQTT v5%s.", "");
    if (!o->client_id && o->version != MQ_V5) {
        /* A v5 server assigns an identifier to an empty one; older levels need ours. */
        snprintf(o->generated_id, sizeof o->generated_id, "mqttc-%s-%ld",
                 o->mode == OPTIONS_PUB ? "pub" : "sub", (long)getpid());
        o->client_id = o->generated_id;
    }
    mq_props *cp = &o->props.props[PROPS_CONNECT];
    bool expiry_given = cp->present & MQ_PROP_BIT(MQ_PROP_SESSION_EXPIRY_INTERVAL);
    if (o->session_expiry_set || (o->persistent && !expiry_given)) {
        /* -c alone keeps the session forever, as mosquitto's clients do. */
        cp->session_expiry_interval = o->session_expiry_set ? o->session_expiry : UINT32_MAX;
        cp->present |= MQ_PROP_BIT(MQ_PROP_SESSION_EXPIRY_INTERVAL);
    }
    return 0;
}

int options_parse(struct mqttc_options *o, enum options_mode mode, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    o->mode = mode;
    o->host = "localhost";
    o->port = "1883";
    o->version = MQ_V5;
    o->keep_alive = 60;
    for (int i = 1; i < argc; i++) {
        const char *flag = argv[i];
        if (strcmp(flag, "--help") == 0) {
            options_help(mode);
            return 1;
        }
        if (strcmp(flag, "--version") == 0) {
            printf("mqttc %s (MQTT 5.0, 3.1.1, 3.1)\n", MQTTD_VERSION);
            return 1;
        }
        if (strcmp(flag, "-D") == 0) {
            if (parse_define(o, argc, argv, &i) < 0)
                return -1;
            continue;
        }
        int rc = parse_switch(o, flag);
        if (rc < 0)
            return -1;
        if (rc == 0)
            continue;
        if (i + 1 >= argc) {
            if (parse_valued(o, flag, "") == 1)
                return usage_error("Unknown option \"%s\".", flag);
            return usage_error("Option \"%s\" needs a value.", flag);
        }
        rc = parse_valued(o, flag, argv[i + 1]);
        if (rc < 0)
            return -1;
        if (rc == 1)
            return usage_error("Unknown option \"%s\".", flag);
        i++;
    }
    return finish(o);
}

void options_connect(const struct mqttc_options *o, struct mqttc_connect_options *co)
{
    memset(co, 0, sizeof *co);
    co->host = o->host;
    co->port = o->port;
    co->version = o->version;
    co->client_id = o->client_id;
    co->username = o->username;
    co->password = o->password;
    co->keep_alive = o->keep_alive;
    co->clean_start = !o->persistent;
    co->props = o->props.props[PROPS_CONNECT];
    co->timeout_ms = 10000;
    co->debug = o->debug;
    co->tls = o->use_tls ? &o->tls : NULL;
    co->quic = o->use_quic ? &o->quic : NULL;
    co->ws_path = o->url.ws ? "/mqtt" : NULL;
    if (o->will_topic) {
        co->will.topic = o->will_topic;
        co->will.payload = (const uint8_t *)o->will_payload;
        co->will.payload_len = o->will_payload ? strlen(o->will_payload) : 0;
        co->will.qos = o->will_qos;
        co->will.retain = o->will_retain;
        co->will.props = o->props.props[PROPS_WILL];
    }
}

void options_free(struct mqttc_options *o)
{
    free(o->topics);
    free(o->filter_out);
    free(o->unsubscribe);
    props_free(&o->props);
    url_free(&o->url);
}
