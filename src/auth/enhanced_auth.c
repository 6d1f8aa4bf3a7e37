/*
 * Enhanced authentication on one connection (see enhanced_auth.h): calls the method's handler
 * with each Authentication Data the client sends and turns its answer into AUTH 0x18, the
 * CONNECT going on (CONNACK with the method's last data), AUTH 0x00 after a
 * re-authentication, or a refusal.
 */
#include "auth/enhanced_auth.h"

#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "broker/broker.h"
#include "server/log.h"
#include "session/conn.h"
#include "session/session.h"

#define PROP(p, id) ((p)->present & MQ_PROP_BIT(id))

bool enhanced_auth_pending(const struct conn *c)
{
    return c->auth && c->auth->held_connect;
}

static void end_exchange(struct conn_auth *a)
{
    if (a->exchange_open && a->exchange && a->method->end)
        a->method->end(a->method->user, a->exchange);
    a->exchange = NULL;
    a->exchange_open = false;
}

void enhanced_auth_release(struct conn *c)
{
    struct conn_auth *a = c->auth;
    if (!a)
        return;
    end_exchange(a);
    free(a->held_connect);
    free(a->username);
    free(a->success_data);
    free(a);
    c->auth = NULL;
}

static void send_auth(struct conn *c, uint8_t reason, const mqttd_auth_reply *reply)
{
    struct mq_packet p = {.type = MQ_AUTH, .u.disconnect = {.reason_code = reason}};
    mq_props *props = &p.u.disconnect.props;
    const char *name = c->auth->method->name;
    /* The method of every AUTH is the CONNECT's [MQTT-4.12.0-5]. */
    props->present |= MQ_PROP_BIT(MQ_PROP_AUTHENTICATION_METHOD);
    props->authentication_method = (mq_bytes){(const uint8_t *)name, (uint32_t)strlen(name)};
    if (reply->data && reply->len) {
        props->present |= MQ_PROP_BIT(MQ_PROP_AUTHENTICATION_DATA);
        props->authentication_data = (mq_bytes){reply->data, (uint32_t)reply->len};
    }
    conn_send_packet(c, &p);
}

/* Calls the method once. On failure returns the reason code to refuse with. */
static enum mqttd_auth_result step(struct conn *c, const char *client_id, const mq_props *props,
                                   mqttd_auth_reply *reply, uint8_t *fail_reason)
{
    struct conn_auth *a = c->auth;
    mqttd_client info;
    conn_client_info(c, &info);
    if (client_id)
        info.client_id = client_id;
    mq_bytes data =
        PROP(props, MQ_PROP_AUTHENTICATION_DATA) ? props->authentication_data : (mq_bytes){NULL, 0};
    a->exchange_open = true;
    enum mqttd_auth_result r =
        a->method->step(a->method->user, &a->exchange, &info, data.data, data.len, reply);
    if (reply->len > 65535)
        r = MQTTD_AUTH_FAIL; /* more than Authentication Data can carry */
    if (r == MQTTD_AUTH_FAIL)
        *fail_reason = reply->reason_code >= 0x80 && reply->reason_code <= 0xFF
                           ? (uint8_t)reply->reason_code
                           : MQ_RC_NOT_AUTHORIZED;
    return r;
}

/* One step on an AUTH packet's data: CONTINUE is answered with AUTH 0x18 here, and FAIL ends
 * the exchange. */
static enum mqttd_auth_result auth_step(struct conn *c, const mq_props *props,
                                        mqttd_auth_reply *reply, uint8_t *fail_reason)
{
    enum mqttd_auth_result r = step(c, NULL, props, reply, fail_reason);
    if (r == MQTTD_AUTH_CONTINUE)
        send_auth(c, MQ_RC_CONTINUE_AUTHENTICATION, reply);
    else if (r == MQTTD_AUTH_FAIL)
        end_exchange(c->auth);
    return r;
}

/* Keeps what a successful exchange gives the CONNACK; ends the exchange. */
static int record_success(struct conn *c, const mqttd_auth_reply *reply)
{
    struct conn_auth *a = c->auth;
    free(a->username);
    free(a->success_data);
    a->username = reply->username ? strdup(reply->username) : NULL;
    a->success_data = reply->data && reply->len ? malloc(reply->len) : NULL;
    if (a->success_data)
        memcpy(a->success_data, reply->data, reply->len);
    a->success_len = a->success_data ? reply->len : 0;
    bool oom = (reply->username && !a->username) || (reply->data && reply->len && !a->success_data);
    end_exchange(a);
    a->authenticated = true;
    return oom ? -MQ_RC_UNSPECIFIED_ERROR : 0;
}

