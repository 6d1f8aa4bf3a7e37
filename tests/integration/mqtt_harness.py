"""Integration test harness: starts a real broker and talks raw MQTT to it.

Stdlib only. Three parts:
  - a raw MQTT codec (encode every packet a client sends, decode every packet a server sends, for
    protocol levels 3, 4 and 5, with every property), strict enough that a malformed packet from
    the server fails the test;
  - Broker: runs mqttd (or, with MQTTD_TEST_BROKER=mosquitto, Debian's mosquitto as a reference)
    on a free port of 127.0.0.1 with a generated config file;
  - Client: a blocking socket speaking those packets, with helpers for the QoS 1/2 handshakes.

Tests drive the broker with raw packets on purpose: a wrong reason code or a missing property has
to be visible, which a client library would hide.
"""

import hashlib
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import unittest

# ---------------------------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------------------------

CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT, AUTH = (
    8, 9, 10, 11, 12, 13, 14, 15)
PACKET_NAMES = {1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK", 5: "PUBREC", 6: "PUBREL",
                7: "PUBCOMP", 8: "SUBSCRIBE", 9: "SUBACK", 10: "UNSUBSCRIBE", 11: "UNSUBACK",
                12: "PINGREQ", 13: "PINGRESP", 14: "DISCONNECT", 15: "AUTH"}

V31, V311, V5 = 3, 4, 5

# Property identifiers (MQTT 5.0 section 2.2.2.2).
PAYLOAD_FORMAT_INDICATOR = 0x01
MESSAGE_EXPIRY_INTERVAL = 0x02
CONTENT_TYPE = 0x03
RESPONSE_TOPIC = 0x08
CORRELATION_DATA = 0x09
SUBSCRIPTION_IDENTIFIER = 0x0B
SESSION_EXPIRY_INTERVAL = 0x11
ASSIGNED_CLIENT_IDENTIFIER = 0x12
SERVER_KEEP_ALIVE = 0x13
AUTHENTICATION_METHOD = 0x15
AUTHENTICATION_DATA = 0x16
REQUEST_PROBLEM_INFORMATION = 0x17
WILL_DELAY_INTERVAL = 0x18
REQUEST_RESPONSE_INFORMATION = 0x19
RESPONSE_INFORMATION = 0x1A
SERVER_REFERENCE = 0x1C
REASON_STRING = 0x1F
RECEIVE_MAXIMUM = 0x21
TOPIC_ALIAS_MAXIMUM = 0x22
TOPIC_ALIAS = 0x23
MAXIMUM_QOS = 0x24
RETAIN_AVAILABLE = 0x25
USER_PROPERTY = 0x26
MAXIMUM_PACKET_SIZE = 0x27
WILDCARD_SUBSCRIPTION_AVAILABLE = 0x28
SUBSCRIPTION_IDENTIFIER_AVAILABLE = 0x29
SHARED_SUBSCRIPTION_AVAILABLE = 0x2A

# Wire type of each property: byte, u16, u32, varint, str, bin or pair (a UTF-8 string pair).
PROPERTY_TYPES = {
    0x01: "byte", 0x02: "u32", 0x03: "str", 0x08: "str", 0x09: "bin", 0x0B: "varint",
    0x11: "u32", 0x12: "str", 0x13: "u16", 0x15: "str", 0x16: "bin", 0x17: "byte", 0x18: "u32",
    0x19: "byte", 0x1A: "str", 0x1C: "str", 0x1F: "str", 0x21: "u16", 0x22: "u16", 0x23: "u16",
    0x24: "byte", 0x25: "byte", 0x26: "pair", 0x27: "u32", 0x28: "byte", 0x29: "byte",
    0x2A: "byte",
}
# Properties that may appear more than once in one packet.
REPEATABLE = {USER_PROPERTY, SUBSCRIPTION_IDENTIFIER}

