-- token_update.lua: changes a token's settings unless the token is expired.
--
-- The expiry check and the write are one atomic step, so a token that expires concurrently is
-- never changed after it expired.
--
-- KEYS[1]  token record, hash                ta:v1:{k:<key hash>}:token
-- KEYS[2]  user limit window, hash           ta:v1:{k:<key hash>}:w:user
-- ARGV[1]  now, in Unix milliseconds: the time of the expiry check and the new modified_at_ms
-- ARGV[2]  token id the record must have
-- ARGV[3…] field, value pairs to write; an empty value deletes the field
--
-- Reply: {"ok", field, value, ...} with the whole record after the change, {"missing"} when
-- there is no record with that token id, or {"expired"} when the token is expired at ARGV[1].
--
-- Example: rename a token and clear its expiry.
--   EVALSHA <sha> 2 ta:v1:{k:9f..}:token ta:v1:{k:9f..}:w:user
--     1735689600000 tok_01941f29c000a1b2c3d4 name "CI deploys" expires_at_ms ""
--   -> {"ok", "token_id", "tok_01941f29c000a1b2c3d4", "name", "CI deploys", ...}

if #KEYS ~= 2 or #ARGV < 2 or #ARGV % 2 ~= 0 then
  return redis.error_reply('token_update.lua expects 2 keys, now, token id and field, value '
    .. 'pairs, got ' .. #KEYS .. ' keys and ' .. #ARGV .. ' arguments')
end
local now_ms = tonumber(ARGV[1])
if not now_ms then
  return redis.error_reply('token_update.lua: now must be a number of milliseconds')
end

local record = redis.call('HMGET', KEYS[1], 'token_id', 'status', 'expires_at_ms')
if record[1] ~= ARGV[2] then
  return {'missing'}
end
local expires_at_ms = tonumber(record[3])
if record[2] == 'expired' or (expires_at_ms and expires_at_ms <= now_ms) then
  return {'expired'}
end

for index = 3, #ARGV, 2 do
  local field, value = ARGV[index], ARGV[index + 1]
  if value == '' then
    redis.call('HDEL', KEYS[1], field)
  else
    redis.call('HSET', KEYS[1], field, value)
  end
end
redis.call('HSET', KEYS[1], 'modified_at_ms', ARGV[1])

-- A user limit changed mid-window keeps the window's start and count, so the window's key must
-- now expire at the end of the new window length.
local user_window_s = tonumber(redis.call('HGET', KEYS[1], 'user_window')) or 0
local start_ms = tonumber(redis.call('HGET', KEYS[2], 'start_ms'))
if user_window_s > 0 and start_ms then
  redis.call('PEXPIREAT', KEYS[2], string.format('%.0f', start_ms + user_window_s * 1000))
end

local reply = redis.call('HGETALL', KEYS[1])
table.insert(reply, 1, 'ok')
return reply
