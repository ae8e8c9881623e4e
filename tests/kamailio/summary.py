#!/usr/bin/env python3
"""Summary of one tests/kamailio/run.sh run (called by run.sh, stdlib only).

Reads the SIPp message traces and the optional dumpcap capture of
Kamailio's SIP port from the work directory and prints the key=value facts
described in README.md, one per line, on stdout. Exits 1 when a SIPp
instance failed, Kamailio died, a scenario did not end the way it should,
or the SIPp traces and the capture disagree; 0 otherwise.
"""

import argparse
import re
import struct
import sys
import time
from pathlib import Path

SCENARIOS = ("answer", "busy", "cancel")
# Messages on the wire at Kamailio per call when nothing is retransmitted
# (received + sent; Kamailio's own 100 Trying, 200 to CANCEL and hop-by-hop
# ACKs included), see README.md.
PER_CALL = {"answer": 13, "busy": 7, "cancel": 13}
MSG_LINE = re.compile(r"^(UDP|TCP) message (sent|received)\b", re.M)
XCID = re.compile(r"^X-CID[ \t]*:[ \t]*(\S+)", re.I | re.M)
CALLID = re.compile(r"^(?:Call-ID|i)[ \t]*:[ \t]*(\S+)", re.I | re.M)


def short_log(path):
    """Rows of a SIPp -trace_shortmsg log: (dir S/R, call-id, cseq, first line)."""
    rows = []
    if not path.exists():
        return rows
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        cols = line.split("\t")
        if len(cols) >= 7:
            rows.append((cols[3], cols[4], cols[5], cols[6]))
    return rows


def message_counts(path):
    """(sent, received) counted from a SIPp -trace_msg log."""
    if not path.exists():
        return 0, 0
    text = path.read_text(encoding="utf-8", errors="replace")
    sent = recv = 0
    for m in MSG_LINE.finditer(text):
        if m.group(2) == "sent":
            sent += 1
        else:
            recv += 1
    return sent, recv


def received_invites(path):
    """Header blocks of the INVITEs a SIPp instance received (-trace_msg log)."""
    out = []
    if not path.exists():
        return out
    text = path.read_text(encoding="utf-8", errors="replace")
    for block in re.split(r"^-{10,}.*$", text, flags=re.M):
        if "message received" not in block:
            continue
        body = block.split(":\n", 1)[-1].lstrip("\n")
        if body.startswith("INVITE "):
            out.append(body.split("\n\n", 1)[0])
    return out


