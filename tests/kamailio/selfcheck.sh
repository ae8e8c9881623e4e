#!/usr/bin/env bash
# Validate run.sh against the stdlib collector hep_count.py: for each
# transport (udp, tcp) and mode (plain, topoh), REPEAT times (default 3),
# check that the collector counted exactly expected_sip_messages HEP/SIP
# packets, that it saw exactly the Call-IDs the SIPp peers used, and in
# topoh mode that every B-leg packet (to/from the UAS) carries a masked
# Call-ID while every A-leg packet carries the original one, and that the
# X-CID values are the A-leg Call-IDs.
#
# usage: tests/kamailio/selfcheck.sh [REPEAT] [OUTDIR]
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPEAT="${1:-3}"
OUT="${2:-$(mktemp -d /tmp/callweave-kamailio-selfcheck.XXXXXX)}"
mkdir -p "$OUT"
FAIL=0
COL_PID=""
trap '[ -n "$COL_PID" ] && kill "$COL_PID" 2>/dev/null || true' EXIT

free_port() {
	python3 -c 'import socket
t = socket.socket(); t.bind(("127.0.0.1", 0)); p = t.getsockname()[1]
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", p))
print(p)'
}

printf '%-5s %-6s %-3s %-8s %-9s %-7s %-8s %s\n' transport mode run expected collector callids runtime verdict
for transport in udp tcp; do
	for mode in plain topoh; do
		for i in $(seq 1 "$REPEAT"); do
			d="$OUT/$transport-$mode-$i"
			mkdir -p "$d"
			port=$(free_port)
			rm -f "$d/collector.ready"
			python3 "$HERE/hep_count.py" "--$transport" "$port" --seconds 90 --idle 2 \
				--ready-file "$d/collector.ready" --dump "$d/hep.jsonl" >"$d/collector.txt" 2>&1 &
			COL_PID=$!
			for _ in $(seq 1 100); do [ -f "$d/collector.ready" ] && break; sleep 0.05; done
			rc=0
			"$HERE/run.sh" --hep "$transport:127.0.0.1:$port" --mode "$mode" --workdir "$d/work" \
				>"$d/summary.txt" 2>"$d/harness.err" || rc=$?
			wait "$COL_PID" || true
			COL_PID=""
			verdict=$(python3 - "$d" "$rc" "$mode" <<'EOF'
import json, sys
d, rc, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def kv(path):
    out = {}
    for line in open(path, encoding="utf-8"):
        if "=" in line:
            k, v = line.rstrip("\n").split("=", 1)
            out[k] = v
    return out
s, c = kv(f"{d}/summary.txt"), kv(f"{d}/collector.txt")
bad = []
if rc != 0 or s.get("result") != "ok":
    bad.append(f"harness rc={rc} {s.get('problems', '')}")
if s.get("expected_sip_messages") != c.get("hep_sip_packets"):
    bad.append(f"count {s.get('expected_sip_messages')}!={c.get('hep_sip_packets')}")
a = set(filter(None, s.get("a_call_ids", "").split(",")))
b = set(filter(None, s.get("b_call_ids", "").split(",")))
hep_ids = set(filter(None, c.get("call_ids", "").split(",")))
if hep_ids != a | b:
    bad.append("call-id sets differ")
uas_port = int(s.get("uas", "::0").rsplit(":", 1)[1])
b_leg = a_leg = 0
for line in open(f"{d}/hep.jsonl", encoding="utf-8"):
    r = json.loads(line)
    cid = r.get("call_id", "")
    if uas_port in (r.get("sport"), r.get("dport")):
        b_leg += 1
        if cid not in b:
            bad.append(f"B-leg packet with Call-ID {cid}")
        if mode == "topoh" and (not cid.startswith("!!:") or cid in a):
            bad.append(f"unmasked B-leg Call-ID {cid}")
    else:
        a_leg += 1
        if cid not in a:
            bad.append(f"A-leg packet with Call-ID {cid}")
if mode == "topoh":
    x = set(filter(None, c.get("x_cid_values", "").split(",")))
    if x != a:
        bad.append("X-CID values are not the A-leg Call-IDs")
print(("ok" if not bad else "FAIL: " + "; ".join(sorted(set(bad))[:5]))
      + f" (a_leg={a_leg} b_leg={b_leg})")
EOF
)
			case "$verdict" in ok*) ;; *) FAIL=1 ;; esac
			printf '%-5s %-6s %-3s %-8s %-9s %-7s %-8s %s\n' "$transport" "$mode" "$i" \
				"$(grep '^expected_sip_messages=' "$d/summary.txt" | cut -d= -f2)" \
				"$(grep '^hep_sip_packets=' "$d/collector.txt" | cut -d= -f2)" \
				"$(grep '^call_ids=' "$d/collector.txt" | cut -d= -f2 | tr ',' '\n' | grep -c . || true)" \
				"$(grep '^runtime_seconds=' "$d/summary.txt" | cut -d= -f2)s" "$verdict"
		done
	done
done
echo "outputs in $OUT"
exit "$FAIL"
