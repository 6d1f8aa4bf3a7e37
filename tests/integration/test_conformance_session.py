"""Conformance gaps closed around the connection and the session: refused connections, the one
CONNACK, what follows a DISCONNECT from the server, and the QoS 1/2 state kept across
reconnects (what stays unacknowledged, what expiry cannot touch, what is never re-sent). Each
test names the MQTT 5.0 statements it checks (docs/CONFORMANCE.md)."""

import time

from mqtt_harness import (
    AUTH, AUTHENTICATION_METHOD, BrokerTestCase, CONNACK, DISCONNECT, MESSAGE_EXPIRY_INTERVAL,
    PAYLOAD_FORMAT_INDICATOR, PUBACK, PUBCOMP, PUBLISH, PUBREC, PUBREL, RC_PAYLOAD_FORMAT_INVALID,
    RECEIVE_MAXIMUM, SESSION_EXPIRY_INTERVAL, ack, connect, main, publish)


class Handshake(BrokerTestCase):

    config = ["allow_anonymous false"]

    def test_refused_connect_gets_connack_not_disconnect(self):
        """[MQTT-3.14.0-1] [MQTT-4.13.2-1]: no DISCONNECT before a successful CONNACK, and the
        connection is closed after a CONNACK of 0x80 or more"""
        c = self.client()
        c.send(connect(self.cid()))
        seen = []
        while True:
            try:
                seen.append(c.recv())
            except AssertionError:
                break
        self.assertEqual([p.type for p in seen], [CONNACK])
        self.assertGreaterEqual(seen[0].reason_code, 0x80)


class Connection(BrokerTestCase):

    def test_refused_connect_ignores_what_the_client_sends_next(self):
        """[MQTT-3.1.4-6] [MQTT-3.2.2-6] [MQTT-3.2.2-7]: a retained PUBLISH sent right behind a
        refused CONNECT (unknown authentication method) is neither delivered nor retained"""
        live = self.connected(self.cid("l"))
        live.subscribe(self.topic(), qos=1)
        c = self.client()
        c.send(connect(self.cid(), props={AUTHENTICATION_METHOD: "no-such-method"}) +
               publish(self.topic(), b"sneaked", qos=1, packet_id=1, retain=True))
        p = c.expect(CONNACK)
        self.assertGreaterEqual(p.reason_code, 0x80)
        self.assertFalse(p.session_present)
        c.assert_closed()
        live.expect_nothing(0.3)
        late = self.connected(self.cid("t"))
        late.subscribe(self.topic(), qos=1)
        late.expect_nothing(0.3)

    def test_empty_client_id_with_clean_start_0_is_rejected_with_0x85_and_closed(self):
        """[MQTT-3.1.3-8]: mqttd assigns identifiers only to new sessions"""
        c = self.client()
        p = c.connect("", clean_start=False)
        self.assertEqual((p.reason_code, p.session_present), (0x85, False))
        c.assert_closed()

    def test_second_connect_gets_no_second_connack(self):
        """[MQTT-3.2.0-2] [MQTT-3.1.0-2]"""
        c = self.connected()
        c.send(connect(self.cid()))
        d = c.assert_closed()
        self.assertIsNotNone(d)
        self.assertEqual(d.type, DISCONNECT)

    def test_no_auth_and_no_authentication_method_without_one_in_connect(self):
        """[MQTT-4.12.0-6]"""
        c = self.client()
        p = c.connect(self.cid())
        self.assertNotIn(AUTHENTICATION_METHOD, p.props)
        c.ping()
        self.assertFalse([q for q in c.pending if q.type == AUTH])

    def test_server_disconnect_is_last_packet_then_connection_closes(self):
        """[MQTT-3.14.4-1] [MQTT-3.14.4-2] [MQTT-4.13.2-1] [MQTT-3.14.2-2]: a takeover
        DISCONNECT (0x8E) carries no Session Expiry Interval, nothing follows it, the
        connection closes"""
        old = self.connected(self.cid(), props={SESSION_EXPIRY_INTERVAL: 30})
        old.subscribe(self.topic(), qos=1)
        self.connected(self.cid(), clean_start=False, props={SESSION_EXPIRY_INTERVAL: 30})
        d = old.recv()
        self.assertEqual((d.type, d.reason_code), (DISCONNECT, 0x8E))
        self.assertNotIn(SESSION_EXPIRY_INTERVAL, d.props)
        pub = self.connected(self.cid("p"))
        pub.publish(self.topic(), b"after", qos=1)
        self.assertIsNone(old.assert_closed())

    def test_client_ids_identify_separate_sessions(self):
        """[MQTT-3.1.3-2]: a subscription made under one ClientID is found again under it, not
        under another"""
        a = self.connected(self.cid("a"), props={SESSION_EXPIRY_INTERVAL: 30})
        a.subscribe(self.topic(), qos=1)
        a.disconnect()
        b = self.client()
        self.assertFalse(b.connect(self.cid("b"), clean_start=False,
                                   props={SESSION_EXPIRY_INTERVAL: 30}).session_present)
        a = self.client()
        self.assertTrue(a.connect(self.cid("a"), clean_start=False,
                                  props={SESSION_EXPIRY_INTERVAL: 30}).session_present)
        self.connected(self.cid("p")).publish(self.topic(), b"x", qos=1)
        self.assertEqual(a.recv_publish().payload, b"x")
        b.expect_nothing(0.3)