# Reason codes (MQTT 5.0 section 2.4).
RC_SUCCESS = 0x00
RC_GRANTED_QOS_1 = 0x01
RC_GRANTED_QOS_2 = 0x02
RC_DISCONNECT_WITH_WILL = 0x04
RC_NO_MATCHING_SUBSCRIBERS = 0x10
RC_NO_SUBSCRIPTION_EXISTED = 0x11
RC_UNSPECIFIED_ERROR = 0x80
RC_MALFORMED_PACKET = 0x81
RC_PROTOCOL_ERROR = 0x82
RC_IMPLEMENTATION_SPECIFIC_ERROR = 0x83
RC_UNSUPPORTED_PROTOCOL_VERSION = 0x84
RC_CLIENT_IDENTIFIER_NOT_VALID = 0x85
RC_BAD_USER_NAME_OR_PASSWORD = 0x86
RC_NOT_AUTHORIZED = 0x87
RC_SERVER_UNAVAILABLE = 0x88
RC_SERVER_BUSY = 0x89
RC_SERVER_SHUTTING_DOWN = 0x8B
RC_BAD_AUTHENTICATION_METHOD = 0x8C
RC_KEEP_ALIVE_TIMEOUT = 0x8D
RC_SESSION_TAKEN_OVER = 0x8E
RC_TOPIC_FILTER_INVALID = 0x8F
RC_TOPIC_NAME_INVALID = 0x90
RC_PACKET_IDENTIFIER_IN_USE = 0x91
RC_PACKET_IDENTIFIER_NOT_FOUND = 0x92
RC_RECEIVE_MAXIMUM_EXCEEDED = 0x93
RC_TOPIC_ALIAS_INVALID = 0x94
RC_PACKET_TOO_LARGE = 0x95
RC_QUOTA_EXCEEDED = 0x97
RC_PAYLOAD_FORMAT_INVALID = 0x99
RC_RETAIN_NOT_SUPPORTED = 0x9A
RC_QOS_NOT_SUPPORTED = 0x9B
RC_SHARED_SUBSCRIPTIONS_NOT_SUPPORTED = 0x9E
RC_CONNECTION_RATE_EXCEEDED = 0x9F
RC_SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED = 0xA1
RC_WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED = 0xA2

# MQTT 3.1 / 3.1.1 CONNACK return codes.
V3_ACCEPTED = 0
V3_REFUSED_PROTOCOL_VERSION = 1
V3_REFUSED_IDENTIFIER_REJECTED = 2
V3_REFUSED_SERVER_UNAVAILABLE = 3
V3_REFUSED_BAD_USERNAME_PASSWORD = 4
V3_REFUSED_NOT_AUTHORIZED = 5


class MalformedFromServer(AssertionError):
    """The server sent bytes that are not a well-formed MQTT packet."""


class ConnectionClosed(AssertionError):
    """The server closed the connection while the test expected a packet."""

    def __init__(self, msg, disconnect=None):
        super().__init__(msg)
        self.disconnect = disconnect


class NoPacket(AssertionError):
    """No packet arrived within the timeout."""


# ---------------------------------------------------------------------------------------------
# Primitive encoders
# ---------------------------------------------------------------------------------------------

def enc_varint(n):
    if n < 0 or n > 268435455:
        raise ValueError("varint out of range: %d" % n)
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def enc_str(s):
    """A length-prefixed UTF-8 string; bytes pass through unchanged (to send invalid UTF-8)."""
    data = s.encode("utf-8") if isinstance(s, str) else bytes(s)
    return struct.pack("!H", len(data)) + data


def enc_bin(b):
    data = b.encode("utf-8") if isinstance(b, str) else bytes(b)
    return struct.pack("!H", len(data)) + data


def _prop_items(props):
    """Normalises props to an ordered list of (id, value).

    Accepts None, a list of (id, value) pairs (repeats allowed, order kept), a Props, or a dict
    {id: value} where USER_PROPERTY maps to a list of (key, value) pairs and
    SUBSCRIPTION_IDENTIFIER to an int or a list of ints."""
    if props is None:
        return []
    if isinstance(props, Props):
        return list(props.items)
    if isinstance(props, dict):
        items = []
        for pid, value in props.items():
            if pid in REPEATABLE and isinstance(value, (list, tuple)) and (
                    pid == SUBSCRIPTION_IDENTIFIER or (value and isinstance(value[0], tuple))):
                items.extend((pid, v) for v in value)
            else:
                items.append((pid, value))
        return items
    return list(props)


def enc_props(props):
    body = bytearray()
    for pid, value in _prop_items(props):
        kind = PROPERTY_TYPES[pid]
        body += enc_varint(pid)
        if kind == "byte":
            body += struct.pack("!B", value)
        elif kind == "u16":
            body += struct.pack("!H", value)
        elif kind == "u32":
            body += struct.pack("!I", value)
        elif kind == "varint":
            body += enc_varint(value)
        elif kind == "str":
            body += enc_str(value)
        elif kind == "bin":
            body += enc_bin(value)
        else:
            body += enc_str(value[0]) + enc_str(value[1])
    return enc_varint(len(body)) + bytes(body)


def fixed_header(ptype, flags, body):
    return bytes([(ptype << 4) | flags]) + enc_varint(len(body)) + bytes(body)


# ---------------------------------------------------------------------------------------------
# Packet encoders (client -> server)
# ---------------------------------------------------------------------------------------------

