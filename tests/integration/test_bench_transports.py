"""`mqttc bench` over every transport (issue 4): QoS 1 point-to-point and fan-out runs through
mqttd's mqtts://, ws://, wss:// and quic:// listeners lose nothing, and `bench conn` completes
its TLS handshakes, with and without session resumption. A few seconds per transport."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mqtt_harness as h  # noqa: E402
import quic_support as quic  # noqa: E402

MQTTC = os.environ.get("MQTTC_BIN") or os.path.join(h._REPO, "build", "mqttc")
TIMING = ["-d", "1", "-w", "0.3", "--drain", "3"]


class BenchOverEveryTransport(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        quic.need_quic()
        cls.dir = tempfile.mkdtemp(prefix="mqttd-bench-transports-")
        cls.cert, cls.key = quic.make_cert(cls.dir)
        cls.ports = {"mqtts": h.free_port(), "ws": h.free_port(), "wss": h.free_port(),
                     "quic": quic.free_udp_port()}
        tls = ["certfile " + cls.cert, "keyfile " + cls.key]
        lines = (["listener %d 127.0.0.1" % cls.ports["mqtts"]] + tls +
                 ["listener %d 127.0.0.1" % cls.ports["ws"], "protocol websockets"] +
                 ["listener %d 127.0.0.1" % cls.ports["wss"], "protocol websockets"] + tls +
                 ["listener %d 127.0.0.1" % cls.ports["quic"], "protocol quic"] + tls)
        cls.broker = h.Broker(lines)
        cls.ports["mqtt"] = cls.broker.port
        try:
            cls.broker.start()
        except Exception:
            shutil.rmtree(cls.dir, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.broker.__exit__(None, None, None)
        shutil.rmtree(cls.dir, ignore_errors=True)

    def bench(self, scheme, *args):
        host = "127.0.0.1" if scheme in ("mqtt", "ws") else "localhost"
        url = "%s://%s:%d" % (scheme, host, self.ports[scheme])
        cmd = [MQTTC, "bench"] + [str(a) for a in args] + [
            "-L", url, "--cafile", self.cert, "--pid", str(self.broker.proc.pid), "--json"]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
        self.assertTrue(lines, "no report from %s: %s" % (" ".join(cmd), r.stderr))
        report = json.loads(lines[-1])
        self.assertEqual(report["transport"], scheme)
        return r.returncode, report, r.stderr

    def assert_qos1_lossless(self, scheme, scenario, *args):
        rc, r, err = self.bench(scheme, scenario, "-q", "1", *(list(args) + TIMING))
        self.assertEqual(rc, 0, err)
        self.assertGreater(r["expected"], 0)
        self.assertEqual(r["lost"], 0, r)
        self.assertEqual(r["unacked"], 0, r)
        self.assertEqual(r["disconnects"], 0, r)
        self.assertTrue(r["loss_ok"])
        self.assertGreater(r["delivered_per_s"], 0)
        self.assertIsNotNone(r["latency_p99_us"])

    def test_p2p_qos1_loses_nothing_over_every_transport(self):
        for scheme in ("mqtt", "mqtts", "ws", "wss", "quic"):
            with self.subTest(scheme=scheme):
                self.assert_qos1_lossless(scheme, "p2p", "-P", "4", "-r", "2000")

    def test_fanout_qos1_loses_nothing_over_tls_and_websocket_frames(self):
        # Many deliveries per read: TLS records and WebSocket frames carry several packets.
        for scheme in ("mqtts", "wss"):
            with self.subTest(scheme=scheme):
                self.assert_qos1_lossless(scheme, "fanout", "-P", "1", "-S", "20", "-r", "500",
                                          "-s", "1000")

    def test_fanin_qos1_with_large_payloads_loses_nothing_over_websocket(self):
        # 20 kB messages: frames split packets and one read holds several frames.
        self.assert_qos1_lossless("ws", "fanin", "-P", "5", "-S", "1", "-r", "2000", "-s",
                                  "20000")

    def test_conn_completes_every_tls_handshake(self):
        rc, r, err = self.bench("mqtts", "conn", "-c", "60", "--hold", "0")
        self.assertEqual(rc, 0, err)
        self.assertEqual(r["connected"], 60)
        self.assertEqual(r["tls_resumed"], 0)
        self.assertGreater(r["connect_rate_per_s"], 0)

    def test_conn_with_tls_resume_resumes_the_later_sessions(self):
        # The first connection runs alone; the 59 others, set up concurrently, all resume.
        rc, r, err = self.bench("mqtts", "conn", "-c", "60", "--hold", "0", "--tls-resume")
        self.assertEqual(rc, 0, err)
        self.assertEqual(r["connected"], 60)
        self.assertEqual(r["tls_resumed"], 59)

    def test_conn_over_websocket_and_quic_holds_its_connections(self):
        for scheme in ("ws", "wss", "quic"):
            with self.subTest(scheme=scheme):
                rc, r, err = self.bench(scheme, "conn", "-c", "30", "--hold", "1")
                self.assertEqual(rc, 0, err)
                self.assertEqual(r["connected"], 30)
                self.assertEqual(r["lost_during_hold"], 0)

    def test_quic_ticket_file_makes_later_connections_send_connect_in_0rtt(self):
        ticket = os.path.join(self.dir, "quic.ticket")
        rc, r, err = self.bench("quic", "conn", "-c", "1", "--hold", "0", "--quic-ticket",
                                ticket)
        self.assertEqual(rc, 0, err)
        self.assertEqual(r["quic_0rtt"], 0)  # no ticket yet: a full handshake
        self.assertTrue(os.path.getsize(ticket) > 0)
        rc, r, err = self.bench("quic", "conn", "-c", "10", "--hold", "0", "--quic-ticket",
                                ticket)
        self.assertEqual(rc, 0, err)
        self.assertEqual(r["connected"], 10)
        self.assertEqual(r["quic_0rtt"], 10)

    def test_qos1_over_quic_loses_nothing_after_0rtt(self):
        ticket = os.path.join(self.dir, "quic-p2p.ticket")
        self.bench("quic", "conn", "-c", "1", "--hold", "0", "--quic-ticket", ticket)
        self.assert_qos1_lossless("quic", "p2p", "-P", "4", "-r", "2000", "--quic-ticket",
                                  ticket)

    def test_untrusted_server_certificate_fails_the_handshakes(self):
        other_dir = os.path.join(self.dir, "other")
        os.makedirs(other_dir, exist_ok=True)
        other_cert, _ = quic.make_cert(other_dir)
        url = "mqtts://localhost:%d" % self.ports["mqtts"]
        r = subprocess.run([MQTTC, "bench", "conn", "-c", "3", "--hold", "0", "-L", url,
                            "--cafile", other_cert], capture_output=True, text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("not trusted", r.stderr)


if __name__ == "__main__":
    unittest.main()
