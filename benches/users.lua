-- wrk script for the /Users runs of benches/load.sh. The URL given to wrk is
-- the Users endpoint (…/scim/v2/{tenant}/Users); the first script argument
-- (after --) picks the request:
--
--   create PREFIX [QUOTA THREADS]
--                          POST /Users, Entra's create body, a new userName
--                          each request (PREFIX-<thread>-<n>@load.example);
--                          with QUOTA (and wrk's -t as THREADS), each thread
--                          stops once it has seen its share of 201s (used to
--                          seed a tenant)
--   get IDS                GET /Users/{id}, a random user of IDS
--   filter IDS             GET /Users?filter=userName eq "<name>" (Entra's
--                          matching call, URL-encoded), a random user of IDS
--   patch IDS [hot]        PATCH /Users/{id}, Entra's Replace of title and
--                          active, a new title each request (so every PATCH
--                          is a write); a random user of IDS, or with "hot"
--                          always the first one
--
-- IDS is a file of "id userName" lines (written by load.sh after seeding).
-- create and patch count response statuses and print them at the end, so
-- every non-2xx answer can be accounted for. patch also prints the share of
-- requests that took 10 ms or more: a PATCH that lost a version race waits
-- at least 10 ms before its first retry, so on an otherwise idle machine
-- that share is about the share of PATCHes that were retried (the run
-- spread over many users, which rarely collide, is the baseline).

local base
local users = {}
local quota, prefix, hot
local counter, created = 0, 0
-- Globals: read from the main state through thread:get() in done().
mode = nil
statuses = {}
local threads = {}
local thread_count = 0

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c)
    return string.format("%%%02X", c:byte())
  end))
end

local function load_users(path)
  local f = assert(io.open(path, "r"), "cannot open " .. path)
  for line in f:lines() do
    local id, name = line:match("^(%S+)%s+(%S+)$")
    if id then
      users[#users + 1] = { id = id, name = name }
    end
  end
  f:close()
  assert(#users > 0, "no users in " .. path)
end

local function pick()
  if hot then
    return users[1]
  end
  return users[math.random(#users)]
end

-- Runs in the main Lua state, once per thread, before init.
function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_index", thread_count)
  threads[#threads + 1] = thread
end

local function tally(status)
  statuses[status] = (statuses[status] or 0) + 1
end

local function create_response(status)
  tally(status)
  if status == 201 then
    created = created + 1
    if quota and created >= quota then
      wrk.thread:stop()
    end
  end
end

function init(args)
  mode = args[1]
  base = wrk.path:gsub("/+$", "")
  math.randomseed(os.time() * 1000 + (thread_index or 0))
  wrk.headers["Content-Type"] = "application/scim+json"
  wrk.headers["Accept"] = "application/scim+json"
  if mode == "create" then
    prefix = assert(args[2], "create needs a PREFIX")
    if args[3] then
      -- The threads share the quota; the first ones take the remainder.
      local total, n = tonumber(args[3]), assert(tonumber(args[4]), "QUOTA needs THREADS")
      quota = math.floor(total / n) + ((thread_index <= total % n) and 1 or 0)
    end
    response = create_response
  elseif mode == "get" or mode == "filter" then
    load_users(assert(args[2], mode .. " needs an IDS file"))
    response = nil
  elseif mode == "patch" then
    load_users(assert(args[2], "patch needs an IDS file"))
    hot = args[3] == "hot"
    response = tally
  else
    error("unknown mode " .. tostring(mode))
  end
end

local function create_body()
  counter = counter + 1
  local n = string.format("%d-%d", thread_index, counter)
  local given, family = "Load" .. thread_index, "User" .. counter
  local user_name = string.format("%s-%s@load.example", prefix, n)
  return string.format(
    '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User",' ..
      '"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],' ..
      '"externalId":"%s-%s","userName":"%s","active":true,' ..
      '"displayName":"%s %s","title":"Engineer",' ..
      '"emails":[{"primary":true,"type":"work","value":"%s"}],' ..
      '"meta":{"resourceType":"User"},' ..
      '"name":{"formatted":"%s %s","familyName":"%s","givenName":"%s"},' ..
      '"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":' ..
      '{"employeeNumber":"%s","department":"Load"}}',
    prefix, n, user_name, given, family, user_name, given, family, family, given, n)
end

local function patch_body()
  counter = counter + 1
  return string.format(
    '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[' ..
      '{"op":"Replace","path":"title","value":"Title %d-%d"},' ..
      '{"op":"Replace","path":"active","value":"%s"}]}',
    thread_index, counter, (counter % 2 == 0) and "True" or "False")
end

function request()
  if mode == "create" then
    return wrk.format("POST", base, nil, create_body())
  elseif mode == "get" then
    return wrk.format("GET", base .. "/" .. pick().id)
  elseif mode == "filter" then
    local filter = 'userName eq "' .. pick().name .. '"'
    return wrk.format("GET", base .. "?filter=" .. urlencode(filter))
  else
    return wrk.format("PATCH", base .. "/" .. pick().id, nil, patch_body())
  end
end

-- Runs in the main Lua state after the run.
function done(summary, latency, requests)
  local all = {}
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses")
    for status, n in pairs(s or {}) do
      all[status] = (all[status] or 0) + n
    end
  end
  local keys = {}
  for status in pairs(all) do
    keys[#keys + 1] = status
  end
  if #keys > 0 then
    table.sort(keys)
    local parts = {}
    for _, status in ipairs(keys) do
      parts[#parts + 1] = string.format("%d: %d", status, all[status])
    end
    io.write("  Statuses: " .. table.concat(parts, ", ") .. "\n")
  end
  if threads[1] and threads[1]:get("mode") == "patch" then
    -- The percentile at which latency reaches 10 ms (10000 us), by bisection.
    local lo, hi = 0, 100
    if latency.max < 10000 then
      lo = 100
    else
      for _ = 1, 40 do
        local mid = (lo + hi) / 2
        if latency:percentile(mid) < 10000 then lo = mid else hi = mid end
      end
    end
    io.write(string.format("  Slower than 10 ms (a retry waits 10 ms or more): %.2f%%\n", 100 - lo))
  end
end
