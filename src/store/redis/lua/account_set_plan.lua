-- account_set_plan.lua: sets an account's plan, creating the account when it is new, and
-- returns its projects so the caller can copy the plan onto their tokens.
--
-- KEYS[1]  account record, hash              ta:v1:{a:<account id>}:account
-- KEYS[2]  the account's project ids, set    ta:v1:{a:<account id>}:projects
-- ARGV[1]  plan: "free" or "paid"
--
-- Reply: the account's project ids, in no particular order.
--
-- Example:
--   EVALSHA <sha> 2 ta:v1:{a:acme}:account ta:v1:{a:acme}:projects paid
--   -> {"shop", "blog"}

if #KEYS ~= 2 or #ARGV ~= 1 then
  return redis.error_reply('account_set_plan.lua expects 2 keys and 1 argument, got '
    .. #KEYS .. ' and ' .. #ARGV)
end
if ARGV[1] ~= 'free' and ARGV[1] ~= 'paid' then
  return redis.error_reply('account_set_plan.lua: invalid plan ' .. ARGV[1])
end

redis.call('HSET', KEYS[1], 'plan', ARGV[1])
return redis.call('SMEMBERS', KEYS[2])
