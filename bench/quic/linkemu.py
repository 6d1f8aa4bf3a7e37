"""A lossy, slow link between two network namespaces, in user space: netem's job (delay and
random loss per packet, each direction) for kernels built without sch_netem, like this one.

Two TUN interfaces are made in the root namespace, one moved into each namespace, and every IP
packet one side sends is read here, dropped with probability LOSS or else held DELAY seconds and
written to the other side. TCP and UDP (QUIC) see the same link, packet by packet.

    linkemu.py NS_A ADDR_A NS_B ADDR_B DELAY_MS LOSS_PERCENT

SIGUSR1 takes the link down (every packet dropped), SIGUSR2 brings it back; SIGTERM ends it.
Prints "ready" on stdout once both interfaces are up."""

import fcntl
import heapq
import os
import random
import select
import signal
import struct
import subprocess
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def open_tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def ip(*args):
    subprocess.run(["ip"] + list(args), check=True)


def main():
    ns_a, addr_a, ns_b, addr_b = sys.argv[1:5]
    delay = float(sys.argv[5]) / 1000.0
    loss = float(sys.argv[6]) / 100.0
    ends = []
    for ns, addr, peer, name in ((ns_a, addr_a, addr_b, "mqbA"), (ns_b, addr_b, addr_a, "mqbB")):
        fd = open_tun(name)
        ip("link", "set", name, "netns", ns)
        ip("-n", ns, "addr", "add", addr + "/32", "peer", peer, "dev", name)
        ip("-n", ns, "link", "set", name, "up", "mtu", "1500")
        ip("-n", ns, "link", "set", "lo", "up")
        ends.append(fd)
    state = {"up": True, "run": True}
    signal.signal(signal.SIGUSR1, lambda *a: state.update(up=False))
    signal.signal(signal.SIGUSR2, lambda *a: state.update(up=True))
    signal.signal(signal.SIGTERM, lambda *a: state.update(run=False))
    print("ready", flush=True)
    queue = []  # (due, seq, out fd, packet)
    seq = 0
    rng = random.Random(4)
    while state["run"]:
        timeout = max(0.0, queue[0][0] - time.monotonic()) if queue else 0.5
        try:
            readable, _, _ = select.select(ends, [], [], timeout)
        except InterruptedError:
            continue
        now = time.monotonic()
        for fd in readable:
            out = ends[1] if fd == ends[0] else ends[0]
            while True:
                try:
                    packet = os.read(fd, 65536)
                except BlockingIOError:
                    break
                if not state["up"] or rng.random() < loss:
                    continue
                seq += 1
                heapq.heappush(queue, (now + delay, seq, out, packet))
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, out, packet = heapq.heappop(queue)
            try:
                os.write(out, packet)
            except OSError:
                pass


if __name__ == "__main__":
    main()
