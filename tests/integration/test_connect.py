"""CONNECT / CONNACK: sessions, client identifiers, CONNACK properties, authentication and the
errors a broken handshake must produce."""

import time

from mqtt_harness import (
    ASSIGNED_CLIENT_IDENTIFIER, AUTHENTICATION_METHOD, BrokerTestCase, CONNACK, MAXIMUM_PACKET_SIZE,
    RC_BAD_AUTHENTICATION_METHOD, RC_NOT_AUTHORIZED, RC_UNSUPPORTED_PROTOCOL_VERSION, REASON_STRING,
    RECEIVE_MAXIMUM, REQUEST_PROBLEM_INFORMATION, REQUEST_RESPONSE_INFORMATION,
    RESPONSE_INFORMATION, SERVER_KEEP_ALIVE, SESSION_EXPIRY_INTERVAL, TOPIC_ALIAS_MAXIMUM,
    USER_PROPERTY, V311, V3_REFUSED_NOT_AUTHORIZED, V3_REFUSED_PROTOCOL_VERSION, V5, connect,
    main, mqttd_only, pingreq, publish, subscribe)


class SessionPresent(BrokerTestCase):

    def test_clean_start_1_gives_session_present_0(self):
        """[MQTT-3.2.2-2] [MQTT-3.1.4-5]"""
        c = self.client()
        ack = c.connect(self.cid(), clean_start=True)
        self.assertEqual(ack.reason_code, 0)
        self.assertFalse(ack.session_present)

    def test_clean_start_0_without_session_creates_one_with_session_present_0(self):
        """[MQTT-3.1.2-6] [MQTT-3.2.2-3]"""
        c = self.client()
        ack = c.connect(self.cid(), clean_start=False, props={SESSION_EXPIRY_INTERVAL: 30})
        self.assertFalse(ack.session_present)

    def test_clean_start_0_resumes_session_with_its_subscriptions(self):
        """[MQTT-3.1.2-5] [MQTT-3.2.2-3] [MQTT-3.1.2-23]"""
        c = self.connected(props={SESSION_EXPIRY_INTERVAL: 30})
        c.subscribe(self.topic(), qos=1)
        c.disconnect()
        c = self.client()
        ack = c.connect(self.cid(), clean_start=False, props={SESSION_EXPIRY_INTERVAL: 30})
        self.assertTrue(ack.session_present)
        self.connected(self.cid("p")).publish(self.topic(), b"still subscribed", qos=1)
        self.assertEqual(c.recv_publish().payload, b"still subscribed")

    def test_clean_start_1_discards_existing_session(self):
        """[MQTT-3.1.2-4] [MQTT-3.1.4-4]"""
        c = self.connected(props={SESSION_EXPIRY_INTERVAL: 30})
        c.subscribe(self.topic(), qos=1)
        c.disconnect()
        c = self.client()
        ack = c.connect(self.cid(), clean_start=True, props={SESSION_EXPIRY_INTERVAL: 30})
        self.assertFalse(ack.session_present)
        self.connected(self.cid("p")).publish(self.topic(), b"old subscription", qos=1)
        c.expect_nothing(0.5)

    def test_session_expiry_0_session_ends_with_connection(self):
        """[MQTT-3.1.2-23] (a zero Session Expiry Interval keeps nothing)"""
        c = self.connected()
        c.subscribe(self.topic(), qos=1)
        c.disconnect()
        time.sleep(0.2)
        ack = self.client().connect(self.cid(), clean_start=False)
        self.assertFalse(ack.session_present)


class ClientIdentifier(BrokerTestCase):

    def test_empty_client_id_gets_unique_assigned_client_identifier(self):
        """[MQTT-3.1.3-6] [MQTT-3.1.3-7] [MQTT-3.2.2-16]"""
        a = self.client().connect("")
        b = self.client().connect("")
        self.assertEqual(a.reason_code, 0)
        self.assertEqual(b.reason_code, 0)
        self.assertTrue(a.props[ASSIGNED_CLIENT_IDENTIFIER])
        self.assertNotEqual(a.props[ASSIGNED_CLIENT_IDENTIFIER],
                            b.props[ASSIGNED_CLIENT_IDENTIFIER])

    def test_given_client_id_is_not_echoed_as_assigned(self):
        """[MQTT-3.2.2-16] Assigned Client Identifier only for an empty ClientID"""
        ack = self.client().connect(self.cid())
        self.assertNotIn(ASSIGNED_CLIENT_IDENTIFIER, ack.props)

    def test_23_character_alphanumeric_client_id_accepted(self):
        """[MQTT-3.1.3-5]"""
        ack = self.client().connect("abcdefghijklmnopqrstuvW")
        self.assertEqual(ack.reason_code, 0)

    def test_v311_empty_client_id_with_clean_session_accepted(self):
        """v3.1.1 [MQTT-3.1.3-6]: zero-length ClientId accepted with CleanSession 1"""
        ack = self.client(V311).connect("", clean_start=True)
        self.assertEqual(ack.reason_code, 0)

    def test_v311_empty_client_id_without_clean_session_refused_rc_2(self):
        """v3.1.1 [MQTT-3.1.3-8]: CONNACK return code 2 (identifier rejected), then close"""
        c = self.client(V311)
        ack = c.connect("", clean_start=False)
        self.assertEqual(ack.reason_code, 2)
        self.assertIsNone(c.assert_closed())


