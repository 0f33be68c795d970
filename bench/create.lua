-- Token creation: POST the JSON body in BENCH_BODY with the session access
-- token in BENCH_TOKEN; prints "RESULT rps p50_us p99_us non-2xx" at the end.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
wrk.body = os.getenv("BENCH_BODY")

done = function(summary, latency, requests)
   local secs = summary.duration / 1e6
   local bad = summary.errors.status + summary.errors.connect + summary.errors.read
             + summary.errors.write + summary.errors.timeout
   io.write(string.format("RESULT %.1f %d %d %d\n", summary.requests / secs,
                          latency:percentile(50), latency:percentile(99), bad))
end
