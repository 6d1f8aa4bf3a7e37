/*
 * Session state (see session.h): creation, the outbound queue and in-flight window with
 * Receive Maximum flow control, inbound QoS 2 packet ids, and the subscriptions a session holds.
 */
#include "session/session.h"

#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "session/conn.h"
#include "session/sub_index.h"
#include "store/store.h"

struct session *session_new(struct broker *broker, const char *client_id, uint16_t len)
{
    struct session *s = calloc(1, sizeof *s + (size_t)len + 1);
    if (!s)
        return NULL;
    memcpy(s->client_id, client_id, len);
    s->client_id[len] = 0;
    s->client_id_len = len;
    atomic_init(&s->refs, 1);
    s->broker = broker;
    s->serial = atomic_fetch_add(&broker->next_session_serial, 1) + 1;
    s->send_quota = 65535;
    mq_lock_init(&s->lock);
    return s;
}

void delivery_free(struct delivery *d)
{
    message_unref(d->msg);
    free(d->share_group);
    free(d);
}

static void list_free(struct delivery *d)
{
    while (d) {
        struct delivery *next = d->next;
        delivery_free(d);
        d = next;
    }
}

void session_unref(struct session *s)
{
    if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
        return;
    list_free(s->queue.head);
    list_free(s->inflight.head);
    struct session_subscription *sub = session_take_subscriptions_locked(s);
    while (sub) {
        struct session_subscription *next = sub->next;
        free(sub);
        sub = next;
    }
    message_unref(s->will);
    free(s->qos2_received);
    free(s->username);
    free(s);
}

static void list_append(struct delivery_list *l, struct delivery *d)
{
    d->next = NULL;
    if (l->tail)
        l->tail->next = d;
    else
        l->head = d;
    l->tail = d;
    l->count++;
}

static struct delivery *list_pop(struct delivery_list *l)
{
    struct delivery *d = l->head;
    if (d) {
        l->head = d->next;
        if (!l->head)
            l->tail = NULL;
        l->count--;
        d->next = NULL;
    }
    return d;
}

struct delivery *delivery_new(struct message *msg, uint8_t qos, bool retain, const uint32_t *ids,
                              uint16_t id_count, const char *share_group)
{
    struct delivery *d = malloc(sizeof *d + (size_t)id_count * sizeof(uint32_t));
    if (!d)
        return NULL;
    memset(d, 0, sizeof *d);
    if (share_group && !(d->share_group = strdup(share_group))) {
        free(d);
        return NULL;
    }
    d->msg = message_ref(msg);
    d->qos = qos;
    d->retain = retain;
    d->subscription_id_count = id_count;
    if (id_count)
        memcpy(d->subscription_ids, ids, (size_t)id_count * sizeof(uint32_t));
    return d;
}

static size_t delivery_size(const struct delivery *d)
{
    return d->msg->topic_len + d->msg->props_len + d->msg->payload_len;
}

/*
 * Deliveries sent by this process take consecutive ids in the order of the in-flight list, so a
 * new id is free when it lies outside the circular range [oldest, newest] of that list: no
 * search per message. Only ids restored from the store, whose order is unknown, are searched.
 */
static uint16_t next_packet_id(struct session *s)
{
    for (;;) {
        uint16_t id = ++s->last_packet_id;
        if (id == 0)
            id = s->last_packet_id = 1;
        const struct delivery *oldest = s->inflight.head, *newest = s->inflight.tail;
        if (!oldest) {
            s->inflight_unordered = false;
            return id;
        }
        if (!s->inflight_unordered && (uint16_t)(id - oldest->packet_id) >
                                          (uint16_t)(newest->packet_id - oldest->packet_id))
            return id;
        if (!session_inflight_find_locked(s, id, false))
            return id;
    }
}

/* The store of a persistent session, or NULL. */
static struct mq_store *session_store(const struct session *s)
{
    return s->stored ? s->broker->store : NULL;
}

static void persist(struct session *s, struct delivery *d, uint64_t now_ms)
{
    struct mq_store *st = session_store(s);
    if (st && d->store_id)
        d->store_seq = store_delivery_put(st, s, d, now_ms);
}

static void store_kick(void *ctx)
{
    struct session *s = ctx;
    mq_lock_acquire(&s->lock);
    s->store_kick_pending = false;
    if (s->conn)
        session_send_queued_locked(s, broker_now_ms());
    mq_lock_release(&s->lock);
    session_unref(s);
}

