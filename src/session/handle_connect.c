/*
 * CONNECT: checks the request, binds the connection to a new or resumed session (taking it
 * over from a live connection if there is one), and answers CONNACK with the properties that
 * tell a v5 client the server's limits (MQTT 5.0 section 3.1 and 3.2).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "auth/enhanced_auth.h"
#include "auth/session_acl.h"
#include "broker/broker.h"
#include "broker/topic.h"
#include "server/log.h"
#include "session/conn.h"
#include "session/session.h"
#include "store/store.h"

#define PROP(p, id) ((p)->present & MQ_PROP_BIT(id))
#define SET(p, id) ((p)->present |= MQ_PROP_BIT(id))

/* The 3.1.1 CONNACK return code nearest to a v5 reason code. */
static uint8_t v3_return_code(uint8_t reason)
{
    switch (reason) {
    case MQ_RC_UNSUPPORTED_PROTOCOL_VERSION:
        return MQ_V3_REFUSED_PROTOCOL_VERSION;
    case MQ_RC_CLIENT_IDENTIFIER_NOT_VALID:
        return MQ_V3_REFUSED_IDENTIFIER_REJECTED;
    case MQ_RC_BAD_USER_NAME_OR_PASSWORD:
        return MQ_V3_REFUSED_BAD_USERNAME_PASSWORD;
    case MQ_RC_SERVER_UNAVAILABLE:
    case MQ_RC_SERVER_BUSY:
    case MQ_RC_QUOTA_EXCEEDED:
    case MQ_RC_SERVER_SHUTTING_DOWN:
        return MQ_V3_REFUSED_SERVER_UNAVAILABLE;
    default:
        return MQ_V3_REFUSED_NOT_AUTHORIZED;
    }
}

/* Sends a refusing CONNACK [MQTT-3.2.2-6] and returns the negative code that closes. */
static int refuse(struct conn *c, uint8_t reason, const char *why)
{
    struct mq_packet ack = {.type = MQ_CONNACK};
    ack.u.connack.reason_code = c->version == MQ_V5 ? reason : v3_return_code(reason);
    if (c->version == MQ_V5 && why && c->request_problem_info) {
        SET(&ack.u.connack.props, MQ_PROP_REASON_STRING);
        ack.u.connack.props.reason_string = (mq_bytes){(const uint8_t *)why, (uint32_t)strlen(why)};
    }
    conn_send_packet(c, &ack);
    log_info("%s: CONNECT refused: %s (%s)", conn_peer(c), mq_reason_code_name(reason), why);
    return -reason;
}

static struct message *will_from_connect(const struct mq_connect *p, uint64_t now_ms)
{
    uint8_t *forward = malloc(p->will_props.raw.len + 1);
    if (!forward)
        return NULL;
    size_t forward_len = mq_props_copy_forwardable(&p->will_props, forward);
    uint32_t expiry = PROP(&p->will_props, MQ_PROP_MESSAGE_EXPIRY_INTERVAL)
                          ? p->will_props.message_expiry_interval
                          : 0;
    struct message *will = message_new(
        p->will_topic.data, (uint16_t)p->will_topic.len, forward, (uint32_t)forward_len,
        p->will_payload.data, p->will_payload.len, p->will_qos, p->will_retain, expiry, now_ms);
    free(forward);
    return will;
}

