#!/usr/bin/env python3
"""Minimal HEPv3 collector used to self-check the Kamailio harness.

Listens on 127.0.0.1 (UDP or TCP), decodes HEPv3 packets, counts the ones
whose protocol-type chunk (vendor 0, type 0x0b) is 1 = SIP, and prints, one
fact per line:

    hep_packets=<all HEPv3 packets>
    hep_sip_packets=<HEPv3 packets carrying SIP>
    hep_bad=<datagrams / stream frames that were not valid HEPv3>
    hep_tcp_connections=<accepted TCP connections>   (TCP only)
    capture_ids=<sorted distinct chunk 0x0c values>
    chunk_types=<sorted distinct vendor-0 chunk types seen, hex>
    auth_keys=<distinct chunk 0x0e values>   node_names=<distinct 0x13 values>
    correlation_ids=<number of packets with chunk 0x11>
    sip_methods=<METHOD:n / status:n counts of SIP first lines>
    x_cid_values=<distinct X-CID header values>
    call_ids=<sorted distinct Call-IDs>

With --dump FILE it also writes one JSON object per SIP packet (src, dst,
sport, dport, ip_proto, ts, ts_us, first_line, call_id, x_cid).

Stdlib only. Runs for --seconds S at most; with --idle I it stops earlier,
once I seconds passed without a packet after the first one.
"""

import argparse
import ipaddress
import json
import re
import select
import socket
import struct
import sys
import time

HEP3_MAGIC = (b"HEP3", b"EEP3")
CALLID_RE = re.compile(rb"^(?:call-id|i)[ \t]*:[ \t]*(.*?)[ \t\r]*$", re.I | re.M)
XCID_RE = re.compile(rb"^x-cid[ \t]*:[ \t]*(.*?)[ \t\r]*$", re.I | re.M)


class Stats:
    def __init__(self, dump=None):
        self.dump = dump
        self.packets = 0
        self.sip = 0
        self.bad = 0
        self.tcp_conns = 0
        self.capture_ids = set()
        self.chunk_types = set()
        self.auth_keys = set()
        self.node_names = set()
        self.correlation = 0
        self.first_lines = {}
        self.call_ids = set()
        self.xcids = set()
        self.last_rx = None

    def hep(self, pkt):
        """Decode one complete HEPv3 packet."""
        self.last_rx = time.monotonic()
        if len(pkt) < 6 or pkt[:4] not in HEP3_MAGIC:
            self.bad += 1
            return
        (total,) = struct.unpack_from("!H", pkt, 4)
        if total < 6 or total > len(pkt):
            self.bad += 1
            return
        off = 6
        proto_type = None
        payload = None
        rec = {}
        while off + 6 <= total:
            vendor, ctype, clen = struct.unpack_from("!HHH", pkt, off)
            if clen < 6 or off + clen > total:
                self.bad += 1
                return
            value = pkt[off + 6 : off + clen]
            off += clen
            if vendor != 0:
                continue
            self.chunk_types.add(ctype)
            if ctype == 0x0B and len(value) == 1:
                proto_type = value[0]
            elif ctype == 0x02 and len(value) == 1:
                rec["ip_proto"] = value[0]
            elif ctype in (0x03, 0x04) and len(value) == 4:
                rec["src" if ctype == 0x03 else "dst"] = str(ipaddress.IPv4Address(value))
            elif ctype in (0x05, 0x06) and len(value) == 16:
                rec["src" if ctype == 0x05 else "dst"] = str(ipaddress.IPv6Address(value))
            elif ctype in (0x07, 0x08) and len(value) == 2:
                rec["sport" if ctype == 0x07 else "dport"] = struct.unpack("!H", value)[0]
            elif ctype == 0x09 and len(value) == 4:
                rec["ts"] = struct.unpack("!I", value)[0]
            elif ctype == 0x0A and len(value) == 4:
                rec["ts_us"] = struct.unpack("!I", value)[0]
            elif ctype == 0x0C and len(value) == 4:
                self.capture_ids.add(struct.unpack("!I", value)[0])
            elif ctype == 0x0E:
                self.auth_keys.add(value.decode("utf-8", "replace"))
            elif ctype == 0x13:
                self.node_names.add(value.decode("utf-8", "replace"))
            elif ctype == 0x11:
                self.correlation += 1
            elif ctype == 0x0F:
                payload = value
        self.packets += 1
        if proto_type != 1:
            return
        self.sip += 1
        if payload is None:
            return
        head = payload.split(b"\r\n\r\n", 1)[0]
        first = head.split(b"\r\n", 1)[0].decode("utf-8", "replace")
        parts = first.split(" ")
        if first.startswith("SIP/2.0") and len(parts) > 1:
            key = parts[1]
        else:
            key = parts[0]
        self.first_lines[key] = self.first_lines.get(key, 0) + 1
        for m in CALLID_RE.finditer(head):
            self.call_ids.add(m.group(1).decode("utf-8", "replace"))
            rec["call_id"] = m.group(1).decode("utf-8", "replace")
        for m in XCID_RE.finditer(head):
            self.xcids.add(m.group(1).decode("utf-8", "replace"))
            rec["x_cid"] = m.group(1).decode("utf-8", "replace")
        if self.dump:
            rec["first_line"] = first
            self.dump.write(json.dumps(rec, sort_keys=True) + "\n")

    def report(self, transport):
        def join(items):
            return ",".join(str(x) for x in sorted(items))

        print(f"hep_packets={self.packets}")
        print(f"hep_sip_packets={self.sip}")
        print(f"hep_bad={self.bad}")
        if transport == "tcp":
            print(f"hep_tcp_connections={self.tcp_conns}")
        print(f"capture_ids={join(self.capture_ids)}")
        print("chunk_types=" + ",".join(f"0x{t:02x}" for t in sorted(self.chunk_types)))
        print(f"auth_keys={join(self.auth_keys)}")
        print(f"node_names={join(self.node_names)}")
        print(f"correlation_ids={self.correlation}")
        print("sip_methods=" + ",".join(f"{k}:{v}" for k, v in sorted(self.first_lines.items())))
        print(f"x_cid_values={join(self.xcids)}")
        print(f"call_ids={join(self.call_ids)}")
        sys.stdout.flush()


