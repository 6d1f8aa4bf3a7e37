"""ACL files (Mosquitto's format) enforced on PUBLISH, SUBSCRIBE, wills and delivery, including
retained messages sent on subscribe, for MQTT 5 and 3.1.1 clients, with the raw harness and
mosquitto_sub."""

import os
import shutil
import subprocess
import tempfile

from mqtt_harness import (PUBACK, PUBREC, RC_GRANTED_QOS_1, RC_NOT_AUTHORIZED, RC_SUCCESS,
                          RC_UNSPECIFIED_ERROR, V311, BrokerTestCase, main, mqttd_only)

FILES = tempfile.mkdtemp(prefix="mqttd-auth-acl-")
ACL = os.path.join(FILES, "acl")
MQTTD = os.environ.get("MQTTD_BIN") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "build", "mqttd")
PASSWORDS = os.path.join(FILES, "passwd")

with open(ACL, "w") as f:
    f.write("""# anonymous clients
topic read public/#

user alice
topic readwrite home/#
topic deny home/secret/#
topic write wills/alice

user bob
topic read home/#
topic read $SYS/#

user carol
topic readwrite #

pattern readwrite devices/%c/#
pattern read inbox/%u
""")
for user in ("alice", "bob", "carol"):
    subprocess.run([MQTTD, "passwd", "-b"] + ([] if os.path.exists(PASSWORDS) else ["-c"]) +
                   [PASSWORDS, user, user + "-pw"], check=True)


def tearDownModule():
    shutil.rmtree(FILES, ignore_errors=True)


