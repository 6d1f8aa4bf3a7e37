/*
 * The broker (see broker.h): routing a message to the sessions whose subscriptions match it,
 * merged to one copy per session with every matching Subscription Identifier, one member per
 * shared group; retained messages; the end of sessions and their wills.
 */
#include "broker/broker.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/auth.h"
#include "broker/retained.h"
#include "broker/sys_topics.h"
#include "broker/topic.h"
#include "broker/topic_tree.h"
#include "server/log.h"
#include "session/session.h"
#include "store/store.h"

uint64_t broker_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int broker_init(struct broker *b, const struct mq_config *config)
{
    memset(b, 0, sizeof *b);
    b->config = config;
    pthread_rwlock_init(&b->tree_lock, NULL);
    pthread_mutex_init(&b->retained_lock, NULL);
    pthread_mutex_init(&b->registry_lock, NULL);
    b->tree = topic_tree_new();
    b->retained = retained_new(message_release);
    b->registry = registry_new();
    if ((b->auth = malloc(sizeof *b->auth)) && auth_init(b->auth) != 0) {
        free(b->auth);
        b->auth = NULL;
    }
    if (!b->tree || !b->retained || !b->registry || !b->auth) {
        broker_destroy(b);
        return -1;
    }
    return 0;
}

static void free_handlers(struct handler *h)
{
    while (h) {
        struct handler *next = h->next;
        free(h->filter);
        free(h);
        h = next;
    }
}

void broker_destroy(struct broker *b)
{
    topic_tree_free(b->tree);
    retained_free(b->retained);
    registry_free(b->registry, session_unref);
    free_handlers(b->on_connect);
    free_handlers(b->on_publish);
    free_handlers(b->on_subscribe);
    free_handlers(b->on_disconnect);
    if (b->auth) {
        auth_destroy(b->auth);
        free(b->auth);
    }
    pthread_rwlock_destroy(&b->tree_lock);
    pthread_mutex_destroy(&b->retained_lock);
    pthread_mutex_destroy(&b->registry_lock);
    memset(b, 0, sizeof *b);
}

/* One matching subscription of one session, collected while the index is read-locked. */
struct target {
    struct session *session; /* reference owned */
    char *share_group;       /* owned copy for shared deliveries */
    uint32_t subscription_id;
    uint8_t options;
};

struct route {
    const struct message *msg;
    struct target *targets;
    size_t count, cap;
    bool failed;
    const char *only_group;         /* shared redelivery: the group wanted */
    const struct session *excluded; /* shared redelivery: the member whose session ended */
};

static void route_add(struct route *r, struct session *s, uint8_t options, uint32_t id,
                      const mq_bytes *group)
{
    if (r->count == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        struct target *t = realloc(r->targets, cap * sizeof *t);
        if (!t) {
            r->failed = true;
            return;
        }
        r->targets = t;
        r->cap = cap;
    }
    struct target *t = &r->targets[r->count];
    t->share_group = NULL;
    if (group && !(t->share_group = strndup((const char *)group->data, group->len))) {
        r->failed = true;
        return;
    }
    t->session = session_ref(s);
    t->options = options;
    t->subscription_id = id;
    r->count++;
}

static void on_subscription(void *ctx, const struct subscription *sub)
{
    struct route *r = ctx;
    struct session *s = sub->subscriber;
    /* No Local: not sent back to the session that published it [MQTT-3.8.3-3]. */
    if ((sub->options & MQ_SUBOPT_NO_LOCAL) && s->serial == r->msg->origin_session)
        return;
    route_add(r, s, sub->options, sub->subscription_id, NULL);
}

/* One member of the group gets the message [MQTT-4.8.2-4]: the next in turn that is online,
 * or the next in turn when none is. */
static void on_group(void *ctx, struct share_group *g)
{
    struct route *r = ctx;
    if (r->only_group &&
        (strlen(r->only_group) != g->name.len || memcmp(r->only_group, g->name.data, g->name.len)))
        return;
    const struct subscription *pick = NULL;
    for (uint32_t i = 0; i < g->member_count; i++) {
        const struct subscription *m = share_group_next(g);
        struct session *s = m->subscriber;
        if (s == r->excluded)
            continue;
        if (!pick)
            pick = m;
        if (atomic_load(&s->online)) {
            pick = m;
            break;
        }
    }
    if (pick)
        route_add(r, pick->subscriber, pick->options, pick->subscription_id, &g->name);
}

