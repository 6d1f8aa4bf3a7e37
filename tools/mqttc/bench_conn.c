/*
 * `mqttc bench conn`: opens N connections (TCP connect, CONNECT, CONNACK) as fast as allowed,
 * reports the connect rate, then holds them idle (answering keep alive) while sampling the
 * broker's RSS. One process may hold only RLIMIT_NOFILE descriptors, so the connections are
 * split over child processes, each with its own engine; children report over a pipe and stop
 * when the parent closes their control pipe.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_engine.h"
#include "bench_report.h"
#include "net_quic.h"

#define FD_RESERVE 64u
/* A QUIC connection is a bridge thread with a UDP socket and a socket pair (net_quic.c). */
#define QUIC_FDS 3u
#define QUIC_MAX_PER_PROC 500u
#define SETUP_TIMEOUT_NS (120ull * 1000000000ull)

struct conn_child_report {
    uint32_t ready, failed, lost, resumed;
    uint64_t first_ready_ns, last_ready_ns;
    double cpu_s;
};

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int read_all(int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int child_run(const struct bench_opts *o, uint32_t count, uint32_t base, int up, int ctl)
{
    struct bench_engine e;
    struct conn_child_report r;
    memset(&r, 0, sizeof r);
    if (bench_engine_init(&e, o, count, base) < 0) {
        r.failed = count;
        write_all(up, &r, sizeof r);
        return 1;
    }
    for (uint32_t i = 0; i < count; i++)
        e.conns[i].role = BCONN_IDLE;
    e.max_opening = o->inflight;
    e.ctl_fd = ctl;
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.ptr = NULL;
    epoll_ctl(e.ep, EPOLL_CTL_ADD, ctl, &ev);

    uint64_t deadline = bench_now_ns() + SETUP_TIMEOUT_NS;
    while (e.ready + e.dead < e.n && e.now < deadline && !e.ctl_closed)
        bench_engine_step(&e, 10);
    r.ready = e.ready;
    r.failed = e.n - e.ready;
    r.resumed = o->transport == BENCH_QUIC ? (uint32_t)net_quic_early_accepted() : e.tls_resumed;
    r.first_ready_ns = e.first_ready_ns;
    r.last_ready_ns = e.last_ready_ns;
    r.cpu_s = bench_self_cpu_s(false);
    write_all(up, &r, sizeof r);

    while (!e.ctl_closed)
        bench_engine_step(&e, 1000);
    r.lost = (uint32_t)e.lost_conns;
    r.cpu_s = bench_self_cpu_s(false);
    write_all(up, &r, sizeof r);
    bench_engine_free(&e);
    return 0;
}

struct child {
    pid_t pid;
    int up, ctl;
    uint32_t count;
};

/* kids[0..i) are already running; the new child closes its copies of their pipes, or their
 * control pipes would never reach end-of-file. */
static int spawn(const struct bench_opts *o, struct child *kids, uint32_t i, uint32_t base)
{
    struct child *ch = &kids[i];
    int up[2], ctl[2];
    if (pipe(up) < 0 || pipe(ctl) < 0)
        return -1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        close(up[0]);
        close(ctl[1]);
        for (uint32_t j = 0; j < i; j++) {
            close(kids[j].up);
            close(kids[j].ctl);
        }
        _exit(child_run(o, ch->count, base, up[1], ctl[0]));
    }
    close(up[1]);
    close(ctl[0]);
    ch->pid = pid;
    ch->up = up[0];
    ch->ctl = ctl[1];
    return 0;
}

static void hold_and_sample(const struct bench_opts *o, long *rss_kb)
{
    uint64_t start = bench_now_ns();
    uint64_t end = start + (uint64_t)(o->hold * 1e9);
    FILE *out = o->json ? stderr : stdout;
    for (;;) {
        uint64_t now = bench_now_ns();
        if (o->pid) {
            *rss_kb = bench_proc_rss_kb(o->pid);
            fprintf(out, "hold %5.1f s: broker RSS %ld kB\n", (double)(now - start) / 1e9, *rss_kb);
            fflush(out);
        }
        if (now >= end)
            break;
        uint64_t left = end - now;
        uint64_t nap = left < 1000000000u ? left : 1000000000u;
        struct timespec ts = {(time_t)(nap / 1000000000u), (long)(nap % 1000000000u)};
        nanosleep(&ts, NULL);
    }
}

