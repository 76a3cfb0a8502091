-- index_add.lua: adds a key hash to a token's entry in its project's index, the step that comes
-- before writing the token record, so every record is listed.
--
-- KEYS[1]  project record, hash              ta:v1:{p:<project id>}:project
-- KEYS[2]  token id to key hashes, hash      ta:v1:{p:<project id>}:tokens
-- KEYS[3]  token ids in creation order, sorted set  ta:v1:{p:<project id>}:order
-- ARGV[1]  token id
-- ARGV[2]  key hash, 64 hexadecimal characters
-- ARGV[3]  claim of the project creation adding its tokens, or "" for a complete project
--
-- Reply: {"ok", account_id}; {"missing"} when the project does not exist or, with no claim, is
-- not complete (being created or deleted); {"lost"} when the claim differs because another
-- request has taken the project over.
--
-- Example:
--   EVALSHA <sha> 3 ta:v1:{p:shop}:project ta:v1:{p:shop}:tokens ta:v1:{p:shop}:order
--     tok_01941f29c000a1b2c3d4 9f86d0.. ""
--   -> {"ok", "acme"}

if #KEYS ~= 3 or #ARGV ~= 3 then
  return redis.error_reply('index_add.lua expects 3 keys and 3 arguments, got '
    .. #KEYS .. ' and ' .. #ARGV)
end

local project = redis.call('HMGET', KEYS[1], 'account_id', 'complete', 'claim')
if not project[1] then
  return {'missing'}
end
if ARGV[3] == '' then
  if project[2] ~= '1' then
    return {'missing'}
  end
elseif project[3] ~= ARGV[3] then
  return {'lost'}
end

local entry = redis.call('HGET', KEYS[2], ARGV[1]) or ''
local present = false
for hash in string.gmatch(entry, '%S+') do
  if hash == ARGV[2] then
    present = true
  end
end
if not present then
  if entry ~= '' then
    entry = entry .. ' '
  end
  redis.call('HSET', KEYS[2], ARGV[1], entry .. ARGV[2])
end
redis.call('ZADD', KEYS[3], 0, ARGV[1])
return {'ok', project[1]}
