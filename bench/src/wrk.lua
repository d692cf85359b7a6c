-- Cycles over BENCH_KEYS paths (BENCH_PATH .. 1 .. n) and prints one JSON summary line at the end.
local path = os.getenv("BENCH_PATH") or "/item/"
local n = tonumber(os.getenv("BENCH_KEYS") or "100")
local reqs = {}
local i = 0

init = function(args)
  for k = 1, n do
    reqs[k] = wrk.format("GET", path .. k)
  end
end

request = function()
  i = (i % n) + 1
  return reqs[i]
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"durationUs":%d,"bytes":%d,"errors":%d,"non2xx":%d,"p50Us":%d,"p99Us":%d,"meanUs":%.1f,"maxUs":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency.mean, latency.max))
end
