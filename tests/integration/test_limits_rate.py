"""Per-client rates (docs/SECURITY.md, "Limits"): a client over max_messages_per_second or
max_bytes_per_second is throttled, not disconnected: the broker stops reading its socket until
its token bucket refills, so TCP pushes back on the client and nothing is lost. A client over
max_subscriptions_per_minute gets SUBACK 0x97 (Quota exceeded) for each filter beyond it. A
bystander keeps its full speed meanwhile."""

import time

from mqtt_harness import (
    BrokerTestCase, RC_QUOTA_EXCEEDED, V311, main, mqttd_only, publish)


def burst(client, topic, count, size=1):
    """Sends `count` QoS 0 PUBLISH packets in one write, as a fast client does."""
    client.send(b"".join(publish(topic, b"%06d" % i + b"x" * max(0, size - 6))
                         for i in range(count)))


def receive_all(sub, count, timeout):
    """The payload numbers received and the time each arrived, until `count` or `timeout`."""
    got, times = [], []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        p = sub.recv_publish(timeout=max(0.1, deadline - time.monotonic()))
        got.append(int(p.payload[:6]))
        times.append(time.monotonic())
    return got, times


class MessageRate(BrokerTestCase):
    config = ["max_messages_per_second 20"]

    @mqttd_only("max_messages_per_second is mqttd's")
    def test_publisher_over_the_rate_is_slowed_not_disconnected(self):
        sub = self.connected(self.cid("s"))
        sub.subscribe(self.topic())
        pub = self.connected(self.cid("p"))
        start = time.monotonic()
        burst(pub, self.topic(), 60)
        got, times = receive_all(sub, 60, 10)
        self.assertEqual(got, list(range(60)))  # every message, in order
        # The first second's worth goes at once, the other 40 at 20 per second.
        self.assertGreaterEqual(times[-1] - start, 1.6)
        early = sum(1 for t in times if t - start < 0.5)
        self.assertLessEqual(early, 20 + 10 + 3, early)
        pub.ping()  # still connected

    @mqttd_only("max_messages_per_second is mqttd's")
    def test_bystander_is_not_slowed_by_a_throttled_publisher(self):
        sub = self.connected(self.cid("s"))
        sub.subscribe(self.topic("slow"))
        fast = self.connected(self.cid("p"))
        burst(fast, self.topic("slow"), 100)  # five seconds of backlog for this client
        other = self.connected(self.cid("o"))
        watcher = self.connected(self.cid("w"))
        watcher.subscribe(self.topic("other"), qos=1)
        for i in range(10):
            start = time.monotonic()
            self.assertEqual(other.publish(self.topic("other"), b"%d" % i, qos=1).reason_code, 0)
            self.assertEqual(watcher.recv_publish().payload, b"%d" % i)
            self.assertLess(time.monotonic() - start, 1.0)  # the backlog is 5 s

    @mqttd_only("max_messages_per_second is mqttd's")
    def test_qos1_acknowledgements_follow_the_rate(self):
        pub = self.connected(self.cid("p"))
        start = time.monotonic()
        pub.send(b"".join(publish(self.topic(), b"x", qos=1, packet_id=i + 1)
                          for i in range(40)))
        acks = [pub.recv().packet_id for _ in range(40)]
        self.assertEqual(acks, list(range(1, 41)))
        self.assertGreaterEqual(time.monotonic() - start, 0.8)


class ByteRate(BrokerTestCase):
    config = ["max_bytes_per_second 10000"]

    @mqttd_only("max_bytes_per_second is mqttd's")
    def test_publisher_over_the_byte_rate_is_slowed_not_disconnected(self):
        sub = self.connected(self.cid("s"))
        sub.subscribe(self.topic())
        pub = self.connected(self.cid("p"))
        start = time.monotonic()
        burst(pub, self.topic(), 30, size=1000)  # about 31 kB: 3 s at 10 kB/s
        got, times = receive_all(sub, 30, 10)
        self.assertEqual(got, list(range(30)))
        self.assertGreaterEqual(times[-1] - start, 1.7)
        pub.ping()

    @mqttd_only("max_bytes_per_second is mqttd's")
    def test_packet_larger_than_a_second_of_bytes_still_passes(self):
        sub = self.connected(self.cid("s"))
        sub.subscribe(self.topic())
        pub = self.connected(self.cid("p"))
        self.assertEqual(pub.publish(self.topic(), b"y" * 25000, qos=1).reason_code, 0)
        self.assertEqual(len(sub.recv_publish().payload), 25000)


class SubscriptionRate(BrokerTestCase):
    config = ["max_subscriptions_per_minute 3"]

    @mqttd_only("max_subscriptions_per_minute is mqttd's")
    def test_filters_beyond_the_rate_get_suback_0x97(self):
        c = self.connected()
        ack = c.subscribe([(self.topic(str(i)), 0) for i in range(4)])
        self.assertEqual(ack.reason_codes, [0, 0, 0, RC_QUOTA_EXCEEDED])
        self.assertEqual(c.subscribe(self.topic("x"), qos=1).reason_codes, [RC_QUOTA_EXCEEDED])
        c.ping()  # refused filters do not end the connection

    @mqttd_only("max_subscriptions_per_minute is mqttd's")
    def test_v311_client_gets_failure_0x80(self):
        c = self.connected(version=V311)
        ack = c.subscribe([(self.topic(str(i)), 1) for i in range(4)])
        self.assertEqual(ack.reason_codes, [1, 1, 1, 0x80])

    @mqttd_only("max_subscriptions_per_minute is mqttd's")
    def test_bystander_subscribes_while_another_client_is_over_its_rate(self):
        c = self.connected(self.cid("greedy"))
        c.subscribe([(self.topic(str(i)), 0) for i in range(10)])
        other = self.connected(self.cid("other"))
        self.assertEqual(other.subscribe(self.topic("mine"), qos=1).reason_codes, [1])


if __name__ == "__main__":
    main()
