#!/usr/bin/python3
"""Writes the seed corpus of every fuzz target into fuzz/corpus/<target>/.

Seeds are valid inputs (packets, packet sequences, config files, WebSocket handshakes), so the
fuzzer starts from the far side of the parsers' first checks. Packets come from the integration
harness's encoders (tests/integration/mqtt_harness.py). Each file is named after what it holds;
run again after changing this script (the directories are replaced).

    /usr/bin/python3 fuzz/gen_corpus.py
"""

import base64
import hashlib
import hmac
import os
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

import mqtt_harness as h  # noqa: E402

USER = [(h.USER_PROPERTY, ("k", "v")), (h.USER_PROPERTY, ("k2", "v2"))]


# ---- packets a server sends (the harness only encodes what a client sends) ----

def connack(code=0, present=False, props=None, version=h.V5):
    body = bytes([1 if present else 0, code])
    if version == h.V5:
        body += h.enc_props(props)
    return h.fixed_header(h.CONNACK, 0, body)


def suback(ptype, packet_id, codes, props=None, version=h.V5):
    body = struct.pack("!H", packet_id)
    if version == h.V5:
        body += h.enc_props(props)
    if ptype == h.SUBACK or version == h.V5:
        body += bytes(codes)
    return h.fixed_header(ptype, 0, body)


def client_packets(v):
    """(name, bytes) of every packet type a client sends, at protocol level v."""
    p = h.V5 == v
    props = (lambda items: items) if p else (lambda items: None)
    out = [
        ("connect", h.connect("c1", version=v)),
        ("connect_will_auth", h.connect(
            "c2", version=v, keep_alive=30, will_topic="w/t", will_payload=b"bye", will_qos=1,
            will_retain=True, username="u", password=b"p",
            props=props([(h.SESSION_EXPIRY_INTERVAL, 60), (h.RECEIVE_MAXIMUM, 5),
                         (h.MAXIMUM_PACKET_SIZE, 1000), (h.TOPIC_ALIAS_MAXIMUM, 4),
                         (h.REQUEST_RESPONSE_INFORMATION, 1),
                         (h.REQUEST_PROBLEM_INFORMATION, 0)] + USER),
            will_props=props([(h.WILL_DELAY_INTERVAL, 5), (h.PAYLOAD_FORMAT_INDICATOR, 1),
                              (h.MESSAGE_EXPIRY_INTERVAL, 9), (h.CONTENT_TYPE, "text"),
                              (h.RESPONSE_TOPIC, "r"), (h.CORRELATION_DATA, b"c")] + USER))),
        ("publish_qos0", h.publish("a/b", b"hello", version=v)),
        ("publish_qos1_retain", h.publish("a/b", b"x", qos=1, retain=True, packet_id=1,
                                          version=v)),
        ("publish_qos2_dup", h.publish("a/b", b"x", qos=2, dup=True, packet_id=2, version=v)),
        ("puback", h.ack(h.PUBACK, 1, version=v)),
        ("pubrec", h.ack(h.PUBREC, 2, version=v)),
        ("pubrel", h.ack(h.PUBREL, 2, version=v)),
        ("pubcomp", h.ack(h.PUBCOMP, 2, version=v)),
        ("subscribe", h.subscribe(3, [("a/+", 1), ("b/#", 2), ("$share/g/c", 0)], version=v)),
        ("unsubscribe", h.unsubscribe(4, ["a/+", "b/#"], version=v)),
        ("pingreq", h.pingreq()),
        ("disconnect", h.disconnect(version=v)),
    ]
    if p:
        out += [
            ("publish_props", h.publish("", b"{}", qos=1, packet_id=5, props=[
                (h.TOPIC_ALIAS, 1), (h.PAYLOAD_FORMAT_INDICATOR, 1), (h.MESSAGE_EXPIRY_INTERVAL, 7),
                (h.CONTENT_TYPE, "json"), (h.RESPONSE_TOPIC, "resp"),
                (h.CORRELATION_DATA, b"\x00\x01")] + USER)),
            ("puback_reason", h.ack(h.PUBACK, 1, 0x10, props=[(h.REASON_STRING, "none")] + USER)),
            ("subscribe_options", h.subscribe(6, [("x/y", h.sub_options(
                1, no_local=True, retain_as_published=True, retain_handling=2))],
                props=[(h.SUBSCRIPTION_IDENTIFIER, 17)] + USER)),
            ("unsubscribe_props", h.unsubscribe(7, ["x/y"], props=USER)),
            ("disconnect_props", h.disconnect(4, props=[(h.SESSION_EXPIRY_INTERVAL, 0),
                                                        (h.REASON_STRING, "bye")] + USER)),
            ("auth", h.auth(0x18, props=[(h.AUTHENTICATION_METHOD, "SCRAM-SHA-256"),
                                         (h.AUTHENTICATION_DATA, b"n,,n=u,r=abc")])),
        ]
    return out


