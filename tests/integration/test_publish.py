"""PUBLISH: delivery at each QoS, the properties a broker must forward unaltered, message expiry,
payload format checks, subscription identifiers and the client's Maximum Packet Size."""

import time

from mqtt_harness import (
    BrokerTestCase, CONTENT_TYPE, CORRELATION_DATA, MAXIMUM_PACKET_SIZE, MESSAGE_EXPIRY_INTERVAL,
    PAYLOAD_FORMAT_INDICATOR, RC_NO_MATCHING_SUBSCRIBERS, RC_PAYLOAD_FORMAT_INVALID,
    RESPONSE_TOPIC, SESSION_EXPIRY_INTERVAL, SUBSCRIPTION_IDENTIFIER, USER_PROPERTY, main,
    PUBCOMP, PUBREC, PUBREL, ack, mqttd_only, publish)


class Delivery(BrokerTestCase):

    def _pair(self, sub_qos):
        sub = self.connected(self.cid("s"))
        sub.subscribe(self.topic(), qos=sub_qos)
        return sub, self.connected(self.cid("p"))

    def test_qos0_delivered_at_qos0(self):
        """[MQTT-4.3.1-1]"""
        sub, pub = self._pair(2)
        pub.publish(self.topic(), b"zero", qos=0)
        p = sub.recv_publish()
        self.assertEqual((p.qos, p.dup, p.packet_id, p.payload), (0, False, None, b"zero"))

    def test_qos1_acknowledged_and_delivered_at_qos1(self):
        """[MQTT-4.3.2-4] [MQTT-4.3.2-2] [MQTT-3.3.4-1]"""
        sub, pub = self._pair(2)
        puback = pub.publish(self.topic(), b"one", qos=1)
        self.assertEqual(puback.reason_code, 0)
        p = sub.recv_publish()
        self.assertEqual((p.qos, p.dup, p.payload), (1, False, b"one"))
        self.assertNotEqual(p.packet_id, 0)  # [MQTT-2.2.1-4]

    def test_qos2_full_handshake_both_directions(self):
        """[MQTT-4.3.3-8] [MQTT-4.3.3-11] [MQTT-4.3.3-2] [MQTT-4.3.3-4]"""
        sub, pub = self._pair(2)
        comp = pub.publish(self.topic(), b"two", qos=2)
        self.assertEqual(comp.reason_code, 0)
        p = sub.recv_publish(ack_it=False)
        self.assertEqual((p.qos, p.dup, p.payload), (2, False, b"two"))
        sub.send(ack(PUBREC, p.packet_id))
        rel = sub.expect(PUBREL)
        self.assertEqual(rel.packet_id, p.packet_id)
        sub.send(ack(PUBCOMP, p.packet_id))
        sub.expect_nothing(0.3)

    def test_delivered_qos_is_minimum_of_publish_and_subscription(self):
        """[MQTT-3.8.4-8]"""
        sub, pub = self._pair(1)
        pub.publish(self.topic(), b"a", qos=2)
        self.assertEqual(sub.recv_publish().qos, 1)
        pub.publish(self.topic(), b"b", qos=0)
        self.assertEqual(sub.recv_publish().qos, 0)

    def test_messages_from_one_publisher_arrive_in_order(self):
        """[MQTT-4.6.0-5] [MQTT-4.6.0-6]"""
        sub, pub = self._pair(1)
        for i in range(20):
            pub.publish(self.topic(), b"%d" % i, qos=1)
        self.assertEqual([p.payload for p in sub.recv_publishes(20)],
                         [b"%d" % i for i in range(20)])

    def test_puback_no_matching_subscribers(self):
        """section 3.4.2.1: PUBACK 0x10 when nobody is subscribed"""
        puback = self.connected().publish(self.topic("nobody"), b"x", qos=1)
        self.assertIn(puback.reason_code, (0, RC_NO_MATCHING_SUBSCRIBERS))

    def test_topic_is_not_normalised(self):
        """[MQTT-4.7.3-4]: "a/b" and "a//b" and "A/b" are different topics"""
        sub = self.connected(self.cid("s"))
        sub.subscribe(self.topic("a/b"), qos=0)
        pub = self.connected(self.cid("p"))
        for t in (self.topic("a//b"), self.topic("A/b"), self.topic("a/b/")):
            pub.publish(t, b"other")
        pub.publish(self.topic("a/b"), b"exact")
        self.assertEqual([p.payload for p in sub.drain_publishes(0.3)], [b"exact"])


