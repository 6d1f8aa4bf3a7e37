"""mqttc with mosquitto's own clients as the independent peer, both ways: mosquitto_pub to
mqttc sub, mqttc pub to mosquitto_sub, at every QoS, for 3.1.1 and 5, with v5 properties
checked by the other side's -F output. The broker is mqttd (or mosquitto with
MQTTD_TEST_BROKER=mosquitto)."""

import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_mqttc_harness import MqttcTestCase, Subscriber, run_mqttc  # noqa: E402

MOSQUITTO_PUB = shutil.which("mosquitto_pub")
MOSQUITTO_SUB = shutil.which("mosquitto_sub")
# mosquitto_sub buffers stdout into a pipe; line buffering lets us see its SUBACK at once.
STDBUF = shutil.which("stdbuf")


@unittest.skipUnless(MOSQUITTO_PUB and MOSQUITTO_SUB and STDBUF,
                     "mosquitto-clients or stdbuf not installed")
class MosquittoClientsTest(MqttcTestCase):

    def mosquitto_pub(self, *args):
        r = subprocess.run([MOSQUITTO_PUB, "-p", str(self.broker.port)] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=20)
        self.assertEqual(r.returncode, 0, r.stderr)

    def mosquitto_sub(self, *args):
        return Subscriber("-p", self.broker.port, *args,
                          command=[STDBUF, "-oL", MOSQUITTO_SUB, "-d"]).start()

    def test_mosquitto_pub_to_mqttc_sub(self):
        for version in ("mqttv311", "mqttv5"):
            for qos in (0, 1, 2):
                with self.subTest(version=version, qos=qos):
                    topic = self.topic("/%s/%d" % (version, qos))
                    s = self.sub("-V", version, "-q", 2, "-t", topic, "-C", 1, "-F", "%q %t %p")
                    self.mosquitto_pub("-V", version, "-q", qos, "-t", topic, "-m", "from mosq")
                    rc, messages, err = s.wait()
                    self.assertEqual((rc, messages), (0, ["%d %s from mosq" % (qos, topic)]), err)

    def test_mqttc_pub_to_mosquitto_sub(self):
        for version in ("mqttv311", "mqttv5"):
            for qos in (0, 1, 2):
                with self.subTest(version=version, qos=qos):
                    topic = self.topic("/%s/%d" % (version, qos))
                    s = self.mosquitto_sub("-V", version, "-q", 2, "-t", topic, "-C", 1,
                                           "-F", "%q %t %p")
                    self.pub("-V", version, "-q", qos, "-t", topic, "-m", "from mqttc")
                    rc, messages, err = s.wait()
                    self.assertEqual((rc, messages), (0, ["%d %s from mqttc" % (qos, topic)]),
                                     err)

    def test_properties_from_mqttc_reach_mosquitto_sub(self):
        topic = self.topic()
        s = self.mosquitto_sub("-V", "mqttv5", "-q", 1, "-t", topic, "-C", 1,
                               "-F", "%P|%C|%R|%D|%F|%p")
        self.pub("-q", 1, "-t", topic, "-m", "body",
                 "-D", "publish", "user-property", "colour", "blue",
                 "-D", "publish", "user-property", "size", "L",
                 "-D", "publish", "content-type", "application/json",
                 "-D", "publish", "response-topic", "answers",
                 "-D", "publish", "correlation-data", "req-7",
                 "-D", "publish", "payload-format-indicator", "1")
        rc, messages, err = s.wait()
        self.assertEqual(rc, 0, err)
        self.assertEqual(messages, ["colour:blue size:L|application/json|answers|req-7|1|body"])

    def test_properties_from_mosquitto_pub_reach_mqttc_sub(self):
        topic = self.topic()
        s = self.sub("-q", 1, "-t", topic, "-C", 1, "-F", "%P|%C|%R|%D|%p")
        self.mosquitto_pub("-V", "mqttv5", "-q", 1, "-t", topic, "-m", "body",
                           "-D", "publish", "user-property", "k", "v",
                           "-D", "publish", "content-type", "text/plain",
                           "-D", "publish", "response-topic", "back",
                           "-D", "publish", "correlation-data", "c1")
        rc, messages, err = s.wait()
        self.assertEqual((rc, messages), (0, ["k:v|text/plain|back|c1|body"]), err)

    def test_retained_from_mqttc_is_seen_by_mosquitto_sub(self):
        topic = self.topic()
        self.pub("-r", "-q", 1, "-t", topic, "-m", "state")
        s = self.mosquitto_sub("-t", topic, "-C", 1, "-F", "%r %p")
        rc, messages, err = s.wait()
        self.assertEqual((rc, messages), (0, ["1 state"]), err)
        self.pub("-r", "-q", 1, "-t", topic, "-n")

    def test_debug_trace_matches_mosquitto_pub_wording(self):
        topic = self.topic()
        ours = run_mqttc("pub", "-p", self.broker.port, "-d", "-i", "same", "-q", 1, "-t", topic,
                         "-m", "x").stdout.splitlines()
        theirs = subprocess.run([MOSQUITTO_PUB, "-p", str(self.broker.port), "-d", "-i", "same",
                                 "-q", "1", "-t", topic, "-m", "x"],
                                capture_output=True, text=True, timeout=20).stdout.splitlines()
        self.assertEqual(ours[0], theirs[0])  # Client same sending CONNECT
        self.assertEqual(ours[2], theirs[2])  # ... sending PUBLISH (d0, q1, r0, m1, ...)


if __name__ == "__main__":
    unittest.main(verbosity=2)