/* With durability full a QoS 2 delivery to a persistent session gets its packet id, and is
 * written as awaiting PUBREC, before its PUBLISH leaves: after a crash it is resent with that
 * id [MQTT-4.4.0-1], never sent again as a new message under another id, which a receiver that
 * releases messages on PUBLISH would deliver twice. It keeps its place at the head of the queue
 * until that row is committed, so nothing overtakes it. */
static void number_before_send_locked(struct session *s, struct delivery *d, uint64_t now_ms)
{
    struct mq_store *st = session_store(s);
    if (!st || !store_is_full(st) || !d->store_id || d->qos != 2 || d->packet_id)
        return;
    d->packet_id = next_packet_id(s);
    d->state = DELIVERY_AWAIT_PUBREC;
    persist(s, d, now_ms);
}

/* With durability full a persistent delivery leaves only once its row is committed: the
 * store thread sends what waited in the queue right after the commit. */
static bool wait_for_commit_locked(struct session *s, const struct delivery *d)
{
    struct mq_store *st = session_store(s);
    if (!st || !d->store_seq || !store_is_full(st) || store_committed(st, d->store_seq))
        return false;
    if (!s->store_kick_pending) {
        s->store_kick_pending = true;
        if (store_after_commit(st, store_kick, session_ref(s)) != 0) {
            s->store_kick_pending = false;
            session_unref(s);
            return false;
        }
    }
    return true;
}

static void drop(struct session *s, struct delivery *d)
{
    if (d->store_id && session_store(s))
        store_delivery_delete(session_store(s), d->store_id);
    s->dropped++;
    atomic_fetch_add(&s->broker->stats.messages_dropped, 1);
    delivery_free(d);
}

/* Sends one delivery now; a QoS 1/2 one joins the in-flight window. Consumes QoS 0 ones. */
static void send_now(struct session *s, struct delivery *d, uint64_t now_ms)
{
    if (d->qos == 0) {
        conn_send_delivery(s->conn, d, false, now_ms);
        delivery_free(d);
        return;
    }
    if (!d->packet_id) { /* else numbered by number_before_send_locked, its row committed */
        d->packet_id = next_packet_id(s);
        d->state = d->qos == 1 ? DELIVERY_AWAIT_PUBACK : DELIVERY_AWAIT_PUBREC;
    }
    if (conn_send_delivery(s->conn, d, false, now_ms) != 0) {
        /* Too large for the client: discarded as if its delivery had completed [MQTT-3.1.2-25]. */
        drop(s, d);
        return;
    }
    d->sent = true;
    persist(s, d, now_ms);
    list_append(&s->inflight, d);
}

static bool output_congested(const struct session *s)
{
    const struct conn *c = s->conn;
    return atomic_load_explicit((atomic_size_t *)&c->write_backlog, memory_order_relaxed) >
           s->broker->config->max_output_backlog;
}

static _Thread_local bool watching_congestion;
static _Thread_local struct session *congested;

void session_watch_congestion(void)
{
    watching_congestion = true;
}

struct session *session_take_congested(void)
{
    struct session *s = congested;
    congested = NULL;
    watching_congestion = false;
    return s;
}

static bool queue_over(const struct session *s, unsigned divisor)
{
    const struct mq_config *cfg = s->broker->config;
    return (cfg->max_queued_messages && s->queue.count >= cfg->max_queued_messages / divisor) ||
           (cfg->max_queued_bytes && s->queued_bytes >= cfg->max_queued_bytes / divisor);
}

/* With s->lock held, after a QoS 1/2 delivery. */
static void note_congestion_locked(struct session *s)
{
    if (!watching_congestion || congested || !s->conn || s->backpressure_stalled ||
        !queue_over(s, 2))
        return;
    congested = session_ref(s);
}

bool session_congestion_eased(struct session *s)
{
    mq_lock_acquire(&s->lock);
    bool eased = s->ended || !s->conn || !queue_over(s, 4);
    mq_lock_release(&s->lock);
    return eased;
}

void session_mark_stalled(struct session *s)
{
    mq_lock_acquire(&s->lock);
    s->backpressure_stalled = true;
    mq_lock_release(&s->lock);
}

