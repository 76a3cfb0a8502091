-- index_check.lua: returns whether a token record just written is still listed, so the writer
-- can delete it again when the project was deleted or taken over meanwhile. Reads only.
--
-- KEYS[1]  project record, hash              ta:v1:{p:<project id>}:project
-- KEYS[2]  token id to key hashes, hash      ta:v1:{p:<project id>}:tokens
-- ARGV[1]  token id
-- ARGV[2]  key hash, 64 hexadecimal characters
-- ARGV[3]  claim of the project creation, or "" for a complete project
--
-- Reply: 1 when the project is complete (or, with a claim, still claimed by it) and the token's
-- entry contains the key hash; else 0.
--
-- Example:
--   EVALSHA <sha> 2 ta:v1:{p:shop}:project ta:v1:{p:shop}:tokens
--     tok_01941f29c000a1b2c3d4 9f86d0.. ""
--   -> 1

if #KEYS ~= 2 or #ARGV ~= 3 then
  return redis.error_reply('index_check.lua expects 2 keys and 3 arguments, got '
    .. #KEYS .. ' and ' .. #ARGV)
end

local project = redis.call('HMGET', KEYS[1], 'complete', 'claim')
if ARGV[3] == '' then
  if project[1] ~= '1' then
    return 0
  end
elseif project[2] ~= ARGV[3] then
  return 0
end

local entry = redis.call('HGET', KEYS[2], ARGV[1]) or ''
for hash in string.gmatch(entry, '%S+') do
  if hash == ARGV[2] then
    return 1
  end
end
return 0
