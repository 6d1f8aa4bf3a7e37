/*
 * The store on SQLite (see store.h): the queue of changes the workers fill, the store thread
 * that applies them in one transaction per batch (group commit), and the callbacks that wait
 * for a commit. WAL mode, so `sqlite3 FILE .backup` works against a live broker.
 */
#include "store/store.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/message.h"
#include "server/log.h"
#include "session/session.h"
#include "store/store_internal.h"

enum op_kind {
    OP_RETAINED_PUT,
    OP_RETAINED_DELETE,
    OP_SESSION_PUT,
    OP_SESSION_DELETE,
    OP_SUB_PUT,
    OP_SUB_DELETE,
    OP_DELIVERY_PUT,
    OP_DELIVERY_DELETE,
    OP_QOS2_ADD,
    OP_QOS2_REMOVE,
    OP_CALLBACK,
};

/* One queued change. `key` is the client id (or the retained topic), `a` and `b` the group and
 * filter of a subscription or a delivery's share group; `ids` a delivery's subscription ids. */
struct op {
    struct op *next;
    enum op_kind kind;
    uint64_t seq;
    uint8_t *key;
    uint16_t key_len;
    uint8_t *a, *b;
    uint16_t a_len, b_len;
    struct message *msg; /* one reference: a retained message, a will, a delivery's message */
    int64_t expires_wall_ms;
    uint64_t id;
    uint32_t u32[3]; /* session: expiry, will delay, protocol; sub: options, id */
    uint8_t qos, state, retain, sent;
    uint16_t packet_id;
    uint32_t *ids;
    uint16_t id_count;
    void (*fn)(void *ctx);
    void *ctx;
};

struct mq_store {
    char *path;
    sqlite3 *db;
    enum mq_durability durability;
    uint32_t interval_ms;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct op *head, *tail; /* under lock */
    struct op *cut;         /* the last queued op outside every open group (under lock) */
    unsigned open_groups;   /* under lock */
    bool stop;              /* under lock */
    uint64_t next_seq;      /* under lock */
    atomic_uint_fast64_t committed_seq;
    atomic_uint_fast64_t backlog; /* changes queued and not yet committed */
    atomic_uint_fast64_t next_delivery_id;
    int64_t next_upkeep_ms; /* wall clock, under lock: when the store thread next runs upkeep();
                               INT64_MAX until store_restore is done or the first commit */
    sqlite3_stmt *prune_retained;
    sqlite3_stmt *stmt[OP_CALLBACK];
};

/* How often the store thread prunes expired rows and returns free pages (wall clock), and
 * how many pages at most each time: small steps, so a commit never waits long behind one. */
#define STORE_UPKEEP_MS 1000
#define STORE_VACUUM_PAGES 256

static _Thread_local uint64_t thread_changes;

int64_t store_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t store_thread_changes(void)
{
    return thread_changes;
}

bool store_is_full(const struct mq_store *st)
{
    return st->durability == MQ_DURABILITY_FULL;
}

static bool behind(const struct mq_store *st)
{
    return atomic_load((atomic_uint_fast64_t *)&st->backlog) > STORE_RELAXED_BACKLOG;
}

bool store_acks_wait(const struct mq_store *st)
{
    return st->durability == MQ_DURABILITY_FULL || behind(st);
}

bool store_committed(const struct mq_store *st, uint64_t seq)
{
    return seq <= atomic_load((atomic_uint_fast64_t *)&st->committed_seq);
}

uint64_t store_new_delivery_id(struct mq_store *st)
{
    return atomic_fetch_add(&st->next_delivery_id, 1);
}

sqlite3 *store_db(struct mq_store *st)
{
    return st->db;
}

const char *store_path(const struct mq_store *st)
{
    return st->path;
}

static void op_free(struct op *o)
{
    free(o->key);
    free(o->a);
    free(o->b);
    free(o->ids);
    message_unref(o->msg);
    free(o);
}

static uint8_t *dup_bytes(const void *p, size_t len)
{
    uint8_t *d = malloc(len ? len : 1);
    if (d && len)
        memcpy(d, p, len);
    return d;
}

