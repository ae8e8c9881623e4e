#!/usr/bin/env bash
# Real-peer HEP test harness: Kamailio (siptrace, trace_mode=1) proxies SIPp
# calls statefully and mirrors every SIP message it receives or sends as a
# HEPv3 packet to the collector given with --hep. See README.md.
#
# stdout carries only the final key=value summary (one fact per line);
# progress and diagnostics go to stderr; all artefacts stay in --workdir.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

usage() {
	cat >&2 <<'EOF'
usage: tests/kamailio/run.sh --hep udp:127.0.0.1:PORT|tcp:127.0.0.1:PORT
                             [--mode plain|topoh] [--workdir DIR]
                             [--calls N] [--rate CPS] [--no-capture]

  --hep       HEPv3 collector address; transport udp or tcp
  --mode      plain (default) or topoh (Call-ID masked on the B-leg, X-CID
              header with the A-leg Call-ID added to initial INVITEs)
  --workdir   where the cfg, logs, SIPp traces and capture go
              (default: a new mktemp -d directory, kept after the run)
  --calls     calls per scenario (answered, busy 486, cancelled), default 5
  --rate      SIPp call rate per second, default 20
  --no-capture  do not cross-check the counts with a dumpcap capture on lo
EOF
	exit 2
}

log() { printf '[kamailio-harness] %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

HEP=""
MODE="plain"
WORKDIR=""
CALLS=5
RATE=20
CAPTURE=1
while [ $# -gt 0 ]; do
	case "$1" in
	--hep) HEP="${2:-}"; shift 2 || usage ;;
	--mode) MODE="${2:-}"; shift 2 || usage ;;
	--workdir) WORKDIR="${2:-}"; shift 2 || usage ;;
	--calls) CALLS="${2:-}"; shift 2 || usage ;;
	--rate) RATE="${2:-}"; shift 2 || usage ;;
	--no-capture) CAPTURE=0; shift ;;
	-h | --help) usage ;;
	*) log "unknown argument: $1"; usage ;;
	esac
done

[[ "$HEP" =~ ^(udp|tcp):([0-9]{1,3}(\.[0-9]{1,3}){3}):([0-9]{1,5})$ ]] || usage
HEP_PROTO="${BASH_REMATCH[1]}"
HEP_HOST="${BASH_REMATCH[2]}"
HEP_PORT="${BASH_REMATCH[4]}"
case "$MODE" in plain | topoh) ;; *) usage ;; esac
[[ "$CALLS" =~ ^[1-9][0-9]*$ ]] || usage
[[ "$RATE" =~ ^[1-9][0-9]*$ ]] || usage

for tool in kamailio sipp python3 ss; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool not found (apt-get install -y kamailio sip-tester python3 iproute2)"
done
if [ "$CAPTURE" = 1 ] && { ! command -v dumpcap >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; }; then
	log "dumpcap missing or not root: no capture cross-check"
	CAPTURE=0
fi

if [ -z "$WORKDIR" ]; then
	WORKDIR="$(mktemp -d /tmp/callweave-kamailio.XXXXXX)"
fi
mkdir -p "$WORKDIR"
WORKDIR="$(cd "$WORKDIR" && pwd)"
log "workdir $WORKDIR"

T_START=$(date +%s.%N)

