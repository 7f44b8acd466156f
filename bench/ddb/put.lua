-- bench/ddb/put.lua: wrk script for ddb-put. Every request is a PutItem of
-- a new item (key "k-<thread>-<n>", a number and a 100-byte string), so
-- every request writes a row; a fake SigV4 Authorization header, because
-- dynalite refuses unsigned requests (neither server checks signatures).
local counter, tid = 0, 0
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  tid = id
  bad = 0
end

local pad = string.rep("x", 100)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-amz-json-1.0"
wrk.headers["X-Amz-Target"] = "DynamoDB_20120810.PutItem"
wrk.headers["X-Amz-Date"] = "20261206T000000Z"
wrk.headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=bench/20261206/us-east-1/dynamodb/aws4_request, " ..
  "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0"

function request()
  counter = counter + 1
  local body = string.format(
    '{"TableName":"bench","Item":{"id":{"S":"k-%d-%d"},"amount":{"N":"%d.5"},"note":{"S":"%s"}}}',
    tid, counter, counter, pad)
  return wrk.format(nil, "/", nil, body)
end

function response(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
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
