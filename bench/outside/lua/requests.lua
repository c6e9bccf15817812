-- The requests of bench/outside that are built here because each one differs:
--   wrk -s SCRIPT URL -- login N          a password login on device WRKLOGIN1..N in turn
--   wrk -s SCRIPT URL -- refresh FILE     POST /refresh, one refresh token a request
--   wrk -s SCRIPT URL -- oauth FILE       the refresh grant at /oauth2/token
--   wrk -s SCRIPT URL -- send TOKEN PATH RUN
--                                         a message PUT to PATH followed by a fresh
--                                         transaction ID, with access token TOKEN
--
-- A send's transaction ID is RUN (unique to the run), the number of the wrk
-- thread and a count of that thread's requests: never the same twice, so
-- every request is a new message, not the replay of an earlier one.
--
-- Refresh tokens rotate: each is good for one request. FILE holds two per
-- connection (for oauth, the client ID first, on a line of its own; every
-- session belongs to that client). They wait in a queue; each request takes
-- the oldest, and each 200 answer puts the new token it carries at the end,
-- so no token is sent twice. Why two a connection: wrk 4.1 may build a
-- connection's next request before it hands the answer to the previous one
-- to response() (seen with one token a connection: a request in two went
-- out without one), so a connection can hold one token in flight and take
-- another before its answer's token is queued. A refused request adds no
-- token, and once the queue is empty the requests carry "spent", which the
-- server refuses: wrk counts every refusal, and bench/outside rejects a run
-- with any.

local mode, client
local sendPath, sendRun, sendHeaders, sent = nil, nil, nil, 0
local sendBody = '{"msgtype":"m.text","body":"bench/outside"}'
local queue, first, last = {}, 1, 0
local logins, n = {}, 0
local json = { ["Content-Type"] = "application/json" }
local form = { ["Content-Type"] = "application/x-www-form-urlencoded" }

-- setup runs once for each wrk thread, before init: it numbers them.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

function init(args)
  mode = args[1]
  if mode == "send" then
    sendHeaders = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. args[2] }
    sendPath, sendRun = args[3], args[4] .. "-" .. thread_number .. "-"
    return
  end
  if mode == "login" then
    for i = 1, tonumber(args[2]) do
      logins[i] = wrk.format("POST", nil, json, string.format(
        '{"type":"m.login.password","identifier":{"type":"m.id.user","user":"%s"},' ..
        '"password":"%s","device_id":"WRKLOGIN%d","refresh_token":true}', args[3], args[4], i))
    end
    return
  end
  for line in io.lines(args[2]) do
    if mode == "oauth" and client == nil then
      client = line
    else
      last = last + 1
      queue[last] = line
    end
  end
end

function request()
  if mode == "send" then
    sent = sent + 1
    return wrk.format("PUT", sendPath .. sendRun .. sent, sendHeaders, sendBody)
  end
  if mode == "login" then
    n = n % #logins + 1
    return logins[n]
  end
  local token = "spent"
  if first <= last then
    token = queue[first]
    queue[first] = nil
    first = first + 1
  end
  if mode == "refresh" then
    return wrk.format("POST", nil, json, '{"refresh_token":"' .. token .. '"}')
  end
  return wrk.format("POST", nil, form,
    "grant_type=refresh_token&client_id=" .. client .. "&refresh_token=" .. token)
end

function response(status, headers, body)
  if (mode == "refresh" or mode == "oauth") and status == 200 then
    local token = body:match('"refresh_token":"([^"]+)"')
    if token then
      last = last + 1
      queue[last] = token
    end
  end
end
