"""Overload protection (docs/SECURITY.md, "Limits"): past `memory_limit` the broker refuses new
connections (CONNACK 0x97 / return code 3) and QoS 1/2 messages (PUBACK 0x97), keeps serving the
clients it has (QoS 0 flows), and accepts again once memory is back under the limit.

What the broker counts as in use (its resident set, or the sanitizer allocator's live bytes in
sanitizer builds) is read from its own log: a broker started with memory_limit 1 says how much
it uses at rest, and the real test gives it that plus a margin."""

import re
import time

from mqtt_harness import (
    Broker, BrokerTestCase, Client, RC_QUOTA_EXCEEDED, SESSION_EXPIRY_INTERVAL, V311,
    V3_REFUSED_SERVER_UNAVAILABLE, main, mqttd_only)

MARGIN = 24 * 1024 * 1024
PAYLOAD = 1024 * 1024
EXPIRY = 5  # seconds the parked session, which holds the memory, outlives its connection


def memory_at_rest():
    """Bytes the broker reports in use right after start-up."""
    with Broker(["memory_limit 1"]) as b:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            m = re.search(r"memory in use (\d+) bytes is above memory_limit", b.log_text())
            if m:
                return int(m.group(1))
            time.sleep(0.1)
    raise AssertionError("the broker never reported its memory use:\n" + b.log_text())


class AlwaysOver(BrokerTestCase):
    config = ["memory_limit 1"]

    def setUp(self):
        super().setUp()
        time.sleep(0.3)  # the first sample, on the 100 ms tick

    @mqttd_only("memory_limit refuses connections in mqttd")
    def test_connect_refused_with_0x97_and_return_code_3(self):
        c = self.client()
        self.assertEqual(c.connect(self.cid()).reason_code, RC_QUOTA_EXCEEDED)
        c.assert_closed()
        c = self.client(V311)
        self.assertEqual(c.connect(self.cid()).reason_code, V3_REFUSED_SERVER_UNAVAILABLE)
        c.assert_closed()


class OverAndBack(BrokerTestCase):
    config = []

    @classmethod
    def setUpClass(cls):
        cls.config = ["memory_limit %d" % (memory_at_rest() + MARGIN), "max_queued_messages 0"]
        super().setUpClass()

    def fill_until_refused(self, pub):
        """Publishes 1 MiB QoS 1 messages for an offline session until they are refused and
        still are a few samples later (a refusal may also come from a passing peak, such as
        the input buffer of a message being read). Returns how many were accepted."""
        accepted = 0
        while accepted < 4 * MARGIN // PAYLOAD:
            ack = pub.publish(self.topic(), b"m" * PAYLOAD, qos=1)
            if ack.reason_code == RC_QUOTA_EXCEEDED:
                time.sleep(0.3)
                if pub.publish(self.topic(), b"m", qos=1).reason_code == RC_QUOTA_EXCEEDED:
                    return accepted
                continue
            self.assertEqual(ack.reason_code, 0, ack)
            accepted += 1
        self.fail("memory_limit never refused a message")

    @mqttd_only("memory_limit refuses connections and messages in mqttd")
    def test_over_the_limit_refuses_new_work_serves_existing_clients_and_recovers(self):
        parked = self.connected(self.cid("parked"), props={SESSION_EXPIRY_INTERVAL: EXPIRY})
        parked.subscribe(self.topic(), qos=1)
        parked.disconnect()
        watcher = self.connected(self.cid("watch"))
        watcher.subscribe(self.topic("qos0"))
        pub = self.connected(self.cid("pub"))
        accepted = self.fill_until_refused(pub)
        self.assertGreater(accepted, MARGIN // PAYLOAD // 2)

        late = self.client()
        self.assertEqual(late.connect(self.cid("late")).reason_code, RC_QUOTA_EXCEEDED)
        late.assert_closed()
        pub.publish(self.topic("qos0"), b"still flowing")
        self.assertEqual(watcher.recv_publish().payload, b"still flowing")

        # The queued messages go when the session expires: memory falls, the broker accepts
        # again.
        deadline = time.monotonic() + EXPIRY + 10
        while True:
            c = Client(self.broker.port)
            self._clients.append(c)
            if c.connect(self.cid("back")).reason_code == 0:
                break
            self.assertLess(time.monotonic(), deadline, "memory never came back under the limit")
            time.sleep(0.3)
        self.assertEqual(pub.publish(self.topic("after"), b"x", qos=1).reason_code, 0x10)


if __name__ == "__main__":
    main()
