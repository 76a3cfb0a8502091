-- project_finish_create.lua: marks a project complete as the last step of creating it.
--
-- KEYS[1]  project record, hash              ta:v1:{p:<project id>}:project
-- ARGV[1]  the claim the creation began with
--
-- Reply: 1 when the project was marked complete; 0 when the project is gone or another request
-- has taken it over since (the claim differs), and nothing changed.
--
-- Example:
--   EVALSHA <sha> 1 ta:v1:{p:shop}:project 5e1f..
--   -> 1

if #KEYS ~= 1 or #ARGV ~= 1 then
  return redis.error_reply('project_finish_create.lua expects 1 key and 1 argument, got '
    .. #KEYS .. ' and ' .. #ARGV)
end

if redis.call('HGET', KEYS[1], 'claim') ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'complete', '1')
redis.call('HDEL', KEYS[1], 'claim')
return 1
