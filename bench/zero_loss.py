#!/usr/bin/env python3
"""Zero-loss measurement of the callweave agent, and of Kamailio sipcapture
(PostgreSQL) side by side, driven by callweave-loadgen.

Everything runs on 127.0.0.1, every process is started and stopped here, and
every phase is bounded in time. Results go to OUT/results.json (and a line per
step on stdout).

Phases (pick with --phases, comma separated; default: all but esl):
  agent     bounded search for the agent's zero-loss rate
  cost      CPU / peak RSS at 10%, 50%, 100% of that rate, trace latency under load
  sustain   that rate held for --sustain-seconds (default 150): past the calls'
            linger (30 s) and the correlator's cap, where every call also
            writes its summary and the index merges ever larger segments;
            10% lower, twice at most (--sustain-tries), until a run passes
  active    memory with 100k active (answered, never hung up) calls
  overload  5x the zero-loss rate, then a normal-rate run on the same agent
  esl       the zero-loss rate with ESL events for the same calls
  peer      the same bounded search for Kamailio sipcapture into PostgreSQL

A step passes ("zero loss") when:
  agent: loadgen sent == callweave_hep_packets_total{transport="udp"|"tcp"},
         the agent socket's kernel drops (/proc/net/udp) == 0 (UDP),
         every callweave_dropped_total{stage} == 0, no decode errors, and
         callweave_indexed_records_total{source="sip"} == sent after draining;
  peer:  rows in sip_capture == sent, and the Kamailio socket's kernel drops == 0.
In both, the generator must have reached >= 90% of the asked rate (otherwise
the step measures the generator, and says so); the figure reported for a step
is the rate achieved, not the rate asked.

--transport tcp sends HEP over one TCP connection instead of UDP datagrams
(the agent's TCP listener on the same port; the peer is measured over UDP
only: Kamailio 5.6's `tcp_accept_hep3` did not take the generator's stream).
TCP loses nothing in the kernel: a receiver that falls behind pushes back, the
generator falls behind its schedule and skips what it could not send
(`behind_skipped`). Over TCP a step therefore also requires
behind_skipped == 0: every message due was written.
"""
import argparse
import atexit
import json
import multiprocessing
import os
import queue
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import http.client

HERE = os.path.dirname(os.path.abspath(__file__))
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
MSGS_PER_CALL = 0.8 * 14 + 0.1 * 8 + 0.1 * 14  # the loadgen's default mix
# A step whose generator reached less than this share of the asked rate measures
# the generator (or a starved CPU), not the collector: it does not pass.
GENERATOR_MIN = 0.9
# Stages that lose a message (a record never indexed). `correlator_evicted`
# counts calls pushed out of memory early (their records are still indexed) and
# `loki_queue` entries not pushed to Loki (still indexed locally).
RECORD_STAGES = ("pipeline", "index", "shutdown")

STARTED = []  # Popen objects to stop at exit


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


# ---------------------------------------------------------------- /proc helpers

def proc_cpu_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime (fields 14, 15)
    except (OSError, IndexError, ValueError):
        return 0