static int by_session(const void *a, const void *b)
{
    const struct target *x = a, *y = b;
    if (x->session != y->session)
        return x->session < y->session ? -1 : 1;
    return (x->share_group != NULL) - (y->share_group != NULL);
}

/* Whether the ACL lets `s` receive `msg`, as Mosquitto checks read access on delivery. Free
 * while every subscription of the session was granted whole under the rules in force (decided
 * at SUBSCRIBE, auth/session_acl.c); one topic check otherwise. */
static bool may_deliver(struct broker *b, struct session *s, const struct message *msg)
{
    if (!auth_has_acl(b->auth) ||
        atomic_load_explicit(&s->acl_granted_generation, memory_order_acquire) ==
            auth_generation(b->auth))
        return true;
    mq_lock_acquire(&s->lock);
    struct acl_client who = {s->client_id, s->username};
    bool ok = auth_may_read(b->auth, &who, msg->topic, msg->topic_len);
    mq_lock_release(&s->lock);
    return ok;
}

static void deliver_targets(struct broker *b, struct route *r, struct message *msg, uint64_t now_ms)
{
    if (r->count == 0)
        return;
    qsort(r->targets, r->count, sizeof *r->targets, by_session);
    uint32_t ids_inline[16];
    for (size_t i = 0; i < r->count;) {
        struct target *t = &r->targets[i];
        if (!may_deliver(b, t->session, msg)) {
            struct session *denied = t->session; /* all its targets are adjacent (sorted) */
            while (i < r->count && r->targets[i].session == denied)
                i++;
            continue;
        }
        if (t->share_group) {
            uint8_t qos = t->options & MQ_SUBOPT_QOS_MASK;
            if (qos > msg->qos)
                qos = msg->qos;
            bool retain = (t->options & MQ_SUBOPT_RETAIN_AS_PUBLISHED) && msg->retain;
            session_deliver(t->session, msg, qos, retain, &t->subscription_id,
                            t->subscription_id ? 1 : 0, t->share_group, now_ms);
            i++;
            continue;
        }
        /* Overlapping subscriptions of one session: one copy, the highest QoS, and every
         * Subscription Identifier [MQTT-3.3.4-3], [MQTT-3.3.4-4], [MQTT-3.3.4-5]. */
        size_t j = i;
        uint8_t qos = 0;
        bool retain = false;
        uint32_t *ids = ids_inline, id_count = 0, id_cap = 16;
        for (; j < r->count && r->targets[j].session == t->session && !r->targets[j].share_group;
             j++) {
            const struct target *u = &r->targets[j];
            if ((u->options & MQ_SUBOPT_QOS_MASK) > qos)
                qos = u->options & MQ_SUBOPT_QOS_MASK;
            retain |= (u->options & MQ_SUBOPT_RETAIN_AS_PUBLISHED) && msg->retain;
            if (!u->subscription_id)
                continue;
            if (id_count == id_cap) {
                uint32_t *more = malloc(2 * id_cap * sizeof *more);
                if (!more)
                    continue;
                memcpy(more, ids, id_count * sizeof *ids);
                if (ids != ids_inline)
                    free(ids);
                ids = more;
                id_cap *= 2;
            }
            ids[id_count++] = u->subscription_id;
        }
        if (qos > msg->qos)
            qos = msg->qos; /* never above the published QoS [MQTT-3.8.4-8] */
        session_deliver(t->session, msg, qos, retain, ids, (uint16_t)id_count, NULL, now_ms);
        if (ids != ids_inline)
            free(ids);
        i = j;
    }
}

static void route_release(struct route *r)
{
    for (size_t i = 0; i < r->count; i++) {
        session_unref(r->targets[i].session);
        free(r->targets[i].share_group);
    }
    free(r->targets);
}

static void route_and_deliver(struct broker *b, struct route *r, struct message *msg,
                              uint64_t now_ms)
{
    pthread_rwlock_rdlock(&b->tree_lock);
    topic_tree_match(b->tree, msg->topic, msg->topic_len, r->only_group ? NULL : on_subscription,
                     on_group, r);
    pthread_rwlock_unlock(&b->tree_lock);
    deliver_targets(b, r, msg, now_ms);
}

