"""Hostile-input battery, protocol flow: packets in the wrong order, out of range CONNECT
properties, topic aliases out of range, Receive Maximum violated, acknowledgements for packet ids
that do not exist, floods of small packets, bytes after DISCONNECT. Each case asserts the exact
reaction while a bystander's QoS 1 stream keeps flowing (hostile_support.py).

Cited, not repeated: test_connect.py (PUBLISH/SUBSCRIBE before CONNECT, second CONNECT, level 6),
test_topic_alias.py (alias 0, alias above the maximum by one, unknown alias), test_qos.py (one
PUBREL for an unknown id, Receive Maximum exceeded by QoS 2 in separate writes). The cases here
are the variants those do not send."""

from mqtt_harness import (
    AUTHENTICATION_DATA, DISCONNECT, MAXIMUM_PACKET_SIZE, PINGRESP, PUBACK, PUBCOMP, PUBREC,
    PUBREL, RECEIVE_MAXIMUM, REQUEST_PROBLEM_INFORMATION, REQUEST_RESPONSE_INFORMATION,
    SESSION_EXPIRY_INTERVAL, TOPIC_ALIAS, V311, ack, auth, connect, disconnect, main, pingreq,
    publish)
from hostile_support import Closed, Connack, Disconnect, HostileTestCase, Ignored, Reply

MAX_INFLIGHT = 10


class OutOfOrder(HostileTestCase):
    config = ["max_inflight_messages %d" % MAX_INFLIGHT]

    def test_second_connect_with_unknown_level_disconnect_0x82(self):
        """[MQTT-3.1.0-2]: a second CONNECT is a Protocol Error whatever its level (it once got
        0x84, which DISCONNECT may not carry; found by fuzz_session)"""
        self.run_case(connect("again", protocol_level=9), Disconnect(0x82))

    def test_second_connect_with_bad_client_id_disconnect_0x82(self):
        """[MQTT-3.1.0-2]: not decoded, so not 0x81"""
        self.run_case(connect(b"a\xffb"), Disconnect(0x82))

    def test_v311_second_connect_with_unknown_level_closed(self):
        """v3.1.1 [MQTT-3.1.0-2]"""
        self.run_case(connect("again", V311, protocol_level=9), Closed(), version=V311)

    def test_bytes_after_disconnect_are_not_processed(self):
        """[MQTT-3.14.4-1] [MQTT-3.14.4-2]: the server closes on DISCONNECT; a PUBLISH in the
        same write after it is not delivered"""
        topic = self.topic()
        watcher = self.connected(self.cid("w"))
        watcher.subscribe(topic, qos=0)
        c = self.connected()
        c.send(disconnect() + publish(topic, b"late"))
        self.assertIsNone(c.assert_closed())
        watcher.expect_nothing(0.4)

    def test_receive_maximum_exceeded_in_one_write_disconnect_0x93(self):
        """[MQTT-3.3.4-7] section 3.3.4: QoS 2 PUBLISH number Receive Maximum + 1, all in one
        write, without PUBREL"""
        c = self.connected()
        burst = b"".join(publish(self.topic(), b"x", qos=2, packet_id=i)
                         for i in range(1, MAX_INFLIGHT + 2))
        c.send(burst)
        c.expect_disconnect(0x93)

    def test_qos2_window_freed_by_pubrel_accepts_more(self):
        """[MQTT-3.3.4-7]: a PUBCOMP sent frees the slot (the limit counts unacknowledged ones)"""
        c = self.connected()
        for i in range(1, MAX_INFLIGHT + 1):
            c.send(publish(self.topic(), b"x", qos=2, packet_id=i))
        for i in range(1, MAX_INFLIGHT + 1):
            c.expect(PUBREC)
        c.send(ack(PUBREL, 1))
        c.expect(PUBCOMP)
        c.send(publish(self.topic(), b"x", qos=2, packet_id=MAX_INFLIGHT + 1))
        self.assertEqual(c.expect(PUBREC).packet_id, MAX_INFLIGHT + 1)

    def test_thousand_pubrel_for_unknown_ids_each_get_pubcomp_0x92(self):
        """section 3.7.2.1: PUBCOMP 0x92 Packet Identifier not found, one per PUBREL"""
        c = self.connected()
        c.send(b"".join(ack(PUBREL, i) for i in range(1, 1001)))
        for i in range(1, 1001):
            p = c.expect(PUBCOMP)
            self.assertEqual((p.packet_id, p.reason_code), (i, 0x92))
        c.ping()

    def test_ten_thousand_pingreq_in_one_write_each_answered(self):
        """[MQTT-3.12.4-1]: every PINGREQ gets its PINGRESP"""
        c = self.connected()
        c.send(pingreq() * 10000)
        for _ in range(10000):
            c.expect(PINGRESP)


