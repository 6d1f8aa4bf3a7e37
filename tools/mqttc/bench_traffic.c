/*
 * The message scenarios of `mqttc bench` (fanin, p2p, fanout, pub, sub): lays out publishers
 * and subscribers, connects them all, publishes through a warm-up and a measured window, lets
 * late deliveries drain, then reports rates, loss, latency and the CPU and memory of the
 * broker and of the generator itself.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench_engine.h"
#include "bench_report.h"

#define CONNECT_TIMEOUT_NS (30ull * 1000000000ull)

static uint32_t count_subscribers(const struct bench_opts *o)
{
    switch (o->scenario) {
    case BENCH_P2P:
        return o->publishers + o->slow;
    case BENCH_PUB:
        return 0;
    default:
        return o->subscribers + o->slow;
    }
}

static uint32_t count_publishers(const struct bench_opts *o)
{
    return o->scenario == BENCH_SUB ? 0 : o->publishers;
}

/* Topics: fanin and pub use bench/<i> per publisher, p2p the same with a subscriber each,
 * fanout one topic for everyone; `fan` counts the reading subscribers a message reaches. */
static void lay_out(struct bench_engine *e, uint32_t nsub, uint32_t npub)
{
    const struct bench_opts *o = e->o;
    uint32_t readers = nsub - o->slow;
    for (uint32_t i = 0; i < nsub; i++) {
        struct bconn *c = &e->conns[i];
        c->role = BCONN_SUB;
        c->slow = i >= readers;
        if (o->scenario == BENCH_P2P)
            snprintf(c->topic, sizeof c->topic, "%s/%u", o->topic, i % o->publishers);
        else if (o->scenario == BENCH_FANOUT)
            snprintf(c->topic, sizeof c->topic, "%s/fanout", o->topic);
        else
            snprintf(c->topic, sizeof c->topic, "%s/#", o->topic);
    }
    for (uint32_t i = 0; i < npub; i++) {
        struct bconn *c = &e->conns[nsub + i];
        c->role = BCONN_PUB;
        c->phase = (double)i / (double)npub;
        if (o->scenario == BENCH_FANOUT)
            snprintf(c->topic, sizeof c->topic, "%s/fanout", o->topic);
        else
            snprintf(c->topic, sizeof c->topic, "%s/%u", o->topic, i);
        c->fan = o->scenario == BENCH_P2P ? 1 : o->scenario == BENCH_PUB ? 0 : readers;
    }
}

static int connect_all(struct bench_engine *e)
{
    uint64_t deadline = bench_now_ns() + CONNECT_TIMEOUT_NS;
    while (e->ready + e->dead < e->n && e->now < deadline)
        bench_engine_step(e, 10);
    if (e->ready == e->n)
        return 0;
    fprintf(stderr, "Error: only %u of %u connections were set up (%u refused or failed)\n",
            e->ready, e->n, e->dead);
    return -1;
}

struct probe {
    double broker_cpu, gen_cpu;
};

static struct probe probe_now(const struct bench_opts *o)
{
    struct probe p = {o->pid ? bench_proc_cpu_s(o->pid) : -1, bench_self_cpu_s(false)};
    return p;
}

static double per_s(uint64_t n, double s)
{
    return s > 0 ? (double)n / s : 0;
}

struct rss_samples {
    long start_kb, max_kb, end_kb; /* -1 when unknown */
};

