"""The QoS 1 / QoS 2 state machines: duplicates, packet identifier reuse, retransmission after
reconnect, and Receive Maximum (flow control) in both directions."""

from mqtt_harness import (
    BrokerTestCase, PUBACK, PUBCOMP, PUBLISH, PUBREC, PUBREL, RC_PACKET_IDENTIFIER_NOT_FOUND,
    RC_RECEIVE_MAXIMUM_EXCEEDED, RECEIVE_MAXIMUM, SESSION_EXPIRY_INTERVAL, ack, main, mqttd_only,
    publish)

PERSIST = {SESSION_EXPIRY_INTERVAL: 60}


class InboundStateMachine(BrokerTestCase):
    """Client -> server flows."""

    def _sub(self):
        sub = self.connected(self.cid("s"))
        sub.subscribe(self.topic(), qos=2)
        return sub

    def test_qos2_duplicate_publish_before_pubrel_delivered_once(self):
        """[MQTT-4.3.3-10]: the resent PUBLISH gets PUBREC again, no second delivery"""
        sub = self._sub()
        pub = self.connected(self.cid("p"))
        pub.send(publish(self.topic(), b"once", qos=2, packet_id=5))
        self.assertEqual(pub.expect(PUBREC).packet_id, 5)
        pub.send(publish(self.topic(), b"once", qos=2, packet_id=5, dup=True))
        self.assertEqual(pub.expect(PUBREC).packet_id, 5)
        pub.send(ack(PUBREL, 5))
        self.assertEqual(pub.expect(PUBCOMP).packet_id, 5)
        self.assertEqual([p.payload for p in sub.drain_publishes(0.5)], [b"once"])

    def test_qos1_packet_id_reused_after_puback_is_new_message(self):
        """[MQTT-4.3.2-5]"""
        sub = self._sub()
        pub = self.connected(self.cid("p"))
        pub.publish(self.topic(), b"first", qos=1, packet_id=7)
        pub.publish(self.topic(), b"second", qos=1, packet_id=7, dup=True)
        self.assertEqual([p.payload for p in sub.recv_publishes(2)], [b"first", b"second"])

    def test_qos2_packet_id_reused_after_pubcomp_is_new_message(self):
        """[MQTT-4.3.3-12]"""
        sub = self._sub()
        pub = self.connected(self.cid("p"))
        pub.publish(self.topic(), b"first", qos=2, packet_id=9)
        pub.publish(self.topic(), b"second", qos=2, packet_id=9)
        self.assertEqual([p.payload for p in sub.recv_publishes(2)], [b"first", b"second"])

    def test_pubrel_for_unknown_packet_id_completes(self):
        """[MQTT-4.3.3-11]: PUBREL is always answered by PUBCOMP"""
        c = self.connected()
        c.send(ack(PUBREL, 77))
        self.assertEqual(c.expect(PUBCOMP).packet_id, 77)

    @mqttd_only("Mosquitto answers 0x00")
    def test_pubrel_for_unknown_packet_id_gets_pubcomp_0x92(self):
        """section 3.7.2.1: PUBCOMP 0x92 Packet Identifier not found"""
        c = self.connected()
        c.send(ack(PUBREL, 78))
        self.assertEqual(c.expect(PUBCOMP).reason_code, RC_PACKET_IDENTIFIER_NOT_FOUND)

    def test_puback_for_unknown_packet_id_is_ignored(self):
        """section 4.13: not an error worth closing for; the connection stays usable"""
        c = self.connected()
        c.send(ack(PUBACK, 1234))
        c.send(ack(PUBCOMP, 1235))
        c.ping()

    def test_qos2_publish_is_forwarded_on_receipt_not_on_pubrel(self):
        """[MQTT-4.3.3-8] method A or B both deliver exactly once after PUBREL at the latest"""
        sub = self._sub()
        pub = self.connected(self.cid("p"))
        pub.send(publish(self.topic(), b"m", qos=2, packet_id=3))
        pub.expect(PUBREC)
        pub.send(ack(PUBREL, 3))
        pub.expect(PUBCOMP)
        self.assertEqual(sub.recv_publish().payload, b"m")


