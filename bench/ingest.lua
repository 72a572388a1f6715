-- wrk script for bench/ingest.py: varied Plausible-style events from varied browsers.
-- Each request picks a page, referrer, user agent, screen and event name pseudo-randomly,
-- with a per-thread counter so payloads and visitors differ (X-Forwarded-For is trusted by
-- the benchmark server, so visitors spread over many addresses as in real traffic).

local pages = {"/", "/pricing", "/blog/launch", "/blog/how-we-count", "/docs/install",
  "/docs/api", "/about", "/contact", "/signup", "/features", "/blog/privacy", "/changelog"}
local referrers = {"null", "\"https://www.google.com/\"", "\"https://news.ycombinator.com/\"",
  "\"https://t.co/abc\"", "\"https://www.bing.com/search?q=x\"", "\"https://github.com/\"",
  "\"https://duckduckgo.com/\"", "null", "null", "\"https://www.reddit.com/r/selfhosted\""}
local agents = {
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
  "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
  "Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S928B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
}
local names = {"pageview", "pageview", "pageview", "pageview", "pageview", "pageview",
  "Signup", "Outbound Link: Click", "File Download", "pageview"}
local widths = {1920, 1440, 390, 412, 1280, 820, 1536, 360}

local counter = 0
local thread_id = 0

function setup(thread)
  thread:set("thread_id", math.random(1, 1000000))
end

function request()
  counter = counter + 1
  local n = counter * 7919 + thread_id
  local name = names[(n % #names) + 1]
  local props = "{}"
  if name ~= "pageview" then
    props = string.format("{\"plan\":\"p%d\",\"n\":%d}", n % 5, n % 100)
  end
  local body = string.format(
    "{\"n\":\"%s\",\"u\":\"https://bench.example%s?utm_source=s%d\",\"d\":\"bench.example\",\"r\":%s,\"w\":%d,\"p\":%s}",
    name, pages[(n % #pages) + 1], n % 7, referrers[(n % #referrers) + 1], widths[(n % #widths) + 1], props)
  local headers = {
    ["Content-Type"] = "text/plain",
    ["User-Agent"] = agents[(n % #agents) + 1],
    ["X-Forwarded-For"] = string.format("%d.%d.%d.%d", 11 + (n % 200), (n / 7) % 250, (n / 13) % 250, 1 + n % 250),
  }
  return wrk.format("POST", "/api/event", headers, body)
end

done = function(summary, latency, requests)
  io.write(string.format("JSON {\"requests\": %d, \"duration_us\": %d, \"non_2xx\": %d, \"errors_connect\": %d, \"errors_read\": %d, \"errors_write\": %d, \"errors_timeout\": %d, \"p50_us\": %d, \"p90_us\": %d, \"p99_us\": %d, \"max_us\": %d}\n",
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
