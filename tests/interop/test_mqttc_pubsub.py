"""mqttc pub and mqttc sub against a real broker (mqttd, or mosquitto with
MQTTD_TEST_BROKER=mosquitto): QoS 0/1/2 for every protocol level, retained messages, the exit
conditions (-C, -W), the output formats (-v, -F), the payload sources (-m, -f, -l, -s, -n),
-D properties, -L URLs, wills and a refused connection's message."""

import os
import signal
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_mqttc_harness import (MqttcTestCase, Subscriber, run_mqttc)  # noqa: E402

VERSIONS = ("mqttv31", "mqttv311", "mqttv5")


class PublishSubscribeTest(MqttcTestCase):

    def test_every_qos_is_delivered_at_that_qos_for_every_protocol_level(self):
        for version in VERSIONS:
            for qos in (0, 1, 2):
                with self.subTest(version=version, qos=qos):
                    topic = self.topic("/%s/%d" % (version, qos))
                    s = self.sub("-V", version, "-q", qos, "-t", topic, "-C", 1, "-F", "%q %p")
                    self.pub("-V", version, "-q", qos, "-t", topic, "-m", "hello")
                    rc, messages, err = s.wait()
                    self.assertEqual(rc, 0, err)
                    self.assertEqual(messages, ["%d hello" % qos])

    def test_qos_2_flow_is_completed_in_both_directions(self):
        topic = self.topic()
        s = self.sub("-q", 2, "-t", topic, "-C", 1)
        r = self.pub("-d", "-q", 2, "-t", topic, "-m", "x")
        self.assertIn("received PUBREC", r.stdout)
        self.assertIn("sending PUBREL", r.stdout)
        self.assertIn("received PUBCOMP", r.stdout)
        rc, messages, err = s.wait()
        self.assertEqual(rc, 0, err)
        self.assertTrue(any("sending PUBREC" in l for l in s.debug), s.debug)
        self.assertTrue(any("sending PUBCOMP" in l for l in s.debug), s.debug)

    def test_retained_message_reaches_a_later_subscriber_with_the_retain_flag(self):
        topic = self.topic()
        self.pub("-r", "-q", 1, "-t", topic, "-m", "kept")
        s = self.sub("-t", topic, "-C", 1, "-F", "%r %p")
        rc, messages, err = s.wait()
        self.assertEqual((rc, messages), (0, ["1 kept"]), err)
        self.pub("-r", "-q", 1, "-t", topic, "-n")

    def test_no_stale_option_hides_retained_messages(self):
        topic = self.topic()
        self.pub("-r", "-q", 1, "-t", topic, "-m", "old")
        s = self.sub("-R", "-t", topic, "-C", 1)
        self.pub("-q", 1, "-t", topic, "-m", "new")
        rc, messages, err = s.wait()
        self.assertEqual((rc, messages), (0, ["new"]), err)
        self.pub("-r", "-q", 1, "-t", topic, "-n")

    def test_count_exits_after_that_many_messages(self):
        topic = self.topic()
        s = self.sub("-t", topic, "-C", 2)
        for i in range(3):
            self.pub("-q", 1, "-t", topic, "-m", "m%d" % i)
        rc, messages, err = s.wait()
        self.assertEqual((rc, messages), (0, ["m0", "m1"]), err)

    def test_timeout_exits_with_status_27(self):
        start = time.monotonic()
        r = run_mqttc("sub", "-p", self.broker.port, "-t", self.topic(), "-W", 1)
        self.assertEqual(r.returncode, 27, r.stderr)
        self.assertLess(time.monotonic() - start, 5)

    def test_verbose_prints_topic_space_payload(self):
        topic = self.topic()
        s = self.sub("-v", "-t", topic + "/#", "-C", 1)
        self.pub("-t", topic + "/a", "-m", "hello world")
        rc, messages, err = s.wait()
        self.assertEqual((rc, messages), (0, [topic + "/a hello world"]), err)

    def test_format_fields(self):
        topic = self.topic()
        s = self.sub("-q", 1, "-t", topic, "-C", 1, "-F", r"%t|%p|%l|%x|%X|%q|%r|%%\t!")
        self.pub("-q", 1, "-t", topic, "-m", "Az")
        rc, messages, err = s.wait()
        self.assertEqual((rc, messages), (0, [topic + "|Az|2|417a|417A|1|0|%\t!"]), err)

    def test_format_iso_time(self):
        topic = self.topic()
        s = self.sub("-t", topic, "-C", 1, "-F", "%I")
        self.pub("-t", topic, "-m", "x")
        rc, messages, err = s.wait()
        self.assertEqual(rc, 0, err)
        self.assertRegex(messages[0], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}$")

    def test_filter_out_hides_matching_topics(self):
        topic = self.topic()
        s = self.sub("-v", "-t", topic + "/#", "-T", topic + "/noise/+", "-C", 1)
        self.pub("-t", topic + "/noise/x", "-m", "hidden")
        self.pub("-t", topic + "/signal", "-m", "shown")
        rc, messages, err = s.wait()
        self.assertEqual((rc, messages), (0, [topic + "/signal shown"]), err)

    def test_unsubscribe_option_removes_the_subscription(self):
        topic = self.topic()
        s = self.sub("-t", topic + "/kept", "-U", topic + "/dropped", "-t", topic + "/dropped",
                     "-C", 1)
        deadline = time.monotonic() + 5
        while not any("received UNSUBACK" in l for l in s.debug) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.pub("-q", 1, "-t", topic + "/dropped", "-m", "not for us")
        self.pub("-q", 1, "-t", topic + "/kept", "-m", "for us")
        rc, messages, err = s.wait()
        self.assertEqual((rc, messages), (0, ["for us"]), err)

    def test_pub_lines_sends_one_message_per_non_blank_line(self):
        topic = self.topic()
        s = self.sub("-q", 1, "-t", topic, "-C", 3)
        self.pub("-l", "-q", 1, "-t", topic, stdin="one\n\ntwo\nthree")
        rc, messages, err = s.wait()
        self.assertEqual((rc, messages), (0, ["one", "two", "three"]), err)

    def test_pub_stdin_file_and_null_payloads(self):
        topic = self.topic()
        with tempfile.NamedTemporaryFile("w", delete=False) as f:
            f.write("from\nfile")
        try:
            s = self.sub("-q", 1, "-t", topic, "-C", 3, "-F", "[%p] %l")
            self.pub("-s", "-q", 1, "-t", topic, stdin="all\nof stdin")
            self.pub("-f", f.name, "-q", 1, "-t", topic)
            self.pub("-n", "-q", 1, "-t", topic)
            rc, messages, err = s.wait()
        finally:
            os.unlink(f.name)
        self.assertEqual(rc, 0, err)
        self.assertEqual(messages, ["[all", "of stdin] 12", "[from", "file] 9", "[] 0"])

    def test_publish_properties_arrive(self):
        topic = self.topic()
        s = self.sub("-q", 1, "-t", topic, "-C", 1, "-F", "%P|%C|%R|%D|%F|%E")
        self.pub("-q", 1, "-t", topic, "-m", "x",
                 "-D", "publish", "user-property", "k1", "v1",
                 "-D", "publish", "user-property", "k2", "v2",
                 "-D", "publish", "content-type", "text/plain",
                 "-D", "publish", "response-topic", "reply/here",
                 "-D", "publish", "correlation-data", "corr-42",
                 "-D", "publish", "payload-format-indicator", "1",
                 "-D", "publish", "message-expiry-interval", "3600")
        rc, messages, err = s.wait()
        self.assertEqual(rc, 0, err)
        fields = messages[0].split("|")
        self.assertEqual(fields[:5], ["k1:v1 k2:v2", "text/plain", "reply/here", "corr-42", "1"])
        # The server sends the remaining lifetime [MQTT-3.3.2-6]: at most what was set.
        self.assertTrue(3590 <= int(fields[5]) <= 3600, fields[5])

    def test_subscription_identifier_comes_back_with_the_message(self):
        topic = self.topic()
        s = self.sub("-t", topic, "-C", 1, "-F", "%S %p",
                     "-D", "subscribe", "subscription-identifier", "42")
        self.pub("-t", topic, "-m", "x")
        rc, messages, err = s.wait()
        self.assertEqual((rc, messages), (0, ["42 x"]), err)

    def test_publish_with_a_topic_alias_is_delivered_under_its_topic(self):
        topic = self.topic()
        s = self.sub("-v", "-t", topic, "-C", 1)
        self.pub("-q", 1, "-t", topic, "-m", "aliased", "-D", "publish", "topic-alias", "1")
        rc, messages, err = s.wait()
        self.assertEqual((rc, messages), (0, [topic + " aliased"]), err)

    def test_no_local_sets_the_option_bit_and_other_clients_messages_still_arrive(self):
        # mqttc sub never publishes, so only the option bit (0x04) and delivery from another
        # client can be checked from here.
        topic = self.topic()
        s = self.sub("--no-local", "-t", topic, "-C", 1)
        self.pub("-t", topic, "-m", "from another client")
        rc, messages, err = s.wait()
        self.assertEqual((rc, messages), (0, ["from another client"]), err)
        self.assertTrue(any("Options: 0x04" in l for l in s.debug), s.debug)

    def test_url_gives_host_port_credentials_and_topic(self):
        topic = self.topic()
        url = "mqtt://someone:secret@127.0.0.1:%d/%s" % (self.broker.port, topic)
        s = Subscriber("-L", url, "-C", 1).start()
        r = run_mqttc("pub", "-L", url, "-m", "by url")
        self.assertEqual(r.returncode, 0, r.stderr)
        rc, messages, err = s.wait()
        self.assertEqual((rc, messages), (0, ["by url"]), err)

    def test_will_is_published_when_the_client_vanishes(self):
        topic = self.topic()
        watcher = self.sub("-q", 1, "-t", topic + "/will", "-C", 1, "-F", "%t %p %q")
        doomed = self.sub("-t", topic + "/other", "--will-topic", topic + "/will",
                          "--will-payload", "gone", "--will-qos", 1)
        doomed.kill(signal.SIGKILL)
        rc, messages, err = watcher.wait()
        self.assertEqual((rc, messages), (0, [topic + "/will gone 1"]), err)

    def test_persistent_session_keeps_qos_1_messages_while_away(self):
        topic = self.topic()
        client_id = "mqttc-persist-%d" % os.getpid()
        first = self.sub("-c", "-i", client_id, "-q", 1, "-t", topic, "-x", 60, "-W", 1)
        rc, _, err = first.wait()
        self.assertEqual(rc, 27, err)
        self.pub("-q", 1, "-t", topic, "-m", "queued")
        # The queued message may arrive before the SUBACK, so do not wait for it.
        again = Subscriber("-p", self.broker.port, "-c", "-i", client_id, "-q", 1, "-t", topic,
                           "-x", 0, "-C", 1).start(wait_subscribed=False)
        rc, messages, err = again.wait()
        self.assertEqual((rc, messages), (0, ["queued"]), err)

    def test_debug_traces_connect_and_connack(self):
        r = self.pub("-d", "-i", "tracer", "-t", self.topic(), "-m", "x")
        self.assertIn("Client tracer sending CONNECT", r.stdout)
        self.assertIn("Client tracer received CONNACK (0)", r.stdout)
        self.assertIn("Client tracer sending PUBLISH (d0, q0, r0, m0, '%s', ... (1 bytes))"
                      % self.topic(), r.stdout)
        self.assertIn("Client tracer sending DISCONNECT", r.stdout)


class RefusedConnectionTest(MqttcTestCase):
    broker_config = ("allow_anonymous false",)

    def test_refusal_names_the_reason_code_v5(self):
        r = run_mqttc("pub", "-p", self.broker.port, "-t", "a", "-m", "x")
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r"Connection error: (Not authorized \(0x87\)|"
                                   r"Bad user name or password \(0x86\))")

    def test_refusal_names_the_return_code_v311(self):
        r = run_mqttc("sub", "-p", self.broker.port, "-t", "a", "-V", "mqttv311")
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r"Connection error: (Not authorized \(0x05\)|"
                                   r"Bad user name or password \(0x04\))")


if __name__ == "__main__":
    unittest.main(verbosity=2)
