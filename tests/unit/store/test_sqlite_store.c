/*
 * Unit tests of the durable store with a real SQLite file: changes queued by the broker come
 * back after the store is closed and opened again, a callback waits for the commit, a group is
 * committed whole, a relaxed store that falls behind bounds its backlog, and a damaged file is
 * refused by name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/retained.h"
#include "broker/topic_tree.h"
#include "server/config.h"
#include "session/session.h"
#include "store/store.h"

static char dir[64];
static char path[96];
static char err[512];
static struct mq_config cfg;

static int setup(void **state)
{
    strcpy(dir, "/tmp/mqttd-store-unit-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/test.db", dir);
    assert_int_equal(config_init(&cfg), 0);
    return 0;
}

static int teardown(void **state)
{
    char name[128];
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "%s%s", path, suffixes[i]);
        unlink(name);
    }
    rmdir(dir);
    config_free(&cfg);
    return 0;
}

static struct mq_store *open_store(void)
{
    struct mq_store *st = NULL;
    assert_int_equal(store_open(&st, path, MQ_DURABILITY_FULL, 100, err, sizeof err), 0);
    return st;
}

static struct message *msg(const char *topic, const char *payload, uint8_t qos)
{
    return message_new((const uint8_t *)topic, (uint16_t)strlen(topic), NULL, 0,
                       (const uint8_t *)payload, (uint32_t)strlen(payload), qos, false, 0, 1000);
}

static void mark(void *ctx)
{
    atomic_store((atomic_int *)ctx, 1);
}

static void restore_into(struct broker *b)
{
    assert_int_equal(broker_init(b, &cfg), 0);
    struct mq_store *st = open_store();
    assert_int_equal(store_restore(st, b, 5000, err, sizeof err), 0);
    store_close(st);
}

static void test_after_commit_callback_runs_once_the_change_is_committed(void **state)
{
    struct mq_store *st = open_store();
    struct message *m = msg("a/b", "hello", 1);
    uint64_t seq = store_retained_put(st, m, 1000);
    assert_true(seq > 0);
    atomic_int done = 0;
    assert_int_equal(store_after_commit(st, mark, &done), 0);
    for (int i = 0; i < 500 && !atomic_load(&done); i++)
        usleep(2000);
    assert_int_equal(atomic_load(&done), 1);
    assert_true(store_committed(st, seq));
    store_close(st);
    message_unref(m);
}

static void test_retained_messages_come_back_and_deleted_ones_do_not(void **state)
{
    struct mq_store *st = open_store();
    struct message *kept = msg("r/kept", "yes", 1);
    struct message *gone = msg("r/gone", "no", 0);
    store_retained_put(st, kept, 1000);
    store_retained_put(st, gone, 1000);
    store_retained_delete(st, (const uint8_t *)"r/gone", 6);
    store_close(st);
    message_unref(kept);
    message_unref(gone);

    struct broker b;
    restore_into(&b);
    assert_int_equal(retained_count(b.retained), 1);
    broker_destroy(&b);
}

static void test_session_subscriptions_deliveries_and_qos2_ids_come_back(void **state)
{
    struct broker b;
    assert_int_equal(broker_init(&b, &cfg), 0);
    struct session *s = session_new(&b, "client-1", 8);
    s->expiry_interval_s = 600;
    s->protocol_version = 5;
    struct mq_store *st = open_store();
    store_session_put(st, s);
    store_subscription_put(st, s, NULL, 0, (const uint8_t *)"x/+", 3, 1, 42);
    struct message *m = msg("x/1", "payload", 1);
    struct delivery *d = delivery_new(m, 1, false, NULL, 0, NULL);
    d->store_id = store_new_delivery_id(st);
    store_delivery_put(st, s, d, 1000);
    d->packet_id = 7;
    d->state = DELIVERY_AWAIT_PUBACK;
    d->sent = true;
    store_delivery_put(st, s, d, 1000); /* sent: replaces the queued row */
    store_qos2_add(st, s, 9);
    store_qos2_add(st, s, 10);
    store_qos2_remove(st, s, 9);
    store_close(st);
    delivery_free(d);
    message_unref(m);
    session_unref(s);
    broker_destroy(&b);

    restore_into(&b);
    struct session *r = registry_get(b.registry, "client-1", 8);
    assert_non_null(r);
    assert_true(r->stored);
    assert_int_equal(r->expiry_interval_s, 600);
    assert_int_equal(r->expires_at_ms, 5000 + 600 * 1000); /* counts from the restart */
    assert_int_equal(r->subscription_count, 1);
    assert_int_equal(r->subscriptions->subscription_id, 42);
    assert_int_equal(topic_tree_count(b.tree), 1);
    assert_int_equal(r->inflight.count, 1);
    assert_int_equal(r->queue.count, 0);
    assert_int_equal(r->inflight.head->packet_id, 7);
    assert_int_equal(r->inflight.head->state, DELIVERY_AWAIT_PUBACK);
    assert_memory_equal(r->inflight.head->msg->payload, "payload", 7);
    assert_int_equal(r->qos2_received_count, 1);
    assert_int_equal(r->qos2_received[0], 10);
    broker_destroy(&b);
}

