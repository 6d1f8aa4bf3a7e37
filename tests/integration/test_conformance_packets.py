"""Conformance gaps closed at the packet level: what a received packet must look like (strings,
flags, CONNECT payload fields), the Packet Identifiers and reason codes mqttd puts on the
packets it sends. Each test names the MQTT 5.0 statements it checks (docs/CONFORMANCE.md)."""

import struct

from mqtt_harness import (
    AUTH, BrokerTestCase, CONNACK, CONTENT_TYPE, DISCONNECT, PAYLOAD_FORMAT_INDICATOR, PUBACK,
    PUBCOMP, PUBLISH, PUBREC, PUBREL, RC_MALFORMED_PACKET, RESPONSE_TOPIC, SUBACK, UNSUBACK,
    USER_PROPERTY, ack, connect, enc_bin, enc_props, enc_str, enc_varint, fixed_header, main,
    publish, subscribe, unsubscribe)

# Reason codes each packet may carry (MQTT 5.0 tables 3-1, 3-8 ... 3-13 and 3-10).
CONNACK_CODES = {0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C,
                 0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F}
PUBACK_CODES = {0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99}
PUBREC_CODES = PUBACK_CODES
PUBREL_CODES = {0x00, 0x92}
PUBCOMP_CODES = {0x00, 0x92}
SUBACK_CODES = {0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2}
UNSUBACK_CODES = {0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91}


def publish_with_raw_props(topic, raw_props, qos=0, packet_id=None):
    """A PUBLISH whose property bytes are given as is (to send ill-formed strings)."""
    body = enc_str(topic) + (struct.pack("!H", packet_id) if qos else b"")
    body += enc_varint(len(raw_props)) + raw_props
    return fixed_header(PUBLISH, qos << 1, body + b"payload")


def connect_body(flags, payload):
    """A v5 CONNECT with the given flags byte and hand-made payload (no properties)."""
    return fixed_header(1, 0, enc_str("MQTT") + bytes([5, flags]) + struct.pack("!H", 60) +
                        enc_props(None) + payload)


class ReceivedStrings(BrokerTestCase):
    """Strings in a received packet are checked like any UTF-8 Encoded String."""

    def _refused_as_malformed(self, raw_props):
        c = self.connected()
        c.send(publish_with_raw_props(self.topic(), raw_props))
        c.expect_disconnect(RC_MALFORMED_PACKET)

    def test_user_property_with_ill_formed_utf8_key_is_malformed(self):
        """[MQTT-1.5.7-1] [MQTT-1.5.4-1]"""
        self._refused_as_malformed(bytes([USER_PROPERTY]) + enc_str(b"\xc0\x80") + enc_str("v"))

    def test_user_property_with_nul_in_value_is_malformed(self):
        """[MQTT-1.5.7-1] [MQTT-1.5.4-2]"""
        self._refused_as_malformed(bytes([USER_PROPERTY]) + enc_str("k") + enc_str(b"a\x00b"))

    def test_response_topic_with_ill_formed_utf8_is_malformed(self):
        """[MQTT-3.3.2-13]"""
        self._refused_as_malformed(bytes([RESPONSE_TOPIC]) + enc_str(b"r/\xed\xa0\x80"))

    def test_content_type_with_ill_formed_utf8_is_malformed(self):
        """[MQTT-3.3.2-19]"""
        self._refused_as_malformed(bytes([CONTENT_TYPE]) + enc_str(b"text/\xff"))

    def test_response_topic_with_wildcard_is_never_forwarded(self):
        """[MQTT-3.3.2-14]: mqttd forwards the Response Topic unaltered [MQTT-3.3.2-15], so one
        with a wildcard must be refused or at least not passed on to a subscriber."""
        sub = self.connected(self.cid("s"))
        sub.subscribe(self.topic(), qos=1)
        pub = self.connected(self.cid("p"))
        pub.send(publish(self.topic(), b"x", qos=1, packet_id=1, props={RESPONSE_TOPIC: "r/#"}))
        for p in sub.drain_publishes(0.5):
            self.assertNotIn("#", p.props.get(RESPONSE_TOPIC, ""), p)