/* Checks what the server can refuse before any session is touched; 0 or a reason code. */
static uint8_t check_request(struct conn *c, const struct mq_connect *p, const char **why)
{
    const struct mq_config *cfg = c->broker->config;
    bool enhanced = PROP(&p->props, MQ_PROP_AUTHENTICATION_METHOD);
    if (enhanced && !auth_find_method(c->broker->auth, p->props.authentication_method.data,
                                      p->props.authentication_method.len)) {
        *why = "unknown authentication method";
        return MQ_RC_BAD_AUTHENTICATION_METHOD; /* [MQTT-4.12.0-1] */
    }
    const struct mq_listener_config *l = c->listener;
    bool use_identity = l && l->use_identity_as_username;
    if (use_identity && !c->username) { /* no identity from the transport (conn.h) */
        *why = "this listener takes the username from a client certificate, and none was given";
        return MQ_RC_NOT_AUTHORIZED;
    }
    bool anonymous_ok = l && l->allow_anonymous >= 0 ? l->allow_anonymous : cfg->allow_anonymous;
    if (!anonymous_ok && !use_identity && !enhanced && (!p->username_flag || !cfg->password_file)) {
        *why = "anonymous access is not allowed";
        return MQ_RC_NOT_AUTHORIZED;
    }
    if (p->client_id.len == 0 && (c->version == MQ_V31 || !p->clean_start)) {
        /* A 3.1.1 client without an id must ask for a clean session [MQTT-3.1.3-8]. */
        *why = "an empty client identifier needs clean start";
        return MQ_RC_CLIENT_IDENTIFIER_NOT_VALID;
    }
    if (c->version != MQ_V5 && cfg->max_keepalive < 65535 &&
        (p->keep_alive == 0 || p->keep_alive > cfg->max_keepalive)) {
        /* 3.1.1 has no Server Keep Alive; refuse as Mosquitto does. */
        *why = "keep alive above max_keepalive";
        return MQ_RC_CLIENT_IDENTIFIER_NOT_VALID;
    }
    if (p->will_flag) {
        if (!topic_name_valid(p->will_topic.data, p->will_topic.len, cfg->max_topic_levels,
                              cfg->max_topic_length)) {
            *why = "invalid will topic";
            return MQ_RC_TOPIC_NAME_INVALID;
        }
        if (PROP(&p->will_props, MQ_PROP_RESPONSE_TOPIC) &&
            !topic_name_valid(p->will_props.response_topic.data, p->will_props.response_topic.len,
                              0, 65535)) {
            *why = "invalid will response topic";
            return MQ_RC_TOPIC_NAME_INVALID; /* [MQTT-3.1.3-?] like [MQTT-3.3.2-14] */
        }
        if (p->will_qos > cfg->max_qos) {
            *why = "will QoS above the server's maximum";
            return MQ_RC_QOS_NOT_SUPPORTED; /* [MQTT-3.2.2-12] */
        }
        if (p->will_retain && !cfg->retain_available) {
            *why = "retained messages are not available";
            return MQ_RC_RETAIN_NOT_SUPPORTED; /* [MQTT-3.2.2-13] */
        }
        if (PROP(&p->will_props, MQ_PROP_PAYLOAD_FORMAT_INDICATOR) &&
            p->will_props.payload_format_indicator == 1 &&
            !mq_utf8_valid(p->will_payload.data, p->will_payload.len)) {
            *why = "will payload is not UTF-8 as its format indicator says";
            return MQ_RC_PAYLOAD_FORMAT_INVALID; /* [MQTT-3.1.2-? payload format] */
        }
    }
    if (cfg->message_size_limit && p->will_flag && p->will_payload.len > cfg->message_size_limit) {
        *why = "will payload above message_size_limit";
        return MQ_RC_PACKET_TOO_LARGE;
    }
    return 0;
}

static uint8_t run_connect_handlers(struct conn *c, const char *client_id)
{
    for (struct handler *h = c->broker->on_connect; h; h = h->next) {
        mqttd_client info;
        conn_client_info(c, &info);
        info.client_id = client_id;
        int rc = ((mqttd_connect_handler)h->fn)(h->user, &info);
        if (rc)
            return rc >= 0x80 && rc <= 0xFF ? (uint8_t)rc : MQ_RC_NOT_AUTHORIZED;
    }
    return 0;
}

