"""Conformance gaps closed for the client's Maximum Packet Size (no Reason String or User
Property may push a packet from mqttd over it) and for shared subscriptions (a QoS 2 delivery
stays with its member; a refused delivery goes to nobody else). Each test names the MQTT 5.0
statements it checks (docs/CONFORMANCE.md)."""


from mqtt_harness import (
    AUTHENTICATION_METHOD, BrokerTestCase, CONNACK, Client, DISCONNECT, MAXIMUM_PACKET_SIZE,
    PAYLOAD_FORMAT_INDICATOR, PUBACK, PUBREC, PUBREL, SESSION_EXPIRY_INTERVAL, ack, main)


class SizedClient(Client):
    """A harness client that records each received packet's size on the wire in .size."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.received = 0
        self.consumed = 0

    def _fill(self, deadline):
        before = len(self.buf)
        try:
            super()._fill(deadline)
        finally:
            self.received += len(self.buf) - before

    def _read_packet(self, deadline):
        p = super()._read_packet(deadline)
        now = self.received - len(self.buf)
        p.size, self.consumed = now - self.consumed, now
        return p


LIMIT = 20  # the smallest Maximum Packet Size a v5 client can usefully give


class MaximumPacketSize(BrokerTestCase):

    def sized(self):
        c = SizedClient(self.broker.port)
        self._clients.append(c)
        return c

    def test_refusing_connack_stays_within_client_maximum_packet_size(self):
        """[MQTT-3.2.2-19]"""
        c = self.sized()
        p = c.connect(self.cid(), props={MAXIMUM_PACKET_SIZE: LIMIT,
                                         AUTHENTICATION_METHOD: "no-such-method"})
        self.assertEqual(p.type, CONNACK)
        self.assertLessEqual(p.size, LIMIT, p)

    def test_acknowledgements_stay_within_client_maximum_packet_size(self):
        """[MQTT-3.4.2-2] [MQTT-3.4.2-3] [MQTT-3.5.2-2] [MQTT-3.5.2-3] [MQTT-3.6.2-2]
        [MQTT-3.6.2-3] [MQTT-3.7.2-2] [MQTT-3.7.2-3] [MQTT-3.9.2-1] [MQTT-3.9.2-2]
        [MQTT-3.11.2-1] [MQTT-3.11.2-2]: failures included (no subscribers, invalid payload
        format, unknown PUBREL, invalid filter, unknown unsubscribe)"""
        c = self.sized()
        self.assertEqual(c.connect(self.cid(), props={MAXIMUM_PACKET_SIZE: LIMIT}).reason_code, 0)
        got = [c.publish("nobody/listens", b"x", qos=1),
               c.publish("nobody/listens", b"\xff", qos=1, props={PAYLOAD_FORMAT_INDICATOR: 1}),
               c.publish("nobody/listens", b"\xff", qos=2, props={PAYLOAD_FORMAT_INDICATOR: 1}),
               c.publish("nobody/listens", b"x", qos=2)]
        c.send(ack(PUBREL, 999))
        got.append(c.recv())
        got.append(c.subscribe([("bad/#/filter", 0), ("$share//x", 0), (self.topic(), 2)]))
        got.append(c.unsubscribe(["never/subscribed", "bad/#/filter"]))
        for p in got:
            self.assertLessEqual(p.size, LIMIT, p)

    def test_pubrel_to_subscriber_stays_within_its_maximum_packet_size(self):
        """[MQTT-3.6.2-2] [MQTT-3.6.2-3]"""
        s = self.sized()
        s.connect(self.cid("s"), props={MAXIMUM_PACKET_SIZE: 256})
        s.subscribe(self.topic(), qos=2)
        self.connected(self.cid("p")).publish(self.topic(), b"x", qos=2)
        p = s.recv_publish(ack_it=False)
        s.send(ack(PUBREC, p.packet_id))
        self.assertLessEqual(s.expect(PUBREL).size, 256)

    def test_disconnect_stays_within_client_maximum_packet_size(self):
        """[MQTT-3.14.2-3]: the takeover DISCONNECT (0x8E) has a Reason String
        only when it fits"""
        old = self.sized()
        old.connect(self.cid(), props={MAXIMUM_PACKET_SIZE: LIMIT})
        self.connected(self.cid())
        d = old.recv()
        self.assertEqual((d.type, d.reason_code), (DISCONNECT, 0x8E))
        self.assertLessEqual(d.size, LIMIT, d)


class SharedDelivery(BrokerTestCase):

    def _members(self, n, props=None):
        out = []
        for i in range(n):
            c = self.connected(self.cid("m%d" % i), props=props)
            c.subscribe("$share/g/" + self.topic(), qos=2)
            out.append(c)
        return out

    def _publish_until(self, holder, qos, payload=b"x"):
        """Publishes until `holder` gets one; returns it with the other members' catch."""
        pub = self.connected(self.cid("p"))
        for i in range(20):
            pub.publish(self.topic(), payload + b"%d" % i, qos=qos)
            got = holder.drain_publishes(0.2, ack_it=False)
            if got:
                return got[0]
        self.fail("member never chosen")

    def test_qos2_delivery_is_completed_with_the_member_that_reconnects(self):
        """[MQTT-4.8.2-4]"""
        a, b = self._members(2, props={SESSION_EXPIRY_INTERVAL: 60})
        held = self._publish_until(a, 2)
        b.drain_publishes(0.3)
        a.close()
        b.expect_nothing(0.5)
        a = self.client()
        a.connect(self.cid("m0"), clean_start=False, props={SESSION_EXPIRY_INTERVAL: 60})
        again = a.recv_publish()
        self.assertEqual((again.payload, again.dup), (held.payload, True))

    def test_qos2_delivery_of_ended_session_goes_to_no_other_member(self):
        """[MQTT-4.8.2-5]"""
        a, b = self._members(2)
        held = self._publish_until(a, 2)
        b.drain_publishes(0.3)
        a.close()  # session expiry 0: the session ends with the connection
        for p in b.drain_publishes(0.8):
            self.assertNotEqual(p.payload, held.payload)

    def test_refused_delivery_goes_to_no_other_member(self):
        """[MQTT-4.8.2-6]: PUBACK 0x80 from the chosen member discards the message"""
        a, b = self._members(2)
        held = self._publish_until(a, 1)
        b.drain_publishes(0.3)
        a.send(ack(PUBACK if held.qos == 1 else PUBREC, held.packet_id, 0x80))
        for p in b.drain_publishes(0.6):
            self.assertNotEqual(p.payload, held.payload)
        a.expect_nothing(0.3)


if __name__ == "__main__":
    main()