def connect(client_id="", version=V5, clean_start=True, keep_alive=60, props=None,
            will_topic=None, will_payload=b"", will_qos=0, will_retain=False, will_props=None,
            username=None, password=None, protocol_name=None, protocol_level=None,
            reserved_flag=False):
    """A CONNECT packet. protocol_name/protocol_level override the version's defaults."""
    if protocol_name is None:
        protocol_name = "MQIsdp" if version == V31 else "MQTT"
    if protocol_level is None:
        protocol_level = version
    flags = 0
    if reserved_flag:
        flags |= 0x01
    if clean_start:
        flags |= 0x02
    if will_topic is not None:
        flags |= 0x04 | (will_qos << 3) | (0x20 if will_retain else 0)
    if password is not None:
        flags |= 0x40
    if username is not None:
        flags |= 0x80
    body = enc_str(protocol_name) + bytes([protocol_level, flags]) + struct.pack("!H", keep_alive)
    if version == V5:
        body += enc_props(props)
    body += enc_str(client_id)
    if will_topic is not None:
        if version == V5:
            body += enc_props(will_props)
        body += enc_str(will_topic) + enc_bin(will_payload)
    if username is not None:
        body += enc_str(username)
    if password is not None:
        body += enc_bin(password)
    return fixed_header(CONNECT, 0, body)


def publish(topic, payload=b"", qos=0, retain=False, dup=False, packet_id=None, props=None,
            version=V5):
    flags = (0x08 if dup else 0) | (qos << 1) | (0x01 if retain else 0)
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    body = enc_str(topic)
    if qos > 0:
        body += struct.pack("!H", packet_id)
    if version == V5:
        body += enc_props(props)
    return fixed_header(PUBLISH, flags, body + payload)


def ack(ptype, packet_id, reason_code=0, props=None, version=V5):
    """PUBACK, PUBREC, PUBREL or PUBCOMP; v5 uses the short form when there is nothing to say."""
    flags = 0x02 if ptype == PUBREL else 0
    body = struct.pack("!H", packet_id)
    if version == V5 and (reason_code != 0 or props):
        body += bytes([reason_code]) + enc_props(props)
    return fixed_header(ptype, flags, body)


def sub_options(qos=0, no_local=False, retain_as_published=False, retain_handling=0):
    return qos | (0x04 if no_local else 0) | (0x08 if retain_as_published else 0) | (
        retain_handling << 4)


def subscribe(packet_id, filters, props=None, version=V5):
    """filters: a list of (filter, options byte) or of filter strings (options 0)."""
    body = struct.pack("!H", packet_id)
    if version == V5:
        body += enc_props(props)
    for f in filters:
        name, opts = (f, 0) if isinstance(f, (str, bytes)) else f
        body += enc_str(name) + bytes([opts])
    return fixed_header(SUBSCRIBE, 0x02, body)


def unsubscribe(packet_id, filters, props=None, version=V5):
    body = struct.pack("!H", packet_id)
    if version == V5:
        body += enc_props(props)
    for f in filters:
        body += enc_str(f)
    return fixed_header(UNSUBSCRIBE, 0x02, body)


def pingreq():
    return fixed_header(PINGREQ, 0, b"")


def disconnect(reason_code=0, props=None, version=V5):
    if version != V5 or (reason_code == 0 and not props):
        return fixed_header(DISCONNECT, 0, b"")
    return fixed_header(DISCONNECT, 0, bytes([reason_code]) + enc_props(props))


def auth(reason_code=0x18, props=None):
    return fixed_header(AUTH, 0, bytes([reason_code]) + enc_props(props))


# ---------------------------------------------------------------------------------------------
# Decoding (server -> client)
# ---------------------------------------------------------------------------------------------

class Props:
    """Decoded properties, in wire order. `p[ID]` / `p.get(ID)` give the single value,
    `p.all(ID)` every value of a repeatable property, `p.user` the user properties in order."""

    def __init__(self, items=()):
        self.items = list(items)

    def get(self, pid, default=None):
        for k, v in self.items:
            if k == pid:
                return v
        return default

    def all(self, pid):
        return [v for k, v in self.items if k == pid]

    @property
    def user(self):
        return self.all(USER_PROPERTY)

    def __contains__(self, pid):
        return any(k == pid for k, _ in self.items)

    def __getitem__(self, pid):
        if pid not in self:
            raise KeyError("property 0x%02X not present in %r" % (pid, self))
        return self.get(pid)

    def __len__(self):
        return len(self.items)

    def __repr__(self):
        return "Props(%s)" % ", ".join("0x%02X=%r" % (k, v) for k, v in self.items)


