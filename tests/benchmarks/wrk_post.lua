-- wrk script for the POST targets of the referrals suite (baseline insert,
-- referral submit, claim). Prints the same "BENCH_JSON {...}" line as
-- wrk_report.lua plus how many requests each thread sent and how its answers
-- were classified. Latencies are in microseconds.
--
-- Usage: wrk ... -s wrk_post.lua URL -- CONFIG_DIR
--
-- CONFIG_DIR (written by suite_referrals.py) holds:
--   meta.txt        "key value" lines: mode (token|refs), path (token mode),
--                   token_head (8 hex), round, kind (numbers), ok_location
--                   (a Lua pattern a successful redirect's Location matches)
--   sessions.txt    one "Cookie" header value per line
--   bodies.txt      one form body per session; "{TOKEN}" is replaced by a
--                   fresh submission token on every request
--   refs-<T>.txt    refs mode: this thread's slice, "reference session" per
--                   line, each reference used by exactly one request
-- Each thread writes out-<T>.txt: one line per answer that is not a 2xx,
-- "<status> <Location or ->", so the runner can tell which referral each
-- successful redirect names and which statuses came back.
--
-- Tokens are UUID-shaped, unique by construction (no randomness needed):
--   <token_head>-<round:4>-4<thread:3>-8<kind:3>-<sequence:12>

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local function read_lines(path)
  local lines = {}
  local f = assert(io.open(path, "r"))
  for line in f:lines() do
    if line ~= "" then table.insert(lines, line) end
  end
  f:close()
  return lines
end

local function split_token(body)
  local at = string.find(body, "{TOKEN}", 1, true)
  if not at then return body, nil end
  return string.sub(body, 1, at - 1), string.sub(body, at + 7)
end

function init(args)
  local dir = args[1]
  meta = {}
  for _, line in ipairs(read_lines(dir .. "/meta.txt")) do
    local key, value = string.match(line, "^(%S+)%s+(.*)$")
    if key then meta[key] = value end
  end
  cookies = read_lines(dir .. "/sessions.txt")
  body_heads, body_tails = {}, {}
  for i, body in ipairs(read_lines(dir .. "/bodies.txt")) do
    body_heads[i], body_tails[i] = split_token(body)
  end
  refs, ref_sessions = {}, {}
  if meta.mode == "refs" then
    for _, line in ipairs(read_lines(string.format("%s/refs-%d.txt", dir, tid))) do
      local ref, session = string.match(line, "^(%S+)%s+(%d+)$")
      table.insert(refs, ref)
      table.insert(ref_sessions, tonumber(session))
    end
  end
  round = tonumber(meta.round)
  kind = tonumber(meta.kind)
  ok_location = meta.ok_location
  out = assert(io.open(string.format("%s/out-%d.txt", dir, tid), "w"))
  out:setvbuf("full")
  headers = {["Content-Type"] = "application/x-www-form-urlencoded"}
  sent, received, exhausted = 0, 0, 0
  s2xx, s3xx_ok, s3xx_other, s409, s4xx, s5xx, sother, first_other = 0, 0, 0, 0, 0, 0, 0, 0
end

function request()
  local session, path
  if meta.mode == "refs" then
    local ref = refs[sent + 1]
    if ref == nil then
      -- The slice is used up: never claim a referral twice. Stop this thread
      -- (the runner sizes the slices so this does not happen and flags it if it does).
      exhausted = exhausted + 1
      wrk.thread:stop()
      return wrk.format("GET", "/health/", {})
    end
    session = ref_sessions[sent + 1]
    path = "/referrals/" .. ref .. "/claim/"
  else
    session = (sent % #cookies) + 1
    path = meta.path
  end
  sent = sent + 1
  local token = string.format("%s-%04x-4%03x-8%03x-%012x", meta.token_head, round, tid, kind, sent)
  local body = body_heads[session]
  if body_tails[session] then body = body .. token .. body_tails[session] end
  headers["Cookie"] = cookies[session]
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
  if exhausted > 0 then return end
  received = received + 1
  if status >= 200 and status < 300 then
    s2xx = s2xx + 1
    return
  end
  local location = headers["Location"] or headers["location"] or "-"
  if status >= 300 and status < 400 then
    if string.match(location, ok_location) then s3xx_ok = s3xx_ok + 1 else s3xx_other = s3xx_other + 1 end
  elseif status == 409 then
    s409 = s409 + 1
  elseif status >= 400 and status < 500 then
    s4xx = s4xx + 1
  elseif status >= 500 then
    s5xx = s5xx + 1
  else
    sother = sother + 1
  end
  if first_other == 0 and not (status >= 300 and status < 400 and string.match(location, ok_location)) then
    first_other = status
  end
  out:write(status, " ", location, "\n")
end

function done(summary, latency, requests)
  local t = {sent = 0, received = 0, exhausted = 0, s2xx = 0, s3xx_ok = 0, s3xx_other = 0, s409 = 0,
             s4xx = 0, s5xx = 0, sother = 0}
  local first_bad = 0
  for _, thread in ipairs(threads) do
    for key, _ in pairs(t) do t[key] = t[key] + thread:get(key) end
    if first_bad == 0 then first_bad = thread:get("first_other") end
  end
  local ok = t.s2xx + t.s3xx_ok
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"duration_us": %d, "requests": %d, "bytes": %d, "status_200": %d, "status_other": %d,'
      .. ' "first_other_status": %d, "errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d},'
      .. ' "latency_us": {"mean": %.1f, "max": %d, "p50": %d, "p75": %d, "p90": %d, "p95": %d, "p99": %d},'
      .. ' "post": {"sent": %d, "received": %d, "exhausted_calls": %d, "status_2xx": %d, "status_3xx_expected": %d,'
      .. ' "status_3xx_elsewhere": %d, "status_409": %d, "status_4xx_other": %d, "status_5xx": %d, "status_unknown": %d}}\n',
    summary.duration, summary.requests, summary.bytes, ok, summary.requests - ok, first_bad,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.max, latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(95), latency:percentile(99),
    t.sent, t.received, t.exhausted, t.s2xx, t.s3xx_ok, t.s3xx_other, t.s409, t.s4xx, t.s5xx, t.sother))
end
