-- wrk script of `make bench`: cycles through pre-built requests, counts what came back,
-- and prints one JSON line (prefixed "WXP_RESULT ") when the run is done.
-- Usage: wrk ... -s cycle.lua <url> -- <pool file>
-- The pool file holds, per request, "<path and query> <body length>\n<body>".

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local file = assert(io.open(args[1], "rb"))
  local data = file:read("*a")
  file:close()
  requests = {}
  local at = 1
  while at <= #data do
    local line_end = string.find(data, "\n", at, true)
    local path, size = string.match(string.sub(data, at, line_end - 1), "^(%S+) (%d+)$")
    size = tonumber(size)
    local body = string.sub(data, line_end + 1, line_end + size)
    table.insert(requests, wrk.format("POST", path, {["Content-Type"] = "text/xml"}, body))
    at = line_end + size + 1
  end
  pool = #requests
  sent = 0
  replied = 0 -- answers with status 200 and a body other than "success": passive replies
end

function request()
  sent = sent + 1
  return requests[(sent - 1) % pool + 1]
end

function response(status, headers, body)
  if status == 200 and body ~= "success" then
    replied = replied + 1
  end
end

function done(summary, latency, _)
  local sent_total, replied_total, pool_size = 0, 0, 0
  for _, thread in ipairs(threads) do
    sent_total = sent_total + thread:get("sent")
    replied_total = replied_total + thread:get("replied")
    pool_size = thread:get("pool")
  end
  local e = summary.errors
  io.write(string.format(
    'WXP_RESULT {"duration_us": %d, "requests": %d, "sent": %d, "pool": %d, "replied": %d, '
      .. '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d, '
      .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.0f}\n',
    summary.duration, summary.requests, sent_total, pool_size, replied_total,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean))
end
