"""mqttc over mqtts:// (issue 4): publish and subscribe through mqttd's TLS listener and through
Mosquitto's, mutual TLS with --cert/--key, and the refusal of a server certificate mqttc cannot
verify."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mqtt_harness as h  # noqa: E402
import tls_support as tls  # noqa: E402

MQTTC = os.environ.get("MQTTC_BIN") or os.path.join(h._REPO, "build", "mqttc")


def mqttc(*args, timeout=15):
    return subprocess.run([MQTTC] + [str(a) for a in args], capture_output=True, text=True,
                          timeout=timeout)


class MqttcOverTls:
    """Tests shared by the mqttd and Mosquitto cases; setUpClass sets cls.pki, cls.port (TLS on
    127.0.0.1) and cls.alt_port (TLS on 127.0.0.2)."""

    def url(self, topic, host="127.0.0.1"):
        return "mqtts://%s:%d/%s" % (host, self.port, topic)

    def round_trip(self, topic, extra=()):
        sub = subprocess.Popen([MQTTC, "sub", "-L", self.url(topic), "--cafile", self.pki.ca_crt,
                                "-C", "1", "-W", "10", "-q", "1"] + list(extra),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            # Publish until the subscriber, subscribing concurrently, has its message.
            for _ in range(50):
                r = mqttc("pub", "-L", self.url(topic, "localhost"), "--cafile",
                          self.pki.ca_crt, "-q", "1", "-m", "through tls", *extra)
                self.assertEqual(r.returncode, 0, r.stderr)
                try:
                    out, err = sub.communicate(timeout=0.2)
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
        self.assertEqual(out.strip(), "through tls")

    def test_mqttc_publishes_to_mqttc_subscriber_over_mqtts(self):
        self.round_trip("tls/mqttc")

    def test_server_certificate_from_an_unknown_ca_is_refused(self):
        r = mqttc("pub", "-L", self.url("tls/x"), "--cafile", self.pki.other_ca_crt, "-m", "x")
        self.assertEqual(r.returncode, 1)
        self.assertIn("not trusted", r.stderr)

    def test_insecure_skips_only_the_host_name_check(self):
        # The certificate names localhost and 127.0.0.1, not 127.0.0.2.
        url = "mqtts://127.0.0.2:%d/tls/x" % self.alt_port
        r = mqttc("pub", "-L", url, "--cafile", self.pki.ca_crt, "-m", "x")
        self.assertEqual(r.returncode, 1)
        self.assertIn("not trusted", r.stderr)
        r = mqttc("pub", "-L", url, "--cafile", self.pki.ca_crt, "--insecure", "-m", "x")
        self.assertEqual(r.returncode, 0, r.stderr)


class MqttcAgainstMqttd(MqttcOverTls, unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        tls.need_certtool()
        cls.dir = tempfile.mkdtemp(prefix="mqttd-tls-")
        cls.pki = tls.Pki(cls.dir)
        cls.alice = cls.pki.issue("alice", "alice", serial=31)
        cls.port, cls.mutual_port, cls.alt_port = h.free_port(), h.free_port(), h.free_port()
        cls.broker = h.Broker(
            tls.listener_lines(cls.port, cls.pki) +
            ["listener %d 127.0.0.2" % cls.alt_port, "certfile " + cls.pki.server_crt,
             "keyfile " + cls.pki.server_key] +
            tls.listener_lines(cls.mutual_port, cls.pki, "cafile " + cls.pki.ca_crt,
                               "require_certificate true"))
        cls.broker.start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.__exit__(None, None, None)
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_mutual_tls_with_cert_and_key_connects_and_without_is_refused(self):
        url = "mqtts://127.0.0.1:%d/tls/mutual" % self.mutual_port
        r = mqttc("pub", "-L", url, "--cafile", self.pki.ca_crt, "--cert", self.alice[0],
                  "--key", self.alice[1], "-m", "x")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = mqttc("pub", "-L", url, "--cafile", self.pki.ca_crt, "-m", "x")
        self.assertEqual(r.returncode, 1)


class MqttcAgainstMosquitto(MqttcOverTls, unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        tls.need_certtool()
        if not os.access("/usr/sbin/mosquitto", os.X_OK):
            raise unittest.SkipTest("mosquitto is not installed")
        cls.dir = tempfile.mkdtemp(prefix="mosquitto-tls-")
        cls.pki = tls.Pki(cls.dir)
        cls.port, cls.alt_port = h.free_port(), h.free_port()
        conf = os.path.join(cls.dir, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write("\n".join([
                "per_listener_settings false", "allow_anonymous true", "persistence false",
                "user root", "log_dest stderr",
                "listener %d 127.0.0.1" % cls.port, "cafile " + cls.pki.ca_crt,
                "certfile " + cls.pki.server_crt, "keyfile " + cls.pki.server_key,
                "listener %d 127.0.0.2" % cls.alt_port, "cafile " + cls.pki.ca_crt,
                "certfile " + cls.pki.server_crt, "keyfile " + cls.pki.server_key]) + "\n")
        cls.log = open(os.path.join(cls.dir, "mosquitto.log"), "wb")
        cls.proc = subprocess.Popen(["/usr/sbin/mosquitto", "-c", conf], stdout=cls.log,
                                    stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", cls.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        cls.tearDownClass()
        raise RuntimeError("mosquitto did not start")

    @classmethod
    def tearDownClass(cls):
        if cls.proc.poll() is None:
            os.kill(cls.proc.pid, signal.SIGTERM)
            cls.proc.wait(5)
        cls.log.close()
        shutil.rmtree(cls.dir, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
