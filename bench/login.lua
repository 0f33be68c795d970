-- The login storm: POST /api/v1/token/pair with a valid e-mail and password
-- (BENCH_EMAIL, BENCH_PASSWORD), i.e. one Argon2id verification per request.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = string.format('{"email": "%s", "password": "%s"}',
                         os.getenv("BENCH_EMAIL"), os.getenv("BENCH_PASSWORD"))

done = function(summary, latency, requests)
   local secs = summary.duration / 1e6
   io.write(string.format("STORM %.1f %d %d %d\n", summary.requests / secs,
                          latency:percentile(50), latency:percentile(99), summary.errors.status))
end