static struct op *op_new(enum op_kind kind, const void *key, uint16_t key_len)
{
    struct op *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->kind = kind;
    if (key && !(o->key = dup_bytes(key, key_len))) {
        free(o);
        return NULL;
    }
    o->key_len = key_len;
    return o;
}

static bool op_set(uint8_t **dst, uint16_t *dst_len, const void *src, uint16_t len)
{
    *dst_len = len;
    return (*dst = dup_bytes(src, len)) != NULL;
}

/* Appends o to the queue (st->lock held). Outside any group it is a point where the store
 * thread may end a transaction. */
static void append_locked(struct mq_store *st, struct op *o)
{
    if (st->tail)
        st->tail->next = o;
    else
        st->head = o;
    st->tail = o;
    if (st->open_groups == 0) {
        st->cut = o;
        pthread_cond_signal(&st->wake);
    }
}

void store_group_begin(struct mq_store *st)
{
    pthread_mutex_lock(&st->lock);
    st->open_groups++;
    pthread_mutex_unlock(&st->lock);
}

void store_group_end(struct mq_store *st)
{
    pthread_mutex_lock(&st->lock);
    if (--st->open_groups == 0 && st->tail) {
        st->cut = st->tail;
        pthread_cond_signal(&st->wake);
    }
    pthread_mutex_unlock(&st->lock);
}

/* Queues o (NULL: out of memory, logged) and returns its sequence number. */
static uint64_t push(struct mq_store *st, struct op *o)
{
    if (!o) {
        log_error("store: out of memory, a change to %s is lost", st->path);
        return 0;
    }
    atomic_fetch_add(&st->backlog, 1);
    pthread_mutex_lock(&st->lock);
    o->seq = ++st->next_seq;
    append_locked(st, o);
    uint64_t seq = o->seq;
    pthread_mutex_unlock(&st->lock);
    thread_changes++;
    return seq;
}

static int64_t wall_deadline(const struct message *m, uint64_t now_ms)
{
    if (!m->expires_at_ms)
        return 0;
    return store_wall_ms() + (int64_t)(m->expires_at_ms > now_ms ? m->expires_at_ms - now_ms : 0);
}

uint64_t store_retained_put(struct mq_store *st, struct message *m, uint64_t now_ms)
{
    struct op *o = op_new(OP_RETAINED_PUT, m->topic, m->topic_len);
    if (o) {
        o->msg = message_ref(m);
        o->expires_wall_ms = wall_deadline(m, now_ms);
    }
    return push(st, o);
}

uint64_t store_retained_delete(struct mq_store *st, const uint8_t *topic, uint16_t len)
{
    return push(st, op_new(OP_RETAINED_DELETE, topic, len));
}

uint64_t store_session_put(struct mq_store *st, const struct session *s)
{
    struct op *o = op_new(OP_SESSION_PUT, s->client_id, s->client_id_len);
    if (o) {
        o->u32[0] = s->expiry_interval_s;
        o->u32[1] = s->will_delay_s;
        o->u32[2] = s->protocol_version;
        o->msg = s->will ? message_ref(s->will) : NULL;
    }
    return push(st, o);
}

uint64_t store_session_delete(struct mq_store *st, const char *client_id, uint16_t len)
{
    return push(st, op_new(OP_SESSION_DELETE, client_id, len));
}

static struct op *sub_op(enum op_kind kind, const struct session *s, const uint8_t *group,
                         uint16_t group_len, const uint8_t *filter, uint16_t filter_len)
{
    struct op *o = op_new(kind, s->client_id, s->client_id_len);
    if (o && (!op_set(&o->a, &o->a_len, group, group_len) ||
              !op_set(&o->b, &o->b_len, filter, filter_len))) {
        op_free(o);
        return NULL;
    }
    return o;
}

uint64_t store_subscription_put(struct mq_store *st, const struct session *s, const uint8_t *group,
                                uint16_t group_len, const uint8_t *filter, uint16_t filter_len,
                                uint8_t options, uint32_t subscription_id)
{
    struct op *o = sub_op(OP_SUB_PUT, s, group, group_len, filter, filter_len);
    if (o) {
        o->u32[0] = options;
        o->u32[1] = subscription_id;
    }
    return push(st, o);
}

