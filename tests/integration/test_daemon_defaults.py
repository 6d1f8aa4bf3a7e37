"""The mqttd daemon as a newcomer runs it: with no config file it keeps its state in ./mqttd.db
across restarts, and a second daemon on a port the first holds fails to start instead of
silently sharing the port (SO_REUSEPORT would allow that)."""

import os
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import mqtt_harness as h

BINARY = os.path.abspath(os.environ.get("MQTTD_BIN") or os.path.join(h._REPO, "build", "mqttd"))


@h.mqttd_only("the mqttd daemon's own defaults")
class DaemonDefaults(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="mqttd-defaults-")
        self.port = h.free_port()

    def tearDown(self):
        self.dir.cleanup()

    def start(self):
        """mqttd with nothing but a listener, in a directory of its own."""
        proc = subprocess.Popen([BINARY, "--listen", "mqtt://127.0.0.1:%d" % self.port],
                                cwd=self.dir.name, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return proc
            except OSError:
                if proc.poll() is not None:
                    self.fail("mqttd exited: " + proc.stderr.read())
                time.sleep(0.05)
        proc.kill()
        self.fail("mqttd did not listen")

    def stop(self, proc):
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(10), 0)
        proc.stderr.close()

    def test_retained_message_survives_a_restart_without_any_configuration(self):
        proc = self.start()
        pub = h.Client(self.port)
        pub.connect("pub")
        pub.publish("defaults/kept", b"still here", qos=1, retain=True)
        pub.disconnect()
        self.stop(proc)
        self.assertTrue(os.path.exists(os.path.join(self.dir.name, "mqttd.db")))

        proc = self.start()
        try:
            sub = h.Client(self.port)
            sub.connect("sub")
            sub.subscribe("defaults/#", qos=1)
            p = sub.recv_publish()
            self.assertEqual((p.topic, p.payload, p.retain), ("defaults/kept", b"still here", True))
            sub.disconnect()
        finally:
            self.stop(proc)

    def test_second_daemon_on_a_held_port_fails_to_start(self):
        first = self.start()
        try:
            os.mkdir(os.path.join(self.dir.name, "second"))
            second = subprocess.run(
                [BINARY, "--listen", "mqtt://127.0.0.1:%d" % self.port],
                cwd=os.path.join(self.dir.name, "second"), capture_output=True, text=True,
                timeout=10)
            self.assertNotEqual(second.returncode, 0)
            self.assertIn("Address already in use", second.stderr)
        finally:
            self.stop(first)


if __name__ == "__main__":
    unittest.main()
