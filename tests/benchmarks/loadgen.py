"""Fallback load generator, used only when wrk is not installed.

Runs in its own process (never inside the runner), one keep-alive connection
per thread, and prints the same ``BENCH_JSON`` line as wrk_report.lua. On a
2-core machine a Python client competes with the server for CPU, so figures
from it are lower than wrk's; the runner labels them.
"""

from __future__ import annotations

import argparse
import http.client
import json
import threading
import time
from urllib.parse import urlsplit


def _percentile(sorted_values: list[float], pct: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(pct / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--header", action="append", default=[])
    args = parser.parse_args()

    parts = urlsplit(args.url)
    headers = dict(h.split(": ", 1) for h in args.header)
    path = parts.path or "/"
    latencies: list[list[float]] = [[] for _ in range(args.connections)]
    counts = [{"ok": 0, "other": 0, "first_other": 0, "bytes": 0, "errors": 0} for _ in range(args.connections)]
    deadline = time.perf_counter() + args.duration

    def worker(index: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException):
                counts[index]["errors"] += 1
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
                continue
            latencies[index].append((time.perf_counter() - started) * 1e6)
            counts[index]["bytes"] += len(body)
            if response.status == 200:
                counts[index]["ok"] += 1
            else:
                counts[index]["other"] += 1
                counts[index]["first_other"] = counts[index]["first_other"] or response.status
            if response.will_close:
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        conn.close()

    began = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    merged = sorted(v for per in latencies for v in per)
    report = {
        "duration_us": int(elapsed * 1e6),
        "requests": len(merged),
        "bytes": sum(c["bytes"] for c in counts),
        "status_200": sum(c["ok"] for c in counts),
        "status_other": sum(c["other"] for c in counts),
        "first_other_status": next((c["first_other"] for c in counts if c["first_other"]), 0),
        "errors": {"connect": 0, "read": sum(c["errors"] for c in counts), "write": 0, "status": 0, "timeout": 0},
        "latency_us": {
            "mean": sum(merged) / len(merged) if merged else 0.0,
            "max": merged[-1] if merged else 0.0,
            **{f"p{p}": _percentile(merged, p) for p in (50, 75, 90, 95, 99)},
        },
    }
    print("BENCH_JSON " + json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
