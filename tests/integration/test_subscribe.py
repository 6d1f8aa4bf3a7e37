"""SUBSCRIBE / UNSUBSCRIBE: wildcard matching, $-topics, subscription options (No Local, QoS),
per-filter reason codes, replacing a subscription, and the feature switches."""

from mqtt_harness import (
    BrokerTestCase, RC_NO_SUBSCRIPTION_EXISTED, RC_SHARED_SUBSCRIPTIONS_NOT_SUPPORTED,
    RC_SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED, RC_TOPIC_FILTER_INVALID,
    RC_WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED, SHARED_SUBSCRIPTION_AVAILABLE,
    SUBSCRIPTION_IDENTIFIER, SUBSCRIPTION_IDENTIFIER_AVAILABLE, WILDCARD_SUBSCRIPTION_AVAILABLE,
    main, mqttd_only, sub_options, subscribe)


class Matching(BrokerTestCase):

    def _received(self, filters, topics):
        sub = self.connected(self.cid("s"))
        sub.subscribe([(f, 0) for f in filters])
        pub = self.connected(self.cid("p"))
        for t in topics:
            pub.publish(t, t.encode())
        return sorted(p.topic for p in sub.drain_publishes(0.4))

    def test_single_level_wildcard(self):
        """[MQTT-4.7.1-2]"""
        t = self.topic()
        got = self._received([t + "/+/x"], [t + "/a/x", t + "/b/x", t + "/a/b/x", t + "/x",
                                            t + "//x"])
        self.assertEqual(got, sorted([t + "/a/x", t + "/b/x", t + "//x"]))

    def test_multi_level_wildcard_matches_parent_and_children(self):
        """[MQTT-4.7.1-1]: "t/#" matches "t", "t/a", "t/a/b" """
        t = self.topic()
        got = self._received([t + "/#"], [t, t + "/a", t + "/a/b", t + "x"])
        self.assertEqual(got, sorted([t, t + "/a", t + "/a/b"]))

    def test_leading_wildcards_do_not_match_dollar_topics(self):
        """[MQTT-4.7.2-1]"""
        got = self._received(["#", "+/x"], ["$" + self.topic("x"), "$a/x"])
        self.assertEqual([g for g in got if g.startswith("$")], [])

    def test_explicit_dollar_filter_matches_dollar_topic(self):
        """[MQTT-4.7.2-1] only forbids leading wildcards"""
        t = "$" + self.topic()
        self.assertEqual(self._received([t + "/+"], [t + "/a"]), [t + "/a"])

    def test_subscription_qos_caps_delivery_qos(self):
        """[MQTT-3.8.4-8]"""
        sub = self.connected(self.cid("s"))
        self.assertEqual(sub.subscribe(self.topic(), qos=0).reason_codes, [0])
        self.connected(self.cid("p")).publish(self.topic(), b"x", qos=2)
        self.assertEqual(sub.recv_publish().qos, 0)

    def test_no_local_suppresses_own_messages(self):
        """[MQTT-3.8.3-3]"""
        c = self.connected()
        c.subscribe(self.topic(), qos=1, no_local=True)
        c.publish(self.topic(), b"mine", qos=1)
        c.expect_nothing(0.4)
        self.connected(self.cid("o")).publish(self.topic(), b"theirs", qos=1)
        self.assertEqual(c.recv_publish().payload, b"theirs")

    def test_without_no_local_own_messages_arrive(self):
        c = self.connected()
        c.subscribe(self.topic(), qos=1)
        c.publish(self.topic(), b"mine", qos=1)
        self.assertEqual(c.recv_publish().payload, b"mine")