uint64_t store_subscription_delete(struct mq_store *st, const struct session *s,
                                   const uint8_t *group, uint16_t group_len, const uint8_t *filter,
                                   uint16_t filter_len)
{
    return push(st, sub_op(OP_SUB_DELETE, s, group, group_len, filter, filter_len));
}

uint64_t store_delivery_put(struct mq_store *st, const struct session *s, const struct delivery *d,
                            uint64_t now_ms)
{
    struct op *o = op_new(OP_DELIVERY_PUT, s->client_id, s->client_id_len);
    if (!o)
        return push(st, NULL);
    o->id = d->store_id;
    o->msg = message_ref(d->msg);
    o->expires_wall_ms = wall_deadline(d->msg, now_ms);
    o->qos = d->qos;
    o->state = d->state;
    o->retain = d->retain;
    o->sent = d->sent;
    o->packet_id = d->packet_id;
    if (d->share_group &&
        !op_set(&o->a, &o->a_len, d->share_group, (uint16_t)strlen(d->share_group))) {
        op_free(o);
        return push(st, NULL);
    }
    if (d->subscription_id_count) {
        o->ids = malloc((size_t)d->subscription_id_count * sizeof *o->ids);
        if (!o->ids) {
            op_free(o);
            return push(st, NULL);
        }
        memcpy(o->ids, d->subscription_ids, (size_t)d->subscription_id_count * sizeof *o->ids);
        o->id_count = d->subscription_id_count;
    }
    return push(st, o);
}

uint64_t store_delivery_delete(struct mq_store *st, uint64_t store_id)
{
    struct op *o = op_new(OP_DELIVERY_DELETE, NULL, 0);
    if (o)
        o->id = store_id;
    return push(st, o);
}

static uint64_t qos2_op(struct mq_store *st, enum op_kind kind, const struct session *s,
                        uint16_t packet_id)
{
    struct op *o = op_new(kind, s->client_id, s->client_id_len);
    if (o)
        o->packet_id = packet_id;
    return push(st, o);
}

uint64_t store_qos2_add(struct mq_store *st, const struct session *s, uint16_t packet_id)
{
    return qos2_op(st, OP_QOS2_ADD, s, packet_id);
}

uint64_t store_qos2_remove(struct mq_store *st, const struct session *s, uint16_t packet_id)
{
    return qos2_op(st, OP_QOS2_REMOVE, s, packet_id);
}

int store_after_commit(struct mq_store *st, void (*fn)(void *ctx), void *ctx)
{
    struct op *o = op_new(OP_CALLBACK, NULL, 0);
    if (!o) {
        fn(ctx);
        return -1;
    }
    o->fn = fn;
    o->ctx = ctx;
    pthread_mutex_lock(&st->lock);
    o->seq = st->next_seq; /* a callback is not a change: it waits for the ones before it */
    append_locked(st, o);
    pthread_mutex_unlock(&st->lock);
    return 0;
}

/* --- the store thread --- */

