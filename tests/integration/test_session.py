"""Sessions: takeover, offline queueing (bounded, QoS 0 optional), session expiry, and the
server's own DISCONNECT on shutdown."""

import time

from mqtt_harness import (
    Broker, BrokerTestCase, RC_SERVER_SHUTTING_DOWN, RC_SESSION_TAKEN_OVER,
    SESSION_EXPIRY_INTERVAL, V311, main, mqttd_only)

PERSIST = {SESSION_EXPIRY_INTERVAL: 60}


class Takeover(BrokerTestCase):

    def test_takeover_closes_old_connection_new_one_works(self):
        """[MQTT-3.1.4-3]"""
        old = self.connected()
        new = self.connected()
        old.assert_closed()
        new.subscribe(self.topic(), qos=1)
        self.connected(self.cid("p")).publish(self.topic(), b"x", qos=1)
        self.assertEqual(new.recv_publish().payload, b"x")

    @mqttd_only("Mosquitto 2.0.11 closes the old connection without DISCONNECT")
    def test_takeover_sends_disconnect_0x8e_to_old_connection(self):
        """[MQTT-3.1.4-3]"""
        old = self.connected()
        self.connected()
        old.expect_disconnect(RC_SESSION_TAKEN_OVER)

    def test_takeover_keeps_persistent_session(self):
        """[MQTT-3.1.2-5]: the new connection resumes the old one's session"""
        old = self.connected(props=PERSIST)
        old.subscribe(self.topic(), qos=1)
        new = self.client()
        self.assertTrue(new.connect(self.cid(), clean_start=False, props=PERSIST).session_present)
        old.assert_closed()
        self.connected(self.cid("p")).publish(self.topic(), b"x", qos=1)
        self.assertEqual(new.recv_publish().payload, b"x")

    def test_v311_takeover_closes_old_connection_silently(self):
        """v3.1.1 [MQTT-3.1.4-2]"""
        old = self.connected(version=V311)
        self.connected(version=V311)
        self.assertIsNone(old.assert_closed())


class OfflineQueue(BrokerTestCase):
    config = ["max_queued_messages 5"]

    def _offline_subscriber(self, qos=1):
        sub = self.connected(self.cid("s"), props=PERSIST)
        sub.subscribe(self.topic(), qos=qos)
        sub.disconnect()

    def _resume(self):
        sub = self.client()
        self.assertTrue(sub.connect(self.cid("s"), clean_start=False,
                                    props=PERSIST).session_present)
        return sub

    def test_qos1_and_qos2_queued_for_offline_session(self):
        """[MQTT-4.5.0-1] [MQTT-3.1.2-23]"""
        self._offline_subscriber(qos=2)
        pub = self.connected(self.cid("p"))
        pub.publish(self.topic(), b"q1", qos=1)
        pub.publish(self.topic(), b"q2", qos=2)
        msgs = self._resume().recv_publishes(2)
        self.assertEqual([(p.payload, p.qos) for p in msgs], [(b"q1", 1), (b"q2", 2)])

    def test_qos0_not_queued_by_default(self):
        """queue_qos0_messages defaults to false (Mosquitto semantics)"""
        self._offline_subscriber()
        pub = self.connected(self.cid("p"))
        pub.publish(self.topic(), b"q0", qos=0)
        pub.publish(self.topic(), b"q1", qos=1)
        self.assertEqual([p.payload for p in self._resume().drain_publishes(0.4)], [b"q1"])

    def test_queue_bounded_by_max_queued_messages(self):
        """max_queued_messages 5: the 6th message is dropped"""
        self._offline_subscriber()
        pub = self.connected(self.cid("p"))
        for i in range(6):
            pub.publish(self.topic(), b"%d" % i, qos=1)
        got = [p.payload for p in self._resume().drain_publishes(0.5)]
        self.assertEqual(got, [b"%d" % i for i in range(5)])


class QueueQos0(BrokerTestCase):
    config = ["queue_qos0_messages true"]

    def test_qos0_queued_when_enabled(self):
        sub = self.connected(self.cid("s"), props=PERSIST)
        sub.subscribe(self.topic(), qos=0)
        sub.disconnect()
        self.connected(self.cid("p")).publish(self.topic(), b"q0", qos=0)
        time.sleep(0.2)
        sub = self.client()
        sub.connect(self.cid("s"), clean_start=False, props=PERSIST)
        self.assertEqual(sub.recv_publish().payload, b"q0")


class Expiry(BrokerTestCase):

    def test_session_expires_after_interval(self):
        """[MQTT-4.1.0-2]: expiry 1, reconnect after 2 s: Session Present 0"""
        c = self.connected(props={SESSION_EXPIRY_INTERVAL: 1})
        c.subscribe(self.topic(), qos=1)
        c.disconnect()
        time.sleep(2.1)
        ack = self.client().connect(self.cid(), clean_start=False,
                                    props={SESSION_EXPIRY_INTERVAL: 1})
        self.assertFalse(ack.session_present)

    def test_session_kept_within_interval(self):
        """[MQTT-4.1.0-1] [MQTT-3.1.2-23]"""
        c = self.connected(props={SESSION_EXPIRY_INTERVAL: 5})
        c.subscribe(self.topic(), qos=1)
        c.close()
        time.sleep(0.5)
        ack = self.client().connect(self.cid(), clean_start=False,
                                    props={SESSION_EXPIRY_INTERVAL: 5})
        self.assertTrue(ack.session_present)

    def test_expiry_can_be_shortened_on_disconnect(self):
        """section 3.14.2.2.2: Session Expiry Interval in DISCONNECT replaces the CONNECT one"""
        c = self.connected(props={SESSION_EXPIRY_INTERVAL: 60})
        c.subscribe(self.topic(), qos=1)
        c.disconnect(0, {SESSION_EXPIRY_INTERVAL: 0})
        time.sleep(0.3)
        self.assertFalse(self.client().connect(self.cid(), clean_start=False).session_present)

    def test_v311_clean_session_0_session_persists(self):
        """v3.1.1 [MQTT-3.1.2-4]: CleanSession 0 keeps the session; Session Present 1"""
        c = self.connected(version=V311, clean_start=False)
        c.subscribe(self.topic(), qos=1)
        c.disconnect()
        self.connected(self.cid("p")).publish(self.topic(), b"x", qos=1)
        c = self.client(V311)
        self.assertTrue(c.connect(self.cid(), clean_start=False).session_present)
        self.assertEqual(c.recv_publish().payload, b"x")


class Shutdown(BrokerTestCase):

    @mqttd_only("Mosquitto 2.0.11 closes connections on SIGTERM without DISCONNECT")
    def test_sigterm_sends_disconnect_0x8b_to_v5_clients(self):
        """section 3.14.2.1: DISCONNECT 0x8B Server shutting down"""
        with Broker(workers=2) as b:
            c = self.client(broker=b)
            self.assertEqual(c.connect(self.cid()).reason_code, 0)
            v3 = self.client(V311, broker=b)
            v3.connect(self.cid("3"))
            b.stop()
            c.expect_disconnect(RC_SERVER_SHUTTING_DOWN)
            self.assertIsNone(v3.assert_closed())

    def test_sigterm_stops_broker_promptly(self):
        with Broker() as b:
            self.client(broker=b).connect(self.cid())
            start = time.monotonic()
            rc = b.stop()
            self.assertLess(time.monotonic() - start, 4.5)
            self.assertEqual(rc, 0)


if __name__ == "__main__":
    main()
