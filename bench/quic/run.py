"""TCP vs QUIC for MQTT over a slow, lossy link (`make bench-quic`; root; not part of make test).

Two network namespaces joined by bench/quic/linkemu.py (50 ms each way, so a 100 ms round trip,
and 0/1/5/10 % loss each way). mqttd runs in one with a TCP and a QUIC listener; mqttc runs in the
other. For each transport and loss rate it measures:

  - set-up: time from starting `mqttc sub` to its CONNACK (TCP or QUIC handshake + CONNECT);
  - QoS 1 latency: a publisher and a subscriber on the far side, 10 messages a second, each
    carrying its send time; p50 and p99 of publish-to-delivery;
  - recovery: the link goes down for 5 s while messages keep being published; the time from the
    link coming back to the first message delivered.

Writes bench/quic/results.json, the table into docs/BENCHMARKS.md (between the quic-bench
markers) and a plot into docs/benchmarks-quic.png (gnuplot)."""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
NS_SERVER, NS_CLIENT = "mqb-srv", "mqb-cli"
ADDR_SERVER, ADDR_CLIENT = "10.77.0.1", "10.77.0.2"
TCP_PORT, QUIC_PORT = 1883, 14567
DELAY_MS = 50
BEGIN, END = "<!-- quic-bench:begin -->", "<!-- quic-bench:end -->"


def sh(*args, **kw):
    return subprocess.run(list(args), check=True, **kw)


def in_client(*args):
    return ["ip", "netns", "exec", NS_CLIENT] + list(args)


class Link:
    def __init__(self, loss):
        for ns in (NS_SERVER, NS_CLIENT):
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
            sh("ip", "netns", "add", ns)
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "linkemu.py"), NS_SERVER, ADDR_SERVER, NS_CLIENT,
             ADDR_CLIENT, str(DELAY_MS), str(loss)], stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("link emulator did not start")

    def down(self):
        os.kill(self.proc.pid, signal.SIGUSR1)

    def up(self):
        os.kill(self.proc.pid, signal.SIGUSR2)

    def close(self):
        self.proc.terminate()
        self.proc.wait()
        for ns in (NS_SERVER, NS_CLIENT):
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)


def start_broker(build, workdir):
    cert, key = os.path.join(workdir, "q.crt"), os.path.join(workdir, "q.key")
    sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
       "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=mqttd-bench",
       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    conf = os.path.join(workdir, "mqttd.conf")
    with open(conf, "w") as f:
        f.write("persistence false\nlistener %d %s\n" % (TCP_PORT, ADDR_SERVER))
        f.write("listener %d %s\nprotocol quic\ncertfile %s\nkeyfile %s\n" % (
            QUIC_PORT, ADDR_SERVER, cert, key))
    log = open(os.path.join(workdir, "mqttd.log"), "w")
    proc = subprocess.Popen(["ip", "netns", "exec", NS_SERVER, os.path.join(build, "mqttd"),
                             "-w", "2", "-c", conf], stdout=log, stderr=subprocess.STDOUT)
    time.sleep(0.5)
    if proc.poll() is not None:
        raise RuntimeError("mqttd did not start: see " + log.name)
    return proc, log


def url(transport, topic):
    if transport == "tcp":
        return ["-L", "mqtt://%s:%d/%s" % (ADDR_SERVER, TCP_PORT, topic)]
    # No fallback in a benchmark: a port where nothing listens makes a fallback fail loudly.
    return ["-L", "quic://%s:%d/%s" % (ADDR_SERVER, QUIC_PORT, topic), "--insecure",
            "--cafile", CERT[0], "--quic-timeout", "30000", "--fallback", "mqtt://127.0.0.1:9"]


CERT = [None]


def measure_setup(mqttc, transport, samples):
    times = []
    for i in range(samples):
        start = time.monotonic()
        p = subprocess.Popen(in_client(mqttc, "sub", "-d", *url(transport, "setup/t")),
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        for line in p.stdout:
            if "received CONNACK" in line:
                times.append((time.monotonic() - start) * 1000)
                break
        p.terminate()
        p.wait()
    return times


class Stream:
    """A QoS 1 publisher and subscriber over `transport`; messages carry their send time."""

    def __init__(self, mqttc, transport, topic):
        self.arrivals = []  # (send time, arrival time), monotonic seconds
        self.sub = subprocess.Popen(in_client(mqttc, "sub", "-d", "-q", "1",
                                              *url(transport, topic)),
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        for line in self.sub.stdout:
            if "received SUBACK" in line:
                break
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.pub = subprocess.Popen(in_client(mqttc, "pub", "-q", "1", "-l",
                                              *url(transport, topic)),
                                    stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, text=True)
        time.sleep(1.5)  # the publisher's own connection set-up is not part of the latency

    def _read(self):
        for line in self.sub.stdout:
            now = time.monotonic()
            line = line.strip()
            if line.startswith("Client ") or not line:
                continue
            try:
                self.arrivals.append((float(line), now))
            except ValueError:
                pass

    def send(self):
        self.pub.stdin.write("%.6f\n" % time.monotonic())
        self.pub.stdin.flush()

    def close(self):
        self.pub.stdin.close()
        try:
            self.pub.wait(5)
        except subprocess.TimeoutExpired:
            self.pub.kill()
        self.sub.terminate()
        self.sub.wait()


def percentile(values, p):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100.0 * (len(values) - 1))))]


def measure_latency(mqttc, transport, count):
    s = Stream(mqttc, transport, "lat/t")
    for _ in range(count):
        s.send()
        time.sleep(0.1)
    time.sleep(3)
    s.close()
    lat = [(a - t) * 1000 for t, a in s.arrivals]
    return {"p50": percentile(lat, 50), "p99": percentile(lat, 99), "received": len(lat),
            "sent": count}


