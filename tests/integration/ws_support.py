"""WebSocket helpers for the integration tests: config lines for a ws/wss listener, a raw RFC 6455
client written from the RFC (so tests can send exactly the frames they mean, good or bad), the
harness's MQTT client carried over it, and a runner for the MQTT.js scripts in tests/js.

Frames the raw client receives are unframed into the MQTT byte stream; control frames are kept
(close codes in .close_codes, pong payloads in .pongs) for tests to inspect."""

import base64
import hashlib
import json
import os
import shutil
import socket
import struct
import subprocess
import time
import unittest

import mqtt_harness as h

JS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "js")
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

FIN = 0x80
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def listener_lines(port, *extra):
    """Config lines for a WebSocket listener on 127.0.0.1:port (path /mqtt)."""
    return ["listener %d 127.0.0.1" % port, "protocol websockets"] + list(extra)


def need_mqttd():
    if h.IS_MOSQUITTO:
        raise unittest.SkipTest("WebSocket listener tests start mqttd with its own listener lines")


def need_mqtt_js():
    if not shutil.which("node"):
        raise unittest.SkipTest("node is not installed")
    if not os.path.isdir(os.path.join(JS_DIR, "node_modules", "mqtt")):
        raise unittest.SkipTest("MQTT.js is not installed: run `npm ci` in tests/js")


def accept_for(key):
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def frame(opcode, payload=b"", fin=True, mask=b"\x11\x22\x33\x44", rsv=0):
    """A client frame; mask=None sends it unmasked (which a server must refuse)."""
    payload = bytes(payload)
    first = (FIN if fin else 0) | rsv | opcode
    mask_bit = 0x80 if mask is not None else 0
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", first, mask_bit | n)
    elif n <= 0xFFFF:
        head = struct.pack("!BBH", first, mask_bit | 126, n)
    else:
        head = struct.pack("!BBQ", first, mask_bit | 127, n)
    if mask is None:
        return head + payload
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def upgrade_request(path="/mqtt", protocol="mqtt", key="dGhlIHNhbXBsZSBub25jZQ==", origin=None,
                    extra=""):
    lines = ["GET %s HTTP/1.1" % path, "Host: 127.0.0.1", "Upgrade: websocket",
             "Connection: Upgrade", "Sec-WebSocket-Key: " + key, "Sec-WebSocket-Version: 13"]
    if protocol:
        lines.append("Sec-WebSocket-Protocol: " + protocol)
    if origin:
        lines.append("Origin: " + origin)
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode()


def http_exchange(port, request, timeout=3.0):
    """Sends raw request bytes; returns everything the server sent until it closed."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(request)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data
            data += chunk
    finally:
        s.close()


class WsClient(h.Client):
    """The harness's raw MQTT client over WebSocket: every send() is one binary frame."""

    def __init__(self, port, version=h.V5, path="/mqtt", protocol="mqtt", origin=None,
                 timeout=3.0, wrap=None):
        super().__init__(port, version, timeout=timeout)
        if wrap:
            self.sock = wrap(self.sock)
        self.close_codes = []
        self.pongs = []
        self.raw = b""
        self.sock.sendall(upgrade_request(path, protocol, origin=origin))
        head = b""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in head:
            if time.monotonic() > deadline:
                raise AssertionError("no HTTP response")
            chunk = self.sock.recv(4096)
            if not chunk:
                raise AssertionError("closed during the upgrade: %r" % head)
            head += chunk
        head, self.raw = head.split(b"\r\n\r\n", 1)
        self.response = head.decode("latin-1")
        if not self.response.startswith("HTTP/1.1 101 "):
            raise AssertionError("upgrade refused: " + self.response)
        self.unframe()

    def header(self, name):
        for line in self.response.split("\r\n")[1:]:
            k, _, v = line.partition(":")
            if k.strip().lower() == name.lower():
                return v.strip()
        return None

    def send_raw(self, data):
        self.sock.sendall(frame(OP_BINARY, data))

    send = send_raw

    def send_frames(self, data):
        self.sock.sendall(bytes(data))

    def unframe(self):
        """Moves complete frames from self.raw: data to self.buf, control frames aside."""
        while len(self.raw) >= 2:
            b0, b1 = self.raw[0], self.raw[1]
            if b1 & 0x80:
                raise AssertionError("server frames must not be masked")
            n, pos = b1 & 0x7F, 2
            if n == 126:
                if len(self.raw) < 4:
                    return
                n, pos = struct.unpack("!H", self.raw[2:4])[0], 4
            elif n == 127:
                if len(self.raw) < 10:
                    return
                n, pos = struct.unpack("!Q", self.raw[2:10])[0], 10
            if len(self.raw) < pos + n:
                return
            payload, self.raw = self.raw[pos:pos + n], self.raw[pos + n:]
            op = b0 & 0x0F
            if op in (OP_BINARY, OP_CONT):
                self.buf += payload
            elif op == OP_CLOSE:
                self.close_codes.append(struct.unpack("!H", payload[:2])[0] if payload else None)
            elif op == OP_PONG:
                self.pongs.append(payload)
            else:
                raise AssertionError("unexpected frame opcode %d from the server" % op)

    def _received(self, chunk):
        self.raw += chunk
        self.unframe()

    def wait_closed(self, timeout=3.0):
        """Reads until the server closes TCP; returns the close codes received."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self._fill(deadline)
        except EOFError:
            return self.close_codes


def run_node(script, *args, timeout=30):
    """Runs tests/js/<script> with node; returns its last stdout line parsed as JSON."""
    proc = subprocess.run(["node", os.path.join(JS_DIR, script)] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=timeout, cwd=JS_DIR)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise AssertionError("node %s failed (%d):\n%s\n%s" % (script, proc.returncode,
                                                               proc.stdout, proc.stderr))
    return json.loads(lines[-1])
