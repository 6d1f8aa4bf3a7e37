"""TLS listeners (issue 4): real clients nobody here wrote (mosquitto_pub/sub, paho, Python's
ssl) against mqttd's GnuTLS layer, with a CA the test generates: server authentication, mutual
TLS accepted and refused, expired certificates, the certificate's CN as username, plain MQTT on
the TLS port, TLS 1.2-only and 1.3-only listeners, ticket resumption, and certificate reload on
SIGHUP without dropping connections."""

import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mqtt_harness as h  # noqa: E402
import tls_support as tls  # noqa: E402


class TlsBrokerCase(unittest.TestCase):
    """A broker with the TLS listeners from tls_lines(pki, port) (ports in cls.ports)."""

    port_count = 1

    @classmethod
    def tls_lines(cls, pki, ports):
        return tls.listener_lines(ports[0], pki)

    @classmethod
    def setUpClass(cls):
        tls.need_certtool()
        cls.dir = tempfile.mkdtemp(prefix="mqttd-tls-")
        cls.pki = tls.Pki(cls.dir)
        cls.ports = [h.free_port() for _ in range(cls.port_count)]
        cls.port = cls.ports[0]
        cls.broker = h.Broker(cls.tls_lines(cls.pki, cls.ports))
        try:
            cls.broker.start()
        except Exception:
            shutil.rmtree(cls.dir, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.broker.__exit__(None, None, None)
        shutil.rmtree(cls.dir, ignore_errors=True)

    def setUp(self):
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close()
        if self.broker.proc is None or self.broker.proc.poll() is not None:
            raise AssertionError("broker died:\n" + self.broker.log_text()[-4000:])

    def tls_client(self, ctx=None, port=None, **kw):
        c = tls.TlsClient(port or self.port, ctx or tls.client_context(self.pki), **kw)
        self.clients.append(c)
        return c

    def connected(self, client_id, ctx=None, port=None, **kw):
        c = self.tls_client(ctx, port, **kw)
        self.assertEqual(c.connect(client_id).reason_code, 0)
        return c


class ServerAuthentication(TlsBrokerCase):

    def test_mosquitto_sub_receives_what_mosquitto_pub_sends_over_tls(self):
        common = ["-h", "127.0.0.1", "-p", str(self.port), "--cafile", self.pki.ca_crt,
                  "-t", "tls/mosquitto"]
        sub = subprocess.Popen(["mosquitto_sub", "-C", "1", "-W", "10", "-q", "1"] + common,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            # Publish until the subscriber (subscribing concurrently) has one message.
            for _ in range(50):
                pub = subprocess.run(["mosquitto_pub", "-q", "1", "-m", "over tls"] + common,
                                     capture_output=True, timeout=10)
                self.assertEqual(pub.returncode, 0, pub.stderr)
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
        self.assertEqual(out.strip(), b"over tls", err)

    def test_paho_publishes_and_receives_over_tls(self):
        import paho.mqtt.client as paho
        got = threading.Event()
        received = []
        subscribed = threading.Event()
        c = paho.Client(client_id="paho-tls", protocol=paho.MQTTv311)
        c.tls_set(ca_certs=self.pki.ca_crt)
        c.on_connect = lambda cl, u, f, rc: cl.subscribe("tls/paho", 1)
        c.on_subscribe = lambda *a: subscribed.set()

        def on_message(cl, u, msg):
            received.append(msg.payload)
            got.set()
        c.on_message = on_message
        c.connect("127.0.0.1", self.port, keepalive=30)
        c.loop_start()
        try:
            self.assertTrue(subscribed.wait(5))
            c.publish("tls/paho", b"hello paho", qos=1)
            self.assertTrue(got.wait(5))
        finally:
            c.disconnect()
            c.loop_stop()
        self.assertEqual(received, [b"hello paho"])

    def test_plain_mqtt_on_the_tls_port_is_logged_and_closed_while_tls_clients_go_on(self):
        good = self.connected("tls-survivor")
        plain = h.Client(self.port)
        plain.send(h.connect("plain-on-tls"))
        plain.assert_closed(5)
        plain.close()
        self.assertTrue(self.broker.wait_for_log("tls: handshake failed"),
                        self.broker.log_text())
        self.assertRegex(self.broker.log_text(), r"notice: 127\.0\.0\.1:\d+: tls: handshake")
        good.ping()
        self.assertEqual(good.subscribe("tls/survivor", qos=1).reason_codes, [1])
        good.publish("tls/survivor", b"still here", qos=1)
        self.assertEqual(good.recv_publish().payload, b"still here")

    def resumed(self, version):
        ctx = tls.client_context(self.pki, version=version)
        first = self.connected("resume-" + str(version), ctx)
        first.ping()  # TLS 1.3 tickets arrive after the handshake, with the first records
        session = first.sock.session
        self.assertIsNotNone(session)
        first.disconnect()
        again = self.tls_client(ctx, session=session)
        self.assertEqual(again.connect("resume-again").reason_code, 0)
        return again.sock.session_reused

    def test_tls13_session_resumes_with_a_ticket(self):
        self.assertTrue(self.resumed(ssl.TLSVersion.TLSv1_3))

    def test_tls12_session_resumes_with_a_ticket(self):
        self.assertTrue(self.resumed(ssl.TLSVersion.TLSv1_2))


class MutualTls(TlsBrokerCase):

    @classmethod
    def tls_lines(cls, pki, ports):
        cls.alice = pki.issue("alice", "alice", serial=11)
        cls.expired = pki.issue("expired", "old", serial=12, expired=True)
        cls.stranger = pki.issue("stranger", "mallory", serial=13, other_ca=True)
        return tls.listener_lines(ports[0], pki, "cafile " + pki.ca_crt,
                                  "require_certificate true")

    def test_client_certificate_from_our_ca_is_accepted(self):
        c = self.connected("alice", tls.client_context(self.pki, self.alice))
        c.ping()

    def test_client_without_certificate_is_refused_and_logged(self):
        self.assertTrue(tls.handshake_refused(self.port, tls.client_context(self.pki)))
        self.assertTrue(self.broker.wait_for_log("certificate"), self.broker.log_text())

    def test_certificate_from_another_ca_is_refused(self):
        ctx = tls.client_context(self.pki, self.stranger)
        self.assertTrue(tls.handshake_refused(self.port, ctx))
        self.assertTrue(self.broker.wait_for_log("client certificate refused"),
                        self.broker.log_text())

    def test_expired_client_certificate_is_refused_and_logged_with_the_peer(self):
        ctx = tls.client_context(self.pki, self.expired)
        self.assertTrue(tls.handshake_refused(self.port, ctx))
        self.assertTrue(self.broker.wait_for_log("expired"), self.broker.log_text())
        self.assertRegex(self.broker.log_text(), r"127\.0\.0\.1:\d+: tls: client certificate "
                                                 r"refused: .*expired")

    def test_mosquitto_pub_with_client_certificate_is_accepted(self):
        pub = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.port),
                              "--cafile", self.pki.ca_crt, "--cert", self.alice[0],
                              "--key", self.alice[1], "-t", "tls/mutual", "-m", "x"],
                             capture_output=True, timeout=10)
        self.assertEqual(pub.returncode, 0, pub.stderr)


