"""MQTT over QUIC against mqttd with mqttc: publish and subscribe over QUIC at every QoS, QUIC and
TCP clients on one broker, the fallback to TCP when QUIC cannot connect, and connection migration
(the client moves to a new UDP socket mid-session and the session continues)."""

import os
import socket
import time
import unittest

import quic_support as q


class QuicPubSub(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        q.need_quic()
        cls.broker = q.QuicBroker()
        cls.broker.start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.__exit__(None, None, None)

    def quic_args(self, topic):
        return ["-L", self.broker.quic_url(topic), "--cafile", self.broker.cert]

    def test_pub_and_sub_over_quic_at_every_qos(self):
        sub = q.Subscriber(*self.quic_args("quic/qos/#"), "-q", "2", "-C", "3").start()
        for qos in (0, 1, 2):
            r = q.mqttc("pub", *self.quic_args("quic/qos/%d" % qos), "-q", str(qos), "-m",
                        "over quic %d" % qos)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertNotIn("falling back", r.stderr)
        rc, messages, err = sub.finish()
        self.assertEqual(rc, 0, err)
        self.assertEqual(messages, ["quic/qos/0 over quic 0", "quic/qos/1 over quic 1",
                                    "quic/qos/2 over quic 2"])

    def test_second_publish_with_a_ticket_sends_connect_in_0rtt(self):
        ticket = os.path.join(self.broker.cert_dir, "ticket")
        sub = q.Subscriber(*self.quic_args("quic/0rtt"), "-C", "2").start()
        for i in range(2):
            r = q.mqttc("pub", *self.quic_args("quic/0rtt"), "--quic-ticket", ticket, "-d",
                        "-q", "1", "-m", "m%d" % i)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual("went out in 0-RTT" in r.stderr, i == 1, r.stderr)
            self.assertTrue(os.path.exists(ticket))
        rc, messages, err = sub.finish()
        self.assertEqual(rc, 0, err)
        self.assertEqual(messages, ["quic/0rtt m0", "quic/0rtt m1"])

    def test_quic_subscriber_receives_from_a_tcp_publisher_and_back(self):
        sub = q.Subscriber(*self.quic_args("mixed/#"), "-C", "2").start()
        r = q.mqttc("pub", "-L", self.broker.tcp_url("mixed/tcp"), "-q", "1", "-m", "from tcp")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = q.mqttc("pub", *self.quic_args("mixed/quic"), "-q", "1", "-m", "from quic")
        self.assertEqual(r.returncode, 0, r.stderr)
        rc, messages, err = sub.finish()
        self.assertEqual(rc, 0, err)
        self.assertEqual(messages, ["mixed/tcp from tcp", "mixed/quic from quic"])

    def test_large_message_spanning_many_quic_packets_arrives_whole(self):
        payload = "x" * 300000
        sub = q.Subscriber(*self.quic_args("big/t"), "-q", "1", "-C", "1").start()
        r = q.mqttc("pub", *self.quic_args("big/t"), "-q", "1", "-s", input=payload)
        self.assertEqual(r.returncode, 0, r.stderr)
        rc, messages, err = sub.finish()
        self.assertEqual(rc, 0, err)
        self.assertEqual(messages, ["big/t " + payload])

    def test_untrusted_server_certificate_is_refused_by_mqttc(self):
        r = q.mqttc("pub", "-L", self.broker.quic_url("t"), "-m", "x", "--quic-timeout", "2000",
                    "--fallback", "mqtt://127.0.0.1:1")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("QUIC handshake failed", r.stderr)

    def test_fallback_to_tcp_when_the_udp_port_is_closed(self):
        closed = q.free_udp_port()
        sub = q.Subscriber("-L", self.broker.tcp_url("fb/closed"), "-C", "1").start()
        start = time.monotonic()
        r = q.mqttc("pub", "-L", "quic://127.0.0.1:%d/fb/closed" % closed, "--fallback",
                    "mqtt://127.0.0.1:%d" % self.broker.port, "-m", "via tcp")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("falling back to TCP 127.0.0.1 port %d" % self.broker.port, r.stderr)
        self.assertLess(time.monotonic() - start, 3.0)
        rc, messages, err = sub.finish()
        self.assertEqual(messages, ["fb/closed via tcp"])

    def test_fallback_to_tcp_when_the_handshake_times_out(self):
        # A UDP socket that reads and never answers: no ICMP error, only silence.
        silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        silent.bind(("127.0.0.1", 0))
        try:
            sub = q.Subscriber("-L", self.broker.tcp_url("fb/silent"), "-C", "1").start()
            start = time.monotonic()
            r = q.mqttc("pub", "-L", "quic://127.0.0.1:%d/fb/silent" % silent.getsockname()[1],
                        "--quic-timeout", "300", "--fallback",
                        "mqtt://127.0.0.1:%d" % self.broker.port, "-m", "after timeout")
            elapsed = time.monotonic() - start
        finally:
            silent.close()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("falling back", r.stderr)
        self.assertGreaterEqual(elapsed, 0.3)
        self.assertLess(elapsed, 3.0)
        rc, messages, err = sub.finish()
        self.assertEqual(messages, ["fb/silent after timeout"])

    def test_session_continues_after_the_client_migrates_to_a_new_address(self):
        sub = q.Subscriber(*self.quic_args("move/#"), "-q", "1", "-C", "6",
                           "--quic-migrate-after", "2").start()
        for i in range(6):
            r = q.mqttc("pub", "-L", self.broker.tcp_url("move/%d" % i), "-q", "1", "-m", str(i))
            self.assertEqual(r.returncode, 0, r.stderr)
            time.sleep(0.1)
        rc, messages, err = sub.finish()
        self.assertEqual(rc, 0, err)
        self.assertEqual(messages, ["move/%d %d" % (i, i) for i in range(6)])
        self.assertIn("migrated to a new local address", err)
        self.assertTrue(self.broker.wait_for_log("quic connection migrated to"),
                        self.broker.log_text()[-3000:])


class QuicOnSeveralWorkers(unittest.TestCase):
    """Four workers each bind the QUIC port; the kernel spreads datagrams by address, so after a
    migration a client's packets usually land on another worker's socket and must be handed to
    the worker that owns the connection (by the worker index in our connection IDs)."""

    CLIENTS = 6

    @classmethod
    def setUpClass(cls):
        q.need_quic()
        cls.broker = q.QuicBroker(workers=4)
        cls.broker.start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.__exit__(None, None, None)

    def test_every_migrated_client_keeps_its_session_whichever_socket_it_lands_on(self):
        subs = [q.Subscriber("-L", self.broker.quic_url("spread/#"), "--cafile", self.broker.cert,
                             "-q", "1", "-C", "4", "--quic-migrate-after", "1").start()
                for _ in range(self.CLIENTS)]
        for i in range(4):
            r = q.mqttc("pub", "-L", self.broker.quic_url("spread/%d" % i), "--cafile",
                        self.broker.cert, "-q", "1", "-m", str(i))
            self.assertEqual(r.returncode, 0, r.stderr)
            time.sleep(0.1)
        for sub in subs:
            rc, messages, err = sub.finish()
            self.assertEqual(rc, 0, err)
            self.assertEqual(messages, ["spread/%d %d" % (i, i) for i in range(4)])
        # The server validated every new path, so every client's packets reached its owner.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if self.broker.log_text().count("quic connection migrated to") >= self.CLIENTS:
                break
            time.sleep(0.1)
        self.assertEqual(self.broker.log_text().count("quic connection migrated to"),
                         self.CLIENTS, self.broker.log_text()[-3000:])


if __name__ == "__main__":
    unittest.main()
