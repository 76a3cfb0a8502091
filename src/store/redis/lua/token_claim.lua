-- token_claim.lua: lets one regeneration at a time replace a token record. The regeneration
-- stores the hash of its new key in the old record as `successor`, with a lease, and
-- token_delete.lua deletes the old record only for the successor named there. A second
-- regeneration therefore waits while the lease runs, and once the lease has run out (its holder
-- crashed or stalled) it takes the claim over, after which the first can no longer finish.
--
-- KEYS[1]  token record, hash                ta:v1:{k:<key hash>}:token
-- ARGV[1]  token id the record must have
-- ARGV[2]  modified_at_ms the record must have, or "" to accept any
-- ARGV[3]  hash of the new key, 64 hexadecimal characters
-- ARGV[4]  lease in milliseconds, by the Redis server's clock. A regeneration that gives up
--          passes 0, which ends the lease of ARGV[3] at once.
--
-- Reply: {"ok"} when ARGV[3] holds the claim; {"missing"} when there is no record with that
-- token id; {"changed"} when ARGV[2] does not match; {"busy"} when another successor holds a
-- lease that has not run out, or, with ARGV[4] 0, when ARGV[3] holds no claim to end.
--
-- Example:
--   EVALSHA <sha> 1 ta:v1:{k:9f..}:token tok_01941f29c000a1b2c3d4 1735689600000 2c26b4.. 10000
--   -> {"ok"}

if #KEYS ~= 1 or #ARGV ~= 4 then
  return redis.error_reply('token_claim.lua expects 1 key and 4 arguments, got '
    .. #KEYS .. ' and ' .. #ARGV)
end
local lease_ms = tonumber(ARGV[4])
if not lease_ms or lease_ms < 0 then
  return redis.error_reply('token_claim.lua: the lease must be a number of milliseconds')
end

local record = redis.call('HMGET', KEYS[1], 'token_id', 'modified_at_ms', 'successor',
  'successor_until_ms')
if record[1] ~= ARGV[1] then
  return {'missing'}
end
if ARGV[2] ~= '' and record[2] ~= ARGV[2] then
  return {'changed'}
end

local time = redis.call('TIME')
local now_ms = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
if record[3] ~= ARGV[3] then
  if lease_ms == 0 or (record[3] and (tonumber(record[4]) or 0) > now_ms) then
    return {'busy'}
  end
end

redis.call('HSET', KEYS[1], 'successor', ARGV[3],
  'successor_until_ms', string.format('%.0f', now_ms + lease_ms))
return {'ok'}
