#!/usr/bin/python3
"""$SYS topics: the broker's counters as retained messages under $SYS/broker/ every
sys_interval seconds (Mosquitto's names), hidden from '#', never stored, and not writable by
clients."""
import sqlite3
import subprocess
import time
import unittest

from mqtt_harness import (PUBACK, V311, Broker, BrokerTestCase, main, publish)

RC_NOT_AUTHORIZED = 0x87


def sys_values(client, names, timeout=5.0):
    """{topic: payload} of the $SYS messages received until every one of `names` came."""
    got = {}
    deadline = time.monotonic() + timeout
    while not all("$SYS/broker/" + n in got for n in names) and time.monotonic() < deadline:
        p = client.recv_publish(timeout=max(0.1, deadline - time.monotonic()))
        got[p.topic] = p.payload
    return got


def wait_for_count(client, topic, at_least, timeout=5.0):
    """The first value of `topic` (republished every interval) that reaches `at_least`."""
    deadline = time.monotonic() + timeout
    while True:
        value = int(client.recv_publish(timeout=max(0.1, deadline - time.monotonic())).payload)
        if value >= at_least or time.monotonic() > deadline:
            return value


class SysTopics(BrokerTestCase):
    config = ["sys_interval 1"]

    def test_counters_published_with_mosquittos_names(self):
        watcher = self.connected(self.cid("w"))
        watcher.subscribe("$SYS/broker/#")
        counters = ["clients/connected", "clients/total", "subscriptions/count",
                    "retained messages/count", "publish/messages/received",
                    "publish/messages/sent", "publish/messages/dropped", "bytes/received",
                    "bytes/sent", "publishers/held", "limits/connections_refused",
                    "limits/rate_throttled", "limits/memory_refused"]
        got = sys_values(watcher, ["version", "uptime"] + counters)
        self.assertTrue(got["$SYS/broker/version"].startswith(b"mqttd "))
        self.assertRegex(got["$SYS/broker/uptime"].decode(), r"^\d+ seconds$")
        for name in counters:
            self.assertRegex(got["$SYS/broker/" + name].decode(), r"^\d+$", name)
        self.assertGreaterEqual(int(got["$SYS/broker/clients/connected"]), 1)

    def test_counters_follow_the_traffic(self):
        watcher = self.connected(self.cid("w"))
        watcher.subscribe("$SYS/broker/publish/messages/received")
        before = int(watcher.recv_publish(timeout=3).payload)
        pub = self.connected(self.cid("p"))
        for _ in range(5):
            pub.publish(self.topic(), b"x", qos=1)
        self.assertGreaterEqual(
            wait_for_count(watcher, "$SYS/broker/publish/messages/received", before + 5),
            before + 5)

    def test_hidden_from_a_multi_level_wildcard(self):
        """[MQTT-4.7.2-1]"""
        c = self.connected(self.cid("h"))
        c.subscribe("#")
        c.subscribe("+/broker/#")
        time.sleep(1.3)
        self.assertEqual([p.topic for p in c.drain_publishes(0.3)
                          if p.topic.startswith("$")], [])

    def test_clients_may_not_publish_under_sys(self):
        watcher = self.connected(self.cid("w"))
        watcher.subscribe("$SYS/fake")
        pub = self.connected(self.cid("p"))
        ack = pub.publish("$SYS/fake", b"spoof", qos=1)
        self.assertEqual(ack.reason_code, RC_NOT_AUTHORIZED)
        old = self.connected(self.cid("o"), version=V311)
        old.send(publish("$SYS/fake", b"spoof", qos=1, packet_id=1, version=V311))
        self.assertEqual(old.expect(PUBACK).reason_code, 0)  # 3.1.1 cannot refuse one message
        self.assertEqual(watcher.drain_publishes(0.5), [])

    def test_mosquitto_sub_reads_them(self):
        out = subprocess.run(
            ["mosquitto_sub", "-p", str(self.broker.port), "-h", "127.0.0.1", "-t",
             "$SYS/broker/uptime", "-C", "1", "-W", "5"],
            capture_output=True, text=True, timeout=10)
        self.assertRegex(out.stdout.strip(), r"^\d+ seconds$")


class SysTopicsOff(BrokerTestCase):
    config = ["sys_interval 0"]

    def test_zero_interval_publishes_nothing(self):
        c = self.connected(self.cid("z"))
        c.subscribe("$SYS/#")
        self.assertEqual(c.drain_publishes(1.2), [])


class SysTopicsNotStored(unittest.TestCase):
    def test_never_written_to_the_store(self):
        with Broker(["sys_interval 1"], persistence=True) as b:
            c = b.client()
            c.connect("s")
            c.publish("kept", b"r", qos=1, retain=True)
            c.subscribe("$SYS/broker/uptime")
            c.recv_publish(timeout=3)
            c.close()
            b.stop()
            db = sqlite3.connect(b.store_path)
            topics = [r[0] for r in db.execute("SELECT topic FROM retained")]
            db.close()
            self.assertEqual(topics, [b"kept"])


if __name__ == "__main__":
    main()
