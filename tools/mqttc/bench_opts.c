/*
 * Command line of `mqttc bench SCENARIO [options]`, its per-scenario defaults and its help
 * text, plus bench_main, the entry point mqttc's main dispatches to.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

void bench_usage(void)
{
    printf("Usage: mqttc bench SCENARIO [options]\n"
           "\n"
           "Scenarios:\n"
           "  fanin    P publishers on bench/<i> -> S subscribers on bench/#  (-P 10 -S 1)\n"
           "  p2p      P pairs, one topic per pair                          (-P 10)\n"
           "  fanout   P publishers -> S subscribers on one topic           (-P 1 -S 100)\n"
           "  pub      P publishers on TOPIC/<i>, nobody subscribed here     (-P 1)\n"
           "  sub      S subscribers on the filter TOPIC/#                   (-S 1)\n"
           "  conn     open N connections (CONNECT -> CONNACK), hold them idle (-c 1000)\n"
           "\n"
           "Options:\n"
           "  -h, --host HOST       broker host (127.0.0.1)\n"
           "  -p, --port PORT       broker port (1883)\n"
           "  -L, --url URL         mqtt://, mqtts://, ws://, wss:// or quic://host[:port]\n"
           "                        instead of -h/-p: the transport and the broker address\n"
           "  -q, --qos 0|1|2       QoS of publishes and subscriptions (0)\n"
           "  -s, --size BYTES      payload size, >= 16: send time and sequence number first (64)\n"
           "  -r, --rate R          total offered messages/s, paced evenly across publishers;\n"
           "                        conn: connections/s. 0 = as fast as possible (0)\n"
           "      --inflight W      unacknowledged QoS 1/2 messages per publisher (64);\n"
           "                        conn: connections being set up at once (256)\n"
           "      --backlog BYTES   unwritten bytes allowed per publisher (65536)\n"
           "  -V, --protocol 4|5    MQTT 3.1.1 or 5.0 (5)\n"
           "  -P, --publishers P    -S, --subscribers S    -c, --connections N\n"
           "      --slow K          K extra subscribers that stop reading once subscribed\n"
           "  -t, --topic TOPIC     pub/sub: topic prefix (bench)\n"
           "  -d, --duration S      measured seconds (10)      -w, --warmup S  not counted (2)\n"
           "      --drain S         seconds allowed for late deliveries after the window (3)\n"
           "      --hold S          conn: seconds to hold the connections idle (5)\n"
           "  -k, --keepalive S     keep alive sent in CONNECT (60); PINGREQ at half of it\n"
           "      --sources N       source addresses 127.0.0.1..127.0.0.N (8)\n"
           "      --pid PID         the broker's PID: report its CPU seconds and RSS\n"
           "      --json            one JSON object on stdout\n"
           "      --label TEXT      a label copied into the report\n"
           "      --cafile FILE     TLS/QUIC: trusted CA certificates (the system's)\n"
           "      --cert FILE       TLS: client certificate   --key FILE  its key\n"
           "      --insecure        do not check the server's name in its certificate\n"
           "      --tls-resume      TLS: the first connection runs alone, and every later one\n"
           "                        resumes its session (ticket)\n"
           "      --quic-timeout MS QUIC handshake time limit (3000)\n"
           "      --quic-ticket FILE QUIC: keep the session ticket in FILE and send CONNECT in\n"
           "                        0-RTT when FILE holds one (the first connection runs alone)\n"
           "      --help            this text\n"
           "\n"
           "Every socket has TCP_NODELAY set; writes are batched once per loop iteration\n"
           "(one TLS record run or one WebSocket frame per connection and iteration).\n"
           "QUIC runs one bridge thread per connection: a few hundred per process.\n");
}

struct scenario_name {
    const char *name;
    enum bench_scenario scenario;
    uint32_t publishers, subscribers;
};

static const struct scenario_name scenarios[] = {
    {"fanin", BENCH_FANIN, 10, 1}, {"p2p", BENCH_P2P, 10, 0}, {"fanout", BENCH_FANOUT, 1, 100},
    {"pub", BENCH_PUB, 1, 0},      {"sub", BENCH_SUB, 0, 1},  {"conn", BENCH_CONN, 0, 0},
};

static int parse_num(const char *arg, const char *opt, double lo, double hi, double *out)
{
    char *end = NULL;
    double v = strtod(arg, &end);
    if (!end || *end != '\0' || end == arg || v < lo || v > hi) {
        fprintf(stderr, "Error: %s wants a number from %g to %g, not \"%s\"\n", opt, lo, hi, arg);
        return -1;
    }
    *out = v;
    return 0;
}

struct scheme {
    const char *prefix, *name;
    enum bench_transport transport;
    const char *default_port;
};

static const struct scheme schemes[] = {
    {"mqtt://", "mqtt", BENCH_TCP, "1883"},   {"mqtts://", "mqtts", BENCH_TLS, "8883"},
    {"ws://", "ws", BENCH_WS, "8080"},        {"wss://", "wss", BENCH_WSS, "8443"},
    {"quic://", "quic", BENCH_QUIC, "14567"},
};

/* -L SCHEME://host[:port][/anything]: only the transport and the broker address matter here
 * ([v6] allowed). The port defaults to the scheme's. */
