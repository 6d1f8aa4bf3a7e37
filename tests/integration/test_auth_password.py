"""Password files: lines written by Debian's mosquitto_passwd are accepted by mqttd, lines
written by `mqttd passwd` are accepted by Debian's mosquitto, and a CONNECT with a wrong or
missing password is refused (v5 CONNACK 0x86, 3.1.1 return code 4), with real clients
(mosquitto_pub, paho) and the raw harness."""

import os
import pty
import shutil
import subprocess
import tempfile
import termios
import time
import unittest

import paho.mqtt.client as paho

from mqtt_harness import (Broker, BrokerTestCase, RC_BAD_USER_NAME_OR_PASSWORD,
                          RC_NOT_AUTHORIZED, V311, V3_REFUSED_BAD_USERNAME_PASSWORD,
                          V3_REFUSED_NOT_AUTHORIZED, free_port, main, mqttd_only)

MQTTD = os.environ.get("MQTTD_BIN") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "build", "mqttd")
FILES = tempfile.mkdtemp(prefix="mqttd-auth-pw-")
PASSWORDS = os.path.join(FILES, "passwd")


def mosquitto_passwd(*args):
    subprocess.run(["mosquitto_passwd"] + list(args), check=True, capture_output=True)


def mqttd_passwd(*args, stdin=None):
    return subprocess.run([MQTTD, "passwd"] + list(args), input=stdin, capture_output=True)


def setUpModule():
    # The file as Debian's mosquitto_passwd (2.0.11) writes it: $7$ (PBKDF2-SHA512, 101
    # iterations) by default, $6$ (salted SHA-512) with -H sha512.
    mosquitto_passwd("-c", "-b", PASSWORDS, "alice", "alice-pw")
    mosquitto_passwd("-H", "sha512", "-b", PASSWORDS, "old", "old-pw")


def tearDownModule():
    shutil.rmtree(FILES, ignore_errors=True)


def mosquitto_pub(port, *args):
    return subprocess.run(["mosquitto_pub", "-p", str(port), "-t", "x", "-m", "m"] + list(args),
                          capture_output=True, timeout=10)


@mqttd_only("mqttd reads the password file these tests make")
class MosquittoPasswdFile(BrokerTestCase):
    config = ["allow_anonymous false", "password_file " + PASSWORDS]

    def test_pbkdf2_entry_from_mosquitto_passwd_logs_in(self):
        self.connected(self.cid(), username="alice", password=b"alice-pw")

    def test_sha512_entry_from_old_mosquitto_passwd_logs_in(self):
        self.connected(self.cid(), username="old", password=b"old-pw")

    def test_wrong_password_is_refused_with_0x86(self):
        """[MQTT-3.2.2-6]: a refusing CONNACK has Session Present 0; then the server closes"""
        c = self.client()
        ack = c.connect(self.cid(), username="alice", password=b"nope")
        self.assertEqual(ack.reason_code, RC_BAD_USER_NAME_OR_PASSWORD)
        self.assertFalse(ack.session_present)
        c.assert_closed()

    def test_unknown_user_and_missing_password_are_refused(self):
        for username, password in (("mallory", b"alice-pw"), ("alice", None)):
            c = self.client()
            ack = c.connect(self.cid(), username=username, password=password)
            self.assertEqual(ack.reason_code, RC_BAD_USER_NAME_OR_PASSWORD, username)

    def test_v311_wrong_password_gets_return_code_4(self):
        c = self.client(V311)
        self.assertEqual(c.connect(self.cid(), username="alice", password=b"x").reason_code,
                         V3_REFUSED_BAD_USERNAME_PASSWORD)
        c.assert_closed()

    def test_anonymous_refused_when_not_allowed(self):
        c = self.client(V311)
        self.assertEqual(c.connect(self.cid()).reason_code, V3_REFUSED_NOT_AUTHORIZED)
        c = self.client()
        self.assertEqual(c.connect(self.cid()).reason_code, RC_NOT_AUTHORIZED)

    def test_mosquitto_pub_logs_in_and_is_refused_with_a_wrong_password(self):
        ok = mosquitto_pub(self.broker.port, "-u", "alice", "-P", "alice-pw")
        self.assertEqual(ok.returncode, 0, ok.stderr)
        bad = mosquitto_pub(self.broker.port, "-u", "alice", "-P", "wrong", "-V", "mqttv5")
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn(b"bad user name or password", bad.stderr.lower())

    def test_paho_logs_in(self):
        c = paho.Client(client_id=self.cid("p"), protocol=paho.MQTTv5)
        c.username_pw_set("alice", "alice-pw")
        result = []
        c.on_connect = lambda _c, _u, _f, rc, props=None: result.append(rc.value)
        c.connect("127.0.0.1", self.broker.port)
        for _ in range(50):
            c.loop(0.1)
            if result:
                break
        c.disconnect()
        self.assertEqual(result, [0])


