"""A WAN's delay in user space: every packet of an NFQUEUE queue let through a fixed time after it was queued.

This kernel has no netem, but it has ``nfnetlink_queue``: an iptables rule with ``-j NFQUEUE`` hands
each matching packet to the process bound to that queue, and the packet goes on only when that
process says so (a verdict). Holding every verdict ``--delay-ms`` on the packets into a server makes a
round trip of that much (tests/netns.py ``delayed_port`` says why all of it on the way in). The delay
is the same for every packet, so they leave in the order they came and TCP sees no reordering.

Run inside the network namespace whose rules feed the queue (queues are per namespace):
``ip netns exec NS python -m tests.validation.wan_delay --queue 0 --delay-ms 15``; it prints
``bound`` once it holds the queue, and stops on SIGTERM. Plain netlink over the standard library
(``socket.AF_NETLINK``): the messages are the kernel's ``linux/netfilter/nfnetlink_queue.h``, and
only the packet's id is read (the queue copies no payload).
"""

from __future__ import annotations

import argparse
import collections
import errno
import os
import select
import signal
import socket
import struct
import sys
import time

__all__ = ["main"]

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NFQA_PACKET_HDR, NFQA_VERDICT_HDR = 1, 2
NFQA_CFG_CMD, NFQA_CFG_PARAMS, NFQA_CFG_QUEUE_MAXLEN = 1, 2, 3
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1  # the packet's metadata (its id) only, no payload
NF_ACCEPT = 1
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2
QUEUE_MAXLEN = 8192  # packets held at once; a 15 ms delay at a few thousand packets/s holds under a hundred

_NLMSG = struct.Struct("=IHHII")  # length, type, flags, sequence, port id
_NFGEN = struct.Struct("=BBH")  # family, version, queue number (big-endian, packed by hand)
_ATTR = struct.Struct("=HH")  # length, type


def _attr(kind: int, payload: bytes) -> bytes:
    size = _ATTR.size + len(payload)
    return _ATTR.pack(size, kind) + payload + b"\0" * (-size % 4)


def _message(msg: int, queue: int, attrs: bytes, seq: int, flags: int = NLM_F_REQUEST) -> bytes:
    body = _NFGEN.pack(socket.AF_UNSPEC, 0, socket.htons(queue)) + attrs
    return _NLMSG.pack(_NLMSG.size + len(body), (NFNL_SUBSYS_QUEUE << 8) | msg, flags, seq, 0) + body


def _verdict(queue: int, packet_id: int, seq: int) -> bytes:
    return _message(NFQNL_MSG_VERDICT, queue, _attr(NFQA_VERDICT_HDR, struct.pack("!II", NF_ACCEPT, packet_id)), seq)


def _packet_ids(data: bytes):
    """The ids of the queued packets in one read of the socket (which may hold several messages)."""
    at = 0
    while at + _NLMSG.size <= len(data):
        length, kind, _, _, _ = _NLMSG.unpack_from(data, at)
        if length < _NLMSG.size:
            return
        if kind == NLMSG_ERROR:
            code = -struct.unpack_from("=i", data, at + _NLMSG.size)[0]
            if code:
                raise OSError(code, f"nfnetlink_queue: {os.strerror(code)}")
        elif kind == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
            a, end = at + _NLMSG.size + _NFGEN.size, at + length
            while a + _ATTR.size <= end:
                alen, akind = _ATTR.unpack_from(data, a)
                if alen < _ATTR.size:
                    break
                if akind & 0x3FFF == NFQA_PACKET_HDR:
                    yield struct.unpack_from("!I", data, a + _ATTR.size)[0]
                    break
                a += (alen + 3) & ~3
        at += (length + 3) & ~3


def _bind(sock: socket.socket, queue: int) -> None:
    """Bind the queue, copy metadata only, and wait for the kernel's acknowledgement of each."""
    config = [_attr(NFQA_CFG_CMD, struct.pack("!BBH", NFQNL_CFG_CMD_BIND, 0, 0)),
              _attr(NFQA_CFG_PARAMS, struct.pack("!IB", 0, NFQNL_COPY_META)),
              _attr(NFQA_CFG_QUEUE_MAXLEN, struct.pack("!I", QUEUE_MAXLEN))]
    for seq, attrs in enumerate(config, start=1):
        sock.send(_message(NFQNL_MSG_CONFIG, queue, attrs, seq, NLM_F_REQUEST | NLM_F_ACK))
        list(_packet_ids(sock.recv(65536)))  # an error acknowledgement raises


def serve(queue: int, delay_s: float) -> None:
    """Hold each packet of ``queue`` ``delay_s``, then accept it; until SIGTERM."""
    try:  # a real-time priority: each verdict on time though the machine's cores are busy (its work is tiny)
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
    except OSError:  # not root: the ordinary scheduler, a little later under load
        pass
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind((0, 0))
    _bind(sock, queue)
    sock.setblocking(False)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    print("bound", flush=True)
    held: collections.deque = collections.deque()  # (due time, packet id), in arrival order = due order
    seq = 100
    while not stop:
        now = time.monotonic()
        while held and held[0][0] <= now:
            seq += 1
            sock.send(_verdict(queue, held.popleft()[1], seq))
        timeout = max(held[0][0] - now, 0.0) if held else 0.2
        try:
            readable, _, _ = select.select([sock], [], [], timeout)
        except InterruptedError:
            continue
        while readable:
            try:
                data = sock.recv(1 << 16)
            except BlockingIOError:
                break
            except OSError as err:
                if err.errno == errno.ENOBUFS:  # the kernel dropped messages: those packets are lost, as on a WAN
                    continue
                raise
            now = time.monotonic()
            held.extend((now + delay_s, pid) for pid in _packet_ids(data))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queue", type=int, default=0)
    ap.add_argument("--delay-ms", type=float, required=True)
    args = ap.parse_args(argv)
    if not (0 <= args.queue < 65536 and 0 <= args.delay_ms <= 10_000):
        print(f"wan_delay: --queue {args.queue} --delay-ms {args.delay_ms}: out of range", file=sys.stderr)
        return 2
    serve(args.queue, args.delay_ms / 1000)
    return 0


if __name__ == "__main__":
    sys.exit(main())