class Reader:
    def __init__(self, data):
        self.data = bytes(data)
        self.pos = 0

    def left(self):
        return len(self.data) - self.pos

    def take(self, n):
        if n > self.left():
            raise MalformedFromServer("packet too short: need %d bytes, %d left" % (n, self.left()))
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u8(self):
        return self.take(1)[0]

    def u16(self):
        return struct.unpack("!H", self.take(2))[0]

    def u32(self):
        return struct.unpack("!I", self.take(4))[0]

    def varint(self):
        value, mult = 0, 1
        for i in range(4):
            b = self.u8()
            value += (b & 0x7F) * mult
            if not b & 0x80:
                if i > 0 and b == 0:
                    raise MalformedFromServer("non-minimal variable byte integer")
                return value
            mult *= 128
        raise MalformedFromServer("variable byte integer longer than 4 bytes")

    def bin(self):
        return self.take(self.u16())

    def str(self):
        raw = self.bin()
        try:
            s = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise MalformedFromServer("invalid UTF-8 from server: %r" % raw) from e
        if "\x00" in s:
            raise MalformedFromServer("U+0000 in a string from server")
        return s

    def props(self):
        length = self.varint()
        sub = Reader(self.take(length))
        items = []
        seen = set()
        while sub.left():
            pid = sub.varint()
            kind = PROPERTY_TYPES.get(pid)
            if kind is None:
                raise MalformedFromServer("unknown property id 0x%02X" % pid)
            if pid in seen and pid not in REPEATABLE:
                raise MalformedFromServer("property 0x%02X appears twice" % pid)
            seen.add(pid)
            if kind == "byte":
                v = sub.u8()
            elif kind == "u16":
                v = sub.u16()
            elif kind == "u32":
                v = sub.u32()
            elif kind == "varint":
                v = sub.varint()
            elif kind == "str":
                v = sub.str()
            elif kind == "bin":
                v = sub.bin()
            else:
                v = (sub.str(), sub.str())
            items.append((pid, v))
        return Props(items)


class Packet:
    """A decoded packet. Always has .type, .flags, .props (empty for v3); other attributes by
    type: CONNACK session_present, reason_code; PUBLISH topic, payload, qos, dup, retain,
    packet_id, alias (Topic Alias value or None); acks packet_id, reason_code; SUBACK/UNSUBACK
    packet_id, reason_codes; DISCONNECT/AUTH reason_code."""

    def __init__(self, ptype, flags, **fields):
        self.type = ptype
        self.flags = flags
        self.props = Props()
        self.__dict__.update(fields)

    @property
    def name(self):
        return PACKET_NAMES.get(self.type, "?")

    def __repr__(self):
        fields = {k: v for k, v in self.__dict__.items() if k not in ("type", "flags")}
        if not len(self.props):
            fields.pop("props", None)
        if "payload" in fields and len(fields["payload"]) > 64:
            fields["payload"] = fields["payload"][:64] + b"..."
        return "%s(%s)" % (self.name, ", ".join("%s=%r" % kv for kv in fields.items()))


def decode(first, body, version=V5):
    """Decodes one server packet given its first byte and its body (remaining length bytes)."""
    ptype, flags = first >> 4, first & 0x0F
    r = Reader(body)
    expected_flags = 0x02 if ptype == PUBREL else 0
    if ptype != PUBLISH and flags != expected_flags:
        raise MalformedFromServer("%s with reserved flags %x" % (PACKET_NAMES.get(ptype), flags))
    if ptype == CONNACK:
        ack_flags = r.u8()
        if ack_flags & 0xFE:
            raise MalformedFromServer("CONNACK reserved flag bits set")
        p = Packet(ptype, flags, session_present=bool(ack_flags & 1), reason_code=r.u8())
        if version == V5:
            p.props = r.props()
    elif ptype == PUBLISH:
        qos = (flags >> 1) & 3
        if qos == 3:
            raise MalformedFromServer("PUBLISH with QoS 3")
        if qos == 0 and flags & 0x08:
            raise MalformedFromServer("PUBLISH QoS 0 with DUP set [MQTT-3.3.1-2]")
        topic = r.str()
        pid = r.u16() if qos else None
        if qos and pid == 0:
            raise MalformedFromServer("PUBLISH with packet id 0")
        p = Packet(ptype, flags, topic=topic, qos=qos, dup=bool(flags & 8),
                   retain=bool(flags & 1), packet_id=pid, alias=None)
        if version == V5:
            p.props = r.props()
            p.alias = p.props.get(TOPIC_ALIAS)
        p.payload = r.take(r.left())
    elif ptype in (PUBACK, PUBREC, PUBREL, PUBCOMP):
        p = Packet(ptype, flags, packet_id=r.u16(), reason_code=0)
        if version == V5 and r.left():
            p.reason_code = r.u8()
            if r.left():
                p.props = r.props()
    elif ptype in (SUBACK, UNSUBACK):
        p = Packet(ptype, flags, packet_id=r.u16(), reason_codes=[])
        if version == V5:
            p.props = r.props()
        p.reason_codes = list(r.take(r.left()))
    elif ptype == PINGRESP:
        p = Packet(ptype, flags)
    elif ptype in (DISCONNECT, AUTH):
        if version != V5 and ptype == DISCONNECT:
            raise MalformedFromServer("DISCONNECT sent to a v3 client")
        p = Packet(ptype, flags, reason_code=0)
        if r.left():
            p.reason_code = r.u8()
            if r.left():
                p.props = r.props()
    else:
        raise MalformedFromServer("server sent packet type %d" % ptype)
    if r.left():
        raise MalformedFromServer("%d trailing bytes in %s" % (r.left(), p.name))
    return p


