"""Interop with curl's MQTT support (curl 7.88, MQTT 3.1.1, QoS 0).

What curl actually does: `curl -d DATA mqtt://HOST:PORT/TOPIC` publishes DATA and exits 0.
`curl mqtt://HOST:PORT/TOPIC` subscribes and writes every message it receives as a 2-byte
big-endian topic length, the topic, then the payload; it does not stop after one message, so it
runs until --max-time and exits 28 (timeout)."""

import os
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

from mqtt_harness import BrokerTestCase, main  # noqa: E402


class Curl(BrokerTestCase):

    def _url(self, topic):
        return "mqtt://127.0.0.1:%d/%s" % (self.broker.port, topic)

    def test_curl_publishes(self):
        sub = self.connected(self.cid("s"))
        sub.subscribe(self.topic(), qos=1)
        r = subprocess.run(["curl", "-sS", "-m", "5", "-d", "hello from curl",
                            self._url(self.topic())], capture_output=True, timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr)
        p = sub.recv_publish()
        self.assertEqual((p.payload, p.qos, p.retain), (b"hello from curl", 0, False))

    def test_curl_subscribes_and_prints_retained_message(self):
        t = self.topic()
        self.connected(self.cid("p")).publish(t, b"for curl", qos=1, retain=True)
        r = subprocess.run(["curl", "-sS", "-m", "2", self._url(t)], capture_output=True,
                           timeout=10)
        self.assertEqual(r.returncode, 28, r.stderr)  # curl waits for more until --max-time
        self.assertEqual(r.stdout, struct.pack("!H", len(t)) + t.encode() + b"for curl")

    def test_curl_subscribes_and_prints_live_message(self):
        t = self.topic()
        proc = subprocess.Popen(["curl", "-sS", "-m", "2", self._url(t)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(proc.kill)
        pub = self.connected(self.cid("p"))
        # curl gives no sign of having subscribed, so publish until it exits.
        while proc.poll() is None:
            pub.publish(t, b"live", qos=0)
            time.sleep(0.2)
        out = proc.stdout.read()
        frame = struct.pack("!H", len(t)) + t.encode() + b"live"
        self.assertTrue(out.startswith(frame), out)


if __name__ == "__main__":
    main()
