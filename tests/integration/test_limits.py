"""Configured limits: connections, packet and message size, QoS, inflight window, topic levels,
subscriptions per client.

Choices mqttd makes where the spec leaves one (documented in docs/TESTING.md):
- max_connections reached: the extra client's CONNECT is answered with CONNACK 0x97 (Quota
  exceeded) for v5 and return code 3 (Server unavailable) for 3.1.1, then the socket is closed.
- message_size_limit exceeded: PUBACK/PUBREC 0x97 (Quota exceeded; 0x95 is not a PUBACK code) for
  QoS 1/2, DISCONNECT 0x97 for QoS 0 (no ack to carry it); never delivered.
- max_topic_levels exceeded: SUBACK 0x8F for a filter, PUBACK/PUBREC 0x90 for a topic name.
- max_subscriptions_per_client reached: SUBACK 0x97 for each filter beyond it."""

import time

from mqtt_harness import (
    BrokerTestCase, CONNACK, MAXIMUM_QOS, RC_PACKET_TOO_LARGE, RC_QOS_NOT_SUPPORTED,
    RC_QUOTA_EXCEEDED, RC_TOPIC_FILTER_INVALID, RC_TOPIC_NAME_INVALID, RECEIVE_MAXIMUM,
    SESSION_EXPIRY_INTERVAL, V311,
    V3_REFUSED_SERVER_UNAVAILABLE, connect, main, mqttd_only, publish)


class MaxConnections(BrokerTestCase):
    config = ["max_connections 3"]

    def setUp(self):
        super().setUp()
        time.sleep(0.2)  # let the broker notice that earlier tests' sockets are gone
        self.held = [self.connected(self.cid(str(i))) for i in range(3)]

    @mqttd_only("Mosquitto 2.0.11 did not enforce max_connections on our listener")
    def test_fourth_v5_connection_refused_with_0x97(self):
        c = self.client()
        c.send(connect(self.cid("4")))
        ack = c.expect(CONNACK)
        self.assertEqual(ack.reason_code, RC_QUOTA_EXCEEDED)
        c.assert_closed()

    @mqttd_only("Mosquitto 2.0.11 did not enforce max_connections on our listener")
    def test_fourth_v311_connection_refused_with_rc_3(self):
        c = self.client(V311)
        ack = c.connect(self.cid("4"))
        self.assertEqual(ack.reason_code, V3_REFUSED_SERVER_UNAVAILABLE)
        c.assert_closed()

    @mqttd_only("Mosquitto 2.0.11 did not enforce max_connections on our listener")
    def test_slot_freed_when_a_client_leaves(self):
        self.held[0].disconnect()
        time.sleep(0.3)
        self.connected(self.cid("4")).ping()


class PacketSize(BrokerTestCase):
    config = ["max_packet_size 1000"]

    def test_packet_over_max_packet_size_gets_disconnect_0x95(self):
        """section 3.2.2.3.6: a 2000-byte PUBLISH to a server with Maximum Packet Size 1000"""
        c = self.connected()
        c.send(publish(self.topic(), b"x" * 2000, qos=1, packet_id=1))
        c.expect_disconnect(RC_PACKET_TOO_LARGE)

    def test_packet_just_under_limit_accepted(self):
        c = self.connected()
        self.assertEqual(c.publish(self.topic(), b"x" * 900, qos=1).reason_code, 0x10)


class MessageSizeLimit(BrokerTestCase):
    config = ["message_size_limit 100"]

    def test_oversized_payload_not_delivered(self):
        sub = self.connected(self.cid("s"))
        sub.subscribe(self.topic(), qos=1)
        pub = self.connected(self.cid("p"))
        self.assertGreaterEqual(pub.publish(self.topic(), b"x" * 200, qos=1).reason_code, 0x80)
        pub.publish(self.topic(), b"ok", qos=1)
        self.assertEqual([p.payload for p in sub.drain_publishes(0.4)], [b"ok"])

    @mqttd_only("Mosquitto answers 0x95, which is not a PUBACK reason code")
    def test_oversized_payload_gets_puback_0x97(self):
        """section 3.4.2.1: 0x97 Quota exceeded"""
        ack = self.connected().publish(self.topic(), b"x" * 200, qos=1)
        self.assertEqual(ack.reason_code, RC_QUOTA_EXCEEDED)

    @mqttd_only("Mosquitto drops an oversized QoS 0 message silently")
    def test_oversized_qos0_payload_gets_disconnect_0x97(self):
        """QoS 0 has no ack to carry the refusal, so DISCONNECT 0x97"""
        c = self.connected()
        c.send(publish(self.topic(), b"x" * 200))
        c.expect_disconnect(RC_QUOTA_EXCEEDED)


class MaxQos(BrokerTestCase):
    config = ["max_qos 1"]

    def test_connack_advertises_maximum_qos(self):
        """[MQTT-3.2.2-9]"""
        self.assertEqual(self.client().connect(self.cid()).props[MAXIMUM_QOS], 1)

    def test_subscribe_at_qos2_granted_at_most_1(self):
        """[MQTT-3.2.2-10]"""
        ack = self.connected().subscribe(self.topic(), qos=2)
        self.assertEqual(ack.reason_codes, [1])

    def test_publish_above_maximum_qos_gets_disconnect_0x9b(self):
        """[MQTT-3.2.2-11] section 3.2.2.3.4: DISCONNECT 0x9B QoS not supported"""
        c = self.connected()
        c.send(publish(self.topic(), b"x", qos=2, packet_id=1))
        c.expect_disconnect(RC_QOS_NOT_SUPPORTED)

    def test_will_qos_above_maximum_refused_with_connack_0x9b(self):
        """[MQTT-3.2.2-12]"""
        c = self.client()
        ack = c.connect(self.cid(), will_topic=self.topic(), will_payload=b"w", will_qos=2)
        self.assertEqual(ack.reason_code, RC_QOS_NOT_SUPPORTED)
        c.assert_closed()


