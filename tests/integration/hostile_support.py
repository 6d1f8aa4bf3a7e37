"""Support for the hostile-input battery (tests/integration/test_hostile_*.py).

Two parts:
  - Bystander: two well-behaved v5 clients connected before the battery starts, one publishing a
    steady QoS 1 stream (every 20 ms, a sequence number and a send time in each payload), the
    other subscribed to it. Every case asserts the stream still flows after it (and the slow
    cases while they hold the broker busy); at the end the stream must be complete and in order,
    and the subscriber's latencies (send to receive) are printed: count, p50, p99, max.
  - Case tables: a case is a name, the spec statement it checks, the bytes a hostile client
    sends, and the exact reaction expected (DISCONNECT with a reason code, CONNACK with a code,
    a reply packet, a close without a word, or nothing at all). HostileTestCase.add_cases turns
    each into a test method, so a failure names the case.
"""

import os
import struct
import threading
import time

from mqtt_harness import (
    CONNACK, BrokerTestCase, Client, NoPacket, PACKET_NAMES, SUBACK, UNSUBACK, V5)

BYSTANDER_PERIOD = 0.02


class Bystander:
    """A publisher and a subscriber on `port`, streaming QoS 1 messages until stop()."""

    def __init__(self, port, topic="bystander/stream"):
        self.topic = topic
        self.sub = Client(port, V5, timeout=5.0)
        ack = self.sub.connect("bystander-sub", keep_alive=60)
        assert ack.reason_code == 0, ack
        suback = self.sub.subscribe(topic, qos=1)
        assert suback.reason_codes == [1], suback
        self.pub = Client(port, V5, timeout=5.0)
        ack = self.pub.connect("bystander-pub", keep_alive=60)
        assert ack.reason_code == 0, ack
        self.cond = threading.Condition()
        self.received = []  # (seq, latency s) in arrival order
        self.sent = 0
        self.errors = []
        self.stopping = False
        self.threads = [threading.Thread(target=self._publish, daemon=True),
                        threading.Thread(target=self._receive, daemon=True)]
        for t in self.threads:
            t.start()

    def _publish(self):
        seq = 0
        next_at = time.monotonic()
        try:
            while not self.stopping:
                payload = struct.pack("!Qd", seq, time.monotonic())
                self.pub.publish(self.topic, payload, qos=1, timeout=10.0)
                with self.cond:
                    self.sent = seq + 1
                seq += 1
                next_at += BYSTANDER_PERIOD
                time.sleep(max(0.0, next_at - time.monotonic()))
        except Exception as e:  # noqa: BLE001 - reported by check()
            self.errors.append("publisher: %r" % e)

    def _receive(self):
        try:
            while True:
                try:
                    p = self.sub.recv_publish(timeout=0.5)
                except NoPacket:
                    with self.cond:
                        if self.stopping and len(self.received) >= self.sent:
                            return
                    continue
                seq, sent_at = struct.unpack("!Qd", p.payload)
                with self.cond:
                    self.received.append((seq, time.monotonic() - sent_at))
                    self.cond.notify_all()
        except Exception as e:  # noqa: BLE001 - reported by check()
            self.errors.append("subscriber: %r" % e)
            with self.cond:
                self.cond.notify_all()

    def count(self):
        with self.cond:
            return len(self.received)

    def assert_flowing(self, what, messages=3, timeout=5.0):
        """Fails unless `messages` more messages arrive within `timeout` s."""
        deadline = time.monotonic() + timeout
        with self.cond:
            target = len(self.received) + messages
            while len(self.received) < target and not self.errors:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("bystander stalled %s: %d messages received, %d sent" % (
                        what, len(self.received), self.sent))
                self.cond.wait(left)
        if self.errors:
            raise AssertionError("bystander failed %s: %s" % (what, self.errors))

    def stop(self):
        """Stops the stream and checks it: every message sent arrived, in order."""
        self.stopping = True
        for t in self.threads:
            t.join(15.0)
        self.sub.close()
        self.pub.close()
        if self.errors:
            raise AssertionError("bystander failed: %s" % self.errors)
        seqs = [s for s, _ in self.received]
        unique = sorted(set(seqs))
        if unique != list(range(self.sent)):
            missing = sorted(set(range(self.sent)) - set(seqs))
            raise AssertionError("bystander lost messages: %d sent, missing %s" % (
                self.sent, missing[:20]))
        if seqs != sorted(seqs):
            raise AssertionError("bystander messages out of order")

    def latency_report(self, label):
        """One line of latency figures; with MQTTD_HOSTILE_LATENCIES=FILE set, every latency (ms)
        is also appended to FILE, so a whole battery run can be summed up."""
        lat = sorted(l for _, l in self.received)
        path = os.environ.get("MQTTD_HOSTILE_LATENCIES")
        if path:
            with open(path, "a") as f:
                f.writelines("%.3f\n" % (l * 1000.0) for l in lat)
        if not lat:
            return "%s: no bystander messages" % label

        def pct(p):
            return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000.0
        return ("%s: bystander %d messages, latency p50 %.1f ms, p99 %.1f ms, max %.1f ms" % (
            label, len(lat), pct(0.50), pct(0.99), lat[-1] * 1000.0))