static void report(const struct bench_engine *e, const struct probe *p0, const struct probe *p1,
                   const struct rss_samples *rss, double window_s)
{
    const struct bench_opts *o = e->o;
    bool loss_known = count_publishers(o) > 0 && o->scenario != BENCH_PUB;
    uint64_t lost = e->expected_win > e->delivered_win ? e->expected_win - e->delivered_win : 0;
    double broker_cpu =
        o->pid && p0->broker_cpu >= 0 && p1->broker_cpu >= 0 ? p1->broker_cpu - p0->broker_cpu : -1;
    double gen_cpu = p1->gen_cpu - p0->gen_cpu;
    const struct bench_hist *h = &e->hist;
    struct bench_field f[44];
    size_t n = 0;
    f[n++] = BF_STR("scenario", o->scenario_name);
    f[n++] = BF_STR("label", o->label);
    f[n++] = BF_STR("transport", o->transport_name);
    f[n++] = BF_NUM("protocol", o->version, NULL);
    f[n++] = BF_NUM("qos", o->qos, NULL);
    f[n++] = BF_NUM("payload_bytes", o->payload_size, "B");
    f[n++] = BF_NUM("publishers", count_publishers(o), NULL);
    f[n++] = BF_NUM("subscribers", count_subscribers(o) - o->slow, NULL);
    f[n++] = BF_NUM("slow_subscribers", o->slow, NULL);
    f[n++] = BF_NUM("rate_target", o->rate, "msg/s (0 = as fast as possible)");
    f[n++] = BF_NUM("inflight_window", o->inflight, "per publisher (QoS 1/2)");
    f[n++] = BF_BOOL("tcp_nodelay", true);
    f[n++] = BF_NUM("window_s", window_s, "s");
    f[n++] = BF_NUM("sent", e->sent_win, "messages");
    f[n++] = BF_NUM("offered_per_s", per_s(e->sent_win, window_s), "msg/s");
    f[n++] = BF_NUM("skipped", e->skipped, "paced messages not sent (window/backlog full)");
    f[n++] = BF_NUM("deliveries", e->recv_in_win, "received in the window");
    f[n++] = BF_NUM("delivered_per_s", per_s(e->recv_in_win, window_s), "msg/s");
    f[n++] = BF_NUM("foreign", e->foreign, "deliveries from other runs, not counted");
    if (loss_known) {
        f[n++] = BF_NUM("expected", e->expected_win, "deliveries of window messages");
        f[n++] = BF_NUM("lost", lost, "after drain");
        f[n++] = BF_NUM("loss_pct",
                        e->expected_win ? 100.0 * (double)lost / (double)e->expected_win : 0, "%");
    } else {
        f[n++] = BF_NULL("expected");
        f[n++] = BF_NULL("lost");
        f[n++] = BF_NULL("loss_pct");
    }
    static const char *const lat_keys[] = {"latency_p50_us", "latency_p90_us", "latency_p99_us",
                                           "latency_max_us"};
    static const double lat_at[] = {0.50, 0.90, 0.99, 1.0};
    for (size_t i = 0; i < 4; i++) {
        /* No window message arrived: a latency of 0 would flatter, so none is reported. */
        if (h->total == 0)
            f[n++] = BF_NULL(lat_keys[i]);
        else
            f[n++] = BF_NUM(lat_keys[i], (double)bench_hist_percentile(h, lat_at[i]) / 1e3, "us");
    }
    f[n++] = BF_NUM("unacked", e->inflight_total, "QoS 1/2 publishes never completed");
    f[n++] = BF_NUM("pub_refused", e->pub_refused, "acks with a failure reason code");
    f[n++] = BF_NUM("disconnects", e->lost_conns, "connections lost after set-up");
    if (broker_cpu >= 0) {
        f[n++] = BF_NUM("broker_cpu_s", broker_cpu, "s in the window");
        f[n++] = BF_NUM("broker_cpu_pct", 100.0 * broker_cpu / window_s, "% of one core");
        if (e->recv_in_win)
            f[n++] = BF_NUM("broker_cpu_s_per_million", broker_cpu * 1e6 / (double)e->recv_in_win,
                            "CPU-s per million deliveries");
        else
            f[n++] = BF_NULL("broker_cpu_s_per_million");
    } else {
        f[n++] = BF_NULL("broker_cpu_s");
        f[n++] = BF_NULL("broker_cpu_pct");
        f[n++] = BF_NULL("broker_cpu_s_per_million");
    }
    if (rss->end_kb >= 0) {
        f[n++] = BF_NUM("broker_rss_start_kb", rss->start_kb, "kB before publishing");
        f[n++] = BF_NUM("broker_rss_kb", rss->end_kb, "kB at the end");
        f[n++] = BF_NUM("broker_rss_max_kb", rss->max_kb, "kB, largest sample (1/s)");
    } else {
        f[n++] = BF_NULL("broker_rss_start_kb");
        f[n++] = BF_NULL("broker_rss_kb");
        f[n++] = BF_NULL("broker_rss_max_kb");
    }
    f[n++] = BF_NUM("gen_cpu_s", gen_cpu, "s in the window");
    f[n++] = BF_NUM("gen_cpu_pct", 100.0 * gen_cpu / window_s, "% of one core");
    if (loss_known && o->qos > 0)
        f[n++] = BF_BOOL("loss_ok", lost == 0);
    bench_report(o->json, f, n);
    if (!o->json && loss_known && o->qos > 0)
        printf("QoS %u requires no loss: %s\n", o->qos, lost == 0 ? "OK, none lost" : "FAILED");
}

