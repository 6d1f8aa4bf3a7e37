"""Enhanced authentication with the built-in SCRAM-SHA-256 method ([MQTT-4.12], RFC 5802 and
RFC 7677): a client written here with hashlib/hmac speaks raw MQTT 5 AUTH exchanges to mqttd,
at CONNECT and for re-authentication, and checks the server's signature."""

import base64
import hashlib
import hmac
import os
import shutil
import subprocess
import tempfile

from mqtt_harness import (AUTH, AUTHENTICATION_DATA, AUTHENTICATION_METHOD, CONNACK,
                          RC_BAD_AUTHENTICATION_METHOD, RC_NOT_AUTHORIZED, RC_PROTOCOL_ERROR,
                          RC_SUCCESS, BrokerTestCase, auth, connect, main, mqttd_only)

FILES = tempfile.mkdtemp(prefix="mqttd-auth-scram-")
PASSWORDS = os.path.join(FILES, "passwd")
MQTTD = os.environ.get("MQTTD_BIN") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "build", "mqttd")
METHOD = "SCRAM-SHA-256"
RC_CONTINUE = 0x18
RC_REAUTHENTICATE = 0x19

subprocess.run([MQTTD, "passwd", "-c", "-b", "-H", "scram-sha-256", PASSWORDS, "sam", "pencil"],
               check=True)
subprocess.run([MQTTD, "passwd", "-b", PASSWORDS, "pat", "pbkdf2-only"], check=True)
ACL = os.path.join(FILES, "acl")
with open(ACL, "w") as f:
    f.write("user sam\ntopic readwrite sam/#\n")


def tearDownModule():
    shutil.rmtree(FILES, ignore_errors=True)


class ScramClient:
    """The client side of SCRAM-SHA-256 (RFC 5802 section 3), from the standard library."""

    def __init__(self, user, password, nonce=None):
        self.user, self.password = user, password
        self.nonce = nonce or base64.b64encode(os.urandom(18)).decode()
        self.bare = "n=%s,r=%s" % (user.replace("=", "=3D").replace(",", "=2C"), self.nonce)

    def first(self):
        return ("n,," + self.bare).encode()

    def final(self, server_first):
        attrs = dict(kv.split("=", 1) for kv in server_first.decode().split(","))
        assert attrs["r"].startswith(self.nonce), server_first
        salted = hashlib.pbkdf2_hmac("sha256", self.password.encode(),
                                     base64.b64decode(attrs["s"]), int(attrs["i"]))
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        stored_key = hashlib.sha256(client_key).digest()
        without_proof = "c=biws,r=" + attrs["r"]
        auth_message = ",".join([self.bare, server_first.decode(), without_proof]).encode()
        signature = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        self.expected_server_signature = hmac.new(server_key, auth_message,
                                                  hashlib.sha256).digest()
        return (without_proof + ",p=" + base64.b64encode(proof).decode()).encode()

    def check_server_final(self, data):
        assert data.decode() == "v=" + base64.b64encode(self.expected_server_signature).decode()


