"""Hostile-input battery, slow and oversized: connections that say nothing, packets whose length
promises more than ever arrives (slowloris), bytes dripped one at a time, and packets claiming
256 MiB. The broker closes the silent ones by connect_timeout (before CONNECT) or keep alive
(after), never allocates what a length only claims, and refuses a claim over max_packet_size as
soon as the length bytes are in. A bystander's QoS 1 stream flows during and after each case
(hostile_support.py)."""

import socket
import time

from mqtt_harness import PUBLISH, connect, enc_str, enc_varint, main, publish
from hostile_support import Closed, HostileTestCase, broker_fd_count, broker_rss_kib

CONNECT_TIMEOUT_S = 1
CLAIM_256_MIB = 268435455  # the largest remaining length there is
SENT_OF_CLAIM = 256 * 1024
# What a claim may cost the broker at most: the bytes actually sent, with room for allocator
# and sanitizer overhead, nowhere near the 256 MiB claimed.
RSS_ALLOWANCE_KIB = 32 * 1024


def claim(first_byte, body_start, total=CLAIM_256_MIB):
    """A fixed header claiming `total` bytes of body, then the first bytes of that body."""
    return bytes([first_byte]) + enc_varint(total) + body_start


class Slowloris(HostileTestCase):
    config = ["connect_timeout %d" % CONNECT_TIMEOUT_S]

    def assert_closed_by_timeout(self, c, started, limit_s, expected=Closed()):
        """The bystander flows while the slow client is open; then `expected` happens between
        the timeout and limit_s after `started`."""
        self.bystander.assert_flowing("while a slow client is open")
        expected.check(self, c)
        elapsed = time.monotonic() - started
        self.assertGreaterEqual(elapsed, 0.9 * CONNECT_TIMEOUT_S)
        self.assertLess(elapsed, limit_s)

    def test_silent_connection_closed_by_connect_timeout(self):
        """connect_timeout (a Server closes a connection that sends no CONNECT within a reasonable
        time, MQTT 5.0 section 3.1): nothing ever sent -> closed without reply"""
        c = self.client()
        self.assert_closed_by_timeout(c, time.monotonic(), CONNECT_TIMEOUT_S + 2.5)

    def test_one_byte_of_fixed_header_closed_by_connect_timeout(self):
        """connect_timeout: a CONNECT type byte and no length -> closed without reply"""
        c = self.client()
        c.send(b"\x10")
        self.assert_closed_by_timeout(c, time.monotonic(), CONNECT_TIMEOUT_S + 2.5)

    def test_connect_shorter_than_its_length_closed_by_connect_timeout(self):
        """connect_timeout: a CONNECT claiming 200 bytes, 20 sent, silence -> closed"""
        c = self.client()
        c.send(claim(0x10, connect("slow")[2:22], 200))
        self.assert_closed_by_timeout(c, time.monotonic(), CONNECT_TIMEOUT_S + 2.5)

    def test_connect_dripped_a_byte_at_a_time_closed_by_connect_timeout(self):
        """connect_timeout counts from the connection, not from the last byte: a CONNECT dripped
        one byte per 150 ms (it would take 9 s) is closed after about one second"""
        c = self.client()
        data = connect("drip-" + "x" * 40)
        started = time.monotonic()
        closed = False
        for i in range(len(data)):
            try:
                c.send(data[i:i + 1])
            except OSError:
                closed = True
                break
            time.sleep(0.15)
            if time.monotonic() - started > CONNECT_TIMEOUT_S + 2.5:
                break
        if not closed:
            Closed().check(self, c)
        self.assertLess(time.monotonic() - started, CONNECT_TIMEOUT_S + 3.0)

    def test_publish_shorter_than_its_length_closed_by_keep_alive(self):
        """[MQTT-3.1.2-22]: a part of a packet is not a packet; keep alive 1 s, a PUBLISH
        claiming 1000 bytes with 10 sent, then silence -> DISCONNECT 0x8D after 1.5 s"""
        c = self.connected(keep_alive=1)
        started = time.monotonic()
        c.send(claim(0x30, enc_str("hostile/slow") + b"x" * 10, 1000))
        self.bystander.assert_flowing("while a slow publisher is open")
        c.expect_disconnect(0x8D, timeout=4.0)
        self.assertGreaterEqual(time.monotonic() - started, 1.4)

    def test_publish_dripped_closed_by_keep_alive(self):
        """[MQTT-3.1.2-22]: keep alive 1 s, a 600-byte PUBLISH dripped 4 bytes per 100 ms
        (15 s in all) -> DISCONNECT 0x8D long before it completes"""
        c = self.connected(keep_alive=1)
        data = publish("hostile/drip", b"y" * 580)
        started = time.monotonic()
        for i in range(0, len(data), 4):
            try:
                c.send(data[i:i + 4])
            except OSError:
                break
            time.sleep(0.1)
            if time.monotonic() - started > 3.0:
                break
        c.expect_disconnect(0x8D, timeout=3.0)
        self.assertLess(time.monotonic() - started, 5.0)

    def test_five_hundred_silent_connections_at_once_all_closed(self):
        """connect_timeout: 500 connections with one byte each are all closed; the broker's
        descriptors come back to where they were; the bystander flows meanwhile"""
        pid = self.broker.pid
        before = broker_fd_count(pid)
        socks = []
        try:
            for _ in range(500):
                s = socket.create_connection(("127.0.0.1", self.broker.port), timeout=5)
                s.sendall(b"\x10")
                socks.append(s)
            self.bystander.assert_flowing("with 500 silent connections open")
            deadline = time.monotonic() + CONNECT_TIMEOUT_S + 5
            for s in socks:
                s.settimeout(max(0.1, deadline - time.monotonic()))
                self.assertEqual(s.recv(16), b"", "a silent connection got bytes or stayed open")
        finally:
            for s in socks:
                s.close()
        deadline = time.monotonic() + 3
        while broker_fd_count(pid) > before + 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertLessEqual(broker_fd_count(pid), before + 2)


