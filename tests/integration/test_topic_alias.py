"""Topic aliases in both directions: client-to-server mappings, their errors, and server-to-client
aliases when the client allows them."""

from mqtt_harness import (
    BrokerTestCase, RC_PROTOCOL_ERROR, RC_TOPIC_ALIAS_INVALID, TOPIC_ALIAS, TOPIC_ALIAS_MAXIMUM,
    main, mqttd_only, publish)


class ClientAliases(BrokerTestCase):
    config = ["max_topic_alias 4"]

    def _sub(self):
        sub = self.connected(self.cid("s"))
        sub.subscribe(self.topic("#"), qos=1)
        return sub

    def test_alias_set_then_reused_with_empty_topic(self):
        """[MQTT-3.3.2-12] section 3.3.2.3.4"""
        sub = self._sub()
        pub = self.connected(self.cid("p"))
        pub.publish(self.topic("a"), b"1", qos=1, props={TOPIC_ALIAS: 1})
        pub.publish("", b"2", qos=1, props={TOPIC_ALIAS: 1})
        msgs = sub.recv_publishes(2)
        self.assertEqual([(p.topic, p.payload) for p in msgs],
                         [(self.topic("a"), b"1"), (self.topic("a"), b"2")])
        self.assertNotIn(TOPIC_ALIAS, msgs[1].props)  # [MQTT-3.1.2-27]: the subscriber allowed none

    def test_alias_can_be_remapped(self):
        """section 3.3.2.3.4: a new topic with a known alias replaces the mapping"""
        sub = self._sub()
        pub = self.connected(self.cid("p"))
        pub.publish(self.topic("a"), b"1", qos=1, props={TOPIC_ALIAS: 4})
        pub.publish(self.topic("b"), b"2", qos=1, props={TOPIC_ALIAS: 4})
        pub.publish("", b"3", qos=1, props={TOPIC_ALIAS: 4})
        self.assertEqual([p.topic for p in sub.recv_publishes(3)],
                         [self.topic("a"), self.topic("b"), self.topic("b")])

    @mqttd_only("Mosquitto answers alias 0 with 0x81")
    def test_alias_0_gets_disconnect_0x94(self):
        """[MQTT-3.3.2-8]"""
        c = self.connected()
        c.send(publish(self.topic(), b"x", props={TOPIC_ALIAS: 0}))
        c.expect_disconnect(RC_TOPIC_ALIAS_INVALID)

    def test_alias_above_maximum_gets_disconnect_0x94(self):
        """[MQTT-3.3.2-9] [MQTT-3.2.2-17]"""
        c = self.connected()
        c.send(publish(self.topic(), b"x", props={TOPIC_ALIAS: 5}))
        c.expect_disconnect(RC_TOPIC_ALIAS_INVALID)

    def test_unknown_alias_with_empty_topic_is_protocol_error(self):
        """section 3.3.2.3.4: no mapping for the alias: DISCONNECT 0x82"""
        c = self.connected()
        c.send(publish("", b"x", props={TOPIC_ALIAS: 2}))
        c.expect_disconnect(RC_PROTOCOL_ERROR)

    def test_aliases_do_not_survive_reconnect(self):
        """[MQTT-3.3.2-7]"""
        c = self.connected()
        c.publish(self.topic("a"), b"1", qos=1, props={TOPIC_ALIAS: 1})
        c.disconnect()
        c = self.connected()
        c.send(publish("", b"x", props={TOPIC_ALIAS: 1}))
        c.expect_disconnect(RC_PROTOCOL_ERROR)


class NoClientAliases(BrokerTestCase):
    config = ["max_topic_alias 0"]

    def test_topic_alias_maximum_0_means_no_aliases(self):
        """[MQTT-3.2.2-18]: absent or 0; any alias then gets 0x94"""
        c = self.client()
        self.assertEqual(c.connect(self.cid()).props.get(TOPIC_ALIAS_MAXIMUM, 0), 0)
        c.send(publish(self.topic(), b"x", props={TOPIC_ALIAS: 1}))
        c.expect_disconnect(RC_TOPIC_ALIAS_INVALID)


class ServerAliases(BrokerTestCase):

    def test_no_server_aliases_without_topic_alias_maximum(self):
        """[MQTT-3.1.2-27]"""
        sub = self.connected(self.cid("s"))
        sub.subscribe(self.topic(), qos=0)
        pub = self.connected(self.cid("p"))
        for _ in range(3):
            pub.publish(self.topic(), b"x")
        for p in sub.recv_publishes(3):
            self.assertNotIn(TOPIC_ALIAS, p.props)
            self.assertEqual(p.topic, self.topic())

    def test_server_aliases_stay_within_client_maximum(self):
        """[MQTT-3.1.2-26] [MQTT-3.3.2-11]"""
        sub = self.connected(self.cid("s"), props={TOPIC_ALIAS_MAXIMUM: 2},
                             resolve_aliases=True)
        sub.subscribe(self.topic("#"), qos=0)
        pub = self.connected(self.cid("p"))
        topics = [self.topic(str(i % 4)) for i in range(12)]
        for t in topics:
            pub.publish(t, b"x")
        msgs = sub.recv_publishes(12)
        self.assertEqual([p.topic for p in msgs], topics)
        for p in msgs:
            if p.alias is not None:
                self.assertTrue(1 <= p.alias <= 2, p)

    @mqttd_only("Mosquitto 2.0 never sends topic aliases")
    def test_second_message_on_topic_uses_empty_topic_and_alias(self):
        """section 3.3.2.3.4: with Topic Alias Maximum > 0 the server aliases repeated topics"""
        sub = self.connected(self.cid("s"), props={TOPIC_ALIAS_MAXIMUM: 5})
        sub.subscribe(self.topic(), qos=1)
        pub = self.connected(self.cid("p"))
        pub.publish(self.topic(), b"1", qos=1)
        pub.publish(self.topic(), b"2", qos=1)
        first, second = sub.recv_publishes(2)
        self.assertEqual(first.topic, self.topic())
        self.assertIsNotNone(first.alias)
        self.assertEqual(second.topic, "")
        self.assertEqual(second.alias, first.alias)


class OutgoingAliasCap(BrokerTestCase):
    config = ["outgoing_topic_aliases 1"]

    def test_server_assigns_no_more_aliases_than_configured(self):
        """outgoing_topic_aliases 1 with a client allowing 5: one alias, other topics in full"""
        sub = self.connected(self.cid("s"), props={TOPIC_ALIAS_MAXIMUM: 5},
                             resolve_aliases=True)
        sub.subscribe(self.topic("#"), qos=0)
        pub = self.connected(self.cid("p"))
        topics = [self.topic(t) for t in "xyxyx"]
        for t in topics:
            pub.publish(t, b"m")
        msgs = sub.recv_publishes(5)
        self.assertEqual([p.topic for p in msgs], topics)
        self.assertEqual({p.alias for p in msgs} - {None}, {1})


if __name__ == "__main__":
    main()