int bench_run_conn(const struct bench_opts *o)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    uint32_t per_proc = rl.rlim_cur > 2 * FD_RESERVE ? (uint32_t)(rl.rlim_cur - FD_RESERVE) : 64;
    if (o->transport == BENCH_QUIC)
        per_proc =
            per_proc / QUIC_FDS < QUIC_MAX_PER_PROC ? per_proc / QUIC_FDS : QUIC_MAX_PER_PROC;
    uint32_t nproc = (o->connections + per_proc - 1) / per_proc;
    struct child *kids = calloc(nproc, sizeof *kids);
    if (!kids)
        return 1;
    struct bench_opts child_opts = *o;
    child_opts.rate = o->rate / nproc;

    long rss_before = o->pid ? bench_proc_rss_kb(o->pid) : -1;
    double cpu0 = o->pid ? bench_proc_cpu_s(o->pid) : -1;
    uint64_t t_start = bench_now_ns();
    uint32_t base = 0, spawned = 0;
    for (uint32_t i = 0; i < nproc; i++) {
        kids[i].count = (o->connections - base) / (nproc - i);
        if (spawn(&child_opts, kids, i, base) < 0) {
            fprintf(stderr, "Error: cannot start a generator process: %s\n", strerror(errno));
            break;
        }
        base += kids[i].count;
        spawned++;
    }

    struct conn_child_report total = {0, 0, 0, 0, UINT64_MAX, 0, 0};
    for (uint32_t i = 0; i < spawned; i++) {
        struct conn_child_report r;
        if (read_all(kids[i].up, &r, sizeof r) < 0) {
            total.failed += kids[i].count;
            continue;
        }
        total.ready += r.ready;
        total.failed += r.failed;
        total.resumed += r.resumed;
        total.cpu_s += r.cpu_s;
        if (r.ready && r.first_ready_ns < total.first_ready_ns)
            total.first_ready_ns = r.first_ready_ns;
        if (r.last_ready_ns > total.last_ready_ns)
            total.last_ready_ns = r.last_ready_ns;
    }
    double connect_s =
        total.last_ready_ns > t_start ? (double)(total.last_ready_ns - t_start) / 1e9 : 0;
    double cpu1 = o->pid ? bench_proc_cpu_s(o->pid) : -1;
    long rss_kb = -1;
    hold_and_sample(o, &rss_kb);

    double hold_cpu = 0;
    uint32_t lost = 0;
    for (uint32_t i = 0; i < spawned; i++) {
        close(kids[i].ctl);
        struct conn_child_report r;
        if (read_all(kids[i].up, &r, sizeof r) == 0) {
            lost += r.lost;
            hold_cpu += r.cpu_s;
        }
        close(kids[i].up);
        waitpid(kids[i].pid, NULL, 0);
    }
    free(kids);

    struct bench_field f[24];
    size_t n = 0;
    f[n++] = BF_STR("scenario", "conn");
    f[n++] = BF_STR("label", o->label);
    f[n++] = BF_STR("transport", o->transport_name);
    f[n++] = BF_NUM("protocol", o->version, NULL);
    f[n++] = BF_BOOL("tcp_nodelay", true);
    f[n++] = BF_NUM("connections", o->connections, NULL);
    f[n++] = BF_NUM("connected", total.ready, NULL);
    f[n++] = BF_NUM("failed", total.failed, NULL);
    f[n++] = BF_NUM("processes", spawned, NULL);
    f[n++] = BF_NUM("source_addresses", o->source_addrs, NULL);
    f[n++] = BF_NUM("connect_s", connect_s, "s");
    f[n++] =
        BF_NUM("connect_rate_per_s", connect_s > 0 ? total.ready / connect_s : 0, "CONNACKs/s");
    f[n++] = BF_NUM("hold_s", o->hold, "s");
    f[n++] = BF_NUM("lost_during_hold", lost, NULL);
    if (o->transport == BENCH_TLS || o->transport == BENCH_WSS)
        f[n++] = BF_NUM("tls_resumed", total.resumed, "handshakes that resumed a session");
    if (o->transport == BENCH_QUIC)
        f[n++] = BF_NUM("quic_0rtt", total.resumed, "connections whose 0-RTT CONNECT was accepted");
    if (o->pid) {
        f[n++] = BF_NUM("broker_cpu_s", cpu1 - cpu0, "s while connecting");
        f[n++] = BF_NUM("broker_rss_before_kb", rss_before, "kB");
        f[n++] = BF_NUM("broker_rss_kb", rss_kb, "kB at the end of the hold");
        f[n++] =
            BF_NUM("rss_per_conn_bytes",
                   total.ready ? round((double)(rss_kb - rss_before) * 1024.0 / total.ready) : 0,
                   "B per connection");
    }
    f[n++] = BF_NUM("gen_cpu_s", total.cpu_s, "s while connecting");
    f[n++] = BF_NUM("gen_cpu_hold_s", hold_cpu - total.cpu_s, "s while holding");
    bench_report(o->json, f, n);
    return total.ready == o->connections ? 0 : 2;
}