class ReceivedFlags(BrokerTestCase):

    def test_pubrel_with_flags_0000_is_malformed(self):
        """[MQTT-3.6.1-1] [MQTT-2.1.3-1]"""
        c = self.connected()
        c.send(publish(self.topic(), b"x", qos=2, packet_id=5))
        c.expect(PUBREC)
        c.send(fixed_header(PUBREL, 0x00, struct.pack("!H", 5)))
        c.expect_disconnect(RC_MALFORMED_PACKET)

    def test_auth_with_reserved_flag_set_closes_the_connection(self):
        """[MQTT-3.15.1-1] [MQTT-4.13.1-1]: malformed (0x81) or, as no authentication method
        was given, a protocol error; either way a DISCONNECT of 0x80 or more, then close"""
        c = self.connected()
        c.send(fixed_header(AUTH, 0x01, bytes([0x18]) + enc_props(None)))
        d = c.assert_closed()
        self.assertIsNotNone(d)
        self.assertGreaterEqual(d.reason_code, 0x80)


class ConnectPayload(BrokerTestCase):
    """The CONNECT flags say which payload fields follow; a mismatch is a malformed CONNECT."""

    def _refused(self, packet):
        c = self.client()
        c.send(packet)
        try:
            p = c.recv()
        except AssertionError:
            return  # closed without CONNACK: allowed by [MQTT-3.1.4-1]
        self.assertEqual(p.type, CONNACK, p)
        self.assertGreaterEqual(p.reason_code, 0x80, p)
        self.assertFalse(p.session_present)
        c.assert_closed()

    def test_will_flag_without_will_fields_is_refused(self):
        """[MQTT-3.1.2-9] [MQTT-3.1.4-1]"""
        self._refused(connect_body(0x06, enc_str(self.cid())))

    def test_will_flag_with_will_topic_but_no_will_payload_is_refused(self):
        """[MQTT-3.1.2-9]"""
        self._refused(connect_body(0x06, enc_str(self.cid()) + enc_props(None) + enc_str("w")))

    def test_user_name_present_without_its_flag_is_refused(self):
        """[MQTT-3.1.2-16]"""
        self._refused(connect_body(0x02, enc_str(self.cid()) + enc_str("user")))

    def test_password_present_without_its_flag_is_refused(self):
        """[MQTT-3.1.2-18]"""
        self._refused(connect_body(0x82, enc_str(self.cid()) + enc_str("user") +
                                   enc_bin(b"secret")))

    def test_every_payload_field_in_order_is_accepted_and_used(self):
        """[MQTT-3.1.3-1]: client id, will properties, will topic, will payload, user name,
        password; the will is then published from those fields"""
        w = self.connected(self.cid("w"))
        w.subscribe(self.topic(), qos=1)
        c = self.client()
        ack_ = c.connect(self.cid("c"), will_topic=self.topic(), will_payload=b"bye", will_qos=1,
                         will_props={PAYLOAD_FORMAT_INDICATOR: 1}, username="u", password=b"p")
        self.assertEqual(ack_.reason_code, 0, ack_)
        c.close()
        p = w.recv_publish()
        self.assertEqual((p.topic, p.payload, p.props.get(PAYLOAD_FORMAT_INDICATOR)),
                         (self.topic(), b"bye", 1))