def broker_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


def broker_fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


# ---- expected reactions ----

class Disconnect:
    """v5: DISCONNECT with this reason code, then the connection closes."""

    def __init__(self, rc):
        self.rc = rc

    def check(self, test, c):
        c.expect_disconnect(self.rc)

    def __str__(self):
        return "disconnect_0x%02x" % self.rc


class Connack:
    """CONNACK with this code, then the connection closes."""

    def __init__(self, rc):
        self.rc = rc

    def check(self, test, c):
        p = c.expect(CONNACK)
        test.assertEqual(p.reason_code, self.rc, p)
        test.assertIsNone(c.assert_closed())

    def __str__(self):
        return "connack_0x%02x" % self.rc


class Closed:
    """The connection closes without any packet (3.1.1 errors, bytes before CONNECT)."""

    def check(self, test, c):
        try:
            p = c.recv(3.0)
        except NoPacket:
            raise AssertionError("connection still open") from None
        except AssertionError as e:
            if "closed" in str(e):
                return
            raise
        raise AssertionError("expected a close without reply, got %r" % (p,))

    def __str__(self):
        return "closed"


class Reply:
    """A packet of this type with this reason code; the connection stays usable."""

    def __init__(self, ptype, rc):
        self.ptype, self.rc = ptype, rc

    def check(self, test, c):
        p = c.expect(self.ptype)
        test.assertEqual(p.reason_code, self.rc, p)
        c.ping()

    def __str__(self):
        return "%s_0x%02x" % (PACKET_NAMES[self.ptype].lower(), self.rc)


class Suback:
    """SUBACK (or UNSUBACK) with these reason codes; the connection stays usable."""

    ptype = SUBACK

    def __init__(self, *codes):
        self.codes = list(codes)

    def check(self, test, c):
        p = c.expect(self.ptype)
        test.assertEqual(p.reason_codes, self.codes, p)
        c.ping()

    def __str__(self):
        return "%s_%s" % (PACKET_NAMES[self.ptype].lower(),
                          "_".join("0x%02x" % x for x in self.codes))


class Unsuback(Suback):
    ptype = UNSUBACK


class Ignored:
    """No reply at all, and the connection stays usable."""

    def check(self, test, c):
        c.expect_nothing(0.3)
        c.ping()

    def __str__(self):
        return "ignored"


class HostileTestCase(BrokerTestCase):
    """A broker per class with a bystander stream running through every test of the class."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.bystander = Bystander(cls.broker.port)
        except Exception:
            cls.broker.__exit__(None, None, None)
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.bystander.stop()
            print("\n" + cls.bystander.latency_report(cls.__name__), flush=True)
        finally:
            super().tearDownClass()

    def tearDown(self):
        super().tearDown()
        self.bystander.assert_flowing("after " + self._testMethodName)

    def run_case(self, data, expected, version=V5, connect_first=True, client_id=None):
        """Sends `data` from a fresh client (connected first unless connect_first is False) and
        checks the reaction."""
        if connect_first:
            c = self.connected(client_id, version=version)
        else:
            c = self.client(version)
        c.send(data)
        expected.check(self, c)

    @classmethod
    def add_cases(cls, cases, version=V5, connect_first=True):
        """cases: (name, spec ids, bytes, expected reaction). Adds test_<name>_<reaction>."""
        for name, spec, data, expected in cases:
            def test(self, data=data, expected=expected):
                self.run_case(data, expected, version, connect_first)
            test.__name__ = "test_%s_%s" % (name, expected)
            test.__doc__ = "%s -> %s" % (spec, expected)
            if hasattr(cls, test.__name__):
                raise RuntimeError("duplicate case " + test.__name__)
            setattr(cls, test.__name__, test)

