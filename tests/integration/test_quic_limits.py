#!/usr/bin/python3
"""Limits over QUIC as over TCP: a client over its message rate is throttled (the broker holds
back the stream's flow-control credit, so the client waits) rather than disconnected with 0x96,
and max_connections_per_ip counts QUIC connections (a refused Initial gets no answer)."""
import time
import unittest

import mqtt_harness as h
import quic_support as q


def quic_args(broker, topic, *extra):
    return ["-L", broker.quic_url(topic), "--cafile", broker.cert] + list(extra)


class QuicRateLimit(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        q.need_quic()
        cls.broker = q.QuicBroker(["max_messages_per_second 20"])
        cls.broker.start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.__exit__(None, None, None)

    def test_publisher_over_the_rate_is_throttled_not_disconnected(self):
        sub = h.Client(self.broker.port)
        sub.connect("rate-sub")
        sub.subscribe("rate/t", qos=1)
        lines = "".join("m%d\n" % i for i in range(50))
        started = time.monotonic()
        r = q.mqttc("pub", *quic_args(self.broker, "rate/t"), "-q", "1", "-l", input=lines,
                    timeout=30)
        elapsed = time.monotonic() - started
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("falling back", r.stderr)
        got = [p.payload for p in sub.recv_publishes(50, timeout=10)]
        self.assertEqual(got, [b"m%d" % i for i in range(50)])
        # 20 per second after a burst of one second's worth: the 30 others take 1.5 s.
        self.assertGreater(elapsed, 1.2)
        sub.close()


class QuicConnectionsPerAddress(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        q.need_quic()
        cls.broker = q.QuicBroker(["max_connections_per_ip 1"])
        cls.broker.start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.__exit__(None, None, None)

    def test_second_quic_connection_from_one_address_gets_no_handshake(self):
        holder = q.Subscriber(*quic_args(self.broker, "ip/t"), "-W", "3").start()
        r = q.mqttc("pub", *quic_args(self.broker, "ip/t", "--quic-timeout", "800",
                                      "--fallback", "mqtt://127.0.0.1:1"), "-m", "refused")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("QUIC handshake timed out", r.stderr)
        rc, _, err = holder.finish()
        self.assertEqual(rc, 27, err)  # left by itself after -W: its connection closed cleanly
        # Its slot is free again: the next QUIC connection from the address is admitted.
        r = q.mqttc("pub", *quic_args(self.broker, "ip/t", "--quic-timeout", "2000",
                                      "--fallback", "mqtt://127.0.0.1:1"), "-m", "admitted")
        self.assertEqual(r.returncode, 0, r.stderr)

if __name__ == "__main__":
    unittest.main(verbosity=2)
