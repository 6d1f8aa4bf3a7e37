"""Broker memory per idle QUIC connection and QUIC connections per second, on loopback
(`bench/quic/idle.py --build build [--connections N]`; not part of make test).

Idle: quic_conns (bench/quic/quic_conns.c) opens N MQTT-over-QUIC connections over 16 UDP
sockets (handshake, CONNECT, CONNACK) and holds them; the broker's RSS before and after, divided
by N, and the rate at which they came up (handshake + CONNECT/CONNACK, 200 in flight).
Rate with real clients: `mqttc pub` processes run back to back in P parallel streams, each a full
QUIC handshake + CONNECT + PUBLISH + DISCONNECT + CONNECTION_CLOSE; bounded by starting
processes, so a floor, not the broker's ceiling."""

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
    ap.add_argument("--connections", type=int, default=20000)
    ap.add_argument("--sockets", type=int, default=16)
    ap.add_argument("--handshakes", type=int, default=400)
    ap.add_argument("--parallel", type=int, default=8)
    args = ap.parse_args()
    # Broker and generator each hold ~90 KiB per connection: refuse rather than exhaust memory.
    with open("/proc/meminfo") as f:
        avail = next(int(l.split()[1]) for l in f if l.startswith("MemAvailable"))
    if avail < args.connections * 200 + 2 * 1024 * 1024:
        sys.exit("not enough memory for %d connections (%d MiB available, need about %d MiB)" % (
            args.connections, avail // 1024, (args.connections * 200) // 1024 + 2048))
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
        f.write("persistence false\nlistener %d 127.0.0.1\nprotocol quic\ncertfile %s\n"
                "keyfile %s\n" % (port, cert, key))
    broker = subprocess.Popen([os.path.join(args.build, "mqttd"), "-w", "2", "-c", conf],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    mqttc = os.path.join(args.build, "mqttc")
    url = ["--cafile", cert, "--quic-timeout", "20000", "--fallback", "mqtt://127.0.0.1:9"]
    try:
        time.sleep(0.5)
        before = rss_kib(broker.pid)
        gen = subprocess.Popen([os.path.join(args.build, "quic_conns"), "127.0.0.1", str(port),
                                str(args.connections), str(args.sockets), "200"],
                               stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
        line = gen.stdout.readline().strip()
        time.sleep(2)
        after = rss_kib(broker.pid)
        gen.stdin.close()
        gen.wait()
        print("quic_conns: %s" % line)
        print("idle QUIC connections: %d; broker RSS %d -> %d KiB; %.1f KiB per connection" % (
            args.connections, before, after, (after - before) / args.connections))

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
        broker.terminate()
        broker.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
