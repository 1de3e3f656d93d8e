-- wrk script for CourseHub benchmarks: one machine-readable summary line at the end.
--
-- The Authorization header comes from the environment, so a token never shows in the
-- process list (wrk -H would put it there).

local authorization = os.getenv("COURSEHUB_BENCH_AUTHORIZATION")
if authorization and authorization ~= "" then
  wrk.headers["Authorization"] = authorization
end

done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    "COURSEHUB_WRK requests=%d duration_us=%d bytes=%d p50_us=%d p95_us=%d p99_us=%d " ..
    "max_us=%d mean_us=%.1f connect_errors=%d read_errors=%d write_errors=%d " ..
    "status_errors=%d timeouts=%d\n",
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.max, latency.mean,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout
  ))
end
