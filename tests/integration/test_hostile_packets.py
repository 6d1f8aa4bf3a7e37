"""Hostile-input battery, malformed packets: reserved flags, packet types a client may not send,
lengths that disagree with the content, properties not allowed in the packet, repeated or out of
range. Each case sends one bad packet from a fresh client and asserts the exact reaction (v5:
DISCONNECT with the reason code the spec names; 3.1.1: close without a word), while a bystander
keeps its QoS 1 stream flowing (hostile_support.py).

Cases already covered by test_malformed.py (QoS 3, SUBSCRIBE/UNSUBSCRIBE flags 0000, remaining
length of 5 bytes, PINGREQ with a body, DISCONNECT flags, SUBSCRIBE without filters, Content
Type twice, ...) are not repeated here; these are the others."""

from mqtt_harness import (
    AUTH, CONTENT_TYPE, CORRELATION_DATA, DISCONNECT, MESSAGE_EXPIRY_INTERVAL,
    PAYLOAD_FORMAT_INDICATOR, PINGRESP, PUBACK, PUBCOMP, PUBLISH, PUBREC, PUBREL, REASON_STRING,
    RECEIVE_MAXIMUM, RESPONSE_TOPIC, SESSION_EXPIRY_INTERVAL, SUBACK, SUBSCRIBE,
    SUBSCRIPTION_IDENTIFIER, TOPIC_ALIAS, UNSUBACK, UNSUBSCRIBE, V311,
    WILL_DELAY_INTERVAL, ASSIGNED_CLIENT_IDENTIFIER, SHARED_SUBSCRIPTION_AVAILABLE, ack,
    disconnect, enc_props, enc_str, fixed_header, main, publish, subscribe, unsubscribe)
from hostile_support import Closed, Disconnect, HostileTestCase

MALFORMED = Disconnect(0x81)
PROTOCOL_ERROR = Disconnect(0x82)


def raw_props(body):
    """A property block from raw bytes (to write what enc_props refuses to)."""
    return bytes([len(body)]) + body


FLAGS = [
    ("puback_flags_0001", "[MQTT-2.1.3-1]", fixed_header(PUBACK, 0x1, b"\x00\x01"), MALFORMED),
    ("pubrec_flags_0100", "[MQTT-2.1.3-1]", fixed_header(PUBREC, 0x4, b"\x00\x01"), MALFORMED),
    ("pubrel_flags_0000", "[MQTT-3.6.1-1]", fixed_header(PUBREL, 0x0, b"\x00\x01"), MALFORMED),
    ("pubrel_flags_0011", "[MQTT-3.6.1-1]", fixed_header(PUBREL, 0x3, b"\x00\x01"), MALFORMED),
    ("pubcomp_flags_1000", "[MQTT-2.1.3-1]", fixed_header(PUBCOMP, 0x8, b"\x00\x01"), MALFORMED),
    ("pingreq_flags_0001", "[MQTT-2.1.3-1]", b"\xc1\x00", MALFORMED),
    ("auth_flags_0001", "[MQTT-3.15.1-1]", fixed_header(AUTH, 0x1, b"\x18\x00"), MALFORMED),
    ("subscribe_flags_0011", "[MQTT-3.8.1-1]",
     fixed_header(SUBSCRIBE, 0x3, b"\x00\x01\x00" + enc_str("a") + b"\x00"), MALFORMED),
    ("unsubscribe_flags_1010", "[MQTT-3.10.1-1]",
     fixed_header(UNSUBSCRIBE, 0xA, b"\x00\x01\x00" + enc_str("a")), MALFORMED),
]

TYPES = [
    ("reserved_packet_type_0", "section 2.1.2: type 0 is Reserved [MQTT-2.1.3-1]",
     b"\x00\x00", MALFORMED),
    ("suback_from_client", "section 2.1.2: SUBACK flows server to client only",
     fixed_header(SUBACK, 0, b"\x00\x01\x00\x00"), PROTOCOL_ERROR),
    ("unsuback_from_client", "section 2.1.2: UNSUBACK flows server to client only",
     fixed_header(UNSUBACK, 0, b"\x00\x01\x00\x00"), PROTOCOL_ERROR),
    ("pingresp_from_client", "section 2.1.2: PINGRESP flows server to client only",
     fixed_header(PINGRESP, 0, b""), PROTOCOL_ERROR),
]