static const char *const statements[OP_CALLBACK] = {
    [OP_RETAINED_PUT] = "INSERT OR REPLACE INTO retained(topic, qos, props, payload, "
                        "expiry_interval, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [OP_RETAINED_DELETE] = "DELETE FROM retained WHERE topic = ?1",
    [OP_SESSION_PUT] =
        "INSERT OR REPLACE INTO sessions(client_id, expiry_interval, will_delay, protocol, "
        "will_topic, will_props, will_payload, will_qos, will_retain, will_expiry) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [OP_SESSION_DELETE] = "DELETE FROM sessions WHERE client_id = ?1",
    [OP_SUB_PUT] = "INSERT OR REPLACE INTO subscriptions(client_id, share_group, filter, options, "
                   "subscription_id) VALUES (?1, ?2, ?3, ?4, ?5)",
    [OP_SUB_DELETE] =
        "DELETE FROM subscriptions WHERE client_id = ?1 AND share_group = ?2 AND filter = ?3",
    [OP_DELIVERY_PUT] =
        "INSERT OR REPLACE INTO deliveries(id, client_id, qos, state, packet_id, retain, sent, "
        "share_group, subscription_ids, topic, props, payload, msg_qos, msg_retain, "
        "expiry_interval, expires_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    [OP_DELIVERY_DELETE] = "DELETE FROM deliveries WHERE id = ?1",
    [OP_QOS2_ADD] = "INSERT OR IGNORE INTO qos2_received(client_id, packet_id) VALUES (?1, ?2)",
    [OP_QOS2_REMOVE] = "DELETE FROM qos2_received WHERE client_id = ?1 AND packet_id = ?2",
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS retained(topic BLOB PRIMARY KEY, qos INT, props BLOB, "
    "payload BLOB, expiry_interval INT, expires_at INT);"
    "CREATE TABLE IF NOT EXISTS sessions(client_id BLOB PRIMARY KEY, expiry_interval INT, "
    "will_delay INT, protocol INT, will_topic BLOB, will_props BLOB, will_payload BLOB, "
    "will_qos INT, will_retain INT, will_expiry INT);"
    "CREATE TABLE IF NOT EXISTS subscriptions(client_id BLOB, share_group BLOB, filter BLOB, "
    "options INT, subscription_id INT, PRIMARY KEY(client_id, share_group, filter));"
    "CREATE TABLE IF NOT EXISTS deliveries(id INTEGER PRIMARY KEY, client_id BLOB, qos INT, "
    "state INT, packet_id INT, retain INT, sent INT, share_group BLOB, subscription_ids BLOB, "
    "topic BLOB, props BLOB, payload BLOB, msg_qos INT, msg_retain INT, expiry_interval INT, "
    "expires_at INT);"
    "CREATE INDEX IF NOT EXISTS deliveries_by_client ON deliveries(client_id);"
    "CREATE TABLE IF NOT EXISTS qos2_received(client_id BLOB, packet_id INT, "
    "PRIMARY KEY(client_id, packet_id));"
    "CREATE INDEX IF NOT EXISTS retained_by_expiry ON retained(expires_at) WHERE expires_at > 0;";

static void bind_blob(sqlite3_stmt *q, int i, const void *p, size_t len)
{
    sqlite3_bind_blob(q, i, p ? p : "", (int)len, SQLITE_STATIC);
}

static void bind_message(sqlite3_stmt *q, int first, const struct message *m)
{
    bind_blob(q, first, m->topic, m->topic_len);
    bind_blob(q, first + 1, m->props, m->props_len);
    bind_blob(q, first + 2, m->payload, m->payload_len);
}

static int apply(struct mq_store *st, struct op *o)
{
    sqlite3_stmt *q = st->stmt[o->kind];
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    if (o->kind != OP_DELIVERY_DELETE)
        bind_blob(q, 1, o->key, o->key_len);
    switch (o->kind) {
    case OP_RETAINED_PUT:
        sqlite3_bind_int(q, 2, o->msg->qos);
        bind_blob(q, 3, o->msg->props, o->msg->props_len);
        bind_blob(q, 4, o->msg->payload, o->msg->payload_len);
        sqlite3_bind_int64(q, 5, o->msg->expiry_interval_s);
        sqlite3_bind_int64(q, 6, o->expires_wall_ms);
        break;
    case OP_SESSION_PUT:
        sqlite3_bind_int64(q, 2, o->u32[0]);
        sqlite3_bind_int64(q, 3, o->u32[1]);
        sqlite3_bind_int(q, 4, (int)o->u32[2]);
        if (o->msg) {
            bind_message(q, 5, o->msg);
            sqlite3_bind_int(q, 8, o->msg->qos);
            sqlite3_bind_int(q, 9, o->msg->retain);
            sqlite3_bind_int64(q, 10, o->msg->expiry_interval_s);
        }
        break;
    case OP_SESSION_DELETE:
        /* Everything the session owns goes with it, in the same transaction. */
        for (int t = 0; t < 3; t++) {
            static const char *const owned[] = {
                "DELETE FROM subscriptions WHERE client_id = ?1",
                "DELETE FROM deliveries WHERE client_id = ?1",
                "DELETE FROM qos2_received WHERE client_id = ?1",
            };
            sqlite3_stmt *d;
            if (sqlite3_prepare_v2(st->db, owned[t], -1, &d, NULL) != SQLITE_OK)
                return -1;
            bind_blob(d, 1, o->key, o->key_len);
            int rc = sqlite3_step(d);
            sqlite3_finalize(d);
            if (rc != SQLITE_DONE)
                return -1;
        }
        break;
    case OP_SUB_PUT:
    case OP_SUB_DELETE:
        bind_blob(q, 2, o->a, o->a_len);
        bind_blob(q, 3, o->b, o->b_len);
        if (o->kind == OP_SUB_PUT) {
            sqlite3_bind_int(q, 4, (int)o->u32[0]);
            sqlite3_bind_int64(q, 5, o->u32[1]);
        }
        break;
    case OP_DELIVERY_PUT:
        sqlite3_bind_int64(q, 1, (sqlite3_int64)o->id);
        bind_blob(q, 2, o->key, o->key_len);
        sqlite3_bind_int(q, 3, o->qos);
        sqlite3_bind_int(q, 4, o->state);
        sqlite3_bind_int(q, 5, o->packet_id);
        sqlite3_bind_int(q, 6, o->retain);
        sqlite3_bind_int(q, 7, o->sent);
        if (o->a)
            bind_blob(q, 8, o->a, o->a_len);
        bind_blob(q, 9, o->ids, (size_t)o->id_count * sizeof *o->ids);
        bind_message(q, 10, o->msg);
        sqlite3_bind_int(q, 13, o->msg->qos);
        sqlite3_bind_int(q, 14, o->msg->retain);
        sqlite3_bind_int64(q, 15, o->msg->expiry_interval_s);
        sqlite3_bind_int64(q, 16, o->expires_wall_ms);
        break;
    case OP_DELIVERY_DELETE:
        sqlite3_bind_int64(q, 1, (sqlite3_int64)o->id);
        break;
    case OP_QOS2_ADD:
    case OP_QOS2_REMOVE:
        sqlite3_bind_int(q, 2, o->packet_id);
        break;
    default:
        break;
    }
    return sqlite3_step(q) == SQLITE_DONE ? 0 : -1;
}

static int exec(struct mq_store *st, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return 0;
    log_error("store %s: %s: %s", st->path, sql, msg ? msg : sqlite3_errmsg(st->db));
    sqlite3_free(msg);
    return -1;
}

/* Applies one batch in one transaction, then runs its callbacks in order. */
static void commit_batch(struct mq_store *st, struct op *batch)
{
    uint64_t last = 0;
    uint64_t changes = 0;
    for (struct op *o = batch; o; o = o->next)
        changes += o->kind != OP_CALLBACK;
    if (changes) {
        exec(st, "BEGIN");
        for (struct op *o = batch; o; o = o->next) {
            if (o->kind == OP_CALLBACK)
                continue;
            if (apply(st, o) != 0)
                log_error("store %s: %s", st->path, sqlite3_errmsg(st->db));
            last = o->seq;
        }
        if (exec(st, "COMMIT") != 0)
            exec(st, "ROLLBACK");
        else
            atomic_store(&st->committed_seq, last);
        atomic_fetch_sub(&st->backlog, changes);
    }
    while (batch) {
        struct op *next = batch->next;
        if (batch->kind == OP_CALLBACK)
            batch->fn(batch->ctx);
        op_free(batch);
        batch = next;
    }
}

/* Expired retained messages leave the file while the broker runs (the broker stops sending
 * them at once; restart would drop them too), and free pages go back to the file system a few
 * at a time, so neither a churn of messages nor a burst of deletions leaves the file large. */
static void upkeep(struct mq_store *st)
{
    sqlite3_reset(st->prune_retained);
    sqlite3_bind_int64(st->prune_retained, 1, store_wall_ms());
    if (sqlite3_step(st->prune_retained) != SQLITE_DONE)
        log_error("store %s: pruning expired retained messages: %s", st->path,
                  sqlite3_errmsg(st->db));
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA incremental_vacuum(%d)", STORE_VACUUM_PAGES);
    exec(st, sql);
    /* In WAL mode the file shrinks only when a checkpoint copies the vacuum back into it; a
     * quiet broker would otherwise not checkpoint until 1,000 more pages were written. */
    sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
}

/* Runs upkeep when it is due, whatever the load (st->lock held, released meanwhile).
 * Returns the wall-clock time it is next due. */
static int64_t upkeep_if_due(struct mq_store *st)
{
    int64_t now = store_wall_ms();
    if (now >= st->next_upkeep_ms && !st->stop) {
        st->next_upkeep_ms = now + STORE_UPKEEP_MS;
        pthread_mutex_unlock(&st->lock);
        upkeep(st);
        pthread_mutex_lock(&st->lock);
    }
    return st->next_upkeep_ms;
}

void store_start_upkeep(struct mq_store *st)
{
    pthread_mutex_lock(&st->lock);
    st->next_upkeep_ms = store_wall_ms() + STORE_UPKEEP_MS;
    pthread_cond_signal(&st->wake);
    pthread_mutex_unlock(&st->lock);
}

static void *run(void *arg)
{
    struct mq_store *st = arg;
    pthread_mutex_lock(&st->lock);
    for (;;) {
        int64_t due = upkeep_if_due(st);
        if (!st->cut && !st->stop) {
            struct timespec until = {.tv_sec = (time_t)(due / 1000),
                                     .tv_nsec = (long)(due % 1000) * 1000000};
            pthread_cond_timedwait(&st->wake, &st->lock, &until);
            continue;
        }
        if (st->durability == MQ_DURABILITY_RELAXED && !st->stop && !behind(st)) {
            /* Relaxed: everything that arrives during the interval goes in one commit, unless
             * the store has fallen behind the load; then it commits as fast as it can. */
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            uint64_t ns = (uint64_t)until.tv_nsec + (uint64_t)st->interval_ms * 1000000u;
            until.tv_sec += (time_t)(ns / 1000000000u);
            until.tv_nsec = (long)(ns % 1000000000u);
            while (!st->stop && !behind(st) &&
                   pthread_cond_timedwait(&st->wake, &st->lock, &until) == 0)
                ;
        }
        /* The batch ends at the last op outside every group, so a group is never split
         * between two transactions. */
        struct op *batch = st->head;
        struct op *last = st->stop ? st->tail : st->cut;
        if (last) {
            st->head = last->next;
            last->next = NULL;
            if (!st->head)
                st->tail = NULL;
        } else {
            batch = NULL;
        }
        st->cut = NULL;
        bool stop = st->stop;
        pthread_mutex_unlock(&st->lock);
        if (batch)
            commit_batch(st, batch);
        pthread_mutex_lock(&st->lock);
        if (st->next_upkeep_ms == INT64_MAX)
            st->next_upkeep_ms = store_wall_ms() + STORE_UPKEEP_MS;
        if (stop && !st->head)
            break;
    }
    pthread_mutex_unlock(&st->lock);
    return NULL;
}

static int fail(struct mq_store *st, char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "%s: %s: %s", st->path, what,
             st->db ? sqlite3_errmsg(st->db) : "cannot open");
    return -1;
}

/* An existing file must pass SQLite's own check before we trust a byte of it. */
static int check_intact(struct mq_store *st, char *err, size_t errlen)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db, "PRAGMA quick_check", -1, &q, NULL) != SQLITE_OK)
        return fail(st, err, errlen, "not a readable mqttd store");
    int rc = sqlite3_step(q);
    const unsigned char *verdict = rc == SQLITE_ROW ? sqlite3_column_text(q, 0) : NULL;
    if (!verdict || strcmp((const char *)verdict, "ok") != 0) {
        snprintf(err, errlen, "%s: the store is damaged (%s); refusing to start without it",
                 st->path, verdict ? (const char *)verdict : sqlite3_errmsg(st->db));
        sqlite3_finalize(q);
        return -1;
    }
    sqlite3_finalize(q);
    return 0;
}

