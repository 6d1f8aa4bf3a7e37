"""mqttc over ws:// and wss:// (issue 4): publish and subscribe through mqttd's WebSocket
listener, with TLS below it, across transports (a WebSocket subscriber gets what a TCP publisher
sends), a payload spread over many TCP reads, and a clean failure when the port does not speak
WebSocket."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mqtt_harness as h  # noqa: E402
import ws_support as ws  # noqa: E402

MQTTC = os.environ.get("MQTTC_BIN") or os.path.join(h._REPO, "build", "mqttc")


def mqttc(*args, timeout=15):
    return subprocess.run([MQTTC] + [str(a) for a in args], capture_output=True,
                          timeout=timeout)


class MqttcOverWs(unittest.TestCase):

    scheme = "ws"
    tls_args = []

    def url(self, topic):
        return "%s://127.0.0.1:%d/%s" % (self.scheme, self.ws_port, topic)

    def args_for(self, url):
        return self.tls_args if url.startswith("wss://") else []

    @classmethod
    def setUpClass(cls):
        ws.need_mqttd()
        cls.dir = tempfile.mkdtemp(prefix="mqttd-ws-mqttc-")
        cls.ws_port = h.free_port()
        cls.broker = h.Broker(ws.listener_lines(cls.ws_port))
        cls.broker.start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.__exit__(None, None, None)
        shutil.rmtree(cls.dir, ignore_errors=True)

    def round_trip(self, sub_url, pub_url, payload_args):
        """Publishes (QoS 1) until a concurrently started subscriber has one message."""
        sub = subprocess.Popen([MQTTC, "sub", "-L", sub_url, "-C", "1", "-W", "10", "-q", "1",
                                "-N"] + self.args_for(sub_url),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            for _ in range(50):
                r = mqttc("pub", "-L", pub_url, "-q", "1", *payload_args,
                          *self.args_for(pub_url))
                self.assertEqual(r.returncode, 0, r.stderr)
                try:
                    out, err = sub.communicate(timeout=0.3)
                    break
                except subprocess.TimeoutExpired:
                    continue
            else:
                out, err = sub.communicate(timeout=10)
        finally:
            if sub.poll() is None:
                sub.kill()
                sub.wait()
        self.assertEqual(sub.returncode, 0, err)
        return out

    def test_mqttc_publishes_to_mqttc_subscriber(self):
        url = self.url("ws/mqttc")
        self.assertEqual(self.round_trip(url, url, ["-m", "through ws"]), b"through ws")

    def test_tcp_publisher_reaches_websocket_subscriber(self):
        sub_url = self.url("ws/cross")
        pub_url = "mqtt://127.0.0.1:%d/ws/cross" % self.broker.port
        self.assertEqual(self.round_trip(sub_url, pub_url, ["-m", "tcp to ws"]), b"tcp to ws")

    def test_megabyte_payload_arrives_intact_over_ws(self):
        path = os.path.join(self.dir, "big.bin")
        payload = os.urandom(1 << 20)
        with open(path, "wb") as f:
            f.write(payload)
        url = self.url("ws/big")
        self.assertEqual(self.round_trip(url, url, ["-f", path]), payload)

    def test_ws_url_on_a_plain_mqtt_port_fails_with_a_message(self):
        r = mqttc("pub", "-L", "ws://127.0.0.1:%d/ws/x" % self.broker.port, "-m", "x")
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"WebSocket upgrade", r.stderr)


class MqttcOverWss(MqttcOverWs):
    """The same over wss://, with the CA from tls_support."""

    scheme = "wss"

    @classmethod
    def setUpClass(cls):
        ws.need_mqttd()
        try:
            import tls_support as tls
        except ImportError:
            raise unittest.SkipTest("tls_support.py is not available")
        tls.need_certtool()
        cls.dir = tempfile.mkdtemp(prefix="mqttd-wss-mqttc-")
        cls.pki = tls.Pki(cls.dir)
        cls.tls_args = ["--cafile", cls.pki.ca_crt]
        cls.ws_port = h.free_port()
        cls.broker = h.Broker(tls.listener_lines(cls.ws_port, cls.pki, "protocol websockets"))
        cls.broker.start()

    def test_wss_server_certificate_from_an_unknown_ca_is_refused(self):
        r = mqttc("pub", "-L", "wss://127.0.0.1:%d/ws/x" % self.ws_port, "--cafile",
                  self.pki.other_ca_crt, "-m", "x")
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"not trusted", r.stderr)

    def test_ws_url_on_a_plain_mqtt_port_fails_with_a_message(self):
        r = mqttc("pub", "-L", "ws://127.0.0.1:%d/ws/x" % self.ws_port, "-m", "x")
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"WebSocket upgrade", r.stderr)


if __name__ == "__main__":
    unittest.main()
