"""WebSocket listeners (issue 4): the HTTP upgrade and its refusals, MQTT over frames (packets
spanning frames, several packets in one frame, fragmented messages), ping/pong, the close
handshake, the close codes bad frames earn, the origin allow-list and frame size limit, and
clients nobody here wrote: MQTT.js from Node and paho's websockets transport, over ws and wss
(the TLS layer below the WebSocket layer)."""

import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mqtt_harness as h  # noqa: E402
import ws_support as ws  # noqa: E402


class WsBrokerCase(unittest.TestCase):
    """A broker with a TCP listener (the harness's) and a WebSocket listener on cls.ws_port."""

    extra_lines = []

    @classmethod
    def setUpClass(cls):
        ws.need_mqttd()
        cls.ws_port = h.free_port()
        cls.broker = h.Broker(ws.listener_lines(cls.ws_port, *cls.extra_lines))
        cls.broker.start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.__exit__(None, None, None)

    def setUp(self):
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close()
        if self.broker.proc is None or self.broker.proc.poll() is not None:
            raise AssertionError("broker died:\n" + self.broker.log_text()[-4000:])

    def ws_client(self, **kw):
        c = ws.WsClient(self.ws_port, **kw)
        self.clients.append(c)
        return c

    def connected(self, client_id, **kw):
        c = self.ws_client(**kw)
        self.assertEqual(c.connect(client_id).reason_code, 0)
        return c


