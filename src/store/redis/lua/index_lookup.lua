-- index_lookup.lua: finds the key hashes of one token of a complete project. Reads only.
--
-- KEYS[1]  project record, hash              ta:v1:{p:<project id>}:project
-- KEYS[2]  token id to key hashes, hash      ta:v1:{p:<project id>}:tokens
-- ARGV[1]  token id
--
-- Reply: {"missing"} when the project does not exist or is not complete (being created or
-- deleted), else {"ok", key_hashes}, where key_hashes is space-separated (two only between the
-- steps of a regeneration) and "" when the project has no such token.
--
-- Example:
--   EVALSHA <sha> 2 ta:v1:{p:shop}:project ta:v1:{p:shop}:tokens tok_01941f29c000a1b2c3d4
--   -> {"ok", "9f86d0.."}

if #KEYS ~= 2 or #ARGV ~= 1 then
  return redis.error_reply('index_lookup.lua expects 2 keys and 1 argument, got '
    .. #KEYS .. ' and ' .. #ARGV)
end

if redis.call('HGET', KEYS[1], 'complete') ~= '1' then
  return {'missing'}
end
return {'ok', redis.call('HGET', KEYS[2], ARGV[1]) or ''}