def proc_status(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def children_of(pid):
    """pid and all its descendants."""
    out, todo = [], [pid]
    by_parent = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            by_parent.setdefault(ppid, []).append(int(d))
        except (OSError, IndexError, ValueError):
            pass
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(by_parent.get(p, []))
    return out


def proc_net_rows(proto, port):
    """The rows of /proc/net/{proto,proto6} (udp, tcp) of the sockets whose local
    port is `port`, split into columns."""
    for path in (f"/proc/net/{proto}", f"/proc/net/{proto}6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if int(parts[1].rsplit(":", 1)[1], 16) == port:
                        yield parts
        except OSError:
            pass


def udp_socket_drops(port):
    """Sum of the drops column of the UDP sockets bound to `port` (v4 and v6)."""
    rows = list(proc_net_rows("udp", port))
    return sum(int(parts[-1]) for parts in rows) if rows else None


def tcp_listening(port):
    """Whether a TCP socket listens on `port` (v4 or v6): state 0A."""
    return any(parts[3] == "0A" for parts in proc_net_rows("tcp", port))


def wait_bound(transport, port, timeout=30):
    """Waits until `port` is bound for `transport` (udp, tcp)."""
    until = time.time() + timeout
    while time.time() < until:
        if (tcp_listening(port) if transport == "tcp" else udp_socket_drops(port) is not None):
            return True
        time.sleep(0.1)
    return False


def snmp_udp():
    with open("/proc/net/snmp") as f:
        lines = [l.split() for l in f if l.startswith("Udp:")]
    return dict(zip(lines[0][1:], map(int, lines[1][1:])))


def socket_rcvbuf(port):
    """The kernel receive buffer of the socket on `port`, from `ss -uamn`."""
    try:
        out = subprocess.run(["ss", "-uamnH", f"sport = :{port}"], capture_output=True,
                             text=True, timeout=5).stdout
        m = re.search(r"rb(\d+)", out)
        return int(m.group(1)) if m else None
    except (OSError, subprocess.SubprocessError):
        return None


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


class RssSampler:
    """Samples the summed RSS of a set of processes; keeps the peak, and the peak
    of its anonymous part (RssAnon: heap and stacks, without the mapped index
    files, whose pages the kernel can drop)."""

    def __init__(self, pids_fn, every=0.25):
        self.pids_fn, self.every = pids_fn, every
        self.peak = 0
        self.peak_anon = 0
        self.samples = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop.is_set():
            pids = self.pids_fn()
            total = sum(proc_status(p, "VmRSS") for p in pids)
            self.peak = max(self.peak, total)
            self.peak_anon = max(self.peak_anon, sum(proc_status(p, "RssAnon") for p in pids))
            self.samples.append((time.time(), total))
            self._stop.wait(self.every)

    def stop(self):
        self._stop.set()
        self._t.join()
        return self.peak


# ---------------------------------------------------------------- processes

def start(cmd, logfile, **kw):
    lf = open(logfile, "wb")
    p = subprocess.Popen(cmd, stdout=lf, stderr=subprocess.STDOUT, start_new_session=True, **kw)
    p._logfile = lf
    STARTED.append(p)
    return p


def stop(p, timeout=20):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)
    try:
        p._logfile.close()
    except Exception:
        pass
    if p in STARTED:
        STARTED.remove(p)


def stop_all():
    for p in list(STARTED):
        try:
            stop(p, 10)
        except Exception:
            pass


atexit.register(stop_all)


def sent_in_full(args, report):
    """Over TCP a receiver that falls behind pushes back and the generator skips
    what it could not send on time: a TCP step must have skipped nothing. Over
    UDP the kernel drops instead, counted on the socket."""
    return args.transport == "udp" or report["behind_skipped"] == 0


def run_loadgen(args, extra, timeout):
    """Runs the generator; returns (report, cpu_seconds)."""
    # A higher priority keeps the generator on schedule on a busy 2-core box; it
    # needs about 0.1 core per 50k msg/s, so it takes little from the agent.
    cmd = ["nice", "-n", str(args.loadgen_nice), args.loadgen, "--transport", args.transport] + extra
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    STARTED.append(p)
    timer = threading.Timer(timeout, p.kill)
    timer.start()
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    timer.cancel()
    STARTED.remove(p)
    if p.returncode != 0:
        raise RuntimeError(f"loadgen failed ({p.returncode}): {err.decode(errors='replace')}")
    return json.loads(out), ru.ru_utime + ru.ru_stime


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read()


def ensure_running(proc, what, logfile):
    """After its port answered: that it was `proc`, not a process left on the
    port by an earlier run (whose counters this run would read as its own)."""
    time.sleep(0.5)
    if proc.poll() is not None:
        raise RuntimeError(f"{what} exited ({proc.returncode}), ports taken? see {logfile}")


def wait_http(url, timeout=30):
    until = time.time() + timeout
    while time.time() < until:
        try:
            if http_get(url, 2)[0] == 200:
                return True
        except Exception:
            pass
        time.sleep(0.1)
    return False


# ---------------------------------------------------------------- agent

METRIC_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+([-+0-9.eEInfa]+)')


def metrics(http_addr):
    _, body = http_get(f"http://{http_addr}/metrics")
    out = {}
    for line in body.decode().splitlines():
        m = METRIC_RE.match(line)
        if not m:
            continue
        name, labels, value = m.group(1), m.group(3) or "", float(m.group(4))
        lab = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        out.setdefault(name, []).append((lab, value))
    return out


def msum(m, name, **want):
    return sum(v for lab, v in m.get(name, []) if all(lab.get(k) == w for k, w in want.items()))


def trace_buckets(m):
    """Cumulative counts of callweave_api_query_seconds{query="trace"} by bucket bound."""
    return {float(lab["le"]) if lab["le"] != "+Inf" else float("inf"): v
            for lab, v in m.get("callweave_api_query_seconds_bucket", [])
            if lab.get("query") == "trace" and "le" in lab}


def bucket_quantile(before, after, q):
    """Upper bound (ms) of the bucket holding quantile q of the observations between
    two snapshots of a cumulative histogram."""
    diff = sorted((le, after.get(le, 0) - before.get(le, 0)) for le in after)
    total = diff[-1][1] if diff else 0
    if not total:
        return None
    for le, n in diff:
        if n >= q * total:
            return None if le == float("inf") else round(le * 1000, 3)
    return None


def by_label(m, name, key):
    return {lab.get(key, ""): v for lab, v in m.get(name, []) if v}


class Agent:
    def __init__(self, args, tag, esl=False, correlation=None):
        self.args = args
        self.dir = os.path.join(args.out, "runs", tag)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.hep_port = args.agent_port
        self.http = f"127.0.0.1:{args.agent_http_port}"
        corr = correlation or {}
        lines = [
            "[node]", 'name = "bench"', f"api_realtime_priority = {args.api_realtime}",
            "[hep]", f'udp = ["127.0.0.1:{self.hep_port}"]', f'tcp = ["127.0.0.1:{self.hep_port}"]',
            f'udp_recv_buffer = "{args.udp_recv_buffer}"',
            "[correlation]",
        ]
        for k, v in corr.items():
            lines.append(f"{k} = {json.dumps(v)}")
        lines += [
            "[store]", f'data_dir = "{self.dir}/data"',
            f"full_text = {'true' if args.full_text else 'false'}",
            "[http]", f'listen = "{self.http}"',
        ]
        if args.loki:
            lines += ["[loki]", f'url = "http://{args.loki_addr}"', f'spool_dir = "{self.dir}/spool"']
        if esl:
            lines += ["[[esl]]", f'address = "127.0.0.1:{args.esl_port}"', 'password = "ClueCon"', 'format = "json"']
        self.config = os.path.join(self.dir, "agent.toml")
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")
        env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "warn"))
        self.proc = start([args.agent, "agent", "--config", self.config], os.path.join(self.dir, "agent.log"), env=env)
        self.pid = self.proc.pid
        if not wait_http(f"http://{self.http}/healthz", 30) or not wait_bound(args.transport, self.hep_port):
            raise RuntimeError(f"agent did not start, see {self.dir}/agent.log")
        ensure_running(self.proc, "agent", f"{self.dir}/agent.log")
        self.rss = RssSampler(lambda: [self.pid])

    def metrics(self):
        return metrics(self.http)

    def snapshot(self):
        m = self.metrics()
        return {
            "hep_received": msum(m, "callweave_hep_packets_total", transport=self.args.transport),
            "sip_messages": msum(m, "callweave_sip_messages_total"),
            "records_sip": msum(m, "callweave_records_total", source="sip"),
            "records_esl": msum(m, "callweave_records_total", source="esl"),
            "indexed_sip": msum(m, "callweave_indexed_records_total", source="sip"),
            "indexed_esl": msum(m, "callweave_indexed_records_total", source="esl"),
            "dropped": by_label(m, "callweave_dropped_total", "stage"),
            "decode_errors": by_label(m, "callweave_hep_decode_errors_total", "reason"),
            "queue_depth": msum(m, "callweave_pipeline_queue_depth"),
            "active_calls": msum(m, "callweave_active_calls"),
            "trace_buckets": trace_buckets(m),
            "socket_drops": udp_socket_drops(self.hep_port) or 0,
            "cpu_ticks": proc_cpu_ticks(self.pid),
            "time": time.time(),
        }

    def drain(self, timeout=30):
        """Waits until the pipeline has caught up (indexed count stable, queue empty)."""
        until = time.time() + timeout
        last, stable = None, 0
        while time.time() < until:
            s = self.snapshot()
            key = (s["indexed_sip"], s["indexed_esl"], sum(s["dropped"].values()))
            if key == last and s["queue_depth"] == 0:
                stable += 1
                if stable >= 3:
                    return s
            else:
                stable = 0
            last = key
            time.sleep(0.5)
        return self.snapshot()

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        peak_sampled = self.rss.stop()
        hwm = proc_status(self.pid, "VmHWM")
        stop(self.proc)
        return {"vm_hwm": hwm, "rss_peak_sampled": peak_sampled, "rss_anon_peak_sampled": self.rss.peak_anon}


