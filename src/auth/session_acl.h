/*
 * What authorization keeps in a session (see the fields in session/session.h) and how a
 * password/ACL reload reaches sessions that exist: deciding per session whether deliveries
 * need a topic check, and disconnecting clients whose user was removed.
 */
#ifndef MQTTD_AUTH_SESSION_ACL_H
#define MQTTD_AUTH_SESSION_ACL_H

#include <stdbool.h>
#include <stdint.h>

#include "auth/acl_file.h"

struct broker;
struct session;

/* Records who the session's client is (username borrowed, copied; NULL for none) and decides
 * its subscriptions under the rules in force. Session lock held. Returns 0 or -1 (memory). */
int session_acl_bind_locked(struct broker *b, struct session *s, const char *username,
                            bool password_user);

/* A new subscription was decided `verdict` under `generation`: a filter not granted whole
 * makes every delivery to the session checked. Session lock held. */
void session_acl_subscribed_locked(struct session *s, enum acl_verdict verdict,
                                   uint64_t generation);

/*
 * After auth_load put new rules in force: every session's subscriptions are decided again, and
 * every connected client whose user the new password file lacks (one that logged in with a
 * password or SCRAM) gets DISCONNECT 0x98 (Administrative action; 3.1.1: closed). Others keep
 * their connections. Returns the number of clients disconnected.
 */
unsigned session_acl_reloaded(struct broker *b);

#endif
