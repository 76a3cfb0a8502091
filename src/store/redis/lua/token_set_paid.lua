-- token_set_paid.lua: records on a token whether its account is on the paid plan.
--
-- Authorize reads the flag from the token record, so it needs no second slot. A plain HSET
-- would create a partial record for a token deleted meanwhile, so the flag is written only
-- when the record exists.
--
-- KEYS[1]  token record, hash                ta:v1:{k:<key hash>}:token
-- ARGV[1]  "1" when the account is on the paid plan, else "0"
--
-- Reply: 1 when the record exists and was written, 0 when there is no record.
--
-- Example:
--   EVALSHA <sha> 1 ta:v1:{k:9f..}:token 1
--   -> 1

if #KEYS ~= 1 or #ARGV ~= 1 then
  return redis.error_reply('token_set_paid.lua expects 1 key and 1 argument, got '
    .. #KEYS .. ' and ' .. #ARGV)
end

if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], 'paid', ARGV[1])
return 1
