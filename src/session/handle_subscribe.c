/*
 * SUBSCRIBE and UNSUBSCRIBE (MQTT 5.0 sections 3.8 and 3.10): one reason code per filter,
 * the embedder's subscribe handlers, the index update, then the retained messages the
 * Retain Handling option asks for, sent after the SUBACK.
 */
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "auth/session_acl.h"
#include "broker/broker.h"
#include "broker/topic.h"
#include "server/log.h"
#include "session/conn.h"
#include "session/session.h"
#include "store/store.h"

#define PROP(p, id) ((p)->present & MQ_PROP_BIT(id))

/* What to do after the SUBACK for one granted filter. */
struct after_suback {
    mq_bytes filter; /* owned copy */
    uint8_t options;
    bool send_retained;
    struct message *reply; /* a handler's message for this subscriber alone, or NULL */
};

static bool has_wildcard(mq_bytes f)
{
    return memchr(f.data, '+', f.len) || memchr(f.data, '#', f.len);
}

static struct message *handler_reply(const mqttd_subscribe_reply *r, uint64_t now_ms)
{
    size_t len = strlen(r->reply_topic);
    if (!topic_name_valid((const uint8_t *)r->reply_topic, len, 0, 65535))
        return NULL;
    return message_new((const uint8_t *)r->reply_topic, (uint16_t)len, NULL, 0, r->reply_payload,
                       (uint32_t)r->reply_payload_len, 0, false, 0, now_ms);
}

/* Decides one filter: returns the granted QoS or a failure reason code (>= 0x80). */
static uint8_t subscribe_one(struct conn *c, struct session *s, const mq_topic_request *req,
                             uint32_t sub_id, struct after_suback *after, uint64_t now_ms)
{
    struct broker *b = c->broker;
    const struct mq_config *cfg = b->config;
    mq_bytes group = {0}, filter = req->filter;
    int shared = topic_share_parse(req->filter.data, req->filter.len, &group, &filter);
    if (shared < 0)
        return MQ_RC_TOPIC_FILTER_INVALID; /* [MQTT-4.8.2-1], [MQTT-4.8.2-2] */
    if (shared && !cfg->shared_subscriptions)
        return MQ_RC_SHARED_SUBSCRIPTIONS_NOT_SUPPORTED;
    if (!topic_filter_valid(filter.data, filter.len, cfg->max_topic_levels, cfg->max_topic_length))
        return MQ_RC_TOPIC_FILTER_INVALID;
    if (!cfg->wildcard_subscriptions && has_wildcard(filter))
        return MQ_RC_WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED;
    /* Decided once for the filter; only a filter the ACL grants in part makes deliveries to the
     * session checked topic by topic (auth/session_acl.h). */
    uint64_t acl_generation;
    struct acl_client who = {s->client_id, c->username};
    enum acl_verdict verdict =
        auth_filter_verdict(b->auth, &who, filter.data, filter.len, &acl_generation);
    if (verdict == ACL_DENIED)
        return MQ_RC_NOT_AUTHORIZED; /* 3.1.1: SUBACK 0x80 */

    uint8_t qos = req->options & MQ_SUBOPT_QOS_MASK;
    if (qos > cfg->max_qos)
        qos = cfg->max_qos; /* granted lower than requested [MQTT-3.2.2-9] */
    mqttd_subscribe_reply reply = {.granted_qos = qos};
    for (struct handler *h = b->on_subscribe; h; h = h->next) {
        /* The subscribed filter is matched as if it were a topic: "sensors/#" covers
         * "sensors/+/temp". */
        if (!topic_matches((const uint8_t *)h->filter, strlen(h->filter), filter.data, filter.len))
            continue;
        char text[req->filter.len + 1];
        memcpy(text, req->filter.data, req->filter.len);
        text[req->filter.len] = 0;
        mqttd_client info;
        conn_client_info(c, &info);
        ((mqttd_subscribe_handler)h->fn)(h->user, &info, text, &reply);
        if (reply.reason_code >= 0x80)
            return (uint8_t)reply.reason_code;
    }
    if (reply.granted_qos >= 0 && reply.granted_qos < qos)
        qos = (uint8_t)reply.granted_qos;

    mq_lock_acquire(&s->lock);
    bool known = session_subscription_find_locked(s, group.data, (uint16_t)group.len, filter.data,
                                                  (uint16_t)filter.len) != NULL;
    mq_lock_release(&s->lock);
    if (!known && cfg->max_subscriptions_per_client &&
        s->subscription_count >= cfg->max_subscriptions_per_client) {
        LIMITS_COUNT(&b->limits, subscriptions_refused);
        return MQ_RC_QUOTA_EXCEEDED;
    }
    if (!limits_admit_subscription(&c->limits, cfg, (uint32_t)now_ms)) {
        LIMITS_COUNT(&b->limits, subscribe_rate_refused);
        return MQ_RC_QUOTA_EXCEEDED;
    }

    uint8_t options = (uint8_t)((req->options & ~MQ_SUBOPT_QOS_MASK) | qos);
    int replaced = broker_subscribe(b, s, group, filter, options, sub_id);
    if (replaced < 0)
        return MQ_RC_UNSPECIFIED_ERROR;
    mq_lock_acquire(&s->lock);
    session_subscription_add_locked(s, group.data, (uint16_t)group.len, filter.data,
                                    (uint16_t)filter.len, options, sub_id);
    session_acl_subscribed_locked(s, verdict, acl_generation);
    if (s->stored && b->store)
        store_subscription_put(b->store, s, group.data, (uint16_t)group.len, filter.data,
                               (uint16_t)filter.len, options, sub_id);
    mq_lock_release(&s->lock);

    unsigned retain_handling =
        (req->options & MQ_SUBOPT_RETAIN_HANDLING_MASK) >> MQ_SUBOPT_RETAIN_HANDLING_SHIFT;
    uint8_t *copy = malloc(filter.len ? filter.len : 1);
    if (copy) {
        memcpy(copy, filter.data, filter.len);
        after->filter = (mq_bytes){copy, filter.len};
    }
    after->options = options;
    /* Retained messages go to new non-shared subscriptions (RH 0 or 1), and again on a
     * replaced one only for RH 0 [MQTT-3.3.1-9], [MQTT-3.3.1-10], [MQTT-3.3.1-11]; never to a
     * shared subscription. */
    after->send_retained =
        copy && !shared && (retain_handling == 0 || (retain_handling == 1 && replaced == 0));
    if (reply.reply_topic)
        after->reply = handler_reply(&reply, now_ms);
    return qos;
}