def delta(a, b):
    d = {}
    for k in ("hep_received", "sip_messages", "records_sip", "records_esl", "indexed_sip", "indexed_esl", "socket_drops"):
        d[k] = b[k] - a[k]
    for k in ("dropped", "decode_errors"):
        keys = set(a[k]) | set(b[k])
        d[k] = {x: b[k].get(x, 0) - a[k].get(x, 0) for x in keys if b[k].get(x, 0) - a[k].get(x, 0)}
    d["cpu_seconds"] = (b["cpu_ticks"] - a["cpu_ticks"]) / CLK_TCK
    d["wall_seconds"] = b["time"] - a["time"]
    return d


def _trace_probe(http_addr, run_id, rate, queries, span, lag, t0, floor, out):
    """The probe's loop, in a process of its own: in the harness's process it
    shared the interpreter lock with the samplers, and a query could wait up to a
    switch interval (5 ms) for it after the agent had answered.

    With `floor`, a `GET /healthz` (a handler that does nothing) follows each
    trace query half a gap later: the same client, connection and load, so its
    latency is the floor of any HTTP round trip to the agent at that moment,
    and what the trace adds to it is the trace's own."""
    lat, floor_lat, errors, floor_errors, legs = [], [], 0, 0, []
    host, port = http_addr.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    time.sleep(max(0.0, t0 + lag + 0.5 - time.time()))
    gap = max(0.0, (span - lag - 1.0) / queries)
    rng = random.Random(run_id)

    def get(path):
        """(seconds, body) of one 200 answer, None otherwise."""
        nonlocal conn
        t = time.perf_counter()
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            body = r.read()
            dt = time.perf_counter() - t
            return (dt, body) if r.status == 200 else None
        except Exception:
            conn.close()
            conn = http.client.HTTPConnection(host, int(port), timeout=10)
            return None

    for _ in range(queries):
        elapsed = time.time() - t0 - lag
        max_seq = int(rate * max(elapsed, 0.1) / MSGS_PER_CALL)
        seq = rng.randrange(max(1, max_seq))
        call_id = "lg-%012x-a@192.0.2.10" % ((run_id << 32) | seq)
        got = get("/api/v1/trace/" + urllib.parse.quote(call_id, safe=""))
        if got is None:
            errors += 1
        else:
            lat.append(got[0])
            try:
                legs.append(len(json.loads(got[1]).get("legs", [])))
            except ValueError:
                pass
        if floor:
            time.sleep(gap / 2)
            got = get("/healthz")
            if got is None:
                floor_errors += 1
            else:
                floor_lat.append(got[0])
            time.sleep(gap / 2)
        else:
            time.sleep(gap)
    out.put((lat, errors, legs, floor_lat, floor_errors))


def _percentiles(samples):
    """p50 / p90 / p99 / max in ms of latencies in seconds."""
    lat = sorted(samples)

    def pct(p):
        if not lat:
            return None
        return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 3)

    return {"p50_ms": pct(0.50), "p90_ms": pct(0.90), "p99_ms": pct(0.99),
            "max_ms": round(lat[-1] * 1000, 3) if lat else None}


def _trace_result(client, queries, floor, lat, errors, legs, floor_lat, floor_errors):
    """A cost-curve step's trace figures from a probe's raw latencies (s)."""
    res = {"client": client, "queries": queries, "ok": len(lat), "errors": errors}
    res.update(_percentiles(lat))
    res["two_legs"] = sum(1 for n in legs if n >= 2)
    if floor:
        res["healthz"] = dict(_percentiles(floor_lat), ok=len(floor_lat), errors=floor_errors)
    return res


class TraceProbe:
    """Queries /api/v1/trace/{A-leg Call-ID} for calls sent at least `lag` s ago,
    from a child process (see `_trace_probe`); with `floor`, /healthz between
    them."""

    def __init__(self, http_addr, run_id, rate, queries, span, lag=2.5, floor=False):
        self.queries, self.span, self.floor = queries, span, floor
        ctx = multiprocessing.get_context("spawn")
        self._out = ctx.Queue()
        self._p = ctx.Process(target=_trace_probe, daemon=True,
                              args=(http_addr, run_id, rate, queries, span, lag, time.time(), floor,
                                    self._out))
        self._p.start()

    def result(self):
        try:
            lat, errors, legs, floor_lat, floor_errors = self._out.get(timeout=self.span + 30)
        except queue.Empty:
            # The probe never reported: every request counts as failed.
            lat, errors, legs, floor_lat, floor_errors = [], self.queries, [], [], self.queries
        self._p.join(timeout=5)
        return _trace_result("python", self.queries, self.floor, lat, errors, legs, floor_lat, floor_errors)