class HugeClaims(HostileTestCase):
    """max_packet_size at its default, the protocol's maximum: a 256 MiB claim is legal, so the
    broker must wait for the bytes, holding only what arrived."""
    config = ["connect_timeout %d" % CONNECT_TIMEOUT_S]

    def assert_rss_small(self, before_kib, what):
        grown = broker_rss_kib(self.broker.pid) - before_kib
        self.assertLess(grown, RSS_ALLOWANCE_KIB,
                        "%s: the broker grew by %d KiB" % (what, grown))

    def test_publish_claiming_256_mib_is_not_allocated(self):
        """[MQTT-3.1.2-22]: 256 KiB of a claimed 256 MiB PUBLISH costs the broker about 256 KiB,
        and keep alive ends it (DISCONNECT 0x8D)"""
        c = self.connected(keep_alive=2)
        before = broker_rss_kib(self.broker.pid)
        c.send(claim(0x30, enc_str("hostile/huge") + b"z" * SENT_OF_CLAIM))
        self.bystander.assert_flowing("while a 256 MiB PUBLISH is pending")
        self.assert_rss_small(before, "256 MiB PUBLISH claimed")
        c.expect_disconnect(0x8D, timeout=5.0)

    def test_connect_claiming_256_mib_is_not_allocated(self):
        """connect_timeout: 256 KiB of a claimed 256 MiB CONNECT costs about 256 KiB, and the
        connection is closed without reply after connect_timeout"""
        c = self.client()
        before = broker_rss_kib(self.broker.pid)
        c.send(claim(0x10, connect("huge")[2:] + b"z" * SENT_OF_CLAIM))
        self.bystander.assert_flowing("while a 256 MiB CONNECT is pending")
        self.assert_rss_small(before, "256 MiB CONNECT claimed")
        Closed().check(self, c)

    def test_twenty_connections_claiming_256_mib_each(self):
        """20 x 256 MiB claimed (5 GiB), 64 KiB sent on each: the broker holds what was sent"""
        before = broker_rss_kib(self.broker.pid)
        clients = []
        for i in range(20):
            c = self.connected(self.cid(str(i)), keep_alive=3)
            c.send(claim(0x30, enc_str("hostile/huge") + b"z" * 65536))
            clients.append(c)
        self.bystander.assert_flowing("while 20 huge PUBLISHes are pending")
        self.assert_rss_small(before, "20 x 256 MiB claimed")
        for c in clients:
            c.close()


class HugeClaimsRefused(HostileTestCase):
    """With max_packet_size below the claim, the length alone is enough to refuse."""
    config = ["connect_timeout 5", "max_packet_size 1M"]

    def test_publish_claiming_256_mib_disconnect_0x95_at_once(self):
        """section 3.1.2.11.4 (our Maximum Packet Size in CONNACK): DISCONNECT 0x95 as soon as the
        length is known, before any body byte"""
        c = self.connected()
        started = time.monotonic()
        c.send(bytes([PUBLISH << 4]) + enc_varint(CLAIM_256_MIB))
        c.expect_disconnect(0x95)
        self.assertLess(time.monotonic() - started, 1.0)

    def test_connect_claiming_256_mib_closed_at_once(self):
        """A CONNECT over max_packet_size is closed without reply (no CONNACK: the packet is never
        read) at once, well before connect_timeout (5 s)"""
        c = self.client()
        started = time.monotonic()
        c.send(b"\x10" + enc_varint(CLAIM_256_MIB) + b"\x00\x04MQTT\x05")
        Closed().check(self, c)
        self.assertLess(time.monotonic() - started, 1.0)


if __name__ == "__main__":
    main()