class UnacknowledgedState(BrokerTestCase):
    """Outgoing QoS 1/2 state stays until its acknowledgement, across a reconnect."""

    def _subscriber(self, suffix="s", clean_start=True, props=None):
        props = dict(props or {})
        props.setdefault(SESSION_EXPIRY_INTERVAL, 60)
        c = self.client()
        ack_ = c.connect(self.cid(suffix), clean_start=clean_start, props=props)
        self.assertEqual(ack_.reason_code, 0, ack_)
        return c

    def _publish(self, payload, qos, props=None):
        self.connected(self.cid("p")).publish(self.topic(), payload, qos=qos, props=props)

    def test_qos1_publish_unacknowledged_until_puback(self):
        """[MQTT-4.3.2-3] [MQTT-4.4.0-1]"""
        s = self._subscriber()
        s.subscribe(self.topic(), qos=1)
        self._publish(b"one", 1)
        first = s.recv_publish(ack_it=False)
        s.close()
        s = self._subscriber(clean_start=False)
        again = s.recv_publish(ack_it=False)
        self.assertEqual((again.packet_id, again.payload, again.dup), (first.packet_id, b"one",
                                                                       True))
        s.send(ack(PUBACK, again.packet_id))
        s.ping()  # the acknowledgement is processed before the connection goes (in order)
        s.close()
        s = self._subscriber(clean_start=False)
        s.expect_nothing(0.4)

    def test_qos2_publish_unacknowledged_until_pubrec_and_pubrel_until_pubcomp(self):
        """[MQTT-4.3.3-3] [MQTT-4.3.3-5] [MQTT-4.3.3-6]"""
        s = self._subscriber()
        s.subscribe(self.topic(), qos=2)
        self._publish(b"two", 2)
        first = s.recv_publish(ack_it=False)
        s.close()
        s = self._subscriber(clean_start=False)
        again = s.recv_publish(ack_it=False)
        self.assertEqual((again.packet_id, again.dup), (first.packet_id, True))
        s.send(ack(PUBREC, again.packet_id))
        s.expect(PUBREL)
        s.close()
        s = self._subscriber(clean_start=False)
        rel = s.expect(PUBREL)
        self.assertEqual(rel.packet_id, first.packet_id)
        s.send(ack(PUBCOMP, rel.packet_id))
        s.ping()  # else the next connection may take the session over before PUBCOMP is read
        s.close()
        s = self._subscriber(clean_start=False)
        s.expect_nothing(0.4)

    def test_qos2_message_sent_is_not_expired(self):
        """[MQTT-4.3.3-7]: once the PUBLISH went out, its Message Expiry no longer applies"""
        s = self._subscriber()
        s.subscribe(self.topic(), qos=2)
        self._publish(b"keep", 2, {MESSAGE_EXPIRY_INTERVAL: 1})
        first = s.recv_publish(ack_it=False)
        s.close()
        time.sleep(2.2)
        s = self._subscriber(clean_start=False)
        again = s.recv_publish(ack_it=False)
        self.assertEqual((again.packet_id, again.payload), (first.packet_id, b"keep"))

    def test_rejecting_acknowledgement_ends_the_delivery(self):
        """[MQTT-4.4.0-2]: PUBACK or PUBREC of 0x80 or more acknowledges; nothing is re-sent"""
        s = self._subscriber()
        s.subscribe(self.topic("1"), qos=1)
        s.subscribe(self.topic("2"), qos=2)
        self.connected(self.cid("p")).publish(self.topic("1"), b"a", qos=1)
        self.connected(self.cid("q")).publish(self.topic("2"), b"b", qos=2)
        for p in (s.recv_publish(ack_it=False), s.recv_publish(ack_it=False)):
            s.send(ack(PUBACK if p.qos == 1 else PUBREC, p.packet_id, 0x80))
        s.expect_nothing(0.3)
        s.close()
        s = self._subscriber(clean_start=False)
        s.expect_nothing(0.5)

    def test_initial_send_quota_is_the_client_receive_maximum(self):
        """[MQTT-4.9.0-1] [MQTT-3.3.4-9]: Receive Maximum 1 lets exactly one through at first"""
        s = self._subscriber(props={RECEIVE_MAXIMUM: 1})
        s.subscribe(self.topic(), qos=1)
        pub = self.connected(self.cid("p"))
        for i in range(3):
            pub.publish(self.topic(), b"%d" % i, qos=1)
        first = s.recv_publish(ack_it=False)
        s.expect_nothing(0.4)
        s.send(ack(PUBACK, first.packet_id))
        self.assertEqual(s.recv_publish().payload, b"1")


