"""Limits per source address (docs/SECURITY.md, "Limits"): max_connections_per_ip and
max_connection_rate_per_ip refuse a socket at accept, before any CONNECT is read: the server
resets it (no CONNACK, no bytes). A bystander on another address (127.0.0.2) is not affected."""

import socket
import time

from mqtt_harness import (
    BrokerTestCase, Client, ConnectionClosed, NoPacket, V311, connect, main, mqttd_only)


def client_from(test, source):
    """A harness client whose socket comes from `source`, another loopback address."""
    real = socket.create_connection

    def from_source(address, timeout=None, source_address=None):
        return real(address, timeout, (source, 0))

    socket.create_connection = from_source
    try:
        c = Client(test.broker.port)
    finally:
        socket.create_connection = real
    test._clients.append(c)
    return c


def open_socket(test):
    """A harness client, or None when the server reset the socket as it was accepted."""
    try:
        return test.client()
    except ConnectionResetError:
        return None


def refused_at_accept(c, client_id):
    """True when the server closed the socket without answering its CONNECT (c None: it was
    reset before the client's connect() even returned)."""
    if c is None:
        return True
    try:
        c.send(connect(client_id, c.version))
        p = c.recv(3.0)
    except (ConnectionClosed, ConnectionResetError, BrokenPipeError):
        return True
    except NoPacket:
        return False
    return p is None


class PerAddressSockets(BrokerTestCase):
    config = ["max_connections_per_ip 3"]

    def setUp(self):
        super().setUp()
        time.sleep(0.2)  # let the broker see that the previous test's sockets are gone

    @mqttd_only("max_connections_per_ip is mqttd's")
    def test_fourth_socket_from_one_address_is_reset_before_connect(self):
        held = [self.connected(self.cid(str(i))) for i in range(3)]
        self.assertTrue(refused_at_accept(open_socket(self), self.cid("4")))
        held[0].ping()

    @mqttd_only("max_connections_per_ip is mqttd's")
    def test_sockets_that_never_send_connect_count_too(self):
        """half-open sockets are what a flood holds; they count from accept"""
        silent = [self.client() for _ in range(3)]
        time.sleep(0.3)  # accepted (two workers accept in their own order)
        self.assertTrue(refused_at_accept(open_socket(self), self.cid("late")))
        for c in silent:
            c.close()

    @mqttd_only("max_connections_per_ip is mqttd's")
    def test_bystander_on_another_address_connects_and_publishes(self):
        for i in range(3):
            self.connected(self.cid(str(i)))
        sub = client_from(self, "127.0.0.2")
        self.assertEqual(sub.connect(self.cid("sub")).reason_code, 0)
        sub.subscribe(self.topic(), qos=1)
        pub = client_from(self, "127.0.0.2")
        self.assertEqual(pub.connect(self.cid("pub")).reason_code, 0)
        self.assertEqual(pub.publish(self.topic(), b"hello", qos=1).reason_code, 0)
        self.assertEqual(sub.recv_publish().payload, b"hello")

    @mqttd_only("max_connections_per_ip is mqttd's")
    def test_slot_comes_back_when_a_socket_closes(self):
        held = [self.connected(self.cid(str(i)), version=V311) for i in range(3)]
        held[0].disconnect()
        time.sleep(0.3)
        self.connected(self.cid("again")).ping()


class PerAddressRate(BrokerTestCase):
    config = ["max_connection_rate_per_ip 5"]

    def setUp(self):
        super().setUp()
        time.sleep(1.2)  # a full bucket: five connections per second, one second's worth

    @mqttd_only("max_connection_rate_per_ip is mqttd's")
    def test_burst_beyond_one_second_of_connections_is_reset(self):
        start = time.monotonic()
        socks = [open_socket(self) for _ in range(10)]
        elapsed = time.monotonic() - start
        verdicts = [refused_at_accept(c, self.cid(str(i))) for i, c in enumerate(socks)]
        # The bucket held five; one more comes back per 200 ms the burst took to open. Which
        # sockets are refused depends on the order the two workers accept them in.
        admitted = verdicts.count(False)
        self.assertGreaterEqual(admitted, 5, verdicts)
        self.assertLessEqual(admitted, 5 + int(elapsed * 5) + 1, (verdicts, elapsed))

    @mqttd_only("max_connection_rate_per_ip is mqttd's")
    def test_connecting_and_dropping_in_a_loop_is_limited_too(self):
        refused = 0
        for i in range(20):  # four seconds' worth, unless each round takes 200 ms
            c = open_socket(self)
            if refused_at_accept(c, self.cid(str(i))):
                refused += 1
            if c:
                c.close()
        self.assertGreaterEqual(refused, 1)

    @mqttd_only("max_connection_rate_per_ip is mqttd's")
    def test_bystander_connects_while_an_address_is_over_its_rate(self):
        for _ in range(8):
            open_socket(self)
        c = client_from(self, "127.0.0.2")
        self.assertEqual(c.connect(self.cid("by")).reason_code, 0)
        c.ping()

    @mqttd_only("max_connection_rate_per_ip is mqttd's")
    def test_address_is_admitted_again_once_its_bucket_refills(self):
        for _ in range(8):
            open_socket(self)
        time.sleep(0.5)
        self.connected(self.cid("later")).ping()


if __name__ == "__main__":
    main()
