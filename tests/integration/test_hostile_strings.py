"""Hostile-input battery, strings: ill-formed UTF-8 and U+0000 in every UTF-8 string field a client
sends (client id, username, will topic and will properties, topic, filters, user property keys and
values, response topic, content type, reason string, authentication method), and shared
subscriptions with bad share names. A v5 packet holding such a string is malformed
[MQTT-1.5.4-1] [MQTT-1.5.4-2]: a CONNECT gets CONNACK 0x81, any later packet DISCONNECT 0x81; a
3.1.1 client is closed without a word [MQTT-1.5.3-1] [MQTT-1.5.3-2]. A bystander's QoS 1 stream
flows through it all (hostile_support.py).

test_malformed.py already sends a topic with 0xFF, with a surrogate and with U+0000; the topic
cases here are the overlong and truncated encodings. test_shared.py covers the share names
"a+b", "", "g#", a missing filter and an empty one; the ones here are the others."""

from mqtt_harness import (
    AUTH, AUTHENTICATION_METHOD, CONTENT_TYPE, REASON_STRING, RESPONSE_TOPIC, USER_PROPERTY,
    V311, PUBACK, ack, auth, connect, disconnect, main, publish, subscribe, unsubscribe)
from hostile_support import Closed, Connack, Disconnect, HostileTestCase, Suback, Unsuback

# The two kinds of bad string, each put inside an otherwise fine string.
BAD = [("invalid_utf8", b"a\xffb", "[MQTT-1.5.4-1]"),
       ("nul", b"a\x00b", "[MQTT-1.5.4-2]")]


def connect_fields(bad):
    """CONNECT packets with `bad` in one string field each."""
    will = dict(will_topic="hostile/will", will_payload=b"x")
    return [
        ("client_id", connect(bad)),
        ("username", connect("hostile-u", username=bad, password=b"p")),
        ("will_topic", connect("hostile-w", will_topic=bad, will_payload=b"x")),
        ("will_content_type", connect("hostile-w", will_props=[(CONTENT_TYPE, bad)], **will)),
        ("will_response_topic", connect("hostile-w", will_props=[(RESPONSE_TOPIC, bad)], **will)),
        ("will_user_property_key",
         connect("hostile-w", will_props=[(USER_PROPERTY, (bad, "v"))], **will)),
        ("will_user_property_value",
         connect("hostile-w", will_props=[(USER_PROPERTY, ("k", bad))], **will)),
        ("connect_user_property_key", connect("hostile-c", props=[(USER_PROPERTY, (bad, "v"))])),
        ("connect_user_property_value",
         connect("hostile-c", props=[(USER_PROPERTY, ("k", bad))])),
        ("authentication_method", connect("hostile-c", props=[(AUTHENTICATION_METHOD, bad)])),
    ]


def later_fields(bad):
    """Packets after CONNECT with `bad` in one string field each."""
    return [
        ("subscribe_filter", subscribe(1, [(bad, 0)])),
        ("unsubscribe_filter", unsubscribe(1, [bad])),
        ("publish_content_type", publish("hostile/s", b"x", props=[(CONTENT_TYPE, bad)])),
        ("publish_response_topic", publish("hostile/s", b"x", props=[(RESPONSE_TOPIC, bad)])),
        ("publish_user_property_key",
         publish("hostile/s", b"x", props=[(USER_PROPERTY, (bad, "v"))])),
        ("publish_user_property_value",
         publish("hostile/s", b"x", props=[(USER_PROPERTY, ("k", bad))])),
        ("puback_reason_string", ack(PUBACK, 1, 0x10, props=[(REASON_STRING, bad)])),
        ("disconnect_reason_string", disconnect(0, props=[(REASON_STRING, bad)])),
        ("subscribe_user_property_key", subscribe(1, ["a"], props=[(USER_PROPERTY, (bad, "v"))])),
        ("unsubscribe_user_property_value",
         unsubscribe(1, ["a"], props=[(USER_PROPERTY, ("k", bad))])),
        ("auth_reason_string", auth(0x18, props=[(AUTHENTICATION_METHOD, "m"),
                                                 (REASON_STRING, bad)])),
    ]