def measure_recovery(mqttc, transport, link):
    s = Stream(mqttc, transport, "out/t")
    deadline = time.monotonic() + 20
    restored = None
    sent = 0
    t0 = time.monotonic()
    while time.monotonic() < deadline:
        elapsed = time.monotonic() - t0
        if 2.0 <= elapsed and restored is None and elapsed < 7.0 and link_state[0]:
            link.down()
            link_state[0] = False
        if elapsed >= 7.0 and not link_state[0]:
            link.up()
            link_state[0] = True
            restored = time.monotonic()
        s.send()
        sent += 1
        time.sleep(0.1)
        if restored and any(a > restored for _, a in s.arrivals) and elapsed > 10:
            break
    time.sleep(2)
    s.close()
    after = [a for _, a in s.arrivals if restored and a > restored]
    return {"recovery_ms": (min(after) - restored) * 1000 if after else None,
            "received": len(s.arrivals), "sent": sent}


link_state = [True]


def plot(results, path):
    files = {}
    for transport in ("tcp", "quic"):
        files[transport] = "%s.%s.dat" % (path, transport)
        with open(files[transport], "w") as f:
            for r in results:
                if r["transport"] == transport:
                    f.write("%s %.1f %.1f %.1f\n" % (
                        r["loss"], r["setup_p50"], r["latency"]["p99"] or 0,
                        r["recovery"]["recovery_ms"] or 0))
    panels = (("connection set-up (median)", 2), ("QoS 1 publish-to-delivery p99", 3),
              ("recovery after a 5 s outage", 4))
    script = ["set terminal pngcairo size 1200,400 font \",10\"", "set output '%s'" % path,
              "set multiplot layout 1,3 title \"MQTT over TCP vs QUIC, 100 ms RTT (50 ms each "
              "way)\"", "set style data linespoints", "set xrange [-0.5:10.5]",
              "set xlabel \"packet loss each way (%)\"", "set ylabel \"ms\"", "set grid",
              "set yrange [0:*]"]
    for title, column in panels:
        script.append("set title \"%s\"" % title)
        script.append("plot '%s' using 1:%d title \"TCP\" lw 2, '%s' using 1:%d title \"QUIC\" "
                      "lw 2" % (files["tcp"], column, files["quic"], column))
    script.append("unset multiplot")
    subprocess.run(["gnuplot"], input="\n".join(script) + "\n", text=True, check=False)
    for name in files.values():
        os.unlink(name)


def table(results):
    def fmt(v):
        return "—" if v is None else "%.0f" % v
    rows = ["| loss | transport | set-up p50 (ms) | set-up p99 (ms) | QoS 1 p50 (ms) | "
            "QoS 1 p99 (ms) | delivered | recovery after 5 s outage (ms) |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        lat = r["latency"]
        rows.append("| %s %% | %s | %s | %s | %s | %s | %d/%d | %s |" % (
            r["loss"], r["transport"].upper(), fmt(r["setup_p50"]), fmt(r["setup_p99"]),
            fmt(lat["p50"]), fmt(lat["p99"]), lat["received"], lat["sent"],
            fmt(r["recovery"]["recovery_ms"])))
    return "\n".join(rows)


def write_doc(results):
    doc = os.path.join(REPO, "docs", "BENCHMARKS.md")
    text = open(doc).read() if os.path.exists(doc) else "# Benchmarks\n"
    block = "%s\n%s\n\n![TCP vs QUIC](benchmarks-quic.png)\n%s" % (BEGIN, table(results), END)
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + block + text[text.index(END) + len(END):]
    else:
        text += "\n" + block + "\n"
    with open(doc, "w") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--losses", default="0,1,5,10")
    ap.add_argument("--setup-samples", type=int, default=20)
    ap.add_argument("--messages", type=int, default=200)
    ap.add_argument("--no-doc", action="store_true")
    ap.add_argument("--report-only", action="store_true",
                    help="write the table and plot from bench/quic/results.json, measure nothing")
    args = ap.parse_args()
    if args.report_only:
        with open(os.path.join(HERE, "results.json")) as f:
            results = json.load(f)
        plot(results, os.path.join(REPO, "docs", "benchmarks-quic.png"))
        write_doc(results)
        return
    if os.geteuid() != 0:
        sys.exit("bench-quic needs root (network namespaces, TUN devices)")
    mqttc = os.path.join(args.build, "mqttc")
    workdir = tempfile.mkdtemp(prefix="mqttd-bench-quic-")
    results = []
    try:
        for loss in [float(x) for x in args.losses.split(",")]:
            link = Link(loss)
            link_state[0] = True
            broker, log = start_broker(args.build, workdir)
            CERT[0] = os.path.join(workdir, "q.crt")
            try:
                for transport in ("tcp", "quic"):
                    setup = measure_setup(mqttc, transport, args.setup_samples)
                    lat = measure_latency(mqttc, transport, args.messages)
                    rec = measure_recovery(mqttc, transport, link)
                    r = {"loss": "%g" % loss, "transport": transport,
                         "setup_p50": percentile(setup, 50), "setup_p99": percentile(setup, 99),
                         "setup_samples": setup, "latency": lat, "recovery": rec}
                    print(json.dumps({k: v for k, v in r.items() if k != "setup_samples"}),
                          flush=True)
                    results.append(r)
            finally:
                broker.terminate()
                broker.wait()
                log.close()
                link.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    with open(os.path.join(HERE, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    print(table(results))
    if not args.no_doc:
        plot(results, os.path.join(REPO, "docs", "benchmarks-quic.png"))
        write_doc(results)


if __name__ == "__main__":
    main()