# ---------------------------------------------------------------------------------------------
# Client
# ---------------------------------------------------------------------------------------------

class Client:
    """A blocking raw-MQTT client. Packets received while waiting for something else are kept in
    arrival order and returned by later recv()/expect() calls.

    resolve_aliases=True makes received PUBLISH packets with a Topic Alias carry the resolved
    topic in .topic (the alias stays in .alias)."""

    def __init__(self, port, version=V5, host="127.0.0.1", timeout=3.0, resolve_aliases=False):
        self.version = version
        self.timeout = timeout
        self.resolve_aliases = resolve_aliases
        self.aliases = {}
        self.pending = []
        self.buf = b""
        self.closed = False
        self.next_id = 0
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # -- raw I/O ------------------------------------------------------------------------------

    def send_raw(self, data):
        self.sock.sendall(bytes(data))

    send = send_raw

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout()
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        if not chunk:
            self.closed = True
            raise EOFError()
        self._received(chunk)

    def _received(self, chunk):
        """Bytes read from the socket; a transport that wraps MQTT (WebSocket) unwraps here."""
        self.buf += chunk

    def _read_packet(self, deadline):
        """The next packet from the socket. Raises socket.timeout or EOFError."""
        while True:
            if len(self.buf) >= 2:
                length, mult, i = 0, 1, 1
                complete = False
                while i < len(self.buf) and i <= 4:
                    b = self.buf[i]
                    length += (b & 0x7F) * mult
                    mult *= 128
                    i += 1
                    if not b & 0x80:
                        complete = True
                        break
                if not complete and i > 4:
                    raise MalformedFromServer("remaining length longer than 4 bytes")
                if complete and len(self.buf) >= i + length:
                    first, body = self.buf[0], self.buf[i:i + length]
                    self.buf = self.buf[i + length:]
                    p = decode(first, body, self.version)
                    if p.type == PUBLISH and self.resolve_aliases and p.alias is not None:
                        if p.topic:
                            self.aliases[p.alias] = p.topic
                        else:
                            if p.alias not in self.aliases:
                                raise AssertionError("server used unknown topic alias %d" % p.alias)
                            p.topic = self.aliases[p.alias]
                    return p
            self._fill(deadline)

    def recv(self, timeout=None):
        """The next packet. Raises NoPacket on timeout, ConnectionClosed on EOF."""
        if self.pending:
            return self.pending.pop(0)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        try:
            return self._read_packet(deadline)
        except socket.timeout:
            raise NoPacket("no packet within the timeout") from None
        except EOFError:
            raise ConnectionClosed("connection closed by server") from None

    def _wait_for(self, match, timeout, what):
        """Reads until match(packet) is true, keeping other packets for later."""
        for i, p in enumerate(self.pending):
            if match(p):
                return self.pending.pop(i)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            try:
                p = self._read_packet(deadline)
            except socket.timeout:
                raise NoPacket("no %s within timeout; other packets: %r" % (what, self.pending)) \
                    from None
            except EOFError:
                dis = [q for q in self.pending if q.type == DISCONNECT]
                raise ConnectionClosed("connection closed while waiting for %s (pending %r)" % (
                    what, self.pending), dis[-1] if dis else None) from None
            if match(p):
                return p
            self.pending.append(p)

    def expect(self, ptype, timeout=None):
        """The next packet, which must be of type ptype."""
        p = self.recv(timeout)
        if p.type != ptype:
            raise AssertionError("expected %s, got %r" % (PACKET_NAMES[ptype], p))
        return p

    def expect_nothing(self, timeout=0.5):
        """Asserts that no packet arrives (and the connection stays open) for `timeout` s."""
        try:
            p = self.recv(timeout)
        except NoPacket:
            return
        raise AssertionError("expected no packet, got %r" % (p,))

    def assert_closed(self, timeout=3.0):
        """Waits for the server to close the connection. Returns the DISCONNECT it sent before
        closing, or None. Fails if the connection is still open after `timeout`."""
        seen = None
        for p in self.pending:
            if p.type == DISCONNECT:
                seen = p
        self.pending = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                p = self._read_packet(deadline)
            except socket.timeout:
                raise AssertionError("connection still open after %.1f s" % timeout) from None
            except EOFError:
                return seen
            if p.type == DISCONNECT:
                seen = p

    def expect_disconnect(self, reason_code, timeout=3.0):
        """Asserts the server sends DISCONNECT with reason_code and then closes."""
        d = self.assert_closed(timeout)
        if d is None:
            raise AssertionError("connection closed without DISCONNECT (wanted 0x%02X)" %
                                 reason_code)
        if d.reason_code != reason_code:
            raise AssertionError("DISCONNECT reason 0x%02X, wanted 0x%02X (%r)" % (
                d.reason_code, reason_code, d))
        return d

    def close(self):
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass

    # -- protocol helpers ---------------------------------------------------------------------

    def new_id(self):
        self.next_id = self.next_id % 65535 + 1
        return self.next_id

    def connect(self, client_id="", clean_start=True, keep_alive=60, props=None, will_topic=None,
                will_payload=b"", will_qos=0, will_retain=False, will_props=None, username=None,
                password=None, timeout=None, **kw):
        """Sends CONNECT and returns the CONNACK."""
        self.send(connect(client_id, self.version, clean_start, keep_alive, props, will_topic,
                          will_payload, will_qos, will_retain, will_props, username, password,
                          **kw))
        return self.expect(CONNACK, timeout)

    def publish(self, topic, payload=b"", qos=0, retain=False, props=None, packet_id=None,
                dup=False, timeout=None):
        """Publishes and completes the handshake: returns None (QoS 0), the PUBACK (QoS 1), the
        PUBCOMP (QoS 2), or the PUBREC if it carried an error reason code."""
        pid = packet_id if packet_id is not None else (self.new_id() if qos else None)
        self.send(publish(topic, payload, qos, retain, dup, pid, props, self.version))
        if qos == 0:
            return None
        if qos == 1:
            return self._wait_for(lambda p: p.type == PUBACK and p.packet_id == pid, timeout,
                                  "PUBACK %d" % pid)
        rec = self._wait_for(lambda p: p.type == PUBREC and p.packet_id == pid, timeout,
                             "PUBREC %d" % pid)
        if rec.reason_code >= 0x80:
            return rec
        self.send(ack(PUBREL, pid, version=self.version))
        return self._wait_for(lambda p: p.type == PUBCOMP and p.packet_id == pid, timeout,
                              "PUBCOMP %d" % pid)

    def subscribe(self, filters, qos=0, props=None, sub_id=None, timeout=None, **opts):
        """Subscribes to one filter (a string, with qos and sub_options keywords) or a list of
        (filter, options byte). Returns the SUBACK."""
        if isinstance(filters, str):
            filters = [(filters, sub_options(qos, **opts))]
        if sub_id is not None:
            props = _prop_items(props) + [(SUBSCRIPTION_IDENTIFIER, sub_id)]
        pid = self.new_id()
        self.send(subscribe(pid, filters, props, self.version))
        return self._wait_for(lambda p: p.type == SUBACK and p.packet_id == pid, timeout,
                              "SUBACK %d" % pid)

    def unsubscribe(self, filters, props=None, timeout=None):
        if isinstance(filters, str):
            filters = [filters]
        pid = self.new_id()
        self.send(unsubscribe(pid, filters, props, self.version))
        return self._wait_for(lambda p: p.type == UNSUBACK and p.packet_id == pid, timeout,
                              "UNSUBACK %d" % pid)

    def recv_publish(self, timeout=None, ack_it=True):
        """The next PUBLISH (other packets are kept for later); acknowledges it unless
        ack_it=False (QoS 2: PUBREC, wait for PUBREL, PUBCOMP)."""
        p = self._wait_for(lambda q: q.type == PUBLISH, timeout, "PUBLISH")
        if ack_it:
            self.ack(p)
        return p

    def ack(self, p, timeout=None):
        if p.qos == 1:
            self.send(ack(PUBACK, p.packet_id, version=self.version))
        elif p.qos == 2:
            self.send(ack(PUBREC, p.packet_id, version=self.version))
            self._wait_for(lambda q: q.type == PUBREL and q.packet_id == p.packet_id, timeout,
                           "PUBREL %d" % p.packet_id)
            self.send(ack(PUBCOMP, p.packet_id, version=self.version))

    def recv_publishes(self, count, timeout=None, ack_it=True):
        return [self.recv_publish(timeout, ack_it) for _ in range(count)]

    def drain_publishes(self, timeout=0.5, ack_it=True):
        """Every PUBLISH arriving until `timeout` s pass with nothing new."""
        out = []
        while True:
            try:
                out.append(self.recv_publish(timeout, ack_it))
            except NoPacket:
                return out

    def ping(self, timeout=None):
        self.send(pingreq())
        return self._wait_for(lambda p: p.type == PINGRESP, timeout, "PINGRESP")

    def disconnect(self, reason_code=0, props=None, timeout=2.0):
        """Sends DISCONNECT and waits (up to `timeout`) until the server has closed the
        connection, so the broker has processed it before the test goes on: a message another
        client publishes next finds the session offline."""
        try:
            self.send(disconnect(reason_code, props, self.version))
            deadline = time.monotonic() + timeout
            while True:
                self._read_packet(deadline)
        except (OSError, EOFError):
            pass
        self.close()


