"""QUIC helpers for the integration tests: a self-signed certificate made with openssl, a free UDP
port, config lines for a QUIC listener, and mqttc run as a subprocess.

A QUIC listener lives next to the harness's TCP listener in the same broker, so tests can mix a
QUIC client with a TCP one and check the TCP fallback against the same broker."""

import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

import mqtt_harness as h

OPENSSL = shutil.which("openssl")
MQTTC = os.environ.get("MQTTC_BIN") or os.path.join(h._REPO, "build", "mqttc")


def need_quic():
    if h.IS_MOSQUITTO:
        raise unittest.SkipTest("mosquitto has no QUIC listener")
    if not OPENSSL:
        raise unittest.SkipTest("openssl is not installed")


def make_cert(directory):
    """A self-signed EC certificate for localhost / 127.0.0.1; returns (cert, key) paths. The
    certificate is its own CA, so mqttc verifies it with --cafile CERT."""
    cert = os.path.join(directory, "quic.crt")
    key = os.path.join(directory, "quic.key")
    subprocess.run([OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


def free_udp_port():
    return h.free_port(socket.SOCK_DGRAM)


def listener_lines(port, cert, key, *extra):
    return ["listener %d 127.0.0.1" % port, "protocol quic", "certfile " + cert,
            "keyfile " + key] + list(extra)


class QuicBroker(h.Broker):
    """A broker with the harness's TCP listener plus a QUIC listener on `quic_port`."""

    def __init__(self, extra_lines=(), workers=2, verbose=False):
        self.cert_dir = tempfile.mkdtemp(prefix="mqttd-quic-")
        self.cert, self.key = make_cert(self.cert_dir)
        self.quic_port = free_udp_port()
        super().__init__(listener_lines(self.quic_port, self.cert, self.key) + list(extra_lines),
                         workers=workers, verbose=verbose)

    def __exit__(self, *exc):
        super().__exit__(*exc)
        shutil.rmtree(self.cert_dir, ignore_errors=True)

    def quic_url(self, topic):
        return "quic://127.0.0.1:%d/%s" % (self.quic_port, topic)

    def tcp_url(self, topic):
        return "mqtt://127.0.0.1:%d/%s" % (self.port, topic)


def mqttc(*args, timeout=15, input=None):
    return subprocess.run([MQTTC] + list(args), capture_output=True, text=True, timeout=timeout,
                          input=input)


def start_mqttc(*args):
    return subprocess.Popen([MQTTC] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)




class Subscriber:
    """`mqttc sub -d -v ... ARGS` in the background; start() returns once the SUBACK arrived, so
    what is published afterwards must reach it."""

    def __init__(self, *args):
        self.proc = start_mqttc("sub", "-d", "-v", *args)
        self.lines = []

    def start(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.lines.append(line.rstrip("\n"))
            if "received SUBACK" in line:
                return self
        self.proc.kill()
        raise AssertionError("mqttc sub did not subscribe: %r %s" % (
            self.lines, self.proc.stderr.read()))

    def finish(self, timeout=15.0):
        """Waits for the exit; returns (exit code, messages as "topic payload", stderr)."""
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        self.lines += out.splitlines()
        messages = [l for l in self.lines
                    if not l.startswith("Client ") and not l.startswith("Subscribed (")]
        return self.proc.returncode, messages, err