class Upgrade(WsBrokerCase):

    def test_upgrade_answers_101_with_the_rfc_accept_and_mqtt_subprotocol(self):
        """[MQTT-6.0.0-4] the server selects the "mqtt" subprotocol"""
        c = self.ws_client()
        self.assertEqual(c.header("Sec-WebSocket-Accept"), ws.accept_for("dGhlIHNhbXBsZSBub25jZQ=="))
        self.assertEqual(c.header("Sec-WebSocket-Protocol"), "mqtt")

    def test_mqttv31_subprotocol_is_accepted_for_a_311_client(self):
        c = self.ws_client(protocol="mqttv3.1", version=h.V311)
        self.assertEqual(c.header("Sec-WebSocket-Protocol"), "mqttv3.1")
        self.assertEqual(c.connect("v311-over-ws").reason_code, 0)

    def test_wrong_path_gets_404_and_is_closed(self):
        reply = ws.http_exchange(self.ws_port, ws.upgrade_request(path="/elsewhere"))
        self.assertTrue(reply.startswith(b"HTTP/1.1 404 "), reply)

    def test_plain_http_get_gets_426_with_a_body(self):
        reply = ws.http_exchange(self.ws_port, b"GET /mqtt HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertTrue(reply.startswith(b"HTTP/1.1 426 "), reply)
        self.assertIn(b"\r\n\r\nthis endpoint speaks MQTT over WebSocket only", reply)

    def test_upgrade_without_mqtt_subprotocol_gets_400(self):
        reply = ws.http_exchange(self.ws_port, ws.upgrade_request(protocol="chat"))
        self.assertTrue(reply.startswith(b"HTTP/1.1 400 "), reply)
        reply = ws.http_exchange(self.ws_port, ws.upgrade_request(protocol=None))
        self.assertTrue(reply.startswith(b"HTTP/1.1 400 "), reply)

    def test_plain_mqtt_on_the_websocket_port_is_refused_at_once_and_logged(self):
        reply = ws.http_exchange(self.ws_port, h.connect("plain-on-ws"))
        self.assertTrue(reply.startswith(b"HTTP/1.1 400 "), reply)
        self.assertRegex(self.broker.log_text(),
                         r"127\.0\.0\.1:\d+: websocket: upgrade refused \(400")


class Frames(WsBrokerCase):

    def test_publish_over_websocket_reaches_a_tcp_subscriber_and_back(self):
        tcp = h.Client(self.broker.port)
        self.clients.append(tcp)
        tcp.connect("tcp-side")
        tcp.subscribe("ws/cross", qos=1)
        c = self.connected("ws-side")
        c.subscribe("ws/back", qos=1)
        self.assertEqual(c.publish("ws/cross", b"from ws", qos=1).type, h.PUBACK)
        self.assertEqual(tcp.recv_publish().payload, b"from ws")
        tcp.publish("ws/back", b"from tcp", qos=1)
        self.assertEqual(c.recv_publish().payload, b"from tcp")

    def test_packet_spanning_frames_and_packets_sharing_a_frame_are_understood(self):
        """[MQTT-6.0.0-2] packets are not assumed to be aligned with frames"""
        c = self.ws_client()
        packet = h.connect("spanning")
        c.send_frames(ws.frame(ws.OP_BINARY, packet[:3]) + ws.frame(ws.OP_BINARY, packet[3:]))
        self.assertEqual(c.expect(h.CONNACK).reason_code, 0)
        c.send_frames(ws.frame(ws.OP_BINARY, h.pingreq() + h.pingreq()))
        c.expect(h.PINGRESP)
        c.expect(h.PINGRESP)

    def test_fragmented_message_with_a_ping_inside_is_reassembled(self):
        c = self.connected("fragmented")
        c.subscribe("ws/frag")
        packet = h.publish("ws/frag", b"x" * 300)
        c.send_frames(ws.frame(ws.OP_BINARY, packet[:100], fin=False) +
                      ws.frame(ws.OP_PING, b"mid") +
                      ws.frame(ws.OP_CONT, packet[100:200], fin=False) +
                      ws.frame(ws.OP_CONT, packet[200:]))
        self.assertEqual(c.recv_publish().payload, b"x" * 300)
        self.assertEqual(c.pongs, [b"mid"])

    def test_large_publish_uses_64_bit_frame_lengths_both_ways(self):
        c = self.connected("large")
        c.subscribe("ws/large")
        c.publish("ws/large", bytes(range(256)) * 400)
        self.assertEqual(c.recv_publish(timeout=5).payload, bytes(range(256)) * 400)

    def test_ping_frame_gets_a_pong_with_its_payload(self):
        c = self.connected("pinger")
        c.send_frames(ws.frame(ws.OP_PING, b"hello"))
        c.ping()  # an MQTT round trip: the pong was sent before the PINGRESP
        self.assertEqual(c.pongs, [b"hello"])

    def test_close_frame_is_answered_and_the_server_closes_tcp(self):
        c = self.connected("closer")
        c.send_frames(ws.frame(ws.OP_CLOSE, b"\x03\xe8bye"))
        self.assertEqual(c.wait_closed(), [1000])

    def test_mqtt_disconnect_ends_with_a_close_frame(self):
        c = self.connected("disconnecter")
        c.send(h.disconnect())
        self.assertEqual(c.wait_closed(), [1000])

    def test_text_frame_is_closed_with_1003(self):
        """[MQTT-6.0.0-1] MQTT travels in binary frames only"""
        c = self.connected("texter")
        c.send_frames(ws.frame(ws.OP_TEXT, b"hello"))
        self.assertEqual(c.wait_closed(), [1003])

    def test_unmasked_frame_is_closed_with_1002(self):
        c = self.ws_client()
        c.send_frames(ws.frame(ws.OP_BINARY, h.connect("unmasked"), mask=None))
        self.assertEqual(c.wait_closed(), [1002])
        self.assertRegex(self.broker.log_text(), r"websocket: unmasked frame from the client")

    def test_will_is_published_when_the_websocket_drops(self):
        watcher = self.connected("will-watcher")
        watcher.subscribe("ws/will")
        c = self.ws_client()
        c.connect("will-owner", will_topic="ws/will", will_payload=b"gone")
        c.sock.close()
        self.assertEqual(watcher.recv_publish().payload, b"gone")


class Limits(WsBrokerCase):

    extra_lines = ["websockets_origin https://app.example", "websockets_origin http://ok.example",
                   "websockets_max_frame_size 1k", "connect_timeout 1"]

    def test_upgrade_never_finished_is_closed_after_connect_timeout(self):
        s = socket.create_connection(("127.0.0.1", self.ws_port), timeout=5)
        try:
            s.sendall(b"GET /mqtt HTTP/1.1\r\nHost: x\r\n")
            start = time.monotonic()
            self.assertEqual(s.recv(100), b"")
            self.assertLess(time.monotonic() - start, 4)
        finally:
            s.close()

    def test_origin_on_the_allow_list_is_accepted(self):
        c = self.ws_client(origin="http://ok.example")
        self.assertEqual(c.connect("good-origin").reason_code, 0)

    def test_origin_off_the_allow_list_gets_403(self):
        reply = ws.http_exchange(self.ws_port, ws.upgrade_request(origin="https://evil.example"))
        self.assertTrue(reply.startswith(b"HTTP/1.1 403 "), reply)

    def test_frame_over_websockets_max_frame_size_is_closed_with_1009(self):
        c = self.connected("big-frame")
        c.send(h.publish("ws/big", b"y" * 1000))
        c.ping()
        c.send(h.publish("ws/big", b"y" * 1100))
        self.assertEqual(c.wait_closed(), [1009])


class MqttJs(WsBrokerCase):

    def test_mqtt_js_connects_subscribes_and_gets_retained_qos1_and_qos0_messages(self):
        ws.need_mqtt_js()
        url = "ws://127.0.0.1:%d/mqtt" % self.ws_port
        out = ws.run_node("ws_roundtrip.js", url, "js/ws")
        self.assertEqual(out["granted"], [1])
        self.assertEqual(out["received"], [
            {"topic": "js/ws/retained", "payload": "kept for later", "qos": 1, "retain": True},
            {"topic": "js/ws/q1", "payload": "at least once", "qos": 1, "retain": False},
            {"topic": "js/ws/q0", "payload": "at most once", "qos": 0, "retain": False},
        ])


class Paho(WsBrokerCase):

    def test_paho_websockets_transport_publishes_and_receives(self):
        import paho.mqtt.client as paho
        got = threading.Event()
        received = []
        subscribed = threading.Event()
        c = paho.Client(client_id="paho-ws", protocol=paho.MQTTv311, transport="websockets")
        c.ws_set_options(path="/mqtt")
        c.on_connect = lambda cl, u, f, rc: cl.subscribe("ws/paho", 1)
        c.on_subscribe = lambda *a: subscribed.set()

        def on_message(cl, u, msg):
            received.append(msg.payload)
            got.set()
        c.on_message = on_message
        c.connect("127.0.0.1", self.ws_port, keepalive=30)
        c.loop_start()
        try:
            self.assertTrue(subscribed.wait(5))
            c.publish("ws/paho", b"hello over ws", qos=1)
            self.assertTrue(got.wait(5))
        finally:
            c.disconnect()
            c.loop_stop()
        self.assertEqual(received, [b"hello over ws"])


def tls_support():
    """The TLS test helpers (a throw-away CA), or a skip when they are not there."""
    try:
        import tls_support
    except ImportError:
        raise unittest.SkipTest("tls_support.py is not available")
    tls_support.need_certtool()
    return tls_support


class Wss(unittest.TestCase):
    """wss: the TLS layer below the WebSocket layer on one listener."""

    @classmethod
    def setUpClass(cls):
        ws.need_mqttd()
        tls = tls_support()
        cls.dir = tempfile.mkdtemp(prefix="mqttd-wss-")
        cls.pki = tls.Pki(cls.dir)
        cls.ctx = tls.client_context(cls.pki)
        cls.wss_port = h.free_port()
        cls.broker = h.Broker(tls.listener_lines(cls.wss_port, cls.pki, "protocol websockets"))
        try:
            cls.broker.start()
        except Exception:
            shutil.rmtree(cls.dir, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.broker.__exit__(None, None, None)
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_raw_client_over_wss_publishes_and_receives(self):
        wrap = lambda s: self.ctx.wrap_socket(s, server_hostname="localhost")  # noqa: E731
        c = ws.WsClient(self.wss_port, wrap=wrap)
        try:
            self.assertEqual(c.connect("wss-raw").reason_code, 0)
            c.subscribe("wss/raw", qos=1)
            c.publish("wss/raw", b"secret", qos=1)
            self.assertEqual(c.recv_publish().payload, b"secret")
            c.send_frames(ws.frame(ws.OP_CLOSE, b"\x03\xe8"))
            self.assertEqual(c.wait_closed(), [1000])
        finally:
            c.close()

    def test_mqtt_js_over_wss_gets_retained_qos1_and_qos0_messages(self):
        ws.need_mqtt_js()
        url = "wss://localhost:%d/mqtt" % self.wss_port
        out = ws.run_node("ws_roundtrip.js", url, "js/wss", self.pki.ca_crt)
        self.assertEqual([m["payload"] for m in out["received"]],
                         ["kept for later", "at least once", "at most once"])
        self.assertTrue(out["received"][0]["retain"])

    def test_plain_websocket_on_the_wss_port_is_refused(self):
        s = socket.create_connection(("127.0.0.1", self.wss_port), timeout=3)
        try:
            s.sendall(ws.upgrade_request())
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except (ConnectionResetError, socket.timeout):
            pass
        finally:
            s.close()
        self.assertNotIn(b"101 Switching Protocols", data)


if __name__ == "__main__":
    unittest.main()