static void test_deleting_a_session_deletes_what_it_owns(void **state)
{
    struct broker b;
    assert_int_equal(broker_init(&b, &cfg), 0);
    struct session *s = session_new(&b, "c2", 2);
    s->expiry_interval_s = UINT32_MAX;
    struct mq_store *st = open_store();
    store_session_put(st, s);
    store_subscription_put(st, s, NULL, 0, (const uint8_t *)"y", 1, 0, 0);
    store_qos2_add(st, s, 3);
    store_session_delete(st, "c2", 2);
    store_close(st);
    session_unref(s);
    broker_destroy(&b);

    restore_into(&b);
    assert_null(registry_get(b.registry, "c2", 2));
    assert_int_equal(topic_tree_count(b.tree), 0);
    broker_destroy(&b);
}

static void test_damaged_file_is_refused_naming_it(void **state)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (int i = 0; i < 200; i++)
        fputs("definitely not a database ", f);
    fclose(f);
    struct mq_store *st = NULL;
    assert_int_equal(store_open(&st, path, MQ_DURABILITY_FULL, 100, err, sizeof err), -1);
    assert_null(st);
    assert_non_null(strstr(err, path));
}

static void wait_committed(struct mq_store *st, uint64_t seq)
{
    for (int i = 0; i < 2500 && !store_committed(st, seq); i++)
        usleep(2000);
}

static void test_relaxed_store_that_falls_behind_commits_at_once_and_holds_acks(void **state)
{
    struct mq_store *st = NULL;
    assert_int_equal(store_open(&st, path, MQ_DURABILITY_RELAXED, 60000, err, sizeof err), 0);
    uint64_t first = store_retained_delete(st, (const uint8_t *)"r/0", 3);
    usleep(200000);
    /* Keeping up: the change waits for the interval, and acknowledgements do not wait. */
    assert_false(store_committed(st, first));
    assert_false(store_acks_wait(st));
    /* Inside a group nothing is committed, so the backlog builds up for certain. */
    store_group_begin(st);
    uint64_t last = 0;
    for (int i = 0; i <= STORE_RELAXED_BACKLOG; i++)
        last = store_retained_delete(st, (const uint8_t *)"r/x", 3);
    assert_true(store_acks_wait(st));
    store_group_end(st);
    /* Behind: committed without waiting for the 60 s interval, then acknowledgements flow. */
    wait_committed(st, last);
    assert_true(store_committed(st, last));
    assert_false(store_acks_wait(st));
    store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_after_commit_callback_runs_once_the_change_is_committed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retained_messages_come_back_and_deleted_ones_do_not,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_session_subscriptions_deliveries_and_qos2_ids_come_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deleting_a_session_deletes_what_it_owns, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_damaged_file_is_refused_naming_it, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_relaxed_store_that_falls_behind_commits_at_once_and_holds_acks, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
