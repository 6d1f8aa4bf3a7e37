/*
 * The QUIC endpoints of one listener across workers. Every worker binds its own UDP socket to
 * the listener's port (SO_REUSEPORT) and the kernel spreads datagrams by address, but a QUIC
 * connection is known by connection ID, and its address changes when the client migrates. So
 * each endpoint puts its slot (the worker index) in the first byte of the connection IDs it
 * issues, and a datagram that lands on the wrong worker is handed to the owner's queue and
 * delivered on the owner's thread after one uv_async wake-up.
 */
#ifndef MQTTD_QUIC_GROUP_H
#define MQTTD_QUIC_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#define QUIC_GROUP_SLOTS 256

struct quic_group;

struct quic_handoff {
    struct quic_handoff *next;
    struct sockaddr_storage from;
    socklen_t from_len;
    size_t len;
    uint8_t data[];
};

/* One endpoint's membership; embedded in the endpoint, which outlives its loop. */
struct quic_group_member {
    struct quic_group *group;
    unsigned slot;
    bool receiving; /* under the group lock: others may hand datagrams over */
    uv_async_t wake;
    struct quic_handoff *head, *tail; /* under the group lock */
    /* Called on the member's thread for each datagram handed over; `h` is freed afterwards. */
    void (*deliver)(struct quic_group_member *m, const struct quic_handoff *h);
};

/* Joins the group of `key` (the listener; created on first use) at `slot` (the worker index,
 * below QUIC_GROUP_SLOTS) on `loop`. Returns 0 or -1. Owner thread, before the loop runs. */
int quic_group_join(struct quic_group_member *m, const void *key, unsigned slot, uv_loop_t *loop,
                    void (*deliver)(struct quic_group_member *, const struct quic_handoff *));

/* Hands a datagram to the member at `slot` (any thread). Returns true when it was queued there;
 * false when that slot is this member, empty or stopping (the caller handles it itself). */
bool quic_group_forward(struct quic_group_member *m, unsigned slot, const struct sockaddr *from,
                        socklen_t from_len, const uint8_t *data, size_t len);

/* No more hand-overs to this member (owner thread, when its worker stops). Its wake handle is
 * closed with the worker's other handles. */
void quic_group_stop(struct quic_group_member *m);

/* Leaves the group after the member's loop has ended: drops what is queued, frees the group
 * when it was the last member. */
void quic_group_leave(struct quic_group_member *m);

#endif