/* Everything that follows the SUBACK, kept until it is sent (which may be after a store
 * commit, on the store thread). */
struct suback_tail {
    struct broker *broker;
    struct session *session; /* one reference */
    uint32_t sub_id;
    uint32_t count;
    struct after_suback *after; /* owned, count entries */
};

static void free_after(struct after_suback *after, uint32_t count)
{
    for (uint32_t i = 0; after && i < count; i++) {
        message_unref(after[i].reply);
        free((void *)after[i].filter.data);
    }
    free(after);
}

static void run_tail(void *ctx)
{
    struct suback_tail *t = ctx;
    uint64_t now_ms = broker_now_ms();
    for (uint32_t i = 0; i < t->count; i++) {
        struct after_suback *a = &t->after[i];
        if (a->send_retained)
            broker_send_retained(t->broker, t->session, a->filter.data, (uint16_t)a->filter.len,
                                 a->options, t->sub_id, now_ms);
        if (a->reply)
            session_deliver(t->session, a->reply, 0, false, NULL, 0, NULL, now_ms);
    }
    free_after(t->after, t->count);
    session_unref(t->session);
    free(t);
}

int handle_subscribe(struct conn *c, const struct mq_subscribe *p, uint64_t now_ms)
{
    const struct mq_config *cfg = c->broker->config;
    uint32_t sub_id = 0;
    if (PROP(&p->props, MQ_PROP_SUBSCRIPTION_IDENTIFIER)) {
        if (!cfg->subscription_identifiers)
            return -MQ_RC_SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED;
        sub_id = p->props.subscription_id;
    }
    uint64_t changes = store_thread_changes();
    struct session *s = conn_lock_session(c);
    if (!s)
        return 0;
    session_ref(s);
    mq_lock_release(&s->lock);

    struct suback_tail *tail = NULL;
    uint8_t *reasons = malloc(p->entry_count ? p->entry_count : 1);
    struct after_suback *after = calloc(p->entry_count ? p->entry_count : 1, sizeof *after);
    int rc = 0;
    if (!reasons || !after) {
        rc = -MQ_RC_UNSPECIFIED_ERROR;
        goto out;
    }
    uint32_t cursor = 0, n = 0;
    mq_topic_request req;
    while (n < p->entry_count && mq_subscribe_next(p, &cursor, &req) == 1) {
        if ((req.options & MQ_SUBOPT_NO_LOCAL) && req.filter.len >= TOPIC_SHARE_PREFIX_LEN &&
            !memcmp(req.filter.data, TOPIC_SHARE_PREFIX, TOPIC_SHARE_PREFIX_LEN)) {
            rc = -MQ_RC_PROTOCOL_ERROR; /* No Local on a shared subscription [MQTT-3.8.3-4] */
            goto out;
        }
        reasons[n] = subscribe_one(c, s, &req, sub_id, &after[n], now_ms);
        n++;
    }
    /* One reason code per filter, in order [MQTT-3.8.4-6], [MQTT-3.9.3-1]. */
    struct mq_packet ack = {.type = MQ_SUBACK};
    ack.u.suback.packet_id = p->packet_id;
    ack.u.suback.reason_codes = reasons;
    ack.u.suback.reason_code_count = n;
    if (!(tail = malloc(sizeof *tail))) {
        rc = -MQ_RC_UNSPECIFIED_ERROR;
        goto out;
    }
    *tail = (struct suback_tail){c->broker, session_ref(s), sub_id, p->entry_count, after};
    after = NULL;
    /* With durability full a SUBACK promises the subscription is on disk; the retained
     * messages it asks for follow it [MQTT-3.8.4-1]. */
    conn_send_when_durable(c, &ack, changes, run_tail, tail);
out:
    free_after(after, p->entry_count);
    free(reasons);
    session_unref(s);
    return rc;
}