def server_packets(v):
    p = h.V5 == v
    out = [
        ("connack", connack(0, version=v)),
        ("connack_refused", connack(0x86 if p else 4, version=v)),
        ("publish_qos1", h.publish("a/b", b"x", qos=1, packet_id=9, version=v)),
        ("suback", suback(h.SUBACK, 3, [0, 1, 2, 0x80], version=v)),
        ("unsuback", suback(h.UNSUBACK, 4, [0, 0x11] if p else [], version=v)),
        ("pingresp", h.fixed_header(h.PINGRESP, 0, b"")),
        ("pubrel", h.ack(h.PUBREL, 9, version=v)),
    ]
    if p:
        out += [
            ("connack_props", connack(0, True, props=[
                (h.SESSION_EXPIRY_INTERVAL, 10), (h.RECEIVE_MAXIMUM, 10), (h.MAXIMUM_QOS, 1),
                (h.RETAIN_AVAILABLE, 0), (h.MAXIMUM_PACKET_SIZE, 4096),
                (h.ASSIGNED_CLIENT_IDENTIFIER, "auto-1"), (h.TOPIC_ALIAS_MAXIMUM, 10),
                (h.REASON_STRING, "ok"), (h.WILDCARD_SUBSCRIPTION_AVAILABLE, 1),
                (h.SUBSCRIPTION_IDENTIFIER_AVAILABLE, 1), (h.SHARED_SUBSCRIPTION_AVAILABLE, 1),
                (h.SERVER_KEEP_ALIVE, 30), (h.RESPONSE_INFORMATION, "response/c"),
                (h.SERVER_REFERENCE, "other"), (h.AUTHENTICATION_METHOD, "m"),
                (h.AUTHENTICATION_DATA, b"d")] + USER)),
            ("publish_sub_ids", h.publish("a/b", b"x", props=[
                (h.SUBSCRIPTION_IDENTIFIER, 1), (h.SUBSCRIPTION_IDENTIFIER, 300)] + USER)),
            ("disconnect", h.disconnect(0x8E, props=[(h.REASON_STRING, "taken over"),
                                                     (h.SERVER_REFERENCE, "s")])),
        ]
    return out


# ---- per-target seeds ----

def codec_seeds():
    """Selector byte (level in bits 0-1: 0 = 3.1, 1 = 3.1.1, 2 = 5; bit 2 = sent by the server)
    then one packet."""
    seeds = {}
    for sel, v in ((0, h.V31), (1, h.V311), (2, h.V5)):
        for name, pkt in client_packets(v):
            seeds["v%d_client_%s" % (v, name)] = bytes([sel]) + pkt
        for name, pkt in server_packets(v):
            seeds["v%d_server_%s" % (v, name)] = bytes([sel | 4]) + pkt
    return seeds


def feed(slot, data):
    return bytes([slot]) + struct.pack("!H", len(data)) + data


def tick(slot, quarter_seconds):
    return bytes([48 << 2 | slot, quarter_seconds])


def drop(slot):
    return bytes([56 << 2 | slot])