@mqttd_only("SCRAM-SHA-256 is mqttd's built-in method")
class Scram(BrokerTestCase):
    config = ["allow_anonymous false", "password_file " + PASSWORDS, "acl_file " + ACL]

    def start_exchange(self, scram, client_id=None, **kw):
        c = self.client()
        c.send(connect(client_id or self.cid(), props=[(AUTHENTICATION_METHOD, METHOD),
                                                      (AUTHENTICATION_DATA, scram.first())], **kw))
        return c

    def login(self, scram, client_id=None):
        c = self.start_exchange(scram, client_id)
        challenge = c.expect(AUTH)
        # The server asks for more with AUTH 0x18 [MQTT-4.12.0-2], naming the method
        # [MQTT-4.12.0-5].
        self.assertEqual(challenge.reason_code, RC_CONTINUE)
        self.assertEqual(challenge.props[AUTHENTICATION_METHOD], METHOD)
        c.send(auth(RC_CONTINUE, [(AUTHENTICATION_METHOD, METHOD),
                                  (AUTHENTICATION_DATA, scram.final(
                                      challenge.props[AUTHENTICATION_DATA]))]))
        return c, c.expect(CONNACK)

    def test_scram_login_succeeds_and_the_server_proves_its_key(self):
        """[MQTT-4.12.0-2] [MQTT-4.12.0-5]: AUTH 0x18, then a CONNACK with the method"""
        scram = ScramClient("sam", "pencil")
        c, ack = self.login(scram)
        self.assertEqual(ack.reason_code, RC_SUCCESS)
        self.assertEqual(ack.props[AUTHENTICATION_METHOD], METHOD)
        scram.check_server_final(ack.props[AUTHENTICATION_DATA])
        c.ping()

    def test_scram_login_with_wrong_password_is_refused(self):
        """[MQTT-4.12.0-4]: the server rejects with a CONNACK >= 0x80 and closes"""
        c, ack = self.login(ScramClient("sam", "pencil2"))
        self.assertEqual(ack.reason_code, RC_NOT_AUTHORIZED)
        c.assert_closed()

    def test_unknown_user_or_one_without_scram_credentials_is_refused(self):
        """[MQTT-4.12.0-4]"""
        for user in ("nobody", "pat"):
            c = self.start_exchange(ScramClient(user, "x"))
            self.assertEqual(c.expect(CONNACK).reason_code, RC_NOT_AUTHORIZED, user)
            c.assert_closed()

    def test_unknown_method_gets_0x8c(self):
        """[MQTT-4.12.0-1]"""
        c = self.client()
        c.send(connect(self.cid(), props=[(AUTHENTICATION_METHOD, "KERBEROS")]))
        self.assertEqual(c.expect(CONNACK).reason_code, RC_BAD_AUTHENTICATION_METHOD)
        c.assert_closed()

    def test_packet_other_than_auth_during_the_exchange_closes(self):
        """[MQTT-4.12.0-3]: the client answers the server's AUTH with AUTH"""
        c = self.start_exchange(ScramClient("sam", "pencil"))
        c.expect(AUTH)
        c.send(bytes([0xC0, 0]))  # PINGREQ
        c.assert_closed()

    def test_auth_with_another_method_is_a_protocol_error(self):
        """[MQTT-4.12.1-1]: re-authentication uses the CONNECT's method"""
        c, ack = self.login(ScramClient("sam", "pencil"))
        self.assertEqual(ack.reason_code, 0)
        c.send(auth(RC_REAUTHENTICATE, [(AUTHENTICATION_METHOD, "PLAIN")]))
        c.expect_disconnect(RC_PROTOCOL_ERROR)

    def test_reauthentication_succeeds_with_auth_0x00(self):
        """[MQTT-4.12.1-1]: AUTH 0x19, then AUTH 0x18 both ways, then AUTH 0x00"""
        c, ack = self.login(ScramClient("sam", "pencil"))
        self.assertEqual(ack.reason_code, 0)
        again = ScramClient("sam", "pencil")
        c.send(auth(RC_REAUTHENTICATE, [(AUTHENTICATION_METHOD, METHOD),
                                        (AUTHENTICATION_DATA, again.first())]))
        challenge = c.expect(AUTH)
        self.assertEqual(challenge.reason_code, RC_CONTINUE)
        c.send(auth(RC_CONTINUE, [(AUTHENTICATION_METHOD, METHOD),
                                  (AUTHENTICATION_DATA, again.final(
                                      challenge.props[AUTHENTICATION_DATA]))]))
        done = c.expect(AUTH)
        self.assertEqual(done.reason_code, RC_SUCCESS)
        again.check_server_final(done.props[AUTHENTICATION_DATA])
        c.ping()

    def test_failed_reauthentication_disconnects(self):
        """[MQTT-4.12.1-2]: DISCONNECT with the reason, then close"""
        c, ack = self.login(ScramClient("sam", "pencil"))
        self.assertEqual(ack.reason_code, 0)
        wrong = ScramClient("sam", "not-pencil")
        c.send(auth(RC_REAUTHENTICATE, [(AUTHENTICATION_METHOD, METHOD),
                                        (AUTHENTICATION_DATA, wrong.first())]))
        challenge = c.expect(AUTH)
        c.send(auth(RC_CONTINUE, [(AUTHENTICATION_METHOD, METHOD),
                                  (AUTHENTICATION_DATA, wrong.final(
                                      challenge.props[AUTHENTICATION_DATA]))]))
        c.expect_disconnect(RC_NOT_AUTHORIZED)

    def test_scram_user_is_the_username_acls_see(self):
        c, ack = self.login(ScramClient("sam", "pencil"))
        self.assertEqual(ack.reason_code, 0)
        self.assertEqual(c.publish("sam/x", b"", qos=1).reason_code, 0x10)  # allowed, no one
        self.assertEqual(c.publish("other/x", b"", qos=1).reason_code, RC_NOT_AUTHORIZED)


if __name__ == "__main__":
    main()
