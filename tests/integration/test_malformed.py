"""Malformed packets and protocol errors: the server answers a v5 client with DISCONNECT and the
reason code the spec names, closes a 3.1.1 client without a word, and survives all of it.

Each case below becomes one test method; cases where Mosquitto deviates (closes silently or uses
another reason code) are mqttd-only."""

import socket

from mqtt_harness import (
    BrokerTestCase, CONTENT_TYPE, PUBLISH, SUBSCRIBE, SUBSCRIPTION_IDENTIFIER, UNSUBSCRIBE, V311,
    auth, connect, enc_str, fixed_header, main, mqttd_only, publish, subscribe)

# (name, spec ids, bytes sent after a successful CONNECT, reason code, Mosquitto agrees)
V5_CASES = [
    ("publish_qos_3", "[MQTT-3.3.1-4]",
     fixed_header(PUBLISH, 0x06, enc_str("a") + b"\x00\x01\x00"), 0x81, True),
    ("subscribe_reserved_header_flags", "[MQTT-3.8.1-1] [MQTT-2.1.3-1]",
     fixed_header(SUBSCRIBE, 0x00, b"\x00\x01\x00" + enc_str("a") + b"\x00"), 0x81, True),
    ("unsubscribe_reserved_header_flags", "[MQTT-3.10.1-1]",
     fixed_header(UNSUBSCRIBE, 0x00, b"\x00\x01\x00" + enc_str("a")), 0x81, True),
    ("topic_with_invalid_utf8", "[MQTT-1.5.4-1] [MQTT-3.3.2-1]",
     publish(b"a\xff", b"x"), 0x81, True),
    ("topic_with_surrogate", "[MQTT-1.5.4-1]",
     publish(b"a\xed\xa0\x80", b"x"), 0x81, True),
    ("topic_with_nul", "[MQTT-1.5.4-2] [MQTT-4.7.3-2]",
     publish(b"a\x00b", b"x"), 0x81, True),
    ("property_length_past_end", "[MQTT-2.2.2-1]",
     fixed_header(PUBLISH, 0, enc_str("a") + b"\x05\x01"), 0x81, True),
    ("subscription_options_reserved_bits", "[MQTT-3.8.3-5]",
     subscribe(1, [("a", 0xC0)]), 0x81, True),
    ("remaining_length_of_5_bytes", "[MQTT-1.5.5-1]",
     b"\x30\xff\xff\xff\xff\x01", 0x81, False),
    ("non_minimal_remaining_length", "[MQTT-1.5.5-1]",
     b"\xc0\x80\x00", 0x81, False),
    ("pingreq_with_body", "[MQTT-2.1.3-1] (PINGREQ has remaining length 0)",
     b"\xc0\x01\x00", 0x81, False),
    ("disconnect_reserved_flags", "[MQTT-3.14.1-1]",
     b"\xe1\x00", 0x81, False),
    ("qos0_publish_with_dup", "[MQTT-3.3.1-2]",
     publish("a", b"x", dup=True), 0x81, False),
    ("qos1_publish_with_packet_id_0", "[MQTT-2.2.1-3]",
     publish("a", b"x", qos=1, packet_id=0), 0x81, False),
    ("wildcard_in_topic_name", "[MQTT-3.3.2-2] [MQTT-4.7.0-1] (0x90 Topic Name invalid)",
     publish("a/+", b"x"), 0x90, False),
    ("subscribe_without_filters", "[MQTT-3.8.3-2] (a Protocol Error)",
     fixed_header(SUBSCRIBE, 0x02, b"\x00\x01\x00"), 0x82, False),
    ("unsubscribe_without_filters", "[MQTT-3.10.3-2] (a Protocol Error)",
     fixed_header(UNSUBSCRIBE, 0x02, b"\x00\x01\x00"), 0x82, False),
    ("property_twice", "section 3.3.2.3: Content Type twice is a Protocol Error",
     publish("a", b"x", props=[(CONTENT_TYPE, "a"), (CONTENT_TYPE, "b")]), 0x82, False),
    ("subscription_identifier_from_client", "[MQTT-3.3.4-6]",
     publish("a", b"x", props=[(SUBSCRIPTION_IDENTIFIER, 3)]), 0x82, False),
    ("empty_topic_without_alias", "section 3.3.2.3.4: zero-length topic needs a Topic Alias",
     publish("", b"x"), 0x82, True),
    ("no_local_on_shared_subscription", "[MQTT-3.8.3-4]",
     subscribe(1, [("$share/g/a", 0x04)]), 0x82, False),
    ("auth_without_authentication_method", "[MQTT-4.12.0-7] (a Protocol Error)",
     auth(0x19), 0x82, False),
    ("connect_after_connect", "[MQTT-3.1.0-2]",
     connect("again"), 0x82, False),
    ("server_only_packet_connack", "section 4.13: a CONNACK from a client is a Protocol Error",
     b"\x20\x03\x00\x00\x00", 0x82, False),
]