class InboundQos2(BrokerTestCase):

    def test_handshake_completes_after_the_message_expired(self):
        """[MQTT-4.3.3-13]"""
        c = self.connected()
        c.send(publish(self.topic(), b"x", qos=2, packet_id=3,
                       props={MESSAGE_EXPIRY_INTERVAL: 1}))
        self.assertLess(c.expect(PUBREC).reason_code, 0x80)
        time.sleep(1.5)
        c.send(ack(PUBREL, 3))
        comp = c.expect(PUBCOMP)
        self.assertEqual((comp.packet_id, comp.reason_code), (3, 0))

    def test_identifier_after_failed_pubrec_starts_a_new_publication(self):
        """[MQTT-4.3.3-9]: PUBREC 0x99 ends the exchange; the same identifier is then new"""
        sub = self.connected(self.cid("s"))
        sub.subscribe(self.topic(), qos=2)
        c = self.connected(self.cid("p"))
        c.send(publish(self.topic(), b"\xff", qos=2, packet_id=8,
                       props={PAYLOAD_FORMAT_INDICATOR: 1}))
        self.assertEqual(c.expect(PUBREC).reason_code, RC_PAYLOAD_FORMAT_INVALID)
        c.send(publish(self.topic(), b"fine", qos=2, packet_id=8))
        self.assertEqual(c.expect(PUBREC).reason_code, 0)
        c.send(ack(PUBREL, 8))
        c.expect(PUBCOMP)
        self.assertEqual(sub.recv_publish().payload, b"fine")


class Unsubscribe(BrokerTestCase):

    def test_started_qos2_delivery_is_completed_after_unsubscribe(self):
        """[MQTT-3.10.4-3]"""
        s = self.connected(self.cid("s"))
        s.subscribe(self.topic(), qos=2)
        self.connected(self.cid("p")).publish(self.topic(), b"x", qos=2)
        p = s.recv_publish(ack_it=False)
        s.unsubscribe(self.topic())
        s.send(ack(PUBREC, p.packet_id))
        rel = s.expect(PUBREL)
        self.assertEqual(rel.packet_id, p.packet_id)
        s.send(ack(PUBCOMP, p.packet_id))
        s.expect_nothing(0.3)
        self.assertFalse([q for q in s.pending if q.type == PUBLISH])


if __name__ == "__main__":
    main()
