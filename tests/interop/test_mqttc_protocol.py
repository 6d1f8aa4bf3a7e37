"""mqttc against a scripted MQTT 5 server: the behaviour a well-mannered broker rarely
provokes. Topic aliases sent by the server, the server's Receive Maximum, Maximum QoS and Server
Keep Alive, a duplicate QoS 2 delivery, a refused QoS 2 publish, a server DISCONNECT, and packets
arriving one byte at a time. Each test plays the server side in a thread over a loopback
socket; the broker selection does not apply here."""

import os
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_mqttc_harness import MQTTC  # noqa: E402

CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT = 8, 9, 12, 13, 14

RECEIVE_MAXIMUM, TOPIC_ALIAS, MAXIMUM_QOS, SERVER_KEEP_ALIVE = 0x21, 0x23, 0x24, 0x13


def varint(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def packet(type_, flags, body):
    return bytes([(type_ << 4) | flags]) + varint(len(body)) + body


def utf8(s):
    b = s.encode()
    return struct.pack(">H", len(b)) + b


def props(*items):
    """items: (id, 'u8'|'u16'|'u32', value)."""
    body = b""
    for pid, kind, value in items:
        body += bytes([pid]) + {"u8": struct.pack(">B", value), "u16": struct.pack(">H", value),
                                "u32": struct.pack(">I", value)}[kind]
    return varint(len(body)) + body


def connack(*prop_items):
    return packet(CONNACK, 0, b"\x00\x00" + props(*prop_items))


def publish(topic, payload, qos=0, packet_id=0, alias=None, dup=False):
    body = utf8(topic)
    if qos:
        body += struct.pack(">H", packet_id)
    body += props((TOPIC_ALIAS, "u16", alias)) if alias else props()
    flags = (qos << 1) | (0x08 if dup else 0)
    return packet(PUBLISH, flags, body + payload)


def ack(type_, packet_id, reason=0):
    flags = 2 if type_ == PUBREL else 0
    return packet(type_, flags, struct.pack(">HB", packet_id, reason) + b"\x00")


class ScriptedServer:
    """One connection on a free loopback port; `script(server)` runs in a thread and talks to
    the client with send()/recv_packet()."""

    def __init__(self, script):
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.script = script
        self.error = None
        self.conn = None
        self.buf = b""
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            self.listener.settimeout(10)
            self.conn, _ = self.listener.accept()
            self.conn.settimeout(10)
            self.script(self)
        except Exception as e:  # reported by join()
            self.error = e
        finally:
            if self.conn:
                self.conn.close()
            self.listener.close()

    def send(self, data, byte_by_byte=False):
        if not byte_by_byte:
            self.conn.sendall(data)
            return
        for i in range(len(data)):
            self.conn.sendall(data[i:i + 1])
            time.sleep(0.001)

    def _fill(self, n, timeout):
        self.conn.settimeout(timeout)
        while len(self.buf) < n:
            chunk = self.conn.recv(4096)
            if not chunk:
                raise EOFError("client closed")
            self.buf += chunk

    def recv_packet(self, timeout=10):
        """Returns (type, flags, body)."""
        self._fill(2, timeout)
        length, shift, i = 0, 0, 1
        while True:
            self._fill(i + 1, timeout)
            b = self.buf[i]
            length += (b & 0x7F) << shift
            shift += 7
            i += 1
            if not b & 0x80:
                break
        self._fill(i + length, timeout)
        first, body = self.buf[0], self.buf[i:i + length]
        self.buf = self.buf[i + length:]
        return first >> 4, first & 0x0F, body

    def expect(self, type_, timeout=10):
        t, f, body = self.recv_packet(timeout)
        if t != type_:
            raise AssertionError("expected packet type %d, got %d" % (type_, t))
        return body

    def accept_connect(self, *connack_props):
        self.expect(CONNECT)
        self.send(connack(*connack_props))

    def accept_subscribe(self):
        body = self.expect(SUBSCRIBE)
        self.send(packet(SUBACK, 0, body[:2] + b"\x00" + b"\x00"))

    def join(self):
        self.thread.join(15)
        if self.error:
            raise self.error


def mqttc(server, *args, stdin=None):
    return subprocess.run([MQTTC] + [str(a) for a in args[:1]] +
                          ["-h", "127.0.0.1", "-p", str(server.port)] +
                          [str(a) for a in args[1:]],
                          input=stdin, capture_output=True, text=True, timeout=30)


@unittest.skipUnless(os.access(MQTTC, os.X_OK), "no mqttc binary (set MQTTC_BIN)")
class ScriptedServerTest(unittest.TestCase):

    def test_incoming_topic_alias_is_resolved_even_from_bytes_arriving_one_at_a_time(self):
        def script(s):
            s.accept_connect()
            s.accept_subscribe()
            s.send(publish("a/b", b"one", alias=1), byte_by_byte=True)
            s.send(publish("", b"two", alias=1), byte_by_byte=True)
            s.expect(DISCONNECT)
        server = ScriptedServer(script)
        r = mqttc(server, "sub", "-t", "a/#", "-v", "-C", 2,
                  "-D", "connect", "topic-alias-maximum", 5)
        server.join()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.splitlines(), ["a/b one", "a/b two"])  # [MQTT-3.3.2-10]

    def test_topic_alias_over_our_maximum_is_refused_with_0x94(self):
        reason = []

        def script(s):
            s.accept_connect()
            s.accept_subscribe()
            s.send(publish("a/b", b"x", alias=9))
            reason.append(s.expect(DISCONNECT)[0])
        server = ScriptedServer(script)
        r = mqttc(server, "sub", "-t", "a/#", "-D", "connect", "topic-alias-maximum", 5)
        server.join()
        self.assertEqual(r.returncode, 1)
        self.assertEqual(reason, [0x94])  # MQTT 5.0 section 3.3.2.3.4
        self.assertIn("(0x94)", r.stderr)

    def test_unknown_topic_alias_is_a_protocol_error(self):
        reason = []

        def script(s):
            s.accept_connect()
            s.accept_subscribe()
            s.send(publish("", b"x", alias=2))
            reason.append(s.expect(DISCONNECT)[0])
        server = ScriptedServer(script)
        r = mqttc(server, "sub", "-t", "a/#", "-D", "connect", "topic-alias-maximum", 5)
        server.join()
        self.assertEqual(r.returncode, 1)
        self.assertEqual(reason, [0x82])

    def test_server_receive_maximum_bounds_unacknowledged_publishes(self):
        seen = []
        most_outstanding = []

        def script(s):
            s.accept_connect((RECEIVE_MAXIMUM, "u16", 2))
            outstanding = []
            while len(seen) < 5:
                try:
                    t, f, body = s.recv_packet(timeout=0.3)
                except socket.timeout:
                    # Quiet: the client waits for us. Acknowledge the oldest.
                    s.send(ack(PUBACK, outstanding.pop(0)))
                    continue
                assert t == PUBLISH, t
                tlen = struct.unpack(">H", body[:2])[0]
                pid = struct.unpack(">H", body[2 + tlen:4 + tlen])[0]
                seen.append(body[4 + tlen + 1:].decode())
                outstanding.append(pid)
                most_outstanding.append(len(outstanding))
            for pid in outstanding:
                s.send(ack(PUBACK, pid))
            s.expect(DISCONNECT)
        server = ScriptedServer(script)
        r = mqttc(server, "pub", "-t", "t", "-q", 1, "-l", stdin="1\n2\n3\n4\n5\n")
        server.join()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(seen, ["1", "2", "3", "4", "5"])
        self.assertEqual(max(most_outstanding), 2)  # [MQTT-3.3.4-7]

    def test_duplicate_qos_2_delivery_is_printed_once(self):
        answers = []

        def script(s):
            s.accept_connect()
            s.accept_subscribe()
            s.send(publish("q", b"once", qos=2, packet_id=7))
            answers.append(s.recv_packet()[0])
            s.send(publish("q", b"once", qos=2, packet_id=7, dup=True))
            answers.append(s.recv_packet()[0])
            s.send(ack(PUBREL, 7))
            answers.append(s.recv_packet()[0])
            s.send(publish("q", b"end"))
            s.expect(DISCONNECT)
        server = ScriptedServer(script)
        r = mqttc(server, "sub", "-t", "q", "-q", 2, "-C", 2)
        server.join()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.splitlines(), ["once", "end"])  # [MQTT-4.3.3-9]
        self.assertEqual(answers, [PUBREC, PUBREC, PUBCOMP])

    def test_qos_2_publish_refused_in_pubrec_ends_the_flow_and_fails(self):
        def script(s):
            s.accept_connect()
            body = s.expect(PUBLISH)
            pid = struct.unpack(">H", body[3:5])[0]
            s.send(ack(PUBREC, pid, 0x87))
            s.expect(DISCONNECT)  # no PUBREL: a PUBREC of 0x80 or more ends the flow
        server = ScriptedServer(script)
        r = mqttc(server, "pub", "-t", "t", "-q", 2, "-m", "x")
        server.join()
        self.assertEqual(r.returncode, 1)
        self.assertIn("Publish 1 failed: Not authorized (0x87)", r.stderr)

    def test_topic_alias_above_the_server_maximum_is_refused_before_sending(self):
        def script(s):
            s.accept_connect()  # no Topic Alias Maximum: the server takes no aliases
            s.expect(DISCONNECT)
        server = ScriptedServer(script)
        r = mqttc(server, "pub", "-t", "t", "-m", "x", "-D", "publish", "topic-alias", 1)
        server.join()
        self.assertEqual(r.returncode, 1)  # [MQTT-3.3.2-9]
        self.assertIn("Topic Alias 1 is over the server's Topic Alias Maximum 0", r.stderr)

    def test_qos_above_the_server_maximum_is_refused_before_sending(self):
        def script(s):
            s.accept_connect((MAXIMUM_QOS, "u8", 1))
            s.expect(DISCONNECT)
        server = ScriptedServer(script)
        r = mqttc(server, "pub", "-t", "t", "-q", 2, "-m", "x")
        server.join()
        self.assertEqual(r.returncode, 1)
        self.assertIn("The server supports QoS up to 1 only", r.stderr)

    def test_server_keep_alive_replaces_ours_and_pingreq_is_sent(self):
        pings = []

        def script(s):
            s.accept_connect((SERVER_KEEP_ALIVE, "u16", 1))
            s.accept_subscribe()
            start = time.monotonic()
            while True:
                t = s.recv_packet(timeout=5)[0]
                if t == DISCONNECT:
                    return
                if t == PINGREQ:
                    pings.append(time.monotonic() - start)
                    s.send(packet(PINGRESP, 0, b""))
        server = ScriptedServer(script)
        r = mqttc(server, "sub", "-t", "t", "-k", 60, "-W", 3)
        server.join()
        self.assertEqual(r.returncode, 27, r.stderr)
        self.assertGreaterEqual(len(pings), 2)
        self.assertLess(pings[0], 1.8)

    def test_server_disconnect_reason_is_reported(self):
        def script(s):
            s.accept_connect()
            s.accept_subscribe()
            s.send(packet(DISCONNECT, 0, b"\x8b\x00"))
        server = ScriptedServer(script)
        r = mqttc(server, "sub", "-t", "t")
        server.join()
        self.assertEqual(r.returncode, 1)
        self.assertIn("Disconnected by server: ", r.stderr)
        self.assertIn("(0x8b)", r.stderr)

    def test_no_connack_in_time_is_an_error(self):
        def script(s):
            s.expect(CONNECT)
            time.sleep(12)
        server = ScriptedServer(script)
        start = time.monotonic()
        r = mqttc(server, "pub", "-t", "t", "-m", "x")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no CONNACK", r.stderr)
        self.assertLess(time.monotonic() - start, 11.5)


if __name__ == "__main__":
    unittest.main(verbosity=2)
