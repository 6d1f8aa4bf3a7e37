"""Checks of the harness itself: its encoder against byte layouts written out by hand from the
spec, its decoder's strictness, and Broker.restart() keeping the port. A harness bug would
otherwise show up as a misleading broker failure."""

import unittest

from mqtt_harness import (
    Broker, CONTENT_TYPE, MalformedFromServer, Reader, SUBSCRIPTION_IDENTIFIER, USER_PROPERTY,
    V311, V5, connect, decode, enc_props, enc_varint, main, publish, subscribe)


class Codec(unittest.TestCase):

    def test_varint_boundaries(self):
        """[MQTT-1.5.5-1] the minimum number of bytes, spec table 1.5.5"""
        cases = {0: b"\x00", 127: b"\x7f", 128: b"\x80\x01", 16383: b"\xff\x7f",
                 16384: b"\x80\x80\x01", 2097151: b"\xff\xff\x7f",
                 2097152: b"\x80\x80\x80\x01", 268435455: b"\xff\xff\xff\x7f"}
        for n, wire in cases.items():
            self.assertEqual(enc_varint(n), wire)
            self.assertEqual(Reader(wire).varint(), n)
        with self.assertRaises(ValueError):
            enc_varint(268435456)

    def test_non_minimal_varint_from_server_rejected(self):
        with self.assertRaises(MalformedFromServer):
            Reader(b"\x80\x00").varint()

    def test_v311_connect_layout(self):
        """v3.1.1 section 3.1.2 example: protocol name, level 4, flags, keep alive"""
        self.assertEqual(connect("ab", V311, keep_alive=10),
                         b"\x10\x0e\x00\x04MQTT\x04\x02\x00\x0a\x00\x02ab")

    def test_v5_connect_with_will_and_credentials_layout(self):
        wire = connect("c", V5, clean_start=False, keep_alive=0, will_topic="w",
                       will_payload=b"x", will_qos=1, will_retain=True, username="u",
                       password=b"p")
        self.assertEqual(wire, b"\x10\x1b\x00\x04MQTT\x05\xec\x00\x00\x00\x00\x01c"
                               b"\x00\x00\x01w\x00\x01x\x00\x01u\x00\x01p")

    def test_properties_keep_order_and_repeats(self):
        props = [(USER_PROPERTY, ("b", "1")), (CONTENT_TYPE, "t"), (USER_PROPERTY, ("a", "2")),
                 (SUBSCRIPTION_IDENTIFIER, 300)]
        decoded = Reader(enc_props(props)).props()
        self.assertEqual(decoded.items, props)
        self.assertEqual(decoded.user, [("b", "1"), ("a", "2")])

    def test_publish_and_subscribe_layout(self):
        self.assertEqual(publish("a/b", b"hi", qos=1, packet_id=10, version=V311),
                         b"\x32\x09\x00\x03a/b\x00\x0ahi")
        self.assertEqual(subscribe(1, [("a", 0x2e)]), b"\x82\x07\x00\x01\x00\x00\x01a\x2e")

    def test_decoder_rejects_trailing_bytes_and_reserved_flags(self):
        with self.assertRaises(MalformedFromServer):
            decode(0x40, b"\x00\x01\x00\x00\x00", V5)  # PUBACK with bytes after the props
        with self.assertRaises(MalformedFromServer):
            decode(0x41, b"\x00\x01", V5)  # PUBACK with a flag bit
        with self.assertRaises(MalformedFromServer):
            decode(0x30 | 0x08, b"\x00\x01a", V5)  # QoS 0 with DUP [MQTT-3.3.1-2]

    def test_decoder_reads_server_publish_with_two_subscription_ids_and_alias(self):
        body = b"\x00\x01a\x00\x05" + enc_props([(SUBSCRIPTION_IDENTIFIER, 1),
                                                   (SUBSCRIPTION_IDENTIFIER, 2),
                                                   (0x23, 7)]) + b"pay"
        p = decode(0x3b, body, V5)
        self.assertEqual((p.topic, p.qos, p.dup, p.retain, p.packet_id, p.alias, p.payload),
                         ("a", 1, True, True, 5, 7, b"pay"))
        self.assertEqual(p.props.all(SUBSCRIPTION_IDENTIFIER), [1, 2])


class BrokerProcess(unittest.TestCase):

    def test_restart_keeps_port(self):
        with Broker() as b:
            port, pid = b.port, b.pid
            c = b.client()
            c.connect("before")
            c.close()
            b.restart()
            self.assertEqual(b.port, port)
            self.assertNotEqual(b.pid, pid)
            c = b.client()
            self.assertEqual(c.connect("after").reason_code, 0)
            c.close()


if __name__ == "__main__":
    main()