class ConnackProperties(BrokerTestCase):
    config = ["max_inflight_messages 7", "max_packet_size 5000", "max_topic_alias 4",
              "max_keepalive 10"]

    def test_receive_maximum_and_maximum_packet_size_advertised(self):
        """[MQTT-3.2.2-15]: the client learns the server's Maximum Packet Size and Receive
        Maximum from CONNACK"""
        ack = self.client().connect(self.cid())
        self.assertEqual(ack.props[RECEIVE_MAXIMUM], 7)
        self.assertEqual(ack.props[MAXIMUM_PACKET_SIZE], 5000)

    def test_topic_alias_maximum_advertised(self):
        """[MQTT-3.2.2-17]"""
        ack = self.client().connect(self.cid())
        self.assertEqual(ack.props[TOPIC_ALIAS_MAXIMUM], 4)

    def test_server_keep_alive_caps_client_keep_alive(self):
        """[MQTT-3.2.2-21]: max_keepalive 10, client asks 60 -> Server Keep Alive 10"""
        ack = self.client().connect(self.cid(), keep_alive=60)
        self.assertEqual(ack.props[SERVER_KEEP_ALIVE], 10)

    def test_keep_alive_within_limit_not_overridden(self):
        """[MQTT-3.2.2-22]: without Server Keep Alive the client's value is used"""
        ack = self.client().connect(self.cid(), keep_alive=5)
        self.assertEqual(ack.props.get(SERVER_KEEP_ALIVE, 5), 5)

    def test_user_properties_in_connect_accepted(self):
        ack = self.client().connect(self.cid(), props={USER_PROPERTY: [("a", "1"), ("a", "2")]})
        self.assertEqual(ack.reason_code, 0)

    def test_username_and_password_fields_accepted(self):
        """[MQTT-3.1.2-17] [MQTT-3.1.2-19] (anonymous broker, fields read and ignored)"""
        ack = self.client().connect(self.cid(), username="user", password=b"\x00\xffsecret")
        self.assertEqual(ack.reason_code, 0)

    def test_v5_password_without_username_accepted(self):
        """MQTT 5 allows a Password without a User Name (section 3.1.2.9)"""
        ack = self.client().connect(self.cid(), password=b"secret")
        self.assertEqual(ack.reason_code, 0)


class ProblemAndResponseInformation(BrokerTestCase):

    def test_request_problem_information_0_no_reason_string_on_suback_puback_unsuback(self):
        """[MQTT-3.1.2-29]"""
        c = self.connected(props={REQUEST_PROBLEM_INFORMATION: 0})
        sub = c.subscribe([(self.topic(), 1)])
        puback = c.publish(self.topic("nobody"), b"x", qos=1)
        unsub = c.unsubscribe(["never/subscribed"])
        for p in (sub, puback, unsub):
            self.assertNotIn(REASON_STRING, p.props, p)
            self.assertNotIn(USER_PROPERTY, p.props, p)

    @mqttd_only("Mosquitto disconnects on an invalid filter instead of SUBACK 0x8F")
    def test_request_problem_information_0_no_reason_string_on_failed_suback(self):
        """[MQTT-3.1.2-29]"""
        c = self.connected(props={REQUEST_PROBLEM_INFORMATION: 0})
        sub = c.subscribe([(self.topic(), 1), ("$share/bad+name/x", 0)])
        self.assertEqual(sub.reason_codes, [1, 0x8F])
        self.assertNotIn(REASON_STRING, sub.props)
        self.assertNotIn(USER_PROPERTY, sub.props)

    def test_request_response_information_0_gets_none(self):
        """[MQTT-3.1.2-28]"""
        ack = self.client().connect(self.cid(), props={REQUEST_RESPONSE_INFORMATION: 0})
        self.assertNotIn(RESPONSE_INFORMATION, ack.props)

    @mqttd_only("Mosquitto does not send Response Information")
    def test_request_response_information_1_gets_response_information(self):
        """section 3.2.2.3.15; mqttd default response_information is "response/%c" """
        ack = self.client().connect(self.cid(), props={REQUEST_RESPONSE_INFORMATION: 1})
        self.assertEqual(ack.props[RESPONSE_INFORMATION], "response/" + self.cid())


