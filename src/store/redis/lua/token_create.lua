-- token_create.lua: writes a new token record under a key hash that has none.
--
-- KEYS[1]  token record, hash                ta:v1:{k:<key hash>}:token
-- KEYS[2]  system limit window, hash         ta:v1:{k:<key hash>}:w:sys
-- KEYS[3]  user limit window, hash           ta:v1:{k:<key hash>}:w:user
-- ARGV     the record as field, value pairs (an even count of at least 2); the fields are
--          listed in record.rs
--
-- Reply: {"ok"}, or {"exists"} when the key hash already has a record, which is then left as
-- it is.
--
-- Example:
--   EVALSHA <sha> 3 ta:v1:{k:9f..}:token ta:v1:{k:9f..}:w:sys ta:v1:{k:9f..}:w:user
--     token_id tok_01941f29c000a1b2c3d4 project_id shop ... paid 0
--   -> {"ok"}

if #KEYS ~= 3 or #ARGV < 2 or #ARGV % 2 ~= 0 then
  return redis.error_reply('token_create.lua expects 3 keys and field, value pairs, got '
    .. #KEYS .. ' and ' .. #ARGV .. ' arguments')
end

if redis.call('EXISTS', KEYS[1]) == 1 then
  return {'exists'}
end

-- A new key starts with fresh windows, even if an earlier record under it left some behind.
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('HSET', KEYS[1], unpack(ARGV))
return {'ok'}
