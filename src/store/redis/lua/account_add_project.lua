-- account_add_project.lua: registers a project with its account, creating the account on the
-- free plan when it is new.
--
-- KEYS[1]  account record, hash              ta:v1:{a:<account id>}:account
-- KEYS[2]  the account's project ids, set    ta:v1:{a:<account id>}:projects
-- ARGV[1]  project id
--
-- Reply: the account's plan, "free" or "paid".
--
-- Example:
--   EVALSHA <sha> 2 ta:v1:{a:acme}:account ta:v1:{a:acme}:projects shop
--   -> "free"

if #KEYS ~= 2 or #ARGV ~= 1 then
  return redis.error_reply('account_add_project.lua expects 2 keys and 1 argument, got '
    .. #KEYS .. ' and ' .. #ARGV)
end

redis.call('HSETNX', KEYS[1], 'plan', 'free')
redis.call('SADD', KEYS[2], ARGV[1])
return redis.call('HGET', KEYS[1], 'plan')
