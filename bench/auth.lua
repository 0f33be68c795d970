-- Sets the Authorization header from BENCH_TOKEN and prints one machine-
-- readable line at the end: rps, p50 and p99 latency (microseconds), non-2xx,
-- requests, bytes read per reply (head and body).
local token = os.getenv("BENCH_TOKEN")
if token and token ~= "" then
   wrk.headers["Authorization"] = "Bearer " .. token
end

-- BENCH_UNIQUE=FORMAT appends string.format(FORMAT, counter) to every
-- request, so that no two requests share a URL (the STAC page cache then
-- never hits). FORMAT must keep the request valid: the STAC API refuses
-- parameters it does not know.
local unique = os.getenv("BENCH_UNIQUE")
if unique and unique ~= "" then
   local counter = 0
   request = function()
      counter = counter + 1
      return wrk.format(nil, wrk.path .. string.format(unique, counter))
   end
end

done = function(summary, latency, requests)
   local secs = summary.duration / 1e6
   local bad = summary.errors.status + summary.errors.connect + summary.errors.read
             + summary.errors.write + summary.errors.timeout
   io.write(string.format("RESULT %.1f %d %d %d %d %.0f\n", summary.requests / secs,
                          latency:percentile(50), latency:percentile(99), bad, summary.requests,
                          summary.bytes / math.max(summary.requests, 1)))
end