LENGTHS = [
    ("puback_with_one_byte_packet_id", "section 3.4.2: the Packet Identifier is 2 bytes",
     b"\x40\x01\x00", MALFORMED),
    ("publish_topic_length_past_end", "section 1.5.4: string length beyond the packet",
     fixed_header(PUBLISH, 0, b"\x00\x10ab"), MALFORMED),
    ("publish_qos1_without_packet_id", "[MQTT-2.2.1-2] (QoS 1 carries a Packet Identifier)",
     fixed_header(PUBLISH, 0x2, enc_str("a")), MALFORMED),
    ("subscribe_filter_length_past_end", "section 1.5.4: string length beyond the packet",
     fixed_header(SUBSCRIBE, 0x2, b"\x00\x01\x00\x00\x09ab"), MALFORMED),
    ("subscribe_filter_without_options_byte", "section 3.8.3: each filter has an options byte",
     fixed_header(SUBSCRIBE, 0x2, b"\x00\x01\x00" + enc_str("a")), MALFORMED),
    ("unsubscribe_filter_length_past_end", "section 1.5.4: string length beyond the packet",
     fixed_header(UNSUBSCRIBE, 0x2, b"\x00\x01\x00\x00\x09ab"), MALFORMED),
    ("subscribe_packet_id_0", "[MQTT-2.2.1-3]", subscribe(0, ["a"]), MALFORMED),
    ("unsubscribe_packet_id_0", "[MQTT-2.2.1-3]", unsubscribe(0, ["a"]), MALFORMED),
    ("property_length_in_5_bytes", "[MQTT-1.5.5-1] (property length is a variable byte integer)",
     fixed_header(PUBLISH, 0, enc_str("a") + b"\xff\xff\xff\xff\x01"), MALFORMED),
    ("ack_property_length_past_end", "section 2.2.2.1: property length beyond the packet",
     fixed_header(PUBACK, 0, b"\x00\x01\x00\x09\x1f"), MALFORMED),
    ("disconnect_trailing_byte", "section 3.14.2: nothing follows the properties",
     fixed_header(DISCONNECT, 0, b"\x00\x00\x00"), MALFORMED),
    ("property_string_length_past_end", "section 1.5.4: string length beyond the property block",
     fixed_header(PUBLISH, 0, enc_str("a") + raw_props(b"\x03\x00\x09a")), MALFORMED),
    ("user_property_without_value", "section 1.5.7: a string pair is two strings",
     fixed_header(PUBLISH, 0, enc_str("a") + raw_props(b"\x26\x00\x01k")), MALFORMED),
    ("subscription_identifier_varint_unterminated", "[MQTT-1.5.5-1]",
     fixed_header(SUBSCRIBE, 0x2, b"\x00\x01" + raw_props(b"\x0b\x80\x80") + enc_str("a") +
                  b"\x00"), MALFORMED),
]


def publish_with(props):
    return publish("hostile/p", b"x", props=props)


WRONG_PROPERTY = [
    ("session_expiry_in_publish", publish_with([(SESSION_EXPIRY_INTERVAL, 1)])),
    ("receive_maximum_in_publish", publish_with([(RECEIVE_MAXIMUM, 1)])),
    ("assigned_client_identifier_in_publish", publish_with([(ASSIGNED_CLIENT_IDENTIFIER, "x")])),
    ("shared_subscription_available_in_publish",
     publish_with([(SHARED_SUBSCRIPTION_AVAILABLE, 1)])),
    ("content_type_in_puback", ack(PUBACK, 1, 0x10, props=[(CONTENT_TYPE, "x")])),
    ("topic_alias_in_pubrel", ack(PUBREL, 1, 0x92, props=[(TOPIC_ALIAS, 1)])),
    ("topic_alias_in_subscribe", subscribe(1, ["a"], props=[(TOPIC_ALIAS, 1)])),
    ("subscription_identifier_in_unsubscribe",
     unsubscribe(1, ["a"], props=[(SUBSCRIPTION_IDENTIFIER, 1)])),
    ("will_delay_in_disconnect", disconnect(0, props=[(WILL_DELAY_INTERVAL, 1)])),
    ("receive_maximum_in_disconnect", disconnect(0, props=[(RECEIVE_MAXIMUM, 1)])),
    ("property_id_0", fixed_header(PUBLISH, 0, enc_str("a") + raw_props(b"\x00\x01"))),
    ("property_id_0x7f", fixed_header(PUBLISH, 0, enc_str("a") + raw_props(b"\x7f\x01"))),
]

REPEATED_PROPERTY = [
    ("payload_format_indicator_twice_in_publish",
     publish_with([(PAYLOAD_FORMAT_INDICATOR, 0), (PAYLOAD_FORMAT_INDICATOR, 0)])),
    ("message_expiry_twice_in_publish",
     publish_with([(MESSAGE_EXPIRY_INTERVAL, 5), (MESSAGE_EXPIRY_INTERVAL, 6)])),
    ("topic_alias_twice_in_publish", publish_with([(TOPIC_ALIAS, 1), (TOPIC_ALIAS, 2)])),
    ("response_topic_twice_in_publish",
     publish_with([(RESPONSE_TOPIC, "r"), (RESPONSE_TOPIC, "s")])),
    ("correlation_data_twice_in_publish",
     publish_with([(CORRELATION_DATA, b"1"), (CORRELATION_DATA, b"2")])),
    ("subscription_identifier_twice_in_subscribe",
     subscribe(1, ["a"], props=[(SUBSCRIPTION_IDENTIFIER, 1), (SUBSCRIPTION_IDENTIFIER, 2)])),
    ("session_expiry_twice_in_disconnect",
     disconnect(0, props=[(SESSION_EXPIRY_INTERVAL, 0), (SESSION_EXPIRY_INTERVAL, 0)])),
    ("reason_string_twice_in_puback",
     ack(PUBACK, 1, 0x10, props=[(REASON_STRING, "a"), (REASON_STRING, "b")])),
    ("reason_string_twice_in_disconnect",
     disconnect(0, props=[(REASON_STRING, "a"), (REASON_STRING, "b")])),
]