int enhanced_auth_begin(struct conn *c, const struct mq_connect *p, mq_bytes raw)
{
    struct auth *auth = c->broker->auth;
    const mq_bytes *name = &p->props.authentication_method;
    const struct auth_method *method = auth_find_method(auth, name->data, name->len);
    if (!method)
        return -MQ_RC_BAD_AUTHENTICATION_METHOD;
    if (!c->auth && !(c->auth = calloc(1, sizeof *c->auth)))
        return -MQ_RC_UNSPECIFIED_ERROR;
    c->auth->method = method;
    char client_id[p->client_id.len + 1];
    memcpy(client_id, p->client_id.data, p->client_id.len);
    client_id[p->client_id.len] = 0;
    mqttd_auth_reply reply = {0};
    uint8_t reason = 0;
    switch (step(c, client_id, &p->props, &reply, &reason)) {
    case MQTTD_AUTH_SUCCESS:
        return record_success(c, &reply) == 0 ? ENHANCED_AUTH_DONE : -MQ_RC_UNSPECIFIED_ERROR;
    case MQTTD_AUTH_CONTINUE:
        if (!(c->auth->held_connect = malloc(raw.len)))
            return -MQ_RC_UNSPECIFIED_ERROR;
        memcpy(c->auth->held_connect, raw.data, raw.len);
        c->auth->held_len = raw.len;
        send_auth(c, MQ_RC_CONTINUE_AUTHENTICATION, &reply);
        return ENHANCED_AUTH_WAIT;
    default:
        end_exchange(c->auth);
        return -reason;
    }
}

/* The AUTH that completes or continues the CONNECT's exchange. */
static int connect_exchange(struct conn *c, const struct mq_disconnect *auth, uint64_t now_ms)
{
    struct conn_auth *a = c->auth;
    if (auth->reason_code != MQ_RC_CONTINUE_AUTHENTICATION)
        return -MQ_RC_PROTOCOL_ERROR;
    mqttd_auth_reply reply = {0};
    uint8_t reason = 0;
    switch (auth_step(c, &auth->props, &reply, &reason)) {
    case MQTTD_AUTH_CONTINUE:
        return 0;
    case MQTTD_AUTH_SUCCESS: {
        if (record_success(c, &reply) != 0)
            return -MQ_RC_UNSPECIFIED_ERROR;
        uint8_t *held = a->held_connect;
        size_t held_len = a->held_len;
        a->held_connect = NULL;
        struct mq_packet p;
        memset(&p, 0, sizeof p);
        int rc = mq_decode(held, held_len, 0, true, &p);
        if (rc == 0)
            rc = handle_connect(c, &p.u.connect, (mq_bytes){held, (uint32_t)held_len}, now_ms);
        free(held);
        return rc;
    }
    default: {
        struct mq_packet ack = {.type = MQ_CONNACK, .u.connack = {.reason_code = reason}};
        conn_send_packet(c, &ack);
        log_info("%s: CONNECT refused: %s (enhanced authentication with %s failed)", conn_peer(c),
                 mq_reason_code_name(reason), a->method->name);
        return -reason;
    }
    }
}

/* AUTH from a connected client: re-authentication [MQTT-4.12.1]. */
static int reauthenticate(struct conn *c, const struct mq_disconnect *auth)
{
    struct conn_auth *a = c->auth;
    if (auth->reason_code == MQ_RC_REAUTHENTICATE)
        end_exchange(a); /* a new exchange replaces one left unfinished */
    else if (auth->reason_code != MQ_RC_CONTINUE_AUTHENTICATION || !a->exchange_open)
        return -MQ_RC_PROTOCOL_ERROR;
    mqttd_auth_reply reply = {0};
    uint8_t reason = 0;
    switch (auth_step(c, &auth->props, &reply, &reason)) {
    case MQTTD_AUTH_CONTINUE:
        return 0;
    case MQTTD_AUTH_SUCCESS:
        /* The same user must prove itself again; another name is not a re-authentication. */
        if (reply.username && (!c->username || strcmp(reply.username, c->username) != 0)) {
            end_exchange(a);
            return -MQ_RC_NOT_AUTHORIZED;
        }
        send_auth(c, MQ_RC_SUCCESS, &reply);
        end_exchange(a);
        return 0;
    default:
        return -reason; /* DISCONNECT with the reason [MQTT-4.12.1-2] */
    }
}

int enhanced_auth_packet(struct conn *c, const struct mq_disconnect *auth, uint64_t now_ms)
{
    struct conn_auth *a = c->auth;
    /* AUTH without an Authentication Method in CONNECT, or with another method, is a protocol
     * error [MQTT-4.12.0-7], [MQTT-4.12.1-1]. */
    const mq_bytes *name = &auth->props.authentication_method;
    if (!a || !a->method || !PROP(&auth->props, MQ_PROP_AUTHENTICATION_METHOD) ||
        name->len != strlen(a->method->name) || memcmp(name->data, a->method->name, name->len) != 0)
        return -MQ_RC_PROTOCOL_ERROR;
    if (a->held_connect)
        return connect_exchange(c, auth, now_ms);
    return reauthenticate(c, auth);
}