# ---------------------------------------------------------------- cleanup
KAM_PID=""
CAP_PID=""
UAS_PID=""
cleanup() {
	local pid
	for pid in "$UAS_PID" "$KAM_PID" "$CAP_PID"; do
		[ -n "$pid" ] || continue
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null || true
		fi
	done
	for pid in "$UAS_PID" "$KAM_PID" "$CAP_PID"; do
		[ -n "$pid" ] || continue
		for _ in $(seq 1 30); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------- free ports
# Ask the kernel for ports that are free for both UDP and TCP on 127.0.0.1
# (Kamailio listens on both when HEP goes over TCP); sockets are closed
# right before use, the usual small race is accepted.
read -r SIP_PORT UAS_PORT UAC_PORT < <(python3 - <<'EOF'
import socket
ports, held = [], []
while len(ports) < 3:
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.bind(("127.0.0.1", 0))
    p = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", p))
    except OSError:
        t.close(); u.close(); continue
    held += [t, u]
    ports.append(p)
print(*ports)
for s in held:
    s.close()
EOF
)
log "ports: kamailio=$SIP_PORT uas=$UAS_PORT uac=$UAC_PORT hep=$HEP_PROTO:$HEP_HOST:$HEP_PORT"

# ------------------------------------------------------------ kamailio.cfg
MPATH=""
for d in /usr/lib/x86_64-linux-gnu/kamailio/modules /usr/lib/kamailio/modules /usr/local/lib64/kamailio/modules /usr/local/lib/kamailio/modules; do
	if [ -f "$d/siptrace.so" ]; then MPATH="$d"; break; fi
done
[ -n "$MPATH" ] || MPATH="$(dirname "$(find / -xdev -name siptrace.so -path '*kamailio*' 2>/dev/null | head -1)")"
[ -f "$MPATH/siptrace.so" ] || die "siptrace.so not found"

DEFINES=""
[ "$HEP_PROTO" = tcp ] && DEFINES+="#!define WITH_TCP"$'\n'
[ "$MODE" = topoh ] && DEFINES+="#!define WITH_TOPOH"$'\n'
HEP_URI="sip:$HEP_HOST:$HEP_PORT;transport=$HEP_PROTO"
HEP_CAPTURE_ID=2024
CFG="$WORKDIR/kamailio.cfg"
python3 - "$HERE/kamailio.cfg.in" "$CFG" <<EOF
import sys
src, dst = sys.argv[1], sys.argv[2]
text = open(src, encoding="utf-8").read()
subst = {
    "@DEFINES@": """$DEFINES""",
    "@SIP_PORT@": "$SIP_PORT",
    "@MPATH@": "$MPATH",
    "@HEP_URI@": "$HEP_URI",
    "@HEP_CAPTURE_ID@": "$HEP_CAPTURE_ID",
}
for k, v in subst.items():
    text = text.replace(k, v)
open(dst, "w", encoding="utf-8").write(text)
EOF
grep -q '@[A-Z_]*@' "$CFG" && die "unsubstituted marker left in $CFG"

if ! kamailio -c -f "$CFG" >"$WORKDIR/kamailio-check.log" 2>&1; then
	cat "$WORKDIR/kamailio-check.log" >&2
	die "kamailio rejected $CFG"
fi

wait_bound() { # proto port seconds [pid that must stay alive]
	local flag=-lun i
	[ "$1" = tcp ] && flag=-ltn
	for i in $(seq 1 $(($3 * 20))); do
		if ss -H "$flag" "sport = :$2" 2>/dev/null | grep -q .; then return 0; fi
		if [ -n "${4:-}" ] && ! kill -0 "$4" 2>/dev/null; then return 1; fi
		sleep 0.05
	done
	return 1
}

# ---------------------------------------------------------------- capture
PCAP="$WORKDIR/sip.pcap"
if [ "$CAPTURE" = 1 ]; then
	rm -f "$PCAP"
	dumpcap -i lo -f "udp port $SIP_PORT" -w "$PCAP" >"$WORKDIR/dumpcap.log" 2>&1 &
	CAP_PID=$!
	for _ in $(seq 1 100); do
		grep -q "Capturing on" "$WORKDIR/dumpcap.log" 2>/dev/null && break
		kill -0 "$CAP_PID" 2>/dev/null || break
		sleep 0.05
	done
	grep -q "Capturing on" "$WORKDIR/dumpcap.log" || die "dumpcap did not start: $(cat "$WORKDIR/dumpcap.log")"
fi

# --------------------------------------------------------------- kamailio
KAM_LOG="$WORKDIR/kamailio.log"
# -DD: stay in the foreground (no daemon), -E: log to stderr (the log file)
kamailio -f "$CFG" -DD -E -w "$WORKDIR" -P "$WORKDIR/kamailio.pid" -m 32 -M 8 >"$KAM_LOG" 2>&1 &
KAM_PID=$!
wait_bound udp "$SIP_PORT" 10 "$KAM_PID" || { tail -20 "$KAM_LOG" >&2; die "kamailio did not bind udp:$SIP_PORT"; }
if [ "$HEP_PROTO" = tcp ]; then
	wait_bound tcp "$SIP_PORT" 10 "$KAM_PID" || { tail -20 "$KAM_LOG" >&2; die "kamailio did not bind tcp:$SIP_PORT"; }
fi
# let the worker processes finish their child_init before traffic starts
sleep 0.5
kill -0 "$KAM_PID" 2>/dev/null || { tail -20 "$KAM_LOG" >&2; die "kamailio exited"; }

# ------------------------------------------------------------------ SIPp
SIPP_TIMEOUT=$((30 + CALLS / RATE))
run_scenario() { # name
	local name="$1" uas_rc=0 uac_rc=0
	local pfx="$WORKDIR/$name"
	log "scenario $name: $CALLS calls"
	sipp -sf "$HERE/uas_$name.xml" -i 127.0.0.1 -p "$UAS_PORT" -t u1 \
		-m "$CALLS" -timeout "${SIPP_TIMEOUT}s" -timeout_error -nostdin \
		-trace_msg -message_file "${pfx}_uas_messages.log" \
		-trace_shortmsg -shortmessage_file "${pfx}_uas_short.log" \
		-trace_err -error_file "${pfx}_uas_errors.log" \
		-trace_stat -stf "${pfx}_uas_stat.csv" \
		>"${pfx}_uas.out" 2>&1 &
	UAS_PID=$!
	if ! wait_bound udp "$UAS_PORT" 10 "$UAS_PID"; then
		tail -20 "${pfx}_uas.out" >&2
		die "SIPp UAS did not bind udp:$UAS_PORT"
	fi
	sipp "127.0.0.1:$SIP_PORT" -sf "$HERE/uac_$name.xml" -i 127.0.0.1 -p "$UAC_PORT" -t u1 \
		-s service -key uas_hostport "127.0.0.1:$UAS_PORT" \
		-m "$CALLS" -r "$RATE" -l "$CALLS" -timeout "${SIPP_TIMEOUT}s" -timeout_error -nostdin \
		-trace_msg -message_file "${pfx}_uac_messages.log" \
		-trace_shortmsg -shortmessage_file "${pfx}_uac_short.log" \
		-trace_err -error_file "${pfx}_uac_errors.log" \
		-trace_stat -stf "${pfx}_uac_stat.csv" \
		>"${pfx}_uac.out" 2>&1 || uac_rc=$?
	wait "$UAS_PID" || uas_rc=$?
	UAS_PID=""
	log "scenario $name: uac rc=$uac_rc uas rc=$uas_rc"
	eval "RC_${name}_uac=$uac_rc RC_${name}_uas=$uas_rc"
}

for s in answer busy cancel; do
	run_scenario "$s"
done

# Every SIPp peer has its final message; give Kamailio's workers a moment
# to finish the HEP copies of the last ones, then stop it.
sleep 0.3
KAM_ALIVE=1
kill -0 "$KAM_PID" 2>/dev/null || KAM_ALIVE=0
kill -TERM "$KAM_PID" 2>/dev/null || true
for _ in $(seq 1 50); do kill -0 "$KAM_PID" 2>/dev/null || break; sleep 0.1; done
wait "$KAM_PID" 2>/dev/null || true
KAM_PID=""

if [ "$CAPTURE" = 1 ]; then
	# dumpcap flushes the last packets when it stops
	kill -INT "$CAP_PID" 2>/dev/null || true
	wait "$CAP_PID" 2>/dev/null || true
	CAP_PID=""
fi

# --------------------------------------------------------------- summary
SUMMARY_RC=0
python3 "$HERE/summary.py" \
	--workdir "$WORKDIR" --mode "$MODE" --calls "$CALLS" \
	--sip-port "$SIP_PORT" --uas-port "$UAS_PORT" --uac-port "$UAC_PORT" \
	--hep "$HEP_PROTO:$HEP_HOST:$HEP_PORT" --capture-id "$HEP_CAPTURE_ID" \
	--pcap "$([ "$CAPTURE" = 1 ] && echo "$PCAP")" \
	--kamailio-alive "$KAM_ALIVE" --start "$T_START" \
	--kamailio-version "$(kamailio -v 2>/dev/null | head -1 | sed -e 's/^version: //' -e 's/ *$//')" \
	--sipp-version "$(sipp -v 2>&1 | grep -o 'SIPp v[^ ,]*' | head -1)" \
	--sipp-rc "answer_uac=$RC_answer_uac,answer_uas=$RC_answer_uas,busy_uac=$RC_busy_uac,busy_uas=$RC_busy_uas,cancel_uac=$RC_cancel_uac,cancel_uas=$RC_cancel_uas" \
	|| SUMMARY_RC=$?
exit "$SUMMARY_RC"
