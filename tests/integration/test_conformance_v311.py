"""Conformance gaps closed for MQTT 3.1.1 clients: a refused CONNECT (return code, Session
Present 0, close) and protocol violations that close the connection without any packet, since
3.1.1 has no DISCONNECT from the server. Spec ids here are MQTT 3.1.1's, marked "v3.1.1"."""

import struct

from mqtt_harness import (
    BrokerTestCase, CONNACK, SUBSCRIBE, V311, V3_REFUSED_NOT_AUTHORIZED, enc_str, fixed_header,
    main, publish)


class Refused(BrokerTestCase):

    config = ["allow_anonymous false"]

    def test_v311_refused_connect_has_session_present_0_and_closes(self):
        """v3.1.1 [MQTT-3.2.2-4] [MQTT-3.2.2-5]: anonymous refused with return code 5"""
        c = self.client(V311)
        p = c.connect(self.cid(), clean_start=False)
        self.assertEqual(p.type, CONNACK)
        self.assertIn(p.reason_code, (4, V3_REFUSED_NOT_AUTHORIZED))
        self.assertFalse(p.session_present)
        self.assertIsNone(c.assert_closed())


class Violations(BrokerTestCase):

    def _closed_silently(self, data):
        c = self.connected(version=V311)
        c.send(data)
        self.assertIsNone(c.assert_closed())

    def test_v311_subscribe_without_filters_closes_without_a_packet(self):
        """v3.1.1 [MQTT-4.8.0-1]"""
        self._closed_silently(fixed_header(SUBSCRIBE, 0x02, struct.pack("!H", 1)))

    def test_v311_truncated_publish_closes_without_a_packet(self):
        """v3.1.1 [MQTT-4.8.0-1]: a QoS 1 PUBLISH cut short inside its packet identifier"""
        self._closed_silently(fixed_header(3, 0x02, enc_str("t") + b"\x00"))

    def test_v311_second_connect_closes_without_a_packet(self):
        """v3.1.1 [MQTT-4.8.0-1] [MQTT-3.1.0-2]"""
        c = self.connected(version=V311)
        c.send(publish(self.topic(), b"x", version=V311))
        c.send(fixed_header(1, 0, enc_str("MQTT") + bytes([4, 2]) + struct.pack("!H", 60) +
                            enc_str(self.cid())))
        self.assertIsNone(c.assert_closed())


if __name__ == "__main__":
    main()
