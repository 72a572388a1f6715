-- wrk script for bench/redirect.py: GET one of the paths listed in the file named by
-- FOOTFALL_BENCH_PATHS (10,000 links x recipients), from varied phones and desktops and
-- varied addresses (X-Forwarded-For is trusted by the benchmark server).

local paths = {}
local agents = {
  "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
  "Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
}
local counter = 0
local thread_id = 0

function init(args)
  for line in io.lines(os.getenv("FOOTFALL_BENCH_PATHS")) do
    paths[#paths + 1] = line
  end
end

function setup(thread)
  thread:set("thread_id", math.random(1, 1000000))
end

function request()
  counter = counter + 1
  local n = counter * 7919 + thread_id
  local headers = {
    ["User-Agent"] = agents[(n % #agents) + 1],
    ["X-Forwarded-For"] = string.format("%d.%d.%d.%d", 11 + (n % 200), (n / 7) % 250, (n / 13) % 250, 1 + n % 250),
  }
  return wrk.format("GET", paths[(n % #paths) + 1], headers)
end

done = function(summary, latency, requests)
  io.write(string.format("JSON {\"requests\": %d, \"duration_us\": %d, \"non_2xx\": %d, \"errors_connect\": %d, \"errors_read\": %d, \"errors_write\": %d, \"errors_timeout\": %d, \"p50_us\": %d, \"p90_us\": %d, \"p99_us\": %d, \"max_us\": %d}\n",
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