size_t broker_publish(struct broker *b, struct message *msg, uint64_t now_ms)
{
    if (msg->retain) {
        pthread_mutex_lock(&b->retained_lock);
        /* An empty retained message removes the retained one [MQTT-3.3.1-6], [MQTT-3.3.1-7];
         * any other replaces it [MQTT-3.3.1-5]. */
        broker_retain_locked(b, msg->topic, msg->topic_len,
                             msg->payload_len ? message_ref(msg) : NULL);
        /* $SYS messages describe this process: never stored. */
        bool durable = b->store && !sys_topic(msg->topic, msg->topic_len);
        if (durable && msg->payload_len)
            store_retained_put(b->store, msg, now_ms);
        else if (durable)
            store_retained_delete(b->store, msg->topic, msg->topic_len);
        pthread_mutex_unlock(&b->retained_lock);
    }
    struct route r = {.msg = msg};
    route_and_deliver(b, &r, msg, now_ms);
    size_t receivers = r.count;
    route_release(&r);
    return receivers;
}

struct retained_batch {
    struct message **msgs;
    size_t count, cap;
};

static int collect_retained(void *ctx, const uint8_t *topic, size_t topic_len, void *message)
{
    struct retained_batch *batch = ctx;
    if (batch->count == batch->cap) {
        size_t cap = batch->cap ? batch->cap * 2 : 16;
        struct message **m = realloc(batch->msgs, cap * sizeof *m);
        if (!m)
            return 1;
        batch->msgs = m;
        batch->cap = cap;
    }
    batch->msgs[batch->count++] = message_ref(message);
    return 0;
}

void broker_send_retained(struct broker *b, struct session *s, const uint8_t *filter,
                          uint16_t filter_len, uint8_t options, uint32_t subscription_id,
                          uint64_t now_ms)
{
    struct retained_batch batch = {0};
    pthread_mutex_lock(&b->retained_lock);
    retained_match(b->retained, filter, filter_len, collect_retained, &batch);
    pthread_mutex_unlock(&b->retained_lock);
    for (size_t i = 0; i < batch.count; i++) {
        struct message *m = batch.msgs[i];
        if (!message_expired(m, now_ms) && may_deliver(b, s, m)) {
            uint8_t qos = options & MQ_SUBOPT_QOS_MASK;
            if (qos > m->qos)
                qos = m->qos;
            /* Retained messages sent because of a subscription carry RETAIN 1 [MQTT-3.3.1-8]. */
            session_deliver(s, m, qos, true, &subscription_id, subscription_id ? 1 : 0, NULL,
                            now_ms);
        }
        message_unref(m);
    }
    free(batch.msgs);
}

int broker_subscribe(struct broker *b, struct session *s, mq_bytes group, mq_bytes filter,
                     uint8_t options, uint32_t subscription_id)
{
    pthread_rwlock_wrlock(&b->tree_lock);
    int rc = topic_tree_subscribe(b->tree, group, filter, s, options, subscription_id);
    pthread_rwlock_unlock(&b->tree_lock);
    return rc;
}

int broker_unsubscribe(struct broker *b, struct session *s, mq_bytes group, mq_bytes filter)
{
    pthread_rwlock_wrlock(&b->tree_lock);
    int rc = topic_tree_unsubscribe(b->tree, group, filter, s);
    pthread_rwlock_unlock(&b->tree_lock);
    return rc;
}

void broker_publish_will(struct broker *b, struct message *will, uint64_t now_ms)
{
    /* The will's Message Expiry Interval runs from when it is published. */
    if (will->expiry_interval_s)
        will->expires_at_ms = now_ms + (uint64_t)will->expiry_interval_s * 1000u;
    will->origin_session = 0;
    broker_publish(b, will, now_ms);
    message_unref(will);
}

/* A shared-subscription message left unacknowledged by a member whose session ended goes to
 * another member of the same group. */
static void redeliver_shared(struct broker *b, struct delivery *d, const struct session *gone,
                             uint64_t now_ms)
{
    struct route r = {.msg = d->msg, .only_group = d->share_group, .excluded = gone};
    route_and_deliver(b, &r, d->msg, now_ms);
    route_release(&r);
}

