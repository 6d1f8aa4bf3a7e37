/*
 * The start-up half of the store: reads the SQLite file back into an empty broker before the
 * workers start. Sessions come back offline, as if their clients had just disconnected: their
 * expiry and delayed wills count from now. Deadlines of messages are wall-clock in the file and
 * become monotonic ones here. Rows past their deadline, and rows whose session is gone, are
 * deleted on the way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/retained.h"
#include "server/log.h"
#include "session/session.h"
#include "store/store_internal.h"

struct loader {
    sqlite3 *db;
    const char *path;
    struct broker *b;
    uint64_t now_ms;
    int64_t wall_ms;
    char *err;
    size_t errlen;
};

static int fail(struct loader *l, const char *what)
{
    snprintf(l->err, l->errlen, "%s: cannot read the store (%s): %s", l->path, what,
             sqlite3_errmsg(l->db));
    return -1;
}

static const uint8_t *blob(sqlite3_stmt *q, int col, uint32_t *len)
{
    const uint8_t *p = sqlite3_column_blob(q, col);
    *len = (uint32_t)sqlite3_column_bytes(q, col);
    return p;
}

/* A monotonic deadline from a wall-clock one (0 = never). */
static uint64_t monotonic_deadline(const struct loader *l, int64_t wall_deadline)
{
    if (wall_deadline <= 0)
        return 0;
    return l->now_ms + (uint64_t)(wall_deadline > l->wall_ms ? wall_deadline - l->wall_ms : 0);
}

/* Columns first..first+2: topic, props, payload. */
static struct message *row_message(const struct loader *l, sqlite3_stmt *q, int first, uint8_t qos,
                                   bool retain, uint32_t expiry_s, int64_t wall_deadline)
{
    uint32_t topic_len, props_len, payload_len;
    const uint8_t *topic = blob(q, first, &topic_len);
    const uint8_t *props = blob(q, first + 1, &props_len);
    const uint8_t *payload = blob(q, first + 2, &payload_len);
    if (topic_len > UINT16_MAX || qos > 2)
        return NULL;
    struct message *m = message_new(topic, (uint16_t)topic_len, props, props_len, payload,
                                    payload_len, qos, retain, expiry_s, l->now_ms);
    if (m && wall_deadline >= 0)
        m->expires_at_ms = monotonic_deadline(l, wall_deadline);
    return m;
}

static int run_sql(struct loader *l, const char *sql)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(l->db, sql, -1, &q, NULL) != SQLITE_OK)
        return fail(l, sql);
    if (sqlite3_bind_parameter_count(q) > 0)
        sqlite3_bind_int64(q, 1, l->wall_ms);
    int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? 0 : fail(l, sql);
}

static int each_row(struct loader *l, const char *sql, int (*fn)(struct loader *, sqlite3_stmt *),
                    size_t *count)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(l->db, sql, -1, &q, NULL) != SQLITE_OK)
        return fail(l, sql);
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (fn(l, q) != 0) {
            sqlite3_finalize(q);
            snprintf(l->err, l->errlen, "%s: out of memory while loading the store", l->path);
            return -1;
        }
        (*count)++;
    }
    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? 0 : fail(l, sql);
}

static int load_retained(struct loader *l, sqlite3_stmt *q)
{
    struct message *m =
        row_message(l, q, 0, (uint8_t)sqlite3_column_int(q, 3), true,
                    (uint32_t)sqlite3_column_int64(q, 4), sqlite3_column_int64(q, 5));
    if (!m)
        return -1;
    broker_retain_locked(l->b, m->topic, m->topic_len, m);
    return 0;
}

static struct session *find_session(struct loader *l, sqlite3_stmt *q, int col)
{
    uint32_t len;
    const uint8_t *id = blob(q, col, &len);
    if (len > UINT16_MAX)
        return NULL;
    return registry_get(l->b->registry, (const char *)id, (uint16_t)len);
}

static int load_session(struct loader *l, sqlite3_stmt *q)
{
    uint32_t len;
    const uint8_t *id = blob(q, 0, &len);
    if (len > UINT16_MAX || memchr(id, 0, len))
        return 0; /* not an id a client could have used: skipped */
    struct session *s = session_new(l->b, (const char *)id, (uint16_t)len);
    if (!s)
        return -1;
    s->stored = true;
    s->expiry_interval_s = (uint32_t)sqlite3_column_int64(q, 1);
    if (s->expiry_interval_s != UINT32_MAX)
        s->expires_at_ms = l->now_ms + (uint64_t)s->expiry_interval_s * 1000u;
    s->will_delay_s = (uint32_t)sqlite3_column_int64(q, 2);
    s->protocol_version = (uint8_t)sqlite3_column_int(q, 3);
    if (sqlite3_column_type(q, 4) != SQLITE_NULL) {
        /* The client went away with the broker: its will is due after its delay. */
        s->will =
            row_message(l, q, 4, (uint8_t)sqlite3_column_int(q, 7), sqlite3_column_int(q, 8) != 0,
                        (uint32_t)sqlite3_column_int64(q, 9), -1);
        s->will_at_ms = l->now_ms + (uint64_t)s->will_delay_s * 1000u;
    }
    registry_put(l->b->registry, s);
    session_unref(s);
    return 0;
}