def run_udp(port, seconds, idle, stats, ready):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind(("127.0.0.1", port))
    ready()
    deadline = time.monotonic() + seconds
    while True:
        now = time.monotonic()
        if now >= deadline or (idle and stats.last_rx and now - stats.last_rx >= idle):
            break
        r, _, _ = select.select([sock], [], [], 0.1)
        if r:
            data, _ = sock.recvfrom(65535)
            stats.hep(data)
    sock.close()


def run_tcp(port, seconds, idle, stats, ready):
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", port))
    lsock.listen(16)
    ready()
    conns = {}  # socket -> pending bytes
    deadline = time.monotonic() + seconds
    while True:
        now = time.monotonic()
        if now >= deadline or (idle and stats.last_rx and now - stats.last_rx >= idle):
            break
        r, _, _ = select.select([lsock, *conns.keys()], [], [], 0.1)
        for s in r:
            if s is lsock:
                c, _ = lsock.accept()
                conns[c] = b""
                stats.tcp_conns += 1
                continue
            data = s.recv(65536)
            if not data:
                if conns[s]:
                    stats.bad += 1
                del conns[s]
                s.close()
                continue
            buf = conns[s] + data
            # HEPv3 over a stream is framed by its own 16-bit total length.
            while len(buf) >= 6:
                if buf[:4] not in HEP3_MAGIC:
                    stats.bad += 1
                    buf = b""
                    break
                (total,) = struct.unpack_from("!H", buf, 4)
                if total < 6:
                    stats.bad += 1
                    buf = b""
                    break
                if len(buf) < total:
                    break
                stats.hep(buf[:total])
                buf = buf[total:]
            conns[s] = buf
    for s in conns:
        s.close()
    lsock.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--udp", type=int, metavar="PORT")
    g.add_argument("--tcp", type=int, metavar="PORT")
    ap.add_argument("--seconds", type=float, required=True, help="maximum run time")
    ap.add_argument("--idle", type=float, default=0.0,
                    help="stop after this many seconds without packets (once one arrived)")
    ap.add_argument("--ready-file", help="touch this file once the socket is bound")
    ap.add_argument("--dump", help="write one JSON line per SIP packet (addresses, first line, Call-ID)")
    args = ap.parse_args()

    def ready():
        if args.ready_file:
            with open(args.ready_file, "w", encoding="ascii") as f:
                f.write("ready\n")

    dump = open(args.dump, "w", encoding="utf-8") if args.dump else None
    stats = Stats(dump)
    try:
        if args.udp is not None:
            run_udp(args.udp, args.seconds, args.idle, stats, ready)
            stats.report("udp")
        else:
            run_tcp(args.tcp, args.seconds, args.idle, stats, ready)
            stats.report("tcp")
    except KeyboardInterrupt:
        stats.report("udp" if args.udp is not None else "tcp")
    finally:
        if dump:
            dump.close()


if __name__ == "__main__":
    main()