BAD_VALUES = [
    ("payload_format_indicator_2", "section 3.3.2.3.2: the indicator is 0 or 1",
     publish_with([(PAYLOAD_FORMAT_INDICATOR, 2)]), PROTOCOL_ERROR),
    ("subscription_identifier_0", "section 3.8.2.1.2: a Subscription Identifier of 0 is a "
     "Protocol Error", subscribe(1, ["a"], props=[(SUBSCRIPTION_IDENTIFIER, 0)]), PROTOCOL_ERROR),
    ("session_expiry_in_disconnect_after_0", "[MQTT-3.14.2-2]",
     disconnect(0, props=[(SESSION_EXPIRY_INTERVAL, 30)]), PROTOCOL_ERROR),
    ("disconnect_reason_code_0x05", "section 3.14.2.1: not a DISCONNECT reason code",
     disconnect(0x05), MALFORMED),
    ("puback_reason_code_0x05", "[MQTT-3.4.2-1] (a PUBACK reason code)",
     ack(PUBACK, 1, 0x05), MALFORMED),
    ("pubrel_reason_code_0x10", "[MQTT-3.6.2-1] (a PUBREL reason code)",
     ack(PUBREL, 1, 0x10), MALFORMED),
    ("subscribe_qos_3", "section 3.8.3.1: a Maximum QoS of 3 is a Protocol Error",
     subscribe(1, [("a", 0x03)]), PROTOCOL_ERROR),
    ("subscribe_retain_handling_3", "section 3.8.3.1: Retain Handling 3 is a Protocol Error",
     subscribe(1, [("a", 0x30)]), PROTOCOL_ERROR),
]

V311_CASES = [
    ("v311_puback_flags_0001", "v3.1.1 [MQTT-2.2.2-2]", fixed_header(PUBACK, 0x1, b"\x00\x01")),
    ("v311_pubrel_flags_0000", "v3.1.1 [MQTT-3.6.1-1]", fixed_header(PUBREL, 0x0, b"\x00\x01")),
    ("v311_reserved_packet_type_0", "v3.1.1 [MQTT-2.2.2-2]", b"\x00\x00"),
    ("v311_subscribe_without_filters", "v3.1.1 [MQTT-3.8.3-3]",
     fixed_header(SUBSCRIBE, 0x2, b"\x00\x01")),
    ("v311_unsubscribe_without_filters", "v3.1.1 [MQTT-3.10.3-2]",
     fixed_header(UNSUBSCRIBE, 0x2, b"\x00\x01")),
    ("v311_subscribe_qos_3", "v3.1.1 [MQTT-3-8.3-4]", subscribe(1, [("a", 3)], version=V311)),
    ("v311_subscribe_reserved_option_bits", "v3.1.1 [MQTT-3-8.3-4]",
     fixed_header(SUBSCRIBE, 0x2, b"\x00\x01" + enc_str("a") + b"\x04")),
    ("v311_publish_qos1_packet_id_0", "v3.1.1 [MQTT-2.3.1-1]",
     publish("a", b"x", qos=1, packet_id=0, version=V311)),
    ("v311_remaining_length_of_5_bytes", "v3.1.1 section 2.2.3: at most 4 bytes",
     b"\x30\x80\x80\x80\x80\x01"),
    ("v311_pingreq_with_body", "v3.1.1 section 3.12: PINGREQ has no variable header",
     b"\xc0\x01\x00"),
    ("v311_suback_from_client", "v3.1.1 section 2.2.1: SUBACK is server to client",
     fixed_header(SUBACK, 0, b"\x00\x01\x00")),
    ("v311_disconnect_with_body", "v3.1.1 section 3.14: DISCONNECT has no variable header",
     b"\xe0\x01\x00"),
    ("v311_topic_with_nul", "v3.1.1 [MQTT-1.5.3-2]", fixed_header(PUBLISH, 0, b"\x00\x03a\x00b")),
]


class MalformedPackets(HostileTestCase):
    pass


class MalformedPacketsV311(HostileTestCase):
    pass


MalformedPackets.add_cases(FLAGS + TYPES + LENGTHS)
MalformedPackets.add_cases(
    [(name, "section 2.2.2.2: a property not valid for the packet type is malformed", data,
      MALFORMED) for name, data in WRONG_PROPERTY])
MalformedPackets.add_cases(
    [(name, "section 2.2.2.2: a property included more than once is a Protocol Error", data,
      PROTOCOL_ERROR) for name, data in REPEATED_PROPERTY])
MalformedPackets.add_cases(BAD_VALUES)
MalformedPacketsV311.add_cases([(n, s, d, Closed()) for n, s, d in V311_CASES], version=V311)

if __name__ == "__main__":
    main()
