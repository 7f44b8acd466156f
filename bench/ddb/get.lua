-- bench/ddb/get.lua: wrk script for ddb-get. Every request is a GetItem of
-- one of the DDB_ITEMS items bench/ddb.py preloaded ("p-0" ...), picked at
-- random; an answer without an Item counts as bad.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  bad = 0
  math.randomseed(os.time() + #threads)
end

local n = tonumber(os.getenv("DDB_ITEMS") or "10000")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-amz-json-1.0"
wrk.headers["X-Amz-Target"] = "DynamoDB_20120810.GetItem"
wrk.headers["X-Amz-Date"] = "20261206T000000Z"
wrk.headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=bench/20261206/us-east-1/dynamodb/aws4_request, " ..
  "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0"

function request()
  local body = string.format('{"TableName":"bench","Key":{"id":{"S":"p-%d"}}}', math.random(0, n - 1))
  return wrk.format(nil, "/", nil, body)
end

function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"Item"', 1, true) then bad = bad + 1 end
end

function done(summary, latency, requests)
  local nbad = 0
  for _, t in ipairs(threads) do nbad = nbad + t:get("bad") end
  io.write(string.format('{"requests":%d,"seconds":%.3f,"non2xx":%d,"bad":%d,"errors":%d,' ..
    '"p50_ms":%.3f,"p99_ms":%.3f}\n',
    summary.requests, summary.duration / 1e6, summary.errors.status, nbad,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
