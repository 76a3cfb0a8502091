-- project_begin_create.lua: writes a project record, not yet complete, as the first step of
-- creating a project.
--
-- A creation or deletion that stopped part way leaves an incomplete record. When its account is
-- the same, this request takes it over: its fields are rewritten and the claim moves to this
-- request. Its tokens are returned so the caller can delete them, since their keys were never
-- shown.
--
-- KEYS[1]  project record, hash              ta:v1:{p:<project id>}:project
-- KEYS[2]  token id to key hashes, hash      ta:v1:{p:<project id>}:tokens
-- ARGV[1]  account id
-- ARGV[2]  project name
-- ARGV[3]  creation time, in Unix milliseconds
-- ARGV[4]  claim: a random value that identifies this request in later steps
--
-- Reply: {"created"}; {"exists"} when a complete project, or one of another account, has the
-- id; or {"resumed", token_id, key_hashes, ...} with the tokens of the incomplete project.
--
-- Example:
--   EVALSHA <sha> 2 ta:v1:{p:shop}:project ta:v1:{p:shop}:tokens acme Shop 1735689600000 5e1f..
--   -> {"created"}

if #KEYS ~= 2 or #ARGV ~= 4 then
  return redis.error_reply('project_begin_create.lua expects 2 keys and 4 arguments, got '
    .. #KEYS .. ' and ' .. #ARGV)
end

local project = redis.call('HMGET', KEYS[1], 'account_id', 'complete')
if project[1] and (project[2] == '1' or project[1] ~= ARGV[1]) then
  return {'exists'}
end

local reply = {'created'}
if project[1] then
  reply = redis.call('HGETALL', KEYS[2])
  table.insert(reply, 1, 'resumed')
end
redis.call('HSET', KEYS[1], 'account_id', ARGV[1], 'name', ARGV[2], 'created_at_ms', ARGV[3],
  'complete', '0', 'claim', ARGV[4])
return reply
