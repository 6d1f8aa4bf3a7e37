/*
 * Tests of enhanced authentication through the handler API (mqttd_auth_handler), driving the
 * connection engine with no socket: a challenge-response method registered like an embedder's,
 * the CONNECT held until it succeeds, the CONNACK carrying the method and its last data, the
 * proved user name, refusals with the handler's reason, re-authentication, and the end handler
 * called once per exchange whatever happens.
 */
#include <stdio.h>
#include <unistd.h>

#include "session/engine_fixture.h"

#include "auth/auth.h"

#define METHOD "TOKEN"

struct calls {
    int steps, ends;
    char last_data[64];
};

static struct calls calls;

/* Step 0 expects "hello" and challenges; step 1 expects "answer" (or "retry" to go on once
 * more) and succeeds as user "token-user"; "fail" fails with 0x9F. */
static enum mqttd_auth_result token_step(void *user, void **exchange, const mqttd_client *client,
                                         const void *data, size_t len, mqttd_auth_reply *reply)
{
    calls.steps++;
    snprintf(calls.last_data, sizeof calls.last_data, "%.*s", (int)len, (const char *)data);
    if (len == 4 && memcmp(data, "fail", 4) == 0) {
        reply->reason_code = 0x9F;
        return MQTTD_AUTH_FAIL;
    }
    if (len == 4 && memcmp(data, "once", 4) == 0) {
        reply->username = "quick-user";
        return MQTTD_AUTH_SUCCESS;
    }
    int *round = *exchange;
    if (!round) {
        if (len != 5 || memcmp(data, "hello", 5) != 0)
            return MQTTD_AUTH_FAIL;
        *exchange = round = calloc(1, sizeof *round);
        reply->data = "challenge";
        reply->len = 9;
        return MQTTD_AUTH_CONTINUE;
    }
    if (len == 5 && memcmp(data, "retry", 5) == 0) {
        reply->data = "again";
        reply->len = 5;
        return MQTTD_AUTH_CONTINUE;
    }
    if (len != 6 || memcmp(data, "answer", 6) != 0)
        return MQTTD_AUTH_FAIL;
    reply->data = "welcome";
    reply->len = 7;
    reply->username = "token-user";
    return MQTTD_AUTH_SUCCESS;
}

static void token_end(void *user, void *exchange)
{
    calls.ends++;
    free(exchange);
}

