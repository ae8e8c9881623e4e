#!/usr/bin/env python3
"""A stand-in Loki for benchmarks: answers 204 to every push, counts them.

POST /loki/api/v1/push  -> 204 (body read and discarded)
GET  /stats             -> {"pushes": N, "bytes": N}
GET  /ready             -> 200

It does not decode the body (snappy + protobuf): the agent's push client is
tested against a decoding receiver in crates/loki; here only the cost of
producing and sending the pushes matters. Stops by itself after --lifetime s.
"""
import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATS = {"pushes": 0, "bytes": 0}
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        remaining = n
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1 << 20))
            if not chunk:
                break
            remaining -= len(chunk)
        with LOCK:
            STATS["pushes"] += 1
            STATS["bytes"] += n
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        if self.path.startswith("/stats"):
            with LOCK:
                body = json.dumps(STATS).encode()
        elif self.path.startswith("/ready"):
            body = b"ready\n"
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", default="127.0.0.1:3199")
    ap.add_argument("--lifetime", type=float, default=3600.0)
    a = ap.parse_args()
    host, port = a.listen.rsplit(":", 1)
    srv = ThreadingHTTPServer((host, int(port)), Handler)
    srv.daemon_threads = True
    threading.Timer(a.lifetime, srv.shutdown).start()
    srv.serve_forever()


if __name__ == "__main__":
    main()
