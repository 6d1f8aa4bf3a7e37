"""The crash test of issue 5: under a continuous QoS 1 and QoS 2 load, the broker (durability full)
is killed with SIGKILL at random moments and restarted, at least 10 times. Every message whose
PUBACK (QoS 1) or PUBCOMP (QoS 2) reached its publisher must reach the persistent subscriber at
least once (QoS 1) and exactly once (QoS 2); sent / acknowledged / delivered / duplicated counts
are printed. Clients are paho (python3-paho-mqtt), which resends unacknowledged messages after
reconnecting, as a real application would, with one bug of paho 1.6.1 fixed (ResendingClient).

Environment: MQTTD_CRASH_CYCLES (default 12), MQTTD_CRASH_SEED (random by default, printed)."""

import os
import random
import socket
import sys
import threading
import time
import unittest

import paho.mqtt.client as paho

import mqtt_harness as h

CYCLES = int(os.environ.get("MQTTD_CRASH_CYCLES", "12"))
SEED = int(os.environ.get("MQTTD_CRASH_SEED", str(random.randrange(1 << 30))))


class ResendingClient(paho.Client):
    """paho 1.6.1, except that a QoS 2 message whose PUBREL is still to be resent keeps waiting
    to resend its PUBREL however many reconnect attempts fail.

    paho's reconnect() resets the state of every message before it tries to connect: the first
    reset turns "waiting for PUBCOMP" into "resend PUBREL", and when that attempt is refused (the
    broker is still restarting) the next reset turns "resend PUBREL" into "publish", so the
    message goes out again as a new PUBLISH (DUP 0) although its PUBREL was sent, which a sender
    must never do [MQTT-4.3.3-6]. If the broker had received that PUBREL and released the packet
    id, the PUBLISH is a new message to it [MQTT-4.3.3-12] and the subscriber gets it twice:
    the duplicate the crash test used to see (docs/OPERATIONS.md, "Known issues")."""

    def _messages_reconnect_reset_out(self):
        with self._out_message_mutex:
            pubrel_due = [m for m in self._out_messages.values()
                          if m.qos == 2 and m.state == paho.mqtt_ms_resend_pubrel]
            super()._messages_reconnect_reset_out()
            for m in pubrel_due:
                m.state = paho.mqtt_ms_resend_pubrel


def make_client(client_id, port):
    c = ResendingClient(client_id=client_id, clean_session=False, protocol=paho.MQTTv311)
    c.reconnect_delay_set(min_delay=0.05, max_delay=0.2)
    # No client-side window: paho 1.6 keeps messages beyond its window "queued", and its CONNACK
    # handler stops resending at the first of them, so the PUBREL of a message behind it is not
    # resent on that connection. The broker's window is opened to match (max_inflight_messages 0).
    c.max_inflight_messages_set(0)
    c.connect_async("127.0.0.1", port, keepalive=10)
    return c


class Publisher:
    """Publishes `qos` messages on `topic` in a thread; remembers which were acknowledged."""

    def __init__(self, port, qos, rate=300):
        self.qos = qos
        self.topic = "crash/q%d" % qos
        self.lock = threading.Lock()
        self.mids = {}
        self.early = set()
        self.sent = 0
        self.acked = set()
        self.stop = threading.Event()
        self.client = make_client("crash-pub-%d" % qos, port)
        self.client.on_publish = self.on_publish
        self.rate = rate
        self.thread = threading.Thread(target=self.run, daemon=True)

    def on_publish(self, client, userdata, mid):
        with self.lock:
            n = self.mids.pop(mid, None)
            if n is None:
                self.early.add(mid)  # acknowledged before publish() returned its mid
            else:
                self.acked.add(n)

    def run(self):
        self.client.loop_start()
        n = 0
        while not self.stop.is_set():
            payload = b"%d:%d" % (self.qos, n)
            # Not under self.lock: paho calls on_publish holding its own locks.
            info = self.client.publish(self.topic, payload, qos=self.qos)
            with self.lock:
                self.sent += 1
                if info.mid in self.early:
                    self.early.discard(info.mid)
                    self.acked.add(n)
                else:
                    self.mids[info.mid] = n
            n += 1
            time.sleep(1.0 / self.rate)

    def unacked(self):
        with self.lock:
            return len(self.mids)


class Subscriber:
    def __init__(self, port):
        self.lock = threading.Lock()
        self.counts = {1: {}, 2: {}}
        self.subscribed = threading.Event()
        self.client = make_client("crash-sub", port)
        self.client.on_connect = self.on_connect
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.on_message = self.on_message

    def on_connect(self, client, userdata, flags, rc):
        if not self.subscribed.is_set():
            client.subscribe("crash/#", qos=2)

    def on_message(self, client, userdata, msg):
        qos, n = (int(x) for x in msg.payload.split(b":"))
        with self.lock:
            self.counts[qos][n] = self.counts[qos].get(n, 0) + 1


