/*
 * SCRAM-SHA-256 as an enhanced authentication method (see scram_method.h): the first step
 * answers client-first with server-first (AUTH 0x18), the second checks the proof and succeeds
 * with server-final, which the client uses to check the server knew its key.
 */
#include "auth/scram_method.h"

#include "auth/auth.h"
#include "auth/scram.h"

struct start {
    const uint8_t *data;
    size_t len;
    struct scram_server *server;
    const char *reply;
    size_t reply_len;
    const char *username;
    int rc;
};

static void start_with(void *ctx, const struct pw_file *pw)
{
    struct start *s = ctx;
    s->rc = pw ? scram_server_start(s->data, s->len, pw, &s->server, &s->reply, &s->reply_len,
                                    &s->username)
               : -1;
}

enum mqttd_auth_result scram_method_step(void *user, void **exchange, const mqttd_client *client,
                                         const void *data, size_t len, mqttd_auth_reply *reply)
{
    struct scram_server *server = *exchange;
    if (!server) {
        struct start s = {.data = data, .len = len};
        auth_with_passwords(user, start_with, &s);
        if (s.rc != 0)
            return MQTTD_AUTH_FAIL;
        *exchange = s.server;
        reply->data = s.reply;
        reply->len = s.reply_len;
        reply->username = s.username;
        return MQTTD_AUTH_CONTINUE;
    }
    const char *final;
    size_t final_len;
    if (scram_server_finish(server, data, len, &final, &final_len) != 0)
        return MQTTD_AUTH_FAIL;
    reply->data = final;
    reply->len = final_len;
    reply->username = scram_server_username(server);
    return MQTTD_AUTH_SUCCESS;
}

void scram_method_end(void *user, void *exchange)
{
    scram_server_free(exchange);
}