# ---------------------------------------------------------------------------------------------
# Broker process
# ---------------------------------------------------------------------------------------------

BROKER_KIND = os.environ.get("MQTTD_TEST_BROKER", "mqttd")
IS_MOSQUITTO = BROKER_KIND == "mosquitto"
_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# mqttd config key -> Mosquitto's equivalent (None: Mosquitto has none, the test cannot run).
MOSQUITTO_KEYS = {
    "allow_anonymous": "allow_anonymous", "password_file": "password_file",
    "max_connections": "max_connections", "max_packet_size": "max_packet_size",
    "message_size_limit": "message_size_limit", "max_inflight_messages": "max_inflight_messages",
    "max_queued_messages": "max_queued_messages", "max_queued_bytes": "max_queued_bytes",
    "queue_qos0_messages": "queue_qos0_messages", "max_keepalive": "max_keepalive",
    "retain_available": "retain_available", "max_qos": "max_qos",
    "max_topic_alias": "max_topic_alias",
    "persistent_client_expiration": "persistent_client_expiration", "log_type": "log_type",
    "connect_timeout": None, "outgoing_topic_aliases": None, "max_topic_levels": None,
    "max_topic_length": None, "max_subscriptions_per_client": None,
    "shared_subscriptions": None, "wildcard_subscriptions": None,
    "subscription_identifiers": None, "response_information": None, "max_session_expiry": None,
    "workers": None, "persistence": "persistence", "persistence_location": "persistence_location",
    "persistence_file": "persistence_file", "durability": None, "durability_interval": None,
}