static int load_subscription(struct loader *l, sqlite3_stmt *q)
{
    struct session *s = find_session(l, q, 0);
    uint32_t group_len, filter_len;
    const uint8_t *group = blob(q, 1, &group_len);
    const uint8_t *filter = blob(q, 2, &filter_len);
    if (!s || group_len > UINT16_MAX || filter_len > UINT16_MAX)
        return 0;
    uint8_t options = (uint8_t)sqlite3_column_int(q, 3);
    uint32_t id = (uint32_t)sqlite3_column_int64(q, 4);
    if (broker_subscribe(l->b, s, (mq_bytes){group, group_len}, (mq_bytes){filter, filter_len},
                         options, id) < 0)
        return -1;
    return session_subscription_add_locked(s, group, (uint16_t)group_len, filter,
                                           (uint16_t)filter_len, options, id) < 0
               ? -1
               : 0;
}

static int load_delivery(struct loader *l, sqlite3_stmt *q)
{
    struct session *s = find_session(l, q, 1);
    if (!s)
        return 0;
    struct message *m =
        row_message(l, q, 9, (uint8_t)sqlite3_column_int(q, 12), sqlite3_column_int(q, 13) != 0,
                    (uint32_t)sqlite3_column_int64(q, 14), sqlite3_column_int64(q, 15));
    if (!m)
        return -1;
    uint32_t ids_len, group_len;
    const uint8_t *ids = blob(q, 8, &ids_len);
    const uint8_t *group = blob(q, 7, &group_len);
    char *share_group = NULL;
    if (sqlite3_column_type(q, 7) != SQLITE_NULL &&
        !(share_group = strndup((const char *)group, group_len))) {
        message_unref(m);
        return -1;
    }
    uint32_t id_buf[64];
    uint16_t id_count =
        (uint16_t)(ids_len / sizeof(uint32_t) < 64 ? ids_len / sizeof(uint32_t) : 64);
    if (id_count)
        memcpy(id_buf, ids, id_count * sizeof(uint32_t));
    uint8_t state = (uint8_t)sqlite3_column_int(q, 3);
    struct delivery *d = delivery_new(m, (uint8_t)sqlite3_column_int(q, 2),
                                      sqlite3_column_int(q, 5) != 0, id_buf, id_count, share_group);
    free(share_group);
    message_unref(m);
    if (!d)
        return -1;
    d->store_id = (uint64_t)sqlite3_column_int64(q, 0);
    d->state = state <= DELIVERY_AWAIT_PUBCOMP ? state : DELIVERY_QUEUED;
    d->packet_id = (uint16_t)sqlite3_column_int(q, 4);
    d->sent = sqlite3_column_int(q, 6) != 0;
    if (d->state != DELIVERY_QUEUED && d->packet_id == 0)
        d->state = DELIVERY_QUEUED;
    session_restore_delivery_locked(s, d);
    return 0;
}

static int load_qos2(struct loader *l, sqlite3_stmt *q)
{
    struct session *s = find_session(l, q, 0);
    if (!s)
        return 0;
    return session_qos2_add_locked(s, (uint16_t)sqlite3_column_int(q, 1)) < 0 ? -1 : 0;
}

int store_restore(struct mq_store *st, struct broker *b, uint64_t now_ms, char *err, size_t errlen)
{
    struct loader l = {store_db(st), store_path(st), b, now_ms, store_wall_ms(), err, errlen};
    static const char *const cleanup[] = {
        "DELETE FROM retained WHERE expires_at > 0 AND expires_at <= ?1",
        "DELETE FROM deliveries WHERE expires_at > 0 AND expires_at <= ?1",
        "DELETE FROM subscriptions WHERE client_id NOT IN (SELECT client_id FROM sessions)",
        "DELETE FROM deliveries WHERE client_id NOT IN (SELECT client_id FROM sessions)",
        "DELETE FROM qos2_received WHERE client_id NOT IN (SELECT client_id FROM sessions)",
    };
    for (size_t i = 0; i < sizeof cleanup / sizeof cleanup[0]; i++)
        if (run_sql(&l, cleanup[i]) != 0)
            return -1;
    size_t retained = 0, sessions = 0, subs = 0, deliveries = 0, qos2 = 0;
    if (each_row(&l, "SELECT topic, props, payload, qos, expiry_interval, expires_at FROM retained",
                 load_retained, &retained) != 0 ||
        each_row(&l,
                 "SELECT client_id, expiry_interval, will_delay, protocol, will_topic, "
                 "will_props, will_payload, will_qos, will_retain, will_expiry FROM sessions",
                 load_session, &sessions) != 0 ||
        each_row(&l,
                 "SELECT client_id, share_group, filter, options, subscription_id "
                 "FROM subscriptions",
                 load_subscription, &subs) != 0 ||
        each_row(&l,
                 "SELECT id, client_id, qos, state, packet_id, retain, sent, share_group, "
                 "subscription_ids, topic, props, payload, msg_qos, msg_retain, "
                 "expiry_interval, expires_at FROM deliveries ORDER BY id",
                 load_delivery, &deliveries) != 0 ||
        each_row(&l, "SELECT client_id, packet_id FROM qos2_received", load_qos2, &qos2) != 0)
        return -1;
    log_notice("store %s: restored %zu retained message%s, %zu session%s, %zu subscription%s, "
               "%zu queued or in-flight message%s, %zu QoS 2 id%s",
               l.path, retained, retained == 1 ? "" : "s", sessions, sessions == 1 ? "" : "s", subs,
               subs == 1 ? "" : "s", deliveries, deliveries == 1 ? "" : "s", qos2,
               qos2 == 1 ? "" : "s");
    store_start_upkeep(st);
    return 0;
}
