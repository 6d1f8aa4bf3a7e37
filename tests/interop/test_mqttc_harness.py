"""Shared pieces of the mqttc tests, and the tests of the command line that need no broker.

The other test_mqttc_*.py files import this module. It provides:
  - Broker: mqttd ($MQTTD_BIN --listen mqtt://127.0.0.1:PORT) or, with
    MQTTD_TEST_BROKER=mosquitto, Debian's mosquitto with a temporary config, on a free loopback
    port, stopped by PID;
  - run_mqttc(): one mqttc run to completion;
  - Subscriber: `mqttc sub -d ...` in the background, ready once its SUBACK has arrived, with the
    debug lines separated from the printed messages;
  - MqttcTestCase: one broker per test class and a unique topic per test.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
MQTTC = os.environ.get("MQTTC_BIN") or os.path.join(REPO, "build", "mqttc")
MQTTD = os.environ.get("MQTTD_BIN") or os.path.join(REPO, "build", "mqttd")
BROKER_KIND = os.environ.get("MQTTD_TEST_BROKER", "mqttd")
IS_MOSQUITTO = BROKER_KIND == "mosquitto"
MOSQUITTO = "/usr/sbin/mosquitto"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """A broker on 127.0.0.1:<free port>. `config` holds extra mosquitto-style lines, which both
    brokers understand (mqttd reads mosquitto's keys)."""

    def __init__(self, config=()):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="mqttc-test-")
        self.conf = os.path.join(self.dir, "broker.conf")
        self.log = os.path.join(self.dir, "broker.log")
        self.proc = None
        # Brokers run side by side: none keeps state in a shared file.
        lines = ["persistence false"] + list(config)
        if IS_MOSQUITTO:
            lines = ["listener %d 127.0.0.1" % self.port] + lines
            if not any(l.startswith("allow_anonymous") for l in lines):
                lines.append("allow_anonymous true")
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def command(self):
        if IS_MOSQUITTO:
            return [MOSQUITTO, "-c", self.conf]
        if not os.access(MQTTD, os.X_OK):
            raise unittest.SkipTest("no mqttd at %s (set MQTTD_BIN or MQTTD_TEST_BROKER=mosquitto)"
                                    % MQTTD)
        return [MQTTD, "--listen", "mqtt://127.0.0.1:%d" % self.port, "-c", self.conf]

    def start(self):
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("broker exited during start-up:\n" + self.log_text())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("broker did not listen on port %d:\n%s" % (self.port, self.log_text()))

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""


def run_mqttc(*args, stdin=None, timeout=20):
    """Runs mqttc to the end; returns the CompletedProcess (text mode)."""
    return subprocess.run([MQTTC] + [str(a) for a in args], input=stdin, capture_output=True,
                          text=True, timeout=timeout)


