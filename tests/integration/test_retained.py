"""Retained messages: store, replace, delete, delivery on subscribe with the retain options,
expiry, and a broker with retain_available false."""

import time

from mqtt_harness import (
    BrokerTestCase, MESSAGE_EXPIRY_INTERVAL, RC_RETAIN_NOT_SUPPORTED, RETAIN_AVAILABLE, main,
    publish)


class Retained(BrokerTestCase):

    def _retain(self, payload, topic=None, qos=1, props=None):
        pub = self.connected(self.cid("p"))
        pub.publish(topic or self.topic(), payload, qos=qos, retain=True, props=props)
        pub.disconnect()

    def _subscribe(self, suffix="s", filt=None, **opts):
        c = self.connected(self.cid(suffix))
        c.subscribe(filt or self.topic(), **opts)
        return c

    def test_retained_message_delivered_on_subscribe_with_retain_flag(self):
        """[MQTT-3.3.1-5] [MQTT-3.3.1-9]"""
        self._retain(b"kept")
        p = self._subscribe(qos=1).recv_publish()
        self.assertEqual((p.payload, p.retain), (b"kept", True))

    def test_retained_message_replaced(self):
        """[MQTT-3.3.1-5]"""
        self._retain(b"old")
        self._retain(b"new")
        msgs = self._subscribe(qos=1).drain_publishes(0.4)
        self.assertEqual([p.payload for p in msgs], [b"new"])

    def test_empty_payload_deletes_retained_message(self):
        """[MQTT-3.3.1-6] [MQTT-3.3.1-7]"""
        self._retain(b"old")
        self._retain(b"")
        self._subscribe(qos=1).expect_nothing(0.4)

    def test_non_retained_publish_leaves_retained_message(self):
        """[MQTT-3.3.1-8]"""
        self._retain(b"kept")
        self.connected(self.cid("p2")).publish(self.topic(), b"live", qos=1)
        msgs = self._subscribe(qos=1).drain_publishes(0.4)
        self.assertEqual([p.payload for p in msgs], [b"kept"])

    def test_wildcard_subscribe_gets_every_matching_retained_message(self):
        for leaf in ("a", "b/c"):
            self._retain(leaf.encode(), self.topic(leaf))
        msgs = self._subscribe(filt=self.topic("#"), qos=1).drain_publishes(0.4)
        self.assertEqual(sorted(p.topic for p in msgs), [self.topic("a"), self.topic("b/c")])

    def test_retained_delivery_qos_is_minimum(self):
        """[MQTT-3.8.4-8]"""
        self._retain(b"q2", qos=2)
        self.assertEqual(self._subscribe(qos=1).recv_publish().qos, 1)

    def test_live_message_has_retain_0_without_retain_as_published(self):
        """[MQTT-3.3.1-12]"""
        sub = self._subscribe(qos=1)
        self.connected(self.cid("p")).publish(self.topic(), b"x", qos=1, retain=True)
        self.assertFalse(sub.recv_publish().retain)

    def test_live_message_keeps_retain_1_with_retain_as_published(self):
        """[MQTT-3.3.1-13]"""
        sub = self._subscribe(qos=1, retain_as_published=True)
        pub = self.connected(self.cid("p"))
        pub.publish(self.topic(), b"r", qos=1, retain=True)
        pub.publish(self.topic(), b"n", qos=1, retain=False)
        msgs = sub.recv_publishes(2)
        self.assertEqual([(p.payload, p.retain) for p in msgs], [(b"r", True), (b"n", False)])

    def test_retain_handling_2_sends_no_retained(self):
        """[MQTT-3.3.1-11]"""
        self._retain(b"kept")
        self._subscribe(qos=1, retain_handling=2).expect_nothing(0.4)

    def test_retain_handling_0_resends_on_resubscribe(self):
        """[MQTT-3.3.1-9] [MQTT-3.8.4-4]"""
        self._retain(b"kept")
        sub = self._subscribe(qos=1, retain_handling=0)
        self.assertEqual(sub.recv_publish().payload, b"kept")
        sub.subscribe(self.topic(), qos=1, retain_handling=0)
        self.assertEqual(sub.recv_publish().payload, b"kept")

    def test_retain_handling_1_only_for_new_subscription(self):
        """[MQTT-3.3.1-10]"""
        self._retain(b"kept")
        sub = self._subscribe(qos=1, retain_handling=1)
        self.assertEqual(sub.recv_publish().payload, b"kept")
        sub.subscribe(self.topic(), qos=1, retain_handling=1)
        sub.expect_nothing(0.4)

    def test_retained_message_expires(self):
        """[MQTT-3.3.2-5]: a retained message past its expiry is not sent"""
        self._retain(b"short", props={MESSAGE_EXPIRY_INTERVAL: 1})
        time.sleep(2.1)
        self._subscribe(qos=1).expect_nothing(0.4)

    def test_retained_message_expiry_decremented(self):
        """[MQTT-3.3.2-6]"""
        self._retain(b"long", props={MESSAGE_EXPIRY_INTERVAL: 30})
        time.sleep(1.1)
        p = self._subscribe(qos=1).recv_publish()
        self.assertLessEqual(p.props[MESSAGE_EXPIRY_INTERVAL], 29)


class RetainUnavailable(BrokerTestCase):
    config = ["retain_available false"]

    def test_connack_says_retain_not_available(self):
        """section 3.2.2.3.5"""
        self.assertEqual(self.client().connect(self.cid()).props[RETAIN_AVAILABLE], 0)

    def test_retained_publish_gets_disconnect_0x9a(self):
        """[MQTT-3.2.2-14] section 3.2.2.3.5: DISCONNECT 0x9A Retain not supported"""
        c = self.connected()
        c.send(publish(self.topic(), b"x", retain=True))
        c.expect_disconnect(RC_RETAIN_NOT_SUPPORTED)

    def test_will_retain_refused_with_connack_0x9a(self):
        """[MQTT-3.2.2-13]"""
        c = self.client()
        ack = c.connect(self.cid(), will_topic=self.topic(), will_payload=b"w", will_retain=True)
        self.assertEqual(ack.reason_code, RC_RETAIN_NOT_SUPPORTED)
        c.assert_closed()

    def test_non_retained_publish_still_works(self):
        sub = self.connected(self.cid("s"))
        sub.subscribe(self.topic(), qos=1)
        self.connected(self.cid("p")).publish(self.topic(), b"x", qos=1)
        self.assertEqual(sub.recv_publish().payload, b"x")


if __name__ == "__main__":
    main()
