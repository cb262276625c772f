-- wrk script: POST an assessment to the care plans given, each request with its own
-- Idempotency-Key. Arguments (after --): TOKEN PLAN_ID[,PLAN_ID…] RUN_ID
local threads = {}
local token, plans, counter, prefix

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  token = args[1]
  plans = {}
  for p in string.gmatch(args[2], "[^,]+") do
    table.insert(plans, p)
  end
  counter = 0
  prefix = (args[3] or "run") .. "-t" .. tostring(tid or 0)
end

function request()
  counter = counter + 1
  local plan = plans[(counter % #plans) + 1]
  local body = string.format(
    '{"stage":"clinic","kind":"assessment","effective_at":"%s","values":{"hba1c":%.1f,"bp_sys":%d,"bp_dia":%d}}',
    -- one second ahead: never before the plan started (seconds resolution), well within the 5-minute skew
    os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() + 1), 6 + (counter % 30) / 10, 110 + counter % 40, 65 + counter % 20)
  return wrk.format("POST", "/api/v1/care-plans/" .. plan .. "/entries", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
    ["Idempotency-Key"] = prefix .. "-" .. counter,
  }, body)
end

function done(summary, latency, requests)
  io.write(string.format(
    "RESULT requests=%d duration_us=%d status_errors=%d connect_errors=%d read_errors=%d write_errors=%d timeouts=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
