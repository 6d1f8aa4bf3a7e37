/*
 * Connections per source address, shared by every worker: how many sockets each address holds
 * open (max_connections_per_ip) and a token bucket of new connections per second
 * (max_connection_rate_per_ip). Consulted once when a socket is accepted and once when it
 * closes, never per packet, so one short lock is enough.
 *
 * An address is an IPv4 address, or an IPv6 address's /64 network: one host usually holds a
 * whole /64, and counting its addresses one by one would let it open 2^64 times the limit.
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d, from dual-stack sockets) count as IPv4.
 *
 * An entry lives while its address holds a connection or its rate bucket is not full again,
 * so a client that connects and closes in a loop is still seen; the rest are swept.
 */
#ifndef MQTTD_SERVER_IP_TABLE_H
#define MQTTD_SERVER_IP_TABLE_H

#include <stdint.h>
#include <sys/socket.h>

struct ip_table;

enum ip_verdict {
    IP_ADMITTED = 0,
    IP_TOO_MANY = 1, /* max_connections_per_ip sockets already open */
    IP_TOO_FAST = 2, /* max_connection_rate_per_ip exceeded */
};

/* A table enforcing at most `max_open` sockets (0 = any number) and `rate_per_s` new ones per
 * second (0 = any rate) per address. Returns NULL when out of memory. */
struct ip_table *ip_table_new(uint32_t max_open, uint32_t rate_per_s);
void ip_table_free(struct ip_table *t);

/*
 * A new socket from `peer` (borrowed) at `now_ms`. On IP_ADMITTED, *slot names the address's
 * entry (never 0) and must be given back to ip_table_release when the socket closes. A peer
 * that is neither IPv4 nor IPv6 is admitted with *slot = 0. Out of memory admits too: the
 * table protects the broker, it must not refuse everyone for its own sake.
 */
enum ip_verdict ip_table_admit(struct ip_table *t, const struct sockaddr *peer, uint64_t now_ms,
                               uint32_t *slot);

/* The socket of `slot` closed (slot 0 is ignored). */
void ip_table_release(struct ip_table *t, uint32_t slot, uint64_t now_ms);

/* Frees the entries of addresses with no socket and a full bucket, a part of the table per
 * call (run about every 100 ms). */
void ip_table_sweep(struct ip_table *t, uint64_t now_ms);

/* Entries held (tests, diagnostics). */
uint32_t ip_table_entries(struct ip_table *t);

#endif
