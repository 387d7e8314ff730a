"""Fallback load generator, used only when wrk is not installed.

Runs in its own process (never inside the runner), one keep-alive connection
per thread, and prints the same ``BENCH_JSON`` line as wrk_report.lua. On a
2-core machine a Python client competes with the server for CPU, so figures
from it are lower than wrk's; the runner labels them.

With ``--post-config DIR`` it plays wrk_post.lua instead: the same config
directory, the same tokens and output files, one "thread" per connection.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit


def _percentile(sorted_values: list[float], pct: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(pct / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line]


def _lua_pattern_to_regex(pattern: str) -> str:
    # Only what wrk_post.lua's ok_location patterns use: %- (a literal dash) and %d (a digit).
    return pattern.replace("%-", r"\-").replace("%d", r"\d")


class PostPlan:
    """wrk_post.lua's behaviour for one connection: which request comes next, how answers count."""

    def __init__(self, directory: Path, index: int):
        meta = dict(line.split(" ", 1) for line in _lines(directory / "meta.txt"))
        self.mode = meta["mode"]
        self.path = meta["path"]
        self.head, self.round, self.kind = meta["token_head"], int(meta["round"]), int(meta["kind"])
        self.ok_location = re.compile(_lua_pattern_to_regex(meta["ok_location"]))
        self.cookies = _lines(directory / "sessions.txt")
        self.bodies = _lines(directory / "bodies.txt")
        self.refs: list[tuple[str, int]] = []
        if self.mode == "refs":
            for line in _lines(directory / f"refs-{index}.txt"):
                ref, session = line.split()
                self.refs.append((ref, int(session)))
        self.index = index
        self.out = open(directory / f"out-{index}.txt", "w")  # noqa: SIM115 - closed by close()
        self.counts = dict.fromkeys(
            ["sent", "received", "exhausted", "s2xx", "s3xx_ok", "s3xx_other", "s409", "s4xx", "s5xx", "sother"], 0
        )

    def next_request(self):
        """(path, headers, body) of the next request, or None when this connection's slice is used up."""
        if self.mode == "refs":
            if self.counts["sent"] >= len(self.refs):
                self.counts["exhausted"] += 1
                return None
            ref, session = self.refs[self.counts["sent"]]
            path = f"/referrals/{ref}/claim/"
        else:
            session = self.counts["sent"] % len(self.cookies) + 1
            path = self.path
        self.counts["sent"] += 1
        seq = self.counts["sent"]
        token = f"{self.head}-{self.round:04x}-4{self.index:03x}-8{self.kind:03x}-{seq:012x}"
        body = self.bodies[session - 1].replace("{TOKEN}", token)
        headers = {"Cookie": self.cookies[session - 1], "Content-Type": "application/x-www-form-urlencoded"}
        return path, headers, body.encode()

    def answer(self, status: int, location: str | None) -> bool:
        """Count one answer; True when it is a success (2xx, or a redirect to the expected place)."""
        c = self.counts
        c["received"] += 1
        if 200 <= status < 300:
            c["s2xx"] += 1
            return True
        location = location or "-"
        ok = False
        if 300 <= status < 400:
            ok = bool(self.ok_location.search(location))
            c["s3xx_ok" if ok else "s3xx_other"] += 1
        elif status == 409:
            c["s409"] += 1
        elif 400 <= status < 500:
            c["s4xx"] += 1
        elif status >= 500:
            c["s5xx"] += 1
        else:
            c["sother"] += 1
        self.out.write(f"{status} {location}\n")
        return ok

    def close(self) -> None:
        self.out.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--post-config", type=Path, help="a wrk_post.lua config directory: POST like wrk_post.lua")
    args = parser.parse_args()

    parts = urlsplit(args.url)
    headers = dict(h.split(": ", 1) for h in args.header)
    path = parts.path or "/"
    latencies: list[list[float]] = [[] for _ in range(args.connections)]
    counts = [{"ok": 0, "other": 0, "first_other": 0, "bytes": 0, "errors": 0} for _ in range(args.connections)]
    plans = [PostPlan(args.post_config, i) for i in range(args.connections)] if args.post_config else None
    deadline = time.perf_counter() + args.duration

    def worker(index: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        plan = plans[index] if plans else None
        while time.perf_counter() < deadline:
            if plan is not None:
                planned = plan.next_request()
                if planned is None:
                    break
                method, (req_path, req_headers, body) = "POST", planned
            else:
                method, req_path, req_headers, body = "GET", path, headers, None
            started = time.perf_counter()
            try:
                conn.request(method, req_path, body=body, headers=req_headers)
                response = conn.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException):
                counts[index]["errors"] += 1
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
                continue
            latencies[index].append((time.perf_counter() - started) * 1e6)
            counts[index]["bytes"] += len(payload)
            ok = plan.answer(response.status, response.getheader("Location")) if plan else response.status == 200
            if ok:
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
    if plans:
        for plan in plans:
            plan.close()
        total = {k: sum(p.counts[k] for p in plans) for k in plans[0].counts}
        report["post"] = {
            "sent": total["sent"],
            "received": total["received"],
            "exhausted_calls": total["exhausted"],
            "status_2xx": total["s2xx"],
            "status_3xx_expected": total["s3xx_ok"],
            "status_3xx_elsewhere": total["s3xx_other"],
            "status_409": total["s409"],
            "status_4xx_other": total["s4xx"],
            "status_5xx": total["s5xx"],
            "status_unknown": total["sother"],
        }
    print("BENCH_JSON " + json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
