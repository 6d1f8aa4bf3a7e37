"""Shared subscriptions ($share/<group>/<filter>): one member per message, spread over members,
granted QoS per member, redelivery when a member's session ends, invalid share names."""

from mqtt_harness import (
    BrokerTestCase, RC_TOPIC_FILTER_INVALID, SESSION_EXPIRY_INTERVAL, main, mqttd_only)


class Shared(BrokerTestCase):

    def _members(self, n, group="g", qos=1, **kw):
        members = []
        for i in range(n):
            m = self.connected(self.cid("%s-m%d" % (group, i)), **kw)
            ack = m.subscribe("$share/%s/%s" % (group, self.topic()), qos=qos)
            self.assertEqual(ack.reason_codes, [qos])
            members.append(m)
        return members

    def test_each_message_to_exactly_one_member_and_spread(self):
        """[MQTT-4.8.2-1] [MQTT-4.8.2-2] section 4.8.2: 20 messages, both members get some"""
        a, b = self._members(2)
        pub = self.connected(self.cid("p"))
        for i in range(20):
            pub.publish(self.topic(), b"%d" % i, qos=1)
        got_a = [p.payload for p in a.drain_publishes(0.5)]
        got_b = [p.payload for p in b.drain_publishes(0.3)]
        self.assertEqual(sorted(got_a + got_b, key=int), [b"%d" % i for i in range(20)])
        self.assertTrue(got_a and got_b, (got_a, got_b))

    def test_groups_are_independent_and_coexist_with_plain_subscriptions(self):
        """section 4.8.2: each group gets its own copy; so does a non-shared subscriber"""
        a, = self._members(1, group="g1")
        b, = self._members(1, group="g2")
        plain = self.connected(self.cid("plain"))
        plain.subscribe(self.topic(), qos=1)
        self.connected(self.cid("p")).publish(self.topic(), b"x", qos=1)
        for c in (a, b, plain):
            self.assertEqual(c.recv_publish().payload, b"x")

    def test_shared_delivery_respects_granted_qos(self):
        """[MQTT-4.8.2-3]"""
        m, = self._members(1, qos=0)
        self.connected(self.cid("p")).publish(self.topic(), b"x", qos=2)
        self.assertEqual(m.recv_publish().qos, 0)

    def test_shared_topic_filter_with_wildcards(self):
        m = self.connected(self.cid("m"))
        m.subscribe("$share/g/%s/#" % self.topic(), qos=1)
        self.connected(self.cid("p")).publish(self.topic("a/b"), b"x", qos=1)
        p = m.recv_publish()
        self.assertEqual(p.topic, self.topic("a/b"))  # [MQTT-3.3.2-3]: the real topic

    def test_unsubscribe_shared(self):
        m, = self._members(1)
        self.assertEqual(m.unsubscribe(["$share/g/" + self.topic()]).reason_codes, [0])
        self.connected(self.cid("p")).publish(self.topic(), b"x", qos=1)
        m.expect_nothing(0.3)

    @mqttd_only("Mosquitto disconnects on an invalid share name instead of SUBACK 0x8F")
    def test_invalid_share_names_get_0x8f(self):
        """[MQTT-4.8.2-1] [MQTT-4.8.2-2]"""
        c = self.connected()
        ack = c.subscribe([("$share/a+b/x", 0), ("$share//x", 0), ("$share/g", 0),
                           ("$share/g#/x", 0), ("$share/g/", 0), ("$share/ok/x", 1)])
        self.assertEqual(ack.reason_codes, [RC_TOPIC_FILTER_INVALID] * 5 + [1])

    @mqttd_only("Mosquitto 2.0 does not hand unacked shared messages to another member")
    def test_unacked_message_of_ended_session_goes_to_another_member(self):
        """section 4.8.2: a member's session ends with a QoS 1 message unacked: another member
        gets it"""
        a, b = self._members(2)
        pub = self.connected(self.cid("p"))
        for i in range(4):
            pub.publish(self.topic(), b"%d" % i, qos=1)
        held = a.drain_publishes(0.4, ack_it=False)
        got_b = [p.payload for p in b.drain_publishes(0.3)]
        self.assertTrue(held, "member a got nothing to hold")
        a.close()  # session expiry 0: the session ends with the connection
        got_b += [p.payload for p in b.drain_publishes(1.0)]
        self.assertEqual(sorted(got_b, key=int), [b"%d" % i for i in range(4)])

    def test_persistent_member_gets_qos1_messages_while_offline_or_others_do(self):
        """[MQTT-4.8.2-4] family: no message is lost while one member is offline"""
        a, b = self._members(2, props={SESSION_EXPIRY_INTERVAL: 60})
        a.disconnect()
        pub = self.connected(self.cid("p"))
        for i in range(6):
            pub.publish(self.topic(), b"%d" % i, qos=1)
        got = [p.payload for p in b.drain_publishes(0.5)]
        a = self.client()
        a.connect(self.cid("g-m0"), clean_start=False, props={SESSION_EXPIRY_INTERVAL: 60})
        got += [p.payload for p in a.drain_publishes(0.5)]
        self.assertEqual(sorted(got, key=int), [b"%d" % i for i in range(6)])


if __name__ == "__main__":
    main()