class ReasonCodes(BrokerTestCase):

    def test_suback_codes_in_filter_order(self):
        """[MQTT-3.8.4-5] [MQTT-3.8.4-6] [MQTT-3.9.3-1] [MQTT-3.8.4-1] [MQTT-3.8.4-2]"""
        c = self.connected()
        ack = c.subscribe([(self.topic("a"), 2), (self.topic("b"), 0), (self.topic("c"), 1)])
        self.assertEqual(ack.reason_codes, [2, 0, 1])

    @mqttd_only("Mosquitto disconnects on an invalid filter instead of SUBACK 0x8F")
    def test_invalid_filter_among_several_gets_0x8f_others_granted(self):
        """[MQTT-3.8.4-5] [MQTT-3.8.4-7] [MQTT-4.7.1-1] [MQTT-4.7.1-2]"""
        c = self.connected()
        ack = c.subscribe([(self.topic("ok"), 1), ("a/#/b", 0), ("a+", 0), (self.topic("#"), 2)])
        self.assertEqual(ack.reason_codes, [1, RC_TOPIC_FILTER_INVALID, RC_TOPIC_FILTER_INVALID, 2])
        self.connected(self.cid("p")).publish(self.topic("ok"), b"x", qos=1)
        self.assertEqual(c.recv_publish().payload, b"x")

    def test_unsubscribe_unknown_filter_gets_0x11(self):
        """[MQTT-3.10.4-5] section 3.11.3"""
        ack = self.connected().unsubscribe(["never/subscribed"])
        self.assertEqual(ack.reason_codes, [RC_NO_SUBSCRIPTION_EXISTED])

    def test_unsubscribe_codes_in_filter_order_and_delivery_stops(self):
        """[MQTT-3.10.4-1] [MQTT-3.10.4-2] [MQTT-3.10.4-4] [MQTT-3.10.4-6] [MQTT-3.11.3-1]"""
        c = self.connected()
        c.subscribe(self.topic("a"), qos=1)
        ack = c.unsubscribe(["nope", self.topic("a")])
        self.assertEqual(ack.reason_codes, [RC_NO_SUBSCRIPTION_EXISTED, 0])
        self.connected(self.cid("p")).publish(self.topic("a"), b"x", qos=1)
        c.expect_nothing(0.4)

    def test_unsubscribe_compares_filters_literally(self):
        """[MQTT-3.10.4-1]: "t/+" does not remove "t/a" """
        c = self.connected()
        c.subscribe(self.topic("a"), qos=0)
        self.assertEqual(c.unsubscribe([self.topic("+")]).reason_codes,
                         [RC_NO_SUBSCRIPTION_EXISTED])
        self.connected(self.cid("p")).publish(self.topic("a"), b"x")
        self.assertEqual(c.recv_publish().payload, b"x")

    def test_resubscribe_replaces_subscription(self):
        """[MQTT-3.8.4-3]: one subscription, the new QoS"""
        c = self.connected()
        c.subscribe(self.topic(), qos=2)
        c.subscribe(self.topic(), qos=0)
        self.connected(self.cid("p")).publish(self.topic(), b"x", qos=2)
        msgs = c.drain_publishes(0.4)
        self.assertEqual([(p.payload, p.qos) for p in msgs], [(b"x", 0)])

    def test_connack_advertises_features(self):
        """section 3.2.2.3: absent or 1 means available"""
        ack = self.client().connect(self.cid())
        for prop in (WILDCARD_SUBSCRIPTION_AVAILABLE, SUBSCRIPTION_IDENTIFIER_AVAILABLE,
                     SHARED_SUBSCRIPTION_AVAILABLE):
            self.assertEqual(ack.props.get(prop, 1), 1)


class SharedDisabled(BrokerTestCase):
    config = ["shared_subscriptions false"]

    def test_shared_subscription_refused_with_0x9e(self):
        """section 3.2.2.3.13: CONNACK Shared Subscription Available 0; SUBACK 0x9E"""
        c = self.client()
        self.assertEqual(c.connect(self.cid()).props[SHARED_SUBSCRIPTION_AVAILABLE], 0)
        ack = c.subscribe([("$share/g/" + self.topic(), 0), (self.topic(), 0)])
        self.assertEqual(ack.reason_codes, [RC_SHARED_SUBSCRIPTIONS_NOT_SUPPORTED, 0])


class WildcardsDisabled(BrokerTestCase):
    config = ["wildcard_subscriptions false"]

    def test_wildcard_subscription_refused_with_0xa2(self):
        """section 3.2.2.3.11: CONNACK Wildcard Subscription Available 0; SUBACK 0xA2"""
        c = self.client()
        self.assertEqual(c.connect(self.cid()).props[WILDCARD_SUBSCRIPTION_AVAILABLE], 0)
        ack = c.subscribe([(self.topic("#"), 0), (self.topic("+"), 0), (self.topic(), 1)])
        self.assertEqual(ack.reason_codes, [RC_WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED] * 2 + [1])


class SubscriptionIdentifiersDisabled(BrokerTestCase):
    config = ["subscription_identifiers false"]

    def test_subscription_identifier_refused(self):
        """section 3.2.2.3.12: CONNACK Subscription Identifiers Available 0; a SUBSCRIBE with one
        gets DISCONNECT 0xA1"""
        c = self.client()
        self.assertEqual(c.connect(self.cid()).props[SUBSCRIPTION_IDENTIFIER_AVAILABLE], 0)
        c.send(subscribe(1, [(self.topic(), sub_options(0))], {SUBSCRIPTION_IDENTIFIER: 5}))
        c.expect_disconnect(RC_SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED)


if __name__ == "__main__":
    main()