void session_deliver(struct session *s, struct message *msg, uint8_t qos, bool retain,
                     const uint32_t *ids, uint16_t id_count, const char *share_group,
                     uint64_t now_ms)
{
    const struct mq_config *cfg = s->broker->config;
    mq_lock_acquire(&s->lock);
    if (s->ended || (qos == 0 && !s->conn && !cfg->queue_qos0_messages)) {
        mq_lock_release(&s->lock);
        return;
    }
    if (qos == 0 && s->conn && output_congested(s)) {
        /* A subscriber that does not read loses QoS 0 messages, not the broker's memory. */
        s->dropped++;
        atomic_fetch_add(&s->broker->stats.messages_dropped, 1);
        mq_lock_release(&s->lock);
        return;
    }
    if (message_expired(msg, now_ms)) {
        mq_lock_release(&s->lock);
        return; /* expired before onward delivery began [MQTT-3.3.2-5] */
    }
    if (qos == 0 && s->conn && !s->queue.head) {
        /* The common case needs no record: encode straight into the connection's output. */
        conn_send_publish(s->conn, msg, 0, retain, 0, ids, id_count, false, now_ms);
        mq_lock_release(&s->lock);
        return;
    }
    struct delivery *d = delivery_new(msg, qos, retain, ids, id_count, share_group);
    if (!d) {
        s->dropped++;
        mq_lock_release(&s->lock);
        return;
    }
    bool next_out = s->conn && !s->queue.head && (qos == 0 || s->inflight.count < s->send_quota);
    if (qos > 0 && session_store(s)) {
        d->store_id = store_new_delivery_id(s->broker->store);
        if (next_out)
            number_before_send_locked(s, d, now_ms);
        if (!d->packet_id)
            persist(s, d, now_ms);
    }
    if (next_out && !wait_for_commit_locked(s, d)) {
        send_now(s, d, now_ms);
    } else if ((cfg->max_queued_messages && s->queue.count >= cfg->max_queued_messages) ||
               (cfg->max_queued_bytes &&
                s->queued_bytes + delivery_size(d) > cfg->max_queued_bytes)) {
        drop(s, d);
    } else {
        s->queued_bytes += delivery_size(d);
        list_append(&s->queue, d);
    }
    if (qos > 0)
        note_congestion_locked(s);
    mq_lock_release(&s->lock);
}

void session_send_queued_locked(struct session *s, uint64_t now_ms)
{
    while (s->conn && s->queue.head &&
           (s->queue.head->qos == 0 || s->inflight.count < s->send_quota)) {
        number_before_send_locked(s, s->queue.head, now_ms);
        if (wait_for_commit_locked(s, s->queue.head))
            break;
        struct delivery *d = list_pop(&s->queue);
        s->queued_bytes -= delivery_size(d);
        if (message_expired(d->msg, now_ms)) {
            /* Not yet on its way: an expired copy is deleted [MQTT-3.3.2-5]. */
            drop(s, d);
            continue;
        }
        send_now(s, d, now_ms);
    }
    if (s->backpressure_stalled && !queue_over(s, 4))
        s->backpressure_stalled = false;
}

void session_resume_locked(struct session *s, uint64_t now_ms)
{
    for (struct delivery *d = s->inflight.head; d; d = d->next) {
        if (d->state == DELIVERY_AWAIT_PUBCOMP) {
            struct mq_packet p = {.type = MQ_PUBREL, .u.ack = {.packet_id = d->packet_id}};
            conn_send_packet(s->conn, &p);
        } else {
            /* Unacknowledged PUBLISH packets are resent with DUP set [MQTT-4.4.0-1]; one
             * numbered before a crash that came before it left goes out for the first time. */
            conn_send_delivery(s->conn, d, d->sent, now_ms);
            d->sent = true;
        }
    }
    session_send_queued_locked(s, now_ms);
}

void session_restore_delivery_locked(struct session *s, struct delivery *d)
{
    if (d->state == DELIVERY_QUEUED) {
        s->queued_bytes += delivery_size(d);
        list_append(&s->queue, d);
        return;
    }
    if (d->packet_id > s->last_packet_id)
        s->last_packet_id = d->packet_id;
    s->inflight_unordered = true;
    list_append(&s->inflight, d);
}

struct delivery *session_inflight_find_locked(struct session *s, uint16_t packet_id, bool remove)
{
    struct delivery *prev = NULL;
    for (struct delivery *d = s->inflight.head; d; prev = d, d = d->next) {
        if (d->packet_id != packet_id)
            continue;
        if (remove) {
            if (prev)
                prev->next = d->next;
            else
                s->inflight.head = d->next;
            if (s->inflight.tail == d)
                s->inflight.tail = prev;
            s->inflight.count--;
            d->next = NULL;
        }
        return d;
    }
    return NULL;
}