class RustTraceProbe:
    """The same queries as `TraceProbe`, sent by `callweave-trace-probe`: one
    keep-alive HTTP/1.1 connection driven on one thread, as `callweave trace`
    talks to the agent. The Python client added its interpreter's own
    wake-ups to every figure (0.2-0.25 ms at the median, alternated side by
    side; BENCHMARKS.md), and the operator's client is not Python."""

    def __init__(self, binary, http_addr, run_id, rate, queries, span, lag=2.5, floor=False, realtime=0):
        self.queries, self.span, self.floor = queries, span, floor
        cmd = (["chrt", "-f", str(realtime)] if realtime else []) + [binary, "--agent", http_addr, "--run-id", str(run_id),
               "--calls-per-second", str(rate / MSGS_PER_CALL), "--queries", str(queries),
               "--span", str(span), "--lag", str(lag)] + (["--floor"] if floor else [])
        self._p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def result(self):
        try:
            out, err = self._p.communicate(timeout=self.span + 30)
            r = json.loads(out) if self._p.returncode == 0 else None
            if r is None:
                print(f"    trace probe failed ({self._p.returncode}): {err.strip()[:300]}", flush=True)
        except (subprocess.TimeoutExpired, ValueError):
            self._p.kill()
            self._p.communicate()
            r = None
        if r is None:
            # The probe never reported: every request counts as failed.
            r = {"trace_seconds": [], "trace_errors": self.queries, "legs": [],
                 "healthz_seconds": [], "healthz_errors": self.queries if self.floor else 0}
        res = _trace_result("rust", self.queries, self.floor, r["trace_seconds"], r["trace_errors"], r["legs"],
                            r["healthz_seconds"], r["healthz_errors"])
        res["not_found"] = r.get("trace_not_found", 0)
        return res


def trace_probe(args, http_addr, run_id, rate, queries, span):
    """The trace probe the run asked for (`--probe-client`)."""
    if args.probe_client == "python":
        return TraceProbe(http_addr, run_id, rate, queries, span, floor=args.http_floor)
    return RustTraceProbe(args.trace_probe, http_addr, run_id, rate, queries, span, floor=args.http_floor,
                          realtime=args.probe_realtime)


def agent_step(args, rate, tag, duration=None, trace_queries=0, esl=False, correlation=None, extra=None):
    duration = duration or args.step_seconds
    la = loadavg()
    agent = Agent(args, tag, esl=esl, correlation=correlation)
    loki0 = loki_stats(args)
    before = agent.snapshot()
    run_id = random.randrange(1, 65535)
    lg = ["--target", f"127.0.0.1:{agent.hep_port}", "--rate", str(rate), "--duration", str(duration),
          "--run-id", str(run_id), "--threads", str(args.threads), "--batch", str(args.batch)]
    if esl:
        lg += ["--esl-listen", f"127.0.0.1:{args.esl_port}"]
    lg += extra or []
    probe = trace_probe(args, agent.http, run_id, rate, trace_queries, duration) if trace_queries else None
    report, lg_cpu = run_loadgen(args, lg, duration + 120)
    during = agent.snapshot()
    trace = probe.result() if probe else None
    trace_hist = trace_buckets(agent.metrics()) if probe else None
    after = agent.drain()
    alive = agent.alive()
    mem = agent.stop()
    loki1 = loki_stats(args)
    send = delta(before, during)
    total = delta(before, after)
    sent = report["messages"]
    ok = (alive and report["send_errors"] == 0
          and total["hep_received"] == sent and total["socket_drops"] == 0
          and sent_in_full(args, report)
          and not any(v for k, v in total["dropped"].items() if k != "correlator_evicted")
          and not total["decode_errors"]
          and total["indexed_sip"] == sent)
    generator_ok = report["achieved_rate"] >= GENERATOR_MIN * rate
    res = {
        "tag": tag, "rate": rate, "achieved_rate": round(report["achieved_rate"]),
        "pass": ok and generator_ok, "zero_loss": ok,
        "generator_kept_up": generator_ok, "loadavg_before": la,
        "loadgen": {k: report[k] for k in ("messages", "bytes", "calls_started", "achieved_rate", "elapsed_s",
                                            "send_errors", "behind_skipped", "mean_packet_bytes", "esl")},
        "loadgen_cpu_cores": round(lg_cpu / max(report["elapsed_s"], 1e-9), 3),
        "agent": {
            "received": total["hep_received"], "indexed_sip": total["indexed_sip"], "indexed_esl": total["indexed_esl"],
            "records_esl": total["records_esl"],
            "socket_drops": total["socket_drops"], "dropped": total["dropped"],
            "decode_errors": total["decode_errors"],
            "cpu_cores_while_sending": round(send["cpu_seconds"] / max(send["wall_seconds"], 1e-9), 3),
            "cpu_seconds_total": round(total["cpu_seconds"], 2),
            "cpu_us_per_message": round(total["cpu_seconds"] * 1e6 / max(sent, 1), 2),
            "drain_seconds": round(after["time"] - during["time"], 1),
            "active_calls_end": after["active_calls"],
            "vm_hwm_mib": round(mem["vm_hwm"] / 2**20, 1),
            "rss_peak_sampled_mib": round(mem["rss_peak_sampled"] / 2**20, 1),
            "rss_anon_peak_sampled_mib": round(mem["rss_anon_peak_sampled"] / 2**20, 1),
            "alive": alive,
        },
        "loki": {"pushes": loki1["pushes"] - loki0["pushes"], "bytes": loki1["bytes"] - loki0["bytes"]} if loki1 else None,
    }
    if trace:
        # The agent's own view: time in the index and assembling the answer,
        # as bucket upper bounds (the client's figures add HTTP and scheduling).
        trace["agent_p50_ms_le"] = bucket_quantile(before["trace_buckets"], trace_hist, 0.50)
        trace["agent_p99_ms_le"] = bucket_quantile(before["trace_buckets"], trace_hist, 0.99)
        res["trace"] = trace
    log(f"agent {tag}: rate={rate:.0f} sent={sent} recv={total['hep_received']:.0f} indexed={total['indexed_sip']:.0f} "
        f"sockdrops={total['socket_drops']} dropped={total['dropped']} cpu={res['agent']['cpu_cores_while_sending']} "
        f"hwm={res['agent']['vm_hwm_mib']}MiB achieved={report['achieved_rate']:.0f} load={la[0]} "
        f"-> {'PASS' if res['pass'] else 'FAIL'}" + (f" trace={trace}" if trace else ""))
    return res


