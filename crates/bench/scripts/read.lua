-- wrk script: GET a random care plan's goal summary. Arguments (after --): TOKEN PLAN_ID[,…]
local token, plans

function init(args)
  token = args[1]
  plans = {}
  for p in string.gmatch(args[2], "[^,]+") do
    table.insert(plans, p)
  end
  math.randomseed(os.time())
end

function request()
  local plan = plans[math.random(1, #plans)]
  return wrk.format("GET", "/api/v1/care-plans/" .. plan .. "/goals", {
    ["Authorization"] = "Bearer " .. token,
  })
end

function done(summary, latency, requests)
  io.write(string.format(
    "RESULT requests=%d duration_us=%d status_errors=%d connect_errors=%d read_errors=%d write_errors=%d timeouts=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
