/*
 * The latency histogram of `mqttc bench`: log buckets with linear sub-buckets (the HDR
 * histogram idea), so recording is a few shifts and one increment, with no allocation.
 */
#include "bench.h"

static unsigned top_bit(uint64_t v)
{
    unsigned n = 0;
    for (unsigned step = 32; step > 0; step /= 2) {
        if (v >> step) {
            v >>= step;
            n += step;
        }
    }
    return n;
}

/* Values below 32 have a bucket each; above, bucket (shift + 1) * 32 + the 5 bits after the
 * top bit, where shift is how far the value was moved right to keep 6 significant bits. */
static unsigned bucket_of(uint64_t v)
{
    if (v < BENCH_HIST_SUB)
        return (unsigned)v;
    unsigned shift = top_bit(v) - 5;
    unsigned idx = (shift + 1) * BENCH_HIST_SUB + (unsigned)((v >> shift) - BENCH_HIST_SUB);
    return idx < BENCH_HIST_BUCKETS ? idx : BENCH_HIST_BUCKETS - 1;
}

/* The largest value that falls into bucket idx, so percentiles never understate. */
static uint64_t bucket_top(unsigned idx)
{
    if (idx < BENCH_HIST_SUB)
        return idx;
    unsigned shift = idx / BENCH_HIST_SUB - 1;
    uint64_t base = (uint64_t)(BENCH_HIST_SUB + idx % BENCH_HIST_SUB) << shift;
    return base + (((uint64_t)1 << shift) - 1);
}

void bench_hist_record(struct bench_hist *h, uint64_t value)
{
    h->counts[bucket_of(value)]++;
    h->total++;
    if (value > h->max)
        h->max = value;
}

uint64_t bench_hist_percentile(const struct bench_hist *h, double p)
{
    if (h->total == 0)
        return 0;
    uint64_t rank = (uint64_t)(p * (double)h->total + 0.5);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t top = bucket_top(i);
            return top < h->max ? top : h->max;
        }
    }
    return h->max;
}
