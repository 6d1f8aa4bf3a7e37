/*
 * The per-address connection table (see ip_table.h): a chained hash table whose entries sit in
 * one array and are named by their position + 1 (a "slot"), so a connection remembers its
 * address in four bytes and the array can grow without invalidating anything. One futex lock
 * guards it all; it is taken at accept and at close only.
 */
#include "server/ip_table.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "session/lock.h"

/* Chains looked at per sweep call; with the 100 ms tick a table of 64k chains is swept in
 * about 10 s. */
#define SWEEP_CHAINS 640
#define FIRST_CHAINS 64u
#define CONN_UNIT 1000u /* a rate bucket counts 1/1000 connections */

struct ip_entry {
    uint8_t key[16];
    uint32_t next;      /* the next slot in its chain, or in the free list; 0 = none */
    uint32_t open;      /* sockets open from this address */
    uint32_t rate_used; /* 1/1000 connections below a full bucket */
    uint32_t stamp_ms;  /* when rate_used was last refilled */
};

struct ip_table {
    mq_lock lock;
    uint32_t max_open, rate;
    uint64_t seed; /* random: chains cannot be chosen from outside */
    struct ip_entry *entries;
    uint32_t entry_cap, entry_high; /* slots allocated, slots ever handed out */
    uint32_t free_slot;             /* head of the free list */
    uint32_t live;
    uint32_t *chains; /* first slot of each chain */
    uint32_t chain_mask;
    uint32_t sweep_cursor;
};

static struct ip_entry *entry(struct ip_table *t, uint32_t slot)
{
    return &t->entries[slot - 1];
}

struct ip_table *ip_table_new(uint32_t max_open, uint32_t rate_per_s)
{
    struct ip_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->chains = calloc(FIRST_CHAINS, sizeof *t->chains);
    if (!t->chains) {
        free(t);
        return NULL;
    }
    t->chain_mask = FIRST_CHAINS - 1;
    t->max_open = max_open;
    t->rate = rate_per_s;
    if (getrandom(&t->seed, sizeof t->seed, GRND_NONBLOCK) != sizeof t->seed)
        t->seed = (uint64_t)(uintptr_t)t * 0x9E3779B97F4A7C15u;
    mq_lock_init(&t->lock);
    return t;
}

void ip_table_free(struct ip_table *t)
{
    if (!t)
        return;
    free(t->entries);
    free(t->chains);
    free(t);
}

/* The address a peer is counted under; false for families other than IPv4 and IPv6. */
static bool peer_key(const struct sockaddr *peer, uint8_t key[16])
{
    static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    memset(key, 0, 16);
    if (peer->sa_family == AF_INET) {
        memcpy(key, v4_mapped, sizeof v4_mapped);
        memcpy(key + 12, &((const struct sockaddr_in *)peer)->sin_addr, 4);
        return true;
    }
    if (peer->sa_family != AF_INET6)
        return false;
    const uint8_t *a = ((const struct sockaddr_in6 *)peer)->sin6_addr.s6_addr;
    if (memcmp(a, v4_mapped, sizeof v4_mapped) == 0)
        memcpy(key, a, 16);
    else
        memcpy(key, a, 8); /* its /64 */
    return true;
}

static uint32_t chain_of(const struct ip_table *t, const uint8_t key[16])
{
    uint64_t hi, lo;
    memcpy(&hi, key, 8);
    memcpy(&lo, key + 8, 8);
    uint64_t h = (hi ^ t->seed) * 0x9E3779B97F4A7C15u;
    h = (h ^ (h >> 29) ^ lo) * 0xBF58476D1CE4E5B9u;
    h ^= h >> 32;
    return (uint32_t)h & t->chain_mask;
}

static void refill(const struct ip_table *t, struct ip_entry *e, uint32_t now_ms)
{
    uint64_t back = (uint64_t)(now_ms - e->stamp_ms) * t->rate;
    e->rate_used = back >= e->rate_used ? 0 : e->rate_used - (uint32_t)back;
    e->stamp_ms = now_ms;
}

/* An entry no connection needs any more: no socket, and its bucket full again. */
static bool idle(const struct ip_table *t, struct ip_entry *e, uint32_t now_ms)
{
    if (e->open)
        return false;
    refill(t, e, now_ms);
    return e->rate_used == 0;
}

/* Unlinks `slot`, whose predecessor in `chain` is `prev` (0 = first), and frees it. */
static void remove_entry(struct ip_table *t, uint32_t chain, uint32_t prev, uint32_t slot)
{
    struct ip_entry *e = entry(t, slot);
    if (prev)
        entry(t, prev)->next = e->next;
    else
        t->chains[chain] = e->next;
    e->next = t->free_slot;
    t->free_slot = slot;
    t->live--;
}

