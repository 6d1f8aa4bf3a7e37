"""SIGHUP reloads the password and ACL files: new connections and operations use the new rules,
existing subscriptions are checked against them, clients whose user was removed are
disconnected (v5 DISCONNECT 0x98 Administrative action) while everyone else stays, and a file
that does not parse keeps the old rules and logs FILE:LINE."""

import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from mqtt_harness import (RC_BAD_USER_NAME_OR_PASSWORD, RC_NOT_AUTHORIZED, V311, Broker,
                          BrokerTestCase, main, mqttd_only)

MQTTD = os.environ.get("MQTTD_BIN") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "build", "mqttd")
RC_ADMINISTRATIVE_ACTION = 0x98

ACL_BEFORE = "user alice\ntopic readwrite a/#\nuser bob\ntopic readwrite a/#\nuser carol\ntopic #\n"
ACL_AFTER = "user alice\ntopic read a/open\nuser bob\ntopic readwrite a/#\nuser carol\ntopic #\n"


@mqttd_only("mqttd's reload")
class Reload(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="mqttd-auth-reload-")
        self.passwords = os.path.join(self.dir, "passwd")
        self.acl = os.path.join(self.dir, "acl")
        for i, user in enumerate(("alice", "bob", "carol")):
            subprocess.run([MQTTD, "passwd", "-b"] + (["-c"] if i == 0 else []) +
                           [self.passwords, user, user + "-pw"], check=True)
        self.write(self.acl, ACL_BEFORE)
        self.broker = Broker(["allow_anonymous false", "password_file " + self.passwords,
                              "acl_file " + self.acl]).start()
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close()
        self.broker.__exit__(None, None, None)
        shutil.rmtree(self.dir, ignore_errors=True)

    @staticmethod
    def write(path, text):
        with open(path + ".new", "w") as f:
            f.write(text)
        os.rename(path + ".new", path)

    def user(self, name, version=5, client_id=None):
        c = self.broker.client(version)
        self.clients.append(c)
        ack = c.connect(client_id or name + str(version), username=name,
                        password=(name + "-pw").encode())
        self.assertEqual(ack.reason_code, 0)
        return c

    def reload(self, expect):
        before = self.broker.log_text().count(expect)
        os.kill(self.broker.pid, signal.SIGHUP)
        deadline = time.monotonic() + 5
        while self.broker.log_text().count(expect) == before:
            self.assertLess(time.monotonic(), deadline, self.broker.log_text())
            time.sleep(0.05)

    def test_removed_user_is_disconnected_and_others_stay(self):
        alice = self.user("alice")
        bob5 = self.user("bob")
        bob3 = self.user("bob", V311)
        subprocess.run([MQTTD, "passwd", "-D", self.passwords, "bob"], check=True)
        self.reload("reloaded")
        bob5.expect_disconnect(RC_ADMINISTRATIVE_ACTION)
        bob3.assert_closed()
        alice.ping()
        self.assertEqual(alice.publish("a/x", b"", qos=1).reason_code, 0x10)
        c = self.broker.client()
        self.clients.append(c)
        self.assertEqual(c.connect("bob-again", username="bob", password=b"bob-pw").reason_code,
                         RC_BAD_USER_NAME_OR_PASSWORD)

    def test_new_acl_applies_to_existing_subscriptions_and_new_operations(self):
        alice = self.user("alice")
        self.assertEqual(alice.subscribe("a/#").reason_codes, [0])
        carol = self.user("carol")
        self.write(self.acl, ACL_AFTER)
        self.reload("reloaded")
        carol.publish("a/open", b"1", qos=1)
        carol.publish("a/closed", b"2", qos=1)
        self.assertEqual([p.topic for p in alice.drain_publishes()], ["a/open"])
        self.assertEqual(alice.publish("a/open", b"", qos=1).reason_code, RC_NOT_AUTHORIZED)
        self.assertEqual(alice.subscribe("a/#").reason_codes, [0])  # granted in part
        self.assertEqual(alice.subscribe("a/closed").reason_codes, [RC_NOT_AUTHORIZED])

    def test_broken_file_on_reload_keeps_the_old_rules_and_names_file_and_line(self):
        alice = self.user("alice")
        self.write(self.acl, "user alice\ntopic readwrite a/#\nbogus line\n")
        self.reload("keeping the old password and ACL rules")
        self.assertIn(self.acl + ":3:", self.broker.log_text())
        self.assertEqual(alice.publish("a/x", b"", qos=1).reason_code, 0x10)
        self.assertEqual(self.user("bob", client_id="bob-new").publish(
            "a/x", b"", qos=1).reason_code, 0x10)


if __name__ == "__main__":
    main()