static char *expand_response_information(const char *pattern, const char *client_id)
{
    size_t cap = strlen(pattern) + 1;
    for (const char *p = pattern; *p; p++)
        if (p[0] == '%' && p[1] == 'c')
            cap += strlen(client_id);
    char *out = malloc(cap);
    if (!out)
        return NULL;
    char *w = out;
    for (const char *p = pattern; *p; p++) {
        if (p[0] == '%' && p[1] == 'c') {
            w = stpcpy(w, client_id);
            p++;
        } else {
            *w++ = *p;
        }
    }
    *w = 0;
    return out;
}

/* Writes everything a session holds to the store: it became persistent (session lock held). */
static void store_whole_session_locked(struct mq_store *st, struct session *s, uint64_t now_ms)
{
    store_session_put(st, s);
    for (struct session_subscription *sub = s->subscriptions; sub; sub = sub->next)
        store_subscription_put(st, s, (const uint8_t *)sub->text, sub->group_len,
                               (const uint8_t *)sub->text + sub->group_len, sub->filter_len,
                               sub->options, sub->subscription_id);
    struct delivery_list *lists[] = {&s->inflight, &s->queue};
    for (int i = 0; i < 2; i++) {
        for (struct delivery *d = lists[i]->head; d; d = d->next) {
            if (d->qos == 0)
                continue;
            if (!d->store_id)
                d->store_id = store_new_delivery_id(st);
            d->store_seq = store_delivery_put(st, s, d, now_ms);
        }
    }
}

static int refuse_full(struct conn *c)
{
    LIMITS_COUNT(&c->broker->limits, connections_refused);
    return refuse(c, MQ_RC_QUOTA_EXCEEDED, "max_connections reached");
}

/* Reserves a connection slot under max_connections. */
static bool take_connection_slot(struct broker *b)
{
    uint64_t n = atomic_fetch_add(&b->stats.connections, 1) + 1;
    if (b->config->max_connections && n > b->config->max_connections) {
        atomic_fetch_sub(&b->stats.connections, 1);
        return false;
    }
    return true;
}

/* Authenticates the client: its enhanced authentication exchange, or its password when a
 * password file is loaded. Returns 0 (*password_user tells whether the password file vouched
 * for the user), ENHANCED_AUTH_WAIT, or a negative reason code with *why. */
static int authenticate(struct conn *c, const struct mq_connect *p, mq_bytes raw,
                        bool *password_user, const char **why)
{
    struct auth *auth = c->broker->auth;
    *password_user = false;
    if (PROP(&p->props, MQ_PROP_AUTHENTICATION_METHOD)) {
        if (c->auth && c->auth->authenticated)
            return 0; /* the exchange finished: this is its held CONNECT */
        *why = "enhanced authentication failed";
        return enhanced_auth_begin(c, p, raw);
    }
    if ((c->listener && c->listener->use_identity_as_username) || !p->username_flag ||
        !auth_has_passwords(auth))
        return 0;
    if (!p->password_flag ||
        auth_check_password(auth, (const char *)p->username.data, p->username.len, p->password.data,
                            p->password.len) != 0) {
        *why = "bad user name or password";
        return -MQ_RC_BAD_USER_NAME_OR_PASSWORD;
    }
    *password_user = true;
    return 0;
}