class Retransmission(BrokerTestCase):
    """[MQTT-4.4.0-1]: unacknowledged PUBLISH and PUBREL are resent after a reconnect with
    Clean Start 0, with their original packet identifiers."""

    def _session(self):
        sub = self.client()
        sub.connect(self.cid("s"), props=PERSIST)
        sub.subscribe(self.topic(), qos=2)
        return sub

    def _resume(self):
        sub = self.client()
        ack_ = sub.connect(self.cid("s"), clean_start=False, props=PERSIST)
        self.assertTrue(ack_.session_present)
        return sub

    def test_unacked_qos1_resent_with_dup_after_reconnect(self):
        """[MQTT-4.4.0-1] [MQTT-3.3.1-1]"""
        sub = self._session()
        self.connected(self.cid("p")).publish(self.topic(), b"q1", qos=1)
        first = sub.recv_publish(ack_it=False)
        self.assertFalse(first.dup)
        sub.close()
        sub = self._resume()
        again = sub.expect(PUBLISH)
        self.assertEqual((again.packet_id, again.payload, again.qos, again.dup),
                         (first.packet_id, b"q1", 1, True))
        sub.ack(again)
        sub.expect_nothing(0.5)

    def test_unacked_qos2_publish_resent_with_dup_after_reconnect(self):
        """[MQTT-4.4.0-1] [MQTT-3.3.1-1]"""
        sub = self._session()
        self.connected(self.cid("p")).publish(self.topic(), b"q2", qos=2)
        first = sub.recv_publish(ack_it=False)
        sub.close()
        sub = self._resume()
        again = sub.expect(PUBLISH)
        self.assertEqual((again.packet_id, again.qos, again.dup), (first.packet_id, 2, True))
        sub.ack(again)

    def test_pubrel_resent_for_message_already_pubreced(self):
        """[MQTT-4.4.0-1] [MQTT-4.3.3-6]: PUBREL again, never the PUBLISH"""
        sub = self._session()
        self.connected(self.cid("p")).publish(self.topic(), b"q2", qos=2)
        first = sub.recv_publish(ack_it=False)
        sub.send(ack(PUBREC, first.packet_id))
        self.assertEqual(sub.expect(PUBREL).packet_id, first.packet_id)
        sub.close()
        sub = self._resume()
        rel = sub.expect(PUBREL)
        self.assertEqual(rel.packet_id, first.packet_id)
        sub.send(ack(PUBCOMP, rel.packet_id))
        sub.expect_nothing(0.5)

    def test_resent_messages_keep_their_order(self):
        """[MQTT-4.6.0-5] with [MQTT-4.4.0-1]"""
        sub = self._session()
        pub = self.connected(self.cid("p"))
        for i in range(3):
            pub.publish(self.topic(), b"%d" % i, qos=1)
        sub.recv_publishes(3, ack_it=False)
        sub.close()
        sub = self._resume()
        self.assertEqual([p.payload for p in sub.recv_publishes(3)], [b"0", b"1", b"2"])

    def test_no_resend_on_the_same_connection(self):
        """[MQTT-4.4.0-1]: resending happens only on reconnect"""
        sub = self._session()
        self.connected(self.cid("p")).publish(self.topic(), b"x", qos=1)
        sub.recv_publish(ack_it=False)
        sub.expect_nothing(1.0)


class FlowControlInbound(BrokerTestCase):
    config = ["max_inflight_messages 2"]

    @mqttd_only("Mosquitto 2.0 does not enforce its Receive Maximum")
    def test_client_exceeding_receive_maximum_gets_disconnect_0x93(self):
        """[MQTT-3.3.4-7] section 3.3.4: DISCONNECT 0x93 Receive Maximum exceeded"""
        c = self.client()
        self.assertEqual(c.connect(self.cid()).props[RECEIVE_MAXIMUM], 2)
        c.send(publish(self.topic(), b"1", qos=2, packet_id=1))
        c.send(publish(self.topic(), b"2", qos=2, packet_id=2))
        c.send(publish(self.topic(), b"3", qos=2, packet_id=3))
        c.expect_disconnect(RC_RECEIVE_MAXIMUM_EXCEEDED)

    def test_client_within_receive_maximum_is_fine(self):
        c = self.connected()
        for i in range(1, 3):
            c.send(publish(self.topic(), b"x", qos=2, packet_id=i))
        self.assertEqual([c.expect(PUBREC).packet_id for _ in range(2)], [1, 2])
        for i in range(1, 3):
            c.send(ack(PUBREL, i))
            self.assertEqual(c.expect(PUBCOMP).packet_id, i)