@mqttd_only("the file is written by mqttd passwd")
class MqttdPasswdCommand(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="mqttd-passwd-")
        self.path = os.path.join(self.dir, "pw")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_writes_the_iteration_count_mosquitto_passwd_writes(self):
        theirs = os.path.join(self.dir, "theirs")
        mosquitto_passwd("-c", "-b", theirs, "u", "p")
        with open(theirs) as f:
            their_iterations = f.read().split("$")[2]
        self.assertEqual(mqttd_passwd("-c", "-b", self.path, "u", "p").returncode, 0)
        with open(self.path) as f:
            line = f.read()
        self.assertTrue(line.startswith("u:$7$%s$" % their_iterations), line)
        self.assertEqual(os.stat(self.path).st_mode & 0o777, 0o600)

    def test_update_delete_stdin_and_iterations(self):
        self.assertEqual(mqttd_passwd("-c", "-b", self.path, "a", "1").returncode, 0)
        self.assertEqual(mqttd_passwd("-b", "-I", "2000", self.path, "b", "2").returncode, 0)
        self.assertEqual(mqttd_passwd(self.path, "c", stdin=b"three\n").returncode, 0)
        self.assertEqual(mqttd_passwd("-b", self.path, "a", "4").returncode, 0)
        with open(self.path) as f:
            lines = f.read().splitlines()
        self.assertEqual(sorted(l.split(":")[0] for l in lines), ["a", "b", "c"])
        self.assertTrue(any(l.startswith("b:$7$2000$") for l in lines), lines)
        self.assertEqual(mqttd_passwd("-D", self.path, "b").returncode, 0)
        self.assertNotEqual(mqttd_passwd("-D", self.path, "b").returncode, 0)
        with open(self.path) as f:
            self.assertEqual(sorted(l.split(":")[0] for l in f.read().splitlines()), ["a", "c"])

    def run_on_terminal(self, args, lines):
        """Runs `mqttd passwd` with a terminal as its standard input, typing `lines`."""
        master, slave = pty.openpty()
        proc = subprocess.Popen([MQTTD, "passwd"] + args, stdin=slave, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        os.close(slave)
        echoed = []
        for line in lines:
            time.sleep(0.3)
            echo_on = bool(termios.tcgetattr(master)[3] & termios.ECHO)
            echoed.append(echo_on)
            os.write(master, line.encode() + b"\n")
        out, err = proc.communicate(timeout=10)
        os.close(master)
        return proc.returncode, err.decode(), echoed

    def test_prompts_twice_on_a_terminal_without_echo(self):
        rc, err, echoed = self.run_on_terminal(["-c", self.path, "t"], ["typed", "typed"])
        self.assertEqual(rc, 0, err)
        self.assertIn("Password:", err)
        self.assertIn("Reenter password:", err)
        self.assertEqual(echoed, [False, False])
        rc, err, _ = self.run_on_terminal([self.path, "u"], ["one", "two"])
        self.assertNotEqual(rc, 0)
        self.assertIn("do not match", err)
        with open(self.path) as f:
            self.assertEqual([l.split(":")[0] for l in f.read().splitlines()], ["t"])

    def test_refuses_missing_file_without_c_and_bad_usernames(self):
        self.assertNotEqual(mqttd_passwd("-b", self.path, "a", "1").returncode, 0)
        self.assertNotEqual(mqttd_passwd("-c", "-b", self.path, "a:b", "1").returncode, 0)
        self.assertNotEqual(mqttd_passwd("-c", "-b", "-I", "0", self.path, "a", "1").returncode, 0)

    def test_file_written_by_mqttd_passwd_is_accepted_by_mosquitto(self):
        """Mosquitto skips a $scram-sha-256$ entry and serves the other users."""
        self.assertEqual(mqttd_passwd("-c", "-b", self.path, "carol", "carol-pw").returncode, 0)
        self.assertEqual(mqttd_passwd("-b", "-H", "scram-sha-256", self.path, "sam",
                                      "sam-pw").returncode, 0)
        port = free_port()
        conf = os.path.join(self.dir, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous false\npassword_file %s\n"
                    "persistence false\nuser root\n" % (port, self.path))
        proc = subprocess.Popen(["/usr/sbin/mosquitto", "-c", conf], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                ok = mosquitto_pub(port, "-u", "carol", "-P", "carol-pw")
                if b"refused" not in ok.stderr and b"Connection" not in ok.stderr:
                    break
                subprocess.run(["sleep", "0.05"])
            self.assertEqual(ok.returncode, 0, ok.stderr)
            bad = mosquitto_pub(port, "-u", "carol", "-P", "wrong")
            self.assertNotEqual(bad.returncode, 0)
            scram_only = mosquitto_pub(port, "-u", "sam", "-P", "sam-pw")
            self.assertNotEqual(scram_only.returncode, 0)
        finally:
            proc.terminate()
            proc.wait(5)

    def test_scram_entry_logs_in_with_a_plain_password(self):
        self.assertEqual(mqttd_passwd("-c", "-b", "-H", "scram-sha-256", self.path, "s",
                                      "s-pw").returncode, 0)
        with Broker(["allow_anonymous false", "password_file " + self.path]) as b:
            c = b.client()
            self.assertEqual(c.connect("scram-plain", username="s", password=b"s-pw").reason_code,
                             0)
            c.close()
            c = b.client()
            self.assertEqual(c.connect("scram-plain", username="s", password=b"x").reason_code,
                             RC_BAD_USER_NAME_OR_PASSWORD)
            c.close()

    def test_broken_password_file_stops_start_up_naming_file_and_line(self):
        with open(self.path, "w") as f:
            f.write("# users\nalice:plaintext\n")
        b = Broker(["password_file " + self.path])
        with self.assertRaises(RuntimeError) as ctx:
            b.start()
        self.assertIn(self.path + ":2:", str(ctx.exception))
        shutil.rmtree(b.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