def pcap_udp_packets(path, sip_port, peer_ports, hep_port):
    """Count UDP packets of a dumpcap pcapng file of Kamailio's SIP port.

    Returns (SIP to Kamailio, SIP from Kamailio, HEP from Kamailio): with HEP
    over UDP siptrace sends its copies from the SIP socket, so they show up
    in the same capture and are told apart by the destination port."""
    data = path.read_bytes()
    off, endian = 0, "<"
    link = {}
    to_k = from_k = hep = 0
    while off + 12 <= len(data):
        btype = struct.unpack_from(endian + "I", data, off)[0]
        if btype == 0x0A0D0D0A:
            endian = "<" if data[off + 8 : off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            link = {}
        blen = struct.unpack_from(endian + "I", data, off + 4)[0]
        if blen < 12 or off + blen > len(data):
            break
        body = data[off + 8 : off + blen - 4]
        if btype == 1:  # interface description
            link[len(link)] = struct.unpack_from(endian + "H", body, 0)[0]
        elif btype == 6:  # enhanced packet
            ifid, _, _, caplen, _ = struct.unpack_from(endian + "IIIII", body, 0)
            pkt = body[20 : 20 + caplen]
            lt = link.get(ifid, 1)
            ip = pkt[14:] if lt == 1 else pkt[16:] if lt == 113 else pkt
            if len(ip) >= 28 and ip[0] >> 4 == 4 and ip[9] == 17:
                ihl = (ip[0] & 0x0F) * 4
                sport, dport = struct.unpack_from("!HH", ip, ihl)
                if dport == sip_port and sport in peer_ports:
                    to_k += 1
                elif sport == sip_port and dport in peer_ports:
                    from_k += 1
                elif sport == sip_port and dport == hep_port:
                    hep += 1
        off += blen
    return to_k, from_k, hep


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--mode", required=True)
    ap.add_argument("--calls", type=int, required=True)
    ap.add_argument("--sip-port", type=int, required=True)
    ap.add_argument("--uas-port", type=int, required=True)
    ap.add_argument("--uac-port", type=int, required=True)
    ap.add_argument("--hep", required=True)
    ap.add_argument("--capture-id", required=True)
    ap.add_argument("--pcap", default="")
    ap.add_argument("--kamailio-alive", required=True)
    ap.add_argument("--start", type=float, required=True)
    ap.add_argument("--kamailio-version", default="")
    ap.add_argument("--sipp-version", default="")
    ap.add_argument("--sipp-rc", required=True)
    a = ap.parse_args()
    wd = Path(a.workdir)
    ok = True
    problems = []

    rcs = dict(kv.split("=", 1) for kv in a.sipp_rc.split(","))
    sipp_failed = sorted(k for k, v in rcs.items() if v != "0")
    if sipp_failed:
        ok = False
        problems.append("sipp_failed:" + "+".join(f"{k}={rcs[k]}" for k in sipp_failed))

    # Kamailio receives what the SIPp peers send and sends what they receive.
    kam_in = kam_out = 0
    per_instance = {}
    for sc in SCENARIOS:
        for role in ("uac", "uas"):
            sent, recv = message_counts(wd / f"{sc}_{role}_messages.log")
            per_instance[f"{sc}_{role}"] = (sent, recv)
            kam_in += sent
            kam_out += recv
    sipp_total = kam_in + kam_out

    def final_calls(sc, code):
        ids = set()
        for d, cid, cseq, first in short_log(wd / f"{sc}_uac_short.log"):
            if d == "R" and cseq.endswith("INVITE") and first.startswith(f"SIP/2.0 {code} "):
                ids.add(cid)
        return ids

    answered = final_calls("answer", 200)
    busy = final_calls("busy", 486)
    cancelled = final_calls("cancel", 487)
    for name, ids in (("answered", answered), ("busy", busy), ("cancelled", cancelled)):
        if len(ids) != a.calls:
            ok = False
            problems.append(f"calls_{name}={len(ids)}!={a.calls}")

    a_ids, b_ids = set(), set()
    for sc in SCENARIOS:
        a_ids |= {r[1] for r in short_log(wd / f"{sc}_uac_short.log")}
        b_ids |= {r[1] for r in short_log(wd / f"{sc}_uas_short.log")}

    formula = (
        PER_CALL["answer"] * len(answered)
        + PER_CALL["busy"] * len(busy)
        + PER_CALL["cancel"] * len(cancelled)
    )

    captured = None
    hep_captured = ""
    hep_proto, _, hep_port = a.hep.rpartition(":")
    if a.pcap:
        cap_in, cap_out, cap_hep = pcap_udp_packets(
            Path(a.pcap), a.sip_port, {a.uas_port, a.uac_port}, int(hep_port)
        )
        if hep_proto.startswith("udp:"):
            hep_captured = cap_hep
        captured = cap_in + cap_out
        if (cap_in, cap_out) != (kam_in, kam_out):
            ok = False
            problems.append(f"capture({cap_in}+{cap_out})!=sipp({kam_in}+{kam_out})")
    expected = captured if captured is not None else sipp_total

    if a.kamailio_alive != "1":
        ok = False
        problems.append("kamailio_died")

    kam_log = wd / "kamailio.log"
    kam_errors = 0
    if kam_log.exists():
        kam_errors = sum(
            1 for line in kam_log.read_text(errors="replace").splitlines() if " ERROR: " in line
        )

    out = []
    out.append(("result", "ok" if ok else "fail"))
    out.append(("mode", a.mode))
    out.append(("hep", a.hep))
    out.append(("hep_capture_id", a.capture_id))
    out.append(("kamailio_version", a.kamailio_version))
    out.append(("sipp_version", a.sipp_version))
    out.append(("kamailio_sip", f"udp:127.0.0.1:{a.sip_port}"))
    out.append(("uas", f"udp:127.0.0.1:{a.uas_port}"))
    out.append(("uac", f"udp:127.0.0.1:{a.uac_port}"))
    out.append(("calls_per_scenario", a.calls))
    out.append(("calls_answered", len(answered)))
    out.append(("calls_busy", len(busy)))
    out.append(("calls_cancelled", len(cancelled)))
    out.append(("expected_sip_messages", expected))
    out.append(("kamailio_received", kam_in))
    out.append(("kamailio_sent", kam_out))
    out.append(("sipp_trace_messages", sipp_total))
    out.append(("captured_messages", "" if captured is None else captured))
    out.append(("captured_hep_datagrams", hep_captured))
    out.append(("no_retransmission_messages", formula))
    out.append(("retransmissions", expected - formula))
    for k, (s, r) in per_instance.items():
        out.append((f"sipp_{k}", f"sent:{s},received:{r}"))
    out.append(("a_call_ids", ",".join(sorted(a_ids))))
    out.append(("b_call_ids", ",".join(sorted(b_ids))))
    if a.mode == "topoh":
        masked = bool(b_ids) and not (a_ids & b_ids) and all(b.startswith("!!:") for b in b_ids)
        joins = {}
        for sc in SCENARIOS:
            for hdr in received_invites(wd / f"{sc}_uas_messages.log"):
                x = XCID.search(hdr)
                c = CALLID.search(hdr)
                if x and c:
                    joins[c.group(1)] = x.group(1)
        joined = sum(1 for b, x in joins.items() if b in b_ids and x in a_ids)
        out.append(("b_call_ids_masked", "yes" if masked else "no"))
        out.append(("x_cid_joins", joined))
        out.append(("call_id_map", ",".join(f"{joins[b]}={b}" for b in sorted(joins))))
        if not masked:
            ok = False
            problems.append("b_call_ids_not_masked")
        if joined != len(b_ids) or joined != 3 * a.calls:
            ok = False
            problems.append(f"x_cid_joins={joined}")
        out[0] = ("result", "ok" if ok else "fail")
    else:
        if a_ids != b_ids:
            ok = False
            problems.append("plain_mode_call_ids_differ")
            out[0] = ("result", "fail")
    out.append(("kamailio_log_errors", kam_errors))
    out.append(("problems", ",".join(problems)))
    out.append(("workdir", str(wd)))
    out.append(("runtime_seconds", f"{time.time() - a.start:.1f}"))
    for k, v in out:
        print(f"{k}={v}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
