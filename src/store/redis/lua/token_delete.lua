-- token_delete.lua: deletes a token record and its windows.
--
-- KEYS[1]  token record, hash                ta:v1:{k:<key hash>}:token
-- KEYS[2]  system limit window, hash         ta:v1:{k:<key hash>}:w:sys
-- KEYS[3]  user limit window, hash           ta:v1:{k:<key hash>}:w:user
-- ARGV[1]  token id the record must have
-- ARGV[2]  modified_at_ms the record must have, or "" to delete whatever its value. A
--          regeneration passes the value it copied, so it never discards a change made since.
-- ARGV[3]  key hash that must hold the record's claim (see token_claim.lua), or "" to skip
--          this check. A regeneration passes its new key hash, so of two regenerations that
--          copied the same record only the one holding the claim replaces it.
--
-- Reply: {"deleted"}; {"missing"} when there is no record with that token id (leftover windows
-- are deleted anyway); {"lost"} when ARGV[3] does not hold the claim; or {"changed"} when
-- ARGV[2] does not match. Nothing is deleted with "lost" or "changed".
--
-- Example: the step of a regeneration that makes the old key stop working.
--   EVALSHA <sha> 3 ta:v1:{k:9f..}:token ta:v1:{k:9f..}:w:sys ta:v1:{k:9f..}:w:user
--     tok_01941f29c000a1b2c3d4 1735689600000 2c26b4..
--   -> {"deleted"}

if #KEYS ~= 3 or #ARGV ~= 3 then
  return redis.error_reply('token_delete.lua expects 3 keys and 3 arguments, got '
    .. #KEYS .. ' and ' .. #ARGV)
end

local record = redis.call('HMGET', KEYS[1], 'token_id', 'modified_at_ms', 'successor')
if record[1] ~= ARGV[1] then
  if not record[1] then
    redis.call('DEL', KEYS[2], KEYS[3])
  end
  return {'missing'}
end
if ARGV[3] ~= '' and record[3] ~= ARGV[3] then
  return {'lost'}
end
if ARGV[2] ~= '' and record[2] ~= ARGV[2] then
  return {'changed'}
end

redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return {'deleted'}