/* Frees the idle entries of one chain. */
static void sweep_chain(struct ip_table *t, uint32_t chain, uint32_t now_ms)
{
    uint32_t prev = 0, slot = t->chains[chain];
    while (slot) {
        uint32_t next = entry(t, slot)->next;
        if (idle(t, entry(t, slot), now_ms))
            remove_entry(t, chain, prev, slot);
        else
            prev = slot;
        slot = next;
    }
}

/* Doubles the chains when entries outnumber them twice; a failure only keeps chains long. */
static void maybe_grow_chains(struct ip_table *t)
{
    uint32_t count = t->chain_mask + 1;
    if (t->live <= 2 * count || count > UINT32_MAX / 4)
        return;
    uint32_t *old = t->chains;
    uint32_t *chains = calloc((size_t)count * 2, sizeof *chains);
    if (!chains)
        return;
    t->chains = chains;
    t->chain_mask = count * 2 - 1;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t slot = old[i];
        while (slot) {
            struct ip_entry *e = entry(t, slot);
            uint32_t next = e->next;
            uint32_t c = chain_of(t, e->key);
            e->next = t->chains[c];
            t->chains[c] = slot;
            slot = next;
        }
    }
    free(old);
}

/* A new entry for `key` at the head of `chain`; 0 when out of memory. */
static uint32_t add_entry(struct ip_table *t, uint32_t chain, const uint8_t key[16],
                          uint32_t now_ms)
{
    uint32_t slot = t->free_slot;
    if (slot) {
        t->free_slot = entry(t, slot)->next;
    } else {
        if (t->entry_high == t->entry_cap) {
            uint32_t cap = t->entry_cap ? t->entry_cap * 2 : 64;
            struct ip_entry *grown =
                cap > t->entry_cap ? realloc(t->entries, (size_t)cap * sizeof *grown) : NULL;
            if (!grown)
                return 0;
            t->entries = grown;
            t->entry_cap = cap;
        }
        slot = ++t->entry_high;
    }
    struct ip_entry *e = entry(t, slot);
    memcpy(e->key, key, 16);
    e->open = e->rate_used = 0;
    e->stamp_ms = now_ms;
    e->next = t->chains[chain];
    t->chains[chain] = slot;
    t->live++;
    return slot;
}

static enum ip_verdict admit_locked(struct ip_table *t, const uint8_t key[16], uint32_t now_ms,
                                    uint32_t *slot_out)
{
    uint32_t chain = chain_of(t, key);
    uint32_t slot = t->chains[chain];
    while (slot && memcmp(entry(t, slot)->key, key, 16) != 0)
        slot = entry(t, slot)->next;
    if (!slot) {
        sweep_chain(t, chain, now_ms); /* room for the newcomer among the chain's leftovers */
        slot = add_entry(t, chain, key, now_ms);
        if (!slot)
            return IP_ADMITTED;
        maybe_grow_chains(t);
    }
    struct ip_entry *e = entry(t, slot);
    refill(t, e, now_ms);
    if (t->max_open && e->open >= t->max_open)
        return IP_TOO_MANY;
    if (t->rate && e->rate_used > t->rate * CONN_UNIT - CONN_UNIT)
        return IP_TOO_FAST;
    e->open++;
    if (t->rate)
        e->rate_used += CONN_UNIT;
    *slot_out = slot;
    return IP_ADMITTED;
}

enum ip_verdict ip_table_admit(struct ip_table *t, const struct sockaddr *peer, uint64_t now_ms,
                               uint32_t *slot)
{
    uint8_t key[16];
    *slot = 0;
    if (!peer_key(peer, key))
        return IP_ADMITTED;
    mq_lock_acquire(&t->lock);
    enum ip_verdict v = admit_locked(t, key, (uint32_t)now_ms, slot);
    mq_lock_release(&t->lock);
    return v;
}

void ip_table_release(struct ip_table *t, uint32_t slot, uint64_t now_ms)
{
    if (!slot)
        return;
    mq_lock_acquire(&t->lock);
    struct ip_entry *e = entry(t, slot);
    if (e->open)
        e->open--;
    if (idle(t, e, (uint32_t)now_ms)) {
        uint32_t chain = chain_of(t, e->key), prev = 0;
        for (uint32_t s = t->chains[chain]; s != slot; s = entry(t, s)->next)
            prev = s;
        remove_entry(t, chain, prev, slot);
    }
    mq_lock_release(&t->lock);
}

void ip_table_sweep(struct ip_table *t, uint64_t now_ms)
{
    mq_lock_acquire(&t->lock);
    for (unsigned i = 0; i < SWEEP_CHAINS && i <= t->chain_mask; i++) {
        t->sweep_cursor = (t->sweep_cursor + 1) & t->chain_mask;
        sweep_chain(t, t->sweep_cursor, (uint32_t)now_ms);
    }
    mq_lock_release(&t->lock);
}

uint32_t ip_table_entries(struct ip_table *t)
{
    mq_lock_acquire(&t->lock);
    uint32_t n = t->live;
    mq_lock_release(&t->lock);
    return n;
}
