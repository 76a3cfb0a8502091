-- index_advance.lua: lists the new key hash of a regeneration, only if the token's index entry
-- is still exactly the one the regeneration read. A regeneration that read an entry another
-- request has changed since then adds nothing and starts over from the new entry.
--
-- KEYS[1]  project record, hash              ta:v1:{p:<project id>}:project
-- KEYS[2]  token id to key hashes, hash      ta:v1:{p:<project id>}:tokens
-- ARGV[1]  token id
-- ARGV[2]  the entry as read: key hashes, space-separated; never empty
-- ARGV[3]  new key hash, 64 hexadecimal characters, appended to the entry
--
-- Reply: {"ok", account_id}; {"missing"} when the project does not exist or is not complete;
-- {"changed"} when the entry differs from ARGV[2], and nothing was written.
--
-- Example:
--   EVALSHA <sha> 2 ta:v1:{p:shop}:project ta:v1:{p:shop}:tokens
--     tok_01941f29c000a1b2c3d4 9f86d0.. 2c26b4..
--   -> {"ok", "acme"}

if #KEYS ~= 2 or #ARGV ~= 3 or ARGV[2] == '' then
  return redis.error_reply('index_advance.lua expects 2 keys and 3 arguments with a non-empty '
    .. 'entry, got ' .. #KEYS .. ' and ' .. #ARGV)
end

local project = redis.call('HMGET', KEYS[1], 'account_id', 'complete')
if not project[1] or project[2] ~= '1' then
  return {'missing'}
end
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then
  return {'changed'}
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. ' ' .. ARGV[3])
return {'ok', project[1]}
