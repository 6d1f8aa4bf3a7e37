"""The embedding example examples/hello_broker.c, run as a real broker and driven with Paho
(python3-paho-mqtt 1.6): each of its handlers has the effect docs/EMBEDDING.md describes."""

import os
import queue
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import paho.mqtt.client as paho

from mqtt_harness import free_port

BUILD = os.environ.get("MQTTD_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
EXAMPLE = os.path.join(BUILD, "example_hello_broker")


class HelloBroker:
    """example_hello_broker on a free port of 127.0.0.1, its output in files (no pipe to fill)."""

    def __init__(self):
        self.dir = tempfile.TemporaryDirectory(prefix="mqttd-hello-")
        self.out_path = os.path.join(self.dir.name, "stdout")
        self.err_path = os.path.join(self.dir.name, "stderr")

    def start(self):
        for _ in range(5):  # another process may take the port between probe and bind
            self.port = free_port()
            with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
                self.proc = subprocess.Popen(
                    [EXAMPLE, "mqtt://127.0.0.1:%d" % self.port], stdout=out, stderr=err)
            if self._wait_listening():
                return self
            self.proc.wait(timeout=5)
        raise AssertionError("example did not start:\n" + self.stderr())

    def _wait_listening(self):
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return True
            except OSError:
                time.sleep(0.05)
        return False

    def stop(self):
        """SIGTERM, as Ctrl-C or a service manager would; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise

    def stdout(self):
        with open(self.out_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stderr(self):
        with open(self.err_path, encoding="utf-8", errors="replace") as f:
            return f.read()


class Client:
    """A Paho MQTT 5 client with its network loop in a thread; messages arrive in a queue."""

    def __init__(self, port, client_id, protocol=paho.MQTTv5):
        self.messages = queue.Queue()
        self.acks = queue.Queue()
        self.port = port
        self.c = paho.Client(client_id=client_id, protocol=protocol)
        self.c.on_connect = lambda _c, _u, _f, rc, props=None: self.acks.put(rc)
        self.c.on_subscribe = lambda _c, _u, mid, rcs, props=None: self.acks.put(rcs)
        self.c.on_message = lambda _c, _u, msg: self.messages.put(msg)

    def connect(self):
        """Returns the CONNACK reason code (MQTT 5) or return code (3.1.1) as an int."""
        self.c.connect("127.0.0.1", self.port, keepalive=30)
        self.c.loop_start()
        rc = self.acks.get(timeout=5)
        return int(getattr(rc, "value", rc))

    def subscribe(self, topic_filter):
        self.c.subscribe(topic_filter, qos=1)
        self.acks.get(timeout=5)

    def publish(self, topic, payload):
        self.c.publish(topic, payload, qos=1).wait_for_publish(5)

    def get(self, timeout=5):
        m = self.messages.get(timeout=timeout)
        return m.topic, m.payload

    def expect_nothing(self, timeout=0.5):
        try:
            m = self.messages.get(timeout=timeout)
        except queue.Empty:
            return
        raise AssertionError("unexpected message %s %r" % (m.topic, m.payload))

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


class HelloBrokerExample(unittest.TestCase):

    def setUp(self):
        self.broker = HelloBroker().start()
        # Cleanups run last-in first-out: stop, then read the log, then delete it.
        self.addCleanup(self.broker.dir.cleanup)
        self.addCleanup(self._no_sanitizer_report)
        self.addCleanup(self.broker.stop)

    def _no_sanitizer_report(self):
        """An ASan, UBSan or TSan build reports on stderr without always failing the process."""
        log = self.broker.stderr()
        for marker in ("Sanitizer", "runtime error:"):
            self.assertNotIn(marker, log, log[-4000:])

    def client(self, client_id):
        c = Client(self.broker.port, client_id)
        self.assertEqual(c.connect(), 0)
        self.addCleanup(c.close)
        return c

    def test_client_id_starting_with_banned_is_refused_as_not_authorized(self):
        c = Client(self.broker.port, "banned-sensor")
        self.addCleanup(c.c.loop_stop)
        self.assertEqual(c.connect(), 0x87)

    def test_banned_v311_client_gets_return_code_5_not_authorized(self):
        c = Client(self.broker.port, "banned-old-sensor", protocol=paho.MQTTv311)
        self.addCleanup(c.c.loop_stop)
        self.assertEqual(c.connect(), 5)

    def test_client_id_containing_banned_later_is_accepted(self):
        self.client("not-banned")

    def test_greetings_subscriber_alone_gets_a_welcome(self):
        first = self.client("greeter-1")
        first.subscribe("greetings/#")
        self.assertEqual(first.get(), ("greetings/welcome", b"welcome to the greetings channel"))
        second = self.client("greeter-2")
        second.subscribe("greetings/en")
        self.assertEqual(second.get(), ("greetings/welcome", b"welcome to the greetings channel"))
        first.expect_nothing()  # the welcome is for the new subscriber alone

    def test_subscription_outside_greetings_gets_no_welcome(self):
        c = self.client("elsewhere")
        c.subscribe("news/#")
        c.expect_nothing()

    def test_celsius_reading_is_delivered_and_republished_in_fahrenheit(self):
        sub = self.client("display")
        sub.subscribe("sensors/#")
        self.client("thermo").publish("sensors/kitchen/celsius", b"21.5")
        got = {sub.get(), sub.get()}
        self.assertEqual(got, {("sensors/kitchen/celsius", b"21.5"),
                               ("sensors/kitchen/fahrenheit", b"70.7")})

    def test_reading_that_is_not_a_number_is_dropped(self):
        sub = self.client("display")
        sub.subscribe("sensors/+/celsius")
        pub = self.client("thermo")
        for bad in (b"hot", b"", b"12abc", b"nan", b"1e999"):
            pub.publish("sensors/attic/celsius", bad)
        pub.publish("sensors/attic/celsius", b"-40")
        self.assertEqual(sub.get(), ("sensors/attic/celsius", b"-40"))
        sub.expect_nothing()

    def test_disconnect_is_logged_and_counters_printed_on_sigterm(self):
        c = self.client("leaving")
        c.publish("sensors/hall/celsius", b"100")
        c.close()
        deadline = time.monotonic() + 5
        while "leaving" not in self.broker.stderr() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertRegex(self.broker.stderr(), r"leaving \(127\.0\.0\.1:\d+\) disconnected, "
                                               r"reason 0x00")
        self.assertEqual(self.broker.stop(), 0)
        self.assertIn("messages received 1,", self.broker.stdout())


class HelloBrokerCommandLine(unittest.TestCase):

    def test_bad_url_is_reported_and_exits_1(self):
        r = subprocess.run([EXAMPLE, "http://127.0.0.1:1"], capture_output=True, text=True,
                           timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn("hello_broker: http://127.0.0.1:1:", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