static int set_url(struct bench_opts *o, const char *arg)
{
    const struct scheme *sc = NULL;
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
        if (strncmp(arg, schemes[i].prefix, strlen(schemes[i].prefix)) == 0)
            sc = &schemes[i];
    if (!sc) {
        fprintf(stderr,
                "Error: -L wants mqtt://, mqtts://, ws://, wss:// or quic://host[:port], not "
                "\"%s\"\n",
                arg);
        return -1;
    }
    o->transport = sc->transport;
    o->transport_name = sc->name;
    snprintf(o->port, sizeof o->port, "%s", sc->default_port);
    const char *h = arg + strlen(sc->prefix);
    const char *at = strchr(h, '@');
    const char *slash = strchr(h, '/');
    if (at && (!slash || at < slash))
        h = at + 1;
    size_t hlen = strcspn(h, "/");
    const char *host = h, *port = NULL;
    size_t host_len = hlen;
    if (*h == '[') {
        const char *close = memchr(h, ']', hlen);
        if (!close) {
            fprintf(stderr, "Error: -L: unterminated [ in \"%s\"\n", arg);
            return -1;
        }
        host = h + 1;
        host_len = (size_t)(close - host);
        if (close + 1 < h + hlen && close[1] == ':')
            port = close + 2;
    } else {
        const char *colon = memchr(h, ':', hlen);
        if (colon) {
            host_len = (size_t)(colon - h);
            port = colon + 1;
        }
    }
    size_t port_len = port ? (size_t)(h + hlen - port) : 0;
    if (host_len == 0 || host_len >= sizeof o->host || port_len >= sizeof o->port ||
        (port && port_len == 0)) {
        fprintf(stderr, "Error: -L: bad host or port in \"%s\"\n", arg);
        return -1;
    }
    snprintf(o->host, sizeof o->host, "%.*s", (int)host_len, host);
    if (port)
        snprintf(o->port, sizeof o->port, "%.*s", (int)port_len, port);
    return 0;
}

static void set_defaults(struct bench_opts *o, const struct scenario_name *s)
{
    memset(o, 0, sizeof *o);
    o->scenario = s->scenario;
    o->scenario_name = s->name;
    snprintf(o->host, sizeof o->host, "127.0.0.1");
    snprintf(o->port, sizeof o->port, "1883");
    o->version = 5;
    o->payload_size = 64;
    o->inflight = s->scenario == BENCH_CONN ? 256 : 64;
    o->backlog = 65536;
    o->publishers = s->publishers;
    o->subscribers = s->subscribers;
    o->connections = 1000;
    o->source_addrs = 8;
    o->duration = 10;
    o->warmup = 2;
    o->drain = 3;
    o->hold = 5;
    o->keep_alive = 60;
    o->label = "";
    o->topic = "bench";
    o->transport = BENCH_TCP;
    o->transport_name = "mqtt";
    o->quic_timeout_ms = 3000;
}

