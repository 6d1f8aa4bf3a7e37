"""Keep alive: the server closes a silent client after 1.5 x Keep Alive, any packet counts as
activity, Keep Alive 0 disables the check, and the will goes out on a keep-alive timeout."""

import time

from mqtt_harness import (
    BrokerTestCase, PINGRESP, RC_KEEP_ALIVE_TIMEOUT, SERVER_KEEP_ALIVE, V311, main, mqttd_only,
    pingreq)


class KeepAlive(BrokerTestCase):

    def _time_to_close(self, c, limit=4.0):
        start = time.monotonic()
        d = c.assert_closed(limit)
        return time.monotonic() - start, d

    @mqttd_only("Mosquitto 2.0.11 checks keep alive only every few s and sends no DISCONNECT")
    def test_v5_silent_client_gets_disconnect_0x8d_after_one_and_a_half_keep_alive(self):
        """[MQTT-3.1.2-22] section 3.14.2.1 (0x8D Keep Alive timeout)"""
        c = self.connected(keep_alive=1)
        elapsed, d = self._time_to_close(c)
        self.assertIsNotNone(d, "closed without DISCONNECT")
        self.assertEqual(d.reason_code, RC_KEEP_ALIVE_TIMEOUT)
        self.assertGreater(elapsed, 1.0)
        self.assertLess(elapsed, 2.6)

    def test_v311_silent_client_closed_without_disconnect(self):
        """v3.1.1 [MQTT-3.1.2-24]: closed, no DISCONNECT (Mosquitto checks only every few s)"""
        c = self.connected(version=V311, keep_alive=1)
        elapsed, d = self._time_to_close(c, 8.0)
        self.assertIsNone(d)
        self.assertGreater(elapsed, 1.0)

    @mqttd_only("Mosquitto 2.0.11 checks keep alive only every few seconds")
    def test_v311_silent_client_closed_after_one_and_a_half_keep_alive(self):
        """v3.1.1 [MQTT-3.1.2-24]: keep alive 1 -> closed after about 1.5 s"""
        c = self.connected(version=V311, keep_alive=1)
        elapsed, d = self._time_to_close(c)
        self.assertIsNone(d)
        self.assertGreater(elapsed, 1.0)
        self.assertLess(elapsed, 2.6)

    def test_pingreq_keeps_connection_alive(self):
        """[MQTT-3.12.4-1] [MQTT-3.1.2-22]"""
        c = self.connected(keep_alive=1)
        for _ in range(5):
            time.sleep(0.5)
            c.ping()

    def test_any_packet_counts_as_activity(self):
        """[MQTT-3.1.2-22]: "does not receive an MQTT Control Packet" — a PUBLISH is one"""
        c = self.connected(version=V311, keep_alive=1)
        for _ in range(5):
            time.sleep(0.5)
            c.publish(self.topic(), b"x", qos=1)
        c.ping()

    def test_keep_alive_0_disables_timeout(self):
        """section 3.1.2.10: Keep Alive 0 turns the mechanism off"""
        c = self.connected(version=V311, keep_alive=0)
        c.expect_nothing(2.0)
        c.ping()

    def test_will_published_on_keep_alive_timeout(self):
        """[MQTT-3.1.2-8]: a keep-alive timeout is an abnormal close"""
        w = self.connected(self.cid("w"))
        w.subscribe(self.topic(), qos=1)
        self.connected(self.cid("c"), version=V311, keep_alive=1, will_topic=self.topic(),
                       will_payload=b"timed out")
        self.assertEqual(w.recv_publish(timeout=8.0).payload, b"timed out")

    def test_pingresp_only_answers_pingreq(self):
        """[MQTT-3.12.4-1]: two PINGREQ, two PINGRESP"""
        c = self.connected()
        c.send(pingreq() + pingreq())
        c.expect(PINGRESP)
        c.expect(PINGRESP)
        c.expect_nothing(0.3)


@mqttd_only("Mosquitto refuses max_keepalive below 10")
class ServerKeepAlive(BrokerTestCase):
    config = ["max_keepalive 1"]

    def test_server_keep_alive_is_enforced(self):
        """[MQTT-3.2.2-21]: the Server Keep Alive replaces the client's 60 s"""
        c = self.client()
        ack = c.connect(self.cid(), keep_alive=60)
        self.assertEqual(ack.props[SERVER_KEEP_ALIVE], 1)
        start = time.monotonic()
        c.assert_closed(4.0)
        self.assertLess(time.monotonic() - start, 2.6)


if __name__ == "__main__":
    main()
