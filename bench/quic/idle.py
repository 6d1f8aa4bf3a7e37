"""Broker memory per idle QUIC connection and QUIC connections per second, on loopback
(`bench/quic/idle.py --build build`; not part of make test).

Idle: N `mqttc sub` processes connect over QUIC and stay; the broker's RSS before and after,
divided by N. Rate: `mqttc pub` processes run back to back in P parallel streams, each a full
QUIC handshake + CONNECT + PUBLISH + DISCONNECT + CONNECTION_CLOSE; the rate is bounded by
starting processes, so it is a floor for the broker's handshake rate, not its ceiling.
mqttc carries one connection per process, so N stays in the hundreds here: the 100,000-connection
generator (many connections over a few UDP sockets) is not written yet."""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--idle", type=int, default=500)
    ap.add_argument("--handshakes", type=int, default=400)
    ap.add_argument("--parallel", type=int, default=8)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="mqttd-quic-idle-")
    cert, key = os.path.join(work, "q.crt"), os.path.join(work, "q.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=IP:127.0.0.1"], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    port = free_udp_port()
    conf = os.path.join(work, "mqttd.conf")
    with open(conf, "w") as f:
        f.write("listener %d 127.0.0.1\nprotocol quic\ncertfile %s\nkeyfile %s\n" % (
            port, cert, key))
    broker = subprocess.Popen([os.path.join(args.build, "mqttd"), "-w", "2", "-c", conf],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    mqttc = os.path.join(args.build, "mqttc")
    url = ["--cafile", cert, "--quic-timeout", "20000", "--fallback", "mqtt://127.0.0.1:9"]
    subs = []
    try:
        time.sleep(0.5)
        before = rss_kib(broker.pid)
        for i in range(args.idle):
            subs.append(subprocess.Popen(
                [mqttc, "sub", "-d", "-k", "600", "-L", "quic://127.0.0.1:%d/idle/%d" % (port, i)]
                + url, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True))
        for p in subs:
            for line in p.stdout:
                if "received SUBACK" in line:
                    break
        time.sleep(1)
        after = rss_kib(broker.pid)
        per_conn = (after - before) * 1024 / args.idle
        print("idle QUIC connections: %d; broker RSS %d -> %d KiB; %.1f KiB per connection" % (
            args.idle, before, after, per_conn / 1024))
        for p in subs:
            p.terminate()
        for p in subs:
            p.wait()
        subs = []

        count = [0]
        lock = threading.Lock()

        def stream(n):
            for _ in range(n):
                r = subprocess.run([mqttc, "pub", "-L", "quic://127.0.0.1:%d/rate" % port, "-m",
                                    "x"] + url, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
                if r.returncode == 0:
                    with lock:
                        count[0] += 1

        start = time.monotonic()
        threads = [threading.Thread(target=stream, args=(args.handshakes // args.parallel,))
                   for _ in range(args.parallel)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - start
        print("QUIC connections (handshake + publish + close) per second: %.0f (%d in %.1f s, "
              "%d parallel mqttc processes)" % (count[0] / elapsed, count[0], elapsed,
                                                args.parallel))
    finally:
        for p in subs:
            p.kill()
        broker.terminate()
        broker.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
