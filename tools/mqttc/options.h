/*
 * Command-line options of `mqttc pub` and `mqttc sub`, spelled like mosquitto_pub and
 * mosquitto_sub so habits carry over. Parsing checks everything it can before connecting.
 */
#ifndef MQTTC_OPTIONS_H
#define MQTTC_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "net_quic.h"
#include "net_tls.h"
#include "props.h"
#include "url.h"

enum options_mode { OPTIONS_PUB, OPTIONS_SUB };

enum payload_source {
    PAYLOAD_UNSET,
    PAYLOAD_MESSAGE, /* -m */
    PAYLOAD_FILE,    /* -f */
    PAYLOAD_LINES,   /* -l */
    PAYLOAD_STDIN,   /* -s */
    PAYLOAD_NULL,    /* -n */
};

/* Every string points into argv or into `url`; the lists are owned (options_free). */
struct mqttc_options {
    enum options_mode mode;
    const char *host;
    const char *port;
    uint8_t version;
    const char *client_id;
    char generated_id[64];
    const char *username;
    const char *password;
    uint16_t keep_alive;
    bool persistent; /* -c */
    bool session_expiry_set;
    uint32_t session_expiry; /* -x */
    uint8_t qos;
    bool debug;

    /* pub */
    const char *topic;
    enum payload_source payload;
    const char *message; /* -m text or -f file name */
    bool retain;

    /* sub */
    const char **topics; /* -t, repeatable */
    size_t topic_count;
    const char **filter_out; /* -T */
    size_t filter_out_count;
    const char **unsubscribe; /* -U */
    size_t unsubscribe_count;
    long count;   /* -C, 0: unlimited */
    long timeout; /* -W seconds, 0: none */
    bool verbose;
    bool no_retained; /* -R */
    bool no_eol;      /* -N */
    bool retain_as_published;
    bool no_local;
    const char *format; /* -F */

    const char *will_topic;
    const char *will_payload;
    uint8_t will_qos;
    bool will_retain;

    struct props_set props;
    bool props_given; /* any -D */
    struct url_parts url;
    bool port_given;
    bool use_tls; /* mqtts://, --cafile or --cert */
    struct net_tls_options tls;
    bool use_quic; /* quic:// */
    struct net_quic_options quic;
};

/*
 * Parses argv[1..argc) (argv[0] being the sub-command). Returns 0 when the command should run,
 * 1 when --help or --version was answered, -1 after printing an error to stderr.
 */
int options_parse(struct mqttc_options *o, enum options_mode mode, int argc, char **argv);

/* Fills the connect options for the client; `o` must outlive `co`. */
void options_connect(const struct mqttc_options *o, struct mqttc_connect_options *co);

void options_free(struct mqttc_options *o);

/* The --help text of a sub-command (help.c). */
void options_help(enum options_mode mode);

#endif
