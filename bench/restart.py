#!/usr/bin/python3
"""Restart time of mqttd with a large store: how long after it is started mqttd answers a
CONNECT, and its resident memory then (docs/OPERATIONS.md, "What it costs").

    /usr/bin/python3 bench/restart.py --build build --retained 1000000 --sessions 100000

Writes the store file directly with SQLite, in the schema mqttd itself creates (mqttd is started
once on an empty file for that): N retained messages with 64-byte payloads, and M persistent
sessions (v5, Session Expiry Interval 1 hour) with one subscription each. Then starts mqttd on
the file and times it. Not part of `make bench`: the million-message case takes minutes to
write. Standard library only; run with /usr/bin/python3.
"""

import argparse
import os
import shutil
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402


class StoreBroker(compare.Broker):
    """mqttd with persistence on, on the store file `path`."""

    def __init__(self, build, workdir, path):
        super().__init__("mqttd", build, workdir)
        self.path = path

    def command(self):
        conf = os.path.join(self.workdir, "restart.conf")
        with open(conf, "w") as f:
            f.write("persistence true\npersistence_location %s/\npersistence_file %s\n"
                    "durability full\n" % (os.path.dirname(self.path),
                                           os.path.basename(self.path)))
        return [os.path.join(self.build, "mqttd"), "--listen",
                "mqtt://127.0.0.1:%d" % self.port, "--workers", "2", "-c", conf]


def fill(path, retained, sessions):
    db = sqlite3.connect(path)
    payload = b"p" * 64
    with db:
        db.executemany("INSERT INTO retained(topic, qos, props, payload, expiry_interval, "
                       "expires_at) VALUES (?, 0, x'', ?, 0, 0)",
                       ((b"restart/r/%d" % i, payload) for i in range(retained)))
        db.executemany("INSERT INTO sessions(client_id, expiry_interval, will_delay, protocol) "
                       "VALUES (?, 3600, 0, 5)",
                       ((b"restart-%d" % i,) for i in range(sessions)))
        db.executemany("INSERT INTO subscriptions(client_id, share_group, filter, options, "
                       "subscription_id) VALUES (?, x'', ?, 1, 0)",
                       ((b"restart-%d" % i, b"restart/s/%d" % i) for i in range(sessions)))
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def connack_after(port, deadline):
    """True once a v5 CONNECT on `port` is answered with CONNACK (polling until `deadline`)."""
    body = b"\x00\x04MQTT\x05\x02\x00\x3c\x00" + struct.pack("!H", 7) + b"restart"
    packet = bytes([0x10, len(body)]) + body
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
                s.sendall(packet)
                if s.recv(1)[:1] == b"\x20":
                    return True
        except OSError:
            time.sleep(0.01)
    return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(compare.REPO, "build"))
    ap.add_argument("--retained", type=int, default=1000000)
    ap.add_argument("--sessions", type=int, default=100000)
    args = ap.parse_args()
    workdir = tempfile.mkdtemp(prefix="mqttd-restart-")
    path = os.path.join(workdir, "mqttd.db")
    try:
        broker = StoreBroker(args.build, workdir, path)
        broker.start()
        broker.stop()
        t = time.monotonic()
        fill(path, args.retained, args.sessions)
        print("wrote %d retained messages and %d sessions in %.1f s: %.0f MB" % (
            args.retained, args.sessions, time.monotonic() - t, os.path.getsize(path) / 1e6))
        broker.port = compare.free_port()
        with open(os.path.join(workdir, "mqttd.log"), "wb") as log:
            t = time.monotonic()
            proc = subprocess.Popen(broker.command(), stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL)
            try:
                if not connack_after(broker.port, t + 600):
                    sys.exit("mqttd did not answer within 10 minutes")
                elapsed = time.monotonic() - t
                with open("/proc/%d/status" % proc.pid) as f:
                    rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS"))
            finally:
                proc.terminate()
                proc.wait(60)
            restored = [line for line in open(log.name, errors="replace") if "restored" in line]
        print("".join(restored[-1:]).strip())
        print("mqttd answered CONNECT %.2f s after it was started, holding %.0f MB resident" % (
            elapsed, rss / 1024))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