class HandshakeErrors(BrokerTestCase):

    def test_second_connect_closes_connection(self):
        """[MQTT-3.1.0-2]"""
        c = self.connected()
        c.send(connect(self.cid()))
        d = c.assert_closed()
        if d is not None:
            self.assertEqual(d.reason_code, 0x82)

    @mqttd_only("Mosquitto closes without DISCONNECT")
    def test_second_connect_gets_disconnect_protocol_error(self):
        """[MQTT-3.1.0-2] [MQTT-4.13.1-1]: DISCONNECT 0x82 then close"""
        c = self.connected()
        c.send(connect(self.cid()))
        c.expect_disconnect(0x82)

    def test_first_packet_not_connect_closes_connection(self):
        """[MQTT-3.1.0-1] [MQTT-3.2.0-1]: no CONNACK, no DISCONNECT, just closed"""
        c = self.client()
        c.send(pingreq())
        self.assertIsNone(c.assert_closed())

    def test_publish_before_connect_closes_connection(self):
        """[MQTT-3.1.0-1]"""
        c = self.client()
        c.send(publish("a", b"x"))
        self.assertIsNone(c.assert_closed())

    def test_subscribe_before_connect_closes_connection(self):
        """[MQTT-3.1.0-1]"""
        c = self.client()
        c.send(subscribe(1, ["a"]))
        self.assertIsNone(c.assert_closed())

    @mqttd_only("Mosquitto answers an unknown level with a 3.1.1 CONNACK return code 1")
    def test_protocol_level_6_gets_connack_0x84_and_close(self):
        """[MQTT-3.1.2-2]: CONNACK 0x84 (Unsupported Protocol Version), then close"""
        c = self.client(V5)
        c.send(connect(self.cid(), V5, protocol_level=6))
        ack = c.expect(CONNACK)
        self.assertEqual(ack.reason_code, RC_UNSUPPORTED_PROTOCOL_VERSION)
        self.assertFalse(ack.session_present)
        c.assert_closed()

    def test_v311_style_connect_with_unknown_level_gets_rc_1_and_close(self):
        """v3.1.1 [MQTT-3.1.2-2]: return code 1 (unacceptable protocol level), then close"""
        c = self.client(V311)
        c.send(connect(self.cid(), V311, protocol_level=2))
        ack = c.expect(CONNACK)
        self.assertEqual(ack.reason_code, V3_REFUSED_PROTOCOL_VERSION)
        self.assertIsNone(c.assert_closed())

    def test_connect_with_unknown_authentication_method_refused(self):
        """[MQTT-4.12.0-1]: CONNACK 0x8C or 0x87, then close"""
        c = self.client()
        ack = c.connect(self.cid(), props={AUTHENTICATION_METHOD: "NO-SUCH-METHOD"})
        self.assertIn(ack.reason_code, (RC_BAD_AUTHENTICATION_METHOD, RC_NOT_AUTHORIZED))
        self.assertFalse(ack.session_present)  # [MQTT-3.2.2-6]
        c.assert_closed()  # [MQTT-3.2.2-7]


class NoAnonymous(BrokerTestCase):
    config = ["allow_anonymous false"]

    def test_v5_anonymous_refused_not_authorized(self):
        """[MQTT-3.1.4-2] [MQTT-3.2.2-7]: CONNACK 0x87, then close"""
        c = self.client()
        ack = c.connect(self.cid())
        self.assertEqual(ack.reason_code, RC_NOT_AUTHORIZED)
        self.assertFalse(ack.session_present)
        self.assertIsNone(c.assert_closed())

    def test_v311_anonymous_refused_rc_5(self):
        """v3.1.1: CONNACK return code 5 (not authorized), then close"""
        c = self.client(V311)
        ack = c.connect(self.cid())
        self.assertEqual(ack.reason_code, V3_REFUSED_NOT_AUTHORIZED)
        self.assertIsNone(c.assert_closed())


class ConnectTimeout(BrokerTestCase):
    config = ["connect_timeout 1"]

    def test_silent_socket_closed_after_connect_timeout(self):
        """connect_timeout 1: a socket that sends nothing is closed after about 1 s"""
        c = self.client()
        start = time.monotonic()
        self.assertIsNone(c.assert_closed(timeout=4))
        elapsed = time.monotonic() - start
        self.assertGreater(elapsed, 0.7)
        self.assertLess(elapsed, 3.0)

    def test_partial_connect_closed_after_connect_timeout(self):
        """connect_timeout 1: half a CONNECT does not keep the socket open"""
        c = self.client()
        c.send(connect(self.cid())[:5])
        start = time.monotonic()
        c.assert_closed(timeout=4)
        self.assertLess(time.monotonic() - start, 3.0)


if __name__ == "__main__":
    main()