def _make_case(name, ids, data, reason, mosquitto_agrees):
    def test(self):
        c = self.connected()
        c.send(data)
        c.expect_disconnect(reason)
    test.__name__ = "test_%s_gets_disconnect_0x%02x" % (name, reason)
    test.__doc__ = "%s DISCONNECT 0x%02X, then close" % (ids, reason)
    if not mosquitto_agrees:
        test = mqttd_only("Mosquitto closes silently or uses another reason code")(test)
    return test


class MalformedV5(BrokerTestCase):
    pass


for _case in V5_CASES:
    _t = _make_case(*_case)
    setattr(MalformedV5, _t.__name__, _t)


class MalformedV311(BrokerTestCase):
    """A 3.1.1 client has no DISCONNECT from the server: the connection is simply closed."""

    def _assert_silently_closed(self, data):
        c = self.connected(version=V311)
        c.send(data)
        self.assertIsNone(c.assert_closed())

    def test_v311_publish_qos_3_closes_without_disconnect(self):
        """v3.1.1 [MQTT-3.3.1-4]"""
        self._assert_silently_closed(fixed_header(PUBLISH, 0x06, enc_str("a") + b"\x00\x01"))

    def test_v311_subscribe_reserved_flags_closes(self):
        """v3.1.1 [MQTT-3.8.1-1]"""
        self._assert_silently_closed(
            fixed_header(SUBSCRIBE, 0x00, b"\x00\x01" + enc_str("a") + b"\x00"))

    def test_v311_invalid_utf8_topic_closes(self):
        """v3.1.1 [MQTT-1.5.3-1]"""
        self._assert_silently_closed(publish(b"a\xff", b"x", version=V311))

    def test_v311_second_connect_closes(self):
        """v3.1.1 [MQTT-3.1.0-2]"""
        self._assert_silently_closed(connect("again", V311))

    def test_v311_wildcard_topic_closes(self):
        """v3.1.1 [MQTT-3.3.2-2]"""
        self._assert_silently_closed(publish("a/#", b"x", version=V311))

    def test_v311_auth_packet_closes(self):
        """AUTH does not exist in 3.1.1: reserved packet type"""
        self._assert_silently_closed(b"\xf0\x00")


class MalformedConnect(BrokerTestCase):

    def _assert_refused(self, data):
        c = self.client()
        c.send(data)
        try:
            p = c.recv()
            self.assertEqual(p.type, 2, p)
            self.assertGreaterEqual(p.reason_code, 0x80, p)
        except AssertionError as e:
            if "closed" not in str(e):
                raise
        c.assert_closed()

    def test_connect_reserved_flag_refused(self):
        """[MQTT-3.1.2-3] [MQTT-3.1.4-1]"""
        self._assert_refused(connect(self.cid(), reserved_flag=True))

    def test_connect_will_qos_without_will_flag_refused(self):
        """[MQTT-3.1.2-11]"""
        data = bytearray(connect(self.cid()))
        data[9] |= 0x08  # will QoS 1 without the will flag
        self._assert_refused(bytes(data))

    def test_connect_will_qos_3_refused(self):
        """[MQTT-3.1.2-12]"""
        data = bytearray(connect(self.cid(), will_topic="w", will_payload=b"x"))
        data[9] |= 0x18
        self._assert_refused(bytes(data))

    def test_connect_truncated_client_id_refused(self):
        """[MQTT-3.1.3-3] [MQTT-3.1.4-1]"""
        self._assert_refused(
            fixed_header(1, 0, enc_str("MQTT") + b"\x05\x02\x00\x3c\x00\x00\x05ab"))

    def test_connect_with_bad_protocol_name_closed(self):
        """[MQTT-3.1.2-1]"""
        c = self.client()
        c.send(connect(self.cid(), protocol_name="MQTX"))
        try:
            p = c.recv()
            self.assertGreaterEqual(p.reason_code, 0x80, p)
        except AssertionError as e:
            if "closed" not in str(e):
                raise
        c.assert_closed()


class Robustness(BrokerTestCase):
    config = ["max_packet_size 1000"]

    def test_garbage_bytes_do_not_hurt_the_broker(self):
        """[MQTT-4.13.1-1]: garbage is closed; the broker keeps serving others"""
        for blob in (b"\xff" * 64, b"\x10\xff\xff\xff\x7f", bytes(range(256)), b"\x00\x00"):
            c = self.client()
            c.send(blob)
            c.assert_closed()
        self.connected().ping()

    def test_huge_remaining_length_rejected_before_body(self):
        """section 3.2.2.3.6: a packet larger than our Maximum Packet Size gets DISCONNECT 0x95
        as soon as its length is known"""
        c = self.connected()
        c.send(b"\x30\xff\xff\xff\x7f" + enc_str("a"))
        c.expect_disconnect(0x95)

    def test_client_vanishing_mid_packet_is_harmless(self):
        c = self.connected()
        c.send(publish(self.topic(), b"x" * 500, qos=1, packet_id=1)[:100])
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        c.close()
        self.connected(self.cid("2")).ping()


if __name__ == "__main__":
    main()
