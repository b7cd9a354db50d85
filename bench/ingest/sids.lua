-- wrk script: the LINE Planet on_call_evt_cb GET (19 keys) with a unique sid on every request.
-- Usage: wrk -t1 -c32 -d10s --latency -s bench/ingest/sids.lua http://127.0.0.1:PORT/callbacks/planet -- PREFIX
-- PREFIX is 8 hex digits naming the run, so rows of one run can be counted in the database afterwards.
-- An optional second argument, DELAY_MS, makes each connection wait that long after an answer before its next
-- request (wrk's delay() hook), so C connections offer about C * 1000 / DELAY_MS requests a second instead of
-- as many as the server answers; wrk looks for delay() after init(), so it is only defined when asked for.
local rest = "type=A&from_service_id=planetkit&from_user_id=caller.id&to_service_id=planetkit&to_user_id=callee.id"
  .. "&stid=bench&setup_time=1700000000&start_time=1700000005&end_time=1700000035&duration=30"
  .. "&srcip=1.2.3.4&dstip=1.2.3.3&call_end_reason=1004&terminate=16&releaser=initiator"
  .. "&rel_code=2&rel_code_str=NORMAL&user_rel_code="
local threads = 0
local prefix = "00000000"
local counter = 0

function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

function init(args)
  prefix = args[1] or prefix
  local wait = tonumber(args[2] or "")
  if wait and wait > 0 then
    delay = function() return wait end
  end
end

function request()
  counter = counter + 1
  local sid = string.format("%s-%04x-4000-8000-%012d", prefix, tid, counter)
  return wrk.format("GET", wrk.path .. "?sid=" .. sid .. "&" .. rest)
end