def v311_fields(bad):
    return [
        ("client_id", connect(bad, version=V311), False),
        ("username", connect("hostile-u", version=V311, username=bad, password=b"p"), False),
        ("will_topic", connect("hostile-w", version=V311, will_topic=bad, will_payload=b"x"),
         False),
        ("topic", publish(bad, b"x", version=V311), True),
        ("subscribe_filter", subscribe(1, [(bad, 0)], version=V311), True),
    ]


class BadStringsConnect(HostileTestCase):
    pass


class BadStringsLater(HostileTestCase):

    def test_topic_with_overlong_nul_disconnect_0x81(self):
        """[MQTT-1.5.4-1]: C0 80 (an overlong U+0000) is ill-formed -> disconnect_0x81"""
        self.run_case(publish(b"a\xc0\x80", b"x"), Disconnect(0x81))

    def test_topic_with_truncated_sequence_disconnect_0x81(self):
        """[MQTT-1.5.4-1]: E2 82 without its third byte -> disconnect_0x81"""
        self.run_case(publish(b"a\xe2\x82", b"x"), Disconnect(0x81))

    def test_topic_with_code_point_above_10ffff_disconnect_0x81(self):
        """[MQTT-1.5.4-1]: F4 90 80 80 (U+110000) is ill-formed -> disconnect_0x81"""
        self.run_case(publish(b"a\xf4\x90\x80\x80", b"x"), Disconnect(0x81))


class BadStringsV311(HostileTestCase):
    pass


class BadShareNames(HostileTestCase):
    pass


for _kind, _bad, _spec in BAD:
    BadStringsConnect.add_cases(
        [("%s_in_%s" % (_kind, field), _spec, data, Connack(0x81))
         for field, data in connect_fields(_bad)], connect_first=False)
    BadStringsLater.add_cases(
        [("%s_in_%s" % (_kind, field), _spec, data, Disconnect(0x81))
         for field, data in later_fields(_bad)])
    _v311 = v311_fields(_bad)
    BadStringsV311.add_cases(
        [("v311_%s_in_%s" % (_kind, field), "v3.1.1 [MQTT-1.5.3-1] [MQTT-1.5.3-2]", data,
          Closed()) for field, data, after_connect in _v311 if not after_connect],
        version=V311, connect_first=False)
    BadStringsV311.add_cases(
        [("v311_%s_in_%s" % (_kind, field), "v3.1.1 [MQTT-1.5.3-1] [MQTT-1.5.3-2]", data,
          Closed()) for field, data, after_connect in _v311 if after_connect], version=V311)

BadShareNames.add_cases([
    ("share_name_plus", "[MQTT-4.8.2-2]: a ShareName holds no '+'",
     subscribe(1, [("$share/+/x", 0)]), Suback(0x8F)),
    ("share_name_hash", "[MQTT-4.8.2-2]: a ShareName holds no '#'",
     subscribe(1, [("$share/#/x", 0)]), Suback(0x8F)),
    ("share_name_empty_and_no_filter", "[MQTT-4.8.2-1]",
     subscribe(1, [("$share/", 0)]), Suback(0x8F)),
    ("shared_filter_with_hash_inside", "[MQTT-4.7.1-1]: '#' only as the last level",
     subscribe(1, [("$share/g/a/#/b", 0)]), Suback(0x8F)),
    ("shared_filter_with_partial_plus", "[MQTT-4.7.1-2]: '+' only as a whole level",
     subscribe(1, [("$share/g/a+", 0)]), Suback(0x8F)),
    ("several_bad_shares_and_one_good", "[MQTT-3.9.3-1]: one reason code per filter, in order",
     subscribe(1, [("$share/+/x", 1), ("$share/ok/hostile/x", 1), ("$share/#/x", 1)]),
     Suback(0x8F, 0x01, 0x8F)),
    ("share_name_nul", "[MQTT-1.5.4-2]", subscribe(1, [(b"$share/a\x00b/x", 0)]),
     Disconnect(0x81)),
    ("share_name_invalid_utf8", "[MQTT-1.5.4-1]", subscribe(1, [(b"$share/a\xffb/x", 0)]),
     Disconnect(0x81)),
    ("unsubscribe_share_name_empty", "[MQTT-4.8.2-1]; UNSUBACK 0x8F Topic Filter invalid",
     unsubscribe(1, ["$share//x"]), Unsuback(0x8F)),
    ("unsubscribe_share_without_filter", "[MQTT-4.8.2-1]",
     unsubscribe(1, ["$share/g"]), Unsuback(0x8F)),
])

if __name__ == "__main__":
    main()
