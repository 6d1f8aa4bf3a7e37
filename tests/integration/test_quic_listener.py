"""The QUIC listener seen by clients we did not write: ngtcp2's own example client (Debian
ngtcp2-client, gtlsclient) runs a QUIC handshake against mqttd. It offers only ALPN h3, so mqttd
must carry the handshake through the QUIC Initial and Handshake packets and then refuse it in
TLS with no_application_protocol (alert 120, CONNECTION_CLOSE with CRYPTO_ERROR 0x178), the
outcome the ALPN "mqtt" rule asks for; mqttd logs the refusal and keeps serving MQTT clients.
With quic_retry, every new connection first gets a Retry and must come back with its token
(mqttc and gtlsclient both do). A client that goes silent is dropped after 1.5 x its keep alive
and its will is published. Also: a QUIC listener without a certificate is a start-up error."""

import os
import shutil
import signal
import subprocess
import tempfile
import unittest

import mqtt_harness as h
import quic_support as q

GTLSCLIENT = shutil.which("gtlsclient")


class IndependentClient(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        q.need_quic()
        if not GTLSCLIENT:
            raise unittest.SkipTest("gtlsclient (Debian ngtcp2-client) is not installed")
        cls.broker = q.QuicBroker()
        cls.broker.start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.__exit__(None, None, None)

    def test_client_without_alpn_mqtt_is_refused_with_no_application_protocol(self):
        r = subprocess.run([GTLSCLIENT, "--exit-on-all-streams-close", "--timeout=3s",
                            "127.0.0.1", str(self.broker.quic_port), "https://localhost/"],
                           capture_output=True, text=True, timeout=20)
        out = r.stdout + r.stderr
        # The client saw our Initial packets and the TLS alert in a CONNECTION_CLOSE frame.
        self.assertIn("CONNECTION_CLOSE(0x1c) error_code=CRYPTO_ERROR(0x178)", out)
        self.assertTrue(self.broker.wait_for_log("quic handshake failed: TLS alert No "
                                                     "supported application protocol"),
                        self.broker.log_text()[-2000:])
        r = q.mqttc("pub", "-L", self.broker.quic_url("after/gtls"), "--cafile",
                    self.broker.cert, "-m", "still serving")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("falling back", r.stderr)


class AddressValidation(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        q.need_quic()
        cls.broker = q.QuicBroker(["quic_retry true", "log_level info"])
        cls.broker.start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.__exit__(None, None, None)

    def test_mqttc_answers_the_retry_and_its_message_arrives(self):
        sub = q.Subscriber("-L", self.broker.tcp_url("retry/t"), "-C", "1").start()
        r = q.mqttc("pub", "-L", self.broker.quic_url("retry/t"), "--cafile", self.broker.cert,
                    "-q", "1", "-m", "validated")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("falling back", r.stderr)
        rc, messages, err = sub.finish()
        self.assertEqual(messages, ["retry/t validated"])
        self.assertIn("quic: Retry sent (address validation)", self.broker.log_text())

    def test_independent_client_follows_the_retry_with_its_token(self):
        if not GTLSCLIENT:
            self.skipTest("gtlsclient (Debian ngtcp2-client) is not installed")
        r = subprocess.run([GTLSCLIENT, "--exit-on-all-streams-close", "--timeout=3s",
                            "127.0.0.1", str(self.broker.quic_port), "https://localhost/"],
                           capture_output=True, text=True, timeout=20)
        out = r.stdout + r.stderr
        self.assertIn("type=Retry", out)
        # Back with a valid token, it reaches TLS and is refused there (ALPN h3, not mqtt).
        self.assertIn("CONNECTION_CLOSE(0x1c) error_code=CRYPTO_ERROR(0x178)", out)


class SilentClient(unittest.TestCase):
    def setUp(self):
        q.need_quic()
        self.broker = q.QuicBroker()
        self.broker.start()

    def tearDown(self):
        self.broker.__exit__(None, None, None)

    def test_silent_client_is_dropped_after_its_keep_alive_and_its_will_published(self):
        watcher = q.Subscriber("-L", self.broker.tcp_url("idle/will"), "-C", "1").start()
        silent = q.Subscriber("-L", self.broker.quic_url("idle/other"), "--cafile",
                              self.broker.cert, "-k", "1", "--will-topic", "idle/will",
                              "--will-payload", "gone quiet").start()
        os.kill(silent.proc.pid, signal.SIGSTOP)
        try:
            rc, messages, err = watcher.finish(timeout=10)
        finally:
            os.kill(silent.proc.pid, signal.SIGKILL)
            os.kill(silent.proc.pid, signal.SIGCONT)
            silent.proc.communicate()
        self.assertEqual(messages, ["idle/will gone quiet"], err)


class ListenerConfig(unittest.TestCase):
    def setUp(self):
        q.need_quic()
        self.dir = tempfile.mkdtemp(prefix="mqttd-quic-config-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def run_mqttd(self, *lines):
        conf = os.path.join(self.dir, "mqttd.conf")
        with open(conf, "w") as f:
            f.write("\n".join(("persistence false",) + lines) + "\n")
        binary = os.environ.get("MQTTD_BIN") or os.path.join(h._REPO, "build", "mqttd")
        return subprocess.run([binary, "-c", conf], capture_output=True, text=True, timeout=10)

    def test_quic_listener_without_certfile_is_a_start_up_error(self):
        r = self.run_mqttd("listener %d 127.0.0.1" % q.free_udp_port(), "protocol quic")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("a quic listener needs certfile and keyfile", r.stderr)

    def test_quic_listener_with_an_unreadable_certificate_names_the_file(self):
        missing = os.path.join(self.dir, "missing.crt")
        r = self.run_mqttd("listener %d 127.0.0.1" % q.free_udp_port(), "protocol quic",
                           "certfile " + missing, "keyfile " + missing)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(missing, r.stderr)


if __name__ == "__main__":
    unittest.main()