def session_seeds():
    """Config-variant byte, then operations (see fuzz_session.c)."""
    seeds = {}
    for v in (h.V5, h.V311, h.V31):
        sub = h.connect("sub", version=v) + h.subscribe(1, [("a/+", 2), ("a/#", 1)], version=v)
        pub = h.connect("pub", version=v)
        flow = (feed(0, sub) + feed(1, pub) +
                feed(1, h.publish("a/b", b"q0", version=v)) +
                feed(1, h.publish("a/b", b"q1", qos=1, packet_id=1, version=v)) +
                feed(1, h.publish("a/b", b"q2", qos=2, packet_id=2, version=v)) +
                feed(1, h.ack(h.PUBREL, 2, version=v)) +
                feed(0, h.ack(h.PUBACK, 1, version=v) + h.ack(h.PUBREC, 2, version=v) +
                     h.ack(h.PUBCOMP, 2, version=v)) +
                feed(0, h.unsubscribe(3, ["a/+"], version=v) + h.pingreq()) +
                feed(0, h.disconnect(version=v)))
        seeds["v%d_pubsub_all_qos" % v] = bytes([0]) + flow
        seeds["v%d_pubsub_small_limits" % v] = bytes([0xff]) + flow
        will = h.connect("w", version=v, keep_alive=1, will_topic="a/will", will_payload=b"gone",
                         will_qos=1, clean_start=False)
        seeds["v%d_will_on_keepalive_timeout" % v] = (
            bytes([0]) + feed(0, sub) + feed(2, will) + tick(0, 8) + tick(0, 8) + drop(2))
        seeds["v%d_takeover" % v] = (bytes([0]) + feed(0, sub) +
                                     feed(3, h.connect("sub", version=v, clean_start=False)))
        seeds["v%d_retained" % v] = (
            bytes([0]) + feed(1, pub + h.publish("r/1", b"keep", retain=True, version=v)) +
            feed(0, h.connect("s2", version=v) + h.subscribe(1, [("r/#", 1)], version=v)))
    props_connect = h.connect("p", props=[(h.SESSION_EXPIRY_INTERVAL, 30), (h.RECEIVE_MAXIMUM, 1),
                                          (h.TOPIC_ALIAS_MAXIMUM, 3), (h.MAXIMUM_PACKET_SIZE, 60)])
    seeds["v5_aliases_and_shared"] = (
        bytes([0]) + feed(0, props_connect + h.subscribe(1, [("$share/g/t/#", 1), ("t/+", 0)],
                                                         props=[(h.SUBSCRIPTION_IDENTIFIER, 4)])) +
        feed(1, h.connect("q") + h.publish("t/x", b"1", qos=1, packet_id=1,
                                           props=[(h.TOPIC_ALIAS, 1)]) +
             h.publish("", b"2", qos=1, packet_id=2, props=[(h.TOPIC_ALIAS, 1)]) +
             h.publish("t/x", b"3" * 100, props=[(h.MESSAGE_EXPIRY_INTERVAL, 1)])) +
        tick(0, 10) + drop(0) +
        feed(0, h.connect("p", clean_start=False)))
    seeds["v5_session_expiry_sweep"] = (
        bytes([0]) + feed(0, props_connect + h.subscribe(1, [("t", 1)])) + drop(0) +
        feed(1, h.connect("q") + h.publish("t", b"queued", qos=1, packet_id=1)) +
        tick(1, 255) + tick(1, 255))
    seeds["v5_auth_and_problem"] = (
        bytes([0]) + feed(0, h.connect("a", props=[(h.AUTHENTICATION_METHOD, "SCRAM-SHA-256")])) +
        feed(1, h.connect("b", props=[(h.REQUEST_PROBLEM_INFORMATION, 0)]) + h.auth()))
    seeds["v5_split_packets"] = (bytes([0]) + feed(0, props_connect[:5]) +
                                 feed(0, props_connect[5:]) + feed(0, h.pingreq()[:1]) +
                                 feed(0, h.pingreq()[1:]))
    return seeds


def config_seeds():
    """Mode byte (0 file, 1 key NUL value pairs, 2 listener URLs), then text."""
    with open(os.path.join(HERE, "..", "conf", "mqttd.conf"), "rb") as f:
        example = f.read()
    uncommented = b"\n".join(line[2:] if line.startswith(b"# ") and b" " in line[2:] else line
                             for line in example.splitlines())
    pairs = [("max_inflight_messages", "20"), ("max_packet_size", "1000"),
             ("listener", "1884 127.0.0.1"), ("protocol", "websockets"),
             ("websockets_origin", "https://a.example"), ("websockets_max_frame_size", "4096"),
             ("allow_anonymous", "false"), ("persistence", "true"), ("durability", "relaxed"),
             ("durability_interval", "50"), ("max_keepalive", "120"), ("log_type", "all"),
             ("response_information", "r/%c"), ("max_session_expiry", "3600")]
    return {
        "file_example_conf": b"\x00" + example,
        "file_example_uncommented": b"\x00" + uncommented,
        "file_listeners": b"\x00" + (b"port 1883\nbind_address 127.0.0.1\nlistener 8883\n"
                                     b"certfile /c.pem\nkeyfile /k.pem\nrequire_certificate true\n"
                                     b"listener 8080 ::1\nprotocol websockets\n"
                                     b"listen quic://[::1]:14567\nquic_retry true\n"),
        "pairs": b"\x01" + b"\x00".join(k.encode() + b"\x00" + v.encode() for k, v in pairs),
        "urls": b"\x02" + b"\n".join([b"mqtt://127.0.0.1:1883", b"mqtts://[::1]", b"ws://h/p",
                                      b"wss://h:8443/mqtt", b"quic://0.0.0.0:14567"]),
    }