def loki_stats(args):
    if not args.loki:
        return None
    try:
        return json.loads(http_get(f"http://{args.loki_addr}/stats")[1])
    except Exception:
        return None


# ---------------------------------------------------------------- search

def search(step_fn, args, label):
    """Doubling from --start-rate until a step fails, then bisection."""
    steps = []
    rate, good, bad = args.start_rate, None, None
    while rate <= args.max_rate:
        r = step_fn(rate, f"{label}-{len(steps):02d}-{int(rate)}")
        steps.append(r)
        if r["pass"]:
            good = rate
            rate *= 2
        else:
            bad = rate
            break
    if good is None and bad is not None:
        # Even the start rate failed: go down.
        hi = bad
        rate = bad / 2
        while rate >= args.start_rate / 16:
            r = step_fn(rate, f"{label}-{len(steps):02d}-{int(rate)}")
            steps.append(r)
            if r["pass"]:
                good = rate
                break
            hi = rate
            rate /= 2
        bad = hi
    if good is not None and bad is not None:
        for _ in range(args.bisect_steps):
            mid = round((good + bad) / 2, -2)
            if mid in (good, bad):
                break
            r = step_fn(mid, f"{label}-{len(steps):02d}-{int(mid)}")
            steps.append(r)
            if r["pass"]:
                good = mid
            else:
                bad = mid
    achieved = max((st["achieved_rate"] for st in steps if st["pass"]), default=None)
    return {"zero_loss_rate": good, "zero_loss_rate_achieved": achieved, "first_failing_rate": bad,
            "steps": steps}


# ---------------------------------------------------------------- peer

class Postgres:
    def __init__(self, args):
        self.args = args
        self.dir = os.path.join(args.pg_dir, "data")
        self.sock = os.path.join(args.pg_dir, "sock")
        self.bin = args.pg_bin
        self.port = args.pg_port
        if os.path.exists(args.pg_dir):
            subprocess.run(["su", "postgres", "-c", f"{self.bin}/pg_ctl -D {self.dir} -m immediate stop"],
                           capture_output=True)
            shutil.rmtree(args.pg_dir)
        os.makedirs(self.sock)
        shutil.chown(args.pg_dir, "postgres", "postgres")
        shutil.chown(self.sock, "postgres", "postgres")
        self._su(f"{self.bin}/initdb -D {self.dir} -A trust -U postgres --no-sync >/dev/null")
        with open(os.path.join(self.dir, "postgresql.conf"), "a") as f:
            # Durable enough for a capture store, and what Homer setups use:
            # commits do not wait for the WAL flush.
            f.write(f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
                    f"unix_socket_directories = '{self.sock}'\nsynchronous_commit = off\n"
                    "shared_buffers = 256MB\nmax_connections = 200\nfsync = on\n")
        self._su(f"{self.bin}/pg_ctl -D {self.dir} -l {args.pg_dir}/pg.log -w start >/dev/null")
        self.sql("postgres", "CREATE ROLE homer LOGIN PASSWORD 'homer'")
        self.sql("postgres", "CREATE DATABASE homer_data OWNER homer")
        with open(os.path.join(HERE, "kamailio", "sip_capture.sql")) as f:
            self.sql("homer_data", f.read(), user="homer")
        self.pid = int(open(os.path.join(self.dir, "postmaster.pid")).readline())

    def _su(self, cmd):
        subprocess.run(["su", "postgres", "-c", cmd], check=True)

    def sql(self, db, q, user="postgres"):
        r = subprocess.run(["psql", "-h", self.sock, "-p", str(self.port), "-U", user, "-d", db,
                            "-v", "ON_ERROR_STOP=1", "-qAt", "-c", q], capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"psql: {r.stderr}")
        return r.stdout.strip()

    def count(self):
        return int(self.sql("homer_data", "SELECT count(*) FROM sip_capture", user="homer") or 0)

    def pids(self):
        return children_of(self.pid)

    def stop(self):
        subprocess.run(["su", "postgres", "-c", f"{self.bin}/pg_ctl -D {self.dir} -m fast -w stop"],
                       capture_output=True)


class Kamailio:
    def __init__(self, args, tag, pg):
        self.dir = os.path.join(args.out, "runs", tag)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.port = args.peer_port
        with open(os.path.join(HERE, "kamailio", "sipcapture.cfg")) as f:
            cfg = f.read()
        cfg = (cfg.replace("@CHILDREN@", str(args.peer_children))
               .replace("@HEP_ADDR@", f"127.0.0.1:{self.port}")
               .replace("@DB_URL@", f"postgres://homer:homer@127.0.0.1:{pg.port}/homer_data")
               .replace("@INSERT_MODE@", str(args.peer_insert_mode))
               .replace("@ASYNC_WORKERS@", str(args.peer_async_workers)))
        self.cfg = os.path.join(self.dir, "kamailio.cfg")
        with open(self.cfg, "w") as f:
            f.write(cfg)
        self.proc = start([args.kamailio, "-f", self.cfg, "-DD", "-E", "-m", "512", "-M", "32",
                           "-Y", self.dir], os.path.join(self.dir, "kamailio.log"))
        self.pid = self.proc.pid
        if not wait_bound("udp", self.port, 30):
            raise RuntimeError(f"kamailio did not start, see {self.dir}/kamailio.log")
        time.sleep(1.0)  # children connect to the database
        if self.proc.poll() is not None:
            raise RuntimeError(f"kamailio exited, see {self.dir}/kamailio.log")
        self.rss = RssSampler(lambda: children_of(self.pid))

    def stop(self):
        peak = self.rss.stop()
        stop(self.proc)
        return peak


