"""Interop with Eclipse Mosquitto's command-line clients (mosquitto_pub / mosquitto_sub), which
nobody here wrote: MQTT 3.1.1 and 5, QoS 0/1/2, retained messages, user properties."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

from mqtt_harness import BrokerTestCase, USER_PROPERTY, main  # noqa: E402

FORMAT = "MSG|%t|%q|%r|%P|%p"


class MosquittoClients(BrokerTestCase):

    def _args(self, version):
        return ["-h", "127.0.0.1", "-p", str(self.broker.port), "-V", version]

    def _start_sub(self, topic, version="mqttv5", qos=0, count=1, extra=()):
        """mosquitto_sub, returned once its SUBACK has arrived (read from its -d trace). The
        lines read so far are kept in proc.head: the server may send matching PUBLISH packets
        before the SUBACK (section 3.8.4)."""
        cmd = ["stdbuf", "-oL", "mosquitto_sub"] + self._args(version) + [
            "-t", topic, "-q", str(qos), "-C", str(count), "-W", "5", "-d", "-F", FORMAT]
        proc = subprocess.Popen(cmd + list(extra), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        self.addCleanup(proc.kill)
        head = []
        for line in proc.stdout:
            head.append(line)
            if "received SUBACK" in line:
                proc.head = head
                return proc
        self.fail("mosquitto_sub never subscribed: %s" % "".join(head))

    def _messages(self, proc):
        # Read through the same buffered stream _start_sub read from: lines it already pulled
        # in with the SUBACK (the server may send a retained PUBLISH in the same write) would
        # be lost to communicate(), which reads the pipe underneath.
        out = "".join(proc.head) + proc.stdout.read()
        proc.wait(timeout=8)
        self.assertEqual(proc.returncode, 0, out)
        return [line.split("|", 5)[1:] for line in out.splitlines() if line.startswith("MSG|")]

    def _pub(self, topic, message, version="mqttv5", qos=0, extra=()):
        """mosquitto_pub; message None sends an empty payload (-n)."""
        body = ["-n"] if message is None else ["-m", message]
        r = subprocess.run(["mosquitto_pub"] + self._args(version) + [
            "-t", topic, "-q", str(qos)] + body + list(extra),
            capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_v5_qos_0_1_2_round_trip(self):
        for qos in (0, 1, 2):
            with self.subTest(qos=qos):
                t = self.topic(str(qos))
                sub = self._start_sub(t, qos=2)
                self._pub(t, "hello %d" % qos, qos=qos)
                self.assertEqual(self._messages(sub), [[t, str(qos), "0", "", "hello %d" % qos]])

    def test_v311_qos_0_1_2_round_trip(self):
        for qos in (0, 1, 2):
            with self.subTest(qos=qos):
                t = self.topic(str(qos))
                sub = self._start_sub(t, "mqttv311", qos=2)
                self._pub(t, "old %d" % qos, "mqttv311", qos=qos)
                self.assertEqual(self._messages(sub), [[t, str(qos), "0", "", "old %d" % qos]])

    def test_v31_publisher_to_v5_subscriber(self):
        t = self.topic()
        sub = self._start_sub(t, qos=1)
        self._pub(t, "from 3.1", "mqttv31", qos=1)
        self.assertEqual(self._messages(sub)[0][4], "from 3.1")

    def test_user_properties_forwarded_in_order(self):
        """[MQTT-3.3.2-17] [MQTT-3.3.2-18] with mosquitto_pub -D publish user-property"""
        t = self.topic()
        sub = self._start_sub(t, qos=1)
        self._pub(t, "props", qos=1, extra=["-D", "publish", "user-property", "k2", "v2",
                                            "-D", "publish", "user-property", "k1", "v1"])
        self.assertEqual(self._messages(sub), [[t, "1", "0", "k2:v2 k1:v1", "props"]])

    def test_user_properties_reach_raw_client_exactly(self):
        c = self.connected()
        c.subscribe(self.topic(), qos=1)
        self._pub(self.topic(), "x", qos=1, extra=["-D", "publish", "user-property", "a", "1"])
        self.assertEqual(c.recv_publish().props.all(USER_PROPERTY), [("a", "1")])

    def test_retained_message_delivered_to_later_subscriber(self):
        """[MQTT-3.3.1-5] [MQTT-3.3.1-9]"""
        t = self.topic()
        self._pub(t, "kept", qos=1, extra=["-r"])
        sub = self._start_sub(t, "mqttv311", qos=1)
        self.assertEqual(self._messages(sub), [[t, "1", "1", "", "kept"]])
        self._pub(t, None, qos=1, extra=["-r"])  # -n: empty payload deletes it

    def test_mosquitto_sub_receives_from_raw_v5_publisher(self):
        t = self.topic()
        sub = self._start_sub(t, qos=2, count=3)
        pub = self.connected(self.cid("p"))
        for qos in (0, 1, 2):
            pub.publish(t, b"raw %d" % qos, qos=qos)
        self.assertEqual([m[4] for m in self._messages(sub)], ["raw 0", "raw 1", "raw 2"])


if __name__ == "__main__":
    main()