int session_qos2_add_locked(struct session *s, uint16_t packet_id)
{
    for (uint32_t i = 0; i < s->qos2_received_count; i++)
        if (s->qos2_received[i] == packet_id)
            return 0;
    if (s->qos2_received_count == s->qos2_received_cap) {
        uint32_t cap = s->qos2_received_cap ? s->qos2_received_cap * 2 : 8;
        uint16_t *ids = realloc(s->qos2_received, cap * sizeof *ids);
        if (!ids)
            return -1;
        s->qos2_received = ids;
        s->qos2_received_cap = cap;
    }
    s->qos2_received[s->qos2_received_count++] = packet_id;
    return 1;
}

bool session_qos2_remove_locked(struct session *s, uint16_t packet_id)
{
    for (uint32_t i = 0; i < s->qos2_received_count; i++) {
        if (s->qos2_received[i] == packet_id) {
            s->qos2_received[i] = s->qos2_received[--s->qos2_received_count];
            if (s->qos2_received_count == 0) {
                free(s->qos2_received);
                s->qos2_received = NULL;
                s->qos2_received_cap = 0;
            }
            return true;
        }
    }
    return false;
}

struct session_subscription *
session_subscription_find_locked(struct session *s, const uint8_t *group, uint16_t group_len,
                                 const uint8_t *filter, uint16_t filter_len)
{
    if (s->sub_index)
        return sub_index_find(s->sub_index, sub_index_hash(group, group_len, filter, filter_len),
                              group, group_len, filter, filter_len);
    for (struct session_subscription *sub = s->subscriptions; sub; sub = sub->next)
        if (sub_index_is(sub, group, group_len, filter, filter_len))
            return sub;
    return NULL;
}

int session_subscription_add_locked(struct session *s, const uint8_t *group, uint16_t group_len,
                                    const uint8_t *filter, uint16_t filter_len, uint8_t options,
                                    uint32_t subscription_id)
{
    struct session_subscription *sub =
        session_subscription_find_locked(s, group, group_len, filter, filter_len);
    if (sub) {
        sub->options = options;
        sub->subscription_id = subscription_id;
        return 1;
    }
    sub = malloc(sizeof *sub + group_len + filter_len);
    if (!sub)
        return -1;
    sub->hash = sub_index_hash(group, group_len, filter, filter_len);
    sub->subscription_id = subscription_id;
    sub->options = options;
    sub->group_len = group_len;
    sub->filter_len = filter_len;
    if (group_len)
        memcpy(sub->text, group, group_len);
    memcpy(sub->text + group_len, filter, filter_len);
    sub->prev = NULL;
    sub->next = s->subscriptions;
    if (sub->next)
        sub->next->prev = sub;
    s->subscriptions = sub;
    s->subscription_count++;
    /* Without an index (out of memory), finding falls back to the list. */
    if (s->sub_index)
        sub_index_insert(&s->sub_index, sub, s->subscription_count);
    else if (s->subscription_count >= SUB_INDEX_MIN)
        s->sub_index = sub_index_build(s->subscriptions, s->subscription_count);
    return 0;
}

bool session_subscription_remove_locked(struct session *s, const uint8_t *group, uint16_t group_len,
                                        const uint8_t *filter, uint16_t filter_len)
{
    struct session_subscription *sub =
        session_subscription_find_locked(s, group, group_len, filter, filter_len);
    if (!sub)
        return false;
    if (s->sub_index)
        sub_index_remove(s->sub_index, sub);
    if (sub->prev)
        sub->prev->next = sub->next;
    else
        s->subscriptions = sub->next;
    if (sub->next)
        sub->next->prev = sub->prev;
    free(sub);
    s->subscription_count--;
    return true;
}

struct session_subscription *session_take_subscriptions_locked(struct session *s)
{
    struct session_subscription *all = s->subscriptions;
    s->subscriptions = NULL;
    s->subscription_count = 0;
    sub_index_free(s->sub_index);
    s->sub_index = NULL;
    return all;
}

struct delivery *session_take_all_locked(struct session *s)
{
    struct delivery *all = s->inflight.head;
    if (s->inflight.tail)
        s->inflight.tail->next = s->queue.head;
    else
        all = s->queue.head;
    s->inflight = (struct delivery_list){0};
    s->queue = (struct delivery_list){0};
    s->queued_bytes = 0;
    return all;
}