def mqttd_only(reason):
    """Marks a test that needs mqttd: the spec leaves a choice, or Mosquitto deviates."""
    return unittest.skipIf(IS_MOSQUITTO, "mqttd-only: " + reason)


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_PORTS_GIVEN = set()


def free_port(kind=socket.SOCK_STREAM):
    """A port of 127.0.0.1 free now (TCP, or UDP with kind=socket.SOCK_DGRAM), taken below the
    kernel's ephemeral range: a port the kernel picked (bind to port 0) could become the local
    port of another test's client socket before the broker binds it ("Address already in use").
    Never the same port twice in one process."""
    rng = random.Random()
    low = _ephemeral_low()
    for _ in range(1000):
        port = rng.randrange(10000, low)
        if port in _PORTS_GIVEN:
            continue
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _PORTS_GIVEN.add(port)
        return port
    raise RuntimeError("no free port below %d" % low)


class Broker:
    """A broker process on 127.0.0.1:<free port>, as a context manager.

    config_lines are mqttd config lines ("key value"); under MQTTD_TEST_BROKER=mosquitto they are
    translated, and a key Mosquitto lacks raises unittest.SkipTest.

    Brokers run without a store (`persistence false`), so tests running side by side never share
    a file; persistence=True gives this broker its own store in its temporary directory
    (self.store_path), kept across restart() and kill()."""

    def __init__(self, config_lines=(), workers=2, verbose=False, persistence=False):
        self.config_lines = list(config_lines)
        self.workers = workers
        self.verbose = verbose
        self.port = free_port()
        self.proc = None
        self.dir = tempfile.mkdtemp(prefix="mqttd-test-")
        self.store_path = os.path.join(self.dir, "mqttd.db") if persistence else None
        keys = [l.split(None, 1)[0] for l in self.config_lines if l.strip()]
        if "persistence" not in keys:
            self.config_lines.insert(0, "persistence %s" % ("true" if persistence else "false"))
            if persistence:
                self.config_lines[1:1] = ["persistence_location " + self.dir,
                                          "persistence_file mqttd.db"]
        self.log_path = os.path.join(self.dir, "broker.log")
        self.conf_path = os.path.join(self.dir, "broker.conf")
        self._write_config()

    def _write_config(self):
        lines = []
        if IS_MOSQUITTO:
            keys = [l.split(None, 1)[0] for l in self.config_lines if l.strip()]
            lines += ["listener %d 127.0.0.1" % self.port, "persistence false", "user root",
                      "log_dest stderr"]
            if "allow_anonymous" not in keys:
                lines.append("allow_anonymous true")
            for line in self.config_lines:
                parts = line.split(None, 1)
                if not parts:
                    continue
                key = MOSQUITTO_KEYS.get(parts[0], parts[0])
                if key is None:
                    raise unittest.SkipTest("mosquitto has no config key like '%s'" % parts[0])
                lines.append(" ".join([key] + parts[1:]))
        else:
            lines = list(self.config_lines)
        with open(self.conf_path, "w") as f:
            f.write("\n".join(lines) + "\n")

    def command(self):
        if IS_MOSQUITTO:
            return ["/usr/sbin/mosquitto", "-c", self.conf_path] + (["-v"] if self.verbose else [])
        binary = os.environ.get("MQTTD_BIN") or os.path.join(_REPO, "build", "mqttd")
        if not os.access(binary, os.X_OK):
            raise RuntimeError("mqttd binary not found at %s: build it, set MQTTD_BIN, or run "
                               "against mosquitto with MQTTD_TEST_BROKER=mosquitto" % binary)
        cmd = [binary, "--listen", "mqtt://127.0.0.1:%d" % self.port, "-c", self.conf_path,
               "--workers", str(self.workers)]
        return cmd + (["-v"] if self.verbose else [])

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def start(self, timeout=10.0):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("broker exited with %s during start-up:\n%s" % (
                    self.proc.returncode, self.log_text()))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("broker did not accept on port %d within %.0f s:\n%s" % (
            self.port, timeout, self.log_text()))

    def stop(self, timeout=5.0):
        """SIGTERM, then SIGKILL after `timeout` s. Returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        rc = self.proc.returncode
        self.proc = None
        self.check_sanitizers()
        return rc

    SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                       "WARNING: ThreadSanitizer")

    def check_sanitizers(self):
        """In sanitizer builds (make asan / make tsan) the broker reports memory errors, undefined
        behaviour, leaks and data races in its log instead of failing a test by itself."""
        log = self.log_text()
        for mark in self.SANITIZER_MARKS:
            at = log.find(mark)
            if at >= 0:
                raise AssertionError("the broker's sanitizer reported a problem:\n" +
                                     log[max(0, at - 200):at + 6000])

    def kill(self):
        """SIGKILL, as a crash: nothing is flushed, nothing is closed cleanly."""
        if self.proc is not None:
            if self.proc.poll() is None:
                os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self.proc = None

    def restart(self):
        """Stops and starts again on the same port (sessions in memory are lost unless the
        broker has a store)."""
        self.stop()
        return self.start()

    def wait_for_log(self, text, timeout=5.0):
        """Whether `text` appears in the broker's log within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log_text():
                return True
            time.sleep(0.05)
        return False

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def client(self, version=V5, **kw):
        return Client(self.port, version, **kw)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# unittest glue
