"""`mqttc bench` against mqttd: each scenario runs briefly and its --json report has every field
bench/compare.py reads. No timed assertions: only that messages flowed, that QoS 1 and 2 lost
nothing (the generator checks it and says so), and that the probes of the broker worked."""

import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

from mqtt_harness import BrokerTestCase, main  # noqa: E402

MQTTC = os.environ.get("MQTTC_BIN") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "mqttc")

TRAFFIC_FIELDS = ["scenario", "protocol", "qos", "payload_bytes", "publishers", "subscribers",
                  "tcp_nodelay", "window_s", "sent", "offered_per_s", "deliveries",
                  "delivered_per_s", "expected", "lost", "loss_pct", "latency_p50_us",
                  "latency_p90_us", "latency_p99_us", "latency_max_us", "broker_cpu_s",
                  "broker_cpu_s_per_million", "broker_rss_kb", "gen_cpu_s", "gen_cpu_pct"]


@unittest.skipIf(os.environ.get("MQTTD_TEST_BROKER") == "mosquitto", "drives mqttd by PID")
class Bench(BrokerTestCase):

    def bench(self, *args):
        cmd = [MQTTC, "bench"] + list(args) + ["-p", str(self.broker.port), "--json",
                                               "--pid", str(self.broker.pid)]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, "%s\nstdout: %s\nstderr: %s" % (cmd, r.stdout, r.stderr))
        return json.loads(r.stdout)

    def check_traffic(self, report):
        for field in TRAFFIC_FIELDS:
            self.assertIn(field, report)
        self.assertTrue(report["tcp_nodelay"])
        self.assertGreater(report["sent"], 0)
        self.assertGreater(report["deliveries"], 0)
        self.assertGreater(report["broker_rss_kb"], 0)
        self.assertGreaterEqual(report["broker_cpu_s"], 0)
        self.assertGreaterEqual(report["latency_p99_us"], report["latency_p50_us"])
        self.assertGreaterEqual(report["latency_max_us"], report["latency_p99_us"])

    def test_fanin_qos1_delivers_everything_it_sent(self):
        r = self.bench("fanin", "-q", "1", "-d", "2", "-w", "0.5", "-r", "5000")
        self.check_traffic(r)
        self.assertEqual((r["scenario"], r["qos"], r["publishers"], r["subscribers"]),
                         ("fanin", 1, 10, 1))
        self.assertEqual(r["lost"], 0)
        self.assertTrue(r["loss_ok"])
        self.assertEqual(r["expected"], r["sent"])

    def test_p2p_qos2_delivers_everything_it_sent(self):
        r = self.bench("p2p", "-q", "2", "-P", "5", "-d", "2", "-w", "0.5", "-r", "5000")
        self.check_traffic(r)
        self.assertEqual(r["lost"], 0)
        self.assertTrue(r["loss_ok"])
        self.assertEqual(r["unacked"], 0)

    def test_fanout_mqtt311_counts_each_subscriber(self):
        r = self.bench("fanout", "-S", "5", "-V", "4", "-d", "1", "-w", "0.5", "-r", "200")
        self.check_traffic(r)
        self.assertEqual(r["protocol"], 4)
        self.assertEqual(r["expected"], 5 * r["sent"])

    def test_conn_opens_and_holds_connections(self):
        r = self.bench("conn", "-c", "200", "--hold", "1")
        for field in ["connections", "connected", "connect_rate_per_s", "broker_rss_before_kb",
                      "broker_rss_kb", "rss_per_conn_bytes", "gen_cpu_s", "tcp_nodelay"]:
            self.assertIn(field, r)
        self.assertEqual((r["connected"], r["failed"], r["lost_during_hold"]), (200, 0, 0))
        self.assertGreater(r["connect_rate_per_s"], 0)

    def test_url_option_selects_the_broker(self):
        cmd = [MQTTC, "bench", "p2p", "-P", "2", "-d", "0.5", "-w", "0.2", "-r", "200", "--json",
               "-L", "mqtt://127.0.0.1:%d/ignored" % self.broker.port]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertGreater(json.loads(r.stdout)["deliveries"], 0)

    def test_unknown_scenario_is_refused(self):
        r = subprocess.run([MQTTC, "bench", "nonsense"], capture_output=True, text=True,
                           timeout=10)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("scenario", r.stderr)


if __name__ == "__main__":
    main()