class ScriptedServer:
    """Plays the broker's side of one connection at a time on a fixed port, packet by packet."""

    def __init__(self):
        self.listener = None
        self.port = 0
        self.listen()

    def listen(self):
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.port = self.listener.getsockname()[1]
        self.listener.listen(1)
        self.listener.settimeout(10)

    def accept(self, session_present):
        self.conn, _ = self.listener.accept()
        self.conn.settimeout(10)
        self.assertion(self.recv()[0] >> 4 == 1, "CONNECT expected")
        self.conn.sendall(bytes([0x20, 2, session_present, 0]))

    @staticmethod
    def assertion(ok, what):
        if not ok:
            raise AssertionError(what)

    def read(self, n):
        data = b""
        while len(data) < n:
            chunk = self.conn.recv(n - len(data))
            self.assertion(chunk, "connection closed")
            data += chunk
        return data

    def recv(self):
        """(first byte, body) of the next packet."""
        first = self.read(1)[0]
        length, shift = 0, 0
        while True:
            b = self.read(1)[0]
            length |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return first, self.read(length)

    def close(self):
        for s in (getattr(self, "conn", None), self.listener):
            if s is not None:
                s.close()


class ResendingClientTest(unittest.TestCase):
    def test_pubrel_not_publish_is_resent_after_a_refused_reconnect(self):
        server = ScriptedServer()
        self.addCleanup(server.close)
        client = make_client("resend", server.port)
        client.loop_start()
        self.addCleanup(client.loop_stop)
        server.accept(session_present=0)
        client.publish("t", b"once", qos=2)
        first, body = server.recv()
        self.assertEqual(first & 0xF6, 0x34)  # PUBLISH, QoS 2
        packet_id = body[-6:-4]
        server.conn.sendall(b"\x50\x02" + packet_id)  # PUBREC
        self.assertEqual(server.recv(), (0x62, packet_id))  # PUBREL
        # Lost before the PUBCOMP, and the first attempts to reconnect are refused.
        server.close()
        time.sleep(0.5)
        server.listen()
        server.accept(session_present=1)
        # The PUBREL again, with the same packet id, and never the PUBLISH [MQTT-4.3.3-6],
        # [MQTT-4.4.0-1].
        self.assertEqual(server.recv(), (0x62, packet_id))
        server.conn.sendall(b"\x70\x02" + packet_id)  # PUBCOMP: nothing is left to send
        client.disconnect()


@h.mqttd_only("kill -9 of mqttd with its store")
class CrashTest(unittest.TestCase):
    def test_no_acknowledged_message_is_lost_across_repeated_kill_9(self):
        print("crash test: seed %d, %d cycles" % (SEED, CYCLES), file=sys.stderr)
        rnd = random.Random(SEED)
        broker = h.Broker(["durability full", "max_queued_messages 0", "max_inflight_messages 0"],
                           persistence=True)
        broker.start()
        try:
            sub = Subscriber(broker.port)
            sub.client.loop_start()
            self.assertTrue(sub.subscribed.wait(10), "no SUBACK")
            pubs = [Publisher(broker.port, 1), Publisher(broker.port, 2)]
            for p in pubs:
                p.thread.start()
            for cycle in range(CYCLES):
                time.sleep(rnd.uniform(0.3, 2.5))
                broker.kill()
                broker.start()
            time.sleep(1.0)
            for p in pubs:
                p.stop.set()
                p.thread.join()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and any(p.unacked() for p in pubs):
                time.sleep(0.1)
            # Everything acknowledged is on its way: wait until the subscriber has it all.
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                with sub.lock:
                    missing = sum(len(p.acked - set(sub.counts[p.qos])) for p in pubs)
                if not missing:
                    break
                time.sleep(0.1)
            time.sleep(0.5)
            for p in pubs:
                p.client.loop_stop()
            sub.client.loop_stop()
            report = []
            for p in pubs:
                with sub.lock:
                    got = dict(sub.counts[p.qos])
                lost = sorted(p.acked - set(got))
                dups = sum(c - 1 for c in got.values() if c > 1)
                report.append((p.qos, p.sent, len(p.acked), len(got), dups, lost))
                print("crash test QoS %d: sent %d, acknowledged %d, delivered %d, duplicated %d, "
                      "lost %d" % (p.qos, p.sent, len(p.acked), len(got), dups, len(lost)),
                      file=sys.stderr)
            for qos, sent, acked, delivered, dups, lost in report:
                self.assertGreater(acked, 100, "too little load to prove anything")
                self.assertEqual(lost, [], "QoS %d: acknowledged but never delivered" % qos)
                if qos == 2:
                    self.assertEqual(dups, 0, "QoS 2 delivered more than once")
        finally:
            broker.stop()
            broker.__exit__(None, None, None)


if __name__ == "__main__":
    h.main()