def chunks(data, below=True):
    """WebSocket target records: a length byte (< 0x80 from the client, | 0x80 from the engine)
    and up to 127 bytes each."""
    out = bytearray()
    for i in range(0, len(data), 127):
        part = data[i:i + 127]
        out.append(len(part) | (0 if below else 0x80))
        out += part
    return bytes(out)


def ws_frame(opcode, payload, fin=True, mask=b"\x01\x02\x03\x04"):
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def ws_seeds():
    """Variant byte (bit 0 Origin allow list, bit 1 64-byte frame limit, bit 2 path "/"), then
    records (see fuzz_ws.c)."""
    request = (b"GET /mqtt HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
               b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               b"Sec-WebSocket-Version: 13\r\nOrigin: https://app.example\r\n"
               b"Sec-WebSocket-Protocol: mqtt\r\n\r\n")
    mqtt = h.connect("ws") + h.pingreq()
    frames = (ws_frame(2, mqtt[:10], fin=False) + ws_frame(0, mqtt[10:]) +
              ws_frame(9, b"ping") + ws_frame(10, b"") + ws_frame(2, b"\xc0\x00" * 70) +
              ws_frame(8, struct.pack("!H", 1000)))
    return {
        "upgrade_and_frames": b"\x00" + chunks(request + frames),
        "upgrade_with_origin_and_limit": b"\x03" + chunks(request + frames),
        "upgrade_then_engine_output": b"\x00" + chunks(request) + chunks(b"\x20\x02\x00\x00",
                                                                         below=False) + b"\xff",
        "upgrade_v31_subprotocol": b"\x04" + chunks(request.replace(b"/mqtt", b"/").replace(
            b"Protocol: mqtt", b"Protocol: mqttv3.1")),
        "bad_method": b"\x00" + chunks(b"POST /mqtt HTTP/1.1\r\n\r\n"),
        "text_frame": b"\x00" + chunks(request + ws_frame(1, b"text")),
        "long_frame_lengths": b"\x00" + chunks(request + ws_frame(2, b"\xc0\x00" * 100) +
                                               ws_frame(2, b"\x00" * 70000)[:300]),
    }


def b64(data):
    return base64.b64encode(data).decode()


def password_seeds():
    """Password files: every hash kind, computed here from known passwords."""
    salt = b"0123456789abcdef"
    pbkdf2 = hashlib.pbkdf2_hmac("sha512", b"secret", salt, 101)
    sha512 = hashlib.sha512(b"pw6" + salt).digest()
    salted = hashlib.pbkdf2_hmac("sha256", b"scram", salt, 4096)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    lines = {
        "pbkdf2": "alice:$7$101$%s$%s\n" % (b64(salt), b64(pbkdf2)),
        "sha512": "bob:$6$%s$%s\n" % (b64(salt), b64(sha512)),
        "scram": "carol:$scram-sha-256$4096$%s$%s$%s\n" % (b64(salt), b64(stored_key),
                                                          b64(server_key)),
    }
    seeds = {name: line.encode() for name, line in lines.items()}
    seeds["all_with_comments"] = ("# users\n\n" + "".join(lines.values())).encode()
    return seeds


def acl_seeds():
    """ACL files, then NUL and the query: client id, username, topic, filter."""
    text = (b"# anonymous\ntopic read public/#\n\nuser alice\ntopic readwrite home/#\n"
            b"topic deny home/secret/#\ntopic write log\nuser bob\ntopic home/bob/+\n"
            b"topic read $SYS/#\npattern write devices/%c/state\npattern read users/%u/#\n")
    queries = {
        "alice_home": (b"c1", b"alice", b"home/kitchen", b"home/#"),
        "alice_secret": (b"c1", b"alice", b"home/secret/x", b"home/+/x"),
        "bob_sys": (b"c2", b"bob", b"$SYS/broker/load", b"$SYS/#"),
        "anonymous_public": (b"c3", b"", b"public/news", b"#"),
        "pattern_user": (b"dev7", b"carol", b"users/carol/inbox", b"users/carol/+"),
        "pattern_client": (b"dev7", b"", b"devices/dev7/state", b"devices/+/state"),
    }
    return {name: text + b"\0" + b"\0".join(q) for name, q in queries.items()}


def write(target, seeds):
    d = os.path.join(HERE, "corpus", target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    print("%s: %d seeds" % (target, len(seeds)))


def main():
    write("codec", codec_seeds())
    write("session", session_seeds())
    write("config", config_seeds())
    write("ws", ws_seeds())
    write("password", password_seeds())
    write("acl", acl_seeds())


if __name__ == "__main__":
    main()