class PacketIdentifiers(BrokerTestCase):

    def _pair(self, qos, **sub_kw):
        sub = self.connected(self.cid("s"), **sub_kw)
        sub.subscribe(self.topic("#"), qos=qos)
        return sub, self.connected(self.cid("p"))

    def test_qos0_delivery_has_no_packet_identifier(self):
        """[MQTT-2.2.1-2]: the decoder reads no identifier for QoS 0, so one sent anyway would
        show up in the topic or the payload"""
        sub, pub = self._pair(0)
        pub.publish(self.topic("a"), b"zero")
        p = sub.recv_publish()
        self.assertEqual((p.qos, p.packet_id, p.topic, p.payload),
                         (0, None, self.topic("a"), b"zero"))

    def test_acknowledgements_carry_the_publish_packet_identifier(self):
        """[MQTT-2.2.1-5]: PUBACK, PUBREC and PUBCOMP from mqttd answer the identifiers sent"""
        c = self.connected()
        c.send(publish(self.topic(), b"1", qos=1, packet_id=0x1234))
        self.assertEqual(c.expect(PUBACK).packet_id, 0x1234)
        c.send(publish(self.topic(), b"2", qos=2, packet_id=0xFEDC))
        self.assertEqual(c.expect(PUBREC).packet_id, 0xFEDC)
        c.send(ack(PUBREL, 0xFEDC))
        self.assertEqual(c.expect(PUBCOMP).packet_id, 0xFEDC)

    def test_pubrel_from_server_carries_its_publish_packet_identifier(self):
        """[MQTT-2.2.1-5] [MQTT-4.3.3-4]"""
        sub, pub = self._pair(2)
        pub.publish(self.topic("a"), b"x", qos=2)
        p = sub.recv_publish(ack_it=False)
        sub.send(ack(PUBREC, p.packet_id))
        self.assertEqual(sub.expect(PUBREL).packet_id, p.packet_id)
        sub.send(ack(PUBCOMP, p.packet_id))

    def test_suback_and_unsuback_carry_the_request_packet_identifier(self):
        """[MQTT-2.2.1-6] [MQTT-3.8.4-2] [MQTT-3.10.4-5]"""
        c = self.connected()
        c.send(subscribe(0x0A0B, [self.topic()]))
        self.assertEqual(c.expect(SUBACK).packet_id, 0x0A0B)
        c.send(unsubscribe(0xB0A0, [self.topic()]))
        self.assertEqual(c.expect(UNSUBACK).packet_id, 0xB0A0)

    def test_unacknowledged_deliveries_have_distinct_nonzero_identifiers(self):
        """[MQTT-4.3.2-1] [MQTT-4.3.3-1] [MQTT-2.2.1-4]"""
        sub, pub = self._pair(2)
        for i in range(5):
            pub.publish(self.topic("a"), b"%d" % i, qos=1)
            pub.publish(self.topic("b"), b"%d" % i, qos=2)
        got = [sub.recv_publish(ack_it=False) for _ in range(10)]
        ids = [p.packet_id for p in got]
        self.assertNotIn(0, ids)
        self.assertEqual(len(set(ids)), 10, ids)


class OutgoingPublish(BrokerTestCase):

    def test_dup_of_incoming_publish_is_not_copied_to_the_delivery(self):
        """[MQTT-3.3.1-3]: a first delivery has DUP 0 whatever the publisher's DUP was"""
        sub = self.connected(self.cid("s"))
        sub.subscribe(self.topic(), qos=1)
        pub = self.connected(self.cid("p"))
        pub.send(publish(self.topic(), b"x", qos=1, dup=True, packet_id=9))
        pub.expect(PUBACK)
        p = sub.recv_publish()
        self.assertEqual((p.qos, p.dup), (1, False))

    def test_topic_name_delivered_is_the_published_one_matching_the_filter(self):
        """[MQTT-3.3.2-3]"""
        sub = self.connected(self.cid("s"))
        sub.subscribe(self.topic("+/x/#"), qos=0)
        pub = self.connected(self.cid("p"))
        pub.publish(self.topic("a/x/b/c"), b"1")
        self.assertEqual(sub.recv_publish().topic, self.topic("a/x/b/c"))