def peer_step(args, pg, rate, tag, duration=None):
    duration = duration or args.step_seconds
    la = loadavg()
    pg.sql("homer_data", "TRUNCATE sip_capture", user="homer")
    kam = Kamailio(args, tag, pg)
    rcvbuf = socket_rcvbuf(kam.port)
    pg_rss = RssSampler(pg.pids)
    drops0 = udp_socket_drops(kam.port) or 0
    kpids, ppids = children_of(kam.pid), pg.pids()
    k0 = sum(proc_cpu_ticks(p) for p in kpids)
    p0 = sum(proc_cpu_ticks(p) for p in ppids)
    t0 = time.time()
    lg = ["--target", f"127.0.0.1:{kam.port}", "--rate", str(rate), "--duration", str(duration),
          "--run-id", str(random.randrange(1, 65535)), "--threads", str(args.threads), "--batch", str(args.batch)]
    report, lg_cpu = run_loadgen(args, lg, duration + 120)
    t1 = time.time()
    k1 = sum(proc_cpu_ticks(p) for p in kpids)
    p1 = sum(proc_cpu_ticks(p) for p in pg.pids())
    # Drain: rows stop growing.
    until, last, stable, rows = time.time() + args.peer_drain, -1, 0, 0
    while time.time() < until:
        rows = pg.count()
        if rows == last:
            stable += 1
            if stable >= 3:
                break
        else:
            stable = 0
        last = rows
        time.sleep(1.0)
    t2 = time.time()
    k2 = sum(proc_cpu_ticks(p) for p in kpids)
    p2 = sum(proc_cpu_ticks(p) for p in pg.pids())
    drops = (udp_socket_drops(kam.port) or 0) - drops0
    alive = kam.proc.poll() is None
    kam_peak = kam.stop()
    pg_peak = pg_rss.stop()
    sent = report["messages"]
    ok = alive and report["send_errors"] == 0 and rows == sent and drops == 0
    generator_ok = report["achieved_rate"] >= GENERATOR_MIN * rate
    send_wall = max(t1 - t0, 1e-9)
    res = {
        "tag": tag, "rate": rate, "achieved_rate": round(report["achieved_rate"]),
        "pass": ok and generator_ok, "zero_loss": ok, "generator_kept_up": generator_ok,
        "loadavg_before": la,
        "loadgen": {k: report[k] for k in ("messages", "bytes", "calls_started", "achieved_rate", "elapsed_s",
                                            "send_errors", "behind_skipped", "mean_packet_bytes")},
        "loadgen_cpu_cores": round(lg_cpu / max(report["elapsed_s"], 1e-9), 3),
        "peer": {
            "rows": rows, "socket_drops": drops, "rcvbuf": rcvbuf, "alive": alive,
            "kamailio_cpu_cores_while_sending": round((k1 - k0) / CLK_TCK / send_wall, 3),
            "postgres_cpu_cores_while_sending": round((p1 - p0) / CLK_TCK / send_wall, 3),
            "cpu_seconds_total": round((k2 - k0 + p2 - p0) / CLK_TCK, 2),
            "cpu_us_per_message": round((k2 - k0 + p2 - p0) / CLK_TCK * 1e6 / max(sent, 1), 2),
            "drain_seconds": round(t2 - t1, 1),
            "kamailio_rss_peak_mib": round(kam_peak / 2**20, 1),
            "postgres_rss_peak_mib": round(pg_peak / 2**20, 1),
        },
    }
    log(f"peer {tag}: rate={rate:.0f} sent={sent} rows={rows} sockdrops={drops} "
        f"cpu k={res['peer']['kamailio_cpu_cores_while_sending']} pg={res['peer']['postgres_cpu_cores_while_sending']} "
        f"achieved={report['achieved_rate']:.0f} load={la[0]} -> {'PASS' if res['pass'] else 'FAIL'}")
    return res


# ---------------------------------------------------------------- phases

