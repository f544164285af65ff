-- issue.lua: wrk script for tests/bench/bench_issue.sh. Every request POSTs
-- the same JSON body (a fixed P-256 CSR) with a reusable bearer token.
--   BENCH_BODY   file holding the request body
--   BENCH_TOKEN  bearer token (empty: no Authorization header, for cfssl)
--   BENCH_PATH   request path (default /v1/sign)
--   BENCH_CLOSE  "1" to send Connection: close (a TLS handshake per request)
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.path = os.getenv("BENCH_PATH") or "/v1/sign"
wrk.headers["Content-Type"] = "application/json"
local token = os.getenv("BENCH_TOKEN") or ""
if token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
if os.getenv("BENCH_CLOSE") == "1" then
  wrk.headers["Connection"] = "close"
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local bad = summary.errors.status + summary.errors.connect + summary.errors.read +
              summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT certs/s=%.1f p50_ms=%.2f p99_ms=%.2f requests=%d errors=%d\n",
    (summary.requests - bad) / secs, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.requests, bad))
end