void broker_session_end(struct broker *b, struct session *s, uint64_t now_ms)
{
    pthread_mutex_lock(&b->registry_lock);
    mq_lock_acquire(&s->lock);
    if (s->conn || s->ended) {
        /* A connection resumed it meanwhile (or it already ended): it lives on. */
        mq_lock_release(&s->lock);
        pthread_mutex_unlock(&b->registry_lock);
        return;
    }
    if (registry_get(b->registry, s->client_id, s->client_id_len) == s)
        registry_remove(b->registry, s);
    s->ended = true;
    if (s->stored && b->store) {
        store_session_delete(b->store, s->client_id, s->client_id_len);
        s->stored = false;
    }
    struct message *will = s->will;
    s->will = NULL;
    struct delivery *pending = session_take_all_locked(s);
    struct session_subscription *subs = session_take_subscriptions_locked(s);
    mq_lock_release(&s->lock);
    pthread_mutex_unlock(&b->registry_lock);

    pthread_rwlock_wrlock(&b->tree_lock);
    for (struct session_subscription *sub = subs; sub; sub = sub->next) {
        mq_bytes group = {(const uint8_t *)sub->text, sub->group_len};
        mq_bytes filter = {(const uint8_t *)sub->text + sub->group_len, sub->filter_len};
        topic_tree_unsubscribe(b->tree, group, filter, s);
    }
    pthread_rwlock_unlock(&b->tree_lock);
    while (subs) {
        struct session_subscription *next = subs->next;
        free(subs);
        subs = next;
    }
    /* The will goes out at the latest when the session ends [MQTT-3.1.2-8]. */
    if (will)
        broker_publish_will(b, will, now_ms);
    while (pending) {
        struct delivery *next = pending->next;
        /* QoS 1 messages and ones never sent go to another member; a QoS 2 message already
         * on its way to this member goes to no one else [MQTT-4.8.2-6]. */
        if (pending->share_group && pending->qos > 0 && (pending->qos == 1 || !pending->sent))
            redeliver_shared(b, pending, s, now_ms);
        delivery_free(pending);
        pending = next;
    }
}

struct sweep {
    uint64_t now_ms;
    struct message **wills;
    size_t will_count, will_cap;
    struct session **expired;
    size_t expired_count, expired_cap;
};

static bool grow(void **array, size_t *cap, size_t count, size_t size)
{
    if (count < *cap)
        return true;
    size_t n = *cap ? *cap * 2 : 16;
    void *a = realloc(*array, n * size);
    if (!a)
        return false;
    *array = a;
    *cap = n;
    return true;
}

static void sweep_one(void *ctx, struct session *s)
{
    struct sweep *sw = ctx;
    mq_lock_acquire(&s->lock);
    if (s->dropped != s->dropped_reported) {
        /* Once a second at most per client, so a flood of drops cannot flood the log. */
        log_warning("client '%s': %u message%s dropped (max_queued_messages / max_queued_bytes, "
                    "too large for the client, or expired); %u in all",
                    s->client_id, s->dropped - s->dropped_reported,
                    s->dropped - s->dropped_reported == 1 ? "" : "s", s->dropped);
        s->dropped_reported = s->dropped;
    }
    if (!s->conn) {
        if (s->will && s->will_at_ms && s->will_at_ms <= sw->now_ms &&
            grow((void **)&sw->wills, &sw->will_cap, sw->will_count, sizeof *sw->wills)) {
            sw->wills[sw->will_count++] = s->will;
            s->will = NULL;
            s->will_at_ms = 0;
            if (s->stored && s->broker->store)
                store_session_put(s->broker->store, s); /* the will is gone */
        }
        if (s->expires_at_ms && s->expires_at_ms <= sw->now_ms &&
            grow((void **)&sw->expired, &sw->expired_cap, sw->expired_count, sizeof *sw->expired)) {
            sw->expired[sw->expired_count++] = session_ref(s);
        }
    }
    mq_lock_release(&s->lock);
}

void broker_retain_locked(struct broker *b, const uint8_t *topic, size_t len, struct message *m)
{
    if (m && m->expires_at_ms &&
        (!b->retained_expiry_ms || m->expires_at_ms < b->retained_expiry_ms))
        b->retained_expiry_ms = m->expires_at_ms;
    retained_set(b->retained, topic, len, m);
}

