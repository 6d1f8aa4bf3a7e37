"""Interop with Eclipse Paho's Python client (Debian's python3-paho-mqtt 1.6): MQTT 5
properties, QoS 2, retained messages and wills, both as publisher and as subscriber."""

import os
import queue
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

import paho.mqtt.client as paho  # noqa: E402
from paho.mqtt.packettypes import PacketTypes  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402

from mqtt_harness import (  # noqa: E402
    BrokerTestCase, CONTENT_TYPE, CORRELATION_DATA, RESPONSE_TOPIC, USER_PROPERTY, main)


class PahoClient:
    """A paho client running its network loop in a thread, messages into a queue."""

    def __init__(self, test, client_id, protocol=paho.MQTTv5, **connect_kw):
        self.messages = queue.Queue()
        self.c = paho.Client(client_id=client_id, protocol=protocol)
        self.c.on_message = lambda _c, _u, msg: self.messages.put(msg)
        self.connected = queue.Queue()
        if protocol == paho.MQTTv5:
            self.c.on_connect = lambda _c, _u, _f, rc, props=None: self.connected.put(rc)
        else:
            self.c.on_connect = lambda _c, _u, _f, rc: self.connected.put(rc)
        self.test = test
        self.connect_kw = connect_kw

    def start(self):
        self.c.connect("127.0.0.1", self.test.broker.port, keepalive=30, **self.connect_kw)
        self.c.loop_start()
        self.test.addCleanup(self.stop)
        rc = self.connected.get(timeout=5)
        self.test.assertEqual(int(getattr(rc, "value", rc)), 0)
        return self

    def subscribe(self, topic, qos):
        done = queue.Queue()
        self.c.on_subscribe = lambda *a: done.put(a)
        self.c.subscribe(topic, qos)
        done.get(timeout=5)

    def get(self, timeout=5):
        return self.messages.get(timeout=timeout)

    def stop(self):
        self.c.loop_stop()
        self.c.disconnect()


class Paho(BrokerTestCase):

    def test_paho_v5_publish_with_properties_reaches_raw_subscriber(self):
        """[MQTT-3.3.2-15] [MQTT-3.3.2-16] [MQTT-3.3.2-18] [MQTT-3.3.2-20]"""
        sub = self.connected(self.cid("s"))
        sub.subscribe(self.topic(), qos=2)
        pub = PahoClient(self, self.cid("p")).start()
        props = Properties(PacketTypes.PUBLISH)
        props.ContentType = "application/json"
        props.ResponseTopic = "reply/to"
        props.CorrelationData = b"\x01\x02"
        props.UserProperty = [("first", "1"), ("second", "2")]
        pub.c.publish(self.topic(), b'{"a":1}', qos=2, properties=props).wait_for_publish(5)
        p = sub.recv_publish()
        self.assertEqual((p.payload, p.qos), (b'{"a":1}', 2))
        self.assertEqual(p.props[CONTENT_TYPE], "application/json")
        self.assertEqual(p.props[RESPONSE_TOPIC], "reply/to")
        self.assertEqual(p.props[CORRELATION_DATA], b"\x01\x02")
        self.assertEqual(p.props.all(USER_PROPERTY), [("first", "1"), ("second", "2")])

    def test_paho_v5_subscriber_gets_properties_from_raw_publisher(self):
        sub = PahoClient(self, self.cid("s")).start()
        sub.subscribe(self.topic(), 2)
        self.connected(self.cid("p")).publish(
            self.topic(), b"hi", qos=2,
            props=[(CONTENT_TYPE, "text/plain"), (USER_PROPERTY, ("k", "v"))])
        msg = sub.get()
        self.assertEqual((msg.payload, msg.qos), (b"hi", 2))
        self.assertEqual(msg.properties.ContentType, "text/plain")
        self.assertEqual(msg.properties.UserProperty, [("k", "v")])

    def test_paho_qos2_paho_to_paho(self):
        sub = PahoClient(self, self.cid("s")).start()
        sub.subscribe(self.topic(), 2)
        pub = PahoClient(self, self.cid("p")).start()
        for i in range(5):
            pub.c.publish(self.topic(), b"%d" % i, qos=2).wait_for_publish(5)
        got = [sub.get() for _ in range(5)]
        self.assertEqual([m.payload for m in got], [b"%d" % i for i in range(5)])
        self.assertTrue(all(m.qos == 2 for m in got))

    def test_paho_v311_retained(self):
        pub = PahoClient(self, self.cid("p"), protocol=paho.MQTTv311).start()
        pub.c.publish(self.topic(), b"kept", qos=1, retain=True).wait_for_publish(5)
        sub = PahoClient(self, self.cid("s"), protocol=paho.MQTTv311).start()
        sub.subscribe(self.topic(), 1)
        msg = sub.get()
        self.assertEqual((msg.payload, msg.retain), (b"kept", 1))
        pub.c.publish(self.topic(), b"", qos=1, retain=True).wait_for_publish(5)

    def test_paho_will_published_when_connection_drops(self):
        """[MQTT-3.1.2-8]: paho's will, the socket cut without DISCONNECT"""
        w = self.connected(self.cid("w"))
        w.subscribe(self.topic(), qos=1)
        dying = paho.Client(client_id=self.cid("d"), protocol=paho.MQTTv5)
        will_props = Properties(PacketTypes.WILLMESSAGE)
        will_props.UserProperty = [("why", "crash")]
        dying.will_set(self.topic(), b"paho died", qos=1, properties=will_props)
        dying.connect("127.0.0.1", self.broker.port, keepalive=30)
        dying.loop(timeout=1.0)
        time.sleep(0.2)
        dying.socket().close()
        p = w.recv_publish(timeout=5)
        self.assertEqual(p.payload, b"paho died")
        self.assertEqual(p.props.all(USER_PROPERTY), [("why", "crash")])


if __name__ == "__main__":
    main()
