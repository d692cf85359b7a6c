-- Pre-warm: requests BENCH_PATH .. 1 .. n in order, each once, and exits after n answers (the few
-- requests still in flight then are repeats of the first ids). wrk's thread:stop() would still wait
-- out -d, so it exits itself, after printing BENCH_JSON with the count of non-2xx answers.
local path = os.getenv("BENCH_PATH") or "/item/"
local n = tonumber(os.getenv("BENCH_KEYS") or "100")
local i = 0
local answered = 0
local bad = 0

init = function()
  -- The route key includes the Host: several instances on one KeyDB share entries only under one.
  local host = os.getenv("BENCH_HOST")
  if host then wrk.headers["Host"] = host end
end

request = function()
  i = (i % n) + 1
  return wrk.format("GET", path .. i)
end

response = function(status)
  answered = answered + 1
  if status < 200 or status > 299 then bad = bad + 1 end
  if answered >= n then
    io.write(string.format('BENCH_JSON {"requests":%d,"non2xx":%d}\n', answered, bad))
    io.flush()
    os.exit(0)
  end
end
