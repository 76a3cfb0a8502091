-- authorize.lua: checks a token and applies its rate limits in one atomic step.
--
-- Serves Authorize (mode "authorize") and the rate-limit checks (modes "report", "dry_run" and
-- "consume"). The rate-limit step is the same as domain::limits::evaluate in the Rust code, and
-- the current time is the Redis server's TIME, so every replica of the service shares one clock.
--
-- KEYS[1]  token record, hash                ta:v1:{k:<key hash>}:token
-- KEYS[2]  system limit window, hash         ta:v1:{k:<key hash>}:w:sys
-- KEYS[3]  user limit window, hash           ta:v1:{k:<key hash>}:w:user
-- ARGV[1]  mode: "authorize", "report", "dry_run" or "consume"
-- ARGV[2]  expected project id; "" accepts any project. Checked only by "authorize".
-- ARGV[3]  required scope, as its bit in the scopes bitmask. Checked only by "authorize".
-- ARGV[4]  cost: how many requests to count, an integer of at least 1
-- ARGV[5]  system limit: requests per window
-- ARGV[6]  system limit: window length in seconds
--
-- Reply when no record exists:    {"unknown"}
-- Reply when a token check fails: {code, token_id, project_id, name, scopes, status}
--   where code is "disabled", "expired", "wrong_project" or "insufficient_scope"
-- Reply otherwise:                {code, token_id, project_id, name, scopes, status,
--                                  now_ms, allowed, consumed, first_denial,
--                                  system_window, user_window (only when the token has one)}
--   where code is "ok", or "rate_limited" when mode "authorize" was denied by a limit;
--   status is the effective status: "expired" once expires_at_ms has passed;
--   allowed, consumed and first_denial are 0 or 1;
--   each window is {limit, window_s, enforced, open, start_ms, count, denied}, where open is 0
--   (and start_ms, count and denied are 0) when no window is open.
--
-- Example: a first request with a token that may post server items, at 2025-01-01T00:00:00Z.
--   EVALSHA <sha> 3 ta:v1:{k:9f..}:token ta:v1:{k:9f..}:w:sys ta:v1:{k:9f..}:w:user
--     authorize shop 1 1 50000 60
--   -> {"ok", "tok_01941f29c000a1b2c3d4", "shop", "post_server_item", 1, "enabled",
--       1735689600000, 1, 1, 0, {50000, 60, 1, 1, 1735689600000, 1, 0}}

if #KEYS ~= 3 or #ARGV ~= 6 then
  return redis.error_reply('authorize.lua expects 3 keys and 6 arguments, got '
    .. #KEYS .. ' and ' .. #ARGV)
end

local mode = ARGV[1]
if mode ~= 'authorize' and mode ~= 'report' and mode ~= 'dry_run' and mode ~= 'consume' then
  return redis.error_reply('authorize.lua: invalid mode ' .. mode)
end
local expected_project = ARGV[2]
local required_scope = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local system_count = tonumber(ARGV[5])
local system_window_s = tonumber(ARGV[6])
if not (required_scope and cost and system_count and system_window_s) or cost < 1 then
  return redis.error_reply('authorize.lua: scope, cost and system limit must be numbers, cost >= 1')
end

local record = redis.call('HMGET', KEYS[1], 'token_id', 'project_id', 'name', 'scopes',
  'status', 'expires_at_ms', 'user_count', 'user_window', 'paid')
if not record[1] then
  return {'unknown'}
end
local project_id = record[2]
local scopes = tonumber(record[4]) or 0

local time = redis.call('TIME')
local now_ms = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

local status = record[5]
local expires_at_ms = tonumber(record[6])
if expires_at_ms and expires_at_ms <= now_ms then
  status = 'expired'
end

local reply = {'ok', record[1], project_id, record[3], scopes, status}

-- The token checks, in order. The first failure decides, and nothing is counted.
if mode == 'authorize' then
  if status ~= 'enabled' then
    reply[1] = status
    return reply
  end
  if expected_project ~= '' and expected_project ~= project_id then
    reply[1] = 'wrong_project'
    return reply
  end
  if bit.band(scopes, required_scope) == 0 then
    reply[1] = 'insufficient_scope'
    return reply
  end
  mode = 'consume'
elseif mode == 'consume' and status ~= 'enabled' then
  -- A token that cannot authorize is reported, but nothing is counted against it.
  mode = 'dry_run'
end

-- The limits: the system limit always, and the user limit when the token has one, enforced
-- only while the account is on the paid plan.
local limits = {
  {key = KEYS[2], count = system_count, window_s = system_window_s, enforced = true},
}
local user_count = tonumber(record[7]) or 0
local user_window_s = tonumber(record[8]) or 0
if user_count > 0 and user_window_s > 0 then
  limits[2] = {key = KEYS[3], count = user_count, window_s = user_window_s,
    enforced = record[9] == '1'}
end

-- Read each limit's window. A window whose end has passed counts as absent, even before Redis
-- expires its key, because a limit changed mid-window is compared with its new length.
local allowed = true
for _, limit in ipairs(limits) do
  limit.window_ms = limit.window_s * 1000
  local stored = redis.call('HMGET', limit.key, 'start_ms', 'count', 'denied')
  local start_ms = tonumber(stored[1])
  if start_ms and now_ms < start_ms + limit.window_ms then
    limit.window = {start_ms = start_ms, count = tonumber(stored[2]) or 0,
      denied = stored[3] == '1'}
  end
  local counted = limit.window and limit.window.count or 0
  limit.fits = (not limit.enforced) or counted + cost <= limit.count
  allowed = allowed and limit.fits
end
if mode == 'report' then
  allowed = true
end

-- Count the cost in every enforced limit only when every one has room for it. On denial, mark
-- each denying limit's window, opening one with no count if none is open, so that only the
-- first denial of a window is flagged. A cost above a limit's count could never fit, so it
-- neither opens nor marks that limit's window.
local first_denial = false
if mode == 'consume' then
  for _, limit in ipairs(limits) do
    if limit.enforced then
      local window = limit.window or {start_ms = now_ms, count = 0, denied = false}
      local write = false
      if allowed then
        window.count = window.count + cost
        write = true
      elseif not limit.fits and not window.denied and cost <= limit.count then
        window.denied = true
        first_denial = true
        write = true
      end
      if write then
        limit.window = window
        redis.call('HSET', limit.key,
          'start_ms', string.format('%.0f', window.start_ms),
          'count', string.format('%.0f', window.count),
          'denied', window.denied and '1' or '0')
        -- The expiry follows the limit as configured now, so it is set again on every write.
        -- NOTE: after a restart with a longer system window, an open window keeps its old expiry
        -- until its next write, so an idle one can end early and restart its count.
        redis.call('PEXPIREAT', limit.key, string.format('%.0f', window.start_ms + limit.window_ms))
      end
    end
  end
end

if reply[1] == 'ok' and not allowed and ARGV[1] == 'authorize' then
  reply[1] = 'rate_limited'
end
local function flag(value)
  if value then return 1 end
  return 0
end
reply[7] = now_ms
reply[8] = flag(allowed)
reply[9] = flag(mode == 'consume' and allowed)
reply[10] = flag(first_denial)
for index, limit in ipairs(limits) do
  local window = limit.window
  if window then
    reply[10 + index] = {limit.count, limit.window_s, flag(limit.enforced), 1,
      window.start_ms, window.count, flag(window.denied)}
  else
    reply[10 + index] = {limit.count, limit.window_s, flag(limit.enforced), 0, 0, 0, 0}
  end
end
return reply
