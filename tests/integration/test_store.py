"""The durable store (issue 5): what a broker with `persistence true` keeps across a clean restart
and across kill -9 — retained messages, persistent sessions with their subscriptions, queued
messages and inbound QoS 2 packet ids — and its refusal to start on a damaged file."""

import os
import signal
import sqlite3
import subprocess
import tempfile
import time
import unittest

import mqtt_harness as h
from mqtt_harness import (V5, V311, PUBREC, PUBCOMP, SESSION_EXPIRY_INTERVAL,
                          SUBSCRIPTION_IDENTIFIER, MESSAGE_EXPIRY_INTERVAL, CONTENT_TYPE)

EXPIRY_1H = {SESSION_EXPIRY_INTERVAL: 3600}


@h.mqttd_only("mqttd's store, durability modes and restore")
class StoreRestartTest(unittest.TestCase):
    durability = "full"

    def setUp(self):
        self.broker = h.Broker(["durability " + self.durability], persistence=True).start()

    def tearDown(self):
        self.broker.__exit__(None, None, None)

    def client(self, client_id, version=V5, clean_start=True, props=None):
        c = self.broker.client(version)
        ack = c.connect(client_id, clean_start=clean_start, props=props)
        self.assertEqual(ack.reason_code, 0, ack)
        self.addCleanup(c.close)
        return c, ack

    def restart(self, crash=False):
        if crash:
            self.broker.kill()
            self.broker.start()
        else:
            self.broker.restart()

    def test_retained_message_with_properties_survives_a_clean_restart(self):
        pub, _ = self.client("st-pub")
        pub.publish("store/retained", b"kept", qos=1, retain=True,
                    props={CONTENT_TYPE: "text/plain"})
        pub.publish("store/gone", b"x", qos=1, retain=True)
        pub.publish("store/gone", b"", qos=1, retain=True)  # deletes it [MQTT-3.3.1-6]
        pub.disconnect()
        self.restart()
        sub, _ = self.client("st-sub")
        sub.subscribe("store/#", qos=1)
        got = sub.drain_publishes(timeout=0.5)
        self.assertEqual([(p.topic, p.payload, p.retain) for p in got],
                         [("store/retained", b"kept", True)])
        self.assertEqual(got[0].props.get(CONTENT_TYPE), "text/plain")

    def test_retained_message_past_its_expiry_is_not_restored(self):
        pub, _ = self.client("st-pub")
        pub.publish("store/short", b"x", qos=1, retain=True, props={MESSAGE_EXPIRY_INTERVAL: 1})
        pub.disconnect()
        self.broker.stop()
        time.sleep(1.2)
        self.broker.start()
        sub, _ = self.client("st-sub")
        sub.subscribe("store/#", qos=1)
        self.assertEqual(sub.drain_publishes(timeout=0.5), [])

    def test_session_and_subscriptions_survive_a_clean_restart_with_session_present(self):
        sub, ack = self.client("st-session", props=EXPIRY_1H)
        self.assertEqual(ack.session_present, 0)
        sub.subscribe("store/a/+", qos=1, sub_id=7)
        sub.subscribe("store/b", qos=2)
        sub.disconnect()
        self.restart()
        sub, ack = self.client("st-session", clean_start=False, props=EXPIRY_1H)
        self.assertEqual(ack.session_present, 1)  # [MQTT-3.2.2-3] after a restart too
        pub, _ = self.client("st-pub")
        pub.publish("store/a/x", b"one", qos=1)
        pub.publish("store/b", b"two", qos=2)
        got = sub.recv_publishes(2)
        self.assertEqual(sorted((p.topic, p.payload, p.qos) for p in got),
                         [("store/a/x", b"one", 1), ("store/b", b"two", 2)])
        first = [p for p in got if p.topic == "store/a/x"][0]
        self.assertEqual(first.props.get(SUBSCRIPTION_IDENTIFIER), 7)

    def test_queued_messages_survive_a_clean_restart_in_order(self):
        sub, _ = self.client("st-queue", props=EXPIRY_1H)
        sub.subscribe("store/q", qos=2)
        sub.disconnect()
        pub, _ = self.client("st-pub")
        for i in range(5):
            pub.publish("store/q", b"m%d" % i, qos=1 + i % 2)
        pub.disconnect()
        self.restart()
        sub, ack = self.client("st-queue", clean_start=False, props=EXPIRY_1H)
        self.assertEqual(ack.session_present, 1)
        got = sub.recv_publishes(5)
        self.assertEqual([p.payload for p in got], [b"m%d" % i for i in range(5)])
        self.assertEqual(sub.drain_publishes(timeout=0.3), [])

    def test_v311_persistent_session_survives_a_crash_after_the_puback(self):
        sub, _ = self.client("st-v311", version=V311, clean_start=False)
        sub.subscribe("store/c", qos=1)
        sub.close()
        pub, _ = self.client("st-pub")
        ack = pub.publish("store/c", b"acked", qos=1)
        self.assertEqual(ack.type, h.PUBACK)
        self.restart(crash=True)
        sub, ack = self.client("st-v311", version=V311, clean_start=False)
        self.assertEqual(ack.session_present, 1)
        self.assertEqual(sub.recv_publish().payload, b"acked")

    def test_acknowledged_inflight_message_is_resent_with_dup_after_a_crash(self):
        sub, _ = self.client("st-inflight", props=EXPIRY_1H)
        sub.subscribe("store/i", qos=1)
        pub, _ = self.client("st-pub")
        pub.publish("store/i", b"once", qos=1)
        first = sub.recv_publish(ack_it=False)  # never acknowledged
        self.restart(crash=True)
        sub, ack = self.client("st-inflight", clean_start=False, props=EXPIRY_1H)
        self.assertEqual(ack.session_present, 1)
        again = sub.recv_publish()
        self.assertEqual((again.payload, again.packet_id, again.dup),
                         (b"once", first.packet_id, True))  # [MQTT-4.4.0-1]

    def test_inbound_qos2_id_survives_a_crash_so_a_resent_publish_is_delivered_once(self):
        sub, _ = self.client("st-q2sub", props=EXPIRY_1H)
        sub.subscribe("store/two", qos=2)
        sub.disconnect()
        pub, _ = self.client("st-q2pub", props=EXPIRY_1H)
        pub.send(h.publish("store/two", b"exactly once", qos=2, packet_id=42))
        self.assertEqual(pub.expect(PUBREC).packet_id, 42)
        self.restart(crash=True)
        pub, ack = self.client("st-q2pub", clean_start=False, props=EXPIRY_1H)
        self.assertEqual(ack.session_present, 1)
        # The publisher did not see its PUBREC arrive, so it sends the PUBLISH again [MQTT-4.3.3-10].
        pub.send(h.publish("store/two", b"exactly once", qos=2, packet_id=42, dup=True))
        self.assertEqual(pub.expect(PUBREC).packet_id, 42)
        pub.send(h.ack(h.PUBREL, 42))
        self.assertEqual(pub.expect(PUBCOMP).reason_code, 0)
        sub, _ = self.client("st-q2sub", clean_start=False, props=EXPIRY_1H)
        got = sub.drain_publishes(timeout=0.7)
        self.assertEqual([p.payload for p in got], [b"exactly once"])

    def test_released_qos2_id_stays_released_after_a_crash_before_the_pubcomp_arrived(self):
        # The interleaving of the crash test's old duplicate: the broker took the PUBREL and
        # committed the release, then died before the publisher read its PUBCOMP.
        sub, _ = self.client("st-relsub", props=EXPIRY_1H)
        sub.subscribe("store/rel", qos=2)
        sub.disconnect()
        pub, _ = self.client("st-relpub", props=EXPIRY_1H)
        pub.send(h.publish("store/rel", b"released", qos=2, packet_id=7))
        self.assertEqual(pub.expect(PUBREC).packet_id, 7)
        pub.send(h.ack(h.PUBREL, 7))
        self.assertEqual(pub.expect(PUBCOMP).reason_code, 0)  # sent only once committed
        self.restart(crash=True)
        pub, _ = self.client("st-relpub", clean_start=False, props=EXPIRY_1H)
        # The publisher resends its PUBREL [MQTT-4.4.0-1]; the id is gone, the answer completes
        # the exchange and nothing is routed again [MQTT-4.3.3-11].
        pub.send(h.ack(h.PUBREL, 7))
        done = pub.expect(PUBCOMP)
        self.assertEqual((done.packet_id, done.reason_code), (7, 0x92))
        sub, _ = self.client("st-relsub", clean_start=False, props=EXPIRY_1H)
        got = sub.drain_publishes(timeout=0.7)
        self.assertEqual([p.payload for p in got], [b"released"])

    def test_pubrel_not_publish_is_resent_to_a_subscriber_after_a_crash(self):
        sub, _ = self.client("st-pubrel", props=EXPIRY_1H)
        sub.subscribe("store/pr", qos=2)
        pub, _ = self.client("st-pub")
        pub.publish("store/pr", b"settled", qos=2)
        first = sub.recv_publish(ack_it=False)
        sub.send(h.ack(PUBREC, first.packet_id))
        self.assertEqual(sub.expect(h.PUBREL).packet_id, first.packet_id)  # held until committed
        self.restart(crash=True)
        sub, ack = self.client("st-pubrel", clean_start=False, props=EXPIRY_1H)
        self.assertEqual(ack.session_present, 1)
        # Once the subscriber's PUBREC was taken, the message is never sent again: only the
        # PUBREL with its original packet id [MQTT-4.4.0-1], [MQTT-4.3.3-6].
        again = sub.recv()
        self.assertEqual((again.type, again.packet_id), (h.PUBREL, first.packet_id))
        sub.send(h.ack(PUBCOMP, first.packet_id))
        sub.expect_nothing(0.5)

    def test_qos2_publish_to_a_subscriber_leaves_only_once_its_packet_id_is_committed(self):
        if self.durability != "full":
            self.skipTest("durability relaxed sends before it commits")
        sub, _ = self.client("st-q2id", props=EXPIRY_1H)
        sub.subscribe("store/q2id", qos=2)
        pub, _ = self.client("st-pub")
        pub.send(h.publish("store/q2id", b"one id", qos=2, packet_id=9))
        first = sub.recv_publish(ack_it=False)
        # Frozen the moment the PUBLISH arrived: the file already says which packet id it
        # went out with, so a crash now resends it under that id [MQTT-4.4.0-1].
        os.kill(self.broker.proc.pid, signal.SIGSTOP)
        try:
            rows = store_rows(self.broker.store_path,
                              "SELECT state, packet_id FROM deliveries "
                              "WHERE client_id = CAST('st-q2id' AS BLOB)")
        finally:
            os.kill(self.broker.proc.pid, signal.SIGCONT)
        self.assertEqual(rows, [(2, first.packet_id)])  # awaiting PUBREC
        self.restart(crash=True)
        sub, _ = self.client("st-q2id", clean_start=False, props=EXPIRY_1H)
        again = sub.recv_publish(ack_it=False)
        self.assertEqual((again.payload, again.packet_id), (b"one id", first.packet_id))

    def test_session_ended_by_clean_start_is_gone_from_the_store(self):
        c, _ = self.client("st-clean", props=EXPIRY_1H)
        c.subscribe("store/x", qos=1)
        c.disconnect()
        c, ack = self.client("st-clean", clean_start=True)
        self.assertEqual(ack.session_present, 0)
        c.disconnect()
        self.restart()
        c, ack = self.client("st-clean", clean_start=False, props=EXPIRY_1H)
        self.assertEqual(ack.session_present, 0)

    def test_held_acknowledgements_keep_their_reason_codes_and_order(self):
        sub, _ = self.client("st-order", props=EXPIRY_1H)
        sub.subscribe("store/o/+", qos=2)
        pub, _ = self.client("st-pub", props=EXPIRY_1H)
        ids = [pub.new_id() for _ in range(6)]
        for i, pid in enumerate(ids):
            topic = "store/o/x" if i % 2 == 0 else "store/nobody"
            pub.send(h.publish(topic, b"%d" % i, qos=1 + i % 2, packet_id=pid))
        acks = [pub.recv() for _ in ids]
        # In the order of the PUBLISH packets [MQTT-4.6.0-2], [MQTT-4.6.0-3].
        self.assertEqual([a.packet_id for a in acks], ids)
        self.assertEqual([a.type for a in acks], [h.PUBACK, PUBREC] * 3)
        self.assertEqual([a.reason_code for a in acks], [0, 0x10] * 3)

    def test_retained_messages_follow_the_suback_of_a_persistent_session(self):
        pub, _ = self.client("st-pub")
        pub.publish("store/r1", b"retained", qos=1, retain=True)
        sub, _ = self.client("st-rsub", props=EXPIRY_1H)
        sub.send(h.subscribe(1, [("store/r1", h.sub_options(1))]))
        first, second = sub.recv(), sub.recv()
        self.assertEqual((first.type, second.type), (h.SUBACK, h.PUBLISH))  # [MQTT-3.8.4-1]
        self.assertEqual(second.payload, b"retained")

    def test_store_file_is_sqlite_in_wal_mode(self):
        db = sqlite3.connect(self.broker.store_path)
        try:
            self.assertEqual(db.execute("PRAGMA journal_mode").fetchone()[0], "wal")
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            self.assertTrue({"retained", "sessions", "subscriptions", "deliveries",
                             "qos2_received"} <= tables, tables)
        finally:
            db.close()