# ---------------------------------------------------------------------------------------------

class BrokerTestCase(unittest.TestCase):
    """One broker per test class (config from the class attribute `config`); clients made with
    self.client() are closed after each test. Use self.topic() for per-test topic names so tests
    sharing a broker do not see each other's retained messages."""

    config = []
    workers = 2

    @classmethod
    def setUpClass(cls):
        cls.broker = Broker(cls.config, workers=cls.workers)
        try:
            cls.broker.start()
        except Exception:
            shutil.rmtree(cls.broker.dir, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.broker.__exit__(None, None, None)

    def setUp(self):
        self._clients = []

    def tearDown(self):
        for c in self._clients:
            c.close()
        if self.broker.proc is None or self.broker.proc.poll() is not None:
            raise AssertionError("broker died:\n" + self.broker.log_text()[-4000:])

    def client(self, version=V5, broker=None, **kw):
        c = Client((broker or self.broker).port, version, **kw)
        self._clients.append(c)
        return c

    def connected(self, client_id=None, version=V5, broker=None, resolve_aliases=False, **kw):
        """A client connected with a successful CONNACK."""
        c = self.client(version, broker, resolve_aliases=resolve_aliases)
        ack_ = c.connect(client_id if client_id is not None else self.cid(), **kw)
        self.assertEqual(ack_.reason_code, 0, ack_)
        return c

    def cid(self, suffix=""):
        """A client id unique to this test (at most 23 characters, as 3.1.1 guarantees)."""
        digest = hashlib.sha1(self.id().encode()).hexdigest()[:8]
        return (self._testMethodName[5:11] + digest + suffix)[:23]

    def topic(self, suffix=""):
        return "t/%s/%s" % (self._testMethodName, suffix) if suffix else "t/" + \
            self._testMethodName


def main():
    unittest.main(verbosity=2)