class FlowControlOutbound(BrokerTestCase):

    def _window_of_two(self):
        sub = self.connected(self.cid("s"), props={RECEIVE_MAXIMUM: 2})
        sub.subscribe(self.topic(), qos=1)
        pub = self.connected(self.cid("p"))
        for i in range(5):
            pub.publish(self.topic(), b"%d" % i, qos=1)
        window = sub.drain_publishes(0.5, ack_it=False)
        self.assertEqual([p.payload for p in window], [b"0", b"1"])
        return sub, window

    def test_server_sends_at_most_client_receive_maximum_unacked(self):
        """[MQTT-3.3.4-9] [MQTT-4.9.0-2]: RM 2, 5 messages: 2, the rest once acked"""
        sub, window = self._window_of_two()
        for p in window:
            sub.ack(p)
        self.assertEqual([p.payload for p in sub.recv_publishes(3)], [b"2", b"3", b"4"])

    @mqttd_only("Mosquitto 2.0 refills beyond the client's Receive Maximum")
    def test_window_never_exceeds_client_receive_maximum(self):
        """[MQTT-3.3.4-9]: acking two at a time never lets more than two be in flight"""
        sub, window = self._window_of_two()
        for p in window:
            sub.ack(p)
        rest = []
        while len(rest) < 3:
            batch = sub.drain_publishes(0.5, ack_it=False)
            self.assertTrue(batch, "the rest never came")
            self.assertLessEqual(len(batch), 2)
            for p in batch:
                sub.ack(p)
            rest += batch
        self.assertEqual([p.payload for p in rest], [b"2", b"3", b"4"])

    @mqttd_only("Mosquitto 2.0 refills more than the window after one PUBACK")
    def test_one_puback_releases_exactly_one_more(self):
        """[MQTT-3.3.4-9]: with 2 in flight and 1 acked, only 1 more is sent"""
        sub, window = self._window_of_two()
        sub.ack(window[0])
        third = sub.drain_publishes(0.5, ack_it=False)
        self.assertEqual([p.payload for p in third], [b"2"])

    def test_qos0_not_limited_by_receive_maximum(self):
        """[MQTT-4.9.0-3] / section 4.9: only QoS 1 and 2 count"""
        sub = self.connected(self.cid("s"), props={RECEIVE_MAXIMUM: 1})
        sub.subscribe(self.topic(), qos=1)
        pub = self.connected(self.cid("p"))
        pub.publish(self.topic(), b"q1", qos=1)
        for i in range(3):
            pub.publish(self.topic(), b"q0-%d" % i, qos=0)
        got = sub.drain_publishes(0.5, ack_it=False)
        self.assertEqual(sorted(p.payload for p in got), [b"q0-0", b"q0-1", b"q0-2", b"q1"])

    def test_other_packets_flow_while_quota_is_zero(self):
        """[MQTT-3.3.4-10] [MQTT-4.9.0-3]"""
        sub = self.connected(self.cid("s"), props={RECEIVE_MAXIMUM: 1})
        sub.subscribe(self.topic(), qos=1)
        pub = self.connected(self.cid("p"))
        pub.publish(self.topic(), b"a", qos=1)
        pub.publish(self.topic(), b"b", qos=1)
        sub.recv_publish(ack_it=False)
        sub.ping()
        self.assertEqual(sub.subscribe(self.topic("other"), qos=0).reason_codes, [0])


if __name__ == "__main__":
    main()