@mqttd_only("mqttd's ACL files and reason code choices")
class Acl(BrokerTestCase):
    config = ["acl_file " + ACL, "password_file " + PASSWORDS]

    def user(self, name, suffix="", version=5, **kw):
        return self.connected(self.cid(name + suffix), version=version, username=name,
                              password=(name + "-pw").encode(), **kw)

    def test_publish_qos1_denied_gets_puback_0x87_and_is_not_delivered(self):
        """section 3.4.2.1: PUBACK 0x87 Not authorized"""
        bob = self.user("bob")
        bob.subscribe("home/#", qos=1)
        alice = self.user("alice")
        self.assertEqual(alice.publish("home/secret/pin", b"1234", qos=1).reason_code,
                         RC_NOT_AUTHORIZED)
        self.assertEqual(alice.publish("home/door", b"open", qos=1).reason_code, RC_SUCCESS)
        self.assertEqual([p.topic for p in bob.drain_publishes()], ["home/door"])

    def test_publish_qos2_denied_gets_pubrec_0x87(self):
        """section 3.5.2.1: PUBREC 0x87 Not authorized"""
        bob = self.user("bob")
        rec = bob.publish("home/x", b"no", qos=2)
        self.assertEqual((rec.type, rec.reason_code), (PUBREC, RC_NOT_AUTHORIZED))

    def test_publish_qos0_denied_is_dropped_and_the_connection_stays(self):
        watcher = self.user("alice", "w")
        watcher.subscribe("home/#")
        bob = self.user("bob")
        bob.publish("home/x", b"no")
        bob.ping()
        watcher.expect_nothing(0.5)

    def test_v311_publish_denied_is_acknowledged_and_dropped(self):
        """3.1.1 has no way to refuse one PUBLISH: acknowledged, not delivered"""
        watcher = self.user("alice", "w")
        watcher.subscribe("home/#", qos=1)
        bob = self.user("bob", version=V311)
        ack = bob.publish("home/x", b"no", qos=1)
        self.assertEqual(ack.type, PUBACK)
        watcher.expect_nothing(0.5)

    def test_subscribe_denied_filter_gets_0x87_per_filter(self):
        """[MQTT-3.9.3-1]: one reason code per filter, in order"""
        bob = self.user("bob")
        ack = bob.subscribe([("home/#", 1), ("private/#", 1), ("public/#", 1)])
        self.assertEqual(ack.reason_codes, [RC_GRANTED_QOS_1, RC_NOT_AUTHORIZED, RC_NOT_AUTHORIZED])

    def test_v311_subscribe_denied_gets_0x80(self):
        """v3.1.1 [MQTT-3.9.3-2]: the failure return code is 0x80"""
        bob = self.user("bob", version=V311)
        ack = bob.subscribe([("home/#", 1), ("private/#", 0)])
        self.assertEqual(ack.reason_codes, [1, RC_UNSPECIFIED_ERROR])

    def test_anonymous_rules_are_the_ones_before_any_user(self):
        anon = self.connected(self.cid("anon"))
        self.assertEqual(anon.subscribe("public/#").reason_codes, [0])
        self.assertEqual(anon.subscribe("home/#").reason_codes, [RC_NOT_AUTHORIZED])
        self.assertEqual(anon.publish("public/x", b"", qos=1).reason_code, RC_NOT_AUTHORIZED)

    def test_wildcard_subscription_receives_only_topics_it_may_read(self):
        """Mosquitto checks read access on delivery: home/# overlaps alice's deny"""
        alice = self.user("alice")
        self.assertEqual(alice.subscribe("home/#").reason_codes, [0])
        bob = self.user("bob")
        bob.subscribe("home/#")
        carol = self.user("carol")
        self.assertEqual(carol.publish("home/secret", b"s", qos=1).reason_code, 0)
        self.assertEqual(carol.publish("home/open", b"o", qos=1).reason_code, 0)
        self.assertEqual([p.topic for p in alice.drain_publishes()], ["home/open"])
        self.assertEqual([p.topic for p in bob.drain_publishes()], ["home/secret", "home/open"])

    def test_retained_messages_are_filtered_on_subscribe(self):
        """[MQTT-3.3.1-9]: retained messages on subscribe are deliveries, checked like others"""
        carol = self.user("carol")
        carol.publish("home/kitchen/" + self.cid(), b"warm", qos=1, retain=True)
        carol.publish("home/secret/" + self.cid(), b"pin", qos=1, retain=True)
        carol.publish("devices/%s/x" % self.cid("alice"), b"alice's", qos=1, retain=True)
        carol.publish("devices/%s/x" % self.cid("bob"), b"bob's", qos=1, retain=True)
        alice = self.user("alice")
        alice.subscribe("home/#")  # granted in part: home/secret/# is denied
        self.assertEqual([p.payload for p in alice.drain_publishes()], [b"warm"])
        bob = self.user("bob")
        bob.subscribe("devices/#")  # granted in part: only bob's own device topics
        self.assertEqual([p.payload for p in bob.drain_publishes()], [b"bob's"])
        for t in ("home/kitchen/", "home/secret/"):
            carol.publish(t + self.cid(), b"", qos=1, retain=True)
        for who in ("alice", "bob"):
            carol.publish("devices/%s/x" % self.cid(who), b"", qos=1, retain=True)

    def test_patterns_substitute_client_id_and_username(self):
        bob = self.user("bob")
        mine = "devices/%s/state" % self.cid("bob")
        self.assertEqual(bob.publish(mine, b"on", qos=1).reason_code, 0x10)  # no subscriber
        self.assertEqual(bob.publish("devices/other/state", b"on", qos=1).reason_code,
                         RC_NOT_AUTHORIZED)
        self.assertEqual(bob.subscribe("inbox/bob").reason_codes, [0])
        self.assertEqual(bob.subscribe("inbox/alice").reason_codes, [RC_NOT_AUTHORIZED])

    def test_will_the_user_may_not_publish_is_not_published(self):
        bob = self.user("bob", "w")
        bob.subscribe("home/#")
        dying = self.user("bob", "d", will_topic="home/will", will_payload=b"bye")
        dying.close()
        bob.expect_nothing(0.7)
        alice_watch = self.user("alice", "w")
        self.assertEqual(alice_watch.subscribe("wills/#").reason_codes, [RC_NOT_AUTHORIZED])

    def test_will_the_user_may_publish_is_published(self):
        bob = self.user("bob", "w")
        bob.subscribe("home/#")
        dying = self.user("alice", "d", will_topic="home/alice/will", will_payload=b"bye")
        dying.close()
        self.assertEqual(bob.recv_publish().payload, b"bye")

    def test_dollar_sys_needs_a_rule_naming_it(self):
        """[MQTT-4.7.2-1]: a wildcard first level does not cover $ topics"""
        bob = self.user("bob")
        self.assertEqual(bob.subscribe("$SYS/broker/#").reason_codes, [0])
        alice = self.user("alice")
        self.assertEqual(alice.subscribe("$SYS/#").reason_codes, [RC_NOT_AUTHORIZED])

    def test_mosquitto_sub_sees_only_what_it_may_read(self):
        sub = subprocess.Popen(["mosquitto_sub", "-p", str(self.broker.port), "-u", "alice",
                                "-P", "alice-pw", "-t", "home/#", "-v", "-W", "2"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        pub = self.user("carol")
        for _ in range(20):
            pub.publish("home/open", b"1", qos=1)
            pub.publish("home/secret/x", b"2", qos=1)
        out, _ = sub.communicate(timeout=10)
        lines = set(out.decode().splitlines())
        self.assertIn("home/open 1", lines)
        self.assertNotIn("home/secret/x 2", lines)


if __name__ == "__main__":
    main()