def machine():
    def sh(c):
        try:
            return subprocess.run(c, shell=True, capture_output=True, text=True, timeout=10).stdout.strip()
        except Exception:
            return ""
    return {
        "nproc": sh("nproc"),
        "cpu": sh("lscpu | sed -n 's/^Model name:[ \\t]*//p'"),
        "mem": sh("free -h | awk '/^Mem:/ {print $2}'"),
        "kernel": sh("uname -r"),
        "rmem_max": sh("sysctl -n net.core.rmem_max"),
        "rmem_default": sh("sysctl -n net.core.rmem_default"),
        "uptime": sh("uptime"),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--agent", required=True, help="callweave binary")
    ap.add_argument("--loadgen", required=True, help="callweave-loadgen binary")
    ap.add_argument("--out", default="/tmp/callweave-bench")
    ap.add_argument("--phases", default="agent,sustain,cost,active,overload,peer")
    ap.add_argument("--step-seconds", type=float, default=15)
    ap.add_argument("--start-rate", type=float, default=20000)
    ap.add_argument("--max-rate", type=float, default=1280000)
    ap.add_argument("--bisect-steps", type=int, default=4)
    ap.add_argument("--zero-loss-rate", type=float, help="skip the agent search, use this rate")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--loadgen-nice", type=int, default=-10)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--transport", choices=("udp", "tcp"), default="udp",
                    help="HEP to the agent over UDP datagrams or one TCP connection (the peer is UDP only)")
    ap.add_argument("--rmem-max", type=int, default=0, help="set net.core.rmem_max for the run (restored after)")
    ap.add_argument("--udp-recv-buffer", default="8MiB")
    ap.add_argument("--agent-port", type=int, default=19060)
    ap.add_argument("--agent-http-port", type=int, default=19070)
    ap.add_argument("--esl-port", type=int, default=18021)
    ap.add_argument("--loki", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--full-text", action=argparse.BooleanOptionalAction, default=True,
                    help="index every record's full text (store.full_text); --no-full-text measures without it")
    ap.add_argument("--loki-addr", default="127.0.0.1:13100")
    ap.add_argument("--trace-queries", type=int, default=1000,
                    help="trace queries per cost-curve step, spread over it (a p99 of 200 was the second-worst query)")
    ap.add_argument("--api-realtime", type=int, default=0,
                    help="the agent's [node] api_realtime_priority: SCHED_FIFO priority of its API threads "
                         "(0, the default, leaves them at normal priority; needs root or CAP_SYS_NICE)")
    ap.add_argument("--probe-client", choices=("rust", "python"), default="rust",
                    help="who sends the trace queries: callweave-trace-probe (one thread, as `callweave "
                         "trace`), or the Python client every run before 2026-11-27 used")
    ap.add_argument("--probe-realtime", type=int, default=0,
                    help="run callweave-trace-probe under SCHED_FIFO at this priority (chrt): its own wake-ups "
                         "then no longer wait for the busy cores, and what is left of the tail is the agent's")
    ap.add_argument("--trace-probe", help="callweave-trace-probe binary (default: beside --loadgen)")
    ap.add_argument("--http-floor", action="store_true",
                    help="in the cost curve, a GET /healthz half-way between trace queries: the floor "
                         "of any HTTP round trip to the agent under the same load (the agent then answers "
                         "a request every half gap instead of every gap)")
    ap.add_argument("--active-calls", type=int, default=100000)
    ap.add_argument("--active-rate", type=float, default=0, help="default: half the zero-loss rate")
    ap.add_argument("--sustain-seconds", type=float, default=150,
                    help="sustain phase: how long the zero-loss rate is held")
    ap.add_argument("--sustain-tries", type=int, default=3,
                    help="sustain phase: runs at most, each 10%% below the one that failed")
    ap.add_argument("--overload-factor", type=float, default=5)
    ap.add_argument("--overload-seconds", type=float, default=60)
    ap.add_argument("--kamailio", default="/usr/sbin/kamailio")
    ap.add_argument("--peer-port", type=int, default=19062)
    ap.add_argument("--peer-children", type=int, default=4)
    ap.add_argument("--peer-insert-mode", type=int, default=0)
    ap.add_argument("--peer-async-workers", type=int, default=4)
    ap.add_argument("--peer-start-rate", type=float, default=2500)
    ap.add_argument("--peer-drain", type=float, default=60)
    ap.add_argument("--pg-bin", default="/usr/lib/postgresql/15/bin")
    ap.add_argument("--pg-dir", default="/tmp/callweave-bench-pg")
    ap.add_argument("--pg-port", type=int, default=15499)
    ap.add_argument("--peer-rates", default="", help="comma separated fixed rates instead of a search")
    args = ap.parse_args()
    phases = set(args.phases.split(","))
    if not args.trace_probe:
        args.trace_probe = os.path.join(os.path.dirname(os.path.abspath(args.loadgen)), "callweave-trace-probe")
    if "cost" in phases and args.probe_client == "rust" and not os.access(args.trace_probe, os.X_OK):
        sys.exit(f"no trace probe at {args.trace_probe}: build it (cargo build --release -p callweave-loadgen) "
                 "or pass --trace-probe, or --probe-client python")
    if args.transport == "tcp" and "peer" in phases:
        # Kamailio 5.6.3 (Debian) with tcp_accept_hep3=yes closed the
        # generator's connection at its first HEP packet ("content length not
        # present or unparsable": read as SIP), with one message per write too.
        ap.error("--transport tcp: the peer (Kamailio 5.6 sipcapture) does not take HEP over TCP here; "
                 "measure the peer over UDP")
    os.makedirs(args.out, exist_ok=True)
    results_path = os.path.join(args.out, "results.json")
    results = {}
    if os.path.exists(results_path):
        with open(results_path) as f:
            results = json.load(f)

    def save():
        with open(results_path, "w") as f:
            json.dump(results, f, indent=2)

    old_rmem = None
    if args.rmem_max:
        old_rmem = subprocess.run(["sysctl", "-n", "net.core.rmem_max"], capture_output=True, text=True).stdout.strip()
        subprocess.run(["sysctl", "-qw", f"net.core.rmem_max={args.rmem_max}"], check=True)
        atexit.register(lambda: subprocess.run(["sysctl", "-qw", f"net.core.rmem_max={old_rmem}"]))
    run = machine()
    run["agent_settings"] = {"loki": args.loki, "full_text": args.full_text}
    run["transport"] = args.transport
    results.setdefault("machine_runs", []).append(run)
    save()

    loki = None
    if args.loki:
        loki = start([sys.executable, os.path.join(HERE, "fake_loki.py"), "--listen", args.loki_addr,
                      "--lifetime", "7200"], os.path.join(args.out, "fake_loki.log"))
        if not wait_http(f"http://{args.loki_addr}/ready", 10):
            raise RuntimeError("fake loki did not start")
        ensure_running(loki, "fake loki", os.path.join(args.out, "fake_loki.log"))

    try:
        zl = args.zero_loss_rate or (results.get("agent_search") or {}).get("zero_loss_rate")
        if "agent" in phases and not args.zero_loss_rate:
            log("== agent zero-loss search")
            results["agent_search"] = search(lambda r, t: agent_step(args, r, t), args, "agent")
            save()
            zl = results["agent_search"]["zero_loss_rate"]
            log(f"agent zero-loss rate: {zl}")
        if "sustain" in phases and zl:
            log("== sustained")
            results["sustain"] = sustain(args, zl)
            save()
        if "cost" in phases and zl:
            log("== cost curve")
            curve = []
            for frac in (0.1, 0.5, 1.0):
                curve.append(dict(agent_step(args, round(zl * frac), f"cost-{int(frac * 100)}",
                                             trace_queries=args.trace_queries), fraction=frac))
                results["cost_curve"] = curve
                save()
        if "active" in phases and zl:
            log("== active calls")
            rate = args.active_rate or round(zl / 2)
            n = args.active_calls
            dur = n * 10 / rate + 30
            r = agent_step(args, rate, "active", duration=dur,
                           correlation={"max_active_calls": int(n * 1.5), "idle_ttl": "4h", "linger": "1h"},
                           extra=["--open-calls", "--max-calls", str(n), "--concurrency", "2000"])
            results["active_calls"] = r
            save()
        if "esl" in phases and zl:
            log("== with ESL events")
            results["esl"] = agent_step(args, zl, "esl", esl=True)
            save()
        if "overload" in phases and zl:
            log("== overload")
            results["overload"] = overload(args, zl)
            save()
        if "peer" in phases:
            log("== peer: kamailio sipcapture + postgresql")
            pg = Postgres(args)
            try:
                if args.peer_rates:
                    steps = [peer_step(args, pg, float(r), f"peer-fixed-{r}") for r in args.peer_rates.split(",")]
                    good = max([s["rate"] for s in steps if s["pass"]], default=None)
                    results["peer_search"] = {"zero_loss_rate": good, "steps": steps}
                else:
                    a2 = argparse.Namespace(**vars(args))
                    a2.start_rate = args.peer_start_rate
                    results["peer_search"] = search(lambda r, t: peer_step(args, pg, r, t), a2, "peer")
                results["peer_config"] = {"children": args.peer_children, "insert_mode": args.peer_insert_mode,
                                          "async_workers": args.peer_async_workers}
                save()
            finally:
                pg.stop()
        a = (results.get("agent_search") or {}).get("zero_loss_rate")
        p = (results.get("peer_search") or {}).get("zero_loss_rate")
        if a and p:
            results["ratio_agent_over_peer"] = round(a / p, 2)
            log(f"ratio agent/peer = {results['ratio_agent_over_peer']}")
        save()
    finally:
        if loki:
            stop(loki)
        stop_all()


