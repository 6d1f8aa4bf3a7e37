/*
 * Limits that keep one client, one address or the broker's own memory use from hurting
 * everyone else (docs/SECURITY.md, "Limits"): the token buckets every connection carries
 * (messages and bytes per second, subscriptions per minute), the memory ceiling sampled on the
 * worker tick, and the counters behind the limits_* fields of struct mqttd_stats.
 *
 * Cost: a connection carries 16 bytes of buckets, zero when it is new (a zero bucket is a full
 * one). A packet costs one refill (a subtraction per bucket from the loop's cached time) and a
 * comparison; no lock, no system call, nothing when no rate is configured.
 *
 * Buckets count what was used below full, in units that make every refill an integer: 1/1000
 * message (a rate of R per second refills R units per ms), bytes (refilled in whole bytes per ms,
 * so byte rates take effect in steps of 1000 per second), 1/60000 subscription (N per minute
 * refills N units per ms). Each bucket holds one period's worth: one second of messages and
 * bytes, one minute of subscriptions.
 */
#ifndef MQTTD_SESSION_LIMITS_H
#define MQTTD_SESSION_LIMITS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "mqttd.h"
#include "server/config.h"
#include "server/ip_table.h"

struct ip_table;

/* One connection's buckets. All zero (calloc) is all full. */
struct conn_limits {
    uint32_t stamp_ms;   /* when they were last refilled (milliseconds, wrapping) */
    uint32_t msgs_used;  /* 1/1000 messages */
    uint32_t bytes_used; /* bytes; past the capacity is debt, repaid before the next packet */
    uint32_t subs_used;  /* 1/60000 subscriptions */
};

/* The broker's share: counters (every field of struct mqttd_stats named limits_*), the memory
 * state, and the per-address table. Zeroed with the broker; ip_table is set by whoever runs
 * the listeners (app.c) before the workers start, and freed after they stop. */
struct mq_limits {
    atomic_uint_fast64_t connections_refused;
    atomic_uint_fast64_t ip_connections_refused;
    atomic_uint_fast64_t ip_rate_refused;
    atomic_uint_fast64_t rate_throttled;
    atomic_uint_fast64_t rate_disconnected;
    atomic_uint_fast64_t subscribe_rate_refused;
    atomic_uint_fast64_t subscriptions_refused;
    atomic_uint_fast64_t packets_too_large;
    atomic_uint_fast64_t payloads_too_large;
    atomic_uint_fast64_t connect_timeouts;
    atomic_uint_fast64_t receive_maximum_exceeded;
    atomic_uint_fast64_t memory_refused;
    atomic_uint_fast64_t memory_used; /* bytes at the last sample; 0 without memory_limit */
    atomic_bool memory_over;
    uint64_t last_trim_ms; /* worker 0 only */
    struct ip_table *ip_table;
};

/* Adds one to a counter of struct mq_limits. */
#define LIMITS_COUNT(limits, field)                                                                \
    atomic_fetch_add_explicit(&(limits)->field, 1, memory_order_relaxed)

/* True when a message or byte rate is configured, i.e. when packets must be admitted. */
static inline bool limits_rates_on(const struct mq_config *cfg)
{
    return cfg->max_messages_per_second || cfg->max_bytes_per_second;
}

/* Refills the buckets for the time since their last refill. */
void limits_refill(struct conn_limits *l, const struct mq_config *cfg, uint32_t now_ms);

/*
 * Admits one packet of `len` bytes (a PUBLISH when `publish`): takes its message and its bytes
 * and returns true, or returns false and takes nothing when a bucket is empty. A packet needs
 * the byte bucket not to be in debt, not to hold all its bytes, so a packet larger than one
 * second's worth still passes and is paid for by waiting afterwards.
 */
bool limits_admit_packet(struct conn_limits *l, const struct mq_config *cfg, bool publish,
                         uint32_t len, uint32_t now_ms);

/* Admits one subscription under max_subscriptions_per_minute (takes it) or returns false. */
bool limits_admit_subscription(struct conn_limits *l, const struct mq_config *cfg, uint32_t now_ms);

/*
 * Samples the memory in use and sets memory_over against cfg->memory_limit (worker 0, on the
 * 100 ms tick; does nothing without a limit). In use is the resident set (/proc/self/statm: a
 * read of counters the kernel keeps), or the sanitizer allocator's count in ASan/TSan builds.
 * While over the limit, free heap pages are given back (malloc_trim) once a second, so that
 * memory freed by the drained queues shows and the broker recovers.
 */
void limits_sample_memory(struct mq_limits *m, const struct mq_config *cfg, uint64_t now_ms);

/* True while memory_limit is exceeded: new connections and QoS 1/2 PUBLISHes are refused. */
static inline bool limits_memory_over(const struct mq_limits *m)
{
    return atomic_load_explicit(&m->memory_over, memory_order_relaxed);
}

/* Copies the counters into the limits_* fields of *out. */
void limits_stats(const struct mq_limits *m, struct mqttd_stats *out);

/* The per-address limits for a new connection from `peer` (any transport): ip_table_admit on
 * the broker's table, IP_ADMITTED when there is none, and a refusal counted. */
enum ip_verdict limits_admit_address(struct mq_limits *m, const struct sockaddr *peer,
                                     uint64_t now_ms, uint32_t *slot);

#endif
