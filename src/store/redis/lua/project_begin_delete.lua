-- project_begin_delete.lua: marks a project incomplete as the first step of deleting it, and
-- returns its tokens.
--
-- From here on no token can be added to the project, so the returned list is every token the
-- deletion has to remove.
--
-- KEYS[1]  project record, hash              ta:v1:{p:<project id>}:project
-- KEYS[2]  token id to key hashes, hash      ta:v1:{p:<project id>}:tokens
-- ARGV[1]  claim: a random value that identifies this request in the last step
--
-- Reply: {"missing"} when there is no project record, else
-- {"ok", account_id, token_id, key_hashes, ...}.
--
-- Example:
--   EVALSHA <sha> 2 ta:v1:{p:shop}:project ta:v1:{p:shop}:tokens 7a0c..
--   -> {"ok", "acme", "tok_01941f29c000a1b2c3d4", "9f86d0..", ...}

if #KEYS ~= 2 or #ARGV ~= 1 then
  return redis.error_reply('project_begin_delete.lua expects 2 keys and 1 argument, got '
    .. #KEYS .. ' and ' .. #ARGV)
end

local account_id = redis.call('HGET', KEYS[1], 'account_id')
if not account_id then
  return {'missing'}
end
redis.call('HSET', KEYS[1], 'complete', '0', 'claim', ARGV[1])

local reply = redis.call('HGETALL', KEYS[2])
table.insert(reply, 1, account_id)
table.insert(reply, 1, 'ok')
return reply