def sustain(args, zl):
    """The zero-loss rate held for --sustain-seconds; 10% lower each time, for
    --sustain-tries runs at most, until one passes. A search step (15 s) ends
    before the first call's linger does, so it never sees calls' summaries
    written nor the correlator at its cap, nor the merges of a longer run."""
    steps = []
    rate = zl
    for _ in range(max(args.sustain_tries, 1)):
        r = agent_step(args, rate, f"sustain-{int(rate)}", duration=args.sustain_seconds)
        steps.append(r)
        if r["pass"]:
            break
        rate = round(rate * 0.9, -2)
    good = next((st["rate"] for st in steps if st["pass"]), None)
    return {"seconds": args.sustain_seconds, "sustained_rate": good, "steps": steps}


def overload(args, zl):
    """5x the zero-loss rate on one agent, then a normal-rate run on the same agent."""
    rate = zl * args.overload_factor
    agent = Agent(args, "overload")
    res = {"rate": rate, "seconds": args.overload_seconds, "loadavg_before": loadavg()}
    s0 = agent.snapshot()
    health = {"ok": 0, "failed": 0}
    stop_probe = threading.Event()

    def probe():
        while not stop_probe.is_set():
            try:
                health["ok" if http_get(f"http://{agent.http}/healthz", 2)[0] == 200 else "failed"] += 1
            except Exception:
                health["failed"] += 1
            stop_probe.wait(1.0)

    th = threading.Thread(target=probe, daemon=True)
    th.start()
    report, _ = run_loadgen(args, ["--target", f"127.0.0.1:{agent.hep_port}", "--rate", str(rate),
                                   "--duration", str(args.overload_seconds), "--threads", str(args.threads),
                                   "--batch", str(args.batch)], args.overload_seconds + 120)
    s1 = agent.snapshot()
    s2 = agent.drain(60)
    stop_probe.set()
    th.join()
    d = delta(s0, s2)
    sent = report["messages"]
    counted = d["hep_received"] + d["socket_drops"]
    res["overload"] = {
        "sent": sent, "achieved_rate": report["achieved_rate"], "received": d["hep_received"],
        "kernel_socket_drops": d["socket_drops"], "dropped_by_stage": d["dropped"],
        "decode_errors": d["decode_errors"], "indexed_sip": d["indexed_sip"],
        "accounted": counted == sent, "unaccounted": sent - counted,
        "processing_losses_accounted": d["hep_received"] - d["indexed_sip"]
        == sum(v for k, v in d["dropped"].items() if k in RECORD_STAGES),
        "cpu_cores": round(delta(s0, s1)["cpu_seconds"] / max(s1["time"] - s0["time"], 1e-9), 3),
        "rss_peak_mib": round(agent.rss.peak / 2**20, 1),
        "rss_anon_peak_mib": round(agent.rss.peak_anon / 2**20, 1),
        "healthz": dict(health), "alive": agent.alive(),
    }
    log(f"overload: {res['overload']}")
    # Back to normal: the same agent must be lossless again.
    normal = round(zl / 2)
    s3 = agent.snapshot()
    rep2, _ = run_loadgen(args, ["--target", f"127.0.0.1:{agent.hep_port}", "--rate", str(normal),
                                 "--duration", str(args.step_seconds), "--threads", str(args.threads),
                                 "--batch", str(args.batch)], args.step_seconds + 120)
    s4 = agent.drain(60)
    d2 = delta(s3, s4)
    res["recovery"] = {
        "rate": normal, "sent": rep2["messages"], "received": d2["hep_received"], "indexed_sip": d2["indexed_sip"],
        "kernel_socket_drops": d2["socket_drops"], "dropped_by_stage": d2["dropped"],
        "zero_loss": (rep2["messages"] == d2["hep_received"] == d2["indexed_sip"]) and d2["socket_drops"] == 0
        and sent_in_full(args, rep2)
        and not any(d2["dropped"].get(k) for k in RECORD_STAGES),
        "active_calls_end": s4["active_calls"],
    }
    mem = agent.stop()
    res["vm_hwm_mib"] = round(mem["vm_hwm"] / 2**20, 1)
    log(f"recovery: {res['recovery']} hwm={res['vm_hwm_mib']}MiB")
    return res


if __name__ == "__main__":
    main()
