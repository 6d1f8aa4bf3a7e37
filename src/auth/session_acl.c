/*
 * Authorization state of sessions (see session_acl.h). Deciding a session's subscriptions costs
 * one filter check per subscription; it runs at CONNECT and after a reload, never per message.
 */
#include "auth/session_acl.h"

#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "broker/broker.h"
#include "server/log.h"
#include "session/conn.h"
#include "session/session.h"

/* The generation under which every subscription of s is granted whole, or 0. */
static uint64_t decide_locked(struct broker *b, struct session *s)
{
    struct acl_client who = {s->client_id, s->username};
    uint64_t generation = auth_generation(b->auth);
    if (!auth_has_acl(b->auth))
        return generation; /* everything is granted: no need to look at each filter */
    for (struct session_subscription *sub = s->subscriptions; sub; sub = sub->next) {
        uint64_t g;
        enum acl_verdict v = auth_filter_verdict(
            b->auth, &who, (const uint8_t *)sub->text + sub->group_len, sub->filter_len, &g);
        if (v != ACL_GRANTED || g != generation)
            return 0;
    }
    return generation;
}

int session_acl_bind_locked(struct broker *b, struct session *s, const char *username,
                            bool password_user)
{
    char *copy = username ? strdup(username) : NULL;
    if (username && !copy)
        return -1;
    free(s->username);
    s->username = copy;
    s->password_user = password_user;
    atomic_store_explicit(&s->acl_granted_generation, decide_locked(b, s), memory_order_release);
    return 0;
}

void session_acl_subscribed_locked(struct session *s, enum acl_verdict verdict, uint64_t generation)
{
    if (verdict != ACL_GRANTED ||
        atomic_load_explicit(&s->acl_granted_generation, memory_order_relaxed) != generation)
        atomic_store_explicit(&s->acl_granted_generation, 0, memory_order_release);
}

struct reload_walk {
    struct broker *broker;
    unsigned disconnected;
};

static void reload_one(void *ctx, struct session *s)
{
    struct reload_walk *w = ctx;
    struct broker *b = w->broker;
    mq_lock_acquire(&s->lock);
    atomic_store_explicit(&s->acl_granted_generation, decide_locked(b, s), memory_order_release);
    struct conn *c = s->conn;
    if (c && s->password_user && s->username && !auth_user_exists(b->auth, s->username)) {
        log_notice("client '%s': user '%s' is no longer in the password file: disconnecting",
                   s->client_id, s->username);
        atomic_store(&c->kick_reason, MQ_RC_ADMINISTRATIVE_ACTION);
        c->transport->post_kick(c);
        s->password_user = false; /* told once */
        w->disconnected++;
    }
    mq_lock_release(&s->lock);
}

unsigned session_acl_reloaded(struct broker *b)
{
    struct reload_walk w = {b, 0};
    pthread_mutex_lock(&b->registry_lock);
    registry_each(b->registry, reload_one, &w);
    pthread_mutex_unlock(&b->registry_lock);
    return w.disconnected;
}