class FlowCases(HostileTestCase):
    config = ["max_topic_alias 10"]


FlowCases.add_cases([
    ("first_packet_pingreq", "[MQTT-3.1.0-1]", pingreq(), Closed()),
    ("first_packet_disconnect", "[MQTT-3.1.0-1]", disconnect(), Closed()),
    ("first_packet_auth", "[MQTT-3.1.0-1]", auth(0x18), Closed()),
    ("first_packet_garbage_then_connect", "[MQTT-3.1.0-1]: the CONNECT after it is never read",
     b"\x55\x00" + connect("late"), Closed()),
], connect_first=False)

FlowCases.add_cases([
    ("connect_receive_maximum_0", "section 3.1.2.11.3: Receive Maximum 0 is a Protocol Error",
     connect("hostile-rm", props=[(RECEIVE_MAXIMUM, 0)]), Connack(0x82)),
    ("connect_maximum_packet_size_0", "section 3.1.2.11.4: Maximum Packet Size 0 is a Protocol "
     "Error", connect("hostile-mps", props=[(MAXIMUM_PACKET_SIZE, 0)]), Connack(0x82)),
    ("connect_request_problem_information_2", "section 3.1.2.11.7: 0 or 1, else Protocol Error",
     connect("hostile-rpi", props=[(REQUEST_PROBLEM_INFORMATION, 2)]), Connack(0x82)),
    ("connect_request_response_information_2", "section 3.1.2.11.6: 0 or 1, else Protocol Error",
     connect("hostile-rri", props=[(REQUEST_RESPONSE_INFORMATION, 2)]), Connack(0x82)),
    ("connect_session_expiry_twice", "section 2.2.2.2: a property twice is a Protocol Error",
     connect("hostile-se", props=[(SESSION_EXPIRY_INTERVAL, 1), (SESSION_EXPIRY_INTERVAL, 2)]),
     Connack(0x82)),
    ("connect_authentication_data_without_method", "section 3.1.2.11.10: Authentication Data "
     "without Authentication Method is a Protocol Error",
     connect("hostile-ad", props=[(AUTHENTICATION_DATA, b"x")]), Connack(0x82)),
    ("connect_will_retain_without_will", "[MQTT-3.1.2-13]",
     bytes(connect("hostile-wr")[:9]) + bytes([connect("hostile-wr")[9] | 0x20]) +
     bytes(connect("hostile-wr")[10:]), Connack(0x81)),
    ("connect_will_topic_with_wildcard", "section 3.1.3.3: the Will Topic is a Topic Name, "
     "no wildcards [MQTT-4.7.0-1]",
     connect("hostile-wt", will_topic="a/#", will_payload=b"x"), Connack(0x90)),
], connect_first=False)

FlowCases.add_cases([
    ("v311_password_without_username", "v3.1.1 [MQTT-3.1.2-22]",
     connect("hostile-pw", V311, password=b"p"), Closed()),
    ("v311_will_qos_without_will", "v3.1.1 [MQTT-3.1.2-13]",
     bytes(connect("hostile-wq", V311)[:9]) + bytes([connect("hostile-wq", V311)[9] | 0x08]) +
     bytes(connect("hostile-wq", V311)[10:]), Closed()),
], version=V311, connect_first=False)

FlowCases.add_cases([
    ("topic_alias_65535", "[MQTT-3.3.2-9]: above the Topic Alias Maximum (10)",
     publish("hostile/a", b"x", props=[(TOPIC_ALIAS, 65535)]), Disconnect(0x94)),
    ("topic_alias_0_on_qos1", "[MQTT-3.3.2-8]: alias 0 is not allowed",
     publish("hostile/a", b"x", qos=1, packet_id=1, props=[(TOPIC_ALIAS, 0)]), Disconnect(0x94)),
    ("topic_alias_11_on_qos2", "[MQTT-3.3.2-9]: above the Topic Alias Maximum (10)",
     publish("hostile/a", b"x", qos=2, packet_id=1, props=[(TOPIC_ALIAS, 11)]),
     Disconnect(0x94)),
    ("pubrec_for_unknown_id", "section 3.5: PUBREL 0x92 Packet Identifier not found",
     ack(PUBREC, 77), Reply(PUBREL, 0x92)),
    ("pubcomp_for_unknown_id", "section 4.3.3: nothing to release; ignored",
     ack(PUBCOMP, 78), Ignored()),
    ("puback_for_unknown_id_with_reason", "section 4.3.2: nothing to acknowledge; ignored",
     ack(PUBACK, 79, 0x10), Ignored()),
    ("disconnect_with_will_reason_then_nothing", "section 3.14.2.1: 0x04 is a client reason code",
     disconnect(0x04), Closed()),
])

if __name__ == "__main__":
    main()