/* A file made before the store asked for auto_vacuum=INCREMENTAL cannot give pages back until
 * a VACUUM rebuilds it in that mode: done once, at start-up, with a notice (it reads and
 * rewrites the whole file). */
static int use_incremental_vacuum(struct mq_store *st, char *err, size_t errlen)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db, "PRAGMA auto_vacuum", -1, &q, NULL) != SQLITE_OK)
        return fail(st, err, errlen, "not a usable mqttd store");
    int mode = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int(q, 0) : -1;
    sqlite3_finalize(q);
    if (mode == 2)
        return 0;
    log_notice("store %s: converting the file to incremental vacuum (once)", st->path);
    if (exec(st, "PRAGMA auto_vacuum=INCREMENTAL") != 0 || exec(st, "VACUUM") != 0)
        return fail(st, err, errlen, "cannot convert the store to incremental vacuum");
    return 0;
}

static void destroy(struct mq_store *st)
{
    for (int i = 0; i < OP_CALLBACK; i++)
        sqlite3_finalize(st->stmt[i]);
    sqlite3_finalize(st->prune_retained);
    sqlite3_close(st->db);
    pthread_mutex_destroy(&st->lock);
    pthread_cond_destroy(&st->wake);
    free(st->path);
    free(st);
}

int store_open(struct mq_store **out, const char *path, enum mq_durability durability,
               uint32_t interval_ms, char *err, size_t errlen)
{
    struct mq_store *st = calloc(1, sizeof *st);
    if (!st || !(st->path = strdup(path))) {
        free(st);
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    st->durability = durability;
    st->interval_ms = interval_ms ? interval_ms : 1;
    pthread_mutex_init(&st->lock, NULL);
    pthread_cond_init(&st->wake, NULL);
    int rc = -1;
    if (sqlite3_open_v2(path, &st->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        fail(st, err, errlen, "cannot open the store");
        goto out;
    }
    sqlite3_busy_timeout(st->db, 5000);
    if (check_intact(st, err, errlen) != 0)
        goto out;
    /* auto_vacuum must be chosen before the first table exists; a file made without it is
     * converted once by use_incremental_vacuum. The WAL is cut back to journal_size_limit (the
     * size of SQLite's default auto-checkpoint) after a checkpoint, so a burst of writes does
     * not leave it large. */
    char *msg = NULL;
    const char *setup = durability == MQ_DURABILITY_FULL
                            ? "PRAGMA auto_vacuum=INCREMENTAL; PRAGMA journal_mode=WAL; "
                              "PRAGMA journal_size_limit=4194304; PRAGMA synchronous=FULL;"
                            : "PRAGMA auto_vacuum=INCREMENTAL; PRAGMA journal_mode=WAL; "
                              "PRAGMA journal_size_limit=4194304; PRAGMA synchronous=NORMAL;";
    if (sqlite3_exec(st->db, setup, NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_exec(st->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "%s: not a usable mqttd store: %s", path,
                 msg ? msg : sqlite3_errmsg(st->db));
        sqlite3_free(msg);
        goto out;
    }
    if (use_incremental_vacuum(st, err, errlen) != 0)
        goto out;
    for (int i = 0; i < OP_CALLBACK; i++) {
        if (sqlite3_prepare_v2(st->db, statements[i], -1, &st->stmt[i], NULL) != SQLITE_OK) {
            fail(st, err, errlen, "not a usable mqttd store");
            goto out;
        }
    }
    if (sqlite3_prepare_v2(st->db, "DELETE FROM retained WHERE expires_at > 0 AND expires_at <= ?1",
                           -1, &st->prune_retained, NULL) != SQLITE_OK) {
        fail(st, err, errlen, "not a usable mqttd store");
        goto out;
    }
    sqlite3_stmt *q;
    uint64_t max_id = 0;
    if (sqlite3_prepare_v2(st->db, "SELECT max(id) FROM deliveries", -1, &q, NULL) == SQLITE_OK) {
        if (sqlite3_step(q) == SQLITE_ROW)
            max_id = (uint64_t)sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
    }
    atomic_init(&st->next_delivery_id, max_id + 1);
    atomic_init(&st->committed_seq, 0);
    atomic_init(&st->backlog, 0);
    st->next_upkeep_ms = INT64_MAX;
    if (pthread_create(&st->thread, NULL, run, st) != 0) {
        snprintf(err, errlen, "%s: cannot start the store thread", path);
        goto out;
    }
    rc = 0;
    *out = st;
out:
    if (rc != 0)
        destroy(st);
    return rc;
}

void store_close(struct mq_store *st)
{
    if (!st)
        return;
    pthread_mutex_lock(&st->lock);
    st->stop = true;
    pthread_cond_signal(&st->wake);
    pthread_mutex_unlock(&st->lock);
    pthread_join(st->thread, NULL);
    exec(st, "PRAGMA incremental_vacuum");
    destroy(st);
}