struct expired_topic {
    uint8_t *name;
    size_t len;
};

struct expired_retained {
    uint64_t now_ms, next_ms; /* the earliest expiry of those that stay */
    struct expired_topic *topics;
    size_t count, cap;
};

static int collect_expired(void *ctx, const uint8_t *topic, size_t topic_len, void *message)
{
    struct expired_retained *ex = ctx;
    const struct message *m = message;
    if (!m->expires_at_ms)
        return 0;
    if (!message_expired(m, ex->now_ms)) {
        if (!ex->next_ms || m->expires_at_ms < ex->next_ms)
            ex->next_ms = m->expires_at_ms;
        return 0;
    }
    uint8_t *copy = malloc(topic_len ? topic_len : 1);
    if (!copy || !grow((void **)&ex->topics, &ex->cap, ex->count, sizeof *ex->topics)) {
        free(copy);
        ex->next_ms = ex->now_ms; /* out of memory: the rest on the next sweep */
        return 0;
    }
    memcpy(copy, topic, topic_len);
    ex->topics[ex->count++] = (struct expired_topic){copy, topic_len};
    return 0;
}

/* Frees retained messages whose Message Expiry Interval has passed: they were no longer sent
 * [MQTT-3.3.2-5], and now no longer kept. One walk of the retained store, only once the
 * earliest expiry noted has come; the store thread deletes their rows on its own. */
static void prune_expired_retained(struct broker *b, uint64_t now_ms)
{
    pthread_mutex_lock(&b->retained_lock);
    if (!b->retained_expiry_ms || b->retained_expiry_ms > now_ms) {
        pthread_mutex_unlock(&b->retained_lock);
        return;
    }
    struct expired_retained ex = {.now_ms = now_ms};
    retained_each(b->retained, collect_expired, &ex);
    for (size_t i = 0; i < ex.count; i++) {
        retained_set(b->retained, ex.topics[i].name, ex.topics[i].len, NULL);
        free(ex.topics[i].name);
    }
    b->retained_expiry_ms = ex.next_ms;
    pthread_mutex_unlock(&b->retained_lock);
    free(ex.topics);
}

void broker_sweep(struct broker *b, uint64_t now_ms)
{
    prune_expired_retained(b, now_ms);
    struct sweep sw = {.now_ms = now_ms};
    pthread_mutex_lock(&b->registry_lock);
    registry_each(b->registry, sweep_one, &sw);
    pthread_mutex_unlock(&b->registry_lock);
    for (size_t i = 0; i < sw.will_count; i++)
        broker_publish_will(b, sw.wills[i], now_ms);
    for (size_t i = 0; i < sw.expired_count; i++) {
        /* A session ends when its expiry interval passes offline [MQTT-4.1.0-2]; one resumed
         * since the sweep looked is left alone by broker_session_end. */
        broker_session_end(b, sw.expired[i], now_ms);
        session_unref(sw.expired[i]);
    }
    free(sw.wills);
    free(sw.expired);
}

void broker_stats(struct broker *b, struct mqttd_stats *out)
{
    memset(out, 0, sizeof *out);
    out->connections = atomic_load(&b->stats.connections);
    out->messages_received = atomic_load(&b->stats.messages_received);
    out->messages_sent = atomic_load(&b->stats.messages_sent);
    out->messages_dropped = atomic_load(&b->stats.messages_dropped);
    out->bytes_received = atomic_load(&b->stats.bytes_received);
    out->bytes_sent = atomic_load(&b->stats.bytes_sent);
    out->publishers_held = atomic_load(&b->stats.publishers_held);
    pthread_mutex_lock(&b->registry_lock);
    out->sessions = registry_count(b->registry);
    pthread_mutex_unlock(&b->registry_lock);
    pthread_rwlock_rdlock(&b->tree_lock);
    out->subscriptions = topic_tree_count(b->tree);
    pthread_rwlock_unlock(&b->tree_lock);
    pthread_mutex_lock(&b->retained_lock);
    out->retained_messages = retained_count(b->retained);
    pthread_mutex_unlock(&b->retained_lock);
}
