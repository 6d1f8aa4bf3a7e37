/*
 * Per-connection token buckets, the memory ceiling and the limits counters (see limits.h).
 */
#include "session/limits.h"

#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "server/log.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define LIMITS_SANITIZER_ALLOCATOR 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define LIMITS_SANITIZER_ALLOCATOR 1
#endif
#endif

#ifdef LIMITS_SANITIZER_ALLOCATOR
/* The sanitizers' allocator keeps freed blocks in quarantine and maps shadow memory, so the
 * resident set says little there; their own count of live bytes is exact. */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

/* Units of one message, one subscription (see limits.h). */
#define MSG_UNIT 1000u
#define SUB_UNIT 60000u
/* Free pages are handed back to the system at most this often while over the limit. */
#define TRIM_INTERVAL_MS 1000u

/* Whole bytes refilled per ms: the byte rate rounded up to a multiple of 1000 per second. */
static uint32_t bytes_per_ms(const struct mq_config *cfg)
{
    return (cfg->max_bytes_per_second + 999u) / 1000u;
}

static uint32_t drain(uint32_t used, uint32_t elapsed_ms, uint32_t per_ms)
{
    uint64_t back = (uint64_t)elapsed_ms * per_ms;
    return back >= used ? 0 : used - (uint32_t)back;
}

void limits_refill(struct conn_limits *l, const struct mq_config *cfg, uint32_t now_ms)
{
    uint32_t elapsed = now_ms - l->stamp_ms;
    if (elapsed == 0)
        return;
    l->stamp_ms = now_ms;
    l->msgs_used = drain(l->msgs_used, elapsed, cfg->max_messages_per_second);
    l->bytes_used = drain(l->bytes_used, elapsed, bytes_per_ms(cfg));
    l->subs_used = drain(l->subs_used, elapsed, cfg->max_subscriptions_per_minute);
}

bool limits_admit_packet(struct conn_limits *l, const struct mq_config *cfg, bool publish,
                         uint32_t len, uint32_t now_ms)
{
    limits_refill(l, cfg, now_ms);
    uint32_t msg_rate = publish ? cfg->max_messages_per_second : 0;
    uint32_t byte_rate = bytes_per_ms(cfg);
    if (msg_rate && l->msgs_used > msg_rate * MSG_UNIT - MSG_UNIT)
        return false;
    if (byte_rate && l->bytes_used >= byte_rate * 1000u)
        return false;
    if (msg_rate)
        l->msgs_used += MSG_UNIT;
    if (byte_rate)
        l->bytes_used = len > UINT32_MAX - l->bytes_used ? UINT32_MAX : l->bytes_used + len;
    return true;
}

bool limits_admit_subscription(struct conn_limits *l, const struct mq_config *cfg, uint32_t now_ms)
{
    uint32_t rate = cfg->max_subscriptions_per_minute;
    if (!rate)
        return true;
    limits_refill(l, cfg, now_ms);
    if (l->subs_used > rate * SUB_UNIT - SUB_UNIT)
        return false;
    l->subs_used += SUB_UNIT;
    return true;
}

/* Bytes in use: see limits_sample_memory. 0 when it cannot be read. */
static uint64_t memory_in_use(void)
{
#ifdef LIMITS_SANITIZER_ALLOCATOR
    return __sanitizer_get_current_allocated_bytes();
#else
    char text[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0)
        return 0;
    text[n] = 0;
    unsigned long long size_pages, resident_pages;
    if (sscanf(text, "%llu %llu", &size_pages, &resident_pages) != 2)
        return 0;
    return resident_pages * (uint64_t)sysconf(_SC_PAGESIZE);
#endif
}

void limits_sample_memory(struct mq_limits *m, const struct mq_config *cfg, uint64_t now_ms)
{
    if (!cfg->memory_limit)
        return;
    uint64_t used = memory_in_use();
    bool was_over = limits_memory_over(m);
    if (used > cfg->memory_limit && now_ms - m->last_trim_ms >= TRIM_INTERVAL_MS) {
        /* Freed memory may sit in the allocator's free lists; count only what is really used. */
        m->last_trim_ms = now_ms;
        malloc_trim(0);
        used = memory_in_use();
    }
    bool over = used > cfg->memory_limit;
    atomic_store_explicit(&m->memory_used, used, memory_order_relaxed);
    atomic_store_explicit(&m->memory_over, over, memory_order_relaxed);
    if (over && !was_over)
        log_warning("memory in use %llu bytes is above memory_limit %llu: refusing new "
                    "connections and QoS 1/2 messages",
                    (unsigned long long)used, (unsigned long long)cfg->memory_limit);
    else if (!over && was_over)
        log_notice("memory in use %llu bytes is below memory_limit %llu again",
                   (unsigned long long)used, (unsigned long long)cfg->memory_limit);
}

void limits_stats(const struct mq_limits *m, struct mqttd_stats *out)
{
#define LOAD(f) atomic_load_explicit(&m->f, memory_order_relaxed)
    out->limits_connections_refused = LOAD(connections_refused);
    out->limits_ip_connections_refused = LOAD(ip_connections_refused);
    out->limits_ip_rate_refused = LOAD(ip_rate_refused);
    out->limits_rate_throttled = LOAD(rate_throttled);
    out->limits_rate_disconnected = LOAD(rate_disconnected);
    out->limits_subscribe_rate_refused = LOAD(subscribe_rate_refused);
    out->limits_subscriptions_refused = LOAD(subscriptions_refused);
    out->limits_packets_too_large = LOAD(packets_too_large);
    out->limits_payloads_too_large = LOAD(payloads_too_large);
    out->limits_connect_timeouts = LOAD(connect_timeouts);
    out->limits_receive_maximum_exceeded = LOAD(receive_maximum_exceeded);
    out->limits_memory_refused = LOAD(memory_refused);
    out->limits_memory_used = LOAD(memory_used);
    out->limits_memory_over = LOAD(memory_over);
#undef LOAD
}

enum ip_verdict limits_admit_address(struct mq_limits *m, const struct sockaddr *peer,
                                     uint64_t now_ms, uint32_t *slot)
{
    if (!m->ip_table)
        return IP_ADMITTED;
    enum ip_verdict v = ip_table_admit(m->ip_table, peer, now_ms, slot);
    if (v == IP_TOO_MANY)
        LIMITS_COUNT(m, ip_connections_refused);
    else if (v == IP_TOO_FAST)
        LIMITS_COUNT(m, ip_rate_refused);
    return v;
}