int bench_opts_parse(int argc, char **argv, struct bench_opts *o)
{
    const struct scenario_name *s = NULL;
    for (size_t i = 0; argc > 0 && i < sizeof scenarios / sizeof scenarios[0]; i++)
        if (strcmp(argv[0], scenarios[i].name) == 0)
            s = &scenarios[i];
    if (!s) {
        if (argc > 0 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "help") == 0)) {
            bench_usage();
            return 1;
        }
        fprintf(stderr, "Error: mqttc bench needs a scenario (mqttc bench --help)\n");
        return -1;
    }
    set_defaults(o, s);

    enum {
        O_INFLIGHT = 256,
        O_BACKLOG,
        O_SLOW,
        O_DRAIN,
        O_HOLD,
        O_SOURCES,
        O_PID,
        O_JSON,
        O_LABEL,
        O_CAFILE,
        O_CERT,
        O_KEY,
        O_INSECURE,
        O_TLS_RESUME,
        O_QUIC_TIMEOUT,
        O_QUIC_TICKET,
        O_HELP
    };
    static const struct option longopts[] = {
        {"host", required_argument, NULL, 'h'},
        {"port", required_argument, NULL, 'p'},
        {"url", required_argument, NULL, 'L'},
        {"qos", required_argument, NULL, 'q'},
        {"size", required_argument, NULL, 's'},
        {"rate", required_argument, NULL, 'r'},
        {"protocol", required_argument, NULL, 'V'},
        {"publishers", required_argument, NULL, 'P'},
        {"subscribers", required_argument, NULL, 'S'},
        {"connections", required_argument, NULL, 'c'},
        {"topic", required_argument, NULL, 't'},
        {"duration", required_argument, NULL, 'd'},
        {"warmup", required_argument, NULL, 'w'},
        {"keepalive", required_argument, NULL, 'k'},
        {"inflight", required_argument, NULL, O_INFLIGHT},
        {"backlog", required_argument, NULL, O_BACKLOG},
        {"slow", required_argument, NULL, O_SLOW},
        {"drain", required_argument, NULL, O_DRAIN},
        {"hold", required_argument, NULL, O_HOLD},
        {"sources", required_argument, NULL, O_SOURCES},
        {"pid", required_argument, NULL, O_PID},
        {"json", no_argument, NULL, O_JSON},
        {"label", required_argument, NULL, O_LABEL},
        {"cafile", required_argument, NULL, O_CAFILE},
        {"cert", required_argument, NULL, O_CERT},
        {"key", required_argument, NULL, O_KEY},
        {"insecure", no_argument, NULL, O_INSECURE},
        {"tls-resume", no_argument, NULL, O_TLS_RESUME},
        {"quic-timeout", required_argument, NULL, O_QUIC_TIMEOUT},
        {"quic-ticket", required_argument, NULL, O_QUIC_TICKET},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    int ch;
    double v = 0;
    while ((ch = getopt_long(argc, argv, "h:p:L:q:s:r:V:P:S:c:t:d:w:k:", longopts, NULL)) != -1) {
        int rc = 0;
        switch (ch) {
        case 'h':
            snprintf(o->host, sizeof o->host, "%s", optarg);
            break;
        case 'p':
            if ((rc = parse_num(optarg, "-p", 1, 65535, &v)) == 0)
                snprintf(o->port, sizeof o->port, "%u", (unsigned)v);
            break;
        case 'L':
            rc = set_url(o, optarg);
            break;
        case 'q':
            if ((rc = parse_num(optarg, "-q", 0, 2, &v)) == 0)
                o->qos = (uint8_t)v;
            break;
        case 's':
            if ((rc = parse_num(optarg, "-s", 16, 16 * 1024 * 1024, &v)) == 0)
                o->payload_size = (uint32_t)v;
            break;
        case 'r':
            rc = parse_num(optarg, "-r", 0, 1e9, &o->rate);
            break;
        case 'V':
            if ((rc = parse_num(optarg, "-V", 4, 5, &v)) == 0)
                o->version = (uint8_t)v;
            break;
        case 'P':
            if ((rc = parse_num(optarg, "-P", 0, 100000, &v)) == 0)
                o->publishers = (uint32_t)v;
            break;
        case 'S':
            if ((rc = parse_num(optarg, "-S", 0, 100000, &v)) == 0)
                o->subscribers = (uint32_t)v;
            break;
        case 'c':
            if ((rc = parse_num(optarg, "-c", 1, 10000000, &v)) == 0)
                o->connections = (uint32_t)v;
            break;
        case 't':
            o->topic = optarg;
            break;
        case 'd':
            rc = parse_num(optarg, "-d", 0.1, 86400, &o->duration);
            break;
        case 'w':
            rc = parse_num(optarg, "-w", 0, 86400, &o->warmup);
            break;
        case 'k':
            if ((rc = parse_num(optarg, "-k", 0, 65535, &v)) == 0)
                o->keep_alive = (uint16_t)v;
            break;
        case O_INFLIGHT:
            if ((rc = parse_num(optarg, "--inflight", 1, 65000, &v)) == 0)
                o->inflight = (uint32_t)v;
            break;
        case O_BACKLOG:
            if ((rc = parse_num(optarg, "--backlog", 1024, 1 << 30, &v)) == 0)
                o->backlog = (uint32_t)v;
            break;
        case O_SLOW:
            if ((rc = parse_num(optarg, "--slow", 0, 100000, &v)) == 0)
                o->slow = (uint32_t)v;
            break;
        case O_DRAIN:
            rc = parse_num(optarg, "--drain", 0, 3600, &o->drain);
            break;
        case O_HOLD:
            rc = parse_num(optarg, "--hold", 0, 86400, &o->hold);
            break;
        case O_SOURCES:
            if ((rc = parse_num(optarg, "--sources", 1, 254, &v)) == 0)
                o->source_addrs = (uint32_t)v;
            break;
        case O_PID:
            if ((rc = parse_num(optarg, "--pid", 1, 1 << 30, &v)) == 0)
                o->pid = (int)v;
            break;
        case O_JSON:
            o->json = true;
            break;
        case O_LABEL:
            o->label = optarg;
            break;
        case O_CAFILE:
            o->cafile = optarg;
            break;
        case O_CERT:
            o->certfile = optarg;
            break;
        case O_KEY:
            o->keyfile = optarg;
            break;
        case O_INSECURE:
            o->insecure = true;
            break;
        case O_TLS_RESUME:
            o->tls_resume = true;
            break;
        case O_QUIC_TIMEOUT:
            if ((rc = parse_num(optarg, "--quic-timeout", 1, 600000, &v)) == 0)
                o->quic_timeout_ms = (int)v;
            break;
        case O_QUIC_TICKET:
            o->quic_ticket = optarg;
            break;
        case O_HELP:
            bench_usage();
            return 1;
        default:
            fprintf(stderr, "Error: unknown option (mqttc bench --help)\n");
            return -1;
        }
        if (rc < 0)
            return -1;
    }
    if (optind < argc) {
        fprintf(stderr, "Error: unexpected argument \"%s\"\n", argv[optind]);
        return -1;
    }
    bool needs_pub = o->scenario != BENCH_SUB && o->scenario != BENCH_CONN;
    bool needs_sub = o->scenario == BENCH_FANIN || o->scenario == BENCH_FANOUT;
    if ((needs_pub && o->publishers == 0) || (needs_sub && o->subscribers == 0) ||
        (o->scenario == BENCH_SUB && o->subscribers == 0)) {
        fprintf(stderr, "Error: %s needs at least one publisher and subscriber\n", s->name);
        return -1;
    }
    return 0;
}

int bench_main(int argc, char **argv)
{
    struct bench_opts o;
    int rc = bench_opts_parse(argc - 1, argv + 1, &o);
    if (rc != 0)
        return rc > 0 ? 0 : 1;
    signal(SIGPIPE, SIG_IGN);
    if (o.scenario == BENCH_CONN)
        return bench_run_conn(&o);
    return bench_run_traffic(&o);
}