static int setup(void **state)
{
    memset(&calls, 0, sizeof calls);
    struct fixture *f = fixture_new();
    assert_int_equal(auth_add_method(f->broker.auth, METHOD, token_step, token_end, NULL), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_free(*state);
    return 0;
}

static void set_auth(mq_props *props, const char *method, const char *data)
{
    props->present |= MQ_PROP_BIT(MQ_PROP_AUTHENTICATION_METHOD);
    props->authentication_method = BYTES(method);
    if (data) {
        props->present |= MQ_PROP_BIT(MQ_PROP_AUTHENTICATION_DATA);
        props->authentication_data = BYTES(data);
    }
}

static struct conn *send_connect(struct fixture *f, const char *method, const char *data)
{
    struct conn *c = open_conn(f);
    struct mq_packet p = {.type = MQ_CONNECT};
    p.u.connect.protocol_version = MQ_V5;
    p.u.connect.clean_start = true;
    p.u.connect.keep_alive = 60;
    p.u.connect.client_id = BYTES("enh");
    set_auth(&p.u.connect.props, method, data);
    send_packet(f, c, MQ_V5, &p);
    return c;
}

static void send_auth_packet(struct fixture *f, struct conn *c, uint8_t reason, const char *method,
                             const char *data)
{
    struct mq_packet p = {.type = MQ_AUTH, .u.disconnect = {.reason_code = reason}};
    set_auth(&p.u.disconnect.props, method, data);
    send_packet(f, c, MQ_V5, &p);
}

static void expect_auth(struct conn *c, uint8_t reason, const char *data)
{
    struct mq_packet a = expect_packet(c, MQ_AUTH);
    assert_int_equal(a.u.disconnect.reason_code, reason);
    /* [MQTT-4.12.0-5] every AUTH names the CONNECT's method */
    assert_true(bytes_eq(a.u.disconnect.props.authentication_method, METHOD));
    if (data)
        assert_true(bytes_eq(a.u.disconnect.props.authentication_data, data));
}

/* A client through a whole challenge-response login. */
static struct conn *logged_in(struct fixture *f)
{
    struct conn *c = send_connect(f, METHOD, "hello");
    expect_auth(c, MQ_RC_CONTINUE_AUTHENTICATION, "challenge");
    send_auth_packet(f, c, MQ_RC_CONTINUE_AUTHENTICATION, METHOD, "answer");
    struct mq_packet ack = expect_packet(c, MQ_CONNACK);
    assert_int_equal(ack.u.connack.reason_code, 0);
    return c;
}

/* [MQTT-4.12.0-2] [MQTT-4.12.0-5] */
static void test_challenge_response_holds_connect_until_success(void **state)
{
    struct fixture *f = *state;
    struct conn *c = send_connect(f, METHOD, "hello");
    expect_auth(c, MQ_RC_CONTINUE_AUTHENTICATION, "challenge");
    expect_nothing(c); /* no CONNACK yet */
    assert_int_equal(c->state, CONN_AWAIT_CONNECT);
    send_auth_packet(f, c, MQ_RC_CONTINUE_AUTHENTICATION, METHOD, "retry");
    expect_auth(c, MQ_RC_CONTINUE_AUTHENTICATION, "again");
    send_auth_packet(f, c, MQ_RC_CONTINUE_AUTHENTICATION, METHOD, "answer");
    struct mq_packet ack = expect_packet(c, MQ_CONNACK);
    assert_int_equal(ack.u.connack.reason_code, 0);
    assert_true(bytes_eq(ack.u.connack.props.authentication_method, METHOD));
    assert_true(bytes_eq(ack.u.connack.props.authentication_data, "welcome"));
    assert_int_equal(c->state, CONN_CONNECTED);
    assert_string_equal(c->username, "token-user");
    assert_string_equal(c->session->username, "token-user");
    assert_int_equal(calls.steps, 3);
    assert_int_equal(calls.ends, 1);
    close_conn(f, c);
    assert_int_equal(calls.ends, 1);
}

static void test_one_step_success_answers_connack_at_once(void **state)
{
    struct fixture *f = *state;
    struct conn *c = send_connect(f, METHOD, "once");
    struct mq_packet ack = expect_packet(c, MQ_CONNACK);
    assert_int_equal(ack.u.connack.reason_code, 0);
    assert_true(bytes_eq(ack.u.connack.props.authentication_method, METHOD));
    assert_false(ack.u.connack.props.present & MQ_PROP_BIT(MQ_PROP_AUTHENTICATION_DATA));
    assert_string_equal(c->username, "quick-user");
    assert_int_equal(calls.ends, 0); /* no state was made: nothing to end */
    close_conn(f, c);
}

/* [MQTT-4.12.0-4] */
static void test_failure_refuses_with_the_handlers_reason(void **state)
{
    struct fixture *f = *state;
    struct conn *c = send_connect(f, METHOD, "hello");
    expect_auth(c, MQ_RC_CONTINUE_AUTHENTICATION, "challenge");
    send_auth_packet(f, c, MQ_RC_CONTINUE_AUTHENTICATION, METHOD, "fail");
    struct mq_packet ack = expect_packet(c, MQ_CONNACK);
    assert_int_equal(ack.u.connack.reason_code, 0x9F);
    assert_true(link_of(c)->close_requested);
    assert_int_equal(calls.ends, 1);
    close_conn(f, c);
    assert_int_equal(calls.ends, 1);
}

/* [MQTT-4.12.0-1] */
static void test_unknown_method_gets_0x8c(void **state)
{
    struct fixture *f = *state;
    struct conn *c = send_connect(f, "NOPE", "hello");
    struct mq_packet ack = expect_packet(c, MQ_CONNACK);
    assert_int_equal(ack.u.connack.reason_code, MQ_RC_BAD_AUTHENTICATION_METHOD);
    assert_int_equal(calls.steps, 0);
    close_conn(f, c);
}

/* [MQTT-4.12.0-3] */
static void test_other_packet_during_exchange_closes_and_ends_it(void **state)
{
    struct fixture *f = *state;
    struct conn *c = send_connect(f, METHOD, "hello");
    expect_auth(c, MQ_RC_CONTINUE_AUTHENTICATION, "challenge");
    struct mq_packet ping = {.type = MQ_PINGREQ};
    send_packet(f, c, MQ_V5, &ping);
    assert_true(link_of(c)->close_requested);
    close_conn(f, c);
    assert_int_equal(calls.ends, 1);
}

static void test_client_gone_mid_exchange_ends_it(void **state)
{
    struct fixture *f = *state;
    struct conn *c = send_connect(f, METHOD, "hello");
    expect_auth(c, MQ_RC_CONTINUE_AUTHENTICATION, "challenge");
    close_conn(f, c);
    assert_int_equal(calls.ends, 1);
}

/* [MQTT-4.12.1-1] */
static void test_reauthentication_ends_with_auth_success(void **state)
{
    struct fixture *f = *state;
    struct conn *c = logged_in(f);
    send_auth_packet(f, c, MQ_RC_REAUTHENTICATE, METHOD, "hello");
    expect_auth(c, MQ_RC_CONTINUE_AUTHENTICATION, "challenge");
    send_auth_packet(f, c, MQ_RC_CONTINUE_AUTHENTICATION, METHOD, "answer");
    expect_auth(c, MQ_RC_SUCCESS, "welcome");
    assert_int_equal(c->state, CONN_CONNECTED);
    assert_int_equal(calls.ends, 2);
    close_conn(f, c);
}

/* [MQTT-4.12.1-2] */
static void test_failed_reauthentication_disconnects(void **state)
{
    struct fixture *f = *state;
    struct conn *c = logged_in(f);
    send_auth_packet(f, c, MQ_RC_REAUTHENTICATE, METHOD, "hello");
    expect_auth(c, MQ_RC_CONTINUE_AUTHENTICATION, "challenge");
    send_auth_packet(f, c, MQ_RC_CONTINUE_AUTHENTICATION, METHOD, "wrong!");
    struct mq_packet d = expect_packet(c, MQ_DISCONNECT);
    assert_int_equal(d.u.disconnect.reason_code, MQ_RC_NOT_AUTHORIZED);
    assert_true(link_of(c)->close_requested);
    close_conn(f, c);
    assert_int_equal(calls.ends, 2);
}

/* [MQTT-4.12.1-1] [MQTT-4.12.0-7] */
static void test_auth_with_another_method_or_without_one_is_a_protocol_error(void **state)
{
    struct fixture *f = *state;
    struct conn *c = logged_in(f);
    send_auth_packet(f, c, MQ_RC_REAUTHENTICATE, "OTHER", "hello");
    struct mq_packet d = expect_packet(c, MQ_DISCONNECT);
    assert_int_equal(d.u.disconnect.reason_code, MQ_RC_PROTOCOL_ERROR);
    close_conn(f, c);

    struct mq_packet ack;
    c = connect_client(f, "plain", MQ_V5, true, NULL, &ack);
    assert_int_equal(ack.u.connack.reason_code, 0);
    /* [MQTT-4.12.0-6] no method in CONNECT: none in CONNACK */
    assert_false(ack.u.connack.props.present & MQ_PROP_BIT(MQ_PROP_AUTHENTICATION_METHOD));
    send_auth_packet(f, c, MQ_RC_REAUTHENTICATE, METHOD, "hello");
    d = expect_packet(c, MQ_DISCONNECT);
    assert_int_equal(d.u.disconnect.reason_code, MQ_RC_PROTOCOL_ERROR);
    close_conn(f, c);
}

static void test_proved_user_name_is_what_the_acl_checks(void **state)
{
    struct fixture *f = *state;
    char path[] = "/tmp/mqttd-test-acl-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char acl[] = "user token-user\ntopic readwrite mine/#\n";
    assert_int_equal(write(fd, acl, sizeof acl - 1), (long)sizeof acl - 1);
    close(fd);
    char err[256];
    assert_int_equal(auth_load(f->broker.auth, NULL, path, err, sizeof err), 0);
    unlink(path);
    struct conn *c = logged_in(f);
    subscribe(f, c, "mine/#", 0, 0, 0);
    subscribe(f, c, "theirs/#", 0, 0, MQ_RC_NOT_AUTHORIZED);
    publish(f, c, "mine/x", "hi", 0, false, 0);
    struct mq_packet p = expect_packet(c, MQ_PUBLISH);
    assert_true(bytes_eq(p.u.publish.topic, "mine/x"));
    close_conn(f, c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
        T(test_challenge_response_holds_connect_until_success),
        T(test_one_step_success_answers_connack_at_once),
        T(test_failure_refuses_with_the_handlers_reason),
        T(test_unknown_method_gets_0x8c),
        T(test_other_packet_during_exchange_closes_and_ends_it),
        T(test_client_gone_mid_exchange_ends_it),
        T(test_reauthentication_ends_with_auth_success),
        T(test_failed_reauthentication_disconnects),
        T(test_auth_with_another_method_or_without_one_is_a_protocol_error),
        T(test_proved_user_name_is_what_the_acl_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