class Properties(BrokerTestCase):

    def test_properties_forwarded_unaltered_user_properties_in_order(self):
        """[MQTT-3.3.2-4] [MQTT-3.3.2-15] [MQTT-3.3.2-16] [MQTT-3.3.2-17] [MQTT-3.3.2-18]
        [MQTT-3.3.2-20]"""
        sub = self.connected(self.cid("s"))
        sub.subscribe(self.topic(), qos=1)
        user = [("z", "1"), ("a", "2"), ("z", "3"), ("key", "")]
        props = [(PAYLOAD_FORMAT_INDICATOR, 1), (CONTENT_TYPE, "text/plain; charset=utf-8"),
                 (RESPONSE_TOPIC, "reply/here"), (CORRELATION_DATA, b"\x00\x01\xff")] + [
                     (USER_PROPERTY, u) for u in user]
        self.connected(self.cid("p")).publish(self.topic(), "héllo", qos=1, props=props)
        p = sub.recv_publish()
        self.assertEqual(p.payload, "héllo".encode())
        self.assertEqual(p.props[PAYLOAD_FORMAT_INDICATOR], 1)
        self.assertEqual(p.props[CONTENT_TYPE], "text/plain; charset=utf-8")
        self.assertEqual(p.props[RESPONSE_TOPIC], "reply/here")
        self.assertEqual(p.props[CORRELATION_DATA], b"\x00\x01\xff")
        self.assertEqual(p.props.user, user)

    def test_message_expiry_decremented_by_time_waited(self):
        """[MQTT-3.3.2-6]"""
        sub = self.connected(self.cid("s"), props={SESSION_EXPIRY_INTERVAL: 60})
        sub.subscribe(self.topic(), qos=1)
        sub.disconnect()
        self.connected(self.cid("p")).publish(self.topic(), b"x", qos=1,
                                               props={MESSAGE_EXPIRY_INTERVAL: 30})
        time.sleep(1.2)
        sub = self.client()
        self.assertTrue(sub.connect(self.cid("s"), clean_start=False,
                                    props={SESSION_EXPIRY_INTERVAL: 60}).session_present)
        p = sub.recv_publish()
        self.assertLessEqual(p.props[MESSAGE_EXPIRY_INTERVAL], 29)
        self.assertGreaterEqual(p.props[MESSAGE_EXPIRY_INTERVAL], 25)

    def test_expired_message_not_delivered_to_offline_session(self):
        """[MQTT-3.3.2-5]: expiry 1, wait 2 s, reconnect: nothing"""
        sub = self.connected(self.cid("s"), props={SESSION_EXPIRY_INTERVAL: 60})
        sub.subscribe(self.topic(), qos=1)
        sub.disconnect()
        pub = self.connected(self.cid("p"))
        pub.publish(self.topic(), b"expires", qos=1, props={MESSAGE_EXPIRY_INTERVAL: 1})
        pub.publish(self.topic(), b"stays", qos=1, props={MESSAGE_EXPIRY_INTERVAL: 60})
        time.sleep(2.1)
        sub = self.client()
        sub.connect(self.cid("s"), clean_start=False, props={SESSION_EXPIRY_INTERVAL: 60})
        self.assertEqual([p.payload for p in sub.drain_publishes(0.5)], [b"stays"])

    def test_message_without_expiry_has_no_expiry_property(self):
        sub = self.connected(self.cid("s"))
        sub.subscribe(self.topic(), qos=0)
        self.connected(self.cid("p")).publish(self.topic(), b"x")
        self.assertNotIn(MESSAGE_EXPIRY_INTERVAL, sub.recv_publish().props)

    @mqttd_only("Mosquitto 2.0 does not check payloads marked UTF-8 (the spec says MAY)")
    def test_invalid_utf8_payload_with_format_indicator_qos1_gets_puback_0x99(self):
        """section 3.3.2.3.2 (MAY): PUBACK 0x99 Payload format invalid; not delivered"""
        sub = self.connected(self.cid("s"))
        sub.subscribe(self.topic(), qos=1)
        puback = self.connected(self.cid("p")).publish(
            self.topic(), b"\xff\xfe", qos=1, props={PAYLOAD_FORMAT_INDICATOR: 1})
        self.assertEqual(puback.reason_code, RC_PAYLOAD_FORMAT_INVALID)
        sub.expect_nothing(0.3)

    @mqttd_only("Mosquitto 2.0 does not check payloads marked UTF-8 (the spec says MAY)")
    def test_invalid_utf8_payload_with_format_indicator_qos0_gets_disconnect_0x99(self):
        """section 3.3.2.3.2 (MAY): QoS 0 has no ack, so DISCONNECT 0x99"""
        c = self.connected()
        c.send(publish(self.topic(), b"\xc0\x80", props={PAYLOAD_FORMAT_INDICATOR: 1}))
        c.expect_disconnect(RC_PAYLOAD_FORMAT_INVALID)

    def test_valid_utf8_payload_with_format_indicator_accepted(self):
        puback = self.connected().publish(self.topic(), "ünïcödé €".encode(), qos=1,
                                          props={PAYLOAD_FORMAT_INDICATOR: 1})
        self.assertLess(puback.reason_code, 0x80)