static long sample_rss(const struct bench_opts *o, long *max_kb)
{
    if (!o->pid)
        return -1;
    long kb = bench_proc_rss_kb(o->pid);
    if (kb > *max_kb)
        *max_kb = kb;
    return kb;
}

int bench_run_traffic(const struct bench_opts *o)
{
    uint32_t nsub = count_subscribers(o), npub = count_publishers(o);
    struct bench_engine e;
    if (bench_engine_init(&e, o, nsub + npub, 0) < 0) {
        bench_engine_free(&e);
        return 1;
    }
    lay_out(&e, nsub, npub);
    e.tag = (uint16_t)(getpid() ^ (bench_now_ns() >> 10));
    e.own_only = npub > 0;
    for (uint32_t i = nsub; i < nsub + npub; i++) {
        if (bproto_prepare_publisher(&e, &e.conns[i]) < 0) {
            fprintf(stderr, "Error: cannot encode the PUBLISH template\n");
            bench_engine_free(&e);
            return 1;
        }
    }
    if (connect_all(&e) < 0) {
        bench_engine_free(&e);
        return 2;
    }

    struct rss_samples rss = {-1, -1, -1};
    rss.start_kb = sample_rss(o, &rss.max_kb);
    uint64_t t0 = bench_now_ns();
    e.pub_start_ns = t0;
    e.win_start = t0 + (uint64_t)(o->warmup * 1e9);
    e.win_end = e.win_start + (uint64_t)(o->duration * 1e9);
    e.pub_rate = npub ? o->rate / npub : 0;
    e.publishing = npub > 0;
    struct probe p0 = probe_now(o), p1;
    bool in_window = false;
    uint64_t next_rss = 0;
    while (e.now < e.win_end) {
        bench_engine_step(&e, 1);
        if (!in_window && e.now >= e.win_start) {
            in_window = true;
            p0 = probe_now(o);
        }
        if (e.now >= next_rss) {
            sample_rss(o, &rss.max_kb);
            next_rss = e.now + 1000000000u;
        }
    }
    p1 = probe_now(o);
    e.publishing = false;

    uint64_t drain_end = e.now + (uint64_t)(o->drain * 1e9);
    while (npub && nsub && e.now < drain_end &&
           (e.delivered_win < e.expected_win || e.inflight_total > 0))
        bench_engine_step(&e, 5);
    while (npub && !nsub && e.now < drain_end && e.inflight_total > 0)
        bench_engine_step(&e, 5);
    rss.end_kb = sample_rss(o, &rss.max_kb);
    report(&e, &p0, &p1, &rss, (double)(e.win_end - e.win_start) / 1e9);
    bool loss = npub && o->scenario != BENCH_PUB && e.delivered_win < e.expected_win;
    bench_engine_free(&e);
    return o->qos > 0 && loss ? 3 : 0;
}
