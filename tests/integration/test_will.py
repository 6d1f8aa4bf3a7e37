"""Will messages: when they are published (abnormal close, DISCONNECT 0x04, after the delay, at
session end) and when not (DISCONNECT 0x00, reconnect within the delay), with their properties,
QoS and retain flag."""

import time

from mqtt_harness import (
    BrokerTestCase, CONTENT_TYPE, PAYLOAD_FORMAT_INDICATOR, RC_DISCONNECT_WITH_WILL,
    RESPONSE_TOPIC, SESSION_EXPIRY_INTERVAL, USER_PROPERTY, V311, WILL_DELAY_INTERVAL, main,
    mqttd_only)


class Will(BrokerTestCase):

    def _watcher(self, **opts):
        w = self.connected(self.cid("w"))
        w.subscribe(self.topic(), qos=opts.pop("qos", 2), **opts)
        return w

    def _with_will(self, version=5, props=None, will_props=None, **kw):
        kw.setdefault("will_payload", b"gone")
        return self.connected(self.cid("c"), version=version, will_topic=self.topic(),
                              props=props, will_props=will_props, **kw)

    def test_will_published_on_abnormal_close(self):
        """[MQTT-3.1.2-7] [MQTT-3.1.2-8] [MQTT-3.1.2-14]"""
        w = self._watcher()
        self._with_will(will_qos=1).close()
        p = w.recv_publish()
        self.assertEqual((p.topic, p.payload, p.qos, p.retain), (self.topic(), b"gone", 1, False))

    def test_will_not_published_on_normal_disconnect(self):
        """[MQTT-3.14.4-3] [MQTT-3.1.2-10]"""
        w = self._watcher()
        self._with_will().disconnect(0)
        w.expect_nothing(0.6)

    def test_will_published_on_disconnect_with_will_message(self):
        """section 3.14.2.1: reason 0x04 Disconnect with Will Message"""
        w = self._watcher()
        self._with_will().disconnect(RC_DISCONNECT_WITH_WILL)
        self.assertEqual(w.recv_publish().payload, b"gone")

    def test_v311_will_published_on_abnormal_close(self):
        """v3.1.1 [MQTT-3.1.2-8]"""
        w = self._watcher()
        self._with_will(version=V311).close()
        self.assertEqual(w.recv_publish().payload, b"gone")

    def test_v311_will_not_published_on_disconnect(self):
        """v3.1.1 [MQTT-3.1.2-10]"""
        w = self._watcher()
        self._with_will(version=V311).disconnect()
        w.expect_nothing(0.6)

    def test_will_qos_honoured(self):
        """[MQTT-3.1.2-12]"""
        w = self._watcher()
        self._with_will(will_qos=2).close()
        self.assertEqual(w.recv_publish().qos, 2)

    def test_will_retain_stores_retained_message(self):
        """[MQTT-3.1.2-15]"""
        self._with_will(will_retain=True, will_qos=1).close()
        time.sleep(0.3)
        late = self.connected(self.cid("late"))
        late.subscribe(self.topic(), qos=1)
        p = late.recv_publish()
        self.assertEqual((p.payload, p.retain), (b"gone", True))

    def test_will_properties_forwarded_in_order(self):
        """[MQTT-3.1.3-10] [MQTT-3.3.2-4] [MQTT-3.3.2-20] [MQTT-3.3.2-15]"""
        w = self._watcher()
        user = [("b", "1"), ("a", "2"), ("b", "3")]
        will_props = [(PAYLOAD_FORMAT_INDICATOR, 1), (CONTENT_TYPE, "text/plain"),
                      (RESPONSE_TOPIC, "r/t")] + [(USER_PROPERTY, u) for u in user]
        self._with_will(will_props=will_props).close()
        p = w.recv_publish()
        self.assertEqual(p.props[CONTENT_TYPE], "text/plain")
        self.assertEqual(p.props[PAYLOAD_FORMAT_INDICATOR], 1)
        self.assertEqual(p.props[RESPONSE_TOPIC], "r/t")
        self.assertEqual(p.props.user, user)

    def test_will_delay_postpones_publication(self):
        """[MQTT-3.1.2-8]: will delay 1 s, session expiry 10 s"""
        w = self._watcher()
        self._with_will(props={SESSION_EXPIRY_INTERVAL: 10},
                        will_props={WILL_DELAY_INTERVAL: 1}).close()
        w.expect_nothing(0.6)
        self.assertEqual(w.recv_publish(timeout=2.5).payload, b"gone")

    def test_reconnect_within_will_delay_cancels_will(self):
        """[MQTT-3.1.3-9]"""
        w = self._watcher()
        props = {SESSION_EXPIRY_INTERVAL: 10}
        self._with_will(props=props, will_props={WILL_DELAY_INTERVAL: 1}).close()
        time.sleep(0.3)
        c = self.client()
        c.connect(self.cid("c"), clean_start=False, props=props)
        w.expect_nothing(1.5)

    def test_will_published_at_session_end_before_will_delay(self):
        """[MQTT-3.1.2-8]: session expiry 1 s < will delay 30 s: published when the session
        ends"""
        w = self._watcher()
        self._with_will(props={SESSION_EXPIRY_INTERVAL: 1},
                        will_props={WILL_DELAY_INTERVAL: 30}).close()
        self.assertEqual(w.recv_publish(timeout=3.0).payload, b"gone")

    @mqttd_only("Mosquitto 2.0.11 waits for the will delay even when the session has ended")
    def test_will_with_session_expiry_0_and_delay_published_immediately(self):
        """[MQTT-3.1.2-8]: the session ends with the connection, so does the wait"""
        w = self._watcher()
        self._with_will(will_props={WILL_DELAY_INTERVAL: 30}).close()
        self.assertEqual(w.recv_publish(timeout=1.5).payload, b"gone")

    def test_will_published_once(self):
        """[MQTT-3.1.2-10]: removed from the session once published"""
        w = self._watcher()
        self._with_will().close()
        w.recv_publish()
        w.expect_nothing(0.6)


if __name__ == "__main__":
    main()