class SubscriptionIdentifiers(BrokerTestCase):

    def test_subscription_identifier_sent_with_matching_message(self):
        """[MQTT-3.3.4-3]"""
        sub = self.connected(self.cid("s"))
        sub.subscribe(self.topic("+"), qos=1, sub_id=42)
        self.connected(self.cid("p")).publish(self.topic("x"), b"m", qos=1)
        self.assertEqual(sub.recv_publish().props.all(SUBSCRIPTION_IDENTIFIER), [42])

    def test_subscription_without_identifier_gets_none(self):
        sub = self.connected(self.cid("s"))
        sub.subscribe(self.topic(), qos=1)
        self.connected(self.cid("p")).publish(self.topic(), b"m", qos=1)
        self.assertNotIn(SUBSCRIPTION_IDENTIFIER, sub.recv_publish().props)

    @mqttd_only("Mosquitto sends one copy per subscription (the spec allows both)")
    def test_overlapping_subscriptions_one_copy_with_both_ids_at_max_qos(self):
        """[MQTT-3.3.4-2] [MQTT-3.3.4-3] [MQTT-3.3.4-4]"""
        sub = self.connected(self.cid("s"))
        sub.subscribe(self.topic("+"), qos=1, sub_id=1)
        sub.subscribe(self.topic("#"), qos=2, sub_id=2)
        self.connected(self.cid("p")).publish(self.topic("x"), b"m", qos=2)
        msgs = sub.drain_publishes(0.5)
        self.assertEqual(len(msgs), 1, msgs)
        self.assertEqual(msgs[0].qos, 2)
        self.assertEqual(sorted(msgs[0].props.all(SUBSCRIPTION_IDENTIFIER)), [1, 2])


class ClientMaximumPacketSize(BrokerTestCase):

    def test_message_larger_than_client_maximum_packet_size_is_dropped(self):
        """[MQTT-3.1.2-24] [MQTT-3.1.2-25]: not sent, not an error, later messages flow"""
        sub = self.connected(self.cid("s"), props={MAXIMUM_PACKET_SIZE: 200})
        sub.subscribe(self.topic(), qos=1)
        pub = self.connected(self.cid("p"))
        pub.publish(self.topic(), b"x" * 500, qos=1)
        pub.publish(self.topic(), b"small", qos=1)
        self.assertEqual([p.payload for p in sub.drain_publishes(0.5)], [b"small"])
        sub.ping()


if __name__ == "__main__":
    main()