class AckReasonCodes(BrokerTestCase):
    """Every reason code mqttd sends comes from the table of its packet."""

    def test_puback_and_pubrec_codes_come_from_their_tables(self):
        """[MQTT-3.4.2-1] [MQTT-3.5.2-1]: success, no subscribers, invalid payload format"""
        c = self.connected()
        c.send(publish("nobody/listens", b"x", qos=1, packet_id=1))
        self.assertIn(c.expect(PUBACK).reason_code, PUBACK_CODES)
        c.send(publish("nobody/listens", b"\xff", qos=1, packet_id=2,
                       props={PAYLOAD_FORMAT_INDICATOR: 1}))
        self.assertIn(c.expect(PUBACK).reason_code, PUBACK_CODES)
        c.send(publish("nobody/listens", b"\xff", qos=2, packet_id=3,
                       props={PAYLOAD_FORMAT_INDICATOR: 1}))
        self.assertIn(c.expect(PUBREC).reason_code, PUBREC_CODES)

    def test_pubrel_and_pubcomp_codes_come_from_their_tables(self):
        """[MQTT-3.6.2-1] [MQTT-3.7.2-1]: PUBREL for a delivery, PUBCOMP for a known and an
        unknown PUBREL"""
        sub = self.connected(self.cid("s"))
        sub.subscribe(self.topic(), qos=2)
        pub = self.connected(self.cid("p"))
        pub.send(publish(self.topic(), b"x", qos=2, packet_id=4))
        self.assertIn(pub.expect(PUBREC).reason_code, PUBREC_CODES)
        pub.send(ack(PUBREL, 4))
        self.assertIn(pub.expect(PUBCOMP).reason_code, PUBCOMP_CODES)
        pub.send(ack(PUBREL, 77))
        self.assertIn(pub.expect(PUBCOMP).reason_code, PUBCOMP_CODES)
        p = sub.recv_publish(ack_it=False)
        sub.send(ack(PUBREC, p.packet_id))
        self.assertIn(sub.expect(PUBREL).reason_code, PUBREL_CODES)
        sub.send(ack(PUBCOMP, p.packet_id))


class ReasonCodeTables(BrokerTestCase):
    """The same with a server limit (max_qos 1) that produces more refusals."""

    config = ["max_qos 1"]

    def test_connack_codes_come_from_the_connect_table(self):
        """[MQTT-3.2.2-8]"""
        cases = [connect(self.cid("a")),
                 connect("", clean_start=False),
                 connect(self.cid("b"), props={0x15: "unknown-method"}),
                 connect(self.cid("c"), protocol_level=6),
                 connect(self.cid("d"), will_topic="w", will_qos=2)]
        for packet in cases:
            c = self.client()
            c.send(packet)
            p = c.expect(CONNACK)
            self.assertIn(p.reason_code, CONNACK_CODES, p)
            c.close()

    def test_suback_and_unsuback_codes_come_from_their_tables(self):
        """[MQTT-3.9.3-2] [MQTT-3.11.3-2]"""
        c = self.connected()
        s = c.subscribe([(self.topic(), 2), ("bad/#/filter", 0), ("$share//x", 0),
                         (self.topic("x"), 0)])
        for code in s.reason_codes:
            self.assertIn(code, SUBACK_CODES, s)
        self.assertEqual(s.reason_codes[0], 1)  # granted QoS capped by max_qos
        u = c.unsubscribe([self.topic(), "never/subscribed"])
        for code in u.reason_codes:
            self.assertIn(code, UNSUBACK_CODES, u)
        self.assertEqual(u.reason_codes, [0x00, 0x11])

    def test_disconnect_codes_come_from_the_disconnect_table(self):
        """[MQTT-3.14.2-1]: protocol error, malformed packet, QoS not supported, takeover"""
        allowed = {0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90,
                   0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F,
                   0xA0, 0xA1, 0xA2}
        sent = []
        c = self.connected(self.cid("a"))
        c.send(connect(self.cid("a")))
        sent.append(c.assert_closed())
        c = self.connected(self.cid("b"))
        c.send(fixed_header(PUBLISH, 0x06, enc_str("t") + b"\x00\x01\x00"))
        sent.append(c.assert_closed())
        c = self.connected(self.cid("c"))
        c.send(publish(self.topic(), b"x", qos=2, packet_id=1))
        sent.append(c.assert_closed())
        old = self.connected(self.cid("d"))
        self.connected(self.cid("d"))
        sent.append(old.assert_closed())
        for d in sent:
            self.assertIsNotNone(d)
            self.assertEqual(d.type, DISCONNECT)
            self.assertIn(d.reason_code, allowed, d)


if __name__ == "__main__":
    main()