int handle_connect(struct conn *c, const struct mq_connect *p, mq_bytes raw, uint64_t now_ms)
{
    struct broker *b = c->broker;
    const struct mq_config *cfg = b->config;
    c->version = p->protocol_version;
    bool v5 = c->version == MQ_V5;

    const mq_props *cp = &p->props;
    uint16_t receive_max = 65535;
    if (v5) {
        if (PROP(cp, MQ_PROP_REQUEST_PROBLEM_INFORMATION))
            c->request_problem_info = cp->request_problem_information;
        if (PROP(cp, MQ_PROP_RECEIVE_MAXIMUM))
            receive_max = cp->receive_maximum;
        if (PROP(cp, MQ_PROP_MAXIMUM_PACKET_SIZE))
            c->max_packet_out = cp->maximum_packet_size;
        if (PROP(cp, MQ_PROP_TOPIC_ALIAS_MAXIMUM))
            c->alias_out_max = cp->topic_alias_maximum < cfg->max_topic_alias_out
                                   ? cp->topic_alias_maximum
                                   : cfg->max_topic_alias_out;
    }
    const char *why = NULL;
    uint8_t reason = check_request(c, p, &why);
    if (reason)
        return refuse(c, reason, why);
    /* Before any password hash is computed: refusing is then cheap. */
    if (limits_memory_over(&b->limits)) {
        LIMITS_COUNT(&b->limits, memory_refused);
        return refuse(c, MQ_RC_QUOTA_EXCEEDED, "memory_limit reached");
    }
    if (cfg->max_connections && atomic_load(&b->stats.connections) >= cfg->max_connections)
        return refuse_full(c);
    bool password_user;
    int auth_rc = authenticate(c, p, raw, &password_user, &why);
    if (auth_rc == ENHANCED_AUTH_WAIT)
        return 0; /* CONNACK after the AUTH exchange */
    if (auth_rc < 0)
        return refuse(c, (uint8_t)-auth_rc, why);

    char client_id[p->client_id.len ? p->client_id.len + 1 : 40];
    bool assigned = p->client_id.len == 0;
    if (assigned) {
        /* A unique identifier the server makes up [MQTT-3.1.3-6], [MQTT-3.1.3-7]. */
        snprintf(client_id, sizeof client_id, "mqttd-%llx-%llx",
                 (unsigned long long)(now_ms & 0xffffffffu),
                 (unsigned long long)atomic_fetch_add(&b->next_client_number, 1));
    } else {
        memcpy(client_id, p->client_id.data, p->client_id.len);
        client_id[p->client_id.len] = 0;
    }
    uint16_t id_len = (uint16_t)strlen(client_id);
    /* With use_identity_as_username the certificate names the user: the transport's identity
     * stays in c->username (conn.h). Elsewhere it is not the user name. */
    if (!(c->listener && c->listener->use_identity_as_username)) {
        free(c->username);
        c->username = NULL;
        if (c->auth && c->auth->username) {
            c->username = strdup(c->auth->username); /* the authentication method proved it */
            password_user = auth_user_exists(b->auth, c->username);
        } else if (p->username_flag) {
            c->username = malloc(p->username.len + 1);
            if (c->username) {
                memcpy(c->username, p->username.data, p->username.len);
                c->username[p->username.len] = 0;
            }
        }
    }
    reason = run_connect_handlers(c, client_id);
    if (reason)
        return refuse(c, reason, "refused by the server's connect handler");
    if (!take_connection_slot(b))
        return refuse_full(c);

    uint32_t expiry;
    bool expiry_capped = false;
    if (v5) {
        expiry = PROP(cp, MQ_PROP_SESSION_EXPIRY_INTERVAL) ? cp->session_expiry_interval : 0;
        if (cfg->session_expiry_max_s && expiry > cfg->session_expiry_max_s) {
            expiry = cfg->session_expiry_max_s;
            expiry_capped = true;
        }
    } else {
        expiry = p->clean_start                        ? 0
                 : cfg->persistent_client_expiration_s ? cfg->persistent_client_expiration_s
                                                       : UINT32_MAX;
    }

    /* A will the user may not publish is dropped here, as an unauthorized PUBLISH would be;
     * the connection itself is accepted. */
    struct acl_client who = {client_id, c->username};
    bool will_allowed =
        !p->will_flag || auth_may_write(b->auth, &who, p->will_topic.data, p->will_topic.len);
    if (!will_allowed)
        log_info("%s: client '%s': will on '%.*s' not authorized: it will not be published",
                 conn_peer(c), client_id, (int)p->will_topic.len, p->will_topic.data);
    struct message *will = p->will_flag && will_allowed ? will_from_connect(p, now_ms) : NULL;
    struct session *ended = NULL;
    struct message *old_will = NULL;
    bool session_present = false;

    pthread_mutex_lock(&b->registry_lock);
    struct session *s = registry_get(b->registry, client_id, id_len);
    if (s) {
        mq_lock_acquire(&s->lock);
        struct conn *old = s->conn;
        if (old) {
            /* Takeover: the old connection gets DISCONNECT 0x8E and is closed [MQTT-3.1.4-3]. */
            s->conn = NULL;
            atomic_store(&s->online, false);
            atomic_store(&old->kicked, true);
            old->transport->post_kick(old);
        }
        if (p->clean_start) {
            /* Clean Start discards the existing session [MQTT-3.1.2-4]; its will goes out with
             * its end. */
            if (s->stored && b->store) {
                /* Gone from the file before the new session of the same id is written. */
                store_session_delete(b->store, s->client_id, s->client_id_len);
                s->stored = false;
            }
            mq_lock_release(&s->lock);
            registry_remove(b->registry, session_ref(s));
            ended = s;
            s = NULL;
        } else {
            /* A new connection before the will delay passed cancels a delayed will
             * [MQTT-3.1.3-9]; an immediate will of a connection taken over still goes out. */
            if (s->will && old && s->will_delay_s == 0)
                old_will = s->will;
            else
                message_unref(s->will);
            s->will = NULL;
            s->will_at_ms = 0;
            s->expires_at_ms = 0;
            session_present = true;
            mq_lock_release(&s->lock);
        }
    }
    if (!s) {
        s = session_new(b, client_id, id_len);
        if (!s || registry_put(b->registry, s) != 0) {
            pthread_mutex_unlock(&b->registry_lock);
            if (s)
                session_unref(s);
            message_unref(will);
            atomic_fetch_sub(&b->stats.connections, 1);
            return refuse(c, MQ_RC_SERVER_UNAVAILABLE, "out of memory");
        }
        session_unref(s); /* the registry holds it now */
    }
    mq_lock_acquire(&s->lock);
    s->conn = c;
    atomic_store(&s->online, true);
    s->protocol_version = c->version;
    if (session_acl_bind_locked(b, s, c->username, password_user) != 0)
        log_warning("client '%s': out of memory recording its username", s->client_id);
    s->expiry_interval_s = expiry;
    /* Our outbound window: the client's Receive Maximum, capped by max_inflight_messages. */
    s->send_quota =
        receive_max < cfg->max_inflight_messages ? receive_max : cfg->max_inflight_messages;
    s->will = will;
    s->will_delay_s = will && PROP(&p->will_props, MQ_PROP_WILL_DELAY_INTERVAL)
                          ? p->will_props.will_delay_interval
                          : 0;
    if (b->store && expiry != 0) {
        if (s->stored) {
            store_session_put(b->store, s);
        } else {
            s->stored = true;
            store_whole_session_locked(b->store, s, now_ms);
        }
    } else if (b->store && s->stored) {
        store_session_delete(b->store, s->client_id, s->client_id_len);
        s->stored = false;
    }
    c->session = session_ref(s);
    c->state = CONN_CONNECTED;
    c->keep_alive_s = p->keep_alive;
    c->alias_in_max = v5 ? cfg->max_topic_alias : 0;

    struct mq_packet ack = {.type = MQ_CONNACK};
    ack.u.connack.session_present = session_present; /* [MQTT-3.2.2-2], [MQTT-3.2.2-3] */
    mq_props *ap = &ack.u.connack.props;
    char *response_info = NULL;
    if (v5) {
        if (cfg->max_keepalive < 65535 &&
            (p->keep_alive == 0 || p->keep_alive > cfg->max_keepalive)) {
            /* The client must use the Server Keep Alive instead [MQTT-3.2.2-21]. */
            SET(ap, MQ_PROP_SERVER_KEEP_ALIVE);
            ap->server_keep_alive = cfg->max_keepalive;
            c->keep_alive_s = cfg->max_keepalive;
        }
        if (expiry_capped) {
            SET(ap, MQ_PROP_SESSION_EXPIRY_INTERVAL);
            ap->session_expiry_interval = expiry;
        }
        if (cfg->max_inflight_messages != 65535) {
            SET(ap, MQ_PROP_RECEIVE_MAXIMUM);
            ap->receive_maximum = cfg->max_inflight_messages;
        }
        if (cfg->max_qos < 2) {
            SET(ap, MQ_PROP_MAXIMUM_QOS);
            ap->maximum_qos = cfg->max_qos;
        }
        if (!cfg->retain_available) {
            SET(ap, MQ_PROP_RETAIN_AVAILABLE);
            ap->retain_available = 0;
        }
        if (cfg->max_packet_size < MQ_MAX_PACKET_SIZE) {
            SET(ap, MQ_PROP_MAXIMUM_PACKET_SIZE);
            ap->maximum_packet_size = cfg->max_packet_size;
        }
        if (c->auth && c->auth->authenticated) {
            /* A successful CONNACK names the CONNECT's method [MQTT-4.12.0-5]. */
            SET(ap, MQ_PROP_AUTHENTICATION_METHOD);
            ap->authentication_method = cp->authentication_method;
            if (c->auth->success_data) {
                SET(ap, MQ_PROP_AUTHENTICATION_DATA);
                ap->authentication_data =
                    (mq_bytes){c->auth->success_data, (uint32_t)c->auth->success_len};
            }
        }
        if (assigned) {
            SET(ap, MQ_PROP_ASSIGNED_CLIENT_IDENTIFIER);
            ap->assigned_client_identifier = (mq_bytes){(const uint8_t *)s->client_id, id_len};
        }
        if (cfg->max_topic_alias) {
            SET(ap, MQ_PROP_TOPIC_ALIAS_MAXIMUM);
            ap->topic_alias_maximum = cfg->max_topic_alias;
        }
        if (!cfg->wildcard_subscriptions) {
            SET(ap, MQ_PROP_WILDCARD_SUBSCRIPTION_AVAILABLE);
            ap->wildcard_subscription_available = 0;
        }
        if (!cfg->subscription_identifiers) {
            SET(ap, MQ_PROP_SUBSCRIPTION_IDENTIFIER_AVAILABLE);
            ap->subscription_identifier_available = 0;
        }
        if (!cfg->shared_subscriptions) {
            SET(ap, MQ_PROP_SHARED_SUBSCRIPTION_AVAILABLE);
            ap->shared_subscription_available = 0;
        }
        if (PROP(cp, MQ_PROP_REQUEST_RESPONSE_INFORMATION) && cp->request_response_information &&
            cfg->response_information && cfg->response_information[0] &&
            (response_info =
                 expand_response_information(cfg->response_information, s->client_id))) {
            SET(ap, MQ_PROP_RESPONSE_INFORMATION);
            ap->response_information =
                (mq_bytes){(const uint8_t *)response_info, (uint32_t)strlen(response_info)};
        }
    }
    conn_send_packet(c, &ack);
    free(response_info);
    if (session_present)
        session_resume_locked(s, now_ms);
    mq_lock_release(&s->lock);
    pthread_mutex_unlock(&b->registry_lock);

    log_info("%s: client '%s' connected (MQTT %s, keep alive %u, session %s)", conn_peer(c),
             s->client_id,
             c->version == MQ_V5     ? "5.0"
             : c->version == MQ_V311 ? "3.1.1"
                                     : "3.1",
             c->keep_alive_s, session_present ? "resumed" : "new");
    if (old_will)
        broker_publish_will(b, old_will, now_ms);
    if (ended) {
        broker_session_end(b, ended, now_ms);
        session_unref(ended);
    }
    return 0;
}
