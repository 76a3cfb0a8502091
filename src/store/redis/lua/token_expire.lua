-- token_expire.lua: sets a token's status to expired for good.
--
-- KEYS[1]  token record, hash                ta:v1:{k:<key hash>}:token
-- ARGV[1]  now, in Unix milliseconds: the new modified_at_ms when the status changes
-- ARGV[2]  token id the record must have
--
-- Reply: {"ok", field, value, ...} with the whole record after the change, or {"missing"} when
-- there is no record with that token id. Expiring an expired token changes nothing.
--
-- Example:
--   EVALSHA <sha> 1 ta:v1:{k:9f..}:token 1735689600000 tok_01941f29c000a1b2c3d4
--   -> {"ok", "token_id", "tok_01941f29c000a1b2c3d4", ..., "status", "expired", ...}

if #KEYS ~= 1 or #ARGV ~= 2 then
  return redis.error_reply('token_expire.lua expects 1 key and 2 arguments, got '
    .. #KEYS .. ' and ' .. #ARGV)
end

local record = redis.call('HMGET', KEYS[1], 'token_id', 'status')
if record[1] ~= ARGV[2] then
  return {'missing'}
end
if record[2] ~= 'expired' then
  redis.call('HSET', KEYS[1], 'status', 'expired', 'modified_at_ms', ARGV[1])
end

local reply = redis.call('HGETALL', KEYS[1])
table.insert(reply, 1, 'ok')
return reply
