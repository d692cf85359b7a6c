-- The --workload mix, on one demo instance: Zipf(s) reads over ids 1..n of GET /products/:id (89 %),
-- list routes (10 %: /products?limit=20, /categories, /products/featured) and PATCH /products/:id
-- (1 %, Zipf too: popular products change most). Counts x-cache values of the answers, per kind
-- (product pages, list pages); prints BENCH_JSON at the end.
-- BENCH_DELAY_MS > 0: each connection waits an exponential time of that mean before each request
-- (an offered rate of connections / mean, less the time answers take); 0: closed loop, no wait.
local n = tonumber(os.getenv("BENCH_KEYS") or "10000")
local s = tonumber(os.getenv("BENCH_ZIPF_S") or "1.1")
local meanDelayMs = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
local cdf = {}
-- Globals of each thread's state: done() runs in another state and reads them with thread:get().
patches = 0
hits = 0
misses = 0
uncached = 0
non2xx = 0
productHits = 0
productMisses = 0
listHits = 0
listMisses = 0
local threads = {}

setup = function(thread)
  table.insert(threads, thread)
end

init = function(args)
  -- One Host for both instances: the route key includes it, and the two share one KeyDB.
  local host = os.getenv("BENCH_HOST")
  if host then wrk.headers["Host"] = host end
  local sum = 0
  for k = 1, n do
    sum = sum + 1 / (k ^ s)
    cdf[k] = sum
  end
  for k = 1, n do cdf[k] = cdf[k] / sum end
  math.randomseed(tonumber(os.getenv("BENCH_SEED") or "1"))
end

local function zipf()
  local u = math.random()
  local lo, hi = 1, n
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if cdf[mid] < u then lo = mid + 1 else hi = mid end
  end
  return lo
end

if meanDelayMs > 0 then
  delay = function()
    return -math.log(1 - math.random()) * meanDelayMs
  end
end

request = function()
  local r = math.random(1000)
  if r <= 10 then
    patches = patches + 1
    return wrk.format("PATCH", "/products/" .. zipf(), { ["content-type"] = "application/json" },
      '{"stock":' .. math.random(0, 999) .. '}')
  elseif r <= 60 then
    return wrk.format("GET", "/products?limit=20")
  elseif r <= 90 then
    return wrk.format("GET", "/categories")
  elseif r <= 110 then
    return wrk.format("GET", "/products/featured")
  end
  return wrk.format("GET", "/products/" .. zipf())
end

response = function(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
  local x = headers["x-cache"] or headers["X-Cache"]
  -- A product page is an object that starts with its id; every list answer starts with its items.
  local product = body ~= nil and string.sub(body, 1, 6) == '{"id":'
  if x == "HIT" or x == "STALE" then
    hits = hits + 1
    if product then productHits = productHits + 1 else listHits = listHits + 1 end
  elseif x == nil then uncached = uncached + 1
  else
    misses = misses + 1
    if product then productMisses = productMisses + 1 else listMisses = listMisses + 1 end
  end
end

done = function(summary, latency)
  local t = {
    patches = 0, hits = 0, misses = 0, uncached = 0, non2xx = 0,
    productHits = 0, productMisses = 0, listHits = 0, listMisses = 0,
  }
  for _, thread in ipairs(threads) do
    for k, _ in pairs(t) do t[k] = t[k] + thread:get(k) end
  end
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"durationUs":%d,"errors":%d,"non2xx":%d,"patches":%d,"hits":%d,"misses":%d,"uncached":%d,"productHits":%d,"productMisses":%d,"listHits":%d,"listMisses":%d,"p50Us":%d,"p99Us":%d}\n',
    summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    t.non2xx, t.patches, t.hits, t.misses, t.uncached, t.productHits, t.productMisses, t.listHits,
    t.listMisses, latency:percentile(50), latency:percentile(99)))
end
