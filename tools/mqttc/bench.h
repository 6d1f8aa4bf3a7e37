/*
 * `mqttc bench`: a load generator for any MQTT broker. This header holds what the bench files
 * share: the options, the latency histogram, the broker/process probes and the scenario
 * entry points. The engine itself (one epoll loop, many connections) is in bench_engine.h.
 */
#ifndef MQTTC_BENCH_H
#define MQTTC_BENCH_H

#include <stdbool.h>
#include <stdint.h>

enum bench_scenario {
    BENCH_CONN,
    BENCH_PUB,
    BENCH_SUB,
    BENCH_FANIN,
    BENCH_P2P,
    BENCH_FANOUT,
};

/* What carries the MQTT bytes (the -L URL's scheme). */
enum bench_transport {
    BENCH_TCP,  /* mqtt:// */
    BENCH_TLS,  /* mqtts:// */
    BENCH_WS,   /* ws:// */
    BENCH_WSS,  /* wss:// */
    BENCH_QUIC, /* quic:// */
};

struct bench_opts {
    enum bench_scenario scenario;
    const char *scenario_name;
    char host[256];
    char port[16];
    uint8_t qos;
    uint8_t version;       /* 4 (3.1.1) or 5 */
    uint32_t payload_size; /* >= 16: timestamp and sequence number first */
    double rate;           /* total offered messages/s (conn: connections/s); 0 = unpaced */
    uint32_t inflight;     /* unacknowledged QoS 1/2 messages per publisher (conn: connects) */
    uint32_t backlog;      /* QoS 0 unpaced: unwritten bytes allowed per publisher */
    uint32_t publishers;   /* -P */
    uint32_t subscribers;  /* -S */
    uint32_t slow;         /* subscribers that stop reading once subscribed */
    uint32_t connections;  /* -c, conn scenario */
    uint32_t source_addrs; /* spread source addresses over 127.0.0.1 .. 127.0.0.N */
    double duration;       /* measured window, seconds */
    double warmup;         /* seconds before the window, not counted */
    double drain;          /* seconds allowed after the window for deliveries to arrive */
    double hold;           /* conn: seconds to hold the connections idle */
    uint16_t keep_alive;   /* seconds, sent in CONNECT; PINGREQ at half of it */
    int pid;               /* broker PID for CPU and RSS, 0 = unknown */
    bool json;
    const char *label;
    const char *topic; /* pub/sub alone: topic (pub) or filter (sub) */
    enum bench_transport transport;
    const char *transport_name; /* the URL scheme: "mqtt", "mqtts", "ws", "wss", "quic" */
    const char *cafile;         /* TLS and QUIC: trusted CAs (NULL: the system's) */
    const char *certfile;       /* TLS: client certificate, and its key */
    const char *keyfile;
    bool insecure;           /* do not check the server's name against its certificate */
    bool tls_resume;         /* TLS: resume the first connection's session in the others */
    int quic_timeout_ms;     /* QUIC handshake time limit */
    const char *quic_ticket; /* QUIC: session ticket file for 0-RTT (NULL: none) */
};

/* Parses `mqttc bench SCENARIO [options]` (argv[0] is the scenario). Returns 0, 1 when help was
 * printed, or -1 after printing an error. */
int bench_opts_parse(int argc, char **argv, struct bench_opts *o);
void bench_usage(void);

/*
 * Latency histogram in HDR style: values (nanoseconds) fall into 32 linear sub-buckets per
 * power of two, so every recorded value is known to within about 3 %, over the whole range of
 * uint64_t, in a fixed array (no allocation per value).
 */
#define BENCH_HIST_SUB 32
#define BENCH_HIST_BUCKETS (60 * BENCH_HIST_SUB)
struct bench_hist {
    uint64_t counts[BENCH_HIST_BUCKETS];
    uint64_t total;
    uint64_t max;
};
void bench_hist_record(struct bench_hist *h, uint64_t value);
/* The value at or below which fraction p (0..1) of the recorded values lie; 0 when empty. */
uint64_t bench_hist_percentile(const struct bench_hist *h, double p);

/* Clocks and probes. */
uint64_t bench_now_ns(void); /* CLOCK_MONOTONIC */
/* utime+stime of process `pid` (all its threads) in seconds, from /proc/PID/stat; -1 if gone. */
double bench_proc_cpu_s(int pid);
/* VmRSS of `pid` in kB from /proc/PID/status; -1 if unknown. */
long bench_proc_rss_kb(int pid);
/* CPU seconds (user+system) of this process, plus its waited-for children when `children`. */
double bench_self_cpu_s(bool children);

/* The scenarios; each returns the process exit status. */
int bench_run_traffic(const struct bench_opts *o);
int bench_run_conn(const struct bench_opts *o);

/* Entry point from mqttc's main: argv[0] is "bench". */
int bench_main(int argc, char **argv);

#endif