class IdentityAsUsername(TlsBrokerCase):
    """allow_anonymous false: only the certificate's name lets a client in."""

    port_count = 2

    @classmethod
    def tls_lines(cls, pki, ports):
        cls.alice = pki.issue("alice", "alice", serial=21)
        return (["allow_anonymous false"] +
                tls.listener_lines(ports[0], pki, "cafile " + pki.ca_crt,
                                   "require_certificate true", "use_identity_as_username true") +
                tls.listener_lines(ports[1], pki, "cafile " + pki.ca_crt,
                                   "use_identity_as_username true"))

    def test_client_with_certificate_connects_although_anonymous_is_refused(self):
        c = self.connected("alice-id", tls.client_context(self.pki, self.alice))
        c.ping()

    def test_client_without_certificate_is_not_authorized(self):
        c = self.tls_client(port=self.ports[1])
        self.assertEqual(c.connect("no-cert").reason_code, 0x87)

    def test_certificate_is_also_accepted_where_it_is_optional(self):
        self.connected("alice-opt", tls.client_context(self.pki, self.alice), port=self.ports[1])


class PinnedVersions(TlsBrokerCase):
    """tls_version is the lowest version (as in Mosquitto 2); a priority string narrows more."""

    port_count = 3

    @classmethod
    def tls_lines(cls, pki, ports):
        return (tls.listener_lines(ports[0], pki, "ciphers NORMAL:-VERS-TLS1.3") +
                tls.listener_lines(ports[1], pki, "tls_version tlsv1.3") +
                tls.listener_lines(ports[2], pki, "tls_version tlsv1.2"))

    def test_tls12_minimum_accepts_tls12_and_tls13(self):
        for version, name in ((ssl.TLSVersion.TLSv1_2, "TLSv1.2"),
                              (ssl.TLSVersion.TLSv1_3, "TLSv1.3")):
            c = self.connected("min12-" + name, tls.client_context(self.pki, version=version),
                               port=self.ports[2])
            self.assertEqual(c.sock.version(), name)

    def test_tls12_only_listener_speaks_tls12_and_refuses_tls13(self):
        c = self.connected("v12", port=self.ports[0])
        self.assertEqual(c.sock.version(), "TLSv1.2")
        ctx13 = tls.client_context(self.pki, version=ssl.TLSVersion.TLSv1_3)
        self.assertTrue(tls.handshake_refused(self.ports[0], ctx13))

    def test_tls13_only_listener_speaks_tls13_and_refuses_tls12(self):
        c = self.connected("v13", port=self.ports[1])
        self.assertEqual(c.sock.version(), "TLSv1.3")
        ctx12 = tls.client_context(self.pki, version=ssl.TLSVersion.TLSv1_2)
        self.assertTrue(tls.handshake_refused(self.ports[1], ctx12))