class StoreRestartRelaxedTest(StoreRestartTest):
    """The same after a clean restart in durability relaxed; crashes may lose the last interval,
    so the crash cases give the store that interval first."""
    durability = "relaxed"

    def restart(self, crash=False):
        if crash:
            time.sleep(0.3)  # past durability_interval (100 ms)
        StoreRestartTest.restart(self, crash)


def store_rows(path, sql):
    """Rows of a query on the store file of a running broker (a reader of its own, closed again
    so it never holds back the broker's checkpoints)."""
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def store_size(path):
    return sum(os.path.getsize(path + suffix) for suffix in ("", "-wal")
               if os.path.exists(path + suffix))


@h.mqttd_only("mqttd's store upkeep while running")
class StoreUpkeepTest(unittest.TestCase):
    """What leaves the file while the broker runs: expired retained messages, expired sessions,
    and the free pages a churn of messages leaves behind."""

    def setUp(self):
        self.broker = h.Broker(["durability full"], persistence=True).start()
        self.addCleanup(self.broker.__exit__, None, None, None)

    def client(self, client_id, props=None, clean_start=True):
        c = self.broker.client(V5)
        self.assertEqual(c.connect(client_id, clean_start=clean_start, props=props).reason_code, 0)
        self.addCleanup(c.close)
        return c

    def wait_for(self, sql, expected, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            rows = store_rows(self.broker.store_path, sql)
            if rows == expected or time.monotonic() > deadline:
                return rows
            time.sleep(0.1)

    def test_expired_retained_message_leaves_the_file_while_the_broker_runs(self):
        pub = self.client("up-pub")
        pub.publish("store/up/short", b"1 s", qos=1, retain=True,
                    props={MESSAGE_EXPIRY_INTERVAL: 1})
        pub.publish("store/up/long", b"kept", qos=1, retain=True)
        self.assertEqual(len(store_rows(self.broker.store_path, "SELECT topic FROM retained")), 2)
        rows = self.wait_for("SELECT topic FROM retained", [(b"store/up/long",)])
        self.assertEqual(rows, [(b"store/up/long",)])
        self.assertIsNone(self.broker.proc.poll(), "the broker kept running")

    def test_expired_session_leaves_the_file_while_the_broker_runs(self):
        c = self.client("up-session", props={SESSION_EXPIRY_INTERVAL: 1})
        c.subscribe("store/up/s", qos=1)
        c.disconnect()
        self.assertEqual(store_rows(self.broker.store_path, "SELECT client_id FROM sessions"),
                         [(b"up-session",)])
        # The session ends once its expiry interval passes [MQTT-4.1.0-2], and its row with it.
        self.assertEqual(self.wait_for("SELECT client_id FROM sessions", []), [])
        self.assertEqual(store_rows(self.broker.store_path, "SELECT * FROM subscriptions"), [])

    def churn(self, pub, count=150, size=8192):
        """Retains `count` messages of `size` bytes, then clears them, pipelined."""
        for payload in (os.urandom(size), b""):
            ids = [pub.new_id() for _ in range(count)]
            for i, pid in enumerate(ids):
                pub.send(h.publish("store/churn/%d" % i, payload, qos=1, retain=True,
                                   packet_id=pid))
            for _ in ids:
                self.assertLess(pub.expect(h.PUBACK).reason_code, 0x80)

    def test_file_size_levels_off_under_churn_and_shrinks_when_emptied(self):
        pub = self.client("up-churn")
        sizes = []
        for _ in range(8):
            self.churn(pub)
            sizes.append(store_size(self.broker.store_path))
        # Every round writes 1.2 MB and deletes it again: free pages are reused or returned,
        # so later rounds do not grow the file.
        self.assertLessEqual(max(sizes[3:]), max(sizes[:3]) * 1.25, sizes)
        # Emptied, the file gives its pages back within a few upkeep rounds.
        peak = os.path.getsize(self.broker.store_path)
        deadline = time.monotonic() + 8
        while os.path.getsize(self.broker.store_path) > peak // 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        self.assertLess(os.path.getsize(self.broker.store_path), peak // 2, (peak, sizes))

    def test_file_made_without_incremental_vacuum_is_converted_and_kept(self):
        self.broker.stop()
        os.remove(self.broker.store_path)
        for suffix in ("-wal", "-shm"):
            if os.path.exists(self.broker.store_path + suffix):
                os.remove(self.broker.store_path + suffix)
        db = sqlite3.connect(self.broker.store_path)
        db.execute("CREATE TABLE retained(topic BLOB PRIMARY KEY, qos INT, props BLOB, "
                   "payload BLOB, expiry_interval INT, expires_at INT)")
        db.execute("INSERT INTO retained VALUES (?, 0, x'', ?, 0, 0)",
                   (b"store/old", b"from before"))
        db.commit()
        self.assertEqual(db.execute("PRAGMA auto_vacuum").fetchone()[0], 0)
        db.close()
        self.broker.start()
        self.assertEqual(store_rows(self.broker.store_path, "PRAGMA auto_vacuum"), [(2,)])
        sub = self.client("up-old")
        sub.subscribe("store/old", qos=0)
        self.assertEqual(sub.recv_publish().payload, b"from before")


@h.mqttd_only("mqttd's store start-up errors")
class StoreStartupErrorTest(unittest.TestCase):
    def run_mqttd(self, directory, *lines):
        conf = os.path.join(directory, "broker.conf")
        with open(conf, "w") as f:
            f.write("\n".join(("listener %d 127.0.0.1" % h.free_port(),) + lines) + "\n")
        binary = os.environ.get("MQTTD_BIN") or os.path.join(h._REPO, "build", "mqttd")
        return subprocess.run([binary, "-c", conf], capture_output=True, text=True, timeout=10)

    def test_damaged_store_file_stops_start_up_naming_the_file(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "mqttd.db")
            with open(path, "wb") as f:
                f.write(b"this is not an SQLite database" * 100)
            r = self.run_mqttd(d, "persistence true", "persistence_location " + d)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn(path, r.stderr + r.stdout)
            with open(path, "rb") as f:
                self.assertTrue(f.read().startswith(b"this is not"))  # never replaced by an empty one

    def test_unwritable_store_location_stops_start_up_naming_the_file(self):
        r = self.run_mqttd("/tmp", "persistence true",
                           "persistence_location /nonexistent-dir-for-mqttd-test")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("/nonexistent-dir-for-mqttd-test/mqttd.db", r.stderr + r.stdout)

    def test_bad_durability_value_is_a_config_error(self):
        with tempfile.TemporaryDirectory() as d:
            r = self.run_mqttd(d, "durability sometimes")
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("neither full nor relaxed", r.stderr + r.stdout)


if __name__ == "__main__":
    h.main()
