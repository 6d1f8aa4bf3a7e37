#!/usr/bin/python3
"""Backpressure: a QoS 1 publisher faster than its subscriber waits instead of losing messages.

When a delivery leaves an online subscriber's queue half full (max_queued_messages), the broker
stops reading the publisher until the queue drains to a quarter, so nothing it acknowledged is
dropped. A subscriber that drains nothing for half a second stops holding publishers back: its
queue then overflows and drops, as without backpressure, and the publisher goes on.
"""
import threading
import time

from mqtt_harness import (PUBACK, RECEIVE_MAXIMUM, BrokerTestCase, main, publish)

QUEUE = 20
WINDOW = 50  # the publisher's own in-flight window (the broker's Receive Maximum is 100)


def pipelined_publisher(client, topic, count, result):
    """Publishes `count` QoS 1 messages keeping WINDOW unacknowledged; records the PUBACKs."""
    sent = acked = 0
    while acked < count:
        while sent < count and sent - acked < WINDOW:
            sent += 1
            client.send(publish(topic, b"%d" % sent, qos=1, packet_id=sent))
        p = client.expect(PUBACK, timeout=20)
        result.setdefault("reasons", []).append(p.reason_code)
        acked += 1
    result["done_at"] = time.monotonic()


class Backpressure(BrokerTestCase):
    config = ["max_queued_messages %d" % QUEUE, "sys_interval 1"]

    def _publisher_thread(self, topic, count):
        pub = self.connected(self.cid("p"))
        result = {}
        t = threading.Thread(target=pipelined_publisher, args=(pub, topic, count, result))
        t.start()
        return t, result

    def test_fast_publisher_waits_for_slow_subscriber_and_nothing_is_dropped(self):
        topic = self.topic()
        sub = self.connected(self.cid("s"), props={RECEIVE_MAXIMUM: 5})
        sub.subscribe(topic, qos=1)
        count = 1000
        t, result = self._publisher_thread(topic, count)
        got = []
        while len(got) < count:
            got.append(sub.recv_publish(timeout=10).payload)
            if len(got) % 50 == 0:
                time.sleep(0.02)  # slower than the publisher: its queue would overflow
        t.join(30)
        self.assertEqual(got, [b"%d" % i for i in range(1, count + 1)])
        self.assertEqual(set(result["reasons"]), {0})
        self.assertNotIn("dropped", self.broker.log_text())
        # Counted: $SYS/broker/publishers/held (mqttd_stats.publishers_held) is republished
        # every second; the retained copy may predate the flood, a later one does not.
        watcher = self.connected(self.cid("w"))
        watcher.subscribe("$SYS/broker/publishers/held")
        deadline = time.monotonic() + 5
        held = 0
        while held == 0 and time.monotonic() < deadline:
            held = int(watcher.recv_publish(timeout=3).payload)
        self.assertGreater(held, 0)

    def test_subscriber_that_stops_reading_holds_publishers_back_only_briefly(self):
        stuck_topic, other_topic = self.topic() + "/stuck", self.topic() + "/other"
        stuck = self.connected(self.cid("s"), props={RECEIVE_MAXIMUM: 5})
        stuck.subscribe(stuck_topic, qos=1)  # and never reads again
        bystander = self.connected(self.cid("b"))
        bystander.subscribe(other_topic, qos=1)
        count = 300
        started = time.monotonic()
        t, result = self._publisher_thread(stuck_topic, count)
        t.join(30)
        self.assertFalse(t.is_alive(), "the publisher is still held back")
        # Held at most about half a second per stall, then its messages flow (and drop).
        self.assertLess(result["done_at"] - started, 10)
        pub = self.connected(self.cid("q"))
        pub.publish(other_topic, b"after", qos=1)
        self.assertEqual(bystander.recv_publish(timeout=5).payload, b"after")

    def test_client_subscribed_to_its_own_flood_is_not_held(self):
        topic = self.topic()
        loop = self.connected(self.cid("l"), props={RECEIVE_MAXIMUM: 5})
        loop.subscribe(topic, qos=1)
        started = time.monotonic()
        for i in range(1, 101):
            loop.send(publish(topic, b"%d" % i, qos=1, packet_id=i))
        acks = [loop._wait_for(lambda p: p.type == PUBACK, 5, "PUBACK") for _ in range(100)]
        # Its own queue fills while its input waits; holding it would stall it for 0.5 s.
        self.assertLess(time.monotonic() - started, 0.45)
        self.assertEqual(len(acks), 100)


if __name__ == "__main__":
    main()