int handle_unsubscribe(struct conn *c, const struct mq_subscribe *p, uint64_t now_ms)
{
    struct session *s = conn_lock_session(c);
    if (!s)
        return 0;
    session_ref(s);
    mq_lock_release(&s->lock);
    uint8_t *reasons = malloc(p->entry_count ? p->entry_count : 1);
    if (!reasons) {
        session_unref(s);
        return -MQ_RC_UNSPECIFIED_ERROR;
    }
    uint32_t cursor = 0, n = 0;
    mq_bytes text;
    while (n < p->entry_count && mq_unsubscribe_next(p, &cursor, &text) == 1) {
        mq_bytes group = {0}, filter = text;
        if (topic_share_parse(text.data, text.len, &group, &filter) < 0) {
            reasons[n++] = MQ_RC_TOPIC_FILTER_INVALID;
            continue;
        }
        int removed = broker_unsubscribe(c->broker, s, group, filter);
        mq_lock_acquire(&s->lock);
        if (session_subscription_remove_locked(s, group.data, (uint16_t)group.len, filter.data,
                                               (uint16_t)filter.len) &&
            s->stored && c->broker->store)
            store_subscription_delete(c->broker->store, s, group.data, (uint16_t)group.len,
                                      filter.data, (uint16_t)filter.len);
        mq_lock_release(&s->lock);
        reasons[n++] = removed > 0 ? MQ_RC_SUCCESS : MQ_RC_NO_SUBSCRIPTION_EXISTED;
    }
    struct mq_packet ack = {.type = MQ_UNSUBACK};
    ack.u.suback.packet_id = p->packet_id;
    ack.u.suback.reason_codes = reasons;
    ack.u.suback.reason_code_count = n;
    conn_send_packet(c, &ack); /* [MQTT-3.10.4-4], [MQTT-3.10.4-5] */
    free(reasons);
    session_unref(s);
    return 0;
}