class ReloadOnSighup(TlsBrokerCase):

    def serial_seen(self):
        c = self.connected("serial-check")
        serial = int(c.sock.getpeercert()["serialNumber"], 16)
        c.disconnect()
        return serial

    def test_sighup_loads_the_new_certificate_and_keeps_open_connections(self):
        old = self.connected("before-reload")
        self.assertEqual(old.subscribe("tls/reload", qos=1).reason_codes, [1])
        self.assertEqual(self.serial_seen(), 1001)
        crt, key = self.pki.issue("server-new", "localhost", serial=2002, server=True)
        shutil.copyfile(crt, self.pki.server_crt)
        shutil.copyfile(key, self.pki.server_key)
        os.kill(self.broker.pid, signal.SIGHUP)
        self.assertTrue(self.broker.wait_for_log("certificates reloaded"),
                        self.broker.log_text())
        self.assertEqual(self.serial_seen(), 2002)
        new = self.connected("after-reload")
        new.publish("tls/reload", b"across the reload", qos=1)
        self.assertEqual(old.recv_publish().payload, b"across the reload")

    def test_a_broken_certificate_file_keeps_the_old_credentials(self):
        with open(self.pki.server_crt, "rb") as f:
            good = f.read()
        before = self.serial_seen()
        try:
            with open(self.pki.server_crt, "wb") as f:
                f.write(b"not a certificate\n")
            os.kill(self.broker.pid, signal.SIGHUP)
            self.assertTrue(self.broker.wait_for_log("keeping the old certificates"),
                            self.broker.log_text())
            self.assertEqual(self.serial_seen(), before)
        finally:
            with open(self.pki.server_crt, "wb") as f:
                f.write(good)


class ConfigurationErrors(unittest.TestCase):

    def start_fails(self, lines):
        tls.need_certtool()
        d = tempfile.mkdtemp(prefix="mqttd-tls-")
        try:
            pki = tls.Pki(d)
            conf = os.path.join(d, "bad.conf")
            with open(conf, "w") as f:
                f.write("\n".join(["persistence false"] + tls.listener_lines(h.free_port(), pki,
                                                                             *lines)) + "\n")
            binary = os.environ.get("MQTTD_BIN") or os.path.join(h._REPO, "build", "mqttd")
            r = subprocess.run([binary, "-c", conf], capture_output=True, timeout=10)
            self.assertNotEqual(r.returncode, 0)
            return r.stderr.decode()
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_a_bad_priority_string_in_ciphers_stops_start_up(self):
        self.assertIn("ciphers", self.start_fails(["ciphers NOT-A-PRIORITY"]))

    def test_require_certificate_without_a_ca_stops_start_up(self):
        self.assertIn("cafile", self.start_fails(["require_certificate true"]))


if __name__ == "__main__":
    unittest.main(verbosity=2)