class Inflight(BrokerTestCase):
    config = ["max_inflight_messages 3"]

    def test_receive_maximum_is_max_inflight_messages(self):
        self.assertEqual(self.client().connect(self.cid()).props[RECEIVE_MAXIMUM], 3)

    @mqttd_only("Mosquitto uses the v5 client's Receive Maximum alone")
    def test_outbound_window_capped_by_max_inflight_messages(self):
        """the client allows 100 unacked, we send at most 3"""
        sub = self.connected(self.cid("s"), props={RECEIVE_MAXIMUM: 100})
        sub.subscribe(self.topic(), qos=1)
        pub = self.connected(self.cid("p"))
        for i in range(6):
            pub.publish(self.topic(), b"%d" % i, qos=1)
        window = sub.drain_publishes(0.5, ack_it=False)
        self.assertEqual(len(window), 3)
        for p in window:
            sub.ack(p)
        self.assertEqual(len(sub.recv_publishes(3)), 3)


class TopicLevels(BrokerTestCase):
    config = ["max_topic_levels 3"]

    def test_filter_with_too_many_levels_gets_suback_0x8f(self):
        ack = self.connected().subscribe([("a/b/c", 0), ("a/b/c/d", 0), ("a/+/c/#", 0)])
        self.assertEqual(ack.reason_codes, [0, RC_TOPIC_FILTER_INVALID, RC_TOPIC_FILTER_INVALID])

    def test_topic_with_too_many_levels_gets_puback_0x90(self):
        sub = self.connected(self.cid("s"))
        sub.subscribe("#", qos=1)
        ack = self.connected(self.cid("p")).publish("a/b/c/d", b"x", qos=1)
        self.assertEqual(ack.reason_code, RC_TOPIC_NAME_INVALID)
        sub.expect_nothing(0.3)


class SubscriptionsPerClient(BrokerTestCase):
    config = ["max_subscriptions_per_client 2"]

    def test_subscription_beyond_limit_gets_suback_0x97(self):
        c = self.connected()
        ack = c.subscribe([(self.topic("a"), 0), (self.topic("b"), 0), (self.topic("c"), 0)])
        self.assertEqual(ack.reason_codes, [0, 0, RC_QUOTA_EXCEEDED])
        self.assertEqual(c.subscribe(self.topic("a"), qos=1).reason_codes, [1])  # replace: ok
        c.unsubscribe([self.topic("b")])
        self.assertEqual(c.subscribe(self.topic("c"), qos=0).reason_codes, [0])


class TopicLength(BrokerTestCase):
    config = ["max_topic_length 10"]

    def test_topic_name_too_long_gets_puback_0x90(self):
        self.assertEqual(self.connected().publish("0123456789a", b"x", qos=1).reason_code,
                         RC_TOPIC_NAME_INVALID)

    def test_topic_filter_too_long_gets_suback_0x8f(self):
        ack = self.connected().subscribe([("0123456789/#", 0), ("short/#", 0)])
        self.assertEqual(ack.reason_codes, [RC_TOPIC_FILTER_INVALID, 0])


class QueuedBytes(BrokerTestCase):
    config = ["max_queued_bytes 100"]

    def test_offline_queue_bounded_by_bytes(self):
        """max_queued_bytes 100: five 40-byte payloads do not all fit; the oldest are kept
        (what counts as a queued byte is the broker's choice)"""
        sub = self.connected(self.cid("s"), props={SESSION_EXPIRY_INTERVAL: 60})
        sub.subscribe(self.topic(), qos=1)
        sub.disconnect()
        pub = self.connected(self.cid("p"))
        for i in range(5):
            pub.publish(self.topic(), b"%d" % i * 40, qos=1)
        sub = self.client()
        sub.connect(self.cid("s"), clean_start=False, props={SESSION_EXPIRY_INTERVAL: 60})
        got = [p.payload for p in sub.drain_publishes(0.4)]
        self.assertTrue(1 <= len(got) <= 3, got)
        self.assertEqual(got, [b"%d" % i * 40 for i in range(len(got))])


class SessionExpiryCap(BrokerTestCase):
    config = ["max_session_expiry 1"]

    def test_capped_session_expiry_sent_in_connack_and_enforced(self):
        """section 3.2.2.3.2: the server tells the client the Session Expiry Interval it uses"""
        c = self.client()
        ack = c.connect(self.cid(), props={SESSION_EXPIRY_INTERVAL: 60})
        self.assertEqual(ack.props[SESSION_EXPIRY_INTERVAL], 1)
        c.subscribe(self.topic(), qos=1)
        c.disconnect()
        time.sleep(2.1)
        ack = self.client().connect(self.cid(), clean_start=False,
                                    props={SESSION_EXPIRY_INTERVAL: 60})
        self.assertFalse(ack.session_present)


if __name__ == "__main__":
    main()
