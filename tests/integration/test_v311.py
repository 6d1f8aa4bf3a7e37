"""MQTT 3.1 ("MQIsdp", level 3) and 3.1.1 clients on the same listener as v5 clients, and
delivery across protocol versions. Spec ids here are MQTT 3.1.1's, marked "v3.1.1"."""

from mqtt_harness import (
    BrokerTestCase, CONTENT_TYPE, CORRELATION_DATA, MESSAGE_EXPIRY_INTERVAL, RESPONSE_TOPIC,
    SUBSCRIPTION_IDENTIFIER, USER_PROPERTY, V31, V311, V5, connect, main, mqttd_only)


class Versions(BrokerTestCase):

    def test_v31_mqisdp_client_connects_and_round_trips(self):
        c = self.connected(version=V31)
        self.assertEqual(c.subscribe(self.topic(), qos=2).reason_codes, [2])
        c.publish(self.topic(), b"31", qos=2)
        self.assertEqual(c.recv_publish().payload, b"31")

    def test_v311_client_round_trips_all_qos(self):
        """v3.1.1 [MQTT-4.3.1-1] [MQTT-4.3.2-2] [MQTT-4.3.3-2]"""
        c = self.connected(version=V311)
        c.subscribe(self.topic(), qos=2)
        for qos in (0, 1, 2):
            c.publish(self.topic(), b"%d" % qos, qos=qos)
            p = c.recv_publish()
            self.assertEqual((p.payload, p.qos), (b"%d" % qos, qos))

    def test_three_versions_on_one_listener_see_each_other(self):
        clients = {v: self.connected(self.cid(str(v)), version=v) for v in (V31, V311, V5)}
        for c in clients.values():
            c.subscribe(self.topic("#"), qos=1)
        for v, c in clients.items():
            c.publish(self.topic(str(v)), b"from %d" % v, qos=1)
        for c in clients.values():
            got = sorted(p.payload for p in c.recv_publishes(3))
            self.assertEqual(got, [b"from 3", b"from 4", b"from 5"])

    def test_v5_properties_not_sent_to_v311_subscriber(self):
        """a v5 publisher's properties are dropped for 3.1.1: the PUBLISH decodes as 3.1.1 with
        nothing left over (the harness decoder rejects trailing bytes)"""
        sub = self.connected(self.cid("s"), version=V311)
        sub.subscribe(self.topic(), qos=1)
        props = [(CONTENT_TYPE, "text/plain"), (RESPONSE_TOPIC, "r"), (CORRELATION_DATA, b"c"),
                 (MESSAGE_EXPIRY_INTERVAL, 100), (USER_PROPERTY, ("k", "v"))]
        self.connected(self.cid("p")).publish(self.topic(), b"plain", qos=1, props=props)
        p = sub.recv_publish()
        self.assertEqual((p.topic, p.payload, p.qos), (self.topic(), b"plain", 1))

    def test_v311_publish_reaches_v5_subscriber_without_properties(self):
        sub = self.connected(self.cid("s"))
        sub.subscribe(self.topic(), qos=1, sub_id=9)
        self.connected(self.cid("p"), version=V311).publish(self.topic(), b"old", qos=1)
        p = sub.recv_publish()
        self.assertEqual(p.payload, b"old")
        self.assertEqual([k for k, _ in p.props.items], [SUBSCRIPTION_IDENTIFIER])

    def test_v311_suback_return_codes(self):
        """v3.1.1 [MQTT-3.9.3-1] [MQTT-3.8.4-5]"""
        ack = self.connected(version=V311).subscribe(
            [(self.topic("a"), 0), (self.topic("b"), 1), (self.topic("c"), 2)])
        self.assertEqual(ack.reason_codes, [0, 1, 2])

    @mqttd_only("Mosquitto closes the connection on an invalid filter")
    def test_v311_invalid_filter_gets_suback_0x80(self):
        """v3.1.1 section 3.9.3: 0x80 Failure for the bad filter, others granted"""
        ack = self.connected(version=V311).subscribe([("a/#/b", 0), (self.topic(), 1)])
        self.assertEqual(ack.reason_codes, [0x80, 1])

    def test_v311_unsuback_has_no_payload(self):
        """v3.1.1 section 3.11: UNSUBACK is packet id only"""
        c = self.connected(version=V311)
        c.subscribe(self.topic(), qos=0)
        self.assertEqual(c.unsubscribe([self.topic()]).reason_codes, [])

    def test_v311_password_without_username_refused(self):
        """v3.1.1 [MQTT-3.1.2-22]: closed (return code 4 or 5 allowed first)"""
        c = self.client(V311)
        c.send(connect(self.cid(), V311, password=b"p"))
        try:
            ack = c.recv()
            self.assertIn(ack.reason_code, (4, 5), ack)
        except AssertionError as e:
            if "closed" not in str(e):
                raise
        c.assert_closed()

    def test_v311_will_and_credentials_accepted(self):
        ack = self.client(V311).connect(self.cid(), username="u", password=b"p",
                                        will_topic=self.topic(), will_payload=b"w", will_qos=1)
        self.assertEqual(ack.reason_code, 0)


if __name__ == "__main__":
    main()