class Subscriber:
    """`mqttc sub -d ARGS` in the background. start() returns once the SUBACK has been printed,
    so a publish made afterwards is certain to be routed to it."""

    def __init__(self, *args, command=None):
        self.args = [str(a) for a in args]
        self.command = command or [MQTTC, "sub", "-d"]
        self.proc = None
        self.debug = []
        self.messages = []
        self.subscribed = threading.Event()

    def _read(self):
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            if line.startswith("Client ") or line.startswith("Subscribed (mid"):
                self.debug.append(line)
                if line.startswith("Subscribed (mid") or "received SUBACK" in line:
                    self.subscribed.set()
            else:
                self.messages.append(line)

    def start(self, wait_subscribed=True):
        self.proc = subprocess.Popen(self.command + self.args, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        if wait_subscribed and not self.subscribed.wait(10):
            self.kill()
            raise AssertionError("subscriber got no SUBACK: %s %s" % (self.debug,
                                                                       self.proc.stderr.read()))
        return self

    def wait(self, timeout=15):
        """Waits for the process to exit; returns (exit status, messages, stderr)."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        self.reader.join(5)
        return rc, self.messages, self.proc.stderr.read()

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            self.proc.wait(5)


class MqttcTestCase(unittest.TestCase):
    """One broker per class (`broker_config` lines), a unique topic per test."""

    broker_config = ()

    @classmethod
    def setUpClass(cls):
        if not os.access(MQTTC, os.X_OK):
            raise unittest.SkipTest("no mqttc at %s (set MQTTC_BIN)" % MQTTC)
        cls.broker = Broker(cls.broker_config).start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()

    def topic(self, suffix=""):
        return "mqttc-test/%s/%s%s" % (type(self).__name__, self._testMethodName, suffix)

    def pub(self, *args, **kw):
        r = run_mqttc("pub", "-p", self.broker.port, *args, **kw)
        self.assertEqual(r.returncode, 0, "mqttc pub %s failed: %s" % (args, r.stderr))
        return r

    def sub(self, *args):
        return Subscriber("-p", self.broker.port, *args).start()


class CommandLineTest(unittest.TestCase):
    """What mqttc says before it ever connects."""

    def setUp(self):
        if not os.access(MQTTC, os.X_OK):
            self.skipTest("no mqttc at %s (set MQTTC_BIN)" % MQTTC)

    def test_help_says_the_default_protocol_is_v5(self):
        for cmd in ("pub", "sub"):
            r = run_mqttc(cmd, "--help")
            self.assertEqual(r.returncode, 0)
            self.assertIn("mqttv5 (5, the default", r.stdout)
            self.assertIn("-D COMMAND PROPERTY VALUE", r.stdout)

    def test_version_prints_the_project_version(self):
        r = run_mqttc("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^mqttc \d+\.\d+\.\d+")

    def test_url_with_an_unknown_scheme_is_refused_by_name(self):
        r = run_mqttc("pub", "-L", "http://127.0.0.1/t", "-m", "x")
        self.assertEqual(r.returncode, 1)
        self.assertIn('Unknown URL scheme "http"', r.stderr)

    def test_pub_without_a_message_is_a_usage_error(self):
        r = run_mqttc("pub", "-t", "a")
        self.assertEqual(r.returncode, 1)
        self.assertIn("Both topic and message must be supplied", r.stderr)

    def test_publish_topic_with_wildcard_is_refused(self):
        r = run_mqttc("pub", "-t", "a/+", "-m", "x")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no wildcards", r.stderr)

    def test_invalid_subscription_filters_are_refused_before_connecting(self):
        for bad in ("a/#/b", "a+", "a/b#", ""):
            r = run_mqttc("sub", "-t", bad)
            self.assertEqual(r.returncode, 1, bad)  # [MQTT-4.7.1-1] [MQTT-4.7.1-2]
            self.assertIn('Invalid topic filter "%s"' % bad, r.stderr)

    def test_property_not_allowed_in_that_packet_is_refused(self):
        r = run_mqttc("pub", "-t", "a", "-m", "x", "-D", "publish", "session-expiry-interval", "5")
        self.assertEqual(r.returncode, 1)
        self.assertIn('Property "session-expiry-interval" is not allowed for publish', r.stderr)

    def test_properties_with_an_older_protocol_level_are_refused(self):
        r = run_mqttc("pub", "-V", "311", "-t", "a", "-m", "x",
                      "-D", "publish", "content-type", "text/plain")
        self.assertEqual(r.returncode, 1)
        self.assertIn("-D properties need MQTT v5", r.stderr)

    def test_unknown_property_is_refused(self):
        r = run_mqttc("pub", "-t", "a", "-m", "x", "-D", "publish", "colour", "red")
        self.assertEqual(r.returncode, 1)
        self.assertIn('Invalid property "colour"', r.stderr)

    def test_persistent_session_needs_a_client_id(self):
        r = run_mqttc("sub", "-t", "a", "-c")
        self.assertEqual(r.returncode, 1)
        self.assertIn("client id", r.stderr)

    def test_unreachable_broker_is_reported(self):
        r = run_mqttc("pub", "-p", free_port(), "-h", "127.0.0.1", "-t", "a", "-m", "x")
        self.assertEqual(r.returncode, 1)
        self.assertIn("Unable to connect to 127.0.0.1", r.stderr)


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    unittest.main(verbosity=2)
