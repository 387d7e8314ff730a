-- wrk script: counts response statuses per thread and prints one JSON line
-- ("BENCH_JSON {...}") with the latency percentiles run.py needs (wrk's own
-- --latency table has no p95). Latencies are in microseconds.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  ok = 0
  other = 0
  first_other = 0
end

function response(status, headers, body)
  if status == 200 then
    ok = ok + 1
  else
    other = other + 1
    if first_other == 0 then first_other = status end
  end
end

function done(summary, latency, requests)
  local ok_total, other_total, first_bad = 0, 0, 0
  for _, t in ipairs(threads) do
    ok_total = ok_total + t:get("ok")
    other_total = other_total + t:get("other")
    if first_bad == 0 then first_bad = t:get("first_other") end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"duration_us": %d, "requests": %d, "bytes": %d, "status_200": %d, "status_other": %d,'
      .. ' "first_other_status": %d, "errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d},'
      .. ' "latency_us": {"mean": %.1f, "max": %d, "p50": %d, "p75": %d, "p90": %d, "p95": %d, "p99": %d}}\n',
    summary.duration, summary.requests, summary.bytes, ok_total, other_total, first_bad,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.max, latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(95), latency:percentile(99)))
end
